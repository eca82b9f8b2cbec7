/* The fused distillation loss, dense stage, on the GPU (kernels/cuda/
 * distill_loss_dense.cu through ic_distill_loss_forward / _backward): 4
 * served layers, L = 8K, two shapes:
 *   smollm2    indexer H_I 16 x d_I 64, teacher H 9 / Hkv 3 x d 64
 *   dsv32like  indexer H_I 64 x d_I 128, teacher H 16 / Hkv 16 x d 128
 * fp32 inputs (the op's contract: the kernels round to bf16 as they stage).
 * Times: forward (loss only) and forward + backward (one backward call:
 * loss and dqI, dkI, dw), CUDA events, 2 warm-up calls then IC_BENCH_REPS
 * (default 10, at least 5), median. The backward call synchronises the
 * stream once to return the loss, as the trainer's call does.
 * TFLOP/s counts the model's causal FLOPs once: P = L (L + 1) / 2 pairs,
 * P * 2 * (3 H_I d_I + n_served H d) (indexer scores, teacher scores, dqI,
 * dkI); the kernels execute P * 2 * (5 H_I d_I + n_served H d) (the
 * indexer dot products are recomputed in both gradient passes).
 * Goals (issue 11): <= 5 ms / 1 GiB (smollm2), <= 12 ms / 2 GiB (dsv32like).
 * Writes $IC_OUT/distill_loss_ic.json (read by bench/gpu_distill_loss_torch.py).
 *   IC_OUT=dir build/bench_distill_loss_gpu [reps] */
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ic_error.h"
#include "kernels/ic_ctx.h"
#include "kernels/ic_distill_loss.h"
#include "bench/ic_bench_gpu.h"


typedef struct { const char *name; int HI, dI, H, Hkv, d, ns, L; double goal_ms, goal_gib; } shape;
static const shape kShapes[] = {
    {"smollm2", 16, 64, 9, 3, 64, 4, 8192, 5.0, 1.0},
    {"dsv32like", 64, 128, 16, 16, 128, 4, 8192, 12.0, 2.0},
};

static float *dev_rand(ic_ctx *ctx, size_t n, uint64_t seed, float lo, float hi) {
    return ic_bench_dev_rand(ctx, n, seed, lo, hi, 0);
}

/* A plausible LSE per (head, row): log(t + 1) + 1 (the scores are random,
 * so p_j is not normalised; the timing does not depend on it). */
static float *dev_lse(ic_ctx *ctx, int H, int L) {
    float *h = malloc((size_t)H * L * 4);
    float *p = ic_buf_alloc(ctx, (size_t)H * L * 4);
    if (!h || !p) { fprintf(stderr, "out of memory\n"); exit(1); }
    for (int i = 0; i < H; i++)
        for (int t = 0; t < L; t++) h[(size_t)i * L + t] = logf((float)t + 1.0f) + 1.0f;
    ic_buf_upload(ctx, p, h, (size_t)H * L * 4);
    free(h);
    return p;
}

static double median(float *t, int n) {
    qsort(t, (size_t)n, sizeof *t, cmp_f);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : (getenv("IC_BENCH_REPS") ? atoi(getenv("IC_BENCH_REPS")) : 10);
    if (reps < 5) reps = 5;
    ic_ctx ctx;
    ic_error err;
    ic_error_clear(&err);
    if (ic_ctx_init(&ctx, IC_BACKEND_CUDA, 0, 0, &err) != 0) {
        printf("SKIP: no CUDA context: %s\n", err.msg);
        return 77;
    }
    printf("bench_distill_loss_gpu: %s; %d reps\n\n", ctx.desc, reps);
    printf("| shape     | L    | fwd ms | fwd+bwd ms | goal ms | workspace GiB | goal GiB | TFLOP/s |\n");
    printf("|-----------|------|--------|------------|---------|---------------|----------|---------|\n");
    cudaStream_t st = (cudaStream_t)ctx.stream;
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    float *times = malloc(sizeof(float) * (size_t)reps);
    const int n = (int)(sizeof kShapes / sizeof kShapes[0]);
    double fwd_ms[4], bwd_ms[4], ws_gib[4], tf[4], loss[4];
    for (int i = 0; i < n; i++) {
        const shape *S = &kShapes[i];
        const int L = S->L;
        ic_distill_desc desc = {.L = L, .n_idx_heads = S->HI, .idx_head_dim = S->dI,
                                .n_heads = S->H, .n_kv_heads = S->Hkv, .head_dim = S->d,
                                .stage = IC_DISTILL_DENSE};
        const size_t ws = ic_distill_loss_workspace_bytes(&ctx, &desc);
        if (ic_ctx_reserve(&ctx, ws, &err) != 0) { fprintf(stderr, "%s\n", err.msg); return 1; }
        const size_t nq = (size_t)L * S->HI * S->dI, nk = (size_t)L * S->dI, nw = (size_t)L * S->HI;
        float *qI = dev_rand(&ctx, nq, 1 + i, -1, 1), *kI = dev_rand(&ctx, nk, 2 + i, -1, 1);
        float *w = dev_rand(&ctx, nw, 3 + i, -0.5f / sqrtf((float)(S->HI * S->dI)),
                            1.0f / sqrtf((float)(S->HI * S->dI)));
        float *dq = dev_rand(&ctx, nq, 4, 0, 0), *dk = dev_rand(&ctx, nk, 5, 0, 0);
        float *dw = dev_rand(&ctx, nw, 6, 0, 0);
        ic_distill_teacher tch[8];
        for (int j = 0; j < S->ns; j++)
            tch[j] = (ic_distill_teacher){dev_rand(&ctx, (size_t)L * S->H * S->d, 10 + j, -1, 1),
                                          dev_rand(&ctx, (size_t)L * S->Hkv * S->d, 20 + j, -1, 1),
                                          dev_lse(&ctx, S->H, L)};
        ic_distill_stats out;
        for (int pass = 0; pass < 2; pass++) {
            for (int r = 0; r < 2 + reps; r++) {
                CK(cudaEventRecord(e0, st));
                if (pass == 0)
                    ic_distill_loss_forward(&ctx, &desc, qI, kI, w, tch, S->ns, &out, &err);
                else
                    ic_distill_loss_backward(&ctx, &desc, qI, kI, w, tch, S->ns, dq, dk, dw, &out, &err);
                CK(cudaEventRecord(e1, st));
                CK(cudaEventSynchronize(e1));
                if (r >= 2) CK(cudaEventElapsedTime(&times[r - 2], e0, e1));
            }
            if (pass == 0) fwd_ms[i] = median(times, reps);
            else bwd_ms[i] = median(times, reps);
        }
        loss[i] = out.loss / (double)L;
        const double P = (double)L * (L + 1) / 2;
        tf[i] = P * 2 * (3.0 * S->HI * S->dI + (double)S->ns * S->H * S->d) / (bwd_ms[i] * 1e-3) / 1e12;
        ws_gib[i] = ws / 1073741824.0;
        printf("| %-9s | %4d | %6.2f | %10.2f | %7.1f | %13.3f | %8.1f | %7.1f |\n", S->name, L,
               fwd_ms[i], bwd_ms[i], S->goal_ms, ws_gib[i], S->goal_gib, tf[i]);
        fflush(stdout);
        ic_buf_free(&ctx, qI); ic_buf_free(&ctx, kI); ic_buf_free(&ctx, w);
        ic_buf_free(&ctx, dq); ic_buf_free(&ctx, dk); ic_buf_free(&ctx, dw);
        for (int j = 0; j < S->ns; j++) {
            ic_buf_free(&ctx, (void *)tch[j].q); ic_buf_free(&ctx, (void *)tch[j].k);
            ic_buf_free(&ctx, (void *)tch[j].lse);
        }
    }
    const char *dir = getenv("IC_OUT");
    if (dir && *dir) {
        char path[4096];
        snprintf(path, sizeof path, "%s/distill_loss_ic.json", dir);
        FILE *f = fopen(path, "w");
        if (!f) { fprintf(stderr, "cannot write %s\n", path); return 1; }
        fprintf(f, "{\n  \"bench\": \"bench_distill_loss_gpu\",\n  \"device\": \"%s\",\n"
                "  \"flops\": \"P*2*(3*H_I*d_I + n_served*H*d), P = L(L+1)/2\",\n  \"reps\": %d,\n"
                "  \"rows\": [\n", ctx.desc, reps);
        for (int i = 0; i < n; i++) {
            const shape *S = &kShapes[i];
            fprintf(f, "    {\"shape\": \"%s\", \"H_I\": %d, \"d_I\": %d, \"H\": %d, \"Hkv\": %d, "
                    "\"d\": %d, \"n_served\": %d, \"L\": %d, \"fwd_ms\": %.4f, \"fwd_bwd_ms\": %.4f, "
                    "\"workspace_gib\": %.4f, \"tflops\": %.2f, \"loss_per_token\": %.6g, "
                    "\"goal_ms\": %.1f, \"goal_gib\": %.1f}%s\n", S->name, S->HI, S->dI, S->H,
                    S->Hkv, S->d, S->ns, S->L, fwd_ms[i], bwd_ms[i], ws_gib[i], tf[i], loss[i],
                    S->goal_ms, S->goal_gib, i + 1 < n ? "," : "");
        }
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
