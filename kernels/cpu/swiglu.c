/* CPU reference of SwiGLU (kernels/ic_swiglu.h). */
#include <math.h>

#include "ic_check.h"
#include "kernels/cpu/ic_cpu_vexp.h"
#include "kernels/ic_swiglu.h"

/* silu(a) = a / (1 + exp(-a)) with the vectorisable exp (2 ulp): for
 * a < -88.7 exp(-a) is +inf and the quotient -0, as with libm's expf. */
void ic_swiglu_forward_cpu(ic_ctx *ctx, float *out, const float *gate, const float *up, size_t n) {
    #pragma omp parallel for simd schedule(static) if (n >= 32768)
    for (size_t i = 0; i < n; i++) {
        float a = gate[i];
        out[i] = a / (1.0f + ic_vexpf(-a)) * up[i];
    }
}
