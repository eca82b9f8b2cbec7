// kernels/cuda/topk.cu in the CPU SIMT emulator against the CPU reference op
// (kernels/cpu/topk.c): idx and cnt must be identical, bit for bit, over the
// whole [L, K] / [L] arrays (poisoned with -2 first, so rows outside the
// block [t0, t1) must stay untouched). Ragged rows (L = 1, 5, 70, 300, K
// above and below L, k == n rows), ties, NaN, +-inf, -0/+0, denormals, flat
// rows (all one value, all NaN), row blocks mid-range with ld > t1, K = 2048
// and one 128K-candidate row. Thread order from CUDASIM_ORDER (CTest runs
// forward, reverse, random:1, random:2).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern "C" {
#include "core/ic_ctx.h"
#include "kernels/ic_cuda_ops.h"
#include "kernels/ic_topk.h"
}
#include "ic_cudasim_api.h"

#include "../ic_topk_scores.h"

static int g_cases, g_failed;

static void one(int L, int K, int t0, int t1, int ld, int mode, uint64_t seed) {
    float *S = (float *)malloc(sizeof(float) * (size_t)(t1 - t0) * (size_t)ld + 4);
    topk_fill_scores(S, t0, t1, ld, mode, seed);
    const size_t ni = (size_t)L * (size_t)K;
    int32_t *ri = (int32_t *)malloc(4 * ni), *gi = (int32_t *)malloc(4 * ni);
    int32_t *rc = (int32_t *)malloc(4 * (size_t)L), *gc = (int32_t *)malloc(4 * (size_t)L);
    for (size_t i = 0; i < ni; i++) ri[i] = gi[i] = -2;
    for (int i = 0; i < L; i++) rc[i] = gc[i] = -2;

    ic_ctx cpu, gpu;
    memset(&cpu, 0, sizeof cpu);
    memset(&gpu, 0, sizeof gpu);
    cpu.backend = IC_BACKEND_CPU;
    cpu.device = -1;
    cpu.cpu_threads = 1;
    gpu.backend = IC_BACKEND_CUDA;
    if (ic_arena_init(&cpu.ws, ic_topk_workspace_bytes_cpu(&cpu, L)) != 0 ||
        ic_arena_init(&gpu.ws, 0) != 0) {
        fprintf(stderr, "out of memory for the workspace\n");
        exit(2);
    }
    ic_topk_forward_cpu(&cpu, ri, rc, S, ld, t0, t1, K);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    ic_topk_forward_cuda(&gpu, gi, gc, S, ld, t0, t1, K);
    clock_gettime(CLOCK_MONOTONIC, &b);
    const double sec = (double)(b.tv_sec - a.tv_sec) + 1e-9 * (double)(b.tv_nsec - a.tv_nsec);

    long bad_i = -1, bad_c = -1;
    for (size_t i = 0; i < ni && bad_i < 0; i++) if (gi[i] != ri[i]) bad_i = (long)i;
    for (int i = 0; i < L && bad_c < 0; i++) if (gc[i] != rc[i]) bad_c = i;
    g_cases++;
    const int ok = bad_i < 0 && bad_c < 0;
    printf("%s topk L=%d K=%d rows [%d,%d) ld=%d %s (%.2f s emulated)\n", ok ? "ok  " : "FAIL", L,
           K, t0, t1, ld, topk_mode_name(mode), sec);
    if (!ok) {
        g_failed++;
        if (bad_i >= 0)
            printf("  idx[t=%ld, m=%ld] = %d, CPU %d\n", bad_i / K, bad_i % K, gi[bad_i], ri[bad_i]);
        if (bad_c >= 0) printf("  cnt[%ld] = %d, CPU %d\n", bad_c, gc[bad_c], rc[bad_c]);
    }
    ic_arena_free(&cpu.ws);
    ic_arena_free(&gpu.ws);
    free(S); free(ri); free(gi); free(rc); free(gc);
}

int main(void) {
    uint64_t sd = 1;
    one(1, 1, 0, 1, 1, TOPK_RANDOM, sd++);
    one(1, 3, 0, 1, 4, TOPK_SPECIAL, sd++);
    for (int mode = 0; mode < 4; mode++) {
        one(5, 3, 0, 5, 5, mode, sd++);
        one(5, 64, 0, 5, 7, mode, sd++);
        one(70, 3, 0, 70, 70, mode, sd++);
        one(70, 64, 20, 50, 80, mode, sd++);   // mid-range block, ld > t1: k == n on every row
        one(70, 256, 0, 70, 70, mode, sd++);   // K > L: every row takes all
        one(300, 64, mode < 2 ? 0 : 220, 300, 300, mode, sd++);
        one(300, 1, 150, 300, 320, mode, sd++);
    }
    one(300, 256, 40, 300, 301, TOPK_RANDOM, sd++);  // k == n up to t = 255, then a select
    one(300, 256, 200, 300, 300, TOPK_TIES, sd++);
    one(2102, 2048, 2045, 2051, 2060, TOPK_TIES, sd++);      // K = 2048: k == n, then selects
    one(2102, 2048, 2099, 2102, 2102, TOPK_SPECIAL, sd++);
    one(131072, 256, 131071, 131072, 131072, TOPK_TIES, sd++);  // one 128K-candidate row
    // a random 128K row: its top 12-bit bin (~4096 keys) overflows the
    // shared candidate list, so a second global level runs
    one(131072, 256, 131071, 131072, 131072, TOPK_RANDOM, sd++);
    // K = 2048 of a random 64K row: ~2048 candidates, then the shared refine
    one(65536, 2048, 65534, 65536, 65536, TOPK_RANDOM, sd++);
    // flat rows longer than the candidate list: global levels down to the
    // position bits (NaN row, 0.5 row); k = 2048 of 8192 ends on a bin wanted whole
    one(20000, 300, 19998, 20000, 20000, TOPK_FLAT, sd++);
    one(8192, 2048, 8190, 8192, 8192, TOPK_FLAT, sd++);
    printf("topk (cudasim, order %s): %d cases, %d failed\n", cudasim_order_name(), g_cases,
           g_failed);
    return g_failed ? 1 : 0;
}
