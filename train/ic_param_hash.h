/* A fingerprint of the trained parameters, printed by every rank at the end
 * of `indexcache train` (docs/DESIGN.md s5: identical AdamW steps on every rank,
 * so identical parameters; a rank that drifted shows a different hash). */
#ifndef IC_PARAM_HASH_H
#define IC_PARAM_HASH_H

#include <stdint.h>

#include "optim/ic_comm.h"
#include "train/ic_trainer.h"

/* FNV-1a over the bytes of every parameter tensor in order (downloaded
 * from the trainer's device in chunks), then an avalanche step. */
uint64_t ic_trainer_param_hash(ic_trainer *t);

/* Prints "train: rank R/N parameter hash H (F floats)" on every rank
 * (stderr, one write) and compares the ranks' hashes through comm
 * (collective); returns 1 when they agree, 0 after a warning on rank 0. */
int ic_trainer_report_param_hash(ic_trainer *t, const ic_comm *comm);

#endif
