
/*
 * ngx_infer: the KServe v2 HTTP API: health, server and model metadata,
 * and the codec of its inference requests (JSON, Triton's binary tensor
 * data extension, a raw octet-stream tensor) for the request path of
 * ngx_http_infer_request.c.  The JSON itself is kernels/infer_kserve*.c.
 * Triton's other extensions (model configuration, statistics, the model
 * repository) are routed to ngx_http_infer_triton.c.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <math.h>

#include "ngx_http_infer_module.h"


#define NGX_HTTP_INFER_EP_SERVER         0
#define NGX_HTTP_INFER_EP_LIVE           1
#define NGX_HTTP_INFER_EP_READY          2
#define NGX_HTTP_INFER_EP_MODEL          3
#define NGX_HTTP_INFER_EP_MODEL_READY    4
#define NGX_HTTP_INFER_EP_CONFIG         5
#define NGX_HTTP_INFER_EP_STATS          6


/* the rest of the path, p to end, is exactly s */
#define ngx_http_infer_is(p, end, s)                                         \
    ((size_t) ((end) - (p)) == sizeof(s) - 1                                 \
     && ngx_strncmp(p, s, sizeof(s) - 1) == 0)


static ngx_int_t ngx_http_infer_kserve_decode(ngx_http_infer_ctx_t *ctx,
    u_char *body, size_t len, ngx_http_infer_err_t *err);
static ngx_int_t ngx_http_infer_decode_json(ngx_http_infer_ctx_t *ctx,
    u_char *body, size_t json_len, size_t len, char *err);
static ngx_int_t ngx_http_infer_binary_header(ngx_http_request_t *r,
    size_t *json_len, char *err);
static ngx_int_t ngx_http_infer_decode_raw(ngx_http_infer_ctx_t *ctx,
    u_char *body, size_t len, char *err);
static ngx_int_t ngx_http_infer_kserve_answer(ngx_http_request_t *r,
    ngx_http_infer_ctx_t *ctx);
static ngx_int_t ngx_http_infer_send_raw(ngx_http_request_t *r,
    ngx_http_infer_ctx_t *ctx);

static int ngx_http_infer_check_shape(void *data, const int64_t *shape,
    int ndim, char *err, size_t len);
static int ngx_http_infer_check_texts(void *data, const int64_t *shape,
    int ndim, char *err, size_t len);
static ngx_int_t ngx_http_infer_server_metadata(ngx_http_request_t *r);
static ngx_int_t ngx_http_infer_model_metadata(ngx_http_request_t *r,
    ngx_http_infer_model_t *m);
static ngx_int_t ngx_http_infer_live(ngx_http_request_t *r);
static ngx_int_t ngx_http_infer_server_ready(ngx_http_request_t *r);
static ngx_int_t ngx_http_infer_model_ready(ngx_http_request_t *r,
    ngx_http_infer_model_t *m);
static u_char *ngx_http_infer_write_dims(u_char *p, const infer_io_t *io);


/* by infer_io_type_e */
static const char  *ngx_http_infer_io_datatypes[] = {
    "FP32", "INT64", "BYTES"
};


const ngx_http_infer_codec_t  ngx_http_infer_kserve_codec = {
    "a KServe v2 inference request",       /* what */
    "inputs[0].data[%ui]",                 /* item */
    ngx_http_infer_kserve_decode,          /* decode */
    ngx_http_infer_kserve_answer,          /* answer */
    NULL                                   /* progress */
};


ngx_int_t
ngx_http_infer_kserve_handler(ngx_http_request_t *r)
{
    u_char                  *p, *q, *end;
    ngx_str_t                name, version;
    ngx_uint_t               ep;
    ngx_http_infer_model_t  *m;

    end = r->uri.data + r->uri.len;

    p = ngx_http_infer_api_path(&r->uri, '2');
    if (p == NULL) {
        goto not_found;
    }
    m = NULL;

    if (p == end || ngx_http_infer_is(p, end, "/")) {
        ep = NGX_HTTP_INFER_EP_SERVER;

    } else if (ngx_http_infer_is(p, end, "/health/live")) {
        ep = NGX_HTTP_INFER_EP_LIVE;

    } else if (ngx_http_infer_is(p, end, "/health/ready")) {
        ep = NGX_HTTP_INFER_EP_READY;

    } else if (ngx_http_infer_is(p, end, "/models/stats")) {
        /* Triton's: every model's (m is NULL) */
        ep = NGX_HTTP_INFER_EP_STATS;

    } else if ((size_t) (end - p) >= sizeof("/repository/") - 1
               && ngx_strncmp(p, "/repository/", sizeof("/repository/") - 1)
                  == 0)
    {
        return ngx_http_infer_triton_repository(r, p, end);

    } else {
        if ((size_t) (end - p) <= sizeof("/models/") - 1
            || ngx_strncmp(p, "/models/", sizeof("/models/") - 1) != 0)
        {
            goto not_found;
        }

        p += sizeof("/models/") - 1;

        for (q = p; q < end && *q != '/'; q++) { /* void */ }

        name.data = p;
        name.len = q - p;
        p = q;

        m = ngx_http_infer_model_by_name(r, &name);
        if (m == NULL) {
            return ngx_http_infer_send_error(r, NGX_HTTP_NOT_FOUND,
                                             "unknown model \"%V\"", &name);
        }

        if ((size_t) (end - p) > sizeof("/versions/") - 1
            && ngx_strncmp(p, "/versions/", sizeof("/versions/") - 1) == 0)
        {
            p += sizeof("/versions/") - 1;

            for (q = p; q < end && *q != '/'; q++) { /* void */ }

            version.data = p;
            version.len = q - p;
            p = q;

            if (version.len != 1 || version.data[0] != '1') {
                return ngx_http_infer_send_error(r, NGX_HTTP_NOT_FOUND,
                                                 "model \"%V\" has no "
                                                 "version \"%V\"", &name,
                                                 &version);
            }
        }

        if (p == end) {
            ep = NGX_HTTP_INFER_EP_MODEL;

        } else if (ngx_http_infer_is(p, end, "/ready")) {
            ep = NGX_HTTP_INFER_EP_MODEL_READY;

        } else if (ngx_http_infer_is(p, end, "/config")) {
            ep = NGX_HTTP_INFER_EP_CONFIG;

        } else if (ngx_http_infer_is(p, end, "/stats")) {
            ep = NGX_HTTP_INFER_EP_STATS;

        } else if (ngx_http_infer_is(p, end, "/infer")) {
            if (r->method != NGX_HTTP_POST) {
                return ngx_http_infer_not_allowed(r, 1);
            }

            return ngx_http_infer_request(r, m, &ngx_http_infer_kserve_codec);

        } else {
            goto not_found;
        }
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return ngx_http_infer_not_allowed(r, 0);
    }

    switch (ep) {

    case NGX_HTTP_INFER_EP_SERVER:
        return ngx_http_infer_server_metadata(r);

    case NGX_HTTP_INFER_EP_LIVE:
        return ngx_http_infer_live(r);

    case NGX_HTTP_INFER_EP_READY:
        return ngx_http_infer_server_ready(r);

    case NGX_HTTP_INFER_EP_MODEL:
        return ngx_http_infer_model_metadata(r, m);

    case NGX_HTTP_INFER_EP_CONFIG:
        return ngx_http_infer_triton_config(r, m);

    case NGX_HTTP_INFER_EP_STATS:
        return ngx_http_infer_triton_stats(r, m);

    default: /* NGX_HTTP_INFER_EP_MODEL_READY */
        return ngx_http_infer_model_ready(r, m);
    }

not_found:

    return ngx_http_infer_send_error(r, NGX_HTTP_NOT_FOUND,
                                     "no KServe v2 endpoint at \"%V\"",
                                     &r->uri);
}


/*
 * Which body this is (ngx_http_infer_binary_header()).  JSON, with or
 * without binary tensors, is decoded into the worker's scratch: the
 * payload is allocated once the number of rows is known, which in JSON
 * may come after the data.  A raw tensor body is checked in place and
 * copied once, into the payload.
 */

static ngx_int_t
ngx_http_infer_kserve_decode(ngx_http_infer_ctx_t *ctx, u_char *body,
    size_t len, ngx_http_infer_err_t *e)
{
    char       *err;
    size_t      json_len;
    ngx_int_t   rc;

    err = e->msg;

    rc = ngx_http_infer_binary_header(ctx->request, &json_len, err);

    if (rc == NGX_OK && json_len == 0) {
        if (ctx->model->tokenizer) {
            *ngx_slprintf((u_char *) err, (u_char *) err
                                          + INFER_KSERVE_ERRLEN - 1,
                          "a raw octet-stream body is a tensor of FP32 rows, "
                          "but model \"%V\" takes text: send JSON, or "
                          "BYTES in binary tensor data", &ctx->model->name)
                = '\0';
            return NGX_ERROR;
        }

        rc = ngx_http_infer_decode_raw(ctx, body, len, err);

    } else if (rc == NGX_OK) {
        ctx->input = (u_char *) ctx->model->scratch;
        rc = ngx_http_infer_decode_json(ctx, body,
                                        json_len == (size_t) -1 ? len
                                                                : json_len,
                                        len, err);
    }

    ctx->ntokens = ctx->rows;

    return rc;
}


/*
 * A KServe v2 request, its tensor decoded straight into the slot: JSON
 * alone (json_len == len), or with the binary tensor data extension, JSON
 * of json_len bytes followed by the raw tensors.
 */

static ngx_int_t
ngx_http_infer_decode_json(ngx_http_infer_ctx_t *ctx, u_char *body,
    size_t json_len, size_t len, char *err)
{
    int                      rc;
    ngx_uint_t               i;
    infer_ks_input_t         in;
    infer_ks_request_t       req;
    ngx_http_infer_model_t  *m;

    m = ctx->model;

    ngx_memzero(&in, sizeof(infer_ks_input_t));
    in.name = m->model->input.name;
    in.check_data = m;

    if (m->tokenizer) {
        /* texts: spans of the body, or unescaped into the worker's room */
        in.strs_cap = m->max_batch;
        in.text_cap = json_len;
        in.strs = ngx_http_infer_decode_room(ctx->request->connection->log,
                                             in.strs_cap
                                             * sizeof(infer_ks_str_t)
                                             + in.text_cap);
        in.check_shape = ngx_http_infer_check_texts;

        if (in.strs == NULL) {
            ngx_cpystrn((u_char *) err, (u_char *) "out of memory",
                        INFER_KSERVE_ERRLEN);
            return NGX_ERROR;
        }

        in.text = (char *) (in.strs + in.strs_cap);

    } else {
        in.dst = m->scratch;
        in.cap = m->max_batch * m->model->input.size;
        in.check_shape = ngx_http_infer_check_shape;
    }

    ngx_memzero(&req, offsetof(infer_ks_request_t, err));
    req.inputs = &in;
    req.ninputs = 1;

    if (json_len == len) {
        rc = infer_ks_decode_request(&req, (char *) body, len);

    } else {
        rc = infer_ks_decode_binary(&req, (char *) body, json_len, len);
    }

    if (rc != 0) {
        ngx_memcpy(err, req.err, INFER_KSERVE_ERRLEN);
        return NGX_ERROR;
    }

    for (i = 0; i < (ngx_uint_t) req.noutputs; i++) {
        if (req.outputs[i].len != ngx_strlen(m->model->output.name)
            || ngx_strncmp(req.outputs[i].p, m->model->output.name,
                           req.outputs[i].len)
               != 0)
        {
            *ngx_slprintf((u_char *) err, (u_char *) err
                                          + INFER_KSERVE_ERRLEN - 1,
                          "outputs[%ui].name: model \"%V\" has no output "
                          "\"%*s\" (it has \"%s\")", i, &m->name,
                          req.outputs[i].len, req.outputs[i].p,
                          m->model->output.name)
                = '\0';
            return NGX_ERROR;
        }
    }

    ctx->rows = (ngx_uint_t) in.shape[0];
    ctx->timeout = (ngx_msec_t) req.timeout_ms;

    if (m->tokenizer) {
        ctx->texts = ngx_palloc(ctx->request->pool,
                                in.count * sizeof(ngx_http_infer_text_t));
        if (ctx->texts == NULL) {
            ngx_cpystrn((u_char *) err, (u_char *) "out of memory",
                        INFER_KSERVE_ERRLEN);
            return NGX_ERROR;
        }

        for (i = 0; i < in.count; i++) {
            ctx->texts[i].text = (u_char *) in.strs[i].p;
            ctx->texts[i].len = in.strs[i].len;
            ctx->texts[i].ids = NULL;
            ctx->texts[i].n_ids = 0;
        }

        ctx->rows = in.count;
    }
    ctx->binary = infer_ks_output_binary(&req, m->model->output.name,
                                         ngx_strlen(m->model->output.name));

    if (req.id.len) {
        ctx->id.data = (u_char *) req.id.p;
        ctx->id.len = req.id.len;
    }

    return NGX_OK;
}


/*
 * Which body this is: the binary tensor data extension says the length of
 * its JSON part in Inference-Header-Content-Length (*json_len); 0 there,
 * or Content-Type: application/octet-stream without the header, is the
 * raw input tensor alone (*json_len = 0); otherwise JSON (*json_len = the
 * whole body, set by the caller).
 */

static ngx_int_t
ngx_http_infer_binary_header(ngx_http_request_t *r, size_t *json_len,
    char *err)
{
    off_t             n;
    ngx_str_t        *ct;
    ngx_table_elt_t  *h;

    h = ngx_http_infer_header_in(r, "Inference-Header-Content-Length");

    if (h) {
        n = ngx_atoof(h->value.data, h->value.len);

        if (n == NGX_ERROR) {
            *ngx_slprintf((u_char *) err,
                          (u_char *) err + INFER_KSERVE_ERRLEN - 1,
                          "Inference-Header-Content-Length \"%V\" is not a "
                          "number of bytes", &h->value)
                = '\0';
            return NGX_ERROR;
        }

        *json_len = (size_t) n;
        return NGX_OK;
    }

    *json_len = (size_t) -1;

    if (r->headers_in.content_type) {
        ct = &r->headers_in.content_type->value;

        if (ct->len >= sizeof("application/octet-stream") - 1
            && ngx_strncasecmp(ct->data, (u_char *) "application/octet-stream",
                               sizeof("application/octet-stream") - 1)
               == 0)
        {
            *json_len = 0;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_infer_decode_raw(ngx_http_infer_ctx_t *ctx, u_char *body,
    size_t len, char *err)
{
    u_char                  *last;
    float                    v;
    size_t                   row, i, n;
    int64_t                  shape[INFER_MAX_DIMS + 1];
    infer_model_t           *model;
    ngx_http_infer_model_t  *m;

    m = ctx->model;
    model = m->model;
    row = model->input.size * sizeof(float);
    last = (u_char *) err + INFER_KSERVE_ERRLEN - 1;

    if (len % row) {
        *ngx_slprintf((u_char *) err, last, "a raw body of %uz bytes is not "
                      "a whole number of rows of %L FP32 values (%uz bytes "
                      "each)", len, model->input.size, row)
            = '\0';
        return NGX_ERROR;
    }

    ngx_memcpy(shape, model->input.dims, model->input.ndim * sizeof(int64_t));
    shape[0] = len / row;

    if (ngx_http_infer_check_shape(m, shape, model->input.ndim, err,
                                   INFER_KSERVE_ERRLEN)
        != 0)
    {
        return NGX_ERROR;
    }

    n = len / sizeof(float);

    /*
     * The body is the tensor: it goes to the payload as it is, from
     * here; it may sit at any address, so each value is read by memcpy
     */

    for (i = 0; i < n; i++) {
        ngx_memcpy(&v, body + i * sizeof(float), sizeof(float));

        if (!isfinite(v)) {
            *ngx_slprintf((u_char *) err, last, "the raw body holds NaN or "
                          "Infinity at value %uz", i)
                = '\0';
            return NGX_ERROR;
        }
    }

    ctx->rows = shape[0];
    ctx->raw = 1;
    ctx->input = body;

    return NGX_OK;
}


/*
 * The input's shape against the model's, called by the decoder: 0, or -1
 * with the message for the client in err.
 */

static int
ngx_http_infer_check_shape(void *data, const int64_t *shape, int ndim,
    char *err, size_t len)
{
    ngx_http_infer_model_t *m = data;

    u_char         *p, *last;
    int             i;
    infer_model_t  *model;

    model = m->model;
    last = (u_char *) err + len - 1;

    if (ndim == model->input.ndim) {
        for (i = 1; i < model->input.ndim; i++) {
            if (shape[i] != model->input.dims[i]) {
                break;
            }
        }

        if (i == model->input.ndim) {
            goto rows;
        }
    }

    p = ngx_slprintf((u_char *) err, last, "inputs[0].shape [");

    for (i = 0; i < ndim; i++) {
        p = ngx_slprintf(p, last, i ? ", %L" : "%L", shape[i]);
    }

    p = ngx_slprintf(p, last, "] does not match model \"%V\", which takes "
                     "[", &m->name);

    for (i = 0; i < model->input.ndim; i++) {
        p = ngx_slprintf(p, last, i ? ", %L" : "%L", model->input.dims[i]);
    }

    p = ngx_slprintf(p, last, "] (-1: any number of rows)");
    *p = '\0';

    return -1;

rows:

    if (shape[0] == 0) {
        p = ngx_slprintf((u_char *) err, last, "inputs[0].shape: a batch of "
                         "0 rows has nothing to infer");
        *p = '\0';
        return -1;
    }

    if (shape[0] > (int64_t) m->max_batch) {
        p = ngx_slprintf((u_char *) err, last, "inputs[0].shape: %L rows "
                         "exceed max_batch %ui of model \"%V\"", shape[0],
                         m->max_batch, &m->name);
        *p = '\0';
        return -1;
    }

    return 0;
}


/*
 * A text model's input: texts, one per row, as shape [k] or [k, 1] (how
 * Triton's clients send a batch of strings)
 */

static int
ngx_http_infer_check_texts(void *data, const int64_t *shape, int ndim,
    char *err, size_t len)
{
    ngx_http_infer_model_t *m = data;

    u_char  *last;

    last = (u_char *) err + len - 1;

    if (ndim != 1 && (ndim != 2 || shape[1] != 1)) {
        *ngx_slprintf((u_char *) err, last, "inputs[0].shape: model \"%V\" "
                      "takes texts, one per row: [k] or [k, 1]", &m->name)
            = '\0';
        return -1;
    }

    if (shape[0] == 0) {
        *ngx_slprintf((u_char *) err, last, "inputs[0].shape: a batch of 0 "
                      "texts has nothing to infer")
            = '\0';
        return -1;
    }

    if (shape[0] > (int64_t) m->max_batch) {
        *ngx_slprintf((u_char *) err, last, "inputs[0].shape: %L texts "
                      "exceed max_batch %ui of model \"%V\"", shape[0],
                      m->max_batch, &m->name)
            = '\0';
        return -1;
    }

    return 0;
}


/* the answer to an inference request, from the outputs in its slot */

static ngx_int_t
ngx_http_infer_kserve_answer(ngx_http_request_t *r, ngx_http_infer_ctx_t *ctx)
{
    u_char                  *p;
    float                   *out;
    size_t                   len, n, i;
    ngx_buf_t               *b;
    const char              *oname;
    infer_model_t           *model;
    ngx_http_infer_model_t  *m;

    if (ctx->raw || ctx->binary) {
        return ngx_http_infer_send_raw(r, ctx);
    }

    m = ctx->model;
    model = m->model;
    oname = model->output.name;
    n = ctx->rows * model->output.size;

    len = sizeof("{\"model_name\":,\"model_version\":\"1\",\"id\":,"
                 "\"outputs\":[{\"name\":,\"datatype\":\"FP32\","
                 "\"shape\":[,],\"data\":[]}]}")
          + 6 * m->name.len + 2 + ctx->id.len + 6 * ngx_strlen(oname) + 2
          + 2 * NGX_INT64_LEN + n * 17;

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = b->last;
    p = ngx_cpymem(p, "{\"model_name\":", sizeof("{\"model_name\":") - 1);
    p += infer_ks_write_string((char *) p, (char *) m->name.data,
                               m->name.len);
    p = ngx_cpymem(p, ",\"model_version\":\"1\"",
                   sizeof(",\"model_version\":\"1\"") - 1);

    if (ctx->id.len) {
        p = ngx_cpymem(p, ",\"id\":", sizeof(",\"id\":") - 1);
        p = ngx_cpymem(p, ctx->id.data, ctx->id.len);
    }

    p = ngx_cpymem(p, ",\"outputs\":[{\"name\":",
                   sizeof(",\"outputs\":[{\"name\":") - 1);
    p += infer_ks_write_string((char *) p, oname, ngx_strlen(oname));
    p = ngx_sprintf(p, ",\"datatype\":\"FP32\",\"shape\":[%ui,%L],\"data\":[",
                    ctx->rows, model->output.size);

    out = ngx_http_infer_slot_output(m, ctx->slot);

    for (i = 0; i < n; i++) {
        if (i) {
            *p++ = ',';
        }

        p += infer_ks_write_float((char *) p, out[i]);
    }

    p = ngx_cpymem(p, "]}]}", sizeof("]}]}") - 1);

    b->last = p;

    return ngx_http_infer_send_json(r, NGX_HTTP_OK, b);
}


/*
 * The output tensor as it is, after the binary extension's JSON header
 * when the request asked for binary outputs.  Copied out of the slot,
 * which is freed as soon as this returns, while the buffer may wait for
 * the client.
 */

static ngx_int_t
ngx_http_infer_send_raw(ngx_http_request_t *r, ngx_http_infer_ctx_t *ctx)
{
    size_t                   len, hlen;
    ngx_buf_t               *b;
    ngx_str_t                type;
    const char              *oname;
    ngx_table_elt_t         *h;
    ngx_http_infer_model_t  *m;

    m = ctx->model;
    oname = m->model->output.name;
    len = ctx->rows * m->model->output.size * sizeof(float);
    hlen = 0;

    if (ctx->binary) {
        hlen = 256 + 6 * (m->name.len + ngx_strlen(oname)) + ctx->id.len;
    }

    b = ngx_create_temp_buf(r->pool, hlen + len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->binary) {
        hlen = infer_ks_write_binary_header((char *) b->last,
                                            (char *) m->name.data,
                                            m->name.len,
                                            (char *) ctx->id.data,
                                            ctx->id.len, oname, ctx->rows,
                                            m->model->output.size);
        b->last += hlen;

        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->hash = 1;
        ngx_str_set(&h->key, "Inference-Header-Content-Length");

        h->value.data = ngx_pnalloc(r->pool, NGX_SIZE_T_LEN);
        if (h->value.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->value.len = ngx_sprintf(h->value.data, "%uz", hlen)
                       - h->value.data;
    }

    b->last = ngx_cpymem(b->last, ngx_http_infer_slot_output(m, ctx->slot),
                         len);

    ngx_str_set(&type, "application/octet-stream");

    return ngx_http_infer_send_buf(r, NGX_HTTP_OK, &type, b);
}


static ngx_int_t
ngx_http_infer_server_metadata(ngx_http_request_t *r)
{
    ngx_buf_t  *b;

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = (u_char *) "{\"name\":\"ngx_infer\",\"version\":\""
                        NGX_HTTP_INFER_VERSION "\",\"extensions\":"
                        "[\"binary_tensor_data\",\"model_configuration\","
                        "\"statistics\",\"model_repository\"]}";
    b->last = b->pos + ngx_strlen(b->pos);
    b->memory = 1;

    return ngx_http_infer_send_json(r, NGX_HTTP_OK, b);
}


static ngx_int_t
ngx_http_infer_model_metadata(ngx_http_request_t *r, ngx_http_infer_model_t *m)
{
    u_char         *p;
    size_t          len;
    ngx_buf_t      *b;
    infer_model_t  *model;

    model = m->model;

    len = 512 + 6 * m->name.len + 6 * ngx_strlen(model->input.name)
          + 6 * ngx_strlen(model->output.name) + m->device.len
          + 2 * (INFER_MAX_DIMS + 2) * NGX_INT64_LEN;

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = b->last;
    p = ngx_cpymem(p, "{\"name\":", sizeof("{\"name\":") - 1);
    p += infer_ks_write_string((char *) p, (char *) m->name.data,
                               m->name.len);
    p = ngx_sprintf(p, ",\"versions\":[\"1\"],\"platform\":\"ngx_infer_%s\","
                    "\"inputs\":[{\"name\":", model->arch->name);
    p += infer_ks_write_string((char *) p, model->input.name,
                               ngx_strlen(model->input.name));
    p = ngx_sprintf(p, ",\"datatype\":\"%s\",\"shape\":",
                    ngx_http_infer_io_datatypes[model->input.datatype]);
    p = ngx_http_infer_write_dims(p, &model->input);
    p = ngx_cpymem(p, "}],\"outputs\":[{\"name\":",
                   sizeof("}],\"outputs\":[{\"name\":") - 1);
    p += infer_ks_write_string((char *) p, model->output.name,
                               ngx_strlen(model->output.name));
    p = ngx_sprintf(p, ",\"datatype\":\"%s\",\"shape\":",
                    ngx_http_infer_io_datatypes[model->output.datatype]);
    p = ngx_http_infer_write_dims(p, &model->output);
    p = ngx_sprintf(p, "}],\"parameters\":{\"device\":\"%V\","
                    "\"precision\":\"%s\",\"max_batch\":%ui}}",
                    &m->device, infer_precision_name(m->precision),
                    m->max_batch);

    b->last = p;

    return ngx_http_infer_send_json(r, NGX_HTTP_OK, b);
}


static ngx_int_t
ngx_http_infer_live(ngx_http_request_t *r)
{
    ngx_buf_t  *b;

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = (u_char *) "{\"live\":true}";
    b->last = b->pos + sizeof("{\"live\":true}") - 1;
    b->memory = 1;

    return ngx_http_infer_send_json(r, NGX_HTTP_OK, b);
}


/* the server is ready when every model is */

static ngx_int_t
ngx_http_infer_server_ready(ngx_http_request_t *r)
{
    ngx_buf_t                   *b;
    ngx_uint_t                   i, ready;
    ngx_http_infer_model_t     **mp;
    ngx_http_infer_main_conf_t  *imcf;

    imcf = ngx_http_get_module_main_conf(r, ngx_http_infer_module);
    mp = imcf->models.elts;
    ready = 1;

    for (i = 0; i < imcf->models.nelts; i++) {
        if (!ngx_http_infer_is_ready(mp[i])) {
            ready = 0;
        }
    }

    b = ngx_create_temp_buf(r->pool, sizeof("{\"ready\":false}"));
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_sprintf(b->last, "{\"ready\":%s}",
                          ready ? "true" : "false");

    return ngx_http_infer_send_json(r, ready ? NGX_HTTP_OK
                                             : NGX_HTTP_SERVICE_UNAVAILABLE,
                                    b);
}


static ngx_int_t
ngx_http_infer_model_ready(ngx_http_request_t *r, ngx_http_infer_model_t *m)
{
    u_char      *p;
    ngx_buf_t   *b;
    ngx_uint_t   ready;

    ready = ngx_http_infer_is_ready(m);

    b = ngx_create_temp_buf(r->pool, 64 + 6 * m->name.len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(b->last, "{\"name\":", sizeof("{\"name\":") - 1);
    p += infer_ks_write_string((char *) p, (char *) m->name.data,
                               m->name.len);
    b->last = ngx_sprintf(p, ",\"ready\":%s}", ready ? "true" : "false");

    return ngx_http_infer_send_json(r, ready ? NGX_HTTP_OK
                                             : NGX_HTTP_SERVICE_UNAVAILABLE,
                                    b);
}


/* "[-1,64]": an input's or output's dims, -1 where variable */

static u_char *
ngx_http_infer_write_dims(u_char *p, const infer_io_t *io)
{
    int  i;

    *p++ = '[';

    for (i = 0; i < io->ndim; i++) {
        p = ngx_sprintf(p, i ? ",%L" : "%L", io->dims[i]);
    }

    *p++ = ']';

    return p;
}
