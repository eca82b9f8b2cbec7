/* GGUF vocab -> Hugging Face tokenizer.json (byte-level BPE).
 *
 * The output follows the schema the `tokenizers` library serialises
 * (version "1.0": added_tokens, normalizer, pre_tokenizer, post_processor,
 * decoder, model), so `tokenizers.Tokenizer.from_file` loads it and so does
 * our own BPE (data/). llama.cpp names its pre-tokenizer regexes by a short
 * string (tokenizer.ggml.pre); each name we accept is mapped to the HF
 * pre_tokenizer that the model's original tokenizer.json used. */
#include <stdio.h>
#include <string.h>

#include "ic_import.h"

/* GPT-2's split regex is what ByteLevel(use_regex=true) applies itself;
 * these Split patterns are for the models that replaced it. */
static const char *const llama3_regex =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char *const qwen2_regex =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

static json_t *byte_level(int add_prefix_space, int trim_offsets, int use_regex) {
    return json_pack("{s:s, s:b, s:b, s:b}", "type", "ByteLevel", "add_prefix_space", add_prefix_space,
                     "trim_offsets", trim_offsets, "use_regex", use_regex);
}

static json_t *split_then_byte_level(const char *regex) {
    json_t *split = json_pack("{s:s, s:{s:s}, s:s, s:b}", "type", "Split", "pattern", "Regex", regex, "behavior",
                              "Isolated", "invert", 0);
    return json_pack("{s:s, s:[o, o]}", "type", "Sequence", "pretokenizers", split, byte_level(0, 1, 0));
}

static json_t *pre_tokenizer_for(const char *pre) {
    /* llama.cpp runs "\p{N}" (each digit alone) and then the GPT-2 regex for
     * these; their HF tokenizers say Digits(individual) + ByteLevel(regex). */
    static const char *const digits_then_gpt2[] = {"smollm", "starcoder", "refact", "codeshell"};
    for (size_t i = 0; i < sizeof digits_then_gpt2 / sizeof digits_then_gpt2[0]; i++)
        if (!strcmp(pre, digits_then_gpt2[i])) {
            json_t *digits = json_pack("{s:s, s:b}", "type", "Digits", "individual_digits", 1);
            return json_pack("{s:s, s:[o, o]}", "type", "Sequence", "pretokenizers", digits, byte_level(0, 1, 1));
        }
    if (!strcmp(pre, "") || !strcmp(pre, "default") || !strcmp(pre, "gpt-2")) return byte_level(0, 1, 1);
    if (!strcmp(pre, "llama-bpe") || !strcmp(pre, "llama3")) return split_then_byte_level(llama3_regex);
    if (!strcmp(pre, "qwen2")) return split_then_byte_level(qwen2_regex);
    return NULL;
}

/* bos/eos added by the post-processor when the GGUF says so. */
static json_t *post_processor(const ic_gguf_tokenizer *tok) {
    if (!(tok->add_bos && tok->bos_id >= 0) && !(tok->add_eos && tok->eos_id >= 0))
        return byte_level(1, 0, 1);  /* offsets only, as GPT-2-style tokenizer.json files have */
    json_t *single = json_array(), *pair = json_array(), *specials = json_object();
    for (int part = 0; part < 2; part++) {
        json_t *seq = part ? pair : single;
        for (int p = 0; p <= part; p++) {
            const char *id = p ? "B" : "A";
            if (tok->add_bos && tok->bos_id >= 0)
                json_array_append_new(seq, json_pack("{s:{s:s, s:i}}", "SpecialToken", "id", tok->tokens[tok->bos_id],
                                                     "type_id", p));
            json_array_append_new(seq, json_pack("{s:{s:s, s:i}}", "Sequence", "id", id, "type_id", p));
            if (tok->add_eos && tok->eos_id >= 0)
                json_array_append_new(seq, json_pack("{s:{s:s, s:i}}", "SpecialToken", "id", tok->tokens[tok->eos_id],
                                                     "type_id", p));
        }
    }
    int64_t ids[2] = {tok->add_bos ? tok->bos_id : -1, tok->add_eos ? tok->eos_id : -1};
    for (int i = 0; i < 2; i++)
        if (ids[i] >= 0) {
            const char *s = tok->tokens[ids[i]];
            json_object_set_new(specials, s, json_pack("{s:s, s:[I], s:[s]}", "id", s, "ids", (json_int_t)ids[i],
                                                       "tokens", s));
        }
    return json_pack("{s:s, s:o, s:o, s:o}", "type", "TemplateProcessing", "single", single, "pair", pair,
                     "special_tokens", specials);
}

static int build_vocab(const ic_gguf_tokenizer *tok, json_t *vocab, json_t *added, const char *src, ic_error *err) {
    for (int64_t i = 0; i < tok->n_tokens; i++) {
        const char *s = tok->tokens[i];
        json_t *prev = json_object_get(vocab, s);
        if (prev)
            return ic_error_set(err, "%s: token '%s' appears twice in the vocabulary (ids %lld and %lld)", src, s,
                                (long long)json_integer_value(prev), (long long)i);
        if (json_object_set_new(vocab, s, json_integer(i)))
            return ic_error_set(err, "%s: token %lld is not valid UTF-8", src, (long long)i);
        int type = tok->token_type[i];
        if (type == IC_GGUF_TOKEN_CONTROL || type == IC_GGUF_TOKEN_USER_DEFINED || type == IC_GGUF_TOKEN_UNKNOWN) {
            /* control tokens are "special" (skipped when decoding with
             * skip_special_tokens); user-defined ones are plain added tokens */
            json_array_append_new(added, json_pack("{s:I, s:s, s:b, s:b, s:b, s:b, s:b}", "id", (json_int_t)i,
                                                   "content", s, "single_word", 0, "lstrip", 0, "rstrip", 0,
                                                   "normalized", type == IC_GGUF_TOKEN_USER_DEFINED,
                                                   "special", type != IC_GGUF_TOKEN_USER_DEFINED));
        }
    }
    return 0;
}

/* Every merge "a b" must name two tokens whose concatenation is a token:
 * `tokenizers` refuses the file otherwise, and so should we, earlier. */
static int build_merges(const ic_gguf_tokenizer *tok, json_t *vocab, json_t *merges, const char *src,
                        ic_error *err) {
    char buf[1024];
    for (int64_t i = 0; i < tok->n_merges; i++) {
        const char *m = tok->merges[i];
        const char *sp = strchr(m, ' ');
        size_t len = strlen(m);
        if (!sp || sp == m || !sp[1] || strchr(sp + 1, ' ') || len >= sizeof buf)
            return ic_error_set(err, "%s: merge %lld '%s' is not of the form \"left right\"", src, (long long)i, m);
        size_t ll = (size_t)(sp - m);
        memcpy(buf, m, ll);
        buf[ll] = '\0';
        if (!json_object_get(vocab, buf) || !json_object_get(vocab, sp + 1))
            return ic_error_set(err, "%s: merge %lld '%s' uses a token that is not in the vocabulary", src,
                                (long long)i, m);
        memcpy(buf + ll, sp + 1, len - ll);   /* "left" + "right" (with its NUL) */
        if (!json_object_get(vocab, buf))
            return ic_error_set(err, "%s: merge %lld '%s' produces '%s', which is not in the vocabulary", src,
                                (long long)i, m, buf);
        json_array_append_new(merges, json_string(m));
    }
    return 0;
}

json_t *ic_hf_tokenizer_from_gguf(const ic_gguf_tokenizer *tok, const char *src, ic_error *err) {
    if (strcmp(tok->model, "gpt2")) {
        ic_error_set(err, "%s: tokenizer.ggml.model is '%s'; only byte-level BPE ('gpt2') can be imported", src,
                     tok->model);
        return NULL;
    }
    json_t *pre = pre_tokenizer_for(tok->pre);
    if (!pre) {
        ic_error_set(err, "%s: pre-tokenizer '%s' (tokenizer.ggml.pre) is not known to import; known: smollm, "
                          "starcoder, refact, codeshell, gpt-2, default, llama-bpe, qwen2", src, tok->pre);
        return NULL;
    }
    json_t *vocab = json_object(), *added = json_array(), *merges = json_array();
    if (build_vocab(tok, vocab, added, src, err) || build_merges(tok, vocab, merges, src, err)) {
        json_decref(vocab);
        json_decref(added);
        json_decref(merges);
        json_decref(pre);
        return NULL;
    }
    json_t *model = json_pack("{s:s, s:n, s:n, s:n, s:n, s:b, s:b, s:b, s:o, s:o}", "type", "BPE", "dropout",
                              "unk_token", "continuing_subword_prefix", "end_of_word_suffix", "fuse_unk", 0,
                              "byte_fallback", 0, "ignore_merges", 0, "vocab", vocab, "merges", merges);
    return json_pack("{s:s, s:n, s:n, s:o, s:n, s:o, s:o, s:o, s:o}", "version", "1.0", "truncation", "padding",
                     "added_tokens", added, "normalizer", "pre_tokenizer", pre, "post_processor", post_processor(tok),
                     "decoder", byte_level(1, 1, 1), "model", model);
}
