/*
 * Unit tests of the OpenAI codec (kernels/infer_openai.h), TAP output.
 * Every body is decoded from a malloc()ed copy of its exact size, and
 * every answer is written into a malloc() of exactly the room its _size()
 * function asks for, so that a read or a write past the end shows under
 * valgrind or AddressSanitizer.  The answers are read back with jansson,
 * and base64 with a decoder of the test's own.
 *
 *     make build/test_openai && prove t/008-openai-codec.t
 *
 * TEST_OPENAI_SCALE=0.1 in the environment shrinks the randomized parts
 * (for valgrind).
 */

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "infer_openai.h"

#include "tap.h"


#define TEST_VOCAB     100


typedef struct {
    const char  *body;
    const char  *param;          /* NULL: null */
    const char  *code;
    const char  *err;
} test_error_t;


static double               test_scale = 1.0;

static infer_oai_input_t    test_inputs[8];
static char                 test_text[4096];
static int32_t              test_ids[16];
static infer_oai_request_t  test_req;
static char                *test_body;
static size_t               test_len;


/* the caller's buffers: 4 inputs, 16 ids of a 100-token vocabulary */

static void
setup(size_t max_inputs, size_t ids_cap, int64_t vocab)
{
    memset(&test_req, 0, sizeof(test_req));
    memset(test_inputs, 0, sizeof(test_inputs));

    test_req.inputs = test_inputs;
    test_req.max_inputs = max_inputs;
    test_req.text = test_text;
    test_req.text_cap = sizeof(test_text);
    test_req.ids = test_ids;
    test_req.ids_cap = ids_cap;
    test_req.vocab = vocab;
}


/* the copy lives until the next decode: the spans point into it */

static int
decode_len(const char *body, size_t len)
{
    test_body = exact_copy(test_body, body, len);
    test_len = len;

    return infer_oai_decode_embeddings(&test_req, test_body, len);
}


static int
decode(const char *body)
{
    return decode_len(body, strlen(body));
}


static int
span_is(const char *p, size_t len, const char *want)
{
    return p != NULL && len == strlen(want) && memcmp(p, want, len) == 0;
}


static int
in_body(const char *p, size_t len)
{
    return p >= test_body && p + len <= test_body + test_len;
}


static int
in_text(const char *p, size_t len)
{
    return p >= test_text && p + len <= test_text + sizeof(test_text);
}


static int
text_is(size_t i, const char *want)
{
    return test_inputs[i].kind == INFER_OAI_TEXT
           && span_is(test_inputs[i].text, test_inputs[i].len, want);
}


/* the ids of input i, -1-terminated */

static int
ids_are(size_t i, ...)
{
    int      v;
    size_t   k;
    va_list  args;

    if (test_inputs[i].kind != INFER_OAI_TOKENS) {
        return 0;
    }

    va_start(args, i);

    for (k = 0; (v = va_arg(args, int)) >= 0; k++) {
        if (k >= test_inputs[i].n_ids || test_inputs[i].ids[k] != v) {
            va_end(args);
            return 0;
        }
    }

    va_end(args);

    return k == test_inputs[i].n_ids;
}


static int
utf8_valid(const char *s)
{
    json_t  *j;

    /* jansson checks the UTF-8 of a string it is given */
    j = json_string(s);
    json_decref(j);

    return j != NULL;
}


static void
test_valid(void)
{
    setup(4, 16, TEST_VOCAB);

    ok(decode("{\"input\":\"hello world\",\"model\":\"minilm\"}") == 0
       && test_req.ninputs == 1 && text_is(0, "hello world")
       && in_body(test_inputs[0].text, test_inputs[0].len)
       && span_is(test_req.model.p, test_req.model.len, "minilm")
       && in_body(test_req.model.p, test_req.model.len)
       && test_req.encoding_format == INFER_OAI_FLOAT
       && test_req.dimensions == 0 && test_req.status == 0
       && test_req.param == NULL && test_req.code == NULL,
       "a string, spans of the body, the defaults");

    ok(decode(" { \"model\" : \"m\" , \"input\" : [ \"a\" , \"b c\" ,"
              " \"d\" ] } ") == 0
       && test_req.ninputs == 3 && text_is(0, "a") && text_is(1, "b c")
       && text_is(2, "d") && in_body(test_inputs[2].text, 1),
       "an array of strings, model first, whitespace");

    ok(decode("{\"input\":[0,5,99,-0],\"model\":\"m\"}") == 0
       && test_req.ninputs == 1 && ids_are(0, 0, 5, 99, 0, -1)
       && test_inputs[0].ids == test_ids,
       "an array of integers is one tokenized input (ids < vocab, -0)");

    ok(decode("{\"input\":[[1,2],[3],[4,5,6]],\"model\":\"m\"}") == 0
       && test_req.ninputs == 3 && ids_are(0, 1, 2, -1) && ids_are(1, 3, -1)
       && ids_are(2, 4, 5, 6, -1) && test_inputs[1].ids == test_ids + 2,
       "an array of arrays of integers, packed in req->ids");

    ok(decode("{\"input\":\"x\",\"model\":\"m\",\"encoding_format\":"
              "\"base64\",\"dimensions\":256,\"user\":\"u-1\"}") == 0
       && test_req.encoding_format == INFER_OAI_BASE64
       && test_req.dimensions == 256,
       "encoding_format base64, dimensions, user");

    ok(decode("{\"input\":\"x\",\"model\":\"m\",\"encoding_format\":\"float\","
              "\"dimensions\":2147483647}") == 0
       && test_req.encoding_format == INFER_OAI_FLOAT
       && test_req.dimensions == 2147483647,
       "encoding_format float, the largest dimensions");

    ok(decode("{\"input\":\"x\",\"model\":\"m\",\"encoding_format\":null,"
              "\"dimensions\":null,\"user\":null}") == 0
       && test_req.encoding_format == INFER_OAI_FLOAT
       && test_req.dimensions == 0,
       "null for an optional key is as if absent");

    ok(decode("{\"extra\":{\"a\":[1,{\"b\":null}],\"c\":\"\\u00e9\"},"
              "\"input\":\"x\",\"stream\":true,\"model\":\"m\","
              "\"extra\":-1.5e3}") == 0
       && test_req.ninputs == 1 && text_is(0, "x"),
       "unknown keys are skipped, even twice");

    ok(decode("{\"input\":[\"plain\",\"a\\nb\\\"c\\\\d\\/e\\t\",\"\\u00e9t"
              "\\u00e9\"],\"model\":\"m\"}") == 0
       && test_req.ninputs == 3 && text_is(0, "plain")
       && in_body(test_inputs[0].text, 5)
       && text_is(1, "a\nb\"c\\d/e\t") && test_inputs[1].text == test_text
       && text_is(2, "\xc3\xa9t\xc3\xa9")
       && test_inputs[2].text == test_text + test_inputs[1].len,
       "escapes are unescaped one after the other into req->text");

    ok(decode("{\"input\":[\"\\ud83d\\ude00 \\u20ac\\u0041\",\"\xf0\x9f\x98"
              "\x80 \xe2\x82\xac\x41\"],\"model\":\"m\"}") == 0
       && text_is(0, "\xf0\x9f\x98\x80 \xe2\x82\xac\x41")
       && text_is(1, "\xf0\x9f\x98\x80 \xe2\x82\xac\x41")
       && in_text(test_inputs[0].text, test_inputs[0].len)
       && in_body(test_inputs[1].text, test_inputs[1].len),
       "a surrogate pair and raw UTF-8 give the same text");

    ok(decode("{\"input\":\"x\",\"model\":\"all-\\u004diniLM\"}") == 0
       && span_is(test_req.model.p, test_req.model.len, "all-MiniLM")
       && test_req.model.p == test_req.scratch,
       "a model with escapes is unescaped into req->scratch");

    ok(decode("{\"input\":[\"a\",\"b\",\"c\",\"d\"],\"model\":\"m\"}") == 0
       && test_req.ninputs == 4,
       "max_inputs inputs");

    ok(decode("{\"input\":[[1,2,3,4,5,6,7,8],[9,10,11,12,13,14,15,16]],"
              "\"model\":\"m\"}") == 0
       && ids_are(1, 9, 10, 11, 12, 13, 14, 15, 16, -1),
       "ids_cap ids");

    /* escapes that shrink least, last in the body: len is enough */
    test_req.text_cap = 56;
    ok(decode("{\"model\":\"m\",\"input\":[\"\\n\",\"\\n\\t\",\"\\u20ac"
              "\\ud83d\\ude00\"]}") == 0
       && test_len == 56 && text_is(0, "\n") && text_is(1, "\n\t")
       && text_is(2, "\xe2\x82\xac\xf0\x9f\x98\x80"),
       "text_cap of the body's length is enough");

    setup(4, 16, 0);

    ok(decode("{\"input\":[2147483647,0],\"model\":\"m\"}") == 0
       && ids_are(0, 2147483647, 0, -1),
       "vocab 0: ids unchecked up to INT32_MAX");

    setup(4, 16, 3000000000LL);

    ok(decode("{\"input\":[2147483647],\"model\":\"m\"}") == 0
       && ids_are(0, 2147483647, -1),
       "a vocabulary past INT32_MAX: ids up to INT32_MAX");
}


/* every error at 400 with max_inputs 4, ids_cap 16, vocab 100 */

static const test_error_t  test_errors[] = {

#define BAD_INPUT(why)                                                        \
    "'$.input' is invalid: " why ". Please check the API reference: "        \
    "https://platform.openai.com/docs/api-reference."

    /* the request */
    { "[{\"input\":\"x\"}]", NULL, "invalid_type",
      "Invalid type for the request body: expected an object, but got an "
      "array instead." },
    { "\"x\"", NULL, "invalid_type",
      "Invalid type for the request body: expected an object, but got a "
      "string instead." },
    { "{\"input\":\"x\"}", "model", NULL,
      "you must provide a model parameter" },
    { "{\"input\":\"x\",\"model\":\"\"}", "model", NULL,
      "you must provide a model parameter" },
    { "{\"input\":\"x\",\"model\":null}", "model", NULL,
      "you must provide a model parameter" },
    { "{\"input\":\"x\",\"model\":5}", "model", "invalid_type",
      "Invalid type for 'model': expected a string, but got an integer "
      "instead." },
    { "{\"model\":\"m\"}", "input", "missing_required_parameter",
      "Missing required parameter: 'input'." },
    { "{\"input\":\"x\",\"model\":\"m\",\"input\":\"y\"}", "input", NULL,
      "Invalid request body: the key 'input' appears twice." },
    { "{\"model\":\"m\",\"input\":\"x\",\"model\":\"m\"}", "model", NULL,
      "Invalid request body: the key 'model' appears twice." },

    /* the forms of input */
    { "{\"input\":{},\"model\":\"m\"}", "input", "invalid_type",
      "Invalid type for 'input': expected a string, an array of strings, an "
      "array of integers or an array of arrays of integers, but got an "
      "object instead." },
    { "{\"input\":7,\"model\":\"m\"}", "input", "invalid_type",
      "Invalid type for 'input': expected a string, an array of strings, an "
      "array of integers or an array of arrays of integers, but got an "
      "integer instead." },
    { "{\"input\":null,\"model\":\"m\"}", "input", "invalid_type",
      "Invalid type for 'input': expected a string, an array of strings, an "
      "array of integers or an array of arrays of integers, but got null "
      "instead." },
    { "{\"input\":[true],\"model\":\"m\"}", "input", "invalid_type",
      "Invalid type for 'input[0]': expected a string, an integer or an "
      "array of integers, but got a boolean instead." },
    { "{\"input\":\"\",\"model\":\"m\"}", "input", NULL,
      BAD_INPUT("the string is empty") },
    { "{\"input\":[],\"model\":\"m\"}", "input", NULL,
      BAD_INPUT("the array is empty") },
    { "{\"input\":[\"a\",\"\"],\"model\":\"m\"}", "input", NULL,
      BAD_INPUT("input[1] is an empty string") },
    { "{\"input\":[[]],\"model\":\"m\"}", "input", NULL,
      BAD_INPUT("input[0] is an empty array of tokens") },
    { "{\"input\":[[1],[]],\"model\":\"m\"}", "input", NULL,
      BAD_INPUT("input[1] is an empty array of tokens") },
    { "{\"input\":[\"a\",1],\"model\":\"m\"}", "input", "invalid_type",
      "Invalid type for 'input[1]': expected a string, as input[0], but got "
      "an integer instead." },
    { "{\"input\":[1,\"a\"],\"model\":\"m\"}", "input", "invalid_type",
      "Invalid type for 'input[1]': expected an integer, but got a string "
      "instead." },
    { "{\"input\":[1,[2]],\"model\":\"m\"}", "input", "invalid_type",
      "Invalid type for 'input[1]': expected an integer, but got an array "
      "instead." },
    { "{\"input\":[[1],2],\"model\":\"m\"}", "input", "invalid_type",
      "Invalid type for 'input[1]': expected an array of integers, as "
      "input[0], but got an integer instead." },
    { "{\"input\":[[1],[\"a\"]],\"model\":\"m\"}", "input", "invalid_type",
      "Invalid type for 'input[1][0]': expected an integer, but got a string "
      "instead." },
    { "{\"input\":[[[1]]],\"model\":\"m\"}", "input", "invalid_type",
      "Invalid type for 'input[0][0]': expected an integer, but got an array "
      "instead." },

    /* token ids */
    { "{\"input\":[1,1.5],\"model\":\"m\"}", "input", "invalid_type",
      "Invalid type for 'input[1]': expected an integer, but got a decimal "
      "instead." },
    { "{\"input\":[1e2],\"model\":\"m\"}", "input", "invalid_type",
      "Invalid type for 'input[0]': expected an integer, but got a decimal "
      "instead." },
    { "{\"input\":[0,1,2,-1],\"model\":\"m\"}", "input",
      "integer_below_min_value",
      "Invalid 'input[3]': integer below minimum value. Expected a value >= "
      "0, but got -1 instead." },
    { "{\"input\":[-99999999999999999999999],\"model\":\"m\"}", "input",
      "integer_below_min_value",
      "Invalid 'input[0]': integer below minimum value. Expected a value >= "
      "0, but got -99999999999999999999999 instead." },
    { "{\"input\":[0,1,2,100],\"model\":\"m\"}", "input", NULL,
      "Invalid 'input[3]': 100 is out of the vocabulary (100 tokens)." },
    { "{\"input\":[[1],[2,30522]],\"model\":\"m\"}", "input", NULL,
      "Invalid 'input[1][1]': 30522 is out of the vocabulary (100 "
      "tokens)." },
    { "{\"input\":[99999999999999999999999],\"model\":\"m\"}", "input", NULL,
      "Invalid 'input[0]': 99999999999999999999999 is out of the vocabulary "
      "(100 tokens)." },

    /* the caller's limits */
    { "{\"input\":[\"a\",\"b\",\"c\",\"d\",\"e\"],\"model\":\"m\"}", "input",
      NULL, "Too many inputs. The max number of inputs is 4." },
    { "{\"input\":[[1],[2],[3],[4],[5]],\"model\":\"m\"}", "input", NULL,
      "Too many inputs. The max number of inputs is 4." },
    { "{\"input\":[[1,2,3,4,5,6,7,8,9],[1,2,3,4,5,6,7,8]],\"model\":\"m\"}",
      "input", NULL, "Invalid 'input': more than 16 token ids in all." },

    /* the parameters */
    { "{\"input\":\"x\",\"model\":\"m\",\"encoding_format\":5}",
      "encoding_format", "invalid_type",
      "Invalid type for 'encoding_format': expected a string, but got an "
      "integer instead." },
    { "{\"input\":\"x\",\"model\":\"m\",\"encoding_format\":\"FLOAT\"}",
      "encoding_format", "invalid_value",
      "Invalid value: 'FLOAT'. Supported values are: 'float' and "
      "'base64'." },
    { "{\"input\":\"x\",\"model\":\"m\",\"encoding_format\":\"base64url\"}",
      "encoding_format", "invalid_value",
      "Invalid value: 'base64url'. Supported values are: 'float' and "
      "'base64'." },
    { "{\"input\":\"x\",\"model\":\"m\",\"dimensions\":\"64\"}",
      "dimensions", "invalid_type",
      "Invalid type for 'dimensions': expected an integer, but got a string "
      "instead." },
    { "{\"input\":\"x\",\"model\":\"m\",\"dimensions\":64.5}",
      "dimensions", "invalid_type",
      "Invalid type for 'dimensions': expected an integer, but got a decimal "
      "instead." },
    { "{\"input\":\"x\",\"model\":\"m\",\"dimensions\":0}",
      "dimensions", "integer_below_min_value",
      "Invalid 'dimensions': integer below minimum value. Expected a value "
      ">= 1, but got 0 instead." },
    { "{\"input\":\"x\",\"model\":\"m\",\"dimensions\":-0}",
      "dimensions", "integer_below_min_value",
      "Invalid 'dimensions': integer below minimum value. Expected a value "
      ">= 1, but got -0 instead." },
    { "{\"input\":\"x\",\"model\":\"m\",\"dimensions\":-8}",
      "dimensions", "integer_below_min_value",
      "Invalid 'dimensions': integer below minimum value. Expected a value "
      ">= 1, but got -8 instead." },
    { "{\"input\":\"x\",\"model\":\"m\",\"dimensions\":2147483648}",
      "dimensions", "integer_above_max_value",
      "Invalid 'dimensions': integer above maximum value. Expected a value "
      "<= 2147483647, but got 2147483648 instead." },
    { "{\"input\":\"x\",\"model\":\"m\",\"user\":{}}", "user",
      "invalid_type",
      "Invalid type for 'user': expected a string, but got an object "
      "instead." },

    /* malformed JSON wins, wherever it is, and has no param */
    { "", NULL, NULL,
      "malformed JSON at line 1, column 0: '[' or '{' expected near end of "
      "file" },
    { "{\"input\":\"x\",\"model\":\"m\"", NULL, NULL,
      "malformed JSON at line 1, column 24: '}' expected near end of file" },
    { "{\"input\":\"x\",\"model\":\"m\",}", NULL, NULL,
      "malformed JSON at line 1, column 26: string or '}' expected near "
      "'}'" },
    { "{\"input\":\"x\",\"model\":\"m\"} x", NULL, NULL,
      "malformed JSON at line 1, column 27: end of file expected near "
      "'x'" },
    { "{\"input\":5,\n\"model\":\"m\",\"x\":[1,}", NULL, NULL,
      "malformed JSON at line 2, column 20: unexpected token near '}'" },
    { "{\"input\":[1,2,],\"model\":\"m\"}", NULL, NULL,
      "malformed JSON at line 1, column 15: unexpected token near ']'" },
    { "{\"input\":[01],\"model\":\"m\"}", NULL, NULL,
      "malformed JSON at line 1, column 11: invalid token near '0'" },
    { "{\"input\":\"a\xff\",\"model\":\"m\"}", NULL, NULL,
      "malformed JSON at line 1, column 11: unable to decode byte 0xff "
      "near '\"a'" },
    { "{\"input\":\"a\xed\xa0\x80\",\"model\":\"m\"}", NULL, NULL,
      "malformed JSON at line 1, column 11: unable to decode byte 0xed "
      "near '\"a'" },
    { "{\"input\":\"\\ud800\",\"model\":\"m\"}", NULL, NULL,
      "malformed JSON at line 1, column 17: invalid Unicode '\\uD800' near "
      "'\"\\ud800\"'" },
    { "{\"input\":\"\\udc00\",\"model\":\"m\"}", NULL, NULL,
      "malformed JSON at line 1, column 17: invalid Unicode '\\uDC00' near "
      "'\"\\udc00\"'" },
    { "{\"input\":[\"\\ud800\\u0041\"],\"model\":\"m\"}", NULL, NULL,
      "malformed JSON at line 1, column 24: invalid Unicode "
      "'\\uD800\\u0041' near '\"\\ud800\\u0041\"'" },
    { "{\"model\":\"\\ud83d\",\"input\":\"x\"}", NULL, NULL,
      "malformed JSON at line 1, column 17: invalid Unicode '\\uD83D' near "
      "'\"\\ud83d\"'" },

#undef BAD_INPUT
};


static void
test_messages(void)
{
    int                   rc, good;
    size_t                i;
    const test_error_t   *e;

    for (i = 0; i < sizeof(test_errors) / sizeof(test_errors[0]); i++) {
        e = &test_errors[i];

        setup(4, 16, TEST_VOCAB);
        rc = decode(e->body);

        good = rc == -1 && test_req.status == 400
               && strcmp(test_req.err, e->err) == 0
               && test_req.ninputs == 0
               && (e->param ? test_req.param != NULL
                              && strcmp(test_req.param, e->param) == 0
                            : test_req.param == NULL)
               && (e->code ? test_req.code != NULL
                             && strcmp(test_req.code, e->code) == 0
                           : test_req.code == NULL);

        ok(good, "error: %s", e->err);

        if (!good) {
            printf("#   body: %s\n#    got: %d %s param %s code %s\n",
                   e->body, test_req.status,
                   rc == 0 ? "(accepted)" : test_req.err,
                   test_req.param ? test_req.param : "null",
                   test_req.code ? test_req.code : "null");
        }
    }

    setup(4, 16, TEST_VOCAB);

    ok(infer_oai_decode_embeddings(&test_req, NULL, 0) == -1
       && test_req.status == 400 && test_req.param == NULL
       && strcmp(test_req.err, "malformed JSON at line 1, column 0: '[' or "
                 "'{' expected near end of file") == 0,
       "error: a NULL body is malformed JSON");

    setup(0, 16, TEST_VOCAB);
    test_req.inputs = NULL;

    ok(decode("{\"input\":\"x\",\"model\":\"m\"}") == -1
       && strcmp(test_req.err, "Too many inputs. The max number of inputs "
                 "is 0.") == 0,
       "error: max_inputs 0, inputs NULL");

    setup(4, 0, TEST_VOCAB);
    test_req.ids = NULL;

    ok(decode("{\"input\":[5],\"model\":\"m\"}") == -1
       && strcmp(test_req.err, "Invalid 'input': more than 0 token ids in "
                 "all.") == 0,
       "error: ids_cap 0, ids NULL");

    setup(4, 16, 0);

    ok(decode("{\"input\":[2147483648],\"model\":\"m\"}") == -1
       && strcmp(test_req.code, "integer_above_max_value") == 0
       && strcmp(test_req.err, "Invalid 'input[0]': integer above maximum "
                 "value. Expected a value <= 2147483647, but got 2147483648 "
                 "instead.") == 0,
       "error: vocab 0, an id past INT32_MAX");

    setup(4, 16, TEST_VOCAB);
    test_req.text_cap = 5;

    ok(decode("{\"input\":[\"\\n\\n\",\"\\n\\n\"],\"model\":\"m\"}") == -1
       && strcmp(test_req.param, "input") == 0
       && strcmp(test_req.err, "Invalid 'input': the strings take more than "
                 "5 bytes once unescaped.") == 0,
       "error: text_cap exceeded");

    test_req.text = NULL;
    test_req.text_cap = 0;

    ok(decode("{\"input\":[\"plain\",\"\\n\"],\"model\":\"m\"}") == -1
       && strcmp(test_req.err, "Invalid 'input': the strings take more than "
                 "0 bytes once unescaped.") == 0,
       "error: text NULL, a string with escapes");

    ok(decode("{\"input\":\"x\",\"model\":\"\\u0041"
              "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
              "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
              "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
              "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
              "xxxxxxxxxx\"}") == -1
       && strcmp(test_req.param, "model") == 0
       && strcmp(test_req.err, "Invalid 'model': longer than 252 bytes once "
                 "unescaped.") == 0,
       "error: a model with escapes past req->scratch");

    ok(decode("{\"input\":\"x\",\"model\":\"m\",\"encoding_format\":\"0123456"
              "78901234567890123456789012345678\xc3\xa9\"}") == -1
       && strcmp(test_req.err, "Invalid value: '012345678901234567890123456"
                 "789012345678...'. Supported values are: 'float' and "
                 "'base64'.") == 0
       && utf8_valid(test_req.err),
       "error: a long value is quoted cut between UTF-8 sequences");
}


/* what a successful decode promises, for the caller's caps */

static int
promises_kept(size_t max_inputs, size_t ids_cap, int64_t vocab)
{
    size_t              i, j;
    infer_oai_input_t  *in;

    if (test_req.ninputs == 0 || test_req.ninputs > max_inputs
        || test_req.model.len == 0
        || !(in_body(test_req.model.p, test_req.model.len)
             || (test_req.model.p == test_req.scratch
                 && test_req.model.len <= sizeof(test_req.scratch)))
        || test_req.dimensions < 0 || test_req.status != 0)
    {
        return 0;
    }

    for (i = 0; i < test_req.ninputs; i++) {
        in = &test_inputs[i];

        if (in->kind == INFER_OAI_TEXT) {
            if (in->len == 0 || !(in_body(in->text, in->len)
                                  || in_text(in->text, in->len)))
            {
                return 0;
            }

            continue;
        }

        if (in->n_ids == 0 || in->ids < test_ids
            || in->ids + in->n_ids > test_ids + ids_cap)
        {
            return 0;
        }

        for (j = 0; j < in->n_ids; j++) {
            if (in->ids[j] < 0 || in->ids[j] >= vocab) {
                return 0;
            }
        }
    }

    return 1;
}


/*
 * Every prefix of a valid body fails with a message; random mutations of
 * it never crash, and what they decode keeps the promises of the header.
 */

static void
test_prefixes(void)
{
    int          bad, k, rc, accepted;
    char         body[512];
    size_t       len, i;
    const char  *valid;

    valid = "{\"model\": \"m\\u0031\", \"user\": null, \"x\": [{}, -1e5],"
            " \"input\": [[1, 2, 99], [3]], \"encoding_format\": \"base64\","
            " \"dimensions\": 12}";

    setup(4, 16, TEST_VOCAB);
    len = strlen(valid);

    ok(decode(valid) == 0 && test_req.ninputs == 2 && ids_are(0, 1, 2, 99, -1)
       && span_is(test_req.model.p, test_req.model.len, "m1"),
       "the body used for prefixes decodes");

    bad = 0;

    for (i = 0; i < len; i++) {
        if (decode_len(valid, i) != -1 || test_req.err[0] == '\0'
            || test_req.status != 400)
        {
            printf("# prefix of %zu bytes accepted\n", i);
            bad++;
        }
    }

    ok(bad == 0, "each of the %zu prefixes fails with a message", len);

    bad = 0;
    accepted = 0;

    for (k = 0; k < (int) (100000 * test_scale) + 1; k++) {
        /* 19: the string's NUL is one of the bytes written */
        mutate(body, valid, len, "\"[]{},:0-9e.\\ nu\xc3\x80", 19);

        setup(2, 4, 50);
        rc = decode_len(body, len);

        if (rc == 0) {
            accepted++;
            bad += !promises_kept(2, 4, 50);

        } else if (test_req.err[0] == '\0' || test_req.status != 400
                   || !utf8_valid(test_req.err))
        {
            bad++;
        }
    }

    ok(bad == 0 && accepted > 0,
       "mutated bodies: none crashes, %d accepted keep the promises",
       accepted);
}


/* an answer written into exactly the room asked for */

static char *
write_embeddings(const float *emb, size_t n, size_t stride, size_t dims,
    int renorm, int base64, size_t *len)
{
    char    *buf;
    size_t   size;

    size = infer_oai_embeddings_size(n, dims, base64, 6);
    buf = malloc(size);
    if (buf == NULL) {
        abort();
    }

    *len = infer_oai_write_embeddings(buf, "min\"lm", 6, emb, n, stride,
                                      dims, renorm, base64, 42);
    if (*len > size) {
        printf("# wrote %zu bytes into %zu\n", *len, size);
        abort();
    }

    return buf;
}


/* the shape OpenAI gives; returns "data", or NULL */

static json_t *
answer_data(json_t *root, size_t n)
{
    size_t   i;
    json_t  *data, *e, *usage;

    usage = json_object_get(root, "usage");
    data = json_object_get(root, "data");

    if (!json_is_object(root) || json_object_size(root) != 4
        || strcmp(json_string_value(json_object_get(root, "object")), "list")
        || strcmp(json_string_value(json_object_get(root, "model")),
                  "min\"lm")
        || json_integer_value(json_object_get(usage, "prompt_tokens")) != 42
        || json_integer_value(json_object_get(usage, "total_tokens")) != 42
        || !json_is_array(data) || json_array_size(data) != n)
    {
        return NULL;
    }

    for (i = 0; i < n; i++) {
        e = json_array_get(data, i);

        if (json_object_size(e) != 3
            || strcmp(json_string_value(json_object_get(e, "object")),
                      "embedding")
            || !json_is_integer(json_object_get(e, "index"))
            || json_integer_value(json_object_get(e, "index")) != (int) i)
        {
            return NULL;
        }
    }

    return data;
}


static int
b64_value(int c)
{
    const char  *s, *b64;

    b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    s = (c != '\0') ? strchr(b64, c) : NULL;

    return s ? (int) (s - b64) : -1;
}


/* strict base64 with padding into floats; -1 if it is not */

static int
b64_floats(const char *s, float *out, size_t max, size_t *n)
{
    int            v[4];
    size_t         len, i, k, nb;
    uint32_t       bits;
    unsigned char  bytes[4096];

    len = strlen(s);
    nb = 0;

    if (len % 4 != 0) {
        return -1;
    }

    for (i = 0; i < len; i += 4) {
        for (k = 0; k < 4; k++) {
            v[k] = b64_value(s[i + k]);

            if (v[k] < 0 && !(s[i + k] == '=' && i + 4 == len && k >= 2
                              && (k == 3 || s[i + 3] == '=')))
            {
                return -1;
            }
        }

        bytes[nb++] = (unsigned char) ((v[0] << 2) | (v[1] >> 4));

        if (v[2] >= 0) {
            bytes[nb++] = (unsigned char) ((v[1] << 4) | (v[2] >> 2));
        }

        if (v[3] >= 0) {
            bytes[nb++] = (unsigned char) ((v[2] << 6) | v[3]);
        }
    }

    if (nb % 4 != 0 || nb / 4 > max) {
        return -1;
    }

    for (i = 0; i < nb / 4; i++) {
        bits = bytes[4 * i] | (uint32_t) bytes[4 * i + 1] << 8
               | (uint32_t) bytes[4 * i + 2] << 16
               | (uint32_t) bytes[4 * i + 3] << 24;
        memcpy(&out[i], &bits, sizeof(float));
    }

    *n = nb / 4;

    return 0;
}


static int
same_bits(float a, float b)
{
    return memcmp(&a, &b, sizeof(float)) == 0;
}


static void
test_embeddings(void)
{
    int           good;
    char         *buf, buf15[16];
    float         emb[5 * 130], got[130], want;
    double        sum;
    size_t        len, size, i, j, n, dims, stride;
    json_t       *root, *data, *v;
    json_error_t  jerr;

    static const size_t  dimss[] = { 1, 2, 3, 4, 5, 47, 48, 49, 97, 130 };

    for (i = 0; i < sizeof(emb) / sizeof(float); i++) {
        emb[i] = rnd_float();
    }

    emb[0] = -0.0f;
    emb[1] = 1.17549435e-38f;             /* the longest decimals */
    emb[2] = -1.17549435e-38f;
    emb[3] = 1e-45f;

    stride = 130;

    for (i = 0; i < sizeof(dimss) / sizeof(dimss[0]); i++) {
        dims = dimss[i];

        buf = write_embeddings(emb, 5, stride, dims, 0, 0, &len);
        root = json_loadb(buf, len, 0, &jerr);
        data = answer_data(root, 5);
        good = (data != NULL);

        for (n = 0; good && n < 5; n++) {
            v = json_object_get(json_array_get(data, n), "embedding");
            good = json_is_array(v) && json_array_size(v) == dims;

            for (j = 0; good && j < dims; j++) {
                good = (float) json_number_value(json_array_get(v, j))
                       == emb[n * stride + j];
            }
        }

        ok(good, "float: 5 x %zu of rows of 130 read back exactly", dims);
        json_decref(root);
        free(buf);

        buf = write_embeddings(emb, 5, stride, dims, 0, 1, &len);
        root = json_loadb(buf, len, 0, &jerr);
        data = answer_data(root, 5);
        good = (data != NULL);

        for (n = 0; good && n < 5; n++) {
            v = json_object_get(json_array_get(data, n), "embedding");
            good = json_is_string(v)
                   && b64_floats(json_string_value(v), got, 130, &j) == 0
                   && j == dims;

            for (j = 0; good && j < dims; j++) {
                good = same_bits(got[j], emb[n * stride + j]);
            }
        }

        ok(good, "base64: 5 x %zu decode back bit for bit", dims);
        json_decref(root);
        free(buf);
    }

    /* 1.0f is 00 00 80 3f; 1, 2 and 3 floats end with ==, = and none */
    emb[0] = 1.0f;
    emb[1] = -2.0f;
    emb[2] = 0.5f;
    buf = write_embeddings(emb, 1, 3, 3, 0, 1, &len);
    ok(strstr(buf, "\"embedding\":\"AACAPwAAAMAAAAA/\"}") != NULL,
       "base64 of [1, -2, 0.5] is little-endian float32");
    free(buf);
    buf = write_embeddings(emb, 2, 2, 1, 0, 1, &len);
    ok(strstr(buf, "\"embedding\":\"AACAPw==\"}") != NULL
       && strstr(buf, "\"index\":1,\"embedding\":\"AAAAPw==\"}") != NULL,
       "base64 of one float is padded with ==");
    free(buf);

    /* the first 3 of (3, 4, 12, 99): (3, 4, 12) / 13 */
    emb[0] = 3.0f;
    emb[1] = 4.0f;
    emb[2] = 12.0f;
    emb[3] = 99.0f;
    emb[4] = 0.0f;
    emb[5] = 0.0f;
    emb[6] = 0.0f;
    emb[7] = 5.0f;

    for (n = 0; n < 2; n++) {
        buf = write_embeddings(emb, 2, 4, 3, 1, (int) n, &len);
        root = json_loadb(buf, len, 0, &jerr);
        data = answer_data(root, 2);
        good = (data != NULL);

        for (i = 0; good && i < 2; i++) {
            v = json_object_get(json_array_get(data, i), "embedding");

            if (n == 0) {
                for (j = 0; j < 3; j++) {
                    got[j] = (float) json_number_value(json_array_get(v, j));
                }

            } else {
                good = b64_floats(json_string_value(v), got, 3, &j) == 0
                       && j == 3;
            }

            sum = 0.0;

            for (j = 0; good && j < 3; j++) {
                want = (i == 0) ? (float) (emb[j] / 13.0) : 0.0f;
                good = same_bits(got[j], want);
                sum += (double) got[j] * got[j];
            }

            good = good && (i == 1 || fabs(sum - 1.0) < 1e-6);
        }

        ok(good, "renorm (%s): (3, 4, 12) of 4 gives (3, 4, 12) / 13 of "
           "norm 1; a zero vector stays zero", n ? "base64" : "float");
        json_decref(root);
        free(buf);
    }

    /* random rows: shortened and renormalized, of norm 1 */
    for (i = 0; i < 5 * 130; i++) {
        emb[i] = (float) ((double) (rnd() % 2000001) / 1e6 - 1.0);
    }

    buf = write_embeddings(emb, 5, 130, 64, 1, 0, &len);
    root = json_loadb(buf, len, 0, &jerr);
    data = answer_data(root, 5);
    good = (data != NULL);

    for (n = 0; good && n < 5; n++) {
        v = json_object_get(json_array_get(data, n), "embedding");
        sum = 0.0;

        for (j = 0; j < 64; j++) {
            got[j] = (float) json_number_value(json_array_get(v, j));
            sum += (double) got[j] * got[j];
        }

        good = fabs(sum - 1.0) < 1e-6;

        /* the direction is kept: each value over the first */
        for (j = 1; good && j < 64; j++) {
            good = fabs((double) got[j] * emb[n * 130]
                        - (double) got[0] * emb[n * 130 + j]) < 1e-6;
        }
    }

    ok(good, "renorm: 5 random rows shortened to 64 of 130 have norm 1 and "
       "keep their direction");
    json_decref(root);
    free(buf);

    emb[0] = NAN;
    emb[1] = -INFINITY;
    buf = write_embeddings(emb, 1, 2, 2, 0, 0, &len);
    ok(strstr(buf, "\"embedding\":[null,null]}") != NULL,
       "NaN and infinities are written as null");
    free(buf);

    buf = write_embeddings(emb, 0, 2, 2, 0, 0, &len);
    ok(len == strlen("{\"object\":\"list\",\"data\":[],\"model\":\"min\\\"lm"
                     "\",\"usage\":{\"prompt_tokens\":42,\"total_tokens\":"
                     "42}}")
       && memcmp(buf, "{\"object\":\"list\",\"data\":[],\"model\":\"min\\\"lm"
                 "\",\"usage\":{\"prompt_tokens\":42,\"total_tokens\":42}}",
                 len) == 0,
       "no embeddings: the list alone, exactly");
    free(buf);

    /* the room is right for the longest decimals, 15 bytes each */
    for (i = 0; i < 5 * 130; /* void */ ) {
        emb[i] = rnd_float();
        i += (infer_json_write_float(buf15, emb[i]) == 15);
    }

    buf = write_embeddings(emb, 5, 130, 130, 0, 0, &len);
    size = infer_oai_embeddings_size(5, 130, 0, 6);
    ok(len <= size && size - len < 5 * (2 * 130 + 72) + 160,
       "float: the room for 5 x 130 of the longest decimals is %zu, %zu "
       "written", size, len);
    free(buf);

    buf = write_embeddings(emb, 5, 130, 130, 0, 1, &len);
    size = infer_oai_embeddings_size(5, 130, 1, 6);
    ok(len <= size && size - len < 5 * 72 + 160,
       "base64: the room for 5 x 130 is %zu, %zu written", size, len);
    free(buf);

    ok(infer_oai_embeddings_size(SIZE_MAX / 2, 1024, 0, 10) == SIZE_MAX
       && infer_oai_embeddings_size(1, SIZE_MAX / 4, 1, 10) == SIZE_MAX,
       "a size that does not fit is SIZE_MAX");
}


static void
test_error_body(void)
{
    int           good;
    char         *buf;
    size_t        len, size;
    json_t       *root, *e;
    json_error_t  jerr;

    const char   *msg = "a \"quoted\" \\ message\n\x01 \xc3\xa9\xf0\x9f\x98"
                        "\x80";

    size = infer_oai_error_size(msg, "invalid_request_error", "input",
                                "invalid_type");
    buf = malloc(size);
    len = infer_oai_write_error(buf, msg, "invalid_request_error", "input",
                                "invalid_type");
    root = json_loadb(buf, len, 0, &jerr);
    e = json_object_get(root, "error");

    ok(len <= size && json_object_size(root) == 1 && json_object_size(e) == 4
       && strcmp(json_string_value(json_object_get(e, "message")), msg) == 0
       && strcmp(json_string_value(json_object_get(e, "type")),
                 "invalid_request_error") == 0
       && strcmp(json_string_value(json_object_get(e, "param")), "input") == 0
       && strcmp(json_string_value(json_object_get(e, "code")),
                 "invalid_type") == 0,
       "error body: message, type, param and code read back");
    json_decref(root);
    free(buf);

    size = infer_oai_error_size(NULL, "server_error", NULL, NULL);
    buf = malloc(size);
    len = infer_oai_write_error(buf, NULL, "server_error", NULL, NULL);
    ok(len <= size
       && len == strlen("{\"error\":{\"message\":\"\",\"type\":"
                        "\"server_error\",\"param\":null,\"code\":null}}")
       && memcmp(buf, "{\"error\":{\"message\":\"\",\"type\":\"server_error\","
                 "\"param\":null,\"code\":null}}", len) == 0,
       "error body: NULL message, param and code, exactly");
    free(buf);

    /* the worst case of the room: every byte escaped as \u00XX */
    size = infer_oai_error_size("\x01\x02", "\x03", "\x04", "\x05");
    buf = malloc(size);
    len = infer_oai_write_error(buf, "\x01\x02", "\x03", "\x04", "\x05");
    root = json_loadb(buf, len, 0, &jerr);
    good = len <= size && root != NULL;
    ok(good, "error body: control characters fit the room and read back");
    json_decref(root);
    free(buf);

    /* what the decoder says, as the nginx side sends it */
    setup(4, 16, TEST_VOCAB);
    decode("{\"input\":\"x\",\"model\":\"m\",\"encoding_format\":\"\\\"\xc3"
           "\xa9\"}");
    size = infer_oai_error_size(test_req.err, INFER_OAI_INVALID_REQUEST,
                                test_req.param, test_req.code);
    buf = malloc(size);
    len = infer_oai_write_error(buf, test_req.err, INFER_OAI_INVALID_REQUEST,
                                test_req.param, test_req.code);
    root = json_loadb(buf, len, 0, &jerr);
    e = json_object_get(root, "error");
    ok(len <= size
       && strcmp(json_string_value(json_object_get(e, "message")),
                 "Invalid value: '\\\"\xc3\xa9'. Supported values are: "
                 "'float' and 'base64'.") == 0
       && strcmp(json_string_value(json_object_get(e, "param")),
                 "encoding_format") == 0,
       "error body of a decoder's error");
    json_decref(root);
    free(buf);
}


static void
test_models(void)
{
    int                good;
    char              *buf;
    size_t             len, size, i;
    json_t            *root, *data, *m;
    json_error_t       jerr;

    static const infer_json_str_t  names[] = {
        { "minilm", 6 }, { "a\"b\\c\x01", 6 }, { "\xc3\xa9", 2 }
    };

    for (i = 0; i <= 3; i++) {
        size = infer_oai_models_size(names, i);
        buf = malloc(size);
        len = infer_oai_write_models(buf, names, i, -9223372036854775807LL);
        root = json_loadb(buf, len, 0, &jerr);
        data = json_object_get(root, "data");

        good = len <= size && json_object_size(root) == 2
               && strcmp(json_string_value(json_object_get(root, "object")),
                         "list") == 0
               && json_array_size(data) == i;

        for (len = 0; good && len < i; len++) {
            m = json_array_get(data, len);
            good = json_object_size(m) == 4
                   && json_string_length(json_object_get(m, "id"))
                      == names[len].len
                   && memcmp(json_string_value(json_object_get(m, "id")),
                             names[len].p, names[len].len) == 0
                   && strcmp(json_string_value(json_object_get(m, "object")),
                             "model") == 0
                   && json_integer_value(json_object_get(m, "created"))
                      == -9223372036854775807LL
                   && strcmp(json_string_value(json_object_get(m,
                                                               "owned_by")),
                             "ngx_infer") == 0;
        }

        ok(good, "model list of %zu", i);
        json_decref(root);
        free(buf);
    }

    size = infer_oai_models_size(&names[0], 1);
    buf = malloc(size);
    len = infer_oai_write_model(buf, "minilm", 6, 1700000000);
    ok(len <= size
       && len == strlen("{\"id\":\"minilm\",\"object\":\"model\",\"created\":"
                        "1700000000,\"owned_by\":\"ngx_infer\"}")
       && memcmp(buf, "{\"id\":\"minilm\",\"object\":\"model\",\"created\":"
                 "1700000000,\"owned_by\":\"ngx_infer\"}", len) == 0,
       "one model alone, exactly");
    free(buf);
}


int
main(void)
{
    const char  *scale;

    scale = getenv("TEST_OPENAI_SCALE");
    if (scale != NULL) {
        test_scale = atof(scale);
    }

    test_valid();
    test_messages();
    test_prefixes();
    test_embeddings();
    test_error_body();
    test_models();

    free(test_body);

    return done();
}
