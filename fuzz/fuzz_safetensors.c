/*
 * ngx_infer fuzzing: infer_safetensors_parse() on arbitrary bytes.
 *
 * The input is a whole file: 8 bytes of header size, the JSON header, the
 * data section.  It is parsed from libFuzzer's buffer, a malloc() of
 * exactly its size, and then once more through infer_safetensors_open(),
 * from a memfd (mmap() of a file, the path nginx takes), which must agree.
 * On success every tensor must lie inside the data section, hold
 * nelts * dtype size bytes and share none with another; its bytes are all
 * read, so that AddressSanitizer sees one that does not.  The header is
 * read by jansson too, which must find as many tensors.  Messages must be
 * non-empty and fit their buffer, a small one too.  LeakSanitizer checks
 * that infer_safetensors_close() frees what the parser made.  The same
 * bytes are parsed once more with the header size made to end at the last
 * '}' (see fuzz_fixed_up()).
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

#include <jansson.h>

#include "infer_model.h"


#define FUZZ_SMALL_ERR  7


#define fuzz_check(cond)                                                     \
    if (!(cond)) {                                                           \
        fprintf(stderr, "fuzz_safetensors: check failed at line %d: %s\n",  \
                __LINE__, #cond);                                            \
        abort();                                                             \
    }


static int   fuzz_fd = -1;
static char  fuzz_path[64];


static size_t
fuzz_dtype_size(infer_dtype_e dt)
{
    switch (dt) {
    case INFER_DT_F32:
        return 4;
    case INFER_DT_F16:
    case INFER_DT_BF16:
        return 2;
    case INFER_DT_I32:
        return 4;
    case INFER_DT_I64:
        return 8;
    default:
        /* the parser reads these types only */
        break;
    }

    fuzz_check(0);

    return 0;
}


static void
fuzz_tensors(const infer_safetensors_t *st, const uint8_t *data, size_t size)
{
    size_t                 i, j, b, e, esize;
    int64_t                nelts;
    uint64_t               hlen;
    unsigned               sum;
    json_t                *root;
    const infer_st_tensor_t  *t, *u;

    hlen = 0;
    for (i = 8; i > 0; i--) {
        hlen = (hlen << 8) | data[i - 1];
    }

    fuzz_check(st->data == data + 8 + hlen);
    fuzz_check(st->data_len == size - 8 - hlen);
    fuzz_check(st->ntensors == 0 || st->tensors != NULL);

    sum = 0;

    for (i = 0; i < st->ntensors; i++) {
        t = &st->tensors[i];

        fuzz_check(t->name != NULL);
        fuzz_check(t->ndim >= 0 && t->ndim <= INFER_MAX_DIMS);

        nelts = 1;
        for (j = 0; j < (size_t) t->ndim; j++) {
            fuzz_check(t->shape[j] >= 0);
            nelts *= t->shape[j];
        }

        esize = fuzz_dtype_size(t->dtype);

        fuzz_check(nelts == t->nelts);
        fuzz_check((uint64_t) t->nelts * esize == t->nbytes);

        b = (size_t) ((const unsigned char *) t->data - st->data);
        e = b + t->nbytes;

        fuzz_check((const unsigned char *) t->data >= st->data);
        fuzz_check(e <= st->data_len);

        /* every byte is read: AddressSanitizer sees one out of bounds */
        for (j = 0; j < t->nbytes; j++) {
            sum += ((const unsigned char *) t->data)[j];
        }

        fuzz_check(infer_safetensors_find(st, t->name) == t);

        /* no two share a byte (the count is bounded by the input size) */
        for (j = 0; j < i; j++) {
            u = &st->tensors[j];

            if (t->nbytes && u->nbytes) {
                fuzz_check((const unsigned char *) u->data >= (const
                           unsigned char *) t->data + t->nbytes
                           || (const unsigned char *) t->data >= (const
                              unsigned char *) u->data + u->nbytes);
            }
        }
    }

    /* keeps the reads above */
    __asm__ volatile ("" : : "r" (sum));

    root = json_loadb((const char *) data + 8, (size_t) hlen,
                      JSON_REJECT_DUPLICATES, NULL);
    fuzz_check(json_is_object(root));
    fuzz_check(json_object_size(root)
               - (json_object_get(root, "__metadata__") != NULL)
               == st->ntensors);
    json_decref(root);
}


/* the same bytes as a file: infer_safetensors_open() must agree */

static void
fuzz_open(const uint8_t *data, size_t size, int rc, const char *err)
{
    int                  rc2;
    char                 err2[INFER_ERRLEN];
    size_t               n;
    infer_safetensors_t  st;

    if (fuzz_fd == -1) {
        fuzz_fd = memfd_create("fuzz_safetensors", 0);
        fuzz_check(fuzz_fd != -1);
        snprintf(fuzz_path, sizeof(fuzz_path), "/proc/self/fd/%d",
                 fuzz_fd);
    }

    fuzz_check(ftruncate(fuzz_fd, 0) == 0);
    fuzz_check(pwrite(fuzz_fd, data, size, 0) == (ssize_t) size);

    rc2 = infer_safetensors_open(&st, fuzz_path, err2, sizeof(err2));

    if (size < 8) {
        /* refused before the parser: "too short for a safetensors file" */
        fuzz_check(rc2 == -1);
        return;
    }

    fuzz_check(rc2 == rc);

    if (rc2 == 0) {
        fuzz_check(st.map != NULL && st.map_len == size);
        infer_safetensors_close(&st);
        fuzz_check(st.tensors == NULL && st.map == NULL);
        return;
    }

    /* "<path>: <the parser's message>", cut to the buffer */
    n = strlen(fuzz_path);
    fuzz_check(strncmp(err2, fuzz_path, n) == 0);
    fuzz_check(strncmp(err2 + n, ": ", 2) == 0);
    fuzz_check(strncmp(err2 + n + 2, err, sizeof(err2) - n - 3) == 0);
}


/*
 * The same bytes with the header size made to end the header at the last
 * '}': a mutation that lengthens or shortens the JSON then still makes a
 * header of it, and the fuzzer reaches the tensors far more often.
 */

static void
fuzz_fixed_up(const uint8_t *data, size_t size)
{
    int                  rc, i;
    char                 err[INFER_ERRLEN];
    size_t               n;
    uint8_t             *buf;
    const uint8_t       *brace;
    infer_safetensors_t  st;

    if (size < 10) {
        return;
    }

    brace = memrchr(data + 8, '}', size - 8);
    if (brace == NULL) {
        return;
    }

    n = (size_t) (brace + 1 - (data + 8));

    buf = malloc(size);
    fuzz_check(buf != NULL);
    memcpy(buf, data, size);

    for (i = 0; i < 8; i++) {
        buf[i] = (uint8_t) (n >> (8 * i));
    }

    memset(&st, 0, sizeof(st));

    rc = infer_safetensors_parse(&st, buf, size, err, sizeof(err));

    if (rc == 0) {
        fuzz_tensors(&st, buf, size);

    } else {
        fuzz_check(strnlen(err, sizeof(err)) > 0);
    }

    infer_safetensors_close(&st);
    free(buf);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                  rc, rc2;
    char                 err[INFER_ERRLEN], *small;
    size_t               n;
    infer_safetensors_t  st;

    memset(&st, 0, sizeof(st));
    memset(err, 'x', sizeof(err));

    rc = infer_safetensors_parse(&st, data, size, err, sizeof(err));

    if (rc == 0) {
        fuzz_tensors(&st, data, size);
        infer_safetensors_close(&st);
        fuzz_check(st.tensors == NULL && st.ntensors == 0);

    } else {
        fuzz_check(rc == -1);
        fuzz_check(st.tensors == NULL && st.ntensors == 0);

        n = strnlen(err, sizeof(err));
        fuzz_check(n > 0 && n < sizeof(err));
    }

    /* a buffer too small for any message, of exactly its size */
    small = malloc(FUZZ_SMALL_ERR);
    fuzz_check(small != NULL);

    memset(&st, 0, sizeof(st));
    rc2 = infer_safetensors_parse(&st, data, size, small, FUZZ_SMALL_ERR);
    fuzz_check(rc2 == rc);

    if (rc2 != 0) {
        fuzz_check(strnlen(small, FUZZ_SMALL_ERR) < FUZZ_SMALL_ERR);
        fuzz_check(strncmp(small, err, FUZZ_SMALL_ERR - 1) == 0);
    }

    infer_safetensors_close(&st);
    free(small);

    /* and none at all */
    memset(&st, 0, sizeof(st));
    rc2 = infer_safetensors_parse(&st, data, size, NULL, 0);
    fuzz_check(rc2 == rc);
    infer_safetensors_close(&st);

    fuzz_open(data, size, rc, err);

    fuzz_fixed_up(data, size);

    return 0;
}
