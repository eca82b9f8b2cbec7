/* Dispatch of the element-wise ops (kernels/ic_elementwise.h). */
#include "kernels/ic_elementwise.h"

#include "ic_check.h"
#include "kernels/ic_ctx.h"
#include "kernels/ic_cuda_ops.h"

void ic_add_inplace(ic_ctx *ctx, float *h, const float *x, size_t n) {
    ic_add_inplace_dt(ctx, IC_F32, h, x, n);
}

void ic_add_inplace_dt(ic_ctx *ctx, ic_dtype dt, void *h, const void *x, size_t n) {
    IC_ASSERT(h && x);
    const size_t bytes = n * ic_dtype_size(dt);
    const char *hc = h, *xc = x;
    IC_ASSERT(hc == xc || hc + bytes <= xc || xc + bytes <= hc);   /* equal or disjoint */
    ic_ctx_count_op(ctx);
    switch (ctx->backend) {
    case IC_BACKEND_CPU:
        IC_ASSERT(dt == IC_F32);   /* the CPU reference is fp32 */
        ic_add_inplace_cpu(ctx, h, x, n);
        return;
    case IC_BACKEND_CUDA: ic_add_inplace_cuda(ctx, dt, h, x, n); return;
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

void ic_convert_dt(ic_ctx *ctx, ic_dtype dst_dt, void *dst, ic_dtype src_dt, const void *src,
                   size_t n) {
    IC_ASSERT((dst && src) || n == 0);
    if (dst_dt == src_dt) {
        ic_buf_copy(ctx, dst, src, n * ic_dtype_size(src_dt));
        return;
    }
    ic_ctx_count_op(ctx);
    switch (ctx->backend) {
    case IC_BACKEND_CPU:
        IC_FATAL("convert: dtype %d -> %d on the CPU (the CPU reference is fp32)", (int)src_dt,
                 (int)dst_dt);
    case IC_BACKEND_CUDA: ic_convert_cuda(ctx, dst_dt, dst, src_dt, src, n); return;
    }
    IC_FATAL("convert: unknown backend %d", (int)ctx->backend);
}
