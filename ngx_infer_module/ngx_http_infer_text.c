
/*
 * ngx_infer: text models, the nginx side.
 *
 * A model whose input is text (BYTES: the BERT family) comes with its
 * tokenizer, tokenizer.json beside config.json, loaded with the
 * configuration so that nginx -t reports a file it cannot honour.  A
 * request's texts are tokenized in the worker that read it, once,
 * straight into its slot's payload: the payload is allocated for as many
 * tokens as the texts can give (a token takes at least one byte, and no
 * text gives more than max_seq), the ids are written in place, and the
 * slot then says how many there are.  The executors see sequences of
 * token ids, never text.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_infer_module.h"
#include "infer_bert.h"


#define NGX_HTTP_INFER_BATCH_TOKENS  16384   /* as text-embeddings-inference */


static void ngx_http_infer_tokenizer_cleanup(void *data);
static ngx_int_t ngx_http_infer_text_error(ngx_http_infer_ctx_t *ctx,
    ngx_http_infer_err_t *err, ngx_uint_t i, const char *code,
    const char *fmt, ...);


/*
 * After the model is loaded: its tokenizer and limits for a text model;
 * for a model of FP32 rows, the options that only text models take are
 * mistakes.
 */

ngx_int_t
ngx_http_infer_text_init(ngx_conf_t *cf, ngx_http_infer_model_t *m)
{
    u_char                  *path;
    char                     err[INFER_ERRLEN];
    ngx_pool_cleanup_t      *cln;
    const infer_bert_t      *bert;
    infer_tokenizer_info_t   info;

    if (m->model->input.datatype != INFER_IO_BYTES) {
        if (m->max_seq != NGX_CONF_UNSET_UINT
            || m->max_batch_tokens != NGX_CONF_UNSET_UINT
            || m->truncate != NGX_CONF_UNSET_UINT)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "model \"%V\": max_seq=, max_batch_tokens= "
                               "and truncate= are for text models; this "
                               "one (architecture \"%s\") takes rows of "
                               "FP32 features", &m->name,
                               m->model->arch->name);
            return NGX_ERROR;
        }

        /* a row is a sequence of one token */
        m->max_batch_tokens = m->max_batch;
        return NGX_OK;
    }

    if (m->model->arch == &infer_arch_llama) {
        return ngx_http_infer_llm_init(cf, m);
    }

    if (m->model->arch != &infer_arch_bert) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "model \"%V\": architecture \"%s\" takes text, "
                           "which this version tokenizes for \"bert\" only",
                           &m->name, m->model->arch->name);
        return NGX_ERROR;
    }

    bert = m->model->arch_data;

    path = ngx_pnalloc(cf->pool, m->path.len + sizeof("/tokenizer.json"));
    if (path == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(path, "%V/tokenizer.json%Z", &m->path);

    m->tokenizer = infer_tokenizer_load((char *) path, err, sizeof(err));
    if (m->tokenizer == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "model \"%V\": %s",
                           &m->name, err);
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        infer_tokenizer_free(m->tokenizer);
        return NGX_ERROR;
    }

    cln->handler = ngx_http_infer_tokenizer_cleanup;
    cln->data = m->tokenizer;

    infer_tokenizer_info(m->tokenizer, &info);

    if (info.max_id >= bert->vocab) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "model \"%V\": \"%s\" gives token ids up to %D, "
                           "but config.json's vocab_size is %d", &m->name,
                           path, info.max_id, bert->vocab);
        return NGX_ERROR;
    }

    if (bert->lower_case == 1 && !info.lowercase) {
        /* sentence-transformers would lowercase before the tokenizer */
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "model \"%V\": sentence_bert_config.json says "
                           "do_lower_case, but the normalizer of \"%s\" "
                           "does not lowercase (set its \"lowercase\")",
                           &m->name, path);
        return NGX_ERROR;
    }

    m->vocab = bert->vocab;
    m->n_special = info.n_special;
    m->normalized = bert->normalize;

    if (m->max_seq == NGX_CONF_UNSET_UINT) {
        m->max_seq = bert->max_seq;

    } else if (m->max_seq > (ngx_uint_t) bert->max_pos) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "model \"%V\": max_seq=%ui is more than the %d "
                           "positions the model has "
                           "(max_position_embeddings)", &m->name,
                           m->max_seq, bert->max_pos);
        return NGX_ERROR;
    }

    if (m->max_seq <= m->n_special) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "model \"%V\": max_seq=%ui leaves no room for "
                           "text beside the %ui special tokens", &m->name,
                           m->max_seq, m->n_special);
        return NGX_ERROR;
    }

    if (m->max_batch_tokens == NGX_CONF_UNSET_UINT) {
        m->max_batch_tokens = ngx_max(NGX_HTTP_INFER_BATCH_TOKENS,
                                      m->max_seq);

    } else if (m->max_batch_tokens < m->max_seq) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "model \"%V\": max_batch_tokens=%ui is less than "
                           "max_seq=%ui: the longest text would fit no "
                           "batch", &m->name, m->max_batch_tokens,
                           m->max_seq);
        return NGX_ERROR;
    }

    if (m->truncate == NGX_CONF_UNSET_UINT) {
        /* as sentence-transformers does */
        m->truncate = 1;
    }

    return NGX_OK;
}


static void
ngx_http_infer_tokenizer_cleanup(void *data)
{
    infer_tokenizer_free(data);
}


/*
 * The request's texts (ctx->texts, ctx->rows of them) into the payload
 * of its slot, as sequences of token ids.  NGX_OK; NGX_DECLINED with err
 * for the client.
 */

ngx_int_t
ngx_http_infer_text_payload(ngx_http_infer_ctx_t *ctx,
    ngx_http_infer_err_t *err)
{
    size_t                   k, bound, tok, room, count;
    int32_t                 *ids, *lens;
    ngx_uint_t               i, n;
    ngx_http_infer_text_t   *t;
    ngx_http_infer_model_t  *m;
    char                     msg[INFER_ERRLEN];

    m = ctx->model;
    n = ctx->rows;

    if (n > m->max_batch) {
        return ngx_http_infer_err(err, NGX_HTTP_BAD_REQUEST, "input", NULL,
                                  "%ui inputs, model \"%V\" takes at most "
                                  "%ui in one request (max_batch)", n,
                                  &m->name, m->max_batch);
    }

    /* the most tokens the texts can give: no allocation is counted twice */

    bound = 0;

    for (i = 0; i < n; i++) {
        t = &ctx->texts[i];

        if (t->ids) {
            if (t->n_ids > m->max_seq && !m->truncate) {
                return ngx_http_infer_text_error(ctx, err, i,
                           "context_length_exceeded", "%uz tokens, more "
                           "than the %ui of model \"%V\" (max_seq)",
                           t->n_ids, m->max_seq, &m->name);
            }

            bound += ngx_min(t->n_ids, m->max_seq);

        } else {
            bound += ngx_min(t->len + m->n_special, m->max_seq);
        }
    }

    bound = ngx_min(bound, m->max_batch_tokens);

    if (ngx_http_infer_slot_payload(m, ctx, n, bound, err) != NGX_OK) {
        return NGX_DECLINED;
    }

    ids = (int32_t *) ngx_http_infer_slot_input(m, ctx->slot);
    lens = ngx_http_infer_slot_lens(m, ctx->slot);
    tok = 0;

    for (i = 0; i < n; i++) {
        t = &ctx->texts[i];
        room = ngx_min(m->max_seq, bound - tok);

        if (t->ids) {
            k = ngx_min(t->n_ids, m->max_seq);

            if (k > room) {
                goto batch_tokens;
            }

            ngx_memcpy(ids + tok, t->ids, k * sizeof(int32_t));

        } else if (infer_tokenizer_encode(m->tokenizer, (char *) t->text,
                                          t->len, ids + tok, room, &k,
                                          m->truncate && room == m->max_seq,
                                          msg, sizeof(msg))
                   != 0)
        {
            /* invalid UTF-8, too long a text, or too many tokens in all */

            if (infer_tokenizer_count(m->tokenizer, (char *) t->text, t->len,
                                      &count, msg, sizeof(msg))
                != 0)
            {
                return ngx_http_infer_text_error(ctx, err, i, NULL, "%s",
                                                 msg);
            }

            if (count > m->max_seq && !m->truncate) {
                return ngx_http_infer_text_error(ctx, err, i,
                           "context_length_exceeded", "the text is %uz "
                           "tokens, more than the %ui of model \"%V\" "
                           "(max_seq)", count, m->max_seq, &m->name);
            }

            goto batch_tokens;
        }

        lens[i] = (int32_t) k;
        tok += k;
    }

    m->sh->slots[ctx->slot].ntokens = tok;
    ctx->ntokens = tok;

    return NGX_OK;

batch_tokens:

    return ngx_http_infer_text_error(ctx, err, i, "context_length_exceeded",
               "the inputs add up to more than the %ui tokens that model "
               "\"%V\" computes in one batch (max_batch_tokens)",
               m->max_batch_tokens, &m->name);
}


/* "input[3]: <message>", in the codec's words for the input */

static ngx_int_t
ngx_http_infer_text_error(ngx_http_infer_ctx_t *ctx,
    ngx_http_infer_err_t *err, ngx_uint_t i, const char *code,
    const char *fmt, ...)
{
    u_char   *p, *last;
    va_list   args;

    p = (u_char *) err->msg;
    last = p + sizeof(err->msg) - 1;

    p = ngx_slprintf(p, last, ctx->codec->item, i);
    p = ngx_slprintf(p, last, ": ");

    va_start(args, fmt);
    p = ngx_vslprintf(p, last, fmt, args);
    va_end(args);

    *p = '\0';

    err->status = NGX_HTTP_BAD_REQUEST;
    err->param = "input";
    err->code = code;

    return NGX_DECLINED;
}
