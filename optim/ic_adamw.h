/* AdamW (Loshchilov & Hutter, decoupled weight decay) over a list of fp32
 * parameter buffers, the update PyTorch's torch.optim.AdamW takes:
 *
 *   t  = t + 1
 *   p  = p * (1 - lr * wd)                      (decoupled: not through m, v)
 *   m  = beta1 * m + (1 - beta1) * g
 *   v  = beta2 * v + (1 - beta2) * g^2
 *   p  = p - lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
 *
 * Weight decay is applied per buffer (decay = 0 exempts LayerNorm weights
 * and biases, the usual practice). The bias corrections are computed in
 * double once per step so that a long run does not lose them to fp32
 * rounding of beta^t.
 *
 * State (m, v per buffer, and the step count) is exposed as named views so
 * that a checkpoint can write and restore it as tensors without knowing the
 * optimizer: "<param>.exp_avg" and "<param>.exp_avg_sq" (PyTorch's names). */
#ifndef IC_ADAMW_H
#define IC_ADAMW_H

#include <stdint.h>

#include "ic_ctx.h"
#include "ic_error.h"
#include "ic_tensor.h"

/* A named fp32 buffer: what checkpoints store and optimizers update. The
 * name and data are borrowed (not owned). */
typedef struct {
    const char *name;
    int         ndim;
    int64_t     shape[IC_MAX_DIMS];  /* [ndim] */
    float      *data;                /* [prod(shape)] */
} ic_named_f32;

/* Elements of a named buffer (1 for ndim 0). */
int64_t ic_named_f32_numel(const ic_named_f32 *t);

/* One trainable buffer and its gradient, both [n]. */
typedef struct {
    const char *name;   /* copied by ic_adamw_init; names the state tensors */
    float      *value;  /* [n] updated in place */
    float      *grad;   /* [n] read only by the optimizer */
    int64_t     n;
    int         decay;  /* 1: apply weight decay; 0: exempt */
} ic_param;

typedef struct {
    double beta1;         /* 0.9 */
    double beta2;         /* 0.95 or 0.999 */
    double eps;           /* 1e-8 */
    double weight_decay;  /* 0.1 (decoupled, multiplied by lr) */
} ic_adamw_hparams;

/* PyTorch's defaults except weight decay 0.1 (the usual fine-tuning value). */
ic_adamw_hparams ic_adamw_default_hparams(void);

typedef struct {
    ic_ctx   *ctx;        /* m, v live on it; the update runs on it */
    ic_adamw_hparams hp;
    int       n_params;
    char    **names;      /* [n_params] owned copies of ic_param.name */
    char    **state_names;/* [2 * n_params] "<name>.exp_avg", "<name>.exp_avg_sq" */
    int64_t  *sizes;      /* [n_params] */
    float   **m;          /* [n_params][sizes[i]] first moment */
    float   **v;          /* [n_params][sizes[i]] second moment */
    int64_t   step;       /* updates taken so far (t of the formula) */
} ic_adamw;

/* Zeroed state for the given buffers (on ctx's device, like the buffers).
 * Refuses empty/duplicate names, negative sizes and invalid
 * hyper-parameters (betas outside [0,1), eps <= 0, wd < 0). */
int  ic_adamw_init(ic_adamw *opt, ic_ctx *ctx, const ic_adamw_hparams *hp,
                   const ic_param *params, int n, ic_error *err);
void ic_adamw_free(ic_adamw *opt);

/* One update of every buffer with learning rate lr (the op
 * kernels/ic_adamw_update.h per buffer). params must be the list given to
 * init (same order and sizes; asserted). */
void ic_adamw_step(ic_adamw *opt, const ic_param *params, int n, double lr);

/* Number of state tensors: 2 * n_params. */
int  ic_adamw_state_count(const ic_adamw *opt);
/* Views of the state into out[ic_adamw_state_count()]: writing through
 * them restores state. The step count is not a tensor: save opt->step
 * beside them (a checkpoint keeps it in its JSON). */
void ic_adamw_state_views(ic_adamw *opt, ic_named_f32 *out);
/* Restore m, v from named host buffers (any order, matched by name, numel
 * must agree) and set the step count. Every state tensor must be present. */
int  ic_adamw_state_restore(ic_adamw *opt, const ic_named_f32 *src, int n_src, int64_t step,
                            ic_error *err);

#endif
