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

/* The pattern keys (model/ic_config_pattern.c): read index_topk_pattern,
 * indexer_types and index_topk_freq + index_skip_topk_offset into
 * c->index_topk_pattern (c->n_layers set), refusing keys that disagree;
 * write the literal, indexer_types and, for a periodic pattern, the freq
 * keys into o. */
int ic_config_load_pattern(ic_config *c, json_t *root, const char *path, ic_error *err);
void ic_config_pattern_to_json(const ic_config *c, json_t *o);

#endif
