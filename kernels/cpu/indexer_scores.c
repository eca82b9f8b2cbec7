/* CPU reference of the indexer scores (kernels/ic_indexer_scores.h).
 * Per head j, the dot products qI[t,j].kI[s] of a row block are one GEMM
 * (rows x d_I) . (d_I x t1) on OpenBLAS into a [rows, t1] scratch; the ReLU,
 * the w weighting and the causal mask are then applied by a plain loop.
 * That pass is 1/d_I of the GEMM work, and keeping it out of OpenMP matters:
 * OpenBLAS's pthread pool and the OpenMP pool spin-wait against each other
 * when they alternate once per head, which measured 3-10x slower on 2 cores
 * than leaving all threading to the GEMMs. Heads are visited in ascending
 * order, so results do not depend on the thread count beyond the GEMM's. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>

#include "ic_alloc.h"
#include "ic_check.h"
#include "kernels/ic_indexer_scores.h"

static void check_args(int ld, const float *qI, const float *kI, const float *w,
                       int L, int H_I, int d_I, int t0, int t1) {
    IC_ASSERT(qI != NULL && kI != NULL && w != NULL);
    IC_ASSERT(L > 0 && H_I > 0 && d_I > 0);
    IC_ASSERT(0 <= t0 && t0 <= t1 && t1 <= L && ld >= t1);
}

/* A[r, s] = qI[t0 + r, j] . kI[s] for s < t1 (row stride t1). */
static void head_dots(float *A, const float *qI, const float *kI, int H_I, int d_I,
                      int t0, int t1, int j) {
    const int rows = t1 - t0;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, t1, d_I, 1.0f,
                qI + ((size_t)t0 * H_I + j) * d_I, H_I * d_I, kI, d_I, 0.0f, A, t1);
}

void ic_indexer_scores_forward(float *out, int ld, const float *qI, const float *kI,
                               const float *w, int L, int H_I, int d_I, int t0, int t1) {
    check_args(ld, qI, kI, w, L, H_I, d_I, t0, t1);
    IC_ASSERT(out != NULL);
    const int rows = t1 - t0;
    if (rows == 0) return;
    float *A = ic_aligned_alloc(sizeof(float) * (size_t)rows * t1);
    IC_ASSERT(A != NULL);
    for (int r = 0; r < rows; r++) {
        float *Ir = out + (size_t)r * ld;
        const int t = t0 + r;
        for (int s = 0; s <= t; s++) Ir[s] = 0.0f;
        for (int s = t + 1; s < ld; s++) Ir[s] = -INFINITY;
    }
    for (int j = 0; j < H_I; j++) {
        head_dots(A, qI, kI, H_I, d_I, t0, t1, j);
        for (int r = 0; r < rows; r++) {
            const int t = t0 + r;
            const float wj = w[(size_t)t * H_I + j];
            const float *Ar = A + (size_t)r * t1;
            float *Ir = out + (size_t)r * ld;
            for (int s = 0; s <= t; s++) Ir[s] += wj * fmaxf(Ar[s], 0.0f);
        }
    }
    ic_aligned_free(A);
}

void ic_indexer_scores_backward(float *dqI, float *dkI, float *dw, const float *dI, int ld,
                                const float *qI, const float *kI, const float *w,
                                int L, int H_I, int d_I, int t0, int t1) {
    check_args(ld, qI, kI, w, L, H_I, d_I, t0, t1);
    IC_ASSERT(dI != NULL);
    const int rows = t1 - t0;
    if (rows == 0 || (!dqI && !dkI && !dw)) return;
    float *A = ic_aligned_alloc(sizeof(float) * (size_t)rows * t1);
    IC_ASSERT(A != NULL);
    for (int j = 0; j < H_I; j++) {
        head_dots(A, qI, kI, H_I, d_I, t0, t1, j);
        /* Turn A into da in place: da = g * w * [a > 0], zero above the diagonal. */
        for (int r = 0; r < rows; r++) {
            const int t = t0 + r;
            const float wj = w[(size_t)t * H_I + j];
            const float *gr = dI + (size_t)r * ld;
            float *Ar = A + (size_t)r * t1;
            double sw = 0.0;
            for (int s = 0; s <= t; s++) {
                const float a = Ar[s];
                if (a > 0.0f) {
                    sw += (double)gr[s] * a;
                    Ar[s] = gr[s] * wj;
                } else {
                    Ar[s] = 0.0f;
                }
            }
            for (int s = t + 1; s < t1; s++) Ar[s] = 0.0f;
            if (dw) dw[(size_t)t * H_I + j] += (float)sw;
        }
        if (dqI)  /* dqI[t, j] += sum_s da[t, s] kI[s] */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, d_I, t1, 1.0f,
                        A, t1, kI, d_I, 1.0f, dqI + ((size_t)t0 * H_I + j) * d_I, H_I * d_I);
        if (dkI)  /* dkI[s] += sum_t da[t, s] qI[t, j] */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, t1, d_I, rows, 1.0f,
                        A, t1, qI + ((size_t)t0 * H_I + j) * d_I, H_I * d_I, 1.0f, dkI, d_I);
    }
    ic_aligned_free(A);
}

int ic_indexer_scores_block_rows(int L) {
    IC_ASSERT(L > 0);
    long rows = (8L << 20) / ((long)sizeof(float) * L);
    if (rows < 16) rows = 16;
    if (rows > L) rows = L;
    return (int)rows;
}

int ic_indexer_scores_foreach(const float *qI, const float *kI, const float *w,
                              int L, int H_I, int d_I, int block_rows,
                              ic_indexer_scores_block_fn fn, void *ctx) {
    IC_ASSERT(fn != NULL && L > 0 && block_rows > 0);
    const int br = block_rows < L ? block_rows : L;
    float *blk = ic_aligned_alloc(sizeof(float) * (size_t)br * L);
    if (!blk) return -1;
    for (int t0 = 0; t0 < L; t0 += br) {
        const int t1 = t0 + br < L ? t0 + br : L;
        ic_indexer_scores_forward(blk, t1, qI, kI, w, L, H_I, d_I, t0, t1);
        fn(ctx, blk, t1, t0, t1);
    }
    ic_aligned_free(blk);
    return 0;
}
