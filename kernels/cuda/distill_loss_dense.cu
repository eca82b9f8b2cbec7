// CUDA IndexCache distillation loss, dense stage (kernels/ic_distill_loss.h,
// docs/DESIGN.md s3), forward and backward, on the bf16 tensor cores (mma.sync
// m16n8k16, fp32 accumulate; the fp32 inputs are rounded to bf16, nearest
// even: the served q, k once per call into workspace copies, the indexer's as
// they are staged).
//
// The query rows are processed in chunks of C = min(L, 2048) rows [c0, c1)
// (desc->row_block, rounded up to 64, overrides the 2048: the tests use it to
// run several chunks at small L);
// per chunk, on ctx->stream:
//   1. indexer scores   I[t, s < c1] of the chunk into the workspace block B
//                       [C, c1] (the forward kernel of indexer_scores.cu);
//   2. row LSE          lseI[t] of B's rows (one warp a row, double sum);
//   3. teacher tiles    one CTA per (64 rows, 64 keys) tile: log q = I - lseI;
//                       per served layer j and head h the score tile
//                       q_jh . k_jg(h) / sqrt(d) on the tensor cores (the key
//                       tile staged once per KV group, the only barriers; each
//                       warp reads its own rows of q_jh from global straight
//                       into A fragments), then
//                       p_j = (1/H) sum_h exp(score - lse_jh[t]) (the head
//                       average formed per (t, s) before any log), the KL_j
//                       terms and pbar = mean_j p_j; B := g =
//                       q - pbar in place; per-row loss / KL(pbar||q) partial
//                       sums of the tile to workspace (double);
//   4. row sums         the partials of each row in key-tile order;
//   5. backward         from g: dqI and dw (a CTA per head and 64-row tile,
//                       looping over keys), dkI (a CTA per head and 64-key
//                       tile, looping over rows, into per-head partials, then
//                       summed over heads in order): kernels/cuda/
//                       indexer_scores_bwd.cu, the same kernels as the public
//                       ic_indexer_scores_backward on CUDA.
// Finally one block sums the per-row terms over t in a fixed tree (double).
//
// Determinism: no atomics anywhere; every output element and every partial
// sum has exactly one writer and a fixed summation order, so the same inputs
// give the same bits run to run (the trainer's --resume relies on it).
//
// Memory (workspace, bytes; C = min(L, 2048), T = ceil(L / 64)):
//   4 C L (B) + 4 C (lseI) + 16 T C (tile partials) + 16 L (row terms) + 16
//   + 4 H_I L d_I (dkI per-head partials) + 2 S L (H + Hkv) d (bf16 copies of
//   the served q, k; S = n_served, the size query reserves S = desc->max_served)
//   + 2 L (H_I + 1) d_I (bf16 copies of qI, kI)
// i.e. O(L (C + H_I d_I + S (H + Hkv) d)) with C a constant: no L x L array
// for L > 2048. Reserved at L = 8K: SmolLM2 (H_I 16, d_I 64, H 9 / Hkv 3,
// d 64) 223 MB; H_I 64, d_I 128, H 16 / Hkv 16, d 128: 1012 MB.
// C is 2048 rather than 1024 for the backward's parallelism: the dqI / dw
// kernel has H_I x C / 64 CTAs per chunk (256 at SmolLM2's H_I 16 and C 1024,
// under two CTAs an SM of the H200), and half as many chunks halve the
// launches and per-chunk tails. B's rows are read by the H_I CTAs of one row
// (key) tile side by side (the head is blockIdx.x), so they hit in L2 even
// when B (64 MB at L 8K) is larger than it.
//
// Precision: bf16 inputs to every product (qI, kI, the teacher q, k), fp32
// accumulation; da rounded to bf16 for the gradient products; exp / log are
// the fast intrinsics (__expf, __logf; their arguments are <= ~0 or
// probabilities); sums over keys in fp32 per thread, over tiles and rows in
// double. key_block of the desc is CPU tuning, ignored here.
#include <math.h>
#include <string.h>

#include "kernels/cuda/ic_cuda_rt.cuh"
#include "kernels/cuda/ic_cuda_util.cuh"
#include "kernels/cuda/ic_ptx.cuh"
#include "kernels/cuda/ic_mma_tile.cuh"
#include "kernels/cuda/ic_isc_bwd_cuda.h"
#include "kernels/cuda/ic_attention_cuda.h"

extern "C" {
#include "core/ic_ctx.h"
#include "kernels/ic_cuda_ops.h"
#include "kernels/ic_distill_loss.h"
}

namespace ic_cuda {

const int kDlTile = 64;       // rows and keys of a teacher tile
const int kDlChunk = 2048;    // query rows per chunk (the workspace block's height)
const int kDlMaxServed = IC_DISTILL_CUDA_MAX_SERVED;  // launch parameters: 1.5 KiB

// The served layers as the tile kernel reads them: q and k are bf16 copies in
// the workspace (rounded once per call, as the staging rounded them per tile:
// same bits, half the bytes re-read from L2 per tile), lse the caller's.
struct DlServed {
    const __nv_bfloat16 *q[kDlMaxServed];
    const __nv_bfloat16 *k[kDlMaxServed];
    const float *lse[kDlMaxServed];
};

// lseI[t - c0] = log sum_{s <= t} exp(B[t - c0, s]), one warp a row.
__global__ void __launch_bounds__(128)
distill_row_lse_kernel(float *__restrict__ lseI, const float *__restrict__ B, int ld, int c0,
                       int c1) {
    const int warp = (int)threadIdx.x >> 5, lane = (int)threadIdx.x & 31;
    const int t = c0 + (int)blockIdx.x * 4 + warp;
    if (t >= c1) return;  // the whole warp; no block barrier follows
    const float *row = B + (size_t)(t - c0) * (size_t)ld;
    float mx = ic_neg_inf();
    for (int s = lane; s <= t; s += 32) mx = fmaxf(mx, row[s]);
    for (int o = 16; o > 0; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
    double sum = 0.0;
    for (int s = lane; s <= t; s += 32) sum += (double)expf(row[s] - mx);
    sum = ic_warp_sum(sum);
    if (lane == 0) lseI[t - c0] = mx + logf((float)sum);
}

// One CTA per (64 rows, 64 keys) tile, 4 warps of 16 rows x 64 keys. Per
// served layer and KV group the key tile is staged once in shared memory
// (the only block barriers: two per group, none per head); per head each
// warp reads its own 16 rows of the teacher q straight from global memory
// into A fragments (no other warp needs them), so the warps run their heads
// independently and hide each other's load latency. The causal mask is
// applied once per layer, not per head: masked elements accumulate finite
// junk (zero rows past r_end, zero keys past L) that is dropped there.
// pbar of a thread's 32 tile elements: registers, or (PBAR_SMEM, where the
// registers are short) shared memory at base[e * 128], one thread's own.
template <bool PBAR_SMEM> struct DlPbar {
    float v[32];
    __device__ __forceinline__ float &at(int e) { return v[e]; }
};
template <> struct DlPbar<true> {
    float *base;
    __device__ __forceinline__ float &at(int e) { return base[e * 128]; }
};

// d 64: 4 CTAs an SM (128 registers, pbar in shared memory: 41 KB); d 128: 2.
template <int D>
__global__ void __launch_bounds__(128, D == 64 ? 4 : 2)
distill_dense_tile_kernel(float *__restrict__ B, int ld, const float *__restrict__ lseI,
                          double *__restrict__ part_loss, double *__restrict__ part_kl,
                          int pstride, DlServed sv, int n_served, int L, int H, int Hkv, int c0,
                          int c1, float scale) {
    const int LDS = D + 8;
    __shared__ __align__(16) __nv_bfloat16 sk[kDlTile * (D + 8)];
    // log q of this thread's 32 tile elements, element e at slq[e * 128 + tid]
    // (registers are the scarce resource here; each thread reads only its own)
    __shared__ float slq[32 * 128];
    constexpr bool kPbarSmem = D == 64;
    __shared__ float spb[kPbarSmem ? 32 * 128 : 1];
    const int warp = (int)threadIdx.x >> 5, lane = (int)threadIdx.x & 31;
    const int gq = lane >> 2, tq = lane & 3;
    const int s0 = (int)blockIdx.x * kDlTile;
    const int r0 = c0 + (int)blockIdx.y * kDlTile;
    const int r_end = r0 + kDlTile < c1 ? r0 + kDlTile : c1;
    if (s0 > r_end - 1) return;  // the tile lies above the diagonal (uniform, before barriers)
    float *const lq_of = slq + threadIdx.x;  // element e: lq_of[e * 128]
    const int tw = r0 + warp * 16;
    const int w_last = tw + 15 < r_end - 1 ? tw + 15 : r_end - 1;
    const bool wlive = tw < r_end && s0 <= w_last;
    const int ta = tw + gq, tb = ta + 8;
    const int grp = H / Hkv;
    const float invH = 1.0f / (float)H, inv_m = 1.0f / (float)n_served;

    DlPbar<kPbarSmem> pbar;
    if constexpr (kPbarSmem) pbar.base = spb + threadIdx.x;
    float p[8][4];
IC_UNROLL
    for (int nt = 0; nt < 8; nt++)
IC_UNROLL
        for (int r = 0; r < 4; r++) {
            const int t = r < 2 ? ta : tb, s = s0 + nt * 8 + 2 * tq + (r & 1);
            const bool ok = t < r_end && s <= t;
            lq_of[(nt * 4 + r) * 128] =
                ok ? B[(size_t)(t - c0) * (size_t)ld + s] - lseI[t - c0] : 0.0f;
            pbar.at(nt * 4 + r) = 0.0f;
        }
    double kla = 0.0, klb = 0.0, kba = 0.0, kbb = 0.0;

    for (int jj = 0; jj < n_served; jj++) {
        const __nv_bfloat16 *q = sv.q[jj], *k = sv.k[jj];
        const float *lse = sv.lse[jj];
IC_UNROLL
        for (int nt = 0; nt < 8; nt++)
IC_UNROLL
            for (int r = 0; r < 4; r++) p[nt][r] = 0.0f;
        for (int gh = 0; gh < Hkv; gh++) {
            __syncthreads();  // the previous group's ldmatrix reads of sk are done
            ic_stage_rows_bf16_n<D, kDlTile, 128>(sk, LDS, k + (size_t)gh * D, (size_t)Hkv * D,
                                                  s0, L);
            __syncthreads();
            if (!wlive) continue;
            for (int h = gh * grp; h < gh * grp + grp; h++) {
                const float la = ta < r_end ? lse[(size_t)h * L + ta] : 0.0f;
                const float lb = tb < r_end ? lse[(size_t)h * L + tb] : 0.0f;
                float acc[8][4];
IC_UNROLL
                for (int nt = 0; nt < 8; nt++)
IC_UNROLL
                    for (int r = 0; r < 4; r++) acc[nt][r] = 0.0f;
                // 64 of the head's dims at a time: caps the loads in flight
IC_UNROLL
                for (int dh = 0; dh < D / 64; dh++) {
                    uint32_t a[4][4];
                    ic_lda_rows_bf16_all<64>(a, q + (size_t)h * D + dh * 64, (size_t)H * D, tw,
                                             r_end, lane);
IC_UNROLL
                    for (int kk = 0; kk < 4; kk++)
IC_UNROLL
                        for (int np = 0; np < 4; np++) {
                            uint32_t b[4];
                            ic_ldb_nk(b, sk, LDS, np * 16, dh * 64 + kk * 16, lane);
                            ic_mma_m16n8k16_bf16_f32(acc[2 * np], a[kk], b, acc[2 * np]);
                            ic_mma_m16n8k16_bf16_f32(acc[2 * np + 1], a[kk], b + 2,
                                                     acc[2 * np + 1]);
                        }
                }
IC_UNROLL
                for (int nt = 0; nt < 8; nt++)
IC_UNROLL
                    for (int r = 0; r < 4; r++)
                        p[nt][r] += __expf(fmaf(acc[nt][r], scale, -(r < 2 ? la : lb)));
            }
        }
        if (!wlive) continue;
        // KL(p_j || q) terms and pbar; p_j's head average is complete here
        float fa = 0.0f, fb = 0.0f;
IC_UNROLL
        for (int nt = 0; nt < 8; nt++)
IC_UNROLL
            for (int r = 0; r < 4; r++) {
                const int t = r < 2 ? ta : tb, s = s0 + nt * 8 + 2 * tq + (r & 1);
                const float pj = t < r_end && s <= t ? p[nt][r] * invH : 0.0f;
                const float term =
                    pj > 0.0f ? pj * (__logf(pj) - lq_of[(nt * 4 + r) * 128]) : 0.0f;
                if (r < 2) fa += term; else fb += term;
                pbar.at(nt * 4 + r) = fmaf(pj, inv_m, pbar.at(nt * 4 + r));
            }
        kla += (double)fa * (double)inv_m;
        klb += (double)fb * (double)inv_m;
    }

    if (wlive) {
        float fa = 0.0f, fb = 0.0f;
IC_UNROLL
        for (int nt = 0; nt < 8; nt++)
IC_UNROLL
            for (int r = 0; r < 4; r++) {
                const int t = r < 2 ? ta : tb, s = s0 + nt * 8 + 2 * tq + (r & 1);
                if (!(t < r_end && s <= t)) continue;
                const float pb = pbar.at(nt * 4 + r), lq = lq_of[(nt * 4 + r) * 128];
                const float term = pb > 0.0f ? pb * (__logf(pb) - lq) : 0.0f;
                if (r < 2) fa += term; else fb += term;
                B[(size_t)(t - c0) * (size_t)ld + s] = __expf(lq) - pb;  // g = q - pbar
            }
        kba = (double)fa;
        kbb = (double)fb;
    }
    // the quad's partial sums in a fixed butterfly order, by every lane
    for (int o = 1; o <= 2; o <<= 1) {
        kla += __shfl_xor_sync(0xffffffffu, kla, o);
        klb += __shfl_xor_sync(0xffffffffu, klb, o);
        kba += __shfl_xor_sync(0xffffffffu, kba, o);
        kbb += __shfl_xor_sync(0xffffffffu, kbb, o);
    }
    if (tq == 0) {
        const size_t base = (size_t)blockIdx.x * (size_t)pstride;
        if (ta < r_end) { part_loss[base + (ta - c0)] = kla; part_kl[base + (ta - c0)] = kba; }
        if (tb < r_end) { part_loss[base + (tb - c0)] = klb; part_kl[base + (tb - c0)] = kbb; }
    }
}

// row_loss[t] = sum over the key tiles kt <= t / 64 of the tile partials, in order.
__global__ void __launch_bounds__(256)
distill_row_sum_kernel(double *__restrict__ row_loss, double *__restrict__ row_kl,
                       const double *__restrict__ part_loss, const double *__restrict__ part_kl,
                       int pstride, int c0, int c1) {
    const int t = c0 + (int)(blockIdx.x * blockDim.x + threadIdx.x);
    if (t >= c1) return;
    double a = 0.0, b = 0.0;
    for (int kt = 0; kt <= t / kDlTile; kt++) {
        a += part_loss[(size_t)kt * pstride + (t - c0)];
        b += part_kl[(size_t)kt * pstride + (t - c0)];
    }
    row_loss[t] = a;
    row_kl[t] = b;
}

// res[0] = sum_t row_loss[t], res[1] = sum_t row_kl[t]: one block, fixed tree.
__global__ void __launch_bounds__(256)
distill_total_kernel(double *__restrict__ res, const double *__restrict__ row_loss,
                     const double *__restrict__ row_kl, int L) {
    __shared__ double sh[32];
    double a = 0.0, b = 0.0;
    for (int t = (int)threadIdx.x; t < L; t += (int)blockDim.x) { a += row_loss[t]; b += row_kl[t]; }
    a = ic_block_sum(a, sh);
    b = ic_block_sum(b, sh);
    if (threadIdx.x == 0) { res[0] = a; res[1] = b; }
}

struct DlLayout {
    float *B, *lseI, *part_dk;
    double *part_loss, *part_kl, *row_loss, *row_kl, *res;
    __nv_bfloat16 *qb, *kb;    // the served q, k as bf16, layer after layer
    __nv_bfloat16 *qIb, *kIb;  // qI, kI as bf16 (for the backward's tiles)
};

// Chunk height: desc->row_block rounded up to whole tiles, 0 = kDlChunk.
static int dl_chunk(const ic_distill_desc *d) {
    int C = d->row_block > 0 ? (d->row_block + kDlTile - 1) / kDlTile * kDlTile : kDlChunk;
    return d->L < C ? d->L : C;
}

// The workspace pieces in order (ctx NULL: sizes only). The bf16 copies of
// the served q, k take n_served layers; the size query reserves
// desc->max_served of them (8 when it is 0).
static size_t dl_layout(ic_ctx *ctx, DlLayout *lay, const ic_distill_desc *d, int n_served) {
    const size_t L = (size_t)d->L, C = (size_t)dl_chunk(d);
    const size_t T = (L + kDlTile - 1) / kDlTile;
    const size_t ns = (size_t)n_served, hd = (size_t)d->head_dim;
    const size_t nqI = L * (size_t)d->n_idx_heads * (size_t)d->idx_head_dim;
    const size_t sz[12] = {
        4 * C * L, 4 * C, 8 * T * C, 8 * T * C, 8 * L, 8 * L, 16,
        isc_bwd_part_bytes(d->L, d->n_idx_heads, d->idx_head_dim),
        2 * ns * L * (size_t)d->n_heads * hd, 2 * ns * L * (size_t)d->n_kv_heads * hd,
        2 * nqI, 2 * L * (size_t)d->idx_head_dim,
    };
    size_t total = 0;
    void *p[12];
    for (int i = 0; i < 12; i++) {
        total += ic_ws_round(sz[i]);
        p[i] = ctx ? ic_ws_alloc(ctx, sz[i], "distill loss (CUDA)") : NULL;
    }
    if (lay) {
        lay->B = (float *)p[0];
        lay->lseI = (float *)p[1];
        lay->part_loss = (double *)p[2];
        lay->part_kl = (double *)p[3];
        lay->row_loss = (double *)p[4];
        lay->row_kl = (double *)p[5];
        lay->res = (double *)p[6];
        lay->part_dk = (float *)p[7];
        lay->qb = (__nv_bfloat16 *)p[8];
        lay->kb = (__nv_bfloat16 *)p[9];
        lay->qIb = (__nv_bfloat16 *)p[10];
        lay->kIb = (__nv_bfloat16 *)p[11];
    }
    return total;
}

static void dl_check(const ic_distill_desc *d, int n_served) {
    IC_ASSERT(d && d->stage == IC_DISTILL_DENSE && d->L >= 1);
    if (d->idx_head_dim != 64 && d->idx_head_dim != 128)
        IC_FATAL("distill loss (CUDA): indexer head dim d_I = %d; the kernels take 64 or 128",
                 d->idx_head_dim);
    if (d->head_dim != 64 && d->head_dim != 128)
        IC_FATAL("distill loss (CUDA): teacher head dim d = %d; the kernels take 64 or 128",
                 d->head_dim);
    if (n_served < 1 || n_served > kDlMaxServed)
        IC_FATAL("distill loss (CUDA): %d served layers; the kernel takes 1..%d", n_served,
                 kDlMaxServed);
    IC_ASSERT(d->n_heads >= 1 && d->n_kv_heads >= 1 && d->n_heads % d->n_kv_heads == 0);
}

static void dl_run(ic_ctx *ctx, const ic_distill_desc *d, const float *qI, const float *kI,
                   const float *w, const ic_distill_teacher *served, int n_served, float *dqI,
                   float *dkI, float *dw, int want_grad, ic_distill_stats *out) {
    dl_check(d, n_served);
    const int L = d->L, HI = d->n_idx_heads, dI = d->idx_head_dim, D = d->head_dim;
    const int C = dl_chunk(d);
    const size_t mark = ic_ws_mark(ctx);
    DlLayout lay;
    dl_layout(ctx, &lay, d, n_served);
    DlServed sv;
    memset(&sv, 0, sizeof sv);
    const size_t nq = (size_t)L * d->n_heads * D, nk = (size_t)L * d->n_kv_heads * D;
    for (int j = 0; j < n_served; j++) {
        // the rounding the staging did per tile, once (the copies are 16-byte
        // aligned workspace blocks, rows of D in {64, 128} elements)
        ic_attention_f32_to_bf16_cuda(ctx, lay.qb + (size_t)j * nq, served[j].q, nq);
        ic_attention_f32_to_bf16_cuda(ctx, lay.kb + (size_t)j * nk, served[j].k, nk);
        sv.q[j] = lay.qb + (size_t)j * nq;
        sv.k[j] = lay.kb + (size_t)j * nk;
        sv.lse[j] = served[j].lse;
    }
    const float scale = 1.0f / sqrtf((float)D);
    if (!want_grad) dqI = dkI = dw = NULL;
    if (dqI || dkI || dw) {  // the backward tiles' bf16 operands, rounded once
        ic_attention_f32_to_bf16_cuda(ctx, lay.qIb, qI, (size_t)L * HI * dI);
        ic_attention_f32_to_bf16_cuda(ctx, lay.kIb, kI, (size_t)L * dI);
    }

    for (int c0 = 0; c0 < L; c0 += C) {
        const int c1 = c0 + C < L ? c0 + C : L, rows = c1 - c0, ld = c1;
        ic_indexer_scores_forward_cuda(ctx, IC_F32, lay.B, ld, qI, kI, w, L, HI, dI, c0, c1);
        IC_LAUNCH(distill_row_lse_kernel, (unsigned)((rows + 3) / 4), 128u, 0, ctx->stream,
                  lay.lseI, lay.B, ld, c0, c1);
        const dim3 grid((unsigned)((c1 + kDlTile - 1) / kDlTile),
                        (unsigned)((rows + kDlTile - 1) / kDlTile), 1);
        if (D == 64)
            IC_LAUNCH(distill_dense_tile_kernel<64>, grid, 128u, 0, ctx->stream, lay.B, ld,
                      lay.lseI, lay.part_loss, lay.part_kl, C, sv, n_served, L, d->n_heads,
                      d->n_kv_heads, c0, c1, scale);
        else
            IC_LAUNCH(distill_dense_tile_kernel<128>, grid, 128u, 0, ctx->stream, lay.B, ld,
                      lay.lseI, lay.part_loss, lay.part_kl, C, sv, n_served, L, d->n_heads,
                      d->n_kv_heads, c0, c1, scale);
        IC_LAUNCH(distill_row_sum_kernel, (unsigned)((rows + 255) / 256), 256u, 0, ctx->stream,
                  lay.row_loss, lay.row_kl, lay.part_loss, lay.part_kl, C, c0, c1);
        isc_bwd_dqdw_launch(ctx, dqI, dw, lay.B, ld, lay.qIb, lay.kIb, w, L, HI, dI, c0, c1);
        if (dkI) {
            isc_bwd_dk_launch(ctx, lay.part_dk, lay.B, ld, lay.qIb, lay.kIb, w, L, HI, dI, c0,
                              c1);
            isc_bwd_dk_reduce_launch(ctx, dkI, lay.part_dk, HI, dI, c1);
        }
    }
    IC_LAUNCH(distill_total_kernel, 1u, 256u, 0, ctx->stream, lay.res, lay.row_loss, lay.row_kl,
              L);
    double res[2];
    cuda_check(cudaMemcpyAsync(res, lay.res, sizeof res, cudaMemcpyDeviceToHost,
                               (cudaStream_t)ctx->stream));
    cuda_check(cudaStreamSynchronize((cudaStream_t)ctx->stream));
    out->loss = res[0];
    out->kl_pbar = res[1];
    out->n_tokens = L;
    ic_ws_release(ctx, mark);
}

}  // namespace ic_cuda

using namespace ic_cuda;

extern "C" size_t ic_distill_loss_dense_workspace_bytes_cuda(const ic_ctx *ctx,
                                                             const ic_distill_desc *desc) {
    (void)ctx;
    IC_ASSERT(desc && desc->L >= 1);
    return dl_layout(NULL, NULL, desc, desc->max_served > 0 ? desc->max_served : 8);
}

extern "C" int ic_distill_loss_dense_forward_cuda(ic_ctx *ctx, const ic_distill_desc *desc,
                                                  const float *qI, const float *kI,
                                                  const float *w,
                                                  const ic_distill_teacher *served,
                                                  int n_served, ic_distill_stats *out,
                                                  ic_error *err) {
    (void)err;
    dl_run(ctx, desc, qI, kI, w, served, n_served, NULL, NULL, NULL, 0, out);
    return 0;
}

extern "C" int ic_distill_loss_dense_backward_cuda(ic_ctx *ctx, const ic_distill_desc *desc,
                                                   const float *qI, const float *kI,
                                                   const float *w,
                                                   const ic_distill_teacher *served,
                                                   int n_served, float *dqI, float *dkI,
                                                   float *dw, ic_distill_stats *out,
                                                   ic_error *err) {
    (void)err;
    dl_run(ctx, desc, qI, kI, w, served, n_served, dqI, dkI, dw, 1, out);
    return 0;
}
