/* The cross-entropy's vectorised expf (kernels/cpu/ic_cpu_vexp_ce.h)
 * against double exp: a dense sweep of the range where it claims 2.0e-7
 * relative error, every float in [-1, 1] of a stride, and its edges
 * (very negative -> 0, large -> inf, NaN -> NaN). The sweep goes through
 * an array loop built like the kernels' (IC_VEXP_CLONES + omp simd), so
 * the vector code of this machine's ISA is what is checked. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/ic_cpu_vexp_ce.h"
#include "testutil.h"

IC_VEXP_CLONES static void vexp_array(float *y, const float *x, int n) {
    #pragma omp simd
    for (int i = 0; i < n; i++) y[i] = ic_ce_expf(x[i]);
}

static double max_rel_err(const float *x, const float *y, int n, float *worst) {
    double m = 0.0;
    for (int i = 0; i < n; i++) {
        double e = exp((double)x[i]), r = fabs((double)y[i] - e) / e;
        if (r > m) { m = r; *worst = x[i]; }
    }
    return m;
}

START_TEST(test_vexp_accuracy) {
    const int n = 1 << 22;
    float *x = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * n), worst = 0;
    /* evenly spaced over [-87.3, 88.3] (and so over every binade of r) */
    for (int i = 0; i < n; i++) x[i] = -87.3f + (float)((88.3 + 87.3) * i / (n - 1));
    vexp_array(y, x, n);
    double e = max_rel_err(x, y, n, &worst);
    ck_assert_msg(e < 2.0e-7, "sweep: max rel err %.3g at x = %.9g", e, worst);
    /* consecutive floats around 0 and across a Cody-Waite boundary
     * (x = ln2/2, where n jumps), where r is largest */
    const float starts[3] = {-1.0f, 0.34f, -88.0f * 0.5f};
    for (int s = 0; s < 3; s++) {
        float v = starts[s];
        for (int i = 0; i < n; i++) { x[i] = v; v = nextafterf(v, INFINITY); }
        vexp_array(y, x, n);
        e = max_rel_err(x, y, n, &worst);
        ck_assert_msg(e < 2.0e-7, "ulp walk from %g: max rel err %.3g at x = %.9g", starts[s],
                      e, worst);
    }
    free(x); free(y);
}
END_TEST

START_TEST(test_vexp_edges) {
    float x[8] = {-87.34f, -100.0f, -1e30f, -INFINITY, 88.4f, INFINITY, NAN, 0.0f}, y[8];
    vexp_array(y, x, 8);
    for (int i = 0; i < 4; i++) ck_assert_msg(y[i] == 0.0f, "exp(%g) = %g, want 0", x[i], y[i]);
    ck_assert(isinf(y[4]) && y[4] > 0);
    ck_assert(isinf(y[5]) && y[5] > 0);
    ck_assert(isnan(y[6]));
    ck_assert(y[7] == 1.0f);
}
END_TEST

int main(void) {
    Suite *s = suite_create("vexp_ce");
    TCase *tc = tcase_create("vexp_ce");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_vexp_accuracy);
    tcase_add_test(tc, test_vexp_edges);
    suite_add_tcase(s, tc);
    return ic_test_run_suite(s);
}
