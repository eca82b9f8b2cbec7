/* IndexCache multi-layer distillation loss of one F layer's indexer
 * (docs/DESIGN.md section 3, IndexCache Proposition 1), for one sequence of L
 * tokens.
 *
 * For F layer l serving G(l) (m+1 = n_served layers, l itself included):
 *   loss = sum_t sum_{j in G(l)} 1/(m+1) * KL( p_j[t,:] || softmax_s I_l[t,:] )
 *   dL/dI_l[t,s] = q[t,s] - pbar[t,s],  q = softmax_s I_l[t,:], pbar = mean_j p_j
 * and the indexer score backward pushes dL/dI into dqI, dkI, dw.
 *
 *   dense stage : keys s <= t; p_j uses the teacher's saved dense LSE.
 *   sparse stage: every distribution is restricted to T_t = idx[t, :cnt[t]]
 *                 (the F layer's top-k); p_j is the sparse attention's own
 *                 per-head softmax over T_t, normalised here from q and k.
 *   --loss multi : served = the saved tensors of every layer of G(l), i.e.
 *                  of the layers ic_pattern_served() (model/ic_pattern.h) lists;
 *   --loss single: served = the saved tensors of layer l alone (n_served 1).
 *
 * Memory: rows are streamed in blocks and keys in tiles; nothing L x L is
 * held. Extra memory per thread is about 2 * row_block * L floats (the
 * block's scores, and the shared indexer-score op's scratch) plus
 * L * d_I floats (private dkI accumulator, summed in thread order after the
 * parallel loop, so results are deterministic for a fixed thread count).
 *
 * All of that scratch comes from the context's workspace: reserve
 * ic_distill_loss_workspace_bytes first.
 *
 * CUDA (dense stage only; kernels/cuda/distill_loss_dense.cu explains it):
 * bf16 tensor cores, chunks of 2048 query rows (row_block overrides), a
 * workspace of about 4 * 2048 * L + 4 * H_I * L * d_I + 16 * L * (H + Hkv) * d
 * bytes (the last: bf16 copies of up to 8 served layers' q, k); bitwise
 * deterministic run to run. d_I, d in {64, 128}, n_served <= 8.
 *
 * Threads: OpenMP over row blocks (all of omp_get_max_threads()); OpenBLAS is
 * set to one thread per call for the duration of the op and restored after,
 * so call it from one host thread at a time (not from inside another
 * parallel region that also calls OpenBLAS). */
#ifndef IC_DISTILL_LOSS_H
#define IC_DISTILL_LOSS_H

#include <stddef.h>
#include <stdint.h>

#include "core/ic_ctx.h"
#include "core/ic_error.h"

typedef enum { IC_DISTILL_DENSE = 0, IC_DISTILL_SPARSE = 1 } ic_distill_stage;

/* Saved (detached) tensors of one served teacher layer j (docs/CONVENTIONS.md). */
typedef struct {
    const float *q;    /* [L, H, d]   roped queries */
    const float *k;    /* [L, Hkv, d] roped keys */
    const float *lse;  /* [H, L] dense-attention LSE (natural log) of q.k/sqrt(d)
                          over s <= t; read by the dense stage only, may be NULL
                          for the sparse stage */
} ic_distill_teacher;

typedef struct {
    int L;                /* tokens of the sequence */
    int n_idx_heads;      /* H_I */
    int idx_head_dim;     /* d_I */
    int n_heads;          /* H   (teacher, same for every served layer) */
    int n_kv_heads;       /* Hkv (H % Hkv == 0, g(h) = h / (H / Hkv)) */
    int head_dim;         /* d */
    ic_distill_stage stage;
    /* sparse stage only: the F layer's index sets (docs/CONVENTIONS.md). Row t
     * holds 1 <= cnt[t] <= min(topk, t+1) distinct positions in [0, t]
     * (trusted here; ic_index_sets_check validates sets where they enter). */
    const int32_t *idx;   /* [L, topk] */
    const int32_t *cnt;   /* [L] */
    int topk;             /* K */
    int row_block;        /* query rows per block; 0 = default (64). CUDA: rows per
                             chunk of the streamed pass, rounded up to 64; 0 = 2048 */
    int key_block;        /* keys per tile in the dense stage; 0 = default (256);
                             CPU only (the CUDA tiles are 64 x 64) */
    int max_served;       /* workspace queries: the largest n_served of the calls
                             the workspace will serve; 0 = 8. CUDA dense only (its
                             bf16 copies of the served q, k scale with it) */
} ic_distill_desc;

/* The CUDA kernels' limits (kernels/cuda/distill_loss_{dense,sparse}.cu). The
 * served layers' pointers travel in the launch parameters, so a group has a
 * ceiling; 64 covers any group of the patterns a 64-layer model can have and
 * keeps those parameters at 1.5 KiB, far below the 4 KiB launch limit. */
#define IC_DISTILL_CUDA_MAX_SERVED 64
#define IC_DISTILL_CUDA_SPARSE_MAX_HI 64     /* indexer heads, sparse stage */
#define IC_DISTILL_CUDA_SPARSE_MAX_K 2048    /* keys per query, sparse stage */

/* NULL when the CUDA kernels take calls of this desc with up to n_served_max
 * served layers; else a sentence naming the shape they do not take (a static
 * buffer). Callers that choose the backend (the trainer) ask before they
 * start, so that a user gets that sentence instead of an abort mid-step. */
const char *ic_distill_cuda_unsupported(const ic_distill_desc *desc, int n_served_max);

typedef struct {
    double  loss;      /* sum over tokens of L_multi(l)[t] (the reported loss) */
    double  kl_pbar;   /* sum over tokens of KL(pbar[t,:] || q[t,:]) (logging) */
    int64_t n_tokens;  /* tokens summed (= L); report loss / n_tokens */
} ic_distill_stats;

/* Workspace of a forward or backward call with this desc (all of its
 * fields but idx/cnt matter). */
size_t ic_distill_loss_workspace_bytes(const ic_ctx *ctx, const ic_distill_desc *desc);

/* Loss value only (evaluation). Inputs (docs/CONVENTIONS.md):
 *   qI [L, H_I, d_I], kI [L, d_I], w [L, H_I], served [n_served].
 * Returns 0 (err is kept for backends whose calls can fail; the scratch
 * comes from the workspace, and a missing reserve aborts). Shape/pointer
 * preconditions are IC_ASSERTed. */
int ic_distill_loss_forward(ic_ctx *ctx, const ic_distill_desc *desc, const float *qI,
                            const float *kI, const float *w, const ic_distill_teacher *served,
                            int n_served, ic_distill_stats *out, ic_error *err);

/* Loss value and the indexer gradients, ACCUMULATED (+=) into
 *   dqI [L, H_I, d_I], dkI [L, d_I], dw [L, H_I]
 * (each may be NULL when not wanted). Same return convention. */
int ic_distill_loss_backward(ic_ctx *ctx, const ic_distill_desc *desc, const float *qI,
                             const float *kI, const float *w, const ic_distill_teacher *served,
                             int n_served, float *dqI, float *dkI, float *dw,
                             ic_distill_stats *out, ic_error *err);

/* The CPU reference (kernels/cpu), same contracts. */
size_t ic_distill_loss_workspace_bytes_cpu(const ic_ctx *ctx, const ic_distill_desc *desc);
int ic_distill_loss_forward_cpu(ic_ctx *ctx, const ic_distill_desc *desc, const float *qI,
                                const float *kI, const float *w,
                                const ic_distill_teacher *served, int n_served,
                                ic_distill_stats *out, ic_error *err);
int ic_distill_loss_backward_cpu(ic_ctx *ctx, const ic_distill_desc *desc, const float *qI,
                                 const float *kI, const float *w,
                                 const ic_distill_teacher *served, int n_served,
                                 float *dqI, float *dkI, float *dw,
                                 ic_distill_stats *out, ic_error *err);

#endif
