// kernels/cuda/validate.cu in the CPU SIMT emulator against the CPU
// reference: valid index sets pass; a bad count, an entry past t, a negative
// entry and a repeated position are each found at the first bad row (a later
// fault is planted too), with the CPU's message word for word; K = 1, 5, 64,
// 300 (a sort wider than the block), L ragged. Tokens likewise.
#include "ic_optest.h"

extern "C" {
#include "kernels/ic_validate.h"
}

static uint64_t g_rng = 12345;
static uint32_t rnd(void) {
    g_rng = g_rng * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(g_rng >> 33);
}

// Distinct positions of [0, t] per row (a partial Fisher-Yates), cnt random in [1, min(K, t+1)].
static void make_sets(int32_t *idx, int32_t *cnt, int L, int K) {
    int32_t *perm = (int32_t *)malloc(sizeof(int32_t) * (size_t)L);
    for (int t = 0; t < L; t++) {
        const int nmax = K < t + 1 ? K : t + 1;
        cnt[t] = (rnd() % 3 == 0) ? 1 + (int)(rnd() % (unsigned)nmax) : nmax;
        for (int i = 0; i <= t; i++) perm[i] = i;
        for (int i = 0; i < cnt[t]; i++) {
            const int j = i + (int)(rnd() % (unsigned)(t + 1 - i));
            const int32_t tmp = perm[i]; perm[i] = perm[j]; perm[j] = tmp;
            idx[(size_t)t * K + i] = perm[i];
        }
        for (int i = cnt[t]; i < K; i++) idx[(size_t)t * K + i] = -7;   // never read
    }
    free(perm);
}

static void check_same(const char *name, const int32_t *idx, const int32_t *cnt, int L, int K) {
    ic_ctx cpu = optest_ctx(ic_index_sets_check_workspace_bytes_cpu(NULL, L));
    cpu.backend = IC_BACKEND_CPU;
    ic_ctx gpu = optest_ctx(ic_validate_workspace_bytes_cuda(NULL));
    ic_error ec, eg;
    memset(&ec, 0, sizeof ec);
    memset(&eg, 0, sizeof eg);
    const int rc = ic_index_sets_check_cpu(&cpu, idx, cnt, L, K, &ec);
    const size_t ni = (size_t)L * K;
    optest_buf bi(IC_F32, ni), bc(IC_F32, (size_t)L);   // 4-byte elements hold the int32s
    memcpy(bi.p, idx, sizeof(int32_t) * ni);
    memcpy(bc.p, cnt, sizeof(int32_t) * (size_t)L);
    const int rg = ic_index_sets_check_cuda(&gpu, (const int32_t *)bi.p, (const int32_t *)bc.p, L, K, &eg);
    const int ok = rc == rg && (rc == 0 || strcmp(ec.msg, eg.msg) == 0) && ic_ws_mark(&gpu) == 0;
    g_cases++;
    if (!ok) g_failed++;
    printf("%-48s cpu %d \"%s\" | cuda %d \"%s\"  %s\n", name, rc, rc ? ec.msg : "", rg,
           rg ? eg.msg : "", ok ? "PASS" : "FAIL");
    ic_arena_free(&cpu.ws);
    ic_arena_free(&gpu.ws);
}

static void sets_case(int L, int K) {
    const size_t ni = (size_t)L * K;
    int32_t *idx = (int32_t *)malloc(sizeof(int32_t) * ni), *cnt = (int32_t *)malloc(sizeof(int32_t) * L);
    int32_t *bi = (int32_t *)malloc(sizeof(int32_t) * ni), *bc = (int32_t *)malloc(sizeof(int32_t) * L);
    make_sets(idx, cnt, L, K);
    char name[128];
    snprintf(name, sizeof name, "index sets valid L=%d K=%d", L, K);
    check_same(name, idx, cnt, L, K);
    const int r1 = L / 2, r2 = L - 1;   // the first fault and a later one
    for (int kind = 0; kind < 5; kind++) {
        memcpy(bi, idx, sizeof(int32_t) * ni);
        memcpy(bc, cnt, sizeof(int32_t) * L);
        if (r2 > r1) bc[r2] = 0;          // the later fault
        int32_t *row = bi + (size_t)r1 * K;
        const int n = cnt[r1];
        if (kind == 0) bc[r1] = (K < r1 + 1 ? K : r1 + 1) + 1;
        else if (kind == 1) bc[r1] = 0;
        else if (kind == 2) row[n - 1] = r1 + 1;
        else if (kind == 3) row[n / 2] = -1;
        else if (n >= 2) row[n - 1] = row[0];
        else continue;
        snprintf(name, sizeof name, "index sets fault %d L=%d K=%d", kind, L, K);
        check_same(name, bi, bc, L, K);
    }
    free(idx); free(cnt); free(bi); free(bc);
}

static void tokens_case(int L, int V) {
    int32_t *tok = (int32_t *)malloc(sizeof(int32_t) * L);
    for (int i = 0; i < L; i++) tok[i] = (int32_t)(rnd() % (unsigned)V);
    for (int kind = 0; kind < 3; kind++) {
        if (kind == 1) { tok[L - 1] = V; tok[L / 3] = -2; }
        if (kind == 2) tok[0] = V + 5;
        ic_ctx gpu = optest_ctx(ic_validate_workspace_bytes_cuda(NULL));
        optest_buf bt(IC_F32, (size_t)L);
        memcpy(bt.p, tok, sizeof(int32_t) * L);
        ic_error ec, eg;
    memset(&ec, 0, sizeof ec);
    memset(&eg, 0, sizeof eg);
        const int rc = ic_tokens_check_cpu(NULL, tok, L, V, &ec);
        const int rg = ic_tokens_check_cuda(&gpu, (const int32_t *)bt.p, L, V, &eg);
        const int ok = rc == rg && (rc == 0 || strcmp(ec.msg, eg.msg) == 0);
        g_cases++;
        if (!ok) g_failed++;
        printf("tokens L=%d V=%d case %d: cpu %d \"%s\" | cuda %d \"%s\"  %s\n", L, V, kind, rc,
               rc ? ec.msg : "", rg, rg ? eg.msg : "", ok ? "PASS" : "FAIL");
        ic_arena_free(&gpu.ws);
    }
    free(tok);
}

int main(void) {
    sets_case(1, 1);
    sets_case(37, 1);
    sets_case(37, 5);
    sets_case(150, 64);
    sets_case(40, 300);
    tokens_case(1, 3);
    tokens_case(1000, 61);
    tokens_case(70000, 49152);
    return optest_end("validate");
}
