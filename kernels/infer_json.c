/*
 * ngx_infer: the JSON scanner of the API decoders (infer_json.h): strings,
 * objects, arrays, skipping and validating, errors; the numbers are in
 * infer_json_number.c.
 *
 * Strings are scanned in place: escapes, control characters and UTF-8 are
 * checked, and a string is unescaped, into the caller's buffer, only when
 * it has escapes and the caller wants its value.  "\u0000" is accepted, as
 * RFC 8259 says.  Values a decoder does not know are skipped iteratively,
 * to INFER_JSON_MAX_DEPTH levels, as jansson nests.
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "infer_json.h"


static void infer_json_malformed(infer_json_parser_t *js);
static void infer_json_utf8_fix(char *err);
static int infer_json_open(infer_json_parser_t *js, int c, int *n);
static int infer_json_hex4(const unsigned char *p, const unsigned char *end);


void
infer_json_init(infer_json_parser_t *js, const char *body, size_t len,
    char *err, size_t errlen)
{
    js->start = (const unsigned char *) body;
    js->p = js->start;
    js->end = js->start + len;
    js->err = err;
    js->errlen = errlen;
    js->kind = 0;
    js->err_at = NULL;
    js->err_text = NULL;

    if (errlen) {
        err[0] = '\0';
    }
}


int
infer_json_error(infer_json_parser_t *js, int kind, const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    vsnprintf(js->err, js->errlen, fmt, args);
    va_end(args);

    js->kind = kind;

    return INFER_JSON_ERROR;
}


int
infer_json_error_cat(infer_json_parser_t *js, int kind, size_t *pos,
    const char *fmt, ...)
{
    int      n;
    va_list  args;

    js->kind = kind;

    if (*pos >= js->errlen) {
        return INFER_JSON_ERROR;
    }

    va_start(args, fmt);
    n = vsnprintf(js->err + *pos, js->errlen - *pos, fmt, args);
    va_end(args);

    if (n > 0) {
        *pos += n;
    }

    return INFER_JSON_ERROR;
}


int
infer_json_syntax(infer_json_parser_t *js, const unsigned char *at,
    const char *text)
{
    js->kind = INFER_JSON_SYNTAX;
    js->err_at = at;
    js->err_text = text;

    return INFER_JSON_ERROR;
}


int
infer_json_report(infer_json_parser_t *js)
{
    if (js->kind == INFER_JSON_INVALID
        && infer_json_validate(js) != INFER_JSON_OK)
    {
        js->kind = INFER_JSON_SYNTAX;
    }

    if (js->kind == INFER_JSON_SYNTAX) {
        infer_json_malformed(js);
    }

    infer_json_utf8_fix(js->err);

    return INFER_JSON_ERROR;
}


/*
 * Jansson's message for malformed JSON, unless jansson accepts the body or
 * stops before the error found here (on what RFC 8259 allows and jansson
 * does not, as integers beyond 64 bits): then the position found here.
 */

static void
infer_json_malformed(infer_json_parser_t *js)
{
    size_t                line, col, at;
    json_t               *json;
    json_error_t          jerr;
    const unsigned char  *p;

    at = js->err_at - js->start;

    json = json_loadb((const char *) js->start, js->end - js->start,
                      JSON_ALLOW_NUL, &jerr);

    if (json == NULL && jerr.position >= 0 && (size_t) jerr.position >= at) {
        snprintf(js->err, js->errlen,
                 "malformed JSON at line %d, column %d: %s", jerr.line,
                 jerr.column, jerr.text);
        return;
    }

    json_decref(json);

    line = 1;
    col = 1;

    for (p = js->start; p < js->err_at; p++) {
        if (*p == '\n') {
            line++;
            col = 1;

        } else {
            col++;
        }
    }

    snprintf(js->err, js->errlen,
             "malformed JSON at line %zu, column %zu: %s", line, col,
             js->err_text);
}


/*
 * Makes a message valid UTF-8: drops a sequence cut short by its end, and
 * turns into '?' any other byte that starts no valid sequence (jansson
 * quotes the token it stopped in, which may end inside a sequence:
 * "invalid escape near '"\u12\xe2'").
 */

static void
infer_json_utf8_fix(char *err)
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

        n = infer_json_utf8(p, end);

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


const char *
infer_json_token(char *buf, const void *p, size_t len)
{
    size_t                n;
    const unsigned char  *s;

    s = p;

    if (len <= INFER_JSON_TOKEN) {
        memcpy(buf, s, len);
        buf[len] = '\0';
        return buf;
    }

    /* not in the middle of a UTF-8 sequence */
    n = INFER_JSON_TOKEN;

    while ((s[n] & 0xc0) == 0x80) {
        n--;
    }

    memcpy(buf, s, n);
    memcpy(buf + n, "...", 4);

    return buf;
}


int
infer_json_object(infer_json_parser_t *js, infer_json_object_t *o)
{
    o->seen = 0;

    return infer_json_open(js, '{', &o->n);
}


int
infer_json_member(infer_json_parser_t *js, infer_json_object_t *o,
    const char *const *keys, int *k)
{
    int               c;
    char              buf[32];
    infer_json_str_t  raw, key;

    for ( ;; ) {
        c = infer_json_peek(js);

        if (c == '}') {
            js->p++;
            return 0;
        }

        if (o->n > 0) {
            if (c != ',') {
                return infer_json_syntax(js, js->p, "',' or '}' expected");
            }

            js->p++;
            c = infer_json_peek(js);

        } else if (c != '"') {
            return infer_json_syntax(js, js->p, "string or '}' expected");
        }

        if (c != '"') {
            return infer_json_syntax(js, js->p, "string expected");
        }

        if (infer_json_string_value(js, buf, sizeof(buf), &raw, &key)
            != INFER_JSON_OK)
        {
            return INFER_JSON_ERROR;
        }

        if (infer_json_peek(js) != ':') {
            return infer_json_syntax(js, js->p, "':' expected");
        }

        js->p++;
        o->n++;

        for (*k = 0; keys[*k] != NULL; (*k)++) {
            if (key.len == strlen(keys[*k])
                && memcmp(key.p, keys[*k], key.len) == 0)
            {
                if (o->seen & (1u << *k)) {
                    return INFER_JSON_DECLINED;
                }

                o->seen |= 1u << *k;
                return 1;
            }
        }

        if (infer_json_skip(js) != INFER_JSON_OK) {
            return INFER_JSON_ERROR;
        }
    }
}


int
infer_json_array(infer_json_parser_t *js, int *n)
{
    return infer_json_open(js, '[', n);
}


int
infer_json_element(infer_json_parser_t *js, int *n)
{
    int  c;

    c = infer_json_peek(js);

    if (c == ']') {
        js->p++;
        return 0;
    }

    if (*n > 0) {
        if (c != ',') {
            return infer_json_syntax(js, js->p, "',' or ']' expected");
        }

        js->p++;
    }

    (*n)++;

    return 1;
}


/* the value at js->p opens with c: past it, nothing read of it yet */

static int
infer_json_open(infer_json_parser_t *js, int c, int *n)
{
    if (infer_json_peek(js) != c) {
        return 0;
    }

    js->p++;
    *n = 0;

    return 1;
}


/*
 * Checks and skips one value of any kind; iterative, with one bit per
 * level telling objects from arrays.
 */

int
infer_json_skip(infer_json_parser_t *js)
{
    int                   esc, obj;
    size_t                n, depth;
    unsigned char         stack[INFER_JSON_MAX_DEPTH / 8];
    infer_json_num_t      num;
    const unsigned char  *p, *q, *end;

    p = js->p;
    end = js->end;
    depth = 0;

value:

    p = infer_json_ws(p, end);

    if (p == end) {
        goto eof;
    }

    switch (*p) {

    case '{':
    case '[':
        if (depth == INFER_JSON_MAX_DEPTH) {
            return infer_json_syntax(js, p, "nested too deeply");
        }

        obj = (*p == '{');

        if (obj) {
            stack[depth / 8] |= 1 << (depth % 8);
        } else {
            stack[depth / 8] &= ~(1 << (depth % 8));
        }

        depth++;
        p = infer_json_ws(p + 1, end);

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
        p = infer_json_string(js, p, &esc);
        if (p == NULL) {
            return INFER_JSON_ERROR;
        }

        break;

    case 't':
    case 'f':
    case 'n':
        n = (*p == 'f') ? 5 : 4;

        if (!infer_json_literal(p, end, (*p == 't') ? "true"
                                        : (*p == 'f') ? "false" : "null", n))
        {
            return infer_json_syntax(js, p, "invalid literal");
        }

        p += n;
        break;

    default:
        q = infer_json_number(p, end, &num);
        if (q == NULL) {
            return infer_json_syntax(js, p, "invalid token");
        }

        p = q;
    }

next:

    if (depth == 0) {
        js->p = p;
        return INFER_JSON_OK;
    }

    p = infer_json_ws(p, end);

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

    return infer_json_syntax(js, p, obj ? "',' or '}' expected"
                                        : "',' or ']' expected");

key:

    p = infer_json_ws(p, end);

    if (p == end) {
        goto eof;
    }

    if (*p != '"') {
        return infer_json_syntax(js, p, "string expected");
    }

    p = infer_json_string(js, p, &esc);
    if (p == NULL) {
        return INFER_JSON_ERROR;
    }

    p = infer_json_ws(p, end);

    if (p == end) {
        goto eof;
    }

    if (*p != ':') {
        return infer_json_syntax(js, p, "':' expected");
    }

    p++;
    goto value;

eof:

    return infer_json_syntax(js, p, "unexpected end of input");
}


int
infer_json_validate(infer_json_parser_t *js)
{
    js->p = js->start;

    if (infer_json_skip(js) != INFER_JSON_OK) {
        return INFER_JSON_ERROR;
    }

    if (infer_json_peek(js) != -1) {
        return infer_json_syntax(js, js->p, "end of file expected");
    }

    return INFER_JSON_OK;
}


int
infer_json_string_value(infer_json_parser_t *js, char *buf, size_t size,
    infer_json_str_t *raw, infer_json_str_t *val)
{
    int                   esc;
    const unsigned char  *s;

    if (infer_json_peek(js) != '"') {
        return INFER_JSON_DECLINED;
    }

    s = js->p;
    esc = 0;
    js->p = infer_json_string(js, s, &esc);
    if (js->p == NULL) {
        return INFER_JSON_ERROR;
    }

    raw->p = (const char *) s;
    raw->len = js->p - s;
    val->p = raw->p + 1;
    val->len = raw->len - 2;

    if (esc) {
        val->len = infer_json_unescape(buf, size, s + 1, val->len);
        val->p = buf;
    }

    return INFER_JSON_OK;
}


const unsigned char *
infer_json_string(infer_json_parser_t *js, const unsigned char *p, int *esc)
{
    int                   u;
    size_t                n;
    const unsigned char  *end;

    end = js->end;
    p++;

    for ( ;; ) {

        if (p == end) {
            infer_json_syntax(js, p, "unterminated string");
            return NULL;
        }

        if (*p == '"') {
            return p + 1;
        }

        if (*p < 0x20) {
            infer_json_syntax(js, p, "control character in string");
            return NULL;
        }

        if (*p < 0x80 && *p != '\\') {
            p++;
            continue;
        }

        if (*p >= 0x80) {
            n = infer_json_utf8(p, end);
            if (n == 0) {
                infer_json_syntax(js, p, "invalid UTF-8 in string");
                return NULL;
            }

            p += n;
            continue;
        }

        *esc = 1;

        if (p + 1 == end) {
            infer_json_syntax(js, p + 1, "unterminated string");
            return NULL;
        }

        switch (p[1]) {

        case '"': case '\\': case '/': case 'b':
        case 'f': case 'n': case 'r': case 't':
            p += 2;
            continue;

        case 'u':
            u = infer_json_hex4(p + 2, end);

            if (u >= 0xd800 && u <= 0xdbff) {
                if (end - p < 12 || p[6] != '\\' || p[7] != 'u') {
                    u = -1;

                } else {
                    u = infer_json_hex4(p + 8, end);
                    u = (u >= 0xdc00 && u <= 0xdfff) ? 0 : -1;
                    p += 6;
                }

            } else if (u >= 0xdc00 && u <= 0xdfff) {
                u = -1;
            }

            if (u < 0) {
                infer_json_syntax(js, p, "invalid \\u escape in string");
                return NULL;
            }

            p += 6;
            continue;

        default:
            infer_json_syntax(js, p, "invalid escape in string");
            return NULL;
        }
    }
}


size_t
infer_json_unescape(char *dst, size_t size, const unsigned char *s, size_t len)
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
            u = infer_json_hex4(s + 2, end);

            if (u >= 0xd800 && u <= 0xdbff) {
                u = 0x10000 + ((u - 0xd800) << 10)
                    + (infer_json_hex4(s + 8, end) - 0xdc00);
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


size_t
infer_json_utf8(const unsigned char *p, const unsigned char *end)
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
infer_json_hex4(const unsigned char *p, const unsigned char *end)
{
    int  i, c, u;

    if (end - p < 4) {
        return -1;
    }

    u = 0;

    for (i = 0; i < 4; i++) {
        c = p[i];

        if (infer_json_digit(c)) {
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


int
infer_json_bool(infer_json_parser_t *js, int *v)
{
    int  c;

    c = infer_json_peek(js);

    if (c == 't' && infer_json_literal(js->p, js->end, "true", 4)) {
        js->p += 4;
        *v = 1;
        return INFER_JSON_OK;
    }

    if (c == 'f' && infer_json_literal(js->p, js->end, "false", 5)) {
        js->p += 5;
        *v = 0;
        return INFER_JSON_OK;
    }

    return INFER_JSON_DECLINED;
}


int
infer_json_uint(infer_json_parser_t *js, uint64_t max, uint64_t *v)
{
    infer_json_num_t      num;
    const unsigned char  *p;

    if (!infer_json_digit(infer_json_peek(js))) {
        return INFER_JSON_DECLINED;
    }

    p = infer_json_number(js->p, js->end, &num);
    if (p == NULL) {
        return infer_json_syntax(js, js->p, "invalid number");
    }

    if (!num.integer) {
        return INFER_JSON_DECLINED;
    }

    /* e != 0: digits beyond the 20 that m takes */
    if (num.trunc || num.e != 0 || num.m > max) {
        return INFER_JSON_RANGE;
    }

    *v = num.m;
    js->p = p;

    return INFER_JSON_OK;
}


int
infer_json_nonfinite(const unsigned char *p, const unsigned char *end)
{
    if (end - p >= 3 && memcmp(p, "NaN", 3) == 0) {
        return 1;
    }

    if (p < end && *p == '-') {
        p++;
    }

    return end - p >= 8 && memcmp(p, "Infinity", 8) == 0;
}


size_t
infer_json_write_string(char *dst, const char *s, size_t len)
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
