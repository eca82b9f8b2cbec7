/* Dispatch of the embedding lookup (kernels/ic_embedding.h). */
#include "kernels/ic_embedding.h"

#include "ic_check.h"
#include "kernels/ic_cuda_ops.h"

void ic_embedding_forward(ic_ctx *ctx, float *out, const int32_t *tokens, const float *table,
                          int L, int D, int V) {
    ic_embedding_forward_dt(ctx, IC_F32, out, tokens, table, L, D, V);
}

void ic_embedding_forward_dt(ic_ctx *ctx, ic_dtype dt, void *out, const int32_t *tokens,
                             const void *table, int L, int D, int V) {
    IC_ASSERT(out && tokens && table && L >= 0 && D > 0 && V > 0);
    ic_ctx_count_op(ctx);
    switch (ctx->backend) {
    case IC_BACKEND_CPU:
        IC_ASSERT(dt == IC_F32);   /* the CPU reference is fp32 */
        ic_embedding_forward_cpu(ctx, out, tokens, table, L, D, V);
        return;
    case IC_BACKEND_CUDA:
        ic_embedding_forward_cuda(ctx, dt, out, tokens, table, L, D, V);
        return;
    }
    IC_FATAL("embedding: unknown backend %d", (int)ctx->backend);
}
