/* CPU reference of the element-wise ops (kernels/ic_elementwise.h). Each
 * element is one float operation, so any thread split gives the same bits. */
#include "kernels/ic_elementwise.h"

void ic_add_inplace_cpu(ic_ctx *ctx, float *h, const float *x, size_t n) {
    (void)ctx;
    #pragma omp parallel for schedule(static) if (n >= 32768)
    for (size_t i = 0; i < n; i++) h[i] += x[i];
}

void ic_scale_cpu(ic_ctx *ctx, float *x, float s, size_t n) {
    (void)ctx;
    #pragma omp parallel for schedule(static) if (n >= 32768)
    for (size_t i = 0; i < n; i++) x[i] *= s;
}
