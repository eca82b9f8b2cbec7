// CUDA distillation loss, sparse stage (kernels/ic_distill_loss.h, DESIGN.md
// section 3; same contract as kernels/cpu/distill_loss.c's sparse path):
// per query row t everything is restricted to T_t = idx[t, :cnt[t]].
//
//  1. dls_row_kernel, one block of 128 threads per row t. Thread `tid` owns
//     the slots c = m * 128 + tid (m < MS, MS = ceil(min(K, L) / 128), a
//     template: 1..16); their state (key index, log q, pbar -> g, p_j) stays
//     in registers. Per owned slot it gathers kI[s] (16-byte loads) and forms
//     the H_I dot products a = qI[t,h].kI[s], 16 heads at a time (qI[t] is
//     read with warp-uniform loads, a broadcast), I = sum_h w ReLU(a); the indexer's
//     row LSE by a block max and a block sum (in double, as the CPU).
//     Per served layer and head: the scores q_h[t].k_g(h)[s]/sqrt(d) of the
//     owned slots, block max, block sum of exp, p += e / sum; then the KL
//     terms in double. Row terms go to row_loss[t], row_kl[t].
//     The backward variant then walks the slots again in chunks of 128:
//     recomputes a, dw partials (warp butterfly sums, per warp in shared
//     memory), da = g w [a > 0] into shared DA [H_I][128]; each slot's dkI
//     contribution v = sum_h da_h qI[t,h] (da from the thread's own DA
//     column) goes to a fixed-point accumulator
//     (below); then dqI[t] += DA . kI[T_t chunk] with threads over
//     (8 heads, one dim), which read kI coalesced and DA by broadcast.
//     dqI[t] and dw[t] belong to row t's block alone: plain += in a fixed order.
//  2. dls_sum_kernel: sum over rows of row_loss, row_kl in a fixed order.
//
// dkI and determinism. dkI[s] collects contributions of every row whose set
// holds s, from different blocks, so a float sum would depend on the order
// the blocks run in. The contributions are added instead as int64 fixed
// point with integer atomics (integer addition is associative: same bits
// whatever the order), then dls_fix_finish_kernel adds acc / scale to dkI.
// The scale: one contribution element is |v_i| = |g| |sum_h w_h [a>0] qI_hi|
// <= C = max_t sum_h |w[t,h]| max_i |qI[t,h,i]| (|g| = |q - pbar| <= 1), and
// key s receives at most one contribution per row, so |dkI_s,i| <= L * C.
// dls_bound_kernel computes C (atomicMax on the float's bits, exact);
// scale = 2^E with E = 62 - (e(C) + 1 + ceil(log2 L)), where C < 2^(e(C)+1):
// no accumulator can pass 2^62 (half the int64 range as margin for float
// rounding of v and C). Each contribution is rounded to the nearest unit,
// so the added error is <= 0.5 * L units = 0.5 * L * 2^-E ~ L^2 C 2^-63
// (2^-29 C at L = 128K): far below fp32's own rounding of dkI. The
// alternative, a CSR of pairs by key in t order (a deterministic stable
// sort) with a per-key summation kernel, needs a segmented sort whose
// segments reach length L (attention-sink keys): more code for the same
// determinism.
//
// Memory (workspace): 2 L doubles (row terms) + L d_I int64 (the dkI
// accumulator, backward only) + 24 bytes: O(L * d_I); nothing L x L or
// L x K x anything. Shapes: H_I <= 64, K <= 2048, n_served <= 8, d_I and d
// multiples of 4 with 16-byte aligned qI, kI, q, k (asserted); any L.
// Arithmetic fp32 (fmaf), exponent sums and KL terms in double.
#include "kernels/cuda/ic_cuda_rt.cuh"
#include "kernels/cuda/ic_cuda_util.cuh"

#include <string.h>

extern "C" {
#include "core/ic_ctx.h"
#include "kernels/ic_cuda_ops.h"
#include "kernels/ic_distill_loss.h"
}

// nvcc unrolls the loops over a thread's slots and heads (register arrays);
// the loops over d_I, d and a chunk's slots stay rolled (DLS_ROLLED): unrolled,
// nvcc hoists the loads of several iterations for every head and spills.
// The emulator's host compiler needs no hint.
#ifdef __CUDACC__
#define DLS_UNROLL _Pragma("unroll")
#define DLS_ROLLED _Pragma("unroll 1")
#else
#define DLS_UNROLL
#define DLS_ROLLED
#endif

namespace ic_cuda {  // named, so the mangled kernel names are stable

const int kDlsThreads = 128;  // = the row kernel's __launch_bounds__ (min 1 block/SM: up to 255 registers)
const int kDlsWarps = kDlsThreads / 32;
const int kDlsMaxServed = IC_DISTILL_CUDA_MAX_SERVED;  // launch parameters: 1 KiB
const int kDlsMaxHI = IC_DISTILL_CUDA_SPARSE_MAX_HI;
const int kDlsMaxK = IC_DISTILL_CUDA_SPARSE_MAX_K;
const int kDlsHB = 16;  // indexer heads a thread holds at once

struct dls_args {
    const float *qI, *kI, *w;                       // [L,H_I,d_I] [L,d_I] [L,H_I]
    const int32_t *idx, *cnt;                       // [L,K] [L]
    const float *tq[kDlsMaxServed], *tk[kDlsMaxServed];  // [L,H,d] [L,Hkv,d]
    int L, HI, dI, H, Hkv, d, K, n_served, log2L;
    double *row_loss, *row_kl;                      // [L]
    float *dqI, *dw;                                // NULL: not wanted
    unsigned long long *fix;                        // [L,d_I] dkI fixed point; NULL: not wanted
    const unsigned *cbound;                         // bits of C (backward)
};

__device__ __forceinline__ float dls_neg_inf(void) { return __int_as_float((int)0xff800000u); }
// The CPU's relu_f: exact, and the same bits as the reference.
__device__ __forceinline__ float dls_relu(float x) { return 0.5f * (x + fmaxf(x, -x)); }

__device__ __forceinline__ ic_pack<float> dls_ld4(const float *p) {
    return *reinterpret_cast<const ic_pack<float> *>(p);
}

__device__ __forceinline__ float dls_warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}
// Butterfly: every lane gets the same bits (each step adds a pair commutatively).
__device__ __forceinline__ float dls_warp_sumf(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ float dls_block_max(float v, float *sh) {
    const int lane = (int)(threadIdx.x & 31u), w = (int)(threadIdx.x >> 5);
    v = dls_warp_max(v);
    if (lane == 0) sh[w] = v;
    __syncthreads();
    v = sh[0];
    for (int i = 1; i < kDlsWarps; i++) v = fmaxf(v, sh[i]);
    __syncthreads();
    return v;
}

// acc[r] = qI[t, h0 + r] . krow for h0 + r < HI (qt = qI[t]), 0 past HI.
// 16 heads a batch: the 16 chains give the ILP, and nvcc keeps the batch's
// loads in registers (64 heads at once hoisted 256 loads and spilled).
__device__ __forceinline__ void dls_idx_dots(float (&acc)[kDlsHB], const float *qt,
                                             const float *krow, int h0, int HI, int dI) {
    DLS_UNROLL
    for (int r = 0; r < kDlsHB; r++) acc[r] = 0.0f;
    DLS_ROLLED
    for (int i = 0; i < dI; i += 4) {
        const ic_pack<float> k4 = dls_ld4(krow + i);
        DLS_UNROLL
        for (int r = 0; r < kDlsHB; r++) {
            if (h0 + r < HI) {
                const ic_pack<float> q4 = dls_ld4(qt + (size_t)(h0 + r) * dI + i);
                float x = acc[r];
                x = fmaf(q4.v[0], k4.v[0], x);
                x = fmaf(q4.v[1], k4.v[1], x);
                x = fmaf(q4.v[2], k4.v[2], x);
                acc[r] = fmaf(q4.v[3], k4.v[3], x);
            }
        }
    }
}

__device__ __forceinline__ float dls_dot(const float *a, const float *b, int n) {
    float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
    DLS_ROLLED
    for (int i = 0; i < n; i += 4) {
        const ic_pack<float> x = dls_ld4(a + i), y = dls_ld4(b + i);
        s0 = fmaf(x.v[0], y.v[0], s0);
        s1 = fmaf(x.v[1], y.v[1], s1);
        s2 = fmaf(x.v[2], y.v[2], s2);
        s3 = fmaf(x.v[3], y.v[3], s3);
    }
    return (s0 + s1) + (s2 + s3);
}

// 2^E for the accumulator (see the header comment); the same in every block.
__device__ __forceinline__ float dls_fix_scale(unsigned cbits, int log2L) {
    const int ec = (int)((cbits >> 23) & 255u) - 127;  // C < 2^(ec + 1)
    int E = 62 - (ec + 1 + log2L);
    if (E > 100) E = 100;  // tiny C: any smaller scale is as safe
    if (E < -100) E = -100;
    return __int_as_float((E + 127) << 23);
}

__device__ __forceinline__ unsigned long long dls_to_fix(float v, float sc) {
    const double y = (double)v * (double)sc;  // exact: sc is a power of two
    const long long q = (long long)(y >= 0.0 ? y + 0.5 : y - 0.5);
    return (unsigned long long)q;
}

template <int MS, bool GRAD>
__global__ void __launch_bounds__(128, 1) dls_row_kernel(dls_args a) {
    __shared__ double red[32];
    __shared__ float redf[32];
    __shared__ float dwacc[kDlsWarps][kDlsMaxHI];
    __shared__ int sidx[kDlsThreads];
    IC_DYN_SMEM(float, DA);  // [HI][kDlsThreads], backward only

    const int tid = (int)threadIdx.x, lane = tid & 31, wp = tid >> 5;
    const int t = (int)blockIdx.x, HI = a.HI, dI = a.dI;
    const int n = a.cnt[t];
    const int32_t *ids = a.idx + (size_t)t * a.K;
    const float *qt = a.qI + (size_t)t * HI * dI;
    const float *wt = a.w + (size_t)t * HI;

    int sid[MS];
    float lq[MS], gp[MS], P[MS];
DLS_UNROLL
    for (int m = 0; m < MS; m++) {
        const int c = m * kDlsThreads + tid;
        sid[m] = c < n ? ids[c] : -1;
    }

    // 1. indexer scores over T_t and their log-softmax
    float mx = dls_neg_inf();
DLS_UNROLL
    for (int m = 0; m < MS; m++) {
        lq[m] = 0.0f;
        gp[m] = 0.0f;
        if (sid[m] >= 0) {
            const float *kr = a.kI + (size_t)sid[m] * dI;
            float I = 0.0f;
            DLS_ROLLED
            for (int h0 = 0; h0 < HI; h0 += kDlsHB) {
                float acc[kDlsHB];
                dls_idx_dots(acc, qt, kr, h0, HI, dI);
                DLS_UNROLL
                for (int r = 0; r < kDlsHB; r++)
                    if (h0 + r < HI) I += wt[h0 + r] * dls_relu(acc[r]);
            }
            lq[m] = I;
            mx = fmaxf(mx, I);
        }
    }
    mx = dls_block_max(mx, redf);
    double se = 0.0;
DLS_UNROLL
    for (int m = 0; m < MS; m++)
        if (sid[m] >= 0) se += (double)expf(lq[m] - mx);
    se = ic_block_sum(se, red);
    const float lse = mx + logf((float)se);
DLS_UNROLL
    for (int m = 0; m < MS; m++) lq[m] -= lse;

    // 2. each served layer's head-averaged sparse attention p_j over T_t
    const int grp = a.H / a.Hkv, d = a.d;
    const float scale = 1.0f / sqrtf((float)d), invH = 1.0f / (float)a.H;
    const float inv_m = 1.0f / (float)a.n_served;
    double loss = 0.0;
    DLS_ROLLED
    for (int j = 0; j < a.n_served; j++) {
        const float *tq = a.tq[j] + (size_t)t * a.H * d, *tk = a.tk[j];
DLS_UNROLL
        for (int m = 0; m < MS; m++) P[m] = 0.0f;
        DLS_ROLLED
        for (int h = 0; h < a.H; h++) {
            const float *qh = tq + (size_t)h * d;
            const int g = h / grp;
            float S[MS], hm = dls_neg_inf();
DLS_UNROLL
            for (int m = 0; m < MS; m++) {
                S[m] = 0.0f;
                if (sid[m] >= 0) {
                    S[m] = scale * dls_dot(qh, tk + ((size_t)sid[m] * a.Hkv + g) * d, d);
                    hm = fmaxf(hm, S[m]);
                }
            }
            hm = dls_block_max(hm, redf);
            double hs = 0.0;
DLS_UNROLL
            for (int m = 0; m < MS; m++)
                if (sid[m] >= 0) {
                    S[m] = expf(S[m] - hm);
                    hs += (double)S[m];
                }
            hs = ic_block_sum(hs, red);
            const float inv = (float)(1.0 / hs);
DLS_UNROLL
            for (int m = 0; m < MS; m++)
                if (sid[m] >= 0) P[m] += S[m] * inv;
        }
        double kl = 0.0;
DLS_UNROLL
        for (int m = 0; m < MS; m++)
            if (sid[m] >= 0) {
                const float p = P[m] * invH;
                if (p > 0.0f) kl += (double)p * ((double)logf(p) - (double)lq[m]);
                gp[m] += p * inv_m;
            }
        loss += kl * inv_m;
    }

    // 3. KL(pbar || q) and g = q - pbar
    double klb = 0.0;
DLS_UNROLL
    for (int m = 0; m < MS; m++)
        if (sid[m] >= 0) {
            const float pb = gp[m];
            if (pb > 0.0f) klb += (double)pb * ((double)logf(pb) - (double)lq[m]);
            gp[m] = expf(lq[m]) - pb;
        }
    loss = ic_block_sum(loss, red);
    klb = ic_block_sum(klb, red);
    if (tid == 0) {
        a.row_loss[t] = loss;
        a.row_kl[t] = klb;
    }
    if (!GRAD) return;

    // 4. the indexer score backward, chunk by chunk of 128 slots
    const float fsc = a.fix ? dls_fix_scale(*a.cbound, a.log2L) : 1.0f;
    if (lane == 0)
        for (int h = 0; h < HI; h++) dwacc[wp][h] = 0.0f;
    const int nhb = (HI + 7) / 8;
DLS_UNROLL
    for (int m = 0; m < MS; m++) {
        const int c0 = m * kDlsThreads;
        if (c0 < n) {  // uniform over the block
            const int s = sid[m];
            const float g = s >= 0 ? gp[m] : 0.0f;
            DLS_ROLLED
            for (int h0 = 0; h0 < HI; h0 += kDlsHB) {
                float acc[kDlsHB];
                if (s >= 0) {
                    dls_idx_dots(acc, qt, a.kI + (size_t)s * dI, h0, HI, dI);
                } else {
                    DLS_UNROLL
                    for (int r = 0; r < kDlsHB; r++) acc[r] = 0.0f;
                }
                DLS_UNROLL
                for (int r = 0; r < kDlsHB; r++) {
                    const int h = h0 + r;
                    if (h < HI) {
                        const float rs = dls_warp_sumf(g * dls_relu(acc[r]));
                        if (lane == 0) dwacc[wp][h] += rs;
                        // da = g w [a > 0], 0 off the set; this thread's column of DA
                        DA[h * kDlsThreads + tid] = (float)(acc[r] > 0.0f) * (g * wt[h]);
                    }
                }
            }
            sidx[tid] = s;
            if (s >= 0 && a.fix) {
                unsigned long long *dst = a.fix + (size_t)s * dI;
                DLS_ROLLED
                for (int i = 0; i < dI; i += 4) {
                    float v0 = 0.0f, v1 = 0.0f, v2 = 0.0f, v3 = 0.0f;
                    DLS_ROLLED
                    for (int h = 0; h < HI; h++) {
                        const float da = DA[h * kDlsThreads + tid];
                        const ic_pack<float> q4 = dls_ld4(qt + (size_t)h * dI + i);
                        v0 = fmaf(da, q4.v[0], v0);
                        v1 = fmaf(da, q4.v[1], v1);
                        v2 = fmaf(da, q4.v[2], v2);
                        v3 = fmaf(da, q4.v[3], v3);
                    }
                    atomicAdd(dst + i, dls_to_fix(v0, fsc));
                    atomicAdd(dst + i + 1, dls_to_fix(v1, fsc));
                    atomicAdd(dst + i + 2, dls_to_fix(v2, fsc));
                    atomicAdd(dst + i + 3, dls_to_fix(v3, fsc));
                }
            }
            __syncthreads();
            if (a.dqI) {
                // slots past n carry da = 0 and no key; round up to 4 columns
                const int nch = n - c0 < kDlsThreads ? n - c0 : kDlsThreads;
                const int nc4 = (nch + 3) & ~3;
                DLS_ROLLED
                for (int item = tid; item < nhb * dI; item += kDlsThreads) {
                    const int i = item % dI, h0 = (item / dI) * 8;
                    float o[8];
DLS_UNROLL
                    for (int r = 0; r < 8; r++) o[r] = 0.0f;
                    DLS_ROLLED
                    for (int c = 0; c < nc4; c += 4) {
                        float k[4];
DLS_UNROLL
                        for (int e = 0; e < 4; e++) {
                            const int sk = sidx[c + e];
                            k[e] = sk >= 0 ? a.kI[(size_t)sk * dI + i] : 0.0f;
                        }
DLS_UNROLL
                        for (int r = 0; r < 8; r++) {
                            if (h0 + r < HI) {
                                const ic_pack<float> d4 =
                                    *reinterpret_cast<const ic_pack<float> *>(
                                        DA + (h0 + r) * kDlsThreads + c);
                                float x = o[r];
                                x = fmaf(d4.v[0], k[0], x);
                                x = fmaf(d4.v[1], k[1], x);
                                x = fmaf(d4.v[2], k[2], x);
                                o[r] = fmaf(d4.v[3], k[3], x);
                            }
                        }
                    }
                    float *dq = a.dqI + (size_t)t * HI * dI + i;
DLS_UNROLL
                    for (int r = 0; r < 8; r++)
                        if (h0 + r < HI) dq[(size_t)(h0 + r) * dI] += o[r];
                }
            }
            __syncthreads();  // DA and sidx are rewritten by the next chunk
        }
    }
    if (a.dw)
        for (int h = tid; h < HI; h += kDlsThreads) {
            float s = dwacc[0][h];
            for (int w2 = 1; w2 < kDlsWarps; w2++) s += dwacc[w2][h];
            a.dw[(size_t)t * HI + h] += s;
        }
}

// C = max_t sum_h |w[t,h]| max_i |qI[t,h,i]|, one warp per row; the float
// bits of non-negative values order like the values, so atomicMax is exact.
__global__ void __launch_bounds__(128)
dls_bound_kernel(const float *__restrict__ qI, const float *__restrict__ w, int L, int HI, int dI,
                 unsigned *cb) {
    const int lane = (int)(threadIdx.x & 31u);
    const int gw = (int)((blockIdx.x * blockDim.x + threadIdx.x) >> 5);
    const int nw = (int)((gridDim.x * blockDim.x) >> 5);
    for (int t = gw; t < L; t += nw) {  // uniform over the warp
        float c = 0.0f;
        for (int h = 0; h < HI; h++) {
            const float *q = qI + ((size_t)t * HI + h) * dI;
            float m = 0.0f;
            for (int i = lane; i < dI; i += 32) m = fmaxf(m, fmaxf(q[i], -q[i]));
            m = dls_warp_max(m);
            const float wv = w[(size_t)t * HI + h];
            c += fmaxf(wv, -wv) * m;
        }
        if (lane == 0) atomicMax(cb, __float_as_uint(c));
    }
}

// dkI += acc / scale (NaN when C is not finite: a non-finite input).
__global__ void __launch_bounds__(256)
dls_fix_finish_kernel(float *__restrict__ dkI, const unsigned long long *__restrict__ fix,
                      size_t n, const unsigned *cb, int log2L) {
    const unsigned cbits = *cb;
    const double inv = 1.0 / (double)dls_fix_scale(cbits, log2L);
    const bool bad = (cbits & 0x7f800000u) == 0x7f800000u;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        const float v = (float)((double)(long long)fix[i] * inv);
        dkI[i] += bad ? ic_qnan() : v;
    }
}

// out[0] = sum_t row_loss[t], out[1] = sum_t row_kl[t]: one block, fixed order.
__global__ void __launch_bounds__(256)
dls_sum_kernel(const double *__restrict__ rl, const double *__restrict__ rk, int L, double *out) {
    __shared__ double sh[32];
    double x = 0.0, y = 0.0;
    for (int t = (int)threadIdx.x; t < L; t += (int)blockDim.x) {
        x += rl[t];
        y += rk[t];
    }
    x = ic_block_sum(x, sh);
    y = ic_block_sum(y, sh);
    if (threadIdx.x == 0) {
        out[0] = x;
        out[1] = y;
    }
}

template <int MS>
static void dls_launch_row(ic_ctx *ctx, const dls_args &a, bool grad) {
    if (grad) {
        const size_t smem = sizeof(float) * (size_t)a.HI * kDlsThreads;
        IC_LAUNCH((dls_row_kernel<MS, true>), (unsigned)a.L, kDlsThreads, smem, ctx->stream, a);
    } else {
        IC_LAUNCH((dls_row_kernel<MS, false>), (unsigned)a.L, kDlsThreads, 0, ctx->stream, a);
    }
}

static void dls_launch_ms(ic_ctx *ctx, const dls_args &a, bool grad, int ms) {
    switch (ms) {
    case 1: dls_launch_row<1>(ctx, a, grad); break;
    case 2: dls_launch_row<2>(ctx, a, grad); break;
    case 4: dls_launch_row<4>(ctx, a, grad); break;
    case 8: dls_launch_row<8>(ctx, a, grad); break;
    default: dls_launch_row<16>(ctx, a, grad); break;
    }
}

static int dls_aligned(const void *p) { return ic_aligned16(p); }

static size_t dls_workspace(const ic_distill_desc *d) {
    const size_t L = (size_t)d->L;
    return 2 * ic_ws_round(L * sizeof(double)) + ic_ws_round(2 * sizeof(double)) +
           ic_ws_round(sizeof(unsigned)) +
           ic_ws_round(L * (size_t)d->idx_head_dim * sizeof(unsigned long long));
}

static int dls_run(ic_ctx *ctx, const ic_distill_desc *d, const float *qI, const float *kI,
                   const float *w, const ic_distill_teacher *served, int n_served, float *dqI,
                   float *dkI, float *dw, int want_grad, ic_distill_stats *out) {
    IC_ASSERT(ctx && d && qI && kI && w && served && out);
    IC_ASSERT(d->stage == IC_DISTILL_SPARSE && d->idx && d->cnt);
    const int L = d->L, HI = d->n_idx_heads, dI = d->idx_head_dim;
    if (n_served < 1 || n_served > kDlsMaxServed)
        IC_FATAL("distill loss (CUDA, sparse): n_served %d outside 1..%d", n_served,
                 kDlsMaxServed);
    if (HI < 1 || HI > kDlsMaxHI)
        IC_FATAL("distill loss (CUDA, sparse): %d indexer heads, at most %d", HI, kDlsMaxHI);
    if (d->topk < 1 || d->topk > kDlsMaxK)
        IC_FATAL("distill loss (CUDA, sparse): topk %d outside 1..%d", d->topk, kDlsMaxK);
    if (dI % 4 || d->head_dim % 4)
        IC_FATAL("distill loss (CUDA, sparse): d_I %d and d %d must be multiples of 4", dI,
                 d->head_dim);
    IC_ASSERT(L >= 1 && d->n_heads >= 1 && d->n_kv_heads >= 1 &&
              d->n_heads % d->n_kv_heads == 0);
    int ok = dls_aligned(qI) && dls_aligned(kI);
    for (int j = 0; j < n_served; j++)
        ok = ok && served[j].q && served[j].k && dls_aligned(served[j].q) &&
             dls_aligned(served[j].k);
    if (!ok) IC_FATAL("distill loss (CUDA, sparse): qI, kI, q, k must be 16-byte aligned");

    dls_args a;
    memset(&a, 0, sizeof a);
    a.qI = qI; a.kI = kI; a.w = w; a.idx = d->idx; a.cnt = d->cnt;
    for (int j = 0; j < n_served; j++) { a.tq[j] = served[j].q; a.tk[j] = served[j].k; }
    a.L = L; a.HI = HI; a.dI = dI; a.H = d->n_heads; a.Hkv = d->n_kv_heads; a.d = d->head_dim;
    a.K = d->topk; a.n_served = n_served;
    a.log2L = 0;
    while ((1ll << a.log2L) < (long long)L) a.log2L++;
    const bool grad = want_grad && (dqI || dkI || dw);

    const size_t mark = ic_ws_mark(ctx);
    a.row_loss = (double *)ic_ws_alloc(ctx, (size_t)L * sizeof(double), "distill loss (CUDA)");
    a.row_kl = (double *)ic_ws_alloc(ctx, (size_t)L * sizeof(double), "distill loss (CUDA)");
    double *sums = (double *)ic_ws_alloc(ctx, 2 * sizeof(double), "distill loss (CUDA)");
    unsigned *cb = (unsigned *)ic_ws_alloc(ctx, sizeof(unsigned), "distill loss (CUDA)");
    cudaStream_t st = (cudaStream_t)ctx->stream;
    if (grad) {
        a.dqI = dqI;
        a.dw = dw;
        a.cbound = cb;
        if (dkI) {
            const size_t nf = (size_t)L * dI;
            a.fix = (unsigned long long *)ic_ws_alloc(ctx, nf * sizeof(unsigned long long),
                                                      "distill loss (CUDA)");
            cuda_check(cudaMemsetAsync(a.fix, 0, nf * sizeof(unsigned long long), st));
            cuda_check(cudaMemsetAsync(cb, 0, sizeof(unsigned), st));
            IC_LAUNCH(dls_bound_kernel, ic_grid_for((size_t)L, 4), 128, 0, st, qI, w, L, HI,
                      dI, cb);
        }
    }
    const int slots = d->topk < L ? d->topk : L;
    int ms = 1;
    while (ms * kDlsThreads < slots) ms <<= 1;
    dls_launch_ms(ctx, a, grad, ms);
    if (a.fix) {
        const size_t nf = (size_t)L * dI;
        IC_LAUNCH(dls_fix_finish_kernel, ic_grid_for(nf, 256), 256, 0, st, dkI, a.fix, nf, cb,
                  a.log2L);
    }
    IC_LAUNCH(dls_sum_kernel, 1, 256, 0, st, a.row_loss, a.row_kl, L, sums);
    double h[2];
    cuda_check(cudaMemcpyAsync(h, sums, sizeof h, cudaMemcpyDeviceToHost, st));
    cuda_check(cudaStreamSynchronize(st));
    ic_ws_release(ctx, mark);
    out->loss = h[0];
    out->kl_pbar = h[1];
    out->n_tokens = L;
    return 0;
}

}  // namespace ic_cuda

using namespace ic_cuda;

extern "C" size_t ic_distill_loss_sparse_workspace_bytes_cuda(const ic_ctx *ctx,
                                                             const ic_distill_desc *desc) {
    IC_ASSERT(ctx && desc && desc->L >= 1);
    return dls_workspace(desc);
}

extern "C" int ic_distill_loss_sparse_forward_cuda(ic_ctx *ctx, const ic_distill_desc *desc,
                                                   const float *qI, const float *kI,
                                                   const float *w,
                                                   const ic_distill_teacher *served,
                                                   int n_served, ic_distill_stats *out,
                                                   ic_error *err) {
    (void)err;
    return dls_run(ctx, desc, qI, kI, w, served, n_served, NULL, NULL, NULL, 0, out);
}

extern "C" int ic_distill_loss_sparse_backward_cuda(ic_ctx *ctx, const ic_distill_desc *desc,
                                                    const float *qI, const float *kI,
                                                    const float *w,
                                                    const ic_distill_teacher *served,
                                                    int n_served, float *dqI, float *dkI,
                                                    float *dw, ic_distill_stats *out,
                                                    ic_error *err) {
    (void)err;
    return dls_run(ctx, desc, qI, kI, w, served, n_served, dqI, dkI, dw, 1, out);
}
