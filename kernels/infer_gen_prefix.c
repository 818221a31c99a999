/*
 * ngx_infer: the KV cache's blocks, and their reuse by sequences that
 * begin with the same tokens (prefix caching, infer_gen.h).
 *
 * A block is free and not cached (on the stack), held by ref sequences,
 * or free and cached: its hash and tokens kept, found by the next prompt
 * with that prefix, given to a new block only when the stack is empty,
 * the least recently released first.  The hash of block i of a sequence
 * chains the hash of block i - 1 with block i's tokens, so that a block
 * found stands for the whole prefix up to its end; the tokens are
 * compared too, so that a collision of hashes cannot give a sequence
 * another's keys and values.  The lookups scan the blocks: a cache holds
 * hundreds to a few thousand, and a step of the model costs far more.
 */

#include <string.h>

#include "infer_gen.h"


static uint64_t infer_gen_hash(uint64_t h, const int32_t *t, int n);
static int32_t infer_gen_lookup(infer_gen_t *gen, uint64_t h,
    const int32_t *tokens);


/* a block for a sequence, or -1 when none is free */
int32_t
infer_gen_block_new(infer_gen_t *gen)
{
    int32_t  b, i;

    if (gen->n_free == 0) {
        return -1;
    }

    if (gen->n_stack) {
        b = gen->free[--gen->n_stack];

    } else {
        /* the cached block released longest ago */
        b = -1;

        for (i = 0; i < gen->n_blocks; i++) {
            if (gen->ref[i] == 0 && gen->hash[i] != 0
                && (b < 0 || gen->released[i] < gen->released[b]))
            {
                b = i;
            }
        }

        if (b < 0) {
            return -1;
        }

        gen->hash[b] = 0;
    }

    gen->n_free--;
    gen->ref[b] = 1;

    return b;
}


/* a sequence lets block b go: cached if it has a hash, else free */
void
infer_gen_block_put(infer_gen_t *gen, int32_t b)
{
    if (--gen->ref[b] > 0) {
        return;
    }

    gen->n_free++;

    if (gen->hash[b] != 0) {
        gen->released[b] = ++gen->clock;
        return;
    }

    gen->free[gen->n_stack++] = b;
}


/*
 * How many of seq's first blocks are cached, written to seq->table (not
 * yet taken); at most those before its last token, which is computed
 * for its logits.  *idle: how many of them no sequence holds (taking
 * them lowers n_free).
 */
int32_t
infer_gen_prefix_find(infer_gen_t *gen, infer_gen_seq_t *seq, int32_t *idle)
{
    int32_t   n, i, b, bt;
    uint64_t  h;

    bt = gen->block_tokens;
    n = (seq->n_tokens - 1) / bt;
    h = INFER_GEN_SEED;
    *idle = 0;

    for (i = 0; i < n; i++) {
        h = infer_gen_hash(h, seq->tokens + (size_t) i * bt, bt);
        b = infer_gen_lookup(gen, h, seq->tokens + (size_t) i * bt);

        if (b < 0) {
            break;
        }

        seq->table[i] = b;
        *idle += (gen->ref[b] == 0);
    }

    return i;
}


/* seq, with no blocks, takes the first blocks found by prefix_find() */
void
infer_gen_prefix_take(infer_gen_t *gen, infer_gen_seq_t *seq,
    int32_t blocks)
{
    int32_t  i, b;

    for (i = 0; i < blocks; i++) {
        b = seq->table[i];

        if (gen->ref[b]++ == 0) {
            gen->n_free--;
        }

        seq->chain = infer_gen_hash(seq->chain,
                                    seq->tokens + (size_t) i
                                                  * gen->block_tokens,
                                    gen->block_tokens);
    }

    seq->n_table = blocks;
    seq->n_hashed = blocks;
    seq->n_past = blocks * gen->block_tokens;
    gen->cached_tokens += (uint64_t) seq->n_past;
}


/* after a step: seq's blocks that are full now become known */
void
infer_gen_prefix_note(infer_gen_t *gen, infer_gen_seq_t *seq)
{
    int32_t         b, bt;
    const int32_t  *t;

    bt = gen->block_tokens;

    while (seq->n_hashed < seq->n_past / bt) {
        t = seq->tokens + (size_t) seq->n_hashed * bt;
        seq->chain = infer_gen_hash(seq->chain, t, bt);
        b = seq->table[seq->n_hashed];

        /* the first block computed with this prefix stands for it */
        if (gen->hash[b] == 0 && infer_gen_lookup(gen, seq->chain, t) < 0) {
            gen->hash[b] = seq->chain;
            memcpy(gen->btok + (size_t) b * bt, t,
                   (size_t) bt * sizeof(int32_t));
        }

        seq->n_hashed++;
    }
}


static uint64_t
infer_gen_hash(uint64_t h, const int32_t *t, int n)
{
    int  i;

    for (i = 0; i < n; i++) {
        h = (h ^ (uint32_t) t[i]) * 0x9e3779b97f4a7c15ULL;
        h ^= h >> 32;
    }

    return h ? h : 1;
}


static int32_t
infer_gen_lookup(infer_gen_t *gen, uint64_t h, const int32_t *tokens)
{
    int32_t  b;

    for (b = 0; b < gen->n_blocks; b++) {
        if (gen->hash[b] == h
            && memcmp(gen->btok + (size_t) b * gen->block_tokens, tokens,
                      (size_t) gen->block_tokens * sizeof(int32_t))
               == 0)
        {
            return b;
        }
    }

    return -1;
}
