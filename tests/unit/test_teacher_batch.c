/* The batched prefill (model/ic_teacher_batch.h) on the CPU against the
 * per-window path (ic_teacher_embed + ic_teacher_layers + ic_teacher_loss,
 * itself tested against a double-precision HF Llama in test_teacher.c):
 * ragged B and L, windows of different tokens (attention leaking across
 * windows shows here; positions that failed to restart per window would
 * not, since RoPE scores depend on position differences only: the cudasim
 * RoPE test checks the positions themselves),
 * targets with gaps (< 0), a Qwen2-style model with q/k/v bias and an
 * untied head, a call of another shape in between, and the errors. fp32:
 * the GEMMs over B*L rows may sum in another order than over L rows, so
 * 1e-5 relative, not bits. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/ic_teacher.h"
#include "model/ic_teacher_batch.h"
#include "testutil.h"

static void make_model(ic_weights *w, int bias, int tied, uint64_t seed) {
    ic_config c;
    memset(&c, 0, sizeof c);
    c.vocab_size = 61; c.hidden_size = 32; c.intermediate_size = 40; c.n_layers = 3;
    c.n_heads = 4; c.n_kv_heads = 2; c.head_dim = 8; c.rope_theta = 10000.0f;
    c.rms_norm_eps = 1e-5f; c.max_position_embeddings = 512;
    c.tie_word_embeddings = tied; c.attention_bias = bias;
    ic_error err; ic_error_clear(&err);
    ck_assert_int_eq(ic_weights_init(w, &c, &err), 0);
    ic_rng r; ic_rng_seed(&r, seed);
    ic_fill_normal(&r, w->block, w->n_floats, 0.3f);
}

static void one_shape(const ic_weights *w, ic_teacher_batch *tb, int B, int L, uint64_t seed) {
    const ic_config *c = &w->cfg;
    const int V = c->vocab_size, D = c->hidden_size;
    const size_t R = (size_t)B * L;
    ic_error err; ic_error_clear(&err);
    ic_rng r; ic_rng_seed(&r, seed);
    int32_t *tok = malloc(sizeof(int32_t) * R), *tgt = malloc(sizeof(int32_t) * R);
    for (size_t i = 0; i < R; i++) tok[i] = (int32_t)(ic_rng_next(&r) % (uint64_t)V);
    for (size_t i = 0; i < R; i++)
        tgt[i] = (i + 1) % (size_t)L == 0 || i % 7 == 3 ? -1 : tok[i + 1];
    double bs = 0; long bn = 0;
    ck_assert_msg(ic_teacher_batch_run(w, tb, tok, tgt, B, L, &bs, &bn, &err) == 0, "%s", err.msg);

    ic_teacher_state s;
    ck_assert_int_eq(ic_teacher_state_init(&s, ic_test_ctx(0), c, L, &err), 0);
    float *h = malloc(sizeof(float) * (size_t)L * D);
    double ps_all = 0; long pn_all = 0;
    for (int b = 0; b < B; b++) {
        const size_t o = (size_t)b * L;
        ck_assert_int_eq(ic_teacher_embed(ic_test_ctx(0), w, tok + o, L, h, &err), 0);
        ck_assert_int_eq(ic_teacher_layers(w, &s, h, L, 0, c->n_layers, NULL, &err), 0);
        double ps; long pn;
        ic_teacher_loss(w, &s, h, L, tgt + o, &ps, &pn);
        ps_all += ps; pn_all += pn;
        double rel = ic_rel_err_f32(tb->hidden + o * D, h, (size_t)L * D);
        ck_assert_msg(rel < 1e-5, "B=%d L=%d window %d: hidden rel err %g", B, L, b, rel);
        for (int t = 0; t < L; t++) {
            float a = tb->nll_host[o + t], e = s.nll[t];
            ck_assert_msg(fabsf(a - e) <= 1e-5f * (1.0f + fabsf(e)),
                          "B=%d L=%d window %d t=%d: nll %g vs %g", B, L, b, t, a, e);
        }
    }
    ck_assert_int_eq(bn, pn_all);
    ck_assert_msg(fabs(bs - ps_all) <= 1e-5 * (1.0 + fabs(ps_all)), "sum %g vs %g", bs, ps_all);
    /* without targets: the layers only, the same hidden state */
    ck_assert_int_eq(ic_teacher_batch_run(w, tb, tok, NULL, B, L, NULL, NULL, &err), 0);
    ck_assert(ic_rel_err_f32(tb->hidden + (size_t)(B - 1) * L * D, h, (size_t)L * D) < 1e-5);
    free(h); free(tok); free(tgt);
    ic_teacher_state_free(&s);
}

static void run_model(int bias, int tied, uint64_t seed) {
    ic_weights w;
    make_model(&w, bias, tied, seed);
    ic_teacher_batch tb;
    ic_error err; ic_error_clear(&err);
    ck_assert_int_eq(ic_teacher_batch_init(&tb, ic_test_ctx(0), &w.cfg, 5, 70, 1, &err), 0);
    ck_assert_int_eq(tb.use_graph, 0);   /* no graphs on the CPU */
    const int shapes[][2] = {{1, 1}, {3, 17}, {5, 70}, {2, 64}, {3, 17}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        one_shape(&w, &tb, shapes[i][0], shapes[i][1], seed + 10 * i);
    ic_teacher_batch_free(&tb);
    ic_weights_free(&w);
}

START_TEST(test_batch_llama) { run_model(0, 1, 501); }
END_TEST

START_TEST(test_batch_qwen2) { run_model(1, 0, 502); }
END_TEST

START_TEST(test_batch_errors) {
    ic_weights w;
    make_model(&w, 0, 1, 503);
    ic_teacher_batch tb;
    ic_error err; ic_error_clear(&err);
    ck_assert_int_eq(ic_teacher_batch_init(&tb, ic_test_ctx(0), &w.cfg, 2, 8, 1, &err), 0);
    int32_t tok[3 * 9];
    for (int i = 0; i < 27; i++) tok[i] = i;
    tok[8 + 2] = w.cfg.vocab_size;   /* window 1, position 2 */
    ck_assert_int_eq(ic_teacher_batch_run(&w, &tb, tok, NULL, 2, 8, NULL, NULL, &err), -1);
    ck_assert_msg(strstr(err.msg, "window 1") != NULL, "%s", err.msg);
    ic_error_clear(&err);
    ck_assert_int_eq(ic_teacher_batch_run(&w, &tb, tok, NULL, 3, 8, NULL, NULL, &err), -1);
    ck_assert_msg(strstr(err.msg, "do not fit") != NULL, "%s", err.msg);
    ic_error_clear(&err);
    ck_assert_int_eq(ic_teacher_batch_run(&w, &tb, tok, NULL, 1, 9, NULL, NULL, &err), -1);
    ck_assert_msg(strstr(err.msg, "do not fit") != NULL, "%s", err.msg);
    ic_error_clear(&err);
    ic_teacher_batch bad;
    ck_assert_int_eq(ic_teacher_batch_init(&bad, ic_test_ctx(0), &w.cfg, 0, 8, 1, &err), -1);
    ic_teacher_batch_free(&tb);
    ic_weights_free(&w);
}
END_TEST

int main(void) {
    Suite *s = suite_create("teacher_batch");
    TCase *tc = tcase_create("teacher_batch");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_batch_llama);
    tcase_add_test(tc, test_batch_qwen2);
    tcase_add_test(tc, test_batch_errors);
    suite_add_tcase(s, tc);
    return ic_test_run_suite(s);
}
