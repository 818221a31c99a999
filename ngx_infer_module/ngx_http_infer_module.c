
/*
 * ngx_infer: machine-learning models served by nginx itself.
 *
 * This file holds the module, its directives and variables, and the
 * per-process start and stop of wake-ups and executors.  One request's
 * path is ngx_http_infer_request.c; the zone ngx_http_infer_zone.c; the
 * executors ngx_http_infer_executor.c; the wake-ups
 * ngx_http_infer_wakeup.c; answers and errors ngx_http_infer_response.c;
 * the KServe v2 API ngx_http_infer_kserve.c; the models and the math are
 * in kernels/.  docs/ARCHITECTURE.md is the map.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <sys/stat.h>

#include "ngx_http_infer_module.h"


static ngx_int_t ngx_http_infer_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);

static ngx_int_t ngx_http_infer_add_variables(ngx_conf_t *cf);
static void *ngx_http_infer_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_infer_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_infer_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_infer_model(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_infer(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_http_infer_api(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_infer_model_option(ngx_conf_t *cf,
    ngx_http_infer_model_t *m, ngx_str_t *value);
static ngx_int_t ngx_http_infer_model_zone(ngx_conf_t *cf,
    ngx_http_infer_model_t *m);
static void ngx_http_infer_model_cleanup(void *data);
static ngx_int_t ngx_http_infer_init_process(ngx_cycle_t *cycle);
static void ngx_http_infer_exit_process(ngx_cycle_t *cycle);


static ngx_command_t  ngx_http_infer_commands[] = {

    { ngx_string("infer_model"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_http_infer_model,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("infer"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_infer,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("infer_api"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_infer_api,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("infer_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_infer_api,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("infer_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_infer_loc_conf_t, timeout),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_infer_module_ctx = {
    ngx_http_infer_add_variables,          /* preconfiguration */
    ngx_http_infer_filter_init,            /* postconfiguration */

    ngx_http_infer_create_main_conf,       /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_infer_create_loc_conf,        /* create location configuration */
    ngx_http_infer_merge_loc_conf          /* merge location configuration */
};


ngx_module_t  ngx_http_infer_module = {
    NGX_MODULE_V1,
    &ngx_http_infer_module_ctx,            /* module context */
    ngx_http_infer_commands,               /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_infer_init_process,           /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_infer_exit_process,           /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_variable_t  ngx_http_infer_vars[] = {

    { ngx_string("infer_batch_size"), NULL, ngx_http_infer_variable,
      offsetof(ngx_http_infer_ctx_t, batch_rows),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("infer_queue_time"), NULL, ngx_http_infer_variable,
      offsetof(ngx_http_infer_ctx_t, queue_time_us),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("infer_compute_time"), NULL, ngx_http_infer_variable,
      offsetof(ngx_http_infer_ctx_t, compute_time_us),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("infer_tokens"), NULL, ngx_http_infer_variable,
      offsetof(ngx_http_infer_ctx_t, ntokens),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


/* the numeric options of infer_model */

typedef struct {
    ngx_str_t                   name;
    size_t                      offset;
    ngx_int_t                   min;
    ngx_int_t                   max;
} ngx_http_infer_option_t;


static ngx_http_infer_option_t  ngx_http_infer_options[] = {
    { ngx_string("max_batch="),
      offsetof(ngx_http_infer_model_t, max_batch), 1, 65536 },
    { ngx_string("queue="),
      offsetof(ngx_http_infer_model_t, queue), 1, 1048576 },
    { ngx_string("instances="),
      offsetof(ngx_http_infer_model_t, instances), 1, 256 },
    { ngx_string("max_seq="),
      offsetof(ngx_http_infer_model_t, max_seq), 1, 1048576 },
    { ngx_string("max_batch_tokens="),
      offsetof(ngx_http_infer_model_t, max_batch_tokens), 1, 1048576 },
    { ngx_null_string, 0, 0, 0 }
};


/* the models of the running configuration, for the wake-up handler */
static ngx_http_infer_main_conf_t  *ngx_http_infer_running;



ngx_http_infer_model_t *
ngx_http_infer_model_by_name(ngx_http_request_t *r, ngx_str_t *name)
{
    return ngx_http_infer_find_model(
               ngx_http_get_module_main_conf(r, ngx_http_infer_module), name);
}


/* the model declared with this name, or NULL */

ngx_http_infer_model_t *
ngx_http_infer_find_model(ngx_http_infer_main_conf_t *imcf, ngx_str_t *name)
{
    ngx_uint_t                i;
    ngx_http_infer_model_t  **mp;

    mp = imcf->models.elts;

    for (i = 0; i < imcf->models.nelts; i++) {
        if (mp[i]->name.len == name->len
            && ngx_strncmp(mp[i]->name.data, name->data, name->len) == 0)
        {
            return mp[i];
        }
    }

    return NULL;
}


/*
 * An API's paths start at its version segment ("/v2" for KServe, "/v1"
 * for OpenAI), wherever the location puts it: what follows the first
 * such segment of uri, or NULL
 */

u_char *
ngx_http_infer_api_path(ngx_str_t *uri, u_char version)
{
    u_char  *p, *end;

    end = uri->data + uri->len;

    for (p = uri->data; p + 3 <= end; p++) {
        if (p[0] == '/' && p[1] == 'v' && p[2] == version
            && (p + 3 == end || p[3] == '/'))
        {
            return p + 3;
        }
    }

    return NULL;
}


ngx_http_infer_model_t *
ngx_http_infer_find_zone(uint32_t zone_id)
{
    ngx_uint_t                i;
    ngx_http_infer_model_t  **mp;

    if (ngx_http_infer_running == NULL) {
        return NULL;
    }

    mp = ngx_http_infer_running->models.elts;

    for (i = 0; i < ngx_http_infer_running->models.nelts; i++) {
        if (mp[i]->sh->zone_id == zone_id) {
            return mp[i];
        }
    }

    return NULL;
}


/*
 * $infer_batch_size and $infer_tokens (a text model's request: the tokens
 * it computed), counts; $infer_queue_time and $infer_compute_time,
 * milliseconds with microseconds, like $request_time
 */

static ngx_int_t
ngx_http_infer_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    u_char                *p;
    ngx_uint_t             n;
    ngx_http_infer_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_infer_module);

    if (ctx == NULL || ctx->batch_rows == 0
        || (data == offsetof(ngx_http_infer_ctx_t, ntokens)
            && ctx->texts == NULL && ctx->gen == NULL))
    {
        v->not_found = 1;
        return NGX_OK;
    }

    n = *(ngx_uint_t *) ((u_char *) ctx + data);

    p = ngx_pnalloc(r->pool, NGX_INT_T_LEN + 4);
    if (p == NULL) {
        return NGX_ERROR;
    }

    if (data == offsetof(ngx_http_infer_ctx_t, batch_rows)
        || data == offsetof(ngx_http_infer_ctx_t, ntokens))
    {
        v->len = ngx_sprintf(p, "%ui", n) - p;

    } else {
        v->len = ngx_sprintf(p, "%ui.%03ui", n / 1000, n % 1000) - p;
    }

    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = p;

    return NGX_OK;
}


static ngx_int_t
ngx_http_infer_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_infer_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static void *
ngx_http_infer_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_infer_main_conf_t  *imcf;

    imcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_infer_main_conf_t));
    if (imcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&imcf->models, cf->pool, 4,
                       sizeof(ngx_http_infer_model_t *))
        != NGX_OK)
    {
        return NULL;
    }

    return imcf;
}


static void *
ngx_http_infer_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_infer_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_infer_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->model = NULL;
     *     conf->api = NGX_HTTP_INFER_API_NONE;
     */

    conf->timeout = NGX_CONF_UNSET_MSEC;

    return conf;
}


static char *
ngx_http_infer_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_infer_loc_conf_t *prev = parent;
    ngx_http_infer_loc_conf_t *conf = child;

    ngx_http_infer_main_conf_t  *imcf;

    ngx_conf_merge_msec_value(conf->timeout, prev->timeout, 30000);

    imcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_infer_module);

    if (conf->timeout > imcf->max_timeout) {
        imcf->max_timeout = conf->timeout;
    }

    return NGX_CONF_OK;
}


/*
 * infer_model name path [device=cpu] [precision=fp32] [max_batch=N]
 *             [batch_timeout=TIME] [queue=N] [instances=N]
 *             [max_seq=N] [max_batch_tokens=N] [truncate=on|off];
 */

static char *
ngx_http_infer_model(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_infer_main_conf_t *imcf = conf;

    u_char                   *p;
    char                      err[INFER_ERRLEN];
    ngx_str_t                *value;
    ngx_uint_t                i;
    ngx_pool_cleanup_t       *cln;
    ngx_http_infer_model_t   *m, **mp;

    value = cf->args->elts;

    m = ngx_http_infer_find_model(imcf, &value[1]);
    if (m != NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "model \"%V\" is already declared in %s:%ui",
                           &value[1], m->conf_file, m->conf_line);
        return NGX_CONF_ERROR;
    }

    for (p = value[1].data; p < value[1].data + value[1].len; p++) {
        if (!(isalnum(*p) || *p == '_' || *p == '-' || *p == '.')) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid model name \"%V\": use letters, "
                               "digits, \"_\", \"-\" and \".\"", &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    m = ngx_pcalloc(cf->pool, sizeof(ngx_http_infer_model_t));
    if (m == NULL) {
        return NGX_CONF_ERROR;
    }

    m->name = value[1];
    m->path = value[2];
    m->conf_file = cf->conf_file->file.name.data;
    m->conf_line = cf->conf_file->line;
    m->created = ngx_time();

    if (ngx_conf_full_name(cf->cycle, &m->path, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    ngx_str_set(&m->device, "cpu");
    m->gpu = -1;
    m->precision = INFER_PRECISION_FP32;
    m->max_batch = 64;
    m->batch_timeout = 2;
    m->queue = 1024;
    m->instances = NGX_CONF_UNSET_UINT;
    m->max_seq = NGX_CONF_UNSET_UINT;
    m->max_batch_tokens = NGX_CONF_UNSET_UINT;
    m->truncate = NGX_CONF_UNSET_UINT;

    for (i = 3; i < cf->args->nelts; i++) {
        if (ngx_http_infer_model_option(cf, m, &value[i]) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    if (ngx_http_infer_device(cf, m) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    m->model = infer_model_load((char *) m->path.data, err, sizeof(err));
    if (m->model == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "model \"%V\": %s",
                           &m->name, err);
        return NGX_CONF_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        infer_model_free(m->model);
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_http_infer_model_cleanup;
    cln->data = m->model;

    if (m->precision == INFER_PRECISION_Q8 && !infer_model_quantized(m->model)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "model \"%V\": precision=q8 rounds what meets "
                           "quantized weights, and \"%V\" has none",
                           &m->name, &m->path);
        return NGX_CONF_ERROR;
    }

    if (ngx_http_infer_text_init(cf, m) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_infer_model_zone(cf, m) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (m->instances == NGX_CONF_UNSET_UINT && m->gpu >= 0) {
        /* one executor feeds a GPU: batches, not threads, fill it */
        m->instances = 1;
    }

    if (m->instances == NGX_CONF_UNSET_UINT) {
        /* a CPU model: one executor per worker */
        m->instances = ((ngx_core_conf_t *) ngx_get_conf(cf->cycle->conf_ctx,
                                                         ngx_core_module))
                       ->worker_processes;

        if (m->instances == (ngx_uint_t) NGX_CONF_UNSET
            || m->instances == 0)
        {
            m->instances = 1;
        }
    }

    mp = ngx_array_push(&imcf->models);
    if (mp == NULL) {
        return NGX_CONF_ERROR;
    }

    *mp = m;

    if (m->max_batch > imcf->max_batch) {
        imcf->max_batch = m->max_batch;
    }

    return NGX_CONF_OK;
}


/* one "key=value" of infer_model */

static ngx_int_t
ngx_http_infer_model_option(ngx_conf_t *cf, ngx_http_infer_model_t *m,
    ngx_str_t *value)
{
    ngx_int_t                 n;
    ngx_str_t                 s;
    ngx_msec_t                ms;
    ngx_http_infer_option_t  *opt;

    if (ngx_strncmp(value->data, "device=", 7) == 0) {
        s.data = value->data + 7;
        s.len = value->len - 7;
        m->device = s;

        if (s.len == 3 && ngx_strncmp(s.data, "cpu", 3) == 0) {
            m->gpu = -1;
            return NGX_OK;
        }

        if (s.len == 4 && ngx_strncmp(s.data, "auto", 4) == 0) {
            m->gpu = 0;
            return NGX_OK;
        }

        if (s.len > 5 && ngx_strncmp(s.data, "cuda:", 5) == 0) {
            m->gpu = ngx_atoi(s.data + 5, s.len - 5);
            if (m->gpu != NGX_ERROR && m->gpu < 1024) {
                return NGX_OK;
            }
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "model \"%V\": invalid device \"%V\", use "
                           "\"cpu\", \"cuda:N\" or \"auto\"", &m->name, &s);
        return NGX_ERROR;
    }

    if (ngx_strncmp(value->data, "precision=", 10) == 0) {
        n = infer_precision_parse((char *) value->data + 10, value->len - 10);
        if (n < 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "model \"%V\": invalid precision \"%s\", use "
                               "fp32, tf32, fp16, bf16 or q8", &m->name,
                               value->data + 10);
            return NGX_ERROR;
        }

        m->precision = n;
        return NGX_OK;
    }

    if (ngx_strncmp(value->data, "truncate=", 9) == 0) {
        s.data = value->data + 9;
        s.len = value->len - 9;

        if (s.len == 2 && ngx_strncmp(s.data, "on", 2) == 0) {
            m->truncate = 1;
            return NGX_OK;
        }

        if (s.len == 3 && ngx_strncmp(s.data, "off", 3) == 0) {
            m->truncate = 0;
            return NGX_OK;
        }

        goto invalid;
    }

    if (ngx_strncmp(value->data, "batch_timeout=", 14) == 0) {
        s.data = value->data + 14;
        s.len = value->len - 14;

        ms = ngx_parse_time(&s, 0);
        if (ms == (ngx_msec_t) NGX_ERROR || ms > 10000) {
            goto invalid;
        }

        m->batch_timeout = ms;
        return NGX_OK;
    }

    for (opt = ngx_http_infer_options; opt->name.len; opt++) {
        if (value->len > opt->name.len
            && ngx_strncmp(value->data, opt->name.data, opt->name.len) == 0)
        {
            n = ngx_atoi(value->data + opt->name.len,
                         value->len - opt->name.len);
            if (n < opt->min || n > opt->max) {
                goto invalid;
            }

            *(ngx_uint_t *) ((u_char *) m + opt->offset) = n;
            return NGX_OK;
        }
    }

    n = ngx_http_infer_llm_option(cf, m, value);
    if (n != NGX_DECLINED) {
        return n;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "model \"%V\": unknown option \"%V\"", &m->name,
                       value);
    return NGX_ERROR;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "model \"%V\": invalid value \"%V\"", &m->name, value);
    return NGX_ERROR;
}


/*
 * The zone's name carries a fingerprint of the model's files and of the
 * queue's geometry: a reload that changes neither keeps the queue and
 * what is in it; one that changes the model gets a new queue, and the
 * old workers finish their requests on the old weights.
 */

static ngx_int_t
ngx_http_infer_model_zone(ngx_conf_t *cf, ngx_http_infer_model_t *m)
{
    u_char       *p;
    size_t        size;
    uint32_t      hash;
    ngx_str_t     zname, file;
    ngx_uint_t    i;
    struct stat   st;

    hash = ngx_crc32_short(m->path.data, m->path.len);

    /* a directory's config.json and model.safetensors, or a GGUF file */

    for (i = 0; i < 2; i++) {
        if (i == 0) {
            ngx_str_set(&file, "config.json");

        } else {
            ngx_str_set(&file, "model.safetensors");
        }

        p = ngx_pnalloc(cf->temp_pool, m->path.len + file.len + 2);
        if (p == NULL) {
            return NGX_ERROR;
        }

        if (m->model->gguf) {
            if (i == 1) {
                break;
            }

            (void) ngx_sprintf(p, "%V%Z", &m->path);

        } else {
            (void) ngx_sprintf(p, "%V/%V%Z", &m->path, &file);
        }

        if (stat((char *) p, &st) == 0) {
            hash ^= ngx_crc32_short((u_char *) &st.st_mtim,
                                    sizeof(st.st_mtim));
            hash = hash * 31 + (uint32_t) st.st_size + (uint32_t) st.st_ino;
        }
    }

    size = ngx_http_infer_zone_size(m);

    zname.data = ngx_pnalloc(cf->pool, sizeof("infer::") + m->name.len
                                       + 2 * NGX_INT_T_LEN);
    if (zname.data == NULL) {
        return NGX_ERROR;
    }

    zname.len = ngx_sprintf(zname.data, "infer:%V:%08xD:%uz", &m->name, hash,
                            size)
                - zname.data;

    m->shm_zone = ngx_shared_memory_add(cf, &zname, size,
                                        &ngx_http_infer_module);
    if (m->shm_zone == NULL) {
        return NGX_ERROR;
    }

    m->shm_zone->init = ngx_http_infer_init_zone;
    m->shm_zone->data = m;

    return NGX_OK;
}


static void
ngx_http_infer_model_cleanup(void *data)
{
    infer_model_free(data);
}


static char *
ngx_http_infer(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_infer_loc_conf_t *ilcf = conf;

    ngx_str_t                         *value;
    ngx_http_core_loc_conf_t          *clcf;
    ngx_http_infer_main_conf_t        *imcf;
    ngx_http_compile_complex_value_t   ccv;

    if (ilcf->model || ilcf->api) {
        return "is duplicate";
    }

    value = cf->args->elts;

    ilcf->model = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
    if (ilcf->model == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &value[1];
    ccv.complex_value = ilcf->model;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (ilcf->model->lengths == NULL) {
        /* a literal name: it must be declared above */

        imcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_infer_module);

        if (ngx_http_infer_find_model(imcf, &value[1]) == NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "unknown model \"%V\": declare it with "
                               "\"infer_model\" in the http block first",
                               &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_infer_handler;

    return NGX_CONF_OK;
}


static char *
ngx_http_infer_api(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_infer_loc_conf_t *ilcf = conf;

    ngx_str_t                 *value;
    ngx_http_core_loc_conf_t  *clcf;

    if (ilcf->model || ilcf->api) {
        return "is duplicate";
    }

    value = cf->args->elts;
    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (cf->args->nelts == 1) {
        /* infer_metrics */
        ilcf->api = NGX_HTTP_INFER_API_METRICS;
        clcf->handler = ngx_http_infer_metrics_handler;
        return NGX_CONF_OK;
    }

    if (value[1].len == 6 && ngx_strncmp(value[1].data, "kserve", 6) == 0) {
        ilcf->api = NGX_HTTP_INFER_API_KSERVE;
        clcf->handler = ngx_http_infer_kserve_handler;
        return NGX_CONF_OK;
    }

    if (value[1].len == 6 && ngx_strncmp(value[1].data, "openai", 6) == 0) {
        ilcf->api = NGX_HTTP_INFER_API_OPENAI;
        clcf->handler = ngx_http_infer_openai_handler;
        return NGX_CONF_OK;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "unknown API \"%V\", the supported ones are "
                       "\"kserve\" and \"openai\"", &value[1]);
    return NGX_CONF_ERROR;
}


static ngx_int_t
ngx_http_infer_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                   i, worker, nworkers;
    ngx_core_conf_t             *ccf;
    ngx_http_infer_model_t     **mp;
    ngx_http_infer_main_conf_t  *imcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    imcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_infer_module);

    if (imcf == NULL || imcf->models.nelts == 0) {
        return NGX_OK;
    }

    ngx_http_infer_running = imcf;

    if (ngx_http_infer_wakeup_init(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    ccf = (ngx_core_conf_t *) ngx_get_conf(cycle->conf_ctx, ngx_core_module);

    if (ngx_process == NGX_PROCESS_SINGLE) {
        worker = 0;
        nworkers = 1;

    } else {
        worker = ngx_worker;
        nworkers = ccf->worker_processes;
    }

    mp = imcf->models.elts;

    for (i = 0; i < imcf->models.nelts; i++) {
        mp[i]->pending = ngx_pcalloc(cycle->pool, mp[i]->queue
                                                * sizeof(ngx_http_infer_ctx_t *));
        if (mp[i]->pending == NULL) {
            return NGX_ERROR;
        }

        mp[i]->scratch = ngx_palloc(cycle->pool, mp[i]->max_batch
                                                 * mp[i]->model->input.size
                                                 * sizeof(float));
        if (mp[i]->scratch == NULL) {
            return NGX_ERROR;
        }

        mp[i]->kick.handler = ngx_http_infer_kick_handler;
        mp[i]->kick.data = mp[i];
        mp[i]->kick.log = cycle->log;

        ngx_http_infer_reap(mp[i], cycle->log);
        ngx_http_infer_attach(mp[i], 1);

        if (ngx_http_infer_executors_start(cycle, mp[i], worker, nworkers)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static void
ngx_http_infer_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                   i;
    ngx_http_infer_model_t     **mp;
    ngx_http_infer_main_conf_t  *imcf;

    imcf = ngx_http_infer_running;

    if (imcf == NULL) {
        return;
    }

    mp = imcf->models.elts;

    for (i = 0; i < imcf->models.nelts; i++) {
        if (mp[i]->pending) {
            ngx_http_infer_attach(mp[i], 0);
        }
    }

    for (i = 0; i < imcf->models.nelts; i++) {
        ngx_http_infer_executors_stop(mp[i], !ngx_terminate,
                                      imcf->max_timeout);
    }

    ngx_http_infer_wakeup_done(cycle);
    (void) ngx_http_infer_decode_room(NULL, 0);

    ngx_http_infer_running = NULL;
}
