#include "ic_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int ic_atomic_open(ic_atomic_file *af, const char *path, ic_error *err) {
    memset(af, 0, sizeof *af);
    if (strlen(path) + 32 >= sizeof af->tmp_path)
        return ic_error_set(err, "%s: path too long", path);
    snprintf(af->path, sizeof af->path, "%s", path);
    snprintf(af->tmp_path, sizeof af->tmp_path, "%s.tmp.%ld", path, (long)getpid());
    af->f = fopen(af->tmp_path, "wb");
    if (!af->f) return ic_error_set(err, "%s: cannot create: %s", af->tmp_path, strerror(errno));
    return 0;
}

static void fsync_parent_dir(const char *path) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    int fd = open(dirname(buf), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) { fsync(fd); close(fd); }
}

int ic_atomic_commit(ic_atomic_file *af, ic_error *err) {
    if (!af->f) return ic_error_set(err, "%s: not open", af->path);
    int bad = ferror(af->f) != 0;
    if (!bad && fflush(af->f) != 0) bad = 1;
    if (!bad && fsync(fileno(af->f)) != 0) bad = 1;
    int saved = errno;
    if (fclose(af->f) != 0 && !bad) { bad = 1; saved = errno; }
    af->f = NULL;
    if (bad) {
        unlink(af->tmp_path);
        return ic_error_set(err, "%s: write failed: %s", af->path, strerror(saved));
    }
    if (rename(af->tmp_path, af->path) != 0) {
        saved = errno;
        unlink(af->tmp_path);
        return ic_error_set(err, "%s: rename failed: %s", af->path, strerror(saved));
    }
    fsync_parent_dir(af->path);
    return 0;
}

void ic_atomic_abort(ic_atomic_file *af) {
    if (af->f) fclose(af->f);
    af->f = NULL;
    if (af->tmp_path[0]) unlink(af->tmp_path);
}

int ic_mkdir_p(const char *path, ic_error *err) {
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return ic_error_set(err, "%s: path too long", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return ic_error_set(err, "%s: cannot create directory: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return ic_error_set(err, "%s: cannot create directory: %s", buf, strerror(errno));
    if (!ic_is_dir(buf)) return ic_error_set(err, "%s: exists and is not a directory", buf);
    return 0;
}

int ic_path_exists(const char *path) { struct stat st; return stat(path, &st) == 0; }

int ic_is_dir(const char *path) { struct stat st; return stat(path, &st) == 0 && S_ISDIR(st.st_mode); }

char *ic_read_file(const char *path, size_t *len, ic_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) { ic_error_set(err, "%s: cannot open: %s", path, strerror(errno)); return NULL; }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) { fclose(f); ic_error_set(err, "%s: out of memory", path); return NULL; }
        n += fread(buf + n, 1, cap - n - 1, f);
        if (n < cap - 1) break;
        cap *= 2;
        char *nb = realloc(buf, cap);
        if (!nb) free(buf);
        buf = nb;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) { free(buf); ic_error_set(err, "%s: read error", path); return NULL; }
    buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

int ic_write_file_atomic(const char *path, const void *data, size_t len, ic_error *err) {
    ic_atomic_file af;
    if (ic_atomic_open(&af, path, err)) return -1;
    if (len && fwrite(data, 1, len, af.f) != len) {
        int e = errno;   /* ENOSPC, EIO, ...: before the cleanup can change it */
        ic_atomic_abort(&af);
        return ic_error_set(err, "%s: write failed: %s", path, strerror(e));
    }
    return ic_atomic_commit(&af, err);
}
