/* `indexcache eval --pattern ...` and `indexcache overlap` run as the
 * binary ($IC_BIN) on a tiny random model dir and a tiny HDF5 token file
 * written here: several patterns on the same windows (JSON array) against
 * the in-process forward, K >= L equal to dense, --patterns-file, the
 * overlap CSV/PNG against its properties and printed summary, and the
 * errors a user meets (bad pattern, missing indexers, L <= k). */
#define _GNU_SOURCE   /* nftw */
#include <ftw.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "data/ic_h5tokens.h"
#include "ic_fs.h"
#include "model/ic_dsa.h"
#include "testutil.h"

enum { NL = 4, L = 24, NWIN = 3, NTOK = 200 };
static char g_dir[2048], g_full[4096], g_part[4096], g_h5[4096];
static uint32_t g_tok[NTOK];

static void setup(void) {
    if (g_dir[0]) return;
    snprintf(g_dir, sizeof g_dir, "%s", ic_test_tmpdir("dsacli"));
    snprintf(g_full, sizeof g_full, "%s/full", g_dir);
    snprintf(g_part, sizeof g_part, "%s/part", g_dir);
    snprintf(g_h5, sizeof g_h5, "%s/tok.h5", g_dir);
    ic_error err;
    ic_error_clear(&err);
    ic_config c;
    ic_dsa_tiny_config(&c, NL, 5);
    ic_dsa_model m;
    ck_assert_int_eq(ic_dsa_model_init(&m, &c, NULL, 0, &err), 0);
    ic_dsa_model_fill_random(&m, 99);
    ck_assert_msg(ic_dsa_model_save(&m, g_full, &err) == 0, "%s", err.msg);
    /* same teacher, indexers at layers 0 and 2 only */
    ic_indexer_free(&m.ix[1]);
    ic_indexer_free(&m.ix[3]);
    ck_assert_int_eq(ic_pattern_parse(&m.pattern, "FSFS", NL, &err), 0);
    ck_assert_msg(ic_dsa_model_save(&m, g_part, &err) == 0, "%s", err.msg);
    ic_dsa_model_free(&m);

    ic_rng r;
    ic_rng_seed(&r, 5);
    for (int i = 0; i < NTOK; i++) g_tok[i] = (uint32_t)(ic_rng_next(&r) % 61);
    ic_h5tokens_writer w;
    ck_assert_int_eq(ic_h5tokens_writer_init(&w, g_h5, 61, "test", "test", &err), 0);
    ck_assert_int_eq(ic_h5tokens_append(&w, IC_SPLIT_VAL, g_tok, NTOK, &err), 0);
    ck_assert_int_eq(ic_h5tokens_append(&w, IC_SPLIT_TRAIN, g_tok, 50, &err), 0);
    ck_assert_msg(ic_h5tokens_writer_commit(&w, &err) == 0, "%s", err.msg);
}

/* the n-th "key": number in s */
static double json_num(const char *s, const char *key, int nth) {
    char k[64];
    snprintf(k, sizeof k, "\"%s\": ", key);
    const char *p = s;
    for (int i = 0; i <= nth; i++) {
        p = strstr(p, k);
        ck_assert_msg(p != NULL, "no %s #%d in: %s", key, nth, s);
        p += strlen(k);
    }
    return atof(p);
}

/* mean loss of the first NWIN windows with model dir `dir`, pattern spec, K */
static double in_process(const char *dir, const char *spec, int K) {
    ic_error err;
    ic_error_clear(&err);
    ic_dsa_model m;
    ck_assert_msg(ic_dsa_model_load(&m, dir, spec, K, IC_DSA_LOAD_PATTERN, &err) == 0, "%s", err.msg);
    ic_dsa_state st;
    ck_assert_int_eq(ic_dsa_state_init(&st, ic_test_ctx(0), &m, L, &err), 0);
    double sum = 0;
    long n = 0;
    int32_t t32[L + 1];
    for (int w = 0; w < NWIN; w++) {
        for (int t = 0; t <= L; t++) t32[t] = (int32_t)g_tok[w * L + t];
        ic_dsa_result r;
        ck_assert_int_eq(ic_dsa_forward(&m, &st, t32, t32 + 1, L, NULL, &r, &err), 0);
        sum += r.sum_nll;
        n += r.n_targets;
    }
    ic_dsa_state_free(&st);
    ic_dsa_model_free(&m);
    return sum / n;
}

START_TEST(test_eval_patterns) {
    setup();
    static char out[65536];
    /* several patterns, K = 4 < L: each equals the in-process forward */
    int rc = ic_test_run_cmd(out, sizeof out, "%s eval --model %s --data %s --seq-len %d --batches %d --topk 4 "
                 "--pattern dense --pattern FSFS --pattern uniform:2 --pattern FFFS --json",
                 ic_test_bin(), g_full, g_h5, L, NWIN);
    ck_assert_msg(rc == 0, "%s", out);
    ck_assert_msg(strchr(out, '[') != NULL, "%s", out);
    const char *specs[] = {"dense", "FSFS", "uniform:2", "FFFS"};
    double loss[4];
    for (int i = 0; i < 4; i++) {
        loss[i] = json_num(out, "loss", i);
        ck_assert(fabs(json_num(out, "tokens", i) - NWIN * L) < 0.5);
        double ref = in_process(g_full, specs[i], 4);
        ck_assert_msg(fabs(loss[i] - ref) < 2e-6, "%s: cli %.6f vs %.6f", specs[i], loss[i], ref);
    }
    ck_assert(strstr(out, "\"pattern\": \"FSFS\"") && strstr(out, "\"spec\": \"uniform:2\""));
    ck_assert(fabs(loss[1] - loss[0]) > 1e-3);        /* k < L really is sparse */
    ck_assert(fabs(loss[2] - loss[1]) < 1e-12);       /* uniform:2 == FSFS */

    /* K >= L: every pattern equals dense; table output names them */
    rc = ic_test_run_cmd(out, sizeof out, "%s eval --model %s --data %s --seq-len %d --batches %d --topk %d "
             "--pattern dense --pattern FSSS --pattern FFFF --json", ic_test_bin(), g_full, g_h5, L, NWIN, L);
    ck_assert_msg(rc == 0, "%s", out);
    for (int i = 1; i < 3; i++)
        ck_assert(fabs(json_num(out, "loss", i) - json_num(out, "loss", 0)) < 1e-5);

    /* --patterns-file with comments and blank lines, plus a table */
    char pf[4200];
    snprintf(pf, sizeof pf, "%s/patterns.txt", g_dir);
    const char *txt = "# baselines\n\ndense\n  FSFS   # the model's\nuniform:4\n";
    ic_error err;
    ic_error_clear(&err);
    ck_assert_int_eq(ic_write_file_atomic(pf, txt, strlen(txt), &err), 0);
    rc = ic_test_run_cmd(out, sizeof out, "%s eval --model %s --data %s --seq-len %d --batches %d "
             "--patterns-file %s", ic_test_bin(), g_full, g_h5, L, NWIN, pf);
    ck_assert_msg(rc == 0, "%s", out);
    ck_assert_msg(strstr(out, "FSSS") && strstr(out, "(= uniform:4)") && strstr(out, "Δloss"), "%s", out);

    /* one pattern (the model's own, from config) -> one JSON object */
    rc = ic_test_run_cmd(out, sizeof out, "%s eval --model %s --data %s --seq-len %d --batches %d --json",
             ic_test_bin(), g_part, g_h5, L, NWIN);
    ck_assert_msg(rc == 0, "%s", out);
    ck_assert_msg(strchr(out, '[') == NULL && strstr(out, "\"pattern\": \"FSFS\""), "%s", out);
    ck_assert(fabs(json_num(out, "loss", 0) - in_process(g_part, NULL, 0)) < 2e-6);
    ic_test_rm_tree(g_dir);
    g_dir[0] = '\0';   /* the next test (when not forked) makes a fresh one */
}
END_TEST

START_TEST(test_eval_errors) {
    setup();
    static char out[65536];
    int rc = ic_test_run_cmd(out, sizeof out, "%s eval --model %s --data %s --seq-len %d --pattern FSXS",
                 ic_test_bin(), g_full, g_h5, L);
    ck_assert_msg(rc == 2 && strstr(out, "FSXS") && strstr(out, "position"), "rc %d: %s", rc, out);
    rc = ic_test_run_cmd(out, sizeof out, "%s eval --model %s --data %s --seq-len %d --pattern FSF",
             ic_test_bin(), g_full, g_h5, L);
    ck_assert_msg(rc == 2 && strstr(out, "FSF"), "rc %d: %s", rc, out);
    rc = ic_test_run_cmd(out, sizeof out, "%s eval --model %s --data %s --seq-len %d --pattern dense --pattern FFSS",
             ic_test_bin(), g_part, g_h5, L);
    ck_assert_msg(rc == 1 && strstr(out, "layer 1 is F") && strstr(out, g_part), "rc %d: %s", rc, out);
    rc = ic_test_run_cmd(out, sizeof out, "%s eval --model %s --data %s --patterns-file %s/nope.txt",
             ic_test_bin(), g_full, g_h5, g_dir);
    /* a missing file is a failed run (1), not a bad command line (2) */
    ck_assert_msg(rc == 1 && strstr(out, "--patterns-file") && strstr(out, "nope.txt"), "rc %d: %s", rc, out);
    ic_test_rm_tree(g_dir);
    g_dir[0] = '\0';   /* the next test (when not forked) makes a fresh one */
}
END_TEST

START_TEST(test_overlap_cli) {
    setup();
    static char out[65536];
    char csv[4200], png[4200];
    snprintf(csv, sizeof csv, "%s/o.csv", g_dir);
    snprintf(png, sizeof png, "%s/o.png", g_dir);
    int rc = ic_test_run_cmd(out, sizeof out, "%s overlap --model %s --data %s --seq-len %d --batches %d "
                 "--topk 5 --out %s --png %s", ic_test_bin(), g_full, g_h5, L, NWIN, csv, png);
    ck_assert_msg(rc == 0, "%s", out);
    ck_assert(ic_path_exists(png));
    size_t len;
    ic_error err;
    ic_error_clear(&err);
    char *txt = ic_read_file(csv, &len, &err);
    ck_assert(txt != NULL);
    ck_assert(strncmp(txt, "layer,0,1,2,3\n", 14) == 0);
    double m[NL][NL];
    char *p = txt + 14;
    for (int i = 0; i < NL; i++) {
        int row;
        ck_assert_int_eq(sscanf(p, "%d", &row), 1);
        ck_assert_int_eq(row, i);
        p = strchr(p, ',');
        for (int j = 0; j < NL; j++) {
            m[i][j] = strtod(p + 1, &p);
        }
        p = strchr(p, '\n') + 1;
    }
    double adj = 0;
    for (int i = 0; i < NL; i++) {
        ck_assert(m[i][i] == 1.0);
        for (int j = 0; j < NL; j++) ck_assert(m[i][j] == m[j][i] && m[i][j] >= 0 && m[i][j] <= 1);
        if (i + 1 < NL) adj += m[i][i + 1];
    }
    adj /= NL - 1;
    const char *s = strstr(out, "mean adjacent-layer overlap");
    ck_assert_msg(s != NULL, "%s", out);
    ck_assert(fabs(atof(s + strlen("mean adjacent-layer overlap")) - adj) < 1e-4);
    free(txt);

    /* errors: a layer without indexer; L <= k */
    rc = ic_test_run_cmd(out, sizeof out, "%s overlap --model %s --data %s --seq-len %d --out %s",
             ic_test_bin(), g_part, g_h5, L, csv);
    ck_assert_msg(rc == 1 && strstr(out, "layer 1") && strstr(out, "every layer"), "rc %d: %s", rc, out);
    rc = ic_test_run_cmd(out, sizeof out, "%s overlap --model %s --data %s --seq-len 5 --topk 5 --out %s",
             ic_test_bin(), g_full, g_h5, csv);
    ck_assert_msg(rc == 1 && strstr(out, "--seq-len 5"), "rc %d: %s", rc, out);
    ic_test_rm_tree(g_dir);
    g_dir[0] = '\0';   /* the next test (when not forked) makes a fresh one */
}
END_TEST

int main(void) {
    Suite *s = suite_create("dsa_cli");
    TCase *tc = tcase_create("dsa_cli");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_eval_patterns);
    tcase_add_test(tc, test_eval_errors);
    tcase_add_test(tc, test_overlap_cli);
    suite_add_tcase(s, tc);
    return ic_test_run_suite(s);
}
