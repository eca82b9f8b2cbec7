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

/* The LM head fused with the forward above, on the CPU only (the teacher
 * calls it there; CUDA runs the head GEMM and the op above per row block):
 * nll [n] = the cross-entropy of the logits x W^T, x [n, D], W [V, D] (the
 * head, row-major as the weights store it), with the same target rules,
 * without [n, V] logits: W is read once per pass of a few hundred rows,
 * each thread streaming its slice of the vocabulary (kernels/cpu/
 * lm_head_loss.c has the blocking and its memory formula). Workspace: what
 * ic_lm_head_loss_workspace_bytes says for n rows (0 on CUDA contexts). */
size_t ic_lm_head_loss_workspace_bytes(const ic_ctx *ctx, int n, int V, int D);
/* aborts on a CUDA context (no kernel there: callers check the backend) */
void ic_lm_head_loss(ic_ctx *ctx, float *nll, const float *x, const float *w,
                     const int32_t *targets, int n, int V, int D);
void ic_lm_head_loss_cpu(ic_ctx *ctx, float *nll, const float *x, const float *w,
                         const int32_t *targets, int n, int V, int D);

#endif
