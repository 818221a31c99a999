
/*
 * ngx_infer: one request, the owner's side, in the order it happens.
 *
 *   ngx_http_infer_handler()         the location's content handler
 *   ngx_http_infer_request()         for a model and an API's codec: read
 *                                    the body
 *   ngx_http_infer_body_handler()    take a slot, decode the body (the
 *                                    codec), copy the inputs into a
 *                                    payload of their size, park, queue
 *   ngx_http_infer_admit()           a slot, or 503: a full queue, or a
 *                                    model not ready where error_page
 *                                    spills 503 over
 *   ngx_http_infer_park()            wait with a timer; a client that
 *                                    goes away cancels the slot
 *   ngx_http_infer_wake()            the executor's wake-up: progress
 *                                    (streamed work) or done
 *   ngx_http_infer_answer()          the codec writes the answer; the
 *                                    slot is released; finalize
 *   ngx_http_infer_timeout_handler() infer_timeout: 504
 *   ngx_http_infer_cleanup()         the request is freed unanswered
 *
 * The zone and its slots are in ngx_http_infer_zone.c, the executors in
 * ngx_http_infer_executor.c, the wake-ups in ngx_http_infer_wakeup.c,
 * the JSON answers and errors in ngx_http_infer_response.c, the KServe
 * codec in ngx_http_infer_kserve.c.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_infer_module.h"


static void ngx_http_infer_body_handler(ngx_http_request_t *r);
static u_char *ngx_http_infer_body_bytes(ngx_http_request_t *r,
    size_t *len);
static ngx_int_t ngx_http_infer_admit(ngx_http_request_t *r,
    ngx_http_infer_model_t *m, ngx_http_infer_ctx_t *ctx, ngx_int_t *rc);
static ngx_int_t ngx_http_infer_park(ngx_http_request_t *r,
    ngx_http_infer_ctx_t *ctx);
static void ngx_http_infer_answer(ngx_http_infer_ctx_t *ctx);
static void ngx_http_infer_timeout_handler(ngx_event_t *ev);
static void ngx_http_infer_cleanup(void *data);


ngx_int_t
ngx_http_infer_handler(ngx_http_request_t *r)
{
    ngx_str_t                   name;
    ngx_http_infer_model_t     *m;
    ngx_http_infer_loc_conf_t  *ilcf;

    if (r->method != NGX_HTTP_POST) {
        return ngx_http_infer_not_allowed(r, 1);
    }

    ilcf = ngx_http_get_module_loc_conf(r, ngx_http_infer_module);

    if (ngx_http_complex_value(r, ilcf->model, &name) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    m = ngx_http_infer_model_by_name(r, &name);
    if (m == NULL) {
        return ngx_http_infer_send_error(r, NGX_HTTP_NOT_FOUND,
                                         "unknown model \"%V\"", &name);
    }

    return ngx_http_infer_request(r, m, &ngx_http_infer_kserve_codec);
}


/* POST of an inference request to model m, in the codec's API */

ngx_int_t
ngx_http_infer_request(ngx_http_request_t *r, ngx_http_infer_model_t *m,
    const ngx_http_infer_codec_t *codec)
{
    ngx_int_t                  rc;
    ngx_http_infer_ctx_t      *ctx;
    ngx_http_core_loc_conf_t  *clcf;

    /*
     * A Content-Length over client_max_body_size never gets here: nginx
     * answers it when it finds the location, and the error filter makes
     * that answer JSON.  A chunked body over it is caught while reading.
     */

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_infer_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->request = r;
    ctx->model = m;
    ctx->codec = codec;
    ctx->start = ngx_current_msec;
    ctx->t_arrive = ngx_http_infer_now();

    ngx_http_set_ctx(r, ctx, ngx_http_infer_module);

    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r, ngx_http_infer_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        r->keepalive = 0;

        if (rc == NGX_HTTP_REQUEST_ENTITY_TOO_LARGE) {
            return ngx_http_infer_send_error(r, rc, "request body is larger "
                                             "than client_max_body_size %O",
                                             clcf->client_max_body_size);
        }

        if (rc == NGX_HTTP_BAD_REQUEST) {
            return ngx_http_infer_send_error(r, rc, "the request body could "
                                             "not be read");
        }

        return rc;
    }

    return NGX_DONE;
}


static void
ngx_http_infer_body_handler(ngx_http_request_t *r)
{
    u_char                  *body;
    size_t                   len;
    ngx_int_t                rc;
    ngx_http_infer_ctx_t    *ctx;
    ngx_http_infer_err_t     err;
    ngx_http_infer_model_t  *m;

    ctx = ngx_http_get_module_ctx(r, ngx_http_infer_module);
    m = ctx->model;

    ngx_memzero(&err, offsetof(ngx_http_infer_err_t, msg));

    rc = ngx_http_infer_body(r, &body, &len, &err);

    if (rc == NGX_ERROR) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (rc == NGX_DECLINED) {
        rc = ngx_http_infer_send_error_param(r, err.status, NULL, NULL, "%s",
                                             err.msg);
        ngx_http_finalize_request(r, rc);
        return;
    }

    if (len == 0) {
        rc = ngx_http_infer_send_error(r, NGX_HTTP_BAD_REQUEST,
                                       "empty request body, expected %s",
                                       ctx->codec->what);
        ngx_http_finalize_request(r, rc);
        return;
    }

    /*
     * The slot is taken before the body is decoded, so that executors
     * wait for a request that is being decoded (sh->filling); a request
     * that names its model in the body (OpenAI's) takes it after.
     */

    if (m && ngx_http_infer_admit(r, m, ctx, &rc) != NGX_OK) {
        ngx_http_finalize_request(r, rc);
        return;
    }

    if (ctx->codec->decode(ctx, body, len, &err) != NGX_OK) {
        goto error;
    }

    if (m == NULL) {
        m = ctx->model;

        if (ngx_http_infer_admit(r, m, ctx, &rc) != NGX_OK) {
            ngx_http_finalize_request(r, rc);
            return;
        }
    }

    /* the inputs go to a payload of their own size */

    if (ctx->gen) {
        if (ngx_http_infer_gen_payload(ctx, &err) != NGX_OK) {
            goto error;
        }

    } else if (ctx->texts) {
        if (ngx_http_infer_text_payload(ctx, &err) != NGX_OK) {
            goto error;
        }

    } else {
        if (ngx_http_infer_slot_payload(m, ctx, ctx->rows, ctx->ntokens,
                                        &err)
            != NGX_OK)
        {
            goto error;
        }

        ngx_memcpy(ngx_http_infer_slot_input(m, ctx->slot), ctx->input,
                   ctx->ntokens * m->model->input.size * sizeof(float));
    }

    if (ngx_http_infer_park(r, ctx) != NGX_OK) {
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        goto failed;
    }

    ngx_http_infer_slot_enqueue(m, ctx);

    return;

error:

    if (err.status == NGX_HTTP_SERVICE_UNAVAILABLE) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "infer: queue of model \"%V\" has no room for a "
                      "request of %ui sequences", &m->name, ctx->rows);
    }

    rc = ngx_http_infer_send_error_param(r, err.status ? err.status
                                                       : NGX_HTTP_BAD_REQUEST,
                                         err.param, err.code, "%s", err.msg);

    if (m == NULL) {
        /* the body did not get as far as naming a model */
        ngx_http_finalize_request(r, rc);
        return;
    }

failed:

    ngx_http_infer_count_request(m, ctx, 0);
    ngx_http_infer_slot_release(m, ctx);
    ngx_http_finalize_request(r, rc);
}


/*
 * A slot for the request, NGX_OK; or NGX_DECLINED and in *rc the 503 to
 * finalize with.  A model that is not ready (no executor up: a worker
 * being replaced, executors that could not start) keeps its requests
 * queued for an executor to come, except where an error_page takes 503:
 * there it spills over at once, as a full queue does.
 */

static ngx_int_t
ngx_http_infer_admit(ngx_http_request_t *r, ngx_http_infer_model_t *m,
    ngx_http_infer_ctx_t *ctx, ngx_int_t *rc)
{
    ngx_uint_t  spill, level;

    spill = ngx_http_infer_error_page(r, NGX_HTTP_SERVICE_UNAVAILABLE);
    level = spill ? NGX_LOG_INFO : NGX_LOG_WARN;

    if (spill && !ngx_http_infer_is_ready(m)) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "infer: model \"%V\" is not ready, the request goes "
                      "to error_page", &m->name);

        ngx_http_infer_count_request(m, ctx, 0);

        *rc = ngx_http_infer_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                        "model \"%V\" is not ready, retry "
                                        "later", &m->name);
        return NGX_DECLINED;
    }

    if (ngx_http_infer_slot_alloc(m, ctx) == NGX_OK) {
        return NGX_OK;
    }

    ngx_log_error(level, r->connection->log, 0,
                  "infer: queue of model \"%V\" is full (%ui requests)%s",
                  &m->name, m->queue,
                  spill ? ", the request goes to error_page" : "");

    ngx_http_infer_count_request(m, ctx, 0);

    *rc = ngx_http_infer_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                    "the queue of model \"%V\" is full, "
                                    "retry later", &m->name);
    return NGX_DECLINED;
}


/*
 * The request body as one piece of memory, inflated when it was sent
 * compressed: NGX_OK, NGX_DECLINED (err says why: a bad encoding) or
 * NGX_ERROR
 */

ngx_int_t
ngx_http_infer_body(ngx_http_request_t *r, u_char **body, size_t *len,
    ngx_http_infer_err_t *err)
{
    *body = ngx_http_infer_body_bytes(r, len);
    if (*body == NULL) {
        return NGX_ERROR;
    }

    return ngx_http_infer_decode_body(r, body, len, err);
}


/*
 * The request body as nginx read it: the buffer it read it into, or,
 * when it went to a temporary file or several buffers, a copy.
 */

static u_char *
ngx_http_infer_body_bytes(ngx_http_request_t *r, size_t *len)
{
    u_char       *p, *body;
    off_t         size;
    ssize_t       n;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    *len = 0;

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        return (u_char *) "";
    }

    cl = r->request_body->bufs;

    if (cl->next == NULL && !cl->buf->in_file) {
        *len = cl->buf->last - cl->buf->pos;

        /* an empty body is an empty buffer with no memory behind it */
        return *len ? cl->buf->pos : (u_char *) "";
    }

    size = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;
        size += b->in_file ? b->file_last - b->file_pos : b->last - b->pos;
    }

    body = ngx_pnalloc(r->pool, size + 1);
    if (body == NULL) {
        return NULL;
    }

    p = body;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (!b->in_file) {
            p = ngx_cpymem(p, b->pos, b->last - b->pos);
            continue;
        }

        n = ngx_read_file(b->file, p, b->file_last - b->file_pos,
                          b->file_pos);

        if (n != b->file_last - b->file_pos) {
            ngx_log_error(NGX_LOG_CRIT, r->connection->log, 0,
                          "infer: read only %z of %O bytes of the request "
                          "body from \"%V\"", n, b->file_last - b->file_pos,
                          &b->file->name);
            return NULL;
        }

        p += n;
    }

    *len = p - body;

    return body;
}


/*
 * Once the request is decoded: it waits, with a timer, for the wake-up; a
 * client that goes away meanwhile is noticed and its slot cancelled.
 */

static ngx_int_t
ngx_http_infer_park(ngx_http_request_t *r, ngx_http_infer_ctx_t *ctx)
{
    ngx_msec_t                  elapsed, timeout;
    ngx_http_cleanup_t         *cln;
    ngx_http_infer_loc_conf_t  *ilcf;

    cln = ngx_http_cleanup_add(r, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_infer_cleanup;
    cln->data = ctx;

    ilcf = ngx_http_get_module_loc_conf(r, ngx_http_infer_module);

    /*
     * The timeout counts from the request's arrival; a KServe request may
     * ask for a shorter one (parameters.timeout, in microseconds).
     */

    timeout = ilcf->timeout;

    if (ctx->timeout && ctx->timeout < timeout) {
        timeout = ctx->timeout;
    }

    elapsed = ngx_current_msec - ctx->start;
    timeout = (elapsed < timeout) ? timeout - elapsed : 1;

    ctx->timer.handler = ngx_http_infer_timeout_handler;
    ctx->timer.data = ctx;
    ctx->timer.log = r->connection->log;

    ngx_add_timer(&ctx->timer, timeout);

    r->read_event_handler = ngx_http_test_reading;
    r->write_event_handler = ngx_http_request_empty_handler;

    return NGX_OK;
}


/*
 * A wake-up for one of this worker's slots: done, or progress of work
 * that answers several times (the codec sends what there is so far).
 */

void
ngx_http_infer_wake(ngx_http_infer_model_t *m, uint32_t slot,
    uint64_t ticket, ngx_uint_t kind)
{
    ngx_int_t              rc;
    ngx_connection_t      *c;
    ngx_http_infer_ctx_t  *ctx;

    if (slot >= m->queue) {
        return;
    }

    ctx = m->pending[slot];

    if (ctx == NULL || ctx->ticket != ticket || ctx->done) {
        return;
    }

    if (kind == NGX_HTTP_INFER_WAKE_PROGRESS) {
        if (ctx->codec->progress == NULL) {
            return;
        }

        c = ctx->request->connection;
        rc = ctx->codec->progress(ctx->request, ctx);

        if (rc == NGX_ERROR) {
            /* the client is gone: the cleanup cancels the work */
            ngx_http_finalize_request(ctx->request, rc);
            ngx_http_run_posted_requests(c);
        }

        return;
    }

    ngx_http_infer_answer(ctx);
}


static void
ngx_http_infer_answer(ngx_http_infer_ctx_t *ctx)
{
    ngx_int_t                rc;
    ngx_connection_t        *c;
    ngx_http_request_t      *r;
    ngx_http_infer_slot_t   *s;
    ngx_http_infer_model_t  *m;

    r = ctx->request;
    c = r->connection;
    m = ctx->model;
    s = &m->sh->slots[ctx->slot];

    ctx->done = 1;

    if (ctx->timer.timer_set) {
        ngx_del_timer(&ctx->timer);
    }

    ctx->batch_rows = s->batch_rows;
    ctx->queue_time_us = (s->t_start - s->t_enqueue) / 1000;
    ctx->compute_time_us = (s->t_end - s->t_start) / 1000;

    ngx_http_infer_count_request(m, ctx, !s->failed);

    if (!s->failed && m->bpe == NULL) {
        /* a generation has no batch of its own to time */
        ngx_http_infer_count_computed(m, s);
    }

    if (s->failed && !r->header_sent) {
        rc = ngx_http_infer_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                       "model \"%V\" failed: %s",
                                       &m->name, s->err);

    } else {
        rc = ctx->codec->answer(r, ctx);
    }

    ngx_http_infer_slot_release(m, ctx);

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


static void
ngx_http_infer_timeout_handler(ngx_event_t *ev)
{
    ngx_int_t                rc;
    ngx_connection_t        *c;
    ngx_http_request_t      *r;
    ngx_http_infer_ctx_t    *ctx;
    ngx_http_infer_model_t  *m;

    ctx = ev->data;
    r = ctx->request;
    c = r->connection;
    m = ctx->model;

    /* a wake-up that could not be delivered: the answer is there */
    if (m->sh->slots[ctx->slot].ticket == ctx->ticket
        && m->sh->slots[ctx->slot].state == NGX_HTTP_INFER_DONE)
    {
        ngx_http_infer_answer(ctx);
        return;
    }

    ctx->done = 1;

    ngx_http_infer_slot_release(m, ctx);
    ngx_http_infer_count_request(m, ctx, 0);

    ngx_log_error(NGX_LOG_ERR, c->log, 0,
                  "infer: model \"%V\" did not answer in time", &m->name);

    if (ctx->gen && r->header_sent) {
        /* a stream that stalled: its status is sent, the error is not */
        rc = ngx_http_infer_sse_stalled(r, ctx);

    } else {
        rc = ngx_http_infer_send_error(r, NGX_HTTP_GATEWAY_TIME_OUT,
                                       "model \"%V\" did not answer within "
                                       "infer_timeout", &m->name);
    }

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


/* the request is freed before it was answered: the client went away */

static void
ngx_http_infer_cleanup(void *data)
{
    ngx_http_infer_ctx_t *ctx = data;

    if (ctx->done) {
        return;
    }

    ctx->done = 1;

    if (ctx->timer.timer_set) {
        ngx_del_timer(&ctx->timer);
    }

    ngx_http_infer_slot_release(ctx->model, ctx);
}


/* the request's header of this name (any case), or NULL */

ngx_table_elt_t *
ngx_http_infer_header_in(ngx_http_request_t *r, const char *name)
{
    size_t            len;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    len = ngx_strlen(name);
    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == len
            && ngx_strncasecmp(h[i].key.data, (u_char *) name, len) == 0)
        {
            return &h[i];
        }
    }
}


/*
 * The worker's room for what a codec decodes beside the body (strings it
 * unescapes, token ids, the inputs' spans), so that a request allocates
 * none of it: the texts are tokenized into the payload before the body
 * handler returns, so one room serves every request in turn.  It grows to
 * the largest request seen and stays.
 */

void *
ngx_http_infer_decode_room(ngx_log_t *log, size_t size)
{
    static u_char  *room;
    static size_t   room_size;

    if (log == NULL) {
        /* the worker exits: the room goes before the module's image */
        ngx_free(room);
        room = NULL;
        room_size = 0;
        return NULL;
    }

    if (size > room_size) {
        ngx_free(room);

        room = ngx_alloc(size, log);
        room_size = room ? size : 0;
    }

    return room;
}
