/* The start-up line names the backend that really runs the ops: a real
 * command (eval of a tiny DSA model) run with --verbose prints
 * "backend: <desc>" first and, at exit, "debug: ops run on <desc>: N"; both
 * must name the same context, N must be positive (the ops went through the
 * dispatchers of that context), and --cpu must say so. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/ic_h5tokens.h"
#include "model/ic_dsa.h"
#include "testutil.h"

enum { NL = 2, L = 16, NTOK = 80 };
static char g_dir[2048], g_model[4096], g_h5[4096];

static void setup(void) {
    if (g_dir[0]) return;
    snprintf(g_dir, sizeof g_dir, "%s", ic_test_tmpdir("startup"));
    snprintf(g_model, sizeof g_model, "%s/model", g_dir);
    snprintf(g_h5, sizeof g_h5, "%s/tok.h5", g_dir);
    ic_error err;
    ic_error_clear(&err);
    ic_config c;
    ic_dsa_tiny_config(&c, NL, 4);
    ic_dsa_model m;
    ck_assert_int_eq(ic_dsa_model_init(&m, &c, NULL, 0, &err), 0);
    ic_dsa_model_fill_random(&m, 7);
    ck_assert_msg(ic_dsa_model_save(&m, g_model, &err) == 0, "%s", err.msg);
    ic_dsa_model_free(&m);
    uint32_t tok[NTOK];
    ic_rng r;
    ic_rng_seed(&r, 11);
    for (int i = 0; i < NTOK; i++) tok[i] = (uint32_t)(ic_rng_next(&r) % (uint64_t)c.vocab_size);
    ic_h5tokens_writer w;
    ck_assert_int_eq(ic_h5tokens_writer_init(&w, g_h5, c.vocab_size, "test", "test", &err), 0);
    ck_assert_int_eq(ic_h5tokens_append(&w, IC_SPLIT_VAL, tok, NTOK, &err), 0);
    ck_assert_int_eq(ic_h5tokens_append(&w, IC_SPLIT_TRAIN, tok, NTOK, &err), 0);
    ck_assert_msg(ic_h5tokens_writer_commit(&w, &err) == 0, "%s", err.msg);
}

/* The text after `prefix` up to the end of its line (into buf). */
static int line_after(const char *out, const char *prefix, char *buf, size_t n) {
    const char *p = strstr(out, prefix);
    if (!p) return -1;
    p += strlen(prefix);
    size_t k = strcspn(p, "\n");
    if (k >= n) k = n - 1;
    memcpy(buf, p, k);
    buf[k] = '\0';
    return 0;
}

/* Runs eval with extra flags; returns the start-up line's description. */
static void check_run(const char *flags, char *desc, size_t n) {
    static char out[65536];
    int rc = ic_test_run_cmd(out, sizeof out, "%s eval --model %s --data %s --seq-len %d "
                             "--batches 2 --verbose %s", ic_test_bin(), g_model, g_h5, L, flags);
    ck_assert_msg(rc == 0, "%s", out);
    ck_assert_msg(line_after(out, "backend: ", desc, n) == 0, "no start-up line in:\n%s", out);
    char ran[512];
    ck_assert_msg(line_after(out, "debug: ops run on ", ran, sizeof ran) == 0,
                  "no ops-run line in:\n%s", out);
    /* "<desc>: N" */
    char *colon = strrchr(ran, ':');
    ck_assert_msg(colon != NULL, "ops-run line '%s'", ran);
    *colon = '\0';
    long long n_ops = atoll(colon + 1);
    ck_assert_msg(strcmp(ran, desc) == 0, "start-up line names '%s', the ops ran on '%s'", desc, ran);
    ck_assert_msg(n_ops > 0, "no op went through the context (N = %lld)", n_ops);
    /* the backend's name leads the description */
    ck_assert_msg(strncmp(desc, "CPU", 3) == 0 || strncmp(desc, "CUDA", 4) == 0, "'%s'", desc);
}

START_TEST(test_startup_line_names_backend) {
    setup();
    char desc[512];
    check_run("", desc, sizeof desc);
#ifndef IC_WITH_CUDA
    ck_assert_msg(strncmp(desc, "CPU", 3) == 0 && strstr(desc, "built without CUDA"), "'%s'", desc);
#endif
    check_run("--cpu", desc, sizeof desc);
    ck_assert_msg(strncmp(desc, "CPU", 3) == 0 && strstr(desc, "--cpu given"), "'%s'", desc);
    ic_test_rm_tree(g_dir);
    g_dir[0] = '\0';
}
END_TEST

int main(void) {
    Suite *s = suite_create("startup_line");
    TCase *tc = tcase_create("startup_line");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_startup_line_names_backend);
    suite_add_tcase(s, tc);
    return ic_test_run_suite(s);
}
