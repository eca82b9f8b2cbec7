/* The few-row path of the CPU GEMM (kernels/cpu/gemv.c, reached through
 * ic_cpu_sgemm and the matmul op with M <= IC_CPU_GEMV_MAX_M) against a
 * double-precision oracle at ragged shapes: forward with and without bias,
 * the accumulating forward, every transpose combination ic_cpu_sgemm is
 * called with, padded leading dimensions, alpha/beta, a NaN-poisoned C with
 * beta = 0; and the same bits for 1, 2 and 3 OpenMP threads (the shares
 * start on fixed column multiples). M above IC_CPU_GEMV_MAX_M takes the GEMM
 * path in ic_cpu_sgemm and must agree with the oracle just the same; the
 * GEMV path (blocked for M > 1) is also called directly at every M. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/ic_cpu_blas.h"
#include "kernels/ic_matmul.h"
#include "testutil.h"

/* N x K shapes: tiny, ragged around the 64-column share unit and the
 * vector widths, and large enough (N*K >= 2^16) to split over threads. */
static const int shapes[][2] = {
    {1, 1}, {7, 13}, {63, 5}, {65, 129}, {200, 77}, {130, 600}, {1000, 333}, {577, 1531},
};
enum { N_SHAPES = sizeof shapes / sizeof shapes[0], MAX_M = 5 };
static const int threads[3] = {1, 2, 3};

static float *rand_buf(ic_rng *r, size_t n) {
    float *x = malloc(n * sizeof(float));
    ck_assert(x != NULL);
    ic_fill_normal(r, x, n, 1.0f);
    return x;
}

/* |got - ref| per element within a bound from the magnitudes summed
 * (sum |terms|, a float dot of K terms errs by at most ~K eps of it), and
 * the norm-wise relative error small. */
static void check_close(const float *got, const double *ref, const double *mag, size_t n,
                        int K, const char *what, int M, int N) {
    double num = 0, den = 0;
    size_t bad = 0, first = 0;   /* check's asserts are slow: count, assert once */
    for (size_t i = 0; i < n; i++) {
        const double e = fabs((double)got[i] - ref[i]);
        if (!(e <= (K + 4) * 1.2e-7 * mag[i] + 1e-30) && bad++ == 0) first = i;
        num += e * e;
        den += ref[i] * ref[i];
    }
    ck_assert_msg(bad == 0, "%s M=%d N=%d K=%d: %zu bad, first [%zu]: %.9g vs %.9g", what, M, N, K,
                  bad, first, (double)got[first], ref[first]);
    ck_assert_msg(den == 0 || sqrt(num / den) < 1e-5, "%s M=%d N=%d K=%d: rel err %.3g", what, M, N,
                  K, sqrt(num / den));
}

/* out[m, n] = base[m, n] + bias[n] + sum_k x[m, k] w[n, k], in double */
static void oracle(double *ref, double *mag, const float *base, const float *x, const float *w,
                   const float *bias, int M, int N, int K) {
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            double s = 0, a = 0;
            for (int k = 0; k < K; k++) {
                const double t = (double)x[(size_t)m * K + k] * w[(size_t)n * K + k];
                s += t;
                a += fabs(t);
            }
            const double b0 = (base ? base[(size_t)m * N + n] : 0.0) + (bias ? bias[n] : 0.0);
            ref[(size_t)m * N + n] = s + b0;
            mag[(size_t)m * N + n] = a + fabs(b0);
        }
}

/* The matmul op (plain, bias, accumulate) at every shape and M, for each
 * thread count; all thread counts must give the first one's bits. */
START_TEST(test_gemv_matmul_op) {
    ic_rng r;
    ic_rng_seed(&r, 1234);
    const int saved = omp_get_max_threads();
    for (int si = 0; si < N_SHAPES; si++) {
        const int N = shapes[si][0], K = shapes[si][1];
        float *w = rand_buf(&r, (size_t)N * K), *bias = rand_buf(&r, (size_t)N);
        for (int M = 1; M <= MAX_M; M++) {
            float *x = rand_buf(&r, (size_t)M * K), *base = rand_buf(&r, (size_t)M * N);
            double *ref = malloc(sizeof(double) * M * N), *mag = malloc(sizeof(double) * M * N);
            float *out = malloc(sizeof(float) * M * N), *first[3] = {0};
            ck_assert(ref && mag && out);
            for (int variant = 0; variant < 3; variant++) {   /* plain, bias, accumulate+bias */
                const float *bb = variant ? bias : NULL;
                oracle(ref, mag, variant == 2 ? base : NULL, x, w, bb, M, N, K);
                for (int ti = 0; ti < 3; ti++) {
                    omp_set_num_threads(threads[ti]);
                    ic_ctx *ctx = ic_test_ctx(ic_matmul_accumulate_workspace_bytes(ic_test_ctx(0), M, N));
                    if (variant == 2) {
                        memcpy(out, base, sizeof(float) * M * N);
                        ic_matmul_forward_accumulate(ctx, out, x, w, bb, M, N, K);
                    } else {
                        for (int i = 0; i < M * N; i++) out[i] = NAN;   /* must be overwritten */
                        ic_matmul_forward(ctx, out, x, w, bb, M, N, K);
                    }
                    check_close(out, ref, mag, (size_t)M * N, K,
                                variant == 0 ? "forward" : variant == 1 ? "forward+bias" : "accumulate",
                                M, N);
                    if (ti == 0) {
                        first[variant] = malloc(sizeof(float) * M * N);
                        memcpy(first[variant], out, sizeof(float) * M * N);
                    } else if (M <= IC_CPU_GEMV_MAX_M) {
                        ck_assert_msg(memcmp(out, first[variant], sizeof(float) * M * N) == 0,
                                      "variant %d M=%d N=%d K=%d: %d threads differ from 1", variant,
                                      M, N, K, threads[ti]);
                    }
                }
            }
            for (int v = 0; v < 3; v++) free(first[v]);
            free(x); free(base); free(ref); free(mag); free(out);
        }
        free(w);
        free(bias);
    }
    omp_set_num_threads(saved);
}
END_TEST

/* ic_cpu_sgemm itself with every (ta, tb), padded lda/ldb/ldc, alpha and
 * beta, as the backward pass and other callers use it. Padding of C must
 * stay untouched. */
START_TEST(test_gemv_sgemm_transposes) {
    ic_rng r;
    ic_rng_seed(&r, 99);
    const int saved = omp_get_max_threads();
    const int dims[][2] = {{65, 129}, {300, 257}, {1000, 333}};
    for (int di = 0; di < 3; di++) {
        const int N = dims[di][0], K = dims[di][1];
        for (int M = 1; M <= MAX_M; M++)
            for (int ta = 0; ta < 2; ta++)
                for (int tb = 0; tb < 2; tb++) {
                    /* op(A) [M, K]: A is [M, lda] or [K, lda]; op(B) [K, N]: B is [N, ldb] or [K, ldb] */
                    const int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 5, ldc = N + 2;
                    const int arows = ta ? K : M, brows = tb ? N : K;
                    float *A = rand_buf(&r, (size_t)arows * lda), *B = rand_buf(&r, (size_t)brows * ldb);
                    float *C0 = rand_buf(&r, (size_t)M * ldc), *C = malloc(sizeof(float) * M * ldc);
                    float *Cfirst = malloc(sizeof(float) * M * ldc);
                    double *ref = malloc(sizeof(double) * M * N), *mag = malloc(sizeof(double) * M * N);
                    float *got = malloc(sizeof(float) * M * N);
                    const float alpha = 0.75f;
                    for (int api = 0; api < 2; api++)
                    for (int bi = 0; bi < 2; bi++) {
                        const float beta = bi ? -0.5f : 0.0f;
                        for (int m = 0; m < M; m++)
                            for (int n = 0; n < N; n++) {
                                double s = 0, a = 0;
                                for (int k = 0; k < K; k++) {
                                    const double av = ta ? A[(size_t)k * lda + m] : A[(size_t)m * lda + k];
                                    const double bv = tb ? B[(size_t)n * ldb + k] : B[(size_t)k * ldb + n];
                                    s += av * bv;
                                    a += fabs(av * bv);
                                }
                                const double c = beta * (double)C0[(size_t)m * ldc + n];
                                ref[(size_t)m * N + n] = alpha * s + c;
                                mag[(size_t)m * N + n] = alpha * a + fabs(c);
                            }
                        for (int ti = 0; ti < 3; ti++) {
                            omp_set_num_threads(threads[ti]);
                            memcpy(C, C0, sizeof(float) * M * ldc);
                            if (beta == 0.0f)   /* beta = 0: C is never read */
                                for (int m = 0; m < M; m++)
                                    for (int n = 0; n < N; n++) C[(size_t)m * ldc + n] = NAN;
                            /* the GEMV path is public for any M: take it directly too */
                            (api ? ic_cpu_sgemv_small_m : ic_cpu_sgemm)(
                                ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                                M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
                            int pad_ok = 1;
                            for (int m = 0; m < M; m++) {
                                memcpy(got + (size_t)m * N, C + (size_t)m * ldc, sizeof(float) * N);
                                pad_ok &= memcmp(C + (size_t)m * ldc + N, C0 + (size_t)m * ldc + N,
                                                 sizeof(float) * (ldc - N)) == 0;
                            }
                            ck_assert_msg(pad_ok, "padding of C written");
                            check_close(got, ref, mag, (size_t)M * N, K, ta ? (tb ? "TT" : "TN") : (tb ? "NT" : "NN"),
                                        M, N);
                            if (ti == 0) memcpy(Cfirst, C, sizeof(float) * M * ldc);
                            else if (api || M <= IC_CPU_GEMV_MAX_M)
                                ck_assert_msg(memcmp(C, Cfirst, sizeof(float) * M * ldc) == 0,
                                              "api %d ta=%d tb=%d M=%d N=%d: %d threads differ", api,
                                              ta, tb, M, N, threads[ti]);
                        }
                    }
                    free(A); free(B); free(C0); free(C); free(Cfirst); free(ref); free(mag); free(got);
                }
    }
    omp_set_num_threads(saved);
}
END_TEST

int main(void) {
    Suite *s = suite_create("cpu_gemv");
    TCase *tc = tcase_create("cpu_gemv");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_gemv_matmul_op);
    tcase_add_test(tc, test_gemv_sgemm_transposes);
    suite_add_tcase(s, tc);
    return ic_test_run_suite(s);
}
