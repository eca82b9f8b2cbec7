/* Causal grouped-query attention of the teacher (softmax(q.k / sqrt(d)) v),
 * dense. Query head h reads key/value head g(h) = h / (H / Hkv). */
#ifndef IC_ATTENTION_H
#define IC_ATTENTION_H

#include <stddef.h>

#include "core/ic_ctx.h"
#include "core/ic_tensor.h"

/* Query rows are processed IC_ATTENTION_BLOCK at a time (all heads of one
 * KV group together), so the largest score buffer is
 * (H/Hkv) * IC_ATTENTION_BLOCK * L floats, never L x L. */
#define IC_ATTENTION_BLOCK 64

/* Full causal forward of one sequence (key s visible to query t iff s <= t).
 *   out [L, H, d]     attention output (heads concatenated per token)
 *   lse [H, L]        natural-log log-sum-exp of the scaled scores of each
 *                     query row (docs/CONVENTIONS.md), or NULL
 *   q [L, H, d], k [L, Hkv, d], v [L, Hkv, d]   (roped q and k)
 * H must be a multiple of Hkv. Workspace: ic_attention_workspace_bytes. */
size_t ic_attention_workspace_bytes(const ic_ctx *ctx, int L, int H, int Hkv, int d);
void ic_attention_forward(ic_ctx *ctx, float *out, float *lse, const float *q, const float *k,
                          const float *v, int L, int H, int Hkv, int d);
/* The same on storage dtype dt (q, k, v, out; lse stays fp32): IC_F32 on
 * any backend, IC_BF16 on CUDA contexts. */
void ic_attention_forward_dt(ic_ctx *ctx, ic_dtype dt, void *out, float *lse, const void *q,
                             const void *k, const void *v, int L, int H, int Hkv, int d);

/* B independent windows of L tokens in one call (the teacher's batched
 * prefill): out, q [B, L, H, d], k, v [B, L, Hkv, d], lse [B, H, L] or NULL;
 * window b is ic_attention_forward_dt on the b-th slices. CPU: one call per
 * window (the same bits); CUDA: one cuDNN SDPA with batch dimension B.
 * Workspace: ic_attention_batch_workspace_bytes (B = 1 is
 * ic_attention_workspace_bytes). */
size_t ic_attention_batch_workspace_bytes(const ic_ctx *ctx, int B, int L, int H, int Hkv, int d);
void ic_attention_forward_batch_dt(ic_ctx *ctx, ic_dtype dt, void *out, float *lse,
                                   const void *q, const void *k, const void *v, int B, int L,
                                   int H, int Hkv, int d);

/* One decoding step: the query of the newest token attends to all T cached
 * keys (the newest token's own key already appended at row T-1).
 *   out [H, d], lse [H] or NULL, q [H, d],
 *   k_cache [T, Hkv, d], v_cache [T, Hkv, d] (rows past T are not read).
 * Workspace: ic_attention_decode_workspace_bytes (grows with T; on CUDA the
 * split-K partials of kernels/cuda/attention_decode.cu, T * H * (d + 2) /
 * chunk floats). */
size_t ic_attention_decode_workspace_bytes(const ic_ctx *ctx, int T, int H, int d);
void ic_attention_decode_forward(ic_ctx *ctx, float *out, float *lse, const float *q,
                                 const float *k_cache, const float *v_cache,
                                 int T, int H, int Hkv, int d);
/* The same on storage dtype dt (q, the caches and out; lse stays fp32): IC_F32 on
 * any backend, IC_BF16 on CUDA contexts (fp32 arithmetic). The fp32 entry
 * point above is this with IC_F32. */
void ic_attention_decode_forward_dt(ic_ctx *ctx, ic_dtype dt, void *out, float *lse,
                                    const void *q, const void *k_cache, const void *v_cache,
                                    int T, int H, int Hkv, int d);

/* The CPU reference (kernels/cpu), same contracts. */
size_t ic_attention_workspace_bytes_cpu(const ic_ctx *ctx, int L, int H, int Hkv, int d);
void ic_attention_forward_cpu(ic_ctx *ctx, float *out, float *lse, const float *q,
                              const float *k, const float *v, int L, int H, int Hkv, int d);
size_t ic_attention_decode_workspace_bytes_cpu(const ic_ctx *ctx, int T);
void ic_attention_decode_forward_cpu(ic_ctx *ctx, float *out, float *lse, const float *q,
                                     const float *k_cache, const float *v_cache,
                                     int T, int H, int Hkv, int d);

#endif
