/* Validation ops: the checks of data that enters the op graph from outside
 * (token files, index sets from a caller or a file). The hot ops trust
 * their inputs (a walk over host memory in every call would not survive
 * the move to device memory); callers run these once where the data
 * enters: the teacher's embedding, the trainer before the loss, a layer's
 * index-set callback. Each returns 0, or -1 with err naming the first bad
 * position. */
#ifndef IC_VALIDATE_H
#define IC_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#include "core/ic_ctx.h"
#include "core/ic_error.h"

/* Index sets (docs/CONVENTIONS.md) idx [L, K], cnt [L]: for every row t,
 * 1 <= cnt[t] <= min(K, t+1), and idx[t, 0..cnt[t]-1] are distinct
 * positions in [0, t] (entries past cnt[t] are not read). */
size_t ic_index_sets_check_workspace_bytes(const ic_ctx *ctx, int L);
int ic_index_sets_check(ic_ctx *ctx, const int32_t *idx, const int32_t *cnt, int L, int K,
                        ic_error *err);

/* tokens [L], each in [0, V). */
/* The token check on a host array, whatever the backend: token ids arrive
 * from files and prompts on the host and are checked there, before they are
 * uploaded. */
int ic_tokens_check_host(const int32_t *tokens, int L, int V, ic_error *err);
size_t ic_tokens_check_workspace_bytes(const ic_ctx *ctx, int L);
int ic_tokens_check(ic_ctx *ctx, const int32_t *tokens, int L, int V, ic_error *err);

/* The message of one row t of index sets on the host (row = idx[t, 0..K-1],
 * n = cnt[t]): 0 when the row is valid, else -1 with err as the full check
 * words it. The CUDA check finds the first bad row on the device and words
 * it with this, so both backends say the same thing. */
int ic_index_set_row_message(const int32_t *row, int n, int t, int K, ic_error *err);

/* The CPU versions (kernels/cpu), same contracts. */
size_t ic_index_sets_check_workspace_bytes_cpu(const ic_ctx *ctx, int L);
int ic_index_sets_check_cpu(ic_ctx *ctx, const int32_t *idx, const int32_t *cnt, int L, int K,
                            ic_error *err);
int ic_tokens_check_cpu(ic_ctx *ctx, const int32_t *tokens, int L, int V, ic_error *err);

#endif
