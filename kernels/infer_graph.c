/*
 * ngx_infer: building a graph of ops and planning its memory
 * (infer_ops.h).  The builders check shapes, so that a backend computes
 * only graphs whose every node makes sense; the plan gives intermediate
 * tensors offsets in one scratch buffer, reusing what no later node reads.
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "infer_math.h"
#include "infer_ops.h"
#include "infer_util.h"


/* infer_math.h repeats the activation values to stay self-contained */
typedef char infer_act_values_agree_t[
    (INFER_ACT_NONE == INFER_MATH_ACT_NONE
     && INFER_ACT_RELU == INFER_MATH_ACT_RELU
     && INFER_ACT_GELU == INFER_MATH_ACT_GELU
     && INFER_ACT_TANH == INFER_MATH_ACT_TANH
     && INFER_ACT_SIGMOID == INFER_MATH_ACT_SIGMOID
     && INFER_ACT_GELU_TANH == INFER_MATH_ACT_GELU_TANH
     && INFER_ACT_SILU == INFER_MATH_ACT_SILU) ? 1 : -1];


static infer_tensor_t *infer_graph_node(infer_graph_t *g, infer_op_e op,
    infer_dtype_e type, int64_t rows, int64_t cols);
static infer_tensor_t *infer_graph_fail(infer_graph_t *g, const char *fmt,
    ...) INFER_PRINTF(2, 3);
static int infer_graph_f32(infer_graph_t *g, const infer_tensor_t *t,
    const char *op, const char *what);
static int infer_graph_vector(infer_graph_t *g, const infer_tensor_t *t,
    int64_t cols, const char *op, const char *what);
static int infer_graph_blocks(infer_graph_t *g, const infer_tensor_t *seqs,
    const infer_tensor_t *blocks, const char *op);
static int infer_graph_seqs(infer_graph_t *g, const infer_tensor_t *seqs,
    const char *op);


/* what a failed builder returns: a node nobody computes */
static infer_tensor_t  infer_graph_placeholder;


static const char  *infer_op_names[INFER_OP_COUNT] = {
    "none", "view", "matmul", "add", "mul", "act", "softmax", "layer_norm",
    "rms_norm", "get_rows", "rope", "attention", "pool", "l2_norm",
    "kv_store", "kv_attention"
};


const char *
infer_op_name(infer_op_e op)
{
    return (op >= 0 && op < INFER_OP_COUNT) ? infer_op_names[op] : "unknown";
}


const char *
infer_dtype_name(infer_dtype_e dt)
{
    static const char  *names[INFER_DT_COUNT] = {
        "F32", "F16", "BF16", "I32", "I64", "Q8_0", "Q4_0", "Q4_1", "Q4_K",
        "Q5_K", "Q6_K"
    };

    return (dt >= 0 && dt < INFER_DT_COUNT) ? names[dt] : "unknown";
}


void
infer_graph_init(infer_graph_t *g, infer_tensor_t *nodes, int cap)
{
    g->nodes = nodes;
    g->n = 0;
    g->cap = cap;
    g->failed = 0;
    g->err[0] = '\0';
}


int
infer_tensor_contiguous(const infer_tensor_t *t)
{
    return t->nb == infer_dtype_row_size(t->type, t->cols);
}


infer_tensor_t *
infer_op_input(infer_graph_t *g, infer_dtype_e type, int64_t rows,
    int64_t cols, const void *data, const char *name)
{
    infer_tensor_t  *t;

    t = infer_graph_node(g, INFER_OP_NONE, type, rows, cols);
    t->flags = INFER_TENSOR_INPUT;
    t->data = (void *) data;
    t->name = name;

    return t;
}


infer_tensor_t *
infer_op_weight(infer_graph_t *g, int weight, infer_dtype_e type,
    int64_t rows, int64_t cols, const char *name)
{
    infer_tensor_t  *t;

    t = infer_graph_node(g, INFER_OP_NONE, type, rows, cols);
    t->flags = INFER_TENSOR_WEIGHT;
    t->weight = weight;
    t->name = name;

    return t;
}


infer_tensor_t *
infer_op_view_cols(infer_graph_t *g, infer_tensor_t *x, int64_t col0,
    int64_t cols)
{
    infer_tensor_t  *t;

    if (x->type != INFER_DT_F32 && x->type != INFER_DT_I32) {
        return infer_graph_fail(g, "view: a view of a %s tensor",
                                infer_dtype_name(x->type));
    }

    if (col0 < 0 || cols < 1 || col0 + cols > x->cols) {
        return infer_graph_fail(g, "view: columns %lld..%lld of %lld",
                                (long long) col0, (long long) (col0 + cols),
                                (long long) x->cols);
    }

    t = infer_graph_node(g, INFER_OP_VIEW, x->type, x->rows, cols);
    t->nb = x->nb;
    t->src[0] = x;
    t->ip[0] = (int32_t) col0;

    return t;
}


infer_tensor_t *
infer_op_matmul(infer_graph_t *g, infer_tensor_t *x, infer_tensor_t *w,
    infer_tensor_t *b)
{
    infer_tensor_t  *t;

    if (!infer_graph_f32(g, x, "matmul", "x")) {
        return &infer_graph_placeholder;
    }

    if (w->type != INFER_DT_F32 && w->type != INFER_DT_F16
        && w->type != INFER_DT_BF16 && !infer_dtype_quantized(w->type))
    {
        return infer_graph_fail(g, "matmul: weights of type %s",
                                infer_dtype_name(w->type));
    }

    if (w->cols != x->cols) {
        return infer_graph_fail(g, "matmul: x has %lld columns, w [%lld, "
                                "%lld]", (long long) x->cols,
                                (long long) w->rows, (long long) w->cols);
    }

    if (b != NULL && !infer_graph_vector(g, b, w->rows, "matmul", "bias")) {
        return &infer_graph_placeholder;
    }

    t = infer_graph_node(g, INFER_OP_MATMUL, INFER_DT_F32, x->rows, w->rows);
    t->src[0] = x;
    t->src[1] = w;
    t->src[2] = b;

    return t;
}


static infer_tensor_t *
infer_op_binary(infer_graph_t *g, infer_op_e op, infer_tensor_t *a,
    infer_tensor_t *b)
{
    infer_tensor_t  *t;

    if (!infer_graph_f32(g, a, infer_op_name(op), "a")
        || !infer_graph_f32(g, b, infer_op_name(op), "b"))
    {
        return &infer_graph_placeholder;
    }

    if (b->cols != a->cols || (b->rows != a->rows && b->rows != 1)) {
        return infer_graph_fail(g, "%s: [%lld, %lld] and [%lld, %lld]",
                                infer_op_name(op), (long long) a->rows,
                                (long long) a->cols, (long long) b->rows,
                                (long long) b->cols);
    }

    t = infer_graph_node(g, op, INFER_DT_F32, a->rows, a->cols);
    t->src[0] = a;
    t->src[1] = b;

    return t;
}


infer_tensor_t *
infer_op_add(infer_graph_t *g, infer_tensor_t *a, infer_tensor_t *b)
{
    return infer_op_binary(g, INFER_OP_ADD, a, b);
}


infer_tensor_t *
infer_op_mul(infer_graph_t *g, infer_tensor_t *a, infer_tensor_t *b)
{
    return infer_op_binary(g, INFER_OP_MUL, a, b);
}


infer_tensor_t *
infer_op_act(infer_graph_t *g, infer_tensor_t *x, int act)
{
    infer_tensor_t  *t;

    if (!infer_graph_f32(g, x, "act", "x")) {
        return &infer_graph_placeholder;
    }

    if (act < 0 || act >= INFER_ACT_COUNT) {
        return infer_graph_fail(g, "act: unknown activation %d", act);
    }

    t = infer_graph_node(g, INFER_OP_ACT, INFER_DT_F32, x->rows, x->cols);
    t->src[0] = x;
    t->ip[0] = act;

    return t;
}


infer_tensor_t *
infer_op_softmax(infer_graph_t *g, infer_tensor_t *x, infer_tensor_t *mask,
    float scale)
{
    infer_tensor_t  *t;

    if (!infer_graph_f32(g, x, "softmax", "x")) {
        return &infer_graph_placeholder;
    }

    if (mask != NULL
        && (!infer_graph_f32(g, mask, "softmax", "mask")
            || mask->cols != x->cols
            || (mask->rows != x->rows && mask->rows != 1)))
    {
        return infer_graph_fail(g, "softmax: a mask of [%lld, %lld] for "
                                "[%lld, %lld]", (long long) mask->rows,
                                (long long) mask->cols, (long long) x->rows,
                                (long long) x->cols);
    }

    t = infer_graph_node(g, INFER_OP_SOFTMAX, INFER_DT_F32, x->rows, x->cols);
    t->src[0] = x;
    t->src[1] = mask;
    t->fp[0] = scale == 0.0f ? 1.0f : scale;

    return t;
}


infer_tensor_t *
infer_op_layer_norm(infer_graph_t *g, infer_tensor_t *x, infer_tensor_t *w,
    infer_tensor_t *b, float eps)
{
    infer_tensor_t  *t;

    if (!infer_graph_f32(g, x, "layer_norm", "x")
        || !infer_graph_vector(g, w, x->cols, "layer_norm", "weight")
        || (b != NULL
            && !infer_graph_vector(g, b, x->cols, "layer_norm", "bias")))
    {
        return &infer_graph_placeholder;
    }

    t = infer_graph_node(g, INFER_OP_LAYER_NORM, INFER_DT_F32, x->rows,
                         x->cols);
    t->src[0] = x;
    t->src[1] = w;
    t->src[2] = b;
    t->fp[0] = eps;

    return t;
}


infer_tensor_t *
infer_op_rms_norm(infer_graph_t *g, infer_tensor_t *x, infer_tensor_t *w,
    float eps)
{
    infer_tensor_t  *t;

    if (!infer_graph_f32(g, x, "rms_norm", "x")
        || !infer_graph_vector(g, w, x->cols, "rms_norm", "weight"))
    {
        return &infer_graph_placeholder;
    }

    t = infer_graph_node(g, INFER_OP_RMS_NORM, INFER_DT_F32, x->rows,
                         x->cols);
    t->src[0] = x;
    t->src[1] = w;
    t->fp[0] = eps;

    return t;
}


infer_tensor_t *
infer_op_get_rows(infer_graph_t *g, infer_tensor_t *table,
    infer_tensor_t *ids)
{
    infer_tensor_t  *t;

    if (table->type != INFER_DT_F32 && table->type != INFER_DT_F16
        && table->type != INFER_DT_BF16
        && !infer_dtype_quantized(table->type))
    {
        return infer_graph_fail(g, "get_rows: a table of type %s",
                                infer_dtype_name(table->type));
    }

    if (ids->type != INFER_DT_I32 || ids->cols != 1) {
        return infer_graph_fail(g, "get_rows: ids must be [n, 1] I32");
    }

    t = infer_graph_node(g, INFER_OP_GET_ROWS, INFER_DT_F32, ids->rows,
                         table->cols);
    t->src[0] = table;
    t->src[1] = ids;

    return t;
}


infer_tensor_t *
infer_op_rope(infer_graph_t *g, infer_tensor_t *x, infer_tensor_t *pos,
    int heads, int head_dim, int n_rot, int mode, float theta)
{
    infer_tensor_t  *t;

    if (!infer_graph_f32(g, x, "rope", "x")) {
        return &infer_graph_placeholder;
    }

    if (heads < 1 || head_dim < 2 || (int64_t) heads * head_dim != x->cols
        || n_rot < 2 || n_rot > head_dim || (n_rot & 1)
        || (mode != INFER_ROPE_NORM && mode != INFER_ROPE_NEOX)
        || !(theta > 0.0f))
    {
        return infer_graph_fail(g, "rope: %d heads of %d (%d rotated, "
                                "mode %d) for %lld columns", heads, head_dim,
                                n_rot, mode, (long long) x->cols);
    }

    if (pos->type != INFER_DT_I32 || pos->cols != 1 || pos->rows != x->rows) {
        return infer_graph_fail(g, "rope: positions must be [%lld, 1] I32",
                                (long long) x->rows);
    }

    t = infer_graph_node(g, INFER_OP_ROPE, INFER_DT_F32, x->rows, x->cols);
    t->src[0] = x;
    t->src[1] = pos;
    t->ip[0] = heads;
    t->ip[1] = head_dim;
    t->ip[2] = n_rot;
    t->ip[3] = mode;
    t->fp[0] = theta;

    return t;
}


infer_tensor_t *
infer_op_attention(infer_graph_t *g, infer_tensor_t *q, infer_tensor_t *k,
    infer_tensor_t *v, infer_tensor_t *seqs, int heads, int kv_heads,
    int head_dim, int causal, float scale)
{
    infer_tensor_t  *t;

    if (!infer_graph_f32(g, q, "attention", "q")
        || !infer_graph_f32(g, k, "attention", "k")
        || !infer_graph_f32(g, v, "attention", "v")
        || !infer_graph_seqs(g, seqs, "attention"))
    {
        return &infer_graph_placeholder;
    }

    if (heads < 1 || kv_heads < 1 || heads % kv_heads || head_dim < 1
        || q->cols != (int64_t) heads * head_dim
        || k->cols != (int64_t) kv_heads * head_dim
        || v->cols != k->cols || k->rows != q->rows || v->rows != q->rows)
    {
        return infer_graph_fail(g, "attention: %d heads, %d kv heads of %d "
                                "for q [%lld, %lld], k [%lld, %lld], "
                                "v [%lld, %lld]", heads, kv_heads, head_dim,
                                (long long) q->rows, (long long) q->cols,
                                (long long) k->rows, (long long) k->cols,
                                (long long) v->rows, (long long) v->cols);
    }

    t = infer_graph_node(g, INFER_OP_ATTENTION, INFER_DT_F32, q->rows,
                         q->cols);
    t->src[0] = q;
    t->src[1] = k;
    t->src[2] = v;
    t->src[3] = seqs;
    t->ip[0] = heads;
    t->ip[1] = kv_heads;
    t->ip[2] = head_dim;
    t->ip[3] = causal ? 1 : 0;
    t->fp[0] = scale;

    return t;
}


infer_tensor_t *
infer_op_pool(infer_graph_t *g, infer_tensor_t *x, infer_tensor_t *seqs,
    int mode)
{
    infer_tensor_t  *t;

    if (!infer_graph_f32(g, x, "pool", "x")
        || !infer_graph_seqs(g, seqs, "pool"))
    {
        return &infer_graph_placeholder;
    }

    if (mode < INFER_POOL_MEAN || mode > INFER_POOL_LAST) {
        return infer_graph_fail(g, "pool: unknown mode %d", mode);
    }

    t = infer_graph_node(g, INFER_OP_POOL, INFER_DT_F32, seqs->rows,
                         x->cols);
    t->src[0] = x;
    t->src[1] = seqs;
    t->ip[0] = mode;

    return t;
}


infer_tensor_t *
infer_op_l2_norm(infer_graph_t *g, infer_tensor_t *x, float eps)
{
    infer_tensor_t  *t;

    if (!infer_graph_f32(g, x, "l2_norm", "x")) {
        return &infer_graph_placeholder;
    }

    t = infer_graph_node(g, INFER_OP_L2_NORM, INFER_DT_F32, x->rows, x->cols);
    t->src[0] = x;
    t->fp[0] = eps;

    return t;
}


/* the block tables of a KV cache's ops: one row of I32 per sequence */
static int
infer_graph_blocks(infer_graph_t *g, const infer_tensor_t *seqs,
    const infer_tensor_t *blocks, const char *op)
{
    if (!infer_graph_seqs(g, seqs, op)) {
        return 0;
    }

    if (blocks->type != INFER_DT_I32 || blocks->rows != seqs->rows) {
        (void) infer_graph_fail(g, "%s: the block tables must be [%lld, n] "
                                "I32", op, (long long) seqs->rows);
        return 0;
    }

    return 1;
}


infer_tensor_t *
infer_op_kv_store(infer_graph_t *g, infer_tensor_t *k, infer_tensor_t *v,
    infer_tensor_t *seqs, infer_tensor_t *blocks, int layer)
{
    infer_tensor_t  *t;

    if (!infer_graph_f32(g, k, "kv_store", "k")
        || !infer_graph_f32(g, v, "kv_store", "v")
        || !infer_graph_blocks(g, seqs, blocks, "kv_store"))
    {
        return &infer_graph_placeholder;
    }

    if (v->rows != k->rows || v->cols != k->cols || layer < 0) {
        return infer_graph_fail(g, "kv_store: k [%lld, %lld], v [%lld, %lld], "
                                "layer %d", (long long) k->rows,
                                (long long) k->cols, (long long) v->rows,
                                (long long) v->cols, layer);
    }

    t = infer_graph_node(g, INFER_OP_KV_STORE, INFER_DT_F32, 0, k->cols);
    t->src[0] = k;
    t->src[1] = v;
    t->src[2] = seqs;
    t->src[3] = blocks;
    t->ip[0] = layer;

    return t;
}


infer_tensor_t *
infer_op_kv_attention(infer_graph_t *g, infer_tensor_t *q,
    infer_tensor_t *store, infer_tensor_t *seqs, infer_tensor_t *blocks,
    int heads, int kv_heads, int head_dim, int layer, float scale)
{
    infer_tensor_t  *t;

    if (!infer_graph_f32(g, q, "kv_attention", "q")
        || !infer_graph_blocks(g, seqs, blocks, "kv_attention"))
    {
        return &infer_graph_placeholder;
    }

    if (store->op != INFER_OP_KV_STORE || store->ip[0] != layer
        || store->src[2] != seqs || store->src[3] != blocks)
    {
        return infer_graph_fail(g, "kv_attention: layer %d's source is not "
                                "the kv_store of that layer and batch",
                                layer);
    }

    if (heads < 1 || kv_heads < 1 || heads % kv_heads || head_dim < 1
        || q->cols != (int64_t) heads * head_dim
        || store->cols != (int64_t) kv_heads * head_dim
        || store->src[0]->rows != q->rows)
    {
        return infer_graph_fail(g, "kv_attention: %d heads, %d kv heads of "
                                "%d for q [%lld, %lld] and a cache of %lld "
                                "columns", heads, kv_heads, head_dim,
                                (long long) q->rows, (long long) q->cols,
                                (long long) store->cols);
    }

    t = infer_graph_node(g, INFER_OP_KV_ATTENTION, INFER_DT_F32, q->rows,
                         q->cols);
    t->src[0] = q;
    t->src[1] = store;
    t->src[2] = seqs;
    t->src[3] = blocks;
    t->ip[0] = heads;
    t->ip[1] = kv_heads;
    t->ip[2] = head_dim;
    t->ip[3] = layer;
    t->fp[0] = scale;

    return t;
}


void
infer_op_output(infer_graph_t *g, infer_tensor_t *t, void *host)
{
    if (t == &infer_graph_placeholder) {
        return;
    }

    if (t->flags & (INFER_TENSOR_INPUT | INFER_TENSOR_WEIGHT)) {
        (void) infer_graph_fail(g, "output: a leaf cannot be an output");
        return;
    }

    t->flags |= INFER_TENSOR_OUTPUT;
    t->host = host;
}


/*
 * The plan.  Nodes run in their order; a tensor is live from its own
 * node to the last node that reads it (a view keeps its source alive for
 * as long as the view is read).  Free ranges of the buffer are kept
 * sorted by offset and merged; each new tensor takes the first range
 * large enough (first fit), else the end of the buffer grows.  A graph
 * has at most a few hundred tensors: quadratic is fine.
 */

#define INFER_PLAN_MAX_FREE  256

typedef struct {
    size_t  offset;
    size_t  size;
} infer_plan_range_t;


static void
infer_plan_free(infer_plan_range_t *free, int *nfree, size_t offset,
    size_t size)
{
    int  i, j;

    for (i = 0; i < *nfree && free[i].offset < offset; i++) {
        /* void */
    }

    if (*nfree == INFER_PLAN_MAX_FREE) {
        /* too fragmented to track: the bytes are not reused */
        return;
    }

    for (j = *nfree; j > i; j--) {
        free[j] = free[j - 1];
    }

    free[i].offset = offset;
    free[i].size = size;
    (*nfree)++;

    /* merge with the next range, then with the previous one */
    if (i + 1 < *nfree && free[i].offset + free[i].size == free[i + 1].offset)
    {
        free[i].size += free[i + 1].size;
        for (j = i + 1; j + 1 < *nfree; j++) {
            free[j] = free[j + 1];
        }
        (*nfree)--;
    }

    if (i > 0 && free[i - 1].offset + free[i - 1].size == free[i].offset) {
        free[i - 1].size += free[i].size;
        for (j = i; j + 1 < *nfree; j++) {
            free[j] = free[j + 1];
        }
        (*nfree)--;
    }
}


static size_t
infer_plan_alloc(infer_plan_range_t *free, int *nfree, size_t *end,
    size_t size)
{
    int     i, j;
    size_t  offset;

    for (i = 0; i < *nfree; i++) {
        if (free[i].size >= size) {
            offset = free[i].offset;
            free[i].offset += size;
            free[i].size -= size;

            if (free[i].size == 0) {
                for (j = i; j + 1 < *nfree; j++) {
                    free[j] = free[j + 1];
                }
                (*nfree)--;
            }

            return offset;
        }
    }

    /* a free range at the very end grows into the new one */
    if (*nfree && free[*nfree - 1].offset + free[*nfree - 1].size == *end) {
        offset = free[*nfree - 1].offset;
        (*nfree)--;

    } else {
        offset = *end;
    }

    *end = offset + size;

    return offset;
}


static int
infer_plan_needs(const infer_tensor_t *t, int inputs, int host_outputs)
{
    if (t->op == INFER_OP_VIEW || (t->flags & INFER_TENSOR_WEIGHT)) {
        return 0;
    }

    if (t->flags & INFER_TENSOR_INPUT) {
        return inputs;
    }

    if ((t->flags & INFER_TENSOR_OUTPUT) && host_outputs
        && infer_tensor_contiguous(t))
    {
        return 0;
    }

    return 1;
}


/* the tensor whose bytes t uses: itself, or the source of its views */
static infer_tensor_t *
infer_plan_owner(infer_tensor_t *t)
{
    while (t->op == INFER_OP_VIEW) {
        t = t->src[0];
    }

    return t;
}


size_t
infer_graph_plan(infer_graph_t *g, size_t align, int inputs,
    int host_outputs)
{
    int                  i, j, nfree;
    size_t               end, size;
    infer_tensor_t      *t, *s;
    infer_plan_range_t   free[INFER_PLAN_MAX_FREE];

    for (i = 0; i < g->n; i++) {
        g->nodes[i].last_use = i;
    }

    for (i = 0; i < g->n; i++) {
        for (j = 0; j < 4; j++) {
            s = g->nodes[i].src[j];
            if (s != NULL) {
                s = infer_plan_owner(s);
                if (s->last_use < i) {
                    s->last_use = i;
                }
            }
        }
    }

    /* outputs are read after the whole graph */
    for (i = 0; i < g->n; i++) {
        if (g->nodes[i].flags & INFER_TENSOR_OUTPUT) {
            infer_plan_owner(&g->nodes[i])->last_use = g->n;
        }
    }

    end = 0;
    nfree = 0;

    for (i = 0; i < g->n; i++) {
        t = &g->nodes[i];

        if (infer_plan_needs(t, inputs, host_outputs)) {
            size = (t->rows * t->nb + align - 1) / align * align;
            t->offset = infer_plan_alloc(free, &nfree, &end, size);

        } else {
            t->offset = 0;
        }

        /*
         * What node i was the last to read is free from node i + 1 on:
         * it is node i itself or the owner of one of its sources.  A
         * tensor two sources share is freed once (its size is not reset,
         * its last_use is).
         */
        for (j = -1; j < 4; j++) {
            s = (j < 0) ? t : t->src[j];
            if (s == NULL) {
                continue;
            }

            s = infer_plan_owner(s);

            if (s->last_use == i && infer_plan_needs(s, inputs, host_outputs))
            {
                size = (s->rows * s->nb + align - 1) / align * align;
                infer_plan_free(free, &nfree, s->offset, size);
                s->last_use = -1;
            }
        }
    }

    return end;
}


static infer_tensor_t *
infer_graph_node(infer_graph_t *g, infer_op_e op, infer_dtype_e type,
    int64_t rows, int64_t cols)
{
    infer_tensor_t  *t;

    if (g->failed) {
        return &infer_graph_placeholder;
    }

    if (g->n == g->cap) {
        return infer_graph_fail(g, "the graph has more than %d nodes",
                                g->cap);
    }

    if (rows < 0 || cols < 1) {
        return infer_graph_fail(g, "%s: a tensor of [%lld, %lld]",
                                infer_op_name(op), (long long) rows,
                                (long long) cols);
    }

    if (cols % infer_dtype_block(type)) {
        return infer_graph_fail(g, "%s: a %s tensor of [%lld, %lld]: its "
                                "rows are not whole blocks of %lld",
                                infer_op_name(op), infer_dtype_name(type),
                                (long long) rows, (long long) cols,
                                (long long) infer_dtype_block(type));
    }

    t = &g->nodes[g->n++];
    memset(t, 0, sizeof(infer_tensor_t));

    t->op = op;
    t->type = type;
    t->rows = rows;
    t->cols = cols;
    t->nb = infer_dtype_row_size(type, cols);
    t->weight = -1;

    return t;
}


static infer_tensor_t *
infer_graph_fail(infer_graph_t *g, const char *fmt, ...)
{
    va_list  args;

    if (!g->failed) {
        g->failed = 1;
        va_start(args, fmt);
        vsnprintf(g->err, sizeof(g->err), fmt, args);
        va_end(args);
    }

    return &infer_graph_placeholder;
}


static int
infer_graph_f32(infer_graph_t *g, const infer_tensor_t *t, const char *op,
    const char *what)
{
    if (t == &infer_graph_placeholder) {
        return 0;
    }

    if (t->type != INFER_DT_F32) {
        (void) infer_graph_fail(g, "%s: %s is %s, not F32", op, what,
                                infer_dtype_name(t->type));
        return 0;
    }

    return 1;
}


static int
infer_graph_vector(infer_graph_t *g, const infer_tensor_t *t, int64_t cols,
    const char *op, const char *what)
{
    if (!infer_graph_f32(g, t, op, what)) {
        return 0;
    }

    if (t->rows != 1 || t->cols != cols) {
        (void) infer_graph_fail(g, "%s: %s is [%lld, %lld], expected "
                                "[1, %lld]", op, what, (long long) t->rows,
                                (long long) t->cols, (long long) cols);
        return 0;
    }

    return 1;
}


static int
infer_graph_seqs(infer_graph_t *g, const infer_tensor_t *seqs,
    const char *op)
{
    if (seqs->type != INFER_DT_I32 || seqs->cols != 4) {
        (void) infer_graph_fail(g, "%s: the sequences must be [n, 4] I32",
                                op);
        return 0;
    }

    return 1;
}
