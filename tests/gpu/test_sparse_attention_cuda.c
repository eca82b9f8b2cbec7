/* The CUDA sparse attention (kernels/cuda/sparse_attention.cu, through the
 * public ic_sparse_attention_forward / _dt) on the GPU against the CPU
 * reference op (kernels/cpu/sparse_attention.c) on the same values (bf16-
 * rounded for bf16 storage). Shapes: SmolLM2's teacher, L = 8192, H 9, Hkv
 * 3, d 64, K 256, with top-k-like sets (the local window plus distinct
 * random earlier positions, sorted; tests/ic_sparse_sets.h), fp32 and bf16,
 * lse returned and NULL; DeepSeek-like heads (H 16, Hkv 1, d 128) at K 2048
 * with L = 2100 (rows short of K, then full ones), MHA 16/16 d 128, and a ragged GQA
 * 8/2 with short unsorted rows; bf16 8/2 and 12/1 (the tensor-core kernel takes
 * bf16 3..16 heads a KV group at d 64 / 128), and SmolLM2 / DeepSeek bf16 again
 * with IC_SA_MMA_MIN_GS=17 (the CUDA-core kernel). out and lse are poisoned with
 * NaN first; every case runs twice and the two outputs must match bit for bit.
 * Tolerances as in tests/cudasim/test_sparse_attention.cpp: out relative to
 * S = sum_i p_i |v_i| (double), fp32 2e-5, bf16 4e-3 (one bf16 rounding);
 * lse 1e-5 of |lse| + 1. Prints the kernel's time (one call, after a
 * warm-up) and the GB/s of the gathered K/V rows. --quick: four small shapes
 * (both kernels), for compute-sanitizer.
 *
 * Plain main, no Check: the GPU machine has no libcheck. Exit 77 without a
 * GPU (or in a build without CUDA), 1 on any mismatch. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/ic_ctx.h"
#include "kernels/ic_sparse_attention.h"

#include "ic_gpu_test.h"
#include "../ic_sparse_sets.h"

#ifndef IC_WITH_CUDA
int main(void) {
    printf("SKIP: built without CUDA (-DIC_CUDA=OFF)\n");
    return 77;
}
#else

static ic_ctx g_cpu, g_gpu;
static int g_cases, g_failed;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* S[t, h, c] = sum_i p_i |v[idx_i, g, c]| / sum_i p_i, in double. */
static void scale_of(double *S, const float *q, const float *k, const float *v, int L, int H,
                     int Hkv, int d, const int32_t *idx, const int32_t *cnt, int K) {
    const int gs = H / Hkv;
    #pragma omp parallel for schedule(dynamic, 16)
    for (int t = 0; t < L; t++) {
        double *p = ic_gt_xmalloc(sizeof(double) * (size_t)K);
        for (int h = 0; h < H; h++) {
            const int g = h / gs, n = cnt[t];
            const int32_t *set = idx + (size_t)t * K;
            const float *qh = q + ((size_t)t * H + h) * d;
            double m = -INFINITY;
            for (int i = 0; i < n; i++) {
                const float *kr = k + ((size_t)set[i] * Hkv + g) * d;
                double a = 0.0;
                for (int c = 0; c < d; c++) a += (double)qh[c] * kr[c];
                p[i] = a / sqrt((double)d);
                m = p[i] > m ? p[i] : m;
            }
            double l = 0.0;
            for (int i = 0; i < n; i++) l += (p[i] = exp(p[i] - m));
            double *Sh = S + ((size_t)t * H + h) * d;
            for (int c = 0; c < d; c++) Sh[c] = 0.0;
            for (int i = 0; i < n; i++) {
                const float *vr = v + ((size_t)set[i] * Hkv + g) * d;
                for (int c = 0; c < d; c++) Sh[c] += p[i] * fabs((double)vr[c]);
            }
            for (int c = 0; c < d; c++) Sh[c] /= l;
        }
        free(p);
    }
}

/* Host fp32 values -> a device buffer in dt (bf16: the values are already
 * bf16-representable, so the conversion is exact). */
static void *upload(const float *x, size_t n, ic_dtype dt) {
    const size_t es = dt == IC_BF16 ? 2 : 4;
    void *d = ic_buf_alloc(&g_gpu, es * n);
    if (!d) { fprintf(stderr, "out of device memory\n"); exit(2); }
    if (dt == IC_F32) {
        ic_buf_upload(&g_gpu, d, x, 4 * n);
    } else {
        uint16_t *h = ic_gt_xmalloc(2 * n);
        for (size_t i = 0; i < n; i++) h[i] = ic_oracle_f2bf(x[i]);
        ic_buf_upload(&g_gpu, d, h, 2 * n);
        free(h);
    }
    return d;
}

static void one(ic_dtype dt, int L, int H, int Hkv, int d, int K, int mode, int with_lse,
                uint64_t seed) {
    const int bf = dt == IC_BF16;
    const size_t nq = (size_t)L * H * d, nkv = (size_t)L * Hkv * d, nl = (size_t)H * L;
    const size_t es = bf ? 2 : 4;
    float *q = ic_gt_xmalloc(4 * nq), *k = ic_gt_xmalloc(4 * nkv), *v = ic_gt_xmalloc(4 * nkv);
    ic_oracle_fill(q, nq, seed, -1.5f, 1.5f, bf);
    ic_oracle_fill(k, nkv, seed + 1, -1.5f, 1.5f, bf);
    ic_oracle_fill(v, nkv, seed + 2, -1.0f, 1.0f, bf);
    int32_t *idx = ic_gt_xmalloc(4 * (size_t)L * K), *cnt = ic_gt_xmalloc(4 * (size_t)L);
    sets_fill(idx, cnt, L, K, mode, seed + 3);
    long gathered = 0;
    for (int t = 0; t < L; t++) gathered += cnt[t];

    ic_error err = {0};
    if (ic_ctx_reserve(&g_cpu, ic_sparse_attention_workspace_bytes(&g_cpu, H, Hkv, d, K), &err) ||
        ic_ctx_reserve(&g_gpu, ic_sparse_attention_workspace_bytes(&g_gpu, H, Hkv, d, K), &err)) {
        fprintf(stderr, "workspace: %s\n", err.msg);
        exit(2);
    }
    float *ro = ic_gt_xmalloc(4 * nq), *rl = ic_gt_xmalloc(4 * nl);
    ic_sparse_attention_forward(&g_cpu, ro, rl, q, k, v, L, H, Hkv, d, idx, cnt, K);
    double *S = ic_gt_xmalloc(sizeof(double) * nq);
    scale_of(S, q, k, v, L, H, Hkv, d, idx, cnt, K);

    void *dq = upload(q, nq, dt), *dk = upload(k, nkv, dt), *dv = upload(v, nkv, dt);
    void *dout = ic_buf_alloc(&g_gpu, es * nq);
    float *dlse = ic_buf_alloc(&g_gpu, 4 * nl);
    int32_t *didx = ic_buf_alloc(&g_gpu, 4 * (size_t)L * K), *dcnt = ic_buf_alloc(&g_gpu, 4 * (size_t)L);
    if (!dout || !dlse || !didx || !dcnt) { fprintf(stderr, "out of device memory\n"); exit(2); }
    ic_buf_upload(&g_gpu, didx, idx, 4 * (size_t)L * K);
    ic_buf_upload(&g_gpu, dcnt, cnt, 4 * (size_t)L);
    /* all-ones bytes: NaN as fp32 and as bf16 */
    float *nan_buf = ic_gt_xmalloc(4 * (nq > nl ? nq : nl));
    memset(nan_buf, 0xFF, 4 * (nq > nl ? nq : nl));
    double ms = 0.0;
    unsigned char *first = ic_gt_xmalloc(es * nq);  /* rep 0's out: rep 1 must match it bitwise */
    for (int rep = 0; rep < 2; rep++) {  /* rep 0 warms up; rep 1 is timed and checked */
        if (rep == 1) ic_buf_download(&g_gpu, first, dout, es * nq);
        ic_buf_upload(&g_gpu, dout, nan_buf, es * nq);
        ic_buf_upload(&g_gpu, dlse, nan_buf, 4 * nl);
        ic_ctx_sync(&g_gpu);
        const double a = now_s();
        if (dt == IC_F32 && rep == 1 && (seed & 1))  /* the fp32 public op itself, sometimes */
            ic_sparse_attention_forward(&g_gpu, dout, with_lse ? dlse : NULL, dq, dk, dv, L, H,
                                        Hkv, d, didx, dcnt, K);
        else
            ic_sparse_attention_forward_dt(&g_gpu, dt, dout, with_lse ? dlse : NULL, dq, dk, dv,
                                           L, H, Hkv, d, didx, dcnt, K);
        ic_ctx_sync(&g_gpu);
        ms = 1e3 * (now_s() - a);
    }
    float *go = ic_gt_xmalloc(4 * nq), *gl = ic_gt_xmalloc(4 * nl);
    if (bf) {
        uint16_t *h = ic_gt_xmalloc(2 * nq);
        ic_buf_download(&g_gpu, h, dout, 2 * nq);
        for (size_t i = 0; i < nq; i++) go[i] = ic_oracle_bf2f(h[i]);
        free(h);
    } else {
        ic_buf_download(&g_gpu, go, dout, 4 * nq);
    }
    ic_buf_download(&g_gpu, gl, dlse, 4 * nl);

    {
        unsigned char *again = ic_gt_xmalloc(es * nq);
        ic_buf_download(&g_gpu, again, dout, es * nq);
        g_cases++;
        if (memcmp(first, again, es * nq) != 0) {
            printf("  FAIL: two calls on the same inputs gave different bytes (not deterministic)\n");
            g_failed++;
        }
        free(again);
    }
    free(first);
    double *rod = ic_gt_xmalloc(sizeof(double) * nq);
    for (size_t i = 0; i < nq; i++) rod[i] = ro[i];
    const double gb = (double)gathered * Hkv * d * 2.0 * (double)es / 1e9;
    char name[200];
    snprintf(name, sizeof name, "%s L=%d H=%d/%d d=%d K=%d %s%s %.3f ms %.0f GB/s",
             bf ? "bf16" : "f32", L, H, Hkv, d, K, sets_mode_name(mode), with_lse ? "" : " no-lse",
             ms, gb / (ms * 1e-3));
    ic_oracle_check(name, go, rod, S, nq, bf ? 4e-3 : 2e-5, &g_cases, &g_failed);
    if (with_lse) {
        double *rld = ic_gt_xmalloc(sizeof(double) * nl), *lsc = ic_gt_xmalloc(sizeof(double) * nl);
        for (size_t i = 0; i < nl; i++) {
            rld[i] = rl[i];
            lsc[i] = fabs((double)rl[i]) + 1.0;
        }
        ic_oracle_check("  lse", gl, rld, lsc, nl, 1e-5, &g_cases, &g_failed);
        free(rld);
        free(lsc);
    } else {
        size_t touched = 0;
        for (size_t i = 0; i < nl; i++) touched += !isnan(gl[i]);
        g_cases++;
        if (touched) {
            printf("  FAIL: lse NULL, yet %zu entries of the poisoned buffer changed\n", touched);
            g_failed++;
        }
    }
    ic_buf_free(&g_gpu, dq); ic_buf_free(&g_gpu, dk); ic_buf_free(&g_gpu, dv);
    ic_buf_free(&g_gpu, dout); ic_buf_free(&g_gpu, dlse);
    ic_buf_free(&g_gpu, didx); ic_buf_free(&g_gpu, dcnt);
    free(q); free(k); free(v); free(idx); free(cnt); free(ro); free(rl); free(S);
    free(nan_buf); free(go); free(gl); free(rod);
}

int main(int argc, char **argv) {
    const int rc = ic_gt_open(&g_cpu, &g_gpu);
    if (rc) return rc;
    if (argc > 1 && strcmp(argv[1], "--quick") == 0) {
        /* small shapes of both kernels, for compute-sanitizer (the tensor-core
         * kernel's shared rings make racecheck slow on the full ones) */
        one(IC_BF16, 600, 9, 3, 64, 256, SETS_TOPK, 1, 41);    /* tensor cores, d 64 */
        one(IC_BF16, 300, 16, 1, 128, 512, SETS_SHORT, 1, 43); /* tensor cores, d 128 */
        one(IC_BF16, 200, 16, 16, 128, 128, SETS_TOPK, 0, 45); /* CUDA cores, bf16 */
        one(IC_F32, 300, 8, 2, 64, 100, SETS_TOPK, 1, 47);     /* CUDA cores, fp32 */
        printf("sparse attention cuda (--quick): %d cases, %d failed\n", g_cases, g_failed);
        ic_ctx_free(&g_gpu);
        ic_ctx_free(&g_cpu);
        return g_failed ? 1 : 0;
    }
    one(IC_BF16, 8192, 9, 3, 64, 256, SETS_TOPK, 1, 11);   /* SmolLM2's teacher, realistic sets */
    one(IC_F32, 8192, 9, 3, 64, 256, SETS_TOPK, 1, 13);
    one(IC_BF16, 8192, 9, 3, 64, 256, SETS_TOPK, 0, 15);
    one(IC_BF16, 2100, 16, 1, 128, 2048, SETS_TOPK, 1, 17);  /* DeepSeek-like heads, K 2048 */
    one(IC_F32, 2100, 16, 1, 128, 2048, SETS_SHORT, 1, 19);
    one(IC_BF16, 2053, 16, 16, 128, 512, SETS_TOPK, 1, 21);  /* MHA */
    one(IC_F32, 4099, 8, 2, 64, 300, SETS_SHORT, 0, 23);     /* ragged GQA, short rows */
    one(IC_BF16, 1027, 9, 3, 64, 1024, SETS_DENSE, 1, 25);   /* dense causal (K > L) */
    /* The tensor-core kernel (bf16, 3 <= H / Hkv <= 16, d 64 / 128) with 4 and
     * 12 heads a group (padded to 16 rows), then the CUDA-core kernel on the
     * shapes it took before (IC_SA_MMA_MIN_GS=17 turns the other one off). */
    one(IC_BF16, 3001, 8, 2, 64, 300, SETS_SHORT, 1, 27);
    one(IC_BF16, 1500, 12, 1, 128, 700, SETS_TOPK, 0, 29);
    setenv("IC_SA_MMA_MIN_GS", "17", 1);
    printf("IC_SA_MMA_MIN_GS=17 (CUDA-core kernel only):\n");
    one(IC_BF16, 8192, 9, 3, 64, 256, SETS_TOPK, 1, 31);
    one(IC_BF16, 2100, 16, 1, 128, 2048, SETS_TOPK, 1, 33);
    unsetenv("IC_SA_MMA_MIN_GS");
    printf("sparse attention cuda: %d cases, %d failed\n", g_cases, g_failed);
    ic_ctx_free(&g_gpu);
    ic_ctx_free(&g_cpu);
    return g_failed ? 1 : 0;
}
#endif
