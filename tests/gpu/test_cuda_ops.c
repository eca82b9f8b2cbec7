/* The first CUDA ops on the GPU against double-precision oracles that
 * follow the CPU references' maths (tests/ic_ops_oracle.h): embedding,
 * RMSNorm, RoPE forward/backward, SwiGLU, residual add, scale, AdamW
 * update, sum of squares. Fixed seeds, inputs never zero, outputs poisoned
 * with NaN before the op (in-place ops start from their inputs), ragged and
 * large sizes, fp32 and bf16 storage, pointers one element off 16-byte
 * alignment for the scalar paths. Prints max abs / rel error per case.
 *
 * Tolerances (relative to |oracle|, or to the scale the oracle returns
 * where the result is a difference: RoPE, AdamW):
 *   embedding, add, scale: exact (the same fp32 operation, then the same
 *     round-to-nearest-even to bf16).
 *   everything else: fp32 1e-6, bf16 4e-3 (half a bf16 ulp <= 2^-8 plus
 *     fp32 noise); sum of squares: 1e-12 (double sums of up to 10M terms).
 *
 * Plain main, no Check: the GPU machine has no libcheck. Exit 77 (CTest
 * SKIP_RETURN_CODE) when no CUDA context can be opened (or the build has
 * no CUDA: then it references none of the _cuda entry points), 1 on any
 * failure. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ic_error.h"
#include "kernels/ic_adamw_update.h"
#include "kernels/ic_ctx.h"
#include "kernels/ic_cuda_ops.h"
#include "kernels/ic_grad_norm.h"

#include "ic_gpu_test.h"

#ifndef IC_WITH_CUDA
int main(void) {
    printf("SKIP: built without CUDA (-DIC_CUDA=OFF)\n");
    return 77;
}
#else

static ic_ctx g_ctx;
static int g_cases, g_failed;

static const char *dt_name(ic_dtype dt) { return dt == IC_BF16 ? "bf16" : "f32"; }
static size_t dt_size(ic_dtype dt) { return dt == IC_BF16 ? 2 : 4; }
static double dt_tol(ic_dtype dt) { return dt == IC_BF16 ? IC_ORACLE_TOL_BF16 : IC_ORACLE_TOL_F32; }

/* ---- device buffers of n elements, `off` elements past an aligned base ---- */
typedef struct { void *base; void *p; } dbuf;

static dbuf dev_alloc(ic_dtype dt, size_t n, int off) {
    dbuf b;
    b.base = ic_buf_alloc(&g_ctx, (n + (size_t)off) * dt_size(dt));
    if (!b.base) { fprintf(stderr, "out of device memory\n"); exit(2); }
    b.p = (char *)b.base + (size_t)off * dt_size(dt);
    return b;
}
static void dev_free(dbuf b) { ic_buf_free(&g_ctx, b.base); }

static void dev_put(ic_dtype dt, dbuf b, const float *x, size_t n) {
    if (dt == IC_F32) { ic_buf_upload(&g_ctx, b.p, x, n * 4); return; }
    uint16_t *h = ic_gt_xmalloc(n * 2);
    for (size_t i = 0; i < n; i++) h[i] = ic_oracle_f2bf(x[i]);
    ic_buf_upload(&g_ctx, b.p, h, n * 2);
    free(h);
}
static void dev_poison(ic_dtype dt, dbuf b, size_t n) {
    float *h = ic_gt_xmalloc(n * 4);
    for (size_t i = 0; i < n; i++) h[i] = NAN;
    dev_put(dt, b, h, n);
    free(h);
}
static void dev_get(ic_dtype dt, float *x, dbuf b, size_t n) {
    if (dt == IC_F32) { ic_buf_download(&g_ctx, x, b.p, n * 4); return; }
    uint16_t *h = ic_gt_xmalloc(n * 2);
    ic_buf_download(&g_ctx, h, b.p, n * 2);
    for (size_t i = 0; i < n; i++) x[i] = ic_oracle_bf2f(h[i]);
    free(h);
}
static dbuf dev_from(ic_dtype dt, const float *x, size_t n, int off) {
    dbuf b = dev_alloc(dt, n, off);
    dev_put(dt, b, x, n);
    return b;
}

static void check(const char *name, const float *got, const double *ref, const double *scale,
                  size_t n, double tol) {
    ic_oracle_check(name, got, ref, scale, n, tol, &g_cases, &g_failed);
}

static float *host_rand(size_t n, uint64_t seed, float lo, float hi, ic_dtype dt) {
    float *x = ic_gt_xmalloc(n * sizeof *x);
    ic_oracle_fill(x, n, seed, lo, hi, dt == IC_BF16);
    return x;
}

/* ---- one case per op ---- */
static void case_embedding(ic_dtype dt, int L, int D, int V, uint64_t seed) {
    float *table = host_rand((size_t)V * D, seed, -2.0f, 2.0f, dt);
    int32_t *tok = ic_gt_xmalloc(sizeof *tok * (size_t)L);
    uint64_t s = seed ^ 0x5eedu;
    for (int t = 0; t < L; t++) tok[t] = (int32_t)(ic_oracle_next(&s) % (uint64_t)V);
    tok[0] = V - 1;      /* both ends of the table */
    tok[L - 1] = 0;
    double *ref = ic_gt_xmalloc(sizeof *ref * (size_t)L * D);
    ic_oracle_embedding(ref, tok, table, L, D);

    dbuf dtab = dev_from(dt, table, (size_t)V * D, 0), dout = dev_alloc(dt, (size_t)L * D, 0);
    int32_t *dtok = ic_buf_alloc(&g_ctx, sizeof *dtok * (size_t)L);
    ic_buf_upload(&g_ctx, dtok, tok, sizeof *tok * (size_t)L);
    dev_poison(dt, dout, (size_t)L * D);
    ic_embedding_forward_cuda(&g_ctx, dt, dout.p, dtok, dtab.p, L, D, V);
    float *got = ic_gt_xmalloc(sizeof *got * (size_t)L * D);
    dev_get(dt, got, dout, (size_t)L * D);

    char name[128];
    snprintf(name, sizeof name, "embedding %s L=%d D=%d V=%d", dt_name(dt), L, D, V);
    check(name, got, ref, NULL, (size_t)L * D, 0.0);
    dev_free(dtab); dev_free(dout); ic_buf_free(&g_ctx, dtok);
    free(table); free(tok); free(ref); free(got);
}

static void case_rmsnorm(ic_dtype dt, int L, int D, int in_place, uint64_t seed) {
    const size_t n = (size_t)L * D;
    float *x = host_rand(n, seed, -3.0f, 3.0f, dt);
    float *w = host_rand((size_t)D, seed + 1, 0.5f, 1.5f, dt);
    const float eps = 1e-5f;
    double *ref = ic_gt_xmalloc(sizeof *ref * n);
    ic_oracle_rmsnorm(ref, x, w, L, D, eps);

    dbuf dx = dev_from(dt, x, n, 0), dw = dev_from(dt, w, (size_t)D, 0), dout = dx;
    if (!in_place) { dout = dev_alloc(dt, n, 0); dev_poison(dt, dout, n); }
    ic_rmsnorm_forward_cuda(&g_ctx, dt, dout.p, dx.p, dw.p, L, D, eps);
    float *got = ic_gt_xmalloc(sizeof *got * n);
    dev_get(dt, got, dout, n);

    char name[128];
    snprintf(name, sizeof name, "rmsnorm %s L=%d D=%d%s", dt_name(dt), L, D,
             in_place ? " in place" : "");
    check(name, got, ref, NULL, n, dt_tol(dt));
    dev_free(dx); dev_free(dw);
    if (!in_place) dev_free(dout);
    free(x); free(w); free(ref); free(got);
}

static void case_rope(ic_dtype dt, int L, int H, int hd, int rot, int pos0, int backward,
                      uint64_t seed) {
    const size_t n = (size_t)L * H * hd;
    const float theta = 10000.0f;
    float *x = host_rand(n, seed, -2.0f, 2.0f, dt);
    double *ref = ic_gt_xmalloc(sizeof *ref * n), *scale = ic_gt_xmalloc(sizeof *scale * n);
    ic_oracle_rope(ref, scale, x, L, H, hd, rot, pos0, theta, backward ? -1.0 : 1.0);

    dbuf dx = dev_from(dt, x, n, 0);
    if (backward) ic_rope_backward_cuda(&g_ctx, dt, dx.p, L, H, hd, rot, pos0, theta);
    else ic_rope_forward_cuda(&g_ctx, dt, dx.p, L, H, hd, rot, pos0, theta);
    float *got = ic_gt_xmalloc(sizeof *got * n);
    dev_get(dt, got, dx, n);

    char name[128];
    snprintf(name, sizeof name, "rope %s %s L=%d H=%d hd=%d rot=%d pos0=%d", backward ? "bwd" : "fwd",
             dt_name(dt), L, H, hd, rot, pos0);
    check(name, got, ref, scale, n, dt_tol(dt));
    dev_free(dx);
    free(x); free(ref); free(scale); free(got);
}

/* in_place: 0 separate out, 1 out == gate, 2 out == up */
static void case_swiglu(ic_dtype dt, size_t n, int off, int in_place, uint64_t seed) {
    float *g = host_rand(n, seed, -6.0f, 6.0f, dt), *u = host_rand(n, seed + 1, -2.0f, 2.0f, dt);
    double *ref = ic_gt_xmalloc(sizeof *ref * n);
    ic_oracle_swiglu(ref, g, u, n);

    dbuf dg = dev_from(dt, g, n, off), du = dev_from(dt, u, n, off);
    dbuf dout = in_place == 1 ? dg : in_place == 2 ? du : dev_alloc(dt, n, off);
    if (!in_place) dev_poison(dt, dout, n);
    ic_swiglu_forward_cuda(&g_ctx, dt, dout.p, dg.p, du.p, n);
    float *got = ic_gt_xmalloc(sizeof *got * n);
    dev_get(dt, got, dout, n);

    char name[128];
    snprintf(name, sizeof name, "swiglu %s n=%zu%s%s", dt_name(dt), n, off ? " unaligned" : "",
             in_place == 1 ? " out=gate" : in_place == 2 ? " out=up" : "");
    check(name, got, ref, NULL, n, dt_tol(dt));
    dev_free(dg); dev_free(du);
    if (!in_place) dev_free(dout);
    free(g); free(u); free(ref); free(got);
}

static void case_add(ic_dtype dt, size_t n, int off, uint64_t seed) {
    float *h = host_rand(n, seed, -4.0f, 4.0f, dt), *x = host_rand(n, seed + 1, -4.0f, 4.0f, dt);
    double *ref = ic_gt_xmalloc(sizeof *ref * n);
    for (size_t i = 0; i < n; i++) {  /* one fp32 add, then the storage rounding */
        const float s = h[i] + x[i];
        ref[i] = dt == IC_BF16 ? ic_oracle_round_bf16(s) : s;
    }
    dbuf dh = dev_from(dt, h, n, off), dx = dev_from(dt, x, n, off);
    ic_add_inplace_cuda(&g_ctx, dt, dh.p, dx.p, n);
    float *got = ic_gt_xmalloc(sizeof *got * n);
    dev_get(dt, got, dh, n);

    char name[128];
    snprintf(name, sizeof name, "add_inplace %s n=%zu%s", dt_name(dt), n, off ? " unaligned" : "");
    check(name, got, ref, NULL, n, 0.0);
    dev_free(dh); dev_free(dx);
    free(h); free(x); free(ref); free(got);
}

static void case_scale(size_t n, int off, uint64_t seed) {
    const float s = 0.3712f;
    float *x = host_rand(n, seed, -4.0f, 4.0f, IC_F32);
    double *ref = ic_gt_xmalloc(sizeof *ref * n);
    for (size_t i = 0; i < n; i++) ref[i] = (float)((double)x[i] * s);  /* exact product, one rounding */
    dbuf dx = dev_from(IC_F32, x, n, off);
    ic_scale_cuda(&g_ctx, dx.p, s, n);
    float *got = ic_gt_xmalloc(sizeof *got * n);
    dev_get(IC_F32, got, dx, n);

    char name[128];
    snprintf(name, sizeof name, "scale f32 n=%zu%s", n, off ? " unaligned" : "");
    check(name, got, ref, NULL, n, 0.0);
    dev_free(dx);
    free(x); free(ref); free(got);
}

static void case_adamw(size_t n, int off, uint64_t seed) {
    const float lr = 3e-4f, wd = 0.1f, b1 = 0.9f, b2 = 0.95f;
    const int t = 7;
    ic_adamw_coef c;
    c.beta1 = b1; c.beta2 = b2; c.eps = 1e-8f;
    c.decay_mul = 1.0f - lr * wd;
    c.step_size = (float)(lr / (1.0 - pow(b1, t)));
    c.inv_sqrt_bc2 = (float)(1.0 / sqrt(1.0 - pow(b2, t)));
    float *p = host_rand(n, seed, -1.0f, 1.0f, IC_F32), *g = host_rand(n, seed + 1, -0.1f, 0.1f, IC_F32);
    float *m = host_rand(n, seed + 2, -0.05f, 0.05f, IC_F32), *v = host_rand(n, seed + 3, 1e-6f, 1e-2f, IC_F32);
    double *rp = ic_gt_xmalloc(sizeof(double) * n), *rm = ic_gt_xmalloc(sizeof(double) * n), *rv = ic_gt_xmalloc(sizeof(double) * n);
    double *sp = ic_gt_xmalloc(sizeof(double) * n), *sm = ic_gt_xmalloc(sizeof(double) * n), *sv = ic_gt_xmalloc(sizeof(double) * n);
    ic_oracle_adamw(rp, rm, rv, sp, sm, sv, p, g, m, v, n, c.beta1, c.beta2, c.eps, c.decay_mul,
                    c.step_size, c.inv_sqrt_bc2);

    dbuf dp = dev_from(IC_F32, p, n, off), dg = dev_from(IC_F32, g, n, off);
    dbuf dm = dev_from(IC_F32, m, n, off), dv = dev_from(IC_F32, v, n, off);
    ic_adamw_update_cuda(&g_ctx, dp.p, dg.p, dm.p, dv.p, (int64_t)n, &c);
    float *got = ic_gt_xmalloc(sizeof *got * n);
    char name[128];
    dev_get(IC_F32, got, dp, n);
    snprintf(name, sizeof name, "adamw p f32 n=%zu%s", n, off ? " unaligned" : "");
    check(name, got, rp, sp, n, IC_ORACLE_TOL_F32);
    dev_get(IC_F32, got, dm, n);
    snprintf(name, sizeof name, "adamw m f32 n=%zu%s", n, off ? " unaligned" : "");
    check(name, got, rm, sm, n, IC_ORACLE_TOL_F32);
    dev_get(IC_F32, got, dv, n);
    snprintf(name, sizeof name, "adamw v f32 n=%zu%s", n, off ? " unaligned" : "");
    check(name, got, rv, sv, n, IC_ORACLE_TOL_F32);
    dev_free(dp); dev_free(dg); dev_free(dm); dev_free(dv);
    free(p); free(g); free(m); free(v); free(rp); free(rm); free(rv); free(sp); free(sm); free(sv);
    free(got);
}

static void case_sumsq(size_t n, int off, uint64_t seed) {
    float *g = host_rand(n, seed, -1.0f, 1.0f, IC_F32);
    const double ref = ic_oracle_sumsq(g, n);
    dbuf dg = dev_from(IC_F32, g, n, off);
    const double a = ic_sumsq_cuda(&g_ctx, dg.p, (int64_t)n);
    const double b = ic_sumsq_cuda(&g_ctx, dg.p, (int64_t)n);
    char name[128];
    snprintf(name, sizeof name, "sumsq f32 n=%zu%s", n, off ? " unaligned" : "");
    ic_oracle_check_sumsq(name, a, b, ref, &g_cases, &g_failed);
    dev_free(dg);
    free(g);
}

int main(void) {
    ic_error err;
    ic_error_clear(&err);
    if (ic_ctx_init(&g_ctx, IC_BACKEND_CUDA, 0, (size_t)1 << 20, &err) != 0) {
        printf("SKIP: no CUDA context: %s\n", err.msg);
        return 77;
    }
    printf("%s\n", g_ctx.desc);
    const ic_dtype dts[2] = {IC_F32, IC_BF16};
    for (int k = 0; k < 2; k++) {
        const ic_dtype dt = dts[k];
        const uint64_t sd = 1000u * (uint64_t)(k + 1);

        case_embedding(dt, 1, 1, 1, sd + 1);
        case_embedding(dt, 7, 3, 5, sd + 2);
        case_embedding(dt, 64, 577, 100, sd + 3);
        case_embedding(dt, 2048, 576, 4096, sd + 4);

        case_rmsnorm(dt, 1, 1, 0, sd + 10);
        case_rmsnorm(dt, 7, 3, 0, sd + 11);
        case_rmsnorm(dt, 64, 576, 0, sd + 12);
        case_rmsnorm(dt, 64, 577, 0, sd + 13);
        case_rmsnorm(dt, 2048, 576, 0, sd + 14);
        case_rmsnorm(dt, 5, 4096, 0, sd + 15);
        case_rmsnorm(dt, 64, 576, 1, sd + 16);

        for (int bwd = 0; bwd < 2; bwd++) {
            case_rope(dt, 1, 1, 2, 2, 0, bwd, sd + 20);
            case_rope(dt, 7, 3, 64, 64, 5, bwd, sd + 21);
            case_rope(dt, 64, 9, 64, 64, 100000, bwd, sd + 22);
            case_rope(dt, 2048, 9, 64, 64, 0, bwd, sd + 23);
            case_rope(dt, 7, 16, 128, 64, 3, bwd, sd + 24);   /* partial: dims past 64 untouched */
            case_rope(dt, 5, 2, 10, 6, 12345, bwd, sd + 25);  /* odd half */
            case_rope(dt, 3, 4, 512, 512, 7, bwd, sd + 26);   /* the largest rot_dim */
        }

        case_swiglu(dt, 1, 0, 0, sd + 30);
        case_swiglu(dt, 3, 0, 0, sd + 31);
        case_swiglu(dt, 1000003, 0, 0, sd + 32);
        case_swiglu(dt, 1000003, 1, 0, sd + 33);
        case_swiglu(dt, 4099, 0, 1, sd + 34);
        case_swiglu(dt, 4099, 0, 2, sd + 35);
        case_swiglu(dt, 10000000, 0, 0, sd + 36);

        case_add(dt, 1, 0, sd + 40);
        case_add(dt, 3, 0, sd + 41);
        case_add(dt, 4097, 0, sd + 42);
        case_add(dt, 4097, 1, sd + 43);
        case_add(dt, 10000000, 0, sd + 44);
    }
    case_scale(1, 0, 50);
    case_scale(3, 0, 51);
    case_scale(4097, 1, 52);
    case_scale(10000000, 0, 53);

    case_adamw(1, 0, 60);
    case_adamw(5, 0, 61);
    case_adamw(1000003, 1, 62);
    case_adamw(10000000, 0, 63);

    case_sumsq(1, 0, 70);
    case_sumsq(3, 0, 71);
    case_sumsq(8191, 0, 72);
    case_sumsq(8192, 0, 73);
    case_sumsq(8193, 1, 74);
    case_sumsq(10000000, 0, 75);
    case_sumsq(10000005, 1, 76);

    ic_ctx_free(&g_ctx);
    printf("%d cases, %d failed\n", g_cases, g_failed);
    return g_failed ? 1 : 0;
}
#endif
