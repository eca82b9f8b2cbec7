/* The CUDA versions of the element-wise and normalisation ops, as the
 * dispatchers in kernels/<op>.c call them. Storage dtype dt is IC_F32 or
 * IC_BF16 (every float tensor of the call in that dtype: activations and
 * weights); arithmetic is fp32. The public ops pass IC_F32 today; the
 * teacher on the GPU (next issue) stores bf16. Pointers are device
 * pointers of ctx; every launch is on ctx->stream.
 * Implemented in kernels/cuda/<op>.cu; kernels/nocuda stubs abort. */
#ifndef IC_CUDA_OPS_H
#define IC_CUDA_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "core/ic_ctx.h"
#include "core/ic_error.h"
#include "core/ic_tensor.h"
#include "kernels/ic_distill_loss.h"

#ifdef __cplusplus
extern "C" {
#endif

/* out [L, D] = table [V, D] rows of tokens [L] (int32 on the device, each in [0, V)). */
void ic_embedding_forward_cuda(ic_ctx *ctx, ic_dtype dt, void *out, const int32_t *tokens,
                               const void *table, int L, int D, int V);
/* out [L, D] = w [D] * x / sqrt(mean(x^2) + eps); out may equal x. */
void ic_rmsnorm_forward_cuda(ic_ctx *ctx, ic_dtype dt, void *out, const void *x, const void *w,
                             int L, int D, float eps);
/* In place, x [L, n_heads, head_dim], NeoX half-split over the first rot_dim dims
 * (kernels/ic_rope.h); backward applies the inverse rotation. */
void ic_rope_forward_cuda(ic_ctx *ctx, ic_dtype dt, void *x, int L, int n_heads, int head_dim,
                          int rot_dim, int pos0, float theta);
void ic_rope_backward_cuda(ic_ctx *ctx, ic_dtype dt, void *dx, int L, int n_heads, int head_dim,
                           int rot_dim, int pos0, float theta);
/* x [B * L, n_heads, head_dim]: B windows, positions pos0 .. pos0 + L - 1 in each
 * (kernels/ic_rope.h: ic_rope_forward_windows_dt); one launch. */
void ic_rope_forward_windows_cuda(ic_ctx *ctx, ic_dtype dt, void *x, int B, int L, int n_heads,
                                  int head_dim, int rot_dim, int pos0, float theta);
/* out = silu(gate) * up, n elements; out may equal gate or up. */
void ic_swiglu_forward_cuda(ic_ctx *ctx, ic_dtype dt, void *out, const void *gate,
                            const void *up, size_t n);
/* h += x, n elements. */
void ic_add_inplace_cuda(ic_ctx *ctx, ic_dtype dt, void *h, const void *x, size_t n);
/* x *= s, n fp32 elements. */
void ic_scale_cuda(ic_ctx *ctx, float *x, float s, size_t n);

/* ---- the linear layer through cuBLASLt (kernels/cuda/matmul_cublaslt.cu) ----
 * Row-major, the Hugging Face layout of kernels/ic_matmul.h; dt is the storage
 * of every tensor of the call (bias included: cuBLASLt's bias for a bf16 output
 * is bf16); accumulation is fp32 (CUBLAS_COMPUTE_32F; fp32 storage is plain
 * fp32, no TF32). ws / ws_bytes: cuBLASLt's workspace, device memory of ctx
 * (the dispatcher passes ic_matmul_workspace_bytes(ctx) from ctx->ws; NULL, 0
 * restricts cuBLASLt to algorithms without one). Needs ctx->cublaslt (opened
 * with the context).
 *   forward             out [M, N]  = x [M, K] . w [N, K]^T (+ bias [N])
 *   forward_accumulate  out [M, N] += x . w^T (+ bias): a residual add through
 *                       beta = 1 with C = out, no extra pass
 *   backward            dx [M, K] += dout . w;  dw [N, K] += dout^T . x;
 *                       dbias [N] += column sums of dout; NULL skips one. */
void ic_matmul_forward_cuda(ic_ctx *ctx, ic_dtype dt, void *out, const void *x, const void *w,
                            const void *bias, int M, int N, int K, void *ws, size_t ws_bytes);
void ic_matmul_forward_accumulate_cuda(ic_ctx *ctx, ic_dtype dt, void *out, const void *x,
                                       const void *w, const void *bias, int M, int N, int K,
                                       void *ws, size_t ws_bytes);
void ic_matmul_backward_cuda(ic_ctx *ctx, ic_dtype dt, void *dx, void *dw, void *dbias,
                             const void *dout, const void *x, const void *w, int M, int N, int K,
                             void *ws, size_t ws_bytes);
/* dbias [N] += sum over rows of dout [M, N] (kernels/cuda/matmul_dbias.cu; the
 * partial sums are double, the order fixed). */
void ic_matmul_dbias_cuda(ic_ctx *ctx, ic_dtype dt, void *dbias, const void *dout, int M, int N);
/* How many times the GEMM plans were built (cublasLtMatmulAlgoGetHeuristic
 * calls) in this process: a repeated shape must not add one. For tests. */
long ic_matmul_cuda_plans_built(void);
/* Cross-entropy rows (kernels/ic_cross_entropy.h): logits [n, V] in dt,
 * targets [n] int32 (< 0: no target, nll 0 / zero gradient; >= V: NaN),
 * nll [n] fp32. Backward: dlogits [n, V] in dt, may equal logits. */
void ic_cross_entropy_forward_cuda(ic_ctx *ctx, ic_dtype dt, float *nll, const void *logits,
                                   const int32_t *targets, int n, int V);
void ic_cross_entropy_backward_cuda(ic_ctx *ctx, ic_dtype dt, void *dlogits, const void *logits,
                                    const int32_t *targets, int n, int V, float scale);

/* One decode step of GQA attention (kernels/ic_attention.h): out [H, d] in dt,
 * lse [H] fp32 or NULL, q [H, d], k_cache / v_cache [T, Hkv, d] in dt;
 * d <= 32 16-byte packs (fp32 d <= 128, bf16 d <= 256). Split-K over T:
 * workspace ic_attention_decode_workspace_bytes_cuda (grows with T, H, d). */
size_t ic_attention_decode_workspace_bytes_cuda(const ic_ctx *ctx, int T, int H, int d);
void ic_attention_decode_forward_cuda(ic_ctx *ctx, ic_dtype dt, void *out, float *lse,
                                      const void *q, const void *k_cache, const void *v_cache,
                                      int T, int H, int Hkv, int d);
/* Causal GQA attention forward with the per-head LSE (kernels/ic_attention.h
 * conventions: out [L, H, d], lse [H, L] natural log or NULL, q [L, H, d],
 * k/v [L, Hkv, d]) through cuDNN's fused SDPA, GQA native, scale 1/sqrt(d)
 * (kernels/cuda/attention_cudnn.cpp). cuDNN computes in bf16 storage: with
 * dt == IC_F32 the inputs and the output round through bf16 (fp32
 * softmax and LSE). Pointers 16-byte aligned. Aborts naming the shape when
 * cuDNN refuses it. Workspace: ic_attention_workspace_bytes_cuda (builds and
 * caches the shape's graph). */
size_t ic_attention_workspace_bytes_cuda(ic_ctx *ctx, ic_dtype dt, int L, int H, int Hkv, int d);
void ic_attention_forward_cuda(ic_ctx *ctx, ic_dtype dt, void *out, float *lse, const void *q,
                               const void *k, const void *v, int L, int H, int Hkv, int d);
/* B independent windows of L tokens in one cuDNN call (its batch dimension):
 * out/q [B, L, H, d], k/v [B, L, Hkv, d], lse [B, H, L] or NULL. B = 1 is
 * the call above (the same graph). */
size_t ic_attention_batch_workspace_bytes_cuda(ic_ctx *ctx, ic_dtype dt, int B, int L, int H,
                                               int Hkv, int d);
void ic_attention_forward_batch_cuda(ic_ctx *ctx, ic_dtype dt, void *out, float *lse,
                                     const void *q, const void *k, const void *v, int B, int L,
                                     int H, int Hkv, int d);
/* Per-row top-k of the indexer scores (kernels/ic_topk.h, same contract):
 * S [t1 - t0, ld] fp32, idx [L, K] and cnt [L] int32, all device pointers;
 * K <= 2048. Output identical to ic_topk_forward_cpu. No workspace. */
void ic_topk_forward_cuda(ic_ctx *ctx, int32_t *idx, int32_t *cnt, const float *S, int ld,
                          int t0, int t1, int K);
/* SDPA graphs built so far in this process (the cache test: a repeated shape builds none). */
int64_t ic_attention_cudnn_graphs_built(void);

/* Sparse attention forward (kernels/ic_sparse_attention.h, same contract;
 * kernels/cuda/sparse_attention.cu): out [L, H, d] in dt, lse [H, L] fp32 or
 * NULL, q [L, H, d], k / v [L, Hkv, d] in dt, idx [L, K] / cnt [L] int32; fp32
 * arithmetic. Supported (ic_sparse_attention_cuda_supports): dt fp32 or bf16,
 * H / Hkv <= 24, d <= 32 16-byte packs (fp32 d <= 128, bf16 d <= 256), any
 * K >= 1. No workspace (the query returns 0). */
size_t ic_sparse_attention_workspace_bytes_cuda(const ic_ctx *ctx, int H, int Hkv, int d, int K);
int ic_sparse_attention_cuda_supports(ic_dtype dt, int H, int Hkv, int d);
void ic_sparse_attention_forward_cuda(ic_ctx *ctx, ic_dtype dt, void *out, float *lse,
                                      const void *q, const void *k, const void *v, int L, int H,
                                      int Hkv, int d, const int32_t *idx, const int32_t *cnt,
                                      int K);

/* Lightning-indexer scores, forward (kernels/ic_indexer_scores.h; kernels/cuda/
 * indexer_scores.cu): rows t in [t0, t1) into out [t1 - t0, ld] fp32 (always),
 * qI [L, H_I, d_I], kI [L, d_I], w [L, H_I] in dt. The dot products run on the
 * bf16 tensor cores with fp32 accumulation: fp32 inputs are rounded to bf16
 * first. d_I a multiple of 16, at most 128 (64 and 128 with 16-byte aligned
 * qI, kI take the fast kernel). No workspace. */
void ic_indexer_scores_forward_cuda(ic_ctx *ctx, ic_dtype dt, float *out, int ld, const void *qI,
                                    const void *kI, const void *w, int L, int H_I, int d_I,
                                    int t0, int t1);

/* dst [n] = src [n] between IC_F32 and IC_BF16 (kernels/cuda/convert.cu, over the
 * attention's conversion kernels): round to nearest even, or widen exactly. */
void ic_convert_cuda(ic_ctx *ctx, ic_dtype dst_dt, void *dst, ic_dtype src_dt, const void *src,
                     size_t n);

/* LayerNorm with weight and bias, fp32 (kernels/ic_layernorm.h; kernels/cuda/
 * layernorm.cu). The backward's dweight/dbias are column sums through per-chunk
 * double partials in the workspace (ic_layernorm_backward_workspace_bytes_cuda),
 * added in a fixed order: deterministic. */
void ic_layernorm_forward_cuda(ic_ctx *ctx, float *y, float *mean, float *rstd, const float *x,
                               const float *weight, const float *bias, int rows, int n,
                               float eps);
size_t ic_layernorm_backward_workspace_bytes_cuda(const ic_ctx *ctx, int rows, int n);
void ic_layernorm_backward_cuda(ic_ctx *ctx, float *dx, float *dweight, float *dbias,
                                const float *dy, const float *x, const float *mean,
                                const float *rstd, const float *weight, int rows, int n);

/* The validation ops on device buffers (kernels/ic_validate.h; kernels/cuda/
 * validate.cu): same contracts and messages as the CPU's; K <= 2048. One int
 * of workspace (ic_validate_workspace_bytes_cuda); each call syncs the stream. */
size_t ic_validate_workspace_bytes_cuda(const ic_ctx *ctx);
int ic_index_sets_check_cuda(ic_ctx *ctx, const int32_t *idx, const int32_t *cnt, int L, int K,
                             ic_error *err);
int ic_tokens_check_cuda(ic_ctx *ctx, const int32_t *tokens, int L, int V, ic_error *err);

/* Lightning-indexer scores, backward given dI (kernels/ic_indexer_scores.h's
 * contract, fp32 device pointers; kernels/cuda/indexer_scores_bwd.cu): bf16
 * tensor cores, deterministic (no atomics). d_I 64 or 128. Workspace
 * ic_indexer_scores_workspace_bytes_cuda (the dkI per-head partials,
 * 4 H_I L d_I bytes). */
size_t ic_indexer_scores_workspace_bytes_cuda(const ic_ctx *ctx, int L, int H_I, int d_I);
void ic_indexer_scores_backward_cuda(ic_ctx *ctx, float *dqI, float *dkI, float *dw,
                                     const float *dI, int ld, const float *qI, const float *kI,
                                     const float *w, int L, int H_I, int d_I, int t0, int t1);

/* The distillation loss, dense stage (kernels/ic_distill_loss.h's contract;
 * kernels/cuda/distill_loss_dense.cu): fp32 device pointers, bf16 tensor
 * cores, deterministic. d_I and d 64 or 128, 1..8 served layers. The loss
 * values come back to the host (the call synchronises ctx->stream). */
size_t ic_distill_loss_dense_workspace_bytes_cuda(const ic_ctx *ctx, const ic_distill_desc *desc);
int ic_distill_loss_dense_forward_cuda(ic_ctx *ctx, const ic_distill_desc *desc, const float *qI,
                                       const float *kI, const float *w,
                                       const ic_distill_teacher *served, int n_served,
                                       ic_distill_stats *out, ic_error *err);
int ic_distill_loss_dense_backward_cuda(ic_ctx *ctx, const ic_distill_desc *desc,
                                        const float *qI, const float *kI, const float *w,
                                        const ic_distill_teacher *served, int n_served,
                                        float *dqI, float *dkI, float *dw,
                                        ic_distill_stats *out, ic_error *err);

#ifdef __cplusplus
}
#endif

#endif
