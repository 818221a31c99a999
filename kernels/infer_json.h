/*
 * ngx_infer: the JSON machinery of the API decoders, independent of nginx
 * and of any one API (KServe v2 in infer_kserve_json.c; the OpenAI
 * decoders to come).
 *
 * A decoder walks the body once with an infer_json_parser_t, reading what
 * it knows with the functions below and skipping the rest with
 * infer_json_skip(), which checks it too.  Every step checks against the
 * end: nothing past body + len is ever read.  Errors are of three kinds:
 *
 *   INFER_JSON_SYNTAX   malformed JSON, found here, reported with
 *                       jansson's line, column and text;
 *   INFER_JSON_INVALID  well-formed JSON that the API refuses, with the
 *                       decoder's message naming the field;
 *   INFER_JSON_FINAL    a problem reported as found, without checking the
 *                       rest of the body for syntax.
 *
 * The walk stops at the first error; infer_json_report() then completes
 * the message: an INVALID body is first checked whole, and malformed JSON
 * anywhere wins.
 *
 * Numbers are scanned into a uint64_t mantissa and a decimal exponent
 * (infer_json_num_t), and converted as the destination needs: to float
 * exactly as (float) strtod() does, without strtod() in all but rare
 * cases; to double; to integers with range checks.  The scan and the float
 * conversion are inline here, because a decoder's inner loop over numbers
 * is where a request spends its time.
 *
 * Writers: the shortest decimal that reads back as a float, and a JSON
 * string with its escapes.
 */

#ifndef _INFER_JSON_H_INCLUDED_
#define _INFER_JSON_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "infer_util.h"


/* what the functions return */
#define INFER_JSON_OK         0
#define INFER_JSON_ERROR      -1          /* js->err and js->kind set */
#define INFER_JSON_DECLINED   -5          /* a valid value of another kind */
#define INFER_JSON_RANGE      -6          /* a number out of range */

/* kinds of errors, see above */
#define INFER_JSON_SYNTAX     1
#define INFER_JSON_INVALID    2
#define INFER_JSON_FINAL      3

#define INFER_JSON_MAX_DEPTH  2048        /* any value, as jansson */
#define INFER_JSON_TOKEN      40          /* of a token quoted in errors */

/* the mantissa grows while m * 10 + 9 fits in 64 bits */
#define INFER_JSON_M_MAX      1844674407370955161ULL


#if defined(__GNUC__)
#define INFER_JSON_INLINE     inline __attribute__((always_inline))
#else
#define INFER_JSON_INLINE     inline
#endif

/* eight digits at a time needs the first byte in the lowest bits */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define INFER_JSON_SWAR       1
#else
#define INFER_JSON_SWAR       0
#endif


/* a span of the body, or of the decoder's own buffer once unescaped */
typedef struct {
    const char              *p;
    size_t                   len;
} infer_json_str_t;


/*
 * The state of one walk, embedded in a decoder's own parser.  p is where
 * the walk is; a decoder moves it past what it reads itself (a '{', a ',')
 * and hands it to the functions below, which move it past what they read.
 */
typedef struct {
    const unsigned char     *start;
    const unsigned char     *p;
    const unsigned char     *end;
    char                    *err;          /* the message, for the client */
    size_t                   errlen;
    int                      kind;         /* of the error */
    const unsigned char     *err_at;       /* of a syntax error */
    const char              *err_text;
} infer_json_parser_t;


/* an object being read, between calls of infer_json_member() */
typedef struct {
    int                      n;            /* members read */
    unsigned                 seen;         /* bit k: keys[k] was read */
} infer_json_object_t;


/* a number token: the value is (neg ? -1 : 1) * m * 10^e */
typedef struct {
    uint64_t                 m;
    int64_t                  e;
    int                      neg;
    int                      trunc;        /* nonzero digits beyond m */
    int                      integer;      /* no fraction, no exponent */
} infer_json_num_t;


/* the powers of ten that are exact in a double, 1e0 to 1e22 */
extern const double  infer_json_pow10[];


/* a walk over the len bytes at body, errors into (err, errlen) */
void infer_json_init(infer_json_parser_t *js, const char *body, size_t len,
    char *err, size_t errlen);

/*
 * Error reporting.  infer_json_error() writes the message and its kind;
 * infer_json_error_cat() appends to it at *pos (0: a new message) and
 * advances *pos; infer_json_syntax() notes malformed JSON at "at", whose
 * message infer_json_report() writes.  All return INFER_JSON_ERROR.
 */
int infer_json_error(infer_json_parser_t *js, int kind, const char *fmt, ...)
    INFER_PRINTF(3, 4);
int infer_json_error_cat(infer_json_parser_t *js, int kind, size_t *pos,
    const char *fmt, ...) INFER_PRINTF(4, 5);
int infer_json_syntax(infer_json_parser_t *js, const unsigned char *at,
    const char *text);

/*
 * Completes the message once a walk has failed: an INVALID body is checked
 * whole for syntax first; malformed JSON gets jansson's "malformed JSON at
 * line 1, column 17: ..." (or the position found here, where RFC 8259
 * allows what jansson does not); the message is made valid UTF-8, since
 * it quotes the body.  Returns INFER_JSON_ERROR.
 */
int infer_json_report(infer_json_parser_t *js);

/*
 * A token of the body for a message, into buf (INFER_JSON_TOKEN + 4 bytes):
 * at most INFER_JSON_TOKEN bytes of it, then "..." if it is longer.
 */
const char *infer_json_token(char *buf, const void *p, size_t len);


/*
 * Objects: infer_json_object() returns 1 with js->p past the '{' of the
 * value at js->p, 0 if that value is not an object.  Then each call of
 * infer_json_member() reads a member whose key is in keys, a NULL-ended
 * table of at most 32: it returns 1 with js->p at the value and *k the
 * key's index, 0 at the end of the object, or INFER_JSON_ERROR.  Members
 * with other keys are checked and skipped (they may repeat); a key of keys
 * met again returns INFER_JSON_DECLINED, *k its index, for the caller's
 * message.
 */
int infer_json_object(infer_json_parser_t *js, infer_json_object_t *o);
int infer_json_member(infer_json_parser_t *js, infer_json_object_t *o,
    const char *const *keys, int *k);

/*
 * Arrays: infer_json_array() returns 1 with js->p past the '[' of the
 * value at js->p and *n 0, 0 if that value is not an array.  Then each
 * call of infer_json_element() returns 1 with js->p at the next element
 * and *n counting it (its index is *n - 1), 0 at the end of the array, or
 * INFER_JSON_ERROR.
 */
int infer_json_array(infer_json_parser_t *js, int *n);
int infer_json_element(infer_json_parser_t *js, int *n);

/* checks and skips one value of any kind at js->p */
int infer_json_skip(infer_json_parser_t *js);

/* the whole body is one JSON value */
int infer_json_validate(infer_json_parser_t *js);

/*
 * The string value at js->p: *raw is the token with its quotes, *val its
 * contents, unescaped into buf if needed (val->len is (size_t) -1 if buf
 * is too small; buf may be NULL, size 0, where *raw is enough).
 * INFER_JSON_DECLINED: the value is not a string.
 */
int infer_json_string_value(infer_json_parser_t *js, char *buf, size_t size,
    infer_json_str_t *raw, infer_json_str_t *val);

/*
 * Scans the string that starts with the quote at p: escapes, control
 * characters and UTF-8 are checked, *esc set if it has escapes.  Returns
 * the position after the closing quote, or NULL with a syntax error.
 */
const unsigned char *infer_json_string(infer_json_parser_t *js,
    const unsigned char *p, int *esc);

/*
 * Unescapes the contents of a string checked by infer_json_string() into
 * dst; returns the length, or (size_t) -1 when it does not fit in size.
 */
size_t infer_json_unescape(char *dst, size_t size, const unsigned char *s,
    size_t len);

/* the length of the valid UTF-8 sequence at p, or 0 */
size_t infer_json_utf8(const unsigned char *p, const unsigned char *end);

/* true or false at js->p; INFER_JSON_DECLINED: another value */
int infer_json_bool(infer_json_parser_t *js, int *v);

/*
 * A non-negative integer without fraction or exponent at js->p, at most
 * max: INFER_JSON_OK with *v, INFER_JSON_DECLINED for another value,
 * INFER_JSON_RANGE for a larger integer, INFER_JSON_ERROR for a number
 * that is not valid JSON.  js->p moves past it only on INFER_JSON_OK.
 */
int infer_json_uint(infer_json_parser_t *js, uint64_t max, uint64_t *v);

/* "NaN", "Infinity" or "-Infinity" at p: not JSON, but Python writes them */
int infer_json_nonfinite(const unsigned char *p, const unsigned char *end);


/* the exact double of the number token [p, end), by strtod() */
double infer_json_strtod(const unsigned char *p, const unsigned char *end);

/* the double of a number token scanned into n, exactly */
double infer_json_num_double(const infer_json_num_t *n,
    const unsigned char *s, const unsigned char *end);

/*
 * Writes a float as the shortest decimal that reads back as the same float
 * ("0.1", "1e-07", "-3.4028235e+38"); NaN and infinities, which JSON cannot
 * carry, are written as null.  dst needs room for 16 bytes.  Returns the
 * length written.
 */
size_t infer_json_write_float(char *dst, float v);

/*
 * Writes s as a JSON string with its quotes, escaped as JSON requires.
 * dst needs room for 6 * len + 2 bytes.  Returns the length written.
 */
size_t infer_json_write_string(char *dst, const char *s, size_t len);


static inline const unsigned char *
infer_json_ws(const unsigned char *p, const unsigned char *end)
{
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
    {
        p++;
    }

    return p;
}


/* skips whitespace; the next byte, or -1 at the end of the body */
static inline int
infer_json_peek(infer_json_parser_t *js)
{
    js->p = infer_json_ws(js->p, js->end);

    return js->p < js->end ? *js->p : -1;
}


static inline int
infer_json_digit(int c)
{
    return (unsigned) (c - '0') < 10;
}


/* lit, n bytes, at p */
static inline int
infer_json_literal(const unsigned char *p, const unsigned char *end,
    const char *lit, size_t n)
{
    return (size_t) (end - p) >= n && memcmp(p, lit, n) == 0;
}


/* x * 10^n, rounded once per power of ten (at most 3 times for a float) */
static inline double
infer_json_scale(double x, int n)
{
    while (n > 22) {
        x *= 1e22;
        n -= 22;
    }

    while (n < -22) {
        x /= 1e22;
        n += 22;
    }

    return (n < 0) ? x / infer_json_pow10[-n] : x * infer_json_pow10[n];
}


/*
 * Adds the digits at p to n->m while it can take them (up to 20), eight
 * at a time where the byte order allows; the digits of a fraction lower
 * the exponent, those of an integer part that m cannot take raise it.
 */
static INFER_JSON_INLINE const unsigned char *
infer_json_digits(const unsigned char *p, const unsigned char *end,
    infer_json_num_t *n, int frac)
{
    int       d;
    int64_t   e;
    uint64_t  m;
#if INFER_JSON_SWAR
    uint64_t  w;
#endif

    m = n->m;
    e = n->e;

#if INFER_JSON_SWAR

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

    for ( /* void */ ; p < end && infer_json_digit(*p); p++) {
        d = *p - '0';

        if (m < INFER_JSON_M_MAX || (m == INFER_JSON_M_MAX && d <= 5)) {
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


/*
 * Scans a number token at p (p < end) by the JSON grammar into n; returns
 * the position after it, or NULL.
 */
static INFER_JSON_INLINE const unsigned char *
infer_json_number(const unsigned char *p, const unsigned char *end,
    infer_json_num_t *n)
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
        p = infer_json_digits(p, end, n, 0);

    } else {
        return NULL;
    }

    if (p < end && *p == '.') {
        n->integer = 0;

        if (++p == end || !infer_json_digit(*p)) {
            return NULL;
        }

        p = infer_json_digits(p, end, n, 1);
    }

    if (p < end && (*p == 'e' || *p == 'E')) {
        n->integer = 0;

        if (++p < end && (*p == '-' || *p == '+')) {
            d = (*p++ == '-');

        } else {
            d = 0;
        }

        if (p == end || !infer_json_digit(*p)) {
            return NULL;
        }

        x = 0;

        do {
            if (x < 100000000) {
                x = x * 10 + (*p - '0');
            }

            p++;

        } while (p < end && infer_json_digit(*p));

        n->e += d ? -x : x;
    }

    n->neg = neg;

    return p;
}


/*
 * (float) strtod() of the token [s, end) scanned into n.  Past Clinger's
 * exact case, d is within 3 ulps of m * 10^e: if it is more than 16 ulps
 * away from every point where rounding to float changes (the low 29 bits
 * of a double being 0x10000000), the exact double rounds to the same
 * float.  What is near such a point, and floats out of the normal range,
 * go to strtod().
 */
static INFER_JSON_INLINE float
infer_json_num_float(const infer_json_num_t *n, const unsigned char *s,
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
        return (float) infer_json_strtod(s, end);
    }

    e = (int) n->e;
    d = (double) n->m;

    if (n->m <= (1ULL << 53) && e >= -22 && e <= 22) {
        d = (e < 0) ? d / infer_json_pow10[-e] : d * infer_json_pow10[e];
        f = (float) d;
        return n->neg ? -f : f;
    }

    d = infer_json_scale(d, e);

    memcpy(&bits, &d, sizeof(double));
    be = bits >> 52;
    low = bits & 0x1fffffff;

    if (be < 1023 - 126 || be > 1023 + 127
        || low - (0x10000000 - 16) < 32)
    {
        return (float) infer_json_strtod(s, end);
    }

    f = (float) d;

    return n->neg ? -f : f;
}


/*
 * The integer a number token holds, exactly, as a magnitude *m (the sign
 * is n->neg; "-0" is 0): INFER_JSON_OK, INFER_JSON_DECLINED for a value
 * that is not an integer ("1.5"; "1.0" and "1e2" are integers),
 * INFER_JSON_RANGE for one beyond max (neg_max if negative).  Inline, as
 * the conversion of each value of an integer tensor: a call in the loop
 * over the numbers costs that loop its registers.
 */
static inline int
infer_json_num_integer(const infer_json_num_t *n, uint64_t max,
    uint64_t neg_max, uint64_t *m)
{
    int64_t   e;
    uint64_t  v;

    if (n->trunc) {
        /*
         * m, of 19 or 20 digits, could take no more: nonzero digits went
         * beyond the point (e <= 0) or the value is 2^64 and more
         */
        return (n->e <= 0) ? INFER_JSON_DECLINED : INFER_JSON_RANGE;
    }

    v = n->m;
    e = n->e;

    if (v == 0) {
        *m = 0;
        return INFER_JSON_OK;
    }

    while (e < 0 && v % 10 == 0) {
        v /= 10;
        e++;
    }

    if (e < 0) {
        return INFER_JSON_DECLINED;
    }

    for ( /* void */ ; e > 0; e--) {
        if (v > UINT64_MAX / 10) {
            return INFER_JSON_RANGE;
        }

        v *= 10;
    }

    if (v > (n->neg ? neg_max : max)) {
        return INFER_JSON_RANGE;
    }

    *m = v;

    return INFER_JSON_OK;
}


#endif /* _INFER_JSON_H_INCLUDED_ */
