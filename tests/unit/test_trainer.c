/* The trainer's per-window gradient (teacher forward -> indexer forward ->
 * distillation loss -> indexer backward to the parameters) against central
 * finite differences of its own loss value, on a tiny random model, for
 * dense/sparse x multi/single; and multi == single when every layer is F.
 * The loss op and the indexer backward have their own finer tests; this one
 * checks that the trainer wires them together right (which tensors are
 * served, which layer's x_norm / top-k set feeds which indexer, gradient
 * pointers of every parameter tensor). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/ic_dsa.h"
#include "testutil.h"
#include "train/ic_trainer.h"

enum { NL = 4, L = 14, TOPK = 6 };

static void make_model(ic_dsa_model *m, uint64_t seed) {
    ic_config cfg;
    ic_dsa_tiny_config(&cfg, NL, TOPK);
    ic_error err;
    ic_error_clear(&err);
    ck_assert_msg(ic_dsa_model_init(m, &cfg, NULL, TOPK, &err) == 0, "%s", err.msg);
    ic_dsa_model_fill_random(m, seed);
}

static double window_loss(ic_trainer *t, const int32_t *tok) {
    ic_trainer_stats s = { 0 };
    ic_error err;
    ic_error_clear(&err);
    ck_assert_msg(ic_trainer_window(t, tok, NULL, L, 0, &s, &err) == 0, "%s", err.msg);
    return s.kl;
}

/* Every F layer's top-k sets under the current indexers. The trainer keeps
 * one F layer's sets at a time (it computes each group's loss as soon as the
 * forward has passed it), so the snapshot comes from a DSA forward of its
 * own over the trainer's state, with a set buffer per F layer. */
static void keep_copy(ic_trainer *t, const int32_t *tok, int32_t *dst) {
    ic_dsa_index_set keep[NL];
    memset(keep, 0, sizeof keep);
    for (int l = 0; l < NL; l++)
        if (ic_pattern_is_full(&t->pat, l)) {
            keep[l].idx = dst;
            keep[l].cnt = malloc(sizeof(int32_t) * L);
            dst += L * TOPK;
        }
    ic_dsa_fwd_opts fo = { .pattern = &t->pat, .mode = IC_DSA_MODE_PATTERN, .keep = keep };
    ic_error err;
    ic_error_clear(&err);
    ck_assert_msg(ic_dsa_forward(t->m, &t->st, tok, NULL, L, &fo, NULL, &err) == 0, "%s", err.msg);
    for (int l = 0; l < NL; l++) free(keep[l].cnt);
}

static void gradcheck(const char *spec, ic_distill_stage stage, int single, uint64_t seed) {
    ic_dsa_model m;
    make_model(&m, seed);
    ic_pattern pat;
    ic_error err;
    ic_error_clear(&err);
    ck_assert(ic_pattern_parse(&pat, spec, NL, &err) == 0);
    ic_trainer t;
    ck_assert_msg(ic_trainer_init(&t, ic_test_ctx(0), &m, &pat, stage, single, L, &err) == 0, "%s", err.msg);
    ic_rng rng;
    ic_rng_seed(&rng, seed * 7 + 1);
    int32_t tok[L];
    for (int i = 0; i < L; i++) tok[i] = (int32_t)(ic_rng_next(&rng) % 61);

    ic_trainer_zero_grads(&t);
    ic_trainer_stats s = { 0 };
    ck_assert_msg(ic_trainer_window(&t, tok, NULL, L, 1, &s, &err) == 0, "%s", err.msg);
    ck_assert(s.tokens == L && isfinite(s.kl) && s.kl > 0);
    ck_assert_msg(fabs(window_loss(&t, tok) - s.kl) <= 1e-9 * fabs(s.kl), "forward-only loss differs");
    /* zeroed: only the F layers' slots are written */
    int32_t *k0 = calloc((size_t)NL * L * TOPK, sizeof *k0), *k1 = calloc((size_t)NL * L * TOPK, sizeof *k1);
    keep_copy(&t, tok, k0);

    const double h = 4e-3;
    int checked = 0, skipped = 0;
    double worst = 0;
    for (int p = 0; p < t.n_params; p++) {
        ic_param *pr = &t.params[p];
        for (int trial = 0; trial < 4; trial++) {
            int64_t i = (int64_t)(ic_rng_next(&rng) % (uint64_t)pr->n);
            const float v0 = pr->value[i];
            pr->value[i] = (float)(v0 + h);
            double lp = window_loss(&t, tok);
            keep_copy(&t, tok, k1);
            int same = memcmp(k0, k1, sizeof(int32_t) * NL * L * TOPK) == 0;
            pr->value[i] = (float)(v0 - h);
            double lm = window_loss(&t, tok);
            keep_copy(&t, tok, k1);
            same = same && memcmp(k0, k1, sizeof(int32_t) * NL * L * TOPK) == 0;
            pr->value[i] = v0;
            /* the real step of the perturbed float, not h */
            double hp = (double)(float)(v0 + h) - v0, hm = v0 - (double)(float)(v0 - h);
            double fd = (lp - lm) / (hp + hm);
            if (stage == IC_DISTILL_SPARSE && !same) { skipped++; continue; }  /* a set flipped */
            double g = pr->grad[i], diff = fabs(fd - g);
            double tol = 4e-3 + 3e-2 * fmax(fabs(g), fabs(fd));
            ck_assert_msg(diff <= tol, "%s%s stage %d single %d: d/d%s[%lld] analytic %.6g vs finite "
                          "difference %.6g", spec, "", stage, single, pr->name, (long long)i, g, fd);
            if (fabs(g) > 1e-2) worst = fmax(worst, diff / fabs(g));
            checked++;
        }
    }
    ck_assert_msg(checked >= 3 * skipped && checked >= 20, "only %d entries checked (%d skipped)",
                  checked, skipped);
    (void)worst;
    free(k0);
    free(k1);
    ic_trainer_free(&t);
    ic_dsa_model_free(&m);
}

START_TEST(test_grad_dense_multi) { gradcheck("FSFS", IC_DISTILL_DENSE, 0, 11); }
END_TEST
START_TEST(test_grad_dense_single) { gradcheck("FSSF", IC_DISTILL_DENSE, 1, 12); }
END_TEST
START_TEST(test_grad_sparse_multi) { gradcheck("FSSF", IC_DISTILL_SPARSE, 0, 13); }
END_TEST
START_TEST(test_grad_sparse_single) { gradcheck("FSFS", IC_DISTILL_SPARSE, 1, 14); }
END_TEST

/* With every layer F, G(l) = {l}: multi and single are the same loss. And
 * in pattern FSFS, multi's loss exceeds nothing in particular, but its value
 * must differ from single's (layers 1 and 3 are served). */
START_TEST(test_multi_equals_single_all_f) {
    ic_dsa_model m;
    make_model(&m, 21);
    ic_error err;
    ic_error_clear(&err);
    ic_rng rng;
    ic_rng_seed(&rng, 5);
    int32_t tok[L];
    for (int i = 0; i < L; i++) tok[i] = (int32_t)(ic_rng_next(&rng) % 61);
    double loss[2][2];
    const char *specs[2] = { "FFFF", "FSFS" };
    for (int ps = 0; ps < 2; ps++)
        for (int single = 0; single < 2; single++) {
            ic_pattern pat;
            ck_assert(ic_pattern_parse(&pat, specs[ps], NL, &err) == 0);
            ic_trainer t;
            ck_assert_msg(ic_trainer_init(&t, ic_test_ctx(0), &m, &pat, IC_DISTILL_DENSE, single, L, &err) == 0, "%s", err.msg);
            loss[ps][single] = window_loss(&t, tok);
            ic_trainer_free(&t);
        }
    ck_assert_msg(loss[0][0] == loss[0][1], "all F: multi %.9g != single %.9g", loss[0][0], loss[0][1]);
    ck_assert_msg(fabs(loss[1][0] - loss[1][1]) > 1e-3 * loss[1][1], "FSFS: multi == single");
    ic_dsa_model_free(&m);
}
END_TEST

/* docs/DESIGN.md s3: the saved Q, K (, LSE) are max_l |G(l)| slots reused group
 * after group, not one per served layer; layer j of G(l) uses slot j - l. */
START_TEST(test_saved_slots_per_group) {
    ic_dsa_model m;
    make_model(&m, 31);
    ic_error err;
    ic_error_clear(&err);
    const char *specs[3] = { "FSSF", "FSFS", "FFFF" };
    const int want[3][2] = { {3, 1}, {2, 1}, {1, 1} };   /* [spec][single] */
    for (int ps = 0; ps < 3; ps++)
        for (int single = 0; single < 2; single++) {
            ic_pattern pat;
            ck_assert(ic_pattern_parse(&pat, specs[ps], NL, &err) == 0);
            ic_trainer t;
            ck_assert_msg(ic_trainer_init(&t, ic_test_ctx(0), &m, &pat, IC_DISTILL_DENSE, single, L,
                                          &err) == 0, "%s", err.msg);
            ck_assert_int_eq(t.n_slots, want[ps][single]);
            for (int l = 0; l < NL; l++) {
                if (!t.save[l].q) continue;
                const int j = l - ic_pattern_source(&pat, l);
                ck_assert_ptr_eq(t.save[l].q, t.slots[j].q);
                ck_assert_ptr_eq(t.save[l].k, t.slots[j].k);
                ck_assert_ptr_eq(t.save[l].lse, t.slots[j].lse);
                if (ic_pattern_is_full(&pat, l)) ck_assert_ptr_eq(t.save[l].x_norm, t.x_norm_buf);
            }
            ic_trainer_free(&t);
        }
    ic_dsa_model_free(&m);
}
END_TEST

int main(void) {
    Suite *s = suite_create("trainer");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_grad_dense_multi);
    tcase_add_test(tc, test_grad_dense_single);
    tcase_add_test(tc, test_grad_sparse_multi);
    tcase_add_test(tc, test_grad_sparse_single);
    tcase_add_test(tc, test_multi_equals_single_all_f);
    tcase_add_test(tc, test_saved_slots_per_group);
    suite_add_tcase(s, tc);
    return ic_test_run_suite(s);
}
