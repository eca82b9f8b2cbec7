/* The teacher forward on the op API (see ic_teacher.h). */
#include <stdlib.h>
#include <string.h>

#include "ic_check.h"
#include "kernels/ic_attention.h"
#include "kernels/ic_cross_entropy.h"
#include "kernels/ic_ctx.h"
#include "kernels/ic_elementwise.h"
#include "kernels/ic_embedding.h"
#include "kernels/ic_matmul.h"
#include "kernels/ic_rmsnorm.h"
#include "kernels/ic_rope.h"
#include "kernels/ic_swiglu.h"
#include "kernels/ic_validate.h"
#include "model/ic_teacher.h"

/* Elements of each state buffer, in declaration order. x_norm .. logits are
 * in the context's activation dtype (s->dt), lse and nll fp32 always. */
enum { N_BUFS = 11, LSE_BUF = 5, NLL_BUF = 10 };
static void state_sizes(const ic_config *c, int L, int head_rows, size_t sz[N_BUFS]) {
    size_t D = c->hidden_size, F = c->intermediate_size;
    size_t qd = (size_t)c->n_heads * c->head_dim, kd = (size_t)c->n_kv_heads * c->head_dim;
    sz[0] = L * D; sz[1] = L * qd; sz[2] = L * kd; sz[3] = L * kd; sz[4] = L * qd;
    sz[5] = (size_t)c->n_heads * L; sz[6] = L * D; sz[7] = L * F; sz[8] = L * F;
    sz[9] = (size_t)head_rows * c->vocab_size; sz[10] = L;
}

/* A pointer n elements of dtype dt past p: the teacher's buffers hold s->dt
 * elements (bf16 on CUDA), so plain float pointer arithmetic would be wrong. */
static void *at(const void *p, size_t n, ic_dtype dt) {
    return (char *)p + n * ic_dtype_size(dt);
}

size_t ic_teacher_state_bytes(const ic_config *cfg, int L_max) {
    size_t sz[N_BUFS], n = 0;
    state_sizes(cfg, L_max, IC_TEACHER_HEAD_BLOCK, sz);
    for (int i = 0; i < N_BUFS; i++) n += sz[i];
    return n * sizeof(float);
}

int ic_teacher_head_rows(const ic_ctx *ctx, const ic_config *cfg, int L_max) {
    if (ctx->backend == IC_BACKEND_CPU) return 0;   /* fused head + loss: no logits buffer */
    size_t row = (size_t)cfg->vocab_size * ic_dtype_size(ctx->act_dtype);
    size_t rows = IC_TEACHER_HEAD_BYTES_CUDA / (row ? row : 1);
    size_t cap = ((size_t)L_max + 63) / 64 * 64;
    rows = rows < cap ? rows : cap;
    rows = rows / 64 * 64;
    return rows < 64 ? 64 : (int)rows;
}

size_t ic_teacher_workspace_bytes(const ic_ctx *ctx, const ic_config *cfg, int L_max) {
    size_t a = ic_attention_workspace_bytes(ctx, L_max, cfg->n_heads, cfg->n_kv_heads,
                                            cfg->head_dim);
    size_t r = ic_rope_workspace_bytes(ctx, cfg->head_dim);
    size_t v = ic_index_sets_check_workspace_bytes(ctx, L_max);
    size_t m = a > r ? a : r;
    m = m > v ? m : v;
    size_t g = ic_matmul_accumulate_workspace_bytes(ctx, L_max, cfg->hidden_size);
    m = m > g ? m : g;
    size_t h = ic_lm_head_loss_workspace_bytes(ctx, L_max, cfg->vocab_size, cfg->hidden_size);
    m = m > h ? m : h;
    /* the loss's targets sit in the workspace (on the device for CUDA) below
     * every op of the LM head, so they add to the largest op's need */
    return m + ic_ws_round(sizeof(int32_t) * (size_t)L_max);
}

int ic_teacher_state_init(ic_teacher_state *s, ic_ctx *ctx, const ic_config *cfg, int L_max,
                          ic_error *err) {
    memset(s, 0, sizeof *s);
    s->ctx = ctx;
    s->dt = ctx->act_dtype;
    if (L_max <= 0)
        return ic_error_set(err, "teacher state: sequence length must be positive, got %d", L_max);
    s->head_rows = ic_teacher_head_rows(ctx, cfg, L_max);
    size_t sz[N_BUFS];
    state_sizes(cfg, L_max, s->head_rows, sz);
    float **bufs[N_BUFS] = {&s->x_norm, &s->q, &s->k, &s->v, &s->att, &s->lse, &s->proj,
                            &s->gate, &s->up, &s->logits, &s->nll};
    for (int i = 0; i < N_BUFS; i++) {
        size_t es = i == LSE_BUF || i == NLL_BUF ? sizeof(float) : ic_dtype_size(s->dt);
        *bufs[i] = ic_buf_alloc(ctx, sz[i] * es);
        if (!*bufs[i]) {
            ic_teacher_state_free(s);
            return ic_error_set(err, "teacher state: out of memory for L = %d (%zu MiB)", L_max,
                                ic_teacher_state_bytes(cfg, L_max) >> 20);
        }
    }
    s->L_max = L_max;
    if (ic_ctx_reserve(ctx, ic_teacher_workspace_bytes(ctx, cfg, L_max), err) != 0) {
        ic_teacher_state_free(s);
        return -1;
    }
    return 0;
}

void ic_teacher_state_free(ic_teacher_state *s) {
    float *bufs[N_BUFS] = {s->x_norm, s->q, s->k, s->v, s->att, s->lse, s->proj,
                           s->gate, s->up, s->logits, s->nll};
    if (s->ctx)
        for (int i = 0; i < N_BUFS; i++) ic_buf_free(s->ctx, bufs[i]);
    memset(s, 0, sizeof *s);
}

/* Host token ids into the context's workspace (on the device for CUDA);
 * the caller releases the workspace to `mark` once the op that reads them
 * is queued (stream order keeps them alive long enough). */
static const int32_t *tokens_to_ctx(ic_ctx *ctx, const int32_t *tokens, int L) {
    if (ctx->backend == IC_BACKEND_CPU) return tokens;
    int32_t *d = ic_ws_alloc(ctx, sizeof(int32_t) * (size_t)L, "teacher tokens");
    ic_buf_upload(ctx, d, tokens, sizeof(int32_t) * (size_t)L);
    return d;
}

int ic_teacher_embed(ic_ctx *ctx, const ic_weights *w, const int32_t *tokens, int L,
                     float *hidden, ic_error *err) {
    const ic_config *c = &w->cfg;
    /* tokens come from the host (files, prompts): checked here, where they enter */
    if (ic_tokens_check_host(tokens, L, c->vocab_size, err) != 0) return -1;
    IC_ASSERT(w->dt == ctx->act_dtype);
    size_t mark = ic_ws_mark(ctx);
    const int32_t *t = tokens_to_ctx(ctx, tokens, L);
    ic_embedding_forward_dt(ctx, w->dt, hidden, t, w->embed, L, c->hidden_size, c->vocab_size);
    ic_ws_release(ctx, mark);
    return 0;
}

/* SwiGLU MLP sub-block on x_norm rows; leaves its output in s->proj. */
static void mlp(const ic_layer_weights *lw, const ic_config *c, ic_teacher_state *s, int L) {
    const int D = c->hidden_size, F = c->intermediate_size;
    ic_ctx *ctx = s->ctx;
    const ic_dtype dt = s->dt;
    ic_matmul_forward_dt(ctx, dt, s->gate, s->x_norm, lw->w_gate, NULL, L, F, D);
    ic_matmul_forward_dt(ctx, dt, s->up, s->x_norm, lw->w_up, NULL, L, F, D);
    ic_swiglu_forward_dt(ctx, dt, s->gate, s->gate, s->up, (size_t)L * F);
    /* down_proj adds straight into the residual stream (beta = 1 on CUDA) */
}

int ic_teacher_layers(const ic_weights *w, ic_teacher_state *s, float *hidden, int L,
                      int layer_begin, int layer_end, const ic_teacher_opts *opts,
                      ic_error *err) {
    const ic_config *c = &w->cfg;
    const int D = c->hidden_size, H = c->n_heads, Hkv = c->n_kv_heads, d = c->head_dim;
    const int F = c->intermediate_size;
    ic_ctx *ctx = s->ctx;
    const ic_dtype dt = s->dt;
    if (L <= 0 || L > s->L_max)
        return ic_error_set(err, "teacher: window of %d tokens does not fit the state (max %d)",
                            L, s->L_max);
    if (layer_begin < 0 || layer_end > c->n_layers || layer_begin > layer_end)
        return ic_error_set(err, "teacher: layer range [%d, %d) outside [0, %d)",
                            layer_begin, layer_end, c->n_layers);
    IC_ASSERT(w->dt == dt);
    for (int l = layer_begin; l < layer_end; l++) {
        const ic_layer_weights *lw = &w->layers[l];
        const ic_teacher_saved *sv = opts && opts->save ? &opts->save[l] : NULL;
        ic_rmsnorm_forward_dt(ctx, dt, s->x_norm, hidden, lw->attn_norm, L, D, c->rms_norm_eps);
        /* saved copies are fp32 (a plain copy when dt is fp32) */
        if (sv && sv->x_norm) ic_convert_dt(ctx, IC_F32, sv->x_norm, dt, s->x_norm, (size_t)L * D);
        ic_matmul_forward_dt(ctx, dt, s->q, s->x_norm, lw->wq, lw->bq, L, H * d, D);
        ic_matmul_forward_dt(ctx, dt, s->k, s->x_norm, lw->wk, lw->bk, L, Hkv * d, D);
        ic_matmul_forward_dt(ctx, dt, s->v, s->x_norm, lw->wv, lw->bv, L, Hkv * d, D);
        ic_rope_forward_dt(ctx, dt, s->q, L, H, d, d, 0, c->rope_theta);
        ic_rope_forward_dt(ctx, dt, s->k, L, Hkv, d, d, 0, c->rope_theta);
        if (sv && sv->q) ic_convert_dt(ctx, IC_F32, sv->q, dt, s->q, (size_t)L * H * d);
        if (sv && sv->k) ic_convert_dt(ctx, IC_F32, sv->k, dt, s->k, (size_t)L * Hkv * d);

        int sparse = 0, K = 0;
        const int32_t *idx = NULL, *cnt = NULL;
        if (opts && opts->select) {
            sparse = opts->select(opts->select_ctx, l, dt, s->x_norm, L, &idx, &cnt, &K);
            if (sparse < 0)
                return ic_error_set(err, "teacher: index selection failed at layer %d", l);
            if (sparse && (!opts->sparse_attn || !idx || !cnt || K <= 0))
                return ic_error_set(err, "teacher: layer %d selected sparse attention without "
                                    "an index set (K = %d) or a sparse attention kernel", l, K);
            /* the sets enter the teacher here, from the caller's hook */
            if (sparse && ic_index_sets_check(ctx, idx, cnt, L, K, err) != 0)
                return -1;
        }
        if (sparse)
            opts->sparse_attn(ctx, dt, s->att, s->lse, s->q, s->k, s->v, L, H, Hkv, d, idx, cnt,
                              K);
        else
            ic_attention_forward_dt(ctx, dt, s->att, s->lse, s->q, s->k, s->v, L, H, Hkv, d);
        if (sv && sv->lse) ic_buf_copy(ctx, sv->lse, s->lse, sizeof(float) * (size_t)H * L);

        /* o_proj and down_proj accumulate into the residual stream: hidden +=
         * x W^T is one GEMM with beta = 1 (the CPU adds in a second pass, the
         * same sums) */
        ic_matmul_forward_accumulate_dt(ctx, dt, hidden, s->att, lw->wo, NULL, L, D, H * d);
        ic_rmsnorm_forward_dt(ctx, dt, s->x_norm, hidden, lw->mlp_norm, L, D, c->rms_norm_eps);
        mlp(lw, c, s, L);
        ic_matmul_forward_accumulate_dt(ctx, dt, hidden, s->gate, lw->w_down, NULL, L, D, F);
    }
    return 0;
}

void ic_teacher_logits(const ic_weights *w, ic_teacher_state *s, const float *hidden, int L,
                       float *logits) {
    const ic_config *c = &w->cfg;
    const ic_dtype dt = s->dt;
    IC_ASSERT(L > 0 && L <= s->L_max && w->dt == dt);
    ic_rmsnorm_forward_dt(s->ctx, dt, s->x_norm, hidden, w->final_norm, L, c->hidden_size,
                          c->rms_norm_eps);
    /* the CPU writes all L rows in one GEMM (the caller holds [L, V]), whose
     * threads each pack the head once for their L / threads rows */
    const int hb = s->ctx->backend == IC_BACKEND_CPU ? L : s->head_rows;
    for (int t0 = 0; t0 < L; t0 += hb) {
        int nb = L - t0 < hb ? L - t0 : hb;
        ic_matmul_forward_dt(s->ctx, dt, at(logits, (size_t)t0 * c->vocab_size, dt),
                             at(s->x_norm, (size_t)t0 * c->hidden_size, dt), w->lm_head, NULL,
                             nb, c->vocab_size, c->hidden_size);
    }
}

void ic_teacher_loss(const ic_weights *w, ic_teacher_state *s, const float *hidden, int L,
                     const int32_t *targets, double *sum_nll, long *n_targets) {
    const ic_config *c = &w->cfg;
    const ic_dtype dt = s->dt;
    ic_ctx *ctx = s->ctx;
    IC_ASSERT(L > 0 && L <= s->L_max && w->dt == dt);
    ic_rmsnorm_forward_dt(ctx, dt, s->x_norm, hidden, w->final_norm, L, c->hidden_size,
                          c->rms_norm_eps);
    const size_t mark = ic_ws_mark(ctx);
    const int32_t *tgt = tokens_to_ctx(ctx, targets, L);
    if (ctx->backend == IC_BACKEND_CPU) {
        /* fused (kernels/cpu/lm_head_loss.c): W read once per few hundred
         * rows, each thread streaming its slice of the vocabulary */
        ic_lm_head_loss(ctx, s->nll, s->x_norm, w->lm_head, tgt, L, c->vocab_size,
                        c->hidden_size);
    } else {
        const int hb = s->head_rows;
        for (int t0 = 0; t0 < L; t0 += hb) {
            int nb = L - t0 < hb ? L - t0 : hb;
            ic_matmul_forward_dt(ctx, dt, s->logits,
                                 at(s->x_norm, (size_t)t0 * c->hidden_size, dt), w->lm_head,
                                 NULL, nb, c->vocab_size, c->hidden_size);
            ic_cross_entropy_forward_dt(ctx, dt, s->nll + t0, s->logits, tgt + t0, nb,
                                        c->vocab_size);
        }
    }
    ic_ws_release(ctx, mark);
    /* the sum is reported: the per-token losses come to the host once */
    float *nll = malloc(sizeof(float) * (size_t)L);
    IC_ASSERT(nll != NULL);
    ic_buf_download(ctx, nll, s->nll, sizeof(float) * (size_t)L);
    double sum = 0.0;
    long n = 0;
    for (int t = 0; t < L; t++)
        if (targets[t] >= 0) { sum += nll[t]; n++; }
    free(nll);
    *sum_nll = sum;
    *n_targets = n;
}

/* ---- decoding with a KV cache ------------------------------------------ */

int ic_kv_cache_init(ic_kv_cache *c, ic_ctx *ctx, const ic_config *cfg, int T_max,
                     ic_error *err) {
    memset(c, 0, sizeof *c);
    c->ctx = ctx;
    c->dt = ctx->act_dtype;
    if (T_max <= 0) return ic_error_set(err, "KV cache: capacity must be positive, got %d", T_max);
    const size_t es = ic_dtype_size(c->dt);
    size_t kv = (size_t)cfg->n_layers * T_max * cfg->n_kv_heads * cfg->head_dim;
    size_t D = cfg->hidden_size, qd = (size_t)cfg->n_heads * cfg->head_dim, F = cfg->intermediate_size;
    size_t V = cfg->vocab_size;
    c->k = ic_buf_alloc(ctx, kv * es);
    c->v = ic_buf_alloc(ctx, kv * es);
    c->x = ic_buf_alloc(ctx, D * es);
    c->xn = ic_buf_alloc(ctx, D * es);
    c->q = ic_buf_alloc(ctx, qd * es);
    c->att = ic_buf_alloc(ctx, qd * es);
    c->gate = ic_buf_alloc(ctx, F * es);
    c->up = ic_buf_alloc(ctx, F * es);
    c->logits = ic_buf_alloc(ctx, V * es);
    c->host_logits = malloc(V * es);
    if (!c->k || !c->v || !c->x || !c->xn || !c->q || !c->att || !c->gate || !c->up ||
        !c->logits || !c->host_logits) {
        ic_kv_cache_free(c);
        return ic_error_set(err, "KV cache: out of memory for %d tokens", T_max);
    }
    c->T_max = T_max;
    size_t ws = ic_attention_decode_workspace_bytes(ctx, T_max, cfg->n_heads, cfg->head_dim);
    size_t wr = ic_rope_workspace_bytes(ctx, cfg->head_dim);
    size_t wg = ic_matmul_accumulate_workspace_bytes(ctx, 1, cfg->hidden_size);
    ws = ws > wr ? ws : wr;
    ws = ws > wg ? ws : wg;
    ws = ws > IC_ALIGN ? ws : IC_ALIGN;   /* the token id of a step */
    if (ic_ctx_reserve(ctx, ws, err) != 0) {
        ic_kv_cache_free(c);
        return -1;
    }
    return 0;
}

void ic_kv_cache_free(ic_kv_cache *c) {
    float *b[9] = {c->k, c->v, c->x, c->xn, c->q, c->att, c->gate, c->up, c->logits};
    if (c->ctx)
        for (int i = 0; i < 9; i++) ic_buf_free(c->ctx, b[i]);
    free(c->host_logits);
    memset(c, 0, sizeof *c);
}

int ic_teacher_decode_step(const ic_weights *w, ic_kv_cache *kc, int32_t token, float *logits,
                           ic_error *err) {
    const ic_config *c = &w->cfg;
    const int D = c->hidden_size, H = c->n_heads, Hkv = c->n_kv_heads, d = c->head_dim;
    const int F = c->intermediate_size, V = c->vocab_size;
    ic_ctx *ctx = kc->ctx;
    const ic_dtype dt = kc->dt;
    IC_ASSERT(w->dt == dt);
    if (kc->T >= kc->T_max)
        return ic_error_set(err, "KV cache full (%d tokens)", kc->T_max);
    if (ic_teacher_embed(ctx, w, &token, 1, kc->x, err) != 0) return -1;
    const int pos = kc->T;
    const size_t layer_stride = (size_t)kc->T_max * Hkv * d;
    for (int l = 0; l < c->n_layers; l++) {
        const ic_layer_weights *lw = &w->layers[l];
        void *kl = at(kc->k, l * layer_stride, dt), *vl = at(kc->v, l * layer_stride, dt);
        void *krow = at(kl, (size_t)pos * Hkv * d, dt), *vrow = at(vl, (size_t)pos * Hkv * d, dt);
        ic_rmsnorm_forward_dt(ctx, dt, kc->xn, kc->x, lw->attn_norm, 1, D, c->rms_norm_eps);
        ic_matmul_forward_dt(ctx, dt, kc->q, kc->xn, lw->wq, lw->bq, 1, H * d, D);
        ic_matmul_forward_dt(ctx, dt, krow, kc->xn, lw->wk, lw->bk, 1, Hkv * d, D);
        ic_matmul_forward_dt(ctx, dt, vrow, kc->xn, lw->wv, lw->bv, 1, Hkv * d, D);
        ic_rope_forward_dt(ctx, dt, kc->q, 1, H, d, d, pos, c->rope_theta);
        ic_rope_forward_dt(ctx, dt, krow, 1, Hkv, d, d, pos, c->rope_theta);
        ic_attention_decode_forward_dt(ctx, dt, kc->att, NULL, kc->q, kl, vl, pos + 1, H, Hkv, d);
        ic_matmul_forward_accumulate_dt(ctx, dt, kc->x, kc->att, lw->wo, NULL, 1, D, H * d);
        ic_rmsnorm_forward_dt(ctx, dt, kc->xn, kc->x, lw->mlp_norm, 1, D, c->rms_norm_eps);
        ic_matmul_forward_dt(ctx, dt, kc->gate, kc->xn, lw->w_gate, NULL, 1, F, D);
        ic_matmul_forward_dt(ctx, dt, kc->up, kc->xn, lw->w_up, NULL, 1, F, D);
        ic_swiglu_forward_dt(ctx, dt, kc->gate, kc->gate, kc->up, (size_t)F);
        ic_matmul_forward_accumulate_dt(ctx, dt, kc->x, kc->gate, lw->w_down, NULL, 1, D, F);
    }
    ic_rmsnorm_forward_dt(ctx, dt, kc->xn, kc->x, w->final_norm, 1, D, c->rms_norm_eps);
    ic_matmul_forward_dt(ctx, dt, kc->logits, kc->xn, w->lm_head, NULL, 1, V, D);
    /* the next token is picked on the host: its logits come back as fp32 */
    ic_buf_download_f32(ctx, dt, logits, kc->logits, (size_t)V, kc->host_logits);
    kc->T++;
    return 0;
}
