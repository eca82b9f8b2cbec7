/* The whole SmolLM2 teacher on the GPU against the CPU reference, on real
 * text (Genesis 1:1-5, KJV, public domain) tokenized by the model's own
 * tokenizer:
 *   - prefill logits [L, V]: bf16 storage (the CUDA default) and fp32
 *     storage (IC_CUDA_FP32=1; cuDNN's attention still rounds q, k, v
 *     through bf16) against the CPU's fp32 logits;
 *   - the mean next-token loss of the window (ic_teacher_loss, the LM head
 *     in row blocks + the cross-entropy op) against the CPU's;
 *   - the KV-cache decode step on the GPU: feeding the same tokens one by
 *     one gives the prefill's last-row logits.
 * Tolerances (stated; the figures are printed):
 *   bf16: relative Frobenius error of the logits <= 5e-2, next-token argmax
 *         agreement >= 90% of the rows, |mean loss difference| <= 2e-2;
 *   fp32: <= 1e-2, >= 97%, <= 5e-3;
 *   decode vs prefill (bf16, both on the GPU): <= 5e-2 and the same argmax.
 * Needs IC_MODEL_DIR (an `indexcache import` of SmolLM2) and a GPU; exits
 * 77 naming what is missing. Plain main, no Check. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/ic_tokenizer.h"
#include "kernels/ic_ctx.h"
#include "model/ic_teacher.h"
#include "model/ic_weights.h"

static const char *k_text =
    "In the beginning God created the heaven and the earth. And the earth was without form, "
    "and void; and darkness was upon the face of the deep. And the Spirit of God moved upon the "
    "face of the waters. And God said, Let there be light: and there was light. And God saw the "
    "light, that it was good: and God divided the light from the darkness. And God called the "
    "light Day, and the darkness he called Night. And the evening and the morning were the first "
    "day.";

static int g_failed;

static void die(const char *what, const ic_error *err) {
    fprintf(stderr, "%s: %s\n", what, err->msg);
    exit(1);
}

typedef struct {
    float *logits;  /* [L, V] fp32, host */
    double loss;    /* mean next-token loss over L-1 targets */
} fwd_out;

/* Prefill of tokens [L] on ctx: logits and the loss, both back on the host. */
static fwd_out forward(ic_ctx *ctx, const ic_weights *host_w, const int32_t *tok, int L) {
    ic_error err = {0};
    ic_weights wdev;
    const ic_weights *w;
    if (ic_weights_on_ctx(host_w, ctx, &wdev, &w, &err)) die("weights", &err);
    const ic_config *c = &w->cfg;
    ic_teacher_state st;
    if (ic_teacher_state_init(&st, ctx, c, L, &err)) die("state", &err);
    const size_t nl = (size_t)L * c->vocab_size;
    float *hidden = ic_buf_alloc(ctx, sizeof(float) * (size_t)L * c->hidden_size);
    float *dlog = ic_buf_alloc(ctx, sizeof(float) * nl);
    fwd_out o = {malloc(sizeof(float) * nl), 0};
    uint16_t *stage = malloc(sizeof(uint16_t) * nl);
    int32_t *tgt = malloc(sizeof(int32_t) * (size_t)L);
    if (!hidden || !dlog || !o.logits || !stage || !tgt) { fprintf(stderr, "out of memory\n"); exit(1); }
    for (int t = 0; t < L; t++) tgt[t] = t + 1 < L ? tok[t + 1] : -1;
    if (ic_teacher_embed(ctx, w, tok, L, hidden, &err) ||
        ic_teacher_layers(w, &st, hidden, L, 0, c->n_layers, NULL, &err))
        die("forward", &err);
    ic_teacher_logits(w, &st, hidden, L, dlog);
    ic_buf_download_f32(ctx, st.dt, o.logits, dlog, nl, stage);
    double sum;
    long n;
    ic_teacher_loss(w, &st, hidden, L, tgt, &sum, &n);
    o.loss = sum / (double)n;
    ic_buf_free(ctx, hidden);
    ic_buf_free(ctx, dlog);
    free(stage);
    free(tgt);
    ic_teacher_state_free(&st);
    ic_weights_free(&wdev);
    return o;
}

static int argmax(const float *x, int n) {
    int b = 0;
    for (int i = 1; i < n; i++) if (x[i] > x[b]) b = i;
    return b;
}

/* Relative Frobenius error of a against the reference b, over n values. */
static double rel_err(const float *a, const float *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - b[i];
        num += d * d;
        den += (double)b[i] * b[i];
    }
    return isfinite(num) ? sqrt(num / den) : INFINITY;
}

static void compare(const char *name, const fwd_out *g, const fwd_out *c, int L, int V,
                    double tol_rel, double min_agree, double tol_loss) {
    double rel = rel_err(g->logits, c->logits, (size_t)L * V);
    int agree = 0;
    for (int t = 0; t < L; t++)
        agree += argmax(g->logits + (size_t)t * V, V) == argmax(c->logits + (size_t)t * V, V);
    double frac = (double)agree / L, dl = fabs(g->loss - c->loss);
    int ok = rel <= tol_rel && frac >= min_agree && dl <= tol_loss;
    g_failed += !ok;
    printf("%-28s logits rel %.3e (tol %.0e)  argmax %d/%d = %.3f (min %.2f)  loss gpu %.5f "
           "cpu %.5f |d| %.2e (tol %.0e)  %s\n", name, rel, tol_rel, agree, L, frac, min_agree,
           g->loss, c->loss, dl, tol_loss, ok ? "PASS" : "FAIL");
}

int main(void) {
    const char *dir = getenv("IC_MODEL_DIR");
    if (!dir || !*dir) { printf("SKIP: IC_MODEL_DIR not set (an imported SmolLM2)\n"); return 77; }
    ic_error err = {0};
    ic_ctx gpu, cpu;
    if (ic_ctx_init(&gpu, IC_BACKEND_CUDA, 0, 0, &err)) {
        printf("SKIP: no CUDA context: %s\n", err.msg);
        return 77;
    }
    if (ic_ctx_init(&cpu, IC_BACKEND_CPU, -1, 0, &err)) die("CPU context", &err);
    printf("GPU: %s (activations %s)\nCPU: %s\n", gpu.desc,
           gpu.act_dtype == IC_BF16 ? "bf16" : "f32", cpu.desc);

    ic_weights w;
    if (ic_weights_load(&w, dir, &err)) die(dir, &err);
    char path[4096];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    ic_tokenizer *tk = NULL;
    ic_ids ids = {0};
    if (ic_tokenizer_init(&tk, path, &err) || ic_tokenizer_encode(tk, k_text, strlen(k_text), &ids, &err))
        die(path, &err);
    const int L = (int)ids.n, V = w.cfg.vocab_size;
    int32_t *tok = malloc(sizeof(int32_t) * (size_t)L);
    for (int t = 0; t < L; t++) tok[t] = (int32_t)ids.ids[t];
    printf("window: %d tokens of Genesis 1:1-5\n", L);

    fwd_out ref = forward(&cpu, &w, tok, L);
    fwd_out g16 = forward(&gpu, &w, tok, L);
    compare("GPU bf16 vs CPU fp32", &g16, &ref, L, V, 5e-2, 0.90, 2e-2);

    /* decode on the GPU through the KV cache: the last step's logits are the
     * prefill's last row */
    {
        ic_weights wdev;
        const ic_weights *wd;
        ic_kv_cache kc;
        if (ic_weights_on_ctx(&w, &gpu, &wdev, &wd, &err) || ic_kv_cache_init(&kc, &gpu, &w.cfg, L, &err))
            die("decode set-up", &err);
        float *lg = malloc(sizeof(float) * (size_t)V);
        for (int t = 0; t < L; t++)
            if (ic_teacher_decode_step(wd, &kc, tok[t], lg, &err)) die("decode", &err);
        const float *last = g16.logits + (size_t)(L - 1) * V;
        double rel = rel_err(lg, last, (size_t)V);
        int same = argmax(lg, V) == argmax(last, V);
        int ok = rel <= 5e-2 && same;
        g_failed += !ok;
        printf("%-28s last-row rel %.3e (tol 5e-02)  argmax %s  %s\n", "GPU decode vs prefill", rel,
               same ? "same" : "differs", ok ? "PASS" : "FAIL");
        free(lg);
        ic_kv_cache_free(&kc);
        ic_weights_free(&wdev);
    }
    ic_ctx_free(&gpu);

    /* fp32 storage on the GPU: the GEMMs and norms in fp32, attention still
     * through cuDNN's bf16 SDPA */
    setenv("IC_CUDA_FP32", "1", 1);
    if (ic_ctx_init(&gpu, IC_BACKEND_CUDA, 0, 0, &err)) die("CUDA fp32 context", &err);
    fwd_out g32 = forward(&gpu, &w, tok, L);
    compare("GPU fp32 vs CPU fp32", &g32, &ref, L, V, 1e-2, 0.97, 5e-3);
    ic_ctx_free(&gpu);

    free(ref.logits); free(g16.logits); free(g32.logits); free(tok);
    ic_ids_free(&ids);
    ic_tokenizer_free(tk);
    ic_weights_free(&w);
    ic_ctx_free(&cpu);
    printf("%s\n", g_failed ? "FAIL" : "all teacher checks passed");
    return g_failed ? 1 : 0;
}
