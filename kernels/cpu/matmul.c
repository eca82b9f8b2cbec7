/* CPU reference of the linear layer (kernels/ic_matmul.h) on OpenBLAS, and
 * the threaded GEMM every CPU op uses (ic_cpu_blas.h). */
#include <omp.h>
#include <stddef.h>
#include <strings.h>

#include "ic_check.h"
#include "kernels/cpu/ic_cpu_blas.h"
#include "kernels/ic_elementwise.h"
#include "kernels/ic_matmul.h"

int ic_cpu_blas_set_threads(int n) {
    int prev = openblas_get_num_threads();
    int omp = omp_get_max_threads();
    openblas_set_num_threads(n);
    omp_set_num_threads(omp);
    return prev;
}

const char *ic_cpu_blas_core(void) { return openblas_get_corename(); }

const char *ic_cpu_blas_core_fix(void) {
    const char *core = openblas_get_corename();
    /* the generic x86-64 fall-backs of a DYNAMIC_ARCH build */
    if (!core || (strcasecmp(core, "Prescott") && strcasecmp(core, "Core2") &&
                  strcasecmp(core, "Katmai") && strcasecmp(core, "Northwood")))
        return NULL;
#if defined(__x86_64__) && defined(__GNUC__)
    /* libgcc's checks include the OS's XSAVE state for AVX and AVX-512 */
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
    return NULL;
}

void ic_cpu_blas_init(void) {
    static int done = 0;
    if (!done) {
        ic_cpu_blas_set_threads(1);
        done = 1;
    }
}

void ic_cpu_sgemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha,
                  const float *A, int lda, const float *B, int ldb, float beta,
                  float *C, int ldc) {
    ic_cpu_blas_init();
    if (M <= IC_CPU_GEMV_MAX_M && K > 0) {   /* decode: stream B once, no packing */
        ic_cpu_sgemv_small_m(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    const int nt = omp_in_parallel() ? 1 : omp_get_max_threads();
    if (nt <= 1 || (long)M * N * K < (1L << 20)) {   /* small: a fork/join costs more than it saves */
        cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    const int by_rows = M >= 8 * nt;   /* else split the columns (few rows) */
    #pragma omp parallel num_threads(nt)
    {
        int id = omp_get_thread_num(), n = omp_get_num_threads();
        int total = by_rows ? M : N;
        int lo = (int)((long)total * id / n), hi = (int)((long)total * (id + 1) / n);
        if (hi > lo) {
            if (by_rows) {
                const float *a = ta == CblasNoTrans ? A + (size_t)lo * lda : A + lo;
                cblas_sgemm(CblasRowMajor, ta, tb, hi - lo, N, K, alpha, a, lda, B, ldb, beta,
                            C + (size_t)lo * ldc, ldc);
            } else {
                const float *b = tb == CblasNoTrans ? B + lo : B + (size_t)lo * ldb;
                cblas_sgemm(CblasRowMajor, ta, tb, M, hi - lo, K, alpha, A, lda, b, ldb, beta,
                            C + lo, ldc);
            }
        }
    }
}

void ic_matmul_forward_cpu(ic_ctx *ctx, float *out, const float *x, const float *w, const float *bias,
                           int M, int N, int K) {
    if (M == 0) return;
    float beta = 0.0f;
    if (bias) {
        /* seed every row with the bias and let the GEMM accumulate onto it */
        #pragma omp parallel for schedule(static) if ((long)M * N > 4096)
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) out[(size_t)i * N + j] = bias[j];
        beta = 1.0f;
    }
    ic_cpu_sgemm(CblasNoTrans, CblasTrans, M, N, K, 1.0f, x, K, w, K, beta, out, N);
}

/* A GEMM with beta = 1 would round differently (OpenBLAS adds each K panel
 * into C in turn), so the reference computes the product into scratch and
 * adds it once, as a forward followed by the residual add always did. */
void ic_matmul_forward_accumulate_cpu(ic_ctx *ctx, float *out, const float *x, const float *w,
                                      const float *bias, int M, int N, int K) {
    if (M == 0) return;
    const size_t n = (size_t)M * N, mark = ic_ws_mark(ctx);
    float *tmp = ic_ws_alloc(ctx, sizeof(float) * n, "ic_matmul_forward_accumulate");
    ic_matmul_forward_cpu(ctx, tmp, x, w, bias, M, N, K);
    ic_add_inplace_cpu(ctx, out, tmp, n);
    ic_ws_release(ctx, mark);
}

void ic_matmul_backward_cpu(ic_ctx *ctx, float *dx, float *dw, float *dbias, const float *dout,
                            const float *x, const float *w, int M, int N, int K) {
    if (M == 0) return;
    if (dx) {
        IC_ASSERT(w != NULL);
        ic_cpu_sgemm(CblasNoTrans, CblasNoTrans, M, K, N, 1.0f, dout, N, w, K, 1.0f, dx, K);
    }
    if (dw) {
        IC_ASSERT(x != NULL);
        ic_cpu_sgemm(CblasTrans, CblasNoTrans, N, K, M, 1.0f, dout, N, x, K, 1.0f, dw, K);
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
