/*
 * ngx_infer: unit tests of the "bert" architecture (infer_bert.c),
 * printing TAP: config.json's checks, the model directories with one
 * mistake each and the exact message each gives, the hyperparameters of
 * a loaded model, and parity with the reference embeddings.
 *
 * The fixtures are t/lib/gen_bert.py's (make fixtures), in
 * $TEST_NGINX_FIXTURES/bert or argv[1]: all-MiniLM-L6-v2 (the PyPI
 * package's directory, as it is) and random BERT models, each with token
 * ids and the reference's embeddings (sentence-transformers for MiniLM
 * where it was installed, else and for the random ones a float64 numpy
 * BertModel; manifest.json says which).  Each model runs on the CPU
 * backend in three batch compositions: every text alone, all of them in
 * one batch, and texts of very different lengths together (the longest
 * with the shortest, then groups in reverse order); per text the cosine
 * similarity with the reference must be at least 0.99999 and the largest
 * difference at most 1e-4, and a text's embedding must be the same bits
 * alone and in any batch.
 */

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "infer_backend.h"
#include "infer_bert.h"
#include "infer_runner.h"

#include "tt.h"


#define MIN_COS      0.99999
#define MAX_DIFF     1e-4

/*
 * A text alone and in a batch: the CPU product takes sgemv for one row,
 * its own AVX2 product up to 64 and sgemm past them (cpu/
 * infer_cpu_matmul.c), three orders of the same sums, so the bits may
 * differ; by float rounding only, far below what a token attending to
 * another sequence or a wrong position would change.
 */
#define SAME_DIFF    1e-5


typedef struct {
    int              n;
    int              hidden;
    int             *len;
    int32_t        **ids;
    float           *ref;          /* n x hidden */
    int              tokens;       /* sum of len */
    int              longest;
} cases_t;


static char  root[400];


/* as infer_model_load() makes one, for infer_model_parse_config() */
static infer_model_t *
new_model(void)
{
    infer_model_t  *m;

    m = calloc(1, sizeof(infer_model_t));
    if (m == NULL) {
        exit(2);
    }

    return m;
}


static void
test_config(void)
{
    int             i;
    char            err[INFER_ERRLEN];
    infer_bert_t   *bert;
    infer_model_t  *m;

    static const char  good[] =
        "{\"model_type\": \"bert\", \"hidden_size\": 36, "
        "\"num_hidden_layers\": 2, \"num_attention_heads\": 3, "
        "\"intermediate_size\": 50, \"vocab_size\": 97, "
        "\"max_position_embeddings\": 64, \"hidden_act\": \"gelu_new\", "
        "\"layer_norm_eps\": 1e-5}";

    static const struct {
        const char  *what;
        const char  *json;
        const char  *expect;
    } bad[] = {
        { "neither architecture nor model_type", "{}",
          "c.json: \"architecture\" is missing or not a string (supported: "
          "mlp), and there is no Hugging Face \"model_type\" (supported: "
          "bert, llama)" },
        { "an unknown model_type", "{\"model_type\": \"gpt2\"}",
          "c.json: Hugging Face model_type \"gpt2\" is not supported "
          "(supported: bert, llama)" },
        { "model_type not a string", "{\"model_type\": 3}",
          "c.json: Hugging Face model_type \"?\" is not supported "
          "(supported: bert, llama)" },
        { "bert as our architecture", "{\"architecture\": \"bert\"}",
          "c.json: unknown architecture \"bert\" (supported: mlp)" },
        { "hidden_size missing", "{\"model_type\": \"bert\"}",
          "c.json: hidden_size is missing" },
        { "hidden_size a string",
          "{\"model_type\": \"bert\", \"hidden_size\": \"384\"}",
          "c.json: hidden_size is not an integer from 1 to 65536" },
        { "too many layers",
          "{\"model_type\": \"bert\", \"hidden_size\": 8, "
          "\"num_hidden_layers\": 129}",
          "c.json: num_hidden_layers is not an integer from 1 to 128" },
        { "type_vocab_size 0",
          "{\"model_type\": \"bert\", \"hidden_size\": 8, "
          "\"num_hidden_layers\": 1, \"num_attention_heads\": 2, "
          "\"intermediate_size\": 4, \"vocab_size\": 5, "
          "\"max_position_embeddings\": 4, \"type_vocab_size\": 0}",
          "c.json: type_vocab_size is not an integer from 1 to 65536" },
        { "layer_norm_eps 0",
          "{\"model_type\": \"bert\", \"hidden_size\": 8, "
          "\"num_hidden_layers\": 1, \"num_attention_heads\": 2, "
          "\"intermediate_size\": 4, \"vocab_size\": 5, "
          "\"max_position_embeddings\": 4, \"layer_norm_eps\": 0}",
          "c.json: layer_norm_eps is not a number above 0 and below 1" },
        { "relative positions",
          "{\"model_type\": \"bert\", \"hidden_size\": 8, "
          "\"num_hidden_layers\": 1, \"num_attention_heads\": 2, "
          "\"intermediate_size\": 4, \"vocab_size\": 5, "
          "\"max_position_embeddings\": 4, "
          "\"position_embedding_type\": \"relative_key\"}",
          "c.json: position_embedding_type \"relative_key\" is not "
          "supported (supported: absolute)" },
        { "a decoder",
          "{\"model_type\": \"bert\", \"hidden_size\": 8, "
          "\"num_hidden_layers\": 1, \"num_attention_heads\": 2, "
          "\"intermediate_size\": 4, \"vocab_size\": 5, "
          "\"max_position_embeddings\": 4, \"is_decoder\": true}",
          "c.json: is_decoder true is not supported (an encoder: "
          "bidirectional attention)" },
    };

    for (i = 0; i < (int) (sizeof(bad) / sizeof(bad[0])); i++) {
        m = new_model();
        err[0] = '\0';
        ok(infer_model_parse_config(m, bad[i].json, strlen(bad[i].json),
                                    "c.json", err, sizeof(err)) == -1
           && strcmp(err, bad[i].expect) == 0,
           "config.json: %s: %s", bad[i].what, err);
        infer_model_free(m);
    }

    m = new_model();
    i = infer_model_parse_config(m, good, sizeof(good) - 1, "c.json", err,
                                 sizeof(err));
    bert = m->arch_data;

    ok(i == 0 && m->arch == &infer_arch_bert && bert->hidden == 36
       && bert->layers == 2 && bert->heads == 3 && bert->head_dim == 12
       && bert->intermediate == 50 && bert->vocab == 97
       && bert->max_pos == 64 && bert->type_vocab == 2
       && bert->act == INFER_ACT_GELU_TANH && bert->eps == 1e-5f
       && bert->max_seq == 64 && bert->pooling == INFER_POOL_MEAN
       && !bert->normalize && bert->lower_case == -1,
       "config.json: hyperparameters and defaults: %s",
       i == 0 ? "ok" : err);

    ok(i == 0 && m->input.datatype == INFER_IO_BYTES && m->input.ndim == 1
       && m->input.dims[0] == -1 && m->input.size == 1
       && m->output.datatype == INFER_IO_FP32 && m->output.ndim == 2
       && m->output.dims[0] == -1 && m->output.dims[1] == 36
       && m->output.size == 36 && strcmp(m->input.name, "text") == 0,
       "input: BYTES texts [-1]; output: FP32 [-1, 36]");

    infer_model_free(m);
}


/* a model directory of the fixtures that must not load, and its message:
 * %1$s is the directory */
static void
test_broken(void)
{
    int             i;
    char            dir[512], err[INFER_ERRLEN], want[2 * INFER_ERRLEN];
    infer_model_t  *m;

    static const struct {
        const char  *name;
        const char  *expect;
    } bad[] = {
        { "missing_tensor",
          "%1$s/model.safetensors: tensor "
          "\"encoder.layer.0.attention.self.key.bias\" is missing" },
        { "wrong_shape",
          "%1$s/model.safetensors: tensor "
          "\"encoder.layer.0.intermediate.dense.weight\" is [12, 7]: "
          "expected [12, 8] (intermediate_size, hidden_size in "
          "%1$s/config.json)" },
        { "wrong_vector",
          "%1$s/model.safetensors: tensor \"embeddings.LayerNorm.bias\" is "
          "[9]: expected [8] (hidden_size in %1$s/config.json)" },
        { "int_weight",
          "%1$s/model.safetensors: tensor "
          "\"embeddings.word_embeddings.weight\" is I64: expected F32, F16 "
          "or BF16" },
        { "pooling_sqrt",
          "%1$s/1_Pooling/config.json: pooling_mode_mean_sqrt_len_tokens "
          "(mean_sqrt_len pooling) is not supported (supported: mean, cls, "
          "max)" },
        { "pooling_several",
          "%1$s/1_Pooling/config.json: several pooling modes at once "
          "(mean, max) are not supported: one of mean, cls, max" },
        { "pooling_none",
          "%1$s/1_Pooling/config.json: no pooling mode is true (supported: "
          "pooling_mode_mean_tokens, pooling_mode_cls_token, "
          "pooling_mode_max_tokens)" },
        { "pooling_missing",
          "%1$s/1_Pooling/config.json: the Pooling module's configuration "
          "is missing" },
        { "unknown_module",
          "%1$s/modules.json: module 2, \"Dense\" in \"2_Dense\", is not "
          "supported (supported: Transformer in the model directory, then "
          "Pooling in its own, then Normalize)" },
        { "no_pooling",
          "%1$s/modules.json: module 1, \"Normalize\" in \"2_Normalize\", "
          "is not supported (supported: Transformer in the model "
          "directory, then Pooling in its own, then Normalize)" },
        { "heads",
          "%1$s/config.json: hidden_size 8 is not a multiple of "
          "num_attention_heads 3" },
        { "bad_act",
          "%1$s/config.json: hidden_act \"swish\" is not supported "
          "(supported: gelu, gelu_new, gelu_pytorch_tanh, relu)" },
        { "no_intermediate",
          "%1$s/config.json: intermediate_size is missing" },
        { "max_seq_too_long",
          "%1$s/sentence_bert_config.json: max_seq_length is not an "
          "integer from 1 to max_position_embeddings 16" },
        { "model_type",
          "%1$s/config.json: Hugging Face model_type \"gpt2\" is not "
          "supported (supported: bert, llama)" },
    };

    for (i = 0; i < (int) (sizeof(bad) / sizeof(bad[0])); i++) {
        snprintf(dir, sizeof(dir), "%s/broken/%s", root, bad[i].name);
        snprintf(want, sizeof(want), bad[i].expect, dir);
        err[0] = '\0';

        m = infer_model_load(dir, err, sizeof(err));
        ok(m == NULL && strcmp(err, want) == 0, "%s: %s", bad[i].name, err);
        infer_model_free(m);
    }
}


static int
load_cases(const char *path, int hidden, cases_t *c)
{
    int           i, k, n;
    json_t       *j, *arr, *e, *ids, *emb;
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
    c->hidden = hidden;
    c->len = calloc((size_t) n, sizeof(int));
    c->ids = calloc((size_t) n, sizeof(int32_t *));
    c->ref = calloc((size_t) n * (size_t) hidden, sizeof(float));

    if (c->len == NULL || c->ids == NULL || c->ref == NULL) {
        exit(2);
    }

    for (i = 0; i < n; i++) {
        e = json_array_get(arr, i);
        ids = json_object_get(e, "ids");
        emb = json_object_get(e, "embedding");

        if ((int) json_array_size(emb) != hidden) {
            diag("%s: case %d: %zu values, not %d", path, i,
                 json_array_size(emb), hidden);
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

        for (k = 0; k < hidden; k++) {
            c->ref[(size_t) i * hidden + k] =
                (float) json_number_value(json_array_get(emb, k));
        }

        c->tokens += c->len[i];
        c->longest = c->len[i] > c->longest ? c->len[i] : c->longest;
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
    free(c->ref);
}


/*
 * Runs the cases idx[0 .. k) as one batch; their embeddings go to
 * out[idx[i]].  Returns 0, or -1 with err set.
 */
static int
run_batch(infer_runner_t *r, const cases_t *c, const int *idx, int k,
    float *out, char *err, size_t errlen)
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
    o = calloc((size_t) k * (size_t) c->hidden, sizeof(float));

    if (tok == NULL || pos == NULL || seqs == NULL || ids == NULL
        || o == NULL)
    {
        exit(2);
    }

    for (n = 0, i = 0; i < k; i++) {
        seqs[i].start = n;
        seqs[i].len = c->len[idx[i]];
        ids[i] = (uint64_t) idx[i];

        for (t = 0; t < c->len[idx[i]]; t++, n++) {
            tok[n] = c->ids[idx[i]][t];
            pos[n] = t;
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
        memcpy(out + (size_t) idx[i] * c->hidden, o + (size_t) i * c->hidden,
               (size_t) c->hidden * sizeof(float));
    }

    free(tok);
    free(pos);
    free(seqs);
    free(ids);
    free(o);

    return rc;
}


static double
max_diff(const float *a, const float *b, size_t n)
{
    size_t  i;
    double  d, m;

    for (m = 0.0, i = 0; i < n; i++) {
        d = fabs((double) a[i] - b[i]);
        m = (d > m || isnan(d)) ? d : m;
    }

    return m;
}


/* the worst cosine and difference of out against the reference */
static int
compare(const cases_t *c, const float *out, double *worst_cos,
    double *worst_diff)
{
    int            i, k, good;
    double         dot, na, nb, d, cos, diff;
    const float   *a, *b;

    good = 1;

    for (i = 0; i < c->n; i++) {
        a = out + (size_t) i * c->hidden;
        b = c->ref + (size_t) i * c->hidden;
        dot = na = nb = diff = 0.0;

        for (k = 0; k < c->hidden; k++) {
            dot += (double) a[k] * b[k];
            na += (double) a[k] * a[k];
            nb += (double) b[k] * b[k];
            d = fabs((double) a[k] - b[k]);
            diff = (d > diff || isnan(d)) ? d : diff;
        }

        cos = dot / sqrt(na * nb);

        if (!(cos >= MIN_COS) || !(diff <= MAX_DIFF)) {
            good = 0;
        }

        *worst_cos = (cos < *worst_cos || isnan(cos)) ? cos : *worst_cos;
        *worst_diff = (diff > *worst_diff || isnan(diff)) ? diff
                                                            : *worst_diff;
    }

    return good;
}


static void
test_parity(json_t *model)
{
    int              i, k, n, rc, good, *idx, *order;
    char             dir[512], path[512], err[INFER_ERRLEN];
    float           *alone, *out;
    double           wc, wd;
    cases_t          c;
    const char      *name, *d;
    infer_model_t   *m;
    infer_runner_t   r;
    infer_backend_t *b;

    name = json_string_value(json_object_get(model, "name"));
    d = json_string_value(json_object_get(model, "dir"));
    snprintf(dir, sizeof(dir), "%s%s%s", d[0] == '/' ? "" : root,
             d[0] == '/' ? "" : "/", d);
    snprintf(path, sizeof(path), "%s/%s", root,
             json_string_value(json_object_get(model, "cases")));

    diag("%s: reference %s", name,
         json_string_value(json_object_get(model, "reference")));

    m = infer_model_load(dir, err, sizeof(err));
    ok(m != NULL && m->arch == &infer_arch_bert, "%s: loads: %s", name,
       m ? dir : err);

    if (m == NULL) {
        return;
    }

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
    alone = calloc((size_t) n * (size_t) c.hidden, sizeof(float));
    out = calloc((size_t) n * (size_t) c.hidden, sizeof(float));
    idx = calloc((size_t) n, sizeof(int));
    order = calloc((size_t) n, sizeof(int));

    if (alone == NULL || out == NULL || idx == NULL || order == NULL) {
        exit(2);
    }

    /* every text alone */
    for (i = 0, rc = 0; rc == 0 && i < n; i++) {
        rc = run_batch(&r, &c, &i, 1, alone, err, sizeof(err));
    }

    wc = 1.0;
    wd = 0.0;
    good = (rc == 0) && compare(&c, alone, &wc, &wd);
    ok(good, "%s: %d texts alone: worst cosine %.9f, max abs diff %.3g%s%s",
       name, n, wc, wd, rc ? ": " : "", rc ? err : "");

    /* all of them in one batch */
    for (i = 0; i < n; i++) {
        idx[i] = i;
    }

    rc = run_batch(&r, &c, idx, n, out, err, sizeof(err));
    wc = 1.0;
    wd = 0.0;
    good = (rc == 0) && compare(&c, out, &wc, &wd);
    ok(good, "%s: %d texts in one batch of %d tokens: worst cosine %.9f, "
       "max abs diff %.3g%s%s", name, n, c.tokens, wc, wd, rc ? ": " : "",
       rc ? err : "");
    wd = max_diff(alone, out, (size_t) n * c.hidden);
    ok(rc == 0 && wd <= SAME_DIFF, "%s: alone and in one batch: max abs "
       "diff %.3g", name, wd);

    /*
     * Very different lengths together: the cases sorted by length, the
     * longest with the shortest in pairs, then what is left in groups of
     * 7 in reverse order.
     */
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

    memset(out, 0, (size_t) n * c.hidden * sizeof(float));
    rc = 0;

    for (i = 0; rc == 0 && i < n / 4; i++) {
        idx[0] = order[n - 1 - i];
        idx[1] = order[i];
        rc = run_batch(&r, &c, idx, 2, out, err, sizeof(err));
    }

    for (k = n - 1 - n / 4; rc == 0 && k >= n / 4; k -= 7) {
        for (i = 0; i < 7 && k - i >= n / 4; i++) {
            idx[i] = order[k - i];
        }
        rc = run_batch(&r, &c, idx, i, out, err, sizeof(err));
    }

    wc = 1.0;
    wd = 0.0;
    good = (rc == 0) && compare(&c, out, &wc, &wd);
    ok(good, "%s: long and short texts together: worst cosine %.9f, max "
       "abs diff %.3g%s%s", name, wc, wd, rc ? ": " : "", rc ? err : "");
    wd = max_diff(alone, out, (size_t) n * c.hidden);
    ok(rc == 0 && wd <= SAME_DIFF, "%s: alone and in mixed batches: max "
       "abs diff %.3g", name, wd);

    free(alone);
    free(out);
    free(idx);
    free(order);
    infer_runner_free(&r);
    b->iface->free(b);
    free_cases(&c);
    infer_model_free(m);
}


/* hyperparameters of the real model and of a fixture, loaded */
static void
test_loaded(json_t *manifest)
{
    char             dir[512], err[INFER_ERRLEN];
    const char      *d;
    infer_bert_t    *bert;
    infer_model_t   *m;

    d = json_string_value(json_object_get(json_array_get(
            json_object_get(manifest, "models"), 0), "dir"));
    m = (d != NULL) ? infer_model_load(d, err, sizeof(err)) : NULL;
    bert = m ? m->arch_data : NULL;

    ok(m != NULL && m->arch == &infer_arch_bert && bert->hidden == 384
       && bert->layers == 6 && bert->heads == 12 && bert->head_dim == 32
       && bert->intermediate == 1536 && bert->vocab == 30522
       && bert->max_pos == 512 && bert->max_seq == 256
       && bert->act == INFER_ACT_GELU && bert->pooling == INFER_POOL_MEAN
       && bert->normalize && bert->st && bert->lower_case == 0
       && strcmp(bert->prefix, "") == 0
       && m->nweights == 5 + 6 * INFER_BERT_LAYER_WEIGHTS
       && m->weights[bert->emb[INFER_BERT_TYPE]].rows == 1,
       "all-MiniLM-L6-v2: 6 layers of 384, 12 heads, max_seq 256 "
       "(sentence_bert_config.json), mean pooling, Normalize: %s",
       m ? "ok" : err);
    infer_model_free(m);

    snprintf(dir, sizeof(dir), "%s/r_f16_plain_hf", root);
    m = infer_model_load(dir, err, sizeof(err));
    bert = m ? m->arch_data : NULL;

    ok(m != NULL && !bert->st && bert->pooling == INFER_POOL_MEAN
       && !bert->normalize && bert->max_seq == 64 && bert->lower_case == -1
       && strcmp(bert->prefix, "bert.") == 0
       && m->weights[bert->emb[INFER_BERT_WORD]].type == INFER_DT_F16,
       "a plain Hugging Face directory (no modules.json, \"bert.\" names, "
       "I64 position_ids and a pooler beside): mean pooling, no Normalize, "
       "max_seq = max_position_embeddings: %s", m ? "ok" : err);
    infer_model_free(m);
}


int
main(int argc, char **argv)
{
    size_t         i;
    char           path[512];
    json_t        *manifest, *models;
    const char    *env;
    json_error_t   jerr;

    env = (argc > 1) ? argv[1] : getenv("TEST_NGINX_FIXTURES");
    snprintf(root, sizeof(root), "%s%s", env ? env : "t/fixtures",
             argc > 1 ? "" : "/bert");

    /* tt.h's scratch directory: unused, its plan and exit status are */
    if (tt_begin("test_bert") != 0) {
        return 2;
    }

    test_config();

    snprintf(path, sizeof(path), "%s/manifest.json", root);
    manifest = json_load_file(path, 0, &jerr);

    if (manifest == NULL) {
        ok(0, "%s: %s (make fixtures)", path, jerr.text);
        return tt_end();
    }

    test_broken();
    test_loaded(manifest);

    models = json_object_get(manifest, "models");
    for (i = 0; i < json_array_size(models); i++) {
        test_parity(json_array_get(models, i));
    }

    json_decref(manifest);

    return tt_end();
}
