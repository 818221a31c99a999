/*
 * ngx_infer: the CPU backend.  It computes a graph of ops node by node
 * (infer_cpu_matmul.c for the products, infer_cpu_ops.c for the rest) in
 * one scratch buffer planned by infer_graph_plan(): inputs are read where
 * the caller has them, weights where the model has them (F32: the mapping
 * itself, or the copy the model made of F16 and BF16 ones; GGUF's
 * quantized blocks as they are stored), and outputs are written straight
 * into the caller's rows.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "infer_backend.h"
#include "infer_cpu.h"


/* AVX loads want 32 bytes; a cache line keeps tensors apart */
#define INFER_CPU_ALIGN  64


typedef struct {
    const infer_weight_t  *weights;
    int                    nweights;
    char                  *scratch;
    size_t                 scratch_size;
    infer_cpu_env_t        env;
} infer_cpu_ctx_t;


static const char *infer_cpu_name(infer_backend_t *b);
static int infer_cpu_load(infer_backend_t *b, const infer_weight_t *w,
    int nweights, char *err, size_t errlen);
static int infer_cpu_reserve(infer_backend_t *b, infer_graph_t *g,
    char *err, size_t errlen);
static int infer_cpu_compute(infer_backend_t *b, infer_graph_t *g,
    char *err, size_t errlen);
static int infer_cpu_scratch(infer_cpu_ctx_t *ctx, size_t size, char *err,
    size_t errlen);
static int infer_cpu_kv_init(infer_backend_t *b,
    const infer_kv_shape_t *kv, char *err, size_t errlen);
static int infer_cpu_synchronize(infer_backend_t *b, char *err,
    size_t errlen);
static void infer_cpu_free(infer_backend_t *b);


static const infer_backend_iface_t  infer_cpu_iface = {
    /* .name        = */ infer_cpu_name,
    /* .load        = */ infer_cpu_load,
    /* .reserve     = */ infer_cpu_reserve,
    /* .compute     = */ infer_cpu_compute,
    /* .kv_init     = */ infer_cpu_kv_init,
    /* .synchronize = */ infer_cpu_synchronize,
    /* .free        = */ infer_cpu_free,
};


infer_backend_t *
infer_backend_cpu_new(int precision, char *err, size_t errlen)
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

#if (defined __x86_64__ && defined __GNUC__)
    ctx->env.avx2 = __builtin_cpu_supports("avx2")
                    && __builtin_cpu_supports("fma");
    ctx->env.avx512 = ctx->env.avx2 && infer_cpu_quant_avx512();
#endif

    ctx->env.quant_q8 = (precision == INFER_PRECISION_Q8);

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
infer_cpu_load(infer_backend_t *b, const infer_weight_t *w, int nweights,
    char *err, size_t errlen)
{
    int               i;
    infer_cpu_ctx_t  *ctx;

    ctx = b->context;

    for (i = 0; i < nweights; i++) {
        if (infer_dtype_quantized(w[i].type)) {
            /* computed on as stored: infer_cpu_quant.c, get_rows */
            if (w[i].data == NULL
                || w[i].nbytes < (size_t) w[i].rows
                                 * infer_dtype_row_size(w[i].type, w[i].cols))
            {
                snprintf(err, errlen, "cpu: weight \"%s\" (%s) has no "
                         "blocks for [%lld, %lld]", w[i].name,
                         infer_dtype_name(w[i].type), (long long) w[i].rows,
                         (long long) w[i].cols);
                return -1;
            }

        } else if (w[i].f32 == NULL) {
            snprintf(err, errlen, "cpu: weight \"%s\" has no F32 form",
                     w[i].name);
            return -1;
        }
    }

    ctx->weights = w;
    ctx->nweights = nweights;

    return 0;
}


static int
infer_cpu_reserve(infer_backend_t *b, infer_graph_t *g, char *err,
    size_t errlen)
{
    return infer_cpu_scratch(b->context,
                             infer_graph_plan(g, INFER_CPU_ALIGN, 0, 1),
                             err, errlen);
}


static int
infer_cpu_scratch(infer_cpu_ctx_t *ctx, size_t size, char *err,
    size_t errlen)
{
    void  *p;

    if (size <= ctx->scratch_size) {
        return 0;
    }

    if (posix_memalign(&p, INFER_CPU_ALIGN, size) != 0) {
        snprintf(err, errlen, "cpu: out of memory for %zu bytes of scratch",
                 size);
        return -1;
    }

    free(ctx->scratch);
    ctx->scratch = p;
    ctx->scratch_size = size;

    return 0;
}


static int
infer_cpu_compute(infer_backend_t *b, infer_graph_t *g, char *err,
    size_t errlen)
{
    int               i;
    size_t            row;
    int64_t           r;
    infer_tensor_t   *t;
    infer_cpu_ctx_t  *ctx;

    ctx = b->context;

    if (g->failed) {
        snprintf(err, errlen, "cpu: the graph was not built: %s", g->err);
        return -1;
    }

    if (infer_cpu_scratch(ctx, infer_graph_plan(g, INFER_CPU_ALIGN, 0, 1),
                          err, errlen)
        != 0)
    {
        return -1;
    }

    for (i = 0; i < g->n; i++) {
        t = &g->nodes[i];

        if (t->flags & INFER_TENSOR_WEIGHT) {
            if (t->weight < 0 || t->weight >= ctx->nweights) {
                snprintf(err, errlen, "cpu: node %d names weight %d of %d",
                         i, t->weight, ctx->nweights);
                return -1;
            }

            if (infer_dtype_quantized(ctx->weights[t->weight].type)) {
                t->data = (void *) ctx->weights[t->weight].data;
                t->type = ctx->weights[t->weight].type;
                t->nb = infer_dtype_row_size(t->type, t->cols);

            } else {
                t->data = (void *) ctx->weights[t->weight].f32;
                t->type = INFER_DT_F32;
                t->nb = (size_t) t->cols * sizeof(float);
            }

        } else if (t->flags & INFER_TENSOR_INPUT) {
            /* the caller's memory */

        } else if (t->op == INFER_OP_VIEW) {
            t->data = (char *) t->src[0]->data
                      + (size_t) t->ip[0]
                        * infer_dtype_block_size(t->src[0]->type);

        } else if ((t->flags & INFER_TENSOR_OUTPUT)
                   && infer_tensor_contiguous(t))
        {
            t->data = t->host;

        } else {
            t->data = ctx->scratch + t->offset;
        }

        if (infer_cpu_op(&ctx->env, t, err, errlen) != 0) {
            return -1;
        }
    }

    /* outputs that are views of wider rows go to the host packed */

    for (i = 0; i < g->n; i++) {
        t = &g->nodes[i];

        if (!(t->flags & INFER_TENSOR_OUTPUT) || t->data == t->host) {
            continue;
        }

        row = infer_dtype_row_size(t->type, t->cols);

        for (r = 0; r < t->rows; r++) {
            memcpy((char *) t->host + (size_t) r * row,
                   (char *) t->data + (size_t) r * t->nb, row);
        }
    }

    return 0;
}


static int
infer_cpu_kv_init(infer_backend_t *b, const infer_kv_shape_t *kv, char *err,
    size_t errlen)
{
    size_t            n;
    infer_cpu_ctx_t  *ctx;

    ctx = b->context;

    if (kv->layers < 1 || kv->kv_dim < 1 || kv->block_tokens < 1
        || kv->n_blocks < 1)
    {
        snprintf(err, errlen, "cpu: a KV cache of %d blocks of %d tokens, "
                 "%d layers of %d", kv->n_blocks, kv->block_tokens,
                 kv->layers, kv->kv_dim);
        return -1;
    }

    n = (size_t) kv->n_blocks * kv->layers * 2 * kv->block_tokens
        * kv->kv_dim;

    /* a new cache replaces the one there was */
    free(ctx->env.kv);
    ctx->env.kv_shape.n_blocks = 0;

    ctx->env.kv = calloc(n, sizeof(float));
    if (ctx->env.kv == NULL) {
        snprintf(err, errlen, "cpu: out of memory for a KV cache of %zu "
                 "bytes", n * sizeof(float));
        return -1;
    }

    ctx->env.kv_shape = *kv;

    return 0;
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
        free(ctx->scratch);
        free(ctx->env.work);
        free(ctx->env.kv);
        free(ctx);
    }

    free(b);
}
