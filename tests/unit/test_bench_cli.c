/* `indexcache bench` as the binary ($IC_BIN) on a tiny random model dir:
 * the JSON's phases add up to each total (10 %), all-F's own speed-up is 1,
 * decode rows carry the cache bytes of F layers only, the table and the
 * PNG; and the errors a user meets: exit 2 for a bad command line (unknown
 * flag, bad length list, a pattern of the wrong length or an unknown one),
 * 1 for a failed job (no model dir, an F layer without an indexer), each
 * message naming the thing. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/ic_dsa.h"
#include "testutil.h"

enum { NL = 4 };
static char g_dir[2048], g_full[4096], g_part[4096], g_pfile[4096];

static void setup(void) {
    if (g_dir[0]) return;
    snprintf(g_dir, sizeof g_dir, "%s", ic_test_tmpdir("benchcli"));
    snprintf(g_full, sizeof g_full, "%s/full", g_dir);
    snprintf(g_part, sizeof g_part, "%s/part", g_dir);
    snprintf(g_pfile, sizeof g_pfile, "%s/searched.txt", g_dir);
    ic_error err;
    ic_error_clear(&err);
    ic_config c;
    ic_dsa_tiny_config(&c, NL, 8);
    ic_dsa_model m;
    ck_assert_int_eq(ic_dsa_model_init(&m, &c, NULL, 0, &err), 0);
    ic_dsa_model_fill_random(&m, 21);
    ck_assert_msg(ic_dsa_model_save(&m, g_full, &err) == 0, "%s", err.msg);
    ic_indexer_free(&m.ix[1]);
    ic_indexer_free(&m.ix[3]);
    ck_assert_int_eq(ic_pattern_parse(&m.pattern, "FSFS", NL, &err), 0);
    ck_assert_msg(ic_dsa_model_save(&m, g_part, &err) == 0, "%s", err.msg);
    ic_dsa_model_free(&m);
    FILE *f = fopen(g_pfile, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "# searched, 2 F\n\nFFSS\n");
    fclose(f);
}

/* the n-th number after "key": in s, or NAN when there is none */
static double json_num(const char *s, const char *key, int nth) {
    char k[64];
    snprintf(k, sizeof k, "\"%s\": ", key);
    const char *p = s;
    for (int i = 0; i <= nth; i++) {
        p = strstr(p, k);
        if (!p) return NAN;
        p += strlen(k);
    }
    return atof(p);
}

static char g_out[1 << 17];

START_TEST(test_bench_json_png) {
    setup();
    char png[4200];
    snprintf(png, sizeof png, "%s/bench.png", g_dir);
    int rc = ic_test_run_cmd(g_out, sizeof g_out,
        "%s bench --model %s --patterns dense,F,FSFS,uniform:4,%s --seq-lens 256,512 "
        "--decode-lens 64 --decode-tokens 4 --repeats 3 --warmup 1 --topk 8 --json --png %s "
        "2>/dev/null", ic_test_bin(), g_full, g_pfile, png);
    ck_assert_msg(rc == 0, "rc %d: %s", rc, g_out);
    const char *phases[] = {"ix_proj_s", "ix_scores_s", "topk_s", "attn_s", "rest_s"};
    int n = 0;
    for (; !isnan(json_num(g_out, "total_s", n)); n++) {
        double total = json_num(g_out, "total_s", n), sum = 0;
        for (int k = 0; k < 5; k++) sum += json_num(g_out, phases[k], n);
        ck_assert_msg(total > 0 && fabs(sum - total) <= 0.10 * total,
                      "row %d: phases %g vs total %g\n%s", n, sum, total, g_out);
    }
    ck_assert_int_eq(n, 2 * 5);
    /* row 1 is F at L = 256: its own speed-up 1, bound 1; FSFS's bound is in (1, 2) */
    ck_assert(fabs(json_num(g_out, "speedup", 1) - 1.0) < 1e-9);
    ck_assert(fabs(json_num(g_out, "amdahl", 1) - 1.0) < 1e-9);
    ck_assert(json_num(g_out, "amdahl", 2) > 1.0 && json_num(g_out, "amdahl", 2) < 2.0);
    ck_assert(json_num(g_out, "amdahl", 0) == 0.0);             /* dense: no bound */
    ck_assert(json_num(g_out, "ix_proj_s", 0) == 0.0);          /* dense: no indexer */
    ck_assert_msg(strstr(g_out, "\"spec\": \"uniform:4\", \"pattern\": \"FSSS\"") != NULL, "%s", g_out);
    ck_assert_msg(strstr(g_out, "\"pattern\": \"FFSS\"") != NULL, "pattern file: %s", g_out);
    ck_assert(strstr(g_out, "\"decode_cache_fill\": \"random\"") != NULL);
    /* decode: 5 rows at T = 64; indexer keys of F layers only (d_I = 8, fp32) */
    ck_assert(isnan(json_num(g_out, "ix_key_bytes", 5)));
    ck_assert(json_num(g_out, "ix_key_bytes", 0) == 0);
    ck_assert(json_num(g_out, "ix_key_bytes", 1) == 4.0 * 64 * 8 * 4);
    ck_assert(json_num(g_out, "ix_key_bytes", 2) == 2.0 * 64 * 8 * 4);
    ck_assert(json_num(g_out, "kv_bytes", 2) == json_num(g_out, "kv_bytes", 1));
    ck_assert(json_num(g_out, "tok_per_s", 3) > 0);
    FILE *f = fopen(png, "rb");
    ck_assert_msg(f != NULL, "no %s", png);
    unsigned char sig[8];
    ck_assert_int_eq(fread(sig, 1, 8, f), 8);
    fclose(f);
    ck_assert(memcmp(sig, "\x89PNG\r\n\x1a\n", 8) == 0);

    /* the table names its columns and says how the decode caches were filled */
    rc = ic_test_run_cmd(g_out, sizeof g_out, "%s bench --model %s --patterns F,FSSS --seq-lens 128 "
                         "--decode-lens 32 --decode-tokens 2 --repeats 1 --warmup 0 --quiet",
                         ic_test_bin(), g_full);
    ck_assert_msg(rc == 0, "%s", g_out);
    ck_assert_msg(strstr(g_out, "ix_scores") && strstr(g_out, "amdahl") &&
                  strstr(g_out, "tok/s") && strstr(g_out, "random values"), "%s", g_out);
}
END_TEST

static void expect(int want_rc, const char *want_msg, const char *fmt_args) {
    int rc = ic_test_run_cmd(g_out, sizeof g_out, "%s bench --seq-lens 32 --decode-tokens 0 --repeats 1 "
                             "--warmup 0 %s", ic_test_bin(), fmt_args);
    ck_assert_msg(rc == want_rc, "'%s': rc %d, want %d: %s", fmt_args, rc, want_rc, g_out);
    ck_assert_msg(strstr(g_out, want_msg) != NULL, "'%s': no '%s' in: %s", fmt_args, want_msg, g_out);
}

START_TEST(test_bench_errors) {
    setup();
    char a[8192];
    snprintf(a, sizeof a, "--model %s --bogus", g_full);
    expect(2, "--bogus", a);
    snprintf(a, sizeof a, "--model %s --seq-lens 1K,abc", g_full);
    expect(2, "--seq-lens", a);
    snprintf(a, sizeof a, "--model %s --patterns F,FSF", g_full);
    expect(2, "'FSF' has 3 characters but the model has 4 layers", a);
    snprintf(a, sizeof a, "--model %s --patterns F,nosuch", g_full);
    expect(2, "'nosuch'", a);
    snprintf(a, sizeof a, "--model %s --repeats 0", g_full);
    expect(2, "--repeats", a);
    snprintf(a, sizeof a, "--model %s/absent", g_dir);
    expect(1, "absent", a);
    snprintf(a, sizeof a, "--model %s --patterns FSFS,F", g_part);
    expect(1, "layer 1", a);
    /* the partial model runs its own pattern */
    snprintf(a, sizeof a, "--model %s --patterns dense,FSFS --quiet", g_part);
    expect(0, "no all-F pattern", a);
}
END_TEST

int main(void) {
    Suite *s = suite_create("bench_cli");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_bench_json_png);
    tcase_add_test(tc, test_bench_errors);
    suite_add_tcase(s, tc);
    return ic_test_run_suite(s);
}
