// The bias gradient of the linear layer on the GPU (kernels/ic_cuda_ops.h):
// dbias [N] += sum over the M rows of dout [M, N]. Kept apart from the
// cuBLASLt GEMMs (matmul_cublaslt.cu) so that the CPU SIMT emulator can run
// it (tests/cudasim/test_matmul_dbias.cpp).
//
// One block of 32 x 8 threads per 32 columns: lane x reads column
// 32*blockIdx.x + x (consecutive lanes, consecutive addresses: coalesced),
// the 8 warps take every 8th row, each sums in double (as the CPU reference
// does, so long columns stay accurate), then warp 0 adds the 8 partials in
// warp order. The order is fixed, so the result is run-to-run bitwise
// reproducible. One block per 32 columns is few blocks for small N and long
// M (N = 576: 18 blocks); splitting the rows over more blocks would need a
// second pass or atomics; left until a profile asks for it.
#include "kernels/cuda/ic_cuda_rt.cuh"
#include "kernels/cuda/ic_cuda_util.cuh"

extern "C" {
#include "core/ic_ctx.h"
#include "kernels/ic_cuda_ops.h"
}

namespace ic_cuda {  // named, so the mangled kernel names are stable

template <typename T>
__global__ void __launch_bounds__(256)
matmul_dbias_kernel(T *__restrict__ dbias, const T *__restrict__ dout, int M, int N) {
    __shared__ double part[8][32];
    const int col = (int)(blockIdx.x * 32u + threadIdx.x);
    double s = 0.0;
    if (col < N)
        for (int r = (int)threadIdx.y; r < M; r += 8) s += (double)ic_to_f32(dout[(size_t)r * N + col]);
    part[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y == 0 && col < N) {
        double t = 0.0;
        for (int w = 0; w < 8; w++) t += part[w][threadIdx.x];
        dbias[col] = ic_from_f32<T>((float)((double)ic_to_f32(dbias[col]) + t));
    }
}

}  // namespace ic_cuda

using namespace ic_cuda;

extern "C" void ic_matmul_dbias_cuda(ic_ctx *ctx, ic_dtype dt, void *dbias, const void *dout,
                                     int M, int N) {
    IC_ASSERT(ctx != NULL && dbias && dout && M >= 0 && N > 0);
    if (M == 0) return;
    const dim3 block(32, 8, 1), grid((unsigned)((N + 31) / 32), 1, 1);
    if (dt == IC_F32)
        IC_LAUNCH(matmul_dbias_kernel<float>, grid, block, 0, ctx->stream, (float *)dbias,
                  (const float *)dout, M, N);
    else if (dt == IC_BF16)
        IC_LAUNCH(matmul_dbias_kernel<__nv_bfloat16>, grid, block, 0, ctx->stream,
                  (__nv_bfloat16 *)dbias, (const __nv_bfloat16 *)dout, M, N);
    else
        IC_FATAL("matmul dbias: dtype %d (want IC_F32 or IC_BF16)", (int)dt);
}
