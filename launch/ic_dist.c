#include "ic_dist.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "ic_log.h"
#include "launch/ic_dist_nccl.h"
#include "launch/ic_dist_watchdog.h"
#ifdef IC_WITH_MPI
#include <mpi.h>
#endif

static ic_dist g_dist = {0, 1, 0, 0};

/* MPI counts are int: longer buffers go in chunks of this many elements. */
#define IC_DIST_CHUNK ((size_t)1 << 30)

static int launched_by_mpirun(void) {
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK");
}

#ifdef IC_WITH_MPI
/* Each rank's pid and host, so a survivor can name the peer that died. */
static void start_watchdog(void) {
    enum { HOST = 64 };
    const int w = g_dist.world;
    int *pids = malloc(sizeof(int) * (size_t)w);
    char *hosts = malloc((size_t)HOST * (size_t)w);
    if (!pids || !hosts) ic_dist_fail("out of memory for the peer table of %d ranks", w);
    int pid;
    char host[HOST];
    ic_wd_local_identity(&pid, host, sizeof host);
    IC_MPI_CHECK(MPI_Allgather(&pid, 1, MPI_INT, pids, 1, MPI_INT, MPI_COMM_WORLD));
    IC_MPI_CHECK(MPI_Allgather(host, HOST, MPI_CHAR, hosts, HOST, MPI_CHAR, MPI_COMM_WORLD));
    ic_wd_start(g_dist.rank, w, pids, hosts, HOST);
    free(pids);
    free(hosts);
}
#endif

/* A collective under the watchdog: a call still pending after the timeout
 * ends the job with the call's name (launch/ic_dist_watchdog.h). */
#define IC_MPI_COLL(call) do { ic_wd_enter(#call); IC_MPI_CHECK(call); ic_wd_leave(); } while (0)

void ic_dist_init(int *argc, char ***argv) {
#ifdef IC_WITH_MPI
    if (launched_by_mpirun()) {
        /* FUNNELED: only this thread calls MPI; the watchdog thread of
         * launch/ic_dist_watchdog.h never does. */
        int provided = 0;
        MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
        g_dist.mpi_active = 1;
        /* From here on a failing call returns its code to IC_MPI_CHECK,
         * which names the call and aborts every rank, instead of MPI's
         * default handler which may leave the other ranks waiting. */
        MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
        IC_MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &g_dist.rank));
        IC_MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &g_dist.world));
        MPI_Comm local;
        IC_MPI_CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, g_dist.rank,
                                         MPI_INFO_NULL, &local));
        IC_MPI_CHECK(MPI_Comm_rank(local, &g_dist.local_rank));
        IC_MPI_CHECK(MPI_Comm_free(&local));
        if (g_dist.world > 1) start_watchdog();
    }
#else
    (void)argc; (void)argv;
    (void)launched_by_mpirun;
#endif
    ic_log_set_rank(g_dist.rank, g_dist.world);
}

const ic_dist *ic_dist_get(void) { return &g_dist; }

void ic_dist_finalize(void) {
#ifdef IC_WITH_MPI
    ic_nccl_close();
    if (g_dist.mpi_active) {
        ic_wd_enter("MPI_Finalize");
        MPI_Finalize();
        ic_wd_leave();
        ic_wd_stop();
    }
    g_dist.mpi_active = 0;
#endif
}

/* ---- failure ---------------------------------------------------------------- */

_Noreturn static void abort_job(int code) {
    fflush(stdout);
    fflush(stderr);
#ifdef IC_WITH_MPI
    if (g_dist.mpi_active) MPI_Abort(MPI_COMM_WORLD, code);
#endif
    exit(code);
}

void ic_dist_fail(const char *fmt, ...) {
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* One write per line so that ranks' messages do not interleave. */
    fprintf(stderr, "indexcache: rank %d/%d: fatal: %s\n", g_dist.rank, g_dist.world, msg);
    abort_job(1);
}

void ic_dist_check_rc(int rc, const char *call, const char *file, int line) {
    if (rc == 0) return;  /* MPI_SUCCESS is 0 by the standard */
    char what[512] = "unknown error";
#ifdef IC_WITH_MPI
    int len = 0;
    char s[MPI_MAX_ERROR_STRING];
    if (g_dist.mpi_active && MPI_Error_string(rc, s, &len) == MPI_SUCCESS)
        snprintf(what, sizeof what, "%s", s);
#endif
    char peers[768];
    ic_wd_lost_peers(peers, sizeof peers);
    fprintf(stderr, "indexcache: rank %d/%d: fatal: %s:%d: MPI error %d: %s (%s); %s\n",
            g_dist.rank, g_dist.world, file, line, rc, what, call, peers);
    abort_job(1);   /* the job failed (docs/DESIGN.md s6), not a bad command line */
}

/* ---- collectives ---------------------------------------------------------------- */

void ic_dist_allreduce_mean_f32(float *buf, size_t n) {
#ifdef IC_WITH_MPI
    if (g_dist.mpi_active && g_dist.world > 1) {
        for (size_t off = 0; off < n; off += IC_DIST_CHUNK) {
            int cnt = (int)(n - off < IC_DIST_CHUNK ? n - off : IC_DIST_CHUNK);
            IC_MPI_COLL(MPI_Allreduce(MPI_IN_PLACE, buf + off, cnt, MPI_FLOAT, MPI_SUM,
                                       MPI_COMM_WORLD));
        }
        const float inv = 1.0f / (float)g_dist.world;
        for (size_t i = 0; i < n; i++) buf[i] *= inv;
    }
#else
    (void)buf; (void)n;
#endif
}

void ic_dist_allreduce_sum_f64(double *buf, size_t n) {
#ifdef IC_WITH_MPI
    if (g_dist.mpi_active && g_dist.world > 1) {
        for (size_t off = 0; off < n; off += IC_DIST_CHUNK) {
            int cnt = (int)(n - off < IC_DIST_CHUNK ? n - off : IC_DIST_CHUNK);
            IC_MPI_COLL(MPI_Allreduce(MPI_IN_PLACE, buf + off, cnt, MPI_DOUBLE, MPI_SUM,
                                       MPI_COMM_WORLD));
        }
    }
#else
    (void)buf; (void)n;
#endif
}

double ic_dist_sum_f64(double x) {
    ic_dist_allreduce_sum_f64(&x, 1);
    return x;
}

int64_t ic_dist_sum_i64(int64_t x) {
#ifdef IC_WITH_MPI
    if (g_dist.mpi_active && g_dist.world > 1)
        IC_MPI_COLL(MPI_Allreduce(MPI_IN_PLACE, &x, 1, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD));
#endif
    return x;
}

double ic_dist_max_f64(double x) {
#ifdef IC_WITH_MPI
    if (g_dist.mpi_active && g_dist.world > 1)
        IC_MPI_COLL(MPI_Allreduce(MPI_IN_PLACE, &x, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD));
#endif
    return x;
}

void ic_dist_bcast(void *buf, size_t nbytes) {
#ifdef IC_WITH_MPI
    if (g_dist.mpi_active && g_dist.world > 1) {
        for (size_t off = 0; off < nbytes; off += IC_DIST_CHUNK) {
            int cnt = (int)(nbytes - off < IC_DIST_CHUNK ? nbytes - off : IC_DIST_CHUNK);
            IC_MPI_COLL(MPI_Bcast((char *)buf + off, cnt, MPI_BYTE, 0, MPI_COMM_WORLD));
        }
    }
#else
    (void)buf; (void)nbytes;
#endif
}

void ic_dist_barrier(void) {
#ifdef IC_WITH_MPI
    if (g_dist.mpi_active && g_dist.world > 1) IC_MPI_COLL(MPI_Barrier(MPI_COMM_WORLD));
#endif
}

ic_dist_minloc_pair ic_dist_minloc(double value, int index) {
    ic_dist_minloc_pair r = {isnan(value) ? INFINITY : value, index};
#ifdef IC_WITH_MPI
    if (g_dist.mpi_active && g_dist.world > 1) {
        /* MPI_DOUBLE_INT is the C struct {double; int}: ours has that layout. */
        struct { double v; int i; } in = {r.value, r.index}, out;
        IC_MPI_COLL(MPI_Allreduce(&in, &out, 1, MPI_DOUBLE_INT, MPI_MINLOC, MPI_COMM_WORLD));
        r.value = out.v;
        r.index = out.i;
    }
#endif
    return r;
}

int ic_dist_all_ok(int ok) {
    int v = ok ? 1 : 0;
#ifdef IC_WITH_MPI
    if (g_dist.mpi_active && g_dist.world > 1)
        IC_MPI_COLL(MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD));
#endif
    return v;
}

/* FNV-1a over the bytes, then a final avalanche: equal buffers give equal
 * hashes on every machine; a single changed byte changes the hash. */
static uint64_t hash_bytes(const void *buf, size_t n) {
    const unsigned char *p = buf;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) { h ^= p[i]; h *= 0x100000001b3ull; }
    h ^= h >> 33; h *= 0xff51afd7ed558ccdull; h ^= h >> 33;
    return h ^ (uint64_t)n;
}

int ic_dist_same_bytes(const void *buf, size_t nbytes) {
    uint64_t h = hash_bytes(buf, nbytes);
#ifdef IC_WITH_MPI
    if (g_dist.mpi_active && g_dist.world > 1) {
        uint64_t lo = h, hi = h;
        IC_MPI_COLL(MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD));
        IC_MPI_COLL(MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD));
        return lo == hi;
    }
#endif
    (void)h;
    return 1;
}
