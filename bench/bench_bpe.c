/*
 * The byte-level BPE's speed on one core: MB/s of UTF-8 text and
 * tokens/s, encoding the lines of its parity corpus (t/lib/
 * gen_bpe_corpus.py, make fixtures) with SmolLM2's tokenizer, one text a
 * call with one state, as an executor thread does it, the special tokens
 * matched (as tokenizers matches them); and decoding the ids back, whole
 * and through the stream decoder.
 *
 *     make build/bench_bpe && build/bench_bpe [DIR]
 *
 * DIR is t/fixtures/bpe by default.  bench/bench_bpe_hf.py runs this and
 * Hugging Face's `tokenizers` on the same texts with the same
 * tokenizer.json, and prints both and their ratio.  Each figure is the
 * best of RUNS passes; the lines it prints are "name bytes tokens
 * seconds", one a measure, for that script, after a header of comments.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "infer_bpe.h"

#include "../kernels/test/tok_corpus.h"


#define RUNS     7
#define MAX_IDS  (1024 * 1024)


static int32_t  ids[MAX_IDS];
static char     text[4 * MAX_IDS];


static double
now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec + ts.tv_nsec / 1e9;
}


static void
report(const char *name, size_t bytes, size_t tokens, double best)
{
    printf("%s %zu %zu %.6f\n", name, bytes, tokens, best);
    fprintf(stderr, "%-24s %8.1f MB/s %8.2f Mtokens/s\n", name,
            bytes / best / 1e6, tokens / best / 1e6);
}


/* the best of RUNS passes over the lines of kind (NULL: all) */
static void
encode(const infer_bpe_t *bpe, infer_bpe_state_t *st, const tc_corpus_t *c,
    const char *name, const char *kind)
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

            if (infer_bpe_encode(bpe, st, c->lines[i].text, c->lines[i].len,
                                 INFER_BPE_SPECIAL, ids, MAX_IDS, &n, err,
                                 sizeof(err))
                != 0)
            {
                fprintf(stderr, "bench_bpe: line %zu: %s\n", i + 1, err);
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

    report(name, bytes, tokens, best);
}


/* the corpus's ids back to text: whole, and token by token */
static void
decode(const infer_bpe_t *bpe, infer_bpe_state_t *st, const tc_corpus_t *c,
    int stream)
{
    int                  r;
    char                 err[INFER_ERRLEN], piece[16384];
    size_t               i, k, n, len, plen, bytes, tokens;
    double               t0, best;
    int32_t             *all;
    size_t              *start;
    infer_bpe_stream_t   s;

    all = malloc(32 * MAX_IDS * sizeof(int32_t));
    start = malloc((c->n + 1) * sizeof(size_t));
    if (all == NULL || start == NULL
        || infer_bpe_stream_max(bpe) > sizeof(piece))
    {
        exit(2);
    }

    for (i = 0, k = 0; i < c->n; i++) {
        start[i] = k;
        if (infer_bpe_encode(bpe, st, c->lines[i].text, c->lines[i].len,
                             INFER_BPE_SPECIAL, all + k, 32 * MAX_IDS - k,
                             &n, err, sizeof(err)) != 0)
        {
            exit(1);
        }
        k += n;
    }

    start[c->n] = k;
    tokens = k;
    best = 1e30;
    bytes = 0;

    for (r = 0; r < RUNS; r++) {
        bytes = 0;
        t0 = now();

        for (i = 0; i < c->n; i++) {
            n = start[i + 1] - start[i];

            if (!stream) {
                infer_bpe_decode(bpe, all + start[i], n, INFER_BPE_SPECIAL,
                                 text, sizeof(text), &len, err, sizeof(err));
                bytes += len;
                continue;
            }

            infer_bpe_stream_init(&s, INFER_BPE_SPECIAL);

            for (k = 0; k < n; k++) {
                infer_bpe_stream_push(bpe, &s, all[start[i] + k], piece,
                                      &plen);
                bytes += plen;
            }

            infer_bpe_stream_flush(&s, piece, &plen);
            bytes += plen;
        }

        t0 = now() - t0;
        if (t0 < best) {
            best = t0;
        }
    }

    report(stream ? "decode_stream" : "decode", bytes, tokens, best);

    free(all);
    free(start);
}


int
main(int argc, char **argv)
{
    char                err[INFER_ERRLEN], path[512];
    const char         *dir;
    tc_corpus_t         c;
    infer_bpe_t        *bpe;
    infer_bpe_state_t  *st;

    dir = argc > 1 ? argv[1] : "t/fixtures/bpe";

    snprintf(path, sizeof(path), "%s/smollm2/tokenizer.json", dir);
    bpe = infer_bpe_load(path, err, sizeof(err));
    if (bpe == NULL) {
        fprintf(stderr, "bench_bpe: %s (make fixtures)\n", err);
        return 1;
    }

    snprintf(path, sizeof(path), "%s/corpus.jsonl", dir);
    if (tc_load(&c, path, err, sizeof(err)) != 0) {
        fprintf(stderr, "bench_bpe: %s\n", err);
        return 1;
    }

    st = infer_bpe_state_create(bpe);
    if (st == NULL) {
        return 2;
    }

    printf("# bench_bpe: %zu lines, %zu bytes, best of %d\n", c.n, c.bytes,
           RUNS);

    encode(bpe, st, &c, "corpus", NULL);
    encode(bpe, st, &c, "english", "english");
    encode(bpe, st, &c, "code", "code");
    encode(bpe, st, &c, "chat", "chat");
    encode(bpe, st, &c, "cjk", "cjk");
    decode(bpe, st, &c, 0);
    decode(bpe, st, &c, 1);

    infer_bpe_state_free(st);
    tc_free(&c);
    infer_bpe_free(bpe);

    return 0;
}
