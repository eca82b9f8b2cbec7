/* Aligned host allocation and a bump arena for per-step scratch. */
#ifndef IC_ALLOC_H
#define IC_ALLOC_H

#include <stddef.h>

#define IC_ALIGN 64

void *ic_aligned_alloc(size_t nbytes);   /* NULL on failure */
void *ic_aligned_calloc(size_t nbytes);  /* zero-filled */
void  ic_aligned_free(void *p);

/* Arena: one block, bump allocation, reset per step. Nothing is freed
 * individually, so scratch never fragments. */
typedef struct {
    char  *base;
    size_t cap;
    size_t used;
    size_t peak;
} ic_arena;

int   ic_arena_init(ic_arena *a, size_t cap);   /* 0 ok, -1 out of memory */
void *ic_arena_alloc(ic_arena *a, size_t nbytes); /* NULL when full */
void  ic_arena_reset(ic_arena *a);
void  ic_arena_free(ic_arena *a);

#endif
