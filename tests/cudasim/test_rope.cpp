// kernels/cuda/rope.cu (forward and backward) in the CPU SIMT emulator
// against the oracle: L = 1, 7, 64; full and partial rotation (dims past
// rot_dim must be untouched), odd halves, the largest rot_dim, long
// positions; fp32 and bf16. In place, so the input is the "poison".
#include "ic_optest.h"

static void one(ic_dtype dt, int L, int H, int hd, int rot, int pos0, int bwd, uint64_t seed) {
    ic_ctx ctx = optest_ctx(0);
    const size_t n = (size_t)L * H * hd;
    const float theta = 10000.0f;
    float *x = optest_rand(n, seed, -2.0f, 2.0f, dt);
    double *ref = (double *)malloc(sizeof(double) * n), *scale = (double *)malloc(sizeof(double) * n);
    ic_oracle_rope(ref, scale, x, L, H, hd, rot, pos0, theta, bwd ? -1.0 : 1.0);
    optest_buf dx(dt, n);
    dx.put(x);
    if (bwd) ic_rope_backward_cuda(&ctx, dt, dx.p, L, H, hd, rot, pos0, theta);
    else ic_rope_forward_cuda(&ctx, dt, dx.p, L, H, hd, rot, pos0, theta);
    float *got = (float *)malloc(sizeof(float) * n);
    dx.get(got);
    char name[128];
    snprintf(name, sizeof name, "rope %s %s L=%d H=%d hd=%d rot=%d pos0=%d", bwd ? "bwd" : "fwd",
             optest_dt(dt), L, H, hd, rot, pos0);
    optest_check(name, got, ref, scale, n, optest_tol(dt));
    free(x); free(ref); free(scale); free(got);
    ic_arena_free(&ctx.ws);
}

// B windows in one launch (ic_rope_forward_windows_cuda): each window against
// the oracle at positions pos0 .. pos0 + L - 1, i.e. the positions restart.
static void windows(ic_dtype dt, int B, int L, int H, int hd, int rot, int pos0, uint64_t seed) {
    ic_ctx ctx = optest_ctx(0);
    const size_t win = (size_t)L * H * hd, n = (size_t)B * win;
    const float theta = 10000.0f;
    float *x = optest_rand(n, seed, -2.0f, 2.0f, dt);
    double *ref = (double *)malloc(sizeof(double) * n), *scale = (double *)malloc(sizeof(double) * n);
    for (int b = 0; b < B; b++)
        ic_oracle_rope(ref + (size_t)b * win, scale + (size_t)b * win, x + (size_t)b * win, L, H,
                       hd, rot, pos0, theta, 1.0);
    optest_buf dx(dt, n);
    dx.put(x);
    ic_rope_forward_windows_cuda(&ctx, dt, dx.p, B, L, H, hd, rot, pos0, theta);
    float *got = (float *)malloc(sizeof(float) * n);
    dx.get(got);
    char name[128];
    snprintf(name, sizeof name, "rope windows %s B=%d L=%d H=%d hd=%d rot=%d pos0=%d",
             optest_dt(dt), B, L, H, hd, rot, pos0);
    optest_check(name, got, ref, scale, n, optest_tol(dt));
    free(x); free(ref); free(scale); free(got);
    ic_arena_free(&ctx.ws);
}

int main(void) {
    const ic_dtype dts[2] = {IC_F32, IC_BF16};
    for (int k = 0; k < 2; k++)
        for (int bwd = 0; bwd < 2; bwd++) {
            const uint64_t sd = 100u * (uint64_t)(2 * k + bwd + 1);
            one(dts[k], 1, 1, 2, 2, 0, bwd, sd + 1);
            one(dts[k], 7, 3, 64, 64, 5, bwd, sd + 2);
            one(dts[k], 64, 9, 64, 64, 100000, bwd, sd + 3);
            one(dts[k], 7, 16, 128, 64, 3, bwd, sd + 4);
            one(dts[k], 5, 2, 10, 6, 12345, bwd, sd + 5);
            one(dts[k], 2, 2, 512, 512, 1000000, bwd, sd + 6);
        }
    for (int k = 0; k < 2; k++) {
        windows(dts[k], 3, 7, 3, 64, 64, 0, 900u + (uint64_t)k);
        windows(dts[k], 5, 1, 2, 10, 6, 4, 910u + (uint64_t)k);
        windows(dts[k], 2, 33, 9, 64, 64, 0, 920u + (uint64_t)k);
        windows(dts[k], 1, 5, 2, 16, 16, 3, 930u + (uint64_t)k);
    }
    return optest_end("rope");
}
