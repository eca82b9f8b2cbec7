/* The subcommands' flag parser (launch/ic_args.h): the global flags are
 * taken only where they stand as flags, never as another flag's value or
 * after `--`; a bad command line is an error naming the flag; --help lists
 * the exit statuses; and a spec with more options than the parser's
 * bookkeeping is refused as a bug (abort), not overrun. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ic_log.h"
#include "launch/ic_args.h"
#include "testutil.h"

static const char *g_name, *g_pos[4];
static long long g_n;
static int g_flag;

static int parse(int argc, char **argv, int *npos, ic_error *err) {
    const ic_arg_spec args[] = {
        {"--name", IC_ARG_STRING, &g_name, "S", "a string", 0, 0, 0},
        {"--n", IC_ARG_INT, &g_n, "N", "an int", 0, 0, 100},
        {"--flag", IC_ARG_FLAG, &g_flag, NULL, "a flag", 0, 0, 0},
    };
    const ic_cmd_spec spec = {"t", "[...]", NULL, args, 3, "FILE", 0, 4};
    g_name = NULL; g_n = 0; g_flag = 0;
    ic_error_clear(err);
    return ic_args_parse(&spec, argc, argv, g_pos, npos, err);
}

START_TEST(test_global_flag_as_value) {
    ic_log_set_level(IC_LOG_INFO);
    ic_error err;
    int npos = 0;
    char *a1[] = {"t", "--name", "--quiet", NULL};
    ck_assert_int_eq(parse(3, a1, &npos, &err), 0);
    ck_assert_str_eq(g_name, "--quiet");
    ck_assert_int_eq(ic_log_get_level(), IC_LOG_INFO);   /* a value, not the flag */
    char *a2[] = {"t", "--name=--cpu", NULL};
    ck_assert_int_eq(parse(2, a2, &npos, &err), 0);
    ck_assert_str_eq(g_name, "--cpu");
    ck_assert_int_eq(ic_args_force_cpu(), 0);
    char *a3[] = {"t", "--", "--quiet", "--cpu", NULL};
    ck_assert_int_eq(parse(4, a3, &npos, &err), 0);
    ck_assert_int_eq(npos, 2);
    ck_assert_str_eq(g_pos[0], "--quiet");
    ck_assert_int_eq(ic_log_get_level(), IC_LOG_INFO);
    ck_assert_int_eq(ic_args_force_cpu(), 0);
    /* as flags, anywhere among the command's flags */
    char *a4[] = {"t", "--flag", "--quiet", "--n", "7", "--cpu", "x", NULL};
    ck_assert_int_eq(parse(7, a4, &npos, &err), 0);
    ck_assert(g_flag == 1 && g_n == 7 && npos == 1);
    ck_assert_int_eq(ic_log_get_level(), IC_LOG_QUIET);
    ck_assert_int_eq(ic_args_force_cpu(), 1);
    ic_log_set_level(IC_LOG_INFO);
}
END_TEST

START_TEST(test_bad_command_lines) {
    ic_error err;
    int npos = 0;
    char *a1[] = {"t", "--nope", NULL};
    ck_assert_int_eq(parse(2, a1, &npos, &err), -1);
    ck_assert_msg(strstr(err.msg, "--nope"), "%s", err.msg);
    char *a2[] = {"t", "--n", "x7", NULL};
    ck_assert_int_eq(parse(3, a2, &npos, &err), -1);
    ck_assert_msg(strstr(err.msg, "--n") && strstr(err.msg, "x7"), "%s", err.msg);
    char *a3[] = {"t", "--n", "700", NULL};
    ck_assert_int_eq(parse(3, a3, &npos, &err), -1);
    ck_assert_msg(strstr(err.msg, "700"), "%s", err.msg);
    char *a4[] = {"t", "--name", NULL};
    ck_assert_int_eq(parse(2, a4, &npos, &err), -1);
    ck_assert_msg(strstr(err.msg, "--name"), "%s", err.msg);
    char *a5[] = {"t", "--flag=1", NULL};
    ck_assert_int_eq(parse(2, a5, &npos, &err), -1);
    char *a6[] = {"t", "a", "b", "c", "d", "e", NULL};
    ck_assert_int_eq(parse(6, a6, &npos, &err), -1);
    ck_assert_msg(strstr(err.msg, "'e'"), "%s", err.msg);
}
END_TEST

START_TEST(test_help_lists_exit_codes) {
    const ic_cmd_spec spec = {"train", "[...]", "desc", NULL, 0, NULL, 0, 0};
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ic_args_print_help(&spec, f);
    fclose(f);
    ck_assert_msg(strstr(buf, "exit status:") && strstr(buf, "  0  success") &&
                  strstr(buf, "  1  the work failed") && strstr(buf, "  2  a bad command line") &&
                  strstr(buf, "SIGTERM"), "%s", buf);
    free(buf);
}
END_TEST

/* More options than IC_ARGS_MAX: the parser must not write past its table. */
START_TEST(test_too_many_options_aborts) {
    pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        static ic_arg_spec many[IC_ARGS_MAX + 1];
        static int flags[IC_ARGS_MAX + 1];
        static char names[IC_ARGS_MAX + 1][16];
        for (int i = 0; i <= IC_ARGS_MAX; i++) {
            snprintf(names[i], sizeof names[i], "--f%d", i);
            many[i] = (ic_arg_spec){names[i], IC_ARG_FLAG, &flags[i], NULL, "", 0, 0, 0};
        }
        const ic_cmd_spec spec = {"t", "", NULL, many, IC_ARGS_MAX + 1, NULL, 0, 0};
        char *argv[] = {"t", names[IC_ARGS_MAX], NULL};
        const char *pos[1];
        int npos = 0;
        ic_error err;
        ic_error_clear(&err);
        freopen("/dev/null", "w", stderr);
        ic_args_parse(&spec, 2, argv, pos, &npos, &err);
        _exit(0);   /* reached only when the parser did not refuse */
    }
    int st = 0;
    ck_assert(waitpid(pid, &st, 0) == pid);
    ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "status %d: not an abort", st);
}
END_TEST

int main(void) {
    Suite *s = suite_create("args");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_global_flag_as_value);
    tcase_add_test(tc, test_bad_command_lines);
    tcase_add_test(tc, test_help_lists_exit_codes);
    tcase_add_test(tc, test_too_many_options_aborts);
    suite_add_tcase(s, tc);
    return ic_test_run_suite(s);
}
