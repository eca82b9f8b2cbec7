// The CPU SIMT emulator's kernel-side names: what kernels/cuda/ic_cuda_rt.cuh
// promises kernels, for kernels/cuda/*.cu compiled by the host C++ compiler
// (C++17) with -DIC_CUDASIM. Each CUDA thread runs as a fiber; the blocks of
// a grid run one after another; the fibers of a block switch only inside
// __syncthreads and the warp collectives. See tests/cudasim/README.md.
#ifndef IC_CUDASIM_H
#define IC_CUDASIM_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/ic_check.h"
#include "ic_cudasim_api.h"
#include "ic_ptx_twins.h"

// ---- qualifiers --------------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __align__(n) __attribute__((aligned(n)))
#define __launch_bounds__(...)
// Static shared memory: one object per declaration, shared by the fibers of
// the running block. That is exact because blocks run one after another. The
// objects sit in one linker section, which the runtime fills with 0xFF bytes
// (NaN as float and bf16) at the start of every block, so a read before the
// block's own write shows.
#define __shared__ static __attribute__((section("ic_cudasim_smem")))

// ---- built-in variables ------------------------------------------------------
struct uint3 {
    unsigned x, y, z;
};
struct dim3 {
    unsigned x, y, z;
    constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
    constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
};
// Set by the scheduler before it resumes a fiber (so a value a kernel holds
// across a switch is still its own).
extern uint3 threadIdx;
extern uint3 blockIdx;
extern dim3 blockDim;
extern dim3 gridDim;
static constexpr int warpSize = 32;

// ---- the runtime's entry points ----------------------------------------------
namespace cudasim {
// A warp collective's combine step: called once per completed group with
// each participating lane's payload (NULL for lanes outside mask).
typedef void (*warp_fn)(void *const lanes[32], unsigned mask);
void syncthreads(const char *file, int line);
// Blocks the calling lane until every lane of `mask` has called a collective
// of the same `what` with the same mask, then runs fn on their payloads.
void warp_collective(const char *file, int line, const char *what, unsigned mask, void *payload,
                     warp_fn fn);
void *dyn_smem();
void launch_impl(const char *name, const char *file, int line, dim3 grid, dim3 block,
                 size_t smem, void (*invoke)(void *), void *pack);

struct shfl_payload {
    uint64_t v, r;
    unsigned b, c;
    int mode;
};
void shfl_combine(void *const lanes[32], unsigned mask);
enum { SHFL_IDX, SHFL_UP, SHFL_DOWN, SHFL_BFLY };

template <class T>
inline T shfl(const char *file, int line, const char *what, int mode, unsigned mask, T var,
              unsigned b, int width) {
    static_assert(sizeof(T) <= 8 && std::is_trivially_copyable<T>::value,
                  "cudasim: shuffle of a type wider than 8 bytes");
    shfl_payload p{};
    memcpy(&p.v, &var, sizeof(T));
    p.b = b;
    // The c operand of PTX shfl.sync, as the CUDA headers build it.
    unsigned seg = (unsigned)(32 - width) << 8;
    p.c = mode == SHFL_UP ? seg : (seg | 0x1Fu);
    p.mode = mode;
    warp_collective(file, line, what, mask, &p, shfl_combine);
    T r;
    memcpy(&r, &p.r, sizeof(T));
    return r;
}

struct vote_payload {
    int pred;
    unsigned r;
};
void vote_combine(void *const lanes[32], unsigned mask);
void nop_combine(void *const lanes[32], unsigned mask);

// Kernel arguments are converted to the parameter types once, at the launch,
// as CUDA does; every fiber calls the kernel on the same copies.
template <class... P, class... A>
inline void launch(const char *name, const char *file, int line, dim3 grid, dim3 block,
                   size_t smem, void (*k)(P...), A &&...a) {
    static_assert(sizeof...(P) == sizeof...(A), "cudasim: wrong number of kernel arguments");
    struct pack {
        void (*k)(P...);
        std::tuple<std::decay_t<P>...> args;
    };
    pack p{k, std::tuple<std::decay_t<P>...>(std::forward<A>(a)...)};
    launch_impl(name, file, line, grid, block, smem,
                [](void *v) {
                    pack *q = static_cast<pack *>(v);
                    std::apply(q->k, q->args);
                },
                &p);
}
}  // namespace cudasim

// ---- synchronisation and warp collectives ------------------------------------
// The caller's file:line (GCC/Clang builtins as default arguments) names the
// barrier in reports and tells two barriers apart.
inline void __syncthreads(const char *file = __builtin_FILE(), int line = __builtin_LINE()) {
    cudasim::syncthreads(file, line);
}
inline void __syncwarp(unsigned mask = 0xFFFFFFFFu, const char *file = __builtin_FILE(),
                       int line = __builtin_LINE()) {
    cudasim::vote_payload p{0, 0};
    cudasim::warp_collective(file, line, "__syncwarp", mask, &p, cudasim::nop_combine);
}
inline void __threadfence() {}

template <class T>
inline T __shfl_sync(unsigned mask, T var, int src, int width = 32,
                     const char *file = __builtin_FILE(), int line = __builtin_LINE()) {
    return cudasim::shfl(file, line, "__shfl_sync", cudasim::SHFL_IDX, mask, var, (unsigned)src,
                         width);
}
template <class T>
inline T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = 32,
                        const char *file = __builtin_FILE(), int line = __builtin_LINE()) {
    return cudasim::shfl(file, line, "__shfl_up_sync", cudasim::SHFL_UP, mask, var, delta, width);
}
template <class T>
inline T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = 32,
                          const char *file = __builtin_FILE(), int line = __builtin_LINE()) {
    return cudasim::shfl(file, line, "__shfl_down_sync", cudasim::SHFL_DOWN, mask, var, delta,
                         width);
}
template <class T>
inline T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = 32,
                         const char *file = __builtin_FILE(), int line = __builtin_LINE()) {
    return cudasim::shfl(file, line, "__shfl_xor_sync", cudasim::SHFL_BFLY, mask, var,
                         (unsigned)lane_mask, width);
}
inline unsigned __ballot_sync(unsigned mask, int pred, const char *file = __builtin_FILE(),
                              int line = __builtin_LINE()) {
    cudasim::vote_payload p{pred != 0, 0};
    cudasim::warp_collective(file, line, "__ballot_sync", mask, &p, cudasim::vote_combine);
    return p.r;
}
inline int __any_sync(unsigned mask, int pred, const char *file = __builtin_FILE(),
                      int line = __builtin_LINE()) {
    cudasim::vote_payload p{pred != 0, 0};
    cudasim::warp_collective(file, line, "__any_sync", mask, &p, cudasim::vote_combine);
    return p.r != 0;
}
inline int __all_sync(unsigned mask, int pred, const char *file = __builtin_FILE(),
                      int line = __builtin_LINE()) {
    cudasim::vote_payload p{pred != 0, 0};
    cudasim::warp_collective(file, line, "__all_sync", mask, &p, cudasim::vote_combine);
    return (p.r & mask) == mask;
}

// ---- atomics: no fiber switches inside, so plain read-modify-write --------------
#define IC_CUDASIM_ATOMIC_RMW(name, T, expr)                                             \
    inline T name(T *p, T v) {                                                         \
        T o = *p;                                                                      \
        *p = (expr);                                                                   \
        return o;                                                                      \
    }
IC_CUDASIM_ATOMIC_RMW(atomicAdd, int, o + v)
IC_CUDASIM_ATOMIC_RMW(atomicAdd, unsigned, o + v)
IC_CUDASIM_ATOMIC_RMW(atomicAdd, unsigned long long, o + v)
IC_CUDASIM_ATOMIC_RMW(atomicAdd, float, o + v)
IC_CUDASIM_ATOMIC_RMW(atomicAdd, double, o + v)
IC_CUDASIM_ATOMIC_RMW(atomicMax, int, o > v ? o : v)
IC_CUDASIM_ATOMIC_RMW(atomicMax, unsigned, o > v ? o : v)
IC_CUDASIM_ATOMIC_RMW(atomicMin, int, o < v ? o : v)
IC_CUDASIM_ATOMIC_RMW(atomicMin, unsigned, o < v ? o : v)
IC_CUDASIM_ATOMIC_RMW(atomicExch, int, v)
IC_CUDASIM_ATOMIC_RMW(atomicExch, unsigned, v)
IC_CUDASIM_ATOMIC_RMW(atomicExch, unsigned long long, v)
IC_CUDASIM_ATOMIC_RMW(atomicExch, float, v)
#undef IC_CUDASIM_ATOMIC_RMW
#define IC_CUDASIM_ATOMIC_CAS(T)                                                         \
    inline T atomicCAS(T *p, T cmp, T v) {                                             \
        T o = *p;                                                                      \
        if (o == cmp) *p = v;                                                          \
        return o;                                                                      \
    }
IC_CUDASIM_ATOMIC_CAS(int)
IC_CUDASIM_ATOMIC_CAS(unsigned)
IC_CUDASIM_ATOMIC_CAS(unsigned long long)
#undef IC_CUDASIM_ATOMIC_CAS

// ---- math (the intrinsics are computed exactly, not with the GPU's error) -----
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline int __float_as_int(float f) { int i; memcpy(&i, &f, 4); return i; }
inline float __int_as_float(int i) { float f; memcpy(&f, &i, 4); return f; }
inline unsigned __float_as_uint(float f) { unsigned i; memcpy(&i, &f, 4); return i; }
inline float __uint_as_float(unsigned i) { float f; memcpy(&f, &i, 4); return f; }

// ---- bf16: storage only; convert explicitly --------------------------------------
struct __align__(2) __nv_bfloat16 {
    unsigned short __x;
};
struct __align__(4) __nv_bfloat162 {
    __nv_bfloat16 x, y;
};
inline __nv_bfloat16 __float2bfloat16(float f) {
    __nv_bfloat16 h;
    h.__x = ic_twin_f32_to_bf16(f);
    return h;
}
inline __nv_bfloat16 __float2bfloat16_rn(float f) { return __float2bfloat16(f); }
inline float __bfloat162float(__nv_bfloat16 h) { return ic_twin_bf16_to_f32(h.__x); }
inline __nv_bfloat162 __floats2bfloat162_rn(float a, float b) {
    __nv_bfloat162 r;
    r.x = __float2bfloat16(a);
    r.y = __float2bfloat16(b);
    return r;
}

// ---- host API on host memory -------------------------------------------------------
typedef struct CUstream_st *cudaStream_t;
enum cudaError_t {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorInvalidConfiguration = 9,
    cudaErrorLaunchFailure = 719,
};
enum cudaMemcpyKind {
    cudaMemcpyHostToHost = 0,
    cudaMemcpyHostToDevice = 1,
    cudaMemcpyDeviceToHost = 2,
    cudaMemcpyDeviceToDevice = 3,
    cudaMemcpyDefault = 4,
};
cudaError_t cudaMemsetAsync(void *p, int value, size_t bytes, cudaStream_t s = 0);
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t s = 0);
cudaError_t cudaStreamSynchronize(cudaStream_t s);
cudaError_t cudaGetLastError(void);
const char *cudaGetErrorString(cudaError_t e);
const char *cudaGetErrorName(cudaError_t e);

#define cuda_check(call)                                                                   \
    do {                                                                                   \
        cudaError_t e_ = (call);                                                           \
        if (e_ != cudaSuccess)                                                             \
            IC_FATAL("CUDA error %s: %s (%s)", cudaGetErrorName(e_), cudaGetErrorString(e_), \
                     #call);                                                               \
    } while (0)

// ---- launch and dynamic shared memory ---------------------------------------------
// grid and block may be int or dim3; the stream is accepted and ignored
// (everything is synchronous on the host).
#define IC_LAUNCH(kernel, grid, block, smem, stream, ...)                                  \
    do {                                                                                   \
        (void)(stream);                                                                    \
        ::cudasim::launch(#kernel, __FILE__, __LINE__, ::dim3(grid), ::dim3(block),        \
                          (size_t)(smem), kernel, ##__VA_ARGS__);                          \
        cuda_check(cudaGetLastError());                                                    \
    } while (0)

// The block's dynamic shared memory: exactly the launch's smem bytes, ending
// at a guard page (reading past it faults), 0xFF-filled at each block start.
#define IC_DYN_SMEM(T, name) T *name = reinterpret_cast<T *>(::cudasim::dyn_smem())

// C++ convenience over cudasim_check_orders: body(std::vector<unsigned char>&)
// resizes and fills its output.
template <class F>
inline int cudasim_check_orders_cpp(const char *name, F &&body) {
    struct ctx {
        F *f;
        std::vector<unsigned char> *sizes;
    };
    // First run sizes the output (forward order); the harness then reruns.
    std::vector<unsigned char> probe;
    body(probe);
    ctx c{&body, &probe};
    return cudasim_check_orders(
        name,
        [](void *u, void *out, size_t n) {
            ctx *cc = static_cast<ctx *>(u);
            std::vector<unsigned char> v;
            (*cc->f)(v);
            memcpy(out, v.data(), v.size() < n ? v.size() : n);
        },
        &c, probe.size());
}

#endif
