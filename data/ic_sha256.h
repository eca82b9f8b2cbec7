/* SHA-256 (FIPS 180-4), to name the tokenizer a token file was made with. */
#ifndef IC_SHA256_H
#define IC_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "core/ic_error.h"

typedef struct {
    uint32_t h[8];
    uint64_t nbytes;
    uint8_t  block[64];
    size_t   nblock;
} ic_sha256;

void ic_sha256_init(ic_sha256 *s);
void ic_sha256_update(ic_sha256 *s, const void *data, size_t len);
void ic_sha256_final(ic_sha256 *s, uint8_t digest[32]);
/* Lower-case hex digest of a whole file. */
int  ic_sha256_file(const char *path, char hex[65], ic_error *err);

#endif
