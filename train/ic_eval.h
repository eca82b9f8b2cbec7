/* LM evaluation: mean next-token loss and perplexity of the teacher (dense,
 * or any DSA pattern through the teacher's selection hook) over N
 * consecutive non-overlapping windows of L tokens.
 *
 * Window i feeds tokens [i*L, i*L + L) and scores the predictions of tokens
 * [i*L + 1, i*L + L + 1), so N windows read N*L + 1 tokens from the start of
 * the split and score N*L of them: deterministic, no sampling. */
#ifndef IC_EVAL_H
#define IC_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "ic_error.h"
#include "model/ic_teacher.h"

/* Where the tokens come from: read n tokens starting at offset into dst.
 * Returns 0 or -1 with err set. */
typedef int (*ic_token_read_fn)(void *ctx, uint64_t offset, size_t n, uint32_t *dst,
                                ic_error *err);

typedef struct {
    int  seq_len;                  /* L */
    long n_windows;                /* N; <= 0: as many as the split holds */
    int  progress;                 /* print a progress line per window (stderr) */
    const ic_teacher_opts *topts;  /* selection hook etc.; NULL = dense */
    int  batch;                    /* dense (topts NULL): windows per forward
                                      (model/ic_teacher_batch.h; on CUDA its graph is
                                      replayed). 0: IC_EVAL_BATCH_TOKENS / L on CUDA,
                                      one by one on the CPU; 1: one by one. */
} ic_eval_opts;

/* Tokens per batched forward when ic_eval_opts.batch is 0 (2K x 16, 8K x 4,
 * 32K x 1: the rows where the GEMMs fill an H200, bench/RESULTS.md). */
#define IC_EVAL_BATCH_TOKENS 32768

typedef struct {
    double loss;       /* mean NLL (nats/token) */
    double ppl;        /* exp(loss) */
    long   tokens;     /* tokens scored = N * L */
    long   n_windows;
    int    seq_len;
    double seconds;    /* wall time of the forwards */
    double tok_per_s;  /* tokens fed per second */
} ic_eval_result;

/* Evaluate over a token source holding n_total tokens. Fails when it holds
 * fewer than N*L + 1 (saying how many windows fit) or a token is outside
 * the vocabulary. */
int ic_eval_run(ic_ctx *ctx, const ic_weights *w, ic_token_read_fn read, void *read_ctx,
                uint64_t n_total, const ic_eval_opts *opts, ic_eval_result *res, ic_error *err);

/* The same over an in-memory token array [n]. */
int ic_eval_tokens(ic_ctx *ctx, const ic_weights *w, const uint32_t *tokens, size_t n,
                   const ic_eval_opts *opts, ic_eval_result *res, ic_error *err);

#endif
