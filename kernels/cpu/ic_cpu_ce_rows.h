/* Row pieces of the CPU cross-entropy, shared by the plain op
 * (cross_entropy.c) and the LM head fused with it (lm_head_loss.c):
 * vectorised through ic_cpu_vexp_ce.h, defined in cross_entropy.c. */
#ifndef IC_CPU_CE_ROWS_H
#define IC_CPU_CE_ROWS_H

/* max_j z[j], n >= 1 */
float ic_cpu_row_max(const float *z, int n);
/* sum_j exp(z[j] - m) in double (the exponentials in float, ic_ce_expf) */
double ic_cpu_row_sumexp(const float *z, int n, float m);

#endif
