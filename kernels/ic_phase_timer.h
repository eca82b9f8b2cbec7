/* Wall-clock time split by phase, the same code on every backend: each
 * phase boundary waits for the context's queued ops (ic_ctx_sync: a no-op
 * on the CPU, a stream sync on CUDA) and then reads a monotonic clock, so a
 * phase is charged for the work it queued, not for the launches alone. The
 * syncs serialise the GPU at every boundary: use the totals of a timed run
 * for the split, and an untimed run (timer NULL) for the fastest total.
 *
 * A NULL timer makes every call a no-op, so instrumented code runs
 * untimed at no cost. The phases partition [start, stop]: the sum of
 * acc[] equals total up to the clock reads between them. */
#ifndef IC_PHASE_TIMER_H
#define IC_PHASE_TIMER_H

#include "core/ic_ctx.h"

#define IC_PHASE_TIMER_MAX 8

typedef struct {
    ic_ctx *ctx;
    int     cur;                         /* phase being charged; -1 when stopped */
    double  t_start, t_last;             /* seconds (monotonic) */
    double  acc[IC_PHASE_TIMER_MAX];     /* seconds per phase */
    double  total;                       /* stop - start, measured on its own */
} ic_phase_timer;

/* Monotonic seconds. */
double ic_time_now(void);

/* Syncs ctx, zeroes the phases and starts charging `phase`. */
void ic_phase_timer_start(ic_phase_timer *t, ic_ctx *ctx, int phase);
/* Syncs, charges the time since the last boundary to the current phase,
 * and makes `phase` current. Returns the phase that was current (so a
 * nested region can switch back), -1 for a NULL or stopped timer. */
int  ic_phase_timer_switch(ic_phase_timer *t, int phase);
/* Syncs, charges the current phase, sets total; returns total. */
double ic_phase_timer_stop(ic_phase_timer *t);

#endif
