// kernels/cuda/swiglu.cu in the CPU SIMT emulator against the oracle:
// n = 1, 3, 4097 (packed body + ragged tail) and unaligned, out == gate and
// out == up, fp32 and bf16. Separate outputs poisoned with NaN first.
#include "ic_optest.h"

// in_place: 0 separate out, 1 out == gate, 2 out == up
static void one(ic_dtype dt, size_t n, int off, int in_place, uint64_t seed) {
    ic_ctx ctx = optest_ctx(0);
    float *g = optest_rand(n, seed, -6.0f, 6.0f, dt), *u = optest_rand(n, seed + 1, -2.0f, 2.0f, dt);
    double *ref = (double *)malloc(sizeof(double) * n);
    ic_oracle_swiglu(ref, g, u, n);
    optest_buf dg(dt, n, off), du(dt, n, off), dout(dt, n, off);
    dg.put(g);
    du.put(u);
    dout.poison();
    optest_buf &o = in_place == 1 ? dg : in_place == 2 ? du : dout;
    ic_swiglu_forward_cuda(&ctx, dt, o.p, dg.p, du.p, n);
    float *got = (float *)malloc(sizeof(float) * n);
    o.get(got);
    char name[128];
    snprintf(name, sizeof name, "swiglu %s n=%zu%s%s", optest_dt(dt), n, off ? " unaligned" : "",
             in_place == 1 ? " out=gate" : in_place == 2 ? " out=up" : "");
    optest_check(name, got, ref, NULL, n, optest_tol(dt));
    free(g); free(u); free(ref); free(got);
    ic_arena_free(&ctx.ws);
}

int main(void) {
    const ic_dtype dts[2] = {IC_F32, IC_BF16};
    for (int k = 0; k < 2; k++) {
        const uint64_t sd = 100u * (uint64_t)(k + 1);
        one(dts[k], 1, 0, 0, sd + 1);
        one(dts[k], 3, 0, 0, sd + 2);
        one(dts[k], 4097, 0, 0, sd + 3);
        one(dts[k], 4097, 1, 0, sd + 4);
        one(dts[k], 1029, 0, 1, sd + 5);
        one(dts[k], 1029, 0, 2, sd + 6);
    }
    return optest_end("swiglu");
}
