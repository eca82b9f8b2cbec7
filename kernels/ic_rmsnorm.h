/* RMSNorm as in HF LlamaRMSNorm: y = w * x / sqrt(mean(x^2) + eps). */
#ifndef IC_RMSNORM_H
#define IC_RMSNORM_H

#include "core/ic_ctx.h"
#include "core/ic_tensor.h"

/* out [L, D], x [L, D], w [D]. out may equal x (in place). */
void ic_rmsnorm_forward(ic_ctx *ctx, float *out, const float *x, const float *w, int L, int D, float eps);
/* The same on storage dtype dt (every float tensor of the call): IC_F32 on
 * any backend, IC_BF16 on CUDA contexts (fp32 arithmetic). The fp32 entry
 * point above is this with IC_F32. */
void ic_rmsnorm_forward_dt(ic_ctx *ctx, ic_dtype dt, void *out, const void *x, const void *w,
                           int L, int D, float eps);

/* The CPU reference (kernels/cpu), same contract. */
void ic_rmsnorm_forward_cpu(ic_ctx *ctx, float *out, const float *x, const float *w, int L, int D, float eps);

#endif
