/* indexcache: one binary, one subcommand per pipeline step (docs/DESIGN.md s1).
 * Global flags (--quiet, --verbose, --cpu) may stand anywhere a flag may. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ic_log.h"
#include "kernels/ic_ctx.h"
#include "launch/ic_commands.h"
#include "launch/ic_dist.h"
#include "launch/ic_dist_nccl.h"

static void print_usage(FILE *f) {
    fprintf(f, "indexcache: DeepSeek Sparse Attention + IndexCache for Llama-family models\n\n"
               "usage: indexcache COMMAND [options]   (indexcache COMMAND --help for each)\n\n"
               "commands:\n");
    for (int i = 0; i < ic_n_commands; i++)
        fprintf(f, "  %-14s %s\n", ic_commands[i].name, ic_commands[i].summary);
    fprintf(f, "\nglobal flags: --quiet, --verbose, --cpu (ignore GPUs)\n"
               "data-parallel: mpirun -np N indexcache train ...\n");
}

/* Two settings the runtime libraries read when they are loaded, before
 * main, so a default can only be given by re-executing once (a user's own
 * setting is kept):
 *   OMP_WAIT_POLICY=PASSIVE: OpenMP threads that spin after a parallel
 *     region steal the cores that the next GEMM or loop needs when the
 *     machine is shared or small (1.7x slower forwards seen on 2 cores);
 *   OPENBLAS_CORETYPE: the kernel set of an OpenBLAS that does not know this
 *     CPU and fell back to its SSE3 ones (ic_cpu_blas_core_fix). */
static void default_runtime_env(char **argv) {
    int again = 0;
    if (!getenv("OMP_WAIT_POLICY")) {
        setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
        again = 1;
    }
    const char *core = getenv("OPENBLAS_CORETYPE") ? NULL : ic_cpu_blas_core_fix();
    if (core) {
        setenv("OPENBLAS_CORETYPE", core, 1);
        again = 1;
    }
    if (again) execv("/proc/self/exe", argv);
    /* exec failed (no /proc): run on with the libraries' defaults */
}

int main(int argc, char **argv) {
    default_runtime_env(argv);
    /* Global flags before the command name are taken here; after it the
     * subcommand's parser takes them (launch/ic_args.c), because only it
     * knows which words are values of other flags (--prompt --quiet). */
    int force_cpu = 0, n = 1, i = 1;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--quiet") == 0) ic_log_set_level(IC_LOG_QUIET);
        else if (strcmp(argv[i], "--verbose") == 0) ic_log_set_level(IC_LOG_VERBOSE);
        else if (strcmp(argv[i], "--cpu") == 0) force_cpu = 1;
        else break;
    }
    for (; i < argc; i++) argv[n++] = argv[i];
    argc = n;
    argv[argc] = NULL;

    if (argc < 2 || strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0) {
        if (argc >= 3 && strcmp(argv[1], "help") == 0) {
            /* `indexcache help CMD` == `indexcache CMD --help` */
            for (int i = 0; i < ic_n_commands; i++)
                if (strcmp(argv[2], ic_commands[i].name) == 0) {
                    char *sub[] = {argv[2], "--help", NULL};
                    return ic_commands[i].fn(2, sub);
                }
            fprintf(stderr, "indexcache: unknown command '%s'\n", argv[2]);
            return 2;
        }
        print_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }

    const ic_command *cmd = NULL;
    for (int i = 0; i < ic_n_commands; i++)
        if (strcmp(argv[1], ic_commands[i].name) == 0) cmd = &ic_commands[i];
    if (!cmd) {
        fprintf(stderr, "indexcache: unknown command '%s' (see 'indexcache help')\n", argv[1]);
        return 2;
    }

    ic_dist_init(&argc, &argv);
    /* Help and file inspection need no device: the context opens only when
     * a command first asks for it (ic_cmd_ctx_for). */
    ic_cmd_ctx_setup(force_cpu, ic_dist_get()->local_rank);
    int status = cmd->fn(argc - 1, argv + 1);
    ic_nccl_close();   /* before its context's stream goes */
    ic_cmd_ctx_close();
    ic_dist_finalize();
    return status;
}
