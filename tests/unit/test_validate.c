/* The validation ops (kernels/ic_validate.h): index sets and tokens are
 * accepted exactly when they follow the rules of docs/CONVENTIONS.md, and a
 * refusal names the first bad row / position. The oracle is the rule
 * written out per entry with an O(K^2) distinctness test. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ic_topk.h"
#include "kernels/ic_validate.h"
#include "testutil.h"

static int rule_ok(const int32_t *idx, const int32_t *cnt, int L, int K) {
    for (int t = 0; t < L; t++) {
        int n = cnt[t];
        if (n < 1 || n > K || n > t + 1) return 0;
        for (int i = 0; i < n; i++) {
            int s = idx[(size_t)t * K + i];
            if (s < 0 || s > t) return 0;
            for (int j = 0; j < i; j++) if (idx[(size_t)t * K + j] == s) return 0;
        }
    }
    return 1;
}

static int check(const int32_t *idx, const int32_t *cnt, int L, int K, ic_error *err) {
    ic_ctx *ctx = ic_test_ctx(ic_index_sets_check_workspace_bytes(ic_test_ctx(0), L));
    ic_error_clear(err);
    return ic_index_sets_check(ctx, idx, cnt, L, K, err);
}

START_TEST(test_index_sets) {
    const int L = 40, K = 6;
    ic_rng r; ic_rng_seed(&r, 77);
    float *S = malloc(sizeof(float) * L * L);
    ic_fill_normal(&r, S, (size_t)L * L, 1.0f);
    int32_t *idx = malloc(sizeof(int32_t) * L * K), *cnt = malloc(sizeof(int32_t) * L);
    int32_t *idx0 = malloc(sizeof(int32_t) * L * K), *cnt0 = malloc(sizeof(int32_t) * L);
    ic_topk_forward(ic_test_ctx(ic_topk_workspace_bytes(ic_test_ctx(0), L)), idx0, cnt0, S, L, 0, L, K);
    ic_error err;
    ck_assert(rule_ok(idx0, cnt0, L, K));
    ck_assert_int_eq(check(idx0, cnt0, L, K, &err), 0);
    /* entries past cnt are not read */
    memcpy(idx, idx0, sizeof(int32_t) * L * K); memcpy(cnt, cnt0, sizeof(int32_t) * L);
    idx[2 * K + 5] = 999;
    ck_assert_int_eq(check(idx, cnt, L, K, &err), 0);
    /* each kind of fault, at random rows, refused with the row named */
    for (int trial = 0; trial < 200; trial++) {
        memcpy(idx, idx0, sizeof(int32_t) * L * K); memcpy(cnt, cnt0, sizeof(int32_t) * L);
        int t = 1 + (int)(ic_rng_uniform(&r) * (L - 1)), kind = trial % 5;
        int n = cnt[t];
        if (kind == 0) cnt[t] = 0;
        else if (kind == 1) cnt[t] = (K < t + 1 ? K : t + 1) + 1;
        else if (kind == 2) idx[(size_t)t * K + (n - 1)] = t + 1;          /* the future */
        else if (kind == 3) idx[(size_t)t * K + (n - 1)] = -1;
        else if (n >= 2) idx[(size_t)t * K + 1] = idx[(size_t)t * K];      /* repeated */
        else cnt[t] = 0;
        ck_assert(!rule_ok(idx, cnt, L, K));
        ck_assert_int_eq(check(idx, cnt, L, K, &err), -1);
        char row[32];
        snprintf(row, sizeof row, "row %d ", t);
        ck_assert_msg(strstr(err.msg, row) != NULL, "kind %d at row %d: '%s'", kind, t, err.msg);
    }
    free(S); free(idx); free(cnt); free(idx0); free(cnt0);
}
END_TEST

START_TEST(test_tokens) {
    int32_t tok[5] = {0, 3, 9, 2, 1};
    ic_error err; ic_error_clear(&err);
    ck_assert_int_eq(ic_tokens_check(ic_test_ctx(0), tok, 5, 10, &err), 0);
    tok[3] = 10;
    ck_assert_int_eq(ic_tokens_check(ic_test_ctx(0), tok, 5, 10, &err), -1);
    ck_assert_msg(strstr(err.msg, "token 10 at position 3"), "%s", err.msg);
    tok[3] = -4;
    ic_error_clear(&err);
    ck_assert_int_eq(ic_tokens_check(ic_test_ctx(0), tok, 5, 10, &err), -1);
    ck_assert_msg(strstr(err.msg, "position 3"), "%s", err.msg);
}
END_TEST

int main(void) {
    Suite *s = suite_create("validate");
    TCase *tc = tcase_create("validate");
    tcase_add_test(tc, test_index_sets);
    tcase_add_test(tc, test_tokens);
    suite_add_tcase(s, tc);
    return ic_test_run_suite(s);
}
