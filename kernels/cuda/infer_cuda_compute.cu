/*
 * ngx_infer: the CUDA backend's reserve(), compute() and synchronize().
 *
 * Memory.  reserve(g) plans the largest graph with infer_graph_plan(g,
 * 256, inputs, no host outputs) and allocates what the plan says, plus,
 * for the F16/BF16 products, room for the largest x rounded to the
 * half type; and pinned buffers for the inputs and outputs, packed in
 * node order.  compute() plans its graph again (cheap) and grows the
 * buffers if ever it needs more, which drops every captured graph (they
 * hold the old addresses).
 *
 * What compute() enqueues, all on the one stream, in node order:
 *
 *   an input        pinned --H2D--> its planned bytes (at its own place in
 *                   the order: the plan may give it bytes that an earlier
 *                   node's result used until then)
 *   an op           its kernel, or cuBLAS
 *   then            each output --D2H--> pinned, its rows packed
 *
 * then one cudaStreamSynchronize and a memcpy into the caller's rows.
 * The launch itself, eager or a CUDA graph's replay, is
 * infer_cuda_graphs.cu's.
 *
 * Indices are data: the ids of get_rows and the sequences of attention
 * and pool are read on the device, where the kernels check them, read
 * nothing out of bounds, and report the first bad one in a status word
 * (infer_cuda.cuh) that is copied back with the outputs; compute() then
 * fails the batch with the message the CPU backend gives.  The KV
 * cache's block tables are checked on the host instead, before anything
 * is launched (infer_cuda_kv.cu): a bad one would write outside the
 * cache.
 *
 * Quantized weights (quant.cu) are read as their blocks by the products
 * and lookups; a prefill's product dequantizes tiles of the weight into
 * the scratch after x's converted rows.
 */

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "infer_cuda_impl.cuh"
#include "act.cuh"
#include "attention.cuh"
#include "binary.cuh"
#include "get_rows.cuh"
#include "matmul.cuh"
#include "norm.cuh"
#include "pool.cuh"
#include "quant.cuh"
#include "rope.cuh"
#include "softmax.cuh"

extern "C" {
#include "infer_util.h"
}


/* of every tensor in the scratch and pinned buffers */
#define INFER_CUDA_ALIGN             256


static int infer_cuda_graph_call(infer_backend_t *b, infer_graph_t *g,
    const char *what, int (*fn)(infer_cuda_ctx_t *ctx, infer_graph_t *g,
    char *err, size_t errlen), char *err, size_t errlen);
static int infer_cuda_check(infer_graph_t *g, char *err, size_t errlen);
static int infer_cuda_prepare(infer_cuda_ctx_t *ctx, infer_graph_t *g,
    char *err, size_t errlen);
static int infer_cuda_check_node(infer_cuda_ctx_t *ctx, infer_graph_t *g,
    int i, char *err, size_t errlen);
static infer_dtype_e infer_cuda_role(infer_cuda_ctx_t *ctx,
    const infer_tensor_t *t, int j);
static int infer_cuda_grow(infer_cuda_ctx_t *ctx, size_t scratch,
    size_t in, size_t out, char *err, size_t errlen);
static void infer_cuda_resolve(infer_cuda_ctx_t *ctx, infer_graph_t *g);
static int infer_cuda_forward(infer_cuda_ctx_t *ctx, infer_graph_t *g,
    char *err, size_t errlen);
static int infer_cuda_node(infer_cuda_ctx_t *ctx, infer_graph_t *g, int i,
    char *err, size_t errlen);
static int infer_cuda_status(const infer_cuda_status_t *st, char *err,
    size_t errlen);
static int infer_cuda_lost(infer_cuda_ctx_t *ctx);
static int infer_cuda_wait(infer_cuda_ctx_t *ctx, char *err, size_t errlen);


/* act.cu receives infer_act_e values as the constants of infer_math.h */
static_assert(INFER_ACT_NONE == INFER_MATH_ACT_NONE
              && INFER_ACT_RELU == INFER_MATH_ACT_RELU
              && INFER_ACT_GELU == INFER_MATH_ACT_GELU
              && INFER_ACT_TANH == INFER_MATH_ACT_TANH
              && INFER_ACT_SIGMOID == INFER_MATH_ACT_SIGMOID
              && INFER_ACT_GELU_TANH == INFER_MATH_ACT_GELU_TANH
              && INFER_ACT_SILU == INFER_MATH_ACT_SILU,
              "infer_act_e and INFER_MATH_ACT_* differ");

/* the kernels read a sequence as 4 I32, start first and len second */
static_assert(sizeof(infer_seq_t) == 4 * sizeof(int32_t)
              && offsetof(infer_seq_t, start) == 0
              && offsetof(infer_seq_t, len) == sizeof(int32_t),
              "infer_seq_t is not what attention.cu and pool.cu read");


int
infer_cuda_reserve(infer_backend_t *b, infer_graph_t *g, char *err,
    size_t errlen)
{
    /*
     * The memory for the largest graph (forward() prepares it first),
     * then that graph run once on its inputs, the runner's zeros: the
     * kernels and cuBLAS's choice for the largest shapes are loaded now
     * rather than on the first requests, and a configuration the GPU
     * cannot run fails at start-up.  On a GPU it takes milliseconds.
     */
    return infer_cuda_graph_call(b, g, "reserve", infer_cuda_forward, err,
                                 errlen);
}


int
infer_cuda_compute(infer_backend_t *b, infer_graph_t *g, char *err,
    size_t errlen)
{
    return infer_cuda_graph_call(b, g, "compute", infer_cuda_forward, err,
                                 errlen);
}


/*
 * What reserve() and compute() share: the checks before fn(ctx, g), and
 * after it the message's prefix ("cuda:0 (fp16): compute: ...") and the
 * verdict on the context.
 */
static int
infer_cuda_graph_call(infer_backend_t *b, infer_graph_t *g, const char *what,
    int (*fn)(infer_cuda_ctx_t *ctx, infer_graph_t *g, char *err,
              size_t errlen),
    char *err, size_t errlen)
{
    infer_cuda_ctx_t  *ctx;

    ctx = (infer_cuda_ctx_t *) b->context;

    if (!ctx->loaded) {
        return infer_error(err, errlen, "%s: %s: no weights loaded",
                           ctx->name, what);
    }

    if (infer_cuda_check(g, err, errlen) != 0
        || fn(ctx, g, err, errlen) != 0)
    {
        (void) infer_error_prefix(err, errlen, "%s: %s", ctx->name, what);
        return infer_cuda_lost(ctx) ? INFER_BACKEND_LOST : -1;
    }

    return 0;
}


/* what a graph must be before anything is planned for it */
static int
infer_cuda_check(infer_graph_t *g, char *err, size_t errlen)
{
    if (g->failed) {
        return infer_error(err, errlen, "the graph was not built: %s",
                           g->err);
    }

    if (g->n < 0 || g->n > g->cap || (g->n > 0 && g->nodes == NULL)) {
        return infer_error(err, errlen, "a graph of %d nodes", g->n);
    }

    return 0;
}


/*
 * Plans g, checks every node, makes the weights' forms it reads, grows
 * the buffers to what it needs, and points every node and source at its
 * bytes; then the signature of the result.
 */
static int
infer_cuda_prepare(infer_cuda_ctx_t *ctx, infer_graph_t *g, char *err,
    size_t errlen)
{
    int                 i, cap;
    size_t              plan, conv, in, out, size;
    infer_tensor_t     *t, *w;
    infer_dtype_e       wt;
    infer_cuda_node_t  *nodes;
    infer_cuda_sig_t   *sig;

    CUDA_CHECK(cudaSetDevice(ctx->device));

    if (g->n > ctx->cap) {
        cap = g->n < 64 ? 64 : g->n;

        nodes = (infer_cuda_node_t *) realloc(ctx->nodes,
                                              (size_t) cap
                                              * sizeof(infer_cuda_node_t));
        if (nodes != NULL) {
            ctx->nodes = nodes;
        }

        sig = (infer_cuda_sig_t *) realloc(ctx->sig,
                                           (size_t) cap
                                           * sizeof(infer_cuda_sig_t));
        if (sig != NULL) {
            ctx->sig = sig;
        }

        if (nodes == NULL || sig == NULL) {
            return infer_error(err, errlen, "out of memory");
        }

        ctx->cap = cap;
    }

    plan = infer_graph_plan(g, INFER_CUDA_ALIGN, 1, 0);
    plan = (plan + INFER_CUDA_ALIGN - 1) / INFER_CUDA_ALIGN
           * INFER_CUDA_ALIGN;

    conv = 0;
    in = 0;
    out = 0;
    ctx->checks = 0;

    for (i = 0; i < g->n; i++) {
        t = &g->nodes[i];

        if (infer_cuda_check_node(ctx, g, i, err, errlen) != 0) {
            return infer_error_prefix(err, errlen, "node %d (%s)", i,
                                      infer_op_name(t->op));
        }

        ctx->nodes[i].pin = 0;

        if (t->flags & INFER_TENSOR_INPUT) {
            ctx->nodes[i].pin = in;
            in += ((size_t) t->rows * t->nb + INFER_CUDA_ALIGN - 1)
                  / INFER_CUDA_ALIGN * INFER_CUDA_ALIGN;
        }

        if (t->flags & INFER_TENSOR_OUTPUT) {
            ctx->nodes[i].pin = out;
            out += ((size_t) t->rows * infer_dtype_row_size(t->type, t->cols)
                    + INFER_CUDA_ALIGN - 1)
                   / INFER_CUDA_ALIGN * INFER_CUDA_ALIGN;
        }

        if (t->op == INFER_OP_GET_ROWS || t->op == INFER_OP_ATTENTION
            || t->op == INFER_OP_POOL)
        {
            ctx->checks = 1;
        }

        if (t->op == INFER_OP_MATMUL) {
            w = t->src[1];
            wt = (w->flags & INFER_TENSOR_WEIGHT) ? ctx->wtype : w->type;

            if ((w->flags & INFER_TENSOR_WEIGHT)
                && infer_dtype_quantized(ctx->weights[w->weight].host.type))
            {
                /* the prefill's x and tiles of dequantized weights */
                size = infer_cuda_quant_scratch((int) t->rows, (int) t->cols,
                                                (int) t->src[0]->cols, wt);
                conv = size > conv ? size : conv;

            } else if (wt != INFER_DT_F32) {
                size = (size_t) t->rows * (size_t) t->src[0]->cols
                       * infer_cuda_dtype_size(wt);
                conv = size > conv ? size : conv;
            }
        }
    }

    ctx->conv_offset = plan;

    if (infer_cuda_grow(ctx, plan + conv, in, out, err, errlen) != 0) {
        return -1;
    }

    infer_cuda_resolve(ctx, g);
    infer_cuda_signature(ctx, g);

    return 0;
}


/*
 * What the builders cannot promise (a weight index, the sizes this
 * backend computes) or could not check (a graph assembled by hand);
 * makes the weight forms node i reads.
 */
static int
infer_cuda_check_node(infer_cuda_ctx_t *ctx, infer_graph_t *g, int i,
    char *err, size_t errlen)
{
    int                   j;
    infer_tensor_t       *t, *s;
    infer_dtype_e         dt;
    infer_cuda_weight_t  *cw;

    t = &g->nodes[i];

    if ((int) t->op < 0 || t->op >= INFER_OP_COUNT
        || t->type < 0 || t->type >= INFER_DT_COUNT
        || t->rows < 0 || t->rows > INT_MAX || t->cols < 1
        || t->cols > INT_MAX
        || t->nb < infer_dtype_row_size(t->type, t->cols)
        || t->nb % infer_cuda_dtype_size(t->type)
        || t->nb / infer_cuda_dtype_size(t->type) > INT_MAX)
    {
        return infer_error(err, errlen, "a %s tensor of [%lld, %lld], %zu "
                           "bytes a row, is not computed by this backend",
                           infer_dtype_name(t->type), (long long) t->rows,
                           (long long) t->cols, t->nb);
    }

    for (j = 0; j < 4; j++) {
        s = t->src[j];

        if (s != NULL && (s < g->nodes || s >= t)) {
            return infer_error(err, errlen, "source %d is not an earlier "
                               "node of the graph", j);
        }
    }

    if (t->op == INFER_OP_NONE) {
        if (t->flags & INFER_TENSOR_WEIGHT) {
            if (t->weight < 0 || t->weight >= ctx->nweights) {
                return infer_error(err, errlen, "weight %d of %d", t->weight,
                                   ctx->nweights);
            }

            cw = &ctx->weights[t->weight];

            if (cw->host.rows != t->rows || cw->host.cols != t->cols) {
                return infer_error(err, errlen, "weight %d (%s) is [%lld, "
                                   "%lld], the graph says [%lld, %lld]",
                                   t->weight, cw->host.name != NULL
                                              ? cw->host.name : "?",
                                   (long long) cw->host.rows,
                                   (long long) cw->host.cols,
                                   (long long) t->rows, (long long) t->cols);
            }

        } else if (!(t->flags & INFER_TENSOR_INPUT)
                   || (t->data == NULL && t->rows > 0))
        {
            return infer_error(err, errlen, "a leaf that is neither an "
                               "input nor a weight");
        }
    }

    if (t->op == INFER_OP_ROPE && t->ip[2] > INFER_CUDA_ROPE_MAX_ROT) {
        return infer_error(err, errlen, "%d rotated dims: this backend "
                           "rotates up to %d", t->ip[2],
                           INFER_CUDA_ROPE_MAX_ROT);
    }

    if ((t->flags & INFER_TENSOR_OUTPUT) && t->host == NULL && t->rows > 0) {
        return infer_error(err, errlen, "an output with nowhere to go");
    }

    if ((t->op == INFER_OP_KV_STORE || t->op == INFER_OP_KV_ATTENTION)
        && infer_cuda_kv_check(ctx, t, err, errlen) != 0)
    {
        return -1;
    }

    if (t->op == INFER_OP_ATTENTION
        && (t->ip[2] > INFER_CUDA_ATTENTION_MAX_DIM
            || t->ip[0] > INFER_CUDA_MAX_GRID_Y))
    {
        return infer_error(err, errlen, "%d heads of %d: this backend "
                           "computes heads of up to %d and up to %d of "
                           "them", t->ip[0], t->ip[2],
                           INFER_CUDA_ATTENTION_MAX_DIM,
                           INFER_CUDA_MAX_GRID_Y);
    }

    for (j = 0; j < 4; j++) {
        s = t->src[j];

        if (s != NULL && (s->flags & INFER_TENSOR_WEIGHT)) {
            dt = infer_cuda_role(ctx, t, j);

            if (infer_cuda_form(ctx, &ctx->weights[s->weight], dt, err,
                                errlen)
                != 0)
            {
                return infer_error_prefix(err, errlen, "weight %d (%s) in "
                                          "%s", s->weight,
                                          s->name != NULL ? s->name : "?",
                                          infer_dtype_name(dt));
            }
        }
    }

    return 0;
}


/*
 * The form in which node t reads the weight that is its source j: a
 * product's quantized weight as its blocks (quant.cu), whatever the
 * precision
 */
static infer_dtype_e
infer_cuda_role(infer_cuda_ctx_t *ctx, const infer_tensor_t *t, int j)
{
    const infer_weight_t  *w;

    if (t->op == INFER_OP_MATMUL && j == 1) {
        w = &ctx->weights[t->src[1]->weight].host;

        return infer_dtype_quantized(w->type) ? w->type : ctx->wtype;
    }

    if (t->op == INFER_OP_GET_ROWS && j == 0) {
        return ctx->weights[t->src[0]->weight].primary;
    }

    return INFER_DT_F32;
}


/* the buffers at least this large; new ones drop the captured graphs */
static int
infer_cuda_grow(infer_cuda_ctx_t *ctx, size_t scratch, size_t in,
    size_t out, char *err, size_t errlen)
{
    if (scratch <= ctx->scratch_size && in <= ctx->in_size
        && out <= ctx->out_size)
    {
        return 0;
    }

    CUDA_CHECK(cudaStreamSynchronize(ctx->stream));

    infer_cuda_drop_graphs(ctx);

    if (scratch > ctx->scratch_size) {
        infer_cuda_free_device(&ctx->scratch);
        ctx->scratch_size = 0;
        CUDA_CHECK(cudaMalloc(&ctx->scratch, scratch));
        ctx->scratch_size = scratch;
    }

    if (in > ctx->in_size) {
        infer_cuda_free_host(&ctx->in_host);
        ctx->in_size = 0;
        CUDA_CHECK(cudaMallocHost((void **) &ctx->in_host, in));
        ctx->in_size = in;
    }

    if (out > ctx->out_size) {
        infer_cuda_free_host(&ctx->out_host);
        ctx->out_size = 0;
        CUDA_CHECK(cudaMallocHost((void **) &ctx->out_host, out));
        ctx->out_size = out;
    }

    return 0;
}


/*
 * Every node's bytes: a weight's in its form, a view's inside its
 * source's, the others' where the plan put them; and, per node, its
 * sources' bytes, types and row strides as the kernels read them.
 * Inputs keep their data, the caller's host memory.
 */
static void
infer_cuda_resolve(infer_cuda_ctx_t *ctx, infer_graph_t *g)
{
    int                   i, j, k;
    infer_tensor_t       *t, *s;
    infer_dtype_e         dt;
    infer_cuda_node_t    *cn;
    infer_cuda_weight_t  *cw;

    for (i = 0; i < g->n; i++) {
        t = &g->nodes[i];
        cn = &ctx->nodes[i];

        if (t->flags & INFER_TENSOR_WEIGHT) {
            cw = &ctx->weights[t->weight];
            cn->data = cw->form[INFER_DT_F32] != NULL
                       ? cw->form[INFER_DT_F32] : cw->form[cw->primary];
            t->data = cn->data;

        } else if (t->op == INFER_OP_VIEW) {
            cn->data = (char *) ctx->nodes[t->src[0] - g->nodes].data
                       + (size_t) t->ip[0] * infer_cuda_dtype_size(t->type);
            t->data = cn->data;

        } else {
            cn->data = (char *) ctx->scratch + t->offset;

            if (!(t->flags & INFER_TENSOR_INPUT)) {
                t->data = cn->data;
            }
        }

        for (j = 0; j < 4; j++) {
            s = t->src[j];
            cn->src[j] = NULL;
            cn->stype[j] = INFER_DT_F32;
            cn->sld[j] = 0;

            if (s == NULL) {
                continue;
            }

            k = (int) (s - g->nodes);

            if (s->flags & INFER_TENSOR_WEIGHT) {
                /* the forms are packed */
                dt = infer_cuda_role(ctx, t, j);
                cn->src[j] = ctx->weights[s->weight].form[dt];
                cn->stype[j] = dt;
                cn->sld[j] = s->cols;

            } else {
                cn->src[j] = ctx->nodes[k].data;
                cn->stype[j] = s->type;
                cn->sld[j] = (int64_t) (s->nb
                                        / infer_cuda_dtype_size(s->type));
            }
        }
    }
}


/* computes g, its outputs into their host rows */
static int
infer_cuda_forward(infer_cuda_ctx_t *ctx, infer_graph_t *g, char *err,
    size_t errlen)
{
    int              i;
    size_t           n;
    infer_tensor_t  *t;

    if (infer_cuda_prepare(ctx, g, err, errlen) != 0) {
        return -1;
    }

    for (i = 0; i < g->n; i++) {
        t = &g->nodes[i];

        if ((t->flags & INFER_TENSOR_INPUT) && t->rows > 0) {
            memcpy(ctx->in_host + ctx->nodes[i].pin, t->data,
                   (size_t) t->rows * t->nb);
        }
    }

    if (infer_cuda_launch(ctx, g, err, errlen) != 0) {
        return -1;
    }

    CUDA_CHECK(cudaStreamSynchronize(ctx->stream));

    if (ctx->checks && infer_cuda_status(ctx->status_host, err, errlen) != 0)
    {
        return -1;
    }

    for (i = 0; i < g->n; i++) {
        t = &g->nodes[i];

        if ((t->flags & INFER_TENSOR_OUTPUT) && t->rows > 0) {
            n = (size_t) t->rows * infer_dtype_row_size(t->type, t->cols);
            memcpy(t->host, ctx->out_host + ctx->nodes[i].pin, n);
        }
    }

    return 0;
}


/* the whole of g on the stream, in node order, between the pinned
 * buffers */
int
infer_cuda_enqueue(infer_cuda_ctx_t *ctx, infer_graph_t *g, char *err,
    size_t errlen)
{
    int                 i;
    size_t              row;
    infer_tensor_t     *t;
    infer_cuda_node_t  *cn;

    if (ctx->checks) {
        CUDA_CHECK(cudaMemsetAsync(ctx->status, 0,
                                   sizeof(infer_cuda_status_t),
                                   ctx->stream));
    }

    for (i = 0; i < g->n; i++) {
        t = &g->nodes[i];
        cn = &ctx->nodes[i];

        /* a KV_STORE has no rows of its own: its work is its sources' */
        if (t->rows == 0 && t->op != INFER_OP_KV_STORE) {
            continue;
        }

        if (t->flags & INFER_TENSOR_INPUT) {
            CUDA_CHECK(cudaMemcpyAsync(cn->data, ctx->in_host + cn->pin,
                                       (size_t) t->rows * t->nb,
                                       cudaMemcpyHostToDevice, ctx->stream));

        } else if (t->op != INFER_OP_NONE && t->op != INFER_OP_VIEW
                   && infer_cuda_node(ctx, g, i, err, errlen) != 0)
        {
            return infer_error_prefix(err, errlen, "node %d (%s)", i,
                                      infer_op_name(t->op));
        }
    }

    for (i = 0; i < g->n; i++) {
        t = &g->nodes[i];
        cn = &ctx->nodes[i];

        if ((t->flags & INFER_TENSOR_OUTPUT) && t->rows > 0) {
            row = infer_dtype_row_size(t->type, t->cols);

            CUDA_CHECK(cudaMemcpy2DAsync(ctx->out_host + cn->pin, row,
                                         cn->data, t->nb, row,
                                         (size_t) t->rows,
                                         cudaMemcpyDeviceToHost,
                                         ctx->stream));
        }
    }

    if (ctx->checks) {
        CUDA_CHECK(cudaMemcpyAsync(ctx->status_host, ctx->status,
                                   sizeof(infer_cuda_status_t),
                                   cudaMemcpyDeviceToHost, ctx->stream));
    }

    return 0;
}


/* node i of g, on the stream; its rows are not 0 */
static int
infer_cuda_node(infer_cuda_ctx_t *ctx, infer_graph_t *g, int i, char *err,
    size_t errlen)
{
    int                      rows, cols;
    float                   *y;
    infer_tensor_t          *t;
    infer_cuda_node_t       *cn;
    infer_cuda_attention_t   a;
    infer_cuda_matmul_ctx_t  mc;

    t = &g->nodes[i];
    cn = &ctx->nodes[i];
    y = (float *) cn->data;
    rows = (int) t->rows;
    cols = (int) t->cols;

#define SRC(j)   ((const float *) cn->src[j])
#define LD(j)    (cn->sld[j])
    /* a source of one row for every row: ld 0 */
#define BLD(j)   (t->src[j]->rows == 1 ? 0 : cn->sld[j])

    switch (t->op) {

    case INFER_OP_MATMUL:
        mc.cublas = ctx->cublas;
        mc.stream = ctx->stream;
        mc.compute = ctx->compute;

        if (infer_dtype_quantized(cn->stype[1])) {
            return infer_cuda_quant_matmul(&mc, y, SRC(0), LD(0), cn->src[1],
                                           cn->stype[1], SRC(2), ctx->wtype,
                                           (char *) ctx->scratch
                                           + ctx->conv_offset,
                                           rows, cols, (int) t->src[0]->cols,
                                           err, errlen);
        }

        return infer_cuda_matmul(&mc, y, SRC(0), LD(0), cn->src[1],
                                 cn->stype[1], LD(1), SRC(2),
                                 (char *) ctx->scratch + ctx->conv_offset,
                                 rows, cols, (int) t->src[0]->cols, err,
                                 errlen);

    case INFER_OP_ADD:
    case INFER_OP_MUL:
        CUDA_CHECK(infer_cuda_binary(t->op == INFER_OP_ADD
                                     ? INFER_CUDA_BINARY_ADD
                                     : INFER_CUDA_BINARY_MUL,
                                     y, SRC(0), LD(0), SRC(1), BLD(1), rows,
                                     cols, ctx->stream));
        return 0;

    case INFER_OP_ACT:
        CUDA_CHECK(infer_cuda_act(t->ip[0], y, SRC(0), LD(0), rows, cols,
                                  ctx->stream));
        return 0;

    case INFER_OP_SOFTMAX:
        CUDA_CHECK(infer_cuda_softmax(y, SRC(0), LD(0), SRC(1),
                                      t->src[1] != NULL ? BLD(1) : 0,
                                      t->fp[0] == 0.0f ? 1.0f : t->fp[0],
                                      rows, cols, ctx->stream));
        return 0;

    case INFER_OP_LAYER_NORM:
        CUDA_CHECK(infer_cuda_norm(INFER_CUDA_NORM_LAYER, y, SRC(0), LD(0),
                                   SRC(1), SRC(2), t->fp[0], rows, cols,
                                   ctx->stream));
        return 0;

    case INFER_OP_RMS_NORM:
        CUDA_CHECK(infer_cuda_norm(INFER_CUDA_NORM_RMS, y, SRC(0), LD(0),
                                   SRC(1), NULL, t->fp[0], rows, cols,
                                   ctx->stream));
        return 0;

    case INFER_OP_L2_NORM:
        CUDA_CHECK(infer_cuda_norm(INFER_CUDA_NORM_L2, y, SRC(0), LD(0),
                                   NULL, NULL, t->fp[0], rows, cols,
                                   ctx->stream));
        return 0;

    case INFER_OP_GET_ROWS:
        CUDA_CHECK(infer_cuda_get_rows(y, cn->src[0], cn->stype[0], LD(0),
                                       t->src[0]->rows,
                                       (const int32_t *) cn->src[1], LD(1),
                                       rows, cols, ctx->status,
                                       ctx->stream));
        return 0;

    case INFER_OP_ROPE:
        CUDA_CHECK(infer_cuda_rope(y, SRC(0), LD(0),
                                   (const int32_t *) cn->src[1], LD(1), rows,
                                   t->ip[0], t->ip[1], t->ip[2], t->ip[3],
                                   t->fp[0], ctx->stream));
        return 0;

    case INFER_OP_ATTENTION:
        a.y = y;
        a.q = SRC(0);
        a.k = SRC(1);
        a.v = SRC(2);
        a.ldq = LD(0);
        a.ldk = LD(1);
        a.ldv = LD(2);
        a.seqs = (const int32_t *) cn->src[3];
        a.ld_seqs = LD(3);
        a.nseqs = (int) t->src[3]->rows;
        a.tokens = rows;
        a.heads = t->ip[0];
        a.kv_heads = t->ip[1];
        a.head_dim = t->ip[2];
        a.causal = t->ip[3];
        a.scale = t->fp[0];
        a.st = ctx->status;

        CUDA_CHECK(infer_cuda_attention(&a, ctx->stream));
        return 0;

    case INFER_OP_KV_STORE:
    case INFER_OP_KV_ATTENTION:
        return infer_cuda_kv_node(ctx, g, i, err, errlen);

    case INFER_OP_POOL:
        CUDA_CHECK(infer_cuda_pool(t->ip[0], y, SRC(0), LD(0),
                                   (int) t->src[0]->rows,
                                   (const int32_t *) cn->src[1], LD(1), rows,
                                   cols, ctx->status, ctx->stream));
        return 0;

    default:
        return infer_error(err, errlen, "not an op of this backend");
    }

#undef SRC
#undef LD
#undef BLD
}


/* what the kernels reported, in the words of the CPU backend's checks */
static int
infer_cuda_status(const infer_cuda_status_t *st, char *err, size_t errlen)
{
    switch (st->code) {

    case 0:
        return 0;

    case INFER_CUDA_BAD_ID:
        return infer_error(err, errlen, "get_rows: id %d of row %d is not "
                           "in [0, %d)", st->v[0], st->v[1], st->v[2]);

    case INFER_CUDA_BAD_SEQ:
        return infer_error(err, errlen, "sequence %d has tokens [%d, %d) of "
                           "%d", st->v[0], st->v[1], st->v[2], st->v[3]);

    default:
        return infer_error(err, errlen, "a kernel reported %d", st->code);
    }
}


int
infer_cuda_synchronize(infer_backend_t *b, char *err, size_t errlen)
{
    infer_cuda_ctx_t  *ctx;

    ctx = (infer_cuda_ctx_t *) b->context;

    if (infer_cuda_wait(ctx, err, errlen) != 0) {
        (void) infer_error_prefix(err, errlen, "%s: synchronize", ctx->name);
        return infer_cuda_lost(ctx) ? INFER_BACKEND_LOST : -1;
    }

    return 0;
}


/*
 * After a failure: whether the CUDA context is lost.  An error of a kernel
 * (an illegal address, a trap, an uncorrectable ECC error) is sticky: every
 * later call of this process returns it, and only a new process can use
 * the device again.  cudaStreamQuery() does not wait, and returns such an
 * error if there is one; anything else (an out-of-memory, a cuBLAS status)
 * failed one batch only.
 */
static int
infer_cuda_lost(infer_cuda_ctx_t *ctx)
{
    if (ctx->stream == NULL) {
        return 0;
    }

    switch (cudaStreamQuery(ctx->stream)) {

    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure:
    case cudaErrorLaunchTimeout:
    case cudaErrorAssert:
    case cudaErrorHardwareStackError:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorECCUncorrectable:
        return 1;

    default:
        return 0;
    }
}


/* compute() has waited for its graph already: this reports an error that
 * arrived since, a sticky one */
static int
infer_cuda_wait(infer_cuda_ctx_t *ctx, char *err, size_t errlen)
{
    CUDA_CHECK(cudaSetDevice(ctx->device));
    CUDA_CHECK(cudaStreamSynchronize(ctx->stream));

    return 0;
}
