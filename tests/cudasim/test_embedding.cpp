// kernels/cuda/embedding.cu in the CPU SIMT emulator against the oracle:
// exact copies (fp32 and bf16), ragged D (packed and unpacked paths), an
// out-of-range token turns its row into NaN. Output poisoned with NaN first.
#include "ic_optest.h"

static void one(ic_dtype dt, int L, int D, int V, uint64_t seed) {
    ic_ctx ctx = optest_ctx(0);
    float *table = optest_rand((size_t)V * D, seed, -2.0f, 2.0f, dt);
    int32_t *tok = (int32_t *)malloc(sizeof(int32_t) * (size_t)L);
    uint64_t s = seed ^ 0x5eedu;
    for (int t = 0; t < L; t++) tok[t] = (int32_t)(ic_oracle_next(&s) % (uint64_t)V);
    tok[0] = V - 1;
    tok[L - 1] = 0;
    const size_t n = (size_t)L * D;
    double *ref = (double *)malloc(sizeof(double) * n);
    ic_oracle_embedding(ref, tok, table, L, D);
    optest_buf dtab(dt, (size_t)V * D), dout(dt, n);
    dtab.put(table);
    dout.poison();
    ic_embedding_forward_cuda(&ctx, dt, dout.p, tok, dtab.p, L, D, V);
    float *got = (float *)malloc(sizeof(float) * n);
    dout.get(got);
    char name[128];
    snprintf(name, sizeof name, "embedding %s L=%d D=%d V=%d", optest_dt(dt), L, D, V);
    optest_check(name, got, ref, NULL, n, 0.0);
    free(table); free(tok); free(ref); free(got);
    ic_arena_free(&ctx.ws);
}

// A token outside [0, V) gives a NaN row, the others stay exact.
static void bad_token(ic_dtype dt, int D) {
    ic_ctx ctx = optest_ctx(0);
    const int L = 3, V = 4;
    float *table = optest_rand((size_t)V * D, 99, -1.0f, 1.0f, dt);
    int32_t tok[3] = {1, V, -1};
    optest_buf dtab(dt, (size_t)V * D), dout(dt, (size_t)L * D);
    dtab.put(table);
    dout.poison();
    ic_embedding_forward_cuda(&ctx, dt, dout.p, tok, dtab.p, L, D, V);
    float *got = (float *)malloc(sizeof(float) * (size_t)L * D);
    dout.get(got);
    int ok = 1;
    for (int j = 0; j < D; j++) {
        ok &= got[j] == table[(size_t)D + j];
        ok &= got[D + j] != got[D + j] && got[2 * D + j] != got[2 * D + j];
    }
    g_cases++;
    if (!ok) g_failed++;
    printf("embedding %s D=%d out-of-range tokens give NaN rows: %s\n", optest_dt(dt), D,
           ok ? "PASS" : "FAIL");
    free(table); free(got);
    ic_arena_free(&ctx.ws);
}

int main(void) {
    const ic_dtype dts[2] = {IC_F32, IC_BF16};
    for (int k = 0; k < 2; k++) {
        const uint64_t sd = 100u * (uint64_t)(k + 1);
        one(dts[k], 1, 1, 1, sd + 1);
        one(dts[k], 7, 3, 5, sd + 2);
        one(dts[k], 7, 576, 11, sd + 3);
        one(dts[k], 64, 577, 9, sd + 4);
        one(dts[k], 3, 8, 2, sd + 5);
        bad_token(dts[k], 8);
        bad_token(dts[k], 5);
    }
    return optest_end("embedding");
}
