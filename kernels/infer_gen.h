/*
 * ngx_infer: generation, one step at a time over many sequences
 * (continuous batching) on a paged KV cache.
 *
 * The cache is n_blocks blocks of block_tokens positions in the
 * backend's memory (infer_kv_shape_t); which blocks a sequence has is
 * its block table, kept here.  A sequence is its tokens (the prompt,
 * then what was generated), how many of them are in the cache (n_past),
 * and its blocks.
 *
 * A step (infer_gen_step()) is one forward pass of the model over:
 *
 *   - the next token of every decoding sequence (one token not yet in
 *     the cache: the last one generated), first, so that they never
 *     stall;
 *   - then chunks of the prompts of sequences being filled, in the
 *     order they were admitted, under the step's token budget
 *     (max_tokens): a long prompt is computed over several steps while
 *     the others go on decoding (chunked prefill).
 *
 * Sequences that have all their tokens in the cache after the step get
 * the logits of their last token; the caller samples, appends the token
 * (infer_gen_append()) or retires the sequence (infer_gen_remove(),
 * which frees its blocks at once).  Between steps, waiting sequences are
 * admitted, in FIFO order, while fewer than max_seqs run and the cache
 * has blocks for their whole prompt; admission takes those blocks, so
 * that an admitted prompt always fits.
 *
 * Full blocks are kept for reuse (prefix caching, vLLM's): once a block's
 * 16 positions are computed it is known by a hash of its tokens chained
 * to those of the blocks before it, and when its last sequence leaves it
 * stays cached, counted free, until a new block is needed and none that
 * is not cached is free (the least recently released goes first).  A
 * sequence admitted with the same first tokens takes those blocks as
 * they are and computes only what follows (at least its last token, for
 * its logits): a chat's system prompt, an earlier turn, a preempted
 * sequence's own blocks.  A shared block is never written again.  Since
 * the CPU kernels give a position's keys and values the same bits in any
 * batch, a sequence's logits are the same bits with or without the hit.
 *
 * When a decoding sequence needs a block and none is free, the most
 * recently admitted running sequence is preempted: its blocks are freed
 * and it goes back to the head of the queue with its tokens so far,
 * which are computed again when it is readmitted (recompute, vLLM's
 * default).  Its generation is the same as without the preemption: the
 * CPU kernels give a token the same bits in any batch and chunk (the
 * products of a decoder are INFER_MATMUL_ROWWISE; without AVX2, F32
 * weights' are only within rounding).
 *
 * Plain C, no nginx: the executor of the module and the unit tests use
 * it alike.  One thread: the executor's.
 */

#ifndef _INFER_GEN_H_INCLUDED_
#define _INFER_GEN_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "infer_runner.h"


#define INFER_GEN_WAITING   0
#define INFER_GEN_RUNNING   1
#define INFER_GEN_REMOVED   2

/* the chained hash of no block */
#define INFER_GEN_SEED      0x6a09e667f3bcc909ULL


typedef struct infer_gen_seq_s  infer_gen_seq_t;

struct infer_gen_seq_s {
    uint64_t              id;
    void                 *data;        /* the caller's */

    int32_t              *tokens;      /* the caller's, cap entries: the
                                          prompt, then what is generated */
    int32_t               n_prompt;
    int32_t               n_tokens;
    int32_t               cap;         /* at most the context length */

    int32_t               n_past;      /* tokens in the cache */
    int32_t              *table;       /* the blocks, in position order:
                                          the caller's, room for
                                          infer_gen_blocks_for(cap) */
    int32_t               n_table;

    int32_t               n_hashed;    /* blocks known by their hash */
    uint64_t              chain;       /* the hash of the last of them */

    int                   state;       /* INFER_GEN_* */
    uint32_t              preempted;   /* times */
    uint64_t              admitted;    /* the admission's serial number */

    const float          *logits;      /* after a step that gave them:
                                          the last token's, vocab floats,
                                          valid until the next step */
};


typedef struct {
    infer_runner_t       *runner;
    int                   vocab;

    /* the cache's blocks */
    int32_t               block_tokens;
    int32_t               n_blocks;
    int32_t               n_free;      /* not cached and cached alike */
    int32_t              *free;        /* a stack of the blocks not cached
                                          and free */
    int32_t               n_stack;

    /* the prefix cache: per block */
    int32_t              *ref;         /* sequences holding it */
    uint64_t             *hash;        /* its chained hash, 0 none */
    uint64_t             *released;    /* when its last holder left */
    int32_t              *btok;        /* its tokens, block_tokens each */
    uint64_t              clock;
    int32_t               max_blocks;  /* a sequence's most: the context */

    int                   max_seqs;    /* running at once */
    int                   max_tokens;  /* a step's budget */

    infer_gen_seq_t     **running;     /* in admission order */
    int                   n_running;
    infer_gen_seq_t     **waiting;     /* a ring, FIFO */
    int                   wait_head;
    int                   n_waiting;
    int                   wait_cap;
    uint64_t              serial;

    /* what a step is gathered into */
    infer_seq_t          *seqs;
    uint64_t             *ids;
    int32_t              *tokens;
    int32_t              *pos;
    int32_t              *blocks;      /* max_seqs x max_blocks */
    int32_t              *chunk;       /* per running sequence */
    float                *out;         /* max_seqs x vocab */

    /* counters, for metrics */
    uint64_t              steps;
    uint64_t              preemptions;
    uint64_t              cached_tokens;  /* prompt tokens found cached */
    int                   last_seqs;   /* of the last step */
    int                   last_tokens;
} infer_gen_t;


/*
 * A cache of n_blocks blocks of block_tokens on the runner's backend
 * (its kv_init()), for sequences of up to ctx tokens; at most max_seqs
 * running and max_tokens tokens a step (the runner's own limits, at
 * least).  waiting is how many sequences may wait.  0, or -1 with err.
 */
int infer_gen_init(infer_gen_t *gen, infer_runner_t *runner, int n_blocks,
    int block_tokens, int ctx, int max_seqs, int max_tokens, int waiting,
    char *err, size_t errlen);
void infer_gen_free(infer_gen_t *gen);

/* the blocks that tokens positions take */
int32_t infer_gen_blocks_for(const infer_gen_t *gen, int32_t tokens);

/*
 * Queues seq (tokens, table, n_prompt = n_tokens >= 1 and cap, at most
 * the context, set by the caller): 0, or -1 when the queue is full or
 * the prompt is longer than cap (the caller answers it at once).  cap is
 * lowered to what the whole cache holds, so that a sequence alone can
 * always grow to it.
 */
int infer_gen_add(infer_gen_t *gen, infer_gen_seq_t *seq);

/* takes seq out, waiting or running, and frees its blocks */
void infer_gen_remove(infer_gen_t *gen, infer_gen_seq_t *seq);

/* appends a generated token to a sequence that got logits (n_tokens <
 * cap) */
void infer_gen_append(infer_gen_seq_t *seq, int32_t token);

/*
 * Admits what can be, runs one step; ready[] (room for max_seqs) gets the
 * sequences that have logits now, *n_ready how many.  Returns 0 (with
 * *n_ready 0 when nothing could run), or -1 or INFER_BACKEND_LOST with
 * err set: the step failed, no sequence advanced.
 */
int infer_gen_step(infer_gen_t *gen, infer_gen_seq_t **ready, int *n_ready,
    char *err, size_t errlen);


/* infer_gen_prefix.c, for infer_gen.c: the prefix cache's blocks */
int32_t infer_gen_block_new(infer_gen_t *gen);
void infer_gen_block_put(infer_gen_t *gen, int32_t b);
int32_t infer_gen_prefix_find(infer_gen_t *gen, infer_gen_seq_t *seq,
    int32_t *idle);
void infer_gen_prefix_take(infer_gen_t *gen, infer_gen_seq_t *seq,
    int32_t blocks);
void infer_gen_prefix_note(infer_gen_t *gen, infer_gen_seq_t *seq);


#endif /* _INFER_GEN_H_INCLUDED_ */
