/* ic_weights_load: a model dir with its config.json. Kept apart from the
 * tensor loading so that code which brings its own config does not link the
 * config.json parser. */
#include <stdio.h>
#include <string.h>

#include "model/ic_weights.h"

int ic_weights_load(ic_weights *w, const char *model_dir, ic_error *err) {
    char path[4096];
    ic_config cfg;
    memset(w, 0, sizeof *w);   /* safe to free after any failure */
    if (snprintf(path, sizeof path, "%s/config.json", model_dir) >= (int)sizeof path)
        return ic_error_set(err, "%s: model dir path too long", model_dir);
    if (ic_config_load(&cfg, path, err) != 0) return -1;
    return ic_weights_load_files(w, &cfg, model_dir, err);
}
