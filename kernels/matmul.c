/* Dispatch of the linear layer (kernels/ic_matmul.h). */
#include "kernels/ic_matmul.h"

#include "ic_check.h"

void ic_matmul_forward(ic_ctx *ctx, float *out, const float *x, const float *w,
                       const float *bias, int M, int N, int K) {
    IC_ASSERT(out && x && w && M >= 0 && N > 0 && K > 0);
    ic_ctx_count_op(ctx);
    switch (ctx->backend) {
    case IC_BACKEND_CPU: ic_matmul_forward_cpu(ctx, out, x, w, bias, M, N, K); return;
    case IC_BACKEND_CUDA: IC_FATAL("matmul: no CUDA kernel yet");
    }
    IC_FATAL("matmul: unknown backend %d", (int)ctx->backend);
}

void ic_matmul_backward(ic_ctx *ctx, float *dx, float *dw, float *dbias, const float *dout,
                        const float *x, const float *w, int M, int N, int K) {
    IC_ASSERT(dout && M >= 0 && N > 0 && K > 0);
    IC_ASSERT(!dx || w != NULL);
    IC_ASSERT(!dw || x != NULL);
    ic_ctx_count_op(ctx);
    switch (ctx->backend) {
    case IC_BACKEND_CPU: ic_matmul_backward_cpu(ctx, dx, dw, dbias, dout, x, w, M, N, K); return;
    case IC_BACKEND_CUDA: IC_FATAL("matmul backward: no CUDA kernel yet");
    }
    IC_FATAL("matmul backward: unknown backend %d", (int)ctx->backend);
}
