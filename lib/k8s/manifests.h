/* k8s/manifests.h - the static object source (--manifests PATH): YAML or JSON files, as
 * `kubectl apply -f` takes them, decoded into a store.
 * Threads: whoever owns the store (main at startup, or the watcher).
 * Invariants: a document that cannot be parsed fails the whole load before the store is
 * touched; a parseable object that cannot be decoded is skipped with one WARN line and the
 * rest still load, like kubectl reporting one bad object of many. */
#ifndef TT_K8S_MANIFESTS_H
#define TT_K8S_MANIFESTS_H

#include "base/err.h"
#include "k8s/store.h"

#define TT_K8S_MANIFEST_MAX_FILE (64 * 1024 * 1024) /* bytes per file */

/* Loads |path| into |s|: a file (".json" is read as a stream of JSON values, anything else as
 * multi-document YAML), or a folder, whose *.yaml, *.yml and *.json files (not hidden ones,
 * not subfolders) are loaded in name order. A "List" or "<Kind>List" document contributes its
 * items. Kinds we do not watch (Deployment, Namespace, ...) are skipped with a DEBUG line;
 * objects that fail to decode with one WARN line "object rejected" {kind, object ("ns/name"),
 * reason, file}. metadata.namespace defaults to "default". Later objects replace earlier ones
 * with the same kind and key. Returns 0 (also when objects were skipped), or an error with
 * |err| naming the file: a negative errno when the path or a file cannot be read, TT_ERANGE
 * for a file over the size cap, TT_EPARSE (or TT_ERANGE from the YAML limits) when a document
 * is not parseable, TT_ENOMEM. On TT_ENOMEM during the store phase the store may hold part of
 * the objects. */
int tt_k8s_manifests_load(struct tt_k8s_store *s, const char *path, struct tt_err *err);

#endif
