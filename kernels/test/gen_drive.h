/*
 * ngx_infer tests: sequences driven through the generation loop
 * (infer_gen.h) as a client would drive them: a prompt given whole or in
 * part, joining at a chosen step, greedy tokens appended until enough are
 * generated; for test_gen.c and test_greedy.c.  Include after tap.h.
 */

#ifndef _GEN_DRIVE_H_INCLUDED_
#define _GEN_DRIVE_H_INCLUDED_


#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "infer_gen.h"


/* a sequence of the tests: a prompt fed through the engine */
typedef struct {
    infer_gen_seq_t      seq;
    int                  ci;           /* the case */
    const int32_t       *prompt;
    int                  len;
    int                  given;        /* prompt tokens given so far */
    int                  start;        /* the step it joins at */
} tseq_t;


/* prompt (len ids) as case ci's sequence, its first tokens given, joining
 * at step start, with room for extra tokens more */
static TAP_UNUSED void
tseq_init(tseq_t *t, const int32_t *prompt, int len, int ci, int first,
    int start, int extra)
{
    memset(t, 0, sizeof(tseq_t));

    t->seq.tokens = calloc((size_t) len + extra + 1, sizeof(int32_t));
    t->seq.table = calloc((size_t) len + extra + 1, sizeof(int32_t));
    if (t->seq.tokens == NULL || t->seq.table == NULL) {
        exit(2);
    }

    memcpy(t->seq.tokens, prompt, (size_t) first * sizeof(int32_t));
    t->seq.n_prompt = first;
    t->seq.n_tokens = first;
    t->seq.cap = len + extra;
    t->seq.id = (uint64_t) ci + 1;
    t->seq.data = t;
    t->ci = ci;
    t->prompt = prompt;
    t->len = len;
    t->given = first;
    t->start = start;
}


static TAP_UNUSED void
tseq_free(tseq_t *t)
{
    free(t->seq.tokens);
    free(t->seq.table);
}


static TAP_UNUSED double
now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec + ts.tv_nsec / 1e9;
}


/* the top of a[0 .. n), the lowest id on ties, and its lead over the
 * second (which *second gets, where not NULL) */
static TAP_UNUSED int
top2(const float *a, int n, int *second, float *lead)
{
    int  k, best, next;

    best = 0;
    next = -1;

    for (k = 1; k < n; k++) {
        if (a[k] > a[best]) {
            next = best;
            best = k;

        } else if (next < 0 || a[k] > a[next]) {
            next = k;
        }
    }

    if (second != NULL) {
        *second = next;
    }

    if (lead != NULL) {
        *lead = next < 0 ? 0.0f : a[best] - a[next];
    }

    return best;
}


/* FNV-1a of a logits row: whether two runs gave a step the same bits */
static TAP_UNUSED uint64_t
row_hash(const float *a, int n)
{
    size_t          k;
    uint64_t        h;
    const uint8_t  *p;

    h = 0xcbf29ce484222325ULL;
    p = (const uint8_t *) a;

    for (k = 0; k < (size_t) n * sizeof(float); k++) {
        h = (h ^ p[k]) * 0x100000001b3ULL;
    }

    return h;
}


/* what greedy() records of each step, where the caller wants it (NULL:
 * not); a row per sequence of want steps, of want x vocab for all */
typedef struct {
    float               *lead;         /* the top's lead over the second */
    uint64_t            *hash;         /* row_hash() of the logits */
    float               *first;        /* the first step's logits, n x
                                          vocab */
    float               *all;          /* every step's logits */
    const float         *against;      /* logits to compare with, as all */
    double               worst;        /* the most max |diff| / max
                                          |against| of a step */
} greedy_rec_t;


/* max |a - b| / max |b| over n, NaN-proof */
static TAP_UNUSED double
row_rel(const float *a, const float *b, int n)
{
    int     k;
    double  d, m, top;

    for (m = 0.0, top = 0.0, k = 0; k < n; k++) {
        d = fabs((double) a[k] - b[k]);
        m = (d > m || isnan(d)) ? d : m;
        top = fabs((double) b[k]) > top ? fabs((double) b[k]) : top;
    }

    return top > 0.0 ? m / top : m;
}


/*
 * Greedy generation of want tokens for ts[0 .. n) (their whole prompts
 * given), each joining at its start step; token j of sequence i to
 * gen_ids[i * want + j], and to rec what it asks for (rec may be
 * NULL).  *decode gets the seconds of the steps after the
 * first token of the first.  0, or -1 with err set.
 */
static TAP_UNUSED int
greedy(infer_gen_t *gen, tseq_t *ts, int n, int want, int vocab,
    int32_t *gen_ids, greedy_rec_t *rec, double *decode, char *err,
    size_t errlen)
{
    int               i, k, step, left, n_ready, got, rc;
    double            d;
    size_t            at;
    double            t0;
    tseq_t           *t;
    infer_gen_seq_t **ready;

    ready = malloc((size_t) gen->max_seqs * sizeof(infer_gen_seq_t *));
    if (ready == NULL) {
        exit(2);
    }

    left = n;
    t0 = 0.0;
    rc = 0;

    for (step = 0; rc == 0 && left > 0; step++) {
        if (step > 100000) {
            snprintf(err, errlen, "%d sequences left after %d steps", left,
                     step);
            rc = -1;
            break;
        }

        for (i = 0; i < n; i++) {
            if (ts[i].start == step && infer_gen_add(gen, &ts[i].seq) != 0) {
                snprintf(err, errlen, "sequence %d was refused", i);
                rc = -1;
            }
        }

        if (rc != 0 || infer_gen_step(gen, ready, &n_ready, err, errlen)
                       != 0)
        {
            rc = -1;
            break;
        }

        for (k = 0; k < n_ready; k++) {
            t = ready[k]->data;
            got = ready[k]->n_tokens - t->len;
            at = (size_t) (t - ts) * want + got;

            gen_ids[at] = (int32_t) top2(ready[k]->logits, vocab, NULL,
                                         rec != NULL && rec->lead != NULL
                                         ? &rec->lead[at] : NULL);

            if (rec != NULL && rec->hash != NULL) {
                rec->hash[at] = row_hash(ready[k]->logits, vocab);
            }

            if (rec != NULL && rec->first != NULL && got == 0) {
                memcpy(rec->first + (size_t) (t - ts) * vocab,
                       ready[k]->logits, (size_t) vocab * sizeof(float));
            }

            if (rec != NULL && rec->all != NULL) {
                memcpy(rec->all + at * vocab, ready[k]->logits,
                       (size_t) vocab * sizeof(float));
            }

            if (rec != NULL && rec->against != NULL) {
                d = row_rel(ready[k]->logits, rec->against + at * vocab,
                            vocab);
                rec->worst = (d > rec->worst || isnan(d)) ? d : rec->worst;
            }

            if (got == 0 && t == ts) {
                t0 = now();
            }

            if (got + 1 == want) {
                infer_gen_remove(gen, ready[k]);
                left--;
                continue;
            }

            infer_gen_append(ready[k], gen_ids[at]);
        }
    }

    free(ready);
    *decode = now() - t0;

    return rc;
}


#endif /* _GEN_DRIVE_H_INCLUDED_ */
