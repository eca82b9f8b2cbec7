// CUDA graphs of a context's stream (kernels/ic_ctx.h: ic_cuda_graph_*).
// Host code only: the teacher's batched prefill (model/ic_teacher_batch.c)
// records one batch's forward once and replays it, so the ~400 launches of
// a 30-layer forward cost one launch of host time each batch instead of
// ~400 (the 2K prefill was launch-bound: bench/RESULTS.md, "Teacher forward").
//
// Capture mode is thread-local: only this thread's calls on the stream are
// recorded, and a forbidden call made elsewhere in the process (another
// thread's cudaMalloc) does not invalidate the capture.
#include <cuda_runtime.h>
#include <stdio.h>

#include "core/ic_check.h"

extern "C" {
#include "kernels/ic_ctx.h"
}

extern "C" int ic_cuda_graph_begin(ic_ctx *ctx, char *why, int why_len) {
    cudaError_t e = cudaStreamBeginCapture((cudaStream_t)ctx->stream,
                                           cudaStreamCaptureModeThreadLocal);
    if (e != cudaSuccess) {
        snprintf(why, (size_t)why_len, "cudaStreamBeginCapture: %s", cudaGetErrorString(e));
        cudaGetLastError();
        return -1;
    }
    return 0;
}

extern "C" int ic_cuda_graph_end(ic_ctx *ctx, void **exec, char *why, int why_len) {
    *exec = NULL;
    cudaGraph_t g = NULL;
    cudaError_t e = cudaStreamEndCapture((cudaStream_t)ctx->stream, &g);
    if (e != cudaSuccess || g == NULL) {
        snprintf(why, (size_t)why_len, "cudaStreamEndCapture: %s",
                 cudaGetErrorString(e != cudaSuccess ? e : cudaErrorStreamCaptureInvalidated));
        cudaGetLastError();
        if (g) cudaGraphDestroy(g);
        return -1;
    }
    cudaGraphExec_t x = NULL;
    e = cudaGraphInstantiate(&x, g, 0);
    cudaGraphDestroy(g);   // the executable graph keeps what it needs
    if (e != cudaSuccess) {
        snprintf(why, (size_t)why_len, "cudaGraphInstantiate: %s", cudaGetErrorString(e));
        cudaGetLastError();
        return -1;
    }
    *exec = x;
    return 0;
}

extern "C" void ic_cuda_graph_launch(ic_ctx *ctx, void *exec) {
    IC_ASSERT(exec != NULL);
    cuda_check(cudaGraphLaunch((cudaGraphExec_t)exec, (cudaStream_t)ctx->stream));
}

extern "C" void ic_cuda_graph_destroy(void *exec) {
    if (exec) cuda_check(cudaGraphExecDestroy((cudaGraphExec_t)exec));
}
