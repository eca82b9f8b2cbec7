/* The fused distillation loss, dense stage, on the GPU (kernels/cuda/
 * distill_loss_dense.cu + indexer_scores_bwd.cu, through the public
 * dispatcher kernels/distill_loss.c) against the CPU reference op
 * (kernels/cpu/distill_loss.c): loss, kl_pbar and the accumulated dqI, dkI,
 * dw. Shapes: SmolLM2's (H_I 16, d_I 64; teacher H 9 over Hkv 3, d 64) with
 * 4 served layers at L = 8192 (four chunks of 2048 rows), 2048 (bf16
 * values), 1 and 3000 (ragged, two chunks); the DeepSeek-like one (H_I 64, d_I 128; H 16, Hkv 4, d 128) at
 * L = 2048 (CPU time bounds it). The teacher LSE comes from the CPU
 * attention op on the same q, k.
 *
 * Tolerances (tests/cudasim/test_distill_loss_dense.cpp explains them), the
 * tight ones against the CPU run on exactly the values the tensor cores see
 * (bf16-representable inputs, or the bf16 roundings of fp32 inputs with the
 * same LSE): loss, kl_pbar 1e-4 relative (the GPU's __expf / __logf are
 * approximate), dw 1e-3 of max |dw|, dqI / dkI 8e-3 of their max (da is
 * rounded to bf16 for the tensor cores; sums of up to 8K such terms).
 * fp32 inputs also against the fp32 CPU: 2e-2 for loss, kl_pbar, dw; dqI /
 * dkI within twice what the input rounding alone moves them (>= 2e-2).
 * Gradients start from random values (the op adds); outputs of the first GPU
 * run start poisoned with NaN instead (a forward that leaves them NaN would
 * then pass nothing). Determinism: a second backward run must give the same
 * bits. Memory: the workspace query must stay O(L) (bytes / L bounded from
 * L = 8K to 128K) and within 1 GiB / 2 GiB at L = 8K for the two shapes.
 * --quick runs three small shapes (for compute-sanitizer). Plain main; exit
 * 77 without a GPU. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ic_error.h"
#include "kernels/ic_attention.h"
#include "kernels/ic_ctx.h"
#include "kernels/ic_distill_loss.h"

#include "ic_gpu_test.h"

static ic_ctx g_cpu, g_gpu;
static int g_cases, g_failed;

static void *dev_put(const float *x, size_t n) {
    void *d = ic_buf_alloc(&g_gpu, n * 4);
    if (!d) { fprintf(stderr, "out of device memory\n"); exit(2); }
    ic_buf_upload(&g_gpu, d, x, n * 4);
    return d;
}

static float *filled(size_t n, uint64_t seed, float lo, float hi, int round) {
    float *x = ic_gt_xmalloc(n * 4);
    ic_oracle_fill(x, n, seed, lo, hi, round);
    return x;
}

static float *dupf(const float *x, size_t n) {
    float *y = ic_gt_xmalloc(n * 4);
    memcpy(y, x, n * 4);
    return y;
}

static float *roundf_bf16(const float *x, size_t n) {
    float *y = dupf(x, n);
    for (size_t i = 0; i < n; i++) y[i] = ic_oracle_round_bf16(y[i]);
    return y;
}

static void reserve(ic_ctx *c, size_t bytes) {
    ic_error err;
    ic_error_clear(&err);
    if (ic_ctx_reserve(c, bytes, &err) != 0) { fprintf(stderr, "%s\n", err.msg); exit(2); }
}

static void report(const char *name, double err, double tol) {
    const int ok = err <= tol;  /* NaN fails */
    g_cases++;
    if (!ok) g_failed++;
    printf("%-60s rel err %.3e tol %.0e  %s\n", name, err, tol, ok ? "PASS" : "FAIL");
    fflush(stdout);
}

/* max |(got - start) - (ref - start)| / max |ref - start| (floored) */
static double grad_err(const float *got, const float *ref, const float *start, size_t n) {
    double mx = 0, e = 0;
    for (size_t i = 0; i < n; i++) {
        double r = (double)ref[i] - start[i], g = (double)got[i] - start[i];
        if (fabs(r) > mx) mx = fabs(r);
        double d = fabs(g - r);
        if (d > e || d != d) e = d;
    }
    return e / (mx > 1e-5 ? mx : 1e-5);  /* floor: at L = 1 q = pbar = 1, every gradient ~0 */
}

/* |got - ref| relative to |ref|, floored at 1e-3 per token (L = 1: the loss is ~0) */
static double loss_err(double got, double ref, int L) {
    const double den = fabs(ref) > 1e-3 * L ? fabs(ref) : 1e-3 * L;
    return fabs(got - ref) / den;
}

static void one(int L, int HI, int dI, int H, int Hkv, int d, int ns, int rnd, uint64_t seed) {
    const size_t nq = (size_t)L * HI * dI, nk = (size_t)L * dI, nw = (size_t)L * HI;
    float *qI = filled(nq, seed, -1, 1, rnd), *kI = filled(nk, seed + 1, -1, 1, rnd);
    float *w = filled(nw, seed + 2, -0.5f, 1, 0);
    const float wsc = 8.0f / sqrtf((float)(HI * dI));
    for (size_t i = 0; i < nw; i++) w[i] *= wsc;
    ic_distill_teacher hc[8], gc[8];
    float *tq[8], *tk[8], *tl[8];
    float *att = ic_gt_xmalloc((size_t)L * H * d * 4);
    reserve(&g_cpu, ic_attention_workspace_bytes(&g_cpu, L, H, Hkv, d));
    for (int j = 0; j < ns; j++) {
        tq[j] = filled((size_t)L * H * d, seed + 10 + 3 * j, -2, 2, rnd);
        tk[j] = filled((size_t)L * Hkv * d, seed + 11 + 3 * j, -2, 2, rnd);
        tl[j] = ic_gt_xmalloc((size_t)H * L * 4);
        ic_attention_forward(&g_cpu, att, tl[j], tq[j], tk[j], tk[j], L, H, Hkv, d);
        hc[j] = (ic_distill_teacher){tq[j], tk[j], tl[j]};
        gc[j] = (ic_distill_teacher){dev_put(tq[j], (size_t)L * H * d),
                                     dev_put(tk[j], (size_t)L * Hkv * d),
                                     dev_put(tl[j], (size_t)H * L)};
    }
    free(att);
    float *dq0 = filled(nq, seed + 5, -0.1f, 0.1f, 0), *dk0 = filled(nk, seed + 6, -0.1f, 0.1f, 0);
    float *dw0 = filled(nw, seed + 7, -0.1f, 0.1f, 0);
    ic_distill_desc desc = {.L = L, .n_idx_heads = HI, .idx_head_dim = dI, .n_heads = H,
                            .n_kv_heads = Hkv, .head_dim = d, .stage = IC_DISTILL_DENSE};
    ic_error err;
    ic_error_clear(&err);

    /* CPU reference */
    float *rq = ic_gt_xmalloc(nq * 4), *rk = ic_gt_xmalloc(nk * 4), *rw = ic_gt_xmalloc(nw * 4);
    memcpy(rq, dq0, nq * 4); memcpy(rk, dk0, nk * 4); memcpy(rw, dw0, nw * 4);
    reserve(&g_cpu, ic_distill_loss_workspace_bytes(&g_cpu, &desc));
    ic_distill_stats ref;
    ic_distill_loss_backward(&g_cpu, &desc, qI, kI, w, hc, ns, rq, rk, rw, &ref, &err);

    /* fp32 inputs: the CPU also on the bf16 roundings the kernels stage */
    float *bq = dupf(dq0, nq), *bk = dupf(dk0, nk), *bw = dupf(dw0, nw);
    ic_distill_stats rref = ref;
    if (!rnd) {
        float *qb = roundf_bf16(qI, nq), *kb = roundf_bf16(kI, nk);
        ic_distill_teacher tb[8];
        for (int j = 0; j < ns; j++)
            tb[j] = (ic_distill_teacher){roundf_bf16(tq[j], (size_t)L * H * d),
                                         roundf_bf16(tk[j], (size_t)L * Hkv * d), tl[j]};
        ic_distill_loss_backward(&g_cpu, &desc, qb, kb, w, tb, ns, bq, bk, bw, &rref, &err);
        for (int j = 0; j < ns; j++) { free((void *)tb[j].q); free((void *)tb[j].k); }
        free(qb); free(kb);
    }

    /* GPU: forward from NaN-poisoned stats, then backward twice */
    reserve(&g_gpu, ic_distill_loss_workspace_bytes(&g_gpu, &desc));
    float *dqI = dev_put(qI, nq), *dkI = dev_put(kI, nk), *dw = dev_put(w, nw);
    float *gq = dev_put(dq0, nq), *gk = dev_put(dk0, nk), *gwp = dev_put(dw0, nw);
    ic_distill_stats fwd = {NAN, NAN, 0}, got[2];
    ic_distill_loss_forward(&g_gpu, &desc, dqI, dkI, dw, gc, ns, &fwd, &err);
    float *hq[2], *hk[2], *hw[2];
    for (int run = 0; run < 2; run++) {
        ic_buf_upload(&g_gpu, gq, dq0, nq * 4);
        ic_buf_upload(&g_gpu, gk, dk0, nk * 4);
        ic_buf_upload(&g_gpu, gwp, dw0, nw * 4);
        got[run] = (ic_distill_stats){NAN, NAN, 0};
        ic_distill_loss_backward(&g_gpu, &desc, dqI, dkI, dw, gc, ns, gq, gk, gwp, &got[run], &err);
        ic_ctx_sync(&g_gpu);
        hq[run] = ic_gt_xmalloc(nq * 4); hk[run] = ic_gt_xmalloc(nk * 4); hw[run] = ic_gt_xmalloc(nw * 4);
        ic_buf_download(&g_gpu, hq[run], gq, nq * 4);
        ic_buf_download(&g_gpu, hk[run], gk, nk * 4);
        ic_buf_download(&g_gpu, hw[run], gwp, nw * 4);
    }

    char name[160], what[200];
    snprintf(name, sizeof name, "L=%d HI=%d dI=%d H=%d/%d d=%d ns=%d %s", L, HI, dI, H, Hkv, d,
             ns, rnd ? "bf16 vals" : "f32");
    /* tight: against the CPU on exactly the values the tensor cores see */
    const float *tq_ = rnd ? rq : bq, *tk_ = rnd ? rk : bk, *tw_ = rnd ? rw : bw;
    const char *tag = rnd ? "" : " vs CPU bf16-rounded";
    printf("%s: loss %.9g (CPU %.9g), kl_pbar %.9g (CPU %.9g)\n", name, got[0].loss, rref.loss,
           got[0].kl_pbar, rref.kl_pbar);
    snprintf(what, sizeof what, "%s%s loss", name, tag);
    report(what, loss_err(got[0].loss, rref.loss, L), 1e-4);
    snprintf(what, sizeof what, "%s%s kl_pbar", name, tag);
    report(what, loss_err(got[0].kl_pbar, rref.kl_pbar, L), 1e-4);
    snprintf(what, sizeof what, "%s%s forward loss", name, tag);
    report(what, loss_err(fwd.loss, rref.loss, L), 1e-4);
    snprintf(what, sizeof what, "%s%s dw", name, tag);
    report(what, grad_err(hw[0], tw_, dw0, nw), 1e-3);
    snprintf(what, sizeof what, "%s%s dqI", name, tag);
    report(what, grad_err(hq[0], tq_, dq0, nq), 8e-3);
    snprintf(what, sizeof what, "%s%s dkI", name, tag);
    report(what, grad_err(hk[0], tk_, dk0, nk), 8e-3);
    if (!rnd) {
        /* loose: against the fp32 CPU; dqI / dkI within twice what the input
         * rounding alone moves them (at least 2e-2) */
        const double eq = grad_err(bq, rq, dq0, nq), ek = grad_err(bk, rk, dk0, nk);
        printf("%s: bf16 input rounding alone moves dqI by %.3e, dkI by %.3e of max\n", name, eq, ek);
        snprintf(what, sizeof what, "%s loss", name);
        report(what, loss_err(got[0].loss, ref.loss, L), 2e-2);
        snprintf(what, sizeof what, "%s kl_pbar", name);
        report(what, loss_err(got[0].kl_pbar, ref.kl_pbar, L), 2e-2);
        snprintf(what, sizeof what, "%s dw", name);
        report(what, grad_err(hw[0], rw, dw0, nw), 2e-2);
        snprintf(what, sizeof what, "%s dqI", name);
        report(what, grad_err(hq[0], rq, dq0, nq), 2 * eq > 2e-2 ? 2 * eq : 2e-2);
        snprintf(what, sizeof what, "%s dkI", name);
        report(what, grad_err(hk[0], rk, dk0, nk), 2 * ek > 2e-2 ? 2 * ek : 2e-2);
    }
    const int same = got[0].loss == got[1].loss && got[0].kl_pbar == got[1].kl_pbar &&
                     fwd.loss == got[0].loss && !memcmp(hq[0], hq[1], nq * 4) &&
                     !memcmp(hk[0], hk[1], nk * 4) && !memcmp(hw[0], hw[1], nw * 4);
    snprintf(what, sizeof what, "%s deterministic (2 runs + fwd)", name);
    report(what, same ? 0.0 : 1.0, 0.0);

    for (int run = 0; run < 2; run++) { free(hq[run]); free(hk[run]); free(hw[run]); }
    for (int j = 0; j < ns; j++) {
        free(tq[j]); free(tk[j]); free(tl[j]);
        ic_buf_free(&g_gpu, (void *)gc[j].q); ic_buf_free(&g_gpu, (void *)gc[j].k);
        ic_buf_free(&g_gpu, (void *)gc[j].lse);
    }
    ic_buf_free(&g_gpu, dqI); ic_buf_free(&g_gpu, dkI); ic_buf_free(&g_gpu, dw);
    ic_buf_free(&g_gpu, gq); ic_buf_free(&g_gpu, gk); ic_buf_free(&g_gpu, gwp);
    free(qI); free(kI); free(w); free(dq0); free(dk0); free(dw0); free(rq); free(rk); free(rw);
    free(bq); free(bk); free(bw);
}

/* The workspace query: linear in L, and within the goals at L = 8K. */
static void memory_check(int HI, int dI, int H, int Hkv, int d, double cap_gib) {
    size_t prev = 0;
    int ok = 1;
    for (int L = 8192; L <= 131072; L *= 2) {
        ic_distill_desc desc = {.L = L, .n_idx_heads = HI, .idx_head_dim = dI, .n_heads = H,
                                .n_kv_heads = Hkv, .head_dim = d, .stage = IC_DISTILL_DENSE};
        size_t b = ic_distill_loss_workspace_bytes(&g_gpu, &desc);
        printf("workspace H_I=%d d_I=%d L=%-6d %8.1f MiB\n", HI, dI, L, b / 1048576.0);
        if (L == 8192 && b > (size_t)(cap_gib * 1073741824.0)) ok = 0;
        if (prev && b > 2 * prev + (2u << 20)) ok = 0;  /* doubling L at most doubles it */
        prev = b;
    }
    char what[120];
    snprintf(what, sizeof what, "workspace O(L), <= %.0f GiB at 8K (H_I=%d d_I=%d)", cap_gib, HI, dI);
    report(what, ok ? 0.0 : 1.0, 0.0);
}

int main(int argc, char **argv) {
    /* --quick: small shapes only, for compute-sanitizer runs */
    const int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    const int rc = ic_gt_open(&g_cpu, &g_gpu);
    if (rc) return rc;
    memory_check(16, 64, 9, 3, 64, 1.0);
    memory_check(64, 128, 16, 4, 128, 2.0);
    one(1, 16, 64, 9, 3, 64, 4, 1, 11);
    one(700, 16, 64, 9, 3, 64, 3, 0, 13);
    if (quick) {
        one(300, 16, 64, 9, 3, 64, 2, 0, 61);
        one(200, 64, 128, 16, 4, 128, 2, 1, 71);
        printf("distill loss dense GPU vs CPU (--quick): %d cases, %d failed\n", g_cases, g_failed);
        ic_ctx_free(&g_gpu);
        ic_ctx_free(&g_cpu);
        return g_failed ? 1 : 0;
    }
    one(3000, 16, 64, 9, 3, 64, 3, 1, 21);
    one(2048, 16, 64, 9, 3, 64, 4, 0, 31);
    one(2048, 64, 128, 16, 4, 128, 4, 1, 41);
    one(8192, 16, 64, 9, 3, 64, 4, 1, 51);
    printf("distill loss dense GPU vs CPU: %d cases, %d failed\n", g_cases, g_failed);
    ic_ctx_free(&g_gpu);
    ic_ctx_free(&g_cpu);
    return g_failed ? 1 : 0;
}
