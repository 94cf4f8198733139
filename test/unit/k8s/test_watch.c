/* test/unit/k8s/test_watch.c - watch-stream framing (lines across arbitrary chunkings) and
 * watch-event parsing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "unit/leakcheck.h"

#include <stdio.h>
#include <string.h>

#include "k8s/watch.h"

struct collected {
    char text[8192]; /* lines joined by '|' */
    size_t len;
    int lines;
    int stop_after; /* return 7 after this many lines; 0 = never */
};

static int collect(void *ud, const char *line, size_t len)
{
    struct collected *c = ud;
    assert_true(c->len + len + 1 < sizeof c->text);
    memcpy(c->text + c->len, line, len);
    c->len += len;
    c->text[c->len++] = '|';
    c->text[c->len] = '\0';
    c->lines++;
    return c->stop_after && c->lines == c->stop_after ? 7 : 0;
}

static const char stream[] = "{\"a\":1}\n{\"b\":2}\n\n{\"c\":\"x\\ny\"}\r\n{\"d\":4}\n";
static const char expect[] = "{\"a\":1}|{\"b\":2}|{\"c\":\"x\\ny\"}\r|{\"d\":4}|";

/* Every chunk size from 1 byte to the whole stream gives the same lines. */
static void test_any_chunking(void **state)
{
    (void)state;
    size_t n = strlen(stream);
    for (size_t step = 1; step <= n; step++) {
        struct tt_k8s_lines l;
        struct collected c = {0};
        tt_k8s_lines_init(&l, 1024);
        for (size_t off = 0; off < n; off += step)
            assert_int_equal(tt_k8s_lines_feed(&l, stream + off, off + step > n ? n - off : step,
                                               collect, &c), 0);
        assert_string_equal(c.text, expect);
        assert_false(tt_k8s_lines_pending(&l));
        tt_k8s_lines_dispose(&l);
    }
}

/* Irregular chunkings too (a fixed pseudo-random sequence). */
static void test_random_chunking(void **state)
{
    (void)state;
    uint32_t x = 12345;
    size_t n = strlen(stream);
    for (int round = 0; round < 200; round++) {
        struct tt_k8s_lines l;
        struct collected c = {0};
        tt_k8s_lines_init(&l, 1024);
        for (size_t off = 0; off < n;) {
            x = x * 1103515245 + 12345;
            size_t step = 1 + (x >> 16) % 9;
            if (off + step > n)
                step = n - off;
            assert_int_equal(tt_k8s_lines_feed(&l, stream + off, step, collect, &c), 0);
            off += step;
        }
        assert_string_equal(c.text, expect);
        tt_k8s_lines_dispose(&l);
    }
}

static void test_partial_and_reset(void **state)
{
    (void)state;
    struct tt_k8s_lines l;
    struct collected c = {0};
    tt_k8s_lines_init(&l, 1024);
    assert_int_equal(tt_k8s_lines_feed(&l, "{\"half\":", 8, collect, &c), 0);
    assert_true(tt_k8s_lines_pending(&l));
    assert_int_equal(c.lines, 0);
    tt_k8s_lines_reset(&l); /* the stream was cut: a new one starts clean */
    assert_false(tt_k8s_lines_pending(&l));
    assert_int_equal(tt_k8s_lines_feed(&l, "{\"new\":1}\n", 10, collect, &c), 0);
    assert_string_equal(c.text, "{\"new\":1}|");
    tt_k8s_lines_dispose(&l);
}

static void test_line_limit(void **state)
{
    (void)state;
    char big[100];
    struct tt_k8s_lines l;
    struct collected c = {0};

    memset(big, 'x', sizeof big);
    /* Exactly at the limit is fine, in one piece or split. */
    tt_k8s_lines_init(&l, 64);
    assert_int_equal(tt_k8s_lines_feed(&l, big, 64, collect, &c), 0);
    assert_int_equal(tt_k8s_lines_feed(&l, "\n", 1, collect, &c), 0);
    assert_int_equal(c.lines, 1);
    char whole[66];
    memset(whole, 'y', 64);
    whole[64] = '\n';
    assert_int_equal(tt_k8s_lines_feed(&l, whole, 65, collect, &c), 0);
    assert_int_equal(c.lines, 2);
    /* One byte over: an error, whether buffered or whole in one callback. */
    assert_int_equal(tt_k8s_lines_feed(&l, big, 65, collect, &c), TT_ERANGE);
    tt_k8s_lines_reset(&l);
    char over[67];
    memset(over, 'z', 65);
    over[65] = '\n';
    assert_int_equal(tt_k8s_lines_feed(&l, over, 66, collect, &c), TT_ERANGE);
    tt_k8s_lines_dispose(&l);
}

static void test_callback_stops(void **state)
{
    (void)state;
    struct tt_k8s_lines l;
    struct collected c = {.stop_after = 2};
    tt_k8s_lines_init(&l, 1024);
    assert_int_equal(tt_k8s_lines_feed(&l, stream, strlen(stream), collect, &c), 7);
    assert_int_equal(c.lines, 2);
    tt_k8s_lines_dispose(&l);
}

static void parse_ok(const char *line, enum tt_k8s_event_type type, const char *rv,
                     const char *name)
{
    struct tt_k8s_event ev;
    struct tt_err err = {0};
    assert_int_equal(tt_k8s_event_parse(line, strlen(line), &ev, &err), 0);
    assert_int_equal(ev.type, type);
    if (rv == NULL)
        assert_null(ev.rv);
    else
        assert_string_equal(ev.rv, rv);
    if (name == NULL)
        assert_null(ev.name);
    else
        assert_string_equal(ev.name, name);
    tt_k8s_event_dispose(&ev);
}

static void parse_bad(const char *line, const char *want)
{
    struct tt_k8s_event ev;
    struct tt_err err = {0};
    assert_int_equal(tt_k8s_event_parse(line, strlen(line), &ev, &err), TT_EPARSE);
    assert_non_null(strstr(err.msg, want));
    assert_null(ev.root);
}

static void test_events(void **state)
{
    (void)state;
    parse_ok("{\"type\":\"ADDED\",\"object\":{\"kind\":\"Service\",\"metadata\":{\"name\":\"a\","
             "\"namespace\":\"n\",\"resourceVersion\":\"12\"}}}",
             TT_K8S_EV_ADDED, "12", "a");
    parse_ok("{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"a\"}}}",
             TT_K8S_EV_MODIFIED, NULL, "a");
    parse_ok("{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"13\"}}}",
             TT_K8S_EV_DELETED, "13", "a");
    parse_ok("{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Service\",\"metadata\":{"
             "\"resourceVersion\":\"99\"}}}",
             TT_K8S_EV_BOOKMARK, "99", NULL);
    /* An empty resourceVersion is no version. */
    parse_ok("{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"resourceVersion\":\"\"}}}",
             TT_K8S_EV_ADDED, NULL, NULL);

    struct tt_k8s_event ev;
    struct tt_err err = {0};
    const char *e = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"status\":\"Failure\","
                    "\"message\":\"too old resource version: 1 (5)\",\"reason\":\"Expired\","
                    "\"code\":410}}";
    assert_int_equal(tt_k8s_event_parse(e, strlen(e), &ev, &err), 0);
    assert_int_equal(ev.type, TT_K8S_EV_ERROR);
    assert_int_equal(ev.status_code, 410);
    assert_string_equal(ev.reason, "Expired");
    assert_string_equal(ev.message, "too old resource version: 1 (5)");
    tt_k8s_event_dispose(&ev);
    /* A Status without the fields still parses, with empty text. */
    e = "{\"type\":\"ERROR\",\"object\":{\"code\":\"x\"}}";
    assert_int_equal(tt_k8s_event_parse(e, strlen(e), &ev, &err), 0);
    assert_int_equal(ev.status_code, 0);
    assert_string_equal(ev.reason, "");
    tt_k8s_event_dispose(&ev);

    parse_bad("{\"type\":\"ADDED\"", "not JSON");
    parse_bad("[1,2]", "not a JSON object");
    parse_bad("{\"object\":{}}", "no type");
    parse_bad("{\"type\":7,\"object\":{}}", "no type");
    parse_bad("{\"type\":\"SYNC\",\"object\":{}}", "unknown watch event type \"SYNC\"");
    parse_bad("{\"type\":\"ADDED\",\"object\":null}", "ADDED watch event has no object");
    parse_bad("{\"type\":\"ERROR\"}", "no object");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_any_chunking, tt_test_leak_setup, tt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_random_chunking, tt_test_leak_setup, tt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_partial_and_reset, tt_test_leak_setup, tt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_line_limit, tt_test_leak_setup, tt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_callback_stops, tt_test_leak_setup, tt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_events, tt_test_leak_setup, tt_test_leak_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
