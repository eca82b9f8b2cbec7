/* How the CPU reference uses OpenBLAS: one threading model for the whole
 * process. OpenBLAS (pthreads build) is switched to one thread and the ops
 * split their GEMMs over OpenMP threads themselves. Letting both runtimes
 * run thread pools made them fight for the cores (OpenMP workers spin after
 * each parallel region while the BLAS threads want the same cores): the
 * teacher forward ran 2-4x slower on a 2-core machine. For the same reason
 * every parallel region of the CPU ops has an `if` clause: small work (one
 * decode row) runs serially, since a fork/join on a loaded machine can cost
 * a scheduler time slice (decoding went from 1.6 to 21 tok/s). */
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
 * (or, when M is small, its columns) split over the OpenMP threads. */
void ic_cpu_sgemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha,
                  const float *A, int lda, const float *B, int ldb, float beta,
                  float *C, int ldc);

#endif
