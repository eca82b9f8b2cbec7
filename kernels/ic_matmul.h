/* Linear layer in the Hugging Face layout: out = x W^T + b, W [N, K]. */
#ifndef IC_MATMUL_H
#define IC_MATMUL_H

#include "core/ic_ctx.h"

/* out [M, N] = x [M, K] . w[N, K]^T (+ bias [N] when not NULL). out is
 * overwritten and must not alias x or w. */
void ic_matmul_forward(ic_ctx *ctx, float *out, const float *x, const float *w, const float *bias,
                       int M, int N, int K);

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
void ic_matmul_backward_cpu(ic_ctx *ctx, float *dx, float *dw, float *dbias, const float *dout,
                            const float *x, const float *w, int M, int N, int K);

#endif
