/* The periodic pattern rule and the three pattern keys of config.json
 * (docs/FORMATS.md): index_topk_pattern, indexer_types and
 * index_topk_freq + index_skip_topk_offset. The rule is checked against the
 * GLM-5.2 layer list written out by hand and a brute-force evaluation of
 * max(i - O + 1, 0) % F == 0; configs are written as text, loaded, saved
 * and reloaded. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "model/ic_config.h"
#include "model/ic_pattern.h"
#include "testutil.h"

/* GLM-5.2: 78 layers, freq 4, offset 3 -> Full 0, 1, 2, 6, 10, ..., 74. */
static void glm52(char *c) {
    for (int l = 0; l < 78; l++) c[l] = 'S';
    c[0] = c[1] = c[2] = 'F';
    for (int l = 6; l <= 74; l += 4) c[l] = 'F';
    c[78] = '\0';
}

static int n_full(const char *c) { int n = 0; for (; *c; c++) n += *c == 'F'; return n; }

START_TEST(test_freq_rule) {
    char want[80], got[IC_MAX_LAYERS + 1];
    ic_error err; ic_error_clear(&err);
    glm52(want);
    ck_assert_int_eq(n_full(want), 21);
    ck_assert_int_eq(ic_pattern_freq_fill(got, 78, 4, 3, &err), 0);
    ck_assert_str_eq(got, want);
    ic_pattern p;
    ck_assert_int_eq(ic_pattern_parse(&p, "freq:4,offset:3", 78, &err), 0);
    ck_assert_str_eq(p.c, want);
    int f = 0, o = 0;
    ck_assert_int_eq(ic_pattern_find_freq(want, 78, &f, &o), 1);
    ck_assert_int_eq(f, 4);
    ck_assert_int_eq(o, 3);

    /* brute force over small F, O, n; offset 0 is valid with freq 1 only */
    for (int n = 1; n <= 20; n++)
        for (int F = 1; F <= 6; F++)
            for (int O = 0; O <= 8; O++) {
                ic_error e2; ic_error_clear(&e2);
                int rc = ic_pattern_freq_fill(got, n, F, O, &e2);
                char bf[32];
                for (int i = 0; i < n; i++) { int k = i - O + 1; bf[i] = ((k > 0 ? k : 0) % F == 0) ? 'F' : 'S'; }
                bf[n] = '\0';
                if (bf[0] != 'F') {
                    ck_assert_int_eq(rc, -1);
                    ck_assert_msg(strstr(e2.msg, "layer 0") != NULL, "%s", e2.msg);
                    continue;
                }
                ck_assert_int_eq(rc, 0);
                ck_assert_str_eq(got, bf);
                /* find_freq gives a (freq, offset) that reproduces it */
                int ff, oo;
                ck_assert_int_eq(ic_pattern_find_freq(bf, n, &ff, &oo), 1);
                ck_assert_int_le(ff, F);
                ck_assert_int_eq(ic_pattern_freq_fill(got, n, ff, oo, NULL), 0);
                ck_assert_str_eq(got, bf);
            }
    /* freq 1: all Full, any offset */
    ck_assert_int_eq(ic_pattern_parse(&p, "freq:1,offset:0", 5, &err), 0);
    ck_assert_str_eq(p.c, "FFFFF");
    ck_assert_int_eq(ic_pattern_parse(&p, "freq:1", 5, &err), 0);
    ck_assert_str_eq(p.c, "FFFFF");
    /* freq:R without an offset is uniform:R */
    ic_pattern q;
    ck_assert_int_eq(ic_pattern_parse(&p, "freq:4", 30, &err), 0);
    ck_assert_int_eq(ic_pattern_parse(&q, "uniform:4", 30, &err), 0);
    ck_assert_str_eq(p.c, q.c);
    /* a pattern no (freq, offset) gives */
    ck_assert_int_eq(ic_pattern_find_freq("FSFFSSSF", 8, &f, &o), 0);
    ck_assert_int_eq(err.code, 0);
}
END_TEST

static void expect_bad_spec(const char *spec, int n, const char *needle) {
    ic_pattern p; ic_error err; ic_error_clear(&err);
    ck_assert_msg(ic_pattern_parse(&p, spec, n, &err) == -1, "'%s' accepted", spec);
    ck_assert_msg(strstr(err.msg, needle) != NULL, "'%s': '%s' lacks '%s'", spec, err.msg, needle);
}

START_TEST(test_freq_spec_bad) {
    expect_bad_spec("freq:0", 8, "F >= 1");
    expect_bad_spec("freq:", 8, "F >= 1");
    expect_bad_spec("freq:x", 8, "F >= 1");
    expect_bad_spec("freq:4,off:3", 8, "offset:O");
    expect_bad_spec("freq:4,offset:", 8, "offset:O");
    expect_bad_spec("freq:4,offset:-1", 8, "offset:O");
    expect_bad_spec("freq:4,offset:0", 8, "layer 0");
}
END_TEST

/* ---- config.json ---------------------------------------------------------- */

static const char *write_cfg(const char *tag, int n_layers, const char *extra) {
    const char *dir = ic_test_tmpdir(tag);
    static char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    ck_assert(f != NULL);
    fprintf(f, "{\"architectures\": [\"LlamaForCausalLM\"], \"vocab_size\": 64, \"hidden_size\": 16, "
               "\"intermediate_size\": 32, \"num_hidden_layers\": %d, \"num_attention_heads\": 2, "
               "\"index_n_heads\": 2, \"index_head_dim\": 8, \"index_topk\": 4%s%s}\n",
            n_layers, extra[0] ? ", " : "", extra);
    fclose(f);
    return path;
}

static void load_ok(int n_layers, const char *extra, const char *want) {
    ic_config c; ic_error err; ic_error_clear(&err);
    const char *path = write_cfg("cfgok", n_layers, extra);
    ck_assert_msg(ic_config_load(&c, path, &err) == 0, "%s: %s", extra, err.msg);
    ck_assert_str_eq(c.index_topk_pattern, want);
}

static void load_bad(int n_layers, const char *extra, const char *n1, const char *n2) {
    ic_config c; ic_error err; ic_error_clear(&err);
    const char *path = write_cfg("cfgbad", n_layers, extra);
    ck_assert_msg(ic_config_load(&c, path, &err) == -1, "accepted: %s", extra);
    ck_assert_msg(strstr(err.msg, n1) != NULL, "'%s' lacks '%s'", err.msg, n1);
    if (n2) ck_assert_msg(strstr(err.msg, n2) != NULL, "'%s' lacks '%s'", err.msg, n2);
}

START_TEST(test_config_keys) {
    char glm[80], types[78 * 12 + 8], ex[2048];
    glm52(glm);
    char *t = types;
    t += sprintf(t, "[");
    for (int l = 0; l < 78; l++) t += sprintf(t, "%s\"%s\"", l ? ", " : "", glm[l] == 'F' ? "full" : "shared");
    sprintf(t, "]");

    /* each key alone, then all three together */
    snprintf(ex, sizeof ex, "\"index_topk_pattern\": \"%s\"", glm);
    load_ok(78, ex, glm);
    snprintf(ex, sizeof ex, "\"indexer_types\": %s", types);
    load_ok(78, ex, glm);
    load_ok(78, "\"index_topk_freq\": 4, \"index_skip_topk_offset\": 3", glm);
    snprintf(ex, sizeof ex, "\"index_topk_pattern\": \"%s\", \"indexer_types\": %s, \"index_topk_freq\": 4, "
             "\"index_skip_topk_offset\": 3", glm, types);
    load_ok(78, ex, glm);
    /* GLM-5.2 publishes index_topk_pattern = null beside indexer_types */
    snprintf(ex, sizeof ex, "\"index_topk_pattern\": null, \"indexer_types\": %s", types);
    load_ok(78, ex, glm);
    load_ok(4, "\"index_topk_pattern\": [\"F\", \"S\", \"F\", \"S\"]", "FSFS");
    load_ok(5, "\"index_topk_freq\": 1", "FFFFF");
    load_ok(5, "\"index_topk_freq\": 1, \"index_skip_topk_offset\": 0", "FFFFF");
    load_ok(5, "\"index_topk_pattern\": \"\"", "");
    /* freq without an offset beside a literal: the literal decides */
    load_ok(4, "\"index_topk_pattern\": \"FSSF\", \"index_topk_freq\": 3", "FSSF");

    /* disagreements name both keys */
    load_bad(4, "\"index_topk_pattern\": \"FSFS\", \"indexer_types\": [\"full\", \"full\", \"full\", \"shared\"]",
             "\"index_topk_pattern\" (FSFS)", "\"indexer_types\" (FFFS)");
    load_bad(8, "\"index_topk_pattern\": \"FSFSFSFS\", \"index_topk_freq\": 4, \"index_skip_topk_offset\": 1",
             "index_topk_pattern", "index_topk_freq/index_skip_topk_offset");
    load_bad(8, "\"indexer_types\": [\"full\", \"shared\", \"shared\", \"shared\", \"full\", \"shared\", \"shared\", "
             "\"full\"], \"index_topk_freq\": 4, \"index_skip_topk_offset\": 1", "indexer_types", "layer 7");
    /* length mismatches, bad entries, bad values */
    load_bad(5, "\"indexer_types\": [\"full\", \"shared\", \"shared\", \"shared\"]", "4 entries", "5 layers");
    load_bad(3, "\"index_topk_pattern\": \"FSSS\"", "4 characters", "3 layers");
    load_bad(3, "\"indexer_types\": [\"full\", \"Shared\", \"shared\"]", "indexer_types\"[1]", NULL);
    load_bad(3, "\"indexer_types\": \"full\"", "list", NULL);
    load_bad(3, "\"indexer_types\": [\"shared\", \"full\", \"full\"]", "layer 0", NULL);
    load_bad(8, "\"index_topk_freq\": 4, \"index_skip_topk_offset\": 0", "layer 0", NULL);
    load_bad(8, "\"index_topk_freq\": 0, \"index_skip_topk_offset\": 1", "index_topk_freq", ">= 1");
    load_bad(8, "\"index_topk_freq\": 4", "ambiguous", "index_skip_topk_offset");
    load_bad(8, "\"index_skip_topk_offset\": 2", "without \"index_topk_freq\"", NULL);
    load_bad(8, "\"indexer_rope_interleave\": true", "indexer_rope_interleave", "half-split");
}
END_TEST

/* What we write: all three forms, consistent, read back by our loader. */
START_TEST(test_config_save) {
    ic_config c; ic_error err; ic_error_clear(&err);
    const char *path = write_cfg("cfgsave", 78, "\"index_topk_freq\": 4, \"index_skip_topk_offset\": 3");
    ck_assert_int_eq(ic_config_load(&c, path, &err), 0);
    ck_assert_int_eq(ic_config_save(&c, path, &err), 0);
    json_error_t je;
    json_t *o = json_load_file(path, 0, &je);
    ck_assert(o != NULL);
    char glm[80];
    glm52(glm);
    ck_assert_str_eq(json_string_value(json_object_get(o, "index_topk_pattern")), glm);
    json_t *types = json_object_get(o, "indexer_types");
    ck_assert_int_eq((int)json_array_size(types), 78);
    for (int l = 0; l < 78; l++)
        ck_assert_str_eq(json_string_value(json_array_get(types, l)), glm[l] == 'F' ? "full" : "shared");
    ck_assert_int_eq((int)json_integer_value(json_object_get(o, "index_topk_freq")), 4);
    ck_assert_int_eq((int)json_integer_value(json_object_get(o, "index_skip_topk_offset")), 3);
    ck_assert(json_is_false(json_object_get(o, "indexer_rope_interleave")));
    json_decref(o);
    ic_config d;
    ck_assert_int_eq(ic_config_load(&d, path, &err), 0);
    ck_assert_str_eq(d.index_topk_pattern, glm);

    /* a pattern of no (freq, offset): literal and indexer_types only */
    path = write_cfg("cfgsave2", 8, "\"index_topk_pattern\": \"FSFFSSSF\"");
    ck_assert_int_eq(ic_config_load(&c, path, &err), 0);
    ck_assert_int_eq(ic_config_save(&c, path, &err), 0);
    o = json_load_file(path, 0, &je);
    ck_assert(o != NULL);
    ck_assert(json_object_get(o, "index_topk_freq") == NULL);
    ck_assert(json_object_get(o, "index_skip_topk_offset") == NULL);
    ck_assert_int_eq((int)json_array_size(json_object_get(o, "indexer_types")), 8);
    json_decref(o);
    ck_assert_int_eq(err.code, 0);
}
END_TEST

int main(void) {
    Suite *s = suite_create("pattern_keys");
    TCase *tc = tcase_create("pattern_keys");
    tcase_add_test(tc, test_freq_rule);
    tcase_add_test(tc, test_freq_spec_bad);
    tcase_add_test(tc, test_config_keys);
    tcase_add_test(tc, test_config_save);
    suite_add_tcase(s, tc);
    return ic_test_run_suite(s);
}
