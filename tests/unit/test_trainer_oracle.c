/* An oracle for the trainer that does not share its wiring: the loss and
 * the parameter gradients of ic_trainer_window (dense stage) must equal,
 * for every F layer l, ic_distill_loss over a served set G(l) written out
 * by hand here (l and the S layers after it up to the next F layer; {l}
 * for --loss single), on tensors saved by a plain dense teacher forward
 * (model/ic_teacher.h, not the DSA forward the trainer runs), followed by
 * the indexer's own forward and backward. test_trainer.c checks the
 * trainer against finite differences of its own loss, which a wrong G(l)
 * (or a wrong layer's x_norm) would pass; this one would not, and checks
 * that it would not: serving {l} alone where G(l) is larger must change
 * the loss. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/ic_dsa.h"
#include "model/ic_teacher.h"
#include "testutil.h"
#include "train/ic_trainer.h"

enum { NL = 6, L = 13, TOPK = 5 };

typedef struct {
    ic_teacher_saved sv[NL];
} dense_saves;

/* A dense teacher forward of tok saving x_norm, q, k and the LSE of every
 * layer. */
static void dense_forward(ic_ctx *ctx, const ic_dsa_model *m, const int32_t *tok, dense_saves *ds) {
    const ic_config *c = &m->w.cfg;
    ic_error err;
    ic_error_clear(&err);
    ic_teacher_state st;
    ck_assert_msg(ic_teacher_state_init(&st, ctx, c, L, &err) == 0, "%s", err.msg);
    float *hidden = calloc((size_t)L * c->hidden_size, sizeof *hidden);
    for (int l = 0; l < NL; l++) {
        ds->sv[l].x_norm = calloc((size_t)L * c->hidden_size, sizeof(float));
        ds->sv[l].q = calloc((size_t)L * c->n_heads * c->head_dim, sizeof(float));
        ds->sv[l].k = calloc((size_t)L * c->n_kv_heads * c->head_dim, sizeof(float));
        ds->sv[l].lse = calloc((size_t)c->n_heads * L, sizeof(float));
        ck_assert(ds->sv[l].x_norm && ds->sv[l].q && ds->sv[l].k && ds->sv[l].lse);
    }
    ck_assert(hidden);
    ic_teacher_opts o = { .save = ds->sv };
    ck_assert_msg(ic_teacher_embed(ctx, &m->w, tok, L, hidden, &err) == 0, "%s", err.msg);
    ck_assert_msg(ic_teacher_layers(&m->w, &st, hidden, L, 0, NL, &o, &err) == 0, "%s", err.msg);
    free(hidden);
    ic_teacher_state_free(&st);
}

static void saves_free(dense_saves *ds) {
    for (int l = 0; l < NL; l++) {
        free(ds->sv[l].x_norm); free(ds->sv[l].q); free(ds->sv[l].k); free(ds->sv[l].lse);
    }
}

/* G(l) from the pattern string itself: l, then every S layer after it up
 * to (not including) the next F. */
static int served_by_hand(const char *spec, int l, int single, int *out) {
    int n = 0;
    out[n++] = l;
    if (single) return n;
    for (int j = l + 1; j < NL && spec[j] == 'S'; j++) out[n++] = j;
    return n;
}

/* The oracle's loss of F layer l over `served`, and its gradients into g. */
static double oracle_layer(ic_ctx *ctx, const ic_dsa_model *m, const dense_saves *ds, int l,
                           const int *served, int ns, ic_indexer_grads *g) {
    const ic_config *c = &m->w.cfg;
    const ic_indexer_dims *id = &m->idims;
    ic_error err;
    ic_error_clear(&err);
    ic_indexer_acts acts;
    ck_assert_msg(ic_indexer_acts_init(&acts, ctx, id, L, &err) == 0, "%s", err.msg);
    ic_indexer_forward(&m->ix[l], ds->sv[l].x_norm, L, 0, &acts);
    ic_distill_teacher tch[NL];
    for (int j = 0; j < ns; j++)
        tch[j] = (ic_distill_teacher){ ds->sv[served[j]].q, ds->sv[served[j]].k, ds->sv[served[j]].lse };
    ic_distill_desc d = {
        .L = L, .n_idx_heads = id->n_heads, .idx_head_dim = id->head_dim, .n_heads = c->n_heads,
        .n_kv_heads = c->n_kv_heads, .head_dim = c->head_dim, .stage = IC_DISTILL_DENSE,
    };
    ck_assert_msg(ic_ctx_reserve(ctx, ic_distill_loss_workspace_bytes(ctx, &d), &err) == 0, "%s", err.msg);
    float *dq = calloc((size_t)L * id->n_heads * id->head_dim, sizeof *dq);
    float *dk = calloc((size_t)L * id->head_dim, sizeof *dk);
    float *dw = calloc((size_t)L * id->n_heads, sizeof *dw);
    ck_assert(dq && dk && dw);
    ic_distill_stats s;
    ck_assert_msg(ic_distill_loss_backward(ctx, &d, acts.qI, acts.kI, acts.w, tch, ns, dq, dk, dw, &s,
                                           &err) == 0, "%s", err.msg);
    if (g) ic_indexer_backward(&m->ix[l], &acts, dq, dk, dw, g);
    free(dq); free(dk); free(dw);
    ic_indexer_acts_free(&acts);
    return s.loss;
}

static void check_pattern(const char *spec, int single, uint64_t seed) {
    ic_ctx *ctx = ic_test_ctx(0);
    ic_config cfg;
    ic_dsa_tiny_config(&cfg, NL, TOPK);
    ic_error err;
    ic_error_clear(&err);
    ic_dsa_model m;
    ck_assert_msg(ic_dsa_model_init(&m, &cfg, NULL, TOPK, &err) == 0, "%s", err.msg);
    ic_dsa_model_fill_random(&m, seed);
    ic_rng rng;
    ic_rng_seed(&rng, seed + 100);
    int32_t tok[L];
    for (int i = 0; i < L; i++) tok[i] = (int32_t)(ic_rng_next(&rng) % 61);

    ic_pattern pat;
    ck_assert(ic_pattern_parse(&pat, spec, NL, &err) == 0);
    ic_trainer t;
    ck_assert_msg(ic_trainer_init(&t, ctx, &m, &pat, IC_DISTILL_DENSE, single, L, &err) == 0, "%s", err.msg);
    ic_trainer_zero_grads(&t);
    ic_trainer_stats ts = { 0 };
    ck_assert_msg(ic_trainer_window(&t, tok, NULL, L, 1, &ts, &err) == 0, "%s", err.msg);

    dense_saves ds;
    dense_forward(ctx, &m, tok, &ds);
    double total = 0, total_own_only = 0;
    int grown = 0;
    for (int l = 0; l < NL; l++) {
        if (spec[l] != 'F') continue;
        int served[NL];
        int ns = served_by_hand(spec, l, single, served);
        ic_indexer_grads g;
        ck_assert_msg(ic_indexer_grads_init(&g, ctx, &m.idims, &err) == 0, "%s", err.msg);
        total += oracle_layer(ctx, &m, &ds, l, served, ns, &g);
        total_own_only += oracle_layer(ctx, &m, &ds, l, served, 1, NULL);
        grown |= ns > 1;
        /* the trainer's gradient of layer l, tensor by tensor */
        const ic_indexer_grads *tg = &t.grads[l];
        ck_assert(tg->data && tg->numel == g.numel);
        double worst = 0, scale = 0;
        for (size_t i = 0; i < g.numel; i++) scale = fmax(scale, fabs(g.data[i]));
        ck_assert_msg(scale > 0, "%s layer %d: the oracle's gradient is zero", spec, l);
        for (size_t i = 0; i < g.numel; i++) worst = fmax(worst, fabs((double)tg->data[i] - g.data[i]));
        ck_assert_msg(worst <= 1e-5 * scale, "%s%s layer %d: gradient differs by %.3g (scale %.3g)",
                      spec, single ? " single" : "", l, worst, scale);
        ic_indexer_grads_free(&g);
    }
    ck_assert_msg(fabs(ts.kl - total) <= 1e-6 * fabs(total),
                  "%s%s: trainer loss %.9g, oracle %.9g", spec, single ? " single" : "", ts.kl, total);
    /* the oracle can tell served sets apart */
    if (grown)
        ck_assert_msg(fabs(total_own_only - total) > 1e-4 * fabs(total),
                      "%s: serving {l} alone gives the same loss (%.9g): the check cannot fail", spec, total);
    saves_free(&ds);
    ic_trainer_free(&t);
    ic_dsa_model_free(&m);
}

START_TEST(test_oracle_multi) { check_pattern("FSSFSF", 0, 31); }
END_TEST
START_TEST(test_oracle_multi_tail) { check_pattern("FFSSSS", 0, 32); }
END_TEST
START_TEST(test_oracle_single) { check_pattern("FSSFSF", 1, 33); }
END_TEST
START_TEST(test_oracle_all_f) { check_pattern("FFFFFF", 0, 34); }
END_TEST

int main(void) {
    Suite *s = suite_create("trainer_oracle");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_oracle_multi);
    tcase_add_test(tc, test_oracle_multi_tail);
    tcase_add_test(tc, test_oracle_single);
    tcase_add_test(tc, test_oracle_all_f);
    suite_add_tcase(s, tc);
    return ic_test_run_suite(s);
}
