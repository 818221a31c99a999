/*
 * ngx_infer: greedy generations of the generation loop (infer_gen.c on
 * the CPU backend) against llama.cpp's, on SmolLM2-135M-Instruct
 * (t/lib/gen_greedy.py's t/fixtures/greedy).
 *
 *   - The GGUF dequantized to F32: our kernels keep activations in F32,
 *     so llama.cpp on this file does the arithmetic ours corresponds
 *     to.  Each prompt alone gives llama.cpp's first 32 tokens, or its
 *     tokens up to its end of generation, or up to its first near tie
 *     (top-2 margin under the manifest's near_tie) where ours must be one
 *     of its top two: a last-bit difference may pick either there, and
 *     everything after follows from that choice.  The first step's whole
 *     logits are llama.cpp's within 1e-3 of their largest.
 *   - The same prompts joining each other's batch a few steps apart, in a
 *     cache so small that sequences are preempted: the tokens of each
 *     alone, and its logits within 1e-5, not always its bits: with F32
 *     weights a product of one row is OpenBLAS's sgemv, whose sums are
 *     not those of the kernel that computes 2 to 64 rows.
 *   - The Q4_1 GGUF itself: llama.cpp rounds the activations to 8 bits
 *     (Q8_1) before its products, we do not, so the generations part
 *     somewhere; where is a diagnostic.  What holds by construction is
 *     asserted: the quantized products give a row the same bits in any
 *     batch, so batched in another order the tokens and every step's
 *     logits are those of each prompt alone.
 *
 *   test_greedy [DIR [NAME,...]]   DIR the greedy fixtures, NAME the
 *                                  prompts to run (all by default)
 */

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "infer_backend.h"
#include "infer_gen.h"
#include "infer_llama.h"
#include "infer_runner.h"

#include "tap.h"
#include "gen_drive.h"


#define T_MAX_SEQS    8
#define T_MAX_TOKENS  64
#define T_COMPARE     32            /* tokens that must be llama.cpp's */
#define T_LOGITS_REL  1e-3          /* max |diff| / max |ref| */
#define T_SAME_REL    1e-5          /* F32 batched against alone */

#define T_F32         0
#define T_Q4_1        1


/* llama.cpp's run of a prompt on one file */
typedef struct {
    int32_t             *tokens;       /* n_gen */
    int32_t             *second;       /* the runner-up of each step */
    float               *margin;       /* top logit less the second's */
    int                  near_tie;     /* first step under near, or -1 */
    int                  eog;          /* first end of generation, or -1 */
} ref_run_t;


typedef struct {
    const char          *name;
    int32_t             *ids;
    int                  len;
    ref_run_t            run[2];       /* T_F32, T_Q4_1 */
} prompt_t;


typedef struct {
    prompt_t            *p;
    int                  n;
    int                  n_gen;
    int                  longest;      /* the longest prompt */
    double               near;         /* a near tie's margin */
} set_t;


/* our run of the set on one file */
typedef struct {
    int32_t             *tokens;       /* n x n_gen */
    float               *lead;         /* n x n_gen */
    uint64_t            *hash;         /* n x n_gen */
    float               *first;        /* n x vocab: step 0's logits */
    float               *all;          /* n x n_gen x vocab, or NULL */
    double               worst;        /* batched: the most relative
                                          difference from all of alone */
    int                  vocab;
} ours_t;


static const char  *run_key[2] = { "f32", "q4_1" };
static char         root[400];


static int32_t *
json_ints(json_t *a, int n, const char *what, const char *name)
{
    int       k;
    int32_t  *v;

    if ((int) json_array_size(a) < n) {
        diag("%s: %s: %zu values, not %d", name, what, json_array_size(a),
             n);
        return NULL;
    }

    v = calloc((size_t) n + 1, sizeof(int32_t));
    if (v == NULL) {
        exit(2);
    }

    for (k = 0; k < n; k++) {
        v[k] = (int32_t) json_integer_value(json_array_get(a, k));
    }

    return v;
}


static int
load_run(json_t *e, int n_gen, const char *name, ref_run_t *r)
{
    int      k;
    json_t  *a;

    r->tokens = json_ints(json_object_get(e, "tokens"), n_gen, "tokens",
                          name);
    r->second = json_ints(json_object_get(e, "second"), n_gen, "second",
                          name);
    a = json_object_get(e, "margin");

    if (r->tokens == NULL || r->second == NULL
        || (int) json_array_size(a) < n_gen)
    {
        return -1;
    }

    r->margin = calloc((size_t) n_gen, sizeof(float));
    if (r->margin == NULL) {
        exit(2);
    }

    for (k = 0; k < n_gen; k++) {
        r->margin[k] = (float) json_number_value(json_array_get(a, k));
    }

    a = json_object_get(e, "near_tie");
    r->near_tie = json_is_integer(a) ? (int) json_integer_value(a) : -1;
    a = json_object_get(e, "eog");
    r->eog = json_is_integer(a) ? (int) json_integer_value(a) : -1;

    return 0;
}


/* the manifest's prompts, those named in only (comma-separated) if set */
static int
load_set(json_t *manifest, const char *only, set_t *s)
{
    int          i, k, n;
    char         quoted[128];
    json_t      *arr, *e, *settings;
    prompt_t    *p;
    const char  *name;

    memset(s, 0, sizeof(set_t));

    settings = json_object_get(manifest, "settings");
    s->n_gen = (int) json_integer_value(json_object_get(settings, "n_gen"));
    s->near = json_number_value(json_object_get(settings, "near_tie"));
    arr = json_object_get(manifest, "prompts");
    n = (int) json_array_size(arr);

    if (n == 0 || s->n_gen < T_COMPARE || s->near <= 0.0) {
        diag("manifest: %d prompts of %d tokens, near ties under %g", n,
             s->n_gen, s->near);
        return -1;
    }

    s->p = calloc((size_t) n, sizeof(prompt_t));
    if (s->p == NULL) {
        exit(2);
    }

    for (i = 0; i < n; i++) {
        e = json_array_get(arr, i);
        name = json_string_value(json_object_get(e, "name"));

        if (name == NULL) {
            diag("manifest: prompt %d has no name", i);
            return -1;
        }

        snprintf(quoted, sizeof(quoted), ",%s,", name);

        if (only != NULL && strstr(only, quoted) == NULL) {
            continue;
        }

        p = &s->p[s->n];
        p->name = name;
        p->len = (int) json_array_size(json_object_get(e, "ids"));
        p->ids = json_ints(json_object_get(e, "ids"), p->len, "ids", name);

        if (p->len == 0 || p->ids == NULL) {
            diag("manifest: %s has no ids", name);
            return -1;
        }

        for (k = 0; k < 2; k++) {
            if (load_run(json_object_get(e, run_key[k]), s->n_gen, name,
                         &p->run[k])
                != 0)
            {
                diag("manifest: %s: no %s run", name, run_key[k]);
                return -1;
            }
        }

        s->longest = p->len > s->longest ? p->len : s->longest;
        s->n++;
    }

    if (s->n == 0) {
        diag("manifest: no prompt is named in %s", only);
        return -1;
    }

    return 0;
}


static void
free_set(set_t *s)
{
    int  i, k;

    for (i = 0; i < s->n; i++) {
        free(s->p[i].ids);

        for (k = 0; k < 2; k++) {
            free(s->p[i].run[k].tokens);
            free(s->p[i].run[k].second);
            free(s->p[i].run[k].margin);
        }
    }

    free(s->p);
}


static void
ours_init(ours_t *o, const set_t *s, int vocab, int all)
{
    memset(o, 0, sizeof(ours_t));

    o->vocab = vocab;
    o->tokens = calloc((size_t) s->n * s->n_gen, sizeof(int32_t));
    o->lead = calloc((size_t) s->n * s->n_gen, sizeof(float));
    o->hash = calloc((size_t) s->n * s->n_gen, sizeof(uint64_t));
    o->first = calloc((size_t) s->n * vocab, sizeof(float));

    if (all) {
        o->all = malloc((size_t) s->n * s->n_gen * vocab * sizeof(float));
    }

    if (o->tokens == NULL || o->lead == NULL || o->hash == NULL
        || o->first == NULL || (all && o->all == NULL))
    {
        exit(2);
    }
}


static void
ours_free(ours_t *o)
{
    free(o->tokens);
    free(o->lead);
    free(o->hash);
    free(o->first);
    free(o->all);
}


/* the first step where a and b differ, or n */
static int
part(const int32_t *a, const int32_t *b, int n)
{
    int  k;

    for (k = 0; k < n && a[k] == b[k]; k++) {
        /* void */
    }

    return k;
}


/*
 * The model of the manifest's models.<key>: its file (under root unless
 * absolute) of the size the manifest says, on a CPU backend with a
 * runner; NULL with err set.
 */
static infer_model_t *
load_model(json_t *manifest, const char *key, int precision,
    infer_backend_t **b,
    infer_runner_t *r, char *err, size_t errlen)
{
    char            path[512];
    json_t         *e;
    const char     *file;
    struct stat     st;
    infer_model_t  *m;

    e = json_object_get(json_object_get(manifest, "models"), key);
    file = json_string_value(json_object_get(e, "file"));

    if (file == NULL) {
        snprintf(err, errlen, "no models.%s.file in the manifest", key);
        return NULL;
    }

    snprintf(path, sizeof(path), "%s%s%s", file[0] == '/' ? "" : root,
             file[0] == '/' ? "" : "/", file);

    if (stat(path, &st) != 0
        || (json_int_t) st.st_size
           != json_integer_value(json_object_get(e, "bytes")))
    {
        snprintf(err, errlen, "%s: missing or not of the manifest's %lld "
                 "bytes (make fixtures)", file,
                 (long long) json_integer_value(json_object_get(e,
                                                                "bytes")));
        return NULL;
    }

    m = infer_model_load(path, err, errlen);
    if (m == NULL) {
        return NULL;
    }

    *b = infer_backend_cpu_new(precision, err, errlen);

    if (*b == NULL) {
        infer_model_free(m);
        return NULL;
    }

    if (infer_runner_init(r, m, *b, T_MAX_SEQS, T_MAX_TOKENS, err, errlen)
        != 0)
    {
        (*b)->iface->free(*b);
        infer_model_free(m);
        return NULL;
    }

    return m;
}


/* each prompt alone, one after the other, in a cache that holds one */
static int
run_alone(infer_runner_t *r, const set_t *s, ours_t *o, double *dt,
    char *err, size_t errlen)
{
    int           i, rc;
    size_t        at;
    double        t;
    tseq_t        ts;
    infer_gen_t   gen;
    greedy_rec_t  rec;

    rc = infer_gen_init(&gen, r, (s->longest + s->n_gen + 15) / 16, 16,
                        s->longest + s->n_gen, T_MAX_SEQS, T_MAX_TOKENS, 1,
                        err, errlen);
    if (rc != 0) {
        return -1;
    }

    *dt = 0.0;
    memset(&rec, 0, sizeof(greedy_rec_t));

    for (i = 0; rc == 0 && i < s->n; i++) {
        at = (size_t) i * s->n_gen;
        rec.all = o->all ? o->all + at * o->vocab : NULL;
        rec.lead = o->lead + at;
        rec.hash = o->hash + at;
        rec.first = o->first + (size_t) i * o->vocab;

        tseq_init(&ts, s->p[i].ids, s->p[i].len, i, s->p[i].len, 0,
                  s->n_gen);
        rc = greedy(&gen, &ts, 1, s->n_gen, o->vocab, o->tokens + at, &rec,
                    &t, err, errlen);
        tseq_free(&ts);
        *dt += t;
    }

    infer_gen_free(&gen);

    return rc;
}


/*
 * All the prompts, prompt i joining at step i * apart (or (n - 1 - i) *
 * apart, reversed), at most T_MAX_SEQS at once, in a cache of n_blocks
 * blocks of 16; *preempted the preemptions.  Each step's logits against
 * those of against (a run's all), where not NULL: o->worst.
 */
static int
run_batched(infer_runner_t *r, const set_t *s, int apart, int reversed,
    int n_blocks, const float *against, ours_t *o, uint64_t *preempted,
    char *err, size_t errlen)
{
    int           i, rc;
    double        t;
    tseq_t       *ts;
    infer_gen_t   gen;
    greedy_rec_t  rec;

    rc = infer_gen_init(&gen, r, n_blocks, 16, s->longest + s->n_gen,
                        T_MAX_SEQS, T_MAX_TOKENS, s->n, err, errlen);
    if (rc != 0) {
        return -1;
    }

    ts = calloc((size_t) s->n, sizeof(tseq_t));
    if (ts == NULL) {
        exit(2);
    }

    for (i = 0; i < s->n; i++) {
        tseq_init(&ts[i], s->p[i].ids, s->p[i].len, i, s->p[i].len,
                  (reversed ? s->n - 1 - i : i) * apart, s->n_gen);
    }

    memset(&rec, 0, sizeof(greedy_rec_t));
    rec.lead = o->lead;
    rec.hash = o->hash;
    rec.against = against;

    rc = greedy(&gen, ts, s->n, s->n_gen, o->vocab, o->tokens, &rec, &t,
                err, errlen);

    o->worst = rec.worst;

    *preempted = gen.preemptions;

    for (i = 0; i < s->n; i++) {
        tseq_free(&ts[i]);
    }

    free(ts);
    infer_gen_free(&gen);

    return rc;
}


/* the blocks of the longest prompt's whole generation: a cache where
 * the others must be preempted for it to grow */
static int
small_cache(const set_t *s)
{
    return (s->longest + s->n_gen + 15) / 16;
}


/* "a near tie for llama.cpp", "for ours", "for both", "for neither" */
static const char *
tie_for(double theirs, double ours, double near)
{
    static const char  *who[4] = { "neither", "llama.cpp", "ours", "both" };

    return who[(theirs < near) + 2 * (ours < near)];
}


/*
 * Prompt i's F32 tokens against llama.cpp's: up to T_COMPARE, its end of
 * generation or its first near tie, whichever comes first.  A TAP test;
 * 1 if all n_gen tokens are its.
 */
static int
check_f32(const set_t *s, int i, const ours_t *o)
{
    int               n, k, tie, d, good, all;
    char              why[64], tail[200];
    const int32_t    *ours;
    const float      *lead;
    const prompt_t   *p;
    const ref_run_t  *ref;

    p = &s->p[i];
    ref = &p->run[T_F32];
    ours = o->tokens + (size_t) i * s->n_gen;
    lead = o->lead + (size_t) i * s->n_gen;

    n = T_COMPARE;
    tie = -1;
    snprintf(why, sizeof(why), "%d", T_COMPARE);

    if (ref->eog >= 0 && ref->eog < n) {
        /* the end of generation is a token to compare too */
        n = ref->eog + 1;
        snprintf(why, sizeof(why), "eog at step %d", ref->eog);
    }

    if (ref->near_tie >= 0 && ref->near_tie < n) {
        tie = ref->near_tie;
        n = tie;
        snprintf(why, sizeof(why), "near-tie at step %d", tie);
    }

    k = part(ours, ref->tokens, n);
    good = (k == n);
    tail[0] = '\0';

    if (!good) {
        snprintf(tail, sizeof(tail), ": step %d gives %d, llama.cpp %d "
                 "(its margin %.3g, our lead %.3g)", k, ours[k],
                 ref->tokens[k], ref->margin[k], lead[k]);

    } else if (tie >= 0) {
        good = (ours[tie] == ref->tokens[tie]
                || ours[tie] == ref->second[tie]);
        snprintf(tail, sizeof(tail), "; at the tie (margin %.3g) ours, %d, "
                 "%s its top two (%d, %d)", ref->margin[tie], ours[tie],
                 good ? "is one of" : "is not", ref->tokens[tie],
                 ref->second[tie]);
    }

    ok(good, "F32 %s: %d tokens compared, as llama.cpp's (stop: %s)%s",
       p->name, n, why, tail);

    d = part(ours, ref->tokens, s->n_gen);
    all = (d == s->n_gen);

    if (!all && d >= n) {
        diag("F32 %s: ours and llama.cpp's part at step %d of %d: ours %d "
             "(lead %.3g), its %d (margin %.3g, second %d): a near tie for "
             "%s", p->name, d, s->n_gen, ours[d], lead[d], ref->tokens[d],
             ref->margin[d], ref->second[d],
             tie_for(ref->margin[d], lead[d], s->near));
    }

    return all;
}


/* a .npy file's float32 vector of n values (little-endian, C order), to
 * a new buffer; NULL with err set */
static float *
load_npy(const char *path, int n, char *err, size_t errlen)
{
    int            major;
    long           size, got;
    char          *h, *sh;
    FILE          *f;
    float         *v;
    size_t         hlen, off;
    uint32_t       one;
    unsigned char  pre[12];

    one = 1;
    if (*(unsigned char *) &one != 1) {
        snprintf(err, errlen, "a big-endian host reads no '<f4'");
        return NULL;
    }

    f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "cannot open");
        return NULL;
    }

    v = NULL;
    h = NULL;

    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0) {
        snprintf(err, errlen, "not a .npy file");
        goto done;
    }

    major = pre[6];

    if (major == 1) {
        hlen = pre[8] | (size_t) pre[9] << 8;
        off = 10;

    } else if ((major == 2 || major == 3) && fread(pre + 10, 1, 2, f) == 2) {
        hlen = pre[8] | (size_t) pre[9] << 8 | (size_t) pre[10] << 16
               | (size_t) pre[11] << 24;
        off = 12;

    } else {
        snprintf(err, errlen, ".npy version %d", major);
        goto done;
    }

    h = calloc(hlen + 1, 1);
    if (h == NULL) {
        exit(2);
    }

    if (fread(h, 1, hlen, f) != hlen) {
        snprintf(err, errlen, "a short header");
        goto done;
    }

    sh = strstr(h, "'shape': (");

    if (strstr(h, "'descr': '<f4'") == NULL
        || strstr(h, "'fortran_order': False") == NULL || sh == NULL
        || strtol(sh + 10, NULL, 10) != n || strchr(sh + 10, ',') == NULL
        || strchr(sh + 10, ',')[1] != ')')
    {
        snprintf(err, errlen, "not a float32 vector of %d: %.200s", n, h);
        goto done;
    }

    fseek(f, 0, SEEK_END);
    size = ftell(f);

    if (size != (long) (off + hlen) + (long) n * 4) {
        snprintf(err, errlen, "%ld bytes, not the header's %zu and %d floats",
                 size, off + hlen, n);
        goto done;
    }

    v = malloc((size_t) n * sizeof(float));
    if (v == NULL) {
        exit(2);
    }

    fseek(f, (long) (off + hlen), SEEK_SET);
    got = (long) fread(v, sizeof(float), (size_t) n, f);

    if (got != n) {
        snprintf(err, errlen, "read %ld of %d floats", got, n);
        free(v);
        v = NULL;
    }

done:

    free(h);
    fclose(f);

    return v;
}


/* the first step's logits of the manifest's "logits" against ours */
static void
check_logits(json_t *manifest, const set_t *s, const ours_t *o)
{
    int           i, k, pi, best, ref_best;
    char          path[512], err[INFER_ERRLEN];
    float        *ref;
    size_t        j;
    double        d, m, top;
    json_t       *e;
    const char   *name, *file, *model;
    const float  *a;

    for (j = 0; j < json_array_size(json_object_get(manifest, "logits"));
         j++)
    {
        e = json_array_get(json_object_get(manifest, "logits"), j);
        name = json_string_value(json_object_get(e, "prompt"));
        file = json_string_value(json_object_get(e, "file"));
        model = json_string_value(json_object_get(e, "model"));

        if (name == NULL || file == NULL || model == NULL
            || strcmp(model, "f32") != 0
            || json_integer_value(json_object_get(e, "step")) != 0)
        {
            ok(0, "logits %zu: not the F32 file's first step", j);
            continue;
        }

        for (pi = -1, i = 0; i < s->n; i++) {
            pi = strcmp(s->p[i].name, name) == 0 ? i : pi;
        }

        if (pi < 0) {
            continue;               /* not among the prompts run */
        }

        if (json_integer_value(json_object_get(e, "n_vocab")) != o->vocab) {
            ok(0, "F32 %s: logits of %lld, the model's vocabulary %d", name,
               (long long) json_integer_value(json_object_get(e,
                                                              "n_vocab")),
               o->vocab);
            continue;
        }

        snprintf(path, sizeof(path), "%s/%s", root, file);
        ref = load_npy(path, o->vocab, err, sizeof(err));

        if (ref == NULL) {
            ok(0, "F32 %s: llama.cpp's first-step logits, %s: %s", name,
               file, err);
            continue;
        }

        a = o->first + (size_t) pi * o->vocab;

        for (m = 0.0, top = 0.0, k = 0; k < o->vocab; k++) {
            d = fabs((double) a[k] - ref[k]);
            m = (d > m || isnan(d)) ? d : m;
            top = fabs((double) ref[k]) > top ? fabs((double) ref[k]) : top;
        }

        best = top2(a, o->vocab, NULL, NULL);
        ref_best = top2(ref, o->vocab, NULL, NULL);

        ok(m <= T_LOGITS_REL * top && best == ref_best, "F32 %s: the first "
           "step's %d logits are llama.cpp's within %.0e: max |diff| %.3g, "
           "max |ref| %.3g, relative %.3g; argmax %d, its %d", name,
           o->vocab, T_LOGITS_REL, m, top, top > 0.0 ? m / top : m, best,
           ref_best);

        free(ref);
    }
}


/* steps of n_gen whose logits have the same bits in a and b */
static int
same_bits(const set_t *s, const ours_t *a, const ours_t *b)
{
    int  k, same;

    for (same = 0, k = 0; k < s->n * s->n_gen; k++) {
        same += (a->hash[k] == b->hash[k]);
    }

    return same;
}


/* the F32 file: alone against llama.cpp, then batched against alone;
 * *f32 gets our alone tokens (NULL if none) */
static void
test_f32(json_t *manifest, const set_t *s, int32_t **f32)
{
    int              i, k, rc, all, same, bits, blocks, steps, have;
    char             err[INFER_ERRLEN];
    double           dt;
    ours_t           alone, batched;
    uint64_t         pre;
    infer_model_t   *m;
    infer_runner_t   r;
    infer_backend_t *b;

    *f32 = NULL;

    m = load_model(manifest, "f32", INFER_PRECISION_FP32, &b, &r, err,
                   sizeof(err));
    if (m == NULL) {
        ok(0, "F32: the model: %s", err);
        return;
    }

    ours_init(&alone, s, (int) m->output.size, 1);
    ours_init(&batched, s, (int) m->output.size, 0);

    rc = run_alone(&r, s, &alone, &dt, err, sizeof(err));
    have = (rc == 0);

    if (rc != 0) {
        ok(0, "F32: %d prompts alone: %s", s->n, err);
        goto done;
    }

    diag("F32: %d prompts alone, %d tokens each: %.1f s of decoding",
         s->n, s->n_gen, dt);

    for (all = 0, i = 0; i < s->n; i++) {
        all += check_f32(s, i, &alone);
    }

    diag("F32: %d of %d prompts give all %d of llama.cpp's tokens", all,
         s->n, s->n_gen);

    check_logits(manifest, s, &alone);

    /* batched: every prompt joins 3 steps after the one before */
    blocks = small_cache(s);
    rc = run_batched(&r, s, 3, 0, blocks, alone.all, &batched, &pre, err,
                     sizeof(err));

    if (rc != 0) {
        ok(0, "F32: %d prompts batched: %s", s->n, err);
        goto done;
    }

    steps = s->n * s->n_gen;
    same = memcmp(alone.tokens, batched.tokens,
                  (size_t) steps * sizeof(int32_t)) == 0;
    bits = same_bits(s, &alone, &batched);

    ok(pre > 0, "F32: %d prompts joining 3 steps apart, at most %d at "
       "once, in a cache of %d blocks: %llu preemptions", s->n, T_MAX_SEQS,
       blocks, (unsigned long long) pre);

    /*
     * Not the same bits at every step: a product of one row (a sequence
     * decoding alone, the head of one sequence's logits) is OpenBLAS's
     * sgemv, whose sums are not those of infer_cpu_rows_avx2() on 2 to
     * 64 rows; the tokens must be the same all the same
     */
    ok(same && batched.worst <= T_SAME_REL, "F32: batched and preempted, "
       "the %d tokens of each prompt are those of it alone; its logits "
       "have the same bits at %d of %d steps and are within %.0e "
       "elsewhere: %.3g", s->n_gen, bits, steps, T_SAME_REL,
       batched.worst);

    for (i = 0; !same && i < s->n; i++) {
        k = part(batched.tokens + (size_t) i * s->n_gen,
                 alone.tokens + (size_t) i * s->n_gen, s->n_gen);

        if (k < s->n_gen) {
            diag("F32 %s: batched parts from alone at step %d: %d (lead "
                 "%.3g) for %d (lead %.3g)", s->p[i].name, k,
                 batched.tokens[(size_t) i * s->n_gen + k],
                 batched.lead[(size_t) i * s->n_gen + k],
                 alone.tokens[(size_t) i * s->n_gen + k],
                 alone.lead[(size_t) i * s->n_gen + k]);
        }
    }

done:

    if (have) {
        *f32 = alone.tokens;
        alone.tokens = NULL;
    }

    ours_free(&alone);
    ours_free(&batched);
    infer_runner_free(&r);
    b->iface->free(b);
    infer_model_free(m);
}


/*
 * the Q4_1 file: where it parts from llama.cpp's, and batched in reverse
 * order against alone; in F32 activations, then with precision=q8 (the
 * activations rounded to 8 bits, as llama.cpp does)
 */
static void
test_q4_1(json_t *manifest, const set_t *s, const int32_t *f32,
    int precision)
{
    int               i, rc, d, fd, agree, as_f32, steps, bits, blocks,
                      same;
    char              err[INFER_ERRLEN], mine[64], theirs[64];
    double            dt;
    ours_t            alone, batched;
    uint64_t          pre;
    const int32_t    *ours;
    const float      *lead;
    const prompt_t   *p;
    const ref_run_t  *ref;
    infer_model_t    *m;
    infer_runner_t    r;
    infer_backend_t  *b;

    const char       *what;

    what = (precision == INFER_PRECISION_Q8) ? "Q4_1, q8" : "Q4_1";

    m = load_model(manifest, "q4_1", precision, &b, &r, err, sizeof(err));
    if (m == NULL) {
        ok(0, "%s: the model: %s", what, err);
        return;
    }

    ours_init(&alone, s, (int) m->output.size, 0);
    ours_init(&batched, s, (int) m->output.size, 0);

    rc = run_alone(&r, s, &alone, &dt, err, sizeof(err));
    ok(rc == 0, "%s: %d prompts alone, %d tokens each%s%s", what, s->n,
       s->n_gen, rc ? ": " : "", rc ? err : "");

    if (rc != 0) {
        goto done;
    }

    for (agree = 0, as_f32 = 0, i = 0; i < s->n; i++) {
        p = &s->p[i];
        ref = &p->run[T_Q4_1];
        ours = alone.tokens + (size_t) i * s->n_gen;
        lead = alone.lead + (size_t) i * s->n_gen;

        d = part(ours, ref->tokens, s->n_gen);
        agree += (d >= T_COMPARE);

        mine[0] = '\0';

        if (f32 != NULL) {
            fd = part(ours, f32 + (size_t) i * s->n_gen, s->n_gen);
            as_f32 += (fd == s->n_gen);
            snprintf(mine, sizeof(mine), "; our F32 file's and this part "
                     "at %d", fd);
        }

        theirs[0] = '\0';

        if (p->run[T_F32].tokens != NULL) {
            snprintf(theirs, sizeof(theirs), ", llama.cpp's at %d",
                     part(p->run[T_F32].tokens, ref->tokens, s->n_gen));
        }

        if (d == s->n_gen) {
            diag("%s %s: all %d tokens are llama.cpp's%s%s", what, p->name,
                 s->n_gen, mine, theirs);
            continue;
        }

        diag("%s %s: ours and llama.cpp's part at step %d: ours %d (lead "
             "%.3g), its %d (margin %.3g, second %d): a near tie for "
             "%s%s%s", what, p->name, d, ours[d], lead[d], ref->tokens[d],
             ref->margin[d], ref->second[d],
             tie_for(ref->margin[d], lead[d], s->near), mine, theirs);
    }

    diag("%s: %d of %d prompts give llama.cpp's first %d tokens (not "
         "asserted: llama.cpp's sums run in another order%s); %d give all "
         "%d of our F32 file's", what, agree, s->n,
         T_COMPARE, (precision == INFER_PRECISION_Q8) ? ""
                    : ", and it rounds activations to 8 bits where this "
                      "does not", as_f32, s->n_gen);

    /* batched in reverse order, 2 steps apart */
    blocks = small_cache(s);
    rc = run_batched(&r, s, 2, 1, blocks, NULL, &batched, &pre, err,
                     sizeof(err));

    if (rc != 0) {
        ok(0, "%s: %d prompts batched: %s", what, s->n, err);
        goto done;
    }

    steps = s->n * s->n_gen;
    same = memcmp(alone.tokens, batched.tokens,
                  (size_t) steps * sizeof(int32_t)) == 0;
    bits = same_bits(s, &alone, &batched);

    ok(same && bits == steps && pre > 0, "%s: %d prompts joining in "
       "reverse order 2 steps apart, in a cache of %d blocks (%llu "
       "preemptions): the tokens of each alone, and its logits' bits at "
       "%d of %d steps", what, s->n, blocks, (unsigned long long) pre, bits,
       steps);

done:

    ours_free(&alone);
    ours_free(&batched);
    infer_runner_free(&r);
    b->iface->free(b);
    infer_model_free(m);
}


int
main(int argc, char **argv)
{
    char          path[512], only[1024];
    set_t         s;
    json_t       *manifest;
    int32_t      *f32;
    const char   *env;
    json_error_t  jerr;

    env = (argc > 1) ? argv[1] : getenv("TEST_NGINX_FIXTURES");
    snprintf(root, sizeof(root), "%s%s", env ? env : "t/fixtures",
             argc > 1 ? "" : "/greedy");

    snprintf(path, sizeof(path), "%s/manifest.json", root);
    manifest = json_load_file(path, 0, &jerr);

    if (manifest == NULL) {
        printf("1..0 # SKIP %s: %s (make fixtures: it builds llama.cpp)\n",
               path, jerr.text);
        return 0;
    }

    snprintf(only, sizeof(only), ",%s,", argc > 2 ? argv[2] : "");

    if (load_set(manifest, argc > 2 ? only : NULL, &s) != 0) {
        ok(0, "%s: its prompts and llama.cpp's runs", path);
        json_decref(manifest);
        return done();
    }

    test_f32(manifest, &s, &f32);
    test_q4_1(manifest, &s, f32, INFER_PRECISION_FP32);
    test_q4_1(manifest, &s, f32, INFER_PRECISION_Q8);

    free(f32);
    free_set(&s);
    json_decref(manifest);

    return done();
}
