/* kernels/cpu/ic_cpu_vexp.h against double exp: the relative-error bound
 * its comment states, over a dense sweep of the range the softmax loops
 * feed it (s - max, from 0 down to where exp underflows) and the rest of
 * the float range, the special values, and the vectorised loop (omp simd)
 * giving the same bits as the scalar call. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/ic_cpu_vexp.h"
#include "testutil.h"

#define VEXP_REL_BOUND 1.2e-7    /* the header's stated bound (2 ulp) */
#define VEXP_SUB_ABS   0x1p-148  /* absolute bound where exp(x) < FLT_MIN */

/* One point's verdict: 0 when within the bounds, else 1 (check's asserts
 * write to a pipe each, too slow for millions of points: count, then
 * assert once with the first bad point). */
static int vexp_bad(float x, float y, double *worst) {
    const double ref = exp((double)x);
    if (ref > FLT_MAX) return !(isinf(y) && y > 0) && !(y == FLT_MAX);
    if (ref < FLT_MIN) return !(y >= 0.0f && fabs((double)y - ref) <= VEXP_SUB_ABS);
    const double rel = fabs((double)y - ref) / ref;
    if (rel > *worst) *worst = rel;
    return !(rel <= VEXP_REL_BOUND);
}

/* Check n inputs through the vector loop (the way the ops call it). */
static double check_points(const float *x, size_t n) {
    float *y = malloc(n * sizeof(float));
    ck_assert(y != NULL);
    memcpy(y, x, n * sizeof(float));
    (void)ic_vexp_shift_sum(y, (int)n, 0.0f);
    double worst = 0.0;
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < n; i++)
        if (vexp_bad(x[i], y[i], &worst) && bad++ == 0) first = i;
    ck_assert_msg(bad == 0, "%zu bad points, first exp(%a) = %a vs %a", bad, (double)x[first],
                  (double)y[first], exp((double)x[first]));
    free(y);
    return worst;
}

/* [lo, hi] in steps of h. */
static double sweep(double lo, double hi, double h) {
    const size_t n = (size_t)((hi - lo) / h) + 1;
    float *x = malloc(n * sizeof(float));
    ck_assert(x != NULL);
    for (size_t i = 0; i < n; i++) x[i] = (float)(lo + h * (double)i);
    double w = check_points(x, n);
    free(x);
    return w;
}

START_TEST(test_vexp_softmax_range) {
    /* softmax's arguments: 0 down to past the underflow, 2^-14 apart
     * (1.7 M points), then the positive side (sigmoid's exp(-a)). */
    double w1 = sweep(-104.0, 0.0, 0x1p-14);
    double w2 = sweep(0.0, 88.72, 0x1p-14);
    fprintf(stderr, "ic_vexpf max rel err: %.3g on [-87.3, 0], %.3g on [0, 88.72]\n", w1, w2);
    ck_assert(w1 > 0.0 && w2 > 0.0);   /* the sweep did compare something */
}
END_TEST

/* Every float of the binades next to 0 that softmax's largest terms use:
 * [-2, -1/2) and [1/2, 2) (4 x 2^23 floats). */
START_TEST(test_vexp_every_float_near_one) {
    const size_t per = (size_t)1 << 23, n = 4 * per;
    float *x = malloc(n * sizeof(float));
    ck_assert(x != NULL);
    const float starts[4] = {-2.0f, -1.0f, 0.5f, 1.0f};
    for (int b = 0; b < 4; b++) {
        uint32_t u = ic_vexp_float_to_bits(starts[b]);
        for (size_t i = 0; i < per; i++)   /* negative floats grow toward -0 by decrementing */
            x[b * per + i] = ic_vexp_bits_to_float(starts[b] < 0 ? u - (uint32_t)i : u + (uint32_t)i);
    }
    double w = check_points(x, n);
    fprintf(stderr, "ic_vexpf max rel err: %.3g on every float of +-[1/2, 2)\n", w);
    free(x);
}
END_TEST

/* Random floats over the whole range, including the clamps' neighbours. */
START_TEST(test_vexp_random_and_edges) {
    ic_rng r;
    ic_rng_seed(&r, 77);
    enum { N = 1 << 20 };
    float *x = malloc(2 * N * sizeof(float));
    ck_assert(x != NULL);
    for (int i = 0; i < N; i++) x[i] = (float)(-110.0 + 200.0 * ic_rng_uniform(&r));
    for (int i = 0; i < N; i++)   /* log-uniform magnitudes 2^-60 .. 2^6, both signs */
        x[N + i] = (float)((i & 1 ? -1.0 : 1.0) * exp2(-60.0 + 66.0 * ic_rng_uniform(&r)));
    (void)check_points(x, 2 * N);
    free(x);
    ck_assert(ic_vexpf(0.0f) == 1.0f);
    ck_assert(ic_vexpf(-0.0f) == 1.0f);
    ck_assert(ic_vexpf(-INFINITY) == 0.0f);
    ck_assert(ic_vexpf(-104.0f) == 0.0f || ic_vexpf(-104.0f) < 0x1p-149f * 2);
    ck_assert(ic_vexpf(-1e30f) == 0.0f);
    ck_assert(ic_vexpf(-FLT_MAX) == 0.0f);
    ck_assert(isinf(ic_vexpf(INFINITY)) && ic_vexpf(INFINITY) > 0);
    ck_assert(isinf(ic_vexpf(88.73f)) && isinf(ic_vexpf(1e30f)) && isinf(ic_vexpf(FLT_MAX)));
    ck_assert(isfinite(ic_vexpf(88.72f)) && ic_vexpf(88.72f) > 3.3e38f);
    ck_assert(isnan(ic_vexpf(NAN)) && isnan(ic_vexpf(-NAN)));
}
END_TEST

/* The simd loop and the scalar call are the same function: same bits. The
 * sum is the float sum in some lane order: check it against double. */
START_TEST(test_vexp_loop_matches_scalar) {
    enum { N = 1003 };   /* ragged: not a multiple of any vector width */
    static float x[N], y[N];
    ic_rng r;
    ic_rng_seed(&r, 5);
    ic_fill_normal(&r, x, N, 4.0f);
    float m = x[0];
    for (int i = 1; i < N; i++) m = x[i] > m ? x[i] : m;
    memcpy(y, x, sizeof x);
    const float s = ic_vexp_shift_sum(y, N, m);
    double ref = 0.0;
    for (int i = 0; i < N; i++) {
        ck_assert_msg(y[i] == ic_vexpf(x[i] - m), "lane %d", i);
        ref += exp((double)x[i] - m);
    }
    ck_assert_msg(fabs(s - ref) / ref < 1e-5, "sum %.9g vs %.9g", (double)s, ref);
}
END_TEST

int main(void) {
    Suite *s = suite_create("cpu_vexp");
    TCase *tc = tcase_create("cpu_vexp");
    tcase_add_test(tc, test_vexp_softmax_range);
    tcase_add_test(tc, test_vexp_every_float_near_one);
    tcase_add_test(tc, test_vexp_random_and_edges);
    tcase_add_test(tc, test_vexp_loop_matches_scalar);
    suite_add_tcase(s, tc);
    return ic_test_run_suite(s);
}
