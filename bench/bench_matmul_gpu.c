/* TFLOP/s of the cuBLASLt linear layer (kernels/cuda/matmul_cublaslt.cu) at
 * SmolLM2-135M's shapes (L = 2048 tokens: K = 576 -> N = 576, 192, 1536;
 * K = 1536 -> N = 576; an LM-head chunk M = 64, K = 576, N = 49152) and a
 * big square 8192^3, bf16 storage (fp32 accumulate), plus the fp32 public op
 * at the SmolLM2 shapes. bench/gpu_matmul_torch.py times torch on the same
 * shapes in the same device call.
 *
 * Method: CUDA events on the context's stream; 10 warm-up calls (the plan is
 * built on the first); a sample is `reps` back-to-back calls (reps chosen so
 * a sample takes >= ~0.2 ms, as one small GEMM is a few microseconds, near
 * the events' resolution); the median of 25 samples. Inputs rotate over
 * enough buffer sets that one set is out of the 50 MB L2 by the time it is
 * used again (>= 2 sets, >= 200 MB in all), so the weights come from HBM as
 * in a model's forward pass.
 *   IC_OUT=<dir> bench_matmul_gpu   ->  table on stdout, <dir>/matmul_ours.json */
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ic_error.h"
#include "kernels/ic_ctx.h"
#include "kernels/ic_cuda_ops.h"
#include "kernels/ic_matmul.h"

#define CK(call) do { cudaError_t e_ = (call); if (e_ != cudaSuccess) { \
    fprintf(stderr, "%s:%d: %s (%s)\n", __FILE__, __LINE__, cudaGetErrorString(e_), #call); exit(2); } } while (0)

typedef struct { const char *name; int M, N, K, bias; ic_dtype dt; } shape;

static int cmp_f(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static void fill(ic_ctx *ctx, void *d, size_t n, ic_dtype dt, uint64_t seed) {
    const size_t es = dt == IC_BF16 ? 2 : 4;
    unsigned char *h = malloc(n * es);
    if (!h) { fprintf(stderr, "out of host memory\n"); exit(2); }
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17;
        float f = (float)((s >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f;
        if (f == 0.0f) f = 1e-3f;
        if (es == 4) memcpy(h + 4 * i, &f, 4);
        else { uint32_t u; memcpy(&u, &f, 4); uint16_t b = (uint16_t)(u >> 16); memcpy(h + 2 * i, &b, 2); }
    }
    ic_buf_upload(ctx, d, h, n * es);
    free(h);
}

int main(void) {
    ic_ctx ctx;
    ic_error err = {0};
    if (ic_ctx_init(&ctx, IC_BACKEND_CUDA, 0, 0, &err) != 0) {
        printf("SKIP: no CUDA context: %s\n", err.msg);
        return 77;
    }
    if (ic_ctx_reserve(&ctx, ic_matmul_workspace_bytes(&ctx), &err) != 0) {
        fprintf(stderr, "workspace: %s\n", err.msg);
        return 1;
    }
    printf("GPU: %s\n", ctx.desc);
    const shape shapes[] = {
        {"q/o proj", 2048, 576, 576, 0, IC_BF16},
        {"k/v proj", 2048, 192, 576, 0, IC_BF16},
        {"gate/up", 2048, 1536, 576, 0, IC_BF16},
        {"down", 2048, 576, 1536, 0, IC_BF16},
        {"gate/up +bias", 2048, 1536, 576, 1, IC_BF16},
        {"lm head chunk", 64, 49152, 576, 0, IC_BF16},
        {"square", 8192, 8192, 8192, 0, IC_BF16},
        {"q/o proj", 2048, 576, 576, 0, IC_F32},
        {"gate/up", 2048, 1536, 576, 0, IC_F32},
        {"down", 2048, 576, 1536, 0, IC_F32},
    };
    const int ns = (int)(sizeof shapes / sizeof shapes[0]);
    const char *dir = getenv("IC_OUT");
    char path[1024];
    FILE *js = NULL;
    if (dir && *dir) {
        snprintf(path, sizeof path, "%s/matmul_ours.json", dir);
        js = fopen(path, "w");
        if (!js) { fprintf(stderr, "cannot write %s\n", path); return 1; }
        fprintf(js, "{\"bench\": \"matmul\", \"impl\": \"indexcache cuBLASLt\", \"device\": \"%s\", "
                "\"method\": \"CUDA events, 10 warm-up, median of 25 samples, rotating inputs\", "
                "\"results\": [\n", ctx.desc);
    }
    cudaStream_t st = (cudaStream_t)ctx.stream;
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    printf("%-16s %-5s %6s %6s %6s %5s %10s %9s\n", "shape", "dtype", "M", "N", "K", "reps",
           "median us", "TFLOP/s");
    for (int s = 0; s < ns; s++) {
        const shape *sh = &shapes[s];
        const size_t es = sh->dt == IC_BF16 ? 2 : 4;
        const size_t nx = (size_t)sh->M * sh->K, nw = (size_t)sh->N * sh->K, no = (size_t)sh->M * sh->N;
        const size_t set_bytes = (nx + nw + no + (size_t)sh->N) * es;
        int nset = (int)((200u << 20) / set_bytes + 1);
        if (nset < 2) nset = 2;
        if (nset > 64) nset = 64;
        void *x[64], *w[64], *o[64], *b[64];
        for (int i = 0; i < nset; i++) {
            x[i] = ic_buf_alloc(&ctx, nx * es); w[i] = ic_buf_alloc(&ctx, nw * es);
            o[i] = ic_buf_alloc(&ctx, no * es); b[i] = ic_buf_alloc(&ctx, (size_t)sh->N * es);
            if (!x[i] || !w[i] || !o[i] || !b[i]) { fprintf(stderr, "out of GPU memory\n"); return 1; }
            fill(&ctx, x[i], nx, sh->dt, 10u * (unsigned)i + 1);
            fill(&ctx, w[i], nw, sh->dt, 10u * (unsigned)i + 2);
            fill(&ctx, b[i], (size_t)sh->N, sh->dt, 10u * (unsigned)i + 3);
        }
        const size_t mark = ic_ws_mark(&ctx), wsb = ic_matmul_workspace_bytes(&ctx);
        void *ws = ic_ws_alloc(&ctx, wsb, "bench_matmul_gpu");
        int it = 0;
#define CALL() do { const int j_ = it++ % nset; \
        if (sh->dt == IC_BF16) ic_matmul_forward_cuda(&ctx, IC_BF16, o[j_], x[j_], w[j_], \
                                   sh->bias ? b[j_] : NULL, sh->M, sh->N, sh->K, ws, wsb); \
        else ic_matmul_forward(&ctx, o[j_], x[j_], w[j_], sh->bias ? b[j_] : NULL, sh->M, sh->N, sh->K); \
    } while (0)
        /* the fp32 public op takes its own workspace from the arena: give ours back first */
        if (sh->dt == IC_F32) ic_ws_release(&ctx, mark);
        for (int i = 0; i < 10; i++) CALL();
        CK(cudaEventRecord(e0, st));
        for (int i = 0; i < 10; i++) CALL();
        CK(cudaEventRecord(e1, st));
        CK(cudaEventSynchronize(e1));
        float ms10 = 0;
        CK(cudaEventElapsedTime(&ms10, e0, e1));
        int reps = (int)(0.2 / (ms10 / 10.0) + 1.0);
        if (reps < 1) reps = 1;
        if (reps > 200) reps = 200;
        float samples[25];
        for (int k = 0; k < 25; k++) {
            CK(cudaEventRecord(e0, st));
            for (int r = 0; r < reps; r++) CALL();
            CK(cudaEventRecord(e1, st));
            CK(cudaEventSynchronize(e1));
            float ms = 0;
            CK(cudaEventElapsedTime(&ms, e0, e1));
            samples[k] = ms / (float)reps;
        }
#undef CALL
        if (sh->dt == IC_BF16) ic_ws_release(&ctx, mark);
        qsort(samples, 25, sizeof samples[0], cmp_f);
        const double med_ms = samples[12];
        const double tflops = 2.0 * sh->M * sh->N * (double)sh->K / (med_ms * 1e-3) / 1e12;
        const char *dts = sh->dt == IC_BF16 ? "bf16" : "f32";
        printf("%-16s %-5s %6d %6d %6d %5d %10.2f %9.1f\n", sh->name, dts, sh->M, sh->N, sh->K,
               reps, med_ms * 1e3, tflops);
        if (js)
            fprintf(js, "  {\"shape\": \"%s\", \"dtype\": \"%s\", \"M\": %d, \"N\": %d, \"K\": %d, "
                    "\"bias\": %d, \"median_us\": %.3f, \"tflops\": %.2f, \"reps\": %d, "
                    "\"min_us\": %.3f, \"max_us\": %.3f}%s\n", sh->name, dts, sh->M, sh->N, sh->K,
                    sh->bias, med_ms * 1e3, tflops, reps, samples[0] * 1e3, samples[24] * 1e3,
                    s + 1 < ns ? "," : "");
        for (int i = 0; i < nset; i++) {
            ic_buf_free(&ctx, x[i]); ic_buf_free(&ctx, w[i]); ic_buf_free(&ctx, o[i]); ic_buf_free(&ctx, b[i]);
        }
    }
    printf("plans built: %ld\n", ic_matmul_cuda_plans_built());
    if (js) {
        fprintf(js, "], \"plans_built\": %ld}\n", ic_matmul_cuda_plans_built());
        fclose(js);
        printf("wrote %s\n", path);
    }
    CK(cudaEventDestroy(e0));
    CK(cudaEventDestroy(e1));
    ic_ctx_free(&ctx);
    return 0;
}
