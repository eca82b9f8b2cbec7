/* Files written so that a crash never leaves a half-written one (redis
 * style): write to "<path>.tmp.<pid>", fflush + fsync, rename over the final
 * name, fsync the directory. Readers only ever see a complete old file or a
 * complete new one. */
#ifndef IC_FS_H
#define IC_FS_H

#include <stdio.h>

#include "ic_error.h"

typedef struct {
    FILE *f;
    char  path[4096];
    char  tmp_path[4096];
} ic_atomic_file;

int  ic_atomic_open(ic_atomic_file *af, const char *path, ic_error *err);
/* Flush, fsync, close, rename, fsync the directory. On failure the temp file
 * is removed and the old file (if any) is untouched. */
int  ic_atomic_commit(ic_atomic_file *af, ic_error *err);
/* Give up: close and remove the temp file. */
void ic_atomic_abort(ic_atomic_file *af);

/* mkdir -p. */
int  ic_mkdir_p(const char *path, ic_error *err);
int  ic_path_exists(const char *path);
int  ic_is_dir(const char *path);
/* Whole file into a NUL-terminated malloc'd buffer (len excludes the NUL). */
char *ic_read_file(const char *path, size_t *len, ic_error *err);
/* Write a whole buffer atomically. */
int  ic_write_file_atomic(const char *path, const void *data, size_t len, ic_error *err);

#endif
