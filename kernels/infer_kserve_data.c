/*
 * ngx_infer: the values of "data" in a KServe v2 request (infer_kserve.h),
 * the inner loop of the JSON decoder of infer_kserve_json.c.
 *
 * The request's objects are walked there; here is what a request spends
 * its time on, the values of each input, checked and converted as they are
 * met.  It is kept in a file of its own so that the walk of the objects and
 * the loop over the values can each be read, and changed, alone.
 *
 * The strings of a BYTES input have a loop of their own: the one over the
 * numbers stays as it was, with nothing more to keep in its registers.
 */

#include <math.h>
#include <string.h>

#include "infer_kserve_impl.h"


#define INFER_KS_DATA_DEPTH   32          /* nested arrays in "data" */


static int infer_ks_values(infer_json_parser_t *js, int i,
    infer_ks_input_t *in, infer_ks_datatype_e dt, const int64_t *shape,
    int ndim);
static int infer_ks_strings(infer_json_parser_t *js, int i,
    infer_ks_input_t *in, const int64_t *shape, int ndim);
static int infer_ks_too_many(infer_json_parser_t *js, int i,
    infer_ks_input_t *in, size_t cap, const int64_t *shape, int ndim);
static int infer_ks_num_int(const infer_json_num_t *num,
    infer_ks_datatype_e dt, float *f);


/* the range of the integer types, indexed by datatype: BOOL to INT64 */
static const uint64_t  infer_ks_int_max[] = {
    1, 0xff, 0xffff, 0xffffffffULL, 0xffffffffffffffffULL,
    0x7f, 0x7fff, 0x7fffffffULL, 0x7fffffffffffffffULL
};

static const uint64_t  infer_ks_int_neg[] = {
    0, 0, 0, 0, 0,
    0x80, 0x8000, 0x80000000ULL, 0x8000000000000000ULL
};


/*
 * "data" is an array, then its values are walked.  The check is apart from
 * the walk because, in one function with it, GCC gave the walk's count a
 * place on the stack instead of a register, which cost 3% of the time
 * bench/bench_codec.c takes to decode its 784 FP32 values.
 */

int
infer_ks_data(infer_json_parser_t *js, int i, infer_ks_input_t *in,
    infer_ks_datatype_e dt, const int64_t *shape, int ndim)
{
    if (infer_json_peek(js) != '[') {
        return infer_json_error(js, INFER_JSON_INVALID,
                                "inputs[%d].data: expected an array", i);
    }

    if (in != NULL && in->strs != NULL) {
        return infer_ks_strings(js, i, in, shape, ndim);
    }

    return infer_ks_values(js, i, in, dt, shape, ndim);
}


/*
 * The values of "data", flattened in row-major order, converted to FP32
 * into in->dst.  Nested arrays are walked with a depth count alone, since
 * only arrays nest here.  The JSON walk is all it needs (js->err is the
 * request's message buffer), and all it is given, so that the loop over
 * the numbers keeps nothing else in registers.
 */

static int
infer_ks_values(infer_json_parser_t *js, int i, infer_ks_input_t *in,
    infer_ks_datatype_e dt, const int64_t *shape, int ndim)
{
    int                   c, rc, esc, depth;
    char                  tok[INFER_JSON_TOKEN + 8];
    float                 f, *dst;
    size_t                n, cap;
    infer_json_num_t      num;
    const unsigned char  *p, *s, *end;

    /* in == NULL: a check of the syntax only, nothing is written */

    p = js->p;
    end = js->end;
    dst = in ? in->dst : NULL;
    cap = in ? in->cap : SIZE_MAX;
    n = 0;
    depth = 0;

open:

    if (++depth > INFER_KS_DATA_DEPTH) {
        return infer_json_error(js, INFER_JSON_INVALID,
                                "inputs[%d].data: arrays nested deeper than "
                                "%d levels", i, INFER_KS_DATA_DEPTH);
    }

    p = infer_json_ws(p + 1, end);

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

    if (c == '-' || infer_json_digit(c)) {
        p = infer_json_number(s, end, &num);
        if (p == NULL) {
            if (infer_json_nonfinite(s, end)) {
                goto nonfinite;
            }

            return infer_json_syntax(js, s, "invalid number");
        }

        if (dt == INFER_KS_FP32 || dt == INFER_KS_FP64) {
            f = infer_json_num_float(&num, s, p);

            if (isinf(f)) {
                return infer_json_error(js, INFER_JSON_INVALID,
                                        "inputs[%d].data[%zu]: %s is out of "
                                        "range for FP32", i, n,
                                        infer_json_token(tok, s, p - s));
            }

        } else if (dt == INFER_KS_UNKNOWN) {
            f = 0.0f;

        } else {
            rc = infer_ks_num_int(&num, dt, &f);

            if (rc != INFER_JSON_OK) {
                if (dt == INFER_KS_BOOL) {
                    goto not_bool;
                }

                return infer_json_error(js, INFER_JSON_INVALID,
                                        (rc == INFER_JSON_DECLINED)
                                        ? "inputs[%d].data[%zu]: %s is not "
                                          "an integer (%s)"
                                        : "inputs[%d].data[%zu]: %s is out "
                                          "of range for %s",
                                        i, n, infer_json_token(tok, s, p - s),
                                        infer_ks_datatype_name(dt));
            }
        }

    } else if ((dt == INFER_KS_BOOL || dt == INFER_KS_UNKNOWN)
               && infer_json_literal(p, end, "true", 4))
    {
        f = 1.0f;
        p += 4;

    } else if ((dt == INFER_KS_BOOL || dt == INFER_KS_UNKNOWN)
               && infer_json_literal(p, end, "false", 5))
    {
        f = 0.0f;
        p += 5;

    } else if (dt == INFER_KS_UNKNOWN && c == '"') {
        /* BYTES perhaps: the datatype, once read, will say */
        p = infer_json_string(js, p, &esc);
        if (p == NULL) {
            return INFER_JSON_ERROR;
        }

        f = 0.0f;

    } else if (infer_json_nonfinite(s, end)) {
        goto nonfinite;

    } else if (dt == INFER_KS_BOOL) {
        goto not_bool;

    } else {
        return infer_json_error(js, INFER_JSON_INVALID,
                                "inputs[%d].data[%zu]: expected a number",
                                i, n);
    }

    if (dst) {
        dst[n] = f;
    }

    n++;

    p = infer_json_ws(p, end);

    if (p < end && *p == ',') {
        p = infer_json_ws(p + 1, end);
        goto value;
    }

    if (p == end) {
        goto eof;
    }

    if (*p != ']') {
        return infer_json_syntax(js, p, "',' or ']' expected");
    }

close:

    p++;

    if (--depth > 0) {
        p = infer_json_ws(p, end);

        if (p < end && *p == ',') {
            p = infer_json_ws(p + 1, end);
            goto value;
        }

        if (p < end && *p == ']') {
            goto close;
        }

        if (p == end) {
            goto eof;
        }

        return infer_json_syntax(js, p, "',' or ']' expected");
    }

    js->p = p;

    if (in) {
        in->count = n;
    }

    return INFER_JSON_OK;

eof:

    return infer_json_syntax(js, p, "unexpected end of input");

nonfinite:

    return infer_json_error(js, INFER_JSON_FINAL,
                            "inputs[%d].data[%zu]: NaN and Infinity are not "
                            "valid JSON numbers", i, n);

not_bool:

    return infer_json_error(js, INFER_JSON_INVALID,
                            "inputs[%d].data[%zu]: expected true, false, 0 "
                            "or 1", i, n);

too_many:

    return infer_ks_too_many(js, i, in, cap, shape, ndim);
}


/*
 * The strings of a BYTES input's "data", flattened in row-major order, into
 * in->strs: spans of the body, or of in->text for a string with escapes.
 * infer_json_string() has checked each one's UTF-8 and escapes (no lone
 * surrogate), so what is unescaped is valid UTF-8 too.  The arrays are
 * walked as those of the numbers are.
 */

static int
infer_ks_strings(infer_json_parser_t *js, int i, infer_ks_input_t *in,
    const int64_t *shape, int ndim)
{
    int                   esc, depth;
    size_t                n, len, used;
    infer_ks_str_t       *str;
    const unsigned char  *p, *s, *end;

    p = js->p;
    end = js->end;
    n = 0;
    used = 0;
    depth = 0;

open:

    if (++depth > INFER_KS_DATA_DEPTH) {
        return infer_json_error(js, INFER_JSON_INVALID,
                                "inputs[%d].data: arrays nested deeper than "
                                "%d levels", i, INFER_KS_DATA_DEPTH);
    }

    p = infer_json_ws(p + 1, end);

    if (p < end && *p == ']') {
        goto close;
    }

value:

    if (p == end) {
        goto eof;
    }

    if (*p == '[') {
        goto open;
    }

    if (*p != '"') {
        if (infer_json_nonfinite(p, end)) {
            return infer_json_error(js, INFER_JSON_FINAL,
                                    "inputs[%d].data[%zu]: NaN and Infinity "
                                    "are not valid JSON numbers", i, n);
        }

        return infer_json_error(js, INFER_JSON_INVALID,
                                "inputs[%d].data[%zu]: expected a string",
                                i, n);
    }

    if (n == in->strs_cap) {
        return infer_ks_too_many(js, i, in, in->strs_cap, shape, ndim);
    }

    s = p;
    esc = 0;

    p = infer_json_string(js, s, &esc);
    if (p == NULL) {
        return INFER_JSON_ERROR;
    }

    str = &in->strs[n];
    str->p = (const char *) s + 1;
    str->len = p - s - 2;

    if (esc) {
        /* text may be NULL: no pointer is made from it then */
        len = (in->text != NULL)
              ? infer_json_unescape(in->text + used, in->text_cap - used,
                                    s + 1, str->len)
              : (size_t) -1;

        if (len == (size_t) -1) {
            return infer_json_error(js, INFER_JSON_INVALID,
                                    "inputs[%d].data[%zu]: the strings "
                                    "unescaped take more than %zu bytes", i,
                                    n, in->text_cap);
        }

        str->p = in->text + used;
        str->len = len;
        used += len;
    }

    n++;

    p = infer_json_ws(p, end);

    if (p < end && *p == ',') {
        p = infer_json_ws(p + 1, end);
        goto value;
    }

    if (p == end) {
        goto eof;
    }

    if (*p != ']') {
        return infer_json_syntax(js, p, "',' or ']' expected");
    }

close:

    p++;

    if (--depth > 0) {
        p = infer_json_ws(p, end);

        if (p < end && *p == ',') {
            p = infer_json_ws(p + 1, end);
            goto value;
        }

        if (p < end && *p == ']') {
            goto close;
        }

        if (p == end) {
            goto eof;
        }

        return infer_json_syntax(js, p, "',' or ']' expected");
    }

    js->p = p;
    in->count = n;

    return INFER_JSON_OK;

eof:

    return infer_json_syntax(js, p, "unexpected end of input");
}


/*
 * "data" holds more than cap values (or strings): the caller's check of the
 * shape first, when the shape is known, so that a wrong shape is reported
 * as such; then the shape against cap, as the data had more than either.
 */

static int
infer_ks_too_many(infer_json_parser_t *js, int i, infer_ks_input_t *in,
    size_t cap, const int64_t *shape, int ndim)
{
    char      buf[INFER_KS_DIMS_LEN];
    uint64_t  total;

    if (ndim >= 0 && in->check_shape
        && in->check_shape(in->check_data, shape, ndim, js->err, js->errlen)
           != 0)
    {
        js->kind = INFER_JSON_INVALID;
        return INFER_JSON_ERROR;
    }

    if (ndim >= 0 && (total = infer_ks_total(shape, ndim)) <= cap) {
        infer_shape_str(buf, sizeof(buf), shape, ndim);
        return infer_json_error(js, INFER_JSON_INVALID,
                                "inputs[%d]: shape %s holds %llu values, data "
                                "has more", i, buf,
                                (unsigned long long) total);
    }

    return infer_json_error(js, INFER_JSON_INVALID,
                            "inputs[%d].data: more than %zu values, the most "
                            "this input takes", i, cap);
}


/* the product of the dimensions, UINT64_MAX if it does not fit */

uint64_t
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


/* the value of an integer datatype, exactly, within its range */

static int
infer_ks_num_int(const infer_json_num_t *num, infer_ks_datatype_e dt,
    float *f)
{
    int       rc;
    uint64_t  m;

    rc = infer_json_num_integer(num, infer_ks_int_max[dt],
                                infer_ks_int_neg[dt], &m);

    /* "-0" is 0: integers have no negative zero */
    if (rc == INFER_JSON_OK) {
        *f = (num->neg && m != 0) ? -(float) m : (float) m;
    }

    return rc;
}
