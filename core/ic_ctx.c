#include "ic_ctx.h"

#include "ic_check.h"

size_t ic_ws_round(size_t bytes) { return (bytes + IC_ALIGN - 1) / IC_ALIGN * IC_ALIGN; }

size_t ic_ws_mark(const ic_ctx *ctx) { return ctx->ws.used; }

void *ic_ws_alloc_named(ic_ctx *ctx, size_t bytes, const char *op, const char *file, int line) {
    size_t need = ic_ws_round(bytes);
    if (!ctx->ws.base || need > ctx->ws.cap - ctx->ws.used) {
        fprintf(stderr, "fatal: %s:%d: %s: workspace too small: needs %zu more bytes, "
                "%zu of %zu in use (the caller must ic_ctx_reserve the op's "
                "_workspace_bytes first)\n", file, line, op, need, ctx->ws.used, ctx->ws.cap);
        abort();
    }
    void *p = ctx->ws.base + ctx->ws.used;
    ctx->ws.used += need;
    if (ctx->ws.used > ctx->ws.peak) ctx->ws.peak = ctx->ws.used;
    return p;
}

void ic_ws_release(ic_ctx *ctx, size_t mark) {
    IC_ASSERT(mark <= ctx->ws.used);
    ctx->ws.used = mark;
}
