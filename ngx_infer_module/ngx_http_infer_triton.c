
/*
 * ngx_infer: Triton's extensions of the KServe v2 HTTP API, those that
 * Triton's clients and tools (tritonclient, perf_analyzer) call, routed
 * here by ngx_http_infer_kserve.c:
 *
 *   GET  /v2/models/{name}/config    the model configuration extension:
 *                                    the model in Triton's model_config
 *                                    JSON (TYPE_ datatypes, dims without
 *                                    the batch dimension, max_batch_size,
 *                                    dynamic_batching, instance_group)
 *   GET  /v2/models[/{name}]/stats   the statistics extension, from the
 *                                    counters in each model's zone
 *   POST /v2/repository/index        the model repository extension's
 *                                    index: every declared model, READY
 *                                    or UNAVAILABLE
 *   POST /v2/repository/models/{name}/load, .../unload
 *                                    refused with 400, as Triton refuses
 *                                    them when it does not control its
 *                                    models: nginx.conf declares them
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_infer_module.h"


/* the rest of the path, p to end, is exactly s */
#define ngx_http_infer_is(p, end, s)                                         \
    ((size_t) ((end) - (p)) == sizeof(s) - 1                                 \
     && ngx_strncmp(p, s, sizeof(s) - 1) == 0)

/* a counter of the zone, while other processes add to it */
#define ngx_http_infer_get(field)                                            \
    __atomic_load_n(&(field), __ATOMIC_RELAXED)

/* a $duration_stat of Triton's */
#define NGX_HTTP_INFER_DURATION  "{\"count\":%uL,\"ns\":%uL}"

/* what one model's statistics take, without its batch sizes and name */
#define NGX_HTTP_INFER_STATS_LEN       1024
#define NGX_HTTP_INFER_BATCH_STAT_LEN  (64 + 3 * (2 * NGX_INT64_LEN + 24))


static u_char *ngx_http_infer_config_io(u_char *p, const infer_io_t *io);
static ngx_uint_t ngx_http_infer_batch_sizes(ngx_http_infer_model_t *m);
static u_char *ngx_http_infer_model_stats(u_char *p,
    ngx_http_infer_model_t *m, ngx_uint_t *sizes);
static void ngx_http_infer_repository_index(ngx_http_request_t *r);


/* model_config.proto's DataType, by infer_io_type_e */
static const char  *ngx_http_infer_config_types[] = {
    "TYPE_FP32", "TYPE_INT64", "TYPE_STRING"
};


/*
 * The model configuration extension.  What the model is (its inputs and
 * outputs, max_batch_size) is its metadata's, in model_config.proto's
 * terms; how it is served comes from infer_model: batch_timeout is the
 * dynamic batcher's max_queue_delay, instances= and device= the instance
 * group.
 */

ngx_int_t
ngx_http_infer_triton_config(ngx_http_request_t *r, ngx_http_infer_model_t *m)
{
    u_char         *p;
    size_t          len;
    ngx_buf_t      *b;
    infer_model_t  *model;

    model = m->model;

    len = 1024 + 12 * m->name.len + 6 * ngx_strlen(model->input.name)
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
    p = ngx_sprintf(p, ",\"platform\":\"ngx_infer_%s\",\"backend\":"
                    "\"ngx_infer\",\"version_policy\":{\"latest\":"
                    "{\"num_versions\":1}},\"max_batch_size\":%ui,"
                    "\"input\":[", model->arch->name, m->max_batch);
    p = ngx_http_infer_config_io(p, &model->input);
    p = ngx_cpymem(p, "],\"output\":[", sizeof("],\"output\":[") - 1);
    p = ngx_http_infer_config_io(p, &model->output);
    p = ngx_sprintf(p, "],\"dynamic_batching\":{\"preferred_batch_size\":[],"
                    "\"max_queue_delay_microseconds\":%uL},"
                    "\"instance_group\":[{\"name\":",
                    (uint64_t) m->batch_timeout * 1000);
    p += infer_ks_write_string((char *) p, (char *) m->name.data,
                               m->name.len);

    if (m->gpu >= 0) {
        p = ngx_sprintf(p, ",\"kind\":\"KIND_GPU\",\"count\":%ui,"
                        "\"gpus\":[%i]}]", m->instances, m->gpu);

    } else {
        p = ngx_sprintf(p, ",\"kind\":\"KIND_CPU\",\"count\":%ui,"
                        "\"gpus\":[]}]", m->instances);
    }

    p = ngx_sprintf(p, ",\"parameters\":{\"device\":{\"string_value\":\"%V\"},"
                    "\"precision\":{\"string_value\":\"%s\"}}}",
                    &m->device, infer_precision_name(m->precision));

    b->last = p;

    return ngx_http_infer_send_json(r, NGX_HTTP_OK, b);
}


/*
 * An input or output: dims without the batch dimension, as a model with
 * max_batch_size > 0 has them; a batch of scalars (a text model's texts)
 * is dims [1] reshaped to [], Triton's way of saying so
 */

static u_char *
ngx_http_infer_config_io(u_char *p, const infer_io_t *io)
{
    int  i;

    p = ngx_cpymem(p, "{\"name\":", sizeof("{\"name\":") - 1);
    p += infer_ks_write_string((char *) p, io->name, ngx_strlen(io->name));
    p = ngx_sprintf(p, ",\"data_type\":\"%s\",\"dims\":[",
                    ngx_http_infer_config_types[io->datatype]);

    if (io->ndim < 2) {
        return ngx_cpymem(p, "1],\"reshape\":{\"shape\":[]}}",
                          sizeof("1],\"reshape\":{\"shape\":[]}}") - 1);
    }

    for (i = 1; i < io->ndim; i++) {
        p = ngx_sprintf(p, i > 1 ? ",%L" : "%L", io->dims[i]);
    }

    return ngx_cpymem(p, "]}", 2);
}


/*
 * The statistics extension, for one model (m) or every model (m NULL).
 * success and fail are the requests answered, from their arrival; queue
 * and the compute phases are the successful requests that a batch
 * computed, each with its batch's phases, as Triton counts them; the
 * batch statistics are per batch size, each batch once.  There is no
 * response cache: cache_hit and cache_miss are zeros, as Triton's are
 * without one.
 */

ngx_int_t
ngx_http_infer_triton_stats(ngx_http_request_t *r, ngx_http_infer_model_t *m)
{
    u_char                      *p;
    size_t                       len;
    ngx_buf_t                   *b;
    ngx_uint_t                   i, n, sizes;
    ngx_http_infer_model_t     **mp;
    ngx_http_infer_main_conf_t  *imcf;

    if (m) {
        mp = &m;
        n = 1;

    } else {
        imcf = ngx_http_get_module_main_conf(r, ngx_http_infer_module);
        mp = imcf->models.elts;
        n = imcf->models.nelts;
    }

    len = sizeof("{\"model_stats\":[]}");
    sizes = 0;

    for (i = 0; i < n; i++) {
        len += NGX_HTTP_INFER_STATS_LEN + 6 * mp[i]->name.len;
        sizes += ngx_http_infer_batch_sizes(mp[i]);
    }

    len += sizes * NGX_HTTP_INFER_BATCH_STAT_LEN;

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(b->last, "{\"model_stats\":[",
                   sizeof("{\"model_stats\":[") - 1);

    for (i = 0; i < n; i++) {
        if (i) {
            *p++ = ',';
        }

        /* no more batch sizes than there is room for: others may appear */
        p = ngx_http_infer_model_stats(p, mp[i], &sizes);
    }

    b->last = ngx_cpymem(p, "]}", 2);

    return ngx_http_infer_send_json(r, NGX_HTTP_OK, b);
}


/* the batch sizes that a model has computed */

static ngx_uint_t
ngx_http_infer_batch_sizes(ngx_http_infer_model_t *m)
{
    ngx_uint_t               i, n;
    ngx_http_infer_shctx_t  *sh;

    sh = m->sh;
    n = 0;

    for (i = 0; i < sh->nbatch_stats; i++) {
        if (ngx_http_infer_get(sh->batch_stats[i].count)) {
            n++;
        }
    }

    return n;
}


static u_char *
ngx_http_infer_model_stats(u_char *p, ngx_http_infer_model_t *m,
    ngx_uint_t *sizes)
{
    uint64_t                      computed, count;
    ngx_uint_t                    i, first;
    ngx_http_infer_stats_t       *st;
    ngx_http_infer_shctx_t       *sh;
    ngx_http_infer_batch_stat_t  *bs;

    sh = m->sh;
    st = &sh->stats;
    computed = ngx_http_infer_get(st->computed);

    p = ngx_cpymem(p, "{\"name\":", sizeof("{\"name\":") - 1);
    p += infer_ks_write_string((char *) p, (char *) m->name.data,
                               m->name.len);

    p = ngx_sprintf(p, ",\"version\":\"1\",\"last_inference\":%uL,"
                    "\"inference_count\":%uL,\"execution_count\":%uL,"
                    "\"inference_stats\":{"
                    "\"success\":" NGX_HTTP_INFER_DURATION
                    ",\"fail\":" NGX_HTTP_INFER_DURATION
                    ",\"queue\":" NGX_HTTP_INFER_DURATION
                    ",\"compute_input\":" NGX_HTTP_INFER_DURATION
                    ",\"compute_infer\":" NGX_HTTP_INFER_DURATION
                    ",\"compute_output\":" NGX_HTTP_INFER_DURATION
                    ",\"cache_hit\":{\"count\":0,\"ns\":0}"
                    ",\"cache_miss\":{\"count\":0,\"ns\":0}}"
                    ",\"batch_stats\":[",
                    ngx_http_infer_get(st->last_inference_ms),
                    ngx_http_infer_get(st->inference_count),
                    ngx_http_infer_get(st->exec_count),
                    ngx_http_infer_get(st->request_success),
                    ngx_http_infer_get(st->success_ns),
                    ngx_http_infer_get(st->request_failure),
                    ngx_http_infer_get(st->failure_ns),
                    computed, ngx_http_infer_get(st->queue_ns),
                    computed, ngx_http_infer_get(st->compute_input_ns),
                    computed, ngx_http_infer_get(st->compute_infer_ns),
                    computed, ngx_http_infer_get(st->compute_output_ns));

    first = 1;

    for (i = 0; i < sh->nbatch_stats && *sizes; i++) {
        bs = &sh->batch_stats[i];
        count = ngx_http_infer_get(bs->count);

        if (count == 0) {
            continue;
        }

        if (!first) {
            *p++ = ',';
        }

        first = 0;
        (*sizes)--;

        p = ngx_sprintf(p, "{\"batch_size\":%ui,"
                        "\"compute_input\":" NGX_HTTP_INFER_DURATION
                        ",\"compute_infer\":" NGX_HTTP_INFER_DURATION
                        ",\"compute_output\":" NGX_HTTP_INFER_DURATION "}",
                        i + 1, count, ngx_http_infer_get(bs->compute_input_ns),
                        count, ngx_http_infer_get(bs->compute_infer_ns),
                        count, ngx_http_infer_get(bs->compute_output_ns));
    }

    return ngx_cpymem(p, "]}", 2);
}


/*
 * /v2/repository/...: p is at "/repository/".  The index is a POST with
 * a body ({"ready": true} asks for the ready models only); load and
 * unload are refused, since infer_model in nginx.conf declares the
 * models and a reload changes them.
 */

ngx_int_t
ngx_http_infer_triton_repository(ngx_http_request_t *r, u_char *p,
    u_char *end)
{
    u_char                  *q;
    ngx_int_t                rc;
    ngx_str_t                name;
    ngx_http_infer_model_t  *m;

    p += sizeof("/repository") - 1;

    if (ngx_http_infer_is(p, end, "/index")) {
        if (r->method != NGX_HTTP_POST) {
            return ngx_http_infer_not_allowed(r, 1);
        }

        r->request_body_in_single_buf = 1;

        rc = ngx_http_read_client_request_body(r,
                                              ngx_http_infer_repository_index);

        if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
            return rc;
        }

        return NGX_DONE;
    }

    if ((size_t) (end - p) <= sizeof("/models/") - 1
        || ngx_strncmp(p, "/models/", sizeof("/models/") - 1) != 0)
    {
        goto not_found;
    }

    p += sizeof("/models/") - 1;

    for (q = p; q < end && *q != '/'; q++) { /* void */ }

    name.data = p;
    name.len = q - p;

    if (!ngx_http_infer_is(q, end, "/load")
        && !ngx_http_infer_is(q, end, "/unload"))
    {
        goto not_found;
    }

    m = ngx_http_infer_model_by_name(r, &name);
    if (m == NULL) {
        return ngx_http_infer_send_error(r, NGX_HTTP_NOT_FOUND,
                                         "unknown model \"%V\"", &name);
    }

    if (r->method != NGX_HTTP_POST) {
        return ngx_http_infer_not_allowed(r, 1);
    }

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_infer_send_error(r, NGX_HTTP_BAD_REQUEST,
                                     "model \"%V\" is declared by infer_model "
                                     "in nginx.conf: a reload of nginx loads "
                                     "and unloads models", &name);

not_found:

    return ngx_http_infer_send_error(r, NGX_HTTP_NOT_FOUND,
                                     "no KServe v2 endpoint at \"%V\"",
                                     &r->uri);
}


/*
 * The index, once the body is read: each declared model with its one
 * version, READY when one of its executors is up (as /ready says), else
 * UNAVAILABLE with the reason
 */

static void
ngx_http_infer_repository_index(ngx_http_request_t *r)
{
    u_char                      *p, *body;
    size_t                       len;
    ngx_int_t                    rc;
    ngx_buf_t                   *b;
    ngx_uint_t                   i, n, ready;
    int                          only_ready;
    ngx_http_infer_err_t         err;
    ngx_http_infer_model_t     **mp;
    ngx_http_infer_main_conf_t  *imcf;

    static const char  unavailable[] = ",\"state\":\"UNAVAILABLE\","
                                       "\"reason\":\"no executor of the "
                                       "model is running\"}";

    ngx_memzero(&err, offsetof(ngx_http_infer_err_t, msg));

    rc = ngx_http_infer_body(r, &body, &len, &err);

    if (rc == NGX_ERROR) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (rc == NGX_DECLINED) {
        ngx_http_finalize_request(r,
            ngx_http_infer_send_error(r, err.status, "%s", err.msg));
        return;
    }

    if (infer_ks_decode_index((char *) body, len, &only_ready, err.msg) != 0)
    {
        ngx_http_finalize_request(r,
            ngx_http_infer_send_error(r, NGX_HTTP_BAD_REQUEST,
                                      "a model repository index request: %s",
                                      err.msg));
        return;
    }

    imcf = ngx_http_get_module_main_conf(r, ngx_http_infer_module);
    mp = imcf->models.elts;

    len = sizeof("[]");

    for (i = 0; i < imcf->models.nelts; i++) {
        len += sizeof("{\"name\":,\"version\":\"1\"},") + 6 * mp[i]->name.len
               + sizeof(unavailable);
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    p = b->last;
    *p++ = '[';

    for (i = 0, n = 0; i < imcf->models.nelts; i++) {
        ready = ngx_http_infer_is_ready(mp[i]);

        if (only_ready && !ready) {
            continue;
        }

        if (n++) {
            *p++ = ',';
        }

        p = ngx_cpymem(p, "{\"name\":", sizeof("{\"name\":") - 1);
        p += infer_ks_write_string((char *) p, (char *) mp[i]->name.data,
                                   mp[i]->name.len);
        p = ngx_cpymem(p, ",\"version\":\"1\"",
                       sizeof(",\"version\":\"1\"") - 1);

        if (ready) {
            p = ngx_cpymem(p, ",\"state\":\"READY\"}",
                           sizeof(",\"state\":\"READY\"}") - 1);

        } else {
            p = ngx_cpymem(p, unavailable, sizeof(unavailable) - 1);
        }
    }

    *p++ = ']';
    b->last = p;

    ngx_http_finalize_request(r, ngx_http_infer_send_json(r, NGX_HTTP_OK, b));
}
