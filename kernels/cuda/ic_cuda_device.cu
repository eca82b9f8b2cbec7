// The CUDA side of kernels/ic_ctx.h: devices, streams, device memory. A
// machine with the toolkit but no driver or GPU (CI) answers with an error
// from ic_cuda_device_count, and the CPU path runs.
#include <cublasLt.h>
#include <cuda_runtime.h>
#include <stdio.h>

#include "core/ic_check.h"

extern "C" {
#include "kernels/cuda/ic_attention_cuda.h"
#include "kernels/ic_ctx.h"
}

extern "C" int ic_cuda_compiled(void) { return 1; }

extern "C" int ic_cuda_device_count(char *why, int why_len) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        snprintf(why, (size_t)why_len, "no usable GPU: %s", cudaGetErrorString(e));
        cudaGetLastError();  // clear the sticky error so later probes start clean
        return 0;
    }
    if (n == 0) snprintf(why, (size_t)why_len, "no GPU found");
    return n;
}

extern "C" int ic_cuda_ctx_open(ic_ctx *ctx, int device, char *why, int why_len) {
    int n = ic_cuda_device_count(why, why_len);
    if (n <= 0) return -1;
    if (device < 0 || device >= n) {
        snprintf(why, (size_t)why_len, "GPU %d requested, %d present", device, n);
        return -1;
    }
    cudaError_t e = cudaSetDevice(device);
    cudaDeviceProp p;
    if (e == cudaSuccess) e = cudaGetDeviceProperties(&p, device);
    cudaStream_t s = NULL;
    if (e == cudaSuccess) e = cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
    if (e != cudaSuccess) {
        snprintf(why, (size_t)why_len, "cannot use GPU %d: %s", device, cudaGetErrorString(e));
        cudaGetLastError();
        return -1;
    }
    // The cuBLASLt handle of the GEMMs (kernels/cuda/matmul_cublaslt.cu): made once
    // with the context, since creating one costs milliseconds.
    cublasLtHandle_t lt = NULL;
    cublasStatus_t bs = cublasLtCreate(&lt);
    if (bs != CUBLAS_STATUS_SUCCESS) {
        snprintf(why, (size_t)why_len, "cannot open cuBLASLt on GPU %d: %s", device,
                 cublasGetStatusString(bs));
        cudaStreamDestroy(s);
        return -1;
    }
    ctx->cublaslt = lt;
    ctx->stream = s;
    snprintf(ctx->desc, sizeof ctx->desc, "CUDA on GPU %d (%s, sm_%d%d, %d SMs, %.0f GiB)",
             device, p.name, p.major, p.minor, p.multiProcessorCount,
             (double)p.totalGlobalMem / (1024.0 * 1024.0 * 1024.0));
    return 0;
}

extern "C" void ic_cuda_ctx_close(ic_ctx *ctx) {
    ic_attention_cudnn_release(ctx);  // its cached plans and the cuDNN handle, before the stream
    if (ctx->cublaslt) cublas_check(cublasLtDestroy((cublasLtHandle_t)ctx->cublaslt));
    ctx->cublaslt = NULL;
    if (ctx->stream) cuda_check(cudaStreamDestroy((cudaStream_t)ctx->stream));
    ctx->stream = NULL;
}

extern "C" void *ic_cuda_malloc(size_t bytes) {
    void *p = NULL;
    if (cudaMalloc(&p, bytes) != cudaSuccess) { cudaGetLastError(); return NULL; }
    if (cudaMemset(p, 0, bytes) != cudaSuccess) { cudaFree(p); cudaGetLastError(); return NULL; }
    return p;
}

extern "C" void ic_cuda_free(void *p) { cuda_check(cudaFree(p)); }

extern "C" void ic_cuda_memcpy(ic_ctx *ctx, void *dst, const void *src, size_t bytes, int kind) {
    cudaStream_t s = (cudaStream_t)ctx->stream;
    cudaMemcpyKind k = kind == 0 ? cudaMemcpyHostToDevice
                     : kind == 1 ? cudaMemcpyDeviceToHost : cudaMemcpyDeviceToDevice;
    cuda_check(cudaMemcpyAsync(dst, src, bytes, k, s));
    // A download's host buffer is read right after; an upload's host buffer may
    // be freed right after (pageable memory is staged, but be explicit).
    if (kind != 2) cuda_check(cudaStreamSynchronize(s));
}

extern "C" void ic_cuda_memzero(ic_ctx *ctx, void *p, size_t bytes) {
    cuda_check(cudaMemsetAsync(p, 0, bytes, (cudaStream_t)ctx->stream));
}

extern "C" void ic_cuda_sync(ic_ctx *ctx) {
    cuda_check(cudaStreamSynchronize((cudaStream_t)ctx->stream));
    cuda_check(cudaGetLastError());
}
