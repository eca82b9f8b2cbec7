/* Micro benchmark of the CPU distillation loss (kernels/ic_distill_loss.h)
 * at SmolLM2-like sizes. Not a test; build and run as in bench/README.md.
 *   bench_distill_loss_cpu [L ...]      (default: 512 2048)
 * Prints, per L: dense forward, dense backward, sparse backward (K = 256),
 * best of 3 runs each: wall ms / process CPU ms (the CPU time is the steadier
 * figure on a machine shared with other jobs). */
#define _GNU_SOURCE
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "kernels/ic_ctx.h"
#include "kernels/ic_distill_loss.h"

enum { HI = 16, DI = 64, H = 9, HKV = 3, D = 64, NL = 4, TOPK = 256 };

static double now_ms(clockid_t clk) {
    struct timespec ts;
    clock_gettime(clk, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static float frand(unsigned *s) {   /* roughly N(0,1): sum of 4 uniforms */
    float x = 0;
    for (int i = 0; i < 4; i++) { *s = *s * 1664525u + 1013904223u; x += (float)(*s >> 8) / 16777216.0f; }
    return (x - 2.0f) * 1.7320508f;
}

static float *rand_buf(size_t n, float std, unsigned *s) {
    float *x = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) x[i] = std * frand(s);
    return x;
}

/* Dense LSE [H, L] of q.k/sqrt(d) over s <= t (the bench may hold L x L). */
static float *dense_lse(const float *q, const float *k, int L) {
    float *lse = malloc((size_t)H * L * sizeof(float)), *S = malloc((size_t)L * L * sizeof(float));
    for (int h = 0; h < H; h++) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, L, L, D, 1.0f / sqrtf(D),
                    q + h * D, H * D, k + (h / (H / HKV)) * D, HKV * D, 0.0f, S, L);
        for (int t = 0; t < L; t++) {
            float mx = -INFINITY; double sum = 0;
            for (int s = 0; s <= t; s++) mx = fmaxf(mx, S[(size_t)t * L + s]);
            for (int s = 0; s <= t; s++) sum += exp(S[(size_t)t * L + s] - mx);
            lse[(size_t)h * L + t] = mx + (float)log(sum);
        }
    }
    free(S);
    return lse;
}

int main(int argc, char **argv) {
    int Ls[8] = {512, 2048}, nL = 2;
    if (argc > 1) { nL = argc - 1 > 8 ? 8 : argc - 1; for (int i = 0; i < nL; i++) Ls[i] = atoi(argv[i + 1]); }
    printf("distill loss CPU: H_I=%d d_I=%d H=%d Hkv=%d d=%d served=%d, %d OpenMP threads\n",
           HI, DI, H, HKV, D, NL, omp_get_max_threads());
    printf("%6s | %17s | %17s | %20s   (wall ms / CPU ms)\n", "L", "dense fwd", "dense bwd",
           "sparse K=256 bwd");
    ic_ctx ctx;
    ic_error cerr = {0};
    if (ic_ctx_init(&ctx, IC_BACKEND_CPU, -1, 0, &cerr)) { fprintf(stderr, "%s\n", cerr.msg); return 1; }
    for (int li = 0; li < nL; li++) {
        int L = Ls[li];
        unsigned seed = 1234u + (unsigned)L;
        float *qI = rand_buf((size_t)L * HI * DI, 1.0f, &seed), *kI = rand_buf((size_t)L * DI, 1.0f, &seed);
        float *w = rand_buf((size_t)L * HI, 0.05f, &seed);
        ic_distill_teacher T[NL];
        for (int j = 0; j < NL; j++) {
            float *q = rand_buf((size_t)L * H * D, 1.0f, &seed), *k = rand_buf((size_t)L * HKV * D, 1.0f, &seed);
            T[j] = (ic_distill_teacher){q, k, dense_lse(q, k, L)};
        }
        int32_t *idx = malloc((size_t)L * TOPK * sizeof(int32_t)), *cnt = malloc((size_t)L * sizeof(int32_t));
        for (int t = 0; t < L; t++) {   /* the most recent min(K, t+1) keys: a valid index set */
            cnt[t] = t + 1 < TOPK ? t + 1 : TOPK;
            for (int i = 0; i < TOPK; i++) idx[(size_t)t * TOPK + i] = i < cnt[t] ? t - i : -1;
        }
        float *dq = calloc((size_t)L * HI * DI, sizeof(float)), *dk = calloc((size_t)L * DI, sizeof(float));
        float *dw = calloc((size_t)L * HI, sizeof(float));
        double best[3] = {INFINITY, INFINITY, INFINITY}, cpu[3] = {INFINITY, INFINITY, INFINITY};
        double loss[3] = {0};
        for (int rep = 0; rep < 3; rep++)
            for (int m = 0; m < 3; m++) {
                ic_distill_desc d = {.L = L, .n_idx_heads = HI, .idx_head_dim = DI, .n_heads = H,
                                     .n_kv_heads = HKV, .head_dim = D,
                                     .stage = m == 2 ? IC_DISTILL_SPARSE : IC_DISTILL_DENSE,
                                     .idx = idx, .cnt = cnt, .topk = TOPK};
                ic_distill_stats st; ic_error err; ic_error_clear(&err);
                /* the op's scratch comes from the context: reserve its query */
                if (ic_ctx_reserve(&ctx, ic_distill_loss_workspace_bytes(&ctx, &d), &err)) {
                    fprintf(stderr, "%s\n", err.msg);
                    return 1;
                }
                double t0 = now_ms(CLOCK_MONOTONIC), c0 = now_ms(CLOCK_PROCESS_CPUTIME_ID);
                int rc = m == 0 ? ic_distill_loss_forward(&ctx, &d, qI, kI, w, T, NL, &st, &err)
                                : ic_distill_loss_backward(&ctx, &d, qI, kI, w, T, NL, dq, dk, dw, &st, &err);
                double ms = now_ms(CLOCK_MONOTONIC) - t0, cms = now_ms(CLOCK_PROCESS_CPUTIME_ID) - c0;
                if (rc != 0) { fprintf(stderr, "%s\n", err.msg); return 1; }
                if (ms < best[m]) best[m] = ms;
                if (cms < cpu[m]) cpu[m] = cms;
                loss[m] = st.loss / st.n_tokens;
            }
        printf("%6d | %7.1f / %7.1f | %7.1f / %7.1f | %8.1f / %9.1f   (mean loss dense %.4f sparse %.4f)\n",
               L, best[0], cpu[0], best[1], cpu[1], best[2], cpu[2], loss[0], loss[2]);
        for (int j = 0; j < NL; j++) { free((void *)T[j].q); free((void *)T[j].k); free((void *)T[j].lse); }
        free(qI); free(kI); free(w); free(idx); free(cnt); free(dq); free(dk); free(dw);
    }
    return 0;
}
