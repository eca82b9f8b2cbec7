/* Weights of the frozen dense teacher (llama2.c style: one struct of
 * pointers into a single fp32 block). Names follow HF LlamaForCausalLM;
 * the layout of every matrix is the HF Linear layout W [out, in]. */
#ifndef IC_WEIGHTS_H
#define IC_WEIGHTS_H

#include <stddef.h>

#include "ic_error.h"
#include "ic_tensor.h"
#include "model/ic_config.h"

typedef struct {
    float *attn_norm;  /* [D]        input_layernorm.weight */
    float *wq;         /* [H*d, D]   self_attn.q_proj.weight */
    float *wk;         /* [Hkv*d, D] self_attn.k_proj.weight */
    float *wv;         /* [Hkv*d, D] self_attn.v_proj.weight */
    float *bq;         /* [H*d]   q_proj.bias, NULL unless attention_bias (Qwen2) */
    float *bk;         /* [Hkv*d] */
    float *bv;         /* [Hkv*d] */
    float *wo;         /* [D, H*d]   self_attn.o_proj.weight */
    float *mlp_norm;   /* [D]        post_attention_layernorm.weight */
    float *w_gate;     /* [F, D]     mlp.gate_proj.weight */
    float *w_up;       /* [F, D]     mlp.up_proj.weight */
    float *w_down;     /* [D, F]     mlp.down_proj.weight */
} ic_layer_weights;

typedef struct {
    ic_config cfg;
    float *embed;              /* [V, D] model.embed_tokens.weight */
    float *final_norm;         /* [D]    model.norm.weight */
    float *lm_head;            /* [V, D] lm_head.weight; == embed when tied */
    ic_layer_weights *layers;  /* [n_layers] */
    float *block;              /* the one allocation every pointer above points into */
    size_t n_floats;           /* its size in elements */
    /* Where the block lives. Loaded weights are fp32 host memory (ctx NULL,
     * dt IC_F32). ic_weights_to_ctx makes a copy on a context's device in
     * its activation dtype: then every pointer above is a device pointer to
     * elements of dt (bf16 on CUDA), passed to the ops with dt, and never
     * dereferenced on the host. */
    struct ic_ctx *ctx;
    ic_dtype dt;
} ic_weights;

/* Allocate zeroed weights for cfg (checks the shapes are sane). */
int  ic_weights_init(ic_weights *w, const ic_config *cfg, ic_error *err);
void ic_weights_free(ic_weights *w);

/* The weights on ctx's device in ctx->act_dtype, converted once (in chunks,
 * so the host never holds a second full copy). On a CPU context with fp32
 * activations this is a plain copy. Free with ic_weights_free. */
int ic_weights_to_ctx(const ic_weights *host, struct ic_ctx *ctx, ic_weights *dev, ic_error *err);

/* The weights a context's ops read: *use = host itself when the context
 * runs on host memory in fp32 (the CPU backend: no copy), else a copy made
 * by ic_weights_to_ctx into *dev. Free *dev with ic_weights_free either
 * way (a no-op when nothing was copied). */
int ic_weights_on_ctx(const ic_weights *host, struct ic_ctx *ctx, ic_weights *dev,
                      const ic_weights **use, ic_error *err);

/* One tensor of the model: its HF name, its fp32 destination and shape.
 * ic_weights_tensors fills up to cap entries and returns how many the model
 * has (so callers can size the array: call with cap 0 first). */
typedef struct {
    char    name[96];
    float  *dst;
    int     ndim;
    long long shape[2];
} ic_weight_entry;
int ic_weights_tensors(const ic_weights *w, ic_weight_entry *out, int cap);

/* Load a model dir: DIR/config.json and DIR/model.safetensors (or shards
 * listed in DIR/model.safetensors.index.json); bf16/f16/f32 tensors are
 * converted to fp32. Missing or mis-shaped tensors are errors naming the
 * tensor and the file. */
int ic_weights_load(ic_weights *w, const char *model_dir, ic_error *err);
/* The same with a config already in hand (DIR/config.json not read). */
int ic_weights_load_files(ic_weights *w, const ic_config *cfg, const char *model_dir,
                          ic_error *err);

/* Bytes of the fp32 weights of cfg (tied embeddings counted once). */
size_t ic_weights_bytes(const ic_config *cfg);

#endif
