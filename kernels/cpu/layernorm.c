/* CPU reference of LayerNorm (kernels/ic_layernorm.h). Row statistics are
 * accumulated in double: rows are short (d_I = 64..128) and the backward
 * needs mean/rstd accurate to the last float bit for finite-difference
 * agreement. */
#include <math.h>
#include <stddef.h>

#include "ic_check.h"
#include "kernels/ic_layernorm.h"

void ic_layernorm_forward_cpu(ic_ctx *ctx, float *y, float *mean, float *rstd, const float *x,
                              const float *weight, const float *bias,
                              int rows, int n, float eps) {
    #pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * n;
        float *yr = y + (size_t)r * n;
        double s = 0.0;
        for (int i = 0; i < n; i++) s += xr[i];
        const double mu = s / n;
        double v = 0.0;
        for (int i = 0; i < n; i++) { double c = xr[i] - mu; v += c * c; }
        const double rs = 1.0 / sqrt(v / n + (double)eps);
        for (int i = 0; i < n; i++)
            yr[i] = (float)(((double)xr[i] - mu) * rs) * weight[i] + bias[i];
        if (mean) mean[r] = (float)mu;
        if (rstd) rstd[r] = (float)rs;
    }
}

/* With xhat = (x - mean) * rstd and gh = dy * weight:
 *   dx = rstd * (gh - mean_i(gh) - xhat * mean_i(gh * xhat)). */
void ic_layernorm_backward_cpu(ic_ctx *ctx, float *dx, float *dweight, float *dbias, const float *dy,
                               const float *x, const float *mean, const float *rstd,
                               const float *weight, int rows, int n) {
    if (dx) {
        #pragma omp parallel for schedule(static)
        for (int r = 0; r < rows; r++) {
            const float *xr = x + (size_t)r * n, *gr = dy + (size_t)r * n;
            const float mu = mean[r], rs = rstd[r];
            double sg = 0.0, sgx = 0.0;
            for (int i = 0; i < n; i++) {
                double gh = (double)gr[i] * weight[i];
                sg += gh;
                sgx += gh * ((double)(xr[i] - mu) * rs);
            }
            const double mg = sg / n, mgx = sgx / n;
            float *dxr = dx + (size_t)r * n;
            for (int i = 0; i < n; i++) {
                double gh = (double)gr[i] * weight[i];
                double xh = (double)(xr[i] - mu) * rs;
                dxr[i] += (float)(rs * (gh - mg - xh * mgx));
            }
        }
    }
    /* Column sums: one thread per column keeps the row order fixed, so the
     * result does not depend on the thread count. */
    if (dweight || dbias) {
        #pragma omp parallel for schedule(static)
        for (int i = 0; i < n; i++) {
            double sw = 0.0, sb = 0.0;
            for (int r = 0; r < rows; r++) {
                double g = dy[(size_t)r * n + i];
                sw += g * ((double)(x[(size_t)r * n + i] - mean[r]) * rstd[r]);
                sb += g;
            }
            if (dweight) dweight[i] += (float)sw;
            if (dbias) dbias[i] += (float)sb;
        }
    }
}
