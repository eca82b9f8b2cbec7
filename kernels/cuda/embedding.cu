// CUDA embedding lookup (kernels/ic_embedding.h, kernels/ic_cuda_ops.h): a
// grid-stride copy over the L x D output, 16 bytes at a time when D and the
// pointers allow. The CPU reference asserts every token is in [0, V); the
// tokens live on the device here, so a token outside that range turns its
// row into NaN instead of reading outside the table (callers validate data
// files before this point; the NaN makes a slip visible in the loss).
#include "kernels/cuda/ic_cuda_rt.cuh"
#include "kernels/cuda/ic_cuda_util.cuh"

extern "C" {
#include "core/ic_ctx.h"
#include "kernels/ic_cuda_ops.h"
}

namespace ic_cuda {  // named, so the mangled kernel names are stable

const unsigned kThreads = 256;  // = the kernel's __launch_bounds__

template <typename T>
__global__ void __launch_bounds__(256)
embedding_kernel(T *__restrict__ out, const int32_t *__restrict__ tokens,
                 const T *__restrict__ table, int L, int D, int V, int packed) {
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    const size_t i0 = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (packed) {
        const int P = IC_PACK_N(T);
        const size_t dp = (size_t)(D / P);      // packs per row
        const size_t n = (size_t)L * dp;
        for (size_t i = i0; i < n; i += stride) {
            const size_t t = i / dp, j = i - t * dp;
            const int32_t tok = tokens[t];
            ic_pack<T> p;
            if (tok >= 0 && tok < V) {
                p = reinterpret_cast<const ic_pack<T> *>(table + (size_t)tok * D)[j];
            } else {
                for (int k = 0; k < P; k++) p.v[k] = ic_from_f32<T>(ic_qnan());
            }
            reinterpret_cast<ic_pack<T> *>(out + t * D)[j] = p;
        }
    } else {
        const size_t n = (size_t)L * D;
        for (size_t i = i0; i < n; i += stride) {
            const size_t t = i / (size_t)D, j = i - t * D;
            const int32_t tok = tokens[t];
            out[i] = (tok >= 0 && tok < V) ? table[(size_t)tok * D + j] : ic_from_f32<T>(ic_qnan());
        }
    }
}

template <typename T>
void embedding_launch(ic_ctx *ctx, T *out, const int32_t *tokens, const T *table, int L, int D,
                      int V) {
    const int P = IC_PACK_N(T);
    const int packed = D % P == 0 && ic_aligned16(out) && ic_aligned16(table);
    const size_t work = packed ? (size_t)L * (size_t)(D / P) : (size_t)L * (size_t)D;
    IC_LAUNCH(embedding_kernel<T>, ic_grid_for(work, kThreads), kThreads, 0, ctx->stream,
              out, tokens, table, L, D, V, packed);
}

}  // namespace ic_cuda

using namespace ic_cuda;

extern "C" void ic_embedding_forward_cuda(ic_ctx *ctx, ic_dtype dt, void *out,
                                          const int32_t *tokens, const void *table, int L, int D,
                                          int V) {
    IC_ASSERT(ctx != NULL && (dt == IC_F32 || dt == IC_BF16));
    IC_ASSERT(out != NULL && tokens != NULL && table != NULL && L >= 0 && D > 0 && V > 0);
    if (L == 0) return;
    if (dt == IC_F32)
        embedding_launch(ctx, (float *)out, tokens, (const float *)table, L, D, V);
    else
        embedding_launch(ctx, (__nv_bfloat16 *)out, tokens, (const __nv_bfloat16 *)table, L, D, V);
}
