/* Token embedding lookup. */
#ifndef IC_EMBEDDING_H
#define IC_EMBEDDING_H

#include "core/ic_ctx.h"
#include "core/ic_tensor.h"

#include <stdint.h>

/* out [L, D] = table[tokens[t]]; table [V, D]; every token must be in [0, V)
 * (callers validate tokens once where they enter, with ic_tokens_check of
 * kernels/ic_validate.h; the op does not walk them again). */
void ic_embedding_forward(ic_ctx *ctx, float *out, const int32_t *tokens, const float *table,
                          int L, int D, int V);
/* The same on storage dtype dt (every float tensor of the call): IC_F32 on
 * any backend, IC_BF16 on CUDA contexts (fp32 arithmetic). The fp32 entry
 * point above is this with IC_F32. */
void ic_embedding_forward_dt(ic_ctx *ctx, ic_dtype dt, void *out, const int32_t *tokens,
                             const void *table, int L, int D, int V);

/* The CPU reference (kernels/cpu), same contract. */
void ic_embedding_forward_cpu(ic_ctx *ctx, float *out, const int32_t *tokens, const float *table,
                              int L, int D, int V);

#endif
