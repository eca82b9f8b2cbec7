/* The lightning indexer module of one layer (model/ic_indexer.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ic_alloc.h"
#include "ic_check.h"
#include "kernels/ic_ctx.h"
#include "kernels/ic_elementwise.h"
#include "kernels/ic_indexer_scores.h"
#include "kernels/ic_layernorm.h"
#include "kernels/ic_matmul.h"
#include "kernels/ic_rope.h"
#include "kernels/ic_topk.h"
#include "model/ic_indexer.h"

int ic_indexer_dims_from_config(ic_indexer_dims *d, const ic_config *cfg, ic_error *err) {
    IC_ASSERT(d != NULL && cfg != NULL);
    memset(d, 0, sizeof *d);
    if (cfg->hidden_size < 1)
        return ic_error_set(err, "config: hidden_size %d must be >= 1", cfg->hidden_size);
    if (cfg->index_n_heads < 1)
        return ic_error_set(err, "config: index_n_heads %d must be >= 1", cfg->index_n_heads);
    if (cfg->index_head_dim < 2)
        return ic_error_set(err, "config: index_head_dim %d must be >= 2", cfg->index_head_dim);
    if (cfg->index_rope_dim < 2 || cfg->index_rope_dim % 2 != 0 ||
        cfg->index_rope_dim > cfg->index_head_dim)
        return ic_error_set(err, "config: index_rope_dim %d must be even and in 2..index_head_dim (%d)",
                            cfg->index_rope_dim, cfg->index_head_dim);
    if (cfg->index_topk < 1)
        return ic_error_set(err, "config: index_topk %d must be >= 1", cfg->index_topk);
    if (!(cfg->rope_theta > 0.0f))
        return ic_error_set(err, "config: rope_theta %g must be > 0", (double)cfg->rope_theta);
    d->dim = cfg->hidden_size;
    d->n_heads = cfg->index_n_heads;
    d->head_dim = cfg->index_head_dim;
    d->rope_dim = cfg->index_rope_dim;
    d->topk = cfg->index_topk;
    d->rope_theta = cfg->rope_theta;
    return 0;
}

/* ---- parameter / gradient blocks --------------------------------------- */

static size_t block_numel(const ic_indexer_dims *d) {
    const size_t D = (size_t)d->dim, H = (size_t)d->n_heads, dh = (size_t)d->head_dim;
    return H * dh * D + dh * D + 2 * dh + H * D;
}

/* Points the five tensors into data in the order of the header. */
static void carve(float *data, const ic_indexer_dims *d, float **wq, float **wk,
                  float **lnw, float **lnb, float **wp) {
    const size_t D = (size_t)d->dim, H = (size_t)d->n_heads, dh = (size_t)d->head_dim;
    *wq = data;
    *wk = *wq + H * dh * D;
    *lnw = *wk + dh * D;
    *lnb = *lnw + dh;
    *wp = *lnb + dh;
}

static int dims_ok(const ic_indexer_dims *d, ic_error *err) {
    if (d->dim < 1 || d->n_heads < 1 || d->head_dim < 2 || d->rope_dim < 2 ||
        d->rope_dim % 2 || d->rope_dim > d->head_dim || d->topk < 1 || !(d->rope_theta > 0.0f))
        return ic_error_set(err, "indexer dims invalid: D=%d H_I=%d d_I=%d rope_dim=%d topk=%d theta=%g",
                            d->dim, d->n_heads, d->head_dim, d->rope_dim, d->topk,
                            (double)d->rope_theta);
    return 0;
}

int ic_indexer_init(ic_indexer *ix, const ic_indexer_dims *d, ic_error *err) {
    IC_ASSERT(ix != NULL && d != NULL);
    memset(ix, 0, sizeof *ix);
    if (dims_ok(d, err)) return -1;
    ix->dims = *d;
    ix->numel = block_numel(d);
    ix->data = ic_aligned_calloc(sizeof(float) * ix->numel);
    if (!ix->data)
        return ic_error_set(err, "indexer: out of memory for %zu parameters", ix->numel);
    carve(ix->data, d, &ix->wq_b, &ix->wk, &ix->k_norm_weight, &ix->k_norm_bias,
          &ix->weights_proj);
    return 0;
}

void ic_indexer_free(ic_indexer *ix) {
    if (!ix) return;
    if (ix->ctx) ic_buf_free(ix->ctx, ix->data);
    else ic_aligned_free(ix->data);
    memset(ix, 0, sizeof *ix);
}

int ic_indexer_to_ctx(ic_indexer *ix, ic_ctx *ctx, ic_error *err) {
    IC_ASSERT(ix != NULL && ix->data != NULL && ctx != NULL);
    if (ix->ctx == ctx || ctx->backend == IC_BACKEND_CPU) return 0;
    IC_ASSERT(ix->ctx == NULL);   /* from the host only */
    float *d = ic_buf_alloc(ctx, sizeof(float) * ix->numel);
    if (!d)
        return ic_error_set(err, "indexer: out of GPU memory for %zu parameters", ix->numel);
    ic_buf_upload(ctx, d, ix->data, sizeof(float) * ix->numel);
    ic_aligned_free(ix->data);
    ix->ctx = ctx;
    ix->data = d;
    carve(ix->data, &ix->dims, &ix->wq_b, &ix->wk, &ix->k_norm_weight, &ix->k_norm_bias,
          &ix->weights_proj);
    return 0;
}

int ic_indexer_host_copy(const ic_indexer *src, ic_indexer *dst, ic_error *err) {
    IC_ASSERT(src != NULL && src->data != NULL && dst != NULL);
    if (ic_indexer_init(dst, &src->dims, err) != 0) return -1;
    if (src->ctx) ic_buf_download(src->ctx, dst->data, src->data, sizeof(float) * src->numel);
    else memcpy(dst->data, src->data, sizeof(float) * src->numel);
    return 0;
}

int ic_indexers_on_host(const ic_indexer *ix, int n, const ic_indexer **out, ic_error *err) {
    int any = 0;
    for (int l = 0; l < n; l++) any |= ix[l].data && ix[l].ctx;
    *out = ix;
    if (!any) return 0;
    ic_indexer *h = calloc((size_t)n, sizeof *h);
    if (!h) return ic_error_set(err, "indexer: out of host memory for %d copies", n);
    for (int l = 0; l < n; l++)
        if (ix[l].data && ic_indexer_host_copy(&ix[l], &h[l], err) != 0) {
            ic_indexers_host_free(ix, h, n);
            return -1;
        }
    *out = h;
    return 0;
}

void ic_indexers_host_free(const ic_indexer *ix, const ic_indexer *host, int n) {
    if (!host || host == ix) return;
    ic_indexer *h = (ic_indexer *)host;
    for (int l = 0; l < n; l++) ic_indexer_free(&h[l]);
    free(h);
}

int ic_indexer_grads_init(ic_indexer_grads *g, ic_ctx *ctx, const ic_indexer_dims *d,
                          ic_error *err) {
    IC_ASSERT(g != NULL && d != NULL && ctx != NULL);
    memset(g, 0, sizeof *g);
    if (dims_ok(d, err)) return -1;
    g->ctx = ctx;
    g->dims = *d;
    g->numel = block_numel(d);
    g->data = ic_buf_alloc(ctx, sizeof(float) * g->numel);   /* zero-filled */
    g->owned = 1;
    if (!g->data)
        return ic_error_set(err, "indexer grads: out of memory for %zu values", g->numel);
    carve(g->data, d, &g->wq_b, &g->wk, &g->k_norm_weight, &g->k_norm_bias, &g->weights_proj);
    return 0;
}

size_t ic_indexer_block_numel(const ic_indexer_dims *d) { return block_numel(d); }

int ic_indexer_grads_init_view(ic_indexer_grads *g, ic_ctx *ctx, const ic_indexer_dims *d,
                               float *mem, ic_error *err) {
    IC_ASSERT(g != NULL && d != NULL && mem != NULL && ctx != NULL);
    memset(g, 0, sizeof *g);
    if (dims_ok(d, err)) return -1;
    g->ctx = ctx;
    g->dims = *d;
    g->numel = block_numel(d);
    g->data = mem;
    carve(g->data, d, &g->wq_b, &g->wk, &g->k_norm_weight, &g->k_norm_bias, &g->weights_proj);
    return 0;
}

void ic_indexer_grads_free(ic_indexer_grads *g) {
    if (!g) return;
    if (g->ctx && g->owned) ic_buf_free(g->ctx, g->data);
    memset(g, 0, sizeof *g);
}

void ic_indexer_grads_zero(ic_indexer_grads *g) {
    IC_ASSERT(g != NULL && g->data != NULL);
    ic_buf_zero(g->ctx, g->data, sizeof(float) * g->numel);
}

void ic_indexer_grads_accumulate(ic_indexer_grads *dst, const ic_indexer_grads *src) {
    IC_ASSERT(dst != NULL && src != NULL && dst->numel == src->numel);
    IC_ASSERT(memcmp(&dst->dims, &src->dims, sizeof dst->dims) == 0);
    ic_add_inplace(dst->ctx, dst->data, src->data, dst->numel);
}

/* ---- deterministic initialisation --------------------------------------- */

typedef struct { uint64_t s; } init_rng;

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in (0, 1]: never 0, so log() in Box-Muller is finite. */
static double uniform_open0(init_rng *r) {
    return ((double)(splitmix64(&r->s) >> 11) + 1.0) * 0x1.0p-53;
}

static void fill_normal(init_rng *r, float *x, size_t n, double std) {
    const double two_pi = 6.283185307179586476925286766559;
    for (size_t i = 0; i < n; i += 2) {
        const double rad = sqrt(-2.0 * log(uniform_open0(r)));
        const double ang = two_pi * uniform_open0(r);
        x[i] = (float)(std * rad * cos(ang));
        if (i + 1 < n) x[i + 1] = (float)(std * rad * sin(ang));
    }
}

void ic_indexer_init_random(ic_indexer *ix, uint64_t seed, int layer) {
    IC_ASSERT(ix != NULL && ix->data != NULL && layer >= 0);
    IC_ASSERT(ix->ctx == NULL);   /* filled on the host, before ic_indexer_to_ctx */
    const ic_indexer_dims *d = &ix->dims;
    /* Two splitmix steps decorrelate neighbouring (seed, layer) pairs. */
    uint64_t s = seed ^ (0xD1B54A32D192ED03ull * (uint64_t)(layer + 1));
    init_rng r = { splitmix64(&s) };
    const double std = 1.0 / sqrt((double)d->dim);
    fill_normal(&r, ix->wq_b, (size_t)d->n_heads * d->head_dim * d->dim, std);
    fill_normal(&r, ix->wk, (size_t)d->head_dim * d->dim, std);
    fill_normal(&r, ix->weights_proj, (size_t)d->n_heads * d->dim, std);
    for (int i = 0; i < d->head_dim; i++) {
        ix->k_norm_weight[i] = 1.0f;
        ix->k_norm_bias[i] = 0.0f;
    }
}

const char *const ic_indexer_tensor_suffixes[IC_INDEXER_N_TENSORS] = {
    "wq_b.weight", "wk.weight", "k_norm.weight", "k_norm.bias", "weights_proj.weight" };

void ic_indexer_tensors(const ic_indexer *ix, ic_indexer_tensor out[IC_INDEXER_N_TENSORS]) {
    IC_ASSERT(ix != NULL && out != NULL);
    const ic_indexer_dims *d = &ix->dims;
    out[0] = (ic_indexer_tensor){ ic_indexer_tensor_suffixes[0], ix->wq_b, 2,
                                  { (int64_t)d->n_heads * d->head_dim, d->dim } };
    out[1] = (ic_indexer_tensor){ ic_indexer_tensor_suffixes[1], ix->wk, 2, { d->head_dim, d->dim } };
    out[2] = (ic_indexer_tensor){ ic_indexer_tensor_suffixes[2], ix->k_norm_weight, 1, { d->head_dim, 0 } };
    out[3] = (ic_indexer_tensor){ ic_indexer_tensor_suffixes[3], ix->k_norm_bias, 1, { d->head_dim, 0 } };
    out[4] = (ic_indexer_tensor){ ic_indexer_tensor_suffixes[4], ix->weights_proj, 2,
                                  { d->n_heads, d->dim } };
}

void ic_indexer_tensor_name(char *buf, size_t n, int layer, const char *suffix) {
    IC_ASSERT(buf != NULL && suffix != NULL && layer >= 0);
    snprintf(buf, n, "model.layers.%d.self_attn.indexer.%s", layer, suffix);
}

/* ---- activations, forward, backward ------------------------------------- */

size_t ic_indexer_workspace_bytes(const ic_ctx *ctx, const ic_indexer_dims *d, int L_max) {
    size_t rope = ic_rope_workspace_bytes(ctx, d->rope_dim);
    size_t scores = ic_indexer_scores_workspace_bytes(ctx, L_max, d->n_heads, d->head_dim);
    size_t select = ic_indexer_scores_foreach_workspace_bytes(ctx, L_max, d->n_heads, d->head_dim,
                                                              ic_indexer_scores_block_rows(L_max))
                  + ic_topk_workspace_bytes(ctx, L_max);
    size_t ln = ic_layernorm_backward_workspace_bytes(ctx, L_max, d->head_dim);  /* 0 on the CPU */
    size_t m = rope > scores ? rope : scores;
    m = m > ln ? m : ln;
    size_t mm = ic_matmul_workspace_bytes(ctx);   /* cuBLASLt's (0 on the CPU) */
    m = m > mm ? m : mm;
    return m > select ? m : select;
}

int ic_indexer_acts_init(ic_indexer_acts *a, ic_ctx *ctx, const ic_indexer_dims *d, int L_max,
                         ic_error *err) {
    IC_ASSERT(a != NULL && d != NULL && ctx != NULL);
    memset(a, 0, sizeof *a);
    if (dims_ok(d, err)) return -1;
    if (L_max < 1) return ic_error_set(err, "indexer: sequence length %d must be >= 1", L_max);
    a->ctx = ctx;
    a->dims = *d;
    a->L_max = L_max;
    const size_t L = (size_t)L_max, H = (size_t)d->n_heads, dh = (size_t)d->head_dim;
    a->qI = ic_buf_alloc(ctx, sizeof(float) * L * H * dh);
    a->kI = ic_buf_alloc(ctx, sizeof(float) * L * dh);
    a->w = ic_buf_alloc(ctx, sizeof(float) * L * H);
    a->k_pre = ic_buf_alloc(ctx, sizeof(float) * L * dh);
    a->ln_mean = ic_buf_alloc(ctx, sizeof(float) * L);
    a->ln_rstd = ic_buf_alloc(ctx, sizeof(float) * L);
    a->dq_scratch = ic_buf_alloc(ctx, sizeof(float) * L * H * dh);
    a->dk_scratch = ic_buf_alloc(ctx, sizeof(float) * L * 2 * dh);
    a->dw_scratch = ic_buf_alloc(ctx, sizeof(float) * L * H);
    if (!a->qI || !a->kI || !a->w || !a->k_pre || !a->ln_mean || !a->ln_rstd ||
        !a->dq_scratch || !a->dk_scratch || !a->dw_scratch) {
        ic_indexer_acts_free(a);
        return ic_error_set(err, "indexer: out of memory for the activations of %d tokens", L_max);
    }
    if (ic_ctx_reserve(ctx, ic_indexer_workspace_bytes(ctx, d, L_max), err) != 0) {
        ic_indexer_acts_free(a);
        return -1;
    }
    return 0;
}

void ic_indexer_acts_free(ic_indexer_acts *a) {
    if (!a) return;
    if (a->ctx) {
        float *bufs[9] = {a->qI, a->kI, a->w, a->k_pre, a->ln_mean, a->ln_rstd,
                          a->dq_scratch, a->dk_scratch, a->dw_scratch};
        for (int i = 0; i < 9; i++) ic_buf_free(a->ctx, bufs[i]);
    }
    memset(a, 0, sizeof *a);
}

/* H_I^-1/2 * d_I^-1/2, the fixed scale of w (docs/DESIGN.md s3). */
static float w_scale(const ic_indexer_dims *d) {
    return (float)(1.0 / sqrt((double)d->n_heads * (double)d->head_dim));
}

void ic_indexer_forward(const ic_indexer *ix, const float *x, int L, int pos0,
                        ic_indexer_acts *a) {
    IC_ASSERT(ix != NULL && ix->data != NULL && x != NULL && a != NULL);
    IC_ASSERT(memcmp(&ix->dims, &a->dims, sizeof ix->dims) == 0);
    IC_ASSERT(L >= 1 && L <= a->L_max && pos0 >= 0);
    /* the parameters live where the ops run (ic_indexer_to_ctx) */
    IC_ASSERT(ix->ctx ? ix->ctx == a->ctx : a->ctx->backend == IC_BACKEND_CPU);
    const ic_indexer_dims *d = &ix->dims;
    const int D = d->dim, H = d->n_heads, dh = d->head_dim;
    ic_ctx *ctx = a->ctx;
    a->L = L;
    a->pos0 = pos0;
    a->x = x;

    ic_matmul_forward(ctx, a->qI, x, ix->wq_b, NULL, L, H * dh, D);
    ic_rope_forward(ctx, a->qI, L, H, dh, d->rope_dim, pos0, d->rope_theta);

    ic_matmul_forward(ctx, a->k_pre, x, ix->wk, NULL, L, dh, D);
    ic_layernorm_forward(ctx, a->kI, a->ln_mean, a->ln_rstd, a->k_pre, ix->k_norm_weight,
                         ix->k_norm_bias, L, dh, IC_LAYERNORM_EPS);
    ic_rope_forward(ctx, a->kI, L, 1, dh, d->rope_dim, pos0, d->rope_theta);

    ic_matmul_forward(ctx, a->w, x, ix->weights_proj, NULL, L, H, D);
    ic_scale(ctx, a->w, w_scale(d), (size_t)L * H);
}

void ic_indexer_backward(const ic_indexer *ix, ic_indexer_acts *a, const float *dqI,
                         const float *dkI, const float *dw, ic_indexer_grads *g) {
    IC_ASSERT(ix != NULL && a != NULL && a->x != NULL && g != NULL && g->data != NULL);
    IC_ASSERT(dqI != NULL && dkI != NULL && dw != NULL);
    IC_ASSERT(memcmp(&ix->dims, &a->dims, sizeof ix->dims) == 0);
    IC_ASSERT(memcmp(&ix->dims, &g->dims, sizeof ix->dims) == 0);
    const ic_indexer_dims *d = &ix->dims;
    const int L = a->L, D = d->dim, H = d->n_heads, dh = d->head_dim;
    ic_ctx *ctx = a->ctx;

    /* qI branch: undo RoPE, then the projection. */
    float *dq = a->dq_scratch;
    ic_buf_copy(ctx, dq, dqI, sizeof(float) * (size_t)L * H * dh);
    ic_rope_backward(ctx, dq, L, H, dh, d->rope_dim, a->pos0, d->rope_theta);
    ic_matmul_backward(ctx, NULL, g->wq_b, NULL, dq, a->x, ix->wq_b, L, H * dh, D);

    /* kI branch: undo RoPE, LayerNorm, then the projection. */
    float *dk_ln = a->dk_scratch, *dk_pre = a->dk_scratch + (size_t)L * dh;
    ic_buf_copy(ctx, dk_ln, dkI, sizeof(float) * (size_t)L * dh);
    ic_rope_backward(ctx, dk_ln, L, 1, dh, d->rope_dim, a->pos0, d->rope_theta);
    ic_buf_zero(ctx, dk_pre, sizeof(float) * (size_t)L * dh);
    ic_layernorm_backward(ctx, dk_pre, g->k_norm_weight, g->k_norm_bias, dk_ln, a->k_pre,
                          a->ln_mean, a->ln_rstd, ix->k_norm_weight, L, dh);
    ic_matmul_backward(ctx, NULL, g->wk, NULL, dk_pre, a->x, ix->wk, L, dh, D);

    /* w branch: the fixed scale (dp = dw * c, one rounding as before), then
     * the projection. */
    float *dp = a->dw_scratch;
    ic_buf_copy(ctx, dp, dw, sizeof(float) * (size_t)L * H);
    ic_scale(ctx, dp, w_scale(d), (size_t)L * H);
    ic_matmul_backward(ctx, NULL, g->weights_proj, NULL, dp, a->x, ix->weights_proj, L, H, D);
}

/* ---- streaming selection ------------------------------------------------ */

typedef struct { ic_ctx *ctx; int32_t *idx, *cnt; int K; } select_ctx;

static void select_block(void *user, const float *scores, int ld, int t0, int t1) {
    select_ctx *c = user;
    ic_topk_forward(c->ctx, c->idx, c->cnt, scores, ld, t0, t1, c->K);
}

int ic_indexer_select(const ic_indexer_acts *a, int K, int32_t *idx, int32_t *cnt,
                      ic_error *err) {
    IC_ASSERT(a != NULL && a->L >= 1 && idx != NULL && cnt != NULL && K >= 1);
    (void)err;
    select_ctx c = { a->ctx, idx, cnt, K };
    const int rows = ic_indexer_scores_block_rows(a->L);
    return ic_indexer_scores_foreach(a->ctx, a->qI, a->kI, a->w, a->L, a->dims.n_heads,
                                     a->dims.head_dim, rows, select_block, &c);
}
