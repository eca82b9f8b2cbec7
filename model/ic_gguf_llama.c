/* GGUF -> Hugging Face Llama: tensor names and the tokenizer arrays. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ic_gguf.h"

typedef struct { const char *gguf, *hf; ic_gguf_role role; } name_map;

/* Per-layer names (llama.cpp's tensor name table for LLM_ARCH_LLAMA). */
static const name_map layer_names[] = {
    {"attn_q", "self_attn.q_proj", IC_GGUF_ROLE_Q},
    {"attn_k", "self_attn.k_proj", IC_GGUF_ROLE_K},
    {"attn_v", "self_attn.v_proj", IC_GGUF_ROLE_OTHER},
    {"attn_output", "self_attn.o_proj", IC_GGUF_ROLE_OTHER},
    {"ffn_gate", "mlp.gate_proj", IC_GGUF_ROLE_OTHER},
    {"ffn_up", "mlp.up_proj", IC_GGUF_ROLE_OTHER},
    {"ffn_down", "mlp.down_proj", IC_GGUF_ROLE_OTHER},
    {"attn_norm", "input_layernorm", IC_GGUF_ROLE_OTHER},
    {"ffn_norm", "post_attention_layernorm", IC_GGUF_ROLE_OTHER},
};

static const name_map global_names[] = {
    {"token_embd.weight", "model.embed_tokens.weight", IC_GGUF_ROLE_OTHER},
    {"output_norm.weight", "model.norm.weight", IC_GGUF_ROLE_OTHER},
    {"output.weight", "lm_head.weight", IC_GGUF_ROLE_OTHER},
};

int ic_gguf_llama_hf_name(const char *name, char *out, size_t out_size, ic_gguf_role *role) {
    *role = IC_GGUF_ROLE_OTHER;
    for (size_t i = 0; i < sizeof global_names / sizeof global_names[0]; i++)
        if (!strcmp(name, global_names[i].gguf)) {
            int n = snprintf(out, out_size, "%s", global_names[i].hf);
            return n < 0 || (size_t)n >= out_size ? -1 : 0;
        }
    /* blk.<N>.<part>.<weight|bias> */
    if (strncmp(name, "blk.", 4)) return -1;
    const char *p = name + 4;
    char *end;
    if (*p < '0' || *p > '9') return -1;
    long layer = strtol(p, &end, 10);
    if (*end != '.' || layer < 0 || layer > 100000) return -1;
    const char *part = end + 1;
    const char *suffix = strrchr(part, '.');
    if (!suffix || (strcmp(suffix, ".weight") && strcmp(suffix, ".bias"))) return -1;
    size_t part_len = (size_t)(suffix - part);
    for (size_t i = 0; i < sizeof layer_names / sizeof layer_names[0]; i++) {
        if (strlen(layer_names[i].gguf) != part_len || strncmp(part, layer_names[i].gguf, part_len)) continue;
        int n = snprintf(out, out_size, "model.layers.%ld.%s%s", layer, layer_names[i].hf, suffix);
        if (n < 0 || (size_t)n >= out_size) return -1;
        *role = layer_names[i].role;
        return 0;
    }
    return -1;
}

/* ---- tokenizer ------------------------------------------------------------- */

void ic_gguf_tokenizer_free(ic_gguf_tokenizer *tok) {
    if (!tok) return;
    for (int64_t i = 0; tok->tokens && i < tok->n_tokens; i++) free(tok->tokens[i]);
    for (int64_t i = 0; tok->merges && i < tok->n_merges; i++) free(tok->merges[i]);
    free(tok->tokens);
    free(tok->merges);
    free(tok->token_type);
    free(tok->model);
    free(tok->pre);
    memset(tok, 0, sizeof *tok);
}

/* A string array out of the metadata into NUL-terminated copies. */
static int copy_str_array(const ic_gguf *g, const char *key, char ***out, int64_t *n_out, ic_error *err) {
    const ic_gguf_kv *kv = ic_gguf_find_kv(g, key);
    if (!kv) return ic_error_set(err, "%s: metadata key '%s' is missing", g->path, key);
    if (kv->type != IC_GGUF_ARRAY || kv->arr_type != IC_GGUF_STRING)
        return ic_error_set(err, "%s: metadata key '%s' is not an array of strings", g->path, key);
    char **a = calloc(kv->arr_n ? kv->arr_n : 1, sizeof *a);
    if (!a) return ic_error_set(err, "%s: out of memory reading '%s'", g->path, key);
    *out = a;
    *n_out = (int64_t)kv->arr_n;
    for (uint64_t i = 0; i < kv->arr_n; i++) {
        if (memchr(kv->arr_strs[i].ptr, '\0', kv->arr_strs[i].len))
            return ic_error_set(err, "%s: '%s'[%llu] contains a NUL byte", g->path, key, (unsigned long long)i);
        if (!(a[i] = ic_gguf_strdup(kv->arr_strs[i])))
            return ic_error_set(err, "%s: out of memory reading '%s'", g->path, key);
    }
    return 0;
}

/* An optional token id: -1 when absent, an error when out of range. */
static int opt_id(const ic_gguf *g, const char *key, int64_t n_tokens, int64_t *out, ic_error *err) {
    *out = -1;
    if (!ic_gguf_find_kv(g, key)) return 0;
    uint64_t v;
    if (ic_gguf_get_u64(g, key, &v, err)) return -1;
    if (v >= (uint64_t)n_tokens)
        return ic_error_set(err, "%s: %s = %llu is outside the vocabulary (%lld tokens)", g->path, key,
                            (unsigned long long)v, (long long)n_tokens);
    *out = (int64_t)v;
    return 0;
}

static int opt_bool(const ic_gguf *g, const char *key, int *out, ic_error *err) {
    *out = 0;
    return ic_gguf_find_kv(g, key) ? ic_gguf_get_bool(g, key, out, err) : 0;
}

static int tokenizer_load(ic_gguf_tokenizer *tok, const ic_gguf *g, ic_error *err) {
    ic_gguf_str s;
    if (ic_gguf_get_str(g, "tokenizer.ggml.model", &s, err)) return -1;
    if (!(tok->model = ic_gguf_strdup(s))) return ic_error_set(err, "out of memory");
    if (ic_gguf_find_kv(g, "tokenizer.ggml.pre")) {
        if (ic_gguf_get_str(g, "tokenizer.ggml.pre", &s, err)) return -1;
        tok->pre = ic_gguf_strdup(s);
    } else {
        tok->pre = calloc(1, 1);
    }
    if (!tok->pre) return ic_error_set(err, "out of memory");

    if (copy_str_array(g, "tokenizer.ggml.tokens", &tok->tokens, &tok->n_tokens, err)) return -1;
    if (tok->n_tokens < 1 || tok->n_tokens > INT32_MAX)
        return ic_error_set(err, "%s: tokenizer.ggml.tokens has %lld entries", g->path, (long long)tok->n_tokens);
    if (ic_gguf_find_kv(g, "tokenizer.ggml.merges")) {
        if (copy_str_array(g, "tokenizer.ggml.merges", &tok->merges, &tok->n_merges, err)) return -1;
    }

    tok->token_type = malloc((size_t)tok->n_tokens * sizeof *tok->token_type);
    if (!tok->token_type) return ic_error_set(err, "out of memory");
    const ic_gguf_kv *tt = ic_gguf_find_kv(g, "tokenizer.ggml.token_type");
    if (tt) {
        if (tt->type != IC_GGUF_ARRAY || (tt->arr_type != IC_GGUF_INT32 && tt->arr_type != IC_GGUF_UINT32))
            return ic_error_set(err, "%s: tokenizer.ggml.token_type is not an int32 array", g->path);
        if ((int64_t)tt->arr_n != tok->n_tokens)
            return ic_error_set(err, "%s: tokenizer.ggml.token_type has %llu entries but there are %lld tokens",
                                g->path, (unsigned long long)tt->arr_n, (long long)tok->n_tokens);
        for (int64_t i = 0; i < tok->n_tokens; i++) {
            int64_t v = ic_gguf_arr_i64(tt, (uint64_t)i);
            if (v < 0 || v > 6)
                return ic_error_set(err, "%s: tokenizer.ggml.token_type[%lld] = %lld is not a token type",
                                    g->path, (long long)i, (long long)v);
            tok->token_type[i] = (int32_t)v;
        }
    } else {
        for (int64_t i = 0; i < tok->n_tokens; i++) tok->token_type[i] = IC_GGUF_TOKEN_NORMAL;
    }

    if (opt_id(g, "tokenizer.ggml.bos_token_id", tok->n_tokens, &tok->bos_id, err) ||
        opt_id(g, "tokenizer.ggml.eos_token_id", tok->n_tokens, &tok->eos_id, err) ||
        opt_id(g, "tokenizer.ggml.unknown_token_id", tok->n_tokens, &tok->unk_id, err) ||
        opt_id(g, "tokenizer.ggml.padding_token_id", tok->n_tokens, &tok->pad_id, err) ||
        opt_bool(g, "tokenizer.ggml.add_bos_token", &tok->add_bos, err) ||
        opt_bool(g, "tokenizer.ggml.add_eos_token", &tok->add_eos, err))
        return -1;
    return 0;
}

int ic_gguf_tokenizer_load(ic_gguf_tokenizer *tok, const ic_gguf *g, ic_error *err) {
    memset(tok, 0, sizeof *tok);
    if (tokenizer_load(tok, g, err)) {
        ic_gguf_tokenizer_free(tok);
        return -1;
    }
    return 0;
}
