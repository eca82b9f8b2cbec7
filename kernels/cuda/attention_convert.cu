// fp32 <-> bf16 conversion for the cuDNN attention (kernels/cuda/attention_cudnn.cpp):
// cuDNN's fused SDPA reads and writes only fp16/bf16, so an fp32 call rounds
// q, k, v to bf16 in workspace and widens the bf16 output back. Grid-stride
// loops over packs of 8 elements (two 16-byte fp32 loads, one 16-byte bf16
// store, or the reverse) when both pointers are 16-byte aligned; the ragged
// tail (or an unaligned call) element by element.
#include "kernels/cuda/ic_cuda_rt.cuh"
#include "kernels/cuda/ic_cuda_util.cuh"

extern "C" {
#include "core/ic_ctx.h"
#include "kernels/cuda/ic_attention_cuda.h"
}

namespace ic_cuda {

const unsigned kCvtThreads = 256;  // = the kernels' __launch_bounds__

__global__ void __launch_bounds__(256)
attention_f32_to_bf16_kernel(__nv_bfloat16 *__restrict__ dst, const float *__restrict__ src,
                             size_t n, int packed) {
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    const size_t i0 = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    size_t done = 0;
    if (packed) {
        const size_t np = n / 8;
        const ic_pack<float> *sp = reinterpret_cast<const ic_pack<float> *>(src);
        ic_pack<__nv_bfloat16> *dp = reinterpret_cast<ic_pack<__nv_bfloat16> *>(dst);
        for (size_t i = i0; i < np; i += stride) {
            const ic_pack<float> a = sp[2 * i], b = sp[2 * i + 1];
            ic_pack<__nv_bfloat16> o;
            for (int k = 0; k < 4; k++) {
                o.v[k] = __float2bfloat16(a.v[k]);
                o.v[4 + k] = __float2bfloat16(b.v[k]);
            }
            dp[i] = o;
        }
        done = np * 8;
    }
    for (size_t i = done + i0; i < n; i += stride) dst[i] = __float2bfloat16(src[i]);
}

__global__ void __launch_bounds__(256)
attention_bf16_to_f32_kernel(float *__restrict__ dst, const __nv_bfloat16 *__restrict__ src,
                             size_t n, int packed) {
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    const size_t i0 = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    size_t done = 0;
    if (packed) {
        const size_t np = n / 8;
        const ic_pack<__nv_bfloat16> *sp = reinterpret_cast<const ic_pack<__nv_bfloat16> *>(src);
        ic_pack<float> *dp = reinterpret_cast<ic_pack<float> *>(dst);
        for (size_t i = i0; i < np; i += stride) {
            const ic_pack<__nv_bfloat16> a = sp[i];
            ic_pack<float> lo, hi;
            for (int k = 0; k < 4; k++) {
                lo.v[k] = __bfloat162float(a.v[k]);
                hi.v[k] = __bfloat162float(a.v[4 + k]);
            }
            dp[2 * i] = lo;
            dp[2 * i + 1] = hi;
        }
        done = np * 8;
    }
    for (size_t i = done + i0; i < n; i += stride) dst[i] = __bfloat162float(src[i]);
}

}  // namespace ic_cuda

using namespace ic_cuda;

extern "C" void ic_attention_f32_to_bf16_cuda(ic_ctx *ctx, void *dst, const float *src, size_t n) {
    IC_ASSERT(ctx != NULL);
    if (n == 0) return;
    IC_ASSERT(dst != NULL && src != NULL);
    const int packed = ic_aligned16(dst) && ic_aligned16(src);
    const size_t work = packed ? n / 8 + 1 : n;
    IC_LAUNCH(attention_f32_to_bf16_kernel, ic_grid_for(work, kCvtThreads), kCvtThreads, 0,
              ctx->stream, (__nv_bfloat16 *)dst, src, n, packed);
}

extern "C" void ic_attention_bf16_to_f32_cuda(ic_ctx *ctx, float *dst, const void *src, size_t n) {
    IC_ASSERT(ctx != NULL);
    if (n == 0) return;
    IC_ASSERT(dst != NULL && src != NULL);
    const int packed = ic_aligned16(dst) && ic_aligned16(src);
    const size_t work = packed ? n / 8 + 1 : n;
    IC_LAUNCH(attention_bf16_to_f32_kernel, ic_grid_for(work, kCvtThreads), kCvtThreads, 0,
              ctx->stream, dst, (const __nv_bfloat16 *)src, n, packed);
}
