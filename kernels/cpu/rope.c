/* CPU reference of RoPE (kernels/ic_rope.h). Angles are formed in double so
 * that long positions (p ~ 1e5) keep their accuracy; each position computes
 * its cos/sin once and reuses them for every head. */
#include <math.h>
#include <stdlib.h>

#include "ic_check.h"
#include "kernels/ic_rope.h"

/* sign = +1: forward rotation, -1: its transpose. */
static void rope_apply(float *x, int L, int n_heads, int head_dim, int rot_dim,
                       int pos0, float theta, double sign) {
    IC_ASSERT(x != NULL && L >= 0 && n_heads > 0 && head_dim > 0);
    IC_ASSERT(rot_dim > 0 && rot_dim % 2 == 0 && rot_dim <= head_dim);
    IC_ASSERT(pos0 >= 0 && theta > 0.0f);
    const int half = rot_dim / 2;
    #pragma omp parallel if ((long)L * n_heads * head_dim >= 32768)
    {
        float *cs = malloc(sizeof(float) * 2 * (size_t)half); /* cos | sin */
        IC_ASSERT(cs != NULL);
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
        free(cs);
    }
}

void ic_rope_forward(float *x, int L, int n_heads, int head_dim, int rot_dim,
                     int pos0, float theta) {
    rope_apply(x, L, n_heads, head_dim, rot_dim, pos0, theta, 1.0);
}

void ic_rope_backward(float *dx, int L, int n_heads, int head_dim, int rot_dim,
                      int pos0, float theta) {
    rope_apply(dx, L, n_heads, head_dim, rot_dim, pos0, theta, -1.0);
}
