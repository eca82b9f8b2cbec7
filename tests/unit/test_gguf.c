/* model/ic_gguf: parsing of files built here from the spec, rejection of
 * malformed ones (each with a message naming the file and the fault),
 * dequantisation against independent double loops, the q/k permutation
 * against a brute-force reshape and against RoPE itself, Llama names, and
 * the tokenizer arrays. */
#define _GNU_SOURCE   /* nftw */
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "gguf_build.h"
#include "model/ic_gguf.h"
#include "testutil.h"

#define FNAME "unit.gguf"

/* ---- a valid file with every value type and every importable tensor type ---- */

typedef struct { const char *name; uint32_t n_dims; uint64_t ne[4]; uint32_t type; } tspec;
static const tspec k_tensors[] = {
    {"a.f32", 2, {4, 3}, IC_GGML_F32},    {"b.f16", 2, {32, 2}, IC_GGML_F16},
    {"c.bf16", 1, {8}, IC_GGML_BF16},     {"d.q8_0", 2, {64, 2}, IC_GGML_Q8_0},
    {"e.q4_0", 3, {32, 3, 2}, IC_GGML_Q4_0}, {"f.q4_1", 2, {64, 1}, IC_GGML_Q4_1},
};
#define N_T ((int)(sizeof k_tensors / sizeof k_tensors[0]))
#define ALIGN 64
static const char *const k_strs[] = {"alpha", "", "Ġgamma δ"};

static int64_t numel(const tspec *t) {
    int64_t n = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) n *= (int64_t)t->ne[d];
    return n;
}

/* Returns the data section offset; data copies in tdata[i]. */
static size_t build_valid(gb_buf *b, ic_rng *r, uint8_t *tdata[N_T]) {
    memset(b, 0, sizeof *b);
    gb_header(b, 3, N_T, 16);
    gb_kv_str(b, "general.architecture", "llama");
    gb_kv_u32(b, "general.alignment", ALIGN);
    gb_str(b, "t.u8"); gb_u32(b, 0); gb_u8(b, 200);
    gb_str(b, "t.i8"); gb_u32(b, 1); gb_u8(b, (uint8_t)-7);
    gb_str(b, "t.u16"); gb_u32(b, 2); gb_u16(b, 60000);
    gb_str(b, "t.i16"); gb_u32(b, 3); gb_u16(b, (uint16_t)-1234);
    gb_kv_u32(b, "t.u32", 4000000000u);
    gb_kv_i32(b, "t.i32", -123456789);
    gb_kv_f32(b, "t.f32", 0.15625f);
    gb_kv_bool(b, "t.bool", 1);
    gb_kv_u64(b, "t.u64", 1ull << 40);
    gb_str(b, "t.i64"); gb_u32(b, 11); gb_u64(b, (uint64_t)-5000000000ll);
    gb_str(b, "t.f64"); gb_u32(b, 12); gb_f64(b, -2.5e-300);
    gb_kv_str_arr(b, "t.strs", k_strs, 3);
    int32_t iv[4] = {3, -1, 7, 2147483647};
    gb_kv_i32_arr(b, "t.i32s", iv, 4);
    /* array of 2 arrays of u8 */
    gb_str(b, "t.nested"); gb_u32(b, 9); gb_u32(b, 9); gb_u64(b, 2);
    gb_u32(b, 0); gb_u64(b, 3); gb_u8(b, 1); gb_u8(b, 2); gb_u8(b, 3);
    gb_u32(b, 0); gb_u64(b, 0);
    uint64_t off = 0, offs[N_T];
    for (int i = 0; i < N_T; i++) {
        offs[i] = off;
        off += gb_type_bytes(k_tensors[i].type, (uint64_t)numel(&k_tensors[i]));
        off = (off + ALIGN - 1) / ALIGN * ALIGN;
        gb_tensor(b, k_tensors[i].name, k_tensors[i].n_dims, k_tensors[i].ne, k_tensors[i].type, offs[i]);
    }
    gb_pad(b, ALIGN);
    size_t data_off = b->n;
    for (int i = 0; i < N_T; i++) {
        size_t nb = gb_type_bytes(k_tensors[i].type, (uint64_t)numel(&k_tensors[i]));
        tdata[i] = malloc(nb);
        fill_type(r, k_tensors[i].type, tdata[i], numel(&k_tensors[i]));
        gb_pad(b, 1);
        while (b->n - data_off < offs[i]) gb_u8(b, 0);
        gb_put(b, tdata[i], nb);
    }
    return data_off;
}

START_TEST(test_valid_file) {
    ic_rng r;
    ic_rng_seed(&r, 11);
    gb_buf b;
    uint8_t *tdata[N_T];
    size_t data_off = build_valid(&b, &r, tdata);
    /* through a real file and mmap */
    char path[4096];
    const char *tdir = ic_test_tmpdir("gguf");
    snprintf(path, sizeof path, "%s/valid.gguf", tdir);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(b.p, 1, b.n, f), b.n);
    fclose(f);
    ic_gguf g;
    ic_error err;
    ic_error_clear(&err);
    ck_assert_msg(ic_gguf_open(&g, path, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(g.version, 3);
    ck_assert_uint_eq(g.alignment, ALIGN);
    ck_assert_uint_eq(g.data_offset, data_off);
    ck_assert_uint_eq(g.n_kv, 16);

    uint64_t u; int64_t i; double d; int bl; ic_gguf_str s;
    ck_assert(ic_gguf_get_u64(&g, "t.u8", &u, &err) == 0 && u == 200);
    ck_assert(ic_gguf_get_i64(&g, "t.i8", &i, &err) == 0 && i == -7);
    ck_assert(ic_gguf_get_u64(&g, "t.u16", &u, &err) == 0 && u == 60000);
    ck_assert(ic_gguf_get_i64(&g, "t.i16", &i, &err) == 0 && i == -1234);
    ck_assert(ic_gguf_get_u64(&g, "t.u32", &u, &err) == 0 && u == 4000000000u);
    ck_assert(ic_gguf_get_i64(&g, "t.i32", &i, &err) == 0 && i == -123456789);
    ck_assert(ic_gguf_get_f64(&g, "t.f32", &d, &err) == 0 && d == 0.15625);
    ck_assert(ic_gguf_get_bool(&g, "t.bool", &bl, &err) == 0 && bl == 1);
    ck_assert(ic_gguf_get_u64(&g, "t.u64", &u, &err) == 0 && u == 1ull << 40);
    ck_assert(ic_gguf_get_i64(&g, "t.i64", &i, &err) == 0 && i == -5000000000ll);
    ck_assert(ic_gguf_get_f64(&g, "t.f64", &d, &err) == 0 && d == -2.5e-300);
    ck_assert(ic_gguf_get_str(&g, "general.architecture", &s, &err) == 0 && s.len == 5 && !memcmp(s.ptr, "llama", 5));
    /* wrong types and absent keys are errors naming the key */
    ck_assert_int_eq(ic_gguf_get_u64(&g, "t.i8", &u, &err), -1);
    ck_assert(strstr(err.msg, "t.i8") != NULL);
    ic_error_clear(&err);
    ck_assert_int_eq(ic_gguf_get_str(&g, "no.such.key", &s, &err), -1);
    ck_assert(strstr(err.msg, "no.such.key") && strstr(err.msg, path));
    ic_error_clear(&err);

    const ic_gguf_kv *kv = ic_gguf_find_kv(&g, "t.strs");
    ck_assert(kv && kv->arr_type == IC_GGUF_STRING && kv->arr_n == 3);
    for (int k = 0; k < 3; k++)
        ck_assert(kv->arr_strs[k].len == strlen(k_strs[k]) && !memcmp(kv->arr_strs[k].ptr, k_strs[k], strlen(k_strs[k])));
    kv = ic_gguf_find_kv(&g, "t.i32s");
    ck_assert(kv && kv->arr_n == 4 && ic_gguf_arr_i64(kv, 1) == -1 && ic_gguf_arr_i64(kv, 3) == 2147483647);
    kv = ic_gguf_find_kv(&g, "t.nested");
    ck_assert(kv && kv->arr_type == IC_GGUF_ARRAY && kv->arr_n == 2);

    ck_assert_uint_eq(g.n_tensors, N_T);
    for (int t = 0; t < N_T; t++) {
        const ic_gguf_tensor *gt = ic_gguf_find_tensor(&g, k_tensors[t].name);
        ck_assert_ptr_nonnull(gt);
        ck_assert_uint_eq(gt->n_dims, k_tensors[t].n_dims);
        for (uint32_t dd = 0; dd < gt->n_dims; dd++)   /* numpy order is reversed */
            ck_assert_int_eq(gt->shape[gt->n_dims - 1 - dd], (int64_t)k_tensors[t].ne[dd]);
        int64_t n = numel(&k_tensors[t]);
        ck_assert_int_eq(gt->n_elems, n);
        float *y = malloc((size_t)n * sizeof *y);
        ck_assert_msg(ic_gguf_tensor_to_f32(&g, gt, y, &err) == 0, "%s", err.msg);
        double num = 0, den = 0;
        for (int64_t e = 0; e < n; e++) {
            double ref = elem_ref(gt->type, tdata[t], e);
            num += (y[e] - ref) * (y[e] - ref);
            den += ref * ref;
        }
        ck_assert_msg(den > 0 && sqrt(num / den) < 1e-7, "%s: rel err %g", gt->name, sqrt(num / den));
        free(y);
        free(tdata[t]);
    }
    ic_gguf_free(&g);
    /* the same bytes from a buffer */
    ck_assert_msg(ic_gguf_open_buffer(&g, b.p, b.n, FNAME, &err) == 0, "%s", err.msg);
    ic_gguf_free(&g);
    gb_free(&b);
    ic_test_rm_tree(tdir);
}
END_TEST

/* Larger random blocks of each quantised type against the double loop. */
START_TEST(test_dequant_blocks) {
    ic_rng r;
    ic_rng_seed(&r, 5);
    const uint32_t types[] = {IC_GGML_Q8_0, IC_GGML_Q4_0, IC_GGML_Q4_1, IC_GGML_F16, IC_GGML_BF16};
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        int64_t n = 32 * 257;
        size_t nb = gb_type_bytes(types[t], (uint64_t)n);
        uint8_t *p = malloc(nb);
        float *y = malloc((size_t)n * sizeof *y);
        fill_type(&r, types[t], p, n);
        ic_error err;
        ic_error_clear(&err);
        ck_assert_msg(ic_gguf_dequantize(types[t], p, nb, y, n, &err) == 0, "%s", err.msg);
        int64_t bad = 0;
        for (int64_t i = 0; i < n; i++) bad += (double)y[i] != (double)(float)elem_ref(types[t], p, i);
        ck_assert_msg(bad == 0, "%s: %lld of %lld elements differ", ic_ggml_type_name(types[t]), (long long)bad,
                      (long long)n);
        /* short source buffer and a partial block are refused */
        ck_assert_int_eq(ic_gguf_dequantize(types[t], p, nb - 1, y, n, &err), -1);
        ck_assert(strstr(err.msg, "bytes") != NULL);
        ic_error_clear(&err);
        if (types[t] != IC_GGML_F16 && types[t] != IC_GGML_BF16) {
            ck_assert_int_eq(ic_gguf_dequantize(types[t], p, nb, y, n - 1, &err), -1);
            ck_assert(strstr(err.msg, "block size") != NULL);
        }
        free(p);
        free(y);
    }
    ic_error err;
    ic_error_clear(&err);
    uint8_t blk[210] = {0};
    float y[256];
    ck_assert_int_eq(ic_gguf_dequantize(IC_GGML_Q6_K, blk, sizeof blk, y, 256, &err), -1);
    ck_assert(strstr(err.msg, "Q6_K") && strstr(err.msg, "not supported"));
}
END_TEST

/* ---- malformed files ---- */

static void expect_reject(const uint8_t *p, size_t n, const char *what, const char *needle) {
    ic_gguf g;
    ic_error err;
    ic_error_clear(&err);
    int rc = ic_gguf_open_buffer(&g, p, n, FNAME, &err);
    ck_assert_msg(rc == -1, "%s: accepted", what);
    ck_assert_msg(strstr(err.msg, FNAME) != NULL, "%s: message does not name the file: %s", what, err.msg);
    ck_assert_msg(strstr(err.msg, needle) != NULL, "%s: message '%s' lacks '%s'", what, err.msg, needle);
}

/* one-tensor files with a chosen info; data section of data_bytes */
static void one_tensor(gb_buf *b, uint32_t n_dims, const uint64_t *ne, uint32_t type, uint64_t offset,
                       size_t data_bytes) {
    memset(b, 0, sizeof *b);
    gb_header(b, 3, 1, 0);
    gb_tensor(b, "w", n_dims, ne, type, offset);
    gb_pad(b, 32);
    for (size_t i = 0; i < data_bytes; i++) gb_u8(b, (uint8_t)i);
}

START_TEST(test_malformed) {
    gb_buf b;
    uint64_t ne2[2] = {4, 2};

    memset(&b, 0, sizeof b);
    gb_header(&b, 3, 0, 0);
    b.p[3] = 'X';
    expect_reject(b.p, b.n, "bad magic", "not a GGUF file");
    b.p[3] = 'F';
    b.p[4] = 2;
    expect_reject(b.p, b.n, "version 2", "version 2");
    b.p[4] = 3;
    expect_reject(b.p, 10, "truncated header", "truncated header");
    gb_free(&b);

    gb_header(&b, 3, 0, 1ull << 60);
    expect_reject(b.p, b.n, "absurd kv count", "absurd metadata count");
    gb_free(&b);
    gb_header(&b, 3, 1ull << 59, 0);
    gb_u64(&b, 0);
    expect_reject(b.p, b.n, "absurd tensor count", "absurd tensor count");
    gb_free(&b);

    gb_header(&b, 3, 0, 1);
    gb_u64(&b, 1000);          /* key length past EOF */
    gb_put(&b, "abc", 3);
    gb_u32(&b, 4);
    expect_reject(b.p, b.n, "key length past EOF", "runs past the end");
    gb_free(&b);
    gb_header(&b, 3, 0, 1);
    gb_str(&b, "k"); gb_u32(&b, 8); gb_u64(&b, 1ull << 62); gb_put(&b, "xyz", 3);
    expect_reject(b.p, b.n, "string value past EOF", "runs past the end");
    gb_free(&b);
    gb_header(&b, 3, 0, 1);
    gb_str(&b, "k"); gb_u32(&b, 9); gb_u32(&b, 8); gb_u64(&b, 1ull << 40);
    gb_str(&b, "one");
    expect_reject(b.p, b.n, "absurd string array", "larger than the rest");
    gb_free(&b);
    gb_header(&b, 3, 0, 1);
    gb_str(&b, "k"); gb_u32(&b, 13); gb_u32(&b, 0);
    expect_reject(b.p, b.n, "unknown value type", "unknown value type 13");
    gb_free(&b);
    gb_header(&b, 3, 0, 2);
    gb_kv_u32(&b, "k", 1); gb_kv_u32(&b, "k", 2);
    expect_reject(b.p, b.n, "duplicate key", "duplicate metadata key 'k'");
    gb_free(&b);
    gb_header(&b, 3, 0, 1);
    gb_kv_u32(&b, "general.alignment", 24);
    expect_reject(b.p, b.n, "alignment 24", "power of two");
    gb_free(&b);
    gb_header(&b, 3, 0, 1);   /* 10 nested array levels */
    gb_str(&b, "deep"); gb_u32(&b, 9);
    for (int i = 0; i < 10; i++) { gb_u32(&b, 9); gb_u64(&b, 1); }
    gb_u32(&b, 0); gb_u64(&b, 0);
    expect_reject(b.p, b.n, "nested arrays", "nested deeper");
    gb_free(&b);

    one_tensor(&b, 2, ne2, IC_GGML_F32, 0, 16);
    expect_reject(b.p, b.n, "tensor past EOF", "runs past the end of the file");
    gb_free(&b);
    one_tensor(&b, 2, ne2, IC_GGML_F32, 1ull << 62, 64);
    expect_reject(b.p, b.n, "offset past EOF", "runs past the end of the file");
    gb_free(&b);
    one_tensor(&b, 2, ne2, 99, 0, 64);
    expect_reject(b.p, b.n, "unknown type", "unknown or unsupported ggml type 99");
    gb_free(&b);
    one_tensor(&b, 2, ne2, IC_GGML_F32, 8, 64);
    expect_reject(b.p, b.n, "misaligned", "not a multiple of the alignment");
    gb_free(&b);
    uint64_t huge[3] = {1ull << 32, 1ull << 32, 1ull << 32};
    one_tensor(&b, 3, huge, IC_GGML_F32, 0, 64);
    expect_reject(b.p, b.n, "dims overflow", "overflows");
    gb_free(&b);
    uint64_t zero[2] = {4, 0};
    one_tensor(&b, 2, zero, IC_GGML_F32, 0, 64);
    expect_reject(b.p, b.n, "zero dim", "zero");
    gb_free(&b);
    uint64_t five[5] = {1, 1, 1, 1, 1};
    one_tensor(&b, 5, five, IC_GGML_F32, 0, 64);
    expect_reject(b.p, b.n, "5 dims", "5 dims");
    gb_free(&b);
    uint64_t odd[1] = {33};
    one_tensor(&b, 1, odd, IC_GGML_Q8_0, 0, 64);
    expect_reject(b.p, b.n, "partial block", "block size");
    gb_free(&b);

    /* two tensors sharing bytes; and two with one name */
    gb_header(&b, 3, 2, 0);
    gb_tensor(&b, "x", 2, ne2, IC_GGML_F32, 0);
    gb_tensor(&b, "y", 2, ne2, IC_GGML_F32, 0);
    gb_pad(&b, 32);
    for (int i = 0; i < 64; i++) gb_u8(&b, 0);
    expect_reject(b.p, b.n, "overlap", "overlap");
    gb_free(&b);
    gb_header(&b, 3, 2, 0);
    gb_tensor(&b, "x", 2, ne2, IC_GGML_F32, 0);
    gb_tensor(&b, "x", 2, ne2, IC_GGML_F32, 32);
    gb_pad(&b, 32);
    for (int i = 0; i < 64; i++) gb_u8(&b, 0);
    expect_reject(b.p, b.n, "duplicate tensor", "duplicate tensor name 'x'");
    gb_free(&b);

    ic_gguf g;
    ic_error err;
    ic_error_clear(&err);
    ck_assert_int_eq(ic_gguf_open(&g, "/nonexistent/dir/model.gguf", &err), -1);
    ck_assert(strstr(err.msg, "/nonexistent/dir/model.gguf") != NULL);
}
END_TEST

/* Every prefix of a valid file is rejected (its data is cut), and random
 * byte flips never crash (ASan watches the reads). */
START_TEST(test_truncations_and_flips) {
    ic_rng r;
    ic_rng_seed(&r, 99);
    gb_buf b;
    uint8_t *tdata[N_T];
    build_valid(&b, &r, tdata);
    for (int t = 0; t < N_T; t++) free(tdata[t]);
    for (size_t n = 0; n < b.n; n++) {
        ic_gguf g;
        ic_error err;
        ic_error_clear(&err);
        uint8_t *copy = malloc(n ? n : 1);   /* exact-size heap copy: any over-read trips ASan */
        memcpy(copy, b.p, n);
        ck_assert_msg(ic_gguf_open_buffer(&g, copy, n, FNAME, &err) == -1, "prefix %zu accepted", n);
        ck_assert(strstr(err.msg, FNAME) != NULL);
        free(copy);
    }
    uint8_t *m = malloc(b.n);
    int accepted = 0;
    for (int it = 0; it < 3000; it++) {
        memcpy(m, b.p, b.n);
        int flips = 1 + (int)(ic_rng_next(&r) % 4);
        for (int k = 0; k < flips; k++) m[ic_rng_next(&r) % b.n] ^= (uint8_t)(1u << (ic_rng_next(&r) % 8));
        ic_gguf g;
        ic_error err;
        ic_error_clear(&err);
        if (ic_gguf_open_buffer(&g, m, b.n, FNAME, &err) == 0) {
            accepted++;
            ic_gguf_free(&g);
        } else {
            ck_assert(err.msg[0] != '\0');
        }
    }
    ck_assert(accepted < 3000);   /* flips in data bytes are legitimately accepted */
    free(m);
    gb_free(&b);
}
END_TEST

/* ---- q/k permutation ---- */

START_TEST(test_permutation) {
    ic_rng r;
    ic_rng_seed(&r, 3);
    const int n_head = 3, hd = 8, cols = 5, rows = n_head * hd;
    float w[24 * 5], p[24 * 5], ref[24 * 5], back[24 * 5];
    ic_fill_normal(&r, w, (size_t)rows * cols, 1.0f);
    ic_gguf_permute_qk(w, p, n_head, hd, cols);
    permute_brute(w, ref, n_head, hd, cols);
    ck_assert(memcmp(p, ref, sizeof p) == 0);
    ic_gguf_unpermute_qk(p, back, n_head, hd, cols);
    ck_assert(memcmp(back, w, sizeof w) == 0);

    /* Semantics: GGUF rows with ggml's adjacent-pair RoPE give the same
     * rotated vector as HF rows with NeoX half-split RoPE, reordered the same
     * way; so unpermute really yields HF layout. */
    double x[5], q_hf[24], q_gg[24], r_hf[24], r_gg[24];
    for (int c = 0; c < cols; c++) x[c] = ic_rng_normal(&r);
    for (int i = 0; i < rows; i++) {
        q_hf[i] = q_gg[i] = 0;
        for (int c = 0; c < cols; c++) {
            q_hf[i] += (double)w[i * cols + c] * x[c];
            q_gg[i] += (double)p[i * cols + c] * x[c];
        }
    }
    const double pos = 7, base = 10000;
    for (int h = 0; h < n_head; h++)
        for (int j = 0; j < hd / 2; j++) {
            double th = pos * pow(base, -2.0 * j / hd), cs = cos(th), sn = sin(th);
            const double *a = q_hf + h * hd, *g = q_gg + h * hd;
            r_hf[h * hd + j] = a[j] * cs - a[j + hd / 2] * sn;
            r_hf[h * hd + j + hd / 2] = a[j + hd / 2] * cs + a[j] * sn;
            r_gg[h * hd + 2 * j] = g[2 * j] * cs - g[2 * j + 1] * sn;
            r_gg[h * hd + 2 * j + 1] = g[2 * j + 1] * cs + g[2 * j] * sn;
        }
    for (int h = 0; h < n_head; h++)
        for (int j = 0; j < hd / 2; j++)
            for (int i = 0; i < 2; i++)
                ck_assert(fabs(r_gg[h * hd + 2 * j + i] - r_hf[h * hd + i * hd / 2 + j]) < 1e-9);
}
END_TEST

/* ---- names ---- */

START_TEST(test_llama_names) {
    struct { const char *g, *hf; ic_gguf_role role; } ok[] = {
        {"token_embd.weight", "model.embed_tokens.weight", IC_GGUF_ROLE_OTHER},
        {"output_norm.weight", "model.norm.weight", IC_GGUF_ROLE_OTHER},
        {"output.weight", "lm_head.weight", IC_GGUF_ROLE_OTHER},
        {"blk.0.attn_q.weight", "model.layers.0.self_attn.q_proj.weight", IC_GGUF_ROLE_Q},
        {"blk.12.attn_k.weight", "model.layers.12.self_attn.k_proj.weight", IC_GGUF_ROLE_K},
        {"blk.3.attn_v.weight", "model.layers.3.self_attn.v_proj.weight", IC_GGUF_ROLE_OTHER},
        {"blk.3.attn_output.weight", "model.layers.3.self_attn.o_proj.weight", IC_GGUF_ROLE_OTHER},
        {"blk.29.ffn_gate.weight", "model.layers.29.mlp.gate_proj.weight", IC_GGUF_ROLE_OTHER},
        {"blk.29.ffn_up.weight", "model.layers.29.mlp.up_proj.weight", IC_GGUF_ROLE_OTHER},
        {"blk.29.ffn_down.weight", "model.layers.29.mlp.down_proj.weight", IC_GGUF_ROLE_OTHER},
        {"blk.1.attn_norm.weight", "model.layers.1.input_layernorm.weight", IC_GGUF_ROLE_OTHER},
        {"blk.1.ffn_norm.weight", "model.layers.1.post_attention_layernorm.weight", IC_GGUF_ROLE_OTHER},
        {"blk.4.attn_q.bias", "model.layers.4.self_attn.q_proj.bias", IC_GGUF_ROLE_Q},
    };
    char out[256];
    ic_gguf_role role;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        ck_assert_msg(ic_gguf_llama_hf_name(ok[i].g, out, sizeof out, &role) == 0, "%s", ok[i].g);
        ck_assert_str_eq(out, ok[i].hf);
        ck_assert_int_eq(role, ok[i].role);
    }
    const char *bad[] = {"rope_freqs.weight", "blk.x.attn_q.weight", "blk.3.attn_qq.weight", "blk.3.attn_q",
                         "blk..attn_q.weight", "blk.-1.attn_q.weight", "blk.3.attn_q.scale", "output"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(ic_gguf_llama_hf_name(bad[i], out, sizeof out, &role) == -1, "%s accepted", bad[i]);
}
END_TEST

/* ---- tokenizer arrays ---- */

static void tok_file(gb_buf *b, int64_t bos) {
    static const char *const toks[] = {"<s>", "</s>", "a", "b", "ab", "Ġ", "Ġab"};
    static const char *const merges[] = {"a b", "Ġ ab"};
    const int32_t types[] = {3, 3, 1, 1, 1, 1, 4};
    memset(b, 0, sizeof *b);
    gb_header(b, 3, 0, 7);
    gb_kv_str(b, "tokenizer.ggml.model", "gpt2");
    gb_kv_str(b, "tokenizer.ggml.pre", "smollm");
    gb_kv_str_arr(b, "tokenizer.ggml.tokens", toks, 7);
    gb_kv_str_arr(b, "tokenizer.ggml.merges", merges, 2);
    gb_kv_i32_arr(b, "tokenizer.ggml.token_type", types, 7);
    gb_kv_u32(b, "tokenizer.ggml.bos_token_id", (uint32_t)bos);
    gb_kv_bool(b, "tokenizer.ggml.add_bos_token", 1);
}

START_TEST(test_tokenizer_arrays) {
    gb_buf b;
    tok_file(&b, 0);
    ic_gguf g;
    ic_error err;
    ic_error_clear(&err);
    ck_assert_msg(ic_gguf_open_buffer(&g, b.p, b.n, FNAME, &err) == 0, "%s", err.msg);
    ic_gguf_tokenizer tok;
    ck_assert_msg(ic_gguf_tokenizer_load(&tok, &g, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(tok.model, "gpt2");
    ck_assert_str_eq(tok.pre, "smollm");
    ck_assert_int_eq(tok.n_tokens, 7);
    ck_assert_str_eq(tok.tokens[6], "Ġab");
    ck_assert_int_eq(tok.n_merges, 2);
    ck_assert_str_eq(tok.merges[1], "Ġ ab");
    ck_assert_int_eq(tok.token_type[0], IC_GGUF_TOKEN_CONTROL);
    ck_assert_int_eq(tok.token_type[6], IC_GGUF_TOKEN_USER_DEFINED);
    ck_assert_int_eq(tok.bos_id, 0);
    ck_assert_int_eq(tok.eos_id, -1);
    ck_assert_int_eq(tok.add_bos, 1);
    ic_gguf_tokenizer_free(&tok);
    ic_gguf_free(&g);
    gb_free(&b);

    tok_file(&b, 7);   /* bos outside the vocabulary */
    ck_assert_int_eq(ic_gguf_open_buffer(&g, b.p, b.n, FNAME, &err), 0);
    ck_assert_int_eq(ic_gguf_tokenizer_load(&tok, &g, &err), -1);
    ck_assert(strstr(err.msg, "bos_token_id") && strstr(err.msg, "outside the vocabulary"));
    ic_gguf_free(&g);
    gb_free(&b);
}
END_TEST

int main(void) {
    Suite *s = suite_create("gguf");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_valid_file);
    tcase_add_test(tc, test_dequant_blocks);
    tcase_add_test(tc, test_malformed);
    tcase_add_test(tc, test_truncations_and_flips);
    tcase_add_test(tc, test_permutation);
    tcase_add_test(tc, test_llama_names);
    tcase_add_test(tc, test_tokenizer_arrays);
    suite_add_tcase(s, tc);
    return ic_test_run_suite(s);
}
