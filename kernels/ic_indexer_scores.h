/* Lightning-indexer scores (DeepSeek-V3.2 Eq. 1, docs/DESIGN.md s3):
 *   I[t,s] = sum_j w[t,j] * ReLU(qI[t,j] . kI[s])   for s <= t
 * computed one block of query rows at a time, so that neither a per-head nor
 * a per-layer L x L array ever exists: the caller chooses the rows. Extra
 * memory per OpenMP thread: one [32*H_I, 256] tile of all heads' dot
 * products (one GEMM per 32-row x 256-key tile), and in the backward a
 * [t1, d_I] dkI accumulator (O(L*d_I), added in tile order so the result has
 * the same bits for any thread count).
 *
 * Layouts (docs/CONVENTIONS.md): qI [L, H_I, d_I] roped, kI [L, d_I] normed and
 * roped, w [L, H_I] already scaled by H_I^-1/2 d_I^-1/2.
 * forward/backward take that scratch from the context's workspace (reserve
 * ic_indexer_scores_workspace_bytes first); callers size the output blocks
 * with ic_indexer_scores_block_rows. */
#ifndef IC_INDEXER_SCORES_H
#define IC_INDEXER_SCORES_H

#include <stddef.h>

#include "core/ic_ctx.h"

/* Workspace of a forward or backward call of any row block of length L. */
size_t ic_indexer_scores_workspace_bytes(const ic_ctx *ctx, int L, int H_I, int d_I);

/* Rows t in [t0, t1) into out [t1 - t0, ld] (row r is query t0 + r):
 * out[r, s] = I[t, s] for s <= t, -INFINITY for t < s < ld. ld >= t1 (the last
 * row needs columns 0..t1-1); pass ld = L for a [rows, L] block. */
void ic_indexer_scores_forward(ic_ctx *ctx, float *out, int ld, const float *qI, const float *kI,
                               const float *w, int L, int H_I, int d_I, int t0, int t1);

/* Backward of one row block, given dI [t1 - t0, ld] = dLoss/dI for the same
 * rows (entries with s > t are ignored). Accumulates (+=), per pair with
 * a = qI[t,j].kI[s], g = dI[t,s]:
 *   dw[t,j] += g*ReLU(a);  da = g*w[t,j]*[a > 0];
 *   dqI[t,j] += da*kI[s];  dkI[s] += da*qI[t,j].
 * dqI [L, H_I, d_I] (rows t0..t1-1 touched), dkI [L, d_I] (rows 0..t1-1),
 * dw [L, H_I]; pass NULL for any one that is not wanted. Summing this over
 * blocks that tile [0, L) gives the full backward. */
void ic_indexer_scores_backward(ic_ctx *ctx, float *dqI, float *dkI, float *dw, const float *dI, int ld,
                                const float *qI, const float *kI, const float *w,
                                int L, int H_I, int d_I, int t0, int t1);

/* Streaming driver: computes rows [0, L) in blocks of block_rows and hands
 * each block to fn (ld = t1 of that block; the block lives in the workspace
 * and is only valid during the call). Workspace:
 * ic_indexer_scores_foreach_workspace_bytes (the block and the forward's
 * tiles) plus whatever the ops that fn runs need (e.g. ic_topk's). Returns 0
 * (scratch never fails: a missing reserve aborts). */
typedef void (*ic_indexer_scores_block_fn)(void *user, const float *out, int ld, int t0, int t1);
size_t ic_indexer_scores_foreach_workspace_bytes(const ic_ctx *ctx, int L, int H_I, int d_I,
                                                 int block_rows);
int ic_indexer_scores_foreach(ic_ctx *ctx, const float *qI, const float *kI, const float *w,
                              int L, int H_I, int d_I, int block_rows,
                              ic_indexer_scores_block_fn fn, void *user);

/* A block height that keeps one block near 8 MB (>= 16 rows, <= L). */
int ic_indexer_scores_block_rows(int L);

/* The CPU reference (kernels/cpu), same contracts. */
size_t ic_indexer_scores_workspace_bytes_cpu(const ic_ctx *ctx, int L, int H_I, int d_I);
size_t ic_indexer_scores_foreach_workspace_bytes_cpu(const ic_ctx *ctx, int L, int H_I,
                                                     int d_I, int block_rows);
void ic_indexer_scores_forward_cpu(ic_ctx *ctx, float *out, int ld, const float *qI,
                                   const float *kI, const float *w, int L, int H_I, int d_I,
                                   int t0, int t1);
void ic_indexer_scores_backward_cpu(ic_ctx *ctx, float *dqI, float *dkI, float *dw,
                                    const float *dI, int ld, const float *qI, const float *kI,
                                    const float *w, int L, int H_I, int d_I, int t0, int t1);

#endif
