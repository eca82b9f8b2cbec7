/* Teacher weights: allocation and the table of HF tensor names. Loading
 * from files lives in ic_weights_load.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ic_alloc.h"
#include "ic_check.h"
#include "ic_half.h"
#include "kernels/ic_ctx.h"
#include "model/ic_weights.h"

/* Floats of one layer, in the order the pointers are carved out. */
static size_t layer_floats(const ic_config *c) {
    size_t D = c->hidden_size, F = c->intermediate_size;
    size_t qd = (size_t)c->n_heads * c->head_dim, kd = (size_t)c->n_kv_heads * c->head_dim;
    size_t n = 2 * D + qd * D + 2 * kd * D + D * qd + 3 * F * D;
    if (c->attention_bias) n += qd + 2 * kd;
    return n;
}

static size_t total_floats(const ic_config *c) {
    size_t VD = (size_t)c->vocab_size * c->hidden_size;
    return VD * (c->tie_word_embeddings ? 1 : 2) + (size_t)c->hidden_size +
           (size_t)c->n_layers * layer_floats(c);
}

size_t ic_weights_bytes(const ic_config *cfg) { return total_floats(cfg) * sizeof(float); }

int ic_weights_init(ic_weights *w, const ic_config *cfg, ic_error *err) {
    memset(w, 0, sizeof *w);
    const ic_config *c = cfg;
    if (c->vocab_size <= 0 || c->hidden_size <= 0 || c->intermediate_size <= 0 ||
        c->n_layers <= 0 || c->n_layers > IC_MAX_LAYERS || c->n_heads <= 0 ||
        c->n_kv_heads <= 0 || c->head_dim <= 0 || c->head_dim % 2 != 0 ||
        c->n_heads % c->n_kv_heads != 0)
        return ic_error_set(err, "teacher config: bad shape (vocab %d, hidden %d, ffn %d, layers %d, "
                            "heads %d, kv heads %d, head_dim %d)", c->vocab_size, c->hidden_size,
                            c->intermediate_size, c->n_layers, c->n_heads, c->n_kv_heads, c->head_dim);
    w->cfg = *cfg;
    w->n_floats = total_floats(c);
    w->block = ic_aligned_calloc(w->n_floats * sizeof(float));
    w->layers = calloc((size_t)c->n_layers, sizeof *w->layers);
    if (!w->block || !w->layers) {
        ic_weights_free(w);
        return ic_error_set(err, "teacher weights: out of memory for %zu MiB",
                            total_floats(c) * sizeof(float) >> 20);
    }
    size_t D = c->hidden_size, F = c->intermediate_size, V = c->vocab_size;
    size_t qd = (size_t)c->n_heads * c->head_dim, kd = (size_t)c->n_kv_heads * c->head_dim;
    float *p = w->block;
#define TAKE(n) (p += (n), p - (n))
    w->embed = TAKE(V * D);
    w->lm_head = c->tie_word_embeddings ? w->embed : TAKE(V * D);
    w->final_norm = TAKE(D);
    for (int l = 0; l < c->n_layers; l++) {
        ic_layer_weights *lw = &w->layers[l];
        lw->attn_norm = TAKE(D);
        lw->wq = TAKE(qd * D);
        lw->wk = TAKE(kd * D);
        lw->wv = TAKE(kd * D);
        if (c->attention_bias) { lw->bq = TAKE(qd); lw->bk = TAKE(kd); lw->bv = TAKE(kd); }
        lw->wo = TAKE(D * qd);
        lw->mlp_norm = TAKE(D);
        lw->w_gate = TAKE(F * D);
        lw->w_up = TAKE(F * D);
        lw->w_down = TAKE(D * F);
    }
#undef TAKE
    if ((size_t)(p - w->block) != w->n_floats) {   /* layer_floats and TAKE disagree */
        ic_weights_free(w);
        return ic_error_set(err, "teacher weights: internal layout mismatch");
    }
    return 0;
}

/* Where a host pointer of `host` lands in `dev`: the same element offset. */
static float *rebase(const ic_weights *host, const ic_weights *dev, const float *p) {
    if (!p) return NULL;
    size_t off = (size_t)(p - host->block) * ic_dtype_size(dev->dt);
    return (float *)((char *)dev->block + off);
}

int ic_weights_to_ctx(const ic_weights *host, ic_ctx *ctx, ic_weights *dev, ic_error *err) {
    IC_ASSERT(host->ctx == NULL && host->dt == IC_F32);
    memset(dev, 0, sizeof *dev);
    dev->cfg = host->cfg;
    dev->n_floats = host->n_floats;
    dev->ctx = ctx;
    dev->dt = ctx->act_dtype;
    IC_ASSERT(dev->dt == IC_F32 || dev->dt == IC_BF16);
    const size_t es = ic_dtype_size(dev->dt);
    dev->block = ic_buf_alloc(ctx, host->n_floats * es);
    dev->layers = calloc((size_t)host->cfg.n_layers, sizeof *dev->layers);
    /* conversion goes through one host chunk of 4M elements */
    const size_t chunk = (size_t)4 << 20;
    uint16_t *stage = dev->dt == IC_BF16 ? malloc(chunk * sizeof *stage) : NULL;
    if (!dev->block || !dev->layers || (dev->dt == IC_BF16 && !stage)) {
        free(stage);
        ic_weights_free(dev);
        return ic_error_set(err, "teacher weights: out of %s memory for %zu MiB",
                            ctx->backend == IC_BACKEND_CUDA ? "GPU" : "host",
                            host->n_floats * es >> 20);
    }
    for (size_t i = 0; i < host->n_floats; i += chunk) {
        size_t n = host->n_floats - i < chunk ? host->n_floats - i : chunk;
        if (dev->dt == IC_F32) {
            ic_buf_upload(ctx, (char *)dev->block + i * es, host->block + i, n * es);
        } else {
            for (size_t j = 0; j < n; j++) stage[j] = ic_f32_to_bf16(host->block[i + j]);
            ic_buf_upload(ctx, (char *)dev->block + i * es, stage, n * es);
        }
    }
    free(stage);
    dev->embed = rebase(host, dev, host->embed);
    dev->lm_head = rebase(host, dev, host->lm_head);
    dev->final_norm = rebase(host, dev, host->final_norm);
    for (int l = 0; l < host->cfg.n_layers; l++) {
        const ic_layer_weights *h = &host->layers[l];
        ic_layer_weights *d = &dev->layers[l];
        d->attn_norm = rebase(host, dev, h->attn_norm);
        d->wq = rebase(host, dev, h->wq);
        d->wk = rebase(host, dev, h->wk);
        d->wv = rebase(host, dev, h->wv);
        d->bq = rebase(host, dev, h->bq);
        d->bk = rebase(host, dev, h->bk);
        d->bv = rebase(host, dev, h->bv);
        d->wo = rebase(host, dev, h->wo);
        d->mlp_norm = rebase(host, dev, h->mlp_norm);
        d->w_gate = rebase(host, dev, h->w_gate);
        d->w_up = rebase(host, dev, h->w_up);
        d->w_down = rebase(host, dev, h->w_down);
    }
    return 0;
}

int ic_weights_on_ctx(const ic_weights *host, ic_ctx *ctx, ic_weights *dev,
                      const ic_weights **use, ic_error *err) {
    memset(dev, 0, sizeof *dev);
    if (ctx->backend == IC_BACKEND_CPU && ctx->act_dtype == IC_F32) {
        *use = host;
        return 0;
    }
    if (ic_weights_to_ctx(host, ctx, dev, err) != 0) return -1;
    *use = dev;
    return 0;
}

void ic_weights_free(ic_weights *w) {
    if (w->ctx) ic_buf_free(w->ctx, w->block);
    else ic_aligned_free(w->block);
    free(w->layers);
    memset(w, 0, sizeof *w);
}

int ic_weights_tensors(const ic_weights *w, ic_weight_entry *out, int cap) {
    const ic_config *c = &w->cfg;
    long long D = c->hidden_size, F = c->intermediate_size, V = c->vocab_size;
    long long qd = (long long)c->n_heads * c->head_dim, kd = (long long)c->n_kv_heads * c->head_dim;
    int n = 0;
#define ADD(dst_, r_, c_, ...) do { if (n < cap) { \
        ic_weight_entry *e = &out[n]; snprintf(e->name, sizeof e->name, __VA_ARGS__); \
        e->dst = (dst_); e->ndim = (c_) > 0 ? 2 : 1; e->shape[0] = (r_); e->shape[1] = (c_); } \
        n++; } while (0)
    ADD(w->embed, V, D, "model.embed_tokens.weight");
    if (!c->tie_word_embeddings) ADD(w->lm_head, V, D, "lm_head.weight");
    ADD(w->final_norm, D, 0, "model.norm.weight");
    for (int l = 0; l < c->n_layers; l++) {
        const ic_layer_weights *lw = &w->layers[l];
        ADD(lw->attn_norm, D, 0, "model.layers.%d.input_layernorm.weight", l);
        ADD(lw->wq, qd, D, "model.layers.%d.self_attn.q_proj.weight", l);
        ADD(lw->wk, kd, D, "model.layers.%d.self_attn.k_proj.weight", l);
        ADD(lw->wv, kd, D, "model.layers.%d.self_attn.v_proj.weight", l);
        if (c->attention_bias) {
            ADD(lw->bq, qd, 0, "model.layers.%d.self_attn.q_proj.bias", l);
            ADD(lw->bk, kd, 0, "model.layers.%d.self_attn.k_proj.bias", l);
            ADD(lw->bv, kd, 0, "model.layers.%d.self_attn.v_proj.bias", l);
        }
        ADD(lw->wo, D, qd, "model.layers.%d.self_attn.o_proj.weight", l);
        ADD(lw->mlp_norm, D, 0, "model.layers.%d.post_attention_layernorm.weight", l);
        ADD(lw->w_gate, F, D, "model.layers.%d.mlp.gate_proj.weight", l);
        ADD(lw->w_up, F, D, "model.layers.%d.mlp.up_proj.weight", l);
        ADD(lw->w_down, D, F, "model.layers.%d.mlp.down_proj.weight", l);
    }
#undef ADD
    return n;
}
