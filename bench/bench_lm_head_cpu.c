/* Micro benchmark of the CPU LM head + cross-entropy at SmolLM2-135M's
 * shape (V = 49152, D = 576, a 113 MB fp32 head). Not a test; build and
 * run as in bench/README.md.
 *   bench_lm_head_cpu [L [reps]]      (default: 512 3)
 * Rows (best of reps, wall ms and tokens/s):
 *   old64      the teacher's former CPU path: 64-row blocks of the threaded
 *              head GEMM, then the former scalar cross-entropy (glibc expf,
 *              copied here as the baseline)
 *   blocks64   the same blocks with the vectorised cross-entropy
 *   gemm       the head GEMM alone over all L rows (no loss): a floor
 *   fused r/c/split  ic_lm_head_loss_cpu_blocked: rows per pass, vocab tile,
 *              vocab or row split over the threads (the default is marked)
 * Columns: best wall ms, tokens/s from it, best process CPU ms (the
 * steadier figure on a shared machine).
 * Every fused row's mean loss is checked against old64's (|diff| < 1e-5). */
#define _GNU_SOURCE
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "kernels/cpu/ic_cpu_lm_head.h"
#include "kernels/ic_cross_entropy.h"
#include "kernels/ic_ctx.h"
#include "kernels/ic_matmul.h"

enum { V = 49152, D = 576, BLK = 64 };

static double clk_ms(clockid_t c) {
    struct timespec ts;
    clock_gettime(c, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}
static double now_ms(void) { return clk_ms(CLOCK_MONOTONIC); }
static double cpu_ms(void) { return clk_ms(CLOCK_PROCESS_CPUTIME_ID); }

static float frand(unsigned *s) {   /* roughly N(0,1): sum of 4 uniforms */
    float x = 0;
    for (int i = 0; i < 4; i++) { *s = *s * 1664525u + 1013904223u; x += (float)(*s >> 8) / 16777216.0f; }
    return (x - 2.0f) * 1.7320508f;
}

/* the former kernels/cpu/cross_entropy.c forward, the "before" figure */
static void old_ce(float *nll, const float *logits, const int32_t *y, int n) {
    #pragma omp parallel for schedule(static) if (n > 1)
    for (int i = 0; i < n; i++) {
        const float *z = logits + (size_t)i * V;
        float m = z[0];
        for (int j = 1; j < V; j++) m = z[j] > m ? z[j] : m;
        double s = 0.0;
        for (int j = 0; j < V; j++) s += (double)expf(z[j] - m);
        nll[i] = (float)((double)m + log(s) - (double)z[y[i]]);
    }
}

static double mean(const float *a, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += a[i];
    return s / n;
}

int main(int argc, char **argv) {
    const int L = argc > 1 ? atoi(argv[1]) : 512, reps = argc > 2 ? atoi(argv[2]) : 3;
    ic_ctx ctx;
    ic_error err;
    ic_error_clear(&err);
    if (ic_ctx_init(&ctx, IC_BACKEND_CPU, -1, 0, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
    unsigned seed = 12345;
    float *x = malloc(sizeof(float) * (size_t)L * D), *w = malloc(sizeof(float) * (size_t)V * D);
    float *nll = malloc(sizeof(float) * L), *lg = malloc(sizeof(float) * (size_t)BLK * V);
    int32_t *y = malloc(sizeof(int32_t) * L);
    for (size_t i = 0; i < (size_t)L * D; i++) x[i] = frand(&seed);
    for (size_t i = 0; i < (size_t)V * D; i++) w[i] = 0.08f * frand(&seed);
    for (int i = 0; i < L; i++) { seed = seed * 1664525u + 1013904223u; y[i] = (int32_t)(seed % V); }
    const int nt = omp_get_max_threads();
    printf("L = %d, V = %d, D = %d, %d threads, best of %d\n", L, V, D, nt, reps);
    double ref = 0;
    for (int m = 0; m < 3; m++) {
        double best = 1e30, bcpu = 1e30;
        for (int r = 0; r < reps; r++) {
            double t0 = now_ms(), c0 = cpu_ms();
            if (m < 2) {
                for (int t = 0; t < L; t += BLK) {
                    int nb = L - t < BLK ? L - t : BLK;
                    ic_matmul_forward_cpu(&ctx, lg, x + (size_t)t * D, w, NULL, nb, V, D);
                    if (m == 0) old_ce(nll + t, lg, y + t, nb);
                    else ic_cross_entropy_forward_cpu(&ctx, nll + t, lg, y + t, nb, V);
                }
            } else {
                if (L > 1024) break;   /* [L, V] logits */
                float *all = malloc(sizeof(float) * (size_t)L * V);
                t0 = now_ms(), c0 = cpu_ms();
                ic_matmul_forward_cpu(&ctx, all, x, w, NULL, L, V, D);
                double t1 = now_ms(), c1 = cpu_ms();
                free(all);
                best = t1 - t0 < best ? t1 - t0 : best;
                bcpu = c1 - c0 < bcpu ? c1 - c0 : bcpu;
                continue;
            }
            double t1 = now_ms(), c1 = cpu_ms();
            best = t1 - t0 < best ? t1 - t0 : best;
            bcpu = c1 - c0 < bcpu ? c1 - c0 : bcpu;
        }
        if (m == 0) ref = mean(nll, L);
        if (best < 1e30)
            printf("%-28s %9.1f ms %9.0f tok/s  cpu %9.1f ms  mean nll %.6f\n",
                   m == 0 ? "old64" : m == 1 ? "blocks64" : "gemm", best, L / best * 1e3,
                   bcpu, m == 2 ? NAN : mean(nll, L));
    }
    const ic_lm_head_blocking def = ic_lm_head_blocking_default(&ctx, L, V, D);
    const int rows[3] = {256, 512, 1024}, chunks[4] = {256, 512, 1024, 2048};
    for (int split = 0; split < 2; split++)
        for (int a = 0; a < 3; a++)
            for (int c = 0; c < 4; c++) {
                ic_lm_head_blocking b = {.rows = rows[a], .vchunk = chunks[c], .threads = nt,
                                         .vparts = split ? 1 : nt};
                if (ic_ctx_reserve(&ctx, ic_lm_head_loss_workspace_bytes_blocked(&b, L, V), &err)) {
                    fprintf(stderr, "%s\n", err.msg);
                    return 1;
                }
                double best = 1e30, bcpu = 1e30;
                for (int r = 0; r < reps; r++) {
                    double t0 = now_ms(), c0 = cpu_ms();
                    ic_lm_head_loss_cpu_blocked(&ctx, &b, nll, x, w, y, L, V, D);
                    double t1 = now_ms(), c1 = cpu_ms();
                    best = t1 - t0 < best ? t1 - t0 : best;
                    bcpu = c1 - c0 < bcpu ? c1 - c0 : bcpu;
                }
                double mn = mean(nll, L);
                char name[64];
                snprintf(name, sizeof name, "fused r%d c%d %s%s", b.rows, b.vchunk,
                         split ? "rows" : "vocab",
                         b.rows == def.rows && b.vchunk == def.vchunk && b.vparts == def.vparts
                             ? " *" : "");
                printf("%-28s %9.1f ms %9.0f tok/s  cpu %9.1f ms  mean nll %.6f%s\n", name, best,
                       L / best * 1e3, bcpu, mn, fabs(mn - ref) < 1e-5 ? "" : "  MISMATCH");
            }
    free(x); free(w); free(nll); free(lg); free(y);
    ic_ctx_free(&ctx);
    return 0;
}
