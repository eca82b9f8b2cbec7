/* CPU reference of RMSNorm (kernels/ic_rmsnorm.h). The mean of squares is
 * summed in double: D is small but the residual stream of a deep model can
 * carry large outliers. */
#include <math.h>
#include <stddef.h>

#include "ic_check.h"
#include "kernels/ic_rmsnorm.h"

void ic_rmsnorm_forward_cpu(ic_ctx *ctx, float *out, const float *x, const float *w, int L, int D, float eps) {
    #pragma omp parallel for schedule(static) if ((long)L * D >= 32768)
    for (int t = 0; t < L; t++) {
        const float *xr = x + (size_t)t * D;
        float *o = out + (size_t)t * D;
        double ss = 0.0;
        for (int i = 0; i < D; i++) ss += (double)xr[i] * xr[i];
        float inv = (float)(1.0 / sqrt(ss / D + (double)eps));
        for (int i = 0; i < D; i++) o[i] = w[i] * (xr[i] * inv);
    }
}
