#include "ic_log.h"

#include <stdarg.h>
#include <stdio.h>

static int g_rank = 0, g_world = 1;
static ic_log_level g_level = IC_LOG_INFO;

void ic_log_set_rank(int rank, int world_size) { g_rank = rank; g_world = world_size; }
void ic_log_set_level(ic_log_level level) { g_level = level; }
ic_log_level ic_log_get_level(void) { return g_level; }
int ic_log_rank(void) { return g_rank; }

static void emit(FILE *f, const char *tag, const char *fmt, va_list ap) {
    if (g_world > 1) fprintf(f, "[rank %d] ", g_rank);
    if (tag) fputs(tag, f);
    vfprintf(f, fmt, ap);
    fputc('\n', f);
    fflush(f);
}

void ic_log_info(const char *fmt, ...) {
    if (g_level < IC_LOG_INFO || (g_rank != 0 && g_level < IC_LOG_VERBOSE)) return;
    va_list ap; va_start(ap, fmt); emit(stdout, NULL, fmt, ap); va_end(ap);
}

void ic_log_note(const char *fmt, ...) {
    if (g_level < IC_LOG_INFO || (g_rank != 0 && g_level < IC_LOG_VERBOSE)) return;
    va_list ap; va_start(ap, fmt); emit(stderr, NULL, fmt, ap); va_end(ap);
}

void ic_log_debug(const char *fmt, ...) {
    if (g_level < IC_LOG_VERBOSE) return;
    va_list ap; va_start(ap, fmt); emit(stderr, "debug: ", fmt, ap); va_end(ap);
}

void ic_log_warn(const char *fmt, ...) {
    va_list ap; va_start(ap, fmt); emit(stderr, "warning: ", fmt, ap); va_end(ap);
}

void ic_log_error(const char *fmt, ...) {
    va_list ap; va_start(ap, fmt); emit(stderr, "error: ", fmt, ap); va_end(ap);
}
