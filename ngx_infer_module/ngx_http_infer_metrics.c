
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


/*
 * The metric families, each printed as one group, its HELP and TYPE lines
 * then every model's samples, as the text format wants (a parser that
 * reads it family by family, prometheus_client's, loses the type of
 * samples found after another family).  Counters of the zone's stats with
 * Triton's model and version labels; the rest with the model label; the
 * batch-tokens histogram for text models only, the generation's families
 * for decoders only.
 */

#define NGX_HTTP_INFER_ALL       0
#define NGX_HTTP_INFER_TEXT      1
#define NGX_HTTP_INFER_DECODER   2

/* what a family's samples are */
#define NGX_HTTP_INFER_S_COUNTER       0   /* a stat; model, version */
#define NGX_HTTP_INFER_S_GEN_COUNTER   1   /* a stat; model */
#define NGX_HTTP_INFER_S_BATCH_SIZE    2
#define NGX_HTTP_INFER_S_BATCH_TOKENS  3
#define NGX_HTTP_INFER_S_LATENCY       4
#define NGX_HTTP_INFER_S_TTFT          5
#define NGX_HTTP_INFER_S_ITL           6
#define NGX_HTTP_INFER_S_QUEUE_DEPTH   7
#define NGX_HTTP_INFER_S_FREE_SLOTS    8
#define NGX_HTTP_INFER_S_EXECUTORS     9
#define NGX_HTTP_INFER_S_MODEL_INFO    10
#define NGX_HTTP_INFER_S_RUNNING       11
#define NGX_HTTP_INFER_S_WAITING       12
#define NGX_HTTP_INFER_S_KV_USED       13
#define NGX_HTTP_INFER_S_KV_FREE       14

typedef struct {
    const char                 *name;
    const char                 *help;
    const char                 *type;
    ngx_uint_t                  models;
    ngx_uint_t                  sample;
    size_t                      offset;
} ngx_http_infer_family_t;


static u_char *ngx_http_infer_samples(u_char *p, u_char *last,
    ngx_http_infer_family_t *f, ngx_http_infer_model_t *m);


#define ngx_http_infer_stat(field)                                           \
    offsetof(ngx_http_infer_stats_t, field)

static ngx_http_infer_family_t  ngx_http_infer_families[] = {

    { "ngx_infer_inference_request_success",
      "Inference requests answered 200", "counter",
      NGX_HTTP_INFER_ALL, NGX_HTTP_INFER_S_COUNTER,
      ngx_http_infer_stat(request_success) },

    { "ngx_infer_inference_request_failure",
      "Inference requests answered with an error", "counter",
      NGX_HTTP_INFER_ALL, NGX_HTTP_INFER_S_COUNTER,
      ngx_http_infer_stat(request_failure) },

    { "ngx_infer_inference_count",
      "Rows computed (a request of k rows counts k; a decoder's step, its "
      "sequences)", "counter",
      NGX_HTTP_INFER_ALL, NGX_HTTP_INFER_S_COUNTER,
      ngx_http_infer_stat(inference_count) },

    { "ngx_infer_inference_token_count",
      "Tokens computed by text models (the special tokens included)",
      "counter",
      NGX_HTTP_INFER_ALL, NGX_HTTP_INFER_S_COUNTER,
      ngx_http_infer_stat(token_count) },

    { "ngx_infer_inference_exec_count",
      "Batches computed (a decoder's steps)", "counter",
      NGX_HTTP_INFER_ALL, NGX_HTTP_INFER_S_COUNTER,
      ngx_http_infer_stat(exec_count) },

    { "ngx_infer_inference_request_duration_us",
      "Cumulative time of successful requests, arrival to answer",
      "counter",
      NGX_HTTP_INFER_ALL, NGX_HTTP_INFER_S_COUNTER,
      ngx_http_infer_stat(request_duration_us) },

    { "ngx_infer_inference_queue_duration_us",
      "Cumulative time requests waited in the queue", "counter",
      NGX_HTTP_INFER_ALL, NGX_HTTP_INFER_S_COUNTER,
      ngx_http_infer_stat(queue_duration_us) },

    { "ngx_infer_inference_compute_input_duration_us",
      "Cumulative time gathering batch inputs", "counter",
      NGX_HTTP_INFER_ALL, NGX_HTTP_INFER_S_COUNTER,
      ngx_http_infer_stat(compute_input_duration_us) },

    { "ngx_infer_inference_compute_infer_duration_us",
      "Cumulative time computing batches", "counter",
      NGX_HTTP_INFER_ALL, NGX_HTTP_INFER_S_COUNTER,
      ngx_http_infer_stat(compute_infer_duration_us) },

    { "ngx_infer_inference_compute_output_duration_us",
      "Cumulative time scattering batch outputs", "counter",
      NGX_HTTP_INFER_ALL, NGX_HTTP_INFER_S_COUNTER,
      ngx_http_infer_stat(compute_output_duration_us) },

    { "ngx_infer_batch_size", "Rows in each batch", "histogram",
      NGX_HTTP_INFER_ALL, NGX_HTTP_INFER_S_BATCH_SIZE, 0 },

    { "ngx_infer_batch_tokens", "Tokens in each batch of a text model",
      "histogram",
      NGX_HTTP_INFER_TEXT, NGX_HTTP_INFER_S_BATCH_TOKENS, 0 },

    { "ngx_infer_request_duration_seconds",
      "Successful requests, arrival to answer", "histogram",
      NGX_HTTP_INFER_ALL, NGX_HTTP_INFER_S_LATENCY, 0 },

    { "ngx_infer_queue_depth", "Requests waiting in the queue", "gauge",
      NGX_HTTP_INFER_ALL, NGX_HTTP_INFER_S_QUEUE_DEPTH, 0 },

    { "ngx_infer_queue_free_slots", "Free slots of the queue", "gauge",
      NGX_HTTP_INFER_ALL, NGX_HTTP_INFER_S_FREE_SLOTS, 0 },

    { "ngx_infer_executors_ready", "Executors up", "gauge",
      NGX_HTTP_INFER_ALL, NGX_HTTP_INFER_S_EXECUTORS, 0 },

    { "ngx_infer_model_info", "The model's device and precision", "gauge",
      NGX_HTTP_INFER_ALL, NGX_HTTP_INFER_S_MODEL_INFO, 0 },

    { "ngx_infer_prompt_tokens", "Prompt tokens of a decoder's requests",
      "counter",
      NGX_HTTP_INFER_DECODER, NGX_HTTP_INFER_S_GEN_COUNTER,
      ngx_http_infer_stat(prompt_tokens) },

    { "ngx_infer_prompt_tokens_cached",
      "Prompt tokens whose keys and values were found in the KV cache",
      "counter",
      NGX_HTTP_INFER_DECODER, NGX_HTTP_INFER_S_GEN_COUNTER,
      ngx_http_infer_stat(prompt_tokens_cached) },

    { "ngx_infer_generation_tokens", "Tokens a decoder generated",
      "counter",
      NGX_HTTP_INFER_DECODER, NGX_HTTP_INFER_S_GEN_COUNTER,
      ngx_http_infer_stat(generated_tokens) },

    { "ngx_infer_sequences_cancelled",
      "Generations whose client left or that a stop string ended",
      "counter",
      NGX_HTTP_INFER_DECODER, NGX_HTTP_INFER_S_GEN_COUNTER,
      ngx_http_infer_stat(cancellations) },

    { "ngx_infer_sequences_preempted",
      "Sequences whose KV blocks were taken, to be computed again",
      "counter",
      NGX_HTTP_INFER_DECODER, NGX_HTTP_INFER_S_GEN_COUNTER,
      ngx_http_infer_stat(preemptions) },

    { "ngx_infer_time_to_first_token_seconds", "Queued to first token",
      "histogram",
      NGX_HTTP_INFER_DECODER, NGX_HTTP_INFER_S_TTFT, 0 },

    { "ngx_infer_inter_token_latency_seconds",
      "Between a generation's tokens", "histogram",
      NGX_HTTP_INFER_DECODER, NGX_HTTP_INFER_S_ITL, 0 },

    { "ngx_infer_sequences_running", "Sequences in the executors' steps",
      "gauge",
      NGX_HTTP_INFER_DECODER, NGX_HTTP_INFER_S_RUNNING, 0 },

    { "ngx_infer_sequences_waiting",
      "Requests queued or waiting for KV blocks", "gauge",
      NGX_HTTP_INFER_DECODER, NGX_HTTP_INFER_S_WAITING, 0 },

    { "ngx_infer_kv_blocks_used", "KV cache blocks holding sequences",
      "gauge",
      NGX_HTTP_INFER_DECODER, NGX_HTTP_INFER_S_KV_USED, 0 },

    { "ngx_infer_kv_blocks_free", "KV cache blocks free", "gauge",
      NGX_HTTP_INFER_DECODER, NGX_HTTP_INFER_S_KV_FREE, 0 },

    { NULL, NULL, NULL, 0, 0, 0 }
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
    ngx_uint_t                   i, head;
    ngx_http_infer_model_t     **mp;
    ngx_http_infer_family_t     *f;
    ngx_http_infer_main_conf_t  *imcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return ngx_http_infer_not_allowed(r, 0);
    }

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    imcf = ngx_http_get_module_main_conf(r, ngx_http_infer_module);
    mp = imcf->models.elts;

    /* the help lines once, then about 100 lines of up to 160 bytes a model */
    len = 8192 + imcf->models.nelts * 128 * 160;

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = b->last;
    last = b->end;

    for (f = ngx_http_infer_families; f->name; f++) {

        /* a family no model has is left out */
        head = 0;

        for (i = 0; i < imcf->models.nelts; i++) {

            if ((f->models == NGX_HTTP_INFER_TEXT && !mp[i]->tokenizer)
                || (f->models == NGX_HTTP_INFER_DECODER && !mp[i]->bpe))
            {
                continue;
            }

            if (!head) {
                p = ngx_slprintf(p, last, "# HELP %s %s.\n# TYPE %s %s\n",
                                 f->name, f->help, f->name, f->type);
                head = 1;
            }

            p = ngx_http_infer_samples(p, last, f, mp[i]);
        }
    }

    b->last = p;

    ngx_str_set(&type, "text/plain; version=0.0.4");

    return ngx_http_infer_send_buf(r, NGX_HTTP_OK, &type, b);
}


/* a family's samples of one model */

static u_char *
ngx_http_infer_samples(u_char *p, u_char *last, ngx_http_infer_family_t *f,
    ngx_http_infer_model_t *m)
{
    uint64_t                 v, used, total;
    ngx_uint_t               i;
    ngx_http_infer_stats_t  *st;
    ngx_http_infer_shctx_t  *sh;

    sh = m->sh;
    st = &sh->stats;

    switch (f->sample) {

    case NGX_HTTP_INFER_S_COUNTER:
    case NGX_HTTP_INFER_S_GEN_COUNTER:
        v = __atomic_load_n((uint64_t *) ((u_char *) st + f->offset),
                            __ATOMIC_RELAXED);

        if (f->sample == NGX_HTTP_INFER_S_GEN_COUNTER) {
            return ngx_slprintf(p, last, "%s{model=\"%V\"} %uL\n",
                                f->name, &m->name, v);
        }

        return ngx_slprintf(p, last, "%s{model=\"%V\",version=\"1\"} %uL\n",
                            f->name, &m->name, v);

    case NGX_HTTP_INFER_S_BATCH_SIZE:
        return ngx_http_infer_histogram(p, last, f->name, &m->name,
                                        st->batch_size,
                                        ngx_http_infer_batch_bounds,
                                        NGX_HTTP_INFER_BATCH_BUCKETS, 0,
                                        st->inference_count, st->exec_count);

    case NGX_HTTP_INFER_S_BATCH_TOKENS:
        return ngx_http_infer_histogram(p, last, f->name, &m->name,
                                        st->batch_tokens,
                                        ngx_http_infer_token_bounds,
                                        NGX_HTTP_INFER_TOKEN_BUCKETS, 0,
                                        st->token_count, st->exec_count);

    case NGX_HTTP_INFER_S_LATENCY:
        return ngx_http_infer_histogram(p, last, f->name, &m->name,
                                        st->latency,
                                        ngx_http_infer_latency_bounds,
                                        NGX_HTTP_INFER_LATENCY_BUCKETS, 1,
                                        st->request_duration_us,
                                        st->request_success);

    case NGX_HTTP_INFER_S_TTFT:
    case NGX_HTTP_INFER_S_ITL:
        total = 0;

        for (i = 0; i < NGX_HTTP_INFER_TIME_BUCKETS; i++) {
            total += (f->sample == NGX_HTTP_INFER_S_TTFT) ? st->ttft[i]
                                                         : st->itl[i];
        }

        if (f->sample == NGX_HTTP_INFER_S_TTFT) {
            return ngx_http_infer_histogram(p, last, f->name, &m->name,
                                            st->ttft,
                                            ngx_http_infer_time_bounds,
                                            NGX_HTTP_INFER_TIME_BUCKETS, 1,
                                            st->ttft_sum_us, total);
        }

        return ngx_http_infer_histogram(p, last, f->name, &m->name, st->itl,
                                        ngx_http_infer_time_bounds,
                                        NGX_HTTP_INFER_TIME_BUCKETS, 1,
                                        st->itl_sum_us, total);

    /* a snapshot, not under the lock: gauges are a glance */

    case NGX_HTTP_INFER_S_QUEUE_DEPTH:
        v = sh->queued;
        break;

    case NGX_HTTP_INFER_S_FREE_SLOTS:
        v = sh->nfree;
        break;

    case NGX_HTTP_INFER_S_EXECUTORS:
        v = sh->ready;
        break;

    case NGX_HTTP_INFER_S_MODEL_INFO:
        return ngx_slprintf(p, last, "%s{model=\"%V\",device=\"%V\","
                            "precision=\"%s\",max_batch=\"%ui\"} 1\n",
                            f->name, &m->name, &m->device,
                            infer_precision_name(m->precision),
                            m->max_batch);

    case NGX_HTTP_INFER_S_RUNNING:
        v = st->running;
        break;

    case NGX_HTTP_INFER_S_WAITING:
        v = st->waiting + sh->queued;
        break;

    default: /* NGX_HTTP_INFER_S_KV_USED, NGX_HTTP_INFER_S_KV_FREE */
        used = __atomic_load_n(&st->kv_blocks_used, __ATOMIC_RELAXED);
        total = __atomic_load_n(&st->kv_blocks_total, __ATOMIC_RELAXED);

        if (f->sample == NGX_HTTP_INFER_S_KV_USED) {
            v = used;

        } else {
            v = total > used ? total - used : 0;
        }
    }

    return ngx_slprintf(p, last, "%s{model=\"%V\"} %uL\n", f->name, &m->name,
                        v);
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
