#include "ic_args.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ic_check.h"
#include "ic_log.h"

static int g_force_cpu;
int ic_args_force_cpu(void) { return g_force_cpu; }

/* --quiet / --verbose / --cpu standing as a flag: 1 when taken */
static int take_global(const char *a) {
    if (strcmp(a, "--quiet") == 0) ic_log_set_level(IC_LOG_QUIET);
    else if (strcmp(a, "--verbose") == 0) ic_log_set_level(IC_LOG_VERBOSE);
    else if (strcmp(a, "--cpu") == 0) g_force_cpu = 1;
    else return 0;
    return 1;
}

static const ic_arg_spec *find_spec(const ic_cmd_spec *cmd, const char *name, size_t len) {
    for (int i = 0; i < cmd->nargs; i++)
        if (strlen(cmd->args[i].name) == len && strncmp(cmd->args[i].name, name, len) == 0)
            return &cmd->args[i];
    return NULL;
}

static int set_value(const ic_arg_spec *s, const char *v, ic_error *err) {
    char *end = NULL;
    switch (s->type) {
    case IC_ARG_STRING:
        *(const char **)s->dst = v;
        return 0;
    case IC_ARG_STRING_LIST: {
        ic_strlist *l = s->dst;
        if (l->n >= IC_STRLIST_MAX) return ic_error_set(err, "%s given more than %d times", s->name, IC_STRLIST_MAX);
        l->items[l->n++] = v;
        return 0;
    }
    case IC_ARG_INT: {
        errno = 0;
        long long x = strtoll(v, &end, 10);
        if (errno || end == v || *end != '\0')
            return ic_error_set(err, "%s: '%s' is not an integer", s->name, v);
        if (s->min < s->max && (x < s->min || x > s->max))
            return ic_error_set(err, "%s: %lld is outside [%.0f, %.0f]", s->name, x, s->min, s->max);
        *(long long *)s->dst = x;
        return 0;
    }
    case IC_ARG_DOUBLE: {
        errno = 0;
        double x = strtod(v, &end);
        if (errno || end == v || *end != '\0' || !isfinite(x))
            return ic_error_set(err, "%s: '%s' is not a number", s->name, v);
        if (s->min < s->max && (x < s->min || x > s->max))
            return ic_error_set(err, "%s: %g is outside [%g, %g]", s->name, x, s->min, s->max);
        *(double *)s->dst = x;
        return 0;
    }
    case IC_ARG_FLAG:
        *(int *)s->dst = 1;
        return 0;
    }
    return ic_error_set(err, "%s: internal: unknown flag type", s->name);
}

int ic_args_parse(const ic_cmd_spec *cmd, int argc, char **argv,
                  const char **pos, int *npos, ic_error *err) {
    int seen[IC_ARGS_MAX] = {0};
    /* a command with more options than the bookkeeping holds is a bug */
    IC_ASSERT(cmd->nargs >= 0 && cmd->nargs <= IC_ARGS_MAX);
    *npos = 0;
    int flags_done = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!flags_done && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) return 1;
        if (!flags_done && strcmp(a, "--") == 0) { flags_done = 1; continue; }
        if (!flags_done && take_global(a)) continue;
        if (!flags_done && a[0] == '-' && a[1] == '-') {
            const char *eq = strchr(a, '=');
            size_t len = eq ? (size_t)(eq - a) : strlen(a);
            const ic_arg_spec *s = find_spec(cmd, a, len);
            if (!s) return ic_error_set(err, "unknown flag '%.*s' for '%s'", (int)len, a, cmd->name);
            seen[s - cmd->args] = 1;
            if (s->type == IC_ARG_FLAG) {
                if (eq) return ic_error_set(err, "%s takes no value", s->name);
                if (set_value(s, NULL, err)) return -1;
                continue;
            }
            const char *v = eq ? eq + 1 : NULL;
            if (!v) {
                if (i + 1 >= argc) return ic_error_set(err, "%s needs a value (%s)", s->name, s->metavar ? s->metavar : "VALUE");
                v = argv[++i];
            }
            if (set_value(s, v, err)) return -1;
            continue;
        }
        if (*npos >= cmd->max_pos)
            return ic_error_set(err, "unexpected argument '%s' for '%s'", a, cmd->name);
        pos[(*npos)++] = a;
    }
    for (int i = 0; i < cmd->nargs; i++)
        if (cmd->args[i].required && !seen[i])
            return ic_error_set(err, "'%s' needs %s %s", cmd->name, cmd->args[i].name,
                                cmd->args[i].metavar ? cmd->args[i].metavar : "");
    if (*npos < cmd->min_pos)
        return ic_error_set(err, "'%s' needs %d %s argument(s), got %d", cmd->name, cmd->min_pos,
                            cmd->pos_name ? cmd->pos_name : "positional", *npos);
    return 0;
}

/* Commands whose exit status 0 has a second meaning (core/ic_preempt.h). */
static const char *const k_exit_notes[][2] = {
    {"train", "0  also after SIGTERM / SIGUSR1: a checkpoint is written at the next step\n"
              "     boundary and the run stops; continue with --resume"},
    {"search", "0  also after SIGTERM / SIGUSR1 with a trace (--json / --trace): the search\n"
               "     stops after the current step, trace written; continue with --resume\n"
               "     (1 without a trace: nothing to resume from)"},
};

void ic_args_print_help(const ic_cmd_spec *cmd, FILE *f) {
    fprintf(f, "usage: indexcache %s %s\n\n", cmd->name, cmd->synopsis ? cmd->synopsis : "");
    if (cmd->description) fprintf(f, "%s\n\n", cmd->description);
    if (cmd->nargs) fprintf(f, "options:\n");
    for (int i = 0; i < cmd->nargs; i++) {
        const ic_arg_spec *s = &cmd->args[i];
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", s->name, s->metavar ? " " : "", s->metavar ? s->metavar : "");
        fprintf(f, "  %-24s %s%s\n", left, s->help ? s->help : "", s->required ? " (required)" : "");
    }
    fprintf(f, "  %-24s %s\n", "--quiet / --verbose", "less / more output");
    fprintf(f, "  %-24s %s\n", "--cpu", "run on the CPU even when a GPU is present");
    fprintf(f, "  %-24s %s\n", "--help", "this text");
    fprintf(f, "\nexit status:\n"
               "  0  success\n"
               "  1  the work failed (a bad or missing file, a shape that does not fit, out of\n"
               "     memory: the message names the file and the fault)\n"
               "  2  a bad command line (an unknown flag, a missing or malformed value)\n");
    for (size_t i = 0; i < sizeof k_exit_notes / sizeof k_exit_notes[0]; i++)
        if (strcmp(cmd->name, k_exit_notes[i][0]) == 0) fprintf(f, "  %s\n", k_exit_notes[i][1]);
}

int ic_args_run(const ic_cmd_spec *cmd, int argc, char **argv,
                const char **pos, int *npos, int *status) {
    ic_error err;
    ic_error_clear(&err);
    int r = ic_args_parse(cmd, argc, argv, pos, npos, &err);
    if (r == 1) { ic_args_print_help(cmd, stdout); *status = 0; return -1; }
    if (r < 0) {
        fprintf(stderr, "indexcache %s: %s (see 'indexcache %s --help')\n", cmd->name, err.msg, cmd->name);
        *status = 2;
        return -1;
    }
    return 0;
}
