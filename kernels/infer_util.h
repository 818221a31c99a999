/*
 * ngx_infer: what every file of kernels/ needs: error messages written
 * into a caller's buffer, files read whole, paths and shapes as text.
 *
 * Errors are reported as a message in (err, errlen), never ending with a
 * newline, naming the file and the problem; functions return -1 (or NULL)
 * with it set, 0 on success.
 */

#ifndef _INFER_UTIL_H_INCLUDED_
#define _INFER_UTIL_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


#if defined(__GNUC__)
#define INFER_PRINTF(f, a)  __attribute__((format(printf, f, a)))
#else
#define INFER_PRINTF(f, a)
#endif


#define INFER_ERRLEN  512


/* err = the message; returns -1, for "return infer_error(...)" */
int infer_error(char *err, size_t errlen, const char *fmt, ...)
    INFER_PRINTF(3, 4);

/* err = the message + ": " + what err held; returns -1 */
int infer_error_prefix(char *err, size_t errlen, const char *fmt, ...)
    INFER_PRINTF(3, 4);

/*
 * The whole of a regular file of at most max bytes, NUL-terminated (len
 * does not count the NUL), in malloc()ed memory; NULL with err set.
 */
char *infer_read_file(const char *path, size_t max, size_t *len, char *err,
    size_t errlen);

/* dir + "/" + name in malloc()ed memory, or NULL */
char *infer_path(const char *dir, const char *name);

/* "[10, 33]" into buf, truncated to len */
void infer_shape_str(char *buf, size_t len, const int64_t *shape, int ndim);


#endif /* _INFER_UTIL_H_INCLUDED_ */
