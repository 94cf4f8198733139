/* http/path.c - URL path normalisation for matching (nginx's ngx_http_parse_complex_uri rules:
 * decode escapes, merge slashes, resolve dot segments). */
#include "http/http.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool tt_http_path_needs_normalizing(struct tt_slice p)
{
    for (size_t i = 0; i < p.len; i++) {
        if (p.ptr[i] == '%')
            return true;
        if (p.ptr[i] == '/' && i + 1 < p.len && (p.ptr[i + 1] == '/' || p.ptr[i + 1] == '.'))
            return true;
    }
    return false;
}

long tt_http_normalize_path(struct tt_slice in, char *out, size_t cap)
{
    size_t o = 0;
    size_t i = 0;

    if (in.len == 0 || in.ptr[0] != '/' || cap == 0)
        return -1;
    while (i < in.len) {
        char c = in.ptr[i];
        if (c == '%') {
            int hi, lo;
            if (i + 2 >= in.len)
                return -1;
            hi = hexval(in.ptr[i + 1]);
            lo = hexval(in.ptr[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return -1;
            c = (char)(hi * 16 + lo);
            i += 3;
        } else {
            i++;
        }
        if (c == '/') {
            if (o > 0 && out[o - 1] == '/')
                continue; /* merge slashes */
        }
        if (o == cap)
            return -1;
        out[o++] = c;
        /* A segment just ended ("/." or "/.." followed by '/' or the end): resolve it. */
        if (c == '/' || i == in.len) {
            size_t end = c == '/' ? o - 1 : o; /* exclusive end of the segment */
            size_t start = end;
            while (start > 0 && out[start - 1] != '/')
                start--;
            if (end - start == 1 && out[start] == '.') {
                o = start; /* drop "./" or trailing "." (keeps the slash before it) */
            } else if (end - start == 2 && out[start] == '.' && out[start + 1] == '.') {
                size_t prev;
                if (start <= 1)
                    return -1; /* ".." above the root */
                prev = start - 1; /* the slash before ".." */
                while (prev > 0 && out[prev - 1] != '/')
                    prev--;
                o = prev;
            }
        }
    }
    if (o == 0)
        out[o++] = '/';
    return (long)o;
}
