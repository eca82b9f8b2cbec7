/* A DSA / IndexCache prefill timed by component, for `indexcache bench`.
 * It runs the same forward as ic_dsa_forward (the teacher's layers with
 * their selection and attention hooks; the same ops, the same result) and
 * charges every interval of it to one phase:
 *   IX_PROJ    the F layers' indexer projections (Wq, Wk + LayerNorm, Wproj, RoPE)
 *   IX_SCORES  the indexer scores I[t, s] (all row blocks)
 *   TOPK       the top-k of every row block
 *   ATTN       attention: sparse over the index sets, or dense for `dense`
 *   REST       everything else: embedding, norms, q/k/v/o projections, MLP,
 *              RoPE, the index-set check, the LM head of the last token
 * S layers run no indexer: their reuse of the buffer costs nothing, which is
 * IndexCache's whole saving. The phase timer syncs the context at each
 * boundary (kernels/ic_phase_timer.h), so the split is right on CUDA too.
 *
 * The dense row goes through the same attention hook as the sparse rows so
 * that its attention is timed alone: its selection hands the teacher a
 * one-key set per row (valid, checked like any other in O(L)), and the hook
 * runs the dense causal kernel instead of the sparse one, on any activation
 * dtype (the indexer reads a widened fp32 copy of a bf16 x_norm). */
#ifndef IC_DSA_TIMED_H
#define IC_DSA_TIMED_H

#include "kernels/ic_phase_timer.h"
#include "model/ic_dsa.h"

enum {
    IC_DSA_PH_IX_PROJ = 0,
    IC_DSA_PH_IX_SCORES,
    IC_DSA_PH_TOPK,
    IC_DSA_PH_ATTN,
    IC_DSA_PH_REST,
    IC_DSA_N_PHASES
};
/* "ix_proj", "ix_scores", "topk", "attn", "rest" */
extern const char *const ic_dsa_phase_names[IC_DSA_N_PHASES];

/* Prefill of tokens [L] under pattern p (`dense` allowed) from layer 0 with
 * the teacher w (the model's on the context's device: &m->w on the CPU).
 * logits: [V] on the context (elements of ctx->act_dtype) for the next
 * token after the last one, or NULL. t: started and stopped here (NULL:
 * untimed). st sized for L; p's F layers need indexers. */
int ic_dsa_prefill_timed(const ic_dsa_model *m, const ic_weights *w, ic_dsa_state *st,
                         const ic_pattern *p, const int32_t *tokens, int L, void *logits,
                         ic_phase_timer *t, ic_error *err);

#endif
