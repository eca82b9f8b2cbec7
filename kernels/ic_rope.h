/* Rotary position embedding, NeoX half-split layout (HF LlamaForCausalLM):
 * within the first rot_dim dims of each head, pair i (0 <= i < rot_dim/2)
 * is (x[i], x[i + rot_dim/2]); at position p it is rotated by the angle
 * p * theta^(-2i/rot_dim). Dims past rot_dim are left alone (the indexer
 * ropes only its first index_rope_dim dims; the teacher ropes all of them). */
#ifndef IC_ROPE_H
#define IC_ROPE_H

/* In place. x [L, n_heads, head_dim]; token t sits at position pos0 + t.
 * rot_dim even, 0 < rot_dim <= head_dim. */
void ic_rope_forward(float *x, int L, int n_heads, int head_dim, int rot_dim,
                     int pos0, float theta);

/* In place, the transpose (= inverse) rotation: maps dL/d(roped x) to
 * dL/d(x before RoPE). */
void ic_rope_backward(float *dx, int L, int n_heads, int head_dim, int rot_dim,
                      int pos0, float theta);

#endif
