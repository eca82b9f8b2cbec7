/* The LM head's cross-entropy and the decode step's attention on the GPU
 * (kernels/cuda/cross_entropy.cu, attention_decode.cu) against the CPU
 * reference op on a CPU context, at SmolLM2 sizes: CE with V = 49152,
 * n = 64 rows (some without a target, some at 0 and V-1), forward and
 * backward; decode with H = 9, Hkv = 3, d = 64 at T = 1, 1000, 8192, 32768
 * (1 to 128 splits). fp32 goes through the public dispatchers
 * (ic_cross_entropy_*, ic_attention_decode_forward); bf16 calls the _cuda
 * entry points on bf16 copies, against the CPU op on the same values
 * (bf16-rounded, as fp32). Outputs are poisoned with NaN on both sides.
 *
 * Tolerances, |gpu - cpu| <= tol * scale (NaN fails):
 *   CE nll: scale |nll| + 2 |z_y| (>= |lse|): fp32 1e-5, bf16 logits 1e-5 (fp32 output);
 *   CE dlogits: scale |g| + |scale| [j = y]: fp32 1e-5, bf16 1e-2 (one rounding);
 *   decode out: scale sum_t p_t |v_t| (double, >= |out|): fp32 1e-5, bf16 1e-2;
 *   decode lse: scale |lse| + 1: 1e-5.
 * (__expf is within ~2 ulp of exp for the arguments <= 0 it sees; the fp32
 * sums differ from the CPU's double / sequential order by ~1e-6.)
 * Plain main (the GPU machine has no libcheck); exit 77 without a GPU. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ic_gpu_test.h"
#include "core/ic_error.h"
#include "kernels/ic_attention.h"
#include "kernels/ic_cross_entropy.h"
#include "kernels/ic_ctx.h"
#include "kernels/ic_cuda_ops.h"

static ic_ctx g_cpu, g_gpu;
static int g_cases, g_failed;

static void reserve(ic_ctx *ctx, size_t bytes) {
    ic_error err = {0};
    if (ic_ctx_reserve(ctx, bytes, &err) != 0) {
        fprintf(stderr, "workspace: %s\n", err.msg);
        exit(2);
    }
}

/* n values of x on ctx as fp32 (bf16 = 0) or bf16; NULL x: NaN. */
static void *put(ic_ctx *ctx, const float *x, size_t n, int bf16) {
    const size_t es = bf16 ? 2 : 4;
    void *d = ic_buf_alloc(ctx, n * es), *h = ic_gt_xmalloc(n * es);
    if (!d) { fprintf(stderr, "out of %s memory\n", ctx->desc); exit(2); }
    for (size_t i = 0; i < n; i++) {
        const float f = x ? x[i] : NAN;
        if (bf16) ((uint16_t *)h)[i] = ic_oracle_f2bf(f);
        else ((float *)h)[i] = f;
    }
    ic_buf_upload(ctx, d, h, n * es);
    free(h);
    return d;
}

static float *get(ic_ctx *ctx, const void *d, size_t n, int bf16) {
    float *x = ic_gt_xmalloc(n * sizeof *x);
    if (!bf16) {
        ic_buf_download(ctx, x, d, n * sizeof *x);
        return x;
    }
    uint16_t *h = ic_gt_xmalloc(n * 2);
    ic_buf_download(ctx, h, d, n * 2);
    for (size_t i = 0; i < n; i++) x[i] = ic_oracle_bf2f(h[i]);
    free(h);
    return x;
}

static void compare(const char *name, const float *gpu, const float *cpu, const double *scale,
                    size_t n, double tol) {
    double max_abs = 0, max_rel = 0;
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < n; i++) {
        const double diff = fabs((double)gpu[i] - cpu[i]);
        const double s = scale[i] > 1e-30 ? scale[i] : 1e-30;
        const double rel = diff / s;
        if (!(diff <= tol * scale[i])) { if (!bad) first = i; bad++; }
        if (diff > max_abs || isnan(diff)) max_abs = diff;
        if (rel > max_rel || isnan(rel)) max_rel = rel;
    }
    g_cases++;
    if (bad) g_failed++;
    printf("%-44s n=%-8zu max abs %.3e  max rel %.3e  tol %.0e  %s", name, n, max_abs, max_rel,
           tol, bad ? "FAIL" : "PASS");
    if (bad) printf("  (%zu bad, first [%zu] gpu %.9g cpu %.9g)", bad, first, gpu[first], cpu[first]);
    printf("\n");
    fflush(stdout);
}

static void case_ce(int n, int V, int bf16, uint64_t seed) {
    const size_t nv = (size_t)n * V;
    float *z = ic_gt_xmalloc(nv * sizeof *z);
    ic_oracle_fill(z, nv, seed, -12.0f, 12.0f, bf16);
    int32_t *y = ic_gt_xmalloc(sizeof *y * (size_t)n);
    uint64_t s = seed * 3 + 1;
    for (int i = 0; i < n; i++) y[i] = (int32_t)(ic_oracle_next(&s) % (uint64_t)V);
    y[1] = -1; y[5] = -1; y[2] = 0; y[3] = V - 1;
    const float scale = 1.0f / (float)n;
    float *nll[2], *g[2];
    ic_ctx *ctx[2] = {&g_cpu, &g_gpu};
    for (int b = 0; b < 2; b++) {
        const int lowp = b == 1 && bf16;
        void *dz = put(ctx[b], z, nv, lowp), *dg = put(ctx[b], NULL, nv, lowp);
        float *dnll = put(ctx[b], NULL, (size_t)n, 0);
        int32_t *dy = ic_buf_alloc(ctx[b], sizeof *dy * (size_t)n);
        ic_buf_upload(ctx[b], dy, y, sizeof *y * (size_t)n);
        if (lowp) {
            ic_cross_entropy_forward_cuda(ctx[b], IC_BF16, dnll, dz, dy, n, V);
            ic_cross_entropy_backward_cuda(ctx[b], IC_BF16, dg, dz, dy, n, V, scale);
        } else {
            ic_cross_entropy_forward(ctx[b], dnll, dz, dy, n, V);
            ic_cross_entropy_backward(ctx[b], dg, dz, dy, n, V, scale);
        }
        ic_ctx_sync(ctx[b]);
        nll[b] = get(ctx[b], dnll, (size_t)n, 0);
        g[b] = get(ctx[b], dg, nv, lowp);
        ic_buf_free(ctx[b], dz); ic_buf_free(ctx[b], dg); ic_buf_free(ctx[b], dnll);
        ic_buf_free(ctx[b], dy);
    }
    double *sc = ic_gt_xmalloc(sizeof *sc * nv);
    for (int i = 0; i < n; i++)
        sc[i] = fabs(nll[0][i]) + (y[i] < 0 ? 0.0 : 2.0 * fabs(z[(size_t)i * V + y[i]])) + 1e-30;
    char name[96];
    snprintf(name, sizeof name, "ce forward %s n=%d V=%d", bf16 ? "bf16" : "f32", n, V);
    compare(name, nll[1], nll[0], sc, (size_t)n, 1e-5);
    for (size_t i = 0; i < nv; i++) {
        const int r = (int)(i / (size_t)V), j = (int)(i % (size_t)V);
        sc[i] = fabs(g[0][i]) + (j == y[r] ? fabs(scale) : 0.0);
    }
    snprintf(name, sizeof name, "ce backward %s n=%d V=%d", bf16 ? "bf16" : "f32", n, V);
    compare(name, g[1], g[0], sc, nv, bf16 ? 1e-2 : 1e-5);
    free(z); free(y); free(sc);
    for (int b = 0; b < 2; b++) { free(nll[b]); free(g[b]); }
}

/* sum_t p_t |v_t| per output element, in double (the scale of its error). */
static void decode_scale(double *sc, const float *q, const float *k, const float *v, int T, int H,
                         int Hkv, int d) {
    const int gs = H / Hkv;
    double *p = ic_gt_xmalloc(sizeof *p * (size_t)T);
    for (int h = 0; h < H; h++) {
        const int gi = h / gs;
        double m = -INFINITY, l = 0;
        for (int t = 0; t < T; t++) {
            double s = 0;
            for (int c = 0; c < d; c++) s += (double)q[(size_t)h * d + c] * k[((size_t)t * Hkv + gi) * d + c];
            p[t] = s / sqrt((double)d);
            if (p[t] > m) m = p[t];
        }
        for (int t = 0; t < T; t++) l += (p[t] = exp(p[t] - m));
        for (int c = 0; c < d; c++) {
            double a = 0;
            for (int t = 0; t < T; t++) a += p[t] * fabs((double)v[((size_t)t * Hkv + gi) * d + c]);
            sc[(size_t)h * d + c] = a / l;
        }
    }
    free(p);
}

static void case_decode(int T, int H, int Hkv, int d, int bf16, uint64_t seed) {
    const size_t nq = (size_t)H * d, nkv = (size_t)T * Hkv * d;
    float *q = ic_gt_xmalloc(nq * sizeof *q), *k = ic_gt_xmalloc(nkv * sizeof *k), *v = ic_gt_xmalloc(nkv * sizeof *v);
    ic_oracle_fill(q, nq, seed, -2.0f, 2.0f, bf16);
    ic_oracle_fill(k, nkv, seed + 1, -2.0f, 2.0f, bf16);
    ic_oracle_fill(v, nkv, seed + 2, -1.0f, 1.0f, bf16);
    float *out[2], *lse[2];
    ic_ctx *ctx[2] = {&g_cpu, &g_gpu};
    for (int b = 0; b < 2; b++) {
        const int lowp = b == 1 && bf16;
        reserve(ctx[b], ic_attention_decode_workspace_bytes(ctx[b], T, H, d));
        void *dq = put(ctx[b], q, nq, lowp), *dk = put(ctx[b], k, nkv, lowp);
        void *dv = put(ctx[b], v, nkv, lowp), *dout = put(ctx[b], NULL, nq, lowp);
        float *dlse = put(ctx[b], NULL, (size_t)H, 0);
        if (lowp)
            ic_attention_decode_forward_cuda(ctx[b], IC_BF16, dout, dlse, dq, dk, dv, T, H, Hkv, d);
        else
            ic_attention_decode_forward(ctx[b], dout, dlse, dq, dk, dv, T, H, Hkv, d);
        ic_ctx_sync(ctx[b]);
        out[b] = get(ctx[b], dout, nq, lowp);
        lse[b] = get(ctx[b], dlse, (size_t)H, 0);
        ic_buf_free(ctx[b], dq); ic_buf_free(ctx[b], dk); ic_buf_free(ctx[b], dv);
        ic_buf_free(ctx[b], dout); ic_buf_free(ctx[b], dlse);
    }
    double *sc = ic_gt_xmalloc(sizeof *sc * nq);
    decode_scale(sc, q, k, v, T, H, Hkv, d);
    char name[96];
    snprintf(name, sizeof name, "decode out %s T=%d H=%d Hkv=%d d=%d", bf16 ? "bf16" : "f32", T, H, Hkv, d);
    compare(name, out[1], out[0], sc, nq, bf16 ? 1e-2 : 1e-5);
    for (int h = 0; h < H; h++) sc[h] = fabs(lse[0][h]) + 1.0;
    snprintf(name, sizeof name, "decode lse %s T=%d H=%d Hkv=%d d=%d", bf16 ? "bf16" : "f32", T, H, Hkv, d);
    compare(name, lse[1], lse[0], sc, (size_t)H, 1e-5);
    free(q); free(k); free(v); free(sc);
    for (int b = 0; b < 2; b++) { free(out[b]); free(lse[b]); }
}

int main(void) {
    int rc = ic_gt_open(&g_cpu, &g_gpu);
    if (rc) return rc;
    for (int bf16 = 0; bf16 < 2; bf16++) {
        case_ce(64, 49152, bf16, 11 + (uint64_t)bf16);
        case_ce(7, 4099, bf16, 21 + (uint64_t)bf16);  /* ragged: element loads */
        const int Ts[4] = {1, 1000, 8192, 32768};
        for (int i = 0; i < 4; i++) case_decode(Ts[i], 9, 3, 64, bf16, 31 + 10 * (uint64_t)i + (uint64_t)bf16);
        case_decode(333, 4, 4, 64, bf16, 91 + (uint64_t)bf16);
    }
    ic_ctx_free(&g_gpu);
    ic_ctx_free(&g_cpu);
    printf("ce + decode, GPU vs CPU: %d cases, %d failed\n", g_cases, g_failed);
    return g_failed ? 1 : 0;
}
