/* Rotary position embedding, NeoX half-split layout (HF LlamaForCausalLM):
 * within the first rot_dim dims of each head, pair i (0 <= i < rot_dim/2)
 * is (x[i], x[i + rot_dim/2]); at position p it is rotated by the angle
 * p * theta^(-2i/rot_dim). Dims past rot_dim are left alone (the indexer
 * ropes only its first index_rope_dim dims; the teacher ropes all of them). */
#ifndef IC_ROPE_H
#define IC_ROPE_H

#include <stddef.h>

#include "core/ic_ctx.h"
#include "core/ic_tensor.h"

/* Workspace of either direction (per-thread cos/sin tables of rot_dim floats). */
size_t ic_rope_workspace_bytes(const ic_ctx *ctx, int rot_dim);

/* In place. x [L, n_heads, head_dim]; token t sits at position pos0 + t.
 * rot_dim even, 0 < rot_dim <= head_dim. */
void ic_rope_forward(ic_ctx *ctx, float *x, int L, int n_heads, int head_dim, int rot_dim,
                     int pos0, float theta);
/* The same on storage dtype dt (every float tensor of the call): IC_F32 on
 * any backend, IC_BF16 on CUDA contexts (fp32 arithmetic). The fp32 entry
 * point above is this with IC_F32. */
void ic_rope_forward_dt(ic_ctx *ctx, ic_dtype dt, void *x, int L, int n_heads, int head_dim,
                        int rot_dim, int pos0, float theta);

/* B windows of L tokens in one call: x [B * L, n_heads, head_dim], token t
 * of every window at position pos0 + t (positions restart per window: the
 * teacher's batched prefill, model/ic_teacher_batch.h). The same rotation,
 * bit for bit, as B calls of ic_rope_forward_dt on the windows; CUDA runs it
 * as one launch. */
void ic_rope_forward_windows_dt(ic_ctx *ctx, ic_dtype dt, void *x, int B, int L, int n_heads,
                                int head_dim, int rot_dim, int pos0, float theta);

/* In place, the transpose (= inverse) rotation: maps dL/d(roped x) to
 * dL/d(x before RoPE). */
void ic_rope_backward(ic_ctx *ctx, float *dx, int L, int n_heads, int head_dim, int rot_dim,
                      int pos0, float theta);

/* The CPU reference (kernels/cpu), same contract. */
size_t ic_rope_workspace_bytes_cpu(const ic_ctx *ctx, int rot_dim);
void ic_rope_forward_cpu(ic_ctx *ctx, float *x, int L, int n_heads, int head_dim, int rot_dim,
                         int pos0, float theta);
void ic_rope_backward_cpu(ic_ctx *ctx, float *dx, int L, int n_heads, int head_dim, int rot_dim,
                          int pos0, float theta);

#endif
