/* Training checkpoints: everything a run needs to continue bitwise as if it
 * had never stopped.
 *
 * Layout. DIR/ckpt-<step>/ (step in decimal, no padding) holds
 *   weights.safetensors    the caller's named fp32 tensors (opaque to us)
 *   optimizer.safetensors  AdamW m, v ("<name>.exp_avg", "<name>.exp_avg_sq")
 *   state.json             {"format": "indexcache-checkpoint", "version": 1,
 *                           "step", "rng" (hex), "sampler" (cursor),
 *                           "optimizer" {"step", "beta1", "beta2", "eps",
 *                           "weight_decay"}, "config" (the run's own object)}
 *   COMPLETE               written last
 *
 * Atomicity. Everything is written into DIR/ckpt-<step>.tmp.<pid>/, every
 * file fsynced (temp + fsync + rename per file), the directory fsynced,
 * then renamed to ckpt-<step> and DIR fsynced. The rename is the commit: a
 * crash before it leaves only a .tmp directory, which lookups ignore. The
 * COMPLETE marker is a second guard for copies made by other tools (rsync,
 * cp -r) that are not atomic: a ckpt-<step> directory without it is never
 * chosen. "Latest" = the highest step among ckpt-<digits> directories that
 * hold COMPLETE.
 *
 * Only one process writes (rank 0 under MPI): the caller ensures that.
 *
 * Retention: after a successful save, complete checkpoints beyond the
 * newest `keep` are deleted (each renamed to .old.<pid> first, so that a
 * crash mid-deletion never leaves a ckpt-<step> with COMPLETE but no
 * tensors), as are .tmp/.old directories left by processes of this host
 * that no longer exist. Directories we did not make (names other than
 * ckpt-*) are never touched. */
#ifndef IC_CHECKPOINT_H
#define IC_CHECKPOINT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "data/ic_sampler.h"
#include "ic_error.h"
#include "optim/ic_adamw.h"

#define IC_CKPT_KEEP_DEFAULT 2

/* What a checkpoint holds. Every pointer is borrowed. On save they are read;
 * on load the buffers are filled (weights[i].data, opt state, *sampler) and
 * step/rng are set. */
typedef struct {
    int64_t           step;       /* optimizer steps completed */
    ic_named_f32     *weights;    /* [n_weights] trained tensors */
    int               n_weights;
    ic_adamw         *opt;        /* NULL: no optimizer state */
    ic_sampler_state *sampler;    /* NULL: no sampler cursor */
    uint64_t          rng;        /* the run's PRNG state (ic_prng.s) */
    json_t           *config;     /* save: the run config (object, may be NULL) */
    struct ic_ctx    *ctx;        /* where weights[i].data and the optimizer state live:
                                     NULL or a CPU context = host memory; a GPU context's
                                     are downloaded to save and uploaded on load */
} ic_checkpoint;

/* Write DIR/ckpt-<ck->step> atomically (DIR is created if needed), then
 * prune to the newest `keep` (keep <= 0: IC_CKPT_KEEP_DEFAULT). An existing
 * checkpoint of the same step is replaced (the old one is kept until the
 * new one is in place). */
int ic_checkpoint_save(const char *dir, const ic_checkpoint *ck, int keep, ic_error *err);

/* The newest complete checkpoint of DIR: 1 with *step and path[path_len]
 * set, 0 when there is none (or DIR does not exist), -1 on error. */
int ic_checkpoint_latest(const char *dir, int64_t *step, char *path, size_t path_len,
                         ic_error *err);

/* Load the checkpoint directory `path` into ck: every ck->weights[i] must
 * be in the file with the same shape, and the file must hold no others;
 * with ck->opt its tensors and hyper-parameters must match the optimizer
 * (which must have been initialised with the same parameters). Sets
 * ck->step, ck->rng, *ck->sampler (when non-NULL). *saved_config receives a
 * new reference to the saved config (NULL if none); pass it to
 * ic_checkpoint_config_check. Nothing is modified on failure except
 * possibly some weights (the caller aborts the run then). */
int ic_checkpoint_load(const char *path, ic_checkpoint *ck, json_t **saved_config,
                       ic_error *err);

/* --resume guard: every key of both objects must be present in the other
 * with an equal value. The message names the first differing key, e.g.
 * "--resume: the checkpoint was made with pattern = \"FSSS\", this run has
 * \"FFSS\"". Put in `config` what must not change (pattern, stage, loss, lr
 * schedule, seq-len, batch x ranks, seed, data file); leave out what may
 * (--steps when extending a run, --eval-every). */
int ic_checkpoint_config_check(const json_t *saved, const json_t *current, ic_error *err);

/* Delete complete checkpoints beyond the newest `keep` and stale temp
 * directories (see above). */
int ic_checkpoint_prune(const char *dir, int keep, ic_error *err);

#endif
