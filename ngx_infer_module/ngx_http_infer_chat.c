
/*
 * ngx_infer: OpenAI's /v1/chat/completions and /v1/completions, the
 * owner's side of a generation.
 *
 * The body is decoded (kernels/infer_openai_chat_json.c), the messages
 * go through the model's chat template, the text is tokenized in the
 * worker, and the prompt's ids, the sampling parameters and a stream of
 * room for every token the request may get go into its slot's payload.
 * The executor (ngx_http_infer_generate.c) puts tokens into the stream
 * and wakes the worker once per step; the worker decodes them (never a
 * partial UTF-8 character), holds back what could begin a stop string,
 * and sends each piece as a server-sent event through the output filter
 * chain, flushed; or, not streamed, keeps the text for the answer.  A
 * stop string found ends the request at once: the slot is released,
 * which cancels the sequence, as a client that goes away does.
 *
 * The headers go with the first token, so that a request that gets
 * none within infer_timeout is still answered 504 and an error before
 * it has its status.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_infer_module.h"
#include "infer_openai_chat.h"
#include "infer_stop.h"
#include "infer_stream.h"


#define NGX_HTTP_INFER_TAKE  64       /* tokens taken from the stream at
                                         once */


typedef struct {
    ngx_uint_t                  chat;
    int32_t                    *prompt;
    ngx_uint_t                  n_prompt;
    infer_sample_params_t       sampling;
    int32_t                     max_new;
    int32_t                     ignore_eos;
    ngx_uint_t                  n_seen;      /* tokens taken */
    infer_stop_t                stop;
    infer_bpe_stream_t          dec;
    infer_oai_gen_t             g;
    u_char                      id[40];
    u_char                     *take;        /* a batch of tokens' text */
    u_char                     *piece;       /* one token's bytes */
    u_char                     *text;        /* not streamed: the answer */
    size_t                      text_len;
    size_t                      text_cap;
    unsigned                    stream:1;
    unsigned                    include_usage:1;
    unsigned                    started:1;   /* the first token came */
    unsigned                    role_sent:1;
    unsigned                    stopped:1;   /* a stop string was found */
} ngx_http_infer_chat_t;


static ngx_int_t ngx_http_infer_chat_decode(ngx_http_infer_ctx_t *ctx,
    u_char *body, size_t len, ngx_http_infer_err_t *err);
static ngx_int_t ngx_http_infer_completion_decode(ngx_http_infer_ctx_t *ctx,
    u_char *body, size_t len, ngx_http_infer_err_t *err);
static ngx_int_t ngx_http_infer_gen_decode(ngx_http_infer_ctx_t *ctx,
    u_char *body, size_t len, ngx_uint_t chat, ngx_http_infer_err_t *err);
static ngx_int_t ngx_http_infer_gen_prompt(ngx_http_infer_ctx_t *ctx,
    infer_oai_gen_request_t *req, ngx_http_infer_chat_t *st,
    ngx_http_infer_err_t *err);
static ngx_int_t ngx_http_infer_gen_params(ngx_http_infer_ctx_t *ctx,
    infer_oai_gen_request_t *req, ngx_http_infer_chat_t *st,
    ngx_http_infer_err_t *err);
static ngx_int_t ngx_http_infer_gen_progress(ngx_http_request_t *r,
    ngx_http_infer_ctx_t *ctx);
static ngx_int_t ngx_http_infer_gen_answer(ngx_http_request_t *r,
    ngx_http_infer_ctx_t *ctx);
static ngx_int_t ngx_http_infer_gen_drain(ngx_http_request_t *r,
    ngx_http_infer_ctx_t *ctx);
static ngx_int_t ngx_http_infer_gen_take(ngx_http_request_t *r,
    ngx_http_infer_ctx_t *ctx, u_char **text, size_t *len);
static ngx_int_t ngx_http_infer_gen_chunk(ngx_http_request_t *r,
    ngx_http_infer_chat_t *st, u_char *text, size_t len,
    infer_oai_finish_e finish, ngx_uint_t last);
static ngx_int_t ngx_http_infer_gen_end(ngx_http_request_t *r,
    ngx_http_infer_ctx_t *ctx, infer_oai_finish_e finish);


static const ngx_http_infer_codec_t  ngx_http_infer_chat_codec = {
    "an OpenAI chat completion request",   /* what */
    "messages[%ui]",                       /* item */
    ngx_http_infer_chat_decode,            /* decode */
    ngx_http_infer_gen_answer,             /* answer */
    ngx_http_infer_gen_progress            /* progress */
};


static const ngx_http_infer_codec_t  ngx_http_infer_completion_codec = {
    "an OpenAI completion request",        /* what */
    "prompt",                              /* item */
    ngx_http_infer_completion_decode,      /* decode */
    ngx_http_infer_gen_answer,             /* answer */
    ngx_http_infer_gen_progress            /* progress */
};


ngx_int_t
ngx_http_infer_chat_handler(ngx_http_request_t *r, ngx_uint_t chat)
{
    if (r->method != NGX_HTTP_POST) {
        return ngx_http_infer_not_allowed(r, 1);
    }

    return ngx_http_infer_request(r, NULL,
                                  chat ? &ngx_http_infer_chat_codec
                                       : &ngx_http_infer_completion_codec);
}


static ngx_int_t
ngx_http_infer_chat_decode(ngx_http_infer_ctx_t *ctx, u_char *body,
    size_t len, ngx_http_infer_err_t *err)
{
    return ngx_http_infer_gen_decode(ctx, body, len, 1, err);
}


static ngx_int_t
ngx_http_infer_completion_decode(ngx_http_infer_ctx_t *ctx, u_char *body,
    size_t len, ngx_http_infer_err_t *err)
{
    return ngx_http_infer_gen_decode(ctx, body, len, 0, err);
}


static ngx_int_t
ngx_http_infer_gen_decode(ngx_http_infer_ctx_t *ctx, u_char *body,
    size_t len, ngx_uint_t chat, ngx_http_infer_err_t *err)
{
    int                          rc;
    u_char                      *room;
    size_t                       i;
    ngx_str_t                    name;
    ngx_http_request_t          *r;
    ngx_http_infer_chat_t       *st;
    ngx_http_infer_model_t      *m;
    infer_oai_gen_request_t      oai, *req;

    r = ctx->request;
    req = &oai;

    ngx_memzero(req, offsetof(infer_oai_gen_request_t, err));

    /* a message takes at least 20 bytes of JSON, an id 2, a bias 5 */
    req->max_messages = len / 20 + 1;
    req->text_cap = len;
    req->ids_cap = len / 2 + 1;
    req->bias_cap = INFER_SAMPLE_MAX_BIAS;

    room = ngx_http_infer_decode_room(r->connection->log,
                                      req->max_messages
                                      * sizeof(infer_chat_msg_t)
                                      + req->bias_cap
                                        * sizeof(infer_oai_bias_t)
                                      + req->ids_cap * sizeof(int32_t)
                                      + req->text_cap);
    if (room == NULL) {
        return ngx_http_infer_err(err, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL,
                                  NULL, "out of memory");
    }

    req->messages = (infer_chat_msg_t *) room;
    req->bias = (infer_oai_bias_t *) (req->messages + req->max_messages);
    req->ids = (int32_t *) (req->bias + req->bias_cap);
    req->text = (char *) (req->ids + req->ids_cap);

    rc = chat ? infer_oai_decode_chat(req, (char *) body, len)
              : infer_oai_decode_completion(req, (char *) body, len);

    if (rc != 0) {
        return ngx_http_infer_err(err, req->status, req->param, req->code,
                                  "%s", req->err);
    }

    m = ngx_http_infer_oai_model(r, req->model.p, req->model.len, &name,
                                 err);
    if (m == NULL) {
        return NGX_DECLINED;
    }

    if (m->bpe == NULL) {
        return ngx_http_infer_err(err, NGX_HTTP_BAD_REQUEST, "model", NULL,
                                  "model \"%V\" does not generate text "
                                  "(architecture \"%s\")", &name,
                                  m->model->arch->name);
    }

    for (i = 0; i < req->nbias; i++) {
        if (req->bias[i].id >= m->vocab) {
            return ngx_http_infer_err(err, NGX_HTTP_BAD_REQUEST,
                                      "logit_bias", NULL, "Invalid "
                                      "'logit_bias': token %D is not in "
                                      "the vocabulary of model \"%V\" (%L "
                                      "tokens)", req->bias[i].id, &name,
                                      m->vocab);
        }
    }

    st = ngx_pcalloc(r->pool, sizeof(ngx_http_infer_chat_t));
    if (st == NULL) {
        return ngx_http_infer_err(err, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL,
                                  NULL, "out of memory");
    }

    ctx->model = m;
    st->chat = chat;
    st->stream = req->stream ? 1 : 0;
    st->include_usage = req->include_usage ? 1 : 0;

    if (ngx_http_infer_gen_prompt(ctx, req, st, err) != NGX_OK
        || ngx_http_infer_gen_params(ctx, req, st, err) != NGX_OK)
    {
        return NGX_DECLINED;
    }

    /* the answer's id, object and model */
    ngx_sprintf(st->id, "%016xL%08xD%Z", (uint64_t) ctx->t_arrive,
                (uint32_t) ngx_random());

    st->g.id = (char *) st->id;
    st->g.id_len = ngx_strlen(st->id);
    st->g.model = (char *) m->name.data;
    st->g.model_len = m->name.len;
    st->g.created = ngx_time();
    st->g.include_usage = st->include_usage;

    infer_bpe_stream_init(&st->dec, 0);

    ctx->gen = st;
    ctx->rows = 1;
    ctx->ntokens = st->n_prompt;

    return NGX_OK;
}


/* the prompt's ids: the messages through the template, or the prompt */

static ngx_int_t
ngx_http_infer_gen_prompt(ngx_http_infer_ctx_t *ctx,
    infer_oai_gen_request_t *req, ngx_http_infer_chat_t *st,
    ngx_http_infer_err_t *err)
{
    char                    *text, msg[INFER_ERRLEN];
    size_t                   len, n, cap, i;
    unsigned                 flags;
    ngx_http_request_t      *r;
    ngx_http_infer_model_t  *m;

    r = ctx->request;
    m = ctx->model;
    flags = INFER_BPE_SPECIAL;

    if (st->chat) {
        cap = infer_chat_apply_size(m->chat, req->messages, req->nmessages);

        text = ngx_pnalloc(r->pool, cap + 1);
        if (text == NULL) {
            return ngx_http_infer_err(err, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                      NULL, NULL, "out of memory");
        }

        len = infer_chat_apply(m->chat, req->messages, req->nmessages, 1,
                               text, msg, sizeof(msg));
        if (len == (size_t) -1) {
            return ngx_http_infer_err(err, NGX_HTTP_BAD_REQUEST, "messages",
                                      NULL, "%s", msg);
        }

    } else if (req->prompt_kind == INFER_OAI_TOKENS) {
        for (i = 0; i < req->n_prompt_ids; i++) {
            if (req->prompt_ids[i] >= m->vocab) {
                return ngx_http_infer_err(err, NGX_HTTP_BAD_REQUEST,
                                          "prompt", NULL, "Invalid "
                                          "'prompt': token %D is not in the "
                                          "vocabulary of model \"%V\" (%L "
                                          "tokens)", req->prompt_ids[i],
                                          &m->name, m->vocab);
            }
        }

        st->prompt = ngx_palloc(r->pool,
                                (req->n_prompt_ids + 1) * sizeof(int32_t));
        if (st->prompt == NULL) {
            return ngx_http_infer_err(err, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                      NULL, NULL, "out of memory");
        }

        ngx_memcpy(st->prompt, req->prompt_ids,
                   req->n_prompt_ids * sizeof(int32_t));
        st->n_prompt = req->n_prompt_ids;
        goto check;

    } else {
        text = (char *) req->prompt.p;
        len = req->prompt.len;
        flags |= INFER_BPE_ADD_SPECIAL;
    }

    /* a token is at least a byte, and the specials the tokenizer adds */
    cap = len + 8;

    st->prompt = ngx_palloc(r->pool, cap * sizeof(int32_t));
    if (st->prompt == NULL) {
        return ngx_http_infer_err(err, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL,
                                  NULL, "out of memory");
    }

    if (infer_bpe_encode(m->bpe, NULL, text, len, flags, st->prompt, cap, &n,
                         msg, sizeof(msg))
        != 0)
    {
        return ngx_http_infer_err(err, NGX_HTTP_BAD_REQUEST,
                                  st->chat ? "messages" : "prompt", NULL,
                                  "%s", msg);
    }

    st->n_prompt = n;

check:

    if (st->n_prompt == 0) {
        return ngx_http_infer_err(err, NGX_HTTP_BAD_REQUEST, "prompt", NULL,
                                  "the prompt is empty: it gives no token");
    }

    if (st->n_prompt >= m->ctx) {
        return ngx_http_infer_err(err, NGX_HTTP_BAD_REQUEST,
                                  st->chat ? "messages" : "prompt",
                                  "context_length_exceeded", "This model's "
                                  "maximum context length is %ui tokens. "
                                  "However, your %s resulted in %ui "
                                  "tokens.", m->ctx,
                                  st->chat ? "messages" : "prompt",
                                  st->n_prompt);
    }

    return NGX_OK;
}


/* the sampling parameters, their defaults as OpenAI's, checked */

static ngx_int_t
ngx_http_infer_gen_params(ngx_http_infer_ctx_t *ctx,
    infer_oai_gen_request_t *req, ngx_http_infer_chat_t *st,
    ngx_http_infer_err_t *err)
{
    char                     msg[INFER_ERRLEN];
    size_t                   i, lens[INFER_OAI_MAX_STOP];
    const char              *stops[INFER_OAI_MAX_STOP];
    infer_sample_params_t   *p;
    infer_oai_sampling_t    *o;
    ngx_http_infer_model_t  *m;

    m = ctx->model;
    p = &st->sampling;
    o = &req->sampling;

    ngx_memzero(p, sizeof(infer_sample_params_t));

    p->temperature = (o->given & INFER_OAI_HAS_TEMPERATURE)
                     ? (float) o->temperature : 1.0f;
    p->top_p = (o->given & INFER_OAI_HAS_TOP_P) ? (float) o->top_p : 1.0f;
    p->top_k = (o->given & INFER_OAI_HAS_TOP_K) ? (int32_t) o->top_k : 0;
    p->min_p = (o->given & INFER_OAI_HAS_MIN_P) ? (float) o->min_p : 0.0f;
    p->presence_penalty = (float) o->presence_penalty;
    p->frequency_penalty = (float) o->frequency_penalty;
    p->repetition_penalty = (o->given & INFER_OAI_HAS_REPETITION)
                            ? (float) o->repetition_penalty : 1.0f;

    /* the same seed, the same text; none: a sequence of its own */
    p->seed = (o->given & INFER_OAI_HAS_SEED)
              ? (uint64_t) o->seed
              : ((uint64_t) ngx_random() << 32) ^ (uint64_t) ngx_random()
                ^ (uint64_t) ctx->t_arrive;

    for (i = 0; i < req->nbias && i < INFER_SAMPLE_MAX_BIAS; i++) {
        p->bias_id[i] = req->bias[i].id;
        p->bias[i] = req->bias[i].bias;
    }

    p->n_bias = (int32_t) i;

    if (infer_sample_check(p, (int32_t) m->vocab, msg, sizeof(msg)) != 0) {
        return ngx_http_infer_err(err, NGX_HTTP_BAD_REQUEST, NULL, NULL, "%s",
                                  msg);
    }

    if (o->given & INFER_OAI_HAS_MAX_TOKENS) {
        if (st->n_prompt + (ngx_uint_t) o->max_tokens > m->ctx) {
            return ngx_http_infer_err(err, NGX_HTTP_BAD_REQUEST,
                                      "max_tokens",
                                      "context_length_exceeded", "This "
                                      "model's maximum context length is "
                                      "%ui tokens. However, you requested "
                                      "%ui tokens (%ui in the %s, %L in "
                                      "the completion).", m->ctx,
                                      st->n_prompt + (ngx_uint_t)
                                                     o->max_tokens,
                                      st->n_prompt,
                                      st->chat ? "messages" : "prompt",
                                      o->max_tokens);
        }

        st->max_new = (int32_t) o->max_tokens;

    } else {
        st->max_new = (int32_t) ngx_min(m->max_tokens,
                                        m->ctx - st->n_prompt);
    }

    st->ignore_eos = o->ignore_eos;

    for (i = 0; i < req->nstop; i++) {
        stops[i] = req->stop[i].p;
        lens[i] = req->stop[i].len;
    }

    if (infer_stop_init(&st->stop, stops, lens, (int) req->nstop, msg,
                        sizeof(msg))
        != 0)
    {
        return ngx_http_infer_err(err, NGX_HTTP_BAD_REQUEST, "stop", NULL,
                                  "%s", msg);
    }

    return NGX_OK;
}


/* the request path's payload of a generation (ngx_http_infer_gen_t) */

ngx_int_t
ngx_http_infer_gen_payload(ngx_http_infer_ctx_t *ctx,
    ngx_http_infer_err_t *err)
{
    size_t                   in_off, out_off;
    ngx_http_infer_gen_t    *hdr;
    ngx_http_infer_slot_t   *s;
    ngx_http_infer_chat_t   *st;
    ngx_http_infer_model_t  *m;

    m = ctx->model;
    st = ctx->gen;

    if (ngx_http_infer_slot_bytes(m, ctx,
                                  ngx_http_infer_llm_payload_size(
                                      st->n_prompt, st->max_new),
                                  err)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    s = &m->sh->slots[ctx->slot];

    in_off = ngx_align(sizeof(ngx_http_infer_gen_t), 16);
    out_off = in_off + ngx_align(st->n_prompt * sizeof(int32_t), 16);

    s->in_off = in_off;
    s->out_off = out_off;
    s->nseqs = 1;
    s->ntokens = st->n_prompt;

    hdr = (ngx_http_infer_gen_t *) s->payload;
    ngx_memzero(hdr, sizeof(ngx_http_infer_gen_t));
    hdr->sampling = st->sampling;
    hdr->max_new = st->max_new;
    hdr->ignore_eos = st->ignore_eos;

    ngx_memcpy(s->payload + in_off, st->prompt,
               st->n_prompt * sizeof(int32_t));
    infer_stream_init((infer_stream_t *) (s->payload + out_off),
                      (uint32_t) st->max_new, sizeof(int32_t));

    return NGX_OK;
}


/* tokens have come: sent (or kept), infer_timeout started again */

static ngx_int_t
ngx_http_infer_gen_progress(ngx_http_request_t *r, ngx_http_infer_ctx_t *ctx)
{
    ngx_int_t                   rc;
    ngx_http_infer_chat_t      *st;
    ngx_http_infer_loc_conf_t  *ilcf;

    st = ctx->gen;

    /*
     * infer_timeout: to the first token, then between tokens; a timer
     * also keeps a worker that exits gracefully until the stream ends
     */
    ilcf = ngx_http_get_module_loc_conf(r, ngx_http_infer_module);
    ngx_add_timer(&ctx->timer, ilcf->timeout);

    if (!st->started) {
        st->started = 1;

        if (st->stream && ngx_http_infer_sse_headers(r) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (ngx_http_infer_gen_drain(r, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    if (st->stopped) {
        rc = ngx_http_infer_gen_end(r, ctx, INFER_OAI_FINISH_STOP);
        ngx_http_finalize_request(r, rc);
        return NGX_DONE;
    }

    return NGX_OK;
}


/*
 * Every token the stream holds, a batch at a time, as text: sent as an
 * event per batch when streamed, else added to the answer's text
 */

static ngx_int_t
ngx_http_infer_gen_drain(ngx_http_request_t *r, ngx_http_infer_ctx_t *ctx)
{
    u_char                 *text;
    size_t                  len;
    ngx_int_t               rc;
    ngx_http_infer_chat_t  *st;

    st = ctx->gen;

    while (!st->stopped) {
        rc = ngx_http_infer_gen_take(r, ctx, &text, &len);

        if (rc != NGX_OK) {
            return (rc == NGX_DONE) ? NGX_OK : rc;
        }

        if (len == 0) {
            continue;
        }

        if (st->stream) {
            if (ngx_http_infer_gen_chunk(r, st, text, len,
                                         INFER_OAI_FINISH_NONE, 0)
                == NGX_ERROR)
            {
                return NGX_ERROR;
            }

            continue;
        }

        if (st->text_len + len > st->text_cap) {
            st->text_cap = 2 * (st->text_len + len) + 256;

            text = ngx_pnalloc(r->pool, st->text_cap);
            if (text == NULL) {
                return NGX_ERROR;
            }

            if (st->text_len) {
                ngx_memcpy(text, st->text, st->text_len);
            }

            st->text = text;
        }

        ngx_memcpy(st->text + st->text_len, st->take, len);
        st->text_len += len;
    }

    return NGX_OK;
}


/*
 * Up to NGX_HTTP_INFER_TAKE tokens from the stream as text that may be
 * sent: whole characters, short of what could begin a stop string, in
 * the request's one take buffer.  NGX_DONE when the stream has none.
 */

static ngx_int_t
ngx_http_infer_gen_take(ngx_http_request_t *r, ngx_http_infer_ctx_t *ctx,
    u_char **text, size_t *len)
{
    size_t                   n, piece, out, max;
    int32_t                  ids[NGX_HTTP_INFER_TAKE];
    uint32_t                 i, k;
    infer_stream_t          *stream;
    ngx_http_infer_slot_t   *s;
    ngx_http_infer_chat_t   *st;
    ngx_http_infer_model_t  *m;

    st = ctx->gen;
    m = ctx->model;
    s = &m->sh->slots[ctx->slot];
    stream = (infer_stream_t *) (s->payload + s->out_off);
    max = infer_bpe_stream_max(m->bpe);

    if (st->take == NULL) {
        /* a batch's text, each token's with what the matcher held, and
         * one token's bytes before the matcher */
        st->take = ngx_pnalloc(r->pool, NGX_HTTP_INFER_TAKE
                                        * (max + INFER_STOP_MAX_HELD)
                                        + max);
        if (st->take == NULL) {
            return NGX_ERROR;
        }

        st->piece = st->take + NGX_HTTP_INFER_TAKE
                               * (max + INFER_STOP_MAX_HELD);
    }

    k = infer_stream_take(stream, ids, NGX_HTTP_INFER_TAKE);
    if (k == 0) {
        return NGX_DONE;
    }

    out = 0;

    for (i = 0; i < k && !st->stopped; i++) {
        st->n_seen++;

        (void) infer_bpe_stream_push(m->bpe, &st->dec, ids[i],
                                     (char *) st->piece, &piece);

        st->stopped = infer_stop_feed(&st->stop, (char *) st->piece, piece,
                                      (char *) st->take + out, &n);
        out += n;
    }

    *text = st->take;
    *len = out;

    return NGX_OK;
}


/* the executor is done: what is left, the end, the usage */

static ngx_int_t
ngx_http_infer_gen_answer(ngx_http_request_t *r, ngx_http_infer_ctx_t *ctx)
{
    ngx_http_infer_gen_t    *hdr;
    ngx_http_infer_slot_t   *s;
    ngx_http_infer_chat_t   *st;
    ngx_http_infer_model_t  *m;

    st = ctx->gen;
    m = ctx->model;
    s = &m->sh->slots[ctx->slot];
    hdr = ngx_http_infer_slot_gen(m, ctx->slot);

    if (st->stream && !r->header_sent) {
        if (ngx_http_infer_sse_headers(r) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (ngx_http_infer_gen_drain(r, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    if (s->failed) {
        return ngx_http_infer_sse_error(r, s->err);
    }

    return ngx_http_infer_gen_end(r, ctx,
                                  st->stopped ? INFER_OAI_FINISH_STOP
                                              : hdr->finish);
}


/*
 * The end of an answer: what the stop matcher still holds, the last
 * chunk with the finish reason and the usage, [DONE]; or, not streamed,
 * the whole completion.  The slot is released here when a stop string
 * ended it (the executor frees the sequence).
 */

static ngx_int_t
ngx_http_infer_gen_end(ngx_http_request_t *r, ngx_http_infer_ctx_t *ctx,
    infer_oai_finish_e finish)
{
    u_char                  *p, held[INFER_STOP_MAX_HELD + 16];
    u_char                   tail[16];
    size_t                   n, len, used;
    ngx_buf_t               *b;
    ngx_int_t                rc;
    ngx_http_infer_chat_t   *st;
    ngx_http_infer_model_t  *m;

    st = ctx->gen;
    m = ctx->model;

    if (!ctx->done) {
        /* a stop string: the generation is cut here, not by the model */
        ctx->done = 1;

        if (ctx->timer.timer_set) {
            ngx_del_timer(&ctx->timer);
        }

        ngx_http_infer_count_request(m, ctx, 1);
        ngx_http_infer_slot_release(m, ctx);
    }

    n = 0;

    if (!st->stopped) {
        /* the decoder's held bytes (U+FFFD), then what the matcher held */
        infer_bpe_stream_flush(&st->dec, (char *) tail, &len);
        st->stopped = infer_stop_feed(&st->stop, (char *) tail, len,
                                      (char *) held, &n);

        if (!st->stopped) {
            infer_stop_finish(&st->stop, (char *) held + n, &len);
            n += len;
        }

        if (st->stopped) {
            finish = INFER_OAI_FINISH_STOP;
        }
    }

    used = st->n_seen;
    ctx->ntokens = st->n_prompt + used;

    if (ctx->batch_rows == 0) {
        ctx->batch_rows = m->sh->slots[ctx->slot].batch_rows
                          ? m->sh->slots[ctx->slot].batch_rows : 1;
    }

    if (!st->stream) {
        if (n) {
            p = ngx_pnalloc(r->pool, st->text_len + n);
            if (p == NULL) {
                return NGX_ERROR;
            }

            ngx_memcpy(ngx_cpymem(p, st->text, st->text_len), held, n);
            st->text = p;
            st->text_len += n;
        }

        len = st->chat ? infer_oai_chat_size(&st->g, st->text_len)
                       : infer_oai_completion_size(&st->g, st->text_len);

        b = ngx_create_temp_buf(r->pool, len);
        if (b == NULL) {
            return NGX_ERROR;
        }

        b->last += st->chat
                   ? infer_oai_write_chat((char *) b->pos, &st->g,
                                          (char *) st->text, st->text_len,
                                          finish, st->n_prompt, used)
                   : infer_oai_write_completion((char *) b->pos, &st->g,
                                                (char *) st->text,
                                                st->text_len, finish,
                                                st->n_prompt, used);

        return ngx_http_infer_send_json(r, NGX_HTTP_OK, b);
    }

    rc = ngx_http_infer_gen_chunk(r, st, held, n, finish, 0);
    if (rc == NGX_ERROR) {
        return rc;
    }

    if (st->include_usage) {
        len = infer_oai_usage_chunk_size(&st->g);
        p = ngx_pnalloc(r->pool, len);
        if (p == NULL) {
            return NGX_ERROR;
        }

        len = infer_oai_write_usage_chunk((char *) p, &st->g, st->chat,
                                          st->n_prompt, used);
        rc = ngx_http_infer_sse_send(r, p, len, 0);
        if (rc == NGX_ERROR) {
            return rc;
        }
    }

    return ngx_http_infer_sse_send(r, (u_char *) INFER_OAI_DONE,
                                   INFER_OAI_DONE_LEN, 1);
}


/* a chunk of text as an event; with finish, the one that ends it */

static ngx_int_t
ngx_http_infer_gen_chunk(ngx_http_request_t *r, ngx_http_infer_chat_t *st,
    u_char *text, size_t len, infer_oai_finish_e finish, ngx_uint_t last)
{
    u_char  *p;
    size_t   n;

    if (st->chat) {
        p = ngx_pnalloc(r->pool, infer_oai_chat_chunk_size(&st->g, len));
        if (p == NULL) {
            return NGX_ERROR;
        }

        /* OpenAI's first chunk is the role with empty content */
        if (!st->role_sent) {
            st->role_sent = 1;
            n = infer_oai_write_chat_chunk((char *) p, &st->g, 1, "", 0,
                                           INFER_OAI_FINISH_NONE);
            if (ngx_http_infer_sse_send(r, p, n, 0) == NGX_ERROR) {
                return NGX_ERROR;
            }

            p = ngx_pnalloc(r->pool, infer_oai_chat_chunk_size(&st->g, len));
            if (p == NULL) {
                return NGX_ERROR;
            }
        }

        if (len == 0 && finish == INFER_OAI_FINISH_NONE) {
            return NGX_OK;
        }

        /* the last chunk's delta is empty, as OpenAI's */
        n = infer_oai_write_chat_chunk((char *) p, &st->g, 0,
                                       len ? (char *) text : NULL, len,
                                       finish);

    } else {
        if (len == 0 && finish == INFER_OAI_FINISH_NONE) {
            return NGX_OK;
        }

        p = ngx_pnalloc(r->pool,
                        infer_oai_completion_chunk_size(&st->g, len));
        if (p == NULL) {
            return NGX_ERROR;
        }

        n = infer_oai_write_completion_chunk((char *) p, &st->g,
                                             (char *) text, len, finish);
    }

    return ngx_http_infer_sse_send(r, p, n, last);
}
