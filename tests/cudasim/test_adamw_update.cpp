// kernels/cuda/adamw_update.cu in the CPU SIMT emulator against the double
// oracle of kernels/ic_adamw_update.h's formula: n = 1, 5, 4097, aligned
// and unaligned; p, m and v each within 1e-6 of the magnitude of their terms.
#include <math.h>

#include "ic_optest.h"

static void one(size_t n, int off, int t, float wd, uint64_t seed) {
    ic_ctx ctx = optest_ctx(0);
    const float lr = 3e-4f;
    ic_adamw_coef c;
    c.beta1 = 0.9f;
    c.beta2 = 0.95f;
    c.eps = 1e-8f;
    c.decay_mul = 1.0f - lr * wd;
    c.step_size = (float)(lr / (1.0 - pow(0.9, t)));
    c.inv_sqrt_bc2 = (float)(1.0 / sqrt(1.0 - pow(0.95, t)));
    float *p = optest_rand(n, seed, -1.0f, 1.0f, IC_F32), *g = optest_rand(n, seed + 1, -0.1f, 0.1f, IC_F32);
    float *m = optest_rand(n, seed + 2, -0.05f, 0.05f, IC_F32), *v = optest_rand(n, seed + 3, 1e-6f, 1e-2f, IC_F32);
    double *r[3], *s[3];
    for (int k = 0; k < 3; k++) {
        r[k] = (double *)malloc(sizeof(double) * n);
        s[k] = (double *)malloc(sizeof(double) * n);
    }
    ic_oracle_adamw(r[0], r[1], r[2], s[0], s[1], s[2], p, g, m, v, n, c.beta1, c.beta2, c.eps,
                    c.decay_mul, c.step_size, c.inv_sqrt_bc2);
    optest_buf dp(IC_F32, n, off), dg(IC_F32, n, off), dm(IC_F32, n, off), dv(IC_F32, n, off);
    dp.put(p);
    dg.put(g);
    dm.put(m);
    dv.put(v);
    ic_adamw_update_cuda(&ctx, (float *)dp.p, (const float *)dg.p, (float *)dm.p, (float *)dv.p,
                         (int64_t)n, &c);
    float *got = (float *)malloc(sizeof(float) * n);
    const optest_buf *outs[3] = {&dp, &dm, &dv};
    const char *what[3] = {"p", "m", "v"};
    for (int k = 0; k < 3; k++) {
        outs[k]->get(got);
        char name[128];
        snprintf(name, sizeof name, "adamw %s f32 n=%zu t=%d wd=%g%s", what[k], n, t, (double)wd,
                 off ? " unaligned" : "");
        optest_check(name, got, r[k], s[k], n, IC_ORACLE_TOL_F32);
    }
    for (int k = 0; k < 3; k++) { free(r[k]); free(s[k]); }
    free(p); free(g); free(m); free(v); free(got);
    ic_arena_free(&ctx.ws);
}

int main(void) {
    one(1, 0, 1, 0.1f, 1);
    one(5, 0, 7, 0.1f, 2);
    one(4097, 0, 100, 0.0f, 3);
    one(4097, 1, 3, 0.1f, 4);
    return optest_end("adamw_update");
}
