// kernels/cuda/distill_loss_sparse.cu in the CPU SIMT emulator against the CPU
// reference op (kernels/cpu/distill_loss.c, sparse stage, compiled in):
// loss, kl_pbar, and the accumulated (+=) gradients dqI, dkI, dw (pre-filled
// with random values, the same on both sides, so a "=" instead of "+=" fails).
//
// Cases: ragged L (1, 3, 37, 130, 260, 1100), rows with t + 1 < K (every
// case's first K - 1 rows) and K > L, set kinds random / window (every key
// in up to K rows: the dkI reduction) / ties (3 distinct key rows), n_served
// 1, 3 and 8, GQA (H 9, Hkv 3) and MHA, the two target shapes (H_I 16, d_I 64
// with H 9 Hkv 3 d 64; H_I 64, d_I 128 with H 16 Hkv 16 d 128) and odd ones
// (H_I 5, d_I 20, H 4 Hkv 2 d 12), every slots-per-thread instantiation
// (MS 1, 2, 4, 8, 16), forward-only and backward calls, NULL gradients.
// The workspace is poisoned (0xFF bytes: NaN) before each call.
//
// Tolerances. Both sides compute in fp32 and differ only in summation order
// (OpenBLAS's GEMMs vs the kernel's FMA chains; double vs double sums of the
// exponentials in another order), so:
//   loss, kl_pbar: 1e-5 relative (the sums of row terms are double);
//   dqI, dkI, dw: 1e-4 relative to |ref| + 0.1 G, G the tensor's largest
//     gradient entry. The scores a = qI.kI (64-term fp32 dots) carry ~1e-6
//     absolute error on either side, so q and pbar differ by ~1e-6 relative;
//     g = q - pbar sums to 0 over the set, so gradient entries cancel and
//     their error follows the terms' size (bounded by G), seen ~2e-5 G.
// Determinism: the backward runs twice and must give the same bits (loss,
// dqI, dkI, dw), and one case goes through cudasim_check_orders_cpp (all four
// thread orders in one process, bitwise). Each CTest order runs everything.
#include <math.h>
#include <vector>

#include "ic_cudasim.h"
#include "ic_optest.h"

extern "C" {
#include "kernels/ic_distill_loss.h"
}

#include "../ic_distill_sparse_prob.h"

static const double kTolLoss = 1e-5, kTolGrad = 1e-4, kFloor = 0.1;

struct dls_out {
    ic_distill_stats st;
    std::vector<float> dq, dk, dw;
};

// The emulated CUDA op on the problem: backward (grad) or forward only.
static dls_out run_gpu(const dls_prob &p, bool grad, bool want_dq, bool want_dk, bool want_dw,
                       const float *pre_dq, const float *pre_dk, const float *pre_dw) {
    ic_distill_desc d = dls_desc(&p, p.idx, p.cnt);
    ic_ctx ctx = optest_ctx(0);
    const size_t ws = ic_distill_loss_sparse_workspace_bytes_cuda(&ctx, &d);
    ic_arena_free(&ctx.ws);
    if (ic_arena_init(&ctx.ws, ws) != 0) { fprintf(stderr, "out of memory\n"); exit(2); }
    memset(ctx.ws.base, 0xFF, ctx.ws.cap);
    ic_distill_teacher tch[DLS_MAX_SERVED];
    for (int j = 0; j < p.ns; j++) { tch[j].q = p.q[j]; tch[j].k = p.k[j]; tch[j].lse = NULL; }
    dls_out o;
    memset(&o.st, 0, sizeof o.st);
    const size_t nq = (size_t)p.L * p.HI * p.dI, nk = (size_t)p.L * p.dI, nw = (size_t)p.L * p.HI;
    o.dq.assign(pre_dq, pre_dq + nq);
    o.dk.assign(pre_dk, pre_dk + nk);
    o.dw.assign(pre_dw, pre_dw + nw);
    ic_error err;
    memset(&err, 0, sizeof err);
    if (grad)
        ic_distill_loss_sparse_backward_cuda(&ctx, &d, p.qI, p.kI, p.w, tch, p.ns,
                                             want_dq ? o.dq.data() : NULL,
                                             want_dk ? o.dk.data() : NULL,
                                             want_dw ? o.dw.data() : NULL, &o.st, &err);
    else
        ic_distill_loss_sparse_forward_cuda(&ctx, &d, p.qI, p.kI, p.w, tch, p.ns, &o.st, &err);
    if (ctx.ws.used != 0) { fprintf(stderr, "workspace not released\n"); exit(1); }
    ic_arena_free(&ctx.ws);
    return o;
}

static dls_out run_cpu(const dls_prob &p, const float *pre_dq, const float *pre_dk,
                       const float *pre_dw) {
    ic_distill_desc d = dls_desc(&p, p.idx, p.cnt);
    ic_ctx cpu;
    memset(&cpu, 0, sizeof cpu);
    cpu.backend = IC_BACKEND_CPU;
    cpu.device = -1;
    cpu.cpu_threads = 1;
    if (ic_arena_init(&cpu.ws, ic_distill_loss_workspace_bytes_cpu(&cpu, &d)) != 0) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    ic_distill_teacher tch[DLS_MAX_SERVED];
    for (int j = 0; j < p.ns; j++) { tch[j].q = p.q[j]; tch[j].k = p.k[j]; tch[j].lse = NULL; }
    dls_out o;
    const size_t nq = (size_t)p.L * p.HI * p.dI, nk = (size_t)p.L * p.dI, nw = (size_t)p.L * p.HI;
    o.dq.assign(pre_dq, pre_dq + nq);
    o.dk.assign(pre_dk, pre_dk + nk);
    o.dw.assign(pre_dw, pre_dw + nw);
    ic_error err;
    memset(&err, 0, sizeof err);
    ic_distill_loss_backward_cpu(&cpu, &d, p.qI, p.kI, p.w, tch, p.ns, o.dq.data(), o.dk.data(),
                                 o.dw.data(), &o.st, &err);
    ic_arena_free(&cpu.ws);
    return o;
}

static bool same_bits(const dls_out &a, const dls_out &b) {
    return memcmp(&a.st.loss, &b.st.loss, sizeof(double)) == 0 &&
           memcmp(&a.st.kl_pbar, &b.st.kl_pbar, sizeof(double)) == 0 && a.dq == b.dq &&
           a.dk == b.dk && a.dw == b.dw;
}

static void one(int L, int HI, int dI, int H, int Hkv, int d, int K, int ns, int kind,
                uint64_t seed, bool twice) {
    dls_prob p;
    dls_prob_init(&p, L, HI, dI, H, Hkv, d, K, ns, kind, seed);
    const size_t nq = (size_t)L * HI * dI, nk = (size_t)L * dI, nw = (size_t)L * HI;
    float *pdq = optest_rand(nq, seed + 100, -0.01f, 0.01f, IC_F32);
    float *pdk = optest_rand(nk, seed + 101, -0.01f, 0.01f, IC_F32);
    float *pdw = optest_rand(nw, seed + 102, -0.01f, 0.01f, IC_F32);

    const dls_out ref = run_cpu(p, pdq, pdk, pdw);
    const dls_out fwd = run_gpu(p, false, false, false, false, pdq, pdk, pdw);
    const dls_out bwd = run_gpu(p, true, true, true, true, pdq, pdk, pdw);
    char tag[160];
    snprintf(tag, sizeof tag, "L=%d HI=%d dI=%d H=%d/%d d=%d K=%d ns=%d %s", L, HI, dI, H, Hkv,
             d, K, ns, dls_kind_name(kind));
    printf("-- %s\n", tag);
    dls_check_scalar("  loss (forward)", fwd.st.loss, ref.st.loss, kTolLoss, &g_cases, &g_failed);
    dls_check_scalar("  kl_pbar (forward)", fwd.st.kl_pbar, ref.st.kl_pbar, kTolLoss, &g_cases,
                     &g_failed);
    dls_check_scalar("  loss (backward)", bwd.st.loss, ref.st.loss, kTolLoss, &g_cases, &g_failed);
    dls_check_scalar("  kl_pbar (backward)", bwd.st.kl_pbar, ref.st.kl_pbar, kTolLoss, &g_cases,
                     &g_failed);
    g_cases++;
    if (fwd.st.n_tokens != L || bwd.st.n_tokens != L) {
        g_failed++;
        printf("  n_tokens %lld / %lld, want %d FAIL\n", (long long)fwd.st.n_tokens,
               (long long)bwd.st.n_tokens, L);
    }
    g_cases++;
    if (fwd.dq != std::vector<float>(pdq, pdq + nq) || fwd.dk != std::vector<float>(pdk, pdk + nk)) {
        g_failed++;
        printf("  the forward wrote gradients FAIL\n");
    }
    dls_check("  dqI", bwd.dq.data(), ref.dq.data(), pdq, nq, kTolGrad, kFloor, &g_cases, &g_failed);
    dls_check("  dkI", bwd.dk.data(), ref.dk.data(), pdk, nk, kTolGrad, kFloor, &g_cases, &g_failed);
    dls_check("  dw", bwd.dw.data(), ref.dw.data(), pdw, nw, kTolGrad, kFloor, &g_cases, &g_failed);
    if (twice) {
        const dls_out again = run_gpu(p, true, true, true, true, pdq, pdk, pdw);
        g_cases++;
        const bool ok = same_bits(bwd, again);
        if (!ok) g_failed++;
        printf("  %-54s %s\n", "backward run twice: same bits", ok ? "PASS" : "FAIL");
        // each gradient alone (the others NULL) gives the same bits as all three
        const dls_out only_dk = run_gpu(p, true, false, true, false, pdq, pdk, pdw);
        const dls_out only_dq = run_gpu(p, true, true, false, false, pdq, pdk, pdw);
        const dls_out only_dw = run_gpu(p, true, false, false, true, pdq, pdk, pdw);
        g_cases++;
        const bool ok2 = only_dk.dk == bwd.dk && only_dq.dq == bwd.dq && only_dw.dw == bwd.dw &&
                         only_dk.dq == std::vector<float>(pdq, pdq + nq) &&
                         only_dq.dk == std::vector<float>(pdk, pdk + nk);
        if (!ok2) g_failed++;
        printf("  %-54s %s\n", "one gradient at a time: same bits, others untouched",
               ok2 ? "PASS" : "FAIL");
    }
    free(pdq); free(pdk); free(pdw);
    dls_prob_free(&p);
}

int main(void) {
    uint64_t sd = 1;
    // the SmolLM2 shape: GQA 9/3, H_I 16 d_I 64
    one(1, 16, 64, 9, 3, 64, 4, 1, DLS_RANDOM, sd++, true);
    one(37, 16, 64, 9, 3, 64, 16, 3, DLS_RANDOM, sd++, false);
    one(37, 16, 64, 9, 3, 64, 16, 3, DLS_WINDOW, sd++, false);
    one(37, 16, 64, 9, 3, 64, 16, 1, DLS_TIES, sd++, false);
    one(130, 16, 64, 9, 3, 64, 100, 3, DLS_RANDOM, sd++, false);   // MS 1, rows t + 1 < K
    one(260, 16, 64, 9, 3, 64, 200, 1, DLS_WINDOW, sd++, false);  // MS 2, 73 rows with cnt < K
    one(21, 16, 64, 9, 3, 64, 8, 12, DLS_RANDOM, sd++, false);    // a group of 12 (past the old 8)
    // the large shape: H_I 64 d_I 128, MHA 16 x 128
    one(3, 64, 128, 16, 16, 128, 2, 1, DLS_RANDOM, sd++, false);
    one(20, 64, 128, 16, 16, 128, 8, 3, DLS_WINDOW, sd++, true);
    // odd shapes: H_I not a multiple of 8 or 16, d_I 20, d 12, K > L
    one(3, 5, 20, 4, 2, 12, 8, 8, DLS_RANDOM, sd++, true);
    one(70, 5, 20, 4, 2, 12, 30, 8, DLS_TIES, sd++, false);
    one(70, 33, 20, 4, 1, 12, 50, 2, DLS_RANDOM, sd++, false);    // HB 64 with H_I 33
    // every slots-per-thread instantiation on a tiny shape
    one(300, 2, 8, 2, 1, 4, 300, 1, DLS_RANDOM, sd++, false);     // MS 4
    one(600, 2, 8, 2, 1, 4, 600, 1, DLS_WINDOW, sd++, false);     // MS 8
    one(1100, 1, 4, 1, 1, 4, 2048, 1, DLS_RANDOM, sd++, false);   // MS 16, K 2048 > L

    // every thread order in one process: the same bits
    {
        dls_prob p;
        dls_prob_init(&p, 40, 16, 64, 9, 3, 64, 12, 3, DLS_WINDOW, 999);
        const size_t nq = (size_t)p.L * p.HI * p.dI, nk = (size_t)p.L * p.dI;
        const size_t nw = (size_t)p.L * p.HI;
        std::vector<float> zq(nq, 0.0f), zk(nk, 0.0f), zw(nw, 0.0f);
        const int bad = cudasim_check_orders_cpp("distill loss sparse backward", [&](std::vector<unsigned char> &out) {
            const dls_out o = run_gpu(p, true, true, true, true, zq.data(), zk.data(), zw.data());
            const size_t b = sizeof(double) * 2 + 4 * (nq + nk + nw);
            out.resize(b);
            memcpy(out.data(), &o.st.loss, 8);
            memcpy(out.data() + 8, &o.st.kl_pbar, 8);
            memcpy(out.data() + 16, o.dq.data(), 4 * nq);
            memcpy(out.data() + 16 + 4 * nq, o.dk.data(), 4 * nk);
            memcpy(out.data() + 16 + 4 * (nq + nk), o.dw.data(), 4 * nw);
        });
        g_cases++;
        if (bad) g_failed++;
        printf("%-58s %s\n", "all four thread orders: same bits", bad ? "FAIL" : "PASS");
        dls_prob_free(&p);
    }
    return optest_end("distill loss sparse");
}
