/* k8s/yaml.h - YAML documents to cJSON trees (libyaml event parser), for manifest files.
 * Threads: any; no shared state.
 * Scalars follow the YAML 1.2 core schema: quoted and block scalars are strings; plain ones
 * become null (~, null, empty), booleans (true/false in three casings), integers (decimal,
 * 0o octal, 0x hex), floats (incl. .inf/.nan) or else strings. So `port: 80` is a number and
 * `port: "80"` a string, and unlike YAML 1.1, `yes`/`on` stay strings. A plain `<<` key merges
 * mappings (YAML 1.1 merge keys, as kubectl's parser accepts). Anchors and aliases are
 * resolved by copying, bounded by a node budget (no billion laughs); nesting is bounded. */
#ifndef TT_K8S_YAML_H
#define TT_K8S_YAML_H

#include <cJSON.h>
#include <stddef.h>

#include "base/err.h"

#define TT_K8S_YAML_MAX_DEPTH 64        /* nested mappings/sequences */
#define TT_K8S_YAML_MAX_NODES (1 << 21) /* nodes of one call, alias copies included */
#define TT_K8S_YAML_MAX_KEYS  10000     /* keys in one mapping */

/* Parses |len| bytes of YAML (a stream of any number of documents). On success *out is a new
 * cJSON array with one element per document, in order (a document with no content is a cJSON
 * null), which the caller frees with cJSON_Delete; returns 0. Errors, with *out NULL:
 * TT_EPARSE (|err| says "line L column C: problem"; lines count from 1), TT_ERANGE (a limit
 * above was hit), TT_ENOMEM. Duplicate keys in one mapping and non-scalar keys are errors. */
int tt_k8s_yaml_parse(const char *text, size_t len, cJSON **out, struct tt_err *err);

#endif
