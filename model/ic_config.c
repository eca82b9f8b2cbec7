/* config.json <-> ic_config. Key names and defaults follow transformers'
 * LlamaConfig / MistralConfig / Qwen2Config, so a config written by
 * transformers loads here and ours loads there. */
#include "ic_config.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ic_config_json.h"
#include "ic_fs.h"

void ic_config_set_indexer_defaults(ic_config *cfg) {
    cfg->has_indexer_config = 1;
    cfg->index_n_heads = 16;
    cfg->index_head_dim = 64;
    cfg->index_rope_dim = cfg->index_head_dim / 2;
    cfg->index_topk = 256;
}

typedef struct { const char *arch, *model_type; ic_arch id; } arch_name;
static const arch_name arch_names[] = {
    {"LlamaForCausalLM", "llama", IC_ARCH_LLAMA},
    {"MistralForCausalLM", "mistral", IC_ARCH_MISTRAL},
    {"Qwen2ForCausalLM", "qwen2", IC_ARCH_QWEN2},
};
#define N_ARCH ((int)(sizeof arch_names / sizeof arch_names[0]))

static int parse_arch(json_t *root, const char *path, ic_arch *out, ic_error *err) {
    json_t *archs = json_object_get(root, "architectures");
    json_t *mt = json_object_get(root, "model_type");
    const char *name = NULL;
    if (json_is_array(archs) && json_array_size(archs) > 0) {
        if (json_array_size(archs) > 1)
            return ic_error_set(err, "%s: \"architectures\" lists %zu architectures; one is expected", path,
                                json_array_size(archs));
        name = json_string_value(json_array_get(archs, 0));
        if (!name) return ic_error_set(err, "%s: \"architectures\"[0] is not a string", path);
        for (int i = 0; i < N_ARCH; i++)
            if (!strcmp(name, arch_names[i].arch)) { *out = arch_names[i].id; return 0; }
    } else if (json_is_string(mt)) {
        name = json_string_value(mt);
        for (int i = 0; i < N_ARCH; i++)
            if (!strcmp(name, arch_names[i].model_type)) { *out = arch_names[i].id; return 0; }
    } else {
        return ic_error_set(err, "%s: neither \"architectures\" nor \"model_type\" says which model this is", path);
    }
    return ic_error_set(err, "%s: architecture '%s' is not supported (LlamaForCausalLM, MistralForCausalLM and "
                             "Qwen2ForCausalLM are)", path, name);
}

/* Integer key: absent/null -> def (or an error when required). */
static int get_int(json_t *root, const char *path, const char *key, int required, long long def, long long lo,
                   long long hi, int *out, ic_error *err) {
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) {
        if (required) return ic_error_set(err, "%s: required key \"%s\" is missing", path, key);
        *out = (int)def;
        return 0;
    }
    if (!json_is_integer(v)) return ic_error_set(err, "%s: \"%s\" must be an integer", path, key);
    long long x = json_integer_value(v);
    if (x < lo || x > hi)
        return ic_error_set(err, "%s: \"%s\" = %lld is out of range [%lld, %lld]", path, key, x, lo, hi);
    *out = (int)x;
    return 0;
}

static int get_float(json_t *root, const char *path, const char *key, double def, double lo, double hi,
                     float *out, ic_error *err) {
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) { *out = (float)def; return 0; }
    if (!json_is_number(v)) return ic_error_set(err, "%s: \"%s\" must be a number", path, key);
    double x = json_number_value(v);
    if (!(x > lo && x <= hi)) return ic_error_set(err, "%s: \"%s\" = %g is out of range (%g, %g]", path, key, x, lo, hi);
    *out = (float)x;
    return 0;
}

static int get_bool(json_t *root, const char *path, const char *key, int def, int *out, ic_error *err) {
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) { *out = def; return 0; }
    if (!json_is_boolean(v)) return ic_error_set(err, "%s: \"%s\" must be true or false", path, key);
    *out = json_is_true(v);
    return 0;
}

/* bos/eos: an int, null, or (Llama 3) a list whose first id we keep. */
static int get_token_id(json_t *root, const char *path, const char *key, int vocab, int *out, ic_error *err) {
    json_t *v = json_object_get(root, key);
    *out = -1;
    if (json_is_array(v) && json_array_size(v) > 0) v = json_array_get(v, 0);
    if (!v || json_is_null(v) || json_is_array(v)) return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= vocab)
        return ic_error_set(err, "%s: \"%s\" must be a token id in [0, %d)", path, key, vocab);
    *out = (int)json_integer_value(v);
    return 0;
}

static int check_pattern(const char *p, int n_layers, const char *path, ic_error *err) {
    size_t n = strlen(p);
    if (n == 0) return 0;
    if ((int)n != n_layers)
        return ic_error_set(err, "%s: \"index_topk_pattern\" has %zu characters but the model has %d layers", path,
                            n, n_layers);
    if (p[0] != 'F') return ic_error_set(err, "%s: \"index_topk_pattern\" must start with F (layer 0 keeps its indexer)", path);
    for (size_t i = 0; i < n; i++)
        if (p[i] != 'F' && p[i] != 'S')
            return ic_error_set(err, "%s: \"index_topk_pattern\" character %zu is '%c'; only F and S are allowed", path,
                                i, p[i]);
    return 0;
}

static int load_indexer(ic_config *c, json_t *root, const char *path, ic_error *err) {
    static const char *const keys[] = {"index_n_heads", "index_head_dim", "index_topk", "index_rope_dim",
                                       "use_index_cache", "index_topk_pattern", "indexer_types",
                                       "index_topk_freq", "index_skip_topk_offset"};
    c->has_indexer_config = 0;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (json_object_get(root, keys[i])) c->has_indexer_config = 1;
    if (!c->has_indexer_config) return 0;
    int interleave = 0;
    if (get_int(root, path, "index_n_heads", 1, 0, 1, 1 << 16, &c->index_n_heads, err) ||
        get_int(root, path, "index_head_dim", 1, 0, 2, 1 << 16, &c->index_head_dim, err) ||
        get_int(root, path, "index_topk", 1, 0, 1, 1 << 30, &c->index_topk, err) ||
        get_int(root, path, "index_rope_dim", 0, c->index_head_dim / 2, 0, c->index_head_dim, &c->index_rope_dim,
                err) ||
        get_bool(root, path, "use_index_cache", 0, &c->use_index_cache, err) ||
        get_bool(root, path, "indexer_rope_interleave", 0, &interleave, err))
        return -1;
    if (c->index_rope_dim % 2)
        return ic_error_set(err, "%s: \"index_rope_dim\" = %d must be even (RoPE rotates pairs)", path,
                            c->index_rope_dim);
    if (interleave)
        return ic_error_set(err, "%s: \"indexer_rope_interleave\" = true (GLM-style interleaved pairs); our "
                            "indexer's RoPE is half-split (NeoX), so these weights would score wrongly", path);
    return ic_config_load_pattern(c, root, path, err);
}

static int load_root(ic_config *c, json_t *root, const char *path, ic_error *err) {
    if (!json_is_object(root)) return ic_error_set(err, "%s: not a JSON object", path);
    if (parse_arch(root, path, &c->arch, err)) return -1;
    const int big = 1 << 30;
    if (get_int(root, path, "vocab_size", 1, 0, 1, big, &c->vocab_size, err) ||
        get_int(root, path, "hidden_size", 1, 0, 1, big, &c->hidden_size, err) ||
        get_int(root, path, "intermediate_size", 1, 0, 1, big, &c->intermediate_size, err) ||
        get_int(root, path, "num_hidden_layers", 1, 0, 1, IC_MAX_LAYERS, &c->n_layers, err) ||
        get_int(root, path, "num_attention_heads", 1, 0, 1, 1 << 16, &c->n_heads, err) ||
        get_int(root, path, "num_key_value_heads", 0, c->n_heads, 1, c->n_heads, &c->n_kv_heads, err))
        return -1;
    if (c->n_heads % c->n_kv_heads)
        return ic_error_set(err, "%s: num_attention_heads = %d is not a multiple of num_key_value_heads = %d", path,
                            c->n_heads, c->n_kv_heads);
    json_t *hd = json_object_get(root, "head_dim");
    if ((!hd || json_is_null(hd)) && c->hidden_size % c->n_heads)
        return ic_error_set(err, "%s: no \"head_dim\" and hidden_size = %d is not a multiple of num_attention_heads = %d",
                            path, c->hidden_size, c->n_heads);
    if (get_int(root, path, "head_dim", 0, c->hidden_size / c->n_heads, 2, 1 << 16, &c->head_dim, err)) return -1;
    if (c->head_dim % 2) return ic_error_set(err, "%s: head_dim = %d must be even (RoPE rotates pairs)", path, c->head_dim);
    if (get_float(root, path, "rope_theta", 10000.0, 0.0, 1e12, &c->rope_theta, err) ||
        get_float(root, path, "rms_norm_eps", 1e-6, 0.0, 1.0, &c->rms_norm_eps, err) ||
        get_int(root, path, "max_position_embeddings", 0, 2048, 1, big, &c->max_position_embeddings, err) ||
        get_bool(root, path, "tie_word_embeddings", 0, &c->tie_word_embeddings, err) ||
        get_token_id(root, path, "bos_token_id", c->vocab_size, &c->bos_token_id, err) ||
        get_token_id(root, path, "eos_token_id", c->vocab_size, &c->eos_token_id, err))
        return -1;

    /* What our teacher does not compute is refused, not silently dropped. */
    json_t *act = json_object_get(root, "hidden_act");
    if (act && !(json_is_string(act) && !strcmp(json_string_value(act), "silu")))
        return ic_error_set(err, "%s: hidden_act must be \"silu\" (SwiGLU); other activations are not supported", path);
    json_t *rs = json_object_get(root, "rope_scaling");
    if (rs && !json_is_null(rs))
        return ic_error_set(err, "%s: rope_scaling is set; only plain RoPE is supported", path);
    int mlp_bias = 0;
    if (get_bool(root, path, "mlp_bias", 0, &mlp_bias, err)) return -1;
    if (mlp_bias) return ic_error_set(err, "%s: mlp_bias = true is not supported", path);
    if (c->arch == IC_ARCH_QWEN2) {
        c->attention_bias = 1;   /* Qwen2 always has q/k/v bias (and none on o_proj) */
    } else {
        int ab = 0;
        if (get_bool(root, path, "attention_bias", 0, &ab, err)) return -1;
        if (ab)
            return ic_error_set(err, "%s: attention_bias = true for %s adds an o_proj bias, which is not supported",
                                path, c->arch == IC_ARCH_LLAMA ? "Llama" : "Mistral");
        c->attention_bias = 0;
    }
    return load_indexer(c, root, path, err);
}

int ic_config_load(ic_config *cfg, const char *path, ic_error *err) {
    if (!ic_path_exists(path)) return ic_error_set(err, "%s: no such file", path);
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return ic_error_set(err, "%s: invalid JSON at line %d column %d: %s", path, je.line, je.column, je.text);
    ic_config c;
    memset(&c, 0, sizeof c);
    int rc = load_root(&c, root, path, err);
    json_decref(root);
    if (rc == 0) *cfg = c;
    return rc;
}

/* The shortest decimal that reads back as the same float, so 1e-5f is
 * written 1e-05 and not 9.9999997e-06. */
static json_t *json_float(float x) {
    char buf[32];
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)x);
        if (strtof(buf, NULL) == x) break;
    }
    return json_real(strtod(buf, NULL));
}

static int arch_index(ic_arch a) {
    for (int i = 0; i < N_ARCH; i++)
        if (arch_names[i].id == a) return i;
    return 0;
}

json_t *ic_config_to_json(const ic_config *c) {
    const arch_name *an = &arch_names[arch_index(c->arch)];
    json_t *o = json_object();
    json_object_set_new(o, "architectures", json_pack("[s]", an->arch));
    json_object_set_new(o, "model_type", json_string(an->model_type));
    json_object_set_new(o, "vocab_size", json_integer(c->vocab_size));
    json_object_set_new(o, "hidden_size", json_integer(c->hidden_size));
    json_object_set_new(o, "intermediate_size", json_integer(c->intermediate_size));
    json_object_set_new(o, "num_hidden_layers", json_integer(c->n_layers));
    json_object_set_new(o, "num_attention_heads", json_integer(c->n_heads));
    json_object_set_new(o, "num_key_value_heads", json_integer(c->n_kv_heads));
    json_object_set_new(o, "head_dim", json_integer(c->head_dim));
    json_object_set_new(o, "hidden_act", json_string("silu"));
    json_object_set_new(o, "max_position_embeddings", json_integer(c->max_position_embeddings));
    json_object_set_new(o, "rms_norm_eps", json_float(c->rms_norm_eps));
    json_object_set_new(o, "rope_theta", json_float(c->rope_theta));
    json_object_set_new(o, "rope_scaling", json_null());
    json_object_set_new(o, "tie_word_embeddings", json_boolean(c->tie_word_embeddings));
    if (c->arch != IC_ARCH_QWEN2) {
        json_object_set_new(o, "attention_bias", json_false());
        json_object_set_new(o, "mlp_bias", json_false());
    }
    json_object_set_new(o, "bos_token_id", c->bos_token_id >= 0 ? json_integer(c->bos_token_id) : json_null());
    json_object_set_new(o, "eos_token_id", c->eos_token_id >= 0 ? json_integer(c->eos_token_id) : json_null());
    if (c->has_indexer_config) {
        json_object_set_new(o, "index_n_heads", json_integer(c->index_n_heads));
        json_object_set_new(o, "index_head_dim", json_integer(c->index_head_dim));
        json_object_set_new(o, "index_topk", json_integer(c->index_topk));
        json_object_set_new(o, "index_rope_dim", json_integer(c->index_rope_dim));
        json_object_set_new(o, "use_index_cache", json_boolean(c->use_index_cache));
        /* half-split (NeoX) RoPE in the indexer, where GLM-5.2 interleaves:
         * engines read this key to pick the rotation */
        json_object_set_new(o, "indexer_rope_interleave", json_false());
        ic_config_pattern_to_json(c, o);
    }
    return o;
}

int ic_config_json_save(json_t *o, const char *path, ic_error *err) {
    /* 15 significant digits print the doubles made by json_float as their
     * short decimal (jansson's default of 17 would not). */
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
    if (!s) return ic_error_set(err, "%s: cannot serialise the config", path);
    size_t n = strlen(s);
    s[n] = '\n';   /* replaces the NUL: files end with a newline */
    int rc = ic_write_file_atomic(path, s, n + 1, err);
    free(s);
    return rc;
}

int ic_config_save(const ic_config *cfg, const char *path, ic_error *err) {
    if (cfg->n_layers < 1 || cfg->n_layers > IC_MAX_LAYERS || cfg->hidden_size < 1 || cfg->n_heads < 1 ||
        cfg->n_kv_heads < 1 || cfg->vocab_size < 1)
        return ic_error_set(err, "%s: refusing to save an incomplete config (layers %d, hidden %d, heads %d/%d, vocab %d)",
                            path, cfg->n_layers, cfg->hidden_size, cfg->n_heads, cfg->n_kv_heads, cfg->vocab_size);
    if (cfg->has_indexer_config && check_pattern(cfg->index_topk_pattern, cfg->n_layers, path, err)) return -1;
    json_t *o = ic_config_to_json(cfg);
    if (!o) return ic_error_set(err, "%s: out of memory", path);
    int rc = ic_config_json_save(o, path, err);
    json_decref(o);
    return rc;
}
