/* model/ic_config (config.json load/save) and model/ic_import (GGUF / HF dir
 * -> model dir, tokenizer.json) on small files built in the test. */
#define _GNU_SOURCE   /* nftw */
#include <jansson.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/ic_fs.h"
#include "gguf_build.h"
#include "model/ic_config.h"
#include "model/ic_import.h"
#include "model/ic_safetensors.h"
#include "testutil.h"

static const char *write_tmp(const char *dir, const char *name, const char *text) {
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static const char *cfg_dir;   /* one scratch dir per test process */
static int load_text(ic_config *c, const char *text, ic_error *err) {
    if (!cfg_dir) cfg_dir = ic_test_tmpdir("cfg");
    const char *p = write_tmp(cfg_dir, "config.json", text);
    ic_error_clear(err);
    return ic_config_load(c, p, err);
}

#define LLAMA_KEYS "\"vocab_size\": 1000, \"hidden_size\": 96, \"intermediate_size\": 256, " \
                   "\"num_hidden_layers\": 3, \"num_attention_heads\": 6"

START_TEST(test_config_load) {
    ic_config c;
    ic_error err;
    ck_assert_msg(load_text(&c, "{\"architectures\": [\"LlamaForCausalLM\"], " LLAMA_KEYS "}", &err) == 0, "%s", err.msg);
    ck_assert_int_eq(c.arch, IC_ARCH_LLAMA);
    ck_assert_int_eq(c.n_kv_heads, 6);        /* HF default: = heads */
    ck_assert_int_eq(c.head_dim, 16);         /* hidden / heads */
    ck_assert(c.rope_theta == 10000.0f && c.rms_norm_eps == 1e-6f);
    ck_assert_int_eq(c.tie_word_embeddings, 0);
    ck_assert_int_eq(c.attention_bias, 0);
    ck_assert_int_eq(c.has_indexer_config, 0);
    ck_assert_int_eq(c.bos_token_id, -1);

    ck_assert_msg(load_text(&c, "{\"model_type\": \"qwen2\", " LLAMA_KEYS ", \"num_key_value_heads\": 2, "
                                "\"head_dim\": 32, \"rope_theta\": 1000000.0, \"tie_word_embeddings\": true, "
                                "\"eos_token_id\": [7, 8], \"rms_norm_eps\": 1e-5}", &err) == 0, "%s", err.msg);
    ck_assert_int_eq(c.arch, IC_ARCH_QWEN2);
    ck_assert_int_eq(c.attention_bias, 1);    /* Qwen2 always has q/k/v bias */
    ck_assert_int_eq(c.head_dim, 32);
    ck_assert_int_eq(c.n_kv_heads, 2);
    ck_assert(c.rope_theta == 1e6f && c.rms_norm_eps == 1e-5f && c.tie_word_embeddings == 1);
    ck_assert_int_eq(c.eos_token_id, 7);

    ck_assert_msg(load_text(&c, "{\"architectures\": [\"MistralForCausalLM\"], " LLAMA_KEYS
                                ", \"sliding_window\": 4096}", &err) == 0, "%s", err.msg);
    ck_assert_int_eq(c.arch, IC_ARCH_MISTRAL);

    struct { const char *json, *needle; } bad[] = {
        {"{\"architectures\": [\"GPT2LMHeadModel\"], " LLAMA_KEYS "}", "GPT2LMHeadModel"},
        {"{\"model_type\": \"gemma\", " LLAMA_KEYS "}", "'gemma' is not supported"},
        {"{" LLAMA_KEYS "}", "neither \"architectures\" nor \"model_type\""},
        {"{\"model_type\": \"llama\", \"vocab_size\": 10, \"intermediate_size\": 4, \"num_hidden_layers\": 1, "
         "\"num_attention_heads\": 2}", "\"hidden_size\" is missing"},
        {"{\"model_type\": \"llama\", " LLAMA_KEYS ", \"num_key_value_heads\": 4}", "not a multiple"},
        {"{\"model_type\": \"llama\", " LLAMA_KEYS ", \"hidden_act\": \"gelu\"}", "hidden_act"},
        {"{\"model_type\": \"llama\", " LLAMA_KEYS ", \"rope_scaling\": {\"type\": \"linear\"}}", "rope_scaling"},
        {"{\"model_type\": \"llama\", " LLAMA_KEYS ", \"attention_bias\": true}", "o_proj bias"},
        {"{\"model_type\": \"llama\", \"vocab_size\": 10, \"hidden_size\": 8, \"intermediate_size\": 4, "
         "\"num_hidden_layers\": -2, \"num_attention_heads\": 2}", "\"num_hidden_layers\" = -2 is out of range"},
        {"{\"model_type\": \"llama\", " LLAMA_KEYS ", \"vocab_size\": 5}", "duplicate"},
        {"{\"model_type\": \"llama\", " LLAMA_KEYS ", \"head_dim\": 15}", "even"},
        {"{\"model_type\": \"llama\", \"vocab_size\": \"big\", \"hidden_size\": 8, \"intermediate_size\": 4, "
         "\"num_hidden_layers\": 1, \"num_attention_heads\": 2}", "\"vocab_size\" must be an integer"},
        {"{\"model_type\": \"llama\", " LLAMA_KEYS ", \"index_n_heads\": 4}", "\"index_head_dim\" is missing"},
        {"{\"model_type\": \"llama\", " LLAMA_KEYS ", \"index_n_heads\": 4, \"index_head_dim\": 32, "
         "\"index_topk\": 64, \"index_topk_pattern\": \"FS\"}", "has 2 characters but the model has 3 layers"},
        {"{\"model_type\": \"llama\", " LLAMA_KEYS ", \"index_n_heads\": 4, \"index_head_dim\": 32, "
         "\"index_topk\": 64, \"index_topk_pattern\": \"SFF\"}", "must start with F"},
        {"{\"model_type\": \"llama\", " LLAMA_KEYS ", \"index_n_heads\": 4, \"index_head_dim\": 32, "
         "\"index_topk\": 64, \"index_topk_pattern\": \"FXS\"}", "only F and S"},
        {"{\"model_type\": \"llama\", " LLAMA_KEYS ",}", "invalid JSON"},
        {"[1, 2]", "not a JSON object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(load_text(&c, bad[i].json, &err) == -1, "accepted: %s", bad[i].json);
        ck_assert_msg(strstr(err.msg, bad[i].needle) && strstr(err.msg, "config.json"), "'%s' lacks '%s'",
                      err.msg, bad[i].needle);
    }
    ic_test_rm_tree(cfg_dir);
}
END_TEST

START_TEST(test_config_save_roundtrip) {
    ic_config c;
    memset(&c, 0, sizeof c);
    c.arch = IC_ARCH_LLAMA;
    c.vocab_size = 49152, c.hidden_size = 576, c.intermediate_size = 1536, c.n_layers = 4;
    c.n_heads = 9, c.n_kv_heads = 3, c.head_dim = 64, c.rope_theta = 100000.0f, c.rms_norm_eps = 1e-5f;
    c.max_position_embeddings = 8192, c.tie_word_embeddings = 1, c.bos_token_id = 1, c.eos_token_id = 2;
    ic_config_set_indexer_defaults(&c);
    ck_assert(c.has_indexer_config && c.index_n_heads == 16 && c.index_head_dim == 64 && c.index_rope_dim == 32 &&
              c.index_topk == 256);
    c.use_index_cache = 1;
    strcpy(c.index_topk_pattern, "FSFS");
    char path[4096];
    const char *tdir = ic_test_tmpdir("cfgsave");
    snprintf(path, sizeof path, "%s/config.json", tdir);
    ic_error err;
    ic_error_clear(&err);
    ck_assert_msg(ic_config_save(&c, path, &err) == 0, "%s", err.msg);

    /* the file itself, read with jansson: HF keys and values */
    json_error_t je;
    json_t *o = json_load_file(path, 0, &je);
    ck_assert_ptr_nonnull(o);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(o, "architectures"), 0)), "LlamaForCausalLM");
    ck_assert_int_eq(json_integer_value(json_object_get(o, "num_key_value_heads")), 3);
    ck_assert(json_real_value(json_object_get(o, "rms_norm_eps")) == 1e-5);   /* shortest form, not 9.99e-06 */
    ck_assert(json_real_value(json_object_get(o, "rope_theta")) == 100000.0);
    ck_assert(json_is_true(json_object_get(o, "tie_word_embeddings")));
    ck_assert_str_eq(json_string_value(json_object_get(o, "index_topk_pattern")), "FSFS");
    ck_assert_int_eq(json_integer_value(json_object_get(o, "index_rope_dim")), 32);
    ck_assert(json_is_true(json_object_get(o, "use_index_cache")));
    json_decref(o);

    ic_config d;
    ck_assert_msg(ic_config_load(&d, path, &err) == 0, "%s", err.msg);
    ck_assert(d.arch == c.arch && d.vocab_size == c.vocab_size && d.hidden_size == c.hidden_size &&
              d.intermediate_size == c.intermediate_size && d.n_layers == c.n_layers && d.n_heads == c.n_heads &&
              d.n_kv_heads == c.n_kv_heads && d.head_dim == c.head_dim && d.rope_theta == c.rope_theta &&
              d.rms_norm_eps == c.rms_norm_eps && d.max_position_embeddings == c.max_position_embeddings &&
              d.tie_word_embeddings == c.tie_word_embeddings && d.bos_token_id == 1 && d.eos_token_id == 2);
    ck_assert(d.has_indexer_config && d.index_n_heads == 16 && d.index_head_dim == 64 && d.index_rope_dim == 32 &&
              d.index_topk == 256 && d.use_index_cache == 1 && !strcmp(d.index_topk_pattern, "FSFS"));

    strcpy(c.index_topk_pattern, "FSF");   /* wrong length: refused, old file kept */
    ck_assert_int_eq(ic_config_save(&c, path, &err), -1);
    ck_assert(strstr(err.msg, "3 characters") != NULL);
    ck_assert_int_eq(ic_config_load(&d, path, &err), 0);
    ic_test_rm_tree(tdir);
}
END_TEST

/* ---- tokenizer.json from GGUF vocab ---- */

static char *k_toks[] = {"<|endoftext|>", "a", "b", "ab", "Ġ", "Ġab", "<tool>"};
static char *k_merges[] = {"a b", "Ġ ab"};
static int32_t k_types[] = {3, 1, 1, 1, 1, 1, 4};

static ic_gguf_tokenizer small_tok(void) {
    ic_gguf_tokenizer t;
    memset(&t, 0, sizeof t);
    t.model = "gpt2", t.pre = "smollm";
    t.n_tokens = 7, t.tokens = k_toks, t.token_type = k_types;
    t.n_merges = 2, t.merges = k_merges;
    t.bos_id = 0, t.eos_id = 0, t.unk_id = -1, t.pad_id = -1;
    return t;
}

START_TEST(test_tokenizer_json) {
    ic_gguf_tokenizer t = small_tok();
    ic_error err;
    ic_error_clear(&err);
    json_t *j = ic_hf_tokenizer_from_gguf(&t, "x.gguf", &err);
    ck_assert_msg(j != NULL, "%s", err.msg);
    json_t *model = json_object_get(j, "model"), *vocab = json_object_get(model, "vocab");
    ck_assert_str_eq(json_string_value(json_object_get(model, "type")), "BPE");
    ck_assert_int_eq(json_object_size(vocab), 7);
    for (int i = 0; i < 7; i++) ck_assert_int_eq(json_integer_value(json_object_get(vocab, k_toks[i])), i);
    json_t *merges = json_object_get(model, "merges");
    ck_assert_int_eq(json_array_size(merges), 2);
    ck_assert_str_eq(json_string_value(json_array_get(merges, 1)), "Ġ ab");
    json_t *added = json_object_get(j, "added_tokens");
    ck_assert_int_eq(json_array_size(added), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(added, 0), "content")), "<|endoftext|>");
    ck_assert(json_is_true(json_object_get(json_array_get(added, 0), "special")));
    ck_assert(json_is_false(json_object_get(json_array_get(added, 1), "special")));   /* user-defined */
    json_t *pre = json_object_get(j, "pre_tokenizer");
    ck_assert_str_eq(json_string_value(json_object_get(pre, "type")), "Sequence");
    json_t *p0 = json_array_get(json_object_get(pre, "pretokenizers"), 0);
    json_t *p1 = json_array_get(json_object_get(pre, "pretokenizers"), 1);
    ck_assert_str_eq(json_string_value(json_object_get(p0, "type")), "Digits");
    ck_assert(json_is_true(json_object_get(p0, "individual_digits")));
    ck_assert_str_eq(json_string_value(json_object_get(p1, "type")), "ByteLevel");
    ck_assert(json_is_false(json_object_get(p1, "add_prefix_space")) && json_is_true(json_object_get(p1, "use_regex")));
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "decoder"), "type")), "ByteLevel");
    json_decref(j);

    t.add_bos = 1;   /* bos added by a TemplateProcessing post-processor */
    j = ic_hf_tokenizer_from_gguf(&t, "x.gguf", &err);
    json_t *pp = json_object_get(j, "post_processor");
    ck_assert_str_eq(json_string_value(json_object_get(pp, "type")), "TemplateProcessing");
    json_t *first = json_object_get(json_array_get(json_object_get(pp, "single"), 0), "SpecialToken");
    ck_assert_str_eq(json_string_value(json_object_get(first, "id")), "<|endoftext|>");
    json_decref(j);

    struct { const char *what, *needle; } bad[] = {
        {"pre", "pre-tokenizer 'weird'"}, {"model", "'llama'"}, {"merge-unknown", "not in the vocabulary"},
        {"merge-product", "produces 'ba'"}, {"merge-form", "not of the form"}, {"dup", "appears twice"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        t = small_tok();
        char *m[2] = {"a b", "Ġ ab"}, *toks[7];
        memcpy(toks, k_toks, sizeof toks);
        t.merges = m, t.tokens = toks;
        if (i == 0) t.pre = "weird";
        if (i == 1) t.model = "llama";
        if (i == 2) m[1] = "Ġ zz";
        if (i == 3) m[1] = "b a";
        if (i == 4) m[1] = "ab";
        if (i == 5) toks[5] = "ab";
        ic_error_clear(&err);
        ck_assert_msg(ic_hf_tokenizer_from_gguf(&t, "x.gguf", &err) == NULL, "%s accepted", bad[i].what);
        ck_assert_msg(strstr(err.msg, bad[i].needle) && strstr(err.msg, "x.gguf"), "%s: %s", bad[i].what, err.msg);
    }
}
END_TEST

/* ---- end-to-end import of a tiny Llama GGUF ---- */

enum { L = 2, D = 64, H = 4, HKV = 2, HD = 16, F = 96, V = 7 };

typedef struct { char name[64]; uint32_t n_dims; uint64_t ne[2]; uint32_t type; uint8_t *data; size_t bytes; } tt;

static int tiny_tensors(tt *t, ic_rng *r, int untied, const char *skip, const char *extra) {
    int n = 0;
    struct { const char *n; uint64_t ne0, ne1; uint32_t type; } per[] = {
        {"attn_q", D, H * HD, 3}, {"attn_k", D, HKV * HD, 2}, {"attn_v", D, HKV * HD, 1},
        {"attn_output", H * HD, D, 30}, {"ffn_gate", D, F, 8}, {"ffn_up", D, F, 8}, {"ffn_down", F, D, 8},
        {"attn_norm", D, 0, 0}, {"ffn_norm", D, 0, 0}};
    struct { const char *n; uint64_t ne0, ne1; uint32_t type; } glob[] = {
        {"token_embd.weight", D, V, 8}, {"output_norm.weight", D, 0, 0}, {"output.weight", D, V, 0}};
    for (int g = 0; g < 3; g++) {
        if (g == 2 && !untied) continue;
        snprintf(t[n].name, sizeof t[n].name, "%s", glob[g].n);
        t[n].ne[0] = glob[g].ne0, t[n].ne[1] = glob[g].ne1, t[n].type = glob[g].type, n++;
    }
    for (int l = 0; l < L; l++)
        for (int p = 0; p < 9; p++) {
            snprintf(t[n].name, sizeof t[n].name, "blk.%d.%s.weight", l, per[p].n);
            t[n].ne[0] = per[p].ne0, t[n].ne[1] = per[p].ne1, t[n].type = per[p].type, n++;
        }
    if (extra) {
        snprintf(t[n].name, sizeof t[n].name, "%s", extra);
        t[n].ne[0] = 32, t[n].ne[1] = 0, t[n].type = 0, n++;
    }
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (skip && !strcmp(t[i].name, skip)) continue;
        t[m] = t[i];
        t[m].n_dims = t[m].ne[1] ? 2 : 1;
        uint64_t ne = t[m].ne[0] * (t[m].ne[1] ? t[m].ne[1] : 1);
        t[m].bytes = gb_type_bytes(t[m].type, ne);
        t[m].data = malloc(t[m].bytes);
        fill_type(r, t[m].type, t[m].data, (int64_t)ne);
        m++;
    }
    return m;
}

static void write_tiny_gguf(const char *path, tt *t, int n, const char *arch) {
    static const char *const toks[V] = {"<s>", "a", "b", "ab", "Ġ", "Ġab", "!"};
    static const char *const merges[2] = {"a b", "Ġ ab"};
    const int32_t types[V] = {3, 1, 1, 1, 1, 1, 1};
    gb_buf b;
    memset(&b, 0, sizeof b);
    gb_header(&b, 3, (uint64_t)n, 16);
    gb_kv_str(&b, "general.architecture", arch);
    gb_kv_u32(&b, "llama.block_count", L);
    gb_kv_u32(&b, "llama.context_length", 512);
    gb_kv_u32(&b, "llama.embedding_length", D);
    gb_kv_u32(&b, "llama.feed_forward_length", F);
    gb_kv_u32(&b, "llama.attention.head_count", H);
    gb_kv_u32(&b, "llama.attention.head_count_kv", HKV);
    gb_kv_f32(&b, "llama.rope.freq_base", 50000.0f);
    gb_kv_f32(&b, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    gb_kv_u32(&b, "llama.rope.dimension_count", HD);
    gb_kv_str(&b, "tokenizer.ggml.model", "gpt2");
    gb_kv_str(&b, "tokenizer.ggml.pre", "smollm");
    gb_kv_str_arr(&b, "tokenizer.ggml.tokens", toks, V);
    gb_kv_str_arr(&b, "tokenizer.ggml.merges", merges, 2);
    gb_kv_i32_arr(&b, "tokenizer.ggml.token_type", types, V);
    gb_kv_u32(&b, "tokenizer.ggml.bos_token_id", 0);
    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        gb_tensor(&b, t[i].name, t[i].n_dims, t[i].ne, t[i].type, off);
        off = (off + t[i].bytes + 31) / 32 * 32;
    }
    gb_pad(&b, 32);
    for (int i = 0; i < n; i++) {
        gb_put(&b, t[i].data, t[i].bytes);
        gb_pad(&b, 32);
    }
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(b.p, 1, b.n, f), b.n);
    fclose(f);
    gb_free(&b);
}

static const char *hf_of(const char *g, char *buf) {
    int l;
    char part[32];
    if (!strcmp(g, "token_embd.weight")) return "model.embed_tokens.weight";
    if (!strcmp(g, "output_norm.weight")) return "model.norm.weight";
    if (!strcmp(g, "output.weight")) return "lm_head.weight";
    ck_assert(sscanf(g, "blk.%d.%31[a-z_].weight", &l, part) == 2);
    const char *m = !strcmp(part, "attn_q") ? "self_attn.q_proj" : !strcmp(part, "attn_k") ? "self_attn.k_proj"
                  : !strcmp(part, "attn_v") ? "self_attn.v_proj" : !strcmp(part, "attn_output") ? "self_attn.o_proj"
                  : !strcmp(part, "ffn_gate") ? "mlp.gate_proj" : !strcmp(part, "ffn_up") ? "mlp.up_proj"
                  : !strcmp(part, "ffn_down") ? "mlp.down_proj" : !strcmp(part, "attn_norm") ? "input_layernorm"
                  : "post_attention_layernorm";
    sprintf(buf, "model.layers.%d.%s.weight", l, m);
    return buf;
}

START_TEST(test_import_tiny_gguf) {
    ic_rng r;
    ic_rng_seed(&r, 21);
    const char *dir = ic_test_tmpdir("import");
    char src[2048], out[2048], hf_out[2048], st_path[4096];
    snprintf(src, sizeof src, "%s/tiny.gguf", dir);
    snprintf(out, sizeof out, "%s/model", dir);
    tt t[32];
    int n = tiny_tensors(t, &r, 1, NULL, NULL);
    write_tiny_gguf(src, t, n, "llama");
    ic_import_opts o = {IC_F32, 0};
    ic_error err;
    ic_error_clear(&err);
    ck_assert_msg(ic_import(src, out, &o, &err) == 0, "%s", err.msg);

    snprintf(st_path, sizeof st_path, "%s/model.safetensors", out);
    ic_safetensors st;
    ck_assert_msg(ic_safetensors_open(&st, st_path, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(st.n, n);
    for (int i = 0; i < n; i++) {
        char buf[128];
        const char *name = hf_of(t[i].name, buf);
        int e = ic_safetensors_find(&st, name);
        ck_assert_msg(e >= 0, "%s missing", name);
        const ic_st_entry *en = &st.entries[e];
        ck_assert_int_eq(en->dtype, IC_ST_F32);
        ck_assert_int_eq(en->ndim, (int)t[i].n_dims);
        ck_assert_int_eq(en->shape[0], (int64_t)(t[i].n_dims == 2 ? t[i].ne[1] : t[i].ne[0]));
        int64_t ne = en->numel, rows = en->shape[0], cols = en->numel / rows;
        float *got = malloc((size_t)ne * 4), *ref = malloc((size_t)ne * 4), *perm = malloc((size_t)ne * 4);
        ck_assert_int_eq(ic_safetensors_read_f32(&st, e, got, ne, &err), 0);
        for (int64_t k = 0; k < ne; k++) ref[k] = (float)elem_ref(t[i].type, t[i].data, k);
        if (strstr(t[i].name, "attn_q") || strstr(t[i].name, "attn_k")) {
            /* ours is HF layout: the converter's permutation of it is the GGUF */
            permute_brute(got, perm, (int)(rows / HD), HD, (int)cols);
            memcpy(got, perm, (size_t)ne * 4);
        }
        ck_assert_msg(ic_rel_err_f32(got, ref, (size_t)ne) < 1e-7, "%s: rel err %g", name,
                      ic_rel_err_f32(got, ref, (size_t)ne));
        free(got); free(ref); free(perm);
    }
    ic_safetensors_close(&st);

    ic_config c;
    snprintf(st_path, sizeof st_path, "%s/config.json", out);
    ck_assert_msg(ic_config_load(&c, st_path, &err) == 0, "%s", err.msg);
    ck_assert(c.n_layers == L && c.hidden_size == D && c.n_heads == H && c.n_kv_heads == HKV && c.head_dim == HD &&
              c.intermediate_size == F && c.vocab_size == V && c.rope_theta == 50000.0f && c.rms_norm_eps == 1e-5f &&
              c.max_position_embeddings == 512 && c.tie_word_embeddings == 0 && c.bos_token_id == 0);
    snprintf(st_path, sizeof st_path, "%s/tokenizer.json", out);
    json_error_t je;
    json_t *tj = json_load_file(st_path, 0, &je);
    ck_assert_ptr_nonnull(tj);
    ck_assert_int_eq(json_object_size(json_object_get(json_object_get(tj, "model"), "vocab")), V);
    json_decref(tj);

    /* non-empty out dir: refused, then replaced with --force */
    ck_assert_int_eq(ic_import(src, out, &o, &err), -1);
    ck_assert(strstr(err.msg, "not empty") && strstr(err.msg, "--force"));
    ic_error_clear(&err);
    o.force = 1;
    ck_assert_msg(ic_import(src, out, &o, &err) == 0, "%s", err.msg);

    /* the model dir as a HF source: bf16 of the same values */
    snprintf(hf_out, sizeof hf_out, "%s/from_hf", dir);
    ic_import_opts ob = {IC_BF16, 0};
    ck_assert_msg(ic_import(out, hf_out, &ob, &err) == 0, "%s", err.msg);
    ic_safetensors a, b;
    snprintf(st_path, sizeof st_path, "%s/model.safetensors", out);
    ck_assert_int_eq(ic_safetensors_open(&a, st_path, &err), 0);
    snprintf(st_path, sizeof st_path, "%s/model.safetensors", hf_out);
    ck_assert_int_eq(ic_safetensors_open(&b, st_path, &err), 0);
    ck_assert_int_eq(a.n, b.n);
    for (int i = 0; i < a.n; i++) {
        int e = ic_safetensors_find(&b, a.entries[i].name);
        ck_assert(e >= 0 && b.entries[e].dtype == IC_ST_BF16);
        const float *x = ic_safetensors_entry_data(&a, i);
        const uint16_t *y = ic_safetensors_entry_data(&b, e);
        for (int64_t k = 0; k < a.entries[i].numel; k++) {
            float xv, yv;
            memcpy(&xv, x + k, 4);
            uint16_t yb;
            memcpy(&yb, y + k, 2);
            yv = (float)bf16_ref(yb);
            ck_assert_msg(fabsf(yv - xv) <= fabsf(xv) * (1.0f / 256.0f), "%s[%lld]: %g vs %g", a.entries[i].name,
                          (long long)k, yv, xv);
        }
    }
    ic_safetensors_close(&a);
    ic_safetensors_close(&b);
    for (int i = 0; i < n; i++) free(t[i].data);
    ic_test_rm_tree(dir);
}
END_TEST

START_TEST(test_import_refusals) {
    ic_rng r;
    ic_rng_seed(&r, 22);
    const char *dir = ic_test_tmpdir("import_bad");
    struct { const char *arch, *skip, *extra, *needle; } cases[] = {
        {"gpt2", NULL, NULL, "architecture 'gpt2' is not supported"},
        {"llama", "blk.1.ffn_up.weight", NULL, "model.layers.1.mlp.up_proj.weight is missing"},
        {"llama", NULL, "rope_freqs.weight", "'rope_freqs.weight' has no Hugging Face Llama counterpart"},
        {"llama", NULL, "blk.5.attn_norm.weight", "does not belong to a 2-layer Llama"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char src[4096], out[4096];
        snprintf(src, sizeof src, "%s/bad%zu.gguf", dir, i);
        snprintf(out, sizeof out, "%s/out%zu", dir, i);
        tt t[32];
        int n = tiny_tensors(t, &r, 0, cases[i].skip, cases[i].extra);
        write_tiny_gguf(src, t, n, cases[i].arch);
        ic_import_opts o = {IC_BF16, 0};
        ic_error err;
        ic_error_clear(&err);
        ck_assert_int_eq(ic_import(src, out, &o, &err), -1);
        ck_assert_msg(strstr(err.msg, cases[i].needle) != NULL, "case %zu: %s", i, err.msg);
        ck_assert_msg(!ic_path_exists(out), "case %zu left %s behind", i, out);
        for (int k = 0; k < n; k++) free(t[k].data);
    }
    ic_test_rm_tree(dir);
}
END_TEST

/* A Qwen2-style HF dir (q/k/v biases, tied head, a stray RoPE buffer):
 * teacher tensors copied exactly, the buffer dropped, a missing bias refused. */
START_TEST(test_import_hf_qwen2) {
    ic_rng r;
    ic_rng_seed(&r, 23);
    const char *dir = ic_test_tmpdir("import_hf");
    enum { QD = H * HD, KVD = HKV * HD };
    struct { const char *name; int64_t s0, s1; } spec[] = {
        {"model.embed_tokens.weight", V, D}, {"model.norm.weight", D, 0},
        {"model.layers.0.self_attn.q_proj.weight", QD, D}, {"model.layers.0.self_attn.k_proj.weight", KVD, D},
        {"model.layers.0.self_attn.v_proj.weight", KVD, D}, {"model.layers.0.self_attn.o_proj.weight", D, QD},
        {"model.layers.0.self_attn.q_proj.bias", QD, 0}, {"model.layers.0.self_attn.k_proj.bias", KVD, 0},
        {"model.layers.0.self_attn.v_proj.bias", KVD, 0}, {"model.layers.0.mlp.gate_proj.weight", F, D},
        {"model.layers.0.mlp.up_proj.weight", F, D}, {"model.layers.0.mlp.down_proj.weight", D, F},
        {"model.layers.0.input_layernorm.weight", D, 0}, {"model.layers.0.post_attention_layernorm.weight", D, 0},
        {"model.layers.0.self_attn.rotary_emb.inv_freq", HD / 2, 0},
    };
    enum { NS = sizeof spec / sizeof spec[0] };
    for (int variant = 0; variant < 2; variant++) {   /* 1: the k bias is missing */
        char src[2048], out[2048], path[4096];
        snprintf(src, sizeof src, "%s/qwen%d", dir, variant);
        snprintf(out, sizeof out, "%s/out%d", dir, variant);
        ic_error err;
        ic_error_clear(&err);
        ck_assert_int_eq(ic_mkdir_p(src, &err), 0);
        write_tmp(src, "config.json",
                  "{\"architectures\": [\"Qwen2ForCausalLM\"], \"vocab_size\": 7, \"hidden_size\": 64, "
                  "\"intermediate_size\": 96, \"num_hidden_layers\": 1, \"num_attention_heads\": 4, "
                  "\"num_key_value_heads\": 2, \"tie_word_embeddings\": true, \"rope_theta\": 1000000.0}");
        const char *tok_text = "{\"version\": \"1.0\", \"model\": {\"type\": \"BPE\"}}\n";
        write_tmp(src, "tokenizer.json", tok_text);
        ic_st_tensor_in in[NS];
        float *bufs[NS];
        int64_t shapes[NS][2];
        int n = 0;
        for (int i = 0; i < NS; i++) {
            if (variant == 1 && strstr(spec[i].name, "k_proj.bias")) continue;
            int64_t numel = spec[i].s0 * (spec[i].s1 ? spec[i].s1 : 1);
            bufs[n] = malloc((size_t)numel * 4);
            ic_fill_normal(&r, bufs[n], (size_t)numel, 1.0f);
            shapes[n][0] = spec[i].s0, shapes[n][1] = spec[i].s1;
            in[n] = (ic_st_tensor_in){spec[i].name, IC_ST_F32, spec[i].s1 ? 2 : 1, shapes[n], bufs[n]};
            n++;
        }
        snprintf(path, sizeof path, "%s/model.safetensors", src);
        ck_assert_msg(ic_safetensors_write(path, in, n, NULL, 0, &err) == 0, "%s", err.msg);
        ic_import_opts o = {IC_F32, 0};
        int rc = ic_import(src, out, &o, &err);
        if (variant == 1) {
            ck_assert_int_eq(rc, -1);
            ck_assert_msg(strstr(err.msg, "model.layers.0.self_attn.k_proj.bias is missing"), "%s", err.msg);
        } else {
            ck_assert_msg(rc == 0, "%s", err.msg);
            ic_safetensors st;
            snprintf(path, sizeof path, "%s/model.safetensors", out);
            ck_assert_int_eq(ic_safetensors_open(&st, path, &err), 0);
            ck_assert_int_eq(st.n, n - 1);   /* inv_freq dropped */
            for (int i = 0; i < n; i++) {
                int e = ic_safetensors_find(&st, in[i].name);
                if (strstr(in[i].name, "inv_freq")) { ck_assert_int_eq(e, -1); continue; }
                ck_assert_msg(e >= 0, "%s missing", in[i].name);
                ck_assert(st.entries[e].end - st.entries[e].begin == (uint64_t)st.entries[e].numel * 4);
                ck_assert(memcmp(ic_safetensors_entry_data(&st, e), bufs[i], (size_t)st.entries[e].numel * 4) == 0);
            }
            ic_safetensors_close(&st);
            ic_config c;
            snprintf(path, sizeof path, "%s/config.json", out);
            ck_assert_int_eq(ic_config_load(&c, path, &err), 0);
            ck_assert(c.arch == IC_ARCH_QWEN2 && c.attention_bias == 1 && c.tie_word_embeddings == 1 &&
                      c.rope_theta == 1e6f);
            snprintf(path, sizeof path, "%s/tokenizer.json", out);
            size_t len;
            char *copied = ic_read_file(path, &len, &err);
            ck_assert(copied && len == strlen(tok_text) && !memcmp(copied, tok_text, len));
            free(copied);
        }
        for (int i = 0; i < n; i++) free(bufs[i]);
    }
    ic_test_rm_tree(dir);
}
END_TEST

int main(void) {
    Suite *s = suite_create("import");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_config_load);
    tcase_add_test(tc, test_config_save_roundtrip);
    tcase_add_test(tc, test_tokenizer_json);
    tcase_add_test(tc, test_import_tiny_gguf);
    tcase_add_test(tc, test_import_refusals);
    tcase_add_test(tc, test_import_hf_qwen2);
    suite_add_tcase(s, tc);
    return ic_test_run_suite(s);
}
