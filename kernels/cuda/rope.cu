// CUDA RoPE, forward and backward (kernels/ic_rope.h, kernels/ic_cuda_ops.h):
// one block per position. The angles follow the CPU reference: inv_freq =
// theta^(-2i/rot_dim) in double (computed here on the host, rot_dim/2
// values, passed by value), angle = (pos0 + t) * inv_freq in double, cos and
// sin in double (ic_sincos_pos), each rounded to float once and shared by
// all heads of the position through shared memory. The rotation is the
// CPU's fp32 expression; nvcc may fuse a*c - b*s into one fma, so fp32
// results agree with the CPU to ~1 ulp of |a| + |b|, not bitwise.
#include <math.h>

#include "kernels/cuda/ic_cuda_rt.cuh"
#include "kernels/cuda/ic_cuda_util.cuh"

extern "C" {
#include "core/ic_ctx.h"
#include "kernels/ic_cuda_ops.h"
}

// rot_dim / 2 at most (head_dim 512 with full rotation).
#define IC_ROPE_MAX_HALF 256

namespace ic_cuda {  // named, so the mangled kernel names are stable

const unsigned kThreads = 256;  // = the kernel's __launch_bounds__

struct rope_freqs { double inv_freq[IC_ROPE_MAX_HALF]; };

// sign = +1 forward, -1 the transpose (backward). Block (t, b) is token t
// of window b: row b * gridDim.x + t of x, at position pos0 + t (one window:
// gridDim.y = 1; B windows batched into one launch: gridDim.y = B).
template <typename T>
__global__ void __launch_bounds__(256)
rope_kernel(T *x, int n_heads, int head_dim, int half, int pos0, double sign, rope_freqs fr) {
    __shared__ float cs[2 * IC_ROPE_MAX_HALF];  // cos | sign * sin
    const int t = (int)blockIdx.x;
    const double p = (double)pos0 + (double)t;
    for (int i = (int)threadIdx.x; i < half; i += (int)blockDim.x) {
        double s, c;
        ic_sincos_pos(p * fr.inv_freq[i], &s, &c);
        cs[i] = (float)c;
        cs[half + i] = (float)(sign * s);
    }
    __syncthreads();
    const size_t r = (size_t)blockIdx.y * (size_t)gridDim.x + (size_t)t;
    T *row = x + r * (size_t)n_heads * (size_t)head_dim;
    for (int j = (int)threadIdx.x; j < n_heads * half; j += (int)blockDim.x) {
        const int h = j / half, i = j - h * half;
        T *v = row + (size_t)h * (size_t)head_dim;
        const float a = ic_to_f32(v[i]), b = ic_to_f32(v[i + half]);
        const float c = cs[i], s = cs[half + i];
        v[i] = ic_from_f32<T>(a * c - b * s);
        v[i + half] = ic_from_f32<T>(b * c + a * s);
    }
}

// B windows of L rows each, positions restarting per window.
void rope_launch(ic_ctx *ctx, ic_dtype dt, void *x, int B, int L, int n_heads, int head_dim,
                 int rot_dim, int pos0, float theta, double sign) {
    IC_ASSERT(ctx != NULL && (dt == IC_F32 || dt == IC_BF16));
    IC_ASSERT(x != NULL && L >= 0 && n_heads > 0 && head_dim > 0);
    IC_ASSERT(rot_dim > 0 && rot_dim % 2 == 0 && rot_dim <= head_dim);
    IC_ASSERT(rot_dim / 2 <= IC_ROPE_MAX_HALF);
    IC_ASSERT(pos0 >= 0 && theta > 0.0f);
    IC_ASSERT((long long)n_heads * (rot_dim / 2) <= 0x7fffffffLL);
    IC_ASSERT(B >= 0 && B <= 65535);   // gridDim.y
    if (L == 0 || B == 0) return;
    const dim3 grid((unsigned)L, (unsigned)B);
    const int half = rot_dim / 2;
    rope_freqs fr;
    for (int i = 0; i < IC_ROPE_MAX_HALF; i++)
        fr.inv_freq[i] = i < half ? pow((double)theta, -2.0 * (double)i / (double)rot_dim) : 0.0;
    const unsigned threads = ic_threads_for((size_t)n_heads * (size_t)half, kThreads);
    if (dt == IC_F32)
        IC_LAUNCH(rope_kernel<float>, grid, threads, 0, ctx->stream, (float *)x, n_heads,
                  head_dim, half, pos0, sign, fr);
    else
        IC_LAUNCH(rope_kernel<__nv_bfloat16>, grid, threads, 0, ctx->stream,
                  (__nv_bfloat16 *)x, n_heads, head_dim, half, pos0, sign, fr);
}

}  // namespace ic_cuda

extern "C" void ic_rope_forward_cuda(ic_ctx *ctx, ic_dtype dt, void *x, int L, int n_heads,
                                     int head_dim, int rot_dim, int pos0, float theta) {
    ic_cuda::rope_launch(ctx, dt, x, 1, L, n_heads, head_dim, rot_dim, pos0, theta, 1.0);
}

extern "C" void ic_rope_forward_windows_cuda(ic_ctx *ctx, ic_dtype dt, void *x, int B, int L,
                                             int n_heads, int head_dim, int rot_dim, int pos0,
                                             float theta) {
    ic_cuda::rope_launch(ctx, dt, x, B, L, n_heads, head_dim, rot_dim, pos0, theta, 1.0);
}

extern "C" void ic_rope_backward_cuda(ic_ctx *ctx, ic_dtype dt, void *dx, int L, int n_heads,
                                      int head_dim, int rot_dim, int pos0, float theta) {
    ic_cuda::rope_launch(ctx, dt, dx, 1, L, n_heads, head_dim, rot_dim, pos0, theta, -1.0);
}
