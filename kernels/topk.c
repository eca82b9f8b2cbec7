/* Dispatch of the per-row top-k (kernels/ic_topk.h). */
#include "kernels/ic_topk.h"

#include "ic_check.h"
#include "kernels/ic_cuda_ops.h"

size_t ic_topk_workspace_bytes(const ic_ctx *ctx, int L) {
    IC_ASSERT(L >= 0);
    return ctx->backend == IC_BACKEND_CPU ? ic_topk_workspace_bytes_cpu(ctx, L) : 0;
}

void ic_topk_forward(ic_ctx *ctx, int32_t *idx, int32_t *cnt, const float *S, int ld,
                     int t0, int t1, int K) {
    IC_ASSERT(idx != NULL && cnt != NULL && S != NULL);
    IC_ASSERT(K >= 1 && 0 <= t0 && t0 <= t1 && ld >= t1);
    ic_ctx_count_op(ctx);
    switch (ctx->backend) {
    case IC_BACKEND_CPU: ic_topk_forward_cpu(ctx, idx, cnt, S, ld, t0, t1, K); return;
    case IC_BACKEND_CUDA: ic_topk_forward_cuda(ctx, idx, cnt, S, ld, t0, t1, K); return;
    }
    IC_FATAL("top-k: unknown backend %d", (int)ctx->backend);
}
