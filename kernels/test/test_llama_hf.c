/*
 * ngx_infer: unit tests of the "llama" architecture from Hugging Face
 * directories (infer_llama_hf.c) and of their text side
 * (infer_llama_hf_text() in infer_llama_text.c), printing TAP.
 *
 * The fixtures are t/lib/gen_llama.py's (make fixtures), in
 * $TEST_NGINX_FIXTURES/llama or argv[1]: the random F32, F16 and BF16
 * Llama models also written as directories (hf/<name>: config.json,
 * model.safetensors with Q and K in Hugging Face's row order, a
 * byte-level BPE tokenizer.json of the model's vocabulary, a ChatML
 * tokenizer_config.json, generation_config.json), and broken directories
 * each with its exact message.  Per model: the hyperparameters, the
 * pairing (INFER_ROPE_NEOX, where the GGUF file's is INFER_ROPE_NORM),
 * the weights, the KV cache's shape the GGUF file's; each prompt's
 * last-token logits alone and all in one batch within 1e-3 of the float64
 * reference (the GGUF file's cases: the same weights), and within 1e-5
 * of the GGUF file's logits; the greedy continuation that t/186-chat-hf.t
 * expects from nginx, computed here without a KV cache.  The text side:
 * the tokenizer's size, the template, the end ids; the broken ones
 * refused with their messages.
 */

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "infer_backend.h"
#include "infer_llama.h"
#include "infer_runner.h"

#include "tap.h"
#include "llama_cases.h"


static char  root[400];


/* a model and its runner for n sequences of tokens tokens in all */
static infer_model_t *
open_model(const char *file, int n, int tokens, infer_runner_t *r,
    infer_backend_t **b, char *err, size_t errlen)
{
    char            path[512];
    infer_model_t  *m;

    snprintf(path, sizeof(path), "%s/%s", root, file);

    m = infer_model_load(path, err, errlen);
    if (m == NULL) {
        return NULL;
    }

    *b = infer_backend_cpu_new(INFER_PRECISION_FP32, err, errlen);

    if (*b == NULL || infer_runner_init(r, m, *b, n, tokens, err, errlen)
                      != 0)
    {
        if (*b != NULL) {
            (*b)->iface->free(*b);
        }

        infer_model_free(m);
        return NULL;
    }

    return m;
}


static void
close_model(infer_model_t *m, infer_runner_t *r, infer_backend_t *b)
{
    infer_runner_free(r);
    b->iface->free(b);
    infer_model_free(m);
}


/* every case alone into out: 0, or -1 with err set */
static int
run_alone(infer_runner_t *r, const cases_t *c, float *out, char *err,
    size_t errlen)
{
    int  i;

    for (i = 0; i < c->n; i++) {
        if (run_batch(r, c, &i, 1, 0, out, err, errlen) != 0) {
            return -1;
        }
    }

    return 0;
}


static void
check_loaded(const infer_model_t *m, const infer_model_t *g, json_t *e,
    const char *name)
{
    int                   i, k, conv;
    infer_kv_shape_t      kv, gkv;
    const infer_llama_t  *hp, *gp;
    const infer_weight_t *w;

    hp = m->arch_data;
    gp = g->arch_data;

    ok(m->arch == &infer_arch_llama && m->gguf == NULL
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

    ok(hp->rope == INFER_ROPE_NEOX && gp->rope == INFER_ROPE_NORM,
       "%s: RoPE pairs i with i + d/2 (NEOX), the GGUF file's 2i with "
       "2i + 1 (NORM)", name);

    /* every weight has an F32 form; the norms are vectors */
    conv = 1;

    for (i = 0; i < m->nweights; i++) {
        conv = conv && m->weights[i].f32 != NULL;
    }

    for (i = 0; i < hp->layers; i++) {
        for (k = 0; k < INFER_LLAMA_LAYER_WEIGHTS; k++) {
            w = &m->weights[hp->layer[i].w[k]];

            if ((k == INFER_LLAMA_ATTN_NORM || k == INFER_LLAMA_FFN_NORM)
                && (w->rows != 1 || w->cols != hp->hidden))
            {
                conv = 0;
            }

            /* nn.Linear's [out, in], as the GGUF file's rows */
            if (w->rows != g->weights[gp->layer[i].w[k]].rows
                || w->cols != g->weights[gp->layer[i].w[k]].cols)
            {
                conv = 0;
            }
        }
    }

    ok(conv && m->nweights == g->nweights
       && m->output.datatype == INFER_IO_FP32 && m->output.ndim == 2
       && m->output.dims[1] == hp->vocab && m->output.size == hp->vocab
       && strcmp(m->output.name, "logits") == 0
       && m->input.datatype == INFER_IO_BYTES,
       "%s: %d weights of the GGUF file's shapes, F32 forms; output "
       "\"logits\" FP32 [-1, %d]", name, m->nweights, hp->vocab);

    conv = (m->arch->kv_shape(m, &kv) == 0
            && g->arch->kv_shape(g, &gkv) == 0);

    ok(conv && kv.layers == gkv.layers && kv.kv_dim == gkv.kv_dim,
       "%s: the KV cache's shape is the GGUF file's: %d layers of %d",
       name, kv.layers, kv.kv_dim);
}


static void
test_model(json_t *e)
{
    int              i, n, rc, good, *idx;
    char             path[512], err[INFER_ERRLEN];
    float           *alone, *out, *gout;
    double           d;
    score_t          s;
    cases_t          c;
    const char      *name;
    infer_model_t   *m, *g;
    infer_runner_t   r, gr;
    infer_backend_t *b, *gb;

    name = json_string_value(json_object_get(e, "name"));

    snprintf(path, sizeof(path), "%s/%s", root,
             json_string_value(json_object_get(e, "cases")));

    if (load_cases(path, (int) json_integer_value(json_object_get(e,
                                                                  "vocab")),
                   &c) != 0)
    {
        ok(0, "%s: cases", name);
        return;
    }

    m = open_model(json_string_value(json_object_get(e, "file")), c.n,
                   c.tokens, &r, &b, err, sizeof(err));
    ok(m != NULL, "%s: loads, runner of %d sequences, %d tokens: %s", name,
       c.n, c.tokens, m ? "ok" : err);

    g = (m == NULL) ? NULL
                    : open_model(json_string_value(json_object_get(e,
                                                                   "gguf")),
                                 c.n, c.tokens, &gr, &gb, err, sizeof(err));
    if (m != NULL && g == NULL) {
        ok(0, "%s: the GGUF file: %s", name, err);
    }

    if (m == NULL || g == NULL) {
        if (m != NULL) {
            close_model(m, &r, b);
        }
        free_cases(&c);
        return;
    }

    check_loaded(m, g, e, name);

    n = c.n;
    alone = calloc((size_t) n * (size_t) c.vocab, sizeof(float));
    out = calloc((size_t) n * (size_t) c.vocab, sizeof(float));
    gout = calloc((size_t) n * (size_t) c.vocab, sizeof(float));
    idx = calloc((size_t) n, sizeof(int));

    if (alone == NULL || out == NULL || gout == NULL || idx == NULL) {
        exit(2);
    }

    rc = run_alone(&r, &c, alone, err, sizeof(err));
    good = (rc == 0) && compare(&c, alone, &s);
    ok(good, "%s: %d prompts alone (%d to %d "
       "tokens) against the float64 reference: worst max|diff| / max|ref| "
       "%.3g, argmax %d of %d (%d near-ties)%s%s", name, n, c.len[0],
       c.len[n - 1], s.worst, s.agree, s.n, s.ties, rc ? ": " : "",
       rc ? err : "");

    for (i = 0; i < n; i++) {
        idx[i] = i;
    }

    rc = run_batch(&r, &c, idx, n, 0, out, err, sizeof(err));
    d = same_diff(&c, alone, out);
    good = (rc == 0) && compare(&c, out, &s);
    ok(good && d <= SAME_REL,
       "%s: %d prompts in one batch: worst %.3g, argmax %d of %d, within "
       "1e-5 of alone (%.3g)%s%s", name, n, s.worst, s.agree, s.n, d,
       rc ? ": " : "", rc ? err : "");

    rc = run_alone(&gr, &c, gout, err, sizeof(err));
    d = same_diff(&c, gout, alone);
    ok(rc == 0 && d <= SAME_REL, "%s: the logits of the GGUF file of the "
       "same weights within 1e-5: max rel diff %.3g%s%s", name, d,
       rc ? ": " : "", rc ? err : "");

    free(alone);
    free(out);
    free(gout);
    free(idx);
    close_model(g, &gr, gb);
    close_model(m, &r, b);
    free_cases(&c);
}


/* the greedy tokens nginx must answer with (t/186-chat-hf.t), each step
 * the whole sequence again, without a KV cache */
static void
test_greedy(json_t *serve)
{
    int              i, k, n, ok_, len, zero;
    char             err[INFER_ERRLEN];
    float           *out;
    json_t          *prompt, *tokens;
    int32_t          ids[64], *idp;
    cases_t          c;
    infer_model_t   *m;
    infer_runner_t   r;
    infer_backend_t *b;

    prompt = json_object_get(serve, "prompt");
    tokens = json_object_get(serve, "tokens");
    n = (int) json_array_size(prompt);
    k = (int) json_array_size(tokens);

    m = open_model(json_string_value(json_object_get(serve, "dir")), 1,
                   n + k, &r, &b, err, sizeof(err));
    if (m == NULL || n + k > 64) {
        ok(0, "greedy: %s", m ? "too long" : err);
        return;
    }

    for (i = 0; i < n; i++) {
        ids[i] = (int32_t) json_integer_value(json_array_get(prompt, i));
    }

    memset(&c, 0, sizeof(c));
    c.n = 1;
    c.vocab = (int) m->output.size;
    c.len = &len;
    idp = ids;
    c.ids = &idp;
    zero = 0;

    out = calloc((size_t) c.vocab, sizeof(float));
    if (out == NULL) {
        exit(2);
    }

    ok_ = 1;

    for (i = 0; i < k; i++) {
        len = n + i;

        if (run_batch(&r, &c, &zero, 1, 0, out, err, sizeof(err)) != 0) {
            ok_ = 0;
            break;
        }

        ids[n + i] = argmax(out, c.vocab);
        ok_ = ok_ && ids[n + i] == json_integer_value(json_array_get(tokens,
                                                                     i));
    }

    ok(ok_, "%s: the greedy continuation of a %d-token prompt is the "
       "reference's %d tokens (\"%s\")",
       json_string_value(json_object_get(serve, "dir")), n, k,
       json_string_value(json_object_get(serve, "text")));

    free(out);
    close_model(m, &r, b);
}


static void
test_broken(json_t *broken)
{
    size_t          i;
    char            path[512], err[INFER_ERRLEN], want[2 * INFER_ERRLEN];
    json_t         *e;
    infer_model_t  *m;

    for (i = 0; i < json_array_size(broken); i++) {
        e = json_array_get(broken, i);
        snprintf(path, sizeof(path), "%s/%s", root,
                 json_string_value(json_object_get(e, "dir")));
        snprintf(want, sizeof(want),
                 json_string_value(json_object_get(e, "error")), path);
        err[0] = '\0';

        m = infer_model_load(path, err, sizeof(err));
        ok(m == NULL && strcmp(err, want) == 0, "%s: %s",
           json_string_value(json_object_get(e, "dir")), err);

        if (m == NULL && strcmp(err, want) != 0) {
            diag("expected: %s", want);
        }

        infer_model_free(m);
    }
}


/* the text side of a directory: 0 with the tokenizer and the template,
 * or -1 with err */
static int
text(const char *dir, const char *name, int vocab, infer_bpe_t **bpe,
    infer_chat_template_t *t, int32_t *eog, int *n_eog, char *err,
    size_t errlen)
{
    char  path[512];

    snprintf(path, sizeof(path), "%s/%s", root, dir);
    memset(t, 0, sizeof(infer_chat_template_t));

    return infer_llama_hf_text(path, name, vocab, bpe, t, eog, 8, n_eog,
                               err, errlen);
}


static void
test_text(json_t *hf, json_t *broken)
{
    int                     i, rc, n_eog, vocab;
    char                    path[512], err[INFER_ERRLEN];
    char                    want[2 * INFER_ERRLEN], buf[512];
    size_t                  len;
    int32_t                 eog[8];
    json_t                 *e;
    const char             *dir;
    infer_bpe_t            *bpe;
    infer_bpe_info_t        info;
    infer_chat_msg_t        msg;
    infer_chat_template_t   t;

    static const char  chatml[] = "<|im_start|>system\nYou are a helpful "
                                  "AI assistant.<|im_end|>\n<|im_start|>"
                                  "user\nhi<|im_end|>\n<|im_start|>"
                                  "assistant\n";

    for (i = 0; i < (int) json_array_size(hf); i++) {
        e = json_array_get(hf, i);
        dir = json_string_value(json_object_get(e, "file"));
        vocab = (int) json_integer_value(json_object_get(e, "vocab"));

        rc = text(dir, NULL, vocab, &bpe, &t, eog, &n_eog, err, sizeof(err));
        ok(rc == 0, "%s: tokenizer.json, tokenizer_config.json, "
           "generation_config.json load: %s", dir, rc ? err : "ok");

        if (rc != 0) {
            continue;
        }

        infer_bpe_info(bpe, &info);

        /* generation_config.json's [2, 0], then eos_token <|im_end|> (2)
         * again, and <|endoftext|> (0) found by the families' texts */
        ok(info.n_ids == (size_t) vocab && n_eog == 2 && eog[0] == 2
           && eog[1] == 0, "%s: %zu ids (vocab_size %d); the end ids %d, "
           "%d (%d of them)", dir, info.n_ids, vocab, eog[0],
           n_eog > 1 ? eog[1] : -1, n_eog);

        msg.role = INFER_CHAT_USER;
        msg.content = "hi";
        msg.len = 2;
        len = (infer_chat_apply_size(&t, &msg, 1) < sizeof(buf))
              ? infer_chat_apply(&t, &msg, 1, 1, buf, err, sizeof(err))
              : (size_t) -1;

        ok(len != (size_t) -1 && len == strlen(chatml)
           && memcmp(buf, chatml, len) == 0,
           "%s: the ChatML template of tokenizer_config.json, with its "
           "default system prompt (%zu bytes)", dir, len);

        infer_chat_template_free(&t);
        infer_bpe_free(bpe);
    }

    e = json_array_get(hf, 0);
    rc = text(json_string_value(json_object_get(e, "file")), "llama3",
              (int) json_integer_value(json_object_get(e, "vocab")), &bpe,
              &t, eog, &n_eog, err, sizeof(err));
    ok(rc == 0, "a template by name instead of tokenizer_config.json's: %s",
       rc ? err : "ok");

    if (rc == 0) {
        infer_chat_template_free(&t);
        infer_bpe_free(bpe);
    }

    for (i = 0; i < (int) json_array_size(broken); i++) {
        e = json_array_get(broken, i);
        dir = json_string_value(json_object_get(e, "dir"));
        snprintf(path, sizeof(path), "%s/%s", root, dir);
        snprintf(want, sizeof(want),
                 json_string_value(json_object_get(e, "error")), path);
        err[0] = '\0';
        bpe = NULL;

        rc = text(dir, NULL, 300, &bpe, &t, eog, &n_eog, err, sizeof(err));
        ok(rc != 0 && bpe == NULL && strcmp(err, want) == 0, "%s: %s", dir,
           err);

        if (rc != 0 && strcmp(err, want) != 0) {
            diag("expected: %s", want);
        }
    }

    /* a tokenizer of more ids than the model's vocabulary */
    e = json_array_get(hf, 0);
    dir = json_string_value(json_object_get(e, "file"));
    snprintf(want, sizeof(want), "%s/%s/tokenizer.json: 300 token ids, more "
             "than config.json's vocab_size 299", root, dir);
    rc = text(dir, NULL, 299, &bpe, &t, eog, &n_eog, err, sizeof(err));
    ok(rc != 0 && strcmp(err, want) == 0, "%s", rc ? err : "it loaded");
}


int
main(int argc, char **argv)
{
    size_t         i;
    char           path[512];
    json_t        *manifest, *hf;
    const char    *env;
    json_error_t   jerr;

    env = (argc > 1) ? argv[1] : getenv("TEST_NGINX_FIXTURES");
    snprintf(root, sizeof(root), "%s%s", env ? env : "t/fixtures",
             argc > 1 ? "" : "/llama");

    snprintf(path, sizeof(path), "%s/manifest.json", root);
    manifest = json_load_file(path, 0, &jerr);

    if (manifest == NULL) {
        printf("1..0 # SKIP %s: %s (make fixtures)\n", path, jerr.text);
        return 0;
    }

    hf = json_object_get(manifest, "hf");

    if (json_array_size(hf) == 0) {
        json_decref(manifest);
        printf("1..0 # SKIP %s has no Hugging Face directories (the "
               "tokenizers package, then make fixtures)\n", path);
        return 0;
    }

    test_broken(json_object_get(manifest, "broken_hf"));

    for (i = 0; i < json_array_size(hf); i++) {
        test_model(json_array_get(hf, i));
    }

    test_greedy(json_object_get(manifest, "hf_serve"));
    test_text(hf, json_object_get(manifest, "broken_hf_text"));

    json_decref(manifest);

    return done();
}
