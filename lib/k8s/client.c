/* k8s/client.c - libcurl multi transport for the reflectors (see client.h).
 * Threads: the watcher thread; tt_k8s_client_wakeup from any thread (curl_multi_wakeup is
 * documented as thread-safe). */
#include "k8s/client.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/log.h"
#include "base/time.h"
#include "base/version.h"
#include "k8s/token.h"

struct slot {
    struct tt_k8s_client *client;
    struct tt_k8s_reflector *reflector;
    CURL *easy;
    struct curl_slist *headers;
    struct tt_buf url;
    bool busy;
    bool status_sent;
    uint64_t token_hash; /* of the token the current request carries; 0 for none */
    uint32_t retry_after_s;
};

struct tt_k8s_client {
    const struct tt_k8s_conn *conn;
    CURLM *multi;
    struct tt_k8s_token token;
    struct slot slots[TT_K8S_MAX_REFLECTORS];
    size_t n_slots;
    char user_agent[64];
};

/* ------------------------------------------------------------------ callbacks */

static void send_status(struct slot *s)
{
    long code = 0;

    if (s->status_sent)
        return;
    s->status_sent = true;
    curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
    tt_k8s_reflector_response_status(s->reflector, (int)code, s->retry_after_s);
}

static size_t on_header(char *data, size_t size, size_t n, void *ud)
{
    struct slot *s = ud;
    size_t len = size * n;
    static const char ra[] = "retry-after:";

    if (len > sizeof ra - 1 && strncasecmp(data, ra, sizeof ra - 1) == 0) {
        /* Delay-seconds only; an HTTP-date from an apiserver would be unusual. */
        unsigned long v = 0;
        size_t i = sizeof ra - 1;
        while (i < len && data[i] == ' ')
            i++;
        for (; i < len && data[i] >= '0' && data[i] <= '9' && v < 100000; i++)
            v = v * 10 + (unsigned long)(data[i] - '0');
        s->retry_after_s = (uint32_t)v;
    }
    return len;
}

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    struct slot *s = ud;
    size_t len = size * n;

    send_status(s);
    /* Any return other than |len| makes libcurl abort the transfer (CURLE_WRITE_ERROR). */
    return tt_k8s_reflector_response_data(s->reflector, data, len) == 0 ? len : 0;
}

/* ------------------------------------------------------------------ setup */

static int set_tls(struct tt_k8s_client *c, CURL *e)
{
    const struct tt_k8s_conn *k = c->conn;
    CURLcode rc = CURLE_OK;

    if (k->ca_pem != NULL) {
        struct curl_blob b = {.data = k->ca_pem, .len = k->ca_pem_len, .flags = CURL_BLOB_COPY};
        rc |= curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &b);
    } else if (k->ca_file != NULL) {
        rc |= curl_easy_setopt(e, CURLOPT_CAINFO, k->ca_file);
    }
    if (k->client_cert_pem != NULL) {
        struct curl_blob b = {.data = k->client_cert_pem, .len = k->client_cert_pem_len,
                              .flags = CURL_BLOB_COPY};
        rc |= curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &b);
    } else if (k->client_cert_file != NULL) {
        rc |= curl_easy_setopt(e, CURLOPT_SSLCERT, k->client_cert_file);
    }
    if (k->client_key_pem != NULL) {
        struct curl_blob b = {.data = k->client_key_pem, .len = k->client_key_pem_len,
                              .flags = CURL_BLOB_COPY};
        rc |= curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &b);
    } else if (k->client_key_file != NULL) {
        rc |= curl_easy_setopt(e, CURLOPT_SSLKEY, k->client_key_file);
    }
    if (k->insecure) {
        rc |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        rc |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    return rc == CURLE_OK ? 0 : TT_EINVAL;
}

/* Options that stay for the easy handle's life. */
static int setup_easy(struct tt_k8s_client *c, struct slot *s)
{
    CURL *e = s->easy;
    CURLcode rc = CURLE_OK;

    rc |= curl_easy_setopt(e, CURLOPT_PRIVATE, s);
    rc |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    rc |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    rc |= curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    rc |= curl_easy_setopt(e, CURLOPT_USERAGENT, c->user_agent);
    rc |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    /* A healthy watch can be silent for minutes: no low-speed limit. The whole-request
     * timeout (per request) and keep-alive probes catch half-open connections instead. */
    rc |= curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    rc |= curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
    rc |= curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 10L);
    rc |= curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    rc |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    rc |= curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
    rc |= curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    rc |= curl_easy_setopt(e, CURLOPT_HEADERDATA, s);
    if (rc != CURLE_OK)
        return TT_EINVAL;
    return set_tls(c, e);
}

static uint64_t token_hash(const char *tok)
{
    uint64_t h = 0xcbf29ce484222325ull;
    if (tok == NULL)
        return 0;
    for (; *tok != '\0'; tok++)
        h = (h ^ (unsigned char)*tok) * 0x100000001b3ull;
    return h;
}

/* The headers of one request: the token may have changed since the last one. */
static int set_headers(struct tt_k8s_client *c, struct slot *s)
{
    const char *tok = tt_k8s_token_get(&c->token, tt_now_ms());
    struct tt_err terr;
    struct curl_slist *h = NULL, *t;

    if (tt_k8s_token_take_error(&c->token, &terr))
        tt_logf(TT_LOG_WARN, "k8s", "token file unreadable, using the last good token", "%s",
                terr.msg);
    if ((t = curl_slist_append(h, "Accept: application/json")) == NULL)
        return TT_ENOMEM;
    h = t;
    if (tok != NULL) {
        struct tt_buf b;
        tt_buf_init(&b, TT_K8S_TOKEN_MAX_FILE + 64);
        if (tt_buf_printf(&b, "Authorization: Bearer %s", tok) != 0 ||
            (t = curl_slist_append(h, b.data)) == NULL) {
            tt_buf_dispose(&b);
            curl_slist_free_all(h);
            return TT_ENOMEM;
        }
        /* The token must not linger in freed heap memory longer than needed. */
        memset(b.data, 0, b.len);
        tt_buf_dispose(&b);
        h = t;
    }
    curl_slist_free_all(s->headers);
    s->headers = h;
    s->token_hash = token_hash(tok);
    return curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, h) == CURLE_OK ? 0 : TT_EINVAL;
}

static int start(struct tt_k8s_client *c, struct slot *s, const struct tt_k8s_request *req)
{
    CURLcode rc = CURLE_OK;

    tt_buf_reset(&s->url);
    if (tt_buf_printf(&s->url, "%s%s", c->conn->server, req->path) != 0 || set_headers(c, s) != 0)
        return TT_ENOMEM;
    rc |= curl_easy_setopt(s->easy, CURLOPT_URL, s->url.data);
    rc |= curl_easy_setopt(s->easy, CURLOPT_TIMEOUT, (long)req->timeout_s);
    /* Lists may be large and compress well; watch events must arrive as they are written. */
    rc |= curl_easy_setopt(s->easy, CURLOPT_ACCEPT_ENCODING,
                           req->type == TT_K8S_REQ_LIST ? "" : NULL);
    if (rc != CURLE_OK)
        return TT_EINVAL;
    s->status_sent = false;
    s->retry_after_s = 0;
    if (curl_multi_add_handle(c->multi, s->easy) != CURLM_OK)
        return TT_EINVAL;
    s->busy = true;
    return 0;
}

static void finish(struct tt_k8s_client *c, struct slot *s, CURLcode result)
{
    const char *why = result == CURLE_OK ? NULL : curl_easy_strerror(result);
    long code = 0;

    curl_multi_remove_handle(c->multi, s->easy);
    s->busy = false;
    curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
    if (code != 0 || result == CURLE_OK)
        send_status(s);
    if (code == 401)
        tt_k8s_token_invalidate(&c->token);
    tt_k8s_reflector_response_end(s->reflector, tt_now_ms(), why,
                                  result == CURLE_COULDNT_CONNECT);
    if (code == 401 && token_hash(tt_k8s_token_get(&c->token, tt_now_ms())) != s->token_hash) {
        tt_logf(TT_LOG_INFO, "k8s", "token file changed", "retrying at once with the new token");
        tt_k8s_reflector_retry_now(s->reflector, tt_now_ms());
    }
}

/* ------------------------------------------------------------------ public */

static void *tt_curl_malloc_hook(size_t n)
{
    return tt_malloc(n);
}

static void *tt_curl_calloc_hook(size_t n, size_t size)
{
    return tt_calloc(n, size);
}

static void *tt_curl_realloc_hook(void *p, size_t n)
{
    return tt_realloc(p, n);
}

static char *tt_curl_strdup_hook(const char *s)
{
    return tt_strdup(s);
}

static void tt_curl_free_hook(void *p)
{
    tt_free(p);
}

int tt_k8s_client_global_init(struct tt_err *err)
{
    CURLcode rc = curl_global_init_mem(CURL_GLOBAL_DEFAULT, tt_curl_malloc_hook, tt_curl_free_hook, tt_curl_realloc_hook,
                                       tt_curl_strdup_hook, tt_curl_calloc_hook);
    if (rc != CURLE_OK)
        return tt_err_set(err, TT_EIO, "curl_global_init: %s", curl_easy_strerror(rc));
    return 0;
}

void tt_k8s_client_global_cleanup(void)
{
    curl_global_cleanup();
}

struct tt_k8s_client *tt_k8s_client_new(const struct tt_k8s_conn *conn, struct tt_err *err)
{
    struct tt_k8s_client *c = tt_calloc(1, sizeof *c);

    if (c == NULL) {
        tt_err_set(err, TT_ENOMEM, "out of memory");
        return NULL;
    }
    c->conn = conn;
    snprintf(c->user_agent, sizeof c->user_agent, "tether/%s", TT_VERSION_STRING);
    if (tt_k8s_token_init(&c->token, conn) != 0 || (c->multi = curl_multi_init()) == NULL) {
        tt_err_set(err, TT_ENOMEM, "cannot create the API client");
        tt_k8s_client_free(c);
        return NULL;
    }
    return c;
}

void tt_k8s_client_free(struct tt_k8s_client *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n_slots; i++) {
        struct slot *s = &c->slots[i];
        if (s->busy)
            curl_multi_remove_handle(c->multi, s->easy);
        curl_easy_cleanup(s->easy);
        curl_slist_free_all(s->headers);
        tt_buf_dispose(&s->url);
    }
    if (c->multi != NULL)
        curl_multi_cleanup(c->multi);
    tt_k8s_token_free(&c->token);
    tt_free(c);
}

int tt_k8s_client_add(struct tt_k8s_client *c, struct tt_k8s_reflector *r)
{
    struct slot *s;

    if (c->n_slots == TT_K8S_MAX_REFLECTORS)
        return TT_ERANGE;
    s = &c->slots[c->n_slots];
    memset(s, 0, sizeof *s);
    s->client = c;
    s->reflector = r;
    tt_buf_init(&s->url, 64 * 1024);
    if ((s->easy = curl_easy_init()) == NULL)
        return TT_ENOMEM;
    if (setup_easy(c, s) != 0) {
        curl_easy_cleanup(s->easy);
        return TT_EINVAL;
    }
    c->n_slots++;
    return 0;
}

int tt_k8s_client_run(struct tt_k8s_client *c, uint32_t max_wait_ms)
{
    uint64_t now = tt_now_ms(), wake = now + max_wait_ms;
    CURLMsg *msg;
    int running, left;

    for (size_t i = 0; i < c->n_slots; i++) {
        struct slot *s = &c->slots[i];
        struct tt_k8s_request req;
        uint64_t at;

        if (s->busy)
            continue;
        if (tt_k8s_reflector_poll(s->reflector, now, &req, &at)) {
            if (start(c, s, &req) != 0) {
                tt_k8s_reflector_response_end(s->reflector, now, "cannot start request", false);
                tt_k8s_reflector_poll(s->reflector, now, &req, &at); /* learn the retry time */
            } else {
                at = UINT64_MAX;
            }
        }
        if (at < wake)
            wake = at;
    }
    if (curl_multi_perform(c->multi, &running) != CURLM_OK)
        return TT_EIO;
    now = tt_now_ms();
    if (curl_multi_poll(c->multi, NULL, 0, wake > now ? (int)(wake - now) : 0, NULL) != CURLM_OK)
        return TT_EIO;
    if (curl_multi_perform(c->multi, &running) != CURLM_OK)
        return TT_EIO;
    while ((msg = curl_multi_info_read(c->multi, &left)) != NULL) {
        struct slot *s = NULL;
        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
        finish(c, s, msg->data.result);
    }
    return 0;
}

void tt_k8s_client_wakeup(struct tt_k8s_client *c)
{
    curl_multi_wakeup(c->multi);
}
