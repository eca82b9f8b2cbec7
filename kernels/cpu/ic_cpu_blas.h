/* How the CPU reference uses OpenBLAS: one threading model for the whole
 * process. OpenBLAS (pthreads build) is switched to one thread and the ops
 * split their GEMMs over OpenMP threads themselves. Letting both runtimes
 * run thread pools made them fight for the cores (OpenMP workers spin after
 * each parallel region while the BLAS threads want the same cores): the
 * teacher forward ran 2-4x slower on a 2-core machine. For the same reason
 * every parallel region of the CPU ops has an `if` clause: small work runs
 * serially, since a fork/join on a loaded machine can cost a scheduler time
 * slice (decoding went from 1.6 to 21 tok/s). The clause measures the work
 * itself: for a one-row matmul that is the weight it streams (N*K), not
 * M*N*K, which would keep every decode projection on one core. */
#ifndef IC_CPU_BLAS_H
#define IC_CPU_BLAS_H

#include <cblas.h>

/* Idempotent; call outside parallel regions, before any GEMM. */
void ic_cpu_blas_init(void);

/* openblas_set_num_threads(n) that leaves OpenMP's thread count alone. The
 * OpenMP build of OpenBLAS (the one CMake links) implements it with
 * omp_set_num_threads(n), which would silently make every later parallel
 * loop of ours single-threaded. Returns the previous BLAS thread count. */
int ic_cpu_blas_set_threads(int n);

/* C[M, N] = alpha * op(A) op(B) + beta * C in row-major, with the rows of C
 * (or, when M is small, its columns) split over the OpenMP threads. Up to
 * IC_CPU_GEMV_MAX_M rows it is ic_cpu_sgemv_small_m. */
void ic_cpu_sgemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha,
                  const float *A, int lda, const float *B, int ldb, float beta,
                  float *C, int ldc);

/* Rows of C up to which ic_cpu_sgemm runs cblas_sgemv per row of C instead
 * of a GEMM: cblas_sgemm packs all of B on every call, which for a single
 * row costs more than the product (decode of SmolLM2: a 1536x576 projection
 * took 236 us as sgemm, 51 us as sgemv, weights in cache). From two rows on
 * the packing is already shared enough: bench/bench_gemv_cpu.c (2026-12-02,
 * 2 cores, weights streamed from memory) measured M = 1 / M = 2 at
 * 576x1536: GEMM 758 / 726 us, GEMV 416 / 826 us; 1536x576: 950 / 858 vs
 * 781 / 1167; LM head 49152x576: 34.4 / 30.0 ms vs 20.4 / 30.0 ms. */
#define IC_CPU_GEMV_MAX_M 1

/* The same product as ic_cpu_sgemm for any M, as gemv calls: the columns
 * of C (rows of a transposed B) are split over the OpenMP threads when B
 * has enough elements to pay for a fork/join, in shares that start on
 * fixed multiples, so the bits do not depend on the thread count. */
void ic_cpu_sgemv_small_m(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K,
                          float alpha, const float *A, int lda, const float *B, int ldb,
                          float beta, float *C, int ldc);

#endif
