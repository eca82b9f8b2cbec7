/* Dispatch of RMSNorm (kernels/ic_rmsnorm.h). */
#include "kernels/ic_rmsnorm.h"

#include "ic_check.h"
#include "kernels/ic_cuda_ops.h"

void ic_rmsnorm_forward(ic_ctx *ctx, float *out, const float *x, const float *w, int L, int D,
                        float eps) {
    IC_ASSERT(out && x && w && L >= 0 && D > 0);
    ic_ctx_count_op(ctx);
    switch (ctx->backend) {
    case IC_BACKEND_CPU: ic_rmsnorm_forward_cpu(ctx, out, x, w, L, D, eps); return;
    case IC_BACKEND_CUDA: ic_rmsnorm_forward_cuda(ctx, IC_F32, out, x, w, L, D, eps); return;
    }
    IC_FATAL("rmsnorm: unknown backend %d", (int)ctx->backend);
}
