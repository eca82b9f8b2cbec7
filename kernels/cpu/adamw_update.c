/* CPU reference of the AdamW update (kernels/ic_adamw_update.h): the loop
 * optim/ic_adamw ran before the op seam, expression for expression, so
 * results are bitwise those of earlier runs and checkpoints. */
#include "kernels/ic_adamw_update.h"

#include <math.h>

/* Below this many elements a buffer is updated by one thread: the OpenMP
 * fork costs more than the work. Element-wise, so bitwise the same either way. */
#define IC_ADAMW_PAR_MIN 32768

void ic_adamw_update_cpu(ic_ctx *ctx, float *restrict p, const float *restrict g,
                         float *restrict m, float *restrict v, int64_t n,
                         const ic_adamw_coef *c) {
    (void)ctx;
    const float b1 = c->beta1, b2 = c->beta2, eps = c->eps;
    const float shrink = c->decay_mul, step_size = c->step_size, inv_sqrt_bc2 = c->inv_sqrt_bc2;
#pragma omp parallel for schedule(static) if (n >= IC_ADAMW_PAR_MIN)
    for (int64_t k = 0; k < n; k++) {
        float gk = g[k];
        float mk = b1 * m[k] + (1.0f - b1) * gk;
        float vk = b2 * v[k] + (1.0f - b2) * gk * gk;
        m[k] = mk;
        v[k] = vk;
        float denom = sqrtf(vk) * inv_sqrt_bc2 + eps;
        p[k] = p[k] * shrink - step_size * mk / denom;
    }
}
