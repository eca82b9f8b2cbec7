/* CPU reference of RoPE (kernels/ic_rope.h). Angles are formed in double so
 * that long positions (p ~ 1e5) keep their accuracy; each position computes
 * its cos/sin once and reuses them for every head. */
#include <math.h>

#include "ic_check.h"
#include "kernels/cpu/ic_cpu_threads.h"
#include "kernels/ic_rope.h"

/* sign = +1: forward rotation, -1: its transpose. */
size_t ic_rope_workspace_bytes_cpu(const ic_ctx *ctx, int rot_dim) {
    return (size_t)ic_cpu_threads(ctx) * ic_ws_round(sizeof(float) * (size_t)rot_dim);
}

static void rope_apply(ic_ctx *ctx, float *x, int L, int n_heads, int head_dim, int rot_dim,
                       int pos0, float theta, double sign) {
    const int half = rot_dim / 2;
    const int nt = ic_cpu_threads(ctx);
    const size_t slice = ic_ws_round(sizeof(float) * (size_t)rot_dim), mark = ic_ws_mark(ctx);
    char *scratch = ic_ws_alloc(ctx, (size_t)nt * slice, "rope");
    #pragma omp parallel num_threads(nt) if ((long)L * n_heads * head_dim >= 32768)
    {
        float *cs = (float *)(scratch + (size_t)omp_get_thread_num() * slice); /* cos | sin */
        #pragma omp for schedule(static)
        for (int t = 0; t < L; t++) {
            const double p = (double)pos0 + (double)t;
            for (int i = 0; i < half; i++) {
                double inv_freq = pow((double)theta, -2.0 * (double)i / (double)rot_dim);
                double a = p * inv_freq;
                cs[i] = (float)cos(a);
                cs[half + i] = (float)(sign * sin(a));
            }
            for (int h = 0; h < n_heads; h++) {
                float *v = x + ((size_t)t * n_heads + h) * head_dim;
                for (int i = 0; i < half; i++) {
                    float a = v[i], b = v[i + half];
                    float c = cs[i], s = cs[half + i];
                    v[i] = a * c - b * s;
                    v[i + half] = b * c + a * s;
                }
            }
        }
    }
    ic_ws_release(ctx, mark);
}

void ic_rope_forward_cpu(ic_ctx *ctx, float *x, int L, int n_heads, int head_dim, int rot_dim,
                         int pos0, float theta) {
    rope_apply(ctx, x, L, n_heads, head_dim, rot_dim, pos0, theta, 1.0);
}

void ic_rope_backward_cpu(ic_ctx *ctx, float *dx, int L, int n_heads, int head_dim,
                          int rot_dim, int pos0, float theta) {
    rope_apply(ctx, dx, L, n_heads, head_dim, rot_dim, pos0, theta, -1.0);
}
