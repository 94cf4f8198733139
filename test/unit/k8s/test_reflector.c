/* test/unit/k8s/test_reflector.c - the list/watch protocol driven by scripted responses:
 * paging, watch resume, bookmarks, 410 handling, relist deletions, backoff, bad objects. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "unit/leakcheck.h"

#include <stdio.h>
#include <string.h>

#include "k8s/reflector.h"
#include "k8s/store.h"

struct fixture {
    struct tt_k8s_store *store;
    struct tt_k8s_reflector *r;
    char path[2048];
    char changes[4096]; /* "what key;" joined */
    char rejects[4096];
    uint64_t now;
};

static void on_change(void *ud, enum tt_k8s_kind kind, const char *key, const char *what)
{
    struct fixture *f = ud;
    (void)kind;
    size_t n = strlen(f->changes);
    snprintf(f->changes + n, sizeof f->changes - n, "%s %s;", what, key);
}

static void on_reject(void *ud, enum tt_k8s_kind kind, const char *key, const char *reason)
{
    struct fixture *f = ud;
    (void)kind;
    size_t n = strlen(f->rejects);
    snprintf(f->rejects + n, sizeof f->rejects - n, "%s: %s;", key, reason);
}

static struct fixture *fx;

static void make(enum tt_k8s_kind kind, const char *ns, uint32_t page_limit)
{
    struct tt_k8s_reflector_config cfg = {
        .kind = kind, .ns = ns, .page_limit = page_limit,
        .on_change = on_change, .on_reject = on_reject, .ud = fx,
    };
    fx->store = tt_k8s_store_new();
    fx->r = tt_k8s_reflector_new(&cfg, fx->store, 42);
    assert_non_null(fx->r);
    fx->now = 1000000;
}

static int setup(void **state)
{
    static struct fixture f;
    (void)state;
    tt_test_leaks_begin();
    memset(&f, 0, sizeof f);
    fx = &f;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tt_k8s_reflector_free(fx->r);
    tt_k8s_store_free(fx->store);
    tt_test_leaks_end();
    return 0;
}

/* The reflector must ask for a request now; returns its type, keeps its path. */
static enum tt_k8s_request_type next(void)
{
    struct tt_k8s_request req;
    uint64_t wake = 0;
    assert_true(tt_k8s_reflector_poll(fx->r, fx->now, &req, &wake));
    snprintf(fx->path, sizeof fx->path, "%s", req.path);
    return req.type;
}

/* The reflector must be waiting; returns how long. */
static uint64_t waiting(void)
{
    struct tt_k8s_request req;
    uint64_t wake = 0;
    assert_false(tt_k8s_reflector_poll(fx->r, fx->now, &req, &wake));
    assert_true(wake > fx->now);
    return wake - fx->now;
}

static void respond(int status, const char *body, const char *transport_error)
{
    tt_k8s_reflector_response_status(fx->r, status, 0);
    if (body != NULL)
        tt_k8s_reflector_response_data(fx->r, body, strlen(body));
    tt_k8s_reflector_response_end(fx->r, fx->now, transport_error, false);
}

#define SVC(name, rv, port)                                                                    \
    "{\"metadata\":{\"name\":\"" name "\",\"namespace\":\"ns\",\"resourceVersion\":\"" rv "\"}," \
    "\"spec\":{\"ports\":[{\"port\":" #port "}]}}"
#define EV(type, obj) "{\"type\":\"" type "\",\"object\":" obj "}\n"

static void list_all(const char *rv, const char *items)
{
    char body[4096];
    assert_int_equal(next(), TT_K8S_REQ_LIST);
    snprintf(body, sizeof body, "{\"kind\":\"ServiceList\",\"metadata\":{\"resourceVersion\":\"%s\"},"
             "\"items\":[%s]}", rv, items);
    respond(200, body, NULL);
}

static void test_paths(void **state)
{
    (void)state;
    char buf[256];
    assert_string_equal(tt_k8s_collection_path(TT_K8S_INGRESS, NULL, buf, sizeof buf),
                        "/apis/networking.k8s.io/v1/ingresses");
    assert_string_equal(tt_k8s_collection_path(TT_K8S_INGRESS, "web", buf, sizeof buf),
                        "/apis/networking.k8s.io/v1/namespaces/web/ingresses");
    assert_string_equal(tt_k8s_collection_path(TT_K8S_INGRESS_CLASS, "web", buf, sizeof buf),
                        "/apis/networking.k8s.io/v1/ingressclasses");
    assert_string_equal(tt_k8s_collection_path(TT_K8S_SERVICE, NULL, buf, sizeof buf),
                        "/api/v1/services");
    assert_string_equal(tt_k8s_collection_path(TT_K8S_ENDPOINT_SLICE, "a", buf, sizeof buf),
                        "/apis/discovery.k8s.io/v1/namespaces/a/endpointslices");
    assert_null(tt_k8s_collection_path(TT_K8S_SERVICE, "a", buf, 10));
    make(TT_K8S_SECRET, NULL, 0);
    assert_int_equal(next(), TT_K8S_REQ_LIST);
    assert_string_equal(fx->path, "/api/v1/secrets?limit=500&resourceVersion=0"
                                  "&fieldSelector=type%3Dkubernetes.io%2Ftls");
}

static void test_paged_list_then_watch(void **state)
{
    (void)state;
    make(TT_K8S_SERVICE, "ns", 2);
    assert_false(tt_k8s_reflector_synced(fx->r));
    assert_int_equal(next(), TT_K8S_REQ_LIST);
    assert_string_equal(fx->path, "/api/v1/namespaces/ns/services?limit=2&resourceVersion=0");
    respond(200, "{\"metadata\":{\"resourceVersion\":\"10\",\"continue\":\"a+b/c=\"},"
                 "\"items\":[" SVC("a", "3", 80) "," SVC("b", "4", 80) "]}", NULL);
    /* Nothing is applied before the list is complete. */
    assert_int_equal(tt_k8s_store_count(fx->store, TT_K8S_SERVICE), 0);
    assert_false(tt_k8s_reflector_synced(fx->r));
    assert_int_equal(next(), TT_K8S_REQ_LIST);
    assert_string_equal(fx->path, "/api/v1/namespaces/ns/services?limit=2&continue=a%2Bb%2Fc%3D");
    respond(200, "{\"metadata\":{\"resourceVersion\":\"11\"},\"items\":[" SVC("c", "5", 80) "]}",
            NULL);
    assert_true(tt_k8s_reflector_synced(fx->r));
    assert_int_equal(tt_k8s_store_count(fx->store, TT_K8S_SERVICE), 3);
    /* The watch starts from the first page's version. */
    assert_string_equal(tt_k8s_reflector_rv(fx->r), "10");
    assert_int_equal(next(), TT_K8S_REQ_WATCH);
    assert_non_null(strstr(fx->path, "/api/v1/namespaces/ns/services?allowWatchBookmarks=true"
                                     "&resourceVersion=10&timeoutSeconds="));
    assert_non_null(strstr(fx->path, "&watch=true"));
    unsigned t = 0;
    assert_int_equal(sscanf(strstr(fx->path, "timeoutSeconds=") + 15, "%u", &t), 1);
    assert_true(t >= 300 && t < 600);
}

static void test_watch_events(void **state)
{
    (void)state;
    make(TT_K8S_SERVICE, NULL, 0);
    list_all("10", SVC("a", "3", 80));
    fx->changes[0] = '\0';
    assert_int_equal(next(), TT_K8S_REQ_WATCH);
    tt_k8s_reflector_response_status(fx->r, 200, 0);
    /* Events split anywhere, applied as each line completes. */
    const char *s = EV("ADDED", SVC("b", "11", 81)) EV("MODIFIED", SVC("a", "12", 82))
        "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"13\"}}}\n"
        EV("DELETED", SVC("b", "14", 81));
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i += 7)
        assert_int_equal(tt_k8s_reflector_response_data(fx->r, s + i, i + 7 > n ? n - i : 7), 0);
    assert_string_equal(fx->changes, "ADDED ns/b;MODIFIED ns/a;DELETED ns/b;");
    assert_string_equal(tt_k8s_reflector_rv(fx->r), "14");
    const struct tt_k8s_object *a = tt_k8s_store_get(fx->store, TT_K8S_SERVICE, "ns/a");
    assert_int_equal(a->u.service.ports[0].port, 82);
    /* A clean end (timeoutSeconds) resumes from the last version at once, no relist. */
    fx->now += 300000;
    tt_k8s_reflector_response_end(fx->r, fx->now, NULL, false);
    assert_int_equal(next(), TT_K8S_REQ_WATCH);
    assert_non_null(strstr(fx->path, "resourceVersion=14&"));
    /* Cut mid-event after some progress: also a resume; the half line is dropped. */
    tt_k8s_reflector_response_status(fx->r, 200, 0);
    s = EV("ADDED", SVC("c", "15", 80)) "{\"type\":\"ADD";
    tt_k8s_reflector_response_data(fx->r, s, strlen(s));
    fx->now += 5000;
    tt_k8s_reflector_response_end(fx->r, fx->now, "transfer closed", false);
    assert_int_equal(next(), TT_K8S_REQ_WATCH);
    assert_non_null(strstr(fx->path, "resourceVersion=15&"));
    struct tt_k8s_reflector_stats st;
    tt_k8s_reflector_stats(fx->r, &st);
    assert_int_equal(st.events, 4);
    assert_int_equal(st.errors, 0);
}

static void test_watch_410_relists_and_deletes(void **state)
{
    (void)state;
    make(TT_K8S_SERVICE, NULL, 0);
    list_all("10", SVC("a", "3", 80) "," SVC("b", "4", 80));
    assert_int_equal(next(), TT_K8S_REQ_WATCH);
    fx->now += 2000;
    respond(200, EV("ERROR", "{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\","
                             "\"message\":\"too old resource version: 10 (50)\"}"), NULL);
    /* At once, "not older than" the last version, without a limit. */
    assert_int_equal(next(), TT_K8S_REQ_LIST);
    assert_string_equal(fx->path, "/api/v1/services?resourceVersion=10");
    /* That list is refused as well: a consistent read follows, still without waiting. */
    respond(410, "{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\"}", NULL);
    assert_int_equal(next(), TT_K8S_REQ_LIST);
    assert_string_equal(fx->path, "/api/v1/services?limit=500");
    /* b vanished during the gap, c appeared, a is unchanged. */
    fx->changes[0] = '\0';
    respond(200, "{\"metadata\":{\"resourceVersion\":\"60\"},\"items\":[" SVC("a", "3", 80) ","
                 SVC("c", "55", 80) "]}", NULL);
    assert_string_equal(fx->changes, "relist ns/b;relist ns/c;");
    assert_null(tt_k8s_store_get(fx->store, TT_K8S_SERVICE, "ns/b"));
    assert_int_equal(next(), TT_K8S_REQ_WATCH);
    assert_non_null(strstr(fx->path, "resourceVersion=60&"));
    /* The next relist starts from a version again. */
    respond(410, "{\"kind\":\"Status\",\"code\":410}", NULL);
    assert_int_equal(next(), TT_K8S_REQ_LIST);
    assert_string_equal(fx->path, "/api/v1/services?resourceVersion=60");
}

static void test_backoff(void **state)
{
    (void)state;
    make(TT_K8S_SERVICE, NULL, 0);
    assert_int_equal(next(), TT_K8S_REQ_LIST);
    respond(503, "{\"kind\":\"Status\",\"message\":\"overloaded\"}", NULL);
    uint64_t w1 = waiting();
    assert_true(w1 >= 800 && w1 <= 1000);
    fx->now += w1;
    assert_int_equal(next(), TT_K8S_REQ_LIST);
    respond(0, NULL, "Couldn't connect to server");
    uint64_t w2 = waiting();
    assert_true(w2 >= 1600 && w2 <= 2000);
    /* Doubling stops at 30 s (plus jitter). */
    for (int i = 0; i < 10; i++) {
        fx->now += waiting();
        assert_int_equal(next(), TT_K8S_REQ_LIST);
        respond(500, NULL, NULL);
    }
    uint64_t w3 = waiting();
    assert_true(w3 >= 24000 && w3 <= 30000); /* never above the cap */
    /* Retry-After wins when longer. */
    fx->now += w3;
    assert_int_equal(next(), TT_K8S_REQ_LIST);
    tt_k8s_reflector_response_status(fx->r, 429, 90);
    tt_k8s_reflector_response_end(fx->r, fx->now, NULL, false);
    assert_true(waiting() >= 90000);
    /* After two quiet minutes the backoff starts over. */
    fx->now += 200000;
    list_all("5", "");
    assert_true(tt_k8s_reflector_synced(fx->r));
    assert_int_equal(next(), TT_K8S_REQ_WATCH);
    /* Refused connection on a watch: back off, then re-watch (no relist). */
    tt_k8s_reflector_response_end(fx->r, fx->now, "Couldn't connect to server", true);
    uint64_t w4 = waiting();
    assert_true(w4 >= 800 && w4 <= 1000);
    fx->now += w4;
    assert_int_equal(next(), TT_K8S_REQ_WATCH);
    /* A watch that ends at once with nothing is an error: back off, relist. */
    respond(200, "", NULL);
    assert_true(waiting() >= 1600);
    fx->now += waiting();
    assert_int_equal(next(), TT_K8S_REQ_LIST);
    assert_string_equal(fx->path, "/api/v1/services?resourceVersion=5");
}

static void test_bad_objects(void **state)
{
    (void)state;
    make(TT_K8S_SERVICE, NULL, 0);
    /* One bad item in a list is skipped; the rest is applied. */
    list_all("10", SVC("a", "3", 80) "," SVC("bad", "4", 70000) ",{\"metadata\":{}}");
    assert_int_equal(tt_k8s_store_count(fx->store, TT_K8S_SERVICE), 1);
    assert_non_null(strstr(fx->rejects, "ns/bad: spec.ports[0].port"));
    assert_non_null(strstr(fx->rejects, "?: "));
    /* A watch event turning a good object bad removes it; the stream goes on. */
    fx->rejects[0] = fx->changes[0] = '\0';
    assert_int_equal(next(), TT_K8S_REQ_WATCH);
    tt_k8s_reflector_response_status(fx->r, 200, 0);
    const char *s = EV("MODIFIED", SVC("a", "11", 0)) EV("ADDED", SVC("d", "12", 80));
    assert_int_equal(tt_k8s_reflector_response_data(fx->r, s, strlen(s)), 0);
    assert_non_null(strstr(fx->rejects, "ns/a: "));
    assert_string_equal(fx->changes, "rejected ns/a;ADDED ns/d;");
    assert_null(tt_k8s_store_get(fx->store, TT_K8S_SERVICE, "ns/a"));
    /* A line that is no event ends the stream: relist after a backoff. */
    s = "{\"type\":\"ADDED\",\"object\":[]}\n" EV("ADDED", SVC("e", "13", 80));
    assert_int_not_equal(tt_k8s_reflector_response_data(fx->r, s, strlen(s)), 0);
    assert_null(tt_k8s_store_get(fx->store, TT_K8S_SERVICE, "ns/e"));
    tt_k8s_reflector_response_end(fx->r, fx->now, "aborted by callback", false);
    fx->now += waiting();
    assert_int_equal(next(), TT_K8S_REQ_LIST);
    /* A list that is not JSON fails (backoff), keeping the store. */
    respond(200, "{\"items\":[", NULL);
    assert_int_equal(tt_k8s_store_count(fx->store, TT_K8S_SERVICE), 1);
    fx->now += waiting();
    assert_int_equal(next(), TT_K8S_REQ_LIST);
    respond(200, "{\"metadata\":{},\"items\":[]}", NULL); /* no resourceVersion */
    assert_int_equal(tt_k8s_store_count(fx->store, TT_K8S_SERVICE), 1);
    assert_true(waiting() > 0);
}

static void test_watch_500_error_event(void **state)
{
    (void)state;
    make(TT_K8S_INGRESS_CLASS, "ignored", 0);
    assert_int_equal(next(), TT_K8S_REQ_LIST);
    assert_string_equal(fx->path, "/apis/networking.k8s.io/v1/ingressclasses?limit=500&resourceVersion=0");
    respond(200, "{\"metadata\":{\"resourceVersion\":\"7\"},\"items\":[{\"metadata\":{\"name\":\"t\"},"
                 "\"spec\":{\"controller\":\"x\"}}]}", NULL);
    assert_non_null(tt_k8s_store_get(fx->store, TT_K8S_INGRESS_CLASS, "t"));
    assert_int_equal(next(), TT_K8S_REQ_WATCH);
    fx->now += 10000;
    respond(200, EV("ERROR", "{\"code\":500,\"reason\":\"InternalError\"}"), NULL);
    uint64_t w = waiting();
    assert_true(w >= 800 && w <= 1000);
    fx->now += w;
    assert_int_equal(next(), TT_K8S_REQ_LIST);
    /* HTTP 504 "too large resource version" on a watch: consistent relist at once. */
    respond(200, "{\"metadata\":{\"resourceVersion\":\"9\"},\"items\":[]}", NULL);
    assert_null(tt_k8s_store_get(fx->store, TT_K8S_INGRESS_CLASS, "t"));
    assert_int_equal(next(), TT_K8S_REQ_WATCH);
    respond(504, "{\"kind\":\"Status\",\"code\":504}", NULL);
    assert_int_equal(next(), TT_K8S_REQ_LIST);
    assert_string_equal(fx->path, "/apis/networking.k8s.io/v1/ingressclasses?limit=500");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_paged_list_then_watch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch_410_relists_and_deletes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backoff, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_objects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch_500_error_event, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
