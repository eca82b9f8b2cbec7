/* SwiGLU gate of the Llama MLP: out = silu(gate) * up, silu(a) = a / (1 + e^-a). */
#ifndef IC_SWIGLU_H
#define IC_SWIGLU_H

#include "core/ic_ctx.h"

#include <stddef.h>

/* out, gate, up: n floats each; out may equal gate or up. */
void ic_swiglu_forward(ic_ctx *ctx, float *out, const float *gate, const float *up, size_t n);

/* The CPU reference (kernels/cpu), same contract. */
void ic_swiglu_forward_cpu(ic_ctx *ctx, float *out, const float *gate, const float *up, size_t n);

#endif
