/* bench/echo-backend.c - the benchmark's upstream: a single-threaded epoll HTTP/1.1 server.
 *
 * It serves fixed bodies: /64k -> 65536 bytes, /1k and every other path -> 1024 bytes. It keeps
 * connections alive (HTTP/1.1 default, HTTP/1.0 only with "Connection: keep-alive"), honours
 * "Connection: close", answers pipelined requests in order (several responses per writev), skips
 * request bodies with Content-Length and refuses chunked bodies (400 + close). Responses are
 * prebuilt, so a request costs one parse and a share of one writev: it must never be the
 * bottleneck (about 100k req/s alone on one core).
 *
 * usage: echo-backend PORT [ADDR...]    (ADDR defaults to 127.0.0.1)
 * With several ADDRs it listens on PORT at each of them (e.g. 127.0.0.1 127.0.0.2 ...), one
 * process and one event loop for all: bench/run.sh uses that to give a Service several
 * endpoints ("pods") for the sticky-session scenarios. Prints "ready <port>" on stdout once
 * listening on every address. Exits on SIGTERM/SIGINT.
 *
 * Not part of tether: built by bench/run.sh with `cc -O2` into build/bench/.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define IN_CAP   16384  /* request head limit, and read buffer */
#define MAX_IOV  64     /* responses queued per connection before we stop parsing */
#define MAX_FD   65536
#define MAX_LISTEN 256  /* listening addresses */

enum resp_id { R_1K = 0, R_64K, R_1K_CLOSE, R_64K_CLOSE, R_400, R_COUNT };

struct resp {
    char  *data;
    size_t len;
};

struct conn {
    int      fd;
    int      closing;       /* close once the queued output is written */
    int      want_out;      /* registered for EPOLLOUT instead of EPOLLIN */
    size_t   in_len;
    size_t   skip;          /* request body bytes still to discard */
    int      niov;          /* queued responses */
    int      iov_head;      /* first not fully written */
    struct iovec iov[MAX_IOV];
    char     in[IN_CAP];
};

static struct resp resps[R_COUNT];
static struct conn *conns[MAX_FD];
static unsigned char listener[MAX_FD];   /* 1 for listening sockets */
static int ep;
static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void build_resp(enum resp_id id, size_t body_len, const char *status, int close_conn)
{
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %s\r\nServer: echo-backend\r\nContent-Type: text/plain\r\n"
                     "Content-Length: %zu\r\n%s\r\n",
                     status, body_len, close_conn ? "Connection: close\r\n" : "");
    struct resp *r = &resps[id];
    r->len = (size_t)n + body_len;
    r->data = malloc(r->len);
    if (!r->data) {
        perror("malloc");
        exit(1);
    }
    memcpy(r->data, head, (size_t)n);
    for (size_t i = 0; i < body_len; i++)
        r->data[n + i] = (i % 64 == 63) ? '\n' : (char)('a' + i % 26);
}

static void conn_close(struct conn *c)
{
    conns[c->fd] = NULL;
    close(c->fd);
    free(c);
}

/* Case-insensitive search for a header token in [p, end): "connection: close" etc. */
static const char *find_header(const char *p, const char *end, const char *name, size_t nlen)
{
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            return NULL;
        if ((size_t)(eol - p) > nlen && strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
            const char *v = p + nlen + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            return v;
        }
        p = eol + 1;
    }
    return NULL;
}

static int value_has(const char *v, const char *end, const char *tok)
{
    size_t tl = strlen(tok);
    const char *eol = memchr(v, '\r', (size_t)(end - v));
    if (!eol)
        eol = end;
    for (const char *p = v; p + tl <= eol; p++)
        if (strncasecmp(p, tok, tl) == 0)
            return 1;
    return 0;
}

static void queue(struct conn *c, enum resp_id id)
{
    c->iov[c->niov].iov_base = resps[id].data;
    c->iov[c->niov].iov_len = resps[id].len;
    c->niov++;
}

/* Parses every complete request in the input buffer, queueing one response each.
 * Stops when the queue is full or a response closes the connection. */
static void parse(struct conn *c)
{
    size_t off = 0;
    while (!c->closing && c->niov < MAX_IOV) {
        if (c->skip) {
            size_t n = c->in_len - off < c->skip ? c->in_len - off : c->skip;
            off += n;
            c->skip -= n;
            if (c->skip)
                break;
        }
        char *start = c->in + off;
        size_t avail = c->in_len - off;
        if (avail == 0)
            break;
        char *hend = memmem(start, avail, "\r\n\r\n", 4);
        if (!hend) {
            if (avail == IN_CAP) {      /* head too large */
                queue(c, R_400);
                c->closing = 1;
            }
            break;
        }
        hend += 4;
        const char *end = hend;
        /* request line: METHOD SP PATH SP HTTP/1.x */
        const char *eol = memchr(start, '\r', (size_t)(end - start));
        const char *sp1 = memchr(start, ' ', (size_t)(eol - start));
        int bad = !sp1;
        const char *path = sp1 ? sp1 + 1 : NULL;
        const char *sp2 = path ? memchr(path, ' ', (size_t)(eol - path)) : NULL;
        bad |= !sp2;
        int http10 = !bad && (size_t)(eol - sp2) >= 9 && memcmp(sp2 + 1, "HTTP/1.0", 8) == 0;
        const char *hdrs = eol + 2;
        int close_conn = http10;
        const char *v = find_header(hdrs, end, "connection", 10);
        if (v) {
            if (value_has(v, end, "close"))
                close_conn = 1;
            else if (http10 && value_has(v, end, "keep-alive"))
                close_conn = 0;
        }
        if (find_header(hdrs, end, "transfer-encoding", 17))
            bad = 1;
        v = find_header(hdrs, end, "content-length", 14);
        if (v)
            c->skip = strtoull(v, NULL, 10);
        if (bad) {
            queue(c, R_400);
            c->closing = 1;
        } else {
            int big = (size_t)(sp2 - path) >= 4 && memcmp(path, "/64k", 4) == 0 &&
                      (sp2 - path == 4 || path[4] == '?' || path[4] == '/');
            queue(c, big ? (close_conn ? R_64K_CLOSE : R_64K) : (close_conn ? R_1K_CLOSE : R_1K));
            if (close_conn)
                c->closing = 1;
        }
        off = (size_t)(hend - c->in);
    }
    if (off) {
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
    }
}

static void set_events(struct conn *c, int out)
{
    if (c->want_out == out)
        return;
    struct epoll_event ev = { .events = out ? EPOLLOUT : EPOLLIN, .data.fd = c->fd };
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = out;
}

/* Writes queued responses. Returns -1 if the connection was closed. */
static int flush(struct conn *c)
{
    while (c->iov_head < c->niov) {
        ssize_t n = writev(c->fd, c->iov + c->iov_head, c->niov - c->iov_head);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) {
                set_events(c, 1);
                return 0;
            }
            conn_close(c);
            return -1;
        }
        while (n > 0) {
            struct iovec *io = &c->iov[c->iov_head];
            if ((size_t)n >= io->iov_len) {
                n -= (ssize_t)io->iov_len;
                c->iov_head++;
            } else {
                io->iov_base = (char *)io->iov_base + n;
                io->iov_len -= (size_t)n;
                n = 0;
            }
        }
    }
    c->niov = c->iov_head = 0;
    if (c->closing) {
        shutdown(c->fd, SHUT_WR);
        conn_close(c);
        return -1;
    }
    set_events(c, 0);
    return 0;
}

static void on_readable(struct conn *c)
{
    for (;;) {
        if (c->in_len == IN_CAP) {      /* full: answer what is buffered first */
            parse(c);
            if (!c->niov) {
                if (c->in_len == IN_CAP) {
                    conn_close(c);
                    return;
                }
                continue;
            }
            if (flush(c) < 0 || c->want_out)
                return;
            continue;
        }
        ssize_t n = read(c->fd, c->in + c->in_len, IN_CAP - c->in_len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0 || (n < 0 && errno != EAGAIN)) {
            conn_close(c);
            return;
        }
        if (n > 0)
            c->in_len += (size_t)n;
        parse(c);
        if (c->niov) {
            if (flush(c) < 0 || c->want_out)
                return;
        }
        if (n < 0 || c->in_len < IN_CAP)    /* EAGAIN, or a short read: drained */
            return;
    }
}

static void on_writable(struct conn *c)
{
    if (flush(c) < 0 || c->want_out)
        return;
    /* Output drained: answer what was already buffered, then resume reading. */
    parse(c);
    if (c->niov)
        flush(c);
}

static void on_accept(int lfd)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return;     /* EAGAIN, EMFILE, ... */
        }
        if (fd >= MAX_FD) {
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        struct conn *c = calloc(1, sizeof(*c));
        if (!c) {
            close(fd);
            continue;
        }
        c->fd = fd;
        conns[fd] = c;
        struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
            conn_close(c);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PORT [ADDR...]\n", argv[0]);
        return 2;
    }
    int port = atoi(argv[1]);
    if (argc - 2 > MAX_LISTEN) {
        fprintf(stderr, "at most %d addresses\n", MAX_LISTEN);
        return 2;
    }

    build_resp(R_1K, 1024, "200 OK", 0);
    build_resp(R_64K, 65536, "200 OK", 0);
    build_resp(R_1K_CLOSE, 1024, "200 OK", 1);
    build_resp(R_64K_CLOSE, 65536, "200 OK", 1);
    build_resp(R_400, 0, "400 Bad Request", 1);

    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    ep = epoll_create1(EPOLL_CLOEXEC);
    int naddr = argc > 2 ? argc - 2 : 1;
    for (int i = 0; i < naddr; i++) {
        const char *addr = argc > 2 ? argv[2 + i] : "127.0.0.1";
        int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int one = 1;
        setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
        if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1) {
            fprintf(stderr, "bad address %s\n", addr);
            return 2;
        }
        if (lfd < 0 || lfd >= MAX_FD || bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
            listen(lfd, 4096) < 0) {
            fprintf(stderr, "bind/listen %s:%d: %s\n", addr, port, strerror(errno));
            return 1;
        }
        listener[lfd] = 1;
        struct epoll_event lev = { .events = EPOLLIN, .data.fd = lfd };
        epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
    }
    printf("ready %d\n", port);
    fflush(stdout);

    struct epoll_event evs[256];
    while (!stop) {
        int n = epoll_wait(ep, evs, 256, 500);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (listener[fd]) {
                on_accept(fd);
                continue;
            }
            struct conn *c = conns[fd];
            if (!c)
                continue;
            if (c->want_out) {
                if (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
                    on_writable(c);
            } else {
                on_readable(c);
            }
        }
    }
    return 0;
}
