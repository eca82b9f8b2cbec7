/* Internals of the CUDA attention (kernels/cuda/attention_cudnn.cpp and
 * kernels/cuda/attention_convert.cu), plain C. Not an op header: the public
 * entry points are in kernels/ic_cuda_ops.h. */
#ifndef IC_ATTENTION_CUDA_H
#define IC_ATTENTION_CUDA_H

#include <stddef.h>

#include "core/ic_ctx.h"

#ifdef __cplusplus
extern "C" {
#endif

/* dst [n] bf16 (round to nearest even) = src [n] fp32, on ctx->stream. */
void ic_attention_f32_to_bf16_cuda(ic_ctx *ctx, void *dst, const float *src, size_t n);
/* dst [n] fp32 = src [n] bf16 (exact), on ctx->stream. */
void ic_attention_bf16_to_f32_cuda(ic_ctx *ctx, float *dst, const void *src, size_t n);

/* Forgets the cached SDPA graphs built on ctx's cuDNN handle and destroys
 * the handle (ic_cuda_ctx_close calls it before the stream goes). */
void ic_attention_cudnn_release(ic_ctx *ctx);

#ifdef __cplusplus
}
#endif

#endif
