/* The op context (docs/DESIGN.md section 2): which backend runs an op, its
 * stream, its workspace and the backend's library handles. Every op in
 * kernels/ takes an ic_ctx * first; every tensor it touches lives on the
 * context's device (host memory for IC_BACKEND_CPU, device memory for
 * IC_BACKEND_CUDA). This header is plain C and knows nothing of CUDA:
 * creating a context (which may open a stream and handles) is
 * kernels/ic_ctx.h's job; core only owns the struct and the workspace
 * arithmetic, which is the same on both devices.
 *
 * Workspace discipline. Ops never allocate. An op that needs scratch takes
 * it from ctx->ws with ic_ws_alloc and gives it back with ic_ws_release
 * before it returns (a stack: mark, alloc..., release to the mark). The
 * caller sized the arena beforehand with the op's _workspace_bytes query
 * (kernels/ic_ctx.h: ic_ctx_reserve). An op that finds the arena too small
 * aborts with file:line, the op, the bytes it needed and the capacity:
 * that is a caller's bug (a missing reserve), never an input error. */
#ifndef IC_CTX_H
#define IC_CTX_H

#include <stddef.h>
#include <stdint.h>

#include "ic_alloc.h"
#include "ic_tensor.h"

typedef enum { IC_BACKEND_CPU = 0, IC_BACKEND_CUDA = 1 } ic_backend_kind;

typedef struct ic_ctx {
    ic_backend_kind backend;
    int      device;       /* CUDA device ordinal (CUDA only, else -1) */
    void    *stream;       /* cudaStream_t the ops run on (CUDA only, else NULL) */
    ic_arena ws;           /* workspace on this context's device, bump allocated */
    void    *cublaslt;     /* cublasLtHandle_t (CUDA, from the teacher issue on) */
    void    *cudnn;        /* cudnnHandle_t    (CUDA, from the teacher issue on) */
    int      cpu_threads;  /* OpenMP threads the CPU ops may use */
    ic_dtype act_dtype;    /* storage of the teacher's weights and activations on this
                              context: IC_F32 on the CPU; IC_BF16 on CUDA (fp32
                              accumulate), IC_F32 there with IC_CUDA_FP32=1 */
    int64_t  n_ops;        /* ops dispatched through this context (the start-up
                              line test checks the backend that really ran) */
    char     desc[320];    /* "CPU (reason)" or "CUDA on GPU 0 (name, ...)" */
} ic_ctx;

/* Bytes rounded up to the workspace alignment (IC_ALIGN). Queries add
 * their pieces with this so that ic_ws_alloc of the same pieces fits. */
size_t ic_ws_round(size_t bytes);

/* Current top of the workspace stack. */
size_t ic_ws_mark(const ic_ctx *ctx);
/* Scratch of bytes (aligned to IC_ALIGN) on the context's device. Aborts
 * naming `op`, the request and the capacity when the arena is too small. */
void  *ic_ws_alloc_named(ic_ctx *ctx, size_t bytes, const char *op, const char *file, int line);
#define ic_ws_alloc(ctx, bytes, op) ic_ws_alloc_named((ctx), (bytes), (op), __FILE__, __LINE__)
/* Pops everything allocated since `mark`. */
void   ic_ws_release(ic_ctx *ctx, size_t mark);

/* Counts one dispatched op (called by every op's dispatcher). */
static inline void ic_ctx_count_op(ic_ctx *ctx) { ctx->n_ops++; }

#endif
