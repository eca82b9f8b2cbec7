/* Rank-aware logging. Only rank 0 prints info unless --verbose; warnings and
 * errors print on every rank, prefixed by the rank when there are several. */
#ifndef IC_LOG_H
#define IC_LOG_H

typedef enum { IC_LOG_QUIET = 0, IC_LOG_INFO = 1, IC_LOG_VERBOSE = 2 } ic_log_level;

void ic_log_set_rank(int rank, int world_size);
void ic_log_set_level(ic_log_level level);
ic_log_level ic_log_get_level(void);
int  ic_log_rank(void);

void ic_log_info(const char *fmt, ...)  __attribute__((format(printf, 1, 2)));
/* Like info, but on stderr: diagnostics that must not mix with a command's
 * machine-readable stdout (e.g. --json). */
void ic_log_note(const char *fmt, ...)  __attribute__((format(printf, 1, 2)));
void ic_log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ic_log_warn(const char *fmt, ...)  __attribute__((format(printf, 1, 2)));
void ic_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
