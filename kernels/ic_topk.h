/* Per-row top-k selection of the indexer scores (docs/DESIGN.md s3, docs/CONVENTIONS.md):
 * row t selects k_eff = min(K, t+1) key positions among s = 0..t, sorted by
 * descending score, ties broken by the lower s. idx [L, K] int32 holds them,
 * entries past cnt[t] are -1; cnt [L] int32. NaN scores rank below every
 * number (so a broken row still yields a valid causal set).
 *
 * Selection streams: call it once per row block of scores (e.g. from
 * ic_indexer_scores_foreach), and only the O(L*K) output persists. There is
 * no backward: the indices are not differentiable (the indexer learns through
 * the distillation loss on I, docs/DESIGN.md s3). */
#ifndef IC_TOPK_H
#define IC_TOPK_H

#include <stddef.h>

#include "core/ic_ctx.h"

/* Workspace of any call with t1 <= L (per-thread keys of one row). */
size_t ic_topk_workspace_bytes(const ic_ctx *ctx, int L);

#include <stdint.h>

/* Rows t in [t0, t1) from the block S [t1 - t0, ld] (row r is query t0 + r,
 * columns 0..t read, ld >= t1). Writes idx[t, 0..K-1] and cnt[t] of those
 * rows only; idx and cnt point at the full [L, K] and [L] arrays. K >= 1. */
void ic_topk_forward(ic_ctx *ctx, int32_t *idx, int32_t *cnt, const float *S, int ld,
                     int t0, int t1, int K);

/* The CPU reference (kernels/cpu), same contract. */
size_t ic_topk_workspace_bytes_cpu(const ic_ctx *ctx, int L);
void ic_topk_forward_cpu(ic_ctx *ctx, int32_t *idx, int32_t *cnt, const float *S, int ld,
                         int t0, int t1, int K);

#endif
