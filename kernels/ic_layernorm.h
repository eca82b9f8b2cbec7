/* LayerNorm with weight and bias over rows of width n (the indexer's k_norm,
 * docs/DESIGN.md s3):  y = (x - mean) * rstd * weight + bias,
 * rstd = 1 / sqrt(var + eps), var the biased (1/n) variance of the row. */
#ifndef IC_LAYERNORM_H
#define IC_LAYERNORM_H

#include "core/ic_ctx.h"

/* DeepSeek-V3.2's indexer k_norm uses eps 1e-6 (docs/CONVENTIONS.md). */
#define IC_LAYERNORM_EPS 1e-6f

/* y [rows, n]; mean, rstd [rows] are saved for the backward (either may be
 * NULL when no backward follows). x [rows, n], weight, bias [n]. y may alias
 * x (the statistics of a row are taken before it is overwritten). */
void ic_layernorm_forward(ic_ctx *ctx, float *y, float *mean, float *rstd, const float *x,
                          const float *weight, const float *bias,
                          int rows, int n, float eps);

/* Gradients, each accumulated (+=); pass NULL for any one that is not wanted.
 *   dx [rows, n] += dL/dx,  dweight [n] += sum_r dy * xhat,  dbias [n] += sum_r dy
 * dy [rows, n]; x, mean, rstd, weight as given to / returned by the forward.
 * dx must not alias dy. */
void ic_layernorm_backward(ic_ctx *ctx, float *dx, float *dweight, float *dbias, const float *dy,
                           const float *x, const float *mean, const float *rstd,
                           const float *weight, int rows, int n);

/* Workspace of a backward call (the CUDA column sums' per-chunk partials;
 * 0 on the CPU). */
size_t ic_layernorm_backward_workspace_bytes(const ic_ctx *ctx, int rows, int n);

/* The CPU reference (kernels/cpu), same contract. */
void ic_layernorm_forward_cpu(ic_ctx *ctx, float *y, float *mean, float *rstd, const float *x,
                              const float *weight, const float *bias,
                              int rows, int n, float eps);
void ic_layernorm_backward_cpu(ic_ctx *ctx, float *dx, float *dweight, float *dbias, const float *dy,
                               const float *x, const float *mean, const float *rstd,
                               const float *weight, int rows, int n);

#endif
