/* test/unit/k8s/test_kubeconfig.c - API connection settings: kubeconfig files (YAML, JSON,
 * context selection, relative paths, inline PEM data, errors that name what is wrong,
 * unsupported auth), the in-cluster service account, --apiserver-host, the precedence of
 * tt_k8s_conn_resolve, and the rotating token source. Every test works in its own temporary
 * directory and restores the environment variables it sets. The out-of-memory sweep re-runs
 * this binary with TT_ALLOC_FAIL_AT=N, as test/unit/route/test_match.c does. */
/* cmocka.h needs the four headers before it. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "unit/oomsweep.h"
/* clang-format on */

#include "unit/leakcheck.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "k8s/kubeconfig.h"
#include "k8s/token.h"

/* base64 of the PEM texts below. */
#define CA_PEM   "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n"
#define CA_B64   "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCkNBCi0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K"
#define CERT_PEM "-----BEGIN CERTIFICATE-----\nCLIENT\n-----END CERTIFICATE-----\n"
#define CERT_B64                                                                                   \
    "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCkNMSUVOVAotLS0tLUVORCBDRVJUSUZJQ0FURS0tLS0tCg=="
#define KEY_PEM "-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n"
#define KEY_B64 "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCktFWQotLS0tLUVORCBQUklWQVRFIEtFWS0tLS0tCg=="

#define NO_CONFIG                                                                                  \
    "no Kubernetes API configuration: pass --kubeconfig, run in a cluster, or use --manifests"

static char dir[64];     /* this test's temporary directory */
static char *saved_home; /* $HOME before the test */

static const char *const touched_env[] = {"KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT",
                                          "KUBECONFIG"};

static int setup(void **state)
{
    (void)state;
    const char *home = getenv("HOME");
    tt_log_configure("error"); /* the missing-ca.crt WARN is expected; keep output quiet */
    snprintf(dir, sizeof(dir), "/tmp/tt-kubeconfig-XXXXXX");
    assert_non_null(mkdtemp(dir));
    saved_home = home != NULL ? strdup(home) : NULL;
    for (size_t i = 0; i < sizeof(touched_env) / sizeof(touched_env[0]); i++)
        unsetenv(touched_env[i]);
    tt_test_leaks_begin();
    return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    (void)state;
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    for (size_t i = 0; i < sizeof(touched_env) / sizeof(touched_env[0]); i++)
        unsetenv(touched_env[i]);
    if (saved_home != NULL)
        setenv("HOME", saved_home, 1);
    else
        unsetenv("HOME");
    free(saved_home);
    saved_home = NULL;
    tt_test_leaks_end(); /* last: a failure here skips what follows */
    return 0;
}

/* dir/name into |buf| (PATH_MAX-ish buffers on the caller's stack). */
static const char *at(char *buf, const char *name)
{
    snprintf(buf, 512, "%s/%s", dir, name);
    return buf;
}

static void mkdirs(const char *name)
{
    char p[512];
    assert_int_equal(mkdir(at(p, name), 0700), 0);
}

static void write_file(const char *name, const char *content)
{
    char p[512], tmp[520];
    FILE *f;
    /* Write then rename, like the kubelet, so a re-read never sees half a file. */
    snprintf(tmp, sizeof(tmp), "%s.tmp", at(p, name));
    assert_non_null(f = fopen(tmp, "w"));
    assert_int_equal(fwrite(content, 1, strlen(content), f), strlen(content));
    assert_int_equal(fclose(f), 0);
    assert_int_equal(rename(tmp, p), 0);
}

static int load(const char *name, struct tt_k8s_conn *c, struct tt_err *err)
{
    char p[512];
    memset(err, 0, sizeof(*err));
    return tt_k8s_conn_from_kubeconfig(at(p, name), c, err);
}

static void assert_zeroed(const struct tt_k8s_conn *c)
{
    static const struct tt_k8s_conn zero;
    assert_memory_equal(c, &zero, sizeof(zero));
}

/* Writes |content| as "config", expects |code| and |needle| in the message, no conn. */
static void expect_error(const char *content, int code, const char *needle)
{
    struct tt_k8s_conn c;
    struct tt_err err;
    int rc;

    write_file("config", content);
    rc = load("config", &c, &err);
    if (rc != code || strstr(err.msg, needle) == NULL)
        fail_msg("want %d \"%s\", got %d \"%s\" for:\n%s", code, needle, rc, err.msg, content);
    assert_zeroed(&c);
}

/* ---- kubeconfig files ---- */

static void test_yaml_kubeconfig(void **state)
{
    (void)state;
    struct tt_k8s_conn c;
    struct tt_err err;
    char p[512], want[1024], cwd[512];

    mkdirs("certs");
    write_file("certs/ca.pem", CA_PEM);
    write_file("config", "apiVersion: v1\n"
                         "kind: Config\n"
                         "clusters:\n"
                         "- name: dev\n"
                         "  cluster:\n"
                         "    server: https://dev.example:6443/\n"
                         "    certificate-authority: certs/ca.pem\n"
                         "users:\n"
                         "- name: alice\n"
                         "  user:\n"
                         "    token: abc.def-ghi\n"
                         "contexts:\n"
                         "- name: dev\n"
                         "  context:\n"
                         "    cluster: dev\n"
                         "    user: alice\n"
                         "    namespace: team-a\n"
                         "current-context: dev\n"
                         "preferences: {}\n");
    assert_int_equal(load("config", &c, &err), 0);
    assert_string_equal(c.server, "https://dev.example:6443"); /* trailing slash dropped */
    assert_string_equal(c.ca_file, at(p, "certs/ca.pem"));     /* relative to the file */
    assert_null(c.ca_pem);
    assert_false(c.insecure);
    assert_string_equal(c.token, "abc.def-ghi");
    assert_null(c.token_file);
    assert_null(c.client_cert_file);
    assert_null(c.client_cert_pem);
    assert_null(c.client_key_file);
    assert_null(c.client_key_pem);
    assert_string_equal(c.ns, "team-a");
    snprintf(want, sizeof(want), "kubeconfig %s (context dev)", at(p, "config"));
    assert_string_equal(c.source, want);
    tt_k8s_conn_free(&c);
    assert_zeroed(&c);
    tt_k8s_conn_free(&c); /* twice is fine */
    tt_k8s_conn_free(NULL);

    /* A kubeconfig named without a directory: its relative paths stay relative to the
     * working directory, which is where the file is. */
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(dir), 0);
    assert_int_equal(tt_k8s_conn_from_kubeconfig("config", &c, &err), 0);
    assert_string_equal(c.ca_file, "certs/ca.pem");
    tt_k8s_conn_free(&c);
    assert_int_equal(chdir(cwd), 0);

    /* An absolute certificate-authority is kept as it is. */
    snprintf(want, sizeof(want),
             "clusters: [{name: dev, cluster: {server: 'http://h', certificate-authority: %s}}]\n"
             "contexts: [{name: dev, context: {cluster: dev}}]\n"
             "current-context: dev\n",
             at(p, "certs/ca.pem"));
    write_file("config", want);
    assert_int_equal(load("config", &c, &err), 0);
    assert_string_equal(c.ca_file, p);
    assert_null(c.token);
    tt_k8s_conn_free(&c);
}

static void test_json_kubeconfig(void **state)
{
    (void)state;
    struct tt_k8s_conn c;
    struct tt_err err;
    char p[512];

    /* The shape of `kubectl config view --raw --minify -o json`. */
    write_file("config.json", "{\n"
                              "    \"kind\": \"Config\",\n"
                              "    \"apiVersion\": \"v1\",\n"
                              "    \"preferences\": {},\n"
                              "    \"clusters\": [\n"
                              "        {\n"
                              "            \"name\": \"kind-kind\",\n"
                              "            \"cluster\": {\n"
                              "                \"server\": \"https://127.0.0.1:39357\",\n"
                              "                \"certificate-authority-data\": \"" CA_B64 "\"\n"
                              "            }\n"
                              "        }\n"
                              "    ],\n"
                              "    \"users\": [\n"
                              "        {\n"
                              "            \"name\": \"kind-kind\",\n"
                              "            \"user\": {\n"
                              "                \"client-certificate-data\": \"" CERT_B64 "\",\n"
                              "                \"client-key-data\": \"" KEY_B64 "\"\n"
                              "            }\n"
                              "        }\n"
                              "    ],\n"
                              "    \"contexts\": [\n"
                              "        {\n"
                              "            \"name\": \"kind-kind\",\n"
                              "            \"context\": {\n"
                              "                \"cluster\": \"kind-kind\",\n"
                              "                \"user\": \"kind-kind\"\n"
                              "            }\n"
                              "        }\n"
                              "    ],\n"
                              "    \"current-context\": \"kind-kind\"\n"
                              "}\n");
    assert_int_equal(load("config.json", &c, &err), 0);
    assert_string_equal(c.server, "https://127.0.0.1:39357");
    assert_null(c.ca_file);
    assert_int_equal(c.ca_pem_len, strlen(CA_PEM));
    assert_memory_equal(c.ca_pem, CA_PEM, strlen(CA_PEM));
    assert_int_equal(c.ca_pem[c.ca_pem_len], '\0');
    assert_int_equal(c.client_cert_pem_len, strlen(CERT_PEM));
    assert_string_equal(c.client_cert_pem, CERT_PEM);
    assert_int_equal(c.client_key_pem_len, strlen(KEY_PEM));
    assert_string_equal(c.client_key_pem, KEY_PEM);
    assert_null(c.client_cert_file);
    assert_null(c.token);
    assert_null(c.ns);
    tt_k8s_conn_free(&c);

    /* Minified JSON, insecure, and a relative tokenFile. */
    mkdirs("tokens");
    write_file("tokens/t", "file-token\n");
    write_file("min.json",
               "{\"clusters\":[{\"name\":\"c\",\"cluster\":{\"server\":\"https://[::1]:6443\","
               "\"insecure-skip-tls-verify\":true}}],\"users\":[{\"name\":\"u\",\"user\":{"
               "\"tokenFile\":\"tokens/t\",\"token\":\"static\"}}],\"contexts\":[{\"name\":\"x\","
               "\"context\":{\"cluster\":\"c\",\"user\":\"u\",\"namespace\":\"ns1\"}}],"
               "\"current-context\":\"x\"}");
    assert_int_equal(load("min.json", &c, &err), 0);
    assert_string_equal(c.server, "https://[::1]:6443");
    assert_true(c.insecure);
    assert_string_equal(c.token_file, at(p, "tokens/t"));
    assert_string_equal(c.token, "static"); /* kept; the token source prefers the file */
    assert_string_equal(c.ns, "ns1");
    tt_k8s_conn_free(&c);

    /* Broken JSON is a parse error with a position. */
    write_file("bad.json", "{\"clusters\": [}\n");
    assert_int_equal(load("bad.json", &c, &err), TT_EPARSE);
    assert_non_null(strstr(err.msg, "line 1"));
    assert_zeroed(&c);
}

static void test_current_context_selects(void **state)
{
    (void)state;
    struct tt_k8s_conn c;
    struct tt_err err;
    char p[512], q[512], body[2048];

    mkdirs("pki");
    write_file("pki/bob.crt", CERT_PEM);
    write_file("pki/bob.key", KEY_PEM);
    write_file("bob-token", "bob\n");
    snprintf(body, sizeof(body),
             "current-context: staging\n"
             "contexts:\n"
             "- {name: dev, context: {cluster: a, user: alice}}\n"
             "- {name: staging, context: {cluster: b, user: bob, namespace: web}}\n"
             "- {name: prod, context: {cluster: c, user: carol}}\n"
             "clusters:\n"
             "- {name: a, cluster: {server: 'https://a:1'}}\n"
             "- {name: b, cluster: {server: 'https://b:2/prefix/'}}\n"
             "- {name: b, cluster: {server: 'https://shadowed:2'}}\n"
             "- {name: c, cluster: {server: 'https://c:3'}}\n"
             "users:\n"
             "- {name: alice, user: {token: a}}\n"
             "- name: bob\n"
             "  user:\n"
             "    tokenFile: bob-token\n"
             "    client-certificate: pki/bob.crt\n"
             "    client-key: %s\n"
             "- {name: carol, user: {exec: {command: carol-login}}}\n",
             at(q, "pki/bob.key"));
    write_file("config", body);
    assert_int_equal(load("config", &c, &err), 0);
    assert_string_equal(c.server, "https://b:2/prefix"); /* first "b" wins */
    assert_string_equal(c.token_file, at(p, "bob-token"));
    assert_null(c.token);
    assert_string_equal(c.client_cert_file, at(p, "pki/bob.crt"));
    assert_string_equal(c.client_key_file, q);
    assert_string_equal(c.ns, "web");
    assert_non_null(strstr(c.source, "(context staging)"));
    tt_k8s_conn_free(&c);

    /* The other contexts are not looked at, but selecting carol's fails on exec. */
    body[strlen("current-context: ")] = 'X'; /* "Xtaging": no such context */
    write_file("config", body);
    assert_int_equal(load("config", &c, &err), TT_EINVAL);
    assert_non_null(strstr(err.msg, "current-context \"Xtaging\" not found in contexts"));
    memcpy(body + strlen("current-context: "), "prod   ", 7);
    write_file("config", body);
    assert_int_equal(load("config", &c, &err), TT_EINVAL);
    assert_non_null(strstr(err.msg, "user \"carol\": exec credential plugins are not supported"));
}

static void test_without_current_context(void **state)
{
    (void)state;
    struct tt_k8s_conn c;
    struct tt_err err;

    /* Exactly one context: used, whether current-context is absent or empty. */
    write_file("config", "clusters: [{name: a, cluster: {server: 'http://a'}}]\n"
                         "contexts: [{name: only, context: {cluster: a}}]\n");
    assert_int_equal(load("config", &c, &err), 0);
    assert_string_equal(c.server, "http://a");
    assert_non_null(strstr(c.source, "(context only)"));
    tt_k8s_conn_free(&c);
    write_file("config", "current-context: ''\n"
                         "clusters: [{name: a, cluster: {server: 'http://a'}}]\n"
                         "contexts: [{name: only, context: {cluster: a}}]\n");
    assert_int_equal(load("config", &c, &err), 0);
    tt_k8s_conn_free(&c);

    expect_error("clusters: [{name: a, cluster: {server: 'http://a'}}]\n"
                 "contexts: [{name: x, context: {cluster: a}}, {name: y, context: {cluster: a}}]\n",
                 TT_EINVAL, "no current-context, and 2 contexts to choose from");
    expect_error("clusters: [{name: a, cluster: {server: 'http://a'}}]\n", TT_EINVAL,
                 "no current-context, and 0 contexts to choose from");
}

static void test_inline_data(void **state)
{
    (void)state;
    expect_error("current-context: x\n"
                 "contexts: [{name: x, context: {cluster: c}}]\n"
                 "clusters: [{name: c, cluster: {server: 'https://c', "
                 "certificate-authority-data: 'not*base64'}}]\n",
                 TT_EINVAL, "bad base64 in certificate-authority-data of cluster \"c\"");
    expect_error("current-context: x\n"
                 "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
                 "clusters: [{name: c, cluster: {server: 'https://c'}}]\n"
                 "users: [{name: u, user: {client-certificate-data: " CERT_B64
                 ", client-key-data: 'LS0t='}}]\n",
                 TT_EINVAL, "bad base64 in client-key-data of user \"u\"");
    /* `kubectl config view` without --raw: valid base64 alphabet, but not data. */
    expect_error("current-context: x\n"
                 "contexts: [{name: x, context: {cluster: c}}]\n"
                 "clusters: [{name: c, cluster: {server: 'https://c', "
                 "certificate-authority-data: DATA+OMITTED}}]\n",
                 TT_EINVAL, "kubectl config view --raw");
    expect_error("current-context: x\n"
                 "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
                 "clusters: [{name: c, cluster: {server: 'https://c'}}]\n"
                 "users: [{name: u, user: {token: REDACTED}}]\n",
                 TT_EINVAL, "user \"u\": token is \"REDACTED\"");
    /* Base64 split over lines, as some generators write it. */
    struct tt_k8s_conn c;
    struct tt_err err;
    write_file("config", "current-context: x\n"
                         "contexts: [{name: x, context: {cluster: c}}]\n"
                         "clusters:\n"
                         "- name: c\n"
                         "  cluster:\n"
                         "    server: https://c\n"
                         "    certificate-authority-data: \"LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0t\\n"
                         "LS0tCkNBCi0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K\"\n");
    assert_int_equal(load("config", &c, &err), 0);
    assert_string_equal(c.ca_pem, CA_PEM);
    tt_k8s_conn_free(&c);
}

#define CTX   "current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
#define USERS "users: [{name: u, user: {}}]\n"

static void test_errors_name_what_is_wrong(void **state)
{
    (void)state;
    struct tt_k8s_conn c;
    struct tt_err err;
    char p[512];

    expect_error(CTX "clusters: [{name: c, cluster: {certificate-authority-data: " CA_B64
                     "}}]\n" USERS,
                 TT_EINVAL, "cluster \"c\" has no server");
    expect_error(CTX "clusters: [{name: c}]\n" USERS, TT_EINVAL, "cluster \"c\" has no server");
    expect_error(CTX "clusters: [{name: other, cluster: {server: 'https://o'}}]\n" USERS, TT_EINVAL,
                 "context \"x\": cluster \"c\" not found in clusters");
    expect_error(CTX "clusters: [{name: c, cluster: {server: 'https://c'}}]\n"
                     "users: [{name: v, user: {token: t}}]\n",
                 TT_EINVAL, "context \"x\": user \"u\" not found in users");
    expect_error(CTX "clusters: [{name: c, cluster: {server: 'https://c'}}]\n", TT_EINVAL,
                 "user \"u\" not found in users");
    expect_error("current-context: x\ncontexts: [{name: x, context: {user: u}}]\n", TT_EINVAL,
                 "context \"x\" names no cluster");
    expect_error("current-context: x\ncontexts: [{name: x}]\n", TT_EINVAL,
                 "context \"x\" names no cluster");
    expect_error("current-context: x\n", TT_EINVAL, "current-context \"x\" not found in contexts");
    expect_error(CTX "clusters: [{name: c, cluster: {server: 'ftp://c'}}]\n" USERS, TT_EINVAL,
                 "cluster \"c\": server \"ftp://c\" must start with https:// or http://");
    expect_error(CTX "clusters: [{name: c, cluster: {server: 'c.example:6443'}}]\n" USERS,
                 TT_EINVAL, "must start with https:// or http://");
    expect_error(CTX "clusters: [{name: c, cluster: {server: 'https://'}}]\n" USERS, TT_EINVAL,
                 "has no host");
    expect_error(CTX "clusters: [{name: c, cluster: {server: 6443}}]\n" USERS, TT_EINVAL,
                 "cluster \"c\": server is not a string");
    expect_error(CTX "clusters: [{name: c, cluster: {server: 'https://c', "
                     "insecure-skip-tls-verify: 'yes'}}]\n" USERS,
                 TT_EINVAL, "insecure-skip-tls-verify is not true or false");
    expect_error(CTX "clusters: [{name: c, cluster: {server: 'https://c', "
                     "insecure-skip-tls-verify: true, certificate-authority-data: " CA_B64
                     "}}]\n" USERS,
                 TT_EINVAL, "insecure-skip-tls-verify excludes a certificate authority");
    write_file("ca.pem", CA_PEM);
    expect_error(CTX "clusters: [{name: c, cluster: {server: 'https://c', "
                     "certificate-authority: ca.pem, certificate-authority-data: " CA_B64
                     "}}]\n" USERS,
                 TT_EINVAL, "both certificate-authority and certificate-authority-data are set");
    expect_error(CTX "clusters: [{name: c, cluster: {server: 'https://c', "
                     "certificate-authority: missing.pem}}]\n" USERS,
                 -ENOENT, "cannot read certificate-authority");
    expect_error(CTX "clusters: [{name: c, cluster: {server: 'https://c', "
                     "proxy-url: 'http://proxy:3128'}}]\n" USERS,
                 TT_EINVAL, "cluster \"c\": proxy-url is not supported");
    expect_error(CTX "clusters: [{name: c, cluster: {server: 'https://c', "
                     "tls-server-name: kubernetes}}]\n" USERS,
                 TT_EINVAL, "tls-server-name is not supported");
    expect_error(CTX "clusters: [{name: c, cluster: {server: 'https://c'}}]\n"
                     "users: [{name: u, user: {client-certificate-data: " CERT_B64 "}}]\n",
                 TT_EINVAL, "user \"u\": a client certificate needs both certificate and key");
    expect_error(CTX "clusters: [{name: c, cluster: {server: 'https://c'}}]\n"
                     "users: [{name: u, user: {client-key-data: " KEY_B64 "}}]\n",
                 TT_EINVAL, "needs both certificate and key");
    expect_error(CTX "clusters: [{name: c, cluster: {server: 'https://c'}}]\n"
                     "users: [{name: u, user: {token: 12345}}]\n",
                 TT_EINVAL, "user \"u\": token is not a string");
    expect_error(CTX "clusters: [{name: c, cluster: {server: 'https://c'}}]\n"
                     "users: [{name: u, user: {token: \"abc\\r\\nX-Evil: 1\"}}]\n",
                 TT_EINVAL, "token has spaces or control characters");
    expect_error(CTX "clusters: [{name: c, cluster: {server: 'https://c'}}]\n"
                     "users: [{name: u, user: {tokenFile: nope}}]\n",
                 -ENOENT, "user \"u\": cannot read tokenFile");
    expect_error(CTX "clusters: {c: {server: 'https://c'}}\n" USERS, TT_EINVAL,
                 "clusters is not a list");
    expect_error(CTX "clusters: [{name: c, cluster: 'https://c'}]\n" USERS, TT_EINVAL,
                 "clusters \"c\": cluster is not a mapping");
    expect_error("- just\n- a list\n", TT_EINVAL, "not a mapping");
    expect_error("", TT_EINVAL, "empty");
    expect_error("# only a comment\n", TT_EINVAL, "empty");
    expect_error("clusters: [\n", TT_EPARSE, "line ");
    expect_error("a: 1\na: 2\n", TT_EPARSE, "duplicate");

    /* The file itself. */
    assert_int_equal(load("absent", &c, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "kubeconfig: cannot open"));
    assert_zeroed(&c);
    mkdirs("adir");
    assert_int_equal(load("adir", &c, &err), TT_EINVAL);
    assert_non_null(strstr(err.msg, "not a regular file"));
    /* Bounded: a 4 MiB + 1 byte file is refused before it is read. */
    int fd = open(at(p, "huge"), O_CREAT | O_WRONLY, 0600);
    assert_true(fd != -1);
    assert_int_equal(ftruncate(fd, TT_K8S_KUBECONFIG_MAX_FILE + 1), 0);
    close(fd);
    assert_int_equal(load("huge", &c, &err), TT_ERANGE);
    assert_non_null(strstr(err.msg, "larger than"));
    assert_zeroed(&c);
}

static void test_unsupported_auth(void **state)
{
    (void)state;
#define CL "clusters: [{name: c, cluster: {server: 'https://c'}}]\n"
    expect_error(CTX CL "users:\n"
                        "- name: u\n"
                        "  user:\n"
                        "    exec:\n"
                        "      apiVersion: client.authentication.k8s.io/v1beta1\n"
                        "      command: aws\n"
                        "      args: [eks, get-token]\n",
                 TT_EINVAL,
                 "user \"u\": exec credential plugins are not supported (use token, tokenFile or "
                 "a client certificate)");
    expect_error(CTX CL "users: [{name: u, user: {auth-provider: {name: gcp}}}]\n", TT_EINVAL,
                 "user \"u\": auth-provider is not supported");
    expect_error(CTX CL "users: [{name: u, user: {username: admin, password: secret}}]\n",
                 TT_EINVAL, "username/password (basic auth) is not supported");
    expect_error(CTX CL "users: [{name: u, user: {token: t, as: system:admin}}]\n", TT_EINVAL,
                 "impersonation");
    expect_error(CTX CL "users: [{name: u, user: {token: t, as-groups: [system:masters]}}]\n",
                 TT_EINVAL, "impersonation");

    /* Empty or null unsupported fields mean "not set" (kubectl writes `exec: null`). */
    struct tt_k8s_conn c;
    struct tt_err err;
    write_file("config", CTX CL "users: [{name: u, user: {token: t, exec: null, as: '', "
                                "as-groups: []}}]\n");
    assert_int_equal(load("config", &c, &err), 0);
    assert_string_equal(c.token, "t");
    tt_k8s_conn_free(&c);
#undef CL
}

static void test_no_user(void **state)
{
    (void)state;
    struct tt_k8s_conn c;
    struct tt_err err;

    /* A context without a user: no credentials (an authenticating proxy in front). */
    write_file("config", "current-context: x\n"
                         "contexts: [{name: x, context: {cluster: c, user: ''}}]\n"
                         "clusters: [{name: c, cluster: {server: 'https://c:443', "
                         "insecure-skip-tls-verify: true}}]\n");
    assert_int_equal(load("config", &c, &err), 0);
    assert_true(c.insecure);
    assert_null(c.token);
    assert_null(c.token_file);
    assert_null(c.client_cert_pem);
    assert_null(c.ns);
    tt_k8s_conn_free(&c);
}

/* ---- in-cluster ---- */

static void make_sa(const char *token, bool with_ca, bool with_ns)
{
    mkdirs("sa");
    write_file("sa/token", token);
    if (with_ca)
        write_file("sa/ca.crt", CA_PEM);
    if (with_ns)
        write_file("sa/namespace", "ingress-system\n");
}

static void test_in_cluster(void **state)
{
    (void)state;
    struct tt_k8s_conn c;
    struct tt_err err;
    char sa[512], p[512], want[600];

    make_sa("eyJhbGciOi.token\n", true, true);
    at(sa, "sa");
    setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    assert_int_equal(tt_k8s_conn_in_cluster(sa, &c, &err), 0);
    assert_string_equal(c.server, "https://10.96.0.1:443");
    assert_string_equal(c.token_file, at(p, "sa/token"));
    assert_null(c.token); /* the token source reads the file */
    assert_string_equal(c.ca_file, at(p, "sa/ca.crt"));
    assert_null(c.ca_pem);
    assert_false(c.insecure);
    assert_string_equal(c.ns, "ingress-system");
    snprintf(want, sizeof(want), "in-cluster (service account %s)", sa);
    assert_string_equal(c.source, want);
    tt_k8s_conn_free(&c);

    /* IPv6 service host; no namespace file; no ca.crt (system CAs, one WARN line). */
    setenv("KUBERNETES_SERVICE_HOST", "fd00:10:96::1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "6443", 1);
    unlink(at(p, "sa/namespace"));
    unlink(at(p, "sa/ca.crt"));
    strcat(sa, "/"); /* a trailing slash in the directory is fine */
    assert_int_equal(tt_k8s_conn_in_cluster(sa, &c, &err), 0);
    assert_string_equal(c.server, "https://[fd00:10:96::1]:6443");
    assert_string_equal(c.token_file, at(p, "sa/token"));
    assert_null(c.ca_file);
    assert_null(c.ns);
    tt_k8s_conn_free(&c);
}

static void test_in_cluster_errors(void **state)
{
    (void)state;
    struct tt_k8s_conn c;
    struct tt_err err;
    char sa[512];

    make_sa("tok\n", true, true);
    at(sa, "sa");
    assert_int_equal(tt_k8s_conn_in_cluster(sa, &c, &err), TT_ENOENT);
    assert_string_equal(err.msg, "not running in a cluster (KUBERNETES_SERVICE_HOST/PORT unset)");
    assert_zeroed(&c);
    setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
    assert_int_equal(tt_k8s_conn_in_cluster(sa, &c, &err), TT_ENOENT); /* port unset */
    setenv("KUBERNETES_SERVICE_PORT", "", 1);
    assert_int_equal(tt_k8s_conn_in_cluster(sa, &c, &err), TT_ENOENT); /* empty = unset */
    setenv("KUBERNETES_SERVICE_PORT", "https", 1);
    assert_int_equal(tt_k8s_conn_in_cluster(sa, &c, &err), TT_EINVAL);
    assert_non_null(strstr(err.msg, "KUBERNETES_SERVICE_PORT \"https\" is not a port"));
    setenv("KUBERNETES_SERVICE_PORT", "70000", 1);
    assert_int_equal(tt_k8s_conn_in_cluster(sa, &c, &err), TT_EINVAL);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    setenv("KUBERNETES_SERVICE_HOST", "bad host", 1);
    assert_int_equal(tt_k8s_conn_in_cluster(sa, &c, &err), TT_EINVAL);
    assert_non_null(strstr(err.msg, "KUBERNETES_SERVICE_HOST \"bad host\""));
    setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);

    /* The token must be there and usable now. */
    write_file("sa/token", "\n  \n");
    assert_int_equal(tt_k8s_conn_in_cluster(sa, &c, &err), TT_EINVAL);
    assert_non_null(strstr(err.msg, "/sa/token is empty"));
    write_file("sa/token", "two\nlines\n");
    assert_int_equal(tt_k8s_conn_in_cluster(sa, &c, &err), TT_EINVAL);
    assert_non_null(strstr(err.msg, "spaces or control characters"));
    assert_null(strstr(err.msg, "lines")); /* never the token itself */
    char p[512];
    unlink(at(p, "sa/token"));
    assert_int_equal(tt_k8s_conn_in_cluster(sa, &c, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "in-cluster token: cannot open"));
    assert_non_null(strstr(err.msg, "/sa/token"));
    assert_zeroed(&c);
}

/* ---- --apiserver-host ---- */

static void test_server_url(void **state)
{
    (void)state;
    struct tt_k8s_conn c;
    struct tt_err err;
    static const struct {
        const char *url, *why;
    } bad[] = {
        {"127.0.0.1:8001", "--apiserver-host 127.0.0.1:8001: must start with https:// or http://"},
        {"https://", "has no host"},
        {"https:///api", "has no host"},
        {"https://h:1/?watch=1", "has a query or fragment"},
        {"https://h:1/#x", "has a query or fragment"},
        {"https://h :1", "contains spaces or control characters"},
        {"", "must start with"},
    };

    assert_int_equal(tt_k8s_conn_from_url("http://127.0.0.1:8001/", &c, &err), 0);
    assert_string_equal(c.server, "http://127.0.0.1:8001");
    assert_string_equal(c.source, "--apiserver-host http://127.0.0.1:8001");
    assert_null(c.ca_file);
    assert_null(c.token);
    assert_null(c.token_file);
    assert_false(c.insecure);
    tt_k8s_conn_free(&c);
    assert_int_equal(tt_k8s_conn_from_url("HTTPS://Api.Example:6443/k8s/clusters/c-1//", &c, &err),
                     0);
    assert_string_equal(c.server, "HTTPS://Api.Example:6443/k8s/clusters/c-1");
    tt_k8s_conn_free(&c);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(tt_k8s_conn_from_url(bad[i].url, &c, &err), TT_EINVAL);
        if (strstr(err.msg, bad[i].why) == NULL)
            fail_msg("%s: got \"%s\"", bad[i].url, err.msg);
        assert_zeroed(&c);
    }
}

static void test_server_override(void **state)
{
    (void)state;
    struct tt_k8s_conn c;
    struct tt_err err;

    write_file("config", CTX "clusters: [{name: c, cluster: {server: 'https://c', "
                             "certificate-authority-data: " CA_B64 "}}]\n"
                             "users: [{name: u, user: {token: t}}]\n");
    assert_int_equal(load("config", &c, &err), 0);
    assert_int_equal(tt_k8s_conn_apply_server_override(&c, "https://10.0.0.9:6443/", &err), 0);
    assert_string_equal(c.server, "https://10.0.0.9:6443");
    assert_string_equal(c.token, "t");     /* credentials kept */
    assert_string_equal(c.ca_pem, CA_PEM); /* TLS settings kept */
    assert_non_null(strstr(c.source, "(context x), server from --apiserver-host"));
    assert_int_equal(tt_k8s_conn_apply_server_override(&c, "10.0.0.9:6443", &err), TT_EINVAL);
    assert_non_null(strstr(err.msg, "must start with"));
    assert_string_equal(c.server, "https://10.0.0.9:6443"); /* unchanged */
    tt_k8s_conn_free(&c);
}

/* ---- tt_k8s_conn_resolve ---- */

static void write_kubeconfig(const char *name, const char *server, const char *token)
{
    char body[512];
    snprintf(body, sizeof(body),
             "current-context: x\n"
             "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
             "clusters: [{name: c, cluster: {server: '%s'}}]\n"
             "users: [{name: u, user: {token: %s}}]\n",
             server, token);
    write_file(name, body);
}

static void expect_server(const char *kubeconfig, const char *apiserver, const char *sa,
                          const char *server, const char *source_part)
{
    struct tt_k8s_conn c;
    struct tt_err err = {0};
    int rc = tt_k8s_conn_resolve(kubeconfig, apiserver, sa, &c, &err);
    if (rc != 0)
        fail_msg("resolve: %d %s", rc, err.msg);
    assert_string_equal(c.server, server);
    if (strstr(c.source, source_part) == NULL)
        fail_msg("source \"%s\" lacks \"%s\"", c.source, source_part);
    tt_k8s_conn_free(&c);
}

static void expect_no_config(const char *apiserver, const char *sa)
{
    struct tt_k8s_conn c;
    struct tt_err err = {0};
    assert_int_equal(tt_k8s_conn_resolve(NULL, apiserver, sa, &c, &err), TT_ENOENT);
    assert_string_equal(err.msg, NO_CONFIG);
    assert_zeroed(&c);
}

static void test_resolve_precedence(void **state)
{
    (void)state;
    struct tt_k8s_conn c;
    struct tt_err err;
    char p[512], q[512], flag[512], sa[512], list[1600];

    mkdirs("home");
    mkdirs("home/.kube");
    mkdirs("empty-home");
    write_kubeconfig("flag.yaml", "https://flag:1", "tok-flag");
    write_kubeconfig("env.yaml", "https://env:2", "tok-env");
    write_kubeconfig("home/.kube/config", "https://home:3", "tok-home");
    make_sa("sa-token\n", true, false);
    at(flag, "flag.yaml");
    at(sa, "sa");
    setenv("HOME", at(p, "home"), 1);
    snprintf(list, sizeof(list), "%s::/dev/null:%s:%s", at(p, "missing"), at(q, "env.yaml"), flag);
    setenv("KUBECONFIG", list, 1);
    setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);

    /* 1. --kubeconfig beats everything. */
    expect_server(flag, NULL, sa, "https://flag:1", "flag.yaml (context x)");
    /* 2. then in-cluster, */
    expect_server(NULL, NULL, sa, "https://10.0.0.1:443", "in-cluster");
    expect_server("", NULL, sa, "https://10.0.0.1:443", "in-cluster"); /* "" = not given */
    /* 3. then the first existing, non-empty $KUBECONFIG entry (missing and /dev/null skipped), */
    unsetenv("KUBERNETES_SERVICE_PORT");
    expect_server(NULL, NULL, sa, "https://env:2", "env.yaml");
    /* 4. then ~/.kube/config, */
    unsetenv("KUBECONFIG");
    expect_server(NULL, NULL, sa, "https://home:3", "home/.kube/config");
    /* ... but not when $KUBECONFIG is set, as with kubectl: */
    setenv("KUBECONFIG", at(p, "missing"), 1);
    expect_no_config(NULL, sa);
    /* 5. then --apiserver-host alone, */
    expect_server(NULL, "http://127.0.0.1:8001/", sa, "http://127.0.0.1:8001",
                  "--apiserver-host http://127.0.0.1:8001");
    /* 6. else the one clear line. */
    unsetenv("KUBECONFIG");
    setenv("HOME", at(p, "empty-home"), 1);
    expect_no_config(NULL, sa);
    expect_no_config("", sa);
    mkdirs("empty-home/.kube");
    write_file("empty-home/.kube/config", ""); /* empty: skipped */
    expect_no_config(NULL, sa);
    unsetenv("HOME");
    expect_no_config(NULL, sa);

    /* --apiserver-host overrides the server of whatever source won, keeping its credentials. */
    setenv("HOME", at(p, "home"), 1);
    assert_int_equal(tt_k8s_conn_resolve(NULL, "https://override:9/", sa, &c, &err), 0);
    assert_string_equal(c.server, "https://override:9");
    assert_string_equal(c.token, "tok-home");
    assert_non_null(
        strstr(c.source, "home/.kube/config (context x), server from --apiserver-host"));
    tt_k8s_conn_free(&c);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    assert_int_equal(tt_k8s_conn_resolve(NULL, "https://override:9", sa, &c, &err), 0);
    assert_string_equal(c.server, "https://override:9");
    assert_string_equal(c.token_file, at(p, "sa/token"));
    snprintf(list, sizeof(list), "in-cluster (service account %s), server from --apiserver-host",
             sa);
    assert_string_equal(c.source, list);
    tt_k8s_conn_free(&c);

    /* The chosen source's error is final: no falling through to the next one. */
    assert_int_equal(tt_k8s_conn_resolve(at(p, "nope.yaml"), NULL, sa, &c, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "nope.yaml"));
    assert_zeroed(&c);
    write_file("sa/token", "\n");
    assert_int_equal(tt_k8s_conn_resolve(NULL, NULL, sa, &c, &err), TT_EINVAL);
    assert_non_null(strstr(err.msg, "is empty"));
    assert_int_equal(tt_k8s_conn_resolve(flag, "ftp://x", sa, &c, &err), TT_EINVAL);
    assert_non_null(strstr(err.msg, "--apiserver-host ftp://x"));
    assert_zeroed(&c);
}

/* ---- token source ---- */

static void test_token_static(void **state)
{
    (void)state;
    struct tt_k8s_conn c = {0};
    struct tt_k8s_token t;
    struct tt_err err;

    /* Neither: no token, nothing to report. */
    assert_int_equal(tt_k8s_token_init(&t, &c), 0);
    assert_null(tt_k8s_token_get(&t, 0));
    tt_k8s_token_invalidate(&t);
    assert_null(tt_k8s_token_get(&t, 1));
    assert_false(tt_k8s_token_take_error(&t, &err));
    tt_k8s_token_free(&t);
    tt_k8s_token_free(&t);
    tt_k8s_token_free(NULL);

    /* Static: the same at any time, after invalidate too; the conn may go away. */
    c.token = strdup("static-token");
    assert_int_equal(tt_k8s_token_init(&t, &c), 0);
    free(c.token);
    c.token = NULL;
    assert_string_equal(tt_k8s_token_get(&t, 0), "static-token");
    tt_k8s_token_invalidate(&t);
    assert_string_equal(tt_k8s_token_get(&t, 10 * TT_K8S_TOKEN_PERIOD_MS), "static-token");
    assert_false(tt_k8s_token_take_error(&t, &err));
    tt_k8s_token_free(&t);
}

static void test_token_file_reread(void **state)
{
    (void)state;
    struct tt_k8s_conn c = {0};
    struct tt_k8s_token t;
    char p[512], q[512];
    const uint64_t t0 = 5000;

    write_file("token", "  first\r\n\n");
    c.token_file = (char *)at(p, "token");
    c.token = (char *)"static-loses"; /* a token file wins over a static token */
    assert_int_equal(tt_k8s_token_init(&t, &c), 0);
    assert_int_equal(t.period_ms, 60000);
    assert_string_equal(tt_k8s_token_get(&t, t0), "first"); /* trimmed both ends */
    write_file("token", "second\n");
    assert_string_equal(tt_k8s_token_get(&t, t0 + 1), "first"); /* cached */
    assert_string_equal(tt_k8s_token_get(&t, t0 + 59999), "first");
    assert_string_equal(tt_k8s_token_get(&t, t0 + 60000), "second"); /* one period later */

    /* A shorter period, and invalidate (after a 401) forcing a read within it. */
    t.period_ms = 10;
    write_file("token", "third");
    assert_string_equal(tt_k8s_token_get(&t, t0 + 60005), "second");
    tt_k8s_token_invalidate(&t);
    assert_string_equal(tt_k8s_token_get(&t, t0 + 60006), "third");
    assert_string_equal(tt_k8s_token_get(&t, t0 + 60007), "third");

    /* The kubelet's layout: token -> ..data/token, ..data -> ..2024_x, swapped atomically. */
    mkdirs("sa");
    mkdirs("sa/..2024_a");
    mkdirs("sa/..2024_b");
    write_file("sa/..2024_a/token", "kubelet-a\n");
    write_file("sa/..2024_b/token", "kubelet-b\n");
    assert_int_equal(symlink("..2024_a", at(q, "sa/..data")), 0);
    assert_int_equal(symlink("..data/token", at(q, "sa/token")), 0);
    tt_k8s_token_free(&t);
    c.token_file = (char *)at(p, "sa/token");
    assert_int_equal(tt_k8s_token_init(&t, &c), 0);
    assert_string_equal(tt_k8s_token_get(&t, 0), "kubelet-a");
    assert_int_equal(symlink("..2024_b", at(q, "sa/..data_tmp")), 0);
    assert_int_equal(rename(q, at(p, "sa/..data")), 0);
    tt_k8s_token_invalidate(&t);
    assert_string_equal(tt_k8s_token_get(&t, 1), "kubelet-b");
    tt_k8s_token_free(&t);
}

static void test_token_keeps_last_good(void **state)
{
    (void)state;
    struct tt_k8s_conn c = {0};
    struct tt_k8s_token t;
    struct tt_err err;
    char p[512];

    c.token_file = (char *)at(p, "token");
    /* Never read successfully: no token, and the reason is reported once. */
    assert_int_equal(tt_k8s_token_init(&t, &c), 0);
    assert_null(tt_k8s_token_get(&t, 0));
    assert_true(tt_k8s_token_take_error(&t, &err));
    assert_non_null(strstr(err.msg, "token file: cannot open"));
    assert_false(tt_k8s_token_take_error(&t, &err));

    write_file("token", "good\n");
    assert_null(tt_k8s_token_get(&t, 1)); /* the failed attempt also waits a period */
    tt_k8s_token_invalidate(&t);
    assert_string_equal(tt_k8s_token_get(&t, 2), "good");
    assert_false(tt_k8s_token_take_error(&t, &err));

    /* File gone: the last good token stays; one report per run of failures. */
    unlink(p);
    assert_string_equal(tt_k8s_token_get(&t, 2 + t.period_ms), "good");
    assert_true(tt_k8s_token_take_error(&t, &err));
    assert_non_null(strstr(err.msg, p));
    assert_non_null(strstr(err.msg, "No such file"));
    assert_false(tt_k8s_token_take_error(&t, &err));
    tt_k8s_token_invalidate(&t);
    assert_string_equal(tt_k8s_token_get(&t, 3 + t.period_ms), "good");
    assert_false(tt_k8s_token_take_error(&t, &err)); /* same run: not again */

    /* Back: the new token, and the run is over. */
    write_file("token", "better");
    tt_k8s_token_invalidate(&t);
    assert_string_equal(tt_k8s_token_get(&t, 4 + t.period_ms), "better");
    assert_false(tt_k8s_token_take_error(&t, &err));

    /* Empty, garbage and oversized files fail the same way (a new run: reported again). */
    write_file("token", " \n");
    tt_k8s_token_invalidate(&t);
    assert_string_equal(tt_k8s_token_get(&t, 5 + t.period_ms), "better");
    assert_true(tt_k8s_token_take_error(&t, &err));
    assert_non_null(strstr(err.msg, "is empty"));
    write_file("token", "ok\n");
    tt_k8s_token_invalidate(&t);
    assert_string_equal(tt_k8s_token_get(&t, 6 + t.period_ms), "ok");
    write_file("token", "a b\n");
    tt_k8s_token_invalidate(&t);
    assert_string_equal(tt_k8s_token_get(&t, 7 + t.period_ms), "ok");
    assert_true(tt_k8s_token_take_error(&t, &err));
    assert_null(strstr(err.msg, "a b"));
    write_file("token", "ok2\n");
    tt_k8s_token_invalidate(&t);
    assert_string_equal(tt_k8s_token_get(&t, 8 + t.period_ms), "ok2");
    int fd = open(p, O_WRONLY | O_TRUNC);
    assert_true(fd != -1);
    assert_int_equal(ftruncate(fd, TT_K8S_TOKEN_MAX_FILE + 1), 0);
    close(fd);
    tt_k8s_token_invalidate(&t);
    assert_string_equal(tt_k8s_token_get(&t, 9 + t.period_ms), "ok2");
    assert_true(tt_k8s_token_take_error(&t, &err));
    assert_non_null(strstr(err.msg, "larger than"));
    tt_k8s_token_free(&t);
}

/* ---- out of memory: every allocation point fails once, in a child process ---- */

/* 0 or TT_ENOMEM are the only acceptable results; anything else means an allocation failure
 * was turned into a wrong answer. */
static bool oom_ok(int rc, const struct tt_err *err, bool *hit)
{
    if (rc == TT_ENOMEM) {
        *hit = true;
        return true;
    }
    if (rc != 0)
        fprintf(stderr, "oom scenario: %d %s\n", rc, err->msg);
    return rc == 0;
}

static int oom_scenario(const char *d)
{
    struct tt_k8s_conn c;
    struct tt_k8s_token t;
    struct tt_err err = {0};
    char p[512], sa[512];
    bool hit = false;
    long start;
    int rc;

    tt_test_leaks_begin();
    start = tt_alloc_outstanding();
    snprintf(sa, sizeof(sa), "%s/sa", d);

    snprintf(p, sizeof(p), "%s/kc.yaml", d);
    rc = tt_k8s_conn_from_kubeconfig(p, &c, &err);
    if (!oom_ok(rc, &err, &hit))
        return OOM_WRONG;
    if (rc == 0 && (strcmp(c.ca_pem, CA_PEM) != 0 || strcmp(c.client_key_pem, KEY_PEM) != 0 ||
                    c.token_file == NULL || strcmp(c.ns, "n") != 0))
        return OOM_WRONG;
    tt_k8s_conn_free(&c);

    snprintf(p, sizeof(p), "%s/kc.json", d);
    rc = tt_k8s_conn_from_kubeconfig(p, &c, &err);
    if (!oom_ok(rc, &err, &hit))
        return OOM_WRONG;
    if (rc == 0 && (strcmp(c.server, "https://j:1") != 0 || strcmp(c.token, "jt") != 0))
        return OOM_WRONG;
    tt_k8s_conn_free(&c);

    rc = tt_k8s_conn_in_cluster(sa, &c, &err);
    if (!oom_ok(rc, &err, &hit))
        return OOM_WRONG;
    if (rc == 0 && (c.ns == NULL || c.ca_file == NULL))
        return OOM_WRONG;
    if (rc == 0) {
        const char *tok;
        if (tt_k8s_token_init(&t, &c) != 0) {
            hit = true;
        } else if ((tok = tt_k8s_token_get(&t, 0)) == NULL) {
            hit = true; /* the read failed: reported, nothing to send yet */
            if (!tt_k8s_token_take_error(&t, &err))
                return OOM_WRONG;
        } else if (strcmp(tok, "sa-tok") != 0) {
            return OOM_WRONG;
        }
        tt_k8s_token_free(&t);
    }
    tt_k8s_conn_free(&c);

    rc = tt_k8s_conn_resolve(NULL, "https://o:2/", sa, &c, &err);
    if (!oom_ok(rc, &err, &hit))
        return OOM_WRONG;
    if (rc == 0 && strcmp(c.server, "https://o:2") != 0)
        return OOM_WRONG;
    tt_k8s_conn_free(&c);

    unsetenv("KUBERNETES_SERVICE_HOST");
    rc = tt_k8s_conn_resolve(NULL, "http://127.0.0.1:8001", sa, &c, &err);
    if (!oom_ok(rc, &err, &hit))
        return OOM_WRONG;
    tt_k8s_conn_free(&c);

    if (tt_alloc_outstanding() != start)
        return OOM_LEAK;
    return hit ? OOM_HANDLED : OOM_DONE;
}

static void test_out_of_memory(void **state)
{
    (void)state;

    write_file("ca.pem", CA_PEM);
    write_file("tok", "t\n");
    write_file("kc.yaml", "current-context: x\n"
                          "contexts: [{name: x, context: {cluster: c, user: u, namespace: n}}]\n"
                          "clusters:\n"
                          "- {name: c, cluster: {server: 'https://c:1/', "
                          "certificate-authority-data: " CA_B64 "}}\n"
                          "users:\n"
                          "- {name: u, user: {tokenFile: tok, client-certificate-data: " CERT_B64
                          ", client-key-data: " KEY_B64 "}}\n");
    write_file("kc.json",
               "{\"current-context\":\"x\",\"contexts\":[{\"name\":\"x\",\"context\":"
               "{\"cluster\":\"c\",\"user\":\"u\"}}],\"clusters\":[{\"name\":\"c\","
               "\"cluster\":{\"server\":\"https://j:1\",\"certificate-authority\":"
               "\"ca.pem\"}}],\"users\":[{\"name\":\"u\",\"user\":{\"token\":\"jt\"}}]}");
    make_sa("sa-tok\n", true, true);
    setenv("HOME", dir, 1); /* no ~/.kube/config of whoever runs the tests */
    setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    (void)state;
    int handled = tt_test_oom_sweep(dir, 2000);

    assert_true(handled > 20);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_yaml_kubeconfig, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_kubeconfig, setup, teardown),
        cmocka_unit_test_setup_teardown(test_current_context_selects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_without_current_context, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inline_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors_name_what_is_wrong, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unsupported_auth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_in_cluster, setup, teardown),
        cmocka_unit_test_setup_teardown(test_in_cluster_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_url, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_override, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resolve_precedence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_static, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_file_reread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_keeps_last_good, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_of_memory, setup, teardown),
    };

    if (argc == 3 && strcmp(argv[1], "--oom-scenario") == 0)
        return tt_test_oom_exit(oom_scenario(argv[2]));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
