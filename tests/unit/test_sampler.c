/* data/ic_sampler: generator known answers, window bounds, determinism,
 * coverage per epoch, rank disjointness, R x B == 1 x RB, resume. */
#include <stdlib.h>
#include <string.h>

#include "data/ic_sampler.h"
#include "testutil.h"

/* The flat stream of window starts of a single-rank sampler: stream[p]. */
static uint64_t *single_stream(uint64_t n_tokens, uint64_t L, int targets, uint64_t seed,
                               int batch, int steps) {
    ic_sampler s; ic_error err; ic_error_clear(&err);
    ck_assert_int_eq(ic_sampler_init(&s, n_tokens, L, targets, batch, 0, 1, seed, &err), 0);
    uint64_t *out = malloc((size_t)batch * steps * sizeof *out);
    for (int t = 0; t < steps; t++) ic_sampler_next(&s, out + (size_t)t * batch);
    ic_sampler_free(&s);
    return out;
}

START_TEST(test_prng_known_answers) {
    /* splitmix64 from state 0: Vigna's reference outputs. */
    ic_prng g = {0};
    ck_assert_uint_eq(ic_prng_next(&g), 0xe220a8397b1dcdafull);
    ck_assert_uint_eq(ic_prng_next(&g), 0x6e789e6aa1b965f4ull);
    ck_assert_uint_eq(ic_prng_next(&g), 0x06c45d188009454full);
    ck_assert_uint_eq(ic_prng_next(&g), 0xf88bb8a8724c81ecull);
    /* bounded draws: in range and about uniform (chi-square, 9 dof) */
    ic_prng_seed(&g, 42);
    int cnt[10] = {0};
    for (int i = 0; i < 100000; i++) {
        uint64_t v = ic_prng_below(&g, 10);
        ck_assert_uint_lt(v, 10);
        cnt[v]++;
    }
    double chi = 0;
    for (int i = 0; i < 10; i++) chi += (cnt[i] - 1e4) * (cnt[i] - 1e4) / 1e4;
    ck_assert_msg(chi < 30, "chi-square %g over 9 dof (p < 1e-3)", chi);
    ck_assert_uint_eq(ic_prng_below(&g, 1), 0);
}
END_TEST

START_TEST(test_window_counts) {
    ic_sampler s; ic_error err; ic_error_clear(&err);
    /* oracle: count i with i*L + span <= N by brute force */
    const uint64_t Ns[] = {1000, 1001, 999, 100, 101, 12345};
    for (size_t c = 0; c < sizeof Ns / sizeof *Ns; c++)
        for (int targets = 0; targets <= 1; targets++) {
            uint64_t L = 100, span = L + targets, want = 0;
            for (uint64_t i = 0; i * L + span <= Ns[c]; i++) want++;
            if (want == 0) {  /* no full window: refused */
                ck_assert_int_eq(ic_sampler_init(&s, Ns[c], L, targets, 1, 0, 1, 7, &err), -1);
                ic_error_clear(&err);
                continue;
            }
            ck_assert_int_eq(ic_sampler_init(&s, Ns[c], L, targets, 1, 0, 1, 7, &err), 0);
            ck_assert_uint_eq(ic_sampler_n_windows(&s), want);
            ck_assert_uint_eq(s.st.span, span);
            ic_sampler_free(&s);
        }
    ck_assert_int_eq(ic_sampler_init(&s, 100, 100, 1, 1, 0, 1, 7, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "100 tokens"));
    ic_error_clear(&err);
    ck_assert_int_eq(ic_sampler_init(&s, 1000, 10, 1, 1, 2, 2, 7, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "rank"));
}
END_TEST

START_TEST(test_determinism_and_coverage) {
    const uint64_t N = 10007, L = 64;  /* W = 156 */
    const int B = 5, steps = 100;      /* 500 positions: 3+ epochs, batches straddle */
    uint64_t *a = single_stream(N, L, 1, 1234, B, steps);
    uint64_t *b = single_stream(N, L, 1, 1234, B, steps);
    uint64_t *c = single_stream(N, L, 1, 1235, B, steps);
    ck_assert(memcmp(a, b, (size_t)B * steps * sizeof *a) == 0);
    ck_assert(memcmp(a, c, (size_t)B * steps * sizeof *a) != 0);
    const uint64_t W = (N - 1) / L;
    ck_assert_uint_eq(W, 156);
    char *seen = malloc(W);
    for (uint64_t e = 0; e < 3; e++) {
        memset(seen, 0, W);
        for (uint64_t p = e * W; p < (e + 1) * W; p++) {
            ck_assert_uint_eq(a[p] % L, 0);
            ck_assert_uint_le(a[p] + L + 1, N);  /* window and its target inside the split */
            uint64_t w = a[p] / L;
            ck_assert_msg(!seen[w], "epoch %llu: window %llu twice", (unsigned long long)e,
                          (unsigned long long)w);
            seen[w] = 1;
        }
        for (uint64_t w = 0; w < W; w++) ck_assert(seen[w]);
    }
    /* each epoch is reshuffled: epoch 1's order is not epoch 0's */
    ck_assert(memcmp(a, a + W, W * sizeof *a) != 0);
    /* not the identity either */
    int in_order = 1;
    for (uint64_t p = 0; p < W; p++) in_order &= a[p] == p * L;
    ck_assert(!in_order);
    free(seen); free(a); free(b); free(c);
}
END_TEST

/* The first window of an epoch over many seeds is about uniform: the
 * shuffle is not biased towards the start or the end. */
START_TEST(test_shuffle_uniform) {
    enum { W = 8, TRIALS = 8000 };
    int cnt[W] = {0};
    for (uint64_t seed = 0; seed < TRIALS; seed++) {
        ic_sampler s; ic_error err; ic_error_clear(&err);
        ck_assert_int_eq(ic_sampler_init(&s, W * 10, 10, 0, 1, 0, 1, seed * 977, &err), 0);
        uint64_t st;
        ic_sampler_next(&s, &st);
        cnt[st / 10]++;
        ic_sampler_free(&s);
    }
    double chi = 0, e = (double)TRIALS / W;
    for (int i = 0; i < W; i++) chi += (cnt[i] - e) * (cnt[i] - e) / e;
    ck_assert_msg(chi < 24.3, "chi-square %g over 7 dof (p < 1e-3)", chi);
}
END_TEST

/* R ranks x batch B see the windows of 1 rank x batch R*B: disjoint shares,
 * same union, sample j of rank r = sample j*R + r of the single batch. */
static void check_ranks(int R, int B, int targets) {
    const uint64_t N = 5003, L = 32;
    const int steps = 40;  /* > one epoch of 156 windows for R*B >= 4 */
    uint64_t *single = single_stream(N, L, targets, 99, R * B, steps);
    ic_sampler *s = calloc(R, sizeof *s);
    ic_error err; ic_error_clear(&err);
    for (int r = 0; r < R; r++)
        ck_assert_int_eq(ic_sampler_init(&s[r], N, L, targets, B, r, R, 99, &err), 0);
    uint64_t *got = malloc((size_t)R * B * sizeof *got);
    for (int t = 0; t < steps; t++) {
        for (int r = 0; r < R; r++) ic_sampler_next(&s[r], got + (size_t)r * B);
        const uint64_t *want = single + (size_t)t * R * B;
        for (int r = 0; r < R; r++)
            for (int j = 0; j < B; j++)
                ck_assert_msg(got[(size_t)r * B + j] == want[(size_t)j * R + r],
                              "step %d rank %d sample %d", t, r, j);
        /* disjoint across ranks within the step (W > R*B here) */
        for (int x = 0; x < R * B; x++)
            for (int y = x + 1; y < R * B; y++)
                if (x / B != y / B) ck_assert_uint_ne(got[x], got[y]);
    }
    for (int r = 0; r < R; r++) {
        ck_assert_uint_eq(ic_sampler_steps(&s[r]), steps);
        ic_sampler_free(&s[r]);
    }
    free(s); free(got); free(single);
}

START_TEST(test_two_ranks_equal_one_rank_2b) { check_ranks(2, 4, 1); }
END_TEST
START_TEST(test_three_ranks) { check_ranks(3, 2, 0); }
END_TEST

START_TEST(test_resume) {
    const uint64_t N = 7777, L = 50;
    const int B = 3, R = 2;
    ic_error err; ic_error_clear(&err);
    /* uninterrupted: rank 1's 20 steps */
    ic_sampler full;
    ck_assert_int_eq(ic_sampler_init(&full, N, L, 1, B, 1, R, 5, &err), 0);
    uint64_t want[20][3];
    for (int t = 0; t < 20; t++) ic_sampler_next(&full, want[t]);
    /* interrupted after 7 steps, cursor through JSON text */
    ic_sampler a;
    ck_assert_int_eq(ic_sampler_init(&a, N, L, 1, B, 1, R, 5, &err), 0);
    uint64_t tmp[3];
    for (int t = 0; t < 7; t++) ic_sampler_next(&a, tmp);
    ic_sampler_state st = ic_sampler_save(&a);
    json_t *j = ic_sampler_state_to_json(&st);
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    json_error_t jerr;
    json_t *back = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    ck_assert_ptr_nonnull(back);
    ic_sampler_state st2;
    ck_assert_int_eq(ic_sampler_state_from_json(back, &st2, &err), 0);
    ck_assert(memcmp(&st, &st2, sizeof st) == 0);
    ic_sampler b;
    ck_assert_int_eq(ic_sampler_init(&b, N, L, 1, B, 1, R, 5, &err), 0);
    ck_assert_int_eq(ic_sampler_restore(&b, &st2, &err), 0);
    for (int t = 7; t < 20; t++) {
        uint64_t got[3];
        ic_sampler_next(&b, got);
        ck_assert(memcmp(got, want[t], sizeof got) == 0);
    }
    /* seek to step 7 = 7 calls of next */
    ic_sampler sk;
    ck_assert_int_eq(ic_sampler_init(&sk, N, L, 1, B, 1, R, 5, &err), 0);
    ic_sampler_seek_step(&sk, 7);
    ic_sampler_next(&sk, tmp);
    ck_assert(memcmp(tmp, want[7], sizeof tmp) == 0);
    ic_sampler_free(&sk);
    /* The cursor is global: resuming on 3 ranks x 2 (same 6 per step)
     * continues the same global stream. */
    uint64_t *single = single_stream(N, L, 1, 5, 6, 20);
    for (int r = 0; r < 3; r++) {
        ic_sampler c;
        ck_assert_int_eq(ic_sampler_init(&c, N, L, 1, 2, r, 3, 5, &err), 0);
        ck_assert_int_eq(ic_sampler_restore(&c, &st2, &err), 0);
        for (int t = 7; t < 20; t++) {
            uint64_t got[2];
            ic_sampler_next(&c, got);
            for (int k = 0; k < 2; k++) ck_assert_uint_eq(got[k], single[t * 6 + k * 3 + r]);
        }
        ic_sampler_free(&c);
    }
    /* refusals: another split, another length, a misaligned position, bad JSON */
    ic_sampler d;
    ck_assert_int_eq(ic_sampler_init(&d, N + 1, L, 1, B, 0, R, 5, &err), 0);
    ck_assert_int_eq(ic_sampler_restore(&d, &st2, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "tokens"));
    ic_sampler_free(&d);
    ic_error_clear(&err);
    ck_assert_int_eq(ic_sampler_init(&d, N, L, 1, 4, 0, 1, 5, &err), 0);
    ck_assert_int_eq(ic_sampler_restore(&d, &st2, &err), -1);  /* 42 % 4 != 0 */
    ck_assert_ptr_nonnull(strstr(err.msg, "global batches"));
    ic_sampler_free(&d);
    ic_error_clear(&err);
    json_object_set_new(back, "seed", json_string("0x-12"));
    ck_assert_int_eq(ic_sampler_state_from_json(back, &st2, &err), -1);
    ic_error_clear(&err);
    json_object_set_new(back, "seed", json_string("0x12"));
    json_object_set_new(back, "position", json_integer(-3));
    ck_assert_int_eq(ic_sampler_state_from_json(back, &st2, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "position"));
    json_decref(back);
    free(text); free(single);
    ic_sampler_free(&full); ic_sampler_free(&a); ic_sampler_free(&b);
}
END_TEST

int main(void) {
    Suite *s = suite_create("sampler");
    TCase *tc = tcase_create("sampler");
    tcase_add_test(tc, test_prng_known_answers);
    tcase_add_test(tc, test_window_counts);
    tcase_add_test(tc, test_determinism_and_coverage);
    tcase_add_test(tc, test_shuffle_uniform);
    tcase_add_test(tc, test_two_ranks_equal_one_rank_2b);
    tcase_add_test(tc, test_three_ranks);
    tcase_add_test(tc, test_resume);
    suite_add_tcase(s, tc);
    return ic_test_run_suite(s);
}
