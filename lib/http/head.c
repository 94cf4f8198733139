/* http/head.c - header accumulation and small HTTP syntax helpers. */
#include "http/http.h"

#include <string.h>

#include "base/alloc.h"
#include "base/err.h"

void tt_http_head_init(struct tt_http_head *h, size_t max_bytes, uint32_t max_fields)
{
    tt_buf_init(&h->bytes, max_bytes);
    h->fields = NULL;
    h->n_fields = h->cap_fields = 0;
    h->max_fields = max_fields;
    h->url_off = h->url_len = 0;
    h->last = 0;
}

void tt_http_head_dispose(struct tt_http_head *h)
{
    tt_buf_dispose(&h->bytes);
    tt_free(h->fields);
    h->fields = NULL;
    h->n_fields = h->cap_fields = 0;
}

void tt_http_head_reset(struct tt_http_head *h)
{
    tt_buf_reset(&h->bytes);
    h->n_fields = 0;
    h->url_off = h->url_len = 0;
    h->last = 0;
}

static enum tt_http_head_status append(struct tt_http_head *h, const char *p, size_t n)
{
    int rc = tt_buf_append(&h->bytes, p, n);
    if (rc == TT_ERANGE)
        return TT_HEAD_TOO_LARGE;
    return rc == 0 ? TT_HEAD_OK : TT_HEAD_NOMEM;
}

enum tt_http_head_status tt_http_head_url(struct tt_http_head *h, const char *p, size_t n,
                                          size_t max_url)
{
    if (h->last != 1) {
        h->url_off = (uint32_t)h->bytes.len;
        h->url_len = 0;
        h->last = 1;
    }
    if (h->url_len + n > max_url)
        return TT_HEAD_URI_TOO_LONG;
    h->url_len += (uint32_t)n;
    return append(h, p, n);
}

enum tt_http_head_status tt_http_head_name(struct tt_http_head *h, const char *p, size_t n)
{
    if (h->last != 2) {
        if (h->n_fields == h->max_fields)
            return TT_HEAD_TOO_MANY;
        if (h->n_fields == h->cap_fields) {
            uint32_t ncap = h->cap_fields != 0 ? h->cap_fields * 2 : 16;
            struct tt_http_field *f;
            if (ncap > h->max_fields)
                ncap = h->max_fields;
            if ((f = tt_realloc(h->fields, ncap * sizeof(*f))) == NULL)
                return TT_HEAD_NOMEM;
            h->fields = f;
            h->cap_fields = ncap;
        }
        h->fields[h->n_fields].name_off = (uint32_t)h->bytes.len;
        h->fields[h->n_fields].name_len = 0;
        h->fields[h->n_fields].value_off = (uint32_t)h->bytes.len;
        h->fields[h->n_fields].value_len = 0;
        h->n_fields++;
        h->last = 2;
    }
    h->fields[h->n_fields - 1].name_len += (uint32_t)n;
    return append(h, p, n);
}

enum tt_http_head_status tt_http_head_value(struct tt_http_head *h, const char *p, size_t n)
{
    struct tt_http_field *f;
    if (h->n_fields == 0)
        return TT_HEAD_TOO_LARGE; /* llhttp never sends a value first; be defensive */
    f = &h->fields[h->n_fields - 1];
    if (h->last != 3) {
        f->value_off = (uint32_t)h->bytes.len;
        f->value_len = 0;
        h->last = 3;
    }
    f->value_len += (uint32_t)n;
    return append(h, p, n);
}

int tt_http_head_find(const struct tt_http_head *h, struct tt_slice name, uint32_t from)
{
    for (uint32_t i = from; i < h->n_fields; i++)
        if (tt_slice_eq_nocase(tt_http_field_name(h, i), name))
            return (int)i;
    return -1;
}

bool tt_http_is_hop_by_hop(struct tt_slice n)
{
    static const struct tt_slice names[] = {
        TT_SLICE_LIT("connection"),       TT_SLICE_LIT("keep-alive"),
        TT_SLICE_LIT("proxy-connection"), TT_SLICE_LIT("te"),
        TT_SLICE_LIT("trailer"),          TT_SLICE_LIT("transfer-encoding"),
        TT_SLICE_LIT("upgrade"),
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (tt_slice_eq_nocase(n, names[i]))
            return true;
    return false;
}

bool tt_http_list_has(struct tt_slice list, struct tt_slice token)
{
    size_t i = 0;
    while (i <= list.len) {
        size_t j = i;
        while (j < list.len && list.ptr[j] != ',')
            j++;
        if (tt_slice_eq_nocase(tt_slice_trim(tt_slice_make(list.ptr + i, j - i)), token))
            return true;
        i = j + 1;
    }
    return false;
}

int tt_http_split_target(struct tt_slice t, struct tt_slice *host, struct tt_slice *path)
{
    size_t i, start;
    *host = tt_slice_make("", 0);
    if (t.len == 1 && t.ptr[0] == '*') {
        *path = t;
        return 0;
    }
    if (t.len > 0 && t.ptr[0] == '/') {
        start = 0;
    } else {
        size_t skip;
        if (t.len >= 7 && tt_slice_eq_nocase(tt_slice_make(t.ptr, 7), TT_SLICE_LIT("http://")))
            skip = 7;
        else if (t.len >= 8 &&
                 tt_slice_eq_nocase(tt_slice_make(t.ptr, 8), TT_SLICE_LIT("https://")))
            skip = 8;
        else
            return -1;
        for (i = skip; i < t.len && t.ptr[i] != '/' && t.ptr[i] != '?' && t.ptr[i] != '#'; i++)
            ;
        *host = tt_slice_make(t.ptr + skip, i - skip);
        if (host->len == 0 || memchr(host->ptr, '@', host->len) != NULL)
            return -1; /* userinfo is never valid in a request target */
        start = i;
    }
    for (i = start; i < t.len && t.ptr[i] != '?' && t.ptr[i] != '#'; i++)
        ;
    *path = i > start ? tt_slice_make(t.ptr + start, i - start) : TT_SLICE_LIT("/");
    return 0;
}

int tt_http_host_strip_port(struct tt_slice h, struct tt_slice *out)
{
    size_t end = h.len;
    if (h.len > 0 && h.ptr[0] == '[') {
        const char *rb = memchr(h.ptr, ']', h.len);
        if (rb == NULL)
            return -1;
        end = (size_t)(rb - h.ptr) + 1;
    } else {
        const char *colon = memchr(h.ptr, ':', h.len);
        if (colon != NULL)
            end = (size_t)(colon - h.ptr);
    }
    if (end < h.len) {
        if (h.ptr[end] != ':')
            return -1;
        for (size_t i = end + 1; i < h.len; i++)
            if (h.ptr[i] < '0' || h.ptr[i] > '9')
                return -1;
    }
    for (size_t i = 0; i < end; i++) {
        unsigned char c = (unsigned char)h.ptr[i];
        /* reg-name: unreserved / pct-encoded / sub-delims (RFC 3986 §3.2.2); ':' inside []. */
        if (c <= 0x20 || c >= 0x7f || c == '/' || c == '?' || c == '#' || c == '@' ||
            c == '"' || c == '<' || c == '>' || c == '\\' || c == '^' || c == '`' || c == '{' ||
            c == '|' || c == '}')
            return -1;
    }
    *out = tt_slice_make(h.ptr, end);
    return 0;
}

const char *tt_http_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 417: return "Expectation Failed";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}
