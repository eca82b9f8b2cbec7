/* Dispatch of the validation ops (kernels/ic_validate.h). */
#include "kernels/ic_validate.h"

#include "ic_check.h"
#include "kernels/ic_cuda_ops.h"

size_t ic_index_sets_check_workspace_bytes(const ic_ctx *ctx, int L) {
    IC_ASSERT(L >= 0);
    return ctx->backend == IC_BACKEND_CPU ? ic_index_sets_check_workspace_bytes_cpu(ctx, L)
                                          : ic_validate_workspace_bytes_cuda(ctx);
}

int ic_index_sets_check(ic_ctx *ctx, const int32_t *idx, const int32_t *cnt, int L, int K,
                        ic_error *err) {
    IC_ASSERT(L >= 0 && K >= 1 && (L == 0 || (idx && cnt)));
    ic_ctx_count_op(ctx);
    switch (ctx->backend) {
    case IC_BACKEND_CPU: return ic_index_sets_check_cpu(ctx, idx, cnt, L, K, err);
    case IC_BACKEND_CUDA: return ic_index_sets_check_cuda(ctx, idx, cnt, L, K, err);
    }
    IC_FATAL("index sets check: unknown backend %d", (int)ctx->backend);
}

int ic_tokens_check_host(const int32_t *tokens, int L, int V, ic_error *err) {
    IC_ASSERT(L >= 0 && V > 0 && (L == 0 || tokens));
    return ic_tokens_check_cpu(NULL, tokens, L, V, err);
}

size_t ic_tokens_check_workspace_bytes(const ic_ctx *ctx, int L) {
    IC_ASSERT(L >= 0);
    return ctx->backend == IC_BACKEND_CPU ? 0 : ic_validate_workspace_bytes_cuda(ctx);
}

int ic_tokens_check(ic_ctx *ctx, const int32_t *tokens, int L, int V, ic_error *err) {
    IC_ASSERT(L >= 0 && V > 0 && (L == 0 || tokens));
    ic_ctx_count_op(ctx);
    switch (ctx->backend) {
    case IC_BACKEND_CPU: return ic_tokens_check_cpu(ctx, tokens, L, V, err);
    case IC_BACKEND_CUDA: return ic_tokens_check_cuda(ctx, tokens, L, V, err);
    }
    IC_FATAL("tokens check: unknown backend %d", (int)ctx->backend);
}
