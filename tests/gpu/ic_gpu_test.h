/* What the GPU tests share (plain C, no Check: the GPU machine has no
 * libcheck): a host allocation that cannot fail silently, and the pair of
 * contexts a "GPU against the CPU reference" test runs on. The random
 * inputs and double oracles are tests/ic_ops_oracle.h's. */
#ifndef IC_GPU_TEST_H
#define IC_GPU_TEST_H

#include <stdio.h>
#include <stdlib.h>

#include "core/ic_error.h"
#include "kernels/ic_ctx.h"

#include "../ic_ops_oracle.h"

static inline void *ic_gt_xmalloc(size_t bytes) {
    void *p = malloc(bytes ? bytes : 1);
    if (!p) { fprintf(stderr, "out of host memory (%zu bytes)\n", bytes); exit(2); }
    return p;
}

/* A CUDA context on GPU 0 and a CPU reference context. Returns 0, or the
 * exit status the test must return: 77 (CTest's skip) when no GPU answers,
 * 1 when the CPU context cannot be opened. Prints both descriptions. */
static inline int ic_gt_open(ic_ctx *cpu, ic_ctx *gpu) {
    ic_error err = {0};
    if (ic_ctx_init(gpu, IC_BACKEND_CUDA, 0, 0, &err) != 0) {
        printf("SKIP: no CUDA context: %s\n", err.msg);
        return 77;
    }
    if (ic_ctx_init(cpu, IC_BACKEND_CPU, -1, 0, &err) != 0) {
        fprintf(stderr, "CPU context: %s\n", err.msg);
        return 1;
    }
    printf("CPU reference: %s\nGPU:           %s\n", cpu->desc, gpu->desc);
    return 0;
}

#endif
