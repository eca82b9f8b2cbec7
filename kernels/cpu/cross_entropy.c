/* CPU reference of the cross-entropy (kernels/ic_cross_entropy.h). The
 * exponentials are taken in float (V ~ 50k-150k of them per row dominate
 * the cost) but summed in double, so the row's log-sum-exp keeps its
 * accuracy however large V is. */
#include <math.h>
#include <stddef.h>

#include "ic_check.h"
#include "kernels/ic_cross_entropy.h"

static double row_lse(const float *z, int V) {
    float m = z[0];
    for (int j = 1; j < V; j++) m = z[j] > m ? z[j] : m;
    double s = 0.0;
    for (int j = 0; j < V; j++) s += (double)expf(z[j] - m);
    return (double)m + log(s);
}

void ic_cross_entropy_forward_cpu(ic_ctx *ctx, float *nll, const float *logits, const int32_t *targets,
                                  int n, int V) {
    #pragma omp parallel for schedule(static) if (n > 1)
    for (int i = 0; i < n; i++) {
        const float *z = logits + (size_t)i * V;
        int y = targets[i];
        IC_ASSERT(y < V);
        nll[i] = y < 0 ? 0.0f : (float)(row_lse(z, V) - (double)z[y]);
    }
}

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
        double lse = row_lse(z, V);
        for (int j = 0; j < V; j++) g[j] = scale * (float)exp((double)z[j] - lse);
        g[y] -= scale;
    }
}
