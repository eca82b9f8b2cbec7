/* The few-row GEMM of ic_cpu_sgemm (ic_cpu_blas.h) as matrix-vector
 * products: decode runs every linear layer with M = 1, where cblas_sgemm
 * spends most of its time packing the weight matrix (the whole of it, for
 * one use) and cblas_sgemv streams it once. The work is bound by the bytes
 * of B read, so the threads split B's output columns (the rows of a [N, K]
 * weight) and each reads only its share. */
#include <omp.h>
#include <stddef.h>
#include <string.h>

#include "kernels/cpu/ic_cpu_blas.h"

/* Thread shares start on multiples of this many output columns. OpenBLAS's
 * gemv kernels work on blocks of 4-16 rows or columns with a different tail
 * kernel, so an element's rounding could depend on where its call starts;
 * starting every share on a multiple of 64 puts each element at the same
 * place of the same block whatever the thread count, and the results are
 * the same bits for 1, 2 or 3 threads (tests/unit/test_cpu_gemv.c checks). */
#define GEMV_ALIGN 64

/* Fork/join only from this many elements of B (2^16 floats = 256 KiB).
 * One thread streams a weight at roughly 10-20 GB/s, so 256 KiB is 15-25 us
 * of work, against a few us for a fork/join of two OpenMP threads (more when
 * the sleeping worker must be woken, OMP_WAIT_POLICY=PASSIVE). Below it (the
 * projections of tiny models, test shapes) one thread wins; from it up every
 * per-layer decode matmul of SmolLM2 (192x576 = 110K floats and up) splits.
 * bench/bench_gemv_cpu.c measures both sides; on 2026-12-02, with the two
 * cores shared with 2-3 other jobs (load 4) and the weights streamed from
 * memory (~6 GB/s), two threads did not beat one at any size (576x1536:
 * 376 vs 393 us) and the fork cost ~100 us at 64x512, below the cut-off:
 * the split pays only where the second core and more bandwidth are free. */
#define GEMV_PAR_MIN_ELEMS (1L << 16)

/* With M > 1 each share is walked in blocks of about this many floats of B
 * (256 KiB: fits the L2 of a core beside its x and y) and every row of A
 * is applied to the block before the next one is read, so B still comes
 * from memory once. */
#define GEMV_BLOCK_ELEMS (1L << 16)

/* C[m, lo:hi] = alpha * op(A)[m, :] op(B)[:, lo:hi] + beta * C[m, lo:hi]
 * for m < M, as gemv calls over column blocks of width `blk`. */
static void gemv_share(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int lo, int hi, int blk,
                       int K, float alpha, const float *A, int lda, const float *B, int ldb,
                       float beta, float *C, int ldc) {
    if (beta == 0.0f)   /* never read C: it may hold NaN (poisoned or fresh scratch) */
        for (int m = 0; m < M; m++) memset(C + (size_t)m * ldc + lo, 0, sizeof(float) * (size_t)(hi - lo));
    for (int b0 = lo; b0 < hi; b0 += blk) {
        const int nb = hi - b0 < blk ? hi - b0 : blk;
        for (int m = 0; m < M; m++) {
            const float *x = ta == CblasNoTrans ? A + (size_t)m * lda : A + m;
            const int incx = ta == CblasNoTrans ? 1 : lda;
            float *y = C + (size_t)m * ldc + b0;
            if (tb == CblasTrans)   /* B is [N, K]: y = B[b0:b0+nb, :] x */
                cblas_sgemv(CblasRowMajor, CblasNoTrans, nb, K, alpha, B + (size_t)b0 * ldb, ldb,
                            x, incx, beta, y, 1);
            else                    /* B is [K, N]: y = B[:, b0:b0+nb]^T x */
                cblas_sgemv(CblasRowMajor, CblasTrans, K, nb, alpha, B + b0, ldb,
                            x, incx, beta, y, 1);
        }
    }
}

void ic_cpu_sgemv_small_m(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha,
                          const float *A, int lda, const float *B, int ldb, float beta,
                          float *C, int ldc) {
    ic_cpu_blas_init();
    if (M <= 0 || N <= 0) return;
    /* blocks of whole GEMV_ALIGN columns; one block per row of A when M = 1 */
    long blk = GEMV_BLOCK_ELEMS / (K > 0 ? K : 1);
    blk = blk < GEMV_ALIGN ? GEMV_ALIGN : blk / GEMV_ALIGN * GEMV_ALIGN;
    if (M == 1 || blk > N) blk = N;
    const int units = (N + GEMV_ALIGN - 1) / GEMV_ALIGN;
    const int nt = omp_in_parallel() ? 1 : omp_get_max_threads();
    #pragma omp parallel num_threads(nt) if (nt > 1 && units > 1 && (long)N * K >= GEMV_PAR_MIN_ELEMS)
    {
        const int id = omp_get_thread_num(), n = omp_get_num_threads();
        const int u0 = (int)((long)units * id / n), u1 = (int)((long)units * (id + 1) / n);
        const int lo = u0 * GEMV_ALIGN, hi = u1 * GEMV_ALIGN < N ? u1 * GEMV_ALIGN : N;
        if (hi > lo) gemv_share(ta, tb, M, lo, hi, (int)blk, K, alpha, A, lda, B, ldb, beta, C, ldc);
    }
}
