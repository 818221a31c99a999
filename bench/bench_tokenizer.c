/*
 * The tokenizer's speed on one core: MB/s of UTF-8 text and tokens/s,
 * encoding the lines of the parity corpus (t/lib/gen_tokenizer_corpus.py,
 * make fixtures) with all-MiniLM-L6-v2's tokenizer.json, one text a call
 * as the server does it.
 *
 *     make build/bench_tokenizer && build/bench_tokenizer [DIR]
 *
 * DIR is t/fixtures/tokenizer by default.  bench/bench_tokenizer_hf.py
 * runs this and Hugging Face's `tokenizers` on the same texts, and prints
 * both and their ratio.  Each figure is the best of RUNS passes over the
 * texts; the lines it prints are "name bytes tokens seconds", one a
 * measure, for that script, after a header of comments.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "infer_tokenizer.h"

#include "../kernels/test/tok_corpus.h"


#define RUNS     7
#define MAX_IDS  65536


static int32_t  ids[MAX_IDS];


static double
now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec + ts.tv_nsec / 1e9;
}


/* the best of RUNS passes over the lines of kind (NULL: all) */
static void
measure(const infer_tokenizer_t *tok, const tc_corpus_t *c, const char *name,
    const char *kind, size_t max, int truncate)
{
    int      r;
    char     err[INFER_ERRLEN];
    size_t   i, n, bytes, tokens;
    double   t0, t, best;

    best = 1e30;
    bytes = 0;
    tokens = 0;

    for (r = 0; r < RUNS; r++) {
        bytes = 0;
        tokens = 0;
        t0 = now();

        for (i = 0; i < c->n; i++) {
            if (kind != NULL && strcmp(c->lines[i].kind, kind) != 0) {
                continue;
            }

            if (infer_tokenizer_encode(tok, c->lines[i].text, c->lines[i].len,
                                       ids, max, &n, truncate, err,
                                       sizeof(err))
                != 0)
            {
                fprintf(stderr, "bench_tokenizer: line %zu: %s\n", i + 1,
                        err);
                exit(1);
            }

            bytes += c->lines[i].len;
            tokens += n;
        }

        t = now() - t0;
        if (t < best) {
            best = t;
        }
    }

    printf("%s %zu %zu %.6f\n", name, bytes, tokens, best);
    fprintf(stderr, "%-28s %8.1f MB/s %8.2f Mtokens/s\n", name,
            bytes / best / 1e6, tokens / best / 1e6);
}


int
main(int argc, char **argv)
{
    char                err[INFER_ERRLEN], path[512];
    const char         *dir;
    tc_corpus_t         c;
    infer_tokenizer_t  *tok;

    dir = argc > 1 ? argv[1] : "t/fixtures/tokenizer";

    snprintf(path, sizeof(path), "%s/minilm/tokenizer.json", dir);
    tok = infer_tokenizer_load(path, err, sizeof(err));
    if (tok == NULL) {
        fprintf(stderr, "bench_tokenizer: %s (make fixtures)\n", err);
        return 1;
    }

    snprintf(path, sizeof(path), "%s/corpus.jsonl", dir);
    if (tc_load(&c, path, err, sizeof(err)) != 0) {
        fprintf(stderr, "bench_tokenizer: %s\n", err);
        return 1;
    }

    printf("# bench_tokenizer: %zu lines, %zu bytes, best of %d\n", c.n,
           c.bytes, RUNS);

    measure(tok, &c, "corpus", NULL, MAX_IDS, 0);
    measure(tok, &c, "corpus_truncated_128", NULL, 128, 1);
    measure(tok, &c, "english", "english", MAX_IDS, 0);
    measure(tok, &c, "long_text", "long_text", MAX_IDS, 0);

    tc_free(&c);
    infer_tokenizer_free(tok);

    return 0;
}
