/* The files a transformers user expects beside the weights (docs/FORMATS.md):
 * tokenizer_config.json (special tokens, chat template, tokenizer class),
 * special_tokens_map.json and generation_config.json. Without them
 * AutoTokenizer.from_pretrained logs that there is no tokenizer
 * configuration and leaves BOS/EOS unset, and generate() has no stop token.
 * From a HF dir they are copied as they are; from a GGUF they are written
 * from its tokenizer.* metadata (the special-token ids, add_bos/add_eos,
 * tokenizer.chat_template) and llama.context_length. */
#include "ic_import.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ic_config_json.h"
#include "ic_fs.h"

const char *const ic_import_aux_files[IC_IMPORT_N_AUX] = {
    "tokenizer_config.json", "special_tokens_map.json", "generation_config.json", "chat_template.jinja",
};

static int save(json_t *o, const char *dir, const char *name, ic_error *err) {
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
        return ic_error_set(err, "%s/%s: path too long", dir, name);
    if (!o) return ic_error_set(err, "%s: out of memory", path);
    int rc = ic_config_json_save(o, path, err);
    json_decref(o);
    return rc;
}

/* The token's text, or NULL for an id outside the vocabulary / absent. */
static const char *token(const ic_gguf_tokenizer *tok, int64_t id) {
    return id >= 0 && id < tok->n_tokens ? tok->tokens[id] : NULL;
}

static void set_token(json_t *o, const char *key, const ic_gguf_tokenizer *tok, int64_t id) {
    const char *t = token(tok, id);
    if (t) json_object_set_new(o, key, json_string(t));
}

int ic_import_aux_from_gguf(const ic_gguf *g, const ic_gguf_tokenizer *tok, const ic_config *cfg,
                            const char *dir, ic_error *err) {
    char *tmpl = NULL;
    const ic_gguf_kv *ct = ic_gguf_find_kv(g, "tokenizer.chat_template");
    if (ct && ct->type == IC_GGUF_STRING && !(tmpl = ic_gguf_strdup(ct->str)))
        return ic_error_set(err, "%s: out of memory", g->path);

    /* special_tokens_map.json: what save_pretrained writes, the texts of the
     * special tokens */
    json_t *sm = json_object();
    set_token(sm, "bos_token", tok, tok->bos_id);
    set_token(sm, "eos_token", tok, tok->eos_id);
    set_token(sm, "unk_token", tok, tok->unk_id);
    set_token(sm, "pad_token", tok, tok->pad_id);

    /* tokenizer_config.json: the same tokens, plus how to use them. The
     * tokenizer.json post-processor already adds BOS/EOS when the GGUF
     * says so; add_bos_token/add_eos_token say the same for readers that
     * look here. */
    json_t *tc = json_deep_copy(sm);
    if (tc) {
        json_object_set_new(tc, "tokenizer_class", json_string("PreTrainedTokenizerFast"));
        json_object_set_new(tc, "add_bos_token", json_boolean(tok->add_bos));
        json_object_set_new(tc, "add_eos_token", json_boolean(tok->add_eos));
        json_object_set_new(tc, "clean_up_tokenization_spaces", json_false());
        json_object_set_new(tc, "model_max_length", json_integer(cfg->max_position_embeddings));
        if (tmpl) json_object_set_new(tc, "chat_template", json_string(tmpl));
    }
    free(tmpl);

    /* generation_config.json: the ids generate() stops at / pads with */
    json_t *gc = json_object();
    if (tok->bos_id >= 0) json_object_set_new(gc, "bos_token_id", json_integer(tok->bos_id));
    if (tok->eos_id >= 0) json_object_set_new(gc, "eos_token_id", json_integer(tok->eos_id));
    if (tok->pad_id >= 0) json_object_set_new(gc, "pad_token_id", json_integer(tok->pad_id));

    if (save(sm, dir, "special_tokens_map.json", err)) { json_decref(tc); json_decref(gc); return -1; }
    if (save(tc, dir, "tokenizer_config.json", err)) { json_decref(gc); return -1; }
    return save(gc, dir, "generation_config.json", err);
}

int ic_import_aux_copy(const char *src, const char *dir, ic_error *err) {
    for (int i = 0; i < IC_IMPORT_N_AUX; i++) {
        char from[4096], to[4096];
        if ((size_t)snprintf(from, sizeof from, "%s/%s", src, ic_import_aux_files[i]) >= sizeof from ||
            (size_t)snprintf(to, sizeof to, "%s/%s", dir, ic_import_aux_files[i]) >= sizeof to)
            return ic_error_set(err, "%s: path too long", src);
        if (!ic_path_exists(from)) continue;
        size_t len;
        char *buf = ic_read_file(from, &len, err);
        if (!buf) return -1;
        int rc = ic_write_file_atomic(to, buf, len, err);
        free(buf);
        if (rc) return -1;
    }
    return 0;
}
