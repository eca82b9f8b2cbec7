/* The pieces of `indexcache bench` in process, on small random models:
 *  - the timed prefill computes what ic_dsa_forward computes (same logits,
 *    dense and DSA patterns), and its phases partition the wall time: they
 *    add up to the timer's own total and to a clock read around the call
 *    (within 10 %), with indexer time in F patterns only;
 *  - decoding from the cache, token by token, gives the prefill's
 *    next-token logits at every position (1e-4), for dense, all F and
 *    IndexCache patterns, K < L so that sparse attention really selects;
 *  - the cache holds indexer keys for F layers only; the Amdahl bound. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "launch/ic_bench.h"
#include "model/ic_dsa_decode.h"
#include "model/ic_dsa_timed.h"
#include "testutil.h"

static void make_model(ic_dsa_model *m, int n_layers, int topk, uint64_t seed) {
    ic_config c;
    ic_error err;
    ic_error_clear(&err);
    ic_dsa_tiny_config(&c, n_layers, topk);
    ck_assert_msg(ic_dsa_model_init(m, &c, NULL, 0, &err) == 0, "%s", err.msg);
    ic_dsa_model_fill_random(m, seed);
}

static void random_tokens(int32_t *tok, int n, int V, uint64_t seed) {
    ic_rng r;
    ic_rng_seed(&r, seed);
    for (int i = 0; i < n; i++) tok[i] = (int32_t)(ic_rng_next(&r) % (uint64_t)V);
}

static ic_pattern pat(const char *spec, int n) {
    ic_pattern p;
    ic_error err;
    ic_error_clear(&err);
    ck_assert_msg(ic_pattern_parse(&p, spec, n, &err) == 0, "%s", err.msg);
    return p;
}

/* logits [L, V] of every row from ic_dsa_forward (the reference forward);
 * last_alone: the last row through a one-row LM head as the timed prefill
 * computes it (a GEMM of one row rounds differently from one of L rows) */
static float *reference_logits(const ic_dsa_model *m, const ic_pattern *p, const int32_t *tok,
                               int L, int last_alone) {
    ic_error err;
    ic_error_clear(&err);
    ic_dsa_state st;
    ck_assert_msg(ic_dsa_state_init(&st, ic_test_ctx(0), m, L, &err) == 0, "%s", err.msg);
    ic_dsa_fwd_opts o = {.pattern = p};
    ck_assert_msg(ic_dsa_forward(m, &st, tok, NULL, L, &o, NULL, &err) == 0, "%s", err.msg);
    const int V = m->w.cfg.vocab_size;
    float *lg = malloc(sizeof(float) * (size_t)L * V);
    ck_assert_ptr_nonnull(lg);
    ic_teacher_logits(&m->w, &st.ts, st.hidden, L, lg);
    if (last_alone)
        ic_teacher_logits(&m->w, &st.ts, st.hidden + (size_t)(L - 1) * m->w.cfg.hidden_size, 1,
                          lg + (size_t)(L - 1) * V);
    ic_dsa_state_free(&st);
    return lg;
}

START_TEST(test_timed_prefill_equals_forward) {
    enum { NL = 4, L = 40, K = 6 };
    ic_dsa_model m;
    make_model(&m, NL, K, 11);
    int32_t tok[L];
    random_tokens(tok, L, m.w.cfg.vocab_size, 3);
    const char *specs[] = {"dense", "FFFF", "FSFS", "FSSS"};
    const int V = m.w.cfg.vocab_size;
    float *dense_ref = NULL;
    for (int i = 0; i < 4; i++) {
        ic_error err;
        ic_error_clear(&err);
        ic_pattern p = pat(specs[i], NL);
        float *ref = reference_logits(&m, &p, tok, L, 1);
        ic_dsa_state st;
        ck_assert_int_eq(ic_dsa_state_init(&st, ic_test_ctx(0), &m, L, &err), 0);
        float lg[64];
        ic_phase_timer t;
        ck_assert_msg(ic_dsa_prefill_timed(&m, &m.w, &st, &p, tok, L, lg, &t, &err) == 0, "%s",
                      err.msg);
        /* the same ops in the same order: the same bits */
        double d = ic_max_abs_diff_f32(lg, ref + (size_t)(L - 1) * V, (size_t)V);
        ck_assert_msg(d == 0.0, "%s: timed prefill differs from ic_dsa_forward by %g", specs[i], d);
        /* untimed (NULL timer) too */
        ck_assert_int_eq(ic_dsa_prefill_timed(&m, &m.w, &st, &p, tok, L, lg, NULL, &err), 0);
        ck_assert(ic_max_abs_diff_f32(lg, ref + (size_t)(L - 1) * V, (size_t)V) == 0.0);
        if (i == 0) dense_ref = ref;
        else {
            /* K < L: the sparse rows really differ from dense */
            ck_assert_msg(ic_max_abs_diff_f32(ref + (size_t)(L - 1) * V,
                                              dense_ref + (size_t)(L - 1) * V, V) > 1e-3,
                          "%s equals dense", specs[i]);
            free(ref);
        }
        ic_dsa_state_free(&st);
    }
    free(dense_ref);
    ic_dsa_model_free(&m);
}
END_TEST

START_TEST(test_phases_partition_the_time) {
    enum { NL = 4, L = 512, K = 16 };
    ic_dsa_model m;
    make_model(&m, NL, K, 12);
    int32_t *tok = malloc(sizeof(int32_t) * L);
    random_tokens(tok, L, m.w.cfg.vocab_size, 4);
    ic_error err;
    ic_error_clear(&err);
    ic_dsa_state st;
    ck_assert_int_eq(ic_dsa_state_init(&st, ic_test_ctx(0), &m, L, &err), 0);
    const char *specs[] = {"dense", "FFFF", "FSSS"};
    double ix_time[3];
    for (int i = 0; i < 3; i++) {
        ic_pattern p = pat(specs[i], NL);
        ic_phase_timer t;
        double best = 1e30, best_sum = 0, best_total = 0;
        for (int rep = 0; rep < 3; rep++) {   /* the best of 3 against a busy machine */
            const double t0 = ic_time_now();
            ck_assert_int_eq(ic_dsa_prefill_timed(&m, &m.w, &st, &p, tok, L, NULL, &t, &err), 0);
            const double wall = ic_time_now() - t0;
            double sum = 0;
            for (int k = 0; k < IC_DSA_N_PHASES; k++) {
                ck_assert(t.acc[k] >= 0);
                sum += t.acc[k];
            }
            /* the phases partition the timer's interval (clock reads aside) */
            ck_assert_msg(fabs(sum - t.total) <= 1e-6 + 1e-9 * t.total, "%s: phases %g vs total %g",
                          specs[i], sum, t.total);
            if (wall < best) { best = wall; best_sum = sum; best_total = t.total; }
        }
        ck_assert_msg(fabs(best_sum - best) <= 0.10 * best, "%s: phases %g s vs wall %g s",
                      specs[i], best_sum, best);
        ck_assert(best_total > 0);
        ix_time[i] = t.acc[IC_DSA_PH_IX_PROJ] + t.acc[IC_DSA_PH_IX_SCORES] + t.acc[IC_DSA_PH_TOPK];
        ck_assert_msg(t.acc[IC_DSA_PH_ATTN] > 0 && t.acc[IC_DSA_PH_REST] > 0, "%s", specs[i]);
        if (i == 0) ck_assert(ix_time[0] == 0.0);   /* dense runs no indexer */
        else
            ck_assert_msg(t.acc[IC_DSA_PH_IX_PROJ] > 0 && t.acc[IC_DSA_PH_IX_SCORES] > 0 &&
                          t.acc[IC_DSA_PH_TOPK] > 0, "%s: an indexer phase is empty", specs[i]);
    }
    ic_dsa_state_free(&st);
    free(tok);
    ic_dsa_model_free(&m);
}
END_TEST

START_TEST(test_decode_equals_prefill) {
    enum { NL = 4, L = 40, K = 6 };
    ic_dsa_model m;
    make_model(&m, NL, K, 13);
    int32_t tok[L];
    random_tokens(tok, L, m.w.cfg.vocab_size, 5);
    const int V = m.w.cfg.vocab_size;
    const char *specs[] = {"dense", "FFFF", "FSFS", "FSSF", "FSSS"};
    for (int i = 0; i < 5; i++) {
        ic_error err;
        ic_error_clear(&err);
        ic_pattern p = pat(specs[i], NL);
        float *ref = reference_logits(&m, &p, tok, L, 0);
        ic_dsa_cache c;
        ck_assert_msg(ic_dsa_cache_init(&c, ic_test_ctx(0), &m, &m.w, &p, L, &err) == 0, "%s",
                      err.msg);
        double worst = 0;
        for (int t = 0; t < L; t++) {
            float lg[64];
            ck_assert_msg(ic_dsa_decode_step(&c, tok[t], lg, &err) == 0, "%s", err.msg);
            double d = ic_max_abs_diff_f32(lg, ref + (size_t)t * V, (size_t)V);
            if (d > worst) worst = d;
        }
        ck_assert_msg(worst < 1e-4, "%s: decode vs prefill logits differ by %g", specs[i], worst);
        ck_assert_int_eq(c.kv.T, L);
        float lg[64];
        ck_assert_int_eq(ic_dsa_decode_step(&c, tok[0], lg, &err), -1);   /* full */
        ck_assert_msg(strstr(err.msg, "full") != NULL, "%s", err.msg);
        ic_dsa_cache_free(&c);
        free(ref);
    }
    ic_dsa_model_free(&m);
}
END_TEST

START_TEST(test_cache_holds_f_layers_only) {
    enum { NL = 4, T = 50, K = 6 };
    ic_dsa_model m;
    make_model(&m, NL, K, 14);
    ic_error err;
    ic_error_clear(&err);
    const int dI = m.idims.head_dim;
    const size_t kv = 2 * (size_t)NL * T * m.w.cfg.n_kv_heads * m.w.cfg.head_dim * sizeof(float);
    const char *specs[] = {"dense", "FFFF", "FSFS", "FSSS"};
    const int nf[] = {0, 4, 2, 1};
    for (int i = 0; i < 4; i++) {
        ic_pattern p = pat(specs[i], NL);
        ic_dsa_cache c;
        ck_assert_int_eq(ic_dsa_cache_init(&c, ic_test_ctx(0), &m, &m.w, &p, T, &err), 0);
        size_t kvb, ixb;
        ic_dsa_cache_bytes(&c, T, &kvb, &ixb);
        ck_assert_uint_eq(kvb, kv);
        ck_assert_uint_eq(ixb, (size_t)nf[i] * T * dI * sizeof(float));
        for (int l = 0; i > 0 && l < NL; l++)
            ck_assert_int_eq(c.ik[l] != NULL, ic_pattern_is_full(&p, l));
        /* the random fill leaves a cache a step can continue from */
        ck_assert_int_eq(ic_dsa_cache_fill_random(&c, T - 1, 7, &err), 0);
        float lg[64];
        ck_assert_int_eq(ic_dsa_decode_step(&c, 3, lg, &err), 0);
        for (int v = 0; v < m.w.cfg.vocab_size; v++) ck_assert(isfinite(lg[v]));
        ck_assert_int_eq(ic_dsa_cache_fill_random(&c, T + 1, 7, &err), -1);
        ic_dsa_cache_free(&c);
    }
    /* an F layer without an indexer is an error naming it */
    ic_error_clear(&err);
    ic_indexer_free(&m.ix[2]);
    ic_pattern p = pat("FSFS", NL);
    ic_dsa_cache c;
    ck_assert_int_eq(ic_dsa_cache_init(&c, ic_test_ctx(0), &m, &m.w, &p, T, &err), -1);
    ck_assert_msg(strstr(err.msg, "layer 2") != NULL, "%s", err.msg);
    ic_dsa_model_free(&m);
}
END_TEST

START_TEST(test_amdahl) {
    ic_bench_prefill f = {.ok = 1, .total = 10, .ph = {1, 2, 1, 3, 3}};
    ic_pattern p = pat("FSFS", 4), a = pat("FFFF", 4), d = pat("dense", 4), s = pat("FSSS", 4);
    /* indexer 4 of 10: half the F layers -> 6 + 2 = 8 */
    ck_assert(fabs(ic_bench_amdahl(&f, &p) - 10.0 / 8.0) < 1e-12);
    ck_assert(fabs(ic_bench_amdahl(&f, &a) - 1.0) < 1e-12);
    ck_assert(fabs(ic_bench_amdahl(&f, &s) - 10.0 / 7.0) < 1e-12);
    ck_assert(ic_bench_amdahl(&f, &d) == 0.0);   /* no bound for dense */
}
END_TEST

int main(void) {
    Suite *s = suite_create("bench");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_timed_prefill_equals_forward);
    tcase_add_test(tc, test_phases_partition_the_time);
    tcase_add_test(tc, test_decode_equals_prefill);
    tcase_add_test(tc, test_cache_holds_f_layers_only);
    tcase_add_test(tc, test_amdahl);
    suite_add_tcase(s, tc);
    return ic_test_run_suite(s);
}
