/* optim/: AdamW against an independent double-precision AdamW, the LR
 * schedule at its key points, global-norm clipping against a double sum. */
#include <math.h>
#include <stdio.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "optim/ic_adamw.h"
#include "optim/ic_clip.h"
#include "optim/ic_schedule.h"
#include "testutil.h"

/* Textbook AdamW in double (Loshchilov & Hutter Alg. 2 with PyTorch's
 * lr-scaled decoupled decay), written from the paper's formula, not from
 * ic_adamw.c: bias-corrected moments m_hat, v_hat, then the step. */
typedef struct { double *p, *m, *v; int64_t n; int decay; } ref_param;

static void ref_adamw_step(ref_param *ps, int np, const float *const *grads, int t, double lr,
                           double b1, double b2, double eps, double wd) {
    for (int i = 0; i < np; i++) {
        ref_param *q = &ps[i];
        for (int64_t k = 0; k < q->n; k++) {
            double g = grads[i][k];
            if (q->decay) q->p[k] -= lr * wd * q->p[k];
            q->m[k] = b1 * q->m[k] + (1 - b1) * g;
            q->v[k] = b2 * q->v[k] + (1 - b2) * g * g;
            double mh = q->m[k] / (1 - pow(b1, t));
            double vh = q->v[k] / (1 - pow(b2, t));
            q->p[k] -= lr * mh / (sqrt(vh) + eps);
        }
    }
}

#define NP 3
static const int64_t sizes[NP] = {37, 40000, 5};  /* one buffer above the OpenMP threshold */

typedef struct {
    float *val[NP], *grad[NP];
    ic_param params[NP];
    ref_param ref[NP];
} fixture;

static void fixture_init(fixture *f, ic_rng *r) {
    static const char *names[NP] = {"layer.wq", "layer.k_norm.weight", "layer.k_norm.bias"};
    for (int i = 0; i < NP; i++) {
        f->val[i] = malloc(sizes[i] * sizeof(float));
        f->grad[i] = malloc(sizes[i] * sizeof(float));
        ic_fill_normal(r, f->val[i], sizes[i], 1.0f);
        f->params[i] = (ic_param){names[i], f->val[i], f->grad[i], sizes[i], i != 2};
        f->ref[i].n = sizes[i];
        f->ref[i].decay = i != 2;
        f->ref[i].p = malloc(sizes[i] * sizeof(double));
        f->ref[i].m = calloc(sizes[i], sizeof(double));
        f->ref[i].v = calloc(sizes[i], sizeof(double));
        for (int64_t k = 0; k < sizes[i]; k++) f->ref[i].p[k] = f->val[i][k];
    }
}

static void fixture_free(fixture *f) {
    for (int i = 0; i < NP; i++) {
        free(f->val[i]); free(f->grad[i]);
        free(f->ref[i].p); free(f->ref[i].m); free(f->ref[i].v);
    }
}

/* max |p32 - p64| over all buffers. */
static double max_diff(const fixture *f, const ref_param *ref) {
    double d = 0;
    for (int i = 0; i < NP; i++)
        for (int64_t k = 0; k < sizes[i]; k++) {
            double e = fabs((double)f->val[i][k] - ref[i].p[k]);
            if (!(e <= d)) d = e;  /* NaN propagates as a failure */
        }
    return d;
}

START_TEST(test_adamw_vs_double) {
    ic_rng r; ic_rng_seed(&r, 1234);
    fixture f; fixture_init(&f, &r);
    /* eps large enough to matter for the small gradients of the last step */
    ic_adamw_hparams hp = {0.9, 0.95, 1e-4, 0.1};
    ic_adamw opt; ic_error err; ic_error_clear(&err);
    ck_assert_int_eq(ic_adamw_init(&opt, ic_test_ctx(0), &hp, f.params, NP, &err), 0);
    float *init = malloc(sizes[0] * sizeof(float));
    memcpy(init, f.val[0], sizes[0] * sizeof(float));
    const int steps = 8;
    double lr_of[8] = {1e-3, 2e-3, 3e-3, 1e-2, 8e-3, 5e-3, 2e-3, 1e-3};
    for (int t = 1; t <= steps; t++) {
        float gscale = t == steps ? 1e-4f : 1.0f;
        for (int i = 0; i < NP; i++) ic_fill_normal(&r, f.grad[i], sizes[i], gscale);
        ic_adamw_step(&opt, f.params, NP, lr_of[t - 1]);
        const float *g[NP] = {f.grad[0], f.grad[1], f.grad[2]};
        ref_adamw_step(f.ref, NP, g, t, lr_of[t - 1], hp.beta1, hp.beta2, hp.eps, hp.weight_decay);
        double d = max_diff(&f, f.ref);
        ck_assert_msg(d < 2e-6, "step %d: max |fp32 - double| = %g", t, d);
    }
    ck_assert_int_eq(opt.step, steps);
    /* The parameters moved by far more than the tolerance. */
    double moved = 0;
    for (int64_t k = 0; k < sizes[0]; k++) moved = fmax(moved, fabs(init[k] - f.val[0][k]));
    ck_assert_msg(moved > 1e-2, "parameters barely moved: %g", moved);
    free(init);
    ic_adamw_free(&opt);
    fixture_free(&f);
}
END_TEST

/* The oracle is sensitive to each ingredient: dropping bias correction or
 * weight decay from the fp32 side's hyper-parameters changes the result by
 * orders of magnitude more than the tolerance used above. */
START_TEST(test_adamw_ingredients_matter) {
    ic_rng r; ic_rng_seed(&r, 99);
    fixture f; fixture_init(&f, &r);
    ic_adamw_hparams hp = {0.9, 0.999, 1e-8, 0.0};  /* fp32 side without decay */
    ic_adamw opt; ic_error err; ic_error_clear(&err);
    ck_assert_int_eq(ic_adamw_init(&opt, ic_test_ctx(0), &hp, f.params, NP, &err), 0);
    for (int t = 1; t <= 3; t++) {
        for (int i = 0; i < NP; i++) ic_fill_normal(&r, f.grad[i], sizes[i], 1.0f);
        ic_adamw_step(&opt, f.params, NP, 1e-2);
        const float *g[NP] = {f.grad[0], f.grad[1], f.grad[2]};
        ref_adamw_step(f.ref, NP, g, t, 1e-2, 0.9, 0.999, 1e-8, 0.5);
    }
    ck_assert_msg(max_diff(&f, f.ref) > 1e-3, "weight decay had no visible effect");
    ic_adamw_free(&opt);
    fixture_free(&f);

    /* Bias correction: at t = 1 the corrected step is lr * sign(g) (up to
     * eps); without correction it would be lr * 0.1/sqrt(0.001) * sign(g). */
    float p = 0.5f, g = 0.3f;
    ic_param one = {"x", &p, &g, 1, 0};
    ic_adamw_hparams hp2 = {0.9, 0.999, 1e-8, 0.0};
    ck_assert_int_eq(ic_adamw_init(&opt, ic_test_ctx(0), &hp2, &one, 1, &err), 0);
    ic_adamw_step(&opt, &one, 1, 1e-2);
    ck_assert_msg(fabs(p - (0.5 - 1e-2)) < 1e-7, "first step %.9g, want 0.49", p);
    ic_adamw_free(&opt);
}
END_TEST

START_TEST(test_adamw_state_restore) {
    ic_rng r; ic_rng_seed(&r, 5);
    fixture a; fixture_init(&a, &r);
    ic_adamw_hparams hp = ic_adamw_default_hparams();
    ic_adamw oa; ic_error err; ic_error_clear(&err);
    ck_assert_int_eq(ic_adamw_init(&oa, ic_test_ctx(0), &hp, a.params, NP, &err), 0);
    /* Gradients for 6 steps, drawn up front so both runs see the same. */
    float *gs[6][NP];
    for (int t = 0; t < 6; t++)
        for (int i = 0; i < NP; i++) {
            gs[t][i] = malloc(sizes[i] * sizeof(float));
            ic_fill_normal(&r, gs[t][i], sizes[i], 1.0f);
        }
    for (int t = 0; t < 3; t++) {
        for (int i = 0; i < NP; i++) memcpy(a.grad[i], gs[t][i], sizes[i] * sizeof(float));
        ic_adamw_step(&oa, a.params, NP, 1e-3);
    }
    /* Snapshot: parameter values and the state through the named views. */
    int ns = ic_adamw_state_count(&oa);
    ck_assert_int_eq(ns, 2 * NP);
    ic_named_f32 views[2 * NP], saved[2 * NP];
    ic_adamw_state_views(&oa, views);
    ck_assert_str_eq(views[0].name, "layer.wq.exp_avg");
    ck_assert_str_eq(views[1].name, "layer.wq.exp_avg_sq");
    for (int s = 0; s < ns; s++) {
        saved[ns - 1 - s] = views[s];  /* reversed order: restore matches by name */
        int64_t n = ic_named_f32_numel(&views[s]);
        saved[ns - 1 - s].data = malloc(n * sizeof(float));
        memcpy(saved[ns - 1 - s].data, views[s].data, n * sizeof(float));
    }
    fixture b; ic_rng rb; ic_rng_seed(&rb, 5); fixture_init(&b, &rb);
    for (int i = 0; i < NP; i++) memcpy(b.val[i], a.val[i], sizes[i] * sizeof(float));
    int64_t step = oa.step;
    for (int t = 3; t < 6; t++) {
        for (int i = 0; i < NP; i++) memcpy(a.grad[i], gs[t][i], sizes[i] * sizeof(float));
        ic_adamw_step(&oa, a.params, NP, 1e-3);
    }
    ic_adamw ob;
    ck_assert_int_eq(ic_adamw_init(&ob, ic_test_ctx(0), &hp, b.params, NP, &err), 0);
    /* refusals first: a missing tensor, a wrong size */
    ck_assert_int_eq(ic_adamw_state_restore(&ob, saved, ns - 1, step, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "missing"));
    ic_error_clear(&err);
    saved[0].shape[0] += 1;
    ck_assert_int_eq(ic_adamw_state_restore(&ob, saved, ns, step, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "elements"));
    ic_error_clear(&err);
    saved[0].shape[0] -= 1;
    ck_assert_int_eq(ic_adamw_state_restore(&ob, saved, ns, step, &err), 0);
    for (int t = 3; t < 6; t++) {
        for (int i = 0; i < NP; i++) memcpy(b.grad[i], gs[t][i], sizes[i] * sizeof(float));
        ic_adamw_step(&ob, b.params, NP, 1e-3);
    }
    for (int i = 0; i < NP; i++)
        ck_assert_msg(memcmp(a.val[i], b.val[i], sizes[i] * sizeof(float)) == 0,
                      "resumed AdamW differs from the uninterrupted one in buffer %d", i);
    for (int s = 0; s < ns; s++) free(saved[s].data);
    for (int t = 0; t < 6; t++) for (int i = 0; i < NP; i++) free(gs[t][i]);
    ic_adamw_free(&oa); ic_adamw_free(&ob);
    fixture_free(&a); fixture_free(&b);
}
END_TEST

START_TEST(test_adamw_refusals) {
    float p = 1, g = 1;
    ic_param two[2] = {{"a", &p, &g, 1, 1}, {"a", &p, &g, 1, 1}};
    ic_adamw opt; ic_error err; ic_error_clear(&err);
    ic_adamw_hparams hp = ic_adamw_default_hparams();
    ck_assert_int_eq(ic_adamw_init(&opt, ic_test_ctx(0), &hp, two, 2, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "duplicate"));
    ic_error_clear(&err);
    hp.beta2 = 1.0;
    ck_assert_int_eq(ic_adamw_init(&opt, ic_test_ctx(0), &hp, two, 1, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "betas"));
}
END_TEST

START_TEST(test_schedule_points) {
    ic_lr_schedule s = {3e-3, 3e-4, 100, 1100};
    ic_error err; ic_error_clear(&err);
    ck_assert_int_eq(ic_lr_schedule_check(&s, &err), 0);
    const double tol = 1e-15;
    ck_assert_double_eq_tol(ic_lr_at(&s, 0), 3e-3 / 100, tol);     /* first warm-up step */
    ck_assert_double_eq_tol(ic_lr_at(&s, 49), 3e-3 * 0.5, tol);    /* half-way up */
    ck_assert_double_eq_tol(ic_lr_at(&s, 99), 3e-3, tol);          /* warm-up ends at the peak */
    ck_assert_double_eq_tol(ic_lr_at(&s, 100), 3e-3, tol);         /* cosine starts at the peak */
    ck_assert_double_eq_tol(ic_lr_at(&s, 600), (3e-3 + 3e-4) / 2, tol);  /* half-way down */
    /* a quarter of the way: lr_min + (lr_max - lr_min) (1 + 1/sqrt 2) / 2 */
    ck_assert_double_eq_tol(ic_lr_at(&s, 350), 3e-4 + 2.7e-3 * (1 + sqrt(0.5)) / 2, tol);
    ck_assert_double_eq_tol(ic_lr_at(&s, 1100), 3e-4, tol);        /* floor */
    ck_assert_double_eq_tol(ic_lr_at(&s, 5000), 3e-4, tol);
    ck_assert(ic_lr_at(&s, 1099) > 3e-4 && ic_lr_at(&s, 1099) < 3e-4 * 1.0001);
    for (int64_t t = 1; t < 1200; t++) {
        if (t < 100) ck_assert(ic_lr_at(&s, t) > ic_lr_at(&s, t - 1));
        else if (t > 100 && t <= 1100) ck_assert(ic_lr_at(&s, t) < ic_lr_at(&s, t - 1));
    }
    ic_lr_schedule nw = {1e-3, 0, 0, 10};  /* no warm-up */
    ck_assert_double_eq_tol(ic_lr_at(&nw, 0), 1e-3, tol);
    ck_assert_double_eq_tol(ic_lr_at(&nw, 10), 0, tol);
    ic_lr_schedule bad = {1e-3, 2e-3, 0, 10};
    ck_assert_int_eq(ic_lr_schedule_check(&bad, &err), -1);
    ic_error_clear(&err);
    ic_lr_schedule bad2 = {1e-3, 0, 20, 10};
    ck_assert_int_eq(ic_lr_schedule_check(&bad2, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "--warmup"));
}
END_TEST

START_TEST(test_clip) {
    ic_rng r; ic_rng_seed(&r, 77);
    const int64_t n[3] = {3 * 8192 + 5, 17, 100000};
    float *g[3], *orig[3];
    ic_param ps[3];
    long double ss = 0;  /* oracle: a plain sequential sum in extended precision */
    for (int i = 0; i < 3; i++) {
        g[i] = malloc(n[i] * sizeof(float));
        orig[i] = malloc(n[i] * sizeof(float));
        ic_fill_normal(&r, g[i], n[i], (float)(i + 1));
        memcpy(orig[i], g[i], n[i] * sizeof(float));
        ps[i] = (ic_param){"g", g[i], g[i], n[i], 1};
        for (int64_t k = 0; k < n[i]; k++) ss += (long double)g[i][k] * g[i][k];
    }
    double ref = (double)sqrtl(ss);
    double norm = ic_grad_global_norm(ic_test_ctx(0), ps, 3);
    ck_assert_msg(fabs(norm - ref) / ref < 1e-12, "norm %.17g vs %.17g", norm, ref);
    /* Same bits for any thread count. */
    int nt = omp_get_max_threads();
    omp_set_num_threads(1);
    double n1 = ic_grad_global_norm(ic_test_ctx(0), ps, 3);
    omp_set_num_threads(nt > 1 ? nt : 2);
    double n2 = ic_grad_global_norm(ic_test_ctx(0), ps, 3);
    ck_assert(memcmp(&n1, &n2, sizeof n1) == 0);
    /* No clipping above the norm: untouched. */
    ck_assert(ic_grad_clip(ic_test_ctx(0), ps, 3, ref * 2) == norm);
    for (int i = 0; i < 3; i++) ck_assert(memcmp(g[i], orig[i], n[i] * sizeof(float)) == 0);
    /* Clipping to a third: returns the pre-clip norm, scales every element by
     * max / (norm + 1e-6). */
    double maxn = ref / 3;
    double pre = ic_grad_clip(ic_test_ctx(0), ps, 3, maxn);
    ck_assert(pre == norm);
    double scale = maxn / (ref + 1e-6);
    for (int i = 0; i < 3; i++)
        for (int64_t k = 0; k < n[i]; k++)
            ck_assert_msg(fabs(g[i][k] - orig[i][k] * scale) <= 1e-6 * fabs(orig[i][k] * scale) + 1e-30,
                          "clipped element %g vs %g", g[i][k], orig[i][k] * scale);
    double post = ic_grad_global_norm(ic_test_ctx(0), ps, 3);
    ck_assert_msg(fabs(post - maxn) / maxn < 1e-5, "post-clip norm %g, want %g", post, maxn);
    /* A non-finite gradient: norm is returned, nothing scaled. */
    g[1][3] = INFINITY;
    memcpy(orig[0], g[0], n[0] * sizeof(float));
    ck_assert(isinf(ic_grad_clip(ic_test_ctx(0), ps, 3, 1.0)));
    ck_assert(memcmp(g[0], orig[0], n[0] * sizeof(float)) == 0);
    for (int i = 0; i < 3; i++) { free(g[i]); free(orig[i]); }
}
END_TEST

int main(void) {
    Suite *s = suite_create("optim");
    TCase *tc = tcase_create("optim");
    tcase_add_test(tc, test_adamw_vs_double);
    tcase_add_test(tc, test_adamw_ingredients_matter);
    tcase_add_test(tc, test_adamw_state_restore);
    tcase_add_test(tc, test_adamw_refusals);
    tcase_add_test(tc, test_schedule_points);
    tcase_add_test(tc, test_clip);
    suite_add_tcase(s, tc);
    return ic_test_run_suite(s);
}
