/* k8s/reflector.c - list-then-watch for one kind (see reflector.h for the protocol).
 * Threads: the watcher thread. */
#include "k8s/reflector.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/log.h"
#include "k8s/watch.h"

#define MAX_RV        256         /* resourceVersions are short opaque strings */
#define MAX_ERROR_BODY (16 * 1024) /* the Status of a failed request, for the log line */
#define SHORT_WATCH_MS 1000       /* a watch that ends this soon with nothing is an error */

enum next { NEXT_LIST, NEXT_WATCH };

struct pending {
    struct tt_k8s_object **v;
    size_t n, cap;
};

struct tt_k8s_reflector {
    struct tt_k8s_reflector_config cfg;
    struct tt_k8s_store *store;
    uint64_t rng;
    const char *kind_name;

    /* What to do next, and when. */
    enum next next;
    uint64_t next_at;
    bool in_flight;
    bool synced;
    bool rv_unavailable; /* a LIST from last_rv got 410: next list is a consistent read */
    char last_rv[MAX_RV];

    /* Backoff (client-go's exponential backoff manager). */
    uint64_t backoff_ms;
    uint64_t last_error_at;

    /* The exchange in progress. */
    struct tt_buf path;
    enum tt_k8s_request_type req_type;
    uint64_t started_at;
    int status;
    uint32_t retry_after_s;
    struct tt_buf body;        /* LIST page, or a failed request's Status */
    struct tt_k8s_lines lines; /* WATCH framing */
    uint64_t stream_events;    /* events and bookmarks of the current watch */
    const char *stop;          /* why we stopped reading this response (static text) */
    int watch_error_code;      /* an ERROR event's Status.code; 0 when none */
    char watch_error[200];

    /* Paged LIST in progress. */
    struct pending pending;
    char *continue_token;
    char list_rv[MAX_RV];
    unsigned pages;

    struct tt_k8s_reflector_stats stats;
};

/* ------------------------------------------------------------------ paths */

static const struct {
    const char *prefix; /* group/version root */
    const char *resource;
} resources[TT_K8S_KIND_COUNT] = {
    [TT_K8S_INGRESS] = {"/apis/networking.k8s.io/v1", "ingresses"},
    [TT_K8S_INGRESS_CLASS] = {"/apis/networking.k8s.io/v1", "ingressclasses"},
    [TT_K8S_SERVICE] = {"/api/v1", "services"},
    [TT_K8S_ENDPOINT_SLICE] = {"/apis/discovery.k8s.io/v1", "endpointslices"},
    [TT_K8S_SECRET] = {"/api/v1", "secrets"},
};

const char *tt_k8s_collection_path(enum tt_k8s_kind kind, const char *ns, char *buf, size_t size)
{
    int n;

    if (kind <= TT_K8S_KIND_NONE || kind >= TT_K8S_KIND_COUNT)
        return NULL;
    if (ns != NULL && tt_k8s_kind_namespaced(kind))
        n = snprintf(buf, size, "%s/namespaces/%s/%s", resources[kind].prefix, ns,
                     resources[kind].resource);
    else
        n = snprintf(buf, size, "%s/%s", resources[kind].prefix, resources[kind].resource);
    return n > 0 && (size_t)n < size ? buf : NULL;
}

/* Query values (continue tokens, resourceVersions) are opaque: escape everything but
 * unreserved characters. */
static int append_escaped(struct tt_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = 0;

    for (; *s != '\0' && rc == 0; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            rc = tt_buf_append(b, s, 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            rc = tt_buf_append(b, e, 3);
        }
    }
    return rc;
}

/* Only TLS Secrets matter, and the Secret registry can select on type: this keeps every
 * other Secret of the cluster out of our memory (RBAC still needs list on all secrets). */
static const char *selector(const struct tt_k8s_reflector *r)
{
    return r->cfg.kind == TT_K8S_SECRET ? "&fieldSelector=type%3Dkubernetes.io%2Ftls" : "";
}

static int build_path(struct tt_k8s_reflector *r, enum tt_k8s_request_type type,
                      uint32_t *timeout_s)
{
    char coll[512];
    struct tt_buf *b = &r->path;
    int rc;

    if (tt_k8s_collection_path(r->cfg.kind, r->cfg.ns, coll, sizeof coll) == NULL)
        return TT_ERANGE;
    tt_buf_reset(b);
    if ((rc = tt_buf_printf(b, "%s?", coll)) != 0)
        return rc;
    if (type == TT_K8S_REQ_LIST) {
        *timeout_s = 120;
        if (r->continue_token != NULL) {
            /* Later pages carry the token instead of a version (the apiserver refuses both). */
            rc = tt_buf_printf(b, "limit=%u&continue=", r->cfg.page_limit);
            if (rc == 0)
                rc = append_escaped(b, r->continue_token);
        } else if (r->rv_unavailable) {
            rc = tt_buf_printf(b, "limit=%u", r->cfg.page_limit);
        } else if (r->last_rv[0] == '\0') {
            rc = tt_buf_printf(b, "limit=%u&resourceVersion=0", r->cfg.page_limit);
        } else {
            /* A concrete version: no limit, so the watch cache can answer. */
            rc = tt_buf_append_str(b, "resourceVersion=");
            if (rc == 0)
                rc = append_escaped(b, r->last_rv);
        }
    } else {
        uint32_t t = r->cfg.watch_timeout_s;
        t += (uint32_t)(r->rng % t); /* [min, 2 min): spread reconnects over time */
        *timeout_s = t + 30;
        rc = tt_buf_append_str(b, "allowWatchBookmarks=true&resourceVersion=");
        if (rc == 0)
            rc = append_escaped(b, r->last_rv);
        if (rc == 0)
            rc = tt_buf_printf(b, "&timeoutSeconds=%u&watch=true", t);
    }
    if (rc == 0)
        rc = tt_buf_append_str(b, selector(r));
    if (rc == 0)
        rc = tt_buf_append(b, "", 1); /* NUL */
    return rc;
}

/* ------------------------------------------------------------------ helpers */

static uint64_t next_random(struct tt_k8s_reflector *r)
{
    /* splitmix64: enough for jitter and timeouts, no shared state. */
    uint64_t z = (r->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void pending_clear(struct pending *p)
{
    for (size_t i = 0; i < p->n; i++)
        tt_k8s_object_free(p->v[i]);
    p->n = 0;
}

static int pending_push(struct pending *p, struct tt_k8s_object *o)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        struct tt_k8s_object **v = tt_realloc(p->v, cap * sizeof *v);
        if (v == NULL)
            return TT_ENOMEM;
        p->v = v;
        p->cap = cap;
    }
    p->v[p->n++] = o;
    return 0;
}

static void reset_list(struct tt_k8s_reflector *r)
{
    pending_clear(&r->pending);
    tt_free(r->continue_token);
    r->continue_token = NULL;
    r->list_rv[0] = '\0';
    r->pages = 0;
}

static bool set_rv(char *dst, const char *rv)
{
    size_t n = strlen(rv);
    if (n >= MAX_RV)
        return false;
    memcpy(dst, rv, n + 1);
    return true;
}

static const char *json_string(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* "ns/name" of a raw object, for reports about objects that did not decode. */
static void raw_key(const struct tt_k8s_reflector *r, const cJSON *obj, char *buf, size_t size)
{
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    const char *ns = json_string(meta, "namespace"), *name = json_string(meta, "name");

    if (name == NULL || name[0] == '\0')
        snprintf(buf, size, "?");
    else if (!tt_k8s_kind_namespaced(r->cfg.kind))
        snprintf(buf, size, "%s", name);
    else
        snprintf(buf, size, "%s/%s", ns != NULL && ns[0] != '\0' ? ns : "default", name);
}

static void report_change(struct tt_k8s_reflector *r, const char *key, const char *what)
{
    if (r->cfg.on_change != NULL)
        r->cfg.on_change(r->cfg.ud, r->cfg.kind, key, what);
}

/* Removes |key| after its new version was rejected. */
static void drop_rejected(struct tt_k8s_reflector *r, const char *key, const char *reason)
{
    if (r->cfg.on_reject != NULL)
        r->cfg.on_reject(r->cfg.ud, r->cfg.kind, key, reason);
    if (tt_k8s_store_delete(r->store, r->cfg.kind, key) == 0)
        report_change(r, key, "rejected");
}

/* Decodes an API object of our kind. Returns the object, or NULL after reporting why (and
 * setting *oom on allocation failure, which is not the object's fault). */
static struct tt_k8s_object *decode(struct tt_k8s_reflector *r, const cJSON *obj, char *key,
                                    size_t key_size, bool *oom)
{
    struct tt_k8s_object *o = NULL;
    struct tt_err err = {0};
    int rc = tt_k8s_decode(r->cfg.kind, obj, &o, &err);

    if (rc == 0) {
        snprintf(key, key_size, "%s", o->key);
        return o;
    }
    raw_key(r, obj, key, key_size);
    if (rc == TT_ENOMEM) {
        *oom = true;
        return NULL;
    }
    if (rc == TT_ESKIP)
        snprintf(err.msg, sizeof err.msg, "kind field does not match the %s collection",
                 r->kind_name);
    drop_rejected(r, key, err.msg);
    return NULL;
}

/* ------------------------------------------------------------------ backoff */

static void schedule(struct tt_k8s_reflector *r, enum next next, uint64_t at)
{
    r->next = next;
    r->next_at = at;
}

static void fail(struct tt_k8s_reflector *r, uint64_t now, enum next next, const char *what,
                 const char *detail)
{
    struct tt_logline l;
    uint64_t wait;

    if (r->last_error_at == 0 || now - r->last_error_at > r->cfg.backoff_reset_ms)
        r->backoff_ms = 0;
    r->backoff_ms = r->backoff_ms == 0 ? r->cfg.backoff_initial_ms
                                       : r->backoff_ms * 2 > r->cfg.backoff_max_ms
                                             ? r->cfg.backoff_max_ms
                                             : r->backoff_ms * 2;
    r->last_error_at = now;
    /* Jitter spreads the retries of many controllers; capped so that the longest wait is the
     * configured maximum (client-go's factor 1.0 jitter can double it, to a minute). */
    wait = r->backoff_ms + next_random(r) % (r->backoff_ms / 4 + 1);
    if (wait > r->cfg.backoff_max_ms)
        wait = r->cfg.backoff_max_ms;
    if (wait < (uint64_t)r->retry_after_s * 1000)
        wait = (uint64_t)r->retry_after_s * 1000;
    r->stats.errors++;
    schedule(r, next, now + wait);

    if (tt_log_begin(&l, r->status == 403 ? TT_LOG_ERROR : TT_LOG_WARN, "k8s", what)) {
        tt_log_str(&l, "kind", r->kind_name);
        if (r->status != 0)
            tt_log_int(&l, "status", r->status);
        if (detail != NULL && detail[0] != '\0')
            tt_log_str(&l, "reason", detail);
        if (r->status == 401)
            tt_log_str(&l, "hint", "the bearer token was refused; it is re-read before the retry");
        if (r->status == 403)
            tt_log_str(&l, "hint", "RBAC: tether needs get, list and watch on this resource");
        tt_log_int(&l, "retry_ms", (long long)wait);
        tt_log_str(&l, "next", next == NEXT_LIST ? "list" : "watch");
        tt_log_end(&l);
    }
}

/* The message of a Status body, when the failed response carried one. */
static const char *status_message(struct tt_k8s_reflector *r, char *buf, size_t size)
{
    cJSON *st = cJSON_ParseWithLength(r->body.data ? r->body.data : "", r->body.len);
    const char *msg = json_string(st, "message");

    snprintf(buf, size, "%s", msg != NULL ? msg : "");
    cJSON_Delete(st);
    return buf;
}

/* ------------------------------------------------------------------ LIST */

static int cmp_object_key(const void *a, const void *b)
{
    return strcmp((*(struct tt_k8s_object *const *)a)->key, (*(struct tt_k8s_object *const *)b)->key);
}

/* Makes the store's objects of our kind exactly the listed ones. */
static int replace_store(struct tt_k8s_reflector *r)
{
    struct pending *p = &r->pending;
    size_t n = tt_k8s_store_count(r->store, r->cfg.kind), ndel = 0, i;
    char **gone = NULL;
    int rc = 0;

    if (p->n > 1)
        qsort(p->v, p->n, sizeof *p->v, cmp_object_key);
    if (n > 0 && (gone = tt_calloc(n, sizeof *gone)) == NULL)
        return TT_ENOMEM;
    for (i = 0; i < n; i++) {
        const struct tt_k8s_object *o = tt_k8s_store_at(r->store, r->cfg.kind, i);
        struct tt_k8s_object probe = {.key = o->key}, *pp = &probe;
        if ((p->n == 0 || bsearch(&pp, p->v, p->n, sizeof *p->v, cmp_object_key) == NULL) &&
            (gone[ndel++] = tt_strdup(o->key)) == NULL) {
            rc = TT_ENOMEM;
            break;
        }
    }
    for (i = 0; i < ndel && rc == 0; i++)
        if (tt_k8s_store_delete(r->store, r->cfg.kind, gone[i]) == 0)
            report_change(r, gone[i], "relist");
    for (i = 0; i < ndel; i++)
        tt_free(gone[i]);
    tt_free(gone);

    for (i = 0; i < p->n; i++) {
        struct tt_k8s_object *o = p->v[i];
        uint64_t before = tt_k8s_store_changes(r->store);
        char key[512];
        int urc;

        p->v[i] = NULL;
        snprintf(key, sizeof key, "%s", o->key);
        if (rc != 0) {
            tt_k8s_object_free(o);
            continue;
        }
        if ((urc = tt_k8s_store_upsert(r->store, o)) != 0)
            rc = urc;
        else if (tt_k8s_store_changes(r->store) != before)
            report_change(r, key, "relist");
    }
    p->n = 0;
    return rc;
}

/* Handles one complete LIST page. Returns 0, or a static reason for failing the list. */
static const char *take_page(struct tt_k8s_reflector *r, uint64_t now)
{
    cJSON *doc = cJSON_ParseWithLength(r->body.data ? r->body.data : "", r->body.len);
    const cJSON *meta, *items, *item;
    const char *rv, *cont, *why = NULL;
    bool oom = false;

    if (doc == NULL)
        return "list response is not JSON";
    meta = cJSON_GetObjectItemCaseSensitive(doc, "metadata");
    items = cJSON_GetObjectItemCaseSensitive(doc, "items");
    rv = json_string(meta, "resourceVersion");
    cont = json_string(meta, "continue");
    if (!cJSON_IsArray(items) && !cJSON_IsNull(items) && items != NULL) {
        why = "list response has no items array";
        goto out;
    }
    if (r->pages == 0) {
        if (rv == NULL || rv[0] == '\0' || !set_rv(r->list_rv, rv)) {
            why = "list response has no usable metadata.resourceVersion";
            goto out;
        }
    }
    cJSON_ArrayForEach(item, items)
    {
        char key[512];
        struct tt_k8s_object *o;

        if (!cJSON_IsObject(item)) {
            why = "list item is not an object";
            goto out;
        }
        if ((o = decode(r, item, key, sizeof key, &oom)) != NULL && pending_push(&r->pending, o) != 0) {
            tt_k8s_object_free(o);
            oom = true;
        }
        if (oom) {
            why = "out of memory decoding the list";
            goto out;
        }
    }
    r->pages++;
    tt_free(r->continue_token);
    r->continue_token = NULL;
    if (cont != NULL && cont[0] != '\0') {
        if ((r->continue_token = tt_strdup(cont)) == NULL)
            why = "out of memory";
        else
            schedule(r, NEXT_LIST, now);
        goto out;
    }

    /* Last page: the list is a complete snapshot. */
    if (replace_store(r) != 0) {
        why = "out of memory applying the list";
        goto out;
    }
    memcpy(r->last_rv, r->list_rv, sizeof r->last_rv);
    r->rv_unavailable = false;
    if (tt_log_enabled(TT_LOG_INFO, "k8s")) {
        struct tt_logline l;
        if (tt_log_begin(&l, r->synced ? TT_LOG_DEBUG : TT_LOG_INFO, "k8s", "listed")) {
            tt_log_str(&l, "kind", r->kind_name);
            tt_log_int(&l, "objects", (long long)tt_k8s_store_count(r->store, r->cfg.kind));
            tt_log_int(&l, "pages", r->pages);
            tt_log_str(&l, "resource_version", r->last_rv);
            tt_log_end(&l);
        }
    }
    r->synced = true;
    reset_list(r);
    schedule(r, NEXT_WATCH, now);
out:
    cJSON_Delete(doc);
    if (why != NULL)
        reset_list(r);
    return why;
}

static void end_list(struct tt_k8s_reflector *r, uint64_t now, const char *transport_error)
{
    char msg[200];
    const char *why;

    if (transport_error != NULL) {
        reset_list(r);
        fail(r, now, NEXT_LIST, "list failed", transport_error);
    } else if (r->status == 200) {
        if (r->stop != NULL) {
            reset_list(r);
            fail(r, now, NEXT_LIST, "list failed", r->stop);
        } else if ((why = take_page(r, now)) != NULL) {
            fail(r, now, NEXT_LIST, "list failed", why);
        }
    } else if ((r->status == 410 || r->status == 504) && !r->rv_unavailable) {
        /* Expired continue token, compacted version, or a version ahead of this server's
         * cache: start again with a consistent read, at once. */
        tt_logf(TT_LOG_INFO, "k8s", "relisting", "kind=%s status=%d: %s", r->kind_name, r->status,
                status_message(r, msg, sizeof msg));
        reset_list(r);
        r->rv_unavailable = true;
        r->stats.relists++;
        schedule(r, NEXT_LIST, now);
    } else {
        reset_list(r);
        fail(r, now, NEXT_LIST, "list failed", status_message(r, msg, sizeof msg));
    }
}

/* ------------------------------------------------------------------ WATCH */

static int apply_event(struct tt_k8s_reflector *r, struct tt_k8s_event *ev)
{
    char key[512];
    bool oom = false;

    if (ev->type == TT_K8S_EV_ERROR) {
        r->watch_error_code = ev->status_code;
        snprintf(r->watch_error, sizeof r->watch_error, "%s (%d %s)", ev->message,
                 ev->status_code, ev->reason);
        return 1;
    }
    if (ev->rv != NULL && !set_rv(r->last_rv, ev->rv)) {
        r->stop = "resourceVersion too long";
        return 1;
    }
    r->stream_events++;
    if (ev->type == TT_K8S_EV_BOOKMARK)
        return 0;
    r->stats.events++;
    if (ev->type == TT_K8S_EV_DELETED) {
        raw_key(r, ev->object, key, sizeof key);
        if (tt_k8s_store_delete(r->store, r->cfg.kind, key) == 0)
            report_change(r, key, "DELETED");
        return 0;
    }
    struct tt_k8s_object *o = decode(r, ev->object, key, sizeof key, &oom);
    if (o != NULL) {
        uint64_t before = tt_k8s_store_changes(r->store);
        if (tt_k8s_store_upsert(r->store, o) != 0)
            oom = true;
        else if (tt_k8s_store_changes(r->store) != before)
            report_change(r, key, tt_k8s_event_type_name(ev->type));
    }
    if (oom) {
        r->stop = "out of memory applying a watch event";
        return 1;
    }
    return 0;
}

static int on_line(void *ud, const char *line, size_t len)
{
    struct tt_k8s_reflector *r = ud;
    struct tt_k8s_event ev;
    struct tt_err err = {0};
    int rc;

    if (tt_k8s_event_parse(line, len, &ev, &err) != 0) {
        /* Not an event we can read: we cannot know what it changed, so end the stream and
         * relist rather than carry on with a store that may have missed an update. */
        r->stop = "malformed watch line";
        tt_logf(TT_LOG_WARN, "k8s", "malformed watch line", "kind=%s: %s", r->kind_name, err.msg);
        return 1;
    }
    rc = apply_event(r, &ev);
    tt_k8s_event_dispose(&ev);
    return rc;
}

static void end_watch(struct tt_k8s_reflector *r, uint64_t now, const char *transport_error,
                      bool refused)
{
    char msg[200];

    if (r->status == 200 && r->watch_error_code != 0) {
        if (r->watch_error_code == 410) {
            /* History compacted past our version: relist "not older than" it, at once. */
            tt_logf(TT_LOG_INFO, "k8s", "relisting", "kind=%s: watch expired: %s", r->kind_name,
                    r->watch_error);
            r->stats.relists++;
            schedule(r, NEXT_LIST, now);
        } else {
            fail(r, now, NEXT_LIST, "watch error", r->watch_error);
        }
    } else if (r->status == 200 && r->stop != NULL) {
        fail(r, now, NEXT_LIST, "watch stopped", r->stop);
    } else if (r->status == 200) {
        if (r->stream_events == 0 && now - r->started_at < SHORT_WATCH_MS)
            fail(r, now, NEXT_LIST, "very short watch",
                 transport_error ? transport_error : "closed at once with no events");
        else
            schedule(r, NEXT_WATCH, now); /* timeout, server restart, cut stream: resume */
    } else if (r->status == 0 && refused) {
        fail(r, now, NEXT_WATCH, "watch failed", transport_error);
    } else if (r->status == 429) {
        fail(r, now, NEXT_WATCH, "watch throttled", status_message(r, msg, sizeof msg));
    } else if (r->status == 410 || r->status == 504) {
        if (r->status == 504)
            r->rv_unavailable = true;
        tt_logf(TT_LOG_INFO, "k8s", "relisting", "kind=%s status=%d: %s", r->kind_name, r->status,
                status_message(r, msg, sizeof msg));
        r->stats.relists++;
        schedule(r, NEXT_LIST, now);
    } else {
        fail(r, now, NEXT_LIST, "watch failed",
             r->status == 0 ? transport_error : status_message(r, msg, sizeof msg));
    }
}

/* ------------------------------------------------------------------ public */

struct tt_k8s_reflector *tt_k8s_reflector_new(const struct tt_k8s_reflector_config *cfg,
                                              struct tt_k8s_store *store, uint64_t seed)
{
    struct tt_k8s_reflector *r = tt_calloc(1, sizeof *r);

    if (r == NULL)
        return NULL;
    r->cfg = *cfg;
    if (r->cfg.page_limit == 0)
        r->cfg.page_limit = 500;
    if (r->cfg.watch_timeout_s == 0)
        r->cfg.watch_timeout_s = 300;
    if (r->cfg.backoff_initial_ms == 0)
        r->cfg.backoff_initial_ms = 800;
    if (r->cfg.backoff_max_ms == 0)
        r->cfg.backoff_max_ms = 30000;
    if (r->cfg.backoff_reset_ms == 0)
        r->cfg.backoff_reset_ms = 120000;
    if (r->cfg.max_list_bytes == 0)
        r->cfg.max_list_bytes = 512u << 20;
    r->store = store;
    r->rng = seed ^ ((uint64_t)cfg->kind << 32);
    r->kind_name = tt_k8s_kind_name(cfg->kind);
    tt_buf_init(&r->path, 4096 + 2 * MAX_RV + 8192);
    tt_buf_init(&r->body, r->cfg.max_list_bytes);
    tt_k8s_lines_init(&r->lines, TT_K8S_WATCH_MAX_LINE);
    schedule(r, NEXT_LIST, 0);
    return r;
}

void tt_k8s_reflector_free(struct tt_k8s_reflector *r)
{
    if (r == NULL)
        return;
    reset_list(r);
    tt_free(r->pending.v);
    tt_buf_dispose(&r->path);
    tt_buf_dispose(&r->body);
    tt_k8s_lines_dispose(&r->lines);
    tt_free(r);
}

bool tt_k8s_reflector_poll(struct tt_k8s_reflector *r, uint64_t now_ms,
                           struct tt_k8s_request *req, uint64_t *wake_ms)
{
    enum tt_k8s_request_type type;

    if (r->in_flight) {
        *wake_ms = UINT64_MAX;
        return false;
    }
    if (now_ms < r->next_at) {
        *wake_ms = r->next_at;
        return false;
    }
    type = r->next == NEXT_LIST ? TT_K8S_REQ_LIST : TT_K8S_REQ_WATCH;
    next_random(r);
    if (build_path(r, type, &req->timeout_s) != 0) {
        /* Only a namespace name of absurd length gets here; retry later, loudly. */
        tt_logf(TT_LOG_ERROR, "k8s", "cannot build request", "kind=%s", r->kind_name);
        schedule(r, r->next, now_ms + r->cfg.backoff_max_ms);
        *wake_ms = r->next_at;
        return false;
    }
    req->type = type;
    req->path = r->path.data;
    r->req_type = type;
    r->in_flight = true;
    r->started_at = now_ms;
    r->status = 0;
    r->retry_after_s = 0;
    r->stop = NULL;
    r->stream_events = 0;
    r->watch_error_code = 0;
    r->watch_error[0] = '\0';
    tt_buf_reset(&r->body);
    tt_k8s_lines_reset(&r->lines);
    if (type == TT_K8S_REQ_LIST)
        r->stats.lists++;
    else
        r->stats.watches++;
    return true;
}

void tt_k8s_reflector_response_status(struct tt_k8s_reflector *r, int http_status,
                                      uint32_t retry_after_s)
{
    r->status = http_status;
    r->retry_after_s = retry_after_s > 600 ? 600 : retry_after_s;
    /* A failed request's body is a small Status: keep at most a little of it. */
    if (http_status != 200)
        r->body.max = MAX_ERROR_BODY;
    else
        r->body.max = r->cfg.max_list_bytes;
}

int tt_k8s_reflector_response_data(struct tt_k8s_reflector *r, const char *data, size_t len)
{
    int rc;

    if (!r->in_flight || r->stop != NULL || r->watch_error_code != 0)
        return 1;
    if (r->status != 200) {
        size_t room = r->body.max - r->body.len;
        (void)tt_buf_append(&r->body, data, len < room ? len : room);
        return 0;
    }
    if (r->req_type == TT_K8S_REQ_LIST) {
        if ((rc = tt_buf_append(&r->body, data, len)) != 0)
            r->stop = rc == TT_ERANGE ? "list page too large" : "out of memory";
        return rc != 0;
    }
    rc = tt_k8s_lines_feed(&r->lines, data, len, on_line, r);
    if (rc < 0)
        r->stop = rc == TT_ERANGE ? "watch event larger than 8 MiB" : "out of memory";
    return rc != 0;
}

void tt_k8s_reflector_response_end(struct tt_k8s_reflector *r, uint64_t now_ms,
                                   const char *transport_error, bool refused)
{
    if (!r->in_flight)
        return;
    r->in_flight = false;
    /* An aborted transfer reports an error we caused ourselves; our reason is the real one. */
    if (r->stop != NULL || r->watch_error_code != 0)
        transport_error = NULL;
    if (r->req_type == TT_K8S_REQ_LIST)
        end_list(r, now_ms, transport_error);
    else
        end_watch(r, now_ms, transport_error, refused);
    tt_buf_reset(&r->body);
    tt_k8s_lines_reset(&r->lines);
}

void tt_k8s_reflector_retry_now(struct tt_k8s_reflector *r, uint64_t now_ms)
{
    if (!r->in_flight && r->next_at > now_ms)
        r->next_at = now_ms;
}

bool tt_k8s_reflector_synced(const struct tt_k8s_reflector *r)
{
    return r->synced;
}

enum tt_k8s_kind tt_k8s_reflector_kind(const struct tt_k8s_reflector *r)
{
    return r->cfg.kind;
}

const char *tt_k8s_reflector_rv(const struct tt_k8s_reflector *r)
{
    return r->last_rv;
}

void tt_k8s_reflector_stats(const struct tt_k8s_reflector *r, struct tt_k8s_reflector_stats *out)
{
    *out = r->stats;
}
