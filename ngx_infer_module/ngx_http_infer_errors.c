
/*
 * ngx_infer: nginx's own errors in an inference location.
 *
 * What runs before the module's handler may refuse a request: the 413 of
 * client_max_body_size (a Content-Length over it, answered when nginx
 * finds the location), limit_req and limit_conn (503, or their _status),
 * auth_request and allow/deny (401, 403), a body that cannot be read
 * (400).  nginx answers these with ngx_http_special_response_handler():
 * r->err_status set and one of its static HTML pages.  In a location with
 * infer or infer_api, the header filter recognizes such an answer and the
 * body filter puts the API's JSON error (ngx_http_infer_error_body()) in
 * the page's place, so that the API's clients read every error the same
 * way.  Left alone: what an error_page answers (a redirect, not a special
 * response), proxied answers, a body the configuration gives (return 403
 * "..."), the module's own JSON, subrequests, and infer_metrics, which is
 * not an API.
 *
 * The other way round, the module leaves its own errors to nginx where an
 * error_page takes their status (ngx_http_infer_error_page()): that is how
 * a full queue spills over to another server.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_infer_module.h"


static u_char *ngx_http_infer_error_message(ngx_http_request_t *r,
    u_char *msg, size_t size);
static ngx_uint_t ngx_http_infer_rejected(ngx_http_request_t *r,
    const char *name, size_t len);
static ngx_int_t ngx_http_infer_error_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_infer_error_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


/*
 * Whether nginx's error_page takes this status in this location, as
 * ngx_http_special_response_handler() decides: then an error is returned
 * to nginx as a status instead of answered, and nginx redirects it, with
 * the request body still there for where it goes.
 */

ngx_uint_t
ngx_http_infer_error_page(ngx_http_request_t *r, ngx_uint_t status)
{
    ngx_uint_t                 i;
    ngx_http_err_page_t       *ep;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (r->error_page || clcf->error_pages == NULL || r->uri_changes == 0) {
        return 0;
    }

    ep = clcf->error_pages->elts;

    for (i = 0; i < clcf->error_pages->nelts; i++) {
        if (ep[i].status == (ngx_int_t) status) {
            return 1;
        }
    }

    return 0;
}


static ngx_int_t
ngx_http_infer_error_header_filter(ngx_http_request_t *r)
{
    u_char                     *p;
    ngx_buf_t                  *b;
    ngx_http_infer_ctx_t       *ctx;
    ngx_http_infer_loc_conf_t  *ilcf;
    u_char                      msg[160];

    /* nginx's special response: its status, no type or its HTML page */

    if (r != r->main
        || r->upstream
        || r->err_status < NGX_HTTP_BAD_REQUEST
        || r->headers_out.status != (ngx_uint_t) r->err_status
        || (r->headers_out.content_type.len
            && (r->headers_out.content_type.len != sizeof("text/html") - 1
                || ngx_strncmp(r->headers_out.content_type.data, "text/html",
                               sizeof("text/html") - 1)
                   != 0)))
    {
        return ngx_http_next_header_filter(r);
    }

    ilcf = ngx_http_get_module_loc_conf(r, ngx_http_infer_module);

    if (ilcf->model == NULL
        && ilcf->api != NGX_HTTP_INFER_API_KSERVE
        && ilcf->api != NGX_HTTP_INFER_API_OPENAI)
    {
        return ngx_http_next_header_filter(r);
    }

    p = ngx_http_infer_error_message(r, msg, sizeof(msg));

    ctx = ngx_http_get_module_ctx(r, ngx_http_infer_module);

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_infer_ctx_t));
        if (ctx == NULL) {
            return NGX_ERROR;
        }

        ngx_http_set_ctx(r, ctx, ngx_http_infer_module);
    }

    b = ngx_http_infer_error_body(r, r->headers_out.status, NULL, NULL, msg,
                                  p - msg);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->last_buf = 1;
    b->last_in_chain = 1;

    ctx->error_body = b;

    r->headers_out.content_length_n = b->last - b->pos;

    if (r->headers_out.content_length) {
        r->headers_out.content_length->hash = 0;
        r->headers_out.content_length = NULL;
    }

    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.charset.len = 0;

    return ngx_http_next_header_filter(r);
}


/* what nginx refused, in words, for the status it answers */

static u_char *
ngx_http_infer_error_message(ngx_http_request_t *r, u_char *msg, size_t size)
{
    u_char                    *last;
    ngx_http_core_loc_conf_t  *clcf;

    last = msg + size;

    /* limit_req and limit_conn answer 503, or their _status */

    if (ngx_http_infer_rejected(r, "limit_req_status",
                                sizeof("limit_req_status") - 1))
    {
        return ngx_slprintf(msg, last, "too many requests: over the rate "
                            "that limit_req allows, retry later");
    }

    if (ngx_http_infer_rejected(r, "limit_conn_status",
                                sizeof("limit_conn_status") - 1))
    {
        return ngx_slprintf(msg, last, "too many connections: over what "
                            "limit_conn allows, retry later");
    }

    switch (r->headers_out.status) {

    case NGX_HTTP_BAD_REQUEST:
        return ngx_slprintf(msg, last, "the request body could not be read");

    case NGX_HTTP_UNAUTHORIZED:
        return ngx_slprintf(msg, last,
                            "authentication required: no valid API key");

    case NGX_HTTP_FORBIDDEN:
        return ngx_slprintf(msg, last, "access forbidden");

    case NGX_HTTP_NOT_FOUND:
        return ngx_slprintf(msg, last, "not found");

    case NGX_HTTP_NOT_ALLOWED:
        return ngx_slprintf(msg, last, "method %V is not allowed here",
                            &r->method_name);

    case NGX_HTTP_REQUEST_TIME_OUT:
        return ngx_slprintf(msg, last,
                            "the client did not send the request in time");

    case NGX_HTTP_LENGTH_REQUIRED:
        return ngx_slprintf(msg, last, "Content-Length is required");

    case NGX_HTTP_REQUEST_ENTITY_TOO_LARGE:
        clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);
        return ngx_slprintf(msg, last, "request body is larger than "
                            "client_max_body_size %O",
                            clcf->client_max_body_size);

    case NGX_HTTP_REQUEST_URI_TOO_LARGE:
        return ngx_slprintf(msg, last, "the request URI is too long");

    case NGX_HTTP_TOO_MANY_REQUESTS:
        return ngx_slprintf(msg, last, "too many requests, retry later");

    case NGX_HTTP_INTERNAL_SERVER_ERROR:
        return ngx_slprintf(msg, last, "internal server error");

    case NGX_HTTP_SERVICE_UNAVAILABLE:
        return ngx_slprintf(msg, last, "service unavailable, retry later");
    }

    return ngx_slprintf(msg, last, "HTTP error %ui", r->headers_out.status);
}


/* $limit_req_status, $limit_conn_status: REJECTED (nginx 1.17.6) */

static ngx_uint_t
ngx_http_infer_rejected(ngx_http_request_t *r, const char *name, size_t len)
{
    ngx_str_t                   var;
    ngx_http_variable_value_t  *vv;

    var.data = (u_char *) name;
    var.len = len;

    vv = ngx_http_get_variable(r, &var, ngx_hash_key(var.data, var.len));

    return vv != NULL && !vv->not_found
           && vv->len == sizeof("REJECTED") - 1
           && ngx_strncmp(vv->data, "REJECTED", sizeof("REJECTED") - 1) == 0;
}


static ngx_int_t
ngx_http_infer_error_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_chain_t            out, *cl;
    ngx_http_infer_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_infer_module);

    if (ctx == NULL || ctx->error_body == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    /* nginx's HTML page goes nowhere; the JSON body goes once */

    for (cl = in; cl; cl = cl->next) {
        cl->buf->pos = cl->buf->last;
        cl->buf->file_pos = cl->buf->file_last;
    }

    if (ctx->error_sent) {
        return NGX_OK;
    }

    ctx->error_sent = 1;

    out.buf = ctx->error_body;
    out.next = NULL;

    return ngx_http_next_body_filter(r, &out);
}


ngx_int_t
ngx_http_infer_filter_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_infer_error_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_infer_error_body_filter;

    return NGX_OK;
}
