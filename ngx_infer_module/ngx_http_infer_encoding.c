
/*
 * ngx_infer: request bodies sent compressed.
 *
 * Triton's clients compress requests on request (Content-Encoding: gzip
 * or deflate), and Triton inflates them; so does the module, before the
 * API's codec sees the body.  The inflated body is held to
 * client_max_body_size as a plain one is, so that a small compressed body
 * cannot become a large one (a zip bomb).  Any other encoding is 415.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <zlib.h>

#include "ngx_http_infer_module.h"


/* the most an inflated body may take when client_max_body_size is 0 */
#define NGX_HTTP_INFER_INFLATE_MAX  (64 * 1024 * 1024)


static ngx_int_t ngx_http_infer_inflate(ngx_http_request_t *r, u_char **body,
    size_t *len, ngx_str_t *encoding, int wbits, ngx_http_infer_err_t *err);


/*
 * NGX_OK: *body and *len are the body as sent, or inflated; NGX_DECLINED
 * with err for the client; NGX_ERROR (no memory)
 */

ngx_int_t
ngx_http_infer_decode_body(ngx_http_request_t *r, u_char **body, size_t *len,
    ngx_http_infer_err_t *err)
{
    ngx_str_t        *enc;
    ngx_table_elt_t  *h;

    h = ngx_http_infer_header_in(r, "Content-Encoding");
    enc = h ? &h->value : NULL;

    if (enc == NULL
        || (enc->len == 8
            && ngx_strncasecmp(enc->data, (u_char *) "identity", 8) == 0))
    {
        return NGX_OK;
    }

    if (enc->len == 4 && ngx_strncasecmp(enc->data, (u_char *) "gzip", 4) == 0)
    {
        return ngx_http_infer_inflate(r, body, len, enc, 16 + MAX_WBITS, err);
    }

    if (enc->len == 7
        && ngx_strncasecmp(enc->data, (u_char *) "deflate", 7) == 0)
    {
        /* HTTP's deflate is zlib's format; some clients send it raw */
        if (*len >= 2 && (((*body)[0] << 8) | (*body)[1]) % 31 == 0
            && ((*body)[0] & 0x0f) == Z_DEFLATED)
        {
            return ngx_http_infer_inflate(r, body, len, enc, MAX_WBITS, err);
        }

        return ngx_http_infer_inflate(r, body, len, enc, -MAX_WBITS, err);
    }

    return ngx_http_infer_err(err, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE, NULL,
                              NULL, "Content-Encoding \"%V\" is not "
                                         "supported, use gzip, deflate or "
                                         "none", enc);
}


static ngx_int_t
ngx_http_infer_inflate(ngx_http_request_t *r, u_char **body, size_t *len,
    ngx_str_t *encoding, int wbits, ngx_http_infer_err_t *err)
{
    int                        rc;
    u_char                    *out, *p;
    size_t                     size, most;
    z_stream                   zs;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    most = clcf->client_max_body_size ? (size_t) clcf->client_max_body_size
                                      : NGX_HTTP_INFER_INFLATE_MAX;

    ngx_memzero(&zs, sizeof(z_stream));

    if (inflateInit2(&zs, wbits) != Z_OK) {
        return NGX_ERROR;
    }

    size = ngx_min(ngx_max(4 * *len, 4096), most);

    out = ngx_pnalloc(r->pool, size);
    if (out == NULL) {
        (void) inflateEnd(&zs);
        return NGX_ERROR;
    }

    zs.next_in = *body;
    zs.avail_in = (uInt) *len;
    zs.next_out = out;
    zs.avail_out = (uInt) size;

    for ( ;; ) {
        rc = inflate(&zs, Z_FINISH);

        if (rc == Z_STREAM_END) {
            break;
        }

        if (rc != Z_BUF_ERROR && rc != Z_OK) {
            (void) inflateEnd(&zs);
            return ngx_http_infer_err(err, NGX_HTTP_BAD_REQUEST, NULL, NULL,
                       "the %V body cannot be inflated: %s", encoding,
                       zs.msg ? zs.msg : "corrupt data");
        }

        if (zs.avail_out) {
            /* Z_BUF_ERROR with room left: the input ended first */
            (void) inflateEnd(&zs);
            return ngx_http_infer_err(err, NGX_HTTP_BAD_REQUEST, NULL, NULL,
                       "the %V body is truncated", encoding);
        }

        if (size == most) {
            (void) inflateEnd(&zs);
            return ngx_http_infer_err(err,
                       NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, NULL, NULL,
                       "the inflated request body is larger than "
                       "client_max_body_size %uz", most);
        }

        /* twice the room, the inflated part copied once */

        p = ngx_pnalloc(r->pool, ngx_min(2 * size, most));
        if (p == NULL) {
            (void) inflateEnd(&zs);
            return NGX_ERROR;
        }

        ngx_memcpy(p, out, size);
        (void) ngx_pfree(r->pool, out);

        out = p;
        zs.next_out = out + size;
        size = ngx_min(2 * size, most);
        zs.avail_out = (uInt) (size - zs.total_out);
    }

    if (zs.avail_in) {
        (void) inflateEnd(&zs);
        return ngx_http_infer_err(err, NGX_HTTP_BAD_REQUEST, NULL, NULL,
                   "%ud bytes follow the end of the %V data", zs.avail_in,
                   encoding);
    }

    *body = out;
    *len = zs.total_out;

    (void) inflateEnd(&zs);

    return NGX_OK;
}
