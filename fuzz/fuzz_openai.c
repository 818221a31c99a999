/*
 * ngx_infer fuzzing: infer_oai_decode_embeddings() on arbitrary bytes,
 * then the answers written for what it decoded.
 *
 * Each body is decoded once per set of caps below, from libFuzzer's buffer
 * (a malloc() of exactly its size), into inputs, text and ids buffers that
 * are malloc()s of exactly their caps: AddressSanitizer sees any read past
 * the body and any write past a cap.  Beyond the sanitizers:
 *
 *   - a decode that succeeds keeps the header's promises: 1 to max_inputs
 *     inputs, each text non-empty valid UTF-8 inside the body or the text
 *     buffer, each tokenized input non-empty inside the ids buffer, ids in
 *     [0, vocab), the model non-empty inside the body or req->scratch;
 *     and it is JSON that jansson reads the same (but for what RFC 8259
 *     allows and jansson does not, as integers past 64 bits);
 *   - a decode that fails says 400 with a message that is not empty, fits
 *     and is valid UTF-8, a known param and code, none for malformed JSON;
 *     "malformed JSON" exactly when jansson refuses the body (but for a
 *     raw NUL byte after a number, which jansson skips, and its limits);
 *   - the answer for fake embeddings (floats from the body's bytes, NaN
 *     and subnormals included) fits its room, is JSON of OpenAI's shape,
 *     its floats within half an ulp of the model's, base64 decoding back
 *     to their bits, renormalized vectors of norm 1; the error body and
 *     the model list fit their room and read back.
 *
 * A failed check aborts, which libFuzzer reports as a crash.
 */

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "infer_openai.h"


#define FUZZ_DIM      8           /* the fake model's dimension, at most */


typedef struct {
    size_t        max_inputs;
    size_t        ids_cap;
    int64_t       vocab;
    size_t        text_cap;       /* 0: the body's length */
} fuzz_caps_t;


static const fuzz_caps_t  fuzz_caps[] = {
    { 1, 4, 10, 0 },
    { 4, 64, 30522, 0 },
    { 16, 256, 0, 0 },
    { 3, 8, 100, 6 },
};

#define FUZZ_NCAPS  (sizeof(fuzz_caps) / sizeof(fuzz_caps[0]))


#define fuzz_check(cond)                                                     \
    if (!(cond)) {                                                           \
        fprintf(stderr, "fuzz_openai: check failed at line %d: %s\n",       \
                __LINE__, #cond);                                            \
        abort();                                                             \
    }


static void *
fuzz_alloc(size_t n)
{
    void  *p;

    /* never 0 bytes: malloc(0) may return NULL */
    p = malloc(n ? n : 1);
    fuzz_check(p != NULL);

    return p;
}


static int
fuzz_inside(const void *p, size_t len, const void *buf, size_t size)
{
    const char  *s, *b;

    s = p;
    b = buf;

    return s >= b && len <= size && s - b <= (ptrdiff_t) (size - len);
}


/* jansson's reasons for refusing what RFC 8259 allows */

static int
fuzz_jansson_limit(const json_error_t *jerr)
{
    return strstr(jerr->text, "too big") != NULL
           || strstr(jerr->text, "real number overflow") != NULL
           || strstr(jerr->text, "maximum parsing depth") != NULL
           || strstr(jerr->text, "NUL byte in object key") != NULL;
}


static int
fuzz_span_is(const char *p, size_t len, json_t *v)
{
    return json_is_string(v) && json_string_length(v) == len
           && memcmp(json_string_value(v), p, len) == 0;
}


/* one decoded input against the value jansson read */

static void
fuzz_input_is(const infer_oai_input_t *in, json_t *v)
{
    size_t  k;

    if (in->kind == INFER_OAI_TEXT) {
        fuzz_check(fuzz_span_is(in->text, in->len, v));
        return;
    }

    fuzz_check(json_is_array(v) && json_array_size(v) == in->n_ids);

    for (k = 0; k < in->n_ids; k++) {
        fuzz_check(json_is_integer(json_array_get(v, k))
                   && json_integer_value(json_array_get(v, k))
                      == in->ids[k]);
    }
}


static void
fuzz_compare(const infer_oai_request_t *req, json_t *root)
{
    size_t   i;
    json_t  *input, *v;

    fuzz_check(json_is_object(root));
    fuzz_check(fuzz_span_is(req->model.p, req->model.len,
                            json_object_get(root, "model")));

    input = json_object_get(root, "input");

    if (json_is_string(input)) {
        fuzz_check(req->ninputs == 1);
        fuzz_input_is(&req->inputs[0], input);

    } else if (json_is_integer(json_array_get(input, 0))) {
        fuzz_check(req->ninputs == 1);
        fuzz_input_is(&req->inputs[0], input);

    } else {
        fuzz_check(json_array_size(input) == req->ninputs);

        for (i = 0; i < req->ninputs; i++) {
            fuzz_input_is(&req->inputs[i], json_array_get(input, i));
        }
    }

    v = json_object_get(root, "encoding_format");
    fuzz_check(req->encoding_format
               == (json_is_string(v)
                   && strcmp(json_string_value(v), "base64") == 0
                   ? INFER_OAI_BASE64 : INFER_OAI_FLOAT));

    v = json_object_get(root, "dimensions");
    fuzz_check(req->dimensions == (json_is_integer(v)
                                   ? json_integer_value(v) : 0));
}


static void
fuzz_success(const infer_oai_request_t *req, const fuzz_caps_t *fc,
    const char *body, size_t len)
{
    size_t                    i, j, text_cap;
    json_t                   *v;
    const infer_oai_input_t  *in;

    text_cap = fc->text_cap ? fc->text_cap : len;

    fuzz_check(req->status == 0 && req->param == NULL && req->code == NULL);
    fuzz_check(req->ninputs >= 1 && req->ninputs <= fc->max_inputs);
    fuzz_check(req->model.len > 0);
    fuzz_check(fuzz_inside(req->model.p, req->model.len, body, len)
               || fuzz_inside(req->model.p, req->model.len, req->scratch,
                              sizeof(req->scratch)));
    fuzz_check(req->encoding_format == INFER_OAI_FLOAT
               || req->encoding_format == INFER_OAI_BASE64);
    fuzz_check(req->dimensions >= 0 && req->dimensions <= INT32_MAX);

    for (i = 0; i < req->ninputs; i++) {
        in = &req->inputs[i];

        if (in->kind == INFER_OAI_TEXT) {
            fuzz_check(in->len > 0 && in->ids == NULL && in->n_ids == 0);
            fuzz_check(fuzz_inside(in->text, in->len, body, len)
                       || fuzz_inside(in->text, in->len, req->text,
                                      text_cap));

            /* json_stringn() takes valid UTF-8 only */
            v = json_stringn(in->text, in->len);
            fuzz_check(v != NULL);
            json_decref(v);
            continue;
        }

        fuzz_check(in->kind == INFER_OAI_TOKENS && in->text == NULL);
        fuzz_check(in->n_ids > 0);
        fuzz_check(fuzz_inside(in->ids, in->n_ids * sizeof(int32_t),
                               req->ids, fc->ids_cap * sizeof(int32_t)));

        for (j = 0; j < in->n_ids; j++) {
            fuzz_check(in->ids[j] >= 0
                       && (fc->vocab == 0 || in->ids[j] < fc->vocab));
        }
    }
}


static void
fuzz_failure(const infer_oai_request_t *req)
{
    size_t       n, i;
    json_t      *v;
    const char  *known;

    static const char  *params[] = {
        "input", "model", "encoding_format", "dimensions", "user", NULL
    };
    static const char  *codes[] = {
        "invalid_type", "invalid_value", "missing_required_parameter",
        "integer_below_min_value", "integer_above_max_value", NULL
    };

    n = strnlen(req->err, INFER_OAI_ERRLEN);
    fuzz_check(n > 0 && n < INFER_OAI_ERRLEN);
    fuzz_check(req->status == 400 && req->ninputs == 0);

    v = json_stringn(req->err, n);
    fuzz_check(v != NULL);
    json_decref(v);

    if (strncmp(req->err, "malformed JSON", 14) == 0) {
        fuzz_check(req->param == NULL && req->code == NULL);
    }

    for (i = 0, known = NULL; req->param && params[i]; i++) {
        known = strcmp(req->param, params[i]) == 0 ? params[i] : known;
    }

    fuzz_check(req->param == NULL || known != NULL);

    for (i = 0, known = NULL; req->code && codes[i]; i++) {
        known = strcmp(req->code, codes[i]) == 0 ? codes[i] : known;
    }

    fuzz_check(req->code == NULL || known != NULL);
}


/* strict base64 with padding, by bits, unlike the writer */

static size_t
fuzz_unbase64(const char *s, size_t len, unsigned char *out)
{
    int          v;
    size_t       i, n, bits, pad;
    uint32_t     acc;
    const char  *c;

    static const char  b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    fuzz_check(len % 4 == 0);

    pad = (len > 0 && s[len - 1] == '=') + (len > 1 && s[len - 2] == '=');
    acc = 0;
    bits = 0;
    n = 0;

    for (i = 0; i < len - pad; i++) {
        c = strchr(b64, s[i]);
        fuzz_check(s[i] != '\0' && c != NULL);
        v = (int) (c - b64);

        acc = (acc << 6) | (uint32_t) v;
        bits += 6;

        if (bits >= 8) {
            bits -= 8;
            out[n++] = (unsigned char) (acc >> bits);
        }
    }

    /* the padding's bits are zero */
    fuzz_check((acc & ((1u << bits) - 1)) == 0);

    return n;
}


/*
 * The answer for n fake embeddings of dim floats taken from the body's
 * bytes (NaN, infinities and subnormals among them), with req's dimensions
 * and encoding_format as the nginx side would pass them.
 */

static void
fuzz_answer(const infer_oai_request_t *req, const char *body, size_t len)
{
    int            base64, renorm;
    char          *buf;
    float          emb[16 * (FUZZ_DIM + 1)], f, want;
    double         sum, norm;
    size_t         i, j, n, k, dim, dims, stride, size, out;
    uint32_t       bits;
    json_t        *root, *data, *e, *v;
    json_error_t   jerr;
    unsigned char  bytes[FUZZ_DIM * 4 + 4];

    n = req->ninputs;
    dim = 1 + len % FUZZ_DIM;
    stride = dim + (len & 1);
    dims = (req->dimensions > 0 && (size_t) req->dimensions <= dim)
           ? (size_t) req->dimensions : dim;
    renorm = (dims < dim);
    base64 = (req->encoding_format == INFER_OAI_BASE64);

    for (i = 0; i < n * stride; i++) {
        bits = 0;

        for (k = 0; k < 4; k++) {
            bits = (bits << 8) | (unsigned char) body[(4 * i + k) % len];
        }

        memcpy(&emb[i], &bits, sizeof(float));
    }

    size = infer_oai_embeddings_size(n, dims, base64, req->model.len);
    buf = fuzz_alloc(size);
    out = infer_oai_write_embeddings(buf, req->model.p, req->model.len, emb,
                                     n, stride, dims, renorm, base64, 7);
    fuzz_check(out <= size);

    root = json_loadb(buf, out, JSON_ALLOW_NUL, &jerr);
    fuzz_check(root != NULL);
    fuzz_check(fuzz_span_is(req->model.p, req->model.len,
                            json_object_get(root, "model")));
    fuzz_check(json_integer_value(json_object_get(json_object_get(root,
                                                                  "usage"),
                                                  "total_tokens")) == 7);

    data = json_object_get(root, "data");
    fuzz_check(json_array_size(data) == n);

    for (i = 0; i < n; i++) {
        e = json_array_get(data, i);
        fuzz_check(json_integer_value(json_object_get(e, "index"))
                   == (json_int_t) i);
        v = json_object_get(e, "embedding");

        sum = 0.0;

        for (j = 0; j < dims; j++) {
            sum += (double) emb[i * stride + j] * emb[i * stride + j];
        }

        norm = (renorm && sum > 0.0 && isfinite(sum)) ? sqrt(sum) : 0.0;

        if (base64) {
            fuzz_check(json_is_string(v)
                       && json_string_length(v) == (dims * 4 + 2) / 3 * 4);
            k = fuzz_unbase64(json_string_value(v), json_string_length(v),
                              bytes);
            fuzz_check(k == dims * 4);

        } else {
            fuzz_check(json_is_array(v) && json_array_size(v) == dims);
        }

        sum = 0.0;

        for (j = 0; j < dims; j++) {
            f = emb[i * stride + j];
            want = (norm > 0.0) ? (float) (f / norm) : f;
            sum += (double) want * want;

            if (base64) {
                bits = bytes[4 * j] | (uint32_t) bytes[4 * j + 1] << 8
                       | (uint32_t) bytes[4 * j + 2] << 16
                       | (uint32_t) bytes[4 * j + 3] << 24;
                memcpy(&f, &bits, sizeof(float));
                fuzz_check(memcmp(&f, &want, sizeof(float)) == 0);
                continue;
            }

            if (!isfinite(want)) {
                fuzz_check(json_is_null(json_array_get(v, j)));
                continue;
            }

            /* the shortest decimal is within half an ulp */
            fuzz_check(json_is_number(json_array_get(v, j))
                       && fabs(json_number_value(json_array_get(v, j))
                               - want)
                          <= fabs((double) want) * 0x1p-24 + 0x1p-150);
        }

        if (norm > 0.0) {
            fuzz_check(fabs(sum - 1.0) < 1e-5);
        }
    }

    json_decref(root);
    free(buf);
}


/* the model list and the model alone, the model's name among others */

static void
fuzz_models(const infer_oai_request_t *req)
{
    char              *buf;
    size_t             size, out;
    json_t            *root, *m;
    json_error_t       jerr;
    infer_json_str_t   names[2];

    names[0] = req->model;
    names[1].p = "other";
    names[1].len = 5;

    size = infer_oai_models_size(names, 2);
    buf = fuzz_alloc(size);
    out = infer_oai_write_models(buf, names, 2, 1700000000);
    fuzz_check(out <= size);

    root = json_loadb(buf, out, JSON_ALLOW_NUL, &jerr);
    m = json_array_get(json_object_get(root, "data"), 0);
    fuzz_check(fuzz_span_is(req->model.p, req->model.len,
                            json_object_get(m, "id")));
    fuzz_check(json_array_size(json_object_get(root, "data")) == 2);
    json_decref(root);

    out = infer_oai_write_model(buf, req->model.p, req->model.len, -1);
    fuzz_check(out <= infer_oai_models_size(names, 1));

    root = json_loadb(buf, out, JSON_ALLOW_NUL, &jerr);
    fuzz_check(fuzz_span_is(req->model.p, req->model.len,
                            json_object_get(root, "id")));
    fuzz_check(json_integer_value(json_object_get(root, "created")) == -1);
    json_decref(root);
    free(buf);
}


/* the error body of the decoder's error, as the nginx side sends it */

static void
fuzz_error_body(const infer_oai_request_t *req)
{
    char          *buf;
    size_t         size, out;
    json_t        *root, *e;
    json_error_t   jerr;

    size = infer_oai_error_size(req->err, INFER_OAI_INVALID_REQUEST,
                                req->param, req->code);
    buf = fuzz_alloc(size);
    out = infer_oai_write_error(buf, req->err, INFER_OAI_INVALID_REQUEST,
                                req->param, req->code);
    fuzz_check(out <= size);

    root = json_loadb(buf, out, 0, &jerr);
    e = json_object_get(root, "error");
    fuzz_check(json_is_string(json_object_get(e, "message"))
               && strcmp(json_string_value(json_object_get(e, "message")),
                         req->err) == 0);
    fuzz_check(req->param ? json_is_string(json_object_get(e, "param"))
                          : json_is_null(json_object_get(e, "param")));
    fuzz_check(req->code ? json_is_string(json_object_get(e, "code"))
                         : json_is_null(json_object_get(e, "code")));
    json_decref(root);
    free(buf);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                   rc, malformed;
    size_t                m, text_cap;
    json_t               *root;
    json_error_t          jerr;
    const char           *body;
    infer_oai_request_t   req;
    const fuzz_caps_t    *fc;

    body = (const char *) data;

    root = json_loadb(body, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);

    for (m = 0; m < FUZZ_NCAPS; m++) {
        fc = &fuzz_caps[m];
        text_cap = fc->text_cap ? fc->text_cap : size;

        memset(&req, 0, sizeof(req));
        req.inputs = fuzz_alloc(fc->max_inputs * sizeof(infer_oai_input_t));
        req.max_inputs = fc->max_inputs;
        req.text = fuzz_alloc(text_cap);
        req.text_cap = text_cap;
        req.ids = fuzz_alloc(fc->ids_cap * sizeof(int32_t));
        req.ids_cap = fc->ids_cap;
        req.vocab = fc->vocab;

        /* a stale message or status must not survive a decode */
        memset(req.err, 'x', sizeof(req.err));
        req.status = 500;

        rc = infer_oai_decode_embeddings(&req, body, size);

        malformed = (rc != 0
                     && strncmp(req.err, "malformed JSON", 14) == 0);

        if (rc == 0) {
            fuzz_success(&req, fc, body, size);

        } else {
            fuzz_check(rc == -1);
            fuzz_failure(&req);
            fuzz_error_body(&req);
        }

        if (root == NULL && !fuzz_jansson_limit(&jerr) && !malformed) {
            fprintf(stderr, "fuzz_openai: jansson refuses the body (%s, "
                    "position %d), the decoder says: %s\n", jerr.text,
                    jerr.position, rc == 0 ? "OK" : req.err);
            abort();
        }

        /* jansson skips a raw NUL byte after a number ("1\0" is JSON) */
        if (root != NULL && malformed && memchr(body, '\0', size) == NULL) {
            fprintf(stderr, "fuzz_openai: jansson accepts the body, the "
                    "decoder says: %s\n", req.err);
            abort();
        }

        if (rc == 0) {
            if (root != NULL) {
                fuzz_compare(&req, root);
            }

            fuzz_answer(&req, body, size);
            fuzz_models(&req);
        }

        free(req.inputs);
        free(req.text);
        free(req.ids);
    }

    json_decref(root);

    return 0;
}
