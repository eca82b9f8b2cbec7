/* Cross-layer top-k overlap (IndexCache Appendix A): with every layer
 * running its own indexer, M[i][j] = mean over queries t >= K of
 * |T_i(t) ∩ T_j(t)| / K. Only queries with a full set of K keys count, so
 * the diagonal is exactly 1 and every entry is in [0, 1].
 *
 * Intersections are counted exactly in 64-bit integers, so the result does
 * not depend on the thread count. */
#ifndef IC_OVERLAP_H
#define IC_OVERLAP_H

#include <stdint.h>

#include "ic_error.h"
#include "model/ic_dsa.h"
#include "train/ic_eval.h"

typedef struct {
    int      n_layers, K, L_max;
    int64_t *inter;      /* [n, n] summed |T_i ∩ T_j| (upper triangle filled, i <= j) */
    int64_t  n_queries;  /* queries counted */
} ic_overlap_acc;

int  ic_overlap_init(ic_overlap_acc *a, int n_layers, int K, int L_max, ic_error *err);
void ic_overlap_free(ic_overlap_acc *a);

/* Add one window's sets: sets[l] for l < n_layers (idx [L, K], cnt [L]);
 * rows t >= K (cnt[t] == K) are counted. Entries must be in [0, L) and
 * distinct within a row (ic_topk guarantees both). */
void ic_overlap_add(ic_overlap_acc *a, const ic_dsa_index_set *sets, int L);

/* The mean matrix m [n, n] (symmetric). -1 when no query was counted. */
int ic_overlap_matrix(const ic_overlap_acc *a, double *m, ic_error *err);

/* Mean of m[l][l+1] over l < n - 1 (0 for n < 2). */
double ic_overlap_adjacent_mean(const double *m, int n);

/* CSV: header "layer,0,1,..,n-1", then one row per layer "i,m[i][0],..". */
int ic_overlap_write_csv(const char *path, const double *m, int n, ic_error *err);

typedef struct {
    int  seq_len;      /* L (> K) */
    long n_windows;    /* N windows [i*L, i*L + L) from the start of the source */
    int  progress;     /* a line per window on stderr */
} ic_overlap_opts;

/* Run the DSA model with every layer's own indexer over the windows and
 * fill m [n, n]; *n_queries = queries counted. The model needs an indexer
 * at every layer (error naming the first missing one). */
int ic_overlap_run(ic_ctx *ctx, const ic_dsa_model *model, ic_token_read_fn read,
                   void *read_ctx, uint64_t n_total, const ic_overlap_opts *o, double *m, int64_t *n_queries,
                   ic_error *err);

#endif
