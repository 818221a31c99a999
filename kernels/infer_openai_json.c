/*
 * ngx_infer: the OpenAI /v1/embeddings request decoder (infer_openai.h),
 * on the JSON machinery of infer_json.h.
 *
 * One pass over the body: the top-level object, "input" in its four forms,
 * the few parameters; every other key is checked as JSON and skipped, as
 * OpenAI ignores what it does not know.  The form of "input" is told by
 * its first element, and every element after it must be of that form:
 * OpenAI refuses mixed arrays too.
 *
 * The messages are OpenAI's wording where OpenAI has one, with its param
 * and code, so that a client written against OpenAI recognizes them.  As
 * in the KServe decoder, the walk stops at the first refused value and
 * infer_json_report() then checks the rest of the body: malformed JSON
 * anywhere wins, and has no param nor code.
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "infer_openai.h"


/* the most a token id or "dimensions" may be: what an int32_t holds */
#define INFER_OAI_INT_MAX     2147483647

/* room for "input[2147483647][2147483647]" */
#define INFER_OAI_WHERE_LEN   32

/* what OpenAI answers for an input it cannot embed, and why */
#define INFER_OAI_BAD_INPUT(why)                                              \
    "'$.input' is invalid: " why ". Please check the API reference: "        \
    "https://platform.openai.com/docs/api-reference."


typedef struct {
    infer_json_parser_t      js;
    infer_oai_request_t     *req;
    size_t                   text;         /* bytes of req->text used */
    size_t                   ids;          /* ids of req->ids used */
    uint64_t                 max_id;
} infer_oai_parser_t;


static int infer_oai_request(infer_oai_parser_t *ps);
static int infer_oai_input(infer_oai_parser_t *ps);
static int infer_oai_strings(infer_oai_parser_t *ps);
static int infer_oai_arrays(infer_oai_parser_t *ps);
static int infer_oai_text(infer_oai_parser_t *ps, int i);
static int infer_oai_tokens(infer_oai_parser_t *ps, int i);
static int infer_oai_model(infer_oai_parser_t *ps);
static int infer_oai_encoding_format(infer_oai_parser_t *ps);
static int infer_oai_dimensions(infer_oai_parser_t *ps);
static int infer_oai_user(infer_oai_parser_t *ps);
static infer_oai_input_t *infer_oai_add(infer_oai_parser_t *ps);
static const char *infer_oai_where(char *buf, int i, int j);
static int infer_oai_invalid(infer_oai_parser_t *ps, const char *param,
    const char *code, const char *fmt, ...) INFER_PRINTF(4, 5);


/* the keys of the request, by the index infer_json_member() returns */

enum {
    INFER_OAI_KEY_INPUT = 0,
    INFER_OAI_KEY_MODEL,
    INFER_OAI_KEY_ENCODING_FORMAT,
    INFER_OAI_KEY_DIMENSIONS,
    INFER_OAI_KEY_USER,
    INFER_OAI_KEYS
};

static const char  *const infer_oai_keys[INFER_OAI_KEYS + 1] = {
    [INFER_OAI_KEY_INPUT] = "input",
    [INFER_OAI_KEY_MODEL] = "model",
    [INFER_OAI_KEY_ENCODING_FORMAT] = "encoding_format",
    [INFER_OAI_KEY_DIMENSIONS] = "dimensions",
    [INFER_OAI_KEY_USER] = "user",
    [INFER_OAI_KEYS] = NULL
};

#define infer_oai_seen(obj, key)  (((obj).seen >> (key)) & 1)


int
infer_oai_decode_embeddings(infer_oai_request_t *req, const char *body,
    size_t len)
{
    infer_oai_parser_t  ps;

    req->model.p = NULL;
    req->model.len = 0;
    req->ninputs = 0;
    req->encoding_format = INFER_OAI_FLOAT;
    req->dimensions = 0;
    req->status = 0;
    req->param = NULL;
    req->code = NULL;

    if (body == NULL) {
        body = "";
        len = 0;
    }

    infer_json_init(&ps.js, body, len, req->err, sizeof(req->err));
    ps.req = req;
    ps.text = 0;
    ps.ids = 0;

    /* vocab 0: any id the ids buffer can hold */
    ps.max_id = (req->vocab > 0 && req->vocab - 1 < INFER_OAI_INT_MAX)
                ? (uint64_t) req->vocab - 1 : INFER_OAI_INT_MAX;

    if (infer_oai_request(&ps) == INFER_JSON_OK) {
        return 0;
    }

    infer_json_report(&ps.js);

    if (ps.js.kind == INFER_JSON_SYNTAX) {
        req->param = NULL;
        req->code = NULL;
    }

    req->status = 400;
    req->ninputs = 0;

    return -1;
}


static int
infer_oai_request(infer_oai_parser_t *ps)
{
    int                   k, rc;
    infer_json_object_t   obj;

    if (!infer_json_object(&ps->js, &obj)) {
        return infer_oai_invalid(ps, NULL, "invalid_type",
                                 "Invalid type for the request body: "
                                 "expected an object, but got %s instead.",
                                 infer_oai_type(&ps->js));
    }

    while ((rc = infer_json_member(&ps->js, &obj, infer_oai_keys, &k)) == 1) {

        switch (k) {

        case INFER_OAI_KEY_INPUT:
            rc = infer_oai_input(ps);
            break;

        case INFER_OAI_KEY_MODEL:
            rc = infer_oai_model(ps);
            break;

        case INFER_OAI_KEY_ENCODING_FORMAT:
            rc = infer_oai_encoding_format(ps);
            break;

        case INFER_OAI_KEY_DIMENSIONS:
            rc = infer_oai_dimensions(ps);
            break;

        default: /* INFER_OAI_KEY_USER */
            rc = infer_oai_user(ps);
        }

        if (rc != INFER_JSON_OK) {
            return INFER_JSON_ERROR;
        }
    }

    /* the second would win in Python's json: better said than guessed */
    if (rc == INFER_JSON_DECLINED) {
        return infer_oai_invalid(ps, infer_oai_keys[k], NULL,
                                 "Invalid request body: the key '%s' "
                                 "appears twice.", infer_oai_keys[k]);
    }

    if (rc != 0) {
        return INFER_JSON_ERROR;
    }

    if (infer_json_peek(&ps->js) != -1) {
        return infer_json_syntax(&ps->js, ps->js.p, "end of file expected");
    }

    if (!infer_oai_seen(obj, INFER_OAI_KEY_MODEL)) {
        return infer_oai_invalid(ps, "model", NULL,
                                 "you must provide a model parameter");
    }

    if (!infer_oai_seen(obj, INFER_OAI_KEY_INPUT)) {
        return infer_oai_invalid(ps, "input", "missing_required_parameter",
                                 "Missing required parameter: 'input'.");
    }

    return INFER_JSON_OK;
}


/* "input": the first element, without reading it, tells the form */

static int
infer_oai_input(infer_oai_parser_t *ps)
{
    int                   c;
    const unsigned char  *p;

    c = infer_json_peek(&ps->js);

    if (c == '"') {
        return infer_oai_text(ps, -1);
    }

    if (c != '[') {
        return infer_oai_invalid(ps, "input", "invalid_type",
                                 "Invalid type for 'input': expected a "
                                 "string, an array of strings, an array of "
                                 "integers or an array of arrays of "
                                 "integers, but got %s instead.",
                                 infer_oai_type(&ps->js));
    }

    p = infer_json_ws(ps->js.p + 1, ps->js.end);
    c = (p < ps->js.end) ? *p : -1;

    if (c == '"') {
        return infer_oai_strings(ps);
    }

    if (c == '[') {
        return infer_oai_arrays(ps);
    }

    if (c == '-' || infer_json_digit(c)) {
        return infer_oai_tokens(ps, -1);
    }

    if (c == ']') {
        return infer_oai_invalid(ps, "input", NULL,
                                 INFER_OAI_BAD_INPUT("the array is empty"));
    }

    ps->js.p = p;

    return infer_oai_invalid(ps, "input", "invalid_type",
                             "Invalid type for 'input[0]': expected a "
                             "string, an integer or an array of integers, "
                             "but got %s instead.", infer_oai_type(&ps->js));
}


static int
infer_oai_strings(infer_oai_parser_t *ps)
{
    int  n, rc;

    (void) infer_json_array(&ps->js, &n);

    while ((rc = infer_json_element(&ps->js, &n)) == 1) {

        if (infer_json_peek(&ps->js) != '"') {
            return infer_oai_invalid(ps, "input", "invalid_type",
                                     "Invalid type for 'input[%d]': "
                                     "expected a string, as input[0], but "
                                     "got %s instead.", n - 1,
                                     infer_oai_type(&ps->js));
        }

        if (infer_oai_text(ps, n - 1) != INFER_JSON_OK) {
            return INFER_JSON_ERROR;
        }
    }

    return (rc == 0) ? INFER_JSON_OK : INFER_JSON_ERROR;
}


static int
infer_oai_arrays(infer_oai_parser_t *ps)
{
    int  n, rc;

    (void) infer_json_array(&ps->js, &n);

    while ((rc = infer_json_element(&ps->js, &n)) == 1) {

        if (infer_json_peek(&ps->js) != '[') {
            return infer_oai_invalid(ps, "input", "invalid_type",
                                     "Invalid type for 'input[%d]': "
                                     "expected an array of integers, as "
                                     "input[0], but got %s instead.", n - 1,
                                     infer_oai_type(&ps->js));
        }

        if (infer_oai_tokens(ps, n - 1) != INFER_JSON_OK) {
            return INFER_JSON_ERROR;
        }
    }

    return (rc == 0) ? INFER_JSON_OK : INFER_JSON_ERROR;
}


/*
 * A text input, the string at js->p (i: its index in the array, -1 for a
 * string alone).  The JSON scan has checked its UTF-8 and its escapes (no
 * lone surrogate), so that what the tokenizer gets is valid UTF-8.
 */

static int
infer_oai_text(infer_oai_parser_t *ps, int i)
{
    char                 *buf;
    size_t                size;
    infer_json_str_t      raw, val;
    infer_oai_input_t    *in;
    infer_oai_request_t  *req;

    req = ps->req;

    in = infer_oai_add(ps);
    if (in == NULL) {
        return INFER_JSON_ERROR;
    }

    buf = (req->text != NULL) ? req->text + ps->text : NULL;
    size = (req->text != NULL) ? req->text_cap - ps->text : 0;

    if (infer_json_string_value(&ps->js, buf, size, &raw, &val)
        != INFER_JSON_OK)
    {
        return INFER_JSON_ERROR;
    }

    if (val.len == (size_t) -1) {
        return infer_oai_invalid(ps, "input", NULL,
                                 "Invalid 'input': the strings take more "
                                 "than %zu bytes once unescaped.",
                                 req->text_cap);
    }

    if (val.len == 0) {
        return (i < 0)
               ? infer_oai_invalid(ps, "input", NULL,
                                   INFER_OAI_BAD_INPUT("the string is empty"))
               : infer_oai_invalid(ps, "input", NULL,
                                   INFER_OAI_BAD_INPUT("input[%d] is an "
                                                       "empty string"), i);
    }

    /* unescaped: the next string goes after it */
    if (val.p != raw.p + 1) {
        ps->text += val.len;
    }

    in->kind = INFER_OAI_TEXT;
    in->text = val.p;
    in->len = val.len;
    in->ids = NULL;
    in->n_ids = 0;

    return INFER_JSON_OK;
}


/*
 * A tokenized input, the array of integers at js->p (i: its index in the
 * array of arrays, -1 for the array alone).  Ids are integer tokens only:
 * Python's json reads "1.0" as a float, which OpenAI refuses.
 */

static int
infer_oai_tokens(infer_oai_parser_t *ps, int i)
{
    int                   n, c, rc;
    char                  where[INFER_OAI_WHERE_LEN];
    char                  tok[INFER_JSON_TOKEN + 4];
    size_t                start;
    uint64_t              m;
    infer_json_num_t      num;
    infer_oai_input_t    *in;
    infer_oai_request_t  *req;
    const unsigned char  *s, *p;

    req = ps->req;

    in = infer_oai_add(ps);
    if (in == NULL) {
        return INFER_JSON_ERROR;
    }

    start = ps->ids;

    (void) infer_json_array(&ps->js, &n);

    while ((rc = infer_json_element(&ps->js, &n)) == 1) {
        c = infer_json_peek(&ps->js);
        s = ps->js.p;

        if (c != '-' && !infer_json_digit(c)) {
            return infer_oai_invalid(ps, "input", "invalid_type",
                                     "Invalid type for '%s': expected an "
                                     "integer, but got %s instead.",
                                     infer_oai_where(where, i, n - 1),
                                     infer_oai_type(&ps->js));
        }

        p = infer_json_number(s, ps->js.end, &num);
        if (p == NULL) {
            return infer_json_syntax(&ps->js, s, "invalid number");
        }

        if (!num.integer) {
            return infer_oai_invalid(ps, "input", "invalid_type",
                                     "Invalid type for '%s': expected an "
                                     "integer, but got a decimal instead.",
                                     infer_oai_where(where, i, n - 1));
        }

        /* an integer token: OK, or RANGE past 64 bits */
        rc = infer_json_num_integer(&num, UINT64_MAX, UINT64_MAX, &m);

        if (num.neg && (rc != INFER_JSON_OK || m != 0)) {
            return infer_oai_invalid(ps, "input", "integer_below_min_value",
                                     "Invalid '%s': integer below minimum "
                                     "value. Expected a value >= 0, but got "
                                     "%s instead.",
                                     infer_oai_where(where, i, n - 1),
                                     infer_json_token(tok, s, p - s));
        }

        if (rc != INFER_JSON_OK || m > ps->max_id) {

            if (req->vocab > 0
                && (rc != INFER_JSON_OK || m >= (uint64_t) req->vocab))
            {
                return infer_oai_invalid(ps, "input", NULL,
                                         "Invalid '%s': %s is out of the "
                                         "vocabulary (%lld tokens).",
                                         infer_oai_where(where, i, n - 1),
                                         infer_json_token(tok, s, p - s),
                                         (long long) req->vocab);
            }

            return infer_oai_invalid(ps, "input", "integer_above_max_value",
                                     "Invalid '%s': integer above maximum "
                                     "value. Expected a value <= %d, but got "
                                     "%s instead.",
                                     infer_oai_where(where, i, n - 1),
                                     INFER_OAI_INT_MAX,
                                     infer_json_token(tok, s, p - s));
        }

        if (ps->ids == req->ids_cap) {
            return infer_oai_invalid(ps, "input", NULL,
                                     "Invalid 'input': more than %zu token "
                                     "ids in all.", req->ids_cap);
        }

        req->ids[ps->ids++] = (int32_t) m;
        ps->js.p = p;
    }

    if (rc != 0) {
        return INFER_JSON_ERROR;
    }

    if (n == 0) {
        return infer_oai_invalid(ps, "input", NULL,
                                 INFER_OAI_BAD_INPUT("input[%d] is an empty "
                                                     "array of tokens"), i);
    }

    in->kind = INFER_OAI_TOKENS;
    in->text = NULL;
    in->len = 0;
    in->ids = req->ids + start;
    in->n_ids = ps->ids - start;

    return INFER_JSON_OK;
}


/* OpenAI's message for a missing model is also its message for "" */

static int
infer_oai_model(infer_oai_parser_t *ps)
{
    int                   rc;
    infer_json_str_t      raw;
    infer_oai_request_t  *req;

    req = ps->req;

    rc = infer_json_string_value(&ps->js, req->scratch, sizeof(req->scratch),
                                 &raw, &req->model);

    if (rc == INFER_JSON_DECLINED) {
        if (infer_oai_null(&ps->js)) {
            return infer_oai_invalid(ps, "model", NULL,
                                     "you must provide a model parameter");
        }

        return infer_oai_invalid(ps, "model", "invalid_type",
                                 "Invalid type for 'model': expected a "
                                 "string, but got %s instead.",
                                 infer_oai_type(&ps->js));
    }

    if (rc != INFER_JSON_OK) {
        return INFER_JSON_ERROR;
    }

    if (req->model.len == (size_t) -1) {
        req->model.p = NULL;
        req->model.len = 0;

        /* the unescaping stops where an escape may not fit in 4 bytes */
        return infer_oai_invalid(ps, "model", NULL,
                                 "Invalid 'model': longer than %zu bytes "
                                 "once unescaped.", sizeof(req->scratch) - 4);
    }

    if (req->model.len == 0) {
        return infer_oai_invalid(ps, "model", NULL,
                                 "you must provide a model parameter");
    }

    return INFER_JSON_OK;
}


static int
infer_oai_encoding_format(infer_oai_parser_t *ps)
{
    int               rc;
    char              buf[16], tok[INFER_JSON_TOKEN + 4];
    infer_json_str_t  raw, val;

    if (infer_oai_null(&ps->js)) {
        return INFER_JSON_OK;
    }

    rc = infer_json_string_value(&ps->js, buf, sizeof(buf), &raw, &val);

    if (rc == INFER_JSON_DECLINED) {
        return infer_oai_invalid(ps, "encoding_format", "invalid_type",
                                 "Invalid type for 'encoding_format': "
                                 "expected a string, but got %s instead.",
                                 infer_oai_type(&ps->js));
    }

    if (rc != INFER_JSON_OK) {
        return INFER_JSON_ERROR;
    }

    if (val.len == 5 && memcmp(val.p, "float", 5) == 0) {
        ps->req->encoding_format = INFER_OAI_FLOAT;
        return INFER_JSON_OK;
    }

    if (val.len == 6 && memcmp(val.p, "base64", 6) == 0) {
        ps->req->encoding_format = INFER_OAI_BASE64;
        return INFER_JSON_OK;
    }

    return infer_oai_invalid(ps, "encoding_format", "invalid_value",
                             "Invalid value: '%s'. Supported values are: "
                             "'float' and 'base64'.",
                             infer_json_token(tok, raw.p + 1, raw.len - 2));
}


/* an integer >= 1; the caller knows the model's dimension, its bound */

static int
infer_oai_dimensions(infer_oai_parser_t *ps)
{
    int                   c, rc;
    char                  tok[INFER_JSON_TOKEN + 4];
    uint64_t              m;
    infer_json_num_t      num;
    const unsigned char  *s, *p;

    if (infer_oai_null(&ps->js)) {
        return INFER_JSON_OK;
    }

    c = infer_json_peek(&ps->js);
    s = ps->js.p;

    if (c != '-' && !infer_json_digit(c)) {
        return infer_oai_invalid(ps, "dimensions", "invalid_type",
                                 "Invalid type for 'dimensions': expected an "
                                 "integer, but got %s instead.",
                                 infer_oai_type(&ps->js));
    }

    p = infer_json_number(s, ps->js.end, &num);
    if (p == NULL) {
        return infer_json_syntax(&ps->js, s, "invalid number");
    }

    if (!num.integer) {
        return infer_oai_invalid(ps, "dimensions", "invalid_type",
                                 "Invalid type for 'dimensions': expected an "
                                 "integer, but got a decimal instead.");
    }

    rc = infer_json_num_integer(&num, UINT64_MAX, UINT64_MAX, &m);

    /* "-0" too */
    if (num.neg || (rc == INFER_JSON_OK && m == 0)) {
        return infer_oai_invalid(ps, "dimensions", "integer_below_min_value",
                                 "Invalid 'dimensions': integer below "
                                 "minimum value. Expected a value >= 1, but "
                                 "got %s instead.",
                                 infer_json_token(tok, s, p - s));
    }

    if (rc != INFER_JSON_OK || m > INFER_OAI_INT_MAX) {
        return infer_oai_invalid(ps, "dimensions", "integer_above_max_value",
                                 "Invalid 'dimensions': integer above "
                                 "maximum value. Expected a value <= %d, but "
                                 "got %s instead.", INFER_OAI_INT_MAX,
                                 infer_json_token(tok, s, p - s));
    }

    ps->req->dimensions = (int64_t) m;
    ps->js.p = p;

    return INFER_JSON_OK;
}


/* for OpenAI's abuse monitoring; nothing here, but it must be a string */

static int
infer_oai_user(infer_oai_parser_t *ps)
{
    int               rc;
    infer_json_str_t  raw, val;

    if (infer_oai_null(&ps->js)) {
        return INFER_JSON_OK;
    }

    rc = infer_json_string_value(&ps->js, NULL, 0, &raw, &val);

    if (rc == INFER_JSON_DECLINED) {
        return infer_oai_invalid(ps, "user", "invalid_type",
                                 "Invalid type for 'user': expected a string, "
                                 "but got %s instead.",
                                 infer_oai_type(&ps->js));
    }

    return rc;
}


/* the next input's slot, or the error naming the limit */

static infer_oai_input_t *
infer_oai_add(infer_oai_parser_t *ps)
{
    infer_oai_request_t  *req;

    req = ps->req;

    if (req->ninputs == req->max_inputs) {
        infer_oai_invalid(ps, "input", NULL,
                          "Too many inputs. The max number of inputs is %zu.",
                          req->max_inputs);
        return NULL;
    }

    return &req->inputs[req->ninputs++];
}


/* null at js->p, read past; an optional key given null is not given */

int
infer_oai_null(infer_json_parser_t *js)
{
    if (infer_json_peek(js) == 'n'
        && infer_json_literal(js->p, js->end, "null", 4))
    {
        js->p += 4;
        return 1;
    }

    return 0;
}


/*
 * The kind of the value at js->p, in OpenAI's words ("but got a decimal
 * instead").  What is not JSON gets a word too: the report that follows
 * an INVALID error finds it and says malformed JSON instead.
 */

const char *
infer_oai_type(infer_json_parser_t *js)
{
    int                   c;
    infer_json_num_t      num;
    const unsigned char  *p;

    c = infer_json_peek(js);

    switch (c) {

    case '{':
        return "an object";

    case '[':
        return "an array";

    case '"':
        return "a string";

    case 't':
    case 'f':
        return "a boolean";

    case 'n':
        return "null";

    case -1:
        return "nothing";
    }

    if (c == '-' || infer_json_digit(c)) {
        p = infer_json_number(js->p, js->end, &num);

        if (p != NULL) {
            return num.integer ? "an integer" : "a decimal";
        }
    }

    return "an invalid value";
}


/* "input[i][j]", or "input[j]" for i < 0 */

static const char *
infer_oai_where(char *buf, int i, int j)
{
    if (i < 0) {
        snprintf(buf, INFER_OAI_WHERE_LEN, "input[%d]", j);

    } else {
        snprintf(buf, INFER_OAI_WHERE_LEN, "input[%d][%d]", i, j);
    }

    return buf;
}


static int
infer_oai_invalid(infer_oai_parser_t *ps, const char *param,
    const char *code, const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    vsnprintf(ps->js.err, ps->js.errlen, fmt, args);
    va_end(args);

    ps->js.kind = INFER_JSON_INVALID;
    ps->req->param = param;
    ps->req->code = code;

    return INFER_JSON_ERROR;
}
