/* Dispatch of the linear layer (kernels/ic_matmul.h). On CUDA the
 * dispatcher takes cuBLASLt's workspace from ctx->ws (the caller reserved
 * ic_matmul_workspace_bytes) and hands it down; the public op is fp32. */
#include "kernels/ic_matmul.h"

#include "ic_check.h"
#include "kernels/ic_cuda_ops.h"

#define IC_MATMUL_CUDA_WS ((size_t)32 << 20)

size_t ic_matmul_workspace_bytes(const ic_ctx *ctx) {
    return ctx->backend == IC_BACKEND_CUDA ? ic_ws_round(IC_MATMUL_CUDA_WS) : 0;
}

size_t ic_matmul_accumulate_workspace_bytes(const ic_ctx *ctx, int M, int N) {
    IC_ASSERT(M >= 0 && N >= 0);
    if (ctx->backend == IC_BACKEND_CUDA) return ic_matmul_workspace_bytes(ctx);
    return ic_ws_round(sizeof(float) * (size_t)M * (size_t)N);
}

static void forward(ic_ctx *ctx, ic_dtype dt, void *out, const void *x, const void *w,
                    const void *bias, int M, int N, int K, int accumulate) {
    IC_ASSERT(out && x && w && M >= 0 && N > 0 && K > 0);
    ic_ctx_count_op(ctx);
    switch (ctx->backend) {
    case IC_BACKEND_CPU:
        IC_ASSERT(dt == IC_F32);   /* the CPU reference is fp32 */
        if (accumulate) ic_matmul_forward_accumulate_cpu(ctx, out, x, w, bias, M, N, K);
        else ic_matmul_forward_cpu(ctx, out, x, w, bias, M, N, K);
        return;
    case IC_BACKEND_CUDA: {
        const size_t mark = ic_ws_mark(ctx), wsb = ic_matmul_workspace_bytes(ctx);
        void *ws = ic_ws_alloc(ctx, wsb, "ic_matmul_forward");
        if (accumulate)
            ic_matmul_forward_accumulate_cuda(ctx, dt, out, x, w, bias, M, N, K, ws, wsb);
        else
            ic_matmul_forward_cuda(ctx, dt, out, x, w, bias, M, N, K, ws, wsb);
        ic_ws_release(ctx, mark);  /* stream order keeps the scratch safe for the next op */
        return;
    }
    }
    IC_FATAL("matmul: unknown backend %d", (int)ctx->backend);
}

void ic_matmul_forward(ic_ctx *ctx, float *out, const float *x, const float *w,
                       const float *bias, int M, int N, int K) {
    forward(ctx, IC_F32, out, x, w, bias, M, N, K, 0);
}

void ic_matmul_forward_dt(ic_ctx *ctx, ic_dtype dt, void *out, const void *x, const void *w,
                          const void *bias, int M, int N, int K) {
    forward(ctx, dt, out, x, w, bias, M, N, K, 0);
}

void ic_matmul_forward_accumulate_dt(ic_ctx *ctx, ic_dtype dt, void *out, const void *x,
                                     const void *w, const void *bias, int M, int N, int K) {
    forward(ctx, dt, out, x, w, bias, M, N, K, 1);
}

void ic_matmul_forward_accumulate(ic_ctx *ctx, float *out, const float *x, const float *w,
                                  const float *bias, int M, int N, int K) {
    forward(ctx, IC_F32, out, x, w, bias, M, N, K, 1);
}

void ic_matmul_backward(ic_ctx *ctx, float *dx, float *dw, float *dbias, const float *dout,
                        const float *x, const float *w, int M, int N, int K) {
    IC_ASSERT(dout && M >= 0 && N > 0 && K > 0);
    IC_ASSERT(!dx || w != NULL);
    IC_ASSERT(!dw || x != NULL);
    ic_ctx_count_op(ctx);
    switch (ctx->backend) {
    case IC_BACKEND_CPU: ic_matmul_backward_cpu(ctx, dx, dw, dbias, dout, x, w, M, N, K); return;
    case IC_BACKEND_CUDA: {
        const size_t mark = ic_ws_mark(ctx), wsb = ic_matmul_workspace_bytes(ctx);
        void *ws = ic_ws_alloc(ctx, wsb, "ic_matmul_backward");
        ic_matmul_backward_cuda(ctx, IC_F32, dx, dw, dbias, dout, x, w, M, N, K, ws, wsb);
        ic_ws_release(ctx, mark);
        return;
    }
    }
    IC_FATAL("matmul backward: unknown backend %d", (int)ctx->backend);
}
