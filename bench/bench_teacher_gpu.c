/* The whole dense teacher on a CUDA context (model/ic_teacher.h), on the
 * model dir in $IC_MODEL_DIR (SmolLM2-135M in the device call), weights in
 * the context's dtype (bf16) through ic_weights_on_ctx, as eval and
 * generate run it. Issue 10, item 6, first and third bullets.
 *
 * prefill: what eval does on the GPU (embed + every layer + the LM-head
 *   loss with the next tokens as targets) at L x B = 2048 x 16, 8192 x 4,
 *   32768 x 1, B windows of random token ids (fixed seed). The compared
 *   figure ("tok_per_s") is eval's path: the B windows as one batched
 *   forward replayed from a CUDA graph (model/ic_teacher_batch.h; the
 *   upload of the tokens and the read-back of the per-token losses
 *   included). One warm-up call (eager + record), then the median of
 *   PREFILL_REPS calls, each between two ic_ctx_sync. Beside it, where the
 *   time goes (medians of PREFILL_REPS, same bracketing):
 *     layers   the same batched graph without the LM head ("layers_tok_per_s")
 *     eager    the batched forward with the head, no graph (the graph's gain)
 *     window   the per-window path, B calls of ic_teacher_embed +
 *              ic_teacher_layers + ic_teacher_loss (each ends in a sync):
 *              what eval ran before the batched path
 *     attn     n_layers calls of the batched attention alone on the
 *              state's q, k, v (cuDNN SDPA over B windows)
 *   head % = (full - layers) / full; attn % = attn / full.
 * decode: one KV cache; filled token by token (ic_teacher_decode_step, as
 *   generate's "prefill through the cache") to 1K, then 128 timed steps;
 *   rewound to 1K (kc.T) and timed again, median of DECODE_REPS; then filled
 *   on to 8K and the same. Each step includes the download of the fp32
 *   logits to the host, as in generate (argmax on the host is left out).
 *
 * Prints a table; writes $IC_OUT/teacher_ic.json (not written when IC_OUT is
 * unset), which bench/gpu_teacher_torch.py, run after it by bench/gpu_run.sh,
 * reads for the ours / transformers ratios. Exit 77 without a GPU or without
 * IC_MODEL_DIR; exit 1 when the model does not load or an op fails.
 * IC_BENCH_DRY=1 checks the harness where there is no GPU: a CPU context and
 * tiny sizes (L x B = 64 x 2, 128 x 1; decode at 32 and 64, 4 steps); its
 * figures mean nothing. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/ic_error.h"
#include "kernels/ic_ctx.h"
#include "kernels/ic_attention.h"
#include "model/ic_teacher.h"
#include "model/ic_teacher_batch.h"
#include "model/ic_weights.h"

#define PREFILL_REPS 7
#define DECODE_REPS 3
static int n_decode_steps = 128;   /* timed decode steps (4 in a dry run) */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static uint32_t lcg(uint32_t *s) {
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

static void die(const char *what, const ic_error *err) {
    fprintf(stderr, "bench_teacher_gpu: %s: %s\n", what, err->msg);
    exit(1);
}

typedef struct {
    int L, B;
    double full_s, layers_s;   /* batched + graph, with and without the head: medians */
    double eager_s, window_s, attn_s;   /* the breakdown (see the header) */
    double loss, window_loss;  /* mean nll of the last batched / per-window run */
    long replays;              /* graph replays counted by the batch state */
} prefill_row;

typedef struct {
    int context;
    double fill_s;             /* the fill up to `context` from the previous row's */
    int fill_tokens;
    double step_s;             /* median over DECODE_REPS of n_decode_steps steps */
} decode_row;

/* One pass over the batch; with_head: the LM-head loss too (as eval). */
static double run_batch(ic_ctx *ctx, const ic_weights *w, ic_teacher_state *st, float *hidden,
                        const int32_t *tok, int L, int B, int with_head, double *mean_nll) {
    ic_error err = {0};
    const ic_config *c = &w->cfg;
    double sum = 0.0;
    long n = 0;
    ic_ctx_sync(ctx);
    double t0 = now_s();
    for (int b = 0; b < B; b++) {
        const int32_t *t = tok + (size_t)b * (L + 1);
        if (ic_teacher_embed(ctx, w, t, L, hidden, &err) != 0 ||
            ic_teacher_layers(w, st, hidden, L, 0, c->n_layers, NULL, &err) != 0)
            die("prefill", &err);
        if (with_head) {
            double s;
            long k;
            ic_teacher_loss(w, st, hidden, L, t + 1, &s, &k);
            sum += s;
            n += k;
        }
    }
    ic_ctx_sync(ctx);
    double sec = now_s() - t0;
    if (mean_nll) *mean_nll = n ? sum / (double)n : NAN;
    return sec;
}

/* One batched call of all B windows (tok: B*(L+1) ids, window b at
 * b*(L+1)); with_head: the loss, as eval. */
static double run_batched(ic_ctx *ctx, const ic_weights *w, ic_teacher_batch *tb,
                          const int32_t *in, const int32_t *tgt, int L, int B, int with_head,
                          double *mean_nll) {
    ic_error err = {0};
    double sum = 0.0;
    long n = 0;
    ic_ctx_sync(ctx);
    double t0 = now_s();
    if (ic_teacher_batch_run(w, tb, in, with_head ? tgt : NULL, B, L, &sum, &n, &err) != 0)
        die("batched prefill", &err);
    ic_ctx_sync(ctx);
    double sec = now_s() - t0;
    if (mean_nll) *mean_nll = n ? sum / (double)n : NAN;
    return sec;
}

/* n_layers calls of the batched attention on the state's buffers. */
static double run_attention(ic_ctx *ctx, const ic_config *c, ic_teacher_batch *tb, int L, int B) {
    ic_ctx_sync(ctx);
    double t0 = now_s();
    for (int l = 0; l < c->n_layers; l++)
        ic_attention_forward_batch_dt(ctx, tb->st.dt, tb->st.att, tb->st.lse, tb->st.q,
                                      tb->st.k, tb->st.v, B, L, c->n_heads, c->n_kv_heads,
                                      c->head_dim);
    ic_ctx_sync(ctx);
    return now_s() - t0;
}

static void bench_prefill(ic_ctx *ctx, const ic_weights *w, prefill_row *r) {
    ic_error err = {0};
    const ic_config *c = &w->cfg;
    const int L = r->L, B = r->B;
    ic_teacher_state st;
    if (ic_teacher_state_init(&st, ctx, c, L, &err) != 0) die("teacher state", &err);
    ic_teacher_batch tb;
    if (ic_teacher_batch_init(&tb, ctx, c, B, L, 1, &err) != 0) die("teacher batch", &err);
    const int graph_on = tb.use_graph;   /* 0 on the CPU (a dry run) */
    float *hidden = ic_buf_alloc(ctx, sizeof(float) * (size_t)L * c->hidden_size);
    int32_t *tok = malloc(sizeof(int32_t) * (size_t)B * (L + 1));
    int32_t *in = malloc(sizeof(int32_t) * (size_t)B * L), *tgt = malloc(sizeof(int32_t) * (size_t)B * L);
    if (!hidden || !tok || !in || !tgt) {
        fprintf(stderr, "bench_teacher_gpu: out of memory at L = %d\n", L);
        exit(1);
    }
    uint32_t seed = 12345u + (uint32_t)L;
    for (size_t i = 0; i < (size_t)B * (L + 1); i++)
        tok[i] = (int32_t)(lcg(&seed) % (uint32_t)c->vocab_size);
    for (int b = 0; b < B; b++)   /* the same windows and targets as the per-window path */
        for (int t = 0; t < L; t++) {
            in[(size_t)b * L + t] = tok[(size_t)b * (L + 1) + t];
            tgt[(size_t)b * L + t] = tok[(size_t)b * (L + 1) + t + 1];
        }
    double full[PREFILL_REPS], layers[PREFILL_REPS], eager[PREFILL_REPS], window[PREFILL_REPS];
    double attn[PREFILL_REPS];
    /* warm-up: one window each way (plans, cuBLASLt heuristics, cuDNN graphs),
     * and each batched shape once (eager + record) */
    run_batch(ctx, w, &st, hidden, tok, L, 1, 1, NULL);
    run_batched(ctx, w, &tb, in, tgt, L, B, 1, NULL);
    run_batched(ctx, w, &tb, in, tgt, L, B, 0, NULL);
    tb.use_graph = 0;
    run_batched(ctx, w, &tb, in, tgt, L, B, 1, NULL);
    tb.use_graph = graph_on;
    if (tb.graph_failed)
        printf("note: L=%d: the CUDA graph was not recorded (%s): 'ours' is eager\n", L,
               tb.graph_why);
    const long replays0 = tb.n_replays;
    for (int i = 0; i < PREFILL_REPS; i++) {
        full[i] = run_batched(ctx, w, &tb, in, tgt, L, B, 1, &r->loss);
        layers[i] = run_batched(ctx, w, &tb, in, tgt, L, B, 0, NULL);
        tb.use_graph = 0;
        eager[i] = run_batched(ctx, w, &tb, in, tgt, L, B, 1, NULL);
        tb.use_graph = graph_on;
        window[i] = run_batch(ctx, w, &st, hidden, tok, L, B, 1, &r->window_loss);
        attn[i] = run_attention(ctx, c, &tb, L, B);
    }
    r->replays = tb.n_replays - replays0;
    r->full_s = median(full, PREFILL_REPS);
    r->layers_s = median(layers, PREFILL_REPS);
    r->eager_s = median(eager, PREFILL_REPS);
    r->window_s = median(window, PREFILL_REPS);
    r->attn_s = median(attn, PREFILL_REPS);
    free(tok);
    free(in);
    free(tgt);
    ic_buf_free(ctx, hidden);
    ic_teacher_batch_free(&tb);
    ic_teacher_state_free(&st);
}

static double decode_steps(const ic_weights *w, ic_kv_cache *kc, int n, uint32_t *seed,
                           float *logits) {
    ic_error err = {0};
    ic_ctx_sync(kc->ctx);
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        int32_t t = (int32_t)(lcg(seed) % (uint32_t)w->cfg.vocab_size);
        if (ic_teacher_decode_step(w, kc, t, logits, &err) != 0) die("decode step", &err);
    }
    ic_ctx_sync(kc->ctx);   /* the step already waited for its logits; kept for symmetry */
    return now_s() - t0;
}

static void bench_decode(ic_ctx *ctx, const ic_weights *w, decode_row *rows, int n_rows) {
    ic_error err = {0};
    const int T_max = rows[n_rows - 1].context + n_decode_steps;
    ic_kv_cache kc;
    if (ic_kv_cache_init(&kc, ctx, &w->cfg, T_max, &err) != 0) die("KV cache", &err);
    float *logits = malloc(sizeof(float) * (size_t)w->cfg.vocab_size);
    if (!logits) { fprintf(stderr, "bench_teacher_gpu: out of memory\n"); exit(1); }
    uint32_t seed = 777u;
    for (int r = 0; r < n_rows; r++) {
        const int ctx_len = rows[r].context;
        rows[r].fill_tokens = ctx_len - kc.T;
        rows[r].fill_s = decode_steps(w, &kc, ctx_len - kc.T, &seed, logits);
        double t[DECODE_REPS];
        for (int i = 0; i < DECODE_REPS; i++) {
            kc.T = ctx_len;   /* rewind: the timed steps overwrite the same positions */
            t[i] = decode_steps(w, &kc, n_decode_steps, &seed, logits);
        }
        kc.T = ctx_len;
        rows[r].step_s = median(t, DECODE_REPS);
    }
    free(logits);
    ic_kv_cache_free(&kc);
}

int main(void) {
    ic_error err = {0};
    const char *model_dir = getenv("IC_MODEL_DIR");
    const char *dry_env = getenv("IC_BENCH_DRY");
    const int dry = dry_env && *dry_env && strcmp(dry_env, "0") != 0;
    ic_ctx ctx;
    if (ic_ctx_init(&ctx, dry ? IC_BACKEND_CPU : IC_BACKEND_CUDA, 0, 0, &err) != 0) {
        printf("SKIP: no CUDA context: %s\n", err.msg);
        return 77;
    }
    if (!model_dir || !*model_dir) {
        printf("SKIP: IC_MODEL_DIR is not set (an imported model dir: config.json, "
               "model.safetensors)\n");
        ic_ctx_free(&ctx);
        return 77;
    }
    ic_weights host, dev;
    const ic_weights *w = NULL;
    memset(&dev, 0, sizeof dev);
    double t0 = now_s();
    if (ic_weights_load(&host, model_dir, &err) != 0) die(model_dir, &err);
    if (ic_weights_on_ctx(&host, &ctx, &dev, &w, &err) != 0) die("weights to the context", &err);
    ic_ctx_sync(&ctx);
    const double load_s = now_s() - t0;
    const ic_config *c = &w->cfg;
    printf("%s\n", ctx.desc);
    printf("model %s: %d layers, D %d, H %d, Hkv %d, d %d, F %d, V %d; weights %s on the "
           "device (load + convert %.1f s)\n", model_dir, c->n_layers, c->hidden_size,
           c->n_heads, c->n_kv_heads, c->head_dim, c->intermediate_size, c->vocab_size,
           w->dt == IC_BF16 ? "bf16" : "fp32", load_s);

    prefill_row pre[3] = {{.L = 2048, .B = 16}, {.L = 8192, .B = 4}, {.L = 32768, .B = 1}};
    decode_row dec[2] = {{1024, 0, 0, 0}, {8192, 0, 0, 0}};
    int n_pre = 3;
    if (dry) {
        printf("IC_BENCH_DRY: a CPU context and tiny sizes (a check of the harness)\n");
        pre[0].L = 64, pre[0].B = 2, pre[1].L = 128, pre[1].B = 1, n_pre = 2;
        dec[0].context = 32, dec[1].context = 64;
        n_decode_steps = 4;
    }
    printf("\nprefill (embed + layers + LM-head loss, as eval: B windows batched, CUDA graph), "
           "median of %d\n", PREFILL_REPS);
    printf("%6s %3s %10s %10s %10s %12s %8s %10s %10s %10s %8s %8s %8s\n", "L", "B", "ms/batch",
           "tok/s", "layers ms", "layers tok/s", "head %", "eager ms", "window ms", "attn ms",
           "attn %", "loss", "win loss");
    for (int i = 0; i < n_pre; i++) {
        bench_prefill(&ctx, w, &pre[i]);
        const double ntok = (double)pre[i].L * pre[i].B;
        printf("%6d %3d %10.2f %10.0f %10.2f %12.0f %7.1f%% %10.2f %10.2f %10.2f %7.1f%% %8.3f "
               "%8.3f\n", pre[i].L, pre[i].B, pre[i].full_s * 1e3, ntok / pre[i].full_s,
               pre[i].layers_s * 1e3, ntok / pre[i].layers_s,
               100.0 * (pre[i].full_s - pre[i].layers_s) / pre[i].full_s, pre[i].eager_s * 1e3,
               pre[i].window_s * 1e3, pre[i].attn_s * 1e3, 100.0 * pre[i].attn_s / pre[i].full_s,
               pre[i].loss, pre[i].window_loss);
        if (!dry && pre[i].replays != 2 * PREFILL_REPS)
            printf("note: L=%d: %ld graph replays in the timed runs, %d expected\n", pre[i].L,
                   pre[i].replays, 2 * PREFILL_REPS);
        fflush(stdout);
    }

    bench_decode(&ctx, w, dec, 2);
    printf("\ndecode (%d steps incl. the fp32 logits to the host, median of %d); fill = the same "
           "steps filling the cache\n", n_decode_steps, DECODE_REPS);
    printf("%8s %12s %12s %14s %14s\n", "context", "ms/step", "tok/s", "fill tokens",
           "fill tok/s");
    for (int i = 0; i < 2; i++)
        printf("%8d %12.3f %12.1f %14d %14.1f\n", dec[i].context,
               dec[i].step_s * 1e3 / n_decode_steps, n_decode_steps / dec[i].step_s,
               dec[i].fill_tokens, dec[i].fill_tokens / dec[i].fill_s);

    const char *out_dir = getenv("IC_OUT");
    if (out_dir && *out_dir) {
        char path[4096];
        snprintf(path, sizeof path, "%s/teacher_ic.json", out_dir);
        FILE *js = fopen(path, "w");
        if (!js) {
            fprintf(stderr, "bench_teacher_gpu: cannot write %s\n", path);
            return 1;
        }
        fprintf(js, "{\"device\": \"%s\", \"model_dir\": \"%s\", \"dtype\": \"%s\",\n"
                    " \"prefill_reps\": %d, \"decode_reps\": %d, \"decode_steps\": %d,\n"
                    " \"prefill\": [\n", ctx.desc, model_dir, w->dt == IC_BF16 ? "bf16" : "f32",
                PREFILL_REPS, DECODE_REPS, n_decode_steps);
        for (int i = 0; i < n_pre; i++) {
            const double ntok = (double)pre[i].L * pre[i].B;
            fprintf(js, "  {\"L\": %d, \"B\": %d, \"path\": \"batched+graph\", \"s\": %.6f, "
                        "\"tok_per_s\": %.1f, \"layers_s\": %.6f, \"layers_tok_per_s\": %.1f, "
                        "\"loss\": %.5f, \"eager_s\": %.6f, \"eager_tok_per_s\": %.1f, "
                        "\"window_s\": %.6f, \"window_tok_per_s\": %.1f, \"window_loss\": %.5f, "
                        "\"attn_s\": %.6f, \"graph_replays\": %ld}%s\n",
                    pre[i].L, pre[i].B, pre[i].full_s, ntok / pre[i].full_s, pre[i].layers_s,
                    ntok / pre[i].layers_s, pre[i].loss, pre[i].eager_s, ntok / pre[i].eager_s,
                    pre[i].window_s, ntok / pre[i].window_s, pre[i].window_loss, pre[i].attn_s,
                    pre[i].replays, i < n_pre - 1 ? "," : "");
        }
        fprintf(js, " ],\n \"decode\": [\n");
        for (int i = 0; i < 2; i++)
            fprintf(js, "  {\"context\": %d, \"steps\": %d, \"s\": %.6f, \"tok_per_s\": %.2f, "
                        "\"fill_tokens\": %d, \"fill_s\": %.6f, \"fill_tok_per_s\": %.2f}%s\n",
                    dec[i].context, n_decode_steps, dec[i].step_s, n_decode_steps / dec[i].step_s,
                    dec[i].fill_tokens, dec[i].fill_s, dec[i].fill_tokens / dec[i].fill_s,
                    i < 1 ? "," : "");
        fprintf(js, " ]}\n");
        fclose(js);
        printf("wrote %s\n", path);
    }
    ic_weights_free(&dev);
    ic_weights_free(&host);
    ic_ctx_free(&ctx);
    return 0;
}
