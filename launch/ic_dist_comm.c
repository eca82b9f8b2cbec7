/* The process group as the collectives interface of train/ and optim/
 * (optim/ic_comm.h): ic_dist's MPI calls behind callbacks. */
#include "launch/ic_dist.h"

static void dist_mean_f32(void *user, float *buf, size_t n) {
    (void)user;
    ic_dist_allreduce_mean_f32(buf, n);
}

static void dist_sum_f64(void *user, double *buf, size_t n) {
    (void)user;
    ic_dist_allreduce_sum_f64(buf, n);
}

static double dist_max_f64(void *user, double x) {
    (void)user;
    return ic_dist_max_f64(x);
}

static void dist_minloc(void *user, double *value, int *index) {
    (void)user;
    ic_dist_minloc_pair p = ic_dist_minloc(*value, *index);
    *value = p.value;
    *index = p.index;
}

static int dist_all_ok(void *user, int ok) {
    (void)user;
    return ic_dist_all_ok(ok);
}

const ic_comm *ic_dist_comm(void) {
    static ic_comm c;
    const ic_dist *d = ic_dist_get();
    c = (ic_comm){ d->rank, d->world, NULL, dist_mean_f32, dist_sum_f64, dist_max_f64,
                   dist_minloc, dist_all_ok, 0 };   /* MPI: host buffers */
    return &c;
}
