// Small device helpers shared by the element-wise and normalisation kernels
// (embedding, rmsnorm, rope, swiglu, elementwise, adamw_update, sumsq).
// Included right after kernels/cuda/ic_cuda_rt.cuh and built only from the
// names that header lists, so it runs in the CPU SIMT emulator unchanged.
#ifndef IC_CUDA_UTIL_CUH
#define IC_CUDA_UTIL_CUH

#include <stddef.h>
#include <stdint.h>

#include "core/ic_check.h"

// 16 bytes of T (4 floats or 8 bf16): one 128-bit load or store when the
// address is 16-byte aligned. Kernels take the packed path only when the
// launcher checked every pointer with ic_aligned16 and the row length is a
// multiple of IC_PACK_N(T).
template <typename T> struct __align__(16) ic_pack { T v[16 / sizeof(T)]; };
#define IC_PACK_N(T) ((int)(16 / sizeof(T)))

static inline int ic_aligned16(const void *p) { return ((uintptr_t)p & 15u) == 0; }

// Threads per block for a row of `work` items: whole warps, at most `cap`.
static inline unsigned ic_threads_for(size_t work, unsigned cap) {
    size_t t = (work + 31) / 32 * 32;
    if (t < 32) t = 32;
    if (t > cap) t = cap;
    return (unsigned)t;
}

// Sum over a full warp by butterfly: every lane gets the same total, and the
// order of additions is fixed, so a kernel built on it is run-to-run bitwise
// reproducible.
__device__ __forceinline__ double ic_warp_sum(double v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// Sum over the block; blockDim.x a multiple of 32, at most 1024; every
// thread must call it; every thread gets the total. sh: 32 doubles of
// static shared memory, free again when this returns.
__device__ __forceinline__ double ic_block_sum(double v, double *sh) {
    const int lane = (int)(threadIdx.x & 31u), w = (int)(threadIdx.x >> 5);
    const int nw = (int)(blockDim.x >> 5);
    v = ic_warp_sum(v);
    if (lane == 0) sh[w] = v;
    __syncthreads();
    v = lane < nw ? sh[lane] : 0.0;
    v = ic_warp_sum(v);
    __syncthreads();  // sh may be reused by the caller's next call
    return v;
}

// A quiet NaN, written where an input is invalid (an out-of-range token) so
// that the bad value shows downstream instead of an out-of-bounds read.
__device__ __forceinline__ float ic_qnan(void) { return __int_as_float(0x7fc00000); }

// sin and cos of a >= 0 in double. RoPE forms its angles in double like the
// CPU reference (kernels/cpu/rope.c: p * theta^(-2i/rot_dim) with p up to
// ~1e5), and the kernel-side contract has no double sin/cos, so: Cody-Waite
// reduction by pi/2 in three 33-bit parts (k * part exact for k < 2^20,
// i.e. a < ~1.6e6), then Taylor series on |r| <= pi/4 (truncation < 1e-19).
// Absolute error ~1e-16: after the cast to float the CPU's value, bar an
// occasional last-bit tie.
__device__ __forceinline__ void ic_sincos_pos(double a, double *s, double *c) {
    const double two_over_pi = 0.6366197723675814;
    const double pio2_1 = 1.5707963267341256;      // pi/2 to 33 bits
    const double pio2_2 = 6.077100506303966e-11;   // next 33 bits
    const double pio2_3 = 2.0222662487959506e-21;  // the rest
    const long long k = (long long)(a * two_over_pi + 0.5);
    const double kf = (double)k;
    const double r = ((a - kf * pio2_1) - kf * pio2_2) - kf * pio2_3;
    const double r2 = r * r;
    // 1/n! for n = 3, 5, ..., 17 and 2, 4, ..., 18
    const double sn = r * (1.0 + r2 * (-1.0 / 6.0 + r2 * (1.0 / 120.0 + r2 * (-1.0 / 5040.0
                    + r2 * (1.0 / 362880.0 + r2 * (-1.0 / 39916800.0 + r2 * (1.0 / 6227020800.0
                    + r2 * (-1.0 / 1307674368000.0 + r2 * (1.0 / 355687428096000.0)))))))));
    const double cs = 1.0 + r2 * (-0.5 + r2 * (1.0 / 24.0 + r2 * (-1.0 / 720.0
                    + r2 * (1.0 / 40320.0 + r2 * (-1.0 / 3628800.0 + r2 * (1.0 / 479001600.0
                    + r2 * (-1.0 / 87178291200.0 + r2 * (1.0 / 20922789888000.0
                    + r2 * (-1.0 / 6402373705728000.0)))))))));
    switch ((int)(k & 3)) {
    case 0: *s = sn;  *c = cs;  break;
    case 1: *s = cs;  *c = -sn; break;
    case 2: *s = -sn; *c = -cs; break;
    default: *s = -cs; *c = sn; break;
    }
}

#endif
