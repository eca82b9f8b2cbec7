// kernels/cuda/attention_convert.cu (fp32 <-> bf16 for the cuDNN attention) in
// the CPU SIMT emulator: exact against the oracle's round-to-nearest-even
// (f32 -> bf16, ties included) and widening (bf16 -> f32); n = 1, 7, 8, 4097,
// aligned (the 8-element pack path plus a tail) and one element off 16-byte
// alignment (the scalar path). The 8 elements past n stay NaN poison: a
// kernel writing past its end fails.
#include "ic_optest.h"

extern "C" {
#include "kernels/cuda/ic_attention_cuda.h"
}

static const size_t kGuard = 8;

static void to_bf16(size_t n, int off, uint64_t seed) {
    ic_ctx ctx = optest_ctx(0);
    float *x = optest_rand(n, seed, -300.0f, 300.0f, IC_F32);
    if (n >= 3) {  // halfway cases: round to even, down then up
        x[0] = 1.00390625f;  // 1 + 2^-8  -> 1
        x[1] = 1.01171875f;  // 1 + 3*2^-8 -> 1 + 2^-6
        x[2] = -3.0e38f;
    }
    double *ref = (double *)malloc(sizeof(double) * (n + kGuard));
    for (size_t i = 0; i < n; i++) ref[i] = ic_oracle_round_bf16(x[i]);
    optest_buf src(IC_F32, n, off), dst(IC_BF16, n + kGuard, off);
    src.put(x);
    dst.poison();
    ic_attention_f32_to_bf16_cuda(&ctx, dst.p, (const float *)src.p, n);
    float *got = (float *)malloc(sizeof(float) * (n + kGuard));
    dst.get(got);
    char name[128];
    snprintf(name, sizeof name, "f32 -> bf16 n=%zu%s", n, off ? " unaligned" : "");
    optest_check(name, got, ref, NULL, n, 0.0);
    size_t overrun = 0;
    for (size_t i = n; i < n + kGuard; i++) overrun += got[i] == got[i];  // not NaN: written
    g_cases++;
    if (overrun) {
        g_failed++;
        printf("%s: %zu elements past n written: FAIL\n", name, overrun);
    }
    free(x); free(ref); free(got);
    ic_arena_free(&ctx.ws);
}

static void to_f32(size_t n, int off, uint64_t seed) {
    ic_ctx ctx = optest_ctx(0);
    float *x = optest_rand(n, seed, -300.0f, 300.0f, IC_BF16);  // bf16 values
    double *ref = (double *)malloc(sizeof(double) * n);
    for (size_t i = 0; i < n; i++) ref[i] = x[i];
    optest_buf src(IC_BF16, n, off), dst(IC_F32, n + kGuard, off);
    src.put(x);
    dst.poison();
    ic_attention_bf16_to_f32_cuda(&ctx, (float *)dst.p, src.p, n);
    float *got = (float *)malloc(sizeof(float) * (n + kGuard));
    dst.get(got);
    char name[128];
    snprintf(name, sizeof name, "bf16 -> f32 n=%zu%s", n, off ? " unaligned" : "");
    optest_check(name, got, ref, NULL, n, 0.0);
    size_t overrun = 0;
    for (size_t i = n; i < n + kGuard; i++) overrun += got[i] == got[i];
    g_cases++;
    if (overrun) {
        g_failed++;
        printf("%s: %zu elements past n written: FAIL\n", name, overrun);
    }
    free(x); free(ref); free(got);
    ic_arena_free(&ctx.ws);
}

int main(void) {
    const size_t ns[4] = {1, 7, 8, 4097};
    for (int i = 0; i < 4; i++) {
        to_bf16(ns[i], 0, 10 + (uint64_t)i);
        to_f32(ns[i], 0, 20 + (uint64_t)i);
    }
    to_bf16(4097, 1, 31);
    to_f32(4097, 1, 32);
    return optest_end("attention_convert");
}
