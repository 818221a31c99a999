/*
 * ngx_infer: a model on a backend, batch after batch (infer_runner.h).
 */

#include <stdlib.h>
#include <string.h>

#include "infer_runner.h"


static int infer_runner_zeros(infer_runner_t *r, int seqs, int tokens,
    int reserve, char *err, size_t errlen);


int
infer_runner_init(infer_runner_t *r, const infer_model_t *m,
    infer_backend_t *b, int max_seqs, int max_tokens, char *err,
    size_t errlen)
{
    int  cap;

    memset(r, 0, sizeof(infer_runner_t));

    if (max_seqs < 1 || max_tokens < max_seqs) {
        return infer_error(err, errlen, "batches of %d sequences and %d "
                           "tokens", max_seqs, max_tokens);
    }

    cap = m->arch->max_nodes(m);

    r->nodes = calloc((size_t) cap, sizeof(infer_tensor_t));
    if (r->nodes == NULL) {
        return infer_error(err, errlen, "out of memory for %d nodes", cap);
    }

    r->model = m;
    r->backend = b;
    r->max_seqs = max_seqs;
    r->max_tokens = max_tokens;
    infer_graph_init(&r->graph, r->nodes, cap);

    if (b->iface->load(b, m->weights, m->nweights, err, errlen) != 0) {
        goto failed;
    }

    /*
     * The largest batch sizes the backend's memory (a backend may run it
     * as a warm-up: the CUDA one does; on the CPU it would cost seconds
     * for a large model, and teach nothing); then a batch of one
     * token runs on zeros, so that the whole path has worked once (a
     * token, not a sequence of max_tokens / max_seqs: that costs 64 times
     * as much, seconds of a worker's start-up under valgrind, and
     * checks nothing more).
     */

    if (infer_runner_zeros(r, max_seqs, max_tokens, 1, err, errlen) != 0
        || infer_runner_zeros(r, 1, 1, 0, err, errlen) != 0)
    {
        goto failed;
    }

    return 0;

failed:

    infer_runner_free(r);
    return -1;
}


/* a batch of seqs sequences of tokens in all, every value 0, reserved
 * for or computed */
static int
infer_runner_zeros(infer_runner_t *r, int seqs, int tokens, int reserve,
    char *err, size_t errlen)
{
    int             i, rc, per;
    void           *mem;
    size_t          in, out;
    infer_seq_t    *sq;
    infer_batch_t   batch;

    per = tokens / seqs;
    in = (size_t) tokens * ((size_t) r->model->input.size * sizeof(float)
                            + 2 * sizeof(int32_t));
    out = (size_t) tokens * (size_t) r->model->output.size * sizeof(float);

    mem = calloc(1, in + out + (size_t) seqs * (sizeof(infer_seq_t) + 8));
    if (mem == NULL) {
        return infer_error(err, errlen, "out of memory for a first batch");
    }

    memset(&batch, 0, sizeof(infer_batch_t));
    batch.n_seqs = seqs;
    batch.n_tokens = per * seqs;
    batch.x = mem;
    batch.tokens = mem;
    batch.pos = mem;
    batch.out = (float *) ((char *) mem + in);
    sq = (infer_seq_t *) ((char *) mem + in + out);
    batch.seqs = sq;
    batch.ids = (uint64_t *) (sq + seqs);

    for (i = 0; i < seqs; i++) {
        sq[i].start = i * per;
        sq[i].len = per;
    }

    infer_graph_init(&r->graph, r->nodes, r->graph.cap);
    r->model->arch->build(&r->graph, r->model, &batch);

    if (r->graph.failed) {
        free(mem);
        return infer_error(err, errlen, "%s: %s", r->model->dir,
                           r->graph.err);
    }

    if (reserve) {
        rc = r->backend->iface->reserve(r->backend, &r->graph, err, errlen);

    } else {
        rc = infer_runner_run(r, &batch, err, errlen);
    }

    free(mem);

    return rc == 0 ? 0 : -1;
}


int
infer_runner_run(infer_runner_t *r, const infer_batch_t *batch, char *err,
    size_t errlen)
{
    int               rc;
    infer_backend_t  *b;

    if (batch->n_seqs < 1 || batch->n_seqs > r->max_seqs
        || batch->n_tokens > r->max_tokens)
    {
        return infer_error(err, errlen, "a batch of %d sequences and %d "
                           "tokens, at most %d and %d", batch->n_seqs,
                           batch->n_tokens, r->max_seqs, r->max_tokens);
    }

    infer_graph_init(&r->graph, r->nodes, r->graph.cap);
    r->model->arch->build(&r->graph, r->model, batch);

    if (r->graph.failed) {
        return infer_error(err, errlen, "%s", r->graph.err);
    }

    b = r->backend;

    rc = b->iface->compute(b, &r->graph, err, errlen);
    if (rc == 0) {
        rc = b->iface->synchronize(b, err, errlen);
    }

    return rc;
}


void
infer_batch_rows(infer_batch_t *batch, infer_seq_t *seqs, int rows,
    const float *x, float *out)
{
    int  i;

    for (i = 0; i < rows; i++) {
        seqs[i].start = i;
        seqs[i].len = 1;
        seqs[i].pos = 0;
        seqs[i].reserved = 0;
    }

    memset(batch, 0, sizeof(infer_batch_t));
    batch->n_seqs = rows;
    batch->n_tokens = rows;
    batch->seqs = seqs;
    batch->x = x;
    batch->out = out;
}


void
infer_runner_free(infer_runner_t *r)
{
    free(r->nodes);
    r->nodes = NULL;
}
