// CUDA RMSNorm (kernels/ic_rmsnorm.h, kernels/ic_cuda_ops.h): one block per
// row. Like the CPU reference the sum of squares is taken in double (per
// thread, then a warp-shuffle block sum) and 1/sqrt(mean + eps) is rounded
// once to float; the contract has no double sqrt, so it is one Newton step
// in double from rsqrtf (relative error ~1e-13 before the rounding). The
// output w * (x * inv) is then the CPU's fp32 expression: fp32 results are
// the CPU's bar an occasional last bit.
#include "kernels/cuda/ic_cuda_rt.cuh"
#include "kernels/cuda/ic_cuda_util.cuh"

extern "C" {
#include "core/ic_ctx.h"
#include "kernels/ic_cuda_ops.h"
}

namespace ic_cuda {  // named, so the mangled kernel names are stable

const unsigned kThreads = 256;  // = the kernel's __launch_bounds__

// out may equal x: every read of x in the first pass happens before the
// block sum's barrier, and the second pass reads each element in the thread
// that then writes it.
template <typename T>
__global__ void __launch_bounds__(256)
rmsnorm_kernel(T *out, const T *x, const T *__restrict__ w, int D, float eps, int packed) {
    __shared__ double red[32];
    const size_t off = (size_t)blockIdx.x * (size_t)D;
    const T *xr = x + off;
    T *o = out + off;
    const int P = IC_PACK_N(T);
    double ss = 0.0;
    if (packed) {
        const ic_pack<T> *xp = reinterpret_cast<const ic_pack<T> *>(xr);
        for (int j = (int)threadIdx.x; j < D / P; j += (int)blockDim.x) {
            const ic_pack<T> a = xp[j];
            for (int k = 0; k < P; k++) {
                const double f = (double)ic_to_f32(a.v[k]);
                ss += f * f;
            }
        }
    } else {
        for (int i = (int)threadIdx.x; i < D; i += (int)blockDim.x) {
            const double f = (double)ic_to_f32(xr[i]);
            ss += f * f;
        }
    }
    ss = ic_block_sum(ss, red);
    const double m = ss / (double)D + (double)eps;
    double y = (double)rsqrtf((float)m);
    y = y * (1.5 - 0.5 * m * y * y);
    const float inv = (float)y;
    if (packed) {
        const ic_pack<T> *xp = reinterpret_cast<const ic_pack<T> *>(xr);
        const ic_pack<T> *wp = reinterpret_cast<const ic_pack<T> *>(w);
        ic_pack<T> *op = reinterpret_cast<ic_pack<T> *>(o);
        for (int j = (int)threadIdx.x; j < D / P; j += (int)blockDim.x) {
            const ic_pack<T> a = xp[j], b = wp[j];
            ic_pack<T> r;
            for (int k = 0; k < P; k++)
                r.v[k] = ic_from_f32<T>(ic_to_f32(b.v[k]) * (ic_to_f32(a.v[k]) * inv));
            op[j] = r;
        }
    } else {
        for (int i = (int)threadIdx.x; i < D; i += (int)blockDim.x)
            o[i] = ic_from_f32<T>(ic_to_f32(w[i]) * (ic_to_f32(xr[i]) * inv));
    }
}

template <typename T>
void rmsnorm_launch(ic_ctx *ctx, T *out, const T *x, const T *w, int L, int D, float eps) {
    const int P = IC_PACK_N(T);
    const int packed = D % P == 0 && ic_aligned16(out) && ic_aligned16(x) && ic_aligned16(w);
    const unsigned threads = ic_threads_for(packed ? (size_t)(D / P) : (size_t)D, kThreads);
    IC_LAUNCH(rmsnorm_kernel<T>, (unsigned)L, threads, 0, ctx->stream, out, x, w, D, eps, packed);
}

}  // namespace ic_cuda

using namespace ic_cuda;

extern "C" void ic_rmsnorm_forward_cuda(ic_ctx *ctx, ic_dtype dt, void *out, const void *x,
                                        const void *w, int L, int D, float eps) {
    IC_ASSERT(ctx != NULL && (dt == IC_F32 || dt == IC_BF16));
    IC_ASSERT(out != NULL && x != NULL && w != NULL && L >= 0 && D > 0);
    if (L == 0) return;
    if (dt == IC_F32)
        rmsnorm_launch(ctx, (float *)out, (const float *)x, (const float *)w, L, D, eps);
    else
        rmsnorm_launch(ctx, (__nv_bfloat16 *)out, (const __nv_bfloat16 *)x,
                       (const __nv_bfloat16 *)w, L, D, eps);
}
