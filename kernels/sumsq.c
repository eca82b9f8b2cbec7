/* Dispatch of the blocked sum of squares (kernels/ic_grad_norm.h). */
#include "kernels/ic_grad_norm.h"

#include "ic_check.h"

/* One double per block (the partials) and one for the result: the same
 * for both backends, which share the blocking. */
size_t ic_sumsq_workspace_bytes(const ic_ctx *ctx, int64_t n) {
    (void)ctx;
    IC_ASSERT(n >= 0);
    const int64_t nb = (n + IC_SUMSQ_BLOCK - 1) / IC_SUMSQ_BLOCK;
    return ic_ws_round((size_t)nb * sizeof(double)) + ic_ws_round(sizeof(double));
}

double ic_sumsq(ic_ctx *ctx, const float *g, int64_t n) {
    IC_ASSERT(n >= 0 && (n == 0 || g != NULL));
    ic_ctx_count_op(ctx);
    switch (ctx->backend) {
    case IC_BACKEND_CPU: return ic_sumsq_cpu(ctx, g, n);
    case IC_BACKEND_CUDA: return ic_sumsq_cuda(ctx, g, n);
    }
    IC_FATAL("sumsq: unknown backend %d", (int)ctx->backend);
}
