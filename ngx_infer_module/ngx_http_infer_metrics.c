
/*
 * ngx_infer: infer_metrics, the Prometheus text format.
 *
 * The counters live in each model's shared zone (ngx_http_infer_stats_t):
 * every worker reports the same totals, and a reload that keeps a model
 * keeps them.  Names follow Triton's (nv_inference_*) where they mean the
 * same, with our prefix.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_infer_module.h"


static u_char *ngx_http_infer_metrics_model(u_char *p, u_char *last,
    ngx_http_infer_model_t *m);
static u_char *ngx_http_infer_metrics_gen(u_char *p, u_char *last,
    ngx_http_infer_model_t *m);
static u_char *ngx_http_infer_histogram(u_char *p, u_char *last,
    const char *name, ngx_str_t *model, const uint64_t *buckets,
    const uint64_t *bounds, ngx_uint_t n, ngx_uint_t seconds, uint64_t sum,
    uint64_t count);


/* upper bounds: rows of a batch; tokens of a batch; microseconds of a
 * request */

static const uint64_t  ngx_http_infer_batch_bounds[] = {
    1, 2, 4, 8, 16, 32, 64, 128, 256
};

/* tokens of a text model's batch */
static const uint64_t  ngx_http_infer_token_bounds[] = {
    16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768
};

static const uint64_t  ngx_http_infer_latency_bounds[] = {
    500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
    1000000, 2500000, 5000000, 10000000
};

/* microseconds to a generation's first token, between its tokens */
static const uint64_t  ngx_http_infer_time_bounds[] = {
    1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
    1000000, 2000000, 5000000, 10000000, 20000000
};


typedef struct {
    const char                 *name;
    const char                 *help;
    const char                 *type;
    size_t                      offset;
} ngx_http_infer_metric_t;


static ngx_http_infer_metric_t  ngx_http_infer_metrics[] = {

    { "ngx_infer_inference_request_success",
      "Inference requests answered 200", "counter",
      offsetof(ngx_http_infer_stats_t, request_success) },

    { "ngx_infer_inference_request_failure",
      "Inference requests answered with an error", "counter",
      offsetof(ngx_http_infer_stats_t, request_failure) },

    { "ngx_infer_inference_count",
      "Rows computed (a request of k rows counts k; a decoder's step, its "
      "sequences)", "counter",
      offsetof(ngx_http_infer_stats_t, inference_count) },

    { "ngx_infer_inference_token_count",
      "Tokens computed by text models (the special tokens included)",
      "counter",
      offsetof(ngx_http_infer_stats_t, token_count) },

    { "ngx_infer_inference_exec_count",
      "Batches computed (a decoder's steps)", "counter",
      offsetof(ngx_http_infer_stats_t, exec_count) },

    { "ngx_infer_inference_request_duration_us",
      "Cumulative time of successful requests, arrival to answer",
      "counter",
      offsetof(ngx_http_infer_stats_t, request_duration_us) },

    { "ngx_infer_inference_queue_duration_us",
      "Cumulative time requests waited in the queue", "counter",
      offsetof(ngx_http_infer_stats_t, queue_duration_us) },

    { "ngx_infer_inference_compute_input_duration_us",
      "Cumulative time gathering batch inputs", "counter",
      offsetof(ngx_http_infer_stats_t, compute_input_duration_us) },

    { "ngx_infer_inference_compute_infer_duration_us",
      "Cumulative time computing batches", "counter",
      offsetof(ngx_http_infer_stats_t, compute_infer_duration_us) },

    { "ngx_infer_inference_compute_output_duration_us",
      "Cumulative time scattering batch outputs", "counter",
      offsetof(ngx_http_infer_stats_t, compute_output_duration_us) },

    { NULL, NULL, NULL, 0 }
};


void
ngx_http_infer_count_request(ngx_http_infer_model_t *m,
    ngx_http_infer_ctx_t *ctx, ngx_uint_t ok)
{
    int64_t                  ns, us;
    uint64_t                 ms, last;
    ngx_uint_t               i;
    ngx_time_t              *tp;
    ngx_http_infer_stats_t  *st;

    st = &m->sh->stats;
    ns = ngx_http_infer_now() - ctx->t_arrive;

    /* the latest answer of any worker: workers' clocks race by a tick */

    tp = ngx_timeofday();
    ms = (uint64_t) tp->sec * 1000 + tp->msec;
    last = __atomic_load_n(&st->last_inference_ms, __ATOMIC_RELAXED);

    while (ms > last
           && !__atomic_compare_exchange_n(&st->last_inference_ms, &last, ms,
                                           1, __ATOMIC_RELAXED,
                                           __ATOMIC_RELAXED))
    {
        /* void */
    }

    if (!ok) {
        ngx_http_infer_count(st->failure_ns, ns);
        ngx_http_infer_count(st->request_failure, 1);
        return;
    }

    us = ns / 1000;

    for (i = 0; i < NGX_HTTP_INFER_LATENCY_BUCKETS - 1; i++) {
        if ((uint64_t) us <= ngx_http_infer_latency_bounds[i]) {
            break;
        }
    }

    ngx_http_infer_count(st->latency[i], 1);
    ngx_http_infer_count(st->request_duration_us, us);
    ngx_http_infer_count(st->success_ns, ns);
    ngx_http_infer_count(st->request_success, 1);
}


/*
 * A successful request that a batch computed, as Triton counts it: its
 * time in the queue, and each phase of its batch
 */

void
ngx_http_infer_count_computed(ngx_http_infer_model_t *m,
    ngx_http_infer_slot_t *s)
{
    ngx_http_infer_stats_t  *st;

    st = &m->sh->stats;

    ngx_http_infer_count(st->queue_ns, s->t_start - s->t_enqueue);
    ngx_http_infer_count(st->compute_input_ns, s->t_run - s->t_start);
    ngx_http_infer_count(st->compute_infer_ns, s->t_end - s->t_run);
    ngx_http_infer_count(st->compute_output_ns, s->t_done - s->t_end);
    ngx_http_infer_count(st->computed, 1);
}


/* the phases of a batch of rows, by its size */

void
ngx_http_infer_count_phases(ngx_http_infer_shctx_t *sh, ngx_uint_t rows,
    int64_t t_start, int64_t t_run, int64_t t_end, int64_t t_done)
{
    ngx_http_infer_batch_stat_t  *bs;

    if (rows == 0 || rows > sh->nbatch_stats) {
        return;
    }

    bs = &sh->batch_stats[rows - 1];

    ngx_http_infer_count(bs->compute_input_ns, t_run - t_start);
    ngx_http_infer_count(bs->compute_infer_ns, t_end - t_run);
    ngx_http_infer_count(bs->compute_output_ns, t_done - t_end);
    ngx_http_infer_count(bs->count, 1);
}


/* a duration of a generation (ns) in a histogram of time bounds */

void
ngx_http_infer_count_time(uint64_t *buckets, uint64_t *sum, int64_t ns)
{
    ngx_uint_t  i;
    uint64_t    us;

    us = ns > 0 ? (uint64_t) ns / 1000 : 0;

    for (i = 0; i < NGX_HTTP_INFER_TIME_BUCKETS - 1; i++) {
        if (us <= ngx_http_infer_time_bounds[i]) {
            break;
        }
    }

    ngx_http_infer_count(buckets[i], 1);
    ngx_http_infer_count(*sum, us);
}


/* a batch (a decoder's step) of rows sequences */

void
ngx_http_infer_count_batch(ngx_http_infer_stats_t *st, ngx_uint_t rows)
{
    ngx_uint_t  b;

    for (b = 0; b < NGX_HTTP_INFER_BATCH_BUCKETS - 1; b++) {
        if (rows <= ((ngx_uint_t) 1 << b)) {
            break;
        }
    }

    ngx_http_infer_count(st->batch_size[b], 1);
    ngx_http_infer_count(st->exec_count, 1);
    ngx_http_infer_count(st->inference_count, rows);
}


ngx_int_t
ngx_http_infer_metrics_handler(ngx_http_request_t *r)
{
    u_char                      *p, *last;
    size_t                       len;
    ngx_buf_t                   *b;
    ngx_str_t                    type;
    ngx_uint_t                   i;
    ngx_http_infer_model_t     **mp;
    ngx_http_infer_main_conf_t  *imcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return ngx_http_infer_not_allowed(r, 0);
    }

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    imcf = ngx_http_get_module_main_conf(r, ngx_http_infer_module);
    mp = imcf->models.elts;

    /* the help lines once, then about 80 lines of up to 160 bytes a model */
    len = 4096 + imcf->models.nelts * 96 * 160;

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = b->last;
    last = b->end;

    for (i = 0; ngx_http_infer_metrics[i].name; i++) {
        p = ngx_slprintf(p, last, "# HELP %s %s.\n# TYPE %s %s\n",
                         ngx_http_infer_metrics[i].name,
                         ngx_http_infer_metrics[i].help,
                         ngx_http_infer_metrics[i].name,
                         ngx_http_infer_metrics[i].type);
    }

    p = ngx_slprintf(p, last,
                     "# HELP ngx_infer_batch_size Rows in each batch.\n"
                     "# TYPE ngx_infer_batch_size histogram\n"
                     "# HELP ngx_infer_batch_tokens Tokens in each batch of "
                     "a text model.\n"
                     "# TYPE ngx_infer_batch_tokens histogram\n"
                     "# HELP ngx_infer_request_duration_seconds Successful "
                     "requests, arrival to answer.\n"
                     "# TYPE ngx_infer_request_duration_seconds histogram\n"
                     "# HELP ngx_infer_queue_depth Requests waiting in the "
                     "queue.\n"
                     "# TYPE ngx_infer_queue_depth gauge\n"
                     "# HELP ngx_infer_queue_free_slots Free slots of the "
                     "queue.\n"
                     "# TYPE ngx_infer_queue_free_slots gauge\n"
                     "# HELP ngx_infer_executors_ready Executors up.\n"
                     "# TYPE ngx_infer_executors_ready gauge\n"
                     "# HELP ngx_infer_model_info The model's device and "
                     "precision.\n"
                     "# TYPE ngx_infer_model_info gauge\n"
                     "# HELP ngx_infer_prompt_tokens Prompt tokens of a "
                     "decoder's requests.\n"
                     "# TYPE ngx_infer_prompt_tokens counter\n"
                     "# HELP ngx_infer_generation_tokens Tokens a decoder "
                     "generated.\n"
                     "# TYPE ngx_infer_generation_tokens counter\n"
                     "# HELP ngx_infer_sequences_cancelled Generations "
                     "whose client left or that a stop string ended.\n"
                     "# TYPE ngx_infer_sequences_cancelled counter\n"
                     "# HELP ngx_infer_sequences_preempted Sequences whose "
                     "KV blocks were taken, to be computed again.\n"
                     "# TYPE ngx_infer_sequences_preempted counter\n"
                     "# HELP ngx_infer_time_to_first_token_seconds Queued "
                     "to first token.\n"
                     "# TYPE ngx_infer_time_to_first_token_seconds "
                     "histogram\n"
                     "# HELP ngx_infer_inter_token_latency_seconds Between "
                     "a generation's tokens.\n"
                     "# TYPE ngx_infer_inter_token_latency_seconds "
                     "histogram\n"
                     "# HELP ngx_infer_sequences_running Sequences in the "
                     "executors' steps.\n"
                     "# TYPE ngx_infer_sequences_running gauge\n"
                     "# HELP ngx_infer_sequences_waiting Requests queued or "
                     "waiting for KV blocks.\n"
                     "# TYPE ngx_infer_sequences_waiting gauge\n"
                     "# HELP ngx_infer_kv_blocks_used KV cache blocks "
                     "holding sequences.\n"
                     "# TYPE ngx_infer_kv_blocks_used gauge\n"
                     "# HELP ngx_infer_kv_blocks_free KV cache blocks "
                     "free.\n"
                     "# TYPE ngx_infer_kv_blocks_free gauge\n");

    for (i = 0; i < imcf->models.nelts; i++) {
        p = ngx_http_infer_metrics_model(p, last, mp[i]);
    }

    b->last = p;

    ngx_str_set(&type, "text/plain; version=0.0.4");

    return ngx_http_infer_send_buf(r, NGX_HTTP_OK, &type, b);
}


static u_char *
ngx_http_infer_metrics_model(u_char *p, u_char *last,
    ngx_http_infer_model_t *m)
{
    ngx_uint_t               i;
    ngx_http_infer_stats_t  *st;
    ngx_http_infer_shctx_t  *sh;

    sh = m->sh;
    st = &sh->stats;

    for (i = 0; ngx_http_infer_metrics[i].name; i++) {
        p = ngx_slprintf(p, last, "%s{model=\"%V\",version=\"1\"} %uL\n",
                         ngx_http_infer_metrics[i].name, &m->name,
                         __atomic_load_n((uint64_t *) ((u_char *) st
                                         + ngx_http_infer_metrics[i].offset),
                                         __ATOMIC_RELAXED));
    }

    p = ngx_http_infer_histogram(p, last, "ngx_infer_batch_size", &m->name,
                                 st->batch_size, ngx_http_infer_batch_bounds,
                                 NGX_HTTP_INFER_BATCH_BUCKETS, 0,
                                 st->inference_count, st->exec_count);

    if (m->tokenizer) {
        p = ngx_http_infer_histogram(p, last, "ngx_infer_batch_tokens",
                                     &m->name, st->batch_tokens,
                                     ngx_http_infer_token_bounds,
                                     NGX_HTTP_INFER_TOKEN_BUCKETS, 0,
                                     st->token_count, st->exec_count);
    }

    p = ngx_http_infer_histogram(p, last,
                                 "ngx_infer_request_duration_seconds",
                                 &m->name, st->latency,
                                 ngx_http_infer_latency_bounds,
                                 NGX_HTTP_INFER_LATENCY_BUCKETS, 1,
                                 st->request_duration_us,
                                 st->request_success);

    if (m->bpe) {
        p = ngx_http_infer_metrics_gen(p, last, m);
    }

    /* a snapshot, not under the lock: gauges are a glance */

    p = ngx_slprintf(p, last,
                     "ngx_infer_queue_depth{model=\"%V\"} %uD\n"
                     "ngx_infer_queue_free_slots{model=\"%V\"} %uD\n"
                     "ngx_infer_executors_ready{model=\"%V\"} %uD\n"
                     "ngx_infer_model_info{model=\"%V\",device=\"%V\","
                     "precision=\"%s\",max_batch=\"%ui\"} 1\n",
                     &m->name, sh->queued, &m->name, sh->nfree,
                     &m->name, sh->ready, &m->name, &m->device,
                     infer_precision_name(m->precision), m->max_batch);

    return p;
}


/* a decoder's: tokens, latencies, sequences, the KV cache */

static u_char *
ngx_http_infer_metrics_gen(u_char *p, u_char *last, ngx_http_infer_model_t *m)
{
    uint64_t                 first, used, total;
    ngx_uint_t               i;
    ngx_http_infer_stats_t  *st;

    st = &m->sh->stats;

    p = ngx_slprintf(p, last,
                     "ngx_infer_prompt_tokens{model=\"%V\"} %uL\n"
                     "ngx_infer_generation_tokens{model=\"%V\"} %uL\n"
                     "ngx_infer_sequences_cancelled{model=\"%V\"} %uL\n"
                     "ngx_infer_sequences_preempted{model=\"%V\"} %uL\n",
                     &m->name, st->prompt_tokens, &m->name,
                     st->generated_tokens, &m->name, st->cancellations,
                     &m->name, st->preemptions);

    first = 0;
    total = 0;

    for (i = 0; i < NGX_HTTP_INFER_TIME_BUCKETS; i++) {
        first += st->ttft[i];
        total += st->itl[i];
    }

    p = ngx_http_infer_histogram(p, last,
                                 "ngx_infer_time_to_first_token_seconds",
                                 &m->name, st->ttft,
                                 ngx_http_infer_time_bounds,
                                 NGX_HTTP_INFER_TIME_BUCKETS, 1,
                                 st->ttft_sum_us, first);

    p = ngx_http_infer_histogram(p, last,
                                 "ngx_infer_inter_token_latency_seconds",
                                 &m->name, st->itl,
                                 ngx_http_infer_time_bounds,
                                 NGX_HTTP_INFER_TIME_BUCKETS, 1,
                                 st->itl_sum_us, total);

    used = __atomic_load_n(&st->kv_blocks_used, __ATOMIC_RELAXED);
    total = __atomic_load_n(&st->kv_blocks_total, __ATOMIC_RELAXED);

    return ngx_slprintf(p, last,
                        "ngx_infer_sequences_running{model=\"%V\"} %uL\n"
                        "ngx_infer_sequences_waiting{model=\"%V\"} %uL\n"
                        "ngx_infer_kv_blocks_used{model=\"%V\"} %uL\n"
                        "ngx_infer_kv_blocks_free{model=\"%V\"} %uL\n",
                        &m->name, st->running, &m->name,
                        st->waiting + m->sh->queued, &m->name, used,
                        &m->name, total > used ? total - used : 0);
}


/* Prometheus buckets are cumulative; ours are counted one by one */

static u_char *
ngx_http_infer_histogram(u_char *p, u_char *last, const char *name,
    ngx_str_t *model, const uint64_t *buckets, const uint64_t *bounds,
    ngx_uint_t n, ngx_uint_t seconds, uint64_t sum, uint64_t count)
{
    uint64_t    total;
    ngx_uint_t  i;

    total = 0;

    for (i = 0; i < n; i++) {
        total += __atomic_load_n(&buckets[i], __ATOMIC_RELAXED);

        if (i == n - 1) {
            p = ngx_slprintf(p, last, "%s_bucket{model=\"%V\",le=\"+Inf\"} "
                             "%uL\n", name, model, total);

        } else if (seconds) {
            p = ngx_slprintf(p, last, "%s_bucket{model=\"%V\",le=\"%uL.%06uL"
                             "\"} %uL\n", name, model, bounds[i] / 1000000,
                             bounds[i] % 1000000, total);

        } else {
            p = ngx_slprintf(p, last, "%s_bucket{model=\"%V\",le=\"%uL\"} "
                             "%uL\n", name, model, bounds[i], total);
        }
    }

    if (seconds) {
        p = ngx_slprintf(p, last, "%s_sum{model=\"%V\"} %uL.%06uL\n",
                         name, model, sum / 1000000, sum % 1000000);

    } else {
        p = ngx_slprintf(p, last, "%s_sum{model=\"%V\"} %uL\n",
                         name, model, sum);
    }

    return ngx_slprintf(p, last, "%s_count{model=\"%V\"} %uL\n",
                        name, model, count);
}
