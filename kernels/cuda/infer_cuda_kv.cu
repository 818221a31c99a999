/*
 * ngx_infer: the CUDA backend's paged KV cache: kv_init(), the host's
 * checks of the KV_STORE and KV_ATTENTION nodes, and their launches
 * (the kernels are kv.cu's).
 *
 * The cache is one cudaMalloc() in the layout of infer_kv_shape_t,
 * zeroed, that lives until the backend is freed or kv_init() makes
 * another (a load() keeps it, as the CPU backend does): while it lives
 * its address is fixed, so a captured CUDA graph that names it stays
 * valid, and a new one drops the captured graphs.
 *
 * The block tables and the sequences are the batch's inputs, in the
 * caller's host memory until compute() stages them: prepare() checks
 * them there, before anything is launched, with the CPU backend's rules
 * (infer_cpu_kv.c): every sequence within the batch's tokens, its
 * positions within its table, every block it reaches a block of the
 * cache.  A bad table fails the batch with the CPU's message and writes
 * nothing.  A CUDA graph's replay runs after the same checks on the new
 * batch, and its kernels read the new tables where compute() staged
 * them: a decoding step, whose tables and positions change every step,
 * replays correctly.
 */

#include <stdint.h>
#include <string.h>

#include "infer_cuda_impl.cuh"
#include "kv.cuh"

extern "C" {
#include "infer_util.h"
}


static int infer_cuda_kv_alloc(infer_cuda_ctx_t *ctx, size_t n, char *err,
    size_t errlen);
static int infer_cuda_kv_seq(infer_cuda_ctx_t *ctx, const infer_tensor_t *t,
    int64_t tokens, int64_t s, char *err, size_t errlen);


int
infer_cuda_kv_init(infer_backend_t *b, const infer_kv_shape_t *kv, char *err,
    size_t errlen)
{
    size_t             n;
    infer_cuda_ctx_t  *ctx;

    ctx = (infer_cuda_ctx_t *) b->context;

    if (kv->layers < 1 || kv->kv_dim < 1 || kv->block_tokens < 1
        || kv->n_blocks < 1)
    {
        return infer_error(err, errlen, "%s: a KV cache of %d blocks of %d "
                           "tokens, %d layers of %d", ctx->name,
                           kv->n_blocks, kv->block_tokens, kv->layers,
                           kv->kv_dim);
    }

    /* each factor is below 2^31: the product overflows only past 2^64 */
    if (__builtin_mul_overflow((size_t) kv->n_blocks, (size_t) kv->layers,
                               &n)
        || __builtin_mul_overflow(n, (size_t) 2 * kv->block_tokens, &n)
        || __builtin_mul_overflow(n, (size_t) kv->kv_dim, &n)
        || __builtin_mul_overflow(n, sizeof(float), &n))
    {
        return infer_error(err, errlen, "%s: a KV cache of %d blocks of %d "
                           "tokens, %d layers of %d: too large", ctx->name,
                           kv->n_blocks, kv->block_tokens, kv->layers,
                           kv->kv_dim);
    }

    /*
     * A new cache replaces the one there was (a model loaded again):
     * the graphs captured with the old one's address go with it, once
     * the stream no longer uses it.
     */
    if (ctx->kv != NULL) {
        (void) cudaSetDevice(ctx->device);
        (void) cudaStreamSynchronize(ctx->stream);
        infer_cuda_drop_graphs(ctx);
        infer_cuda_kv_free(ctx);
    }

    memset(&ctx->kv_shape, 0, sizeof(infer_kv_shape_t));

    if (infer_cuda_kv_alloc(ctx, n, err, errlen) != 0) {
        infer_cuda_kv_free(ctx);
        return infer_error_prefix(err, errlen, "%s: a KV cache of %zu "
                                  "bytes", ctx->name, n);
    }

    ctx->kv_shape = *kv;

    return 0;
}


/* n bytes of zeros for the cache, on the stream the kernels use */
static int
infer_cuda_kv_alloc(infer_cuda_ctx_t *ctx, size_t n, char *err,
    size_t errlen)
{
    CUDA_CHECK(cudaSetDevice(ctx->device));
    CUDA_CHECK(cudaMalloc((void **) &ctx->kv, n));
    CUDA_CHECK(cudaMemsetAsync(ctx->kv, 0, n, ctx->stream));
    CUDA_CHECK(cudaStreamSynchronize(ctx->stream));

    return 0;
}


void
infer_cuda_kv_free(infer_cuda_ctx_t *ctx)
{
    infer_cuda_free_device((void **) &ctx->kv);
}


/* what a KV node must be before it is launched, checked on the host */
int
infer_cuda_kv_check(infer_cuda_ctx_t *ctx, const infer_tensor_t *t,
    char *err, size_t errlen)
{
    int                      layer, j;
    int64_t                  s, tokens;
    const infer_tensor_t    *in;
    const infer_kv_shape_t  *sh;

    sh = &ctx->kv_shape;

    if (ctx->kv == NULL) {
        return infer_error(err, errlen, "%s without a KV cache",
                           infer_op_name(t->op));
    }

    for (j = 0; j < 4; j++) {
        if (t->src[j] == NULL) {
            return infer_error(err, errlen, "source %d is missing", j);
        }
    }

    for (j = 2; j < 4; j++) {
        in = t->src[j];

        if (in->op != INFER_OP_NONE || !(in->flags & INFER_TENSOR_INPUT)
            || in->type != INFER_DT_I32 || (j == 2 && in->cols < 4))
        {
            return infer_error(err, errlen, "the sequences and the block "
                               "tables must be I32 inputs of the batch");
        }
    }

    if (t->op == INFER_OP_KV_STORE) {
        layer = t->ip[0];
        tokens = t->src[0]->rows;

        if (layer < 0 || layer >= sh->layers || t->cols != sh->kv_dim
            || t->src[1]->rows != tokens || t->src[1]->cols != t->cols)
        {
            return infer_error(err, errlen, "%s of layer %d, %lld columns, "
                               "for a cache of %d layers of %d",
                               infer_op_name(t->op), layer,
                               (long long) t->cols, sh->layers, sh->kv_dim);
        }

    } else {
        layer = t->ip[3];
        tokens = t->rows;

        if (layer < 0 || layer >= sh->layers) {
            return infer_error(err, errlen, "%s of layer %d, %lld columns, "
                               "for a cache of %d layers of %d",
                               infer_op_name(t->op), layer,
                               (long long) t->cols, sh->layers, sh->kv_dim);
        }

        if (t->src[1]->op != INFER_OP_KV_STORE
            || t->ip[0] < 1 || t->ip[1] < 1 || t->ip[0] % t->ip[1]
            || t->ip[0] > INFER_CUDA_MAX_GRID_Y || t->ip[2] < 1
            || t->ip[2] > INFER_CUDA_ATTENTION_MAX_DIM
            || (int64_t) t->ip[1] * t->ip[2] != sh->kv_dim
            || (int64_t) t->ip[0] * t->ip[2] != t->cols
            || t->src[0]->cols != t->cols)
        {
            return infer_error(err, errlen, "%d heads, %d kv heads of %d "
                               "over a cache of %d columns: this backend "
                               "computes heads of up to %d and up to %d of "
                               "them", t->ip[0], t->ip[1], t->ip[2],
                               sh->kv_dim, INFER_CUDA_ATTENTION_MAX_DIM,
                               INFER_CUDA_MAX_GRID_Y);
        }
    }

    for (s = 0; s < t->src[2]->rows; s++) {
        if (infer_cuda_kv_seq(ctx, t, tokens, s, err, errlen) != 0) {
            return -1;
        }
    }

    return 0;
}


/*
 * Sequence s of t's batch lies within the batch's tokens and, through its
 * block table, within the cache (infer_cpu_kv.c's check, in its words)
 */
static int
infer_cuda_kv_seq(infer_cuda_ctx_t *ctx, const infer_tensor_t *t,
    int64_t tokens, int64_t s, char *err, size_t errlen)
{
    int64_t             b, last;
    const int32_t      *table;
    const infer_seq_t  *seq;

    seq = (const infer_seq_t *) ((const char *) t->src[2]->data
                                 + (size_t) s * t->src[2]->nb);

    if (seq->start < 0 || seq->len < 0
        || (int64_t) seq->start + seq->len > tokens)
    {
        return infer_error(err, errlen, "sequence %lld has tokens [%d, %lld) "
                           "of %lld", (long long) s, seq->start,
                           (long long) seq->start + seq->len,
                           (long long) tokens);
    }

    if (seq->len == 0) {
        return 0;
    }

    last = ((int64_t) seq->pos + seq->len - 1) / ctx->kv_shape.block_tokens;

    if (seq->pos < 0 || last >= t->src[3]->cols) {
        return infer_error(err, errlen, "sequence %lld at positions %d to "
                           "%lld is beyond its %lld blocks of %d",
                           (long long) s, seq->pos,
                           (long long) seq->pos + seq->len - 1,
                           (long long) t->src[3]->cols,
                           ctx->kv_shape.block_tokens);
    }

    table = (const int32_t *) ((const char *) t->src[3]->data
                               + (size_t) s * t->src[3]->nb);

    for (b = 0; b <= last; b++) {
        if (table[b] < 0 || table[b] >= ctx->kv_shape.n_blocks) {
            return infer_error(err, errlen, "sequence %lld names block %d "
                               "of %d", (long long) s, table[b],
                               ctx->kv_shape.n_blocks);
        }
    }

    return 0;
}


/* node i of g, a KV op that infer_cuda_kv_check() passed, on the stream */
int
infer_cuda_kv_node(infer_cuda_ctx_t *ctx, infer_graph_t *g, int i, char *err,
    size_t errlen)
{
    infer_tensor_t     *t;
    infer_cuda_kv_t     a;
    infer_cuda_node_t  *cn;

    t = &g->nodes[i];
    cn = &ctx->nodes[i];

    memset(&a, 0, sizeof(a));

    a.c.kv = ctx->kv;
    a.c.layers = ctx->kv_shape.layers;
    a.c.kv_dim = ctx->kv_shape.kv_dim;
    a.c.block_tokens = ctx->kv_shape.block_tokens;
    a.c.n_blocks = ctx->kv_shape.n_blocks;

    a.seqs = (const int32_t *) cn->src[2];
    a.ld_seqs = cn->sld[2];
    a.nseqs = (int) t->src[2]->rows;
    a.blocks = (const int32_t *) cn->src[3];
    a.ld_blocks = cn->sld[3];
    a.max_blocks = (int) t->src[3]->cols;

    if (t->op == INFER_OP_KV_STORE) {
        a.layer = t->ip[0];
        a.tokens = (int) t->src[0]->rows;
        a.k = (const float *) cn->src[0];
        a.v = (const float *) cn->src[1];
        a.ldk = cn->sld[0];
        a.ldv = cn->sld[1];

        CUDA_CHECK(infer_cuda_kv_store(&a, ctx->stream));
        return 0;
    }

    a.layer = t->ip[3];
    a.tokens = (int) t->rows;
    a.y = (float *) cn->data;
    a.q = (const float *) cn->src[0];
    a.ldq = cn->sld[0];
    a.heads = t->ip[0];
    a.kv_heads = t->ip[1];
    a.head_dim = t->ip[2];
    a.scale = t->fp[0];

    CUDA_CHECK(infer_cuda_kv_attention(&a, ctx->stream));

    return 0;
}
