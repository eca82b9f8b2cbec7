/* CPU reference of the blocked sum of squares (kernels/ic_grad_norm.h):
 * the reduction optim/ic_clip ran before the op seam, in the same blocks and
 * the same order, so gradient norms (and clipping) are bitwise unchanged. */
#include "kernels/ic_grad_norm.h"

double ic_sumsq_cpu(ic_ctx *ctx, const float *g, int64_t n) {
    const int64_t nb = (n + IC_SUMSQ_BLOCK - 1) / IC_SUMSQ_BLOCK;
    if (nb <= 1) {
        double s = 0;
        for (int64_t k = 0; k < n; k++) s += (double)g[k] * (double)g[k];
        return s;
    }
    const size_t mark = ic_ws_mark(ctx);
    double *part = ic_ws_alloc(ctx, (size_t)nb * sizeof *part, "sumsq");
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < nb; b++) {
        int64_t lo = b * IC_SUMSQ_BLOCK, hi = lo + IC_SUMSQ_BLOCK < n ? lo + IC_SUMSQ_BLOCK : n;
        double s = 0;
        for (int64_t k = lo; k < hi; k++) s += (double)g[k] * (double)g[k];
        part[b] = s;
    }
    double s = 0;
    for (int64_t b = 0; b < nb; b++) s += part[b];
    ic_ws_release(ctx, mark);
    return s;
}
