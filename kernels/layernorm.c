/* Dispatch of LayerNorm (kernels/ic_layernorm.h). */
#include "kernels/ic_layernorm.h"

#include "ic_check.h"
#include "kernels/ic_cuda_ops.h"

void ic_layernorm_forward(ic_ctx *ctx, float *y, float *mean, float *rstd, const float *x,
                          const float *weight, const float *bias, int rows, int n, float eps) {
    IC_ASSERT(y != NULL && x != NULL && weight != NULL && bias != NULL);
    IC_ASSERT(rows >= 0 && n > 0 && eps >= 0.0f);
    ic_ctx_count_op(ctx);
    switch (ctx->backend) {
    case IC_BACKEND_CPU:
        ic_layernorm_forward_cpu(ctx, y, mean, rstd, x, weight, bias, rows, n, eps);
        return;
    case IC_BACKEND_CUDA:
        ic_layernorm_forward_cuda(ctx, y, mean, rstd, x, weight, bias, rows, n, eps);
        return;
    }
    IC_FATAL("layernorm: unknown backend %d", (int)ctx->backend);
}

size_t ic_layernorm_backward_workspace_bytes(const ic_ctx *ctx, int rows, int n) {
    IC_ASSERT(rows >= 0 && n > 0);
    return ctx->backend == IC_BACKEND_CPU ? 0
                                          : ic_layernorm_backward_workspace_bytes_cuda(ctx, rows, n);
}

void ic_layernorm_backward(ic_ctx *ctx, float *dx, float *dweight, float *dbias, const float *dy,
                           const float *x, const float *mean, const float *rstd,
                           const float *weight, int rows, int n) {
    IC_ASSERT(dy != NULL && x != NULL && mean != NULL && rstd != NULL && weight != NULL);
    IC_ASSERT(rows >= 0 && n > 0);
    ic_ctx_count_op(ctx);
    switch (ctx->backend) {
    case IC_BACKEND_CPU:
        ic_layernorm_backward_cpu(ctx, dx, dweight, dbias, dy, x, mean, rstd, weight, rows, n);
        return;
    case IC_BACKEND_CUDA:
        ic_layernorm_backward_cuda(ctx, dx, dweight, dbias, dy, x, mean, rstd, weight, rows, n);
        return;
    }
    IC_FATAL("layernorm backward: unknown backend %d", (int)ctx->backend);
}
