/*
 * ngx_infer: continuous batching on a paged KV cache (infer_gen.h).
 */

#include <stdlib.h>
#include <string.h>

#include "infer_gen.h"


static void infer_gen_admit(infer_gen_t *gen);
static int infer_gen_take(infer_gen_t *gen, infer_gen_seq_t *seq,
    int32_t positions);
static void infer_gen_release(infer_gen_t *gen, infer_gen_seq_t *seq);
static void infer_gen_preempt(infer_gen_t *gen, infer_gen_seq_t *seq);
static void infer_gen_unrun(infer_gen_t *gen, infer_gen_seq_t *seq);
static int infer_gen_plan(infer_gen_t *gen);


int
infer_gen_init(infer_gen_t *gen, infer_runner_t *runner, int n_blocks,
    int block_tokens, int ctx, int max_seqs, int max_tokens, int waiting,
    char *err, size_t errlen)
{
    int                   i;
    infer_kv_shape_t      kv;
    const infer_model_t  *m;

    memset(gen, 0, sizeof(infer_gen_t));

    m = runner->model;

    if (m->arch->kv_shape == NULL || m->arch->kv_shape(m, &kv) != 0) {
        return infer_error(err, errlen, "%s: the %s architecture keeps no "
                           "KV cache", m->dir, m->arch->name);
    }

    if (n_blocks < 1 || block_tokens < 1 || ctx < 1 || max_seqs < 1
        || max_seqs > runner->max_seqs || max_tokens < max_seqs
        || max_tokens > runner->max_tokens || waiting < 1)
    {
        return infer_error(err, errlen, "%s: a KV cache of %d blocks of %d "
                           "tokens, a context of %d, %d sequences and %d "
                           "tokens a step (the runner's: %d and %d)",
                           m->dir, n_blocks, block_tokens, ctx, max_seqs,
                           max_tokens, runner->max_seqs, runner->max_tokens);
    }

    gen->runner = runner;
    gen->vocab = (int) m->output.size;
    gen->block_tokens = block_tokens;
    gen->n_blocks = n_blocks;
    gen->max_blocks = infer_gen_blocks_for(gen, ctx);
    gen->max_seqs = max_seqs;
    gen->max_tokens = max_tokens;
    /* preempted sequences go back to the queue beyond its limit */
    gen->wait_cap = waiting + max_seqs;

    gen->free = malloc((size_t) n_blocks * sizeof(int32_t));
    gen->ref = calloc((size_t) n_blocks, sizeof(int32_t));
    gen->hash = calloc((size_t) n_blocks, sizeof(uint64_t));
    gen->released = calloc((size_t) n_blocks, sizeof(uint64_t));
    gen->btok = malloc((size_t) n_blocks * block_tokens * sizeof(int32_t));
    gen->running = malloc((size_t) max_seqs * sizeof(infer_gen_seq_t *));
    gen->waiting = malloc((size_t) gen->wait_cap
                          * sizeof(infer_gen_seq_t *));
    gen->seqs = malloc((size_t) max_seqs * sizeof(infer_seq_t));
    gen->ids = malloc((size_t) max_seqs * sizeof(uint64_t));
    gen->tokens = malloc((size_t) max_tokens * sizeof(int32_t));
    gen->pos = malloc((size_t) max_tokens * sizeof(int32_t));
    gen->blocks = malloc((size_t) max_seqs * gen->max_blocks
                         * sizeof(int32_t));
    gen->chunk = malloc((size_t) max_seqs * sizeof(int32_t));
    gen->out = malloc((size_t) max_seqs * gen->vocab * sizeof(float));

    if (gen->free == NULL || gen->ref == NULL || gen->hash == NULL
        || gen->released == NULL || gen->btok == NULL
        || gen->running == NULL || gen->waiting == NULL
        || gen->seqs == NULL || gen->ids == NULL || gen->tokens == NULL
        || gen->pos == NULL || gen->blocks == NULL || gen->chunk == NULL
        || gen->out == NULL)
    {
        infer_gen_free(gen);
        return infer_error(err, errlen, "%s: out of memory for the "
                           "generation of %d sequences", m->dir, max_seqs);
    }

    /* the lowest blocks first: a quiet server touches little memory */
    for (i = 0; i < n_blocks; i++) {
        gen->free[i] = n_blocks - 1 - i;
    }

    gen->n_free = n_blocks;
    gen->n_stack = n_blocks;

    kv.block_tokens = block_tokens;
    kv.n_blocks = n_blocks;

    if (runner->backend->iface->kv_init(runner->backend, &kv, err, errlen)
        != 0)
    {
        infer_gen_free(gen);
        return -1;
    }

    return 0;
}


void
infer_gen_free(infer_gen_t *gen)
{
    free(gen->free);
    free(gen->ref);
    free(gen->hash);
    free(gen->released);
    free(gen->btok);
    free(gen->running);
    free(gen->waiting);
    free(gen->seqs);
    free(gen->ids);
    free(gen->tokens);
    free(gen->pos);
    free(gen->blocks);
    free(gen->chunk);
    free(gen->out);
    memset(gen, 0, sizeof(infer_gen_t));
}


int32_t
infer_gen_blocks_for(const infer_gen_t *gen, int32_t tokens)
{
    return (tokens + gen->block_tokens - 1) / gen->block_tokens;
}


int
infer_gen_add(infer_gen_t *gen, infer_gen_seq_t *seq)
{
    int32_t  most;

    /* a sequence alone always has room to grow to its cap */
    most = gen->n_blocks * gen->block_tokens;
    if (seq->cap > most) {
        seq->cap = most;
    }

    if (gen->n_waiting >= gen->wait_cap - gen->max_seqs
        || seq->n_tokens < 1 || seq->n_tokens > seq->cap
        || infer_gen_blocks_for(gen, seq->cap) > gen->max_blocks)
    {
        return -1;
    }

    seq->n_past = 0;
    seq->n_table = 0;
    seq->n_hashed = 0;
    seq->chain = INFER_GEN_SEED;
    seq->logits = NULL;
    seq->state = INFER_GEN_WAITING;

    gen->waiting[(gen->wait_head + gen->n_waiting) % gen->wait_cap] = seq;
    gen->n_waiting++;

    return 0;
}


void
infer_gen_remove(infer_gen_t *gen, infer_gen_seq_t *seq)
{
    int  i, j, at;

    if (seq->state == INFER_GEN_RUNNING) {
        infer_gen_unrun(gen, seq);

    } else if (seq->state == INFER_GEN_WAITING) {
        for (i = 0; i < gen->n_waiting; i++) {
            at = (gen->wait_head + i) % gen->wait_cap;

            if (gen->waiting[at] != seq) {
                continue;
            }

            for (j = i; j + 1 < gen->n_waiting; j++) {
                gen->waiting[(gen->wait_head + j) % gen->wait_cap] =
                    gen->waiting[(gen->wait_head + j + 1) % gen->wait_cap];
            }

            gen->n_waiting--;
            break;
        }
    }

    infer_gen_release(gen, seq);
    seq->state = INFER_GEN_REMOVED;
    seq->logits = NULL;
}


void
infer_gen_append(infer_gen_seq_t *seq, int32_t token)
{
    if (seq->n_tokens < seq->cap) {
        seq->tokens[seq->n_tokens++] = token;
    }
}


int
infer_gen_step(infer_gen_t *gen, infer_gen_seq_t **ready, int *n_ready,
    char *err, size_t errlen)
{
    int               i, k, n, rc, tok;
    int32_t           j, len;
    infer_batch_t     batch;
    infer_gen_seq_t  *seq;

    *n_ready = 0;

    for (i = 0; i < gen->n_running; i++) {
        gen->running[i]->logits = NULL;
    }

    infer_gen_admit(gen);

    if (infer_gen_plan(gen) == 0) {
        return 0;
    }

    /* the planned chunks as one ragged batch, in admission order */

    for (i = 0, k = 0, tok = 0; i < gen->n_running; i++) {
        seq = gen->running[i];
        len = gen->chunk[i];

        if (len == 0) {
            continue;
        }

        gen->seqs[k].start = tok;
        gen->seqs[k].len = len;
        gen->seqs[k].pos = seq->n_past;
        gen->seqs[k].reserved = 0;
        gen->ids[k] = seq->id;

        for (j = 0; j < len; j++) {
            gen->tokens[tok + j] = seq->tokens[seq->n_past + j];
            gen->pos[tok + j] = seq->n_past + j;
        }

        memcpy(gen->blocks + (size_t) k * gen->max_blocks, seq->table,
               (size_t) seq->n_table * sizeof(int32_t));

        for (j = seq->n_table; j < gen->max_blocks; j++) {
            gen->blocks[(size_t) k * gen->max_blocks + j] = -1;
        }

        tok += len;
        k++;
    }

    memset(&batch, 0, sizeof(infer_batch_t));
    batch.n_seqs = k;
    batch.n_tokens = tok;
    batch.seqs = gen->seqs;
    batch.ids = gen->ids;
    batch.tokens = gen->tokens;
    batch.pos = gen->pos;
    batch.out = gen->out;
    batch.blocks = gen->blocks;
    batch.max_blocks = gen->max_blocks;

    rc = infer_runner_run(gen->runner, &batch, err, errlen);
    if (rc != 0) {
        return rc;
    }

    gen->steps++;
    gen->last_seqs = k;
    gen->last_tokens = tok;

    for (i = 0, k = 0, n = 0; i < gen->n_running; i++) {
        seq = gen->running[i];
        len = gen->chunk[i];

        if (len == 0) {
            continue;
        }

        seq->n_past += len;
        infer_gen_prefix_note(gen, seq);

        if (seq->n_past == seq->n_tokens) {
            seq->logits = gen->out + (size_t) k * gen->vocab;
            ready[n++] = seq;
        }

        k++;
    }

    *n_ready = n;

    return 0;
}


/*
 * FIFO: the head waits until its whole prompt has blocks (and each
 * running sequence keeps one free block to grow into, so that admitting
 * does not make the next step preempt what it admitted); nothing behind
 * it is admitted before it.
 */
static void
infer_gen_admit(infer_gen_t *gen)
{
    int32_t           need, cached, idle;
    infer_gen_seq_t  *seq;

    while (gen->n_waiting && gen->n_running < gen->max_seqs) {
        seq = gen->waiting[gen->wait_head];

        /* cached blocks no one holds are counted free: taking them too */
        cached = infer_gen_prefix_find(gen, seq, &idle);
        need = infer_gen_blocks_for(gen, seq->n_tokens) - cached + idle;

        if (need + gen->n_running > gen->n_free
            && !(gen->n_running == 0 && need <= gen->n_free))
        {
            return;
        }

        infer_gen_prefix_take(gen, seq, cached);
        (void) infer_gen_take(gen, seq, seq->n_tokens);

        gen->wait_head = (gen->wait_head + 1) % gen->wait_cap;
        gen->n_waiting--;

        seq->state = INFER_GEN_RUNNING;
        seq->admitted = ++gen->serial;
        gen->running[gen->n_running++] = seq;
    }
}


/*
 * Each running sequence's share of the step: decoding ones first, one
 * token each, each given the block its new position needs (preempting
 * the newest sequence when none is free); then prompts' chunks under
 * what is left of the budget.  Returns the tokens planned.
 */
static int
infer_gen_plan(infer_gen_t *gen)
{
    int               i, budget, found;
    int32_t           left;
    infer_gen_seq_t  *seq, *victim;

    budget = gen->max_tokens;

    for (i = 0; i < gen->n_running; i++) {
        gen->chunk[i] = 0;
    }

    for (i = 0; i < gen->n_running; /* void */) {
        seq = gen->running[i];

        if (seq->n_tokens - seq->n_past != 1) {
            i++;
            continue;
        }

        found = 1;

        while (infer_gen_take(gen, seq, seq->n_tokens) != 0) {
            victim = gen->running[gen->n_running - 1];
            infer_gen_preempt(gen, victim);

            if (victim == seq) {
                found = 0;
                break;
            }
        }

        if (!found) {
            /* running[i] is the next sequence now, if any */
            continue;
        }

        gen->chunk[i] = 1;
        budget--;
        i++;
    }

    for (i = 0; i < gen->n_running && budget > 0; i++) {
        seq = gen->running[i];
        left = seq->n_tokens - seq->n_past;

        if (left <= 1 || gen->chunk[i]) {
            continue;
        }

        gen->chunk[i] = left < budget ? left : budget;
        budget -= gen->chunk[i];
    }

    return gen->max_tokens - budget;
}


/* blocks for positions 0 .. positions - 1 of seq: 0, or -1 (none taken)
 * when the cache has too few free */
static int
infer_gen_take(infer_gen_t *gen, infer_gen_seq_t *seq, int32_t positions)
{
    int32_t  need;

    need = infer_gen_blocks_for(gen, positions) - seq->n_table;

    if (need <= 0) {
        return 0;
    }

    if (need > gen->n_free) {
        return -1;
    }

    while (need--) {
        seq->table[seq->n_table++] = infer_gen_block_new(gen);
    }

    return 0;
}


static void
infer_gen_release(infer_gen_t *gen, infer_gen_seq_t *seq)
{
    while (seq->n_table) {
        infer_gen_block_put(gen, seq->table[--seq->n_table]);
    }

    seq->n_past = 0;
    seq->n_hashed = 0;
    seq->chain = INFER_GEN_SEED;
}


/* back to the head of the queue, its tokens to be computed again */
static void
infer_gen_preempt(infer_gen_t *gen, infer_gen_seq_t *seq)
{
    infer_gen_unrun(gen, seq);
    infer_gen_release(gen, seq);

    gen->wait_head = (gen->wait_head + gen->wait_cap - 1) % gen->wait_cap;
    gen->waiting[gen->wait_head] = seq;
    gen->n_waiting++;

    seq->state = INFER_GEN_WAITING;
    seq->preempted++;
    gen->preemptions++;
}


/* out of the running list, the order of the rest kept */
static void
infer_gen_unrun(infer_gen_t *gen, infer_gen_seq_t *seq)
{
    int  i;

    for (i = 0; i < gen->n_running; i++) {
        if (gen->running[i] == seq) {
            memmove(&gen->running[i], &gen->running[i + 1],
                    (size_t) (gen->n_running - i - 1)
                    * sizeof(infer_gen_seq_t *));
            memmove(&gen->chunk[i], &gen->chunk[i + 1],
                    (size_t) (gen->n_running - i - 1) * sizeof(int32_t));
            gen->n_running--;
            return;
        }
    }
}
