#include "ic_commands.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "ic_check.h"
#include "ic_log.h"
#include "kernels/ic_ctx.h"
#include "launch/ic_args.h"
#include "launch/ic_dist.h"
#include "launch/ic_dist_watchdog.h"
#include "ic_preempt.h"

const ic_command ic_commands[] = {
    {"import",        ic_cmd_import,        "dense model (HF dir or GGUF file) -> model dir"},
    {"prep",          ic_cmd_prep,          "text files -> HDF5 token dataset"},
    {"init-indexers", ic_cmd_init_indexers, "add freshly initialised indexers for a pattern's F layers"},
    {"train",         ic_cmd_train,         "distil the indexers (IndexCache multi-layer loss)"},
    {"search",        ic_cmd_search,        "training-free greedy search for the F/S pattern"},
    {"eval",          ic_cmd_eval,          "LM loss / perplexity: dense, DSA, any pattern"},
    {"overlap",       ic_cmd_overlap,       "top-k overlap matrix between layers (CSV + PNG)"},
    {"bench",         ic_cmd_bench,         "prefill / decode speed, all-F vs patterns"},
    {"export",        ic_cmd_export,        "safetensors + config.json for vLLM / SGLang / transformers"},
    {"generate",      ic_cmd_generate,      "greedy text from a model (sanity check)"},
    {"inspect",       ic_cmd_inspect,       "list the tensors of a safetensors file or model dir"},
};
const int ic_n_commands = (int)(sizeof ic_commands / sizeof ic_commands[0]);

int ic_cmd_not_built(const char *name, const char *issue) {
    fprintf(stderr, "indexcache %s: not implemented in this build yet (tracked in %s)\n", name, issue);
    return 1;
}

/* ---- the command's op context ---------------------------------------- */
static ic_ctx g_cmd_ctx;
static int g_cmd_ctx_ready, g_force_cpu, g_local_rank;

void ic_cmd_ctx_setup(int force_cpu, int local_rank) {
    g_force_cpu = force_cpu;
    g_local_rank = local_rank;
}

ic_ctx *ic_cmd_ctx_for(unsigned needs) {
    if (!g_cmd_ctx_ready) {
        ic_error err = {0};
        /* With no workspace to reserve, only a broken CPU set-up can fail here. */
        /* --cpu before the command name (main.c) or among its flags (ic_args.c) */
        int cpu = g_force_cpu || ic_args_force_cpu();
        if (ic_ctx_init_auto(&g_cmd_ctx, cpu, g_local_rank, needs, 0, &err) != 0)
            IC_FATAL("cannot open an op context: %s", err.msg);
        g_cmd_ctx_ready = 1;
    }
    return &g_cmd_ctx;
}

ic_ctx *ic_cmd_ctx(void) { return ic_cmd_ctx_for(IC_NEED_ALL); }

void ic_cmd_ctx_close(void) {
    if (!g_cmd_ctx_ready) return;
    ic_ctx_sync(&g_cmd_ctx);
    ic_log_debug("ops run on %s: %lld", g_cmd_ctx.desc, (long long)g_cmd_ctx.n_ops);
    ic_ctx_free(&g_cmd_ctx);
    g_cmd_ctx_ready = 0;
}

/* ---- preemption (core/ic_preempt.h) ------------------------------------ */

/* In the signal handler: is this SIGTERM the launcher ending the job for a
 * dead peer rather than a preemption? Then the dead-rank handler reports
 * it (launch/ic_dist_watchdog.h). Only this host's peers can be checked;
 * for a remote one the preempted rank waits in the step's collective until
 * the watchdog or the launcher's SIGKILL ends it. */
static int peer_lost(int sig) {
    if (sig != SIGTERM || ic_dist_get()->world <= 1) return 0;
    char buf[768];
    ic_wd_lost_peers(buf, sizeof buf);
    return strncmp(buf, "lost peer", 9) == 0;
}

void ic_cmd_preempt_install(void) { ic_preempt_install(peer_lost); }
