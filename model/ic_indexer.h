/* The lightning indexer of one layer (DeepSeek-V3.2 Eq. 1, docs/DESIGN.md s3):
 *   qI = RoPE_r(x Wq^T)                       [L, H_I, d_I]
 *   kI = RoPE_r(LayerNorm(x Wk^T))            [L, d_I]   (one key head)
 *   w  = (x Wproj^T) * H_I^-1/2 * d_I^-1/2    [L, H_I]
 * with RoPE (NeoX half-split) on the first r = index_rope_dim dims. The
 * scores I and the top-k sets come from kernels/ic_indexer_scores.h and
 * kernels/ic_topk.h. The input x (the layer's RMS-normed hidden state) is
 * detached: the backward yields parameter gradients only. */
#ifndef IC_INDEXER_H
#define IC_INDEXER_H

#include <stddef.h>
#include <stdint.h>

#include "ic_ctx.h"
#include "ic_error.h"
#include "model/ic_config.h"

typedef struct {
    int   dim;          /* D: hidden size of the teacher (x is [L, D]) */
    int   n_heads;      /* H_I  (index_n_heads) */
    int   head_dim;     /* d_I  (index_head_dim) */
    int   rope_dim;     /* r    (index_rope_dim), even, <= d_I */
    int   topk;         /* K    (index_topk) */
    float rope_theta;   /* the teacher's rope_theta */
} ic_indexer_dims;

/* Reads hidden_size, index_n_heads, index_head_dim, index_rope_dim,
 * index_topk, rope_theta; -1 with a message naming the bad key. */
int ic_indexer_dims_from_config(ic_indexer_dims *d, const ic_config *cfg, ic_error *err);

/* The five tensors live in one block (data, numel floats) in this order, so
 * an optimizer or an all-reduce can treat them as one vector. Grads use the
 * same layout. Names: model.layers.{i}.self_attn.indexer.<suffix>. */
#define IC_INDEXER_N_TENSORS 5
typedef struct {
    ic_indexer_dims dims;
    struct ic_ctx *ctx;     /* NULL: data is host memory (ic_indexer_init); else the
                               context whose device holds it (ic_indexer_to_ctx) */
    float  *data;           /* all parameters, numel floats */
    size_t  numel;
    float  *wq_b;           /* [H_I*d_I, D]  "wq_b.weight" */
    float  *wk;             /* [d_I, D]      "wk.weight" */
    float  *k_norm_weight;  /* [d_I]         "k_norm.weight" */
    float  *k_norm_bias;    /* [d_I]         "k_norm.bias" */
    float  *weights_proj;   /* [H_I, D]      "weights_proj.weight" */
} ic_indexer;

typedef struct {            /* dLoss/d(parameter), same layout as ic_indexer */
    ic_ctx *ctx;            /* data lives on this context (ic_buf_alloc) */
    int     owned;          /* 1: data is ours to free; 0: a view (init_view) */
    ic_indexer_dims dims;
    float  *data;
    size_t  numel;
    float  *wq_b, *wk, *k_norm_weight, *k_norm_bias, *weights_proj;
} ic_indexer_grads;

/* Allocation (contents unset for the indexer, zero for the grads). The
 * indexer starts in host memory (loading and the seeded init fill it there). */
int  ic_indexer_init(ic_indexer *ix, const ic_indexer_dims *d, ic_error *err);
void ic_indexer_free(ic_indexer *ix);
/* Move a host indexer onto ctx's device (upload, host copy freed). A CPU
 * context runs on host memory: the indexer stays where it is (no copy), so
 * the CPU path reads the very same buffers as before. */
int  ic_indexer_to_ctx(ic_indexer *ix, struct ic_ctx *ctx, ic_error *err);
/* A host copy of any indexer (downloaded from its device when it has one),
 * for writers: safetensors, checkpoints, hashes. Free with ic_indexer_free. */
int  ic_indexer_host_copy(const ic_indexer *src, ic_indexer *dst, ic_error *err);
/* Host views of ix[0..n-1] (entries with data == NULL stay empty): *out = ix
 * itself when every indexer is in host memory, else a new array of host
 * copies that ic_indexers_host_free releases (a no-op for ix itself). */
int  ic_indexers_on_host(const ic_indexer *ix, int n, const ic_indexer **out, ic_error *err);
void ic_indexers_host_free(const ic_indexer *ix, const ic_indexer *host, int n);
int  ic_indexer_grads_init(ic_indexer_grads *g, ic_ctx *ctx, const ic_indexer_dims *d,
                           ic_error *err);
void ic_indexer_grads_free(ic_indexer_grads *g);
void ic_indexer_grads_zero(ic_indexer_grads *g);
/* Floats of one indexer's block (parameters or grads) for these dims. */
size_t ic_indexer_block_numel(const ic_indexer_dims *d);
/* Grads over caller memory mem[ic_indexer_block_numel(d)] (contents kept),
 * so that several layers' grads can share one flat buffer and be
 * all-reduced in one call; the caller frees mem, not ic_indexer_grads_free. */
int  ic_indexer_grads_init_view(ic_indexer_grads *g, ic_ctx *ctx, const ic_indexer_dims *d,
                                float *mem,
                                ic_error *err);
/* dst += src (e.g. summing micro-batches); the dims must match. */
void ic_indexer_grads_accumulate(ic_indexer_grads *dst, const ic_indexer_grads *src);

/* Deterministic initialisation of the indexer of layer `layer` from `seed`:
 *   wq_b, wk, weights_proj ~ N(0, 1/D) (fan-in scaled, so that for a
 *   unit-RMS x the projections have unit-order entries whatever D is),
 *   k_norm.weight = 1, k_norm.bias = 0 (the LayerNorm starts as identity).
 * The stream, exactly (so other tools can reproduce it):
 *   splitmix64 step: state += 0x9E3779B97F4A7C15; z = state;
 *     z = (z ^ z>>30) * 0xBF58476D1CE4E5B9; z = (z ^ z>>27) * 0x94D049BB133111EB;
 *     out = z ^ z>>31                                    (all mod 2^64)
 *   state0 = one step's out, from state = seed ^ (0xD1B54A32D192ED03 * (layer+1));
 *   u = ((out >> 11) + 1) * 2^-53, in (0, 1];
 *   per pair of entries: u1, u2; r = sqrt(-2 ln u1), a = 2 pi u2;
 *     x[i] = (float)(std * r * cos a), x[i+1] = (float)(std * r * sin a)
 *   (in double, then rounded), tensors in the order wq_b, wk, weights_proj,
 *   row-major, each starting a fresh pair. Only IEEE double arithmetic and
 *   libm's log/cos/sin are involved, so the weights agree across machines
 *   (a sub-ulp libm difference would have to straddle a float rounding
 *   boundary to show); they depend on (seed, layer) only, not the pattern. */
void ic_indexer_init_random(ic_indexer *ix, uint64_t seed, int layer);

/* Table of the five tensors for load/store (docs/DESIGN.md s4). */
typedef struct {
    const char *suffix;     /* "wq_b.weight", ..., "k_norm.bias" */
    float      *data;
    int         ndim;       /* 1 or 2 */
    int64_t     shape[2];
} ic_indexer_tensor;
void ic_indexer_tensors(const ic_indexer *ix, ic_indexer_tensor out[IC_INDEXER_N_TENSORS]);
/* The suffixes alone, in the same order. */
extern const char *const ic_indexer_tensor_suffixes[IC_INDEXER_N_TENSORS];
/* "model.layers.{layer}.self_attn.indexer.{suffix}" into buf. */
void ic_indexer_tensor_name(char *buf, size_t n, int layer, const char *suffix);

/* Saved activations of one forward, reused across calls up to L_max tokens. */
typedef struct {
    ic_ctx *ctx;            /* buffers live on it and the ops run on it */
    ic_indexer_dims dims;
    int    L_max;
    int    L, pos0;         /* of the last forward */
    const float *x;         /* [L, D] the caller's input, kept (not copied): it
                               must stay unchanged until the backward */
    float *qI;              /* [L, H_I, d_I] roped */
    float *kI;              /* [L, d_I] normed and roped */
    float *w;               /* [L, H_I] scaled */
    float *k_pre;           /* [L, d_I] x Wk^T, the LayerNorm input */
    float *ln_mean, *ln_rstd;  /* [L] */
    float *dq_scratch;      /* [L, H_I*d_I] backward scratch */
    float *dk_scratch;      /* [L, 2*d_I] */
    float *dw_scratch;      /* [L, H_I] */
} ic_indexer_acts;

/* Buffers from ic_buf_alloc(ctx); reserves the workspace of the forward,
 * backward and selection at L_max (ic_indexer_workspace_bytes). */
int  ic_indexer_acts_init(ic_indexer_acts *a, ic_ctx *ctx, const ic_indexer_dims *d, int L_max,
                          ic_error *err);
size_t ic_indexer_workspace_bytes(const ic_ctx *ctx, const ic_indexer_dims *d, int L_max);
void ic_indexer_acts_free(ic_indexer_acts *a);

/* x [L, D], token t at position pos0 + t; fills a (1 <= L <= a->L_max). */
void ic_indexer_forward(const ic_indexer *ix, const float *x, int L, int pos0,
                        ic_indexer_acts *a);

/* From dqI [L, H_I, d_I], dkI [L, d_I], dw [L, H_I] (e.g. summed
 * ic_indexer_scores_backward blocks) of the last forward, accumulate (+=)
 * dWq, dWk, dk_norm.{weight,bias}, dWproj into g. Inputs are not modified
 * (a's scratch is used). */
void ic_indexer_backward(const ic_indexer *ix, ic_indexer_acts *a, const float *dqI,
                         const float *dkI, const float *dw, ic_indexer_grads *g);

/* Top-k sets of the last forward (idx [L, K], cnt [L], docs/CONVENTIONS.md),
 * streaming the scores a row block at a time (K <= dims.topk; the
 * workspace was reserved for that). Returns 0. */
int ic_indexer_select(const ic_indexer_acts *a, int K, int32_t *idx, int32_t *cnt,
                      ic_error *err);

#endif
