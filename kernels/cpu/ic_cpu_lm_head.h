/* The CPU LM head fused with the cross-entropy (lm_head_loss.c) with its
 * blocking exposed, for the tests (every split must give the same losses)
 * and bench/bench_lm_head_cpu.c (which blocking wins). */
#ifndef IC_CPU_LM_HEAD_H
#define IC_CPU_LM_HEAD_H

#include <stdint.h>

#include "core/ic_ctx.h"

typedef struct {
    int rows;     /* rows of x per pass over the head */
    int vchunk;   /* vocabulary columns per GEMM call (one logit tile) */
    int vparts;   /* the threads split each pass into vparts vocabulary slices
                     times threads / vparts row slices (vparts divides threads) */
    int threads;  /* OpenMP threads of the parallel region */
} ic_lm_head_blocking;

/* The blocking ic_lm_head_loss_cpu uses on ctx for n rows of V logits. */
ic_lm_head_blocking ic_lm_head_blocking_default(const ic_ctx *ctx, int n, int V, int D);
size_t ic_lm_head_loss_workspace_bytes_blocked(const ic_lm_head_blocking *b, int n, int V);
void ic_lm_head_loss_cpu_blocked(ic_ctx *ctx, const ic_lm_head_blocking *b, float *nll,
                                 const float *x, const float *w, const int32_t *targets,
                                 int n, int V, int D);

#endif
