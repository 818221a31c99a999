/*
 * ngx_infer: the KServe v2 JSON codec, independent of nginx.
 *
 * The request decoder is built for the one thing that matters on the
 * request path: the numbers in "data".  It walks the body once and writes
 * the tensor values, converted to FP32, straight into the caller's buffer
 * (a slot of the shared-memory queue), without building a document.
 * Malformed JSON is rare and is then re-parsed with jansson only to report
 * jansson's line, column and text.
 *
 * The binary tensor data extension (Triton's) is decoded too: a body of
 * JSON followed by the raw tensors, each converted to FP32 in the same way.
 *
 * An input the caller declares as text (strs set) takes BYTES instead: its
 * elements are strings, handed back as spans of the body where they need
 * no unescaping and of the input's own text buffer where they do, so that
 * the caller (a tokenizer) reads them with no copy in between.
 *
 * The JSON machinery is infer_json.h's; the request decoder is in
 * infer_kserve_json.c (the objects) and infer_kserve_data.c (the values of
 * "data"), the binary extension in infer_kserve_binary.c, what writes
 * answers in infer_kserve_encode.c.
 */

#ifndef _INFER_KSERVE_H_INCLUDED_
#define _INFER_KSERVE_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "infer_json.h"


#define INFER_KSERVE_MAX_INPUTS    8
#define INFER_KSERVE_MAX_OUTPUTS   8
#define INFER_KSERVE_MAX_DIMS      8
#define INFER_KSERVE_ERRLEN        256


typedef enum {
    INFER_KS_BOOL = 0,
    INFER_KS_UINT8,
    INFER_KS_UINT16,
    INFER_KS_UINT32,
    INFER_KS_UINT64,
    INFER_KS_INT8,
    INFER_KS_INT16,
    INFER_KS_INT32,
    INFER_KS_INT64,
    INFER_KS_FP16,
    INFER_KS_FP32,
    INFER_KS_FP64,
    INFER_KS_BYTES,
    INFER_KS_BF16,                         /* binary data only */
    INFER_KS_UNKNOWN
} infer_ks_datatype_e;


/* a span of the request body */
typedef infer_json_str_t  infer_ks_str_t;


/* one input the model expects; filled in by the caller before decoding */
typedef struct {
    const char              *name;
    float                   *dst;          /* FP32 values go here */
    size_t                   cap;          /* room in dst, in values */

    /*
     * Optional: checks the shape against what the model takes, returns 0
     * or -1 with a message in err.  It is called once the input's object
     * is read, before the data are counted against the shape, and when
     * the data overflow cap, so that a wrong shape is reported as such.
     */
    int                    (*check_shape)(void *data, const int64_t *shape,
                                          int ndim, char *err, size_t len);
    void                    *check_data;

    /*
     * BYTES inputs: set by the caller (strs != NULL says this input takes
     * BYTES, and then dst and cap are not used)
     */
    infer_ks_str_t          *strs;         /* one span per element */
    size_t                   strs_cap;     /* room in strs, in elements */
    char                    *text;         /* JSON strings with escapes are
                                              unescaped here */
    size_t                   text_cap;     /* the body's length always
                                              suffices */

    /* results */
    int                      found;
    infer_ks_datatype_e      datatype;
    int                      ndim;
    int64_t                  shape[INFER_KSERVE_MAX_DIMS];
    size_t                   count;        /* values written to dst, or
                                              elements to strs */
    int                      index;        /* its place in "inputs" */
    int64_t                  binary_size;  /* parameters.binary_data_size;
                                              -1: the values came in
                                              "data" */
} infer_ks_input_t;


typedef struct {
    /* set by the caller */
    infer_ks_input_t        *inputs;
    int                      ninputs;

    /* results */
    infer_ks_str_t           id;           /* raw JSON string token with
                                              its quotes; len 0: no id */
    int                      noutputs;     /* 0: all outputs */
    infer_ks_str_t           outputs[INFER_KSERVE_MAX_OUTPUTS];
                                           /* names, unescaped if needed */
    double                   timeout_ms;   /* parameters.timeout, 0: none */
    int                      binary_output;
                                           /* parameters.binary_data_output:
                                              outputs go in binary unless
                                              they say otherwise */
    signed char              output_binary[INFER_KSERVE_MAX_OUTPUTS];
                                           /* outputs[i].parameters.
                                              binary_data: 1 true, 0 false,
                                              -1 not given */

    char                     err[INFER_KSERVE_ERRLEN];
    char                     scratch[256]; /* unescaped names live here */
} infer_ks_request_t;


/*
 * Decodes a KServe v2 inference request.  Returns 0, or -1 with req->err
 * set to a message for the client ("inputs[0].shape: expected an array of
 * integers", "malformed JSON at line 1, column 17: ...").
 *
 * Checks done here: the JSON is well formed; "inputs" is a non-empty array
 * of objects with "name", "shape", "datatype", "data"; each input's name is
 * one the caller expects (else the message names the expected ones); shape
 * is an array of non-negative integers; datatype is a KServe name; FP16,
 * BF16 and BYTES cannot come as JSON numbers; "data" holds numbers (flat or
 * nested arrays, true/false for BOOL), integers only for the INT and UINT
 * types and within their range, finite and within FP32 range for FP32; the
 * number of values equals the product of the shape and fits in cap.  Checks
 * left to the caller: the shape against the model (feature dims, batch
 * size).
 *
 * An input with strs set takes BYTES and nothing else ("inputs[0].datatype:
 * expected BYTES, not FP32"), and one without it refuses BYTES as before.
 * Its "data" holds strings, flat or nested as numbers are, as many as the
 * shape's product and at most strs_cap; each goes to strs[k] (count of
 * them), pointing into the body, or into text once unescaped ("\n",
 * "\u00e9", surrogate pairs; text_cap too small is an error).  The JSON
 * walk has checked that they are valid UTF-8; they may be empty, and may
 * hold NUL ("\u0000"): what a model makes of them is the caller's.
 *
 * An input with parameters.binary_data_size is an error here: its data
 * would follow the JSON (infer_ks_decode_binary() takes those bodies).
 * The outputs may still be asked for in binary (binary_data_output,
 * binary_data): see infer_ks_output_binary().
 */
int infer_ks_decode_request(infer_ks_request_t *req, const char *body,
    size_t len);

/*
 * Decodes a request with the binary tensor data extension: json_len bytes
 * of JSON (the Inference-Header-Content-Length), then the raw tensors, len
 * bytes in all.  Each input has either "data" in the JSON or
 * "parameters": {"binary_data_size": n}, and then its n bytes follow the
 * JSON, in the order of "inputs", without padding: little-endian,
 * row-major, BOOL one byte of 0 or 1.  Its values end in dst as FP32, as
 * with infer_ks_decode_request(), with the same checks, and:
 * binary_data_size is the size that shape and datatype give; the sizes add
 * up to the bytes after the JSON; FP16 and BF16 (binary only) are
 * converted exactly; FP32, FP16, BF16 and FP64 hold no NaN or Infinity
 * (neither the models nor the JSON answers take them), FP64 nothing beyond
 * FP32 range.  The data need no alignment.
 *
 * BYTES (an input with strs set): each element is a 4-byte little-endian
 * length, then that many bytes, which must be valid UTF-8 (they may be
 * empty); the elements are as many as the shape's product, and their
 * lengths and bytes take exactly binary_data_size.  strs[k] points into
 * the body; text is not used.  Without strs, BYTES is refused.
 *
 * Messages name the field: "inputs[0].parameters.binary_data_size: 3132
 * bytes, but shape [1, 784] of FP32 needs 3136", "the binary data after
 * the JSON is 3000 bytes, the inputs' binary_data_size add up to 3136",
 * "inputs[0]: binary data holds NaN or Infinity at [3]", "inputs[0]:
 * element 3 is not valid UTF-8".  Malformed JSON in the first json_len
 * bytes wins, as with infer_ks_decode_request(); the binary data are read
 * only once the JSON is found valid.
 *
 * json_len 0 is an error: in Triton's protocol it means a raw tensor body
 * with no JSON at all, which the caller handles, or not, before this.
 */
int infer_ks_decode_binary(infer_ks_request_t *req, const char *body,
    size_t json_len, size_t len);

/*
 * Whether the output named name (len bytes) is to be sent in binary: its
 * "binary_data" if the request listed it with one, else the request's
 * "binary_data_output".  name NULL: the request's default.
 */
int infer_ks_output_binary(const infer_ks_request_t *req, const char *name,
    size_t len);

/*
 * Triton's model repository index request, {"ready": true|false} (false
 * when the body is empty or says nothing): 0 with *ready, or -1 with the
 * message in err (INFER_KSERVE_ERRLEN bytes), as for the requests above.
 */
int infer_ks_decode_index(const char *body, size_t len, int *ready,
    char *err);

/* bytes per element of binary data, 0 for BYTES and UNKNOWN */
size_t infer_ks_datatype_size(infer_ks_datatype_e dt);

infer_ks_datatype_e infer_ks_datatype(const char *name, size_t len);
const char *infer_ks_datatype_name(infer_ks_datatype_e dt);


/*
 * The JSON writers under their KServe names, for the answers: see
 * infer_json_write_float() (shortest decimal, 16 bytes of room) and
 * infer_json_write_string() (6 * len + 2 bytes of room).
 */
static inline size_t
infer_ks_write_float(char *dst, float v)
{
    return infer_json_write_float(dst, v);
}


static inline size_t
infer_ks_write_string(char *dst, const char *s, size_t len)
{
    return infer_json_write_string(dst, s, len);
}

/*
 * Writes the JSON header of a binary answer for one FP32 output of shape
 * [rows, cols]: model_name, model_version "1", id (the raw token with its
 * quotes, as infer_ks_request_t has it; NULL or id_len 0: none), and the
 * output with "parameters": {"binary_data_size": rows * cols * 4} and no
 * "data".  The rows * cols FP32 values follow it in the body, little-
 * endian; its length is the Inference-Header-Content-Length.  dst needs
 * room for 256 + 6 * (model_len + strlen(output_name)) + id_len bytes.
 * Returns the length written.
 */
size_t infer_ks_write_binary_header(char *dst, const char *model_name,
    size_t model_len, const char *id, size_t id_len, const char *output_name,
    size_t rows, size_t cols);


#endif /* _INFER_KSERVE_H_INCLUDED_ */
