/* How many OpenMP threads a CPU op's parallel region runs, and so how many
 * per-thread scratch slices it takes from the workspace. One rule for the
 * op and its _workspace_bytes query: the OpenMP setting at the time of the
 * call (ic_ctx_init records it in ctx->cpu_threads for the start-up line;
 * tests lower and raise it between calls to prove thread-count invariance,
 * and a caller that raises it reserves again). Inside an active parallel
 * region nested regions are inactive, so one thread. */
#ifndef IC_CPU_THREADS_H
#define IC_CPU_THREADS_H

#include <omp.h>

#include "core/ic_ctx.h"

static inline int ic_cpu_threads(const ic_ctx *ctx) {
    (void)ctx;
    return omp_in_parallel() ? 1 : omp_get_max_threads();
}

#endif
