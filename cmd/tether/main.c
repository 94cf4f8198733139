/* cmd/tether/main.c - flags, wiring, signals and exit codes; no request logic lives here.
 * Threads: main owns a libuv loop for signals and the admin listener; the data plane runs on
 * worker threads started by tt_proxy_start. */
#include <cJSON.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "base/alloc.h"
#include "base/err.h"
#include "base/log.h"
#include "base/time.h"
#include "k8s/manifests.h"
#include "k8s/store.h"
#include "base/version.h"
#include "control/watcher.h"
#include "k8s/client.h"
#include "k8s/kubeconfig.h"
#include "model/build.h"
#include "proxy/admin.h"
#include "proxy/proxy.h"


struct app {
    uv_loop_t loop;
    uv_signal_t sigterm, sigint, sighup;
    struct tt_proxy *proxy;
    struct tt_admin *admin;
    struct tt_model_config model;
    struct tt_model_reuse *reuse; /* --manifests: affinity states kept across SIGHUP reloads */
    const char *manifests;
    const char *kubeconfig, *apiserver, *watch_namespace;
    struct tt_k8s_conn conn;
    struct tt_watcher *watcher;
    uint64_t generation;
    bool stopping;
};

static void usage(FILE *f)
{
    fputs("usage: tether [--kubeconfig PATH] [--apiserver-host URL] [options]\n"
          "       tether --manifests PATH [options]\n"
          "\n"
          "Sources (default: in-cluster config, then $KUBECONFIG, then ~/.kube/config):\n"
          "  --kubeconfig PATH               kubeconfig (YAML or JSON) to reach the API server\n"
          "  --apiserver-host URL            API server address (overrides the kubeconfig's)\n"
          "  --watch-namespace NS            watch only this namespace (default: all)\n"
          "  --manifests PATH                no API server: YAML/JSON file or folder of\n"
          "                                  Kubernetes objects (SIGHUP re-reads it)\n"
          "Listeners:\n"
          "  --http-port N                   data plane port (default 80)\n"
          "  --healthz-port N                /healthz /readyz /metrics (default 10254)\n"
          "  --bind-address ADDR             listen address (default 0.0.0.0)\n"
          "  --workers N                     worker loops (default: number of CPUs)\n"
          "Classes and annotations:\n"
          "  --ingress-class NAME            IngressClass name (default tether)\n"
          "  --controller-class VALUE        spec.controller we own\n"
          "                                  (default tether.dev/ingress-controller)\n"
          "  --watch-ingress-without-class   also serve Ingresses without a class\n"
          "  --annotations-prefix P          (default nginx.ingress.kubernetes.io)\n"
          "Limits and timeouts (durations: 250ms, 5s, 2m or seconds):\n"
          "  --proxy-body-size SIZE          default request body limit (default 1m, 0 = none)\n"
          "  --max-header-bytes N            request head limit, else 431 (default 32768)\n"
          "  --max-headers N                 header count limit, else 431 (default 100)\n"
          "  --max-uri-bytes N               request target limit, else 414 (default 8192)\n"
          "  --client-header-timeout D       (default 60s)\n"
          "  --client-body-timeout D         (default 60s)\n"
          "  --keepalive-timeout D           idle client connections (default 75s)\n"
          "  --proxy-connect-timeout D       (default 5s)\n"
          "  --proxy-read-timeout D          (default 60s)\n"
          "  --proxy-send-timeout D          (default 60s)\n"
          "  --proxy-next-upstream-tries N   connect attempts per request, 1-32 (default 3)\n"
          "  --upstream-keepalive N          idle upstream connections per endpoint and worker\n"
          "                                  (default 32)\n"
          "  --shutdown-grace-period D       SIGTERM drain time (default 10s)\n"
          "Logging: TT_LOG=info|debug|warn,proxy=debug,access=off (JSON lines: operational\n"
          "on stderr, access on stdout).\n",
          f);
}

static int parse_duration_ms(const char *s, uint64_t *out)
{
    char *end;
    double v = strtod(s, &end);
    double mult = 1000;
    if (end == s || v < 0)
        return -1;
    if (strcmp(end, "ms") == 0)
        mult = 1;
    else if (strcmp(end, "s") == 0 || *end == '\0')
        mult = 1000;
    else if (strcmp(end, "m") == 0)
        mult = 60000;
    else if (strcmp(end, "h") == 0)
        mult = 3600000;
    else
        return -1;
    *out = (uint64_t)(v * mult);
    return 0;
}

static int parse_uint(const char *s, unsigned long long max, unsigned long long *out)
{
    char *end;
    unsigned long long v;
    if (*s == '\0' || *s == '-')
        return -1;
    v = strtoull(s, &end, 10);
    if (*end != '\0' || v > max)
        return -1;
    *out = v;
    return 0;
}

static int default_workers(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static void fatal(const char *msg, const char *detail)
{
    tt_logf(TT_LOG_ERROR, "cmd", msg, "%s", detail != NULL ? detail : "");
    exit(1);
}

/* Loads the manifests and builds a table; NULL (after logging why) when the source cannot be
 * read at all, so a bad reload keeps the current table. */
static struct tt_route_table *build_table(struct app *a, const char *cause)
{
    struct tt_k8s_store *store = tt_k8s_store_new();
    struct tt_route_table *t = NULL;
    struct tt_err err = {0};
    uint64_t t0 = tt_now_ns();
    struct tt_logline l;

    if (store == NULL)
        return NULL;
    if (tt_k8s_manifests_load(store, a->manifests, &err) != 0) {
        tt_logf(TT_LOG_ERROR, "cmd", "cannot load manifests", "%s", err.msg);
        goto out;
    }
    t = tt_model_build(store, &a->model, a->generation + 1, a->reuse, tt_model_log_reject,
                       NULL);
    if (t == NULL)
        goto out;
    a->generation++;
    if (tt_log_begin(&l, TT_LOG_INFO, "cmd", "route table built")) {
        tt_log_str(&l, "cause", cause);
        tt_log_int(&l, "generation", (long long)a->generation);
        tt_log_int(&l, "rules", (long long)tt_route_table_rule_count(t));
        tt_log_int(&l, "backends", (long long)tt_route_table_backend_count(t));
        tt_log_double(&l, "build_ms", (double)(tt_now_ns() - t0) / 1e6);
        tt_log_end(&l);
    }
out:
    tt_k8s_store_free(store);
    return t;
}

static void on_closed(uv_handle_t *h)
{
    (void)h;
}

static void on_signal(uv_signal_t *sig, int signum)
{
    struct app *a = sig->data;
    if (signum == SIGHUP) {
        struct tt_route_table *t;
        if (a->manifests == NULL) {
            tt_logf(TT_LOG_INFO, "cmd", "SIGHUP ignored", "routes follow the API server");
            return;
        }
        t = build_table(a, "SIGHUP");
        if (t != NULL)
            tt_proxy_publish(a->proxy, t);
        return;
    }
    if (a->stopping)
        return;
    a->stopping = true;
    tt_logf(TT_LOG_INFO, "cmd", "shutting down", "signal=%s", signum == SIGTERM ? "TERM" : "INT");
    tt_proxy_shutdown(a->proxy);
    tt_watcher_stop(a->watcher);
    a->watcher = NULL;
    tt_admin_stop(a->admin);
    a->admin = NULL;
    uv_close((uv_handle_t *)&a->sigterm, on_closed);
    uv_close((uv_handle_t *)&a->sigint, on_closed);
    uv_close((uv_handle_t *)&a->sighup, on_closed);
}

static void *cjson_malloc(size_t n)
{
    return tt_malloc(n);
}

static void cjson_free(void *p)
{
    tt_free(p);
}

enum {
    OPT_MANIFESTS = 256, OPT_HTTP_PORT, OPT_HEALTHZ_PORT, OPT_BIND, OPT_WORKERS, OPT_CLASS,
    OPT_CONTROLLER_CLASS, OPT_WITHOUT_CLASS, OPT_PREFIX, OPT_BODY_SIZE, OPT_MAX_HEADER_BYTES,
    OPT_MAX_HEADERS, OPT_MAX_URI, OPT_T_HEADER, OPT_T_BODY, OPT_T_KEEPALIVE, OPT_T_CONNECT,
    OPT_T_READ, OPT_T_SEND, OPT_TRIES, OPT_UP_KEEPALIVE, OPT_GRACE, OPT_HELP, OPT_VERSION,
    OPT_HTTPS_PORT, OPT_KUBECONFIG, OPT_APISERVER, OPT_WATCH_NS,
};

/* /metrics lines about the API source (admin loop thread). */
static void watcher_metrics(void *ud, struct tt_buf *b)
{
    struct app *a = ud;
    struct tt_watcher_stats st;
    static const struct {
        const char *name, *help;
        size_t off;
    } per_kind[] = {
        {"tether_k8s_objects", "Objects of each kind in the controller's cache.",
         offsetof(__typeof__(st.kinds[0]), objects)},
        {"tether_k8s_lists_total", "LIST requests per kind.", offsetof(__typeof__(st.kinds[0]), lists)},
        {"tether_k8s_watches_total", "WATCH requests per kind.",
         offsetof(__typeof__(st.kinds[0]), watches)},
        {"tether_k8s_events_total", "Watch events applied per kind.",
         offsetof(__typeof__(st.kinds[0]), events)},
        {"tether_k8s_relists_total", "Relists after 410 Expired or a too-large version.",
         offsetof(__typeof__(st.kinds[0]), relists)},
        {"tether_k8s_errors_total", "Failed list/watch exchanges per kind (each backed off).",
         offsetof(__typeof__(st.kinds[0]), errors)},
    };

    if (a->watcher == NULL)
        return;
    tt_watcher_stats(a->watcher, &st);
    tt_buf_printf(b, "# HELP tether_k8s_synced 1 once the kind has been listed.\n"
                     "# TYPE tether_k8s_synced gauge\n");
    for (size_t k = 0; k < TT_WATCHER_KINDS; k++)
        if (st.kinds[k].kind != NULL)
            tt_buf_printf(b, "tether_k8s_synced{kind=\"%s\"} %d\n", st.kinds[k].kind,
                          st.kinds[k].synced);
    for (size_t m = 0; m < sizeof per_kind / sizeof per_kind[0]; m++) {
        tt_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", per_kind[m].name, per_kind[m].help,
                      per_kind[m].name, strstr(per_kind[m].name, "_total") ? "counter" : "gauge");
        for (size_t k = 0; k < TT_WATCHER_KINDS; k++)
            if (st.kinds[k].kind != NULL)
                tt_buf_printf(b, "%s{kind=\"%s\"} %llu\n", per_kind[m].name, st.kinds[k].kind,
                              (unsigned long long)*(const uint64_t *)((const char *)&st.kinds[k] +
                                                                      per_kind[m].off));
    }
    tt_buf_printf(b,
                  "# HELP tether_config_rebuilds_total Route tables built from the API.\n"
                  "# TYPE tether_config_rebuilds_total counter\ntether_config_rebuilds_total %llu\n"
                  "# HELP tether_config_last_publish_timestamp_seconds When the last table was published.\n"
                  "# TYPE tether_config_last_publish_timestamp_seconds gauge\n"
                  "tether_config_last_publish_timestamp_seconds %lld\n"
                  "# HELP tether_config_last_build_seconds How long the last build took.\n"
                  "# TYPE tether_config_last_build_seconds gauge\n"
                  "tether_config_last_build_seconds %.6f\n"
                  "# HELP tether_config_problems Distinct problems reported by the last build.\n"
                  "# TYPE tether_config_problems gauge\ntether_config_problems %llu\n",
                  (unsigned long long)st.rebuilds, (long long)st.last_publish_unix,
                  (double)st.last_build_us / 1e6, (unsigned long long)st.reported_problems);
}

/* The watcher thread hands each new table to the data plane. */
static void publish(void *ud, struct tt_route_table *t)
{
    struct app *a = ud;
    tt_proxy_publish(a->proxy, t);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"manifests", required_argument, NULL, OPT_MANIFESTS},
        {"kubeconfig", required_argument, NULL, OPT_KUBECONFIG},
        {"apiserver-host", required_argument, NULL, OPT_APISERVER},
        {"watch-namespace", required_argument, NULL, OPT_WATCH_NS},
        {"http-port", required_argument, NULL, OPT_HTTP_PORT},
        {"https-port", required_argument, NULL, OPT_HTTPS_PORT},
        {"healthz-port", required_argument, NULL, OPT_HEALTHZ_PORT},
        {"bind-address", required_argument, NULL, OPT_BIND},
        {"workers", required_argument, NULL, OPT_WORKERS},
        {"ingress-class", required_argument, NULL, OPT_CLASS},
        {"controller-class", required_argument, NULL, OPT_CONTROLLER_CLASS},
        {"watch-ingress-without-class", no_argument, NULL, OPT_WITHOUT_CLASS},
        {"annotations-prefix", required_argument, NULL, OPT_PREFIX},
        {"proxy-body-size", required_argument, NULL, OPT_BODY_SIZE},
        {"max-header-bytes", required_argument, NULL, OPT_MAX_HEADER_BYTES},
        {"max-headers", required_argument, NULL, OPT_MAX_HEADERS},
        {"max-uri-bytes", required_argument, NULL, OPT_MAX_URI},
        {"client-header-timeout", required_argument, NULL, OPT_T_HEADER},
        {"client-body-timeout", required_argument, NULL, OPT_T_BODY},
        {"keepalive-timeout", required_argument, NULL, OPT_T_KEEPALIVE},
        {"proxy-connect-timeout", required_argument, NULL, OPT_T_CONNECT},
        {"proxy-read-timeout", required_argument, NULL, OPT_T_READ},
        {"proxy-send-timeout", required_argument, NULL, OPT_T_SEND},
        {"proxy-next-upstream-tries", required_argument, NULL, OPT_TRIES},
        {"upstream-keepalive", required_argument, NULL, OPT_UP_KEEPALIVE},
        {"shutdown-grace-period", required_argument, NULL, OPT_GRACE},
        {"help", no_argument, NULL, OPT_HELP},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    struct app a;
    struct tt_proxy_config pc;
    struct tt_route_table *t;
    struct tt_err err = {0};
    int healthz_port = 10254, c;
    unsigned long long u;
    const char *bad = NULL;

    memset(&a, 0, sizeof(a));
    tt_log_configure(getenv("TT_LOG"));
    tt_proxy_config_defaults(&pc);
    tt_model_config_init(&a.model);
    pc.workers = default_workers();

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        uint64_t *dur = NULL;
        switch (c) {
        case OPT_MANIFESTS: a.manifests = optarg; break;
        case OPT_KUBECONFIG: a.kubeconfig = optarg; break;
        case OPT_APISERVER: a.apiserver = optarg; break;
        case OPT_WATCH_NS:
            if (optarg[0] == '\0' || strchr(optarg, '/') != NULL) bad = "--watch-namespace";
            a.watch_namespace = optarg;
            break;
        case OPT_HTTP_PORT:
            if (parse_uint(optarg, 65535, &u) != 0) bad = "--http-port";
            pc.http_port = (int)u;
            break;
        case OPT_HTTPS_PORT: break; /* TLS termination arrives with its own issue */
        case OPT_HEALTHZ_PORT:
            if (parse_uint(optarg, 65535, &u) != 0) bad = "--healthz-port";
            healthz_port = (int)u;
            break;
        case OPT_BIND: pc.bind_address = optarg; break;
        case OPT_WORKERS:
            if (parse_uint(optarg, 256, &u) != 0 || u == 0) bad = "--workers";
            pc.workers = (int)u;
            break;
        case OPT_CLASS: a.model.ingress_class = optarg; break;
        case OPT_CONTROLLER_CLASS: a.model.controller_class = optarg; break;
        case OPT_WITHOUT_CLASS: a.model.watch_without_class = true; break;
        case OPT_PREFIX: a.model.annotations_prefix = optarg; break;
        case OPT_BODY_SIZE:
            if (tt_model_parse_size(optarg, &a.model.default_max_body) != 0)
                bad = "--proxy-body-size";
            break;
        case OPT_MAX_HEADER_BYTES:
            if (parse_uint(optarg, 1u << 24, &u) != 0 || u < 1024) bad = "--max-header-bytes";
            pc.max_header_bytes = (size_t)u;
            break;
        case OPT_MAX_HEADERS:
            if (parse_uint(optarg, 10000, &u) != 0 || u == 0) bad = "--max-headers";
            pc.max_headers = (uint32_t)u;
            break;
        case OPT_MAX_URI:
            if (parse_uint(optarg, 1u << 24, &u) != 0 || u < 16) bad = "--max-uri-bytes";
            pc.max_uri_bytes = (size_t)u;
            break;
        case OPT_T_HEADER: dur = &pc.client_header_timeout_ms; break;
        case OPT_T_BODY: dur = &pc.client_body_timeout_ms; break;
        case OPT_T_KEEPALIVE: dur = &pc.keepalive_timeout_ms; break;
        case OPT_T_CONNECT: dur = &pc.proxy_connect_timeout_ms; break;
        case OPT_T_READ: dur = &pc.proxy_read_timeout_ms; break;
        case OPT_T_SEND: dur = &pc.proxy_send_timeout_ms; break;
        case OPT_GRACE: dur = &pc.shutdown_grace_ms; break;
        case OPT_TRIES:
            if (parse_uint(optarg, TT_PROXY_MAX_TRIES, &u) != 0 || u == 0)
                bad = "--proxy-next-upstream-tries";
            pc.proxy_next_upstream_tries = (uint32_t)u;
            break;
        case OPT_UP_KEEPALIVE:
            if (parse_uint(optarg, 100000, &u) != 0) bad = "--upstream-keepalive";
            pc.upstream_keepalive = (uint32_t)u;
            break;
        case OPT_HELP: case 'h': usage(stdout); return 0;
        case OPT_VERSION: printf("tether %s\n", TT_VERSION_STRING); return 0;
        default: usage(stderr); return 2;
        }
        if (dur != NULL && (parse_duration_ms(optarg, dur) != 0 || *dur == 0))
            for (const struct option *o = opts; o->name != NULL; o++)
                if (o->val == c)
                    bad = o->name;
        if (bad != NULL) {
            fprintf(stderr, "tether: invalid value '%s' for %s%s\n", optarg,
                    strncmp(bad, "--", 2) == 0 ? "" : "--", bad);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "tether: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (a.manifests != NULL && (a.kubeconfig != NULL || a.apiserver != NULL)) {
        fprintf(stderr, "tether: --manifests cannot be combined with --kubeconfig or "
                        "--apiserver-host\n");
        return 2;
    }
    if (a.manifests == NULL && tt_k8s_conn_resolve(a.kubeconfig, a.apiserver, NULL, &a.conn, &err) != 0) {
        fprintf(stderr, "tether: %s\n", err.msg);
        return 2;
    }

    signal(SIGPIPE, SIG_IGN);
    uv_replace_allocator(tt_malloc, tt_realloc, tt_calloc, tt_free);
    cJSON_InitHooks(&(cJSON_Hooks){cjson_malloc, cjson_free});
    if (tt_k8s_client_global_init(&err) != 0)
        fatal("cannot initialise libcurl", err.msg);

    /* Signals are caught from here on and handled once the loop runs, so a SIGHUP (or a
     * SIGTERM) during a long first build is acted on afterwards instead of killing us. */
    uv_loop_init(&a.loop);
    uv_signal_init(&a.loop, &a.sigterm);
    uv_signal_init(&a.loop, &a.sigint);
    uv_signal_init(&a.loop, &a.sighup);
    a.sigterm.data = a.sigint.data = a.sighup.data = &a;
    uv_signal_start(&a.sigterm, on_signal, SIGTERM);
    uv_signal_start(&a.sigint, on_signal, SIGINT);
    uv_signal_start(&a.sighup, on_signal, SIGHUP);
    t = NULL;
    if (a.manifests != NULL && (a.reuse = tt_model_reuse_new()) == NULL)
        fatal("no route table", "out of memory");
    if (a.manifests != NULL && (t = build_table(&a, "startup")) == NULL)
        fatal("no route table", a.manifests);
    if (tt_proxy_start(&a.proxy, &pc, &err) != 0)
        fatal("cannot start the data plane", err.msg);
    if (tt_admin_start(&a.admin, &a.loop, pc.bind_address, healthz_port, a.proxy, &err) != 0)
        fatal("cannot start the admin listener", err.msg);
    if (t != NULL) {
        tt_proxy_publish(a.proxy, t);
    } else {
        struct tt_watcher_config wc = {
            .conn = &a.conn,
            .watch_namespace = a.watch_namespace,
            .model = &a.model,
            .publish = publish,
            .ud = &a,
        };
        if (tt_watcher_start(&a.watcher, &wc, &err) != 0)
            fatal("cannot start the watcher", err.msg);
        tt_admin_set_extra_metrics(a.admin, watcher_metrics, &a);
    }
    tt_logf(TT_LOG_INFO, "cmd", "serving",
            "http_port=%d healthz_port=%d workers=%d source=%s version=%s", pc.http_port,
            healthz_port, pc.workers, a.manifests != NULL ? a.manifests : a.conn.source,
            TT_VERSION_STRING);

    uv_run(&a.loop, UV_RUN_DEFAULT);
    uv_loop_close(&a.loop);

    tt_proxy_wait(a.proxy);
    tt_proxy_free(a.proxy);
    tt_k8s_conn_free(&a.conn);
    tt_k8s_client_global_cleanup();
    tt_model_reuse_free(a.reuse);
    tt_logf(TT_LOG_INFO, "cmd", "stopped", NULL);
    return 0;
}
