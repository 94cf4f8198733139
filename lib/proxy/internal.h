/* proxy/internal.h - structures shared by the files of lib/proxy; not for other modules.
 * Threads: everything here belongs to one worker loop except the fields marked "under mu"
 * and the atomic counters. */
#ifndef TT_PROXY_INTERNAL_H
#define TT_PROXY_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "balance/affinity.h"
#include "base/buf.h"
#include "http/http.h"
#include "proxy/proxy.h"
#include "route/route.h"

#define TT_IOBUF_SIZE   (64 * 1024) /* read buffer per connection direction */
#define TT_POOL_BUCKETS 256

struct tt_session;
struct tt_upconn;

struct tt_worker_counters {
    atomic_ullong accepted, active, requests, upstream_connects, upstream_reuses,
        upstream_failures;
    atomic_ullong by_class[6];
    atomic_ullong affinity[5]; /* by enum tt_sticky_outcome; [0] unused */
};

struct tt_worker {
    uv_loop_t loop;
    uv_thread_t thread;
    int id;
    int listen_fd;       /* owned by the worker; closed after |listener| */
    uv_poll_t listener;  /* readable |listen_fd|: see tt_session__accept for why not uv_listen */
    uv_timer_t accept_pause; /* EMFILE: stop accepting for a moment instead of spinning */
    uv_async_t async;                /* publish and stop wake-ups */
    uv_timer_t grace_timer;
    uv_idle_t defer_idle;            /* runs write completions of fully written batches */
    struct tt_session *deferred;     /* sessions with such completions pending */
    struct tt_proxy *proxy;
    const struct tt_proxy_config *cfg;

    pthread_mutex_t mu;
    struct tt_route_table *pending;  /* under mu: newest table not yet taken */
    int stop_requested;              /* under mu */

    struct tt_route_table *table;    /* current; loop only */
    uint32_t *rr;                    /* round-robin cursor per backend index of |table| */
    size_t n_rr;

    struct tt_session *sessions;     /* intrusive list of live client sessions */
    size_t n_sessions;
    struct tt_upconn *pool[TT_POOL_BUCKETS]; /* idle upstream connections by endpoint id hash */
    size_t n_upconns;                /* live upstream connections (pooled or busy) */
    bool draining;
    bool listener_closed;

    char *free_bufs[32];             /* recycled TT_IOBUF_SIZE buffers */
    struct tt_session *free_sessions; /* recycled sessions, their small buffers kept */
    unsigned n_free_sessions;
    unsigned n_free_bufs;
    uint64_t rng[4];                 /* xoshiro256** state for request ids */
    void *regex_md;                  /* pcre2_match_data for canary header patterns */
    void *regex_mctx;                /* pcre2_match_context: the match limit */
    char port_text[8];               /* the listener port, for X-Forwarded-Port */
    struct tt_worker_counters c;
};

struct tt_proxy {
    struct tt_proxy_config cfg;
    struct tt_worker *workers;
    int n_workers;
    atomic_bool ready;
    atomic_ullong generation;
};

/* worker.c */
/* Fills |ss| from a numeric IPv4 or IPv6 address; 0, or TT_EINVAL for anything else. */
int tt_proxy__sockaddr(const char *ip, int port, struct sockaddr_storage *ss, socklen_t *len);
char *tt_worker__buf_get(struct tt_worker *w);             /* NULL on OOM */
void tt_worker__buf_put(struct tt_worker *w, char *buf);   /* NULL is a no-op */
void tt_worker__request_id(struct tt_worker *w, char out[33]);
uint64_t tt_worker__rand(void *w); /* tt_affinity_rand_fn over the worker's generator */
void tt_worker__maybe_exit(struct tt_worker *w);           /* loop: stop when drained */
void tt_worker__on_defer_idle(uv_idle_t *h);               /* runs deferred completions */

/* session.c */
/* Accepts one connection from the worker's listen socket. Returns 0 (also when there was
 * nothing to accept, or the connection had to be dropped), or UV_EMFILE when the process is
 * out of descriptors. */
int tt_session__accept(struct tt_worker *w);
void tt_session__drain_all(struct tt_worker *w, bool force);
void tt_session__run_deferred(struct tt_worker *w);
void tt_session__free_cache(struct tt_worker *w); /* at loop exit */

/* sticky.c: cookie affinity of one request (spec/ingress-nginx-annotations.md §2.3-2.5). */
#define TT_STICKY_MAX_TRIED TT_PROXY_MAX_TRIES

/* What the access log says about the endpoint choice (affinity=...). */
enum tt_sticky_outcome {
    TT_STICKY_NONE = 0, /* not sticky, or no attempt made */
    TT_STICKY_HIT,      /* the request's cookie chose the endpoint */
    TT_STICKY_NEW,      /* no (usable) cookie: new endpoint, new cookie */
    TT_STICKY_REBIND,   /* the cookie's key resolves to no endpoint (persistent): new cookie */
    TT_STICKY_FAILOVER, /* change-on-failure retry on another endpoint: new cookie */
};

struct tt_sticky {
    const struct tt_route_affinity *aff; /* NULL: the request is not sticky */
    struct tt_slice key;                 /* the cookie's upstream_key, into the request head;
                                          * len 0: no usable cookie */
    enum tt_sticky_outcome outcome;
    bool issue;                          /* Set-Cookie <name>=value goes out with the response */
    size_t value_len;
    char value[TT_AFFINITY_VALUE_SIZE];
    uint32_t n_tried;
    uint32_t tried[TT_STICKY_MAX_TRIED]; /* endpoint indexes attempted so far; not cleared */
};

/* Starts the affinity of one request routed by a rule with affinity |a| (NULL or disabled:
 * not sticky). |req| must outlive the exchange. 0 or TT_ENOMEM (answer 503). */
int tt_sticky__start(struct tt_sticky *st, const struct tt_route_affinity *a,
                     const struct tt_http_head *req);
/* The endpoint index (into the rule's backend->endpoints) of the next connect attempt;
 * |after_failure| when an earlier attempt of this request failed. TT_ENOENT: every endpoint
 * this request may use was tried (answer 502). */
int tt_sticky__pick(struct tt_sticky *st, struct tt_worker *w, bool after_failure);
/* The affinity cookie |name| of |req| as ingress-nginx reads it (every Cookie header, the last
 * occurrence wins), split into its keys; all absent when there is none. Slices point into
 * |req|. 0, or TT_ENOMEM (more Cookie headers than fit on the stack, and no memory). */
int tt_sticky__read_cookie(struct tt_slice name, const struct tt_http_head *req,
                           struct tt_affinity_cookie *out);
/* Bytes the Set-Cookie header line of an issuing |st| needs at most, CRLF included. */
size_t tt_sticky__header_size(const struct tt_sticky *st);
/* Writes "Set-Cookie: ...\r\n" for an issuing |st| into buf[0..cap); its length or TT_ERANGE. */
int tt_sticky__format_header(const struct tt_sticky *st, const struct tt_http_head *req,
                             bool request_is_tls, char *buf, size_t cap);
const char *tt_sticky__outcome_name(enum tt_sticky_outcome o); /* NULL for NONE */

/* canary.c: primary or canary for one request (spec/ingress-nginx-annotations.md §3.2). */
enum tt_canary_reason {
    TT_CANARY_NOT_APPLICABLE = 0, /* the rule has no canary */
    TT_CANARY_NONE,               /* no rule applied (no live canary, or no weight) */
    TT_CANARY_PINNED,             /* the affinity cookie's backend key (primary or canary) */
    TT_CANARY_HEADER,             /* canary-by-header (-value, -pattern, always / never) */
    TT_CANARY_COOKIE,             /* canary-by-cookie (always / never) */
    TT_CANARY_WEIGHT,             /* the weighted draw */
};

int tt_canary__worker_init(struct tt_worker *w); /* 0 or TT_ENOMEM */
void tt_canary__worker_dispose(struct tt_worker *w);
/* Decides for a request matched by |rule| (with its primary's endpoints present): sets *out to
 * the canary that takes it, or NULL for the primary, and returns why. */
enum tt_canary_reason tt_canary__choose(const struct tt_route_rule *rule,
                                        const struct tt_http_head *req, struct tt_worker *w,
                                        const struct tt_route_canary **out);
const char *tt_canary__reason_name(enum tt_canary_reason r); /* NULL for NOT_APPLICABLE */

/* pool.c: idle upstream connections, keyed by endpoint id. */
struct tt_upconn *tt_pool__take(struct tt_worker *w, const char *id);
void tt_pool__put(struct tt_worker *w, struct tt_upconn *u);
void tt_pool__remove(struct tt_worker *w, struct tt_upconn *u);
void tt_pool__close_all(struct tt_worker *w);

/* An upstream connection. Owned by a session while in use, by the pool while idle. */
struct tt_upconn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_connect_t connect_req;
    int open_handles;
    bool connected;
    bool closing;
    bool pooled;
    struct tt_worker *w;
    struct tt_session *s;            /* NULL while pooled */
    struct tt_upconn *pool_next;
    char *id;                        /* owned copy of the endpoint id */
    char text[56];                   /* "ip:port" for logs */
    uint32_t requests;
    char *in;                        /* read buffer while in use */
    size_t in_len, in_off;
};

void tt_upconn__close(struct tt_upconn *u); /* idempotent; memory freed in close_cb */

#endif
