#include "ic_clip.h"

#include <math.h>
#include <stdlib.h>

/* Elements per partial sum. Fixed, so the reduction order never depends on
 * the number of OpenMP threads. */
#define IC_CLIP_BLOCK 8192

static double sum_squares(const float *g, int64_t n) {
    int64_t nb = (n + IC_CLIP_BLOCK - 1) / IC_CLIP_BLOCK;
    if (nb <= 1) {
        double s = 0;
        for (int64_t k = 0; k < n; k++) s += (double)g[k] * (double)g[k];
        return s;
    }
    double *part = malloc((size_t)nb * sizeof *part);
    if (!part) {  /* still correct, just serial */
        double s = 0;
        for (int64_t k = 0; k < n; k++) s += (double)g[k] * (double)g[k];
        return s;
    }
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < nb; b++) {
        int64_t lo = b * IC_CLIP_BLOCK, hi = lo + IC_CLIP_BLOCK < n ? lo + IC_CLIP_BLOCK : n;
        double s = 0;
        for (int64_t k = lo; k < hi; k++) s += (double)g[k] * (double)g[k];
        part[b] = s;
    }
    double s = 0;
    for (int64_t b = 0; b < nb; b++) s += part[b];
    free(part);
    return s;
}

double ic_grad_global_norm(const ic_param *params, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += sum_squares(params[i].grad, params[i].n);
    return sqrt(s);
}

double ic_grad_clip(const ic_param *params, int n, double max_norm) {
    double norm = ic_grad_global_norm(params, n);
    if (!(max_norm > 0) || !isfinite(norm) || norm <= max_norm) return norm;
    const float scale = (float)(max_norm / (norm + 1e-6));
    for (int i = 0; i < n; i++) {
        float *g = params[i].grad;
        const int64_t len = params[i].n;
#pragma omp parallel for schedule(static) if (len >= 32768)
        for (int64_t k = 0; k < len; k++) g[k] *= scale;
    }
    return norm;
}
