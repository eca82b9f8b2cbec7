/* Loading a Hugging Face tokenizer.json into the tables of a byte-level BPE,
 * lookups and decode. Encoding lives in ic_tokenizer_encode.c. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ic_tokenizer_internal.h"
#include "ic_unicode.h"

/* ---- small helpers -------------------------------------------------------- */

uint64_t ic_tok_hash(const void *data, size_t len) {
    const unsigned char *p = data;
    uint64_t h = 1469598103934665603ull;   /* FNV-1a */
    for (size_t i = 0; i < len; i++) { h ^= p[i]; h *= 1099511628211ull; }
    return h ^ (h >> 29);
}

static size_t pow2_at_least(size_t n) {
    size_t c = 16;
    while (c < n) c <<= 1;
    return c;
}

int64_t ic_tok_smap_get(const ic_tokenizer *t, const char *s, size_t len) {
    size_t mask = t->smap_cap - 1;
    for (size_t i = ic_tok_hash(s, len) & mask;; i = (i + 1) & mask) {
        uint32_t v = t->smap[i];
        if (v == 0) return -1;
        uint32_t id = v - 1;
        if (t->token_len[id] == len && memcmp(t->tokens[id], s, len) == 0) return id;
    }
}

static void smap_put(ic_tokenizer *t, uint32_t id) {
    size_t mask = t->smap_cap - 1;
    size_t i = ic_tok_hash(t->tokens[id], t->token_len[id]) & mask;
    while (t->smap[i] != 0) i = (i + 1) & mask;
    t->smap[i] = id + 1;
}

static uint64_t pair_key(uint32_t a, uint32_t b) { return ((uint64_t)a << 32) | b; }

int ic_tok_pair_get(const ic_tokenizer *t, uint32_t a, uint32_t b, uint32_t *rank, uint32_t *id) {
    uint64_t key = pair_key(a, b);
    size_t mask = t->pmap_cap - 1;
    for (size_t i = ic_tok_hash(&key, sizeof key) & mask;; i = (i + 1) & mask) {
        if (t->pmap[i].key == UINT64_MAX) return 0;
        if (t->pmap[i].key == key) { *rank = t->pmap[i].rank; *id = t->pmap[i].id; return 1; }
    }
}

/* A later duplicate of a merge replaces the earlier one, as in `tokenizers`
 * (its merge map is collected from the list in order). */
static void pair_put(ic_tokenizer *t, uint32_t a, uint32_t b, uint32_t rank, uint32_t id) {
    uint64_t key = pair_key(a, b);
    size_t mask = t->pmap_cap - 1;
    size_t i = ic_tok_hash(&key, sizeof key) & mask;
    while (t->pmap[i].key != UINT64_MAX && t->pmap[i].key != key) i = (i + 1) & mask;
    t->pmap[i].key = key;
    t->pmap[i].rank = rank;
    t->pmap[i].id = id;
}

/* GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the
 * other 68 bytes are shifted to U+0100.. in byte order. */
static void init_byte_map(ic_tokenizer *t) {
    uint32_t next = 256;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
        t->byte_to_cp[b] = printable ? (uint32_t)b : next++;
    }
    for (uint32_t cp = 0; cp < IC_BYTE_CP_LIMIT; cp++) t->cp_to_byte[cp] = -1;
    for (int b = 0; b < 256; b++) t->cp_to_byte[t->byte_to_cp[b]] = (int16_t)b;
}

/* What decode writes for a token: the bytes its byte-level characters stand
 * for, or (like the ByteLevel decoder of `tokenizers`) its own UTF-8 when one
 * of its characters is not a byte-level character. */
static int token_bytes(ic_tokenizer *t, uint32_t id) {
    const unsigned char *s = (const unsigned char *)t->tokens[id];
    size_t n = t->token_len[id];
    char *out = malloc(n + 1);
    if (!out) return -1;
    size_t k = 0;
    int mapped = 1;
    for (size_t i = 0; i < n && mapped;) {
        uint32_t cp;
        i += (size_t)ic_utf8_decode(s + i, n - i, &cp);
        int b = cp < IC_BYTE_CP_LIMIT ? t->cp_to_byte[cp] : -1;
        if (b < 0) mapped = 0;
        else out[k++] = (char)b;
    }
    if (!mapped) { memcpy(out, s, n); k = n; }
    out[k] = 0;
    t->bytes[id] = out;
    t->bytes_len[id] = (uint32_t)k;
    return 0;
}

/* ---- parsing -------------------------------------------------------------- */

static int parse_pre(ic_tokenizer *t, json_t *p, int depth, ic_error *err) {
    const char *path = t->path;
    if (!json_is_object(p))
        return ic_error_set(err, "%s: pre_tokenizer is not an object", path);
    const char *type = json_string_value(json_object_get(p, "type"));
    if (!type) return ic_error_set(err, "%s: pre_tokenizer without a \"type\"", path);
    if (strcmp(type, "Sequence") == 0) {
        json_t *list = json_object_get(p, "pretokenizers");
        if (depth > 0 || !json_is_array(list))
            return ic_error_set(err, "%s: pre_tokenizer Sequence needs a flat \"pretokenizers\" array", path);
        size_t i;
        json_t *v;
        json_array_foreach(list, i, v)
            if (parse_pre(t, v, depth + 1, err)) return -1;
        return 0;
    }
    if (t->n_pre == IC_PRE_MAX_STEPS)
        return ic_error_set(err, "%s: more than %d pre-tokenizers", path, IC_PRE_MAX_STEPS);
    ic_pre_step *s = &t->pre[t->n_pre];
    memset(s, 0, sizeof *s);
    if (strcmp(type, "ByteLevel") == 0) {
        json_t *r = json_object_get(p, "use_regex");
        s->kind = IC_PRE_BYTELEVEL;
        s->use_regex = r ? json_is_true(r) : 1;   /* the `tokenizers` default */
        s->add_prefix_space = json_is_true(json_object_get(p, "add_prefix_space"));
    } else if (strcmp(type, "Digits") == 0) {
        s->kind = IC_PRE_DIGITS;
        s->individual_digits = json_is_true(json_object_get(p, "individual_digits"));
    } else {
        return ic_error_set(err, "%s: pre_tokenizer type \"%s\" is not supported "
                            "(supported: ByteLevel, Digits, Sequence of those)", path, type);
    }
    t->n_pre++;
    return 0;
}

/* A null or absent value, or false / 0 / "" / null for the BPE options we do
 * not implement. */
static int option_unset(json_t *v) {
    return !v || json_is_null(v) || json_is_false(v) ||
           (json_is_string(v) && json_string_length(v) == 0) ||
           (json_is_number(v) && json_number_value(v) == 0.0);
}

static int parse_vocab(ic_tokenizer *t, json_t *model, json_t *added, ic_error *err) {
    const char *path = t->path;
    json_t *vocab = json_object_get(model, "vocab");
    if (!json_is_object(vocab))
        return ic_error_set(err, "%s: model has no \"vocab\" object", path);
    int64_t max_id = -1;
    const char *key;
    json_t *v;
    json_object_foreach(vocab, key, v) {
        json_int_t id = json_integer_value(v);
        if (!json_is_integer(v) || id < 0 || id >= (1 << 30))
            return ic_error_set(err, "%s: vocab entry \"%s\" has no valid id", path, key);
        if (id > max_id) max_id = id;
    }
    if (added && !json_is_array(added))
        return ic_error_set(err, "%s: \"added_tokens\" is not an array", path);
    size_t i;
    json_array_foreach(added, i, v) {
        json_t *jid = json_object_get(v, "id");
        json_int_t id = json_integer_value(jid);
        if (!json_is_integer(jid) || id < 0 || id >= (1 << 30) ||
            !json_is_string(json_object_get(v, "content")))
            return ic_error_set(err, "%s: added_tokens[%zu] needs an integer \"id\" and a "
                                "string \"content\"", path, i);
        if (id > max_id) max_id = id;
    }
    if (max_id < 255)
        return ic_error_set(err, "%s: vocab has %lld entries, too few for a byte-level BPE",
                            path, (long long)(max_id + 1));
    /* the tables below are indexed by id: an id far past the entries' count
     * leaves a hole of that size, and a file of a few bytes could ask for
     * gigabytes (found by scripts/fuzz.sh); 65536 unused ids are tolerated */
    const size_t n_entries = json_object_size(vocab) + (added ? json_array_size(added) : 0);
    if ((size_t)max_id >= n_entries + 65536)
        return ic_error_set(err, "%s: id %lld but only %zu vocab and added entries: the ids "
                            "must number the entries", path, (long long)max_id, n_entries);
    t->vocab_size = (uint32_t)(max_id + 1);
    size_t n = t->vocab_size;
    t->tokens = calloc(n, sizeof *t->tokens);
    t->token_len = calloc(n, sizeof *t->token_len);
    t->bytes = calloc(n, sizeof *t->bytes);
    t->bytes_len = calloc(n, sizeof *t->bytes_len);
    t->special = calloc(n, 1);
    t->smap_cap = pow2_at_least(2 * n);
    t->smap = calloc(t->smap_cap, sizeof *t->smap);
    if (!t->tokens || !t->token_len || !t->bytes || !t->bytes_len || !t->special || !t->smap)
        return ic_error_set(err, "%s: out of memory for %zu tokens", path, n);

    json_object_foreach(vocab, key, v) {
        uint32_t id = (uint32_t)json_integer_value(v);
        if (t->tokens[id])
            return ic_error_set(err, "%s: vocab id %u is used by \"%s\" and \"%s\"",
                                path, id, t->tokens[id], key);
        if (!(t->tokens[id] = strdup(key))) return ic_error_set(err, "%s: out of memory", path);
        t->token_len[id] = (uint32_t)strlen(key);
        smap_put(t, id);
    }
    /* unk_token must be in model.vocab itself, as `tokenizers` requires */
    json_t *unk = json_object_get(model, "unk_token");
    t->unk_id = -1;
    if (json_is_string(unk)) {
        t->unk_id = ic_tok_smap_get(t, json_string_value(unk), json_string_length(unk));
        if (t->unk_id < 0)
            return ic_error_set(err, "%s: unk_token \"%s\" is not in model.vocab", path,
                                json_string_value(unk));
    } else if (unk && !json_is_null(unk)) {
        return ic_error_set(err, "%s: unk_token is not a string", path);
    }
    t->n_added = (int)json_array_size(added);
    t->added = calloc((size_t)t->n_added + 1, sizeof *t->added);
    if (!t->added) return ic_error_set(err, "%s: out of memory", path);
    json_array_foreach(added, i, v) {
        uint32_t id = (uint32_t)json_integer_value(json_object_get(v, "id"));
        json_t *jc = json_object_get(v, "content");
        const char *content = json_string_value(jc);
        size_t len = json_string_length(jc);
        static const char *unsupported[] = {"single_word", "lstrip", "rstrip"};
        for (int k = 0; k < 3; k++)
            if (json_is_true(json_object_get(v, unsupported[k])))
                return ic_error_set(err, "%s: added token \"%s\" sets %s, which is not supported",
                                    path, content, unsupported[k]);
        if (len == 0) return ic_error_set(err, "%s: added_tokens[%zu] is empty", path, i);
        int64_t known = ic_tok_smap_get(t, content, len);
        if (known >= 0 && known != id)
            return ic_error_set(err, "%s: added token \"%s\" has id %u but the vocab says %lld",
                                path, content, id, (long long)known);
        if (known < 0) {
            if (t->tokens[id])
                return ic_error_set(err, "%s: added token \"%s\" reuses id %u of \"%s\"",
                                    path, content, id, t->tokens[id]);
            if (!(t->tokens[id] = malloc(len + 1))) return ic_error_set(err, "%s: out of memory", path);
            memcpy(t->tokens[id], content, len + 1);
            t->token_len[id] = (uint32_t)len;
            smap_put(t, id);
        }
        t->special[id] = json_is_true(json_object_get(v, "special"));
        ic_added_token *a = &t->added[i];
        a->content = t->tokens[id];
        a->len = len;
        a->id = id;
        t->added_first[(unsigned char)content[0]] = 1;
    }
    for (uint32_t id = 0; id < t->vocab_size; id++)
        if (t->tokens[id] && token_bytes(t, id))
            return ic_error_set(err, "%s: out of memory", path);
    int n_bytes = 0;
    for (int b = 0; b < 256; b++) {
        unsigned char u[4];
        int len = ic_utf8_encode(t->byte_to_cp[b], u);
        t->byte_id[b] = (int32_t)ic_tok_smap_get(t, (const char *)u, (size_t)len);
        n_bytes += t->byte_id[b] >= 0;
    }
    /* Real vocabs may lack a few bytes (SmolLM2 lacks 21: controls and bytes
     * that never occur in UTF-8); those encode as unk_token. Lacking most of
     * them means this is not a byte-level vocab at all. */
    if (n_bytes < 128)
        return ic_error_set(err, "%s: vocab has tokens for only %d of the 256 byte-level "
                            "characters (not a byte-level BPE vocab)", path, n_bytes);
    t->fuse_unk = json_is_true(json_object_get(model, "fuse_unk"));
    return 0;
}

static int parse_merges(ic_tokenizer *t, json_t *model, ic_error *err) {
    const char *path = t->path;
    json_t *merges = json_object_get(model, "merges");
    if (!json_is_array(merges))
        return ic_error_set(err, "%s: model has no \"merges\" array", path);
    size_t n = json_array_size(merges);
    t->n_merges = (uint32_t)n;
    t->pmap_cap = pow2_at_least(2 * n + 1);
    t->pmap = malloc(t->pmap_cap * sizeof *t->pmap);
    if (!t->pmap) return ic_error_set(err, "%s: out of memory for %zu merges", path, n);
    for (size_t i = 0; i < t->pmap_cap; i++) t->pmap[i].key = UINT64_MAX;
    size_t i;
    json_t *m;
    char *buf = NULL;
    size_t cap = 0;
    int rc = 0;
    json_array_foreach(merges, i, m) {
        const char *a, *b;
        size_t la, lb;
        const char *s = json_string_value(m);
        if (s) {   /* "a b": exactly one space (byte-level tokens never hold one) */
            const char *sp = strchr(s, ' ');
            if (!sp || sp == s || !sp[1] || strchr(sp + 1, ' ')) {
                rc = ic_error_set(err, "%s: merges[%zu] \"%s\" is not two tokens separated by "
                                  "one space", path, i, s);
                break;
            }
            a = s; la = (size_t)(sp - s); b = sp + 1; lb = strlen(b);
        } else if (json_is_array(m) && json_array_size(m) == 2 &&
                   json_is_string(json_array_get(m, 0)) && json_is_string(json_array_get(m, 1))) {
            a = json_string_value(json_array_get(m, 0)); la = json_string_length(json_array_get(m, 0));
            b = json_string_value(json_array_get(m, 1)); lb = json_string_length(json_array_get(m, 1));
        } else {
            rc = ic_error_set(err, "%s: merges[%zu] is neither \"a b\" nor [\"a\", \"b\"]", path, i);
            break;
        }
        if (la + lb + 1 > cap) {
            cap = 2 * (la + lb + 1);
            char *nb = realloc(buf, cap);
            if (!nb) { rc = ic_error_set(err, "%s: out of memory", path); break; }
            buf = nb;
        }
        memcpy(buf, a, la);
        memcpy(buf + la, b, lb);
        int64_t ia = ic_tok_smap_get(t, a, la), ib = ic_tok_smap_get(t, b, lb);
        int64_t im = ic_tok_smap_get(t, buf, la + lb);
        if (ia < 0 || ib < 0 || im < 0) {
            const char *missing = ia < 0 ? "left" : ib < 0 ? "right" : "merged";
            rc = ic_error_set(err, "%s: merges[%zu] (\"%.*s\" + \"%.*s\"): the %s token is not in "
                              "the vocab", path, i, (int)la, a, (int)lb, b, missing);
            break;
        }
        pair_put(t, (uint32_t)ia, (uint32_t)ib, (uint32_t)i, (uint32_t)im);
    }
    free(buf);
    return rc;
}

/* The model dir's files beside tokenizer.json name BOS/EOS: first
 * tokenizer_config.json (bos_token / eos_token: a string or {"content": ...}),
 * else config.json (bos_token_id / eos_token_id: an id or a list whose first
 * id counts), else "<|endoftext|>" when the vocab has it. */
static json_t *load_beside(const ic_tokenizer *t, const char *name) {
    const char *slash = strrchr(t->path, '/');
    size_t dir_len = slash ? (size_t)(slash - t->path + 1) : 0;
    char path[4096];
    if (dir_len + strlen(name) + 1 > sizeof path) return NULL;
    memcpy(path, t->path, dir_len);
    strcpy(path + dir_len, name);
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, NULL);
    if (root && !json_is_object(root)) { json_decref(root); root = NULL; }
    return root;
}

static void read_special_config(ic_tokenizer *t) {
    int64_t eot = ic_tok_smap_get(t, "<|endoftext|>", 13);
    int64_t found[2] = {-1, -1};
    json_t *tc = load_beside(t, "tokenizer_config.json");
    json_t *mc = load_beside(t, "config.json");
    static const char *names[2] = {"bos_token", "eos_token"};
    static const char *id_names[2] = {"bos_token_id", "eos_token_id"};
    for (int k = 0; k < 2; k++) {
        json_t *v = tc ? json_object_get(tc, names[k]) : NULL;
        if (json_is_object(v)) v = json_object_get(v, "content");
        if (json_is_string(v))
            found[k] = ic_tok_smap_get(t, json_string_value(v), json_string_length(v));
        v = mc ? json_object_get(mc, id_names[k]) : NULL;
        if (json_is_array(v)) v = json_array_get(v, 0);
        if (found[k] < 0 && json_is_integer(v) && json_integer_value(v) >= 0 &&
            json_integer_value(v) < (json_int_t)t->vocab_size && t->tokens[json_integer_value(v)])
            found[k] = json_integer_value(v);
    }
    t->bos_id = found[0] >= 0 ? found[0] : eot;
    t->eos_id = found[1] >= 0 ? found[1] : eot;
    json_decref(tc);
    json_decref(mc);
}

static int parse_root(ic_tokenizer *t, json_t *root, ic_error *err) {
    const char *path = t->path;
    json_t *model = json_object_get(root, "model");
    if (!json_is_object(model)) return ic_error_set(err, "%s: no \"model\" object", path);
    const char *type = json_string_value(json_object_get(model, "type"));
    if (type && strcmp(type, "BPE") != 0)
        return ic_error_set(err, "%s: model type \"%s\" is not supported (only BPE)", path, type);
    static const char *unsupported[] = {"dropout", "continuing_subword_prefix",
                                        "end_of_word_suffix", "byte_fallback"};
    for (int k = 0; k < 4; k++)
        if (!option_unset(json_object_get(model, unsupported[k])))
            return ic_error_set(err, "%s: BPE option \"%s\" is set; it is not supported", path,
                                unsupported[k]);
    t->ignore_merges = json_is_true(json_object_get(model, "ignore_merges"));
    json_t *norm = json_object_get(root, "normalizer");
    if (norm && !json_is_null(norm)) {
        const char *nt = json_string_value(json_object_get(norm, "type"));
        return ic_error_set(err, "%s: normalizer \"%s\" is not supported (only null)", path,
                            nt ? nt : "?");
    }
    json_t *dec = json_object_get(root, "decoder");
    if (dec && !json_is_null(dec)) {
        const char *dt = json_string_value(json_object_get(dec, "type"));
        if (!dt || strcmp(dt, "ByteLevel") != 0)
            return ic_error_set(err, "%s: decoder \"%s\" is not supported (only ByteLevel)", path,
                                dt ? dt : "?");
    }
    json_t *pre = json_object_get(root, "pre_tokenizer");
    if (!pre || json_is_null(pre))
        return ic_error_set(err, "%s: no pre_tokenizer; a byte-level BPE needs ByteLevel", path);
    if (parse_pre(t, pre, 0, err)) return -1;
    for (int k = 0; k < t->n_pre; k++)
        if (t->pre[k].kind == IC_PRE_BYTELEVEL && k != t->n_pre - 1)
            return ic_error_set(err, "%s: ByteLevel must be the last pre-tokenizer", path);
    if (t->n_pre == 0 || t->pre[t->n_pre - 1].kind != IC_PRE_BYTELEVEL)
        return ic_error_set(err, "%s: pre_tokenizer has no ByteLevel step; not a byte-level BPE", path);
    init_byte_map(t);
    if (parse_vocab(t, model, json_object_get(root, "added_tokens"), err)) return -1;
    if (parse_merges(t, model, err)) return -1;
    read_special_config(t);
    return 0;
}

int ic_tokenizer_init(ic_tokenizer **out, const char *path, ic_error *err) {
    *out = NULL;
    ic_tokenizer *t = calloc(1, sizeof *t);
    if (!t || !(t->path = strdup(path))) {
        free(t);
        return ic_error_set(err, "%s: out of memory", path);
    }
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        ic_error_set(err, "%s: cannot load tokenizer JSON (line %d, column %d): %s", path,
                     jerr.line, jerr.column, jerr.text);
        ic_tokenizer_free(t);
        return -1;
    }
    int rc = json_is_object(root) ? parse_root(t, root, err)
                                  : ic_error_set(err, "%s: top level is not an object", path);
    json_decref(root);
    if (rc == 0 && !(t->cache = calloc(IC_CACHE_SLOTS, sizeof *t->cache)))
        rc = ic_error_set(err, "%s: out of memory", path);
    if (rc) { ic_tokenizer_free(t); return -1; }
    *out = t;
    return 0;
}

void ic_tokenizer_free(ic_tokenizer *t) {
    if (!t) return;
    for (uint32_t i = 0; t->tokens && i < t->vocab_size; i++) free(t->tokens[i]);
    for (uint32_t i = 0; t->bytes && i < t->vocab_size; i++) free(t->bytes[i]);
    free(t->tokens); free(t->token_len); free(t->bytes); free(t->bytes_len); free(t->special);
    free(t->smap); free(t->pmap); free(t->added); free(t->cache);
    free(t->sym_id); free(t->sym_prev); free(t->sym_next); free(t->heap); free(t->word_buf);
    free(t->path);
    free(t);
}

/* ---- lookups and decode --------------------------------------------------- */

uint32_t ic_tokenizer_vocab_size(const ic_tokenizer *t) { return t->vocab_size; }
int64_t ic_tokenizer_bos_id(const ic_tokenizer *t) { return t->bos_id; }
int64_t ic_tokenizer_eos_id(const ic_tokenizer *t) { return t->eos_id; }

const char *ic_tokenizer_token(const ic_tokenizer *t, uint32_t id) {
    return id < t->vocab_size ? t->tokens[id] : NULL;
}

int64_t ic_tokenizer_token_id(const ic_tokenizer *t, const char *token) {
    return ic_tok_smap_get(t, token, strlen(token));
}

int ic_tokenizer_is_special(const ic_tokenizer *t, uint32_t id) {
    return id < t->vocab_size && t->special[id];
}

char *ic_tokenizer_decode(const ic_tokenizer *t, const uint32_t *ids, size_t n, size_t *len,
                          ic_error *err) {
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] >= t->vocab_size || !t->tokens[ids[i]]) {
            ic_error_set(err, "decode: id %u at position %zu is not in the vocab of %s (size %u)",
                         ids[i], i, t->path, t->vocab_size);
            return NULL;
        }
        total += t->bytes_len[ids[i]];
    }
    char *out = malloc(total + 1);
    if (!out) { ic_error_set(err, "decode: out of memory for %zu bytes", total); return NULL; }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(out + k, t->bytes[ids[i]], t->bytes_len[ids[i]]);
        k += t->bytes_len[ids[i]];
    }
    out[k] = 0;
    if (len) *len = k;
    return out;
}

void ic_ids_free(ic_ids *v) {
    free(v->ids);
    v->ids = NULL;
    v->n = v->cap = 0;
}

int ic_ids_push(ic_ids *v, uint32_t id, ic_error *err) {
    if (v->n == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 256;
        uint32_t *p = realloc(v->ids, cap * sizeof *p);
        if (!p) return ic_error_set(err, "out of memory for %zu token ids", cap);
        v->ids = p;
        v->cap = cap;
    }
    v->ids[v->n++] = id;
    return 0;
}
