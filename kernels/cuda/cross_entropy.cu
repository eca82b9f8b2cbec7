// CUDA cross-entropy (kernels/ic_cross_entropy.h, kernels/ic_cuda_ops.h):
// one block per row of logits. Each thread keeps an online (max, sum of
// exp(z - max)) pair in fp32 over its strided share of the row, taken a
// 16-byte pack at a time (one rescale per pack, not per element); the pairs
// are merged by warp butterfly and once more across the block's warps
// through shared memory, in a fixed order (run-to-run reproducible). The CPU
// reference sums in double; fp32 partial sums of <= V/threads terms merged
// in a tree keep the log-sum-exp within ~1e-6 relative for V ~ 1e5.
// The backward recomputes the row's log-sum-exp the same way, then writes
// scale * (exp(z - lse) - onehot) in the storage dtype.
#include "kernels/cuda/ic_cuda_rt.cuh"
#include "kernels/cuda/ic_cuda_util.cuh"

extern "C" {
#include "core/ic_ctx.h"
#include "kernels/ic_cuda_ops.h"
}

namespace ic_cuda {  // named, so the mangled kernel names are stable

const unsigned kCeThreads = 512;  // = the kernels' __launch_bounds__

__device__ __forceinline__ float ce_neg_inf(void) { return __int_as_float((int)0xff800000u); }

// (m, s) <- the pair of the union of both sets; m = -inf marks an empty set
// (s = 0), and two empty sets must not form exp(-inf - -inf) = NaN.
__device__ __forceinline__ void ce_merge(float &m, float &s, float m2, float s2) {
    const float M = fmaxf(m, m2);
    if (M == ce_neg_inf()) return;
    s = s * __expf(m - M) + s2 * __expf(m2 - M);
    m = M;
}

// Adds P values to a thread's running pair: one rescale for the whole pack.
template <int P>
__device__ __forceinline__ void ce_add(float &m, float &s, const float (&z)[P]) {
    float pm = z[0];
    for (int k = 1; k < P; k++) pm = fmaxf(pm, z[k]);
    const float M = fmaxf(m, pm);
    if (M == ce_neg_inf()) return;
    float t = s * __expf(m - M);
    for (int k = 0; k < P; k++) t += __expf(z[k] - M);
    s = t;
    m = M;
}

template <typename T>
__device__ __forceinline__ void ce_unpack(float (&z)[IC_PACK_N(T)], const ic_pack<T> &a) {
    for (int k = 0; k < IC_PACK_N(T); k++) z[k] = ic_to_f32(a.v[k]);
}

// The row's log-sum-exp; every thread of the block must call it and gets
// the same value. sm, ss: 32 floats each of static shared memory.
template <typename T>
__device__ __forceinline__ float ce_row_lse(const T *z, int V, int packed, float *sm, float *ss) {
    const int P = IC_PACK_N(T);
    const int tid = (int)threadIdx.x, bd = (int)blockDim.x;
    float m = ce_neg_inf(), s = 0.0f;
    if (packed) {
        const ic_pack<T> *zp = reinterpret_cast<const ic_pack<T> *>(z);
        const int np = V / P;
        int j = tid;
        // Four packs in flight per thread: a row of SmolLM2 (V = 49152) is
        // 12 (bf16) or 24 (fp32) packs a thread, and one block per row must
        // keep enough loads outstanding to stream at the memory's rate.
        for (; j + 3 * bd < np; j += 4 * bd) {
            const ic_pack<T> a0 = zp[j], a1 = zp[j + bd], a2 = zp[j + 2 * bd], a3 = zp[j + 3 * bd];
            float f[IC_PACK_N(T)];
            ce_unpack<T>(f, a0); ce_add<IC_PACK_N(T)>(m, s, f);
            ce_unpack<T>(f, a1); ce_add<IC_PACK_N(T)>(m, s, f);
            ce_unpack<T>(f, a2); ce_add<IC_PACK_N(T)>(m, s, f);
            ce_unpack<T>(f, a3); ce_add<IC_PACK_N(T)>(m, s, f);
        }
        for (; j < np; j += bd) {
            float f[IC_PACK_N(T)];
            ce_unpack<T>(f, zp[j]);
            ce_add<IC_PACK_N(T)>(m, s, f);
        }
    } else {
        for (int j = tid; j < V; j += bd) {
            const float f[1] = {ic_to_f32(z[j])};
            ce_add<1>(m, s, f);
        }
    }
    for (int o = 16; o > 0; o >>= 1) {
        const float m2 = __shfl_xor_sync(0xffffffffu, m, o);
        const float s2 = __shfl_xor_sync(0xffffffffu, s, o);
        ce_merge(m, s, m2, s2);
    }
    const int lane = tid & 31, w = tid >> 5, nw = bd >> 5;
    if (lane == 0) {
        sm[w] = m;
        ss[w] = s;
    }
    __syncthreads();
    m = lane < nw ? sm[lane] : ce_neg_inf();
    s = lane < nw ? ss[lane] : 0.0f;
    for (int o = 16; o > 0; o >>= 1) {
        const float m2 = __shfl_xor_sync(0xffffffffu, m, o);
        const float s2 = __shfl_xor_sync(0xffffffffu, s, o);
        ce_merge(m, s, m2, s2);
    }
    return m + logf(s);
}

// nll[row] = lse - z[y]; 0 for y < 0; NaN for y >= V (the CPU asserts).
template <typename T>
__global__ void __launch_bounds__(512)
cross_entropy_fwd_kernel(float *nll, const T *logits, const int32_t *targets, int V, int packed) {
    __shared__ float sm[32], ss[32];
    const int row = (int)blockIdx.x;
    const int y = targets[row];
    if (y < 0 || y >= V) {  // uniform over the block: before any barrier
        if (threadIdx.x == 0) nll[row] = y < 0 ? 0.0f : ic_qnan();
        return;
    }
    const T *z = logits + (size_t)row * (size_t)V;
    const float lse = ce_row_lse<T>(z, V, packed, sm, ss);
    if (threadIdx.x == 0) nll[row] = lse - ic_to_f32(z[y]);
}

// g = scale * (softmax(z) - onehot(y)); zeros for y < 0, NaN for y >= V.
// g may equal z: every read of z in the lse pass precedes the block
// reduction's barrier, and the second pass reads each element in the thread
// that then overwrites it.
template <typename T>
__global__ void __launch_bounds__(512)
cross_entropy_bwd_kernel(T *dlogits, const T *logits, const int32_t *targets, int V, float scale,
                         int packed) {
    __shared__ float sm[32], ss[32];
    const int P = IC_PACK_N(T);
    const int tid = (int)threadIdx.x, bd = (int)blockDim.x;
    const int row = (int)blockIdx.x;
    const int y = targets[row];
    const T *z = logits + (size_t)row * (size_t)V;
    T *g = dlogits + (size_t)row * (size_t)V;
    if (y < 0 || y >= V) {
        const T fill = ic_from_f32<T>(y < 0 ? 0.0f : ic_qnan());
        for (int j = tid; j < V; j += bd) g[j] = fill;
        return;
    }
    const float lse = ce_row_lse<T>(z, V, packed, sm, ss);
    if (packed) {
        const ic_pack<T> *zp = reinterpret_cast<const ic_pack<T> *>(z);
        ic_pack<T> *gp = reinterpret_cast<ic_pack<T> *>(g);
        for (int j = tid; j < V / P; j += bd) {
            const ic_pack<T> a = zp[j];
            ic_pack<T> r;
            for (int k = 0; k < P; k++) {
                float e = scale * __expf(ic_to_f32(a.v[k]) - lse);
                if (j * P + k == y) e -= scale;
                r.v[k] = ic_from_f32<T>(e);
            }
            gp[j] = r;
        }
    } else {
        for (int j = tid; j < V; j += bd) {
            float e = scale * __expf(ic_to_f32(z[j]) - lse);
            if (j == y) e -= scale;
            g[j] = ic_from_f32<T>(e);
        }
    }
}

template <typename T>
static unsigned ce_threads(int V, int packed) {
    return ic_threads_for(packed ? (size_t)(V / IC_PACK_N(T)) : (size_t)V, kCeThreads);
}

template <typename T>
void ce_forward_launch(ic_ctx *ctx, float *nll, const T *logits, const int32_t *targets, int n,
                       int V) {
    const int packed = V % IC_PACK_N(T) == 0 && ic_aligned16(logits);
    IC_LAUNCH(cross_entropy_fwd_kernel<T>, (unsigned)n, ce_threads<T>(V, packed), 0, ctx->stream,
              nll, logits, targets, V, packed);
}

template <typename T>
void ce_backward_launch(ic_ctx *ctx, T *dlogits, const T *logits, const int32_t *targets, int n,
                        int V, float scale) {
    const int packed =
        V % IC_PACK_N(T) == 0 && ic_aligned16(logits) && ic_aligned16(dlogits);
    IC_LAUNCH(cross_entropy_bwd_kernel<T>, (unsigned)n, ce_threads<T>(V, packed), 0, ctx->stream,
              dlogits, logits, targets, V, scale, packed);
}

}  // namespace ic_cuda

using namespace ic_cuda;

extern "C" void ic_cross_entropy_forward_cuda(ic_ctx *ctx, ic_dtype dt, float *nll,
                                              const void *logits, const int32_t *targets, int n,
                                              int V) {
    IC_ASSERT(ctx != NULL && (dt == IC_F32 || dt == IC_BF16));
    IC_ASSERT(nll != NULL && logits != NULL && targets != NULL && n >= 0 && V > 0);
    if (n == 0) return;
    if (dt == IC_F32)
        ce_forward_launch(ctx, nll, (const float *)logits, targets, n, V);
    else
        ce_forward_launch(ctx, nll, (const __nv_bfloat16 *)logits, targets, n, V);
}

extern "C" void ic_cross_entropy_backward_cuda(ic_ctx *ctx, ic_dtype dt, void *dlogits,
                                               const void *logits, const int32_t *targets, int n,
                                               int V, float scale) {
    IC_ASSERT(ctx != NULL && (dt == IC_F32 || dt == IC_BF16));
    IC_ASSERT(dlogits != NULL && logits != NULL && targets != NULL && n >= 0 && V > 0);
    if (n == 0) return;
    if (dt == IC_F32)
        ce_backward_launch(ctx, (float *)dlogits, (const float *)logits, targets, n, V, scale);
    else
        ce_backward_launch(ctx, (__nv_bfloat16 *)dlogits, (const __nv_bfloat16 *)logits, targets,
                           n, V, scale);
}
