/* Sparse attention forward on the GPU (kernels/cuda/sparse_attention.cu),
 * bf16 storage, lse on, top-k-like index sets (the local window of 64 plus
 * distinct random earlier positions, sorted; tests/ic_sparse_sets.h):
 *   SmolLM2's teacher  H 9,  Hkv 3,  d 64,  K 256,  L = 8K, 32K;
 *   DeepSeek-like      H 16, Hkv 1,  d 128, K 2048, L = 16K (MQA);
 *                      H 16, Hkv 16, d 128, K 2048, L = 16K (MHA).
 * The figure of merit is the gathered K/V bytes, sum_t cnt[t] * Hkv * d * 2
 * (K and V) * 2 bytes: GB/s = those / median, and "x 4TB/s" = median / (the
 * time to read them at 4 TB/s, the H200's device-copy rate); the goal is
 * <= 2 for SmolLM2's shapes. (They come mostly from L2: a layer's K and V
 * are 6 / 25 MiB at 8K / 32K.) torch's gather-based version took 21.7 /
 * 90 ms at 8K / 32K (shared/GPU.md, an earlier run; bench/
 * gpu_sparse_attention_torch.py re-measures it beside this JSON).
 * 3 warm-up calls, then IC_BENCH_REPS (default 20, at least 10) timed with
 * CUDA events; median and min. Writes $IC_OUT/sparse_attention_ic.json
 * when IC_OUT is set. IC_SA_MAX_GB (default 200) skips a shape whose
 * gathered bytes exceed it (the MHA shape gathers 275 GB a call).
 *   IC_OUT=dir build/bench_sparse_attention_gpu [reps] */
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ic_error.h"
#include "core/ic_half.h"
#include "kernels/ic_ctx.h"
#include "kernels/ic_sparse_attention.h"
#include "tests/ic_sparse_sets.h"
#include "bench/ic_bench_gpu.h"


typedef struct { const char *name; int L, H, Hkv, d, K; } shape;
static const shape kShapes[] = {
    {"smollm2", 8192, 9, 3, 64, 256},
    {"smollm2", 32768, 9, 3, 64, 256},
    {"deepseek-mqa", 16384, 16, 1, 128, 2048},
    {"deepseek-mha", 16384, 16, 16, 128, 2048},
};

/* n bf16 values in [lo, hi), a fixed seed (bench/ic_bench_gpu.h). */
static void *dev_rand(ic_ctx *ctx, size_t n, uint64_t seed, float lo, float hi) {
    return ic_bench_dev_rand(ctx, n, seed, lo, hi, 1);
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : (getenv("IC_BENCH_REPS") ? atoi(getenv("IC_BENCH_REPS")) : 20);
    if (reps < 10) reps = 10;
    const double max_gb = getenv("IC_SA_MAX_GB") ? atof(getenv("IC_SA_MAX_GB")) : 200.0;
    ic_ctx ctx;
    ic_error err;
    ic_error_clear(&err);
    if (ic_ctx_init(&ctx, IC_BACKEND_CUDA, 0, 0, &err) != 0) {
        printf("SKIP: no CUDA context: %s\n", err.msg);
        return 77;
    }
    const int n = (int)(sizeof kShapes / sizeof kShapes[0]);
    printf("bench_sparse_attention_gpu: %s\n", ctx.desc);
    /* The kernel choice (kernels/cuda/sparse_attention_mma.cuh, sa_mma_takes):
     * bf16 with 3 <= H / Hkv <= 16 runs on the tensor cores unless
     * IC_SA_MMA_MIN_GS moves the bound (17: the CUDA-core kernel always). */
    printf("IC_SA_MMA_MIN_GS=%s (tensor-core kernel for bf16 H/Hkv from that to 16; default 3)\n",
           getenv("IC_SA_MMA_MIN_GS") ? getenv("IC_SA_MMA_MIN_GS") : "unset");
    printf("sparse attention forward, bf16, lse on, top-k-like sets; GB/s of the gathered K/V "
           "rows; x4TB/s = median / (bytes / 4 TB/s); %d reps\n\n", reps);
    printf("| shape        | L     | H/Hkv | d   | K    | gathered GB | median ms | min ms  | GB/s   | x 4TB/s |\n");
    printf("|--------------|-------|-------|-----|------|-------------|-----------|---------|--------|---------|\n");
    cudaStream_t st = (cudaStream_t)ctx.stream;
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    float *times = malloc(sizeof(float) * (size_t)reps);
    double med_ms[8], min_ms[8], gbytes[8];
    int ran[8];
    for (int i = 0; i < n; i++) {
        const shape *s = &kShapes[i];
        const int L = s->L, H = s->H, Hkv = s->Hkv, d = s->d, K = s->K;
        int32_t *idx = malloc(4 * (size_t)L * K), *cnt = malloc(4 * (size_t)L);
        if (!idx || !cnt) { fprintf(stderr, "out of host memory\n"); return 1; }
        sets_fill(idx, cnt, L, K, SETS_TOPK, 77 + i);
        long rows = 0;
        for (int t = 0; t < L; t++) rows += cnt[t];
        gbytes[i] = (double)rows * Hkv * d * 2.0 * 2.0 / 1e9;
        ran[i] = gbytes[i] <= max_gb;
        if (!ran[i]) {
            printf("| %-12s | %-5d | %2d/%-2d | %-3d | %-4d | %11.2f | skipped (IC_SA_MAX_GB %.0f) |\n",
                   s->name, L, H, Hkv, d, K, gbytes[i], max_gb);
            free(idx); free(cnt);
            continue;
        }
        int32_t *didx = ic_buf_alloc(&ctx, 4 * (size_t)L * K), *dcnt = ic_buf_alloc(&ctx, 4 * (size_t)L);
        void *q = dev_rand(&ctx, (size_t)L * H * d, 1 + i, -1.5f, 1.5f);
        void *k = dev_rand(&ctx, (size_t)L * Hkv * d, 2 + i, -1.5f, 1.5f);
        void *v = dev_rand(&ctx, (size_t)L * Hkv * d, 3 + i, -1.0f, 1.0f);
        void *out = ic_buf_alloc(&ctx, 2 * (size_t)L * H * d);
        float *lse = ic_buf_alloc(&ctx, 4 * (size_t)H * L);
        if (!didx || !dcnt || !out || !lse) { fprintf(stderr, "out of device memory\n"); return 1; }
        ic_buf_upload(&ctx, didx, idx, 4 * (size_t)L * K);
        ic_buf_upload(&ctx, dcnt, cnt, 4 * (size_t)L);
        if (ic_ctx_reserve(&ctx, ic_sparse_attention_workspace_bytes(&ctx, H, Hkv, d, K), &err)) {
            fprintf(stderr, "workspace: %s\n", err.msg);
            return 1;
        }
        for (int r = 0; r < 3; r++)
            ic_sparse_attention_forward_dt(&ctx, IC_BF16, out, lse, q, k, v, L, H, Hkv, d, didx,
                                           dcnt, K);
        for (int r = 0; r < reps; r++) {
            CK(cudaEventRecord(e0, st));
            ic_sparse_attention_forward_dt(&ctx, IC_BF16, out, lse, q, k, v, L, H, Hkv, d, didx,
                                           dcnt, K);
            CK(cudaEventRecord(e1, st));
            CK(cudaEventSynchronize(e1));
            CK(cudaEventElapsedTime(&times[r], e0, e1));
        }
        qsort(times, (size_t)reps, sizeof *times, cmp_f);
        const double med = reps % 2 ? times[reps / 2] : 0.5 * (times[reps / 2 - 1] + times[reps / 2]);
        med_ms[i] = med;
        min_ms[i] = times[0];
        const double gbs = gbytes[i] / (med * 1e-3), t4 = gbytes[i] / 4000.0 * 1e3;
        printf("| %-12s | %-5d | %2d/%-2d | %-3d | %-4d | %11.2f | %9.3f | %7.3f | %6.0f | %7.2f |\n",
               s->name, L, H, Hkv, d, K, gbytes[i], med, (double)times[0], gbs, med / t4);
        fflush(stdout);
        ic_buf_free(&ctx, q); ic_buf_free(&ctx, k); ic_buf_free(&ctx, v);
        ic_buf_free(&ctx, out); ic_buf_free(&ctx, lse);
        ic_buf_free(&ctx, didx); ic_buf_free(&ctx, dcnt);
        free(idx); free(cnt);
    }
    const char *dir = getenv("IC_OUT");
    if (dir && *dir) {
        char path[4096];
        /* An A/B run with IC_SA_MMA_MIN_GS set writes beside the default one
         * (which bench/gpu_sparse_attention_torch.py reads), not over it. */
        const char *mg = getenv("IC_SA_MMA_MIN_GS");
        if (mg && *mg)
            snprintf(path, sizeof path, "%s/sparse_attention_ic_min_gs%d.json", dir, atoi(mg));
        else
            snprintf(path, sizeof path, "%s/sparse_attention_ic.json", dir);
        FILE *f = fopen(path, "w");
        if (!f) { fprintf(stderr, "cannot write %s\n", path); return 1; }
        fprintf(f, "{\n  \"bench\": \"bench_sparse_attention_gpu\",\n  \"device\": \"%s\",\n", ctx.desc);
        fprintf(f, "  \"mma_min_gs\": %d,\n", mg && *mg ? atoi(mg) : 3);
        fprintf(f, "  \"bytes\": \"sum_t cnt[t] * Hkv * d * 2 (K and V) * 2 (bf16)\",\n"
                "  \"sets\": \"tests/ic_sparse_sets.h SETS_TOPK\",\n  \"reps\": %d,\n"
                "  \"results\": [\n", reps);
        int first = 1;
        for (int i = 0; i < n; i++) {
            if (!ran[i]) continue;
            const shape *s = &kShapes[i];
            fprintf(f, "%s    {\"shape\": \"%s\", \"L\": %d, \"H\": %d, \"Hkv\": %d, \"d\": %d, "
                    "\"K\": %d, \"gathered_gb\": %.4f, \"median_ms\": %.4f, \"min_ms\": %.4f, "
                    "\"gbps\": %.1f, \"x_4tbps\": %.3f}", first ? "" : ",\n", s->name, s->L, s->H,
                    s->Hkv, s->d, s->K, gbytes[i], med_ms[i], min_ms[i],
                    gbytes[i] / (med_ms[i] * 1e-3), med_ms[i] / (gbytes[i] / 4000.0 * 1e3));
            first = 0;
        }
        fprintf(f, "\n  ]\n}\n");
        fclose(f);
        printf("wrote %s\n", path);
    }
    free(times);
    CK(cudaEventDestroy(e0));
    CK(cudaEventDestroy(e1));
    ic_ctx_free(&ctx);
    return 0;
}
