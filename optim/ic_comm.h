/* The collectives interface of training (docs/DESIGN.md s2, s5): what train/
 * and optim/ need from a process group, as callbacks, so that they never
 * include launch/. launch/ (ic_dist, MPI) fills one in and passes it down;
 * tests can pass their own. A NULL comm, or ic_comm_single(), is one
 * process: every reduction returns the local value.
 *
 * Every rank calls the collectives in the same order with the same sizes.
 * mean_f32's buffer lives on the device of the context the comm was made
 * for (launch/ic_dist.h ic_dist_comm_for: NCCL on the context's stream on
 * CUDA, MPI on the CPU); every other callback takes host scalars. */
#ifndef IC_COMM_H
#define IC_COMM_H

#include <stddef.h>

typedef struct ic_comm {
    int   rank;    /* 0..world-1 */
    int   world;   /* number of ranks, >= 1 */
    void *user;    /* passed to every callback */
    /* buf[n] <- mean over ranks of buf[n], in place. A mean rather than a
     * sum because that is what gradient averaging needs and what NCCL does
     * in one call (ncclAvg); the MPI version sums then scales by 1/world. */
    void (*mean_f32)(void *user, float *buf, size_t n);
    /* buf[n] <- sum over ranks, in place */
    void (*sum_f64)(void *user, double *buf, size_t n);
    /* the largest x over ranks (timings) */
    double (*max_f64)(void *user, double x);
    /* (value, index) <- the smallest over ranks; equal values to the lower
     * index; NaN counts as +inf */
    void (*minloc)(void *user, double *value, int *index);
    /* 1 when ok != 0 on every rank, else 0 on every rank */
    int  (*all_ok)(void *user, int ok);
} ic_comm;

/* The one-process group (rank 0 of 1; every callback is the identity). */
const ic_comm *ic_comm_single(void);

/* The calls train/ and optim/ make. c may be NULL (one process); a comm of
 * world 1 never calls its callbacks, so they may be NULL there. */
int    ic_comm_rank(const ic_comm *c);
int    ic_comm_world(const ic_comm *c);
void   ic_comm_mean_f32(const ic_comm *c, float *buf, size_t n);
void   ic_comm_sum_f64(const ic_comm *c, double *buf, size_t n);
double ic_comm_sum1_f64(const ic_comm *c, double x);
double ic_comm_max1_f64(const ic_comm *c, double x);
void   ic_comm_minloc(const ic_comm *c, double *value, int *index);
int    ic_comm_all_ok(const ic_comm *c, int ok);

#endif
