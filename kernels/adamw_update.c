/* Dispatch of the AdamW update (kernels/ic_adamw_update.h). */
#include "kernels/ic_adamw_update.h"

#include "ic_check.h"

void ic_adamw_update(ic_ctx *ctx, float *p, const float *g, float *m, float *v, int64_t n,
                     const ic_adamw_coef *c) {
    IC_ASSERT(n >= 0 && c != NULL);
    IC_ASSERT(n == 0 || (p && g && m && v));
    ic_ctx_count_op(ctx);
    switch (ctx->backend) {
    case IC_BACKEND_CPU: ic_adamw_update_cpu(ctx, p, g, m, v, n, c); return;
    case IC_BACKEND_CUDA: ic_adamw_update_cuda(ctx, p, g, m, v, n, c); return;
    }
    IC_FATAL("adamw update: unknown backend %d", (int)ctx->backend);
}
