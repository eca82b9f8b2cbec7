/* Linear layer in the Hugging Face layout: out = x W^T + b, W [N, K]. */
#ifndef IC_MATMUL_H
#define IC_MATMUL_H

#include "core/ic_ctx.h"
#include "core/ic_tensor.h"

/* out [M, N] = x [M, K] . w[N, K]^T (+ bias [N] when not NULL). out is
 * overwritten and must not alias x or w. */
void ic_matmul_forward(ic_ctx *ctx, float *out, const float *x, const float *w, const float *bias,
                       int M, int N, int K);

/* out [M, N] += x . w^T (+ bias): the residual add folded into the GEMM
 * (beta = 1 on cuBLASLt, no extra pass over out). The CPU reference keeps
 * the arithmetic of a plain forward followed by a separate add (the GEMM
 * into workspace, then out += it), so a model that moved its residual adds
 * into this op computes the same bits as before on the CPU. Workspace:
 * ic_matmul_accumulate_workspace_bytes. */
void ic_matmul_forward_accumulate(ic_ctx *ctx, float *out, const float *x, const float *w,
                                  const float *bias, int M, int N, int K);

/* The same on storage dtype dt (every float tensor of the call): IC_F32 on
 * any backend, IC_BF16 on CUDA contexts (fp32 arithmetic). The fp32 entry
 * point above is this with IC_F32. */
void ic_matmul_forward_dt(ic_ctx *ctx, ic_dtype dt, void *out, const void *x, const void *w,
                          const void *bias, int M, int N, int K);
void ic_matmul_forward_accumulate_dt(ic_ctx *ctx, ic_dtype dt, void *out, const void *x,
                                     const void *w, const void *bias, int M, int N, int K);

/* Workspace bytes the matmul ops take from ctx->ws (cuBLASLt's scratch:
 * 32 MiB on CUDA, NVIDIA's recommendation for Hopper; 0 on the CPU).
 * Callers include it in their ic_ctx_reserve. */
size_t ic_matmul_workspace_bytes(const ic_ctx *ctx);
/* The accumulating forward's workspace for an [M, N] output: M*N floats on
 * the CPU, cuBLASLt's scratch on CUDA. */
size_t ic_matmul_accumulate_workspace_bytes(const ic_ctx *ctx, int M, int N);

/* Gradients, each accumulated (+=) into its buffer; pass NULL for any one
 * that is not wanted.
 *   dx [M, K] += dout [M, N] . w [N, K]
 *   dw [N, K] += dout^T . x
 *   dbias [N] += sum over rows of dout */
void ic_matmul_backward(ic_ctx *ctx, float *dx, float *dw, float *dbias, const float *dout,
                        const float *x, const float *w, int M, int N, int K);

/* The CPU reference (kernels/cpu), same contract. */
void ic_matmul_forward_cpu(ic_ctx *ctx, float *out, const float *x, const float *w, const float *bias,
                           int M, int N, int K);
void ic_matmul_forward_accumulate_cpu(ic_ctx *ctx, float *out, const float *x, const float *w,
                                      const float *bias, int M, int N, int K);
void ic_matmul_backward_cpu(ic_ctx *ctx, float *dx, float *dw, float *dbias, const float *dout,
                            const float *x, const float *w, int M, int N, int K);

#endif
