/* Global-norm gradient clipping (torch.nn.utils.clip_grad_norm_):
 *
 *   norm = sqrt(sum over every buffer and element of g^2)   (in double)
 *   if norm > max_norm: g *= max_norm / (norm + 1e-6)
 *
 * The sum is taken over fixed blocks of elements and the block partials
 * are added in order, so the norm is bitwise the same for any thread count
 * (a resumed run must reproduce the same clipping). */
#ifndef IC_CLIP_H
#define IC_CLIP_H

#include "ic_adamw.h"

/* L2 norm of all gradients of params[n] (their .grad buffers). */
double ic_grad_global_norm(const ic_param *params, int n);

/* Clips in place when the norm exceeds max_norm (max_norm <= 0: never)
 * and returns the norm before clipping. A non-finite norm is returned
 * unchanged and nothing is scaled: the caller decides to skip the step. */
double ic_grad_clip(const ic_param *params, int n, double max_norm);

#endif
