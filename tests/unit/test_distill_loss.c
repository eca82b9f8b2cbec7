/* IndexCache distillation loss (kernels/ic_distill_loss.h) against an
 * independent double-precision reference that materialises the full
 * L x L distributions at tiny L, and its central finite differences. */
#define _GNU_SOURCE
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernels/ic_distill_loss.h"
#include "model/ic_pattern.h"
#include "testutil.h"

/* ---- a random problem: one F layer's indexer + nl teacher layers -------- */
typedef struct {
    int L, HI, dI, H, Hkv, d, nl, K;
    float *qI, *kI, *w;          /* [L,HI,dI] [L,dI] [L,HI] */
    float *q[4], *k[4], *lse[4]; /* per teacher layer: [L,H,d] [L,Hkv,d] [H,L] */
    int32_t *idx, *cnt;          /* [L,K] [L] random causal index sets */
} prob;

/* Dense LSE of layer j computed in double, as the teacher would save it. */
static void dense_lse(const prob *p, int j) {
    int grp = p->H / p->Hkv;
    double scale = 1.0 / sqrt((double)p->d);
    double *sc = malloc((size_t)p->L * sizeof(double));
    for (int h = 0; h < p->H; h++)
        for (int t = 0; t < p->L; t++) {
            double mx = -INFINITY, sum = 0;
            for (int s = 0; s <= t; s++) {
                const float *a = p->q[j] + ((size_t)t * p->H + h) * p->d;
                const float *b = p->k[j] + ((size_t)s * p->Hkv + h / grp) * p->d;
                double dot = 0;
                for (int i = 0; i < p->d; i++) dot += (double)a[i] * b[i];
                sc[s] = dot * scale;
                if (sc[s] > mx) mx = sc[s];
            }
            /* float exponentials of shifted scores: the result is stored
             * as float anyway, and this keeps the L = 16384 setup fast */
            for (int s = 0; s <= t; s++) sum += expf((float)(sc[s] - mx));
            p->lse[j][(size_t)h * p->L + t] = (float)(mx + log(sum));
        }
    free(sc);
}

static void prob_init(prob *p, uint64_t seed, int L, int HI, int dI, int H, int Hkv, int d,
                      int nl, int K) {
    ic_rng r; ic_rng_seed(&r, seed);
    *p = (prob){.L = L, .HI = HI, .dI = dI, .H = H, .Hkv = Hkv, .d = d, .nl = nl, .K = K};
    p->qI = malloc((size_t)L * HI * dI * sizeof(float));
    p->kI = malloc((size_t)L * dI * sizeof(float));
    p->w = malloc((size_t)L * HI * sizeof(float));
    ic_fill_normal(&r, p->qI, (size_t)L * HI * dI, 1.0f);
    ic_fill_normal(&r, p->kI, (size_t)L * dI, 1.0f);
    ic_fill_normal(&r, p->w, (size_t)L * HI, 0.3f);
    for (int j = 0; j < nl; j++) {
        p->q[j] = malloc((size_t)L * H * d * sizeof(float));
        p->k[j] = malloc((size_t)L * Hkv * d * sizeof(float));
        p->lse[j] = malloc((size_t)H * L * sizeof(float));
        ic_fill_normal(&r, p->q[j], (size_t)L * H * d, 1.0f);
        ic_fill_normal(&r, p->k[j], (size_t)L * Hkv * d, 1.0f);
        dense_lse(p, j);
    }
    p->idx = malloc((size_t)L * K * sizeof(int32_t));
    p->cnt = malloc((size_t)L * sizeof(int32_t));
    int *perm = malloc((size_t)L * sizeof(int)), *swp = malloc((size_t)K * sizeof(int));
    for (int s = 0; s < L; s++) perm[s] = s;
    for (int t = 0; t < L; t++) {
        /* a random subset of [0, t] in random order (Fisher-Yates prefix),
         * then the swaps undone so perm is the identity again */
        int n = K < t + 1 ? K : t + 1;
        for (int i = 0; i < n; i++) {
            int jx = i + (int)(ic_rng_uniform(&r) * (t + 1 - i));
            int tmp = perm[i]; perm[i] = perm[jx]; perm[jx] = tmp;
            swp[i] = jx;
        }
        p->cnt[t] = n;
        for (int i = 0; i < K; i++) p->idx[(size_t)t * K + i] = i < n ? perm[i] : -1;
        for (int i = n - 1; i >= 0; i--) {
            int tmp = perm[i]; perm[i] = perm[swp[i]]; perm[swp[i]] = tmp;
        }
    }
    free(perm); free(swp);
}

static void prob_free(prob *p) {
    free(p->qI); free(p->kI); free(p->w); free(p->idx); free(p->cnt);
    for (int j = 0; j < p->nl; j++) { free(p->q[j]); free(p->k[j]); free(p->lse[j]); }
}

/* ---- the independent reference (double, full rows) ---------------------- */
/* Loss of the served layers `layers[0..ns)`; *klbar = sum_t KL(pbar||q). */
static double ref_loss(const prob *p, const double *qI, const double *kI, const double *w,
                       const int *layers, int ns, int sparse, double *klbar) {
    int L = p->L, grp = p->H / p->Hkv;
    double *I = malloc((size_t)L * sizeof(double)), *lq = malloc((size_t)L * sizeof(double));
    double *pb = malloc((size_t)L * sizeof(double)), *pj = malloc((size_t)L * sizeof(double));
    double *sc = malloc((size_t)L * sizeof(double));
    int *keys = malloc((size_t)L * sizeof(int));
    double loss = 0, kb = 0;
    for (int t = 0; t < L; t++) {
        int n = sparse ? p->cnt[t] : t + 1;
        for (int c = 0; c < n; c++) keys[c] = sparse ? p->idx[(size_t)t * p->K + c] : c;
        double mx = -INFINITY, sum = 0;
        for (int c = 0; c < n; c++) {
            double v = 0;
            for (int jh = 0; jh < p->HI; jh++) {
                double a = 0;
                for (int i = 0; i < p->dI; i++)
                    a += qI[((size_t)t * p->HI + jh) * p->dI + i] * kI[(size_t)keys[c] * p->dI + i];
                if (a > 0) v += w[(size_t)t * p->HI + jh] * a;
            }
            I[c] = v;
            if (v > mx) mx = v;
        }
        for (int c = 0; c < n; c++) sum += exp(I[c] - mx);
        for (int c = 0; c < n; c++) { lq[c] = I[c] - mx - log(sum); pb[c] = 0; }
        for (int jj = 0; jj < ns; jj++) {
            int j = layers[jj];
            for (int c = 0; c < n; c++) pj[c] = 0;
            for (int h = 0; h < p->H; h++) {
                double m2 = -INFINITY, s2 = 0;
                for (int c = 0; c < n; c++) {
                    const float *a = p->q[j] + ((size_t)t * p->H + h) * p->d;
                    const float *b = p->k[j] + ((size_t)keys[c] * p->Hkv + h / grp) * p->d;
                    double dot = 0;
                    for (int i = 0; i < p->d; i++) dot += (double)a[i] * b[i];
                    sc[c] = dot / sqrt((double)p->d);
                    if (sc[c] > m2) m2 = sc[c];
                }
                for (int c = 0; c < n; c++) s2 += exp(sc[c] - m2);
                for (int c = 0; c < n; c++) pj[c] += exp(sc[c] - m2) / s2 / p->H;
            }
            double kl = 0;
            for (int c = 0; c < n; c++) {
                if (pj[c] > 0) kl += pj[c] * (log(pj[c]) - lq[c]);
                pb[c] += pj[c] / ns;
            }
            loss += kl / ns;
        }
        for (int c = 0; c < n; c++)
            if (pb[c] > 0) kb += pb[c] * (log(pb[c]) - lq[c]);
    }
    free(I); free(lq); free(pb); free(pj); free(sc); free(keys);
    if (klbar) *klbar = kb;
    return loss;
}

static double *to_f64(const float *x, size_t n) {
    double *y = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) y[i] = x[i];
    return y;
}

/* Central differences of ref_loss w.r.t. every entry of qI, kI and w. */
static void ref_grad_fd(const prob *p, const int *layers, int ns, int sparse,
                        double *gq, double *gk, double *gw) {
    size_t nq = (size_t)p->L * p->HI * p->dI, nk = (size_t)p->L * p->dI, nw = (size_t)p->L * p->HI;
    double *qI = to_f64(p->qI, nq), *kI = to_f64(p->kI, nk), *w = to_f64(p->w, nw);
    /* h = 1e-6: truncation ~h^2 * f''' ~ 1e-12, rounding ~1e-16 * |loss| / h ~ 1e-9;
     * a ReLU kink within h of a random pre-activation has probability ~1e-6 */
    const double h = 1e-6;
    double *arrs[3] = {qI, kI, w}, *outs[3] = {gq, gk, gw};
    size_t ns_[3] = {nq, nk, nw};
    for (int a = 0; a < 3; a++)
        for (size_t i = 0; i < ns_[a]; i++) {
            double x0 = arrs[a][i];
            arrs[a][i] = x0 + h;
            double fp = ref_loss(p, qI, kI, w, layers, ns, sparse, NULL);
            arrs[a][i] = x0 - h;
            double fm = ref_loss(p, qI, kI, w, layers, ns, sparse, NULL);
            arrs[a][i] = x0;
            outs[a][i] = (fp - fm) / (2 * h);
        }
    free(qI); free(kI); free(w);
}

/* ---- running the op ------------------------------------------------------ */
typedef struct { float *dq, *dk, *dw; ic_distill_stats st; } op_out;

static void op_out_free(op_out *o) { free(o->dq); free(o->dk); free(o->dw); }

static ic_distill_desc make_desc(const prob *p, int sparse, int R, int KB) {
    return (ic_distill_desc){
        .L = p->L, .n_idx_heads = p->HI, .idx_head_dim = p->dI, .n_heads = p->H,
        .n_kv_heads = p->Hkv, .head_dim = p->d,
        .stage = sparse ? IC_DISTILL_SPARSE : IC_DISTILL_DENSE,
        .idx = p->idx, .cnt = p->cnt, .topk = p->K, .row_block = R, .key_block = KB};
}

/* Backward from zeroed gradient buffers (the op accumulates). */
static op_out run_op(const prob *p, const int *layers, int ns, int sparse, int R, int KB) {
    op_out o;
    o.dq = calloc((size_t)p->L * p->HI * p->dI, sizeof(float));
    o.dk = calloc((size_t)p->L * p->dI, sizeof(float));
    o.dw = calloc((size_t)p->L * p->HI, sizeof(float));
    ic_distill_teacher T[4];
    for (int j = 0; j < ns; j++)
        T[j] = (ic_distill_teacher){p->q[layers[j]], p->k[layers[j]], p->lse[layers[j]]};
    ic_distill_desc d = make_desc(p, sparse, R, KB);
    ic_error err; ic_error_clear(&err);
    ck_assert_int_eq(ic_distill_loss_backward(ic_test_ctx(ic_distill_loss_workspace_bytes(ic_test_ctx(0), &d)), &d, p->qI, p->kI, p->w, T, ns, o.dq, o.dk, o.dw,
                                              &o.st, &err), 0);
    ck_assert_int_eq(o.st.n_tokens, p->L);
    return o;
}

static double rel_f32_f64(const float *a, const double *b, size_t n) {
    double *ad = to_f64(a, n);
    double e = ic_rel_err_f64(ad, b, n);
    free(ad);
    return e;
}

/* ---- 1. gradient check ---------------------------------------------------- */
static void grad_check(int sparse, int multi, uint64_t seed) {
    prob p;
    prob_init(&p, seed, 13, 3, 8, 4, 2, 8, 3, 5);
    int layers[3] = {0, 1, 2}, ns = multi ? 3 : 1;
    size_t nq = (size_t)p.L * p.HI * p.dI, nk = (size_t)p.L * p.dI, nw = (size_t)p.L * p.HI;
    double *gq = malloc(nq * sizeof(double)), *gk = malloc(nk * sizeof(double));
    double *gw = malloc(nw * sizeof(double));
    ref_grad_fd(&p, layers, ns, sparse, gq, gk, gw);
    double *q64 = to_f64(p.qI, nq), *k64 = to_f64(p.kI, nk), *w64 = to_f64(p.w, nw);
    double kb_ref, ref = ref_loss(&p, q64, k64, w64, layers, ns, sparse, &kb_ref);
    /* small blocks exercise partial row blocks and key tiles; 0 = defaults */
    int blocks[3][2] = {{4, 5}, {1, 1}, {0, 0}};
    for (int b = 0; b < 3; b++) {
        op_out o = run_op(&p, layers, ns, sparse, blocks[b][0], blocks[b][1]);
        double eq = rel_f32_f64(o.dq, gq, nq), ek = rel_f32_f64(o.dk, gk, nk);
        double ew = rel_f32_f64(o.dw, gw, nw);
        double el = fabs(o.st.loss - ref) / fabs(ref), ekb = fabs(o.st.kl_pbar - kb_ref) / kb_ref;
        if (getenv("IC_TEST_VERBOSE"))
            fprintf(stderr, "grad sparse=%d multi=%d R=%d KB=%d: dqI %.2e dkI %.2e dw %.2e "
                    "loss %.2e klbar %.2e\n", sparse, multi, blocks[b][0], blocks[b][1],
                    eq, ek, ew, el, ekb);
        ck_assert_msg(eq < 1e-5 && ek < 1e-5 && ew < 1e-5,
                      "sparse=%d multi=%d R=%d KB=%d: rel err dqI %.2e dkI %.2e dw %.2e",
                      sparse, multi, blocks[b][0], blocks[b][1], eq, ek, ew);
        ck_assert_msg(el < 1e-6 && ekb < 1e-6, "loss %.9g vs ref %.9g (rel %.2e), "
                      "KL(pbar||q) %.9g vs %.9g", o.st.loss, ref, el, o.st.kl_pbar, kb_ref);
        /* KL(pbar||q) <= mean_j KL(p_j||q) (convexity), equal only for one layer */
        ck_assert(multi ? o.st.kl_pbar < o.st.loss : fabs(o.st.kl_pbar - o.st.loss) < 1e-5 * ref);
        op_out_free(&o);
    }
    free(gq); free(gk); free(gw); free(q64); free(k64); free(w64);
    prob_free(&p);
}

START_TEST(test_grad_dense_multi)  { grad_check(0, 1, 11); } END_TEST
START_TEST(test_grad_dense_single) { grad_check(0, 0, 12); } END_TEST
START_TEST(test_grad_sparse_multi) { grad_check(1, 1, 13); } END_TEST
START_TEST(test_grad_sparse_single){ grad_check(1, 0, 14); } END_TEST

/* ---- 2. multi = mean over served layers of single; all-F pattern ---------- */
static void multi_vs_single(int sparse) {
    prob p;
    prob_init(&p, 21 + sparse, 13, 3, 8, 4, 2, 8, 3, 5);
    size_t nq = (size_t)p.L * p.HI * p.dI, nk = (size_t)p.L * p.dI, nw = (size_t)p.L * p.HI;
    int layers[3] = {0, 1, 2};
    op_out m = run_op(&p, layers, 3, sparse, 4, 5);
    double mean = 0;
    float *gq = calloc(nq, sizeof(float)), *gk = calloc(nk, sizeof(float));
    float *gw = calloc(nw, sizeof(float));
    for (int j = 0; j < 3; j++) {
        op_out s = run_op(&p, &layers[j], 1, sparse, 4, 5);
        mean += s.st.loss / 3.0;
        /* dL/dI = q - mean_j p_j is linear in p_j: gradients average too */
        for (size_t i = 0; i < nq; i++) gq[i] += s.dq[i] / 3.0f;
        for (size_t i = 0; i < nk; i++) gk[i] += s.dk[i] / 3.0f;
        for (size_t i = 0; i < nw; i++) gw[i] += s.dw[i] / 3.0f;
        op_out_free(&s);
    }
    ck_assert_msg(fabs(m.st.loss - mean) < 1e-6 * fabs(mean), "multi %.9g, mean of singles %.9g",
                  m.st.loss, mean);
    ck_assert(ic_rel_err_f32(m.dq, gq, nq) < 1e-5);
    ck_assert(ic_rel_err_f32(m.dk, gk, nk) < 1e-5);
    ck_assert(ic_rel_err_f32(m.dw, gw, nw) < 1e-5);
    op_out_free(&m); free(gq); free(gk); free(gw);

    /* Served sets from patterns (model/ic_pattern.h): "FSS" makes layer 0
     * serve {0,1,2}, the set of the multi run above; "FFF" makes every
     * G(l) = {l}, where multi and single must agree exactly. */
    ic_error err; ic_error_clear(&err);
    ic_pattern pat;
    int g[3];
    ck_assert_int_eq(ic_pattern_parse(&pat, "FSS", 3, &err), 0);
    ck_assert_int_eq(ic_pattern_served(&pat, 0, g, 3), 3);
    ck_assert(g[0] == 0 && g[1] == 1 && g[2] == 2);
    ck_assert_int_eq(ic_pattern_parse(&pat, "FFF", 3, &err), 0);
    for (int l = 0; l < 3; l++) {
        int gm[3], gs[1] = {l};
        ck_assert_int_eq(ic_pattern_served(&pat, l, gm, 3), 1);
        op_out a = run_op(&p, gm, 1, sparse, 0, 0), b = run_op(&p, gs, 1, sparse, 0, 0);
        ck_assert(a.st.loss == b.st.loss);
        ck_assert(memcmp(a.dq, b.dq, nq * sizeof(float)) == 0);
        op_out_free(&a); op_out_free(&b);
    }
    prob_free(&p);
}

START_TEST(test_multi_is_mean_dense)  { multi_vs_single(0); } END_TEST
START_TEST(test_multi_is_mean_sparse) { multi_vs_single(1); } END_TEST

/* ---- 4. sparse stage with every causal key selected == dense stage -------- */
START_TEST(test_sparse_full_equals_dense) {
    prob p;
    /* K = L + 3 > L: every row selects all of [0, t], in random order */
    prob_init(&p, 31, 13, 3, 8, 4, 2, 8, 2, 16);
    size_t nq = (size_t)p.L * p.HI * p.dI, nk = (size_t)p.L * p.dI, nw = (size_t)p.L * p.HI;
    int layers[2] = {0, 1};
    op_out dn = run_op(&p, layers, 2, 0, 4, 5), sp = run_op(&p, layers, 2, 1, 4, 5);
    ck_assert_msg(fabs(dn.st.loss - sp.st.loss) < 1e-5 * dn.st.loss, "dense %.9g sparse %.9g",
                  dn.st.loss, sp.st.loss);
    ck_assert(fabs(dn.st.kl_pbar - sp.st.kl_pbar) < 1e-5 * dn.st.kl_pbar);
    ck_assert(ic_rel_err_f32(sp.dq, dn.dq, nq) < 1e-5);
    ck_assert(ic_rel_err_f32(sp.dk, dn.dk, nk) < 1e-5);
    ck_assert(ic_rel_err_f32(sp.dw, dn.dw, nw) < 1e-5);
    op_out_free(&dn); op_out_free(&sp);
    prob_free(&p);

    /* L = 300 with the default blocks (several row blocks of 64, two key
     * tiles of 256): both stages against the double reference's loss */
    prob_init(&p, 32, 300, 2, 8, 2, 1, 8, 2, 301);
    double *q64 = to_f64(p.qI, (size_t)p.L * p.HI * p.dI), *k64 = to_f64(p.kI, (size_t)p.L * p.dI);
    double *w64 = to_f64(p.w, (size_t)p.L * p.HI), kb;
    double ref = ref_loss(&p, q64, k64, w64, layers, 2, 0, &kb);
    dn = run_op(&p, layers, 2, 0, 0, 0);
    sp = run_op(&p, layers, 2, 1, 0, 0);
    ck_assert_msg(fabs(dn.st.loss - ref) < 1e-5 * ref && fabs(sp.st.loss - ref) < 1e-5 * ref,
                  "L=300: dense %.9g sparse %.9g reference %.9g", dn.st.loss, sp.st.loss, ref);
    ck_assert(fabs(dn.st.kl_pbar - kb) < 1e-5 * kb);
    nk = (size_t)p.L * p.dI;
    ck_assert(ic_rel_err_f32(sp.dk, dn.dk, nk) < 1e-5);
    op_out_free(&dn); op_out_free(&sp);
    free(q64); free(k64); free(w64);
    prob_free(&p);
}
END_TEST

/* ---- forward == backward's loss; gradients accumulate; 1 vs many threads -- */
START_TEST(test_forward_and_accumulate) {
    prob p;
    prob_init(&p, 41, 37, 3, 8, 4, 2, 8, 2, 7);
    size_t nq = (size_t)p.L * p.HI * p.dI, nk = (size_t)p.L * p.dI, nw = (size_t)p.L * p.HI;
    int layers[2] = {0, 1};
    ic_distill_teacher T[2] = {{p.q[0], p.k[0], p.lse[0]}, {p.q[1], p.k[1], p.lse[1]}};
    for (int sparse = 0; sparse < 2; sparse++) {
        op_out g = run_op(&p, layers, 2, sparse, 8, 16);
        ic_distill_desc d = make_desc(&p, sparse, 8, 16);
        ic_error err; ic_error_clear(&err);
        ic_distill_stats st;
        ck_assert_int_eq(ic_distill_loss_forward(ic_test_ctx(ic_distill_loss_workspace_bytes(ic_test_ctx(0), &d)), &d, p.qI, p.kI, p.w, T, 2, &st, &err), 0);
        ck_assert(st.loss == g.st.loss && st.kl_pbar == g.st.kl_pbar);

        ic_rng r; ic_rng_seed(&r, 42 + sparse);
        float *aq = malloc(nq * sizeof(float)), *ak = malloc(nk * sizeof(float));
        float *aw = malloc(nw * sizeof(float));
        ic_fill_normal(&r, aq, nq, 0.1f); ic_fill_normal(&r, ak, nk, 0.1f);
        ic_fill_normal(&r, aw, nw, 0.1f);
        float *bq = malloc(nq * sizeof(float)), *bk = malloc(nk * sizeof(float));
        float *bw = malloc(nw * sizeof(float));
        memcpy(bq, aq, nq * sizeof(float)); memcpy(bk, ak, nk * sizeof(float));
        memcpy(bw, aw, nw * sizeof(float));
        ck_assert_int_eq(ic_distill_loss_backward(ic_test_ctx(ic_distill_loss_workspace_bytes(ic_test_ctx(0), &d)), &d, p.qI, p.kI, p.w, T, 2, bq, bk, bw, &st,
                                                  &err), 0);
        for (size_t i = 0; i < nq; i++) aq[i] += g.dq[i];
        for (size_t i = 0; i < nk; i++) ak[i] += g.dk[i];
        for (size_t i = 0; i < nw; i++) aw[i] += g.dw[i];
        ck_assert(ic_rel_err_f32(bq, aq, nq) < 1e-6);
        ck_assert(ic_rel_err_f32(bk, ak, nk) < 1e-6);
        ck_assert(ic_rel_err_f32(bw, aw, nw) < 1e-6);

        /* one thread: same values to float rounding (summation order differs) */
        int nt = omp_get_max_threads();
        omp_set_num_threads(1);
        op_out one = run_op(&p, layers, 2, sparse, 8, 16);
        omp_set_num_threads(nt);
        ck_assert(fabs(one.st.loss - g.st.loss) < 1e-6 * g.st.loss);
        ck_assert(ic_rel_err_f32(one.dk, g.dk, nk) < 1e-6);
        op_out_free(&one);
        free(aq); free(ak); free(aw); free(bq); free(bk); free(bw);
        op_out_free(&g);
    }
    prob_free(&p);
}
END_TEST

/* ---- 3. memory: dense stage at an L where L x L floats cannot be had ------ */
#if defined(__SANITIZE_ADDRESS__)
#define IC_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define IC_TEST_ASAN 1
#endif
#endif

#ifdef IC_TEST_ASAN
/* ASan reserves terabytes of shadow address space, so RLIMIT_AS cannot be
 * used under it; instead every single allocation over 128 MiB fails (this
 * test binary needs none), which still rules out one L x L float array. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) {
    return "max_allocation_size_mb=128:allocator_may_return_null=1";
}
#define MEM_TEST_L 8192
#else
#define MEM_TEST_L 16384
static size_t vm_size_bytes(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    size_t kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmSize: %zu kB", &kb) == 1) break;
    if (f) fclose(f);
    return kb * 1024;
}
#endif

/* What the CUDA loss kernels take, as the trainer asks before it starts
 * (the limits of kernels/cuda/distill_loss_{dense,sparse}.cu). */
START_TEST(test_cuda_limits) {
    ic_distill_desc d = {.L = 8192, .n_idx_heads = 16, .idx_head_dim = 64, .n_heads = 9,
                         .n_kv_heads = 3, .head_dim = 64, .stage = IC_DISTILL_DENSE};
    ck_assert_ptr_null(ic_distill_cuda_unsupported(&d, 4));
    ck_assert_ptr_null(ic_distill_cuda_unsupported(&d, 12));   /* a searched pattern's run */
    ck_assert_ptr_null(ic_distill_cuda_unsupported(&d, IC_DISTILL_CUDA_MAX_SERVED));
    const char *why = ic_distill_cuda_unsupported(&d, IC_DISTILL_CUDA_MAX_SERVED + 1);
    ck_assert_ptr_nonnull(why);
    ck_assert_ptr_nonnull(strstr(why, "served layers"));
    d.idx_head_dim = 32;
    ck_assert_ptr_nonnull((why = ic_distill_cuda_unsupported(&d, 4)));
    ck_assert_ptr_nonnull(strstr(why, "d_I = 32"));
    d.idx_head_dim = 128;
    d.head_dim = 96;
    ck_assert_ptr_nonnull((why = ic_distill_cuda_unsupported(&d, 4)));
    ck_assert_ptr_nonnull(strstr(why, "d = 96"));
    /* the sparse stage takes other dims (multiples of 4), up to 64 heads and K 2048 */
    d.stage = IC_DISTILL_SPARSE;
    d.topk = 256;
    ck_assert_ptr_null(ic_distill_cuda_unsupported(&d, 4));
    d.idx_head_dim = 20;
    d.head_dim = 12;
    ck_assert_ptr_null(ic_distill_cuda_unsupported(&d, 4));
    d.topk = 4096;
    ck_assert_ptr_nonnull((why = ic_distill_cuda_unsupported(&d, 4)));
    ck_assert_ptr_nonnull(strstr(why, "top-k 4096"));
    d.topk = 256;
    d.n_idx_heads = 65;
    ck_assert_ptr_nonnull(ic_distill_cuda_unsupported(&d, 4));
    d.n_idx_heads = 16;
    d.idx_head_dim = 18;
    ck_assert_ptr_nonnull(ic_distill_cuda_unsupported(&d, 4));
} END_TEST

START_TEST(test_memory_rlimit) {
    const int L = MEM_TEST_L;
    const size_t LL = (size_t)L * L * sizeof(float);   /* one L x L float array */
    int fd[2];
    ck_assert_int_eq(pipe(fd), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fd[0]);
#ifndef IC_TEST_ASAN
        /* headroom of 512 MiB over what the process maps now: one L x L float
         * array (1 GiB) cannot be had, let alone one per head (H = 2) */
        struct rlimit rl = {.rlim_cur = vm_size_bytes() + ((size_t)512 << 20)};
        rl.rlim_max = rl.rlim_cur;
        if (setrlimit(RLIMIT_AS, &rl) != 0) _exit(3);
#endif
        void *big = malloc(LL);
        if (big) _exit(4);                /* the limit must bite */
        prob p;
        prob_init(&p, 51, L, 2, 8, 2, 1, 8, 1, 1);
        ic_distill_teacher T = {p.q[0], p.k[0], p.lse[0]};
        ic_distill_desc d = make_desc(&p, 0, 0, 0);
        float *dq = calloc((size_t)L * p.HI * p.dI, sizeof(float));
        float *dk = calloc((size_t)L * p.dI, sizeof(float));
        float *dw = calloc((size_t)L * p.HI, sizeof(float));
        ic_distill_stats st;
        ic_error err; ic_error_clear(&err);
        if (!dq || !dk || !dw) _exit(5);
        /* the workspace, under the limit, from the op's query */
        ic_ctx *ctx = ic_test_ctx(0);
        if (ic_ctx_reserve(ctx, ic_distill_loss_workspace_bytes(ctx, &d), &err) != 0) {
            fprintf(stderr, "%s\n", err.msg);
            _exit(5);
        }
        if (ic_distill_loss_backward(ctx, &d, p.qI, p.kI, p.w, &T, 1, dq, dk, dw, &st, &err) != 0) {
            fprintf(stderr, "%s\n", err.msg);
            _exit(6);
        }
        double gn = 0;
        for (size_t i = 0; i < (size_t)L * p.dI; i++) gn += (double)dk[i] * dk[i];
        double msg[3] = {st.loss, (double)st.n_tokens, gn};
        if (write(fd[1], msg, sizeof msg) != (ssize_t)sizeof msg) _exit(7);
        _exit(0);
    }
    close(fd[1]);
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "child failed: status %d (3 setrlimit, 4 limit did not bite, 5/6 out of memory)",
                  WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status));
    double msg[3];
    ck_assert_int_eq(read(fd[0], msg, sizeof msg), (ssize_t)sizeof msg);
    close(fd[0]);
    ck_assert_msg(isfinite(msg[0]) && msg[0] > 0, "loss %g", msg[0]);
    ck_assert(msg[1] == L);
    ck_assert(isfinite(msg[2]) && msg[2] > 0);
}
END_TEST

int main(void) {
    Suite *s = suite_create("distill_loss");
    TCase *tc = tcase_create("distill_loss");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_grad_dense_multi);
    tcase_add_test(tc, test_grad_dense_single);
    tcase_add_test(tc, test_grad_sparse_multi);
    tcase_add_test(tc, test_grad_sparse_single);
    tcase_add_test(tc, test_multi_is_mean_dense);
    tcase_add_test(tc, test_multi_is_mean_sparse);
    tcase_add_test(tc, test_sparse_full_equals_dense);
    tcase_add_test(tc, test_forward_and_accumulate);
    tcase_add_test(tc, test_memory_rlimit);
    tcase_add_test(tc, test_cuda_limits);
    suite_add_tcase(s, tc);
    return ic_test_run_suite(s);
}
