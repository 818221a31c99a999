/*
 * ngx_infer: the product with GGUF's quantized weights on one core
 * (kernels/cpu/infer_cpu_quant.c), against F32 weights of the same shape.
 *
 *   bench_quant [-n out] [-k in] [-t seconds] [-s MiB] [-c]
 *
 * For each block type, y = x W^T for W of out x in (4096 x 4096 by
 * default) and x of 1 and of 16 rows: at batch 1, the GB/s of weight
 * bytes streamed (a decoder's step reads every weight once, so this is
 * what bounds it); at batch 16, the GFLOP/s (2 out in flops a row), which
 * is what continuous batching buys if the weights are read once for the
 * 16 rows.  The weights are several copies of the matrix, taken in turn,
 * 160 MiB of them (-s), more than the last-level cache holds, so they
 * come from memory as a model's do (-s 1: from the caches, what the
 * arithmetic alone allows).  F32 rows: OpenBLAS's sgemv (batch 1) and sgemm (16),
 * and the backend's own F32 product (infer_cpu_matmul: sgemv for one row,
 * its AVX2 product for a few), on the same shape.  Each block type twice:
 * the F32-activation product (infer_cpu_quant.c, the backend's default)
 * and llama.cpp's way, x quantized to 8 bits and integer products
 * (infer_cpu_quant_q8.c).  -c adds the plain C path (no AVX2) at batch 1.
 *
 * Each figure is the best of 3 trials of seconds/3, in the thread's CPU
 * time (a process that shares the core takes wall time, not ours); run it
 * pinned to a core: make bench-quant does taskset -c 1 where taskset is.
 *
 * Build: make build/bench_quant.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cblas.h>

#include "infer_math.h"
#include "infer_ops.h"
#include "infer_quant.h"
#include "cpu/infer_cpu.h"


#define BQ_BATCH   16


typedef struct {
    infer_dtype_e     dt;
    int               how;          /* BQ_QUANT, BQ_SGEMV_SGEMM, BQ_OURS */
    int               avx2;
    int               avx512;       /* the same bits as AVX2's */
    int               q8;           /* x quantized to 8 bits first */
    int               rows;
    int64_t           n, k;
    int               copies;
    size_t            bytes;        /* one copy */
    unsigned char    *w;
    float            *x, *y;
    infer_cpu_env_t  *env;
} bq_case_t;

#define BQ_QUANT   0
#define BQ_BLAS    1
#define BQ_OURS    2


static uint64_t  bq_rng = 0x2545f4914f6cdd1dULL;


static uint32_t
bq_rand(void)
{
    bq_rng ^= bq_rng << 13;
    bq_rng ^= bq_rng >> 7;
    bq_rng ^= bq_rng << 17;

    return (uint32_t) (bq_rng >> 32);
}


static float
bq_randf(float lo, float hi)
{
    return lo + (hi - lo) * (float) (bq_rand() >> 8) / 16777216.0f;
}


static double
bq_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);

    return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}


/* random blocks (valid f16 scales near 0.01) or F32 values */
static void
bq_fill(infer_dtype_e dt, unsigned char *p, size_t bytes)
{
    int       at;
    size_t    i, bs;
    uint16_t  h;
    float     f;

    if (dt == INFER_DT_F32) {
        for (i = 0; i + 4 <= bytes; i += 4) {
            f = bq_randf(-0.05f, 0.05f);
            memcpy(p + i, &f, 4);
        }
        return;
    }

    for (i = 0; i < bytes; i++) {
        p[i] = (unsigned char) bq_rand();
    }

    bs = infer_dtype_block_size(dt);
    at = (dt == INFER_DT_Q6_K) ? 208 : 0;

    for (i = 0; i + bs <= bytes; i += bs) {
        h = infer_f32_to_f16(bq_randf(0.001f, 0.02f));
        p[i + at] = (unsigned char) h;
        p[i + at + 1] = (unsigned char) (h >> 8);

        if (dt == INFER_DT_Q4_1 || dt == INFER_DT_Q4_K
            || dt == INFER_DT_Q5_K)
        {
            h = infer_f32_to_f16(bq_randf(0.001f, 0.02f));
            p[i + 2] = (unsigned char) h;
            p[i + 3] = (unsigned char) (h >> 8);
        }
    }
}


static void
bq_run(bq_case_t *c, int copy)
{
    const unsigned char  *w;
    infer_tensor_t        tx, tw, ty;

    w = c->w + (size_t) copy * c->bytes;

    switch (c->how) {

    case BQ_QUANT:
        c->env->avx2 = c->avx2;
        c->env->avx512 = c->avx512;
        c->env->quant_q8 = c->q8;
        infer_cpu_quant_matmul(c->env, c->dt, c->x, (size_t) c->k, c->rows,
                               w, c->k, c->n, c->y, (size_t) c->n);
        c->env->avx2 = 1;
        c->env->avx512 = 0;
        c->env->quant_q8 = 0;
        return;

    case BQ_BLAS:
        if (c->rows == 1) {
            cblas_sgemv(CblasRowMajor, CblasNoTrans, (int) c->n, (int) c->k,
                        1.0f, (const float *) w, (int) c->k, c->x, 1, 0.0f,
                        c->y, 1);
        } else {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, c->rows,
                        (int) c->n, (int) c->k, 1.0f, c->x, (int) c->k,
                        (const float *) w, (int) c->k, 0.0f, c->y,
                        (int) c->n);
        }
        return;

    default:
        /* the backend's own F32 product, as a graph's node reaches it */
        memset(&tx, 0, sizeof(tx));
        memset(&tw, 0, sizeof(tw));
        memset(&ty, 0, sizeof(ty));
        tx.type = INFER_DT_F32;
        tx.rows = c->rows;
        tx.cols = c->k;
        tx.nb = (size_t) c->k * 4;
        tx.data = c->x;
        tw.type = INFER_DT_F32;
        tw.rows = c->n;
        tw.cols = c->k;
        tw.nb = (size_t) c->k * 4;
        tw.data = (void *) w;
        ty.op = INFER_OP_MATMUL;
        ty.type = INFER_DT_F32;
        ty.rows = c->rows;
        ty.cols = c->n;
        ty.nb = (size_t) c->n * 4;
        ty.data = c->y;
        ty.src[0] = &tx;
        ty.src[1] = &tw;
        infer_cpu_matmul(c->env, &ty);
        return;
    }
}


/* seconds per product: the best of 3 trials' means */
static double
bq_time(bq_case_t *c, double seconds)
{
    int     trial, calls, copy;
    double  t0, t, best;

    best = 1e30;
    copy = 0;
    bq_run(c, copy);

    for (trial = 0; trial < 3; trial++) {
        calls = 0;
        t0 = bq_now();

        do {
            copy = (copy + 1) % c->copies;
            bq_run(c, copy);
            calls++;
            t = bq_now() - t0;
        } while (t < seconds / 3 || calls < 3);

        if (t / calls < best) {
            best = t / calls;
        }
    }

    return best;
}


int
main(int argc, char **argv)
{
    int               opt, i, t, cflag;
    double            seconds, s1, s16, flops, bits;
    char              name[64];
    int64_t           n, k, j, stream;
    const char       *what;
    bq_case_t         c;
    infer_cpu_env_t   env;

    /* F32 twice (OpenBLAS, ours), each block type with F32 x (AVX2 and
     * AVX-512: the same bits), 8-bit x */
    static const struct {
        infer_dtype_e     dt;
        int               how, q8, avx512;
    } types[] = {
        { INFER_DT_F32, BQ_BLAS, 0, 0 }, { INFER_DT_F32, BQ_OURS, 0, 0 },
#define BQ_TYPE(dt)                                                           \
        { dt, BQ_QUANT, 0, 0 }, { dt, BQ_QUANT, 0, 1 }, { dt, BQ_QUANT, 1, 0 }
        BQ_TYPE(INFER_DT_Q8_0), BQ_TYPE(INFER_DT_Q4_0), BQ_TYPE(INFER_DT_Q4_1),
        BQ_TYPE(INFER_DT_Q4_K), BQ_TYPE(INFER_DT_Q5_K), BQ_TYPE(INFER_DT_Q6_K)
    };

#define BQ_NTYPES  (int) (sizeof(types) / sizeof(types[0]))

    n = 4096;
    k = 4096;
    seconds = 1.5;
    cflag = 0;

    stream = 160;

    while ((opt = getopt(argc, argv, "n:k:t:s:c")) != -1) {
        switch (opt) {
        case 'n':
            n = atoll(optarg);
            break;
        case 'k':
            k = atoll(optarg);
            break;
        case 't':
            seconds = atof(optarg);
            break;
        case 's':
            stream = atoll(optarg);
            break;
        case 'c':
            cflag = 1;
            break;
        default:
            fprintf(stderr, "usage: bench_quant [-n out] [-k in] "
                    "[-t seconds] [-s MiB] [-c]\n");
            return 2;
        }
    }

    if (n < 1 || k < 256 || k % 256) {
        fprintf(stderr, "bench_quant: -k must be a multiple of 256\n");
        return 2;
    }

    openblas_set_num_threads(1);
    memset(&env, 0, sizeof(env));
    env.avx2 = infer_cpu_quant_avx2();

    printf("W [%lld, %lld], x [1, %lld] and [%d, %lld]; one core; "
           "AVX2+FMA+F16C: %s; AVX-512: %s\n\n", (long long) n, (long long) k,
           (long long) k, BQ_BATCH, (long long) k, env.avx2 ? "yes" : "no",
           infer_cpu_quant_avx512() ? "yes" : "no");
    printf("| weights | bits/weight | batch 1: ms | GB/s of weights | "
           "GFLOP/s | batch %d: ms | GFLOP/s | speed-up per row |\n", BQ_BATCH);
    printf("| --- | --- | --- | --- | --- | --- | --- | --- |\n");
    fflush(stdout);

    for (t = 0; t < BQ_NTYPES + cflag; t++) {
        if (t < BQ_NTYPES && types[t].avx512 && !infer_cpu_quant_avx512()) {
            continue;
        }

        memset(&c, 0, sizeof(c));
        c.dt = (t < BQ_NTYPES) ? types[t].dt : INFER_DT_Q4_K;
        c.how = (t < BQ_NTYPES) ? types[t].how : BQ_QUANT;
        c.avx2 = (t < BQ_NTYPES) ? env.avx2 : 0;
        c.avx512 = (t < BQ_NTYPES) ? types[t].avx512 : 0;
        c.q8 = (t < BQ_NTYPES) ? types[t].q8 : 0;
        c.n = n;
        c.k = k;
        c.env = &env;
        c.bytes = (size_t) n * infer_dtype_row_size(c.dt, k);
        c.copies = (int) (((size_t) stream << 20) / c.bytes);
        c.copies = (c.copies < 1) ? 1 : c.copies;
        c.w = malloc(c.bytes * (size_t) c.copies);
        c.x = malloc((size_t) (BQ_BATCH * k) * sizeof(float));
        c.y = malloc((size_t) (BQ_BATCH * n) * sizeof(float));

        if (c.w == NULL || c.x == NULL || c.y == NULL) {
            fprintf(stderr, "bench_quant: out of memory\n");
            return 1;
        }

        for (i = 0; i < c.copies; i++) {
            bq_fill(c.dt, c.w + (size_t) i * c.bytes, c.bytes);
        }

        for (j = 0; j < BQ_BATCH * k; j++) {
            c.x[j] = bq_randf(-1.0f, 1.0f);
        }

        c.rows = 1;
        s1 = bq_time(&c, seconds);
        s16 = 0.0;

        /* the plain C path at batch 1 only: it is slow */
        if (t < BQ_NTYPES) {
            c.rows = BQ_BATCH;
            s16 = bq_time(&c, seconds);
        }

        flops = 2.0 * (double) n * (double) k;
        snprintf(name, sizeof(name), "%s, %s", infer_dtype_name(c.dt),
                 (t == BQ_NTYPES) ? "plain C (no AVX2)"
                 : c.q8 ? "x to 8 bits, integer products"
                 : c.avx512 ? "F32 x, AVX-512" : "F32 x");
        what = (t == 0) ? "F32, OpenBLAS sgemv / sgemm"
               : (t == 1) ? "F32, infer_cpu_matmul (sgemv / AVX2 rows)"
               : name;
        bits = 8.0 * (double) infer_dtype_block_size(c.dt)
               / (double) infer_dtype_block(c.dt);

        if (s16 > 0.0) {
            printf("| %s | %.4g | %.3f | %.1f | %.1f | %.3f | %.1f | %.1f |\n",
                   what, bits, s1 * 1e3, (double) c.bytes / s1 * 1e-9,
                   flops / s1 * 1e-9, s16 * 1e3,
                   BQ_BATCH * flops / s16 * 1e-9, BQ_BATCH * s1 / s16);
        } else {
            printf("| %s | %.4g | %.3f | %.1f | %.1f | | | |\n", what, bits,
                   s1 * 1e3, (double) c.bytes / s1 * 1e-9,
                   flops / s1 * 1e-9);
        }

        fflush(stdout);
        free(c.w);
        free(c.x);
        free(c.y);
    }

    free(env.work);

    return 0;
}
