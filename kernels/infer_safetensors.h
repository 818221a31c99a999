/*
 * ngx_infer: the safetensors format, read-only.
 *
 * A file is mapped read-only and shared (every worker shares the page
 * cache); its header is parsed with jansson into a table of tensors that
 * point into the mapping.  F32, F16, BF16, I32 and I64 tensors are read
 * (integer ones, such as a BERT checkpoint's embeddings.position_ids, so
 * that a file holding them loads; an architecture refuses a tensor it
 * computes with in a type it cannot use); see infer_safetensors.c for
 * what is accepted.
 */

#ifndef _INFER_SAFETENSORS_H_INCLUDED_
#define _INFER_SAFETENSORS_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "infer_dtype.h"


#define INFER_MAX_DIMS  8


typedef struct {
    char                 *name;
    infer_dtype_e         dtype;
    int                   ndim;
    int64_t               shape[INFER_MAX_DIMS];
    int64_t               nelts;
    const void           *data;        /* inside the mapping */
    size_t                nbytes;
} infer_st_tensor_t;


typedef struct {
    void                 *map;         /* whole file, PROT_READ, MAP_SHARED */
    size_t                map_len;
    const unsigned char  *data;        /* start of the data section */
    size_t                data_len;
    infer_st_tensor_t    *tensors;
    size_t                ntensors;
} infer_safetensors_t;


/*
 * Parses a safetensors header held in memory (buf, len is the whole file or
 * at least 8 + header size bytes, data_len the size of the data section that
 * follows it); fills st->tensors, pointing into buf.  Used by
 * infer_safetensors_open() and directly by the fuzzer.
 * Returns 0, or -1 with err set.
 */
int infer_safetensors_parse(infer_safetensors_t *st, const unsigned char *buf,
    size_t len, char *err, size_t errlen);
int infer_safetensors_open(infer_safetensors_t *st, const char *path,
    char *err, size_t errlen);
const infer_st_tensor_t *infer_safetensors_find(const infer_safetensors_t *st,
    const char *name);
void infer_safetensors_close(infer_safetensors_t *st);


#endif /* _INFER_SAFETENSORS_H_INCLUDED_ */
