/* k8s/kubeconfig.c - a kubeconfig file (YAML or JSON) to connection settings.
 * Threads: any; blocking file reads.
 * The file becomes a cJSON tree (k8s/yaml.h) that lives only during the call: every string
 * kept in the conn is a fresh copy. Field names and the checks on them follow client-go's
 * clientcmd (validation.go), so a kubeconfig kubectl refuses is refused here too, with the
 * offending entry named. */
#include "k8s/kubeconfig.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "k8s/internal.h"
#include "k8s/objects.h"
#include "k8s/yaml.h"

/* One call's state, so helpers can prefix errors with the file name. */
struct kc {
    const char *path;
    char *dir; /* directory of |path| for relative file names; NULL when |path| has no '/' */
    struct tt_err *err;
    struct tt_k8s_conn *out;
};

static int failf(struct kc *k, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int failf(struct kc *k, int code, const char *fmt, ...)
{
    char what[sizeof(k->err->msg)];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return tt_err_set(k->err, code, "kubeconfig %s: %s", k->path, what);
}

static int nomem(struct kc *k)
{
    return failf(k, TT_ENOMEM, "out of memory");
}

/* A member other than JSON null, or NULL. */
static const cJSON *member(const cJSON *o, const char *key)
{
    const cJSON *v = o != NULL ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
    return cJSON_IsNull(v) ? NULL : v;
}

/* True when |key| is set to something that means "configured": not null, not "", not an
 * empty list or mapping. */
static bool has(const cJSON *o, const char *key)
{
    const cJSON *v = member(o, key);
    if (v == NULL)
        return false;
    if (cJSON_IsString(v))
        return v->valuestring[0] != '\0';
    if (cJSON_IsArray(v) || cJSON_IsObject(v))
        return v->child != NULL;
    return true;
}

/* A string member: *out is NULL when absent, null or "" (client-go treats "" as unset). */
static int str_field(struct kc *k, const cJSON *o, const char *key, const char *where,
                     const char **out)
{
    const cJSON *v = member(o, key);

    *out = NULL;
    if (v == NULL)
        return 0;
    if (!cJSON_IsString(v))
        return failf(k, TT_EINVAL, "%s: %s is not a string", where, key);
    if (v->valuestring[0] != '\0')
        *out = v->valuestring;
    return 0;
}

/* The |inner| mapping of the first entry of the list |list| named |name|. *found tells
 * whether the entry exists; *out is NULL when it has no |inner| mapping. */
static int find_named(struct kc *k, const cJSON *root, const char *list, const char *inner,
                      const char *name, const cJSON **out, bool *found)
{
    const cJSON *arr = member(root, list), *e;

    *out = NULL;
    *found = false;
    if (arr == NULL)
        return 0;
    if (!cJSON_IsArray(arr))
        return failf(k, TT_EINVAL, "%s is not a list", list);
    cJSON_ArrayForEach(e, arr)
    {
        const cJSON *n = member(e, "name"), *v;
        if (!cJSON_IsString(n) || strcmp(n->valuestring, name) != 0)
            continue;
        v = member(e, inner);
        if (v != NULL && !cJSON_IsObject(v))
            return failf(k, TT_EINVAL, "%s \"%.64s\": %s is not a mapping", list, name, inner);
        *out = v;
        *found = true;
        return 0;
    }
    return 0;
}

/* A file named by the kubeconfig: relative names are relative to the kubeconfig's directory
 * (client-go's ResolvePaths). Checked for readability now, so a typo fails at startup and
 * names the field, rather than as a TLS error on the first request. */
static int file_field(struct kc *k, const char *p, const char *field, const char *where, char **out)
{
    char *full;
    int e, rc;

    if (p[0] == '/' || k->dir == NULL)
        full = tt_strdup(p);
    else
        full = tt_k8s__path_join(k->dir, p);
    if (full == NULL)
        return nomem(k);
    if (access(full, R_OK) == -1) {
        e = errno;
        rc = failf(k, -e, "%s: cannot read %s %s: %s", where, field, full, strerror(e));
        tt_free(full);
        return rc;
    }
    *out = full;
    return 0;
}

/* `kubectl config view` without --raw prints these instead of secrets; decoding them as
 * base64 would succeed and give garbage, so name the mistake instead. */
static bool redacted(const char *s)
{
    return strcmp(s, "REDACTED") == 0 || strcmp(s, "DATA+OMITTED") == 0;
}

static int data_field(struct kc *k, const char *b64, const char *field, const char *where,
                      char **out, size_t *out_len)
{
    unsigned char *bytes = NULL;
    int rc;

    if (redacted(b64))
        return failf(k, TT_EINVAL, "%s: %s is \"%s\" (export it with kubectl config view --raw)",
                     where, field, b64);
    rc = tt_k8s_base64_decode(b64, strlen(b64), &bytes, out_len);
    if (rc == TT_ENOMEM)
        return nomem(k);
    if (rc != 0)
        return failf(k, TT_EINVAL, "bad base64 in %s of %s", field, where);
    *out = (char *)bytes;
    return 0;
}

/* A PEM given either as a file or inline; client-go refuses both at once. */
static int pem_pair(struct kc *k, const cJSON *o, const char *field, const char *where, char **file,
                    char **pem, size_t *pem_len)
{
    char data_key[64];
    const char *f, *d;
    int rc;

    snprintf(data_key, sizeof(data_key), "%s-data", field);
    if ((rc = str_field(k, o, field, where, &f)) != 0 ||
        (rc = str_field(k, o, data_key, where, &d)) != 0)
        return rc;
    if (f != NULL && d != NULL)
        return failf(k, TT_EINVAL, "%s: both %s and %s are set", where, field, data_key);
    if (f != NULL)
        return file_field(k, f, field, where, file);
    if (d != NULL)
        return data_field(k, d, data_key, where, pem, pem_len);
    return 0;
}

static int load_cluster(struct kc *k, const cJSON *cl, const char *name)
{
    static const char *const unsupported[] = {"proxy-url", "tls-server-name"};
    struct tt_k8s_conn *c = k->out;
    const cJSON *insecure;
    const char *server, *why = NULL;
    char where[96];
    int rc;

    snprintf(where, sizeof(where), "cluster \"%.64s\"", name);
    if ((rc = str_field(k, cl, "server", where, &server)) != 0)
        return rc;
    if (server == NULL)
        return failf(k, TT_EINVAL, "%s has no server", where);
    if ((rc = tt_k8s__server_dup(server, &c->server, &why)) == TT_ENOMEM)
        return nomem(k);
    if (rc != 0)
        return failf(k, rc, "%s: server \"%.64s\" %s", where, server, why);
    for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++)
        if (has(cl, unsupported[i]))
            return failf(k, TT_EINVAL, "%s: %s is not supported", where, unsupported[i]);
    if ((insecure = member(cl, "insecure-skip-tls-verify")) != NULL) {
        if (!cJSON_IsBool(insecure))
            return failf(k, TT_EINVAL, "%s: insecure-skip-tls-verify is not true or false", where);
        c->insecure = cJSON_IsTrue(insecure);
    }
    if ((rc = pem_pair(k, cl, "certificate-authority", where, &c->ca_file, &c->ca_pem,
                       &c->ca_pem_len)) != 0)
        return rc;
    /* client-go: "specifying a root certificates file with the insecure flag is not allowed". */
    if (c->insecure && (c->ca_file != NULL || c->ca_pem != NULL))
        return failf(k, TT_EINVAL, "%s: insecure-skip-tls-verify excludes a certificate authority",
                     where);
    return 0;
}

static int load_user(struct kc *k, const cJSON *u, const char *name)
{
    struct tt_k8s_conn *c = k->out;
    const char *token, *token_file;
    char where[96];
    int rc;

    snprintf(where, sizeof(where), "user \"%.64s\"", name);
    /* Refuse what we cannot honour rather than connect with less than was asked for. */
    if (has(u, "exec"))
        return failf(k, TT_EINVAL,
                     "%s: exec credential plugins are not supported (use token, tokenFile or a "
                     "client certificate)",
                     where);
    if (has(u, "auth-provider"))
        return failf(k, TT_EINVAL,
                     "%s: auth-provider is not supported (use token, tokenFile or a client "
                     "certificate)",
                     where);
    if (has(u, "username") || has(u, "password"))
        return failf(k, TT_EINVAL, "%s: username/password (basic auth) is not supported", where);
    if (has(u, "as") || has(u, "as-uid") || has(u, "as-groups") || has(u, "as-user-extra"))
        return failf(k, TT_EINVAL, "%s: impersonation (as, as-groups, ...) is not supported",
                     where);

    if ((rc = str_field(k, u, "token", where, &token)) != 0 ||
        (rc = str_field(k, u, "tokenFile", where, &token_file)) != 0)
        return rc;
    if (token != NULL && redacted(token))
        return failf(k, TT_EINVAL, "%s: token is \"%s\" (export it with kubectl config view --raw)",
                     where, token);
    if (token != NULL && !tt_k8s__token_ok(token))
        return failf(k, TT_EINVAL, "%s: token has spaces or control characters", where);
    if (token != NULL && (c->token = tt_strdup(token)) == NULL)
        return nomem(k);
    if (token_file != NULL &&
        (rc = file_field(k, token_file, "tokenFile", where, &c->token_file)) != 0)
        return rc;

    if ((rc = pem_pair(k, u, "client-certificate", where, &c->client_cert_file, &c->client_cert_pem,
                       &c->client_cert_pem_len)) != 0 ||
        (rc = pem_pair(k, u, "client-key", where, &c->client_key_file, &c->client_key_pem,
                       &c->client_key_pem_len)) != 0)
        return rc;
    if ((c->client_cert_file != NULL || c->client_cert_pem != NULL) !=
        (c->client_key_file != NULL || c->client_key_pem != NULL))
        return failf(k, TT_EINVAL, "%s: a client certificate needs both certificate and key",
                     where);
    return 0;
}

/* Picks the context: current-context, or the only one there is. */
static int pick_context(struct kc *k, const cJSON *root, const char **name, const cJSON **ctx)
{
    const cJSON *arr, *e, *n;
    bool found;
    int rc, count;

    if ((rc = str_field(k, root, "current-context", "top level", name)) != 0)
        return rc;
    if (*name != NULL) {
        if ((rc = find_named(k, root, "contexts", "context", *name, ctx, &found)) != 0)
            return rc;
        if (!found)
            return failf(k, TT_EINVAL, "current-context \"%.64s\" not found in contexts", *name);
        return 0;
    }
    /* No current-context: kubectl would stop here, but a file with exactly one context has
     * only one reading, and hand-written or generated files sometimes leave the field out. */
    arr = member(root, "contexts");
    count = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : 0;
    if (count != 1)
        return failf(k, TT_EINVAL, "no current-context, and %d contexts to choose from", count);
    e = arr->child;
    n = member(e, "name");
    *name = cJSON_IsString(n) ? n->valuestring : "";
    *ctx = member(e, "context");
    if (*ctx != NULL && !cJSON_IsObject(*ctx))
        return failf(k, TT_EINVAL, "context \"%.64s\": context is not a mapping", *name);
    return 0;
}

static int load(struct kc *k, const cJSON *root)
{
    const cJSON *ctx = NULL, *cl = NULL, *u = NULL;
    const char *ctx_name, *cl_name, *u_name, *ns;
    char where[96];
    bool found;
    int rc;

    if ((rc = pick_context(k, root, &ctx_name, &ctx)) != 0)
        return rc;
    snprintf(where, sizeof(where), "context \"%.64s\"", ctx_name);
    if ((rc = str_field(k, ctx, "cluster", where, &cl_name)) != 0 ||
        (rc = str_field(k, ctx, "user", where, &u_name)) != 0 ||
        (rc = str_field(k, ctx, "namespace", where, &ns)) != 0)
        return rc;
    if (cl_name == NULL)
        return failf(k, TT_EINVAL, "%s names no cluster", where);
    if ((rc = find_named(k, root, "clusters", "cluster", cl_name, &cl, &found)) != 0)
        return rc;
    if (!found)
        return failf(k, TT_EINVAL, "%s: cluster \"%.64s\" not found in clusters", where, cl_name);
    if ((rc = load_cluster(k, cl, cl_name)) != 0)
        return rc;
    /* A context without a user is legal: no credentials (e.g. an authenticating proxy). */
    if (u_name != NULL) {
        if ((rc = find_named(k, root, "users", "user", u_name, &u, &found)) != 0)
            return rc;
        if (!found)
            return failf(k, TT_EINVAL, "%s: user \"%.64s\" not found in users", where, u_name);
        if ((rc = load_user(k, u, u_name)) != 0)
            return rc;
    }
    if (ns != NULL && (k->out->ns = tt_strdup(ns)) == NULL)
        return nomem(k);
    if ((k->out->source = tt_k8s__strf("kubeconfig %s (context %s)", k->path, ctx_name)) == NULL)
        return nomem(k);
    return 0;
}

int tt_k8s_conn_from_kubeconfig(const char *path, struct tt_k8s_conn *out, struct tt_err *err)
{
    struct kc k = {.path = path, .err = err, .out = out};
    struct tt_err perr = {0};
    const char *slash;
    const cJSON *root;
    cJSON *docs = NULL;
    char *text = NULL;
    size_t len = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    if ((rc = tt_k8s__read_file(path, TT_K8S_KUBECONFIG_MAX_FILE, "kubeconfig", &text, &len,
                                err)) != 0)
        return rc;
    if ((slash = strrchr(path, '/')) != NULL &&
        (k.dir = tt_strndup(path, slash == path ? 1 : (size_t)(slash - path))) == NULL) {
        rc = nomem(&k);
        goto out;
    }
    /* JSON is YAML flow syntax, so one parser reads both (kubectl does the same through
     * sigs.k8s.io/yaml), and its errors carry a line and column either way. */
    if ((rc = tt_k8s_yaml_parse(text, len, &docs, &perr)) != 0) {
        rc = failf(&k, rc, "%s", perr.msg);
        goto out;
    }
    /* Like kubectl, only the first document counts. */
    root = cJSON_GetArrayItem(docs, 0);
    if (root == NULL || cJSON_IsNull(root)) {
        rc = failf(&k, TT_EINVAL, "empty");
        goto out;
    }
    if (!cJSON_IsObject(root)) {
        rc = failf(&k, TT_EINVAL, "not a mapping");
        goto out;
    }
    rc = load(&k, root);
out:
    if (rc != 0)
        tt_k8s_conn_free(out);
    cJSON_Delete(docs);
    tt_free(text);
    tt_free(k.dir);
    return rc;
}
