/* CPU reference of the cross-entropy (kernels/ic_cross_entropy.h).
 *
 * Accuracy. The exponentials are taken in float by a vectorised expf
 * (ic_cpu_vexp_ce.h, at most 1.0e-7 relative error each, 2.0e-7 tested)
 * and summed in double (one double accumulator per SIMD lane, the lanes
 * added in double), so the row's log-sum-exp keeps its accuracy however
 * large V is: relative error of the sum <= 1.0e-7 + V * 2^-53, i.e. an
 * absolute error of the lse (and of each nll) under 1.1e-7 for any
 * V < 10^8, on top of the float rounding of z - max (as before). Why the
 * vector exp: V = 49k-150k exponentials per token cost about a third of
 * the LM head's GEMM through glibc's expf, a call per element. */
#include <math.h>
#include <stddef.h>

#include "ic_check.h"
#include "kernels/cpu/ic_cpu_ce_rows.h"
#include "kernels/cpu/ic_cpu_vexp_ce.h"
#include "kernels/ic_cross_entropy.h"

IC_VEXP_CLONES float ic_cpu_row_max(const float *z, int n) {
    float m = z[0];
    #pragma omp simd reduction(max : m)
    for (int j = 1; j < n; j++) m = z[j] > m ? z[j] : m;
    return m;
}

IC_VEXP_CLONES double ic_cpu_row_sumexp(const float *z, int n, float m) {
    double s = 0.0;
    #pragma omp simd reduction(+ : s)
    for (int j = 0; j < n; j++) s += (double)ic_ce_expf(z[j] - m);
    return s;
}

/* g[j] = c * exp(z[j] - m) */
IC_VEXP_CLONES static void row_scaled_exp(float *g, const float *z, int n, float m, float c) {
    #pragma omp simd
    for (int j = 0; j < n; j++) g[j] = c * ic_ce_expf(z[j] - m);
}

void ic_cross_entropy_forward_cpu(ic_ctx *ctx, float *nll, const float *logits, const int32_t *targets,
                                  int n, int V) {
    #pragma omp parallel for schedule(static) if (n > 1)
    for (int i = 0; i < n; i++) {
        const float *z = logits + (size_t)i * V;
        int y = targets[i];
        IC_ASSERT(y < V);
        if (y < 0) { nll[i] = 0.0f; continue; }
        float m = ic_cpu_row_max(z, V);
        nll[i] = (float)((double)m + log(ic_cpu_row_sumexp(z, V, m)) - (double)z[y]);
    }
}

/* softmax = exp(z - m) / s: the division folded into one float factor
 * (scale / s), so each gradient carries the exp's 1.0e-7 plus two float
 * roundings; dlogits may alias logits (each element is read before it is
 * written, and the row's max and sum are taken first). */
void ic_cross_entropy_backward_cpu(ic_ctx *ctx, float *dlogits, const float *logits, const int32_t *targets,
                                   int n, int V, float scale) {
    #pragma omp parallel for schedule(static) if (n > 1)
    for (int i = 0; i < n; i++) {
        const float *z = logits + (size_t)i * V;
        float *g = dlogits + (size_t)i * V;
        int y = targets[i];
        IC_ASSERT(y < V);
        if (y < 0) {
            for (int j = 0; j < V; j++) g[j] = 0.0f;
            continue;
        }
        float m = ic_cpu_row_max(z, V);
        double s = ic_cpu_row_sumexp(z, V, m);
        row_scaled_exp(g, z, V, m, (float)((double)scale / s));
        g[y] -= scale;
    }
}
