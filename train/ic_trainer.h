/* The IndexCache distillation trainer (docs/DESIGN.md s3, s5; issue 5).
 *
 * One window of L tokens:
 *   1. teacher forward, frozen: the dense teacher (dense stage) or the DSA
 *      forward with the pattern (sparse stage), stopped after the last layer
 *      the loss reads; it saves x_norm at F layers and q, k (and, dense
 *      stage, the attention LSE) at served layers; the sparse stage also
 *      keeps each F layer's top-k sets;
 *   2. per F layer l: indexer forward on x_norm, the distillation loss of
 *      kernels/ic_distill_loss.h over G(l) (--loss multi) or {l} (single),
 *      and the indexer backward into l's parameter gradients (+=).
 * The reported loss is sum over F layers of L_multi(l), divided by tokens.
 *
 * The forward runs one group at a time (docs/DESIGN.md s3): each G(l) is a
 * contiguous run of layers starting at F layer l, so the forward runs layers
 * [l, next F layer) (resuming on the kept hidden state), then F layer l's
 * loss and backward are computed at once, and the next group's forward
 * overwrites the same saved buffers. The per-layer losses are added in F
 * layer order as before, and the forward's layers run the same ops, so the
 * results are the bits of the whole-stack forward.
 *
 * Memory (fp32, reused across windows and groups): one F layer's x_norm
 * L*D, max_l |G(l)| slots of L*(H*d + Hkv*d [+ H for the dense stage's LSE])
 * (1 slot for --loss single), the sparse stage's kept sets L*(K+1) int32 of
 * one F layer, the DSA forward state (ic_dsa_state_bytes), one set of
 * indexer activations and L*(H_I*d_I + d_I + H_I) gradient scratch, plus the
 * loss op's streamed blocks; nothing is L x L and nothing grows with the
 * number of layers. SmolLM2-135M, uniform:4, L = 512, multi: 14 MiB of saved
 * tensors plus about 25 MiB of forward state, besides the weights. The
 * forward stops after the last layer the loss reads.
 *
 * A step: B windows of this rank (ic_sampler over the train split), the
 * gradients divided by this rank's tokens and averaged over ranks
 * (ic_comm_mean_f32 over the comm launch/ passes in, optim/ic_comm.h; every
 * rank holds the same token count), the
 * global-norm clip, AdamW with warm-up + cosine. Every rank takes the same
 * step; only rank 0 writes (log, checkpoints, the output model dir). */
#ifndef IC_TRAINER_H
#define IC_TRAINER_H

#include <stdint.h>

#include "ic_error.h"
#include "kernels/ic_distill_loss.h"
#include "model/ic_dsa.h"
#include "optim/ic_adamw.h"
#include "optim/ic_comm.h"

/* Per-window work state for a model, a pattern and a stage. */
typedef struct {
    ic_ctx          *ctx;      /* every buffer below lives on it, every op runs on it */
    ic_dsa_model    *m;        /* borrowed; its F-layer indexers are trained */
    ic_pattern       pat;
    ic_distill_stage stage;
    int              single;   /* 1: --loss single (G(l) = {l}) */
    int              L_max;
    int              layer_end;        /* forward stops here (last layer read + 1) */
    ic_teacher_saved *save;            /* [n_layers] views into the slots below (NULL
                                          pointers where unused): layer j of G(l) uses
                                          slot j - l, every F layer the one x_norm */
    ic_dsa_index_set *keep;            /* [n_layers] sparse stage: F layers' sets (all
                                          views of keep_buf) */
    int               n_slots;         /* max_l |G(l)| (1 for --loss single) */
    ic_teacher_saved *slots;           /* [n_slots] the q, k (, lse) buffers */
    float            *x_norm_buf;      /* [L_max, D] the F layer's x_norm */
    ic_dsa_index_set  keep_buf;        /* the F layer's sets (sparse stage) */
    ic_dsa_state     st;
    ic_indexer_acts  acts;
    float           *dqI, *dkI, *dw;   /* [L_max, H_I*d_I], [L_max, d_I], [L_max, H_I] */
    ic_indexer_grads *grads;           /* [n_layers], set for F layers: views into grad_flat */
    float           *grad_flat;        /* [grad_numel] every F layer's grads (+ zero padding) */
    size_t           grad_numel;
    /* AdamW's view: five tensors per F layer, names = the model-dir names. */
    int              n_params;
    ic_param        *params;           /* [n_params] */
    char           (*names)[128];      /* [n_params] */
} ic_trainer;

typedef struct {
    double  kl;         /* sum over F layers and tokens of L_multi(l)[t] */
    double  kl_pbar;    /* the same for KL(pbar || q) (diagnostics) */
    int64_t tokens;     /* tokens of the window(s) */
    double  nll;        /* LM loss sum (when targets were given) */
    long    n_targets;
} ic_trainer_stats;

/* Every F layer of pat must have an indexer in m. Reserves the workspace of
 * every op a window runs at L_max. */
int  ic_trainer_init(ic_trainer *t, ic_ctx *ctx, ic_dsa_model *m, const ic_pattern *pat,
                     ic_distill_stage stage, int single, int L_max, ic_error *err);
void ic_trainer_free(ic_trainer *t);

/* Zero every F layer's gradients. */
void ic_trainer_zero_grads(ic_trainer *t);

/* One window: tokens [L]. want_grad: accumulate (+=) the gradients of the
 * summed loss (not divided by tokens). targets [L] (next tokens) or NULL:
 * with targets the forward runs the whole stack and adds the LM loss of the
 * forward that was run (the pattern's DSA forward in the sparse stage, the
 * dense teacher in the dense stage). Stats are ADDED to *acc. */
int  ic_trainer_window(ic_trainer *t, const int32_t *tokens, const int32_t *targets, int L,
                       int want_grad, ic_trainer_stats *acc, ic_error *err);

/* Multiply every gradient by s. */
void ic_trainer_scale_grads(ic_trainer *t, float s);
/* Average the gradients over the ranks of comm, one call over grad_flat
 * (no-op for a NULL comm or a single process). */
void ic_trainer_allreduce_grads(ic_trainer *t, const ic_comm *comm);

/* ---- the `indexcache train` driver ------------------------------------- */
typedef struct {
    const char *model_dir, *data_path, *pattern, *out_dir;
    ic_distill_stage stage;
    int    single;
    long   steps;
    int    seq_len, batch;
    double lr, min_lr, weight_decay, clip;
    long   warmup;
    int    topk;            /* <= 0: the config's */
    long   eval_every;      /* <= 0: only at the end */
    long   eval_batches;    /* val windows per evaluation */
    uint64_t seed;
    int    resume;
    long   stop_after;      /* > 0: stop (with a checkpoint) after this step, as if killed */
    int    keep_ckpts;
    int    eval_only;       /* print the val KL (JSON) of the model's indexers, train nothing */
    const ic_comm *comm;    /* the ranks (launch/ic_dist.h in the binary); NULL: one process */
    ic_ctx *ctx;            /* the context every op runs on (the command's) */
} ic_train_opts;

int ic_train_run(const ic_train_opts *o, ic_error *err);

#endif
