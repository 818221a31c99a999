/*
 * ngx_infer: the GGUF format, llama.cpp's (its ggml/src/gguf.cpp and
 * docs/gguf.md are the reference).
 *
 * A file is little-endian:
 *
 *     "GGUF"  u32 version  u64 n_tensors  u64 n_kv
 *     n_kv x      { string key, u32 type, value }
 *     n_tensors x { string name, u32 n_dims, n_dims x u64 ne,
 *                   u32 ggml type, u64 offset }
 *     padding to general.alignment (32 without it), the data section
 *
 * where a string is a u64 length and its bytes, and an array value is a
 * u32 element type, a u64 count and the elements.  The parser is fed
 * untrusted bytes (it is fuzzed): every size is checked before it is
 * used, every count against what the rest of the file can hold, and
 * nothing is read outside buf[0 .. len).
 *
 * What is accepted, and where it differs from llama.cpp's reader:
 *
 *   - versions 2 and 3 (the same layout; version 1 had 32-bit counts); a
 *     big-endian file (its version reads byte-swapped) is refused by name;
 *   - every value type, arrays of every type but arrays (llama.cpp
 *     refuses nested arrays too); keys must be non-empty and unique; a
 *     bool is any byte, non-zero is true; general.alignment must be a
 *     uint32 power of two;
 *   - tensor names of at most 63 bytes (ggml's GGML_MAX_NAME), unique,
 *     without NUL; at most 4 dimensions, none negative, fewer than 2^63
 *     elements; the types F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q5_K
 *     and Q6_K, with rows of whole blocks; the others are refused by
 *     name;
 *   - offsets aligned, every tensor inside the data section and sharing
 *     no byte with another.  llama.cpp wants them packed in file order
 *     as its writer lays them; any order and gaps are accepted here, as
 *     Python's gguf.GGUFReader accepts them.  Bytes after the last
 *     tensor are allowed.
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

#include "infer_gguf.h"
#include "infer_util.h"


/* the least a key-value (a 1-byte key and a uint8) and a tensor info
 * (an empty name, no dimension) take in the file */
#define INFER_GGUF_MIN_KV      (8 + 1 + 4 + 1)
#define INFER_GGUF_MIN_TENSOR  (8 + 4 + 4 + 8)

/* how much of a key or name a message shows */
#define INFER_GGUF_SHOW        64


typedef struct {
    const unsigned char  *buf;
    size_t                len;
    size_t                pos;
    char                 *err;
    size_t                errlen;
} infer_gguf_rd_t;


/* the bytes of an element of each value type; 0: a string or an array */
static const size_t  infer_gguf_sizes[INFER_GGUF_TYPE_COUNT] = {
    1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8
};


/* the ggml types computed on, and what they are here */
static const struct {
    uint32_t       ggml;
    infer_dtype_e  dtype;
} infer_gguf_dtypes[] = {
    { 0,  INFER_DT_F32 },
    { 1,  INFER_DT_F16 },
    { 2,  INFER_DT_Q4_0 },
    { 3,  INFER_DT_Q4_1 },
    { 8,  INFER_DT_Q8_0 },
    { 12, INFER_DT_Q4_K },
    { 13, INFER_DT_Q5_K },
    { 14, INFER_DT_Q6_K },
    { 30, INFER_DT_BF16 },
};


static int infer_gguf_header(infer_gguf_t *g, infer_gguf_rd_t *rd,
    uint64_t *n_tensors, uint64_t *n_kvs);
static int infer_gguf_kv(infer_gguf_rd_t *rd, infer_gguf_kv_t *kv,
    size_t i);
static int infer_gguf_strings(infer_gguf_rd_t *rd, infer_gguf_kv_t *kv,
    const char *key);
static int infer_gguf_alignment(infer_gguf_t *g, char *err, size_t errlen);
static int infer_gguf_tensor_info(infer_gguf_rd_t *rd,
    infer_gguf_tensor_t *t, size_t i);
static int infer_gguf_tensor_type(infer_gguf_tensor_t *t, char *err,
    size_t errlen);
static int infer_gguf_place(infer_gguf_t *g, char *err, size_t errlen);
static int infer_gguf_index(infer_gguf_t *g, char *err, size_t errlen);
static int infer_gguf_overlap(infer_gguf_t *g, char *err, size_t errlen);
static int infer_gguf_cmp_kv(const void *a, const void *b);
static int infer_gguf_cmp_name(const void *a, const void *b);
static int infer_gguf_cmp_offset(const void *a, const void *b);
static int infer_gguf_key_cmp(const char *a, size_t alen, const char *b,
    size_t blen);
static void infer_gguf_free_parsed(infer_gguf_t *g);
static const char *infer_gguf_show(char *buf, const char *s, size_t len);
static int infer_gguf_u32(infer_gguf_rd_t *rd, uint32_t *v,
    const char *fmt, ...) INFER_PRINTF(3, 4);
static int infer_gguf_u64(infer_gguf_rd_t *rd, uint64_t *v,
    const char *fmt, ...) INFER_PRINTF(3, 4);
static int infer_gguf_bytes(infer_gguf_rd_t *rd, uint64_t count,
    size_t size, const char *fmt, ...) INFER_PRINTF(4, 5);
static int infer_gguf_truncated(infer_gguf_rd_t *rd, uint64_t count,
    size_t size, const char *fmt, va_list args);


int
infer_gguf_parse(infer_gguf_t *g, const unsigned char *buf, size_t len,
    char *err, size_t errlen)
{
    size_t           i;
    uint64_t         n_tensors, n_kvs;
    infer_gguf_rd_t  rd;

    g->kvs = NULL;
    g->n_kvs = 0;
    g->tensors = NULL;
    g->n_tensors = 0;
    g->kv_sorted = NULL;
    g->tensor_sorted = NULL;
    g->data = NULL;
    g->data_len = 0;
    g->version = 0;
    g->alignment = INFER_GGUF_ALIGNMENT;

    rd.buf = buf;
    rd.len = len;
    rd.pos = 0;
    rd.err = err;
    rd.errlen = errlen;

    if (infer_gguf_header(g, &rd, &n_tensors, &n_kvs) != 0) {
        return -1;
    }

    /* the counts are bounded by the file's size: so are these */
    if (n_kvs) {
        g->kvs = calloc((size_t) n_kvs, sizeof(infer_gguf_kv_t));
        g->kv_sorted = malloc((size_t) n_kvs * sizeof(infer_gguf_kv_t *));
        if (g->kvs == NULL || g->kv_sorted == NULL) {
            goto nomem;
        }
    }

    if (n_tensors) {
        g->tensors = calloc((size_t) n_tensors, sizeof(infer_gguf_tensor_t));
        g->tensor_sorted = malloc((size_t) n_tensors
                                  * sizeof(infer_gguf_tensor_t *));
        if (g->tensors == NULL || g->tensor_sorted == NULL) {
            goto nomem;
        }
    }

    for (i = 0; i < n_kvs; i++) {
        if (infer_gguf_kv(&rd, &g->kvs[i], i) != 0) {
            goto failed;
        }

        g->n_kvs++;
    }

    for (i = 0; i < n_tensors; i++) {
        if (infer_gguf_tensor_info(&rd, &g->tensors[i], i) != 0) {
            goto failed;
        }

        g->n_tensors++;
    }

    if (infer_gguf_index(g, err, errlen) != 0
        || infer_gguf_alignment(g, err, errlen) != 0)
    {
        goto failed;
    }

    /* llama.cpp aligns the data section only when there are tensors */
    if (g->n_tensors) {
        i = rd.pos % g->alignment;
        if (i && g->alignment - i > rd.len - rd.pos) {
            infer_error(err, errlen, "truncated: the data section starts at "
                        "byte %zu (the alignment is %u), past the end of "
                        "the file at %zu", rd.pos + (g->alignment - i),
                        g->alignment, rd.len);
            goto failed;
        }

        rd.pos += i ? g->alignment - i : 0;
    }

    g->data = buf + rd.pos;
    g->data_len = rd.len - rd.pos;

    if (infer_gguf_place(g, err, errlen) != 0
        || infer_gguf_overlap(g, err, errlen) != 0)
    {
        goto failed;
    }

    return 0;

nomem:

    infer_error(err, errlen, "out of memory");

failed:

    infer_gguf_free_parsed(g);
    return -1;
}


static int
infer_gguf_header(infer_gguf_t *g, infer_gguf_rd_t *rd, uint64_t *n_tensors,
    uint64_t *n_kvs)
{
    int       i;
    char      magic[20], *p;
    size_t    left;
    uint32_t  v, swapped;

    if (infer_gguf_bytes(rd, 4, 1, "the magic") != 0) {
        return -1;
    }

    if (memcmp(rd->buf, "GGUF", 4) != 0) {
        p = magic;
        for (i = 0; i < 4; i++) {
            if (rd->buf[i] >= 0x20 && rd->buf[i] < 0x7f
                && rd->buf[i] != '"' && rd->buf[i] != '\\')
            {
                *p++ = (char) rd->buf[i];

            } else {
                p += sprintf(p, "\\x%02x", rd->buf[i]);
            }
        }
        *p = '\0';

        return infer_error(rd->err, rd->errlen, "not a GGUF file: it starts "
                           "with \"%s\", not \"GGUF\"", magic);
    }

    if (infer_gguf_u32(rd, &v, "the version") != 0) {
        return -1;
    }

    swapped = (v >> 24) | ((v >> 8) & 0xff00) | ((v << 8) & 0xff0000)
              | (v << 24);

    if (v != swapped && (v & 0xffff) == 0 && swapped >= 1 && swapped <= 3) {
        return infer_error(rd->err, rd->errlen, "the file is big-endian "
                           "(its version %u reads byte-swapped as %u): only "
                           "little-endian GGUF files are read", swapped, v);
    }

    if (v != 2 && v != 3) {
        return infer_error(rd->err, rd->errlen, "GGUF version %u is not "
                           "supported (versions 2 and 3 are)", v);
    }

    g->version = v;

    if (infer_gguf_u64(rd, n_tensors, "the tensor count") != 0
        || infer_gguf_u64(rd, n_kvs, "the key-value count") != 0)
    {
        return -1;
    }

    left = rd->len - rd->pos;

    if (*n_kvs > left / INFER_GGUF_MIN_KV) {
        return infer_error(rd->err, rd->errlen, "the key-value count %llu "
                           "is more than the file can hold: %zu bytes "
                           "remain and a key-value takes at least %d",
                           (unsigned long long) *n_kvs, left,
                           INFER_GGUF_MIN_KV);
    }

    if (*n_tensors > left / INFER_GGUF_MIN_TENSOR) {
        return infer_error(rd->err, rd->errlen, "the tensor count %llu is "
                           "more than the file can hold: %zu bytes remain "
                           "and a tensor info takes at least %d",
                           (unsigned long long) *n_tensors, left,
                           INFER_GGUF_MIN_TENSOR);
    }

    return 0;
}


static int
infer_gguf_kv(infer_gguf_rd_t *rd, infer_gguf_kv_t *kv, size_t i)
{
    char      key[INFER_GGUF_SHOW + 8];
    size_t    size;
    uint32_t  type, elem;
    uint64_t  n, count;

    if (infer_gguf_u64(rd, &n, "the length of key %zu", i) != 0) {
        return -1;
    }

    if (n == 0) {
        return infer_error(rd->err, rd->errlen, "key %zu is empty", i);
    }

    if (infer_gguf_bytes(rd, n, 1, "key %zu", i) != 0) {
        return -1;
    }

    kv->key = (const char *) rd->buf + rd->pos - n;
    kv->key_len = (size_t) n;
    infer_gguf_show(key, kv->key, kv->key_len);

    if (infer_gguf_u32(rd, &type, "the type of key \"%s\"", key) != 0) {
        return -1;
    }

    elem = type;
    count = 1;

    if (type == INFER_GGUF_ARRAY) {
        if (infer_gguf_u32(rd, &elem, "the element type of key \"%s\"", key)
            != 0
            || infer_gguf_u64(rd, &count, "the count of key \"%s\"", key)
               != 0)
        {
            return -1;
        }

        if (elem == INFER_GGUF_ARRAY) {
            return infer_error(rd->err, rd->errlen, "key \"%s\" is an array "
                               "of arrays, which GGUF readers refuse", key);
        }

        if (elem >= INFER_GGUF_TYPE_COUNT) {
            return infer_error(rd->err, rd->errlen, "key \"%s\" is an array "
                               "of unknown type %u", key, elem);
        }

    } else if (type >= INFER_GGUF_TYPE_COUNT) {
        return infer_error(rd->err, rd->errlen, "key \"%s\" has unknown "
                           "type %u", key, type);
    }

    kv->type = (infer_gguf_type_e) type;
    kv->elem_type = (infer_gguf_type_e) elem;
    kv->count = count;
    kv->data = rd->buf + rd->pos;

    if (elem == INFER_GGUF_STRING) {
        if (infer_gguf_strings(rd, kv, key) != 0) {
            return -1;
        }

    } else {
        size = infer_gguf_sizes[elem];

        if (infer_gguf_bytes(rd, count, size, type == INFER_GGUF_ARRAY
                             ? "the array of key \"%s\""
                             : "the value of key \"%s\"", key)
            != 0)
        {
            return -1;
        }
    }

    kv->size = (size_t) (rd->buf + rd->pos - kv->data);

    return 0;
}


/* the lengths walked once, and where each string starts kept */
static int
infer_gguf_strings(infer_gguf_rd_t *rd, infer_gguf_kv_t *kv,
    const char *key)
{
    uint64_t   j, n, *offs;
    size_t     start;

    if (kv->type != INFER_GGUF_ARRAY) {
        if (infer_gguf_u64(rd, &n, "the length of the value of key \"%s\"",
                           key)
            != 0)
        {
            return -1;
        }

        return infer_gguf_bytes(rd, n, 1, "the value of key \"%s\"", key);
    }

    /* every string takes 8 bytes at least */
    if (kv->count > (rd->len - rd->pos) / 8) {
        return infer_gguf_bytes(rd, kv->count, 8, "the array of key \"%s\"",
                                key);
    }

    if (kv->count == 0) {
        return 0;
    }

    offs = malloc((size_t) kv->count * sizeof(uint64_t));
    if (offs == NULL) {
        return infer_error(rd->err, rd->errlen, "out of memory");
    }

    start = rd->pos;

    for (j = 0; j < kv->count; j++) {
        offs[j] = rd->pos - start;

        if (rd->len - rd->pos >= 8) {
            n = infer_gguf_le64(rd->buf + rd->pos);
            rd->pos += 8;

            if (n <= rd->len - rd->pos) {
                rd->pos += (size_t) n;
                continue;
            }

            rd->pos -= 8;
        }

        /* the message, for the length or for the bytes */
        free(offs);

        if (infer_gguf_u64(rd, &n, "the length of string %llu of key \"%s\"",
                           (unsigned long long) j, key)
            != 0)
        {
            return -1;
        }

        return infer_gguf_bytes(rd, n, 1, "string %llu of key \"%s\"",
                                (unsigned long long) j, key);
    }

    kv->str_offs = offs;

    return 0;
}


static int
infer_gguf_alignment(infer_gguf_t *g, char *err, size_t errlen)
{
    const infer_gguf_kv_t  *kv;

    kv = infer_gguf_find_kv(g, "general.alignment");
    if (kv == NULL) {
        return 0;
    }

    if (kv->type != INFER_GGUF_UINT32) {
        return infer_error(err, errlen, "general.alignment is of type %s, "
                           "not uint32", infer_gguf_type_name(kv->type));
    }

    g->alignment = infer_gguf_le32(kv->data);

    if (g->alignment == 0 || (g->alignment & (g->alignment - 1)) != 0) {
        return infer_error(err, errlen, "general.alignment %u is not a "
                           "power of two", g->alignment);
    }

    return 0;
}


static int
infer_gguf_tensor_info(infer_gguf_rd_t *rd, infer_gguf_tensor_t *t,
    size_t i)
{
    char         name[INFER_GGUF_SHOW + 8], shape[128];
    uint32_t     n_dims, j;
    uint64_t     n, ne;
    int64_t      nelts;
    const char  *p;

    if (infer_gguf_u64(rd, &n, "the name length of tensor %zu", i) != 0) {
        return -1;
    }

    if (n >= INFER_GGUF_MAX_NAME) {
        return infer_error(rd->err, rd->errlen, "tensor %zu: its name of "
                           "%llu bytes is longer than ggml's %d", i,
                           (unsigned long long) n, INFER_GGUF_MAX_NAME - 1);
    }

    if (infer_gguf_bytes(rd, n, 1, "the name of tensor %zu", i) != 0) {
        return -1;
    }

    p = (const char *) rd->buf + rd->pos - n;

    if (memchr(p, '\0', (size_t) n) != NULL) {
        return infer_error(rd->err, rd->errlen, "tensor %zu: its name holds "
                           "a NUL byte", i);
    }

    memcpy(t->name, p, (size_t) n);
    t->name[n] = '\0';
    infer_gguf_show(name, t->name, (size_t) n);

    if (infer_gguf_u32(rd, &n_dims, "the dimension count of tensor %s",
                       name)
        != 0)
    {
        return -1;
    }

    if (n_dims > INFER_GGUF_MAX_DIMS) {
        return infer_error(rd->err, rd->errlen, "tensor %s has %u "
                           "dimensions, at most %d are supported", name,
                           n_dims, INFER_GGUF_MAX_DIMS);
    }

    t->n_dims = (int) n_dims;

    for (j = 0; j < INFER_GGUF_MAX_DIMS; j++) {
        t->ne[j] = 1;
    }

    for (j = 0; j < n_dims; j++) {
        if (infer_gguf_u64(rd, &ne, "dimension %u of tensor %s", j, name)
            != 0)
        {
            return -1;
        }

        t->ne[j] = (int64_t) ne;
    }

    if (infer_gguf_u32(rd, &t->ggml_type, "the type of tensor %s", name) != 0
        || infer_gguf_u64(rd, &t->offset, "the offset of tensor %s", name)
           != 0)
    {
        return -1;
    }

    /* the shape: no negative dimension, fewer than 2^63 elements */
    nelts = 1;

    for (j = 0; j < n_dims; j++) {
        if (t->ne[j] < 0) {
            return infer_error(rd->err, rd->errlen, "tensor %s: dimension %u "
                               "is negative (%lld)", name, j,
                               (long long) t->ne[j]);
        }
    }

    for (j = 0; j < n_dims; j++) {
        if (t->ne[j] == 0) {
            nelts = 0;
            break;
        }

        if (nelts > INT64_MAX / t->ne[j]) {
            infer_shape_str(shape, sizeof(shape), t->ne, t->n_dims);
            return infer_error(rd->err, rd->errlen, "tensor %s: shape %s has "
                               "more than 2^63 elements", name, shape);
        }

        nelts *= t->ne[j];
    }

    t->nelts = nelts;

    return infer_gguf_tensor_type(t, rd->err, rd->errlen);
}


/* the type, and the bytes the shape takes in it */
static int
infer_gguf_tensor_type(infer_gguf_tensor_t *t, char *err, size_t errlen)
{
    char         name[INFER_GGUF_SHOW + 8], shape[128];
    size_t       i, n, bsize;
    int64_t      block;
    uint64_t     rows, row;
    const char  *tname;

    infer_gguf_show(name, t->name, strlen(t->name));

    tname = infer_gguf_ggml_type_name(t->ggml_type);
    if (tname == NULL) {
        return infer_error(err, errlen, "tensor %s has unknown ggml type %u",
                           name, t->ggml_type);
    }

    n = sizeof(infer_gguf_dtypes) / sizeof(infer_gguf_dtypes[0]);
    for (i = 0; i < n; i++) {
        if (infer_gguf_dtypes[i].ggml == t->ggml_type) {
            break;
        }
    }

    if (i == n) {
        return infer_error(err, errlen, "tensor %s is of type %s, which this "
                           "version does not compute", name, tname);
    }

    t->dtype = infer_gguf_dtypes[i].dtype;
    block = infer_dtype_block(t->dtype);
    bsize = infer_dtype_block_size(t->dtype);

    if (t->ne[0] % block != 0) {
        return infer_error(err, errlen, "tensor %s: a row of %lld elements "
                           "is not a whole number of %s blocks of %lld", name,
                           (long long) t->ne[0], tname, (long long) block);
    }

    if (t->nelts == 0) {
        t->nbytes = 0;
        return 0;
    }

    /* ne[0] is a whole number of blocks, at least one */
    rows = (uint64_t) (t->nelts / t->ne[0]);
    row = 0;

    if ((uint64_t) (t->ne[0] / block) <= SIZE_MAX / bsize) {
        row = infer_dtype_row_size(t->dtype, t->ne[0]);
    }

    if (row == 0 || rows > SIZE_MAX / row) {
        infer_shape_str(shape, sizeof(shape), t->ne, t->n_dims);
        return infer_error(err, errlen, "tensor %s: shape %s of type %s "
                           "takes more than %zu bytes", name, shape, tname,
                           (size_t) SIZE_MAX);
    }

    t->nbytes = (size_t) (rows * row);

    return 0;
}


/* each tensor where its offset says, inside the data section */
static int
infer_gguf_place(infer_gguf_t *g, char *err, size_t errlen)
{
    char                  name[INFER_GGUF_SHOW + 8];
    size_t                i;
    infer_gguf_tensor_t  *t;

    for (i = 0; i < g->n_tensors; i++) {
        t = &g->tensors[i];

        if (t->offset % g->alignment != 0) {
            return infer_error(err, errlen, "tensor %s: offset %llu is not a "
                               "multiple of the alignment %u",
                               infer_gguf_show(name, t->name, strlen(t->name)),
                               (unsigned long long) t->offset, g->alignment);
        }

        if (t->offset > g->data_len || t->nbytes > g->data_len - t->offset) {
            return infer_error(err, errlen, "tensor %s: its %zu bytes at "
                               "offset %llu end past the data section of %zu "
                               "bytes",
                               infer_gguf_show(name, t->name, strlen(t->name)),
                               t->nbytes, (unsigned long long) t->offset,
                               g->data_len);
        }

        t->data = g->data + t->offset;
    }

    return 0;
}


/* the sorted indexes of keys and names, which find duplicates too */
static int
infer_gguf_index(infer_gguf_t *g, char *err, size_t errlen)
{
    char                        a[INFER_GGUF_SHOW + 8];
    size_t                      i;
    const infer_gguf_kv_t      *p, *q;
    const infer_gguf_tensor_t  *t, *u;

    for (i = 0; i < g->n_kvs; i++) {
        g->kv_sorted[i] = &g->kvs[i];
    }

    for (i = 0; i < g->n_tensors; i++) {
        g->tensor_sorted[i] = &g->tensors[i];
    }

    if (g->n_kvs) {
        qsort(g->kv_sorted, g->n_kvs, sizeof(infer_gguf_kv_t *),
              infer_gguf_cmp_kv);
    }

    if (g->n_tensors) {
        qsort(g->tensor_sorted, g->n_tensors, sizeof(infer_gguf_tensor_t *),
              infer_gguf_cmp_name);
    }

    for (i = 1; i < g->n_kvs; i++) {
        p = g->kv_sorted[i - 1];
        q = g->kv_sorted[i];

        if (infer_gguf_key_cmp(p->key, p->key_len, q->key, q->key_len) == 0) {
            return infer_error(err, errlen, "key \"%s\" appears twice "
                               "(key-values %zu and %zu)",
                               infer_gguf_show(a, p->key, p->key_len),
                               (size_t) (p - g->kvs), (size_t) (q - g->kvs));
        }
    }

    for (i = 1; i < g->n_tensors; i++) {
        t = g->tensor_sorted[i - 1];
        u = g->tensor_sorted[i];

        if (strcmp(t->name, u->name) == 0) {
            return infer_error(err, errlen, "tensor name %s appears twice "
                               "(tensors %zu and %zu)",
                               infer_gguf_show(a, t->name, strlen(t->name)),
                               (size_t) (t - g->tensors),
                               (size_t) (u - g->tensors));
        }
    }

    return 0;
}


static int
infer_gguf_overlap(infer_gguf_t *g, char *err, size_t errlen)
{
    char                         a[INFER_GGUF_SHOW + 8];
    char                         b[INFER_GGUF_SHOW + 8];
    size_t                       i, n;
    const infer_gguf_tensor_t   *p, *q, **sorted;

    if (g->n_tensors < 2) {
        return 0;
    }

    sorted = malloc(g->n_tensors * sizeof(infer_gguf_tensor_t *));
    if (sorted == NULL) {
        return infer_error(err, errlen, "out of memory");
    }

    /* empty tensors take no byte: they may sit anywhere */
    n = 0;
    for (i = 0; i < g->n_tensors; i++) {
        if (g->tensors[i].nbytes) {
            sorted[n++] = &g->tensors[i];
        }
    }

    if (n) {
        qsort(sorted, n, sizeof(infer_gguf_tensor_t *),
              infer_gguf_cmp_offset);
    }

    for (i = 1; i < n; i++) {
        p = sorted[i - 1];
        q = sorted[i];

        if (q->offset < p->offset + p->nbytes) {
            infer_error(err, errlen, "tensors %s [%llu, %llu) and %s [%llu, "
                        "%llu) overlap",
                        infer_gguf_show(a, p->name, strlen(p->name)),
                        (unsigned long long) p->offset,
                        (unsigned long long) (p->offset + p->nbytes),
                        infer_gguf_show(b, q->name, strlen(q->name)),
                        (unsigned long long) q->offset,
                        (unsigned long long) (q->offset + q->nbytes));
            free(sorted);
            return -1;
        }
    }

    free(sorted);
    return 0;
}


/* ties broken by position in the file: every run reports the same pair */

static int
infer_gguf_cmp_kv(const void *a, const void *b)
{
    int                     rc;
    const infer_gguf_kv_t  *p, *q;

    p = *(const infer_gguf_kv_t * const *) a;
    q = *(const infer_gguf_kv_t * const *) b;

    rc = infer_gguf_key_cmp(p->key, p->key_len, q->key, q->key_len);

    return rc ? rc : (p > q) - (p < q);
}


static int
infer_gguf_cmp_name(const void *a, const void *b)
{
    int                         rc;
    const infer_gguf_tensor_t  *p, *q;

    p = *(const infer_gguf_tensor_t * const *) a;
    q = *(const infer_gguf_tensor_t * const *) b;

    rc = strcmp(p->name, q->name);

    return rc ? rc : (p > q) - (p < q);
}


static int
infer_gguf_cmp_offset(const void *a, const void *b)
{
    const infer_gguf_tensor_t  *p, *q;

    p = *(const infer_gguf_tensor_t * const *) a;
    q = *(const infer_gguf_tensor_t * const *) b;

    if (p->offset != q->offset) {
        return p->offset > q->offset ? 1 : -1;
    }

    return (p > q) - (p < q);
}


static int
infer_gguf_key_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int  rc;

    rc = memcmp(a, b, alen < blen ? alen : blen);

    return rc ? rc : (alen > blen) - (alen < blen);
}


int
infer_gguf_open(infer_gguf_t *g, const char *path, char *err, size_t errlen)
{
    int          fd;
    void        *map;
    char         msg[INFER_ERRLEN];
    struct stat  sb;

    memset(g, 0, sizeof(infer_gguf_t));

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

    if (!S_ISREG(sb.st_mode) || (uint64_t) sb.st_size > SIZE_MAX) {
        close(fd);
        return infer_error(err, errlen, "%s: not a regular file", path);
    }

    /* an empty file cannot be mapped; the parser says what it lacks */
    map = NULL;

    if (sb.st_size) {
        map = mmap(NULL, (size_t) sb.st_size, PROT_READ, MAP_SHARED, fd, 0);
        if (map == MAP_FAILED) {
            infer_error(err, errlen, "%s: mmap() failed: %s", path,
                        strerror(errno));
            close(fd);
            return -1;
        }

        g->map = map;
        g->map_len = (size_t) sb.st_size;
    }

    close(fd);

    g->path = strdup(path);
    if (g->path == NULL) {
        infer_gguf_close(g);
        return infer_error(err, errlen, "%s: out of memory", path);
    }

    if (infer_gguf_parse(g, map ? (const unsigned char *) map
                                : (const unsigned char *) "",
                         g->map_len, msg, sizeof(msg))
        != 0)
    {
        infer_gguf_close(g);
        return infer_error(err, errlen, "%s: %s", path, msg);
    }

    return 0;
}


void
infer_gguf_close(infer_gguf_t *g)
{
    infer_gguf_free_parsed(g);

    if (g->map != NULL) {
        munmap(g->map, g->map_len);
    }

    free(g->path);

    g->map = NULL;
    g->map_len = 0;
    g->path = NULL;
}


/* what infer_gguf_parse() made; the mapping is not its own */
static void
infer_gguf_free_parsed(infer_gguf_t *g)
{
    size_t  i;

    for (i = 0; i < g->n_kvs; i++) {
        free((void *) g->kvs[i].str_offs);
    }

    free(g->kvs);
    free(g->tensors);
    free(g->kv_sorted);
    free(g->tensor_sorted);

    g->kvs = NULL;
    g->n_kvs = 0;
    g->tensors = NULL;
    g->n_tensors = 0;
    g->kv_sorted = NULL;
    g->tensor_sorted = NULL;
    g->data = NULL;
    g->data_len = 0;
}


/* --- reading, and saying what is missing ----------------------------- */

static int
infer_gguf_u32(infer_gguf_rd_t *rd, uint32_t *v, const char *fmt, ...)
{
    int      rc;
    va_list  args;

    if (rd->len - rd->pos >= 4) {
        *v = infer_gguf_le32(rd->buf + rd->pos);
        rd->pos += 4;
        return 0;
    }

    va_start(args, fmt);
    rc = infer_gguf_truncated(rd, 1, 4, fmt, args);
    va_end(args);

    return rc;
}


static int
infer_gguf_u64(infer_gguf_rd_t *rd, uint64_t *v, const char *fmt, ...)
{
    int      rc;
    va_list  args;

    if (rd->len - rd->pos >= 8) {
        *v = infer_gguf_le64(rd->buf + rd->pos);
        rd->pos += 8;
        return 0;
    }

    va_start(args, fmt);
    rc = infer_gguf_truncated(rd, 1, 8, fmt, args);
    va_end(args);

    return rc;
}


/* count elements of size bytes skipped, when the file holds them */
static int
infer_gguf_bytes(infer_gguf_rd_t *rd, uint64_t count, size_t size,
    const char *fmt, ...)
{
    int      rc;
    va_list  args;

    if (size == 0 || count <= (rd->len - rd->pos) / size) {
        rd->pos += (size_t) count * size;
        return 0;
    }

    va_start(args, fmt);
    rc = infer_gguf_truncated(rd, count, size, fmt, args);
    va_end(args);

    return rc;
}


static int
infer_gguf_truncated(infer_gguf_rd_t *rd, uint64_t count, size_t size,
    const char *fmt, va_list args)
{
    char  what[2 * INFER_GGUF_SHOW + 64], need[64];

    vsnprintf(what, sizeof(what), fmt, args);

    if (count == 1 || size == 1) {
        snprintf(need, sizeof(need), "%llu bytes",
                 (unsigned long long) (count * size));

    } else {
        snprintf(need, sizeof(need), "%llu x %zu bytes",
                 (unsigned long long) count, size);
    }

    return infer_error(rd->err, rd->errlen, "truncated: %s at byte %zu "
                       "needs %s, but %zu remain", what, rd->pos, need,
                       rd->len - rd->pos);
}


/* up to INFER_GGUF_SHOW bytes of s, control bytes as '?' */
static const char *
infer_gguf_show(char *buf, const char *s, size_t len)
{
    size_t  i, n;

    n = len < INFER_GGUF_SHOW ? len : INFER_GGUF_SHOW;

    for (i = 0; i < n; i++) {
        buf[i] = ((unsigned char) s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
    }

    if (n < len) {
        memcpy(buf + n, "...", 3);
        n += 3;
    }

    buf[n] = '\0';

    return buf;
}
