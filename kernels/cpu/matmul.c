/* CPU reference of the linear layer (kernels/ic_matmul.h) on OpenBLAS. */
#include <cblas.h>
#include <stddef.h>

#include "ic_check.h"
#include "kernels/ic_matmul.h"

void ic_matmul_forward(float *out, const float *x, const float *w, const float *bias,
                       int M, int N, int K) {
    IC_ASSERT(out && x && w && M >= 0 && N > 0 && K > 0);
    if (M == 0) return;
    float beta = 0.0f;
    if (bias) {
        /* seed every row with the bias and let the GEMM accumulate onto it */
        #pragma omp parallel for schedule(static)
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) out[(size_t)i * N + j] = bias[j];
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K,
                1.0f, x, K, w, K, beta, out, N);
}

void ic_matmul_backward(float *dx, float *dw, float *dbias, const float *dout,
                        const float *x, const float *w, int M, int N, int K) {
    IC_ASSERT(dout && M >= 0 && N > 0 && K > 0);
    if (M == 0) return;
    if (dx) {
        IC_ASSERT(w != NULL);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, K, N,
                    1.0f, dout, N, w, K, 1.0f, dx, K);
    }
    if (dw) {
        IC_ASSERT(x != NULL);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, K, M,
                    1.0f, dout, N, x, K, 1.0f, dw, K);
    }
    if (dbias) {
        #pragma omp parallel for schedule(static)
        for (int j = 0; j < N; j++) {
            double s = 0.0;  /* long M: keep the column sum accurate */
            for (int i = 0; i < M; i++) s += dout[(size_t)i * N + j];
            dbias[j] += (float)s;
        }
    }
}
