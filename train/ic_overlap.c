/* Cross-layer top-k overlap (see ic_overlap.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ic_check.h"
#include "ic_fs.h"
#include "ic_log.h"
#include "kernels/ic_ctx.h"
#include "train/ic_overlap.h"

#ifdef _OPENMP
#include <omp.h>
#endif

int ic_overlap_init(ic_overlap_acc *a, int n_layers, int K, int L_max, ic_error *err) {
    memset(a, 0, sizeof *a);
    if (n_layers < 1 || K < 1 || L_max < 1)
        return ic_error_set(err, "overlap: bad sizes (%d layers, K = %d, L = %d)", n_layers, K, L_max);
    a->inter = calloc((size_t)n_layers * n_layers, sizeof *a->inter);
    if (!a->inter) return ic_error_set(err, "overlap: out of memory");
    a->n_layers = n_layers;
    a->K = K;
    a->L_max = L_max;
    return 0;
}

void ic_overlap_free(ic_overlap_acc *a) {
    if (!a) return;
    free(a->inter);
    memset(a, 0, sizeof *a);
}

/* Per query t: mark layer i's keys in a per-layer stamp row with a value
 * unique to t, then count layer j's keys that carry that mark. Each thread
 * owns its stamps and integer partial sums; integer addition makes the
 * total independent of the split. */
void ic_overlap_add(ic_overlap_acc *a, const ic_dsa_index_set *sets, int L) {
    IC_ASSERT(L >= 1 && L <= a->L_max);
    const int n = a->n_layers, K = a->K;
    if (L <= K) return;
    #pragma omp parallel
    {
        int32_t *stamp = malloc(sizeof(int32_t) * (size_t)n * L);
        int64_t *part = calloc((size_t)n * n, sizeof *part);
        IC_ASSERT(stamp != NULL && part != NULL);
        for (size_t i = 0; i < (size_t)n * L; i++) stamp[i] = -1;
        #pragma omp for schedule(static)
        for (int t = K; t < L; t++) {
            for (int i = 0; i < n; i++) {
                IC_ASSERT(sets[i].cnt[t] == K);
                const int32_t *row = sets[i].idx + (size_t)t * K;
                int32_t *st = stamp + (size_t)i * L;
                for (int q = 0; q < K; q++) st[row[q]] = t;
            }
            for (int i = 0; i < n; i++) {
                const int32_t *st = stamp + (size_t)i * L;
                for (int j = i; j < n; j++) {
                    const int32_t *row = sets[j].idx + (size_t)t * K;
                    int64_t c = 0;
                    for (int q = 0; q < K; q++) c += st[row[q]] == t;
                    part[(size_t)i * n + j] += c;
                }
            }
        }
        #pragma omp critical
        for (size_t i = 0; i < (size_t)n * n; i++) a->inter[i] += part[i];
        free(stamp);
        free(part);
    }
    a->n_queries += L - K;
}

int ic_overlap_matrix(const ic_overlap_acc *a, double *m, ic_error *err) {
    const int n = a->n_layers;
    if (a->n_queries < 1)
        return ic_error_set(err, "overlap: no query with t >= k = %d was seen (windows must be "
                            "longer than k)", a->K);
    const double den = (double)a->n_queries * a->K;
    for (int i = 0; i < n; i++)
        for (int j = i; j < n; j++)
            m[(size_t)i * n + j] = m[(size_t)j * n + i] = (double)a->inter[(size_t)i * n + j] / den;
    return 0;
}

double ic_overlap_adjacent_mean(const double *m, int n) {
    if (n < 2) return 0.0;
    double s = 0.0;
    for (int l = 0; l + 1 < n; l++) s += m[(size_t)l * n + l + 1];
    return s / (n - 1);
}

int ic_overlap_write_csv(const char *path, const double *m, int n, ic_error *err) {
    size_t cap = (size_t)(n + 1) * (n + 1) * 12 + 64, len = 0;
    char *buf = malloc(cap);
    if (!buf) return ic_error_set(err, "%s: out of memory", path);
    len += (size_t)snprintf(buf + len, cap - len, "layer");
    for (int j = 0; j < n; j++) len += (size_t)snprintf(buf + len, cap - len, ",%d", j);
    len += (size_t)snprintf(buf + len, cap - len, "\n");
    for (int i = 0; i < n; i++) {
        len += (size_t)snprintf(buf + len, cap - len, "%d", i);
        for (int j = 0; j < n; j++)
            len += (size_t)snprintf(buf + len, cap - len, ",%.6f", m[(size_t)i * n + j]);
        len += (size_t)snprintf(buf + len, cap - len, "\n");
    }
    int rc = ic_write_file_atomic(path, buf, len, err);
    free(buf);
    return rc;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int ic_overlap_run(ic_ctx *ctx, const ic_dsa_model *model, ic_token_read_fn read,
                   void *read_ctx, uint64_t n_total, const ic_overlap_opts *o, double *m, int64_t *n_queries,
                   ic_error *err) {
    const ic_config *c = &model->w.cfg;
    const int L = o->seq_len, K = model->topk, n = c->n_layers;
    if (L <= K)
        return ic_error_set(err, "--seq-len %d must exceed the top-k %d: only queries t >= k "
                            "have a full set to compare", L, K);
    for (int l = 0; l < n; l++)
        if (!ic_dsa_model_has_indexer(model, l))
            return ic_error_set(err, "overlap runs every layer's own indexer, but the model has "
                                "none for layer %d (model.layers.%d.self_attn.indexer.*): make "
                                "them with `indexcache init-indexers --pattern uniform:1`", l, l);
    long fit = n_total > 0 ? (long)((n_total - 1) / (uint64_t)L) : 0;
    long N = o->n_windows > 0 ? o->n_windows : fit;
    if (N < 1 || (uint64_t)N * L + 1 > n_total)
        return ic_error_set(err, "the split holds %llu tokens: %ld window(s) of %d fit, %ld asked",
                            (unsigned long long)n_total, fit, L, N);

    ic_dsa_state st;
    ic_overlap_acc acc;
    if (ic_dsa_state_init(&st, ctx, model, L, err) != 0) return -1;
    int rc = ic_overlap_init(&acc, n, K, L, err);
    ic_dsa_index_set *sets = calloc((size_t)n, sizeof *sets);
    /* the forward keeps the sets on the context; on a GPU they come back to
     * the host (where the counting runs) once per window */
    const int on_dev = ctx->backend != IC_BACKEND_CPU;
    ic_dsa_index_set *dsets = on_dev ? calloc((size_t)n, sizeof *dsets) : sets;
    uint32_t *raw = malloc(sizeof(uint32_t) * (size_t)L);
    int32_t *tok = malloc(sizeof(int32_t) * (size_t)L);
    if (rc == 0 && (!sets || !dsets || !raw || !tok)) rc = ic_error_set(err, "overlap: out of memory");
    for (int l = 0; rc == 0 && l < n; l++) {
        sets[l].idx = malloc(sizeof(int32_t) * (size_t)L * K);
        sets[l].cnt = malloc(sizeof(int32_t) * (size_t)L);
        if (on_dev) {
            dsets[l].idx = ic_buf_alloc(ctx, sizeof(int32_t) * (size_t)L * K);
            dsets[l].cnt = ic_buf_alloc(ctx, sizeof(int32_t) * (size_t)L);
        }
        if (!sets[l].idx || !sets[l].cnt || !dsets[l].idx || !dsets[l].cnt)
            rc = ic_error_set(err, "overlap: out of memory for %d layers of %d x %d sets", n, L, K);
    }
    double t0 = now_s();
    for (long w = 0; rc == 0 && w < N; w++) {
        uint64_t off = (uint64_t)w * L;
        if (read(read_ctx, off, (size_t)L, raw, err) != 0) { rc = -1; break; }
        for (int t = 0; t < L && rc == 0; t++) {
            if (raw[t] >= (uint32_t)c->vocab_size)
                rc = ic_error_set(err, "token %u at offset %llu is outside the model's vocabulary "
                                  "(%d): data and model do not match", raw[t],
                                  (unsigned long long)(off + t), c->vocab_size);
            tok[t] = (int32_t)raw[t];
        }
        ic_dsa_fwd_opts fo = {.mode = IC_DSA_MODE_OWN, .keep = dsets};
        if (rc == 0 && ic_dsa_forward(model, &st, tok, NULL, L, &fo, NULL, err) != 0) rc = -1;
        if (rc) break;
        for (int l = 0; on_dev && l < n; l++) {
            ic_buf_download(ctx, sets[l].idx, dsets[l].idx, sizeof(int32_t) * (size_t)L * K);
            ic_buf_download(ctx, sets[l].cnt, dsets[l].cnt, sizeof(int32_t) * (size_t)L);
        }
        ic_overlap_add(&acc, sets, L);
        if (o->progress) {
            double el = now_s() - t0;
            ic_log_info("overlap window %ld/%ld  %.0f tok/s  ETA %.0fs", w + 1, N,
                        (double)(w + 1) * L / el, el / (double)(w + 1) * (double)(N - w - 1));
        }
    }
    if (rc == 0) rc = ic_overlap_matrix(&acc, m, err);
    if (rc == 0 && n_queries) *n_queries = acc.n_queries;
    if (sets)
        for (int l = 0; l < n; l++) { free(sets[l].idx); free(sets[l].cnt); }
    if (on_dev && dsets) {
        for (int l = 0; l < n; l++) { ic_buf_free(ctx, dsets[l].idx); ic_buf_free(ctx, dsets[l].cnt); }
        free(dsets);
    }
    free(sets);
    free(raw);
    free(tok);
    ic_overlap_free(&acc);
    ic_dsa_state_free(&st);
    return rc;
}
