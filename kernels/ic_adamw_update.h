/* One AdamW update of one fp32 buffer (the element loop of optim/ic_adamw:
 * optim owns the state and the schedule, this op owns the arithmetic).
 * Per element, with the coefficients the caller computed once per step:
 *   p = p * decay_mul                           (decay_mul = 1 - lr * wd, or 1)
 *   m = beta1 * m + (1 - beta1) * g
 *   v = beta2 * v + (1 - beta2) * g^2
 *   p = p - step_size * m / (sqrt(v) * inv_sqrt_bc2 + eps)
 * where step_size = lr / (1 - beta1^t) and inv_sqrt_bc2 = 1 / sqrt(1 - beta2^t),
 * i.e. p -= lr * mhat / (sqrt(vhat) + eps). Element-wise, so every backend
 * and thread count gives the same bits for the same float operations. */
#ifndef IC_ADAMW_UPDATE_H
#define IC_ADAMW_UPDATE_H

#include <stdint.h>

#include "core/ic_ctx.h"

typedef struct {
    float beta1, beta2, eps;
    float decay_mul;     /* 1 - lr * weight_decay (1 for exempt buffers) */
    float step_size;     /* lr / (1 - beta1^t) */
    float inv_sqrt_bc2;  /* 1 / sqrt(1 - beta2^t) */
} ic_adamw_coef;

/* p, m, v updated in place; g read. All [n] fp32 on ctx's device. */
void ic_adamw_update(ic_ctx *ctx, float *p, const float *g, float *m, float *v, int64_t n,
                     const ic_adamw_coef *c);
void ic_adamw_update_cpu(ic_ctx *ctx, float *p, const float *g, float *m, float *v, int64_t n,
                         const ic_adamw_coef *c);
void ic_adamw_update_cuda(ic_ctx *ctx, float *p, const float *g, float *m, float *v, int64_t n,
                          const ic_adamw_coef *c);

#endif
