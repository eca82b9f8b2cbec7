/* Token embedding lookup. */
#ifndef IC_EMBEDDING_H
#define IC_EMBEDDING_H

#include <stdint.h>

/* out [L, D] = table[tokens[t]]; table [V, D]; every token must be in [0, V)
 * (callers validate data files before this point). */
void ic_embedding_forward(float *out, const int32_t *tokens, const float *table,
                          int L, int D, int V);

#endif
