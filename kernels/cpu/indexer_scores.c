/* CPU reference of the indexer scores (kernels/ic_indexer_scores.h).
 * A row block is cut into tiles of SC_ROWS query rows x SC_KEYS keys. Since
 * qI is [L, H_I, d_I], the rows of all heads of a tile's queries are one
 * contiguous [SC_ROWS * H_I, d_I] matrix, so a single GEMM against the key
 * tile gives every head's dot products (a [SC_ROWS * H_I, SC_KEYS] scratch
 * that stays in L2); the ReLU, the w weighting and the causal mask are then
 * a branch-free pass that -O2 vectorises (omp simd). Row tiles are spread
 * over OpenMP threads, each running single-threaded GEMMs (the OpenMP
 * OpenBLAS build runs a GEMM called inside a parallel region on the calling
 * thread, so the two never fight for the cores).
 *
 * Determinism: every output of the forward and dqI/dw of the backward is
 * computed by one thread in a fixed order (heads ascending, key tiles
 * ascending). dkI gets contributions from every row tile; each tile's part
 * is added in ascending tile order (an ordered section), so results are
 * bitwise the same for any thread count. */
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <omp.h>
#include <string.h>

#include "ic_check.h"
#include "kernels/cpu/ic_cpu_indexer_scores.h"
#include "kernels/cpu/ic_cpu_threads.h"
#include "kernels/ic_indexer_scores.h"

#define SC_ROWS 32    /* query rows per tile: [32 * H_I, 256] floats = 512 KiB at H_I = 16 */
#define SC_KEYS 256   /* keys per tile */

/* Exact in fp32 (x + |x| is 2x or 0 and halving is exact), and branch-free
 * so the loops below vectorise without if-conversion. */
static inline float relu_f(float x) { return 0.5f * (x + fabsf(x)); }

/* A[r * H_I + j, c] = qI[r0 + r, j] . kI[s0 + c], rows r < nr, c < nb. */
static void tile_dots(float *A, const float *qI, const float *kI, int H_I, int d_I,
                      int r0, int nr, int s0, int nb) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nr * H_I, nb, d_I, 1.0f,
                qI + (size_t)r0 * H_I * d_I, d_I, kI + (size_t)s0 * d_I, d_I, 0.0f, A, SC_KEYS);
}

/* Parallelise only when there are several row tiles and enough work to pay
 * for a fork/join (never for one decode row). */
static int worth_threads(int rows, int t1, int H_I, int d_I) {
    return rows > SC_ROWS && (long)rows * t1 * H_I * d_I >= (1L << 21);
}

size_t ic_cpu_isc_fwd_slice(int H_I) {
    return ic_ws_round(sizeof(float) * (size_t)SC_ROWS * H_I * SC_KEYS);
}

size_t ic_cpu_isc_bwd_slice(int H_I, int d_I, int t1) {
    return ic_ws_round(sizeof(float) * (size_t)SC_ROWS * H_I * SC_KEYS)
         + ic_ws_round(sizeof(double) * (size_t)SC_ROWS * H_I)
         + ic_ws_round(sizeof(float) * (size_t)t1 * d_I);
}

void ic_cpu_isc_forward(float *out, int ld, const float *qI, const float *kI, const float *w,
                        int L, int H_I, int d_I, int t0, int t1, int nslices, char *scratch) {
    const int rows = t1 - t0;
    if (rows == 0) return;
    const int ntiles = (rows + SC_ROWS - 1) / SC_ROWS;
    const size_t slice = ic_cpu_isc_fwd_slice(H_I);
    #pragma omp parallel num_threads(nslices) if (worth_threads(rows, t1, H_I, d_I))
    {
        float *A = (float *)(scratch + (size_t)omp_get_thread_num() * slice);
        /* Largest (latest) row tiles first: the causal triangle balances. */
        #pragma omp for schedule(dynamic, 1)
        for (int i = ntiles - 1; i >= 0; i--) {
            const int r0 = t0 + i * SC_ROWS;
            const int nr = t1 - r0 < SC_ROWS ? t1 - r0 : SC_ROWS;
            for (int r = 0; r < nr; r++) {
                float *Ir = out + (size_t)(r0 - t0 + r) * ld;
                for (int s = r0 + r + 1; s < ld; s++) Ir[s] = -INFINITY;
            }
            const int s_end = r0 + nr;   /* keys 0 .. the last row's t */
            for (int s0 = 0; s0 < s_end; s0 += SC_KEYS) {
                const int nb = s_end - s0 < SC_KEYS ? s_end - s0 : SC_KEYS;
                tile_dots(A, qI, kI, H_I, d_I, r0, nr, s0, nb);
                for (int r = 0; r < nr; r++) {
                    const int t = r0 + r;
                    const int n = t - s0 + 1 < nb ? t - s0 + 1 : nb;
                    if (n <= 0) continue;
                    float *restrict Ir = out + (size_t)(t - t0) * ld + s0;
                    const float *wt = w + (size_t)t * H_I;
                    for (int j = 0; j < H_I; j++) {
                        const float *restrict a = A + ((size_t)r * H_I + j) * SC_KEYS;
                        const float wj = wt[j];
                        if (j == 0) {
                            #pragma omp simd
                            for (int c = 0; c < n; c++) Ir[c] = wj * relu_f(a[c]);
                        } else {
                            #pragma omp simd
                            for (int c = 0; c < n; c++) Ir[c] += wj * relu_f(a[c]);
                        }
                    }
                }
            }
        }
    }
}

void ic_indexer_scores_forward_cpu(ic_ctx *ctx, float *out, int ld, const float *qI,
                                   const float *kI, const float *w, int L, int H_I, int d_I,
                                   int t0, int t1) {
    if (t1 == t0) return;
    const int nt = ic_cpu_threads(ctx);
    const size_t mark = ic_ws_mark(ctx);
    char *scratch = ic_ws_alloc(ctx, (size_t)nt * ic_cpu_isc_fwd_slice(H_I), "indexer scores");
    ic_cpu_isc_forward(out, ld, qI, kI, w, L, H_I, d_I, t0, t1, nt, scratch);
    ic_ws_release(ctx, mark);
}

/* Turns the tile's pre-activations into da = g * w * [a > 0] (zero past each
 * row's diagonal and in unused columns) and accumulates the dw sums
 * sum_s g * ReLU(a): ReLU in place, one GEMV per row for all heads, then da
 * ([ReLU(a) > 0] == [a > 0]). */
static void tile_da(float *A, double *dw_acc, const float *dI, int ld, const float *w,
                    int H_I, int t0, int r0, int nr, int s0, int nb) {
    float sw[H_I];
    for (int r = 0; r < nr; r++) {
        const int t = r0 + r;
        int n = t - s0 + 1 < nb ? t - s0 + 1 : nb;
        if (n < 0) n = 0;
        const float *restrict g = dI + (size_t)(t - t0) * ld + s0;
        float *Ar = A + (size_t)r * H_I * SC_KEYS;
        if (n > 0) {
            for (int j = 0; j < H_I; j++) {
                float *restrict a = Ar + (size_t)j * SC_KEYS;
                #pragma omp simd
                for (int c = 0; c < n; c++) a[c] = relu_f(a[c]);
            }
            cblas_sgemv(CblasRowMajor, CblasNoTrans, H_I, n, 1.0f, Ar, SC_KEYS, g, 1, 0.0f, sw, 1);
            for (int j = 0; j < H_I; j++) dw_acc[(size_t)r * H_I + j] += sw[j];
        }
        for (int j = 0; j < H_I; j++) {
            float *restrict a = Ar + (size_t)j * SC_KEYS;
            const float wj = w[(size_t)t * H_I + j];
            #pragma omp simd
            for (int c = 0; c < n; c++) {
                /* da where a > 0, else +0: a bit mask rather than a select,
                 * which gcc -O2 will not if-convert (it may trap on NaN) */
                const float da = g[c] * wj;
                uint32_t bits;
                memcpy(&bits, &da, sizeof bits);
                bits &= 0u - (uint32_t)(a[c] > 0.0f);
                memcpy(&a[c], &bits, sizeof bits);
            }
            for (int c = n; c < nb; c++) a[c] = 0.0f;
        }
    }
}

void ic_cpu_isc_backward(float *dqI, float *dkI, float *dw, const float *dI, int ld,
                         const float *qI, const float *kI, const float *w,
                         int L, int H_I, int d_I, int t0, int t1, int nslices, char *scratch) {
    const int rows = t1 - t0;
    if (rows == 0 || (!dqI && !dkI && !dw)) return;
    const int ntiles = (rows + SC_ROWS - 1) / SC_ROWS;
    const size_t slice = ic_cpu_isc_bwd_slice(H_I, d_I, t1);
    const size_t a_bytes = ic_ws_round(sizeof(float) * (size_t)SC_ROWS * H_I * SC_KEYS);
    const size_t acc_bytes = ic_ws_round(sizeof(double) * (size_t)SC_ROWS * H_I);
    #pragma omp parallel num_threads(nslices) if (worth_threads(rows, t1, H_I, d_I))
    {
        char *mine = scratch + (size_t)omp_get_thread_num() * slice;
        float *A = (float *)mine;
        double *dw_acc = (double *)(mine + a_bytes);
        float *dk_part = dkI ? (float *)(mine + a_bytes + acc_bytes) : NULL;
        #pragma omp for ordered schedule(static, 1)
        for (int i = 0; i < ntiles; i++) {
            const int r0 = t0 + i * SC_ROWS;
            const int nr = t1 - r0 < SC_ROWS ? t1 - r0 : SC_ROWS;
            const int s_end = r0 + nr;
            for (int m = 0; m < nr * H_I; m++) dw_acc[m] = 0.0;
            for (int s0 = 0; s0 < s_end; s0 += SC_KEYS) {
                const int nb = s_end - s0 < SC_KEYS ? s_end - s0 : SC_KEYS;
                tile_dots(A, qI, kI, H_I, d_I, r0, nr, s0, nb);
                tile_da(A, dw_acc, dI, ld, w, H_I, t0, r0, nr, s0, nb);
                if (dqI)  /* dqI[t, j] += sum_s da[t, j, s] kI[s], all heads in one GEMM */
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nr * H_I, d_I, nb, 1.0f,
                                A, SC_KEYS, kI + (size_t)s0 * d_I, d_I, 1.0f,
                                dqI + (size_t)r0 * H_I * d_I, d_I);
                if (dkI)  /* this tile's part of dkI[s] = sum_{t, j} da[t, j, s] qI[t, j] */
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nb, d_I, nr * H_I, 1.0f,
                                A, SC_KEYS, qI + (size_t)r0 * H_I * d_I, d_I, 0.0f,
                                dk_part + (size_t)s0 * d_I, d_I);
            }
            if (dw)
                for (int m = 0; m < nr * H_I; m++) dw[(size_t)r0 * H_I + m] += (float)dw_acc[m];
            #pragma omp ordered
            if (dkI) {
                const size_t n = (size_t)s_end * d_I;
                for (size_t e = 0; e < n; e++) dkI[e] += dk_part[e];
            }
        }
    }
}

void ic_indexer_scores_backward_cpu(ic_ctx *ctx, float *dqI, float *dkI, float *dw,
                                    const float *dI, int ld, const float *qI, const float *kI,
                                    const float *w, int L, int H_I, int d_I, int t0, int t1) {
    if (t1 == t0 || (!dqI && !dkI && !dw)) return;
    const int nt = ic_cpu_threads(ctx);
    const size_t mark = ic_ws_mark(ctx);
    char *scratch = ic_ws_alloc(ctx, (size_t)nt * ic_cpu_isc_bwd_slice(H_I, d_I, t1),
                                "indexer scores backward");
    ic_cpu_isc_backward(dqI, dkI, dw, dI, ld, qI, kI, w, L, H_I, d_I, t0, t1, nt, scratch);
    ic_ws_release(ctx, mark);
}

size_t ic_indexer_scores_workspace_bytes_cpu(const ic_ctx *ctx, int L, int H_I, int d_I) {
    size_t f = ic_cpu_isc_fwd_slice(H_I), b = ic_cpu_isc_bwd_slice(H_I, d_I, L);
    return (size_t)ic_cpu_threads(ctx) * (f > b ? f : b);
}
size_t ic_indexer_scores_foreach_workspace_bytes_cpu(const ic_ctx *ctx, int L, int H_I,
                                                     int d_I, int block_rows) {
    const int br = block_rows < L ? block_rows : L;
    return ic_ws_round(sizeof(float) * (size_t)br * L)
         + (size_t)ic_cpu_threads(ctx) * ic_cpu_isc_fwd_slice(H_I);
}
