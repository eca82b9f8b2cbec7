/* Sparse attention (DSA Eq. 2, DESIGN.md s3): query t of every head attends
 * only to the key positions of its index set T_t (idx/cnt of CONVENTIONS.md,
 * one set per query shared by all heads). GQA: head h reads key/value head
 * h / (H / Hkv). Scores are scaled by 1/sqrt(d).
 *
 * There is no backward: the teacher is frozen and the indexer learns through
 * the distillation loss (DESIGN.md s3), so nothing differentiates through
 * this op. */
#ifndef IC_SPARSE_ATTENTION_H
#define IC_SPARSE_ATTENTION_H

#include <stdint.h>

/* out [L, H, d]; lse [H, L] (natural-log log-sum-exp of the scaled scores
 * over T_t, as the distillation loss expects) or NULL.
 * q [L, H, d] roped, k [L, Hkv, d] roped, v [L, Hkv, d]; H % Hkv == 0.
 * idx [L, K], cnt [L]: row t uses idx[t, 0..cnt[t]-1], each in [0, t],
 * cnt[t] in [1, K]. With cnt[t] = t+1 and idx = 0..t this is dense causal
 * attention. */
void ic_sparse_attention_forward(float *out, float *lse, const float *q, const float *k,
                                 const float *v, int L, int H, int Hkv, int d,
                                 const int32_t *idx, const int32_t *cnt, int K);

#endif
