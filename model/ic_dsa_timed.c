/* Timed DSA prefill (model/ic_dsa_timed.h). */
#include <stdlib.h>
#include <string.h>

#include "ic_check.h"
#include "kernels/ic_attention.h"
#include "kernels/ic_ctx.h"
#include "kernels/ic_elementwise.h"
#include "kernels/ic_indexer_scores.h"
#include "kernels/ic_sparse_attention.h"
#include "kernels/ic_topk.h"
#include "model/ic_dsa_timed.h"

const char *const ic_dsa_phase_names[IC_DSA_N_PHASES] = {
    "ix_proj", "ix_scores", "topk", "attn", "rest"};

typedef struct {
    const ic_dsa_model *m;
    ic_dsa_selector    *s;      /* its buffers: indexer activations, index buffer */
    const ic_pattern   *p;
    ic_phase_timer     *t;
    ic_error           *err;
    int                 have_set;
} timed_hook;

/* The teacher's attention hook takes no user pointer: the running prefill
 * is published here for the duration of its ic_teacher_layers call. */
static _Thread_local timed_hook *g_running;

static void topk_block(void *user, const float *scores, int ld, int t0, int t1) {
    timed_hook *h = user;
    ic_phase_timer_switch(h->t, IC_DSA_PH_TOPK);
    ic_topk_forward(h->s->acts.ctx, h->s->idx, h->s->cnt, scores, ld, t0, t1, h->s->K);
    ic_phase_timer_switch(h->t, IC_DSA_PH_IX_SCORES);
}

/* ic_select_fn: what dsa_select of ic_dsa.c does, with the phases split. */
static int timed_select(void *user, int layer, ic_dtype dt, const void *x_norm_dt, int L,
                        const int32_t **idx, const int32_t **cnt, int *K) {
    timed_hook *h = user;
    ic_dsa_selector *s = h->s;
    const float *x_norm = x_norm_dt;
    if (h->p->dense) {          /* the one-key sets made before the timer started */
        *idx = s->idx;
        *cnt = s->cnt;
        *K = 1;
        return 1;
    }
    if (ic_pattern_is_full(h->p, layer)) {
        const ic_indexer *ix = &h->m->ix[layer];
        if (!ix->data) {
            ic_error_set(h->err, "layer %d is F but the model has no indexer for it", layer);
            return -1;
        }
        const ic_indexer_dims *d = &h->m->idims;
        ic_phase_timer_switch(h->t, IC_DSA_PH_IX_PROJ);
        if (dt != IC_F32) {   /* the fp32 indexer reads a widened copy (as dsa_select) */
            IC_ASSERT(s->x32 != NULL);
            ic_convert_dt(s->acts.ctx, IC_F32, s->x32, dt, x_norm_dt,
                          (size_t)L * h->m->w.cfg.hidden_size);
            x_norm = s->x32;
        }
        ic_indexer_forward(ix, x_norm, L, 0, &s->acts);
        ic_phase_timer_switch(h->t, IC_DSA_PH_IX_SCORES);
        ic_indexer_scores_foreach(s->acts.ctx, s->acts.qI, s->acts.kI, s->acts.w, L, d->n_heads,
                                  d->head_dim, ic_indexer_scores_block_rows(L), topk_block, h);
        ic_phase_timer_switch(h->t, IC_DSA_PH_REST);
        h->have_set = 1;
    } else if (!h->have_set) {
        ic_error_set(h->err, "layer %d is S but no F layer ran before it", layer);
        return -1;
    }
    *idx = s->idx;
    *cnt = s->cnt;
    *K = s->K;
    return 1;
}

/* ic_sparse_attn_fn: the sparse op, or the dense one for the dense row. */
static void timed_attn(ic_ctx *ctx, ic_dtype dt, void *out, float *lse, const void *q,
                       const void *k, const void *v, int L, int H, int Hkv, int d,
                       const int32_t *idx, const int32_t *cnt, int K) {
    timed_hook *h = g_running;
    IC_ASSERT(h != NULL);
    ic_phase_timer_switch(h->t, IC_DSA_PH_ATTN);
    if (h->p->dense)
        ic_attention_forward_dt(ctx, dt, out, lse, q, k, v, L, H, Hkv, d);
    else
        ic_sparse_attention_forward_dt(ctx, dt, out, lse, q, k, v, L, H, Hkv, d, idx, cnt, K);
    ic_phase_timer_switch(h->t, IC_DSA_PH_REST);
}

int ic_dsa_prefill_timed(const ic_dsa_model *m, const ic_weights *w, ic_dsa_state *st,
                         const ic_pattern *p, const int32_t *tokens, int L, void *logits,
                         ic_phase_timer *t, ic_error *err) {
    IC_ASSERT(m != NULL && w != NULL && st != NULL && p != NULL && tokens != NULL);
    ic_ctx *ctx = st->ts.ctx;
    if (st->sel.m != m) return ic_error_set(err, "DSA prefill: state was made for another model");
    if (L < 1 || L > st->L_max)
        return ic_error_set(err, "DSA prefill: %d tokens do not fit the state (max %d)", L,
                            st->L_max);
    if (ic_dsa_model_check_pattern(m, p, NULL, err) != 0) return -1;
    if (p->dense) {
        /* one-key sets {0} for every row: idx [L, 1] = 0, cnt [L] = 1 */
        int32_t *ones = malloc(sizeof(int32_t) * (size_t)L);
        if (!ones) return ic_error_set(err, "DSA prefill: out of memory");
        for (int i = 0; i < L; i++) ones[i] = 1;
        ic_buf_zero(ctx, st->sel.idx, sizeof(int32_t) * (size_t)L);
        ic_buf_upload(ctx, st->sel.cnt, ones, sizeof(int32_t) * (size_t)L);
        ic_ctx_sync(ctx);
        free(ones);
    }
    timed_hook h = {m, &st->sel, p, t, err, 0};
    ic_teacher_opts topts;
    memset(&topts, 0, sizeof topts);
    topts.select = timed_select;
    topts.select_ctx = &h;
    topts.sparse_attn = timed_attn;
    st->sel.buf_L = 0;   /* the selector's buffer no longer holds its own sets */
    st->sel.buf_layer = -1;

    ic_phase_timer_start(t, ctx, IC_DSA_PH_REST);
    int rc = ic_teacher_embed(ctx, w, tokens, L, st->hidden, err);
    if (rc == 0) {
        g_running = &h;
        rc = ic_teacher_layers(w, &st->ts, st->hidden, L, 0, w->cfg.n_layers, &topts, err);
        g_running = NULL;
    }
    if (rc == 0 && logits) {
        const size_t row = (size_t)(L - 1) * w->cfg.hidden_size * ic_dtype_size(st->ts.dt);
        ic_teacher_logits(w, &st->ts, (const float *)((const char *)st->hidden + row), 1,
                          (float *)logits);
    }
    ic_phase_timer_stop(t);
    return rc;
}
