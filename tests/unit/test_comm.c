/* optim/ic_comm.h, the collectives interface of train/ and optim/: a NULL
 * comm and a world of 1 are the identity and never call back; a world of 2
 * forwards every call with its arguments; and the trainer averages all of
 * its F layers' gradients in ONE call over one flat buffer (docs/DESIGN.md s5),
 * checked with a fake comm whose "mean" is an affine map the test can
 * undo per element. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/ic_dsa.h"
#include "optim/ic_comm.h"
#include "testutil.h"
#include "train/ic_trainer.h"

typedef struct {
    int n_mean, n_sum, n_max, n_minloc, n_all_ok;
    size_t last_n;
    float *last_buf;
} fake;

/* Not a real mean: x -> 2x + 1, so that an element the call missed (or hit
 * twice) shows up. */
static void f_mean(void *u, float *buf, size_t n) {
    fake *f = u;
    f->n_mean++;
    f->last_n = n;
    f->last_buf = buf;
    for (size_t i = 0; i < n; i++) buf[i] = 2.0f * buf[i] + 1.0f;
}
static void f_sum(void *u, double *buf, size_t n) {
    fake *f = u;
    f->n_sum++;
    f->last_n = n;
    for (size_t i = 0; i < n; i++) buf[i] *= 3.0;
}
static double f_max(void *u, double x) {
    ((fake *)u)->n_max++;
    return x + 10.0;
}
static void f_minloc(void *u, double *v, int *i) {
    ((fake *)u)->n_minloc++;
    *v = -1.0;
    *i = 42;
}
static int f_all_ok(void *u, int ok) {
    ((fake *)u)->n_all_ok++;
    return !ok;
}

START_TEST(test_single_is_identity) {
    fake f = { 0 };
    ic_comm one = { 0, 1, &f, f_mean, f_sum, f_max, f_minloc, f_all_ok };
    const ic_comm *cs[3] = { NULL, ic_comm_single(), &one };
    for (int k = 0; k < 3; k++) {
        const ic_comm *c = cs[k];
        ck_assert_int_eq(ic_comm_rank(c), 0);
        ck_assert_int_eq(ic_comm_world(c), 1);
        float x[3] = { 1.5f, -2.0f, 0.25f };
        ic_comm_mean_f32(c, x, 3);
        ck_assert(x[0] == 1.5f && x[1] == -2.0f && x[2] == 0.25f);
        double d[2] = { 0.1, 7.0 };
        ic_comm_sum_f64(c, d, 2);
        ck_assert(d[0] == 0.1 && d[1] == 7.0);
        ck_assert(ic_comm_sum1_f64(c, 0.3) == 0.3);
        ck_assert(ic_comm_max1_f64(c, -4.0) == -4.0);
        double v = NAN;
        int i = 3;
        ic_comm_minloc(c, &v, &i);
        ck_assert(isnan(v) && i == 3);
        ck_assert_int_eq(ic_comm_all_ok(c, 1), 1);
        ck_assert_int_eq(ic_comm_all_ok(c, 0), 0);
        ck_assert_int_eq(ic_comm_all_ok(c, 5), 1);
    }
    ck_assert_int_eq(f.n_mean + f.n_sum + f.n_max + f.n_minloc + f.n_all_ok, 0);
}
END_TEST

START_TEST(test_two_ranks_forward) {
    fake f = { 0 };
    ic_comm two = { 1, 2, &f, f_mean, f_sum, f_max, f_minloc, f_all_ok };
    ck_assert_int_eq(ic_comm_rank(&two), 1);
    ck_assert_int_eq(ic_comm_world(&two), 2);
    float x[4] = { 1, 2, 3, 4 };
    ic_comm_mean_f32(&two, x, 4);
    ck_assert(f.n_mean == 1 && f.last_n == 4 && x[3] == 9.0f);
    double d[3] = { 1, 2, 3 };
    ic_comm_sum_f64(&two, d, 3);
    ck_assert(f.n_sum == 1 && f.last_n == 3 && d[2] == 9.0);
    ck_assert(ic_comm_sum1_f64(&two, 2.0) == 6.0 && f.n_sum == 2 && f.last_n == 1);
    ck_assert(ic_comm_max1_f64(&two, 1.0) == 11.0 && f.n_max == 1);
    double v = 5.0;
    int i = 1;
    ic_comm_minloc(&two, &v, &i);
    ck_assert(v == -1.0 && i == 42 && f.n_minloc == 1);
    ck_assert_int_eq(ic_comm_all_ok(&two, 1), 0);
    ck_assert_int_eq(ic_comm_all_ok(&two, 0), 1);
    ck_assert_int_eq(f.n_all_ok, 2);
}
END_TEST

enum { NL = 4, L = 12, TOPK = 5 };

START_TEST(test_trainer_one_flat_allreduce) {
    ic_config cfg;
    ic_dsa_tiny_config(&cfg, NL, TOPK);
    ic_error err;
    ic_error_clear(&err);
    ic_dsa_model m;
    ck_assert_msg(ic_dsa_model_init(&m, &cfg, NULL, TOPK, &err) == 0, "%s", err.msg);
    ic_dsa_model_fill_random(&m, 9);
    ic_pattern pat;
    ck_assert(ic_pattern_parse(&pat, "FSFF", NL, &err) == 0);
    ic_trainer t;
    ck_assert_msg(ic_trainer_init(&t, ic_test_ctx(0), &m, &pat, IC_DISTILL_DENSE, 0, L, &err) == 0, "%s", err.msg);
    ic_rng rng;
    ic_rng_seed(&rng, 31);
    int32_t tok[L];
    for (int i = 0; i < L; i++) tok[i] = (int32_t)(ic_rng_next(&rng) % 61);
    ic_trainer_zero_grads(&t);
    ic_trainer_stats s = { 0 };
    ck_assert_msg(ic_trainer_window(&t, tok, NULL, L, 1, &s, &err) == 0, "%s", err.msg);

    /* a copy of every parameter's gradient before the all-reduce */
    float **before = calloc((size_t)t.n_params, sizeof *before);
    size_t total = 0;
    for (int p = 0; p < t.n_params; p++) {
        before[p] = malloc(sizeof(float) * (size_t)t.params[p].n);
        memcpy(before[p], t.params[p].grad, sizeof(float) * (size_t)t.params[p].n);
        total += (size_t)t.params[p].n;
    }
    ck_assert_int_eq(t.n_params, 3 * IC_INDEXER_N_TENSORS);

    /* NULL comm: untouched */
    ic_trainer_allreduce_grads(&t, NULL);
    for (int p = 0; p < t.n_params; p++)
        ck_assert(memcmp(before[p], t.params[p].grad, sizeof(float) * (size_t)t.params[p].n) == 0);

    fake f = { 0 };
    ic_comm two = { 0, 2, &f, f_mean, f_sum, f_max, f_minloc, f_all_ok };
    ic_trainer_allreduce_grads(&t, &two);
    ck_assert_int_eq(f.n_mean, 1);
    ck_assert_msg(f.last_n >= total && f.last_n < total + 16 * 3, "one call over %zu floats for %zu",
                  f.last_n, total);
    int nonzero = 0;
    for (int p = 0; p < t.n_params; p++) {
        const float *g = t.params[p].grad;
        /* inside the one buffer the callback saw */
        ck_assert(g >= f.last_buf && g + t.params[p].n <= f.last_buf + f.last_n);
        for (int64_t i = 0; i < t.params[p].n; i++) {
            ck_assert_msg(g[i] == 2.0f * before[p][i] + 1.0f, "param %s [%lld]", t.params[p].name,
                          (long long)i);
            nonzero += before[p][i] != 0.0f;
        }
        free(before[p]);
    }
    ck_assert(nonzero > 0);
    free(before);
    ic_trainer_free(&t);
    ic_dsa_model_free(&m);
}
END_TEST

int main(void) {
    Suite *s = suite_create("comm");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_single_is_identity);
    tcase_add_test(tc, test_two_ranks_forward);
    tcase_add_test(tc, test_trainer_one_flat_allreduce);
    suite_add_tcase(s, tc);
    return ic_test_run_suite(s);
}
