/* model/ic_safetensors: malformed files. Each is built here, held in an
 * exact-size heap buffer (so AddressSanitizer flags any read past its end,
 * the ASan build runs this suite) and must be refused with the expected
 * "FILE: fault" text, through the in-memory parser and the mmap path. */
#define _GNU_SOURCE  /* nftw */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/ic_fs.h"
#include "model/ic_safetensors.h"
#include "testutil.h"

/* ---- malformed files --------------------------------------------------------- */

#define E(...) "{" __VA_ARGS__ "}"
#define T(name, dt, shape, offs) "\"" name "\":{\"dtype\":\"" dt "\",\"shape\":" shape ",\"data_offsets\":" offs "}"

typedef struct {
    const char *what;
    const char *hdr;      /* header bytes */
    int64_t     hlen;     /* -1: strlen(hdr) */
    int64_t     declared; /* header size written in the first 8 bytes; -1: hlen */
    size_t      data;     /* data section bytes after the header */
    int64_t     total;    /* >= 0: cut the file to this many bytes */
    const char *expect;   /* fault text after "bad.safetensors: " */
} bad_case;

static const bad_case k_bad[] = {
    {"empty file", "", 0, 0, 0, 0, "file is 0 bytes, shorter than the 8-byte header size"},
    {"5-byte file", "", 0, 0, 0, 5, "file is 5 bytes, shorter than the 8-byte header size"},
    {"header size above 100 MB", "{}", -1, 100000001, 0, -1, "header size 100000001 exceeds the limit of 100000000 bytes"},
    {"header size 2^64-1", "{}", -1, (int64_t)-2, 0, -1, "header size 18446744073709551615 exceeds the limit"},
    {"header size past end of file", "{}      ", -1, 64, 0, -1, "header size 64 runs past the end of the file (16 bytes)"},
    {"header 1 byte short of its declared size", "{}      ", -1, 9, 0, -1, "header size 9 runs past the end of the file"},
    {"invalid UTF-8 byte", E(T("a\xff", "F32", "[1]", "[0,4]")), -1, -1, 4, -1, "header is not valid UTF-8 (header byte 3)"},
    {"overlong UTF-8", E(T("\xc0\xaf", "F32", "[1]", "[0,4]")), -1, -1, 4, -1, "header is not valid UTF-8 (header byte 2)"},
    {"UTF-8 surrogate", E(T("\xed\xa0\x80", "F32", "[1]", "[0,4]")), -1, -1, 4, -1, "header is not valid UTF-8"},
    {"truncated UTF-8 at header end", "{}\xe2\x82", -1, -1, 0, -1, "header is not valid UTF-8 (header byte 2)"},
    {"empty header", "", 0, 0, 0, -1, "header is not valid JSON"},
    {"header is an array", "[]", -1, -1, 0, -1, "header is not a JSON object"},
    {"header is a string", "\"{}\"", -1, -1, 0, -1, "header is not valid JSON"},
    {"truncated JSON", "{\"a\":{\"dtype\":\"F32\"", -1, -1, 0, -1, "header is not valid JSON"},
    {"garbage after JSON", "{} x", -1, -1, 0, -1, "header is not valid JSON"},
    {"NUL padding", "{}\0\0\0\0\0\0", 8, -1, 0, -1, "header is not valid JSON"},
    {"escaped NUL in a name", E(T("a\\u0000b", "F32", "[1]", "[0,4]")), -1, -1, 4, -1, "header is not valid JSON"},
    {"duplicate tensor name", E(T("a", "F32", "[1]", "[0,4]") "," T("a", "F32", "[1]", "[4,8]")), -1, -1, 8, -1, "header is not valid JSON: duplicate object key"},
    {"duplicate key in an entry", "{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", -1, -1, 4, -1, "header is not valid JSON: duplicate object key"},
    {"integer beyond int64", E(T("a", "F32", "[1]", "[0,18446744073709551616]")), -1, -1, 4, -1, "header is not valid JSON"},
    {"metadata not an object", "{\"__metadata__\":[\"a\"]}", -1, -1, 0, -1, "__metadata__ is not an object of strings"},
    {"metadata value a number", "{\"__metadata__\":{\"k\":1}}", -1, -1, 0, -1, "__metadata__ value of key \"k\" is not a string"},
    {"metadata value an object", "{\"__metadata__\":{\"s\":\"ok\",\"n\":{}}}", -1, -1, 0, -1, "__metadata__ value of key \"n\" is not a string"},
    {"entry not an object", "{\"a\":5}", -1, -1, 0, -1, "tensor \"a\": entry is not an object"},
    {"unknown key in entry", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"bias\":1}}", -1, -1, 4, -1, "tensor \"a\": unknown key \"bias\""},
    {"missing dtype", "{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", -1, -1, 4, -1, "tensor \"a\": missing \"dtype\""},
    {"missing shape", "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", -1, -1, 4, -1, "tensor \"a\": missing \"shape\""},
    {"missing data_offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", -1, -1, 4, -1, "tensor \"a\": missing \"data_offsets\""},
    {"unknown dtype", E(T("a", "F128", "[1]", "[0,16]")), -1, -1, 16, -1, "tensor \"a\": unknown dtype \"F128\""},
    {"dtype in lower case", E(T("a", "f32", "[1]", "[0,4]")), -1, -1, 4, -1, "tensor \"a\": unknown dtype \"f32\""},
    {"dtype a number", "{\"a\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", -1, -1, 4, -1, "tensor \"a\": dtype is not a string"},
    {"shape not an array", E(T("a", "F32", "4", "[0,16]")), -1, -1, 16, -1, "tensor \"a\": shape is not an array"},
    {"negative dimension", E(T("a", "F32", "[2,-2]", "[0,16]")), -1, -1, 16, -1, "tensor \"a\": shape[1] is not a non-negative integer"},
    {"fractional dimension", E(T("a", "F32", "[2.0]", "[0,8]")), -1, -1, 8, -1, "tensor \"a\": shape[0] is not a non-negative integer"},
    {"dimension a string", E(T("a", "F32", "[\"2\"]", "[0,8]")), -1, -1, 8, -1, "tensor \"a\": shape[0] is not a non-negative integer"},
    {"three offsets", E(T("a", "F32", "[1]", "[0,4,4]")), -1, -1, 4, -1, "tensor \"a\": data_offsets is not [begin, end] of non-negative integers"},
    {"negative offset", E(T("a", "F32", "[1]", "[-4,0]")), -1, -1, 4, -1, "tensor \"a\": data_offsets is not [begin, end]"},
    {"offsets not an array", E(T("a", "F32", "[1]", "{}")), -1, -1, 4, -1, "tensor \"a\": data_offsets is not [begin, end]"},
    {"end before begin", E(T("a", "U8", "[0]", "[0,0]") "," T("b", "U8", "[1]", "[4,3]")), -1, -1, 4, -1, "tensor \"b\": data_offsets [4, 3] end before they begin"},
    {"hole before the first tensor", E(T("a", "F32", "[1]", "[4,8]")), -1, -1, 8, -1, "tensor \"a\": data_offsets [4, 8] leave a hole: the previous tensor ends at 0"},
    {"hole between tensors", E(T("a", "F32", "[1]", "[0,4]") "," T("b", "F32", "[1]", "[8,12]")), -1, -1, 12, -1, "tensor \"b\": data_offsets [8, 12] leave a hole: the previous tensor ends at 4"},
    {"overlapping tensors", E(T("a", "F32", "[2]", "[0,8]") "," T("b", "F32", "[2]", "[4,12]")), -1, -1, 12, -1, "tensor \"b\": data_offsets [4, 12] overlap tensor \"a\" which ends at 8"},
    {"aliased tensors", E(T("b", "F32", "[2]", "[0,8]") "," T("a", "F32", "[2]", "[0,8]")), -1, -1, 8, -1, "tensor \"b\": data_offsets [0, 8] overlap tensor \"a\" which ends at 8"},
    {"span too short for shape", E(T("a", "F32", "[2,2]", "[0,12]")), -1, -1, 12, -1, "tensor \"a\": shape [2, 2] of F32 needs 16 bytes but data_offsets [0, 12] span 12"},
    {"span too long for scalar", E(T("a", "F16", "[]", "[0,4]")), -1, -1, 4, -1, "tensor \"a\": shape [] of F16 needs 2 bytes but data_offsets [0, 4] span 4"},
    {"element count overflows", E(T("a", "U8", "[4294967296,4294967296,2]", "[0,8]")), -1, -1, 8, -1, "tensor \"a\": element count of shape [4294967296, 4294967296, 2] overflows"},
    {"byte size overflows", E(T("a", "F32", "[4611686018427387904]", "[0,8]")), -1, -1, 8, -1, "tensor \"a\": byte size of shape [4611686018427387904] x F32 overflows"},
    {"trailing bytes", E(T("a", "F32", "[1]", "[0,4]")), -1, -1, 7, -1, "3 trailing bytes after the last tensor (which ends at data byte 4)"},
    {"trailing bytes, no tensors", "{}      ", -1, -1, 1, -1, "1 trailing bytes after the last tensor"},
    {"offsets past end of file", E(T("a", "F32", "[4]", "[0,16]")), -1, -1, 12, -1, "tensors end at data byte 16, past the end of the file (data section 12 bytes)"},
    {"control character in a name is escaped", E(T("x\\ny", "F32", "[1]", "[4,8]")), -1, -1, 8, -1, "tensor \"x\\x0ay\": data_offsets [4, 8] leave a hole"},
};
#define N_BAD ((int)(sizeof k_bad / sizeof k_bad[0]))

/* The case as an exact-size heap buffer: any read past it is an ASan error. */
static uint8_t *build_bad(const bad_case *c, size_t *len, ic_rng *r) {
    size_t hl = c->hlen >= 0 ? (size_t)c->hlen : strlen(c->hdr);
    uint64_t declared = c->declared == -1 ? hl : c->declared == -2 ? UINT64_MAX : (uint64_t)c->declared;
    size_t full = 8 + hl + c->data;
    *len = c->total >= 0 ? (size_t)c->total : full;
    uint8_t *b = malloc(full);
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(declared >> (8 * i));
    memcpy(b + 8, c->hdr, hl);
    for (size_t i = 8 + hl; i < full; i++) b[i] = (uint8_t)ic_rng_next(r);
    uint8_t *exact = malloc(*len ? *len : 1);
    memcpy(exact, b, *len);
    free(b);
    return exact;
}

START_TEST(test_malformed) {
    ic_rng r; ic_rng_seed(&r, 99);
    const char *dir = ic_test_tmpdir("st_bad");
    char path[4096];
    snprintf(path, sizeof path, "%s/bad.safetensors", dir);
    ck_assert_int_ge(N_BAD, 20);
    for (int c = 0; c < N_BAD; c++) {
        size_t len;
        uint8_t *b = build_bad(&k_bad[c], &len, &r);
        char want[1200];
        snprintf(want, sizeof want, "bad.safetensors: %s", k_bad[c].expect);
        ic_safetensors st;
        ic_error err; ic_error_clear(&err);
        ck_assert_msg(ic_safetensors_parse(&st, b, len, "bad.safetensors", &err) == -1, "accepted: %s", k_bad[c].what);
        ck_assert_msg(strncmp(err.msg, want, strlen(want)) == 0, "%s: got '%s', want '%s'", k_bad[c].what, err.msg, want);
        ck_assert_ptr_null(st.entries);  /* nothing left behind */
        ic_safetensors_close(&st);
        /* through the file + mmap path: the same fault, the path in front */
        ck_assert_int_eq(ic_write_file_atomic(path, b, len, &err), 0);
        ic_error_clear(&err);
        ck_assert_int_eq(ic_safetensors_open(&st, path, &err), -1);
        ck_assert_msg(strncmp(err.msg, path, strlen(path)) == 0 &&
                      strstr(err.msg, k_bad[c].expect) != NULL, "%s: mmap path gave '%s'", k_bad[c].what, err.msg);
        ck_assert_ptr_null(strchr(err.msg, '\n'));
        free(b);
    }
    /* not a regular file (a dir; a FIFO would be refused the same way, unblocked) */
    ic_safetensors st;
    ic_error err; ic_error_clear(&err);
    ck_assert_int_eq(ic_safetensors_open(&st, dir, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "not a regular file"));
    char fifo[4200];
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    ic_error_clear(&err);
    ck_assert_int_eq(ic_safetensors_open(&st, fifo, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "not a regular file"));
    ic_test_rm_tree(dir);
}
END_TEST

/* Every strict prefix of a valid file is invalid, and parsing never reads
 * past it (under ASan). */
START_TEST(test_every_truncation) {
    ic_rng r; ic_rng_seed(&r, 4242);
    uint8_t a[60], b[3], c[16];
    for (size_t i = 0; i < sizeof a; i++) a[i] = (uint8_t)ic_rng_next(&r);
    for (size_t i = 0; i < sizeof b; i++) b[i] = (uint8_t)ic_rng_next(&r);
    for (size_t i = 0; i < sizeof c; i++) c[i] = (uint8_t)ic_rng_next(&r);
    int64_t sa[2] = {3, 5}, sb[1] = {3}, se[2] = {0, 7};
    ic_st_tensor_in t[4] = {{"a", IC_ST_F32, 2, sa, a}, {"b", IC_ST_I8, 1, sb, b},
                            {"c", IC_ST_F64, 0, NULL, c}, {"e", IC_ST_BF16, 2, se, NULL}};
    const char *meta[] = {"format", "pt"};
    uint8_t *img; size_t len;
    ic_error err; ic_error_clear(&err);
    ck_assert_int_eq(ic_safetensors_serialize(t, 4, meta, 1, &img, &len, &err), 0);
    ic_safetensors whole;
    ck_assert_int_eq(ic_safetensors_parse(&whole, img, len, "whole", &err), 0);
    ck_assert_int_eq(whole.n, 4);
    ic_safetensors_close(&whole);
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *b = malloc(cut ? cut : 1);
        memcpy(b, img, cut);
        ic_safetensors st;
        ic_error_clear(&err);
        ck_assert_msg(ic_safetensors_parse(&st, b, cut, "cut", &err) == -1, "prefix %zu accepted", cut);
        free(b);
    }
    free(img);
}
END_TEST


int main(void) {
    Suite *s = suite_create("safetensors_bad");
    TCase *tc = tcase_create("malformed");
    tcase_add_test(tc, test_malformed);
    tcase_add_test(tc, test_every_truncation);
    suite_add_tcase(s, tc);
    return ic_test_run_suite(s);
}
