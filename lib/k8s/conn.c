/* k8s/conn.c - API connection settings that do not come from parsing a kubeconfig: the
 * in-cluster service account (client-go's rest.InClusterConfig), a bare --apiserver-host URL
 * and its override, the precedence among all sources, and freeing.
 * Threads: any; blocking file I/O and getenv. */
#include "k8s/kubeconfig.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "k8s/internal.h"

#define NOT_IN_CLUSTER "not running in a cluster (KUBERNETES_SERVICE_HOST/PORT unset)"
#define NO_CONFIG                                                                                  \
    "no Kubernetes API configuration: pass --kubeconfig, run in a cluster, or use --manifests"

char *tt_k8s__strf(const char *fmt, ...)
{
    va_list ap;
    char *s;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || (s = tt_malloc((size_t)n + 1)) == NULL)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

int tt_k8s__server_dup(const char *url, char **out, const char **why)
{
    size_t skip, len;

    if (strncasecmp(url, "https://", 8) == 0) {
        skip = 8;
    } else if (strncasecmp(url, "http://", 7) == 0) {
        skip = 7;
    } else {
        *why = "must start with https:// or http://";
        return TT_EINVAL;
    }
    for (const char *p = url; *p != '\0'; p++) {
        if ((unsigned char)*p <= ' ' || (unsigned char)*p == 0x7f) {
            *why = "contains spaces or control characters";
            return TT_EINVAL;
        }
        /* The client appends "/api/v1/..." to the server, which a query would swallow. */
        if (*p == '?' || *p == '#') {
            *why = "has a query or fragment";
            return TT_EINVAL;
        }
    }
    if (url[skip] == '\0' || url[skip] == '/') {
        *why = "has no host";
        return TT_EINVAL;
    }
    len = strlen(url);
    while (url[len - 1] == '/')
        len--;
    if ((*out = tt_strndup(url, len)) == NULL)
        return TT_ENOMEM;
    return 0;
}

void tt_k8s_conn_free(struct tt_k8s_conn *c)
{
    if (c == NULL)
        return;
    tt_free(c->server);
    tt_free(c->ca_file);
    tt_free(c->ca_pem);
    tt_free(c->client_cert_file);
    tt_free(c->client_key_file);
    tt_free(c->client_cert_pem);
    tt_free(c->client_key_pem);
    tt_free(c->token);
    tt_free(c->token_file);
    tt_free(c->ns);
    tt_free(c->source);
    memset(c, 0, sizeof(*c));
}

/* ---- in-cluster ---- */

static bool valid_port(const char *s)
{
    char *end;
    long v;

    if (*s < '0' || *s > '9')
        return false;
    errno = 0;
    v = strtol(s, &end, 10);
    return errno == 0 && *end == '\0' && v >= 1 && v <= 65535;
}

static int in_cluster_nomem(struct tt_err *err)
{
    return tt_err_set(err, TT_ENOMEM, "in-cluster: out of memory");
}

/* Fills |out| field by field; on error the caller frees what was filled. */
static int fill_in_cluster(const char *sa_dir, const char *host, const char *port,
                           struct tt_k8s_conn *out, struct tt_err *err)
{
    const char *why = NULL;
    char *url, *tok = NULL, *ns_path;
    int rc;

    /* net.JoinHostPort: a host with a colon is an IPv6 address and needs brackets. */
    if (strchr(host, ':') != NULL && host[0] != '[')
        url = tt_k8s__strf("https://[%s]:%s", host, port);
    else
        url = tt_k8s__strf("https://%s:%s", host, port);
    if (url == NULL)
        return in_cluster_nomem(err);
    /* The checks --apiserver-host gets, so a strange variable fails here rather than in curl. */
    rc = tt_k8s__server_dup(url, &out->server, &why);
    tt_free(url);
    if (rc == TT_EINVAL)
        return tt_err_set(err, rc, "in-cluster: KUBERNETES_SERVICE_HOST \"%.64s\" %s", host, why);
    if (rc != 0)
        return in_cluster_nomem(err);

    if ((out->token_file = tt_k8s__path_join(sa_dir, "token")) == NULL)
        return in_cluster_nomem(err);
    /* Read it once now, so a pod without a mounted token fails at startup with the path in
     * the message rather than with 401s later. */
    if ((rc = tt_k8s__read_word(out->token_file, "in-cluster token", &tok, err)) != 0)
        return rc;
    tt_free(tok);

    if ((out->ca_file = tt_k8s__path_join(sa_dir, "ca.crt")) == NULL)
        return in_cluster_nomem(err);
    if (access(out->ca_file, R_OK) == -1) {
        if (errno != ENOENT)
            return tt_err_set(err, -errno, "in-cluster: cannot read %s: %s", out->ca_file,
                              strerror(errno));
        /* client-go logs and goes on with the system roots; an apiserver with a publicly
         * trusted certificate still works. */
        tt_logf(TT_LOG_WARN, "k8s", "in-cluster CA missing",
                "%s does not exist; using the system CA store", out->ca_file);
        tt_free(out->ca_file);
        out->ca_file = NULL;
    }

    if ((ns_path = tt_k8s__path_join(sa_dir, "namespace")) == NULL)
        return in_cluster_nomem(err);
    /* Optional (client-go falls back to "default"); only running out of memory is an error. */
    rc = tt_k8s__read_word(ns_path, "in-cluster namespace", &out->ns, NULL);
    tt_free(ns_path);
    if (rc == TT_ENOMEM)
        return in_cluster_nomem(err);

    if (strcmp(sa_dir, TT_K8S_SA_DIR) == 0)
        out->source = tt_strdup("in-cluster");
    else
        out->source = tt_k8s__strf("in-cluster (service account %s)", sa_dir);
    return out->source == NULL ? in_cluster_nomem(err) : 0;
}

int tt_k8s_conn_in_cluster(const char *sa_dir, struct tt_k8s_conn *out, struct tt_err *err)
{
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    const char *port = getenv("KUBERNETES_SERVICE_PORT");
    int rc;

    memset(out, 0, sizeof(*out));
    if (host == NULL || *host == '\0' || port == NULL || *port == '\0')
        return tt_err_set(err, TT_ENOENT, NOT_IN_CLUSTER);
    if (!valid_port(port))
        return tt_err_set(err, TT_EINVAL,
                          "in-cluster: KUBERNETES_SERVICE_PORT \"%.32s\" is not a port", port);
    if ((rc = fill_in_cluster(sa_dir != NULL ? sa_dir : TT_K8S_SA_DIR, host, port, out, err)) != 0)
        tt_k8s_conn_free(out);
    return rc;
}

/* ---- --apiserver-host ---- */

int tt_k8s_conn_from_url(const char *url, struct tt_k8s_conn *out, struct tt_err *err)
{
    const char *why = NULL;
    int rc;

    memset(out, 0, sizeof(*out));
    if ((rc = tt_k8s__server_dup(url, &out->server, &why)) == TT_EINVAL)
        return tt_err_set(err, rc, "--apiserver-host %.80s: %s", url, why);
    if (rc != 0 || (out->source = tt_k8s__strf("--apiserver-host %s", out->server)) == NULL) {
        tt_k8s_conn_free(out);
        return tt_err_set(err, TT_ENOMEM, "--apiserver-host: out of memory");
    }
    return 0;
}

int tt_k8s_conn_apply_server_override(struct tt_k8s_conn *c, const char *url, struct tt_err *err)
{
    const char *why = NULL;
    char *server = NULL, *source = NULL;
    int rc;

    if ((rc = tt_k8s__server_dup(url, &server, &why)) == TT_EINVAL)
        return tt_err_set(err, rc, "--apiserver-host %.80s: %s", url, why);
    if (rc != 0 || (source = tt_k8s__strf("%s, server from --apiserver-host", c->source)) == NULL) {
        tt_free(server);
        return tt_err_set(err, TT_ENOMEM, "--apiserver-host: out of memory");
    }
    tt_free(c->server);
    tt_free(c->source);
    c->server = server;
    c->source = source;
    return 0;
}

/* ---- precedence ---- */

/* Empty files count as absent, so KUBECONFIG=/dev/null means "no kubeconfig", as in kubectl. */
static bool usable_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
}

/* The kubeconfig from $KUBECONFIG or ~/.kube/config: *path is a new string or NULL when
 * there is none. Returns 0 or TT_ENOMEM. */
static int find_kubeconfig(char **path)
{
    const char *env = getenv("KUBECONFIG"), *home = getenv("HOME");
    char *list = NULL, *save = NULL, *p;
    int rc = 0;

    *path = NULL;
    if (env != NULL && *env != '\0') {
        if ((list = tt_strdup(env)) == NULL)
            return TT_ENOMEM;
        for (p = strtok_r(list, ":", &save); p != NULL; p = strtok_r(NULL, ":", &save)) {
            if (usable_file(p)) {
                if ((*path = tt_strdup(p)) == NULL)
                    rc = TT_ENOMEM;
                break;
            }
        }
        tt_free(list);
        return rc;
    }
    if (home == NULL || *home == '\0')
        return 0;
    if ((p = tt_k8s__strf("%s/.kube/config", home)) == NULL)
        return TT_ENOMEM;
    if (usable_file(p))
        *path = p;
    else
        tt_free(p);
    return 0;
}

static bool in_cluster_env(void)
{
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    const char *port = getenv("KUBERNETES_SERVICE_PORT");
    return host != NULL && *host != '\0' && port != NULL && *port != '\0';
}

int tt_k8s_conn_resolve(const char *kubeconfig_flag, const char *apiserver_flag, const char *sa_dir,
                        struct tt_k8s_conn *out, struct tt_err *err)
{
    char *found = NULL;
    int rc;

    memset(out, 0, sizeof(*out));
    if (apiserver_flag != NULL && *apiserver_flag == '\0')
        apiserver_flag = NULL;
    if (kubeconfig_flag != NULL && *kubeconfig_flag != '\0') {
        rc = tt_k8s_conn_from_kubeconfig(kubeconfig_flag, out, err);
    } else if (in_cluster_env()) {
        rc = tt_k8s_conn_in_cluster(sa_dir, out, err);
    } else if (find_kubeconfig(&found) != 0) {
        return tt_err_set(err, TT_ENOMEM, "kubeconfig: out of memory");
    } else if (found != NULL) {
        rc = tt_k8s_conn_from_kubeconfig(found, out, err);
        tt_free(found);
    } else if (apiserver_flag != NULL) {
        return tt_k8s_conn_from_url(apiserver_flag, out, err);
    } else {
        return tt_err_set(err, TT_ENOENT, NO_CONFIG);
    }
    if (rc == 0 && apiserver_flag != NULL &&
        (rc = tt_k8s_conn_apply_server_override(out, apiserver_flag, err)) != 0)
        tt_k8s_conn_free(out);
    return rc;
}
