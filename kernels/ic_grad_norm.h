/* Sum of squares of an fp32 buffer in double, for the global gradient norm
 * (optim/ic_clip). The sum is taken over fixed blocks of IC_SUMSQ_BLOCK
 * elements, each block's partial in double, then the partials are added in
 * block order: the result is bitwise the same for any thread count, and a
 * resumed run reproduces the same clipping. The CUDA version uses the same
 * blocks; within a block its order differs, so CPU and GPU agree to double
 * rounding, not bitwise. Returns the value on the host (it is printed and
 * decides the clip), waiting for the queued ops. */
#ifndef IC_GRAD_NORM_H
#define IC_GRAD_NORM_H

#include <stdint.h>

#include "core/ic_ctx.h"

#define IC_SUMSQ_BLOCK 8192

/* Workspace the op takes from ctx->ws for n elements. */
size_t ic_sumsq_workspace_bytes(const ic_ctx *ctx, int64_t n);

double ic_sumsq(ic_ctx *ctx, const float *g, int64_t n);
double ic_sumsq_cpu(ic_ctx *ctx, const float *g, int64_t n);
double ic_sumsq_cuda(ic_ctx *ctx, const float *g, int64_t n);

#endif
