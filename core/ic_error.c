#include "ic_error.h"

#include <stdio.h>
#include <string.h>

/* A message is one line a terminal shows as it is: bytes from a file (a
 * GGUF key, a JSON string) may hold newlines or escape sequences, which
 * become '?'. UTF-8 stays. */
static void one_line(char *s) {
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) *s = '?';
}

void ic_error_clear(ic_error *err) {
    if (!err) return;
    err->code = 0;
    err->msg[0] = '\0';
}

int ic_error_set(ic_error *err, const char *fmt, ...) {
    if (!err || err->code != 0) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    one_line(err->msg);
    err->code = 1;
    return -1;
}

int ic_error_wrap(ic_error *err, const char *fmt, ...) {
    if (!err) return -1;
    char prefix[IC_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    char inner[IC_ERROR_MSG_MAX];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-truncation"
    snprintf(inner, sizeof inner, "%s", err->code ? err->msg : "unknown error");
    snprintf(err->msg, sizeof err->msg, "%s: %s", prefix, inner); /* truncation is fine */
#pragma GCC diagnostic pop
    one_line(err->msg);
    err->code = 1;
    return -1;
}
