/* Dispatch of causal attention (kernels/ic_attention.h). */
#include "kernels/ic_attention.h"

#include "ic_check.h"
#include "kernels/ic_cuda_ops.h"

size_t ic_attention_workspace_bytes(const ic_ctx *ctx, int L, int H, int Hkv, int d) {
    IC_ASSERT(Hkv > 0 && H >= Hkv && H % Hkv == 0 && L >= 0 && d > 0);
    if (ctx->backend == IC_BACKEND_CUDA)  /* builds and caches the shape's cuDNN graph */
        return ic_attention_workspace_bytes_cuda((ic_ctx *)ctx, IC_F32, L, H, Hkv, d);
    return ic_attention_workspace_bytes_cpu(ctx, L, H, Hkv, d);
}

void ic_attention_forward(ic_ctx *ctx, float *out, float *lse, const float *q, const float *k,
                          const float *v, int L, int H, int Hkv, int d) {
    ic_attention_forward_dt(ctx, IC_F32, out, lse, q, k, v, L, H, Hkv, d);
}

void ic_attention_forward_dt(ic_ctx *ctx, ic_dtype dt, void *out, float *lse, const void *q,
                             const void *k, const void *v, int L, int H, int Hkv, int d) {
    IC_ASSERT(out && q && k && v && L >= 0 && d > 0);
    IC_ASSERT(Hkv > 0 && H >= Hkv && H % Hkv == 0);
    ic_ctx_count_op(ctx);
    switch (ctx->backend) {
    case IC_BACKEND_CPU:
        IC_ASSERT(dt == IC_F32);   /* the CPU reference is fp32 */
        ic_attention_forward_cpu(ctx, out, lse, q, k, v, L, H, Hkv, d);
        return;
    case IC_BACKEND_CUDA:  /* cuDNN SDPA; fp32 rounds through bf16 (kernels/ic_cuda_ops.h) */
        ic_attention_forward_cuda(ctx, dt, out, lse, q, k, v, L, H, Hkv, d);
        return;
    }
    IC_FATAL("attention: unknown backend %d", (int)ctx->backend);
}

size_t ic_attention_batch_workspace_bytes(const ic_ctx *ctx, int B, int L, int H, int Hkv, int d) {
    IC_ASSERT(Hkv > 0 && H >= Hkv && H % Hkv == 0 && L >= 0 && d > 0 && B >= 0);
    if (ctx->backend == IC_BACKEND_CUDA)  /* builds and caches the shape's cuDNN graph */
        return ic_attention_batch_workspace_bytes_cuda((ic_ctx *)ctx, IC_F32, B, L, H, Hkv, d);
    return ic_attention_workspace_bytes_cpu(ctx, L, H, Hkv, d);   /* one window at a time */
}

void ic_attention_forward_batch_dt(ic_ctx *ctx, ic_dtype dt, void *out, float *lse,
                                   const void *q, const void *k, const void *v, int B, int L,
                                   int H, int Hkv, int d) {
    IC_ASSERT(out && q && k && v && L >= 0 && d > 0 && B >= 0);
    IC_ASSERT(Hkv > 0 && H >= Hkv && H % Hkv == 0);
    ic_ctx_count_op(ctx);
    switch (ctx->backend) {
    case IC_BACKEND_CPU: {
        IC_ASSERT(dt == IC_F32);   /* the CPU reference is fp32 */
        const size_t nq = (size_t)L * H * d, nkv = (size_t)L * Hkv * d, nl = (size_t)H * L;
        for (int b = 0; b < B; b++)
            ic_attention_forward_cpu(ctx, (float *)out + b * nq, lse ? lse + b * nl : NULL,
                                     (const float *)q + b * nq, (const float *)k + b * nkv,
                                     (const float *)v + b * nkv, L, H, Hkv, d);
        return;
    }
    case IC_BACKEND_CUDA:
        ic_attention_forward_batch_cuda(ctx, dt, out, lse, q, k, v, B, L, H, Hkv, d);
        return;
    }
    IC_FATAL("attention (batch): unknown backend %d", (int)ctx->backend);
}

size_t ic_attention_decode_workspace_bytes(const ic_ctx *ctx, int T, int H, int d) {
    IC_ASSERT(T >= 0 && H > 0 && d > 0);
    switch (ctx->backend) {
    case IC_BACKEND_CPU: return ic_attention_decode_workspace_bytes_cpu(ctx, T);
    case IC_BACKEND_CUDA: return ic_attention_decode_workspace_bytes_cuda(ctx, T, H, d);
    }
    return 0;
}

void ic_attention_decode_forward(ic_ctx *ctx, float *out, float *lse, const float *q,
                                 const float *k_cache, const float *v_cache,
                                 int T, int H, int Hkv, int d) {
    ic_attention_decode_forward_dt(ctx, IC_F32, out, lse, q, k_cache, v_cache, T, H, Hkv, d);
}

void ic_attention_decode_forward_dt(ic_ctx *ctx, ic_dtype dt, void *out, float *lse,
                                    const void *q, const void *k_cache, const void *v_cache,
                                    int T, int H, int Hkv, int d) {
    IC_ASSERT(out && q && k_cache && v_cache && T > 0 && d > 0);
    IC_ASSERT(Hkv > 0 && H >= Hkv && H % Hkv == 0);
    ic_ctx_count_op(ctx);
    switch (ctx->backend) {
    case IC_BACKEND_CPU:
        IC_ASSERT(dt == IC_F32);   /* the CPU reference is fp32 */
        ic_attention_decode_forward_cpu(ctx, out, lse, q, k_cache, v_cache, T, H, Hkv, d);
        return;
    case IC_BACKEND_CUDA:
        ic_attention_decode_forward_cuda(ctx, dt, out, lse, q, k_cache, v_cache, T, H, Hkv, d);
        return;
    }
    IC_FATAL("attention decode: unknown backend %d", (int)ctx->backend);
}
