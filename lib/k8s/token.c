/* k8s/token.c - bearer-token source: a static token, or a token file re-read on a period and
 * after a 401, keeping the last good token when a re-read fails (client-go's
 * cachingFileTokenSource, spec/kubernetes-api.md §3.1).
 * Threads: the owner of the tt_k8s_token (the watcher). */
#include "k8s/token.h"

#include <string.h>

#include "base/alloc.h"
#include "k8s/internal.h"

bool tt_k8s__token_ok(const char *s)
{
    if (*s == '\0')
        return false;
    /* RFC 6750 §2.1 allows a narrower set still, but client-go sends any printable bytes;
     * what must never pass is CR/LF (header injection) or a space (a second auth param). */
    for (; *s != '\0'; s++)
        if ((unsigned char)*s <= ' ' || (unsigned char)*s == 0x7f)
            return false;
    return true;
}

int tt_k8s_token_init(struct tt_k8s_token *t, const struct tt_k8s_conn *c)
{
    memset(t, 0, sizeof(*t));
    t->period_ms = TT_K8S_TOKEN_PERIOD_MS;
    t->_stale = true;
    if (c->token_file != NULL) {
        if ((t->_file = tt_strdup(c->token_file)) == NULL)
            return TT_ENOMEM;
    } else if (c->token != NULL) {
        if ((t->_value = tt_strdup(c->token)) == NULL)
            return TT_ENOMEM;
    }
    return 0;
}

const char *tt_k8s_token_get(struct tt_k8s_token *t, uint64_t now_ms)
{
    struct tt_err err = {0};
    char *v = NULL;

    if (t->_file == NULL)
        return t->_value;
    /* Unsigned difference: a clock that went backwards counts as "old", which only costs a
     * read. */
    if (!t->_stale && now_ms - t->_read_ms < t->period_ms)
        return t->_value;
    t->_stale = false;
    t->_read_ms = now_ms;
    if (tt_k8s__read_word(t->_file, "token file", &v, &err) != 0) {
        /* Keep serving the last good token: a projected token stays valid for a while after
         * the kubelet's refresh, and a 401 will make the caller invalidate and retry. */
        if (!t->_failing) {
            t->_failing = true;
            t->_reported = false;
            t->_err = err;
        }
        return t->_value;
    }
    t->_failing = false;
    tt_free(t->_value);
    t->_value = v;
    return t->_value;
}

void tt_k8s_token_invalidate(struct tt_k8s_token *t)
{
    t->_stale = true;
}

bool tt_k8s_token_take_error(struct tt_k8s_token *t, struct tt_err *err)
{
    if (!t->_failing || t->_reported)
        return false;
    t->_reported = true;
    if (err != NULL)
        *err = t->_err;
    return true;
}

void tt_k8s_token_free(struct tt_k8s_token *t)
{
    if (t == NULL)
        return;
    tt_free(t->_file);
    tt_free(t->_value);
    memset(t, 0, sizeof(*t));
}
