/* The DSA / IndexCache forward (model/ic_dsa.h) on small random models:
 *  - with K >= L every pattern equals dense attention end to end (forward
 *    and ic_eval over windows);
 *  - with K < L each F layer's kept sets are the top-k of a double-precision
 *    re-implementation of the indexer scores on the saved x_norm, and every
 *    layer's saved attention LSE equals a double-precision LSE over the sets
 *    of its source f(l) (and not over another F layer's sets);
 *  - perturbation: the S layer follows its source's indexer only;
 *  - mid-stack resume with the index buffer; error messages;
 *  - a model dir round trip through ic_dsa_model_save / _load. */
#define _GNU_SOURCE   /* nftw */
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model/ic_dsa.h"
#include "testutil.h"
#include "train/ic_eval.h"

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

static void set_pattern(ic_dsa_model *m, const char *spec) {
    ic_error err;
    ic_error_clear(&err);
    ck_assert_msg(ic_pattern_parse(&m->pattern, spec, m->w.cfg.n_layers, &err) == 0, "%s", err.msg);
}

/* loss (mean) and final hidden of one full forward with pattern spec */
static double run_loss(const ic_dsa_model *m, ic_dsa_state *st, const char *spec,
                       const int32_t *tok, int L, float *hidden_out) {
    ic_error err;
    ic_error_clear(&err);
    ic_pattern p;
    ck_assert_int_eq(ic_pattern_parse(&p, spec, m->w.cfg.n_layers, &err), 0);
    ic_dsa_fwd_opts o = {.pattern = &p};
    ic_dsa_result r;
    ck_assert_msg(ic_dsa_forward(m, st, tok, tok + 1, L, &o, &r, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(r.n_targets, L);
    if (hidden_out) memcpy(hidden_out, st->hidden, sizeof(float) * L * m->w.cfg.hidden_size);
    return r.sum_nll / (double)r.n_targets;
}

/* ---- K >= L: sparse == dense ------------------------------------------ */
START_TEST(test_full_k_equals_dense) {
    const int L = 23, NL = 4;
    ic_dsa_model m;
    make_model(&m, NL, 32, 11);           /* K = 32 >= L */
    ic_error err;
    ic_error_clear(&err);
    ic_dsa_state st;
    ck_assert_int_eq(ic_dsa_state_init(&st, ic_test_ctx(0), &m, L, &err), 0);
    int32_t tok[24];
    random_tokens(tok, L + 1, m.w.cfg.vocab_size, 5);
    const int D = m.w.cfg.hidden_size;
    float *hd = malloc(sizeof(float) * L * D), *hp = malloc(sizeof(float) * L * D);
    double dense = run_loss(&m, &st, "dense", tok, L, hd);
    ck_assert(isfinite(dense) && dense > 0.5);   /* a real, non-degenerate loss */
    const char *pats[] = {"FFFF", "FSFS", "FSSS", "FFSF", "uniform:3"};
    for (int i = 0; i < 5; i++) {
        double lp = run_loss(&m, &st, pats[i], tok, L, hp);
        ck_assert_msg(fabs(lp - dense) < 1e-5, "%s: %.8f vs dense %.8f", pats[i], lp, dense);
        ck_assert_msg(ic_max_abs_diff_f32(hp, hd, (size_t)L * D) < 1e-4, "%s hidden", pats[i]);
    }

    /* the same through the eval driver over 3 windows */
    enum { N = 3 };
    uint32_t *toks = malloc(sizeof(uint32_t) * (N * L + 1));
    ic_rng r;
    ic_rng_seed(&r, 9);
    for (int i = 0; i < N * L + 1; i++) toks[i] = (uint32_t)(ic_rng_next(&r) % 61);
    ic_dsa_selector sel;
    ck_assert_int_eq(ic_dsa_selector_init(&sel, ic_test_ctx(0), &m, L, &err), 0);
    ic_eval_opts eo = {.seq_len = L, .n_windows = N};
    ic_eval_result rd, rp;
    ck_assert_int_eq(ic_eval_tokens(ic_test_ctx(0), &m.w, toks, N * L + 1, &eo, &rd, &err), 0);
    for (int i = 0; i < 5; i++) {
        ic_pattern p;
        ck_assert_int_eq(ic_pattern_parse(&p, pats[i], NL, &err), 0);
        ic_teacher_opts to;
        ck_assert_int_eq(ic_dsa_selector_opts(&sel, &p, IC_DSA_MODE_PATTERN, NULL, NULL, &to, &err), 0);
        eo.topts = &to;
        ck_assert_msg(ic_eval_tokens(ic_test_ctx(0), &m.w, toks, N * L + 1, &eo, &rp, &err) == 0, "%s", err.msg);
        ck_assert_msg(fabs(rp.loss - rd.loss) < 1e-5, "eval %s: %.8f vs %.8f", pats[i], rp.loss, rd.loss);
        ck_assert_int_eq(rp.tokens, rd.tokens);
    }
    ic_dsa_selector_free(&sel);
    free(toks);
    free(hd);
    free(hp);
    ic_dsa_state_free(&st);
    ic_dsa_model_free(&m);
}
END_TEST

/* ---- double-precision oracles ----------------------------------------- */

/* I [L, L] (row t, s <= t) of indexer ix on x [L, D], docs/DESIGN.md s3. */
static void ref_indexer_scores(const ic_indexer *ix, const float *x, int L, double *I) {
    const ic_indexer_dims *dm = &ix->dims;
    const int D = dm->dim, H = dm->n_heads, dI = dm->head_dim, r = dm->rope_dim;
    double *q = malloc(sizeof(double) * L * H * dI), *k = malloc(sizeof(double) * L * dI);
    double *w = malloc(sizeof(double) * L * H);
    for (int t = 0; t < L; t++) {
        const float *xt = x + (size_t)t * D;
        for (int o = 0; o < H * dI; o++) {
            double s = 0;
            for (int i = 0; i < D; i++) s += (double)ix->wq_b[(size_t)o * D + i] * xt[i];
            q[(size_t)t * H * dI + o] = s;
        }
        double kp[64], mean = 0, var = 0;
        for (int o = 0; o < dI; o++) {
            double s = 0;
            for (int i = 0; i < D; i++) s += (double)ix->wk[(size_t)o * D + i] * xt[i];
            kp[o] = s;
            mean += s;
        }
        mean /= dI;
        for (int o = 0; o < dI; o++) var += (kp[o] - mean) * (kp[o] - mean);
        var /= dI;
        for (int o = 0; o < dI; o++)
            k[(size_t)t * dI + o] = (kp[o] - mean) / sqrt(var + 1e-6) * ix->k_norm_weight[o] +
                                    ix->k_norm_bias[o];
        for (int j = 0; j < H; j++) {
            double s = 0;
            for (int i = 0; i < D; i++) s += (double)ix->weights_proj[(size_t)j * D + i] * xt[i];
            w[(size_t)t * H + j] = s / sqrt((double)H) / sqrt((double)dI);
        }
        /* RoPE on the first r dims, pairs (i, i + r/2) */
        for (int hh = 0; hh <= H; hh++) {
            double *v = hh < H ? q + ((size_t)t * H + hh) * dI : k + (size_t)t * dI;
            for (int i = 0; i < r / 2; i++) {
                double a = t * pow((double)dm->rope_theta, -2.0 * i / r);
                double x0 = v[i], x1 = v[i + r / 2];
                v[i] = x0 * cos(a) - x1 * sin(a);
                v[i + r / 2] = x1 * cos(a) + x0 * sin(a);
            }
        }
    }
    for (int t = 0; t < L; t++)
        for (int s = 0; s <= t; s++) {
            double acc = 0;
            for (int j = 0; j < H; j++) {
                double dot = 0;
                for (int i = 0; i < dI; i++) dot += q[((size_t)t * H + j) * dI + i] * k[(size_t)s * dI + i];
                acc += w[(size_t)t * H + j] * (dot > 0 ? dot : 0);
            }
            I[(size_t)t * L + s] = acc;
        }
    free(q); free(k); free(w);
}

/* The kept set of each row is a valid top-k of the oracle scores: causal,
 * distinct, cnt = min(K, t+1), sorted by score, and no unselected key
 * scores above the lowest selected one (up to float rounding). */
static void check_topk(const int32_t *idx, const int32_t *cnt, const double *I, int L, int K) {
    char *in = malloc((size_t)L);
    for (int t = 0; t < L; t++) {
        ck_assert_int_eq(cnt[t], t + 1 < K ? t + 1 : K);
        memset(in, 0, (size_t)L);
        double scale = 0, lo = INFINITY;
        for (int s = 0; s <= t; s++) scale = fmax(scale, fabs(I[(size_t)t * L + s]));
        const double tol = 1e-5 * (scale + 1);
        for (int j = 0; j < cnt[t]; j++) {
            int s = idx[(size_t)t * K + j];
            ck_assert(s >= 0 && s <= t && !in[s]);
            in[s] = 1;
            double v = I[(size_t)t * L + s];
            if (j > 0) ck_assert(v <= I[(size_t)t * L + idx[(size_t)t * K + j - 1]] + tol);
            lo = fmin(lo, v);
        }
        for (int j = cnt[t]; j < K; j++) ck_assert_int_eq(idx[(size_t)t * K + j], -1);
        for (int s = 0; s <= t; s++)
            if (!in[s]) ck_assert_msg(I[(size_t)t * L + s] <= lo + tol, "row %d key %d", t, s);
    }
    free(in);
}

/* max |lse - LSE over the set|, in double from the saved q, k */
static double lse_err(const float *q, const float *k, const float *lse, const int32_t *idx,
                      const int32_t *cnt, int L, int K, int H, int Hkv, int d) {
    double worst = 0;
    for (int t = 0; t < L; t++)
        for (int h = 0; h < H; h++) {
            int g = h / (H / Hkv);
            double mx = -INFINITY, sc[64], sum = 0;
            for (int j = 0; j < cnt[t]; j++) {
                int s = idx[(size_t)t * K + j];
                double dot = 0;
                for (int i = 0; i < d; i++)
                    dot += (double)q[((size_t)t * H + h) * d + i] * k[((size_t)s * Hkv + g) * d + i];
                sc[j] = dot / sqrt((double)d);
                mx = fmax(mx, sc[j]);
            }
            for (int j = 0; j < cnt[t]; j++) sum += exp(sc[j] - mx);
            worst = fmax(worst, fabs(mx + log(sum) - lse[(size_t)h * L + t]));
        }
    return worst;
}

typedef struct {
    ic_teacher_saved save[8];
    ic_dsa_index_set keep[8];
} saved_all;

static void saved_alloc(saved_all *s, const ic_config *c, int L, int K) {
    memset(s, 0, sizeof *s);
    for (int l = 0; l < c->n_layers; l++) {
        s->save[l].x_norm = malloc(sizeof(float) * L * c->hidden_size);
        s->save[l].q = malloc(sizeof(float) * L * c->n_heads * c->head_dim);
        s->save[l].k = malloc(sizeof(float) * L * c->n_kv_heads * c->head_dim);
        s->save[l].lse = malloc(sizeof(float) * L * c->n_heads);
        s->keep[l].idx = malloc(sizeof(int32_t) * L * K);
        s->keep[l].cnt = malloc(sizeof(int32_t) * L);
        for (int i = 0; i < L * K; i++) s->keep[l].idx[i] = -7;   /* poison: must be overwritten */
    }
}
static void saved_free(saved_all *s, int n) {
    for (int l = 0; l < n; l++) {
        free(s->save[l].x_norm); free(s->save[l].q); free(s->save[l].k); free(s->save[l].lse);
        free(s->keep[l].idx); free(s->keep[l].cnt);
    }
}

static double forward_saved(const ic_dsa_model *m, ic_dsa_state *st, const char *spec,
                            ic_dsa_mode mode, const int32_t *tok, int L, saved_all *sv) {
    ic_error err;
    ic_error_clear(&err);
    ic_pattern p;
    ck_assert_int_eq(ic_pattern_parse(&p, spec, m->w.cfg.n_layers, &err), 0);
    ic_dsa_fwd_opts o = {.pattern = &p, .mode = mode, .save = sv->save, .keep = sv->keep};
    ic_dsa_result r;
    ck_assert_msg(ic_dsa_forward(m, st, tok, tok + 1, L, &o, &r, &err) == 0, "%s", err.msg);
    return r.sum_nll;
}

/* ---- K < L: the sets and the attention against double oracles -------- */
START_TEST(test_pattern_oracle) {
    const int L = 40, K = 6, NL = 5;
    const char *spec = "FSSFS";
    ic_dsa_model m;
    make_model(&m, NL, K, 21);
    const ic_config *c = &m.w.cfg;
    ic_error err;
    ic_error_clear(&err);
    ic_dsa_state st;
    ck_assert_int_eq(ic_dsa_state_init(&st, ic_test_ctx(0), &m, L, &err), 0);
    int32_t tok[41];
    random_tokens(tok, L + 1, c->vocab_size, 6);
    saved_all sv;
    saved_alloc(&sv, c, L, K);
    forward_saved(&m, &st, spec, IC_DSA_MODE_PATTERN, tok, L, &sv);
    double *I = malloc(sizeof(double) * L * L);
    const int H = c->n_heads, Hkv = c->n_kv_heads, d = c->head_dim;
    for (int l = 0; l < NL; l++) {
        if (spec[l] == 'F') {
            ref_indexer_scores(&m.ix[l], sv.save[l].x_norm, L, I);
            check_topk(sv.keep[l].idx, sv.keep[l].cnt, I, L, K);
        } else {
            ck_assert_int_eq(sv.keep[l].idx[0], -7);   /* S layers keep nothing */
        }
        int f = spec[l] == 'F' ? l : (l < 3 ? 0 : 3);
        double e = lse_err(sv.save[l].q, sv.save[l].k, sv.save[l].lse, sv.keep[f].idx,
                           sv.keep[f].cnt, L, K, H, Hkv, d);
        ck_assert_msg(e < 2e-5, "layer %d: lse vs its source %d's sets: %g", l, f, e);
        /* the oracle tells sets apart: the other F layer's sets do not fit */
        int other = f == 0 ? 3 : 0;
        double e2 = lse_err(sv.save[l].q, sv.save[l].k, sv.save[l].lse, sv.keep[other].idx,
                            sv.keep[other].cnt, L, K, H, Hkv, d);
        ck_assert_msg(e2 > 1e-2, "layer %d: the sets of layer %d fit too (%g)", l, other, e2);
    }
    /* all layers own indexer: every layer's sets are its own top-k */
    forward_saved(&m, &st, spec, IC_DSA_MODE_OWN, tok, L, &sv);
    for (int l = 0; l < NL; l++) {
        ref_indexer_scores(&m.ix[l], sv.save[l].x_norm, L, I);
        check_topk(sv.keep[l].idx, sv.keep[l].cnt, I, L, K);
        ck_assert(lse_err(sv.save[l].q, sv.save[l].k, sv.save[l].lse, sv.keep[l].idx,
                          sv.keep[l].cnt, L, K, H, Hkv, d) < 2e-5);
    }
    free(I);
    saved_free(&sv, NL);
    ic_dsa_state_free(&st);
    ic_dsa_model_free(&m);
}
END_TEST

static void perturb(ic_indexer *ix, uint64_t seed) {
    ic_rng r;
    ic_rng_seed(&r, seed);
    for (size_t i = 0; i < ix->numel; i++) ix->data[i] += (float)(0.5 * ic_rng_normal(&r));
}

/* ---- perturbation: the S layer follows its source only --------------- */
START_TEST(test_reuse_perturbation) {
    const int L = 40, K = 5, NL = 4;
    const char *spec = "FSFS";   /* layer 1 reuses 0, layer 3 reuses 2 */
    ic_dsa_model m;
    make_model(&m, NL, K, 31);
    const ic_config *c = &m.w.cfg;
    ic_error err;
    ic_error_clear(&err);
    ic_dsa_state st;
    ck_assert_int_eq(ic_dsa_state_init(&st, ic_test_ctx(0), &m, L, &err), 0);
    int32_t tok[41];
    random_tokens(tok, L + 1, c->vocab_size, 8);
    saved_all a, b;
    saved_alloc(&a, c, L, K);
    saved_alloc(&b, c, L, K);
    const size_t nlse = (size_t)c->n_heads * L;
    double base = forward_saved(&m, &st, spec, IC_DSA_MODE_PATTERN, tok, L, &a);

    /* the S layers' own indexers are never run: nothing changes, bit for bit */
    ic_indexer keep1 = m.ix[1], keep3 = m.ix[3];
    float *save1 = malloc(sizeof(float) * keep1.numel), *save3 = malloc(sizeof(float) * keep3.numel);
    memcpy(save1, keep1.data, sizeof(float) * keep1.numel);
    memcpy(save3, keep3.data, sizeof(float) * keep3.numel);
    perturb(&m.ix[1], 1);
    perturb(&m.ix[3], 2);
    ck_assert(forward_saved(&m, &st, spec, IC_DSA_MODE_PATTERN, tok, L, &b) == base);
    for (int l = 0; l < NL; l++)
        ck_assert(memcmp(a.save[l].lse, b.save[l].lse, sizeof(float) * nlse) == 0);
    memcpy(m.ix[1].data, save1, sizeof(float) * keep1.numel);
    memcpy(m.ix[3].data, save3, sizeof(float) * keep3.numel);

    /* layer 2's indexer (F, after layer 1): layers 0-1 unchanged, 2-3 and the loss change */
    float *save2 = malloc(sizeof(float) * m.ix[2].numel);
    memcpy(save2, m.ix[2].data, sizeof(float) * m.ix[2].numel);
    perturb(&m.ix[2], 3);
    double l2 = forward_saved(&m, &st, spec, IC_DSA_MODE_PATTERN, tok, L, &b);
    ck_assert(l2 != base);
    for (int l = 0; l < 2; l++) ck_assert(memcmp(a.save[l].lse, b.save[l].lse, sizeof(float) * nlse) == 0);
    ck_assert(memcmp(a.keep[2].idx, b.keep[2].idx, sizeof(int32_t) * L * K) != 0);
    ck_assert(ic_max_abs_diff_f32(a.save[3].lse, b.save[3].lse, nlse) > 1e-3);
    memcpy(m.ix[2].data, save2, sizeof(float) * m.ix[2].numel);

    /* layer 0's indexer (the source of 1): layer 1's attention changes, and
     * is the attention over layer 0's new sets */
    perturb(&m.ix[0], 4);
    forward_saved(&m, &st, spec, IC_DSA_MODE_PATTERN, tok, L, &b);
    ck_assert(memcmp(a.keep[0].idx, b.keep[0].idx, sizeof(int32_t) * L * K) != 0);
    ck_assert(ic_max_abs_diff_f32(a.save[1].lse, b.save[1].lse, nlse) > 1e-3);
    ck_assert(lse_err(b.save[1].q, b.save[1].k, b.save[1].lse, b.keep[0].idx, b.keep[0].cnt,
                      L, K, c->n_heads, c->n_kv_heads, c->head_dim) < 2e-5);

    /* the source matters, not just any F layer: pattern FFFS vs FSFS differ at layer 1 */
    double lf = forward_saved(&m, &st, "FFFS", IC_DSA_MODE_PATTERN, tok, L, &a);
    ck_assert(lf != forward_saved(&m, &st, spec, IC_DSA_MODE_PATTERN, tok, L, &b));
    ck_assert(ic_max_abs_diff_f32(a.save[1].lse, b.save[1].lse, nlse) > 1e-3);

    free(save1); free(save2); free(save3);
    saved_free(&a, NL);
    saved_free(&b, NL);
    ic_dsa_state_free(&st);
    ic_dsa_model_free(&m);
}
END_TEST

/* ---- mid-stack resume with the hidden state and the index buffer ------ */
START_TEST(test_resume) {
    const int L = 33, K = 4, NL = 4;
    ic_dsa_model m;
    make_model(&m, NL, K, 41);
    set_pattern(&m, "FSSF");
    const int D = m.w.cfg.hidden_size;
    ic_error err;
    ic_error_clear(&err);
    ic_dsa_state st;
    ck_assert_int_eq(ic_dsa_state_init(&st, ic_test_ctx(0), &m, L, &err), 0);
    int32_t tok[34];
    random_tokens(tok, L + 1, m.w.cfg.vocab_size, 10);
    ic_dsa_result full, part;
    ck_assert_int_eq(ic_dsa_forward(&m, &st, tok, tok + 1, L, NULL, &full, &err), 0);

    float *h = malloc(sizeof(float) * L * D);
    int32_t *idx = malloc(sizeof(int32_t) * L * K), *cnt = malloc(sizeof(int32_t) * L);
    for (int cut = 1; cut < NL; cut++) {
        ic_dsa_fwd_opts o1 = {.layer_end = cut, .hidden = h};
        ck_assert_int_eq(ic_dsa_forward(&m, &st, tok, NULL, L, &o1, NULL, &err), 0);
        memcpy(idx, st.sel.idx, sizeof(int32_t) * L * K);
        memcpy(cnt, st.sel.cnt, sizeof(int32_t) * L);
        memset(st.sel.idx, 0xff, sizeof(int32_t) * L * K);   /* the copy must be what counts */
        ic_dsa_fwd_opts o2 = {.layer_begin = cut, .hidden = h, .idx_in = idx, .cnt_in = cnt};
        ck_assert_msg(ic_dsa_forward(&m, &st, NULL, tok + 1, L, &o2, &part, &err) == 0, "%s", err.msg);
        ck_assert_msg(part.sum_nll == full.sum_nll, "cut %d: %.9g vs %.9g", cut, part.sum_nll,
                      full.sum_nll);
    }
    /* resuming at an S layer without the buffer is an error saying so */
    ic_dsa_fwd_opts o3 = {.layer_begin = 1, .hidden = h};
    ck_assert_int_eq(ic_dsa_forward(&m, &st, NULL, tok + 1, L, &o3, NULL, &err), -1);
    ck_assert_msg(strstr(err.msg, "layer 1 is S") && strstr(err.msg, "buffer"), "%s", err.msg);
    /* loss before the last layer is refused */
    ic_error_clear(&err);
    ic_dsa_fwd_opts o4 = {.layer_end = 2};
    ck_assert_int_eq(ic_dsa_forward(&m, &st, tok, tok + 1, L, &o4, NULL, &err), -1);
    free(h); free(idx); free(cnt);
    ic_dsa_state_free(&st);
    ic_dsa_model_free(&m);
}
END_TEST

/* ---- model dir round trip and missing-indexer errors ------------------ */
START_TEST(test_load_and_errors) {
    const int NL = 4, L = 30;
    ic_config c;
    ic_dsa_tiny_config(&c, NL, 5);
    int want[4] = {1, 0, 1, 0};
    ic_dsa_model m, back;
    ic_error err;
    ic_error_clear(&err);
    ck_assert_int_eq(ic_dsa_model_init(&m, &c, want, 0, &err), 0);
    ic_dsa_model_fill_random(&m, 51);
    set_pattern(&m, "FSFS");
    const char *dir = ic_test_tmpdir("dsa");
    ck_assert_msg(ic_dsa_model_save(&m, dir, &err) == 0, "%s", err.msg);

    /* loads with its own pattern (config) and gives the same loss */
    ck_assert_msg(ic_dsa_model_load(&back, dir, NULL, 0, IC_DSA_LOAD_PATTERN, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(back.pattern.c, "FSFS");
    ck_assert_int_eq(back.topk, 5);
    ck_assert(!ic_dsa_model_has_indexer(&back, 1) && ic_dsa_model_has_indexer(&back, 2));
    ic_dsa_state s1, s2;
    ck_assert_int_eq(ic_dsa_state_init(&s1, ic_test_ctx(0), &m, L, &err), 0);
    ck_assert_int_eq(ic_dsa_state_init(&s2, ic_test_ctx(0), &back, L, &err), 0);
    int32_t tok[31];
    random_tokens(tok, L + 1, c.vocab_size, 12);
    ic_dsa_result r1, r2;
    ck_assert_int_eq(ic_dsa_forward(&m, &s1, tok, tok + 1, L, NULL, &r1, &err), 0);
    ck_assert_int_eq(ic_dsa_forward(&back, &s2, tok, tok + 1, L, NULL, &r2, &err), 0);
    ck_assert(r1.sum_nll == r2.sum_nll);
    /* a pattern whose F layer has no indexer: forward refuses naming the layer */
    ic_pattern p;
    ck_assert_int_eq(ic_pattern_parse(&p, "FFSS", NL, &err), 0);
    ic_dsa_fwd_opts o = {.pattern = &p};
    ck_assert_int_eq(ic_dsa_forward(&back, &s2, tok, tok + 1, L, &o, NULL, &err), -1);
    ck_assert_msg(strstr(err.msg, "layer 1 is F") != NULL, "%s", err.msg);
    ic_error_clear(&err);
    o.mode = IC_DSA_MODE_OWN;
    ck_assert_int_eq(ic_dsa_forward(&back, &s2, tok, tok + 1, L, &o, NULL, &err), -1);
    ck_assert_msg(strstr(err.msg, "layer 1") != NULL, "%s", err.msg);
    ic_dsa_state_free(&s1);
    ic_dsa_state_free(&s2);
    ic_dsa_model_free(&back);

    /* load refuses the same, naming the layer and the dir */
    ic_error_clear(&err);
    ck_assert_int_eq(ic_dsa_model_load(&back, dir, "uniform:1", 0, IC_DSA_LOAD_PATTERN, &err), -1);
    ck_assert_msg(strstr(err.msg, "layer 1") && strstr(err.msg, dir), "%s", err.msg);
    ic_error_clear(&err);
    ck_assert_int_eq(ic_dsa_model_load(&back, dir, NULL, 0, IC_DSA_LOAD_ALL, &err), -1);
    ck_assert_msg(strstr(err.msg, "layer 1") && strstr(err.msg, dir), "%s", err.msg);
    ic_error_clear(&err);
    ck_assert_int_eq(ic_dsa_model_load(&back, dir, "FSXS", 0, IC_DSA_LOAD_PATTERN, &err), -1);
    ic_error_clear(&err);
    /* dense needs no indexer; present mode loads the two there are; --topk overrides */
    ck_assert_int_eq(ic_dsa_model_load(&back, dir, "dense", 7, IC_DSA_LOAD_PRESENT, &err), 0);
    ck_assert(back.pattern.dense && back.topk == 7 && ic_dsa_model_has_indexer(&back, 0));
    ic_dsa_model_free(&back);
    ic_dsa_model_free(&m);
    ic_test_rm_tree(dir);
}
END_TEST

int main(void) {
    Suite *s = suite_create("dsa");
    TCase *tc = tcase_create("dsa");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_full_k_equals_dense);
    tcase_add_test(tc, test_pattern_oracle);
    tcase_add_test(tc, test_reuse_perturbation);
    tcase_add_test(tc, test_resume);
    tcase_add_test(tc, test_load_and_errors);
    suite_add_tcase(s, tc);
    return ic_test_run_suite(s);
}
