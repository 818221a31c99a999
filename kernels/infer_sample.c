/*
 * ngx_infer: the next token from a row of logits (infer_sample.h): the
 * bias and the penalties, greedy, temperature, top_k, top_p, min_p and
 * the draw, without sorting the vocabulary.
 */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer_sample.h"


#define INFER_SAMPLE_CAP0      64     /* slots of a new table of ids */
#define INFER_SAMPLE_BUCKETS   256    /* of the weights, down to e^-63.75 */


static uint64_t infer_splitmix64(uint64_t *x);
static uint64_t infer_xoshiro(uint64_t *s);
static uint32_t infer_sample_slot(uint32_t id, uint32_t cap);
static int infer_sample_grow(infer_sampler_t *s);
static int32_t infer_sample_greedy(const float *logits, int32_t vocab);
static int32_t infer_sample_top_k(infer_sample_tok_t *t, int32_t m,
    int32_t k);
static int32_t infer_sample_top_p(infer_sample_tok_t *t, int32_t m,
    double target);
static int32_t infer_sample_stream_top_k(const float *logits,
    int32_t vocab, int32_t k, infer_sample_tok_t *tok);
static int infer_sample_bucket(float dv);


static uint64_t
infer_splitmix64(uint64_t *x)
{
    uint64_t  z;

    z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;

    return z ^ (z >> 31);
}


static uint64_t
infer_xoshiro(uint64_t *s)
{
    uint64_t  r, t;

    r = s[1] * 5;
    r = ((r << 7) | (r >> 57)) * 9;
    t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 45) | (s[3] >> 19);

    return r;
}


int
infer_sampler_init(infer_sampler_t *s, const infer_sample_params_t *p,
    int32_t vocab)
{
    int       i;
    uint64_t  x;

    memset(s, 0, sizeof(infer_sampler_t));

    s->p = *p;
    s->vocab = vocab;
    s->penalize = (p->presence_penalty != 0.0f
                   || p->frequency_penalty != 0.0f
                   || p->repetition_penalty != 1.0f);

    /* splitmix64 never gives xoshiro its one bad state, all zeros */
    x = p->seed;
    for (i = 0; i < 4; i++) {
        s->rng[i] = infer_splitmix64(&x);
    }

    s->counts = malloc(INFER_SAMPLE_CAP0 * sizeof(infer_sample_count_t));
    if (s->counts == NULL) {
        return -1;
    }

    memset(s->counts, 0xff, INFER_SAMPLE_CAP0 * sizeof(infer_sample_count_t));
    s->cap = INFER_SAMPLE_CAP0;

    return 0;
}


void
infer_sampler_free(infer_sampler_t *s)
{
    free(s->counts);
    s->counts = NULL;
    s->cap = 0;
    s->used = 0;
}


size_t
infer_sample_scratch_size(int32_t vocab)
{
    return (size_t) (vocab > 0 ? vocab : 1) * sizeof(infer_sample_tok_t);
}


/* Fibonacci hashing: consecutive ids (a word's pieces) spread apart */

static uint32_t
infer_sample_slot(uint32_t id, uint32_t cap)
{
    return (uint32_t) ((id * 2654435769U) & (cap - 1));
}


static int
infer_sample_grow(infer_sampler_t *s)
{
    uint32_t               i, j, cap;
    infer_sample_count_t  *c;

    cap = s->cap * 2;

    c = malloc(cap * sizeof(infer_sample_count_t));
    if (c == NULL) {
        return -1;
    }

    memset(c, 0xff, cap * sizeof(infer_sample_count_t));

    for (i = 0; i < s->cap; i++) {
        if (s->counts[i].id < 0) {
            continue;
        }

        j = infer_sample_slot((uint32_t) s->counts[i].id, cap);
        while (c[j].id >= 0) {
            j = (j + 1) & (cap - 1);
        }

        c[j] = s->counts[i];
    }

    free(s->counts);
    s->counts = c;
    s->cap = cap;

    return 0;
}


int
infer_sampler_accept(infer_sampler_t *s, int32_t id)
{
    uint32_t  j;

    if (id < 0 || id >= s->vocab) {
        return 0;
    }

    j = infer_sample_slot((uint32_t) id, s->cap);
    while (s->counts[j].id >= 0) {
        if (s->counts[j].id == id) {
            s->counts[j].count++;
            return 0;
        }

        j = (j + 1) & (s->cap - 1);
    }

    /* at most 3/4 full, so that a probe ends soon */
    if ((s->used + 1) * 4 > s->cap * 3) {
        if (infer_sample_grow(s) != 0) {
            return -1;
        }

        j = infer_sample_slot((uint32_t) id, s->cap);
        while (s->counts[j].id >= 0) {
            j = (j + 1) & (s->cap - 1);
        }
    }

    s->counts[j].id = id;
    s->counts[j].count = 1;
    s->used++;

    return 0;
}


int32_t
infer_sampler_count(const infer_sampler_t *s, int32_t id)
{
    uint32_t  j;

    if (id < 0 || s->cap == 0) {
        return 0;
    }

    j = infer_sample_slot((uint32_t) id, s->cap);
    while (s->counts[j].id >= 0) {
        if (s->counts[j].id == id) {
            return s->counts[j].count;
        }

        j = (j + 1) & (s->cap - 1);
    }

    return 0;
}


void
infer_sampler_adjust(const infer_sampler_t *s, float *logits)
{
    float     l, rp, fp, pp;
    int32_t   i;
    uint32_t  j;

    for (i = 0; i < s->p.n_bias; i++) {
        logits[s->p.bias_id[i]] += s->p.bias[i];
    }

    if (!s->penalize) {
        return;
    }

    rp = s->p.repetition_penalty;
    fp = s->p.frequency_penalty;
    pp = s->p.presence_penalty;

    for (j = 0; j < s->cap; j++) {
        if (s->counts[j].id < 0) {
            continue;
        }

        l = logits[s->counts[j].id];

        if (rp != 1.0f) {
            l = (l > 0.0f) ? l / rp : l * rp;
        }

        if (fp != 0.0f) {
            l -= fp * (float) s->counts[j].count;
        }

        if (pp != 0.0f) {
            l -= pp;
        }

        logits[s->counts[j].id] = l;
    }
}


/* the first of the largest; NaN is below everything, as -inf is */

static int32_t
infer_sample_greedy(const float *logits, int32_t vocab)
{
    float    best;
    int32_t  i, id;

    best = -INFINITY;
    id = 0;

    for (i = 0; i < vocab; i++) {
        if (logits[i] > best) {
            best = logits[i];
            id = i;
        }
    }

    return id;
}


#define infer_sample_swap(a, b)                                              \
    do { infer_sample_tok_t  tmp_ = (a); (a) = (b); (b) = tmp_; } while (0)


/*
 * Moves the tokens of the k largest logits, and every one equal to the
 * k-th, to the front of t[0, m); returns how many they are.  A three-way
 * quickselect: [lo, hi) is what is not decided yet, everything before lo
 * is above it and everything from hi on below it.
 */

static int32_t
infer_sample_top_k(infer_sample_tok_t *t, int32_t m, int32_t k)
{
    float    a, b, c, pv;
    int32_t  lo, hi, i, gt, lt;

    lo = 0;
    hi = m;

    for ( ;; ) {
        a = t[lo].logit;
        b = t[lo + (hi - lo) / 2].logit;
        c = t[hi - 1].logit;
        pv = (a < b) ? ((b < c) ? b : (a < c ? c : a))
                     : ((a < c) ? a : (b < c ? c : b));

        /* [lo, gt) above pv, [gt, i) equal, [lt, hi) below */
        gt = lo;
        i = lo;
        lt = hi;

        while (i < lt) {
            if (t[i].logit > pv) {
                infer_sample_swap(t[i], t[gt]);
                gt++;
                i++;

            } else if (t[i].logit < pv) {
                lt--;
                infer_sample_swap(t[i], t[lt]);

            } else {
                i++;
            }
        }

        if (gt >= k) {
            hi = gt;

        } else if (lt >= k) {
            return lt;

        } else {
            lo = lt;
        }
    }
}


/*
 * Moves the most probable tokens whose weight reaches target, and every
 * one as probable as the least of them, to the front of t[0, m); returns
 * how many they are.  The same selection as top_k's on the weights, with
 * their sums: "above" is the weight of everything before lo.
 */

static int32_t
infer_sample_top_p(infer_sample_tok_t *t, int32_t m, double target)
{
    double   a, b, c, pv, above, w_gt, w_eq;
    int32_t  lo, hi, i, gt, lt;

    lo = 0;
    hi = m;
    above = 0.0;

    while (lo < hi) {
        a = t[lo].w;
        b = t[lo + (hi - lo) / 2].w;
        c = t[hi - 1].w;
        pv = (a < b) ? ((b < c) ? b : (a < c ? c : a))
                     : ((a < c) ? a : (b < c ? c : b));

        gt = lo;
        i = lo;
        lt = hi;
        w_gt = 0.0;
        w_eq = 0.0;

        while (i < lt) {
            if (t[i].w > pv) {
                w_gt += t[i].w;
                infer_sample_swap(t[i], t[gt]);
                gt++;
                i++;

            } else if (t[i].w < pv) {
                lt--;
                infer_sample_swap(t[i], t[lt]);

            } else {
                w_eq += t[i].w;
                i++;
            }
        }

        if (above + w_gt >= target) {
            hi = gt;

        } else if (above + w_gt + w_eq >= target) {
            return lt;

        } else {
            above += w_gt + w_eq;
            lo = lt;
        }
    }

    /*
     * All of [0, hi) taken and the target not reached: the sums in this
     * order fell short of those that chose hi by rounding
     */
    return hi;
}


/*
 * top_k in one pass: the tokens at or above a threshold are gathered,
 * and each time the room is full the k largest (and their ties) are
 * selected and the k-th becomes the threshold, which only rises.  Room
 * for 4k first, doubled when ties fill it.  Returns how many tokens,
 * 0 when no logit is above -inf.
 */

static int32_t
infer_sample_stream_top_k(const float *logits, int32_t vocab, int32_t k,
    infer_sample_tok_t *tok)
{
    float    thr;
    int32_t  i, n, j, cap;

    cap = (k < 256) ? 1024 : 4 * k;
    cap = (cap < vocab) ? cap : vocab;
    thr = -INFINITY;
    n = 0;

    for (i = 0; i < vocab; i++) {
        /* NaN fails the first test */
        if (!(logits[i] > -INFINITY) || logits[i] < thr) {
            continue;
        }

        tok[n].logit = logits[i];
        tok[n].id = i;
        n++;

        if (n == cap && n > k) {
            n = infer_sample_top_k(tok, n, k);

            thr = tok[0].logit;
            for (j = 1; j < n; j++) {
                thr = (tok[j].logit < thr) ? tok[j].logit : thr;
            }

            if (n > cap / 2) {
                cap = (cap < vocab / 2) ? 2 * cap : vocab;
            }
        }
    }

    return (n > k) ? infer_sample_top_k(tok, n, k) : n;
}


/*
 * The histogram of top_p: the bucket of a logit l is (max - l) * 4 / t,
 * in float (the same expression wherever it is used, so that a token is
 * in one bucket only), a quarter of a unit of the scaled logit each:
 * weights within a factor of e^0.25.  The last holds the tail.  A
 * bucket's tokens are all more probable than the next's; nothing else
 * depends on the buckets' width.
 */

static int
infer_sample_bucket(float dv)
{
    return (dv < (float) (INFER_SAMPLE_BUCKETS - 1)) ? (int) dv
                                                     : INFER_SAMPLE_BUCKETS - 1;
}


void
infer_sample_dist(infer_sampler_t *s, float *logits, void *scratch,
    infer_sample_dist_t *d)
{
    int                  b, all;
    float                max, scale, dv, lim;
    double               t, w, z, target, acc;
    double               mass[INFER_SAMPLE_BUCKETS];
    int32_t              i, m, n, k;
    infer_sample_tok_t  *tok;

    tok = scratch;
    d->tok = tok;

    infer_sampler_adjust(s, logits);

    if (s->p.temperature == 0.0f) {
        goto greedy;
    }

    t = s->p.temperature;
    k = s->p.top_k;
    z = 0.0;
    max = -INFINITY;

    if (k > 0 && k < s->vocab) {
        m = infer_sample_stream_top_k(logits, s->vocab, k, tok);

        for (i = 0; i < m; i++) {
            max = (tok[i].logit > max) ? tok[i].logit : max;
        }

    } else {
        /* the tokens that may be drawn at all: -inf and NaN may not */
        m = 0;

        for (i = 0; i < s->vocab; i++) {
            if (logits[i] > -INFINITY) {
                m++;
                max = (logits[i] > max) ? logits[i] : max;
            }
        }

        if (m > 0) {
            m = -1;
        }
    }

    if (m == 0) {
        goto greedy;
    }

    /*
     * Without top_k, the tokens are gathered from the logits: with top_p,
     * only those of the buckets that hold the mass top_p (the histogram
     * has the buckets' weights, and their total is the softmax's); with
     * min_p, only those near enough the top (the top token's weight is
     * 1; the bound is generous: the weight itself decides, below).  The
     * weights are exp((l - max) / t) in double: the difference of two
     * floats and its quotient by a float never overflow there, and their
     * rounding is numpy's.  An +inf logit has weight 1, any other 0 then.
     */
    if (m < 0) {
        /* 4 / t, unless a tiny t would make it inf (and 0 * inf NaN) */
        scale = (s->p.temperature > 1e-29f) ? 4.0f / s->p.temperature
                                            : 4e29f;
        all = 1;
        lim = INFINITY;

        if (s->p.top_p < 1.0f && max < INFINITY) {
            memset(mass, 0, sizeof(mass));

            for (i = 0; i < s->vocab; i++) {
                if (logits[i] > -INFINITY) {
                    w = exp(((double) logits[i] - (double) max) / t);
                    mass[infer_sample_bucket((max - logits[i]) * scale)] += w;
                    z += w;
                }
            }

            target = (double) s->p.top_p * z;
            acc = 0.0;

            for (b = 0; b < INFER_SAMPLE_BUCKETS - 1; b++) {
                acc += mass[b];
                if (acc >= target) {
                    all = 0;
                    lim = (float) (b + 1);
                    break;
                }
            }
        }

        if (s->p.min_p > 0.0f && max < INFINITY) {
            dv = (float) ((-log((double) s->p.min_p) * 1.0001 + 0.0025)
                          * (double) scale * t);
            lim = (dv < lim) ? dv : lim;
            all = 0;
        }

        m = 0;
        for (i = 0; i < s->vocab; i++) {
            if (logits[i] > -INFINITY
                && (all || (max - logits[i]) * scale < lim))
            {
                tok[m].logit = logits[i];
                tok[m].id = i;
                m++;
            }
        }
    }

    /* tokens of weight 0 (exp underflowed) are never drawn */
    n = 0;
    for (i = 0; i < m; i++) {
        if (max == INFINITY) {
            w = (tok[i].logit == INFINITY) ? 1.0 : 0.0;

        } else {
            w = exp(((double) tok[i].logit - (double) max) / t);
        }

        if (w > 0.0) {
            tok[n] = tok[i];
            tok[n].w = w;
            n++;
        }
    }

    /* the first token of the max has weight 1: n >= 1, but be sure */
    m = n;

    if (m == 0) {
        goto greedy;
    }

    if (s->p.top_p < 1.0f) {
        /* of top_k's tokens, or of the whole vocabulary: z is its sum */
        if (k > 0 && k < s->vocab) {
            z = 0.0;
            for (i = 0; i < m; i++) {
                z += tok[i].w;
            }

        } else if (max == INFINITY) {
            z = m;
        }

        m = infer_sample_top_p(tok, m, (double) s->p.top_p * z);
    }

    if (s->p.min_p > 0.0f) {
        n = 0;
        for (i = 0; i < m; i++) {
            if (tok[i].w >= (double) s->p.min_p) {
                tok[n++] = tok[i];
            }
        }

        m = n;
    }

    z = 0.0;
    for (i = 0; i < m; i++) {
        z += tok[i].w;
    }

    d->n = m;
    d->total = z;

    return;

greedy:

    tok[0].id = infer_sample_greedy(logits, s->vocab);
    tok[0].logit = logits[tok[0].id];
    tok[0].w = 1.0;
    d->n = 1;
    d->total = 1.0;
}


int32_t
infer_sampler_next(infer_sampler_t *s, float *logits, void *scratch)
{
    double               u, acc;
    int32_t              i;
    infer_sample_dist_t  d;

    infer_sample_dist(s, logits, scratch, &d);

    if (s->p.temperature == 0.0f) {
        return d.tok[0].id;
    }

    /* one number a sampled token, whatever the filters left */
    u = (double) (infer_xoshiro(s->rng) >> 11) * 0x1.0p-53 * d.total;
    acc = 0.0;

    for (i = 0; i < d.n - 1; i++) {
        acc += d.tok[i].w;
        if (u < acc) {
            return d.tok[i].id;
        }
    }

    /* the last, also where rounding left u at or above the sum */
    return d.tok[d.n - 1].id;
}


int
infer_sample_check(const infer_sample_params_t *p, int32_t vocab,
    char *err, size_t errlen)
{
    int32_t  i, j;

    if (vocab <= 0) {
        snprintf(err, errlen, "the model has no vocabulary");
        return -1;
    }

    /* written so that NaN fails each test */
    if (!(p->temperature >= 0.0f && p->temperature <= 2.0f)) {
        snprintf(err, errlen, "'temperature' must be between 0 and 2");
        return -1;
    }

    if (!(p->top_p > 0.0f && p->top_p <= 1.0f)) {
        snprintf(err, errlen,
                 "'top_p' must be greater than 0 and at most 1");
        return -1;
    }

    if (p->top_k < -1) {
        snprintf(err, errlen,
                 "'top_k' must be -1 or 0 (no limit), or at least 1");
        return -1;
    }

    if (!(p->min_p >= 0.0f && p->min_p <= 1.0f)) {
        snprintf(err, errlen, "'min_p' must be between 0 and 1");
        return -1;
    }

    if (!(p->presence_penalty >= -2.0f && p->presence_penalty <= 2.0f)) {
        snprintf(err, errlen,
                 "'presence_penalty' must be between -2 and 2");
        return -1;
    }

    if (!(p->frequency_penalty >= -2.0f && p->frequency_penalty <= 2.0f)) {
        snprintf(err, errlen,
                 "'frequency_penalty' must be between -2 and 2");
        return -1;
    }

    if (!(p->repetition_penalty > 0.0f && isfinite(p->repetition_penalty))) {
        snprintf(err, errlen,
                 "'repetition_penalty' must be a number greater than 0");
        return -1;
    }

    if (p->n_bias < 0 || p->n_bias > INFER_SAMPLE_MAX_BIAS) {
        snprintf(err, errlen, "'logit_bias' may have at most %d entries",
                 INFER_SAMPLE_MAX_BIAS);
        return -1;
    }

    for (i = 0; i < p->n_bias; i++) {
        if (p->bias_id[i] < 0 || p->bias_id[i] >= vocab) {
            snprintf(err, errlen, "'logit_bias': token id %d is not in the "
                     "vocabulary (0 to %d)", (int) p->bias_id[i],
                     (int) vocab - 1);
            return -1;
        }

        if (!(p->bias[i] >= -100.0f && p->bias[i] <= 100.0f)) {
            snprintf(err, errlen, "'logit_bias': the bias of token %d must "
                     "be between -100 and 100", (int) p->bias_id[i]);
            return -1;
        }

        for (j = 0; j < i; j++) {
            if (p->bias_id[j] == p->bias_id[i]) {
                snprintf(err, errlen, "'logit_bias': token id %d is given "
                         "twice", (int) p->bias_id[i]);
                return -1;
            }
        }
    }

    return 0;
}
