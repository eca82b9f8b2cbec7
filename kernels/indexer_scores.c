/* Dispatch of the indexer scores (kernels/ic_indexer_scores.h), and the
 * streaming driver, which only sequences ops and so is the same for every
 * backend. */
#include "kernels/ic_indexer_scores.h"

#include "kernels/ic_cuda_ops.h"

#include "ic_check.h"

static void check_args(int ld, const float *qI, const float *kI, const float *w,
                       int L, int H_I, int d_I, int t0, int t1) {
    IC_ASSERT(qI != NULL && kI != NULL && w != NULL);
    IC_ASSERT(L > 0 && H_I > 0 && d_I > 0);
    IC_ASSERT(0 <= t0 && t0 <= t1 && t1 <= L && ld >= t1);
}

size_t ic_indexer_scores_workspace_bytes(const ic_ctx *ctx, int L, int H_I, int d_I) {
    IC_ASSERT(L >= 0 && H_I > 0 && d_I > 0);
    /* CUDA: the backward's dkI partials; the forward needs none */
    return ctx->backend == IC_BACKEND_CPU
         ? ic_indexer_scores_workspace_bytes_cpu(ctx, L, H_I, d_I)
         : ic_indexer_scores_workspace_bytes_cuda(ctx, L, H_I, d_I);
}

void ic_indexer_scores_forward(ic_ctx *ctx, float *out, int ld, const float *qI, const float *kI,
                               const float *w, int L, int H_I, int d_I, int t0, int t1) {
    check_args(ld, qI, kI, w, L, H_I, d_I, t0, t1);
    IC_ASSERT(out != NULL);
    ic_ctx_count_op(ctx);
    switch (ctx->backend) {
    case IC_BACKEND_CPU:
        ic_indexer_scores_forward_cpu(ctx, out, ld, qI, kI, w, L, H_I, d_I, t0, t1);
        return;
    case IC_BACKEND_CUDA:  /* bf16 tensor cores: the fp32 inputs are rounded to bf16 */
        ic_indexer_scores_forward_cuda(ctx, IC_F32, out, ld, qI, kI, w, L, H_I, d_I, t0, t1);
        return;
    }
    IC_FATAL("indexer scores: unknown backend %d", (int)ctx->backend);
}

void ic_indexer_scores_backward(ic_ctx *ctx, float *dqI, float *dkI, float *dw, const float *dI,
                                int ld, const float *qI, const float *kI, const float *w,
                                int L, int H_I, int d_I, int t0, int t1) {
    check_args(ld, qI, kI, w, L, H_I, d_I, t0, t1);
    IC_ASSERT(dI != NULL);
    ic_ctx_count_op(ctx);
    switch (ctx->backend) {
    case IC_BACKEND_CPU:
        ic_indexer_scores_backward_cpu(ctx, dqI, dkI, dw, dI, ld, qI, kI, w, L, H_I, d_I, t0, t1);
        return;
    case IC_BACKEND_CUDA:  /* bf16 tensor cores, deterministic */
        if (d_I != 64 && d_I != 128)
            IC_FATAL("indexer scores backward: d_I = %d is not supported on CUDA (64 or 128)",
                     d_I);
        ic_indexer_scores_backward_cuda(ctx, dqI, dkI, dw, dI, ld, qI, kI, w, L, H_I, d_I, t0, t1);
        return;
    }
    IC_FATAL("indexer scores backward: unknown backend %d", (int)ctx->backend);
}

int ic_indexer_scores_block_rows(int L) {
    IC_ASSERT(L > 0);
    long rows = (8L << 20) / ((long)sizeof(float) * L);
    if (rows < 16) rows = 16;
    if (rows > L) rows = L;
    return (int)rows;
}

size_t ic_indexer_scores_foreach_workspace_bytes(const ic_ctx *ctx, int L, int H_I, int d_I,
                                                 int block_rows) {
    IC_ASSERT(L > 0 && H_I > 0 && d_I > 0 && block_rows > 0);
    if (ctx->backend == IC_BACKEND_CPU)
        return ic_indexer_scores_foreach_workspace_bytes_cpu(ctx, L, H_I, d_I, block_rows);
    const int br = block_rows < L ? block_rows : L;
    return ic_ws_round(sizeof(float) * (size_t)br * L);
}

int ic_indexer_scores_foreach(ic_ctx *ctx, const float *qI, const float *kI, const float *w,
                              int L, int H_I, int d_I, int block_rows,
                              ic_indexer_scores_block_fn fn, void *user) {
    IC_ASSERT(fn != NULL && L > 0 && block_rows > 0);
    const int br = block_rows < L ? block_rows : L;
    const size_t mark = ic_ws_mark(ctx);
    float *blk = ic_ws_alloc(ctx, sizeof(float) * (size_t)br * L, "indexer scores foreach");
    for (int t0 = 0; t0 < L; t0 += br) {
        const int t1 = t0 + br < L ? t0 + br : L;
        ic_indexer_scores_forward(ctx, blk, t1, qI, kI, w, L, H_I, d_I, t0, t1);
        fn(user, blk, t1, t0, t1);
    }
    ic_ws_release(ctx, mark);
    return 0;
}
