/* route/path.c - rule path validation and the element-wise Prefix match.
 * Semantics from the Ingress concept page (spec/kubernetes-api.md §2.1 "Path rules"): Prefix
 * splits both paths on '/', drops empty elements and compares whole elements, so a trailing
 * slash on either side is ignored and "/aaa/bb" does not match "/aaa/bbb". */
#include "route/internal.h"

#include <string.h>

int tt_route__path_check(const char *path, size_t len, struct tt_err *err)
{
    if (len == 0 || path[0] != '/')
        return tt_err_set(err, TT_EINVAL, "path \"%.64s\": must start with '/'", path);
    if (len > TT_ROUTE__PATH_MAX)
        return tt_err_set(err, TT_EINVAL, "path %.64s...: longer than %d bytes", path,
                          TT_ROUTE__PATH_MAX);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)path[i];
        /* The caller strips the query and no client sends a fragment, and a request target
         * cannot hold spaces or control bytes (RFC 9112 §3.2): such a rule is dead, so say so
         * now rather than let it silently never match. */
        if (c <= 0x20 || c == 0x7f || c == '?' || c == '#')
            return tt_err_set(err, TT_EINVAL,
                              "path %.64s: character 0x%02x cannot appear in a request path", path,
                              c);
    }
    return 0;
}

size_t tt_route__path_normalize(const char *path, size_t len, char *out)
{
    size_t o = 0;
    size_t i = 0;

    while (i < len) {
        size_t e;
        if (path[i] == '/') {
            i++;
            continue;
        }
        for (e = i; e < len && path[e] != '/'; e++)
            ;
        out[o++] = '/';
        memcpy(out + o, path + i, e - i);
        o += e - i;
        i = e;
    }
    out[o] = '\0';
    return o;
}

bool tt_route__prefix_match(const char *rule, size_t rule_len, const char *path, size_t len)
{
    size_t i = 0;
    size_t j = 0;

    /* Common case first: the request starts with the rule byte for byte and the next byte
     * ends an element. The rule is normalized, so this is exactly an element-wise match. */
    if (len >= rule_len && memcmp(rule, path, rule_len) == 0 &&
        (len == rule_len || path[rule_len] == '/'))
        return true;
    /* Otherwise the request may hold empty elements ("//"), so walk element by element. Each
     * rule element is preceded by exactly one '/' and is never empty. */
    while (i < rule_len) {
        const char *slash;
        size_t elen;

        i++;
        slash = memchr(rule + i, '/', rule_len - i);
        elen = slash != NULL ? (size_t)(slash - (rule + i)) : rule_len - i;
        while (j < len && path[j] == '/')
            j++;
        if (len - j < elen || memcmp(rule + i, path + j, elen) != 0)
            return false;
        j += elen;
        if (j < len && path[j] != '/')
            return false;
        i += elen;
    }
    return true;
}
