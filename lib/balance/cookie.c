/* balance/cookie.c - reading the affinity cookie the way ingress-nginx does: the Cookie header
 * scanner of lua-resty-cookie (f418d77, get_cookie_table) over nginx's $http_cookie, and the
 * '|' split of sticky.lua (spec/affinity-cookie-algorithms.md §4.2-4.3). Deliberately not
 * RFC 6265: names run to the next '=', values stop at ';', SP or HTAB, quotes are kept. */
#include "balance/affinity.h"

#include <string.h>

enum scan_state {
    EXPECT_SP = 0, /* skipping SP/HTAB before a name */
    EXPECT_KEY,    /* inside a name, up to '=' */
    EXPECT_VALUE,  /* inside a value, up to ';', SP or HTAB */
};

struct scan {
    enum scan_state state;
    struct tt_slice name; /* the cookie wanted */
    size_t name_pos;      /* bytes of the current name matched so far */
    bool name_ok;         /* the current name is still a prefix of |name| */
    bool want;            /* the value being read belongs to |name| */
    size_t value_at;      /* where that value starts in the current header */
    bool found;
    struct tt_slice value;
};

static bool ends_value(unsigned char c)
{
    return c == ';' || c == ' ' || c == '\t';
}

static void key_byte(struct scan *s, unsigned char c, size_t at)
{
    if (c == '=') {
        s->want = s->name_ok && s->name_pos == s->name.len;
        s->value_at = at + 1;
        s->state = EXPECT_VALUE;
    } else if (s->name_ok) {
        if (s->name_pos < s->name.len && (unsigned char)s->name.ptr[s->name_pos] == c)
            s->name_pos++;
        else
            s->name_ok = false;
    }
}

/* Feeds one byte. |h| is the current header and |at| the byte's offset in it, or h.len for the
 * "; " nginx puts between two headers (never part of a value: the ';' ends it). */
static void step(struct scan *s, unsigned char c, struct tt_slice h, size_t at)
{
    switch (s->state) {
    case EXPECT_SP:
        if (c == ' ' || c == '\t')
            return;
        /* Any other byte, ';' included, starts a name. */
        s->state = EXPECT_KEY;
        s->name_pos = 0;
        s->name_ok = true;
        key_byte(s, c, at);
        return;
    case EXPECT_KEY:
        key_byte(s, c, at);
        return;
    case EXPECT_VALUE:
        if (ends_value(c)) {
            if (s->want) {
                /* The last occurrence wins (a Lua table keyed by name). */
                s->found = true;
                s->value = tt_slice_make(h.ptr + s->value_at, at - s->value_at);
            }
            s->state = EXPECT_SP;
        }
        return;
    }
}

/* Runs the same state machine as step() over one whole header, with fast paths: whitespace is
 * skipped in a loop, a name that can no longer match jumps to the next '=' with memchr, and a
 * value is scanned to its end in one go. */
static void scan_header(struct scan *s, struct tt_slice h)
{
    const unsigned char *b = (const unsigned char *)h.ptr;
    size_t j = 0, len = h.len;

    while (j < len) {
        switch (s->state) {
        case EXPECT_SP:
            while (j < len && (b[j] == ' ' || b[j] == '\t'))
                j++;
            if (j == len)
                return;
            s->state = EXPECT_KEY;
            s->name_pos = 0;
            s->name_ok = true;
            break;
        case EXPECT_KEY:
            for (; s->name_ok && j < len && b[j] != '='; j++) {
                if (s->name_pos < s->name.len && (unsigned char)s->name.ptr[s->name_pos] == b[j])
                    s->name_pos++;
                else
                    s->name_ok = false;
            }
            if (!s->name_ok && j < len) {
                const unsigned char *eq = memchr(b + j, '=', len - j);
                j = eq != NULL ? (size_t)(eq - b) : len;
            }
            if (j < len) {
                key_byte(s, '=', j); /* b[j] is '=' */
                j++;
            }
            break;
        case EXPECT_VALUE:
            while (j < len && !ends_value(b[j]))
                j++;
            if (j < len) {
                step(s, b[j], h, j);
                j++;
            }
            break;
        }
    }
}

bool tt_affinity_cookie_find(struct tt_slice name, const struct tt_slice *headers, size_t n,
                             struct tt_slice *value)
{
    struct scan s = {.state = EXPECT_SP, .name = name};

    for (size_t i = 0; i < n; i++) {
        struct tt_slice h = headers[i];
        scan_header(&s, h);
        if (i + 1 < n) {
            step(&s, ';', h, h.len);
            step(&s, ' ', h, h.len);
        } else if (s.state == EXPECT_VALUE && s.want) {
            /* A value still open at the end of the input runs to the end. */
            s.found = true;
            s.value = tt_slice_make(h.ptr + s.value_at, h.len - s.value_at);
        }
    }
    if (s.found)
        *value = s.value;
    return s.found;
}

bool tt_affinity_value_split(struct tt_slice value, struct tt_affinity_cookie *out)
{
    struct tt_slice *piece[2] = {&out->upstream_key, &out->backend_key};
    size_t got = 0, i = 0;

    out->upstream_key = tt_slice_make(NULL, 0);
    out->backend_key = tt_slice_make(NULL, 0);
    while (i < value.len && got < 2) {
        const char *bar = memchr(value.ptr + i, '|', value.len - i);
        size_t end = bar != NULL ? (size_t)(bar - value.ptr) : value.len;
        if (end > i)
            *piece[got++] = tt_slice_make(value.ptr + i, end - i);
        i = end + 1;
    }
    return got > 0;
}

bool tt_affinity_cookie_parse(struct tt_slice name, const struct tt_slice *headers, size_t n,
                              struct tt_affinity_cookie *out)
{
    struct tt_slice v;

    if (!tt_affinity_cookie_find(name, headers, n, &v)) {
        out->upstream_key = tt_slice_make(NULL, 0);
        out->backend_key = tt_slice_make(NULL, 0);
        return false;
    }
    return tt_affinity_value_split(v, out);
}

int tt_affinity_value_format(char *out, size_t cap, struct tt_slice upstream_key,
                             struct tt_slice backend_key)
{
    size_t need = upstream_key.len + 1 + backend_key.len;

    if (out == NULL || need >= cap || need > (size_t)INT32_MAX)
        return TT_ERANGE;
    if (upstream_key.len > 0)
        memcpy(out, upstream_key.ptr, upstream_key.len);
    out[upstream_key.len] = '|';
    if (backend_key.len > 0)
        memcpy(out + upstream_key.len + 1, backend_key.ptr, backend_key.len);
    out[need] = '\0';
    return (int)need;
}
