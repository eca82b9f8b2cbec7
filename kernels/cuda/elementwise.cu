// CUDA residual add and scale (kernels/ic_elementwise.h, kernels/ic_cuda_ops.h).
// Grid-stride loops over 16-byte packs when every pointer is aligned, the
// ragged tail (or an unaligned call) element by element. The arithmetic is
// the CPU's (one fp32 add or multiply per element), so fp32 results are
// bitwise the CPU's; bf16 storage rounds the fp32 result to nearest even.
#include "kernels/cuda/ic_cuda_rt.cuh"
#include "kernels/cuda/ic_cuda_util.cuh"

extern "C" {
#include "core/ic_ctx.h"
#include "kernels/ic_cuda_ops.h"
}

// A named namespace (not an anonymous one) keeps the kernels' mangled names
// stable for the static checks that read cuobjdump.
namespace ic_cuda {

const unsigned kThreads = 256;  // = the kernels' __launch_bounds__

template <typename T>
__global__ void __launch_bounds__(256)
add_inplace_kernel(T *h, const T *x, size_t n, int packed) {
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    const size_t i0 = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    size_t done = 0;
    if (packed) {
        const int V = IC_PACK_N(T);
        const size_t np = n / (size_t)V;
        ic_pack<T> *hp = reinterpret_cast<ic_pack<T> *>(h);
        const ic_pack<T> *xp = reinterpret_cast<const ic_pack<T> *>(x);
        for (size_t i = i0; i < np; i += stride) {
            ic_pack<T> a = hp[i];
            const ic_pack<T> b = xp[i];
            for (int k = 0; k < V; k++) a.v[k] = ic_from_f32<T>(ic_to_f32(a.v[k]) + ic_to_f32(b.v[k]));
            hp[i] = a;
        }
        done = np * (size_t)V;
    }
    for (size_t i = done + i0; i < n; i += stride)
        h[i] = ic_from_f32<T>(ic_to_f32(h[i]) + ic_to_f32(x[i]));
}

__global__ void __launch_bounds__(256)
scale_kernel(float *__restrict__ x, float s, size_t n, int packed) {
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    const size_t i0 = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    size_t done = 0;
    if (packed) {
        const size_t np = n / 4;
        ic_pack<float> *xp = reinterpret_cast<ic_pack<float> *>(x);
        for (size_t i = i0; i < np; i += stride) {
            ic_pack<float> a = xp[i];
            for (int k = 0; k < 4; k++) a.v[k] *= s;
            xp[i] = a;
        }
        done = np * 4;
    }
    for (size_t i = done + i0; i < n; i += stride) x[i] *= s;
}

template <typename T> void add_inplace_launch(ic_ctx *ctx, T *h, const T *x, size_t n) {
    const int packed = ic_aligned16(h) && ic_aligned16(x);
    const size_t work = packed ? n / (size_t)IC_PACK_N(T) + 1 : n;
    IC_LAUNCH(add_inplace_kernel<T>, ic_grid_for(work, kThreads), kThreads, 0, ctx->stream,
              h, x, n, packed);
}

}  // namespace ic_cuda

using namespace ic_cuda;

extern "C" void ic_add_inplace_cuda(ic_ctx *ctx, ic_dtype dt, void *h, const void *x, size_t n) {
    IC_ASSERT(ctx != NULL && (dt == IC_F32 || dt == IC_BF16));
    if (n == 0) return;
    IC_ASSERT(h != NULL && x != NULL);
    if (dt == IC_F32) add_inplace_launch(ctx, (float *)h, (const float *)x, n);
    else add_inplace_launch(ctx, (__nv_bfloat16 *)h, (const __nv_bfloat16 *)x, n);
}

extern "C" void ic_scale_cuda(ic_ctx *ctx, float *x, float s, size_t n) {
    IC_ASSERT(ctx != NULL);
    if (n == 0) return;
    IC_ASSERT(x != NULL);
    const int packed = ic_aligned16(x);
    const size_t work = packed ? n / 4 + 1 : n;
    IC_LAUNCH(scale_kernel, ic_grid_for(work, kThreads), kThreads, 0, ctx->stream, x, s, n, packed);
}
