/* The teacher's prefill over B windows at once, eager or replayed from a
 * CUDA graph (see ic_teacher_batch.h).
 *
 * Why batch: with hidden 576, each GEMM of one 2K window is ~1.4 GFLOP, a
 * few microseconds on an H200, so one window's ~13 launches per layer were
 * bound by the launch rate; over B*L rows every GEMM is B times larger, and
 * cuDNN's SDPA over B windows fills the GPU at 2K (9 heads x 16 query tiles
 * of one window are about one wave of 132 SMs with the causal tail idle).
 * Why the graph: what launch time remains (30 layers x 13 ops, plus the head
 * blocks) is paid once at record time instead of per batch. */
#include <stdlib.h>
#include <string.h>

#include "ic_check.h"
#include "ic_log.h"
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
#include "model/ic_teacher_batch.h"

static void *at(const void *p, size_t n, ic_dtype dt) {
    return (char *)p + n * ic_dtype_size(dt);
}

/* The ops of enqueue() at B windows of L tokens: the largest of attention
 * over the batch, RoPE and the residual GEMMs over B*L rows (their targets
 * live in tb->targets, not in the workspace). (ic_teacher_state_init, which
 * allocates the row buffers, also reserves the one-window need at B*L rows,
 * building one cuDNN plan this path does not use: a few ms, once.) */
size_t ic_teacher_batch_workspace_bytes(ic_ctx *ctx, const ic_config *cfg, int B, int L) {
    const int rows = (int)((long)B * L);
    size_t m = ic_attention_batch_workspace_bytes(ctx, B, L, cfg->n_heads, cfg->n_kv_heads,
                                                  cfg->head_dim);
    size_t r = ic_rope_workspace_bytes(ctx, cfg->head_dim);
    size_t g = ic_matmul_accumulate_workspace_bytes(ctx, rows, cfg->hidden_size);
    size_t mm = ic_matmul_workspace_bytes(ctx);
    size_t h = ic_lm_head_loss_workspace_bytes(ctx, rows, cfg->vocab_size, cfg->hidden_size);
    m = m > h ? m : h;
    m = m > r ? m : r;
    m = m > g ? m : g;
    return m > mm ? m : mm;
}

static void graph_drop(ic_teacher_graph *g) {
    ic_cuda_graph_destroy(g->exec);
    memset(g, 0, sizeof *g);
}

void ic_teacher_batch_free(ic_teacher_batch *tb) {
    if (tb->ctx) {
        for (int i = 0; i < 2; i++) graph_drop(&tb->graph[i]);
        ic_buf_free(tb->ctx, tb->hidden);
        ic_buf_free(tb->ctx, tb->tokens);
        ic_buf_free(tb->ctx, tb->targets);
        ic_teacher_state_free(&tb->st);
    }
    free(tb->nll_host);
    memset(tb, 0, sizeof *tb);
}

int ic_teacher_batch_init(ic_teacher_batch *tb, ic_ctx *ctx, const ic_config *cfg, int B_max,
                          int L_max, int use_graph, ic_error *err) {
    memset(tb, 0, sizeof *tb);
    if (B_max < 1 || L_max < 1)
        return ic_error_set(err, "teacher batch: need at least one window of one token "
                            "(B = %d, L = %d)", B_max, L_max);
    const long rows = (long)B_max * L_max;
    if (rows > (1L << 30) / (cfg->hidden_size > cfg->intermediate_size ? cfg->hidden_size
                                                                       : cfg->intermediate_size))
        return ic_error_set(err, "teacher batch: %d windows of %d tokens are too many rows "
                            "for one forward", B_max, L_max);
    if (ic_teacher_state_init(&tb->st, ctx, cfg, (int)rows, err) != 0) return -1;
    tb->ctx = ctx;
    tb->B_max = B_max;
    tb->L_max = L_max;
    tb->use_graph = use_graph && ctx->backend == IC_BACKEND_CUDA;
    tb->hidden = ic_buf_alloc(ctx, ic_dtype_size(tb->st.dt) * (size_t)rows * cfg->hidden_size);
    tb->tokens = ic_buf_alloc(ctx, sizeof(int32_t) * (size_t)rows);
    tb->targets = ic_buf_alloc(ctx, sizeof(int32_t) * (size_t)rows);
    tb->nll_host = malloc(sizeof(float) * (size_t)rows);
    if (!tb->hidden || !tb->tokens || !tb->targets || !tb->nll_host) {
        ic_teacher_batch_free(tb);
        return ic_error_set(err, "teacher batch: out of memory for %d windows of %d tokens",
                            B_max, L_max);
    }
    if (ic_ctx_reserve(ctx, ic_teacher_batch_workspace_bytes(ctx, cfg, B_max, L_max), err) != 0) {
        ic_teacher_batch_free(tb);
        return -1;
    }
    return 0;
}

/* Queues the whole forward of B windows of L tokens whose ids (and targets,
 * when head) are already in tb->tokens / tb->targets: nothing here syncs,
 * copies from the host or allocates, so it can be recorded as a graph. */
static void enqueue(const ic_weights *w, ic_teacher_batch *tb, int B, int L, int head) {
    const ic_config *c = &w->cfg;
    const int D = c->hidden_size, H = c->n_heads, Hkv = c->n_kv_heads, d = c->head_dim;
    const int F = c->intermediate_size, V = c->vocab_size;
    ic_teacher_state *s = &tb->st;
    ic_ctx *ctx = tb->ctx;
    const ic_dtype dt = s->dt;
    const int R = B * L;
    float *hidden = tb->hidden;
    ic_embedding_forward_dt(ctx, dt, hidden, tb->tokens, w->embed, R, D, V);
    for (int l = 0; l < c->n_layers; l++) {
        const ic_layer_weights *lw = &w->layers[l];
        ic_rmsnorm_forward_dt(ctx, dt, s->x_norm, hidden, lw->attn_norm, R, D, c->rms_norm_eps);
        ic_matmul_forward_dt(ctx, dt, s->q, s->x_norm, lw->wq, lw->bq, R, H * d, D);
        ic_matmul_forward_dt(ctx, dt, s->k, s->x_norm, lw->wk, lw->bk, R, Hkv * d, D);
        ic_matmul_forward_dt(ctx, dt, s->v, s->x_norm, lw->wv, lw->bv, R, Hkv * d, D);
        ic_rope_forward_windows_dt(ctx, dt, s->q, B, L, H, d, d, 0, c->rope_theta);
        ic_rope_forward_windows_dt(ctx, dt, s->k, B, L, Hkv, d, d, 0, c->rope_theta);
        ic_attention_forward_batch_dt(ctx, dt, s->att, s->lse, s->q, s->k, s->v, B, L, H, Hkv, d);
        ic_matmul_forward_accumulate_dt(ctx, dt, hidden, s->att, lw->wo, NULL, R, D, H * d);
        ic_rmsnorm_forward_dt(ctx, dt, s->x_norm, hidden, lw->mlp_norm, R, D, c->rms_norm_eps);
        ic_matmul_forward_dt(ctx, dt, s->gate, s->x_norm, lw->w_gate, NULL, R, F, D);
        ic_matmul_forward_dt(ctx, dt, s->up, s->x_norm, lw->w_up, NULL, R, F, D);
        ic_swiglu_forward_dt(ctx, dt, s->gate, s->gate, s->up, (size_t)R * F);
        ic_matmul_forward_accumulate_dt(ctx, dt, hidden, s->gate, lw->w_down, NULL, R, D, F);
    }
    if (!head) return;
    ic_rmsnorm_forward_dt(ctx, dt, s->x_norm, hidden, w->final_norm, R, D, c->rms_norm_eps);
    if (ctx->backend == IC_BACKEND_CPU) {   /* fused: W read once per few hundred rows */
        ic_lm_head_loss(ctx, s->nll, s->x_norm, w->lm_head, tb->targets, R, V, D);
        return;
    }
    const int hb = s->head_rows;
    for (int t0 = 0; t0 < R; t0 += hb) {
        const int nb = R - t0 < hb ? R - t0 : hb;
        ic_matmul_forward_dt(ctx, dt, s->logits, at(s->x_norm, (size_t)t0 * D, dt), w->lm_head,
                             NULL, nb, V, D);
        ic_cross_entropy_forward_dt(ctx, dt, s->nll + t0, s->logits, tb->targets + t0, nb, V);
    }
}

/* Replays the recorded graph of this shape, or runs eagerly and records it. */
static void run_graph(const ic_weights *w, ic_teacher_batch *tb, int B, int L, int head) {
    ic_ctx *ctx = tb->ctx;
    ic_teacher_graph *g = &tb->graph[head];
    if (g->exec && g->w == w && g->B == B && g->L == L && g->ws_base == ctx->ws.base &&
        g->ws_cap == ctx->ws.cap) {
        ic_cuda_graph_launch(ctx, g->exec);
        tb->n_replays++;
        return;
    }
    graph_drop(g);
    enqueue(w, tb, B, L, head);   /* this call's result; builds every plan the graph needs */
    tb->n_eager++;
    if (ic_cuda_graph_begin(ctx, tb->graph_why, (int)sizeof tb->graph_why) != 0) goto failed;
    enqueue(w, tb, B, L, head);
    if (ic_cuda_graph_end(ctx, &g->exec, tb->graph_why, (int)sizeof tb->graph_why) != 0)
        goto failed;
    g->w = w;
    g->B = B;
    g->L = L;
    g->ws_base = ctx->ws.base;
    g->ws_cap = ctx->ws.cap;
    tb->n_recorded++;
    return;
failed:
    tb->graph_failed = 1;
    ic_log_warn("teacher batch: CUDA graph not recorded (%s); running eagerly", tb->graph_why);
}

int ic_teacher_batch_run(const ic_weights *w, ic_teacher_batch *tb, const int32_t *tokens,
                         const int32_t *targets, int B, int L, double *sum_nll, long *n_targets,
                         ic_error *err) {
    const ic_config *c = &w->cfg;
    ic_ctx *ctx = tb->ctx;
    if (B < 1 || B > tb->B_max || L < 1 || L > tb->L_max)
        return ic_error_set(err, "teacher batch: %d windows of %d tokens do not fit the state "
                            "(at most %d of %d)", B, L, tb->B_max, tb->L_max);
    IC_ASSERT(w->dt == tb->st.dt);
    for (int b = 0; b < B; b++)
        if (ic_tokens_check_host(tokens + (size_t)b * L, L, c->vocab_size, err) != 0)
            return ic_error_wrap(err, "window %d of the batch", b);
    /* a shape other than init's may need more workspace (cuDNN's plan of B) */
    const size_t need = ic_teacher_batch_workspace_bytes(ctx, c, B, L);
    if (need > ctx->ws.cap) {
        if (ctx->ws.used != 0)
            return ic_error_set(err, "teacher batch: %d windows of %d tokens need %zu MiB of "
                                "workspace while some of it is in use", B, L, need >> 20);
        if (ic_ctx_reserve(ctx, need, err) != 0) return -1;
    }
    const size_t R = (size_t)B * L;
    const int head = targets != NULL;
    ic_buf_upload(ctx, tb->tokens, tokens, sizeof(int32_t) * R);
    if (head) ic_buf_upload(ctx, tb->targets, targets, sizeof(int32_t) * R);
    if (tb->use_graph && !tb->graph_failed) run_graph(w, tb, B, L, head);
    else { enqueue(w, tb, B, L, head); tb->n_eager++; }
    if (!head) return 0;
    ic_buf_download(ctx, tb->nll_host, tb->st.nll, sizeof(float) * R);
    double sum = 0.0;
    long n = 0;
    for (size_t t = 0; t < R; t++)
        if (targets[t] >= 0) { sum += tb->nll_host[t]; n++; }
    if (sum_nll) *sum_nll = sum;
    if (n_targets) *n_targets = n;
    return 0;
}
