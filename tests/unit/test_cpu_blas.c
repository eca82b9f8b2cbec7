/* kernels/cpu/ic_cpu_blas: switching OpenBLAS's thread count must not change
 * OpenMP's (the OpenMP build of OpenBLAS implements one with the other, and
 * that once made every parallel loop after the first GEMM single-threaded). */
#include <omp.h>

#include "kernels/cpu/ic_cpu_blas.h"
#include "testutil.h"

START_TEST(test_blas_threads_leave_omp_alone) {
    omp_set_num_threads(3);  /* fixed, whatever the machine has */
    ic_cpu_blas_init();
    ck_assert_int_eq(omp_get_max_threads(), 3);
    int prev = ic_cpu_blas_set_threads(2);
    ck_assert_int_eq(omp_get_max_threads(), 3);
    ic_cpu_blas_set_threads(prev);
    ck_assert_int_eq(omp_get_max_threads(), 3);
    int seen = 0;
    #pragma omp parallel
    {
        #pragma omp single
        seen = omp_get_num_threads();
    }
    ck_assert_int_eq(seen, 3);
}
END_TEST

int main(void) {
    Suite *s = suite_create("cpu_blas");
    TCase *tc = tcase_create("cpu_blas");
    tcase_add_test(tc, test_blas_threads_leave_omp_alone);
    suite_add_tcase(s, tc);
    return ic_test_run_suite(s);
}
