// CUDA backward of the lightning-indexer scores (kernels/ic_indexer_scores.h)
// given g = dLoss/dI, on the bf16 tensor cores (mma.sync m16n8k16, fp32
// accumulate). Per pair with a = qI[t,j] . kI[s]:
//   dw[t,j] += g ReLU(a),  da = g w[t,j] [a > 0],  dqI[t,j] += da kI[s],
//   dkI[s] += da qI[t,j].
//
// Deterministic (no atomics; same inputs give the same bits run to run):
//   dqdw kernel  one CTA per (head j, 64-row tile): its rows' qI[., j] stay in
//                registers as A fragments; per 64-key tile it recomputes a
//                (16 rows x 64 keys a warp), forms da in registers, repacks
//                the C fragments as the A operand of da . kI (FlashAttention-2
//                style) and accumulates dqI[rows, j, :] over the keys in order.
//   dk kernel    one CTA per (head j, 64-key tile), the transposed problem:
//                a^T = kI . qI^T, da^T, then da^T . qI, accumulated over the
//                row tiles in order into part[j, keys, :] (one writer each);
//   reduce       dkI += sum_j part[j] in ascending j.
// The part buffer is H_I x t1 x d_I fp32 (workspace): per-head partials are
// what lets the key-tile pass spread over H_I times more CTAs without atomics.
//
// Pipelining: the operand a warp keeps (its qI rows, resp. kI keys) is read
// from global straight into A fragments; the streamed tile (kI key tiles,
// resp. qI row tiles) is double-buffered in shared memory, the next one
// loaded into registers before the current step's mma work and stored after
// it, so its load latency hides behind that work; one barrier a step.
//
// Inputs: qI, kI fp32 (the public backward) or bf16 (the fused loss passes
// copies it rounded once; half the bytes per re-read tile, same results).
//
// Precision: qI and kI are rounded to bf16 as they are staged (as in the
// forward kernel); da is rounded to bf16 for the second product (relative
// error 2^-9 per term); dw is fp32 throughout.
#include "kernels/cuda/ic_cuda_rt.cuh"
#include "kernels/cuda/ic_cuda_util.cuh"
#include "kernels/cuda/ic_ptx.cuh"
#include "kernels/cuda/ic_mma_tile.cuh"
#include "kernels/cuda/ic_isc_bwd_cuda.h"

extern "C" {
#include "kernels/ic_cuda_ops.h"
}

namespace ic_cuda {

const int kIbTile = 64;       // rows and keys per tile (4 warps x 16, 8 n8 tiles)
const int kIbThreads = 128;   // = __launch_bounds__

// The loads of a 64-row x DI fp32 tile that one thread stages (ic_stage_rows_f32_n's
// split in two), so they can be issued a whole tile of mma work before the stores.
template <typename T, int DI>
struct IbTileRegs {
    static const int kPer = kIbTile * (DI / 8) / kIbThreads;  // 8-element chunks a thread
    static const int kPacks = 8 / IC_PACK_N(T);               // 16-byte packs a chunk
    ic_pack<T> v[kPer][kPacks];
};

// Chunks [M0, M1) of the thread's share (d_I 128 splits the tile in two: the
// whole tile in flight would not fit in the registers).
template <typename T, int DI, int M0, int M1>
__device__ __forceinline__ void ib_tile_load(IbTileRegs<T, DI> &R, const T *src, size_t stride,
                                             int row0, int row_end, int packed) {
    const int chunks = DI / 8, PN = IC_PACK_N(T);
IC_UNROLL
    for (int m = M0; m < M1; m++) {
        const int i = (int)threadIdx.x + m * kIbThreads, c = i / chunks, k = (i - c * chunks) * 8;
        const int r = row0 + c;
        const T *p = src + (size_t)(r < row_end ? r : row0) * stride + k;
IC_UNROLL
        for (int h = 0; h < IbTileRegs<T, DI>::kPacks; h++) {
            if (packed) {
                R.v[m][h] = *reinterpret_cast<const ic_pack<T> *>(p + h * PN);
            } else {
IC_UNROLL
                for (int e = 0; e < PN; e++) R.v[m][h].v[e] = p[h * PN + e];
            }
        }
    }
}

template <typename T, int DI, int M0, int M1>
__device__ __forceinline__ void ib_tile_store(__nv_bfloat16 *tile, const IbTileRegs<T, DI> &R,
                                              int row0, int row_end) {
    const int chunks = DI / 8, LDS = DI + 8, PN = IC_PACK_N(T);
IC_UNROLL
    for (int m = M0; m < M1; m++) {
        const int i = (int)threadIdx.x + m * kIbThreads, c = i / chunks, k = (i - c * chunks) * 8;
        const bool ok = row0 + c < row_end;
        ic_pack<__nv_bfloat16> o;
IC_UNROLL
        for (int e = 0; e < 8; e++)  // bf16 sources: an exact round trip
            o.v[e] = __float2bfloat16(ok ? ic_to_f32(R.v[m][e / PN].v[e % PN]) : 0.0f);
        *reinterpret_cast<ic_pack<__nv_bfloat16> *>(&tile[c * LDS + k]) = o;
    }
}

template <int DI>
__device__ __forceinline__ void ib_lda_all(uint32_t a[][4], const float *src, size_t stride,
                                           int row, int row_end, int lane, int packed) {
    ic_lda_rows_f32_all<DI>(a, src, stride, row, row_end, lane, packed);
}
template <int DI>
__device__ __forceinline__ void ib_lda_all(uint32_t a[][4], const __nv_bfloat16 *src,
                                           size_t stride, int row, int row_end, int lane, int) {
    ic_lda_rows_bf16_all<DI>(a, src, stride, row, row_end, lane);
}

// Software pipeline of both kernels: the tile of the next loop step is loaded
// into registers before this step's mma work and stored into the other half
// of a double-buffered shared tile after it; one barrier a step.
template <typename T, int DI>
__global__ void __launch_bounds__(128)
isc_bwd_dqdw_kernel(float *__restrict__ dqI, float *__restrict__ dw, const float *__restrict__ g,
                    int ld, const T *__restrict__ qI, const T *__restrict__ kI,
                    const float *__restrict__ w, int L, int H_I, int t0, int t1, int packed) {
    const int LDS = DI + 8;  // 16 bytes of padding: conflict-free ldmatrix rows
    __shared__ __align__(16) __nv_bfloat16 sk[2][kIbTile * (DI + 8)];
    const int warp = (int)threadIdx.x >> 5, lane = (int)threadIdx.x & 31;
    const int gq = lane >> 2, tq = lane & 3;
    const int j = (int)blockIdx.x;
    const int r0 = t0 + (int)blockIdx.y * kIbTile;
    const int r_end = r0 + kIbTile < t1 ? r0 + kIbTile : t1;
    const int tw = r0 + warp * 16;
    const int w_last = tw + 15 < r_end - 1 ? tw + 15 : r_end - 1;
    const int ta = tw + gq, tb = ta + 8;
    const bool wrows = tw < r_end;
    // chunks loaded before the mma work (d_I 128: what fits beside it, by ptxas)
    const int P = IbTileRegs<T, DI>::kPer, E = DI == 64 ? P : P / 4;

    {
        IbTileRegs<T, DI> R;
        ib_tile_load<T, DI, 0, IbTileRegs<T, DI>::kPer>(R, kI, (size_t)DI, 0, L, packed);
        ib_tile_store<T, DI, 0, IbTileRegs<T, DI>::kPer>(sk[0], R, 0, L);
    }
    uint32_t aq[DI / 16][4];  // this warp's qI rows as A fragments, kept for every key tile
    if (wrows)
        ib_lda_all<DI>(aq, qI + (size_t)j * DI, (size_t)H_I * DI, tw, r_end, lane, packed);
    __syncthreads();

    float acc_dq[DI / 8][4];
IC_UNROLL
    for (int nt = 0; nt < DI / 8; nt++)
IC_UNROLL
        for (int r = 0; r < 4; r++) acc_dq[nt][r] = 0.0f;
    float dwa = 0.0f, dwb = 0.0f;
    const float wa = ta < r_end ? w[(size_t)ta * H_I + j] : 0.0f;
    const float wb = tb < r_end ? w[(size_t)tb * H_I + j] : 0.0f;

    for (int s0 = 0, buf = 0; s0 < r_end; s0 += kIbTile, buf ^= 1) {
        const bool more = s0 + kIbTile < r_end;
        IbTileRegs<T, DI> R;
        if (more) ib_tile_load<T, DI, 0, E>(R, kI, (size_t)DI, s0 + kIbTile, L, packed);
        const __nv_bfloat16 *ks = sk[buf];
        if (wrows && s0 <= w_last) {  // uniform over the warp
            float a[8][4];
IC_UNROLL
            for (int nt = 0; nt < 8; nt++)
IC_UNROLL
                for (int r = 0; r < 4; r++) a[nt][r] = 0.0f;
IC_UNROLL
            for (int kk = 0; kk < DI / 16; kk++)
IC_UNROLL
                for (int np = 0; np < 4; np++) {
                    uint32_t b[4];
                    ic_ldb_nk(b, ks, LDS, np * 16, kk * 16, lane);
                    ic_mma_m16n8k16_bf16_f32(a[2 * np], aq[kk], b, a[2 * np]);
                    ic_mma_m16n8k16_bf16_f32(a[2 * np + 1], aq[kk], b + 2, a[2 * np + 1]);
                }
            // a becomes da in place; dw gathers g ReLU(a) on the way
IC_UNROLL
            for (int nt = 0; nt < 8; nt++)
IC_UNROLL
                for (int r = 0; r < 4; r++) {
                    const int t = r < 2 ? ta : tb, s = s0 + nt * 8 + 2 * tq + (r & 1);
                    const bool ok = t < r_end && s <= t;
                    const float gv = ok ? g[(size_t)(t - t0) * (size_t)ld + s] : 0.0f;
                    const float av = a[nt][r];
                    if (r < 2) dwa = fmaf(gv, fmaxf(av, 0.0f), dwa);
                    else       dwb = fmaf(gv, fmaxf(av, 0.0f), dwb);
                    a[nt][r] = av > 0.0f ? gv * (r < 2 ? wa : wb) : 0.0f;
                }
IC_UNROLL
            for (int kk = 0; kk < 4; kk++) {
                uint32_t ad[4];
                ic_c_to_a(ad, a[2 * kk], a[2 * kk + 1]);
IC_UNROLL
                for (int np = 0; np < DI / 16; np++) {
                    uint32_t b[4];
                    ic_ldb_kn(b, ks, LDS, kk * 16, np * 16, lane);
                    ic_mma_m16n8k16_bf16_f32(acc_dq[2 * np], ad, b, acc_dq[2 * np]);
                    ic_mma_m16n8k16_bf16_f32(acc_dq[2 * np + 1], ad, b + 2, acc_dq[2 * np + 1]);
                }
            }
        }
        // sk[buf ^ 1] was last read before the previous step's barrier
        if (more) {
            ib_tile_load<T, DI, E, P>(R, kI, (size_t)DI, s0 + kIbTile, L, packed);
            ib_tile_store<T, DI, 0, P>(sk[buf ^ 1], R, s0 + kIbTile, L);
        }
        __syncthreads();
    }
    // the quad's four partial dw sums in a fixed butterfly order
    dwa += __shfl_xor_sync(0xffffffffu, dwa, 1);
    dwa += __shfl_xor_sync(0xffffffffu, dwa, 2);
    dwb += __shfl_xor_sync(0xffffffffu, dwb, 1);
    dwb += __shfl_xor_sync(0xffffffffu, dwb, 2);
    if (dw && tq == 0) {
        if (ta < r_end) dw[(size_t)ta * H_I + j] += dwa;
        if (tb < r_end) dw[(size_t)tb * H_I + j] += dwb;
    }
    if (!dqI) return;
IC_UNROLL
    for (int nt = 0; nt < DI / 8; nt++)
IC_UNROLL
        for (int r = 0; r < 4; r++) {
            const int t = r < 2 ? ta : tb, i = nt * 8 + 2 * tq + (r & 1);
            if (t < r_end) dqI[((size_t)t * H_I + j) * DI + i] += acc_dq[nt][r];
        }
}

template <typename T, int DI>
__global__ void __launch_bounds__(128)
isc_bwd_dk_kernel(float *__restrict__ part, const float *__restrict__ g, int ld,
                  const T *__restrict__ qI, const T *__restrict__ kI,
                  const float *__restrict__ w, int L, int H_I, int t0, int t1, int packed) {
    const int LDS = DI + 8;
    __shared__ __align__(16) __nv_bfloat16 sq[2][kIbTile * (DI + 8)];
    const int warp = (int)threadIdx.x >> 5, lane = (int)threadIdx.x & 31;
    const int gq = lane >> 2, tq = lane & 3;
    const int j = (int)blockIdx.x;
    const int s0 = (int)blockIdx.y * kIbTile;
    const int sw = s0 + warp * 16;            // this warp's first key
    const int sa = sw + gq, sb = sa + 8;      // this thread's two keys
    const T *qj = qI + (size_t)j * DI;
    const size_t qstride = (size_t)H_I * DI;
    const int P = IbTileRegs<T, DI>::kPer, E = DI == 64 ? P : sizeof(T) == 2 ? P / 4 : P / 2;

    const int first = s0 > t0 ? (s0 - t0) / kIbTile : 0;  // rows t >= s0 only
    const int rfirst = t0 + first * kIbTile;
    {
        IbTileRegs<T, DI> R;
        ib_tile_load<T, DI, 0, IbTileRegs<T, DI>::kPer>(R, qj, qstride, rfirst, t1, packed);
        ib_tile_store<T, DI, 0, IbTileRegs<T, DI>::kPer>(sq[0], R, rfirst, t1);
    }
    uint32_t ak[DI / 16][4];
    if (sw < t1) ib_lda_all<DI>(ak, kI, (size_t)DI, sw, t1, lane, packed);
    __syncthreads();

    float acc_dk[DI / 8][4];
IC_UNROLL
    for (int nt = 0; nt < DI / 8; nt++)
IC_UNROLL
        for (int r = 0; r < 4; r++) acc_dk[nt][r] = 0.0f;

    for (int r0 = rfirst, buf = 0; r0 < t1; r0 += kIbTile, buf ^= 1) {
        const int r_end = r0 + kIbTile < t1 ? r0 + kIbTile : t1;
        const bool more = r0 + kIbTile < t1;
        IbTileRegs<T, DI> R;
        if (more) ib_tile_load<T, DI, 0, E>(R, qj, qstride, r0 + kIbTile, t1, packed);
        const __nv_bfloat16 *qs = sq[buf];
        if (sw < t1 && sw <= r_end - 1) {  // some key of the warp at or below a row
            float a[8][4];  // a^T: row = key (sa | sb), column = row t of the tile
IC_UNROLL
            for (int nt = 0; nt < 8; nt++)
IC_UNROLL
                for (int r = 0; r < 4; r++) a[nt][r] = 0.0f;
IC_UNROLL
            for (int kk = 0; kk < DI / 16; kk++)
IC_UNROLL
                for (int np = 0; np < 4; np++) {
                    uint32_t b[4];
                    ic_ldb_nk(b, qs, LDS, np * 16, kk * 16, lane);
                    ic_mma_m16n8k16_bf16_f32(a[2 * np], ak[kk], b, a[2 * np]);
                    ic_mma_m16n8k16_bf16_f32(a[2 * np + 1], ak[kk], b + 2, a[2 * np + 1]);
                }
IC_UNROLL
            for (int nt = 0; nt < 8; nt++)
IC_UNROLL
                for (int c = 0; c < 2; c++) {  // the column t is shared by r = c and c + 2
                    const int t = r0 + nt * 8 + 2 * tq + c;
                    const float wv = t < r_end ? w[(size_t)t * H_I + j] : 0.0f;
IC_UNROLL
                    for (int hi = 0; hi < 2; hi++) {
                        const int r = c + 2 * hi, s = hi ? sb : sa;
                        const bool ok = t < r_end && s <= t;
                        const float gv = ok ? g[(size_t)(t - t0) * (size_t)ld + s] : 0.0f;
                        a[nt][r] = a[nt][r] > 0.0f ? gv * wv : 0.0f;
                    }
                }
IC_UNROLL
            for (int kk = 0; kk < 4; kk++) {
                uint32_t ad[4];
                ic_c_to_a(ad, a[2 * kk], a[2 * kk + 1]);
IC_UNROLL
                for (int np = 0; np < DI / 16; np++) {
                    uint32_t b[4];
                    ic_ldb_kn(b, qs, LDS, kk * 16, np * 16, lane);
                    ic_mma_m16n8k16_bf16_f32(acc_dk[2 * np], ad, b, acc_dk[2 * np]);
                    ic_mma_m16n8k16_bf16_f32(acc_dk[2 * np + 1], ad, b + 2, acc_dk[2 * np + 1]);
                }
            }
        }
        if (more) {
            ib_tile_load<T, DI, E, P>(R, qj, qstride, r0 + kIbTile, t1, packed);
            ib_tile_store<T, DI, 0, P>(sq[buf ^ 1], R, r0 + kIbTile, t1);
        }
        __syncthreads();
    }
    float *dst = part + (size_t)j * (size_t)t1 * DI;
IC_UNROLL
    for (int nt = 0; nt < DI / 8; nt++)
IC_UNROLL
        for (int r = 0; r < 4; r++) {
            const int s = r < 2 ? sa : sb, i = nt * 8 + 2 * tq + (r & 1);
            if (s < t1) dst[(size_t)s * DI + i] = acc_dk[nt][r];
        }
}

__global__ void __launch_bounds__(256)
isc_bwd_dk_reduce_kernel(float *__restrict__ dkI, const float *__restrict__ part, int H_I,
                         size_t n) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        float acc = dkI[i];
        for (int j = 0; j < H_I; j++) acc += part[(size_t)j * n + i];
        dkI[i] = acc;
    }
}

template <typename T>
static int isc_packed(const T *qI, const T *kI) {
    return ic_aligned16(qI) && ic_aligned16(kI);
}

template <typename T>
static void isc_bwd_dqdw_run(ic_ctx *ctx, float *dqI, float *dw, const float *g, int ld,
                             const T *qI, const T *kI, const float *w, int L, int H_I, int d_I,
                             int t0, int t1) {
    if (t1 <= t0 || (!dqI && !dw)) return;
    const dim3 grid((unsigned)H_I, (unsigned)((t1 - t0 + kIbTile - 1) / kIbTile), 1);
    IC_ASSERT(grid.y <= 65535u);
    const int packed = isc_packed(qI, kI);
    if (d_I == 64)
        IC_LAUNCH((isc_bwd_dqdw_kernel<T, 64>), grid, (unsigned)kIbThreads, 0, ctx->stream, dqI,
                  dw, g, ld, qI, kI, w, L, H_I, t0, t1, packed);
    else if (d_I == 128)
        IC_LAUNCH((isc_bwd_dqdw_kernel<T, 128>), grid, (unsigned)kIbThreads, 0, ctx->stream, dqI,
                  dw, g, ld, qI, kI, w, L, H_I, t0, t1, packed);
    else
        IC_FATAL("indexer scores backward (CUDA): d_I = %d, the kernels take 64 or 128", d_I);
}

template <typename T>
static void isc_bwd_dk_run(ic_ctx *ctx, float *part, const float *g, int ld, const T *qI,
                           const T *kI, const float *w, int L, int H_I, int d_I, int t0, int t1) {
    if (t1 <= t0) return;
    const dim3 grid((unsigned)H_I, (unsigned)((t1 + kIbTile - 1) / kIbTile), 1);
    IC_ASSERT(grid.y <= 65535u);
    const int packed = isc_packed(qI, kI);
    if (d_I == 64)
        IC_LAUNCH((isc_bwd_dk_kernel<T, 64>), grid, (unsigned)kIbThreads, 0, ctx->stream, part, g,
                  ld, qI, kI, w, L, H_I, t0, t1, packed);
    else if (d_I == 128)
        IC_LAUNCH((isc_bwd_dk_kernel<T, 128>), grid, (unsigned)kIbThreads, 0, ctx->stream, part,
                  g, ld, qI, kI, w, L, H_I, t0, t1, packed);
    else
        IC_FATAL("indexer scores backward (CUDA): d_I = %d, the kernels take 64 or 128", d_I);
}

void isc_bwd_dqdw_launch(ic_ctx *ctx, float *dqI, float *dw, const float *g, int ld,
                         const float *qI, const float *kI, const float *w, int L, int H_I,
                         int d_I, int t0, int t1) {
    isc_bwd_dqdw_run(ctx, dqI, dw, g, ld, qI, kI, w, L, H_I, d_I, t0, t1);
}

void isc_bwd_dqdw_launch(ic_ctx *ctx, float *dqI, float *dw, const float *g, int ld,
                         const __nv_bfloat16 *qI, const __nv_bfloat16 *kI, const float *w, int L,
                         int H_I, int d_I, int t0, int t1) {
    IC_ASSERT(ic_aligned16(qI) && ic_aligned16(kI));  // the 16-byte packs of the staging
    isc_bwd_dqdw_run(ctx, dqI, dw, g, ld, qI, kI, w, L, H_I, d_I, t0, t1);
}

void isc_bwd_dk_launch(ic_ctx *ctx, float *part, const float *g, int ld, const float *qI,
                       const float *kI, const float *w, int L, int H_I, int d_I, int t0,
                       int t1) {
    isc_bwd_dk_run(ctx, part, g, ld, qI, kI, w, L, H_I, d_I, t0, t1);
}

void isc_bwd_dk_launch(ic_ctx *ctx, float *part, const float *g, int ld,
                       const __nv_bfloat16 *qI, const __nv_bfloat16 *kI, const float *w, int L,
                       int H_I, int d_I, int t0, int t1) {
    IC_ASSERT(ic_aligned16(qI) && ic_aligned16(kI));
    isc_bwd_dk_run(ctx, part, g, ld, qI, kI, w, L, H_I, d_I, t0, t1);
}

void isc_bwd_dk_reduce_launch(ic_ctx *ctx, float *dkI, const float *part, int H_I, int d_I,
                              int n) {
    const size_t total = (size_t)n * (size_t)d_I;
    if (total == 0) return;
    IC_LAUNCH(isc_bwd_dk_reduce_kernel, ic_grid_for(total, 256), 256u, 0, ctx->stream, dkI, part,
              H_I, total);
}

}  // namespace ic_cuda

using namespace ic_cuda;

extern "C" size_t ic_indexer_scores_workspace_bytes_cuda(const ic_ctx *ctx, int L, int H_I,
                                                         int d_I) {
    (void)ctx;
    return ic_ws_round(isc_bwd_part_bytes(L, H_I, d_I));
}

extern "C" void ic_indexer_scores_backward_cuda(ic_ctx *ctx, float *dqI, float *dkI, float *dw,
                                                const float *dI, int ld, const float *qI,
                                                const float *kI, const float *w, int L, int H_I,
                                                int d_I, int t0, int t1) {
    IC_ASSERT(ctx != NULL && dI != NULL && qI != NULL && kI != NULL && w != NULL);
    IC_ASSERT(L > 0 && H_I > 0 && 0 <= t0 && t0 <= t1 && t1 <= L && ld >= t1);
    if (d_I != 64 && d_I != 128)
        IC_FATAL("indexer scores backward (CUDA): d_I = %d is not supported (64 or 128)", d_I);
    if (t1 == t0) return;
    isc_bwd_dqdw_launch(ctx, dqI, dw, dI, ld, qI, kI, w, L, H_I, d_I, t0, t1);
    if (!dkI) return;
    const size_t mark = ic_ws_mark(ctx);
    float *part = (float *)ic_ws_alloc(ctx, isc_bwd_part_bytes(t1, H_I, d_I),
                                       "indexer scores backward");
    isc_bwd_dk_launch(ctx, part, dI, ld, qI, kI, w, L, H_I, d_I, t0, t1);
    isc_bwd_dk_reduce_launch(ctx, dkI, part, H_I, d_I, t1);
    ic_ws_release(ctx, mark);
}
