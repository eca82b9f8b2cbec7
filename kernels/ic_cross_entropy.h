/* Next-token cross-entropy on a block of rows of logits. The teacher calls
 * it per row block of the LM head, so [L, V] logits never exist at once. */
#ifndef IC_CROSS_ENTROPY_H
#define IC_CROSS_ENTROPY_H

#include "core/ic_ctx.h"
#include "core/ic_tensor.h"

#include <stdint.h>

/* nll [n] = logsumexp(logits[i]) - logits[i][targets[i]] (natural log);
 * logits [n, V]; a target < 0 marks a row without a target (nll = 0). */
void ic_cross_entropy_forward(ic_ctx *ctx, float *nll, const float *logits, const int32_t *targets,
                              int n, int V);
/* The same on storage dtype dt (the logits; nll stays fp32): IC_F32 on
 * any backend, IC_BF16 on CUDA contexts (fp32 arithmetic). The fp32 entry
 * point above is this with IC_F32. */
void ic_cross_entropy_forward_dt(ic_ctx *ctx, ic_dtype dt, float *nll, const void *logits,
                                 const int32_t *targets, int n, int V);

/* dlogits [n, V] = scale * (softmax(logits[i]) - onehot(targets[i])), rows
 * with target < 0 get zeros. Overwrites dlogits (may equal logits). */
void ic_cross_entropy_backward(ic_ctx *ctx, float *dlogits, const float *logits, const int32_t *targets,
                               int n, int V, float scale);

/* The CPU reference (kernels/cpu), same contract. */
void ic_cross_entropy_forward_cpu(ic_ctx *ctx, float *nll, const float *logits, const int32_t *targets,
                                  int n, int V);
void ic_cross_entropy_backward_cpu(ic_ctx *ctx, float *dlogits, const float *logits, const int32_t *targets,
                                   int n, int V, float scale);

#endif
