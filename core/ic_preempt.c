#include "ic_preempt.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static volatile sig_atomic_t g_pending;
static int (*g_forward)(int sig);
static struct sigaction g_old_term, g_old_usr1;
static int g_installed;

/* The action that was there before ours: a handler (launch/'s dead-peer
 * message), ignore, or the default (the process dies of the signal). */
static void pass_on(int sig) {
    const struct sigaction *o = sig == SIGTERM ? &g_old_term : &g_old_usr1;
    if (o->sa_flags & SA_SIGINFO) {
        if (o->sa_sigaction) { o->sa_sigaction(sig, NULL, NULL); return; }
    } else if (o->sa_handler == SIG_IGN) {
        return;
    } else if (o->sa_handler != SIG_DFL) {
        o->sa_handler(sig);
        return;
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static void on_signal(int sig) {
    /* asked twice, or not a preemption: what would have happened without us */
    if (g_pending || (g_forward && g_forward(sig))) {
        pass_on(sig);
        return;
    }
    g_pending = sig;
}

void ic_preempt_install(int (*forward)(int sig)) {
    g_forward = forward;
    if (g_installed) return;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    /* restart interrupted reads/writes: the step finishes normally */
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, &g_old_term);
    sigaction(SIGUSR1, &sa, &g_old_usr1);
    g_installed = 1;
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
