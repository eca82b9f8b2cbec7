/* The teacher forward on a small random Llama (and a Qwen2-style variant
 * with q/k/v bias and an untied head) against an independent
 * double-precision implementation of HF LlamaForCausalLM; mid-stack
 * stop/resume, the decode path, saved tensors and the selection hook. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/ic_teacher.h"
#include "testutil.h"

static ic_config small_config(int bias, int tied) {
    ic_config c;
    memset(&c, 0, sizeof c);
    c.vocab_size = 67; c.hidden_size = 32; c.intermediate_size = 48; c.n_layers = 3;
    c.n_heads = 4; c.n_kv_heads = 2; c.head_dim = 8; c.rope_theta = 10000.0f;
    c.rms_norm_eps = 1e-5f; c.max_position_embeddings = 256;
    c.tie_word_embeddings = tied; c.attention_bias = bias;
    return c;
}

static void random_weights(ic_weights *w, uint64_t seed) {
    ic_rng r; ic_rng_seed(&r, seed);
    ic_weight_entry e[64];
    int n = ic_weights_tensors(w, e, 64);
    ck_assert_int_le(n, 64);
    for (int i = 0; i < n; i++) {
        size_t cnt = (size_t)e[i].shape[0] * (e[i].ndim == 2 ? (size_t)e[i].shape[1] : 1);
        if (e[i].ndim == 1 && strstr(e[i].name, "norm")) ic_fill_uniform(&r, e[i].dst, cnt, 0.5f, 1.5f);
        else ic_fill_normal(&r, e[i].dst, cnt, e[i].ndim == 2 ? 0.3f : 0.1f);
    }
}

/* ---- double-precision reference ------------------------------------- */
static void ref_rmsnorm(double *o, const double *x, const float *w, int D, double eps) {
    double ss = 0; for (int i = 0; i < D; i++) ss += x[i] * x[i];
    double inv = 1.0 / sqrt(ss / D + eps);
    for (int i = 0; i < D; i++) o[i] = w[i] * x[i] * inv;
}
static void ref_linear(double *o, const double *x, const float *W, const float *b, int N, int K) {
    for (int j = 0; j < N; j++) {
        double s = b ? b[j] : 0; for (int k = 0; k < K; k++) s += W[(size_t)j * K + k] * x[k];
        o[j] = s;
    }
}
static void ref_rope(double *x, int nh, int d, int pos, double theta) {
    for (int h = 0; h < nh; h++)
        for (int i = 0; i < d / 2; i++) {
            double a = pos * pow(theta, -2.0 * i / d), *v = x + h * d;
            double x0 = v[i], x1 = v[i + d / 2];
            v[i] = x0 * cos(a) - x1 * sin(a); v[i + d / 2] = x1 * cos(a) + x0 * sin(a);
        }
}

/* logits [L, V]; q/k/lse of layer save_l (roped, CONVENTIONS layouts). */
static void ref_forward(const ic_weights *w, const int32_t *tok, int L, double *logits,
                        int save_l, double *sq, double *sk, double *slse) {
    const ic_config *c = &w->cfg;
    int D = c->hidden_size, H = c->n_heads, Hkv = c->n_kv_heads, d = c->head_dim, F = c->intermediate_size;
    int V = c->vocab_size, gs = H / Hkv;
    double *h = malloc(sizeof(double) * L * D), *xn = malloc(sizeof(double) * D);
    double *q = malloc(sizeof(double) * L * H * d), *k = malloc(sizeof(double) * L * Hkv * d);
    double *v = malloc(sizeof(double) * L * Hkv * d), *att = malloc(sizeof(double) * H * d);
    double *tmp = malloc(sizeof(double) * (D + 2 * F)), *p = malloc(sizeof(double) * L);
    double *g = tmp + D, *u = g + F;
    for (int t = 0; t < L; t++) for (int i = 0; i < D; i++) h[t * D + i] = w->embed[(size_t)tok[t] * D + i];
    for (int l = 0; l < c->n_layers; l++) {
        const ic_layer_weights *lw = &w->layers[l];
        for (int t = 0; t < L; t++) {
            ref_rmsnorm(xn, h + t * D, lw->attn_norm, D, c->rms_norm_eps);
            ref_linear(q + t * H * d, xn, lw->wq, lw->bq, H * d, D);
            ref_linear(k + t * Hkv * d, xn, lw->wk, lw->bk, Hkv * d, D);
            ref_linear(v + t * Hkv * d, xn, lw->wv, lw->bv, Hkv * d, D);
            ref_rope(q + t * H * d, H, d, t, c->rope_theta);
            ref_rope(k + t * Hkv * d, Hkv, d, t, c->rope_theta);
        }
        if (l == save_l) { memcpy(sq, q, sizeof(double) * L * H * d); memcpy(sk, k, sizeof(double) * L * Hkv * d); }
        for (int t = 0; t < L; t++) {   /* attention then the residual of row t */
            for (int hh = 0; hh < H; hh++) {
                int gg = hh / gs; double m = -INFINITY, sum = 0;
                for (int s = 0; s <= t; s++) {
                    double dot = 0; for (int i = 0; i < d; i++) dot += q[(t * H + hh) * d + i] * k[(s * Hkv + gg) * d + i];
                    p[s] = dot / sqrt((double)d); m = fmax(m, p[s]);
                }
                for (int s = 0; s <= t; s++) sum += exp(p[s] - m);
                if (l == save_l) slse[hh * L + t] = m + log(sum);
                for (int i = 0; i < d; i++) {
                    double o = 0; for (int s = 0; s <= t; s++) o += exp(p[s] - m) / sum * v[(s * Hkv + gg) * d + i];
                    att[hh * d + i] = o;
                }
            }
            ref_linear(tmp, att, lw->wo, NULL, D, H * d);
            for (int i = 0; i < D; i++) h[t * D + i] += tmp[i];
            ref_rmsnorm(xn, h + t * D, lw->mlp_norm, D, c->rms_norm_eps);
            ref_linear(g, xn, lw->w_gate, NULL, F, D);
            ref_linear(u, xn, lw->w_up, NULL, F, D);
            for (int i = 0; i < F; i++) g[i] = g[i] / (1 + exp(-g[i])) * u[i];
            double *o = malloc(sizeof(double) * D);
            ref_linear(o, g, lw->w_down, NULL, D, F);
            for (int i = 0; i < D; i++) h[t * D + i] += o[i];
            free(o);
        }
    }
    for (int t = 0; t < L; t++) {
        ref_rmsnorm(xn, h + t * D, w->final_norm, D, c->rms_norm_eps);
        ref_linear(logits + (size_t)t * V, xn, w->lm_head, NULL, V, D);
    }
    free(h); free(xn); free(q); free(k); free(v); free(att); free(tmp); free(p);
}

static double rel(const float *a, const double *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) { if (isnan(a[i])) return INFINITY; num += (a[i] - b[i]) * (a[i] - b[i]); den += b[i] * b[i]; }
    return sqrt(num / den);
}

/* ---- the selection hook: full causal index sets + a loop sparse attention */
typedef struct { int calls[8]; const float *xn_seen[8]; int32_t *idx, *cnt; int K; } sel_ctx;

static int select_all(void *ctx, int layer, ic_dtype dt, const void *x_norm, int L,
                      const int32_t **idx, const int32_t **cnt, int *K) {
    sel_ctx *s = ctx;
    ck_assert_int_eq(dt, IC_F32);      /* the CPU teacher's activations */
    s->calls[layer]++;
    s->xn_seen[layer] = x_norm;
    if (layer == 0) return 0;          /* layer 0 stays dense */
    for (int t = 0; t < L; t++) {      /* every visible key, in descending order */
        s->cnt[t] = t + 1 < s->K ? t + 1 : s->K;
        for (int j = 0; j < s->K; j++) s->idx[t * s->K + j] = j < s->cnt[t] ? t - j : -1;
    }
    *idx = s->idx; *cnt = s->cnt; *K = s->K;
    return 1;
}

static void sparse_loop(ic_ctx *ctx, ic_dtype dt, void *out_, float *lse, const void *q_,
                        const void *k_, const void *v_, int L, int H, int Hkv, int d,
                        const int32_t *idx, const int32_t *cnt, int K) {
    ck_assert_int_eq(dt, IC_F32);
    float *out = out_;
    const float *q = q_, *k = k_, *v = v_;
    double *p = malloc(sizeof(double) * K);
    for (int t = 0; t < L; t++)
        for (int h = 0; h < H; h++) {
            int g = h / (H / Hkv); double m = -INFINITY, sum = 0;
            for (int j = 0; j < cnt[t]; j++) {
                int s = idx[t * K + j]; double dot = 0;
                for (int i = 0; i < d; i++) dot += (double)q[(t * H + h) * d + i] * k[(s * Hkv + g) * d + i];
                p[j] = dot / sqrt((double)d); m = fmax(m, p[j]);
            }
            for (int j = 0; j < cnt[t]; j++) sum += exp(p[j] - m);
            lse[h * L + t] = (float)(m + log(sum));
            for (int i = 0; i < d; i++) {
                double o = 0;
                for (int j = 0; j < cnt[t]; j++) o += exp(p[j] - m) / sum * v[(idx[t * K + j] * Hkv + g) * d + i];
                out[(t * H + h) * d + i] = (float)o;
            }
        }
    free(p);
}

static void run_case(int bias, int tied, uint64_t seed) {
    ic_error err; ic_error_clear(&err);
    ic_config c = small_config(bias, tied);
    ic_weights w;
    ck_assert_int_eq(ic_weights_init(&w, &c, &err), 0);
    ck_assert(tied ? w.lm_head == w.embed : w.lm_head != w.embed);
    random_weights(&w, seed);
    const int L = 70, D = c.hidden_size, V = c.vocab_size, H = c.n_heads, Hkv = c.n_kv_heads, d = c.head_dim;
    ic_rng r; ic_rng_seed(&r, seed + 100);
    int32_t tok[70], tgt[70];
    for (int t = 0; t < L; t++) tok[t] = (int32_t)(ic_rng_next(&r) % V);
    for (int t = 0; t < L; t++) tgt[t] = t + 1 < L ? tok[t + 1] : -1;

    double *rl = malloc(sizeof(double) * L * V), *rq = malloc(sizeof(double) * L * H * d);
    double *rk = malloc(sizeof(double) * L * Hkv * d), *rlse = malloc(sizeof(double) * H * L);
    ref_forward(&w, tok, L, rl, 1, rq, rk, rlse);

    ic_teacher_state s;
    ck_assert_int_eq(ic_teacher_state_init(&s, ic_test_ctx(0), &c, L, &err), 0);
    float *hid = malloc(sizeof(float) * L * D), *hid2 = malloc(sizeof(float) * L * D);
    float *logits = malloc(sizeof(float) * L * V);
    ic_teacher_saved save[3]; memset(save, 0, sizeof save);
    save[1].q = malloc(sizeof(float) * L * H * d); save[1].k = malloc(sizeof(float) * L * Hkv * d);
    save[1].lse = malloc(sizeof(float) * H * L); save[1].x_norm = malloc(sizeof(float) * L * D);
    ic_teacher_opts opts = {.save = save};
    ck_assert_int_eq(ic_teacher_embed(ic_test_ctx(0), &w, tok, L, hid, &err), 0);
    ck_assert_int_eq(ic_teacher_layers(&w, &s, hid, L, 0, c.n_layers, &opts, &err), 0);
    ic_teacher_logits(&w, &s, hid, L, logits);
    double e = rel(logits, rl, (size_t)L * V);
    ck_assert_msg(e < 1e-5, "logits rel err %g", e);
    ck_assert_msg(rel(save[1].q, rq, (size_t)L * H * d) < 1e-5, "saved q");
    ck_assert_msg(rel(save[1].k, rk, (size_t)L * Hkv * d) < 1e-5, "saved k");
    ck_assert_msg(rel(save[1].lse, rlse, (size_t)H * L) < 1e-5, "saved lse");

    /* loss in row blocks == mean NLL of the reference logits */
    double sum, ref_sum = 0; long n;
    ic_teacher_loss(&w, &s, hid, L, tgt, &sum, &n);
    for (int t = 0; t + 1 < L; t++) {
        double m = -INFINITY, z = 0; const double *row = rl + (size_t)t * V;
        for (int j = 0; j < V; j++) m = fmax(m, row[j]);
        for (int j = 0; j < V; j++) z += exp(row[j] - m);
        ref_sum += m + log(z) - row[tgt[t]];
    }
    ck_assert_int_eq(n, L - 1);
    ck_assert_msg(fabs(sum - ref_sum) < 1e-5 * fabs(ref_sum), "loss %g vs %g", sum, ref_sum);

    /* stop after layer 1, resume from the hidden state: bitwise the same */
    ck_assert_int_eq(ic_teacher_embed(ic_test_ctx(0), &w, tok, L, hid2, &err), 0);
    ck_assert_int_eq(ic_teacher_layers(&w, &s, hid2, L, 0, 1, NULL, &err), 0);
    ck_assert_int_eq(ic_teacher_layers(&w, &s, hid2, L, 1, 2, NULL, &err), 0);
    ck_assert_int_eq(ic_teacher_layers(&w, &s, hid2, L, 2, 3, NULL, &err), 0);
    ck_assert(memcmp(hid, hid2, sizeof(float) * L * D) == 0);

    /* decode token by token == each row of the full forward */
    ic_kv_cache kc;
    ck_assert_int_eq(ic_kv_cache_init(&kc, ic_test_ctx(0), &c, L, &err), 0);
    float *lrow = malloc(sizeof(float) * V);
    for (int t = 0; t < L; t++) {
        ck_assert_int_eq(ic_teacher_decode_step(&w, &kc, tok[t], lrow, &err), 0);
        double et = rel(lrow, rl + (size_t)t * V, V);
        ck_assert_msg(et < 1e-5, "decode row %d rel err %g", t, et);
    }
    ck_assert_int_eq(ic_teacher_decode_step(&w, &kc, tok[0], lrow, &err), -1);   /* cache full */
    ck_assert(strstr(err.msg, "full") != NULL);

    /* selection hook with full causal index sets through a sparse kernel == dense */
    sel_ctx sc; memset(&sc, 0, sizeof sc);
    sc.K = 80; sc.idx = malloc(sizeof(int32_t) * L * sc.K); sc.cnt = malloc(sizeof(int32_t) * L);
    ic_teacher_opts so = {.save = save, .select = select_all, .select_ctx = &sc, .sparse_attn = sparse_loop};
    ck_assert_int_eq(ic_teacher_embed(ic_test_ctx(0), &w, tok, L, hid2, &err), 0);
    ck_assert_int_eq(ic_teacher_layers(&w, &s, hid2, L, 0, c.n_layers, &so, &err), 0);
    for (int l = 0; l < 3; l++) { ck_assert_int_eq(sc.calls[l], 1); ck_assert_ptr_eq(sc.xn_seen[l], s.x_norm); }
    ic_teacher_logits(&w, &s, hid2, L, logits);
    ck_assert_msg(rel(logits, rl, (size_t)L * V) < 1e-5, "sparse-all logits");
    ck_assert_msg(rel(save[1].lse, rlse, (size_t)H * L) < 1e-5, "sparse lse");
    /* a sparse request without a kernel is an error, not a crash */
    so.sparse_attn = NULL;
    ck_assert_int_eq(ic_teacher_layers(&w, &s, hid2, L, 0, c.n_layers, &so, &err), -1);

    /* bad inputs */
    ic_error_clear(&err);
    int32_t bad[2] = {3, V};
    ck_assert_int_eq(ic_teacher_embed(ic_test_ctx(0), &w, bad, 2, hid2, &err), -1);
    ck_assert(strstr(err.msg, "position 1") != NULL);
    ck_assert_int_eq(ic_teacher_layers(&w, &s, hid2, L + 1, 0, 1, NULL, &err), -1);
    ck_assert_int_eq(ic_teacher_layers(&w, &s, hid2, L, 2, 4, NULL, &err), -1);

    free(rl); free(rq); free(rk); free(rlse); free(hid); free(hid2); free(logits); free(lrow);
    free(save[1].q); free(save[1].k); free(save[1].lse); free(save[1].x_norm);
    free(sc.idx); free(sc.cnt);
    ic_kv_cache_free(&kc);
    ic_teacher_state_free(&s);
    ic_weights_free(&w);
}

START_TEST(test_teacher_llama) { run_case(0, 1, 41); }
END_TEST
START_TEST(test_teacher_qwen2_untied) { run_case(1, 0, 42); }
END_TEST

int main(void) {
    Suite *s = suite_create("teacher");
    TCase *tc = tcase_create("teacher");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_teacher_llama);
    tcase_add_test(tc, test_teacher_qwen2_untied);
    suite_add_tcase(s, tc);
    return ic_test_run_suite(s);
}
