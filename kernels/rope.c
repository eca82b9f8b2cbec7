/* Dispatch of RoPE (kernels/ic_rope.h). */
#include "kernels/ic_rope.h"

#include "ic_check.h"
#include "kernels/ic_cuda_ops.h"

static void check_args(const void *x, int L, int n_heads, int head_dim, int rot_dim, int pos0,
                       float theta) {
    IC_ASSERT(x != NULL && L >= 0 && n_heads > 0 && head_dim > 0);
    IC_ASSERT(rot_dim > 0 && rot_dim % 2 == 0 && rot_dim <= head_dim);
    IC_ASSERT(pos0 >= 0 && theta > 0.0f);
}

size_t ic_rope_workspace_bytes(const ic_ctx *ctx, int rot_dim) {
    IC_ASSERT(rot_dim >= 0);
    return ctx->backend == IC_BACKEND_CPU ? ic_rope_workspace_bytes_cpu(ctx, rot_dim) : 0;
}

void ic_rope_forward(ic_ctx *ctx, float *x, int L, int n_heads, int head_dim, int rot_dim,
                     int pos0, float theta) {
    ic_rope_forward_dt(ctx, IC_F32, x, L, n_heads, head_dim, rot_dim, pos0, theta);
}

void ic_rope_forward_dt(ic_ctx *ctx, ic_dtype dt, void *x, int L, int n_heads, int head_dim,
                        int rot_dim, int pos0, float theta) {
    check_args(x, L, n_heads, head_dim, rot_dim, pos0, theta);
    ic_ctx_count_op(ctx);
    switch (ctx->backend) {
    case IC_BACKEND_CPU:
        IC_ASSERT(dt == IC_F32);   /* the CPU reference is fp32 */
        ic_rope_forward_cpu(ctx, x, L, n_heads, head_dim, rot_dim, pos0, theta);
        return;
    case IC_BACKEND_CUDA:
        ic_rope_forward_cuda(ctx, dt, x, L, n_heads, head_dim, rot_dim, pos0, theta);
        return;
    }
    IC_FATAL("rope: unknown backend %d", (int)ctx->backend);
}

void ic_rope_forward_windows_dt(ic_ctx *ctx, ic_dtype dt, void *x, int B, int L, int n_heads,
                                int head_dim, int rot_dim, int pos0, float theta) {
    check_args(x, L, n_heads, head_dim, rot_dim, pos0, theta);
    IC_ASSERT(B >= 0);
    ic_ctx_count_op(ctx);
    switch (ctx->backend) {
    case IC_BACKEND_CPU: {
        IC_ASSERT(dt == IC_F32);   /* the CPU reference is fp32: one call per window */
        const size_t win = (size_t)L * n_heads * head_dim;
        for (int b = 0; b < B; b++)
            ic_rope_forward_cpu(ctx, (float *)x + (size_t)b * win, L, n_heads, head_dim, rot_dim,
                                pos0, theta);
        return;
    }
    case IC_BACKEND_CUDA:
        ic_rope_forward_windows_cuda(ctx, dt, x, B, L, n_heads, head_dim, rot_dim, pos0, theta);
        return;
    }
    IC_FATAL("rope (windows): unknown backend %d", (int)ctx->backend);
}

void ic_rope_backward(ic_ctx *ctx, float *dx, int L, int n_heads, int head_dim, int rot_dim,
                      int pos0, float theta) {
    check_args(dx, L, n_heads, head_dim, rot_dim, pos0, theta);
    ic_ctx_count_op(ctx);
    switch (ctx->backend) {
    case IC_BACKEND_CPU:
        ic_rope_backward_cpu(ctx, dx, L, n_heads, head_dim, rot_dim, pos0, theta);
        return;
    case IC_BACKEND_CUDA:
        ic_rope_backward_cuda(ctx, IC_F32, dx, L, n_heads, head_dim, rot_dim, pos0, theta);
        return;
    }
    IC_FATAL("rope backward: unknown backend %d", (int)ctx->backend);
}
