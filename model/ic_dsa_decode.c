/* DSA / IndexCache decoding from a cache (model/ic_dsa_decode.h). The layer
 * loop is the teacher's decode step (model/ic_teacher.c) with the indexer
 * step and the sparse attention in place of dense attention. */
#include <stdlib.h>
#include <string.h>

#include "ic_check.h"
#include "ic_half.h"
#include "kernels/ic_attention.h"
#include "kernels/ic_ctx.h"
#include "kernels/ic_elementwise.h"
#include "kernels/ic_embedding.h"
#include "kernels/ic_indexer_scores.h"
#include "kernels/ic_matmul.h"
#include "kernels/ic_rmsnorm.h"
#include "kernels/ic_rope.h"
#include "kernels/ic_swiglu.h"
#include "kernels/ic_topk.h"
#include "model/ic_dsa_decode.h"

/* n elements of dtype dt past p (the KV cache holds ctx->act_dtype). */
static void *at(const void *p, size_t n, ic_dtype dt) {
    return (char *)p + n * ic_dtype_size(dt);
}

int ic_dsa_cache_init(ic_dsa_cache *c, ic_ctx *ctx, const ic_dsa_model *m, const ic_weights *w,
                      const ic_pattern *p, int T_max, ic_error *err) {
    memset(c, 0, sizeof *c);
    c->m = m;
    c->w = w;
    c->pattern = *p;
    c->K = m->topk;
    if (ic_dsa_model_check_pattern(m, p, NULL, err) != 0) return -1;
    if (ic_kv_cache_init(&c->kv, ctx, &w->cfg, T_max, err) != 0) return -1;
    if (p->dense) return 0;
    const ic_config *cfg = &w->cfg;
    const ic_indexer_dims *d = &m->idims;
    const size_t T = (size_t)T_max, HI = (size_t)d->n_heads, dI = (size_t)d->head_dim;
    const size_t kvd = (size_t)cfg->n_kv_heads * cfg->head_dim;
    c->ik = calloc((size_t)cfg->n_layers, sizeof *c->ik);
    if (!c->ik) goto oom;
    for (int l = 0; l < cfg->n_layers; l++)
        if (ic_pattern_is_full(p, l) && !(c->ik[l] = ic_buf_alloc(ctx, sizeof(float) * T * dI)))
            goto oom;
    c->q_stage = ic_buf_alloc(ctx, sizeof(float) * T * HI * dI);
    c->w_stage = ic_buf_alloc(ctx, sizeof(float) * T * HI);
    c->scores = ic_buf_alloc(ctx, sizeof(float) * T);
    c->idx = ic_buf_alloc(ctx, sizeof(int32_t) * T * (size_t)c->K);
    c->cnt = ic_buf_alloc(ctx, sizeof(int32_t) * T);
    /* the gathered rows keep the cache's dtype (bf16 on CUDA contexts): the
     * decode attention reads them as it reads the dense cache */
    const size_t es = ic_dtype_size(ctx->act_dtype);
    c->kg = ic_buf_alloc(ctx, es * (size_t)c->K * kvd);
    c->vg = ic_buf_alloc(ctx, es * (size_t)c->K * kvd);
    if (!c->q_stage || !c->w_stage || !c->scores || !c->idx || !c->cnt || !c->kg || !c->vg)
        goto oom;
    if (ctx->act_dtype != IC_F32 &&
        !(c->x32 = ic_buf_alloc(ctx, sizeof(float) * (size_t)cfg->hidden_size)))
        goto oom;
    if (ic_indexer_acts_init(&c->acts, ctx, d, 1, err) != 0) goto fail;
    size_t ws = ic_indexer_scores_workspace_bytes(ctx, T_max, d->n_heads, d->head_dim);
    size_t wt = ic_topk_workspace_bytes(ctx, T_max);
    size_t wa = ic_attention_decode_workspace_bytes(ctx, c->K, cfg->n_heads, cfg->head_dim);
    ws = ws > wt ? ws : wt;
    ws = ws > wa ? ws : wa;
    if (ic_ctx_reserve(ctx, ws, err) != 0) goto fail;
    return 0;
oom:
    ic_error_set(err, "DSA decode: out of memory for the caches of %d tokens", T_max);
fail:
    ic_dsa_cache_free(c);
    return -1;
}

void ic_dsa_cache_free(ic_dsa_cache *c) {
    if (!c) return;
    ic_ctx *ctx = c->kv.ctx;
    if (ctx) {
        if (c->ik)
            for (int l = 0; l < c->w->cfg.n_layers; l++) ic_buf_free(ctx, c->ik[l]);
        void *b[8] = {c->q_stage, c->w_stage, c->scores, c->idx, c->cnt, c->kg, c->vg, c->x32};
        for (int i = 0; i < 8; i++) ic_buf_free(ctx, b[i]);
    }
    free(c->ik);
    ic_indexer_acts_free(&c->acts);
    ic_kv_cache_free(&c->kv);
    memset(c, 0, sizeof *c);
}

void ic_dsa_cache_bytes(const ic_dsa_cache *c, int T, size_t *kv_bytes, size_t *ix_bytes) {
    const ic_config *cfg = &c->w->cfg;
    *kv_bytes = 2 * (size_t)cfg->n_layers * (size_t)T * cfg->n_kv_heads * cfg->head_dim *
                ic_dtype_size(c->kv.dt);
    *ix_bytes = c->pattern.dense ? 0
              : (size_t)ic_pattern_n_full(&c->pattern) * (size_t)T * c->m->idims.head_dim *
                sizeof(float);
}

/* The new token's selection at an F layer: its indexer row against the
 * cached indexer keys, into idx/cnt row pos. xn: the step's x_norm in the
 * KV dtype; the indexer is fp32 (it is trained), so bf16 is widened first. */
static void indexer_step(ic_dsa_cache *c, int l, const void *xn_dt, int pos) {
    ic_ctx *ctx = c->kv.ctx;
    const ic_indexer_dims *d = &c->m->idims;
    const size_t HI = (size_t)d->n_heads, dI = (size_t)d->head_dim;
    const float *xn = xn_dt;
    if (c->kv.dt != IC_F32) {
        ic_convert_dt(ctx, IC_F32, c->x32, c->kv.dt, xn_dt, (size_t)c->w->cfg.hidden_size);
        xn = c->x32;
    }
    ic_indexer_forward(&c->m->ix[l], xn, 1, pos, &c->acts);
    ic_buf_copy(ctx, c->q_stage + (size_t)pos * HI * dI, c->acts.qI, sizeof(float) * HI * dI);
    ic_buf_copy(ctx, c->w_stage + (size_t)pos * HI, c->acts.w, sizeof(float) * HI);
    ic_buf_copy(ctx, c->ik[l] + (size_t)pos * dI, c->acts.kI, sizeof(float) * dI);
    ic_indexer_scores_forward(ctx, c->scores, pos + 1, c->q_stage, c->ik[l], c->w_stage, pos + 1,
                              d->n_heads, d->head_dim, pos, pos + 1);
    ic_topk_forward(ctx, c->idx, c->cnt, c->scores, pos + 1, pos, pos + 1, c->K);
}

int ic_dsa_decode_step(ic_dsa_cache *c, int32_t token, float *logits, ic_error *err) {
    const ic_weights *w = c->w;
    const ic_config *cfg = &w->cfg;
    const int D = cfg->hidden_size, H = cfg->n_heads, Hkv = cfg->n_kv_heads, d = cfg->head_dim;
    const int F = cfg->intermediate_size, V = cfg->vocab_size;
    ic_kv_cache *kc = &c->kv;
    ic_ctx *ctx = kc->ctx;
    const ic_dtype dt = kc->dt;
    if (kc->T >= kc->T_max) return ic_error_set(err, "DSA cache full (%d tokens)", kc->T_max);
    if (ic_teacher_embed(ctx, w, &token, 1, kc->x, err) != 0) return -1;
    const int pos = kc->T;
    /* top-k keeps min(K, pos + 1) keys (kernels/ic_topk.h): known on the host */
    const int n_sel = pos + 1 < c->K ? pos + 1 : c->K;
    const int32_t *sel = c->pattern.dense ? NULL : c->idx + (size_t)pos * c->K;
    const size_t layer_stride = (size_t)kc->T_max * Hkv * d;
    for (int l = 0; l < cfg->n_layers; l++) {
        const ic_layer_weights *lw = &w->layers[l];
        void *kl = at(kc->k, l * layer_stride, dt), *vl = at(kc->v, l * layer_stride, dt);
        void *krow = at(kl, (size_t)pos * Hkv * d, dt), *vrow = at(vl, (size_t)pos * Hkv * d, dt);
        ic_rmsnorm_forward_dt(ctx, dt, kc->xn, kc->x, lw->attn_norm, 1, D, cfg->rms_norm_eps);
        ic_matmul_forward_dt(ctx, dt, kc->q, kc->xn, lw->wq, lw->bq, 1, H * d, D);
        ic_matmul_forward_dt(ctx, dt, krow, kc->xn, lw->wk, lw->bk, 1, Hkv * d, D);
        ic_matmul_forward_dt(ctx, dt, vrow, kc->xn, lw->wv, lw->bv, 1, Hkv * d, D);
        ic_rope_forward_dt(ctx, dt, kc->q, 1, H, d, d, pos, cfg->rope_theta);
        ic_rope_forward_dt(ctx, dt, krow, 1, Hkv, d, d, pos, cfg->rope_theta);
        if (c->pattern.dense) {
            ic_attention_decode_forward_dt(ctx, dt, kc->att, NULL, kc->q, kl, vl, pos + 1, H,
                                           Hkv, d);
        } else {
            if (ic_pattern_is_full(&c->pattern, l)) indexer_step(c, l, kc->xn, pos);
            /* the set's rows of this layer's cache, then attention over them
             * (softmax does not care about their order) */
            ic_embedding_forward_dt(ctx, dt, c->kg, sel, kl, n_sel, Hkv * d, pos + 1);
            ic_embedding_forward_dt(ctx, dt, c->vg, sel, vl, n_sel, Hkv * d, pos + 1);
            ic_attention_decode_forward_dt(ctx, dt, kc->att, NULL, kc->q, c->kg, c->vg, n_sel, H,
                                           Hkv, d);
        }
        ic_matmul_forward_accumulate_dt(ctx, dt, kc->x, kc->att, lw->wo, NULL, 1, D, H * d);
        ic_rmsnorm_forward_dt(ctx, dt, kc->xn, kc->x, lw->mlp_norm, 1, D, cfg->rms_norm_eps);
        ic_matmul_forward_dt(ctx, dt, kc->gate, kc->xn, lw->w_gate, NULL, 1, F, D);
        ic_matmul_forward_dt(ctx, dt, kc->up, kc->xn, lw->w_up, NULL, 1, F, D);
        ic_swiglu_forward_dt(ctx, dt, kc->gate, kc->gate, kc->up, (size_t)F);
        ic_matmul_forward_accumulate_dt(ctx, dt, kc->x, kc->gate, lw->w_down, NULL, 1, D, F);
    }
    ic_rmsnorm_forward_dt(ctx, dt, kc->xn, kc->x, w->final_norm, 1, D, cfg->rms_norm_eps);
    ic_matmul_forward_dt(ctx, dt, kc->logits, kc->xn, w->lm_head, NULL, 1, V, D);
    if (logits) ic_buf_download_f32(ctx, dt, logits, kc->logits, (size_t)V, kc->host_logits);
    kc->T++;
    return 0;
}

/* splitmix64: fast enough for a gigabyte of filler */
static uint64_t next_u64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* n values into buf: U(-1, 1), or approximately N(0, 1) (sum of 4 uniforms, rescaled) */
static void fill(float *buf, size_t n, uint64_t *s, int normal) {
    for (size_t i = 0; i < n; i++) {
        if (!normal) {
            buf[i] = (float)((double)(next_u64(s) >> 11) * 0x1.0p-52 - 1.0);
        } else {
            double a = 0;
            for (int j = 0; j < 4; j++) a += (double)(next_u64(s) >> 11) * 0x1.0p-53;
            buf[i] = (float)((a - 2.0) * 1.7320508075688772);   /* var of the sum is 1/3 */
        }
    }
}

int ic_dsa_cache_fill_random(ic_dsa_cache *c, int T, uint64_t seed, ic_error *err) {
    ic_kv_cache *kc = &c->kv;
    if (T < 0 || T > kc->T_max)
        return ic_error_set(err, "DSA cache: %d random rows do not fit (capacity %d)", T, kc->T_max);
    const ic_config *cfg = &c->w->cfg;
    const size_t row = (size_t)cfg->n_kv_heads * cfg->head_dim, dI = (size_t)c->m->idims.head_dim;
    const size_t chunk = 1 << 20;   /* floats per upload */
    float *buf = malloc(sizeof(float) * chunk);
    if (!buf) return ic_error_set(err, "DSA cache: out of memory for the filler");
    uint64_t s = seed;
    for (int l = 0; l < cfg->n_layers; l++) {
        float *dst[3] = {(float *)at(kc->k, (size_t)l * kc->T_max * row, kc->dt),
                         (float *)at(kc->v, (size_t)l * kc->T_max * row, kc->dt),
                         c->ik ? c->ik[l] : NULL};
        const size_t n[3] = {(size_t)T * row, (size_t)T * row, (size_t)T * dI};
        for (int b = 0; b < 3; b++) {
            if (!dst[b]) continue;
            const size_t es = b < 2 ? ic_dtype_size(kc->dt) : sizeof(float);
            for (size_t o = 0; o < n[b]; o += chunk) {
                size_t m = n[b] - o < chunk ? n[b] - o : chunk;
                fill(buf, m, &s, b == 2);
                if (b < 2 && kc->dt != IC_F32) {   /* bf16 storage: round in place */
                    uint16_t *h = (uint16_t *)buf;
                    for (size_t i = 0; i < m; i++) h[i] = ic_f32_to_bf16(buf[i]);
                }
                ic_buf_upload(kc->ctx, (char *)dst[b] + o * es, buf, m * es);
            }
        }
    }
    ic_ctx_sync(kc->ctx);
    free(buf);
    kc->T = T;
    return 0;
}
