// Internal to kernels/cuda: the launchers of the indexer-score backward tiles
// (kernels/cuda/indexer_scores_bwd.cu), shared by the public indexer backward
// and the fused distillation loss (kernels/cuda/distill_loss_dense.cu).
// All pointers are device pointers of ctx, fp32; d_I is 64 or 128.
#ifndef IC_ISC_BWD_CUDA_H
#define IC_ISC_BWD_CUDA_H

#include <stddef.h>

extern "C" {
#include "core/ic_ctx.h"
}

namespace ic_cuda {

// Rows t in [t0, t1) with g [t1 - t0, ld] = dLoss/dI (entries s > t ignored):
//   dqI[t, j, :] += sum_s da * kI[s],  dw[t, j] += sum_s g * ReLU(a)
// (either may be NULL), one CTA per (head j, 64-row tile) looping over the
// keys: every output element has one writer, summed in key order.
void isc_bwd_dqdw_launch(ic_ctx *ctx, float *dqI, float *dw, const float *g, int ld,
                         const float *qI, const float *kI, const float *w, int L, int H_I,
                         int d_I, int t0, int t1);

// The same with qI, kI as bf16 (16-byte aligned; the fused loss's copies):
// bf16 staging is exact, so the results are those of the fp32 call on the
// fp32 values. Include after ic_cuda_rt.cuh (the bf16 type).
void isc_bwd_dqdw_launch(ic_ctx *ctx, float *dqI, float *dw, const float *g, int ld,
                         const __nv_bfloat16 *qI, const __nv_bfloat16 *kI, const float *w, int L,
                         int H_I, int d_I, int t0, int t1);

// The dkI contributions of the same rows, per head: part [H_I, t1, d_I] =
// sum over rows t >= s of the block of da * qI[t, j] (written, not added),
// one CTA per (head j, 64-key tile) looping over the rows.
void isc_bwd_dk_launch(ic_ctx *ctx, float *part, const float *g, int ld, const float *qI,
                       const float *kI, const float *w, int L, int H_I, int d_I, int t0,
                       int t1);

void isc_bwd_dk_launch(ic_ctx *ctx, float *part, const float *g, int ld,
                       const __nv_bfloat16 *qI, const __nv_bfloat16 *kI, const float *w, int L,
                       int H_I, int d_I, int t0, int t1);

// dkI [n, d_I] += sum over j = 0..H_I-1 (in that order) of part [H_I, n, d_I].
void isc_bwd_dk_reduce_launch(ic_ctx *ctx, float *dkI, const float *part, int H_I, int d_I,
                              int n);

// Bytes of the part buffer for t1 <= L rows.
static inline size_t isc_bwd_part_bytes(int L, int H_I, int d_I) {
    return sizeof(float) * (size_t)H_I * (size_t)L * (size_t)d_I;
}

}  // namespace ic_cuda

#endif
