/* DSA / IndexCache model and forward (see ic_dsa.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ic_alloc.h"
#include "ic_check.h"
#include "kernels/ic_ctx.h"
#include "kernels/ic_elementwise.h"
#include "kernels/ic_sparse_attention.h"
#include "model/ic_dsa.h"
#include "model/ic_indexer_io.h"
#include "model/ic_safetensors.h"

/* ---- model ------------------------------------------------------------ */

/* Indexer dims of cfg; a dense model's config has no indexer keys, so the
 * defaults stand in (they only matter once indexers are made for it). */
static int dims_of(const ic_config *cfg, ic_indexer_dims *d, ic_error *err) {
    ic_config c = *cfg;
    if (!c.has_indexer_config) ic_config_set_indexer_defaults(&c);
    return ic_indexer_dims_from_config(d, &c, err);
}

static int resolve_topk(const ic_dsa_model *m, int topk, ic_error *err) {
    int K = topk > 0 ? topk : m->idims.topk;
    if (K < 1) return ic_error_set(err, "top-k must be >= 1, got %d", K);
    return K;
}

int ic_dsa_model_has_indexer(const ic_dsa_model *m, int l) {
    return m->ix && l >= 0 && l < m->w.cfg.n_layers && m->ix[l].data != NULL;
}

int ic_dsa_model_check_pattern(const ic_dsa_model *m, const ic_pattern *p, const char *dir,
                               ic_error *err) {
    if (p->dense) return 0;
    if (p->n_layers != m->w.cfg.n_layers)
        return ic_error_set(err, "pattern has %d layers, the model %d", p->n_layers,
                            m->w.cfg.n_layers);
    for (int l = 0; l < p->n_layers; l++)
        if (ic_pattern_is_full(p, l) && !ic_dsa_model_has_indexer(m, l)) {
            char buf[IC_MAX_LAYERS + 1];
            return ic_error_set(err, "layer %d is F in pattern %s but %s has no indexer for it "
                                "(model.layers.%d.self_attn.indexer.*): make one with "
                                "`indexcache init-indexers` or `indexcache train`", l,
                                ic_pattern_to_string(p, buf, sizeof buf),
                                dir ? dir : "the model", l);
        }
    return 0;
}

static int alloc_ix_table(ic_dsa_model *m, ic_error *err) {
    m->ix = calloc((size_t)m->w.cfg.n_layers, sizeof *m->ix);
    if (!m->ix) return ic_error_set(err, "out of memory for the indexer table");
    return 0;
}

int ic_dsa_model_load(ic_dsa_model *m, const char *dir, const char *pattern_spec, int topk,
                      ic_dsa_load_mode mode, ic_error *err) {
    memset(m, 0, sizeof *m);
    char path[4096];
    ic_config cfg;
    if (snprintf(path, sizeof path, "%s/config.json", dir) >= (int)sizeof path)
        return ic_error_set(err, "%s: model dir path too long", dir);
    if (ic_config_load(&cfg, path, err) != 0) return -1;
    if (dims_of(&cfg, &m->idims, err) != 0) return ic_error_wrap(err, "%s", path);
    const char *spec = pattern_spec;
    if (!spec) spec = cfg.index_topk_pattern[0] ? cfg.index_topk_pattern : "uniform:1";
    if (ic_pattern_parse(&m->pattern, spec, cfg.n_layers, err) != 0) return -1;
    if ((m->topk = resolve_topk(m, topk, err)) < 0) return -1;
    if (ic_weights_load_files(&m->w, &cfg, dir, err) != 0) return -1;
    if (alloc_ix_table(m, err) != 0) goto fail;

    ic_model_files mf;
    if (ic_model_files_open(&mf, dir, err) != 0) goto fail;
    int rc = 0;
    for (int l = 0; l < cfg.n_layers && rc == 0; l++) {
        int needed = mode == IC_DSA_LOAD_ALL || ic_pattern_is_full(&m->pattern, l);
        int present = ic_indexer_present(&mf, l);
        if (!present && needed) {
            if (mode == IC_DSA_LOAD_ALL)
                rc = ic_error_set(err, "%s has no indexer for layer %d (model.layers.%d.self_attn."
                                  "indexer.*), and this needs one at every layer: make them with "
                                  "`indexcache init-indexers --pattern %s` or train all F",
                                  dir, l, l, "uniform:1");
            else
                rc = ic_dsa_model_check_pattern(m, &m->pattern, dir, err);
            break;
        }
        if (!present && !needed) continue;
        if (ic_indexer_init(&m->ix[l], &m->idims, err) != 0 ||
            ic_indexer_load(&m->ix[l], &mf, l, err) != 0)
            rc = -1;
    }
    ic_model_files_close(&mf);
    if (rc == 0) return 0;
fail:
    ic_dsa_model_free(m);
    return -1;
}

int ic_dsa_model_init(ic_dsa_model *m, const ic_config *cfg, const int *want_ix, int topk,
                      ic_error *err) {
    memset(m, 0, sizeof *m);
    ic_config c = *cfg;
    if (!c.has_indexer_config) ic_config_set_indexer_defaults(&c);
    if (ic_indexer_dims_from_config(&m->idims, &c, err) != 0) return -1;
    if ((m->topk = resolve_topk(m, topk, err)) < 0) return -1;
    if (ic_pattern_parse(&m->pattern, "uniform:1", c.n_layers, err) != 0) return -1;
    if (ic_weights_init(&m->w, &c, err) != 0 || alloc_ix_table(m, err) != 0) goto fail;
    for (int l = 0; l < c.n_layers; l++)
        if ((!want_ix || want_ix[l]) && ic_indexer_init(&m->ix[l], &m->idims, err) != 0) goto fail;
    return 0;
fail:
    ic_dsa_model_free(m);
    return -1;
}

void ic_dsa_model_free(ic_dsa_model *m) {
    if (!m) return;
    if (m->ix)
        for (int l = 0; l < m->w.cfg.n_layers; l++) ic_indexer_free(&m->ix[l]);
    free(m->ix);
    ic_weights_free(&m->w);
    memset(m, 0, sizeof *m);
}

int ic_dsa_model_to_ctx(ic_dsa_model *m, ic_ctx *ctx, ic_error *err) {
    ic_weights dev;
    const ic_weights *use;
    if (m->w.ctx != ctx) {
        if (ic_weights_on_ctx(&m->w, ctx, &dev, &use, err) != 0) return -1;
        if (use != &m->w) {
            ic_weights_free(&m->w);
            m->w = dev;
        }
    }
    for (int l = 0; l < m->w.cfg.n_layers; l++)
        if (m->ix[l].data && ic_indexer_to_ctx(&m->ix[l], ctx, err) != 0) return -1;
    return 0;
}

/* ---- selector --------------------------------------------------------- */

int ic_dsa_selector_init(ic_dsa_selector *s, ic_ctx *ctx, const ic_dsa_model *m, int L_max,
                         ic_error *err) {
    memset(s, 0, sizeof *s);
    if (L_max < 1) return ic_error_set(err, "DSA: sequence length %d must be >= 1", L_max);
    s->m = m;
    s->L_max = L_max;
    s->K = m->topk;
    s->buf_layer = -1;
    s->pattern = m->pattern;
    s->idx = ic_buf_alloc(ctx, sizeof(int32_t) * (size_t)L_max * (size_t)s->K);
    s->cnt = ic_buf_alloc(ctx, sizeof(int32_t) * (size_t)L_max);
    if (!s->idx || !s->cnt) {
        ic_dsa_selector_free(s);
        return ic_error_set(err, "DSA: out of memory for a %d x %d index buffer", L_max, m->topk);
    }
    if (ic_indexer_acts_init(&s->acts, ctx, &m->idims, L_max, err) != 0) {
        ic_buf_free(ctx, s->idx);
        ic_buf_free(ctx, s->cnt);
        memset(s, 0, sizeof *s);
        return -1;
    }
    const ic_config *c = &m->w.cfg;
    if (ctx->act_dtype != IC_F32 &&
        !(s->x32 = ic_buf_alloc(ctx, sizeof(float) * (size_t)L_max * c->hidden_size))) {
        ic_dsa_selector_free(s);
        return ic_error_set(err, "DSA: out of memory for the fp32 x_norm of %d tokens", L_max);
    }
    if (ic_ctx_reserve(ctx, ic_sparse_attention_workspace_bytes(ctx, c->n_heads, c->n_kv_heads,
                                                                c->head_dim, s->K), err) != 0) {
        ic_dsa_selector_free(s);
        return -1;
    }
    return 0;
}

void ic_dsa_selector_free(ic_dsa_selector *s) {
    if (!s) return;
    ic_ctx *ctx = s->acts.ctx;
    ic_indexer_acts_free(&s->acts);
    if (ctx) {
        ic_buf_free(ctx, s->idx);
        ic_buf_free(ctx, s->cnt);
        ic_buf_free(ctx, s->x32);
    }
    memset(s, 0, sizeof *s);
}

/* The ic_select_fn of ic_teacher_layers. F layers overwrite the one index
 * buffer; S layers hand it on untouched, which is all IndexCache's reuse is. */
static int dsa_select(void *ctx, int layer, ic_dtype dt, const void *x_norm_dt, int L,
                      const int32_t **idx, const int32_t **cnt, int *K) {
    ic_dsa_selector *s = ctx;
    const float *x_norm = x_norm_dt;
    if (s->mode == IC_DSA_MODE_DENSE) return 0;
    if (L > s->L_max) {
        ic_error_set(s->err, "DSA: window of %d tokens exceeds the selector's %d", L, s->L_max);
        return -1;
    }
    if (s->mode == IC_DSA_MODE_OWN || ic_pattern_is_full(&s->pattern, layer)) {
        const ic_indexer *ix = &s->m->ix[layer];
        if (!ix->data) {
            ic_error_set(s->err, "layer %d must run its indexer but the model has none for it", layer);
            return -1;
        }
        if (dt != IC_F32) {
            /* the indexer is fp32 (it is trained): widen the teacher's bf16 x_norm */
            IC_ASSERT(s->x32 != NULL);
            ic_convert_dt(s->acts.ctx, IC_F32, s->x32, dt, x_norm_dt,
                          (size_t)L * s->m->w.cfg.hidden_size);
            x_norm = s->x32;
        }
        ic_indexer_forward(ix, x_norm, L, 0, &s->acts);
        if (ic_indexer_select(&s->acts, s->K, s->idx, s->cnt, s->err) != 0) return -1;
        s->buf_L = L;
        s->buf_layer = layer;
        if (s->keep && s->keep[layer].idx) {
            ic_buf_copy(s->acts.ctx, s->keep[layer].idx, s->idx, sizeof(int32_t) * (size_t)L * s->K);
            if (s->keep[layer].cnt)
                ic_buf_copy(s->acts.ctx, s->keep[layer].cnt, s->cnt, sizeof(int32_t) * (size_t)L);
        }
    } else if (s->buf_L != L) {
        ic_error_set(s->err, "layer %d is S (reuses layer %d's indices) but the index buffer "
                     "holds no set for this window: a forward resumed at an S layer needs the "
                     "buffer passed in", layer, ic_pattern_source(&s->pattern, layer));
        return -1;
    }
    *idx = s->idx;
    *cnt = s->cnt;
    *K = s->K;
    return 1;
}

int ic_dsa_selector_opts(ic_dsa_selector *s, const ic_pattern *p, ic_dsa_mode mode,
                         ic_teacher_saved *save, ic_dsa_index_set *keep,
                         ic_teacher_opts *topts, ic_error *err) {
    const ic_dsa_model *m = s->m;
    const ic_pattern *pat = p ? p : &m->pattern;
    if (pat->dense && mode == IC_DSA_MODE_PATTERN) mode = IC_DSA_MODE_DENSE;
    if (mode == IC_DSA_MODE_OWN) {
        for (int l = 0; l < m->w.cfg.n_layers; l++)
            if (!ic_dsa_model_has_indexer(m, l))
                return ic_error_set(err, "every layer must run its own indexer, but the model has "
                                    "none for layer %d (model.layers.%d.self_attn.indexer.*): "
                                    "make them with `indexcache init-indexers --pattern "
                                    "uniform:1`", l, l);
    } else if (mode == IC_DSA_MODE_PATTERN) {
        if (ic_dsa_model_check_pattern(m, pat, NULL, err) != 0) return -1;
    }
    s->pattern = *pat;
    s->mode = mode;
    s->keep = keep;
    s->err = err;
    memset(topts, 0, sizeof *topts);
    topts->save = save;
    topts->select = dsa_select;
    topts->select_ctx = s;
    /* the teacher hands its own dtype (bf16 on CUDA, fp32 on the CPU) */
    topts->sparse_attn = ic_sparse_attention_forward_dt;
    return 0;
}

/* ---- state and forward ------------------------------------------------ */

size_t ic_dsa_state_bytes(const ic_dsa_model *m, int L_max) {
    const ic_indexer_dims *d = &m->idims;
    size_t L = (size_t)L_max;
    size_t acts = L * (2 * (size_t)d->n_heads * d->head_dim + 4 * (size_t)d->head_dim +
                       2 * (size_t)d->n_heads + 2);
    return ic_teacher_state_bytes(&m->w.cfg, L_max) + sizeof(float) * acts +
           sizeof(int32_t) * L * ((size_t)m->topk + 1) + sizeof(float) * L * m->w.cfg.hidden_size;
}

int ic_dsa_state_init(ic_dsa_state *st, ic_ctx *ctx, const ic_dsa_model *m, int L_max,
                      ic_error *err) {
    memset(st, 0, sizeof *st);
    if (ic_teacher_state_init(&st->ts, ctx, &m->w.cfg, L_max, err) != 0) return -1;
    if (ic_dsa_selector_init(&st->sel, ctx, m, L_max, err) != 0) goto fail;
    st->hidden = ic_buf_alloc(ctx, sizeof(float) * (size_t)L_max * m->w.cfg.hidden_size);
    if (!st->hidden) {
        ic_error_set(err, "DSA: out of memory for the hidden state of %d tokens", L_max);
        goto fail;
    }
    st->L_max = L_max;
    return 0;
fail:
    ic_dsa_state_free(st);
    return -1;
}

void ic_dsa_state_free(ic_dsa_state *st) {
    if (!st) return;
    if (st->ts.ctx) ic_buf_free(st->ts.ctx, st->hidden);
    ic_teacher_state_free(&st->ts);
    ic_dsa_selector_free(&st->sel);
    memset(st, 0, sizeof *st);
}

int ic_dsa_forward(const ic_dsa_model *m, ic_dsa_state *st, const int32_t *tokens,
                   const int32_t *targets, int L, const ic_dsa_fwd_opts *opts,
                   ic_dsa_result *res, ic_error *err) {
    static const ic_dsa_fwd_opts defaults = {0};
    const ic_dsa_fwd_opts *o = opts ? opts : &defaults;
    const int n = m->w.cfg.n_layers;
    const int a = o->layer_begin, b = o->layer_end <= 0 ? n : o->layer_end;
    if (res) memset(res, 0, sizeof *res);
    if (st->sel.m != m) return ic_error_set(err, "DSA: state was made for another model");
    if (L < 1 || L > st->L_max)
        return ic_error_set(err, "DSA: window of %d tokens does not fit the state (max %d)",
                            L, st->L_max);
    if (a < 0 || b > n || a >= b)
        return ic_error_set(err, "DSA: layer range [%d, %d) is not inside [0, %d)", a, b, n);
    if (a == 0 && !tokens) return ic_error_set(err, "DSA: a forward from layer 0 needs tokens");
    if (targets && b != n)
        return ic_error_set(err, "DSA: the LM loss needs the stack to layer %d, not %d", n, b);

    ic_teacher_opts topts;
    if (ic_dsa_selector_opts(&st->sel, o->pattern, o->mode, o->save, o->keep, &topts, err) != 0)
        return -1;
    ic_dsa_selector *s = &st->sel;
    /* The buffer is valid only for this window: from layer 0 it is rebuilt,
     * mid-stack it is what the caller passes (possibly s->idx itself). */
    if (a == 0 || !o->idx_in || !o->cnt_in) {
        s->buf_L = 0;
        s->buf_layer = -1;
    } else {
        ic_ctx *ctx = st->ts.ctx;
        if (o->idx_in != s->idx) ic_buf_copy(ctx, s->idx, o->idx_in, sizeof(int32_t) * (size_t)L * s->K);
        if (o->cnt_in != s->cnt) ic_buf_copy(ctx, s->cnt, o->cnt_in, sizeof(int32_t) * (size_t)L);
        s->buf_L = L;
        if (o->idx_in != s->idx) s->buf_layer = -1;
    }
    float *h = o->hidden ? o->hidden : st->hidden;
    if (a == 0 && ic_teacher_embed(st->ts.ctx, &m->w, tokens, L, h, err) != 0) return -1;
    if (ic_teacher_layers(&m->w, &st->ts, h, L, a, b, &topts, err) != 0) return -1;
    if (targets) {
        double sum;
        long cnt;
        ic_teacher_loss(&m->w, &st->ts, h, L, targets, &sum, &cnt);
        if (res) {
            res->sum_nll = sum;
            res->n_targets = cnt;
        }
    }
    return 0;
}
