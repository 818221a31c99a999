/*
 * ngx_infer: the KServe v2 JSON request decoder (infer_kserve.h), on the
 * JSON machinery of infer_json.h.
 *
 * The decoder is one pass over the body, specialised for the inference
 * request: the top-level object, "inputs" and its objects, "outputs",
 * "parameters"; everything else is validated and skipped.  The numbers of
 * "data" are converted as they are met and written to the caller's buffer,
 * by the loop of infer_kserve_data.c.
 *
 * A request that is well-formed JSON but not a valid inference request
 * gets a message naming the field (INFER_JSON_INVALID); the walk stops at
 * the first such problem, and infer_json_report() then checks the rest of
 * the body for syntax: malformed JSON anywhere wins.  Two problems are
 * reported as found, without that check (INFER_JSON_FINAL): NaN or
 * Infinity in "data" (a syntax error, but one that deserves its own
 * message) and, on the JSON path, binary_data_size (the body is then JSON
 * followed by raw bytes).
 *
 * The same walk reads the JSON part of a request with the binary tensor
 * data extension; what is the extension's own is in infer_kserve_binary.c.
 *
 * Duplicate keys are an error wherever a key has a meaning here, and are
 * allowed in what is skipped.
 */

#include <stdio.h>
#include <string.h>

#include "infer_kserve_impl.h"


static int infer_ks_request(infer_ks_parser_t *ps);
static int infer_ks_inputs(infer_ks_parser_t *ps);
static int infer_ks_input(infer_ks_parser_t *ps, int i);
static int infer_ks_input_name(infer_ks_parser_t *ps, int i,
    infer_ks_input_t **inp);
static int infer_ks_input_datatype(infer_ks_parser_t *ps, int i,
    infer_ks_datatype_e *dt);
static int infer_ks_input_type(infer_ks_parser_t *ps, int i,
    infer_ks_input_t *in, infer_ks_datatype_e dt);
static int infer_ks_shape(infer_ks_parser_t *ps, int i, int64_t *shape,
    int *ndim);
static int infer_ks_outputs(infer_ks_parser_t *ps);
static int infer_ks_output(infer_ks_parser_t *ps, int i);
static int infer_ks_parameters(infer_ks_parser_t *ps);


/*
 * The keys of each object the decoder reads, by index: infer_json_member()
 * returns a key's index, and obj.seen has bit (1 << index) once it was
 * read.  The names of the indices are the enums, so that the tables, the
 * switches and the checks of what is missing cannot drift apart.
 */

enum {
    INFER_KS_TOP_INPUTS = 0,
    INFER_KS_TOP_ID,
    INFER_KS_TOP_OUTPUTS,
    INFER_KS_TOP_PARAMETERS,
    INFER_KS_TOP_KEYS
};

static const char  *const infer_ks_top_keys[INFER_KS_TOP_KEYS + 1] = {
    [INFER_KS_TOP_INPUTS] = "inputs",
    [INFER_KS_TOP_ID] = "id",
    [INFER_KS_TOP_OUTPUTS] = "outputs",
    [INFER_KS_TOP_PARAMETERS] = "parameters",
    [INFER_KS_TOP_KEYS] = NULL
};

enum {
    INFER_KS_IN_NAME = 0,
    INFER_KS_IN_SHAPE,
    INFER_KS_IN_DATATYPE,
    INFER_KS_IN_DATA,
    INFER_KS_IN_PARAMETERS,
    INFER_KS_IN_KEYS
};

static const char  *const infer_ks_input_keys[INFER_KS_IN_KEYS + 1] = {
    [INFER_KS_IN_NAME] = "name",
    [INFER_KS_IN_SHAPE] = "shape",
    [INFER_KS_IN_DATATYPE] = "datatype",
    [INFER_KS_IN_DATA] = "data",
    [INFER_KS_IN_PARAMETERS] = "parameters",
    [INFER_KS_IN_KEYS] = NULL
};

enum {
    INFER_KS_OUT_NAME = 0,
    INFER_KS_OUT_PARAMETERS,
    INFER_KS_OUT_KEYS
};

static const char  *const infer_ks_output_keys[INFER_KS_OUT_KEYS + 1] = {
    [INFER_KS_OUT_NAME] = "name",
    [INFER_KS_OUT_PARAMETERS] = "parameters",
    [INFER_KS_OUT_KEYS] = NULL
};

enum {
    INFER_KS_PARAM_TIMEOUT = 0,
    INFER_KS_PARAM_BINARY_DATA_OUTPUT,
    INFER_KS_PARAM_KEYS
};

static const char  *const infer_ks_param_keys[INFER_KS_PARAM_KEYS + 1] = {
    [INFER_KS_PARAM_TIMEOUT] = "timeout",
    [INFER_KS_PARAM_BINARY_DATA_OUTPUT] = "binary_data_output",
    [INFER_KS_PARAM_KEYS] = NULL
};


/* whether the member of index key was read */
#define infer_ks_seen(obj, key)  (((obj).seen >> (key)) & 1)


int
infer_ks_decode_request(infer_ks_request_t *req, const char *body,
    size_t len)
{
    return infer_ks_decode(req, body, len, len, 0);
}


int
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

    infer_json_init(&ps.js, body, json_len, req->err, sizeof(req->err));
    ps.req = req;
    ps.scratch = 0;
    ps.binary = binary;
    ps.bin = ps.js.end;
    ps.bin_len = len - json_len;
    ps.bytes = 0;

    for (i = 0; i < req->ninputs; i++) {
        ps.bytes |= (req->inputs[i].strs != NULL);
    }

    if (infer_ks_request(&ps) == INFER_JSON_OK
        && (!binary || infer_ks_binary(&ps) == INFER_JSON_OK))
    {
        return 0;
    }

    return infer_json_report(&ps.js);
}


static int
infer_ks_request(infer_ks_parser_t *ps)
{
    int                   i, k, rc;
    infer_ks_str_t        val;
    infer_ks_request_t   *req;
    infer_json_object_t   obj;

    req = ps->req;

    if (!infer_json_object(&ps->js, &obj)) {
        return infer_json_error(&ps->js, INFER_JSON_INVALID,
                                "the request body must be a JSON object");
    }

    while ((rc = infer_json_member(&ps->js, &obj, infer_ks_top_keys, &k))
           == 1)
    {
        switch (k) {

        case INFER_KS_TOP_INPUTS:
            rc = infer_ks_inputs(ps);
            break;

        case INFER_KS_TOP_ID:
            rc = infer_json_string_value(&ps->js, NULL, 0, &req->id, &val);

            if (rc == INFER_JSON_DECLINED) {
                return infer_json_error(&ps->js, INFER_JSON_INVALID,
                                        "id: expected a string");
            }

            break;

        case INFER_KS_TOP_OUTPUTS:
            rc = infer_ks_outputs(ps);
            break;

        default: /* INFER_KS_TOP_PARAMETERS */
            rc = infer_ks_parameters(ps);
        }

        if (rc != INFER_JSON_OK) {
            return INFER_JSON_ERROR;
        }
    }

    if (rc == INFER_JSON_DECLINED) {
        return infer_json_error(&ps->js, INFER_JSON_INVALID,
                                "duplicate key \"%s\"", infer_ks_top_keys[k]);
    }

    if (rc != 0) {
        return INFER_JSON_ERROR;
    }

    if (infer_json_peek(&ps->js) != -1) {
        return infer_json_syntax(&ps->js, ps->js.p, "end of file expected");
    }

    if (!infer_ks_seen(obj, INFER_KS_TOP_INPUTS)) {
        return infer_json_error(&ps->js, INFER_JSON_INVALID,
                                "missing \"inputs\"");
    }

    for (i = 0; i < req->ninputs; i++) {
        if (!req->inputs[i].found) {
            return infer_json_error(&ps->js, INFER_JSON_INVALID,
                                    "inputs: missing input \"%s\"",
                                    req->inputs[i].name);
        }
    }

    return INFER_JSON_OK;
}


static int
infer_ks_inputs(infer_ks_parser_t *ps)
{
    int  n, rc;

    if (!infer_json_array(&ps->js, &n)) {
        goto invalid;
    }

    while ((rc = infer_json_element(&ps->js, &n)) == 1) {
        if (infer_ks_input(ps, n - 1) != INFER_JSON_OK) {
            return INFER_JSON_ERROR;
        }
    }

    if (rc != 0) {
        return INFER_JSON_ERROR;
    }

    if (n > 0) {
        return INFER_JSON_OK;
    }

invalid:

    return infer_json_error(&ps->js, INFER_JSON_INVALID,
                            "inputs: expected a non-empty array of objects");
}


/*
 * One input object.  Its keys come in any order, so what depends on more
 * than one of them is done at its end: "data" met before "name" and
 * "datatype" is decoded then, and the shape is checked against the values.
 * The datatype is checked against the input as soon as both are known, so
 * that "data" is always walked as what the input takes.
 */

static int
infer_ks_input(infer_ks_parser_t *ps, int i)
{
    int                   k, rc, ndim;
    char                  buf[INFER_KS_DIMS_LEN];
    int64_t               shape[INFER_KSERVE_MAX_DIMS], size;
    uint64_t              total;
    const unsigned char  *data, *save;
    infer_ks_input_t     *in;
    infer_ks_datatype_e   dt;
    infer_json_object_t   obj;

    static const int      required[] = {
        INFER_KS_IN_NAME, INFER_KS_IN_SHAPE, INFER_KS_IN_DATATYPE
    };

    if (!infer_json_object(&ps->js, &obj)) {
        return infer_json_error(&ps->js, INFER_JSON_INVALID,
                                "inputs[%d]: expected an object", i);
    }

    in = NULL;
    dt = INFER_KS_UNKNOWN;
    ndim = -1;
    data = NULL;
    size = -1;

    while ((rc = infer_json_member(&ps->js, &obj, infer_ks_input_keys, &k))
           == 1)
    {
        switch (k) {

        case INFER_KS_IN_NAME:
            rc = infer_ks_input_name(ps, i, &in);

            if (rc == INFER_JSON_OK && dt != INFER_KS_UNKNOWN) {
                rc = infer_ks_input_type(ps, i, in, dt);
            }

            break;

        case INFER_KS_IN_SHAPE:
            rc = infer_ks_shape(ps, i, shape, &ndim);
            break;

        case INFER_KS_IN_DATATYPE:
            rc = infer_ks_input_datatype(ps, i, &dt);

            if (rc == INFER_JSON_OK && in != NULL) {
                rc = infer_ks_input_type(ps, i, in, dt);
            }

            break;

        case INFER_KS_IN_DATA:
            if (in != NULL && dt != INFER_KS_UNKNOWN && dt != INFER_KS_FP16
                && dt != INFER_KS_BF16)
            {
                rc = infer_ks_data(&ps->js, i, in, dt, shape, ndim);
                break;
            }

            /*
             * The name or the datatype comes later: decode it then; now
             * only check it, so that NaN gets its own message here too.
             * FP16 and BF16 (binary path) get their message at the end.
             */
            data = ps->js.p;
            rc = infer_ks_data(&ps->js, i, NULL, INFER_KS_UNKNOWN, shape, -1);
            break;

        default: /* INFER_KS_IN_PARAMETERS */
            rc = infer_ks_input_parameters(ps, i, &size);
        }

        if (rc != INFER_JSON_OK) {
            return INFER_JSON_ERROR;
        }
    }

    if (rc == INFER_JSON_DECLINED) {
        return infer_json_error(&ps->js, INFER_JSON_INVALID,
                                "inputs[%d]: duplicate key \"%s\"", i,
                                infer_ks_input_keys[k]);
    }

    if (rc != 0) {
        return INFER_JSON_ERROR;
    }

    for (k = 0; k < 3; k++) {
        if (!infer_ks_seen(obj, required[k])) {
            return infer_json_error(&ps->js, INFER_JSON_INVALID,
                                    "inputs[%d]: missing \"%s\"", i,
                                    infer_ks_input_keys[required[k]]);
        }
    }

    /* size >= 0: parameters.binary_data_size */

    if (!infer_ks_seen(obj, INFER_KS_IN_DATA) && size < 0) {
        return infer_json_error(&ps->js, INFER_JSON_INVALID,
                                ps->binary
                                ? "inputs[%d]: missing \"data\" or "
                                  "parameters.binary_data_size"
                                : "inputs[%d]: missing \"data\"", i);
    }

    if (infer_ks_seen(obj, INFER_KS_IN_DATA) && size >= 0) {
        return infer_json_error(&ps->js, INFER_JSON_INVALID,
                                "inputs[%d]: both \"data\" and "
                                "parameters.binary_data_size, expected one of "
                                "them", i);
    }

    if (infer_ks_seen(obj, INFER_KS_IN_DATA)
        && (dt == INFER_KS_FP16 || dt == INFER_KS_BF16))
    {
        return infer_json_error(&ps->js, INFER_JSON_INVALID,
                                "inputs[%d].datatype: %s cannot be sent as "
                                "JSON numbers, only as binary data", i,
                                infer_ks_datatype_name(dt));
    }

    if (data != NULL) {
        save = ps->js.p;
        ps->js.p = data;

        if (infer_ks_data(&ps->js, i, in, dt, shape, ndim) != INFER_JSON_OK) {
            return INFER_JSON_ERROR;
        }

        ps->js.p = save;
    }

    in->datatype = dt;
    in->ndim = ndim;
    memcpy(in->shape, shape, ndim * sizeof(int64_t));

    if (in->check_shape
        && in->check_shape(in->check_data, shape, ndim, ps->req->err,
                           sizeof(ps->req->err))
           != 0)
    {
        ps->js.kind = INFER_JSON_INVALID;
        return INFER_JSON_ERROR;
    }

    total = infer_ks_total(shape, ndim);

    if (total == UINT64_MAX) {
        return infer_json_error(&ps->js, INFER_JSON_INVALID,
                                "inputs[%d].shape: too many values", i);
    }

    if (size >= 0) {
        return infer_ks_input_binary(ps, i, in, size, total);
    }

    if (total != in->count) {
        infer_shape_str(buf, sizeof(buf), shape, ndim);
        return infer_json_error(&ps->js, INFER_JSON_INVALID,
                                "inputs[%d]: shape %s holds %llu values, data "
                                "has %zu", i, buf, (unsigned long long) total,
                                in->count);
    }

    return INFER_JSON_OK;
}


static int
infer_ks_input_name(infer_ks_parser_t *ps, int i, infer_ks_input_t **inp)
{
    int                   j, rc;
    char                  buf[256], tok[INFER_JSON_TOKEN + 8];
    size_t                pos;
    infer_ks_str_t        raw, name;
    infer_ks_request_t   *req;

    req = ps->req;

    rc = infer_json_string_value(&ps->js, buf, sizeof(buf), &raw, &name);

    if (rc == INFER_JSON_DECLINED) {
        return infer_json_error(&ps->js, INFER_JSON_INVALID,
                                "inputs[%d].name: expected a string", i);
    }

    if (rc != INFER_JSON_OK) {
        return INFER_JSON_ERROR;
    }

    for (j = 0; j < req->ninputs; j++) {

        if (name.len != strlen(req->inputs[j].name)
            || memcmp(name.p, req->inputs[j].name, name.len) != 0)
        {
            continue;
        }

        if (req->inputs[j].found) {
            return infer_json_error(&ps->js, INFER_JSON_INVALID,
                                    "inputs[%d].name: input \"%s\" appears "
                                    "twice", i, req->inputs[j].name);
        }

        req->inputs[j].found = 1;
        req->inputs[j].index = i;
        *inp = &req->inputs[j];

        return INFER_JSON_OK;
    }

    pos = 0;
    infer_json_error_cat(&ps->js, INFER_JSON_INVALID, &pos,
                         "inputs[%d].name: model has no input \"%s\" "
                         "(expected%s", i,
                         infer_json_token(tok, raw.p + 1, raw.len - 2),
                         req->ninputs > 1 ? " one of" : "");

    for (j = 0; j < req->ninputs; j++) {
        infer_json_error_cat(&ps->js, INFER_JSON_INVALID, &pos, "%s \"%s\"",
                             j ? "," : "", req->inputs[j].name);
    }

    return infer_json_error_cat(&ps->js, INFER_JSON_INVALID, &pos, ")");
}


static int
infer_ks_input_datatype(infer_ks_parser_t *ps, int i,
    infer_ks_datatype_e *dt)
{
    int             rc;
    char            buf[16], tok[INFER_JSON_TOKEN + 8];
    infer_ks_str_t  raw, name;

    rc = infer_json_string_value(&ps->js, buf, sizeof(buf), &raw, &name);

    if (rc == INFER_JSON_DECLINED) {
        return infer_json_error(&ps->js, INFER_JSON_INVALID,
                                "inputs[%d].datatype: expected a string", i);
    }

    if (rc != INFER_JSON_OK) {
        return INFER_JSON_ERROR;
    }

    *dt = infer_ks_datatype(name.p, name.len);

    /* on the binary path, "data" with them is refused at the input's end */
    if ((*dt == INFER_KS_FP16 || *dt == INFER_KS_BF16) && !ps->binary) {
        return infer_json_error(&ps->js, INFER_JSON_INVALID,
                                "inputs[%d].datatype: %s cannot be sent as "
                                "JSON numbers (use the binary tensor "
                                "extension)", i, infer_ks_datatype_name(*dt));
    }

    /* with an input that takes BYTES, the name says whether this one does */
    if (*dt == INFER_KS_BYTES && !ps->bytes) {
        return infer_json_error(&ps->js, INFER_JSON_INVALID,
                                "inputs[%d].datatype: BYTES is not supported "
                                "here, the model takes numbers", i);
    }

    if (*dt == INFER_KS_UNKNOWN) {
        return infer_json_error(&ps->js, INFER_JSON_INVALID,
                                "inputs[%d].datatype: unknown datatype "
                                "\"%s\"", i,
                                infer_json_token(tok, raw.p + 1, raw.len - 2));
    }

    return INFER_JSON_OK;
}


/* an input takes BYTES, and only BYTES, when the caller gave it strs */

static int
infer_ks_input_type(infer_ks_parser_t *ps, int i, infer_ks_input_t *in,
    infer_ks_datatype_e dt)
{
    if (in->strs != NULL && dt != INFER_KS_BYTES) {
        return infer_json_error(&ps->js, INFER_JSON_INVALID,
                                "inputs[%d].datatype: expected BYTES, not %s",
                                i, infer_ks_datatype_name(dt));
    }

    if (in->strs == NULL && dt == INFER_KS_BYTES) {
        return infer_json_error(&ps->js, INFER_JSON_INVALID,
                                "inputs[%d].datatype: BYTES is not supported "
                                "here, the model takes numbers", i);
    }

    return INFER_JSON_OK;
}


static int
infer_ks_shape(infer_ks_parser_t *ps, int i, int64_t *shape, int *ndim)
{
    int       n, rc;
    uint64_t  v;

    if (!infer_json_array(&ps->js, &n)) {
        goto invalid;
    }

    while ((rc = infer_json_element(&ps->js, &n)) == 1) {
        rc = infer_json_uint(&ps->js, INT64_MAX, &v);

        if (rc == INFER_JSON_DECLINED) {
            goto invalid;
        }

        if (rc == INFER_JSON_RANGE) {
            return infer_json_error(&ps->js, INFER_JSON_INVALID,
                                    "inputs[%d].shape[%d]: dimension is too "
                                    "large", i, n - 1);
        }

        if (rc != INFER_JSON_OK) {
            return INFER_JSON_ERROR;
        }

        if (n > INFER_KSERVE_MAX_DIMS) {
            return infer_json_error(&ps->js, INFER_JSON_INVALID,
                                    "inputs[%d].shape: more than %d "
                                    "dimensions", i, INFER_KSERVE_MAX_DIMS);
        }

        shape[n - 1] = (int64_t) v;
    }

    if (rc != 0) {
        return INFER_JSON_ERROR;
    }

    *ndim = n;

    return INFER_JSON_OK;

invalid:

    return infer_json_error(&ps->js, INFER_JSON_INVALID,
                            "inputs[%d].shape: expected an array of "
                            "non-negative integers", i);
}



static int
infer_ks_outputs(infer_ks_parser_t *ps)
{
    int  n, rc;

    if (!infer_json_array(&ps->js, &n)) {
        return infer_json_error(&ps->js, INFER_JSON_INVALID,
                                "outputs: expected an array of objects");
    }

    while ((rc = infer_json_element(&ps->js, &n)) == 1) {

        if (n > INFER_KSERVE_MAX_OUTPUTS) {
            return infer_json_error(&ps->js, INFER_JSON_INVALID,
                                    "outputs: more than %d outputs requested",
                                    INFER_KSERVE_MAX_OUTPUTS);
        }

        if (infer_ks_output(ps, n - 1) != INFER_JSON_OK) {
            return INFER_JSON_ERROR;
        }
    }

    return rc == 0 ? INFER_JSON_OK : INFER_JSON_ERROR;
}


static int
infer_ks_output(infer_ks_parser_t *ps, int i)
{
    int                   k, rc;
    infer_ks_str_t        raw, *name;
    infer_ks_request_t   *req;
    infer_json_object_t   obj;

    req = ps->req;
    name = &req->outputs[i];

    if (!infer_json_object(&ps->js, &obj)) {
        return infer_json_error(&ps->js, INFER_JSON_INVALID,
                                "outputs[%d]: expected an object", i);
    }

    while ((rc = infer_json_member(&ps->js, &obj, infer_ks_output_keys, &k))
           == 1)
    {
        if (k == INFER_KS_OUT_NAME) {
            rc = infer_json_string_value(&ps->js, req->scratch + ps->scratch,
                                         sizeof(req->scratch) - ps->scratch,
                                         &raw, name);

            if (rc == INFER_JSON_DECLINED) {
                return infer_json_error(&ps->js, INFER_JSON_INVALID,
                                        "outputs[%d].name: expected a string",
                                        i);
            }

            if (rc != INFER_JSON_OK) {
                return INFER_JSON_ERROR;
            }

            if (name->len == (size_t) -1) {
                return infer_json_error(&ps->js, INFER_JSON_INVALID,
                                        "outputs[%d].name: too long", i);
            }

            if (name->p == req->scratch + ps->scratch) {
                ps->scratch += name->len;
            }

            continue;
        }

        if (infer_ks_output_parameters(ps, i) != INFER_JSON_OK) {
            return INFER_JSON_ERROR;
        }
    }

    if (rc == INFER_JSON_DECLINED) {
        return infer_json_error(&ps->js, INFER_JSON_INVALID,
                                "outputs[%d]: duplicate key \"%s\"", i,
                                infer_ks_output_keys[k]);
    }

    if (rc != 0) {
        return INFER_JSON_ERROR;
    }

    if (!infer_ks_seen(obj, INFER_KS_OUT_NAME)) {
        return infer_json_error(&ps->js, INFER_JSON_INVALID,
                                "outputs[%d]: missing \"name\"", i);
    }

    req->noutputs = i + 1;

    return INFER_JSON_OK;
}


/*
 * Request parameters: "timeout" is in microseconds, as Triton has it;
 * "binary_data_output" is the outputs' default.
 */

static int
infer_ks_parameters(infer_ks_parser_t *ps)
{
    int                   k, v, rc;
    infer_json_num_t      num;
    infer_json_object_t   obj;
    const unsigned char  *p;

    if (!infer_json_object(&ps->js, &obj)) {
        return infer_json_error(&ps->js, INFER_JSON_INVALID,
                                "parameters: expected an object");
    }

    while ((rc = infer_json_member(&ps->js, &obj, infer_ks_param_keys, &k))
           == 1)
    {
        if (k == INFER_KS_PARAM_BINARY_DATA_OUTPUT) {
            if (infer_json_bool(&ps->js, &v) != INFER_JSON_OK) {
                return infer_json_error(&ps->js, INFER_JSON_INVALID,
                                        "parameters.binary_data_output: "
                                        "expected true or false");
            }

            ps->req->binary_output = v;
            continue;
        }

        if (!infer_json_digit(infer_json_peek(&ps->js))) {
            goto invalid;
        }

        p = infer_json_number(ps->js.p, ps->js.end, &num);
        if (p == NULL) {
            return infer_json_syntax(&ps->js, ps->js.p, "invalid number");
        }

        if (!num.integer) {
            goto invalid;
        }

        ps->req->timeout_ms = infer_json_num_double(&num, ps->js.p, p) / 1000;
        ps->js.p = p;
    }

    if (rc == INFER_JSON_DECLINED) {
        return infer_json_error(&ps->js, INFER_JSON_INVALID,
                                "parameters: duplicate key \"%s\"",
                                infer_ks_param_keys[k]);
    }

    return rc == 0 ? INFER_JSON_OK : INFER_JSON_ERROR;

invalid:

    return infer_json_error(&ps->js, INFER_JSON_INVALID,
                            "parameters.timeout: expected a non-negative "
                            "integer (microseconds)");
}


int
infer_ks_decode_index(const char *body, size_t len, int *ready, char *err)
{
    int                   k, rc;
    infer_json_parser_t   js;
    infer_json_object_t   obj;

    static const char *const  keys[] = { "ready", NULL };

    *ready = 0;

    infer_json_init(&js, body, len, err, INFER_KSERVE_ERRLEN);

    if (infer_json_peek(&js) == -1) {
        return 0;
    }

    if (!infer_json_object(&js, &obj)) {
        infer_json_error(&js, INFER_JSON_INVALID,
                         "the request body must be a JSON object");
        return infer_json_report(&js);
    }

    while ((rc = infer_json_member(&js, &obj, keys, &k)) == 1) {
        rc = infer_json_bool(&js, ready);

        if (rc == INFER_JSON_DECLINED) {
            infer_json_error(&js, INFER_JSON_INVALID,
                             "ready: expected true or false");
            return infer_json_report(&js);
        }
    }

    if (rc == INFER_JSON_DECLINED) {
        infer_json_error(&js, INFER_JSON_INVALID, "duplicate key \"ready\"");
        return infer_json_report(&js);
    }

    if (rc != 0) {
        return infer_json_report(&js);
    }

    if (infer_json_peek(&js) != -1) {
        infer_json_syntax(&js, js.p, "end of file expected");
        return infer_json_report(&js);
    }

    return 0;
}
