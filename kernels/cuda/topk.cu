// CUDA per-row top-k (kernels/ic_topk.h, kernels/ic_cuda_ops.h): one block
// per row, a radix select that reads the row from global memory twice in the
// common case, then a bitonic sort of the k winners. Output identical, bit
// for bit, to the CPU reference (kernels/cpu/topk.c), because both rank by
// the same unique 64-bit key (score_key(x) << 32) | ~s: the high half grows
// with the float (NaN lowest, -0 folded onto +0), the low half makes the
// lower position win a tie. "The k largest keys, descending" has one answer,
// so every step below may work on unordered sets (shared-memory appends in
// whatever order the threads arrive) and the result still cannot depend on
// the thread order.
//
// Per row of n = t + 1 candidates, k = min(K, n) (k == n rows, the short
// early causal ones, skip straight to the sort):
//  1. Global levels: a 4096-bin shared histogram of the next digit of the
//     score key (12, 12, then 8 bits; first the top 12: sign, exponent and 3
//     mantissa bits), over the keys that match the prefix fixed so far,
//     picks the bin holding the k-th largest key. One pass usually suffices:
//     it stops as soon as that bin holds <= kTopkCap keys (or exactly the
//     ones still wanted), else refines the score further (tied rows).
//  2. Collect pass: keys above the prefix go straight to keys[] (the
//     winners, < k of them), keys in the prefix bin go to cand[] (at most
//     kTopkCap; the histogram's memory, free by now). If that bin is wanted
//     whole, it goes to keys[] too and step 3 is skipped.
//  2'. Ties: when all 32 score bits are fixed and more than kTopkCap keys
//     still share that score T (flat rows, a run of equal scores at the
//     threshold), one ordered pass in increasing s takes the keys above T
//     and the first `want` positions equal to T (block prefix counts), and
//     steps 2-3 are skipped. At most 4 reads of the row in all.
//  3. Shared refine: the same radix select, 8 bits a level over the
//     candidates in shared memory, until the chosen bin is exactly the keys
//     still wanted; the candidates at or above the final prefix join keys[].
//     Keys are unique, so this always ends (at the latest on a bin of one).
//  4. Bitonic sort (descending) of the k keys, padded to a power of two
//     (>= 32) with 0 (below every real key: a real key's low half ~s has its
//     top bit set), in 16 KiB of shared memory (K <= 2048); strides below 32
//     by warp shuffles in registers, so few block barriers.
// All decisions depend only on exact counts, never on arrival order.
// Rows are handed out longest first (block b -> row t1 - 1 - b); two blocks
// of 512 threads share an SM, so one's sort overlaps the other's loads, and
// the second read of a row (<= 512 KiB) mostly hits L2.
#include "kernels/cuda/ic_cuda_rt.cuh"
#include "kernels/cuda/ic_cuda_util.cuh"

extern "C" {
#include "core/ic_ctx.h"
#include "kernels/ic_cuda_ops.h"
}

namespace ic_cuda {  // named, so the mangled kernel names are stable

const unsigned kTopkThreads = 512;  // = the kernel's __launch_bounds__
const int kTopkMaxK = 2048;         // keys in shared memory for the sort
const int kTopkBins = 4096;         // 12-bit digits over the global row
const int kTopkCap = 3072;          // candidates kept in shared memory
const int kTopkUnroll = 8;          // loads in flight per thread and row pass

// The block's shared memory (about 42 KiB, under the 48 KiB static limit).
struct TopkSmem {
    union {
        unsigned hist[kTopkBins];            // step 1
        unsigned long long cand[kTopkCap];   // steps 2-3
    } u;
    unsigned long long keys[kTopkMaxK];      // the k winners, then sorted
    unsigned hist8[256];                     // step 3
    unsigned wtot[32];                       // per-warp sums of the bin search
    unsigned sel[3];                         // chosen bin, count above it, its count
    unsigned wsum[2][32];                    // per-warp counts of the ordered pass
    unsigned nkeys, ncand;                   // append counters
};

// Monotone float -> uint32 (kernels/cpu/topk.c's score_key, on the bits so
// that no flush-to-zero of denormals can enter): NaN -> 0 (below -inf's
// 0x007FFFFF), -0 and +0 -> 0x80000000.
__device__ __forceinline__ unsigned topk_score_key(float x) {
    unsigned b = __float_as_uint(x);
    const unsigned a = b & 0x7fffffffu;
    if (a > 0x7f800000u) return 0u;
    if (a == 0u) b = 0u;
    return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

__device__ __forceinline__ unsigned long long topk_full_key(unsigned sk, int s) {
    return (unsigned long long)sk << 32 | (unsigned long long)(~(unsigned)s);
}

// Block-wide: among hist[0..nb) (a higher bin holds larger keys), the bin b
// with acc < want <= acc + hist[b], acc = the keys in the bins above b; it
// exists when the bins hold >= want keys. Writes sel = {b, acc, hist[b]}.
// The caller has a barrier after the histogram; this ends with one, after
// which every thread may read sel (and hist may be rewritten).
__device__ __forceinline__ void topk_find_bin(const unsigned *hist, int nb, unsigned want,
                                              unsigned *wtot, unsigned *sel) {
    const int tid = (int)threadIdx.x, nthr = (int)blockDim.x;
    const int lane = tid & 31, w = tid >> 5, nw = nthr >> 5;
    const int per = (nb + nthr - 1) / nthr, lo = tid * per;
    const int hi = lo + per < nb ? lo + per : nb;
    unsigned local = 0u;
    for (int i = lo; i < hi; i++) local += hist[i];
    unsigned suf = local;  // inclusive suffix sum over the warp's lanes
    for (int o = 1; o < 32; o <<= 1) {
        const unsigned v = __shfl_down_sync(0xffffffffu, suf, o);
        if (lane + o < 32) suf += v;
    }
    if (lane == 0) wtot[w] = suf;
    __syncthreads();
    unsigned acc = suf - local;  // keys in the bins above this thread's
    for (int i = w + 1; i < nw; i++) acc += wtot[i];
    if (acc < want && want <= acc + local) {  // exactly one thread of the block
        for (int i = hi - 1; i >= lo; i--) {
            const unsigned c = hist[i];
            if (want <= acc + c) {
                sel[0] = (unsigned)i;
                sel[1] = acc;
                sel[2] = c;
                break;
            }
            acc += c;
        }
    }
    __syncthreads();
}

// One pass over the row's n keys, kTopkUnroll loads in flight per thread
// (positions in increasing order per thread; the order is irrelevant to the
// callers, which only count and append). f(score key, s).
template <typename F>
__device__ __forceinline__ void topk_row_pass(const float *__restrict__ row, int n, F f) {
    const int tid = (int)threadIdx.x, nthr = (int)blockDim.x;
    for (int base = 0; base < n; base += kTopkUnroll * nthr) {
        unsigned sk[kTopkUnroll];
        for (int j = 0; j < kTopkUnroll; j++) {
            const int s = base + j * nthr + tid;
            sk[j] = s < n ? topk_score_key(row[s]) : 0u;
        }
        for (int j = 0; j < kTopkUnroll; j++) {
            const int s = base + j * nthr + tid;
            if (s < n) f(sk[j], s);
        }
    }
}

// The bitonic stages of sizes size_lo..size_hi (powers of two) whose strides
// are < 32, done in registers: warp w takes the aligned 32-key chunks w,
// w + nw, ... (lane l holds key 32c + l) and exchanges by shuffles. For a
// pair (lo, lo + stride) of a size-`size` stage the lower slot keeps the
// larger key iff (lo & size) == 0 (a descending run); both slots share that
// bit since stride < size.
__device__ __forceinline__ void topk_sort_warp(unsigned long long *keys, int P2, int size_lo,
                                               int size_hi) {
    const int lane = (int)threadIdx.x & 31, w = (int)threadIdx.x >> 5, nw = (int)blockDim.x >> 5;
    for (int c = w; c < (P2 >> 5); c += nw) {  // uniform per warp
        const int i = (c << 5) | lane;
        unsigned long long v = keys[i];
        for (int size = size_lo; size <= size_hi; size <<= 1) {
            const bool desc = (i & size) == 0;
            for (int stride = size >= 32 ? 16 : size >> 1; stride > 0; stride >>= 1) {
                const unsigned uh = __shfl_xor_sync(0xffffffffu, (unsigned)(v >> 32), stride);
                const unsigned ul = __shfl_xor_sync(0xffffffffu, (unsigned)v, stride);
                const unsigned long long u = (unsigned long long)uh << 32 | ul;
                const bool lower = (lane & stride) == 0;
                const bool keep_max = lower == desc;
                v = (keep_max ? u > v : u < v) ? u : v;
            }
        }
        keys[i] = v;
    }
}

// Bitonic sort, descending, of keys[0..P2), P2 a power of two >= 32, by the
// whole block; starts and ends on a barrier. The strides >= 32 go through
// shared memory (one barrier each), the others through topk_sort_warp (one
// barrier per size): 28 barriers for P2 = 2048 instead of 66.
__device__ __forceinline__ void topk_sort_desc(unsigned long long *keys, int P2) {
    const int tid = (int)threadIdx.x, nthr = (int)blockDim.x;
    topk_sort_warp(keys, P2, 2, 32);
    __syncthreads();
    for (int size = 64; size <= P2; size <<= 1) {
        for (int stride = size >> 1; stride >= 32; stride >>= 1) {
            for (int i = tid; i < (P2 >> 1); i += nthr) {
                const int lo = ((i & ~(stride - 1)) << 1) | (i & (stride - 1)), hi = lo + stride;
                const bool desc = (lo & size) == 0;
                const unsigned long long a = keys[lo], b = keys[hi];
                if ((a < b) == desc) { keys[lo] = b; keys[hi] = a; }
            }
            __syncthreads();
        }
        topk_sort_warp(keys, P2, size, size);
        __syncthreads();
    }
}

__global__ void __launch_bounds__(512, 2)
topk_rows_kernel(int32_t *__restrict__ idx, int32_t *__restrict__ cnt,
                 const float *__restrict__ S, int ld, int t0, int t1, int K) {
    __shared__ TopkSmem sm;

    const int tid = (int)threadIdx.x, nthr = (int)blockDim.x;
    const int t = t1 - 1 - (int)blockIdx.x;
    const float *row = S + (size_t)(t - t0) * (size_t)ld;
    const int n = t + 1, k = K < n ? K : n;

    if (k == n) {
        for (int s = tid; s < n; s += nthr) sm.keys[s] = topk_full_key(topk_score_key(row[s]), s);
    } else {
        if (tid == 0) { sm.nkeys = 0u; sm.ncand = 0u; }  // first read after the barriers below
        unsigned *hist = sm.u.hist;
        // 1. global levels. The prefix P over the mask M (top bits 63..sh)
        // fixed so far; want = the keys still wanted from inside it.
        unsigned long long P = 0ull, M = 0ull;
        unsigned want = (unsigned)k, count = (unsigned)n;
        int sh = 64;
        for (;;) {
            const int d = sh - 32 >= 12 ? 12 : sh - 32;  // 12, 12, 8: the score half
            sh -= d;
            const unsigned nb = 1u << d;
            for (unsigned i = (unsigned)tid; i < nb; i += (unsigned)nthr) hist[i] = 0u;
            __syncthreads();
            if (sh == 52) {  // the first level: every key, the top 12 bits
                topk_row_pass(row, n, [&](unsigned sk, int) { atomicAdd(&hist[sk >> 20], 1u); });
            } else {
                const unsigned ph = (unsigned)(P >> 32), mh = (unsigned)(M >> 32);
                const int s32 = sh - 32;
                topk_row_pass(row, n, [&](unsigned sk, int) {
                    if ((sk & mh) == ph) atomicAdd(&hist[(sk >> s32) & (nb - 1u)], 1u);
                });
            }
            __syncthreads();
            topk_find_bin(hist, (int)nb, want, sm.wtot, sm.sel);
            want -= sm.sel[1];
            count = sm.sel[2];
            P |= (unsigned long long)sm.sel[0] << sh;
            M |= (unsigned long long)(nb - 1u) << sh;
            if (count <= (unsigned)kTopkCap || count == want || sh == 32) break;  // uniform
        }
        const bool whole = count == want;
        const unsigned ph = (unsigned)(P >> 32), mh = (unsigned)(M >> 32);
        if (!whole && count > (unsigned)kTopkCap) {
            // 2'. ties: more than kTopkCap keys share the k-th score T = ph
            // (sh == 32); the want lowest positions among them are taken, in
            // one ordered pass: chunks of nthr positions in increasing s,
            // flags (above T) | (equal to T) << 16 placed by a block-wide
            // prefix count (a block has <= 1024 threads: no half overflows).
            // wsum alternates by chunk: chunk c + 2 rewrites chunk c's counts
            // only after the barrier of chunk c + 1, which every reader of
            // chunk c has passed, so one barrier a chunk suffices.
            const int lane = tid & 31, w = tid >> 5, nw = nthr >> 5;
            const int c_gt = k - (int)want, r = (int)want;
            int run_gt = 0, run_eq = 0;  // the same in every thread
            for (int base = 0, buf = 0; base < n; base += nthr, buf ^= 1) {
                const int s = base + tid;
                const unsigned key = s < n ? topk_score_key(row[s]) : 0u;
                const int gt = s < n && key > ph, eq = s < n && key == ph;
                const unsigned v = (unsigned)gt | (unsigned)eq << 16;
                unsigned incl = v;
                for (int o = 1; o < 32; o <<= 1) {
                    const unsigned u = __shfl_up_sync(0xffffffffu, incl, o);
                    if (lane >= o) incl += u;
                }
                if (lane == 31) sm.wsum[buf][w] = incl;
                __syncthreads();
                unsigned before = 0u, total = 0u;
                for (int i = 0; i < nw; i++) {
                    const unsigned x = sm.wsum[buf][i];
                    if (i < w) before += x;
                    total += x;
                }
                const unsigned excl = before + incl - v;
                if (gt) sm.keys[run_gt + (int)(excl & 0xffffu)] = topk_full_key(key, s);
                if (eq) {
                    const int o = run_eq + (int)(excl >> 16);
                    if (o < r) sm.keys[c_gt + o] = topk_full_key(key, s);
                }
                run_gt += (int)(total & 0xffffu);
                run_eq += (int)(total >> 16);
                if (run_gt >= c_gt && run_eq >= r) break;  // uniform: same values everywhere
            }
        } else {
            // 2. collect: above the prefix -> keys; in it -> cand (or keys, whole)
            topk_row_pass(row, n, [&](unsigned sk, int s) {
                const unsigned m = sk & mh;
                if (m > ph || (whole && m == ph)) sm.keys[atomicAdd(&sm.nkeys, 1u)] = topk_full_key(sk, s);
                else if (m == ph) sm.u.cand[atomicAdd(&sm.ncand, 1u)] = topk_full_key(sk, s);
            });
            __syncthreads();
            // 3. shared refine over the count candidates, from bit sh >= 32
            // down (keys are unique: it ends, at the latest, on a bin of one)
            if (!whole) {
                const int nc = (int)count;
                for (;;) {
                    const int d = sh >= 8 ? 8 : sh;
                    sh -= d;
                    const unsigned nb = 1u << d;
                    for (unsigned i = (unsigned)tid; i < nb; i += (unsigned)nthr) sm.hist8[i] = 0u;
                    __syncthreads();
                    for (int i = tid; i < nc; i += nthr) {
                        const unsigned long long key = sm.u.cand[i];
                        if ((key & M) == P) atomicAdd(&sm.hist8[(unsigned)(key >> sh) & (nb - 1u)], 1u);
                    }
                    __syncthreads();
                    topk_find_bin(sm.hist8, (int)nb, want, sm.wtot, sm.sel);
                    want -= sm.sel[1];
                    count = sm.sel[2];
                    P |= (unsigned long long)sm.sel[0] << sh;
                    M |= (unsigned long long)(nb - 1u) << sh;
                    if (count == want) break;  // uniform
                }
                for (int i = tid; i < nc; i += nthr) {
                    const unsigned long long key = sm.u.cand[i];
                    if ((key & M) >= P) sm.keys[atomicAdd(&sm.nkeys, 1u)] = key;
                }
            }
        }
    }

    // 4. bitonic sort, descending, over P2 = the power of two >= max(k, 32)
    // (the padding slots are >= k, past every append above)
    int P2 = 32;
    while (P2 < k) P2 <<= 1;
    for (int i = k + tid; i < P2; i += nthr) sm.keys[i] = 0ull;
    __syncthreads();
    topk_sort_desc(sm.keys, P2);

    int32_t *out = idx + (size_t)t * (size_t)K;
    for (int m = tid; m < K; m += nthr)
        out[m] = m < k ? (int32_t)~(unsigned)sm.keys[m] : -1;
    if (tid == 0) cnt[t] = k;
}

}  // namespace ic_cuda

using namespace ic_cuda;

extern "C" void ic_topk_forward_cuda(ic_ctx *ctx, int32_t *idx, int32_t *cnt, const float *S,
                                     int ld, int t0, int t1, int K) {
    IC_ASSERT(ctx != NULL && idx != NULL && cnt != NULL && S != NULL);
    IC_ASSERT(K >= 1 && K <= kTopkMaxK && 0 <= t0 && t0 <= t1 && ld >= t1);
    if (t1 == t0) return;
    // whole warps, enough for the longest row, at most the launch bound
    const unsigned threads = ic_threads_for((size_t)t1, kTopkThreads);
    IC_LAUNCH(topk_rows_kernel, (unsigned)(t1 - t0), threads, 0, ctx->stream,
              idx, cnt, S, ld, t0, t1, K);
}
