// kernels/cuda/elementwise.cu (residual add, scale) in the CPU SIMT emulator:
// the same fp32 operation as the CPU, so exact, then the same rounding to
// bf16; n = 1, 3, 4097, aligned and unaligned. In place ops: the inputs are
// the "poison".
#include "ic_optest.h"

static void add(ic_dtype dt, size_t n, int off, uint64_t seed) {
    ic_ctx ctx = optest_ctx(0);
    float *h = optest_rand(n, seed, -4.0f, 4.0f, dt), *x = optest_rand(n, seed + 1, -4.0f, 4.0f, dt);
    double *ref = (double *)malloc(sizeof(double) * n);
    for (size_t i = 0; i < n; i++) {
        const float s = h[i] + x[i];
        ref[i] = dt == IC_BF16 ? ic_oracle_round_bf16(s) : s;
    }
    optest_buf dh(dt, n, off), dx(dt, n, off);
    dh.put(h);
    dx.put(x);
    ic_add_inplace_cuda(&ctx, dt, dh.p, dx.p, n);
    float *got = (float *)malloc(sizeof(float) * n);
    dh.get(got);
    char name[128];
    snprintf(name, sizeof name, "add_inplace %s n=%zu%s", optest_dt(dt), n, off ? " unaligned" : "");
    optest_check(name, got, ref, NULL, n, 0.0);
    free(h); free(x); free(ref); free(got);
    ic_arena_free(&ctx.ws);
}

static void scale(size_t n, int off, uint64_t seed) {
    ic_ctx ctx = optest_ctx(0);
    const float s = 0.3712f;
    float *x = optest_rand(n, seed, -4.0f, 4.0f, IC_F32);
    double *ref = (double *)malloc(sizeof(double) * n);
    for (size_t i = 0; i < n; i++) ref[i] = (float)((double)x[i] * s);
    optest_buf dx(IC_F32, n, off);
    dx.put(x);
    ic_scale_cuda(&ctx, (float *)dx.p, s, n);
    float *got = (float *)malloc(sizeof(float) * n);
    dx.get(got);
    char name[128];
    snprintf(name, sizeof name, "scale f32 n=%zu%s", n, off ? " unaligned" : "");
    optest_check(name, got, ref, NULL, n, 0.0);
    free(x); free(ref); free(got);
    ic_arena_free(&ctx.ws);
}

int main(void) {
    const ic_dtype dts[2] = {IC_F32, IC_BF16};
    for (int k = 0; k < 2; k++) {
        const uint64_t sd = 100u * (uint64_t)(k + 1);
        add(dts[k], 1, 0, sd + 1);
        add(dts[k], 3, 0, sd + 2);
        add(dts[k], 4097, 0, sd + 3);
        add(dts[k], 4097, 1, sd + 4);
    }
    scale(1, 0, 301);
    scale(3, 0, 302);
    scale(4097, 0, 303);
    scale(4097, 1, 304);
    return optest_end("elementwise");
}
