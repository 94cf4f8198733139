/* proxy/worker.c - worker threads: one libuv loop, one SO_REUSEPORT listener, table publishing
 * and graceful stop per worker. */
#include "proxy/internal.h"

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/base.h"
#include "base/log.h"

static void on_accept(uv_poll_t *h, int status, int events);
static void on_async(uv_async_t *a);
static void on_grace_timeout(uv_timer_t *t);
static void on_handle_closed(uv_handle_t *h);
static void worker_main(void *arg);

void tt_proxy_config_defaults(struct tt_proxy_config *c)
{
    memset(c, 0, sizeof(*c));
    c->bind_address = "0.0.0.0";
    c->http_port = 80;
    c->workers = 1;
    /* ingress-nginx defaults where it has one (client-header-timeout 60s, keep-alive 75s,
     * proxy-connect-timeout 5s, proxy-read/send-timeout 60s, upstream-keepalive-*). */
    c->client_header_timeout_ms = 60000;
    c->client_body_timeout_ms = 60000;
    c->client_send_timeout_ms = 60000;
    c->keepalive_timeout_ms = 75000;
    c->proxy_connect_timeout_ms = 5000;
    c->proxy_read_timeout_ms = 60000;
    c->proxy_send_timeout_ms = 60000;
    c->shutdown_grace_ms = 10000;
    c->max_header_bytes = 32 * 1024;
    c->max_headers = 100;
    c->max_uri_bytes = 8192;
    c->upstream_keepalive = 32;
    c->upstream_keepalive_timeout_ms = 60000;
    c->upstream_keepalive_requests = 10000;
    c->proxy_next_upstream_tries = 3;
}

int tt_proxy__sockaddr(const char *ip, int port, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof(*ss));
    if (uv_ip4_addr(ip, port, (struct sockaddr_in *)ss) == 0) {
        *len = sizeof(struct sockaddr_in);
        return 0;
    }
    if (uv_ip6_addr(ip, port, (struct sockaddr_in6 *)ss) == 0) {
        *len = sizeof(struct sockaddr_in6);
        return 0;
    }
    return TT_EINVAL;
}

static int bind_listener(const struct tt_proxy_config *cfg, struct tt_err *err)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int fd, one = 1;

    if (tt_proxy__sockaddr(cfg->bind_address, cfg->http_port, &ss, &len) != 0)
        return tt_err_set(err, TT_EINVAL, "bind address %s is not a numeric IP address",
                          cfg->bind_address);
    if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
        return tt_err_set(err, -errno, "socket: %s", strerror(errno));
    /* SO_REUSEPORT: every worker owns a listener on the same port and the kernel spreads
     * connections among them, so accepting never crosses threads. */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == -1 ||
        bind(fd, (struct sockaddr *)&ss, len) == -1) {
        int e = errno;
        close(fd);
        return tt_err_set(err, -e, "cannot listen on %s:%d: %s", cfg->bind_address,
                          cfg->http_port, strerror(e));
    }
    return fd;
}

static void seed_rng(struct tt_worker *w)
{
    if (getrandom(w->rng, sizeof(w->rng), 0) != (ssize_t)sizeof(w->rng)) {
        uint64_t t = (uint64_t)time(NULL) ^ ((uint64_t)(uintptr_t)w << 16);
        for (int i = 0; i < 4; i++)
            w->rng[i] = t = t * 6364136223846793005ull + 1442695040888963407ull;
    }
    if ((w->rng[0] | w->rng[1] | w->rng[2] | w->rng[3]) == 0)
        w->rng[0] = 1;
}

int tt_proxy_start(struct tt_proxy **out, const struct tt_proxy_config *cfg, struct tt_err *err)
{
    struct tt_proxy *p = NULL;
    int rc, i;

    if ((p = tt_calloc(1, sizeof(*p))) == NULL)
        return tt_err_set(err, TT_ENOMEM, "out of memory");
    p->cfg = *cfg;
    p->n_workers = cfg->workers > 0 ? cfg->workers : 1;
    if ((p->workers = tt_calloc((size_t)p->n_workers, sizeof(*p->workers))) == NULL) {
        tt_free(p);
        return tt_err_set(err, TT_ENOMEM, "out of memory");
    }
    for (i = 0; i < p->n_workers; i++) {
        struct tt_worker *w = &p->workers[i];
        w->id = i;
        w->proxy = p;
        w->cfg = &p->cfg;
        w->listen_fd = -1;
        snprintf(w->port_text, sizeof(w->port_text), "%d", cfg->http_port);
        pthread_mutex_init(&w->mu, NULL);
        seed_rng(w);
        if ((rc = tt_canary__worker_init(w)) != 0) {
            tt_err_set(err, rc, "out of memory");
            goto fail;
        }
        if ((rc = bind_listener(&p->cfg, err)) < 0)
            goto fail;
        w->listen_fd = rc;
        if ((rc = uv_loop_init(&w->loop)) != 0) {
            tt_err_set(err, rc, "uv_loop_init: %s", uv_strerror(rc));
            goto fail;
        }
        /* The async handle must exist before any other thread may send to it. */
        uv_async_init(&w->loop, &w->async, on_async);
        uv_timer_init(&w->loop, &w->grace_timer);
        uv_idle_init(&w->loop, &w->defer_idle);
        uv_timer_init(&w->loop, &w->accept_pause);
        if (listen(w->listen_fd, 1024) == -1) {
            rc = -errno;
            tt_err_set(err, rc, "listen on port %d: %s", p->cfg.http_port, strerror(errno));
            goto fail;
        }
        if ((rc = uv_poll_init(&w->loop, &w->listener, w->listen_fd)) != 0 ||
            (rc = uv_poll_start(&w->listener, UV_READABLE, on_accept)) != 0) {
            tt_err_set(err, rc, "listen on port %d: %s", p->cfg.http_port, uv_strerror(rc));
            goto fail;
        }
    }
    for (i = 0; i < p->n_workers; i++) {
        if ((rc = uv_thread_create(&p->workers[i].thread, worker_main, &p->workers[i])) != 0) {
            tt_err_set(err, rc, "cannot start worker thread: %s", uv_strerror(rc));
            /* Threads already running are stopped by the caller's shutdown path. */
            p->n_workers = i;
            *out = p;
            return rc;
        }
    }
    *out = p;
    return 0;
fail:
    /* Startup failure is fatal for the process; leave cleanup of loops to exit. */
    for (int j = 0; j <= i && j < p->n_workers; j++)
        if (p->workers[j].listen_fd != -1)
            close(p->workers[j].listen_fd);
    return rc < 0 ? rc : TT_EIO;
}

static void worker_main(void *arg)
{
    struct tt_worker *w = arg;
    uv_run(&w->loop, UV_RUN_DEFAULT);
    tt_session__free_cache(w);
    tt_route_table_unref(w->table);
    w->table = NULL;
    tt_free(w->rr);
    w->rr = NULL;
    for (unsigned i = 0; i < w->n_free_bufs; i++)
        tt_free(w->free_bufs[i]);
    w->n_free_bufs = 0;
    tt_canary__worker_dispose(w);
    uv_loop_close(&w->loop);
}

void tt_proxy_publish(struct tt_proxy *p, struct tt_route_table *t)
{
    atomic_store(&p->generation, tt_route_table_generation(t));
    for (int i = 0; i < p->n_workers; i++) {
        struct tt_worker *w = &p->workers[i];
        struct tt_route_table *dropped;
        pthread_mutex_lock(&w->mu);
        dropped = w->pending; /* sends coalesce: the newest table wins */
        w->pending = i + 1 < p->n_workers ? tt_route_table_ref(t) : t;
        pthread_mutex_unlock(&w->mu);
        tt_route_table_unref(dropped);
        uv_async_send(&w->async);
    }
    if (p->n_workers == 0)
        tt_route_table_unref(t);
    atomic_store(&p->ready, true);
}

bool tt_proxy_ready(const struct tt_proxy *p)
{
    return atomic_load(&p->ready);
}

uint64_t tt_proxy_generation(const struct tt_proxy *p)
{
    return atomic_load(&p->generation);
}

void tt_proxy_stats(const struct tt_proxy *p, struct tt_proxy_stats *o)
{
    memset(o, 0, sizeof(*o));
    for (int i = 0; i < p->n_workers; i++) {
        const struct tt_worker_counters *c = &p->workers[i].c;
        o->connections_accepted += atomic_load(&c->accepted);
        o->connections_active += atomic_load(&c->active);
        o->requests += atomic_load(&c->requests);
        o->upstream_connects += atomic_load(&c->upstream_connects);
        o->upstream_reuses += atomic_load(&c->upstream_reuses);
        o->upstream_connect_failures += atomic_load(&c->upstream_failures);
        for (int k = 0; k < 6; k++)
            o->responses_by_class[k] += atomic_load(&c->by_class[k]);
        for (int k = 0; k < 5; k++)
            o->affinity[k] += atomic_load(&c->affinity[k]);
    }
}

void tt_proxy_shutdown(struct tt_proxy *p)
{
    for (int i = 0; i < p->n_workers; i++) {
        struct tt_worker *w = &p->workers[i];
        pthread_mutex_lock(&w->mu);
        w->stop_requested = 1;
        pthread_mutex_unlock(&w->mu);
        uv_async_send(&w->async);
    }
}

void tt_proxy_wait(struct tt_proxy *p)
{
    for (int i = 0; i < p->n_workers; i++)
        uv_thread_join(&p->workers[i].thread);
}

void tt_proxy_free(struct tt_proxy *p)
{
    if (p == NULL)
        return;
    for (int i = 0; i < p->n_workers; i++) {
        tt_route_table_unref(p->workers[i].pending);
        pthread_mutex_destroy(&p->workers[i].mu);
    }
    tt_free(p->workers);
    tt_free(p);
}

static void on_accept_resume(uv_timer_t *t)
{
    struct tt_worker *w = tt_container_of(t, struct tt_worker, accept_pause);
    if (!w->listener_closed)
        uv_poll_start(&w->listener, UV_READABLE, on_accept);
}

static void on_accept(uv_poll_t *h, int status, int events)
{
    struct tt_worker *w = tt_container_of(h, struct tt_worker, listener);
    (void)events;
    if (status != 0)
        return;
    if (tt_session__accept(w) == UV_EMFILE) {
        /* Out of descriptors: the listen socket stays readable (level-triggered), so keep
         * quiet for a moment rather than spin; the kernel queues new connections meanwhile. */
        uv_poll_stop(&w->listener);
        uv_timer_start(&w->accept_pause, on_accept_resume, 100, 0);
    }
}

static void on_listener_closed(uv_handle_t *h)
{
    struct tt_worker *w = tt_container_of((uv_poll_t *)h, struct tt_worker, listener);
    close(w->listen_fd);
    w->listen_fd = -1;
}

static void take_table(struct tt_worker *w)
{
    struct tt_route_table *t, *old;
    pthread_mutex_lock(&w->mu);
    t = w->pending;
    w->pending = NULL;
    pthread_mutex_unlock(&w->mu);
    if (t == NULL)
        return;
    old = w->table;
    w->table = t;
    /* Round-robin cursors are per backend index of the current table; a new table starts
     * them again (per-endpoint state such as keep-alive pools is keyed by stable ids). */
    {
        size_t n = tt_route_table_backend_count(t);
        uint32_t *rr = tt_calloc(n != 0 ? n : 1, sizeof(*rr));
        if (rr != NULL) {
            for (size_t i = 0; i < n; i++)
                rr[i] = (uint32_t)(w->rng[0] >> 7) + (uint32_t)i * 7u + (uint32_t)w->id;
            tt_free(w->rr);
            w->rr = rr;
            w->n_rr = n;
        } else {
            w->n_rr = 0; /* fall back to the first endpoint; counted as degraded, not fatal */
        }
    }
    tt_route_table_unref(old); /* freed now or when its last request ends */
}

static void on_async(uv_async_t *a)
{
    struct tt_worker *w = tt_container_of(a, struct tt_worker, async);
    int stop;
    take_table(w);
    pthread_mutex_lock(&w->mu);
    stop = w->stop_requested;
    pthread_mutex_unlock(&w->mu);
    if (stop && !w->draining) {
        w->draining = true;
        uv_close((uv_handle_t *)&w->listener, on_listener_closed);
        uv_close((uv_handle_t *)&w->accept_pause, NULL);
        w->listener_closed = true;
        tt_session__drain_all(w, false);
        uv_timer_start(&w->grace_timer, on_grace_timeout, w->cfg->shutdown_grace_ms, 0);
        tt_worker__maybe_exit(w);
    }
}

static void on_grace_timeout(uv_timer_t *t)
{
    struct tt_worker *w = tt_container_of(t, struct tt_worker, grace_timer);
    tt_logf(TT_LOG_WARN, "proxy", "grace period over, closing connections", "worker=%d open=%zu",
            w->id, w->n_sessions);
    tt_session__drain_all(w, true);
}

void tt_worker__on_defer_idle(uv_idle_t *h)
{
    struct tt_worker *w = tt_container_of(h, struct tt_worker, defer_idle);
    tt_session__run_deferred(w);
    if (w->deferred == NULL)
        uv_idle_stop(h);
}

static void on_handle_closed(uv_handle_t *h)
{
    (void)h;
}

void tt_worker__maybe_exit(struct tt_worker *w)
{
    if (!w->draining || w->n_sessions != 0 || uv_is_closing((uv_handle_t *)&w->async))
        return;
    tt_pool__close_all(w);
    uv_close((uv_handle_t *)&w->defer_idle, on_handle_closed);
    uv_close((uv_handle_t *)&w->async, on_handle_closed);
    uv_close((uv_handle_t *)&w->grace_timer, on_handle_closed);
}

char *tt_worker__buf_get(struct tt_worker *w)
{
    if (w->n_free_bufs > 0)
        return w->free_bufs[--w->n_free_bufs];
    return tt_malloc(TT_IOBUF_SIZE);
}

void tt_worker__buf_put(struct tt_worker *w, char *buf)
{
    if (buf == NULL)
        return;
    if (w->n_free_bufs < TT_ARRAY_SIZE(w->free_bufs))
        w->free_bufs[w->n_free_bufs++] = buf;
    else
        tt_free(buf);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t next_rand(uint64_t s[4])
{
    /* xoshiro256**: fast and good enough for request ids and balanced cookie tokens, neither
     * of which is a secret (a token only says which pod serves a session). */
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

void tt_worker__request_id(struct tt_worker *w, char out[33])
{
    static const char hex[] = "0123456789abcdef";
    uint64_t a = next_rand(w->rng), b = next_rand(w->rng);
    for (int i = 0; i < 16; i++) {
        out[i] = hex[(a >> (i * 4)) & 15];
        out[16 + i] = hex[(b >> (i * 4)) & 15];
    }
    out[32] = '\0';
}

uint64_t tt_worker__rand(void *w)
{
    return next_rand(((struct tt_worker *)w)->rng);
}
