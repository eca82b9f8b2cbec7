#include "ic_preempt.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static volatile sig_atomic_t g_pending;

static void on_signal(int sig) {
    if (g_pending) {
        /* asked twice: die as the signal would have made us */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    g_pending = sig;
}

void ic_preempt_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    /* restart interrupted reads/writes: the step finishes normally */
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
}

int ic_preempt_pending(void) { return (int)g_pending; }

void ic_preempt_clear(void) { g_pending = 0; }

const char *ic_preempt_name(int sig) {
    static char buf[32];
    if (sig == SIGTERM) return "SIGTERM";
    if (sig == SIGUSR1) return "SIGUSR1";
    snprintf(buf, sizeof buf, "signal %d", sig);
    return buf;
}
