/* Training-free IndexCache: greedy layer search (IndexCache Algorithm 1,
 * docs/DESIGN.md s3; issue 6).
 *
 * Start from all F. Each step evaluates, for every candidate layer c (an F
 * layer other than layer 0), the calibration LM loss of the current pattern
 * with c flipped to S, and commits the flip with the lowest loss (ties to
 * the lower layer). It stops when `keep` layers still run indexers. Every
 * candidate is scored on the same W windows of L tokens (window i feeds
 * tokens [i*L, i*L + L) and scores the next tokens, as ic_eval does), so the
 * loss is sum of NLL / (W*L) accumulated in window order.
 *
 * Prefix cache. Flipping c to S changes layers >= c only: layer c's input
 * hidden state and the index buffer entering it (the sets of f(c - 1)) are
 * those of the current pattern. The search keeps, per window and per
 * cached boundary b (the input of layer b, 1 <= b < n_layers), the hidden
 * state [L, D] floats and the index buffer [L, K] + [L] int32, and resumes
 * each candidate at the nearest cached boundary r(c) <= c. After a commit
 * at c*, the boundaries past r(c*) are refreshed by one forward of the new
 * pattern from r(c*). Memory:
 *     W * n_boundaries * L * (4*D + 4*(K + 1)) bytes
 * which for SmolLM2-135M (30 layers, D = 576) at L = 512, K = 256 is 49 MB
 * per window. When the cache budget cannot hold every boundary, every s-th
 * boundary is cached (the smallest stride s that fits); when it cannot hold
 * one boundary per window, candidates run from layer 0 (the naive search).
 *
 * Distribution. The candidates of one step are independent: with a comm of
 * `world` ranks, rank r evaluates candidates r, r + world, ... (positions in
 * the ascending candidate list); the losses are gathered with a sum
 * reduction and the winner agreed with a (value, layer) min-location
 * reduction, ties to the lower layer, so every rank commits the same flip.
 * Every rank keeps its own prefix cache and refreshes it itself (no large
 * transfers); the result does not depend on the number of ranks. */
#ifndef IC_SEARCH_H
#define IC_SEARCH_H

#include <stddef.h>
#include <stdint.h>

#include "ic_error.h"
#include "model/ic_dsa.h"
#include "model/ic_pattern.h"

/* Collectives (launch/ic_dist.h in the binary). comm NULL, or world 1 with
 * NULL functions, is a single process. Every rank calls them in the same
 * order. */
typedef struct {
    int   rank, world;
    void *ctx;
    /* buf[n] <- sum over ranks */
    void (*sum_f64)(void *ctx, double *buf, size_t n);
    /* (value, index) <- the smallest over ranks; equal values to the lower
     * index; NaN counts as +inf */
    void (*minloc)(void *ctx, double *value, int *index);
    /* 1 when ok != 0 on every rank */
    int  (*all_ok)(void *ctx, int ok);
} ic_search_comm;

/* One committed flip. */
typedef struct {
    int    layer;                         /* flipped to S */
    double loss;                          /* calibration loss after the flip */
    double cand_loss[IC_MAX_LAYERS];      /* [n_layers] loss with layer c flipped; NaN: not a candidate */
} ic_search_step;

/* The whole search so far (what --json writes and --resume reads). */
typedef struct {
    int    n_layers;
    int    keep;                          /* target number of F layers */
    double start_loss;                    /* all-F calibration loss (NaN before the first forward) */
    int    n_steps;
    ic_search_step *steps;                /* [n_layers] (at most n_layers - 1 used) */
    ic_pattern pattern;                   /* all F with the committed flips applied */
    /* layer-forwards (one layer over one window), summed over ranks and over
     * resumed runs: what this search ran, and what evaluating every
     * candidate (and the start) from layer 0 would have run */
    int64_t fwd_done, fwd_naive;
    double  seconds;                      /* wall time of the search (over resumed runs) */
} ic_search_trace;

int  ic_search_trace_init(ic_search_trace *t, int n_layers, int keep, ic_error *err);
void ic_search_trace_free(ic_search_trace *t);
/* Commit a flip into the trace: steps[n_steps++] and the pattern. -1 when
 * the layer cannot be flipped (layer 0, out of range, already S). */
int  ic_search_trace_push(ic_search_trace *t, int layer, double loss, const double *cand_loss,
                          ic_error *err);

/* Called after the start forward (n_steps == 0) and after every committed
 * step, on every rank; non-zero stops the search with err. */
typedef int (*ic_search_step_fn)(void *ctx, const ic_search_trace *t, ic_error *err);

typedef struct {
    int    seq_len;                 /* L */
    int    n_windows;               /* W */
    size_t cache_bytes;             /* prefix-cache budget (bytes); 0: no cache (naive) */
    int    progress;                /* a line per candidate (rank 0) */
    const ic_search_comm *comm;     /* NULL: one process */
    ic_search_step_fn on_step;      /* may be NULL */
    void  *on_step_ctx;
} ic_search_opts;

/* Stride and size of the prefix cache for a budget: the smallest stride s
 * whose boundaries s, 2s, ... < n_layers fit in cache_bytes. Returns the
 * number of cached boundaries per window (0: none fit, naive search) and
 * sets *stride (n_layers when none) and *bytes (total cache size). */
int ic_search_cache_plan(const ic_dsa_model *m, int seq_len, int n_windows, size_t cache_bytes,
                         int *stride, size_t *bytes);

/* Run (or continue) the greedy search of m (every layer needs an indexer)
 * on tokens [n_windows * seq_len + 1] (ids < vocab). t: made by
 * ic_search_trace_init with the target keep (1 <= keep <= n_layers); when
 * it already holds steps (a resumed search) the search continues from its
 * pattern. On return t->pattern is the searched pattern with keep F layers.
 * -1 with err on failure; with a comm, every rank returns -1 together. */
int ic_search_run(ic_ctx *ctx, const ic_dsa_model *m, const int32_t *tokens,
                  const ic_search_opts *opts, ic_search_trace *t, ic_error *err);

/* What a trace was made with; a resume must match it (paths are
 * informational: a moved file with the same bytes is the same input). */
typedef struct {
    const char *model_dir;
    uint64_t    model_hash;    /* ic_search_model_hash */
    const char *data_path;
    const char *split;         /* "val" / "train" */
    uint64_t    data_hash;     /* of the calibration tokens */
    int         seq_len, n_windows, topk;
} ic_search_meta;

/* The trace as JSON, written atomically (temp + fsync + rename):
 *   {"format": "indexcache-search-trace", "version": 1, "model", "model_hash",
 *    "data", "split", "data_hash", "n_layers", "seq_len", "batches", "topk",
 *    "tokens", "keep", "start_loss", "steps": [{"step", "layer", "loss",
 *    "n_full", "pattern", "candidates": [{"layer", "loss"}, ...]}, ...],
 *    "pattern", "n_full", "done", "layer_forwards": {"run", "naive",
 *    "saved"}, "seconds"}
 * A loss that is not finite is written as null. */
int ic_search_trace_save(const ic_search_trace *t, const ic_search_meta *meta, int done,
                         const char *path, ic_error *err);

/* Read a trace into t (made by ic_search_trace_init with the model's layer
 * count and the wanted keep). Refuses, naming the field and both values, a
 * trace whose model_hash, data_hash, split, n_layers, seq_len, batches or
 * topk differ from expect; checks every step (layer, pattern). Steps past
 * the wanted keep are dropped (greedy steps are a prefix of a longer
 * search), which *truncated reports (may be NULL). */
int ic_search_trace_load(ic_search_trace *t, const ic_search_meta *expect, const char *path,
                         int *truncated, ic_error *err);

/* 64-bit fingerprint of the model's weights and indexers (FNV-1a over the
 * raw bytes), for refusing a resume on another model. */
uint64_t ic_search_model_hash(const ic_dsa_model *m);
/* The same over a token array. */
uint64_t ic_search_hash_bytes(const void *p, size_t n, uint64_t h);

#endif
