/*
 * Unit tests of the JSON machinery (kernels/infer_json.h) through its own
 * API, as a decoder other than KServe's uses it: objects and arrays,
 * strings, numbers of each kind, errors and their report, the writers.
 * test_kserve.c covers the same code through the KServe decoder, every
 * message included; these pin down the contract a new decoder relies on.
 * TAP output; every body is a malloc()ed copy of its exact size, so that
 * a read past the end shows under valgrind or AddressSanitizer.
 *
 *     make build/test_json && build/test_json
 */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer_json.h"

#include "tap.h"


static char                 tj_err[256];
static char                *tj_body;
static infer_json_parser_t  tj_js;


/* one assertion; got, when it fails, is what to look at */

static void
tj_check(int cond, const char *what, const char *got)
{
    ok(cond, "%s", what);

    if (!cond && got != NULL) {
        diag("got: %s", got);
    }
}


/* a walk over a copy of s of its exact size */

static infer_json_parser_t *
tj_parser(const char *s)
{
    size_t  len;

    len = strlen(s);
    tj_body = exact_copy(tj_body, s, len);
    infer_json_init(&tj_js, tj_body, len, tj_err, sizeof(tj_err));

    return &tj_js;
}


static void
test_objects(void)
{
    int                   k, rc, got, n;
    uint64_t              v, sum;
    infer_json_object_t   obj;
    infer_json_parser_t  *js;

    static const char    *keys[] = { "a", "b", NULL };

    /* other keys, whatever their values, are checked and skipped */
    js = tj_parser(" { \"x\": [1, {\"y\": null}], \"b\": 2, \"a\": 1,"
                   " \"x\": \"again\" } ");
    got = 0;

    if (infer_json_object(js, &obj)) {
        while ((rc = infer_json_member(js, &obj, keys, &k)) == 1
               && infer_json_uint(js, 9, &v) == INFER_JSON_OK)
        {
            got = got * 10 + (k + 1) * (int) v;
        }

        got = (rc == 0 && infer_json_validate(js) == INFER_JSON_OK)
              ? got : -1;
    }

    tj_check(got == 41 && obj.seen == 3,
             "member: the keys of the table, in order; others skipped, "
             "even repeated", NULL);

    js = tj_parser("{\"a\": 1, \"b\": 2, \"a\": 3}");
    infer_json_object(js, &obj);

    while ((rc = infer_json_member(js, &obj, keys, &k)) == 1) {
        infer_json_skip(js);
    }

    tj_check(rc == INFER_JSON_DECLINED && k == 0,
             "member: a key of the table twice is DECLINED, with its index",
             NULL);

    /* RFC 8259 allows it, jansson does not (the fuzzers found it) */
    js = tj_parser("{\"a\\u0000\": 1, \"a\": 2}");
    infer_json_object(js, &obj);
    rc = infer_json_member(js, &obj, keys, &k);
    tj_check(rc == 1 && k == 0 && infer_json_uint(js, 9, &v) == INFER_JSON_OK
             && v == 2 && infer_json_validate(js) == INFER_JSON_OK,
             "member: a key with \\u0000 is a key of its own, and valid",
             NULL);

    js = tj_parser("[1, 2]");
    tj_check(!infer_json_object(js, &obj) && js->p == js->start,
             "object: an array is not an object, and is not consumed",
             NULL);

    js = tj_parser("[ 3, 4 ,5 ]");
    sum = 0;
    rc = -1;

    if (infer_json_array(js, &n)) {
        while ((rc = infer_json_element(js, &n)) == 1
               && infer_json_uint(js, 100, &v) == INFER_JSON_OK)
        {
            sum = sum * 10 + v;
        }
    }

    tj_check(rc == 0 && sum == 345 && n == 3,
             "array: three elements, counted", NULL);

    js = tj_parser("[]");
    tj_check(infer_json_array(js, &n) && infer_json_element(js, &n) == 0
             && n == 0 && infer_json_peek(js) == -1,
             "array: empty", NULL);

    /* the walk stops at the missing comma; jansson says where and why */
    js = tj_parser("[1\n 2]");
    infer_json_array(js, &n);

    while ((rc = infer_json_element(js, &n)) == 1) {
        infer_json_skip(js);
    }

    rc = (rc == INFER_JSON_ERROR) ? infer_json_report(js) : 0;
    tj_check(rc == INFER_JSON_ERROR
             && strncmp(tj_err, "malformed JSON at line 2, column ", 33)
                == 0,
             "element: a missing ',' is malformed JSON, reported by "
             "jansson's position", tj_err);
}


static void
test_strings(void)
{
    char                  buf[16];
    infer_json_str_t      raw, val;
    infer_json_parser_t  *js;

    js = tj_parser("\"a\\n\\u00e9\\ud83d\\ude00\\/\"");
    tj_check(infer_json_string_value(js, buf, sizeof(buf), &raw, &val)
             == INFER_JSON_OK
             && raw.len == 25 && val.p == buf && val.len == 9
             && memcmp(val.p, "a\n\xc3\xa9\xf0\x9f\x98\x80/", 9) == 0,
             "string_value: escapes and a surrogate pair unescaped", NULL);

    js = tj_parser("\"plain\"");
    tj_check(infer_json_string_value(js, NULL, 0, &raw, &val)
             == INFER_JSON_OK
             && val.p == raw.p + 1 && val.len == 5,
             "string_value: without escapes, the body itself, no buffer "
             "needed", NULL);

    js = tj_parser("\"\\u00e9\\u00e9\\u00e9\"");
    tj_check(infer_json_string_value(js, buf, 4, &raw, &val)
             == INFER_JSON_OK
             && val.len == (size_t) -1,
             "string_value: a buffer too small is said by the length",
             NULL);

    js = tj_parser("12");
    tj_check(infer_json_string_value(js, buf, sizeof(buf), &raw, &val)
             == INFER_JSON_DECLINED && js->p == js->start,
             "string_value: a number is DECLINED, not consumed", NULL);

    js = tj_parser("\"\xc3\x28\"");
    tj_check(infer_json_string_value(js, buf, sizeof(buf), &raw, &val)
             == INFER_JSON_ERROR && js->kind == INFER_JSON_SYNTAX
             && strcmp(js->err_text, "invalid UTF-8 in string") == 0,
             "string_value: invalid UTF-8 is a syntax error", NULL);

    js = tj_parser("\"\\udc00\"");
    tj_check(infer_json_string_value(js, buf, sizeof(buf), &raw, &val)
             == INFER_JSON_ERROR
             && strcmp(js->err_text, "invalid \\u escape in string") == 0,
             "string_value: a lone low surrogate is refused", NULL);
}


/* the number token of s, scanned */

static const unsigned char *
tj_number(const char *s, infer_json_num_t *num)
{
    infer_json_parser_t  *js;

    js = tj_parser(s);

    return infer_json_number(js->p, js->end, num);
}


static void
test_numbers(void)
{
    int                   i, same;
    float                 f;
    uint64_t              m, v;
    infer_json_num_t      num;
    const unsigned char  *end;
    infer_json_parser_t  *js;

    static const char    *floats[] = {
        "0.1", "3.4028235e38", "1e-45", "7e-46", "1.17549435e-38",
        "0.30000001192092896", "1.000000059604644775390625",
        "123456789012345678901234567890", "-2.5e-3", "4e39"
    };

    same = 1;

    for (i = 0; i < (int) (sizeof(floats) / sizeof(floats[0])); i++) {
        end = tj_number(floats[i], &num);
        f = infer_json_num_float(&num, tj_js.p, end);

        if (end != tj_js.end || f != (float) strtod(floats[i], NULL)) {
            printf("# %s: %.9g, strtod says %.9g\n", floats[i], f,
                   (float) strtod(floats[i], NULL));
            same = 0;
        }
    }

    tj_check(same, "num_float: what (float) strtod() gives, up to infinity",
             NULL);

    end = tj_number("-0", &num);
    f = infer_json_num_float(&num, tj_js.p, end);
    tj_check(f == 0 && signbit(f), "num_float: -0 keeps its sign", NULL);

    end = tj_number("1e300", &num);
    tj_check(infer_json_num_double(&num, tj_js.p, end) == 1e300,
             "num_double: beyond float range", NULL);

    tj_check(tj_number("01", &num) != tj_js.end
             && tj_number("1.", &num) == NULL
             && tj_number("-", &num) == NULL
             && tj_number("1e+", &num) == NULL,
             "number: the JSON grammar (no leading zero, digits after "
             "'.' and 'e')", NULL);

    end = tj_number("1e2", &num);
    tj_check(infer_json_num_integer(&num, 1000, 0, &m) == INFER_JSON_OK
             && m == 100,
             "num_integer: 1e2 is the integer 100", NULL);

    end = tj_number("-12.50e1", &num);
    tj_check(infer_json_num_integer(&num, 0, 125, &m) == INFER_JSON_OK
             && m == 125 && num.neg,
             "num_integer: -12.50e1 is -125, within neg_max", NULL);

    end = tj_number("1.5", &num);
    tj_check(infer_json_num_integer(&num, 1000, 1000, &m)
             == INFER_JSON_DECLINED,
             "num_integer: 1.5 is not an integer", NULL);

    end = tj_number("-129", &num);
    tj_check(infer_json_num_integer(&num, 127, 128, &m) == INFER_JSON_RANGE,
             "num_integer: -129 is beyond neg_max 128", NULL);

    end = tj_number("18446744073709551616", &num);
    tj_check(infer_json_num_integer(&num, UINT64_MAX, 0, &m)
             == INFER_JSON_RANGE,
             "num_integer: 2^64 is beyond any max", NULL);

    js = tj_parser("9223372036854775807");
    tj_check(infer_json_uint(js, INT64_MAX, &v) == INFER_JSON_OK
             && v == INT64_MAX && js->p == js->end,
             "uint: INT64_MAX", NULL);

    js = tj_parser("9223372036854775808");
    tj_check(infer_json_uint(js, INT64_MAX, &v) == INFER_JSON_RANGE,
             "uint: INT64_MAX + 1 is out of range", NULL);

    js = tj_parser("-1");
    tj_check(infer_json_uint(js, 10, &v) == INFER_JSON_DECLINED
             && js->p == js->start,
             "uint: a negative number is DECLINED, not consumed", NULL);

    js = tj_parser("2.0");
    tj_check(infer_json_uint(js, 10, &v) == INFER_JSON_DECLINED,
             "uint: 2.0 has a fraction, DECLINED", NULL);

    tj_check(infer_json_nonfinite((const unsigned char *) "-Infinity",
                                  (const unsigned char *) "-Infinity" + 9)
             && !infer_json_nonfinite((const unsigned char *) "Nan",
                                      (const unsigned char *) "Nan" + 3),
             "nonfinite: Python's -Infinity, not Nan", NULL);
}


static void
test_errors(void)
{
    int                   i, rc;
    char                  deep[2 * INFER_JSON_MAX_DEPTH + 3];
    size_t                pos;
    infer_json_parser_t  *js;

    /* refused by the decoder, but malformed further on: malformed wins */
    js = tj_parser("{\"a\": true, \"b\": tru}");
    infer_json_error(js, INFER_JSON_INVALID, "a: expected a number");
    rc = infer_json_report(js);
    tj_check(rc == INFER_JSON_ERROR
             && strncmp(tj_err, "malformed JSON at line 1, column ", 33)
                == 0,
             "report: malformed JSON after an invalid field wins", tj_err);

    js = tj_parser("{\"a\": true}");
    infer_json_error(js, INFER_JSON_INVALID, "a: expected a number");
    infer_json_report(js);
    tj_check(strcmp(tj_err, "a: expected a number") == 0,
             "report: an invalid field in valid JSON keeps its message",
             tj_err);

    js = tj_parser("[tru");
    infer_json_error(js, INFER_JSON_FINAL, "NaN is not JSON");
    infer_json_report(js);
    tj_check(strcmp(tj_err, "NaN is not JSON") == 0,
             "report: a final error is not checked further", tj_err);

    js = tj_parser("{}");
    pos = 0;
    infer_json_error_cat(js, INFER_JSON_INVALID, &pos, "expected%s",
                         " one of");

    for (i = 0; i < 2; i++) {
        infer_json_error_cat(js, INFER_JSON_INVALID, &pos, "%s \"%c\"",
                             i ? "," : "", 'a' + i);
    }

    tj_check(strcmp(tj_err, "expected one of \"a\", \"b\"") == 0
             && pos == strlen(tj_err) && js->kind == INFER_JSON_INVALID,
             "error_cat: a message in pieces", tj_err);

    js = tj_parser("{\"a\": \"\xe2\x82\xac\"}");
    infer_json_error(js, INFER_JSON_INVALID, "a: \"\xe2\x82\" cut");
    infer_json_report(js);
    tj_check(strcmp(tj_err, "a: \"??\" cut") == 0,
             "report: the message is made valid UTF-8", tj_err);

    for (i = 0; i <= INFER_JSON_MAX_DEPTH; i++) {
        deep[i] = '[';
        deep[2 * INFER_JSON_MAX_DEPTH + 1 - i] = ']';
    }

    deep[2 * INFER_JSON_MAX_DEPTH + 2] = '\0';
    js = tj_parser(deep);
    tj_check(infer_json_validate(js) == INFER_JSON_ERROR
             && strcmp(js->err_text, "nested too deeply") == 0,
             "validate: one level deeper than jansson nests", NULL);

    memset(deep + INFER_JSON_MAX_DEPTH, ']', INFER_JSON_MAX_DEPTH);
    deep[2 * INFER_JSON_MAX_DEPTH] = '\0';
    js = tj_parser(deep);
    tj_check(infer_json_validate(js) == INFER_JSON_OK,
             "validate: as deep as jansson nests", NULL);
}


static void
test_writers(void)
{
    int      i, same;
    char     buf[64], tok[INFER_JSON_TOKEN + 8];
    size_t   n;

    static const struct {
        float        v;
        const char  *s;
    } floats[] = {
        { 0.1f, "0.1" }, { 1e-7f, "1e-07" }, { -3.4028235e38f,
        "-3.4028235e+38" }, { 100.0f, "100" }, { 1.5e-45f, "1e-45" },
        { 123456.0f, "123456" }, { 0.00012f, "0.00012" }
    };

    same = 1;

    for (i = 0; i < (int) (sizeof(floats) / sizeof(floats[0])); i++) {
        n = infer_json_write_float(buf, floats[i].v);
        buf[n] = '\0';

        if (strcmp(buf, floats[i].s) != 0) {
            printf("# %.9g: \"%s\", want \"%s\"\n", floats[i].v, buf,
                   floats[i].s);
            same = 0;
        }
    }

    tj_check(same, "write_float: the shortest decimal", NULL);

    n = infer_json_write_float(buf, NAN);
    buf[n] = '\0';
    tj_check(strcmp(buf, "null") == 0, "write_float: NaN is null", buf);

    n = infer_json_write_string(buf, "a\"b\\\n\x01\xc3\xa9", 8);
    buf[n] = '\0';
    tj_check(strcmp(buf, "\"a\\\"b\\\\\\n\\u0001\xc3\xa9\"") == 0,
             "write_string: escapes, UTF-8 as it is", buf);

    /* 39 bytes, then a euro sign across the 40th */
    memset(buf, 'x', 39);
    memcpy(buf + 39, "\xe2\x82\xac yz", 6);
    tj_check(strcmp(infer_json_token(tok, buf, 45),
                    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...") == 0,
             "token: a long token cut, never inside a UTF-8 sequence", tok);
}


int
main(void)
{
    test_objects();
    test_strings();
    test_numbers();
    test_errors();
    test_writers();

    free(tj_body);

    return done();
}
