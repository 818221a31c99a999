/*
 * ngx_infer: unit tests of the sampler (infer_sample.c) and of the stop
 * strings (infer_stop.c), printing TAP.
 *
 * The sampler against t/lib/gen_sample.py's numpy reference of the same
 * definitions (make fixtures), in $TEST_NGINX_FIXTURES/sample or argv[1]:
 * for random, tied, -inf, +inf, NaN, huge and all-equal logits under each
 * filter and their combinations, the logits after the bias and the
 * penalties (the same bits), and the distribution after the filters (the
 * same set of tokens, each probability within 1e-9); the frequencies of
 * 40000 draws against it by chi-square (the bound of p = 1e-6, which the
 * same draws must exceed against the distribution at a temperature 15%
 * off: a wrong filter fails).  Without fixtures, what needs no reference
 * still runs: greedy against a brute-force argmax (the lowest id of
 * ties), the same seed giving the same 1000 tokens (and another seed
 * others, and another sequence's draws in between changing nothing), the
 * table of generated ids against an array, every message of
 * infer_sample_check().
 *
 * The stop strings (stop_tests.h): table cases (split over pieces,
 * overlaps, at the start, the earliest of several, a longer one that
 * starts earlier, no stops, UTF-8, the init errors); the fixtures' texts
 * against Python's str.find; and random texts, stops and splits where,
 * after each piece, what was released must be exactly the fed text up to
 * the earliest start of a whole or still possible stop string (so never
 * taken back), and the whole output text[:min text.find(stop)].
 *
 * Printed, not asserted: the time of one call at vocabularies of 49152
 * and 128256, temperature 0.7 and top_p 0.9, greedy, and other filters.
 */

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "infer_sample.h"

#include "tap.h"
#include "stop_tests.h"


#define PROB_ABS   1e-9
#define CHI_Z      4.75        /* the normal quantile of p = 1e-6 */


static char  root[400];


static void *
xmalloc(size_t n)
{
    void  *p;

    p = malloc(n ? n : 1);
    if (p == NULL) {
        abort();
    }

    return p;
}


static double
now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}


/* a standard normal (Box-Muller) from tap.h's generator */

static double
rnd_normal(void)
{
    double  u, v;

    u = ((double) (rnd() >> 11) + 0.5) * 0x1.0p-53;
    v = (double) (rnd() >> 11) * 0x1.0p-53;

    return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}


/* a spread like a language model's, as gen_sample.py's llm_like() */

static void
llm_like(float *l, int32_t v)
{
    int32_t  i;

    for (i = 0; i < v; i++) {
        l[i] = (float) (-2.0 + 2.5 * rnd_normal());
    }

    for (i = 0; i < 20; i++) {
        l[rnd() % (uint64_t) v] += (float) (4.0 + 8.0 * (double) (rnd() >> 11)
                                            * 0x1.0p-53);
    }
}


static void
default_params(infer_sample_params_t *p)
{
    memset(p, 0, sizeof(infer_sample_params_t));
    p->temperature = 1.0f;
    p->top_p = 1.0f;
    p->repetition_penalty = 1.0f;
    p->seed = 1;
}


/* --- against the numpy reference ----------------------------------------- */

static void
json_params(json_t *j, infer_sample_params_t *p)
{
    size_t   i;
    json_t  *b;

    default_params(p);
    p->temperature = (float) json_number_value(json_object_get(j,
                                                               "temperature"));
    p->top_p = (float) json_number_value(json_object_get(j, "top_p"));
    p->top_k = (int32_t) json_integer_value(json_object_get(j, "top_k"));
    p->min_p = (float) json_number_value(json_object_get(j, "min_p"));
    p->presence_penalty = (float) json_number_value(
                              json_object_get(j, "presence_penalty"));
    p->frequency_penalty = (float) json_number_value(
                               json_object_get(j, "frequency_penalty"));
    p->repetition_penalty = (float) json_number_value(
                                json_object_get(j, "repetition_penalty"));
    p->seed = (uint64_t) json_integer_value(json_object_get(j, "seed"));

    b = json_object_get(j, "logit_bias");
    p->n_bias = (int32_t) json_array_size(b);

    for (i = 0; i < json_array_size(b); i++) {
        p->bias_id[i] = (int32_t) json_integer_value(
                            json_array_get(json_array_get(b, i), 0));
        p->bias[i] = (float) json_number_value(
                         json_array_get(json_array_get(b, i), 1));
    }
}


static void *
read_file(const char *name, size_t want)
{
    char   path[600];
    void  *p;
    FILE  *f;

    snprintf(path, sizeof(path), "%s/%s", root, name);

    p = xmalloc(want);
    f = fopen(path, "rb");

    if (f == NULL || fread(p, 1, want, f) != want) {
        diag("%s: cannot read %zu bytes", path, want);
        if (f) {
            fclose(f);
        }
        free(p);
        return NULL;
    }

    fclose(f);

    return p;
}


static int
same_bits(float a, float b)
{
    return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof(float)) == 0;
}


/*
 * Pearson's chi-square of counts against probs (tokens expected fewer
 * than 5 times pooled); *df its degrees of freedom.  A draw where probs
 * is 0 makes it infinite.
 */

static double
chi_square(const int32_t *counts, const double *probs, int32_t v,
    int32_t draws, int *df)
{
    int32_t  i, bins;
    double   e, x, pool_e, pool_o;

    x = 0.0;
    bins = 0;
    pool_e = 0.0;
    pool_o = 0.0;

    for (i = 0; i < v; i++) {
        e = probs[i] * draws;

        if (probs[i] == 0.0) {
            if (counts[i] > 0) {
                return INFINITY;
            }
            continue;
        }

        if (e < 5.0) {
            pool_e += e;
            pool_o += counts[i];
            continue;
        }

        x += (counts[i] - e) * (counts[i] - e) / e;
        bins++;
    }

    if (pool_e > 0.0) {
        x += (pool_o - pool_e) * (pool_o - pool_e) / pool_e;
        bins++;
    }

    *df = bins - 1;

    return x;
}


/* the chi-square quantile of CHI_Z by Wilson-Hilferty */

static double
chi_bound(int df)
{
    double  k;

    if (df < 1) {
        return 0.0;
    }

    k = 2.0 / (9.0 * df);

    return df * pow(1.0 - k + CHI_Z * sqrt(k), 3.0);
}


static void
test_draws(json_t *e, const char *name, const infer_sample_params_t *p,
    const float *logits, const double *probs, int32_t v, void *scratch)
{
    int               df, df_alt;
    double            x, x_alt, bound, bound_alt, *alt;
    float            *l;
    int32_t           i, draws, id, *counts, bad;
    json_t           *g;
    infer_sampler_t   s;

    draws = (int32_t) json_integer_value(json_object_get(e, "draws"));
    alt = read_file(json_string_value(json_object_get(e, "alt")),
                    (size_t) v * sizeof(double));

    if (alt == NULL || infer_sampler_init(&s, p, v) != 0) {
        ok(0, "%s: the draws: no alternative distribution", name);
        free(alt);
        return;
    }

    g = json_object_get(e, "generated");
    for (i = 0; i < (int32_t) json_array_size(g); i++) {
        infer_sampler_accept(&s, (int32_t) json_integer_value(
                                        json_array_get(g, i)));
    }

    l = xmalloc((size_t) v * sizeof(float));
    counts = calloc((size_t) v, sizeof(int32_t));
    if (counts == NULL) {
        abort();
    }

    bad = 0;
    for (i = 0; i < draws; i++) {
        memcpy(l, logits, (size_t) v * sizeof(float));
        id = infer_sampler_next(&s, l, scratch);

        if (id < 0 || id >= v) {
            bad++;
            continue;
        }

        counts[id]++;
    }

    x = chi_square(counts, probs, v, draws, &df);
    x_alt = chi_square(counts, alt, v, draws, &df_alt);
    bound = chi_bound(df);
    bound_alt = chi_bound(df_alt);

    ok(bad == 0 && x <= bound,
       "%s: %d draws against the reference: chi-square %.1f, %d degrees "
       "of freedom, bound %.1f", name, (int) draws, x, df, bound);
    ok(x_alt > bound_alt,
       "%s: the same draws fail the distribution at temperature x 1.15: "
       "chi-square %.1f > %.1f", name, x_alt, bound_alt);

    infer_sampler_free(&s);
    free(counts);
    free(l);
    free(alt);
}


static void
test_case(json_t *e, void *scratch)
{
    int                    same, wrong;
    char                   err[256];
    float                 *ref, *l;
    double                *probs, *got, worst;
    size_t                 k;
    int32_t                i, v, greedy;
    json_t                *g;
    const char            *name;
    infer_sampler_t        s;
    infer_sample_dist_t    d;
    infer_sample_params_t  p;

    name = json_string_value(json_object_get(e, "name"));
    v = (int32_t) json_integer_value(json_object_get(e, "vocab"));
    json_params(json_object_get(e, "params"), &p);

    /* logits, adjusted logits, probabilities: one file */
    ref = read_file(json_string_value(json_object_get(e, "file")),
                    (size_t) v * 16);

    if (ref == NULL) {
        ok(0, "%s: the case's file", name);
        return;
    }

    probs = (double *) (ref + 2 * (size_t) v);

    if (infer_sample_check(&p, v, err, sizeof(err)) != 0
        || infer_sampler_init(&s, &p, v) != 0)
    {
        ok(0, "%s: the parameters: %s", name, err);
        free(ref);
        return;
    }

    g = json_object_get(e, "generated");
    for (k = 0; k < json_array_size(g); k++) {
        infer_sampler_accept(&s, (int32_t) json_integer_value(
                                        json_array_get(g, k)));
    }

    l = xmalloc((size_t) v * sizeof(float));
    got = calloc((size_t) v, sizeof(double));
    if (got == NULL) {
        abort();
    }

    memcpy(l, ref, (size_t) v * sizeof(float));
    infer_sampler_adjust(&s, l);

    same = 1;
    for (i = 0; i < v; i++) {
        same &= same_bits(l[i], ref[v + i]);
    }

    ok(same, "%s: the bias and the penalties give the reference's logits",
       name);

    memcpy(l, ref, (size_t) v * sizeof(float));
    infer_sample_dist(&s, l, scratch, &d);

    wrong = 0;
    for (i = 0; i < d.n; i++) {
        if (d.tok[i].id < 0 || d.tok[i].id >= v || d.tok[i].w <= 0.0
            || got[d.tok[i].id] != 0.0)
        {
            wrong++;
            continue;
        }

        got[d.tok[i].id] = d.tok[i].w / d.total;
    }

    worst = 0.0;
    for (i = 0; i < v; i++) {
        wrong += (got[i] > 0.0) != (probs[i] > 0.0);
        worst = fmax(worst, fabs(got[i] - probs[i]));
    }

    ok(wrong == 0 && worst <= PROB_ABS,
       "%s: vocab %d: the reference's %d tokens, probabilities within "
       "%.1e (%d wrong)", name, (int) v, (int) d.n, worst, wrong);

    if (p.temperature == 0.0f) {
        greedy = 0;
        for (i = 0; i < v; i++) {
            greedy = probs[i] > 0.0 ? i : greedy;
        }

        memcpy(l, ref, (size_t) v * sizeof(float));
        ok(infer_sampler_next(&s, l, scratch) == greedy,
           "%s: greedy picks the reference's %d", name, (int) greedy);
    }

    if (json_integer_value(json_object_get(e, "draws")) > 0) {
        test_draws(e, name, &p, ref, probs, v, scratch);
    }

    infer_sampler_free(&s);
    free(got);
    free(l);
    free(ref);
}


/* --- without a reference ------------------------------------------------- */

static void
test_greedy(void *scratch)
{
    int                    t, wrong;
    float                  l[300];
    int32_t                i, v, best;
    infer_sampler_t        s;
    infer_sample_params_t  p;

    default_params(&p);
    p.temperature = 0.0f;
    wrong = 0;

    for (t = 0; t < 500; t++) {
        v = 1 + (int32_t) (rnd() % 300);

        /* few values: ties at the top are the rule */
        for (i = 0; i < v; i++) {
            l[i] = (float) (rnd() % 4);
            if (rnd() % 10 == 0) {
                l[i] = (rnd() % 2) ? -INFINITY : NAN;
            }
        }

        best = -1;
        for (i = 0; i < v; i++) {
            if (!isnan(l[i]) && (best < 0 || l[i] > l[best])) {
                best = i;
            }
        }

        best = best < 0 ? 0 : best;

        if (infer_sampler_init(&s, &p, v) != 0) {
            abort();
        }

        wrong += infer_sampler_next(&s, l, scratch) != best;
        infer_sampler_free(&s);
    }

    ok(wrong == 0, "greedy: the first of the largest in 500 random rows "
       "with ties, -inf and NaN (%d wrong)", wrong);
}


/* 1000 tokens of one sequence; other, when not NULL, draws in between */

static void
generate(const infer_sample_params_t *p, int32_t *out, int n,
    infer_sampler_t *other, void *scratch)
{
    int              t;
    float            l[512], o[512];
    uint64_t         saved;
    infer_sampler_t  s;

    /* the same logits every time, whatever the draws */
    saved = tap_seed;
    tap_seed = 0x1234567;

    if (infer_sampler_init(&s, p, 512) != 0) {
        abort();
    }

    for (t = 0; t < n; t++) {
        llm_like(l, 512);

        if (other) {
            memcpy(o, l, sizeof(o));
            infer_sampler_next(other, o, scratch);
        }

        out[t] = infer_sampler_next(&s, l, scratch);
        if (infer_sampler_accept(&s, out[t]) != 0) {
            abort();
        }
    }

    infer_sampler_free(&s);
    tap_seed = saved;
}


static void
test_seed(void *scratch)
{
    int                    i, differ, same;
    int32_t                a[1000], b[1000], c[1000];
    infer_sampler_t        other;
    infer_sample_params_t  p, q;

    default_params(&p);
    p.temperature = 2.0f;
    p.top_p = 0.98f;
    p.presence_penalty = 0.3f;
    p.frequency_penalty = 0.1f;
    p.seed = 0xdeadbeefcafeULL;

    generate(&p, a, 1000, NULL, scratch);

    default_params(&q);
    q.temperature = 0.5f;
    q.seed = 99;
    if (infer_sampler_init(&other, &q, 512) != 0) {
        abort();
    }

    generate(&p, b, 1000, &other, scratch);
    infer_sampler_free(&other);

    p.seed++;
    generate(&p, c, 1000, NULL, scratch);

    same = 1;
    differ = 0;
    for (i = 0; i < 1000; i++) {
        same &= a[i] == b[i];
        differ += a[i] != c[i];
    }

    ok(same, "the same seed: the same 1000 tokens, with another sequence "
       "drawing in between");
    ok(differ > 500, "another seed: another sequence (%d of 1000 differ)",
       differ);
}


static void
test_counts(void)
{
    int                    wrong;
    int32_t                i, id, *ref;
    infer_sampler_t        s;
    infer_sample_params_t  p;

    default_params(&p);
    ref = calloc(100000, sizeof(int32_t));

    if (ref == NULL || infer_sampler_init(&s, &p, 100000) != 0) {
        abort();
    }

    wrong = 0;
    for (i = 0; i < 20000; i++) {
        /* ids of many sizes, some again and again */
        id = (int32_t) ((rnd() % 4 == 0) ? rnd() % 16 : rnd() % 100000);
        wrong += infer_sampler_accept(&s, id) != 0;
        ref[id]++;
    }

    for (i = 0; i < 100000; i++) {
        wrong += infer_sampler_count(&s, i) != ref[i];
    }

    ok(wrong == 0 && s.cap >= 2 * s.used,
       "the table of generated ids: %u distinct of 20000 in %u slots, "
       "each count an array's (%d wrong)", s.used, s.cap, wrong);

    infer_sampler_free(&s);
    free(ref);
}


#define FIELD(f)  #f, offsetof(infer_sample_params_t, f)

static void
test_check(void)
{
    int                    i, rc;
    char                   err[256], *at;
    infer_sample_params_t  p, q;

    /* each entry: one field of valid parameters set to one value */
    static const struct {
        const char  *field;
        size_t       off;
        int          is_int;
        double       value;
        const char  *msg;
    } bad[] = {
#define T_MSG "'temperature' must be between 0 and 2"
        { FIELD(temperature), 0, -0.1, T_MSG },
        { FIELD(temperature), 0, 2.01, T_MSG },
        { FIELD(temperature), 0, NAN, T_MSG },
#define P_MSG "'top_p' must be greater than 0 and at most 1"
        { FIELD(top_p), 0, 0.0, P_MSG },
        { FIELD(top_p), 0, 1.5, P_MSG },
        { FIELD(top_k), 1, -2, "'top_k' must be -1 or 0 (no limit), or at "
                               "least 1" },
        { FIELD(min_p), 0, -0.01, "'min_p' must be between 0 and 1" },
        { FIELD(min_p), 0, 1.01, "'min_p' must be between 0 and 1" },
        { FIELD(presence_penalty), 0, 2.5,
          "'presence_penalty' must be between -2 and 2" },
        { FIELD(presence_penalty), 0, -2.5,
          "'presence_penalty' must be between -2 and 2" },
        { FIELD(frequency_penalty), 0, -2.01,
          "'frequency_penalty' must be between -2 and 2" },
        { FIELD(repetition_penalty), 0, 0.0,
          "'repetition_penalty' must be a number greater than 0" },
        { FIELD(repetition_penalty), 0, INFINITY,
          "'repetition_penalty' must be a number greater than 0" },
        { FIELD(n_bias), 1, 65, "'logit_bias' may have at most 64 entries" },
        { FIELD(bias_id), 1, 1000, "'logit_bias': token id 1000 is not in "
                                   "the vocabulary (0 to 999)" },
        { FIELD(bias_id), 1, -1, "'logit_bias': token id -1 is not in the "
                                 "vocabulary (0 to 999)" },
        { FIELD(bias), 0, 100.5, "'logit_bias': the bias of token 5 must be "
                                 "between -100 and 100" },
        { FIELD(bias[1]), 0, NAN, "'logit_bias': the bias of token 999 must "
                                  "be between -100 and 100" },
        { FIELD(bias_id[1]), 1, 5, "'logit_bias': token id 5 is given twice" }
    };

    /* every limit itself is allowed */
    default_params(&p);
    p.temperature = 2.0f;
    p.top_k = -1;
    p.min_p = 1.0f;
    p.presence_penalty = -2.0f;
    p.frequency_penalty = 2.0f;
    p.n_bias = 2;
    p.bias_id[0] = 5;
    p.bias[0] = -100.0f;
    p.bias_id[1] = 999;
    p.bias[1] = 100.0f;

    ok(infer_sample_check(&p, 1000, err, sizeof(err)) == 0,
       "infer_sample_check: every limit itself is allowed");

    for (i = 0; i < (int) (sizeof(bad) / sizeof(bad[0])); i++) {
        q = p;
        at = (char *) &q + bad[i].off;
        if (bad[i].is_int) {
            *(int32_t *) at = (int32_t) bad[i].value;
        } else {
            *(float *) at = (float) bad[i].value;
        }

        err[0] = '\0';
        rc = infer_sample_check(&q, 1000, err, sizeof(err));
        ok(rc == -1 && strcmp(err, bad[i].msg) == 0,
           "infer_sample_check: %s %g: %s", bad[i].field, bad[i].value, err);
    }
}


static void
test_speed(void *scratch)
{
    int                    i, j, c, n;
    float                 *row, *l;
    double                 t0, dt, sum, best;
    int32_t                v, sizes[2] = { 49152, 128256 };
    infer_sampler_t        s;
    infer_sample_params_t  p;

    static const struct {
        const char  *name;
        float        temperature, top_p, min_p;
        int32_t      top_k;
    } conf[] = {
        { "temperature 0.7, top_p 0.9", 0.7f, 0.9f, 0.0f, 0 },
        { "greedy", 0.0f, 1.0f, 0.0f, 0 },
        { "temperature 0.7, top_k 40", 0.7f, 1.0f, 0.0f, 40 },
        { "top_k 50, top_p 0.95", 1.0f, 0.95f, 0.0f, 50 },
        { "min_p 0.05", 1.0f, 1.0f, 0.05f, 0 },
        { "temperature 1, no filter", 1.0f, 1.0f, 0.0f, 0 }
    };

    for (j = 0; j < 2; j++) {
        v = sizes[j];
        n = 50;
        row = xmalloc((size_t) v * sizeof(float));
        l = xmalloc((size_t) v * sizeof(float));
        llm_like(row, v);

        for (c = 0; c < (int) (sizeof(conf) / sizeof(conf[0])); c++) {
            default_params(&p);
            p.temperature = conf[c].temperature;
            p.top_p = conf[c].top_p;
            p.top_k = conf[c].top_k;
            p.min_p = conf[c].min_p;

            if (infer_sampler_init(&s, &p, v) != 0) {
                abort();
            }

            sum = 0.0;
            best = INFINITY;

            for (i = 0; i < n; i++) {
                memcpy(l, row, (size_t) v * sizeof(float));
                t0 = now();
                infer_sampler_next(&s, l, scratch);
                dt = now() - t0;
                sum += dt;
                best = fmin(best, dt);
            }

            /* the best of 50 says what a quiet core does */
            diag("vocab %d, %s: %.1f us a token (best %.1f us)", (int) v,
                 conf[c].name, sum / n * 1e6, best * 1e6);

            infer_sampler_free(&s);
        }

        free(row);
        free(l);
    }
}


int
main(int argc, char **argv)
{
    size_t         i;
    char           path[512];
    void          *scratch;
    json_t        *manifest, *cases;
    const char    *env;
    json_error_t   jerr;

    env = (argc > 1) ? argv[1] : getenv("TEST_NGINX_FIXTURES");
    snprintf(root, sizeof(root), "%s%s", env ? env : "t/fixtures",
             argc > 1 ? "" : "/sample");

    scratch = xmalloc(infer_sample_scratch_size(128256));

    test_check();
    test_greedy(scratch);
    test_seed(scratch);
    test_counts();

    test_stop_init();
    test_stop_table();
    test_stop_steps();
    test_stop_random();

    snprintf(path, sizeof(path), "%s/manifest.json", root);
    manifest = json_load_file(path, 0, &jerr);

    if (manifest == NULL) {
        diag("%s: %s: no numpy reference (make fixtures)", path, jerr.text);

    } else {
        cases = json_object_get(manifest, "cases");

        for (i = 0; i < json_array_size(cases); i++) {
            test_case(json_array_get(cases, i), scratch);
        }

        test_stop_fixtures(json_object_get(manifest, "stop"));
        json_decref(manifest);
    }

    test_speed(scratch);
    free(scratch);

    return done();
}
