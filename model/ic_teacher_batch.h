/* The dense teacher's prefill over B windows at once (issue 10: prefill
 * throughput on the GPU). Beside ic_teacher_layers / ic_teacher_loss, which
 * run one window of L tokens; the per-window path stays what the trainer,
 * the DSA hooks and the CPU reference use.
 *
 * One call feeds B windows of L tokens (tokens [B, L], row-major: window b
 * is tokens[b*L .. b*L + L)). Every row-wise op (embedding, RMSNorm, the
 * GEMMs, SwiGLU, the LM head, the cross-entropy) runs once over the B*L
 * rows; RoPE restarts its positions at 0 in every window
 * (ic_rope_forward_windows_dt) and the attention is causal within each
 * window (ic_attention_forward_batch_dt: cuDNN's batch dimension). So
 * window b gets the same maths as ic_teacher_layers on it alone; on the GPU
 * the bits can differ (cuBLASLt picks its algorithm by M = B*L rows), by
 * bf16 noise: tests/gpu/test_teacher_batch_gpu.c states the tolerance.
 *
 * CUDA graph (use_graph): the first call of a shape (B, L, with or without
 * the head) runs eagerly, which also builds the cuBLASLt and cuDNN plans,
 * then records the same forward into a CUDA graph; later calls of that shape
 * upload the tokens, replay the graph and read the per-token losses back.
 * The graph holds the device pointers of the weights, of this struct's
 * buffers and of the context's workspace; it is recorded again when any of
 * them changed (other weights, a regrown workspace). If recording fails
 * (the reason is kept in graph_why), the calls stay eager.
 *
 * Dense only: no saved tensors, no selection hook (those need per-window
 * host callbacks). */
#ifndef IC_TEACHER_BATCH_H
#define IC_TEACHER_BATCH_H

#include <stdint.h>

#include "ic_ctx.h"
#include "ic_error.h"
#include "model/ic_teacher.h"
#include "model/ic_weights.h"

typedef struct {
    const ic_weights *w;   /* what the graph was recorded with */
    void  *exec;           /* cudaGraphExec_t or NULL */
    int    B, L;
    char  *ws_base;        /* the workspace arena it was recorded on */
    size_t ws_cap;
} ic_teacher_graph;

typedef struct {
    ic_ctx *ctx;
    ic_teacher_state st;   /* buffers for B_max * L_max rows (lse is [B, H, L]) */
    int     B_max, L_max;
    float  *hidden;        /* [B_max * L_max, D] in st.dt: the residual stream; after a
                              call, the last layer's output of every window */
    int32_t *tokens;       /* [B_max * L_max] on the context's device */
    int32_t *targets;      /* [B_max * L_max] on the context's device */
    float  *nll_host;      /* [B_max * L_max] per-token losses of the last call with targets */
    int     use_graph;     /* CUDA only: record each shape once, replay it */
    int     graph_failed;  /* recording failed once: eager from then on */
    char    graph_why[256];
    ic_teacher_graph graph[2];   /* [0] layers only, [1] with the LM-head loss */
    long    n_eager, n_replays, n_recorded;   /* calls run each way (bench, tests) */
} ic_teacher_batch;

/* Buffers on ctx for up to B_max windows of up to L_max tokens, and the
 * workspace of that shape. use_graph is ignored on the CPU. */
int  ic_teacher_batch_init(ic_teacher_batch *tb, ic_ctx *ctx, const ic_config *cfg, int B_max,
                           int L_max, int use_graph, ic_error *err);
void ic_teacher_batch_free(ic_teacher_batch *tb);

/* B windows (1 <= B <= B_max) of L tokens (1 <= L <= L_max; B*L <= B_max*L_max
 * is not enough: each bound holds on its own): embed + every layer, in
 * tb->hidden. targets [B, L] (host; < 0: no target) or NULL. With targets,
 * also the final norm + LM head + cross-entropy: the per-token losses in
 * tb->nll_host, their sum over the targets >= 0 in *sum_nll and the count in
 * *n_targets (either may be NULL). Tokens outside [0, V) are an error
 * naming the window and position. With targets the call returns after the
 * losses reached the host; without, the work may still be queued. */
int  ic_teacher_batch_run(const ic_weights *w, ic_teacher_batch *tb, const int32_t *tokens,
                          const int32_t *targets, int B, int L, double *sum_nll, long *n_targets,
                          ic_error *err);

/* The workspace a call of B windows of L tokens needs (reserved by init for
 * B_max x L_max; a call of another shape grows it when needed). */
size_t ic_teacher_batch_workspace_bytes(ic_ctx *ctx, const ic_config *cfg, int B, int L);

#endif
