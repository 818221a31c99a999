/*
 * ngx_infer: a model on a backend, batch after batch.
 *
 * What an executor thread holds: the model, its backend, and the nodes
 * of the graph that each batch is built into (allocated once, for the
 * most nodes the architecture builds).  Plain C, no nginx: the executor
 * of the module, the unit tests and the benchmarks use it alike.
 */

#ifndef _INFER_RUNNER_H_INCLUDED_
#define _INFER_RUNNER_H_INCLUDED_


#include "infer_backend.h"
#include "infer_model.h"
#include "infer_ops.h"


typedef struct {
    const infer_model_t  *model;
    infer_backend_t      *backend;
    infer_tensor_t       *nodes;
    infer_graph_t         graph;
    int                   max_seqs;
    int                   max_tokens;
} infer_runner_t;


/*
 * Hands the model's weights to the backend, reserves its memory for
 * batches of up to max_seqs sequences and max_tokens tokens (the graph of
 * the largest batch, on zeros, which a backend may run as a warm-up), and
 * runs a batch of one sequence on zeros, so that a model or a
 * configuration that cannot run fails here, at start-up, rather than on
 * requests.  Returns 0, or -1 with err set.
 */
int infer_runner_init(infer_runner_t *r, const infer_model_t *m,
    infer_backend_t *b, int max_seqs, int max_tokens, char *err,
    size_t errlen);

/* computes a batch: 0, -1 or INFER_BACKEND_LOST with err set */
int infer_runner_run(infer_runner_t *r, const infer_batch_t *batch,
    char *err, size_t errlen);

/*
 * The batch of a dense model: rows sequences of one token each, row i of
 * x the input of sequence i and row i of out its output; seqs has room
 * for rows entries.
 */
void infer_batch_rows(infer_batch_t *batch, infer_seq_t *seqs, int rows,
    const float *x, float *out);

/* frees the nodes, not the model nor the backend */
void infer_runner_free(infer_runner_t *r);


#endif /* _INFER_RUNNER_H_INCLUDED_ */
