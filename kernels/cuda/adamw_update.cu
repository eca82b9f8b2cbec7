// CUDA AdamW update of one fp32 buffer (kernels/ic_adamw_update.h): a
// grid-stride loop, 4 elements at a time when p, g, m, v are 16-byte
// aligned. The per-element formula is the header's, written expression for
// expression as kernels/cpu/adamw_update.c writes it. nvcc fuses
// a multiply and an add into one fma where it can (the build does not pass
// -fmad=false), so results agree with a plain fp32 evaluation to a few ulp,
// not bitwise; they are run-to-run reproducible on the GPU.
#include "kernels/cuda/ic_cuda_rt.cuh"
#include "kernels/cuda/ic_cuda_util.cuh"

extern "C" {
#include "core/ic_ctx.h"
#include "kernels/ic_adamw_update.h"
}

namespace ic_cuda {  // named, so the mangled kernel names are stable

const unsigned kThreads = 256;  // = the kernel's __launch_bounds__

__device__ __forceinline__ void adamw_one(float &p, float g, float &m, float &v,
                                          const ic_adamw_coef &c) {
    m = c.beta1 * m + (1.0f - c.beta1) * g;
    v = c.beta2 * v + (1.0f - c.beta2) * g * g;
    const float denom = sqrtf(v) * c.inv_sqrt_bc2 + c.eps;
    p = p * c.decay_mul - c.step_size * m / denom;
}

__global__ void __launch_bounds__(256)
adamw_update_kernel(float *__restrict__ p, const float *__restrict__ g, float *__restrict__ m,
                    float *__restrict__ v, int64_t n, ic_adamw_coef c, int packed) {
    const int64_t stride = (int64_t)gridDim.x * blockDim.x;
    const int64_t i0 = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    int64_t done = 0;
    if (packed) {
        const int64_t np = n / 4;
        ic_pack<float> *pp = reinterpret_cast<ic_pack<float> *>(p);
        const ic_pack<float> *gp = reinterpret_cast<const ic_pack<float> *>(g);
        ic_pack<float> *mp = reinterpret_cast<ic_pack<float> *>(m);
        ic_pack<float> *vp = reinterpret_cast<ic_pack<float> *>(v);
        for (int64_t i = i0; i < np; i += stride) {
            ic_pack<float> a = pp[i], b = mp[i], d = vp[i];
            const ic_pack<float> e = gp[i];
            for (int k = 0; k < 4; k++) adamw_one(a.v[k], e.v[k], b.v[k], d.v[k], c);
            pp[i] = a;
            mp[i] = b;
            vp[i] = d;
        }
        done = np * 4;
    }
    for (int64_t i = done + i0; i < n; i += stride) {
        float a = p[i], b = m[i], d = v[i];
        adamw_one(a, g[i], b, d, c);
        p[i] = a;
        m[i] = b;
        v[i] = d;
    }
}

}  // namespace ic_cuda

using namespace ic_cuda;

extern "C" void ic_adamw_update_cuda(ic_ctx *ctx, float *p, const float *g, float *m, float *v,
                                     int64_t n, const ic_adamw_coef *c) {
    IC_ASSERT(ctx != NULL && c != NULL && n >= 0);
    if (n == 0) return;
    IC_ASSERT(p != NULL && g != NULL && m != NULL && v != NULL);
    const int packed = ic_aligned16(p) && ic_aligned16(g) && ic_aligned16(m) && ic_aligned16(v);
    const size_t work = packed ? (size_t)n / 4 + 1 : (size_t)n;
    IC_LAUNCH(adamw_update_kernel, ic_grid_for(work, kThreads), kThreads, 0, ctx->stream,
              p, g, m, v, n, *c, packed);
}
