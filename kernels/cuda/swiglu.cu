// CUDA SwiGLU gate (kernels/ic_swiglu.h, kernels/ic_cuda_ops.h):
// out = silu(gate) * up with silu(a) = a / (1 + e^-a), written as the CPU
// reference writes it. expf here is CUDA's (within 2 ulp, glibc's within 1),
// so fp32 results agree with the CPU to a few ulp, not bitwise.
#include "kernels/cuda/ic_cuda_rt.cuh"
#include "kernels/cuda/ic_cuda_util.cuh"

extern "C" {
#include "core/ic_ctx.h"
#include "kernels/ic_cuda_ops.h"
}

namespace ic_cuda {  // named, so the mangled kernel names are stable

const unsigned kThreads = 256;  // = the kernel's __launch_bounds__

__device__ __forceinline__ float swiglu_one(float a, float u) { return a / (1.0f + expf(-a)) * u; }

// out may equal gate or up: each element is read before the same thread writes it.
template <typename T>
__global__ void __launch_bounds__(256)
swiglu_kernel(T *out, const T *gate, const T *up, size_t n, int packed) {
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    const size_t i0 = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    size_t done = 0;
    if (packed) {
        const int V = IC_PACK_N(T);
        const size_t np = n / (size_t)V;
        const ic_pack<T> *gp = reinterpret_cast<const ic_pack<T> *>(gate);
        const ic_pack<T> *up_ = reinterpret_cast<const ic_pack<T> *>(up);
        ic_pack<T> *op = reinterpret_cast<ic_pack<T> *>(out);
        for (size_t i = i0; i < np; i += stride) {
            const ic_pack<T> g = gp[i], u = up_[i];
            ic_pack<T> o;
            for (int k = 0; k < V; k++)
                o.v[k] = ic_from_f32<T>(swiglu_one(ic_to_f32(g.v[k]), ic_to_f32(u.v[k])));
            op[i] = o;
        }
        done = np * (size_t)V;
    }
    for (size_t i = done + i0; i < n; i += stride)
        out[i] = ic_from_f32<T>(swiglu_one(ic_to_f32(gate[i]), ic_to_f32(up[i])));
}

template <typename T> void swiglu_launch(ic_ctx *ctx, T *out, const T *gate, const T *up, size_t n) {
    const int packed = ic_aligned16(out) && ic_aligned16(gate) && ic_aligned16(up);
    const size_t work = packed ? n / (size_t)IC_PACK_N(T) + 1 : n;
    IC_LAUNCH(swiglu_kernel<T>, ic_grid_for(work, kThreads), kThreads, 0, ctx->stream,
              out, gate, up, n, packed);
}

}  // namespace ic_cuda

using namespace ic_cuda;

extern "C" void ic_swiglu_forward_cuda(ic_ctx *ctx, ic_dtype dt, void *out, const void *gate,
                                       const void *up, size_t n) {
    IC_ASSERT(ctx != NULL && (dt == IC_F32 || dt == IC_BF16));
    if (n == 0) return;
    IC_ASSERT(out != NULL && gate != NULL && up != NULL);
    if (dt == IC_F32)
        swiglu_launch(ctx, (float *)out, (const float *)gate, (const float *)up, n);
    else
        swiglu_launch(ctx, (__nv_bfloat16 *)out, (const __nv_bfloat16 *)gate,
                      (const __nv_bfloat16 *)up, n);
}
