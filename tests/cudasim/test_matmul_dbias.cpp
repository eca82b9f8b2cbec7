// kernels/cuda/matmul_dbias.cu in the CPU SIMT emulator: dbias [N] += column
// sums of dout [M, N], fp32 and bf16 storage, against a double oracle.
// dbias starts from random non-zero values (the op accumulates); shapes cover
// one column, a ragged last block of 32 columns, M below and above the 8 row
// lanes of a block. Scale: |dbias0| + sum |dout| of the column (the sum may
// cancel), tolerance the usual per-dtype one (the kernel rounds once, at the
// end). A second identical call must give the same bits (fixed order).
#include "ic_optest.h"

static void one(ic_dtype dt, int M, int N, uint64_t seed) {
    ic_ctx ctx = optest_ctx(0);
    const size_t n = (size_t)M * N;
    float *dout = optest_rand(n, seed, -1.0f, 1.0f, dt);
    float *b0 = optest_rand((size_t)N, seed + 100, -2.0f, 2.0f, dt);
    double *ref = (double *)malloc(sizeof(double) * (size_t)N);
    double *scale = (double *)malloc(sizeof(double) * (size_t)N);
    for (int j = 0; j < N; j++) {
        double s = b0[j], a = fabs((double)b0[j]);
        for (int i = 0; i < M; i++) {
            s += dout[(size_t)i * N + j];
            a += fabs((double)dout[(size_t)i * N + j]);
        }
        ref[j] = s;
        scale[j] = a;
    }
    optest_buf d_dout(dt, n), d_b(dt, (size_t)N), d_b2(dt, (size_t)N);
    d_dout.put(dout);
    d_b.put(b0);
    d_b2.put(b0);
    ic_matmul_dbias_cuda(&ctx, dt, d_b.p, d_dout.p, M, N);
    ic_matmul_dbias_cuda(&ctx, dt, d_b2.p, d_dout.p, M, N);
    float *got = (float *)malloc(sizeof(float) * (size_t)N);
    d_b.get(got);
    char name[128];
    snprintf(name, sizeof name, "matmul dbias %s M=%d N=%d", optest_dt(dt), M, N);
    optest_check(name, got, ref, scale, (size_t)N, optest_tol(dt));
    if (memcmp(d_b.p, d_b2.p, (size_t)N * optest_size(dt)) != 0) {
        printf("%s: a second call gave different bits: FAIL\n", name);
        g_failed++;
    }
    free(dout); free(b0); free(ref); free(scale); free(got);
    ic_arena_free(&ctx.ws);
}

int main(void) {
    const ic_dtype dts[2] = {IC_F32, IC_BF16};
    for (int t = 0; t < 2; t++) {
        one(dts[t], 1, 1, 1);
        one(dts[t], 7, 33, 2);
        one(dts[t], 8, 32, 3);
        one(dts[t], 100, 70, 4);
        one(dts[t], 257, 65, 5);
    }
    return optest_end("matmul dbias");
}
