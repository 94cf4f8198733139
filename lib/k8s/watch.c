/* k8s/watch.c - newline framing of watch streams and parsing of watch events.
 * Threads: the watcher thread. See watch.h for why lines, and why an overlong line fails. */
#include "k8s/watch.h"

#include <string.h>

void tt_k8s_lines_init(struct tt_k8s_lines *l, size_t max_line)
{
    tt_buf_init(&l->partial, max_line);
}

void tt_k8s_lines_dispose(struct tt_k8s_lines *l)
{
    tt_buf_dispose(&l->partial);
}

void tt_k8s_lines_reset(struct tt_k8s_lines *l)
{
    tt_buf_reset(&l->partial);
}

bool tt_k8s_lines_pending(const struct tt_k8s_lines *l)
{
    return l->partial.len > 0;
}

static int emit(const char *line, size_t len, tt_k8s_line_cb cb, void *ud)
{
    return len == 0 ? 0 : cb(ud, line, len);
}

int tt_k8s_lines_feed(struct tt_k8s_lines *l, const char *data, size_t len, tt_k8s_line_cb cb,
                      void *ud)
{
    const char *end = data + len;
    int rc;

    while (data < end) {
        const char *nl = memchr(data, '\n', (size_t)(end - data));
        size_t n = nl ? (size_t)(nl - data) : (size_t)(end - data);

        if (l->partial.len == 0 && nl != NULL) {
            /* The common case: a whole line inside this callback, passed in place. */
            if (n > l->partial.max)
                return TT_ERANGE;
            if ((rc = emit(data, n, cb, ud)) != 0)
                return rc;
        } else {
            if ((rc = tt_buf_append(&l->partial, data, n)) != 0)
                return rc; /* TT_ERANGE past max_line, or TT_ENOMEM */
            if (nl != NULL) {
                rc = emit(l->partial.data, l->partial.len, cb, ud);
                tt_buf_reset(&l->partial);
                if (rc != 0)
                    return rc;
            }
        }
        data += n + (nl != NULL);
    }
    return 0;
}

static const char *const type_names[] = {
    [TT_K8S_EV_ADDED] = "ADDED",       [TT_K8S_EV_MODIFIED] = "MODIFIED",
    [TT_K8S_EV_DELETED] = "DELETED",   [TT_K8S_EV_BOOKMARK] = "BOOKMARK",
    [TT_K8S_EV_ERROR] = "ERROR",
};

const char *tt_k8s_event_type_name(enum tt_k8s_event_type t)
{
    return (unsigned)t < sizeof type_names / sizeof type_names[0] ? type_names[t] : "";
}

static const char *string_at(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int tt_k8s_event_parse(const char *line, size_t len, struct tt_k8s_event *ev, struct tt_err *err)
{
    const cJSON *type, *meta;
    const char *t;
    size_t i;

    memset(ev, 0, sizeof *ev);
    ev->reason = ev->message = "";
    if ((ev->root = cJSON_ParseWithLength(line, len)) == NULL)
        /* cJSON reports allocation failure and syntax errors alike; a line that parses on
         * retry was an allocation failure, which the caller handles like any stream error. */
        return tt_err_set(err, TT_EPARSE, "watch event is not JSON");
    if (!cJSON_IsObject(ev->root)) {
        tt_k8s_event_dispose(ev);
        return tt_err_set(err, TT_EPARSE, "watch event is not a JSON object");
    }
    type = cJSON_GetObjectItemCaseSensitive(ev->root, "type");
    if (!cJSON_IsString(type)) {
        tt_k8s_event_dispose(ev);
        return tt_err_set(err, TT_EPARSE, "watch event has no type");
    }
    t = type->valuestring;
    for (i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
        if (strcmp(t, type_names[i]) == 0)
            break;
    if (i == sizeof type_names / sizeof type_names[0]) {
        tt_err_set(err, TT_EPARSE, "unknown watch event type \"%.40s\"", t);
        tt_k8s_event_dispose(ev);
        return TT_EPARSE;
    }
    ev->type = (enum tt_k8s_event_type)i;
    ev->object = cJSON_GetObjectItemCaseSensitive(ev->root, "object");
    if (!cJSON_IsObject(ev->object)) {
        tt_err_set(err, TT_EPARSE, "%s watch event has no object", type_names[i]);
        tt_k8s_event_dispose(ev);
        return TT_EPARSE;
    }
    if (ev->type == TT_K8S_EV_ERROR) {
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(ev->object, "code");
        const char *s;

        if (cJSON_IsNumber(code) && code->valuedouble >= 0 && code->valuedouble < 1000)
            ev->status_code = (int)code->valuedouble;
        if ((s = string_at(ev->object, "reason")) != NULL)
            ev->reason = s;
        if ((s = string_at(ev->object, "message")) != NULL)
            ev->message = s;
        return 0;
    }
    meta = cJSON_GetObjectItemCaseSensitive(ev->object, "metadata");
    if (cJSON_IsObject(meta)) {
        ev->rv = string_at(meta, "resourceVersion");
        ev->ns = string_at(meta, "namespace");
        ev->name = string_at(meta, "name");
    }
    if (ev->rv != NULL && ev->rv[0] == '\0')
        ev->rv = NULL;
    return 0;
}

void tt_k8s_event_dispose(struct tt_k8s_event *ev)
{
    cJSON_Delete(ev->root);
    ev->root = NULL;
    ev->object = NULL;
}
