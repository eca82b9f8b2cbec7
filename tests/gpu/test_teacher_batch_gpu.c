/* The batched prefill (model/ic_teacher_batch.h) on the GPU against the
 * plain per-window GPU path (ic_teacher_embed + ic_teacher_layers +
 * ic_teacher_loss / ic_teacher_logits, itself tested against the CPU in
 * test_teacher_gpu.c), on a random model of SmolLM2-135M's layer shapes
 * (D 576, 9 heads, 3 KV heads, d 64, F 1536) with 4 layers and V = 4099,
 * weights N(0, 0.05), norms U(0.5, 1.5): no model dir needed.
 *
 * Per (B, L) case, ragged: (1, 1), (3, 37), (2, 300), (5, 128), (16, 64),
 * and (3, 37) again after other shapes (the graph is recorded again):
 *   - graph on: call 1 runs eagerly and records, calls 2 and 3 replay. Calls
 *     1, 2, 3 must give bitwise the same per-token nll and last hidden
 *     state (the same kernels on the same pointers), and the counters must
 *     say 1 eager + 1 recorded + 2 replays;
 *   - graph off (eager batched): bitwise the same as the replays;
 *   - against the plain path, window by window: per-token nll
 *     max |diff| <= 5e-2 and mean |diff| <= 5e-3 (nats), logits relative
 *     Frobenius error <= 2e-2 and argmax agreement >= 95% of the rows. Both
 *     sides store bf16 activations; the batched GEMMs run over B*L rows,
 *     where cuBLASLt may pick another algorithm (summation order), so only
 *     bf16 noise is allowed, not bits. The figures are printed.
 * Outputs are poisoned with NaN before each call (the state's nll and the
 * hidden state), so a call that wrote nothing cannot pass. A bad token
 * must be refused naming its window. Exit 77 without a GPU. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ic_ctx.h"
#include "model/ic_teacher.h"
#include "model/ic_teacher_batch.h"
#include "model/ic_weights.h"

#include "ic_gpu_test.h"

static int g_failed;

static void die(const char *what, const ic_error *err) {
    fprintf(stderr, "%s: %s\n", what, err->msg);
    exit(1);
}

static void check(int ok, const char *name, double a, double b) {
    printf("%-44s %s  (%.3e, %.3e)\n", name, ok ? "PASS" : "FAIL", a, b);
    g_failed += !ok;
}

static ic_config model_config(void) {
    ic_config c;
    memset(&c, 0, sizeof c);
    c.vocab_size = 4099; c.hidden_size = 576; c.intermediate_size = 1536; c.n_layers = 4;
    c.n_heads = 9; c.n_kv_heads = 3; c.head_dim = 64; c.rope_theta = 100000.0f;
    c.rms_norm_eps = 1e-5f; c.max_position_embeddings = 8192; c.tie_word_embeddings = 1;
    return c;
}

static void random_weights(ic_weights *w, uint64_t seed) {
    ic_weight_entry e[256];
    int n = ic_weights_tensors(w, e, 256);
    if (n > 256) { fprintf(stderr, "too many tensors\n"); exit(1); }
    for (int i = 0; i < n; i++) {
        size_t cnt = (size_t)e[i].shape[0] * (e[i].ndim == 2 ? (size_t)e[i].shape[1] : 1);
        if (e[i].ndim == 1 && strstr(e[i].name, "norm"))
            ic_oracle_fill(e[i].dst, cnt, seed + (uint64_t)i, 0.5f, 1.5f, 0);
        else   /* uniform with std 0.05 */
            ic_oracle_fill(e[i].dst, cnt, seed + (uint64_t)i, -0.0866f, 0.0866f, 0);
    }
}

/* Host fp32 copy of n elements of dt on ctx. */
static float *down(ic_ctx *ctx, ic_dtype dt, const void *p, size_t n) {
    float *h = ic_gt_xmalloc(sizeof(float) * n);
    void *stage = ic_gt_xmalloc(2 * n);
    ic_buf_download_f32(ctx, dt, h, p, n, stage);
    free(stage);
    return h;
}

/* The device buffer of n elements of dt filled with NaN. */
static void poison(ic_ctx *ctx, ic_dtype dt, void *p, size_t n) {
    size_t es = ic_dtype_size(dt);
    unsigned char *h = ic_gt_xmalloc(es * n);
    for (size_t i = 0; i < n; i++) {
        if (dt == IC_BF16) { uint16_t v = 0x7fc0; memcpy(h + 2 * i, &v, 2); }
        else { float v = NAN; memcpy(h + 4 * i, &v, 4); }
    }
    ic_buf_upload(ctx, p, h, es * n);
    free(h);
}

typedef struct {
    float *nll;     /* [B*L] host */
    float *hidden;  /* [B*L, D] host fp32 of the stored values */
    double sum;
    long n;
} batch_out;

static batch_out batch_call(const ic_weights *w, ic_teacher_batch *tb, const int32_t *tok,
                            const int32_t *tgt, int B, int L) {
    ic_error err = {0};
    const size_t R = (size_t)B * L, D = (size_t)w->cfg.hidden_size;
    poison(tb->ctx, IC_F32, tb->st.nll, R);
    poison(tb->ctx, tb->st.dt, tb->hidden, R * D);
    batch_out o = {0};
    if (ic_teacher_batch_run(w, tb, tok, tgt, B, L, &o.sum, &o.n, &err)) die("batch run", &err);
    o.nll = ic_gt_xmalloc(sizeof(float) * R);
    memcpy(o.nll, tb->nll_host, sizeof(float) * R);
    o.hidden = down(tb->ctx, tb->st.dt, tb->hidden, R * D);
    return o;
}

static int same_bits(const float *a, const float *b, size_t n) {
    return memcmp(a, b, sizeof(float) * n) == 0;
}

static int all_finite(const float *a, size_t n) {
    for (size_t i = 0; i < n; i++) if (!isfinite(a[i])) return 0;
    return 1;
}

static int argmax(const float *x, int n) {
    int b = 0;
    for (int i = 1; i < n; i++) if (x[i] > x[b]) b = i;
    return b;
}

static void run_case(ic_ctx *gpu, const ic_weights *w, ic_teacher_batch *tb,
                     ic_teacher_batch *te, int B, int L, uint64_t seed) {
    ic_error err = {0};
    const ic_config *c = &w->cfg;
    const int V = c->vocab_size, D = c->hidden_size;
    const size_t R = (size_t)B * L;
    int32_t *tok = ic_gt_xmalloc(sizeof(int32_t) * R), *tgt = ic_gt_xmalloc(sizeof(int32_t) * R);
    uint64_t s = seed;
    for (size_t i = 0; i < R; i++) tok[i] = (int32_t)(ic_oracle_next(&s) % (uint64_t)V);
    for (size_t i = 0; i < R; i++)   /* next token in the window; the last has none */
        tgt[i] = (i + 1) % (size_t)L ? tok[i + 1] : -1;
    char name[96];

    const long e0 = tb->n_eager, r0 = tb->n_replays, g0 = tb->n_recorded;
    batch_out b1 = batch_call(w, tb, tok, tgt, B, L);
    batch_out b2 = batch_call(w, tb, tok, tgt, B, L);
    batch_out b3 = batch_call(w, tb, tok, tgt, B, L);
    batch_out be = batch_call(w, te, tok, tgt, B, L);
    snprintf(name, sizeof name, "B=%d L=%d counters eager/recorded/replays", B, L);
    long de = tb->n_eager - e0, dr = tb->n_replays - r0, dg = tb->n_recorded - g0;
    int ok_cnt = de == 1 && dg == 1 && dr == 2;
    printf("%-44s %s  (%ld/%ld/%ld, want 1/1/2%s%s)\n", name, ok_cnt ? "PASS" : "FAIL", de, dg,
           dr, tb->graph_failed ? "; graph failed: " : "", tb->graph_failed ? tb->graph_why : "");
    g_failed += !ok_cnt;
    snprintf(name, sizeof name, "B=%d L=%d finite nll and hidden", B, L);
    check(all_finite(b1.nll, R) && all_finite(b1.hidden, R * D), name, 0, 0);
    snprintf(name, sizeof name, "B=%d L=%d replay 1 == replay 2 (bits)", B, L);
    check(same_bits(b2.nll, b3.nll, R) && same_bits(b2.hidden, b3.hidden, R * D), name, 0, 0);
    snprintf(name, sizeof name, "B=%d L=%d eager+record == replay (bits)", B, L);
    check(same_bits(b1.nll, b2.nll, R) && same_bits(b1.hidden, b2.hidden, R * D), name, 0, 0);
    snprintf(name, sizeof name, "B=%d L=%d no-graph batch == replay (bits)", B, L);
    check(same_bits(be.nll, b2.nll, R) && same_bits(be.hidden, b2.hidden, R * D), name, 0, 0);

    /* the plain path, window by window */
    ic_teacher_state st;
    if (ic_teacher_state_init(&st, gpu, c, L, &err)) die("plain state", &err);
    float *hid = ic_buf_alloc(gpu, sizeof(float) * (size_t)L * D);
    float *lg_dev = ic_buf_alloc(gpu, sizeof(float) * (size_t)L * V);
    if (!hid || !lg_dev) { fprintf(stderr, "out of GPU memory\n"); exit(1); }
    double max_d = 0, sum_d = 0, num = 0, den = 0, plain_sum = 0;
    long agree = 0, plain_n = 0;
    for (int b = 0; b < B; b++) {
        const int32_t *tb_tok = tok + (size_t)b * L, *tb_tgt = tgt + (size_t)b * L;
        double ps; long pn;
        if (ic_teacher_embed(gpu, w, tb_tok, L, hid, &err) ||
            ic_teacher_layers(w, &st, hid, L, 0, c->n_layers, NULL, &err))
            die("plain forward", &err);
        poison(gpu, IC_F32, st.nll, (size_t)L);
        ic_teacher_loss(w, &st, hid, L, tb_tgt, &ps, &pn);
        plain_sum += ps;
        plain_n += pn;
        float *pn_h = ic_gt_xmalloc(sizeof(float) * (size_t)L);
        ic_buf_download(gpu, pn_h, st.nll, sizeof(float) * (size_t)L);
        for (int t = 0; t < L; t++) {
            if (tb_tgt[t] < 0) continue;
            double dd = fabs((double)pn_h[t] - b2.nll[(size_t)b * L + t]);
            if (!(dd <= max_d)) max_d = dd;   /* NaN propagates */
            sum_d += dd;
        }
        free(pn_h);
        /* logits of the plain window and of the batch's window b (its last
         * hidden rows through the same LM head on the plain state) */
        poison(gpu, st.dt, lg_dev, (size_t)L * V);
        ic_teacher_logits(w, &st, hid, L, lg_dev);
        float *lp = down(gpu, st.dt, lg_dev, (size_t)L * V);
        poison(gpu, st.dt, lg_dev, (size_t)L * V);
        ic_teacher_logits(w, &st, (const float *)((char *)tb->hidden +
                          ic_dtype_size(st.dt) * (size_t)b * L * D), L, lg_dev);
        float *lb = down(gpu, st.dt, lg_dev, (size_t)L * V);
        for (size_t i = 0; i < (size_t)L * V; i++) {
            double dd = (double)lb[i] - lp[i];
            num += dd * dd;
            den += (double)lp[i] * lp[i];
        }
        for (int t = 0; t < L; t++)
            agree += argmax(lb + (size_t)t * V, V) == argmax(lp + (size_t)t * V, V);
        free(lp);
        free(lb);
    }
    const double mean_d = plain_n ? sum_d / (double)plain_n : 0.0;
    const double rel = den > 0 ? sqrt(num / den) : (num > 0 ? INFINITY : 0.0);
    const double frac = (double)agree / (double)R;
    snprintf(name, sizeof name, "B=%d L=%d nll vs plain max|d| <= 5e-2", B, L);
    check(max_d <= 5e-2 && b2.n == plain_n, name, max_d, (double)plain_n);
    snprintf(name, sizeof name, "B=%d L=%d nll vs plain mean|d| <= 5e-3", B, L);
    check(mean_d <= 5e-3, name, mean_d, plain_n ? plain_sum / plain_n : 0.0);
    snprintf(name, sizeof name, "B=%d L=%d logits rel <= 2e-2, argmax >= .95", B, L);
    check(isfinite(rel) && rel <= 2e-2 && frac >= 0.95, name, rel, frac);

    ic_buf_free(gpu, hid);
    ic_buf_free(gpu, lg_dev);
    ic_teacher_state_free(&st);
    free(b1.nll); free(b1.hidden); free(b2.nll); free(b2.hidden);
    free(b3.nll); free(b3.hidden); free(be.nll); free(be.hidden);
    free(tok); free(tgt);
}

int main(void) {
    ic_error err = {0};
    ic_ctx gpu;
    if (ic_ctx_init(&gpu, IC_BACKEND_CUDA, 0, 0, &err) != 0) {
        printf("SKIP: no CUDA context: %s\n", err.msg);
        return 77;
    }
    printf("GPU: %s (activations %s)\n", gpu.desc, gpu.act_dtype == IC_BF16 ? "bf16" : "f32");
    ic_config c = model_config();
    ic_weights host, dev;
    const ic_weights *w;
    if (ic_weights_init(&host, &c, &err)) die("weights", &err);
    random_weights(&host, 4242);
    if (ic_weights_on_ctx(&host, &gpu, &dev, &w, &err)) die("weights to the GPU", &err);

    /* one graphed and one eager batch state, both for up to 16 x 300 */
    ic_teacher_batch tb, te;
    if (ic_teacher_batch_init(&tb, &gpu, &c, 16, 300, 1, &err)) die("batch state", &err);
    if (ic_teacher_batch_init(&te, &gpu, &c, 16, 300, 0, &err)) die("batch state (eager)", &err);
    const int cases[][2] = {{1, 1}, {3, 37}, {2, 300}, {5, 128}, {16, 64}, {3, 37}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_case(&gpu, w, &tb, &te, cases[i][0], cases[i][1], 1000u + 17u * (uint64_t)i);

    /* a bad token is refused, naming its window */
    {
        int32_t tok[2 * 8];
        for (int i = 0; i < 16; i++) tok[i] = i;
        tok[8 + 3] = c.vocab_size;
        ic_error e2 = {0};
        int rc = ic_teacher_batch_run(w, &tb, tok, NULL, 2, 8, NULL, NULL, &e2);
        int ok = rc != 0 && strstr(e2.msg, "window 1") != NULL;
        printf("%-44s %s  (%s)\n", "bad token refused naming window 1", ok ? "PASS" : "FAIL",
               e2.msg);
        g_failed += !ok;
        ic_error e3 = {0};
        rc = ic_teacher_batch_run(w, &tb, tok, NULL, 17, 8, NULL, NULL, &e3);
        ok = rc != 0 && strstr(e3.msg, "do not fit") != NULL;
        printf("%-44s %s  (%s)\n", "17 windows refused (B_max 16)", ok ? "PASS" : "FAIL", e3.msg);
        g_failed += !ok;
    }
    ic_teacher_batch_free(&tb);
    ic_teacher_batch_free(&te);
    ic_weights_free(&dev);
    ic_weights_free(&host);
    ic_ctx_free(&gpu);
    printf("%s\n", g_failed ? "FAIL" : "all batched-teacher checks passed");
    return g_failed ? 1 : 0;
}
