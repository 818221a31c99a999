/*
 * ngx_infer fuzzing: infer_gguf_parse() on arbitrary bytes.
 *
 * The input is a whole GGUF file.  It is parsed from libFuzzer's buffer,
 * a malloc() of exactly its size, and then once more through
 * infer_gguf_open(), from a memfd (mmap() of a file, the path nginx
 * takes), which must agree.  On success every key-value's key and
 * elements lie inside the buffer (all are read, strings to their last
 * byte, so that AddressSanitizer sees one that does not), find_kv() finds
 * each key, each typed getter answers 0 or -1 with a message; every
 * tensor lies inside the data section at an aligned offset, holds the
 * bytes of its shape in its type, shares none with another, and is found
 * by its name; its bytes are all read.  Messages must be non-empty and
 * fit their buffer, a small one too, and a parse with none at all
 * (errlen 0) must agree.  LeakSanitizer checks that infer_gguf_close()
 * frees what the parser made.
 *
 * A failed check aborts, which libFuzzer reports as a crash.
 */

#define _GNU_SOURCE

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "infer_gguf.h"
#include "infer_util.h"


#define FUZZ_SMALL_ERR  7


#define fuzz_check(cond)                                                     \
    if (!(cond)) {                                                           \
        fprintf(stderr, "fuzz_gguf: check failed at line %d: %s\n",         \
                __LINE__, #cond);                                            \
        abort();                                                             \
    }


static int   fuzz_fd = -1;
static char  fuzz_path[64];


/* every getter on the key: an answer, and a message when it refuses */
static void
fuzz_getters(const infer_gguf_t *g, const infer_gguf_kv_t *kv)
{
    int                     rc, b;
    char                    key[INFER_GGUF_MAX_NAME * 4], err[INFER_ERRLEN];
    float                   f;
    size_t                  len;
    int32_t                 i32;
    uint32_t                u32;
    uint64_t                u64;
    const char             *s;
    const infer_gguf_kv_t  *arr;

    if (kv->key_len >= sizeof(key) || memchr(kv->key, '\0', kv->key_len)) {
        return;
    }

    memcpy(key, kv->key, kv->key_len);
    key[kv->key_len] = '\0';

    fuzz_check(infer_gguf_find_kv(g, key) == kv);

#define fuzz_answer(call)                                                    \
    err[0] = '\0';                                                           \
    rc = call;                                                               \
    fuzz_check(rc == 0 || (rc == -1 && err[0] != '\0'));

    fuzz_answer(infer_gguf_get_u32(g, key, &u32, err, sizeof(err)));
    fuzz_answer(infer_gguf_get_i32(g, key, &i32, err, sizeof(err)));
    fuzz_answer(infer_gguf_get_u64(g, key, &u64, err, sizeof(err)));
    fuzz_answer(infer_gguf_get_f32(g, key, &f, err, sizeof(err)));
    fuzz_answer(infer_gguf_get_bool(g, key, &b, err, sizeof(err)));
    fuzz_answer(infer_gguf_get_str(g, key, &s, &len, err, sizeof(err)));
    fuzz_answer(infer_gguf_get_arr(g, key, INFER_GGUF_TYPE_COUNT, &arr, err,
                                   sizeof(err)));

    if (rc == 0) {
        fuzz_check(arr == kv && kv->type == INFER_GGUF_ARRAY);
    }

    fuzz_check((kv->type == INFER_GGUF_STRING)
               == (infer_gguf_get_str(g, key, &s, &len, NULL, 0) == 0));
}


static void
fuzz_parsed(const infer_gguf_t *g, const uint8_t *data, size_t size)
{
    double                      d;
    size_t                      i, j, len;
    int64_t                     nelts, block;
    uint64_t                    e, bits;
    unsigned                    sum;
    const char                 *s;
    const infer_gguf_kv_t      *kv;
    const infer_gguf_tensor_t  *t, *u;

    fuzz_check(g->version == 2 || g->version == 3);
    fuzz_check(g->alignment && (g->alignment & (g->alignment - 1)) == 0);
    fuzz_check(g->data >= data && g->data + g->data_len == data + size);
    fuzz_check(g->n_kvs == 0 || g->kvs != NULL);
    fuzz_check(g->n_tensors == 0 || g->tensors != NULL);

    sum = 0;

    for (i = 0; i < g->n_kvs; i++) {
        kv = &g->kvs[i];

        fuzz_check(kv->key_len > 0);
        fuzz_check((const uint8_t *) kv->key >= data
                   && (const uint8_t *) kv->key + kv->key_len <= g->data);
        fuzz_check(kv->elem_type < INFER_GGUF_TYPE_COUNT
                   && kv->elem_type != INFER_GGUF_ARRAY);
        fuzz_check(kv->type == INFER_GGUF_ARRAY
                   || (kv->type == kv->elem_type && kv->count == 1));
        fuzz_check(kv->data >= data && kv->data + kv->size <= g->data);

        for (e = 0; e < kv->count; e++) {
            if (kv->elem_type == INFER_GGUF_STRING) {
                s = infer_gguf_kv_str(kv, e, &len);
                fuzz_check((const uint8_t *) s >= kv->data
                           && (const uint8_t *) s + len
                              <= kv->data + kv->size);
                sum += len ? (unsigned char) s[len - 1] : 0;

            } else {
                d = infer_gguf_kv_f64(kv, e);
                memcpy(&bits, &d, sizeof(double));
                sum += (unsigned) (infer_gguf_kv_u64(kv, e) + bits);
            }
        }

        fuzz_getters(g, kv);
    }

    for (i = 0; i < g->n_tensors; i++) {
        t = &g->tensors[i];

        fuzz_check(strlen(t->name) < INFER_GGUF_MAX_NAME);
        fuzz_check(infer_gguf_find_tensor(g, t->name) == t);
        fuzz_check(t->n_dims >= 0 && t->n_dims <= INFER_GGUF_MAX_DIMS);
        fuzz_check(t->offset % g->alignment == 0);
        fuzz_check((const uint8_t *) t->data == g->data + t->offset);
        fuzz_check(t->offset + t->nbytes <= g->data_len);

        nelts = 1;
        for (j = 0; j < INFER_GGUF_MAX_DIMS; j++) {
            fuzz_check(t->ne[j] >= 0 && (j < (size_t) t->n_dims
                                         || t->ne[j] == 1));
            nelts *= t->ne[j];
        }

        block = infer_dtype_block(t->dtype);
        fuzz_check(nelts == t->nelts && t->ne[0] % block == 0);
        fuzz_check(t->nbytes == (size_t) (nelts / block)
                                * infer_dtype_block_size(t->dtype));
        fuzz_check(infer_gguf_ggml_type_name(t->ggml_type) != NULL);

        /* every byte is read: AddressSanitizer sees one out of bounds */
        for (j = 0; j < t->nbytes; j++) {
            sum += ((const unsigned char *) t->data)[j];
        }

        /* no two share a byte (their count is bounded by the input) */
        for (j = 0; j < i; j++) {
            u = &g->tensors[j];

            if (t->nbytes && u->nbytes) {
                fuzz_check(u->offset >= t->offset + t->nbytes
                           || t->offset >= u->offset + u->nbytes);
            }
        }
    }

    /* keeps the reads above */
    __asm__ volatile ("" : : "r" (sum));
}


/* the same bytes as a file: infer_gguf_open() must agree */
static void
fuzz_open(const uint8_t *data, size_t size, int rc, const char *err)
{
    int           rc2;
    char          err2[INFER_ERRLEN];
    size_t        n;
    infer_gguf_t  g;

    if (fuzz_fd == -1) {
        fuzz_fd = memfd_create("fuzz_gguf", 0);
        fuzz_check(fuzz_fd != -1);
        snprintf(fuzz_path, sizeof(fuzz_path), "/proc/self/fd/%d", fuzz_fd);
    }

    fuzz_check(ftruncate(fuzz_fd, 0) == 0);
    fuzz_check(pwrite(fuzz_fd, data, size, 0) == (ssize_t) size);

    rc2 = infer_gguf_open(&g, fuzz_path, err2, sizeof(err2));
    fuzz_check(rc2 == rc);

    if (rc2 == 0) {
        fuzz_check(g.map != NULL && g.map_len == size);
        fuzz_parsed(&g, g.map, g.map_len);
        infer_gguf_close(&g);
        fuzz_check(g.kvs == NULL && g.tensors == NULL && g.map == NULL);
        return;
    }

    fuzz_check(g.map == NULL && g.kvs == NULL && g.path == NULL);

    /* "<path>: <the parser's message>", cut to the buffer */
    n = strlen(fuzz_path);
    fuzz_check(strncmp(err2, fuzz_path, n) == 0);
    fuzz_check(strncmp(err2 + n, ": ", 2) == 0);
    fuzz_check(strncmp(err2 + n + 2, err, sizeof(err2) - n - 3) == 0);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int           rc, rc2;
    char          err[INFER_ERRLEN], *small;
    size_t        n;
    infer_gguf_t  g;

    memset(&g, 0, sizeof(g));
    memset(err, 'x', sizeof(err));

    rc = infer_gguf_parse(&g, data, size, err, sizeof(err));

    if (rc == 0) {
        fuzz_parsed(&g, data, size);
        infer_gguf_close(&g);
        fuzz_check(g.kvs == NULL && g.n_kvs == 0 && g.tensors == NULL);

    } else {
        fuzz_check(rc == -1);
        fuzz_check(g.kvs == NULL && g.n_kvs == 0 && g.tensors == NULL
                   && g.n_tensors == 0 && g.kv_sorted == NULL);

        n = strnlen(err, sizeof(err));
        fuzz_check(n > 0 && n < sizeof(err));
    }

    /* a buffer too small for any message, of exactly its size */
    small = malloc(FUZZ_SMALL_ERR);
    fuzz_check(small != NULL);

    memset(&g, 0, sizeof(g));
    rc2 = infer_gguf_parse(&g, data, size, small, FUZZ_SMALL_ERR);
    fuzz_check(rc2 == rc);

    if (rc2 != 0) {
        fuzz_check(strnlen(small, FUZZ_SMALL_ERR) < FUZZ_SMALL_ERR);
        fuzz_check(strncmp(small, err, FUZZ_SMALL_ERR - 1) == 0);
    }

    infer_gguf_close(&g);
    free(small);

    /* and none at all */
    memset(&g, 0, sizeof(g));
    rc2 = infer_gguf_parse(&g, data, size, NULL, 0);
    fuzz_check(rc2 == rc);
    infer_gguf_close(&g);

    fuzz_open(data, size, rc, err);

    return 0;
}
