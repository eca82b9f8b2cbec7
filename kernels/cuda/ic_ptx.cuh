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
}  // namespace cudasim

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
#undef IC_PTX_SM80

#endif
#endif
