/* The subcommands of the one `indexcache` binary. Each lives in its own
 * launch/cmd_<name>.c and returns the process exit status: 0 success,
 * 1 a failure of the work (bad input file, ...), 2 a bad command line. */
#ifndef IC_COMMANDS_H
#define IC_COMMANDS_H

#include "core/ic_ctx.h"

#include "core/ic_error.h"

/* The op context of the command. main() records --cpu and the local rank
 * (setup); the command opens the context on its first ic_cmd_ctx_for call,
 * naming the op families it needs (kernels/ic_ctx.h IC_NEED_*), which
 * prints the start-up line: CUDA when a GPU answers and every family
 * needed has CUDA kernels, else the CPU with the reason. ic_cmd_ctx() is
 * ic_cmd_ctx_for(IC_NEED_ALL). Later calls return the same context. close
 * logs (at --verbose) how many ops ran on it, so a test can check that the
 * line named the backend that ran them. */
void    ic_cmd_ctx_setup(int force_cpu, int local_rank);
ic_ctx *ic_cmd_ctx_for(unsigned needs);
ic_ctx *ic_cmd_ctx(void);
void    ic_cmd_ctx_close(void);

typedef int (*ic_cmd_fn)(int argc, char **argv);

typedef struct {
    const char *name;
    ic_cmd_fn   fn;
    const char *summary;
} ic_command;

int ic_cmd_import(int argc, char **argv);
int ic_cmd_prep(int argc, char **argv);
int ic_cmd_init_indexers(int argc, char **argv);
int ic_cmd_train(int argc, char **argv);
int ic_cmd_search(int argc, char **argv);
int ic_cmd_eval(int argc, char **argv);
int ic_cmd_overlap(int argc, char **argv);
int ic_cmd_bench(int argc, char **argv);
int ic_cmd_export(int argc, char **argv);
int ic_cmd_generate(int argc, char **argv);
int ic_cmd_inspect(int argc, char **argv);

extern const ic_command ic_commands[];
extern const int ic_n_commands;

/* For subcommands that are not built yet: says so and returns 1. */
int ic_cmd_not_built(const char *name, const char *issue);

/* SIGTERM / SIGUSR1 stop train and search at the next step boundary
 * (core/ic_preempt.h), except a SIGTERM that follows a dead peer rank. */
void ic_cmd_preempt_install(void);

#endif
