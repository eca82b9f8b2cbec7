/* Shared by the libFuzzer harnesses (built by scripts/fuzz.sh with clang,
 * ASan and UBSan; not by CMake). A broken invariant traps, which libFuzzer
 * reports as a crash and saves the input. Parsers that take a path get the
 * input through one scratch file per process (in /dev/shm when it exists). */
#ifndef IC_FUZZ_COMMON_H
#define IC_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ic_error.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

/* A rejection must say why in one non-empty line. */
static inline void fuzz_check_message(const ic_error *err) {
    if (err->code != 0 && err->msg[0] != '\0' && strchr(err->msg, '\n') == NULL) return;
    fprintf(stderr, "fuzz: bad error message (code %d): '%s'\n", err->code, err->msg);
    __builtin_trap();
}

/* Write data to this process's scratch file `name` and return its path. */
static inline const char *fuzz_scratch_file(const char *name, const uint8_t *data, size_t size) {
    static char path[512];
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(path, sizeof path, "%s/ic_fuzz.%ld.%s", dir, (long)getpid(), name);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    CHECK(size == 0 || fwrite(data, 1, size, f) == size);
    CHECK(fclose(f) == 0);
    return path;
}

#endif
