/* Phase timer (kernels/ic_phase_timer.h). In kernels/ because the sync at
 * each boundary is the backend's (ic_ctx_sync). */
#include <string.h>
#include <time.h>

#include "ic_check.h"
#include "kernels/ic_ctx.h"
#include "kernels/ic_phase_timer.h"

double ic_time_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void ic_phase_timer_start(ic_phase_timer *t, ic_ctx *ctx, int phase) {
    if (!t) return;
    IC_ASSERT(ctx != NULL && phase >= 0 && phase < IC_PHASE_TIMER_MAX);
    memset(t, 0, sizeof *t);
    t->ctx = ctx;
    ic_ctx_sync(ctx);
    t->t_start = t->t_last = ic_time_now();
    t->cur = phase;
}

int ic_phase_timer_switch(ic_phase_timer *t, int phase) {
    if (!t || t->cur < 0) return -1;
    IC_ASSERT(phase >= 0 && phase < IC_PHASE_TIMER_MAX);
    ic_ctx_sync(t->ctx);
    const double now = ic_time_now();
    const int prev = t->cur;
    t->acc[prev] += now - t->t_last;
    t->t_last = now;
    t->cur = phase;
    return prev;
}

double ic_phase_timer_stop(ic_phase_timer *t) {
    if (!t || t->cur < 0) return 0.0;
    ic_ctx_sync(t->ctx);
    const double now = ic_time_now();
    t->acc[t->cur] += now - t->t_last;
    t->total = now - t->t_start;
    t->cur = -1;
    return t->total;
}
