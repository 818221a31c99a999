/*
 * ngx_infer: the safetensors format.
 *
 * A file is an 8-byte little-endian header size N, N bytes of JSON, then
 * the data section:
 *
 *     {"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
 *      "__metadata__": {"key": "value"}}
 *
 * with offsets relative to the start of the data section.  The parser is
 * fed untrusted bytes (it is fuzzed): every size is checked before it is
 * used and nothing is read outside buf[0 .. len).
 *
 * What is accepted, in line with the reference implementation where it
 * matters for safety: tensor byte ranges must not overlap (a file whose
 * tensors share bytes is malformed, and rejected); gaps between tensors
 * and bytes after the last one are allowed, since they are harmless and
 * some writers align tensors.  The dtypes read are F32, F16, BF16, I32
 * and I64; the others (F64, I8, U8, BOOL, ...) are refused.  Keys other
 * than dtype, shape and
 * data_offsets in a tensor entry are ignored.  "__metadata__" must be an
 * object of strings; it is checked and not kept.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "infer_model.h"
#include "infer_util.h"


/* the reference implementation refuses larger headers too */
#define INFER_ST_MAX_HEADER  (100 * 1024 * 1024)


typedef struct {
    const char     *name;
    infer_dtype_e   dtype;
    size_t          size;
} infer_st_dtype_t;


static const infer_st_dtype_t  infer_st_dtypes[] = {
    { "F32",  INFER_DT_F32,  4 },
    { "F16",  INFER_DT_F16,  2 },
    { "BF16", INFER_DT_BF16, 2 },
    { "I32",  INFER_DT_I32,  4 },
    { "I64",  INFER_DT_I64,  8 },
};


static int infer_st_tensor(infer_st_tensor_t *t, const char *name,
    json_t *v, const unsigned char *data, size_t data_len, char *err,
    size_t errlen);
static int infer_st_metadata(json_t *v, char *err, size_t errlen);
static int infer_st_check_overlap(infer_safetensors_t *st, char *err,
    size_t errlen);
static int infer_st_cmp(const void *a, const void *b);
static void infer_st_free_tensors(infer_safetensors_t *st);
static int infer_st_terror(char *err, size_t errlen, const char *name,
    const char *fmt, ...) INFER_PRINTF(4, 5);


int
infer_safetensors_parse(infer_safetensors_t *st, const unsigned char *buf,
    size_t len, char *err, size_t errlen)
{
    int            i;
    size_t         n;
    uint64_t       hlen;
    const char    *key;
    json_t        *root, *v;
    json_error_t   jerr;

    st->tensors = NULL;
    st->ntensors = 0;
    st->data = NULL;
    st->data_len = 0;

    if (len < 8) {
        return infer_error(err, errlen, "file is %zu bytes, too short "
                              "for the 8-byte safetensors header size", len);
    }

    hlen = 0;
    for (i = 7; i >= 0; i--) {
        hlen = (hlen << 8) | buf[i];
    }

    if (hlen > len - 8) {
        return infer_error(err, errlen, "header size %llu exceeds file "
                              "size %zu", (unsigned long long) hlen, len);
    }

    if (hlen > INFER_ST_MAX_HEADER) {
        return infer_error(err, errlen, "header size %llu exceeds the "
                              "limit of %d bytes", (unsigned long long) hlen,
                              INFER_ST_MAX_HEADER);
    }

    /* jansson skips raw NUL bytes, and refuses "\u0000" in strings */
    if (memchr(buf + 8, '\0', (size_t) hlen) != NULL) {
        return infer_error(err, errlen, "header is not valid JSON: it "
                              "holds a NUL byte");
    }

    root = json_loadb((const char *) buf + 8, (size_t) hlen,
                      JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        return infer_error(err, errlen, "header is not valid JSON: %s "
                              "(byte %d of the header)", jerr.text,
                              jerr.position);
    }

    if (!json_is_object(root)) {
        json_decref(root);
        return infer_error(err, errlen, "header is not a JSON object");
    }

    st->data = buf + 8 + hlen;
    st->data_len = len - 8 - (size_t) hlen;

    n = json_object_size(root);
    if (json_object_get(root, "__metadata__") != NULL) {
        n--;
    }

    if (n) {
        st->tensors = calloc(n, sizeof(infer_st_tensor_t));
        if (st->tensors == NULL) {
            json_decref(root);
            infer_st_free_tensors(st);
            return infer_error(err, errlen, "out of memory");
        }
    }

    json_object_foreach(root, key, v) {

        if (strcmp(key, "__metadata__") == 0) {
            if (infer_st_metadata(v, err, errlen) != 0) {
                goto failed;
            }
            continue;
        }

        if (infer_st_tensor(&st->tensors[st->ntensors], key, v, st->data,
                            st->data_len, err, errlen)
            != 0)
        {
            goto failed;
        }

        st->ntensors++;
    }

    json_decref(root);

    if (infer_st_check_overlap(st, err, errlen) != 0) {
        infer_st_free_tensors(st);
        return -1;
    }

    return 0;

failed:

    json_decref(root);
    infer_st_free_tensors(st);
    return -1;
}


static int
infer_st_tensor(infer_st_tensor_t *t, const char *name, json_t *v,
    const unsigned char *data, size_t data_len, char *err, size_t errlen)
{
    int                      big, zero;
    size_t                   i, k;
    json_t                  *dtype, *shape, *offs, *d, *jb, *je;
    uint64_t                 nelts, max;
    json_int_t               dim, begin, end;
    const char              *s;
    const infer_st_dtype_t  *dt;

    if (!json_is_object(v)) {
        return infer_st_terror(err, errlen, name, "entry is not an object");
    }

    dtype = json_object_get(v, "dtype");
    if (!json_is_string(dtype)) {
        return infer_st_terror(err, errlen, name, "\"dtype\" is missing or "
                               "not a string");
    }

    s = json_string_value(dtype);
    k = sizeof(infer_st_dtypes) / sizeof(infer_st_dtypes[0]);
    for (i = 0; i < k; i++) {
        if (strcmp(s, infer_st_dtypes[i].name) == 0) {
            break;
        }
    }

    if (i == k) {
        return infer_st_terror(err, errlen, name, "unsupported dtype "
                               "\"%.32s\" (supported: F32, F16, BF16, I32, "
                               "I64)", s);
    }

    dt = &infer_st_dtypes[i];
    t->dtype = dt->dtype;

    offs = json_object_get(v, "data_offsets");
    jb = json_array_get(offs, 0);
    je = json_array_get(offs, 1);

    if (json_array_size(offs) != 2
        || !json_is_integer(jb) || !json_is_integer(je))
    {
        return infer_st_terror(err, errlen, name, "\"data_offsets\" is "
                               "missing or not an array of two integers");
    }

    begin = json_integer_value(jb);
    end = json_integer_value(je);

    if (begin < 0 || end < begin) {
        return infer_st_terror(err, errlen, name, "data_offsets [%lld, %lld] "
                               "are not ascending non-negative offsets",
                               (long long) begin, (long long) end);
    }

    if ((uint64_t) end > data_len) {
        return infer_st_terror(err, errlen, name, "data_offsets [%lld, %lld] "
                               "end past the data section of %zu bytes",
                               (long long) begin, (long long) end, data_len);
    }

    shape = json_object_get(v, "shape");
    if (!json_is_array(shape)) {
        return infer_st_terror(err, errlen, name, "\"shape\" is missing or "
                               "not an array");
    }

    if (json_array_size(shape) > INFER_MAX_DIMS) {
        return infer_st_terror(err, errlen, name, "%zu dimensions, at most "
                               "%d are supported", json_array_size(shape),
                               INFER_MAX_DIMS);
    }

    /* a product that would pass 2^64 bytes is not taken; a zero
     * dimension makes any shape empty */
    max = UINT64_MAX / dt->size;
    nelts = 1;
    big = 0;
    zero = 0;

    json_array_foreach(shape, i, d) {
        dim = json_is_integer(d) ? json_integer_value(d) : -1;
        if (dim < 0) {
            return infer_st_terror(err, errlen, name, "shape[%zu] is not a "
                                   "non-negative integer", i);
        }

        t->shape[i] = dim;

        if (dim == 0) {
            zero = 1;

        } else if (big || (uint64_t) dim > max / nelts) {
            big = 1;

        } else {
            nelts *= (uint64_t) dim;
        }
    }

    if (zero) {
        nelts = 0;

    } else if (big) {
        return infer_st_terror(err, errlen, name, "shape and dtype %s need "
                               "more than 2^64 bytes", dt->name);
    }

    if (nelts * dt->size != (uint64_t) (end - begin)) {
        return infer_st_terror(err, errlen, name, "shape and dtype %s need "
                               "%llu bytes, data_offsets [%lld, %lld] hold "
                               "%lld", dt->name,
                               (unsigned long long) (nelts * dt->size),
                               (long long) begin, (long long) end,
                               (long long) (end - begin));
    }

    t->ndim = (int) json_array_size(shape);
    t->nelts = (int64_t) nelts;
    t->nbytes = (size_t) (end - begin);
    t->data = data + begin;

    t->name = strdup(name);
    if (t->name == NULL) {
        return infer_error(err, errlen, "out of memory");
    }

    return 0;
}


static int
infer_st_metadata(json_t *v, char *err, size_t errlen)
{
    json_t      *s;
    const char  *key;

    if (!json_is_object(v)) {
        return infer_error(err, errlen, "\"__metadata__\" is not a JSON "
                              "object");
    }

    json_object_foreach(v, key, s) {
        if (!json_is_string(s)) {
            return infer_error(err, errlen, "\"__metadata__\": value of "
                                  "\"%.128s\" is not a string", key);
        }
    }

    return 0;
}


static int
infer_st_check_overlap(infer_safetensors_t *st, char *err, size_t errlen)
{
    size_t           i, n, b0, b1;
    infer_st_tensor_t  *p, *q, **sorted;

    n = 0;
    sorted = malloc(st->ntensors * sizeof(infer_st_tensor_t *) + 1);
    if (sorted == NULL) {
        return infer_error(err, errlen, "out of memory");
    }

    /* empty tensors occupy no bytes: they may sit anywhere */
    for (i = 0; i < st->ntensors; i++) {
        if (st->tensors[i].nbytes) {
            sorted[n++] = &st->tensors[i];
        }
    }

    qsort(sorted, n, sizeof(infer_st_tensor_t *), infer_st_cmp);

    for (i = 1; i < n; i++) {
        p = sorted[i - 1];
        q = sorted[i];
        b0 = (size_t) ((const unsigned char *) p->data - st->data);
        b1 = (size_t) ((const unsigned char *) q->data - st->data);

        if (b1 < b0 + p->nbytes) {
            infer_error(err, errlen, "tensors \"%.128s\" [%zu, %zu] and "
                           "\"%.128s\" [%zu, %zu] overlap", p->name, b0,
                           b0 + p->nbytes, q->name, b1, b1 + q->nbytes);
            free(sorted);
            return -1;
        }
    }

    free(sorted);
    return 0;
}


static int
infer_st_cmp(const void *a, const void *b)
{
    const unsigned char  *pa, *pb;

    pa = (*(infer_st_tensor_t * const *) a)->data;
    pb = (*(infer_st_tensor_t * const *) b)->data;

    return (pa > pb) - (pa < pb);
}


int
infer_safetensors_open(infer_safetensors_t *st, const char *path, char *err,
    size_t errlen)
{
    int          fd;
    void        *map;
    char         msg[INFER_ERRLEN];
    struct stat  sb;

    memset(st, 0, sizeof(infer_safetensors_t));

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        return infer_error(err, errlen, "%s: cannot open: %s", path,
                              strerror(errno));
    }

    if (fstat(fd, &sb) == -1) {
        infer_error(err, errlen, "%s: fstat() failed: %s", path,
                       strerror(errno));
        close(fd);
        return -1;
    }

    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return infer_error(err, errlen, "%s: not a regular file", path);
    }

    if (sb.st_size < 8 || (uint64_t) sb.st_size > SIZE_MAX) {
        close(fd);
        return infer_error(err, errlen, "%s: file is %lld bytes, too "
                              "short for a safetensors file", path,
                              (long long) sb.st_size);
    }

    map = mmap(NULL, (size_t) sb.st_size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);

    if (map == MAP_FAILED) {
        return infer_error(err, errlen, "%s: mmap() failed: %s", path,
                              strerror(errno));
    }

    st->map = map;
    st->map_len = (size_t) sb.st_size;

    if (infer_safetensors_parse(st, map, st->map_len, msg, sizeof(msg))
        != 0)
    {
        infer_safetensors_close(st);
        return infer_error(err, errlen, "%s: %s", path, msg);
    }

    return 0;
}


const infer_st_tensor_t *
infer_safetensors_find(const infer_safetensors_t *st, const char *name)
{
    size_t  i;

    for (i = 0; i < st->ntensors; i++) {
        if (strcmp(st->tensors[i].name, name) == 0) {
            return &st->tensors[i];
        }
    }

    return NULL;
}


/* safe on a zeroed, a failed or an already closed st */
void
infer_safetensors_close(infer_safetensors_t *st)
{
    infer_st_free_tensors(st);

    if (st->map != NULL) {
        munmap(st->map, st->map_len);
    }

    st->map = NULL;
    st->map_len = 0;
}


/* what infer_safetensors_parse() made; the mapping is not its own */
static void
infer_st_free_tensors(infer_safetensors_t *st)
{
    size_t  i;

    for (i = 0; i < st->ntensors; i++) {
        free(st->tensors[i].name);
    }

    free(st->tensors);

    st->tensors = NULL;
    st->ntensors = 0;
    st->data = NULL;
    st->data_len = 0;
}



/* "tensor \"name\": " and the message */
static int
infer_st_terror(char *err, size_t errlen, const char *name, const char *fmt,
    ...)
{
    int      n;
    va_list  args;

    n = snprintf(err, errlen, "tensor \"%.128s\": ", name);

    if (n >= 0 && (size_t) n < errlen) {
        va_start(args, fmt);
        vsnprintf(err + n, errlen - n, fmt, args);
        va_end(args);
    }

    return -1;
}
