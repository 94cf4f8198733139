/* http/http.h - HTTP/1.1 helpers around llhttp: a header accumulator fed by llhttp's span
 * callbacks, hop-by-hop rules, request-target splitting and reason phrases.
 * Threads: any; no shared state. Nothing here allocates except tt_http_head (bounded by the
 * limits given at init) and nothing logs. */
#ifndef TT_HTTP_HTTP_H
#define TT_HTTP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/slice.h"

struct tt_http_field {
    uint32_t name_off, name_len;
    uint32_t value_off, value_len;
};

/* Accumulates a message head from llhttp's span callbacks, which may deliver one token in
 * several pieces when it spans reads. Names and values are copied into |bytes| (capped at
 * max_bytes) and indexed in |fields| (at most max_fields). */
struct tt_http_head {
    struct tt_buf bytes;
    struct tt_http_field *fields; /* owned */
    uint32_t n_fields, cap_fields, max_fields;
    uint32_t url_off, url_len;    /* request target or status reason */
    uint8_t last;                 /* which span fed last: 0 none, 1 url, 2 name, 3 value */
};

enum tt_http_head_status {
    TT_HEAD_OK = 0,
    TT_HEAD_TOO_LARGE,  /* bytes cap reached: 431 */
    TT_HEAD_TOO_MANY,   /* field count cap reached: 431 */
    TT_HEAD_URI_TOO_LONG, /* url over its own cap: 414 */
    TT_HEAD_NOMEM,
};

void tt_http_head_init(struct tt_http_head *h, size_t max_bytes, uint32_t max_fields);
void tt_http_head_dispose(struct tt_http_head *h);  /* frees memory; init again to reuse */
void tt_http_head_reset(struct tt_http_head *h);    /* forgets contents, keeps memory */
/* Appends a piece of the request target (or status reason); fails with TT_HEAD_URI_TOO_LONG
 * once the target exceeds |max_url|. */
enum tt_http_head_status tt_http_head_url(struct tt_http_head *h, const char *p, size_t n,
                                          size_t max_url);
enum tt_http_head_status tt_http_head_name(struct tt_http_head *h, const char *p, size_t n);
enum tt_http_head_status tt_http_head_value(struct tt_http_head *h, const char *p, size_t n);

static inline struct tt_slice tt_http_head_url_slice(const struct tt_http_head *h)
{
    return tt_slice_make(h->bytes.data + h->url_off, h->url_len);
}
static inline struct tt_slice tt_http_field_name(const struct tt_http_head *h, uint32_t i)
{
    return tt_slice_make(h->bytes.data + h->fields[i].name_off, h->fields[i].name_len);
}
static inline struct tt_slice tt_http_field_value(const struct tt_http_head *h, uint32_t i)
{
    return tt_slice_make(h->bytes.data + h->fields[i].value_off, h->fields[i].value_len);
}
/* Index of the first field named |name| (case-insensitive) at or after |from|, or -1. */
int tt_http_head_find(const struct tt_http_head *h, struct tt_slice name, uint32_t from);

/* Hop-by-hop fields of RFC 9110 §7.6.1 plus the de-facto ones (Keep-Alive, Proxy-Connection),
 * and Transfer-Encoding, which a proxy re-frames. */
bool tt_http_is_hop_by_hop(struct tt_slice name);

/* True when the comma-separated token list |list| contains |token| (case-insensitive,
 * optional whitespace around elements), as used by Connection and Upgrade. */
bool tt_http_list_has(struct tt_slice list, struct tt_slice token);

/* Splits a request target into the host it names (absolute-form only, else empty) and the
 * path without query. Returns 0, or -1 for a target that is neither origin-form ("/...") nor
 * absolute-form ("http://host/..."), nor "*". */
int tt_http_split_target(struct tt_slice target, struct tt_slice *host, struct tt_slice *path);

/* Strips ":port" from a Host value (brackets kept for IPv6 literals) and checks the rest is a
 * reg-name or IP literal per RFC 3986. Returns 0 and the host part, or -1. */
int tt_http_host_strip_port(struct tt_slice host, struct tt_slice *out);

/* Normalises a URL path for route matching the way nginx does before location matching:
 * percent-decodes, merges repeated slashes and resolves "." and ".." segments. Writes at most
 * |cap| bytes to |out|. Returns the normalised length, or -1 when the path is invalid (a ".."
 * above the root, a bad or NUL escape, or not starting with '/'); the caller answers 400.
 * The original target, not this, is what goes upstream (ingress-nginx passes it unchanged). */
long tt_http_normalize_path(struct tt_slice path, char *out, size_t cap);

/* True when |path| needs tt_http_normalize_path (contains '%', "//" or a dot segment). */
bool tt_http_path_needs_normalizing(struct tt_slice path);

/* Reason phrase for a status code ("Unknown" when not known). */
const char *tt_http_reason(int status);

#endif
