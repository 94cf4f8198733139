/* proxy/sticky.c - cookie affinity for one request: read the affinity cookie from the request
 * head, choose the endpoint of every connect attempt (spec/ingress-nginx-annotations.md §2.3)
 * and write the Set-Cookie header when a new cookie was made (§2.4-2.5).
 *
 * Threads: a worker loop; the state lives in the session. The affinity state (ring or key map)
 * belongs to the route table, which the session holds a reference to for the exchange.
 * Nothing here allocates except when a request carries more Cookie headers than fit on the
 * stack. */
#include "proxy/internal.h"

#include <string.h>
#include <time.h>

#include "balance/setcookie.h"
#include "base/alloc.h"
#include "base/base.h"
#include "http/http.h"

#define COOKIE_FIELDS_ON_STACK 16

static const char *const outcome_names[] = {
    [TT_STICKY_NONE] = NULL,          [TT_STICKY_HIT] = "hit",
    [TT_STICKY_NEW] = "new",          [TT_STICKY_REBIND] = "rebind",
    [TT_STICKY_FAILOVER] = "failover",
};

const char *tt_sticky__outcome_name(enum tt_sticky_outcome o)
{
    return (size_t)o < TT_ARRAY_SIZE(outcome_names) ? outcome_names[o] : NULL;
}

int tt_sticky__read_cookie(struct tt_slice name, const struct tt_http_head *req,
                           struct tt_affinity_cookie *out)
{
    /* nginx joins repeated Cookie headers into $http_cookie, which lua-resty-cookie scans; the
     * scanner takes the values one by one as if joined, so collect them all. */
    struct tt_slice stack[COOKIE_FIELDS_ON_STACK], *v = stack;
    size_t n = 0, cap = TT_ARRAY_SIZE(stack);
    bool found;

    for (int i = tt_http_head_find(req, TT_SLICE_LIT("cookie"), 0); i >= 0;
         i = tt_http_head_find(req, TT_SLICE_LIT("cookie"), (uint32_t)i + 1)) {
        if (n == cap) {
            struct tt_slice *bigger = tt_malloc(cap * 2 * sizeof(*bigger));
            if (bigger == NULL) {
                if (v != stack)
                    tt_free(v);
                return TT_ENOMEM;
            }
            memcpy(bigger, v, n * sizeof(*v));
            if (v != stack)
                tt_free(v);
            v = bigger;
            cap *= 2;
        }
        v[n++] = tt_http_field_value(req, (uint32_t)i);
    }
    found = n > 0 && tt_affinity_cookie_parse(name, v, n, out);
    if (v != stack)
        tt_free(v);
    if (!found)
        memset(out, 0, sizeof(*out));
    return 0;
}

int tt_sticky__start(struct tt_sticky *st, const struct tt_route_affinity *a,
                     const struct tt_http_head *req)
{
    struct tt_affinity_cookie c;
    int rc;

    memset(st, 0, offsetof(struct tt_sticky, tried));
    if (a == NULL || !a->enabled || a->state == NULL)
        return 0;
    if ((rc = tt_sticky__read_cookie(a->cookie_name, req, &c)) != 0)
        return rc;
    st->aff = a;
    st->key = c.upstream_key;
    return 0;
}

int tt_sticky__pick(struct tt_sticky *st, struct tt_worker *w, bool after_failure)
{
    bool repick = after_failure && st->aff->change_on_failure;
    struct tt_affinity_choice ch;
    int idx = tt_affinity_choose(st->aff->state, st->key, repick, st->tried, st->n_tried,
                                 tt_worker__rand, w, &ch);
    if (idx < 0)
        return idx;
    if (ch.issue) {
        /* The last cookie made wins: a browser keeps the last of several Set-Cookie headers
         * of one name, so sending only that one is what ingress-nginx's retries amount to. */
        st->issue = true;
        st->value_len = ch.value_len;
        memcpy(st->value, ch.value, ch.value_len + 1);
        st->outcome = repick            ? TT_STICKY_FAILOVER
                      : st->key.len == 0 ? TT_STICKY_NEW
                                         : TT_STICKY_REBIND;
    } else if (st->outcome == TT_STICKY_NONE) {
        st->outcome = TT_STICKY_HIT;
    }
    /* Every attempt but the last failed, so the tried list is the exclusion list of the next
     * one ($upstream_addr in ingress-nginx). It holds every attempt: the flag that sets their
     * number is capped at TT_PROXY_MAX_TRIES. */
    if (st->n_tried < TT_STICKY_MAX_TRIED)
        st->tried[st->n_tried++] = (uint32_t)idx;
    return idx;
}

size_t tt_sticky__header_size(const struct tt_sticky *st)
{
    const struct tt_route_affinity *a = st->aff;
    return sizeof("Set-Cookie: \r\n") + a->cookie_name.len + st->value_len + a->path.len +
           a->domain.len + TT_SETCOOKIE_EXTRA;
}

int tt_sticky__format_header(const struct tt_sticky *st, const struct tt_http_head *req,
                             bool request_is_tls, char *buf, size_t cap)
{
    static const char prefix[] = "Set-Cookie: ";
    struct tt_slice ua = {NULL, 0};
    int n;

    if (cap < sizeof(prefix) + 2)
        return TT_ERANGE;
    if (st->aff->conditional_samesite_none && st->aff->samesite == TT_ROUTE_SAMESITE_NONE) {
        /* Only the conditional SameSite=None rules read the User-Agent. */
        int ui = tt_http_head_find(req, TT_SLICE_LIT("user-agent"), 0);
        if (ui >= 0)
            ua = tt_http_field_value(req, (uint32_t)ui);
    }
    memcpy(buf, prefix, sizeof(prefix) - 1);
    n = tt_setcookie_format(buf + sizeof(prefix) - 1, cap - (sizeof(prefix) - 1) - 2, st->aff,
                            tt_slice_make(st->value, st->value_len), request_is_tls, ua,
                            (int64_t)time(NULL));
    if (n < 0)
        return n;
    n += (int)sizeof(prefix) - 1;
    buf[n++] = '\r';
    buf[n++] = '\n';
    return n;
}
