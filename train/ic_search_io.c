/* The search trace as JSON: written after every step, read by --resume
 * (see ic_search.h). */
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ic_fs.h"
#include "train/ic_search.h"

#define TRACE_FORMAT "indexcache-search-trace"
#define TRACE_VERSION 1

/* ---- the trace in memory (here beside its JSON, so that a parser fuzzer
 * links it without the search engine) ------------------------------------ */

int ic_search_trace_init(ic_search_trace *t, int n_layers, int keep, ic_error *err) {
    memset(t, 0, sizeof *t);
    if (n_layers < 1 || n_layers > IC_MAX_LAYERS)
        return ic_error_set(err, "search: %d layers (1..%d supported)", n_layers, IC_MAX_LAYERS);
    if (keep < 1 || keep > n_layers)
        return ic_error_set(err, "search: keep %d layers with indexers: must be in 1..%d "
                            "(layer 0 always keeps one; the model has %d layers)",
                            keep, n_layers, n_layers);
    t->n_layers = n_layers;
    t->keep = keep;
    t->start_loss = NAN;
    t->steps = calloc((size_t)n_layers, sizeof *t->steps);
    if (!t->steps) return ic_error_set(err, "search: out of memory for the trace");
    if (ic_pattern_parse(&t->pattern, "uniform:1", n_layers, err) != 0) {
        ic_search_trace_free(t);
        return -1;
    }
    return 0;
}

void ic_search_trace_free(ic_search_trace *t) {
    if (!t) return;
    free(t->steps);
    memset(t, 0, sizeof *t);
}

int ic_search_trace_push(ic_search_trace *t, int layer, double loss, const double *cand_loss,
                         ic_error *err) {
    if (layer < 1 || layer >= t->n_layers)
        return ic_error_set(err, "search step %d: layer %d cannot be flipped (must be in 1..%d)",
                            t->n_steps + 1, layer, t->n_layers - 1);
    if (t->pattern.c[layer] != 'F')
        return ic_error_set(err, "search step %d: layer %d is already S", t->n_steps + 1, layer);
    if (t->n_steps >= t->n_layers - 1)
        return ic_error_set(err, "search: more than %d steps", t->n_layers - 1);
    ic_search_step *s = &t->steps[t->n_steps++];
    s->layer = layer;
    s->loss = loss;
    for (int l = 0; l < t->n_layers; l++) s->cand_loss[l] = cand_loss ? cand_loss[l] : NAN;
    t->pattern.c[layer] = 'S';
    return 0;
}

/* ---- JSON ------------------------------------------------------------- */

static json_t *num_or_null(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static json_t *hex64(uint64_t h) {
    char buf[24];
    snprintf(buf, sizeof buf, "%016" PRIx64, h);
    return json_string(buf);
}

static json_t *trace_to_json(const ic_search_trace *t, const ic_search_meta *m, int done) {
    json_t *o = json_object();
    char pat[IC_MAX_LAYERS + 1];
    ic_pattern p;
    json_object_set_new(o, "format", json_string(TRACE_FORMAT));
    json_object_set_new(o, "version", json_integer(TRACE_VERSION));
    json_object_set_new(o, "model", json_string(m->model_dir ? m->model_dir : ""));
    json_object_set_new(o, "model_hash", hex64(m->model_hash));
    json_object_set_new(o, "data", json_string(m->data_path ? m->data_path : ""));
    json_object_set_new(o, "split", json_string(m->split ? m->split : ""));
    json_object_set_new(o, "data_hash", hex64(m->data_hash));
    json_object_set_new(o, "n_layers", json_integer(t->n_layers));
    json_object_set_new(o, "seq_len", json_integer(m->seq_len));
    json_object_set_new(o, "batches", json_integer(m->n_windows));
    json_object_set_new(o, "topk", json_integer(m->topk));
    json_object_set_new(o, "tokens", json_integer((json_int_t)m->seq_len * m->n_windows));
    json_object_set_new(o, "keep", json_integer(t->keep));
    json_object_set_new(o, "start_loss", num_or_null(t->start_loss));
    json_t *steps = json_array();
    ic_pattern_parse(&p, "uniform:1", t->n_layers, NULL);
    for (int i = 0; i < t->n_steps; i++) {
        const ic_search_step *s = &t->steps[i];
        p.c[s->layer] = 'S';
        json_t *so = json_object(), *cands = json_array();
        json_object_set_new(so, "step", json_integer(i + 1));
        json_object_set_new(so, "layer", json_integer(s->layer));
        json_object_set_new(so, "loss", num_or_null(s->loss));
        json_object_set_new(so, "n_full", json_integer(ic_pattern_n_full(&p)));
        json_object_set_new(so, "pattern", json_string(ic_pattern_to_string(&p, pat, sizeof pat)));
        for (int l = 1; l < t->n_layers; l++) {
            /* a candidate is an F layer of the pattern before this flip */
            if (p.c[l] != 'F' && l != s->layer) continue;
            json_t *c = json_object();
            json_object_set_new(c, "layer", json_integer(l));
            json_object_set_new(c, "loss", num_or_null(s->cand_loss[l]));
            json_array_append_new(cands, c);
        }
        json_object_set_new(so, "candidates", cands);
        json_array_append_new(steps, so);
    }
    json_object_set_new(o, "steps", steps);
    json_object_set_new(o, "pattern", json_string(ic_pattern_to_string(&t->pattern, pat, sizeof pat)));
    json_object_set_new(o, "n_full", json_integer(ic_pattern_n_full(&t->pattern)));
    json_object_set_new(o, "done", json_boolean(done));
    json_t *lf = json_object();
    json_object_set_new(lf, "run", json_integer((json_int_t)t->fwd_done));
    json_object_set_new(lf, "naive", json_integer((json_int_t)t->fwd_naive));
    json_object_set_new(lf, "saved", json_integer((json_int_t)(t->fwd_naive - t->fwd_done)));
    json_object_set_new(o, "layer_forwards", lf);
    json_object_set_new(o, "seconds", json_real(t->seconds));
    return o;
}

int ic_search_trace_save(const ic_search_trace *t, const ic_search_meta *meta, int done,
                         const char *path, ic_error *err) {
    json_t *o = trace_to_json(t, meta, done);
    char *text = json_dumps(o, JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    json_decref(o);
    if (!text) return ic_error_set(err, "%s: out of memory serialising the search trace", path);
    size_t n = strlen(text);
    text[n] = '\n';   /* json_dumps leaves room for the NUL we overwrite */
    int rc = ic_write_file_atomic(path, text, n + 1, err);
    free(text);
    return rc;
}

/* ---- reading ----------------------------------------------------------- */

static int get_int(json_t *o, const char *key, const char *path, long long *out, ic_error *err) {
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v))
        return ic_error_set(err, "%s: \"%s\" missing or not an integer", path, key);
    *out = json_integer_value(v);
    return 0;
}

/* A loss: a number, or null (not finite when written). */
static int get_loss(json_t *o, const char *key, const char *path, double *out, ic_error *err) {
    json_t *v = json_object_get(o, key);
    if (json_is_null(v)) *out = NAN;
    else if (json_is_number(v)) *out = json_number_value(v);
    else return ic_error_set(err, "%s: \"%s\" missing or not a number", path, key);
    return 0;
}

static const char *get_str(json_t *o, const char *key) {
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* Refuse a trace made with other inputs, naming what differs. */
static int check_meta(json_t *o, const ic_search_trace *t, const ic_search_meta *e,
                      const char *path, ic_error *err) {
    /* shapes first: another L or B also changes the token hash, and the
     * flag is the more useful thing to name */
    struct { const char *key; long long want; const char *flag; } ints[] = {
        {"n_layers", t->n_layers, "the model's layer count"},
        {"seq_len", e->seq_len, "--seq-len"},
        {"batches", e->n_windows, "--batches"},
        {"topk", e->topk, "--topk"},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        long long v = 0;
        if (get_int(o, ints[i].key, path, &v, err) != 0) return -1;
        if (v != ints[i].want)
            return ic_error_set(err, "%s was made with %s = %lld, this run has %s %lld: resume "
                                "with the same value or start a new search", path, ints[i].key,
                                v, ints[i].flag, ints[i].want);
    }
    if (strcmp(get_str(o, "split"), e->split ? e->split : "") != 0)
        return ic_error_set(err, "%s was made on split '%s', not '%s'", path, get_str(o, "split"),
                            e->split ? e->split : "");
    char want[24];
    snprintf(want, sizeof want, "%016" PRIx64, e->model_hash);
    if (strcmp(get_str(o, "model_hash"), want) != 0)
        return ic_error_set(err, "%s was made on another model (%s, weights hash %s; this model "
                            "%s has %s): start a new search without --resume", path,
                            get_str(o, "model"), get_str(o, "model_hash"),
                            e->model_dir ? e->model_dir : "", want);
    snprintf(want, sizeof want, "%016" PRIx64, e->data_hash);
    if (strcmp(get_str(o, "data_hash"), want) != 0)
        return ic_error_set(err, "%s was made on other calibration tokens (%s, hash %s; now %s, "
                            "hash %s)", path, get_str(o, "data"), get_str(o, "data_hash"),
                            e->data_path ? e->data_path : "", want);
    return 0;
}

static int load_step(ic_search_trace *t, json_t *so, int i, const char *path, ic_error *err) {
    long long layer = -1;
    double loss, cand[IC_MAX_LAYERS];
    char where[64], pat[IC_MAX_LAYERS + 1];
    snprintf(where, sizeof where, "%s step %d", path, i + 1);
    if (!json_is_object(so)) return ic_error_set(err, "%s: not an object", where);
    if (get_int(so, "layer", where, &layer, err) != 0 || get_loss(so, "loss", where, &loss, err))
        return -1;
    for (int l = 0; l < t->n_layers; l++) cand[l] = NAN;
    json_t *cands = json_object_get(so, "candidates");
    if (!json_is_array(cands)) return ic_error_set(err, "%s: \"candidates\" is not an array", where);
    for (size_t j = 0; j < json_array_size(cands); j++) {
        json_t *c = json_array_get(cands, j);
        long long cl = -1;
        double v = NAN;
        if (get_int(c, "layer", where, &cl, err) != 0 || get_loss(c, "loss", where, &v, err) != 0)
            return -1;
        if (cl < 1 || cl >= t->n_layers || t->pattern.c[cl] != 'F')
            return ic_error_set(err, "%s: candidate layer %lld is not an F layer > 0 of the "
                                "pattern before it", where, cl);
        cand[cl] = v;
    }
    if (layer < 0 || layer >= t->n_layers)
        return ic_error_set(err, "%s: layer %lld is outside 0..%d", where, layer, t->n_layers - 1);
    if (ic_search_trace_push(t, (int)layer, loss, cand, err) != 0)
        return ic_error_wrap(err, "%s", path);
    const char *ps = get_str(so, "pattern");
    if (strcmp(ps, ic_pattern_to_string(&t->pattern, pat, sizeof pat)) != 0)
        return ic_error_set(err, "%s: pattern \"%s\" does not follow from the flips (expected "
                            "\"%s\")", where, ps, pat);
    return 0;
}

int ic_search_trace_load(ic_search_trace *t, const ic_search_meta *expect, const char *path,
                         int *truncated, ic_error *err) {
    json_error_t je;
    json_t *o = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (truncated) *truncated = 0;
    if (!o)
        return ic_error_set(err, "%s: not a readable JSON trace (line %d: %s)", path, je.line,
                            je.text);
    int rc = -1;
    long long version = 0;
    if (!json_is_object(o) || strcmp(get_str(o, "format"), TRACE_FORMAT) != 0) {
        ic_error_set(err, "%s is not an indexcache search trace (no \"format\": \"%s\")", path,
                     TRACE_FORMAT);
        goto out;
    }
    if (get_int(o, "version", path, &version, err) != 0) goto out;
    if (version != TRACE_VERSION) {
        ic_error_set(err, "%s: trace version %lld, this build reads %d", path, version,
                     TRACE_VERSION);
        goto out;
    }
    if (check_meta(o, t, expect, path, err) != 0) goto out;
    if (get_loss(o, "start_loss", path, &t->start_loss, err) != 0) goto out;
    json_t *steps = json_object_get(o, "steps");
    if (!json_is_array(steps)) {
        ic_error_set(err, "%s: \"steps\" is not an array", path);
        goto out;
    }
    int want = t->n_layers - t->keep, have = (int)json_array_size(steps);
    if (have > t->n_layers - 1) {
        ic_error_set(err, "%s: %d steps for %d layers", path, have, t->n_layers);
        goto out;
    }
    for (int i = 0; i < have && i < want; i++)
        if (load_step(t, json_array_get(steps, i), i, path, err) != 0) goto out;
    if (have > want && truncated) *truncated = have - want;
    json_t *lf = json_object_get(o, "layer_forwards");
    long long run = 0, naive = 0;
    if (json_is_object(lf) && (get_int(lf, "run", path, &run, err) != 0 ||
                               get_int(lf, "naive", path, &naive, err) != 0))
        goto out;
    t->fwd_done = run;
    t->fwd_naive = naive;
    json_t *secs = json_object_get(o, "seconds");
    t->seconds = json_is_number(secs) ? json_number_value(secs) : 0.0;
    rc = 0;
out:
    json_decref(o);
    return rc;
}
