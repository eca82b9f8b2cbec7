// Device helpers shared by the bf16 tensor-core tile kernels (indexer scores,
// the fused distillation loss and the indexer-score backward): staging of
// fp32 / bf16 rows into padded bf16 shared tiles, the ldmatrix addressing of
// mma.sync m16n8k16 operands, and the repacking of an fp32 C fragment into
// the bf16 A fragment of the next product (the FlashAttention-2 trick: the
// C layout of two adjacent n8 tiles is the A layout of one k16 step).
// Included after ic_cuda_rt.cuh, ic_cuda_util.cuh and ic_ptx.cuh; built only
// from the names those list, so it runs in the CPU SIMT emulator unchanged.
//
// Fragment reminder (lane = 4 g + tq): C element r of an m16n8 tile sits at
// row g + 8 (r / 2), column 2 tq + r % 2; A register i of an m16k16 step
// holds rows g + 8 (i % 2), columns 2 tq + 8 (i / 2) and +1.
#ifndef IC_MMA_TILE_CUH
#define IC_MMA_TILE_CUH

#include <stdint.h>
#include <string.h>

// #pragma unroll for nvcc; the host compiler of the emulator does not know it.
#ifdef IC_CUDASIM
#define IC_UNROLL
#else
#define IC_UNROLL _Pragma("unroll")
#endif

namespace ic_cuda {

__device__ __forceinline__ float ic_neg_inf(void) { return __int_as_float((int)0xff800000u); }

// 8 consecutive elements of src into 8 bf16 of shared memory (one 16-byte
// store); zeros where !ok (rows or keys past the data). packed: src is
// 16-byte aligned (the launcher checked the base; a row length that is a
// multiple of 8 keeps every row's 8-element chunks aligned).
template <typename T>
__device__ __forceinline__ void ic_stage8_bf16(__nv_bfloat16 *dst, const T *src, bool ok,
                                               int packed) {
    ic_pack<__nv_bfloat16> p;
    if (!ok) {
IC_UNROLL
        for (int k = 0; k < 8; k++) p.v[k] = __float2bfloat16(0.0f);
    } else if (packed) {
        const int P = IC_PACK_N(T);
IC_UNROLL
        for (int h = 0; h < 8; h += P) {
            const ic_pack<T> a = *reinterpret_cast<const ic_pack<T> *>(src + h);
IC_UNROLL
            for (int k = 0; k < P; k++) p.v[h + k] = __float2bfloat16(ic_to_f32(a.v[k]));
        }
    } else {
IC_UNROLL
        for (int k = 0; k < 8; k++) p.v[k] = __float2bfloat16(ic_to_f32(src[k]));
    }
    *reinterpret_cast<ic_pack<__nv_bfloat16> *>(dst) = p;
}

// Stages rows [row0, row0 + nrows_tile) of a strided fp32/bf16 matrix into a
// bf16 tile of nrows_tile x D (row stride lds), rows >= row_end zero. Row r
// of the source starts at src + r * stride. All threads of the block call it.
template <typename T, int D>
__device__ __forceinline__ void ic_stage_rows(__nv_bfloat16 *tile, int lds, const T *src,
                                              size_t stride, int row0, int row_end,
                                              int nrows_tile, int packed) {
    const int chunks = D / 8;
    for (int i = (int)threadIdx.x; i < nrows_tile * chunks; i += (int)blockDim.x) {
        const int c = i / chunks, k = (i - c * chunks) * 8, r = row0 + c;
        const bool ok = r < row_end;
        ic_stage8_bf16(&tile[c * lds + k], ok ? src + (size_t)r * stride + k : src, ok, packed);
    }
}

// A operand (16 rows x 16 k) of the warp's rows [row, row + 16), k from k0,
// of a row-major bf16 tile: matrices (rows 0-7 | 8-15) x (k 0-7 | 8-15).
__device__ __forceinline__ void ic_lda_rows(uint32_t a[4], const __nv_bfloat16 *tile, int lds,
                                            int row, int k0, int lane) {
    ic_ldmatrix_x4(a, &tile[(row + (lane & 15)) * lds + k0 + 8 * (lane >> 4)]);
}

// B operands of two n8 tiles [n0, n0 + 16) x k16 from k0, when the tile holds
// the n index as its rows (B column-major = a row-major [n][k] tile): b[0..1]
// for columns n0..n0+7, b[2..3] for n0+8..n0+15.
__device__ __forceinline__ void ic_ldb_nk(uint32_t b[4], const __nv_bfloat16 *tile, int lds,
                                          int n0, int k0, int lane) {
    ic_ldmatrix_x4(b, &tile[(n0 + (lane & 7) + 8 * (lane >> 4)) * lds + k0 +
                            8 * ((lane >> 3) & 1)]);
}

// The same two n8 tiles when the tile holds k as its rows (a row-major
// [k][n] tile, e.g. keys x dims): ldmatrix .trans.
__device__ __forceinline__ void ic_ldb_kn(uint32_t b[4], const __nv_bfloat16 *tile, int lds,
                                          int k0, int n0, int lane) {
    ic_ldmatrix_x4_trans(b, &tile[(k0 + (lane & 7) + 8 * ((lane >> 3) & 1)) * lds + n0 +
                                  8 * (lane >> 4)]);
}

// Two floats as one bf16x2 register (lo in the low half), nearest even.
__device__ __forceinline__ uint32_t ic_pack_bf16x2(float lo, float hi) {
    const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    uint32_t u;
    memcpy(&u, &v, 4);  // no type punning through a pointer (strict aliasing)
    return u;
}

// The A fragment of k16 step kk from the C fragments of n8 tiles 2 kk and
// 2 kk + 1 (the columns of the first product become the k of the second).
__device__ __forceinline__ void ic_c_to_a(uint32_t a[4], const float c0[4], const float c1[4]) {
    a[0] = ic_pack_bf16x2(c0[0], c0[1]);
    a[1] = ic_pack_bf16x2(c0[2], c0[3]);
    a[2] = ic_pack_bf16x2(c1[0], c1[1]);
    a[3] = ic_pack_bf16x2(c1[2], c1[3]);
}

// ---- Helpers added for the fused distillation loss (distill_loss_dense.cu):
// operands read straight from global memory into fragments, and staging with
// a compile-time trip count (so every load of a thread is in flight at once).

// Two consecutive fp32 values, one 8-byte load where the address allows it.
struct __align__(8) ic_f32x2 { float x, y; };

__device__ __forceinline__ ic_f32x2 ic_ld_f32x2(const float *p, int pairs) {
    if (pairs) return *reinterpret_cast<const ic_f32x2 *>(p);
    ic_f32x2 r;
    r.x = p[0];
    r.y = p[1];
    return r;
}

// The A fragments of all D / 16 k steps for the warp's 16 rows [row, row +
// 16) of a strided fp32 matrix (row r at src + r * stride), read from global
// memory and rounded to bf16 (nearest even): for an operand that only this
// warp uses, so it needs neither a shared tile nor a block barrier. Rows >=
// row_end are zero (row itself must be < row_end: its address is the stand-in
// that keeps the loads in bounds). pairs: src and stride even and src 8-byte
// aligned, so each lane's two columns are one 8-byte load.
template <int D>
__device__ __forceinline__ void ic_lda_rows_f32_all(uint32_t a[][4], const float *src,
                                                    size_t stride, int row, int row_end,
                                                    int lane, int pairs) {
    const int g = lane >> 2, tq = lane & 3;
    const bool oka = row + g < row_end, okb = row + g + 8 < row_end;
    const float *pa = src + (size_t)(oka ? row + g : row) * stride + 2 * tq;
    const float *pb = src + (size_t)(okb ? row + g + 8 : row) * stride + 2 * tq;
    ic_f32x2 v[D / 16][4];
IC_UNROLL
    for (int kk = 0; kk < D / 16; kk++) {
        v[kk][0] = ic_ld_f32x2(pa + kk * 16, pairs);
        v[kk][1] = ic_ld_f32x2(pb + kk * 16, pairs);
        v[kk][2] = ic_ld_f32x2(pa + kk * 16 + 8, pairs);
        v[kk][3] = ic_ld_f32x2(pb + kk * 16 + 8, pairs);
    }
IC_UNROLL
    for (int kk = 0; kk < D / 16; kk++)
IC_UNROLL
        for (int i = 0; i < 4; i++) {
            const bool ok = (i & 1) ? okb : oka;
            a[kk][i] = ic_pack_bf16x2(ok ? v[kk][i].x : 0.0f, ok ? v[kk][i].y : 0.0f);
        }
}

// ic_stage_rows for fp32 sources with the trip count fixed at compile time
// (NROWS x D elements over NTHREADS = blockDim.x threads, in 8-element
// chunks): a thread issues all of its loads before its first shared store.
template <int D, int NROWS, int NTHREADS>
__device__ __forceinline__ void ic_stage_rows_f32_n(__nv_bfloat16 *tile, int lds,
                                                    const float *src, size_t stride, int row0,
                                                    int row_end, int packed) {
    const int chunks = D / 8, per = NROWS * chunks / NTHREADS;
    static_assert(NROWS * chunks % NTHREADS == 0, "whole chunks per thread");
    ic_pack<float> v[per][2];
IC_UNROLL
    for (int m = 0; m < per; m++) {
        const int i = (int)threadIdx.x + m * NTHREADS, c = i / chunks, k = (i - c * chunks) * 8;
        const int r = row0 + c;
        const float *p = src + (size_t)(r < row_end ? r : row0) * stride + k;
        if (packed) {
            v[m][0] = *reinterpret_cast<const ic_pack<float> *>(p);
            v[m][1] = *reinterpret_cast<const ic_pack<float> *>(p + 4);
        } else {
IC_UNROLL
            for (int e = 0; e < 4; e++) { v[m][0].v[e] = p[e]; v[m][1].v[e] = p[4 + e]; }
        }
    }
IC_UNROLL
    for (int m = 0; m < per; m++) {
        const int i = (int)threadIdx.x + m * NTHREADS, c = i / chunks, k = (i - c * chunks) * 8;
        const bool ok = row0 + c < row_end;
        ic_pack<__nv_bfloat16> o;
IC_UNROLL
        for (int e = 0; e < 8; e++)
            o.v[e] = __float2bfloat16(ok ? v[m][e >> 2].v[e & 3] : 0.0f);
        *reinterpret_cast<ic_pack<__nv_bfloat16> *>(&tile[c * lds + k]) = o;
    }
}

// ic_lda_rows_f32_all for a bf16 matrix: each lane's two columns are one
// 4-byte load that is already the packed fragment register (src 4-byte
// aligned, stride even).
template <int D>
__device__ __forceinline__ void ic_lda_rows_bf16_all(uint32_t a[][4], const __nv_bfloat16 *src,
                                                     size_t stride, int row, int row_end,
                                                     int lane) {
    const int g = lane >> 2, tq = lane & 3;
    const bool oka = row + g < row_end, okb = row + g + 8 < row_end;
    const __nv_bfloat16 *pa = src + (size_t)(oka ? row + g : row) * stride + 2 * tq;
    const __nv_bfloat16 *pb = src + (size_t)(okb ? row + g + 8 : row) * stride + 2 * tq;
IC_UNROLL
    for (int kk = 0; kk < D / 16; kk++) {
        const uint32_t x0 = *reinterpret_cast<const uint32_t *>(pa + kk * 16);
        const uint32_t x1 = *reinterpret_cast<const uint32_t *>(pb + kk * 16);
        const uint32_t x2 = *reinterpret_cast<const uint32_t *>(pa + kk * 16 + 8);
        const uint32_t x3 = *reinterpret_cast<const uint32_t *>(pb + kk * 16 + 8);
        a[kk][0] = oka ? x0 : 0u;
        a[kk][1] = okb ? x1 : 0u;
        a[kk][2] = oka ? x2 : 0u;
        a[kk][3] = okb ? x3 : 0u;
    }
}

// ic_stage_rows_f32_n for a bf16 source: 16-byte copies (src 16-byte aligned,
// stride a multiple of 8), all of a thread's loads before its first store.
template <int D, int NROWS, int NTHREADS>
__device__ __forceinline__ void ic_stage_rows_bf16_n(__nv_bfloat16 *tile, int lds,
                                                     const __nv_bfloat16 *src, size_t stride,
                                                     int row0, int row_end) {
    const int chunks = D / 8, per = NROWS * chunks / NTHREADS;
    static_assert(NROWS * chunks % NTHREADS == 0, "whole chunks per thread");
    ic_pack<__nv_bfloat16> v[per];
IC_UNROLL
    for (int m = 0; m < per; m++) {
        const int i = (int)threadIdx.x + m * NTHREADS, c = i / chunks, k = (i - c * chunks) * 8;
        const int r = row0 + c;
        v[m] = *reinterpret_cast<const ic_pack<__nv_bfloat16> *>(
            src + (size_t)(r < row_end ? r : row0) * stride + k);
    }
IC_UNROLL
    for (int m = 0; m < per; m++) {
        const int i = (int)threadIdx.x + m * NTHREADS, c = i / chunks, k = (i - c * chunks) * 8;
        if (row0 + c >= row_end)
IC_UNROLL
            for (int e = 0; e < 8; e++) v[m].v[e] = __float2bfloat16(0.0f);
        *reinterpret_cast<ic_pack<__nv_bfloat16> *>(&tile[c * lds + k]) = v[m];
    }
}

}  // namespace ic_cuda

#endif
