/* The JSON side of ic_config, for writers that add keys of their own
 * (import adds "torch_dtype"; export may add quantisation keys). */
#ifndef IC_CONFIG_JSON_H
#define IC_CONFIG_JSON_H

#include <jansson.h>

#include "ic_config.h"

/* A new reference to the config.json object ic_config_save writes. */
json_t *ic_config_to_json(const ic_config *cfg);
/* Pretty-print o to path atomically (floats in their shortest form). */
int ic_config_json_save(json_t *o, const char *path, ic_error *err);

#endif
