// CUDA sum of squares in double (kernels/ic_grad_norm.h). The same blocks
// of IC_SUMSQ_BLOCK elements as the CPU: one CUDA block per block of the
// buffer (grid-stride over them), its partial in double (each square exact
// in double, per-thread sums, then a warp-shuffle block sum), written to a
// workspace array; then one thread adds the partials in block order, as the
// CPU does, and the host reads the total. Within a block the order differs
// from the CPU's, so the two agree to double rounding; on the GPU the order
// is fixed, so the result is run-to-run bitwise reproducible.
//
// Workspace: exactly ceil(n / IC_SUMSQ_BLOCK) doubles from ctx->ws (the
// total overwrites partial 0), taken and given back within the call.
#include "kernels/cuda/ic_cuda_rt.cuh"
#include "kernels/cuda/ic_cuda_util.cuh"

extern "C" {
#include "core/ic_ctx.h"
#include "kernels/ic_grad_norm.h"
}

namespace ic_cuda {  // named, so the mangled kernel names are stable

const unsigned kThreads = 256;  // = the kernel's __launch_bounds__

__global__ void __launch_bounds__(256)
sumsq_blocks_kernel(const float *__restrict__ g, int64_t n, int64_t nblk,
                    double *__restrict__ partial, int packed) {
    __shared__ double red[32];
    for (int64_t b = blockIdx.x; b < nblk; b += gridDim.x) {  // uniform over the block
        const int64_t lo = b * IC_SUMSQ_BLOCK;
        const int64_t hi = n - lo < IC_SUMSQ_BLOCK ? n : lo + IC_SUMSQ_BLOCK;
        double acc = 0.0;
        int64_t done = lo;
        if (packed) {  // lo is a multiple of 4 elements, so its pack is aligned
            const int64_t np = (hi - lo) / 4;
            const ic_pack<float> *gp = reinterpret_cast<const ic_pack<float> *>(g + lo);
            for (int64_t i = threadIdx.x; i < np; i += blockDim.x) {
                const ic_pack<float> a = gp[i];
                for (int k = 0; k < 4; k++) acc += (double)a.v[k] * (double)a.v[k];
            }
            done = lo + np * 4;
        }
        for (int64_t i = done + threadIdx.x; i < hi; i += blockDim.x)
            acc += (double)g[i] * (double)g[i];
        acc = ic_block_sum(acc, red);
        if (threadIdx.x == 0) partial[b] = acc;
    }
}

// One thread: the partials in block order, the total into partial[0].
__global__ void __launch_bounds__(32) sumsq_total_kernel(double *partial, int64_t nblk) {
    if (threadIdx.x != 0) return;
    double s = 0.0;
    for (int64_t b = 0; b < nblk; b++) s += partial[b];
    partial[0] = s;
}

}  // namespace ic_cuda

using namespace ic_cuda;

extern "C" double ic_sumsq_cuda(ic_ctx *ctx, const float *g, int64_t n) {
    IC_ASSERT(ctx != NULL && n >= 0);
    if (n == 0) return 0.0;
    IC_ASSERT(g != NULL);
    const int64_t nblk = (n + IC_SUMSQ_BLOCK - 1) / IC_SUMSQ_BLOCK;
    const size_t mark = ic_ws_mark(ctx);
    double *partial = (double *)ic_ws_alloc(ctx, (size_t)nblk * sizeof(double), "ic_sumsq");
    IC_LAUNCH(sumsq_blocks_kernel, ic_grid_for((size_t)nblk, 1), kThreads, 0, ctx->stream,
              g, n, nblk, partial, ic_aligned16(g));
    IC_LAUNCH(sumsq_total_kernel, 1, 32, 0, ctx->stream, partial, nblk);
    double total = 0.0;
    cuda_check(cudaMemcpyAsync(&total, partial, sizeof total, cudaMemcpyDeviceToHost,
                               (cudaStream_t)ctx->stream));
    cuda_check(cudaStreamSynchronize((cudaStream_t)ctx->stream));
    ic_ws_release(ctx, mark);
    return total;
}
