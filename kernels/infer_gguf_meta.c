/*
 * ngx_infer: a GGUF file's metadata and tensors, found by name and read
 * where they lie in the mapping (infer_gguf.h); infer_gguf.c parses and
 * checks the file.
 */

#include <string.h>

#include "infer_gguf.h"
#include "infer_util.h"


static const char  *infer_gguf_type_names[INFER_GGUF_TYPE_COUNT] = {
    "uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "bool",
    "string", "array", "uint64", "int64", "float64"
};


/* ggml's types, as gguf-py's GGMLQuantizationType numbers them; the
 * holes are types ggml removed */
static const char  *infer_gguf_ggml_names[] = {
    "F32", "F16", "Q4_0", "Q4_1", NULL, NULL, "Q5_0", "Q5_1", "Q8_0",
    "Q8_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K", "IQ2_XXS",
    "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S", "IQ2_S", "IQ4_XS",
    "I8", "I16", "I32", "I64", "F64", "IQ1_M", "BF16", NULL, NULL, NULL,
    "TQ1_0", "TQ2_0", NULL, NULL, NULL, "MXFP4", "NVFP4", "Q1_0",
};


static int infer_gguf_int(const infer_gguf_t *g, const char *key,
    int64_t lo, uint64_t hi, const char *target, uint64_t *v, char *err,
    size_t errlen);
static const infer_gguf_kv_t *infer_gguf_typed(const infer_gguf_t *g,
    const char *key, infer_gguf_type_e type, int *rc, char *err,
    size_t errlen);
static const char *infer_gguf_where(const infer_gguf_t *g);


const infer_gguf_kv_t *
infer_gguf_find_kv(const infer_gguf_t *g, const char *key)
{
    int                     rc;
    size_t                  lo, hi, mid, n;
    const infer_gguf_kv_t  *kv;

    n = strlen(key);
    lo = 0;
    hi = g->n_kvs;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        kv = g->kv_sorted[mid];

        rc = memcmp(kv->key, key, kv->key_len < n ? kv->key_len : n);
        if (rc == 0) {
            rc = (kv->key_len > n) - (kv->key_len < n);
        }

        if (rc == 0) {
            return kv;
        }

        if (rc < 0) {
            lo = mid + 1;

        } else {
            hi = mid;
        }
    }

    return NULL;
}


const infer_gguf_tensor_t *
infer_gguf_find_tensor(const infer_gguf_t *g, const char *name)
{
    int                         rc;
    size_t                      lo, hi, mid;
    const infer_gguf_tensor_t  *t;

    lo = 0;
    hi = g->n_tensors;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        t = g->tensor_sorted[mid];

        rc = strcmp(t->name, name);
        if (rc == 0) {
            return t;
        }

        if (rc < 0) {
            lo = mid + 1;

        } else {
            hi = mid;
        }
    }

    return NULL;
}


int
infer_gguf_get_u32(const infer_gguf_t *g, const char *key, uint32_t *v,
    char *err, size_t errlen)
{
    int       rc;
    uint64_t  x;

    rc = infer_gguf_int(g, key, 0, UINT32_MAX, "uint32", &x, err, errlen);
    if (rc == 0) {
        *v = (uint32_t) x;
    }

    return rc;
}


int
infer_gguf_get_i32(const infer_gguf_t *g, const char *key, int32_t *v,
    char *err, size_t errlen)
{
    int       rc;
    uint64_t  x;

    rc = infer_gguf_int(g, key, INT32_MIN, INT32_MAX, "int32", &x, err,
                        errlen);
    if (rc == 0) {
        *v = (int32_t) (int64_t) x;
    }

    return rc;
}


int
infer_gguf_get_u64(const infer_gguf_t *g, const char *key, uint64_t *v,
    char *err, size_t errlen)
{
    return infer_gguf_int(g, key, 0, UINT64_MAX, "uint64", v, err, errlen);
}


int
infer_gguf_get_f32(const infer_gguf_t *g, const char *key, float *v,
    char *err, size_t errlen)
{
    const infer_gguf_kv_t  *kv;

    kv = infer_gguf_find_kv(g, key);
    if (kv == NULL) {
        return INFER_GGUF_ABSENT;
    }

    if (kv->type != INFER_GGUF_FLOAT32 && kv->type != INFER_GGUF_FLOAT64) {
        return infer_error(err, errlen, "%s: key \"%s\" is of type %s, not a "
                           "float", infer_gguf_where(g),
                           key,
                           infer_gguf_type_name(kv->type));
    }

    *v = (float) infer_gguf_kv_f64(kv, 0);

    return 0;
}


int
infer_gguf_get_bool(const infer_gguf_t *g, const char *key, int *v,
    char *err, size_t errlen)
{
    int                     rc;
    const infer_gguf_kv_t  *kv;

    kv = infer_gguf_typed(g, key, INFER_GGUF_BOOL, &rc, err, errlen);
    if (kv != NULL) {
        *v = kv->data[0] != 0;
    }

    return rc;
}


int
infer_gguf_get_str(const infer_gguf_t *g, const char *key, const char **s,
    size_t *len, char *err, size_t errlen)
{
    int                     rc;
    const infer_gguf_kv_t  *kv;

    kv = infer_gguf_typed(g, key, INFER_GGUF_STRING, &rc, err, errlen);
    if (kv != NULL) {
        *s = infer_gguf_kv_str(kv, 0, len);
    }

    return rc;
}


int
infer_gguf_get_arr(const infer_gguf_t *g, const char *key,
    infer_gguf_type_e elem, const infer_gguf_kv_t **kv, char *err,
    size_t errlen)
{
    const infer_gguf_kv_t  *p;

    p = infer_gguf_find_kv(g, key);
    if (p == NULL) {
        return INFER_GGUF_ABSENT;
    }

    if (p->type != INFER_GGUF_ARRAY) {
        return infer_error(err, errlen, "%s: key \"%s\" is of type %s, not "
                           "an array", infer_gguf_where(g), key,
                           infer_gguf_type_name(p->type));
    }

    if (elem != INFER_GGUF_TYPE_COUNT && p->elem_type != elem) {
        return infer_error(err, errlen, "%s: key \"%s\" is an array of %s, "
                           "not of %s", infer_gguf_where(g), key,
                           infer_gguf_type_name(p->elem_type),
                           infer_gguf_type_name(elem));
    }

    *kv = p;

    return 0;
}


/* a scalar of any integer type, within [lo, hi] */
static int
infer_gguf_int(const infer_gguf_t *g, const char *key, int64_t lo,
    uint64_t hi, const char *target, uint64_t *v, char *err, size_t errlen)
{
    int64_t                 s;
    uint64_t                u;
    const infer_gguf_kv_t  *kv;

    kv = infer_gguf_find_kv(g, key);
    if (kv == NULL) {
        return INFER_GGUF_ABSENT;
    }

    switch (kv->type) {

    case INFER_GGUF_UINT8:
    case INFER_GGUF_UINT16:
    case INFER_GGUF_UINT32:
    case INFER_GGUF_UINT64:
        u = infer_gguf_kv_u64(kv, 0);

        if (u > hi) {
            return infer_error(err, errlen, "%s: key \"%s\" is %llu, out of "
                               "the range of %s", infer_gguf_where(g), key,
                               (unsigned long long) u, target);
        }

        *v = u;
        return 0;

    case INFER_GGUF_INT8:
    case INFER_GGUF_INT16:
    case INFER_GGUF_INT32:
    case INFER_GGUF_INT64:
        s = infer_gguf_kv_i64(kv, 0);

        if (s < lo || (s > 0 && (uint64_t) s > hi)) {
            return infer_error(err, errlen, "%s: key \"%s\" is %lld, out of "
                               "the range of %s", infer_gguf_where(g), key,
                               (long long) s, target);
        }

        *v = (uint64_t) s;
        return 0;

    default:
        return infer_error(err, errlen, "%s: key \"%s\" is of type %s, not "
                           "an integer", infer_gguf_where(g), key,
                           infer_gguf_type_name(kv->type));
    }
}


/* a scalar of exactly that type: the entry, or NULL with *rc set */
static const infer_gguf_kv_t *
infer_gguf_typed(const infer_gguf_t *g, const char *key,
    infer_gguf_type_e type, int *rc, char *err, size_t errlen)
{
    const infer_gguf_kv_t  *kv;

    kv = infer_gguf_find_kv(g, key);
    if (kv == NULL) {
        *rc = INFER_GGUF_ABSENT;
        return NULL;
    }

    if (kv->type != type) {
        *rc = infer_error(err, errlen, "%s: key \"%s\" is of type %s, not "
                          "%s", infer_gguf_where(g),
                          key,
                          infer_gguf_type_name(kv->type),
                          infer_gguf_type_name(type));
        return NULL;
    }

    *rc = 0;
    return kv;
}


int64_t
infer_gguf_kv_i64(const infer_gguf_kv_t *kv, uint64_t i)
{
    const unsigned char  *p;

    p = kv->data;

    switch (kv->elem_type) {
    case INFER_GGUF_UINT8:
        return p[i];
    case INFER_GGUF_INT8:
        return (int8_t) p[i];
    case INFER_GGUF_BOOL:
        return p[i] != 0;
    case INFER_GGUF_UINT16:
        return infer_gguf_le16(p + 2 * i);
    case INFER_GGUF_INT16:
        return (int16_t) infer_gguf_le16(p + 2 * i);
    case INFER_GGUF_UINT32:
        return infer_gguf_le32(p + 4 * i);
    case INFER_GGUF_INT32:
        return (int32_t) infer_gguf_le32(p + 4 * i);
    case INFER_GGUF_UINT64:
    case INFER_GGUF_INT64:
        return (int64_t) infer_gguf_le64(p + 8 * i);
    default:
        return 0;
    }
}


uint64_t
infer_gguf_kv_u64(const infer_gguf_kv_t *kv, uint64_t i)
{
    if (kv->elem_type == INFER_GGUF_UINT64) {
        return infer_gguf_le64(kv->data + 8 * i);
    }

    return (uint64_t) infer_gguf_kv_i64(kv, i);
}


double
infer_gguf_kv_f64(const infer_gguf_kv_t *kv, uint64_t i)
{
    float     f;
    double    d;
    uint32_t  u32;
    uint64_t  u64;

    if (kv->elem_type == INFER_GGUF_FLOAT32) {
        u32 = infer_gguf_le32(kv->data + 4 * i);
        memcpy(&f, &u32, sizeof(float));
        return f;
    }

    if (kv->elem_type == INFER_GGUF_FLOAT64) {
        u64 = infer_gguf_le64(kv->data + 8 * i);
        memcpy(&d, &u64, sizeof(double));
        return d;
    }

    return 0;
}


const char *
infer_gguf_kv_str(const infer_gguf_kv_t *kv, uint64_t i, size_t *len)
{
    const unsigned char  *p;

    if (kv->elem_type != INFER_GGUF_STRING) {
        *len = 0;
        return NULL;
    }

    p = kv->data + (kv->str_offs != NULL ? kv->str_offs[i] : 0);
    *len = (size_t) infer_gguf_le64(p);

    return (const char *) p + 8;
}


const char *
infer_gguf_type_name(infer_gguf_type_e type)
{
    if ((unsigned) type >= INFER_GGUF_TYPE_COUNT) {
        return "unknown";
    }

    return infer_gguf_type_names[type];
}


const char *
infer_gguf_ggml_type_name(uint32_t ggml_type)
{
    if (ggml_type >= sizeof(infer_gguf_ggml_names) / sizeof(char *)) {
        return NULL;
    }

    return infer_gguf_ggml_names[ggml_type];
}



static const char *
infer_gguf_where(const infer_gguf_t *g)
{
    return g->path != NULL ? g->path : "GGUF";
}
