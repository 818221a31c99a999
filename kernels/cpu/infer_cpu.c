/*
 * ngx_infer: the CPU backend, OpenBLAS for the products and infer_math.h
 * for everything per element, the same numerics the CUDA kernels use.
 *
 * Activations ping-pong between two scratch buffers of max_batch rows of
 * the widest layer; the last layer writes straight into the caller's out.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cblas.h>

#include "infer_backend.h"
#include "infer_math.h"


typedef struct {
    const infer_model_t  *model;
    int                   max_batch;
    float                *buf[2];
} infer_cpu_ctx_t;


static const char *infer_cpu_name(infer_backend_t *b);
static int infer_cpu_load(infer_backend_t *b, const infer_model_t *m,
    int max_batch, char *err, size_t errlen);
static int infer_cpu_run(infer_backend_t *b, const float *in, int rows,
    float *out, char *err, size_t errlen);
static void infer_cpu_bias_act(float *y, const infer_layer_t *l, int rows);
static int infer_cpu_synchronize(infer_backend_t *b, char *err,
    size_t errlen);
static void infer_cpu_free(infer_backend_t *b);


static const infer_backend_iface_t  infer_cpu_iface = {
    /* .name        = */ infer_cpu_name,
    /* .load        = */ infer_cpu_load,
    /* .run         = */ infer_cpu_run,
    /* .synchronize = */ infer_cpu_synchronize,
    /* .free        = */ infer_cpu_free,
};


infer_backend_t *
infer_backend_cpu_new(char *err, size_t errlen)
{
    infer_backend_t  *b;
    infer_cpu_ctx_t  *ctx;

    b = malloc(sizeof(infer_backend_t));
    ctx = calloc(1, sizeof(infer_cpu_ctx_t));

    if (b == NULL || ctx == NULL) {
        free(b);
        free(ctx);
        snprintf(err, errlen, "cpu: out of memory");
        return NULL;
    }

    b->iface = &infer_cpu_iface;
    b->context = ctx;

    /*
     * One executor, one core: executors are the unit of parallelism, and
     * OpenBLAS's own threads would fight them, and each other, for cores.
     */
    openblas_set_num_threads(1);

    return b;
}


static const char *
infer_cpu_name(infer_backend_t *b)
{
    (void) b;

    return "cpu";
}


static int
infer_cpu_load(infer_backend_t *b, const infer_model_t *m, int max_batch,
    char *err, size_t errlen)
{
    int               i;
    size_t            n;
    infer_cpu_ctx_t  *ctx;

    ctx = b->context;

    if (max_batch < 1) {
        snprintf(err, errlen, "cpu: max_batch %d is not positive",
                 max_batch);
        return -1;
    }

    if (m->max_width < 1
        || (uint64_t) m->max_width > SIZE_MAX / sizeof(float) / max_batch)
    {
        snprintf(err, errlen, "cpu: %d rows of %lld values do not fit in "
                 "memory", max_batch, (long long) m->max_width);
        return -1;
    }

    n = (size_t) max_batch * (size_t) m->max_width * sizeof(float);

    for (i = 0; i < 2; i++) {
        free(ctx->buf[i]);

        ctx->buf[i] = malloc(n);
        if (ctx->buf[i] == NULL) {
            snprintf(err, errlen, "cpu: out of memory for %zu bytes of "
                     "scratch", n);
            ctx->model = NULL;
            return -1;
        }
    }

    ctx->model = m;
    ctx->max_batch = max_batch;

    return 0;
}


static int
infer_cpu_run(infer_backend_t *b, const float *in, int rows, float *out,
    char *err, size_t errlen)
{
    int                   i, r;
    float                *y;
    const float          *x;
    infer_cpu_ctx_t      *ctx;
    const infer_layer_t  *l;
    const infer_model_t  *m;

    ctx = b->context;
    m = ctx->model;

    if (m == NULL) {
        snprintf(err, errlen, "cpu: no model loaded");
        return -1;
    }

    if (rows < 0 || rows > ctx->max_batch) {
        snprintf(err, errlen, "cpu: batch of %d rows, max_batch is %d", rows,
                 ctx->max_batch);
        return -1;
    }

    if (rows == 0) {
        return 0;
    }

    x = in;

    for (i = 0; i < m->nlayers; i++) {
        l = &m->layers[i];
        y = (i == m->nlayers - 1) ? out : ctx->buf[i & 1];

        if (rows == 1) {
            /* OpenBLAS's sgemm with one row is several times slower */
            cblas_sgemv(CblasRowMajor, CblasNoTrans, l->out, l->in, 1.0f,
                        l->w, l->in, x, 1, 0.0f, y, 1);

        } else {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows,
                        l->out, l->in, 1.0f, x, l->in, l->w, l->in, 0.0f,
                        y, l->out);
        }

        infer_cpu_bias_act(y, l, rows);

        x = y;
    }

    if (m->output_softmax) {
        for (r = 0; r < rows; r++) {
            infer_softmax_row(out + (size_t) r * m->output_size,
                              out + (size_t) r * m->output_size,
                              (int) m->output_size);
        }
    }

    return 0;
}


static void
infer_cpu_bias_act(float *y, const infer_layer_t *l, int rows)
{
    int           r, j, n;
    const float  *bias;

    n = l->out;
    bias = l->b;

    if (bias == NULL && l->act == INFER_ACT_NONE) {
        return;
    }

    for (r = 0; r < rows; r++, y += n) {

        if (bias != NULL) {
            for (j = 0; j < n; j++) {
                y[j] += bias[j];
            }
        }

        /* one loop per activation: the switch stays out of the inner loop */
        switch (l->act) {
        case INFER_ACT_RELU:
            for (j = 0; j < n; j++) {
                y[j] = infer_relu(y[j]);
            }
            break;
        case INFER_ACT_GELU:
            for (j = 0; j < n; j++) {
                y[j] = infer_gelu(y[j]);
            }
            break;
        case INFER_ACT_TANH:
            for (j = 0; j < n; j++) {
                y[j] = infer_tanh(y[j]);
            }
            break;
        case INFER_ACT_SIGMOID:
            for (j = 0; j < n; j++) {
                y[j] = infer_sigmoid(y[j]);
            }
            break;
        case INFER_ACT_NONE:
            break;
        }
    }
}


static int
infer_cpu_synchronize(infer_backend_t *b, char *err, size_t errlen)
{
    (void) b;
    (void) err;
    (void) errlen;

    return 0;
}


static void
infer_cpu_free(infer_backend_t *b)
{
    infer_cpu_ctx_t  *ctx;

    if (b == NULL) {
        return;
    }

    ctx = b->context;

    if (ctx != NULL) {
        free(ctx->buf[0]);
        free(ctx->buf[1]);
        free(ctx);
    }

    free(b);
}
