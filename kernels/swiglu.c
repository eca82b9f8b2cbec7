/* Dispatch of SwiGLU (kernels/ic_swiglu.h). */
#include "kernels/ic_swiglu.h"

#include "ic_check.h"
#include "kernels/ic_cuda_ops.h"

void ic_swiglu_forward(ic_ctx *ctx, float *out, const float *gate, const float *up, size_t n) {
    ic_swiglu_forward_dt(ctx, IC_F32, out, gate, up, n);
}

void ic_swiglu_forward_dt(ic_ctx *ctx, ic_dtype dt, void *out, const void *gate, const void *up,
                          size_t n) {
    IC_ASSERT(out && gate && up);
    ic_ctx_count_op(ctx);
    switch (ctx->backend) {
    case IC_BACKEND_CPU:
        IC_ASSERT(dt == IC_F32);   /* the CPU reference is fp32 */
        ic_swiglu_forward_cpu(ctx, out, gate, up, n);
        return;
    case IC_BACKEND_CUDA: ic_swiglu_forward_cuda(ctx, dt, out, gate, up, n); return;
    }
    IC_FATAL("swiglu: unknown backend %d", (int)ctx->backend);
}
