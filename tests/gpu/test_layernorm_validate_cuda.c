/* The CUDA LayerNorm (kernels/cuda/layernorm.cu) and validation ops
 * (kernels/cuda/validate.cu) on the GPU against the CPU reference ops:
 * LayerNorm forward (y, mean, rstd) and backward (dx, dweight, dbias
 * accumulated into random gradients) at the indexer's shapes (n = d_I = 64,
 * 128; rows 1, 1000, 131072: the 128K-token window) within 1e-6 relative
 * of the terms' magnitude, outputs poisoned with NaN first, and the
 * backward's second call bit-identical (deterministic column sums). The
 * validation ops: valid sets at L = 4096, K = 256 and 2048 pass; planted
 * faults give the CPU's message word for word.
 *
 * Plain main: exit 77 without a GPU (or in a build without CUDA), 1 on a
 * failure. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ic_ctx.h"
#include "kernels/ic_layernorm.h"
#include "kernels/ic_validate.h"

#include "ic_gpu_test.h"

#ifndef IC_WITH_CUDA
int main(void) {
    printf("SKIP: built without CUDA (-DIC_CUDA=OFF)\n");
    return 77;
}
#else

static ic_ctx g_cpu, g_gpu;
static int g_cases, g_failed;

static float *dev_put(const float *h, size_t n) {
    float *d = ic_buf_alloc(&g_gpu, sizeof(float) * (n ? n : 1));
    if (!d) { fprintf(stderr, "out of device memory\n"); exit(2); }
    ic_buf_upload(&g_gpu, d, h, sizeof(float) * n);
    return d;
}

static void nan_fill(float *x, size_t n) { for (size_t i = 0; i < n; i++) x[i] = NAN; }

/* |got - ref| <= tol * (|ref| + floor) elementwise. */
static void cmp(const char *name, const float *got, const float *ref, size_t n, double floor_) {
    size_t bad = 0, first = 0;
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        const double e = fabs((double)got[i] - ref[i]), s = fabs((double)ref[i]) + floor_;
        if (!(e <= 1e-6 * s)) { if (!bad) first = i; bad++; }
        if (e / s > worst || e != e) worst = e / s;
    }
    g_cases++;
    if (bad) g_failed++;
    printf("%-48s max rel %.3e  %s", name, worst, bad ? "FAIL" : "PASS");
    if (bad) printf(" (%zu bad, first [%zu] got %.9g want %.9g)", bad, first, got[first], ref[first]);
    printf("\n");
}

static void layernorm_case(int rows, int n, uint64_t seed) {
    const size_t N = (size_t)rows * n;
    ic_error err = {0};
    if (ic_ctx_reserve(&g_gpu, ic_layernorm_backward_workspace_bytes(&g_gpu, rows, n), &err) != 0) {
        fprintf(stderr, "workspace: %s\n", err.msg);
        exit(2);
    }
    float *x = ic_gt_xmalloc(4 * N), *dy = ic_gt_xmalloc(4 * N), *w = ic_gt_xmalloc(4 * (size_t)n);
    float *b = ic_gt_xmalloc(4 * (size_t)n);
    ic_oracle_fill(x, N, seed, -2.0f, 3.0f, 0);
    ic_oracle_fill(dy, N, seed + 1, -1.0f, 1.0f, 0);
    ic_oracle_fill(w, (size_t)n, seed + 2, 0.5f, 1.5f, 0);
    ic_oracle_fill(b, (size_t)n, seed + 3, -0.5f, 0.5f, 0);
    /* CPU reference */
    float *y = ic_gt_xmalloc(4 * N), *mu = ic_gt_xmalloc(4 * (size_t)rows), *rs = ic_gt_xmalloc(4 * (size_t)rows);
    float *dx = ic_gt_xmalloc(4 * N), *dw = ic_gt_xmalloc(4 * (size_t)n), *db = ic_gt_xmalloc(4 * (size_t)n);
    ic_oracle_fill(dx, N, seed + 4, -0.1f, 0.1f, 0);
    ic_oracle_fill(dw, (size_t)n, seed + 5, -0.1f, 0.1f, 0);
    ic_oracle_fill(db, (size_t)n, seed + 6, -0.1f, 0.1f, 0);
    float *dx0 = ic_gt_xmalloc(4 * N), *dw0 = ic_gt_xmalloc(4 * (size_t)n), *db0 = ic_gt_xmalloc(4 * (size_t)n);
    memcpy(dx0, dx, 4 * N); memcpy(dw0, dw, 4 * (size_t)n); memcpy(db0, db, 4 * (size_t)n);
    ic_layernorm_forward(&g_cpu, y, mu, rs, x, w, b, rows, n, IC_LAYERNORM_EPS);
    ic_layernorm_backward(&g_cpu, dx, dw, db, dy, x, mu, rs, w, rows, n);
    /* GPU */
    float *gx = dev_put(x, N), *gdy = dev_put(dy, N), *gw = dev_put(w, (size_t)n), *gb = dev_put(b, (size_t)n);
    float *h = ic_gt_xmalloc(4 * N);
    nan_fill(h, N);
    float *gy = dev_put(h, N), *gmu = dev_put(h, (size_t)rows), *grs = dev_put(h, (size_t)rows);
    ic_layernorm_forward(&g_gpu, gy, gmu, grs, gx, gw, gb, rows, n, IC_LAYERNORM_EPS);
    char name[96];
    ic_buf_download(&g_gpu, h, gy, 4 * N);
    snprintf(name, sizeof name, "layernorm fwd y rows=%d n=%d", rows, n);
    cmp(name, h, y, N, 1.0);
    ic_buf_download(&g_gpu, h, gmu, 4 * (size_t)rows);
    snprintf(name, sizeof name, "layernorm fwd mean rows=%d n=%d", rows, n);
    cmp(name, h, mu, (size_t)rows, 1.0);
    ic_buf_download(&g_gpu, h, grs, 4 * (size_t)rows);
    snprintf(name, sizeof name, "layernorm fwd rstd rows=%d n=%d", rows, n);
    cmp(name, h, rs, (size_t)rows, 0.0);
    /* the backward reads the CPU's mean/rstd, so both backwards see the same inputs */
    ic_buf_upload(&g_gpu, gmu, mu, 4 * (size_t)rows);
    ic_buf_upload(&g_gpu, grs, rs, 4 * (size_t)rows);
    float *first = ic_gt_xmalloc(4 * (N + 2 * (size_t)n));
    for (int rep = 0; rep < 2; rep++) {
        float *gdx = dev_put(dx0, N), *gdw = dev_put(dw0, (size_t)n), *gdb = dev_put(db0, (size_t)n);
        ic_layernorm_backward(&g_gpu, gdx, gdw, gdb, gdy, gx, gmu, grs, gw, rows, n);
        float *all = ic_gt_xmalloc(4 * (N + 2 * (size_t)n));
        ic_buf_download(&g_gpu, all, gdx, 4 * N);
        ic_buf_download(&g_gpu, all + N, gdw, 4 * (size_t)n);
        ic_buf_download(&g_gpu, all + N + n, gdb, 4 * (size_t)n);
        if (rep == 0) {
            snprintf(name, sizeof name, "layernorm bwd dx rows=%d n=%d", rows, n);
            cmp(name, all, dx, N, 1.0);
            /* column sums of `rows` terms of unit order */
            snprintf(name, sizeof name, "layernorm bwd dweight rows=%d n=%d", rows, n);
            cmp(name, all + N, dw, (size_t)n, sqrt((double)rows));
            snprintf(name, sizeof name, "layernorm bwd dbias rows=%d n=%d", rows, n);
            cmp(name, all + N + n, db, (size_t)n, sqrt((double)rows));
            memcpy(first, all, 4 * (N + 2 * (size_t)n));
        } else {
            const int same = memcmp(first, all, 4 * (N + 2 * (size_t)n)) == 0;
            g_cases++;
            if (!same) g_failed++;
            printf("layernorm bwd rows=%d n=%d repeat bit-identical: %s\n", rows, n, same ? "PASS" : "FAIL");
        }
        free(all);
        ic_buf_free(&g_gpu, gdx); ic_buf_free(&g_gpu, gdw); ic_buf_free(&g_gpu, gdb);
    }
    ic_buf_free(&g_gpu, gx); ic_buf_free(&g_gpu, gdy); ic_buf_free(&g_gpu, gw); ic_buf_free(&g_gpu, gb);
    ic_buf_free(&g_gpu, gy); ic_buf_free(&g_gpu, gmu); ic_buf_free(&g_gpu, grs);
    free(x); free(dy); free(w); free(b); free(y); free(mu); free(rs); free(dx); free(dw); free(db);
    free(dx0); free(dw0); free(db0); free(h); free(first);
}

static uint64_t g_rng = 99;
static uint32_t rnd(void) {
    g_rng = g_rng * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(g_rng >> 33);
}

static void sets_compare(const char *name, const int32_t *idx, const int32_t *cnt, int L, int K) {
    ic_error ec = {0}, eg = {0};
    const int rc = ic_index_sets_check(&g_cpu, idx, cnt, L, K, &ec);
    int32_t *di = ic_buf_alloc(&g_gpu, 4 * (size_t)L * K), *dc = ic_buf_alloc(&g_gpu, 4 * (size_t)L);
    ic_buf_upload(&g_gpu, di, idx, 4 * (size_t)L * K);
    ic_buf_upload(&g_gpu, dc, cnt, 4 * (size_t)L);
    const int rg = ic_index_sets_check(&g_gpu, di, dc, L, K, &eg);
    const int ok = rc == rg && (rc == 0 || strcmp(ec.msg, eg.msg) == 0);
    g_cases++;
    if (!ok) g_failed++;
    printf("%-40s cpu %d \"%s\" | gpu %d \"%s\"  %s\n", name, rc, rc ? ec.msg : "", rg,
           rg ? eg.msg : "", ok ? "PASS" : "FAIL");
    ic_buf_free(&g_gpu, di);
    ic_buf_free(&g_gpu, dc);
}

static void sets_case(int L, int K) {
    ic_error err = {0};
    if (ic_ctx_reserve(&g_cpu, ic_index_sets_check_workspace_bytes(&g_cpu, L), &err) != 0 ||
        ic_ctx_reserve(&g_gpu, ic_index_sets_check_workspace_bytes(&g_gpu, L), &err) != 0) {
        fprintf(stderr, "workspace: %s\n", err.msg);
        exit(2);
    }
    int32_t *idx = ic_gt_xmalloc(4 * (size_t)L * K), *cnt = ic_gt_xmalloc(4 * (size_t)L);
    int32_t *perm = ic_gt_xmalloc(4 * (size_t)L);
    for (int t = 0; t < L; t++) {   /* the last K positions <= t, shuffled (a partial Fisher-Yates) */
        const int n = K < t + 1 ? K : t + 1;
        cnt[t] = n;
        for (int i = 0; i < n; i++) perm[i] = t - i;
        for (int i = 0; i < n; i++) {
            const int j = i + (int)(rnd() % (unsigned)(n - i));
            const int32_t v = perm[i]; perm[i] = perm[j]; perm[j] = v;
            idx[(size_t)t * K + i] = perm[i];
        }
    }
    char name[96];
    snprintf(name, sizeof name, "index sets valid L=%d K=%d", L, K);
    sets_compare(name, idx, cnt, L, K);
    const int r = L - 3;
    int32_t *row = idx + (size_t)r * K;
    const int32_t keep = row[cnt[r] - 1];
    row[cnt[r] - 1] = row[1];
    snprintf(name, sizeof name, "index sets duplicate L=%d K=%d", L, K);
    sets_compare(name, idx, cnt, L, K);
    row[cnt[r] - 1] = keep;
    idx[(size_t)(L / 2) * K] = L / 2 + 1;
    snprintf(name, sizeof name, "index sets future entry L=%d K=%d", L, K);
    sets_compare(name, idx, cnt, L, K);
    free(idx); free(cnt); free(perm);
}

static void tokens_case(int L, int V) {
    int32_t *tok = ic_gt_xmalloc(4 * (size_t)L);
    for (int i = 0; i < L; i++) tok[i] = (int32_t)(rnd() % (unsigned)V);
    tok[L - 5] = V;
    ic_error err = {0};
    if (ic_ctx_reserve(&g_gpu, ic_tokens_check_workspace_bytes(&g_gpu, L), &err) != 0) exit(2);
    int32_t *d = ic_buf_alloc(&g_gpu, 4 * (size_t)L);
    ic_buf_upload(&g_gpu, d, tok, 4 * (size_t)L);
    ic_error ec = {0}, eg = {0};
    const int rc = ic_tokens_check(&g_cpu, tok, L, V, &ec), rg = ic_tokens_check(&g_gpu, d, L, V, &eg);
    const int ok = rc == rg && rc != 0 && strcmp(ec.msg, eg.msg) == 0;
    g_cases++;
    if (!ok) g_failed++;
    printf("tokens L=%d: cpu \"%s\" | gpu \"%s\"  %s\n", L, ec.msg, eg.msg, ok ? "PASS" : "FAIL");
    ic_buf_free(&g_gpu, d);
    free(tok);
}

int main(void) {
    int rc = ic_gt_open(&g_cpu, &g_gpu);
    if (rc) return rc;
    layernorm_case(1, 64, 1);
    layernorm_case(1000, 64, 2);
    layernorm_case(1000, 128, 3);
    layernorm_case(131072, 64, 4);
    sets_case(4096, 256);
    sets_case(3000, 2048);
    tokens_case(131072, 49152);
    printf("layernorm + validate (GPU): %d cases, %d failed\n", g_cases, g_failed);
    ic_ctx_free(&g_gpu);
    ic_ctx_free(&g_cpu);
    return g_failed ? 1 : 0;
}
#endif
