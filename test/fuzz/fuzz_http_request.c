/* test/fuzz/fuzz_http_request.c - strict llhttp plus tether's head accumulator, target split
 * and Host validation over arbitrary request bytes, fed in two pieces to exercise span joins. */
#include <llhttp.h>
#include <stdint.h>
#include <string.h>

#include "http/http.h"

static struct tt_http_head head;

static int on_url(llhttp_t *p, const char *at, size_t n)
{
    (void)p;
    return tt_http_head_url(&head, at, n, 8192) == TT_HEAD_OK ? 0 : -1;
}

static int on_field(llhttp_t *p, const char *at, size_t n)
{
    (void)p;
    return tt_http_head_name(&head, at, n) == TT_HEAD_OK ? 0 : -1;
}

static int on_value(llhttp_t *p, const char *at, size_t n)
{
    (void)p;
    return tt_http_head_value(&head, at, n) == TT_HEAD_OK ? 0 : -1;
}

static int on_headers_complete(llhttp_t *p)
{
    struct tt_slice host, path, h;
    (void)p;
    if (tt_http_split_target(tt_http_head_url_slice(&head), &host, &path) == 0 && host.len > 0)
        tt_http_host_strip_port(host, &h);
    for (uint32_t i = 0; i < head.n_fields; i++) {
        tt_http_is_hop_by_hop(tt_http_field_name(&head, i));
        tt_http_list_has(tt_http_field_value(&head, i), TT_SLICE_LIT("close"));
    }
    return 0;
}

static int on_message_begin(llhttp_t *p)
{
    (void)p;
    tt_http_head_reset(&head);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    llhttp_settings_t st;
    llhttp_t parser;
    size_t cut = size > 0 ? data[0] % (size + 1) : 0;

    llhttp_settings_init(&st);
    st.on_message_begin = on_message_begin;
    st.on_url = on_url;
    st.on_header_field = on_field;
    st.on_header_value = on_value;
    st.on_headers_complete = on_headers_complete;
    tt_http_head_init(&head, 32 * 1024, 100);
    llhttp_init(&parser, HTTP_REQUEST, &st);
    if (llhttp_execute(&parser, (const char *)data, cut) == HPE_OK)
        llhttp_execute(&parser, (const char *)data + cut, size - cut);
    tt_http_head_dispose(&head);
    return 0;
}
