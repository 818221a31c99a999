/*
 * ngx_infer: picking the next token of a generated sequence from its row
 * of logits, independent of nginx.
 *
 * The parameters are those of OpenAI's and vLLM's APIs, and the order in
 * which they act is vLLM's:
 *
 *   1. on the logits: logit_bias (added), then the penalties of the ids
 *      the sequence has generated so far (its prompt does not count, for
 *      any of them): repetition_penalty divides a positive logit and
 *      multiplies a negative one (vLLM's, Hugging Face's), then
 *      frequency_penalty * count and presence_penalty are subtracted
 *      (OpenAI's); all in float, in that order;
 *   2. temperature 0: the argmax, the lowest id of equal ones; done;
 *   3. else the logits are divided by the temperature; top_k keeps the k
 *      largest (and every one equal to the k-th: the set does not depend
 *      on the order of the ids);
 *   4. softmax; top_p keeps the smallest set of the most probable tokens
 *      whose mass reaches top_p, and every token as probable as the least
 *      probable of them (so at least one, and again no order of ids);
 *   5. min_p drops the tokens less probable than min_p times the most
 *      probable one;
 *   6. what is left is renormalized and one token drawn from it with the
 *      sequence's own generator (splitmix64 of the seed into
 *      xoshiro256**): the same parameters, seed and logits give the same
 *      tokens whatever other sequences do.
 *
 * The softmax is in double, exp((l - max) / t).  A NaN logit is -inf: a
 * token that is never picked.  When some logits are +inf, those tokens
 * share the whole mass equally (the limit of the softmax); when none is
 * above -inf, the answer is the greedy one (id 0 when all are -inf).
 *
 * Nothing is sorted: greedy is one pass over the logits; top_k one pass
 * that gathers the tokens above a rising threshold, the k-th of a
 * three-way quickselect each time its room fills; top_p without top_k
 * a pass of the softmax's exp() that also fills a histogram of the
 * weights, then only the tokens of the buckets that hold the mass top_p
 * are gathered, and a weighted quickselect finds the least probable one
 * kept without ordering the rest; min_p alone gathers only the tokens
 * near the top.  The draw walks the kept tokens in the order the
 * selections left them.  The cost is the exp() of every token where top_p
 * or no filter needs the whole softmax, a few passes over the logits
 * elsewhere (t/014-sample.t prints the times).  One call needs
 * infer_sample_scratch_size(vocab) bytes of scratch, the caller's (one
 * per executor thread serves every sequence); the sampler allocates only
 * when its table of generated ids grows.
 *
 * A sampler belongs to one sequence and one thread at a time.
 */

#ifndef _INFER_SAMPLE_H_INCLUDED_
#define _INFER_SAMPLE_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


#define INFER_SAMPLE_MAX_BIAS  64      /* OpenAI's own limit is 300 keys;
                                          llama.cpp and vLLM set none */


typedef struct {
    float      temperature;        /* [0, 2], 0: greedy (argmax, lowest id
                                      on ties) */
    float      top_p;              /* (0, 1], 1: off */
    int32_t    top_k;              /* 0 or -1: off; above the vocabulary:
                                      the vocabulary */
    float      min_p;              /* [0, 1], 0: off (vLLM's, llama.cpp's) */
    float      presence_penalty;   /* [-2, 2], OpenAI's */
    float      frequency_penalty;  /* [-2, 2], OpenAI's */
    float      repetition_penalty; /* > 0, 1: off (vLLM's, HF's: divides
                                      positive logits, multiplies negative
                                      ones, of the ids already generated) */
    uint64_t   seed;               /* the caller always passes one (random
                                      when the client gave none) */
    /* logit_bias, OpenAI's: (id, bias in [-100, 100]), one entry an id */
    int32_t    n_bias;
    int32_t    bias_id[INFER_SAMPLE_MAX_BIAS];
    float      bias[INFER_SAMPLE_MAX_BIAS];
} infer_sample_params_t;


/* one slot of the table of generated ids: id -1 is an empty slot */
typedef struct {
    int32_t    id;
    int32_t    count;
} infer_sample_count_t;


typedef struct {
    infer_sample_params_t   p;
    int32_t                 vocab;
    uint64_t                rng[4];        /* xoshiro256** */
    infer_sample_count_t   *counts;        /* open addressing, linear
                                              probing, a power of two */
    uint32_t                cap;
    uint32_t                used;          /* distinct ids generated */
    int                     penalize;      /* any penalty is on */
} infer_sampler_t;


/* a token of the scratch: its logit, then its weight exp((l - max) / t) */
typedef struct {
    double          w;
    float           logit;
    int32_t         id;
} infer_sample_tok_t;


/*
 * The distribution the next token is drawn from: n tokens (at least 1),
 * in scratch, in no particular order, each of weight > 0; token tok[i].id
 * has probability tok[i].w / total.
 */
typedef struct {
    int32_t                    n;
    const infer_sample_tok_t  *tok;
    double                     total;
} infer_sample_dist_t;


/* p must have passed infer_sample_check(); 0, or -1 (no memory) */
int infer_sampler_init(infer_sampler_t *s, const infer_sample_params_t *p,
    int32_t vocab);
void infer_sampler_free(infer_sampler_t *s);

/* bytes of scratch for one call of infer_sampler_next() or _dist() */
size_t infer_sample_scratch_size(int32_t vocab);

/*
 * The next token from logits (vocab floats, which the call modifies: step
 * 1 is applied in place).  The id is not counted: infer_sampler_accept()
 * does it once the sequence keeps the token.
 */
int32_t infer_sampler_next(infer_sampler_t *s, float *logits, void *scratch);

/* counts a generated id; 0, or -1 when the table could not grow */
int infer_sampler_accept(infer_sampler_t *s, int32_t id);

/* the generated ids' count of id: 0 when it was not generated */
int32_t infer_sampler_count(const infer_sampler_t *s, int32_t id);

/* steps 1 to 5, what infer_sampler_next() draws from (and the tests see) */
void infer_sample_dist(infer_sampler_t *s, float *logits, void *scratch,
    infer_sample_dist_t *d);

/* step 1 alone, in place */
void infer_sampler_adjust(const infer_sampler_t *s, float *logits);

/*
 * Validation for the API layer: 0, or -1 with a message naming the field
 * as OpenAI would ("'temperature' must be between 0 and 2").
 */
int infer_sample_check(const infer_sample_params_t *p, int32_t vocab,
    char *err, size_t errlen);


#endif /* _INFER_SAMPLE_H_INCLUDED_ */
