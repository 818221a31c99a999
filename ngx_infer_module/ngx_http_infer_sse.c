
/*
 * ngx_infer: server-sent events, how a generation's answer goes out.
 *
 * The status and the headers that keep every hop from holding events
 * (text/event-stream, Cache-Control: no-cache, X-Accel-Buffering: no),
 * each event one flushed buffer through the output filter chain (gzip
 * flushes its stream on it, so nothing is held back), a writer that
 * sends what the filters kept for a slow client when it can take it, and
 * the error event that ends a stream whose status is already sent.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_infer_module.h"
#include "infer_openai_chat.h"


static void ngx_http_infer_sse_writer(ngx_http_request_t *r);


/* once the status is sent, an error is an event, as OpenAI's, then the
 * stream's end */

ngx_int_t
ngx_http_infer_sse_error(ngx_http_request_t *r, const char *msg)
{
    u_char     *p;
    size_t      len;
    ngx_int_t   rc;

    len = infer_oai_error_size(msg, "server_error", NULL, NULL) + 8;

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    len = infer_oai_write_error_event((char *) p, msg, "server_error", NULL,
                                      NULL);

    rc = ngx_http_infer_sse_send(r, p, len, 0);
    if (rc == NGX_ERROR) {
        return rc;
    }

    return ngx_http_infer_sse_send(r, (u_char *) INFER_OAI_DONE,
                                   INFER_OAI_DONE_LEN, 1);
}


/* infer_timeout between two tokens of a stream (the request path has
 * released the slot) */

ngx_int_t
ngx_http_infer_sse_stalled(ngx_http_request_t *r, ngx_http_infer_ctx_t *ctx)
{
    return ngx_http_infer_sse_error(r, "no token within infer_timeout");
}


/* server-sent events: the headers that keep every hop from holding them */

ngx_int_t
ngx_http_infer_sse_headers(ngx_http_request_t *r)
{
    ngx_int_t         rc;
    ngx_table_elt_t  *h;

    r->headers_out.status = NGX_HTTP_OK;
    ngx_str_set(&r->headers_out.content_type, "text/event-stream");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;
    ngx_http_clear_content_length(r);
    ngx_http_clear_accept_ranges(r);

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Cache-Control");
    ngx_str_set(&h->value, "no-cache");

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "X-Accel-Buffering");
    ngx_str_set(&h->value, "no");

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK) {
        return NGX_ERROR;
    }

    /* a slow client: what the filters hold goes when it can take it */
    r->write_event_handler = ngx_http_infer_sse_writer;


    return NGX_OK;
}


/* one piece of the answer through the output filters, flushed */

ngx_int_t
ngx_http_infer_sse_send(ngx_http_request_t *r, u_char *p, size_t len,
    ngx_uint_t last)
{
    ngx_buf_t    *b;
    ngx_chain_t   out;

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = p;
    b->last = p + len;
    b->memory = len ? 1 : 0;
    b->flush = 1;

    if (last) {
        b->last_buf = (r == r->main) ? 1 : 0;
        b->last_in_chain = 1;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


static void
ngx_http_infer_sse_writer(ngx_http_request_t *r)
{
    ngx_int_t                  rc;
    ngx_event_t               *wev;
    ngx_http_core_loc_conf_t  *clcf;

    wev = r->connection->write;

    rc = ngx_http_output_filter(r, NULL);

    if (rc == NGX_ERROR) {
        ngx_http_finalize_request(r, NGX_ERROR);
        return;
    }

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (ngx_handle_write_event(wev, clcf->send_lowat) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_ERROR);
    }
}
