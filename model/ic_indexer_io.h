/* Indexer weights in a model dir (docs/DESIGN.md s4): the five tensors of layer i
 * are model.layers.{i}.self_attn.indexer.{wq_b,wk,weights_proj}.weight and
 * ...indexer.k_norm.{weight,bias}, present for F layers only. */
#ifndef IC_INDEXER_IO_H
#define IC_INDEXER_IO_H

#include "ic_error.h"
#include "model/ic_indexer.h"
#include "model/ic_safetensors.h"

/* 1 when the dir holds any indexer tensor of layer `layer`. */
int ic_indexer_present(const ic_model_files *mf, int layer);

/* Read layer `layer`'s indexer into ix (already ic_indexer_init'ed with the
 * config's dims). F32, F16 and BF16 files are accepted. -1 when a tensor is
 * missing or has the wrong shape, with a message naming the tensor, the dir
 * and the expected shape. */
int ic_indexer_load(ic_indexer *ix, const ic_model_files *mf, int layer, ic_error *err);

/* Writer entries (F32) of the five tensors of ix as layer `layer`, for
 * ic_safetensors_write. names must hold IC_INDEXER_N_TENSORS strings of
 * IC_INDEXER_NAME_MAX bytes and outlive out; shapes likewise. */
#define IC_INDEXER_NAME_MAX 128
void ic_indexer_st_entries(const ic_indexer *ix, int layer, ic_st_tensor_in *out,
                           char names[][IC_INDEXER_NAME_MAX], int64_t shapes[][2]);

#endif
