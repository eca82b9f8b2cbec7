/* GPU sparse-stage distillation loss (kernels/cuda/distill_loss_sparse.cu) at
 * SmolLM2-135M's shapes: indexer H_I 16 x d_I 64, teacher H 9 / Hkv 3 x 64,
 * 4 served layers, K = 256, L = 8K and 32K, random causal index sets
 * (min(K, t+1) distinct positions per row), inputs U(-1, 1), fp32 (the
 * op's storage). Times, as the mean over REPS back-to-back calls between two
 * ic_ctx_sync after warm-up: the forward (loss only) and the backward (loss
 * and dqI, dkI, dw: the whole training step of this op). Writes
 * $IC_OUT/distill_loss_sparse_ic.json, which bench/gpu_distill_loss_sparse_torch.py
 * reads to print the ratio against torch's gather formula with autograd.
 * Exit 77 without a GPU. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/ic_error.h"
#include "kernels/ic_ctx.h"
#include "kernels/ic_distill_loss.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t rng(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 11;
}

static float *dev_rand(ic_ctx *ctx, size_t n, uint64_t seed) {
    float *h = malloc(n * sizeof(float));
    if (!h) { fprintf(stderr, "out of host memory\n"); exit(2); }
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++) h[i] = (float)((double)rng(&s) * (2.0 / 9007199254740992.0) - 1.0);
    float *d = ic_buf_alloc(ctx, n * sizeof(float));
    if (!d) { fprintf(stderr, "out of device memory\n"); exit(2); }
    ic_buf_upload(ctx, d, h, n * sizeof(float));
    free(h);
    return d;
}

int main(void) {
    ic_error err = {0};
    ic_ctx ctx;
    if (ic_ctx_init(&ctx, IC_BACKEND_CUDA, 0, 0, &err) != 0) {
        printf("SKIP: no CUDA context: %s\n", err.msg);
        return 77;
    }
    const int Ls[2] = {8192, 32768}, K = 256, HI = 16, dI = 64, H = 9, Hkv = 3, d = 64, ns = 4;
    const char *out_dir = getenv("IC_OUT");
    char path[4096];
    snprintf(path, sizeof path, "%s/distill_loss_sparse_ic.json", out_dir && *out_dir ? out_dir : ".");
    FILE *js = fopen(path, "w");
    if (js)
        fprintf(js, "{\"device\": \"%s\", \"K\": %d, \"H_I\": %d, \"d_I\": %d, \"H\": %d, "
                    "\"Hkv\": %d, \"d\": %d, \"n_served\": %d, \"dtype\": \"f32\", \"rows\": [\n",
                ctx.desc, K, HI, dI, H, Hkv, d, ns);
    printf("%s\n", ctx.desc);
    printf("%6s %5s %12s %12s %14s\n", "L", "K", "forward ms", "backward ms", "pairs/s (bwd)");
    for (int li = 0; li < 2; li++) {
        const int L = Ls[li];
        float *qI = dev_rand(&ctx, (size_t)L * HI * dI, 1 + L);
        float *kI = dev_rand(&ctx, (size_t)L * dI, 2 + L);
        float *w = dev_rand(&ctx, (size_t)L * HI, 3 + L);
        ic_distill_teacher tch[4];
        for (int j = 0; j < ns; j++) {
            tch[j].q = dev_rand(&ctx, (size_t)L * H * d, 10 + 2 * j + L);
            tch[j].k = dev_rand(&ctx, (size_t)L * Hkv * d, 11 + 2 * j + L);
            tch[j].lse = NULL;
        }
        /* random causal sets: Floyd's sampling, stamp[s] == t marks taken */
        int32_t *hidx = malloc((size_t)L * K * 4), *hcnt = malloc((size_t)L * 4);
        int32_t *stamp = malloc((size_t)L * 4);
        if (!hidx || !hcnt || !stamp) { fprintf(stderr, "out of host memory\n"); return 2; }
        for (int s = 0; s < L; s++) stamp[s] = -1;
        uint64_t rs = 99 + (uint64_t)L;
        int64_t pairs = 0;
        for (int t = 0; t < L; t++) {
            const int n = K < t + 1 ? K : t + 1;
            int32_t *row = hidx + (size_t)t * K;
            int c = 0;
            for (int jx = t + 1 - n; jx <= t; jx++) {
                int v = (int)(rng(&rs) % (uint64_t)(jx + 1));
                if (stamp[v] == t) v = jx;
                stamp[v] = t;
                row[c++] = v;
            }
            for (; c < K; c++) row[c] = -1;
            hcnt[t] = n;
            pairs += n;
        }
        int32_t *idx = ic_buf_alloc(&ctx, (size_t)L * K * 4), *cnt = ic_buf_alloc(&ctx, (size_t)L * 4);
        float *dqI = ic_buf_alloc(&ctx, (size_t)L * HI * dI * 4), *dkI = ic_buf_alloc(&ctx, (size_t)L * dI * 4);
        float *dw = ic_buf_alloc(&ctx, (size_t)L * HI * 4);
        if (!idx || !cnt || !dqI || !dkI || !dw) { fprintf(stderr, "out of device memory\n"); return 2; }
        ic_buf_upload(&ctx, idx, hidx, (size_t)L * K * 4);
        ic_buf_upload(&ctx, cnt, hcnt, (size_t)L * 4);
        free(hidx); free(hcnt); free(stamp);
        ic_distill_desc desc = {.L = L, .n_idx_heads = HI, .idx_head_dim = dI, .n_heads = H,
                                .n_kv_heads = Hkv, .head_dim = d, .stage = IC_DISTILL_SPARSE,
                                .idx = idx, .cnt = cnt, .topk = K};
        if (ic_ctx_reserve(&ctx, ic_distill_loss_workspace_bytes(&ctx, &desc), &err) != 0) {
            fprintf(stderr, "workspace: %s\n", err.msg);
            return 2;
        }
        ic_distill_stats st;
        const int reps = L <= 8192 ? 20 : 5;
        for (int r = 0; r < 2; r++) {
            ic_distill_loss_forward(&ctx, &desc, qI, kI, w, tch, ns, &st, &err);
            ic_distill_loss_backward(&ctx, &desc, qI, kI, w, tch, ns, dqI, dkI, dw, &st, &err);
        }
        ic_ctx_sync(&ctx);
        double t0 = now_s();
        for (int r = 0; r < reps; r++) ic_distill_loss_forward(&ctx, &desc, qI, kI, w, tch, ns, &st, &err);
        ic_ctx_sync(&ctx);
        const double fwd_ms = 1e3 * (now_s() - t0) / reps;
        t0 = now_s();
        for (int r = 0; r < reps; r++)
            ic_distill_loss_backward(&ctx, &desc, qI, kI, w, tch, ns, dqI, dkI, dw, &st, &err);
        ic_ctx_sync(&ctx);
        const double bwd_ms = 1e3 * (now_s() - t0) / reps;
        printf("%6d %5d %12.3f %12.3f %14.3g   (loss/token %.6f)\n", L, K, fwd_ms, bwd_ms,
               (double)pairs / (bwd_ms * 1e-3), st.loss / (double)st.n_tokens);
        if (js)
            fprintf(js, "%s  {\"L\": %d, \"K\": %d, \"forward_ms\": %.4f, \"backward_ms\": %.4f, "
                        "\"loss_per_token\": %.6f}", li ? ",\n" : "", L, K, fwd_ms, bwd_ms,
                    st.loss / (double)st.n_tokens);
        ic_buf_free(&ctx, qI); ic_buf_free(&ctx, kI); ic_buf_free(&ctx, w);
        for (int j = 0; j < ns; j++) {
            ic_buf_free(&ctx, (void *)tch[j].q);
            ic_buf_free(&ctx, (void *)tch[j].k);
        }
        ic_buf_free(&ctx, idx); ic_buf_free(&ctx, cnt);
        ic_buf_free(&ctx, dqI); ic_buf_free(&ctx, dkI); ic_buf_free(&ctx, dw);
    }
    if (js) {
        fprintf(js, "\n]}\n");
        fclose(js);
        printf("wrote %s\n", path);
    }
    ic_ctx_free(&ctx);
    return 0;
}
