/* indexcache init-indexers: placeholder until its issue lands; says so honestly. */
#include "ic_commands.h"

int ic_cmd_init_indexers(int argc, char **argv) {
    (void)argc; (void)argv;
    return ic_cmd_not_built("init-indexers", "issue #4");
}
