/* The CUDA top-k (kernels/cuda/topk.cu) on the GPU against the CPU
 * reference op (kernels/cpu/topk.c): idx [L, K] and cnt [L] must be
 * identical, bit for bit, over the whole arrays (both poisoned with -2
 * first, so rows outside the block [t0, t1) must stay untouched). Full rows
 * at L = 2048, K = 256; blocks of rows at L = 8192, K = 2048 (k == n rows,
 * then selects); the last 1024 rows of L = 65536 at K = 2048;
 * 128K-candidate rows (a block of 4 rows up to t = 131071,
 * ld = 131072) at K = 256 and 2048; random, tied (4 values), special
 * (NaN, +-inf, -0/+0, denormals) and flat rows (tests/ic_topk_scores.h).
 * Prints the kernel's time per case (one call, after a warm-up).
 *
 * Plain main, no Check: the GPU machine has no libcheck. Exit 77 without a
 * GPU (or in a build without CUDA), 1 on any mismatch. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/ic_ctx.h"
#include "kernels/ic_topk.h"

#include "ic_gpu_test.h"
#include "../ic_topk_scores.h"

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

static void one(int L, int K, int t0, int t1, int ld, int mode, uint64_t seed) {
    const size_t ns = (size_t)(t1 - t0) * (size_t)ld, ni = (size_t)L * (size_t)K;
    float *S = ic_gt_xmalloc(sizeof(float) * ns);
    topk_fill_scores(S, t0, t1, ld, mode, seed);
    int32_t *ri = ic_gt_xmalloc(4 * ni), *gi = ic_gt_xmalloc(4 * ni);
    int32_t *rc = ic_gt_xmalloc(4 * (size_t)L), *gc = ic_gt_xmalloc(4 * (size_t)L);
    for (size_t i = 0; i < ni; i++) ri[i] = -2;
    for (int i = 0; i < L; i++) rc[i] = -2;

    ic_error err = {0};
    if (ic_ctx_reserve(&g_cpu, ic_topk_workspace_bytes(&g_cpu, L), &err) != 0 ||
        ic_ctx_reserve(&g_gpu, ic_topk_workspace_bytes(&g_gpu, L), &err) != 0) {
        fprintf(stderr, "workspace: %s\n", err.msg);
        exit(2);
    }
    ic_topk_forward(&g_cpu, ri, rc, S, ld, t0, t1, K);

    float *dS = ic_buf_alloc(&g_gpu, sizeof(float) * ns);
    int32_t *di = ic_buf_alloc(&g_gpu, 4 * ni), *dc = ic_buf_alloc(&g_gpu, 4 * (size_t)L);
    if (!dS || !di || !dc) { fprintf(stderr, "out of device memory\n"); exit(2); }
    ic_buf_upload(&g_gpu, dS, S, sizeof(float) * ns);
    double ms = 0.0;
    for (int rep = 0; rep < 2; rep++) {  // rep 0 warms up; rep 1 is timed and checked
        for (size_t i = 0; i < ni; i++) gi[i] = -2;
        for (int i = 0; i < L; i++) gc[i] = -2;
        ic_buf_upload(&g_gpu, di, gi, 4 * ni);
        ic_buf_upload(&g_gpu, dc, gc, 4 * (size_t)L);
        ic_ctx_sync(&g_gpu);
        const double a = now_s();
        ic_topk_forward(&g_gpu, di, dc, dS, ld, t0, t1, K);
        ic_ctx_sync(&g_gpu);
        ms = 1e3 * (now_s() - a);
    }
    ic_buf_download(&g_gpu, gi, di, 4 * ni);
    ic_buf_download(&g_gpu, gc, dc, 4 * (size_t)L);

    long bad_i = -1, bad_c = -1, nbad = 0;
    for (size_t i = 0; i < ni; i++)
        if (gi[i] != ri[i]) { if (bad_i < 0) bad_i = (long)i; nbad++; }
    for (int i = 0; i < L; i++)
        if (gc[i] != rc[i]) { if (bad_c < 0) bad_c = i; nbad++; }
    g_cases++;
    printf("%s topk L=%d K=%d rows [%d,%d) ld=%d %-7s %8.3f ms  %ld mismatches\n",
           nbad ? "FAIL" : "ok  ", L, K, t0, t1, ld, topk_mode_name(mode), ms, nbad);
    if (nbad) {
        g_failed++;
        if (bad_i >= 0)
            printf("  first: idx[t=%ld, m=%ld] = %d, CPU %d\n", bad_i / K, bad_i % K, gi[bad_i],
                   ri[bad_i]);
        if (bad_c >= 0) printf("  first: cnt[%ld] = %d, CPU %d\n", bad_c, gc[bad_c], rc[bad_c]);
    }
    ic_buf_free(&g_gpu, dS);
    ic_buf_free(&g_gpu, di);
    ic_buf_free(&g_gpu, dc);
    free(S); free(ri); free(gi); free(rc); free(gc);
}

int main(void) {
    const int rc = ic_gt_open(&g_cpu, &g_gpu);
    if (rc) return rc;
    uint64_t sd = 11;
    for (int mode = 0; mode < 4; mode++) one(2048, 256, 0, 2048, 2048, mode, sd++);
    for (int mode = 0; mode < 3; mode++) {
        one(8192, 2048, 2000, 2100, 8192, mode, sd++);   // k == n up to t = 2047, then selects
        one(8192, 2048, 8100, 8192, 8200, mode, sd++);
    }
    one(8192, 2048, 0, 8192, 8192, TOPK_RANDOM, sd++);  // all rows once
    // the bench's 64K shape, its last 1024 rows: threshold bins of ~2048
    // candidates (near the shared list's capacity), refined in shared memory
    one(65536, 2048, 64512, 65536, 65536, TOPK_RANDOM, sd++);
    for (int mode = 0; mode < 4; mode++) {
        one(131072, 256, 131068, 131072, 131072, mode, sd++);
        one(131072, 2048, 131068, 131072, 131072, mode, sd++);
    }
    printf("topk cuda: %d cases, %d failed\n", g_cases, g_failed);
    ic_ctx_free(&g_gpu);
    ic_ctx_free(&g_cpu);
    return g_failed ? 1 : 0;
}
#endif
