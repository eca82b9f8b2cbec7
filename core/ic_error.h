/* Recoverable errors. Library code never exits: it fills an ic_error and
 * returns -1 (or NULL), and the caller decides. The message is meant for a
 * user: it names the file, the flag or the shape that is wrong, on one line
 * (control bytes copied from a file, such as a newline in a GGUF key, are
 * shown as '?'). */
#ifndef IC_ERROR_H
#define IC_ERROR_H

#include <stdarg.h>

#define IC_ERROR_MSG_MAX 1024

typedef struct {
    int  code;                    /* 0 = no error */
    char msg[IC_ERROR_MSG_MAX];   /* first fault, human readable */
} ic_error;

/* Reset to "no error". Safe on NULL. */
void ic_error_clear(ic_error *err);

/* Record a fault (printf-style) and return -1 so callers can write
 * `return ic_error_set(err, "...")`. Safe on NULL. A second call keeps the
 * first message: the first fault is the one that explains the rest. */
int ic_error_set(ic_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Like ic_error_set but replaces any existing message (used to add
 * context: "loading X: <inner message>"). */
int ic_error_wrap(ic_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
