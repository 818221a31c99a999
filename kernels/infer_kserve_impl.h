/*
 * ngx_infer: what the KServe decoders share between their files, the JSON
 * walk (infer_kserve_json.c), the values of "data" (infer_kserve_data.c)
 * and the binary tensor data extension (infer_kserve_binary.c); not an API.
 */

#ifndef _INFER_KSERVE_IMPL_H_INCLUDED_
#define _INFER_KSERVE_IMPL_H_INCLUDED_


#include "infer_json.h"
#include "infer_kserve.h"


/* room for a shape in a message, "[1, 784]" */
#define INFER_KS_DIMS_LEN     (INFER_KSERVE_MAX_DIMS * 22 + 2)


typedef struct {
    infer_json_parser_t      js;
    infer_ks_request_t      *req;
    size_t                   scratch;      /* bytes of req->scratch used */

    int                      binary;       /* the binary data extension */
    const unsigned char     *bin;          /* the bytes after the JSON */
    size_t                   bin_len;

    int                      bytes;        /* an input takes BYTES */
} infer_ks_parser_t;


/*
 * Decodes the json_len bytes of JSON at body, the whole of a request or,
 * binary set, what precedes the len - json_len bytes of binary data.
 */
int infer_ks_decode(infer_ks_request_t *req, const char *body,
    size_t json_len, size_t len, int binary);

/*
 * The values of an input's "data" at js->p, flattened, into in->dst as
 * FP32, checked against dt, or, in->strs set (dt is then BYTES), its
 * strings into in->strs; counted into in->count.  The shape (ndim -1: not
 * read yet) serves only when they overflow the room: for check_shape, then
 * the message.  in NULL: a check of the syntax only, nothing written.
 */
int infer_ks_data(infer_json_parser_t *js, int i, infer_ks_input_t *in,
    infer_ks_datatype_e dt, const int64_t *shape, int ndim);

/* the product of the dimensions, UINT64_MAX if it does not fit */
uint64_t infer_ks_total(const int64_t *shape, int ndim);

/*
 * The parameters of an input, binary_data_size into *size (left -1 when
 * absent), and of an output, binary_data; other parameters are skipped.
 */
int infer_ks_input_parameters(infer_ks_parser_t *ps, int i, int64_t *size);
int infer_ks_output_parameters(infer_ks_parser_t *ps, int i);

/*
 * At the end of an input's object with parameters.binary_data_size: its
 * size against its shape and datatype, its values against cap.
 */
int infer_ks_input_binary(infer_ks_parser_t *ps, int i, infer_ks_input_t *in,
    int64_t size, uint64_t total);

/* the bytes after the JSON, once the JSON is read and found valid */
int infer_ks_binary(infer_ks_parser_t *ps);


#endif /* _INFER_KSERVE_IMPL_H_INCLUDED_ */
