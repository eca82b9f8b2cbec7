// kernels/cuda/sumsq.cu in the CPU SIMT emulator against a compensated
// double sum: n = 1, 3 and around the IC_SUMSQ_BLOCK boundaries, aligned and
// unaligned; relative error 1e-12 and the same bits on a second call. The
// workspace is exactly ceil(n / IC_SUMSQ_BLOCK) doubles (the contract), so
// an op that took more would abort.
#include "ic_optest.h"

static void one(size_t n, int off, uint64_t seed) {
    const size_t nblk = (n + IC_SUMSQ_BLOCK - 1) / IC_SUMSQ_BLOCK;
    ic_ctx ctx = optest_ctx(ic_ws_round(nblk * sizeof(double)));
    float *g = optest_rand(n, seed, -1.0f, 1.0f, IC_F32);
    const double ref = ic_oracle_sumsq(g, n);
    optest_buf dg(IC_F32, n, off);
    dg.put(g);
    const double a = ic_sumsq_cuda(&ctx, (const float *)dg.p, (int64_t)n);
    const double b = ic_sumsq_cuda(&ctx, (const float *)dg.p, (int64_t)n);
    char name[128];
    snprintf(name, sizeof name, "sumsq f32 n=%zu%s", n, off ? " unaligned" : "");
    ic_oracle_check_sumsq(name, a, b, ref, &g_cases, &g_failed);
    if (ic_ws_mark(&ctx) != 0) {  // the op gave its workspace back
        printf("sumsq n=%zu left %zu workspace bytes taken: FAIL\n", n, ic_ws_mark(&ctx));
        g_failed++;
    }
    free(g);
    ic_arena_free(&ctx.ws);
}

int main(void) {
    one(1, 0, 1);
    one(3, 0, 2);
    one(8191, 0, 3);
    one(8192, 0, 4);
    one(8193, 1, 5);
    one(3 * 8192 + 5, 0, 6);
    one(3 * 8192 + 5, 1, 7);
    return optest_end("sumsq");
}
