/* balance/names.c - the strings ingress-nginx hashes: node ids "<ip>:<port>" /
 * "[<ipv6>]:<port>" (balancer.lua format_ipv6_endpoints) and backend names
 * "<ns>-<service>-<port>" (controller util.go upstreamName). */
#include "balance/affinity.h"

#include <stdio.h>
#include <string.h>

/* Lua's "^%d+.%d+.%d+.%d+$" as balancer.lua writes it: the dots are unescaped, so each matches
 * any single byte. Tracks the set of positions reachable after each digit group as a bitmask,
 * which needs len < 64 (callers guarantee it). */
static bool lua_ipv4_like(const char *s, size_t len)
{
    uint64_t cur = 1; /* bit p: a group may start at p */

    for (int g = 0; g < 4; g++) {
        uint64_t next = 0;
        for (size_t p = 0; p < len; p++) {
            if ((cur & ((uint64_t)1 << p)) == 0)
                continue;
            for (size_t q = p; q < len && s[q] >= '0' && s[q] <= '9'; q++) {
                /* The group is s[p..q]; the next byte (any) separates it from the next group. */
                if (g == 3 && q + 1 == len)
                    return true;
                if (g < 3 && q + 2 < len)
                    next |= (uint64_t)1 << (q + 2);
            }
        }
        cur = next;
        if (cur == 0)
            return false;
    }
    return false;
}

static size_t put(char *buf, size_t at, const char *p, size_t n)
{
    memcpy(buf + at, p, n);
    return at + n;
}

int tt_affinity_node_id(char *buf, size_t cap, struct tt_slice address, uint16_t port)
{
    char digits[8];
    int nd = snprintf(digits, sizeof(digits), "%u", (unsigned)port);
    bool bracket;
    size_t need, at = 0;

    if (address.len >= 64 || buf == NULL)
        return TT_ERANGE;
    bracket = !lua_ipv4_like(address.ptr, address.len);
    need = address.len + (bracket ? 2 : 0) + 1 + (size_t)nd;
    if (need + 1 > cap)
        return TT_ERANGE;
    if (bracket)
        at = put(buf, at, "[", 1);
    if (address.len > 0)
        at = put(buf, at, address.ptr, address.len);
    if (bracket)
        at = put(buf, at, "]", 1);
    at = put(buf, at, ":", 1);
    at = put(buf, at, digits, (size_t)nd);
    buf[at] = '\0';
    return (int)at;
}

int tt_affinity_backend_name(char *buf, size_t cap, struct tt_slice ns, struct tt_slice service,
                             struct tt_slice port)
{
    static const char invalid[] = "INVALID";
    size_t need, at = 0;

    if (service.len == 0)
        need = ns.len + 1 + sizeof(invalid) - 1;
    else
        need = ns.len + 1 + service.len + 1 + port.len;
    if (buf == NULL || need >= cap || need > (size_t)INT32_MAX)
        return TT_ERANGE;
    if (ns.len > 0)
        at = put(buf, at, ns.ptr, ns.len);
    at = put(buf, at, "-", 1);
    if (service.len == 0) {
        at = put(buf, at, invalid, sizeof(invalid) - 1);
    } else {
        at = put(buf, at, service.ptr, service.len);
        at = put(buf, at, "-", 1);
        if (port.len > 0)
            at = put(buf, at, port.ptr, port.len);
    }
    buf[at] = '\0';
    return (int)at;
}
