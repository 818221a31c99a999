
/*
 * ngx_infer: what the module's files share.
 *
 * Four layers of state, as in nginx's own shared-memory modules:
 * ngx_http_infer_shctx_t lives in the model's shared memory zone (slots,
 * FIFO, free list, counters); ngx_http_infer_model_t is the per-process
 * view of a declared model; ngx_http_infer_loc_conf_t says what a location
 * serves; ngx_http_infer_ctx_t is one request's state.
 */


#ifndef _NGX_HTTP_INFER_MODULE_H_INCLUDED_
#define _NGX_HTTP_INFER_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "infer_model.h"
#include "infer_backend.h"
#include "infer_kserve.h"
#include "infer_backend_cuda.h"
#include "infer_precision.h"
#include "infer_tokenizer.h"
#include "infer_bpe.h"
#include "infer_chat.h"
#include "infer_sample.h"


#define NGX_HTTP_INFER_VERSION        "0.1.0"
#define NGX_HTTP_INFER_MAX_EXECUTORS  256


/*
 * Slot states.  A slot goes FREE -> FILLING (its owner decodes into it)
 * -> QUEUED (in the FIFO) -> RUNNING (an executor holds it) -> DONE (the
 * answer is in it, the owner woken), and back to FREE when its owner is
 * done with it.  Work that answers several times before it is done (a
 * streamed generation) stays RUNNING while the executor publishes
 * progress (slot->produced, and a wake-up that says "progress"), then
 * goes DONE as any other.  An owner that goes away marks a slot that an
 * executor holds CANCELLED; the executor frees it.
 */
#define NGX_HTTP_INFER_FREE           0
#define NGX_HTTP_INFER_FILLING        1
#define NGX_HTTP_INFER_QUEUED         2
#define NGX_HTTP_INFER_RUNNING        3
#define NGX_HTTP_INFER_DONE           4
#define NGX_HTTP_INFER_CANCELLED      5


/* what a wake-up message tells the owner of a slot */
#define NGX_HTTP_INFER_WAKE_DONE      0
#define NGX_HTTP_INFER_WAKE_PROGRESS  1


/*
 * A slot's payload is allocated from the zone's slab when the request is
 * decoded, sized by what the request brings: the length of each of its
 * sequences (nseqs x int32), its inputs (ntokens rows of the model's
 * input), room for its outputs (nseqs rows of the model's output).
 */
typedef struct {
    uint32_t                    state;
    uint32_t                    nseqs;       /* an MLP request: its rows */
    uint32_t                    ntokens;
    ngx_pid_t                   owner;
    ngx_pid_t                   executor;    /* 0 until claimed */
    uint32_t                    batch_rows;  /* sequences in the batch that
                                                ran it */
    uint64_t                    ticket;      /* tells reuses of a slot apart */
    int64_t                     t_enqueue;   /* CLOCK_MONOTONIC, ns */
    int64_t                     t_start;     /* its batch: gathered from */
    int64_t                     t_run;       /* computed from */
    int64_t                     t_end;       /* scattered from */
    int64_t                     t_done;      /* the batch's outputs out */
    uint32_t                    failed;      /* the backend failed the batch */
    u_char                     *payload;
    size_t                      payload_size;
    size_t                      in_off;
    size_t                      out_off;
    char                        err[128];
} ngx_http_infer_slot_t;


/*
 * Counters of a model, in its zone, so that every worker reports the same
 * totals and they go on across a reload that keeps the model.  Named after
 * Triton's where they mean the same; added to with relaxed atomics.
 */

#define NGX_HTTP_INFER_BATCH_BUCKETS    10   /* 1, 2, 4, ... 256, +Inf */
#define NGX_HTTP_INFER_LATENCY_BUCKETS  15   /* 0.5 ms ... 10 s, +Inf */
#define NGX_HTTP_INFER_TOKEN_BUCKETS    13   /* 16, 32, ... 32768, +Inf */
#define NGX_HTTP_INFER_TIME_BUCKETS     15   /* 1 ms ... 20 s, +Inf */

typedef struct {
    uint64_t                    request_success;
    uint64_t                    request_failure;
    uint64_t                    inference_count;     /* rows */
    uint64_t                    token_count;         /* of text models */
    uint64_t                    exec_count;          /* batches */
    uint64_t                    request_duration_us; /* of the successes */
    uint64_t                    queue_duration_us;
    uint64_t                    compute_input_duration_us;
    uint64_t                    compute_infer_duration_us;
    uint64_t                    compute_output_duration_us;
    uint64_t                    batch_size[NGX_HTTP_INFER_BATCH_BUCKETS];
    uint64_t                    latency[NGX_HTTP_INFER_LATENCY_BUCKETS];
    uint64_t                    batch_tokens[NGX_HTTP_INFER_TOKEN_BUCKETS];

    /* a decoder's: the generation */
    uint64_t                    prompt_tokens;
    uint64_t                    prompt_tokens_cached;
    uint64_t                    generated_tokens;
    uint64_t                    cancellations;
    uint64_t                    preemptions;
    uint64_t                    ttft[NGX_HTTP_INFER_TIME_BUCKETS];
    uint64_t                    ttft_sum_us;
    uint64_t                    itl[NGX_HTTP_INFER_TIME_BUCKETS];
    uint64_t                    itl_sum_us;
    /* what the executors have now, summed over them */
    uint64_t                    running;
    uint64_t                    waiting;     /* claimed, not admitted */
    uint64_t                    kv_blocks_used;
    uint64_t                    kv_blocks_total;

    /*
     * Triton's statistics extension, in nanoseconds: the requests
     * answered (request_success, request_failure) from arrival; of the
     * successes that a batch computed, each with its batch's phases
     */
    uint64_t                    last_inference_ms;   /* since the epoch */
    uint64_t                    success_ns;
    uint64_t                    failure_ns;
    uint64_t                    computed;
    uint64_t                    queue_ns;
    uint64_t                    compute_input_ns;
    uint64_t                    compute_infer_ns;
    uint64_t                    compute_output_ns;
} ngx_http_infer_stats_t;


/* the batches of one size (rows), for Triton's batch_stats */
typedef struct {
    uint64_t                    count;
    uint64_t                    compute_input_ns;
    uint64_t                    compute_infer_ns;
    uint64_t                    compute_output_ns;
} ngx_http_infer_batch_stat_t;


#define ngx_http_infer_count(field, n)                                       \
    (void) __atomic_add_fetch(&(field), (uint64_t) (n), __ATOMIC_RELAXED)


typedef struct {
    uint32_t                    zone_id;

    /* the futex word executors sleep on, bumped on every enqueue */
    uint32_t                    seq;
    uint32_t                    sleepers;
    uint32_t                    filling;
    /*
     * Who is there, by pid, so that a process that dies without a word
     * (kill -9, a crash) can be told from one that is alive
     */
    uint32_t                    ready;       /* executors up */
    uint32_t                    attached;    /* workers that use the queue */
    ngx_pid_t                   ready_pids[NGX_HTTP_INFER_MAX_EXECUTORS];
    ngx_pid_t                   attached_pids[NGX_MAX_PROCESSES];

    uint32_t                    nslots;
    uint32_t                    head;        /* FIFO ring of slot numbers */
    uint32_t                    queued;
    uint32_t                    nfree;       /* free list, a stack: the */
                                             /* warmest slot is reused */
    uint64_t                    next_ticket;

    size_t                      in_size;     /* floats per input row */
    size_t                      out_size;    /* floats per output row */

    ngx_http_infer_stats_t      stats;

    uint32_t                   *fifo;
    uint32_t                   *free;
    ngx_http_infer_slot_t      *slots;

    /* by rows - 1, for batches of 1 to max_batch rows */
    uint32_t                    nbatch_stats;
    ngx_http_infer_batch_stat_t  *batch_stats;
} ngx_http_infer_shctx_t;


typedef struct ngx_http_infer_ctx_s  ngx_http_infer_ctx_t;
typedef struct ngx_http_infer_codec_s  ngx_http_infer_codec_t;


/*
 * A request's error for the client, as the request path hands it to
 * ngx_http_infer_send_error_param(): the status (0: 400), the field it
 * is about and an error code, which OpenAI's error shape carries (NULL:
 * none), and the message.  The field is a copy, in param_buf: a decoder
 * formats one ("messages[3].content[1]") in its request, which lives on
 * the decoder's stack and is gone by the time the error is sent; a code
 * is a string constant.
 */
typedef struct {
    ngx_uint_t                  status;
    const char                 *param;
    const char                 *code;
    char                        msg[INFER_KSERVE_ERRLEN];
    char                        param_buf[64];
} ngx_http_infer_err_t;


typedef struct {
    ngx_str_t                   name;
    ngx_str_t                   path;
    ngx_str_t                   device;      /* "cpu", "cuda:0", as run */
    ngx_int_t                   gpu;         /* -1: the CPU */
    ngx_uint_t                  precision;   /* INFER_PRECISION_* */
    char                       *cuda_so;     /* ngx_infer_cuda.so's path */

    ngx_uint_t                  max_batch;   /* sequences */
    ngx_uint_t                  max_batch_tokens;
    ngx_msec_t                  batch_timeout;
    ngx_uint_t                  queue;
    ngx_uint_t                  instances;

    infer_model_t              *model;

    /*
     * A text model (its input is BYTES): the tokenizer.json beside its
     * config.json, the most tokens of one text (max_seq=), whether a
     * longer one is cut (truncate=) or refused; NULL for a model of FP32
     * rows
     */
    infer_tokenizer_t          *tokenizer;
    ngx_uint_t                  max_seq;
    ngx_uint_t                  truncate;
    ngx_uint_t                  n_special;   /* ids added around a text */
    int64_t                     vocab;       /* token ids are below it */
    ngx_uint_t                  normalized;  /* its outputs are unit
                                                vectors */
    time_t                      created;     /* loaded, for OpenAI's
                                                model objects */

    /*
     * A decoder (a GGUF Llama): its tokenizer, chat template and end of
     * generation ids, the KV cache of each executor (kv_cache=, bytes),
     * the context (ctx=) and the default most new tokens (max_tokens=);
     * bpe is NULL for other models
     */
    infer_bpe_t                *bpe;
    infer_chat_template_t      *chat;
    ngx_str_t                   chat_name;   /* chat_template= */
    int32_t                     eog[8];
    ngx_uint_t                  n_eog;
    size_t                      kv_cache;
    ngx_uint_t                  kv_blocks;
    ngx_uint_t                  ctx;
    ngx_uint_t                  max_tokens;

    ngx_shm_zone_t             *shm_zone;
    ngx_slab_pool_t            *shpool;
    ngx_http_infer_shctx_t     *sh;

    /* per process: requests this worker has parked, by slot */
    ngx_http_infer_ctx_t      **pending;

    /* per process: the executor threads this worker hosts */
    ngx_array_t                 executors;

    /* per process: wakes the executors once per turn of the event loop */
    ngx_event_t                 kick;

    /* per process: where a request's inputs are decoded before they go
     * to a payload of their own size, max_batch rows */
    float                      *scratch;

    u_char                     *conf_file;
    ngx_uint_t                  conf_line;
} ngx_http_infer_model_t;


typedef struct {
    ngx_array_t                 models;      /* ngx_http_infer_model_t * */
    ngx_msec_t                  max_timeout; /* the longest infer_timeout */
    ngx_uint_t                  max_batch;   /* the largest max_batch */
} ngx_http_infer_main_conf_t;


#define NGX_HTTP_INFER_API_NONE       0
#define NGX_HTTP_INFER_API_KSERVE     1
#define NGX_HTTP_INFER_API_METRICS    2
#define NGX_HTTP_INFER_API_OPENAI     3


typedef struct {
    ngx_http_complex_value_t   *model;       /* infer name | $var */
    ngx_uint_t                  api;         /* infer_api kserve,
                                                infer_metrics */
    ngx_msec_t                  timeout;
} ngx_http_infer_loc_conf_t;


/*
 * One input of a text model as an API's codec decoded it: UTF-8 text to
 * tokenize, or token ids that the client tokenized itself (the special
 * tokens included)
 */
typedef struct {
    u_char                     *text;
    size_t                      len;
    const int32_t              *ids;        /* NULL: text */
    size_t                      n_ids;
} ngx_http_infer_text_t;


struct ngx_http_infer_ctx_s {
    ngx_http_request_t         *request;
    ngx_http_infer_model_t     *model;

    const ngx_http_infer_codec_t  *codec;

    uint32_t                    slot;
    uint64_t                    ticket;
    ngx_uint_t                  rows;        /* sequences: an MLP's rows */
    ngx_uint_t                  ntokens;
    u_char                     *input;       /* the decoded FP32 rows: the
                                                worker's scratch, or the
                                                raw body (any alignment) */
    ngx_http_infer_text_t      *texts;       /* a text model's: rows */
    ngx_uint_t                  dimensions;  /* OpenAI: 0 all */

    ngx_str_t                   id;          /* raw JSON, with quotes */
    ngx_uint_t                  want_output; /* 0: the request named an
                                                output that we lack */

    ngx_event_t                 timer;

    ngx_msec_t                  start;
    int64_t                     t_arrive;    /* CLOCK_MONOTONIC, ns */
    ngx_msec_t                  timeout;     /* the request's own, 0: none */
    ngx_uint_t                  batch_rows;
    ngx_uint_t                  queue_time_us;
    ngx_uint_t                  compute_time_us;

    ngx_buf_t                  *error_body;  /* JSON for nginx's own error */

    void                       *gen;         /* a generation's state
                                                (ngx_http_infer_chat.c) */

    unsigned                    raw:1;       /* octet-stream in and out */
    unsigned                    binary:1;    /* binary tensor data out */
    unsigned                    base64:1;    /* OpenAI's encoding_format */
    unsigned                    parked:1;
    unsigned                    done:1;
    unsigned                    error_sent:1;
};


extern ngx_module_t  ngx_http_infer_module;


typedef struct {
    uint32_t                    zone_id;
    uint32_t                    kind;        /* NGX_HTTP_INFER_WAKE_* */
    uint32_t                    slot;
    uint32_t                    pad;
    uint64_t                    ticket;
} ngx_http_infer_wakeup_msg_t;


/*
 * An API's side of the request path (KServe's, OpenAI's): decode reads
 * the body into ctx: a dense model's rows into the worker's scratch
 * (ctx->input, ctx->rows, ctx->ntokens), a text model's inputs as
 * ctx->texts (ctx->rows of them), which the request path then tokenizes
 * into the payload; or fills err for the client.  answer writes the
 * response from the outputs in the slot; progress, for streamed work,
 * sends what the executor has produced so far.  what names the request
 * in messages ("a KServe v2 inference request"), item one text of it
 * ("input[%ui]").
 */
struct ngx_http_infer_codec_s {
    const char                 *what;
    const char                 *item;
    ngx_int_t                 (*decode)(ngx_http_infer_ctx_t *ctx,
                                        u_char *body, size_t len,
                                        ngx_http_infer_err_t *err);
    ngx_int_t                 (*answer)(ngx_http_request_t *r,
                                        ngx_http_infer_ctx_t *ctx);
    ngx_int_t                 (*progress)(ngx_http_request_t *r,
                                          ngx_http_infer_ctx_t *ctx);
};


/* ngx_http_infer_device.c: device= and precision= checked, the GPU probed */
ngx_int_t ngx_http_infer_device(ngx_conf_t *cf, ngx_http_infer_model_t *m);

/* ngx_http_infer_zone.c: the zone and its slots */
int64_t ngx_http_infer_now(void);
size_t ngx_http_infer_zone_size(ngx_http_infer_model_t *m);
ngx_int_t ngx_http_infer_init_zone(ngx_shm_zone_t *shm_zone, void *data);
ngx_int_t ngx_http_infer_slot_alloc(ngx_http_infer_model_t *m,
    ngx_http_infer_ctx_t *ctx);
ngx_int_t ngx_http_infer_slot_payload(ngx_http_infer_model_t *m,
    ngx_http_infer_ctx_t *ctx, ngx_uint_t nseqs, ngx_uint_t ntokens,
    ngx_http_infer_err_t *err);
ngx_int_t ngx_http_infer_slot_bytes(ngx_http_infer_model_t *m,
    ngx_http_infer_ctx_t *ctx, size_t size, ngx_http_infer_err_t *err);
void ngx_http_infer_slot_enqueue(ngx_http_infer_model_t *m,
    ngx_http_infer_ctx_t *ctx);
void ngx_http_infer_slot_release(ngx_http_infer_model_t *m,
    ngx_http_infer_ctx_t *ctx);
void ngx_http_infer_slot_free_locked(ngx_http_infer_model_t *m,
    uint32_t slot);
float *ngx_http_infer_slot_input(ngx_http_infer_model_t *m, uint32_t slot);
float *ngx_http_infer_slot_output(ngx_http_infer_model_t *m, uint32_t slot);
int32_t *ngx_http_infer_slot_lens(ngx_http_infer_model_t *m, uint32_t slot);
void ngx_http_infer_kick_handler(ngx_event_t *ev);
void ngx_http_infer_attach(ngx_http_infer_model_t *m, ngx_uint_t attach);
void ngx_http_infer_ready(ngx_http_infer_model_t *m, ngx_uint_t add);
ngx_uint_t ngx_http_infer_is_ready(ngx_http_infer_model_t *m);
ngx_uint_t ngx_http_infer_pid_dead(ngx_pid_t pid);
void ngx_http_infer_reap(ngx_http_infer_model_t *m, ngx_log_t *log);

/* ngx_http_infer_executor.c */
ngx_int_t ngx_http_infer_executors_start(ngx_cycle_t *cycle,
    ngx_http_infer_model_t *m, ngx_uint_t worker, ngx_uint_t nworkers);
void ngx_http_infer_executors_stop(ngx_http_infer_model_t *m,
    ngx_uint_t drain, ngx_msec_t max_wait);
ngx_int_t ngx_http_infer_slot_progress(ngx_http_infer_model_t *m, int fd,
    uint32_t slot);

/* ngx_http_infer_wakeup.c */
ngx_int_t ngx_http_infer_wakeup_init(ngx_cycle_t *cycle);
void ngx_http_infer_wakeup_done(ngx_cycle_t *cycle);
ngx_int_t ngx_http_infer_wakeup_send(int fd, ngx_pid_t pid,
    ngx_http_infer_wakeup_msg_t *msg, ngx_uint_t n);
ngx_int_t ngx_http_infer_wakeup_lost(int fd);
void ngx_http_infer_futex_wait(uint32_t *addr, uint32_t val, int64_t ns);
void ngx_http_infer_futex_wake(uint32_t *addr, int n);

/* ngx_http_infer_request.c: the owner's side of a request */
ngx_int_t ngx_http_infer_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_infer_request(ngx_http_request_t *r,
    ngx_http_infer_model_t *m, const ngx_http_infer_codec_t *codec);
void ngx_http_infer_wake(ngx_http_infer_model_t *m, uint32_t slot,
    uint64_t ticket, ngx_uint_t kind);
ngx_table_elt_t *ngx_http_infer_header_in(ngx_http_request_t *r,
    const char *name);
ngx_int_t ngx_http_infer_body(ngx_http_request_t *r, u_char **body,
    size_t *len, ngx_http_infer_err_t *err);
void *ngx_http_infer_decode_room(ngx_log_t *log, size_t size);

/*
 * A generation's slot payload: this header, the prompt's token ids
 * (s->in_off, s->ntokens of them), and the stream of generated ids
 * (s->out_off: an infer_stream_t of max_new int32 units, so that it never
 * fills: a slow client holds back nothing but itself).
 */
typedef struct {
    infer_sample_params_t       sampling;
    int32_t                     max_new;
    int32_t                     ignore_eos;
    int32_t                     n_gen;       /* the executor's count */
    int32_t                     finish;      /* INFER_OAI_FINISH_* */
    int64_t                     t_first;     /* the first token, ns */
} ngx_http_infer_gen_t;

#define ngx_http_infer_slot_gen(m, slot)                                     \
    ((ngx_http_infer_gen_t *) (m)->sh->slots[slot].payload)

/* ngx_http_infer_llm.c: decoders' configuration */
ngx_int_t ngx_http_infer_llm_option(ngx_conf_t *cf,
    ngx_http_infer_model_t *m, ngx_str_t *value);
ngx_int_t ngx_http_infer_llm_init(ngx_conf_t *cf, ngx_http_infer_model_t *m);
size_t ngx_http_infer_llm_payload_size(ngx_uint_t n_prompt,
    ngx_uint_t max_new);

/* ngx_http_infer_generate.c: a decoder's executor loop */
void ngx_http_infer_generate(ngx_http_infer_model_t *m, ngx_log_t *log,
    void *runner, int fd, volatile ngx_uint_t *stop,
    const int64_t *drain_until);

/* ngx_http_infer_chat.c: /v1/chat/completions and /v1/completions */
ngx_int_t ngx_http_infer_chat_handler(ngx_http_request_t *r,
    ngx_uint_t chat);
ngx_int_t ngx_http_infer_gen_payload(ngx_http_infer_ctx_t *ctx,
    ngx_http_infer_err_t *err);

/* ngx_http_infer_sse.c: server-sent events */
ngx_int_t ngx_http_infer_sse_stalled(ngx_http_request_t *r,
    ngx_http_infer_ctx_t *ctx);
ngx_int_t ngx_http_infer_sse_headers(ngx_http_request_t *r);
ngx_int_t ngx_http_infer_sse_send(ngx_http_request_t *r, u_char *p,
    size_t len, ngx_uint_t last);
ngx_int_t ngx_http_infer_sse_error(ngx_http_request_t *r, const char *msg);

/* ngx_http_infer_text.c: text models */
ngx_int_t ngx_http_infer_text_init(ngx_conf_t *cf, ngx_http_infer_model_t *m);
ngx_int_t ngx_http_infer_text_payload(ngx_http_infer_ctx_t *ctx,
    ngx_http_infer_err_t *err);

/* ngx_http_infer_encoding.c: bodies sent compressed */
ngx_int_t ngx_http_infer_decode_body(ngx_http_request_t *r, u_char **body,
    size_t *len, ngx_http_infer_err_t *err);

/* ngx_http_infer_response.c */
ngx_int_t ngx_http_infer_not_allowed(ngx_http_request_t *r, ngx_uint_t post);
ngx_int_t ngx_http_infer_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *fmt, ...);
ngx_int_t ngx_http_infer_send_error_param(ngx_http_request_t *r,
    ngx_uint_t status, const char *param, const char *code,
    const char *fmt, ...);
ngx_int_t ngx_http_infer_send_json(ngx_http_request_t *r, ngx_uint_t status,
    ngx_buf_t *b);
ngx_int_t ngx_http_infer_send_buf(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *type, ngx_buf_t *b);
ngx_int_t ngx_http_infer_err(ngx_http_infer_err_t *err, ngx_uint_t status,
    const char *param, const char *code, const char *fmt, ...);
ngx_buf_t *ngx_http_infer_error_body(ngx_http_request_t *r,
    ngx_uint_t status, const char *param, const char *code, u_char *msg,
    size_t len);

/* ngx_http_infer_errors.c: nginx's own errors in the API's JSON */
ngx_uint_t ngx_http_infer_error_page(ngx_http_request_t *r,
    ngx_uint_t status);
ngx_int_t ngx_http_infer_filter_init(ngx_conf_t *cf);

/* ngx_http_infer_module.c */
ngx_http_infer_model_t *ngx_http_infer_find_model(
    ngx_http_infer_main_conf_t *imcf, ngx_str_t *name);
ngx_http_infer_model_t *ngx_http_infer_model_by_name(ngx_http_request_t *r,
    ngx_str_t *name);
ngx_http_infer_model_t *ngx_http_infer_find_zone(uint32_t zone_id);
u_char *ngx_http_infer_api_path(ngx_str_t *uri, u_char version);

/* ngx_http_infer_metrics.c */
ngx_int_t ngx_http_infer_metrics_handler(ngx_http_request_t *r);
void ngx_http_infer_count_request(ngx_http_infer_model_t *m,
    ngx_http_infer_ctx_t *ctx, ngx_uint_t ok);
void ngx_http_infer_count_time(uint64_t *buckets, uint64_t *sum,
    int64_t ns);
void ngx_http_infer_count_batch(ngx_http_infer_stats_t *st,
    ngx_uint_t rows);
void ngx_http_infer_count_computed(ngx_http_infer_model_t *m,
    ngx_http_infer_slot_t *s);
void ngx_http_infer_count_phases(ngx_http_infer_shctx_t *sh,
    ngx_uint_t rows, int64_t t_start, int64_t t_run, int64_t t_end,
    int64_t t_done);

/* ngx_http_infer_kserve.c */
ngx_int_t ngx_http_infer_kserve_handler(ngx_http_request_t *r);
extern const ngx_http_infer_codec_t  ngx_http_infer_kserve_codec;

/* ngx_http_infer_triton.c: Triton's extensions of KServe v2 */
ngx_int_t ngx_http_infer_triton_config(ngx_http_request_t *r,
    ngx_http_infer_model_t *m);
ngx_int_t ngx_http_infer_triton_stats(ngx_http_request_t *r,
    ngx_http_infer_model_t *m);
ngx_int_t ngx_http_infer_triton_repository(ngx_http_request_t *r,
    u_char *p, u_char *end);

/* ngx_http_infer_openai.c */
ngx_int_t ngx_http_infer_openai_handler(ngx_http_request_t *r);
ngx_http_infer_model_t *ngx_http_infer_oai_model(ngx_http_request_t *r,
    const char *p, size_t len, ngx_str_t *name, ngx_http_infer_err_t *err);


#endif /* _NGX_HTTP_INFER_MODULE_H_INCLUDED_ */
