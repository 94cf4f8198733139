/* k8s/decode.c - cJSON -> struct tt_k8s_object for the kinds the controller watches.
 * Threads: watcher (or main). Everything is read defensively: a JSON null counts as absent
 * (kubectl writes "creationTimestamp: null"), a wrong type or out-of-range value rejects the
 * object with the field's path in the reason, and an Ingress path that is bad on its own is
 * kept with an "invalid" reason instead, so one typo does not take down a whole Ingress. */
#include "k8s/objects.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"

#define LAST_APPLIED "kubectl.kubernetes.io/last-applied-configuration"

static const char *const kind_names[TT_K8S_KIND_COUNT] = {
    [TT_K8S_KIND_NONE] = "",
    [TT_K8S_INGRESS] = "Ingress",
    [TT_K8S_INGRESS_CLASS] = "IngressClass",
    [TT_K8S_SERVICE] = "Service",
    [TT_K8S_ENDPOINT_SLICE] = "EndpointSlice",
    [TT_K8S_SECRET] = "Secret",
};

const char *tt_k8s_kind_name(enum tt_k8s_kind kind)
{
    if ((unsigned)kind >= TT_K8S_KIND_COUNT)
        return "";
    return kind_names[kind];
}

enum tt_k8s_kind tt_k8s_kind_from_name(const char *name)
{
    if (name == NULL || name[0] == '\0')
        return TT_K8S_KIND_NONE;
    for (int k = TT_K8S_KIND_NONE + 1; k < TT_K8S_KIND_COUNT; k++)
        if (strcmp(kind_names[k], name) == 0)
            return (enum tt_k8s_kind)k;
    return TT_K8S_KIND_NONE;
}

bool tt_k8s_kind_namespaced(enum tt_k8s_kind kind)
{
    return kind != TT_K8S_INGRESS_CLASS && kind != TT_K8S_KIND_NONE;
}

static const char *kv_find(const struct tt_k8s_kv *kv, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(kv[i].key, key) == 0)
            return kv[i].value;
    return NULL;
}

const char *tt_k8s_meta_annotation(const struct tt_k8s_meta *m, const char *key)
{
    return kv_find(m->annotations, m->n_annotations, key);
}

const char *tt_k8s_meta_label(const struct tt_k8s_meta *m, const char *key)
{
    return kv_find(m->labels, m->n_labels, key);
}

/* ---- time and base64 ---- */

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil), so no
 * timegm() and no dependence on the process time zone. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int tt_k8s_parse_time(const char *s, int64_t *out)
{
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h, mi, sec, oh = 0, om = 0;
    size_t len = strlen(s), i = 19;
    int64_t t;

    if (len < 20 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
        digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' ||
        digits(s + 17, 2, &sec))
        return TT_EINVAL;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
        (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))) || h > 23 ||
        mi > 59 || sec > 60)
        return TT_EINVAL;
    if (s[i] == '.') {
        size_t start = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == start)
            return TT_EINVAL;
    }
    if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == len) {
        /* UTC */
    } else if ((s[i] == '+' || s[i] == '-') && i + 6 == len && !digits(s + i + 1, 2, &oh) &&
               s[i + 3] == ':' && !digits(s + i + 4, 2, &om) && oh <= 23 && om <= 59) {
        if (s[i] == '-') {
            oh = -oh;
            om = -om;
        }
    } else {
        return TT_EINVAL;
    }
    t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
    *out = t - (oh * 3600 + om * 60);
    return 0;
}

static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int tt_k8s_base64_decode(const char *in, size_t len, unsigned char **out, size_t *out_len)
{
    unsigned char *buf;
    size_t i, n = 0, q = 0, pad = 0;
    uint32_t acc = 0;
    bool done = false;

    if ((buf = tt_malloc(len / 4 * 3 + 4)) == NULL)
        return TT_ENOMEM;
    for (i = 0; i < len && !done; i++) {
        unsigned char c = (unsigned char)in[i];
        int v = 0;
        if (c == '\r' || c == '\n')
            continue;
        if (c == '=') {
            /* Padding only in the last quantum's third and fourth position. */
            if (q < 2)
                goto fail;
            pad++;
        } else if (pad > 0 || (v = b64val(c)) < 0) {
            goto fail;
        }
        acc = acc << 6 | (uint32_t)v;
        if (++q < 4)
            continue;
        buf[n++] = (unsigned char)(acc >> 16);
        if (pad < 2)
            buf[n++] = (unsigned char)(acc >> 8);
        if (pad < 1)
            buf[n++] = (unsigned char)acc;
        q = 0;
        acc = 0;
        done = pad > 0;
    }
    /* Nothing but line breaks may follow padding. */
    for (; i < len; i++)
        if (in[i] != '\r' && in[i] != '\n')
            goto fail;
    if (q != 0)
        goto fail;
    buf[n] = '\0';
    *out = buf;
    *out_len = n;
    return 0;
fail:
    tt_free(buf);
    return TT_EINVAL;
}

/* ---- field access helpers ---- */

/* A member, with JSON null treated as absent. */
static const cJSON *field(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNull(v) ? NULL : v;
}

static int copy_str(const cJSON *v, const char *where, size_t max, char **out, struct tt_err *err)
{
    size_t len;
    if (!cJSON_IsString(v) || v->valuestring == NULL)
        return tt_err_set(err, TT_EINVAL, "%s: expected a string", where);
    if ((len = strnlen(v->valuestring, max + 1)) > max)
        return tt_err_set(err, TT_EINVAL, "%s: longer than %zu bytes", where, max);
    if ((*out = tt_strndup(v->valuestring, len)) == NULL)
        return tt_err_set(err, TT_ENOMEM, "%s: out of memory", where);
    return 0;
}

/* Optional string member: absent or null leaves *out NULL (or a copy of |dflt|). */
static int get_str(const cJSON *o, const char *key, const char *where, const char *dflt, char **out,
                   struct tt_err *err)
{
    const cJSON *v = field(o, key);
    *out = NULL;
    if (v != NULL)
        return copy_str(v, where, TT_K8S_MAX_STRING, out, err);
    if (dflt != NULL && (*out = tt_strdup(dflt)) == NULL)
        return tt_err_set(err, TT_ENOMEM, "%s: out of memory", where);
    return 0;
}

static int get_int(const cJSON *v, const char *where, long min, long max, long *out,
                   struct tt_err *err)
{
    double d;
    if (!cJSON_IsNumber(v))
        return tt_err_set(err, TT_EINVAL, "%s: expected a number", where);
    d = v->valuedouble;
    if (!isfinite(d) || d != floor(d))
        return tt_err_set(err, TT_EINVAL, "%s: expected an integer", where);
    if (d < (double)min || d > (double)max)
        return tt_err_set(err, TT_EINVAL, "%s: %.15g is out of range %ld..%ld", where, d, min, max);
    *out = (long)d;
    return 0;
}

/* Optional boolean: -1 when absent or null. */
static int get_bool(const cJSON *o, const char *key, const char *where, int *out,
                    struct tt_err *err)
{
    const cJSON *v = field(o, key);
    *out = -1;
    if (v == NULL)
        return 0;
    if (!cJSON_IsBool(v))
        return tt_err_set(err, TT_EINVAL, "%s: expected true or false", where);
    *out = cJSON_IsTrue(v) ? 1 : 0;
    return 0;
}

/* Optional object or array member; *out NULL when absent. */
static int get_typed(const cJSON *o, const char *key, const char *where, bool array,
                     const cJSON **out, struct tt_err *err)
{
    const cJSON *v = field(o, key);
    *out = NULL;
    if (v == NULL)
        return 0;
    if (array ? !cJSON_IsArray(v) : !cJSON_IsObject(v))
        return tt_err_set(err, TT_EINVAL, "%s: expected %s", where,
                          array ? "an array" : "an object");
    *out = v;
    return 0;
}

/* Array length with the hostile-object cap applied. */
static int array_len(const cJSON *a, const char *where, size_t max, size_t *n, struct tt_err *err)
{
    size_t c = 0;
    for (const cJSON *it = a != NULL ? a->child : NULL; it != NULL; it = it->next)
        if (++c > max)
            return tt_err_set(err, TT_EINVAL, "%s: more than %zu entries", where, max);
    *n = c;
    return 0;
}

/* Allocates a zeroed array of |n| elements (at least one, so a non-NULL pointer means "ours"). */
static int alloc_array(void **out, size_t n, size_t size, const char *where, struct tt_err *err)
{
    if ((*out = tt_calloc(n > 0 ? n : 1, size)) == NULL)
        return tt_err_set(err, TT_ENOMEM, "%s: out of memory", where);
    return 0;
}

/* Object names: a DNS subdomain (lower-case alphanumerics, '-', '.'), or a DNS label when
 * |label|. Names end up in keys and backend ids ("ns/svc:port"), so '/' and ':' must not pass. */
static bool valid_name(const char *s, bool label)
{
    size_t n = strlen(s);
    if (n == 0 || n > (label ? 63 : 253))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || (c == '.' && !label)))
            return false;
    }
    return true;
}

/* Records the first reason a path (or default backend) is unusable. Only fails on OOM. */
static int set_invalid(char **invalid, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int set_invalid(char **invalid, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    if (*invalid != NULL)
        return 0;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if ((*invalid = tt_strdup(msg)) == NULL)
        return TT_ENOMEM;
    return 0;
}

/* Turns a field error into a per-path reason; only OOM stays an error. */
static int soften(int rc, struct tt_err *lerr, char **invalid, struct tt_err *err)
{
    if (rc == 0)
        return 0;
    if (rc == TT_ENOMEM)
        return tt_err_set(err, TT_ENOMEM, "%s", lerr->msg);
    if (set_invalid(invalid, "%s", lerr->msg) != 0)
        return tt_err_set(err, TT_ENOMEM, "out of memory");
    return 0;
}

/* ---- metadata ---- */

static int decode_kv(const cJSON *map, const char *where, bool drop_last_applied,
                     struct tt_k8s_kv **out, size_t *n_out, struct tt_err *err)
{
    struct tt_k8s_kv *kv = NULL;
    size_t n = 0, total = 0;
    int rc;

    *out = NULL;
    *n_out = 0;
    if (map == NULL)
        return 0;
    if ((rc = array_len(map, where, TT_K8S_MAX_ITEMS, &n, err)) != 0)
        return rc;
    if ((rc = alloc_array((void **)&kv, n, sizeof(*kv), where, err)) != 0)
        return rc;
    n = 0;
    for (const cJSON *it = map->child; it != NULL; it = it->next) {
        const char *val = "";
        size_t klen, vlen;
        if (it->string == NULL)
            continue;
        if (drop_last_applied && strcmp(it->string, LAST_APPLIED) == 0)
            continue; /* a copy of the whole object; we never need it */
        if (cJSON_IsString(it) && it->valuestring != NULL)
            val = it->valuestring;
        else if (!cJSON_IsNull(it)) {
            rc = tt_err_set(err, TT_EINVAL, "%s[\"%.64s\"]: expected a string value", where,
                            it->string);
            goto fail;
        }
        klen = strnlen(it->string, TT_K8S_MAX_ANNOTATIONS + 1);
        vlen = strnlen(val, TT_K8S_MAX_ANNOTATIONS + 1);
        total += klen + vlen;
        if (total > TT_K8S_MAX_ANNOTATIONS) {
            rc = tt_err_set(err, TT_EINVAL, "%s: larger than %d bytes in total", where,
                            TT_K8S_MAX_ANNOTATIONS);
            goto fail;
        }
        kv[n].key = tt_strndup(it->string, klen);
        kv[n].value = tt_strndup(val, vlen);
        n++;
        if (kv[n - 1].key == NULL || kv[n - 1].value == NULL) {
            rc = tt_err_set(err, TT_ENOMEM, "%s: out of memory", where);
            goto fail;
        }
    }
    *out = kv;
    *n_out = n;
    return 0;
fail:
    for (size_t i = 0; i < n; i++) {
        tt_free(kv[i].key);
        tt_free(kv[i].value);
    }
    tt_free(kv);
    return rc;
}

static int decode_meta(enum tt_k8s_kind kind, const cJSON *obj, struct tt_k8s_meta *m,
                       struct tt_err *err)
{
    const cJSON *md, *v;
    char *ts = NULL;
    int rc;

    if ((md = field(obj, "metadata")) == NULL)
        return tt_err_set(err, TT_EINVAL, "metadata: missing");
    if (!cJSON_IsObject(md))
        return tt_err_set(err, TT_EINVAL, "metadata: expected an object");
    if ((v = field(md, "name")) == NULL)
        return tt_err_set(err, TT_EINVAL, "metadata.name: missing");
    if ((rc = copy_str(v, "metadata.name", 253, &m->name, err)) != 0)
        return rc;
    if (!valid_name(m->name, false))
        return tt_err_set(err, TT_EINVAL, "metadata.name: \"%.64s\" is not a valid name", m->name);
    if (tt_k8s_kind_namespaced(kind)) {
        if ((rc = get_str(md, "namespace", "metadata.namespace", "default", &m->ns, err)) != 0)
            return rc;
        if (!valid_name(m->ns, true))
            return tt_err_set(err, TT_EINVAL, "metadata.namespace: \"%.64s\" is not a valid name",
                              m->ns);
    }
    if ((rc = get_str(md, "uid", "metadata.uid", NULL, &m->uid, err)) != 0 ||
        (rc = get_str(md, "resourceVersion", "metadata.resourceVersion", NULL, &m->resource_version,
                      err)) != 0 ||
        (rc = get_str(md, "creationTimestamp", "metadata.creationTimestamp", NULL, &ts, err)) != 0)
        goto out;
    if (ts != NULL && tt_k8s_parse_time(ts, &m->creation_ts) != 0) {
        rc =
            tt_err_set(err, TT_EINVAL, "metadata.creationTimestamp: \"%.40s\" is not RFC 3339", ts);
        goto out;
    }
    if ((rc = get_typed(md, "annotations", "metadata.annotations", false, &v, err)) != 0 ||
        (rc = decode_kv(v, "metadata.annotations", true, &m->annotations, &m->n_annotations,
                        err)) != 0)
        goto out;
    if ((rc = get_typed(md, "labels", "metadata.labels", false, &v, err)) != 0 ||
        (rc = decode_kv(v, "metadata.labels", false, &m->labels, &m->n_labels, err)) != 0)
        goto out;
out:
    tt_free(ts);
    return rc;
}

/* ---- Ingress ---- */

/* Decodes backend.service into |b|; any problem becomes *invalid (prefixed with |where|). */
static int decode_backend(const cJSON *be, const char *where, struct tt_k8s_ingress_backend *b,
                          char **invalid, struct tt_err *err)
{
    const cJSON *svc, *port, *num, *name;
    struct tt_err lerr = {0};
    char w[64];
    long pn;
    int rc;

    if (be == NULL)
        return soften(tt_err_set(&lerr, TT_EINVAL, "%s: missing", where), &lerr, invalid, err);
    if (!cJSON_IsObject(be))
        return soften(tt_err_set(&lerr, TT_EINVAL, "%s: expected an object", where), &lerr, invalid,
                      err);
    if (field(be, "resource") != NULL)
        return soften(tt_err_set(&lerr, TT_EINVAL, "%s.resource: not supported, use %s.service",
                                 where, where),
                      &lerr, invalid, err);
    if ((svc = field(be, "service")) == NULL || !cJSON_IsObject(svc))
        return soften(tt_err_set(&lerr, TT_EINVAL, "%s.service: %s", where,
                                 svc == NULL ? "missing" : "expected an object"),
                      &lerr, invalid, err);
    snprintf(w, sizeof(w), "%s.service.name", where);
    if ((name = field(svc, "name")) == NULL)
        rc = tt_err_set(&lerr, TT_EINVAL, "%s: missing", w);
    else if ((rc = copy_str(name, w, 253, &b->service, &lerr)) == 0 &&
             !valid_name(b->service, false))
        rc = tt_err_set(&lerr, TT_EINVAL, "%s: \"%.64s\" is not a valid name", w, b->service);
    if ((rc = soften(rc, &lerr, invalid, err)) != 0)
        return rc;

    snprintf(w, sizeof(w), "%s.service.port", where);
    if ((port = field(svc, "port")) == NULL || !cJSON_IsObject(port))
        return soften(tt_err_set(&lerr, TT_EINVAL, "%s: %s", w,
                                 port == NULL ? "missing" : "expected an object"),
                      &lerr, invalid, err);
    num = field(port, "number");
    name = field(port, "name");
    if (num != NULL && name != NULL)
        return soften(tt_err_set(&lerr, TT_EINVAL, "%s: both name and number are set", w), &lerr,
                      invalid, err);
    if (num == NULL && name == NULL)
        return soften(tt_err_set(&lerr, TT_EINVAL, "%s: needs a name or a number", w), &lerr,
                      invalid, err);
    if (num != NULL) {
        snprintf(w, sizeof(w), "%s.service.port.number", where);
        if ((rc = get_int(num, w, 1, 65535, &pn, &lerr)) == 0)
            b->port_number = (uint16_t)pn;
        return soften(rc, &lerr, invalid, err);
    }
    snprintf(w, sizeof(w), "%s.service.port.name", where);
    if ((rc = copy_str(name, w, 63, &b->port_name, &lerr)) == 0 && b->port_name[0] == '\0')
        rc = tt_err_set(&lerr, TT_EINVAL, "%s: empty", w);
    return soften(rc, &lerr, invalid, err);
}

static int path_type(const char *s, enum tt_k8s_path_type *out)
{
    if (strcmp(s, "Exact") == 0)
        *out = TT_K8S_PATH_EXACT;
    else if (strcmp(s, "Prefix") == 0)
        *out = TT_K8S_PATH_PREFIX;
    else if (strcmp(s, "ImplementationSpecific") == 0)
        *out = TT_K8S_PATH_IMPL_SPECIFIC;
    else
        return TT_EINVAL;
    return 0;
}

static int decode_path(const cJSON *p, struct tt_k8s_ingress_path *ip, struct tt_err *err)
{
    struct tt_err lerr = {0};
    const cJSON *v;
    int rc;

    if (!cJSON_IsObject(p))
        return soften(tt_err_set(&lerr, TT_EINVAL, "expected an object"), &lerr, &ip->invalid, err);
    if ((v = field(p, "pathType")) == NULL)
        rc = tt_err_set(&lerr, TT_EINVAL, "pathType: missing");
    else if (!cJSON_IsString(v) || v->valuestring == NULL)
        rc = tt_err_set(&lerr, TT_EINVAL, "pathType: expected a string");
    else if ((rc = path_type(v->valuestring, &ip->type)) != 0)
        rc = tt_err_set(&lerr, TT_EINVAL,
                        "pathType: \"%.40s\" is not Exact, Prefix or ImplementationSpecific",
                        v->valuestring);
    if ((rc = soften(rc, &lerr, &ip->invalid, err)) != 0)
        return rc;

    rc = get_str(p, "path", "path", NULL, &ip->path, &lerr);
    if (rc == 0 && ip->invalid == NULL && ip->type != TT_K8S_PATH_IMPL_SPECIFIC &&
        (ip->path == NULL || ip->path[0] != '/'))
        rc = tt_err_set(&lerr, TT_EINVAL, "path: %s",
                        ip->path == NULL ? "missing" : "must start with \"/\"");
    if ((rc = soften(rc, &lerr, &ip->invalid, err)) != 0)
        return rc;
    return decode_backend(field(p, "backend"), "backend", &ip->backend, &ip->invalid, err);
}

static int decode_rules(const cJSON *rules, struct tt_k8s_ingress *ing, struct tt_err *err)
{
    size_t n = 0, total_paths = 0;
    char w[64];
    int rc;

    if ((rc = array_len(rules, "spec.rules", TT_K8S_MAX_ITEMS, &n, err)) != 0 ||
        (rc = alloc_array((void **)&ing->rules, n, sizeof(*ing->rules), "spec.rules", err)) != 0)
        return rc;
    for (const cJSON *r = rules->child; r != NULL; r = r->next) {
        struct tt_k8s_ingress_rule *ir = &ing->rules[ing->n_rules];
        const cJSON *http, *paths;
        size_t np = 0;

        snprintf(w, sizeof(w), "spec.rules[%zu]", ing->n_rules);
        ing->n_rules++;
        if (!cJSON_IsObject(r))
            return tt_err_set(err, TT_EINVAL, "%s: expected an object", w);
        snprintf(w, sizeof(w), "spec.rules[%zu].host", ing->n_rules - 1);
        if ((rc = get_str(r, "host", w, NULL, &ir->host, err)) != 0)
            return rc;
        if (ir->host != NULL && ir->host[0] == '\0') {
            tt_free(ir->host);
            ir->host = NULL; /* "" and absent both mean all hosts */
        }
        snprintf(w, sizeof(w), "spec.rules[%zu].http", ing->n_rules - 1);
        if ((rc = get_typed(r, "http", w, false, &http, err)) != 0)
            return rc;
        if (http == NULL)
            continue; /* a host-only rule: TLS or defaultBackend may still use it */
        snprintf(w, sizeof(w), "spec.rules[%zu].http.paths", ing->n_rules - 1);
        if ((rc = get_typed(http, "paths", w, true, &paths, err)) != 0)
            return rc;
        if (paths == NULL)
            continue;
        if ((rc = array_len(paths, w, TT_K8S_MAX_ITEMS, &np, err)) != 0)
            return rc;
        if ((total_paths += np) > TT_K8S_MAX_ITEMS)
            return tt_err_set(err, TT_EINVAL, "spec.rules: more than %d paths in total",
                              TT_K8S_MAX_ITEMS);
        if ((rc = alloc_array((void **)&ir->paths, np, sizeof(*ir->paths), w, err)) != 0)
            return rc;
        for (const cJSON *p = paths->child; p != NULL; p = p->next)
            if ((rc = decode_path(p, &ir->paths[ir->n_paths++], err)) != 0)
                return rc;
    }
    return 0;
}

static int decode_tls(const cJSON *tls, struct tt_k8s_ingress *ing, struct tt_err *err)
{
    size_t n = 0;
    char w[64];
    int rc;

    if ((rc = array_len(tls, "spec.tls", TT_K8S_MAX_ITEMS, &n, err)) != 0 ||
        (rc = alloc_array((void **)&ing->tls, n, sizeof(*ing->tls), "spec.tls", err)) != 0)
        return rc;
    for (const cJSON *t = tls->child; t != NULL; t = t->next) {
        struct tt_k8s_ingress_tls *it = &ing->tls[ing->n_tls++];
        const cJSON *hosts;
        size_t nh = 0;

        snprintf(w, sizeof(w), "spec.tls[%zu]", ing->n_tls - 1);
        if (!cJSON_IsObject(t))
            return tt_err_set(err, TT_EINVAL, "%s: expected an object", w);
        snprintf(w, sizeof(w), "spec.tls[%zu].secretName", ing->n_tls - 1);
        if ((rc = get_str(t, "secretName", w, NULL, &it->secret_name, err)) != 0)
            return rc;
        snprintf(w, sizeof(w), "spec.tls[%zu].hosts", ing->n_tls - 1);
        if ((rc = get_typed(t, "hosts", w, true, &hosts, err)) != 0)
            return rc;
        if (hosts == NULL)
            continue;
        if ((rc = array_len(hosts, w, TT_K8S_MAX_ITEMS, &nh, err)) != 0 ||
            (rc = alloc_array((void **)&it->hosts, nh, sizeof(*it->hosts), w, err)) != 0)
            return rc;
        for (const cJSON *h = hosts->child; h != NULL; h = h->next) {
            snprintf(w, sizeof(w), "spec.tls[%zu].hosts[%zu]", ing->n_tls - 1, it->n_hosts);
            if ((rc = copy_str(h, w, 253, &it->hosts[it->n_hosts], err)) != 0)
                return rc;
            it->n_hosts++;
        }
    }
    return 0;
}

static int decode_ingress(const cJSON *spec, struct tt_k8s_ingress *ing, struct tt_err *err)
{
    const cJSON *v;
    int rc;

    if (spec == NULL)
        return 0;
    if ((rc = get_str(spec, "ingressClassName", "spec.ingressClassName", NULL, &ing->class_name,
                      err)) != 0)
        return rc;
    if ((v = field(spec, "defaultBackend")) != NULL) {
        ing->has_default_backend = true;
        if ((rc = decode_backend(v, "spec.defaultBackend", &ing->default_backend,
                                 &ing->default_backend_invalid, err)) != 0)
            return rc;
    }
    if ((rc = get_typed(spec, "rules", "spec.rules", true, &v, err)) != 0 ||
        (v != NULL && (rc = decode_rules(v, ing, err)) != 0))
        return rc;
    if ((rc = get_typed(spec, "tls", "spec.tls", true, &v, err)) != 0 ||
        (v != NULL && (rc = decode_tls(v, ing, err)) != 0))
        return rc;
    return 0;
}

/* ---- IngressClass, Service, EndpointSlice, Secret ---- */

static int decode_ingress_class(const cJSON *spec, struct tt_k8s_object *o, struct tt_err *err)
{
    const char *def =
        tt_k8s_meta_annotation(&o->meta, "ingressclass.kubernetes.io/is-default-class");
    o->u.ingress_class.is_default = def != NULL && strcmp(def, "true") == 0;
    if (spec == NULL)
        return 0;
    return get_str(spec, "controller", "spec.controller", NULL, &o->u.ingress_class.controller,
                   err);
}

static int decode_service(const cJSON *spec, struct tt_k8s_service *svc, struct tt_err *err)
{
    const cJSON *ports = NULL;
    size_t n = 0;
    char w[64];
    long v;
    int rc;

    if ((rc = get_str(spec, "type", "spec.type", "ClusterIP", &svc->type, err)) != 0 ||
        (rc = get_str(spec, "externalName", "spec.externalName", NULL, &svc->external_name, err)) !=
            0)
        return rc;
    if (spec == NULL)
        return 0;
    if ((rc = get_typed(spec, "ports", "spec.ports", true, &ports, err)) != 0 || ports == NULL)
        return rc;
    if ((rc = array_len(ports, "spec.ports", TT_K8S_MAX_ITEMS, &n, err)) != 0 ||
        (rc = alloc_array((void **)&svc->ports, n, sizeof(*svc->ports), "spec.ports", err)) != 0)
        return rc;
    for (const cJSON *p = ports->child; p != NULL; p = p->next) {
        struct tt_k8s_service_port *sp = &svc->ports[svc->n_ports];
        const cJSON *tp;
        size_t i = svc->n_ports++;

        snprintf(w, sizeof(w), "spec.ports[%zu]", i);
        if (!cJSON_IsObject(p))
            return tt_err_set(err, TT_EINVAL, "%s: expected an object", w);
        snprintf(w, sizeof(w), "spec.ports[%zu].name", i);
        if ((rc = get_str(p, "name", w, "", &sp->name, err)) != 0)
            return rc;
        snprintf(w, sizeof(w), "spec.ports[%zu].protocol", i);
        if ((rc = get_str(p, "protocol", w, "TCP", &sp->protocol, err)) != 0)
            return rc;
        snprintf(w, sizeof(w), "spec.ports[%zu].port", i);
        if (field(p, "port") == NULL)
            return tt_err_set(err, TT_EINVAL, "%s: missing", w);
        if ((rc = get_int(field(p, "port"), w, 1, 65535, &v, err)) != 0)
            return rc;
        sp->port = (uint16_t)v;
        snprintf(w, sizeof(w), "spec.ports[%zu].targetPort", i);
        if ((tp = field(p, "targetPort")) == NULL)
            continue;
        if (cJSON_IsString(tp)) {
            if ((rc = copy_str(tp, w, 63, &sp->target_port_name, err)) != 0)
                return rc;
        } else {
            if ((rc = get_int(tp, w, 0, 65535, &v, err)) != 0)
                return rc;
            sp->target_port = (uint16_t)v;
        }
    }
    return 0;
}

static int decode_slice_endpoint(const cJSON *e, size_t i, struct tt_k8s_slice_endpoint *ep,
                                 struct tt_err *err)
{
    const cJSON *addrs, *cond;
    int ready, serving, terminating;
    size_t n = 0;
    char w[64];
    int rc;

    snprintf(w, sizeof(w), "endpoints[%zu]", i);
    if (!cJSON_IsObject(e))
        return tt_err_set(err, TT_EINVAL, "%s: expected an object", w);
    snprintf(w, sizeof(w), "endpoints[%zu].addresses", i);
    if ((rc = get_typed(e, "addresses", w, true, &addrs, err)) != 0)
        return rc;
    if (addrs != NULL) {
        /* The API allows 1..100 addresses; we only ever use the first. */
        if ((rc = array_len(addrs, w, 100, &n, err)) != 0 ||
            (rc = alloc_array((void **)&ep->addresses, n, sizeof(*ep->addresses), w, err)) != 0)
            return rc;
        for (const cJSON *a = addrs->child; a != NULL; a = a->next) {
            snprintf(w, sizeof(w), "endpoints[%zu].addresses[%zu]", i, ep->n_addresses);
            if ((rc = copy_str(a, w, 253, &ep->addresses[ep->n_addresses], err)) != 0)
                return rc;
            ep->n_addresses++;
        }
    }
    snprintf(w, sizeof(w), "endpoints[%zu].conditions", i);
    if ((rc = get_typed(e, "conditions", w, false, &cond, err)) != 0)
        return rc;
    ready = serving = terminating = -1;
    if (cond != NULL) {
        snprintf(w, sizeof(w), "endpoints[%zu].conditions.ready", i);
        if ((rc = get_bool(cond, "ready", w, &ready, err)) != 0)
            return rc;
        snprintf(w, sizeof(w), "endpoints[%zu].conditions.serving", i);
        if ((rc = get_bool(cond, "serving", w, &serving, err)) != 0)
            return rc;
        snprintf(w, sizeof(w), "endpoints[%zu].conditions.terminating", i);
        if ((rc = get_bool(cond, "terminating", w, &terminating, err)) != 0)
            return rc;
    }
    /* Nil defaults from the EndpointConditions API doc (spec §2.4). */
    ep->ready = ready != 0;
    ep->serving = serving != 0;
    ep->terminating = terminating == 1;
    return 0;
}

static int decode_slice(const cJSON *obj, struct tt_k8s_object *o, struct tt_err *err)
{
    struct tt_k8s_endpoint_slice *sl = &o->u.slice;
    const cJSON *v;
    const char *svc;
    size_t n = 0;
    char w[64];
    long pn;
    int rc;

    if ((svc = tt_k8s_meta_label(&o->meta, "kubernetes.io/service-name")) != NULL &&
        (sl->service_name = tt_strdup(svc)) == NULL)
        return tt_err_set(err, TT_ENOMEM, "out of memory");
    if ((v = field(obj, "addressType")) == NULL)
        return tt_err_set(err, TT_EINVAL, "addressType: missing");
    if (!cJSON_IsString(v) || v->valuestring == NULL)
        return tt_err_set(err, TT_EINVAL, "addressType: expected a string");
    if (strcmp(v->valuestring, "IPv4") == 0)
        sl->address_type = TT_K8S_ADDR_IPV4;
    else if (strcmp(v->valuestring, "IPv6") == 0)
        sl->address_type = TT_K8S_ADDR_IPV6;
    else if (strcmp(v->valuestring, "FQDN") == 0)
        sl->address_type = TT_K8S_ADDR_FQDN;
    else
        sl->address_type = TT_K8S_ADDR_OTHER;

    if ((rc = get_typed(obj, "ports", "ports", true, &v, err)) != 0)
        return rc;
    if (v != NULL) {
        if ((rc = array_len(v, "ports", TT_K8S_MAX_ITEMS, &n, err)) != 0 ||
            (rc = alloc_array((void **)&sl->ports, n, sizeof(*sl->ports), "ports", err)) != 0)
            return rc;
        for (const cJSON *p = v->child; p != NULL; p = p->next) {
            struct tt_k8s_slice_port *sp = &sl->ports[sl->n_ports];
            size_t i = sl->n_ports++;
            const cJSON *pv;

            snprintf(w, sizeof(w), "ports[%zu]", i);
            if (!cJSON_IsObject(p))
                return tt_err_set(err, TT_EINVAL, "%s: expected an object", w);
            snprintf(w, sizeof(w), "ports[%zu].name", i);
            if ((rc = get_str(p, "name", w, "", &sp->name, err)) != 0)
                return rc;
            snprintf(w, sizeof(w), "ports[%zu].protocol", i);
            if ((rc = get_str(p, "protocol", w, "TCP", &sp->protocol, err)) != 0)
                return rc;
            snprintf(w, sizeof(w), "ports[%zu].port", i);
            if ((pv = field(p, "port")) != NULL) {
                if ((rc = get_int(pv, w, 1, 65535, &pn, err)) != 0)
                    return rc;
                sp->port = (uint16_t)pn;
            }
        }
    }

    if ((rc = get_typed(obj, "endpoints", "endpoints", true, &v, err)) != 0 || v == NULL)
        return rc;
    if ((rc = array_len(v, "endpoints", TT_K8S_MAX_ITEMS, &n, err)) != 0 ||
        (rc = alloc_array((void **)&sl->endpoints, n, sizeof(*sl->endpoints), "endpoints", err)) !=
            0)
        return rc;
    for (const cJSON *e = v->child; e != NULL; e = e->next) {
        size_t i = sl->n_endpoints++;
        if ((rc = decode_slice_endpoint(e, i, &sl->endpoints[i], err)) != 0)
            return rc;
    }
    return 0;
}

static int decode_secret_value(const cJSON *data, const char *key, unsigned char **out,
                               size_t *out_len, struct tt_err *err)
{
    const cJSON *v = field(data, key);
    size_t len;
    int rc;

    if (v == NULL)
        return 0;
    if (!cJSON_IsString(v) || v->valuestring == NULL)
        return tt_err_set(err, TT_EINVAL, "data[\"%s\"]: expected a string", key);
    if ((len = strnlen(v->valuestring, TT_K8S_MAX_SECRET + 1)) > TT_K8S_MAX_SECRET)
        return tt_err_set(err, TT_EINVAL, "data[\"%s\"]: larger than %d bytes", key,
                          TT_K8S_MAX_SECRET);
    /* Never quote the value: it may be a private key. */
    if ((rc = tt_k8s_base64_decode(v->valuestring, len, out, out_len)) != 0)
        return tt_err_set(err, rc, "data[\"%s\"]: %s", key,
                          rc == TT_ENOMEM ? "out of memory" : "invalid base64");
    return 0;
}

static int decode_secret(const cJSON *obj, struct tt_k8s_secret *sec, struct tt_err *err)
{
    const cJSON *data;
    int rc;

    if ((rc = get_str(obj, "type", "type", "Opaque", &sec->type, err)) != 0 ||
        (rc = get_typed(obj, "data", "data", false, &data, err)) != 0 || data == NULL)
        return rc;
    if ((rc = decode_secret_value(data, "tls.crt", &sec->tls_crt, &sec->tls_crt_len, err)) != 0)
        return rc;
    return decode_secret_value(data, "tls.key", &sec->tls_key, &sec->tls_key_len, err);
}

/* ---- entry points ---- */

/* apiVersions whose shape we decode; anything else (e.g. extensions/v1beta1 Ingress with
 * serviceName/servicePort) would silently decode to nothing, so it is rejected instead. */
static bool api_version_ok(enum tt_k8s_kind kind, const char *v)
{
    switch (kind) {
    case TT_K8S_INGRESS:
        return strcmp(v, "networking.k8s.io/v1") == 0;
    case TT_K8S_INGRESS_CLASS:
        return strcmp(v, "networking.k8s.io/v1") == 0 ||
               strcmp(v, "networking.k8s.io/v1beta1") == 0;
    case TT_K8S_SERVICE:
    case TT_K8S_SECRET:
        return strcmp(v, "v1") == 0;
    case TT_K8S_ENDPOINT_SLICE:
        return strcmp(v, "discovery.k8s.io/v1") == 0;
    default:
        return false;
    }
}

static int check_kind(enum tt_k8s_kind *kind, const cJSON *obj, struct tt_err *err)
{
    const cJSON *k = field(obj, "kind"), *av = field(obj, "apiVersion");
    enum tt_k8s_kind named = TT_K8S_KIND_NONE;

    if (k != NULL && (!cJSON_IsString(k) || k->valuestring == NULL))
        return tt_err_set(err, TT_EINVAL, "kind: expected a string");
    if (k != NULL && k->valuestring[0] == '\0')
        return tt_err_set(err, TT_EINVAL, "kind: empty");
    if (k != NULL)
        named = tt_k8s_kind_from_name(k->valuestring);
    if (*kind == TT_K8S_KIND_NONE) {
        if (k == NULL)
            return tt_err_set(err, TT_EINVAL, "kind: missing");
        if (named == TT_K8S_KIND_NONE)
            return tt_err_set(err, TT_ESKIP, "kind: \"%.64s\" is not watched", k->valuestring);
        *kind = named;
    } else if ((unsigned)*kind >= TT_K8S_KIND_COUNT) {
        return tt_err_set(err, TT_EINVAL, "kind: invalid kind %d requested", (int)*kind);
    } else if (k != NULL && named != *kind) {
        return tt_err_set(err, TT_EINVAL, "kind: expected %s, got \"%.64s\"",
                          tt_k8s_kind_name(*kind), k->valuestring);
    }
    if (av == NULL)
        return 0;
    if (!cJSON_IsString(av) || av->valuestring == NULL)
        return tt_err_set(err, TT_EINVAL, "apiVersion: expected a string");
    if (!api_version_ok(*kind, av->valuestring))
        return tt_err_set(err, TT_EINVAL, "apiVersion: \"%.64s\" is not supported for %s",
                          av->valuestring, tt_k8s_kind_name(*kind));
    return 0;
}

static int make_key(struct tt_k8s_object *o, struct tt_err *err)
{
    size_t nl = strlen(o->meta.name), sl = o->meta.ns != NULL ? strlen(o->meta.ns) : 0;
    if ((o->key = tt_malloc(sl + 1 + nl + 1)) == NULL)
        return tt_err_set(err, TT_ENOMEM, "out of memory");
    if (o->meta.ns != NULL) {
        memcpy(o->key, o->meta.ns, sl);
        o->key[sl++] = '/';
    }
    memcpy(o->key + sl, o->meta.name, nl + 1);
    return 0;
}

int tt_k8s_decode(enum tt_k8s_kind kind, const cJSON *obj, struct tt_k8s_object **out,
                  struct tt_err *err)
{
    struct tt_k8s_object *o = NULL;
    const cJSON *spec = NULL;
    int rc;

    *out = NULL;
    if (!cJSON_IsObject(obj))
        return tt_err_set(err, TT_EINVAL, "object: expected a JSON object");
    if ((rc = check_kind(&kind, obj, err)) != 0)
        return rc;
    if ((o = tt_calloc(1, sizeof(*o))) == NULL)
        return tt_err_set(err, TT_ENOMEM, "out of memory");
    o->kind = kind;
    if ((rc = decode_meta(kind, obj, &o->meta, err)) != 0 || (rc = make_key(o, err)) != 0)
        goto fail;
    if (kind != TT_K8S_ENDPOINT_SLICE && kind != TT_K8S_SECRET &&
        (rc = get_typed(obj, "spec", "spec", false, &spec, err)) != 0)
        goto fail;
    switch (kind) {
    case TT_K8S_INGRESS:
        rc = decode_ingress(spec, &o->u.ingress, err);
        break;
    case TT_K8S_INGRESS_CLASS:
        rc = decode_ingress_class(spec, o, err);
        break;
    case TT_K8S_SERVICE:
        rc = decode_service(spec, &o->u.service, err);
        break;
    case TT_K8S_ENDPOINT_SLICE:
        rc = decode_slice(obj, o, err);
        break;
    case TT_K8S_SECRET:
        rc = decode_secret(obj, &o->u.secret, err);
        break;
    default:
        rc = tt_err_set(err, TT_EINVAL, "kind: invalid");
        break;
    }
    if (rc != 0)
        goto fail;
    *out = o;
    return 0;
fail:
    tt_k8s_object_free(o);
    return rc;
}

/* ---- free ---- */

static void free_kv(struct tt_k8s_kv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        tt_free(kv[i].key);
        tt_free(kv[i].value);
    }
    tt_free(kv);
}

static void free_backend(struct tt_k8s_ingress_backend *b)
{
    tt_free(b->service);
    tt_free(b->port_name);
}

static void free_ingress(struct tt_k8s_ingress *ing)
{
    tt_free(ing->class_name);
    free_backend(&ing->default_backend);
    tt_free(ing->default_backend_invalid);
    for (size_t i = 0; i < ing->n_rules; i++) {
        struct tt_k8s_ingress_rule *r = &ing->rules[i];
        tt_free(r->host);
        for (size_t j = 0; j < r->n_paths; j++) {
            tt_free(r->paths[j].path);
            free_backend(&r->paths[j].backend);
            tt_free(r->paths[j].invalid);
        }
        tt_free(r->paths);
    }
    tt_free(ing->rules);
    for (size_t i = 0; i < ing->n_tls; i++) {
        for (size_t j = 0; j < ing->tls[i].n_hosts; j++)
            tt_free(ing->tls[i].hosts[j]);
        tt_free(ing->tls[i].hosts);
        tt_free(ing->tls[i].secret_name);
    }
    tt_free(ing->tls);
}

static void free_service(struct tt_k8s_service *svc)
{
    tt_free(svc->type);
    tt_free(svc->external_name);
    for (size_t i = 0; i < svc->n_ports; i++) {
        tt_free(svc->ports[i].name);
        tt_free(svc->ports[i].target_port_name);
        tt_free(svc->ports[i].protocol);
    }
    tt_free(svc->ports);
}

static void free_slice(struct tt_k8s_endpoint_slice *sl)
{
    tt_free(sl->service_name);
    for (size_t i = 0; i < sl->n_ports; i++) {
        tt_free(sl->ports[i].name);
        tt_free(sl->ports[i].protocol);
    }
    tt_free(sl->ports);
    for (size_t i = 0; i < sl->n_endpoints; i++) {
        for (size_t j = 0; j < sl->endpoints[i].n_addresses; j++)
            tt_free(sl->endpoints[i].addresses[j]);
        tt_free(sl->endpoints[i].addresses);
    }
    tt_free(sl->endpoints);
}

static void free_secret(struct tt_k8s_secret *sec)
{
    tt_free(sec->type);
    if (sec->tls_key != NULL)
        memset(sec->tls_key, 0, sec->tls_key_len); /* private key material */
    tt_free(sec->tls_key);
    tt_free(sec->tls_crt);
}

void tt_k8s_object_free(struct tt_k8s_object *o)
{
    if (o == NULL)
        return;
    switch (o->kind) {
    case TT_K8S_INGRESS:
        free_ingress(&o->u.ingress);
        break;
    case TT_K8S_INGRESS_CLASS:
        tt_free(o->u.ingress_class.controller);
        break;
    case TT_K8S_SERVICE:
        free_service(&o->u.service);
        break;
    case TT_K8S_ENDPOINT_SLICE:
        free_slice(&o->u.slice);
        break;
    case TT_K8S_SECRET:
        free_secret(&o->u.secret);
        break;
    default:
        break;
    }
    tt_free(o->meta.ns);
    tt_free(o->meta.name);
    tt_free(o->meta.uid);
    tt_free(o->meta.resource_version);
    free_kv(o->meta.annotations, o->meta.n_annotations);
    free_kv(o->meta.labels, o->meta.n_labels);
    tt_free(o->key);
    tt_free(o);
}
