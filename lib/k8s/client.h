/* k8s/client.h - the API transport: one libcurl multi handle driving every reflector.
 * Threads: the watcher thread owns the client and calls everything here except
 * tt_k8s_client_wakeup, which any thread may call (to stop the watcher promptly).
 * Each reflector gets one easy handle, reused from request to request; HTTP/1.1 with one
 * connection per open watch, TCP keep-alive against half-open connections, and the bearer
 * token re-read from its file every minute and after a 401 (k8s/token.h). Protocol decisions
 * are the reflectors'; the client only moves bytes and reports how exchanges ended. */
#ifndef TT_K8S_CLIENT_H
#define TT_K8S_CLIENT_H

#include <stdint.h>

#include "base/err.h"
#include "k8s/kubeconfig.h"
#include "k8s/reflector.h"

#define TT_K8S_MAX_REFLECTORS 8

struct tt_k8s_client;

/* Process-wide libcurl setup (TLS backend, allocation through base/alloc). Call once from
 * main before any thread starts; _cleanup after every client is freed. */
int tt_k8s_client_global_init(struct tt_err *err);
void tt_k8s_client_global_cleanup(void);

/* |conn| is copied as far as needed (token source) and borrowed otherwise: it must outlive
 * the client. curl_global_init must have run. NULL with |err| set on failure. */
struct tt_k8s_client *tt_k8s_client_new(const struct tt_k8s_conn *conn, struct tt_err *err);
/* Aborts transfers in progress and frees the client (not the reflectors). NULL is a no-op. */
void tt_k8s_client_free(struct tt_k8s_client *c);

/* Registers a reflector (borrowed; it must outlive the client). 0, TT_ERANGE or TT_ENOMEM. */
int tt_k8s_client_add(struct tt_k8s_client *c, struct tt_k8s_reflector *r);

/* Starts the requests reflectors ask for, moves data and ends exchanges, waiting at most
 * |max_wait_ms| for network activity (less when a reflector's backoff ends sooner). Returns
 * 0, or a negative code when libcurl's multi interface itself failed. */
int tt_k8s_client_run(struct tt_k8s_client *c, uint32_t max_wait_ms);

/* Makes a tt_k8s_client_run in progress on another thread return now. */
void tt_k8s_client_wakeup(struct tt_k8s_client *c);

#endif
