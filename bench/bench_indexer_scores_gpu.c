/* The lightning-indexer scores forward on the GPU (kernels/cuda/
 * indexer_scores.cu, bf16 mma.sync) at SmolLM2's indexer shape H_I = 16,
 * d_I = 64, all rows of L = 2K, 8K, 32K in one call (out [L, L] fp32), and at
 * the DeepSeek-V3.2-like shape H_I = 64, d_I = 128, L = 16K; bf16 inputs.
 * TFLOP/s counts the causal half: L*L/2 * H_I * d_I * 2 / median.
 * 3 warm-up calls, then IC_BENCH_REPS (default 20, at least 10) timed with
 * CUDA events. The comparison column is torch eager's einsum + relu +
 * weighted sum from /work/shared/GPU.md (an earlier run on the same kind of
 * H200, not this run; bench/gpu_indexer_scores_torch.py measures torch in the
 * same run and prints the ratio). Writes $IC_OUT/indexer_scores.json when
 * IC_OUT is set.
 *   IC_OUT=dir build/bench_indexer_scores_gpu [reps] */
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ic_error.h"
#include "core/ic_half.h"
#include "kernels/ic_ctx.h"
#include "kernels/ic_cuda_ops.h"
#include "bench/ic_bench_gpu.h"


/* The shapes, with torch eager's time from GPU.md (the big shape: the issue). */
static const struct { int L, H, d; double torch_ms; } kCase[] = {
    {2048, 16, 64, 0.44}, {8192, 16, 64, 6.5}, {32768, 16, 64, 104.0}, {16384, 64, 128, 96.0},
};

/* n bf16 values in [lo, hi), a fixed seed (bench/ic_bench_gpu.h). */
static void *dev_rand(ic_ctx *ctx, size_t n, uint64_t seed, float lo, float hi) {
    return ic_bench_dev_rand(ctx, n, seed, lo, hi, 1);
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : (getenv("IC_BENCH_REPS") ? atoi(getenv("IC_BENCH_REPS")) : 20);
    if (reps < 10) reps = 10;
    ic_ctx ctx;
    ic_error err;
    ic_error_clear(&err);
    if (ic_ctx_init(&ctx, IC_BACKEND_CUDA, 0, 0, &err) != 0) {
        printf("SKIP: no CUDA context: %s\n", err.msg);
        return 77;
    }
    const int n = (int)(sizeof kCase / sizeof kCase[0]);
    printf("bench_indexer_scores_gpu: %s\n", ctx.desc);
    printf("indexer scores forward, bf16 in, fp32 out [L, L]; TFLOP/s = L^2/2*H_I*d_I*2 / median; "
           "%d reps\n\n", reps);
    printf("| L     | H_I | d_I | median ms | min ms  | TFLOP/s | torch eager ms (GPU.md) | speed-up |\n");
    printf("|-------|-----|-----|-----------|---------|---------|-------------------------|----------|\n");
    cudaStream_t st = (cudaStream_t)ctx.stream;
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    float *times = malloc(sizeof(float) * (size_t)reps);
    double med_ms[8], min_ms[8], tf[8];
    for (int i = 0; i < n; i++) {
        const int L = kCase[i].L, H = kCase[i].H, d = kCase[i].d;
        void *q = dev_rand(&ctx, (size_t)L * H * d, 1 + i, -1.0f, 1.0f);
        void *k = dev_rand(&ctx, (size_t)L * d, 2 + i, -1.0f, 1.0f);
        void *w = dev_rand(&ctx, (size_t)L * H, 3 + i, -0.1f, 0.2f);
        float *out = ic_buf_alloc(&ctx, sizeof(float) * (size_t)L * L);
        if (!out) { fprintf(stderr, "out of device memory\n"); return 1; }
        for (int r = 0; r < 3; r++)
            ic_indexer_scores_forward_cuda(&ctx, IC_BF16, out, L, q, k, w, L, H, d, 0, L);
        for (int r = 0; r < reps; r++) {
            CK(cudaEventRecord(e0, st));
            ic_indexer_scores_forward_cuda(&ctx, IC_BF16, out, L, q, k, w, L, H, d, 0, L);
            CK(cudaEventRecord(e1, st));
            CK(cudaEventSynchronize(e1));
            CK(cudaEventElapsedTime(&times[r], e0, e1));
        }
        qsort(times, (size_t)reps, sizeof *times, cmp_f);
        const double med = reps % 2 ? times[reps / 2] : 0.5 * (times[reps / 2 - 1] + times[reps / 2]);
        med_ms[i] = med;
        min_ms[i] = times[0];
        tf[i] = (double)L * L / 2 * H * d * 2 / (med * 1e-3) / 1e12;
        printf("| %-5d | %3d | %3d | %9.3f | %7.3f | %7.1f | %23.2f | %7.1fx |\n", L, H, d, med,
               (double)times[0], tf[i], kCase[i].torch_ms, kCase[i].torch_ms / med);
        fflush(stdout);
        ic_buf_free(&ctx, q); ic_buf_free(&ctx, k); ic_buf_free(&ctx, w); ic_buf_free(&ctx, out);
    }
    const char *dir = getenv("IC_OUT");
    if (dir && *dir) {
        char path[4096];
        snprintf(path, sizeof path, "%s/indexer_scores.json", dir);
        FILE *f = fopen(path, "w");
        if (!f) { fprintf(stderr, "cannot write %s\n", path); return 1; }
        fprintf(f, "{\n  \"bench\": \"bench_indexer_scores_gpu\",\n  \"device\": \"%s\",\n", ctx.desc);
        fprintf(f, "  \"flops\": \"L*L/2*H_I*d_I*2 (causal)\",\n  \"reps\": %d,\n"
                "  \"results\": [\n", reps);
        for (int i = 0; i < n; i++)
            fprintf(f, "    {\"L\": %d, \"H_I\": %d, \"d_I\": %d, \"median_ms\": %.4f, "
                    "\"min_ms\": %.4f, \"tflops\": %.2f, \"torch_eager_ms_gpu_md\": %.2f}%s\n",
                    kCase[i].L, kCase[i].H, kCase[i].d, med_ms[i], min_ms[i], tf[i],
                    kCase[i].torch_ms, i + 1 < n ? "," : "");
        fprintf(f, "  ]\n}\n");
        fclose(f);
        printf("wrote %s\n", path);
    }
    free(times);
    CK(cudaEventDestroy(e0));
    CK(cudaEventDestroy(e1));
    ic_ctx_free(&ctx);
    return 0;
}
