/* k8s/token.h - the bearer token the API client sends, with token-file rotation.
 * Threads: a token source belongs to one thread (the watcher); it blocks on file reads.
 * Invariants: a token file wins over a static token (kubectl/client-go behaviour); the file is
 * re-opened and re-read at most every |period_ms| and right after an invalidate (a 401), never
 * kept open, because the kubelet rotates projected tokens (about hourly) by swapping a
 * `..data` symlink. A failed re-read keeps the last good token. Tokens are never logged. */
#ifndef TT_K8S_TOKEN_H
#define TT_K8S_TOKEN_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "k8s/kubeconfig.h"

#define TT_K8S_TOKEN_PERIOD_MS 60000       /* client-go's cachingTokenSource re-reads each minute */
#define TT_K8S_TOKEN_MAX_FILE  (64 * 1024) /* bytes in a token file */

struct tt_k8s_token {
    uint64_t period_ms; /* re-read a token file when the copy is this old; tests shorten it */
    char *_file;        /* owned copy of the conn's token_file; NULL: static token or none */
    char *_value;       /* owned: last good token (or the static one); NULL when none yet */
    uint64_t _read_ms;  /* |now_ms| of the last read attempt */
    bool _stale;        /* the next get re-reads: after init and after an invalidate */
    bool _failing;      /* the last read attempt failed */
    bool _reported;     /* the current run of failures was handed out by take_error */
    struct tt_err _err; /* why the first read of the current run of failures failed */
};

/* Sets |t| up from |c| (borrowed; strings are copied, so |c| may be freed afterwards):
 * c->token_file when set, else the static c->token, else no token at all. Reads nothing yet:
 * the first tt_k8s_token_get does. Returns 0, or TT_ENOMEM with |t| holding nothing (freeing
 * it is still allowed). */
int tt_k8s_token_init(struct tt_k8s_token *t, const struct tt_k8s_conn *c);

/* The token to send now, or NULL when there is none (no token configured, or a token file
 * that has never been read successfully). |now_ms| is a monotonic clock (tt_now_ms()). A token
 * file is re-read when the cached copy is |period_ms| old or after tt_k8s_token_invalidate;
 * when that read fails (file gone, unreadable, empty, oversized, out of memory) the last good
 * token is returned again and tt_k8s_token_take_error reports why; the next attempt is one
 * period later (or after the next invalidate). The result is borrowed from |t| and valid until
 * the next get or free; copy it into the request header. */
const char *tt_k8s_token_get(struct tt_k8s_token *t, uint64_t now_ms);

/* Forces the next get to re-read the token file; call it after a 401 Unauthorized, as
 * client-go resets its cache. No effect on a static token. */
void tt_k8s_token_invalidate(struct tt_k8s_token *t);

/* Reports a failed token-file read once per run of consecutive failures, so the caller logs
 * one WARN line rather than one per request: returns true and copies the reason (the file's
 * path and the cause, never the token) into |err| the first time it is called after a run of
 * failures began; false otherwise. A successful read ends the run. */
bool tt_k8s_token_take_error(struct tt_k8s_token *t, struct tt_err *err);

/* Frees the copies held by |t| and leaves it zeroed. Safe on a zeroed or failed-init |t|;
 * NULL is a no-op. */
void tt_k8s_token_free(struct tt_k8s_token *t);

#endif
