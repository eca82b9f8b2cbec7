/* Model configuration: the Hugging Face config.json keys of a Llama-family
 * model plus the DSA/IndexCache keys (docs/DESIGN.md s4). One struct for the
 * teacher and its indexers; loaded from / saved to config.json. */
#ifndef IC_CONFIG_H
#define IC_CONFIG_H

#include "ic_error.h"

#define IC_MAX_LAYERS 256

typedef enum { IC_ARCH_LLAMA = 0, IC_ARCH_MISTRAL, IC_ARCH_QWEN2 } ic_arch;

typedef struct {
    ic_arch arch;                 /* from "architectures"/"model_type" */
    int   vocab_size;             /* V */
    int   hidden_size;            /* D */
    int   intermediate_size;      /* F (SwiGLU) */
    int   n_layers;               /* num_hidden_layers */
    int   n_heads;                /* H  (num_attention_heads) */
    int   n_kv_heads;             /* Hkv (num_key_value_heads) */
    int   head_dim;               /* d  (head_dim, default D / H) */
    float rope_theta;
    float rms_norm_eps;
    int   max_position_embeddings;
    int   tie_word_embeddings;    /* lm_head shares embed_tokens */
    int   attention_bias;         /* q/k/v bias (Qwen2) */
    int   bos_token_id, eos_token_id;  /* -1 when absent */

    /* DSA / IndexCache (absent in a dense model: has_indexer_config = 0). */
    int   has_indexer_config;
    int   index_n_heads;          /* H_I, default 16 */
    int   index_head_dim;         /* d_I, default 64 */
    int   index_rope_dim;         /* default d_I / 2 */
    int   index_topk;             /* k, default 256 */
    int   use_index_cache;
    char  index_topk_pattern[IC_MAX_LAYERS + 1]; /* "FSSS..." or "" */
} ic_config;

/* Defaults for the indexer keys (used by init-indexers and train). */
void ic_config_set_indexer_defaults(ic_config *cfg);

/* Parse config.json; refuses architectures other than Llama / Mistral /
 * Qwen2 by name, and any missing or nonsensical required key. */
int ic_config_load(ic_config *cfg, const char *path, ic_error *err);
/* Write config.json (HF keys, "architectures": ["LlamaForCausalLM"] etc.,
 * plus the indexer keys when has_indexer_config), atomically. */
int ic_config_save(const ic_config *cfg, const char *path, ic_error *err);

#endif
