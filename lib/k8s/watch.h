/* k8s/watch.h - the watch stream's framing: bytes -> lines -> events.
 * Threads: the watcher thread; no shared state.
 * The apiserver writes one compact JSON document per event, each ended by '\n', and flushes
 * whenever its queue runs dry, so chunk boundaries (and libcurl write callbacks) have nothing
 * to do with event boundaries: one callback may carry many events, one event many callbacks.
 * Compact JSON cannot contain a raw newline, so cutting at '\n' is exact. A line longer than
 * the splitter's bound is an error for the whole stream, never silently skipped (that would
 * lose an update): the caller relists. */
#ifndef TT_K8S_WATCH_H
#define TT_K8S_WATCH_H

#include <cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"

/* The apiserver caps an object at about 1.5 MiB (etcd's request limit); a Secret at 1 MiB of
 * data. 8 MiB leaves room for JSON escaping and for servers configured above the default. */
#define TT_K8S_WATCH_MAX_LINE (8u * 1024 * 1024)

/* Called for each complete line, without its '\n' (a trailing '\r' is kept: JSON ignores it).
 * Empty lines are not reported. A non-zero return stops feeding and is returned by feed. */
typedef int (*tt_k8s_line_cb)(void *ud, const char *line, size_t len);

struct tt_k8s_lines {
    struct tt_buf partial; /* bytes of the line not yet ended by '\n' */
};

void tt_k8s_lines_init(struct tt_k8s_lines *l, size_t max_line);
void tt_k8s_lines_dispose(struct tt_k8s_lines *l);
/* Forgets a partial line (a new stream starts). */
void tt_k8s_lines_reset(struct tt_k8s_lines *l);
/* Cuts |data| into lines. Complete lines inside |data| are passed without copying; only a
 * line that spans calls is buffered. Returns 0, the callback's non-zero value, TT_ERANGE when
 * a line exceeds max_line, or TT_ENOMEM. After an error the splitter must be reset. */
int tt_k8s_lines_feed(struct tt_k8s_lines *l, const char *data, size_t len, tt_k8s_line_cb cb,
                      void *ud);
/* True when bytes of an unfinished line are buffered (a stream that ends here was cut). */
bool tt_k8s_lines_pending(const struct tt_k8s_lines *l);

enum tt_k8s_event_type {
    TT_K8S_EV_ADDED = 0,
    TT_K8S_EV_MODIFIED,
    TT_K8S_EV_DELETED,
    TT_K8S_EV_BOOKMARK,
    TT_K8S_EV_ERROR,
};

/* One decoded watch event. |object| points into |root|, which the event owns. */
struct tt_k8s_event {
    enum tt_k8s_event_type type;
    cJSON *root;
    const cJSON *object;
    const char *rv;      /* object.metadata.resourceVersion; NULL when absent (ERROR) */
    const char *ns;      /* object.metadata.namespace; NULL when absent */
    const char *name;    /* object.metadata.name; NULL when absent (BOOKMARK, ERROR) */
    int status_code;     /* ERROR: Status.code (0 when absent) */
    const char *reason;  /* ERROR: Status.reason, "" when absent */
    const char *message; /* ERROR: Status.message, "" when absent */
};

/* Parses one line. Returns 0 and fills |ev| (free with tt_k8s_event_dispose), or TT_EPARSE
 * with |err| saying what is wrong ("not JSON", "unknown event type \"X\"", "object missing"),
 * or TT_ENOMEM. Object content is not checked here: that is tt_k8s_decode's job. */
int tt_k8s_event_parse(const char *line, size_t len, struct tt_k8s_event *ev, struct tt_err *err);
void tt_k8s_event_dispose(struct tt_k8s_event *ev);

const char *tt_k8s_event_type_name(enum tt_k8s_event_type t);

#endif
