/* Preemption requests: SIGTERM (Slurm sends it some time before it kills a
 * job) and SIGUSR1 (Slurm's --signal=USR1@T, or a user) ask a long command
 * to stop cleanly. The handler only records the signal; the command polls
 * ic_preempt_pending() at one place, its step boundary, writes its
 * checkpoint (train) or trace (search) there and exits 0 with a message, so
 * that --resume continues as if it had never stopped.
 *
 * A second signal while the first is still pending goes to the action that
 * was installed before ours (the default: the process dies), so a user who
 * insists is obeyed. So does a signal that `forward` says is no preemption:
 * under mpirun a SIGTERM also means "a peer rank died, the launcher ends
 * the job", which launch/'s dead-rank handler reports (ic_dist_watchdog.h);
 * stopping at a step boundary would wait in a collective for the dead. */
#ifndef IC_PREEMPT_H
#define IC_PREEMPT_H

/* Install the handlers for SIGTERM and SIGUSR1, keeping the previous
 * actions (idempotent; a later call only replaces forward). forward may be
 * NULL; it runs inside the handler, so it must be async-signal-safe. */
void ic_preempt_install(int (*forward)(int sig));

/* The signal received (SIGTERM or SIGUSR1), 0 when none. */
int ic_preempt_pending(void);

/* "SIGTERM" / "SIGUSR1" / "signal N" for messages. */
const char *ic_preempt_name(int sig);

/* Forget a pending request (tests). */
void ic_preempt_clear(void);

#endif
