// The validation ops on device buffers (kernels/ic_validate.h). A kernel
// finds the first bad row / position (atomicMin into one int of workspace);
// the host downloads that int and, when something is bad, the one offending
// row, and builds the CPU path's message from it (the same text: the host
// re-checks that row with the CPU's rules). Runs once per window where data
// enters, so one sync per call is acceptable.
//
// Index sets: one block per row. Range checks first; then distinctness by a
// bitonic sort of the row in shared memory (cnt <= K <= 2048, padded to a
// power of two with values past t, which no valid entry equals) and a scan
// for equal neighbours: O(K log^2 K) per row whatever L is.
#include "kernels/cuda/ic_cuda_rt.cuh"
#include "kernels/cuda/ic_cuda_util.cuh"

#include <stdint.h>
#include <stdlib.h>

extern "C" {
#include "core/ic_ctx.h"
#include "kernels/ic_cuda_ops.h"
#include "kernels/ic_validate.h"
}

namespace ic_cuda {  // named, so the mangled kernel names are stable

const int kVsMaxK = 2048;        // shared sort buffer (= the top-k op's K limit)
const unsigned kVsThreads = 256; // = __launch_bounds__

__global__ void __launch_bounds__(256)
index_sets_check_kernel(int *__restrict__ first_bad, const int32_t *__restrict__ idx,
                        const int32_t *__restrict__ cnt, int K) {
    __shared__ int32_t s[kVsMaxK];
    __shared__ int bad;
    const int t = (int)blockIdx.x;
    const int n = cnt[t], nmax = K < t + 1 ? K : t + 1;
    if (n < 1 || n > nmax) {            // uniform over the block: no barrier reached yet
        if (threadIdx.x == 0) atomicMin(first_bad, t);
        return;
    }
    if (threadIdx.x == 0) bad = 0;
    int P = 1;
    while (P < n) P <<= 1;
    __syncthreads();
    const int32_t *row = idx + (size_t)t * (size_t)K;
    for (int i = (int)threadIdx.x; i < P; i += (int)blockDim.x) {
        int32_t v;
        if (i < n) {
            v = row[i];
            if (v < 0 || v > t) bad = 1;
        } else {
            v = t + 1 + (i - n);         // distinct pads past every valid entry
        }
        s[i] = v;
    }
    __syncthreads();
    if (bad) {                           // read after the barrier: uniform
        if (threadIdx.x == 0) atomicMin(first_bad, t);
        return;
    }
    for (int k = 2; k <= P; k <<= 1)
        for (int j = k >> 1; j > 0; j >>= 1) {
            for (int i = (int)threadIdx.x; i < P; i += (int)blockDim.x) {
                const int p = i ^ j;
                if (p > i) {
                    const int32_t a = s[i], b = s[p];
                    const int up = (i & k) == 0;
                    if (up ? a > b : a < b) { s[i] = b; s[p] = a; }
                }
            }
            __syncthreads();
        }
    for (int i = (int)threadIdx.x; i + 1 < n; i += (int)blockDim.x)
        if (s[i] == s[i + 1]) bad = 1;
    __syncthreads();
    if (threadIdx.x == 0 && bad) atomicMin(first_bad, t);
}

__global__ void __launch_bounds__(256)
tokens_check_kernel(int *__restrict__ first_bad, const int32_t *__restrict__ tokens, int L,
                    int V) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (size_t)L;
         i += (size_t)gridDim.x * blockDim.x)
        if (tokens[i] < 0 || tokens[i] >= V) atomicMin(first_bad, (int)i);
}

// The int the kernels reduce into: L (nothing bad) before the launch.
static int *first_bad_slot(ic_ctx *ctx, int L) {
    int *d = (int *)ic_ws_alloc(ctx, sizeof(int), "validation");
    cuda_check(cudaMemcpyAsync(d, &L, sizeof L, cudaMemcpyHostToDevice, (cudaStream_t)ctx->stream));
    return d;
}

static int first_bad_get(ic_ctx *ctx, const int *d) {
    int h = 0;
    cuda_check(cudaMemcpyAsync(&h, d, sizeof h, cudaMemcpyDeviceToHost, (cudaStream_t)ctx->stream));
    cuda_check(cudaStreamSynchronize((cudaStream_t)ctx->stream));
    return h;
}

}  // namespace ic_cuda

using namespace ic_cuda;

extern "C" size_t ic_validate_workspace_bytes_cuda(const ic_ctx *ctx) {
    (void)ctx;
    return ic_ws_round(sizeof(int));
}

extern "C" int ic_index_sets_check_cuda(ic_ctx *ctx, const int32_t *idx, const int32_t *cnt,
                                        int L, int K, ic_error *err) {
    IC_ASSERT(ctx != NULL && L >= 0 && K >= 1);
    if (L == 0) return 0;
    if (K > kVsMaxK)
        IC_FATAL("index sets check: K = %d exceeds the CUDA kernel's %d", K, kVsMaxK);
    const size_t mark = ic_ws_mark(ctx);
    int *d = first_bad_slot(ctx, L);
    int PK = 1;   // the widest row's sort size: threads beyond it would idle
    while (PK < K) PK <<= 1;
    IC_LAUNCH(index_sets_check_kernel, (unsigned)L, ic_threads_for((size_t)PK, kVsThreads), 0,
              ctx->stream, d, idx, cnt, K);
    const int t = first_bad_get(ctx, d);
    ic_ws_release(ctx, mark);
    if (t >= L) return 0;
    // the message: the CPU's rules on the one bad row, on the host
    int32_t n = 0;
    int32_t *row = (int32_t *)malloc(sizeof(int32_t) * (size_t)K);
    IC_ASSERT(row != NULL);
    cuda_check(cudaMemcpyAsync(&n, cnt + t, sizeof n, cudaMemcpyDeviceToHost,
                               (cudaStream_t)ctx->stream));
    cuda_check(cudaMemcpyAsync(row, idx + (size_t)t * (size_t)K, sizeof(int32_t) * (size_t)K,
                               cudaMemcpyDeviceToHost, (cudaStream_t)ctx->stream));
    cuda_check(cudaStreamSynchronize((cudaStream_t)ctx->stream));
    const int rc = ic_index_set_row_message(row, n, t, K, err);
    free(row);
    IC_ASSERT(rc != 0);   // the kernel and the host rules disagree: a bug
    return rc;
}

extern "C" int ic_tokens_check_cuda(ic_ctx *ctx, const int32_t *tokens, int L, int V,
                                    ic_error *err) {
    IC_ASSERT(ctx != NULL && L >= 0 && V > 0);
    if (L == 0) return 0;
    const size_t mark = ic_ws_mark(ctx);
    int *d = first_bad_slot(ctx, L);
    IC_LAUNCH(tokens_check_kernel, ic_grid_for((size_t)L, kVsThreads), kVsThreads, 0,
              ctx->stream, d, tokens, L, V);
    const int p = first_bad_get(ctx, d);
    ic_ws_release(ctx, mark);
    if (p >= L) return 0;
    int32_t tok = 0;
    cuda_check(cudaMemcpyAsync(&tok, tokens + p, sizeof tok, cudaMemcpyDeviceToHost,
                               (cudaStream_t)ctx->stream));
    cuda_check(cudaStreamSynchronize((cudaStream_t)ctx->stream));
    return ic_error_set(err, "token %d at position %d is outside the vocabulary [0, %d)", tok, p,
                        V);
}
