/* CPU reference of the embedding lookup (kernels/ic_embedding.h). */
#include <string.h>

#include "ic_check.h"
#include "kernels/ic_embedding.h"

void ic_embedding_forward_cpu(ic_ctx *ctx, float *out, const int32_t *tokens, const float *table,
                              int L, int D, int V) {
    #pragma omp parallel for schedule(static) if ((long)L * D >= 32768)
    for (int t = 0; t < L; t++)
        memcpy(out + (size_t)t * D, table + (size_t)tokens[t] * D, sizeof(float) * (size_t)D);
}
