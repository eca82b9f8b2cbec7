// kernels/cuda/sparse_attention.cu in the CPU SIMT emulator against the CPU
// reference op (kernels/cpu/sparse_attention.c, compiled in), on the values
// the device holds (bf16-rounded for bf16 storage). Ragged shapes: L = 1, 9,
// 20, 33, 37, 45, 70, 130 (no multiple of a block's 4 queries or a warp's
// rows); rows with t + 1 < K and K > L (every row short); GQA 9/3, 8/1 (3
// sub-groups of bf16 heads, 2 of fp32), 5/1, 16/1, 24/1 (8 bf16 sub-groups)
// and MHA 4/4, 6/6 (bf16 with 3..16 heads a KV group at d 64 / 128 runs the
// tensor-core kernel: 9/3, 8/1, 16/1 and 24/2, 12/1, 8/1 d 128; 16/2 with
// unaligned pointers, 17/1 and 6/2 d 6 fall back to the CUDA-core one); d = 64, 128, 256 (bf16, a whole warp a row), and 20 and
// 6 (element loads where d is not a multiple of the 16-byte pack), one case
// with every pointer one element off 16-byte alignment; K = 1 .. 2048; the
// three set kinds of tests/ic_sparse_sets.h (top-k-like sorted with the
// local window, short unsorted rows, dense descending); fp32 and bf16
// storage; lse returned or NULL. Outputs (and lse) are poisoned with NaN
// first, and the bytes past out must stay as they were.
//
// Tolerances, per element, relative to the double scale S = sum_i p_i |v_i|
// (p the exact softmax weights over the set; S >= |out|):
//   fp32 storage: 2e-5. Both sides sum up to a few hundred fp32 terms in
//     different orders (the CPU two passes with expf, the kernel an online
//     softmax with __expf, exact here) from the same inputs.
//   bf16 storage: 4e-3, the kernel's output rounded to bf16 once (half a
//     bf16 ulp is at most 2^-8 = 3.9e-3 of |out| <= S) plus the fp32 noise.
//   lse (fp32 in both): 1e-5 of |lse| + 1.
// Each CTest order (forward, reverse, random) runs it all.
#include <math.h>

#include "ic_optest.h"

extern "C" {
#include "kernels/ic_sparse_attention.h"
}

#include "../ic_sparse_sets.h"

// S[t, h, c] = sum_i p_i |v[idx_i, g, c]| / sum_i p_i in double.
static void scale_of(double *S, const float *q, const float *k, const float *v, int L, int H,
                     int Hkv, int d, const int32_t *idx, const int32_t *cnt, int K) {
    const int gs = H / Hkv;
    double *p = (double *)malloc(sizeof(double) * (size_t)K);
    for (int t = 0; t < L; t++)
        for (int h = 0; h < H; h++) {
            const int g = h / gs, n = cnt[t];
            const int32_t *set = idx + (size_t)t * K;
            double m = -INFINITY;
            for (int i = 0; i < n; i++) {
                double a = 0.0;
                for (int c = 0; c < d; c++)
                    a += (double)q[((size_t)t * H + h) * d + c] * k[((size_t)set[i] * Hkv + g) * d + c];
                p[i] = a / sqrt((double)d);
                m = p[i] > m ? p[i] : m;
            }
            double l = 0.0;
            for (int i = 0; i < n; i++) l += (p[i] = exp(p[i] - m));
            for (int c = 0; c < d; c++) {
                double a = 0.0;
                for (int i = 0; i < n; i++) a += p[i] * fabs((double)v[((size_t)set[i] * Hkv + g) * d + c]);
                S[((size_t)t * H + h) * d + c] = a / l;
            }
        }
    free(p);
}

// One call into out_bytes = bf16 out then fp32 lse, for cudasim_check_orders.
struct orders_case {
    int L, H, Hkv, d, K;
    const float *q, *k, *v;
    const int32_t *idx, *cnt;
};
static void orders_body(void *user, void *outb, size_t out_bytes) {
    const orders_case *c = (const orders_case *)user;
    const size_t nq = (size_t)c->L * c->H * c->d, nkv = (size_t)c->L * c->Hkv * c->d;
    const size_t nl = (size_t)c->H * c->L;
    ic_ctx ctx = optest_ctx(0);
    optest_buf dq(IC_BF16, nq, 0), dk(IC_BF16, nkv, 0), dv(IC_BF16, nkv, 0), dout(IC_BF16, nq, 0),
        dlse(IC_F32, nl, 0);
    dq.put(c->q);
    dk.put(c->k);
    dv.put(c->v);
    dout.poison();
    dlse.poison();
    ic_sparse_attention_forward_cuda(&ctx, IC_BF16, dout.p, (float *)dlse.p, dq.p, dk.p, dv.p,
                                     c->L, c->H, c->Hkv, c->d, c->idx, c->cnt, c->K);
    if (out_bytes == 2 * nq + 4 * nl) {
        memcpy(outb, dout.p, 2 * nq);
        memcpy((char *)outb + 2 * nq, dlse.p, 4 * nl);
    }
    ic_arena_free(&ctx.ws);
}

static void one(ic_dtype dt, int L, int H, int Hkv, int d, int K, int mode, int off, int with_lse,
                uint64_t seed) {
    const size_t nq = (size_t)L * H * d, nkv = (size_t)L * Hkv * d, nl = (size_t)H * L;
    float *q = optest_rand(nq, seed, -1.5f, 1.5f, dt);
    float *k = optest_rand(nkv, seed + 1, -1.5f, 1.5f, dt);
    float *v = optest_rand(nkv, seed + 2, -1.0f, 1.0f, dt);
    int32_t *idx = (int32_t *)malloc(sizeof(int32_t) * (size_t)L * K + 4);
    int32_t *cnt = (int32_t *)malloc(sizeof(int32_t) * (size_t)L + 4);
    sets_fill(idx, cnt, L, K, mode, seed + 3);
    // Slots past cnt are not part of the set: a position no row has, so a
    // kernel that gathered one would read far out of bounds.
    for (int t = 0; t < L; t++)
        for (int i = cnt[t]; i < K; i++) idx[(size_t)t * K + i] = 0x3fffffff;

    // The CPU reference on the values the device holds.
    ic_ctx cpu;
    memset(&cpu, 0, sizeof cpu);
    cpu.backend = IC_BACKEND_CPU;
    cpu.device = -1;
    cpu.cpu_threads = 1;
    if (ic_arena_init(&cpu.ws, ic_sparse_attention_workspace_bytes_cpu(&cpu, H, Hkv, d, K)) != 0) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    float *ro = (float *)malloc(sizeof(float) * (nq + 1)), *rl = (float *)malloc(sizeof(float) * (nl + 1));
    ic_sparse_attention_forward_cpu(&cpu, ro, rl, q, k, v, L, H, Hkv, d, idx, cnt, K);
    double *S = (double *)malloc(sizeof(double) * (nq + 1));
    scale_of(S, q, k, v, L, H, Hkv, d, idx, cnt, K);

    ic_ctx ctx = optest_ctx(ic_sparse_attention_workspace_bytes_cuda(&cpu, H, Hkv, d, K));
    optest_buf dq(dt, nq, off), dk(dt, nkv, off), dv(dt, nkv, off), dout(dt, nq, off);
    optest_buf dlse(IC_F32, nl);
    dq.put(q);
    dk.put(k);
    dv.put(v);
    dout.poison();
    dlse.poison();
    // The bytes after out (the buffer's tail, 0xA5 from optest_buf) must survive.
    const size_t tail_at = (size_t)off * optest_size(dt) + nq * optest_size(dt);
    unsigned char tail[64];
    memcpy(tail, (char *)dout.base + tail_at, sizeof tail);
    ic_sparse_attention_forward_cuda(&ctx, dt, dout.p, with_lse ? (float *)dlse.p : NULL, dq.p,
                                     dk.p, dv.p, L, H, Hkv, d, idx, cnt, K);

    float *go = (float *)malloc(sizeof(float) * (nq + 1)), *gl = (float *)malloc(sizeof(float) * (nl + 1));
    dout.get(go);
    dlse.get(gl);
    double *rod = (double *)malloc(sizeof(double) * (nq + 1));
    for (size_t i = 0; i < nq; i++) rod[i] = ro[i];
    char name[200];
    snprintf(name, sizeof name, "sparse attn %s L=%d H=%d/%d d=%d K=%d %s%s%s", optest_dt(dt), L,
             H, Hkv, d, K, sets_mode_name(mode), off ? " unaligned" : "", with_lse ? "" : " no-lse");
    optest_check(name, go, rod, S, nq, dt == IC_BF16 ? 4e-3 : 2e-5);
    if (with_lse) {
        double *rld = (double *)malloc(sizeof(double) * (nl + 1));
        double *lsc = (double *)malloc(sizeof(double) * (nl + 1));
        for (size_t i = 0; i < nl; i++) {
            rld[i] = rl[i];
            lsc[i] = fabs((double)rl[i]) + 1.0;
        }
        char nm2[220];
        snprintf(nm2, sizeof nm2, "%s lse", name);
        optest_check(nm2, gl, rld, lsc, nl, 1e-5);
        free(rld);
        free(lsc);
    } else {
        size_t touched = 0;
        for (size_t i = 0; i < nl; i++) touched += !isnan(gl[i]);
        if (touched) {
            printf("%-60s FAIL: lse NULL, yet %zu entries of the poisoned buffer changed\n", name,
                   touched);
            g_failed++;
        }
    }
    if (memcmp(tail, (char *)dout.base + tail_at, sizeof tail) != 0) {
        printf("%-60s FAIL: bytes past out were written\n", name);
        g_failed++;
    }
    free(q); free(k); free(v); free(idx); free(cnt); free(ro); free(rl); free(S);
    free(go); free(gl); free(rod);
    ic_arena_free(&cpu.ws);
    ic_arena_free(&ctx.ws);
}

int main(void) {
    struct { int L, H, Hkv, d, K, mode; } c[] = {
        {1, 1, 1, 64, 1, SETS_TOPK},      {37, 9, 3, 64, 16, SETS_TOPK},
        {70, 9, 3, 64, 96, SETS_TOPK},    {70, 4, 4, 128, 100, SETS_DENSE},
        {130, 8, 1, 64, 48, SETS_SHORT},  {45, 16, 1, 128, 40, SETS_TOPK},
        {33, 5, 1, 64, 7, SETS_SHORT},    {9, 24, 1, 64, 9, SETS_DENSE},
        {20, 6, 6, 20, 11, SETS_TOPK},    {20, 6, 2, 6, 5, SETS_SHORT},
        {40, 9, 3, 64, 2048, SETS_TOPK},  {130, 9, 3, 64, 1, SETS_DENSE},
    };
    const int n = (int)(sizeof c / sizeof c[0]);
    uint64_t seed = 100;
    for (int dtk = 0; dtk < 2; dtk++) {
        const ic_dtype dt = dtk ? IC_BF16 : IC_F32;
        for (int i = 0; i < n; i++, seed += 10)
            one(dt, c[i].L, c[i].H, c[i].Hkv, c[i].d, c[i].K, c[i].mode, 0, (i + dtk) % 2 == 0, seed);
    }
    one(IC_BF16, 10, 2, 1, 256, 8, SETS_TOPK, 0, 1, 5000);   // bf16 d = 256: a warp a row
    one(IC_BF16, 37, 9, 3, 64, 16, SETS_SHORT, 1, 1, 5010);  // pointers off 16 bytes
    one(IC_F32, 37, 8, 2, 128, 16, SETS_TOPK, 1, 0, 5020);
    // The tensor-core kernel (bf16, 3 <= H / Hkv <= 16, d 64 / 128): 12 heads
    // padded to 16 rows, two KV groups; a set of up to 256 entries (16 chunks,
    // each warp's ring wraps several times) and ragged last chunks; 8 heads
    // at d 128; and, with pointers off 16 bytes or 17 heads, the CUDA-core one.
    one(IC_BF16, 150, 24, 2, 64, 256, SETS_TOPK, 0, 1, 5030);
    one(IC_BF16, 70, 12, 1, 128, 60, SETS_SHORT, 0, 0, 5040);
    one(IC_BF16, 41, 8, 1, 128, 2048, SETS_DENSE, 0, 1, 5050);
    one(IC_BF16, 37, 16, 2, 64, 16, SETS_TOPK, 1, 1, 5060);
    one(IC_BF16, 20, 17, 1, 64, 16, SETS_TOPK, 0, 1, 5070);

    // Bitwise the same in every thread order (forward, reverse, two random):
    // the tensor-core kernel's per-warp rings and shared-memory merge, and
    // the CUDA-core one (17 heads), out and lse.
    {
        const int cases[2][5] = {{45, 12, 1, 128, 80}, {30, 17, 1, 64, 40}};
        for (int ci = 0; ci < 2; ci++) {
            const int L = cases[ci][0], H = cases[ci][1], Hkv = cases[ci][2], d = cases[ci][3],
                      K = cases[ci][4];
            const size_t nq = (size_t)L * H * d, nkv = (size_t)L * Hkv * d;
            float *q = optest_rand(nq, 7000 + ci, -1.5f, 1.5f, IC_BF16);
            float *k = optest_rand(nkv, 7001 + ci, -1.5f, 1.5f, IC_BF16);
            float *v = optest_rand(nkv, 7002 + ci, -1.0f, 1.0f, IC_BF16);
            int32_t *idx = (int32_t *)malloc(sizeof(int32_t) * (size_t)L * K);
            int32_t *cnt = (int32_t *)malloc(sizeof(int32_t) * (size_t)L);
            sets_fill(idx, cnt, L, K, SETS_TOPK, 7003 + ci);
            orders_case oc = {L, H, Hkv, d, K, q, k, v, idx, cnt};
            const int bad = cudasim_check_orders(
                ci ? "sparse attn cuda-core 17/1 orders" : "sparse attn mma 12/1 orders",
                orders_body, &oc, 2 * nq + 4 * (size_t)H * L);
            g_cases++;
            printf("%-60s %s\n", ci ? "sparse attn cuda-core 17/1: bitwise across orders"
                                     : "sparse attn mma 12/1: bitwise across orders",
                   bad ? "FAIL" : "PASS");
            if (bad) g_failed++;
            free(q); free(k); free(v); free(idx); free(cnt);
        }
    }

    // What the kernel takes (the dispatcher's check).
    const int sup_ok = ic_sparse_attention_cuda_supports(IC_BF16, 24, 1, 256) &&
                       ic_sparse_attention_cuda_supports(IC_F32, 9, 3, 128) &&
                       !ic_sparse_attention_cuda_supports(IC_F32, 25, 1, 64) &&
                       !ic_sparse_attention_cuda_supports(IC_F32, 4, 1, 132) &&
                       !ic_sparse_attention_cuda_supports(IC_BF16, 4, 1, 264) &&
                       !ic_sparse_attention_cuda_supports(IC_F16, 4, 1, 64);
    g_cases++;
    printf("%-60s %s\n", "supported shapes (G <= 24, d <= 128 fp32 / 256 bf16)",
           sup_ok ? "PASS" : "FAIL");
    if (!sup_ok) g_failed++;
    return optest_end("sparse attention");
}
