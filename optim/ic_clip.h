/* Global-norm gradient clipping (torch.nn.utils.clip_grad_norm_):
 *
 *   norm = sqrt(sum over every buffer and element of g^2)   (in double)
 *   if norm > max_norm: g *= max_norm / (norm + 1e-6)
 *
 * The sum is taken per buffer by the op ic_sumsq (kernels/ic_grad_norm.h:
 * fixed blocks of elements, the block partials added in order), so the norm
 * is bitwise the same for any thread count (a resumed run must reproduce
 * the same clipping); the scale is the op ic_scale. */
#ifndef IC_CLIP_H
#define IC_CLIP_H

#include <stddef.h>

#include "ic_adamw.h"

/* Workspace of the norm (ic_grad_global_norm reserves it itself). */
size_t ic_grad_clip_workspace_bytes(const ic_ctx *ctx, const ic_param *params, int n);

/* L2 norm of all gradients of params[n] (their .grad buffers, on ctx). */
double ic_grad_global_norm(ic_ctx *ctx, const ic_param *params, int n);

/* Clips in place when the norm exceeds max_norm (max_norm <= 0: never)
 * and returns the norm before clipping. A non-finite norm is returned
 * unchanged and nothing is scaled: the caller decides to skip the step. */
double ic_grad_clip(ic_ctx *ctx, const ic_param *params, int n, double max_norm);

#endif
