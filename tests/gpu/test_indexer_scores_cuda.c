/* The lightning-indexer scores forward on the GPU (kernels/cuda/
 * indexer_scores.cu, bf16 mma.sync) against the CPU reference op
 * (kernels/cpu/indexer_scores.c) at SmolLM2's indexer shape (H_I = 16,
 * d_I = 64, L = 2048, all rows) and ragged row blocks (mid-tile starts and
 * ends, one decode row, ld > t1, H_I = 1/3, d_I = 16/128) and H_I = 64,
 * d_I = 128 at L = 1024.
 *
 * Inputs, and the tolerance per entry s <= t relative to
 * S = sum_j |w[t,j]| sum_i |qI[t,j,i] kI[s,i]| (computed with the CPU op on
 * |qI|, |kI|, |w|):
 *   bf16 storage (ic_indexer_scores_forward_cuda with IC_BF16) and fp32
 *     storage of bf16-representable values (through the public dispatcher):
 *     1e-5; the products are exact on both sides, only the fp32 summation
 *     order differs (a few 2^-24 of S);
 *   fp32 arbitrary values (dispatcher): 4e-3, the bound of rounding qI and kI
 *     to bf16 for the tensor cores (2^-8 per product) plus fp32 noise.
 * Entries t < s < ld must be exactly -INFINITY; the output is poisoned with
 * NaN first, with 64 poisoned floats after it that must stay NaN.
 * Plain main, no Check; exit 77 without a GPU. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ic_error.h"
#include "kernels/ic_ctx.h"
#include "kernels/ic_cuda_ops.h"
#include "kernels/ic_indexer_scores.h"

#include "ic_gpu_test.h"

static ic_ctx g_cpu, g_gpu;
static int g_cases, g_failed;

enum { IN_BF16, IN_F32_BFVAL, IN_F32 };
static const char *in_name(int k) {
    return k == IN_BF16 ? "bf16" : k == IN_F32_BFVAL ? "f32 (bf16 values)" : "f32";
}

static void *dev(size_t bytes) {
    void *d = ic_buf_alloc(&g_gpu, bytes);
    if (!d) { fprintf(stderr, "out of device memory\n"); exit(2); }
    return d;
}

/* x on the device as dt (bf16 by round to nearest even: the values are
 * bf16-representable whenever dt is bf16). */
static void *dev_put(ic_dtype dt, const float *x, size_t n) {
    void *d = dev(n * (dt == IC_BF16 ? 2 : 4));
    if (dt == IC_F32) {
        ic_buf_upload(&g_gpu, d, x, n * 4);
    } else {
        uint16_t *h = ic_gt_xmalloc(n * 2);
        for (size_t i = 0; i < n; i++) h[i] = ic_oracle_f2bf(x[i]);
        ic_buf_upload(&g_gpu, d, h, n * 2);
        free(h);
    }
    return d;
}

static void cpu_scores(float *out, int ld, const float *q, const float *k, const float *w,
                       int L, int H, int d, int t0, int t1) {
    ic_error err = {0};
    if (ic_ctx_reserve(&g_cpu, ic_indexer_scores_workspace_bytes(&g_cpu, L, H, d), &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        exit(2);
    }
    ic_indexer_scores_forward(&g_cpu, out, ld, q, k, w, L, H, d, t0, t1);
}

static float *absdup(const float *x, size_t n) {
    float *a = ic_gt_xmalloc(n * sizeof *a);
    for (size_t i = 0; i < n; i++) a[i] = fabsf(x[i]);
    return a;
}

static void one(int kind, int L, int H, int d, int t0, int t1, int ld, uint64_t seed) {
    const ic_dtype dt = kind == IN_BF16 ? IC_BF16 : IC_F32;
    const int round = kind != IN_F32;
    const size_t nq = (size_t)L * H * d, nk = (size_t)L * d, nw = (size_t)L * H;
    float *q = ic_gt_xmalloc(nq * 4), *k = ic_gt_xmalloc(nk * 4), *w = ic_gt_xmalloc(nw * 4);
    ic_oracle_fill(q, nq, seed, -1.0f, 1.0f, round);
    ic_oracle_fill(k, nk, seed + 1, -1.0f, 1.0f, round);
    ic_oracle_fill(w, nw, seed + 2, -0.5f, 1.0f, round);
    const int rows = t1 - t0;
    const size_t n_out = (size_t)rows * ld, guard = 64;

    float *ref = ic_gt_xmalloc(n_out * 4), *S = ic_gt_xmalloc(n_out * 4);
    cpu_scores(ref, ld, q, k, w, L, H, d, t0, t1);
    float *aq = absdup(q, nq), *ak = absdup(k, nk), *aw = absdup(w, nw);
    cpu_scores(S, ld, aq, ak, aw, L, H, d, t0, t1);  /* ReLU of a sum of |terms| is itself */

    float *got = ic_gt_xmalloc((n_out + guard) * 4);
    for (size_t i = 0; i < n_out + guard; i++) got[i] = NAN;
    float *dout = dev((n_out + guard) * 4);
    ic_buf_upload(&g_gpu, dout, got, (n_out + guard) * 4);
    void *dq = dev_put(dt, q, nq), *dk = dev_put(dt, k, nk), *dw = dev_put(dt, w, nw);
    if (dt == IC_BF16)
        ic_indexer_scores_forward_cuda(&g_gpu, IC_BF16, dout, ld, dq, dk, dw, L, H, d, t0, t1);
    else  /* the public op: the dispatcher's CUDA branch */
        ic_indexer_scores_forward(&g_gpu, dout, ld, dq, dk, dw, L, H, d, t0, t1);
    ic_ctx_sync(&g_gpu);
    ic_buf_download(&g_gpu, got, dout, (n_out + guard) * 4);

    const double tol = round ? 1e-5 : 4e-3;
    double max_rel = 0.0;
    size_t bad = 0, bad_mask = 0, bad_guard = 0, first = 0;
    for (int r = 0; r < rows; r++) {
        const int t = t0 + r;
        for (int s = 0; s < ld; s++) {
            const size_t i = (size_t)r * ld + s;
            if (s > t) {
                if (!(isinf(got[i]) && got[i] < 0)) bad_mask++;
                continue;
            }
            const double sc = S[i] > 0 ? (double)S[i] : 1e-30;
            const double rel = fabs((double)got[i] - (double)ref[i]) / sc;
            if (!(rel <= tol)) { if (!bad) first = i; bad++; }
            if (rel > max_rel || rel != rel) max_rel = rel;
        }
    }
    for (size_t i = n_out; i < n_out + guard; i++)
        if (!isnan(got[i])) bad_guard++;
    g_cases++;
    const int fail = bad || bad_mask || bad_guard;
    if (fail) g_failed++;
    printf("scores %-17s L=%-5d H=%-2d d=%-3d [%d,%d) ld=%-5d max rel %.3e tol %.0e  %s", in_name(kind),
           L, H, d, t0, t1, ld, max_rel, tol, fail ? "FAIL" : "PASS");
    if (bad) printf("  (%zu bad, first [%zu] got %.9g want %.9g)", bad, first, got[first], ref[first]);
    if (bad_mask || bad_guard) printf("  (%zu not -inf above the diagonal, %zu written past)", bad_mask, bad_guard);
    printf("\n");
    fflush(stdout);
    ic_buf_free(&g_gpu, dout); ic_buf_free(&g_gpu, dq); ic_buf_free(&g_gpu, dk); ic_buf_free(&g_gpu, dw);
    free(q); free(k); free(w); free(aq); free(ak); free(aw); free(ref); free(S); free(got);
}

int main(void) {
    const int rc = ic_gt_open(&g_cpu, &g_gpu);
    if (rc) return rc;
    struct { int L, H, d, t0, t1, ld; } c[] = {
        {2048, 16, 64, 0, 2048, 2048},   /* SmolLM2's indexer, all rows */
        {2048, 16, 64, 1000, 1100, 1200}, {2048, 16, 64, 0, 37, 2048},
        {2048, 16, 64, 2047, 2048, 2048}, /* one decode row */
        {777, 3, 128, 5, 700, 777},       {300, 1, 16, 13, 300, 301},
        {1024, 64, 128, 0, 1024, 1024},   /* the big indexer shape's heads and width */
    };
    const int n = (int)(sizeof c / sizeof c[0]);
    uint64_t seed = 77;
    for (int kind = 0; kind < 3; kind++)
        for (int i = 0; i < n; i++, seed += 10)
            one(kind, c[i].L, c[i].H, c[i].d, c[i].t0, c[i].t1, c[i].ld, seed);
    printf("indexer scores GPU vs CPU: %d cases, %d failed\n", g_cases, g_failed);
    ic_ctx_free(&g_gpu);
    ic_ctx_free(&g_cpu);
    return g_failed ? 1 : 0;
}
