/*
 * ngx_infer: the GGUF format (llama.cpp's), read-only.
 *
 * A file is mapped read-only and shared (every worker shares the page
 * cache).  Opening it checks the whole header, the key-values and the
 * tensor infos against what a hostile file can do, and builds small
 * indexes: the entries, a sorted index of keys and one of tensor names,
 * and for each array of strings the offsets of its elements.  Nothing is
 * copied out of the mapping but the tensor names: values, strings and
 * arrays (tokenizer.ggml.tokens with its 49k strings) are read where they
 * lie.  See infer_gguf.c for what is accepted.
 */

#ifndef _INFER_GGUF_H_INCLUDED_
#define _INFER_GGUF_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "infer_dtype.h"


#define INFER_GGUF_MAX_DIMS    4       /* GGML_MAX_DIMS */
#define INFER_GGUF_MAX_NAME    64      /* GGML_MAX_NAME, with the NUL */
#define INFER_GGUF_ALIGNMENT   32      /* without general.alignment */

/* what the getters return when the key is not there (nothing is set) */
#define INFER_GGUF_ABSENT      1


/* the value types, numbered as in the file */
typedef enum {
    INFER_GGUF_UINT8 = 0,
    INFER_GGUF_INT8,
    INFER_GGUF_UINT16,
    INFER_GGUF_INT16,
    INFER_GGUF_UINT32,
    INFER_GGUF_INT32,
    INFER_GGUF_FLOAT32,
    INFER_GGUF_BOOL,
    INFER_GGUF_STRING,
    INFER_GGUF_ARRAY,
    INFER_GGUF_UINT64,
    INFER_GGUF_INT64,
    INFER_GGUF_FLOAT64,
    INFER_GGUF_TYPE_COUNT
} infer_gguf_type_e;


/*
 * A key-value.  A scalar is read as an array of one element: count 1,
 * elem_type its type.  The bytes are little-endian and may be unaligned:
 * read them with the infer_gguf_kv_*() accessors.
 */
typedef struct {
    const char           *key;         /* in the mapping, key_len bytes,
                                          not NUL-terminated */
    size_t                key_len;
    infer_gguf_type_e     type;        /* INFER_GGUF_ARRAY for an array */
    infer_gguf_type_e     elem_type;   /* an array's elements; = type */
    uint64_t              count;       /* elements; 1 for a scalar */
    const unsigned char  *data;        /* the first element: for strings
                                          its 8-byte length */
    size_t                size;        /* bytes of all the elements */
    const uint64_t       *str_offs;    /* arrays of strings: where each
                                          element's length lies, from
                                          data; NULL for the others */
} infer_gguf_kv_t;


typedef struct {
    char                  name[INFER_GGUF_MAX_NAME];
    int                   n_dims;
    int64_t               ne[INFER_GGUF_MAX_DIMS];  /* ggml's order: ne[0]
                                                       is the row length;
                                                       1 past n_dims */
    int64_t               nelts;
    uint32_t              ggml_type;   /* as in the file */
    infer_dtype_e         dtype;
    uint64_t              offset;      /* from the data section */
    size_t                nbytes;
    const void           *data;        /* inside the mapping */
} infer_gguf_tensor_t;


typedef struct {
    char                 *path;        /* infer_gguf_open()'s, or NULL */
    void                 *map;         /* whole file, PROT_READ, MAP_SHARED */
    size_t                map_len;
    uint32_t              version;     /* 2 or 3 */
    uint32_t              alignment;
    const unsigned char  *data;        /* the data section, aligned */
    size_t                data_len;
    infer_gguf_kv_t      *kvs;         /* in the file's order */
    size_t                n_kvs;
    infer_gguf_tensor_t  *tensors;     /* in the file's order */
    size_t                n_tensors;
    const infer_gguf_kv_t      **kv_sorted;      /* by key */
    const infer_gguf_tensor_t  **tensor_sorted;  /* by name */
} infer_gguf_t;


/*
 * Parses a whole GGUF file held in memory (buf, len); fills g, pointing
 * into buf, which must outlive it.  Messages name the problem, not a
 * file.  Used by infer_gguf_open() and directly by the fuzzer.
 * Returns 0, or -1 with err set.
 */
int infer_gguf_parse(infer_gguf_t *g, const unsigned char *buf, size_t len,
    char *err, size_t errlen);

/* errors are "<path>: <problem>" */
int infer_gguf_open(infer_gguf_t *g, const char *path, char *err,
    size_t errlen);

/* safe on a zeroed, a failed or an already closed g */
void infer_gguf_close(infer_gguf_t *g);


/* metadata: the entry of a key, or NULL */
const infer_gguf_kv_t *infer_gguf_find_kv(const infer_gguf_t *g,
    const char *key);

/*
 * Typed getters by key.  They return 0 with *v set, INFER_GGUF_ABSENT
 * (1) when the key is not there (*v left as it was: preset a default),
 * or -1 with err set ("<path>: key \"k\" ...") when its value is not of
 * that kind.  The integer getters take any integer type whose value fits
 * (a uint8 for a uint32, an int64 of 5 for a uint32); f32 takes float32
 * and float64; bool and string take their own type only.  A string is a
 * pointer into the mapping and its length, not NUL-terminated.
 */
int infer_gguf_get_u32(const infer_gguf_t *g, const char *key, uint32_t *v,
    char *err, size_t errlen);
int infer_gguf_get_i32(const infer_gguf_t *g, const char *key, int32_t *v,
    char *err, size_t errlen);
int infer_gguf_get_u64(const infer_gguf_t *g, const char *key, uint64_t *v,
    char *err, size_t errlen);
int infer_gguf_get_f32(const infer_gguf_t *g, const char *key, float *v,
    char *err, size_t errlen);
int infer_gguf_get_bool(const infer_gguf_t *g, const char *key, int *v,
    char *err, size_t errlen);
int infer_gguf_get_str(const infer_gguf_t *g, const char *key,
    const char **s, size_t *len, char *err, size_t errlen);

/*
 * An array by key, of elements of type elem (INFER_GGUF_TYPE_COUNT: of
 * any type): 0 with *kv set, INFER_GGUF_ABSENT, or -1 with err set.
 */
int infer_gguf_get_arr(const infer_gguf_t *g, const char *key,
    infer_gguf_type_e elem, const infer_gguf_kv_t **kv, char *err,
    size_t errlen);

/*
 * Element i (< kv->count) of an entry, array or scalar, in O(1).
 * _i64 and _u64 read any integer type and bool (signed ones sign-
 * extended, a uint64 past INT64_MAX wraps in _i64); _f64 reads float32
 * and float64; _str a string (its length in *len).  Reading an element
 * as what it is not returns 0 (NULL for a string).
 */
int64_t infer_gguf_kv_i64(const infer_gguf_kv_t *kv, uint64_t i);
uint64_t infer_gguf_kv_u64(const infer_gguf_kv_t *kv, uint64_t i);
double infer_gguf_kv_f64(const infer_gguf_kv_t *kv, uint64_t i);
const char *infer_gguf_kv_str(const infer_gguf_kv_t *kv, uint64_t i,
    size_t *len);


/* tensors: g->tensors[0 .. n_tensors) in the file's order, or by name */
const infer_gguf_tensor_t *infer_gguf_find_tensor(const infer_gguf_t *g,
    const char *name);


/* little-endian reads of the mapping's bytes, aligned or not */

static inline uint16_t
infer_gguf_le16(const unsigned char *p)
{
    return (uint16_t) (p[0] | (p[1] << 8));
}


static inline uint32_t
infer_gguf_le32(const unsigned char *p)
{
    return (uint32_t) p[0] | ((uint32_t) p[1] << 8)
           | ((uint32_t) p[2] << 16) | ((uint32_t) p[3] << 24);
}


static inline uint64_t
infer_gguf_le64(const unsigned char *p)
{
    return (uint64_t) infer_gguf_le32(p)
           | ((uint64_t) infer_gguf_le32(p + 4) << 32);
}


/* "uint32", "string", ... ; ggml's names: "Q4_1", "IQ2_XXS", or NULL */
const char *infer_gguf_type_name(infer_gguf_type_e type);
const char *infer_gguf_ggml_type_name(uint32_t ggml_type);


#endif /* _INFER_GGUF_H_INCLUDED_ */
