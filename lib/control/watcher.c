/* control/watcher.c - the watcher thread's loop (see watcher.h). */
#include "control/watcher.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/strset.h"
#include "base/time.h"
#include "k8s/client.h"
#include "k8s/reflector.h"
#include "k8s/store.h"

static const enum tt_k8s_kind watched[TT_WATCHER_KINDS] = {
    TT_K8S_INGRESS_CLASS, TT_K8S_SERVICE, TT_K8S_ENDPOINT_SLICE, TT_K8S_SECRET, TT_K8S_INGRESS,
};
#define N_WATCHED (sizeof watched / sizeof watched[0])

struct tt_watcher {
    struct tt_watcher_config cfg;
    pthread_t thread;
    atomic_bool stop;
    atomic_bool synced;

    struct tt_k8s_store *store;
    struct tt_model_reuse *reuse; /* affinity states shared from one build to the next */
    struct tt_k8s_client *client;
    struct tt_k8s_reflector *reflectors[N_WATCHED];

    uint64_t generation;
    uint64_t built_changes; /* store change counter at the last build */
    uint64_t first_change;  /* ms; 0 when everything is built */
    uint64_t last_change;   /* ms */
    unsigned n_changes;     /* since the last build, for the log line */
    char cause[300];        /* the first of them */

    /* Report dedupe: the model's reports of the previous build ("kind\x1fobject\x1freason"),
     * and the decode failures logged for objects whose current version is bad (same form;
     * forgotten when the object changes again, so a later breakage is logged anew). */
    struct tt_strset reported, reporting;
    struct tt_strset decode_rejects;

    pthread_mutex_t stats_lock; /* guards |stats|, the copy other threads read */
    struct tt_watcher_stats stats;
};

/* ------------------------------------------------------------------ reports */

static void on_change(void *ud, enum tt_k8s_kind kind, const char *key, const char *what)
{
    struct tt_watcher *w = ud;
    uint64_t now = tt_now_ms();

    if (w->n_changes++ == 0) {
        snprintf(w->cause, sizeof w->cause, "%s %s %s", tt_k8s_kind_name(kind), key, what);
        w->first_change = now;
    }
    w->last_change = now;
    if (strcmp(what, "rejected") != 0 && w->decode_rejects.count > 0) {
        char prefix[600];
        snprintf(prefix, sizeof prefix, "%s\x1f%s\x1f", tt_k8s_kind_name(kind), key);
        tt_strset_remove_prefix(&w->decode_rejects, prefix);
    }
}

static void on_object_reject(void *ud, enum tt_k8s_kind kind, const char *key, const char *reason)
{
    struct tt_watcher *w = ud;
    char id[1024];

    /* One line per (object, reason): a relist resends the same bad object. */
    snprintf(id, sizeof id, "%s\x1f%s\x1f%s", tt_k8s_kind_name(kind), key, reason);
    if (tt_strset_add(&w->decode_rejects, id) == 0)
        return;
    tt_model_log_reject(NULL, tt_k8s_kind_name(kind), key, reason);
}

static void on_model_reject(void *ud, const char *kind, const char *object, const char *reason)
{
    struct tt_watcher *w = ud;
    char id[1024];

    snprintf(id, sizeof id, "%s\x1f%s\x1f%s", kind, object, reason);
    (void)tt_strset_add(&w->reporting, id);
    if (!tt_strset_has(&w->reported, id))
        tt_model_log_reject(NULL, kind, object, reason);
}

/* ------------------------------------------------------------------ build */

static bool all_synced(const struct tt_watcher *w)
{
    for (size_t i = 0; i < N_WATCHED; i++)
        if (!tt_k8s_reflector_synced(w->reflectors[i]))
            return false;
    return true;
}

static void refresh_stats(struct tt_watcher *w, int64_t published_unix, uint64_t build_us)
{
    struct tt_watcher_stats st;

    pthread_mutex_lock(&w->stats_lock);
    st = w->stats;
    pthread_mutex_unlock(&w->stats_lock);
    for (size_t i = 0; i < N_WATCHED; i++) {
        struct tt_k8s_reflector_stats rs;
        tt_k8s_reflector_stats(w->reflectors[i], &rs);
        st.kinds[i].kind = tt_k8s_kind_name(watched[i]);
        st.kinds[i].synced = tt_k8s_reflector_synced(w->reflectors[i]);
        st.kinds[i].objects = tt_k8s_store_count(w->store, watched[i]);
        st.kinds[i].lists = rs.lists;
        st.kinds[i].watches = rs.watches;
        st.kinds[i].events = rs.events;
        st.kinds[i].relists = rs.relists;
        st.kinds[i].errors = rs.errors;
    }
    if (published_unix != 0) {
        st.rebuilds = w->generation;
        st.last_publish_unix = published_unix;
        st.last_build_us = build_us;
        st.reported_problems = w->reported.count;
    }
    pthread_mutex_lock(&w->stats_lock);
    w->stats = st;
    pthread_mutex_unlock(&w->stats_lock);
}

void tt_watcher_stats(struct tt_watcher *w, struct tt_watcher_stats *out)
{
    pthread_mutex_lock(&w->stats_lock);
    *out = w->stats;
    pthread_mutex_unlock(&w->stats_lock);
}

static void rebuild(struct tt_watcher *w, uint64_t now)
{
    uint64_t t0 = tt_now_ns(), changes = tt_k8s_store_changes(w->store);
    struct tt_route_table *t;
    struct tt_logline l;

    tt_strset_clear(&w->reporting);
    t = tt_model_build(w->store, w->cfg.model, w->generation + 1, w->reuse, on_model_reject,
                       w);
    if (t == NULL) {
        /* Out of memory: keep serving the current table; the next change retries. */
        tt_logf(TT_LOG_ERROR, "control", "route table build failed", "out of memory");
        return;
    }
    tt_strset_swap(&w->reported, &w->reporting);
    w->generation++;
    w->built_changes = changes;
    w->cfg.publish(w->cfg.ud, t);

    if (tt_log_begin(&l, TT_LOG_INFO, "control", "routes published")) {
        tt_log_int(&l, "generation", (long long)w->generation);
        tt_log_str(&l, "cause", w->generation == 1 ? "initial sync" : w->cause);
        tt_log_int(&l, "changes", w->n_changes);
        tt_log_double(&l, "build_ms", (double)(tt_now_ns() - t0) / 1e6);
        if (w->first_change != 0)
            tt_log_int(&l, "since_change_ms", (long long)(now - w->first_change));
        tt_log_end(&l);
    }
    refresh_stats(w, (int64_t)time(NULL), (tt_now_ns() - t0) / 1000);
    w->n_changes = 0;
    w->first_change = 0;
    w->cause[0] = '\0';
    if (!atomic_load(&w->synced))
        atomic_store(&w->synced, true);
}

/* How long the loop may sleep before the next build is due (UINT32_MAX: none pending). */
static uint32_t maybe_build(struct tt_watcher *w)
{
    uint64_t now = tt_now_ms(), due;

    if (w->generation == 0) {
        if (!all_synced(w))
            return UINT32_MAX;
        rebuild(w, now); /* the first table goes out as soon as everything is known */
        return UINT32_MAX;
    }
    if (tt_k8s_store_changes(w->store) == w->built_changes) {
        /* Events that changed nothing (a resync, a bookmark): nothing to build. */
        w->n_changes = 0;
        w->first_change = 0;
        return UINT32_MAX;
    }
    if (w->first_change == 0)
        w->first_change = w->last_change = now;
    due = w->last_change + w->cfg.debounce_ms;
    if (due > w->first_change + w->cfg.debounce_max_ms)
        due = w->first_change + w->cfg.debounce_max_ms;
    if (now >= due) {
        rebuild(w, now);
        return UINT32_MAX;
    }
    return (uint32_t)(due - now);
}

static void *run(void *arg)
{
    struct tt_watcher *w = arg;

    while (!atomic_load(&w->stop)) {
        uint32_t wait = maybe_build(w);
        if (wait > 1000)
            wait = 1000;
        int rc = tt_k8s_client_run(w->client, wait);
        refresh_stats(w, 0, 0);
        if (rc != 0) {
            tt_logf(TT_LOG_ERROR, "control", "API client failed", "libcurl multi error");
            nanosleep(&(struct timespec){.tv_sec = 1}, NULL);
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------ lifecycle */

static void destroy(struct tt_watcher *w)
{
    tt_k8s_client_free(w->client);
    for (size_t i = 0; i < N_WATCHED; i++)
        tt_k8s_reflector_free(w->reflectors[i]);
    tt_k8s_store_free(w->store);
    tt_model_reuse_free(w->reuse);
    tt_strset_dispose(&w->reported);
    tt_strset_dispose(&w->reporting);
    tt_strset_dispose(&w->decode_rejects);
    pthread_mutex_destroy(&w->stats_lock);
    tt_free(w);
}

int tt_watcher_start(struct tt_watcher **out, const struct tt_watcher_config *cfg,
                     struct tt_err *err)
{
    struct tt_watcher *w = tt_calloc(1, sizeof *w);
    uint64_t seed = tt_now_ns();
    int rc;

    *out = NULL;
    if (w == NULL)
        return tt_err_set(err, TT_ENOMEM, "out of memory");
    w->cfg = *cfg;
    if (w->cfg.debounce_ms == 0)
        w->cfg.debounce_ms = 5;
    if (w->cfg.debounce_max_ms < w->cfg.debounce_ms)
        w->cfg.debounce_max_ms = w->cfg.debounce_ms > 50 ? w->cfg.debounce_ms : 50;
    pthread_mutex_init(&w->stats_lock, NULL);
    tt_strset_init(&w->reported);
    tt_strset_init(&w->reporting);
    tt_strset_init(&w->decode_rejects);
    if ((w->store = tt_k8s_store_new()) == NULL || (w->reuse = tt_model_reuse_new()) == NULL) {
        destroy(w);
        return tt_err_set(err, TT_ENOMEM, "out of memory");
    }
    if ((w->client = tt_k8s_client_new(cfg->conn, err)) == NULL) {
        destroy(w);
        return err->code ? err->code : TT_ENOMEM;
    }
    for (size_t i = 0; i < N_WATCHED; i++) {
        struct tt_k8s_reflector_config rc_cfg = {
            .kind = watched[i],
            .ns = cfg->watch_namespace,
            .backoff_initial_ms = cfg->backoff_initial_ms,
            .on_change = on_change,
            .on_reject = on_object_reject,
            .ud = w,
        };
        if ((w->reflectors[i] = tt_k8s_reflector_new(&rc_cfg, w->store, seed + i)) == NULL ||
            tt_k8s_client_add(w->client, w->reflectors[i]) != 0) {
            destroy(w);
            return tt_err_set(err, TT_ENOMEM, "out of memory");
        }
    }
    if ((rc = pthread_create(&w->thread, NULL, run, w)) != 0) {
        destroy(w);
        return tt_err_set(err, -rc, "cannot start the watcher thread: %s", strerror(rc));
    }
    *out = w;
    return 0;
}

void tt_watcher_stop(struct tt_watcher *w)
{
    if (w == NULL)
        return;
    atomic_store(&w->stop, true);
    tt_k8s_client_wakeup(w->client);
    pthread_join(w->thread, NULL);
    destroy(w);
}

bool tt_watcher_synced(const struct tt_watcher *w)
{
    return atomic_load(&w->synced);
}
