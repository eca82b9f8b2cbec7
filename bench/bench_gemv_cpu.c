/* Micro benchmark of the few-row CPU matmul (kernels/cpu/gemv.c) at the
 * shapes of SmolLM2-135M's decode: where the GEMV path beats cblas_sgemm
 * (IC_CPU_GEMV_MAX_M) and where splitting over threads pays (the N*K
 * cut-off). Not a test; build and run as in bench/README.md.
 *   bench_gemv_cpu [max_M]        (default 8)
 * Each figure is the median over 7 runs of one pass through a pool of
 * distinct weight matrices of 384 MiB in all (more than this machine's L3
 * share, as a decode step's 540 MB of weights are), in microseconds per
 * call. Columns: the GEMM path as ic_cpu_sgemm ran it before the GEMV path
 * (serial under M*N*K < 2^20, else split), ic_cpu_sgemm now, and the GEMV
 * path on 1 thread and on all threads, whatever its cut-offs. */
#define _GNU_SOURCE
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/cpu/ic_cpu_blas.h"

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec * 1e-3;
}

/* ic_cpu_sgemm as it was before kernels/cpu/gemv.c (NoTrans x Trans only) */
static void old_sgemm(int M, int N, int K, const float *A, const float *B, float *C) {
    const int nt = omp_get_max_threads();
    if (nt <= 1 || (long)M * N * K < (1L << 20)) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, A, K, B, K, 0.0f, C, N);
        return;
    }
    #pragma omp parallel num_threads(nt)
    {
        int id = omp_get_thread_num(), n = omp_get_num_threads();
        int lo = (int)((long)N * id / n), hi = (int)((long)N * (id + 1) / n);
        if (hi > lo)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, hi - lo, K, 1.0f, A, K,
                        B + (size_t)lo * K, K, 0.0f, C + lo, N);
    }
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

enum { REPS = 7 };

/* median us per call of `which` over the pool */
static double time_it(int which, int M, int N, int K, float **W, int copies, const float *A, float *C,
                      int nt) {
    double t[REPS];
    for (int r = 0; r < REPS; r++) {
        double t0 = now_us();
        for (int c = 0; c < copies; c++) {
            switch (which) {
            case 0: old_sgemm(M, N, K, A, W[c], C); break;
            case 1: ic_cpu_sgemm(CblasNoTrans, CblasTrans, M, N, K, 1.0f, A, K, W[c], K, 0.0f, C, N); break;
            default:
                omp_set_num_threads(which == 2 ? 1 : nt);
                ic_cpu_sgemv_small_m(CblasNoTrans, CblasTrans, M, N, K, 1.0f, A, K, W[c], K, 0.0f, C, N);
                omp_set_num_threads(nt);
            }
        }
        t[r] = (now_us() - t0) / copies;
    }
    qsort(t, REPS, sizeof t[0], cmp_d);
    return t[REPS / 2];
}

int main(int argc, char **argv) {
    const int maxM = argc > 1 ? atoi(argv[1]) : 8;
    const int nt = omp_get_max_threads();
    ic_cpu_blas_init();
    static const int shapes[][2] = {{64, 512}, {128, 512}, {256, 512}, {192, 576}, {576, 576},
                                    {1536, 576}, {576, 1536}, {49152, 576}};
    printf("few-row matmul, C[M,N] = A[M,K] W[N,K]^T, %d OpenMP threads, us per call (median of %d)\n",
           nt, REPS);
    printf("%6s %6s %2s | %9s %9s %9s %9s | %s\n", "N", "K", "M", "old gemm", "now", "gemv 1t",
           "gemv all", "GB/s of W (now)");
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const int N = shapes[si][0], K = shapes[si][1];
        const size_t elems = (size_t)N * K;
        int copies = (int)(((size_t)384 << 20) / (elems * sizeof(float)));
        if (copies < 4) copies = 4;
        float **W = malloc(sizeof(float *) * copies);
        for (int c = 0; c < copies; c++) {
            W[c] = malloc(elems * sizeof(float));
            for (size_t i = 0; i < elems; i++) W[c][i] = (float)((i * 7 + c) % 13) * 0.01f;
        }
        float *A = malloc(sizeof(float) * maxM * K), *C = malloc(sizeof(float) * maxM * N);
        for (int i = 0; i < maxM * K; i++) A[i] = (float)(i % 5) * 0.1f;
        for (int M = 1; M <= maxM; M++) {
            double t[4];
            for (int w = 0; w < 4; w++) t[w] = time_it(w, M, N, K, W, copies, A, C, nt);
            printf("%6d %6d %2d | %9.1f %9.1f %9.1f %9.1f | %.1f\n", N, K, M, t[0], t[1], t[2], t[3],
                   elems * 4 / (t[1] * 1e3));
            fflush(stdout);
        }
        for (int c = 0; c < copies; c++) free(W[c]);
        free(W); free(A); free(C);
    }
    return 0;
}
