/* model/internal.h - internal to lib/model: reading one annotation value the way ingress-nginx's
 * parser package does (internal/ingress/annotations/parser: main.go and validators.go), shared
 * by the annotation parsers (affinity.c, canary.c).
 * Threads: the builder's thread. Nothing here allocates; reports go through the callback.
 * Invariants: every validator sees the raw value, as ingress-nginx's do; a value that is empty
 * or only blanks counts as absent and is never reported. */
#ifndef TT_MODEL_INTERNAL_H
#define TT_MODEL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/slice.h"
#include "k8s/objects.h"
#include "model/build.h"

/* Room for "<prefix>/<name>" keys. */
#define TT_MODEL__KEY_MAX 320

/* One parse of one Ingress: where reports go and how keys are built. */
struct tt_model__ann {
    const struct tt_k8s_object *ing;
    const char *prefix;        /* annotation prefix, e.g. "nginx.ingress.kubernetes.io" */
    tt_model_reject_cb report; /* may be NULL */
    void *ud;
};

/* Go's strings.TrimSpace for the ASCII blanks (the Unicode ones cannot pass any validator
 * anyway). The result points into |s|. */
struct tt_slice tt_model__go_trim(const char *s);

/* The value of annotation <prefix>/<name>, its full key written to |key| (|cap| bytes). NULL
 * when absent, empty or only blanks: ingress-nginx never validates an empty value, and a blank
 * one ends up absent too (its parseString rejects what trims to ""). Borrowed from a->ing. */
const char *tt_model__ann_get(const struct tt_model__ann *a, const char *name, char *key,
                              size_t cap);

/* Reports annotation |key| with |value| (cut at 64 bytes) and |why|: one call of a->report. */
void tt_model__ann_bad(const struct tt_model__ann *a, const char *key, const char *value,
                       const char *why);

/* parser.ValidateOptions(opts, caseSensitive = !nocase, trimSpace = true): the index of the
 * option the trimmed value equals, or -1. */
int tt_model__option(const char *raw, const char *const *opts, size_t n, bool nocase);

/* parser.ValidateRegex(class, removeSpace): every byte is one of A-Z a-z 0-9 - . _ ~ / : or of
 * |extra| (NULL: none), ignoring ' ' when |skip_space|. (BasicCharsRegex is extra NULL; the
 * path-regex set IsValidRegex is extra "^$[](){}*+?|&=\\".) */
bool tt_model__chars_ok(const char *raw, const char *extra, bool skip_space);

/* Go's strconv.ParseBool (1 t T TRUE true True, 0 f F FALSE false False; no blanks). */
bool tt_model__go_bool(const char *raw, bool *out);

/* Go's strconv.Atoi on a 64-bit platform: an optional '+' or '-', then one or more decimal
 * digits and nothing else (no blanks, no '_', no fraction, no unit), within int64. */
bool tt_model__go_atoi(const char *raw, int64_t *out);

#endif
