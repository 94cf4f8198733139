/* route/host.c - rule host validation and request Host reduction.
 * Rule hosts follow the Ingress API: an RFC 1123 DNS name, lower-cased, optionally "*." plus a
 * name; no IP address, no port (spec/kubernetes-api.md §2.1 "Host rules"). Request hosts are
 * only reduced, never rejected: whatever cannot name a rule host falls to the any-host rules. */
#include "route/internal.h"

#include <arpa/inet.h>
#include <string.h>

static bool is_ldh(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

/* Checks the dot-separated labels of |s| (already lower-case). */
static int check_labels(const char *s, size_t n, struct tt_err *err)
{
    size_t start = 0;

    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '.') {
            if (!is_ldh(s[i])) {
                unsigned char c = (unsigned char)s[i];
                if (c > 0x20 && c < 0x7f)
                    return tt_err_set(err, TT_EINVAL, "host %.*s: invalid character '%c'", (int)n,
                                      s, c);
                return tt_err_set(err, TT_EINVAL, "host %.*s: invalid character 0x%02x", (int)n, s,
                                  c);
            }
            continue;
        }
        if (i == start)
            return tt_err_set(err, TT_EINVAL, "host %.*s: empty label", (int)n, s);
        if (i - start > 63)
            return tt_err_set(err, TT_EINVAL, "host %.*s: label longer than 63 characters", (int)n,
                              s);
        /* RFC 1123 §2.1: a label starts and ends with a letter or digit. */
        if (s[start] == '-' || s[i - 1] == '-')
            return tt_err_set(err, TT_EINVAL,
                              "host %.*s: label must start and end with a letter or digit", (int)n,
                              s);
        start = i + 1;
    }
    return 0;
}

int tt_route__host_check(const char *in, char *out, size_t *out_len, bool *wildcard,
                         struct tt_err *err)
{
    size_t n = strlen(in);
    const char *name = out;
    size_t name_len;
    const char *colon;
    struct in_addr a4;

    if (n > TT_ROUTE__HOST_MAX)
        return tt_err_set(err, TT_EINVAL, "host %.64s...: longer than %d characters", in,
                          TT_ROUTE__HOST_MAX);
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        out[i] = (c >= 'A' && c <= 'Z') ? (char)(c | 0x20) : c;
    }
    out[n] = '\0';
    *out_len = n;
    *wildcard = false;

    /* The specific mistakes get their own reasons, since they are what people write. */
    if (strcmp(out, "*") == 0)
        return tt_err_set(err, TT_EINVAL, "host *: a wildcard needs a domain (\"*.example.com\")");
    colon = strchr(out, ':');
    if (out[0] == '[' || (colon != NULL && strchr(colon + 1, ':') != NULL))
        return tt_err_set(err, TT_EINVAL, "host %s: IP addresses are not allowed", out);
    if (colon != NULL)
        return tt_err_set(err, TT_EINVAL, "host %s: a port is not allowed", out);
    if (out[0] == '*') {
        if (out[1] != '.')
            return tt_err_set(err, TT_EINVAL, "host %s: '*' must be the whole first label", out);
        *wildcard = true;
        name = out + 2;
    }
    if (strchr(name, '*') != NULL)
        return tt_err_set(err, TT_EINVAL, "host %s: '*' is only allowed as the whole first label",
                          out);
    name_len = strlen(name);
    if (name_len == 0)
        return tt_err_set(err, TT_EINVAL, "host %s: empty label", out);
    if (check_labels(name, name_len, err) != 0)
        return TT_EINVAL;
    /* Ingress rejects IP addresses; a dotted quad passes the label check, so test it here. */
    if (inet_pton(AF_INET, name, &a4) == 1)
        return tt_err_set(err, TT_EINVAL, "host %s: IP addresses are not allowed", out);
    return 0;
}

bool tt_route__req_host(struct tt_slice in, struct tt_slice *out)
{
    const char *p = in.ptr;
    size_t n = in.len;
    const char *colon;

    /* "[v6]:port" and any other IP literal can never equal a rule host. */
    if (n == 0 || p[0] == '[')
        return false;
    if ((colon = memchr(p, ':', n)) != NULL) {
        /* RFC 3986 §3.2.3: port = *DIGIT, so "host:" is legal; anything else (a second colon
         * in a bare IPv6 address, letters) means this is not a name. */
        for (const char *q = colon + 1; q < p + n; q++)
            if (*q < '0' || *q > '9')
                return false;
        n = (size_t)(colon - p);
    }
    /* An absolute name "foo.com." is the same host as "foo.com". */
    if (n > 0 && p[n - 1] == '.')
        n--;
    if (n == 0 || n > TT_ROUTE__HOST_MAX)
        return false;
    *out = tt_slice_make(p, n);
    return true;
}
