/* launch/ic_dist in a plain process (no mpirun): every collective is the
 * identity, and ic_dist_fail ends the process with status 1 and the
 * message. The 2-rank behaviour is tests/mpi/test_dist.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "launch/ic_dist.h"
#include "testutil.h"

START_TEST(test_single_process_identity) {
    int argc = 1;
    char *args[] = {"test", NULL}, **argv = args;
    ic_dist_init(&argc, &argv);
    const ic_dist *d = ic_dist_get();
    ck_assert_int_eq(d->world, 1);
    ck_assert_int_eq(d->rank, 0);
    ck_assert_int_eq(d->mpi_active, 0);
    ic_rng r; ic_rng_seed(&r, 3);
    float x[1001], y[1001];
    ic_fill_normal(&r, x, 1001, 1.0f);
    memcpy(y, x, sizeof x);
    ic_dist_allreduce_mean_f32(x, 1001);
    ck_assert(memcmp(x, y, sizeof x) == 0);
    double dv[2] = {1.5, -2.25};
    ic_dist_allreduce_sum_f64(dv, 2);
    ck_assert(dv[0] == 1.5 && dv[1] == -2.25);
    ck_assert(ic_dist_sum_f64(0.1) == 0.1);
    ck_assert(ic_dist_sum_i64(5000000000ll) == 5000000000ll);
    ck_assert(ic_dist_max_f64(-3.0) == -3.0);
    ic_dist_bcast(x, sizeof x);
    ck_assert(memcmp(x, y, sizeof x) == 0);
    ic_dist_barrier();
    ic_dist_minloc_pair p = ic_dist_minloc(2.5, 7);
    ck_assert(p.value == 2.5 && p.index == 7);
    p = ic_dist_minloc(NAN, 3);
    ck_assert(isinf(p.value) && p.value > 0 && p.index == 3);
    ck_assert_int_eq(ic_dist_all_ok(1), 1);
    ck_assert_int_eq(ic_dist_all_ok(0), 0);
    IC_MPI_CHECK(0);  /* success code: nothing happens */
    ic_dist_finalize();
}
END_TEST

/* Runs fn in a child with stderr captured; returns the exit status. */
static int run_child(void (*fn)(void), char *buf, size_t cap) {
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        fn();
        _exit(0);  /* not reached when fn ends the process */
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t k;
    while (n + 1 < cap && (k = read(fds[0], buf + n, cap - 1 - n)) > 0) n += (size_t)k;
    buf[n] = '\0';
    close(fds[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void do_fail(void) { ic_dist_fail("cannot read %s", "shard-3.h5"); }
static void do_check(void) { IC_MPI_CHECK(13); }

START_TEST(test_fail_exits_with_message) {
    char buf[4096];
    ck_assert_int_eq(run_child(do_fail, buf, sizeof buf), 1);
    ck_assert_msg(strstr(buf, "rank 0/1: fatal: cannot read shard-3.h5"), "stderr: %s", buf);
    /* a failed MPI call fails the job (docs/DESIGN.md s6: 1), it is not a bad command line */
    ck_assert_int_eq(run_child(do_check, buf, sizeof buf), 1);
    ck_assert_msg(strstr(buf, "test_dist_single.c:") && strstr(buf, "MPI error 13"), "stderr: %s", buf);
}
END_TEST

int main(void) {
    Suite *s = suite_create("dist_single");
    TCase *tc = tcase_create("dist_single");
    tcase_add_test(tc, test_single_process_identity);
    tcase_add_test(tc, test_fail_exits_with_message);
    suite_add_tcase(s, tc);
    return ic_test_run_suite(s);
}
