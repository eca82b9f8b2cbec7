/* indexcache generate: placeholder until its issue lands; says so honestly. */
#include "ic_commands.h"

int ic_cmd_generate(int argc, char **argv) {
    (void)argc; (void)argv;
    return ic_cmd_not_built("generate", "issue #3");
}
