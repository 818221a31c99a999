
/*
 * ngx_infer: where a model runs, decided at configuration time.
 *
 * device=cuda:N must find a usable GPU N, or nginx does not start; with
 * device=auto, no usable GPU means the CPU.  The CUDA backend is its own
 * shared object next to the module, and it is tried in a child process:
 * a CUDA context made here, in the master, would not survive the fork of
 * the workers.  precision= must be one the device computes in.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <dlfcn.h>

#include "ngx_http_infer_module.h"


ngx_int_t
ngx_http_infer_device(ngx_conf_t *cf, ngx_http_infer_model_t *m)
{
    u_char      *p;
    size_t       len;
    Dl_info      dl;
    ngx_uint_t   autodev;
    char         info[256], err[INFER_ERRLEN];

    autodev = (m->device.len == 4
               && ngx_strncmp(m->device.data, "auto", 4) == 0);

    if (m->precision == INFER_PRECISION_Q8 && (m->gpu >= 0 || autodev)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "model \"%V\": precision=q8 is the CPU's "
                           "(device=cpu), a GPU computes in fp32, tf32, fp16 "
                           "or bf16", &m->name);
        return NGX_ERROR;
    }

    if (m->gpu < 0) {
        if (m->precision != INFER_PRECISION_FP32
            && m->precision != INFER_PRECISION_Q8)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "model \"%V\": precision=%s needs a GPU "
                               "(device=cuda:N or auto), the CPU computes "
                               "in fp32 or q8", &m->name,
                               infer_precision_name(m->precision));
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    if (dladdr((void *) &ngx_http_infer_module, &dl) == 0
        || dl.dli_fname == NULL)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "model \"%V\": dladdr() cannot find the module's "
                           "own file", &m->name);
        return NGX_ERROR;
    }

    p = (u_char *) strrchr(dl.dli_fname, '/');
    len = p ? (size_t) (p - (u_char *) dl.dli_fname) + 1 : 0;

    m->cuda_so = ngx_pnalloc(cf->pool, len + sizeof("ngx_infer_cuda.so"));
    if (m->cuda_so == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(m->cuda_so, dl.dli_fname, len);
    ngx_memcpy(m->cuda_so + len, "ngx_infer_cuda.so",
               sizeof("ngx_infer_cuda.so"));

    if (infer_cuda_probe_isolated(m->cuda_so, m->gpu, info, sizeof(info),
                                  err, sizeof(err))
        == 0)
    {
        m->device.data = ngx_pnalloc(cf->pool, sizeof("cuda:") + NGX_INT_T_LEN);
        if (m->device.data == NULL) {
            return NGX_ERROR;
        }

        m->device.len = ngx_sprintf(m->device.data, "cuda:%i", m->gpu)
                        - m->device.data;

        ngx_conf_log_error(NGX_LOG_NOTICE, cf, 0,
                           "model \"%V\" runs on %V, %s, in %s", &m->name,
                           &m->device, info,
                           infer_precision_name(m->precision));
        return NGX_OK;
    }

    if (!autodev) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "model \"%V\": device %V cannot be used: %s",
                           &m->name, &m->device, err);
        return NGX_ERROR;
    }

    ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                       "model \"%V\": no usable GPU for device=auto (%s), "
                       "the model runs on the CPU", &m->name, err);

    ngx_str_set(&m->device, "cpu");
    m->gpu = -1;
    m->precision = INFER_PRECISION_FP32;

    return NGX_OK;
}
