// kernels/cuda/rmsnorm.cu in the CPU SIMT emulator against the oracle:
// D = 1, 3, 576, 577, 4096 (packed and unpacked paths, one warp to a full
// block), L = 1, 7, 64, fp32 and bf16, out of place (poisoned) and in place.
#include "ic_optest.h"

static void one(ic_dtype dt, int L, int D, int in_place, uint64_t seed) {
    ic_ctx ctx = optest_ctx(0);
    const size_t n = (size_t)L * D;
    const float eps = 1e-5f;
    float *x = optest_rand(n, seed, -3.0f, 3.0f, dt), *w = optest_rand((size_t)D, seed + 1, 0.5f, 1.5f, dt);
    double *ref = (double *)malloc(sizeof(double) * n);
    ic_oracle_rmsnorm(ref, x, w, L, D, eps);
    optest_buf dx(dt, n), dw(dt, (size_t)D), dout(dt, n);
    dx.put(x);
    dw.put(w);
    dout.poison();
    optest_buf &o = in_place ? dx : dout;
    ic_rmsnorm_forward_cuda(&ctx, dt, o.p, dx.p, dw.p, L, D, eps);
    float *got = (float *)malloc(sizeof(float) * n);
    o.get(got);
    char name[128];
    snprintf(name, sizeof name, "rmsnorm %s L=%d D=%d%s", optest_dt(dt), L, D,
             in_place ? " in place" : "");
    optest_check(name, got, ref, NULL, n, optest_tol(dt));
    free(x); free(w); free(ref); free(got);
    ic_arena_free(&ctx.ws);
}

int main(void) {
    const ic_dtype dts[2] = {IC_F32, IC_BF16};
    for (int k = 0; k < 2; k++) {
        const uint64_t sd = 100u * (uint64_t)(k + 1);
        one(dts[k], 1, 1, 0, sd + 1);
        one(dts[k], 7, 3, 0, sd + 2);
        one(dts[k], 7, 576, 0, sd + 3);
        one(dts[k], 64, 577, 0, sd + 4);
        one(dts[k], 64, 576, 1, sd + 5);
        one(dts[k], 2, 4096, 0, sd + 6);
        one(dts[k], 3, 40, 0, sd + 7);
    }
    return optest_end("rmsnorm");
}
