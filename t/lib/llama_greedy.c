/*
 * llama.cpp's greedy generation, the reference of t/fixtures/greedy/
 * (t/lib/gen_greedy.py compiles this against a llama.cpp build's static
 * libraries and runs it once per GGUF file).
 *
 *     llama_greedy MODEL.gguf N_GEN N_CTX LOGITS.f32 < prompts
 *
 * stdin: the prompts as records, a little-endian uint32 length then that
 * many bytes of UTF-8.  For each prompt, one line of JSON on stdout:
 *
 *     {"ids": [...], "tokens": [...], "second": [...], "margin": [...],
 *      "eog": STEP or -1, "text": "HEX"}
 *
 * ids: llama_tokenize() of the prompt (no BOS, special tokens parsed, as
 * a chat server tokenizes a rendered template); tokens: N_GEN greedy
 * tokens; second: the runner-up at each step; margin: the top logit less
 * the second; eog: the first step whose token is an end of generation
 * (the run goes on past it, so that every prompt has N_GEN steps);
 * text: llama_detokenize() of the tokens, special tokens shown, in hex
 * (no escaping here).  LOGITS.f32 gets the first step's whole logits
 * row of every prompt, one after another, as raw float32.
 *
 * The prompt is one llama_decode() (one batch, one ubatch), then one
 * token a call.  A fresh context for each prompt, one thread (ggml's
 * CPU backend then adds in one order: the same logits every run), the
 * KV cache in F32 and no flash attention, so that only the weights'
 * products differ from an F32 engine's arithmetic.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llama.h"


#define GREEDY_TEXT_MAX  (1 << 24)


static void
greedy_log(enum ggml_log_level level, const char *text, void *data)
{
    /* llama.cpp reports every tensor it loads; only errors matter here */
    if (level == GGML_LOG_LEVEL_ERROR) {
        fputs(text, stderr);
    }
}


static int
greedy_top2(const float *row, int32_t n, int32_t *second, float *margin)
{
    int32_t  i, a, b;

    /* ties go to the lower id, as an argmax over the row does */
    a = 0;
    b = -1;
    for (i = 1; i < n; i++) {
        if (row[i] > row[a]) {
            b = a;
            a = i;

        } else if (b < 0 || row[i] > row[b]) {
            b = i;
        }
    }

    *second = b;
    *margin = row[a] - row[b];
    return a;
}


static int
greedy_prompt(struct llama_model *model, const char *text, uint32_t len,
    int32_t n_gen, int32_t n_ctx, FILE *logits)
{
    int32_t                       i, n, n_vocab, tok, *second;
    float                        *margin;
    char                         *out;
    llama_token                  *ids, *gen;
    const float                  *row;
    struct llama_context         *ctx;
    const struct llama_vocab     *vocab;
    struct llama_context_params   cp;

    vocab = llama_model_get_vocab(model);
    n_vocab = llama_vocab_n_tokens(vocab);

    ids = malloc((len + 16) * sizeof(llama_token));
    gen = malloc(n_gen * sizeof(llama_token));
    second = malloc(n_gen * sizeof(int32_t));
    margin = malloc(n_gen * sizeof(float));
    out = malloc(GREEDY_TEXT_MAX);
    if (ids == NULL || gen == NULL || second == NULL || margin == NULL
        || out == NULL)
    {
        fprintf(stderr, "llama_greedy: out of memory\n");
        return -1;
    }

    n = llama_tokenize(vocab, text, (int32_t) len, ids, (int32_t) len + 16,
                       0, 1);
    if (n <= 0 || n + n_gen > n_ctx) {
        fprintf(stderr, "llama_greedy: %d prompt tokens\n", n);
        return -1;
    }

    cp = llama_context_default_params();
    cp.n_ctx = n_ctx;
    cp.n_batch = n_ctx;
    cp.n_ubatch = n_ctx;
    cp.n_seq_max = 1;
    cp.n_threads = 1;
    cp.n_threads_batch = 1;
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    cp.type_k = GGML_TYPE_F32;
    cp.type_v = GGML_TYPE_F32;
    cp.no_perf = 1;

    ctx = llama_init_from_model(model, cp);
    if (ctx == NULL) {
        fprintf(stderr, "llama_greedy: no context\n");
        return -1;
    }

    if (llama_decode(ctx, llama_batch_get_one(ids, n)) != 0) {
        fprintf(stderr, "llama_greedy: the prompt's decode failed\n");
        return -1;
    }

    for (i = 0; i < n_gen; i++) {
        row = llama_get_logits_ith(ctx, -1);
        if (row == NULL) {
            fprintf(stderr, "llama_greedy: no logits\n");
            return -1;
        }

        if (i == 0 && fwrite(row, sizeof(float), n_vocab, logits)
                      != (size_t) n_vocab)
        {
            fprintf(stderr, "llama_greedy: cannot write the logits\n");
            return -1;
        }

        tok = greedy_top2(row, n_vocab, &second[i], &margin[i]);
        gen[i] = tok;

        if (i + 1 < n_gen
            && llama_decode(ctx, llama_batch_get_one(&gen[i], 1)) != 0)
        {
            fprintf(stderr, "llama_greedy: step %d's decode failed\n", i);
            return -1;
        }
    }

    printf("{\"ids\": [");
    for (i = 0; i < n; i++) {
        printf(i ? ", %d" : "%d", ids[i]);
    }
    printf("], \"tokens\": [");
    for (i = 0; i < n_gen; i++) {
        printf(i ? ", %d" : "%d", gen[i]);
    }
    printf("], \"second\": [");
    for (i = 0; i < n_gen; i++) {
        printf(i ? ", %d" : "%d", second[i]);
    }
    printf("], \"margin\": [");
    for (i = 0; i < n_gen; i++) {
        printf(i ? ", %.9g" : "%.9g", margin[i]);
    }
    for (i = 0; i < n_gen && !llama_vocab_is_eog(vocab, gen[i]); i++) {
        /* void */
    }
    printf("], \"eog\": %d, \"text\": \"", i < n_gen ? i : -1);

    n = llama_detokenize(vocab, gen, n_gen, out, GREEDY_TEXT_MAX, 0, 1);
    if (n < 0) {
        fprintf(stderr, "llama_greedy: cannot detokenize\n");
        return -1;
    }
    for (i = 0; i < n; i++) {
        printf("%02x", (unsigned char) out[i]);
    }
    printf("\"}\n");
    fflush(stdout);

    llama_free(ctx);
    free(out);
    free(margin);
    free(second);
    free(gen);
    free(ids);
    return 0;
}


int
main(int argc, char **argv)
{
    int                        rc;
    char                      *text;
    FILE                      *logits;
    uint32_t                   len;
    struct llama_model        *model;
    struct llama_model_params  mp;

    if (argc != 5) {
        fprintf(stderr, "usage: llama_greedy MODEL.gguf N_GEN N_CTX "
                        "LOGITS.f32 < prompts\n");
        return 2;
    }

    text = malloc(GREEDY_TEXT_MAX);
    logits = fopen(argv[4], "wb");
    if (text == NULL || logits == NULL) {
        fprintf(stderr, "llama_greedy: cannot open %s\n", argv[4]);
        return 1;
    }

    llama_log_set(greedy_log, NULL);
    llama_backend_init();

    mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    model = llama_model_load_from_file(argv[1], mp);
    if (model == NULL) {
        fprintf(stderr, "llama_greedy: cannot load %s\n", argv[1]);
        return 1;
    }

    fprintf(stderr, "llama_greedy: %s\n", llama_print_system_info());

    rc = 0;
    while (rc == 0 && fread(&len, 4, 1, stdin) == 1) {
        if (len >= GREEDY_TEXT_MAX || fread(text, 1, len, stdin) != len) {
            fprintf(stderr, "llama_greedy: a broken record\n");
            return 1;
        }
        text[len] = '\0';
        rc = greedy_prompt(model, text, len, atoi(argv[2]), atoi(argv[3]),
                           logits);
    }

    if (fclose(logits) != 0) {
        rc = -1;
    }

    llama_model_free(model);
    llama_backend_free();
    free(text);
    return rc == 0 ? 0 : 1;
}
