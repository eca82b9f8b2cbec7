/* CPU reference of the IndexCache distillation loss (kernels/ic_distill_loss.h).
 *
 * Dense stage, per block of R query rows [t0, t1):
 *   pass 1  the indexer scores I[r, s < t1] of the block ([R, L], the shared
 *           op kernels/ic_indexer_scores.h), then each row's log-sum-exp;
 *   pass 2  per key tile: log q; per served layer and head the teacher score
 *           tile (GEMM) -> p_j tile with the saved LSE -> KL_j terms and pbar;
 *           g = q - pbar overwrites the tile of I (no longer needed);
 *   then    the indexer score backward of the block from g (shared op).
 * Sparse stage, per row t: the same on the gathered keys of T_t, with the
 * teacher's per-head normaliser over T_t computed here (the shared op has
 * no gathered form, so the sparse row has its own small score helpers).
 *
 * All exponentials are taken of x - max or of s - lse (<= ~0), every log of a
 * probability is skipped where the probability is 0 (KL term 0), and loss
 * sums are kept in double. Row blocks go to threads round-robin
 * (schedule(static, 1)) so the causal triangle balances and the dkI
 * reduction order is fixed. */
#include "kernels/ic_distill_loss.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "core/ic_check.h"
#include "kernels/cpu/ic_cpu_blas.h"
#include "kernels/cpu/ic_cpu_indexer_scores.h"
#include "kernels/cpu/ic_cpu_threads.h"

#define DL_ROW_BLOCK 64
#define DL_KEY_BLOCK 256

typedef struct {
    const ic_distill_desc *d;
    const float *qI, *kI, *w;          /* [L,H_I,d_I] [L,d_I] [L,H_I] */
    const ic_distill_teacher *tch;     /* [n_served] */
    int n_served;
    float *dqI, *dkI, *dw;             /* NULL when not wanted */
    int want_grad;
    double *row_loss, *row_kl;         /* [L] per-token terms, summed in order */
    int R, KB;                         /* row block, key tile */
} dl_ctx;

/* Per-thread scratch (isc = indexer scores I, then dL/dI). Dense sizes:
 * isc [R, L], tiles S, P, pbar, logq [R, KB], and the indexer-score op's
 * tiles (it runs on this thread, nslices 1). Sparse sizes: isc and tiles
 * [Kmax], A [H_I, Kmax], S [H/Hkv, Kmax], gathers. All of it is carved from
 * one slice of the workspace (scratch_layout gives the same offsets to the
 * query and to the op). */
typedef struct {
    float *isc, *lseI, *A, *S, *P, *pbar, *logq;
    float *kIg, *kg, *dkIg;            /* sparse gathers [Kmax, d_I] [Kmax, d] [Kmax, d_I] */
    double *kl_row, *klbar_row;        /* [R] */
    float *dkI;                        /* [L, d_I] private accumulator (NULL without grads) */
    char *isc_ws;                      /* the dense stage's indexer-score tiles */
} dl_scratch;

/* Lays one thread's slice out from base (NULL: sizes only) and returns its
 * bytes. R, KB: the row block and key tile in effect. */
static size_t scratch_layout(dl_scratch *s, char *base, const ic_distill_desc *d, int R_,
                             int KB_, int want_dkI) {
    size_t L = (size_t)d->L, HI = (size_t)d->n_idx_heads, dI = (size_t)d->idx_head_dim;
    size_t R = (size_t)R_, F = sizeof(float), off = 0;
    dl_scratch tmp;
    if (!s) s = &tmp;
    memset(s, 0, sizeof *s);
#define DL_TAKE(field, type, bytes) do { \
        s->field = base ? (type *)(base + off) : NULL; off += ic_ws_round(bytes); } while (0)
    if (d->stage == IC_DISTILL_DENSE) {
        size_t KB = (size_t)KB_;
        DL_TAKE(isc, float, R * L * F);
        DL_TAKE(S, float, R * KB * F);
        DL_TAKE(P, float, R * KB * F);
        DL_TAKE(pbar, float, R * KB * F);
        DL_TAKE(logq, float, R * KB * F);
        size_t fw = ic_cpu_isc_fwd_slice((int)HI), bw = ic_cpu_isc_bwd_slice((int)HI, (int)dI, (int)L);
        DL_TAKE(isc_ws, char, fw > bw ? fw : bw);
    } else {
        size_t K = (size_t)(d->topk < d->L ? d->topk : d->L);
        size_t G = (size_t)(d->n_heads / d->n_kv_heads), hd = (size_t)d->head_dim;
        DL_TAKE(isc, float, K * F);
        DL_TAKE(A, float, HI * K * F);
        DL_TAKE(S, float, G * K * F);
        DL_TAKE(P, float, K * F);
        DL_TAKE(pbar, float, K * F);
        DL_TAKE(logq, float, K * F);
        DL_TAKE(kIg, float, K * dI * F);
        DL_TAKE(kg, float, K * hd * F);
        DL_TAKE(dkIg, float, K * dI * F);
    }
    DL_TAKE(lseI, float, R * F);
    DL_TAKE(kl_row, double, R * sizeof(double));
    DL_TAKE(klbar_row, double, R * sizeof(double));
    if (want_dkI) DL_TAKE(dkI, float, L * dI * F);
#undef DL_TAKE
    return off;
}

static int eff_row_block(const ic_distill_desc *d) {
    int R = d->row_block > 0 ? d->row_block : DL_ROW_BLOCK;
    return R > d->L ? d->L : R;
}

static int eff_key_block(const ic_distill_desc *d) {
    return d->key_block > 0 ? d->key_block : DL_KEY_BLOCK;
}

size_t ic_distill_loss_workspace_bytes_cpu(const ic_ctx *ctx, const ic_distill_desc *d) {
    const size_t nt = (size_t)ic_cpu_threads(ctx);
    return 2 * ic_ws_round((size_t)d->L * sizeof(double))
         + ic_ws_round(nt * sizeof(dl_scratch))
         + nt * scratch_layout(NULL, NULL, d, eff_row_block(d), eff_key_block(d), 1);
}

/* log sum_i exp(x[i]), n >= 1, stable: the largest term is exp(0). */
static float logsumexp_f(const float *x, int n) {
    float mx = x[0];
    for (int i = 1; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    double sum = 0.0;
    for (int i = 0; i < n; i++) sum += (double)expf(x[i] - mx);
    return mx + (float)log(sum);
}

/* Branch-free ReLU and its derivative, exact in fp32 (x + |x| = 2x or 0;
 * the halving is exact), so -O2 vectorises the loops below without
 * if-conversion. step_f(x) = [x > 0]. */
static inline float relu_f(float x) { return 0.5f * (x + fabsf(x)); }
static inline float step_f(float x) { return (float)(x > 0.0f); }

/* out[c] = sum_j w[j] * ReLU(A[j*lda + c]) for c < n. The simd pragmas
 * let the -O2 build vectorise the hot elementwise loops; none of them is a
 * reduction, so results do not depend on the vector width. */
static void index_scores(float *out, const float *A, int lda, const float *w, int HI, int n) {
    for (int c = 0; c < n; c++) out[c] = 0.0f;
    for (int j = 0; j < HI; j++) {
        const float *a = A + (size_t)j * lda;
        float wj = w[j];
        #pragma omp simd
        for (int c = 0; c < n; c++) out[c] += wj * relu_f(a[c]);
    }
}

/* Indexer backward of one row t over n valid columns (of ncols in the
 * tile): A holds the pre-activations a[j, c] (rows j with stride lda) and
 * becomes DA = g * w[j] * [a > 0], with columns >= n zeroed so the GEMMs
 * that follow see no stale entries; dw[j] += sum_c g[c] * ReLU(a[j, c])
 * is a GEMV on ReLU(A). [a > 0] == [ReLU(a) > 0], so A can hold ReLU(a)
 * in between. */
static void index_backward_rows(float *A, int lda, const float *g, const float *w, float *dw,
                                int HI, int n, int ncols) {
    for (int j = 0; j < HI; j++) {
        float *a = A + (size_t)j * lda;
        #pragma omp simd
        for (int c = 0; c < n; c++) a[c] = relu_f(a[c]);
    }
    if (dw && n > 0)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, HI, n, 1.0f, A, lda, g, 1, 1.0f, dw, 1);
    for (int j = 0; j < HI; j++) {
        float *a = A + (size_t)j * lda;
        float wj = w[j];
        #pragma omp simd
        for (int c = 0; c < n; c++) a[c] = step_f(a[c]) * (g[c] * wj);
        for (int c = n; c < ncols; c++) a[c] = 0.0f;
    }
}

/* One dense row block [t0, t1). */
static void dense_block(const dl_ctx *c, dl_scratch *ws, int t0, int t1) {
    const ic_distill_desc *d = c->d;
    const int L = d->L, HI = d->n_idx_heads, dI = d->idx_head_dim;
    const int H = d->n_heads, Hkv = d->n_kv_heads, hd = d->head_dim, grp = H / Hkv;
    const int R = t1 - t0, KB = c->KB;
    const float scale = 1.0f / sqrtf((float)hd), invH = 1.0f / (float)H;
    const float inv_m = 1.0f / (float)c->n_served;

    /* pass 1: indexer scores of the block's causal keys, then row LSE */
    ic_cpu_isc_forward(ws->isc, L, c->qI, c->kI, c->w, L, HI, dI, t0, t1, 1, ws->isc_ws);
    for (int r = 0; r < R; r++) {
        ws->lseI[r] = logsumexp_f(ws->isc + (size_t)r * L, t0 + r + 1);
        ws->kl_row[r] = 0.0;
        ws->klbar_row[r] = 0.0;
    }

    /* pass 2: teacher tiles, KL terms, g = q - pbar; then the backward */
    for (int s0 = 0; s0 < t1; s0 += KB) {
        int nb = t1 - s0 < KB ? t1 - s0 : KB;
        for (int r = 0; r < R; r++) {
            int n = t0 + r - s0 + 1 < nb ? t0 + r - s0 + 1 : nb;
            float *lq = ws->logq + (size_t)r * KB, *pb = ws->pbar + (size_t)r * KB;
            const float *Ir = ws->isc + (size_t)r * L + s0;
            float lse = ws->lseI[r];
            #pragma omp simd
            for (int k = 0; k < n; k++) { lq[k] = Ir[k] - lse; pb[k] = 0.0f; }
        }
        for (int j = 0; j < c->n_served; j++) {
            const ic_distill_teacher *T = &c->tch[j];
            for (int r = 0; r < R; r++)
                memset(ws->P + (size_t)r * KB, 0, (size_t)nb * sizeof(float));
            for (int h = 0; h < H; h++) {
                int g = h / grp;
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, R, nb, hd, scale,
                            T->q + (size_t)t0 * H * hd + (size_t)h * hd, H * hd,
                            T->k + (size_t)s0 * Hkv * hd + (size_t)g * hd, Hkv * hd,
                            0.0f, ws->S, KB);
                for (int r = 0; r < R; r++) {
                    int n = t0 + r - s0 + 1 < nb ? t0 + r - s0 + 1 : nb;
                    float lse = T->lse[(size_t)h * L + t0 + r];
                    const float *Sr = ws->S + (size_t)r * KB;
                    float *Pr = ws->P + (size_t)r * KB;
                    for (int k = 0; k < n; k++) Pr[k] += expf(Sr[k] - lse);
                }
            }
            for (int r = 0; r < R; r++) {
                int n = t0 + r - s0 + 1 < nb ? t0 + r - s0 + 1 : nb;
                const float *lq = ws->logq + (size_t)r * KB;
                float *Pr = ws->P + (size_t)r * KB, *pb = ws->pbar + (size_t)r * KB;
                double kl = 0.0;
                for (int k = 0; k < n; k++) {
                    float p = Pr[k] * invH;
                    if (p > 0.0f) kl += (double)p * ((double)logf(p) - lq[k]);
                    pb[k] += p * inv_m;
                }
                ws->kl_row[r] += kl * inv_m;
            }
        }
        /* KL(pbar || q) for logging; g = q - pbar replaces the tile of I */
        for (int r = 0; r < R; r++) {
            int n = t0 + r - s0 + 1 < nb ? t0 + r - s0 + 1 : nb;
            const float *lq = ws->logq + (size_t)r * KB;
            float *pb = ws->pbar + (size_t)r * KB;
            float *gr = ws->isc + (size_t)r * L + s0;
            double kl = 0.0;
            for (int k = 0; k < n; k++) {
                if (pb[k] > 0.0f) kl += (double)pb[k] * ((double)logf(pb[k]) - lq[k]);
                gr[k] = expf(lq[k]) - pb[k];
            }
            ws->klbar_row[r] += kl;
        }
    }
    if (c->want_grad)
        ic_cpu_isc_backward(c->dqI, ws->dkI, c->dw, ws->isc, L, c->qI, c->kI, c->w,
                            L, HI, dI, t0, t1, 1, ws->isc_ws);
    for (int r = 0; r < R; r++) {
        c->row_loss[t0 + r] = ws->kl_row[r];
        c->row_kl[t0 + r] = ws->klbar_row[r];
    }
}

/* One sparse row t: keys T_t = idx[t, :cnt[t]]. */
static void sparse_row(const dl_ctx *c, dl_scratch *ws, int t) {
    const ic_distill_desc *d = c->d;
    const int HI = d->n_idx_heads, dI = d->idx_head_dim;
    const int H = d->n_heads, Hkv = d->n_kv_heads, hd = d->head_dim, grp = H / Hkv;
    const int n = d->cnt[t];
    const int32_t *ids = d->idx + (size_t)t * d->topk;
    const float scale = 1.0f / sqrtf((float)hd), invH = 1.0f / (float)H;
    const float inv_m = 1.0f / (float)c->n_served;
    const float *qt = c->qI + (size_t)t * HI * dI;

    for (int k = 0; k < n; k++)
        memcpy(ws->kIg + (size_t)k * dI, c->kI + (size_t)ids[k] * dI, (size_t)dI * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, HI, n, dI, 1.0f, qt, dI,
                ws->kIg, dI, 0.0f, ws->A, n);
    index_scores(ws->isc, ws->A, n, c->w + (size_t)t * HI, HI, n);
    float lseI = logsumexp_f(ws->isc, n);
    for (int k = 0; k < n; k++) { ws->logq[k] = ws->isc[k] - lseI; ws->pbar[k] = 0.0f; }

    double loss = 0.0;
    for (int j = 0; j < c->n_served; j++) {
        const ic_distill_teacher *T = &c->tch[j];
        memset(ws->P, 0, (size_t)n * sizeof(float));
        for (int g = 0; g < Hkv; g++) {
            for (int k = 0; k < n; k++)
                memcpy(ws->kg + (size_t)k * hd, T->k + ((size_t)ids[k] * Hkv + g) * hd,
                       (size_t)hd * sizeof(float));
            /* the grp query heads of group g are contiguous in q[t] */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, grp, n, hd, scale,
                        T->q + ((size_t)t * H + (size_t)g * grp) * hd, hd, ws->kg, hd,
                        0.0f, ws->S, n);
            /* the sparse attention's own per-head softmax over T_t, one
             * exponential per entry (max-shifted, so the largest is 1) */
            for (int h = 0; h < grp; h++) {
                float *Sh = ws->S + (size_t)h * n, mx = Sh[0];
                for (int k = 1; k < n; k++) mx = Sh[k] > mx ? Sh[k] : mx;
                double sum = 0.0;
                for (int k = 0; k < n; k++) { Sh[k] = expf(Sh[k] - mx); sum += Sh[k]; }
                float inv = (float)(1.0 / sum);
                for (int k = 0; k < n; k++) ws->P[k] += Sh[k] * inv;
            }
        }
        double kl = 0.0;
        for (int k = 0; k < n; k++) {
            float p = ws->P[k] * invH;
            if (p > 0.0f) kl += (double)p * ((double)logf(p) - ws->logq[k]);
            ws->pbar[k] += p * inv_m;
        }
        loss += kl * inv_m;
    }
    double klbar = 0.0;
    for (int k = 0; k < n; k++) {
        float pb = ws->pbar[k];
        if (pb > 0.0f) klbar += (double)pb * ((double)logf(pb) - ws->logq[k]);
        ws->pbar[k] = expf(ws->logq[k]) - pb;      /* g = q - pbar */
    }
    c->row_loss[t] = loss;
    c->row_kl[t] = klbar;
    if (!c->want_grad) return;

    index_backward_rows(ws->A, n, ws->pbar, c->w + (size_t)t * HI,
                        c->dw ? c->dw + (size_t)t * HI : NULL, HI, n, n);
    if (c->dqI)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, HI, dI, n, 1.0f, ws->A, n,
                    ws->kIg, dI, 1.0f, c->dqI + (size_t)t * HI * dI, dI);
    if (ws->dkI) {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, dI, HI, 1.0f, ws->A, n,
                    qt, dI, 0.0f, ws->dkIg, dI);
        for (int k = 0; k < n; k++) {
            float *dst = ws->dkI + (size_t)ids[k] * dI;
            const float *src = ws->dkIg + (size_t)k * dI;
            for (int i = 0; i < dI; i++) dst[i] += src[i];
        }
    }
}

static int distill_run(ic_ctx *ctx, const ic_distill_desc *desc, const float *qI,
                       const float *kI, const float *w, const ic_distill_teacher *served,
                       int n_served, float *dqI, float *dkI, float *dw, int want_grad,
                       ic_distill_stats *out) {
    const int L = desc->L, dI = desc->idx_head_dim;
    dl_ctx c = {
        .d = desc, .qI = qI, .kI = kI, .w = w, .tch = served, .n_served = n_served,
        .dqI = want_grad ? dqI : NULL, .dkI = want_grad ? dkI : NULL,
        .dw = want_grad ? dw : NULL,
        .want_grad = want_grad && (dqI || dkI || dw),
        .R = eff_row_block(desc), .KB = eff_key_block(desc),
    };
    const int nthreads = ic_cpu_threads(ctx);
    const size_t mark = ic_ws_mark(ctx);
    const size_t slice = scratch_layout(NULL, NULL, desc, c.R, c.KB, c.dkI != NULL);
    c.row_loss = ic_ws_alloc(ctx, (size_t)L * sizeof(double), "distill loss");
    c.row_kl = ic_ws_alloc(ctx, (size_t)L * sizeof(double), "distill loss");
    dl_scratch *ws = ic_ws_alloc(ctx, (size_t)nthreads * sizeof *ws, "distill loss");
    char *slices = ic_ws_alloc(ctx, (size_t)nthreads * slice, "distill loss");
    /* Our GEMMs are small tiles issued from inside the OpenMP loop; the
     * pthread OpenBLAS would serialise concurrent threaded calls, so it runs
     * one thread per call for the duration of this op. */
    int blas_threads = ic_cpu_blas_set_threads(1);
    const int nblocks = (L + c.R - 1) / c.R;
    int used = 1;

    #pragma omp parallel num_threads(nthreads)
    {
        int tid = omp_get_thread_num();
        #pragma omp single
        used = omp_get_num_threads();
        scratch_layout(&ws[tid], slices + (size_t)tid * slice, desc, c.R, c.KB, c.dkI != NULL);
        if (ws[tid].dkI) memset(ws[tid].dkI, 0, (size_t)L * dI * sizeof(float));
        #pragma omp for schedule(static, 1)
        for (int b = 0; b < nblocks; b++) {
            int t0 = b * c.R, t1 = t0 + c.R < L ? t0 + c.R : L;
            if (desc->stage == IC_DISTILL_DENSE) dense_block(&c, &ws[tid], t0, t1);
            else for (int t = t0; t < t1; t++) sparse_row(&c, &ws[tid], t);
        }
    }
    ic_cpu_blas_set_threads(blas_threads);

    if (c.dkI) {
        /* fixed thread order: deterministic for a fixed thread count */
        #pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < (int64_t)L * dI; i++) {
            float acc = dkI[i];
            for (int th = 0; th < used; th++) acc += ws[th].dkI[i];
            dkI[i] = acc;
        }
    }
    double loss = 0.0, kl = 0.0;
    for (int t = 0; t < L; t++) { loss += c.row_loss[t]; kl += c.row_kl[t]; }
    out->loss = loss;
    out->kl_pbar = kl;
    out->n_tokens = L;
    ic_ws_release(ctx, mark);
    return 0;
}

int ic_distill_loss_forward_cpu(ic_ctx *ctx, const ic_distill_desc *desc, const float *qI,
                                const float *kI, const float *w,
                                const ic_distill_teacher *served, int n_served,
                                ic_distill_stats *out, ic_error *err) {
    (void)err;
    return distill_run(ctx, desc, qI, kI, w, served, n_served, NULL, NULL, NULL, 0, out);
}

int ic_distill_loss_backward_cpu(ic_ctx *ctx, const ic_distill_desc *desc, const float *qI,
                                 const float *kI, const float *w,
                                 const ic_distill_teacher *served, int n_served,
                                 float *dqI, float *dkI, float *dw,
                                 ic_distill_stats *out, ic_error *err) {
    (void)err;
    return distill_run(ctx, desc, qI, kI, w, served, n_served, dqI, dkI, dw, 1, out);
}
