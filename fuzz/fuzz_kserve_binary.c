/*
 * ngx_infer fuzzing: the binary tensor data extension and the writers.
 *
 * The input is two bytes, a little-endian json_len (the Inference-Header-
 * Content-Length; values past the body are folded into 0 .. len + 1, so
 * that too large a one is tried too), then the body, which ends where
 * libFuzzer's buffer ends.  infer_ks_decode_binary() decodes it once per
 * model below, into dst buffers of exactly cap floats.  Then:
 *
 *   - on success, each binary input's values are what a plain reference
 *     conversion makes of its bytes, taken in the order of "inputs" (FP16
 *     and BF16 exactly, no NaN or Infinity, FP64 within FP32 range, BOOL
 *     0 or 1), and the sizes add up to the bytes after the JSON; a BYTES
 *     input's strings (the models with one) are spans of the body where
 *     a plain reading of the lengths puts them, taking exactly
 *     binary_data_size, valid UTF-8 by jansson's json_stringn();
 *   - an error that names a bad binary value at [k], or a BYTES element k
 *     that is not valid UTF-8, is right about k; one that says a BYTES
 *     input's lengths are wrong is right about that;
 *   - infer_ks_output_binary() answers, for every output named and for
 *     others, what the request's parameters say;
 *   - infer_ks_write_float() on floats from the input and on the values
 *     decoded: at most 16 bytes, JSON, reads back (strtof) as the same
 *     float, and no shorter "%.*e" does; NaN and Infinity are null;
 *   - infer_ks_write_string() and infer_ks_write_binary_header() on bytes
 *     of the input, into buffers of exactly the room their comments ask
 *     for: what they write is JSON that jansson reads back as what was
 *     given, whenever the strings given are valid UTF-8.
 *
 * A failed check aborts, which libFuzzer reports as a crash.
 */

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "infer_kserve.h"


typedef struct {
    const char   *names[2];
    int           ninputs;
    size_t        cap;
    int           hook;
    unsigned      bytes;          /* bit j: input j takes BYTES */
} fuzz_model_t;


static const fuzz_model_t  fuzz_models[] = {
    { { "input", NULL }, 1, 4, 0, 0 },
    { { "input", NULL }, 1, 4096, 1, 0 },
    { { "a", "input" }, 2, 64, 0, 0 },
    { { "input", NULL }, 1, 4, 0, 1 },
    { { "input", NULL }, 1, 4096, 1, 1 },
    { { "a", "input" }, 2, 64, 0, 1 },
};

#define FUZZ_NMODELS  (sizeof(fuzz_models) / sizeof(fuzz_models[0]))

#define FUZZ_OUTPUT   "probabilities"


static float           *fuzz_dst[FUZZ_NMODELS][2];
static infer_ks_str_t  *fuzz_strs[FUZZ_NMODELS][2];


#define fuzz_check(cond)                                                     \
    if (!(cond)) {                                                           \
        fprintf(stderr, "fuzz_kserve_binary: check failed at line %d: %s\n",\
                __LINE__, #cond);                                            \
        abort();                                                             \
    }


/* the hooked model takes [n, 2] */

static int
fuzz_hook_shape(void *data, const int64_t *shape, int ndim, char *err,
    size_t len)
{
    fuzz_check(ndim >= 0 && ndim <= INFER_KSERVE_MAX_DIMS);
    fuzz_check(len == INFER_KSERVE_ERRLEN);

    if (ndim == 2 && shape[1] == 2) {
        return 0;
    }

    snprintf(err, len, "inputs[0].shape must be [n, 2]");

    return -1;
}


static void
fuzz_init(void)
{
    size_t  i;
    int     j;

    for (i = 0; i < FUZZ_NMODELS; i++) {
        for (j = 0; j < fuzz_models[i].ninputs; j++) {
            fuzz_dst[i][j] = malloc(fuzz_models[i].cap * sizeof(float));
            fuzz_check(fuzz_dst[i][j] != NULL);

            fuzz_strs[i][j] = malloc(fuzz_models[i].cap
                                     * sizeof(infer_ks_str_t));
            fuzz_check(fuzz_strs[i][j] != NULL);
        }
    }
}


static uint64_t
fuzz_le(const unsigned char *p, size_t n)
{
    uint64_t  v;

    v = 0;

    while (n--) {
        v = (v << 8) | p[n];
    }

    return v;
}


static float
fuzz_f16(uint16_t h)
{
    int    e, m;
    float  f;

    e = (h >> 10) & 0x1f;
    m = h & 0x3ff;

    if (e == 0x1f) {
        f = m ? NAN : INFINITY;

    } else if (e == 0) {
        f = ldexpf((float) m, -24);

    } else {
        f = ldexpf((float) (m | 0x400), e - 25);
    }

    return (h & 0x8000) ? -f : f;
}


/*
 * The reference value of element k of binary data of type dt at p;
 * returns 0, or -1 where the decoder must refuse it.
 */

static int
fuzz_ref(infer_ks_datatype_e dt, const unsigned char *p, size_t k, float *f)
{
    double    d;
    uint32_t  u;
    uint64_t  v;

    switch (dt) {

    case INFER_KS_BOOL:
        if (p[k] > 1) {
            return -1;
        }

        *f = p[k];
        return 0;

    case INFER_KS_UINT8:
        *f = p[k];
        return 0;

    case INFER_KS_INT8:
        *f = (int8_t) p[k];
        return 0;

    case INFER_KS_UINT16:
        *f = (uint16_t) fuzz_le(p + 2 * k, 2);
        return 0;

    case INFER_KS_INT16:
        *f = (int16_t) fuzz_le(p + 2 * k, 2);
        return 0;

    case INFER_KS_UINT32:
        *f = (float) (uint32_t) fuzz_le(p + 4 * k, 4);
        return 0;

    case INFER_KS_INT32:
        *f = (float) (int32_t) fuzz_le(p + 4 * k, 4);
        return 0;

    case INFER_KS_UINT64:
        *f = (float) fuzz_le(p + 8 * k, 8);
        return 0;

    case INFER_KS_INT64:
        *f = (float) (int64_t) fuzz_le(p + 8 * k, 8);
        return 0;

    case INFER_KS_FP16:
        *f = fuzz_f16((uint16_t) fuzz_le(p + 2 * k, 2));
        return isfinite(*f) ? 0 : -1;

    case INFER_KS_BF16:
        u = (uint32_t) fuzz_le(p + 2 * k, 2) << 16;
        memcpy(f, &u, sizeof(float));
        return isfinite(*f) ? 0 : -1;

    case INFER_KS_FP32:
        u = (uint32_t) fuzz_le(p + 4 * k, 4);
        memcpy(f, &u, sizeof(float));
        return isfinite(*f) ? 0 : -1;

    case INFER_KS_FP64:
        v = fuzz_le(p + 8 * k, 8);
        memcpy(&d, &v, sizeof(double));

        if (!isfinite(d) || fabs(d) > 0x1.fffffefffffffp127) {
            /* past the midpoint of FLT_MAX and 2^128: rounds to Infinity */
            return -1;
        }

        *f = (float) d;
        return 0;

    default:
        fuzz_check(0);
    }

    return -1;
}


/*
 * The reference reading of a BYTES input's size bytes at p: 2 if its
 * lengths do not take exactly size bytes for in->count elements, 1 with
 * *bad if element *bad is the first that is not valid UTF-8, else 0.
 * Where the lengths are right, the decoder's spans must be where they say.
 */

static int
fuzz_bytes(const infer_ks_input_t *in, const unsigned char *p, size_t size,
    size_t *bad)
{
    size_t   k, off, len;
    json_t  *v;

    off = 0;

    for (k = 0; k < in->count; k++) {
        if (size - off < 4) {
            return 2;
        }

        len = (size_t) fuzz_le(p + off, 4);
        off += 4;

        if (len > size - off) {
            return 2;
        }

        off += len;
    }

    if (off != size) {
        return 2;
    }

    off = 0;

    for (k = 0; k < in->count; k++) {
        len = (size_t) fuzz_le(p + off, 4);
        off += 4;

        fuzz_check(in->strs[k].p == (const char *) p + off
                   && in->strs[k].len == len);

        v = json_stringn((const char *) p + off, len);
        if (v == NULL) {
            *bad = k;
            return 1;
        }

        json_decref(v);
        off += len;
    }

    return 0;
}


/*
 * Each binary input, in the order of "inputs": its bytes at their offset
 * after the JSON.  done: the decode succeeded, and every value must match;
 * else bad_index and bad_k, from the message, name the first bad value
 * (lengths: the lengths of BYTES input bad_index are wrong).
 */

static void
fuzz_binary_values(const infer_ks_request_t *req, const unsigned char *bin,
    size_t bin_len, int done, int bad_index, size_t bad_k, int lengths)
{
    int                      i, j, rc;
    float                    f;
    size_t                   k, off, esize;
    const infer_ks_input_t  *in;

    off = 0;

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

        if (in->datatype == INFER_KS_BYTES) {
            fuzz_check(in->strs != NULL);
            fuzz_check(off + in->binary_size <= bin_len);

            rc = fuzz_bytes(in, bin + off, (size_t) in->binary_size, &k);

            if (rc != 0) {
                fuzz_check(!done && i == bad_index
                           && (rc == 2 ? lengths : !lengths && k == bad_k));
                return;
            }

            fuzz_check(done || i != bad_index);

            off += in->binary_size;
            continue;
        }

        esize = infer_ks_datatype_size(in->datatype);

        fuzz_check(esize != 0);
        fuzz_check((uint64_t) in->binary_size == in->count * esize);
        fuzz_check(off + in->binary_size <= bin_len);

        for (k = 0; k < in->count; k++) {
            if (fuzz_ref(in->datatype, bin + off, k, &f) != 0) {
                fuzz_check(!done && i == bad_index && k == bad_k);
                return;
            }

            fuzz_check(!(!done && i == bad_index && k == bad_k));

            if (done && memcmp(&f, &in->dst[k], sizeof(float)) != 0) {
                fprintf(stderr, "fuzz_kserve_binary: inputs[%d] %s [%zu] "
                        "is %.9g, the reference says %.9g\n", i,
                        infer_ks_datatype_name(in->datatype), k,
                        (double) in->dst[k], (double) f);
                abort();
            }
        }

        fuzz_check(i != bad_index || done);

        off += in->binary_size;
    }

    if (done) {
        fuzz_check(off == bin_len);
    }
}


/* infer_ks_output_binary() against the request's parameters */

static void
fuzz_outputs(const infer_ks_request_t *req, const unsigned char *data,
    size_t size)
{
    int     i, j, want;
    size_t  n;

    fuzz_check(infer_ks_output_binary(req, NULL, 0) == req->binary_output);

    for (i = 0; i < req->noutputs; i++) {
        for (j = 0; j < i; j++) {
            if (req->outputs[j].len == req->outputs[i].len
                && memcmp(req->outputs[j].p, req->outputs[i].p,
                          req->outputs[i].len) == 0)
            {
                break;
            }
        }

        want = (req->output_binary[j] >= 0) ? req->output_binary[j]
                                            : req->binary_output;

        fuzz_check(infer_ks_output_binary(req, req->outputs[i].p,
                                          req->outputs[i].len) == want);
    }

    /* a name that is none of them, unless it is */
    n = size < 8 ? size : 8;

    for (i = 0; i < req->noutputs; i++) {
        if (req->outputs[i].len == n
            && memcmp(req->outputs[i].p, data, n) == 0)
        {
            return;
        }
    }

    fuzz_check(infer_ks_output_binary(req, (const char *) data, n)
               == req->binary_output);
}


static size_t
fuzz_digits(const char *s, size_t len)
{
    size_t  i, n, first, last;

    n = 0;
    first = 0;
    last = 0;

    for (i = 0; i < len && s[i] != 'e'; i++) {
        if (s[i] >= '0' && s[i] <= '9') {
            n++;

            if (s[i] != '0') {
                if (first == 0) {
                    first = n;
                }

                last = n;
            }
        }
    }

    return first ? last - first + 1 : 0;
}


static void
fuzz_write_float(float v)
{
    int      p;
    char    *buf, s[32], *end;
    float    r;
    size_t   n, digits;
    json_t  *j;

    buf = malloc(16);
    fuzz_check(buf != NULL);

    n = infer_ks_write_float(buf, v);
    fuzz_check(n > 0 && n <= 16);

    memcpy(s, buf, n);
    s[n] = '\0';
    free(buf);

    if (!isfinite(v)) {
        fuzz_check(strcmp(s, "null") == 0);
        return;
    }

    if (v == 0.0f) {
        fuzz_check(strcmp(s, signbit(v) ? "-0" : "0") == 0);
        return;
    }

    r = strtof(s, &end);

    if (*end != '\0' || memcmp(&r, &v, sizeof(float)) != 0) {
        fprintf(stderr, "fuzz_kserve_binary: %.9g (0x%08x) is written "
                "\"%s\", which reads back as %.9g\n", (double) v,
                (unsigned) fuzz_le((unsigned char *) &v, 4), s, (double) r);
        abort();
    }

    j = json_loads(s, JSON_DECODE_ANY, NULL);
    fuzz_check(json_is_number(j));
    json_decref(j);

    /* one digit fewer must not read back: the shortest is written */
    digits = fuzz_digits(s, n);
    fuzz_check(digits >= 1 && digits <= 9);

    if (digits > 1) {
        p = (int) digits - 2;
        snprintf(s, sizeof(s), "%.*e", p, (double) v);
        r = strtof(s, NULL);

        if (memcmp(&r, &v, sizeof(float)) == 0) {
            fprintf(stderr, "fuzz_kserve_binary: %.9g is written with %zu "
                    "digits, \"%s\" has fewer\n", (double) v, digits, s);
            abort();
        }
    }
}


static void
fuzz_write_string(const char *str, size_t len)
{
    char    *buf;
    size_t   n;
    json_t  *j, *want;

    buf = malloc(6 * len + 2);
    fuzz_check(buf != NULL);

    n = infer_ks_write_string(buf, str, len);
    fuzz_check(n >= 2 && n <= 6 * len + 2);

    want = json_stringn(str, len);

    if (want != NULL) {
        j = json_loadb(buf, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        fuzz_check(j != NULL && json_equal(j, want));
        json_decref(j);
        json_decref(want);
    }

    free(buf);
}


static void
fuzz_header(const infer_ks_request_t *req, int rc, const unsigned char *data,
    size_t size)
{
    int           valid;
    char         *buf, oname[65];
    size_t        room, n, mlen, olen, idlen;
    json_t       *j, *m, *o, *out, *v;
    uint64_t      rows, cols;
    const char   *id, *model;
    json_error_t  jerr;

    /* the model name and the output's: bytes of the input */
    model = (const char *) data;
    mlen = size < 64 ? size : 64;

    olen = size - mlen < 64 ? size - mlen : 64;
    memcpy(oname, data + mlen, olen);
    oname[olen] = '\0';
    olen = strlen(oname);

    /* small or any, from the last 16 bytes */
    rows = size >= 16 ? fuzz_le(data + size - 16, 8) : size;
    cols = size >= 16 ? fuzz_le(data + size - 8, 8) : 3;

    if (data[0] & 1) {
        rows &= 0x3fffffff;
        cols &= 0x3fffffff;
    }

    id = (rc == 0 && req->id.len) ? req->id.p : NULL;
    idlen = id ? req->id.len : 0;

    room = 256 + 6 * (mlen + olen) + idlen;
    buf = malloc(room);
    fuzz_check(buf != NULL);

    n = infer_ks_write_binary_header(buf, model, mlen, id, idlen, oname,
                                     (size_t) rows, (size_t) cols);
    fuzz_check(n <= room);

    m = json_stringn(model, mlen);
    o = json_string(oname);
    valid = (m != NULL && o != NULL && rows < 0x40000000
             && cols < 0x40000000);

    if (valid) {
        j = json_loadb(buf, n, JSON_ALLOW_NUL, &jerr);

        if (j == NULL) {
            fprintf(stderr, "fuzz_kserve_binary: header \"%.*s\" is not "
                    "JSON: %s\n", (int) n, buf, jerr.text);
            abort();
        }

        fuzz_check(json_equal(json_object_get(j, "model_name"), m));
        fuzz_check(json_is_string(json_object_get(j, "model_version")));

        if (id != NULL) {
            v = json_loadb(id, idlen, JSON_DECODE_ANY | JSON_ALLOW_NUL,
                           NULL);
            fuzz_check(v != NULL && json_equal(v, json_object_get(j, "id")));
            json_decref(v);

        } else {
            fuzz_check(json_object_get(j, "id") == NULL);
        }

        out = json_array_get(json_object_get(j, "outputs"), 0);
        fuzz_check(json_equal(json_object_get(out, "name"), o));

        v = json_object_get(out, "shape");
        fuzz_check(json_array_size(v) == 2
                   && json_integer_value(json_array_get(v, 0))
                      == (json_int_t) rows
                   && json_integer_value(json_array_get(v, 1))
                      == (json_int_t) cols);

        v = json_object_get(json_object_get(out, "parameters"),
                            "binary_data_size");
        fuzz_check(json_integer_value(v) == (json_int_t) (rows * cols * 4));

        json_decref(j);
    }

    json_decref(m);
    json_decref(o);
    free(buf);
}


/* the datatype names and sizes, on bytes of the input */

static void
fuzz_datatypes(const unsigned char *data, size_t size)
{
    int                  d;
    const char          *name;
    infer_ks_datatype_e  dt;

    /* bytes per element, as the binary extension has them */
    static const size_t  sizes[] = {
        1, 1, 2, 4, 8, 1, 2, 4, 8, 2, 4, 8, 0, 2
    };

    d = size ? data[size - 1] : 0;

    name = infer_ks_datatype_name((infer_ks_datatype_e) d);
    fuzz_check(name != NULL);

    if (d < INFER_KS_UNKNOWN) {
        fuzz_check((int) infer_ks_datatype(name, strlen(name)) == d);
        fuzz_check(infer_ks_datatype_size((infer_ks_datatype_e) d)
                   == sizes[d]);

    } else {
        fuzz_check(strcmp(name, "UNKNOWN") == 0);
        fuzz_check(infer_ks_datatype_size((infer_ks_datatype_e) d) == 0);
    }

    dt = infer_ks_datatype((const char *) data, size < 8 ? size : 8);
    fuzz_check(dt <= INFER_KS_UNKNOWN);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                  rc, j, bad_index;
    char                *text;
    size_t               m, k, len, json_len, bad_k, i;
    float                f;
    json_t              *root;
    json_error_t         jerr;
    const char          *body;
    infer_ks_input_t     inputs[2];
    infer_ks_request_t   req;
    const fuzz_model_t  *fm;

    static int           init;

    if (!init) {
        fuzz_init();
        init = 1;
    }

    if (size < 2) {
        return 0;
    }

    json_len = (size_t) fuzz_le(data, 2);
    body = (const char *) data + 2;
    len = size - 2;

    if (json_len > len + 1) {
        json_len %= len + 2;
    }

    /* the text of the BYTES inputs: the body's length suffices */
    text = malloc(len ? len : 1);
    fuzz_check(text != NULL);

    jerr.text[0] = '\0';

    root = (json_len <= len)
           ? json_loadb(body, json_len, JSON_DECODE_ANY | JSON_ALLOW_NUL,
                        &jerr)
           : NULL;

    for (m = 0; m < FUZZ_NMODELS; m++) {
        fm = &fuzz_models[m];

        memset(inputs, 0, sizeof(inputs));
        memset(&req, 0, sizeof(req));

        for (j = 0; j < fm->ninputs; j++) {
            inputs[j].name = fm->names[j];
            inputs[j].dst = fuzz_dst[m][j];
            inputs[j].cap = fm->cap;

            if (fm->bytes & (1u << j)) {
                /* dst is not theirs: a write there would be a crash */
                inputs[j].dst = NULL;
                inputs[j].cap = 0;
                inputs[j].strs = fuzz_strs[m][j];
                inputs[j].strs_cap = fm->cap;
                inputs[j].text = text;
                inputs[j].text_cap = len;
            }

            if (fm->hook) {
                inputs[j].check_shape = fuzz_hook_shape;
            }
        }

        req.inputs = inputs;
        req.ninputs = fm->ninputs;
        memset(req.err, 'x', sizeof(req.err));

        rc = infer_ks_decode_binary(&req, body, json_len, len);

        k = strnlen(req.err, INFER_KSERVE_ERRLEN);
        fuzz_check(k < INFER_KSERVE_ERRLEN);
        fuzz_check(rc == 0 ? k == 0 : rc == -1 && k > 0);

        if (rc == 0) {
            /* the JSON part is JSON, but for what jansson cannot take */
            fuzz_check(root != NULL
                       || strstr(jerr.text, "too big") != NULL
                       || strstr(jerr.text, "real number overflow") != NULL
                       || strstr(jerr.text, "maximum parsing depth")
                          != NULL
                       || strstr(jerr.text, "NUL byte in object key")
                          != NULL);

            for (j = 0; j < req.ninputs; j++) {
                fuzz_check(req.inputs[j].found);
                fuzz_check(req.inputs[j].count
                           <= (req.inputs[j].strs ? req.inputs[j].strs_cap
                                                  : req.inputs[j].cap));
                fuzz_check((req.inputs[j].strs != NULL)
                           == (req.inputs[j].datatype == INFER_KS_BYTES));
            }

            fuzz_binary_values(&req, (const unsigned char *) body + json_len,
                               len - json_len, 1, -1, 0, 0);

            fuzz_outputs(&req, data, size);

            for (j = 0; j < req.ninputs; j++) {
                for (i = 0; req.inputs[j].strs == NULL
                            && i < req.inputs[j].count && i < 64; i++)
                {
                    fuzz_write_float(req.inputs[j].dst[i]);
                }
            }

        } else if (sscanf(req.err, "inputs[%d]", &bad_index) == 1
                   && strstr(req.err, "]: binary ") != NULL
                   && strstr(req.err, " data holds ") != NULL)
        {
            /* the value named is the first bad one */
            fuzz_check(strstr(req.err, " at [") != NULL);
            bad_k = (size_t) strtoull(strstr(req.err, " at [") + 5, NULL,
                                      10);
            fuzz_binary_values(&req, (const unsigned char *) body + json_len,
                               len - json_len, 0, bad_index, bad_k, 0);

        } else if (sscanf(req.err, "inputs[%d]: element %zu", &bad_index,
                          &bad_k) == 2
                   && strstr(req.err, " is not valid UTF-8") != NULL)
        {
            fuzz_binary_values(&req, (const unsigned char *) body + json_len,
                               len - json_len, 0, bad_index, bad_k, 0);

        } else if (sscanf(req.err, "inputs[%d]", &bad_index) == 1
                   && (strstr(req.err, "]: binary BYTES element ") != NULL
                       || strstr(req.err, " bytes, but the elements of ")
                          != NULL))
        {
            fuzz_binary_values(&req, (const unsigned char *) body + json_len,
                               len - json_len, 0, bad_index, SIZE_MAX, 1);
        }
    }

    json_decref(root);
    free(text);

    for (k = 0; k + 4 <= size && k < 256; k += 4) {
        memcpy(&f, data + k, sizeof(float));
        fuzz_write_float(f);
    }

    fuzz_write_string(body, len);
    fuzz_header(&req, rc, data, size);
    fuzz_datatypes(data, size);

    return 0;
}
