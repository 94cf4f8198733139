/* k8s/yaml.c - libyaml events -> cJSON trees, with bounded depth, size and alias expansion.
 * Threads: any; all state lives in one struct on the caller's stack.
 * A collection is built in a frame on an explicit stack and attached to its parent only when
 * it ends, so an error at any point frees exactly what the frames and documents hold. */
#include "k8s/yaml.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "base/alloc.h"
#include "base/hash.h"

struct frame {
    cJSON *node;     /* the mapping or sequence being built (owned until attached) */
    char *key;       /* mapping: key waiting for its value (owned) */
    bool key_merge;  /* that key is a plain "<<" */
    char *anchor;    /* anchor to register once the node is complete (owned) */
    size_t nodes_at; /* node count when the collection started, for the anchor's size */
    size_t n_keys;
    size_t height; /* tallest child so far, alias copies included */
    cJSON *merges; /* mapping: sources of "<<" keys, merged at the end (owned) */
};

struct anchor {
    char *name;
    const cJSON *node; /* borrowed from the current document */
    size_t size;       /* nodes in its subtree, charged again for every alias */
    size_t height;     /* levels of its subtree, so copies cannot nest past the limit */
};

/* (mapping, key) pairs of the current document, so duplicate checks and merges cost O(1)
 * per key rather than a scan of the mapping (10000 keys would make that quadratic). */
struct kentry {
    const cJSON *map; /* NULL = empty slot */
    const char *key;  /* the item's own key string inside |map| */
};

struct ctx {
    struct frame stack[TT_K8S_YAML_MAX_DEPTH];
    int depth;
    cJSON *docs;
    cJSON *doc;  /* root of the current document, once complete */
    cJSON *keep; /* merge sources kept until the document ends (anchors may point into them) */
    struct anchor *anchors;
    size_t n_anchors;
    size_t cap_anchors;
    size_t nodes;
    struct kentry *keys;
    size_t keys_cap; /* power of two */
    size_t keys_n;
    struct tt_err *err;
    const yaml_event_t *ev; /* for error positions */
};

static int fail_at(struct ctx *c, int code, const char *what)
{
    if (c->ev == NULL)
        return tt_err_set(c->err, code, "%s", what);
    return tt_err_set(c->err, code, "line %zu column %zu: %s", c->ev->start_mark.line + 1,
                      c->ev->start_mark.column + 1, what);
}

static int charge(struct ctx *c, size_t n)
{
    if (n > TT_K8S_YAML_MAX_NODES - c->nodes)
        return fail_at(c, TT_ERANGE,
                       "document too large (more than 2097152 nodes, aliases "
                       "included)");
    c->nodes += n;
    return 0;
}

static size_t count_nodes(const cJSON *n)
{
    size_t k = 1;
    for (const cJSON *ch = n->child; ch != NULL; ch = ch->next)
        k += count_nodes(ch);
    return k;
}

static size_t key_hash(const cJSON *map, const char *key)
{
    return (size_t)tt_hash_str(key, TT_HASH_SEED ^ ((uintptr_t)map >> 4));
}

static bool key_exists(const struct ctx *c, const cJSON *map, const char *key)
{
    if (c->keys_cap == 0)
        return false;
    for (size_t i = key_hash(map, key) & (c->keys_cap - 1);; i = (i + 1) & (c->keys_cap - 1)) {
        const struct kentry *e = &c->keys[i];
        if (e->map == NULL)
            return false;
        if (e->map == map && strcmp(e->key, key) == 0)
            return true;
    }
}

static void key_place(struct kentry *tab, size_t cap, struct kentry e)
{
    size_t i = key_hash(e.map, e.key) & (cap - 1);
    while (tab[i].map != NULL)
        i = (i + 1) & (cap - 1);
    tab[i] = e;
}

/* Records that |map| now has |key| (borrowed from the map's item). */
static int key_add(struct ctx *c, const cJSON *map, const char *key)
{
    if ((c->keys_n + 1) * 2 > c->keys_cap) {
        size_t cap = c->keys_cap < 64 ? 64 : c->keys_cap * 2;
        struct kentry *tab = tt_calloc(cap, sizeof(*tab));
        if (tab == NULL)
            return fail_at(c, TT_ENOMEM, "out of memory");
        for (size_t i = 0; i < c->keys_cap; i++)
            if (c->keys[i].map != NULL)
                key_place(tab, cap, c->keys[i]);
        tt_free(c->keys);
        c->keys = tab;
        c->keys_cap = cap;
    }
    key_place(c->keys, c->keys_cap, (struct kentry){map, key});
    c->keys_n++;
    return 0;
}

static void clear_anchors(struct ctx *c)
{
    for (size_t i = 0; i < c->n_anchors; i++)
        tt_free(c->anchors[i].name);
    c->n_anchors = 0;
}

/* Takes |name|. */
static int add_anchor(struct ctx *c, char *name, const cJSON *node, size_t size, size_t height)
{
    if (c->n_anchors == c->cap_anchors) {
        size_t cap = c->cap_anchors < 8 ? 8 : c->cap_anchors * 2;
        struct anchor *na = tt_realloc(c->anchors, cap * sizeof(*na));
        if (na == NULL) {
            tt_free(name);
            return fail_at(c, TT_ENOMEM, "out of memory");
        }
        c->anchors = na;
        c->cap_anchors = cap;
    }
    c->anchors[c->n_anchors++] = (struct anchor){name, node, size, height};
    return 0;
}

static bool is_mapping_list(const cJSON *v)
{
    if (cJSON_IsObject(v))
        return true;
    if (!cJSON_IsArray(v))
        return false;
    for (const cJSON *e = v->child; e != NULL; e = e->next)
        if (!cJSON_IsObject(e))
            return false;
    return true;
}

/* Hands a complete node of |height| levels to its parent (or makes it the document root).
 * Takes |v|. */
static int attach(struct ctx *c, cJSON *v, size_t height)
{
    struct frame *f;

    if (c->depth == 0) {
        cJSON_Delete(c->doc); /* libyaml never sends two roots; be safe anyway */
        c->doc = v;
        return 0;
    }
    f = &c->stack[c->depth - 1];
    if (height > f->height)
        f->height = height;
    if (cJSON_IsArray(f->node)) {
        if (!cJSON_AddItemToArray(f->node, v))
            goto fail;
        return 0;
    }
    if (f->key == NULL) {
        cJSON_Delete(v);
        return fail_at(c, TT_EPARSE, "mapping value without a key");
    }
    if (f->key_merge) {
        if (!is_mapping_list(v)) {
            cJSON_Delete(v);
            return fail_at(c, TT_EPARSE, "merge key << needs a mapping or a list of mappings");
        }
        if (f->merges == NULL && (f->merges = cJSON_CreateArray()) == NULL)
            goto fail;
        if (!cJSON_AddItemToArray(f->merges, v))
            goto fail;
    } else {
        if (key_exists(c, f->node, f->key)) {
            cJSON_Delete(v);
            return fail_at(c, TT_EPARSE, "duplicate mapping key");
        }
        if (++f->n_keys > TT_K8S_YAML_MAX_KEYS) {
            cJSON_Delete(v);
            return fail_at(c, TT_ERANGE, "mapping has more than 10000 keys");
        }
        if (!cJSON_AddItemToObject(f->node, f->key, v))
            goto fail;
        /* cJSON copied the key; v is now the map's last item and owns that copy. */
        if (key_add(c, f->node, v->string) != 0)
            return TT_ENOMEM;
    }
    tt_free(f->key);
    f->key = NULL;
    return 0;
fail:
    cJSON_Delete(v);
    return fail_at(c, TT_ENOMEM, "out of memory");
}

static int merge_from(struct ctx *c, cJSON *map, const cJSON *src)
{
    for (const cJSON *it = src->child; it != NULL; it = it->next) {
        cJSON *dup;
        int rc;
        if (key_exists(c, map, it->string))
            continue; /* explicit keys, and earlier merge sources, win */
        if ((rc = charge(c, count_nodes(it))) != 0)
            return rc;
        if ((dup = cJSON_Duplicate(it, true)) == NULL)
            return fail_at(c, TT_ENOMEM, "out of memory");
        if (!cJSON_AddItemToObject(map, it->string, dup)) {
            cJSON_Delete(dup);
            return fail_at(c, TT_ENOMEM, "out of memory");
        }
        if ((rc = key_add(c, map, dup->string)) != 0)
            return rc;
    }
    return 0;
}

static int do_merges(struct ctx *c, struct frame *f)
{
    int rc;
    for (const cJSON *m = f->merges->child; m != NULL; m = m->next) {
        if (cJSON_IsObject(m)) {
            if ((rc = merge_from(c, f->node, m)) != 0)
                return rc;
            continue;
        }
        for (const cJSON *e = m->child; e != NULL; e = e->next)
            if ((rc = merge_from(c, f->node, e)) != 0)
                return rc;
    }
    if (c->keep == NULL && (c->keep = cJSON_CreateArray()) == NULL)
        return fail_at(c, TT_ENOMEM, "out of memory");
    if (!cJSON_AddItemToArray(c->keep, f->merges))
        return fail_at(c, TT_ENOMEM, "out of memory");
    f->merges = NULL;
    return 0;
}

static void frame_dispose(struct frame *f)
{
    cJSON_Delete(f->node);
    cJSON_Delete(f->merges);
    tt_free(f->key);
    tt_free(f->anchor);
    memset(f, 0, sizeof(*f));
}

/* ---- scalars ---- */

static bool all_in(const char *s, const char *set)
{
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++)
        if (strchr(set, *s) == NULL)
            return false;
    return true;
}

/* [-+]? ( \.[0-9]+ | [0-9]+ ( \.[0-9]* )? ) ( [eE] [-+]? [0-9]+ )? */
static bool is_float(const char *s)
{
    bool int_part = false, frac_part = false;
    if (*s == '-' || *s == '+')
        s++;
    while (*s >= '0' && *s <= '9') {
        s++;
        int_part = true;
    }
    if (*s == '.') {
        s++;
        while (*s >= '0' && *s <= '9') {
            s++;
            frac_part = true;
        }
    }
    if (!int_part && !frac_part)
        return false;
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '-' || *s == '+')
            s++;
        if (!(*s >= '0' && *s <= '9'))
            return false;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    return *s == '\0';
}

static bool one_of(const char *s, const char *a, const char *b, const char *d)
{
    return strcmp(s, a) == 0 || strcmp(s, b) == 0 || strcmp(s, d) == 0;
}

/* Resolves a plain scalar by the YAML 1.2 core schema (spec 1.2.2 §10.3.2). */
static cJSON *plain_scalar(const char *s)
{
    const char *u = (*s == '-' || *s == '+') ? s + 1 : s;

    if (*s == '\0' || strcmp(s, "~") == 0 || one_of(s, "null", "Null", "NULL"))
        return cJSON_CreateNull();
    if (one_of(s, "true", "True", "TRUE"))
        return cJSON_CreateTrue();
    if (one_of(s, "false", "False", "FALSE"))
        return cJSON_CreateFalse();
    if (all_in(u, "0123456789") || is_float(s))
        return cJSON_CreateNumber(strtod(s, NULL));
    if (strncmp(s, "0o", 2) == 0 && all_in(s + 2, "01234567"))
        return cJSON_CreateNumber((double)strtoull(s + 2, NULL, 8));
    if (strncmp(s, "0x", 2) == 0 && all_in(s + 2, "0123456789abcdefABCDEF"))
        return cJSON_CreateNumber((double)strtoull(s + 2, NULL, 16));
    if (one_of(u, ".inf", ".Inf", ".INF"))
        return cJSON_CreateNumber(*s == '-' ? -INFINITY : INFINITY);
    if (one_of(s, ".nan", ".NaN", ".NAN"))
        return cJSON_CreateNumber(NAN);
    return cJSON_CreateString(s);
}

static int on_scalar(struct ctx *c, const yaml_event_t *e)
{
    const char *val = (const char *)e->data.scalar.value;
    size_t len = e->data.scalar.length;
    const char *tag = (const char *)e->data.scalar.tag;
    struct frame *f = c->depth > 0 ? &c->stack[c->depth - 1] : NULL;
    bool plain = e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    char *text = NULL, *anchor = NULL;
    cJSON *v = NULL;
    int rc;

    if (memchr(val, '\0', len) != NULL)
        return fail_at(c, TT_EPARSE, "NUL character in a scalar");
    if ((text = tt_strndup(val, len)) == NULL)
        return fail_at(c, TT_ENOMEM, "out of memory");
    if (f != NULL && cJSON_IsObject(f->node) && f->key == NULL) {
        /* A key. Keys are always text in JSON, whatever they would resolve to. */
        f->key_merge = plain && strcmp(text, "<<") == 0;
        f->key = text;
        return 0;
    }
    if ((rc = charge(c, 1)) != 0)
        goto out;
    /* A "!!str" tag or the non-specific "!" tag forces a string (YAML 1.2 §6.9.1). */
    if (!plain || (tag != NULL && (strcmp(tag, YAML_STR_TAG) == 0 || strcmp(tag, "!") == 0)))
        v = cJSON_CreateString(text);
    else
        v = plain_scalar(text);
    if (v == NULL) {
        rc = fail_at(c, TT_ENOMEM, "out of memory");
        goto out;
    }
    if (e->data.scalar.anchor != NULL) {
        if ((anchor = tt_strdup((const char *)e->data.scalar.anchor)) == NULL) {
            rc = fail_at(c, TT_ENOMEM, "out of memory");
            goto out;
        }
        /* Registered before attach: v stays at the same address inside its parent. */
        if ((rc = add_anchor(c, anchor, v, 1, 1)) != 0)
            goto out;
    }
    rc = attach(c, v, 1);
    v = NULL;
out:
    cJSON_Delete(v);
    tt_free(text);
    return rc;
}

static int on_alias(struct ctx *c, const yaml_event_t *e)
{
    const char *name = (const char *)e->data.alias.anchor;
    struct frame *f = c->depth > 0 ? &c->stack[c->depth - 1] : NULL;
    cJSON *dup;
    int rc;

    if (f != NULL && cJSON_IsObject(f->node) && f->key == NULL)
        return fail_at(c, TT_EPARSE, "an alias as a mapping key is not supported");
    for (size_t i = c->n_anchors; i-- > 0;) {
        if (strcmp(c->anchors[i].name, name) != 0)
            continue;
        if (c->depth + c->anchors[i].height > TT_K8S_YAML_MAX_DEPTH)
            return fail_at(c, TT_ERANGE, "nested deeper than 64 levels (through an alias)");
        if ((rc = charge(c, c->anchors[i].size)) != 0)
            return rc;
        if ((dup = cJSON_Duplicate(c->anchors[i].node, true)) == NULL)
            return fail_at(c, TT_ENOMEM, "out of memory");
        return attach(c, dup, c->anchors[i].height);
    }
    return fail_at(c, TT_EPARSE, "alias to an unknown anchor");
}

static int on_collection_start(struct ctx *c, const yaml_event_t *e, bool mapping)
{
    const yaml_char_t *anchor =
        mapping ? e->data.mapping_start.anchor : e->data.sequence_start.anchor;
    struct frame *f = c->depth > 0 ? &c->stack[c->depth - 1] : NULL;
    struct frame *nf;
    int rc;

    if (f != NULL && cJSON_IsObject(f->node) && f->key == NULL)
        return fail_at(c, TT_EPARSE, "complex mapping keys are not supported");
    if (c->depth == TT_K8S_YAML_MAX_DEPTH)
        return fail_at(c, TT_ERANGE, "nested deeper than 64 levels");
    if ((rc = charge(c, 1)) != 0)
        return rc;
    nf = &c->stack[c->depth];
    memset(nf, 0, sizeof(*nf));
    nf->nodes_at = c->nodes;
    if ((nf->node = mapping ? cJSON_CreateObject() : cJSON_CreateArray()) == NULL)
        return fail_at(c, TT_ENOMEM, "out of memory");
    c->depth++;
    if (anchor != NULL && (nf->anchor = tt_strdup((const char *)anchor)) == NULL)
        return fail_at(c, TT_ENOMEM, "out of memory");
    return 0;
}

static int on_collection_end(struct ctx *c)
{
    struct frame *f = &c->stack[c->depth - 1];
    size_t height = f->height + 1;
    cJSON *node;
    int rc;

    if (f->merges != NULL && (rc = do_merges(c, f)) != 0)
        return rc;
    if (f->anchor != NULL) {
        rc = add_anchor(c, f->anchor, f->node, c->nodes - f->nodes_at + 1, height);
        f->anchor = NULL;
        if (rc != 0)
            return rc;
    }
    node = f->node;
    f->node = NULL;
    frame_dispose(f);
    c->depth--;
    return attach(c, node, height);
}

static int on_document_end(struct ctx *c)
{
    cJSON *doc = c->doc != NULL ? c->doc : cJSON_CreateNull();
    c->doc = NULL;
    clear_anchors(c); /* anchors are scoped to their document */
    if (c->keys != NULL)
        memset(c->keys, 0, c->keys_cap * sizeof(*c->keys)); /* its maps move to c->docs */
    c->keys_n = 0;
    cJSON_Delete(c->keep);
    c->keep = NULL;
    if (doc == NULL || !cJSON_AddItemToArray(c->docs, doc)) {
        cJSON_Delete(doc);
        return fail_at(c, TT_ENOMEM, "out of memory");
    }
    return 0;
}

static int on_event(struct ctx *c, const yaml_event_t *e)
{
    switch (e->type) {
    case YAML_SCALAR_EVENT:
        return on_scalar(c, e);
    case YAML_ALIAS_EVENT:
        return on_alias(c, e);
    case YAML_SEQUENCE_START_EVENT:
        return on_collection_start(c, e, false);
    case YAML_MAPPING_START_EVENT:
        return on_collection_start(c, e, true);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        if (c->depth == 0)
            return fail_at(c, TT_EPARSE, "unbalanced collection end");
        return on_collection_end(c);
    case YAML_DOCUMENT_END_EVENT:
        return on_document_end(c);
    default:
        return 0;
    }
}

int tt_k8s_yaml_parse(const char *text, size_t len, cJSON **out, struct tt_err *err)
{
    struct ctx c;
    yaml_parser_t parser;
    yaml_event_t ev;
    bool done = false;
    int rc = 0;

    *out = NULL;
    memset(&c, 0, sizeof(c));
    c.err = err;
    if (!yaml_parser_initialize(&parser))
        return tt_err_set(err, TT_ENOMEM, "yaml: out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if ((c.docs = cJSON_CreateArray()) == NULL) {
        rc = tt_err_set(err, TT_ENOMEM, "yaml: out of memory");
        goto out;
    }
    while (!done) {
        if (!yaml_parser_parse(&parser, &ev)) {
            if (parser.error == YAML_MEMORY_ERROR)
                rc = tt_err_set(err, TT_ENOMEM, "yaml: out of memory");
            else
                rc = tt_err_set(err, TT_EPARSE, "line %zu column %zu: %s%s%s",
                                parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                                parser.problem != NULL ? parser.problem : "syntax error",
                                parser.context != NULL ? " " : "",
                                parser.context != NULL ? parser.context : "");
            goto out;
        }
        c.ev = &ev;
        rc = on_event(&c, &ev);
        c.ev = NULL;
        done = ev.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&ev);
        if (rc != 0)
            goto out;
    }
    *out = c.docs;
    c.docs = NULL;
out:
    while (c.depth > 0)
        frame_dispose(&c.stack[--c.depth]);
    cJSON_Delete(c.doc);
    cJSON_Delete(c.keep);
    cJSON_Delete(c.docs);
    clear_anchors(&c);
    tt_free(c.anchors);
    tt_free(c.keys);
    yaml_parser_delete(&parser);
    return rc;
}
