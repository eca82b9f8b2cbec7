/* `indexcache import`: a dense Llama-family model (a GGUF file or a Hugging
 * Face dir) -> our model dir (docs/DESIGN.md s4): config.json with HF keys,
 * model.safetensors with HF Llama tensor names, tokenizer.json in the
 * Hugging Face `tokenizers` format, and tokenizer_config.json,
 * special_tokens_map.json, generation_config.json. */
#ifndef IC_IMPORT_H
#define IC_IMPORT_H

#include <jansson.h>

#include "ic_config.h"
#include "ic_error.h"
#include "ic_gguf.h"
#include "ic_tensor.h"

typedef struct {
    ic_dtype dtype;   /* IC_BF16 (default) or IC_F32: dtype of model.safetensors */
    int      force;   /* replace the files of a non-empty out dir */
} ic_import_opts;

/* src: a .gguf file or a HF model dir. out_dir must not exist or be empty,
 * unless opts->force. Files are staged in a sibling temp dir and renamed
 * into place, so out_dir never holds a half-written model. */
int ic_import(const char *src, const char *out_dir, const ic_import_opts *opts, ic_error *err);

/* ---- pieces, exposed for the tests ---- */

/* config from the llama.* metadata of a GGUF (refuses other architectures
 * and features our teacher does not compute). tie_word_embeddings is set
 * when there is no output.weight. */
int ic_import_config_from_gguf(const ic_gguf *g, ic_config *cfg, ic_error *err);

/* Expected HF shape of a teacher tensor under cfg: 0 and shape/ndim filled,
 * or -1 when the name is not a tensor of this config. */
int ic_import_expected_shape(const ic_config *cfg, const char *hf_name, int64_t shape[2], int *ndim);

/* tokenizer.json (HF `tokenizers` format, byte-level BPE) from the GGUF
 * vocab. Refuses non-BPE vocabularies and pre-tokenizers it does not know
 * by name. `src` names the file in messages. New reference or NULL. */
json_t *ic_hf_tokenizer_from_gguf(const ic_gguf_tokenizer *tok, const char *src, ic_error *err);

/* The tokenizer/generation side files (model/ic_import_aux.c): their
 * names, written from a GGUF's tokenizer metadata or copied from a HF dir
 * (those present) into dir. */
#define IC_IMPORT_N_AUX 4
extern const char *const ic_import_aux_files[IC_IMPORT_N_AUX];
int ic_import_aux_from_gguf(const ic_gguf *g, const ic_gguf_tokenizer *tok, const ic_config *cfg,
                            const char *dir, ic_error *err);
int ic_import_aux_copy(const char *src, const char *dir, ic_error *err);

#endif
