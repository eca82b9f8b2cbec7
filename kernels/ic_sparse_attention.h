/* Sparse attention (DSA Eq. 2, docs/DESIGN.md s3): query t of every head attends
 * only to the key positions of its index set T_t (idx/cnt of docs/CONVENTIONS.md,
 * one set per query shared by all heads). GQA: head h reads key/value head
 * h / (H / Hkv). Scores are scaled by 1/sqrt(d).
 *
 * There is no backward: the teacher is frozen and the indexer learns through
 * the distillation loss (docs/DESIGN.md s3), so nothing differentiates through
 * this op. */
#ifndef IC_SPARSE_ATTENTION_H
#define IC_SPARSE_ATTENTION_H

#include <stddef.h>

#include "core/ic_ctx.h"

/* Workspace of a call: on the CPU per-thread score and accumulator rows of one
 * KV group; on CUDA none (0). */
size_t ic_sparse_attention_workspace_bytes(const ic_ctx *ctx, int H, int Hkv, int d, int K);

#include <stdint.h>

/* out [L, H, d]; lse [H, L] (natural-log log-sum-exp of the scaled scores
 * over T_t, as the distillation loss expects) or NULL.
 * q [L, H, d] roped, k [L, Hkv, d] roped, v [L, Hkv, d]; H % Hkv == 0.
 * idx [L, K], cnt [L]: row t uses idx[t, 0..cnt[t]-1], each in [0, t],
 * cnt[t] in [1, K]. With cnt[t] = t+1 and idx = 0..t this is dense causal
 * attention. The op trusts the sets (a position past t would silently leak
 * the future): data that enters from outside is checked once with
 * ic_index_sets_check (kernels/ic_validate.h). */
void ic_sparse_attention_forward(ic_ctx *ctx, float *out, float *lse, const float *q, const float *k,
                                 const float *v, int L, int H, int Hkv, int d,
                                 const int32_t *idx, const int32_t *cnt, int K);

/* The same with the storage dtype dt of out, q, k and v (kernels/README.md
 * "Storage dtype"): IC_F32 anywhere, IC_BF16 on CUDA (fp32 arithmetic, out
 * rounded to bf16 once); the CPU asserts fp32. lse is fp32 always. The CUDA
 * kernel (kernels/cuda/sparse_attention.cu) takes H / Hkv <= 24 and d <= 128
 * (fp32) or 256 (bf16); the dispatcher aborts naming the shape otherwise.
 * bf16 with 3..16 heads per KV head, d 64 or 128 and 16-byte aligned pointers
 * runs on tensor cores (kernels/cuda/sparse_attention_mma.cuh): P enters P V
 * as bf16 hi + lo, so out still carries one bf16 rounding. */
void ic_sparse_attention_forward_dt(ic_ctx *ctx, ic_dtype dt, void *out, float *lse,
                                    const void *q, const void *k, const void *v, int L, int H,
                                    int Hkv, int d, const int32_t *idx, const int32_t *cnt,
                                    int K);

/* The CPU reference (kernels/cpu), same contract. */
size_t ic_sparse_attention_workspace_bytes_cpu(const ic_ctx *ctx, int H, int Hkv, int d, int K);
void ic_sparse_attention_forward_cpu(ic_ctx *ctx, float *out, float *lse, const float *q, const float *k,
                                     const float *v, int L, int H, int Hkv, int d,
                                     const int32_t *idx, const int32_t *cnt, int K);

#endif
