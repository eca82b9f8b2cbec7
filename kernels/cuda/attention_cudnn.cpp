// Causal GQA attention forward with the per-head LSE through cuDNN's fused
// SDPA (kernels/ic_cuda_ops.h: ic_attention_forward_cuda). On the H200 this is
// the kernel torch's SDPA runs (shared/GPU.md), so there is nothing to gain
// from our own yet.
//
// Layout. Our tensors are row-major q/out [L, H, d], k/v [L, Hkv, d]; cuDNN
// takes (B, heads, seq, d) with arbitrary strides, so they are passed as
// B = 1 with strides (L*heads*d, d, heads*d, 1): no transposes. GQA is
// native: K/V carry Hkv heads and cuDNN maps query head h to KV head
// h / (H / Hkv), the CPU reference's g(h). The "stats" output is the
// natural-log log-sum-exp of the scaled scores per (head, query), fp32,
// dims (1, H, L, 1) with strides (H*L, L, 1, 1): exactly our lse [H, L].
//
// Storage. cuDNN's SDPA reads and writes fp16/bf16 only. dt == IC_BF16 runs
// on the caller's tensors; dt == IC_F32 rounds q, k, v to bf16 in workspace
// (kernels/cuda/attention_convert.cu), runs, and widens the bf16 output: an
// fp32 call therefore carries bf16 rounding of its inputs and output (the
// LSE is fp32 from cuDNN's fp32 softmax either way).
//
// Batches. B windows of L tokens (out/q [B, L, H, d], k/v [B, L, Hkv, d],
// lse [B, H, L]) are cuDNN's batch dimension, stride L*heads*d (the
// teacher's batched prefill, model/ic_teacher_batch.c); one window is B = 1,
// the graph this file always built.
//
// Plans. Building a graph costs milliseconds, so each (cuDNN handle, B, L, H,
// Hkv, d) is built once and cached in a small table here. The graph is the
// same for both storage dtypes (it always sees bf16), so dt is not part of
// the key. The handle lives in ctx->cudnn, created on first use;
// ic_cuda_ctx_close drops its plans and destroys it.
//
// Host C++ only (compiled by the host compiler, C++17): the frontend headers
// (third_party/cudnn_frontend, fetched by scripts/setup.sh) are heavy and
// have no device code.
#include <cuda_runtime.h>
#include <cudnn.h>

#include <math.h>
#include <stdint.h>

#include <exception>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include <cudnn_frontend.h>

#include "core/ic_check.h"

extern "C" {
#include "core/ic_ctx.h"
#include "kernels/cuda/ic_attention_cuda.h"
#include "kernels/ic_cuda_ops.h"
}

namespace fe = cudnn_frontend;

namespace {

enum : int64_t { UID_Q = 1, UID_K, UID_V, UID_O, UID_STATS };

struct sdpa_plan {
    cudnnHandle_t handle;
    int B, L, H, Hkv, d;
    std::shared_ptr<fe::graph::Graph> graph;
    int64_t ws_bytes;  // cuDNN's own workspace for this plan
};

std::mutex g_mu;                  // the table and the counter
std::vector<sdpa_plan> g_plans;   // a handful of shapes per process
int64_t g_built = 0;

cudnnHandle_t handle_of(ic_ctx *ctx) {
    if (!ctx->cudnn) {
        cudnnHandle_t h = nullptr;
        cuda_check(cudaSetDevice(ctx->device));
        cudnn_check(cudnnCreate(&h));
        ctx->cudnn = h;
    }
    cudnnHandle_t h = (cudnnHandle_t)ctx->cudnn;
    cudnn_check(cudnnSetStream(h, (cudaStream_t)ctx->stream));
    return h;
}

#define SDPA_TRY(step, call)                                                                   \
    do {                                                                                       \
        fe::error_t e_ = (call);                                                               \
        if (e_.is_bad())                                                                       \
            IC_FATAL("attention (cuDNN SDPA, causal, bf16): shape B=%d L=%d H=%d Hkv=%d d=%d " \
                     "refused at %s: %s", B, L, H, Hkv, d, step, e_.get_message().c_str());    \
    } while (0)

// Builds the graph of one shape (the caller holds g_mu).
sdpa_plan build_plan(cudnnHandle_t h, int B, int L, int H, int Hkv, int d) {
    const int64_t b = B, l = L, nh = H, nkv = Hkv, dd = d;
    auto g = std::make_shared<fe::graph::Graph>();
    g->set_io_data_type(fe::DataType_t::BFLOAT16)
        .set_intermediate_data_type(fe::DataType_t::FLOAT)
        .set_compute_data_type(fe::DataType_t::FLOAT);
    auto tensor = [&](const char *name, int64_t uid, int64_t heads) {
        return g->tensor(fe::graph::Tensor_attributes()
                             .set_name(name)
                             .set_uid(uid)
                             .set_dim({b, heads, l, dd})
                             .set_stride({l * heads * dd, dd, heads * dd, 1}));
    };
    auto Q = tensor("Q", UID_Q, nh);
    auto K = tensor("K", UID_K, nkv);
    auto V = tensor("V", UID_V, nkv);
    // Causal: key s visible to query t iff s <= t (top-left diagonal, no band
    // to the right of it), the CPU reference's mask.
    auto opts = fe::graph::SDPA_attributes()
                    .set_name("ic_attention_sdpa")
                    .set_generate_stats(true)
                    .set_diagonal_alignment(fe::DiagonalAlignment_t::TOP_LEFT)
                    .set_diagonal_band_right_bound(0)
                    .set_attn_scale(1.0f / sqrtf((float)d));
    auto outs = g->sdpa(Q, K, V, opts);
    outs[0]->set_output(true).set_uid(UID_O).set_dim({b, nh, l, dd})
        .set_stride({l * nh * dd, dd, nh * dd, 1});
    outs[1]->set_output(true).set_uid(UID_STATS).set_data_type(fe::DataType_t::FLOAT)
        .set_dim({b, nh, l, 1}).set_stride({nh * l, l, 1, 1});
    SDPA_TRY("validate", g->validate());
    SDPA_TRY("build_operation_graph", g->build_operation_graph(h));
    SDPA_TRY("create_execution_plans", g->create_execution_plans({fe::HeurMode_t::A}));
    SDPA_TRY("check_support", g->check_support(h));
    SDPA_TRY("build_plans", g->build_plans());
    int64_t ws = 0;
    SDPA_TRY("get_workspace_size", g->get_workspace_size(ws));
    g_built++;
    return sdpa_plan{h, B, L, H, Hkv, d, g, ws};
}

// The cached plan of this shape on ctx's handle, built on first use;
// returned by value (a shared_ptr to the graph), so a later insertion that
// moves the table does not invalidate it.
sdpa_plan plan_for(ic_ctx *ctx, int B, int L, int H, int Hkv, int d) {
    cudnnHandle_t h = handle_of(ctx);
    std::lock_guard<std::mutex> lock(g_mu);
    for (const sdpa_plan &p : g_plans)
        if (p.handle == h && p.B == B && p.L == L && p.H == H && p.Hkv == Hkv && p.d == d)
            return p;
    try {
        g_plans.push_back(build_plan(h, B, L, H, Hkv, d));
    } catch (const std::exception &e) {
        IC_FATAL("attention (cuDNN SDPA): shape B=%d L=%d H=%d Hkv=%d d=%d: exception while "
                 "building the graph: %s", B, L, H, Hkv, d, e.what());
    }
    return g_plans.back();
}

void check_shape(int L, int H, int Hkv, int d) {
    IC_ASSERT(L >= 0 && d > 0 && Hkv > 0 && H >= Hkv && H % Hkv == 0);
}

}  // namespace

extern "C" size_t ic_attention_batch_workspace_bytes_cuda(ic_ctx *ctx, ic_dtype dt, int B, int L,
                                                          int H, int Hkv, int d) {
    IC_ASSERT(ctx != NULL && (dt == IC_F32 || dt == IC_BF16));
    check_shape(L, H, Hkv, d);
    IC_ASSERT(B >= 0);
    if (L == 0 || B == 0) return 0;
    const sdpa_plan p = plan_for(ctx, B, L, H, Hkv, d);
    const size_t nq = (size_t)B * L * H * d, nkv = (size_t)B * L * Hkv * d;
    size_t bytes = ic_ws_round((size_t)p.ws_bytes);
    bytes += ic_ws_round(sizeof(float) * (size_t)B * H * L);  // stats when lse is NULL
    if (dt == IC_F32)  // bf16 copies of q, k, v and the output
        bytes += 2 * ic_ws_round(2 * nq) + 2 * ic_ws_round(2 * nkv);
    return bytes;
}

extern "C" size_t ic_attention_workspace_bytes_cuda(ic_ctx *ctx, ic_dtype dt, int L, int H,
                                                    int Hkv, int d) {
    return ic_attention_batch_workspace_bytes_cuda(ctx, dt, 1, L, H, Hkv, d);
}

extern "C" void ic_attention_forward_batch_cuda(ic_ctx *ctx, ic_dtype dt, void *out, float *lse,
                                                const void *q, const void *k, const void *v,
                                                int B, int L, int H, int Hkv, int d) {
    IC_ASSERT(ctx != NULL && (dt == IC_F32 || dt == IC_BF16));
    check_shape(L, H, Hkv, d);
    IC_ASSERT(B >= 0);
    if (L == 0 || B == 0) return;
    IC_ASSERT(out != NULL && q != NULL && k != NULL && v != NULL);
    const sdpa_plan p = plan_for(ctx, B, L, H, Hkv, d);
    const size_t nq = (size_t)B * L * H * d, nkv = (size_t)B * L * Hkv * d;
    const size_t mark = ic_ws_mark(ctx);
    void *ws = p.ws_bytes > 0 ? ic_ws_alloc(ctx, (size_t)p.ws_bytes, "attention (cuDNN)") : nullptr;
    float *stats = lse ? lse : (float *)ic_ws_alloc(ctx, sizeof(float) * (size_t)B * H * L,
                                                    "attention stats");
    const void *qb = q, *kb = k, *vb = v;
    void *ob = out;
    if (dt == IC_F32) {
        void *tq = ic_ws_alloc(ctx, 2 * nq, "attention bf16 q");
        void *tk = ic_ws_alloc(ctx, 2 * nkv, "attention bf16 k");
        void *tv = ic_ws_alloc(ctx, 2 * nkv, "attention bf16 v");
        ob = ic_ws_alloc(ctx, 2 * nq, "attention bf16 out");
        ic_attention_f32_to_bf16_cuda(ctx, tq, (const float *)q, nq);
        ic_attention_f32_to_bf16_cuda(ctx, tk, (const float *)k, nkv);
        ic_attention_f32_to_bf16_cuda(ctx, tv, (const float *)v, nkv);
        qb = tq; kb = tk; vb = tv;
    }
    // cuDNN's fused kernels load 16-byte vectors.
    IC_ASSERT(((uintptr_t)qb | (uintptr_t)kb | (uintptr_t)vb | (uintptr_t)ob | (uintptr_t)stats) % 16 == 0);
    std::unordered_map<int64_t, void *> pack = {
        {UID_Q, const_cast<void *>(qb)}, {UID_K, const_cast<void *>(kb)},
        {UID_V, const_cast<void *>(vb)}, {UID_O, ob}, {UID_STATS, stats}};
    fe::error_t e = p.graph->execute(p.handle, pack, ws);
    if (e.is_bad())
        IC_FATAL("attention (cuDNN SDPA): shape B=%d L=%d H=%d Hkv=%d d=%d: execute failed: %s", B,
                 L, H, Hkv, d, e.get_message().c_str());
    if (dt == IC_F32) ic_attention_bf16_to_f32_cuda(ctx, (float *)out, ob, nq);
    // The workspace is a stack: popping it before the stream ran is fine
    // because the next op that reuses it runs after these on the same stream.
    ic_ws_release(ctx, mark);
}

extern "C" void ic_attention_forward_cuda(ic_ctx *ctx, ic_dtype dt, void *out, float *lse,
                                          const void *q, const void *k, const void *v, int L,
                                          int H, int Hkv, int d) {
    ic_attention_forward_batch_cuda(ctx, dt, out, lse, q, k, v, 1, L, H, Hkv, d);
}

extern "C" int64_t ic_attention_cudnn_graphs_built(void) {
    std::lock_guard<std::mutex> lock(g_mu);
    return g_built;
}

extern "C" void ic_attention_cudnn_release(ic_ctx *ctx) {
    if (!ctx->cudnn) return;
    cudnnHandle_t h = (cudnnHandle_t)ctx->cudnn;
    {
        std::lock_guard<std::mutex> lock(g_mu);
        std::vector<sdpa_plan> keep;
        for (sdpa_plan &p : g_plans)
            if (p.handle != h) keep.push_back(p);
        g_plans.swap(keep);
    }
    cudnn_check(cudnnDestroy(h));
    ctx->cudnn = nullptr;
}
