/* RMSNorm as in HF LlamaRMSNorm: y = w * x / sqrt(mean(x^2) + eps). */
#ifndef IC_RMSNORM_H
#define IC_RMSNORM_H

#include "core/ic_ctx.h"

/* out [L, D], x [L, D], w [D]. out may equal x (in place). */
void ic_rmsnorm_forward(ic_ctx *ctx, float *out, const float *x, const float *w, int L, int D, float eps);

/* The CPU reference (kernels/cpu), same contract. */
void ic_rmsnorm_forward_cpu(ic_ctx *ctx, float *out, const float *x, const float *w, int L, int D, float eps);

#endif
