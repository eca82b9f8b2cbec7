#include "ic_alloc.h"

#include <stdlib.h>
#include <string.h>

void *ic_aligned_alloc(size_t nbytes) {
    size_t rounded = (nbytes + IC_ALIGN - 1) / IC_ALIGN * IC_ALIGN;
    if (rounded == 0) rounded = IC_ALIGN;
    return aligned_alloc(IC_ALIGN, rounded);
}

void *ic_aligned_calloc(size_t nbytes) {
    void *p = ic_aligned_alloc(nbytes);
    if (p) memset(p, 0, nbytes);
    return p;
}

void ic_aligned_free(void *p) { free(p); }

int ic_arena_init(ic_arena *a, size_t cap) {
    memset(a, 0, sizeof *a);
    a->base = ic_aligned_alloc(cap);
    if (!a->base) return -1;
    a->cap = cap;
    return 0;
}

void *ic_arena_alloc(ic_arena *a, size_t nbytes) {
    size_t start = (a->used + IC_ALIGN - 1) / IC_ALIGN * IC_ALIGN;
    if (start > a->cap || nbytes > a->cap - start) return NULL;
    a->used = start + nbytes;
    if (a->used > a->peak) a->peak = a->used;
    return a->base + start;
}

void ic_arena_reset(ic_arena *a) { a->used = 0; }

void ic_arena_free(ic_arena *a) {
    ic_aligned_free(a->base);
    memset(a, 0, sizeof *a);
}
