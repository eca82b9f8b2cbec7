// kernels/cuda/distill_loss_dense.cu + indexer_scores_bwd.cu (bf16 mma.sync
// through the ic_ptx.cuh twins) in the CPU SIMT emulator against the CPU
// reference op (kernels/cpu/distill_loss.c, compiled in): loss, kl_pbar and
// the accumulated dqI, dkI, dw of the dense stage. Ragged L (1, 17, 70, 100,
// 257), n_served 1..3 and 12 (past the old limit of 8), GQA (9 heads over 3 KV heads), d_I / d 64 and 128,
// several chunks (row_block 64) and one; the outputs start from random
// values (the op adds). Each CTest order (forward, reverse, random) runs it all.
//
// Inputs and tolerances (the tight ones against a CPU run on exactly the
// values the tensor cores see):
//   bf16 values  qI, kI, q, k hold bf16-representable values (so the kernels'
//                staging is exact) and the teacher LSE is the double LSE of
//                those values: loss and kl_pbar to 2e-5 relative, dw to 1e-4
//                of max |dw| (fp32 both sides, only the order of sums and the
//                emulator's exact exp/log differ); dqI, dkI to 4e-3 of their
//                max |.|: the CUDA path rounds da = g w [a > 0] to bf16 (2^-9
//                relative) for the second tensor-core product.
//   fp32 values  arbitrary fp32 inputs, rounded to bf16 by the kernels: the
//                tolerances above against the CPU on the bf16-rounded inputs
//                (same LSE), and against the fp32 CPU 2e-2 relative for the
//                loss, kl_pbar and dw; dqI and dkI (sums that cancel, since
//                sum_s g = 0) within twice what the input rounding alone moves
//                them (CPU rounded vs CPU fp32), at least 2e-2.
// Also the public indexer backward (fp32 inputs) on one row block against
// the CPU's (isc_bwd_one).
// Determinism: the backward runs twice from the same start; loss, kl_pbar,
// dqI, dkI, dw must agree bit for bit, and the forward's loss with the
// backward's.
#include <math.h>

#include "ic_optest.h"

extern "C" {
#include "kernels/ic_cuda_ops.h"
#include "kernels/ic_distill_loss.h"
#include "kernels/ic_indexer_scores.h"
}

struct Case { int L, HI, dI, H, Hkv, d, ns, row_block, bf16vals; };

static float *lse_of(const float *q, const float *k, int L, int H, int Hkv, int d) {
    double *tmp = (double *)malloc(sizeof(double) * (size_t)L);
    float *lse = (float *)malloc(sizeof(float) * (size_t)H * L);
    const double sc = 1.0 / sqrt((double)d);
    for (int h = 0; h < H; h++) {
        const int g = h / (H / Hkv);
        for (int t = 0; t < L; t++) {
            double mx = -INFINITY;
            for (int s = 0; s <= t; s++) {
                double a = 0;
                for (int i = 0; i < d; i++)
                    a += (double)q[((size_t)t * H + h) * d + i] * k[((size_t)s * Hkv + g) * d + i];
                tmp[s] = a * sc;
                if (tmp[s] > mx) mx = tmp[s];
            }
            double sum = 0;
            for (int s = 0; s <= t; s++) sum += exp(tmp[s] - mx);
            lse[(size_t)h * L + t] = (float)(mx + log(sum));
        }
    }
    free(tmp);
    return lse;
}

static float *filled(size_t n, uint64_t seed, float lo, float hi, int round) {
    float *x = (float *)malloc(sizeof(float) * (n ? n : 1));
    ic_oracle_fill(x, n, seed, lo, hi, round);
    return x;
}

static float *dup(const float *x, size_t n) {
    float *y = (float *)malloc(sizeof(float) * (n ? n : 1));
    memcpy(y, x, sizeof(float) * n);
    return y;
}

static float *rounded(const float *x, size_t n) {
    float *y = dup(x, n);
    for (size_t i = 0; i < n; i++) y[i] = ic_oracle_round_bf16(y[i]);
    return y;
}

// max |(a - start) - (b - start)| / max |b - start|
static double grad_rel(const float *a, const float *b, const float *start, size_t n) {
    double mx = 0, e = 0;
    for (size_t i = 0; i < n; i++) {
        const double rb = (double)b[i] - start[i], ra = (double)a[i] - start[i];
        if (fabs(rb) > mx) mx = fabs(rb);
        if (fabs(ra - rb) > e) e = fabs(ra - rb);
    }
    return mx > 0 ? e / mx : e;
}

// got - start against ref - start, scaled by max |ref - start|.
static void check_grad(const char *name, const float *got, const float *ref, const float *start,
                       size_t n, double tol) {
    float *g = (float *)malloc(sizeof(float) * n);
    double *r = (double *)malloc(sizeof(double) * n), *sc = (double *)malloc(sizeof(double) * n);
    double mx = 0;
    for (size_t i = 0; i < n; i++) {
        g[i] = got[i] - start[i];
        r[i] = (double)ref[i] - (double)start[i];
        if (fabs(r[i]) > mx) mx = fabs(r[i]);
    }
    for (size_t i = 0; i < n; i++) sc[i] = mx > 0 ? mx : 1e-30;
    optest_check(name, g, r, sc, n, tol);
    free(g); free(r); free(sc);
}

static void check_scalar(const char *name, double got, double ref, double tol) {
    float g = (float)got;  // the oracle check takes floats; the loss is O(L), float keeps 2^-24
    double s = fabs(ref) > 0 ? fabs(ref) : 1e-30;
    optest_check(name, &g, &ref, &s, 1, tol);
}

static void one(const Case &c, uint64_t seed) {
    const int L = c.L, HI = c.HI, dI = c.dI, H = c.H, Hkv = c.Hkv, d = c.d, ns = c.ns;
    const int rnd = c.bf16vals;
    const size_t nq = (size_t)L * HI * dI, nk = (size_t)L * dI, nw = (size_t)L * HI;
    float *qI = filled(nq, seed, -1.0f, 1.0f, rnd), *kI = filled(nk, seed + 1, -1.0f, 1.0f, rnd);
    float *w = filled(nw, seed + 2, -0.5f, 1.0f, 0);
    const float wsc = 1.0f / sqrtf((float)(HI * dI)) * 8.0f;  // peaky enough to matter
    for (size_t i = 0; i < nw; i++) w[i] *= wsc;
    float *tq[16], *tk[16], *tl[16];
    ic_distill_teacher tch[16];
    for (int j = 0; j < ns; j++) {
        tq[j] = filled((size_t)L * H * d, seed + 10 + 3 * j, -2.0f, 2.0f, rnd);
        tk[j] = filled((size_t)L * Hkv * d, seed + 11 + 3 * j, -2.0f, 2.0f, rnd);
        tl[j] = lse_of(tq[j], tk[j], L, H, Hkv, d);
        tch[j].q = tq[j]; tch[j].k = tk[j]; tch[j].lse = tl[j];
    }
    float *dq0 = filled(nq, seed + 5, -0.1f, 0.1f, 0), *dk0 = filled(nk, seed + 6, -0.1f, 0.1f, 0);
    float *dw0 = filled(nw, seed + 7, -0.1f, 0.1f, 0);

    ic_distill_desc desc;
    memset(&desc, 0, sizeof desc);
    desc.L = L; desc.n_idx_heads = HI; desc.idx_head_dim = dI;
    desc.n_heads = H; desc.n_kv_heads = Hkv; desc.head_dim = d;
    desc.stage = IC_DISTILL_DENSE; desc.row_block = c.row_block;
    desc.max_served = ns;   // the workspace query sizes the served copies by it

    // The CPU reference on the values the device holds, and (fp32 inputs)
    // on the bf16 roundings the kernels stage, with the same teacher LSE.
    ic_ctx cpu;
    memset(&cpu, 0, sizeof cpu);
    cpu.backend = IC_BACKEND_CPU;
    cpu.device = -1;
    cpu.cpu_threads = 1;
    if (ic_arena_init(&cpu.ws, ic_distill_loss_workspace_bytes_cpu(&cpu, &desc)) != 0) exit(2);
    ic_error err;
    memset(&err, 0, sizeof err);
    float *rq = dup(dq0, nq), *rk = dup(dk0, nk), *rw = dup(dw0, nw);
    ic_distill_stats ref, rref;
    ic_distill_loss_backward_cpu(&cpu, &desc, qI, kI, w, tch, ns, rq, rk, rw, &ref, &err);
    float *bq = dup(dq0, nq), *bk = dup(dk0, nk), *bw = dup(dw0, nw);
    if (!rnd) {
        float *qb = rounded(qI, nq), *kb = rounded(kI, nk), *tqb[16], *tkb[16];
        ic_distill_teacher tb[16];
        for (int j = 0; j < ns; j++) {
            tqb[j] = rounded(tq[j], (size_t)L * H * d);
            tkb[j] = rounded(tk[j], (size_t)L * Hkv * d);
            tb[j].q = tqb[j]; tb[j].k = tkb[j]; tb[j].lse = tl[j];
        }
        ic_distill_loss_backward_cpu(&cpu, &desc, qb, kb, w, tb, ns, bq, bk, bw, &rref, &err);
        for (int j = 0; j < ns; j++) { free(tqb[j]); free(tkb[j]); }
        free(qb); free(kb);
    }

    ic_ctx ctx = optest_ctx(ic_distill_loss_dense_workspace_bytes_cuda(NULL, &desc));
    float *gq[2], *gk[2], *gw[2];
    ic_distill_stats got[2], fwd;
    for (int run = 0; run < 2; run++) {
        gq[run] = (float *)malloc(nq * 4); gk[run] = (float *)malloc(nk * 4);
        gw[run] = (float *)malloc(nw * 4);
        memcpy(gq[run], dq0, nq * 4); memcpy(gk[run], dk0, nk * 4); memcpy(gw[run], dw0, nw * 4);
        ic_distill_loss_dense_backward_cuda(&ctx, &desc, qI, kI, w, tch, ns, gq[run], gk[run],
                                            gw[run], &got[run], &err);
    }
    ic_distill_loss_dense_forward_cuda(&ctx, &desc, qI, kI, w, tch, ns, &fwd, &err);

    char name[200], what[240];
    snprintf(name, sizeof name, "L=%d HI=%d dI=%d H=%d/%d d=%d ns=%d rb=%d %s", L, HI, dI, H, Hkv,
             d, ns, c.row_block, rnd ? "bf16 vals" : "f32");
    // tight: against the CPU on exactly the values the tensor cores see
    const float *tq_ = rnd ? rq : bq, *tk_ = rnd ? rk : bk, *tw_ = rnd ? rw : bw;
    const ic_distill_stats &tr = rnd ? ref : rref;
    const char *tag = rnd ? "" : " vs CPU on bf16-rounded";
    snprintf(what, sizeof what, "%s%s loss", name, tag);
    check_scalar(what, got[0].loss, tr.loss, 2e-5);
    snprintf(what, sizeof what, "%s%s kl_pbar", name, tag);
    check_scalar(what, got[0].kl_pbar, tr.kl_pbar, 2e-5);
    snprintf(what, sizeof what, "%s%s dw", name, tag);
    check_grad(what, gw[0], tw_, dw0, nw, 1e-4);
    snprintf(what, sizeof what, "%s%s dqI", name, tag);
    check_grad(what, gq[0], tq_, dq0, nq, 4e-3);
    snprintf(what, sizeof what, "%s%s dkI", name, tag);
    check_grad(what, gk[0], tk_, dk0, nk, 4e-3);
    if (!rnd) {
        // loose: against the fp32 CPU op. The bf16 rounding of the inputs
        // alone (CPU rounded vs CPU fp32) moves the cancelling sums dqI and
        // dkI by more than 2e-2 of their max at these peaky scores, so their
        // bound is twice that measured rounding effect (at least 2e-2).
        const double eq = grad_rel(bq, rq, dq0, nq), ek = grad_rel(bk, rk, dk0, nk);
        printf("%s: bf16 input rounding alone moves dqI by %.3e, dkI by %.3e of max\n", name,
               eq, ek);
        snprintf(what, sizeof what, "%s loss", name);
        check_scalar(what, got[0].loss, ref.loss, 2e-2);
        snprintf(what, sizeof what, "%s kl_pbar", name);
        check_scalar(what, got[0].kl_pbar, ref.kl_pbar, 2e-2);
        snprintf(what, sizeof what, "%s dw", name);
        check_grad(what, gw[0], rw, dw0, nw, 2e-2);
        snprintf(what, sizeof what, "%s dqI", name);
        check_grad(what, gq[0], rq, dq0, nq, 2 * eq > 2e-2 ? 2 * eq : 2e-2);
        snprintf(what, sizeof what, "%s dkI", name);
        check_grad(what, gk[0], rk, dk0, nk, 2 * ek > 2e-2 ? 2 * ek : 2e-2);
    }
    const int same = got[0].loss == got[1].loss && got[0].kl_pbar == got[1].kl_pbar &&
                     fwd.loss == got[0].loss && fwd.kl_pbar == got[0].kl_pbar &&
                     got[0].n_tokens == L && !memcmp(gq[0], gq[1], nq * 4) &&
                     !memcmp(gk[0], gk[1], nk * 4) && !memcmp(gw[0], gw[1], nw * 4);
    g_cases++;
    if (!same) g_failed++;
    printf("%s two runs + fwd bitwise: %s\n", name,
           same ? "PASS" : "FAIL (results differ between runs)");
    for (int run = 0; run < 2; run++) { free(gq[run]); free(gk[run]); free(gw[run]); }
    for (int j = 0; j < ns; j++) { free(tq[j]); free(tk[j]); free(tl[j]); }
    free(qI); free(kI); free(w); free(dq0); free(dk0); free(dw0); free(rq); free(rk); free(rw); free(bq); free(bk); free(bw);
    ic_arena_free(&cpu.ws);
    ic_arena_free(&ctx.ws);
}

// The public indexer backward on CUDA (fp32 qI, kI: the kernels' fp32
// instantiations; the fused loss above runs their bf16 ones on its copies)
// against the CPU reference on one row block [t0, t1) with a random g;
// bf16-representable qI, kI, so the tolerances are the tight ones above.
static void isc_bwd_one(int L, int HI, int dI, int t0, int t1, uint64_t seed) {
    const size_t nq = (size_t)L * HI * dI, nk = (size_t)L * dI, nw = (size_t)L * HI;
    const int ld = t1;
    float *qI = filled(nq, seed, -1.0f, 1.0f, 1), *kI = filled(nk, seed + 1, -1.0f, 1.0f, 1);
    float *w = filled(nw, seed + 2, -0.5f, 1.0f, 0);
    float *g = filled((size_t)(t1 - t0) * ld, seed + 3, -1.0f, 1.0f, 0);
    float *dq0 = filled(nq, seed + 5, -0.1f, 0.1f, 0), *dk0 = filled(nk, seed + 6, -0.1f, 0.1f, 0);
    float *dw0 = filled(nw, seed + 7, -0.1f, 0.1f, 0);
    ic_ctx cpu;
    memset(&cpu, 0, sizeof cpu);
    cpu.backend = IC_BACKEND_CPU;
    cpu.device = -1;
    cpu.cpu_threads = 1;
    if (ic_arena_init(&cpu.ws, ic_indexer_scores_workspace_bytes_cpu(&cpu, L, HI, dI)) != 0) exit(2);
    float *rq = dup(dq0, nq), *rk = dup(dk0, nk), *rw = dup(dw0, nw);
    ic_indexer_scores_backward_cpu(&cpu, rq, rk, rw, g, ld, qI, kI, w, L, HI, dI, t0, t1);
    ic_ctx ctx = optest_ctx(ic_indexer_scores_workspace_bytes_cuda(NULL, L, HI, dI));
    float *cq = dup(dq0, nq), *ck = dup(dk0, nk), *cw = dup(dw0, nw);
    ic_indexer_scores_backward_cuda(&ctx, cq, ck, cw, g, ld, qI, kI, w, L, HI, dI, t0, t1);
    char what[160];
    snprintf(what, sizeof what, "indexer bwd fp32 L=%d HI=%d dI=%d rows [%d,%d) dw", L, HI, dI,
             t0, t1);
    check_grad(what, cw, rw, dw0, nw, 1e-4);
    snprintf(what, sizeof what, "indexer bwd fp32 L=%d HI=%d dI=%d rows [%d,%d) dqI", L, HI, dI,
             t0, t1);
    check_grad(what, cq, rq, dq0, nq, 4e-3);
    snprintf(what, sizeof what, "indexer bwd fp32 L=%d HI=%d dI=%d rows [%d,%d) dkI", L, HI, dI,
             t0, t1);
    check_grad(what, ck, rk, dk0, nk, 4e-3);
    free(qI); free(kI); free(w); free(g); free(dq0); free(dk0); free(dw0);
    free(rq); free(rk); free(rw); free(cq); free(ck); free(cw);
    ic_arena_free(&cpu.ws);
    ic_arena_free(&ctx.ws);
}

int main(void) {
    isc_bwd_one(150, 3, 64, 30, 150, 777);   // a ragged row block past a tile edge
    isc_bwd_one(70, 2, 128, 0, 70, 778);
    const Case cs[] = {
        {1, 4, 64, 2, 1, 64, 1, 0, 1},
        {17, 16, 64, 9, 3, 64, 3, 0, 1},     // SmolLM2's shapes, ragged tile
        {100, 16, 64, 9, 3, 64, 1, 64, 1},   // two chunks
        {257, 4, 64, 4, 2, 64, 3, 64, 1},    // five chunks, a one-row tail
        {70, 4, 128, 4, 4, 128, 2, 0, 1},    // the 128-wide kernels
        {100, 16, 64, 9, 3, 64, 3, 0, 0},    // fp32 inputs, rounded by the kernels
        {17, 4, 64, 2, 1, 64, 12, 0, 1},     // a group of 12 (a searched pattern's run)
    };
    uint64_t seed = 4242;
    for (const Case &c : cs) { one(c, seed); seed += 100; }
    return optest_end("distill loss dense");
}
