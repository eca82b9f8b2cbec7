/* Element-wise ops the model and the optimizer need between the big ones:
 * the residual add and a scale (gradient clipping). n elements, fp32 on the
 * context's device. */
#ifndef IC_ELEMENTWISE_H
#define IC_ELEMENTWISE_H

#include <stddef.h>

#include "core/ic_ctx.h"
#include "core/ic_tensor.h"

/* h[i] += x[i] (the residual stream add). h may not alias x partially. */
void ic_add_inplace(ic_ctx *ctx, float *h, const float *x, size_t n);
/* The same on storage dtype dt (every float tensor of the call): IC_F32 on
 * any backend, IC_BF16 on CUDA contexts (fp32 arithmetic). The fp32 entry
 * point above is this with IC_F32. */
void ic_add_inplace_dt(ic_ctx *ctx, ic_dtype dt, void *h, const void *x, size_t n);
void ic_add_inplace_cpu(ic_ctx *ctx, float *h, const float *x, size_t n);

/* x[i] *= s */
void ic_scale(ic_ctx *ctx, float *x, float s, size_t n);
void ic_scale_cpu(ic_ctx *ctx, float *x, float s, size_t n);

/* dst [n] in dst_dt = src [n] in src_dt: the same dtype is a copy; fp32 <->
 * bf16 (CUDA only) rounds to nearest even / widens exactly. The teacher's
 * bf16 activations reach the fp32 indexer and the distillation loss
 * through it. dst must not overlap src. */
void ic_convert_dt(ic_ctx *ctx, ic_dtype dst_dt, void *dst, ic_dtype src_dt, const void *src,
                   size_t n);

#endif
