/* model/ic_safetensors: round trips of every dtype, the malformed files the
 * reference crate rejects (each built here, parsed from an exact-size heap
 * buffer so that AddressSanitizer catches any read past the end), sharded
 * model dirs and atomic writes.
 *
 * `test_safetensors --write-sample PATH` writes PATH (every dtype + metadata),
 * PATH.nometa.safetensors (same tensors, no metadata) and PATH.json (the
 * values as text) for tests/interop/test_safetensors_interop.py. */
#define _GNU_SOURCE  /* nftw, mkfifo */
#include <dirent.h>
#include <ftw.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/ic_fs.h"
#include "core/ic_half.h"
#include "model/ic_safetensors.h"
#include "testutil.h"

/* ---- independent decoders (the oracle for read_f32) ----------------------- */

/* IEEE-style binary float with e exponent bits and m mantissa bits. */
static double minifloat_to_double(uint32_t bits, int e, int m) {
    int bias = (1 << (e - 1)) - 1;
    uint32_t sign = (bits >> (e + m)) & 1u, ex = (bits >> m) & ((1u << e) - 1), man = bits & ((1u << m) - 1);
    double v;
    if (ex == 0) v = ldexp((double)man, 1 - bias - m);
    else if (ex == (1u << e) - 1) v = man ? NAN : INFINITY;
    else v = ldexp((double)(man | (1u << m)), (int)ex - bias - m);
    return sign ? -v : v;
}

/* ---- sample tensors: one per dtype, plus empty and 0-rank ones ------------- */

#define N_SAMPLE (IC_ST_DTYPE_COUNT + 4)
typedef struct {
    ic_st_tensor_in t[N_SAMPLE];
    char names[N_SAMPLE][32];
    int64_t shapes[N_SAMPLE][3];
    uint8_t *data[N_SAMPLE];
    size_t nbytes[N_SAMPLE];
} sample;

static void fill_values(ic_rng *r, ic_st_dtype dt, uint8_t *p, int64_t n) {
    for (int64_t j = 0; j < n; j++) {
        uint64_t u = ic_rng_next(r);
        switch (dt) {
        case IC_ST_BOOL: p[j] = (uint8_t)(u & 1); break;
        case IC_ST_F16: { uint16_t h = ic_f32_to_f16((float)ic_rng_normal(r) * 10.f); memcpy(p + 2 * j, &h, 2); break; }
        case IC_ST_BF16: { uint16_t h = ic_f32_to_bf16((float)ic_rng_normal(r) * 100.f); memcpy(p + 2 * j, &h, 2); break; }
        case IC_ST_F32: { float f = (float)ic_rng_normal(r); memcpy(p + 4 * j, &f, 4); break; }
        case IC_ST_F64: { double d = ic_rng_normal(r) * 1e3; memcpy(p + 8 * j, &d, 8); break; }
        default: memcpy(p + ic_st_dtype_size(dt) * (size_t)j, &u, ic_st_dtype_size(dt)); break;
        }
    }
}

static void sample_init(sample *s, uint64_t seed) {
    ic_rng r;
    ic_rng_seed(&r, seed);
    memset(s, 0, sizeof *s);
    for (int i = 0; i < N_SAMPLE; i++) {
        ic_st_tensor_in *t = &s->t[i];
        int64_t *sh = s->shapes[i];
        if (i < IC_ST_DTYPE_COUNT) {   /* every dtype, odd sizes to test alignment */
            t->dtype = (ic_st_dtype)i;
            snprintf(s->names[i], 32, "w.%s", ic_st_dtype_name(t->dtype));
            t->ndim = 2; sh[0] = 3; sh[1] = 1 + (int64_t)(ic_rng_next(&r) % 7);
        } else if (i == IC_ST_DTYPE_COUNT) {
            t->dtype = IC_ST_F32; snprintf(s->names[i], 32, "empty.f32");
            t->ndim = 3; sh[0] = 4; sh[1] = 0; sh[2] = 5;
        } else if (i == IC_ST_DTYPE_COUNT + 1) {
            t->dtype = IC_ST_BF16; snprintf(s->names[i], 32, "empty.bf16");
            t->ndim = 1; sh[0] = 0;
        } else if (i == IC_ST_DTYPE_COUNT + 2) {
            t->dtype = IC_ST_F64; snprintf(s->names[i], 32, "scalar.f64");
            t->ndim = 0;
        } else {
            t->dtype = IC_ST_I8; snprintf(s->names[i], 32, "scalar.i8");
            t->ndim = 0;
        }
        int64_t n = ic_shape_numel_checked(t->ndim, sh);
        s->nbytes[i] = (size_t)n * ic_st_dtype_size(t->dtype);
        s->data[i] = malloc(s->nbytes[i] + 1);
        fill_values(&r, t->dtype, s->data[i], n);
        t->name = s->names[i];
        t->shape = sh;
        t->data = s->data[i];
    }
}

static void sample_free(sample *s) {
    for (int i = 0; i < N_SAMPLE; i++) free(s->data[i]);
}

static const char *k_meta[] = {"format", "pt", "producer", "indexcache test", "empty", ""};

static void check_sample(const ic_safetensors *st, const sample *s) {
    ck_assert_int_eq(st->n, N_SAMPLE);
    ck_assert_uint_eq(st->header_len % 8, 0);
    size_t total = 0;
    for (int i = 0; i < N_SAMPLE; i++) {
        const ic_st_tensor_in *t = &s->t[i];
        int e = ic_safetensors_find(st, t->name);
        ck_assert_msg(e >= 0, "tensor %s missing", t->name);
        const ic_st_entry *en = &st->entries[e];
        ck_assert_str_eq(en->name, t->name);
        ck_assert_int_eq(en->dtype, t->dtype);
        ck_assert_int_eq(en->ndim, t->ndim);
        for (int d = 0; d < t->ndim; d++) ck_assert_int_eq(en->shape[d], t->shape[d]);
        ck_assert_uint_eq(en->end - en->begin, s->nbytes[i]);
        ck_assert_int_eq(memcmp(ic_safetensors_entry_data(st, e), t->data, s->nbytes[i]), 0);
        /* the reference writer's ordering aligns every tensor to its element size */
        ck_assert_uint_eq((uintptr_t)ic_safetensors_entry_data(st, e) % ic_st_dtype_size(t->dtype), 0);
        total += s->nbytes[i];
    }
    ck_assert_uint_eq(st->size, 8 + st->header_len + total);
    ck_assert_int_eq(ic_safetensors_find(st, "nope"), -1);
}

START_TEST(test_roundtrip_all_dtypes) {
    sample s;
    sample_init(&s, 1000 + (uint64_t)_i);
    const char *dir = ic_test_tmpdir("st_rt");
    char path[4096];
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    ic_error err; ic_error_clear(&err);
    ck_assert_msg(ic_safetensors_write(path, s.t, N_SAMPLE, k_meta, 3, &err) == 0, "%s", err.msg);
    ic_safetensors st;
    ck_assert_msg(ic_safetensors_open(&st, path, &err) == 0, "%s", err.msg);
    check_sample(&st, &s);
    ck_assert_int_eq(st.n_meta, 3);
    ck_assert_str_eq(ic_safetensors_meta(&st, "format"), "pt");
    ck_assert_str_eq(ic_safetensors_meta(&st, "producer"), "indexcache test");
    ck_assert_str_eq(ic_safetensors_meta(&st, "empty"), "");
    ck_assert_ptr_null(ic_safetensors_meta(&st, "missing"));
    ic_safetensors_close(&st);

    /* the in-memory image is the same bytes as the file */
    uint8_t *img; size_t len;
    ck_assert_int_eq(ic_safetensors_serialize(s.t, N_SAMPLE, k_meta, 3, &img, &len, &err), 0);
    size_t flen;
    char *file = ic_read_file(path, &flen, &err);
    ck_assert_uint_eq(flen, len);
    ck_assert_int_eq(memcmp(file, img, len), 0);
    ck_assert_int_eq(ic_safetensors_parse(&st, img, len, "img", &err), 0);
    check_sample(&st, &s);
    ic_safetensors_close(&st);
    free(file); free(img);
    sample_free(&s);
    ic_test_rm_tree(dir);
}
END_TEST

START_TEST(test_views_and_f32) {
    ic_rng r; ic_rng_seed(&r, 77);
    enum { N = 257 };
    float f32[N]; uint16_t f16[N], bf16[N]; double f64[N]; int32_t i32[N];
    for (int j = 0; j < N; j++) {
        f32[j] = (float)ic_rng_normal(&r);
        do f16[j] = (uint16_t)ic_rng_next(&r); while (((f16[j] >> 10) & 0x1f) == 0x1f);  /* finite */
        do bf16[j] = (uint16_t)ic_rng_next(&r); while (((bf16[j] >> 7) & 0xff) == 0xff);
        f64[j] = ic_rng_normal(&r) * 1e-3;
        i32[j] = (int32_t)ic_rng_next(&r);
    }
    int64_t shp[2] = {1, N}, shp3[3] = {N, 1, 1};
    ic_st_tensor_in t[5] = {
        {"a", IC_ST_F32, 2, shp, f32}, {"b", IC_ST_F16, 1, shp + 1, f16},
        {"c", IC_ST_BF16, 3, shp3, bf16}, {"d", IC_ST_F64, 1, shp + 1, f64},
        {"e", IC_ST_I32, 1, shp + 1, i32},
    };
    ic_error err; ic_error_clear(&err);
    uint8_t *img; size_t len;
    ck_assert_int_eq(ic_safetensors_serialize(t, 5, NULL, 0, &img, &len, &err), 0);
    ic_safetensors st;
    ck_assert_int_eq(ic_safetensors_parse(&st, img, len, "v.safetensors", &err), 0);
    float out[N];
    ck_assert_int_eq(ic_safetensors_read_f32(&st, ic_safetensors_find(&st, "a"), out, N, &err), 0);
    for (int j = 0; j < N; j++) ck_assert(out[j] == f32[j]);
    ck_assert_int_eq(ic_safetensors_read_f32(&st, ic_safetensors_find(&st, "b"), out, N, &err), 0);
    for (int j = 0; j < N; j++) ck_assert((double)out[j] == minifloat_to_double(f16[j], 5, 10));
    ck_assert_int_eq(ic_safetensors_read_f32(&st, ic_safetensors_find(&st, "c"), out, N, &err), 0);
    for (int j = 0; j < N; j++) ck_assert((double)out[j] == minifloat_to_double(bf16[j], 8, 7));
    ck_assert_int_eq(ic_safetensors_read_f32(&st, ic_safetensors_find(&st, "d"), out, N, &err), 0);
    for (int j = 0; j < N; j++) ck_assert(out[j] == (float)f64[j]);
    ck_assert_int_eq(ic_safetensors_read_f32(&st, ic_safetensors_find(&st, "e"), out, N, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "v.safetensors: tensor \"e\": dtype I32 is not a floating-point type"));
    ic_error_clear(&err);
    ck_assert_int_eq(ic_safetensors_read_f32(&st, ic_safetensors_find(&st, "a"), out, N - 1, &err), -1);
    ic_error_clear(&err);

    ic_tensor v;
    ck_assert_int_eq(ic_safetensors_view(&st, ic_safetensors_find(&st, "c"), &v, &err), 0);
    ck_assert_int_eq(v.dtype, IC_BF16);
    ck_assert_int_eq(v.ndim, 3);
    ck_assert_int_eq(v.shape[0], N);
    ck_assert_int_eq(v.strides[0], 1);
    ck_assert_int_eq(memcmp(v.data, bf16, sizeof bf16), 0);
    ck_assert_int_eq(v.owns_data, 0);
    ic_tensor_free(&v);
    ck_assert_int_eq(ic_safetensors_view(&st, ic_safetensors_find(&st, "d"), &v, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "dtype F64 has no in-memory tensor type"));
    ic_safetensors_close(&st);
    free(img);
}
END_TEST

/* A hand-made header whose length is not a multiple of 8 (old writers) is
 * valid; the reader then refuses views but still copies. */
START_TEST(test_unaligned_and_loose_valid) {
    const char *valid[] = {
        "{}",
        " \r\n{}  \n\t ",  /* JSON whitespace on both sides (serde_json accepts it) */
        "{\"__metadata__\":null,\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
        /* entries in any order; empty tensors may share an offset */
        "{\"z\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
        "\"e1\":{\"shape\":[0],\"dtype\":\"F32\",\"data_offsets\":[2,2]},"
        "\"e2\":{\"data_offsets\":[2,2],\"dtype\":\"I64\",\"shape\":[3,0]},"
        "\"y\":{\"dtype\":\"I16\",\"shape\":[],\"data_offsets\":[2,4]}}",
    };
    size_t data_len[] = {0, 0, 4, 4};
    ic_rng r; ic_rng_seed(&r, 5);
    for (int c = 0; c < 4; c++) {
        size_t hl = strlen(valid[c]), len = 8 + hl + data_len[c];
        uint8_t *b = malloc(len);
        for (int i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)hl >> (8 * i));
        memcpy(b + 8, valid[c], hl);
        for (size_t i = 8 + hl; i < len; i++) b[i] = (uint8_t)ic_rng_next(&r);
        ic_safetensors st;
        ic_error err; ic_error_clear(&err);
        ck_assert_msg(ic_safetensors_parse(&st, b, len, "ok", &err) == 0, "case %d: %s", c, err.msg);
        if (c == 2) {
            ck_assert_int_eq(st.n_meta, 0);
            ic_tensor v;
            int aligned = ((uintptr_t)st.data % 4) == 0;
            ck_assert_int_eq(ic_safetensors_view(&st, 0, &v, &err), aligned ? 0 : -1);
            if (!aligned) ck_assert_ptr_nonnull(strstr(err.msg, "ok: tensor \"x\": data not aligned"));
            ic_error_clear(&err);
            float f, want;
            memcpy(&want, b + 8 + hl, 4);
            ck_assert_int_eq(ic_safetensors_read_f32(&st, 0, &f, 1, &err), 0);
            ck_assert(memcmp(&f, &want, 4) == 0);
        }
        if (c == 3) {
            ck_assert_int_eq(st.n, 4);
            ck_assert_int_eq(st.entries[ic_safetensors_find(&st, "y")].numel, 1);
            ck_assert_int_eq(st.entries[ic_safetensors_find(&st, "e2")].numel, 0);
        }
        ic_safetensors_close(&st);
        free(b);
    }
}
END_TEST

/* ---- model dirs ----------------------------------------------------------------- */

static void write_text(const char *dir, const char *name, const char *text) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    ic_error err; ic_error_clear(&err);
    ck_assert_int_eq(ic_write_file_atomic(p, text, strlen(text), &err), 0);
}

static void write_shard(const char *dir, const char *name, const ic_st_tensor_in *t, int n) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    ic_error err; ic_error_clear(&err);
    ck_assert_msg(ic_safetensors_write(p, t, n, NULL, 0, &err) == 0, "%s", err.msg);
}

static void expect_dir_fault(const char *dir, const char *fault) {
    ic_model_files mf;
    ic_error err; ic_error_clear(&err);
    ck_assert_int_eq(ic_model_files_open(&mf, dir, &err), -1);
    ck_assert_msg(strstr(err.msg, fault) != NULL, "got '%s', want '%s'", err.msg, fault);
    ck_assert_ptr_null(mf.shards);
}

START_TEST(test_sharded_dir) {
    sample s;
    sample_init(&s, 31337);
    const char *dir = ic_test_tmpdir("st_shards");
    int half = N_SAMPLE / 2;
    write_shard(dir, "model-00001-of-00002.safetensors", s.t, half);
    write_shard(dir, "model-00002-of-00002.safetensors", s.t + half, N_SAMPLE - half);
    /* the index, written the way transformers writes it */
    json_t *root = json_object(), *wm = json_object(), *meta = json_object();
    json_object_set_new(meta, "total_size", json_integer(12345));
    json_object_set_new(root, "metadata", meta);
    for (int i = 0; i < N_SAMPLE; i++)
        json_object_set_new(wm, s.t[i].name, json_string(i < half ? "model-00001-of-00002.safetensors"
                                                                   : "model-00002-of-00002.safetensors"));
    json_object_set_new(root, "weight_map", wm);
    char *idx = json_dumps(root, JSON_INDENT(2));
    write_text(dir, "model.safetensors.index.json", idx);

    ic_model_files mf;
    ic_error err; ic_error_clear(&err);
    ck_assert_msg(ic_model_files_open(&mf, dir, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(mf.n_shards, 2);
    ck_assert_int_eq(mf.n_tensors, N_SAMPLE);
    for (int i = 0; i < N_SAMPLE; i++) {
        const ic_safetensors *st;
        int e;
        ck_assert_int_eq(ic_model_files_find(&mf, s.t[i].name, &st, &e, &err), 0);
        ck_assert_ptr_eq(st, &mf.shards[i < half ? 0 : 1]);
        ck_assert_uint_eq(st->entries[e].end - st->entries[e].begin, s.nbytes[i]);
        ck_assert_int_eq(memcmp(ic_safetensors_entry_data(st, e), s.data[i], s.nbytes[i]), 0);
    }
    const ic_safetensors *st;
    int e;
    ck_assert_int_eq(ic_model_files_find(&mf, "lm_head.weight", &st, &e, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "no tensor \"lm_head.weight\""));
    ic_model_files_close(&mf);

    /* a weight_map entry whose tensor is not in its shard */
    json_object_set_new(wm, "ghost", json_string("model-00001-of-00002.safetensors"));
    free(idx); idx = json_dumps(root, 0);
    write_text(dir, "model.safetensors.index.json", idx);
    expect_dir_fault(dir, "weight_map sends \"ghost\" to shard model-00001-of-00002.safetensors, which has no such tensor");
    /* a shard that does not exist */
    json_object_set_new(wm, "ghost", json_string("model-00003-of-00002.safetensors"));
    free(idx); idx = json_dumps(root, 0);
    write_text(dir, "model.safetensors.index.json", idx);
    expect_dir_fault(dir, "model.safetensors.index.json: weight_map names shard");
    expect_dir_fault(dir, "model-00003-of-00002.safetensors, which does not exist");
    /* a shard name that leaves the dir */
    json_object_set_new(wm, "ghost", json_string("../model-00001-of-00002.safetensors"));
    free(idx); idx = json_dumps(root, 0);
    write_text(dir, "model.safetensors.index.json", idx);
    expect_dir_fault(dir, "weight_map[\"ghost\"] is not a file name in the model dir");
    /* a shard tensor the map does not list */
    json_object_del(wm, "ghost");
    json_object_del(wm, s.t[0].name);
    free(idx); idx = json_dumps(root, 0);
    write_text(dir, "model.safetensors.index.json", idx);
    expect_dir_fault(dir, "holds tensor");
    expect_dir_fault(dir, "but weight_map does not list it");
    /* ... or sends to the other shard */
    json_object_set_new(wm, s.t[0].name, json_string("model-00002-of-00002.safetensors"));
    free(idx); idx = json_dumps(root, 0);
    write_text(dir, "model.safetensors.index.json", idx);
    expect_dir_fault(dir, "has no such tensor");
    /* a broken shard is reported with its own file name */
    json_object_set_new(wm, s.t[0].name, json_string("model-00001-of-00002.safetensors"));
    free(idx); idx = json_dumps(root, 0);
    write_text(dir, "model.safetensors.index.json", idx);
    write_text(dir, "model-00002-of-00002.safetensors", "short");
    expect_dir_fault(dir, "model-00002-of-00002.safetensors: file is 5 bytes");
    write_text(dir, "model.safetensors.index.json", "{\"weight_map\": 3}");
    expect_dir_fault(dir, "no \"weight_map\" object");
    write_text(dir, "model.safetensors.index.json", "{\"weight_map\": {}, \"weight_map\": {}}");
    expect_dir_fault(dir, "model.safetensors.index.json: not valid JSON");
    free(idx);
    json_decref(root);

    /* a single model.safetensors wins over the index */
    write_shard(dir, "model.safetensors", s.t, N_SAMPLE);
    ck_assert_msg(ic_model_files_open(&mf, dir, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(mf.n_shards, 1);
    ck_assert_int_eq(mf.n_tensors, N_SAMPLE);
    ck_assert_int_eq(ic_model_files_find(&mf, s.t[3].name, &st, &e, &err), 0);
    ck_assert_int_eq(memcmp(ic_safetensors_entry_data(st, e), s.data[3], s.nbytes[3]), 0);
    ic_model_files_close(&mf);

    const char *empty = ic_test_tmpdir("st_empty");
    expect_dir_fault(empty, "has neither model.safetensors nor model.safetensors.index.json");
    expect_dir_fault("/nonexistent/dir", "not a directory");
    sample_free(&s);
    ic_test_rm_tree(dir);
    ic_test_rm_tree(empty);
}
END_TEST

/* ---- the writer --------------------------------------------------------------- */

static int count_entries(const char *dir, const char *needle) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.' && (!needle || strstr(de->d_name, needle))) n++;
    closedir(d);
    return n;
}

START_TEST(test_atomic_write) {
    sample s;
    sample_init(&s, 7);
    const char *dir = ic_test_tmpdir("st_atomic");
    char path[4096];
    snprintf(path, sizeof path, "%s/out.safetensors", dir);
    ic_error err; ic_error_clear(&err);
    ck_assert_int_eq(ic_safetensors_write(path, s.t, N_SAMPLE, NULL, 0, &err), 0);
    ck_assert_int_eq(ic_safetensors_write(path, s.t, 3, k_meta, 1, &err), 0);  /* overwrite */
    ck_assert_int_eq(count_entries(dir, NULL), 1);
    ck_assert_int_eq(count_entries(dir, ".tmp"), 0);
    ic_safetensors st;
    ck_assert_int_eq(ic_safetensors_open(&st, path, &err), 0);
    ck_assert_int_eq(st.n, 3);
    ic_safetensors_close(&st);

    /* refused inputs leave the old file and no temp file */
    ic_st_tensor_in two[2] = {s.t[0], s.t[0]};
    ck_assert_int_eq(ic_safetensors_write(path, two, 2, NULL, 0, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "given twice"));
    ic_error_clear(&err);
    ic_st_tensor_in bad = s.t[1];
    bad.name = "__metadata__";
    ck_assert_int_eq(ic_safetensors_write(path, &bad, 1, NULL, 0, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "reserved"));
    ic_error_clear(&err);
    int64_t neg[2] = {2, -1};
    bad = s.t[1]; bad.ndim = 2; bad.shape = neg;
    ck_assert_int_eq(ic_safetensors_write(path, &bad, 1, NULL, 0, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "negative dimension"));
    ic_error_clear(&err);
    bad = s.t[1]; bad.data = NULL;
    ck_assert_int_eq(ic_safetensors_write(path, &bad, 1, NULL, 0, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "no data"));
    ic_error_clear(&err);
    const char *dup_meta[] = {"k", "1", "k", "2"};
    ck_assert_int_eq(ic_safetensors_write(path, s.t, 1, dup_meta, 2, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "metadata key \"k\" given twice"));
    ic_error_clear(&err);
    bad = s.t[1]; bad.name = "bad\xff";
    ck_assert_int_eq(ic_safetensors_write(path, &bad, 1, NULL, 0, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "not valid UTF-8"));
    ic_error_clear(&err);
    char nodir[4200];
    snprintf(nodir, sizeof nodir, "%s/missing/out.safetensors", dir);
    ck_assert_int_eq(ic_safetensors_write(nodir, s.t, 1, NULL, 0, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "cannot create"));
    ck_assert_int_eq(count_entries(dir, NULL), 1);
    ck_assert_int_eq(ic_safetensors_open(&st, path, &err), 0);
    ck_assert_int_eq(st.n, 3);
    ic_safetensors_close(&st);
    unlink(path);
    rmdir(dir);
    sample_free(&s);
}
END_TEST

/* Empty inputs: zero tensors is a valid file, "{}" padded to 8. */
START_TEST(test_empty_file) {
    uint8_t *img; size_t len;
    ic_error err; ic_error_clear(&err);
    ck_assert_int_eq(ic_safetensors_serialize(NULL, 0, NULL, 0, &img, &len, &err), 0);
    /* the reference crate's serialisation of nothing */
    const uint8_t want[16] = {8, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' ', ' ', ' ', ' ', ' '};
    ck_assert_uint_eq(len, 16);
    ck_assert_int_eq(memcmp(img, want, 16), 0);
    ic_safetensors st;
    ck_assert_int_eq(ic_safetensors_parse(&st, img, len, "e", &err), 0);
    ck_assert_int_eq(st.n, 0);
    ic_safetensors_close(&st);
    free(img);
}
END_TEST

/* ---- --write-sample for the interop test ------------------------------------ */

static json_t *values_json(const ic_st_tensor_in *t, const uint8_t *p) {
    json_t *a = json_array();
    int64_t n = ic_shape_numel_checked(t->ndim, t->shape);
    size_t es = ic_st_dtype_size(t->dtype);
    for (int64_t j = 0; j < n; j++) {
        const uint8_t *q = p + (size_t)j * es;
        uint64_t u = 0;
        for (size_t b = 0; b < es; b++) u |= (uint64_t)q[b] << (8 * b);
        json_t *v = NULL;
        char txt[32];
        switch (t->dtype) {
        case IC_ST_BOOL: v = json_boolean(u != 0); break;
        case IC_ST_I8: v = json_integer((int8_t)u); break;
        case IC_ST_I16: v = json_integer((int16_t)u); break;
        case IC_ST_I32: v = json_integer((int32_t)u); break;
        case IC_ST_I64: snprintf(txt, sizeof txt, "%lld", (long long)(int64_t)u); v = json_string(txt); break;
        case IC_ST_U64: snprintf(txt, sizeof txt, "%llu", (unsigned long long)u); v = json_string(txt); break;
        case IC_ST_F16: v = json_real(ic_f16_to_f32((uint16_t)u)); break;
        case IC_ST_BF16: v = json_real(ic_bf16_to_f32((uint16_t)u)); break;
        case IC_ST_F32: { float f; uint32_t w = (uint32_t)u; memcpy(&f, &w, 4); v = json_real(f); break; }
        case IC_ST_F64: { double d; memcpy(&d, &u, 8); v = json_real(d); break; }
        default: v = json_integer((json_int_t)u); break;  /* U8 U16 U32, F8 raw bytes */
        }
        json_array_append_new(a, v);
    }
    return a;
}

static int write_sample(const char *path) {
    sample s;
    sample_init(&s, (uint64_t)getpid());  /* fresh values every run */
    ic_error err; ic_error_clear(&err);
    char p2[4200];
    snprintf(p2, sizeof p2, "%s.nometa.safetensors", path);
    if (ic_safetensors_write(path, s.t, N_SAMPLE, k_meta, 3, &err) ||
        ic_safetensors_write(p2, s.t, N_SAMPLE, NULL, 0, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    json_t *root = json_object(), *ts = json_object(), *meta = json_object();
    for (int i = 0; i < 3; i++) json_object_set_new(meta, k_meta[2 * i], json_string(k_meta[2 * i + 1]));
    for (int i = 0; i < N_SAMPLE; i++) {
        json_t *t = json_object(), *shape = json_array();
        for (int d = 0; d < s.t[i].ndim; d++) json_array_append_new(shape, json_integer(s.t[i].shape[d]));
        json_object_set_new(t, "dtype", json_string(ic_st_dtype_name(s.t[i].dtype)));
        json_object_set_new(t, "shape", shape);
        json_object_set_new(t, "values", values_json(&s.t[i], s.data[i]));
        json_object_set_new(ts, s.t[i].name, t);
    }
    json_object_set_new(root, "metadata", meta);
    json_object_set_new(root, "tensors", ts);
    snprintf(p2, sizeof p2, "%s.json", path);
    int rc = json_dump_file(root, p2, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(root);
    sample_free(&s);
    return rc ? 1 : 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--write-sample") == 0) return write_sample(argv[2]);
    Suite *s = suite_create("safetensors");
    TCase *tc = tcase_create("io");
    tcase_add_loop_test(tc, test_roundtrip_all_dtypes, 0, 3);
    tcase_add_test(tc, test_views_and_f32);
    tcase_add_test(tc, test_unaligned_and_loose_valid);
    tcase_add_test(tc, test_sharded_dir);
    tcase_add_test(tc, test_atomic_write);
    tcase_add_test(tc, test_empty_file);
    suite_add_tcase(s, tc);
    return ic_test_run_suite(s);
}
