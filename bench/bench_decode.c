/*
 * ngx_infer: a decoder's generation steps on the CPU backend, without
 * nginx: what the executor computes for each token (infer_gen.h), timed
 * in the thread's CPU time, so that a process sharing the core does not
 * count.
 *
 *   bench_decode [-t seconds] [-b 1,4,16] [-p fp32,q8] [-n prompt] FILE
 *
 * For each precision and batch size: b sequences of a prompt of n tokens
 * (default 32) are prefilled, then decoded together, each step one token
 * of every sequence, greedy (the argmax of the logits); tokens per CPU
 * second of the steps alone, and the milliseconds of one step.  A
 * sequence that reaches the context starts again.  Run it pinned to a
 * core: make bench-decode does taskset -c 1 where taskset is.
 *
 * Build: make build/bench_decode.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "infer_backend.h"
#include "infer_gen.h"
#include "infer_model.h"
#include "infer_precision.h"
#include "infer_runner.h"


#define BD_MAX_SEQS  64
#define BD_CTX       512


typedef struct {
    infer_gen_seq_t   seq;
    int32_t           tokens[BD_CTX];
    int32_t           table[BD_CTX];
} bd_seq_t;


static double
bd_cpu_seconds(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);

    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}


static int32_t
bd_argmax(const float *v, int n)
{
    int  i, best;

    best = 0;

    for (i = 1; i < n; i++) {
        if (v[i] > v[best]) {
            best = i;
        }
    }

    return best;
}


static void
bd_prompt(bd_seq_t *s, int k, int n_prompt, int vocab)
{
    int  i;

    memset(&s->seq, 0, sizeof(s->seq));

    /* a different prompt each sequence, in the vocabulary's middle */
    for (i = 0; i < n_prompt; i++) {
        s->tokens[i] = (int32_t) ((1000 + 37 * k + 101 * i) % vocab);
    }

    s->seq.id = (uint64_t) k + 1;
    s->seq.tokens = s->tokens;
    s->seq.table = s->table;
    s->seq.n_prompt = n_prompt;
    s->seq.n_tokens = n_prompt;
    s->seq.cap = BD_CTX;
}


/* tokens per CPU second over about seconds of decoding, or -1 */
static double
bd_run(infer_model_t *m, int precision, int batch, int n_prompt,
    double seconds, double *step_ms)
{
    int               i, n_ready, steps, tokens, rc;
    char              err[256];
    double            t0, spent;
    bd_seq_t         *s;
    infer_gen_t       gen;
    infer_runner_t    r;
    infer_backend_t  *b;
    infer_gen_seq_t  *ready[BD_MAX_SEQS];

    s = calloc((size_t) batch, sizeof(bd_seq_t));
    b = infer_backend_cpu_new(precision, err, sizeof(err));

    if (s == NULL || b == NULL
        || infer_runner_init(&r, m, b, BD_MAX_SEQS, 64, err, sizeof(err))
           != 0
        || infer_gen_init(&gen, &r, batch * (BD_CTX / 16), 16, BD_CTX,
                          BD_MAX_SEQS, 64, BD_MAX_SEQS, err, sizeof(err))
           != 0)
    {
        fprintf(stderr, "bench_decode: %s\n", err);
        exit(1);
    }

    for (i = 0; i < batch; i++) {
        bd_prompt(&s[i], i, n_prompt, gen.vocab);
        (void) infer_gen_add(&gen, &s[i].seq);
    }

    /* the prompts, untimed: until every sequence decodes */
    for (tokens = 0; tokens < batch; ) {
        if (infer_gen_step(&gen, ready, &n_ready, err, sizeof(err)) != 0) {
            fprintf(stderr, "bench_decode: %s\n", err);
            exit(1);
        }

        for (i = 0; i < n_ready; i++) {
            infer_gen_append(ready[i], bd_argmax(ready[i]->logits,
                                                 gen.vocab));
            tokens++;
        }
    }

    steps = 0;
    tokens = 0;
    spent = 0;

    while (spent < seconds) {
        t0 = bd_cpu_seconds();
        rc = infer_gen_step(&gen, ready, &n_ready, err, sizeof(err));
        spent += bd_cpu_seconds() - t0;

        if (rc != 0) {
            fprintf(stderr, "bench_decode: %s\n", err);
            exit(1);
        }

        steps++;
        tokens += n_ready;

        for (i = 0; i < n_ready; i++) {
            if (ready[i]->n_tokens + 1 >= ready[i]->cap) {
                /* the context is full: the sequence starts again */
                infer_gen_remove(&gen, ready[i]);
                bd_prompt((bd_seq_t *) ready[i], (int) ready[i]->id, n_prompt,
                          gen.vocab);
                (void) infer_gen_add(&gen, ready[i]);
                continue;
            }

            infer_gen_append(ready[i], bd_argmax(ready[i]->logits,
                                                 gen.vocab));
        }
    }

    *step_ms = 1e3 * spent / steps;

    infer_gen_free(&gen);
    infer_runner_free(&r);
    b->iface->free(b);
    free(s);

    return tokens / spent;
}


int
main(int argc, char **argv)
{
    int             c, nb, np, batches[16], precs[8], n_prompt, i, j;
    char           *p, err[256];
    double          seconds, tps, ms;
    infer_model_t  *m;

    seconds = 3;
    n_prompt = 32;
    nb = 3;
    batches[0] = 1;
    batches[1] = 4;
    batches[2] = 16;
    np = 2;
    precs[0] = INFER_PRECISION_FP32;
    precs[1] = INFER_PRECISION_Q8;

    while ((c = getopt(argc, argv, "t:b:p:n:")) != -1) {
        switch (c) {
        case 't':
            seconds = atof(optarg);
            break;
        case 'n':
            n_prompt = atoi(optarg);
            break;
        case 'b':
            for (nb = 0, p = strtok(optarg, ","); p && nb < 16;
                 p = strtok(NULL, ","))
            {
                batches[nb] = atoi(p);

                if (batches[nb] < 1 || batches[nb] > BD_MAX_SEQS) {
                    fprintf(stderr, "bench_decode: batch %s: 1 to %d\n", p,
                            BD_MAX_SEQS);
                    return 2;
                }

                nb++;
            }
            break;
        case 'p':
            for (np = 0, p = strtok(optarg, ","); p && np < 8;
                 p = strtok(NULL, ","))
            {
                precs[np] = infer_precision_parse(p, strlen(p));

                if (precs[np] != INFER_PRECISION_FP32
                    && precs[np] != INFER_PRECISION_Q8)
                {
                    fprintf(stderr, "bench_decode: precision %s: fp32 or "
                            "q8\n", p);
                    return 2;
                }

                np++;
            }
            break;
        default:
            fprintf(stderr, "usage: bench_decode [-t seconds] [-b 1,4,16] "
                    "[-p fp32,q8] [-n prompt] FILE\n");
            return 2;
        }
    }

    if (optind != argc - 1 || n_prompt < 1 || n_prompt > BD_CTX / 2) {
        fprintf(stderr, "usage: bench_decode [-t seconds] [-b 1,4,16] "
                "[-p fp32,q8] [-n prompt 1..%d] FILE\n", BD_CTX / 2);
        return 2;
    }

    m = infer_model_load(argv[optind], err, sizeof(err));
    if (m == NULL) {
        fprintf(stderr, "bench_decode: %s\n", err);
        return 1;
    }

    printf("%s; one thread, CPU time; prompts of %d tokens, then greedy "
           "decoding\n\n", argv[optind], n_prompt);
    printf("| precision | sequences | tokens/s | ms a step |\n");
    printf("| --- | ---: | ---: | ---: |\n");

    for (i = 0; i < np; i++) {
        for (j = 0; j < nb; j++) {
            tps = bd_run(m, precs[i], batches[j], n_prompt, seconds, &ms);
            printf("| %s | %d | %.1f | %.2f |\n",
                   infer_precision_name(precs[i]), batches[j], tps, ms);
            fflush(stdout);
        }
    }

    infer_model_free(m);

    return 0;
}
