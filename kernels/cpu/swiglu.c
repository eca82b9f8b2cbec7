/* CPU reference of SwiGLU (kernels/ic_swiglu.h). */
#include <math.h>

#include "ic_check.h"
#include "kernels/ic_swiglu.h"

void ic_swiglu_forward_cpu(ic_ctx *ctx, float *out, const float *gate, const float *up, size_t n) {
    #pragma omp parallel for schedule(static) if (n >= 32768)
    for (size_t i = 0; i < n; i++) {
        float a = gate[i];
        out[i] = a / (1.0f + expf(-a)) * up[i];
    }
}
