
/*
 * ngx_infer: decoders (Llama models), their configuration.
 *
 * A GGUF decoder comes with everything around its forward pass in its
 * metadata: the tokenizer, the chat template, the ids that end a turn;
 * a Hugging Face directory with them in the files beside config.json
 * (tokenizer.json, tokenizer_config.json, generation_config.json).
 * They are loaded with the configuration, so that nginx -t reports a
 * file it cannot honour, and they are the same in every worker.  Its
 * options:
 *
 *   kv_cache=SIZE      each executor's paged KV cache (default 256m),
 *                      in blocks of NGX_HTTP_INFER_KV_BLOCK positions
 *   ctx=N              the longest sequence, prompt and generation
 *                      (default: the model's context_length, at most
 *                      what the cache holds)
 *   max_tokens=N       a request's most new tokens when it says none
 *                      (default: up to the context)
 *   chat_template=NAME the template to use instead of the file's
 *                      (chatml, llama3)
 *   max_batch=N        sequences running at once (default 64)
 *   max_batch_tokens=N the tokens of one step: decoding sequences' next
 *                      tokens and chunks of prompts (default 64: a
 *                      step of about 0.3 s on one core for SmolLM2)
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_infer_module.h"
#include "infer_llama.h"
#include "infer_stream.h"


#define NGX_HTTP_INFER_KV_BLOCK      16
#define NGX_HTTP_INFER_KV_DEFAULT    (256 * 1024 * 1024)
#define NGX_HTTP_INFER_GEN_TOKENS    64


static ngx_int_t ngx_http_infer_llm_text(ngx_conf_t *cf,
    ngx_http_infer_model_t *m);
static void ngx_http_infer_llm_cleanup(void *data);


/* one key=value of infer_model that only decoders take: NGX_DECLINED
 * when value is none of them */

ngx_int_t
ngx_http_infer_llm_option(ngx_conf_t *cf, ngx_http_infer_model_t *m,
    ngx_str_t *value)
{
    ssize_t    size;
    ngx_int_t  n;
    ngx_str_t  s;

    if (value->len > 9 && ngx_strncmp(value->data, "kv_cache=", 9) == 0) {
        s.data = value->data + 9;
        s.len = value->len - 9;

        size = ngx_parse_size(&s);
        if (size == NGX_ERROR || size < 1024 * 1024) {
            goto invalid;
        }

        m->kv_cache = size;
        return NGX_OK;
    }

    if (value->len > 4 && ngx_strncmp(value->data, "ctx=", 4) == 0) {
        n = ngx_atoi(value->data + 4, value->len - 4);
        if (n < 16 || n > 1048576) {
            goto invalid;
        }

        m->ctx = n;
        return NGX_OK;
    }

    if (value->len > 11 && ngx_strncmp(value->data, "max_tokens=", 11) == 0)
    {
        n = ngx_atoi(value->data + 11, value->len - 11);
        if (n < 1 || n > 1048576) {
            goto invalid;
        }

        m->max_tokens = n;
        return NGX_OK;
    }

    if (value->len > 14
        && ngx_strncmp(value->data, "chat_template=", 14) == 0)
    {
        m->chat_name.data = value->data + 14;
        m->chat_name.len = value->len - 14;
        return NGX_OK;
    }

    return NGX_DECLINED;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "model \"%V\": invalid value "
                       "\"%V\"", &m->name, value);
    return NGX_ERROR;
}


/*
 * After a decoder is loaded: its tokenizer, template and end ids; the
 * cache's blocks, the context, the batch's limits.
 */

ngx_int_t
ngx_http_infer_llm_init(ngx_conf_t *cf, ngx_http_infer_model_t *m)
{
    size_t               block;
    ngx_uint_t           cap;
    infer_kv_shape_t     kv;
    const infer_llama_t *hp;

    hp = m->model->arch_data;

    if (m->max_seq != NGX_CONF_UNSET_UINT
        || m->truncate != NGX_CONF_UNSET_UINT)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "model \"%V\": max_seq= and truncate= are for "
                           "text encoders; a decoder's longest sequence is "
                           "ctx=", &m->name);
        return NGX_ERROR;
    }

    if (m->gpu >= 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "model \"%V\": a decoder runs on device=cpu in "
                           "this version (the CUDA backend has no KV "
                           "cache yet)", &m->name);
        return NGX_ERROR;
    }

    if (ngx_http_infer_llm_text(cf, m) != NGX_OK) {
        return NGX_ERROR;
    }

    m->vocab = hp->vocab;

    /* the cache: whole blocks of every layer's keys and values */

    (void) m->model->arch->kv_shape(m->model, &kv);
    block = (size_t) kv.layers * 2 * NGX_HTTP_INFER_KV_BLOCK * kv.kv_dim
            * sizeof(float);

    if (m->kv_cache == 0) {
        m->kv_cache = NGX_HTTP_INFER_KV_DEFAULT;
    }

    m->kv_blocks = m->kv_cache / block;

    if (m->kv_blocks < 1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "model \"%V\": kv_cache=%uz holds no block of %uz "
                           "positions (%uz bytes)", &m->name, m->kv_cache,
                           (size_t) NGX_HTTP_INFER_KV_BLOCK, block);
        return NGX_ERROR;
    }

    cap = m->kv_blocks * NGX_HTTP_INFER_KV_BLOCK;

    if (m->ctx == 0) {
        m->ctx = ngx_min((ngx_uint_t) hp->ctx, cap);

    } else if (m->ctx > (ngx_uint_t) hp->ctx || m->ctx > cap) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "model \"%V\": ctx=%ui is more than the %s (%ui "
                           "positions)", &m->name, m->ctx,
                           m->ctx > (ngx_uint_t) hp->ctx
                           ? "model's context_length" : "KV cache holds",
                           m->ctx > (ngx_uint_t) hp->ctx
                           ? (ngx_uint_t) hp->ctx : cap);
        return NGX_ERROR;
    }

    if (m->max_tokens == 0 || m->max_tokens > m->ctx) {
        m->max_tokens = m->ctx;
    }

    if (m->max_batch_tokens == NGX_CONF_UNSET_UINT) {
        m->max_batch_tokens = NGX_HTTP_INFER_GEN_TOKENS;
    }

    /* a step's budget has room for every running sequence's next token */
    if (m->max_batch_tokens < m->max_batch) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "model \"%V\": max_batch_tokens=%ui is less than "
                           "max_batch=%ui, one token of each running "
                           "sequence", &m->name, m->max_batch_tokens,
                           m->max_batch);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * The tokenizer, the chat template and the end ids: from the GGUF file's
 * metadata, or from a Hugging Face directory's files
 */

static ngx_int_t
ngx_http_infer_llm_text(ngx_conf_t *cf, ngx_http_infer_model_t *m)
{
    int                  n;
    char                 err[INFER_ERRLEN], *name;
    ngx_pool_cleanup_t  *cln;
    const infer_llama_t *hp;

    hp = m->model->arch_data;

    m->chat = ngx_pcalloc(cf->pool, sizeof(infer_chat_template_t));
    if (m->chat == NULL) {
        return NGX_ERROR;
    }

    name = NULL;

    if (m->chat_name.len) {
        m->chat_name.data[m->chat_name.len] = '\0';
        name = (char *) m->chat_name.data;
    }

    if (m->model->gguf == NULL) {
        n = 0;

        if (infer_llama_hf_text((char *) m->path.data, name, hp->vocab,
                                &m->bpe, m->chat, m->eog,
                                sizeof(m->eog) / sizeof(m->eog[0]), &n, err,
                                sizeof(err))
            != 0)
        {
            goto failed;
        }

        m->n_eog = n;

        cln = ngx_pool_cleanup_add(cf->pool, 0);
        if (cln == NULL) {
            ngx_http_infer_llm_cleanup(m);
            return NGX_ERROR;
        }

        cln->handler = ngx_http_infer_llm_cleanup;
        cln->data = m;

        return NGX_OK;
    }

    m->bpe = infer_llama_tokenizer(m->model->gguf, (char *) m->path.data,
                                   err, sizeof(err));
    if (m->bpe == NULL) {
        goto failed;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        infer_bpe_free(m->bpe);
        return NGX_ERROR;
    }

    cln->handler = ngx_http_infer_llm_cleanup;
    cln->data = m;

    if (infer_llama_chat_template(m->model->gguf, m->bpe, name, m->chat,
                                  (char *) m->path.data, err, sizeof(err))
        != 0)
    {
        goto failed;
    }

    m->n_eog = infer_llama_eog(m->bpe, m->eog,
                               sizeof(m->eog) / sizeof(m->eog[0]));

    return NGX_OK;

failed:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "model \"%V\": %s", &m->name,
                       err);
    return NGX_ERROR;
}


/* a generation's payload: the header, the prompt, the stream */

size_t
ngx_http_infer_llm_payload_size(ngx_uint_t n_prompt, ngx_uint_t max_new)
{
    return ngx_align(sizeof(ngx_http_infer_gen_t), 16)
           + ngx_align(n_prompt * sizeof(int32_t), 16)
           + infer_stream_size((uint32_t) max_new, sizeof(int32_t));
}


static void
ngx_http_infer_llm_cleanup(void *data)
{
    ngx_http_infer_model_t *m = data;

    infer_chat_template_free(m->chat);
    infer_bpe_free(m->bpe);
}
