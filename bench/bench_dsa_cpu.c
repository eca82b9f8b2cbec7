/* Micro benchmark of the CPU DSA ops at SmolLM2-135M sizes (indexer H_I=16,
 * d_I=64; teacher H=9, Hkv=3, d=64; K=256). Not a test; build and run as in
 * bench/README.md.
 *   bench_dsa_cpu [reps] [L ...]      (default: 7 reps, L = 512 2048)
 * Per L, median (and best) of `reps` runs, wall ms / process CPU ms, of:
 *   scores fwd   ic_indexer_scores_forward over all row blocks
 *                (ic_indexer_scores_block_rows(L) rows per block)
 *   scores bwd   ic_indexer_scores_backward over the same blocks (random dI)
 *   top-k        ic_topk_forward over the same blocks (scores precomputed)
 *   sparse attn  ic_sparse_attention_forward with the top-k sets, lse on
 *   select       ic_indexer_select end to end (scores + top-k, streamed)
 * ic_cpu_blas_init() runs first, as in the trainer (the teacher's GEMMs
 * call it before any indexer op). Inputs are random; a checksum per op is
 * printed so that two builds can be compared for equal results. */
#define _GNU_SOURCE
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/cpu/ic_cpu_blas.h"
#include "kernels/ic_ctx.h"
#include "kernels/ic_indexer_scores.h"
#include "kernels/ic_sparse_attention.h"
#include "kernels/ic_topk.h"
#include "model/ic_indexer.h"

enum { HI = 16, DI = 64, H = 9, HKV = 3, D = 64, TOPK = 256, NOPS = 5 };
static ic_ctx g_ctx;   /* the CPU backend the ops run on */
static const char *op_names[NOPS] = { "scores fwd", "scores bwd", "top-k", "sparse attn", "select" };

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
    if (!x) { fprintf(stderr, "out of memory\n"); exit(1); }
    for (size_t i = 0; i < n; i++) x[i] = std * frand(s);
    return x;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct {
    int L, br;
    const float *qI, *kI, *w, *dI, *q, *k, *v;   /* inputs */
    float *blk, *S, *dq, *dk, *dw, *out, *lse;   /* outputs / scratch */
    int32_t *idx, *cnt;
    ic_indexer_acts *acts;
} bench_case;

static void run_op(bench_case *c, int op) {
    const int L = c->L, br = c->br;
    switch (op) {
    case 0:
        for (int t0 = 0; t0 < L; t0 += br) {
            int t1 = t0 + br < L ? t0 + br : L;
            ic_indexer_scores_forward(&g_ctx, c->blk, t1, c->qI, c->kI, c->w, L, HI, DI, t0, t1);
        }
        break;
    case 1:
        memset(c->dq, 0, sizeof(float) * (size_t)L * HI * DI);
        memset(c->dk, 0, sizeof(float) * (size_t)L * DI);
        memset(c->dw, 0, sizeof(float) * (size_t)L * HI);
        for (int t0 = 0; t0 < L; t0 += br) {
            int t1 = t0 + br < L ? t0 + br : L;
            ic_indexer_scores_backward(&g_ctx, c->dq, c->dk, c->dw, c->dI + (size_t)t0 * L, L, c->qI, c->kI,
                                       c->w, L, HI, DI, t0, t1);
        }
        break;
    case 2:
        for (int t0 = 0; t0 < L; t0 += br) {
            int t1 = t0 + br < L ? t0 + br : L;
            ic_topk_forward(&g_ctx, c->idx, c->cnt, c->S + (size_t)t0 * L, L, t0, t1, TOPK);
        }
        break;
    case 3:
        ic_sparse_attention_forward(&g_ctx, c->out, c->lse, c->q, c->k, c->v, L, H, HKV, D, c->idx, c->cnt, TOPK);
        break;
    case 4: {
        ic_error err; ic_error_clear(&err);
        if (ic_indexer_select(c->acts, TOPK, c->idx, c->cnt, &err)) { fprintf(stderr, "%s\n", err.msg); exit(1); }
        break;
    }
    }
}

static double sum_f(const float *x, size_t n) { double s = 0; for (size_t i = 0; i < n; i++) s += x[i]; return s; }

static double checksum(bench_case *c, int op) {
    const size_t L = (size_t)c->L;
    switch (op) {
    case 0: {   /* the finite entries of the last block */
        const size_t t0 = (L - 1) / c->br * c->br;
        double s = 0;
        for (size_t r = 0; r < L - t0; r++) s += sum_f(c->blk + r * L, t0 + r + 1);
        return s;
    }
    case 1: return sum_f(c->dq, L * HI * DI) + sum_f(c->dk, L * DI) + sum_f(c->dw, L * HI);
    case 2: case 4: { double s = 0; for (size_t i = 0; i < L * TOPK; i++) s += (double)c->idx[i] * (double)(i % 7 + 1); return s; }
    default: return sum_f(c->out, L * H * D) + sum_f(c->lse, (size_t)H * L);
    }
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 7;
    int Ls[8] = {512, 2048}, nL = 2;
    if (reps < 1) reps = 1;
    if (argc > 2) { nL = argc - 2 > 8 ? 8 : argc - 2; for (int i = 0; i < nL; i++) Ls[i] = atoi(argv[i + 2]); }
    /* With Debian's OpenMP OpenBLAS, openblas_set_num_threads(1) inside
     * ic_cpu_blas_init also calls omp_set_num_threads(1), which would leave
     * every later parallel region of this thread on one core; restore the
     * OpenMP team size so that OMP_NUM_THREADS means what it says. */
    const int nt = omp_get_max_threads();
    ic_cpu_blas_init();
    omp_set_num_threads(nt);
    ic_error cerr = {0};
    if (ic_ctx_init(&g_ctx, IC_BACKEND_CPU, -1, 0, &cerr)) { fprintf(stderr, "%s\n", cerr.msg); return 1; }
    printf("DSA CPU ops: H_I=%d d_I=%d H=%d Hkv=%d d=%d K=%d, %d OpenMP threads, median (best) of %d,"
           " wall ms / CPU ms\n", HI, DI, H, HKV, D, TOPK, omp_get_max_threads(), reps);
    for (int li = 0; li < nL; li++) {
        const int L = Ls[li];
        unsigned seed = 4321u + (unsigned)L;
        bench_case c = { .L = L, .br = ic_indexer_scores_block_rows(L) };
        /* The ops take their scratch from the context: reserve the largest query. */
        size_t ws = ic_indexer_scores_workspace_bytes(&g_ctx, L, HI, DI);
        size_t ws2 = ic_topk_workspace_bytes(&g_ctx, L), ws3 = ic_sparse_attention_workspace_bytes(&g_ctx, H, HKV, D, TOPK);
        if (ws2 > ws) ws = ws2;
        if (ws3 > ws) ws = ws3;
        ic_error rerr = {0};
        if (ic_ctx_reserve(&g_ctx, ws, &rerr)) { fprintf(stderr, "%s\n", rerr.msg); return 1; }
        float *qI = rand_buf((size_t)L * HI * DI, 1.0f, &seed), *kI = rand_buf((size_t)L * DI, 1.0f, &seed);
        float *w = rand_buf((size_t)L * HI, 0.03f, &seed), *dI = rand_buf((size_t)L * L, 1e-3f, &seed);
        c.qI = qI; c.kI = kI; c.w = w; c.dI = dI;
        float *q = rand_buf((size_t)L * H * D, 1.0f, &seed), *k = rand_buf((size_t)L * HKV * D, 1.0f, &seed);
        float *v = rand_buf((size_t)L * HKV * D, 1.0f, &seed);
        c.q = q; c.k = k; c.v = v;
        c.blk = malloc(sizeof(float) * (size_t)c.br * L);
        c.S = malloc(sizeof(float) * (size_t)L * L);
        c.dq = malloc(sizeof(float) * (size_t)L * HI * DI);
        c.dk = malloc(sizeof(float) * (size_t)L * DI);
        c.dw = malloc(sizeof(float) * (size_t)L * HI);
        c.out = malloc(sizeof(float) * (size_t)L * H * D);
        c.lse = malloc(sizeof(float) * (size_t)H * L);
        c.idx = malloc(sizeof(int32_t) * (size_t)L * TOPK);
        c.cnt = malloc(sizeof(int32_t) * (size_t)L);
        /* the full score matrix, for timing top-k alone (the bench may hold L x L) */
        for (int t0 = 0; t0 < L; t0 += c.br) {
            int t1 = t0 + c.br < L ? t0 + c.br : L;
            ic_indexer_scores_forward(&g_ctx, c.S + (size_t)t0 * L, L, qI, kI, w, L, HI, DI, t0, t1);
        }
        ic_indexer_dims dims = { .dim = 576, .n_heads = HI, .head_dim = DI, .rope_dim = 64,
                                 .topk = TOPK, .rope_theta = 100000.0f };
        ic_indexer_acts acts;
        ic_error err; ic_error_clear(&err);
        if (ic_indexer_acts_init(&acts, &g_ctx, &dims, L, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
        memcpy(acts.qI, qI, sizeof(float) * (size_t)L * HI * DI);
        memcpy(acts.kI, kI, sizeof(float) * (size_t)L * DI);
        memcpy(acts.w, w, sizeof(float) * (size_t)L * HI);
        acts.L = L;
        c.acts = &acts;
        run_op(&c, 2);   /* index sets for the sparse attention */

        printf("L=%d (row block %d)\n", L, c.br);
        double *wall = malloc(sizeof(double) * reps), *cpu = malloc(sizeof(double) * reps);
        for (int op = 0; op < NOPS; op++) {
            run_op(&c, op);   /* warm-up */
            for (int r = 0; r < reps; r++) {
                double t0 = now_ms(CLOCK_MONOTONIC), c0 = now_ms(CLOCK_PROCESS_CPUTIME_ID);
                run_op(&c, op);
                wall[r] = now_ms(CLOCK_MONOTONIC) - t0;
                cpu[r] = now_ms(CLOCK_PROCESS_CPUTIME_ID) - c0;
            }
            qsort(wall, reps, sizeof *wall, cmp_double);
            qsort(cpu, reps, sizeof *cpu, cmp_double);
            printf("  %-12s %8.1f (%7.1f) / %8.1f (%7.1f)   checksum %.9g\n", op_names[op],
                   wall[reps / 2], wall[0], cpu[reps / 2], cpu[0], checksum(&c, op));
        }
        free(wall); free(cpu);
        ic_indexer_acts_free(&acts);
        free(qI); free(kI); free(w); free(dI); free(q); free(k); free(v);
        free(c.blk); free(c.S); free(c.dq); free(c.dk); free(c.dw); free(c.out); free(c.lse);
        free(c.idx); free(c.cnt);
    }
    return 0;
}
