/* RMSNorm as in HF LlamaRMSNorm: y = w * x / sqrt(mean(x^2) + eps). */
#ifndef IC_RMSNORM_H
#define IC_RMSNORM_H

/* out [L, D], x [L, D], w [D]. out may equal x (in place). */
void ic_rmsnorm_forward(float *out, const float *x, const float *w, int L, int D, float eps);

#endif
