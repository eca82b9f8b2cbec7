// CUDA sparse attention forward (kernels/ic_sparse_attention.h, DSA Eq. 2):
// query t of every head attends to the key rows idx[t, 0..cnt[t]-1] only,
// one index set per query shared by all heads; GQA, head h reads KV head
// h / (H / Hkv).
//
// It is a gather: per (query, KV head) cnt[t] rows of K and of V, each used by
// all gs = H / Hkv query heads of the group, so the work is reading those rows
// and the kernel is built to keep many of them in flight, from L2 (a layer's K
// and V, 6 MiB for SmolLM2 at 8K tokens, stay in the H200's 60 MB L2) and L1
// (neighbouring queries share most of their index sets and run in one block).
//
// sparse_attn_kernel, grid (ceil(L / qpb), Hkv), block 32 * nsub * qpb:
//   warp w of block (x, g) serves query t = x * qpb + w / nsub and the
//   sub-group w % nsub of at most G (<= 3 bf16, 4 fp32) query heads of KV group g: q and
//   the accumulators of those heads live in registers (the heads are cut into
//   nsub sub-groups when gs > G; the sub-groups of one query are warps of one
//   block, so a row one of them gathers is in L1 for the others).
//   A key row is split over lpk lanes, one 16-byte pack each (8 lanes for
//   bf16 d = 64, 16 for fp32), so a warp gathers kpw = 32 / lpk rows of K and
//   of V per load instruction, each row one coalesced span. Each lane group
//   (the lpk lanes of one row) takes every kpw-th entry of the set, NB at a
//   time, and keeps its own online softmax (max m, sum l, acc); the rows of
//   the next step are loaded before this step's arithmetic, and the set
//   entries one step before those (so no load waits on the one before it).
//   At the end the lane groups merge by shuffles (a fixed order) and the
//   first one writes out[t, h, :] = acc / l and lse[h, t] = m + log l.
// No shared memory, no barriers: a warp past L returns at once.
//
// bf16 storage with d 64 / 128, 16-byte aligned pointers and 3 <= gs <= 16
// goes to the tensor-core kernel of sparse_attention_mma.cuh instead (all
// heads of a query x KV head in one mma.sync tile, rows gathered once by
// cp.async); fp32 storage, gs 1-2 or 17-24, other d stay here.
// Arithmetic fp32 (q pre-scaled by 1/sqrt(d)); every merge in a fixed order,
// so results are run-to-run reproducible.
#include "kernels/cuda/ic_cuda_rt.cuh"
#include "kernels/cuda/ic_cuda_util.cuh"
#include "kernels/cuda/ic_ptx.cuh"
#include "kernels/cuda/ic_mma_tile.cuh"

#include <math.h>
#include <stdlib.h>

extern "C" {
#include "core/ic_ctx.h"
#include "kernels/ic_cuda_ops.h"
}

namespace ic_cuda {  // named, so the mangled kernel names are stable

// Query heads one warp serves at most: 3 for bf16, 4 for fp32 (with 4 bf16
// heads, q, the accumulators and the pipeline's rows spill past 128 registers).
template <typename T> struct sa_gmax { static const int value = sizeof(T) == 2 ? 3 : 4; };
const int kSaMaxSub = 8;      // sub-groups of a KV group (8 warps)
const int kSaMaxGroup = kSaMaxSub * 3;  // gs = H / Hkv at most: 8 sub-groups of 3 bf16 heads
const int kSaThreads = 256;   // = the kernel's __launch_bounds__ (8 warps)
const int kSaWarpsWanted = 4; // warps a block gets when the sub-groups leave room (qpb)

__device__ __forceinline__ float sa_neg_inf(void) { return __int_as_float((int)0xff800000u); }

// The 16-byte unit u of a row of d elements: one 128-bit load when packed
// (d % P == 0, 16-byte aligned pointers), else element by element, zero past d.
template <typename T>
__device__ __forceinline__ ic_pack<T> sa_load(const T *row, int u, int d, int packed) {
    const int P = IC_PACK_N(T);
    if (packed) return reinterpret_cast<const ic_pack<T> *>(row)[u];
    ic_pack<T> a;
    for (int k = 0; k < P; k++) {
        const int c = u * P + k;
        a.v[k] = c < d ? row[c] : ic_from_f32<T>(0.0f);
    }
    return a;
}

template <typename T>
__device__ __forceinline__ void sa_zero(ic_pack<T> &a) {
    for (int k = 0; k < IC_PACK_N(T); k++) a.v[k] = ic_from_f32<T>(0.0f);
}

// (m, l, acc) <- the merge with (m2, l2, acc2); m = -inf marks an empty part.
template <int P>
__device__ __forceinline__ void sa_merge(float &m, float &l, float (&acc)[P], float m2, float l2,
                                         const float (&acc2)[P]) {
    const float M = fmaxf(m, m2);
    if (M == sa_neg_inf()) return;
    const float a = __expf(m - M), b = __expf(m2 - M);
    l = l * a + l2 * b;
    for (int k = 0; k < P; k++) acc[k] = acc[k] * a + acc2[k] * b;
    m = M;
}

template <typename T, int G, int NB>
__global__ void __launch_bounds__(kSaThreads, 2)
sparse_attn_kernel(T *__restrict__ out, float *__restrict__ lse, const T *__restrict__ q,
                   const T *__restrict__ kc, const T *__restrict__ vc,
                   const int32_t *__restrict__ idx, const int32_t *__restrict__ cnt, int L, int H,
                   int Hkv, int d, int K, int gs, int nsub, int qpb, int lpk, int packed,
                   float scale) {
    const int P = IC_PACK_N(T);
    const int tid = (int)threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int t = (int)blockIdx.x * qpb + warp / nsub;
    if (t >= L) return;  // the whole warp: nothing below synchronises the block
    const int sub = warp % nsub, g = (int)blockIdx.y;
    const int lig = lane & (lpk - 1), kg = lane / lpk, kpw = 32 / lpk;
    const int hs = sub * G;                        // first head of the sub-group in the group
    const int gcount = gs - hs < G ? gs - hs : G;  // heads this warp serves
    const int h0 = g * gs + hs;
    const bool unit_ok = lig * P < d;

    float qf[G][IC_PACK_N(T)];
    for (int j = 0; j < G; j++) {
        if (j < gcount && unit_ok) {
            const ic_pack<T> a = sa_load<T>(q + ((size_t)t * H + h0 + j) * d, lig, d, packed);
            for (int k = 0; k < P; k++) qf[j][k] = ic_to_f32(a.v[k]) * scale;
        } else {
            for (int k = 0; k < P; k++) qf[j][k] = 0.0f;
        }
    }
    float m[G], l[G], acc[G][IC_PACK_N(T)];
    for (int j = 0; j < G; j++) {
        m[j] = sa_neg_inf();
        l[j] = 0.0f;
        for (int k = 0; k < P; k++) acc[j][k] = 0.0f;
    }

    const int n = cnt[t];
    const int32_t *set = idx + (size_t)t * (size_t)K;
    const int step = kpw * NB;
    const size_t row_stride = (size_t)Hkv * (size_t)d;
    const T *kg_base = kc + (size_t)g * d, *vg_base = vc + (size_t)g * d;

    // Pipeline: pos = the set entries of the step after next; cur = the rows
    // of this step, nxt = those of the next one (-1: past cnt, not loaded).
    int pos_cur[NB], pos_nxt[NB];
    ic_pack<T> kr[NB], vr[NB];
    for (int b = 0; b < NB; b++) {
        const int i = b * kpw + kg, i2 = step + i;
        pos_cur[b] = i < n ? set[i] : -1;
        pos_nxt[b] = i2 < n ? set[i2] : -1;
    }
    for (int b = 0; b < NB; b++) {
        if (pos_cur[b] >= 0 && unit_ok) {
            const size_t off = (size_t)pos_cur[b] * row_stride;
            kr[b] = sa_load<T>(kg_base + off, lig, d, packed);
            vr[b] = sa_load<T>(vg_base + off, lig, d, packed);
        } else {
            sa_zero<T>(kr[b]);
            sa_zero<T>(vr[b]);
        }
    }
    for (int base = 0; base < n; base += step) {  // uniform over the warp
        // Issue the next step's rows and the set entries after them first.
        ic_pack<T> kn[NB], vn[NB];
        int pos_far[NB];
        for (int b = 0; b < NB; b++) {
            if (pos_nxt[b] >= 0 && unit_ok) {
                const size_t off = (size_t)pos_nxt[b] * row_stride;
                kn[b] = sa_load<T>(kg_base + off, lig, d, packed);
                vn[b] = sa_load<T>(vg_base + off, lig, d, packed);
            } else {
                sa_zero<T>(kn[b]);
                sa_zero<T>(vn[b]);
            }
            const int i = base + 2 * step + b * kpw + kg;
            pos_far[b] = i < n ? set[i] : -1;
        }

        float s[G][NB];
        for (int j = 0; j < G; j++)
            for (int b = 0; b < NB; b++) {
                float dot = 0.0f;
                for (int k = 0; k < P; k++) dot = fmaf(qf[j][k], ic_to_f32(kr[b].v[k]), dot);
                // the lpk lanes of one row: xor offsets below lpk stay inside it
                for (int o = lpk >> 1; o > 0; o >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, o);
                s[j][b] = pos_cur[b] >= 0 ? dot : sa_neg_inf();
            }
        for (int j = 0; j < G; j++) {
            float mb = s[j][0];
            for (int b = 1; b < NB; b++) mb = fmaxf(mb, s[j][b]);
            const float M = fmaxf(m[j], mb);
            if (M == sa_neg_inf()) continue;  // no entry yet in this lane group
            const float corr = __expf(m[j] - M);
            float lj = l[j] * corr;
            for (int k = 0; k < P; k++) acc[j][k] *= corr;
            for (int b = 0; b < NB; b++) {
                const float p = __expf(s[j][b] - M);  // 0 for an entry past cnt
                lj += p;
                for (int k = 0; k < P; k++) acc[j][k] = fmaf(p, ic_to_f32(vr[b].v[k]), acc[j][k]);
            }
            l[j] = lj;
            m[j] = M;
        }
        for (int b = 0; b < NB; b++) {
            kr[b] = kn[b];
            vr[b] = vn[b];
            pos_cur[b] = pos_nxt[b];
            pos_nxt[b] = pos_far[b];
        }
    }

    // The lane groups of the warp (same lig, kg differs): xor offsets >= lpk.
    for (int o = lpk; o < 32; o <<= 1)
        for (int j = 0; j < G; j++) {
            const float m2 = __shfl_xor_sync(0xffffffffu, m[j], o);
            const float l2 = __shfl_xor_sync(0xffffffffu, l[j], o);
            float a2[IC_PACK_N(T)];
            for (int k = 0; k < P; k++) a2[k] = __shfl_xor_sync(0xffffffffu, acc[j][k], o);
            sa_merge<IC_PACK_N(T)>(m[j], l[j], acc[j], m2, l2, a2);
        }
    if (kg != 0 || !unit_ok) return;
    for (int j = 0; j < gcount; j++) {
        const float inv = 1.0f / l[j];
        T *o = out + ((size_t)t * H + h0 + j) * d;
        if (packed) {
            ic_pack<T> a;
            for (int k = 0; k < P; k++) a.v[k] = ic_from_f32<T>(acc[j][k] * inv);
            reinterpret_cast<ic_pack<T> *>(o)[lig] = a;
        } else {
            for (int k = 0; k < P; k++)
                if (lig * P + k < d) o[lig * P + k] = ic_from_f32<T>(acc[j][k] * inv);
        }
        if (lse != NULL && lig == 0) lse[(size_t)(h0 + j) * L + t] = m[j] + logf(l[j]);
    }
}

// Rows a lane group holds per step (NB): as many as the registers allow under
// the 128 of __launch_bounds__(256, 2) with the pipeline's two copies (nvcc
// -Xptxas -v, 2026-12-02; tests/static/kernels.json holds the budgets).
template <typename T, int G> struct sa_nb {
    static const int value = sizeof(T) == 2 ? 1 : (G <= 2 ? 4 : 2);
};

template <typename T, int G>
void sa_launch(ic_ctx *ctx, T *out, float *lse, const T *q, const T *k, const T *v, int L, int H,
               int Hkv, int d, const int32_t *idx, const int32_t *cnt, int K, int gs, int nsub,
               int lpk, int packed) {
    int qpb = kSaWarpsWanted / nsub;
    if (qpb < 1) qpb = 1;
    const dim3 grid((unsigned)((L + qpb - 1) / qpb), (unsigned)Hkv);
    IC_LAUNCH((sparse_attn_kernel<T, G, sa_nb<T, G>::value>), grid, (unsigned)(32 * nsub * qpb), 0,
              ctx->stream, out, lse, q, k, v, idx, cnt, L, H, Hkv, d, K, gs, nsub, qpb, lpk,
              packed, 1.0f / sqrtf((float)d));
}

template <typename T>
void sa_forward(ic_ctx *ctx, T *out, float *lse, const T *q, const T *k, const T *v, int L, int H,
                int Hkv, int d, const int32_t *idx, const int32_t *cnt, int K) {
    const int P = IC_PACK_N(T);
    const int units = (d + P - 1) / P;
    int lpk = 1;
    while (lpk < units) lpk <<= 1;
    const int packed = d % P == 0 && ic_aligned16(q) && ic_aligned16(k) && ic_aligned16(v) &&
                       ic_aligned16(out);
    const int gs = H / Hkv;
    const int nsub = (gs + sa_gmax<T>::value - 1) / sa_gmax<T>::value;
    const int G = (gs + nsub - 1) / nsub;
    switch (G) {
    case 1: sa_launch<T, 1>(ctx, out, lse, q, k, v, L, H, Hkv, d, idx, cnt, K, gs, nsub, lpk, packed); break;
    case 2: sa_launch<T, 2>(ctx, out, lse, q, k, v, L, H, Hkv, d, idx, cnt, K, gs, nsub, lpk, packed); break;
    case 3: sa_launch<T, 3>(ctx, out, lse, q, k, v, L, H, Hkv, d, idx, cnt, K, gs, nsub, lpk, packed); break;
    default: sa_launch<T, sa_gmax<T>::value>(ctx, out, lse, q, k, v, L, H, Hkv, d, idx, cnt, K, gs, nsub, lpk, packed); break;
    }
}

}  // namespace ic_cuda

// The tensor-core kernel of large head groups (bf16, 8 <= gs <= 16, d 64 / 128).
#include "kernels/cuda/sparse_attention_mma.cuh"

using namespace ic_cuda;

extern "C" size_t ic_sparse_attention_workspace_bytes_cuda(const ic_ctx *ctx, int H, int Hkv,
                                                           int d, int K) {
    (void)ctx; (void)H; (void)Hkv; (void)d; (void)K;
    return 0;  // everything lives in registers
}

extern "C" int ic_sparse_attention_cuda_supports(ic_dtype dt, int H, int Hkv, int d) {
    if (dt != IC_F32 && dt != IC_BF16) return 0;
    if (Hkv <= 0 || H % Hkv != 0 || H / Hkv > kSaMaxGroup) return 0;
    const int P = dt == IC_BF16 ? 8 : 4;
    return d > 0 && d <= 32 * P;
}

extern "C" void ic_sparse_attention_forward_cuda(ic_ctx *ctx, ic_dtype dt, void *out, float *lse,
                                                 const void *q, const void *k, const void *v,
                                                 int L, int H, int Hkv, int d, const int32_t *idx,
                                                 const int32_t *cnt, int K) {
    IC_ASSERT(ctx != NULL && out != NULL && q != NULL && k != NULL && v != NULL);
    IC_ASSERT(idx != NULL && cnt != NULL && K >= 1 && L >= 0);
    IC_ASSERT(ic_sparse_attention_cuda_supports(dt, H, Hkv, d));  // the dispatcher says why not
    if (L == 0) return;
    if (dt == IC_F32)
        sa_forward(ctx, (float *)out, lse, (const float *)q, (const float *)k, (const float *)v, L,
                   H, Hkv, d, idx, cnt, K);
    else if (sa_mma_takes(H / Hkv, d, ic_aligned16(q) && ic_aligned16(k) && ic_aligned16(v) &&
                                          ic_aligned16(out))) {
        if (d == 64)
            sa_mma_launch<64>(ctx, (__nv_bfloat16 *)out, lse, (const __nv_bfloat16 *)q,
                              (const __nv_bfloat16 *)k, (const __nv_bfloat16 *)v, L, H, Hkv, idx,
                              cnt, K);
        else
            sa_mma_launch<128>(ctx, (__nv_bfloat16 *)out, lse, (const __nv_bfloat16 *)q,
                               (const __nv_bfloat16 *)k, (const __nv_bfloat16 *)v, L, H, Hkv, idx,
                               cnt, K);
    } else
        sa_forward(ctx, (__nv_bfloat16 *)out, lse, (const __nv_bfloat16 *)q,
                   (const __nv_bfloat16 *)k, (const __nv_bfloat16 *)v, L, H, Hkv, d, idx, cnt, K);
}
