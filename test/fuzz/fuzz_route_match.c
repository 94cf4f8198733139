/* test/fuzz/fuzz_route_match.c - libFuzzer target for the route table: builds a table from
 * the input, matches requests against it and checks every answer against a slow, obviously
 * correct reference matcher written from the Ingress spec. Any crash, leak or disagreement
 * aborts.
 *
 * Input: lines separated by '\n'. Line 0 is the request Host, line 1 the request path. Every
 * further line is one builder call, chosen by its first byte:
 *   b<port>name<TAB>ip,ip,...      add_backend("fz", name, "<port byte as number>", ips)
 *   E|P|I|X<backend>host<TAB>path  add_rule with type Exact, Prefix, ImplSpecific or a bad
 *                                  type; no TAB means no host; <backend> is '0' + index
 *   d<backend>host                 set_default (empty host: the table default)
 *   c<backend><E|P|I>host<TAB>path find_rule, then add_canary (header "h<line>", a weight and
 *                                  total from the line number) on the rule the reference says
 *                                  is the same; the table must keep them in order, clamped
 * Anything else is ignored. Rules on odd lines are sticky: cookie "c<line>", cookie Path the
 * rule's path (a ';' in it makes the builder refuse the rule), and a state object attached to
 * the builder, which the table must release. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "route/route.h"

#define MAX_LINES 48
#define MAX_LEN   300

struct ref_rule {
    char host[MAX_LEN + 1]; /* lower-case, "" for any host */
    char path[MAX_LEN + 1];
    enum tt_path_type type;
    int backend;
    uint64_t max_body;
    bool sticky;
    int canaries[MAX_LINES]; /* line number of each canary added, in order */
    int canary_backend[MAX_LINES];
    int n_canaries;
};

struct ref_default {
    char host[MAX_LEN + 1];
    int backend;
    uint64_t max_body;
};

struct ref {
    struct ref_rule rules[MAX_LINES];
    int n_rules;
    struct ref_default defs[MAX_LINES];
    int n_defs;
    int n_backends;
};

static void lower(char *s)
{
    for (; *s != '\0'; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s | 0x20);
}

/* Elements of a path, empty ones dropped; returns their count. */
static int split(const char *p, size_t n, const char **el, size_t *len, int max)
{
    int k = 0;
    size_t i = 0;

    while (i < n) {
        size_t s;
        if (p[i] == '/') {
            i++;
            continue;
        }
        for (s = i; i < n && p[i] != '/'; i++)
            ;
        if (k == max)
            return -1;
        el[k] = p + s;
        len[k++] = i - s;
    }
    return k;
}

/* Length of the normalized Prefix form, or -1 when |rule| does not Prefix-match |req|. */
static long prefix_len(const char *rule, const char *req, size_t req_len)
{
    const char *re[MAX_LEN], *qe[MAX_LEN * 2];
    size_t rl[MAX_LEN], ql[MAX_LEN * 2];
    int nr = split(rule, strlen(rule), re, rl, MAX_LEN);
    int nq = split(req, req_len, qe, ql, MAX_LEN * 2);
    long total = 0;

    if (nr < 0 || nq < 0 || nr > nq)
        return -1; /* the arrays hold every element of inputs this short */
    for (int i = 0; i < nr; i++) {
        if (rl[i] != ql[i] || memcmp(re[i], qe[i], rl[i]) != 0)
            return -1;
        total += (long)rl[i] + 1;
    }
    return total;
}

static bool same(const char *stored, const char *s, size_t n)
{
    return strlen(stored) == n && memcmp(stored, s, n) == 0;
}

/* Whether a rule or default names host |s| (|n| bytes, may hold NUL); returns its name. */
static const char *find_entry(const struct ref *r, const char *s, size_t n)
{
    for (int i = 0; i < r->n_rules; i++)
        if (same(r->rules[i].host, s, n))
            return r->rules[i].host;
    for (int i = 0; i < r->n_defs; i++)
        if (same(r->defs[i].host, s, n))
            return r->defs[i].host;
    return NULL;
}

/* Host selection as route.h states it, written the slow way. */
static void ref_select(const struct ref *r, const char *h, size_t n, char *out)
{
    char name[MAX_LEN + 3];
    const char *colon = n > 0 ? memchr(h, ':', n) : NULL;
    const char *dot;
    const char *e;

    out[0] = '\0';
    if (n == 0 || h[0] == '[')
        return;
    if (colon != NULL) {
        for (const char *q = colon + 1; q < h + n; q++)
            if (*q < '0' || *q > '9')
                return;
        n = (size_t)(colon - h);
    }
    if (n > 0 && h[n - 1] == '.')
        n--;
    if (n == 0 || n > 253)
        return;
    for (size_t i = 0; i < n; i++)
        name[i] = (h[i] >= 'A' && h[i] <= 'Z') ? (char)(h[i] | 0x20) : h[i];
    if (name[0] != '*' && (e = find_entry(r, name, n)) != NULL) {
        snprintf(out, MAX_LEN + 3, "%s", e);
        return;
    }
    /* "*.parent" for a first label that is not empty and a parent that is not empty. */
    dot = memchr(name, '.', n);
    if (dot != NULL && dot != name && dot + 1 < name + n) {
        char wild[MAX_LEN + 3] = "*.";
        size_t pl = (size_t)(name + n - dot - 1);
        memcpy(wild + 2, dot + 1, pl);
        if ((e = find_entry(r, wild, pl + 2)) != NULL)
            snprintf(out, MAX_LEN + 3, "%s", e);
    }
}

static void *state_obj; /* attached to the builder of the current input */

/* The weight and total a canary on line |lineno| asks for, and what the table must hold. */
static void canary_asked(int lineno, uint32_t *w, uint32_t *total)
{
    *w = (uint32_t)(lineno * 37) % 400;
    *total = (uint32_t)(lineno * 53) % 300;
}

static void canary_weights(int lineno, uint32_t *w, uint32_t *total)
{
    canary_asked(lineno, w, total);
    if (*total < 100)
        *total = 100;
    if (*w > *total)
        *w = *total;
}

/* A rule's affinity as the table holds it: copied strings, NUL-terminated, zero when off. */
static bool sticky_ok(const struct tt_route_affinity *a, const struct ref_rule *q)
{
    char name[32];

    if (!q->sticky)
        return !a->enabled && a->cookie_name.len == 0 && a->state == NULL;
    snprintf(name, sizeof(name), "c%llu", (unsigned long long)q->max_body);
    return a->enabled && a->state == state_obj &&
           strlen(a->cookie_name.ptr) == a->cookie_name.len &&
           strcmp(a->cookie_name.ptr, name) == 0 && strcmp(a->path.ptr, q->path) == 0 &&
           a->path.len == strlen(q->path) && a->domain.len == 0 && a->domain.ptr[0] == '\0';
}

static void check(const struct tt_route_table *t, const struct ref *r, const char *host,
                  size_t host_len, const char *path, size_t path_len)
{
    struct tt_route_match m =
        tt_route_match(t, tt_slice_make(host, host_len), tt_slice_make(path, path_len));
    char sel[MAX_LEN + 3];
    const struct ref_rule *best = NULL;
    long best_len = -1;
    int want_backend = -1;
    uint64_t want_body = 0;

    ref_select(r, host, host_len, sel);
    for (int i = 0; i < r->n_rules; i++) {
        const struct ref_rule *q = &r->rules[i];
        long len;
        if (strcmp(q->host, sel) != 0)
            continue;
        if (q->type == TT_PATH_EXACT)
            len = strlen(q->path) == path_len && memcmp(q->path, path, path_len) == 0
                      ? (long)path_len
                      : -1;
        else
            len = prefix_len(q->path, path, path_len);
        if (len < 0)
            continue;
        if (len > best_len ||
            (len == best_len && q->type == TT_PATH_EXACT && best->type != TT_PATH_EXACT)) {
            best = q;
            best_len = len;
        }
    }
    if (best != NULL) {
        if (m.rule == NULL || strcmp(m.rule->path, best->path) != 0 || m.rule->type != best->type ||
            strcmp(m.rule->host, best->host) != 0 || m.rule->backend != m.backend ||
            m.backend->index != (uint32_t)best->backend || m.policy != &m.rule->policy ||
            m.policy->max_body != best->max_body || !sticky_ok(&m.policy->affinity, best)) {
            fprintf(stderr, "route mismatch: host \"%.*s\" path \"%.*s\": want %s%s type %d\n",
                    (int)host_len, host, (int)path_len, path, best->host, best->path, best->type);
            abort();
        }
        if (m.rule->n_canaries != (uint32_t)best->n_canaries ||
            (best->n_canaries == 0) != (m.rule->canaries == NULL))
            abort();
        for (int k = 0; k < best->n_canaries; k++) {
            const struct tt_route_canary *c = &m.rule->canaries[k];
            char hdr[16];
            uint32_t w, total;
            canary_weights(best->canaries[k], &w, &total);
            snprintf(hdr, sizeof(hdr), "h%d", best->canaries[k]);
            if (c->backend->index != (uint32_t)best->canary_backend[k] || c->weight != w ||
                c->weight_total != total || strcmp(c->header.ptr, hdr) != 0 ||
                c->header.len != strlen(hdr) || strcmp(c->ingress, "fz/canary") != 0 ||
                c->cookie.len != 0 || c->cookie.ptr[0] != '\0' || c->affinity.enabled)
                abort();
        }
        return;
    }
    for (int pass = 0; pass < 2 && want_backend < 0; pass++) {
        const char *h = pass == 0 ? sel : "";
        for (int i = 0; i < r->n_defs; i++)
            if (strcmp(r->defs[i].host, h) == 0) {
                want_backend = r->defs[i].backend;
                want_body = r->defs[i].max_body;
            }
    }
    if (m.rule != NULL || (want_backend < 0) != (m.backend == NULL) ||
        (m.backend != NULL && (m.backend->index != (uint32_t)want_backend || m.policy == NULL ||
                               m.policy->max_body != want_body))) {
        fprintf(stderr, "default mismatch: host \"%.*s\" path \"%.*s\"\n", (int)host_len, host,
                (int)path_len, path);
        abort();
    }
}

/* The reference's idea of "same rule": same host and type, same path (Exact) or same
 * elements (Prefix kinds). */
static bool ref_has_rule(const struct ref *r, const char *host, const char *path,
                         enum tt_path_type type)
{
    for (int i = 0; i < r->n_rules; i++) {
        const struct ref_rule *q = &r->rules[i];
        if (strcmp(q->host, host) != 0 || q->type != type)
            continue;
        if (type == TT_PATH_EXACT ? strcmp(q->path, path) == 0
                                  : prefix_len(q->path, path, strlen(path)) >= 0 &&
                                        prefix_len(path, q->path, strlen(q->path)) >= 0)
            return true;
    }
    return false;
}

/* The reference rule that is the same as (host, path, type), as ref_has_rule decides. */
static struct ref_rule *ref_find_rule(struct ref *r, const char *host, const char *path,
                                      enum tt_path_type type)
{
    for (int i = 0; i < r->n_rules; i++) {
        struct ref_rule *q = &r->rules[i];
        if (strcmp(q->host, host) != 0 || q->type != type)
            continue;
        if (type == TT_PATH_EXACT ? strcmp(q->path, path) == 0
                                  : prefix_len(q->path, path, strlen(path)) >= 0 &&
                                        prefix_len(path, q->path, strlen(q->path)) >= 0)
            return q;
    }
    return NULL;
}

/* c<backend><type>host<TAB>path: a canary on the rule the reference finds. */
static void do_canary(struct tt_route_builder *b, struct ref *r, const char *line, size_t n,
                      int lineno)
{
    char buf[MAX_LEN + 1], key[MAX_LEN + 1], hdr[16];
    const char *host = NULL, *path;
    char *tab;
    enum tt_path_type type;
    const struct tt_route_policy *pol = NULL;
    struct tt_route_canary c = {0};
    struct ref_rule *q;
    struct tt_err err = {0};
    int backend = (int)(unsigned char)line[1] - '0', found = -1, rc;

    if (n < 3)
        return;
    type = line[2] == 'E' ? TT_PATH_EXACT : line[2] == 'P' ? TT_PATH_PREFIX : TT_PATH_IMPL_SPECIFIC;
    memcpy(buf, line + 3, n - 3);
    buf[n - 3] = '\0';
    if ((tab = strchr(buf, '\t')) != NULL) {
        *tab = '\0';
        host = buf;
        path = tab + 1;
    } else {
        path = buf;
    }
    snprintf(key, sizeof(key), "%s", host != NULL ? host : "");
    lower(key);
    q = ref_find_rule(r, key, path, type);
    rc = tt_route_builder_find_rule(b, host, path, type, &pol, &found);
    if ((rc == 0) != (q != NULL) || (rc != 0 && rc != TT_ENOENT) ||
        (q != NULL && (found != q->backend || pol == NULL || pol->max_body != q->max_body)))
        abort(); /* find_rule and the reference disagree */
    snprintf(hdr, sizeof(hdr), "h%d", lineno);
    c.header = tt_slice_cstr(hdr);
    canary_asked(lineno, &c.weight, &c.weight_total);
    rc = tt_route_builder_add_canary(b, host, path, type, backend, "fz/canary", &c, &err);
    if (rc != 0 && (err.code != rc || err.msg[0] == '\0'))
        abort();
    if (q == NULL) {
        if (rc != TT_ENOENT)
            abort(); /* a canary never makes a rule */
        return;
    }
    if (backend < 0 || backend >= r->n_backends || backend == q->backend) {
        if (rc != TT_EINVAL)
            abort();
        return;
    }
    if (rc != 0)
        abort();
    q->canaries[q->n_canaries] = lineno;
    q->canary_backend[q->n_canaries++] = backend;
}

static void check_backends(const struct tt_route_table *t)
{
    for (size_t i = 0; i < tt_route_table_backend_count(t); i++) {
        const struct tt_route_backend *be = tt_route_table_backend(t, i);
        size_t nl = strlen(be->name);
        if (be->index != i)
            abort();
        for (uint32_t j = 0; j < be->n_endpoints; j++) {
            const struct tt_route_endpoint *ep = &be->endpoints[j];
            if (strncmp(ep->id, be->name, nl) != 0 || ep->id[nl] != '@' ||
                strcmp(ep->id + nl + 1, ep->text) != 0)
                abort();
            for (uint32_t k = 0; k < j; k++)
                if (be->endpoints[k].addr_len == ep->addr_len &&
                    memcmp(&be->endpoints[k].addr, &ep->addr, ep->addr_len) == 0)
                    abort();
        }
    }
}

static void do_line(struct tt_route_builder *b, struct ref *r, const char *line, size_t n,
                    int lineno)
{
    char buf[MAX_LEN + 1];
    char *tab;
    const char *host = NULL;
    char *rest;
    struct tt_route_policy pol = {.max_body = (uint64_t)lineno};
    char cookie[32];
    struct tt_err err;
    int backend;
    int rc;

    if (n < 2 || n > MAX_LEN)
        return;
    if (line[0] == 'c') {
        do_canary(b, r, line, n, lineno);
        return;
    }
    memcpy(buf, line + 2, n - 2);
    buf[n - 2] = '\0';
    backend = (int)(unsigned char)line[1] - '0';
    tab = strchr(buf, '\t');
    if (tab != NULL) {
        *tab = '\0';
        host = buf;
        rest = tab + 1;
    } else {
        rest = buf;
    }

    if (line[0] == 'b') {
        struct tt_route_endpoint_spec eps[16];
        char port[8];
        char *save = NULL;
        size_t k = 0;
        snprintf(port, sizeof(port), "%u", (unsigned char)line[1]);
        for (char *ip = strtok_r(rest, ",", &save); ip != NULL && k < 16;
             ip = strtok_r(NULL, ",", &save))
            eps[k++] = (struct tt_route_endpoint_spec){ip, (uint16_t)(unsigned char)line[1]};
        rc = tt_route_builder_add_backend(b, "fz", host != NULL ? host : "svc", port, eps, k);
        if (rc < 0 && rc != TT_ENOMEM)
            abort();
        if (rc >= r->n_backends)
            r->n_backends = rc + 1;
        return;
    }
    if (line[0] == 'd') {
        char key[MAX_LEN + 1];
        snprintf(key, sizeof(key), "%s", buf);
        lower(key);
        rc = tt_route_builder_set_default(b, buf, backend, &pol, &err);
        if (rc == 0) {
            struct ref_default *d = &r->defs[r->n_defs++];
            for (int i = 0; i < r->n_defs - 1; i++)
                if (strcmp(r->defs[i].host, key) == 0)
                    abort(); /* the first default for a host must win */
            snprintf(d->host, sizeof(d->host), "%s", key);
            d->backend = backend;
            d->max_body = pol.max_body;
        }
        return;
    }
    if (line[0] == 'E' || line[0] == 'P' || line[0] == 'I' || line[0] == 'X') {
        enum tt_path_type type = line[0] == 'E'   ? TT_PATH_EXACT
                                 : line[0] == 'P' ? TT_PATH_PREFIX
                                 : line[0] == 'I' ? TT_PATH_IMPL_SPECIFIC
                                                  : (enum tt_path_type)9;
        char key[MAX_LEN + 1];
        snprintf(key, sizeof(key), "%s", host != NULL ? host : "");
        lower(key);
        if ((lineno & 1) != 0 && state_obj != NULL) {
            snprintf(cookie, sizeof(cookie), "c%d", lineno);
            pol.affinity.enabled = true;
            pol.affinity.cookie_name = tt_slice_cstr(cookie);
            pol.affinity.path = tt_slice_cstr(rest);
            pol.affinity.state = state_obj;
        }
        memset(&err, 0, sizeof(err));
        rc = tt_route_builder_add_rule(b, host, rest, type, backend, "fz/ing", &pol, &err);
        if (rc != 0 && (err.code != rc || err.msg[0] == '\0'))
            abort(); /* every failure carries its reason */
        if (rc == TT_EEXIST && !ref_has_rule(r, key, rest, type))
            abort();
        if (rc == 0) {
            struct ref_rule *q = &r->rules[r->n_rules];
            if (ref_has_rule(r, key, rest, type))
                abort(); /* accepted a duplicate */
            r->n_rules++;
            snprintf(q->host, sizeof(q->host), "%s", key);
            snprintf(q->path, sizeof(q->path), "%s", rest);
            q->type = type;
            q->backend = backend;
            q->max_body = pol.max_body;
            q->sticky = pol.affinity.enabled;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct ref r;
    const char *p = (const char *)data;
    const char *end = p + size;
    const char *lines[MAX_LINES];
    size_t lens[MAX_LINES];
    int n = 0;
    long start = tt_alloc_outstanding();
    struct tt_route_builder *b;
    struct tt_route_table *t;

    if (size == 0)
        return 0;
    while (p <= end && n < MAX_LINES) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl != NULL ? nl : end;
        lines[n] = p;
        lens[n++] = (size_t)(e - p);
        if (nl == NULL)
            break;
        p = nl + 1;
    }
    if (n < 2 || lens[0] > MAX_LEN || lens[1] > MAX_LEN)
        return 0;

    memset(&r, 0, sizeof(r));
    if ((b = tt_route_builder_new()) == NULL)
        return 0;
    if ((state_obj = tt_malloc(1)) != NULL && tt_route_builder_attach(b, state_obj, tt_free) != 0)
        state_obj = NULL;
    for (int i = 2; i < n; i++)
        do_line(b, &r, lines[i], lens[i], i);
    if ((t = tt_route_builder_finish(b, (uint64_t)size)) == NULL)
        return 0;
    if (tt_route_table_rule_count(t) != (size_t)r.n_rules ||
        tt_route_table_generation(t) != (uint64_t)size)
        abort();
    check_backends(t);

    check(t, &r, lines[0], lens[0], lines[1], lens[1]);
    /* Also aim at what the table holds: each rule's host (a label in place of "*") with the
     * request path, and the request host with each rule's path and a longer one. */
    for (int i = 0; i < r.n_rules; i++) {
        char h[MAX_LEN + 8];
        char q[MAX_LEN + 8];
        const char *rh = r.rules[i].host;
        int hl = rh[0] == '*' ? snprintf(h, sizeof(h), "X%s:8", rh + 1)
                              : snprintf(h, sizeof(h), "%s.", rh);
        int ql = snprintf(q, sizeof(q), "%s/z", r.rules[i].path);
        check(t, &r, h, (size_t)hl, lines[1], lens[1]);
        check(t, &r, h, (size_t)hl, r.rules[i].path, strlen(r.rules[i].path));
        check(t, &r, h, (size_t)hl, q, (size_t)ql);
        check(t, &r, lines[0], lens[0], r.rules[i].path, strlen(r.rules[i].path));
    }
    tt_route_table_ref(t);
    tt_route_table_unref(t);
    tt_route_table_unref(t);
    if (tt_alloc_outstanding() != start)
        abort();
    return 0;
}
