/* The per-window part of the distillation trainer (see ic_trainer.h). */
#include "train/ic_trainer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ic_check.h"
#include "kernels/ic_ctx.h"
#include "kernels/ic_elementwise.h"
#include "kernels/ic_validate.h"
#include "model/ic_pattern.h"

static void *xcalloc(size_t n, size_t sz) { return calloc(n ? n : 1, sz); }

/* Which tensors the loss reads: x_norm at F layers, q/k(/lse) at the layers
 * an F layer serves (all of G(l) for multi, l alone for single). */
static void needs(const ic_trainer *t, int l, int *want_x, int *want_qk) {
    const int f = ic_pattern_source(&t->pat, l);
    *want_x = ic_pattern_is_full(&t->pat, l);
    *want_qk = t->single ? *want_x : f >= 0;
}

/* The workspace of the loss (either stage's shape at L_max) and of the
 * index-set check. */
/* The loss calls' desc as the workspace query sees it: the largest group. */
static ic_distill_desc loss_desc(const ic_dsa_model *m, ic_distill_stage stage, int L_max,
                                 int max_served) {
    const ic_config *c = &m->w.cfg;
    ic_distill_desc d = {
        .L = L_max, .n_idx_heads = m->idims.n_heads, .idx_head_dim = m->idims.head_dim,
        .n_heads = c->n_heads, .n_kv_heads = c->n_kv_heads, .head_dim = c->head_dim,
        .stage = stage, .topk = stage == IC_DISTILL_SPARSE ? m->topk : 0,
        .max_served = max_served,
    };
    return d;
}

static size_t loss_workspace(const ic_ctx *ctx, const ic_dsa_model *m, ic_distill_stage stage,
                             int L_max, int max_served) {
    ic_distill_desc d = loss_desc(m, stage, L_max, max_served);
    size_t a = ic_distill_loss_workspace_bytes(ctx, &d);
    size_t b = ic_index_sets_check_workspace_bytes(ctx, L_max);
    return a > b ? a : b;
}

int ic_trainer_init(ic_trainer *t, ic_ctx *ctx, ic_dsa_model *m, const ic_pattern *pat,
                    ic_distill_stage stage, int single, int L_max, ic_error *err) {
    memset(t, 0, sizeof *t);
    t->ctx = ctx;
    const ic_config *c = &m->w.cfg;
    const int nl = c->n_layers;
    if (pat->dense) return ic_error_set(err, "--pattern dense has no F layer to train");
    if (ic_dsa_model_check_pattern(m, pat, NULL, err) != 0) return -1;
    t->m = m;
    t->pat = *pat;
    t->stage = stage;
    t->single = single;
    t->L_max = L_max;
    const size_t L = (size_t)L_max, D = (size_t)c->hidden_size;
    const size_t Hd = (size_t)c->n_heads * c->head_dim, Kd = (size_t)c->n_kv_heads * c->head_dim;
    const ic_indexer_dims *id = &m->idims;
    t->save = xcalloc((size_t)nl, sizeof *t->save);
    t->keep = xcalloc((size_t)nl, sizeof *t->keep);
    t->grads = xcalloc((size_t)nl, sizeof *t->grads);
    if (!t->save || !t->keep || !t->grads) goto oom;
    /* Every F layer's grads in one flat buffer: one all-reduce per step
     * (docs/DESIGN.md s5). Blocks start on 64-byte boundaries, as the separate
     * allocations did; the padding stays zero. */
    const size_t stride = (ic_indexer_block_numel(id) + 15) & ~(size_t)15;
    t->grad_numel = (size_t)ic_pattern_n_full(pat) * stride;
    if (!(t->grad_flat = ic_buf_alloc(ctx, sizeof(float) * t->grad_numel)))   /* zero-filled */
        goto oom;
    /* the slots: as many as the largest group (one for --loss single) */
    int served[IC_MAX_LAYERS];
    t->n_slots = 1;
    for (int l = 0; l < nl && !single; l++) {
        int ns = ic_pattern_served(pat, l, served, IC_MAX_LAYERS);
        if (ns > t->n_slots) t->n_slots = ns;
    }
    /* a model or pattern the CUDA loss kernels do not take: say so now, with
     * the way out, rather than abort in the first step */
    if (ctx->backend == IC_BACKEND_CUDA) {
        ic_distill_desc d = loss_desc(m, stage, L_max, t->n_slots);
        const char *why = ic_distill_cuda_unsupported(&d, t->n_slots);
        if (why) {
            ic_error_set(err, "the GPU trainer does not take this model and pattern: %s; "
                         "train on the CPU with --cpu", why);
            goto fail;
        }
    }
    t->slots = xcalloc((size_t)t->n_slots, sizeof *t->slots);
    if (!t->slots) goto oom;
    for (int j = 0; j < t->n_slots; j++) {
        t->slots[j].q = ic_buf_alloc(ctx, L * Hd * sizeof(float));
        t->slots[j].k = ic_buf_alloc(ctx, L * Kd * sizeof(float));
        if (!t->slots[j].q || !t->slots[j].k) goto oom;
        /* the sparse stage renormalises over T_t from q and k itself */
        if (stage == IC_DISTILL_DENSE &&
            !(t->slots[j].lse = ic_buf_alloc(ctx, (size_t)c->n_heads * L * sizeof(float))))
            goto oom;
    }
    if (!(t->x_norm_buf = ic_buf_alloc(ctx, L * D * sizeof(float)))) goto oom;
    if (stage == IC_DISTILL_SPARSE) {
        t->keep_buf.idx = ic_buf_alloc(ctx, L * (size_t)m->topk * sizeof(int32_t));
        t->keep_buf.cnt = ic_buf_alloc(ctx, L * sizeof(int32_t));
        if (!t->keep_buf.idx || !t->keep_buf.cnt) goto oom;
    }
    size_t goff = 0;
    for (int l = 0; l < nl; l++) {
        int wx, wqk;
        needs(t, l, &wx, &wqk);
        if (wx) {
            t->save[l].x_norm = t->x_norm_buf;
            if (ic_indexer_grads_init_view(&t->grads[l], ctx, id, t->grad_flat + goff, err) != 0)
                goto fail;
            goff += stride;
            t->n_params += IC_INDEXER_N_TENSORS;
            if (stage == IC_DISTILL_SPARSE) t->keep[l] = t->keep_buf;
        }
        if (wqk) {
            const ic_teacher_saved *sl = &t->slots[l - ic_pattern_source(pat, l)];
            t->save[l].q = sl->q;
            t->save[l].k = sl->k;
            t->save[l].lse = sl->lse;
        }
        if (wx || wqk) t->layer_end = l + 1;
    }
    if (ic_dsa_state_init(&t->st, ctx, m, L_max, err) != 0) goto fail;
    if (ic_indexer_acts_init(&t->acts, ctx, id, L_max, err) != 0) goto fail;
    if (ic_ctx_reserve(ctx, loss_workspace(ctx, m, stage, L_max, t->n_slots), err) != 0) goto fail;
    t->dqI = ic_buf_alloc(ctx, L * (size_t)id->n_heads * id->head_dim * sizeof(float));
    t->dkI = ic_buf_alloc(ctx, L * (size_t)id->head_dim * sizeof(float));
    t->dw = ic_buf_alloc(ctx, L * (size_t)id->n_heads * sizeof(float));
    t->params = xcalloc((size_t)t->n_params, sizeof *t->params);
    t->names = xcalloc((size_t)t->n_params, sizeof *t->names);
    if (!t->dqI || !t->dkI || !t->dw || !t->params || !t->names) goto oom;
    int p = 0;
    for (int l = 0; l < nl; l++) {
        if (!ic_pattern_is_full(pat, l)) continue;
        ic_indexer_tensor tv[IC_INDEXER_N_TENSORS];
        ic_indexer_tensors(&m->ix[l], tv);
        for (int i = 0; i < IC_INDEXER_N_TENSORS; i++, p++) {
            ic_indexer_tensor_name(t->names[p], sizeof t->names[p], l, tv[i].suffix);
            int64_t n = tv[i].shape[0] * (tv[i].ndim == 2 ? tv[i].shape[1] : 1);
            /* grads share the parameters' block layout */
            float *g = t->grads[l].data + (tv[i].data - m->ix[l].data);
            /* no decay on the LayerNorm's weight and bias (usual practice) */
            int decay = strncmp(tv[i].suffix, "k_norm", 6) != 0;
            t->params[p] = (ic_param){ t->names[p], tv[i].data, g, n, decay };
        }
    }
    return 0;
oom:
    ic_error_set(err, "trainer: out of memory for L = %d", L_max);
fail:
    ic_trainer_free(t);
    return -1;
}

void ic_trainer_free(ic_trainer *t) {
    ic_ctx *ctx = t->ctx;
    if (t->m && ctx) {
        /* save[] and keep[] are views of these */
        for (int j = 0; t->slots && j < t->n_slots; j++) {
            ic_buf_free(ctx, t->slots[j].q); ic_buf_free(ctx, t->slots[j].k);
            ic_buf_free(ctx, t->slots[j].lse);
        }
        ic_buf_free(ctx, t->x_norm_buf);
        ic_buf_free(ctx, t->keep_buf.idx); ic_buf_free(ctx, t->keep_buf.cnt);
        ic_dsa_state_free(&t->st);
        ic_indexer_acts_free(&t->acts);
    }
    if (ctx) {
        ic_buf_free(ctx, t->grad_flat);   /* the grads are views into it */
        ic_buf_free(ctx, t->dqI); ic_buf_free(ctx, t->dkI); ic_buf_free(ctx, t->dw);
    }
    free(t->save); free(t->keep); free(t->grads); free(t->slots);
    free(t->params); free(t->names);
    memset(t, 0, sizeof *t);
}

void ic_trainer_zero_grads(ic_trainer *t) {
    for (int l = 0; l < t->m->w.cfg.n_layers; l++)
        if (t->grads[l].data) ic_indexer_grads_zero(&t->grads[l]);
}

void ic_trainer_scale_grads(ic_trainer *t, float s) {
    for (int l = 0; l < t->m->w.cfg.n_layers; l++)
        if (t->grads[l].data) ic_scale(t->ctx, t->grads[l].data, s, t->grads[l].numel);
}

void ic_trainer_allreduce_grads(ic_trainer *t, const ic_comm *comm) {
    /* the comm takes the buffer where it lives (ic_dist_comm_for: NCCL, or
     * staged through the host for MPI); one process leaves it alone */
    ic_comm_mean_f32(comm, t->grad_flat, t->grad_numel);
}

/* F layer l's loss (and backward into its grads) from the saved tensors of
 * G(l), which the forward has just passed. */
static int layer_loss(ic_trainer *t, int l, int L, int want_grad, ic_trainer_stats *acc,
                      ic_error *err) {
    const ic_dsa_model *m = t->m;
    const ic_config *c = &m->w.cfg;
    const ic_indexer_dims *id = &m->idims;
    int served[IC_MAX_LAYERS];
    ic_distill_teacher tch[IC_MAX_LAYERS];
    int ns = t->single ? 1 : ic_pattern_served(&t->pat, l, served, IC_MAX_LAYERS);
    if (t->single) served[0] = l;
    for (int j = 0; j < ns; j++)
        tch[j] = (ic_distill_teacher){ t->save[served[j]].q, t->save[served[j]].k,
                                       t->save[served[j]].lse };
    ic_indexer_forward(&m->ix[l], t->save[l].x_norm, L, 0, &t->acts);
    ic_distill_desc d = {
        .L = L, .n_idx_heads = id->n_heads, .idx_head_dim = id->head_dim,
        .n_heads = c->n_heads, .n_kv_heads = c->n_kv_heads, .head_dim = c->head_dim,
        .stage = t->stage,
        .idx = t->stage == IC_DISTILL_SPARSE ? t->keep[l].idx : NULL,
        .cnt = t->stage == IC_DISTILL_SPARSE ? t->keep[l].cnt : NULL,
        .topk = t->stage == IC_DISTILL_SPARSE ? m->topk : 0,
    };
    /* the F layer's sets enter the loss here: checked once */
    if (t->stage == IC_DISTILL_SPARSE &&
        ic_index_sets_check(t->ctx, d.idx, d.cnt, L, d.topk, err) != 0)
        return -1;
    ic_distill_stats s;
    if (want_grad) {
        ic_buf_zero(t->ctx, t->dqI, (size_t)L * id->n_heads * id->head_dim * sizeof(float));
        ic_buf_zero(t->ctx, t->dkI, (size_t)L * id->head_dim * sizeof(float));
        ic_buf_zero(t->ctx, t->dw, (size_t)L * id->n_heads * sizeof(float));
        if (ic_distill_loss_backward(t->ctx, &d, t->acts.qI, t->acts.kI, t->acts.w, tch, ns, t->dqI,
                                     t->dkI, t->dw, &s, err) != 0)
            return ic_error_wrap(err, "layer %d", l);
        ic_indexer_backward(&m->ix[l], &t->acts, t->dqI, t->dkI, t->dw, &t->grads[l]);
    } else if (ic_distill_loss_forward(t->ctx, &d, t->acts.qI, t->acts.kI, t->acts.w, tch, ns, &s,
                                       err) != 0) {
        return ic_error_wrap(err, "layer %d", l);
    }
    acc->kl += s.loss;
    acc->kl_pbar += s.kl_pbar;
    return 0;
}

int ic_trainer_window(ic_trainer *t, const int32_t *tokens, const int32_t *targets, int L,
                      int want_grad, ic_trainer_stats *acc, ic_error *err) {
    IC_ASSERT(L >= 1 && L <= t->L_max);
    const ic_dsa_model *m = t->m;
    const int nl = m->w.cfg.n_layers;
    int fl[IC_MAX_LAYERS], nf = 0;
    for (int l = 0; l < nl; l++)
        if (ic_pattern_is_full(&t->pat, l)) fl[nf++] = l;
    IC_ASSERT(nf >= 1 && fl[0] == 0);
    /* group by group: layers [F_i, F_{i+1}) (the last one to the last layer
     * read, or to the top with targets), then F_i's loss */
    for (int i = 0; i < nf; i++) {
        const int last = i + 1 == nf;
        const int b = !last ? fl[i + 1] : targets ? nl : t->layer_end;
        ic_dsa_fwd_opts fo = {
            .pattern = &t->pat,
            .mode = t->stage == IC_DISTILL_SPARSE ? IC_DSA_MODE_PATTERN : IC_DSA_MODE_DENSE,
            .layer_begin = fl[i],
            .layer_end = b,
            .save = t->save,
            .keep = t->stage == IC_DISTILL_SPARSE ? t->keep : NULL,
        };
        ic_dsa_result res = { 0, 0 };
        if (ic_dsa_forward(m, &t->st, tokens, last ? targets : NULL, L, &fo, &res, err) != 0)
            return -1;
        if (last && targets) { acc->nll += res.sum_nll; acc->n_targets += res.n_targets; }
        if (layer_loss(t, fl[i], L, want_grad, acc, err) != 0) return -1;
    }
    acc->tokens += L;
    return 0;
}
