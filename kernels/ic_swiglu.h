/* SwiGLU gate of the Llama MLP: out = silu(gate) * up, silu(a) = a / (1 + e^-a). */
#ifndef IC_SWIGLU_H
#define IC_SWIGLU_H

#include "core/ic_ctx.h"
#include "core/ic_tensor.h"

#include <stddef.h>

/* out, gate, up: n floats each; out may equal gate or up. */
void ic_swiglu_forward(ic_ctx *ctx, float *out, const float *gate, const float *up, size_t n);
/* The same on storage dtype dt (every float tensor of the call): IC_F32 on
 * any backend, IC_BF16 on CUDA contexts (fp32 arithmetic). The fp32 entry
 * point above is this with IC_F32. */
void ic_swiglu_forward_dt(ic_ctx *ctx, ic_dtype dt, void *out, const void *gate, const void *up,
                          size_t n);

/* The CPU reference (kernels/cpu), same contract. */
void ic_swiglu_forward_cpu(ic_ctx *ctx, float *out, const float *gate, const float *up, size_t n);

#endif
