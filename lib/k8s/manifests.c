/* k8s/manifests.c - load objects from YAML/JSON files or a folder of them into a store.
 * Threads: the store's owner. Blocking file I/O, so never on a loop thread.
 * Two phases: parse every file first (any unparseable document fails the load with the store
 * untouched), then decode and upsert object by object, logging the ones we skip. */
#include "k8s/manifests.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "k8s/internal.h"
#include "k8s/yaml.h"

struct file {
    char *path;
    cJSON *docs; /* array of documents */
};

struct load {
    struct tt_k8s_store *store;
    const char *file; /* for log lines */
    size_t objects;
    size_t rejected;
    size_t ignored;
};

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static bool is_manifest_name(const char *name)
{
    return name[0] != '.' &&
           (has_suffix(name, ".yaml") || has_suffix(name, ".yml") || has_suffix(name, ".json"));
}

static size_t line_of(const char *text, const char *at)
{
    size_t line = 1;
    for (const char *p = text; p < at; p++)
        if (*p == '\n')
            line++;
    return line;
}

/* A stream of JSON values, as `kubectl get -o json` output concatenated. */
static int parse_json(const char *path, const char *text, size_t len, cJSON **out,
                      struct tt_err *err)
{
    cJSON *docs = cJSON_CreateArray(), *doc;
    size_t off = 0;
    int rc;

    if (docs == NULL)
        return tt_err_set(err, TT_ENOMEM, "manifests: out of memory parsing %s", path);
    for (;;) {
        const char *end = NULL;
        while (off < len && strchr(" \t\r\n", text[off]) != NULL)
            off++;
        if (off == len)
            break;
        if ((doc = cJSON_ParseWithLengthOpts(text + off, len - off, &end, false)) == NULL) {
            rc = tt_err_set(err, TT_EPARSE, "manifests: %s: line %zu: invalid JSON", path,
                            line_of(text, end != NULL ? end : text + off));
            goto fail;
        }
        if (!cJSON_AddItemToArray(docs, doc)) {
            cJSON_Delete(doc);
            rc = tt_err_set(err, TT_ENOMEM, "manifests: out of memory parsing %s", path);
            goto fail;
        }
        off = (size_t)(end - text);
    }
    *out = docs;
    return 0;
fail:
    cJSON_Delete(docs);
    return rc;
}

static int parse_file(struct file *f, struct tt_err *err)
{
    struct tt_err perr = {0};
    char *text = NULL;
    size_t len = 0;
    int rc;

    if ((rc = tt_k8s__read_file(f->path, TT_K8S_MANIFEST_MAX_FILE, "manifests", &text, &len, err)) != 0)
        return rc;
    if (has_suffix(f->path, ".json")) {
        rc = parse_json(f->path, text, len, &f->docs, err);
    } else if ((rc = tt_k8s_yaml_parse(text, len, &f->docs, &perr)) != 0) {
        tt_err_set(err, rc, "manifests: %s: %s", f->path, perr.msg);
    }
    tt_free(text);
    return rc;
}

static const char *str_field(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* "ns/name" for log lines, from the raw JSON, so rejected objects can be named too. */
static void object_name(const cJSON *obj, const char *kind, char *buf, size_t size)
{
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    const char *name = str_field(md, "name"), *ns = str_field(md, "namespace");
    enum tt_k8s_kind k = tt_k8s_kind_from_name(kind);

    /* Only kinds we know to be namespaced get kubectl's default namespace. */
    if (k != TT_K8S_KIND_NONE && !tt_k8s_kind_namespaced(k))
        ns = NULL;
    else if (ns == NULL && k != TT_K8S_KIND_NONE)
        ns = "default";
    snprintf(buf, size, "%.64s%s%.253s", ns != NULL ? ns : "", ns != NULL ? "/" : "",
             name != NULL ? name : "");
}

static void log_skip(struct load *ld, enum tt_log_level level, const char *msg, const char *kind,
                     const char *object, const char *reason)
{
    struct tt_logline l;
    if (tt_log_begin(&l, level, "k8s", msg)) {
        tt_log_str(&l, "kind", kind);
        tt_log_str(&l, "object", object);
        tt_log_str(&l, "reason", reason);
        tt_log_str(&l, "file", ld->file);
        tt_log_end(&l);
    }
}

/* |hint|: the item kind of a typed list ("IngressList" items carry no kind of their own). */
static int load_doc(struct load *ld, const cJSON *doc, const char *hint, int depth,
                    struct tt_err *err)
{
    struct tt_k8s_object *o = NULL;
    struct tt_err derr = {0};
    enum tt_k8s_kind k;
    const char *kind;
    char object[320];
    int rc;

    if (cJSON_IsNull(doc))
        return 0; /* an empty document, e.g. a trailing "---" */
    if (!cJSON_IsObject(doc)) {
        ld->rejected++;
        log_skip(ld, TT_LOG_WARN, "object rejected", "", "", "document is not a mapping");
        return 0;
    }
    kind = str_field(doc, "kind");
    if (kind == NULL && cJSON_GetObjectItemCaseSensitive(doc, "kind") == NULL)
        kind = hint;
    object_name(doc, kind != NULL ? kind : "", object, sizeof(object));

    if (kind != NULL && has_suffix(kind, "List") && depth == 0) {
        const cJSON *items = cJSON_GetObjectItemCaseSensitive(doc, "items");
        char item_kind[128] = "";
        if (!cJSON_IsArray(items) && !cJSON_IsNull(items) && items != NULL) {
            ld->rejected++;
            log_skip(ld, TT_LOG_WARN, "object rejected", kind, object, "items: expected an array");
            return 0;
        }
        if (strcmp(kind, "List") != 0)
            snprintf(item_kind, sizeof(item_kind), "%.*s", (int)(strlen(kind) - 4), kind);
        for (const cJSON *it = items != NULL ? items->child : NULL; it != NULL; it = it->next)
            if ((rc = load_doc(ld, it, item_kind[0] != '\0' ? item_kind : NULL, depth + 1, err)) !=
                0)
                return rc;
        return 0;
    }

    k = kind != NULL ? tt_k8s_kind_from_name(kind) : TT_K8S_KIND_NONE;
    if (k == TT_K8S_KIND_NONE && kind != NULL && kind[0] != '\0') {
        ld->ignored++;
        log_skip(ld, TT_LOG_DEBUG, "object ignored", kind, object, "kind not watched");
        return 0;
    }
    /* With no usable kind, decode explains what is wrong with the kind field. */
    rc = tt_k8s_decode(k, doc, &o, &derr);
    if (rc == TT_ENOMEM)
        return tt_err_set(err, rc, "manifests: out of memory decoding %s", ld->file);
    if (rc != 0) {
        ld->rejected++;
        log_skip(ld, TT_LOG_WARN, "object rejected", kind != NULL ? kind : "", object, derr.msg);
        return 0;
    }
    if ((rc = tt_k8s_store_upsert(ld->store, o)) != 0)
        return tt_err_set(err, rc, "manifests: out of memory storing %s", object);
    ld->objects++;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Fills |files| with the paths to load: |path| itself, or the manifests in the folder. */
static int list_files(const char *path, struct file **files, size_t *n_files, struct tt_err *err)
{
    struct stat st;
    DIR *d = NULL;
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;

    *files = NULL;
    *n_files = 0;
    if (stat(path, &st) == -1)
        return tt_err_set(err, -errno, "manifests: cannot read %s: %s", path, strerror(errno));
    if (!S_ISDIR(st.st_mode)) {
        if ((*files = tt_calloc(1, sizeof(**files))) == NULL ||
            ((*files)[0].path = tt_strdup(path)) == NULL) {
            tt_free(*files);
            *files = NULL;
            return tt_err_set(err, TT_ENOMEM, "manifests: out of memory");
        }
        *n_files = 1;
        return 0;
    }
    if ((d = opendir(path)) == NULL)
        return tt_err_set(err, -errno, "manifests: cannot read %s: %s", path, strerror(errno));
    while ((errno = 0, e = readdir(d)) != NULL) {
        size_t len;
        if (!is_manifest_name(e->d_name))
            continue;
        if (n == cap) {
            size_t ncap = cap < 16 ? 16 : cap * 2;
            char **nn = tt_realloc(names, ncap * sizeof(*nn));
            if (nn == NULL) {
                rc = tt_err_set(err, TT_ENOMEM, "manifests: out of memory listing %s", path);
                goto out;
            }
            names = nn;
            cap = ncap;
        }
        len = strlen(path) + 1 + strlen(e->d_name) + 1;
        if ((names[n] = tt_malloc(len)) == NULL) {
            rc = tt_err_set(err, TT_ENOMEM, "manifests: out of memory listing %s", path);
            goto out;
        }
        snprintf(names[n++], len, "%s/%s", path, e->d_name);
    }
    if (errno != 0) {
        rc = tt_err_set(err, -errno, "manifests: cannot list %s: %s", path, strerror(errno));
        goto out;
    }
    if (n > 0)
        qsort(names, n, sizeof(*names), cmp_str);
    if ((*files = tt_calloc(n > 0 ? n : 1, sizeof(**files))) == NULL) {
        rc = tt_err_set(err, TT_ENOMEM, "manifests: out of memory listing %s", path);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        /* Skip subfolders (and other non-files) that happen to be named *.yaml. */
        if (stat(names[i], &st) == 0 && !S_ISREG(st.st_mode)) {
            tt_free(names[i]);
            continue;
        }
        (*files)[(*n_files)++].path = names[i];
    }
    n = 0; /* ownership of the names moved to *files */
out:
    for (size_t i = 0; i < n; i++)
        tt_free(names[i]);
    tt_free(names);
    closedir(d);
    return rc;
}

int tt_k8s_manifests_load(struct tt_k8s_store *s, const char *path, struct tt_err *err)
{
    struct load ld = {.store = s};
    struct file *files = NULL;
    size_t n_files = 0;
    struct tt_logline l;
    int rc;

    if ((rc = list_files(path, &files, &n_files, err)) != 0)
        goto out;
    for (size_t i = 0; i < n_files; i++)
        if ((rc = parse_file(&files[i], err)) != 0)
            goto out;
    for (size_t i = 0; i < n_files; i++) {
        ld.file = files[i].path;
        for (const cJSON *doc = files[i].docs->child; doc != NULL; doc = doc->next)
            if ((rc = load_doc(&ld, doc, NULL, 0, err)) != 0)
                goto out;
    }
    if (tt_log_begin(&l, TT_LOG_INFO, "k8s", "manifests loaded")) {
        tt_log_str(&l, "path", path);
        tt_log_int(&l, "files", (long long)n_files);
        tt_log_int(&l, "objects", (long long)ld.objects);
        tt_log_int(&l, "rejected", (long long)ld.rejected);
        tt_log_int(&l, "ignored", (long long)ld.ignored);
        tt_log_end(&l);
    }
out:
    for (size_t i = 0; i < n_files; i++) {
        tt_free(files[i].path);
        cJSON_Delete(files[i].docs);
    }
    tt_free(files);
    return rc;
}
