/* indexcache inspect FILE|DIR: lists the tensors (name, dtype, shape, bytes)
 * and metadata of a safetensors file or of every shard of a model dir.
 * Exit 0 for valid input; 1 with exactly one line naming the fault on
 * stderr for an invalid one (the readers never abort on bad input).
 * --json prints the same as one JSON document; --dump NAME prints one
 * tensor's values (decoded per dtype) so tests can compare them with an
 * independent reader. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ic_commands.h"
#include "ic_fs.h"
#include "ic_half.h"
#include "launch/ic_args.h"
#include "model/ic_safetensors.h"

static int fail_line(const char *msg) {
    /* one line, whatever bytes the file put into the message */
    char line[IC_ERROR_MSG_MAX];
    snprintf(line, sizeof line, "%s", msg);
    for (char *p = line; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
    fprintf(stderr, "indexcache inspect: %s\n", line);
    return 1;
}

static json_t *file_json(const ic_safetensors *st, const char *shown_path) {
    json_t *o = json_object(), *meta = json_object(), *ts = json_array();
    json_object_set_new(o, "path", json_string(shown_path));
    json_object_set_new(o, "header_bytes", json_integer((json_int_t)st->header_len));
    json_object_set_new(o, "data_bytes", json_integer((json_int_t)(st->size - 8 - st->header_len)));
    for (int i = 0; i < st->n_meta; i++) json_object_set_new(meta, st->meta_keys[i], json_string(st->meta_vals[i]));
    json_object_set_new(o, "metadata", meta);
    for (int i = 0; i < st->n; i++) {
        const ic_st_entry *e = &st->entries[i];
        json_t *t = json_object(), *shape = json_array(), *offs = json_array();
        for (int d = 0; d < e->ndim; d++) json_array_append_new(shape, json_integer(e->shape[d]));
        json_array_append_new(offs, json_integer((json_int_t)e->begin));
        json_array_append_new(offs, json_integer((json_int_t)e->end));
        json_object_set_new(t, "name", json_string(e->name));
        json_object_set_new(t, "dtype", json_string(ic_st_dtype_name(e->dtype)));
        json_object_set_new(t, "shape", shape);
        json_object_set_new(t, "data_offsets", offs);
        json_object_set_new(t, "bytes", json_integer((json_int_t)(e->end - e->begin)));
        json_array_append_new(ts, t);
    }
    json_object_set_new(o, "tensors", ts);
    return o;
}

static void print_file_text(const ic_safetensors *st, const char *shown_path) {
    int w = 4;
    for (int i = 0; i < st->n; i++) {
        int l = (int)strlen(st->entries[i].name);
        if (l > w) w = l;
    }
    printf("%s: %d tensors, %llu data bytes, header %llu bytes\n", shown_path, st->n,
           (unsigned long long)(st->size - 8 - st->header_len), (unsigned long long)st->header_len);
    for (int i = 0; i < st->n_meta; i++) printf("  metadata %s = %s\n", st->meta_keys[i], st->meta_vals[i]);
    if (st->n) printf("  %-*s  %-7s  %-24s  %s\n", w, "name", "dtype", "shape", "bytes");
    for (int i = 0; i < st->n; i++) {
        const ic_st_entry *e = &st->entries[i];
        char shape[512];
        size_t o = (size_t)snprintf(shape, sizeof shape, "[");
        for (int d = 0; d < e->ndim && o + 24 < sizeof shape; d++)
            o += (size_t)snprintf(shape + o, sizeof shape - o, d ? ", %lld" : "%lld", (long long)e->shape[d]);
        snprintf(shape + o, sizeof shape - o, "]");
        printf("  %-*s  %-7s  %-24s  %llu\n", w, e->name, ic_st_dtype_name(e->dtype), shape,
               (unsigned long long)(e->end - e->begin));
    }
}

static void print_float(double x) {
    if (isnan(x)) fputs("NaN", stdout);          /* Python's json reads these */
    else if (isinf(x)) fputs(x > 0 ? "Infinity" : "-Infinity", stdout);
    else printf("%.17g", x);
}

/* One tensor as {"name","dtype","shape","values":[...]} (row-major). Floats
 * print exactly (F16/BF16/F32 widened to double); F8 types print their raw
 * bytes, since their decoding is not what is being checked. */
static void dump_tensor(const ic_safetensors *st, int i) {
    const ic_st_entry *e = &st->entries[i];
    const uint8_t *p = ic_safetensors_entry_data(st, i);
    json_t *head = json_object(), *shape = json_array();
    for (int d = 0; d < e->ndim; d++) json_array_append_new(shape, json_integer(e->shape[d]));
    json_object_set_new(head, "name", json_string(e->name));
    json_object_set_new(head, "dtype", json_string(ic_st_dtype_name(e->dtype)));
    json_object_set_new(head, "shape", shape);
    char *h = json_dumps(head, JSON_COMPACT);
    json_decref(head);
    size_t hl = strlen(h);
    printf("%.*s,\"values\":[", (int)(hl - 1), h);  /* reopen the object */
    free(h);
    size_t es = ic_st_dtype_size(e->dtype);
    for (int64_t j = 0; j < e->numel; j++) {
        const uint8_t *q = p + (size_t)j * es;
        uint64_t u = 0;
        for (size_t b = 0; b < es; b++) u |= (uint64_t)q[b] << (8 * b);
        if (j) putchar(',');
        switch (e->dtype) {
        case IC_ST_BOOL: fputs(u ? "true" : "false", stdout); break;
        case IC_ST_U8: case IC_ST_U16: case IC_ST_U32: case IC_ST_U64:
        case IC_ST_F8_E5M2: case IC_ST_F8_E4M3:
            printf("%llu", (unsigned long long)u); break;
        case IC_ST_I8: printf("%d", (int)(int8_t)u); break;
        case IC_ST_I16: printf("%d", (int)(int16_t)u); break;
        case IC_ST_I32: printf("%ld", (long)(int32_t)u); break;
        case IC_ST_I64: printf("%lld", (long long)(int64_t)u); break;
        case IC_ST_F16: print_float(ic_f16_to_f32((uint16_t)u)); break;
        case IC_ST_BF16: print_float(ic_bf16_to_f32((uint16_t)u)); break;
        case IC_ST_F32: { uint32_t w = (uint32_t)u; float f; memcpy(&f, &w, 4); print_float(f); break; }
        case IC_ST_F64: { double d; memcpy(&d, &u, 8); print_float(d); break; }
        default: break;
        }
    }
    printf("]}\n");
}

static const char *dump_name;
static int want_json;
static const ic_arg_spec k_args[] = {
    {"--json", IC_ARG_FLAG, &want_json, NULL, "print one JSON document instead of a table", 0, 0, 0},
    {"--dump", IC_ARG_STRING, &dump_name, "NAME", "print the values of tensor NAME as JSON", 0, 0, 0},
};
static const ic_cmd_spec k_cmd = {
    "inspect", "[--json] [--dump NAME] FILE|DIR",
    "Validates a safetensors file, or every shard of a model dir (model.safetensors or\n"
    "model.safetensors.index.json + shards), and lists its tensors (name, dtype, shape,\n"
    "bytes) and metadata. Exit status 0: valid; 1: invalid, with one line naming the fault.",
    k_args, (int)(sizeof k_args / sizeof k_args[0]), "FILE|DIR", 1, 1,
};

int ic_cmd_inspect(int argc, char **argv) {
    const char *pos[1];
    int npos = 0, status = 0;
    want_json = 0;
    dump_name = NULL;
    if (ic_args_run(&k_cmd, argc, argv, pos, &npos, &status)) return status;
    const char *path = pos[0];
    ic_error err;
    ic_error_clear(&err);

    ic_model_files mf;
    ic_safetensors single;
    int is_dir = ic_is_dir(path);
    memset(&mf, 0, sizeof mf);
    memset(&single, 0, sizeof single);
    if (is_dir ? ic_model_files_open(&mf, path, &err) : ic_safetensors_open(&single, path, &err))
        return fail_line(err.msg);

    int rc = 0;
    if (dump_name) {
        const ic_safetensors *st = &single;
        int e = is_dir ? -1 : ic_safetensors_find(&single, dump_name);
        if (is_dir) {
            if (ic_model_files_find(&mf, dump_name, &st, &e, &err) == 0) dump_tensor(st, e);
            else rc = fail_line(err.msg);
        } else if (e < 0) {
            snprintf(err.msg, sizeof err.msg, "%s: no tensor \"%.200s\"", path, dump_name);
            rc = fail_line(err.msg);
        } else dump_tensor(st, e);
    } else if (want_json) {
        json_t *doc;
        if (is_dir) {
            doc = json_object();
            json_t *shards = json_array();
            json_object_set_new(doc, "path", json_string(path));
            json_object_set_new(doc, "n_tensors", json_integer(mf.n_tensors));
            for (int s = 0; s < mf.n_shards; s++) json_array_append_new(shards, file_json(&mf.shards[s], mf.shard_names[s]));
            json_object_set_new(doc, "shards", shards);
        } else doc = file_json(&single, path);
        char *txt = json_dumps(doc, JSON_INDENT(1));
        if (txt) { puts(txt); free(txt); } else rc = fail_line("cannot encode the listing as JSON");
        json_decref(doc);
    } else if (is_dir) {
        printf("%s: model dir, %d shard(s), %d tensors\n", path, mf.n_shards, mf.n_tensors);
        for (int s = 0; s < mf.n_shards; s++) print_file_text(&mf.shards[s], mf.shard_names[s]);
    } else print_file_text(&single, path);

    if (is_dir) ic_model_files_close(&mf);
    else ic_safetensors_close(&single);
    return rc;
}
