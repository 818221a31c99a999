/*
 * ngx_infer: the KServe v2 JSON codec, independent of nginx.
 *
 * The request decoder is built for the one thing that matters on the
 * request path: the numbers in "data".  It walks the body once and writes
 * the tensor values, converted to FP32, straight into the caller's buffer
 * (a slot of the shared-memory queue), without building a document.
 * Malformed JSON is rare and is then re-parsed with jansson only to report
 * jansson's line, column and text.
 */

#ifndef _INFER_KSERVE_H_INCLUDED_
#define _INFER_KSERVE_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


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
    INFER_KS_UNKNOWN
} infer_ks_datatype_e;


/* a span of the request body */
typedef struct {
    const char              *p;
    size_t                   len;
} infer_ks_str_t;


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

    /* results */
    int                      found;
    infer_ks_datatype_e      datatype;
    int                      ndim;
    int64_t                  shape[INFER_KSERVE_MAX_DIMS];
    size_t                   count;        /* values written to dst */
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
 * is an array of non-negative integers; datatype is a KServe name; FP16 and
 * BYTES cannot come as JSON numbers; "data" holds numbers (flat or nested
 * arrays, true/false for BOOL), integers only for the INT and UINT types
 * and within their range, finite and within FP32 range for FP32; the number
 * of values equals the product of the shape and fits in cap.  Checks left to
 * the caller: the shape against the model (feature dims, batch size).
 */
int infer_ks_decode_request(infer_ks_request_t *req, const char *body,
    size_t len);

infer_ks_datatype_e infer_ks_datatype(const char *name, size_t len);
const char *infer_ks_datatype_name(infer_ks_datatype_e dt);


/*
 * Writes a float as the shortest decimal that reads back as the same float
 * ("0.1", "1e-07", "-3.4028235e+38"); NaN and infinities, which JSON cannot
 * carry, are written as null.  dst needs room for 16 bytes.  Returns the
 * length written.
 */
size_t infer_ks_write_float(char *dst, float v);

/*
 * Writes s as a JSON string with its quotes, escaped as JSON requires.
 * dst needs room for 6 * len + 2 bytes.  Returns the length written.
 */
size_t infer_ks_write_string(char *dst, const char *s, size_t len);


#endif /* _INFER_KSERVE_H_INCLUDED_ */
