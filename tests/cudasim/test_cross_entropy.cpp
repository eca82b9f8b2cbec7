// kernels/cuda/cross_entropy.cu in the CPU SIMT emulator against a double
// oracle (log-sum-exp and softmax in double from the same fp32 or
// bf16-rounded logits): V = 1, 5, 1000 (packed), 1000 one element off
// alignment (unpacked), 4099 (ragged, unpacked), 49152 (SmolLM2, 512
// threads); rows with no target (-1) and targets at 0 and V-1; fp32 and
// bf16; backward out of place (poisoned) and in place.
//
// Tolerances (relative to the per-element scale the oracle returns):
//   nll (fp32 output from fp32 partial sums): 4e-6 of |lse| + |z_y|;
//   dlogits: fp32 4e-6, bf16 4e-3 (one bf16 rounding) of |scale| (p_j + [j = y]).
#include <math.h>

#include "ic_optest.h"

static void oracle(double *lse, const float *z, int n, int V) {
    for (int i = 0; i < n; i++) {
        const float *r = z + (size_t)i * V;
        double m = r[0], s = 0.0;
        for (int j = 1; j < V; j++) m = r[j] > m ? r[j] : m;
        for (int j = 0; j < V; j++) s += exp((double)r[j] - m);
        lse[i] = m + log(s);
    }
}

static void one(ic_dtype dt, int n, int V, int off, uint64_t seed) {
    ic_ctx ctx = optest_ctx(0);
    const size_t nv = (size_t)n * V;
    float *z = optest_rand(nv, seed, -8.0f, 8.0f, dt);
    int32_t *y = (int32_t *)malloc(sizeof(int32_t) * (size_t)n);
    uint64_t s = seed * 7 + 3;
    for (int i = 0; i < n; i++) y[i] = (int32_t)(ic_oracle_next(&s) % (uint64_t)V);
    if (n > 1) y[1] = -1;          // a row without a target
    if (n > 2) y[2] = 0;
    if (n > 3) y[3] = V - 1;
    double *lse = (double *)malloc(sizeof(double) * (size_t)n);
    oracle(lse, z, n, V);

    // forward
    optest_buf dz(dt, nv, off), dnll(IC_F32, (size_t)n);
    dz.put(z);
    dnll.poison();
    ic_cross_entropy_forward_cuda(&ctx, dt, (float *)dnll.p, dz.p, y, n, V);
    float *nll = (float *)malloc(sizeof(float) * (size_t)n);
    dnll.get(nll);
    double *ref = (double *)malloc(sizeof(double) * (nv > (size_t)n ? nv : (size_t)n));
    double *sc = (double *)malloc(sizeof(double) * (nv > (size_t)n ? nv : (size_t)n));
    for (int i = 0; i < n; i++) {
        const double zy = y[i] < 0 ? 0.0 : z[(size_t)i * V + y[i]];
        ref[i] = y[i] < 0 ? 0.0 : lse[i] - zy;
        sc[i] = y[i] < 0 ? 0.0 : fabs(lse[i]) + fabs(zy);
    }
    char name[128];
    snprintf(name, sizeof name, "ce fwd %s n=%d V=%d%s", optest_dt(dt), n, V, off ? " unaligned" : "");
    optest_check(name, nll, ref, sc, (size_t)n, 4e-6);

    // backward, out of place then in place
    const float scale = 0.37f;
    for (size_t i = 0; i < nv; i++) {
        const int r = (int)(i / (size_t)V), j = (int)(i % (size_t)V);
        if (y[r] < 0) {
            ref[i] = 0.0;
            sc[i] = 0.0;
            continue;
        }
        const double p = exp((double)z[i] - lse[r]), hot = j == y[r] ? 1.0 : 0.0;
        ref[i] = scale * (p - hot);
        sc[i] = scale * (p + hot);
    }
    float *g = (float *)malloc(sizeof(float) * nv);
    const double tol = dt == IC_BF16 ? IC_ORACLE_TOL_BF16 : 4e-6;
    for (int in_place = 0; in_place < 2; in_place++) {
        optest_buf dg(dt, nv, off);
        dg.poison();
        optest_buf &o = in_place ? dz : dg;
        ic_cross_entropy_backward_cuda(&ctx, dt, o.p, dz.p, y, n, V, scale);
        o.get(g);
        snprintf(name, sizeof name, "ce bwd %s n=%d V=%d%s%s", optest_dt(dt), n, V,
                 off ? " unaligned" : "", in_place ? " in place" : "");
        optest_check(name, g, ref, sc, nv, tol);
    }
    free(z); free(y); free(lse); free(nll); free(ref); free(sc); free(g);
    ic_arena_free(&ctx.ws);
}

int main(void) {
    const ic_dtype dts[2] = {IC_F32, IC_BF16};
    for (int k = 0; k < 2; k++) {
        const uint64_t sd = 100u * (uint64_t)(k + 1);
        one(dts[k], 3, 1, 0, sd + 1);
        one(dts[k], 5, 5, 0, sd + 2);
        one(dts[k], 4, 1000, 0, sd + 3);
        one(dts[k], 4, 1000, 1, sd + 4);
        one(dts[k], 6, 4099, 0, sd + 5);
        one(dts[k], 2, 49152, 0, sd + 6);
    }
    return optest_end("cross_entropy");
}
