/* k8s/objects.h - Kubernetes objects decoded from JSON into plain C structs.
 * Threads: watcher (or main at startup); decoded objects are plain data owned by whoever holds
 * them (usually the store) and are never shared across threads.
 * Invariants: decoding is independent of the source (manifest file, list, watch event); every
 * string is a NUL-terminated heap copy owned by the object; all sizes are capped (see below), so
 * a hostile object costs bounded memory and is rejected with a reason naming the field. */
#ifndef TT_K8S_OBJECTS_H
#define TT_K8S_OBJECTS_H

#include <cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* Limits against hostile objects. The apiserver enforces smaller ones in practice (annotations
 * 256 KiB in total, Secrets 1 MiB, 1000 endpoints per slice), but a manifest file does not. */
#define TT_K8S_MAX_STRING      (64 * 1024)   /* any single string field */
#define TT_K8S_MAX_ANNOTATIONS (256 * 1024)  /* all annotation keys+values of one object */
#define TT_K8S_MAX_SECRET      (1024 * 1024) /* one base64 value in a Secret's data */
#define TT_K8S_MAX_ITEMS       10000         /* entries of any list; rules+paths per Ingress */

enum tt_k8s_kind {
    TT_K8S_KIND_NONE = 0, /* "take it from the object's kind field" when passed to decode */
    TT_K8S_INGRESS,
    TT_K8S_INGRESS_CLASS,
    TT_K8S_SERVICE,
    TT_K8S_ENDPOINT_SLICE,
    TT_K8S_SECRET,
    TT_K8S_KIND_COUNT,
};

struct tt_k8s_kv {
    char *key;
    char *value;
};

struct tt_k8s_meta {
    char *ns;                      /* NULL for cluster-scoped kinds; "default" when absent */
    char *name;                    /* never NULL */
    char *uid;                     /* NULL when absent */
    char *resource_version;        /* NULL when absent (manifest files) */
    int64_t creation_ts;           /* epoch seconds from creationTimestamp; 0 when absent */
    struct tt_k8s_kv *annotations; /* kubectl's last-applied-configuration is dropped */
    size_t n_annotations;
    struct tt_k8s_kv *labels;
    size_t n_labels;
};

enum tt_k8s_path_type {
    TT_K8S_PATH_EXACT = 0,
    TT_K8S_PATH_PREFIX,
    TT_K8S_PATH_IMPL_SPECIFIC,
};

/* An Ingress backend: exactly one of port_number / port_name is set when valid. */
struct tt_k8s_ingress_backend {
    char *service;        /* backend.service.name */
    uint16_t port_number; /* 0 when the port is given by name */
    char *port_name;      /* NULL when the port is given by number */
};

/* A path that is individually bad is kept with |invalid| set to the reason (e.g.
 * "pathType \"Foo\" is not Exact, Prefix or ImplementationSpecific"), so the builder can skip
 * just that path and say why. The other fields are then only as complete as decoding got. */
struct tt_k8s_ingress_path {
    char *path; /* NULL when absent (allowed for ImplementationSpecific) */
    enum tt_k8s_path_type type;
    struct tt_k8s_ingress_backend backend;
    char *invalid; /* NULL when the path is usable */
};

struct tt_k8s_ingress_rule {
    char *host; /* NULL = all hosts */
    struct tt_k8s_ingress_path *paths;
    size_t n_paths;
};

struct tt_k8s_ingress_tls {
    char **hosts;
    size_t n_hosts;
    char *secret_name; /* NULL when absent */
};

struct tt_k8s_ingress {
    char *class_name; /* spec.ingressClassName; NULL when absent */
    bool has_default_backend;
    struct tt_k8s_ingress_backend default_backend;
    char *default_backend_invalid; /* like tt_k8s_ingress_path.invalid */
    struct tt_k8s_ingress_rule *rules;
    size_t n_rules;
    struct tt_k8s_ingress_tls *tls;
    size_t n_tls;
};

struct tt_k8s_ingress_class {
    char *controller; /* spec.controller; NULL when absent */
    bool is_default;  /* annotation ingressclass.kubernetes.io/is-default-class == "true" */
};

struct tt_k8s_service_port {
    char *name;             /* "" when absent */
    uint16_t port;          /* 1..65535 */
    uint16_t target_port;   /* 0 when absent or given by name */
    char *target_port_name; /* NULL unless targetPort is a string */
    char *protocol;         /* "TCP" when absent */
};

struct tt_k8s_service {
    char *type;          /* "ClusterIP" when absent */
    char *external_name; /* NULL when absent */
    struct tt_k8s_service_port *ports;
    size_t n_ports;
};

enum tt_k8s_address_type {
    TT_K8S_ADDR_OTHER = 0, /* a type this version does not know; its endpoints are unusable */
    TT_K8S_ADDR_IPV4,
    TT_K8S_ADDR_IPV6,
    TT_K8S_ADDR_FQDN,
};

struct tt_k8s_slice_port {
    char *name;     /* "" when absent */
    uint16_t port;  /* 0 when absent or null (unusable) */
    char *protocol; /* "TCP" when absent */
};

/* Conditions with the API's nil defaults applied: ready nil = true, serving nil = true,
 * terminating nil = false (EndpointConditions, discovery.k8s.io/v1). */
struct tt_k8s_slice_endpoint {
    char **addresses;
    size_t n_addresses;
    bool ready;
    bool serving;
    bool terminating;
};

struct tt_k8s_endpoint_slice {
    char *service_name; /* label kubernetes.io/service-name; NULL when absent */
    enum tt_k8s_address_type address_type;
    struct tt_k8s_slice_port *ports;
    size_t n_ports;
    struct tt_k8s_slice_endpoint *endpoints;
    size_t n_endpoints;
};

struct tt_k8s_secret {
    char *type;             /* "Opaque" when absent */
    unsigned char *tls_crt; /* data["tls.crt"] base64-decoded, NUL-terminated; NULL when absent */
    size_t tls_crt_len;
    unsigned char *tls_key; /* data["tls.key"], same rules; never log it */
    size_t tls_key_len;
};

struct tt_k8s_object {
    enum tt_k8s_kind kind;
    char *key; /* store key: "ns/name", or "name" for cluster-scoped kinds */
    struct tt_k8s_meta meta;
    union {
        struct tt_k8s_ingress ingress;
        struct tt_k8s_ingress_class ingress_class;
        struct tt_k8s_service service;
        struct tt_k8s_endpoint_slice slice;
        struct tt_k8s_secret secret;
    } u;
};

/* Decodes one object. |kind| is the expected kind, or TT_K8S_KIND_NONE to take it from the
 * object's "kind" field (API list items carry none, watch events and manifests do). When both
 * are present they must agree, and a known apiVersion must be the one we understand.
 * metadata.namespace defaults to "default" for namespaced kinds, as kubectl does.
 * On success *out is a new object the caller owns (free with tt_k8s_object_free) and 0 is
 * returned. Errors: TT_ESKIP when the kind field names a kind we do not watch; TT_EINVAL with
 * |err| naming the field (e.g. "spec.ports[0].port: 70000 is out of range 1..65535");
 * TT_ENOMEM. |obj| is only read. */
int tt_k8s_decode(enum tt_k8s_kind kind, const cJSON *obj, struct tt_k8s_object **out,
                  struct tt_err *err);

/* Frees an object and everything it owns; NULL is a no-op. */
void tt_k8s_object_free(struct tt_k8s_object *o);

/* "Ingress", "IngressClass", "Service", "EndpointSlice", "Secret"; "" for NONE/unknown. */
const char *tt_k8s_kind_name(enum tt_k8s_kind kind);
/* The kind for a name as in a "kind" field (case-sensitive), or TT_K8S_KIND_NONE. */
enum tt_k8s_kind tt_k8s_kind_from_name(const char *name);
/* True for kinds keyed by namespace/name. */
bool tt_k8s_kind_namespaced(enum tt_k8s_kind kind);

/* The value of an annotation or label, or NULL. Borrowed from |m|. */
const char *tt_k8s_meta_annotation(const struct tt_k8s_meta *m, const char *key);
const char *tt_k8s_meta_label(const struct tt_k8s_meta *m, const char *key);

/* Parses an RFC 3339 timestamp ("2024-05-01T10:00:00Z", fractions and offsets allowed) into
 * epoch seconds. Returns 0, or TT_EINVAL when |s| is not one. */
int tt_k8s_parse_time(const char *s, int64_t *out);

/* Decodes standard base64 (padding required; CR/LF ignored, as Go's decoder does). On success
 * *out is a new NUL-terminated buffer of *out_len bytes (plus the NUL) the caller frees with
 * tt_free. Returns 0, TT_EINVAL on bad input, TT_ENOMEM. */
int tt_k8s_base64_decode(const char *in, size_t len, unsigned char **out, size_t *out_len);

#endif
