/* Built instead of kernels/cuda when CUDA is off: no CUDA context can be
 * opened, so no op ever dispatches to a _cuda function. */
#include <stdio.h>

#include "ic_check.h"
#include "kernels/ic_ctx.h"

int ic_cuda_compiled(void) { return 0; }

int ic_cuda_device_count(char *why, int why_len) {
    snprintf(why, (size_t)why_len, "built without CUDA");
    return 0;
}

int ic_cuda_ctx_open(ic_ctx *ctx, int device, char *why, int why_len) {
    (void)ctx; (void)device;
    snprintf(why, (size_t)why_len, "built without CUDA");
    return -1;
}

void  ic_cuda_ctx_close(ic_ctx *ctx) { (void)ctx; }
void *ic_cuda_malloc(size_t bytes) { (void)bytes; return NULL; }
void  ic_cuda_free(void *p) { IC_ASSERT(p == NULL); }
void  ic_cuda_memcpy(ic_ctx *ctx, void *dst, const void *src, size_t bytes, int kind) {
    (void)ctx; (void)dst; (void)src; (void)bytes; (void)kind;
    IC_FATAL("CUDA memcpy in a build without CUDA");
}
void  ic_cuda_memzero(ic_ctx *ctx, void *p, size_t bytes) {
    (void)ctx; (void)p; (void)bytes;
    IC_FATAL("CUDA memset in a build without CUDA");
}
void  ic_cuda_sync(ic_ctx *ctx) { (void)ctx; }

int ic_cuda_graph_begin(ic_ctx *ctx, char *why, int why_len) {
    (void)ctx;
    snprintf(why, (size_t)why_len, "built without CUDA");
    return -1;
}
int ic_cuda_graph_end(ic_ctx *ctx, void **exec, char *why, int why_len) {
    (void)ctx; *exec = NULL;
    snprintf(why, (size_t)why_len, "built without CUDA");
    return -1;
}
void ic_cuda_graph_launch(ic_ctx *ctx, void *exec) {
    (void)ctx; (void)exec;
    IC_FATAL("CUDA graph launch in a build without CUDA");
}
void ic_cuda_graph_destroy(void *exec) { IC_ASSERT(exec == NULL); }
