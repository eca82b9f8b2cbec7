#include "ic_dist_watchdog.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define IC_WD_MAX_PEERS 4096
#define IC_WD_POLL_MS 50

static struct {
    int rank, world, started;
    int *pids;          /* [world] */
    char *local;        /* [world] 1: same host as this rank (its pid can be checked) */
    char *hosts;        /* [world * host_len] */
    size_t host_len;
    double timeout_s;
    atomic_llong host_since_ns;            /* 0: no host collective pending */
    _Atomic(const char *) host_what;
    pthread_mutex_t mu;
    ic_wd_poll_fn poll;
    ic_wd_abort_fn abort_fn;
    void *user;
    atomic_int stop;
    pthread_t thread;
} g_wd = { .mu = PTHREAD_MUTEX_INITIALIZER };

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

double ic_wd_timeout_s(void) {
    static double t = 0;
    if (t > 0) return t;
    t = 600;
    const char *s = getenv("IC_COMM_TIMEOUT_S");
    if (s && *s) {
        char *end;
        double v = strtod(s, &end);
        if (*end == 0 && v > 0 && v < 1e9) t = v;
        else fprintf(stderr, "indexcache: IC_COMM_TIMEOUT_S=%s is not a positive number of seconds; "
                             "using %.0f\n", s, t);
    }
    return t;
}

void ic_wd_local_identity(int *pid, char *host, size_t host_len) {
    *pid = (int)getpid();
    if (gethostname(host, host_len) != 0) snprintf(host, host_len, "?");
    host[host_len - 1] = 0;
}

/* ---- liveness of a peer (async-signal-safe: kill, open, read) ------------- */

/* 1 when the process is gone (no such pid, or a zombie not yet reaped),
 * 2 when it is stopped (SIGSTOP, a debugger), else 0. */
static int pid_state(int pid) {
    if (pid <= 0) return 0;
    if (kill(pid, 0) != 0) return errno == ESRCH;
    char path[64] = "/proc/";
    int n = 6;
    char digits[16];
    int nd = 0;
    for (int v = pid; v > 0 && nd < 15; v /= 10) digits[nd++] = (char)('0' + v % 10);
    while (nd > 0) path[n++] = digits[--nd];
    memcpy(path + n, "/stat", 6);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return 0;
    char buf[256];
    ssize_t r = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (r <= 0) return 0;
    buf[r] = 0;
    /* "pid (comm) S ...": the state follows the last ')' */
    char *p = NULL;
    for (ssize_t i = 0; i < r; i++) if (buf[i] == ')') p = buf + i;
    if (!p || p[1] != ' ') return 0;
    if (p[2] == 'Z' || p[2] == 'X') return 1;
    return p[2] == 'T' || p[2] == 't' ? 2 : 0;
}

/* Appending without stdio (the SIGTERM handler uses these). */
static void put_s(char *buf, size_t len, size_t *at, const char *s) {
    while (*s && *at + 1 < len) buf[(*at)++] = *s++;
    buf[*at < len ? *at : len - 1] = 0;
}

static void put_i(char *buf, size_t len, size_t *at, long v) {
    char d[24];
    int n = 0;
    if (v < 0) { put_s(buf, len, at, "-"); v = -v; }
    do { d[n++] = (char)('0' + v % 10); v /= 10; } while (v > 0 && n < 23);
    char s[24];
    for (int i = 0; i < n; i++) s[i] = d[n - 1 - i];
    s[n] = 0;
    put_s(buf, len, at, s);
}

void ic_wd_lost_peers(char *buf, size_t len) {
    size_t at = 0;
    buf[0] = 0;
    int lost = 0, remote = 0;
    for (int r = 0; r < g_wd.world && g_wd.pids; r++) {
        if (r == g_wd.rank) continue;
        if (!g_wd.local[r]) { remote++; continue; }
        const int st = pid_state(g_wd.pids[r]);
        if (!st) continue;
        put_s(buf, len, &at, lost ? "; rank " : "lost peer: rank ");
        put_i(buf, len, &at, r);
        put_s(buf, len, &at, " (pid ");
        put_i(buf, len, &at, g_wd.pids[r]);
        put_s(buf, len, &at, " on ");
        put_s(buf, len, &at, g_wd.hosts + (size_t)r * g_wd.host_len);
        put_s(buf, len, &at, st == 1 ? ") is gone" : ") is stopped");
        lost++;
    }
    if (!lost) put_s(buf, len, &at, "every peer on this host is still running");
    if (remote) {
        put_s(buf, len, &at, " (");
        put_i(buf, len, &at, remote);
        put_s(buf, len, &at, " peer(s) on other hosts not checked)");
    }
}

/* ---- SIGTERM: the launcher ends the job --------------------------------- */

static void on_sigterm(int sig) {
    char msg[1024];
    size_t at = 0;
    put_s(msg, sizeof msg, &at, "indexcache: rank ");
    put_i(msg, sizeof msg, &at, g_wd.rank);
    put_s(msg, sizeof msg, &at, "/");
    put_i(msg, sizeof msg, &at, g_wd.world);
    put_s(msg, sizeof msg, &at, sig == SIGTERM ? ": fatal: stopped by SIGTERM (the launcher ends the job): "
                                               : ": fatal: stopped by a signal: ");
    char peers[768];
    ic_wd_lost_peers(peers, sizeof peers);
    put_s(msg, sizeof msg, &at, peers);
    put_s(msg, sizeof msg, &at, "\n");
    ssize_t w = write(STDERR_FILENO, msg, at);
    (void)w;
    _exit(1);
}

/* ---- the watchdog thread --------------------------------------------------- */

_Noreturn static void wd_fail(const char *what, const char *detail) {
    char peers[768];
    ic_wd_lost_peers(peers, sizeof peers);
    fprintf(stderr, "indexcache: rank %d/%d: fatal: %s%s%s; %s\n", g_wd.rank, g_wd.world, what,
            detail && *detail ? ": " : "", detail ? detail : "", peers);
    fflush(stderr);
    fflush(stdout);
    pthread_mutex_lock(&g_wd.mu);
    if (g_wd.abort_fn) g_wd.abort_fn(g_wd.user);
    pthread_mutex_unlock(&g_wd.mu);
    _exit(1);
}

static void *wd_main(void *arg) {
    (void)arg;
    const long long limit = (long long)(g_wd.timeout_s * 1e9);
    long long dev_since = 0;
    char msg[512], what[640];
    while (!atomic_load(&g_wd.stop)) {
        struct timespec d = { 0, IC_WD_POLL_MS * 1000000l };
        nanosleep(&d, NULL);
        const long long t = now_ns();
        long long hs = atomic_load(&g_wd.host_since_ns);
        if (hs && t - hs > limit) {
            snprintf(what, sizeof what, "%s did not complete within %.0f s (IC_COMM_TIMEOUT_S)",
                     atomic_load(&g_wd.host_what), g_wd.timeout_s);
            wd_fail(what, "a peer rank is dead or stuck");
        }
        pthread_mutex_lock(&g_wd.mu);
        int rc = 0;
        msg[0] = 0;
        if (g_wd.poll) rc = g_wd.poll(g_wd.user, msg, sizeof msg);
        pthread_mutex_unlock(&g_wd.mu);
        if (rc < 0) wd_fail("NCCL collective failed", msg);
        if (rc == 0) dev_since = 0;
        else if (!dev_since) dev_since = t;
        else if (t - dev_since > limit) {
            snprintf(what, sizeof what, "NCCL all-reduce did not complete within %.0f s "
                     "(IC_COMM_TIMEOUT_S)", g_wd.timeout_s);
            wd_fail(what, msg[0] ? msg : "a peer rank is dead or stuck");
        }
    }
    return NULL;
}

void ic_wd_start(int rank, int world, const int *pids, const char *hosts, size_t host_len) {
    if (g_wd.started || world <= 1 || world > IC_WD_MAX_PEERS) return;
    g_wd.rank = rank;
    g_wd.world = world;
    g_wd.host_len = host_len;
    g_wd.pids = malloc(sizeof(int) * (size_t)world);
    g_wd.local = malloc((size_t)world);
    g_wd.hosts = malloc(host_len * (size_t)world);
    if (!g_wd.pids || !g_wd.local || !g_wd.hosts) {
        free(g_wd.pids); free(g_wd.local); free(g_wd.hosts);
        g_wd.pids = NULL; g_wd.local = NULL; g_wd.hosts = NULL;
        return;
    }
    memcpy(g_wd.pids, pids, sizeof(int) * (size_t)world);
    memcpy(g_wd.hosts, hosts, host_len * (size_t)world);
    for (int r = 0; r < world; r++)
        g_wd.local[r] = strncmp(hosts + (size_t)r * host_len, hosts + (size_t)rank * host_len,
                                host_len) == 0;
    g_wd.timeout_s = ic_wd_timeout_s();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigterm;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    /* Any thread may take the signal: the handler only reads the table. */
    if (pthread_create(&g_wd.thread, NULL, wd_main, NULL) == 0) g_wd.started = 1;
    else fprintf(stderr, "indexcache: rank %d/%d: warning: no watchdog thread: collectives that "
                         "never finish will hang\n", rank, world);
}

void ic_wd_stop(void) {
    if (!g_wd.started) return;
    atomic_store(&g_wd.stop, 1);
    pthread_join(g_wd.thread, NULL);
    g_wd.started = 0;
    atomic_store(&g_wd.stop, 0);
}

void ic_wd_enter(const char *what) {
    atomic_store(&g_wd.host_what, what);
    atomic_store(&g_wd.host_since_ns, now_ns());
}

void ic_wd_leave(void) { atomic_store(&g_wd.host_since_ns, 0); }

void ic_wd_set_device(ic_wd_poll_fn poll, ic_wd_abort_fn abort_fn, void *user) {
    pthread_mutex_lock(&g_wd.mu);
    g_wd.poll = poll;
    g_wd.abort_fn = poll ? abort_fn : NULL;
    g_wd.user = poll ? user : NULL;
    pthread_mutex_unlock(&g_wd.mu);
}
