// CUDA per-row top-k (kernels/ic_topk.h, kernels/ic_cuda_ops.h): one block
// per row, a radix select over the score keys in shared memory, then a
// bitonic sort of the k winners. Output identical, bit for bit, to the CPU
// reference (kernels/cpu/topk.c), because both rank by the same unique
// 64-bit key (score_key(x) << 32) | ~s: the high half grows with the float
// (NaN lowest, -0 folded onto +0), the low half makes the lower position win
// a tie. "The k largest keys, descending" has one answer.
//
// Per row of n = t + 1 candidates, k = min(K, n):
//  1. Radix select over the 32-bit score key, 8 bits a pass (4 passes, MSB
//     first, a 256-bin shared histogram built with shared atomics over the
//     candidates that match the digits fixed so far), reading the row from
//     global memory each pass (L2 keeps a 512 KiB row of 128K scores). It
//     yields the threshold key T of the k-th largest score and r, how many of
//     the candidates equal to T are kept; exactly k - r keys are above T.
//  2. Gather, in chunks of blockDim positions in increasing s: the keys above
//     T and the first r (lowest s) equal to T, placed by a block-wide prefix
//     count (warp shuffle scan + per-warp totals), so the slots do not
//     depend on the thread order. It stops once all k are found.
//  3. Bitonic sort (descending) of the k keys, padded to a power of two
//     with 0 (below every real key: a real key's low half ~s has its top bit
//     set), in 16 KiB of shared memory; K <= 2048.
// k == n (short rows) skips step 1: every candidate is taken.
// Rows are handed out longest first (block b -> row t1 - 1 - b).
#include "kernels/cuda/ic_cuda_rt.cuh"
#include "kernels/cuda/ic_cuda_util.cuh"

extern "C" {
#include "core/ic_ctx.h"
#include "kernels/ic_cuda_ops.h"
}

namespace ic_cuda {  // named, so the mangled kernel names are stable

const unsigned kTopkThreads = 512;  // = the kernel's __launch_bounds__
const int kTopkMaxK = 2048;         // keys in shared memory for the sort

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

__global__ void __launch_bounds__(512)
topk_rows_kernel(int32_t *__restrict__ idx, int32_t *__restrict__ cnt,
                 const float *__restrict__ S, int ld, int t0, int t1, int K) {
    __shared__ unsigned long long keys[kTopkMaxK];
    __shared__ unsigned hist[256];
    __shared__ unsigned wsum[2][32];  // per-warp counts, double-buffered by chunk
    __shared__ unsigned sel[2];  // the chosen bin, the count above it

    const int tid = (int)threadIdx.x, nthr = (int)blockDim.x;
    const int lane = tid & 31, w = tid >> 5, nw = nthr >> 5;
    const int t = t1 - 1 - (int)blockIdx.x;
    const float *row = S + (size_t)(t - t0) * (size_t)ld;
    const int n = t + 1, k = K < n ? K : n;

    if (k == n) {
        for (int s = tid; s < n; s += nthr) keys[s] = topk_full_key(topk_score_key(row[s]), s);
    } else {
        // 1. radix select: after the passes, prefix = T and want = r.
        unsigned prefix = 0u, mask = 0u, want = (unsigned)k;
        for (int shift = 24; shift >= 0; shift -= 8) {
            for (int i = tid; i < 256; i += nthr) hist[i] = 0u;
            __syncthreads();
            for (int s = tid; s < n; s += nthr) {
                const unsigned key = topk_score_key(row[s]);
                if ((key & mask) == prefix) atomicAdd(&hist[(key >> shift) & 255u], 1u);
            }
            __syncthreads();
            if (w == 0) {
                // lane l owns bins 8l..8l+7; bins of higher index hold larger keys
                unsigned c[8], local = 0u;
                for (int j = 0; j < 8; j++) { c[j] = hist[lane * 8 + j]; local += c[j]; }
                unsigned suf = local;  // inclusive suffix sum over the lanes
                for (int o = 1; o < 32; o <<= 1) {
                    const unsigned v = __shfl_down_sync(0xffffffffu, suf, o);
                    if (lane + o < 32) suf += v;
                }
                unsigned acc = suf - local;  // candidates in the bins above this lane's
                for (int j = 7; j >= 0; j--) {
                    if (acc < want && want <= acc + c[j]) {  // exactly one bin of the block
                        sel[0] = (unsigned)(lane * 8 + j);
                        sel[1] = acc;
                    }
                    acc += c[j];
                }
            }
            __syncthreads();
            want -= sel[1];
            prefix |= sel[0] << shift;
            mask |= 255u << shift;
            // sel and hist are next written after the next pass's first barrier
        }
        const unsigned T = prefix;
        const int r = (int)want, c_gt = k - r;

        // 2. gather: flags packed as (above T) | (equal to T) << 16 (a block
        // has <= 1024 threads, so neither half overflows).
        // wsum alternates by chunk: chunk c + 2 rewrites chunk c's counts only
        // after the barrier of chunk c + 1, which every reader of chunk c has
        // passed, so one barrier a chunk suffices.
        int run_gt = 0, run_eq = 0;  // the same in every thread
        for (int base = 0, buf = 0; base < n; base += nthr, buf ^= 1) {
            const int s = base + tid;
            const unsigned key = s < n ? topk_score_key(row[s]) : 0u;
            const int gt = s < n && key > T, eq = s < n && key == T;
            unsigned v = (unsigned)gt | (unsigned)eq << 16;
            unsigned incl = v;
            for (int o = 1; o < 32; o <<= 1) {
                const unsigned u = __shfl_up_sync(0xffffffffu, incl, o);
                if (lane >= o) incl += u;
            }
            if (lane == 31) wsum[buf][w] = incl;
            __syncthreads();
            unsigned before = 0u, total = 0u;
            for (int i = 0; i < nw; i++) {
                const unsigned x = wsum[buf][i];
                if (i < w) before += x;
                total += x;
            }
            const unsigned excl = before + incl - v;
            if (gt) keys[run_gt + (int)(excl & 0xffffu)] = topk_full_key(key, s);
            if (eq) {
                const int o = run_eq + (int)(excl >> 16);
                if (o < r) keys[c_gt + o] = topk_full_key(key, s);
            }
            run_gt += (int)(total & 0xffffu);
            run_eq += (int)(total >> 16);
            if (run_gt >= c_gt && run_eq >= r) break;  // uniform: same values everywhere
        }
    }

    // 3. bitonic sort, descending, over P = the power of two >= k
    int P = 1;
    while (P < k) P <<= 1;
    for (int i = k + tid; i < P; i += nthr) keys[i] = 0ull;
    __syncthreads();
    for (int size = 2; size <= P; size <<= 1) {
        for (int stride = size >> 1; stride > 0; stride >>= 1) {
            for (int i = tid; i < (P >> 1); i += nthr) {
                const int lo = ((i & ~(stride - 1)) << 1) | (i & (stride - 1)), hi = lo + stride;
                const bool desc = (lo & size) == 0;
                const unsigned long long a = keys[lo], b = keys[hi];
                if ((a < b) == desc) { keys[lo] = b; keys[hi] = a; }
            }
            __syncthreads();
        }
    }

    int32_t *out = idx + (size_t)t * (size_t)K;
    for (int m = tid; m < K; m += nthr)
        out[m] = m < k ? (int32_t)~(unsigned)keys[m] : -1;
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
