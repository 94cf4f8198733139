/* model/parser.c - one annotation value read, validated and reported the way ingress-nginx's
 * parser package does (spec/ingress-nginx-annotations.md §1: validators see the raw value;
 * option lists trim blanks first, character classes may skip spaces, booleans are Go's
 * strconv.ParseBool and integers its strconv.Atoi of the raw value). */
#include "model/internal.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

struct tt_slice tt_model__go_trim(const char *s)
{
    struct tt_slice v = tt_slice_cstr(s);
    while (v.len > 0 && strchr(" \t\n\v\f\r", v.ptr[0]) != NULL) {
        v.ptr++;
        v.len--;
    }
    while (v.len > 0 && strchr(" \t\n\v\f\r", v.ptr[v.len - 1]) != NULL)
        v.len--;
    return v;
}

const char *tt_model__ann_get(const struct tt_model__ann *a, const char *name, char *key,
                              size_t cap)
{
    const char *v;

    snprintf(key, cap, "%s/%s", a->prefix, name);
    v = tt_k8s_meta_annotation(&a->ing->meta, key);
    return v != NULL && tt_model__go_trim(v).len > 0 ? v : NULL;
}

void tt_model__ann_bad(const struct tt_model__ann *a, const char *key, const char *value,
                       const char *why)
{
    char reason[512];

    if (a->report == NULL)
        return;
    snprintf(reason, sizeof(reason), "annotation %s: \"%.64s%s\" %s", key, value,
             strlen(value) > 64 ? "..." : "", why);
    a->report(a->ud, "Ingress", a->ing->key, reason);
}

int tt_model__option(const char *raw, const char *const *opts, size_t n, bool nocase)
{
    struct tt_slice v = tt_model__go_trim(raw);

    for (size_t i = 0; i < n; i++) {
        if (strlen(opts[i]) == v.len &&
            (nocase ? strncasecmp(v.ptr, opts[i], v.len) : strncmp(v.ptr, opts[i], v.len)) == 0)
            return (int)i;
    }
    return -1;
}

/* (ValidateRegex's extra CR/LF check of newer versions is covered: neither is in any class.) */
bool tt_model__chars_ok(const char *raw, const char *extra, bool skip_space)
{
    for (const unsigned char *p = (const unsigned char *)raw; *p != '\0'; p++) {
        unsigned char c = *p;
        if ((c == ' ' && skip_space) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c >= '0' && c <= '9') || strchr("-._~/:", c) != NULL ||
            (extra != NULL && strchr(extra, c) != NULL))
            continue;
        return false;
    }
    return true;
}

bool tt_model__go_bool(const char *raw, bool *out)
{
    static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *const no[] = {"0", "f", "F", "FALSE", "false", "False"};

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcmp(raw, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcmp(raw, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

bool tt_model__go_atoi(const char *raw, int64_t *out)
{
    bool neg = raw[0] == '-';
    const char *p = raw + (raw[0] == '-' || raw[0] == '+');
    uint64_t n = 0;

    if (*p == '\0')
        return false;
    for (; *p != '\0'; p++) {
        unsigned d = (unsigned)(unsigned char)*p - '0';
        if (d > 9 || n > (UINT64_MAX - d) / 10)
            return false;
        n = n * 10 + d;
    }
    if (n > (neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX))
        return false;
    *out = neg ? (int64_t)(0 - n) : (int64_t)n;
    return true;
}
