/* Dead-rank detection for the process group (docs/DESIGN.md s5: a rank that
 * dies ends the job with a message on every survivor, never a hang).
 *
 * Three ways a survivor learns that a peer is gone, all ending in exit 1
 * (docs/DESIGN.md s6: the job failed) with a line naming the lost ranks:
 *   - the launcher ends the job: Open MPI's mpirun and Slurm send SIGTERM
 *     to the survivors when a rank dies; the handler names the local peers
 *     whose processes are gone (a peer table of pids and hosts is gathered
 *     at start-up) before it exits;
 *   - a collective that does not finish: a watchdog thread sees a host
 *     collective (MPI) or a device collective (NCCL, polled through the
 *     callback below) pending for longer than IC_COMM_TIMEOUT_S seconds
 *     (default 600, like NCCL's and PyTorch's usual timeout), prints what
 *     was pending and which peers are gone, aborts the NCCL communicator
 *     and exits;
 *   - an error the library reports: MPI_ERRORS_RETURN + IC_MPI_CHECK
 *     (launch/ic_dist.h), NCCL's async error (polled by the watchdog).
 * The watchdog thread never calls MPI (MPI runs MPI_THREAD_FUNNELED). */
#ifndef IC_DIST_WATCHDOG_H
#define IC_DIST_WATCHDOG_H

#include <stddef.h>

/* The timeout in seconds: IC_COMM_TIMEOUT_S when set to a positive number,
 * else 600. A bad value is reported once and the default used. */
double ic_wd_timeout_s(void);

/* Records this rank's pid and host for the peer table. */
void ic_wd_local_identity(int *pid, char *host, size_t host_len);
/* The table: pids[world] and hosts[world * host_len] of every rank (copied).
 * Starts the watchdog thread and installs the SIGTERM handler. Called by
 * ic_dist_init when world > 1. */
void ic_wd_start(int rank, int world, const int *pids, const char *hosts, size_t host_len);
void ic_wd_stop(void);

/* A host collective (an MPI call) starts / ends; what names it in the
 * timeout message. Cheap (two stores); no-op before ic_wd_start. */
void ic_wd_enter(const char *what);
void ic_wd_leave(void);

/* A device collective source (the NCCL communicator). poll returns 0 when
 * nothing is pending, 1 while something is, -1 on an error it describes in
 * msg[msg_len]; abort_fn ends the device collectives (ncclCommAbort) before
 * the process exits. Both run on the watchdog thread. NULL poll removes it. */
typedef int  (*ic_wd_poll_fn)(void *user, char *msg, size_t msg_len);
typedef void (*ic_wd_abort_fn)(void *user);
void ic_wd_set_device(ic_wd_poll_fn poll, ic_wd_abort_fn abort_fn, void *user);

/* "lost peer: rank 1 (pid 123 on h) is gone; rank 2 (...) is stopped" for
 * the peers on this host found dead or stopped, else "every peer on this
 * host is still running"; "(N peer(s) on other hosts not checked)" added
 * when there are some. Async-signal-safe. */
void ic_wd_lost_peers(char *buf, size_t len);

#endif
