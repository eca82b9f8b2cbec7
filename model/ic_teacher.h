/* Forward of the frozen dense teacher (Llama family: RMSNorm, NeoX RoPE over
 * the full head_dim, GQA, SwiGLU, final norm, LM head), fp32 on the CPU op
 * API. The stack can be entered at any layer with a given hidden state and
 * left after any layer (greedy search resumes mid-stack); per layer it can
 * hand x_norm, q, k and the attention lse to the distillation loss and can
 * swap dense attention for sparse attention over a caller's index set. */
#ifndef IC_TEACHER_H
#define IC_TEACHER_H

#include <stddef.h>
#include <stdint.h>

#include "ic_ctx.h"
#include "ic_error.h"
#include "model/ic_weights.h"

/* The LM head's loss. On the CPU it is one fused op (ic_lm_head_loss,
 * kernels/cpu/lm_head_loss.c): no logits buffer in the state, a few MiB of
 * workspace, the head read once per pass of a few hundred rows. On CUDA
 * the head runs in row blocks of logits + cross-entropy; a 64-row GEMM
 * against a [V, D] head is a few microseconds of work behind a launch, so
 * the block grows until its logits reach IC_TEACHER_HEAD_BYTES_CUDA
 * (ic_teacher_head_rows). IC_TEACHER_HEAD_BLOCK is the block's minimum
 * (and what ic_teacher_state_bytes counts, an upper bound on the CPU). */
#define IC_TEACHER_HEAD_BLOCK 64
#define IC_TEACHER_HEAD_BYTES_CUDA ((size_t)256 << 20)

/* Activations of one window of up to L_max tokens, reused across windows
 * and layers. Buffers typed float * hold elements of s->dt: fp32 on the CPU,
 * bf16 on CUDA, where the caller's hidden [L, D] (sized in floats, which is
 * enough) is bf16 too. Peak memory of a forward at length L (fp32):
 *   state:  L*(2*D + 2*H*d + 2*Hkv*d + 2*F + 1) + H*L floats
 *           + head_rows*V on CUDA (ic_teacher_state_bytes counts 64*V)
 *   LM head + loss scratch on the CPU (workspace): about
 *           threads * 512 * 512 floats (lm_head_loss.c's formula)
 *   attention scratch (inside the op), per OpenMP thread:
 *           (H/Hkv) * IC_ATTENTION_BLOCK * (L + 2d) floats
 *   plus the caller's hidden state L*D, any saved tensors, and the weights.
 * SmolLM2-135M (weights 513 MiB fp32): state 23.3 MiB at L = 512,
 * 57.1 MiB at 2048, 192 MiB at 8192; attention scratch 1.7 MiB per thread
 * at L = 2048. Nothing grows as L^2. */
typedef struct {
    ic_ctx *ctx;    /* the context the buffers live on and the layers run on */
    ic_dtype dt;    /* element type of the activation buffers below: ctx->act_dtype
                       (fp32 on the CPU, bf16 on CUDA); lse and nll are fp32 always */
    int    L_max;
    int    head_rows; /* LM-head rows per block (ic_teacher_head_rows) */
    float *x_norm;  /* [L, D]      normed input of the current sub-block */
    float *q;       /* [L, H, d]   roped queries */
    float *k;       /* [L, Hkv, d] roped keys */
    float *v;       /* [L, Hkv, d] */
    float *att;     /* [L, H, d]   attention output */
    float *lse;     /* [H, L]      attention log-sum-exp */
    float *proj;    /* [L, D]      o_proj / down_proj output before the residual add */
    float *gate;    /* [L, F]      gate_proj, then silu(gate)*up in place */
    float *up;      /* [L, F] */
    float *logits;  /* [head_rows, V] one row block of the LM head (CUDA; empty on the CPU) */
    float *nll;     /* [L]         per-token loss of the head */
} ic_teacher_state;

/* Buffers from ic_buf_alloc(ctx); also reserves the workspace the
 * teacher's ops need at L_max (dense attention, RoPE). */
int    ic_teacher_state_init(ic_teacher_state *s, ic_ctx *ctx, const ic_config *cfg, int L_max,
                             ic_error *err);
/* The workspace the teacher's ops need at L_max (sparse attention's is
 * reserved by whoever supplies the index sets: model/ic_dsa). */
size_t ic_teacher_workspace_bytes(const ic_ctx *ctx, const ic_config *cfg, int L_max);
void   ic_teacher_state_free(ic_teacher_state *s);
size_t ic_teacher_state_bytes(const ic_config *cfg, int L_max);

/* LM-head rows per block on ctx for windows of up to L_max tokens: 0 on
 * the CPU (fused head + loss, no logits buffer); on CUDA the
 * largest multiple of 64 whose logits fit IC_TEACHER_HEAD_BYTES_CUDA, at
 * most L_max rounded up to 64. */
int ic_teacher_head_rows(const ic_ctx *ctx, const ic_config *cfg, int L_max);

/* Per-layer outputs the caller wants kept (docs/CONVENTIONS.md layouts); any
 * pointer may be NULL. Buffers are the caller's, on the context, sized for
 * L, and always fp32: with bf16 activations (CUDA) the teacher widens its
 * copies (exactly) as it saves them, for the fp32 indexer and loss. */
typedef struct {
    float *x_norm;  /* [L, D] input_layernorm(hidden) */
    float *q;       /* [L, H, d] */
    float *k;       /* [L, Hkv, d] */
    float *lse;     /* [H, L] of the attention the layer actually ran */
} ic_teacher_saved;

/* Index-set selection for a layer. x_norm holds elements of dt (the
 * teacher's activation dtype). Returns 1 with *idx [L, K], *cnt [L], *K set
 * (docs/CONVENTIONS.md; the buffers stay the callee's and must live until the
 * layer is done), 0 for dense attention, -1 on failure. */
typedef int (*ic_select_fn)(void *ctx, int layer, ic_dtype dt, const void *x_norm /*[L,D]*/,
                            int L, const int32_t **idx, const int32_t **cnt, int *K);

/* Sparse attention over index sets (kernels/ic_sparse_attention.h's _dt
 * signature): out, q, k, v in dt, lse fp32. */
typedef void (*ic_sparse_attn_fn)(ic_ctx *ctx, ic_dtype dt, void *out /*[L,H,d]*/,
                                  float *lse /*[H,L]*/, const void *q, const void *k,
                                  const void *v, int L, int H, int Hkv, int d,
                                  const int32_t *idx, const int32_t *cnt, int K);

typedef struct {
    ic_teacher_saved *save;        /* [n_layers] (indexed by absolute layer) or NULL */
    ic_select_fn      select;      /* NULL: every layer dense */
    void             *select_ctx;
    ic_sparse_attn_fn sparse_attn; /* required when select can return 1 */
} ic_teacher_opts;

/* hidden [L, D] = embedding of tokens [L]; tokens outside [0, V) are an
 * error naming the position (ic_tokens_check: this is where tokens enter). */
int ic_teacher_embed(ic_ctx *ctx, const ic_weights *w, const int32_t *tokens, int L, float *hidden,
                     ic_error *err);

/* Run layers [layer_begin, layer_end) in place on hidden [L, D] (positions
 * 0..L-1). opts may be NULL (dense, nothing saved). */
int ic_teacher_layers(const ic_weights *w, ic_teacher_state *s, float *hidden, int L,
                      int layer_begin, int layer_end, const ic_teacher_opts *opts,
                      ic_error *err);

/* Final norm + LM head of the hidden state after the last layer.
 * logits [L, V] (the caller's buffer on the context, elements of s->dt:
 * read them back with ic_buf_download_f32). Uses s->x_norm as scratch. */
void ic_teacher_logits(const ic_weights *w, ic_teacher_state *s, const float *hidden, int L,
                       float *logits);

/* Final norm + LM head + cross-entropy in row blocks (no [L, V] buffer).
 * targets [L] (< 0: no target). Returns the sum of the per-token losses in
 * *sum_nll and their count in *n_targets; s->nll holds them per token. */
void ic_teacher_loss(const ic_weights *w, ic_teacher_state *s, const float *hidden, int L,
                     const int32_t *targets, double *sum_nll, long *n_targets);

/* Key/value cache for token-by-token decoding. */
typedef struct {
    ic_ctx *ctx;        /* the context of the buffers and the ops */
    ic_dtype dt;        /* element type of every buffer below: ctx->act_dtype */
    int    T_max, T;    /* capacity, tokens cached */
    float *k;           /* [n_layers, T_max, Hkv, d] roped keys */
    float *v;           /* [n_layers, T_max, Hkv, d] */
    float *x, *xn;      /* [D] residual stream, normed input */
    float *q, *att;     /* [H*d] */
    float *gate, *up;   /* [F] */
    float *logits;      /* [V] of the step */
    void  *host_logits; /* [V] host staging for the download (bf16 -> fp32) */
} ic_kv_cache;

/* Buffers from ic_buf_alloc(ctx); reserves the decode workspace at T_max. */
int  ic_kv_cache_init(ic_kv_cache *c, ic_ctx *ctx, const ic_config *cfg, int T_max,
                      ic_error *err);
void ic_kv_cache_free(ic_kv_cache *c);

/* Feed one token at position c->T (appending its keys/values); logits [V]
 * of the next token, fp32 in host memory (the caller picks the token). Fails when the cache is full or the token is out of
 * range. */
int ic_teacher_decode_step(const ic_weights *w, ic_kv_cache *c, int32_t token, float *logits,
                           ic_error *err);

#endif
