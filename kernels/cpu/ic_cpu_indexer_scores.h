/* The indexer-score tiles on caller-given scratch, for CPU ops that run
 * them inside their own parallel region (the distillation loss: one slice
 * per calling thread, nslices = 1), where taking workspace from the shared
 * arena would race. nslices is the team size of the op's parallel region
 * and scratch holds nslices slices of the _slice bytes. */
#ifndef IC_CPU_INDEXER_SCORES_H
#define IC_CPU_INDEXER_SCORES_H

#include <stddef.h>

size_t ic_cpu_isc_fwd_slice(int H_I);
size_t ic_cpu_isc_bwd_slice(int H_I, int d_I, int t1);

void ic_cpu_isc_forward(float *out, int ld, const float *qI, const float *kI, const float *w,
                        int L, int H_I, int d_I, int t0, int t1, int nslices, char *scratch);
void ic_cpu_isc_backward(float *dqI, float *dkI, float *dw, const float *dI, int ld,
                         const float *qI, const float *kI, const float *w,
                         int L, int H_I, int d_I, int t0, int t1, int nslices, char *scratch);

#endif
