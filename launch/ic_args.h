/* Table-driven flag parsing for the subcommands. Parsing never exits: a bad
 * flag or value becomes an ic_error naming the flag, and `--help` returns 1 so
 * the caller prints the usage and exits 0. Accepts `--flag value` and
 * `--flag=value`; `--` ends flags. Exit status of every subcommand
 * (docs/DESIGN.md s6; --help prints it): 0 success, 1 the work failed (the
 * message names the file and the fault), 2 a bad command line. */
#ifndef IC_ARGS_H
#define IC_ARGS_H

#include <stdio.h>

#include "ic_error.h"

typedef enum {
    IC_ARG_STRING,      /* dst: const char ** */
    IC_ARG_INT,         /* dst: long long *  (decimal, range-checked by min/max) */
    IC_ARG_DOUBLE,      /* dst: double * */
    IC_ARG_FLAG,        /* dst: int *        (set to 1, takes no value) */
    IC_ARG_STRING_LIST, /* dst: ic_strlist * (flag may repeat) */
} ic_arg_type;

#define IC_STRLIST_MAX 64
typedef struct { const char *items[IC_STRLIST_MAX]; int n; } ic_strlist;

typedef struct {
    const char *name;     /* "--seq-len" */
    ic_arg_type type;
    void       *dst;
    const char *metavar;  /* "L" (NULL for flags) */
    const char *help;     /* one line; say the default */
    int         required;
    double      min, max; /* for INT/DOUBLE when min < max */
} ic_arg_spec;

typedef struct {
    const char *name;          /* "eval" */
    const char *synopsis;      /* "--model DIR --data FILE.h5 [...]" */
    const char *description;   /* a paragraph */
    const ic_arg_spec *args;
    int         nargs;
    const char *pos_name;      /* "FILE" or NULL when no positionals */
    int         min_pos, max_pos;
} ic_cmd_spec;

/* Most options one command may declare (the parser's bookkeeping). */
#define IC_ARGS_MAX 64

/* The global flags (--quiet, --verbose, --cpu) are accepted wherever a flag
 * may stand (not as another flag's value, not after `--`): --quiet and
 * --verbose set the log level at once; --cpu is remembered here. */
int  ic_args_force_cpu(void);

/* argv[0] is the subcommand name. Returns 0 ok, 1 when --help was asked,
 * -1 on a bad command line (err says what). pos receives positionals. */
int  ic_args_parse(const ic_cmd_spec *cmd, int argc, char **argv,
                   const char **pos, int *npos, ic_error *err);
void ic_args_print_help(const ic_cmd_spec *cmd, FILE *f);

/* The common prologue of every subcommand: parse, print help or the error
 * (with a hint to --help). Returns -1 when the caller should return *status. */
int  ic_args_run(const ic_cmd_spec *cmd, int argc, char **argv,
                 const char **pos, int *npos, int *status);

#endif
