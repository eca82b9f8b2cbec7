// The tensor-core sparse attention forward (bf16 storage, d 64 or 128, 3 <=
// gs = H / Hkv <= 16 by default: sa_mma_takes below), included by
// kernels/cuda/sparse_attention.cu after ic_cuda_rt.cuh, ic_cuda_util.cuh,
// ic_ptx.cuh and ic_mma_tile.cuh.
//
// Why: with 16 query heads per K/V row (DeepSeek-like MQA) the CUDA-core
// kernel spends its time on FMAs and shuffles, and each gathered row is
// re-read by the gs / 3 warps that split the heads. Here all gs heads of a
// query are the 16 rows (padded with zero queries) of one mma.sync A operand,
// so each gathered K/V row is read once per query and both products run on
// the tensor cores.
//
// sa_mma_kernel<D, NW, NS>, grid (L, Hkv), block 32 * NW:
//   block (t, g) serves query t and KV head g: the gs heads h0 = g gs ..
//   h0 + gs - 1. Its Q rows (16 x D, rows >= gs zero) are staged in shared
//   memory once and held by every warp as A fragments (D / 16 k-steps).
//   The set idx[t, 0..n-1] is cut into chunks of 16 entries; warp w takes
//   chunks w, w + NW, ... and gathers each chunk's 16 K rows and 16 V rows
//   with cp.async (16-byte pieces, 16-byte aligned rows) into its own ring
//   of NS stages, NS - 1 chunks ahead of the one it computes (no block
//   barrier in the loop: the ring is the warp's, __syncwarp orders it); the
//   set entries of a chunk are loaded into registers one chunk before that.
//   Entries past n gather row idx[t, 0] (a valid row, so V stays finite) and
//   get the score -inf, hence weight exactly 0.
//   Per chunk: S = Q K^T (16 x 16, 2 n8 tiles x D / 16 k-steps), scaled by
//   1/sqrt(d) in fp32; online softmax per row in registers (max and sum over
//   the 4 lanes of a quad); P rounded to bf16 becomes the A operand of P V
//   (ic_c_to_a) against V read with ldmatrix .trans; O (16 x D fp32) in
//   registers.
//   End: the NW warps' (m, l, O) meet in shared memory (reusing the rings
//   after a barrier) and are merged in warp order (deterministic); row r < gs
//   is written as out[t, h0 + r, :] = O / l (16-byte stores) and
//   lse[h0 + r, t] = m + log l.
// Arithmetic fp32 except the bf16 operands of each mma: Q, K, V exact, P
// split into bf16 hi + lo (two P V products, the lo one first), so that the
// output's one bf16 rounding stays the only one that matters.
#ifndef IC_SPARSE_ATTENTION_MMA_CUH
#define IC_SPARSE_ATTENTION_MMA_CUH

namespace ic_cuda {

// Warps per block and ring stages per warp: the block's rings (2 x 16 rows x
// (D + 8) bf16 per stage and warp) plus the Q tile stay under the 48 KiB of
// a launch without opt-in (39 KiB for both; 5 blocks an SM by shared memory).
template <int D> struct sa_mma_cfg {
    static const int NW = D == 64 ? 4 : 2;
    static const int NS = 2;
    static const int LDS = D + 8;  // padded row: ldmatrix rows spread over the banks
    static const int ring_elems = NW * NS * 2 * 16 * LDS;
    static const int q_elems = 16 * LDS;
    static const size_t smem = sizeof(__nv_bfloat16) * (size_t)(ring_elems + q_elems);
};

// A lane's share of a chunk: pieces p = lane + 32 i (i < D / 16) of the 16 x
// D / 8 16-byte pieces of K and of V, piece p in row p / (D / 8). The rows'
// set entries are read a chunk ahead (sa_mma_rows), so the gather of a chunk
// never waits on the load of its own indices; entries past n take s0 =
// idx[t, 0]. The loads do not depend on n (an entry past n reads a slot
// below K and drops it), so the first ones run alongside the load of cnt[t].
template <int D>
__device__ __forceinline__ void sa_mma_rows(int (&pos)[D / 16], const int32_t *set, int n, int K,
                                            int s0, int e0, int lane) {
IC_UNROLL
    for (int i = 0; i < D / 16; i++) {
        const int e = e0 + (lane + 32 * i) / (D / 8);
        const int v = set[e < K ? e : K - 1];
        pos[i] = e < n ? v : s0;
    }
}

// Issues the cp.async copies of one chunk (rows pos) into a stage (ks, vs:
// 16 rows x LDS each).
template <int D, int LDS>
__device__ __forceinline__ void sa_mma_gather(__nv_bfloat16 *ks, __nv_bfloat16 *vs,
                                              const __nv_bfloat16 *kg, const __nv_bfloat16 *vg,
                                              const int (&pos)[D / 16], size_t row_stride,
                                              int lane) {
    const int PR = D / 8;  // 16-byte pieces per row
IC_UNROLL
    for (int i = 0; i < D / 16; i++) {
        const int p = lane + 32 * i, r = p / PR, u = p - r * PR;
        const size_t off = (size_t)pos[i] * row_stride + (size_t)(u * 8);
        ic_cp_async16(&ks[r * LDS + u * 8], kg + off);
        ic_cp_async16(&vs[r * LDS + u * 8], vg + off);
    }
}

// r = c - the bf16 values packed in a01 (c[0], c[1]) and a23 (c[2], c[3]):
// exact in fp32 (c and its bf16 rounding share the leading bits).
__device__ __forceinline__ void sa_mma_residual(float r[4], const float c[4], uint32_t a01,
                                                uint32_t a23) {
    r[0] = c[0] - __uint_as_float(a01 << 16);
    r[1] = c[1] - __uint_as_float(a01 & 0xffff0000u);
    r[2] = c[2] - __uint_as_float(a23 << 16);
    r[3] = c[3] - __uint_as_float(a23 & 0xffff0000u);
}

template <int D, int NW, int NS>
__global__ void __launch_bounds__(32 * NW)
sa_mma_kernel(__nv_bfloat16 *__restrict__ out, float *__restrict__ lse,
              const __nv_bfloat16 *__restrict__ q, const __nv_bfloat16 *__restrict__ kc,
              const __nv_bfloat16 *__restrict__ vc, const int32_t *__restrict__ idx,
              const int32_t *__restrict__ cnt, int L, int H, int Hkv, int K, int gs,
              float scale) {
    const int LDS = sa_mma_cfg<D>::LDS;
    IC_DYN_SMEM(__nv_bfloat16, smem);
    const int tid = (int)threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int gq = lane >> 2, tq = lane & 3;
    const int t = (int)blockIdx.x, g = (int)blockIdx.y, h0 = g * gs;
    __nv_bfloat16 *qs = smem + sa_mma_cfg<D>::ring_elems;
    __nv_bfloat16 *ring = smem + warp * NS * 2 * 16 * LDS;  // this warp's stages: K, V, K, V...

    const int n = cnt[t];
    const int32_t *set = idx + (size_t)t * (size_t)K;
    const int s0 = set[0];  // cnt >= 1: always an entry
    const size_t row_stride = (size_t)Hkv * D;
    const __nv_bfloat16 *kg = kc + (size_t)g * D, *vg = vc + (size_t)g * D;
    const int nchunks = (n + 15) / 16;
    // This warp's chunks: w, w + NW, ...; the j-th is set entries 16 (w + NW j)...
    const int mine = nchunks > warp ? (nchunks - warp + NW - 1) / NW : 0;

    // Start the ring before Q's staging, so the gathers are under way. pos:
    // the rows of the next chunk to gather (read one chunk ahead).
    int pos[D / 16];
    sa_mma_rows<D>(pos, set, n, K, s0, 16 * warp, lane);
    for (int s = 0; s < NS - 1; s++) {
        if (s < mine) {
            sa_mma_gather<D, LDS>(ring + (2 * s) * 16 * LDS, ring + (2 * s + 1) * 16 * LDS, kg, vg,
                                  pos, row_stride, lane);
            sa_mma_rows<D>(pos, set, n, K, s0, 16 * (warp + NW * (s + 1)), lane);
        }
        ic_cp_async_commit();
    }
    ic_stage_rows<__nv_bfloat16, D>(qs, LDS, q + ((size_t)t * H + h0) * D, (size_t)D, 0, gs, 16, 1);
    __syncthreads();
    uint32_t qa[D / 16][4];
IC_UNROLL
    for (int kk = 0; kk < D / 16; kk++) ic_lda_rows(qa[kk], qs, LDS, 0, 16 * kk, lane);

    float o[D / 8][4];
IC_UNROLL
    for (int j = 0; j < D / 8; j++)
        for (int r = 0; r < 4; r++) o[j][r] = 0.0f;
    float m[2] = {ic_neg_inf(), ic_neg_inf()}, l[2] = {0.0f, 0.0f};  // rows gq, gq + 8

    for (int j = 0; j < mine; j++) {  // uniform over the warp
        const int ahead = j + NS - 1;
        if (ahead < mine) {
            const int s = ahead % NS;
            sa_mma_gather<D, LDS>(ring + (2 * s) * 16 * LDS, ring + (2 * s + 1) * 16 * LDS, kg,
                                  vg, pos, row_stride, lane);
            if (ahead + 1 < mine)
                sa_mma_rows<D>(pos, set, n, K, s0, 16 * (warp + NW * (ahead + 1)), lane);
        }
        ic_cp_async_commit();  // possibly empty: the wait below counts groups
        ic_cp_async_wait<NS - 1>();
        __syncwarp();  // every lane's copies of chunk j are in
        const __nv_bfloat16 *ks = ring + (2 * (j % NS)) * 16 * LDS;
        const __nv_bfloat16 *vs = ks + 16 * LDS;

        float s0[4] = {0.0f, 0.0f, 0.0f, 0.0f}, s1[4] = {0.0f, 0.0f, 0.0f, 0.0f};
IC_UNROLL
        for (int kk = 0; kk < D / 16; kk++) {
            uint32_t b[4];
            ic_ldb_nk(b, ks, LDS, 0, 16 * kk, lane);
            ic_mma_m16n8k16_bf16_f32(s0, qa[kk], b, s0);
            ic_mma_m16n8k16_bf16_f32(s1, qa[kk], b + 2, s1);
        }
        // Lane's columns: 2 tq, 2 tq + 1 (tile 0) and + 8 (tile 1); rows gq (r < 2), gq + 8.
        const int e0 = 16 * (warp + NW * j) + 2 * tq;
        float mx[2] = {ic_neg_inf(), ic_neg_inf()};
IC_UNROLL
        for (int r = 0; r < 4; r++) {
            const int c = e0 + (r & 1);
            s0[r] = c < n ? s0[r] * scale : ic_neg_inf();
            s1[r] = c + 8 < n ? s1[r] * scale : ic_neg_inf();
            mx[r >> 1] = fmaxf(mx[r >> 1], fmaxf(s0[r], s1[r]));
        }
        float corr[2];
IC_UNROLL
        for (int h = 0; h < 2; h++) {
            mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 1));
            mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 2));
            const float M = fmaxf(m[h], mx[h]);  // finite: a chunk has a valid entry
            corr[h] = __expf(m[h] - M);         // 0 on the first chunk (m = -inf)
            m[h] = M;
        }
        float ps = 0.0f, ps8 = 0.0f;
IC_UNROLL
        for (int r = 0; r < 4; r++) {
            const float M = m[r >> 1];
            s0[r] = __expf(s0[r] - M);  // 0 for an entry past n
            s1[r] = __expf(s1[r] - M);
            if (r < 2) ps += s0[r] + s1[r];
            else ps8 += s0[r] + s1[r];
        }
        l[0] = l[0] * corr[0] + ps;  // the lane's columns only; the quad sums at the end
        l[1] = l[1] * corr[1] + ps8;
        // P as two bf16 operands, hi = bf16(p) and lo = bf16(p - hi): P V then
        // carries p to ~2^-17 (one bf16 P alone costs up to 2^-9 of each
        // weight, which on top of out's own bf16 rounding breaks the 4e-3).
        uint32_t pa[4], pl[4];
        ic_c_to_a(pa, s0, s1);
        {
            float r0[4], r1[4];
            sa_mma_residual(r0, s0, pa[0], pa[1]);
            sa_mma_residual(r1, s1, pa[2], pa[3]);
            ic_c_to_a(pl, r0, r1);
        }
IC_UNROLL
        for (int nn = 0; nn < D / 16; nn++) {
            uint32_t b[4];
            ic_ldb_kn(b, vs, LDS, 0, 16 * nn, lane);
IC_UNROLL
            for (int r = 0; r < 4; r++) {
                o[2 * nn][r] *= corr[r >> 1];
                o[2 * nn + 1][r] *= corr[r >> 1];
            }
            ic_mma_m16n8k16_bf16_f32(o[2 * nn], pl, b, o[2 * nn]);
            ic_mma_m16n8k16_bf16_f32(o[2 * nn + 1], pl, b + 2, o[2 * nn + 1]);
            ic_mma_m16n8k16_bf16_f32(o[2 * nn], pa, b, o[2 * nn]);
            ic_mma_m16n8k16_bf16_f32(o[2 * nn + 1], pa, b + 2, o[2 * nn + 1]);
        }
        __syncwarp();  // all lanes are done with this stage before it is refilled
    }
    ic_cp_async_wait<0>();  // nothing is pending (the last groups are empty), but say so
IC_UNROLL
    for (int h = 0; h < 2; h++) {
        l[h] += __shfl_xor_sync(0xffffffffu, l[h], 1);
        l[h] += __shfl_xor_sync(0xffffffffu, l[h], 2);
    }

    // Merge the warps in shared memory (the rings are free once all are done):
    // per warp 16 x D fp32 of O, then 16 m and 16 l.
    __syncthreads();
    float *mo = reinterpret_cast<float *>(smem);
    float *wo = mo + (size_t)warp * (16 * D + 32);
IC_UNROLL
    for (int jn = 0; jn < D / 8; jn++)
        for (int r = 0; r < 4; r++)
            if (gq + 8 * (r >> 1) < gs)  // padding rows are never read
                wo[(gq + 8 * (r >> 1)) * D + 8 * jn + 2 * tq + (r & 1)] = o[jn][r];
    if (tq == 0) {
        wo[16 * D + gq] = m[0];
        wo[16 * D + gq + 8] = m[1];
        wo[16 * D + 16 + gq] = l[0];
        wo[16 * D + 16 + gq + 8] = l[1];
    }
    __syncthreads();
    // Thread i: row r, 8 columns from c8 (one 16-byte store of bf16).
    for (int i = tid; i < gs * (D / 8); i += 32 * NW) {
        const int r = i / (D / 8), c8 = (i - r * (D / 8)) * 8;
        float M = ic_neg_inf();
        for (int w = 0; w < NW; w++) M = fmaxf(M, mo[(size_t)w * (16 * D + 32) + 16 * D + r]);
        float Lsum = 0.0f, acc[8];
        for (int k = 0; k < 8; k++) acc[k] = 0.0f;
        for (int w = 0; w < NW; w++) {  // warp order: deterministic
            const float *ww = mo + (size_t)w * (16 * D + 32);
            const float f = __expf(ww[16 * D + r] - M);  // 0 for a warp without chunks
            Lsum = fmaf(ww[16 * D + 16 + r], f, Lsum);
            for (int k = 0; k < 8; k++) acc[k] = fmaf(ww[r * D + c8 + k], f, acc[k]);
        }
        const float inv = 1.0f / Lsum;
        ic_pack<__nv_bfloat16> a;
        for (int k = 0; k < 8; k++) a.v[k] = __float2bfloat16(acc[k] * inv);
        *reinterpret_cast<ic_pack<__nv_bfloat16> *>(out + ((size_t)t * H + h0 + r) * D + c8) = a;
        if (lse != NULL && c8 == 0) lse[(size_t)(h0 + r) * L + t] = M + logf(Lsum);
    }
}

// Whether the tensor-core kernel takes the call (else the CUDA-core one):
// bf16 (the caller's business), 16-byte aligned pointers, d 64 or 128 and
// sa_mma_min_gs() <= gs <= 16. For the A/B of bench/bench_sparse_attention_gpu.c
// the lower bound can be moved with IC_SA_MMA_MIN_GS (1..17; 17 = never),
// read at every call; the default 3 puts SmolLM2's 9/3 here too: with the
// heads padded to 16 rows the tensor cores still have time to spare, and the
// CUDA-core kernel's serial shuffle / exp chain per row was what held its
// bf16 case at 1.76 TB/s (fp32, twice the bytes, ran at 2.86 TB/s).
static inline int sa_mma_min_gs(void) {
    const char *e = getenv("IC_SA_MMA_MIN_GS");
    const int v = e && *e ? atoi(e) : 3;
    return v < 1 ? 1 : v;
}
static inline int sa_mma_takes(int gs, int d, int packed) {
    return packed && gs >= sa_mma_min_gs() && gs <= 16 && (d == 64 || d == 128);
}

template <int D>
void sa_mma_launch(ic_ctx *ctx, __nv_bfloat16 *out, float *lse, const __nv_bfloat16 *q,
                   const __nv_bfloat16 *k, const __nv_bfloat16 *v, int L, int H, int Hkv,
                   const int32_t *idx, const int32_t *cnt, int K) {
    typedef sa_mma_cfg<D> C;
    const dim3 grid((unsigned)L, (unsigned)Hkv);
    IC_LAUNCH((sa_mma_kernel<D, C::NW, C::NS>), grid, (unsigned)(32 * C::NW), C::smem, ctx->stream,
              out, lse, q, k, v, idx, cnt, L, H, Hkv, K, H / Hkv, 1.0f / sqrtf((float)D));
}

}  // namespace ic_cuda

#endif
