// The only home of inline PTX. Each wrapper is a warp-wide instruction; under
// nvcc it is the instruction itself (sm_80 and newer; older targets trap),
// under -DIC_CUDASIM (tests/cudasim) an emulator twin written from the PTX
// ISA's fragment layouts (arithmetic in tests/cudasim/ic_ptx_twins.h, checked
// against the hardware by tests/gpu/test_ptx_twins.cu).
//
//   ic_mma_m16n8k16_bf16_f32(d, a, b, c)
//       mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32: D = A B + C, A
//       16x16 bf16 row-major, B 16x8 bf16 column-major, C and D 16x8 fp32, in
//       the per-lane fragments documented in ic_ptx_twins.h. All 32 lanes.
//   ic_ldmatrix_x4 / _x2 / _x4_trans / _x2_trans(r, row)
//       ldmatrix.sync.aligned.m8n8.{x4,x2}[.trans].shared.b16: each lane
//       passes the shared-memory address of one 16-byte row (lane 8j+i: row i
//       of matrix j; for x2 the addresses of lanes 16..31 are not read), and
//       receives in r[j] its pair of matrix j. All 32 lanes; rows 16-byte
//       aligned.
//   ic_cp_async16(dst, src) / ic_cp_async_commit() / ic_cp_async_wait<N>()
//       cp.async.cg.shared.global [dst], [src], 16 (one thread's 16-byte copy
//       from global to shared memory, both 16-byte aligned, through L2 only),
//       cp.async.commit_group (the thread's copies issued since the last
//       commit form a group) and cp.async.wait_group N (wait until at most N
//       of the thread's groups are pending). Per thread, not warp-wide: a
//       copy is visible to the issuing thread after the wait, to the others
//       after the wait and a barrier (__syncwarp / __syncthreads). The twin
//       holds each copy back until the wait that covers it, so a read before
//       the wait sees the emulator's 0xFF shared-memory fill (NaN). Limit:
//       at the wait the copy lands for every thread, so a missing barrier
//       between one lane's wait and another lane's read goes unseen (the
//       emulator's fibers switch only at collectives, and ldmatrix is one).
#ifndef IC_PTX_CUH
#define IC_PTX_CUH

#include <stdint.h>

#ifdef IC_CUDASIM
#include "ic_cudasim.h"

namespace cudasim {
struct mma_payload {
    uint32_t a[4], b[2];
    float c[4], d[4];
};
inline void mma_combine(void *const lanes[32], unsigned) {
    uint32_t a[32][4], b[32][2];
    float c[32][4], d[32][4];
    for (int l = 0; l < 32; l++) {
        const mma_payload *p = static_cast<const mma_payload *>(lanes[l]);
        memcpy(a[l], p->a, sizeof a[l]);
        memcpy(b[l], p->b, sizeof b[l]);
        memcpy(c[l], p->c, sizeof c[l]);
    }
    ic_twin_mma_m16n8k16_bf16_f32(a, b, c, d);
    for (int l = 0; l < 32; l++) memcpy(static_cast<mma_payload *>(lanes[l])->d, d[l], sizeof d[l]);
}
struct ldm_payload {
    const void *row;
    uint32_t r[4];
};
template <int NMAT, int TRANS>
inline void ldm_combine(void *const lanes[32], unsigned) {
    const void *rows[32];
    uint32_t r[32][4];
    for (int l = 0; l < 32; l++) rows[l] = static_cast<const ldm_payload *>(lanes[l])->row;
    ic_twin_ldmatrix(rows, NMAT, TRANS, r);
    for (int l = 0; l < 32; l++) memcpy(static_cast<ldm_payload *>(lanes[l])->r, r[l], 4 * NMAT);
}
template <int NMAT, int TRANS>
inline void ldmatrix(uint32_t *r, const void *row, const char *what, const char *file, int line) {
    ldm_payload p{row, {0, 0, 0, 0}};
    warp_collective(file, line, what, 0xFFFFFFFFu, &p, ldm_combine<NMAT, TRANS>);
    memcpy(r, p.r, 4 * NMAT);
}
// cp.async: each thread's pending copies, in issue order, cut into committed
// groups; the copies run (ic_twin_cp_async16) when a wait covers them.
struct cpa_copy {
    void *dst;
    const void *src;
};
struct cpa_thread {
    std::vector<cpa_copy> open;                  // issued since the last commit
    std::vector<std::vector<cpa_copy>> groups;   // committed, oldest first
    uint3 block;                                 // the block that issued them
};
inline cpa_thread &cpa_state() {
    static std::vector<cpa_thread> threads;  // by linear thread index in the block
    const size_t t = threadIdx.x + (size_t)blockDim.x * (threadIdx.y + (size_t)blockDim.y * threadIdx.z);
    if (threads.size() <= t) threads.resize(t + 1);
    cpa_thread &c = threads[t];
    if (!c.open.empty() || !c.groups.empty()) {
        if (c.block.x != blockIdx.x || c.block.y != blockIdx.y || c.block.z != blockIdx.z) {
            fprintf(stderr, "cudasim: error: cp.async copies of block (%u,%u,%u) thread %zu "
                            "were never waited for (missing cp.async.wait_group 0)\n",
                    c.block.x, c.block.y, c.block.z, t);
            abort();
        }
    }
    c.block = blockIdx;
    return c;
}
}  // namespace cudasim

inline void ic_cp_async16(void *dst, const void *src) {
    if (((uintptr_t)dst | (uintptr_t)src) & 15u) {
        fprintf(stderr, "cudasim: error: ic_cp_async16(%p, %p): both addresses must be 16-byte "
                        "aligned\n", dst, src);
        abort();
    }
    cudasim::cpa_state().open.push_back(cudasim::cpa_copy{dst, src});
}
inline void ic_cp_async_commit(void) {
    cudasim::cpa_thread &c = cudasim::cpa_state();
    c.groups.push_back(c.open);  // an empty group is legal (and completes at once)
    c.open.clear();
}
template <int N>
inline void ic_cp_async_wait(void) {
    cudasim::cpa_thread &c = cudasim::cpa_state();
    while (c.groups.size() > (size_t)N) {
        for (const cudasim::cpa_copy &x : c.groups.front()) ic_twin_cp_async16(x.dst, x.src);
        c.groups.erase(c.groups.begin());
    }
}

inline void ic_mma_m16n8k16_bf16_f32(float d[4], const uint32_t a[4], const uint32_t b[2],
                                     const float c[4], const char *file = __builtin_FILE(),
                                     int line = __builtin_LINE()) {
    cudasim::mma_payload p;
    memcpy(p.a, a, sizeof p.a);
    memcpy(p.b, b, sizeof p.b);
    memcpy(p.c, c, sizeof p.c);
    cudasim::warp_collective(file, line, "ic_mma_m16n8k16_bf16_f32", 0xFFFFFFFFu, &p,
                             cudasim::mma_combine);
    memcpy(d, p.d, sizeof p.d);
}
inline void ic_ldmatrix_x4(uint32_t r[4], const void *row, const char *file = __builtin_FILE(),
                           int line = __builtin_LINE()) {
    cudasim::ldmatrix<4, 0>(r, row, "ic_ldmatrix_x4", file, line);
}
inline void ic_ldmatrix_x2(uint32_t r[2], const void *row, const char *file = __builtin_FILE(),
                           int line = __builtin_LINE()) {
    cudasim::ldmatrix<2, 0>(r, row, "ic_ldmatrix_x2", file, line);
}
inline void ic_ldmatrix_x4_trans(uint32_t r[4], const void *row,
                                 const char *file = __builtin_FILE(), int line = __builtin_LINE()) {
    cudasim::ldmatrix<4, 1>(r, row, "ic_ldmatrix_x4_trans", file, line);
}
inline void ic_ldmatrix_x2_trans(uint32_t r[2], const void *row,
                                 const char *file = __builtin_FILE(), int line = __builtin_LINE()) {
    cudasim::ldmatrix<2, 1>(r, row, "ic_ldmatrix_x2_trans", file, line);
}

#else  // nvcc

#include <cuda_runtime.h>

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
#define IC_PTX_SM80 1
#endif

__device__ __forceinline__ void ic_mma_m16n8k16_bf16_f32(float d[4], const uint32_t a[4],
                                                         const uint32_t b[2], const float c[4]) {
#ifdef IC_PTX_SM80
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
        "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%10, %11, %12, %13};\n"
        : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]),
          "f"(c[1]), "f"(c[2]), "f"(c[3]));
#else
    __trap();
#endif
}

// "memory": the instruction reads shared memory the compiler cannot see.
#ifdef IC_PTX_SM80
#define IC_PTX_LDMATRIX(suffix, ...)                                                       \
    unsigned addr_ = (unsigned)__cvta_generic_to_shared(row);                              \
    asm volatile("ldmatrix.sync.aligned.m8n8" suffix ".shared.b16 " __VA_ARGS__ : "memory")
#else
#define IC_PTX_LDMATRIX(suffix, ...) __trap()
#endif

__device__ __forceinline__ void ic_ldmatrix_x4(uint32_t r[4], const void *row) {
    IC_PTX_LDMATRIX(".x4", "{%0, %1, %2, %3}, [%4];\n"
                    : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                    : "r"(addr_));
}
__device__ __forceinline__ void ic_ldmatrix_x2(uint32_t r[2], const void *row) {
    IC_PTX_LDMATRIX(".x2", "{%0, %1}, [%2];\n" : "=r"(r[0]), "=r"(r[1]) : "r"(addr_));
}
__device__ __forceinline__ void ic_ldmatrix_x4_trans(uint32_t r[4], const void *row) {
    IC_PTX_LDMATRIX(".x4.trans", "{%0, %1, %2, %3}, [%4];\n"
                    : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                    : "r"(addr_));
}
__device__ __forceinline__ void ic_ldmatrix_x2_trans(uint32_t r[2], const void *row) {
    IC_PTX_LDMATRIX(".x2.trans", "{%0, %1}, [%2];\n" : "=r"(r[0]), "=r"(r[1]) : "r"(addr_));
}

// cp.async.cg: 16 bytes, cached in L2 only (a gathered row is read once per
// block; L1 would only hold it for nobody).
__device__ __forceinline__ void ic_cp_async16(void *dst, const void *src) {
#ifdef IC_PTX_SM80
    const unsigned d_ = (unsigned)__cvta_generic_to_shared(dst);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(d_), "l"(src) : "memory");
#else
    __trap();
#endif
}
__device__ __forceinline__ void ic_cp_async_commit(void) {
#ifdef IC_PTX_SM80
    asm volatile("cp.async.commit_group;\n" ::: "memory");
#else
    __trap();
#endif
}
template <int N>
__device__ __forceinline__ void ic_cp_async_wait(void) {
#ifdef IC_PTX_SM80
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
#else
    __trap();
#endif
}
#undef IC_PTX_SM80

#endif
#endif
