/* core/: dtypes, tensors, half conversions, arena, errors, flag parsing. */
#include <math.h>
#include <string.h>

#include "core/ic_alloc.h"
#include "core/ic_half.h"
#include "core/ic_tensor.h"
#include "launch/ic_args.h"
#include "testutil.h"

START_TEST(test_dtype_names) {
    for (int i = 0; i < IC_DTYPE_COUNT; i++) {
        ic_dtype d;
        ck_assert_int_eq(ic_dtype_from_name(ic_dtype_name((ic_dtype)i), &d), 0);
        ck_assert_int_eq(d, i);
    }
    ic_dtype d;
    ck_assert_int_eq(ic_dtype_from_name("F64x", &d), -1);
    ck_assert_uint_eq(ic_dtype_size(IC_BF16), 2);
    ck_assert_uint_eq(ic_dtype_size(IC_U8), 1);
}
END_TEST

START_TEST(test_tensor_init) {
    ic_tensor t;
    ic_error err; ic_error_clear(&err);
    int64_t shape[3] = {2, 3, 5};
    ck_assert_int_eq(ic_tensor_init(&t, IC_F32, 3, shape, &err), 0);
    ck_assert_int_eq(ic_tensor_numel(&t), 30);
    ck_assert_uint_eq(ic_tensor_nbytes(&t), 120);
    ck_assert_int_eq(t.strides[0], 15);
    ck_assert_int_eq(t.strides[2], 1);
    ck_assert(ic_tensor_is_contiguous(&t));
    ck_assert_uint_eq((uintptr_t)t.data % IC_ALIGN, 0);
    char buf[64];
    ck_assert_str_eq(ic_shape_str(&t, buf, sizeof buf), "[2, 3, 5]");
    ic_tensor_free(&t);
    int64_t bad[2] = {-1, 4};
    ck_assert_int_eq(ic_tensor_init(&t, IC_F32, 2, bad, &err), -1);
    ck_assert(strstr(err.msg, "negative") != NULL);
    int64_t huge[3] = {INT64_MAX / 2, 4, 4};
    ck_assert_int_eq(ic_shape_numel_checked(3, huge), -1);
}
END_TEST

START_TEST(test_bf16_f16_roundtrip) {
    ic_rng r; ic_rng_seed(&r, 7);
    for (int i = 0; i < 100000; i++) {
        float x = (float)(ic_rng_normal(&r) * pow(10.0, (double)(int)(ic_rng_uniform(&r) * 8) - 4));
        float b = ic_bf16_to_f32(ic_f32_to_bf16(x));
        ck_assert_msg(fabsf(b - x) <= fabsf(x) * (1.0f / 256.0f), "bf16 %g -> %g", x, b);
        if (fabsf(x) > 6.2e-5f && fabsf(x) < 65000.f) {
            float h = ic_f16_to_f32(ic_f32_to_f16(x));
            ck_assert_msg(fabsf(h - x) <= fabsf(x) * (1.0f / 2048.0f), "f16 %g -> %g", x, h);
        }
    }
    /* exact values and specials */
    ck_assert(ic_bf16_to_f32(ic_f32_to_bf16(1.0f)) == 1.0f);
    ck_assert(ic_f16_to_f32(ic_f32_to_f16(-2.5f)) == -2.5f);
    ck_assert(isnan(ic_bf16_to_f32(ic_f32_to_bf16(NAN))));
    ck_assert(isnan(ic_f16_to_f32(ic_f32_to_f16(NAN))));
    ck_assert(isinf(ic_f16_to_f32(ic_f32_to_f16(1e6f))));
    /* every f16 bit pattern that is finite survives f16 -> f32 -> f16 */
    for (uint32_t h = 0; h < 65536; h++) {
        if (((h >> 10) & 0x1f) == 0x1f) continue;
        ck_assert_uint_eq(ic_f32_to_f16(ic_f16_to_f32((uint16_t)h)), h);
    }
}
END_TEST

START_TEST(test_arena) {
    ic_arena a;
    ck_assert_int_eq(ic_arena_init(&a, 1024), 0);
    void *p = ic_arena_alloc(&a, 100), *q = ic_arena_alloc(&a, 100);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq((uintptr_t)q % IC_ALIGN, 0);
    ck_assert_ptr_null(ic_arena_alloc(&a, 2000));
    ic_arena_reset(&a);
    ck_assert_ptr_eq(ic_arena_alloc(&a, 10), p);
    ic_arena_free(&a);
}
END_TEST

START_TEST(test_error_first_fault_kept) {
    ic_error e; ic_error_clear(&e);
    ck_assert_int_eq(ic_error_set(&e, "first %d", 1), -1);
    ic_error_set(&e, "second");
    ck_assert_str_eq(e.msg, "first 1");
    ic_error_wrap(&e, "loading %s", "x.bin");
    ck_assert_str_eq(e.msg, "loading x.bin: first 1");
}
END_TEST

/* Messages are one line: control bytes from a file become '?' (a GGUF key
 * with a newline, found by fuzz_gguf), UTF-8 stays. */
START_TEST(test_error_one_line) {
    ic_error e;
    ic_error_clear(&e);
    ic_error_set(&e, "key '%s'", "a\nb\x1b[31m\xc3\xa9");
    ck_assert_str_eq(e.msg, "key 'a?b?[31m\xc3\xa9'");
    ic_error_wrap(&e, "file %s", "x\ty");
    ck_assert_str_eq(e.msg, "file x?y: key 'a?b?[31m\xc3\xa9'");
}
END_TEST

START_TEST(test_args) {
    const char *model = NULL; long long L = 512; double lr = 1e-3; int flag = 0;
    ic_strlist pats = {0};
    ic_arg_spec spec[] = {
        {"--model", IC_ARG_STRING, &model, "DIR", "model dir", 1, 0, 0},
        {"--seq-len", IC_ARG_INT, &L, "L", "window", 0, 1, 1 << 20},
        {"--lr", IC_ARG_DOUBLE, &lr, "LR", "rate", 0, 0, 0},
        {"--resume", IC_ARG_FLAG, &flag, NULL, "resume", 0, 0, 0},
        {"--pattern", IC_ARG_STRING_LIST, &pats, "P", "pattern", 0, 0, 0},
    };
    ic_cmd_spec cmd = {"t", "", "", spec, 5, "FILE", 0, 1};
    const char *pos[4]; int npos; ic_error e;
    char *ok[] = {"t", "--model", "m", "--seq-len=2048", "--lr", "3e-4", "--resume",
                  "--pattern", "FS", "--pattern", "uniform:4", "file.txt"};
    ic_error_clear(&e);
    ck_assert_int_eq(ic_args_parse(&cmd, 12, ok, pos, &npos, &e), 0);
    ck_assert_str_eq(model, "m");
    ck_assert_int_eq(L, 2048);
    ck_assert(fabs(lr - 3e-4) < 1e-12);
    ck_assert_int_eq(flag, 1);
    ck_assert_int_eq(pats.n, 2);
    ck_assert_int_eq(npos, 1);
    char *bad_int[] = {"t", "--model", "m", "--seq-len", "12x"};
    ic_error_clear(&e);
    ck_assert_int_eq(ic_args_parse(&cmd, 5, bad_int, pos, &npos, &e), -1);
    ck_assert(strstr(e.msg, "--seq-len") && strstr(e.msg, "12x"));
    char *range[] = {"t", "--model", "m", "--seq-len", "0"};
    ic_error_clear(&e);
    ck_assert_int_eq(ic_args_parse(&cmd, 5, range, pos, &npos, &e), -1);
    char *missing[] = {"t", "--seq-len", "8"};
    ic_error_clear(&e);
    ck_assert_int_eq(ic_args_parse(&cmd, 3, missing, pos, &npos, &e), -1);
    ck_assert(strstr(e.msg, "--model") != NULL);
    char *unknown[] = {"t", "--model", "m", "--bogus"};
    ic_error_clear(&e);
    ck_assert_int_eq(ic_args_parse(&cmd, 4, unknown, pos, &npos, &e), -1);
    ck_assert(strstr(e.msg, "--bogus") != NULL);
    char *novalue[] = {"t", "--model"};
    ic_error_clear(&e);
    ck_assert_int_eq(ic_args_parse(&cmd, 2, novalue, pos, &npos, &e), -1);
    char *help[] = {"t", "--help"};
    ck_assert_int_eq(ic_args_parse(&cmd, 2, help, pos, &npos, &e), 1);
}
END_TEST

int main(void) {
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_dtype_names);
    tcase_add_test(tc, test_tensor_init);
    tcase_add_test(tc, test_bf16_f16_roundtrip);
    tcase_add_test(tc, test_arena);
    tcase_add_test(tc, test_error_first_fault_kept);
    tcase_add_test(tc, test_error_one_line);
    tcase_add_test(tc, test_args);
    suite_add_tcase(s, tc);
    return ic_test_run_suite(s);
}
