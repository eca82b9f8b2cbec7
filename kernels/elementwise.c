/* Dispatch of the element-wise ops (kernels/ic_elementwise.h). */
#include "kernels/ic_elementwise.h"

#include "ic_check.h"
#include "kernels/ic_cuda_ops.h"

void ic_add_inplace(ic_ctx *ctx, float *h, const float *x, size_t n) {
    IC_ASSERT(h && x);
    IC_ASSERT(h == x || h + n <= x || x + n <= h);   /* equal or disjoint */
    ic_ctx_count_op(ctx);
    switch (ctx->backend) {
    case IC_BACKEND_CPU: ic_add_inplace_cpu(ctx, h, x, n); return;
    case IC_BACKEND_CUDA: ic_add_inplace_cuda(ctx, IC_F32, h, x, n); return;
    }
    IC_FATAL("add: unknown backend %d", (int)ctx->backend);
}

void ic_scale(ic_ctx *ctx, float *x, float s, size_t n) {
    IC_ASSERT(x);
    ic_ctx_count_op(ctx);
    switch (ctx->backend) {
    case IC_BACKEND_CPU: ic_scale_cpu(ctx, x, s, n); return;
    case IC_BACKEND_CUDA: ic_scale_cuda(ctx, x, s, n); return;
    }
    IC_FATAL("scale: unknown backend %d", (int)ctx->backend);
}
