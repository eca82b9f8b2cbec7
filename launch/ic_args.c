#include "ic_args.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

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
    int seen[64] = {0};
    *npos = 0;
    int flags_done = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!flags_done && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) return 1;
        if (!flags_done && strcmp(a, "--") == 0) { flags_done = 1; continue; }
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
