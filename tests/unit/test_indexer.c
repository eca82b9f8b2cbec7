/* The lightning indexer module (model/ic_indexer.h): forward against an
 * independent double-precision implementation of docs/DESIGN.md s3 (projections,
 * LayerNorm eps 1e-6, NeoX RoPE on the first r dims, the w scale), and the
 * gradients of all five parameter tensors (through the blocked scores
 * backward, RoPE, LayerNorm and the projections) against double-precision
 * central differences of f = sum_{s<=t} R[t,s] I[t,s]. Also the seeded
 * initialisation and the streaming top-k selection. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ic_indexer_scores.h"
#include "kernels/ic_topk.h"
#include "model/ic_indexer.h"
#include "model/ic_indexer_io.h"
#include "testutil.h"

static double *dalloc(size_t n) { double *p = calloc(n, sizeof *p); ck_assert_ptr_nonnull(p); return p; }
static void to_double(double *d, const float *f, size_t n) { for (size_t i = 0; i < n; i++) d[i] = f[i]; }

static ic_indexer_dims small_dims(void) {
    ic_indexer_dims d = { .dim = 12, .n_heads = 3, .head_dim = 8, .rope_dim = 4, .topk = 5,
                          .rope_theta = 10000.0f };
    return d;
}

/* ---- double-precision oracle ------------------------------------------- */

typedef struct {
    ic_indexer_dims d;
    int L, pos0;
    const double *x;                 /* [L, D] */
    double *P;                       /* the five tensors, in ic_indexer order */
    double *wq, *wk, *lnw, *lnb, *wp;
    double *R;                       /* [L, L] */
    double *qI, *kI, *w;             /* outputs of ref_forward */
} ref_t;

static void rope_ref(double *v, int p, int rot, double theta) {
    for (int i = 0; i < rot / 2; i++) {
        double ang = p * pow(theta, -2.0 * i / rot);
        double a = v[i], b = v[i + rot / 2];
        v[i] = a * cos(ang) - b * sin(ang);
        v[i + rot / 2] = b * cos(ang) + a * sin(ang);
    }
}

static void ref_forward(ref_t *r) {
    const int D = r->d.dim, H = r->d.n_heads, dh = r->d.head_dim, L = r->L;
    for (int t = 0; t < L; t++) {
        const double *xt = r->x + (size_t)t * D;
        for (int o = 0; o < H * dh; o++) {
            double a = 0;
            for (int c = 0; c < D; c++) a += r->wq[(size_t)o * D + c] * xt[c];
            r->qI[(size_t)t * H * dh + o] = a;
        }
        for (int j = 0; j < H; j++) rope_ref(r->qI + ((size_t)t * H + j) * dh, r->pos0 + t, r->d.rope_dim, r->d.rope_theta);
        double *kt = r->kI + (size_t)t * dh, mu = 0, var = 0;
        for (int o = 0; o < dh; o++) {
            double a = 0;
            for (int c = 0; c < D; c++) a += r->wk[(size_t)o * D + c] * xt[c];
            kt[o] = a;
            mu += a;
        }
        mu /= dh;
        for (int o = 0; o < dh; o++) var += (kt[o] - mu) * (kt[o] - mu);
        var /= dh;
        for (int o = 0; o < dh; o++) kt[o] = (kt[o] - mu) / sqrt(var + 1e-6) * r->lnw[o] + r->lnb[o];
        rope_ref(kt, r->pos0 + t, r->d.rope_dim, r->d.rope_theta);
        for (int j = 0; j < H; j++) {
            double a = 0;
            for (int c = 0; c < D; c++) a += r->wp[(size_t)j * D + c] * xt[c];
            r->w[(size_t)t * H + j] = a / sqrt((double)H * dh);
        }
    }
}

static double ref_score(const ref_t *r, int t, int s) {
    const int H = r->d.n_heads, dh = r->d.head_dim;
    double acc = 0;
    for (int j = 0; j < H; j++) {
        double a = 0;
        for (int c = 0; c < dh; c++) a += r->qI[((size_t)t * H + j) * dh + c] * r->kI[(size_t)s * dh + c];
        acc += r->w[(size_t)t * H + j] * (a > 0 ? a : 0);
    }
    return acc;
}

static double ref_loss(ref_t *r) {
    ref_forward(r);
    double f = 0;
    for (int t = 0; t < r->L; t++)
        for (int s = 0; s <= t; s++) f += r->R[(size_t)t * r->L + s] * ref_score(r, t, s);
    return f;
}

static double rel_f32_f64(const float *a, const double *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(a[i])) return INFINITY;
        num += (a[i] - b[i]) * (a[i] - b[i]);
        den += b[i] * b[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

START_TEST(test_indexer_forward_backward) {
    const ic_indexer_dims d = small_dims();
    const int L = 13, pos0 = 5, D = d.dim, H = d.n_heads, dh = d.head_dim, br = 4;
    ic_error err; ic_error_clear(&err);
    ic_indexer ix; ic_indexer_grads g; ic_indexer_acts a;
    ck_assert_int_eq(ic_indexer_init(&ix, &d, &err), 0);
    ck_assert_int_eq(ic_indexer_grads_init(&g, ic_test_ctx(0), &d, &err), 0);
    ck_assert_int_eq(ic_indexer_acts_init(&a, ic_test_ctx(0), &d, 20, &err), 0);
    ic_rng rng; ic_rng_seed(&rng, 606);
    /* random everything, LayerNorm affine included, so no gradient is trivial */
    ic_fill_normal(&rng, ix.data, ix.numel, 0.4f);
    float *x = malloc(sizeof(float) * (size_t)L * D), *R = malloc(sizeof(float) * (size_t)L * L);
    ic_fill_normal(&rng, x, (size_t)L * D, 1.0f);
    ic_fill_normal(&rng, R, (size_t)L * L, 1.0f);

    ic_indexer_forward(&ix, x, L, pos0, &a);

    /* oracle forward */
    ref_t r = { .d = d, .L = L, .pos0 = pos0 };
    double *xd = dalloc((size_t)L * D);
    to_double(xd, x, (size_t)L * D);
    r.x = xd;
    r.P = dalloc(ix.numel);
    to_double(r.P, ix.data, ix.numel);
    r.wq = r.P + (ix.wq_b - ix.data);
    r.wk = r.P + (ix.wk - ix.data);
    r.lnw = r.P + (ix.k_norm_weight - ix.data);
    r.lnb = r.P + (ix.k_norm_bias - ix.data);
    r.wp = r.P + (ix.weights_proj - ix.data);
    r.R = dalloc((size_t)L * L);
    to_double(r.R, R, (size_t)L * L);
    r.qI = dalloc((size_t)L * H * dh); r.kI = dalloc((size_t)L * dh); r.w = dalloc((size_t)L * H);
    ref_forward(&r);
    double eq = rel_f32_f64(a.qI, r.qI, (size_t)L * H * dh), ek = rel_f32_f64(a.kI, r.kI, (size_t)L * dh),
           ew = rel_f32_f64(a.w, r.w, (size_t)L * H);
    printf("indexer forward vs double: rel err qI %.3g kI %.3g w %.3g\n", eq, ek, ew);
    ck_assert_msg(eq < 1e-5 && ek < 1e-5 && ew < 1e-5, "forward %g %g %g", eq, ek, ew);

    /* analytic: blocked scores backward, then the module backward (twice, to
     * check that the grads accumulate) */
    float *dq = calloc((size_t)L * H * dh, 4), *dk = calloc((size_t)L * dh, 4), *dw = calloc((size_t)L * H, 4);
    for (int t0 = 0; t0 < L; t0 += br) {
        int t1 = t0 + br < L ? t0 + br : L;
        ic_indexer_scores_backward(a.ctx, dq, dk, dw, R + (size_t)t0 * L, L, a.qI, a.kI, a.w, L, H, dh, t0, t1);
    }
    ic_indexer_backward(&ix, &a, dq, dk, dw, &g);
    ic_indexer_grads g2;
    ck_assert_int_eq(ic_indexer_grads_init(&g2, ic_test_ctx(0), &d, &err), 0);
    ic_indexer_backward(&ix, &a, dq, dk, dw, &g2);
    ic_indexer_grads_accumulate(&g2, &g);
    for (size_t i = 0; i < g.numel; i++)
        ck_assert_msg(fabsf(g2.data[i] - 2.0f * g.data[i]) <= 1e-6f * fabsf(g.data[i]),
                      "accumulate: %g vs 2 x %g", g2.data[i], g.data[i]);
    ic_indexer_grads_zero(&g2);
    for (size_t i = 0; i < g2.numel; i++) ck_assert(g2.data[i] == 0.0f);

    /* double central differences over every parameter */
    double *fd = dalloc(ix.numel);
    for (size_t i = 0; i < ix.numel; i++) {
        const double keep = r.P[i], h = 1e-6;
        r.P[i] = keep + h; double fp = ref_loss(&r);
        r.P[i] = keep - h; double fm = ref_loss(&r);
        r.P[i] = keep;
        fd[i] = (fp - fm) / (2 * h);
    }
    ic_indexer_tensor tens[IC_INDEXER_N_TENSORS];
    ic_indexer_tensors(&ix, tens);
    const float *gptr[IC_INDEXER_N_TENSORS] = { g.wq_b, g.wk, g.k_norm_weight, g.k_norm_bias, g.weights_proj };
    for (int i = 0; i < IC_INDEXER_N_TENSORS; i++) {
        size_t off = (size_t)(tens[i].data - ix.data);
        size_t n = (size_t)tens[i].shape[0] * (tens[i].ndim == 2 ? (size_t)tens[i].shape[1] : 1);
        double e = rel_f32_f64(gptr[i], fd + off, n);
        printf("indexer backward vs FD: %-20s rel err %.3g\n", tens[i].suffix, e);
        ck_assert_msg(e < 1e-5, "%s gradient rel err %g", tens[i].suffix, e);
    }
    free(x); free(R); free(dq); free(dk); free(dw); free(xd); free(r.P); free(r.R);
    free(r.qI); free(r.kI); free(r.w); free(fd);
    ic_indexer_grads_free(&g2);
    ic_indexer_acts_free(&a);
    ic_indexer_grads_free(&g);
    ic_indexer_free(&ix);
}
END_TEST

START_TEST(test_indexer_init_random) {
    ic_indexer_dims d = { .dim = 64, .n_heads = 4, .head_dim = 16, .rope_dim = 8, .topk = 8,
                          .rope_theta = 10000.0f };
    ic_error err; ic_error_clear(&err);
    ic_indexer a, b, c;
    ck_assert_int_eq(ic_indexer_init(&a, &d, &err), 0);
    ck_assert_int_eq(ic_indexer_init(&b, &d, &err), 0);
    ck_assert_int_eq(ic_indexer_init(&c, &d, &err), 0);
    ic_indexer_init_random(&a, 42, 3);
    ic_indexer_init_random(&b, 42, 3);
    ic_indexer_init_random(&c, 42, 4);
    ck_assert(memcmp(a.data, b.data, a.numel * sizeof(float)) == 0);
    size_t same = 0;
    for (size_t i = 0; i < a.numel; i++) same += a.data[i] == c.data[i];
    /* only the LayerNorm constants coincide between layers */
    ck_assert_uint_eq(same, 2 * (size_t)d.head_dim);
    for (int i = 0; i < d.head_dim; i++) {
        ck_assert(a.k_norm_weight[i] == 1.0f);
        ck_assert(a.k_norm_bias[i] == 0.0f);
    }
    /* N(0, 1/D): 4096 + 1024 + 256 draws, mean and std within sampling error */
    const float *ts[3] = { a.wq_b, a.wk, a.weights_proj };
    const size_t ns[3] = { (size_t)d.n_heads * d.head_dim * d.dim, (size_t)d.head_dim * d.dim, (size_t)d.n_heads * d.dim };
    for (int k = 0; k < 3; k++) {
        double s = 0, s2 = 0;
        for (size_t i = 0; i < ns[k]; i++) { s += ts[k][i]; s2 += (double)ts[k][i] * ts[k][i]; }
        double mean = s / ns[k], sd = sqrt(s2 / ns[k] - mean * mean), want = 1.0 / sqrt(d.dim);
        printf("init tensor %d: n %zu mean %.4f std %.4f (want 0, %.4f)\n", k, ns[k], mean, sd, want);
        ck_assert_msg(fabs(mean) < 5 * want / sqrt((double)ns[k]), "mean %g", mean);
        ck_assert_msg(fabs(sd / want - 1) < 5 / sqrt(2.0 * ns[k]), "std %g", sd);
    }
    char name[128];
    ic_indexer_tensor_name(name, sizeof name, 7, "k_norm.bias");
    ck_assert_str_eq(name, "model.layers.7.self_attn.indexer.k_norm.bias");
    ic_indexer_free(&a); ic_indexer_free(&b); ic_indexer_free(&c);
}
END_TEST

static const float *g_row;
static int cmp_row(const void *p, const void *q) {
    int32_t i = *(const int32_t *)p, j = *(const int32_t *)q;
    if (g_row[i] != g_row[j]) return g_row[i] > g_row[j] ? -1 : 1;
    return (i > j) - (i < j);
}

/* ic_indexer_select (streamed) equals a full sort of the full score rows. */
START_TEST(test_indexer_select) {
    ic_indexer_dims d = { .dim = 32, .n_heads = 4, .head_dim = 16, .rope_dim = 8, .topk = 9,
                          .rope_theta = 10000.0f };
    const int L = 150;
    ic_error err; ic_error_clear(&err);
    ic_indexer ix; ic_indexer_acts a;
    ck_assert_int_eq(ic_indexer_init(&ix, &d, &err), 0);
    ck_assert_int_eq(ic_indexer_acts_init(&a, ic_test_ctx(0), &d, L, &err), 0);
    ic_indexer_init_random(&ix, 7, 0);
    ic_rng rng; ic_rng_seed(&rng, 707);
    float *x = malloc(sizeof(float) * (size_t)L * d.dim), *S = malloc(sizeof(float) * (size_t)L * L);
    ic_fill_normal(&rng, x, (size_t)L * d.dim, 1.0f);
    ic_indexer_forward(&ix, x, L, 0, &a);
    int32_t *idx = malloc(sizeof(int32_t) * L * d.topk), *cnt = malloc(sizeof(int32_t) * L), all[150];
    ck_assert_int_eq(ic_indexer_select(&a, d.topk, idx, cnt, &err), 0);
    ic_indexer_scores_forward(a.ctx, S, L, a.qI, a.kI, a.w, L, d.n_heads, d.head_dim, 0, L);
    for (int t = 0; t < L; t++) {
        int k = d.topk < t + 1 ? d.topk : t + 1;
        ck_assert_int_eq(cnt[t], k);
        for (int s = 0; s <= t; s++) all[s] = s;
        g_row = S + (size_t)t * L;
        qsort(all, (size_t)t + 1, sizeof all[0], cmp_row);
        for (int m = 0; m < k; m++) ck_assert_int_eq(idx[(size_t)t * d.topk + m], all[m]);
        for (int m = k; m < d.topk; m++) ck_assert_int_eq(idx[(size_t)t * d.topk + m], -1);
    }
    free(x); free(S); free(idx); free(cnt);
    ic_indexer_acts_free(&a);
    ic_indexer_free(&ix);
}
END_TEST

START_TEST(test_indexer_dims_from_config) {
    ic_config cfg; memset(&cfg, 0, sizeof cfg);
    cfg.hidden_size = 576; cfg.index_n_heads = 16; cfg.index_head_dim = 64;
    cfg.index_rope_dim = 32; cfg.index_topk = 256; cfg.rope_theta = 100000.0f;
    ic_indexer_dims d; ic_error err; ic_error_clear(&err);
    ck_assert_int_eq(ic_indexer_dims_from_config(&d, &cfg, &err), 0);
    ck_assert_int_eq(d.dim, 576);
    ck_assert_int_eq(d.rope_dim, 32);
    cfg.index_rope_dim = 33;
    ck_assert_int_eq(ic_indexer_dims_from_config(&d, &cfg, &err), -1);
    ck_assert_msg(strstr(err.msg, "index_rope_dim") != NULL, "%s", err.msg);
    ic_error_clear(&err);
    cfg.index_rope_dim = 32; cfg.index_topk = 0;
    ck_assert_int_eq(ic_indexer_dims_from_config(&d, &cfg, &err), -1);
    ck_assert_msg(strstr(err.msg, "index_topk") != NULL, "%s", err.msg);
}
END_TEST

/* Store two layers' indexers as a model file, read them back by name. */
START_TEST(test_indexer_io) {
    ic_indexer_dims d = { .dim = 10, .n_heads = 2, .head_dim = 6, .rope_dim = 4, .topk = 4,
                          .rope_theta = 10000.0f };
    ic_error err; ic_error_clear(&err);
    ic_indexer a, b, c;
    ck_assert_int_eq(ic_indexer_init(&a, &d, &err), 0);
    ck_assert_int_eq(ic_indexer_init(&b, &d, &err), 0);
    ck_assert_int_eq(ic_indexer_init(&c, &d, &err), 0);
    ic_indexer_init_random(&a, 9, 0);
    ic_indexer_init_random(&b, 9, 2);
    ic_rng rng; ic_rng_seed(&rng, 909);
    ic_fill_normal(&rng, b.k_norm_bias, (size_t)d.head_dim, 1.0f);  /* not all constants */
    ic_st_tensor_in in[2 * IC_INDEXER_N_TENSORS + 1];
    char names[2 * IC_INDEXER_N_TENSORS][IC_INDEXER_NAME_MAX];
    int64_t shapes[2 * IC_INDEXER_N_TENSORS][2];
    ic_indexer_st_entries(&a, 0, in, names, shapes);
    ic_indexer_st_entries(&b, 2, in + IC_INDEXER_N_TENSORS, names + IC_INDEXER_N_TENSORS,
                          shapes + IC_INDEXER_N_TENSORS);
    float other[3] = { 1, 2, 3 };
    int64_t oshape[1] = { 3 };
    in[2 * IC_INDEXER_N_TENSORS] = (ic_st_tensor_in){ "model.norm.weight", IC_ST_F32, 1, oshape, other };
    const char *dir = ic_test_tmpdir("indexer_io");
    char path[4200];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    ck_assert_msg(ic_safetensors_write(path, in, 2 * IC_INDEXER_N_TENSORS + 1, NULL, 0, &err) == 0, "%s", err.msg);

    ic_model_files mf;
    ck_assert_msg(ic_model_files_open(&mf, dir, &err) == 0, "%s", err.msg);
    ck_assert(ic_indexer_present(&mf, 0));
    ck_assert(!ic_indexer_present(&mf, 1));
    ck_assert(ic_indexer_present(&mf, 2));
    ck_assert_msg(ic_indexer_load(&c, &mf, 2, &err) == 0, "%s", err.msg);
    ck_assert(memcmp(c.data, b.data, b.numel * sizeof(float)) == 0);
    ck_assert_int_eq(ic_indexer_load(&c, &mf, 1, &err), -1);
    ck_assert_msg(strstr(err.msg, "model.layers.1.self_attn.indexer.wq_b.weight") != NULL, "%s", err.msg);
    ic_model_files_close(&mf);

    /* a config whose dims disagree with the file */
    ic_indexer e;
    d.n_heads = 3;
    ck_assert_int_eq(ic_indexer_init(&e, &d, &err), 0);
    ic_error_clear(&err);
    ck_assert_msg(ic_model_files_open(&mf, dir, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(ic_indexer_load(&e, &mf, 0, &err), -1);
    ck_assert_msg(strstr(err.msg, "wq_b.weight has shape [12, 10]") && strstr(err.msg, "wants [18, 10]"),
                  "%s", err.msg);
    ic_model_files_close(&mf);
    ic_indexer_free(&a); ic_indexer_free(&b); ic_indexer_free(&c); ic_indexer_free(&e);
    remove(path);
    remove(dir);
}
END_TEST

int main(void) {
    Suite *s = suite_create("indexer");
    TCase *tc = tcase_create("indexer");
    tcase_add_test(tc, test_indexer_forward_backward);
    tcase_add_test(tc, test_indexer_init_random);
    tcase_add_test(tc, test_indexer_select);
    tcase_add_test(tc, test_indexer_dims_from_config);
    tcase_add_test(tc, test_indexer_io);
    suite_add_tcase(s, tc);
    return ic_test_run_suite(s);
}
