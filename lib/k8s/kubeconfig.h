/* k8s/kubeconfig.h - where the Kubernetes API server is and how to authenticate to it: a
 * kubeconfig file (YAML or JSON), the in-cluster service account, or a bare --apiserver-host
 * URL, chosen with the precedence main() uses (tt_k8s_conn_resolve).
 * Threads: any (main at startup, in practice); blocking file I/O, so never on a loop thread.
 * Invariants: a filled tt_k8s_conn owns every string in it; server is never NULL and has no
 * trailing slash; file paths are absolute or relative to the working directory (kubeconfig-
 * relative ones are resolved); nothing here touches libcurl: the client maps the fields to
 * CURLOPT_*. Behaviour follows spec/kubernetes-api.md §3.1-3.2 and client-go. */
#ifndef TT_K8S_KUBECONFIG_H
#define TT_K8S_KUBECONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

#define TT_K8S_KUBECONFIG_MAX_FILE (4 * 1024 * 1024) /* bytes in a kubeconfig file */
#define TT_K8S_SA_DIR              "/var/run/secrets/kubernetes.io/serviceaccount"

/* Connection settings. Every pointer is owned by the struct (tt_k8s_conn_free) and is NULL
 * when the setting is absent; the PEM buffers are NUL-terminated beyond their length. At most
 * one of ca_file/ca_pem, client_cert_file/client_cert_pem and client_key_file/client_key_pem
 * is set, a client certificate always comes with its key, and insecure is never combined with
 * a CA (client-go rejects all of these). */
struct tt_k8s_conn {
    char *server;  /* "https://host:port[/path]" or "http://..."; never NULL on success */
    char *ca_file; /* PEM file: certificate-authority, or the in-cluster ca.crt */
    char *ca_pem;  /* decoded certificate-authority-data */
    size_t ca_pem_len;
    char *client_cert_file; /* client-certificate */
    char *client_key_file;  /* client-key */
    char *client_cert_pem;  /* decoded client-certificate-data */
    size_t client_cert_pem_len;
    char *client_key_pem; /* decoded client-key-data */
    size_t client_key_pem_len;
    bool insecure;    /* insecure-skip-tls-verify */
    char *token;      /* static bearer token */
    char *token_file; /* re-read periodically (k8s/token.h); wins over token, as in client-go */
    char *ns;         /* context namespace, or the in-cluster namespace file's content */
    char *source;     /* for logs: "kubeconfig PATH (context NAME)", "in-cluster", ... */
};

/* Fills |out| from the kubeconfig file |path| (borrowed): YAML or JSON (JSON is YAML flow
 * syntax; the first document counts). current-context names an entry of contexts[], whose
 * cluster and user name entries of clusters[] and users[] (the first entry with the name
 * wins). A file without current-context but with exactly one context uses that context
 * (kubectl would refuse; there is only one reading), and with several it is an error. A context
 * without a user means no credentials. Relative certificate-authority, client-certificate,
 * client-key and tokenFile paths are resolved against the directory of |path|, as kubectl does, and
 * must be readable. Not supported, each failing with a message that says so: users[].user.exec and
 * auth-provider (credential plugins), username/password, impersonation (as, as-groups, ...),
 * clusters[].cluster.proxy-url and tls-server-name; also "REDACTED"/"DATA+OMITTED"
 * placeholders from `kubectl config view` without --raw.
 * Returns 0 with |out| filled (free with tt_k8s_conn_free), or an error with |out| zeroed and
 * |err| naming the file and what is missing or wrong (e.g. `kubeconfig PATH: current-context
 * "foo" not found in contexts`, `... cluster "c" has no server`, `... bad base64 in
 * certificate-authority-data of cluster "c"`): a negative errno when the file (or a file it
 * names) cannot be read, TT_ERANGE over TT_K8S_KUBECONFIG_MAX_FILE or the YAML limits,
 * TT_EPARSE for malformed YAML/JSON, TT_EINVAL for anything else wrong or unsupported,
 * TT_ENOMEM. */
int tt_k8s_conn_from_kubeconfig(const char *path, struct tt_k8s_conn *out, struct tt_err *err);

/* Fills |out| the way client-go's rest.InClusterConfig does: server "https://HOST:PORT" from
 * $KUBERNETES_SERVICE_HOST and $KUBERNETES_SERVICE_PORT (an IPv6 host goes in brackets),
 * token_file |sa_dir|/token, which must hold a token now, ca_file |sa_dir|/ca.crt (NULL, with
 * a WARN line, when it does not exist: the system CA store applies, as in client-go), ns from
 * |sa_dir|/namespace when that exists. |sa_dir| NULL means TT_K8S_SA_DIR. Returns 0 with
 * |out| filled; TT_ENOENT with "not running in a cluster (KUBERNETES_SERVICE_HOST/PORT unset)"
 * when either variable is unset or empty; TT_EINVAL for a port that is not a number or a bad
 * token; a negative errno when the token cannot be read; TT_ENOMEM. |out| is zeroed on error. */
int tt_k8s_conn_in_cluster(const char *sa_dir, struct tt_k8s_conn *out, struct tt_err *err);

/* Fills |out| with |url| as the server and no credentials nor TLS settings: --apiserver-host
 * on its own, e.g. `kubectl proxy` on http://127.0.0.1:8001. The URL must be http:// or
 * https:// with a host and no query or fragment; trailing slashes are dropped. Returns 0, or
 * TT_EINVAL ("--apiserver-host URL: reason") / TT_ENOMEM with |out| zeroed. */
int tt_k8s_conn_from_url(const char *url, struct tt_k8s_conn *out, struct tt_err *err);

/* --apiserver-host over a kubeconfig or in-cluster conn: replaces c->server by |url| (checked
 * as in tt_k8s_conn_from_url) and keeps every credential and TLS setting, as ingress-nginx's
 * flag does; c->source gains ", server from --apiserver-host". Returns 0, or TT_EINVAL /
 * TT_ENOMEM with |c| unchanged. */
int tt_k8s_conn_apply_server_override(struct tt_k8s_conn *c, const char *url, struct tt_err *err);

/* The controller's choice of API configuration, first match wins:
 *   1. |kubeconfig_flag| (--kubeconfig) when not NULL or empty; it must load;
 *   2. in-cluster when $KUBERNETES_SERVICE_HOST and _PORT are both set (|sa_dir| as in
 *      tt_k8s_conn_in_cluster; NULL for the default);
 *   3. $KUBECONFIG when set and not empty: the first path of its colon-separated list that
 *      exists as a non-empty regular file. Entries are not merged as kubectl merges them, and,
 *      as in kubectl, ~/.kube/config is not consulted when $KUBECONFIG is set;
 *   4. $HOME/.kube/config when it exists and is not empty;
 *   5. |apiserver_flag| (--apiserver-host) alone (tt_k8s_conn_from_url);
 *   6. otherwise TT_ENOENT with "no Kubernetes API configuration: pass --kubeconfig, run in a
 *      cluster, or use --manifests".
 * Empty files are skipped in 3 and 4 so that KUBECONFIG=/dev/null works as with kubectl.
 * When 1-4 produced the conn and |apiserver_flag| is set, it overrides the server
 * (tt_k8s_conn_apply_server_override). Reads the environment with getenv, so call it before
 * threads that may setenv start. Returns 0 with |out| filled, or the error of the chosen
 * source (see above) with |out| zeroed. */
int tt_k8s_conn_resolve(const char *kubeconfig_flag, const char *apiserver_flag, const char *sa_dir,
                        struct tt_k8s_conn *out, struct tt_err *err);

/* Frees every string of |c| and zeroes it. Safe on a zeroed |c|; NULL is a no-op. */
void tt_k8s_conn_free(struct tt_k8s_conn *c);

#endif
