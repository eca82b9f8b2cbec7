/* Random problems for the sparse-stage distillation loss (kernels/ic_distill_loss.h),
 * shared by the emulator test (tests/cudasim/test_distill_loss_sparse.cpp) and
 * the GPU test (tests/gpu/test_distill_loss_sparse_cuda.c): one F layer's
 * indexer (qI, kI, w), n_served teacher layers (q, k), causal index sets.
 * Plain C that also compiles as C++.
 *
 * Set kinds (each row t holds min(K, t+1) distinct positions in [0, t], in
 * the row's own order, -1 past cnt[t]):
 *   DLS_RANDOM   a uniform random subset of [0, t], random order;
 *   DLS_WINDOW   the last min(K, t+1) positions, descending, plus position 0
 *                first when it fits (a sink): neighbouring rows share almost
 *                all keys, every key is in up to K rows (the dkI reduction);
 *   DLS_TIES     DLS_RANDOM sets over inputs with ties: kI and the teacher k
 *                take only 3 distinct rows, so many scores of a row are equal.
 * Values: qI, kI, q, k ~ U(-1, 1), w ~ U(-0.5, 1) (mostly positive). */
#ifndef IC_DISTILL_SPARSE_PROB_H
#define IC_DISTILL_SPARSE_PROB_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ic_distill_loss.h"

#include "ic_ops_oracle.h"

enum { DLS_RANDOM = 0, DLS_WINDOW = 1, DLS_TIES = 2 };

static inline const char *dls_kind_name(int k) {
    return k == DLS_RANDOM ? "random" : k == DLS_WINDOW ? "window" : "ties";
}

#define DLS_MAX_SERVED 16

typedef struct {
    int L, HI, dI, H, Hkv, d, K, ns, kind;
    float *qI, *kI, *w;                                /* [L,HI,dI] [L,dI] [L,HI] */
    float *q[DLS_MAX_SERVED], *k[DLS_MAX_SERVED];      /* [L,H,d] [L,Hkv,d] */
    int32_t *idx, *cnt;                                /* [L,K] [L] */
} dls_prob;

static inline uint64_t dls_rng_next(uint64_t *s) {  /* splitmix64 */
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline void *dls_xmalloc(size_t bytes) {
    void *p = malloc(bytes ? bytes : 1);
    if (!p) { fprintf(stderr, "out of host memory (%zu bytes)\n", bytes); exit(2); }
    return p;
}

static inline void dls_prob_init(dls_prob *p, int L, int HI, int dI, int H, int Hkv, int d,
                                 int K, int ns, int kind, uint64_t seed) {
    memset(p, 0, sizeof *p);
    p->L = L; p->HI = HI; p->dI = dI; p->H = H; p->Hkv = Hkv; p->d = d; p->K = K;
    p->ns = ns; p->kind = kind;
    const size_t nq = (size_t)L * HI * dI, nk = (size_t)L * dI;
    p->qI = (float *)dls_xmalloc(nq * sizeof(float));
    p->kI = (float *)dls_xmalloc(nk * sizeof(float));
    p->w = (float *)dls_xmalloc((size_t)L * HI * sizeof(float));
    ic_oracle_fill(p->qI, nq, seed, -1.0f, 1.0f, 0);
    ic_oracle_fill(p->kI, nk, seed + 1, -1.0f, 1.0f, 0);
    ic_oracle_fill(p->w, (size_t)L * HI, seed + 2, -0.5f, 1.0f, 0);
    for (int j = 0; j < ns; j++) {
        const size_t a = (size_t)L * H * d, b = (size_t)L * Hkv * d;
        p->q[j] = (float *)dls_xmalloc(a * sizeof(float));
        p->k[j] = (float *)dls_xmalloc(b * sizeof(float));
        ic_oracle_fill(p->q[j], a, seed + 10 + 2 * (uint64_t)j, -1.0f, 1.0f, 0);
        ic_oracle_fill(p->k[j], b, seed + 11 + 2 * (uint64_t)j, -1.0f, 1.0f, 0);
    }
    if (kind == DLS_TIES) {  /* three distinct key rows: many equal scores */
        for (int s = 3; s < L; s++) {
            memcpy(p->kI + (size_t)s * dI, p->kI + (size_t)(s % 3) * dI, (size_t)dI * sizeof(float));
            for (int j = 0; j < ns; j++)
                memcpy(p->k[j] + (size_t)s * Hkv * d, p->k[j] + (size_t)(s % 3) * Hkv * d,
                       (size_t)Hkv * d * sizeof(float));
        }
    }
    p->idx = (int32_t *)dls_xmalloc((size_t)L * K * sizeof(int32_t));
    p->cnt = (int32_t *)dls_xmalloc((size_t)L * sizeof(int32_t));
    int32_t *perm = (int32_t *)dls_xmalloc((size_t)L * sizeof(int32_t));
    uint64_t rs = seed * 7919u + 13u;
    for (int t = 0; t < L; t++) {
        const int n = K < t + 1 ? K : t + 1;
        int32_t *row = p->idx + (size_t)t * K;
        if (kind == DLS_WINDOW) {
            int c = 0;
            if (n < t + 1 && n >= 2) row[c++] = 0;  /* the sink, then the newest */
            for (int s = t; c < n; s--) row[c++] = s;
        } else {
            for (int s = 0; s <= t; s++) perm[s] = s;
            for (int i = 0; i < n; i++) {  /* Fisher-Yates prefix */
                const int jx = i + (int)(dls_rng_next(&rs) % (uint64_t)(t + 1 - i));
                const int32_t tmp = perm[i]; perm[i] = perm[jx]; perm[jx] = tmp;
                row[i] = perm[i];
            }
        }
        for (int i = n; i < K; i++) row[i] = -1;
        p->cnt[t] = n;
    }
    free(perm);
}

static inline void dls_prob_free(dls_prob *p) {
    free(p->qI); free(p->kI); free(p->w); free(p->idx); free(p->cnt);
    for (int j = 0; j < p->ns; j++) { free(p->q[j]); free(p->k[j]); }
}

static inline ic_distill_desc dls_desc(const dls_prob *p, const int32_t *idx, const int32_t *cnt) {
    ic_distill_desc d;
    memset(&d, 0, sizeof d);
    d.L = p->L; d.n_idx_heads = p->HI; d.idx_head_dim = p->dI; d.n_heads = p->H;
    d.n_kv_heads = p->Hkv; d.head_dim = p->d; d.stage = IC_DISTILL_SPARSE;
    d.idx = idx; d.cnt = cnt; d.topk = p->K;
    return d;
}

/* got against ref, per element, relative to |ref_i| + floor * G, G = the
 * largest |ref_i - pre_i| (the largest gradient entry; pre: what the
 * gradient was accumulated onto, NULL for 0). A gradient entry is a sum over
 * the set of (q - pbar) times indexer terms; sum_c (q - pbar) = 0 makes it
 * cancel, so its fp32 error follows the size of the terms (bounded by G),
 * not its own size. Prints one line. */
static inline int dls_check(const char *name, const float *got, const float *ref,
                            const float *pre, size_t n, double tol, double floor_frac,
                            int *cases, int *failed) {
    double G = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double g = fabs((double)ref[i] - (pre ? (double)pre[i] : 0.0));
        G = g > G ? g : G;
    }
    double *r = (double *)dls_xmalloc(n * sizeof(double)), *s = (double *)dls_xmalloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        r[i] = ref[i];
        s[i] = fabs((double)ref[i]) + floor_frac * G;
    }
    const int ok = ic_oracle_check(name, got, r, s, n, tol, cases, failed);
    free(r); free(s);
    return ok;
}

/* A scalar (loss or KL sum) against the reference, relative. */
static inline int dls_check_scalar(const char *name, double got, double ref, double tol,
                                   int *cases, int *failed) {
    const double err = fabs(got - ref), s = fabs(ref) + 1e-12;
    const int ok = err <= tol * s;
    (*cases)++;
    if (!ok) (*failed)++;
    printf("%-56s got %.12g want %.12g  rel %.3e  tol %.0e  %s\n", name, got, ref, err / s, tol,
           ok ? "PASS" : "FAIL");
    fflush(stdout);
    return ok;
}

#endif
