// kernels/cuda/indexer_scores.cu (bf16 mma.sync through the ic_ptx.cuh twins)
// in the CPU SIMT emulator against the CPU reference op
// (kernels/cpu/indexer_scores.c, compiled in): ragged L = 1, 17, 70, 130,
// 290, 300, 530 (several 256-key blocks of the d_I 64 / 128 path);
// H_I = 1, 3, 16; d_I = 16, 64, 128; row blocks [t0, t1) that start and end
// mid-tile; ld > t1; the output (and 64 floats past it) poisoned with NaN.
//
// Three input kinds:
//   bf16      storage bf16 (the CPU gets the same values as fp32);
//   f32 (bf16 values)  storage fp32 holding bf16-representable values: the
//             staging conversion is then exact;
//   f32       storage fp32, arbitrary values: the kernel rounds them to bf16.
// Tolerance, per entry s <= t, relative to S = sum_j |w[t,j]| sum_i
// |qI[t,j,i] kI[s,i]| (the sum of the magnitudes the result is built from):
//   bf16-representable inputs: 1e-5. Both sides then have the exact products;
//     they differ in fp32 summation order only (the mma's fused, truncated
//     sum vs OpenBLAS's FMAs, then H_I fp32 FMAs): a few 2^-24 of S.
//   fp32 inputs: 4e-3, the bound from rounding q and k to bf16 (each product
//     off by at most 2^-8 relative, plus the fp32 noise above).
// Entries t < s < ld must be exactly -INFINITY, and nothing past the block
// may be written. Each CTest order (forward, reverse, random) runs it all.
#include <math.h>

#include "ic_optest.h"

extern "C" {
#include "kernels/ic_indexer_scores.h"
}

enum { IN_BF16, IN_F32_BFVAL, IN_F32 };
static const char *in_name(int k) {
    return k == IN_BF16 ? "bf16" : k == IN_F32_BFVAL ? "f32 (bf16 values)" : "f32";
}

static void one(int kind, int L, int H_I, int d_I, int t0, int t1, int ld, int off,
                uint64_t seed) {
    const ic_dtype dt = kind == IN_BF16 ? IC_BF16 : IC_F32;
    const int round = kind != IN_F32;
    const size_t nq = (size_t)L * H_I * d_I, nk = (size_t)L * d_I, nw = (size_t)L * H_I;
    float *q = (float *)malloc(sizeof(float) * nq), *k = (float *)malloc(sizeof(float) * nk);
    float *w = (float *)malloc(sizeof(float) * nw);
    ic_oracle_fill(q, nq, seed, -1.0f, 1.0f, round);
    ic_oracle_fill(k, nk, seed + 1, -1.0f, 1.0f, round);
    ic_oracle_fill(w, nw, seed + 2, -0.5f, 1.0f, round);  // mostly positive, some negative

    // The CPU reference, on the values the device holds.
    ic_ctx cpu;
    memset(&cpu, 0, sizeof cpu);
    cpu.backend = IC_BACKEND_CPU;
    cpu.device = -1;
    cpu.cpu_threads = 1;
    if (ic_arena_init(&cpu.ws, ic_indexer_scores_workspace_bytes_cpu(&cpu, L, H_I, d_I)) != 0) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    const int rows = t1 - t0;
    const size_t n_out = (size_t)rows * ld, guard = 64;
    float *ref = (float *)malloc(sizeof(float) * (n_out + 1));
    ic_indexer_scores_forward_cpu(&cpu, ref, ld, q, k, w, L, H_I, d_I, t0, t1);

    ic_ctx ctx = optest_ctx(0);
    optest_buf dq(dt, nq, off), dk(dt, nk, off), dw(dt, nw, off);
    dq.put(q);
    dk.put(k);
    dw.put(w);
    float *got = (float *)malloc(sizeof(float) * (n_out + guard));
    for (size_t i = 0; i < n_out + guard; i++) got[i] = NAN;
    ic_indexer_scores_forward_cuda(&ctx, dt, got, ld, dq.p, dk.p, dw.p, L, H_I, d_I, t0, t1);

    // Entries on and below the diagonal against the reference; the rest exact.
    const size_t n_low = n_out;
    float *g_c = (float *)malloc(sizeof(float) * (n_low + 1));
    double *r_c = (double *)malloc(sizeof(double) * (n_low + 1));
    double *s_c = (double *)malloc(sizeof(double) * (n_low + 1));
    size_t m = 0, bad_mask = 0, bad_guard = 0;
    for (int r = 0; r < rows; r++) {
        const int t = t0 + r;
        for (int s = 0; s < ld; s++) {
            const float v = got[(size_t)r * ld + s];
            if (s > t) {
                if (!(isinf(v) && v < 0)) bad_mask++;
                continue;
            }
            double S = 0.0;
            for (int j = 0; j < H_I; j++) {
                double a = 0.0;
                const float *qr = q + ((size_t)t * H_I + j) * d_I, *kr = k + (size_t)s * d_I;
                for (int i = 0; i < d_I; i++) a += fabs((double)qr[i] * (double)kr[i]);
                S += fabs((double)w[(size_t)t * H_I + j]) * a;
            }
            g_c[m] = v;
            r_c[m] = (double)ref[(size_t)r * ld + s];
            s_c[m] = S > 0 ? S : 1e-30;
            m++;
        }
    }
    for (size_t i = n_out; i < n_out + guard; i++)
        if (!isnan(got[i])) bad_guard++;

    char name[160];
    snprintf(name, sizeof name, "scores %s L=%d H=%d d=%d [%d,%d) ld=%d%s", in_name(kind), L, H_I,
             d_I, t0, t1, ld, off ? " unaligned" : "");
    optest_check(name, g_c, r_c, s_c, m, round ? 1e-5 : 4e-3);
    if (bad_mask || bad_guard) {
        printf("%-56s FAIL: %zu entries s > t not -inf, %zu written past the block\n", name,
               bad_mask, bad_guard);
        g_failed++;
    }
    free(q); free(k); free(w); free(ref); free(got); free(g_c); free(r_c); free(s_c);
    ic_arena_free(&cpu.ws);
    ic_arena_free(&ctx.ws);
}

int main(void) {
    struct { int L, H, d, t0, t1, ld; } c[] = {
        {1, 1, 16, 0, 1, 1},      {1, 3, 16, 0, 1, 5},       {17, 3, 16, 0, 17, 17},
        {17, 1, 64, 5, 13, 20},   {70, 16, 64, 0, 70, 70},   {70, 3, 64, 3, 67, 70},
        {70, 16, 16, 10, 70, 75}, {70, 1, 128, 0, 70, 71},   {130, 3, 64, 0, 130, 130},
        {130, 1, 16, 61, 129, 131}, {130, 16, 64, 65, 130, 130}, {130, 3, 16, 1, 2, 130},
        // More than one 256-key block of the d_I 64 / 128 path; odd ld (no pair stores).
        {300, 2, 64, 0, 300, 300}, {290, 3, 128, 250, 287, 289}, {530, 1, 64, 255, 530, 531},
    };
    const int n = (int)(sizeof c / sizeof c[0]);
    uint64_t seed = 1000;
    for (int kind = 0; kind < 3; kind++)
        for (int i = 0; i < n; i++, seed += 10)
            one(kind, c[i].L, c[i].H, c[i].d, c[i].t0, c[i].t1, c[i].ld, 0, seed);
    // Pointers one element off 16 bytes: the unpacked staging path.
    one(IN_BF16, 70, 3, 64, 3, 67, 70, 1, 5000);
    one(IN_F32, 70, 3, 16, 0, 70, 72, 1, 5010);
    return optest_end("indexer scores");
}
