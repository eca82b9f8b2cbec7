// CUDA LayerNorm with weight and bias (kernels/ic_layernorm.h, the indexer's
// k_norm): fp32 storage, as the indexer's activations are (they are trained).
//
// Forward and the dx part of the backward: one block per row. Like the CPU
// reference, the row sums are taken in double (per thread, then the
// warp-shuffle block sum) and rstd = 1/sqrt(var + eps) is formed in double:
// rsqrtf, then one Newton step in double (relative error ~1e-14 before the
// rounding to float). The element expressions are the CPU's.
//
// dweight / dbias are column sums over all rows. For a deterministic result
// (the trainer's bitwise resume needs it) there are no atomics: pass 1 sums
// fixed chunks of rows per block into double partials (workspace), pass 2
// adds the chunks of each column in chunk order. The chunk size depends on
// the shape only, so the result is the same on every run.
#include "kernels/cuda/ic_cuda_rt.cuh"
#include "kernels/cuda/ic_cuda_util.cuh"

extern "C" {
#include "core/ic_ctx.h"
#include "kernels/ic_cuda_ops.h"
}

namespace ic_cuda {  // named, so the mangled kernel names are stable

const unsigned kLnThreads = 128;   // = the row kernels' __launch_bounds__
const int kLnChunkMin = 256;       // rows per chunk of the column sums, at least
const int kLnChunksMax = 1024;     // chunks at most (the partials stay small)

// 1/sqrt(m) in double from the float estimate (one Newton step).
__device__ __forceinline__ double ln_rsqrt(double m) {
    double y = (double)rsqrtf((float)m);
    return y * (1.5 - 0.5 * m * y * y);
}

// y may equal x: every read of x happens before the second block sum's
// barrier, and the write pass reads each element in the thread that writes it.
__global__ void __launch_bounds__(128)
layernorm_fwd_kernel(float *y, float *__restrict__ mean, float *__restrict__ rstd, const float *x,
                     const float *__restrict__ weight, const float *__restrict__ bias, int n,
                     float eps) {
    __shared__ double red[32];
    const size_t off = (size_t)blockIdx.x * (size_t)n;
    const float *xr = x + off;
    double s = 0.0;
    for (int i = (int)threadIdx.x; i < n; i += (int)blockDim.x) s += (double)xr[i];
    const double mu = ic_block_sum(s, red) / (double)n;
    double v = 0.0;
    for (int i = (int)threadIdx.x; i < n; i += (int)blockDim.x) {
        const double c = (double)xr[i] - mu;
        v += c * c;
    }
    v = ic_block_sum(v, red);
    const double rs = ln_rsqrt(v / (double)n + (double)eps);
    float *yr = y + off;
    for (int i = (int)threadIdx.x; i < n; i += (int)blockDim.x)
        yr[i] = (float)(((double)xr[i] - mu) * rs) * weight[i] + bias[i];
    if (threadIdx.x == 0) {
        if (mean) mean[blockIdx.x] = (float)mu;
        if (rstd) rstd[blockIdx.x] = (float)rs;
    }
}

// dx += rstd * (gh - mean(gh) - xhat * mean(gh * xhat)), gh = dy * weight.
__global__ void __launch_bounds__(128)
layernorm_bwd_dx_kernel(float *__restrict__ dx, const float *__restrict__ dy,
                        const float *__restrict__ x, const float *__restrict__ mean,
                        const float *__restrict__ rstd, const float *__restrict__ weight, int n) {
    __shared__ double red[32];
    const size_t off = (size_t)blockIdx.x * (size_t)n;
    const float *xr = x + off, *gr = dy + off;
    const float mu = mean[blockIdx.x], rs = rstd[blockIdx.x];
    double sg = 0.0, sgx = 0.0;
    for (int i = (int)threadIdx.x; i < n; i += (int)blockDim.x) {
        const double gh = (double)gr[i] * weight[i];
        sg += gh;
        sgx += gh * ((double)(xr[i] - mu) * rs);
    }
    const double mg = ic_block_sum(sg, red) / (double)n;
    const double mgx = ic_block_sum(sgx, red) / (double)n;
    float *dxr = dx + off;
    for (int i = (int)threadIdx.x; i < n; i += (int)blockDim.x) {
        const double gh = (double)gr[i] * weight[i];
        const double xh = (double)(xr[i] - mu) * rs;
        dxr[i] += (float)(rs * (gh - mg - xh * mgx));
    }
}

// Pass 1 of the column sums: block (32, 8) covers 32 columns of one chunk of
// `chunk` rows; lane x reads column 32*blockIdx.x + x (coalesced), the 8
// warps take every 8th row, warp 0 adds the 8 partials in warp order.
__global__ void __launch_bounds__(256)
layernorm_bwd_cols_kernel(double *__restrict__ part_w, double *__restrict__ part_b,
                          const float *__restrict__ dy, const float *__restrict__ x,
                          const float *__restrict__ mean, const float *__restrict__ rstd,
                          int rows, int n, int chunk) {
    __shared__ double sw_sh[8][32], sb_sh[8][32];
    const int col = (int)(blockIdx.x * 32u + threadIdx.x);
    const int r0 = (int)blockIdx.y * chunk;
    const int r1 = r0 + chunk < rows ? r0 + chunk : rows;
    double sw = 0.0, sb = 0.0;
    if (col < n)
        for (int r = r0 + (int)threadIdx.y; r < r1; r += 8) {
            const size_t e = (size_t)r * (size_t)n + (size_t)col;
            const double g = (double)dy[e];
            sw += g * ((double)(x[e] - mean[r]) * rstd[r]);
            sb += g;
        }
    sw_sh[threadIdx.y][threadIdx.x] = sw;
    sb_sh[threadIdx.y][threadIdx.x] = sb;
    __syncthreads();
    if (threadIdx.y == 0 && col < n) {
        double tw = 0.0, tb = 0.0;
        for (int w = 0; w < 8; w++) {
            tw += sw_sh[w][threadIdx.x];
            tb += sb_sh[w][threadIdx.x];
        }
        part_w[(size_t)blockIdx.y * (size_t)n + (size_t)col] = tw;
        part_b[(size_t)blockIdx.y * (size_t)n + (size_t)col] = tb;
    }
}

// Pass 2: one thread per column adds the chunks in chunk order.
__global__ void __launch_bounds__(256)
layernorm_bwd_reduce_kernel(float *__restrict__ dweight, float *__restrict__ dbias,
                            const double *__restrict__ part_w, const double *__restrict__ part_b,
                            int n, int chunks) {
    const int col = (int)(blockIdx.x * blockDim.x + threadIdx.x);
    if (col >= n) return;
    double tw = 0.0, tb = 0.0;
    for (int c = 0; c < chunks; c++) {
        tw += part_w[(size_t)c * (size_t)n + (size_t)col];
        tb += part_b[(size_t)c * (size_t)n + (size_t)col];
    }
    if (dweight) dweight[col] += (float)tw;
    if (dbias) dbias[col] += (float)tb;
}

// Rows per chunk and the number of chunks for `rows` rows (shape only).
static void ln_chunks(int rows, int *chunk, int *chunks) {
    int c = (rows + kLnChunksMax - 1) / kLnChunksMax;
    if (c < kLnChunkMin) c = kLnChunkMin;
    *chunk = c;
    *chunks = rows > 0 ? (rows + c - 1) / c : 0;
}

}  // namespace ic_cuda

using namespace ic_cuda;

extern "C" void ic_layernorm_forward_cuda(ic_ctx *ctx, float *y, float *mean, float *rstd,
                                          const float *x, const float *weight, const float *bias,
                                          int rows, int n, float eps) {
    IC_ASSERT(ctx != NULL && y && x && weight && bias && rows >= 0 && n > 0);
    if (rows == 0) return;
    const unsigned threads = ic_threads_for((size_t)n, kLnThreads);
    IC_LAUNCH(layernorm_fwd_kernel, (unsigned)rows, threads, 0, ctx->stream, y, mean, rstd, x,
              weight, bias, n, eps);
}

extern "C" size_t ic_layernorm_backward_workspace_bytes_cuda(const ic_ctx *ctx, int rows, int n) {
    (void)ctx;
    int chunk, chunks;
    ln_chunks(rows, &chunk, &chunks);
    return 2 * ic_ws_round(sizeof(double) * (size_t)chunks * (size_t)(n > 0 ? n : 1));
}

extern "C" void ic_layernorm_backward_cuda(ic_ctx *ctx, float *dx, float *dweight, float *dbias,
                                           const float *dy, const float *x, const float *mean,
                                           const float *rstd, const float *weight, int rows,
                                           int n) {
    IC_ASSERT(ctx != NULL && dy && x && mean && rstd && weight && rows >= 0 && n > 0);
    if (rows == 0) return;
    if (dx) {
        const unsigned threads = ic_threads_for((size_t)n, kLnThreads);
        IC_LAUNCH(layernorm_bwd_dx_kernel, (unsigned)rows, threads, 0, ctx->stream, dx, dy, x,
                  mean, rstd, weight, n);
    }
    if (!dweight && !dbias) return;
    int chunk, chunks;
    ln_chunks(rows, &chunk, &chunks);
    const size_t mark = ic_ws_mark(ctx);
    const size_t pn = (size_t)chunks * (size_t)n;
    double *pw = (double *)ic_ws_alloc(ctx, sizeof(double) * pn, "layernorm backward");
    double *pb = (double *)ic_ws_alloc(ctx, sizeof(double) * pn, "layernorm backward");
    const dim3 block(32, 8, 1), grid((unsigned)((n + 31) / 32), (unsigned)chunks, 1);
    IC_LAUNCH(layernorm_bwd_cols_kernel, grid, block, 0, ctx->stream, pw, pb, dy, x, mean, rstd,
              rows, n, chunk);
    IC_LAUNCH(layernorm_bwd_reduce_kernel, (unsigned)((n + 255) / 256), 256u, 0, ctx->stream,
              dweight, dbias, (const double *)pw, (const double *)pb, n, chunks);
    ic_ws_release(ctx, mark);
}
