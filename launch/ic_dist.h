/* Process group: rank / world size, MPI when launched by mpirun, a single
 * process otherwise. A plain run needs no mpirun and never touches MPI.
 *
 * Every collective below is called by all ranks in the same order. In a
 * single process (no mpirun, or a build without IC_WITH_MPI) each one is a
 * no-op that returns the local value, so callers never branch on MPI.
 *
 * Failure handling. The world communicator uses MPI_ERRORS_RETURN, and every
 * MPI call here goes through IC_MPI_CHECK: a failing call prints
 * "rank R/N: file:line: MPI error ..." and calls MPI_Abort, which makes
 * mpirun kill the other ranks (instead of leaving them blocked in the next
 * collective). A rank that hits a recoverable error only it can see (an
 * unreadable input, a bad shard) calls ic_dist_fail(msg): the same abort,
 * with the message. Without MPI both print and exit(1).
 *
 * A dead peer (SIGKILL, a crashed node) ends the survivors too: SIGTERM from
 * the launcher, a watchdog on pending collectives (IC_COMM_TIMEOUT_S) and
 * NCCL's async errors, each with a message naming the lost rank
 * (launch/ic_dist_watchdog.h).
 *
 * GPU seam. Buffers here are host memory and go through MPI (the CPU path
 * of docs/DESIGN.md section 5). ic_dist_comm_for(ctx) gives train/ the comm for
 * where its gradients live: on a CUDA context with several ranks, gradient
 * averaging runs through NCCL on the context's stream (launch/ic_dist_nccl.h),
 * everything else (scalars, flags) through MPI. */
#ifndef IC_DIST_H
#define IC_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "optim/ic_comm.h"

typedef struct {
    int rank;        /* 0..world-1 */
    int world;       /* 1 without mpirun */
    int local_rank;  /* rank on this host: picks the GPU */
    int mpi_active;  /* MPI_Init was called */
} ic_dist;

/* Starts MPI only when a launcher set the environment (OMPI_/PMI_/PMIX_
 * variables); sets the log rank and the error handler. */
void ic_dist_init(int *argc, char ***argv);
const ic_dist *ic_dist_get(void);
void ic_dist_finalize(void);

/* ---- collectives (host buffers) ------------------------------------------- */

/* buf[n] <- mean over ranks of buf[n], in place (sum then * 1/world). */
void ic_dist_allreduce_mean_f32(float *buf, size_t n);
/* buf[n] <- sum over ranks, in place. */
void ic_dist_allreduce_sum_f64(double *buf, size_t n);
/* Scalars: sum over ranks (losses, token counts), max (timings). */
double  ic_dist_sum_f64(double x);
int64_t ic_dist_sum_i64(int64_t x);
double  ic_dist_max_f64(double x);
/* buf[nbytes] of rank 0 copied to every rank. */
void ic_dist_bcast(void *buf, size_t nbytes);
void ic_dist_barrier(void);

/* The smallest (value, index) over ranks (MPI_MINLOC on MPI_DOUBLE_INT):
 * equal values go to the lower index. NaN counts as +inf, so a rank whose
 * evaluation broke never wins. The greedy search uses index = layer. */
typedef struct {
    double value;
    int    index;
} ic_dist_minloc_pair;
ic_dist_minloc_pair ic_dist_minloc(double value, int index);

/* 1 when ok != 0 on every rank, else 0 on every rank: lets all ranks take
 * the same error path after a step where any of them failed. */
int ic_dist_all_ok(int ok);

/* 1 when buf[nbytes] holds the same bytes on every rank (a 64-bit hash
 * compared with MIN and MAX reductions). Data parallelism relies on every
 * rank taking identical optimizer steps; a trainer can call this on its
 * parameters now and then to catch ranks that drifted apart. */
int ic_dist_same_bytes(const void *buf, size_t nbytes);

/* The collectives above as the interface train/ and optim/ take
 * (optim/ic_comm.h), for the group of ic_dist_init; call it after that.
 * Its mean_f32 takes host buffers. */
const ic_comm *ic_dist_comm(void);

/* The comm for buffers on ctx's device (ctx may be NULL: host). One process:
 * ic_dist_comm() (no callback ever runs). Several ranks: every rank must
 * run the same backend (checked: ranks that disagree end the job naming
 * them); on CUDA mean_f32 takes device buffers and runs ncclAllReduce
 * (ncclAvg) on ctx's stream, opening the NCCL communicator on the first
 * call (collective: every rank calls this at the same point); a build
 * without NCCL stages device buffers through the host and MPI instead, and
 * says so once. On the CPU it is ic_dist_comm(). */
struct ic_ctx;
const ic_comm *ic_dist_comm_for(struct ic_ctx *ctx);

/* ---- failure ----------------------------------------------------------------- */

/* Print "indexcache: rank R/N: fatal: <msg>" and end the whole job
 * (MPI_Abort with exit code 1; exit(1) without MPI). */
_Noreturn void ic_dist_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* rc is an MPI return code (MPI_SUCCESS = 0); on failure prints the rank,
 * file:line, the call, MPI's message and the peers found dead, then aborts the
 * job (exit code 1: the job failed, docs/DESIGN.md s6). */
void ic_dist_check_rc(int rc, const char *call, const char *file, int line);
#define IC_MPI_CHECK(call) ic_dist_check_rc((call), #call, __FILE__, __LINE__)

#endif
