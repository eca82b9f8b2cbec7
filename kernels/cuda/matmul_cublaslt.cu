// The linear layer on the GPU through cuBLASLt (kernels/ic_matmul.h,
// kernels/ic_cuda_ops.h): out [M, N] = x [M, K] . w [N, K]^T (+ bias) and its
// backward, storage fp32 or bf16, fp32 accumulation (CUBLAS_COMPUTE_32F).
//
// Layout. Our tensors are row-major (the Hugging Face layout); cuBLASLt is
// column-major. A row-major [R, C] matrix is the column-major [C, R] matrix
// with leading dimension C, i.e. its transpose, for free. So
//   forward   out^T [N, M] = w [N, K] . x^T [K, M]:  A = w (op T, ld K),
//             B = x (op N, ld K), D = out (ld N), m = N, n = M, k = K;
//             the bias is a per-row vector of D (length m = N): the epilogue.
//   dx        dx^T [K, M] += w^T [K, N] . dout^T [N, M]: A = w (op N, ld K),
//             B = dout (op N, ld N), m = K, n = M, k = N, beta = 1;
//   dw        dw^T [K, N] += x^T [K, M] . dout [M, N]:  A = x (op N, ld K),
//             B = dout (op T, ld N), m = K, n = N, k = M, beta = 1.
// No transpose is ever materialised.
//
// fp32 storage is plain fp32 arithmetic (CUBLAS_COMPUTE_32F, no TF32), so
// the GPU can be held to 1e-5 of the CPU reference. TF32 would be
// CUBLAS_COMPUTE_32F_FAST_TF32 here (about 8x the fp32 rate on an H200, at
// ~1e-3 relative error); not used, nothing needs fp32 GEMM speed yet.
//
// Plans. A GEMM's descriptors and the algorithm cublasLtMatmulAlgoGetHeuristic
// picks are built once per key (dtype, shape, transposes, leading dims,
// bias on/off, beta 0/1, the pointers' alignments, the workspace size, the
// device) and kept in a fixed table (open addressing, no malloc per call;
// when full, the next slot round-robin is rebuilt). Not thread-safe: one
// host thread drives a context. ic_matmul_cuda_plans_built() counts
// heuristic calls, so a test can see that the second call of a shape built
// nothing.
#include <cublasLt.h>
#include <cuda_runtime.h>
#include <stdint.h>
#include <string.h>

#include "core/ic_check.h"

extern "C" {
#include "core/ic_ctx.h"
#include "kernels/ic_cuda_ops.h"
}

namespace ic_cuda {

struct gemm_key {
    int dt, ta, tb, m, n, k, lda, ldb, ldc, bias, beta1, device;
    unsigned align_a, align_b, align_c, align_bias;
    size_t ws_bytes;
};

struct gemm_plan {
    int used;
    gemm_key key;
    cublasLtMatmulDesc_t op;
    cublasLtMatrixLayout_t la, lb, lc;
    cublasLtMatmulAlgo_t algo;
};

const int kPlans = 256;  // shapes of one model run: ~10 per layer kind plus ragged tails
gemm_plan g_plans[kPlans];
int g_next_evict;
long g_plans_built;

unsigned align_of(const void *p) {
    const uintptr_t a = (uintptr_t)p;
    unsigned al = 256;
    while (al > 1 && (a & (al - 1))) al >>= 1;
    return al;
}

uint64_t key_hash(const gemm_key &k) {
    // FNV-1a over the fields (the struct is memset before filling, so padding is 0)
    const unsigned char *b = (const unsigned char *)&k;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < sizeof k; i++) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

void plan_destroy(gemm_plan *p) {
    cublas_check(cublasLtMatrixLayoutDestroy(p->la));
    cublas_check(cublasLtMatrixLayoutDestroy(p->lb));
    cublas_check(cublasLtMatrixLayoutDestroy(p->lc));
    cublas_check(cublasLtMatmulDescDestroy(p->op));
    p->used = 0;
}

cudaDataType_t cuda_type(int dt) { return dt == IC_BF16 ? CUDA_R_16BF : CUDA_R_32F; }

void plan_build(ic_ctx *ctx, gemm_plan *p, const gemm_key &k, const void *bias) {
    const cudaDataType_t t = cuda_type(k.dt);
    cublas_check(cublasLtMatmulDescCreate(&p->op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    const int32_t ta = k.ta ? CUBLAS_OP_T : CUBLAS_OP_N, tb = k.tb ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublas_check(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta));
    cublas_check(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb));
    if (k.bias) {
        const uint32_t epi = CUBLASLT_EPILOGUE_BIAS;
        // bias in the output's dtype (cuBLASLt's rule for non-IMMA, non-fp8 kernels)
        const int32_t bt = (int32_t)t;
        cublas_check(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi));
        cublas_check(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bt, sizeof bt));
        // the heuristic reads the pointer's alignment from this attribute
        cublas_check(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
    }
    // stored shapes (column-major rows x cols): op(A) is m x k, op(B) k x n
    cublas_check(cublasLtMatrixLayoutCreate(&p->la, t, k.ta ? k.k : k.m, k.ta ? k.m : k.k, k.lda));
    cublas_check(cublasLtMatrixLayoutCreate(&p->lb, t, k.tb ? k.n : k.k, k.tb ? k.k : k.n, k.ldb));
    cublas_check(cublasLtMatrixLayoutCreate(&p->lc, t, k.m, k.n, k.ldc));

    cublasLtMatmulPreference_t pref;
    cublas_check(cublasLtMatmulPreferenceCreate(&pref));
    const uint64_t ws = k.ws_bytes;
    cublas_check(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws));
    const uint32_t al[4] = {k.align_a, k.align_b, k.align_c, k.align_c};
    const cublasLtMatmulPreferenceAttributes_t which[4] = {
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES};
    for (int i = 0; i < 4; i++)
        cublas_check(cublasLtMatmulPreferenceSetAttribute(pref, which[i], &al[i], sizeof al[i]));
    cublasLtMatmulHeuristicResult_t res;
    memset(&res, 0, sizeof res);
    int found = 0;
    cublas_check(cublasLtMatmulAlgoGetHeuristic((cublasLtHandle_t)ctx->cublaslt, p->op, p->la,
                                                p->lb, p->lc, p->lc, pref, 1, &res, &found));
    cublas_check(cublasLtMatmulPreferenceDestroy(pref));
    g_plans_built++;
    if (found < 1)
        IC_FATAL("matmul: cuBLASLt has no algorithm for %s m=%d n=%d k=%d op(%c,%c) bias=%d "
                 "(alignments %u/%u/%u, workspace %zu)", k.dt == IC_BF16 ? "bf16" : "f32",
                 k.m, k.n, k.k, k.ta ? 'T' : 'N', k.tb ? 'T' : 'N', k.bias, k.align_a,
                 k.align_b, k.align_c, k.ws_bytes);
    p->algo = res.algo;
    p->key = k;
    p->used = 1;
}

gemm_plan *plan_get(ic_ctx *ctx, const gemm_key &k, const void *bias) {
    const uint64_t h = key_hash(k);
    int free_slot = -1;
    for (int i = 0; i < kPlans; i++) {
        gemm_plan *p = &g_plans[(h + (uint64_t)i) % kPlans];
        if (!p->used) { free_slot = (int)((h + (uint64_t)i) % kPlans); break; }
        if (memcmp(&p->key, &k, sizeof k) == 0) return p;
    }
    if (free_slot < 0) {  // full: rebuild one slot, round robin (probing still works:
        free_slot = g_next_evict;  // a full table has no empty slot to stop at)
        g_next_evict = (g_next_evict + 1) % kPlans;
        plan_destroy(&g_plans[free_slot]);
    }
    plan_build(ctx, &g_plans[free_slot], k, bias);
    return &g_plans[free_slot];
}

// D = alpha op(A) op(B) + beta D (+ bias), column-major, D also serving as C.
void gemm(ic_ctx *ctx, ic_dtype dt, int ta, int tb, int m, int n, int k, const void *A, int lda,
          const void *B, int ldb, float beta, void *D, int ldc, const void *bias, void *ws,
          size_t ws_bytes) {
    IC_ASSERT(ctx->cublaslt != NULL);
    IC_ASSERT(dt == IC_F32 || dt == IC_BF16);
    gemm_key key;
    memset(&key, 0, sizeof key);
    key.dt = (int)dt; key.ta = ta; key.tb = tb; key.m = m; key.n = n; key.k = k;
    key.lda = lda; key.ldb = ldb; key.ldc = ldc; key.bias = bias != NULL; key.beta1 = beta != 0.0f;
    key.device = ctx->device;
    key.align_a = align_of(A); key.align_b = align_of(B); key.align_c = align_of(D);
    key.align_bias = bias ? align_of(bias) : 0;
    // cuBLASLt wants a 256-byte aligned workspace; the arena gives IC_ALIGN (64)
    if (ws && ws_bytes > 256) {
        const uintptr_t a = ((uintptr_t)ws + 255) & ~(uintptr_t)255;
        ws_bytes -= (size_t)(a - (uintptr_t)ws);
        ws_bytes &= ~(size_t)255;
        ws = (void *)a;
    } else {
        ws = NULL;
        ws_bytes = 0;
    }
    key.ws_bytes = ws_bytes;
    gemm_plan *p = plan_get(ctx, key, bias);
    if (bias)
        cublas_check(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_BIAS_POINTER,
                                                    &bias, sizeof bias));
    const float alpha = 1.0f;
    cublas_check(cublasLtMatmul((cublasLtHandle_t)ctx->cublaslt, p->op, &alpha, A, p->la, B, p->lb,
                                &beta, D, p->lc, D, p->lc, &p->algo, ws, ws_bytes,
                                (cudaStream_t)ctx->stream));
}

}  // namespace ic_cuda

using namespace ic_cuda;

static void forward(ic_ctx *ctx, ic_dtype dt, void *out, const void *x, const void *w,
                    const void *bias, int M, int N, int K, float beta, void *ws, size_t ws_bytes) {
    IC_ASSERT(ctx != NULL && out && x && w && M >= 0 && N > 0 && K > 0);
    if (M == 0) return;
    gemm(ctx, dt, 1, 0, N, M, K, w, K, x, K, beta, out, N, bias, ws, ws_bytes);
}

extern "C" void ic_matmul_forward_cuda(ic_ctx *ctx, ic_dtype dt, void *out, const void *x,
                                       const void *w, const void *bias, int M, int N, int K,
                                       void *ws, size_t ws_bytes) {
    forward(ctx, dt, out, x, w, bias, M, N, K, 0.0f, ws, ws_bytes);
}

extern "C" void ic_matmul_forward_accumulate_cuda(ic_ctx *ctx, ic_dtype dt, void *out,
                                                  const void *x, const void *w, const void *bias,
                                                  int M, int N, int K, void *ws, size_t ws_bytes) {
    forward(ctx, dt, out, x, w, bias, M, N, K, 1.0f, ws, ws_bytes);
}

extern "C" void ic_matmul_backward_cuda(ic_ctx *ctx, ic_dtype dt, void *dx, void *dw, void *dbias,
                                        const void *dout, const void *x, const void *w, int M,
                                        int N, int K, void *ws, size_t ws_bytes) {
    IC_ASSERT(ctx != NULL && dout && M >= 0 && N > 0 && K > 0);
    IC_ASSERT(!dx || w != NULL);
    IC_ASSERT(!dw || x != NULL);
    if (M == 0) return;
    if (dx) gemm(ctx, dt, 0, 0, K, M, N, w, K, dout, N, 1.0f, dx, K, NULL, ws, ws_bytes);
    if (dw) gemm(ctx, dt, 0, 1, K, N, M, x, K, dout, N, 1.0f, dw, K, NULL, ws, ws_bytes);
    if (dbias) ic_matmul_dbias_cuda(ctx, dt, dbias, dout, M, N);
}

extern "C" long ic_matmul_cuda_plans_built(void) { return g_plans_built; }
