/* indexcache import: GGUF / HF dir -> model dir. The GGUF path dequantises
 * every tensor to f32, undoes llama.cpp's q/k row permutation, renames it to
 * HF and stores it as bf16 or f32; the HF path re-stores the teacher
 * tensors of a Llama/Mistral/Qwen2 dir. Both write into a staging dir
 * (<out>.tmp.<pid>) that is renamed into place at the end. */
#include "ic_import.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ic_alloc.h"
#include "ic_config_json.h"
#include "ic_fs.h"
#include "ic_half.h"
#include "ic_log.h"
#include "ic_safetensors.h"


/* dir/name into buf; the caller has bounded dir's length, so a truncation
 * here is a programming error and only shortens the name. */
static const char *join(char *buf, size_t n, const char *dir, const char *name) {
    if ((size_t)snprintf(buf, n, "%s/%s", dir, name) >= n) buf[0] = '\0';
    return buf;
}

/* ---- config from GGUF metadata -------------------------------------------- */

static int meta_int(const ic_gguf *g, const char *key, int required, int def, int lo, int hi, int *out,
                    ic_error *err) {
    if (!ic_gguf_find_kv(g, key)) {
        if (required) return ic_error_set(err, "%s: metadata key '%s' is missing", g->path, key);
        *out = def;
        return 0;
    }
    int64_t v;
    if (ic_gguf_get_i64(g, key, &v, err)) return -1;
    if (v < lo || v > hi)
        return ic_error_set(err, "%s: %s = %lld is out of range [%d, %d]", g->path, key, (long long)v, lo, hi);
    *out = (int)v;
    return 0;
}

static int meta_float(const ic_gguf *g, const char *key, double def, float *out, ic_error *err) {
    double v = def;
    if (ic_gguf_find_kv(g, key) && ic_gguf_get_f64(g, key, &v, err)) return -1;
    if (!(v > 0)) return ic_error_set(err, "%s: %s = %g must be positive", g->path, key, v);
    *out = (float)v;
    return 0;
}

int ic_import_config_from_gguf(const ic_gguf *g, ic_config *cfg, ic_error *err) {
    ic_gguf_str arch;
    if (ic_gguf_get_str(g, "general.architecture", &arch, err)) return -1;
    if (arch.len != 5 || memcmp(arch.ptr, "llama", 5))
        return ic_error_set(err, "%s: GGUF architecture '%.*s' is not supported (only llama)", g->path,
                            (int)(arch.len > 64 ? 64 : arch.len), arch.ptr);
    ic_config c;
    memset(&c, 0, sizeof c);
    c.arch = IC_ARCH_LLAMA;
    const int big = 1 << 30;
    if (meta_int(g, "llama.block_count", 1, 0, 1, IC_MAX_LAYERS, &c.n_layers, err) ||
        meta_int(g, "llama.embedding_length", 1, 0, 1, big, &c.hidden_size, err) ||
        meta_int(g, "llama.feed_forward_length", 1, 0, 1, big, &c.intermediate_size, err) ||
        meta_int(g, "llama.attention.head_count", 1, 0, 1, 1 << 16, &c.n_heads, err) ||
        meta_int(g, "llama.attention.head_count_kv", 0, c.n_heads, 1, c.n_heads, &c.n_kv_heads, err) ||
        meta_int(g, "llama.context_length", 1, 0, 1, big, &c.max_position_embeddings, err) ||
        meta_float(g, "llama.rope.freq_base", 10000.0, &c.rope_theta, err) ||
        meta_float(g, "llama.attention.layer_norm_rms_epsilon", 1e-5, &c.rms_norm_eps, err))
        return -1;
    if (c.n_heads % c.n_kv_heads)
        return ic_error_set(err, "%s: head_count %d is not a multiple of head_count_kv %d", g->path, c.n_heads,
                            c.n_kv_heads);
    int def_hd = c.hidden_size % c.n_heads ? 0 : c.hidden_size / c.n_heads;
    int kl, vl, rd;
    if (meta_int(g, "llama.attention.key_length", def_hd == 0, def_hd, 2, 1 << 16, &kl, err) ||
        meta_int(g, "llama.attention.value_length", 0, kl, 2, 1 << 16, &vl, err) ||
        meta_int(g, "llama.rope.dimension_count", 0, kl, 2, 1 << 16, &rd, err))
        return -1;
    if (kl != vl || rd != kl || kl % 2)
        return ic_error_set(err, "%s: key_length %d, value_length %d and rope.dimension_count %d must be one even "
                                 "head dim (partial RoPE is not supported)", g->path, kl, vl, rd);
    c.head_dim = kl;
    const ic_gguf_kv *rs = ic_gguf_find_kv(g, "llama.rope.scaling.type");
    if (rs && !(rs->type == IC_GGUF_STRING && rs->str.len == 4 && !memcmp(rs->str.ptr, "none", 4)))
        return ic_error_set(err, "%s: llama.rope.scaling.type is set; only plain RoPE is supported", g->path);

    const ic_gguf_tensor *emb = ic_gguf_find_tensor(g, "token_embd.weight");
    if (!emb || emb->n_dims != 2)
        return ic_error_set(err, "%s: token_embd.weight is missing or not 2-D", g->path);
    const ic_gguf_kv *toks = ic_gguf_find_kv(g, "tokenizer.ggml.tokens");
    int64_t vocab = emb->shape[0];
    if (ic_gguf_find_kv(g, "llama.vocab_size") && meta_int(g, "llama.vocab_size", 1, 0, 1, big, &c.vocab_size, err))
        return -1;
    if (c.vocab_size && c.vocab_size != vocab)
        return ic_error_set(err, "%s: llama.vocab_size %d but token_embd.weight has %lld rows", g->path,
                            c.vocab_size, (long long)vocab);
    if (toks && toks->type == IC_GGUF_ARRAY && (int64_t)toks->arr_n != vocab)
        return ic_error_set(err, "%s: %llu tokens in tokenizer.ggml.tokens but token_embd.weight has %lld rows",
                            g->path, (unsigned long long)toks->arr_n, (long long)vocab);
    if (vocab > big) return ic_error_set(err, "%s: vocabulary of %lld is too large", g->path, (long long)vocab);
    c.vocab_size = (int)vocab;
    c.tie_word_embeddings = ic_gguf_find_tensor(g, "output.weight") == NULL;
    c.bos_token_id = c.eos_token_id = -1;
    int id;
    if (meta_int(g, "tokenizer.ggml.bos_token_id", 0, -1, 0, c.vocab_size - 1, &id, err)) return -1;
    c.bos_token_id = id;
    if (meta_int(g, "tokenizer.ggml.eos_token_id", 0, -1, 0, c.vocab_size - 1, &id, err)) return -1;
    c.eos_token_id = id;
    *cfg = c;
    return 0;
}

int ic_import_expected_shape(const ic_config *c, const char *name, int64_t shape[2], int *ndim) {
    int64_t D = c->hidden_size, F = c->intermediate_size, qd = (int64_t)c->n_heads * c->head_dim,
            kvd = (int64_t)c->n_kv_heads * c->head_dim;
    if (!strcmp(name, "model.embed_tokens.weight") || (!strcmp(name, "lm_head.weight") && !c->tie_word_embeddings)) {
        shape[0] = c->vocab_size, shape[1] = D, *ndim = 2;
        return 0;
    }
    if (!strcmp(name, "model.norm.weight")) { shape[0] = D, *ndim = 1; return 0; }
    int layer, off = 0;
    if (sscanf(name, "model.layers.%d.%n", &layer, &off) != 1 || off == 0 || layer < 0 || layer >= c->n_layers)
        return -1;
    char expect[64];
    snprintf(expect, sizeof expect, "model.layers.%d.", layer);   /* reject "model.layers.+3." and "03" */
    if (strncmp(name, expect, strlen(expect))) return -1;
    const char *p = name + off;
    struct { const char *n; int64_t r, k; } mats[] = {
        {"self_attn.q_proj.weight", qd, D}, {"self_attn.k_proj.weight", kvd, D},
        {"self_attn.v_proj.weight", kvd, D}, {"self_attn.o_proj.weight", D, qd},
        {"mlp.gate_proj.weight", F, D},      {"mlp.up_proj.weight", F, D},
        {"mlp.down_proj.weight", D, F},      {"input_layernorm.weight", D, 0},
        {"post_attention_layernorm.weight", D, 0},
        {"self_attn.q_proj.bias", c->attention_bias ? qd : -1, 0},
        {"self_attn.k_proj.bias", c->attention_bias ? kvd : -1, 0},
        {"self_attn.v_proj.bias", c->attention_bias ? kvd : -1, 0},
    };
    for (size_t i = 0; i < sizeof mats / sizeof mats[0]; i++)
        if (!strcmp(p, mats[i].n)) {
            if (mats[i].r < 0) return -1;
            shape[0] = mats[i].r, shape[1] = mats[i].k, *ndim = mats[i].k ? 2 : 1;
            return 0;
        }
    return -1;
}

/* ---- GGUF tensors ----------------------------------------------------------- */

typedef struct {
    ic_st_tensor_in *in;   /* [n] */
    char **names;          /* [n] owned */
    int64_t (*shapes)[2];  /* [n] */
    void **bufs;           /* [n] owned */
    int n;
} tensor_set;

static void tensor_set_free(tensor_set *ts, int n_alloc) {
    for (int i = 0; i < n_alloc; i++) {
        if (ts->names) free(ts->names[i]);
        if (ts->bufs) ic_aligned_free(ts->bufs[i]);
    }
    free(ts->in); free(ts->names); free(ts->shapes); free(ts->bufs);
    memset(ts, 0, sizeof *ts);
}

static int tensor_set_init(tensor_set *ts, int n) {
    memset(ts, 0, sizeof *ts);
    ts->in = calloc((size_t)n, sizeof *ts->in);
    ts->names = calloc((size_t)n, sizeof *ts->names);
    ts->shapes = calloc((size_t)n, sizeof *ts->shapes);
    ts->bufs = calloc((size_t)n, sizeof *ts->bufs);
    return ts->in && ts->names && ts->shapes && ts->bufs ? 0 : -1;
}

/* f32 -> stored dtype in place: bf16 i lands on bytes [2i, 2i+2), which
 * only ever overlap floats already converted. Byte copies keep it free of
 * type-punning. */
static void store_dtype(float *x, int64_t n, ic_dtype dt) {
    if (dt != IC_BF16) return;
    unsigned char *b = (unsigned char *)x;
    for (int64_t i = 0; i < n; i++) {
        float v;
        memcpy(&v, b + 4 * i, 4);
        uint16_t h = ic_f32_to_bf16(v);
        memcpy(b + 2 * i, &h, 2);
    }
}

static int gguf_tensor_out(const ic_gguf *g, const ic_config *c, const ic_gguf_tensor *t, ic_dtype dt,
                           tensor_set *ts, ic_error *err) {
    char hf[256];
    ic_gguf_role role;
    if (ic_gguf_llama_hf_name(t->name, hf, sizeof hf, &role))
        return ic_error_set(err, "%s: tensor '%s' has no Hugging Face Llama counterpart (not supported)", g->path,
                            t->name);
    int64_t shape[2];
    int ndim;
    if (ic_import_expected_shape(c, hf, shape, &ndim))
        return ic_error_set(err, "%s: tensor '%s' (%s) does not belong to a %d-layer Llama", g->path, t->name, hf,
                            c->n_layers);
    if ((int)t->n_dims != ndim || t->shape[0] != shape[0] || (ndim == 2 && t->shape[1] != shape[1]))
        return ic_error_set(err, "%s: tensor '%s' has shape [%lld, %lld] (numpy order), expected [%lld, %lld]",
                            g->path, t->name, (long long)t->shape[0], (long long)(t->n_dims > 1 ? t->shape[1] : 0),
                            (long long)shape[0], (long long)(ndim == 2 ? shape[1] : 0));
    int k = ts->n;
    float *x = ic_aligned_alloc((size_t)t->n_elems * sizeof(float));
    if (!x) return ic_error_set(err, "%s: out of memory for tensor '%s'", g->path, t->name);
    ts->bufs[k] = x;
    if (!(ts->names[k] = strdup(hf))) return ic_error_set(err, "out of memory");
    ts->n++;
    if (ic_gguf_tensor_to_f32(g, t, x, err)) return -1;
    if (role != IC_GGUF_ROLE_OTHER) {
        float *y = ic_aligned_alloc((size_t)t->n_elems * sizeof(float));
        if (!y) return ic_error_set(err, "%s: out of memory for tensor '%s'", g->path, t->name);
        int64_t heads = role == IC_GGUF_ROLE_Q ? c->n_heads : c->n_kv_heads;
        ic_gguf_unpermute_qk(x, y, heads, c->head_dim, ndim == 2 ? shape[1] : 1);
        ic_aligned_free(x);
        ts->bufs[k] = x = y;
    }
    store_dtype(x, t->n_elems, dt);
    ts->shapes[k][0] = shape[0];
    ts->shapes[k][1] = shape[1];
    ts->in[k] = (ic_st_tensor_in){ts->names[k], dt == IC_BF16 ? IC_ST_BF16 : IC_ST_F32, ndim, ts->shapes[k], x};
    return 0;
}

/* Every tensor the config implies must be present (the mapping check above
 * already refused extras). */
static int check_complete(const ic_config *c, const tensor_set *ts, const char *src, ic_error *err) {
    char name[128];
    const char *per_layer[] = {"self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight",
                               "self_attn.o_proj.weight", "mlp.gate_proj.weight", "mlp.up_proj.weight",
                               "mlp.down_proj.weight", "input_layernorm.weight",
                               "post_attention_layernorm.weight", "self_attn.q_proj.bias",
                               "self_attn.k_proj.bias", "self_attn.v_proj.bias"};
    int n_per_layer = c->attention_bias ? 12 : 9;
    int expected = 2 + !c->tie_word_embeddings + c->n_layers * n_per_layer;
    for (int l = -1; l < c->n_layers; l++)
        for (int j = 0; j < (l < 0 ? 3 : n_per_layer); j++) {
            if (l < 0) {
                const char *g[] = {"model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"};
                if (j == 2 && c->tie_word_embeddings) continue;
                snprintf(name, sizeof name, "%s", g[j]);
            } else {
                snprintf(name, sizeof name, "model.layers.%d.%s", l, per_layer[j]);
            }
            int found = 0;
            for (int i = 0; i < ts->n && !found; i++) found = !strcmp(ts->names[i], name);
            if (!found) return ic_error_set(err, "%s: tensor %s is missing", src, name);
        }
    if (ts->n != expected)
        return ic_error_set(err, "%s: %d tensors where the config implies %d", src, ts->n, expected);
    return 0;
}

static int write_config(const ic_config *cfg, ic_dtype dtype, const char *path, ic_error *err) {
    json_t *o = ic_config_to_json(cfg);
    if (!o) return ic_error_set(err, "%s: out of memory", path);
    json_object_set_new(o, "torch_dtype", json_string(dtype == IC_BF16 ? "bfloat16" : "float32"));
    int rc = ic_config_json_save(o, path, err);
    json_decref(o);
    return rc;
}

/* The files both import paths write into the staging dir once the tensors
 * are converted: model.safetensors (after checking every tensor the config
 * needs is there) and config.json. The tokenizer differs per source. */
static int write_weights_and_config(const char *stage, const char *src, const ic_config *cfg,
                                    const tensor_set *ts, ic_dtype dtype, ic_error *err) {
    char path[PATH_MAX];
    if (check_complete(cfg, ts, src, err)) return -1;
    join(path, sizeof path, stage, "model.safetensors");
    const char *meta[] = {"format", "pt"};  /* what transformers' save_pretrained writes */
    if (ic_safetensors_write(path, ts->in, ts->n, meta, 1, err)) return -1;
    join(path, sizeof path, stage, "config.json");
    return write_config(cfg, dtype, path, err);
}

static int write_json(json_t *o, const char *path, ic_error *err) {
    char *s = json_dumps(o, JSON_INDENT(2));
    if (!s) return ic_error_set(err, "%s: cannot serialise JSON", path);
    int rc = ic_write_file_atomic(path, s, strlen(s), err);
    free(s);
    return rc;
}

static int import_gguf(const char *src, const char *stage, const ic_import_opts *opts, ic_error *err) {
    ic_gguf g;
    if (ic_gguf_open(&g, src, err)) return -1;
    ic_config cfg;
    ic_gguf_tokenizer tok;
    memset(&tok, 0, sizeof tok);
    tensor_set ts;
    int n_alloc = (int)g.n_tensors, rc = -1;
    json_t *tj = NULL;
    char path[4096];
    memset(&ts, 0, sizeof ts);
    if (ic_import_config_from_gguf(&g, &cfg, err) || ic_gguf_tokenizer_load(&tok, &g, err)) goto done;
    if (!(tj = ic_hf_tokenizer_from_gguf(&tok, src, err))) goto done;
    if (tensor_set_init(&ts, n_alloc)) { ic_error_set(err, "out of memory"); n_alloc = 0; goto done_ts; }
    for (uint64_t i = 0; i < g.n_tensors; i++) {
        if (gguf_tensor_out(&g, &cfg, &g.tensors[i], opts->dtype, &ts, err)) goto done_ts;
        ic_log_debug("import: %s -> %s", g.tensors[i].name, ts.names[ts.n - 1]);
        if ((i + 1) * 4 / g.n_tensors != i * 4 / g.n_tensors)   /* a line per quarter */
            ic_log_info("import: dequantised %llu/%llu tensors", (unsigned long long)(i + 1),
                        (unsigned long long)g.n_tensors);
    }
    if (write_weights_and_config(stage, src, &cfg, &ts, opts->dtype, err)) goto done_ts;
    join(path, sizeof path, stage, "tokenizer.json");
    if (write_json(tj, path, err)) goto done_ts;
    if (ic_import_aux_from_gguf(&g, &tok, &cfg, stage, err)) goto done_ts;
    ic_log_info("import: %s: llama, %d layers, hidden %d, heads %d/%d, vocab %d, %d tensors (%s)", src, cfg.n_layers,
                cfg.hidden_size, cfg.n_heads, cfg.n_kv_heads, cfg.vocab_size, ts.n,
                opts->dtype == IC_BF16 ? "bf16" : "f32");
    rc = 0;
done_ts:
    tensor_set_free(&ts, n_alloc);
done:
    json_decref(tj);
    ic_gguf_tokenizer_free(&tok);
    ic_gguf_free(&g);
    return rc;
}

/* ---- HF dir ---------------------------------------------------------------- */

static int copy_file(const char *from, const char *to, ic_error *err) {
    size_t len;
    char *buf = ic_read_file(from, &len, err);
    if (!buf) return -1;
    int rc = ic_write_file_atomic(to, buf, len, err);
    free(buf);
    return rc;
}

static int import_hf_dir(const char *src, const char *stage, const ic_import_opts *opts, ic_error *err) {
    char path[4096], tok_src[4096];
    ic_config cfg;
    join(path, sizeof path, src, "config.json");
    if (!ic_path_exists(path))
        return ic_error_set(err, "%s: a directory without config.json is not a Hugging Face model dir", src);
    if (ic_config_load(&cfg, path, err)) return -1;
    join(tok_src, sizeof tok_src, src, "tokenizer.json");
    if (!ic_path_exists(tok_src))
        return ic_error_set(err, "%s: no tokenizer.json (the byte-level BPE tokenizer file is required)", src);
    ic_model_files mf;
    if (ic_model_files_open(&mf, src, err)) return -1;
    tensor_set ts;
    int n_alloc = mf.n_tensors, rc = -1;
    if (tensor_set_init(&ts, n_alloc ? n_alloc : 1)) {
        ic_error_set(err, "out of memory");
        goto done;
    }
    for (int i = 0; i < mf.n_tensors; i++) {
        const char *name = mf.names[i];
        const ic_safetensors *st;
        int e;
        int64_t shape[2];
        int ndim;
        if (ic_import_expected_shape(&cfg, name, shape, &ndim)) {
            /* tied checkpoints may still carry lm_head; old ones carry RoPE
             * buffers: neither is a weight of ours */
            ic_log_warn("import: %s: skipping tensor %s (not a weight of this config)", src, name);
            continue;
        }
        if (ic_model_files_find(&mf, name, &st, &e, err)) goto done;
        const ic_st_entry *en = &st->entries[e];
        if (en->ndim != ndim || en->shape[0] != shape[0] || (ndim == 2 && en->shape[1] != shape[1])) {
            ic_error_set(err, "%s: tensor %s has the wrong shape for config.json (expected [%lld%s%lld])", src, name,
                         (long long)shape[0], ndim == 2 ? ", " : "", (long long)(ndim == 2 ? shape[1] : 0));
            goto done;
        }
        int k = ts.n;
        float *x = ic_aligned_alloc((size_t)en->numel * sizeof(float));
        if (!x || !(ts.names[k] = strdup(name))) {
            ic_aligned_free(x);
            ic_error_set(err, "%s: out of memory for %s", src, name);
            goto done;
        }
        ts.bufs[k] = x;
        ts.n++;
        if (ic_safetensors_read_f32(st, e, x, en->numel, err)) goto done;
        store_dtype(x, en->numel, opts->dtype);
        ts.shapes[k][0] = shape[0];
        ts.shapes[k][1] = shape[1];
        ts.in[k] = (ic_st_tensor_in){ts.names[k], opts->dtype == IC_BF16 ? IC_ST_BF16 : IC_ST_F32, ndim,
                                     ts.shapes[k], x};
    }
    if (write_weights_and_config(stage, src, &cfg, &ts, opts->dtype, err)) goto done;
    join(path, sizeof path, stage, "tokenizer.json");
    if (copy_file(tok_src, path, err)) goto done;
    if (ic_import_aux_copy(src, stage, err)) goto done;
    ic_log_info("import: %s: %d layers, hidden %d, heads %d/%d, vocab %d, %d tensors (%s)", src, cfg.n_layers,
                cfg.hidden_size, cfg.n_heads, cfg.n_kv_heads, cfg.vocab_size, ts.n,
                opts->dtype == IC_BF16 ? "bf16" : "f32");
    rc = 0;
done:
    tensor_set_free(&ts, n_alloc);
    ic_model_files_close(&mf);
    return rc;
}

/* ---- staging and the final rename -------------------------------------------- */

static int dir_is_empty(const char *path) {
    DIR *d = opendir(path);
    if (!d) return 0;
    struct dirent *e;
    int empty = 1;
    while (empty && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) empty = 0;
    closedir(d);
    return empty;
}

static const char *const k_main_files[] = {"model.safetensors", "config.json", "tokenizer.json"};
#define N_MAIN ((int)(sizeof k_main_files / sizeof k_main_files[0]))

/* File i of everything import may write: the main files, then the side files. */
static const char *stage_file(int i) {
    return i < N_MAIN ? k_main_files[i] : ic_import_aux_files[i - N_MAIN];
}

static void remove_stage(const char *stage) {
    char p[4096];
    for (int i = 0; i < N_MAIN + IC_IMPORT_N_AUX; i++) {
        join(p, sizeof p, stage, stage_file(i));
        unlink(p);
    }
    rmdir(stage);
}

int ic_import(const char *src, const char *out, const ic_import_opts *opts, ic_error *err) {
    if (opts->dtype != IC_BF16 && opts->dtype != IC_F32)
        return ic_error_set(err, "import: --dtype must be bf16 or f32");
    int src_is_dir = ic_is_dir(src);
    if (!src_is_dir && !ic_path_exists(src)) return ic_error_set(err, "%s: no such file or directory", src);
    if (ic_path_exists(out)) {
        if (!ic_is_dir(out)) return ic_error_set(err, "%s: exists and is not a directory", out);
        if (!opts->force && !dir_is_empty(out))
            return ic_error_set(err, "%s: directory is not empty (use --force to replace its model files)", out);
    }
    char stage[4096];
    if ((size_t)snprintf(stage, sizeof stage, "%s.tmp.%ld", out, (long)getpid()) >= sizeof stage - 64)
        return ic_error_set(err, "%s: path too long", out);
    remove_stage(stage);
    if (ic_mkdir_p(stage, err)) return -1;
    int rc = src_is_dir ? import_hf_dir(src, stage, opts, err) : import_gguf(src, stage, opts, err);
    if (rc) {
        remove_stage(stage);
        return -1;
    }
    /* A new or empty out dir is replaced whole; with --force into a
     * non-empty one, each file is renamed over its old version. */
    if (!ic_path_exists(out) || (dir_is_empty(out) && rmdir(out) == 0)) {
        if (rename(stage, out)) {
            ic_error_set(err, "%s: cannot rename %s into place: %s", out, stage, strerror(errno));
            remove_stage(stage);
            return -1;
        }
        return 0;
    }
    for (int i = 0; i < N_MAIN + IC_IMPORT_N_AUX; i++) {
        char from[4096], to[4096];
        join(from, sizeof from, stage, stage_file(i));
        join(to, sizeof to, out, stage_file(i));
        if (i >= N_MAIN && !ic_path_exists(from)) {
            unlink(to);   /* a side file of the old model would not belong to the new one */
            continue;
        }
        if (rename(from, to)) {
            ic_error_set(err, "%s: cannot move %s into place: %s", out, stage_file(i), strerror(errno));
            remove_stage(stage);
            return -1;
        }
    }
    rmdir(stage);
    char idx[4096];
    join(idx, sizeof idx, out, "model.safetensors.index.json");
    if (ic_path_exists(idx))
        ic_log_warn("import: %s also holds %s from an earlier model; model.safetensors takes precedence", out, idx);
    return 0;
}
