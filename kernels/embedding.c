/* Dispatch of the embedding lookup (kernels/ic_embedding.h). */
#include "kernels/ic_embedding.h"

#include "ic_check.h"
#include "kernels/ic_cuda_ops.h"

void ic_embedding_forward(ic_ctx *ctx, float *out, const int32_t *tokens, const float *table,
                          int L, int D, int V) {
    IC_ASSERT(out && tokens && table && L >= 0 && D > 0 && V > 0);
    ic_ctx_count_op(ctx);
    switch (ctx->backend) {
    case IC_BACKEND_CPU: ic_embedding_forward_cpu(ctx, out, tokens, table, L, D, V); return;
    case IC_BACKEND_CUDA:
        ic_embedding_forward_cuda(ctx, IC_F32, out, tokens, table, L, D, V);
        return;
    }
    IC_FATAL("embedding: unknown backend %d", (int)ctx->backend);
}
