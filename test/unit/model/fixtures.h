/* test/unit/model/fixtures.h - shared by the lib/model tests: the reports buffer that
 * on_reject() fills (pass &reports as its user data), setup/teardown that empty it and check
 * leaks, and objects written as JSON with ' for " put into a store (add(), or try_add() in an
 * out-of-memory child, which must not fail the test) or decoded on their own (ingress_obj()).
 * new_store() holds our IngressClass "tether". Include after <cmocka.h>. */
#ifndef TT_TEST_UNIT_MODEL_FIXTURES_H
#define TT_TEST_UNIT_MODEL_FIXTURES_H

#include <cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "k8s/store.h"
#include "unit/leakcheck.h"

static char reports[1 << 15];
static int n_reports;

static void clear_reports(void)
{
    reports[0] = '\0';
    n_reports = 0;
}

/* cmocka setup and teardown: no reports yet, and every test gives back what it allocated.
 * With TT_TEST_VERBOSE set, each test's reports go to stderr. */
__attribute__((unused)) static int setup(void **state)
{
    (void)state;
    clear_reports();
    tt_test_leaks_begin();
    return 0;
}

__attribute__((unused)) static int teardown(void **state)
{
    (void)state;
    if (getenv("TT_TEST_VERBOSE") != NULL)
        fputs(reports, stderr);
    tt_test_leaks_end();
    return 0;
}

__attribute__((unused)) static void on_reject(void *ud, const char *kind, const char *object,
                                              const char *reason)
{
    size_t n = strlen(reports);
    assert_ptr_equal(ud, &reports);
    snprintf(reports + n, sizeof(reports) - n, "%s %s: %s\n", kind, object, reason);
    n_reports++;
}

/* How many times |needle| occurs in |hay|. */
__attribute__((unused)) static int count(const char *hay, const char *needle)
{
    int k = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        k++;
    return k;
}

__attribute__((unused)) static void expect_report(const char *line)
{
    if (strstr(reports, line) == NULL)
        fail_msg("no report \"%s\" in:\n%s", line, reports);
}

/* Formats one object written as JSON with ' for " into |buf| and decodes it. Returns 0, or an
 * error (in the OOM child) with what went wrong in |err|. */
static int decode(struct tt_k8s_object **o, char *buf, size_t size, struct tt_err *err,
                  const char *fmt, va_list ap)
{
    cJSON *j;
    int rc;

    vsnprintf(buf, size, fmt, ap);
    for (char *p = buf; *p != '\0'; p++)
        if (*p == '\'')
            *p = '"';
    if ((j = cJSON_Parse(buf)) == NULL)
        return tt_err_set(err, TT_EINVAL, "bad test JSON");
    rc = tt_k8s_decode(TT_K8S_KIND_NONE, j, o, err);
    cJSON_Delete(j);
    return rc;
}

/* Decodes or fails the test, naming the caller's line and the text. */
static struct tt_k8s_object *decode_at(const char *file, int line, const char *fmt, va_list ap)
{
    char buf[8192];
    struct tt_k8s_object *o = NULL;
    struct tt_err err = {0};

    if (decode(&o, buf, sizeof(buf), &err, fmt, ap) != 0)
        fail_msg("%s:%d: %s in %s", file, line, err.msg, buf);
    return o;
}

/* Adds one object to |s|. Returns 0 or an error, for the OOM child. */
__attribute__((unused)) static int try_add(struct tt_k8s_store *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int try_add(struct tt_k8s_store *s, const char *fmt, ...)
{
    char buf[8192];
    struct tt_k8s_object *o = NULL;
    struct tt_err err = {0};
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = decode(&o, buf, sizeof(buf), &err, fmt, ap);
    va_end(ap);
    return rc != 0 ? rc : tt_k8s_store_upsert(s, o);
}

/* add(s, fmt, ...): adds one object to |s| or fails the test. */
#define add(s, ...) add_at(__FILE__, __LINE__, (s), __VA_ARGS__)
static void add_at(const char *file, int line, struct tt_k8s_store *s, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void add_at(const char *file, int line, struct tt_k8s_store *s, const char *fmt, ...)
{
    struct tt_k8s_object *o;
    va_list ap;

    va_start(ap, fmt);
    o = decode_at(file, line, fmt, ap);
    va_end(ap);
    assert_int_equal(tt_k8s_store_upsert(s, o), 0);
}

/* ingress_obj(fmt, ...): one decoded object, not in any store (the caller frees it). */
#define ingress_obj(...) ingress_obj_at(__FILE__, __LINE__, __VA_ARGS__)
__attribute__((unused)) static struct tt_k8s_object *ingress_obj_at(const char *file, int line,
                                                                     const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static struct tt_k8s_object *ingress_obj_at(const char *file, int line, const char *fmt, ...)
{
    struct tt_k8s_object *o;
    va_list ap;

    va_start(ap, fmt);
    o = decode_at(file, line, fmt, ap);
    va_end(ap);
    return o;
}

/* A store with our IngressClass "tether" (controller tether.dev/ingress-controller). */
__attribute__((unused)) static struct tt_k8s_store *new_store(void)
{
    struct tt_k8s_store *s = tt_k8s_store_new();
    assert_non_null(s);
    add(s, "{'kind':'IngressClass','metadata':{'name':'tether'},'spec':{'controller':"
           "'tether.dev/ingress-controller'}}");
    return s;
}

/* An Ingress in namespace shop of our class; |rules| is the JSON of spec.rules. */
__attribute__((unused)) static void add_ingress(struct tt_k8s_store *s, const char *name,
                                                const char *ts, const char *annotations,
                                                const char *rules)
{
    add(s,
        "{'kind':'Ingress','metadata':{'name':'%s','namespace':'shop','creationTimestamp':'%s',"
        "'annotations':{%s}},'spec':{'ingressClassName':'tether','rules':[%s]}}",
        name, ts, annotations, rules);
}

#endif
