/*
 * ngx_infer: error messages, whole files, paths and shapes as text, for
 * every file of kernels/ (infer_util.h).
 */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "infer_util.h"


char *
infer_read_file(const char *path, size_t max, size_t *len, char *err,
    size_t errlen)
{
    int          fd;
    char        *buf;
    size_t       size, got;
    ssize_t      n;
    struct stat  sb;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        infer_error(err, errlen, "%s: cannot open: %s", path,
                    strerror(errno));
        return NULL;
    }

    if (fstat(fd, &sb) == -1) {
        infer_error(err, errlen, "%s: fstat() failed: %s", path,
                    strerror(errno));
        close(fd);
        return NULL;
    }

    if (!S_ISREG(sb.st_mode) || (uint64_t) sb.st_size > max) {
        infer_error(err, errlen, "%s: not a regular file of at most %zu "
                    "bytes", path, max);
        close(fd);
        return NULL;
    }

    size = (size_t) sb.st_size;

    buf = malloc(size + 1);
    if (buf == NULL) {
        infer_error(err, errlen, "%s: out of memory", path);
        close(fd);
        return NULL;
    }

    for (got = 0; got < size; got += (size_t) n) {
        n = read(fd, buf + got, size - got);

        if (n == -1 && errno == EINTR) {
            n = 0;
            continue;
        }

        if (n <= 0) {
            infer_error(err, errlen, "%s: read() failed: %s", path,
                        n == 0 ? "file shrank while read" : strerror(errno));
            free(buf);
            close(fd);
            return NULL;
        }
    }

    close(fd);

    buf[size] = '\0';
    *len = size;

    return buf;
}


char *
infer_path(const char *dir, const char *name)
{
    char        *p;
    size_t       n;
    const char  *sep;

    n = strlen(dir);
    sep = (n && dir[n - 1] == '/') ? "" : "/";
    n += strlen(name) + 2;

    p = malloc(n);
    if (p != NULL) {
        snprintf(p, n, "%s%s%s", dir, sep, name);
    }

    return p;
}


/* "[10, 33]" */
void
infer_shape_str(char *buf, size_t len, const int64_t *shape, int ndim)
{
    int     i, n;
    size_t  off;

    off = 0;
    n = snprintf(buf, len, "[");

    for (i = 0; n >= 0 && i < ndim; i++) {
        off += (size_t) n;
        if (off >= len) {
            return;
        }

        n = snprintf(buf + off, len - off, "%s%lld", i ? ", " : "",
                     (long long) shape[i]);
    }

    off += (size_t) n;
    if (n >= 0 && off < len) {
        snprintf(buf + off, len - off, "]");
    }
}


int
infer_error(char *err, size_t errlen, const char *fmt, ...)
{
    va_list  args;

    if (errlen) {
        va_start(args, fmt);
        vsnprintf(err, errlen, fmt, args);
        va_end(args);
    }

    return -1;
}


int
infer_error_prefix(char *err, size_t errlen, const char *fmt, ...)
{
    char     msg[INFER_ERRLEN], pre[256];
    va_list  args;

    if (errlen == 0) {
        return -1;
    }

    snprintf(msg, sizeof(msg), "%s", err);

    va_start(args, fmt);
    vsnprintf(pre, sizeof(pre), fmt, args);
    va_end(args);

    snprintf(err, errlen, "%s: %s", pre, msg);

    return -1;
}
