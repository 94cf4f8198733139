/* balance/setcookie.h - the affinity cookie's Set-Cookie header value, byte for byte as
 * ingress-nginx writes it (sticky.lua's set_cookie through lua-resty-cookie's bake, with
 * ngx.cookie_time for Expires and util/same_site.lua for conditional SameSite=None).
 * Threads: any. Pure functions: no allocation, no locale, no global state (the date is
 * computed with a civil-from-days conversion, not gmtime/strftime). Nothing here logs. */
#ifndef TT_BALANCE_SETCOOKIE_H
#define TT_BALANCE_SETCOOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/slice.h"
#include "route/route.h"

/* Longest ngx.cookie_time text plus a NUL: "Wdy, DD-Mon-YYYY HH:MM:SS GMT" (years after 2037
 * are written with four digits, earlier ones with two). */
#define TT_SETCOOKIE_DATE_SIZE 30

/* Bytes tt_setcookie_format needs besides cookie_name, value, path and domain: every
 * separator and attribute at its longest (Expires date, a 20-character Max-Age,
 * "SameSite=Strict") and the NUL. A buffer of name+value+path+domain lengths plus this
 * always fits. */
#define TT_SETCOOKIE_EXTRA 128

/* Formats the value of one Set-Cookie header (without "Set-Cookie: " and without CRLF) for
 * the affinity cookie of |a|, NUL-terminated, into buf[0..cap). The layout is
 *   NAME=VALUE[; Expires=D][; Max-Age=N][; Domain=X]; Path=P[; Secure]; HttpOnly[; SameSite=S]
 * (spec/ingress-nginx-annotations.md §2.5), where
 * - Expires is present iff a->has_expires; D = ngx.cookie_time(now_unix + a->expires), the sum
 *   saturating, and a time before the epoch written as the epoch, one after 9999-12-31
 *   23:59:59 as that (nginx's ngx_gmtime clamps the same way);
 * - Max-Age is present iff a->has_max_age, even when 0 or negative, N written as LuaJIT's
 *   tostring writes a number (%.14g: plain digits below 1e14, else e.g. "1e+14");
 * - Domain is present iff a->domain is non-empty; Path is always present (a->path as is);
 * - Secure iff a->secure or |request_is_tls|; HttpOnly always;
 * - SameSite=None|Lax|Strict per a->samesite, except that None is left out when
 *   a->conditional_samesite_none is set and tt_setcookie_samesite_none_incompatible(
 *   |user_agent|) is true.
 * |value| is the cookie value as tt_affinity_choose made it ("<upstream_key>|<backend_key>")
 * and is written raw. Strings are not checked: the route builder guarantees they hold no
 * control byte or ';'. |user_agent| is the request's User-Agent value (first header);
 * {NULL, 0} when it has none. All arguments are borrowed; nothing is kept.
 * Returns the length written (without the NUL), or TT_ERANGE when cap is too small, in which
 * case nothing is written past buf[cap - 1] and buf holds "" when cap > 0. */
int tt_setcookie_format(char *buf, size_t cap, const struct tt_route_affinity *a,
                        struct tt_slice value, bool request_is_tls, struct tt_slice user_agent,
                        int64_t now_unix);

/* True when ingress-nginx would leave SameSite=None out for this User-Agent (the negation of
 * util/same_site.lua's same_site_none_compatible): the bytes contain "Chrome/4", "Chrome/5",
 * "Chrome/6", "CPU iPhone OS 12" or "iPad; CPU OS 12", or contain "Macintosh",
 * "Intel Mac OS X 10_14" and "Safari" but not "Chrome". Plain case-sensitive substring tests,
 * any bytes allowed (NUL included); an empty or absent User-Agent is compatible (false).
 * Note these are ingress-nginx's rules, not Chromium's whole list: e.g. Chrome 67-69 and
 * "Chrome/400" count as incompatible, while UC Browser or macOS 10.14 embedded browsers
 * without "Safari" or "Chrome/4..6" in their User-Agent do not. */
bool tt_setcookie_samesite_none_incompatible(struct tt_slice user_agent);

/* Writes ngx.cookie_time(t) and a NUL to |out|, e.g. "Thu, 01-Jan-70 00:00:00 GMT" or
 * "Tue, 19-Jan-2038 03:14:08 GMT": nginx's ngx_http_cookie_time, which writes the year with
 * two digits up to 2037 and with four after, and its ngx_gmtime, which takes t < 0 as 0 and
 * t after 9999-12-31 23:59:59 as that. Returns the length (27 or 29). */
size_t tt_setcookie_cookie_time(char out[TT_SETCOOKIE_DATE_SIZE], int64_t t);

#endif
