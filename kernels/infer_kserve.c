/*
 * ngx_infer: the KServe v2 JSON codec.
 *
 * The decoder is one pass over the body, specialised for the inference
 * request: the top-level object, "inputs" and its objects, "outputs",
 * "parameters"; everything else is validated and skipped.  The numbers of
 * "data" are converted as they are met and written to the caller's buffer.
 * Nothing past body + len is ever read: every step checks against the end.
 *
 * Errors are of three kinds.  Malformed JSON is reported with jansson's
 * line, column and text.  A request that is well-formed JSON but not a
 * valid inference request gets a message naming the field; the walk stops
 * at the first such problem, so before that message is given the rest of
 * the body is checked for syntax, and malformed JSON anywhere wins.  Last,
 * two problems are reported as found, without that check: NaN or Infinity
 * in "data" (a syntax error, but one that deserves its own message) and,
 * on the JSON path, binary_data_size (the body is then JSON followed by
 * raw bytes).
 *
 * With the binary tensor data extension the same walk reads the JSON part,
 * noting each binary input's size, checked against its shape and datatype
 * when its object ends.  The raw bytes are read only after the walk, once
 * the JSON is known to be valid and the sizes to add up to what follows
 * it: a wrong Inference-Header-Content-Length or binary_data_size is then
 * reported as such, not as the garbage it makes of the values.
 *
 * Duplicate keys are an error wherever a key has a meaning here, and are
 * allowed in what is skipped.  "\u0000" is accepted, as RFC 8259 says.
 *
 * Numbers are read as what (float) strtod() gives, without strtod() in all
 * but rare cases: the digits go into a uint64_t mantissa and a decimal
 * exponent; when both are small the double is exact after one multiply or
 * divide (Clinger's fast path); otherwise a double within a few ulps is
 * computed and used only when it is far from the points where rounding to
 * float changes.
 */

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "infer_kserve.h"
#include "infer_math.h"


#define INFER_KS_OK           0
#define INFER_KS_ERROR        -1
#define INFER_KS_DECLINED     -5

/* kinds of errors, see above */
#define INFER_KS_SYNTAX       1
#define INFER_KS_INVALID      2
#define INFER_KS_FINAL        3

#define INFER_KS_DATA_DEPTH   32          /* nested arrays in "data" */
#define INFER_KS_MAX_DEPTH    2048        /* any value, as jansson */
#define INFER_KS_TOKEN        40          /* of a token quoted in errors */

/*
 * Significant digits handed to strtod(): a decimal halfway between two
 * doubles has at most 767, so digits past these only tell whether the
 * value lies above the digits kept.
 */
#define INFER_KS_DIGITS       780

/* the mantissa grows while m * 10 + 9 fits in 64 bits */
#define INFER_KS_M_MAX        1844674407370955161ULL


#if defined(__GNUC__)
#define INFER_KS_PRINTF(f, a)  __attribute__((format(printf, f, a)))
#define INFER_KS_INLINE        inline __attribute__((always_inline))
#else
#define INFER_KS_PRINTF(f, a)
#define INFER_KS_INLINE        inline
#endif

/*
 * Eight digits at a time needs the first byte in the lowest bits; binary
 * tensor data, little-endian, are then copied as they are.
 */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define INFER_KS_LITTLE        1
#else
#define INFER_KS_LITTLE        0
#endif

#define INFER_KS_SWAR          INFER_KS_LITTLE


typedef struct {
    const unsigned char    *start;
    const unsigned char    *p;
    const unsigned char    *end;
    infer_ks_request_t     *req;
    size_t                  scratch;      /* bytes of req->scratch used */
    int                     kind;         /* of the error */
    const unsigned char    *err_at;       /* of a syntax error */
    const char             *err_text;

    int                     binary;       /* the binary data extension */
    const unsigned char    *bin;          /* the bytes after the JSON */
    size_t                  bin_len;
} infer_ks_parser_t;


/* a number token: the value is (neg ? -1 : 1) * m * 10^e */
typedef struct {
    uint64_t                m;
    int64_t                 e;
    int                     neg;
    int                     trunc;        /* nonzero digits beyond m */
    int                     integer;      /* no fraction, no exponent */
} infer_ks_num_t;


static int infer_ks_decode(infer_ks_request_t *req, const char *body,
    size_t json_len, size_t len, int binary);
static int infer_ks_request(infer_ks_parser_t *ps);
static int infer_ks_inputs(infer_ks_parser_t *ps);
static int infer_ks_input(infer_ks_parser_t *ps, int i);
static int infer_ks_input_name(infer_ks_parser_t *ps, int i,
    infer_ks_input_t **inp);
static int infer_ks_input_datatype(infer_ks_parser_t *ps, int i,
    infer_ks_datatype_e *dt);
static int infer_ks_input_parameters(infer_ks_parser_t *ps, int i,
    int64_t *size);
static int infer_ks_input_binary(infer_ks_parser_t *ps, int i,
    infer_ks_input_t *in, int64_t size, uint64_t total);
static int infer_ks_shape(infer_ks_parser_t *ps, int i, int64_t *shape,
    int *ndim);
static int infer_ks_data(infer_ks_parser_t *ps, int i, infer_ks_input_t *in,
    infer_ks_datatype_e dt, const int64_t *shape, int ndim);
static int infer_ks_outputs(infer_ks_parser_t *ps);
static int infer_ks_output(infer_ks_parser_t *ps, int i);
static int infer_ks_output_parameters(infer_ks_parser_t *ps, int i);
static int infer_ks_parameters(infer_ks_parser_t *ps);
static int infer_ks_bool_value(infer_ks_parser_t *ps, int *v);
static int infer_ks_binary(infer_ks_parser_t *ps);
static int infer_ks_binary_values(infer_ks_parser_t *ps,
    infer_ks_input_t *in, const unsigned char *p);
static int infer_ks_nonfinite_f32(const float *v, size_t n);
static int infer_ks_member(infer_ks_parser_t *ps, int *n,
    const char *const *keys, int *k);
static int infer_ks_skip(infer_ks_parser_t *ps);
static int infer_ks_validate(infer_ks_parser_t *ps);
static void infer_ks_malformed(infer_ks_parser_t *ps);
static const unsigned char *infer_ks_string(infer_ks_parser_t *ps,
    const unsigned char *p, int *esc);
static int infer_ks_string_value(infer_ks_parser_t *ps, char *buf,
    size_t size, infer_ks_str_t *raw, infer_ks_str_t *val);
static size_t infer_ks_utf8(const unsigned char *p, const unsigned char *end);
static int infer_ks_hex4(const unsigned char *p, const unsigned char *end);
static size_t infer_ks_unescape(char *dst, size_t size,
    const unsigned char *s, size_t len);
static INFER_KS_INLINE const unsigned char *infer_ks_number(
    const unsigned char *p, const unsigned char *end, infer_ks_num_t *n);
static INFER_KS_INLINE const unsigned char *infer_ks_digits(
    const unsigned char *p, const unsigned char *end, infer_ks_num_t *n,
    int frac);
static int infer_ks_nonfinite(const unsigned char *p,
    const unsigned char *end);
static INFER_KS_INLINE float infer_ks_num_float(const infer_ks_num_t *n,
    const unsigned char *s, const unsigned char *end);
static double infer_ks_num_double(const infer_ks_num_t *n,
    const unsigned char *s, const unsigned char *end);
static int infer_ks_num_int(const infer_ks_num_t *n, infer_ks_datatype_e dt,
    float *f);
static double infer_ks_strtod(const unsigned char *p,
    const unsigned char *end);
static double infer_ks_scale(double x, int n);
static int infer_ks_exact(double c, int q, double y);
static const char *infer_ks_token(char *buf, const void *p, size_t len);
static uint64_t infer_ks_total(const int64_t *shape, int ndim);
static const char *infer_ks_dims(char *buf, const int64_t *shape, int ndim);
static void infer_ks_utf8_fix(char *err);
static void infer_ks_cat(char *buf, size_t size, size_t *pos,
    const char *fmt, ...) INFER_KS_PRINTF(4, 5);
static int infer_ks_error(infer_ks_parser_t *ps, int kind, const char *fmt,
    ...) INFER_KS_PRINTF(3, 4);
static int infer_ks_syntax(infer_ks_parser_t *ps, const unsigned char *at,
    const char *text);


static const char  *const infer_ks_datatypes[] = {
    "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16",
    "INT32", "INT64", "FP16", "FP32", "FP64", "BYTES", "BF16"
};


/* bytes per element in binary data, indexed by datatype */
static const size_t  infer_ks_datatype_sizes[] = {
    1, 1, 2, 4, 8, 1, 2, 4, 8, 2, 4, 8, 0, 2
};


/* the range of the integer types, indexed by datatype: BOOL to INT64 */
static const uint64_t  infer_ks_int_max[] = {
    1, 0xff, 0xffff, 0xffffffffULL, 0xffffffffffffffffULL,
    0x7f, 0x7fff, 0x7fffffffULL, 0x7fffffffffffffffULL
};

static const uint64_t  infer_ks_int_neg[] = {
    0, 0, 0, 0, 0,
    0x80, 0x8000, 0x80000000ULL, 0x8000000000000000ULL
};


/* the powers of ten that are exact in a double */
static const double  infer_ks_pow10[] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12,
    1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};

static const uint32_t  infer_ks_pow10u[] = {
    1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000,
    1000000000
};


static const char  *const infer_ks_top_keys[] = {
    "inputs", "id", "outputs", "parameters", NULL
};

static const char  *const infer_ks_input_keys[] = {
    "name", "shape", "datatype", "data", "parameters", NULL
};

static const char  *const infer_ks_output_keys[] = {
    "name", "parameters", NULL
};

static const char  *const infer_ks_output_param_keys[] = {
    "binary_data", NULL
};

static const char  *const infer_ks_param_keys[] = {
    "timeout", "binary_data_output", NULL
};

static const char  *const infer_ks_input_param_keys[] = {
    "binary_data_size", NULL
};


static inline const unsigned char *
infer_ks_ws(const unsigned char *p, const unsigned char *end)
{
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
    {
        p++;
    }

    return p;
}


/* skips whitespace; the next byte, or -1 at the end of the body */
static inline int
infer_ks_peek(infer_ks_parser_t *ps)
{
    ps->p = infer_ks_ws(ps->p, ps->end);

    return ps->p < ps->end ? *ps->p : -1;
}


static inline int
infer_ks_digit(int c)
{
    return (unsigned) (c - '0') < 10;
}


static inline int
infer_ks_literal(const unsigned char *p, const unsigned char *end,
    const char *lit, size_t n)
{
    return (size_t) (end - p) >= n && memcmp(p, lit, n) == 0;
}


/* little-endian integers at any alignment */

static INFER_KS_INLINE uint16_t
infer_ks_le16(const unsigned char *p)
{
#if INFER_KS_LITTLE
    uint16_t  v;

    memcpy(&v, p, sizeof(uint16_t));

    return v;
#else
    return (uint16_t) (p[0] | p[1] << 8);
#endif
}


static INFER_KS_INLINE uint32_t
infer_ks_le32(const unsigned char *p)
{
#if INFER_KS_LITTLE
    uint32_t  v;

    memcpy(&v, p, sizeof(uint32_t));

    return v;
#else
    return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16
           | (uint32_t) p[3] << 24;
#endif
}


static INFER_KS_INLINE uint64_t
infer_ks_le64(const unsigned char *p)
{
#if INFER_KS_LITTLE
    uint64_t  v;

    memcpy(&v, p, sizeof(uint64_t));

    return v;
#else
    return (uint64_t) infer_ks_le32(p) | (uint64_t) infer_ks_le32(p + 4) << 32;
#endif
}


int
infer_ks_decode_request(infer_ks_request_t *req, const char *body,
    size_t len)
{
    return infer_ks_decode(req, body, len, len, 0);
}


int
infer_ks_decode_binary(infer_ks_request_t *req, const char *body,
    size_t json_len, size_t len)
{
    return infer_ks_decode(req, body, json_len, len, 1);
}


static int
infer_ks_decode(infer_ks_request_t *req, const char *body, size_t json_len,
    size_t len, int binary)
{
    int                 i;
    infer_ks_parser_t   ps;

    for (i = 0; i < req->ninputs; i++) {
        req->inputs[i].found = 0;
        req->inputs[i].datatype = INFER_KS_UNKNOWN;
        req->inputs[i].ndim = 0;
        req->inputs[i].count = 0;
        req->inputs[i].index = -1;
        req->inputs[i].binary_size = -1;
    }

    req->id.p = NULL;
    req->id.len = 0;
    req->noutputs = 0;
    req->timeout_ms = 0;
    req->binary_output = 0;
    memset(req->output_binary, -1, sizeof(req->output_binary));
    req->err[0] = '\0';

    if (body == NULL) {
        body = "";
        len = 0;
    }

    if (!binary) {
        json_len = len;

    } else if (json_len > len) {
        snprintf(req->err, INFER_KSERVE_ERRLEN,
                 "Inference-Header-Content-Length %zu is larger than the "
                 "body (%zu bytes)", json_len, len);
        return -1;

    } else if (json_len == 0) {
        snprintf(req->err, INFER_KSERVE_ERRLEN,
                 "Inference-Header-Content-Length is 0, no JSON inference "
                 "request precedes the binary data");
        return -1;
    }

    ps.start = (const unsigned char *) body;
    ps.p = ps.start;
    ps.end = ps.start + json_len;
    ps.req = req;
    ps.scratch = 0;
    ps.kind = 0;
    ps.err_at = NULL;
    ps.err_text = NULL;
    ps.binary = binary;
    ps.bin = ps.end;
    ps.bin_len = len - json_len;

    if (infer_ks_request(&ps) == INFER_KS_OK
        && (!binary || infer_ks_binary(&ps) == INFER_KS_OK))
    {
        return 0;
    }

    if (ps.kind == INFER_KS_INVALID && infer_ks_validate(&ps) != INFER_KS_OK)
    {
        ps.kind = INFER_KS_SYNTAX;
    }

    if (ps.kind == INFER_KS_SYNTAX) {
        infer_ks_malformed(&ps);
    }

    infer_ks_utf8_fix(req->err);

    return -1;
}


static int
infer_ks_request(infer_ks_parser_t *ps)
{
    int                  i, k, n, rc, seen;
    infer_ks_str_t       val;
    infer_ks_request_t  *req;

    req = ps->req;

    if (infer_ks_peek(ps) != '{') {
        return infer_ks_error(ps, INFER_KS_INVALID,
                              "the request body must be a JSON object");
    }

    ps->p++;
    n = 0;
    seen = 0;

    while ((rc = infer_ks_member(ps, &n, infer_ks_top_keys, &k)) == 1) {

        if (k >= 0 && (seen & (1 << k))) {
            return infer_ks_error(ps, INFER_KS_INVALID,
                                  "duplicate key \"%s\"",
                                  infer_ks_top_keys[k]);
        }

        if (k >= 0) {
            seen |= 1 << k;
        }

        switch (k) {

        case 0:
            rc = infer_ks_inputs(ps);
            break;

        case 1:
            rc = infer_ks_string_value(ps, NULL, 0, &req->id, &val);

            if (rc == INFER_KS_DECLINED) {
                return infer_ks_error(ps, INFER_KS_INVALID,
                                      "id: expected a string");
            }

            break;

        case 2:
            rc = infer_ks_outputs(ps);
            break;

        case 3:
            rc = infer_ks_parameters(ps);
            break;

        default:
            rc = infer_ks_skip(ps);
        }

        if (rc != INFER_KS_OK) {
            return INFER_KS_ERROR;
        }
    }

    if (rc != 0) {
        return INFER_KS_ERROR;
    }

    if (infer_ks_peek(ps) != -1) {
        return infer_ks_syntax(ps, ps->p, "end of file expected");
    }

    if (!(seen & 1)) {
        return infer_ks_error(ps, INFER_KS_INVALID, "missing \"inputs\"");
    }

    for (i = 0; i < req->ninputs; i++) {
        if (!req->inputs[i].found) {
            return infer_ks_error(ps, INFER_KS_INVALID,
                                  "inputs: missing input \"%s\"",
                                  req->inputs[i].name);
        }
    }

    return INFER_KS_OK;
}


static int
infer_ks_inputs(infer_ks_parser_t *ps)
{
    int  i, c;

    if (infer_ks_peek(ps) != '[') {
        goto invalid;
    }

    ps->p++;

    if (infer_ks_peek(ps) == ']') {
        goto invalid;
    }

    for (i = 0; /* void */; i++) {

        if (infer_ks_input(ps, i) != INFER_KS_OK) {
            return INFER_KS_ERROR;
        }

        c = infer_ks_peek(ps);

        if (c == ']') {
            ps->p++;
            return INFER_KS_OK;
        }

        if (c != ',') {
            return infer_ks_syntax(ps, ps->p, "',' or ']' expected");
        }

        ps->p++;
    }

invalid:

    return infer_ks_error(ps, INFER_KS_INVALID,
                          "inputs: expected a non-empty array of objects");
}


/*
 * One input object.  Its keys come in any order, so what depends on more
 * than one of them is done at its end: "data" met before "name" and
 * "datatype" is decoded then, and the shape is checked against the values.
 */

static int
infer_ks_input(infer_ks_parser_t *ps, int i)
{
    int                   k, n, rc, seen, ndim;
    char                  buf[INFER_KSERVE_MAX_DIMS * 22 + 2];
    int64_t               shape[INFER_KSERVE_MAX_DIMS], size;
    uint64_t              total;
    const unsigned char  *data, *save;
    infer_ks_input_t     *in;
    infer_ks_datatype_e   dt;

    static const char    *required[] = {
        "name", "shape", "datatype"
    };

    if (infer_ks_peek(ps) != '{') {
        return infer_ks_error(ps, INFER_KS_INVALID,
                              "inputs[%d]: expected an object", i);
    }

    ps->p++;

    in = NULL;
    dt = INFER_KS_UNKNOWN;
    ndim = -1;
    data = NULL;
    size = -1;
    n = 0;
    seen = 0;

    while ((rc = infer_ks_member(ps, &n, infer_ks_input_keys, &k)) == 1) {

        if (k >= 0 && (seen & (1 << k))) {
            return infer_ks_error(ps, INFER_KS_INVALID,
                                  "inputs[%d]: duplicate key \"%s\"", i,
                                  infer_ks_input_keys[k]);
        }

        if (k >= 0) {
            seen |= 1 << k;
        }

        switch (k) {

        case 0:
            rc = infer_ks_input_name(ps, i, &in);
            break;

        case 1:
            rc = infer_ks_shape(ps, i, shape, &ndim);
            break;

        case 2:
            rc = infer_ks_input_datatype(ps, i, &dt);
            break;

        case 3:
            if (in != NULL && dt != INFER_KS_UNKNOWN && dt != INFER_KS_FP16
                && dt != INFER_KS_BF16)
            {
                rc = infer_ks_data(ps, i, in, dt, shape, ndim);
                break;
            }

            /*
             * The name or the datatype comes later: decode it then; now
             * only check it, so that NaN gets its own message here too.
             * FP16 and BF16 (binary path) get their message at the end.
             */
            data = ps->p;
            rc = infer_ks_data(ps, i, NULL, INFER_KS_UNKNOWN, shape, -1);
            break;

        case 4:
            rc = infer_ks_input_parameters(ps, i, &size);
            break;

        default:
            rc = infer_ks_skip(ps);
        }

        if (rc != INFER_KS_OK) {
            return INFER_KS_ERROR;
        }
    }

    if (rc != 0) {
        return INFER_KS_ERROR;
    }

    for (k = 0; k < 3; k++) {
        if (!(seen & (1 << k))) {
            return infer_ks_error(ps, INFER_KS_INVALID,
                                  "inputs[%d]: missing \"%s\"", i,
                                  required[k]);
        }
    }

    /* seen & 8: "data"; size >= 0: parameters.binary_data_size */

    if (!(seen & 8) && size < 0) {
        return infer_ks_error(ps, INFER_KS_INVALID,
                              ps->binary
                              ? "inputs[%d]: missing \"data\" or "
                                "parameters.binary_data_size"
                              : "inputs[%d]: missing \"data\"", i);
    }

    if ((seen & 8) && size >= 0) {
        return infer_ks_error(ps, INFER_KS_INVALID,
                              "inputs[%d]: both \"data\" and "
                              "parameters.binary_data_size, expected one of "
                              "them", i);
    }

    if ((seen & 8) && (dt == INFER_KS_FP16 || dt == INFER_KS_BF16)) {
        return infer_ks_error(ps, INFER_KS_INVALID,
                              "inputs[%d].datatype: %s cannot be sent as "
                              "JSON numbers, only as binary data", i,
                              infer_ks_datatype_name(dt));
    }

    if (data != NULL) {
        save = ps->p;
        ps->p = data;

        if (infer_ks_data(ps, i, in, dt, shape, ndim) != INFER_KS_OK) {
            return INFER_KS_ERROR;
        }

        ps->p = save;
    }

    in->datatype = dt;
    in->ndim = ndim;
    memcpy(in->shape, shape, ndim * sizeof(int64_t));

    if (in->check_shape
        && in->check_shape(in->check_data, shape, ndim, ps->req->err,
                           sizeof(ps->req->err))
           != 0)
    {
        ps->kind = INFER_KS_INVALID;
        return INFER_KS_ERROR;
    }

    total = infer_ks_total(shape, ndim);

    if (total == UINT64_MAX) {
        return infer_ks_error(ps, INFER_KS_INVALID,
                              "inputs[%d].shape: too many values", i);
    }

    if (size >= 0) {
        return infer_ks_input_binary(ps, i, in, size, total);
    }

    if (total != in->count) {
        return infer_ks_error(ps, INFER_KS_INVALID,
                              "inputs[%d]: shape %s holds %llu values, data "
                              "has %zu", i, infer_ks_dims(buf, shape, ndim),
                              (unsigned long long) total, in->count);
    }

    return INFER_KS_OK;
}


/*
 * An input whose values follow the JSON: its size against its shape and
 * datatype, its values against cap.  They are read after the walk.
 */

static int
infer_ks_input_binary(infer_ks_parser_t *ps, int i, infer_ks_input_t *in,
    int64_t size, uint64_t total)
{
    char      buf[INFER_KSERVE_MAX_DIMS * 22 + 2];
    uint64_t  esize;

    esize = infer_ks_datatype_size(in->datatype);

    if (total > (uint64_t) INT64_MAX / esize) {
        return infer_ks_error(ps, INFER_KS_INVALID,
                              "inputs[%d].shape: too many values", i);
    }

    if ((uint64_t) size != total * esize) {
        return infer_ks_error(ps, INFER_KS_INVALID,
                              "inputs[%d].parameters.binary_data_size: %lld "
                              "bytes, but shape %s of %s needs %llu", i,
                              (long long) size,
                              infer_ks_dims(buf, in->shape, in->ndim),
                              infer_ks_datatype_name(in->datatype),
                              (unsigned long long) (total * esize));
    }

    if (total > in->cap) {
        return infer_ks_error(ps, INFER_KS_INVALID,
                              "inputs[%d]: shape %s holds %llu values, more "
                              "than %zu, the most this input takes", i,
                              infer_ks_dims(buf, in->shape, in->ndim),
                              (unsigned long long) total, in->cap);
    }

    in->count = (size_t) total;
    in->binary_size = size;

    return INFER_KS_OK;
}


static int
infer_ks_input_name(infer_ks_parser_t *ps, int i, infer_ks_input_t **inp)
{
    int                   j, rc;
    char                  buf[256], tok[INFER_KS_TOKEN + 8];
    size_t                pos;
    infer_ks_str_t        raw, name;
    infer_ks_request_t   *req;

    req = ps->req;

    rc = infer_ks_string_value(ps, buf, sizeof(buf), &raw, &name);

    if (rc == INFER_KS_DECLINED) {
        return infer_ks_error(ps, INFER_KS_INVALID,
                              "inputs[%d].name: expected a string", i);
    }

    if (rc != INFER_KS_OK) {
        return INFER_KS_ERROR;
    }

    for (j = 0; j < req->ninputs; j++) {

        if (name.len != strlen(req->inputs[j].name)
            || memcmp(name.p, req->inputs[j].name, name.len) != 0)
        {
            continue;
        }

        if (req->inputs[j].found) {
            return infer_ks_error(ps, INFER_KS_INVALID,
                                  "inputs[%d].name: input \"%s\" appears "
                                  "twice", i, req->inputs[j].name);
        }

        req->inputs[j].found = 1;
        req->inputs[j].index = i;
        *inp = &req->inputs[j];

        return INFER_KS_OK;
    }

    pos = 0;
    infer_ks_cat(req->err, INFER_KSERVE_ERRLEN, &pos,
                 "inputs[%d].name: model has no input \"%s\" (expected%s",
                 i, infer_ks_token(tok, raw.p + 1, raw.len - 2),
                 req->ninputs > 1 ? " one of" : "");

    for (j = 0; j < req->ninputs; j++) {
        infer_ks_cat(req->err, INFER_KSERVE_ERRLEN, &pos, "%s \"%s\"",
                     j ? "," : "", req->inputs[j].name);
    }

    infer_ks_cat(req->err, INFER_KSERVE_ERRLEN, &pos, ")");
    ps->kind = INFER_KS_INVALID;

    return INFER_KS_ERROR;
}


static int
infer_ks_input_datatype(infer_ks_parser_t *ps, int i,
    infer_ks_datatype_e *dt)
{
    int             rc;
    char            buf[16], tok[INFER_KS_TOKEN + 8];
    infer_ks_str_t  raw, name;

    rc = infer_ks_string_value(ps, buf, sizeof(buf), &raw, &name);

    if (rc == INFER_KS_DECLINED) {
        return infer_ks_error(ps, INFER_KS_INVALID,
                              "inputs[%d].datatype: expected a string", i);
    }

    if (rc != INFER_KS_OK) {
        return INFER_KS_ERROR;
    }

    *dt = infer_ks_datatype(name.p, name.len);

    /* on the binary path, "data" with them is refused at the input's end */
    if ((*dt == INFER_KS_FP16 || *dt == INFER_KS_BF16) && !ps->binary) {
        return infer_ks_error(ps, INFER_KS_INVALID,
                              "inputs[%d].datatype: %s cannot be sent as "
                              "JSON numbers (use the binary tensor "
                              "extension)", i, infer_ks_datatype_name(*dt));
    }

    if (*dt == INFER_KS_BYTES) {
        return infer_ks_error(ps, INFER_KS_INVALID,
                              "inputs[%d].datatype: BYTES is not supported "
                              "here, the model takes numbers", i);
    }

    if (*dt == INFER_KS_UNKNOWN) {
        return infer_ks_error(ps, INFER_KS_INVALID,
                              "inputs[%d].datatype: unknown datatype \"%s\"",
                              i, infer_ks_token(tok, raw.p + 1, raw.len - 2));
    }

    return INFER_KS_OK;
}


/* *size: binary_data_size, left -1 when absent */

static int
infer_ks_input_parameters(infer_ks_parser_t *ps, int i, int64_t *size)
{
    int                   k, n, rc;
    infer_ks_num_t        num;
    const unsigned char  *p;

    if (infer_ks_peek(ps) != '{') {
        return infer_ks_error(ps, INFER_KS_INVALID,
                              "inputs[%d].parameters: expected an object", i);
    }

    ps->p++;
    n = 0;

    while ((rc = infer_ks_member(ps, &n, infer_ks_input_param_keys, &k))
           == 1)
    {
        if (k != 0) {
            if (infer_ks_skip(ps) != INFER_KS_OK) {
                return INFER_KS_ERROR;
            }

            continue;
        }

        if (!ps->binary) {
            /* the body goes on with raw tensor bytes: no syntax check */
            return infer_ks_error(ps, INFER_KS_FINAL,
                                  "inputs[%d].parameters.binary_data_size: "
                                  "binary tensor data is not supported on "
                                  "this path", i);
        }

        if (*size >= 0) {
            return infer_ks_error(ps, INFER_KS_INVALID,
                                  "inputs[%d].parameters: duplicate key "
                                  "\"binary_data_size\"", i);
        }

        if (!infer_ks_digit(infer_ks_peek(ps))) {
            goto invalid;
        }

        p = infer_ks_number(ps->p, ps->end, &num);
        if (p == NULL) {
            return infer_ks_syntax(ps, ps->p, "invalid number");
        }

        if (!num.integer) {
            goto invalid;
        }

        if (num.trunc || num.e != 0 || num.m > INT64_MAX) {
            return infer_ks_error(ps, INFER_KS_INVALID,
                                  "inputs[%d].parameters.binary_data_size: "
                                  "too large", i);
        }

        *size = (int64_t) num.m;
        ps->p = p;
    }

    return rc == 0 ? INFER_KS_OK : INFER_KS_ERROR;

invalid:

    return infer_ks_error(ps, INFER_KS_INVALID,
                          "inputs[%d].parameters.binary_data_size: expected "
                          "a non-negative integer (bytes)", i);
}


static int
infer_ks_shape(infer_ks_parser_t *ps, int i, int64_t *shape, int *ndim)
{
    int                   c, n;
    infer_ks_num_t        num;
    const unsigned char  *p;

    if (infer_ks_peek(ps) != '[') {
        goto invalid;
    }

    ps->p++;
    n = 0;

    if (infer_ks_peek(ps) == ']') {
        ps->p++;
        *ndim = 0;
        return INFER_KS_OK;
    }

    for ( ;; ) {
        c = infer_ks_peek(ps);

        if (!infer_ks_digit(c)) {
            goto invalid;
        }

        p = infer_ks_number(ps->p, ps->end, &num);
        if (p == NULL) {
            return infer_ks_syntax(ps, ps->p, "invalid number");
        }

        if (!num.integer) {
            goto invalid;
        }

        if (num.trunc || num.e != 0 || num.m > INT64_MAX) {
            return infer_ks_error(ps, INFER_KS_INVALID,
                                  "inputs[%d].shape[%d]: dimension is too "
                                  "large", i, n);
        }

        if (n == INFER_KSERVE_MAX_DIMS) {
            return infer_ks_error(ps, INFER_KS_INVALID,
                                  "inputs[%d].shape: more than %d "
                                  "dimensions", i, INFER_KSERVE_MAX_DIMS);
        }

        shape[n++] = (int64_t) num.m;
        ps->p = p;

        c = infer_ks_peek(ps);

        if (c == ']') {
            ps->p++;
            *ndim = n;
            return INFER_KS_OK;
        }

        if (c != ',') {
            return infer_ks_syntax(ps, ps->p, "',' or ']' expected");
        }

        ps->p++;
    }

invalid:

    return infer_ks_error(ps, INFER_KS_INVALID,
                          "inputs[%d].shape: expected an array of "
                          "non-negative integers", i);
}


/*
 * The values of "data", flattened in row-major order, converted to FP32
 * into in->dst.  Nested arrays are walked with a depth count alone, since
 * only arrays nest here.
 */

static int
infer_ks_data(infer_ks_parser_t *ps, int i, infer_ks_input_t *in,
    infer_ks_datatype_e dt, const int64_t *shape, int ndim)
{
    int                   c, rc, esc, depth;
    char                  tok[INFER_KS_TOKEN + 8];
    char                  buf[INFER_KSERVE_MAX_DIMS * 22 + 2];
    float                 f, *dst;
    size_t                n, cap;
    uint64_t              total;
    infer_ks_num_t        num;
    const unsigned char  *p, *s, *end;

    if (infer_ks_peek(ps) != '[') {
        return infer_ks_error(ps, INFER_KS_INVALID,
                              "inputs[%d].data: expected an array", i);
    }

    /* in == NULL: a check of the syntax only, nothing is written */

    p = ps->p;
    end = ps->end;
    dst = in ? in->dst : NULL;
    cap = in ? in->cap : SIZE_MAX;
    n = 0;
    depth = 0;

open:

    if (++depth > INFER_KS_DATA_DEPTH) {
        return infer_ks_error(ps, INFER_KS_INVALID,
                              "inputs[%d].data: arrays nested deeper than "
                              "%d levels", i, INFER_KS_DATA_DEPTH);
    }

    p = infer_ks_ws(p + 1, end);

    if (p < end && *p == ']') {
        goto close;
    }

value:

    if (p == end) {
        goto eof;
    }

    c = *p;

    if (c == '[') {
        goto open;
    }

    if (n == cap) {
        goto too_many;
    }

    s = p;

    if (c == '-' || infer_ks_digit(c)) {
        p = infer_ks_number(s, end, &num);
        if (p == NULL) {
            if (infer_ks_nonfinite(s, end)) {
                goto nonfinite;
            }

            return infer_ks_syntax(ps, s, "invalid number");
        }

        if (dt == INFER_KS_FP32 || dt == INFER_KS_FP64) {
            f = infer_ks_num_float(&num, s, p);

            if (isinf(f)) {
                return infer_ks_error(ps, INFER_KS_INVALID,
                                      "inputs[%d].data[%zu]: %s is out of "
                                      "range for FP32", i, n,
                                      infer_ks_token(tok, s, p - s));
            }

        } else if (dt == INFER_KS_UNKNOWN) {
            f = 0.0f;

        } else {
            rc = infer_ks_num_int(&num, dt, &f);

            if (rc != INFER_KS_OK) {
                if (dt == INFER_KS_BOOL) {
                    goto not_bool;
                }

                return infer_ks_error(ps, INFER_KS_INVALID,
                                      (rc == 1)
                                      ? "inputs[%d].data[%zu]: %s is not "
                                        "an integer (%s)"
                                      : "inputs[%d].data[%zu]: %s is out "
                                        "of range for %s",
                                      i, n, infer_ks_token(tok, s, p - s),
                                      infer_ks_datatype_name(dt));
            }
        }

    } else if ((dt == INFER_KS_BOOL || dt == INFER_KS_UNKNOWN)
               && infer_ks_literal(p, end, "true", 4))
    {
        f = 1.0f;
        p += 4;

    } else if ((dt == INFER_KS_BOOL || dt == INFER_KS_UNKNOWN)
               && infer_ks_literal(p, end, "false", 5))
    {
        f = 0.0f;
        p += 5;

    } else if (dt == INFER_KS_UNKNOWN && c == '"') {
        /* BYTES perhaps: the datatype, once read, will say */
        p = infer_ks_string(ps, p, &esc);
        if (p == NULL) {
            return INFER_KS_ERROR;
        }

        f = 0.0f;

    } else if (infer_ks_nonfinite(s, end)) {
        goto nonfinite;

    } else if (dt == INFER_KS_BOOL) {
        goto not_bool;

    } else {
        return infer_ks_error(ps, INFER_KS_INVALID,
                              "inputs[%d].data[%zu]: expected a number",
                              i, n);
    }

    if (dst) {
        dst[n] = f;
    }

    n++;

    p = infer_ks_ws(p, end);

    if (p < end && *p == ',') {
        p = infer_ks_ws(p + 1, end);
        goto value;
    }

    if (p == end) {
        goto eof;
    }

    if (*p != ']') {
        return infer_ks_syntax(ps, p, "',' or ']' expected");
    }

close:

    p++;

    if (--depth > 0) {
        p = infer_ks_ws(p, end);

        if (p < end && *p == ',') {
            p = infer_ks_ws(p + 1, end);
            goto value;
        }

        if (p < end && *p == ']') {
            goto close;
        }

        if (p == end) {
            goto eof;
        }

        return infer_ks_syntax(ps, p, "',' or ']' expected");
    }

    ps->p = p;

    if (in) {
        in->count = n;
    }

    return INFER_KS_OK;

eof:

    return infer_ks_syntax(ps, p, "unexpected end of input");

nonfinite:

    return infer_ks_error(ps, INFER_KS_FINAL,
                          "inputs[%d].data[%zu]: NaN and Infinity are not "
                          "valid JSON numbers", i, n);

not_bool:

    return infer_ks_error(ps, INFER_KS_INVALID,
                          "inputs[%d].data[%zu]: expected true, false, 0 "
                          "or 1", i, n);

too_many:

    if (ndim >= 0 && in->check_shape
        && in->check_shape(in->check_data, shape, ndim, ps->req->err,
                           sizeof(ps->req->err))
           != 0)
    {
        ps->kind = INFER_KS_INVALID;
        return INFER_KS_ERROR;
    }

    if (ndim >= 0 && (total = infer_ks_total(shape, ndim)) <= cap) {
        return infer_ks_error(ps, INFER_KS_INVALID,
                              "inputs[%d]: shape %s holds %llu values, data "
                              "has more", i, infer_ks_dims(buf, shape, ndim),
                              (unsigned long long) total);
    }

    return infer_ks_error(ps, INFER_KS_INVALID,
                          "inputs[%d].data: more than %zu values, the most "
                          "this input takes", i, cap);
}


static int
infer_ks_outputs(infer_ks_parser_t *ps)
{
    int  i, c;

    if (infer_ks_peek(ps) != '[') {
        return infer_ks_error(ps, INFER_KS_INVALID,
                              "outputs: expected an array of objects");
    }

    ps->p++;

    if (infer_ks_peek(ps) == ']') {
        ps->p++;
        return INFER_KS_OK;
    }

    for (i = 0; /* void */; i++) {

        if (i == INFER_KSERVE_MAX_OUTPUTS) {
            return infer_ks_error(ps, INFER_KS_INVALID,
                                  "outputs: more than %d outputs requested",
                                  INFER_KSERVE_MAX_OUTPUTS);
        }

        if (infer_ks_output(ps, i) != INFER_KS_OK) {
            return INFER_KS_ERROR;
        }

        c = infer_ks_peek(ps);

        if (c == ']') {
            ps->p++;
            return INFER_KS_OK;
        }

        if (c != ',') {
            return infer_ks_syntax(ps, ps->p, "',' or ']' expected");
        }

        ps->p++;
    }
}


static int
infer_ks_output(infer_ks_parser_t *ps, int i)
{
    int                   k, n, rc, seen;
    infer_ks_str_t        raw, *name;
    infer_ks_request_t   *req;

    req = ps->req;
    name = &req->outputs[i];

    if (infer_ks_peek(ps) != '{') {
        return infer_ks_error(ps, INFER_KS_INVALID,
                              "outputs[%d]: expected an object", i);
    }

    ps->p++;
    n = 0;
    seen = 0;

    while ((rc = infer_ks_member(ps, &n, infer_ks_output_keys, &k)) == 1) {

        if (k >= 0 && (seen & (1 << k))) {
            return infer_ks_error(ps, INFER_KS_INVALID,
                                  "outputs[%d]: duplicate key \"%s\"", i,
                                  infer_ks_output_keys[k]);
        }

        if (k >= 0) {
            seen |= 1 << k;
        }

        if (k == 0) {
            rc = infer_ks_string_value(ps, req->scratch + ps->scratch,
                                       sizeof(req->scratch) - ps->scratch,
                                       &raw, name);

            if (rc == INFER_KS_DECLINED) {
                return infer_ks_error(ps, INFER_KS_INVALID,
                                      "outputs[%d].name: expected a string",
                                      i);
            }

            if (rc != INFER_KS_OK) {
                return INFER_KS_ERROR;
            }

            if (name->len == (size_t) -1) {
                return infer_ks_error(ps, INFER_KS_INVALID,
                                      "outputs[%d].name: too long", i);
            }

            if (name->p == req->scratch + ps->scratch) {
                ps->scratch += name->len;
            }

            continue;
        }

        if (k == 1) {
            if (infer_ks_output_parameters(ps, i) != INFER_KS_OK) {
                return INFER_KS_ERROR;
            }

            continue;
        }

        if (infer_ks_skip(ps) != INFER_KS_OK) {
            return INFER_KS_ERROR;
        }
    }

    if (rc != 0) {
        return INFER_KS_ERROR;
    }

    if (!(seen & 1)) {
        return infer_ks_error(ps, INFER_KS_INVALID,
                              "outputs[%d]: missing \"name\"", i);
    }

    req->noutputs = i + 1;

    return INFER_KS_OK;
}


/* "binary_data", the output's own choice; other parameters are skipped */

static int
infer_ks_output_parameters(infer_ks_parser_t *ps, int i)
{
    int           k, n, rc, v;
    signed char  *binary;

    binary = &ps->req->output_binary[i];

    if (infer_ks_peek(ps) != '{') {
        return infer_ks_error(ps, INFER_KS_INVALID,
                              "outputs[%d].parameters: expected an object",
                              i);
    }

    ps->p++;
    n = 0;

    while ((rc = infer_ks_member(ps, &n, infer_ks_output_param_keys, &k))
           == 1)
    {
        if (k != 0) {
            if (infer_ks_skip(ps) != INFER_KS_OK) {
                return INFER_KS_ERROR;
            }

            continue;
        }

        if (*binary != -1) {
            return infer_ks_error(ps, INFER_KS_INVALID,
                                  "outputs[%d].parameters: duplicate key "
                                  "\"binary_data\"", i);
        }

        if (infer_ks_bool_value(ps, &v) != INFER_KS_OK) {
            return infer_ks_error(ps, INFER_KS_INVALID,
                                  "outputs[%d].parameters.binary_data: "
                                  "expected true or false", i);
        }

        *binary = (signed char) v;
    }

    return rc == 0 ? INFER_KS_OK : INFER_KS_ERROR;
}


/*
 * Request parameters: "timeout" is in microseconds, as Triton has it;
 * "binary_data_output" is the outputs' default.
 */

static int
infer_ks_parameters(infer_ks_parser_t *ps)
{
    int                   k, n, v, rc, seen;
    infer_ks_num_t        num;
    const unsigned char  *p;

    if (infer_ks_peek(ps) != '{') {
        return infer_ks_error(ps, INFER_KS_INVALID,
                              "parameters: expected an object");
    }

    ps->p++;
    n = 0;
    seen = 0;

    while ((rc = infer_ks_member(ps, &n, infer_ks_param_keys, &k)) == 1) {

        if (k < 0) {
            if (infer_ks_skip(ps) != INFER_KS_OK) {
                return INFER_KS_ERROR;
            }

            continue;
        }

        if (seen & (1 << k)) {
            return infer_ks_error(ps, INFER_KS_INVALID,
                                  "parameters: duplicate key \"%s\"",
                                  infer_ks_param_keys[k]);
        }

        seen |= 1 << k;

        if (k == 1) {
            if (infer_ks_bool_value(ps, &v) != INFER_KS_OK) {
                return infer_ks_error(ps, INFER_KS_INVALID,
                                      "parameters.binary_data_output: "
                                      "expected true or false");
            }

            ps->req->binary_output = v;
            continue;
        }

        if (!infer_ks_digit(infer_ks_peek(ps))) {
            goto invalid;
        }

        p = infer_ks_number(ps->p, ps->end, &num);
        if (p == NULL) {
            return infer_ks_syntax(ps, ps->p, "invalid number");
        }

        if (!num.integer) {
            goto invalid;
        }

        ps->req->timeout_ms = infer_ks_num_double(&num, ps->p, p) / 1000;
        ps->p = p;
    }

    return rc == 0 ? INFER_KS_OK : INFER_KS_ERROR;

invalid:

    return infer_ks_error(ps, INFER_KS_INVALID,
                          "parameters.timeout: expected a non-negative "
                          "integer (microseconds)");
}


/* true or false at ps->p; INFER_KS_DECLINED: another value */

static int
infer_ks_bool_value(infer_ks_parser_t *ps, int *v)
{
    int  c;

    c = infer_ks_peek(ps);

    if (c == 't' && infer_ks_literal(ps->p, ps->end, "true", 4)) {
        ps->p += 4;
        *v = 1;
        return INFER_KS_OK;
    }

    if (c == 'f' && infer_ks_literal(ps->p, ps->end, "false", 5)) {
        ps->p += 5;
        *v = 0;
        return INFER_KS_OK;
    }

    return INFER_KS_DECLINED;
}


/*
 * The bytes after the JSON, once it is read and valid: the sizes first,
 * then the values of each binary input, in the order of "inputs".  The
 * JSON being known good, errors here are final.
 */

static int
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
            return infer_ks_error(ps, INFER_KS_FINAL,
                                  "%zu bytes follow the JSON (Inference-"
                                  "Header-Content-Length %zu), but no input "
                                  "has parameters.binary_data_size",
                                  ps->bin_len,
                                  (size_t) (ps->end - ps->start));
        }

        return infer_ks_error(ps, INFER_KS_FINAL,
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

        if (infer_ks_binary_values(ps, in, p) != INFER_KS_OK) {
            return INFER_KS_ERROR;
        }

        p += in->binary_size;
    }

    return INFER_KS_OK;
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

    dst = in->dst;
    n = in->count;

    if (n == 0) {
        return INFER_KS_OK;
    }

    switch (in->datatype) {

    case INFER_KS_FP32:
#if INFER_KS_LITTLE
        memcpy(dst, p, n * sizeof(float));
#else
        for (k = 0; k < n; k++) {
            u = infer_ks_le32(p + 4 * k);
            memcpy(&dst[k], &u, sizeof(float));
        }
#endif
        break;

    case INFER_KS_FP16:
        for (k = 0; k < n; k++) {
            dst[k] = infer_f16_to_f32(infer_ks_le16(p + 2 * k));
        }

        break;

    case INFER_KS_BF16:
        for (k = 0; k < n; k++) {
            dst[k] = infer_bf16_to_f32(infer_ks_le16(p + 2 * k));
        }

        break;

    case INFER_KS_FP64:
        for (k = 0; k < n; k++) {
            v = infer_ks_le64(p + 8 * k);
            memcpy(&d, &v, sizeof(double));

            if (!isfinite(d)) {
                goto nonfinite;
            }

            f = (float) d;

            if (isinf(f)) {
                return infer_ks_error(ps, INFER_KS_FINAL,
                                      "inputs[%d]: binary FP64 data holds "
                                      "%.9g at [%zu], out of range for "
                                      "FP32", in->index, d, k);
            }

            dst[k] = f;
        }

        return INFER_KS_OK;

    case INFER_KS_BOOL:
        for (k = 0; k < n; k++) {
            if (p[k] > 1) {
                return infer_ks_error(ps, INFER_KS_FINAL,
                                      "inputs[%d]: binary BOOL data holds "
                                      "%u at [%zu], expected 0 or 1",
                                      in->index, p[k], k);
            }

            dst[k] = (float) p[k];
        }

        return INFER_KS_OK;

    case INFER_KS_UINT8:
        for (k = 0; k < n; k++) {
            dst[k] = (float) p[k];
        }

        return INFER_KS_OK;

    case INFER_KS_INT8:
        for (k = 0; k < n; k++) {
            dst[k] = (float) (int8_t) p[k];
        }

        return INFER_KS_OK;

    case INFER_KS_UINT16:
        for (k = 0; k < n; k++) {
            dst[k] = (float) infer_ks_le16(p + 2 * k);
        }

        return INFER_KS_OK;

    case INFER_KS_INT16:
        for (k = 0; k < n; k++) {
            dst[k] = (float) (int16_t) infer_ks_le16(p + 2 * k);
        }

        return INFER_KS_OK;

    case INFER_KS_UINT32:
        for (k = 0; k < n; k++) {
            dst[k] = (float) infer_ks_le32(p + 4 * k);
        }

        return INFER_KS_OK;

    case INFER_KS_INT32:
        for (k = 0; k < n; k++) {
            dst[k] = (float) (int32_t) infer_ks_le32(p + 4 * k);
        }

        return INFER_KS_OK;

    case INFER_KS_UINT64:
        for (k = 0; k < n; k++) {
            dst[k] = (float) infer_ks_le64(p + 8 * k);
        }

        return INFER_KS_OK;

    case INFER_KS_INT64:
        for (k = 0; k < n; k++) {
            dst[k] = (float) (int64_t) infer_ks_le64(p + 8 * k);
        }

        return INFER_KS_OK;

    default:
        /* BYTES and the unknown are refused with the datatype */
        return INFER_KS_OK;
    }

    if (!infer_ks_nonfinite_f32(dst, n)) {
        return INFER_KS_OK;
    }

    for (k = 0; isfinite(dst[k]); k++) {
        /* void */
    }

nonfinite:

    return infer_ks_error(ps, INFER_KS_FINAL,
                          "inputs[%d]: binary data holds NaN or Infinity at "
                          "[%zu]", in->index, k);
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


/*
 * Reads the next member of an object whose '{' and *n members were read:
 * returns 1 with ps->p at the value and *k the index of the key in keys
 * (-1: another key), 0 at the end of the object, or INFER_KS_ERROR.
 */

static int
infer_ks_member(infer_ks_parser_t *ps, int *n, const char *const *keys,
    int *k)
{
    int             c;
    char            buf[32];
    infer_ks_str_t  raw, key;

    c = infer_ks_peek(ps);

    if (c == '}') {
        ps->p++;
        return 0;
    }

    if (*n > 0) {
        if (c != ',') {
            return infer_ks_syntax(ps, ps->p, "',' or '}' expected");
        }

        ps->p++;
        c = infer_ks_peek(ps);

    } else if (c != '"') {
        return infer_ks_syntax(ps, ps->p, "string or '}' expected");
    }

    if (c != '"') {
        return infer_ks_syntax(ps, ps->p, "string expected");
    }

    if (infer_ks_string_value(ps, buf, sizeof(buf), &raw, &key)
        != INFER_KS_OK)
    {
        return INFER_KS_ERROR;
    }

    if (infer_ks_peek(ps) != ':') {
        return infer_ks_syntax(ps, ps->p, "':' expected");
    }

    ps->p++;
    (*n)++;

    for (*k = 0; keys[*k] != NULL; (*k)++) {
        if (key.len == strlen(keys[*k])
            && memcmp(key.p, keys[*k], key.len) == 0)
        {
            return 1;
        }
    }

    *k = -1;

    return 1;
}


/*
 * Checks and skips one value of any kind; iterative, with one bit per
 * level telling objects from arrays.
 */

static int
infer_ks_skip(infer_ks_parser_t *ps)
{
    int                   esc, obj;
    size_t                n, depth;
    unsigned char         stack[INFER_KS_MAX_DEPTH / 8];
    infer_ks_num_t        num;
    const unsigned char  *p, *q, *end;

    p = ps->p;
    end = ps->end;
    depth = 0;

value:

    p = infer_ks_ws(p, end);

    if (p == end) {
        goto eof;
    }

    switch (*p) {

    case '{':
    case '[':
        if (depth == INFER_KS_MAX_DEPTH) {
            return infer_ks_syntax(ps, p, "nested too deeply");
        }

        obj = (*p == '{');

        if (obj) {
            stack[depth / 8] |= 1 << (depth % 8);
        } else {
            stack[depth / 8] &= ~(1 << (depth % 8));
        }

        depth++;
        p = infer_ks_ws(p + 1, end);

        if (p < end && *p == (obj ? '}' : ']')) {
            p++;
            depth--;
            goto next;
        }

        if (obj) {
            goto key;
        }

        goto value;

    case '"':
        p = infer_ks_string(ps, p, &esc);
        if (p == NULL) {
            return INFER_KS_ERROR;
        }

        break;

    case 't':
    case 'f':
    case 'n':
        n = (*p == 'f') ? 5 : 4;

        if (!infer_ks_literal(p, end, (*p == 't') ? "true"
                                      : (*p == 'f') ? "false" : "null", n))
        {
            return infer_ks_syntax(ps, p, "invalid literal");
        }

        p += n;
        break;

    default:
        q = infer_ks_number(p, end, &num);
        if (q == NULL) {
            return infer_ks_syntax(ps, p, "invalid token");
        }

        p = q;
    }

next:

    if (depth == 0) {
        ps->p = p;
        return INFER_KS_OK;
    }

    p = infer_ks_ws(p, end);

    if (p == end) {
        goto eof;
    }

    obj = stack[(depth - 1) / 8] & (1 << ((depth - 1) % 8));

    if (*p == ',') {
        p++;

        if (obj) {
            goto key;
        }

        goto value;
    }

    if (*p == (obj ? '}' : ']')) {
        p++;
        depth--;
        goto next;
    }

    return infer_ks_syntax(ps, p, obj ? "',' or '}' expected"
                                      : "',' or ']' expected");

key:

    p = infer_ks_ws(p, end);

    if (p == end) {
        goto eof;
    }

    if (*p != '"') {
        return infer_ks_syntax(ps, p, "string expected");
    }

    p = infer_ks_string(ps, p, &esc);
    if (p == NULL) {
        return INFER_KS_ERROR;
    }

    p = infer_ks_ws(p, end);

    if (p == end) {
        goto eof;
    }

    if (*p != ':') {
        return infer_ks_syntax(ps, p, "':' expected");
    }

    p++;
    goto value;

eof:

    return infer_ks_syntax(ps, p, "unexpected end of input");
}


/* the whole body is one JSON value */

static int
infer_ks_validate(infer_ks_parser_t *ps)
{
    ps->p = ps->start;

    if (infer_ks_skip(ps) != INFER_KS_OK) {
        return INFER_KS_ERROR;
    }

    if (infer_ks_peek(ps) != -1) {
        return infer_ks_syntax(ps, ps->p, "end of file expected");
    }

    return INFER_KS_OK;
}


/*
 * Jansson's message for malformed JSON, unless jansson accepts the body or
 * stops before the error found here (on what RFC 8259 allows and jansson
 * does not, as integers beyond 64 bits): then the position found here.
 */

static void
infer_ks_malformed(infer_ks_parser_t *ps)
{
    size_t                line, col, at;
    json_t               *json;
    json_error_t          jerr;
    const unsigned char  *p;

    at = ps->err_at - ps->start;

    json = json_loadb((const char *) ps->start, ps->end - ps->start,
                      JSON_ALLOW_NUL, &jerr);

    if (json == NULL && jerr.position >= 0 && (size_t) jerr.position >= at) {
        snprintf(ps->req->err, INFER_KSERVE_ERRLEN,
                 "malformed JSON at line %d, column %d: %s", jerr.line,
                 jerr.column, jerr.text);
        return;
    }

    json_decref(json);

    line = 1;
    col = 1;

    for (p = ps->start; p < ps->err_at; p++) {
        if (*p == '\n') {
            line++;
            col = 1;

        } else {
            col++;
        }
    }

    snprintf(ps->req->err, INFER_KSERVE_ERRLEN,
             "malformed JSON at line %zu, column %zu: %s", line, col,
             ps->err_text);
}


/*
 * Scans the string that starts with the quote at p: escapes, control
 * characters and UTF-8 are checked.  Returns the position after the
 * closing quote, or NULL with a syntax error.
 */

static const unsigned char *
infer_ks_string(infer_ks_parser_t *ps, const unsigned char *p, int *esc)
{
    int                   u;
    size_t                n;
    const unsigned char  *end;

    end = ps->end;
    p++;

    for ( ;; ) {

        if (p == end) {
            infer_ks_syntax(ps, p, "unterminated string");
            return NULL;
        }

        if (*p == '"') {
            return p + 1;
        }

        if (*p < 0x20) {
            infer_ks_syntax(ps, p, "control character in string");
            return NULL;
        }

        if (*p < 0x80 && *p != '\\') {
            p++;
            continue;
        }

        if (*p >= 0x80) {
            n = infer_ks_utf8(p, end);
            if (n == 0) {
                infer_ks_syntax(ps, p, "invalid UTF-8 in string");
                return NULL;
            }

            p += n;
            continue;
        }

        *esc = 1;

        if (p + 1 == end) {
            infer_ks_syntax(ps, p + 1, "unterminated string");
            return NULL;
        }

        switch (p[1]) {

        case '"': case '\\': case '/': case 'b':
        case 'f': case 'n': case 'r': case 't':
            p += 2;
            continue;

        case 'u':
            u = infer_ks_hex4(p + 2, end);

            if (u >= 0xd800 && u <= 0xdbff) {
                if (end - p < 12 || p[6] != '\\' || p[7] != 'u') {
                    u = -1;

                } else {
                    u = infer_ks_hex4(p + 8, end);
                    u = (u >= 0xdc00 && u <= 0xdfff) ? 0 : -1;
                    p += 6;
                }

            } else if (u >= 0xdc00 && u <= 0xdfff) {
                u = -1;
            }

            if (u < 0) {
                infer_ks_syntax(ps, p, "invalid \\u escape in string");
                return NULL;
            }

            p += 6;
            continue;

        default:
            infer_ks_syntax(ps, p, "invalid escape in string");
            return NULL;
        }
    }
}


/*
 * Reads the string value at ps->p: *raw is the token with its quotes, and
 * *val its contents, unescaped into buf if needed (val->len is (size_t) -1
 * if buf is too small).  INFER_KS_DECLINED: the value is not a string.
 */

static int
infer_ks_string_value(infer_ks_parser_t *ps, char *buf, size_t size,
    infer_ks_str_t *raw, infer_ks_str_t *val)
{
    int                   esc;
    const unsigned char  *s;

    if (infer_ks_peek(ps) != '"') {
        return INFER_KS_DECLINED;
    }

    s = ps->p;
    esc = 0;
    ps->p = infer_ks_string(ps, s, &esc);
    if (ps->p == NULL) {
        return INFER_KS_ERROR;
    }

    raw->p = (const char *) s;
    raw->len = ps->p - s;
    val->p = raw->p + 1;
    val->len = raw->len - 2;

    if (esc) {
        val->len = infer_ks_unescape(buf, size, s + 1, val->len);
        val->p = buf;
    }

    return INFER_KS_OK;
}


/* the length of the valid UTF-8 sequence at p, or 0 */

static size_t
infer_ks_utf8(const unsigned char *p, const unsigned char *end)
{
    size_t    i, n;
    unsigned  lo, hi;

    lo = 0x80;
    hi = 0xbf;

    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        n = 2;

    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        n = 3;
        lo = (p[0] == 0xe0) ? 0xa0 : 0x80;
        hi = (p[0] == 0xed) ? 0x9f : 0xbf;      /* no surrogates */

    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        n = 4;
        lo = (p[0] == 0xf0) ? 0x90 : 0x80;
        hi = (p[0] == 0xf4) ? 0x8f : 0xbf;      /* up to U+10FFFF */

    } else {
        return 0;
    }

    if ((size_t) (end - p) < n || p[1] < lo || p[1] > hi) {
        return 0;
    }

    for (i = 2; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }
    }

    return n;
}


static int
infer_ks_hex4(const unsigned char *p, const unsigned char *end)
{
    int  i, c, u;

    if (end - p < 4) {
        return -1;
    }

    u = 0;

    for (i = 0; i < 4; i++) {
        c = p[i];

        if (infer_ks_digit(c)) {
            c -= '0';

        } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
            c = (c | 0x20) - 'a' + 10;

        } else {
            return -1;
        }

        u = (u << 4) | c;
    }

    return u;
}


/*
 * Unescapes the contents of a string checked by infer_ks_string() into
 * dst; returns the length, or (size_t) -1 when it does not fit.
 */

static size_t
infer_ks_unescape(char *dst, size_t size, const unsigned char *s, size_t len)
{
    size_t                n;
    uint32_t              u;
    const unsigned char  *end;

    end = s + len;
    n = 0;

    while (s < end) {

        if (*s != '\\') {
            u = *s++;

            if (n == size) {
                return (size_t) -1;
            }

            dst[n++] = (char) u;
            continue;
        }

        switch (s[1]) {
        case 'b': u = '\b'; break;
        case 'f': u = '\f'; break;
        case 'n': u = '\n'; break;
        case 'r': u = '\r'; break;
        case 't': u = '\t'; break;

        case 'u':
            u = infer_ks_hex4(s + 2, end);

            if (u >= 0xd800 && u <= 0xdbff) {
                u = 0x10000 + ((u - 0xd800) << 10)
                    + (infer_ks_hex4(s + 8, end) - 0xdc00);
                s += 6;
            }

            s += 4;
            break;

        default:
            u = s[1];
        }

        s += 2;

        if (size - n < 4) {
            return (size_t) -1;
        }

        if (u < 0x80) {
            dst[n++] = (char) u;

        } else if (u < 0x800) {
            dst[n++] = (char) (0xc0 | (u >> 6));
            dst[n++] = (char) (0x80 | (u & 0x3f));

        } else if (u < 0x10000) {
            dst[n++] = (char) (0xe0 | (u >> 12));
            dst[n++] = (char) (0x80 | ((u >> 6) & 0x3f));
            dst[n++] = (char) (0x80 | (u & 0x3f));

        } else {
            dst[n++] = (char) (0xf0 | (u >> 18));
            dst[n++] = (char) (0x80 | ((u >> 12) & 0x3f));
            dst[n++] = (char) (0x80 | ((u >> 6) & 0x3f));
            dst[n++] = (char) (0x80 | (u & 0x3f));
        }
    }

    return n;
}


/*
 * Scans a number token at p (p < end) by the JSON grammar; returns the
 * position after it, or NULL.
 */

static INFER_KS_INLINE const unsigned char *
infer_ks_number(const unsigned char *p, const unsigned char *end,
    infer_ks_num_t *n)
{
    int       d, neg;
    int64_t   x;

    n->m = 0;
    n->e = 0;
    n->trunc = 0;
    n->integer = 1;
    neg = (*p == '-');

    if (neg && ++p == end) {
        return NULL;
    }

    if (*p == '0') {
        p++;

    } else if (*p >= '1' && *p <= '9') {
        p = infer_ks_digits(p, end, n, 0);

    } else {
        return NULL;
    }

    if (p < end && *p == '.') {
        n->integer = 0;

        if (++p == end || !infer_ks_digit(*p)) {
            return NULL;
        }

        p = infer_ks_digits(p, end, n, 1);
    }

    if (p < end && (*p == 'e' || *p == 'E')) {
        n->integer = 0;

        if (++p < end && (*p == '-' || *p == '+')) {
            d = (*p++ == '-');

        } else {
            d = 0;
        }

        if (p == end || !infer_ks_digit(*p)) {
            return NULL;
        }

        x = 0;

        do {
            if (x < 100000000) {
                x = x * 10 + (*p - '0');
            }

            p++;

        } while (p < end && infer_ks_digit(*p));

        n->e += d ? -x : x;
    }

    n->neg = neg;

    return p;
}


/*
 * Adds the digits at p to n->m while it can take them (up to 20), eight
 * at a time where the byte order allows; the digits of a fraction lower
 * the exponent, those of an integer part that m cannot take raise it.
 */

static INFER_KS_INLINE const unsigned char *
infer_ks_digits(const unsigned char *p, const unsigned char *end,
    infer_ks_num_t *n, int frac)
{
    int       d;
    int64_t   e;
    uint64_t  m;
#if INFER_KS_SWAR
    uint64_t  w;
#endif

    m = n->m;
    e = n->e;

#if INFER_KS_SWAR

    while (end - p >= 8 && m < 100000000000ULL) {
        memcpy(&w, p, 8);

        /* each byte is 0x30 to 0x39 */
        if (((w & 0xf0f0f0f0f0f0f0f0ULL)
             | (((w + 0x0606060606060606ULL) & 0xf0f0f0f0f0f0f0f0ULL) >> 4))
            != 0x3333333333333333ULL)
        {
            break;
        }

        /* pairs, then quads, then all eight; the first byte is the lowest */
        w -= 0x3030303030303030ULL;
        w = (w * 10 + (w >> 8)) & 0x00ff00ff00ff00ffULL;
        w = (w * 100 + (w >> 16)) & 0x0000ffff0000ffffULL;
        w = (w * 10000 + (w >> 32)) & 0xffffffffULL;

        m = m * 100000000 + w;
        e -= 8 * frac;
        p += 8;
    }

#endif

    for ( /* void */ ; p < end && infer_ks_digit(*p); p++) {
        d = *p - '0';

        if (m < INFER_KS_M_MAX || (m == INFER_KS_M_MAX && d <= 5)) {
            m = m * 10 + d;
            e -= frac;

        } else {
            e += !frac;
            n->trunc |= (d != 0);
        }
    }

    n->m = m;
    n->e = e;

    return p;
}


/* "NaN", "Infinity", "-Infinity": what Python's json writes */

static int
infer_ks_nonfinite(const unsigned char *p, const unsigned char *end)
{
    if (end - p >= 3 && memcmp(p, "NaN", 3) == 0) {
        return 1;
    }

    if (p < end && *p == '-') {
        p++;
    }

    return end - p >= 8 && memcmp(p, "Infinity", 8) == 0;
}


/*
 * (float) strtod() of the token [s, end) scanned into n.  Past Clinger's
 * exact case, d is within 3 ulps of m * 10^e: if it is more than 16 ulps
 * away from every point where rounding to float changes (the low 29 bits
 * of a double being 0x10000000), the exact double rounds to the same
 * float.  What is near such a point, and floats out of the normal range,
 * go to strtod().
 */

static INFER_KS_INLINE float
infer_ks_num_float(const infer_ks_num_t *n, const unsigned char *s,
    const unsigned char *end)
{
    int       e;
    float     f;
    double    d;
    uint64_t  bits, be, low;

    if (n->m == 0) {
        return n->neg ? -0.0f : 0.0f;
    }

    if (n->trunc || n->e < -66 || n->e > 38) {
        return (float) infer_ks_strtod(s, end);
    }

    e = (int) n->e;
    d = (double) n->m;

    if (n->m <= (1ULL << 53) && e >= -22 && e <= 22) {
        d = (e < 0) ? d / infer_ks_pow10[-e] : d * infer_ks_pow10[e];
        f = (float) d;
        return n->neg ? -f : f;
    }

    d = infer_ks_scale(d, e);

    memcpy(&bits, &d, sizeof(double));
    be = bits >> 52;
    low = bits & 0x1fffffff;

    if (be < 1023 - 126 || be > 1023 + 127
        || low - (0x10000000 - 16) < 32)
    {
        return (float) infer_ks_strtod(s, end);
    }

    f = (float) d;

    return n->neg ? -f : f;
}


static double
infer_ks_num_double(const infer_ks_num_t *n, const unsigned char *s,
    const unsigned char *end)
{
    double  d;

    if (n->m == 0) {
        return n->neg ? -0.0 : 0.0;
    }

    if (!n->trunc && n->m <= (1ULL << 53) && n->e >= -22 && n->e <= 22) {
        d = (double) n->m;
        d = (n->e < 0) ? d / infer_ks_pow10[-n->e] : d * infer_ks_pow10[n->e];
        return n->neg ? -d : d;
    }

    return infer_ks_strtod(s, end);
}


/*
 * An integral value within the range of dt, exactly: returns INFER_KS_OK,
 * 1 for a value that is not an integer, 2 for one out of range.
 */

static int
infer_ks_num_int(const infer_ks_num_t *n, infer_ks_datatype_e dt, float *f)
{
    int64_t   e;
    uint64_t  m;

    if (n->trunc) {
        /*
         * m, of 19 or 20 digits, could take no more: nonzero digits went
         * beyond the point (e <= 0) or the value is 2^64 and more
         */
        return (n->e <= 0) ? 1 : 2;
    }

    m = n->m;
    e = n->e;

    if (m == 0) {
        *f = 0.0f;
        return INFER_KS_OK;
    }

    while (e < 0 && m % 10 == 0) {
        m /= 10;
        e++;
    }

    if (e < 0) {
        return 1;
    }

    for ( /* void */ ; e > 0; e--) {
        if (m > UINT64_MAX / 10) {
            return 2;
        }

        m *= 10;
    }

    if (m > (n->neg ? infer_ks_int_neg[dt] : infer_ks_int_max[dt])) {
        return 2;
    }

    *f = n->neg ? -(float) m : (float) m;

    return INFER_KS_OK;
}


/*
 * The exact double of a number token, by strtod() on a NUL-terminated
 * copy of its significant digits (see INFER_KS_DIGITS) with an exponent.
 */

static double
infer_ks_strtod(const unsigned char *p, const unsigned char *end)
{
    int       frac, sticky;
    char      buf[INFER_KS_DIGITS + 32];
    size_t    n, i;
    int64_t   e, x;

    i = 0;
    n = 0;
    e = 0;
    frac = 0;
    sticky = 0;

    if (*p == '-') {
        buf[i++] = '-';
        p++;
    }

    for ( /* void */ ; p < end; p++) {

        if (*p == '.') {
            frac = 1;
            continue;
        }

        if (!infer_ks_digit(*p)) {
            break;
        }

        if (n == 0 && *p == '0') {
            e -= frac;
            continue;
        }

        if (n < INFER_KS_DIGITS) {
            buf[i + n++] = *p;
            e -= frac;

        } else {
            e += !frac;
            sticky |= (*p != '0');
        }
    }

    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        frac = (*p == '-');

        if (*p == '-' || *p == '+') {
            p++;
        }

        for (x = 0; p < end && infer_ks_digit(*p); p++) {
            if (x < 100000000) {
                x = x * 10 + (*p - '0');
            }
        }

        e += frac ? -x : x;
    }

    if (n == 0) {
        return (i > 0) ? -0.0 : 0.0;
    }

    if (sticky) {
        buf[i + n++] = '1';
        e--;
    }

    snprintf(buf + i + n, 24, "e%lld", (long long) e);

    return strtod(buf, NULL);
}


/* x * 10^n, rounded once per power of ten (at most 3 times here) */

static double
infer_ks_scale(double x, int n)
{
    while (n > 22) {
        x *= 1e22;
        n -= 22;
    }

    while (n < -22) {
        x /= 1e22;
        n += 22;
    }

    return (n < 0) ? x / infer_ks_pow10[-n] : x * infer_ks_pow10[n];
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


/*
 * The shortest decimal that reads back as v.  The 9 significant digits d9
 * always do; fewer digits p are tried downwards from there, each time the
 * two p-digit neighbours of v, while one of them lies inside the rounding
 * interval of v, (lo, hi).
 *
 * Scaled by 10^(8 - k) like d9, a candidate is an integer and the bounds
 * are within 1e-6 of sl and sh, so most candidates are settled there.
 * Near a bound, the check is done on y = c * 10^q: with an exact power of
 * ten, y is rounded once and rounding is monotonic, so "lo < y" is exact,
 * and y == lo is checked for being exact (halfway rounds to an even
 * significand, so then lo itself reads back as v); otherwise a margin of
 * 2^-48 covers the error, and no decimal c * 10^q with |q| > 22 and c of
 * 9 digits is ever halfway between floats.
 */

size_t
infer_ks_write_float(char *dst, float v)
{
    int       k, p, q, n, e10, even, fixed, i;
    char     *out, digits[12];
    double    d, lo, hi, sl, sh, half, x, y;
    uint32_t  bits, be, frac, d9, c, best, div, r;
    uint64_t  hbits;
    size_t    flen, elen;

    memcpy(&bits, &v, sizeof(float));
    be = (bits >> 23) & 0xff;
    frac = bits & 0x7fffff;

    if (be == 0xff) {
        memcpy(dst, "null", 4);
        return 4;
    }

    out = dst;

    if (bits >> 31) {
        *out++ = '-';
    }

    if (be == 0 && frac == 0) {
        *out++ = '0';
        return out - dst;
    }

    d = fabs((double) v);

    hbits = (uint64_t) ((be ? (int) be : 1) - 151 + 1023) << 52;
    memcpy(&half, &hbits, sizeof(double));
    hi = d + half;
    lo = (frac == 0 && be > 1) ? d - half / 2 : d - half;
    even = !(bits & 1);

    /* k = floor(log10(d)), estimated from the binary exponent and fixed */
    memcpy(&hbits, &d, sizeof(double));
    k = (int) (hbits >> 52) - 1023;
    k = (k >= 0) ? (k * 1233) >> 12 : -((-k * 1233 + 4095) >> 12);

    for ( ;; ) {
        d9 = (uint32_t) (infer_ks_scale(d, 8 - k) + 0.5);

        if (d9 >= 1000000000) {
            k++;

        } else if (d9 < 100000000) {
            k--;

        } else {
            break;
        }
    }

    sl = infer_ks_scale(lo, 8 - k);
    sh = infer_ks_scale(hi, 8 - k);

    best = d9;
    p = 9;

    while (best % 10 == 0) {
        best /= 10;
        p--;
    }

    while (p > 1) {
        div = infer_ks_pow10u[10 - p];
        c = d9 / div;
        r = d9 % div;
        q = k - p + 2;

        /* the nearer neighbour first */
        if (2 * r >= div) {
            c++;
        }

        for (i = 0; i < 2; i++) {
            x = (double) (c * div);

            if (x > sl + 1e-3 && x < sh - 1e-3) {
                break;
            }

            if (x > sl - 1e-3 && x < sh + 1e-3) {
                y = infer_ks_scale((double) c, q);

                if ((q >= -22 && q <= 22)
                    ? (lo < y && y < hi)
                      || ((y == lo || y == hi) && even
                          && infer_ks_exact((double) c, q, y))
                    : (lo * (1 + 0x1p-48) < y && y < hi * (1 - 0x1p-48)))
                {
                    break;
                }
            }

            c = (2 * r >= div) ? c - 1 : c + 1;
        }

        if (i == 2) {
            break;
        }

        best = c;
        p--;
    }

    /* v is best * 10^(k - p + 1), where best may be 10^p */

    n = 0;

    do {
        digits[n++] = (char) ('0' + best % 10);
        best /= 10;
    } while (best);

    e10 = k - p + n;

    while (digits[0] == '0') {
        memmove(digits, digits + 1, --n);
    }

    /* digits[] holds n digits, the last first: v is d.ddd * 10^e10 */

    flen = (e10 >= 0) ? ((n > e10 + 1) ? n + 1 : e10 + 1) : n + 1 - e10;
    elen = n + (n > 1) + 4;
    fixed = (flen <= elen);

    if (fixed && e10 < 0) {
        *out++ = '0';
        *out++ = '.';

        for (i = -1; i > e10; i--) {
            *out++ = '0';
        }
    }

    for (i = n - 1; i >= 0; i--) {
        *out++ = digits[i];

        if (i > 0 && (fixed ? n - 1 - i == e10 : i == n - 1)) {
            *out++ = '.';
        }
    }

    if (fixed) {
        for (i = n - 1; i < e10; i++) {
            *out++ = '0';
        }

        return out - dst;
    }

    *out++ = 'e';
    *out++ = (e10 < 0) ? '-' : '+';
    e10 = abs(e10);
    *out++ = (char) ('0' + e10 / 10);
    *out++ = (char) ('0' + e10 % 10);

    return out - dst;
}


/* c * 10^q == y, exactly (|q| <= 22) */

static int
infer_ks_exact(double c, int q, double y)
{
    if (q >= 0) {
        return fma(c, infer_ks_pow10[q], -y) == 0;
    }

    return fma(y, infer_ks_pow10[-q], -c) == 0;
}


size_t
infer_ks_write_string(char *dst, const char *s, size_t len)
{
    char                 *p;
    unsigned char         c;
    const unsigned char  *end, *q;

    static const char     hex[] = "0123456789abcdef";

    p = dst;
    *p++ = '"';

    q = (const unsigned char *) s;
    end = q + len;

    for ( /* void */ ; q < end; q++) {
        c = *q;

        if (c >= 0x20 && c != '"' && c != '\\') {
            *p++ = (char) c;
            continue;
        }

        *p++ = '\\';

        switch (c) {
        case '"':  *p++ = '"'; break;
        case '\\': *p++ = '\\'; break;
        case '\b': *p++ = 'b'; break;
        case '\f': *p++ = 'f'; break;
        case '\n': *p++ = 'n'; break;
        case '\r': *p++ = 'r'; break;
        case '\t': *p++ = 't'; break;
        default:
            *p++ = 'u';
            *p++ = '0';
            *p++ = '0';
            *p++ = hex[c >> 4];
            *p++ = hex[c & 0xf];
        }
    }

    *p++ = '"';

    return p - dst;
}


size_t
infer_ks_write_binary_header(char *dst, const char *model_name,
    size_t model_len, const char *id, size_t id_len, const char *output_name,
    size_t rows, size_t cols)
{
    char  *p;

    p = dst;

    memcpy(p, "{\"model_name\":", sizeof("{\"model_name\":") - 1);
    p += sizeof("{\"model_name\":") - 1;
    p += infer_ks_write_string(p, model_name, model_len);

    memcpy(p, ",\"model_version\":\"1\"",
           sizeof(",\"model_version\":\"1\"") - 1);
    p += sizeof(",\"model_version\":\"1\"") - 1;

    if (id != NULL && id_len != 0) {
        memcpy(p, ",\"id\":", sizeof(",\"id\":") - 1);
        p += sizeof(",\"id\":") - 1;
        memcpy(p, id, id_len);
        p += id_len;
    }

    memcpy(p, ",\"outputs\":[{\"name\":",
           sizeof(",\"outputs\":[{\"name\":") - 1);
    p += sizeof(",\"outputs\":[{\"name\":") - 1;
    p += infer_ks_write_string(p, output_name, strlen(output_name));

    /* at most 129 bytes with its NUL: the room asked for has 256 */
    p += sprintf(p, ",\"datatype\":\"FP32\",\"shape\":[%zu,%zu],"
                 "\"parameters\":{\"binary_data_size\":%llu}}]}", rows, cols,
                 (unsigned long long) rows * cols * sizeof(float));

    return p - dst;
}


/* a token for a message: at most INFER_KS_TOKEN bytes, then "..." */

static const char *
infer_ks_token(char *buf, const void *p, size_t len)
{
    size_t                n;
    const unsigned char  *s;

    s = p;

    if (len <= INFER_KS_TOKEN) {
        memcpy(buf, s, len);
        buf[len] = '\0';
        return buf;
    }

    /* not in the middle of a UTF-8 sequence */
    n = INFER_KS_TOKEN;

    while ((s[n] & 0xc0) == 0x80) {
        n--;
    }

    memcpy(buf, s, n);
    memcpy(buf + n, "...", 4);

    return buf;
}


/*
 * Makes a message valid UTF-8: drops a sequence cut short by its end, and
 * turns into '?' any other byte that starts no valid sequence (jansson
 * quotes the token it stopped in, which may end inside a sequence:
 * "invalid escape near '"\u12\xe2'").
 */

static void
infer_ks_utf8_fix(char *err)
{
    size_t          n;
    unsigned char  *p, *q, *end;

    p = (unsigned char *) err;
    end = p + strlen(err);

    while (p < end) {

        if (*p < 0x80) {
            p++;
            continue;
        }

        n = infer_ks_utf8(p, end);

        if (n) {
            p += n;
            continue;
        }

        for (q = p + 1; q < end && (*q & 0xc0) == 0x80; q++) {
            /* void */
        }

        if (q == end && end - p < 4) {
            *p = '\0';
            return;
        }

        *p++ = '?';
    }
}


/* the product of the dimensions, UINT64_MAX if it does not fit */

static uint64_t
infer_ks_total(const int64_t *shape, int ndim)
{
    int       d;
    uint64_t  total;

    total = 1;

    for (d = 0; d < ndim; d++) {
        if (shape[d] == 0) {
            return 0;
        }
    }

    for (d = 0; d < ndim; d++) {
        if (total > UINT64_MAX / (uint64_t) shape[d]) {
            return UINT64_MAX;
        }

        total *= (uint64_t) shape[d];
    }

    return total;
}


/* "[2, 64]"; buf has room for INFER_KSERVE_MAX_DIMS * 22 + 2 bytes */

static const char *
infer_ks_dims(char *buf, const int64_t *shape, int ndim)
{
    int     d;
    size_t  pos;

    pos = 0;
    infer_ks_cat(buf, INFER_KSERVE_MAX_DIMS * 22 + 2, &pos, "[");

    for (d = 0; d < ndim; d++) {
        infer_ks_cat(buf, INFER_KSERVE_MAX_DIMS * 22 + 2, &pos, "%s%lld",
                     d ? ", " : "", (long long) shape[d]);
    }

    infer_ks_cat(buf, INFER_KSERVE_MAX_DIMS * 22 + 2, &pos, "]");

    return buf;
}


static void
infer_ks_cat(char *buf, size_t size, size_t *pos, const char *fmt, ...)
{
    int      n;
    va_list  args;

    if (*pos >= size) {
        return;
    }

    va_start(args, fmt);
    n = vsnprintf(buf + *pos, size - *pos, fmt, args);
    va_end(args);

    if (n > 0) {
        *pos += n;
    }
}


static int
infer_ks_error(infer_ks_parser_t *ps, int kind, const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    vsnprintf(ps->req->err, INFER_KSERVE_ERRLEN, fmt, args);
    va_end(args);

    ps->kind = kind;

    return INFER_KS_ERROR;
}


static int
infer_ks_syntax(infer_ks_parser_t *ps, const unsigned char *at,
    const char *text)
{
    ps->kind = INFER_KS_SYNTAX;
    ps->err_at = at;
    ps->err_text = text;

    return INFER_KS_ERROR;
}
