/* Dispatch of the cross-entropy (kernels/ic_cross_entropy.h). */
#include "kernels/ic_cross_entropy.h"

#include "ic_check.h"
#include "kernels/ic_cuda_ops.h"

void ic_cross_entropy_forward(ic_ctx *ctx, float *nll, const float *logits,
                              const int32_t *targets, int n, int V) {
    ic_cross_entropy_forward_dt(ctx, IC_F32, nll, logits, targets, n, V);
}

void ic_cross_entropy_forward_dt(ic_ctx *ctx, ic_dtype dt, float *nll, const void *logits,
                                 const int32_t *targets, int n, int V) {
    IC_ASSERT(nll && logits && targets && n >= 0 && V > 0);
    ic_ctx_count_op(ctx);
    switch (ctx->backend) {
    case IC_BACKEND_CPU:
        IC_ASSERT(dt == IC_F32);   /* the CPU reference is fp32 */
        ic_cross_entropy_forward_cpu(ctx, nll, logits, targets, n, V);
        return;
    case IC_BACKEND_CUDA:
        ic_cross_entropy_forward_cuda(ctx, dt, nll, logits, targets, n, V);
        return;
    }
    IC_FATAL("cross-entropy: unknown backend %d", (int)ctx->backend);
}

void ic_cross_entropy_backward(ic_ctx *ctx, float *dlogits, const float *logits,
                               const int32_t *targets, int n, int V, float scale) {
    IC_ASSERT(dlogits && logits && targets && n >= 0 && V > 0);
    ic_ctx_count_op(ctx);
    switch (ctx->backend) {
    case IC_BACKEND_CPU:
        ic_cross_entropy_backward_cpu(ctx, dlogits, logits, targets, n, V, scale);
        return;
    case IC_BACKEND_CUDA:
        ic_cross_entropy_backward_cuda(ctx, IC_F32, dlogits, logits, targets, n, V, scale);
        return;
    }
    IC_FATAL("cross-entropy backward: unknown backend %d", (int)ctx->backend);
}

void ic_lm_head_loss(ic_ctx *ctx, float *nll, const float *x, const float *w,
                     const int32_t *targets, int n, int V, int D) {
    IC_ASSERT(nll && x && w && targets && n >= 0 && V > 0 && D > 0);
    ic_ctx_count_op(ctx);
    if (ctx->backend == IC_BACKEND_CPU) {
        ic_lm_head_loss_cpu(ctx, nll, x, w, targets, n, V, D);
        return;
    }
    IC_FATAL("fused LM head + cross-entropy: CPU only (backend %d); run the head GEMM and "
             "ic_cross_entropy_forward per row block instead", (int)ctx->backend);
}
