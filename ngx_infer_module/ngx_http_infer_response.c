
/*
 * ngx_infer: what the module answers with: JSON bodies, JSON errors in
 * the location's API's shape (KServe's {"error": "..."}, OpenAI's
 * {"error": {"message", "type", "param", "code"}}), 405 with Allow.
 * Every error body is built by ngx_http_infer_error_body(), nginx's own
 * errors' too (ngx_http_infer_errors.c).  An error whose status an
 * error_page takes is left to nginx, which redirects it.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_infer_module.h"
#include "infer_openai.h"


/* post: the endpoint takes POST, else GET and HEAD */

ngx_int_t
ngx_http_infer_not_allowed(ngx_http_request_t *r, ngx_uint_t post)
{
    ngx_table_elt_t  *h;

    if (ngx_http_infer_error_page(r, NGX_HTTP_NOT_ALLOWED)) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Allow");

    if (post) {
        ngx_str_set(&h->value, "POST");

    } else {
        ngx_str_set(&h->value, "GET, HEAD");
    }

    return ngx_http_infer_send_error(r, NGX_HTTP_NOT_ALLOWED,
                                     "method %V is not allowed here, use %V",
                                     &r->method_name, &h->value);
}


/*
 * The error body, msg escaped as JSON requires: KServe's {"error": msg},
 * or in an OpenAI location OpenAI's shape, its type the one OpenAI gives
 * with such a status, param and code null unless given
 */

ngx_buf_t *
ngx_http_infer_error_body(ngx_http_request_t *r, ngx_uint_t status,
    const char *param, const char *code, u_char *msg, size_t len)
{
    char                       *text, *type;
    ngx_buf_t                  *b;
    ngx_http_infer_loc_conf_t  *ilcf;

    ilcf = ngx_http_get_module_loc_conf(r, ngx_http_infer_module);

    if (ilcf->api != NGX_HTTP_INFER_API_OPENAI) {
        b = ngx_create_temp_buf(r->pool,
                                sizeof("{\"error\":}") + 6 * len + 2);
        if (b == NULL) {
            return NULL;
        }

        b->last = ngx_cpymem(b->last, "{\"error\":",
                             sizeof("{\"error\":") - 1);
        b->last += infer_ks_write_string((char *) b->last, (char *) msg, len);
        *b->last++ = '}';

        return b;
    }

    text = ngx_pnalloc(r->pool, len + 1);
    if (text == NULL) {
        return NULL;
    }

    *ngx_cpymem(text, msg, len) = '\0';

    if (status >= NGX_HTTP_INTERNAL_SERVER_ERROR) {
        type = "server_error";

    } else if (status == NGX_HTTP_TOO_MANY_REQUESTS) {
        type = "rate_limit_error";

    } else {
        type = "invalid_request_error";
    }

    b = ngx_create_temp_buf(r->pool,
                            infer_oai_error_size(text, type, param, code));
    if (b == NULL) {
        return NULL;
    }

    b->last += infer_oai_write_error((char *) b->last, text, type, param,
                                     code);

    return b;
}


ngx_int_t
ngx_http_infer_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *fmt, ...)
{
    u_char   *p;
    va_list   args;
    u_char    msg[NGX_MAX_ERROR_STR];

    va_start(args, fmt);
    p = ngx_vslprintf(msg, msg + sizeof(msg) - 1, fmt, args);
    va_end(args);

    *p = '\0';

    return ngx_http_infer_send_error_param(r, status, NULL, NULL, "%s", msg);
}


/* an error about one field of the request (OpenAI's "param") */

ngx_int_t
ngx_http_infer_send_error_param(ngx_http_request_t *r, ngx_uint_t status,
    const char *param, const char *code, const char *fmt, ...)
{
    u_char           *p;
    va_list           args;
    ngx_buf_t        *b;
    ngx_table_elt_t  *h;
    u_char            msg[NGX_MAX_ERROR_STR];

    /*
     * error_page decides where an error goes (error_page 503 = @origin: a
     * full queue spills over to another server); the body is not
     * discarded, so that a proxy there sends it on
     */

    if (ngx_http_infer_error_page(r, status)) {
        return status;
    }

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    va_start(args, fmt);
    p = ngx_vslprintf(msg, msg + sizeof(msg), fmt, args);
    va_end(args);

    b = ngx_http_infer_error_body(r, status, param, code, msg, p - msg);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (status == NGX_HTTP_SERVICE_UNAVAILABLE) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->hash = 1;
        ngx_str_set(&h->key, "Retry-After");
        ngx_str_set(&h->value, "1");
    }

    return ngx_http_infer_send_json(r, status, b);
}


/* an error for the request path to send: NGX_DECLINED */

ngx_int_t
ngx_http_infer_err(ngx_http_infer_err_t *err, ngx_uint_t status,
    const char *param, const char *code, const char *fmt, ...)
{
    u_char   *p;
    va_list   args;

    va_start(args, fmt);
    p = ngx_vslprintf((u_char *) err->msg,
                      (u_char *) err->msg + sizeof(err->msg) - 1, fmt, args);
    va_end(args);

    *p = '\0';

    if (param != NULL) {
        ngx_cpystrn((u_char *) err->param_buf, (u_char *) param,
                    sizeof(err->param_buf));
    }

    err->status = status;
    err->param = param ? err->param_buf : NULL;
    err->code = code;

    return NGX_DECLINED;
}


ngx_int_t
ngx_http_infer_send_json(ngx_http_request_t *r, ngx_uint_t status,
    ngx_buf_t *b)
{
    ngx_str_t  type = ngx_string("application/json");

    return ngx_http_infer_send_buf(r, status, &type, b);
}


ngx_int_t
ngx_http_infer_send_buf(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *type, ngx_buf_t *b)
{
    ngx_int_t    rc;
    ngx_chain_t  out;

    r->headers_out.status = status;
    r->headers_out.content_length_n = b->last - b->pos;
    r->headers_out.content_type = *type;
    r->headers_out.content_type_len = type->len;
    r->headers_out.content_type_lowcase = NULL;

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}
