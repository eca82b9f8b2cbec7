// fp32 <-> bf16 conversion as an op (kernels/ic_elementwise.h ic_convert_dt):
// the attention's conversion kernels (attention_convert.cu), which the CPU
// SIMT emulator already tests; no kernel of its own.
#include "kernels/cuda/ic_cuda_rt.cuh"

extern "C" {
#include "core/ic_ctx.h"
#include "kernels/cuda/ic_attention_cuda.h"
#include "kernels/ic_cuda_ops.h"
}

extern "C" void ic_convert_cuda(ic_ctx *ctx, ic_dtype dst_dt, void *dst, ic_dtype src_dt,
                                const void *src, size_t n) {
    IC_ASSERT(ctx != NULL && (n == 0 || (dst && src)));
    if (n == 0) return;
    if (dst_dt == IC_BF16 && src_dt == IC_F32)
        ic_attention_f32_to_bf16_cuda(ctx, dst, (const float *)src, n);
    else if (dst_dt == IC_F32 && src_dt == IC_BF16)
        ic_attention_bf16_to_f32_cuda(ctx, (float *)dst, src, n);
    else
        IC_FATAL("convert: dtype %d -> %d (want fp32 <-> bf16)", (int)src_dt, (int)dst_dt);
}
