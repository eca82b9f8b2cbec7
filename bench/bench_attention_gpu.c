/* Attention forward with LSE on the GPU (cuDNN's fused SDPA through
 * ic_attention_forward_cuda, bf16 storage, causal, GQA native), TFLOP/s.
 *
 * FLOPs (causal): 2 GEMMs (Q K^T and P V) x 2 FLOP per multiply-add x
 * L^2/2 visible (query, key) pairs x H heads x d  =  2 L^2 H d, the
 * convention torch and cuDNN benchmarks use (the diagonal's extra L/2 pairs
 * are ignored). Graph building is excluded (the shape's graph is built by
 * the workspace query and one untimed call); then 5 warm-up calls, then
 * IC_BENCH_REPS (default 25, at least 20) calls each timed with CUDA events
 * on the context's stream; the median is reported. Inputs: random bf16,
 * never zero, q/k in [-2, 2), v in [-1, 1), filled once per shape.
 *
 * Shapes: H=16 Hkv=16 d=128 at L = 4K, 16K, 64K; SmolLM2's H=9 Hkv=3 d=64
 * at L = 2K, 8K, 32K. Prints a table; writes $IC_OUT/attention_cudnn.json
 * when IC_OUT is set. bench/gpu_attention_torch.py times torch's SDPA on
 * the same shapes in the same device call and prints the ratio.
 *   IC_OUT=dir build-gpu/bench_attention_gpu [reps] */
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/ic_error.h"
#include "core/ic_half.h"
#include "kernels/ic_ctx.h"
#include "kernels/ic_cuda_ops.h"
#include "bench/ic_bench_gpu.h"


typedef struct { int H, Hkv, d, L; } shape;

static const shape kShapes[] = {
    {16, 16, 128, 4096}, {16, 16, 128, 16384}, {16, 16, 128, 65536},
    {9, 3, 64, 2048},    {9, 3, 64, 8192},     {9, 3, 64, 32768},
};

/* n random bf16 values (bits) in [lo, hi), never zero; a fixed seed. */
static void fill_bf16(uint16_t *x, size_t n, uint64_t seed, float lo, float hi) {
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17;
        float f = lo + (hi - lo) * (float)(s >> 40) * (1.0f / 16777216.0f);
        uint16_t b = ic_f32_to_bf16(f);
        if ((b & 0x7fffu) == 0) b = 0x3c00;  /* never zero: 2^-7 */
        x[i] = b;
    }
}

static double wall_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

static void *dev_rand(ic_ctx *ctx, size_t n, uint64_t seed, float lo, float hi) {
    uint16_t *h = malloc(n * 2);
    void *p = ic_buf_alloc(ctx, n * 2);
    if (!h || !p) { fprintf(stderr, "out of memory (%zu elements)\n", n); exit(1); }
    fill_bf16(h, n, seed, lo, hi);
    ic_buf_upload(ctx, p, h, n * 2);
    free(h);
    return p;
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : (getenv("IC_BENCH_REPS") ? atoi(getenv("IC_BENCH_REPS")) : 25);
    if (reps < 20) reps = 20;
    ic_ctx ctx;
    ic_error err;
    ic_error_clear(&err);
    if (ic_ctx_init(&ctx, IC_BACKEND_CUDA, 0, 0, &err) != 0) {
        printf("SKIP: no CUDA context: %s\n", err.msg);
        return 77;
    }
    printf("bench_attention_gpu: %s\n", ctx.desc);
    printf("cuDNN SDPA forward + LSE, causal, bf16; TFLOP/s = 2*L^2*H*d / median time; %d reps\n\n",
           reps);
    printf("| H  | Hkv | d   | L     | median ms | min ms  | TFLOP/s | graph build ms |\n");
    printf("|----|-----|-----|-------|-----------|---------|---------|----------------|\n");

    const int ns = (int)(sizeof kShapes / sizeof kShapes[0]);
    double tflops[16], med_ms[16], min_ms[16], build_ms[16];
    cudaStream_t st = (cudaStream_t)ctx.stream;
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    float *times = malloc(sizeof(float) * (size_t)reps);
    for (int si = 0; si < ns; si++) {
        const shape s = kShapes[si];
        const size_t nq = (size_t)s.L * s.H * s.d, nkv = (size_t)s.L * s.Hkv * s.d;
        void *q = dev_rand(&ctx, nq, 3 * (uint64_t)si + 1, -2.0f, 2.0f);
        void *k = dev_rand(&ctx, nkv, 3 * (uint64_t)si + 2, -2.0f, 2.0f);
        void *v = dev_rand(&ctx, nkv, 3 * (uint64_t)si + 3, -1.0f, 1.0f);
        void *out = ic_buf_alloc(&ctx, nq * 2);
        float *lse = ic_buf_alloc(&ctx, sizeof(float) * (size_t)s.H * s.L);
        if (!out || !lse) { fprintf(stderr, "out of device memory\n"); return 1; }

        /* graph building (host wall time): the workspace query builds and caches it */
        const double t0 = wall_ms();
        const size_t ws = ic_attention_workspace_bytes_cuda(&ctx, IC_BF16, s.L, s.H, s.Hkv, s.d);
        build_ms[si] = wall_ms() - t0;
        if (ic_ctx_reserve(&ctx, ws, &err) != 0) { fprintf(stderr, "%s\n", err.msg); return 1; }

        for (int w = 0; w < 6; w++)  /* the first call is the untimed one after the build */
            ic_attention_forward_cuda(&ctx, IC_BF16, out, lse, q, k, v, s.L, s.H, s.Hkv, s.d);
        for (int r = 0; r < reps; r++) {
            CK(cudaEventRecord(e0, st));
            ic_attention_forward_cuda(&ctx, IC_BF16, out, lse, q, k, v, s.L, s.H, s.Hkv, s.d);
            CK(cudaEventRecord(e1, st));
            CK(cudaEventSynchronize(e1));
            CK(cudaEventElapsedTime(&times[r], e0, e1));
        }
        /* a cheap sanity check: no NaN in the LSE's first row */
        float l0[8];
        ic_buf_download(&ctx, l0, lse, sizeof l0);
        for (int i = 0; i < 8; i++)
            if (!(l0[i] == l0[i])) { fprintf(stderr, "NaN in the LSE\n"); return 1; }
        qsort(times, (size_t)reps, sizeof *times, cmp_f);
        const double med = reps % 2 ? times[reps / 2] : 0.5 * (times[reps / 2 - 1] + times[reps / 2]);
        const double flop = 2.0 * (double)s.L * s.L * s.H * s.d;
        med_ms[si] = med;
        min_ms[si] = times[0];
        tflops[si] = flop / (med * 1e-3) / 1e12;
        printf("| %-2d | %-3d | %-3d | %-5d | %9.3f | %7.3f | %7.1f | %14.1f |\n", s.H, s.Hkv, s.d,
               s.L, med, (double)times[0], tflops[si], build_ms[si]);
        fflush(stdout);
        ic_buf_free(&ctx, q); ic_buf_free(&ctx, k); ic_buf_free(&ctx, v);
        ic_buf_free(&ctx, out); ic_buf_free(&ctx, lse);
    }
    printf("\ngraphs built: %lld\n", (long long)ic_attention_cudnn_graphs_built());

    const char *dir = getenv("IC_OUT");
    if (dir && *dir) {
        char path[4096];
        snprintf(path, sizeof path, "%s/attention_cudnn.json", dir);
        FILE *f = fopen(path, "w");
        if (!f) { fprintf(stderr, "cannot write %s\n", path); return 1; }
        fprintf(f, "{\n  \"bench\": \"bench_attention_gpu\",\n  \"device\": \"%s\",\n", ctx.desc);
        fprintf(f, "  \"flops\": \"2*L^2*H*d (causal)\",\n  \"reps\": %d,\n  \"results\": [\n", reps);
        for (int si = 0; si < ns; si++)
            fprintf(f, "    {\"H\": %d, \"Hkv\": %d, \"d\": %d, \"L\": %d, \"median_ms\": %.4f, "
                    "\"min_ms\": %.4f, \"tflops\": %.2f, \"graph_build_ms\": %.2f}%s\n",
                    kShapes[si].H, kShapes[si].Hkv, kShapes[si].d, kShapes[si].L, med_ms[si],
                    min_ms[si], tflops[si], build_ms[si], si + 1 < ns ? "," : "");
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
