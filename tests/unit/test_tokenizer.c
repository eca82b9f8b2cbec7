/* data/ic_tokenizer: malformed tokenizer.json files are refused with a
 * message naming the file and the fault; hand-derived BPE cases on a tiny
 * vocab; any bytes (invalid UTF-8 included) encode without faults and decode
 * back to themselves.
 *
 * The agreement with Hugging Face `tokenizers` on the real SmolLM2 vocab is
 * tests/interop/test_tokenizer_oracle.py, which runs this binary in tool mode:
 *   test_tokenizer --encode TOKENIZER.json IN OUT   records of (u32 len, bytes)
 *       -> records of (u32 n, n x u32 ids)
 *   test_tokenizer --decode TOKENIZER.json IN OUT   records of (u32 n, ids)
 *       -> records of (u32 len, bytes)
 *   test_tokenizer --pretok TOKENIZER.json IN OUT   records of (u32 len, bytes)
 *       -> records of (u32 n, n x word) with word = (u32 len, bytes) or
 *          (0xFFFFFFFF, u32 id) for an added token
 *   test_tokenizer --bench TOKENIZER.json TEXT      encode speed, MB/s */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/ic_fs.h"
#include "data/ic_tokenizer.h"
#include "testutil.h"

/* ---- a tiny byte-level vocab built here --------------------------------- */

/* GPT-2 bytes_to_unicode, written independently of the library's copy. */
static void byte_char(int b, char out[4]) {
    int cp = b;
    if (!((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174)) {
        int k = 0;
        for (int x = 0; x < b; x++)
            if (!((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || x >= 174)) k++;
        cp = 256 + k;
    }
    memset(out, 0, 4);
    if (cp < 0x80) out[0] = (char)cp;
    else { out[0] = (char)(0xC0 | (cp >> 6)); out[1] = (char)(0x80 | (cp & 0x3F)); }
}

/* vocab: the 256 byte tokens (ids 0..255), then `extra` tokens; merges as
 * given; `pre` is the pre_tokenizer JSON text (NULL = ByteLevel). Returns a
 * path in a fresh temp dir. Mutations of the valid document make the
 * malformed ones. */
static json_t *tiny_doc(const char **extra, int n_extra, const char **merges, int n_merges) {
    json_t *vocab = json_object();
    for (int b = 0; b < 256; b++) {
        char c[4];
        byte_char(b, c);
        json_object_set_new(vocab, c, json_integer(b));
    }
    for (int i = 0; i < n_extra; i++) json_object_set_new(vocab, extra[i], json_integer(256 + i));
    json_t *m = json_array();
    for (int i = 0; i < n_merges; i++) json_array_append_new(m, json_string(merges[i]));
    json_t *model = json_pack("{s:s, s:o, s:o}", "type", "BPE", "vocab", vocab, "merges", m);
    json_t *pre = json_pack("{s:s, s:b, s:b}", "type", "ByteLevel", "add_prefix_space", 0,
                            "use_regex", 1);
    json_t *added = json_pack("[{s:i, s:s, s:b}]", "id", 256 + n_extra, "content", "<|eot|>",
                              "special", 1);
    return json_pack("{s:o, s:o, s:o, s:n, s:{s:s}}", "model", model, "pre_tokenizer", pre,
                     "added_tokens", added, "normalizer", "decoder", "type", "ByteLevel");
}

/* One scratch dir per process (ic_test_tmpdir's buffer lives until exit),
 * a fresh file name per call. */
static const char *scratch(const char *name) {
    static const char *dir = NULL;
    static char path[4200];
    static int counter = 0;
    if (!dir) dir = ic_test_tmpdir("tok");
    snprintf(path, sizeof path, "%s/%d_%s", dir, counter++, name);
    return path;
}

static const char *write_doc(json_t *doc, const char *tag) {
    static char path[4200];
    snprintf(path, sizeof path, "%s", scratch(tag));
    ic_mkdir_p(path, NULL);
    strcat(path, "/tokenizer.json");
    ck_assert_int_eq(json_dump_file(doc, path, 0), 0);
    json_decref(doc);
    return path;
}

static void expect_refused(json_t *doc, const char *needle) {
    const char *path = write_doc(doc, "tokbad");
    ic_tokenizer *t = NULL;
    ic_error err;
    ic_error_clear(&err);
    ck_assert_int_eq(ic_tokenizer_init(&t, path, &err), -1);
    ck_assert_ptr_null(t);
    ck_assert_msg(strstr(err.msg, needle) != NULL, "message \"%s\" lacks \"%s\"", err.msg, needle);
    ck_assert_msg(strstr(err.msg, path) != NULL, "message \"%s\" does not name the file", err.msg);
}

static const char *EXTRA[] = {"aa", "aaa", "Ġa", "Ġaa"};
static const char *MERGES[] = {"a a", "aa a", "Ġ a", "Ġa a"};

START_TEST(test_malformed) {
    /* not JSON at all */
    char path[4200];
    snprintf(path, sizeof path, "%s", scratch("notjson.json"));
    ic_error err;
    ic_error_clear(&err);
    ck_assert_int_eq(ic_write_file_atomic(path, "{\"model\": [1, 2", 15, &err), 0);
    ic_tokenizer *t = NULL;
    ck_assert_int_eq(ic_tokenizer_init(&t, path, &err), -1);
    ck_assert(strstr(err.msg, "cannot load tokenizer JSON") && strstr(err.msg, path));
    ic_error_clear(&err);
    ck_assert_int_eq(ic_tokenizer_init(&t, "/nonexistent/tokenizer.json", &err), -1);
    ck_assert(strstr(err.msg, "/nonexistent/tokenizer.json"));

    json_t *d = tiny_doc(EXTRA, 4, MERGES, 4);
    json_object_del(d, "model");
    expect_refused(d, "no \"model\" object");

    d = tiny_doc(EXTRA, 4, MERGES, 4);
    json_object_set_new(json_object_get(d, "model"), "type", json_string("WordPiece"));
    expect_refused(d, "model type \"WordPiece\"");

    d = tiny_doc(EXTRA, 4, MERGES, 4);
    json_object_set_new(d, "pre_tokenizer", json_pack("{s:s}", "type", "Metaspace"));
    expect_refused(d, "pre_tokenizer type \"Metaspace\" is not supported");

    d = tiny_doc(EXTRA, 4, MERGES, 4);   /* unknown step inside a Sequence */
    json_object_set_new(d, "pre_tokenizer", json_pack("{s:s, s:[{s:s}, {s:s}]}", "type", "Sequence",
                        "pretokenizers", "type", "Punctuation", "type", "ByteLevel"));
    expect_refused(d, "\"Punctuation\"");

    d = tiny_doc(EXTRA, 4, MERGES, 4);
    json_object_set_new(d, "pre_tokenizer", json_pack("{s:s, s:b}", "type", "Digits",
                        "individual_digits", 1));
    expect_refused(d, "no ByteLevel step");

    d = tiny_doc(EXTRA, 4, MERGES, 4);
    json_object_set_new(d, "normalizer", json_pack("{s:s}", "type", "NFKC"));
    expect_refused(d, "normalizer \"NFKC\"");

    d = tiny_doc(EXTRA, 4, MERGES, 4);
    json_object_set_new(json_object_get(d, "model"), "continuing_subword_prefix", json_string("##"));
    expect_refused(d, "continuing_subword_prefix");

    const char *bad1[] = {"a a", "aa b"};   /* "aab" is not in the vocab */
    expect_refused(tiny_doc(EXTRA, 4, bad1, 2), "merges[1] (\"aa\" + \"b\"): the merged token");
    const char *bad2[] = {"a a", "q Ġzz"};
    expect_refused(tiny_doc(EXTRA, 4, bad2, 2), "the right token is not in the vocab");
    const char *bad3[] = {"aa"};
    expect_refused(tiny_doc(EXTRA, 4, bad3, 1), "merges[0] \"aa\" is not two tokens");
    const char *bad4[] = {"a a a"};
    expect_refused(tiny_doc(EXTRA, 4, bad4, 1), "is not two tokens");
    d = tiny_doc(EXTRA, 4, MERGES, 4);
    json_array_append_new(json_object_get(json_object_get(d, "model"), "merges"), json_integer(7));
    expect_refused(d, "merges[4] is neither");

    d = tiny_doc(EXTRA, 4, MERGES, 4);
    json_object_del(json_object_get(d, "model"), "merges");
    expect_refused(d, "no \"merges\" array");

    d = tiny_doc(EXTRA, 4, MERGES, 4);   /* most byte tokens missing: not byte-level */
    for (int b = 'a'; b <= 'z'; b++) {
        char c[2] = {(char)b, 0};
        json_object_set_new(json_object_get(json_object_get(d, "model"), "vocab"), c,
                            json_integer(1000 + b));
    }
    for (int b = 0; b < 200; b++) {
        char c[4];
        byte_char(b, c);
        json_object_del(json_object_get(json_object_get(d, "model"), "vocab"), c);
    }
    expect_refused(d, "tokens for only 56 of the 256 byte-level characters");

    d = tiny_doc(EXTRA, 4, MERGES, 4);
    json_object_set_new(json_object_get(d, "model"), "unk_token", json_string("<nope>"));
    expect_refused(d, "unk_token \"<nope>\" is not in model.vocab");
    d = tiny_doc(EXTRA, 4, MERGES, 4);   /* an added token is not enough */
    json_object_set_new(json_object_get(d, "model"), "unk_token", json_string("<|eot|>"));
    expect_refused(d, "unk_token \"<|eot|>\" is not in model.vocab");

    d = tiny_doc(EXTRA, 4, MERGES, 4);
    json_object_set_new(json_object_get(json_object_get(d, "model"), "vocab"), "zz", json_integer(3));
    expect_refused(d, "vocab id 3 is used by");

    d = tiny_doc(EXTRA, 4, MERGES, 4);
    json_object_set_new(json_object_get(json_object_get(d, "model"), "vocab"), "zz", json_integer(-4));
    expect_refused(d, "vocab entry \"zz\" has no valid id");

    d = tiny_doc(EXTRA, 4, MERGES, 4);   /* an added token claiming a vocab token's id */
    json_array_append_new(json_object_get(d, "added_tokens"),
                          json_pack("{s:i, s:s}", "id", 65, "content", "<x>"));
    expect_refused(d, "reuses id 65");
}
END_TEST

static ic_tokenizer *load_tiny(int pair_form) {
    json_t *d = tiny_doc(EXTRA, 4, MERGES, 4);
    if (pair_form) {   /* the same merges as [a, b] lists */
        json_t *m = json_array();
        for (int i = 0; i < 4; i++) {
            char buf[16];
            snprintf(buf, sizeof buf, "%s", MERGES[i]);
            char *sp = strchr(buf, ' ');
            *sp = 0;
            json_array_append_new(m, json_pack("[s, s]", buf, sp + 1));
        }
        json_object_set_new(json_object_get(d, "model"), "merges", m);
    }
    const char *path = write_doc(d, "toktiny");
    ic_tokenizer *t = NULL;
    ic_error err;
    ic_error_clear(&err);
    ck_assert_msg(ic_tokenizer_init(&t, path, &err) == 0, "%s", err.msg);
    return t;
}

static void expect_ids(ic_tokenizer *t, const char *text, const uint32_t *want, size_t n) {
    ic_ids v = {0};
    ic_error err;
    ic_error_clear(&err);
    ck_assert_int_eq(ic_tokenizer_encode(t, text, strlen(text), &v, &err), 0);
    ck_assert_msg(v.n == n, "\"%s\": %zu ids, want %zu", text, v.n, n);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(v.ids[i] == want[i], "\"%s\" id %zu: %u, want %u", text, i, v.ids[i], want[i]);
    ic_ids_free(&v);
}

/* Expected ids worked out by hand from the merge list:
 * ids: a=97, ' '->"Ġ"=32 (byte 0x20 maps to U+0120), aa=256, aaa=257, Ġa=258, Ġaa=259, <|eot|>=260. */
START_TEST(test_tiny_bpe) {
    for (int form = 0; form < 2; form++) {
        ic_tokenizer *t = load_tiny(form);
        ck_assert_uint_eq(ic_tokenizer_vocab_size(t), 261);
        ck_assert_int_eq(ic_tokenizer_token_id(t, "Ġaa"), 259);
        ck_assert_str_eq(ic_tokenizer_token(t, 257), "aaa");
        ck_assert_int_eq(ic_tokenizer_eos_id(t), -1);   /* no <|endoftext|>, no config */
        ck_assert(ic_tokenizer_is_special(t, 260) && !ic_tokenizer_is_special(t, 97));
        /* "aaa": (a,a)@0 rank 0 first, then (aa,a) rank 1 */
        expect_ids(t, "aaa", (uint32_t[]){257}, 1);
        /* "aaaa": (a,a)@0, then (aa,a) rank 1 beats the remaining (a,a)? no:
         * (a,a)@2 has rank 0 < 1, so aa|aa, and (aa,aa) is no merge */
        expect_ids(t, "aaaa", (uint32_t[]){256, 256}, 2);
        /* " aa b a": the regex gives " aa", " b", " a"; in " aa" the pair
         * (a,a) rank 0 goes before (Ġ,a) rank 2 and (Ġ,aa) is no merge */
        expect_ids(t, " aa b a", (uint32_t[]){32, 256, 32, 98, 258}, 5);
        /* the added token is cut out before pre-tokenization */
        expect_ids(t, "a<|eot|>aa", (uint32_t[]){97, 260, 256}, 3);
        /* regex: contractions, a space before punctuation, a whitespace run
         * keeps its last space for the next word */
        expect_ids(t, "x's  a!?", (uint32_t[]){120, 39, 115, 32, 258, 33, 63}, 7);
        ic_tokenizer_free(t);
    }
}
END_TEST

/* A byte missing from the vocab is unk_token, fused with fuse_unk, dropped
 * without an unk_token (the `tokenizers` BPE rules). */
START_TEST(test_missing_byte_unk) {
    for (int mode = 0; mode < 3; mode++) {
        json_t *d = tiny_doc(EXTRA, 4, MERGES, 4);
        json_t *model = json_object_get(d, "model");
        json_object_del(json_object_get(model, "vocab"), "x");
        /* unk_token must be in model.vocab, not only an added token */
        json_object_set_new(json_object_get(model, "vocab"), "<|eot|>", json_integer(260));
        if (mode > 0) json_object_set_new(model, "unk_token", json_string("<|eot|>"));
        if (mode == 2) json_object_set_new(model, "fuse_unk", json_true());
        const char *path = write_doc(d, "tokunk");
        ic_tokenizer *t = NULL;
        ic_error err;
        ic_error_clear(&err);
        ck_assert_msg(ic_tokenizer_init(&t, path, &err) == 0, "%s", err.msg);
        if (mode == 0) expect_ids(t, "axxb", (uint32_t[]){97, 98}, 2);
        if (mode == 1) expect_ids(t, "axxb", (uint32_t[]){97, 260, 260, 98}, 4);
        if (mode == 2) expect_ids(t, "axxb", (uint32_t[]){97, 260, 98}, 3);
        expect_ids(t, "xx", (uint32_t[]){260, 260}, mode == 0 ? 0 : 3 - (size_t)mode);
        ic_tokenizer_free(t);
    }
}
END_TEST

/* ignore_merges: a word that is itself a token is taken whole, even when no
 * merge builds it; other words still go through the merges. */
START_TEST(test_ignore_merges) {
    static const char *extra[] = {"aa", "ab"};
    static const char *merges[] = {"a a"};
    for (int ignore = 0; ignore < 2; ignore++) {
        json_t *d = tiny_doc(extra, 2, merges, 1);
        json_object_set_new(json_object_get(d, "model"), "ignore_merges", json_boolean(ignore));
        const char *path = write_doc(d, "tokign");
        ic_tokenizer *t = NULL;
        ic_error err;
        ic_error_clear(&err);
        ck_assert_msg(ic_tokenizer_init(&t, path, &err) == 0, "%s", err.msg);
        if (ignore) expect_ids(t, "ab", (uint32_t[]){257}, 1);
        else expect_ids(t, "ab", (uint32_t[]){97, 98}, 2);
        expect_ids(t, "aab", (uint32_t[]){256, 98}, 2);
        ic_tokenizer_free(t);
    }
}
END_TEST

/* BOS/EOS from the files beside tokenizer.json, in their order of precedence. */
START_TEST(test_special_ids) {
    const char *path = write_doc(tiny_doc(EXTRA, 4, MERGES, 4), "tokspecial");
    char dir[4200], side[4300];
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = 0;
    ic_error err;
    ic_error_clear(&err);
    snprintf(side, sizeof side, "%s/config.json", dir);
    const char *cfg = "{\"bos_token_id\": 257, \"eos_token_id\": [260, 1]}";
    ck_assert_int_eq(ic_write_file_atomic(side, cfg, strlen(cfg), &err), 0);
    ic_tokenizer *t = NULL;
    ck_assert_int_eq(ic_tokenizer_init(&t, path, &err), 0);
    ck_assert_int_eq(ic_tokenizer_bos_id(t), 257);
    ck_assert_int_eq(ic_tokenizer_eos_id(t), 260);
    ic_tokenizer_free(t);
    snprintf(side, sizeof side, "%s/tokenizer_config.json", dir);
    cfg = "{\"eos_token\": {\"content\": \"aa\"}}";
    ck_assert_int_eq(ic_write_file_atomic(side, cfg, strlen(cfg), &err), 0);
    ck_assert_int_eq(ic_tokenizer_init(&t, path, &err), 0);
    ck_assert_int_eq(ic_tokenizer_bos_id(t), 257);
    ck_assert_int_eq(ic_tokenizer_eos_id(t), 256);
    ic_tokenizer_free(t);
}
END_TEST

START_TEST(test_any_bytes_round_trip) {
    ic_tokenizer *t = load_tiny(0);
    ic_rng r;
    ic_rng_seed(&r, 1234);
    ic_error err;
    ic_error_clear(&err);
    /* random bytes, biased towards the interesting ones */
    static const unsigned char pool[] = {'a', ' ', '\'', 's', '\n', '\t', '1', 0xC3, 0xA9, 0xE4,
                                         0xB8, 0xAD, 0xF0, 0x9F, 0x98, 0x80, 0xFF, 0x80, 0xED,
                                         0xA0, '<', '|', 'e', 'o', 't', '>', 0};
    for (int iter = 0; iter < 2000; iter++) {
        size_t n = (size_t)(ic_rng_uniform(&r) * 80);
        unsigned char buf[80];
        for (size_t i = 0; i < n; i++)
            buf[i] = ic_rng_uniform(&r) < 0.5 ? (unsigned char)(ic_rng_next(&r) & 0xFF)
                                              : pool[ic_rng_next(&r) % sizeof pool];
        ic_ids v = {0};
        ck_assert_int_eq(ic_tokenizer_encode(t, (const char *)buf, n, &v, &err), 0);
        size_t len = 0;
        char *back = ic_tokenizer_decode(t, v.ids, v.n, &len, &err);
        ck_assert_ptr_nonnull(back);
        ck_assert_uint_eq(len, n);
        ck_assert(memcmp(back, buf, n) == 0);
        free(back);
        ic_ids_free(&v);
    }
    uint32_t bad[2] = {5, 9999};
    ck_assert_ptr_null(ic_tokenizer_decode(t, bad, 2, NULL, &err));
    ck_assert(strstr(err.msg, "id 9999 at position 1"));
    ic_tokenizer_free(t);
}
END_TEST

/* Encoding the two sides of a safe cut separately equals encoding the whole. */
START_TEST(test_safe_cut) {
    /* whitespace merges make a wrong split of a whitespace run visible in the ids */
    static const char *extra[] = {"aa", "ĊĊ", "ĠĠ", "ĊĠ", "ĠĊ", "ĉĊ", "Ġa"};
    static const char *merges[] = {"a a", "Ċ Ċ", "Ġ Ġ", "Ċ Ġ", "Ġ Ċ", "ĉ Ċ", "Ġ a"};
    const char *path = write_doc(tiny_doc(extra, 7, merges, 7), "tokcut");
    ic_tokenizer *t = NULL;
    ic_error err;
    ic_error_clear(&err);
    ck_assert_msg(ic_tokenizer_init(&t, path, &err) == 0, "%s", err.msg);
    ic_rng r;
    ic_rng_seed(&r, 99);
    static const char *pieces[] = {"a", "aa", " ", "\n", "\n\n", "\t", "'s", "1", "\xc3\xa9", "\xe2\x80\xa8",
                                   "\xc2\x85", "\x80", "\xe2", "!", "<|eot|>", " a", "\r\n"};
    int cuts = 0;
    for (int iter = 0; iter < 3000; iter++) {
        char buf[512];
        size_t n = 0;
        int k = 1 + (int)(ic_rng_uniform(&r) * 40);
        for (int i = 0; i < k; i++) {
            const char *p = pieces[ic_rng_next(&r) % (sizeof pieces / sizeof *pieces)];
            memcpy(buf + n, p, strlen(p));
            n += strlen(p);
        }
        /* a cut found in a prefix must hold for the whole text too */
        size_t m = iter % 2 ? n : (size_t)(ic_rng_uniform(&r) * (double)(n + 1));
        size_t max_cut = iter % 3 ? m : (size_t)(ic_rng_uniform(&r) * (double)(m + 1));
        size_t cut = ic_tokenizer_safe_cut(t, buf, m, max_cut);
        if (cut == 0) continue;
        ck_assert(cut < m && cut <= max_cut && buf[cut - 1] == '\n');
        cuts++;
        ic_ids whole = {0}, parts = {0};
        ck_assert_int_eq(ic_tokenizer_encode(t, buf, n, &whole, &err), 0);
        ck_assert_int_eq(ic_tokenizer_encode(t, buf, cut, &parts, &err), 0);
        ck_assert_int_eq(ic_tokenizer_encode(t, buf + cut, n - cut, &parts, &err), 0);
        ck_assert_uint_eq(whole.n, parts.n);
        ck_assert(memcmp(whole.ids, parts.ids, whole.n * sizeof *whole.ids) == 0);
        ic_ids_free(&whole);
        ic_ids_free(&parts);
    }
    ck_assert_int_gt(cuts, 200);
    ic_tokenizer_free(t);
}
END_TEST

/* ---- tool mode for the interop tests ------------------------------------ */

static int read_u32(FILE *f, uint32_t *v) { return fread(v, 4, 1, f) == 1; }

/* --pretok: words as (u32 len, bytes); an added token as (0xFFFFFFFF, u32 id). */
typedef struct { char *buf; size_t n, cap; uint32_t count; } word_list;

static int collect_word(void *ctx, const char *w, size_t len) {
    word_list *l = ctx;
    size_t need = l->n + 8 + (w ? len : 0);
    if (need > l->cap) {
        l->cap = 2 * need;
        l->buf = realloc(l->buf, l->cap);
    }
    uint32_t head[2] = {w ? (uint32_t)len : UINT32_MAX, (uint32_t)len};
    memcpy(l->buf + l->n, head, w ? 4 : 8);
    l->n += w ? 4 : 8;
    if (w) { memcpy(l->buf + l->n, w, len); l->n += len; }
    l->count++;
    return 0;
}

static int tool(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: see the comment at the top of test_tokenizer.c\n"); return 2; }
    ic_error err;
    ic_error_clear(&err);
    ic_tokenizer *t = NULL;
    if (ic_tokenizer_init(&t, argv[2], &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
    int rc = 0;
    if (strcmp(argv[1], "--bench") == 0) {
        size_t len;
        char *text = ic_read_file(argv[3], &len, &err);
        if (!text) { fprintf(stderr, "%s\n", err.msg); ic_tokenizer_free(t); return 1; }
        ic_ids v = {0};
        for (int pass = 0; pass < 2 && rc == 0; pass++) {   /* pass 0 fills the cache */
            struct timespec a, b;
            v.n = 0;
            clock_gettime(CLOCK_MONOTONIC, &a);
            rc = ic_tokenizer_encode(t, text, len, &v, &err);
            clock_gettime(CLOCK_MONOTONIC, &b);
            double s = (double)(b.tv_sec - a.tv_sec) + 1e-9 * (double)(b.tv_nsec - a.tv_nsec);
            printf("%s pass: %zu bytes -> %zu tokens in %.3f s = %.2f MB/s\n",
                   pass ? "warm" : "cold", len, v.n, s, (double)len / s / 1e6);
        }
        ic_ids_free(&v);
        free(text);
        ic_tokenizer_free(t);
        return rc ? 1 : 0;
    }
    if (argc < 5) { ic_tokenizer_free(t); return 2; }
    FILE *in = fopen(argv[3], "rb"), *out = fopen(argv[4], "wb");
    if (!in || !out) { perror("open"); rc = 1; goto done; }
    int encode = strcmp(argv[1], "--decode") != 0;
    uint32_t n;
    while (rc == 0 && read_u32(in, &n)) {
        size_t unit = encode ? 1 : 4;
        char *buf = malloc((size_t)n * unit + 1);
        if (!buf || fread(buf, unit, n, in) != n) { fprintf(stderr, "short record\n"); free(buf); rc = 1; break; }
        if (strcmp(argv[1], "--pretok") == 0) {
            word_list l = {0};
            rc = ic_tokenizer_pretokenize(t, buf, n, collect_word, &l, &err);
            fwrite(&l.count, 4, 1, out);
            if (l.n) fwrite(l.buf, 1, l.n, out);
            free(l.buf);
        } else if (encode) {
            ic_ids v = {0};
            rc = ic_tokenizer_encode(t, buf, n, &v, &err);
            uint32_t k = (uint32_t)v.n;
            fwrite(&k, 4, 1, out);
            if (v.n) fwrite(v.ids, 4, v.n, out);
            ic_ids_free(&v);
        } else {
            size_t len;
            char *s = ic_tokenizer_decode(t, (uint32_t *)buf, n, &len, &err);
            if (!s) rc = 1;
            else {
                uint32_t k = (uint32_t)len;
                fwrite(&k, 4, 1, out);
                fwrite(s, 1, len, out);
                free(s);
            }
        }
        free(buf);
    }
    if (rc) fprintf(stderr, "%s\n", err.msg);
done:
    if (in) fclose(in);
    if (out && fclose(out)) rc = 1;
    ic_tokenizer_free(t);
    return rc;
}

int main(int argc, char **argv) {
    if (argc > 1) return tool(argc, argv);
    Suite *s = suite_create("tokenizer");
    TCase *tc = tcase_create("tokenizer");
    tcase_add_test(tc, test_malformed);
    tcase_add_test(tc, test_tiny_bpe);
    tcase_add_test(tc, test_missing_byte_unk);
    tcase_add_test(tc, test_special_ids);
    tcase_add_test(tc, test_ignore_merges);
    tcase_add_test(tc, test_any_bytes_round_trip);
    tcase_add_test(tc, test_safe_cut);
    suite_add_tcase(s, tc);
    return ic_test_run_suite(s);
}
