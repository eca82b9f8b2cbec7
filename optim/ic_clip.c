#include "ic_clip.h"

#include <math.h>

#include "kernels/ic_ctx.h"
#include "kernels/ic_elementwise.h"
#include "kernels/ic_grad_norm.h"

size_t ic_grad_clip_workspace_bytes(const ic_ctx *ctx, const ic_param *params, int n) {
    size_t m = 0;
    for (int i = 0; i < n; i++) {
        size_t b = ic_sumsq_workspace_bytes(ctx, params[i].n);
        if (b > m) m = b;
    }
    return m;
}

double ic_grad_global_norm(ic_ctx *ctx, const ic_param *params, int n) {
    /* the partials of the largest buffer (a few KiB); a no-op once reserved */
    if (ic_ctx_reserve(ctx, ic_grad_clip_workspace_bytes(ctx, params, n), NULL) != 0)
        return NAN;
    double s = 0;
    for (int i = 0; i < n; i++) s += ic_sumsq(ctx, params[i].grad, params[i].n);
    return sqrt(s);
}

double ic_grad_clip(ic_ctx *ctx, const ic_param *params, int n, double max_norm) {
    double norm = ic_grad_global_norm(ctx, params, n);
    if (!(max_norm > 0) || !isfinite(norm) || norm <= max_norm) return norm;
    const float scale = (float)(max_norm / (norm + 1e-6));
    for (int i = 0; i < n; i++) ic_scale(ctx, params[i].grad, scale, (size_t)params[i].n);
    return norm;
}
