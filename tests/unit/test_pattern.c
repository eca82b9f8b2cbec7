/* F/S patterns (model/ic_pattern.h): literal strings, uniform:R and dense,
 * the error messages of bad specs, and f(l) / G(l) against brute-force
 * definitions (docs/DESIGN.md s3). */
#include <stdio.h>
#include <string.h>

#include "model/ic_pattern.h"
#include "testutil.h"

/* Parse must fail and the message must contain every needle. */
static void expect_bad(const char *spec, int n_layers, const char *needle1, const char *needle2) {
    ic_pattern p; ic_error err; ic_error_clear(&err);
    ck_assert_msg(ic_pattern_parse(&p, spec, n_layers, &err) == -1, "'%s' accepted", spec ? spec : "(null)");
    ck_assert_msg(strstr(err.msg, needle1) != NULL, "'%s': message '%s' lacks '%s'", spec, err.msg, needle1);
    if (needle2)
        ck_assert_msg(strstr(err.msg, needle2) != NULL, "'%s': message '%s' lacks '%s'", spec, err.msg, needle2);
}

START_TEST(test_pattern_bad) {
    expect_bad("FSSX", 4, "position 3", "'X'");
    expect_bad("FsSS", 4, "position 1", "'s'");
    expect_bad("FS S", 4, "position 2", NULL);
    expect_bad("FSS\nF", 5, "0x0a", "position 3");
    expect_bad("FSS", 4, "3 characters", "4 layers");
    expect_bad("FSSSS", 4, "5 characters", NULL);
    expect_bad("SFFF", 4, "position 0", "must be F");
    expect_bad("", 4, "empty", NULL);
    expect_bad(NULL, 4, "empty", NULL);
    expect_bad("uniform:0", 4, "R >= 1", NULL);
    expect_bad("uniform:", 4, "R >= 1", NULL);
    expect_bad("uniform:-2", 4, "'-2'", NULL);
    expect_bad("uniform:3x", 4, "'3x'", NULL);
    expect_bad("uniform:99999999999999999999", 4, "R >= 1", NULL);
    expect_bad("Dense", 4, "position 0", NULL);
    expect_bad("FFFF", 0, "layer count", NULL);
}
END_TEST

/* Brute force from the definitions. */
static int src_bf(const char *c, int l) { int j = -1; for (int i = 0; i <= l; i++) if (c[i] == 'F') j = i; return j; }

static void check_helpers(const ic_pattern *p) {
    const int n = p->n_layers;
    int nf = 0, covered = 0;
    for (int l = 0; l < n; l++) {
        ck_assert_int_eq(ic_pattern_source(p, l), src_bf(p->c, l));
        ck_assert_int_eq(ic_pattern_is_full(p, l), p->c[l] == 'F');
        nf += p->c[l] == 'F';
        int G[IC_MAX_LAYERS];
        int m = ic_pattern_served(p, l, G, IC_MAX_LAYERS);
        if (p->c[l] != 'F') { ck_assert_int_eq(m, 0); continue; }
        /* G(l) = { j : f(j) = l }, ascending */
        int k = 0;
        for (int j = 0; j < n; j++)
            if (src_bf(p->c, j) == l) { ck_assert(k < m); ck_assert_int_eq(G[k++], j); }
        ck_assert_int_eq(k, m);
        ck_assert_int_eq(G[0], l);
        covered += m;
    }
    ck_assert_int_eq(covered, n);   /* the served sets partition the layers */
    ck_assert_int_eq(ic_pattern_n_full(p), nf);
}

START_TEST(test_pattern_good) {
    ic_pattern p; ic_error err; ic_error_clear(&err);
    char buf[IC_MAX_LAYERS + 8];

    ck_assert_int_eq(ic_pattern_parse(&p, "FSSFSFFS", 8, &err), 0);
    ck_assert_str_eq(ic_pattern_to_string(&p, buf, sizeof buf), "FSSFSFFS");
    ck_assert_int_eq(ic_pattern_source(&p, 2), 0);
    ck_assert_int_eq(ic_pattern_source(&p, 4), 3);
    ck_assert_int_eq(ic_pattern_source(&p, 7), 6);
    int G[8];
    ck_assert_int_eq(ic_pattern_served(&p, 0, G, 8), 3);
    ck_assert(G[0] == 0 && G[1] == 1 && G[2] == 2);
    ck_assert_int_eq(ic_pattern_served(&p, 5, G, 8), 1);
    ck_assert_int_eq(ic_pattern_served(&p, 6, G, 8), 2);
    ck_assert(G[0] == 6 && G[1] == 7);
    ck_assert_int_eq(ic_pattern_n_full(&p), 4);
    check_helpers(&p);

    /* uniform:R for several R, including R = 1 and R > n_layers */
    const int Rs[] = { 1, 2, 3, 4, 7, 30, 31 };
    for (size_t i = 0; i < sizeof Rs / sizeof Rs[0]; i++) {
        char spec[32];
        snprintf(spec, sizeof spec, "uniform:%d", Rs[i]);
        ck_assert_int_eq(ic_pattern_parse(&p, spec, 30, &err), 0);
        ck_assert_int_eq((int)strlen(p.c), 30);
        for (int l = 0; l < 30; l++) ck_assert_int_eq(p.c[l], l % Rs[i] == 0 ? 'F' : 'S');
        ck_assert_int_eq(ic_pattern_n_full(&p), (30 + Rs[i] - 1) / Rs[i]);
        check_helpers(&p);
        /* the literal round-trips */
        ic_pattern q;
        ck_assert_int_eq(ic_pattern_parse(&q, ic_pattern_to_string(&p, buf, sizeof buf), 30, &err), 0);
        ck_assert_str_eq(q.c, p.c);
    }
    ck_assert_int_eq(ic_pattern_parse(&p, "uniform:4", 30, &err), 0);
    ck_assert_str_eq(p.c, "FSSSFSSSFSSSFSSSFSSSFSSSFSSSFS");

    /* random literals */
    ic_rng r; ic_rng_seed(&r, 808);
    for (int trial = 0; trial < 50; trial++) {
        int n = 1 + (int)(ic_rng_uniform(&r) * 40);
        char s[64];
        s[0] = 'F';
        for (int l = 1; l < n; l++) s[l] = ic_rng_uniform(&r) < 0.3 ? 'F' : 'S';
        s[n] = '\0';
        ck_assert_int_eq(ic_pattern_parse(&p, s, n, &err), 0);
        check_helpers(&p);
    }

    ck_assert_int_eq(ic_pattern_parse(&p, "dense", 12, &err), 0);
    ck_assert(p.dense);
    ck_assert_int_eq(ic_pattern_n_full(&p), 0);
    ck_assert_int_eq(ic_pattern_source(&p, 5), -1);
    ck_assert_int_eq(ic_pattern_is_full(&p, 0), 0);
    ck_assert_int_eq(ic_pattern_served(&p, 0, G, 8), 0);
    ck_assert_str_eq(ic_pattern_to_string(&p, buf, sizeof buf), "dense");
    ck_assert_int_eq(err.code, 0);
}
END_TEST

int main(void) {
    Suite *s = suite_create("pattern");
    TCase *tc = tcase_create("pattern");
    tcase_add_test(tc, test_pattern_bad);
    tcase_add_test(tc, test_pattern_good);
    suite_add_tcase(s, tc);
    return ic_test_run_suite(s);
}
