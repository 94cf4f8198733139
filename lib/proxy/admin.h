/* proxy/admin.h - the admin listener (--healthz-port): /healthz, /readyz, /metrics.
 * Threads: runs on the loop it is started on (main's loop); reads proxy state through the
 * thread-safe tt_proxy_ready / tt_proxy_stats. */
#ifndef TT_PROXY_ADMIN_H
#define TT_PROXY_ADMIN_H

#include <uv.h>

#include "base/buf.h"
#include "base/err.h"
#include "proxy/proxy.h"

struct tt_admin;

/* Listens on |addr|:|port| on |loop|. |p| must outlive the admin server. Returns 0 or a
 * negative code with the reason in |err|. */
int tt_admin_start(struct tt_admin **out, uv_loop_t *loop, const char *addr, int port,
                   struct tt_proxy *p, struct tt_err *err);
/* Adds more Prometheus text to /metrics: |render| appends to |b| on the admin's loop thread
 * (so it must read its source thread-safely). Set before traffic; NULL removes it. */
typedef void (*tt_admin_metrics_cb)(void *ud, struct tt_buf *b);
void tt_admin_set_extra_metrics(struct tt_admin *a, tt_admin_metrics_cb render, void *ud);

/* Closes the listener and open admin connections; memory is released from close callbacks,
 * so run the loop afterwards. NULL is a no-op. */
void tt_admin_stop(struct tt_admin *a);

#endif
