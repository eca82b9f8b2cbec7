/* docs/DESIGN.md section 2 on the #include lines: a file under folder F may
 * include "G/..." only for G = F or a folder F may use (the table, closed
 * under "uses"), and never "../...". The build's layering_check_<layer>
 * targets catch the same arrows at link time; this test names the line,
 * and also catches a header-only use that links fine. A planted violation
 * in a scratch tree shows that the scan can fail. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testutil.h"

typedef struct {
    const char *folder;
    const char *may_use;   /* space-separated, itself included */
} layer_rule;

static const layer_rule RULES[] = {
    { "core",    "core" },
    { "kernels", "kernels core" },
    { "data",    "data core" },
    { "model",   "model kernels core" },
    { "optim",   "optim kernels core" },
    { "train",   "train model kernels optim data core" },
    { "launch",  "launch train model kernels optim data core" },
};
enum { N_RULES = sizeof RULES / sizeof RULES[0] };

static int is_layer(const char *name, size_t n) {
    for (int i = 0; i < N_RULES; i++)
        if (strlen(RULES[i].folder) == n && strncmp(RULES[i].folder, name, n) == 0) return 1;
    return 0;
}

static int allowed(const layer_rule *r, const char *name, size_t n) {
    const char *p = r->may_use;
    while (*p) {
        size_t k = strcspn(p, " ");
        if (k == n && strncmp(p, name, n) == 0) return 1;
        p += k;
        while (*p == ' ') p++;
    }
    return 0;
}

static int source_file(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot && (!strcmp(dot, ".c") || !strcmp(dot, ".h") || !strcmp(dot, ".cu") ||
                   !strcmp(dot, ".cuh"));
}

typedef struct {
    int files, violations;
    char first[2048];    /* the first violation's message */
} scan_result;

static void report(scan_result *res, const char *msg) {
    if (res->violations++ == 0) snprintf(res->first, sizeof res->first, "%s", msg);
    fprintf(stderr, "layering: %s\n", msg);
}

/* One file: every #include "X/..." or <X/...> with X a layer folder. */
static void scan_file(const layer_rule *r, const char *path, const char *rel, scan_result *res) {
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
    res->files++;
    char line[4096], msg[2048];
    for (int ln = 1; fgets(line, sizeof line, f); ln++) {
        const char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        if (*p++ != '#') continue;
        while (*p == ' ' || *p == '\t') p++;
        if (strncmp(p, "include", 7) != 0) continue;
        p += 7;
        while (*p == ' ' || *p == '\t') p++;
        if (*p != '"' && *p != '<') continue;
        const char *name = p + 1;
        size_t n = strcspn(name, "/\">");
        line[strcspn(line, "\n")] = 0;
        if (strncmp(name, "../", 3) == 0) {
            snprintf(msg, sizeof msg, "%.900s:%d: %.900s: includes go through the source root, not ../",
                     rel, ln, p);
            report(res, msg);
        } else if (name[n] == '/' && is_layer(name, n) && !allowed(r, name, n)) {
            snprintf(msg, sizeof msg, "%.900s:%d: %.900s: %s/ may use only %s (docs/DESIGN.md section 2)", rel,
                     ln, p, r->folder, r->may_use);
            report(res, msg);
        }
    }
    fclose(f);
}

static void scan_dir(const layer_rule *r, const char *dir, const char *rel, scan_result *res) {
    DIR *d = opendir(dir);
    if (!d) return;   /* a folder this checkout lacks has nothing to break */
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[4096], sub[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        snprintf(sub, sizeof sub, "%s/%s", rel, e->d_name);
        struct stat st;
        if (lstat(path, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) scan_dir(r, path, sub, res);
        else if (S_ISREG(st.st_mode) && source_file(e->d_name)) scan_file(r, path, sub, res);
    }
    closedir(d);
}

static scan_result scan_tree(const char *root) {
    scan_result res = { 0 };
    for (int i = 0; i < N_RULES; i++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/%s", root, RULES[i].folder);
        scan_dir(&RULES[i], dir, RULES[i].folder, &res);
    }
    return res;
}

START_TEST(test_tree_follows_the_table) {
    const char *root = getenv("IC_SOURCE_DIR");
    if (!root) root = IC_SOURCE_DIR;
    scan_result res = scan_tree(root);
    ck_assert_msg(res.files > 50, "only %d source files under %s: wrong root?", res.files, root);
    ck_assert_msg(res.violations == 0, "%d include(s) against the layering, first: %s",
                  res.violations, res.first);
}
END_TEST

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    ck_assert(f != NULL);
    fputs(text, f);
    fclose(f);
}

START_TEST(test_planted_violations_are_found) {
    const char *tmp = ic_test_tmpdir("layering");
    char p[4096];
    const char *dirs[] = { "core", "kernels", "kernels/cpu", "model", "train", "launch" };
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", tmp, dirs[i]);
        ck_assert(mkdir(p, 0755) == 0);
    }
    /* allowed: downwards, own folder, bare names, system headers */
    snprintf(p, sizeof p, "%s/train/ok.c", tmp);
    write_file(p, "#include <stdio.h>\n#include \"ic_log.h\"\n#include \"model/ic_dsa.h\"\n"
                  "#include \"optim/ic_comm.h\"\n#include \"train/ic_trainer.h\"\n"
                  "/* #include \"launch/ic_dist.h\" in a comment is no include */\n");
    snprintf(p, sizeof p, "%s/launch/ok.c", tmp);
    write_file(p, "#include \"train/ic_trainer.h\"\n#include \"launch/ic_dist.h\"\n");
    scan_result ok = scan_tree(tmp);
    ck_assert_int_eq(ok.files, 2);
    ck_assert_msg(ok.violations == 0, "%s", ok.first);

    snprintf(p, sizeof p, "%s/kernels/cpu/bad.c", tmp);
    write_file(p, "#include <math.h>\n\n  #  include \"train/ic_search.h\"\n");
    scan_result bad = scan_tree(tmp);
    ck_assert_int_eq(bad.violations, 1);
    ck_assert_msg(strstr(bad.first, "kernels/cpu/bad.c:3:") && strstr(bad.first, "train/ic_search.h"),
                  "%s", bad.first);

    snprintf(p, sizeof p, "%s/train/up.h", tmp);
    write_file(p, "#include \"launch/ic_dist.h\"\n");
    snprintf(p, sizeof p, "%s/model/up.c", tmp);
    write_file(p, "#include \"data/ic_h5tokens.h\"\n");
    snprintf(p, sizeof p, "%s/core/up.c", tmp);
    write_file(p, "#include <kernels/ic_ctx.h>\n#include \"../model/ic_dsa.h\"\n");
    ck_assert_int_eq(scan_tree(tmp).violations, 5);
    ic_test_rm_tree(tmp);
}
END_TEST

int main(void) {
    Suite *s = suite_create("layering");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_tree_follows_the_table);
    tcase_add_test(tc, test_planted_violations_are_found);
    suite_add_tcase(s, tc);
    return ic_test_run_suite(s);
}
