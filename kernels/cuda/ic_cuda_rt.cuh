// The one header every kernels/cuda/*.cu includes first. Compiled by nvcc it
// is plain CUDA; compiled by the host C++ compiler with -DIC_CUDASIM (the CPU
// SIMT emulator of docs/DESIGN.md section 7, tests/cudasim) the same names come
// from the emulator's ic_cudasim.h, so the real kernel sources run there.
//
// Kernel sources may use, and only use, from CUDA:
//   __global__ __device__ __host__ __forceinline__ __restrict__ __align__(n)
//   __launch_bounds__(n), __shared__ (static, fixed size), dim3, threadIdx,
//   blockIdx, blockDim, gridDim, warpSize;
//   __syncthreads, __syncwarp, __shfl_sync / _xor / _up / _down (int,
//   unsigned, float, double), __ballot_sync, __any_sync, __all_sync;
//   atomicAdd (int, unsigned, unsigned long long, float, double),
//   atomicMax / atomicMin (int, unsigned), atomicCAS, atomicExch,
//   __threadfence;
//   rsqrtf, sqrtf, expf, __expf, logf, __logf, fmaf, fmaxf, fminf, __fdividef,
//   __float_as_int, __int_as_float, __float_as_uint, __uint_as_float;
//   __nv_bfloat16, __nv_bfloat162, __float2bfloat16 (round to nearest even),
//   __float2bfloat16_rn, __bfloat162float, __floats2bfloat162_rn;
//   on the host side of a launcher: cudaStream_t, cudaError_t, cudaSuccess,
//   cudaMemsetAsync, cudaMemcpyAsync (+ the cudaMemcpyKind values),
//   cudaStreamSynchronize, cudaGetLastError, cudaGetErrorString, cuda_check.
// and from here:
//   IC_LAUNCH(kernel, grid, block, smem_bytes, stream, args...)  never <<<>>>
//   IC_DYN_SMEM(T, name);   declares T *name = the block's dynamic shared memory
//   ic_to_f32(x), ic_from_f32<T>(f)   storage <-> fp32 for float and bf16
// Inline PTX lives only in kernels/cuda/ic_ptx.cuh, behind wrappers that have
// emulator twins.
#ifndef IC_CUDA_RT_CUH
#define IC_CUDA_RT_CUH

#ifdef IC_CUDASIM
#include "ic_cudasim.h"
#else
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "core/ic_check.h"

#define IC_LAUNCH(kernel, grid, block, smem, stream, ...)                                \
    do {                                                                                 \
        kernel<<<(grid), (block), (smem), (cudaStream_t)(stream)>>>(__VA_ARGS__);        \
        cuda_check(cudaGetLastError());                                                  \
    } while (0)

#define IC_DYN_SMEM(T, name)                                                             \
    extern __shared__ __align__(16) unsigned char name##_raw_[];                         \
    T *name = reinterpret_cast<T *>(name##_raw_)
#endif

__device__ __forceinline__ float ic_to_f32(float x) { return x; }
__device__ __forceinline__ float ic_to_f32(__nv_bfloat16 x) { return __bfloat162float(x); }
template <typename T> __device__ __forceinline__ T ic_from_f32(float f);
template <> __device__ __forceinline__ float ic_from_f32<float>(float f) { return f; }
template <> __device__ __forceinline__ __nv_bfloat16 ic_from_f32<__nv_bfloat16>(float f) {
    return __float2bfloat16(f);
}

// Grid size for n elements at `per_block` elements a block, capped so that a
// grid-stride loop covers the rest (gridDim.x is limited to 2^31 - 1).
static inline unsigned ic_grid_for(size_t n, unsigned per_block) {
    size_t b = (n + per_block - 1) / per_block;
    if (b < 1) b = 1;
    if (b > 65535u * 16u) b = 65535u * 16u;
    return (unsigned)b;
}

#endif
