
/*
 * ngx_infer: OpenAI's API, for the declared models: POST /v1/embeddings
 * (a text model's sentence embeddings), GET /v1/models and
 * /v1/models/{name}, every error in OpenAI's shape.  The request names
 * its model in the body, so the codec's decode finds the model; the JSON
 * itself is kernels/infer_openai*.c.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_infer_module.h"
#include "infer_openai.h"


/* the rest of the path, p to end, is exactly s */
#define ngx_http_infer_oai_is(p, end, s)                                     \
    ((size_t) ((end) - (p)) == sizeof(s) - 1                                 \
     && ngx_strncmp(p, s, sizeof(s) - 1) == 0)


static ngx_int_t ngx_http_infer_openai_decode(ngx_http_infer_ctx_t *ctx,
    u_char *body, size_t len, ngx_http_infer_err_t *err);
static ngx_int_t ngx_http_infer_openai_answer(ngx_http_request_t *r,
    ngx_http_infer_ctx_t *ctx);
static ngx_int_t ngx_http_infer_openai_models(ngx_http_request_t *r,
    ngx_str_t *name);


static const ngx_http_infer_codec_t  ngx_http_infer_openai_codec = {
    "an OpenAI embeddings request",        /* what */
    "input[%ui]",                          /* item */
    ngx_http_infer_openai_decode,          /* decode */
    ngx_http_infer_openai_answer,          /* answer */
    NULL                                   /* progress */
};


ngx_int_t
ngx_http_infer_openai_handler(ngx_http_request_t *r)
{
    u_char     *p, *end;
    ngx_str_t   name;

    end = r->uri.data + r->uri.len;

    p = ngx_http_infer_api_path(&r->uri, '1');
    if (p == NULL) {
        goto not_found;
    }

    if (ngx_http_infer_oai_is(p, end, "/embeddings")) {
        if (r->method != NGX_HTTP_POST) {
            return ngx_http_infer_not_allowed(r, 1);
        }

        return ngx_http_infer_request(r, NULL, &ngx_http_infer_openai_codec);
    }

    if (ngx_http_infer_oai_is(p, end, "/chat/completions")) {
        return ngx_http_infer_chat_handler(r, 1);
    }

    if (ngx_http_infer_oai_is(p, end, "/completions")) {
        return ngx_http_infer_chat_handler(r, 0);
    }

    if (ngx_http_infer_oai_is(p, end, "/models")) {
        if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
            return ngx_http_infer_not_allowed(r, 0);
        }

        return ngx_http_infer_openai_models(r, NULL);
    }

    if ((size_t) (end - p) > sizeof("/models/") - 1
        && ngx_strncmp(p, "/models/", sizeof("/models/") - 1) == 0)
    {
        if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
            return ngx_http_infer_not_allowed(r, 0);
        }

        name.data = p + sizeof("/models/") - 1;
        name.len = end - name.data;

        return ngx_http_infer_openai_models(r, &name);
    }

not_found:

    return ngx_http_infer_send_error(r, NGX_HTTP_NOT_FOUND,
                                     "Invalid URL (%V %V)", &r->method_name,
                                     &r->uri);
}


/*
 * The body of POST /v1/embeddings: its model, and its inputs as texts
 * (or token ids) for the request path to tokenize into the payload.
 */

static ngx_int_t
ngx_http_infer_openai_decode(ngx_http_infer_ctx_t *ctx, u_char *body,
    size_t len, ngx_http_infer_err_t *err)
{
    size_t                       i, j;
    u_char                      *room;
    ngx_str_t                    name;
    infer_oai_input_t           *in;
    infer_oai_request_t          oai, *req;
    ngx_http_request_t          *r;
    ngx_http_infer_text_t       *t;
    ngx_http_infer_model_t      *m;
    ngx_http_infer_main_conf_t  *imcf;

    r = ctx->request;
    imcf = ngx_http_get_module_main_conf(r, ngx_http_infer_module);
    req = &oai;

    ngx_memzero(req, offsetof(infer_oai_request_t, err));

    /*
     * The decoder's room, the worker's (the texts are tokenized before
     * the body handler returns): the inputs of the model that takes the
     * most (its own limit comes after), token ids (none takes less than 2
     * bytes of JSON), strings unescaped (never longer than the body)
     */

    req->max_inputs = imcf->max_batch;
    req->ids_cap = len / 2 + 1;
    req->text_cap = len;

    room = ngx_http_infer_decode_room(r->connection->log,
                                      req->max_inputs
                                      * sizeof(infer_oai_input_t)
                                      + req->ids_cap * sizeof(int32_t)
                                      + req->text_cap);
    if (room == NULL) {
        return ngx_http_infer_err(err, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL,
                                  NULL, "out of memory");
    }

    req->inputs = (infer_oai_input_t *) room;
    req->ids = (int32_t *) (room + req->max_inputs
                                   * sizeof(infer_oai_input_t));
    req->text = (char *) (req->ids + req->ids_cap);

    if (infer_oai_decode_embeddings(req, (char *) body, len) != 0) {
        return ngx_http_infer_err(err, req->status, req->param, req->code,
                                  "%s", req->err);
    }

    m = ngx_http_infer_oai_model(r, req->model.p, req->model.len, &name,
                                 err);
    if (m == NULL) {
        return NGX_DECLINED;
    }

    if (m->tokenizer == NULL) {
        return ngx_http_infer_err(err, NGX_HTTP_BAD_REQUEST, "model",
                                  NULL, "model \"%V\" is not a text "
                                  "embedding model (architecture "
                                  "\"%s\")", &name,
                                  m->model->arch->name);
    }

    if (req->dimensions > m->model->output.size) {
        return ngx_http_infer_err(err, NGX_HTTP_BAD_REQUEST,
                                  "dimensions", NULL, "dimensions %L "
                                  "is more than the %L of model "
                                  "\"%V\"", req->dimensions,
                                  m->model->output.size, &name);
    }

    ctx->texts = ngx_palloc(r->pool,
                            req->ninputs * sizeof(ngx_http_infer_text_t));
    if (ctx->texts == NULL) {
        return ngx_http_infer_err(err, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                  NULL, NULL, "out of memory");
    }

    for (i = 0; i < req->ninputs; i++) {
        in = &req->inputs[i];
        t = &ctx->texts[i];

        if (in->kind == INFER_OAI_TEXT) {
            t->text = (u_char *) in->text;
            t->len = in->len;
            t->ids = NULL;
            t->n_ids = 0;
            continue;
        }

        for (j = 0; j < in->n_ids; j++) {
            if (in->ids[j] >= m->vocab) {
                return ngx_http_infer_err(err, NGX_HTTP_BAD_REQUEST,
                                          "input", NULL, "input[%uz]: "
                                          "token id %D at position %uz "
                                          "is not in the vocabulary of "
                                          "model \"%V\" (%L tokens)",
                                          i, in->ids[j], j, &name,
                                          m->vocab);
            }
        }

        t->text = NULL;
        t->len = 0;
        t->ids = in->ids;
        t->n_ids = in->n_ids;
    }

    ctx->model = m;
    ctx->rows = req->ninputs;
    ctx->dimensions = (ngx_uint_t) req->dimensions;
    ctx->base64 = (req->encoding_format == INFER_OAI_BASE64);

    return NGX_OK;
}


/*
 * The model a body names (name set to it), or NULL with err filled as
 * OpenAI answers an unknown one
 */

ngx_http_infer_model_t *
ngx_http_infer_oai_model(ngx_http_request_t *r, const char *p, size_t len,
    ngx_str_t *name, ngx_http_infer_err_t *err)
{
    ngx_http_infer_model_t  *m;

    name->data = (u_char *) p;
    name->len = len;

    m = ngx_http_infer_model_by_name(r, name);

    if (m == NULL) {
        (void) ngx_http_infer_err(err, NGX_HTTP_NOT_FOUND, "model",
                                  "model_not_found", "The model `%V` does "
                                  "not exist", name);
    }

    return m;
}


/* the embeddings, from the outputs in the slot */

static ngx_int_t
ngx_http_infer_openai_answer(ngx_http_request_t *r, ngx_http_infer_ctx_t *ctx)
{
    size_t                   dim, dims;
    ngx_buf_t               *b;
    ngx_http_infer_model_t  *m;

    m = ctx->model;
    dim = m->model->output.size;
    dims = ctx->dimensions ? ctx->dimensions : dim;

    b = ngx_create_temp_buf(r->pool,
                            infer_oai_embeddings_size(ctx->rows, dims,
                                                      ctx->base64,
                                                      m->name.len));
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last += infer_oai_write_embeddings((char *) b->last,
                                          (char *) m->name.data, m->name.len,
                                          ngx_http_infer_slot_output(m,
                                                                ctx->slot),
                                          ctx->rows, dim, dims,
                                          dims < dim && m->normalized,
                                          ctx->base64, ctx->ntokens);

    return ngx_http_infer_send_json(r, NGX_HTTP_OK, b);
}


/* GET /v1/models (name NULL) and /v1/models/{name} */

static ngx_int_t
ngx_http_infer_openai_models(ngx_http_request_t *r, ngx_str_t *name)
{
    ngx_buf_t                   *b;
    ngx_uint_t                   i;
    infer_json_str_t            *names;
    ngx_http_infer_model_t      *m, **mp;
    ngx_http_infer_main_conf_t  *imcf;

    imcf = ngx_http_get_module_main_conf(r, ngx_http_infer_module);

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (name) {
        m = ngx_http_infer_find_model(imcf, name);

        if (m == NULL) {
            return ngx_http_infer_send_error_param(r, NGX_HTTP_NOT_FOUND,
                                                   "model",
                                                   "model_not_found",
                                                   "The model `%V` does not "
                                                   "exist", name);
        }

        names = ngx_palloc(r->pool, sizeof(infer_json_str_t));
        if (names == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        names[0].p = (char *) m->name.data;
        names[0].len = m->name.len;

        b = ngx_create_temp_buf(r->pool, infer_oai_models_size(names, 1));
        if (b == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        b->last += infer_oai_write_model((char *) b->last, names[0].p,
                                         names[0].len, m->created);

        return ngx_http_infer_send_json(r, NGX_HTTP_OK, b);
    }

    mp = imcf->models.elts;

    names = ngx_palloc(r->pool,
                       (imcf->models.nelts + 1) * sizeof(infer_json_str_t));
    if (names == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (i = 0; i < imcf->models.nelts; i++) {
        names[i].p = (char *) mp[i]->name.data;
        names[i].len = mp[i]->name.len;
    }

    b = ngx_create_temp_buf(r->pool,
                            infer_oai_models_size(names, imcf->models.nelts));
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the configuration's models were all loaded at its start */

    b->last += infer_oai_write_models((char *) b->last, names,
                                      imcf->models.nelts,
                                      imcf->models.nelts ? mp[0]->created
                                                         : 0);

    return ngx_http_infer_send_json(r, NGX_HTTP_OK, b);
}
