/* kernels of the teacher forward against double-precision loops:
 * embedding, RMSNorm, SwiGLU, cross-entropy (and its gradient vs finite
 * differences), causal GQA attention with its log-sum-exp (row blocks at
 * lengths that are not multiples of the block), and the decode step. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ic_attention.h"
#include "kernels/ic_cross_entropy.h"
#include "kernels/ic_embedding.h"
#include "kernels/ic_rmsnorm.h"
#include "kernels/ic_swiglu.h"
#include "testutil.h"

static float *randn(ic_rng *r, size_t n, float std) {
    float *x = malloc(n * sizeof *x);
    ic_fill_normal(r, x, n, std);
    return x;
}

static double rel_f32_f64(const float *a, const double *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(a[i])) return INFINITY;
        num += (a[i] - b[i]) * (a[i] - b[i]); den += b[i] * b[i];
    }
    return sqrt(num / (den > 0 ? den : 1e-300));
}

START_TEST(test_embedding) {
    ic_rng r; ic_rng_seed(&r, 21);
    int V = 50, D = 12, L = 31;
    float *tab = randn(&r, (size_t)V * D, 1.0f), *out = randn(&r, (size_t)L * D, 1.0f);
    int32_t tok[31];
    for (int t = 0; t < L; t++) tok[t] = (int32_t)(ic_rng_next(&r) % V);
    ic_embedding_forward(ic_test_ctx(0), out, tok, tab, L, D, V);
    for (int t = 0; t < L; t++)
        for (int i = 0; i < D; i++) ck_assert(out[t * D + i] == tab[tok[t] * D + i]);
    free(tab); free(out);
}
END_TEST

START_TEST(test_rmsnorm) {
    ic_rng r; ic_rng_seed(&r, 22);
    int L = 17, D = 96;
    float eps = 1e-5f;
    float *x = randn(&r, (size_t)L * D, 3.0f), *w = randn(&r, D, 1.0f);
    float *out = malloc(sizeof(float) * L * D);
    double *ref = malloc(sizeof(double) * L * D);
    for (int t = 0; t < L; t++) {
        double ss = 0;
        for (int i = 0; i < D; i++) ss += (double)x[t * D + i] * x[t * D + i];
        double inv = 1.0 / sqrt(ss / D + eps);
        for (int i = 0; i < D; i++) ref[t * D + i] = w[i] * x[t * D + i] * inv;
    }
    ic_rmsnorm_forward(ic_test_ctx(0), out, x, w, L, D, eps);
    ck_assert(rel_f32_f64(out, ref, (size_t)L * D) < 1e-6);
    ic_rmsnorm_forward(ic_test_ctx(0), x, x, w, L, D, eps);   /* in place gives the same */
    ck_assert(rel_f32_f64(x, ref, (size_t)L * D) < 1e-6);
    free(x); free(w); free(out); free(ref);
}
END_TEST

START_TEST(test_swiglu) {
    ic_rng r; ic_rng_seed(&r, 23);
    size_t n = 1000;
    float *g = randn(&r, n, 4.0f), *u = randn(&r, n, 1.0f), *o = malloc(n * 4);
    double *ref = malloc(n * 8);
    for (size_t i = 0; i < n; i++) ref[i] = g[i] / (1.0 + exp(-(double)g[i])) * u[i];
    ic_swiglu_forward(ic_test_ctx(0), o, g, u, n);
    ck_assert(rel_f32_f64(o, ref, n) < 1e-6);
    free(g); free(u); free(o); free(ref);
}
END_TEST

static double ce_ref_row(const double *z, int V, int y) {
    double m = z[0];
    for (int j = 1; j < V; j++) m = fmax(m, z[j]);
    double s = 0;
    for (int j = 0; j < V; j++) s += exp(z[j] - m);
    return m + log(s) - z[y];
}

START_TEST(test_cross_entropy) {
    ic_rng r; ic_rng_seed(&r, 24);
    int n = 9, V = 301;
    float *z = randn(&r, (size_t)n * V, 5.0f), *nll = malloc(sizeof(float) * n);
    int32_t y[9];
    for (int i = 0; i < n; i++) y[i] = (int32_t)(ic_rng_next(&r) % V);
    y[4] = -1;   /* a row without a target */
    ic_cross_entropy_forward(ic_test_ctx(0), nll, z, y, n, V);
    double *zd = malloc(sizeof(double) * n * V);
    for (int i = 0; i < n * V; i++) zd[i] = z[i];
    for (int i = 0; i < n; i++) {
        if (y[i] < 0) { ck_assert(nll[i] == 0.0f); continue; }
        double ref = ce_ref_row(zd + (size_t)i * V, V, y[i]);
        ck_assert_msg(fabs(nll[i] - ref) < 1e-5 * fmax(1.0, ref), "row %d: %g vs %g", i, nll[i], ref);
    }
    /* gradient of scale * sum_i nll_i vs central differences in double */
    float scale = 0.37f;
    float *g = malloc(sizeof(float) * n * V);
    ic_cross_entropy_backward(ic_test_ctx(0), g, z, y, n, V, scale);
    double *fd = malloc(sizeof(double) * n * V);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < V; j++) {
            double *row = zd + (size_t)i * V, save = row[j], h = 1e-5;
            if (y[i] < 0) { fd[i * V + j] = 0; continue; }
            row[j] = save + h; double lp = ce_ref_row(row, V, y[i]);
            row[j] = save - h; double lm = ce_ref_row(row, V, y[i]);
            row[j] = save;
            fd[i * V + j] = scale * (lp - lm) / (2 * h);
        }
    ck_assert(rel_f32_f64(g, fd, (size_t)n * V) < 1e-5);
    free(z); free(nll); free(zd); free(g); free(fd);
}
END_TEST

/* Oracle: causal GQA attention per (t, h) in double. */
static void attention_ref(double *out, double *lse, const float *q, const float *k,
                          const float *v, int L, int H, int Hkv, int d) {
    double *s = malloc(sizeof(double) * L);
    for (int h = 0; h < H; h++) {
        int g = h / (H / Hkv);
        for (int t = 0; t < L; t++) {
            double m = -INFINITY, sum = 0;
            for (int j = 0; j <= t; j++) {
                double dot = 0;
                for (int c = 0; c < d; c++)
                    dot += (double)q[((size_t)t * H + h) * d + c] * k[((size_t)j * Hkv + g) * d + c];
                s[j] = dot / sqrt((double)d);
                m = fmax(m, s[j]);
            }
            for (int j = 0; j <= t; j++) sum += exp(s[j] - m);
            lse[(size_t)h * L + t] = m + log(sum);
            for (int c = 0; c < d; c++) {
                double o = 0;
                for (int j = 0; j <= t; j++) o += exp(s[j] - m) / sum * v[((size_t)j * Hkv + g) * d + c];
                out[((size_t)t * H + h) * d + c] = o;
            }
        }
    }
    free(s);
}

static void check_attention(int L, int H, int Hkv, int d, uint64_t seed) {
    ic_rng r; ic_rng_seed(&r, seed);
    float *q = randn(&r, (size_t)L * H * d, 1.0f), *k = randn(&r, (size_t)L * Hkv * d, 1.0f);
    float *v = randn(&r, (size_t)L * Hkv * d, 1.0f);
    float *out = randn(&r, (size_t)L * H * d, 1.0f), *lse = randn(&r, (size_t)H * L, 1.0f);
    double *ro = malloc(sizeof(double) * L * H * d), *rl = malloc(sizeof(double) * H * L);
    ic_attention_forward(ic_test_ctx(ic_attention_workspace_bytes(ic_test_ctx(0), L, H, Hkv, d)), out, lse, q, k, v, L, H, Hkv, d);
    attention_ref(ro, rl, q, k, v, L, H, Hkv, d);
    double eo = rel_f32_f64(out, ro, (size_t)L * H * d), el = rel_f32_f64(lse, rl, (size_t)H * L);
    ck_assert_msg(eo < 2e-6 && el < 2e-6, "attention L=%d H=%d Hkv=%d d=%d: out %g lse %g",
                  L, H, Hkv, d, eo, el);
    /* decode of the last token over the whole cache == last row */
    float *od = malloc(sizeof(float) * H * d), *ld = malloc(sizeof(float) * H);
    ic_attention_decode_forward(ic_test_ctx(ic_attention_decode_workspace_bytes(ic_test_ctx(0), L, H, d)), od, ld, q + (size_t)(L - 1) * H * d, k, v, L, H, Hkv, d);
    ck_assert(rel_f32_f64(od, ro + (size_t)(L - 1) * H * d, (size_t)H * d) < 2e-6);
    for (int h = 0; h < H; h++) ck_assert(fabs(ld[h] - rl[(size_t)h * L + L - 1]) < 1e-5 * fmax(1, fabs(ld[h])));
    free(q); free(k); free(v); free(out); free(lse); free(ro); free(rl); free(od); free(ld);
}

START_TEST(test_attention) {
    check_attention(1, 3, 1, 8, 31);
    check_attention(150, 6, 2, 16, 32);     /* GQA, 2 full blocks + 22 rows */
    check_attention(64, 4, 4, 32, 33);      /* MHA, exactly one block */
    check_attention(65, 9, 3, 64, 34);      /* SmolLM2 head layout, block + 1 row */
}
END_TEST

int main(void) {
    Suite *s = suite_create("teacher_ops");
    TCase *tc = tcase_create("teacher_ops");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_embedding);
    tcase_add_test(tc, test_rmsnorm);
    tcase_add_test(tc, test_swiglu);
    tcase_add_test(tc, test_cross_entropy);
    tcase_add_test(tc, test_attention);
    suite_add_tcase(s, tc);
    return ic_test_run_suite(s);
}
