// CUDA decode attention (kernels/ic_attention.h: one query token against T
// cached keys/values, GQA), split-K over T ("flash-decoding"):
//
//  1. decode_attn_split_kernel, grid (n_splits, Hkv * nsub): block (s, y)
//     takes keys [s * chunk, (s + 1) * chunk) of KV head g = y / nsub for up
//     to G of its query heads (all gs = H / Hkv of them when gs <= 4, else
//     the heads are cut into nsub sub-groups of <= 4: registers hold q and
//     the accumulators of every head a block serves). Each K and V row is
//     read once per (sub-)group. A key row is split over LPK lanes (one
//     16-byte pack each: 8 lanes for bf16 d = 64, 16 for fp32), so a warp
//     takes 32 / LPK keys at a time, NB (4 fp32, 2 bf16) at once per lane to keep
//     loads in flight. Each lane group keeps an online softmax (max m, sum l, acc);
//     the groups of a warp merge by shuffles, the warps through shared
//     memory, and the block writes its partial (m, l, acc) to workspace.
//  2. decode_attn_combine_kernel, one block per query head: out = sum_s
//     acc_s e^(m_s - M) / sum_s l_s e^(m_s - M), lse = M + log(L).
// Arithmetic in fp32 (q is pre-scaled by 1/sqrt(d)); all merges in a fixed
// order, so results are run-to-run reproducible.
#include "kernels/cuda/ic_cuda_rt.cuh"
#include "kernels/cuda/ic_cuda_util.cuh"

#include <math.h>

extern "C" {
#include "core/ic_ctx.h"
#include "kernels/ic_cuda_ops.h"
}

namespace ic_cuda {  // named, so the mangled kernel names are stable

const int kDecWarps = 4;                 // warps of a split block
const int kDecThreads = 32 * kDecWarps;  // = the split kernel's __launch_bounds__
// Keys a lane group holds at once: 4 for fp32, 2 for bf16 (the same 16
// elements of K and of V per lane; 4 bf16 keys spill past 128 registers).
#define IC_DEC_NB(T) (64 / (int)(4 * IC_PACK_N(T)))
const int kDecGMax = 4;                  // query heads one block serves at most
const int kDecMaxSplits = 128;           // = the combine kernel's weight array
const int kDecMinChunk = 64;             // keys a split takes at least

// Keys per split and number of splits for T keys: at most kDecMaxSplits
// splits of a multiple of kDecMinChunk keys, so 1K-32K contexts spread over
// 16-128 splits per head group (48-384 blocks for SmolLM2's 3 KV heads).
static inline int decode_chunk(int T) {
    int c = (T + kDecMaxSplits - 1) / kDecMaxSplits;
    c = (c + kDecMinChunk - 1) / kDecMinChunk * kDecMinChunk;
    return c < kDecMinChunk ? kDecMinChunk : c;
}
static inline int decode_splits(int T) {
    const int c = decode_chunk(T);
    return (T + c - 1) / c;
}

__device__ __forceinline__ float dec_neg_inf(void) { return __int_as_float((int)0xff800000u); }

// Loads the 16-byte unit u of a row of d elements: one 128-bit load when
// packed (d % P == 0, 16-byte aligned rows), else element by element,
// zero past d.
template <typename T>
__device__ __forceinline__ ic_pack<T> dec_load(const T *row, int u, int d, int packed) {
    const int P = IC_PACK_N(T);
    if (packed) return reinterpret_cast<const ic_pack<T> *>(row)[u];
    ic_pack<T> a;
    for (int k = 0; k < P; k++) {
        const int c = u * P + k;
        a.v[k] = c < d ? row[c] : ic_from_f32<T>(0.0f);
    }
    return a;
}

// (m, l, acc) <- the merge with (m2, l2, acc2); m = -inf marks an empty set.
template <int P>
__device__ __forceinline__ void dec_merge(float &m, float &l, float (&acc)[P], float m2, float l2,
                                          const float (&acc2)[P]) {
    const float M = fmaxf(m, m2);
    if (M == dec_neg_inf()) return;
    const float a = __expf(m - M), b = __expf(m2 - M);
    l = l * a + l2 * b;
    for (int k = 0; k < P; k++) acc[k] = acc[k] * a + acc2[k] * b;
    m = M;
}

template <typename T, int G>
__global__ void __launch_bounds__(128, 4)
decode_attn_split_kernel(float *__restrict__ part_ml, float *__restrict__ part_acc,
                         const T *__restrict__ q, const T *__restrict__ kc,
                         const T *__restrict__ vc, int T_len, int H, int Hkv, int d, int gs,
                         int nsub, int chunk, int lpk, int packed, float scale) {
    const int P = IC_PACK_N(T);
    const int kDecNB = IC_DEC_NB(T);
    IC_DYN_SMEM(float, sh);
    const int tid = (int)threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int lig = lane & (lpk - 1), kg = lane / lpk, kpw = 32 / lpk;
    const int g = (int)blockIdx.y / nsub, sub = (int)blockIdx.y % nsub;
    const int hs = sub * G;                       // first head of the sub-group in the KV group
    const int gcount = gs - hs < G ? gs - hs : G; // heads this block serves
    const int h0 = g * gs + hs;
    const bool unit_ok = lig * P < d;

    float qf[G][IC_PACK_N(T)];
    for (int j = 0; j < G; j++) {
        if (j < gcount && unit_ok) {
            const ic_pack<T> a = dec_load<T>(q + (size_t)(h0 + j) * d, lig, d, packed);
            for (int k = 0; k < P; k++) qf[j][k] = ic_to_f32(a.v[k]) * scale;
        } else {
            for (int k = 0; k < P; k++) qf[j][k] = 0.0f;
        }
    }
    float m[G], l[G], acc[G][IC_PACK_N(T)];
    for (int j = 0; j < G; j++) {
        m[j] = dec_neg_inf();
        l[j] = 0.0f;
        for (int k = 0; k < P; k++) acc[j][k] = 0.0f;
    }

    const int t_begin = (int)blockIdx.x * chunk;
    const int t_end = t_begin + chunk < T_len ? t_begin + chunk : T_len;
    const int step = kDecWarps * kpw * kDecNB;
    const size_t row_stride = (size_t)Hkv * (size_t)d;
    for (int base = t_begin; base < t_end; base += step) {  // uniform over the block
        ic_pack<T> kr[IC_DEC_NB(T)], vr[IC_DEC_NB(T)];
        bool ok[IC_DEC_NB(T)];
        for (int b = 0; b < kDecNB; b++) {
            const int t = base + (b * kDecWarps + warp) * kpw + kg;
            ok[b] = t < t_end;
            if (ok[b] && unit_ok) {
                const size_t off = (size_t)t * row_stride + (size_t)g * d;
                kr[b] = dec_load<T>(kc + off, lig, d, packed);
                vr[b] = dec_load<T>(vc + off, lig, d, packed);
            } else {
                for (int k = 0; k < P; k++) kr[b].v[k] = vr[b].v[k] = ic_from_f32<T>(0.0f);
            }
        }
        float s[G][IC_DEC_NB(T)];
        for (int j = 0; j < G; j++)
            for (int b = 0; b < kDecNB; b++) {
                float dot = 0.0f;
                for (int k = 0; k < P; k++) dot = fmaf(qf[j][k], ic_to_f32(kr[b].v[k]), dot);
                // the lpk lanes of one key row: xor offsets below lpk stay inside it
                for (int o = lpk >> 1; o > 0; o >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, o);
                s[j][b] = ok[b] ? dot : dec_neg_inf();
            }
        for (int j = 0; j < G; j++) {
            float mb = s[j][0];
            for (int b = 1; b < kDecNB; b++) mb = fmaxf(mb, s[j][b]);
            const float M = fmaxf(m[j], mb);
            if (M == dec_neg_inf()) continue;  // no key yet in this lane group
            const float corr = __expf(m[j] - M);
            float lj = l[j] * corr;
            for (int k = 0; k < P; k++) acc[j][k] *= corr;
            for (int b = 0; b < kDecNB; b++) {
                const float p = __expf(s[j][b] - M);  // 0 for a masked key
                lj += p;
                for (int k = 0; k < P; k++) acc[j][k] = fmaf(p, ic_to_f32(vr[b].v[k]), acc[j][k]);
            }
            l[j] = lj;
            m[j] = M;
        }
    }

    // The lane groups of a warp (same lig, kg differs): xor offsets >= lpk.
    for (int o = lpk; o < 32; o <<= 1)
        for (int j = 0; j < G; j++) {
            const float m2 = __shfl_xor_sync(0xffffffffu, m[j], o);
            const float l2 = __shfl_xor_sync(0xffffffffu, l[j], o);
            float a2[IC_PACK_N(T)];
            for (int k = 0; k < P; k++) a2[k] = __shfl_xor_sync(0xffffffffu, acc[j][k], o);
            dec_merge<IC_PACK_N(T)>(m[j], l[j], acc[j], m2, l2, a2);
        }

    // The warps, through shared memory: per (warp, head) m, l, acc[dp].
    const int dp = lpk * P, slot = 2 + dp;
    if (kg == 0)
        for (int j = 0; j < gcount; j++) {
            float *w = sh + (size_t)(warp * G + j) * slot;
            if (lig == 0) {
                w[0] = m[j];
                w[1] = l[j];
            }
            for (int k = 0; k < P; k++) w[2 + lig * P + k] = acc[j][k];
        }
    __syncthreads();
    const int split = (int)blockIdx.x;
    for (int i = tid; i < gcount * d; i += (int)blockDim.x) {
        const int j = i / d, c = i % d;
        float M = dec_neg_inf();
        for (int w = 0; w < kDecWarps; w++) M = fmaxf(M, sh[(size_t)(w * G + j) * slot]);
        float L = 0.0f, A = 0.0f;
        for (int w = 0; w < kDecWarps; w++) {
            const float *ws = sh + (size_t)(w * G + j) * slot;
            const float e = __expf(ws[0] - M);  // a warp without keys: m = -inf, e = 0
            L = fmaf(ws[1], e, L);
            A = fmaf(ws[2 + c], e, A);
        }
        const int h = h0 + j;
        part_acc[((size_t)split * H + h) * d + c] = A;
        if (c == 0) {
            part_ml[((size_t)split * H + h) * 2] = M;
            part_ml[((size_t)split * H + h) * 2 + 1] = L;
        }
    }
}

template <typename T>
__global__ void __launch_bounds__(256)
decode_attn_combine_kernel(T *__restrict__ out, float *__restrict__ lse,
                           const float *__restrict__ part_ml, const float *__restrict__ part_acc,
                           int n_splits, int H, int d) {
    __shared__ float wgt[kDecMaxSplits];
    __shared__ float tot[2];
    const int h = (int)blockIdx.x, tid = (int)threadIdx.x;
    if (tid < 32) {
        float M = dec_neg_inf();
        for (int s = tid; s < n_splits; s += 32) M = fmaxf(M, part_ml[((size_t)s * H + h) * 2]);
        for (int o = 16; o > 0; o >>= 1) M = fmaxf(M, __shfl_xor_sync(0xffffffffu, M, o));
        float L = 0.0f;
        for (int s = tid; s < n_splits; s += 32) {
            const float *ml = part_ml + ((size_t)s * H + h) * 2;
            const float e = __expf(ml[0] - M);  // every split has a key: M finite
            wgt[s] = e;
            L = fmaf(ml[1], e, L);
        }
        for (int o = 16; o > 0; o >>= 1) L += __shfl_xor_sync(0xffffffffu, L, o);
        if (tid == 0) {
            tot[0] = M;
            tot[1] = L;
        }
    }
    __syncthreads();
    const float inv = 1.0f / tot[1];
    for (int c = tid; c < d; c += (int)blockDim.x) {
        float a = 0.0f;
        for (int s = 0; s < n_splits; s++) a = fmaf(wgt[s], part_acc[((size_t)s * H + h) * d + c], a);
        out[(size_t)h * d + c] = ic_from_f32<T>(a * inv);
    }
    if (lse != NULL && tid == 0) lse[h] = tot[0] + logf(tot[1]);
}

template <typename T, int G>
void decode_split_launch(ic_ctx *ctx, float *ml, float *acc, const T *q, const T *k, const T *v,
                         int T_len, int H, int Hkv, int d, int gs, int nsub, int lpk, int packed) {
    const int n_splits = decode_splits(T_len);
    const size_t smem = sizeof(float) * (size_t)kDecWarps * G * (size_t)(2 + lpk * IC_PACK_N(T));
    const dim3 grid((unsigned)n_splits, (unsigned)(Hkv * nsub));
    IC_LAUNCH((decode_attn_split_kernel<T, G>), grid, (unsigned)kDecThreads, smem, ctx->stream,
              ml, acc, q, k, v, T_len, H, Hkv, d, gs, nsub, decode_chunk(T_len), lpk, packed,
              1.0f / sqrtf((float)d));
}

template <typename T>
void decode_launch(ic_ctx *ctx, T *out, float *lse, const T *q, const T *k, const T *v, int T_len,
                   int H, int Hkv, int d) {
    const int P = IC_PACK_N(T);
    const int units = (d + P - 1) / P;
    IC_ASSERT(units <= 32 && "decode attention: head_dim over 32 16-byte packs");
    int lpk = 1;
    while (lpk < units) lpk <<= 1;
    const int packed = d % P == 0 && ic_aligned16(q) && ic_aligned16(k) && ic_aligned16(v);
    const int gs = H / Hkv;
    const int nsub = (gs + kDecGMax - 1) / kDecGMax;
    const int G = (gs + nsub - 1) / nsub;
    const int n_splits = decode_splits(T_len);
    const size_t mark = ic_ws_mark(ctx);
    float *ml = (float *)ic_ws_alloc(ctx, sizeof(float) * 2 * (size_t)n_splits * H,
                                     "attention decode (max, sum)");
    float *acc = (float *)ic_ws_alloc(ctx, sizeof(float) * (size_t)n_splits * H * d,
                                      "attention decode (acc)");
    switch (G) {
    case 1: decode_split_launch<T, 1>(ctx, ml, acc, q, k, v, T_len, H, Hkv, d, gs, nsub, lpk, packed); break;
    case 2: decode_split_launch<T, 2>(ctx, ml, acc, q, k, v, T_len, H, Hkv, d, gs, nsub, lpk, packed); break;
    case 3: decode_split_launch<T, 3>(ctx, ml, acc, q, k, v, T_len, H, Hkv, d, gs, nsub, lpk, packed); break;
    default: decode_split_launch<T, 4>(ctx, ml, acc, q, k, v, T_len, H, Hkv, d, gs, nsub, lpk, packed); break;
    }
    IC_LAUNCH(decode_attn_combine_kernel<T>, (unsigned)H, ic_threads_for((size_t)d, 256), 0,
              ctx->stream, out, lse, ml, acc, n_splits, H, d);
    ic_ws_release(ctx, mark);  // later work on the stream runs after the combine
}

}  // namespace ic_cuda

using namespace ic_cuda;

extern "C" size_t ic_attention_decode_workspace_bytes_cuda(const ic_ctx *ctx, int T, int H, int d) {
    (void)ctx;
    if (T <= 0) return 0;
    const size_t ns = (size_t)decode_splits(T);
    return ic_ws_round(sizeof(float) * 2 * ns * (size_t)H) +
           ic_ws_round(sizeof(float) * ns * (size_t)H * (size_t)d);
}

extern "C" void ic_attention_decode_forward_cuda(ic_ctx *ctx, ic_dtype dt, void *out, float *lse,
                                                 const void *q, const void *k_cache,
                                                 const void *v_cache, int T, int H, int Hkv,
                                                 int d) {
    IC_ASSERT(ctx != NULL && (dt == IC_F32 || dt == IC_BF16));
    IC_ASSERT(out != NULL && q != NULL && k_cache != NULL && v_cache != NULL);
    IC_ASSERT(T > 0 && d > 0 && Hkv > 0 && H >= Hkv && H % Hkv == 0);
    if (dt == IC_F32)
        decode_launch(ctx, (float *)out, lse, (const float *)q, (const float *)k_cache,
                      (const float *)v_cache, T, H, Hkv, d);
    else
        decode_launch(ctx, (__nv_bfloat16 *)out, lse, (const __nv_bfloat16 *)q,
                      (const __nv_bfloat16 *)k_cache, (const __nv_bfloat16 *)v_cache, T, H, Hkv,
                      d);
}
