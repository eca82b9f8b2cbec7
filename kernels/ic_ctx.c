/* Context lifecycle and device-agnostic buffers (kernels/ic_ctx.h). */
#include "kernels/ic_ctx.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ic_check.h"
#include "ic_half.h"
#include "ic_log.h"

static void cpu_desc(ic_ctx *ctx, const char *reason) {
    snprintf(ctx->desc, sizeof ctx->desc, "CPU (%d threads, OpenBLAS %.24s; %.240s)",
             ctx->cpu_threads, ic_cpu_blas_core(), reason);
}

int ic_ctx_init(ic_ctx *ctx, ic_backend_kind backend, int device, size_t ws_bytes, ic_error *err) {
    memset(ctx, 0, sizeof *ctx);
    ctx->backend = IC_BACKEND_CPU;
    ctx->device = -1;
    ctx->cpu_threads = omp_get_max_threads();
    ctx->act_dtype = IC_F32;
    cpu_desc(ctx, "reference path");
    if (backend == IC_BACKEND_CUDA) {
        char why[256] = "";
        if (!ic_cuda_compiled())
            return ic_error_set(err, "CUDA backend requested but the binary was built without CUDA");
        if (ic_cuda_ctx_open(ctx, device, why, sizeof why) != 0)
            return ic_error_set(err, "CUDA backend: %s", why);
        ctx->backend = IC_BACKEND_CUDA;
        ctx->device = device;
        const char *fp32 = getenv("IC_CUDA_FP32");
        ctx->act_dtype = fp32 && fp32[0] == '1' ? IC_F32 : IC_BF16;
    }
    if (ws_bytes && ic_ctx_reserve(ctx, ws_bytes, err) != 0) {
        ic_ctx_free(ctx);
        return -1;
    }
    return 0;
}

/* Which op families still lack CUDA kernels. While any family a command
 * needs has none, the command's context stays on the CPU and the start-up
 * line says so: it names the backend that actually runs the ops, not the
 * one present. */
const char *ic_cuda_missing_ops(unsigned needs) {
    static char buf[256];
    buf[0] = '\0';
    /* Every op of the dense teacher (IC_NEED_TEACHER), of the DSA forward
     * (IC_NEED_DSA: layernorm, indexer scores, top-k, the validation ops,
     * sparse attention) and of the trainer (IC_NEED_TRAIN: the dense-stage
     * distillation loss, the indexer-score backward, AdamW; and
     * IC_NEED_TRAIN_SPARSE: the sparse-stage loss, distill_loss_sparse.cu)
     * has a CUDA kernel. */
    if (needs & IC_NEED_HOST)
        strcat(buf, "the command's driver (it reads its tensors on the host), ");
    size_t n = strlen(buf);
    if (n >= 2) buf[n - 2] = '\0';
    return buf;
}

int ic_ctx_init_auto(ic_ctx *ctx, int force_cpu, int local_rank, unsigned needs,
                     size_t ws_bytes, ic_error *err) {
    char reason[320];
    int n = 0;
    const char *missing = ic_cuda_missing_ops(needs);
    if (force_cpu)
        snprintf(reason, sizeof reason, "--cpu given");
    else if (!ic_cuda_compiled())
        snprintf(reason, sizeof reason, "built without CUDA");
    else if ((n = ic_cuda_device_count(reason, sizeof reason)) > 0 && missing[0])
        snprintf(reason, sizeof reason, "%d GPU(s) present, but these ops have no CUDA kernel "
                 "yet: %s", n, missing);
    else if (n > 0) {
        ic_error cerr = {0};
        if (ic_ctx_init(ctx, IC_BACKEND_CUDA, local_rank % n, ws_bytes, &cerr) == 0) {
            ic_log_note("backend: %s", ctx->desc);
            return 0;
        }
        snprintf(reason, sizeof reason, "%.300s", cerr.msg);
    }
    if (ic_ctx_init(ctx, IC_BACKEND_CPU, -1, ws_bytes, err) != 0) return -1;
    cpu_desc(ctx, reason);
    ic_log_note("backend: %s", ctx->desc);
    return 0;
}

int ic_ctx_reserve(ic_ctx *ctx, size_t bytes, ic_error *err) {
    bytes = ic_ws_round(bytes);
    if (bytes <= ctx->ws.cap) return 0;
    IC_ASSERT(ctx->ws.used == 0);
    void *p = ic_buf_alloc(ctx, bytes);
    if (!p)
        return ic_error_set(err, "workspace: out of %s memory for %zu MiB",
                            ctx->backend == IC_BACKEND_CUDA ? "GPU" : "host", bytes >> 20);
    if (ctx->ws.base) ic_buf_free(ctx, ctx->ws.base);
    ctx->ws.base = p;
    ctx->ws.cap = bytes;
    return 0;
}

void ic_ctx_free(ic_ctx *ctx) {
    if (ctx->ws.base) ic_buf_free(ctx, ctx->ws.base);
    if (ctx->backend == IC_BACKEND_CUDA) ic_cuda_ctx_close(ctx);
    memset(ctx, 0, sizeof *ctx);
}

void ic_ctx_sync(ic_ctx *ctx) {
    if (ctx->backend == IC_BACKEND_CUDA) ic_cuda_sync(ctx);
}

void *ic_buf_alloc(ic_ctx *ctx, size_t bytes) {
    if (ctx->backend == IC_BACKEND_CUDA) return ic_cuda_malloc(bytes ? bytes : 1);
    return ic_aligned_calloc(bytes ? bytes : 1);
}

void ic_buf_free(ic_ctx *ctx, void *p) {
    if (!p) return;
    if (ctx->backend == IC_BACKEND_CUDA) ic_cuda_free(p);
    else ic_aligned_free(p);
}

void ic_buf_upload(ic_ctx *ctx, void *dst, const void *src, size_t bytes) {
    if (!bytes) return;
    if (ctx->backend == IC_BACKEND_CUDA) ic_cuda_memcpy(ctx, dst, src, bytes, 0);
    else memcpy(dst, src, bytes);
}

void ic_buf_download(ic_ctx *ctx, void *dst, const void *src, size_t bytes) {
    if (!bytes) return;
    if (ctx->backend == IC_BACKEND_CUDA) ic_cuda_memcpy(ctx, dst, src, bytes, 1);
    else memcpy(dst, src, bytes);
}

void ic_buf_download_f32(ic_ctx *ctx, ic_dtype dt, float *dst, const void *src, size_t n,
                         void *stage) {
    if (dt == IC_F32) { ic_buf_download(ctx, dst, src, n * sizeof(float)); return; }
    IC_ASSERT(dt == IC_BF16 && stage != NULL);
    uint16_t *h = stage;
    ic_buf_download(ctx, h, src, n * sizeof *h);
    for (size_t i = 0; i < n; i++) dst[i] = ic_bf16_to_f32(h[i]);
}

void ic_buf_copy(ic_ctx *ctx, void *dst, const void *src, size_t bytes) {
    if (!bytes || dst == src) return;
    if (ctx->backend == IC_BACKEND_CUDA) ic_cuda_memcpy(ctx, dst, src, bytes, 2);
    else memmove(dst, src, bytes);
}

void ic_buf_zero(ic_ctx *ctx, void *p, size_t bytes) {
    if (!bytes) return;
    if (ctx->backend == IC_BACKEND_CUDA) ic_cuda_memzero(ctx, p, bytes);
    else memset(p, 0, bytes);
}
