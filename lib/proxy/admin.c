/* proxy/admin.c - a deliberately small HTTP/1.1 server for probes and metrics: one request per
 * connection, head only, answered from counters, then closed. */
#include "proxy/admin.h"

#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/base.h"
#include "base/buf.h"
#include "proxy/internal.h"

#define ADMIN_MAX_HEAD 8192

struct tt_admin {
    uv_tcp_t listener;
    struct tt_proxy *proxy;
    struct admin_conn *conns;
    bool stopping;
    tt_admin_metrics_cb extra;
    void *extra_ud;
};

struct admin_conn {
    uv_tcp_t tcp;
    uv_write_t wreq;
    struct tt_admin *a;
    struct admin_conn *next;
    char in[ADMIN_MAX_HEAD];
    size_t in_len;
    struct tt_buf out;
    bool answered;
};

static void on_admin_accept(uv_stream_t *server, int status);
static void on_admin_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_admin_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);
static void on_admin_written(uv_write_t *req, int status);
static void on_admin_conn_closed(uv_handle_t *h);
static void on_listener_closed(uv_handle_t *h);

int tt_admin_start(struct tt_admin **out, uv_loop_t *loop, const char *addr, int port,
                   struct tt_proxy *p, struct tt_err *err)
{
    struct tt_admin *a;
    struct sockaddr_storage ss;
    socklen_t len;
    int rc;

    if (tt_proxy__sockaddr(addr, port, &ss, &len) != 0)
        return tt_err_set(err, TT_EINVAL, "admin: bad address %s", addr);
    if ((a = tt_calloc(1, sizeof(*a))) == NULL)
        return tt_err_set(err, TT_ENOMEM, "admin: out of memory");
    a->proxy = p;
    uv_tcp_init(loop, &a->listener);
    if ((rc = uv_tcp_bind(&a->listener, (struct sockaddr *)&ss, 0)) != 0 ||
        (rc = uv_listen((uv_stream_t *)&a->listener, 128, on_admin_accept)) != 0) {
        uv_close((uv_handle_t *)&a->listener, on_listener_closed);
        return tt_err_set(err, rc, "admin: cannot listen on %s:%d: %s", addr, port,
                          uv_strerror(rc));
    }
    *out = a;
    return 0;
}

static void on_listener_closed(uv_handle_t *h)
{
    struct tt_admin *a = tt_container_of((uv_tcp_t *)h, struct tt_admin, listener);
    tt_free(a);
}

void tt_admin_stop(struct tt_admin *a)
{
    if (a == NULL)
        return;
    a->stopping = true;
    for (struct admin_conn *c = a->conns; c != NULL; c = c->next)
        if (!uv_is_closing((uv_handle_t *)&c->tcp))
            uv_close((uv_handle_t *)&c->tcp, on_admin_conn_closed);
    uv_close((uv_handle_t *)&a->listener, on_listener_closed);
}

static void on_admin_accept(uv_stream_t *server, int status)
{
    struct tt_admin *a = tt_container_of((uv_tcp_t *)server, struct tt_admin, listener);
    struct admin_conn *c;
    if (status != 0 || a->stopping || (c = tt_calloc(1, sizeof(*c))) == NULL)
        return;
    c->a = a;
    tt_buf_init(&c->out, 1 << 20);
    uv_tcp_init(server->loop, &c->tcp);
    c->next = a->conns;
    a->conns = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 ||
        uv_read_start((uv_stream_t *)&c->tcp, on_admin_alloc, on_admin_read) != 0)
        uv_close((uv_handle_t *)&c->tcp, on_admin_conn_closed);
}

static void on_admin_conn_closed(uv_handle_t *h)
{
    struct admin_conn *c = tt_container_of((uv_tcp_t *)h, struct admin_conn, tcp);
    struct admin_conn **pp = &c->a->conns;
    for (; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    tt_buf_dispose(&c->out);
    tt_free(c);
}

static void on_admin_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct admin_conn *c = tt_container_of((uv_tcp_t *)h, struct admin_conn, tcp);
    (void)suggested;
    *buf = uv_buf_init(c->in + c->in_len, (unsigned)(sizeof(c->in) - c->in_len));
}

static void metric(struct tt_buf *b, const char *name, const char *type, const char *help,
                   const char *labels, unsigned long long v)
{
    tt_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s%s %llu\n", name, help, name, type, name,
                  labels, v);
}

static void render_metrics(struct tt_admin *a, struct tt_buf *b)
{
    struct tt_proxy_stats st;
    static const char *classes[] = {"error", "1xx", "2xx", "3xx", "4xx", "5xx"};
    tt_proxy_stats(a->proxy, &st);
    metric(b, "tether_connections_accepted_total", "counter", "Client connections accepted.",
           "", st.connections_accepted);
    metric(b, "tether_connections_active", "gauge", "Client connections open.", "",
           st.connections_active);
    metric(b, "tether_requests_total", "counter", "Requests whose head was parsed.", "",
           st.requests);
    tt_buf_printf(b, "# HELP tether_responses_total Responses by status class.\n"
                     "# TYPE tether_responses_total counter\n");
    for (int i = 0; i < 6; i++)
        tt_buf_printf(b, "tether_responses_total{class=\"%s\"} %llu\n", classes[i],
                      (unsigned long long)st.responses_by_class[i]);
    metric(b, "tether_upstream_connects_total", "counter", "New upstream connections.", "",
           st.upstream_connects);
    metric(b, "tether_upstream_reuses_total", "counter", "Requests sent on kept-alive upstream "
           "connections.", "", st.upstream_reuses);
    metric(b, "tether_upstream_connect_failures_total", "counter",
           "Upstream connection attempts that failed or timed out.", "",
           st.upstream_connect_failures);
    tt_buf_printf(b, "# HELP tether_affinity_decisions_total Endpoint choices of sticky requests "
                     "by outcome.\n# TYPE tether_affinity_decisions_total counter\n");
    for (int i = 1; i < 5; i++)
        tt_buf_printf(b, "tether_affinity_decisions_total{outcome=\"%s\"} %llu\n",
                      tt_sticky__outcome_name((enum tt_sticky_outcome)i), (unsigned long long)st.affinity[i]);
    metric(b, "tether_route_table_generation", "gauge", "Generation of the published route table.",
           "", tt_proxy_generation(a->proxy));
    if (a->extra != NULL)
        a->extra(a->extra_ud, b);
}

void tt_admin_set_extra_metrics(struct tt_admin *a, tt_admin_metrics_cb render, void *ud)
{
    a->extra = render;
    a->extra_ud = ud;
}

static void on_admin_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    struct admin_conn *c = tt_container_of((uv_tcp_t *)st, struct admin_conn, tcp);
    struct tt_buf body;
    const char *status = "200 OK", *ctype = "text/plain; charset=utf-8";
    char *sp1, *sp2;
    uv_buf_t out;
    (void)buf;

    if (nread < 0 || (nread == 0 && c->in_len == sizeof(c->in))) {
        uv_close((uv_handle_t *)st, on_admin_conn_closed);
        return;
    }
    c->in_len += (size_t)nread;
    if (c->answered || memmem(c->in, c->in_len, "\r\n\r\n", 4) == NULL) {
        if (c->in_len == sizeof(c->in))
            uv_close((uv_handle_t *)st, on_admin_conn_closed);
        return;
    }
    c->answered = true;
    uv_read_stop(st);
    tt_buf_init(&body, 1 << 20);
    sp1 = memchr(c->in, ' ', c->in_len);
    sp2 = sp1 != NULL ? memchr(sp1 + 1, ' ', c->in_len - (size_t)(sp1 + 1 - c->in)) : NULL;
    if (sp1 == NULL || sp2 == NULL) {
        status = "400 Bad Request";
        tt_buf_append_str(&body, "bad request\n");
    } else {
        size_t n = (size_t)(sp2 - sp1 - 1);
        const char *q = memchr(sp1 + 1, '?', n);
        if (q != NULL)
            n = (size_t)(q - sp1 - 1);
        if (n == 8 && memcmp(sp1 + 1, "/healthz", 8) == 0) {
            tt_buf_append_str(&body, "ok\n");
        } else if (n == 7 && memcmp(sp1 + 1, "/readyz", 7) == 0) {
            if (tt_proxy_ready(c->a->proxy)) {
                tt_buf_append_str(&body, "ok\n");
            } else {
                status = "503 Service Unavailable";
                tt_buf_append_str(&body, "no route table published yet\n");
            }
        } else if (n == 8 && memcmp(sp1 + 1, "/metrics", 8) == 0) {
            ctype = "text/plain; version=0.0.4; charset=utf-8";
            render_metrics(c->a, &body);
        } else {
            status = "404 Not Found";
            tt_buf_append_str(&body, "not found\n");
        }
    }
    tt_buf_printf(&c->out,
                  "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                  "Connection: close\r\n\r\n",
                  status, ctype, body.len);
    tt_buf_append(&c->out, body.data, body.len);
    tt_buf_dispose(&body);
    out = uv_buf_init(c->out.data, (unsigned)c->out.len);
    if (uv_write(&c->wreq, st, &out, 1, on_admin_written) != 0)
        uv_close((uv_handle_t *)st, on_admin_conn_closed);
}

static void on_admin_written(uv_write_t *req, int status)
{
    struct admin_conn *c = tt_container_of(req, struct admin_conn, wreq);
    (void)status;
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_admin_conn_closed);
}
