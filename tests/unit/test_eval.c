/* The eval driver over an in-memory token array: windowing (N windows of L
 * tokens, targets shifted by one, deterministic), the mean loss against
 * logits of the (separately tested) teacher scored in double, and errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/ic_teacher.h"
#include "testutil.h"
#include "train/ic_eval.h"

static void make_model(ic_weights *w) {
    ic_config c;
    memset(&c, 0, sizeof c);
    c.vocab_size = 53; c.hidden_size = 16; c.intermediate_size = 24; c.n_layers = 2;
    c.n_heads = 2; c.n_kv_heads = 1; c.head_dim = 8; c.rope_theta = 10000.0f;
    c.rms_norm_eps = 1e-5f; c.tie_word_embeddings = 1;
    ic_error err; ic_error_clear(&err);
    ck_assert_int_eq(ic_weights_init(w, &c, &err), 0);
    ic_rng r; ic_rng_seed(&r, 77);
    ic_fill_normal(&r, w->block, w->n_floats, 0.4f);
}

/* mean NLL of windows [i*L, i*L+L) predicting the next token, in double */
static double oracle(const ic_weights *w, const uint32_t *tok, int L, int N) {
    const int V = w->cfg.vocab_size, D = w->cfg.hidden_size;
    ic_error err; ic_error_clear(&err);
    ic_teacher_state s;
    ck_assert_int_eq(ic_teacher_state_init(&s, ic_test_ctx(0), &w->cfg, L, &err), 0);
    float *h = malloc(sizeof(float) * L * D), *lg = malloc(sizeof(float) * L * V);
    int32_t *t32 = malloc(sizeof(int32_t) * L);
    double sum = 0;
    for (int i = 0; i < N; i++) {
        for (int t = 0; t < L; t++) t32[t] = (int32_t)tok[i * L + t];
        ck_assert_int_eq(ic_teacher_embed(ic_test_ctx(0), w, t32, L, h, &err), 0);
        ck_assert_int_eq(ic_teacher_layers(w, &s, h, L, 0, w->cfg.n_layers, NULL, &err), 0);
        ic_teacher_logits(w, &s, h, L, lg);
        for (int t = 0; t < L; t++) {
            const float *z = lg + (size_t)t * V;
            double m = -INFINITY, e = 0;
            for (int j = 0; j < V; j++) m = fmax(m, z[j]);
            for (int j = 0; j < V; j++) e += exp(z[j] - m);
            sum += m + log(e) - z[tok[i * L + t + 1]];
        }
    }
    free(h); free(lg); free(t32);
    ic_teacher_state_free(&s);
    return sum / ((double)N * L);
}

START_TEST(test_eval_windows) {
    ic_weights w;
    make_model(&w);
    const int L = 67, N = 3;
    size_t n = (size_t)N * L + 1 + 10;   /* a few spare tokens: must be ignored */
    uint32_t *tok = malloc(n * sizeof *tok);
    ic_rng r; ic_rng_seed(&r, 78);
    for (size_t i = 0; i < n; i++) tok[i] = (uint32_t)(ic_rng_next(&r) % 53);
    ic_eval_opts o = {.seq_len = L, .n_windows = N};
    ic_eval_result res;
    ic_error err; ic_error_clear(&err);
    ck_assert_msg(ic_eval_tokens(ic_test_ctx(0), &w, tok, n, &o, &res, &err) == 0, "%s", err.msg);
    double ref = oracle(&w, tok, L, N);
    ck_assert_msg(fabs(res.loss - ref) < 1e-5 * ref, "loss %g vs %g", res.loss, ref);
    ck_assert(fabs(res.ppl - exp(ref)) < 1e-4 * exp(ref));
    ck_assert_int_eq(res.tokens, (long)N * L);
    ck_assert_int_eq(res.n_windows, N);
    /* deterministic: the same again, bit for bit */
    ic_eval_result again;
    ck_assert_int_eq(ic_eval_tokens(ic_test_ctx(0), &w, tok, n, &o, &again, &err), 0);
    ck_assert(again.loss == res.loss);
    /* n_windows <= 0: as many as fit (here still 3) */
    o.n_windows = 0;
    ck_assert_int_eq(ic_eval_tokens(ic_test_ctx(0), &w, tok, n, &o, &again, &err), 0);
    ck_assert_int_eq(again.n_windows, 3);
    ck_assert(again.loss == res.loss);
    /* batched (model/ic_teacher_batch.h): 2 windows per forward, the last
     * batch ragged (3 = 2 + 1); the same maths, GEMMs over more rows */
    o.batch = 2;
    ck_assert_msg(ic_eval_tokens(ic_test_ctx(0), &w, tok, n, &o, &again, &err) == 0, "%s", err.msg);
    ck_assert_msg(fabs(again.loss - ref) < 1e-5 * ref, "batched loss %g vs %g", again.loss, ref);
    ck_assert_int_eq(again.tokens, (long)N * L);
    ck_assert_int_eq(again.n_windows, N);
    o.batch = 0;
    /* too few tokens: N*L + 1 needed */
    o.n_windows = N;
    ck_assert_int_eq(ic_eval_tokens(ic_test_ctx(0), &w, tok, (size_t)N * L, &o, &again, &err), -1);
    ck_assert_msg(strstr(err.msg, "2 window(s)") != NULL, "%s", err.msg);
    /* a token outside the vocabulary */
    tok[L + 5] = 53;
    ic_error_clear(&err);
    ck_assert_int_eq(ic_eval_tokens(ic_test_ctx(0), &w, tok, n, &o, &again, &err), -1);
    ck_assert_msg(strstr(err.msg, "vocabulary") != NULL, "%s", err.msg);
    free(tok);
    ic_weights_free(&w);
}
END_TEST

int main(void) {
    Suite *s = suite_create("eval");
    TCase *tc = tcase_create("eval");
    tcase_add_test(tc, test_eval_windows);
    suite_add_tcase(s, tc);
    return ic_test_run_suite(s);
}
