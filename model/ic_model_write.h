/* Writing a DSA/IndexCache model dir (docs/DESIGN.md s4) from a source model dir
 * and a set of indexers: what `train` leaves in its --out dir and what
 * `export` publishes. The teacher tensors are copied byte for byte in their
 * own dtype (any indexer tensors of the source are dropped), the given
 * indexers are stored as F32 under their DeepSeek-V3.2 names, config.json
 * gets the indexer keys and the literal pattern, and the tokenizer files
 * come along. Each file is written atomically (temp + fsync + rename). */
#ifndef IC_MODEL_WRITE_H
#define IC_MODEL_WRITE_H

#include "ic_error.h"
#include "model/ic_config.h"
#include "model/ic_indexer.h"
#include "model/ic_pattern.h"

/* src_dir: the dir the teacher tensors come from; out_dir: created if
 * needed (must not be src_dir). cfg: the teacher's config (indexer dims
 * taken from it); topk: index_topk to record; pat: the pattern (its F
 * layers must have ix[l].data != NULL); ix [n_layers]: indexers, entries
 * with data == NULL are not written. */
int ic_model_dir_write(const char *src_dir, const char *out_dir, const ic_config *cfg,
                       const ic_pattern *pat, int topk, const ic_indexer *ix, ic_error *err);

/* Copy tokenizer.json and the other HF side files present in src to dst. */
int ic_model_copy_aux_files(const char *src, const char *dst, ic_error *err);

/* 1 when two paths name the same existing directory. */
int ic_same_dir(const char *a, const char *b);

#endif
