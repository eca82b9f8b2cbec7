/* The CPU LM head fused with the cross-entropy (kernels/cpu/lm_head_loss.c)
 * against a double oracle (logits x W^T and their log-sum-exp in double)
 * and against the unfused path it replaced in the teacher (the head GEMM
 * then ic_cross_entropy_forward). Ragged shapes: n not a multiple of the
 * pass rows, V not a multiple of the vocabulary split nor of the tile,
 * 1, 2 and 3 threads, vocabulary or row splits, a row whose logits are in
 * the hundreds (the online max must rescale), rows without a target and
 * targets at both ends of the vocabulary. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/ic_cpu_lm_head.h"
#include "kernels/ic_cross_entropy.h"
#include "kernels/ic_matmul.h"
#include "testutil.h"

enum { N = 203, V = 1001, D = 40 };

static float *x, *w, *old_nll;
static int32_t y[N];
static double ref[N];

/* a checked fixture: it runs in the forked child, since libgomp's thread
 * pool does not survive a fork */
static void setup(void) {
    ic_rng r; ic_rng_seed(&r, 1717);
    x = malloc(sizeof(float) * N * D);
    w = malloc(sizeof(float) * V * D);
    old_nll = malloc(sizeof(float) * N);
    ic_fill_normal(&r, x, (size_t)N * D, 1.0f);
    ic_fill_normal(&r, w, (size_t)V * D, 4.0f / sqrtf((float)D));
    for (int k = 0; k < D; k++) x[17 * D + k] *= 60.0f;   /* logits ~ +-250 */
    for (int i = 0; i < N; i++) y[i] = (int32_t)(ic_rng_next(&r) % V);
    y[3] = -1; y[N - 1] = -1; y[5] = 0; y[6] = V - 1; y[17] = V / 2;
    double *z = malloc(sizeof(double) * V);
    for (int i = 0; i < N; i++) {
        double m = -INFINITY, s = 0;
        for (int j = 0; j < V; j++) {
            double a = 0;
            for (int k = 0; k < D; k++) a += (double)x[i * D + k] * w[j * D + k];
            z[j] = a;
            m = fmax(m, a);
        }
        for (int j = 0; j < V; j++) s += exp(z[j] - m);
        ref[i] = y[i] < 0 ? 0.0 : m + log(s) - z[y[i]];
    }
    free(z);
    /* the unfused path: all logits, then the row op */
    float *lg = malloc(sizeof(float) * N * V);
    ic_matmul_forward_cpu(ic_test_ctx(0), lg, x, w, NULL, N, V, D);
    ic_cross_entropy_forward_cpu(ic_test_ctx(0), old_nll, lg, y, N, V);
    free(lg);
}

static void teardown(void) { free(x); free(w); free(old_nll); }

static void check(const float *nll, const char *what) {
    for (int i = 0; i < N; i++) {
        if (y[i] < 0) { ck_assert_msg(nll[i] == 0.0f, "%s: row %d has no target", what, i); continue; }
        double tol = 1e-5 * fmax(1.0, fabs(ref[i]));
        ck_assert_msg(fabs(nll[i] - ref[i]) < tol, "%s: row %d: %.9g vs oracle %.9g", what, i,
                      nll[i], ref[i]);
        ck_assert_msg(fabs(nll[i] - old_nll[i]) < 2 * tol, "%s: row %d: %.9g vs unfused %.9g",
                      what, i, nll[i], old_nll[i]);
    }
}

START_TEST(test_unfused_matches_oracle) {
    check(old_nll, "unfused");
}
END_TEST

START_TEST(test_blockings) {
    const int threads[3] = {1, 2, 3}, rows[3] = {64, 100, 4096}, chunks[3] = {96, 333, 8192};
    float nll[N];
    char what[96];
    for (int a = 0; a < 3; a++)
        for (int split = 0; split < 2; split++)
            for (int b = 0; b < 3; b++)
                for (int c = 0; c < 3; c++) {
                    ic_lm_head_blocking bl = {.rows = rows[b], .vchunk = chunks[c],
                                              .threads = threads[a],
                                              .vparts = split ? threads[a] : 1};
                    ic_test_ctx(ic_lm_head_loss_workspace_bytes_blocked(&bl, N, V));
                    for (int i = 0; i < N; i++) nll[i] = NAN;
                    ic_lm_head_loss_cpu_blocked(ic_test_ctx(0), &bl, nll, x, w, y, N, V, D);
                    snprintf(what, sizeof what, "threads %d vparts %d rows %d vchunk %d",
                             bl.threads, bl.vparts, bl.rows, bl.vchunk);
                    check(nll, what);
                }
}
END_TEST

/* the entry point the teacher calls, at the thread counts OpenMP offers */
START_TEST(test_default) {
    const int prev = omp_get_max_threads();
    float nll[N];
    for (int t = 1; t <= 3; t++) {
        omp_set_num_threads(t);
        ic_ctx *ctx = ic_test_ctx(ic_lm_head_loss_workspace_bytes(ic_test_ctx(0), N, V, D));
        ic_lm_head_blocking b = ic_lm_head_blocking_default(ctx, N, V, D);
        ck_assert_int_eq(b.threads, t);   /* N * V * D is above the serial cut */
        for (int i = 0; i < N; i++) nll[i] = NAN;
        ic_lm_head_loss(ctx, nll, x, w, y, N, V, D);
        check(nll, "default blocking");
        /* fewer rows than a pass */
        for (int i = 0; i < N; i++) nll[i] = NAN;
        ic_lm_head_loss(ctx, nll, x, w, y, 7, V, D);
        for (int i = 0; i < 7; i++)
            if (y[i] >= 0) ck_assert(fabs(nll[i] - ref[i]) < 1e-5 * fmax(1.0, ref[i]));
        ck_assert(isnan(nll[7]));   /* rows past n untouched */
    }
    omp_set_num_threads(prev);
}
END_TEST

int main(void) {
    Suite *s = suite_create("lm_head_loss");
    TCase *tc = tcase_create("lm_head_loss");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_unfused_matches_oracle);
    tcase_add_test(tc, test_blockings);
    tcase_add_test(tc, test_default);
    suite_add_tcase(s, tc);
    return ic_test_run_suite(s);
}
