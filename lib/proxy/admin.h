/* proxy/admin.h - the admin listener (--healthz-port): /healthz, /readyz, /metrics.
 * Threads: runs on the loop it is started on (main's loop); reads proxy state through the
 * thread-safe tt_proxy_ready / tt_proxy_stats. */
#ifndef TT_PROXY_ADMIN_H
#define TT_PROXY_ADMIN_H

#include <uv.h>

#include "base/err.h"
#include "proxy/proxy.h"

struct tt_admin;

/* Listens on |addr|:|port| on |loop|. |p| must outlive the admin server. Returns 0 or a
 * negative code with the reason in |err|. */
int tt_admin_start(struct tt_admin **out, uv_loop_t *loop, const char *addr, int port,
                   struct tt_proxy *p, struct tt_err *err);
/* Closes the listener and open admin connections; memory is released from close callbacks,
 * so run the loop afterwards. NULL is a no-op. */
void tt_admin_stop(struct tt_admin *a);

#endif
