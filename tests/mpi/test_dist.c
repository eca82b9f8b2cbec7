/* launch/ic_dist under mpiexec -np 2: every collective agrees with a
 * computation each rank does locally from the other ranks' (re-generated)
 * inputs, and the sampler's rank shares are disjoint across the real ranks.
 *
 * A plain program, not a Check suite: Check forks, which MPI does not
 * survive. A failed check calls ic_dist_fail, so the job ends non-zero with
 * the message on every rank.
 *
 * Tool modes for tests/mpi/test_rank_failure.sh:
 *   --fail-rank R       rank R hits a "recoverable" error and calls
 *                       ic_dist_fail while the others wait in a barrier;
 *   --mpi-error-rank R  rank R makes an invalid MPI call (send to a rank
 *                       that does not exist) through IC_MPI_CHECK;
 *   --probe             exit 0 (77 in a build without MPI). */
#ifndef IC_WITH_MPI
/* A build without MPI (-DIC_MPI=OFF) compiles this folder but runs nothing. */
#include <stdio.h>
int main(void) { puts("test_dist: built without MPI, skipped"); return 77; }
#else
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/ic_sampler.h"
#include "launch/ic_dist.h"
#include "testutil.h"

#define CHECK(cond, ...) do { if (!(cond)) { char m_[1200]; snprintf(m_, sizeof m_, __VA_ARGS__); \
    ic_dist_fail("test_dist %s:%d: check failed: %s: %s", __FILE__, __LINE__, #cond, m_); } } while (0)

static void fill_rank(int r, float *x, size_t n) {
    ic_rng g; ic_rng_seed(&g, 1000 + (uint64_t)r);
    ic_fill_normal(&g, x, n, 1.0f + (float)r);
}

static void test_allreduce_mean(const ic_dist *d) {
    const size_t n = 100003;
    float *mine = malloc(n * sizeof *mine), *other = malloc(n * sizeof *other);
    double *want = calloc(n, sizeof *want);
    for (int r = 0; r < d->world; r++) {
        fill_rank(r, other, n);
        for (size_t i = 0; i < n; i++) want[i] += (double)other[i] / d->world;
    }
    fill_rank(d->rank, mine, n);
    ic_dist_allreduce_mean_f32(mine, n);
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs(mine[i] - want[i]) / (fabs(want[i]) + 1e-3);
        if (!(e <= worst)) worst = e;
    }
    CHECK(worst < 1e-6, "rank %d: mean differs from the local computation by %g", d->rank, worst);
    /* every rank holds the same bits */
    memcpy(other, mine, n * sizeof *mine);
    ic_dist_bcast(other, n * sizeof *other);
    CHECK(memcmp(other, mine, n * sizeof *mine) == 0, "rank %d: mean differs from rank 0's", d->rank);
    CHECK(ic_dist_same_bytes(mine, n * sizeof *mine), "same_bytes on identical buffers");
    if (d->rank == 1) mine[n / 2] = nextafterf(mine[n / 2], INFINITY);  /* one ulp on one rank */
    CHECK(!ic_dist_same_bytes(mine, n * sizeof *mine), "same_bytes missed a one-ulp difference");
    free(mine); free(other); free(want);
}

static void test_scalars(const ic_dist *d) {
    double want_f = 0, want_max = -INFINITY;
    int64_t want_i = 0;
    for (int r = 0; r < d->world; r++) {
        want_f += 0.25 + r * 1.5;
        want_i += 3000000000ll + r;  /* beyond int32 */
        want_max = fmax(want_max, 10.0 - r * r);
    }
    CHECK(ic_dist_sum_f64(0.25 + d->rank * 1.5) == want_f, "sum_f64");
    CHECK(ic_dist_sum_i64(3000000000ll + d->rank) == want_i, "sum_i64");
    CHECK(ic_dist_max_f64(10.0 - d->rank * d->rank) == want_max, "max_f64");
    double buf[3] = {1.0 * d->rank, 2.0, -0.5 * d->rank};
    ic_dist_allreduce_sum_f64(buf, 3);
    double w0 = 0, w2 = 0;
    for (int r = 0; r < d->world; r++) { w0 += r; w2 += -0.5 * r; }
    CHECK(buf[0] == w0 && buf[1] == 2.0 * d->world && buf[2] == w2, "allreduce_sum_f64");
    CHECK(ic_dist_all_ok(1) == 1, "all_ok with every rank ok");
    CHECK(ic_dist_all_ok(d->rank != d->world - 1) == 0, "all_ok with the last rank failing");
}

static void test_bcast(const ic_dist *d) {
    const size_t n = 1000003;
    unsigned char *b = malloc(n), *want = malloc(n);
    ic_rng g; ic_rng_seed(&g, 77);
    for (size_t i = 0; i < n; i++) want[i] = (unsigned char)(ic_rng_next(&g) >> 56);
    if (d->rank == 0) memcpy(b, want, n);
    else memset(b, 0xA5, n);
    ic_dist_bcast(b, n);
    CHECK(memcmp(b, want, n) == 0, "rank %d: broadcast bytes differ", d->rank);
    free(b); free(want);
}

/* Each rank holds 5 candidates (value, layer); the global best over all of
 * them, computed locally, must be what minloc returns on every rank. */
static void candidates(int r, double *v, int *idx) {
    ic_rng g; ic_rng_seed(&g, 500 + (uint64_t)r);
    for (int k = 0; k < 5; k++) {
        v[k] = 2.0 + ic_rng_uniform(&g);
        idx[k] = 1 + r + 2 * k;  /* layers split round-robin over 2 ranks */
    }
}

static ic_dist_minloc_pair local_best(const double *v, const int *idx, int n) {
    ic_dist_minloc_pair b = {INFINITY, 1 << 30};
    for (int k = 0; k < n; k++)
        if (v[k] < b.value || (v[k] == b.value && idx[k] < b.index)) { b.value = v[k]; b.index = idx[k]; }
    return b;
}

static void test_minloc(const ic_dist *d) {
    double v[5], allv[64];
    int idx[5], alli[64], na = 0;
    for (int r = 0; r < d->world; r++) {
        candidates(r, v, idx);
        for (int k = 0; k < 5; k++) { allv[na] = v[k]; alli[na++] = idx[k]; }
    }
    ic_dist_minloc_pair want = local_best(allv, alli, na);
    candidates(d->rank, v, idx);
    ic_dist_minloc_pair mine = local_best(v, idx, 5);
    ic_dist_minloc_pair got = ic_dist_minloc(mine.value, mine.index);
    CHECK(got.value == want.value && got.index == want.index, "minloc (%g, %d), want (%g, %d)",
          got.value, got.index, want.value, want.index);
    /* ties go to the lower index: the last rank offers the lowest one */
    got = ic_dist_minloc(1.25, 100 - d->rank);
    CHECK(got.value == 1.25 && got.index == 100 - (d->world - 1), "tie -> index %d", got.index);
    /* a broken (NaN) evaluation never wins */
    got = ic_dist_minloc(d->rank == 0 ? NAN : 3.0 + d->rank, d->rank);
    CHECK(got.value == 4.0 && got.index == 1, "NaN on rank 0: got (%g, %d)", got.value, got.index);
}

/* The real ranks' sampler shares: disjoint within each epoch, and together
 * exactly the single-rank sampler with batch world * B, in its order. */
static void test_sampler_shares(const ic_dist *d) {
    const uint64_t N = 50021, L = 128;  /* W = 390 */
    const int B = 3, steps = 65;         /* 390 positions = one epoch */
    ic_error err; ic_error_clear(&err);
    ic_sampler s, one;
    CHECK(ic_sampler_init(&s, N, L, 1, B, d->rank, d->world, 2024, &err) == 0, "%s", err.msg);
    CHECK(ic_sampler_init(&one, N, L, 1, B * d->world, 0, 1, 2024, &err) == 0, "%s", err.msg);
    CHECK(ic_sampler_n_windows(&s) == (uint64_t)steps * B * d->world, "epoch size");
    uint64_t *mine = malloc((size_t)B * sizeof *mine);
    uint64_t *all = malloc((size_t)B * d->world * sizeof *all);
    uint64_t *single = malloc((size_t)B * d->world * sizeof *single);
    char *seen = calloc(ic_sampler_n_windows(&s), 1);
    for (int t = 0; t < steps; t++) {
        ic_sampler_next(&s, mine);
        ic_sampler_next(&one, single);
        /* all[r*B + j] = rank r's sample j */
        IC_MPI_CHECK(MPI_Allgather(mine, B, MPI_UINT64_T, all, B, MPI_UINT64_T, MPI_COMM_WORLD));
        for (int r = 0; r < d->world; r++)
            for (int j = 0; j < B; j++) {
                uint64_t w = all[r * B + j] / L;
                CHECK(!seen[w], "step %d: window %llu seen twice in the epoch", t, (unsigned long long)w);
                seen[w] = 1;
                CHECK(all[r * B + j] == single[j * d->world + r],
                      "step %d rank %d sample %d is not sample %d of the 1-rank batch", t, r, j,
                      j * d->world + r);
            }
    }
    for (uint64_t w = 0; w < ic_sampler_n_windows(&s); w++)
        CHECK(seen[w], "window %llu never seen", (unsigned long long)w);
    free(mine); free(all); free(single); free(seen);
    ic_sampler_free(&s);
    ic_sampler_free(&one);
}

int main(int argc, char **argv) {
    ic_dist_init(&argc, &argv);
    const ic_dist *d = ic_dist_get();
    if (argc == 2 && strcmp(argv[1], "--probe") == 0) return 0;  /* built with MPI */
    if (argc == 3 && strcmp(argv[1], "--fail-rank") == 0) {
        int victim = atoi(argv[2]);
        if (d->rank == victim) {
            usleep(200 * 1000);  /* the others are already blocked */
            ic_dist_fail("cannot read /data/shard-%d.h5: no such file (simulated)", d->rank);
        }
        ic_dist_barrier();  /* without the abort this would wait forever */
        ic_dist_finalize();
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "--mpi-error-rank") == 0) {
        int victim = atoi(argv[2]);
        if (d->rank == victim) {
            int x = 0;
            IC_MPI_CHECK(MPI_Send(&x, 1, MPI_INT, d->world + 5, 0, MPI_COMM_WORLD));
        }
        ic_dist_barrier();
        ic_dist_finalize();
        return 0;
    }
    if (!d->mpi_active || d->world != 2) {
        fprintf(stderr, "test_dist: run me with mpiexec -np 2 (got %d process%s)\n", d->world,
                d->world == 1 ? "" : "es");
        ic_dist_finalize();
        return 1;
    }
    test_allreduce_mean(d);
    test_scalars(d);
    test_bcast(d);
    test_minloc(d);
    test_sampler_shares(d);
    ic_dist_barrier();
    printf("rank %d/%d: all distributed checks passed\n", d->rank, d->world);
    ic_dist_finalize();
    return 0;
}

#endif /* IC_WITH_MPI */
