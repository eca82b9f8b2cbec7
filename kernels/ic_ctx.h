/* Creating op contexts and moving memory on their devices (the struct and
 * the workspace rules are in core/ic_ctx.h). Model, train and optim code
 * allocate tensors with ic_buf_alloc and copy with ic_buf_upload /
 * ic_buf_download, so they never know which device holds a buffer; they
 * download only what they print, check or write to disk. */
#ifndef IC_KERNELS_CTX_H
#define IC_KERNELS_CTX_H

#include <stddef.h>

#include "core/ic_ctx.h"
#include "core/ic_error.h"

/* A context on the given backend. device: the CUDA ordinal (ignored on the
 * CPU). ws_bytes: initial workspace (may be 0; grow with ic_ctx_reserve).
 * Fails (never aborts) when the backend is not built or no device answers,
 * with the reason in err. */
int  ic_ctx_init(ic_ctx *ctx, ic_backend_kind backend, int device, size_t ws_bytes, ic_error *err);
void ic_ctx_free(ic_ctx *ctx);

/* The op families a command needs (a bit mask). A command's context goes to
 * CUDA only when every family it needs has CUDA kernels. */
enum {
    IC_NEED_TEACHER = 1,  /* dense teacher: embedding, norms, GEMMs, attention, LM head, decode */
    IC_NEED_DSA     = 2,  /* indexer forward, top-k, sparse attention */
    IC_NEED_TRAIN   = 4,  /* dense-stage distillation loss, indexer backward, AdamW */
    IC_NEED_ALL     = 7,
    IC_NEED_TRAIN_SPARSE = 16, /* the sparse-stage distillation loss */
    IC_NEED_HOST    = 8   /* the command's driver reads its tensors on the host (search,
                             for now): it stays on the CPU whatever kernels exist */
};

/* The context a command runs its ops on, and its start-up line (rank 0,
 * stderr, "backend: ..."): CUDA when the binary has it, a GPU answers and
 * every op family in `needs` has CUDA kernels; else the CPU, with the
 * reason. force_cpu: --cpu. local_rank picks the GPU under MPI. */
int  ic_ctx_init_auto(ic_ctx *ctx, int force_cpu, int local_rank, unsigned needs,
                      size_t ws_bytes, ic_error *err);

/* Which of the families in `needs` still lack CUDA kernels, for messages
 * ("" when none does). */
const char *ic_cuda_missing_ops(unsigned needs);

/* The OpenBLAS kernel set (OPENBLAS_CORETYPE) this CPU should run, or NULL
 * when the one OpenBLAS chose is fine. A DYNAMIC_ARCH OpenBLAS that does not
 * know the CPU model (Debian 12's 0.3.21 on this project's newer x86 boxes)
 * falls back to its SSE3 "Prescott" kernels: 3-5x slower GEMMs (the LM head
 * at L 512: 2048 ms vs 384 ms with SkylakeX's, bench/README.md). The
 * variable is read when the library loads, so the binary re-executes itself
 * with it (launch/main.c); a user's own OPENBLAS_CORETYPE is kept.
 * (kernels/cpu/matmul.c) */
const char *ic_cpu_blas_core_fix(void);
/* The kernel set OpenBLAS runs (its openblas_get_corename()). */
const char *ic_cpu_blas_core(void);

/* Grows the workspace to at least bytes (only while nothing is allocated
 * from it). Callers reserve the max of the _workspace_bytes of the ops
 * they will run. */
int  ic_ctx_reserve(ic_ctx *ctx, size_t bytes, ic_error *err);

/* Waits for every op queued on the context (no-op on the CPU). */
void ic_ctx_sync(ic_ctx *ctx);

/* Buffers on the context's device: 64-byte aligned, zero-filled; NULL when
 * out of memory (bytes == 0 still returns a distinct pointer). */
void *ic_buf_alloc(ic_ctx *ctx, size_t bytes);
void  ic_buf_free(ic_ctx *ctx, void *p);
/* host -> device, device -> host, device -> device, device memset 0.
 * Downloads wait for the queued ops; the others are stream-ordered. */
void  ic_buf_upload(ic_ctx *ctx, void *dst, const void *src_host, size_t bytes);
void  ic_buf_download(ic_ctx *ctx, void *dst_host, const void *src, size_t bytes);
void  ic_buf_copy(ic_ctx *ctx, void *dst, const void *src, size_t bytes);
/* n elements of dtype dt (IC_F32 or IC_BF16) from the device as fp32 on the
 * host; stage: a host buffer of n * 2 bytes for bf16 (unused for fp32). */
void  ic_buf_download_f32(ic_ctx *ctx, ic_dtype dt, float *dst_host, const void *src, size_t n,
                          void *stage);
void  ic_buf_zero(ic_ctx *ctx, void *p, size_t bytes);

/* ---- implemented by kernels/cuda (kernels/nocuda without CUDA) ---------- */
int   ic_cuda_compiled(void);
int   ic_cuda_device_count(char *why, int why_len);
int   ic_cuda_ctx_open(ic_ctx *ctx, int device, char *why, int why_len);  /* 0 ok */
void  ic_cuda_ctx_close(ic_ctx *ctx);
void *ic_cuda_malloc(size_t bytes);            /* zero-filled, NULL on failure */
void  ic_cuda_free(void *p);
void  ic_cuda_memcpy(ic_ctx *ctx, void *dst, const void *src, size_t bytes, int kind); /* 0 h2d, 1 d2h, 2 d2d */
void  ic_cuda_memzero(ic_ctx *ctx, void *p, size_t bytes);
void  ic_cuda_sync(ic_ctx *ctx);

/* CUDA graphs of a context's stream (kernels/cuda/cuda_graph.cu). Between
 * _begin and _end the ops queued on ctx->stream are recorded, not run (no
 * sync, download, upload from pageable memory or allocation may happen in
 * between); _end instantiates them into *exec, which _launch replays on
 * ctx->stream with the same pointers (the buffers and the workspace addresses
 * the ops used while recording must stay valid). Both return 0, or -1 with
 * the CUDA runtime's reason in why (the stream is left out of capture mode
 * and the error cleared, so the caller can run the ops eagerly instead). */
int   ic_cuda_graph_begin(ic_ctx *ctx, char *why, int why_len);
int   ic_cuda_graph_end(ic_ctx *ctx, void **exec, char *why, int why_len);
void  ic_cuda_graph_launch(ic_ctx *ctx, void *exec);
void  ic_cuda_graph_destroy(void *exec);   /* NULL is fine */

#endif
