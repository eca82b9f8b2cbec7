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
void ic_add_inplace_cpu(ic_ctx *ctx, float *h, const float *x, size_t n);

/* x[i] *= s */
void ic_scale(ic_ctx *ctx, float *x, float s, size_t n);
void ic_scale_cpu(ic_ctx *ctx, float *x, float s, size_t n);

#endif
