/* The layer pattern in config.json, in the three forms engines read
 * (docs/FORMATS.md): "index_topk_pattern" (the literal F/S string),
 * "indexer_types" (one "full"/"shared" per layer, GLM-5.2 and transformers'
 * GLM-DSA models) and "index_topk_freq" + "index_skip_topk_offset" (the
 * periodic rule of ic_pattern_freq_fill). A reader takes any of them; when
 * several are present they must name the same pattern, since engines pick
 * different keys first and a config whose keys disagree runs differently
 * in each. We write all that apply: the literal always, because engines
 * also disagree on the freq rule when the offset is missing. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "ic_config_json.h"
#include "model/ic_pattern.h"

typedef struct {
    const char *key;                  /* what a message calls this source */
    char        c[IC_MAX_LAYERS + 1]; /* its pattern, F/S */
} source;

/* index_topk_pattern: a string, or (transformers allows it) a list of
 * one-char "F"/"S" strings. */
static int from_literal(json_t *v, int n_layers, const char *path, source *s, ic_error *err) {
    s->key = "index_topk_pattern";
    size_t n;
    if (json_is_string(v)) {
        n = json_string_length(v);
        if (n > IC_MAX_LAYERS)
            return ic_error_set(err, "%s: \"index_topk_pattern\" is longer than %d", path, IC_MAX_LAYERS);
        memcpy(s->c, json_string_value(v), n + 1);
    } else if (json_is_array(v)) {
        n = json_array_size(v);
        if (n > IC_MAX_LAYERS)
            return ic_error_set(err, "%s: \"index_topk_pattern\" is longer than %d", path, IC_MAX_LAYERS);
        for (size_t i = 0; i < n; i++) {
            const char *e = json_string_value(json_array_get(v, i));
            if (!e || strlen(e) != 1)
                return ic_error_set(err, "%s: \"index_topk_pattern\"[%zu] is not \"F\" or \"S\"", path, i);
            s->c[i] = e[0];
        }
        s->c[n] = '\0';
    } else {
        return ic_error_set(err, "%s: \"index_topk_pattern\" must be a string of F and S", path);
    }
    if ((int)n != n_layers)
        return ic_error_set(err, "%s: \"index_topk_pattern\" has %zu characters but the model has %d layers", path,
                            n, n_layers);
    for (size_t i = 0; i < n; i++)
        if (s->c[i] != 'F' && s->c[i] != 'S')
            return ic_error_set(err, "%s: \"index_topk_pattern\" character %zu is '%c'; only F and S are allowed",
                                path, i, s->c[i]);
    return 0;
}

static int from_types(json_t *v, int n_layers, const char *path, source *s, ic_error *err) {
    s->key = "indexer_types";
    if (!json_is_array(v))
        return ic_error_set(err, "%s: \"indexer_types\" must be a list of \"full\"/\"shared\", one per layer", path);
    size_t n = json_array_size(v);
    if ((int)n != n_layers)
        return ic_error_set(err, "%s: \"indexer_types\" has %zu entries but the model has %d layers", path, n,
                            n_layers);
    for (size_t i = 0; i < n; i++) {
        const char *e = json_string_value(json_array_get(v, i));
        if (e && !strcmp(e, "full")) s->c[i] = 'F';
        else if (e && !strcmp(e, "shared")) s->c[i] = 'S';
        else return ic_error_set(err, "%s: \"indexer_types\"[%zu] is not \"full\" or \"shared\"", path, i);
    }
    s->c[n] = '\0';
    return 0;
}

static int get_long(json_t *v, const char *path, const char *key, long *out, ic_error *err) {
    if (!json_is_integer(v)) return ic_error_set(err, "%s: \"%s\" must be an integer", path, key);
    json_int_t x = json_integer_value(v);
    if (x < -(1L << 30) || x > (1L << 30)) return ic_error_set(err, "%s: \"%s\" = %lld is out of range", path, key,
                                                              (long long)x);
    *out = (long)x;
    return 0;
}

static void show(char *buf, size_t n, const char *c) {
    size_t len = strlen(c);
    if (len < 48) snprintf(buf, n, "%s", c);
    else snprintf(buf, n, "%.20s...%s", c, c + len - 20);
}

int ic_config_load_pattern(ic_config *c, json_t *root, const char *path, ic_error *err) {
    source src[3];
    int n = 0;
    c->index_topk_pattern[0] = '\0';
    json_t *lit = json_object_get(root, "index_topk_pattern"), *types = json_object_get(root, "indexer_types"),
           *freq = json_object_get(root, "index_topk_freq"), *off = json_object_get(root, "index_skip_topk_offset");
    if (json_is_string(lit) && json_string_length(lit) == 0) lit = NULL;   /* what we write for no pattern */
    if (lit && !json_is_null(lit) && from_literal(lit, c->n_layers, path, &src[n++], err)) return -1;
    if (types && !json_is_null(types) && from_types(types, c->n_layers, path, &src[n++], err)) return -1;
    if (freq && !json_is_null(freq)) {
        long f, o = -1;
        if (get_long(freq, path, "index_topk_freq", &f, err)) return -1;
        if (off && !json_is_null(off) && get_long(off, path, "index_skip_topk_offset", &o, err)) return -1;
        if (o < 0 && f != 1 && n == 0)
            return ic_error_set(err, "%s: \"index_topk_freq\" = %ld without \"index_skip_topk_offset\" is "
                                "ambiguous (engines differ on the rule without an offset): add "
                                "\"index_skip_topk_offset\" or \"index_topk_pattern\"", path, f);
        if (o >= 0 || f == 1) {   /* freq 1 is all Full under every rule */
            source *s = &src[n++];
            s->key = o >= 0 ? "index_topk_freq/index_skip_topk_offset" : "index_topk_freq";
            if (ic_pattern_freq_fill(s->c, c->n_layers, f, o >= 0 ? o : 1, err))
                return ic_error_wrap(err, "%s", path);
        }
    } else if (off && !json_is_null(off) && n == 0) {
        return ic_error_set(err, "%s: \"index_skip_topk_offset\" without \"index_topk_freq\"", path);
    }
    for (int i = 1; i < n; i++) {
        for (int l = 0; l < c->n_layers; l++)
            if (src[i].c[l] != src[0].c[l]) {
                char a[64], b[64];
                show(a, sizeof a, src[0].c);
                show(b, sizeof b, src[i].c);
                return ic_error_set(err, "%s: \"%s\" (%s) and \"%s\" (%s) disagree at layer %d (%s vs %s); "
                                    "they must describe the same pattern", path, src[0].key, a, src[i].key, b, l,
                                    src[0].c[l] == 'F' ? "full" : "shared", src[i].c[l] == 'F' ? "full" : "shared");
            }
    }
    if (n == 0) return 0;
    if (src[0].c[0] != 'F')
        return ic_error_set(err, "%s: \"%s\" makes layer 0 shared; the pattern must start with F (layer 0 keeps "
                            "its indexer: an S layer reuses an earlier F layer's indices)", path, src[0].key);
    memcpy(c->index_topk_pattern, src[0].c, (size_t)c->n_layers + 1);
    return 0;
}

void ic_config_pattern_to_json(const ic_config *c, json_t *o) {
    const char *p = c->index_topk_pattern;
    json_object_set_new(o, "index_topk_pattern", json_string(p));
    if (!p[0]) return;
    json_t *types = json_array();
    for (int l = 0; p[l]; l++) json_array_append_new(types, json_string(p[l] == 'F' ? "full" : "shared"));
    json_object_set_new(o, "indexer_types", types);
    int f, off;
    if (ic_pattern_find_freq(p, c->n_layers, &f, &off)) {
        json_object_set_new(o, "index_topk_freq", json_integer(f));
        json_object_set_new(o, "index_skip_topk_offset", json_integer(off));
    }
}
