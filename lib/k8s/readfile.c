/* k8s/readfile.c - bounded whole-file reads for kubeconfig and credential files, and paths.
 * Threads: any; blocking I/O. The size cap is checked before allocating, so a wrong path
 * (a log file, a device) costs an error, not memory. */
#include "k8s/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "k8s/token.h"

int tt_k8s__read_file(const char *path, size_t max, const char *what, char **out, size_t *out_len,
                      struct tt_err *err)
{
    struct stat st;
    char *buf = NULL;
    size_t len = 0;
    int fd, rc = 0;

    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
        return tt_err_set(err, -errno, "%s: cannot open %s: %s", what, path, strerror(errno));
    if (fstat(fd, &st) == -1) {
        rc = tt_err_set(err, -errno, "%s: cannot stat %s: %s", what, path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = tt_err_set(err, TT_EINVAL, "%s: %s is not a regular file", what, path);
        goto out;
    }
    if ((unsigned long long)st.st_size > max) {
        rc = tt_err_set(err, TT_ERANGE, "%s: %s is larger than %zu bytes", what, path, max);
        goto out;
    }
    if ((buf = tt_malloc((size_t)st.st_size + 1)) == NULL) {
        rc = tt_err_set(err, TT_ENOMEM, "%s: out of memory reading %s", what, path);
        goto out;
    }
    /* The file can shrink under us (a token being rewritten in place); stop at EOF. Growth
     * past the size we planned for is cut off, which the next periodic read repairs. */
    while (len < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1) {
            rc = tt_err_set(err, -errno, "%s: cannot read %s: %s", what, path, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    buf = NULL;
out:
    tt_free(buf);
    close(fd);
    return rc;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

int tt_k8s__read_word(const char *path, const char *what, char **out, struct tt_err *err)
{
    char *buf = NULL, *start;
    size_t len = 0;
    int rc;

    if ((rc = tt_k8s__read_file(path, TT_K8S_TOKEN_MAX_FILE, what, &buf, &len, err)) != 0)
        return rc;
    /* Editors and `echo` leave a newline behind; client-go trims both ends too. */
    while (len > 0 && is_space(buf[len - 1]))
        buf[--len] = '\0';
    for (start = buf; is_space(*start); start++)
        len--;
    if (len == 0) {
        rc = tt_err_set(err, TT_EINVAL, "%s: %s is empty", what, path);
        goto out;
    }
    if (!tt_k8s__token_ok(start)) {
        rc = tt_err_set(err, TT_EINVAL, "%s: %s has spaces or control characters inside", what,
                        path);
        goto out;
    }
    memmove(buf, start, len + 1);
    *out = buf;
    buf = NULL;
out:
    tt_free(buf);
    return rc;
}

char *tt_k8s__path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir);
    bool slash = n > 0 && dir[n - 1] == '/';
    return tt_k8s__strf("%s%s%s", dir, slash ? "" : "/", name);
}
