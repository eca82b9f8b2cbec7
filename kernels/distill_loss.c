/* Dispatch of the distillation loss (kernels/ic_distill_loss.h). */
#include "kernels/ic_distill_loss.h"

#include "kernels/ic_cuda_ops.h"

#include <stdio.h>

#include "ic_check.h"

static void check_args(const ic_distill_desc *d, const float *qI, const float *kI,
                       const float *w, const ic_distill_teacher *served, int n_served) {
    IC_ASSERT(d && qI && kI && w && served);
    IC_ASSERT(d->L >= 1 && d->n_idx_heads >= 1 && d->idx_head_dim >= 1);
    IC_ASSERT(d->n_heads >= 1 && d->n_kv_heads >= 1 && d->head_dim >= 1);
    IC_ASSERT(d->n_heads % d->n_kv_heads == 0);
    IC_ASSERT(n_served >= 1);
    IC_ASSERT(d->row_block >= 0 && d->key_block >= 0);
    IC_ASSERT(d->stage == IC_DISTILL_DENSE || d->stage == IC_DISTILL_SPARSE);
    for (int j = 0; j < n_served; j++) {
        IC_ASSERT(served[j].q && served[j].k);
        if (d->stage == IC_DISTILL_DENSE) IC_ASSERT(served[j].lse);
    }
    /* the index sets' contents are the caller's to check (ic_index_sets_check) */
    if (d->stage == IC_DISTILL_SPARSE) IC_ASSERT(d->idx && d->cnt && d->topk >= 1);
}

size_t ic_distill_loss_workspace_bytes(const ic_ctx *ctx, const ic_distill_desc *desc) {
    IC_ASSERT(desc && desc->L >= 1 && desc->n_kv_heads >= 1);
    if (ctx->backend == IC_BACKEND_CPU) return ic_distill_loss_workspace_bytes_cpu(ctx, desc);
    return desc->stage == IC_DISTILL_DENSE
               ? ic_distill_loss_dense_workspace_bytes_cuda(ctx, desc)
               : ic_distill_loss_sparse_workspace_bytes_cuda(ctx, desc);
}

const char *ic_distill_cuda_unsupported(const ic_distill_desc *d, int n_served_max) {
    static _Thread_local char why[200];
    IC_ASSERT(d);
    if (n_served_max < 1 || n_served_max > IC_DISTILL_CUDA_MAX_SERVED) {
        snprintf(why, sizeof why, "a group of %d served layers (the CUDA loss kernels take "
                 "1..%d)", n_served_max, IC_DISTILL_CUDA_MAX_SERVED);
        return why;
    }
    if (d->stage == IC_DISTILL_DENSE) {   /* kernels/cuda/distill_loss_dense.cu */
        if (d->idx_head_dim != 64 && d->idx_head_dim != 128) {
            snprintf(why, sizeof why, "indexer head dim d_I = %d (the CUDA dense-stage loss "
                     "kernels take 64 or 128)", d->idx_head_dim);
            return why;
        }
        if (d->head_dim != 64 && d->head_dim != 128) {
            snprintf(why, sizeof why, "teacher head dim d = %d (the CUDA dense-stage loss "
                     "kernels take 64 or 128)", d->head_dim);
            return why;
        }
        return NULL;
    }
    /* kernels/cuda/distill_loss_sparse.cu */
    if (d->n_idx_heads > IC_DISTILL_CUDA_SPARSE_MAX_HI) {
        snprintf(why, sizeof why, "%d indexer heads (the CUDA sparse-stage loss takes at most "
                 "%d)", d->n_idx_heads, IC_DISTILL_CUDA_SPARSE_MAX_HI);
        return why;
    }
    if (d->topk < 1 || d->topk > IC_DISTILL_CUDA_SPARSE_MAX_K) {
        snprintf(why, sizeof why, "top-k %d (the CUDA sparse-stage loss takes 1..%d)", d->topk,
                 IC_DISTILL_CUDA_SPARSE_MAX_K);
        return why;
    }
    if (d->idx_head_dim % 4 || d->head_dim % 4) {
        snprintf(why, sizeof why, "d_I = %d, d = %d (the CUDA sparse-stage loss takes "
                 "multiples of 4)", d->idx_head_dim, d->head_dim);
        return why;
    }
    return NULL;
}

/* Anything the CUDA kernels do not take is refused here with the shape
 * named, before any launch (callers that choose the backend ask
 * ic_distill_cuda_unsupported first and never get here with one). */
static void check_cuda(const ic_distill_desc *d, int n_served, const char *what) {
    const char *why = ic_distill_cuda_unsupported(d, n_served);
    if (why) IC_FATAL("%s: not supported on CUDA: %s", what, why);
}

int ic_distill_loss_forward(ic_ctx *ctx, const ic_distill_desc *desc, const float *qI,
                            const float *kI, const float *w, const ic_distill_teacher *served,
                            int n_served, ic_distill_stats *out, ic_error *err) {
    check_args(desc, qI, kI, w, served, n_served);
    IC_ASSERT(out);
    ic_ctx_count_op(ctx);
    switch (ctx->backend) {
    case IC_BACKEND_CPU:
        return ic_distill_loss_forward_cpu(ctx, desc, qI, kI, w, served, n_served, out, err);
    case IC_BACKEND_CUDA:
        check_cuda(desc, n_served, "distill loss");
        if (desc->stage == IC_DISTILL_SPARSE)
            return ic_distill_loss_sparse_forward_cuda(ctx, desc, qI, kI, w, served, n_served,
                                                       out, err);
        return ic_distill_loss_dense_forward_cuda(ctx, desc, qI, kI, w, served, n_served, out,
                                                  err);
    }
    IC_FATAL("distill loss: unknown backend %d", (int)ctx->backend);
}

int ic_distill_loss_backward(ic_ctx *ctx, const ic_distill_desc *desc, const float *qI,
                             const float *kI, const float *w, const ic_distill_teacher *served,
                             int n_served, float *dqI, float *dkI, float *dw,
                             ic_distill_stats *out, ic_error *err) {
    check_args(desc, qI, kI, w, served, n_served);
    IC_ASSERT(out);
    ic_ctx_count_op(ctx);
    switch (ctx->backend) {
    case IC_BACKEND_CPU:
        return ic_distill_loss_backward_cpu(ctx, desc, qI, kI, w, served, n_served,
                                            dqI, dkI, dw, out, err);
    case IC_BACKEND_CUDA:
        check_cuda(desc, n_served, "distill loss backward");
        if (desc->stage == IC_DISTILL_SPARSE)
            return ic_distill_loss_sparse_backward_cuda(ctx, desc, qI, kI, w, served, n_served,
                                                        dqI, dkI, dw, out, err);
        return ic_distill_loss_dense_backward_cuda(ctx, desc, qI, kI, w, served, n_served,
                                                   dqI, dkI, dw, out, err);
    }
    IC_FATAL("distill loss backward: unknown backend %d", (int)ctx->backend);
}
