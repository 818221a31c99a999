/*
 * ngx_infer: the CUDA backend's CUDA graphs.
 *
 * With the plan the same, the sequence that compute() enqueues
 * (infer_cuda_compute.cu) depends on nothing but the graph's structure
 * and sizes: every pointer (pinned buffers, scratch, weights, the KV
 * cache) is fixed, and the ops read the batch's sequences, positions and
 * KV block tables from the device, never from the host (the host only
 * checks the tables, in prepare(), before every launch, a replay's too;
 * no launch argument depends on their values).  A decoding step, whose
 * tables and positions change every step while its shapes repeat, is
 * replayed on the new ones.  So it is captured once per distinct
 * graph and replayed with one cudaGraphLaunch instead of a launch per
 * kernel and copy (a few microseconds of CPU each, the bulk of the time
 * of a small model).  A graph is known by its signature, per node: op,
 * type, flags, rows, cols, nb, ip, fp, the indices of its sources, its
 * weight and its planned offset (infer_cuda_sig_t), compared whole after
 * a 64-bit hash:
 *
 *   first sighting            run eagerly: loads the kernels (lazy module
 *                             loading) and cuBLAS's choices for the shapes
 *   second sighting           cudaStreamBeginCapture(stream,
 *                             cudaStreamCaptureModeThreadLocal), enqueue,
 *                             cudaStreamEndCapture, cudaGraphInstantiate;
 *                             cudaGraphLaunch
 *   later sightings           cudaGraphLaunch
 *
 * Capturing the second sighting keeps module loading and cuBLAS's first
 * calls out of the capture, and captures only what recurs.  ThreadLocal
 * mode keeps other executor threads' cudaMalloc()s from invalidating this
 * capture.  cuBLAS is capture-safe with host-pointer scalars (their
 * values are captured) and a workspace set with cublasSetWorkspace.  The
 * inputs are staged at fixed pinned addresses before the launch, so a
 * replay reads the new batch.  The cache holds INFER_CUDA_GRAPHS
 * signatures: a new one takes the place of the least recently used one
 * seen only once, and when all are captured graphs the batch runs
 * eagerly, so ragged batches of ever-new shapes cost no memory.  If a
 * capture fails, graphs are switched off for this backend and every batch
 * runs eagerly: the same work, launched one call at a time.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "infer_cuda_impl.cuh"


static infer_cuda_graph_t *infer_cuda_find(infer_cuda_ctx_t *ctx, int n);
static void infer_cuda_remember(infer_cuda_ctx_t *ctx, int n);
static int infer_cuda_capture(infer_cuda_ctx_t *ctx, infer_graph_t *g,
    infer_cuda_graph_t *e, char *err, size_t errlen);


/*
 * ctx->sig and ctx->hash for g.  The plan's size, where the products'
 * converted x sits, follows from the offsets and sizes: it needs no
 * place of its own.
 */
void
infer_cuda_signature(infer_cuda_ctx_t *ctx, infer_graph_t *g)
{
    int                i, j;
    size_t             k, len;
    uint64_t           h;
    infer_tensor_t    *t;
    infer_cuda_sig_t  *s;
    unsigned char     *p;

    for (i = 0; i < g->n; i++) {
        t = &g->nodes[i];
        s = &ctx->sig[i];

        s->op = (int32_t) t->op;
        s->type = (int32_t) t->type;
        s->flags = (int32_t) t->flags;
        s->weight = (t->flags & INFER_TENSOR_WEIGHT) ? t->weight : -1;
        s->rows = t->rows;
        s->cols = t->cols;
        s->nb = t->nb;
        s->offset = (t->op == INFER_OP_VIEW
                     || (t->flags & INFER_TENSOR_WEIGHT)) ? 0 : t->offset;

        for (j = 0; j < 4; j++) {
            s->ip[j] = t->ip[j];
            s->src[j] = t->src[j] != NULL ? (int32_t) (t->src[j] - g->nodes)
                                          : -1;
        }

        s->fp[0] = t->fp[0];
        s->fp[1] = t->fp[1];
    }

    /* FNV-1a */
    h = 0xcbf29ce484222325ULL;
    p = (unsigned char *) ctx->sig;
    len = (size_t) g->n * sizeof(infer_cuda_sig_t);

    for (k = 0; k < len; k++) {
        h = (h ^ p[k]) * 0x100000001b3ULL;
    }

    ctx->hash = h;
}


int
infer_cuda_launch(infer_cuda_ctx_t *ctx, infer_graph_t *g, char *err,
    size_t errlen)
{
    infer_cuda_graph_t  *e;

    if (!ctx->use_graphs) {
        return infer_cuda_enqueue(ctx, g, err, errlen);
    }

    ctx->clock++;

    e = infer_cuda_find(ctx, g->n);

    if (e == NULL) {
        infer_cuda_remember(ctx, g->n);
        return infer_cuda_enqueue(ctx, g, err, errlen);
    }

    e->used = ctx->clock;

    if (e->exec == NULL) {

        if (infer_cuda_capture(ctx, g, e, err, errlen) != 0) {
            /*
             * The capture failed, which the eager path does not depend
             * on: run eagerly from now on.  Errors of a capture are not
             * sticky; a sticky error shows again in the eager run.
             */
            ctx->use_graphs = 0;
            infer_cuda_drop_graphs(ctx);
            (void) cudaGetLastError();

            return infer_cuda_enqueue(ctx, g, err, errlen);
        }
    }

    CUDA_CHECK(cudaGraphLaunch(e->exec, ctx->stream));

    return 0;
}


/* the cache's entry of the signature in ctx->sig, or NULL */
static infer_cuda_graph_t *
infer_cuda_find(infer_cuda_ctx_t *ctx, int n)
{
    int                  i;
    infer_cuda_graph_t  *e;

    for (i = 0; i < INFER_CUDA_GRAPHS; i++) {
        e = &ctx->graphs[i];

        if (e->n == n && n > 0 && e->hash == ctx->hash
            && memcmp(e->sig, ctx->sig, (size_t) n * sizeof(infer_cuda_sig_t))
               == 0)
        {
            return e;
        }
    }

    return NULL;
}


/*
 * A first sighting: into a free entry, else in place of the least
 * recently used entry that holds no graph; with every entry a graph,
 * nothing is remembered (and the batch runs eagerly).
 */
static void
infer_cuda_remember(infer_cuda_ctx_t *ctx, int n)
{
    int                  i;
    size_t               size;
    infer_cuda_sig_t    *sig;
    infer_cuda_graph_t  *e, *victim;

    if (n == 0) {
        return;
    }

    victim = NULL;

    for (i = 0; i < INFER_CUDA_GRAPHS; i++) {
        e = &ctx->graphs[i];

        if (e->n == 0) {
            victim = e;
            break;
        }

        if (e->exec == NULL && (victim == NULL || e->used < victim->used)) {
            victim = e;
        }
    }

    if (victim == NULL) {
        return;
    }

    size = (size_t) n * sizeof(infer_cuda_sig_t);
    sig = (infer_cuda_sig_t *) realloc(victim->sig, size);

    if (sig == NULL) {
        /* not remembered: it runs eagerly */
        return;
    }

    memcpy(sig, ctx->sig, size);

    victim->sig = sig;
    victim->n = n;
    victim->hash = ctx->hash;
    victim->used = ctx->clock;
}


static int
infer_cuda_capture(infer_cuda_ctx_t *ctx, infer_graph_t *g,
    infer_cuda_graph_t *e, char *err, size_t errlen)
{
    int              rc;
    cudaError_t      crc;
    cudaGraph_t      graph;
    cudaGraphExec_t  exec;

    graph = NULL;
    exec = NULL;

    CUDA_CHECK(cudaStreamBeginCapture(ctx->stream,
                                      cudaStreamCaptureModeThreadLocal));

    rc = infer_cuda_enqueue(ctx, g, err, errlen);

    /* always ends the capture, so that the stream works again */
    crc = cudaStreamEndCapture(ctx->stream, &graph);

    if (rc == 0 && crc != cudaSuccess) {
        infer_cuda_error(err, errlen, "cudaStreamEndCapture(stream, &graph)",
                         crc);
        rc = -1;
    }

    if (rc == 0) {
        crc = cudaGraphInstantiate(&exec, graph, 0);

        if (crc != cudaSuccess) {
            infer_cuda_error(err, errlen,
                             "cudaGraphInstantiate(&exec, graph, 0)", crc);
            rc = -1;
        }
    }

    /* the executable graph does not need its graph */
    if (graph != NULL) {
        (void) cudaGraphDestroy(graph);
    }

    if (rc != 0) {
        return -1;
    }

    e->exec = exec;

    return 0;
}


void
infer_cuda_drop_graphs(infer_cuda_ctx_t *ctx)
{
    int                  i;
    infer_cuda_graph_t  *e;

    for (i = 0; i < INFER_CUDA_GRAPHS; i++) {
        e = &ctx->graphs[i];

        if (e->exec != NULL) {
            (void) cudaGraphExecDestroy(e->exec);
        }

        free(e->sig);
        memset(e, 0, sizeof(infer_cuda_graph_t));
    }
}
