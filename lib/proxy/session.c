/* proxy/session.c - one client connection and the exchanges on it: parse the request head with
 * llhttp (strict), route it, connect (or reuse) an upstream connection, stream the body both
 * ways with backpressure, re-frame bodies, tunnel upgrades, answer errors, log the exchange.
 *
 * Flow control: at most one write in flight per direction. Body pieces are written straight
 * from the read buffer they arrived in (no copy); the side that produced them is not read
 * again until that write completes, so a slow peer never makes us buffer more than one read
 * buffer per direction.
 *
 * Lifecycle: accept -> on_client_read -> on_req_headers_complete -> do_request -> do_connect ->
 * on_upstream_connect -> do_send_head -> (body) -> on_upstream_read -> on_resp_* ->
 * on_down_write -> do_finish_exchange -> next request or do_close -> on_close. */
#include "proxy/internal.h"

#include <arpa/inet.h>
#include <llhttp.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/base.h"
#include "base/log.h"
#include "base/time.h"
#include "http/http.h"

#define WB_MAX     24
#define DEFER_UP   1
#define DEFER_DOWN 2

enum pause_reason {
    PAUSE_NONE = 0,
    PAUSE_HEAD,      /* request head complete: route before reading the body */
    PAUSE_FULL,      /* write batch full: flush, then continue parsing */
    PAUSE_DONE,      /* message complete: stop before a pipelined next message */
};

enum phase {
    PH_IDLE = 0,     /* waiting for or reading a request head */
    PH_ROUTING,      /* head parsed, finding / connecting an upstream */
    PH_EXCHANGE,     /* upstream attached, streaming */
    PH_LOCAL,        /* writing a response of our own */
    PH_TUNNEL,       /* after 101: raw bytes both ways */
    PH_LINGER,       /* response sent and FIN queued; discarding what the client still sends */
    PH_CLOSING,
};

enum framing {
    FR_NONE = 0,     /* no body (HEAD, 1xx, 204, 304) or Content-Length passed through */
    FR_CHUNKED,      /* we emit chunked framing */
    FR_CLOSE,        /* raw payload, delimited by closing the client connection */
};

struct wpiece {
    const char *ext; /* NULL: bytes at |off| in the batch's scratch buffer */
    uint32_t off;
    uint32_t len;
};

/* One write in flight per direction; pieces point into read buffers or into |scratch|. */
struct wbatch {
    uv_write_t req;
    struct wpiece p[WB_MAX];
    uv_buf_t bufs[WB_MAX];
    unsigned n;
    bool busy;
    size_t bytes;
    struct tt_buf scratch;
};

struct tt_session {
    uv_tcp_t down;
    uv_timer_t timer;
    int open_handles;
    struct tt_worker *w;
    struct tt_session *prev, *next;
    struct tt_session *defer_next;  /* worker's deferred-completion list */
    uint8_t defer;                  /* DEFER_UP | DEFER_DOWN: batches written, cb pending */
    enum phase phase;
    uv_shutdown_t shutdown_req;
    bool linger_wanted;            /* input may be left unread (parse error): linger on close */

    /* client input */
    llhttp_t rp;
    char *in;
    size_t in_len, in_off;
    bool reading;
    bool eof;
    bool nodelay;                  /* TCP_NODELAY set (lazily, as nginx does) */
    enum pause_reason req_pause;
    bool parse_pending;            /* paused at the head: llhttp must run once more, even on
                                    * zero bytes, to finish a bodyless message */
    uint64_t head_deadline;        /* ms; set when the first byte of a request arrives */
    struct tt_http_head req;
    const char *exec_end;          /* end of the bytes given to the running llhttp_execute */
    bool value_at_end;             /* the last header-value piece ended at exec_end */
    int req_error;                 /* status chosen by a callback that failed the parse */

    /* the current exchange */
    struct tt_route_table *table;  /* ref held for the exchange */
    const struct tt_route_backend *backend;
    const struct tt_route_rule *rule;
    uint64_t max_body;
    struct tt_slice host;          /* into req.bytes */
    struct tt_slice path;
    bool keepalive;
    bool close_after;
    bool is_head;
    bool upgrade;
    bool absolute_form;            /* the target carried the authority: it is the Host */
    bool expect_continue;
    bool req_chunked;
    bool req_last_chunk;
    bool req_done;
    uint64_t req_body;
    int tries;
    bool retry_same;               /* next attempt: the same endpoint (stale pooled connection) */
    uint32_t rr_start;
    struct tt_sticky sticky;       /* cookie affinity; sticky.aff NULL when not sticky */
    enum tt_canary_reason canary;  /* why the backend was chosen, when the rule has canaries */
    char request_id[72];
    struct tt_upconn *up;
    const struct tt_route_endpoint *endpoint;

    /* the response */
    llhttp_t pp;
    enum pause_reason resp_pause;
    struct tt_http_head resp;
    bool resp_started;             /* any response byte (ours or upstream's) sent to the client */
    bool resp_head_done;
    bool resp_done;
    bool resp_last_chunk;
    bool tunnel_pending;
    bool up_eof;                   /* tunnel: the upstream sent FIN */
    bool up_shut, down_shut;       /* tunnel: FIN passed on to that side */
    bool resp_up_chunked;          /* the upstream framed its body in chunks */
    enum framing framing;
    int status;

    struct wbatch to_up, to_down;

    /* access log */
    uint64_t start_ns;
    uint64_t bytes_in, bytes_out;
    char client_ip[INET6_ADDRSTRLEN];
};

static void on_client_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_client_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);
static int on_req_message_begin(llhttp_t *p);
static int on_req_url(llhttp_t *p, const char *at, size_t n);
static int on_req_header_field(llhttp_t *p, const char *at, size_t n);
static int on_req_header_value(llhttp_t *p, const char *at, size_t n);
static int on_req_headers_complete(llhttp_t *p);
static int on_req_chunk_header(llhttp_t *p);
static int on_req_body(llhttp_t *p, const char *at, size_t n);
static int on_req_chunk_complete(llhttp_t *p);
static int on_req_message_complete(llhttp_t *p);
static void do_parse_client(struct tt_session *s);
static void do_request(struct tt_session *s);
static void do_connect(struct tt_session *s);
static void on_upstream_connect(uv_connect_t *req, int status);
static void do_send_head(struct tt_session *s);
static void on_up_write(uv_write_t *req, int status);
static void on_up_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_up_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);
static void on_up_timer(uv_timer_t *t);
static int on_resp_message_begin(llhttp_t *p);
static int on_resp_status(llhttp_t *p, const char *at, size_t n);
static int on_resp_header_field(llhttp_t *p, const char *at, size_t n);
static int on_resp_header_value(llhttp_t *p, const char *at, size_t n);
static int on_resp_headers_complete(llhttp_t *p);
static int on_resp_chunk_header(llhttp_t *p);
static int on_resp_body(llhttp_t *p, const char *at, size_t n);
static int on_resp_chunk_complete(llhttp_t *p);
static int on_resp_message_complete(llhttp_t *p);
static void do_parse_upstream(struct tt_session *s);
static void do_upstream_failed(struct tt_session *s, int status, const char *why);
static void on_down_write(uv_write_t *req, int status);
static void do_finish_exchange(struct tt_session *s);
static void do_local_response(struct tt_session *s, int status);
static void on_client_timer(uv_timer_t *t);
static void do_close(struct tt_session *s);
static void on_close(uv_handle_t *h);
static void do_linger(struct tt_session *s);
static void on_linger_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);
static void on_linger_shutdown(uv_shutdown_t *req, int status);
static void on_shutdown(uv_shutdown_t *req, int status);
static void do_shutdown(uv_stream_t *st);
static void tunnel_progress(struct tt_session *s);
static void on_up_close(uv_handle_t *h);
static void update_reading(struct tt_session *s);
static void arm_client_timer(struct tt_session *s);
static void flush_up(struct tt_session *s);
static void flush_down(struct tt_session *s);

static llhttp_settings_t req_settings = {
    .on_message_begin = on_req_message_begin,
    .on_url = on_req_url,
    .on_header_field = on_req_header_field,
    .on_header_value = on_req_header_value,
    .on_headers_complete = on_req_headers_complete,
    .on_chunk_header = on_req_chunk_header,
    .on_body = on_req_body,
    .on_chunk_complete = on_req_chunk_complete,
    .on_message_complete = on_req_message_complete,
};

static llhttp_settings_t resp_settings = {
    .on_message_begin = on_resp_message_begin,
    .on_status = on_resp_status,
    .on_header_field = on_resp_header_field,
    .on_header_value = on_resp_header_value,
    .on_headers_complete = on_resp_headers_complete,
    .on_chunk_header = on_resp_chunk_header,
    .on_body = on_resp_body,
    .on_chunk_complete = on_resp_chunk_complete,
    .on_message_complete = on_resp_message_complete,
};

/* ---- write batches ---------------------------------------------------------------------- */

static void wb_init(struct wbatch *b)
{
    b->n = 0;
    b->busy = false;
    b->bytes = 0;
    tt_buf_init(&b->scratch, 256 * 1024);
}

static bool wb_nearly_full(const struct wbatch *b)
{
    return b->n + 4 > WB_MAX; /* room for a chunk header, payload and CRLF */
}

static int wb_ext(struct wbatch *b, const char *p, size_t n)
{
    if (n == 0)
        return 0;
    if (b->n == WB_MAX)
        return -1;
    b->p[b->n++] = (struct wpiece){p, 0, (uint32_t)n};
    b->bytes += n;
    return 0;
}

static int wb_copy(struct wbatch *b, const char *p, size_t n)
{
    size_t off = b->scratch.len;
    if (n == 0)
        return 0;
    if (tt_buf_append(&b->scratch, p, n) != 0)
        return -1;
    /* Adjacent scratch pieces merge, which keeps heads to one piece. */
    if (b->n > 0 && b->p[b->n - 1].ext == NULL &&
        b->p[b->n - 1].off + b->p[b->n - 1].len == off) {
        b->p[b->n - 1].len += (uint32_t)n;
    } else {
        if (b->n == WB_MAX)
            return -1;
        b->p[b->n++] = (struct wpiece){NULL, (uint32_t)off, (uint32_t)n};
    }
    b->bytes += n;
    return 0;
}

static int wb_str(struct wbatch *b, const char *s)
{
    return wb_copy(b, s, strlen(s));
}

static int wb_slice(struct wbatch *b, struct tt_slice s)
{
    return wb_copy(b, s.ptr, s.len);
}

/* Writes the batch. A batch the kernel takes whole (the usual case) is written with
 * uv_try_write and its completion is queued on the worker's idle handle: libuv 1.44 would
 * otherwise re-register the socket with epoll_ctl after every uv_write drains, twice per
 * request. Completions still run later from the loop, never re-entrantly. */
static int wb_write(struct tt_session *s, struct wbatch *b, uv_stream_t *st, uv_write_cb cb,
                    uint8_t dir)
{
    unsigned first = 0;
    int rc;
    for (unsigned i = 0; i < b->n; i++) {
        const char *base = b->p[i].ext != NULL ? b->p[i].ext : b->scratch.data + b->p[i].off;
        b->bufs[i] = uv_buf_init((char *)base, b->p[i].len);
    }
    rc = uv_try_write(st, b->bufs, b->n);
    if (rc >= 0 && (size_t)rc == b->bytes) {
        struct tt_worker *w = s->w;
        b->busy = true;
        if (s->defer == 0) {
            s->defer_next = w->deferred;
            w->deferred = s;
        }
        s->defer |= dir;
        uv_idle_start(&w->defer_idle, tt_worker__on_defer_idle);
        return 0;
    }
    if (rc < 0 && rc != UV_EAGAIN)
        return rc;
    if (rc > 0) {
        size_t left = (size_t)rc;
        while (first < b->n && left >= b->bufs[first].len)
            left -= b->bufs[first++].len;
        b->bufs[first].base += left;
        b->bufs[first].len -= (unsigned)left;
    }
    if ((rc = uv_write(&b->req, st, b->bufs + first, b->n - first, cb)) == 0)
        b->busy = true;
    return rc;
}

static void wb_done(struct wbatch *b)
{
    b->n = 0;
    b->bytes = 0;
    b->busy = false;
    tt_buf_reset(&b->scratch);
}

/* ---- accept and teardown ------------------------------------------------------------------ */

static void session_link(struct tt_worker *w, struct tt_session *s)
{
    s->next = w->sessions;
    if (w->sessions != NULL)
        w->sessions->prev = s;
    w->sessions = s;
    w->n_sessions++;
}

static void session_unlink(struct tt_worker *w, struct tt_session *s)
{
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        w->sessions = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    w->n_sessions--;
}

#define SESSION_CACHE 256

/* A recycled session keeps the memory its heads and write batches grew, so steady-state
 * connection churn (Connection: close) does no allocation at all. */
static struct tt_session *session_get(struct tt_worker *w)
{
    struct tt_session *s = w->free_sessions;
    struct tt_http_head req, resp;
    struct tt_buf up_scratch, down_scratch;
    if (s == NULL)
        return tt_calloc(1, sizeof(*s));
    w->free_sessions = s->next;
    w->n_free_sessions--;
    req = s->req;
    resp = s->resp;
    up_scratch = s->to_up.scratch;
    down_scratch = s->to_down.scratch;
    memset(s, 0, sizeof(*s));
    s->req = req;
    s->resp = resp;
    s->to_up.scratch = up_scratch;
    s->to_down.scratch = down_scratch;
    tt_http_head_reset(&s->req);
    tt_http_head_reset(&s->resp);
    tt_buf_reset(&s->to_up.scratch);
    tt_buf_reset(&s->to_down.scratch);
    return s;
}

static void session_put(struct tt_worker *w, struct tt_session *s)
{
    if (w->n_free_sessions >= SESSION_CACHE || w->draining || s->req.bytes.cap > 8192 ||
        s->resp.bytes.cap > 8192 || s->to_up.scratch.cap > 8192 ||
        s->to_down.scratch.cap > 8192) {
        tt_http_head_dispose(&s->req);
        tt_http_head_dispose(&s->resp);
        tt_buf_dispose(&s->to_up.scratch);
        tt_buf_dispose(&s->to_down.scratch);
        tt_free(s);
        return;
    }
    s->next = w->free_sessions;
    w->free_sessions = s;
    w->n_free_sessions++;
}

void tt_session__free_cache(struct tt_worker *w)
{
    while (w->free_sessions != NULL) {
        struct tt_session *s = w->free_sessions;
        w->free_sessions = s->next;
        tt_http_head_dispose(&s->req);
        tt_http_head_dispose(&s->resp);
        tt_buf_dispose(&s->to_up.scratch);
        tt_buf_dispose(&s->to_down.scratch);
        tt_free(s);
    }
    w->n_free_sessions = 0;
}

/* Why not uv_listen/uv_accept: libuv accepts until EAGAIN on every wake-up (one failed
 * accept4 per connection when they arrive one at a time) and the peer address then costs a
 * getpeername. Here one accept4 per readable event returns the address with the socket, and
 * the listen socket's level-triggered readiness brings us back for the next one. */
int tt_session__accept(struct tt_worker *w)
{
    struct tt_session *s;
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    bool recycled = w->free_sessions != NULL;
    int fd;

    fd = accept4(w->listen_fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd == -1)
        return errno == EMFILE || errno == ENFILE ? UV_EMFILE : 0;
    if ((s = session_get(w)) == NULL) {
        close(fd); /* out of memory: drop this one rather than leave it queued */
        return 0;
    }
    s->w = w;
    uv_tcp_init(&w->loop, &s->down);
    uv_timer_init(&w->loop, &s->timer);
    s->open_handles = 2;
    session_link(w, s);
    atomic_fetch_add_explicit(&w->c.accepted, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&w->c.active, 1, memory_order_relaxed);
    llhttp_init(&s->rp, HTTP_REQUEST, &req_settings);
    s->rp.data = s;
    if (!recycled) {
        tt_http_head_init(&s->req, w->cfg->max_header_bytes, w->cfg->max_headers);
        tt_http_head_init(&s->resp, 64 * 1024, 256);
        wb_init(&s->to_up);
        wb_init(&s->to_down);
    }
    if (uv_tcp_open(&s->down, fd) != 0) {
        close(fd);
        do_close(s);
        return 0;
    }
    if (ss.ss_family == AF_INET)
        uv_ip4_name((struct sockaddr_in *)&ss, s->client_ip, sizeof(s->client_ip));
    else if (ss.ss_family == AF_INET6)
        uv_ip6_name((struct sockaddr_in6 *)&ss, s->client_ip, sizeof(s->client_ip));
    s->phase = PH_IDLE;
    update_reading(s);
    arm_client_timer(s);
    return 0;
}

static void release_exchange(struct tt_session *s)
{
    tt_route_table_unref(s->table);
    s->table = NULL;
    s->backend = NULL;
    s->rule = NULL;
    s->endpoint = NULL;
    s->sticky.aff = NULL; /* it pointed into the table */
}

static void detach_upstream(struct tt_session *s, bool reuse)
{
    struct tt_upconn *u = s->up;
    if (u == NULL)
        return;
    s->up = NULL;
    u->s = NULL;
    uv_timer_stop(&u->timer);
    tt_worker__buf_put(s->w, u->in);
    u->in = NULL;
    u->in_len = u->in_off = 0;
    if (reuse && !u->closing && !s->w->draining) {
        u->requests++;
        tt_pool__put(s->w, u);
        if (u->pooled) {
            /* Idle: read only to notice the peer closing; any byte or EOF closes it. The
             * stream usually still reads from the exchange, so this is then a no-op. */
            uv_read_start((uv_stream_t *)&u->tcp, on_up_alloc, on_up_read);
            uv_timer_start(&u->timer, on_up_timer, s->w->cfg->upstream_keepalive_timeout_ms, 0);
        }
    } else {
        tt_upconn__close(u);
    }
}

static void do_close(struct tt_session *s)
{
    if (s->phase == PH_CLOSING)
        return;
    s->phase = PH_CLOSING;
    detach_upstream(s, false);
    release_exchange(s);
    uv_close((uv_handle_t *)&s->down, on_close);
    uv_close((uv_handle_t *)&s->timer, on_close);
}

static void on_close(uv_handle_t *h)
{
    struct tt_session *s = h->type == UV_TIMER
                               ? tt_container_of((uv_timer_t *)h, struct tt_session, timer)
                               : tt_container_of((uv_tcp_t *)h, struct tt_session, down);
    struct tt_worker *w = s->w;
    if (--s->open_handles > 0)
        return;
    if (s->defer != 0) {
        /* Completions still queued would run after the free. */
        struct tt_session **pp = &w->deferred;
        while (*pp != NULL && *pp != s)
            pp = &(*pp)->defer_next;
        if (*pp == s)
            *pp = s->defer_next;
    }
    tt_worker__buf_put(w, s->in);
    s->in = NULL;
    session_unlink(w, s);
    atomic_fetch_sub_explicit(&w->c.active, 1, memory_order_relaxed);
    session_put(w, s);
    tt_worker__maybe_exit(w);
}

void tt_session__run_deferred(struct tt_worker *w)
{
    struct tt_session *list = w->deferred;
    w->deferred = NULL; /* completions may queue new writes: they run on the next pass */
    while (list != NULL) {
        struct tt_session *s = list;
        uint8_t d = s->defer;
        list = s->defer_next;
        s->defer = 0;
        s->defer_next = NULL;
        if ((d & DEFER_UP) && s->phase != PH_CLOSING)
            on_up_write(&s->to_up.req, 0);
        if ((d & DEFER_DOWN) && s->phase != PH_CLOSING)
            on_down_write(&s->to_down.req, 0);
    }
}

void tt_session__drain_all(struct tt_worker *w, bool force)
{
    struct tt_session *s = w->sessions, *next;
    for (; s != NULL; s = next) {
        next = s->next;
        if (force || (s->phase == PH_IDLE && s->head_deadline == 0 && s->in_off == s->in_len))
            do_close(s);
        else
            s->close_after = true;
    }
}

/* Nagle only matters once a connection carries a second write: a multi-write response or
 * a kept-alive connection. One-shot connections skip the system call. */
static void ensure_nodelay(struct tt_session *s)
{
    if (!s->nodelay) {
        s->nodelay = true;
        uv_tcp_nodelay(&s->down, 1);
    }
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)status;
    tt_free(req);
}

/* Half-closes |st| (sends FIN) once pending writes are out. */
static void do_shutdown(uv_stream_t *st)
{
    uv_shutdown_t *req = tt_calloc(1, sizeof(*req));
    if (req != NULL && uv_shutdown(req, st, on_shutdown) != 0)
        tt_free(req);
}

/* Lingering close (nginx's lingering_close): when the client may still be sending (an unread
 * body behind a 413, bytes behind a 400), closing at once makes the kernel answer its data
 * with a reset that can destroy our response before the client reads it. So send FIN first,
 * then read and discard until the client closes or the linger timer fires. */
static void do_linger(struct tt_session *s)
{
    s->phase = PH_LINGER;
    detach_upstream(s, false);
    release_exchange(s);
    if (s->reading)
        uv_read_stop((uv_stream_t *)&s->down);
    s->reading = false;
    if (uv_shutdown(&s->shutdown_req, (uv_stream_t *)&s->down, on_linger_shutdown) != 0 ||
        uv_read_start((uv_stream_t *)&s->down, on_client_alloc, on_linger_read) != 0) {
        do_close(s);
        return;
    }
    s->in_off = s->in_len = 0;
    uv_timer_start(&s->timer, on_client_timer, 5000, 0);
}

static void on_linger_shutdown(uv_shutdown_t *req, int status)
{
    (void)req;
    (void)status; /* a failed shutdown ends in the read error or the timer */
}

static void on_linger_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    struct tt_session *s = tt_container_of((uv_tcp_t *)st, struct tt_session, down);
    (void)buf;
    if (nread < 0)
        do_close(s);
    else
        s->in_off = s->in_len = 0; /* discard */
}

/* Passes each side's FIN to the other once what it sent before is written, and closes the
 * session when both directions are finished, so finished tunnels never hold descriptors. */
static void tunnel_progress(struct tt_session *s)
{
    if (s->up == NULL) {
        do_close(s);
        return;
    }
    if (s->eof && !s->up_shut && !s->to_up.busy && s->in_off == s->in_len) {
        s->up_shut = true;
        do_shutdown((uv_stream_t *)&s->up->tcp);
    }
    if (s->up_eof && !s->down_shut && !s->to_down.busy && s->up->in_off == s->up->in_len) {
        s->down_shut = true;
        do_shutdown((uv_stream_t *)&s->down);
    }
    if (s->up_shut && s->down_shut)
        do_close(s);
}

/* ---- flow control ------------------------------------------------------------------------- */

/* Reading stays registered across requests: with libuv every stop/start pair costs epoll_ctl
 * calls, which measured as the largest per-request overhead. Backpressure comes from the
 * buffer: a side is read only while its buffer has room that no in-flight write refers to. */
static size_t client_room(const struct tt_session *s)
{
    if (s->in == NULL)
        return TT_IOBUF_SIZE;
    if (!s->to_up.busy)
        return TT_IOBUF_SIZE - (s->in_len - s->in_off); /* alloc may compact */
    return TT_IOBUF_SIZE - s->in_len;
}

static bool want_client_read(const struct tt_session *s)
{
    if (s->eof)
        return false;
    switch (s->phase) {
    case PH_IDLE:
    case PH_ROUTING:
    case PH_EXCHANGE:
    case PH_LOCAL:
    case PH_TUNNEL:
        return client_room(s) > 0;
    default:
        return false;
    }
}

static bool want_up_read(const struct tt_session *s)
{
    const struct tt_upconn *u = s->up;
    if (u == NULL || !u->connected || s->up_eof || u->in == NULL)
        return false;
    if (s->phase != PH_EXCHANGE && s->phase != PH_TUNNEL)
        return false;
    if (u->in_off == u->in_len && !s->to_down.busy)
        return true;
    return u->in_len < TT_IOBUF_SIZE;
}

static void update_reading(struct tt_session *s)
{
    bool want;
    if (s->phase == PH_CLOSING || s->phase == PH_LINGER)
        return;
    want = want_client_read(s);
    if (want && !s->reading) {
        if (uv_read_start((uv_stream_t *)&s->down, on_client_alloc, on_client_read) == 0)
            s->reading = true;
    } else if (!want && s->reading) {
        uv_read_stop((uv_stream_t *)&s->down);
        s->reading = false;
    }
    if (s->up != NULL && s->up->connected) {
        /* uv_read_start on a reading stream is a cheap UV_EALREADY, no system call. */
        if (want_up_read(s))
            uv_read_start((uv_stream_t *)&s->up->tcp, on_up_alloc, on_up_read);
        else
            uv_read_stop((uv_stream_t *)&s->up->tcp);
    }
}

static void arm_client_timer(struct tt_session *s)
{
    const struct tt_proxy_config *c = s->w->cfg;
    uint64_t ms = 0;
    if (s->phase == PH_CLOSING || s->phase == PH_LINGER)
        return;
    if (s->to_down.busy) {
        ms = c->client_send_timeout_ms;
    } else if (s->phase == PH_IDLE) {
        if (s->head_deadline != 0) {
            uint64_t now = tt_now_ms();
            ms = s->head_deadline > now ? s->head_deadline - now : 1;
        } else {
            ms = c->keepalive_timeout_ms;
        }
    } else if (s->phase == PH_EXCHANGE && !s->req_done && !s->to_up.busy) {
        ms = c->client_body_timeout_ms;
    } else if (s->phase == PH_TUNNEL) {
        ms = c->proxy_read_timeout_ms; /* idle tunnels close like nginx's proxy_read_timeout */
    }
    if (ms != 0)
        uv_timer_start(&s->timer, on_client_timer, ms, 0);
    else
        uv_timer_stop(&s->timer);
}

static void on_client_timer(uv_timer_t *t)
{
    struct tt_session *s = tt_container_of(t, struct tt_session, timer);
    if (s->phase == PH_LINGER) {
        do_close(s);
        return;
    }
    if (s->phase == PH_IDLE && s->head_deadline != 0 && !s->resp_started) {
        s->close_after = true;
        do_local_response(s, 408);
        return;
    }
    if (s->phase == PH_EXCHANGE && !s->resp_started && !s->to_down.busy) {
        s->close_after = true;
        s->req_done = true; /* the body never came; nothing more to forward */
        detach_upstream(s, false);
        do_local_response(s, 408);
        return;
    }
    do_close(s);
}

/* ---- client side: reading and parsing ------------------------------------------------------ */

static void on_client_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct tt_session *s = tt_container_of((uv_tcp_t *)h, struct tt_session, down);
    (void)suggested;
    if (s->in == NULL && (s->in = tt_worker__buf_get(s->w)) == NULL) {
        *buf = uv_buf_init(NULL, 0);
        return;
    }
    /* Bytes before in_off may still be in flight upstream: reuse them only once written. */
    if (s->in_off == s->in_len && !s->to_up.busy)
        s->in_off = s->in_len = 0;
    else if (s->in_off > 0 && !s->to_up.busy) {
        memmove(s->in, s->in + s->in_off, s->in_len - s->in_off);
        s->in_len -= s->in_off;
        s->in_off = 0;
    }
    *buf = uv_buf_init(s->in + s->in_len, (unsigned)(TT_IOBUF_SIZE - s->in_len));
}

static void on_client_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    struct tt_session *s = tt_container_of((uv_tcp_t *)st, struct tt_session, down);
    (void)buf;
    if (nread == 0)
        return;
    if (nread < 0) {
        s->eof = true;
        if (s->phase == PH_TUNNEL && s->up != NULL && nread == UV_EOF) {
            /* Half-close: pass the client's FIN on, keep the other direction. */
            uv_read_stop(st);
            s->reading = false;
            tunnel_progress(s);
            return;
        }
        /* A FIN after a complete request is a half-close: answer it, then close. Only a
         * client that leaves mid-head or mid-body gets nothing more. */
        if (s->phase == PH_IDLE || s->phase == PH_TUNNEL ||
            (!s->req_done && ((s->rp.flags & F_CHUNKED) || s->rp.content_length > 0))) {
            /* A client that leaves mid-request or while idle: nothing to answer. */
            if (s->status == 0 && s->phase != PH_IDLE)
                s->status = 499;
            do_close(s);
            return;
        }
        uv_read_stop(st);
        s->reading = false;
        return;
    }
    if (s->in_len == 0 && s->in_off == 0 && s->in == NULL)
        return;
    s->in_len += (size_t)nread;
    if (s->phase == PH_IDLE && s->head_deadline == 0)
        s->head_deadline = tt_now_ms() + s->w->cfg->client_header_timeout_ms;
    do_parse_client(s);
    if (s->phase != PH_CLOSING)
        arm_client_timer(s);
}

static void do_parse_error(struct tt_session *s, llhttp_errno_t e)
{
    int status = s->req_error != 0 ? s->req_error : 400;
    if (e == HPE_INVALID_VERSION)
        status = 505;
    if (tt_log_enabled(TT_LOG_DEBUG, "proxy"))
        tt_logf(TT_LOG_DEBUG, "proxy", "bad request", "client=%s error=%s reason=%s",
                s->client_ip, llhttp_errno_name(e), llhttp_get_error_reason(&s->rp));
    s->close_after = true;
    s->req_done = true;
    s->linger_wanted = true;
    if (s->phase == PH_IDLE || s->phase == PH_ROUTING) {
        do_local_response(s, status);
    } else if (!s->resp_started) {
        detach_upstream(s, false);
        do_local_response(s, status);
    } else {
        do_close(s);
    }
}

static void do_parse_client(struct tt_session *s)
{
    while ((s->in_off < s->in_len || s->parse_pending) && s->phase != PH_CLOSING) {
        const char *start = s->in != NULL ? s->in + s->in_off : "";
        llhttp_errno_t e;

        if (s->phase == PH_TUNNEL) {
            if (s->to_up.busy)
                break;
            wb_ext(&s->to_up, start, s->in_len - s->in_off);
            s->in_off = s->in_len;
            break;
        }
        if (s->phase == PH_EXCHANGE) {
            if (s->req_done || s->to_up.busy)
                break;
        } else if (s->phase != PH_IDLE) {
            break;
        }
        s->req_pause = PAUSE_NONE;
        s->parse_pending = false;
        s->exec_end = start + (s->in_len - s->in_off);
        e = llhttp_execute(&s->rp, start, s->in_len - s->in_off);
        if (e == HPE_OK) {
            s->in_off = s->in_len;
        } else if (e == HPE_PAUSED) {
            s->in_off = (size_t)(llhttp_get_error_pos(&s->rp) - s->in);
            if (s->req_pause == PAUSE_HEAD)
                s->parse_pending = true;
            llhttp_resume(&s->rp);
        } else if (e == HPE_PAUSED_UPGRADE) {
            s->in_off = (size_t)(llhttp_get_error_pos(&s->rp) - s->in);
            s->req_done = true;
        } else {
            do_parse_error(s, e);
            return;
        }
        if (s->req_pause == PAUSE_HEAD) {
            do_request(s);
            return;
        }
        if (s->req_pause == PAUSE_FULL || s->req_pause == PAUSE_DONE)
            break;
    }
    if (s->phase == PH_CLOSING)
        return;
    flush_up(s);
    update_reading(s);
}

/* Requests without a body complete as soon as parsing resumes; used when we answer locally
 * before reading on, so the connection stays usable for the next request. */
static void finish_bodyless_request(struct tt_session *s)
{
    llhttp_errno_t e;
    const char *at = s->in != NULL ? s->in + s->in_off : "";
    if (s->req_done)
        return;
    s->req_pause = PAUSE_NONE;
    s->parse_pending = false;
    e = llhttp_execute(&s->rp, at, 0);
    if (e == HPE_PAUSED && s->req_pause == PAUSE_DONE) {
        llhttp_resume(&s->rp);
        return;
    }
    s->close_after = true;
}

/* ---- request callbacks ---------------------------------------------------------------------- */

static int on_req_message_begin(llhttp_t *p)
{
    struct tt_session *s = p->data;
    tt_http_head_reset(&s->req);
    tt_http_head_reset(&s->resp);
    /* Everything a request may leave behind, including slices into the head just reset: a
     * request that fails before routing (400, 408, 431) is answered and logged with these. */
    s->host = s->path = tt_slice_make(NULL, 0);
    s->is_head = s->upgrade = false;
    s->keepalive = false; /* until the head says otherwise */
    s->request_id[0] = '\0';
    s->bytes_in = s->bytes_out = 0;
    s->tries = 0;
    s->sticky.aff = NULL; /* until the route is known: local answers carry no cookie */
    s->sticky.outcome = TT_STICKY_NONE;
    s->sticky.issue = false;
    s->canary = TT_CANARY_NOT_APPLICABLE;
    s->req_error = 0;
    s->start_ns = tt_now_ns();
    if (s->head_deadline == 0)
        s->head_deadline = tt_now_ms() + s->w->cfg->client_header_timeout_ms;
    return 0;
}

static int head_status(struct tt_session *s, enum tt_http_head_status st)
{
    switch (st) {
    case TT_HEAD_OK:
        return 0;
    case TT_HEAD_URI_TOO_LONG:
        s->req_error = 414;
        return -1;
    case TT_HEAD_NOMEM:
        s->req_error = 503;
        return -1;
    default:
        s->req_error = 431;
        return -1;
    }
}

static int on_req_url(llhttp_t *p, const char *at, size_t n)
{
    struct tt_session *s = p->data;
    return head_status(s, tt_http_head_url(&s->req, at, n, s->w->cfg->max_uri_bytes));
}

static int on_req_header_field(llhttp_t *p, const char *at, size_t n)
{
    struct tt_session *s = p->data;
    return head_status(s, tt_http_head_name(&s->req, at, n));
}

static int on_req_header_value(llhttp_t *p, const char *at, size_t n)
{
    struct tt_session *s = p->data;
    /* llhttp joins obs-fold continuation lines into the value instead of rejecting them. A
     * value legitimately arrives in several pieces only when a read boundary cut it; a
     * continuation after a piece that ended mid-buffer is a fold (RFC 9112 §5.2: reject). */
    if (s->req.last == 3 && !s->value_at_end) {
        s->req_error = 400;
        return -1;
    }
    s->value_at_end = at + n == s->exec_end;
    return head_status(s, tt_http_head_value(&s->req, at, n));
}

static int on_req_headers_complete(llhttp_t *p)
{
    struct tt_session *s = p->data;
    s->req_pause = PAUSE_HEAD;
    return HPE_PAUSED;
}

static int on_req_chunk_header(llhttp_t *p)
{
    struct tt_session *s = p->data;
    char line[24];
    uint64_t n = p->content_length;
    if (n == 0) {
        s->req_last_chunk = true;
        return 0;
    }
    if (s->max_body != 0 && (n > s->max_body || s->req_body > s->max_body - n)) {
        s->req_error = 413;
        return -1;
    }
    snprintf(line, sizeof(line), "%llx\r\n", (unsigned long long)n);
    if (wb_str(&s->to_up, line) != 0)
        return -1;
    return 0;
}

static int on_req_body(llhttp_t *p, const char *at, size_t n)
{
    struct tt_session *s = p->data;
    s->req_body += n;
    s->bytes_in += n;
    if (wb_ext(&s->to_up, at, n) != 0)
        return -1;
    if (wb_nearly_full(&s->to_up)) {
        s->req_pause = PAUSE_FULL;
        return HPE_PAUSED;
    }
    return 0;
}

static int on_req_chunk_complete(llhttp_t *p)
{
    struct tt_session *s = p->data;
    if (s->req_last_chunk)
        return 0;
    return wb_copy(&s->to_up, "\r\n", 2) == 0 ? 0 : -1;
}

static int on_req_message_complete(llhttp_t *p)
{
    struct tt_session *s = p->data;
    if (s->req_chunked && wb_copy(&s->to_up, "0\r\n\r\n", 5) != 0)
        return -1;
    s->req_done = true;
    s->req_pause = PAUSE_DONE;
    return HPE_PAUSED;
}

/* ---- routing ------------------------------------------------------------------------------- */

static bool value_has_ctl(struct tt_slice v)
{
    /* llhttp folds obs-fold lines into the value (it does not reject them); RFC 9112 §5.2 lets
     * a proxy reject, which closes the smuggling door a folded header would open. */
    for (size_t i = 0; i < v.len; i++) {
        unsigned char c = (unsigned char)v.ptr[i];
        if (c == '\r' || c == '\n' || c == '\0')
            return true;
    }
    return false;
}

static bool valid_request_id(struct tt_slice v)
{
    if (v.len == 0 || v.len > 64)
        return false;
    for (size_t i = 0; i < v.len; i++) {
        unsigned char c = (unsigned char)v.ptr[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '-' || c == '_' || c == '.' || c == ':'))
            return false;
    }
    return true;
}

static void do_request(struct tt_session *s)
{
    struct tt_slice target = tt_http_head_url_slice(&s->req), url_host, host_value = {"", 0};
    const struct tt_route_affinity *aff;
    struct tt_route_match m;
    int n_host = 0, i;
    uint8_t method = s->rp.method;

    s->phase = PH_ROUTING;
    s->head_deadline = 0;
    s->keepalive = llhttp_should_keep_alive(&s->rp) != 0;
    s->upgrade = s->rp.upgrade != 0;
    s->is_head = method == HTTP_HEAD;
    s->req_chunked = (s->rp.flags & F_CHUNKED) != 0;
    s->req_last_chunk = false;
    s->req_done = false;
    s->req_body = 0;
    s->expect_continue = false;
    s->retry_same = false;
    s->status = 0;
    s->resp_started = s->resp_head_done = s->resp_done = false;
    s->tunnel_pending = false;
    s->up_eof = s->up_shut = s->down_shut = false;
    atomic_fetch_add_explicit(&s->w->c.requests, 1, memory_order_relaxed);

    for (i = 0; i < (int)s->req.n_fields; i++) {
        struct tt_slice name = tt_http_field_name(&s->req, (uint32_t)i);
        struct tt_slice value = tt_http_field_value(&s->req, (uint32_t)i);
        if (value_has_ctl(value))
            goto bad;
        if (tt_slice_eq_nocase(name, TT_SLICE_LIT("host"))) {
            host_value = tt_slice_trim(value);
            n_host++;
        } else if (tt_slice_eq_nocase(name, TT_SLICE_LIT("expect"))) {
            if (!tt_slice_eq_nocase(tt_slice_trim(value), TT_SLICE_LIT("100-continue"))) {
                finish_bodyless_request(s);
                do_local_response(s, 417);
                return;
            }
            s->expect_continue = true;
        } else if (tt_slice_eq_nocase(name, TT_SLICE_LIT("x-request-id")) &&
                   valid_request_id(tt_slice_trim(value))) {
            struct tt_slice v = tt_slice_trim(value);
            memcpy(s->request_id, v.ptr, v.len);
            s->request_id[v.len] = '\0';
        }
    }
    if (s->request_id[0] == '\0')
        tt_worker__request_id(s->w, s->request_id);
    /* RFC 9112 §3.2: exactly one Host in HTTP/1.1; absolute-form's authority wins. */
    if (n_host > 1 || (n_host == 0 && s->rp.http_minor >= 1))
        goto bad;
    if (tt_http_split_target(target, &url_host, &s->path) != 0)
        goto bad;
    if (method == HTTP_CONNECT) {
        s->close_after = true;
        do_local_response(s, 405);
        return;
    }
    s->absolute_form = url_host.len > 0;
    if (url_host.len > 0)
        host_value = url_host;
    if (host_value.len > 0 && tt_http_host_strip_port(host_value, &s->host) != 0)
        goto bad;
    s->host = host_value; /* with its port: the router strips it, X-Forwarded-Host keeps it */

    if (s->w->table == NULL) {
        finish_bodyless_request(s);
        do_local_response(s, 503);
        return;
    }
    s->table = tt_route_table_ref(s->w->table);
    if (tt_http_path_needs_normalizing(s->path)) {
        /* Match on the path nginx would see (decoded, dot segments resolved), so that
         * "/public/../admin" is routed as "/admin"; the original goes upstream unchanged. */
        char stackbuf[4096], *nb = stackbuf;
        long n;
        if (s->path.len > sizeof(stackbuf) && (nb = tt_malloc(s->path.len)) == NULL)
            goto bad;
        n = tt_http_normalize_path(s->path, nb, TT_MAX(s->path.len, sizeof(stackbuf)));
        if (n >= 0)
            m = tt_route_match(s->table, s->host, tt_slice_make(nb, (size_t)n));
        if (nb != stackbuf)
            tt_free(nb);
        if (n < 0)
            goto bad;
    } else {
        m = tt_route_match(s->table, s->host, s->path);
    }
    if (m.backend == NULL) {
        finish_bodyless_request(s);
        do_local_response(s, 404);
        return;
    }
    s->rule = m.rule;
    s->backend = m.backend;
    s->max_body = m.policy->max_body;
    if (s->max_body != 0 && (s->rp.flags & F_CONTENT_LENGTH) &&
        s->rp.content_length > s->max_body) {
        s->close_after = true; /* the body is not read; the connection cannot continue */
        do_local_response(s, 413);
        return;
    }
    if (m.backend->n_endpoints == 0) {
        finish_bodyless_request(s);
        do_local_response(s, 503);
        return;
    }
    aff = m.rule != NULL ? &m.policy->affinity : NULL;
    if (m.rule != NULL && m.rule->n_canaries > 0) {
        /* A canary serves with the primary's location settings (spec §3.4) but its own
         * endpoints and, when sticky, the primary's cookie over its own ring. */
        const struct tt_route_canary *c;
        s->canary = tt_canary__choose(m.rule, &s->req, s->w, &c);
        if (c != NULL) {
            s->backend = c->backend;
            aff = &c->affinity;
        }
    }
    /* A defaultBackend answer (no rule) is never sticky: ingress-nginx registers no cookie
     * location for it. */
    if (tt_sticky__start(&s->sticky, aff, &s->req) != 0) {
        finish_bodyless_request(s);
        do_local_response(s, 503);
        return;
    }
    if (s->sticky.aff == NULL)
        s->rr_start = s->backend->index < s->w->n_rr ? s->w->rr[s->backend->index]++ : 0;
    do_connect(s);
    return;
bad:
    s->close_after = true;
    do_local_response(s, 400);
}

/* ---- upstream connection ------------------------------------------------------------------- */

void tt_upconn__close(struct tt_upconn *u)
{
    if (u->closing)
        return;
    u->closing = true;
    if (u->pooled)
        tt_pool__remove(u->w, u);
    uv_close((uv_handle_t *)&u->tcp, on_up_close);
    uv_close((uv_handle_t *)&u->timer, on_up_close);
}

static void on_up_close(uv_handle_t *h)
{
    struct tt_upconn *u = h->type == UV_TIMER
                              ? tt_container_of((uv_timer_t *)h, struct tt_upconn, timer)
                              : tt_container_of((uv_tcp_t *)h, struct tt_upconn, tcp);
    struct tt_worker *w = u->w;
    if (--u->open_handles > 0)
        return;
    tt_worker__buf_put(w, u->in);
    tt_free(u->id);
    tt_free(u);
    w->n_upconns--;
}

static void attach_upstream(struct tt_session *s, struct tt_upconn *u)
{
    s->up = u;
    u->s = s;
}

/* Connect attempts this request may make. Round robin never tries an endpoint twice. A sticky
 * request gets every try ingress-nginx gives it (each balancer call allows one more): pinned
 * retries stay on one endpoint, change-on-failure ones run out of endpoints on their own. */
static uint32_t max_tries(const struct tt_session *s)
{
    uint32_t n = s->w->cfg->proxy_next_upstream_tries;
    if (s->sticky.aff == NULL)
        n = TT_MIN(n, s->backend->n_endpoints);
    return n > 0 ? n : 1;
}

static void do_connect(struct tt_session *s)
{
    struct tt_worker *w = s->w;
    const struct tt_route_endpoint *ep;
    struct tt_upconn *u;
    int rc;

    if ((uint32_t)s->tries >= max_tries(s)) {
        do_upstream_failed(s, 502, "no endpoint accepted the connection");
        return;
    }
    if (s->retry_same && s->endpoint != NULL) {
        ep = s->endpoint;
    } else if (s->sticky.aff != NULL) {
        int idx = tt_sticky__pick(&s->sticky, w, s->tries > 0);
        if (idx < 0) {
            do_upstream_failed(s, 502, "every endpoint the session may use failed");
            return;
        }
        ep = &s->backend->endpoints[idx];
    } else {
        ep = &s->backend->endpoints[(s->rr_start + (uint32_t)s->tries) % s->backend->n_endpoints];
    }
    s->retry_same = false;
    s->tries++;
    s->endpoint = ep;

    if ((u = tt_pool__take(w, ep->id)) != NULL) {
        uv_timer_stop(&u->timer);
        attach_upstream(s, u);
        atomic_fetch_add_explicit(&w->c.upstream_reuses, 1, memory_order_relaxed);
        do_send_head(s);
        return;
    }
    if ((u = tt_calloc(1, sizeof(*u))) == NULL || (u->id = tt_strdup(ep->id)) == NULL) {
        tt_free(u);
        do_upstream_failed(s, 503, "out of memory");
        return;
    }
    u->w = w;
    memcpy(u->text, ep->text, sizeof(u->text));
    uv_tcp_init(&w->loop, &u->tcp);
    uv_timer_init(&w->loop, &u->timer);
    u->open_handles = 2;
    w->n_upconns++;
    attach_upstream(s, u);
    atomic_fetch_add_explicit(&w->c.upstream_connects, 1, memory_order_relaxed);
    rc = uv_tcp_connect(&u->connect_req, &u->tcp, (const struct sockaddr *)&ep->addr,
                        on_upstream_connect);
    if (rc != 0) {
        detach_upstream(s, false);
        atomic_fetch_add_explicit(&w->c.upstream_failures, 1, memory_order_relaxed);
        do_connect(s);
        return;
    }
    uv_timer_start(&u->timer, on_up_timer, w->cfg->proxy_connect_timeout_ms, 0);
}

static void log_upstream_error(struct tt_session *s, const char *what, int rc)
{
    struct tt_logline l;
    if (tt_log_begin(&l, TT_LOG_WARN, "proxy", what)) {
        tt_log_str(&l, "upstream", s->endpoint != NULL ? s->endpoint->text : NULL);
        tt_log_str(&l, "backend", s->backend != NULL ? s->backend->name : NULL);
        tt_log_str(&l, "error", rc != 0 ? uv_err_name(rc) : "timeout");
        tt_log_str(&l, "request_id", s->request_id);
        tt_log_end(&l);
    }
}

static void on_upstream_connect(uv_connect_t *req, int status)
{
    struct tt_upconn *u = tt_container_of(req, struct tt_upconn, connect_req);
    struct tt_session *s = u->s;
    if (status == UV_ECANCELED || u->closing || s == NULL)
        return;
    uv_timer_stop(&u->timer);
    if (status != 0) {
        log_upstream_error(s, "upstream connect failed", status);
        atomic_fetch_add_explicit(&s->w->c.upstream_failures, 1, memory_order_relaxed);
        detach_upstream(s, false);
        do_connect(s); /* next endpoint, nothing was sent yet */
        return;
    }
    u->connected = true;
    uv_tcp_nodelay(&u->tcp, 1);
    do_send_head(s);
}

static void on_up_timer(uv_timer_t *t)
{
    struct tt_upconn *u = tt_container_of(t, struct tt_upconn, timer);
    struct tt_session *s = u->s;
    if (s == NULL) {
        tt_upconn__close(u); /* idle keep-alive connection expired */
        return;
    }
    if (!u->connected) {
        log_upstream_error(s, "upstream connect timed out", 0);
        atomic_fetch_add_explicit(&s->w->c.upstream_failures, 1, memory_order_relaxed);
        detach_upstream(s, false);
        if ((uint32_t)s->tries < max_tries(s))
            do_connect(s);
        else
            do_upstream_failed(s, 504, "connect timeout");
        return;
    }
    log_upstream_error(s, "upstream timed out", 0);
    do_upstream_failed(s, 504, "read or send timeout");
}

static void arm_up_timer(struct tt_session *s)
{
    const struct tt_proxy_config *c = s->w->cfg;
    struct tt_upconn *u = s->up;
    if (u == NULL || !u->connected)
        return;
    if (s->phase == PH_TUNNEL) {
        uv_timer_stop(&u->timer); /* the client timer watches idle tunnels */
        return;
    }
    if (s->to_up.busy)
        uv_timer_start(&u->timer, on_up_timer, c->proxy_send_timeout_ms, 0);
    else if (!s->resp_done && !s->to_down.busy && (s->req_done || s->resp_head_done))
        /* Like nginx's proxy_read_timeout: the wait for the upstream starts once the request
         * is sent; while the client is still sending, client-body-timeout watches. */
        uv_timer_start(&u->timer, on_up_timer, c->proxy_read_timeout_ms, 0);
    else
        uv_timer_stop(&u->timer);
}

static void add_forwarded(struct tt_session *s, struct wbatch *b)
{
    wb_str(b, "X-Request-ID: ");
    wb_str(b, s->request_id);
    wb_str(b, "\r\nX-Real-IP: ");
    wb_str(b, s->client_ip);
    /* ingress-nginx's default (use-forwarded-headers off): client-sent forwarding headers are
     * not trusted and are replaced, never appended to. */
    wb_str(b, "\r\nX-Forwarded-For: ");
    wb_str(b, s->client_ip);
    wb_str(b, "\r\nX-Forwarded-Host: ");
    wb_slice(b, s->host);
    wb_str(b, "\r\nX-Forwarded-Port: ");
    wb_str(b, s->w->port_text);
    wb_str(b, "\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Scheme: http\r\nX-Scheme: http\r\n");
}

static bool is_host(struct tt_slice n)
{
    return tt_slice_eq_nocase(n, TT_SLICE_LIT("host"));
}

static bool is_replaced_header(struct tt_slice n)
{
    static const struct tt_slice names[] = {
        TT_SLICE_LIT("x-forwarded-for"),   TT_SLICE_LIT("x-forwarded-host"),
        TT_SLICE_LIT("x-forwarded-port"),  TT_SLICE_LIT("x-forwarded-proto"),
        TT_SLICE_LIT("x-forwarded-scheme"), TT_SLICE_LIT("x-scheme"),
        TT_SLICE_LIT("x-real-ip"),         TT_SLICE_LIT("x-request-id"),
        TT_SLICE_LIT("expect"),
    };
    for (size_t i = 0; i < TT_ARRAY_SIZE(names); i++)
        if (n.len == names[i].len && tt_slice_eq_nocase(n, names[i]))
            return true;
    return false;
}

/* Copies the fields of |h| except hop-by-hop ones and those the Connection header names. */
static void copy_end_to_end(struct wbatch *b, const struct tt_http_head *h,
                            bool (*extra_skip)(struct tt_slice), bool keep_te, bool skip_host)
{
    struct tt_slice conn_lists[8];
    unsigned n_conn = 0;
    for (uint32_t i = 0; i < h->n_fields; i++)
        if (tt_slice_eq_nocase(tt_http_field_name(h, i), TT_SLICE_LIT("connection")) &&
            n_conn < TT_ARRAY_SIZE(conn_lists))
            conn_lists[n_conn++] = tt_http_field_value(h, i);
    for (uint32_t i = 0; i < h->n_fields; i++) {
        struct tt_slice name = tt_http_field_name(h, i);
        bool skip = false;
        if (tt_http_is_hop_by_hop(name))
            skip = !(keep_te && tt_slice_eq_nocase(name, TT_SLICE_LIT("transfer-encoding")));
        else if ((extra_skip != NULL && extra_skip(name)) || (skip_host && is_host(name)))
            skip = true;
        for (unsigned k = 0; k < n_conn && !skip; k++)
            skip = tt_http_list_has(conn_lists[k], name);
        if (skip)
            continue;
        wb_slice(b, name);
        wb_copy(b, ": ", 2);
        wb_slice(b, tt_http_field_value(h, i));
        wb_copy(b, "\r\n", 2);
    }
}

static void do_send_head(struct tt_session *s)
{
    struct wbatch *b = &s->to_up;
    int upg = -1;

    s->phase = PH_EXCHANGE;
    llhttp_init(&s->pp, HTTP_RESPONSE, &resp_settings);
    s->pp.data = s;
    if (s->up->in == NULL && (s->up->in = tt_worker__buf_get(s->w)) == NULL) {
        do_upstream_failed(s, 503, "out of memory");
        return;
    }
    s->up->in_len = s->up->in_off = 0;

    wb_str(b, llhttp_method_name((llhttp_method_t)s->rp.method));
    wb_copy(b, " ", 1);
    {
        /* Absolute-form targets go upstream in origin-form (RFC 9112 §3.2.2). */
        struct tt_slice t = tt_http_head_url_slice(&s->req);
        if (t.len > 0 && t.ptr[0] != '/' && !(t.len == 1 && t.ptr[0] == '*')) {
            const char *end = t.ptr + t.len;
            const char *q = s->path.ptr >= t.ptr && s->path.ptr < end ? s->path.ptr : NULL;
            if (q != NULL) {
                wb_copy(b, q, (size_t)(end - q));
            } else {
                const char *qm = memchr(t.ptr, '?', t.len);
                wb_copy(b, "/", 1);
                if (qm != NULL)
                    wb_copy(b, qm, (size_t)(end - qm));
            }
        } else {
            wb_slice(b, t);
        }
    }
    wb_str(b, " HTTP/1.1\r\n");
    copy_end_to_end(b, &s->req, is_replaced_header, false, s->absolute_form);
    if (s->absolute_form) {
        /* RFC 9112 §3.2.2: an absolute-form target's authority replaces Host. */
        wb_str(b, "Host: ");
        wb_slice(b, s->host);
        wb_copy(b, "\r\n", 2);
    } else if (s->host.len == 0) {
        /* HTTP/1.0 without Host: upstreams speak 1.1 and require one (RFC 9112 §3.2). */
        wb_str(b, "Host: ");
        wb_str(b, s->endpoint->text);
        wb_copy(b, "\r\n", 2);
    }
    add_forwarded(s, b);
    if (s->req_chunked)
        wb_str(b, "Transfer-Encoding: chunked\r\n");
    if (s->upgrade && (upg = tt_http_head_find(&s->req, TT_SLICE_LIT("upgrade"), 0)) >= 0) {
        wb_str(b, "Connection: upgrade\r\nUpgrade: ");
        wb_slice(b, tt_http_field_value(&s->req, (uint32_t)upg));
        wb_copy(b, "\r\n", 2);
    }
    if (wb_copy(b, "\r\n", 2) != 0) {
        do_upstream_failed(s, 502, "request head too large");
        return;
    }
    if (s->expect_continue && !s->resp_started && (s->req_chunked || s->rp.content_length > 0)) {
        /* We answer 100-continue ourselves (as nginx does) once the upstream is ready, so
         * upstreams that ignore Expect still get the body. */
        wb_str(&s->to_down, "HTTP/1.1 100 Continue\r\n\r\n");
        flush_down(s);
    }
    /* Body bytes already received follow the head in the same write. */
    do_parse_client(s);
    if (s->phase == PH_EXCHANGE) {
        update_reading(s);
        arm_up_timer(s);
    }
}

static void flush_up(struct tt_session *s)
{
    if (s->to_up.busy || s->to_up.n == 0 || s->up == NULL || !s->up->connected ||
        s->phase == PH_CLOSING)
        return;
    if (wb_write(s, &s->to_up, (uv_stream_t *)&s->up->tcp, on_up_write, DEFER_UP) != 0) {
        wb_done(&s->to_up);
        do_upstream_failed(s, 502, "write failed");
        return;
    }
    arm_up_timer(s);
}

static void on_up_write(uv_write_t *req, int status)
{
    struct tt_session *s = tt_container_of(req, struct tt_session, to_up.req);
    wb_done(&s->to_up);
    if (status == UV_ECANCELED || s->phase == PH_CLOSING)
        return;
    if (status != 0) {
        if (s->resp_head_done || s->phase == PH_TUNNEL) {
            do_close(s);
            return;
        }
        /* An upstream may answer early (413, 401) and close without reading the body;
         * give its response a chance before calling it a failure. */
        if (s->up != NULL && s->up->in_len > s->up->in_off)
            return;
        log_upstream_error(s, "upstream write failed", status);
        do_upstream_failed(s, 502, "write failed");
        return;
    }
    if (s->phase == PH_TUNNEL) {
        tunnel_progress(s);
        if (s->phase == PH_CLOSING)
            return;
    }
    if (s->in_off < s->in_len || s->parse_pending)
        do_parse_client(s);
    else
        update_reading(s);
    if (s->phase != PH_CLOSING) {
        arm_up_timer(s);
        arm_client_timer(s);
    }
}

/* ---- upstream side: response ---------------------------------------------------------------- */

static void on_up_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char idle_buf[64]; /* pooled connections: any byte closes them, content unused */
    struct tt_upconn *u = tt_container_of((uv_tcp_t *)h, struct tt_upconn, tcp);
    (void)suggested;
    if (u->s == NULL || u->in == NULL) {
        *buf = uv_buf_init(idle_buf, sizeof(idle_buf));
        return;
    }
    if (u->in_off == u->in_len && !u->s->to_down.busy)
        u->in_off = u->in_len = 0;
    *buf = uv_buf_init(u->in + u->in_len, (unsigned)(TT_IOBUF_SIZE - u->in_len));
}

static void on_up_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    struct tt_upconn *u = tt_container_of((uv_tcp_t *)st, struct tt_upconn, tcp);
    struct tt_session *s = u->s;
    if (nread == 0)
        return;
    if (s == NULL) {
        tt_upconn__close(u); /* idle: EOF or unexpected bytes */
        return;
    }
    if (nread > 0 && (u->in == NULL || buf->base < u->in || buf->base >= u->in + TT_IOBUF_SIZE)) {
        /* Bytes that arrived while pooled but were read only now: not a response of ours. */
        do_upstream_failed(s, 502, "unexpected bytes");
        return;
    }
    if (nread < 0) {
        if (s->phase == PH_TUNNEL) {
            if (nread == UV_EOF) {
                s->up_eof = true;
                uv_read_stop(st);
                tunnel_progress(s);
                return;
            }
            do_close(s);
            return;
        }
        if (s->resp_head_done && nread == UV_EOF) {
            /* Bodies delimited by close end here. */
            llhttp_errno_t e = llhttp_finish(&s->pp);
            if ((e == HPE_OK || e == HPE_PAUSED) && s->resp_done) {
                s->close_after = s->close_after || s->framing == FR_CLOSE;
                detach_upstream(s, false);
                flush_down(s);
                if (!s->to_down.busy)
                    do_finish_exchange(s);
                return;
            }
        }
        if (!s->resp_started && u->requests > 0 && s->req_body == 0 && !s->req_chunked &&
            s->rp.content_length == 0 && !s->resp_head_done) {
            /* A kept-alive connection the upstream closed while idle: retry once on a fresh
             * connection; the request had no body, so it is safe to send again. */
            detach_upstream(s, false);
            wb_done(&s->to_up);
            s->tries = s->tries > 0 ? s->tries - 1 : 0;
            s->retry_same = true; /* not a failure of the endpoint: no failover, no new cookie */
            do_connect(s);
            return;
        }
        log_upstream_error(s, "upstream closed early", (int)nread);
        do_upstream_failed(s, 502, "upstream closed the connection");
        return;
    }
    u->in_len += (size_t)nread;
    do_parse_upstream(s);
}

static void do_parse_upstream(struct tt_session *s)
{
    struct tt_upconn *u = s->up;
    while (u != NULL && u->in_off < u->in_len && s->phase != PH_CLOSING) {
        const char *start = u->in + u->in_off;
        llhttp_errno_t e;
        if (s->phase == PH_TUNNEL) {
            if (s->to_down.busy)
                break;
            wb_ext(&s->to_down, start, u->in_len - u->in_off);
            s->bytes_out += u->in_len - u->in_off;
            u->in_off = u->in_len;
            break;
        }
        if (s->resp_done || s->to_down.busy)
            break;
        s->resp_pause = PAUSE_NONE;
        e = llhttp_execute(&s->pp, start, u->in_len - u->in_off);
        if (e == HPE_OK) {
            u->in_off = u->in_len;
        } else if (e == HPE_PAUSED) {
            u->in_off = (size_t)(llhttp_get_error_pos(&s->pp) - u->in);
            llhttp_resume(&s->pp);
        } else if (e == HPE_PAUSED_UPGRADE) {
            u->in_off = (size_t)(llhttp_get_error_pos(&s->pp) - u->in);
            if (s->tunnel_pending) {
                s->phase = PH_TUNNEL;
                s->resp_done = true;
                continue; /* bytes after the 101 head belong to the tunnel */
            }
            s->resp_done = true;
        } else {
            if (tt_log_enabled(TT_LOG_WARN, "proxy")) {
                struct tt_logline l;
                tt_log_begin(&l, TT_LOG_WARN, "proxy", "invalid upstream response");
                tt_log_str(&l, "upstream", s->endpoint != NULL ? s->endpoint->text : NULL);
                tt_log_str(&l, "error", llhttp_errno_name(e));
                tt_log_end(&l);
            }
            do_upstream_failed(s, 502, "invalid response");
            return;
        }
        if (s->resp_pause == PAUSE_DONE)
            break;
    }
    if (s->phase == PH_CLOSING)
        return;
    if (s->phase == PH_TUNNEL) {
        /* Client bytes that arrived behind the upgrade request go up now. */
        if (s->in_off < s->in_len)
            do_parse_client(s);
    }
    flush_down(s);
    if (s->phase == PH_CLOSING)
        return;
    if (s->resp_done && !s->to_down.busy && s->phase != PH_TUNNEL) {
        do_finish_exchange(s);
        return;
    }
    update_reading(s);
    arm_up_timer(s);
    arm_client_timer(s);
}

static int on_resp_message_begin(llhttp_t *p)
{
    struct tt_session *s = p->data;
    tt_http_head_reset(&s->resp);
    s->resp_last_chunk = false;
    return 0;
}

static int resp_head_status(enum tt_http_head_status st)
{
    return st == TT_HEAD_OK ? 0 : -1;
}

static int on_resp_status(llhttp_t *p, const char *at, size_t n)
{
    struct tt_session *s = p->data;
    return resp_head_status(tt_http_head_url(&s->resp, at, n, 512));
}

static int on_resp_header_field(llhttp_t *p, const char *at, size_t n)
{
    struct tt_session *s = p->data;
    return resp_head_status(tt_http_head_name(&s->resp, at, n));
}

static int on_resp_header_value(llhttp_t *p, const char *at, size_t n)
{
    struct tt_session *s = p->data;
    return resp_head_status(tt_http_head_value(&s->resp, at, n));
}

static bool skip_none(struct tt_slice n)
{
    (void)n;
    return false;
}

/* The affinity cookie a new session got (whatever the status, as ingress-nginx does). */
static int add_set_cookie(struct tt_session *s, struct wbatch *b)
{
    char stackbuf[1024], *buf = stackbuf;
    size_t need = tt_sticky__header_size(&s->sticky);
    int n, rc;

    if (need > sizeof(stackbuf) && (buf = tt_malloc(need)) == NULL)
        return -1;
    /* The listener speaks plain HTTP, so Secure comes only from session-cookie-secure. */
    n = tt_sticky__format_header(&s->sticky, &s->req, false, buf, TT_MAX(need, sizeof(stackbuf)));
    rc = n < 0 ? -1 : wb_copy(b, buf, (size_t)n);
    if (buf != stackbuf)
        tt_free(buf);
    return rc;
}

static int on_resp_headers_complete(llhttp_t *p)
{
    struct tt_session *s = p->data;
    struct wbatch *b = &s->to_down;
    int status = p->status_code;
    bool has_body, http10 = s->rp.http_major == 1 && s->rp.http_minor == 0;
    char line[32];
    struct tt_slice reason = tt_http_head_url_slice(&s->resp);

    for (uint32_t i = 0; i < s->resp.n_fields; i++)
        if (value_has_ctl(tt_http_field_value(&s->resp, i)))
            return -1;
    if (reason.len == 0)
        reason = tt_slice_cstr(tt_http_reason(status));
    snprintf(line, sizeof(line), "HTTP/1.1 %d ", status);

    if (status >= 100 && status < 200 && status != 101) {
        /* Interim responses go to HTTP/1.1 clients as they are; 100 was already sent by us. */
        if (!http10 && status != 100) {
            wb_str(b, line);
            wb_slice(b, reason);
            wb_copy(b, "\r\n", 2);
            copy_end_to_end(b, &s->resp, skip_none, false, false);
            wb_copy(b, "\r\n", 2);
            s->resp_started = true;
        }
        return 0;
    }
    s->status = status;
    s->resp_head_done = true;
    s->resp_started = true;
    if (status == 101) {
        int upg = tt_http_head_find(&s->resp, TT_SLICE_LIT("upgrade"), 0);
        if (!s->upgrade || upg < 0)
            return -1; /* 101 to a request that did not ask for it */
        s->tunnel_pending = true;
        wb_str(b, line);
        wb_slice(b, reason);
        wb_copy(b, "\r\n", 2);
        copy_end_to_end(b, &s->resp, skip_none, false, false);
        if (s->sticky.issue && add_set_cookie(s, b) != 0)
            return -1;
        wb_str(b, "Connection: upgrade\r\nUpgrade: ");
        wb_slice(b, tt_http_field_value(&s->resp, (uint32_t)upg));
        wb_str(b, "\r\n\r\n");
        return 0;
    }
    if (s->upgrade)
        s->close_after = true; /* the client's parser expects a protocol switch */

    has_body = !s->is_head && status != 204 && status != 304;
    s->resp_up_chunked = (p->flags & F_CHUNKED) != 0;
    if (!has_body)
        s->framing = FR_NONE;
    else if (!(p->flags & F_CHUNKED) && (p->flags & F_CONTENT_LENGTH))
        s->framing = FR_NONE;
    else if (http10)
        s->framing = FR_CLOSE;
    else
        s->framing = FR_CHUNKED;
    if (s->framing == FR_CLOSE || !s->req_done || http10 || !s->keepalive || s->w->draining)
        s->close_after = true;

    wb_str(b, line);
    wb_slice(b, reason);
    wb_copy(b, "\r\n", 2);
    copy_end_to_end(b, &s->resp, skip_none, !has_body, false);
    if (s->sticky.issue && add_set_cookie(s, b) != 0)
        return -1;
    if (s->framing == FR_CHUNKED)
        wb_str(b, "Transfer-Encoding: chunked\r\n");
    if (s->close_after)
        wb_str(b, "Connection: close\r\n");
    if (wb_copy(b, "\r\n", 2) != 0)
        return -1;
    s->bytes_out += b->bytes;
    return s->is_head ? 1 : 0;
}

static int on_resp_chunk_header(llhttp_t *p)
{
    struct tt_session *s = p->data;
    char line[24];
    if (p->content_length == 0) {
        s->resp_last_chunk = true;
        return 0;
    }
    if (s->framing != FR_CHUNKED)
        return 0;
    snprintf(line, sizeof(line), "%llx\r\n", (unsigned long long)p->content_length);
    return wb_str(&s->to_down, line) == 0 ? 0 : -1;
}

static int on_resp_body(llhttp_t *p, const char *at, size_t n)
{
    struct tt_session *s = p->data;
    s->bytes_out += n;
    if (s->framing == FR_CHUNKED && !s->resp_up_chunked) {
        /* A body delimited by close gets one chunk per piece for HTTP/1.1 clients, which keeps
         * their connection reusable. */
        char line[24];
        snprintf(line, sizeof(line), "%zx\r\n", n);
        if (wb_str(&s->to_down, line) != 0 || wb_ext(&s->to_down, at, n) != 0 ||
            wb_copy(&s->to_down, "\r\n", 2) != 0)
            return -1;
    } else if (wb_ext(&s->to_down, at, n) != 0) {
        return -1;
    }
    if (wb_nearly_full(&s->to_down)) {
        s->resp_pause = PAUSE_FULL;
        return HPE_PAUSED;
    }
    return 0;
}

static int on_resp_chunk_complete(llhttp_t *p)
{
    struct tt_session *s = p->data;
    if (s->resp_last_chunk || s->framing != FR_CHUNKED)
        return 0;
    return wb_copy(&s->to_down, "\r\n", 2) == 0 ? 0 : -1;
}

static int on_resp_message_complete(llhttp_t *p)
{
    struct tt_session *s = p->data;
    if (!s->resp_head_done)
        return 0; /* an interim 1xx response; the real one follows */
    if (s->tunnel_pending)
        return 0; /* llhttp reports the switch with HPE_PAUSED_UPGRADE */
    if (s->framing == FR_CHUNKED && wb_copy(&s->to_down, "0\r\n\r\n", 5) != 0)
        return -1;
    s->resp_done = true;
    s->resp_pause = PAUSE_DONE;
    return HPE_PAUSED;
}

static void flush_down(struct tt_session *s)
{
    if (s->to_down.busy || s->to_down.n == 0 || s->phase == PH_CLOSING)
        return;
    if (wb_write(s, &s->to_down, (uv_stream_t *)&s->down, on_down_write, DEFER_DOWN) != 0) {
        wb_done(&s->to_down);
        do_close(s);
        return;
    }
    arm_client_timer(s);
}

static void on_down_write(uv_write_t *req, int status)
{
    struct tt_session *s = tt_container_of(req, struct tt_session, to_down.req);
    wb_done(&s->to_down);
    if (status == UV_ECANCELED || s->phase == PH_CLOSING)
        return;
    if (status != 0) {
        if (s->status == 0)
            s->status = 499;
        do_close(s);
        return;
    }
    if (s->phase == PH_LOCAL) {
        do_finish_exchange(s);
        return;
    }
    if (s->phase == PH_TUNNEL) {
        if (s->up == NULL) {
            do_close(s);
            return;
        }
        tunnel_progress(s);
        if (s->phase == PH_CLOSING)
            return;
        if (s->up->in_off < s->up->in_len)
            do_parse_upstream(s);
        else
            update_reading(s);
        arm_client_timer(s);
        return;
    }
    if (s->up != NULL && s->up->in_off < s->up->in_len) {
        ensure_nodelay(s);
        do_parse_upstream(s);
        return;
    }
    if (s->resp_done) {
        do_finish_exchange(s);
        return;
    }
    ensure_nodelay(s);
    if (s->up == NULL) {
        /* Body delimited by close: the upstream is gone and everything is written. */
        do_finish_exchange(s);
        return;
    }
    update_reading(s);
    arm_up_timer(s);
    arm_client_timer(s);
}

static void do_upstream_failed(struct tt_session *s, int status, const char *why)
{
    /* Connect and timeout failures were logged at warn where they happened; this line ties
     * every failure to the status the client gets. */
    if (tt_log_enabled(TT_LOG_DEBUG, "proxy"))
        tt_logf(TT_LOG_DEBUG, "proxy", "upstream exchange failed", "status=%d reason=%s "
                "request_id=%s", status, why, s->request_id);
    detach_upstream(s, false);
    wb_done(&s->to_up);
    if (s->resp_started || s->to_down.busy) {
        if (s->status == 0)
            s->status = status;
        do_close(s); /* the client saw part of a response: only a close can tell it */
        return;
    }
    s->close_after = s->close_after || !s->req_done;
    do_local_response(s, status);
}

/* ---- local responses, access log, end of exchange ------------------------------------------- */

static void do_local_response(struct tt_session *s, int status)
{
    struct wbatch *b = &s->to_down;
    char head[256];
    char body[96];
    int bn, hn;

    if (s->to_down.busy) {
        /* An interim 100 Continue is still being written; a final answer cannot be queued
         * behind it safely, and the client is mid-body anyway. */
        s->status = status;
        do_close(s);
        return;
    }
    s->phase = PH_LOCAL;
    s->status = status;
    s->resp_started = true;
    if (s->request_id[0] == '\0')
        tt_worker__request_id(s->w, s->request_id);
    if (!s->req_done && status != 408)
        s->close_after = true; /* we did not read the body, the stream is out of sync */
    if (!s->keepalive || s->w->draining)
        s->close_after = true;
    bn = snprintf(body, sizeof(body), "%d %s\n", status, tt_http_reason(status));
    hn = snprintf(head, sizeof(head),
                  "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                  "Content-Length: %d\r\nX-Request-ID: %s\r\n%s\r\n",
                  status, tt_http_reason(status), bn, s->request_id,
                  s->close_after ? "Connection: close\r\n" : "");
    wb_done(b);
    wb_copy(b, head, (size_t)hn);
    if (!s->is_head)
        wb_copy(b, body, (size_t)bn);
    s->bytes_out = b->bytes;
    s->resp_done = true;
    update_reading(s);
    flush_down(s);
}

static void log_access(struct tt_session *s)
{
    struct tt_logline l;
    int cls = s->status / 100;
    atomic_fetch_add_explicit(&s->w->c.by_class[cls >= 1 && cls <= 5 ? cls : 0], 1,
                              memory_order_relaxed);
    if (s->sticky.outcome != TT_STICKY_NONE)
        atomic_fetch_add_explicit(&s->w->c.affinity[s->sticky.outcome], 1, memory_order_relaxed);
    if (!tt_log_begin_access(&l))
        return;
    /* Bounded fields first, client-controlled ones (host, path) last: if a line is truncated
     * at 4 KiB, what it loses is the tail of the path, never the status. */
    tt_log_str(&l, "client", s->client_ip);
    tt_log_str(&l, "method", llhttp_method_name((llhttp_method_t)s->rp.method));
    tt_log_int(&l, "status", s->status);
    tt_log_int(&l, "bytes_in", (long long)s->bytes_in);
    tt_log_int(&l, "bytes_out", (long long)s->bytes_out);
    tt_log_double(&l, "dur_ms", (double)(tt_now_ns() - s->start_ns) / 1e6);
    /* The last endpoint tried, also when it failed (502/504): what $upstream_addr shows. */
    tt_log_str(&l, "upstream", s->endpoint != NULL && s->status != 0 ? s->endpoint->text : NULL);
    tt_log_str(&l, "request_id", s->request_id);
    tt_log_str(&l, "affinity", tt_sticky__outcome_name(s->sticky.outcome));
    tt_log_str(&l, "canary", tt_canary__reason_name(s->canary));
    tt_log_str(&l, "route", s->rule != NULL ? s->rule->ingress : NULL);
    tt_log_str(&l, "backend", s->backend != NULL ? s->backend->name : NULL);
    tt_log_slice(&l, "host", s->host);
    tt_log_slice(&l, "path", tt_http_head_url_slice(&s->req));
    tt_log_end(&l);
}

static void do_finish_exchange(struct tt_session *s)
{
    bool reuse;
    if (s->phase == PH_CLOSING)
        return;
    log_access(s);
    reuse = s->up != NULL && s->req_done && s->resp_done && llhttp_should_keep_alive(&s->pp) &&
            s->up->in_off == s->up->in_len && !s->to_up.busy &&
            s->up->requests + 1 < s->w->cfg->upstream_keepalive_requests;
    detach_upstream(s, reuse);
    release_exchange(s);
    if (s->close_after || !s->keepalive || !s->req_done || s->w->draining || s->eof) {
        if (!s->eof && (!s->req_done || s->in_off < s->in_len || s->linger_wanted))
            do_linger(s);
        else
            do_close(s);
        return;
    }
    /* Next request on this connection, possibly already pipelined in the buffer. */
    ensure_nodelay(s);
    s->phase = PH_IDLE;
    s->status = 0;
    s->req_done = false;
    s->resp_done = false;
    s->resp_started = false;
    s->resp_head_done = false;
    s->head_deadline = 0;
    s->endpoint = NULL;
    if (s->in_off == s->in_len && s->in != NULL) {
        /* Idle connections keep no buffers: the bar is nginx's 0.4 KiB per idle connection. */
        tt_worker__buf_put(s->w, s->in);
        s->in = NULL;
        s->in_off = s->in_len = 0;
    }
    if (s->in_off < s->in_len) {
        s->head_deadline = tt_now_ms() + s->w->cfg->client_header_timeout_ms;
        do_parse_client(s);
    } else {
        update_reading(s);
    }
    if (s->phase != PH_CLOSING)
        arm_client_timer(s);
}
