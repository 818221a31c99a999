/*
 * ngx_infer fuzzing: infer_ks_decode_request() on arbitrary bytes.
 *
 * Each body is decoded once per model below (one expected input with a
 * small or a large cap, with or without a check_shape hook, and one model
 * of two inputs; the same with an input that takes BYTES), from
 * libFuzzer's buffer, a malloc() of exactly its size, into dst buffers
 * that are malloc()s of exactly cap floats, or strs of exactly cap spans
 * and a text buffer of exactly the body's length: AddressSanitizer sees
 * any read past the body and any write past cap or text_cap.
 *
 * Beyond the sanitizers, what the decoder says is checked against jansson,
 * which parses the same body:
 *
 *   - a body the decoder accepts is JSON that jansson accepts too (but for
 *     what RFC 8259 allows and jansson does not: integers beyond 64 bits,
 *     reals beyond double range, one level of nesting more, "\u0000" in a
 *     key), and what was decoded (names, datatype, shape, values, id,
 *     outputs) is what jansson reads there, the values being (float)
 *     strtod() of their tokens, the strings of a BYTES input what jansson
 *     unescapes, spans of the body or of the text buffer;
 *   - a body that jansson rejects gets "malformed JSON", or one of the two
 *     messages the decoder gives before checking the syntax;
 *   - "malformed JSON" is never said of a body that jansson accepts (but
 *     for a raw NUL byte after a number, which jansson skips);
 *   - an error message is never empty, fits its buffer and is valid UTF-8.
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


#define FUZZ_FEATURES  2          /* the hooked model takes [n, 2] */


typedef struct {
    const char   *names[2];
    int           ninputs;
    size_t        cap;
    int           hook;           /* 0: none, 1: [n, 2], 2: refuses all */
    unsigned      bytes;          /* bit j: input j takes BYTES */
} fuzz_model_t;


static const fuzz_model_t  fuzz_models[] = {
    { { "input", NULL }, 1, 4, 0, 0 },
    { { "input", NULL }, 1, 4, 1, 0 },
    { { "input", NULL }, 1, 4096, 0, 0 },
    { { "input", NULL }, 1, 65536, 1, 0 },
    { { "input", NULL }, 1, 16, 2, 0 },
    { { "a", "input" }, 2, 1, 0, 0 },
    { { "input", NULL }, 1, 4, 0, 1 },
    { { "input", NULL }, 1, 4096, 1, 1 },
    { { "input", NULL }, 1, 16, 2, 1 },
    { { "a", "input" }, 2, 2, 0, 2 },
};

#define FUZZ_NMODELS  (sizeof(fuzz_models) / sizeof(fuzz_models[0]))


static float           *fuzz_dst[FUZZ_NMODELS][2];
static infer_ks_str_t  *fuzz_strs[FUZZ_NMODELS][2];
static int     fuzz_hook_calls;


#define fuzz_check(cond)                                                     \
    if (!(cond)) {                                                           \
        fprintf(stderr, "fuzz_kserve_json: check failed at line %d: %s\n",  \
                __LINE__, #cond);                                            \
        abort();                                                             \
    }


static int
fuzz_hook_shape(void *data, const int64_t *shape, int ndim, char *err,
    size_t len)
{
    int  i;

    fuzz_hook_calls++;

    fuzz_check(data == (void *) &fuzz_models[0]);
    fuzz_check(ndim >= 0 && ndim <= INFER_KSERVE_MAX_DIMS);
    fuzz_check(len == INFER_KSERVE_ERRLEN);

    for (i = 0; i < ndim; i++) {
        fuzz_check(shape[i] >= 0);
    }

    if (ndim == 2 && shape[1] == FUZZ_FEATURES) {
        return 0;
    }

    snprintf(err, len, "inputs[0].shape must be [n, %d]", FUZZ_FEATURES);

    return -1;
}


/* a message that takes the whole buffer: the decoder must keep it whole */

static int
fuzz_hook_refuse(void *data, const int64_t *shape, int ndim, char *err,
    size_t len)
{
    fuzz_hook_calls++;

    fuzz_check(len == INFER_KSERVE_ERRLEN);

    memset(err, 'h', len - 1);
    err[len - 1] = '\0';

    return -1;
}


static void
fuzz_init(void)
{
    size_t  i;
    int     j;

    for (i = 0; i < FUZZ_NMODELS; i++) {
        for (j = 0; j < fuzz_models[i].ninputs; j++) {
            /* never 0 bytes: malloc(0) may return NULL */
            fuzz_dst[i][j] = malloc(fuzz_models[i].cap * sizeof(float));
            fuzz_check(fuzz_dst[i][j] != NULL);

            fuzz_strs[i][j] = malloc(fuzz_models[i].cap
                                     * sizeof(infer_ks_str_t));
            fuzz_check(fuzz_strs[i][j] != NULL);
        }
    }
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
fuzz_span_is(infer_ks_str_t s, json_t *v)
{
    return json_is_string(v) && json_string_length(v) == s.len
           && memcmp(json_string_value(v), s.p, s.len) == 0;
}


/* what the decoder must have made of one value of "data" */

static int
fuzz_value(json_t *v, infer_ks_datatype_e dt, float *f)
{
    double  d;

    if (json_is_true(v) || json_is_false(v)) {
        fuzz_check(dt == INFER_KS_BOOL);
        *f = json_is_true(v) ? 1.0f : 0.0f;
        return 0;
    }

    if (json_is_integer(v)) {
        /* a token of at most 64 bits: strtod() gives it exactly rounded */
        *f = (dt == INFER_KS_FP32 || dt == INFER_KS_FP64)
             ? (float) (double) json_integer_value(v)
             : (float) json_integer_value(v);
        return 0;
    }

    fuzz_check(json_is_real(v));

    d = json_real_value(v);

    if (dt == INFER_KS_FP32 || dt == INFER_KS_FP64) {
        *f = (float) d;
        return 0;
    }

    /* an integer type given "1e3" or "2.0": exact only below 2^53 */
    if (fabs(d) < 0x1p53) {
        *f = (float) d;
        return 0;
    }

    return -1;
}


/* the strings of a BYTES input: what jansson unescapes, in order */

static void
fuzz_strings(json_t *data, const infer_ks_str_t *strs, size_t count,
    size_t *k)
{
    size_t   i;
    json_t  *v;

    json_array_foreach(data, i, v) {
        if (json_is_array(v)) {
            fuzz_strings(v, strs, count, k);
            continue;
        }

        fuzz_check(*k < count);
        fuzz_check(fuzz_span_is(strs[*k], v));

        (*k)++;
    }
}


static void
fuzz_values(json_t *data, infer_ks_datatype_e dt, const float *dst,
    size_t count, size_t *k)
{
    size_t   i;
    float    f;
    json_t  *v;

    json_array_foreach(data, i, v) {
        if (json_is_array(v)) {
            fuzz_values(v, dt, dst, count, k);
            continue;
        }

        fuzz_check(*k < count);

        if (fuzz_value(v, dt, &f) == 0 && !(f == dst[*k])) {
            fprintf(stderr, "fuzz_kserve_json: data value %zu is %.9g, "
                    "jansson reads %.9g\n", *k, (double) dst[*k],
                    (double) f);
            abort();
        }

        (*k)++;
    }
}


/* a successful decode against jansson's document */

static void
fuzz_compare(const infer_ks_request_t *req, json_t *root, const char *body,
    size_t len)
{
    int                      i, j;
    size_t                   k;
    json_t                  *in, *shape, *v, *outs, *params, *id;
    json_error_t             jerr;
    const infer_ks_input_t  *inp;

    fuzz_check(json_is_object(root));

    for (j = 0; j < req->ninputs; j++) {
        inp = &req->inputs[j];

        in = json_array_get(json_object_get(root, "inputs"), inp->index);
        fuzz_check(json_is_object(in));
        fuzz_check(json_is_string(json_object_get(in, "name"))
                   && strcmp(json_string_value(json_object_get(in, "name")),
                             inp->name) == 0);
        fuzz_check(json_is_string(json_object_get(in, "datatype"))
                   && strcmp(json_string_value(json_object_get(in,
                                                                "datatype")),
                             infer_ks_datatype_name(inp->datatype)) == 0);

        shape = json_object_get(in, "shape");
        fuzz_check((int) json_array_size(shape) == inp->ndim);

        for (i = 0; i < inp->ndim; i++) {
            v = json_array_get(shape, i);
            fuzz_check(json_is_integer(v)
                       && json_integer_value(v) == inp->shape[i]);
        }

        k = 0;

        if (inp->strs != NULL) {
            fuzz_strings(json_object_get(in, "data"), inp->strs, inp->count,
                         &k);

        } else {
            fuzz_values(json_object_get(in, "data"), inp->datatype, inp->dst,
                        inp->count, &k);
        }

        fuzz_check(k == inp->count);
    }

    id = json_object_get(root, "id");

    if (req->id.len == 0) {
        fuzz_check(id == NULL);

    } else {
        fuzz_check(req->id.p >= body && req->id.p + req->id.len <= body + len);
        v = json_loadb(req->id.p, req->id.len, JSON_DECODE_ANY
                       | JSON_ALLOW_NUL, &jerr);
        fuzz_check(v != NULL && json_equal(v, id));
        json_decref(v);
    }

    outs = json_object_get(root, "outputs");
    fuzz_check((int) json_array_size(outs) == req->noutputs);

    for (i = 0; i < req->noutputs; i++) {
        v = json_array_get(outs, i);
        fuzz_check(fuzz_span_is(req->outputs[i], json_object_get(v, "name")));

        params = json_object_get(v, "parameters");
        v = json_object_get(params, "binary_data");
        fuzz_check(req->output_binary[i]
                   == (v == NULL ? -1 : json_is_true(v) ? 1 : 0));
    }

    v = json_object_get(json_object_get(root, "parameters"),
                        "binary_data_output");
    fuzz_check(req->binary_output == json_is_true(v));
}


/* what holds after any decode, whether it succeeded or not */

static void
fuzz_invariants(const infer_ks_request_t *req, int rc, const char *body,
    size_t len)
{
    int                      i, j, d;
    size_t                   n, k;
    json_t                  *v;
    uint64_t                 total;
    const infer_ks_str_t    *str;
    const infer_ks_input_t  *in;

    n = strnlen(req->err, INFER_KSERVE_ERRLEN);
    fuzz_check(n < INFER_KSERVE_ERRLEN);

    if (rc != 0) {
        fuzz_check(rc == -1);
        fuzz_check(n > 0);

        /* json_stringn() takes valid UTF-8 only */
        v = json_stringn(req->err, n);
        fuzz_check(v != NULL);
        json_decref(v);

        return;
    }

    fuzz_check(n == 0);
    fuzz_check(req->noutputs >= 0 && req->noutputs <= INFER_KSERVE_MAX_OUTPUTS);

    for (i = 0; i < req->noutputs; i++) {
        fuzz_check((req->outputs[i].p >= body
                    && req->outputs[i].p + req->outputs[i].len <= body + len)
                   || (req->outputs[i].p >= req->scratch
                       && req->outputs[i].p + req->outputs[i].len
                          <= req->scratch + sizeof(req->scratch)));
    }

    for (j = 0; j < req->ninputs; j++) {
        in = &req->inputs[j];

        fuzz_check(in->found);
        fuzz_check(in->index >= 0 && in->index < req->ninputs);
        fuzz_check(in->binary_size == -1);
        fuzz_check(in->ndim >= 0 && in->ndim <= INFER_KSERVE_MAX_DIMS);

        if (in->strs == NULL) {
            fuzz_check(in->datatype < INFER_KS_FP16
                       || in->datatype == INFER_KS_FP32
                       || in->datatype == INFER_KS_FP64);
            fuzz_check(in->count <= in->cap);

        } else {
            fuzz_check(in->datatype == INFER_KS_BYTES);
            fuzz_check(in->count <= in->strs_cap);

            /* in the body or the text, valid UTF-8 (json_stringn() says) */
            for (k = 0; k < in->count; k++) {
                str = &in->strs[k];
                fuzz_check((str->p >= body && str->p + str->len <= body + len)
                           || (str->p >= in->text
                               && str->p + str->len
                                  <= in->text + in->text_cap));

                v = json_stringn(str->p, str->len);
                fuzz_check(v != NULL);
                json_decref(v);
            }
        }

        total = 1;
        for (d = 0; d < in->ndim; d++) {
            total *= (uint64_t) in->shape[d];
        }

        fuzz_check(total == in->count);

        for (i = 0; i < j; i++) {
            fuzz_check(req->inputs[i].index != in->index);
        }
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                  rc, j, malformed;
    char                *text[2];
    size_t               m;
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

    body = (const char *) data;

    root = json_loadb(body, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);

    for (m = 0; m < FUZZ_NMODELS; m++) {
        fm = &fuzz_models[m];

        memset(inputs, 0, sizeof(inputs));
        memset(&req, 0, sizeof(req));

        for (j = 0; j < fm->ninputs; j++) {
            inputs[j].name = fm->names[j];
            inputs[j].dst = fuzz_dst[m][j];
            inputs[j].cap = fm->cap;
            text[j] = NULL;

            if (fm->bytes & (1u << j)) {
                /* dst is not theirs: a write there would be a crash */
                inputs[j].dst = NULL;
                inputs[j].cap = 0;
                inputs[j].strs = fuzz_strs[m][j];
                inputs[j].strs_cap = fm->cap;

                /* exactly what the interface says always suffices */
                text[j] = malloc(size ? size : 1);
                fuzz_check(text[j] != NULL);
                inputs[j].text = text[j];
                inputs[j].text_cap = size;
            }

            if (fm->hook == 1) {
                inputs[j].check_shape = fuzz_hook_shape;
                inputs[j].check_data = (void *) &fuzz_models[0];

            } else if (fm->hook == 2) {
                inputs[j].check_shape = fuzz_hook_refuse;
            }
        }

        req.inputs = inputs;
        req.ninputs = fm->ninputs;

        /* a stale message must not survive a decode */
        memset(req.err, 'x', sizeof(req.err));

        fuzz_hook_calls = 0;

        rc = infer_ks_decode_request(&req, body, size);

        fuzz_invariants(&req, rc, body, size);

        malformed = (rc != 0
                     && strncmp(req.err, "malformed JSON", 14) == 0);

        /* the hook refuses all: its message is kept whole, or syntax wins */
        if (fm->hook == 2 && fuzz_hook_calls) {
            fuzz_check(rc != 0);
            fuzz_check(malformed
                       || strspn(req.err, "h") == INFER_KSERVE_ERRLEN - 1);
        }

        if (root == NULL && !fuzz_jansson_limit(&jerr)) {
            if (rc == 0 || !(malformed
                             || strstr(req.err, "NaN and Infinity") != NULL
                             || strstr(req.err, "binary_data_size") != NULL))
            {
                fprintf(stderr, "fuzz_kserve_json: jansson refuses the body "
                        "(%s, position %d), the decoder says: %s\n",
                        jerr.text, jerr.position,
                        rc == 0 ? "OK" : req.err);
                abort();
            }
        }

        /* jansson skips a raw NUL byte after a number ("1\0" is JSON) */
        if (root != NULL && malformed && memchr(body, '\0', size) == NULL) {
            fprintf(stderr, "fuzz_kserve_json: jansson accepts the body, "
                    "the decoder says: %s\n", req.err);
            abort();
        }

        if (rc == 0 && root != NULL) {
            fuzz_compare(&req, root, body, size);
        }

        for (j = 0; j < fm->ninputs; j++) {
            free(text[j]);
        }
    }

    json_decref(root);

    return 0;
}
