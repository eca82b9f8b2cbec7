// CUDA lightning-indexer scores (kernels/ic_indexer_scores.h, forward only):
//   out[r, s] = sum_j w[t,j] * ReLU(qI[t,j] . kI[s])  for s <= t (t = t0 + r),
//   -INFINITY for t < s < ld.
// on the bf16 tensor cores (mma.sync m16n8k16, fp32 accumulators).
//
// Two kernels. d_I 64 or 128 with 16-byte aligned qI and kI (every caller in
// the repo) take indexer_scores_fast_kernel below: 16 rows x 256 keys a
// block, the keys' mma operands held in registers across all heads. Other
// widths and unaligned pointers take the general kernel first in this file:
//
// One block of 4 warps owns a tile of 64 query rows x 64 keys; each warp owns
// 16 of the rows and all 64 keys (8 mma n-tiles). The key tile kI[s0..s0+63]
// is staged in shared memory once (it is the same for every head); for each
// head j the 64 rows qI[t, j, :] are staged in turn, the warp's [16 x d_I] .
// [d_I x 64] product is accumulated in registers, and ReLU and the w[t,j]
// weighting are applied there and summed over heads into the output tile,
// also in registers: no per-head product ever reaches global memory.
//
// Precision: the tensor cores take bf16, so fp32 inputs (dt == IC_F32) are
// rounded to bf16 (nearest even) while they are staged; the dot products
// accumulate in fp32 (the mma's own fused sum), the ReLU, w multiply and head
// sum are fp32 FMAs in ascending head order. Results therefore agree with the
// fp32 CPU reference only to bf16 input precision; on bf16-representable
// inputs they differ from it only in fp32 summation order. ReLU is
// fmaxf(a, 0), which maps a NaN dot product to 0 (the CPU's gives NaN).
//
// Causality: a block whose first key lies past its last row writes only
// -INFINITY and does no maths; a warp whose rows all lie before the first key
// skips its mma work; inside a diagonal tile s > t is masked at the store.
#include "kernels/cuda/ic_cuda_rt.cuh"
#include "kernels/cuda/ic_cuda_util.cuh"
#include "kernels/cuda/ic_ptx.cuh"
#include "kernels/cuda/ic_mma_tile.cuh"

extern "C" {
#include "core/ic_ctx.h"
#include "kernels/ic_cuda_ops.h"
}

namespace ic_cuda {  // named, so the mangled kernel names are stable

const int kIscRows = 64;      // query rows per block (4 warps x 16)
const int kIscKeys = 64;      // keys per block (8 mma n-tiles of 8)

const int kIscThreads = 128;  // = the kernel's __launch_bounds__
const int kIscMaxD = 128;     // largest d_I: the static shared tiles' width
// Row stride of the shared tiles in bf16: 8 elements (16 bytes) of padding
// keep rows 16-byte aligned for ldmatrix and move consecutive rows 4 banks
// apart, so the 8 rows of one 8x8 matrix hit all 32 banks once.
const int kIscLds = kIscMaxD + 8;

template <typename T>
__global__ void __launch_bounds__(128)
indexer_scores_fwd_kernel(float *__restrict__ out, int ld, const T *__restrict__ qI,
                          const T *__restrict__ kI, const T *__restrict__ w, int L, int H_I,
                          int d_I, int t0, int t1, int packed) {
    __shared__ __align__(16) __nv_bfloat16 sq[kIscRows * kIscLds];
    __shared__ __align__(16) __nv_bfloat16 sk[kIscKeys * kIscLds];
    const int warp = (int)threadIdx.x >> 5, lane = (int)threadIdx.x & 31;
    const int g = lane >> 2, tq = lane & 3;  // the mma fragments' groupID and thread-in-group
    const int r0 = t0 + (int)blockIdx.y * kIscRows;  // first query row (t) of the tile
    const int r_end = r0 + kIscRows < t1 ? r0 + kIscRows : t1;
    const int s0 = (int)blockIdx.x * kIscKeys;        // first key of the tile
    const int tw = r0 + warp * 16;                    // first row of this warp
    const bool live = s0 <= r_end - 1;                // some key at or below the diagonal
    const int chunks = d_I / 8;                       // 16-byte chunks of a row

    float o[8][4];  // the output tile: n-tile nt, C fragment element r
IC_UNROLL
    for (int nt = 0; nt < 8; nt++)
IC_UNROLL
        for (int r = 0; r < 4; r++) o[nt][r] = 0.0f;

    if (live) {  // uniform over the block: the barriers below are reached by all
        for (int i = (int)threadIdx.x; i < kIscKeys * chunks; i += kIscThreads) {
            const int c = i / chunks, k = (i - c * chunks) * 8, s = s0 + c;
            ic_stage8_bf16(&sk[c * kIscLds + k], kI + (size_t)s * d_I + k, s < L, packed);
        }
        const int w_last = tw + 15 < r_end - 1 ? tw + 15 : r_end - 1;
        const bool wlive = tw < r_end && s0 <= w_last;  // uniform over the warp
        const int ta = tw + g, tb = tw + g + 8;         // this thread's two rows
        for (int j = 0; j < H_I; j++) {
            __syncthreads();  // the previous head's ldmatrix reads of sq are done
            for (int i = (int)threadIdx.x; i < kIscRows * chunks; i += kIscThreads) {
                const int c = i / chunks, k = (i - c * chunks) * 8, t = r0 + c;
                ic_stage8_bf16(&sq[c * kIscLds + k], qI + ((size_t)t * H_I + j) * d_I + k, t < r_end,
                           packed);
            }
            __syncthreads();
            if (!wlive) continue;
            float acc[8][4];
IC_UNROLL
            for (int nt = 0; nt < 8; nt++)
IC_UNROLL
                for (int r = 0; r < 4; r++) acc[nt][r] = 0.0f;
            for (int k0 = 0; k0 < d_I; k0 += 16) {
                // A (16 rows x 16 k): lane l addresses row l % 16, columns
                // k0 + 8 (l / 16): matrices (rows 0-7 | 8-15) x (k 0-7 | 8-15).
                uint32_t a[4];
                ic_ldmatrix_x4(a, &sq[(warp * 16 + (lane & 15)) * kIscLds + k0 + 8 * (lane >> 4)]);
IC_UNROLL
                for (int np = 0; np < 4; np++) {
                    // B of two n-tiles: keys are the rows of the shared tile
                    // (B column-major = kI row-major); matrix m = l / 8 is
                    // keys +8 (m / 2), k +8 (m % 2).
                    uint32_t b[4];
                    ic_ldmatrix_x4(b, &sk[(np * 16 + (lane & 7) + 8 * (lane >> 4)) * kIscLds + k0 +
                                          8 * ((lane >> 3) & 1)]);
                    ic_mma_m16n8k16_bf16_f32(acc[2 * np], a, b, acc[2 * np]);
                    ic_mma_m16n8k16_bf16_f32(acc[2 * np + 1], a, b + 2, acc[2 * np + 1]);
                }
            }
            const float wa = ta < r_end ? ic_to_f32(w[(size_t)ta * H_I + j]) : 0.0f;
            const float wb = tb < r_end ? ic_to_f32(w[(size_t)tb * H_I + j]) : 0.0f;
IC_UNROLL
            for (int nt = 0; nt < 8; nt++) {
                o[nt][0] = fmaf(wa, fmaxf(acc[nt][0], 0.0f), o[nt][0]);
                o[nt][1] = fmaf(wa, fmaxf(acc[nt][1], 0.0f), o[nt][1]);
                o[nt][2] = fmaf(wb, fmaxf(acc[nt][2], 0.0f), o[nt][2]);
                o[nt][3] = fmaf(wb, fmaxf(acc[nt][3], 0.0f), o[nt][3]);
            }
        }
    }

    // C fragment element r of n-tile nt: row g + 8 (r / 2), key 2 tq + r % 2 + 8 nt.
IC_UNROLL
    for (int nt = 0; nt < 8; nt++)
IC_UNROLL
        for (int r = 0; r < 4; r++) {
            const int t = tw + g + 8 * (r >> 1), s = s0 + nt * 8 + 2 * tq + (r & 1);
            if (t < r_end && s < ld)
                out[(size_t)(t - t0) * (size_t)ld + s] = live && s <= t ? o[nt][r] : ic_neg_inf();
        }
}

// ---- The fast path: d_I 64 or 128, 16-byte aligned inputs ------------------
// One block of 8 warps owns 16 query rows x 256 keys; warp w owns all 16 rows
// and keys [32 w, 32 w + 32). What bounded the 64 x 64 kernel above was
// shared-memory traffic and re-staging: per head it ldmatrix'ed both operands
// (5 ldmatrix x4 per 8 mma, more bytes than the tensor cores consume) and
// re-read every q row from L2 once per 64 keys. Here the key operand, which is
// the same for every head, is loaded once into registers as B fragments
// (D/2 registers), so per head a warp reads only the 16 x D q tile (one
// ldmatrix x4 per 4 mma), and a q row is fetched once per 256 keys. The q tile
// of head j + 1 is loaded into registers while head j multiplies (software
// pipelining; one barrier per head, two shared buffers), for fp32 and bf16
// storage alike (fp32 is rounded to bf16 as it is stored to shared memory, so
// no workspace copy is needed). Results are bit-identical to the kernel above:
// the same mma k-order, ReLU and ascending-head FMAs per element.
const int kIsfRows = 16;                        // query rows per block (one m-tile)
const int kIsfWarps = 8;
const int kIsfWarpKeys = 32;                    // keys per warp: 4 n-tiles of 8
const int kIsfKeys = kIsfWarps * kIsfWarpKeys;  // 256 keys per block
const int kIsfThreads = 32 * kIsfWarps;

// Eight consecutive elements of a q row in flight between global and shared
// memory (16 bytes of bf16 or 32 of fp32, in whole 16-byte vectors).
template <typename T>
struct IsfChunk {
    ic_pack<T> p[8 / IC_PACK_N(T)];
};
template <typename T>
__device__ __forceinline__ void isf_load(IsfChunk<T> &c, const T *src, bool ok) {
    const int P = IC_PACK_N(T);
IC_UNROLL
    for (int h = 0; h < 8 / P; h++) {
        if (ok) {
            c.p[h] = *reinterpret_cast<const ic_pack<T> *>(src + h * P);
        } else {
IC_UNROLL
            for (int k = 0; k < P; k++) c.p[h].v[k] = ic_from_f32<T>(0.0f);
        }
    }
}
__device__ __forceinline__ void isf_store(__nv_bfloat16 *dst, const IsfChunk<__nv_bfloat16> &c) {
    *reinterpret_cast<ic_pack<__nv_bfloat16> *>(dst) = c.p[0];
}
__device__ __forceinline__ void isf_store(__nv_bfloat16 *dst, const IsfChunk<float> &c) {
    ic_pack<__nv_bfloat16> b;
IC_UNROLL
    for (int h = 0; h < 2; h++)
IC_UNROLL
        for (int k = 0; k < 4; k++) b.v[4 * h + k] = __float2bfloat16(c.p[h].v[k]);
    *reinterpret_cast<ic_pack<__nv_bfloat16> *>(dst) = b;
}

// Elements k, k + 1 of a key row as one bf16x2 register (low half first).
__device__ __forceinline__ uint32_t isf_pair(const __nv_bfloat16 *p) {
    uint32_t u;
    memcpy(&u, p, 4);  // 4-byte aligned: the row base is 16-aligned, k even
    return u;
}
struct __align__(8) IsfF2 {
    float x, y;
};
__device__ __forceinline__ uint32_t isf_pair(const float *p) {
    const IsfF2 v = *reinterpret_cast<const IsfF2 *>(p);
    return ic_pack_bf16x2(v.x, v.y);
}
__device__ __forceinline__ void isf_put2(float *p, float a, float b) {
    IsfF2 v;
    v.x = a;
    v.y = b;
    *reinterpret_cast<IsfF2 *>(p) = v;
}

template <typename T, int D>
__global__ void __launch_bounds__(256, 2)
indexer_scores_fast_kernel(float *__restrict__ out, int ld, const T *__restrict__ qI,
                           const T *__restrict__ kI, const T *__restrict__ w, int L, int H_I,
                           int t0, int t1, int vec2) {
    const int KS = D / 16, NT = kIsfWarpKeys / 8, LDS = D + 8, CH = D / 8;
    __shared__ __align__(16) __nv_bfloat16 sq[2][kIsfRows * LDS];
    const int tid = (int)threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const int g = lane >> 2, tq = lane & 3;
    const int r0 = t0 + (int)blockIdx.y * kIsfRows;
    const int r_end = r0 + kIsfRows < t1 ? r0 + kIsfRows : t1;
    const int s0 = (int)blockIdx.x * kIsfKeys, sw = s0 + warp * kIsfWarpKeys;
    const bool live = s0 <= r_end - 1;   // uniform over the block
    const bool wlive = sw <= r_end - 1;  // uniform over the warp
    const int ta = r0 + g, tb = r0 + g + 8;

    float o[NT][4];
IC_UNROLL
    for (int nt = 0; nt < NT; nt++)
IC_UNROLL
        for (int r = 0; r < 4; r++) o[nt][r] = 0.0f;

    if (live) {
        // This thread's chunk of each head's q tile: row cr, dims ck..ck+7
        // (threads >= 2 D stage nothing); rows past the block are zero.
        const bool stager = tid < kIsfRows * CH;
        const int cr = tid / CH, ck = (tid - cr * CH) * 8, ct = r0 + cr;
        const bool cok = stager && ct < r_end;
        const T *qsrc = qI + (size_t)(cok ? ct : 0) * H_I * D + ck;
        const int soff = cr * LDS + ck;
        IsfChunk<T> c;
        isf_load(c, qsrc, cok);
        float wa = ta < r_end ? ic_to_f32(w[(size_t)ta * H_I]) : 0.0f;
        float wb = tb < r_end ? ic_to_f32(w[(size_t)tb * H_I]) : 0.0f;
        // B fragments of the warp's 32 keys, all of d_I, for every head: n-tile
        // nt, k-step ks; register h holds key sw + 8 nt + g, dims 16 ks + 8 h
        // + 2 tq and + 1. Keys past L are zero (their scores are masked).
        uint32_t b[KS][NT][2];
IC_UNROLL
        for (int nt = 0; nt < NT; nt++) {
            const int s = sw + 8 * nt + g;
            const bool ok = wlive && s < L;
            const T *kr = kI + (size_t)(ok ? s : 0) * D + 2 * tq;
IC_UNROLL
            for (int ks = 0; ks < KS; ks++)
IC_UNROLL
                for (int h = 0; h < 2; h++) b[ks][nt][h] = ok ? isf_pair(kr + 16 * ks + 8 * h) : 0u;
        }
        if (stager) isf_store(&sq[0][soff], c);
        __syncthreads();
        for (int j = 0; j < H_I; j++) {
            const bool more = j + 1 < H_I;
            float wa_n = 0.0f, wb_n = 0.0f;
            if (more) {  // head j + 1 in flight while head j multiplies
                isf_load(c, qsrc + (size_t)(j + 1) * D, cok);
                if (ta < r_end) wa_n = ic_to_f32(w[(size_t)ta * H_I + j + 1]);
                if (tb < r_end) wb_n = ic_to_f32(w[(size_t)tb * H_I + j + 1]);
            }
            if (wlive) {
                const __nv_bfloat16 *buf = sq[j & 1];
                float acc[NT][4];
IC_UNROLL
                for (int nt = 0; nt < NT; nt++)
IC_UNROLL
                    for (int r = 0; r < 4; r++) acc[nt][r] = 0.0f;
IC_UNROLL
                for (int ks = 0; ks < KS; ks++) {
                    uint32_t a[4];
                    ic_lda_rows(a, buf, LDS, 0, 16 * ks, lane);
IC_UNROLL
                    for (int nt = 0; nt < NT; nt++)
                        ic_mma_m16n8k16_bf16_f32(acc[nt], a, b[ks][nt], acc[nt]);
                }
IC_UNROLL
                for (int nt = 0; nt < NT; nt++) {
                    o[nt][0] = fmaf(wa, fmaxf(acc[nt][0], 0.0f), o[nt][0]);
                    o[nt][1] = fmaf(wa, fmaxf(acc[nt][1], 0.0f), o[nt][1]);
                    o[nt][2] = fmaf(wb, fmaxf(acc[nt][2], 0.0f), o[nt][2]);
                    o[nt][3] = fmaf(wb, fmaxf(acc[nt][3], 0.0f), o[nt][3]);
                }
            }
            // Buffer (j + 1) & 1 was last read in head j - 1, before the
            // barrier that ended it; the barrier below publishes it.
            if (more && stager) isf_store(&sq[(j + 1) & 1][soff], c);
            __syncthreads();
            wa = wa_n;
            wb = wb_n;
        }
    }

    // C element r of n-tile nt: row g + 8 (r / 2), key 2 tq + r % 2 + 8 nt;
    // the pair (r, r + 1) is adjacent, one 8-byte store when ld is even.
IC_UNROLL
    for (int nt = 0; nt < NT; nt++)
IC_UNROLL
        for (int h = 0; h < 2; h++) {
            const int t = h ? tb : ta, s = sw + 8 * nt + 2 * tq;
            if (t >= r_end || s >= ld) continue;
            const float v0 = live && s <= t ? o[nt][2 * h] : ic_neg_inf();
            const float v1 = live && s + 1 <= t ? o[nt][2 * h + 1] : ic_neg_inf();
            float *p = out + (size_t)(t - t0) * (size_t)ld + s;
            if (vec2 && s + 1 < ld) {
                isf_put2(p, v0, v1);
            } else {
                p[0] = v0;
                if (s + 1 < ld) p[1] = v1;
            }
        }
}

template <typename T, int D>
void indexer_scores_fast_launch(ic_ctx *ctx, float *out, int ld, const T *qI, const T *kI,
                                const T *w, int L, int H_I, int t0, int t1) {
    const int vec2 = ld % 2 == 0 && ((uintptr_t)out & 7u) == 0;
    const unsigned gx = (unsigned)((ld + kIsfKeys - 1) / kIsfKeys);
    const unsigned gy = (unsigned)((t1 - t0 + kIsfRows - 1) / kIsfRows);
    IC_ASSERT(gy <= 65535u);
    IC_LAUNCH((indexer_scores_fast_kernel<T, D>), dim3(gx, gy, 1), (unsigned)kIsfThreads, 0,
              ctx->stream, out, ld, qI, kI, w, L, H_I, t0, t1, vec2);
}

template <typename T>
void indexer_scores_launch(ic_ctx *ctx, float *out, int ld, const T *qI, const T *kI, const T *w,
                           int L, int H_I, int d_I, int t0, int t1) {
    const int packed = ic_aligned16(qI) && ic_aligned16(kI);
    if (packed && d_I == 64)
        return indexer_scores_fast_launch<T, 64>(ctx, out, ld, qI, kI, w, L, H_I, t0, t1);
    if (packed && d_I == 128)
        return indexer_scores_fast_launch<T, 128>(ctx, out, ld, qI, kI, w, L, H_I, t0, t1);
    const unsigned gx = (unsigned)((ld + kIscKeys - 1) / kIscKeys);
    const unsigned gy = (unsigned)((t1 - t0 + kIscRows - 1) / kIscRows);
    IC_ASSERT(gy <= 65535u);
    IC_LAUNCH(indexer_scores_fwd_kernel<T>, dim3(gx, gy, 1), (unsigned)kIscThreads, 0,
              ctx->stream, out, ld, qI, kI, w, L, H_I, d_I, t0, t1, packed);
}

}  // namespace ic_cuda

using namespace ic_cuda;

extern "C" void ic_indexer_scores_forward_cuda(ic_ctx *ctx, ic_dtype dt, float *out, int ld,
                                               const void *qI, const void *kI, const void *w,
                                               int L, int H_I, int d_I, int t0, int t1) {
    IC_ASSERT(ctx != NULL && (dt == IC_F32 || dt == IC_BF16));
    IC_ASSERT(out != NULL && qI != NULL && kI != NULL && w != NULL);
    IC_ASSERT(L > 0 && H_I > 0 && 0 <= t0 && t0 <= t1 && t1 <= L && ld >= t1);
    IC_ASSERT(d_I > 0 && d_I % 16 == 0 && d_I <= kIscMaxD);  // mma k-steps of 16; the smem tiles
    if (t1 == t0) return;
    if (dt == IC_F32)
        indexer_scores_launch(ctx, out, ld, (const float *)qI, (const float *)kI,
                              (const float *)w, L, H_I, d_I, t0, t1);
    else
        indexer_scores_launch(ctx, out, ld, (const __nv_bfloat16 *)qI, (const __nv_bfloat16 *)kI,
                              (const __nv_bfloat16 *)w, L, H_I, d_I, t0, t1);
}
