/* k8s/internal.h - helpers shared by files of lib/k8s and nobody else (libuv's uv__ rule).
 * Threads: any; none of these keep state. They do blocking file I/O, so never on a loop thread.
 * Only files in lib/k8s/ (and their unit tests) may include this header. */
#ifndef TT_K8S_INTERNAL_H
#define TT_K8S_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

/* Reads the whole regular file |path| (symlinks followed) into a new NUL-terminated buffer
 * that the caller frees with tt_free; *out_len excludes the NUL. The file is opened and closed
 * on every call, never cached, so a kubelet swapping a `..data` symlink is seen at once.
 * Returns 0, or fills |err| ("<what>: cannot open PATH: reason") and returns: a negative errno
 * (open/read failures; -ENOENT when it does not exist), TT_EINVAL (not a regular file),
 * TT_ERANGE (larger than |max| bytes), TT_ENOMEM. Nothing is allocated on error. */
int tt_k8s__read_file(const char *path, size_t max, const char *what, char **out, size_t *out_len,
                      struct tt_err *err);

/* Reads a file that holds one word, a bearer token or a namespace (at most
 * TT_K8S_TOKEN_MAX_FILE bytes). Surrounding whitespace is trimmed, as client-go's
 * strings.TrimSpace does. On success *out is a new string the caller frees with tt_free.
 * Errors as tt_k8s__read_file, plus TT_EINVAL when the word is empty or has bytes that
 * tt_k8s__token_ok refuses. The error text never contains the file's content. */
int tt_k8s__read_word(const char *path, const char *what, char **out, struct tt_err *err);

/* "dir/name" (one slash between them) in a new string for tt_free, or NULL on no memory. */
char *tt_k8s__path_join(const char *dir, const char *name);

/* printf into a new string for tt_free, or NULL on no memory. */
char *tt_k8s__strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* True when |s| may be sent as "Authorization: Bearer <s>": non-empty, no control characters,
 * no spaces (a CR/LF in a token file must not become a header injection). */
bool tt_k8s__token_ok(const char *s);

/* Checks that |url| can be the API server base URL (http:// or https://, a host, no query or
 * fragment, no whitespace) and copies it without trailing slashes, because request paths are
 * appended as "/api/v1/...". Returns 0 with *out set (caller frees with tt_free); TT_EINVAL
 * with *why set to a static reason; TT_ENOMEM. */
int tt_k8s__server_dup(const char *url, char **out, const char **why);

#endif
