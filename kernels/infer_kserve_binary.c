/*
 * ngx_infer: the binary tensor data extension of KServe v2 (Triton's), and
 * the KServe datatypes (infer_kserve.h).
 *
 * A body is JSON, read by the walk of infer_kserve_json.c, followed by the
 * raw tensors.  The walk notes each binary input's size, checked against
 * its shape and datatype when its object ends.  The raw bytes are read
 * only after the walk, once the JSON is known to be valid and the sizes to
 * add up to what follows it: a wrong Inference-Header-Content-Length or
 * binary_data_size is then reported as such, not as the garbage it makes
 * of the values.
 *
 * BYTES elements are each a 4-byte length and that many bytes, so that
 * their size is known only once they are read: the walk checks that
 * binary_data_size holds their lengths at least; after it, the elements'
 * lengths are read against that size, all of them, before their UTF-8.
 */

#include <math.h>
#include <string.h>

#include "infer_kserve_impl.h"
#include "infer_math.h"


/* on a little-endian machine, binary tensor data are copied as they are */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define INFER_KS_LITTLE       1
#else
#define INFER_KS_LITTLE       0
#endif


static int infer_ks_binary_values(infer_ks_parser_t *ps,
    infer_ks_input_t *in, const unsigned char *p);
static int infer_ks_binary_strings(infer_ks_parser_t *ps,
    infer_ks_input_t *in, const unsigned char *p);
static int infer_ks_utf8(const unsigned char *p, size_t len);
static void infer_ks_binary_ints(float *dst, const unsigned char *p,
    size_t n, size_t size, int sign);
static int infer_ks_nonfinite_f32(const float *v, size_t n);


static const char  *const infer_ks_datatypes[] = {
    "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16",
    "INT32", "INT64", "FP16", "FP32", "FP64", "BYTES", "BF16"
};


/* bytes per element in binary data, indexed by datatype */
static const size_t  infer_ks_datatype_sizes[] = {
    1, 1, 2, 4, 8, 1, 2, 4, 8, 2, 4, 8, 0, 2
};


static const char  *const infer_ks_input_param_keys[] = {
    "binary_data_size", NULL
};

static const char  *const infer_ks_output_param_keys[] = {
    "binary_data", NULL
};


/* a little-endian integer of size bytes (1, 2, 4, 8) at any alignment */

static inline uint64_t
infer_ks_le(const unsigned char *p, size_t size)
{
#if INFER_KS_LITTLE
    uint16_t  u16;
    uint32_t  u32;
    uint64_t  u64;

    switch (size) {
    case 1:  return p[0];
    case 2:  memcpy(&u16, p, 2); return u16;
    case 4:  memcpy(&u32, p, 4); return u32;
    default: memcpy(&u64, p, 8); return u64;
    }
#else
    size_t    i;
    uint64_t  v;

    v = 0;

    for (i = size; i > 0; i--) {
        v = v << 8 | p[i - 1];
    }

    return v;
#endif
}


int
infer_ks_decode_binary(infer_ks_request_t *req, const char *body,
    size_t json_len, size_t len)
{
    return infer_ks_decode(req, body, json_len, len, 1);
}


int
infer_ks_input_parameters(infer_ks_parser_t *ps, int i, int64_t *size)
{
    int                  k, rc;
    uint64_t             v;
    infer_json_object_t  obj;

    if (!infer_json_object(&ps->js, &obj)) {
        return infer_json_error(&ps->js, INFER_JSON_INVALID,
                                "inputs[%d].parameters: expected an object",
                                i);
    }

    while ((rc = infer_json_member(&ps->js, &obj, infer_ks_input_param_keys,
                                   &k))
           == 1)
    {
        if (!ps->binary) {
            /* the body goes on with raw tensor bytes: no syntax check */
            return infer_json_error(&ps->js, INFER_JSON_FINAL,
                                    "inputs[%d].parameters.binary_data_size: "
                                    "binary tensor data is not supported on "
                                    "this path", i);
        }

        rc = infer_json_uint(&ps->js, INT64_MAX, &v);

        if (rc == INFER_JSON_DECLINED) {
            return infer_json_error(&ps->js, INFER_JSON_INVALID,
                                    "inputs[%d].parameters.binary_data_size: "
                                    "expected a non-negative integer "
                                    "(bytes)", i);
        }

        if (rc == INFER_JSON_RANGE) {
            return infer_json_error(&ps->js, INFER_JSON_INVALID,
                                    "inputs[%d].parameters.binary_data_size: "
                                    "too large", i);
        }

        if (rc != INFER_JSON_OK) {
            return INFER_JSON_ERROR;
        }

        *size = (int64_t) v;
    }

    if (rc == INFER_JSON_DECLINED) {
        return infer_json_error(&ps->js, INFER_JSON_INVALID,
                                "inputs[%d].parameters: duplicate key "
                                "\"binary_data_size\"", i);
    }

    return rc == 0 ? INFER_JSON_OK : INFER_JSON_ERROR;
}


int
infer_ks_output_parameters(infer_ks_parser_t *ps, int i)
{
    int                  k, rc, v;
    signed char         *binary;
    infer_json_object_t  obj;

    binary = &ps->req->output_binary[i];

    if (!infer_json_object(&ps->js, &obj)) {
        return infer_json_error(&ps->js, INFER_JSON_INVALID,
                                "outputs[%d].parameters: expected an object",
                                i);
    }

    while ((rc = infer_json_member(&ps->js, &obj, infer_ks_output_param_keys,
                                   &k))
           == 1)
    {
        if (infer_json_bool(&ps->js, &v) != INFER_JSON_OK) {
            return infer_json_error(&ps->js, INFER_JSON_INVALID,
                                    "outputs[%d].parameters.binary_data: "
                                    "expected true or false", i);
        }

        *binary = (signed char) v;
    }

    if (rc == INFER_JSON_DECLINED) {
        return infer_json_error(&ps->js, INFER_JSON_INVALID,
                                "outputs[%d].parameters: duplicate key "
                                "\"binary_data\"", i);
    }

    return rc == 0 ? INFER_JSON_OK : INFER_JSON_ERROR;
}


/*
 * The values are read after the walk, once the JSON is known good.  A
 * BYTES element takes its length's 4 bytes at least, its own bytes being
 * counted only once they are read.
 */

int
infer_ks_input_binary(infer_ks_parser_t *ps, int i, infer_ks_input_t *in,
    int64_t size, uint64_t total)
{
    int       bytes;
    char      buf[INFER_KS_DIMS_LEN];
    size_t    cap;
    uint64_t  esize;

    bytes = (in->datatype == INFER_KS_BYTES);
    esize = bytes ? 4 : infer_ks_datatype_size(in->datatype);
    cap = bytes ? in->strs_cap : in->cap;

    if (total > (uint64_t) INT64_MAX / esize) {
        return infer_json_error(&ps->js, INFER_JSON_INVALID,
                                "inputs[%d].shape: too many values", i);
    }

    if (bytes ? (uint64_t) size < total * esize
              : (uint64_t) size != total * esize)
    {
        infer_shape_str(buf, sizeof(buf), in->shape, in->ndim);
        return infer_json_error(&ps->js, INFER_JSON_INVALID,
                                "inputs[%d].parameters.binary_data_size: %lld "
                                "bytes, but shape %s of %s needs %s%llu", i,
                                (long long) size, buf,
                                infer_ks_datatype_name(in->datatype),
                                bytes ? "at least " : "",
                                (unsigned long long) (total * esize));
    }

    if (total > cap) {
        infer_shape_str(buf, sizeof(buf), in->shape, in->ndim);
        return infer_json_error(&ps->js, INFER_JSON_INVALID,
                                "inputs[%d]: shape %s holds %llu values, more "
                                "than %zu, the most this input takes", i,
                                buf, (unsigned long long) total, cap);
    }

    in->count = (size_t) total;
    in->binary_size = size;

    return INFER_JSON_OK;
}


/*
 * The sizes first, then the values of each binary input, in the order of
 * "inputs".  The JSON being known good, errors here are final.
 */

int
infer_ks_binary(infer_ks_parser_t *ps)
{
    int                   i, j, n;
    uint64_t              sum, size;
    const unsigned char  *p;
    infer_ks_input_t     *in;
    infer_ks_request_t   *req;

    req = ps->req;
    sum = 0;
    n = 0;

    for (j = 0; j < req->ninputs; j++) {
        if (req->inputs[j].binary_size < 0) {
            continue;
        }

        /* each size was found to fit cap: the sum saturates only in theory */
        size = (uint64_t) req->inputs[j].binary_size;
        sum = (sum > UINT64_MAX - size) ? UINT64_MAX : sum + size;
        n++;
    }

    if (sum != ps->bin_len) {
        if (n == 0) {
            return infer_json_error(&ps->js, INFER_JSON_FINAL,
                                    "%zu bytes follow the JSON (Inference-"
                                    "Header-Content-Length %zu), but no input "
                                    "has parameters.binary_data_size",
                                    ps->bin_len,
                                    (size_t) (ps->js.end - ps->js.start));
        }

        return infer_json_error(&ps->js, INFER_JSON_FINAL,
                                "the binary data after the JSON is %zu bytes, "
                                "the inputs' binary_data_size add up to %llu",
                                ps->bin_len, (unsigned long long) sum);
    }

    /* every input was found, so "inputs" has one for each index */

    p = ps->bin;

    for (i = 0; i < req->ninputs; i++) {
        for (j = 0; j < req->ninputs; j++) {
            if (req->inputs[j].index == i) {
                break;
            }
        }

        if (j == req->ninputs || req->inputs[j].binary_size < 0) {
            continue;
        }

        in = &req->inputs[j];

        if (infer_ks_binary_values(ps, in, p) != INFER_JSON_OK) {
            return INFER_JSON_ERROR;
        }

        p += in->binary_size;
    }

    return INFER_JSON_OK;
}


/*
 * The in->count values of an input at p, converted to FP32.  FP32 is
 * copied as it is where the byte order allows; the floating types are
 * then checked in one pass that stops nowhere, and searched only when it
 * finds NaN or Infinity.
 */

static int
infer_ks_binary_values(infer_ks_parser_t *ps, infer_ks_input_t *in,
    const unsigned char *p)
{
    float     *dst, f;
    double     d;
    size_t     k, n;
#if !INFER_KS_LITTLE
    uint32_t   u;
#endif
    uint64_t   v;

    if (in->datatype == INFER_KS_BYTES) {
        return infer_ks_binary_strings(ps, in, p);
    }

    dst = in->dst;
    n = in->count;

    if (n == 0) {
        return INFER_JSON_OK;
    }

    switch (in->datatype) {

    case INFER_KS_FP32:
#if INFER_KS_LITTLE
        memcpy(dst, p, n * sizeof(float));
#else
        for (k = 0; k < n; k++) {
            u = (uint32_t) infer_ks_le(p + 4 * k, 4);
            memcpy(&dst[k], &u, sizeof(float));
        }
#endif
        break;

    case INFER_KS_FP16:
        for (k = 0; k < n; k++) {
            dst[k] = infer_f16_to_f32((uint16_t) infer_ks_le(p + 2 * k, 2));
        }

        break;

    case INFER_KS_BF16:
        for (k = 0; k < n; k++) {
            dst[k] = infer_bf16_to_f32((uint16_t) infer_ks_le(p + 2 * k, 2));
        }

        break;

    case INFER_KS_FP64:
        for (k = 0; k < n; k++) {
            v = infer_ks_le(p + 8 * k, 8);
            memcpy(&d, &v, sizeof(double));

            if (!isfinite(d)) {
                goto nonfinite;
            }

            f = (float) d;

            if (isinf(f)) {
                return infer_json_error(&ps->js, INFER_JSON_FINAL,
                                        "inputs[%d]: binary FP64 data holds "
                                        "%.9g at [%zu], out of range for "
                                        "FP32", in->index, d, k);
            }

            dst[k] = f;
        }

        return INFER_JSON_OK;

    case INFER_KS_BOOL:
        for (k = 0; k < n; k++) {
            if (p[k] > 1) {
                return infer_json_error(&ps->js, INFER_JSON_FINAL,
                                        "inputs[%d]: binary BOOL data holds "
                                        "%u at [%zu], expected 0 or 1",
                                        in->index, p[k], k);
            }

            dst[k] = (float) p[k];
        }

        return INFER_JSON_OK;

    case INFER_KS_UINT8:
    case INFER_KS_UINT16:
    case INFER_KS_UINT32:
    case INFER_KS_UINT64:
        infer_ks_binary_ints(dst, p, n, infer_ks_datatype_sizes[in->datatype],
                             0);
        return INFER_JSON_OK;

    case INFER_KS_INT8:
    case INFER_KS_INT16:
    case INFER_KS_INT32:
    case INFER_KS_INT64:
        infer_ks_binary_ints(dst, p, n, infer_ks_datatype_sizes[in->datatype],
                             1);
        return INFER_JSON_OK;

    default:
        /* the unknown is refused with the datatype */
        return INFER_JSON_OK;
    }

    if (!infer_ks_nonfinite_f32(dst, n)) {
        return INFER_JSON_OK;
    }

    for (k = 0; isfinite(dst[k]); k++) {
        /* void */
    }

nonfinite:

    return infer_json_error(&ps->js, INFER_JSON_FINAL,
                            "inputs[%d]: binary data holds NaN or Infinity at "
                            "[%zu]", in->index, k);
}


/*
 * The in->count elements of a BYTES input at p, into in->strs: spans of
 * the body.  The lengths first, all of them, against binary_data_size:
 * a wrong size or length is reported as such, not as the invalid UTF-8 it
 * makes of the bytes that follow; then the UTF-8 of each element.
 */

static int
infer_ks_binary_strings(infer_ks_parser_t *ps, infer_ks_input_t *in,
    const unsigned char *p)
{
    char             buf[INFER_KS_DIMS_LEN];
    size_t           k, len, left;
    infer_ks_str_t  *str;

    left = (size_t) in->binary_size;

    for (k = 0; k < in->count; k++) {
        if (left < 4) {
            return infer_json_error(&ps->js, INFER_JSON_FINAL,
                                    "inputs[%d]: binary BYTES element %zu: "
                                    "its 4-byte length runs past "
                                    "binary_data_size %lld", in->index, k,
                                    (long long) in->binary_size);
        }

        len = (size_t) infer_ks_le(p, 4);
        p += 4;
        left -= 4;

        if (len > left) {
            return infer_json_error(&ps->js, INFER_JSON_FINAL,
                                    "inputs[%d]: binary BYTES element %zu: "
                                    "length %zu runs past binary_data_size "
                                    "%lld", in->index, k, len,
                                    (long long) in->binary_size);
        }

        str = &in->strs[k];
        str->p = (const char *) p;
        str->len = len;
        p += len;
        left -= len;
    }

    if (left != 0) {
        infer_shape_str(buf, sizeof(buf), in->shape, in->ndim);
        return infer_json_error(&ps->js, INFER_JSON_FINAL,
                                "inputs[%d].parameters.binary_data_size: %lld "
                                "bytes, but the elements of shape %s take "
                                "%lld", in->index,
                                (long long) in->binary_size, buf,
                                (long long) (in->binary_size - left));
    }

    for (k = 0; k < in->count; k++) {
        str = &in->strs[k];

        if (!infer_ks_utf8((const unsigned char *) str->p, str->len)) {
            return infer_json_error(&ps->js, INFER_JSON_FINAL,
                                    "inputs[%d]: element %zu is not valid "
                                    "UTF-8", in->index, k);
        }
    }

    return INFER_JSON_OK;
}


/*
 * Whether the len bytes at p are valid UTF-8, as JSON strings must be (no
 * overlong form, no surrogate, nothing past U+10FFFF).  Text is mostly
 * ASCII: eight bytes at a time while none has its high bit set.
 */

static int
infer_ks_utf8(const unsigned char *p, size_t len)
{
    size_t    i, n;
    uint64_t  w;

    i = 0;

    while (i < len) {

        if (len - i >= 8) {
            memcpy(&w, p + i, 8);

            if ((w & 0x8080808080808080ULL) == 0) {
                i += 8;
                continue;
            }
        }

        if (p[i] < 0x80) {
            i++;
            continue;
        }

        n = infer_json_utf8(p + i, p + len);
        if (n == 0) {
            return 0;
        }

        i += n;
    }

    return 1;
}


/*
 * n integers of size bytes at p, signed or not, to FP32: read into 64
 * bits and sign-extended, each converts as its own type would.
 */

static void
infer_ks_binary_ints(float *dst, const unsigned char *p, size_t n,
    size_t size, int sign)
{
    size_t    k;
    unsigned  shift;
    uint64_t  v;

    shift = 64 - 8 * size;

    for (k = 0; k < n; k++, p += size) {
        v = infer_ks_le(p, size);
        dst[k] = sign ? (float) ((int64_t) (v << shift) >> shift)
                      : (float) v;
    }
}


/*
 * Whether any of n floats is NaN or Infinity, that is has an exponent of
 * all ones: adding 1 to the exponent then carries into the sign bit, and
 * only then.  Two floats a word, two words a step, in no particular byte
 * order, since a carry never leaves its float; about 4 times faster than
 * a loop on isfinite(), which the compiler does not vectorize at -O2.
 */

static int
infer_ks_nonfinite_f32(const float *v, size_t n)
{
    size_t    k;
    uint32_t  u;
    uint64_t  w0, w1, a0, a1;

    a0 = 0;
    a1 = 0;

    for (k = 0; k + 4 <= n; k += 4) {
        memcpy(&w0, &v[k], sizeof(uint64_t));
        memcpy(&w1, &v[k + 2], sizeof(uint64_t));
        a0 |= (w0 & 0x7f8000007f800000ULL) + 0x0080000000800000ULL;
        a1 |= (w1 & 0x7f8000007f800000ULL) + 0x0080000000800000ULL;
    }

    for ( /* void */ ; k < n; k++) {
        memcpy(&u, &v[k], sizeof(uint32_t));
        a0 |= (u & 0x7f800000) + 0x00800000;
    }

    return ((a0 | a1) & 0x8000000080000000ULL) != 0;
}


int
infer_ks_output_binary(const infer_ks_request_t *req, const char *name,
    size_t len)
{
    int  i;

    if (name == NULL) {
        return req->binary_output;
    }

    for (i = 0; i < req->noutputs; i++) {
        if (req->outputs[i].len == len
            && memcmp(req->outputs[i].p, name, len) == 0)
        {
            return (req->output_binary[i] >= 0) ? req->output_binary[i]
                                                : req->binary_output;
        }
    }

    return req->binary_output;
}


infer_ks_datatype_e
infer_ks_datatype(const char *name, size_t len)
{
    int  i;

    for (i = 0; i < INFER_KS_UNKNOWN; i++) {
        if (len == strlen(infer_ks_datatypes[i])
            && memcmp(name, infer_ks_datatypes[i], len) == 0)
        {
            return (infer_ks_datatype_e) i;
        }
    }

    return INFER_KS_UNKNOWN;
}


const char *
infer_ks_datatype_name(infer_ks_datatype_e dt)
{
    if ((unsigned) dt >= INFER_KS_UNKNOWN) {
        return "UNKNOWN";
    }

    return infer_ks_datatypes[dt];
}


size_t
infer_ks_datatype_size(infer_ks_datatype_e dt)
{
    if ((unsigned) dt >= INFER_KS_UNKNOWN) {
        return 0;
    }

    return infer_ks_datatype_sizes[dt];
}
