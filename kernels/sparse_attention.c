/* Dispatch of sparse attention (kernels/ic_sparse_attention.h). */
#include "kernels/ic_sparse_attention.h"

#include "ic_check.h"
#include "kernels/ic_cuda_ops.h"

size_t ic_sparse_attention_workspace_bytes(const ic_ctx *ctx, int H, int Hkv, int d, int K) {
    IC_ASSERT(H > 0 && Hkv > 0 && H % Hkv == 0 && d > 0 && K >= 1);
    switch (ctx->backend) {
    case IC_BACKEND_CPU: return ic_sparse_attention_workspace_bytes_cpu(ctx, H, Hkv, d, K);
    case IC_BACKEND_CUDA: return ic_sparse_attention_workspace_bytes_cuda(ctx, H, Hkv, d, K);
    }
    return 0;
}

void ic_sparse_attention_forward(ic_ctx *ctx, float *out, float *lse, const float *q,
                                 const float *k, const float *v, int L, int H, int Hkv, int d,
                                 const int32_t *idx, const int32_t *cnt, int K) {
    ic_sparse_attention_forward_dt(ctx, IC_F32, out, lse, q, k, v, L, H, Hkv, d, idx, cnt, K);
}

void ic_sparse_attention_forward_dt(ic_ctx *ctx, ic_dtype dt, void *out, float *lse,
                                    const void *q, const void *k, const void *v, int L, int H,
                                    int Hkv, int d, const int32_t *idx, const int32_t *cnt,
                                    int K) {
    IC_ASSERT(out != NULL && q != NULL && k != NULL && v != NULL);
    IC_ASSERT(idx != NULL && cnt != NULL);
    IC_ASSERT(L >= 0 && H > 0 && Hkv > 0 && H % Hkv == 0 && d > 0 && K >= 1);
    ic_ctx_count_op(ctx);
    switch (ctx->backend) {
    case IC_BACKEND_CPU:
        IC_ASSERT(dt == IC_F32);   /* the CPU reference is fp32 */
        ic_sparse_attention_forward_cpu(ctx, out, lse, q, k, v, L, H, Hkv, d, idx, cnt, K);
        return;
    case IC_BACKEND_CUDA:
        if (!ic_sparse_attention_cuda_supports(dt, H, Hkv, d))
            IC_FATAL("sparse attention: the CUDA kernel does not take dtype %s, H %d, Hkv %d, "
                     "d %d (it needs fp32 or bf16 storage, H / Hkv <= 24 and d <= %d)",
                     ic_dtype_name(dt), H, Hkv, d, dt == IC_BF16 ? 256 : 128);
        ic_sparse_attention_forward_cuda(ctx, dt, out, lse, q, k, v, L, H, Hkv, d, idx, cnt, K);
        return;
    }
    IC_FATAL("sparse attention: unknown backend %d", (int)ctx->backend);
}
