/* The DSA / IndexCache model: the frozen teacher with lightning indexers and
 * an F/S layer pattern (docs/DESIGN.md s3). At an F layer the layer's indexer
 * runs on x_norm and its top-k sets replace the index buffer; an S layer
 * reuses the buffer as it stands (the sets of its source f(l)); every layer
 * then runs sparse attention over the buffer. One index buffer is passed
 * down the stack and nothing else is cached. `dense` runs the plain teacher.
 *
 * Three layers of API:
 *   ic_dsa_model     weights + indexers + pattern + K (owns them).
 *   ic_dsa_selector  the per-layer selection hook of ic_teacher_layers
 *                    (indexer activations + the index buffer); usable on its
 *                    own with any driver that takes ic_teacher_opts, e.g.
 *                    ic_eval_run.
 *   ic_dsa_state +   one forward over a window: embed, layers [a, b), LM
 *   ic_dsa_forward   loss; resumable mid-stack (hidden state + index buffer
 *                    in/out), with per-layer saved tensors and kept sets.
 *
 * Threading: the ops use OpenMP with OpenBLAS single-threaded (see
 * kernels/cpu); set OMP_WAIT_POLICY=PASSIVE on a shared box. */
#ifndef IC_DSA_H
#define IC_DSA_H

#include <stddef.h>
#include <stdint.h>

#include "ic_error.h"
#include "model/ic_indexer.h"
#include "model/ic_pattern.h"
#include "model/ic_teacher.h"
#include "model/ic_weights.h"

typedef struct {
    ic_weights      w;        /* teacher (w.cfg is the model's config) */
    ic_indexer_dims idims;    /* from the config (defaults when it has no indexer keys) */
    ic_indexer     *ix;       /* [n_layers]; ix[l].data == NULL: layer l has no indexer */
    ic_pattern      pattern;  /* default pattern of forwards ("dense" allowed) */
    int             topk;     /* K */
} ic_dsa_model;

/* Which indexers ic_dsa_model_load reads. */
typedef enum {
    IC_DSA_LOAD_PATTERN = 0,  /* the pattern's F layers (each must be in the dir) */
    IC_DSA_LOAD_PRESENT,      /* every layer the dir has (pattern F layers still required) */
    IC_DSA_LOAD_ALL           /* every layer (each must be in the dir) */
} ic_dsa_load_mode;

/* Load a model dir (config.json + safetensors; indexers by DeepSeek-V3.2
 * name). pattern_spec: "FSS..", "uniform:R", "dense", or NULL for the
 * config's index_topk_pattern (all F when it has none). topk <= 0: the
 * config's index_topk. A missing indexer is an error naming the layer and
 * the dir. */
int ic_dsa_model_load(ic_dsa_model *m, const char *dir, const char *pattern_spec, int topk,
                      ic_dsa_load_mode mode, ic_error *err);

/* In-memory model for tests and tools: zeroed teacher weights for cfg, and
 * allocated (unset) indexers for the layers with want_ix[l] != 0 (want_ix
 * NULL: every layer). cfg without indexer keys gets the defaults. The
 * pattern starts as all F; topk <= 0: the config's. */
int ic_dsa_model_init(ic_dsa_model *m, const ic_config *cfg, const int *want_ix, int topk,
                      ic_error *err);
void ic_dsa_model_free(ic_dsa_model *m);

/* A small Llama config for tests: vocab 61, hidden 32, SwiGLU 48, 4 heads
 * over 2 kv heads of dim 8, n_layers layers, indexer 2 heads of dim 8
 * (rope dim 4), index_topk topk. */
void ic_dsa_tiny_config(ic_config *cfg, int n_layers, int topk);

/* Seeded random weights for tests (deterministic in seed only): matrices
 * N(0, 1/fan_in) times a gain of 1.5 (so that attention is far from
 * uniform), embeddings N(0, 1), RMSNorm weights U(0.5, 1.5); each present
 * indexer from ic_indexer_init_random(seed, layer) with its LayerNorm
 * weight/bias perturbed away from identity. */
void ic_dsa_model_fill_random(ic_dsa_model *m, uint64_t seed);

/* Write m as a model dir (created if needed): config.json with the
 * indexer keys, index_topk = m->topk and the literal pattern, and
 * model.safetensors (F32) with the teacher and every present indexer. For
 * tests and tools; tokenizer files are not written. */
int ic_dsa_model_save(const ic_dsa_model *m, const char *dir, ic_error *err);

/* Put the model where ctx's ops read it: the teacher in ctx->act_dtype on
 * its device (ic_weights_on_ctx; the host copy is freed) and every present
 * indexer on its device (ic_indexer_to_ctx, fp32). A no-op on a CPU context
 * with fp32 activations: the CPU path keeps its very buffers. Load or
 * initialise the indexers first; afterwards writers take host copies. */
int ic_dsa_model_to_ctx(ic_dsa_model *m, ic_ctx *ctx, ic_error *err);

/* 1 when layer l has an indexer. */
int ic_dsa_model_has_indexer(const ic_dsa_model *m, int l);

/* 0 when every F layer of p has an indexer; else -1 naming the first layer
 * without one (and `dir` when not NULL). */
int ic_dsa_model_check_pattern(const ic_dsa_model *m, const ic_pattern *p, const char *dir,
                               ic_error *err);

/* How layers choose their keys. */
typedef enum {
    IC_DSA_MODE_PATTERN = 0,  /* the pattern: F layers select, S layers reuse */
    IC_DSA_MODE_DENSE,        /* plain teacher attention, no indexer runs */
    IC_DSA_MODE_OWN           /* every layer runs its own indexer (all F; for overlap) */
} ic_dsa_mode;

/* One layer's index set, docs/CONVENTIONS.md layout: idx [L, K], cnt [L]. */
typedef struct {
    int32_t *idx;
    int32_t *cnt;
} ic_dsa_index_set;

/* The selection hook's state. Memory (reused across windows):
 *   index buffer L_max*(K + 1) int32, indexer activations
 *   L_max*(2*H_I*d_I + 4*d_I + 2*H_I + 2) floats (ic_indexer_acts), and
 *   while a layer selects, the streamed score blocks (about 16 MB, inside
 *   ic_indexer_select). */
typedef struct {
    const ic_dsa_model *m;
    int        L_max, K;
    ic_indexer_acts acts;    /* of the last F layer (acts.x points into the
                                teacher's scratch: valid during that layer only) */
    int32_t   *idx;          /* [L_max, K] the index buffer passed down the stack */
    int32_t   *cnt;          /* [L_max] */
    int        buf_L;        /* tokens the buffer was made for; 0 = empty */
    int        buf_layer;    /* the F layer that made it (-1 when passed in) */
    /* set by ic_dsa_selector_opts for the next forward */
    ic_pattern pattern;
    ic_dsa_mode mode;
    ic_dsa_index_set *keep;  /* [n_layers] or NULL: copy of each F layer's sets */
    ic_error  *err;          /* where a selection failure is reported */
    float     *x32;          /* [L_max, D] fp32 x_norm for the indexer when the
                                teacher's activations are bf16 (CUDA); else NULL */
} ic_dsa_selector;

/* Buffers from ic_buf_alloc(ctx); reserves the workspace of the indexer
 * and of sparse attention at L_max. */
int  ic_dsa_selector_init(ic_dsa_selector *s, ic_ctx *ctx, const ic_dsa_model *m, int L_max,
                          ic_error *err);
void ic_dsa_selector_free(ic_dsa_selector *s);

/* Fill teacher opts that run pattern p (NULL: the model's) in `mode`, with
 * save (per layer, may be NULL) and keep (per layer, may be NULL; entries
 * with idx == NULL are skipped). err receives selection failures (it must
 * outlive the forward). Checks that p's F layers (all layers for
 * IC_DSA_MODE_OWN) have indexers: -1 naming the layer otherwise. The index
 * buffer is not touched (a mid-stack resume keeps it). */
int ic_dsa_selector_opts(ic_dsa_selector *s, const ic_pattern *p, ic_dsa_mode mode,
                         ic_teacher_saved *save, ic_dsa_index_set *keep,
                         ic_teacher_opts *topts, ic_error *err);

/* Everything one window's forward needs, reused across windows. */
typedef struct {
    ic_teacher_state ts;
    ic_dsa_selector  sel;
    float           *hidden;  /* [L_max, D] the residual stream when the caller passes none */
    int              L_max;
} ic_dsa_state;

/* Bytes ic_dsa_state_init allocates (teacher state + selector + hidden).
 * SmolLM2-135M (H_I 16, d_I 64) at L = 2048, K = 256: 81.9 MiB, of which
 * 57.1 MiB is the teacher's; plus about 16 MiB of score blocks while an F
 * layer selects, and the weights (513 MiB fp32 teacher + 2.4 MiB per
 * indexer). No L x L array per head or layer exists at any point. */
size_t ic_dsa_state_bytes(const ic_dsa_model *m, int L_max);
int  ic_dsa_state_init(ic_dsa_state *st, ic_ctx *ctx, const ic_dsa_model *m, int L_max,
                       ic_error *err);
void ic_dsa_state_free(ic_dsa_state *st);

typedef struct {
    const ic_pattern *pattern;   /* NULL: the model's */
    ic_dsa_mode mode;
    int layer_begin;             /* a: 0 embeds tokens first */
    int layer_end;               /* b; <= 0 means n_layers; the loss needs b = n_layers */
    float *hidden;               /* [L, D] residual stream in/out, or NULL for st->hidden.
                                    For a > 0 it holds the input of layer a; on return
                                    the output of layer b - 1. */
    const int32_t *idx_in;       /* [L, K] index buffer to resume with at a > 0 (required */
    const int32_t *cnt_in;       /* [L]    when layer a is S; copied into st->sel) */
    ic_teacher_saved *save;      /* [n_layers] or NULL: x_norm/q/k/lse of chosen layers */
    ic_dsa_index_set *keep;      /* [n_layers] or NULL: index sets of F layers */
} ic_dsa_fwd_opts;

typedef struct {
    double sum_nll;   /* sum of the next-token losses (b = n_layers and targets) */
    long   n_targets; /* how many */
} ic_dsa_result;

/* Forward of one window: tokens [L] (read when a = 0), targets [L] (the
 * next tokens, < 0 = none; NULL = no loss). opts NULL: full stack, model
 * pattern. After return st->sel.idx/cnt hold the index buffer as it left
 * layer b - 1 (what a resume at b needs). res may be NULL. */
int ic_dsa_forward(const ic_dsa_model *m, ic_dsa_state *st, const int32_t *tokens,
                   const int32_t *targets, int L, const ic_dsa_fwd_opts *opts,
                   ic_dsa_result *res, ic_error *err);

#endif
