/* Dispatch of RMSNorm (kernels/ic_rmsnorm.h). */
#include "kernels/ic_rmsnorm.h"

#include "ic_check.h"
#include "kernels/ic_cuda_ops.h"

void ic_rmsnorm_forward(ic_ctx *ctx, float *out, const float *x, const float *w, int L, int D,
                        float eps) {
    ic_rmsnorm_forward_dt(ctx, IC_F32, out, x, w, L, D, eps);
}

void ic_rmsnorm_forward_dt(ic_ctx *ctx, ic_dtype dt, void *out, const void *x, const void *w,
                           int L, int D, float eps) {
    IC_ASSERT(out && x && w && L >= 0 && D > 0);
    ic_ctx_count_op(ctx);
    switch (ctx->backend) {
    case IC_BACKEND_CPU:
        IC_ASSERT(dt == IC_F32);   /* the CPU reference is fp32 */
        ic_rmsnorm_forward_cpu(ctx, out, x, w, L, D, eps);
        return;
    case IC_BACKEND_CUDA: ic_rmsnorm_forward_cuda(ctx, dt, out, x, w, L, D, eps); return;
    }
    IC_FATAL("rmsnorm: unknown backend %d", (int)ctx->backend);
}
