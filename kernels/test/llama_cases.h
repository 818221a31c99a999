/*
 * ngx_infer tests: the prompts of t/lib/gen_llama.py's <name>.cases.json
 * (token ids, the float64 reference's last-token logits, its argmax and
 * the gap to the second), how they run as one batch of whole prompts,
 * and how logits are compared with them; for test_llama.c, test_gen.c
 * and test_llama_hf.c.  Include after tap.h and jansson.h.
 */

#ifndef _LLAMA_CASES_H_INCLUDED_
#define _LLAMA_CASES_H_INCLUDED_


#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "infer_runner.h"


#define MAX_REL      1e-3
#define SAME_REL     1e-5


typedef struct {
    int              n;
    int              vocab;
    int             *len;
    int32_t        **ids;
    int             *argmax;
    double          *gap;
    float           *ref;          /* n x vocab */
    int              tokens;
} cases_t;


typedef struct {
    double           worst;        /* max |diff| / max |ref| */
    int              agree;        /* argmax as the reference's */
    int              ties;         /* disagreements at a near-tie */
    int              n;
} score_t;


static int
load_cases(const char *path, int vocab, cases_t *c)
{
    int           i, k, n;
    json_t       *j, *arr, *e, *ids, *lg;
    json_error_t  jerr;

    memset(c, 0, sizeof(cases_t));

    j = json_load_file(path, 0, &jerr);
    arr = json_object_get(j, "cases");
    n = (int) json_array_size(arr);

    if (n == 0) {
        diag("%s: %s", path, j ? "no cases" : jerr.text);
        json_decref(j);
        return -1;
    }

    c->n = n;
    c->vocab = vocab;
    c->len = calloc((size_t) n, sizeof(int));
    c->ids = calloc((size_t) n, sizeof(int32_t *));
    c->argmax = calloc((size_t) n, sizeof(int));
    c->gap = calloc((size_t) n, sizeof(double));
    c->ref = calloc((size_t) n * (size_t) vocab, sizeof(float));

    if (c->len == NULL || c->ids == NULL || c->argmax == NULL
        || c->gap == NULL || c->ref == NULL)
    {
        exit(2);
    }

    for (i = 0; i < n; i++) {
        e = json_array_get(arr, i);
        ids = json_object_get(e, "ids");
        lg = json_object_get(e, "logits");

        if ((int) json_array_size(lg) != vocab) {
            diag("%s: case %d: %zu logits, not %d", path, i,
                 json_array_size(lg), vocab);
            json_decref(j);
            return -1;
        }

        c->len[i] = (int) json_array_size(ids);
        c->ids[i] = calloc((size_t) c->len[i] + 1, sizeof(int32_t));
        if (c->ids[i] == NULL) {
            exit(2);
        }

        for (k = 0; k < c->len[i]; k++) {
            c->ids[i][k] = (int32_t) json_integer_value(json_array_get(ids,
                                                                       k));
        }

        for (k = 0; k < vocab; k++) {
            c->ref[(size_t) i * vocab + k] =
                (float) json_number_value(json_array_get(lg, k));
        }

        c->argmax[i] = (int) json_integer_value(json_object_get(e,
                                                                "argmax"));
        c->gap[i] = json_number_value(json_object_get(e, "gap"));
        c->tokens += c->len[i];
    }

    json_decref(j);

    return 0;
}


static void
free_cases(cases_t *c)
{
    int  i;

    for (i = 0; c->ids != NULL && i < c->n; i++) {
        free(c->ids[i]);
    }

    free(c->len);
    free(c->ids);
    free(c->argmax);
    free(c->gap);
    free(c->ref);
}


/* max |a - b| / max |b| of row i, NaN-proof */
static double
rel_diff(const float *a, const float *b, int n)
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


static int
argmax(const float *a, int n)
{
    int  k, best;

    for (best = 0, k = 1; k < n; k++) {
        best = (a[k] > a[best]) ? k : best;
    }

    return best;
}


/* out against the reference, case by case */
static int
compare(const cases_t *c, const float *out, score_t *s)
{
    int           i, k, good;
    double        d, top;
    const float  *a, *b;

    good = 1;
    memset(s, 0, sizeof(score_t));

    for (i = 0; i < c->n; i++) {
        a = out + (size_t) i * c->vocab;
        b = c->ref + (size_t) i * c->vocab;
        d = rel_diff(a, b, c->vocab);
        s->worst = (d > s->worst || isnan(d)) ? d : s->worst;
        s->n++;

        if (!(d <= MAX_REL)) {
            good = 0;
        }

        if (argmax(a, c->vocab) == c->argmax[i]) {
            s->agree++;
            continue;
        }

        for (top = 0.0, k = 0; k < c->vocab; k++) {
            top = fabs((double) b[k]) > top ? fabs((double) b[k]) : top;
        }

        if (c->gap[i] <= 2 * MAX_REL * top) {
            s->ties++;

        } else {
            good = 0;
        }
    }

    return good;
}


static double
same_diff(const cases_t *c, const float *a, const float *b)
{
    int     i;
    double  d, m;

    for (m = 0.0, i = 0; i < c->n; i++) {
        d = rel_diff(a + (size_t) i * c->vocab, b + (size_t) i * c->vocab,
                     c->vocab);
        m = (d > m || isnan(d)) ? d : m;
    }

    return m;
}



/*
 * Runs the cases idx[0 .. k) as one batch of whole prompts, each from
 * position pos0; their logits go to out[idx[i]].  Returns 0, or -1 with
 * err set.
 */
static __attribute__((unused)) int
run_batch(infer_runner_t *r, const cases_t *c, const int *idx, int k,
    int pos0, float *out, char *err, size_t errlen)
{
    int             i, t, n, rc;
    float          *o;
    int32_t        *tok, *pos;
    infer_seq_t    *seqs;
    uint64_t       *ids;
    infer_batch_t   b;

    for (n = 0, i = 0; i < k; i++) {
        n += c->len[idx[i]];
    }

    tok = calloc((size_t) n + 1, sizeof(int32_t));
    pos = calloc((size_t) n + 1, sizeof(int32_t));
    seqs = calloc((size_t) k, sizeof(infer_seq_t));
    ids = calloc((size_t) k, sizeof(uint64_t));
    o = calloc((size_t) k * (size_t) c->vocab, sizeof(float));

    if (tok == NULL || pos == NULL || seqs == NULL || ids == NULL
        || o == NULL)
    {
        exit(2);
    }

    for (n = 0, i = 0; i < k; i++) {
        seqs[i].start = n;
        seqs[i].len = c->len[idx[i]];
        seqs[i].pos = pos0;
        ids[i] = (uint64_t) idx[i];

        for (t = 0; t < c->len[idx[i]]; t++, n++) {
            tok[n] = c->ids[idx[i]][t];
            pos[n] = pos0 + t;
        }
    }

    memset(&b, 0, sizeof(b));
    b.n_seqs = k;
    b.n_tokens = n;
    b.seqs = seqs;
    b.ids = ids;
    b.tokens = tok;
    b.pos = pos;
    b.out = o;

    rc = infer_runner_run(r, &b, err, errlen);

    for (i = 0; rc == 0 && i < k; i++) {
        memcpy(out + (size_t) idx[i] * c->vocab, o + (size_t) i * c->vocab,
               (size_t) c->vocab * sizeof(float));
    }

    free(tok);
    free(pos);
    free(seqs);
    free(ids);
    free(o);

    return rc;
}


#endif /* _LLAMA_CASES_H_INCLUDED_ */
