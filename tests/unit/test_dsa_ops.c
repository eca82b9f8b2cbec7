/* DSA ops against independent oracles: LayerNorm and the indexer scores
 * against double-precision loops and double-precision central differences,
 * top-k against a full qsort of each row, sparse attention against dense /
 * set-restricted causal attention in double. Each check prints its measured
 * error (the figures of the report). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernels/ic_indexer_scores.h"
#include "kernels/ic_layernorm.h"
#include "kernels/ic_sparse_attention.h"
#include "kernels/ic_topk.h"
#include "testutil.h"

static float *falloc(size_t n) { float *p = malloc(n * sizeof *p); ck_assert_ptr_nonnull(p); return p; }
static double *dalloc(size_t n) { double *p = calloc(n, sizeof *p); ck_assert_ptr_nonnull(p); return p; }

/* ---- LayerNorm ---------------------------------------------------------- */

/* f = sum R * LN(x) in double. */
static double ln_loss_ref(const double *x, const double *wt, const double *b, const double *R,
                          int rows, int n) {
    double f = 0.0;
    for (int r = 0; r < rows; r++) {
        const double *xr = x + (size_t)r * n;
        double mu = 0, var = 0;
        for (int i = 0; i < n; i++) mu += xr[i];
        mu /= n;
        for (int i = 0; i < n; i++) var += (xr[i] - mu) * (xr[i] - mu);
        var /= n;
        double rs = 1.0 / sqrt(var + 1e-6);
        for (int i = 0; i < n; i++) f += R[(size_t)r * n + i] * ((xr[i] - mu) * rs * wt[i] + b[i]);
    }
    return f;
}

/* Central differences of f over every entry of p (n entries). */
static void fd_grad(double *grad, double *p, size_t n, double h,
                    double (*f)(void *), void *ctx) {
    for (size_t i = 0; i < n; i++) {
        const double keep = p[i];
        p[i] = keep + h; double fp = f(ctx);
        p[i] = keep - h; double fm = f(ctx);
        p[i] = keep;
        grad[i] = (fp - fm) / (2 * h);
    }
}

typedef struct { double *x, *w, *b, *R; int rows, n; } ln_ctx;
static double ln_f(void *c) { ln_ctx *k = c; return ln_loss_ref(k->x, k->w, k->b, k->R, k->rows, k->n); }

static double rel_f32_f64(const float *a, const double *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(a[i])) return INFINITY;
        num += (a[i] - b[i]) * (a[i] - b[i]);
        den += b[i] * b[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

static void to_double(double *d, const float *f, size_t n) { for (size_t i = 0; i < n; i++) d[i] = f[i]; }

START_TEST(test_layernorm) {
    const int rows = 11, n = 24;
    const size_t N = (size_t)rows * n;
    ic_rng r; ic_rng_seed(&r, 101);
    float *x = falloc(N), *y = falloc(N), *dy = falloc(N), *dx = falloc(N);
    float *wt = falloc(n), *b = falloc(n), *dw = falloc(n), *db = falloc(n);
    float mean[11], rstd[11];
    /* an offset and a spread per row, so mean and variance both matter */
    for (int i = 0; i < rows; i++) {
        float off = 3.0f * (float)ic_rng_normal(&r), sc = 0.2f + 2.0f * (float)ic_rng_uniform(&r);
        for (int j = 0; j < n; j++) x[i * n + j] = off + sc * (float)ic_rng_normal(&r);
    }
    ic_fill_normal(&r, wt, n, 1.0f);
    ic_fill_normal(&r, b, n, 1.0f);
    ic_fill_normal(&r, dy, N, 1.0f);
    ic_layernorm_forward(ic_test_ctx(0), y, mean, rstd, x, wt, b, rows, n, IC_LAYERNORM_EPS);

    double *xd = dalloc(N), *wd = dalloc(n), *bd = dalloc(n), *Rd = dalloc(N);
    to_double(xd, x, N); to_double(wd, wt, n); to_double(bd, b, n); to_double(Rd, dy, N);
    /* forward vs a double-precision loop */
    double max_err = 0;
    for (int i = 0; i < rows; i++) {
        double mu = 0, var = 0;
        for (int j = 0; j < n; j++) mu += xd[i * n + j];
        mu /= n;
        for (int j = 0; j < n; j++) var += (xd[i * n + j] - mu) * (xd[i * n + j] - mu);
        double rs = 1.0 / sqrt(var / n + 1e-6);
        for (int j = 0; j < n; j++) {
            double ref = (xd[i * n + j] - mu) * rs * wd[j] + bd[j];
            double e = fabs(y[i * n + j] - ref);
            if (e > max_err) max_err = e;
        }
    }
    printf("layernorm forward: max abs err %.3g\n", max_err);
    ck_assert_msg(max_err < 1e-5, "layernorm forward max abs err %g", max_err);

    for (size_t i = 0; i < N; i++) dx[i] = 0.5f;   /* checks that dx accumulates */
    for (int i = 0; i < n; i++) { dw[i] = 0.25f; db[i] = -0.25f; }
    ic_layernorm_backward(ic_test_ctx(0), dx, dw, db, dy, x, mean, rstd, wt, rows, n);
    for (size_t i = 0; i < N; i++) dx[i] -= 0.5f;
    for (int i = 0; i < n; i++) { dw[i] -= 0.25f; db[i] += 0.25f; }

    ln_ctx c = { xd, wd, bd, Rd, rows, n };
    double *gx = dalloc(N), *gw = dalloc(n), *gb = dalloc(n);
    fd_grad(gx, xd, N, 1e-5, ln_f, &c);
    fd_grad(gw, wd, n, 1e-5, ln_f, &c);
    fd_grad(gb, bd, n, 1e-5, ln_f, &c);
    double ex = rel_f32_f64(dx, gx, N), ew = rel_f32_f64(dw, gw, n), eb = rel_f32_f64(db, gb, n);
    printf("layernorm backward vs FD: rel err dx %.3g dweight %.3g dbias %.3g\n", ex, ew, eb);
    ck_assert_msg(ex < 1e-5 && ew < 1e-5 && eb < 1e-5, "layernorm grads %g %g %g", ex, ew, eb);
    free(x); free(y); free(dy); free(dx); free(wt); free(b); free(dw); free(db);
    free(xd); free(wd); free(bd); free(Rd); free(gx); free(gw); free(gb);
}
END_TEST

/* ---- indexer scores ----------------------------------------------------- */

static double score_ref(const double *q, const double *k, const double *w, int H, int dI,
                        int t, int s) {
    double acc = 0.0;
    for (int j = 0; j < H; j++) {
        double a = 0.0;
        for (int c = 0; c < dI; c++) a += q[((size_t)t * H + j) * dI + c] * k[(size_t)s * dI + c];
        acc += w[(size_t)t * H + j] * (a > 0 ? a : 0.0);
    }
    return acc;
}

typedef struct { int L, H, dI; float *q, *k, *w; } scores_case;

static scores_case make_scores_case(ic_rng *r, int L, int H, int dI) {
    scores_case c = { L, H, dI, falloc((size_t)L * H * dI), falloc((size_t)L * dI), falloc((size_t)L * H) };
    ic_fill_normal(r, c.q, (size_t)L * H * dI, 1.0f);
    ic_fill_normal(r, c.k, (size_t)L * dI, 1.0f);
    ic_fill_normal(r, c.w, (size_t)L * H, 0.3f);
    return c;
}
static void free_scores_case(scores_case *c) { free(c->q); free(c->k); free(c->w); }

typedef struct { double *ref; int L; double max_err, max_ref; int n_blocks; } foreach_ctx;
static void check_block(void *ctx, const float *blk, int ld, int t0, int t1) {
    foreach_ctx *c = ctx;
    c->n_blocks++;
    ck_assert_int_eq(ld, t1);
    for (int t = t0; t < t1; t++)
        for (int s = 0; s < ld; s++) {
            float v = blk[(size_t)(t - t0) * ld + s];
            if (s > t) { ck_assert(isinf(v) && v < 0); continue; }
            double e = fabs(v - c->ref[(size_t)t * c->L + s]);
            if (e > c->max_err) c->max_err = e;
        }
}

START_TEST(test_scores_forward) {
    const int shapes[][4] = { /* L, H_I, d_I, block rows */
        { 37, 3, 8, 5 }, { 70, 4, 32, 16 }, { 23, 1, 6, 23 }, { 29, 2, 16, 64 } };
    ic_rng r; ic_rng_seed(&r, 202);
    for (size_t sh = 0; sh < sizeof shapes / sizeof shapes[0]; sh++) {
        const int L = shapes[sh][0], H = shapes[sh][1], dI = shapes[sh][2], br = shapes[sh][3];
        scores_case c = make_scores_case(&r, L, H, dI);
        double *qd = dalloc((size_t)L * H * dI), *kd = dalloc((size_t)L * dI), *wd = dalloc((size_t)L * H);
        to_double(qd, c.q, (size_t)L * H * dI); to_double(kd, c.k, (size_t)L * dI); to_double(wd, c.w, (size_t)L * H);
        double *ref = dalloc((size_t)L * L);
        double max_ref = 0;
        for (int t = 0; t < L; t++)
            for (int s = 0; s <= t; s++) {
                ref[(size_t)t * L + s] = score_ref(qd, kd, wd, H, dI, t, s);
                if (fabs(ref[(size_t)t * L + s]) > max_ref) max_ref = fabs(ref[(size_t)t * L + s]);
            }
        /* explicit blocks with ld = L + 3 (a padded row stride) */
        const int ld = L + 3;
        float *blk = falloc((size_t)br * ld);
        double max_err = 0;
        for (int t0 = 0; t0 < L; t0 += br) {
            int t1 = t0 + br < L ? t0 + br : L;
            ic_indexer_scores_forward(ic_test_ctx(ic_indexer_scores_workspace_bytes(ic_test_ctx(0), L, H, dI)),
                                      blk, ld, c.q, c.k, c.w, L, H, dI, t0, t1);
            for (int t = t0; t < t1; t++)
                for (int s = 0; s < ld; s++) {
                    float v = blk[(size_t)(t - t0) * ld + s];
                    if (s > t) { ck_assert(isinf(v) && v < 0); continue; }
                    double e = fabs(v - ref[(size_t)t * L + s]);
                    if (e > max_err) max_err = e;
                }
        }
        foreach_ctx fc = { ref, L, 0, max_ref, 0 };
        ic_ctx *ctx = ic_test_ctx(ic_indexer_scores_foreach_workspace_bytes(ic_test_ctx(0), L, H, dI, br));
        ck_assert_int_eq(ic_indexer_scores_foreach(ctx, c.q, c.k, c.w, L, H, dI, br, check_block, &fc), 0);
        ck_assert_int_eq(fc.n_blocks, (L + br - 1) / br);
        printf("indexer scores L=%d H_I=%d d_I=%d rows=%d: max abs err %.3g (blocks) %.3g "
               "(foreach), max |I| %.3g\n", L, H, dI, br, max_err, fc.max_err, max_ref);
        ck_assert_msg(max_err <= 1e-5 * max_ref && fc.max_err <= 1e-5 * max_ref,
                      "scores err %g / %g vs max |I| %g", max_err, fc.max_err, max_ref);
        free(blk); free(ref); free(qd); free(kd); free(wd);
        free_scores_case(&c);
    }
}
END_TEST

typedef struct { double *q, *k, *w, *R; int L, H, dI; } sc_ctx;
static double scores_f(void *p) {
    sc_ctx *c = p;
    double f = 0.0;
    for (int t = 0; t < c->L; t++)
        for (int s = 0; s <= t; s++)
            f += c->R[(size_t)t * c->L + s] * score_ref(c->q, c->k, c->w, c->H, c->dI, t, s);
    return f;
}

START_TEST(test_scores_backward) {
    const int L = 19, H = 3, dI = 8, br = 4;
    ic_rng r; ic_rng_seed(&r, 303);
    scores_case c = make_scores_case(&r, L, H, dI);
    float *R = falloc((size_t)L * L);
    ic_fill_normal(&r, R, (size_t)L * L, 1.0f);
    /* the part above the diagonal must be ignored: make it loud */
    for (int t = 0; t < L; t++) for (int s = t + 1; s < L; s++) R[(size_t)t * L + s] = 1e6f;
    const size_t nq = (size_t)L * H * dI, nk = (size_t)L * dI, nw = (size_t)L * H;
    float *dq = falloc(nq), *dk = falloc(nk), *dw = falloc(nw);
    memset(dq, 0, nq * 4); memset(dk, 0, nk * 4); memset(dw, 0, nw * 4);
    for (int t0 = 0; t0 < L; t0 += br) {
        int t1 = t0 + br < L ? t0 + br : L;
        ic_indexer_scores_backward(ic_test_ctx(ic_indexer_scores_workspace_bytes(ic_test_ctx(0), L, H, dI)),
                                   dq, dk, dw, R + (size_t)t0 * L, L, c.q, c.k, c.w, L, H, dI, t0, t1);
    }
    double *qd = dalloc(nq), *kd = dalloc(nk), *wd = dalloc(nw), *Rd = dalloc((size_t)L * L);
    to_double(qd, c.q, nq); to_double(kd, c.k, nk); to_double(wd, c.w, nw);
    to_double(Rd, R, (size_t)L * L);
    sc_ctx x = { qd, kd, wd, Rd, L, H, dI };
    double *gq = dalloc(nq), *gk = dalloc(nk), *gw = dalloc(nw);
    /* f is piecewise linear in each input: a small step is exact off the ReLU kinks */
    fd_grad(gq, qd, nq, 1e-6, scores_f, &x);
    fd_grad(gk, kd, nk, 1e-6, scores_f, &x);
    fd_grad(gw, wd, nw, 1e-6, scores_f, &x);
    double eq = rel_f32_f64(dq, gq, nq), ek = rel_f32_f64(dk, gk, nk), ew = rel_f32_f64(dw, gw, nw);
    printf("indexer scores backward vs FD (L=%d H_I=%d d_I=%d rows=%d): rel err dqI %.3g "
           "dkI %.3g dw %.3g\n", L, H, dI, br, eq, ek, ew);
    ck_assert_msg(eq < 1e-5 && ek < 1e-5 && ew < 1e-5, "scores grads %g %g %g", eq, ek, ew);
    free(R); free(dq); free(dk); free(dw); free(qd); free(kd); free(wd); free(Rd);
    free(gq); free(gk); free(gw);
    free_scores_case(&c);
}
END_TEST

/* ---- top-k -------------------------------------------------------------- */

static const float *g_sort_row;
static int cmp_desc_then_pos(const void *a, const void *b) {
    int32_t i = *(const int32_t *)a, j = *(const int32_t *)b;
    float x = g_sort_row[i], y = g_sort_row[j];
    int nx = isnan(x), ny = isnan(y);
    if (nx != ny) return nx ? 1 : -1;
    if (!nx && x != y) return x > y ? -1 : 1;
    return (i > j) - (i < j);
}

/* Scores with many ties (few distinct values), some -inf and NaN. */
static void check_topk(ic_rng *r, int L, int K, int br, int distinct, int with_nan) {
    const int ld = L + 2;
    float *S = falloc((size_t)L * ld);
    for (size_t i = 0; i < (size_t)L * ld; i++) {
        S[i] = distinct > 0 ? (float)(int)(ic_rng_uniform(r) * distinct) - 2.0f : (float)ic_rng_normal(r);
        if (with_nan && ic_rng_uniform(r) < 0.05) S[i] = NAN;
        if (with_nan && ic_rng_uniform(r) < 0.05) S[i] = -INFINITY;
    }
    int32_t *idx = malloc(sizeof(int32_t) * (size_t)L * K), *cnt = malloc(sizeof(int32_t) * L);
    int32_t *all = malloc(sizeof(int32_t) * L);
    for (size_t i = 0; i < (size_t)L * K; i++) idx[i] = 12345;
    for (int t0 = 0; t0 < L; t0 += br) {
        int t1 = t0 + br < L ? t0 + br : L;
        ic_topk_forward(ic_test_ctx(ic_topk_workspace_bytes(ic_test_ctx(0), L)), idx, cnt,
                        S + (size_t)t0 * ld, ld, t0, t1, K);
    }
    for (int t = 0; t < L; t++) {
        const int k = K < t + 1 ? K : t + 1;
        ck_assert_int_eq(cnt[t], k);
        for (int s = 0; s <= t; s++) all[s] = s;
        g_sort_row = S + (size_t)t * ld;
        qsort(all, (size_t)t + 1, sizeof *all, cmp_desc_then_pos);
        for (int m = 0; m < k; m++)
            ck_assert_msg(idx[(size_t)t * K + m] == all[m], "L=%d K=%d row %d slot %d: %d vs sort %d",
                          L, K, t, m, idx[(size_t)t * K + m], all[m]);
        for (int m = k; m < K; m++) ck_assert_int_eq(idx[(size_t)t * K + m], -1);
    }
    free(S); free(idx); free(cnt); free(all);
}

START_TEST(test_topk) {
    ic_rng r; ic_rng_seed(&r, 404);
    check_topk(&r, 53, 7, 10, 0, 0);      /* continuous scores, early rows shorter than K */
    check_topk(&r, 53, 7, 10, 4, 0);      /* heavy ties */
    check_topk(&r, 40, 1, 3, 3, 0);       /* K = 1 */
    check_topk(&r, 30, 45, 7, 5, 0);      /* K > L: every row keeps all its keys */
    check_topk(&r, 30, 30, 30, 0, 0);     /* K = L, one block */
    check_topk(&r, 61, 16, 9, 6, 1);      /* ties plus NaN and -inf */
    check_topk(&r, 300, 64, 37, 50, 0);   /* larger, heap with many replacements */
}
END_TEST

/* ---- sparse attention --------------------------------------------------- */

/* Attention of query t, head h over the key set (n entries) in double. */
static void attn_ref(double *o, double *lse, const float *q, const float *k, const float *v,
                     int H, int Hkv, int d, int t, int h, const int32_t *set, int n) {
    const int g = h / (H / Hkv);
    double *sc = malloc(sizeof(double) * n), m = -INFINITY, sum = 0;
    for (int i = 0; i < n; i++) {
        double a = 0;
        for (int c = 0; c < d; c++)
            a += (double)q[((size_t)t * H + h) * d + c] * k[((size_t)set[i] * Hkv + g) * d + c];
        sc[i] = a / sqrt((double)d);
        if (sc[i] > m) m = sc[i];
    }
    for (int c = 0; c < d; c++) o[c] = 0;
    for (int i = 0; i < n; i++) {
        double e = exp(sc[i] - m);
        sum += e;
        for (int c = 0; c < d; c++) o[c] += e * v[((size_t)set[i] * Hkv + g) * d + c];
    }
    for (int c = 0; c < d; c++) o[c] /= sum;
    *lse = m + log(sum);
    free(sc);
}

/* dense = 1: K >= L and the reference is plain causal attention over 0..t
 * (independent of idx); else the reference uses the row's own set. */
static void check_sparse(ic_rng *r, int L, int H, int Hkv, int d, int K, int dense) {
    const size_t nq = (size_t)L * H * d, nk = (size_t)L * Hkv * d;
    float *q = falloc(nq), *k = falloc(nk), *v = falloc(nk), *out = falloc(nq), *lse = falloc((size_t)H * L);
    ic_fill_normal(r, q, nq, 1.0f);
    ic_fill_normal(r, k, nk, 1.0f);
    ic_fill_normal(r, v, nk, 1.0f);
    /* index sets: top-k of random scores, so the order is scrambled */
    float *S = falloc((size_t)L * L);
    ic_fill_normal(r, S, (size_t)L * L, 1.0f);
    int32_t *idx = malloc(sizeof(int32_t) * (size_t)L * K), *cnt = malloc(sizeof(int32_t) * L);
    ic_topk_forward(ic_test_ctx(ic_topk_workspace_bytes(ic_test_ctx(0), L)), idx, cnt, S, L, 0, L, K);
    ic_sparse_attention_forward(ic_test_ctx(ic_sparse_attention_workspace_bytes(ic_test_ctx(0), H, Hkv, d, K)),
                                out, lse, q, k, v, L, H, Hkv, d, idx, cnt, K);
    int32_t *causal = malloc(sizeof(int32_t) * L);
    for (int s = 0; s < L; s++) causal[s] = s;
    double *o = dalloc(d), l, eo = 0, el = 0;
    for (int t = 0; t < L; t++)
        for (int h = 0; h < H; h++) {
            if (dense) attn_ref(o, &l, q, k, v, H, Hkv, d, t, h, causal, t + 1);
            else attn_ref(o, &l, q, k, v, H, Hkv, d, t, h, idx + (size_t)t * K, cnt[t]);
            for (int c = 0; c < d; c++) {
                double e = fabs(out[((size_t)t * H + h) * d + c] - o[c]);
                if (e > eo) eo = e;
            }
            double e = fabs(lse[(size_t)h * L + t] - l);
            if (e > el) el = e;
        }
    printf("sparse attention L=%d H=%d Hkv=%d d=%d K=%d (%s ref): max abs err out %.3g lse %.3g\n",
           L, H, Hkv, d, K, dense ? "dense causal" : "set-restricted", eo, el);
    ck_assert_msg(eo < 1e-5 && el < 1e-5, "sparse attention err out %g lse %g", eo, el);
    free(q); free(k); free(v); free(out); free(lse); free(S); free(idx); free(cnt); free(causal); free(o);
}

START_TEST(test_sparse_attention) {
    ic_rng r; ic_rng_seed(&r, 505);
    check_sparse(&r, 45, 6, 2, 16, 45, 1);    /* K = L: dense, GQA groups of 3 */
    check_sparse(&r, 33, 4, 4, 32, 64, 1);    /* K > L, MHA */
    check_sparse(&r, 64, 9, 3, 64, 80, 1);    /* SmolLM2-like heads */
    check_sparse(&r, 57, 6, 2, 16, 8, 0);     /* K < L: restricted to the sets */
    check_sparse(&r, 40, 8, 1, 24, 1, 0);     /* K = 1, MQA */
}
END_TEST

/* ---- memory: streamed scores + top-k where an L x L array cannot exist --- */
#if defined(__SANITIZE_ADDRESS__)
#define DSA_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DSA_ASAN 1
#endif
#endif

#ifdef DSA_ASAN
/* RLIMIT_AS is unusable under ASan (it maps terabytes of shadow memory);
 * capping every allocation at 128 MiB still forbids one L x L float array. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "max_allocation_size_mb=128:allocator_may_return_null=1"; }
#define STREAM_L 8192
#else
#define STREAM_L 12288
static size_t mapped_bytes(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    size_t kb = 0;
    while (f && fgets(line, sizeof line, f) && sscanf(line, "VmSize: %zu kB", &kb) != 1) {}
    if (f) fclose(f);
    return kb * 1024;
}
#endif

typedef struct { ic_ctx *ctx; int32_t *idx, *cnt; int K; } stream_ctx;
static void stream_topk(void *user, const float *blk, int ld, int t0, int t1) {
    stream_ctx *c = user;
    ic_topk_forward(c->ctx, c->idx, c->cnt, blk, ld, t0, t1, c->K);
}

/* Child body: 0 = all good; other codes say what failed. */
static int stream_child(int L) {
#ifndef DSA_ASAN
    struct rlimit rl;
    rl.rlim_cur = rl.rlim_max = mapped_bytes() + ((size_t)256 << 20);
    if (setrlimit(RLIMIT_AS, &rl) != 0) return 3;
#endif
    void *big = malloc((size_t)L * L * sizeof(float));
    if (big) return 4;                       /* the cap must forbid one L x L array */
    const int H = 2, dI = 8, K = 32;
    ic_rng r; ic_rng_seed(&r, 1212);
    scores_case c = make_scores_case(&r, L, H, dI);
    int32_t *idx = malloc(sizeof(int32_t) * (size_t)L * K), *cnt = malloc(sizeof(int32_t) * L);
    if (!idx || !cnt) return 5;
    /* the workspace is reserved here, under the cap, from the queries */
    ic_ctx *ctx = ic_test_ctx(0);
    const int br = ic_indexer_scores_block_rows(L);
    if (ic_ctx_reserve(ctx, ic_indexer_scores_foreach_workspace_bytes(ctx, L, H, dI, br) +
                       ic_topk_workspace_bytes(ctx, L), NULL) != 0)
        return 5;
    stream_ctx sc = { ctx, idx, cnt, K };
    if (ic_indexer_scores_foreach(ctx, c.q, c.k, c.w, L, H, dI, br,
                                  stream_topk, &sc))
        return 6;
    /* oracle on sampled rows: the kept set, scored in double, dominates the
     * rest and comes out in non-increasing order (up to fp32 rounding) */
    double *q = malloc(sizeof(double) * (size_t)L * H * dI), *k = malloc(sizeof(double) * (size_t)L * dI);
    double *w = malloc(sizeof(double) * (size_t)L * H), *row = malloc(sizeof(double) * L);
    char *kept = malloc((size_t)L);
    if (!q || !k || !w || !row || !kept) return 5;
    to_double(q, c.q, (size_t)L * H * dI); to_double(k, c.k, (size_t)L * dI); to_double(w, c.w, (size_t)L * H);
    const int rows[] = { 0, 5, K - 1, K, 1000, L / 2 + 3, L - 2, L - 1 };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const int t = rows[i], n = cnt[t];
        if (n != (K < t + 1 ? K : t + 1)) return 7;
        double scale = 0;
        for (int s = 0; s <= t; s++) { row[s] = score_ref(q, k, w, H, dI, t, s); kept[s] = 0; if (fabs(row[s]) > scale) scale = fabs(row[s]); }
        const double tol = 1e-5 * scale;
        double min_kept = INFINITY, max_rest = -INFINITY;
        for (int m = 0; m < n; m++) {
            int s = idx[(size_t)t * K + m];
            if (s < 0 || s > t || kept[s]) return 8;
            kept[s] = 1;
            if (m > 0 && row[s] > row[idx[(size_t)t * K + m - 1]] + tol) return 9;
            if (row[s] < min_kept) min_kept = row[s];
        }
        for (int s = 0; s <= t; s++) if (!kept[s] && row[s] > max_rest) max_rest = row[s];
        if (max_rest > min_kept + tol) return 10;
    }
    return 0;
}

START_TEST(test_streaming_memory) {
    const int L = STREAM_L;
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) _exit(stream_child(L));
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    printf("streamed scores + top-k at L=%d under a cap that forbids one %zu MiB L x L array: "
           "status %d\n", L, (size_t)L * L * 4 >> 20, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "child status %d (3 setrlimit, 4 cap did not bite, 5/6 out of memory, "
                  "7 count, 8 bad index, 9 order, 10 a better score left out)",
                  WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status));
}
END_TEST

int main(void) {
    Suite *s = suite_create("dsa_ops");
    TCase *tc = tcase_create("dsa_ops");
    tcase_add_test(tc, test_layernorm);
    tcase_add_test(tc, test_scores_forward);
    tcase_add_test(tc, test_scores_backward);
    tcase_add_test(tc, test_topk);
    tcase_add_test(tc, test_sparse_attention);
    tcase_add_test(tc, test_streaming_memory);
    suite_add_tcase(s, tc);
    return ic_test_run_suite(s);
}
