/*
 * ngx_infer: the CPU backend, OpenBLAS for the products and infer_math.h
 * for everything per element, the same numerics the CUDA kernels use.
 *
 * Activations ping-pong between two scratch buffers of max_batch rows of
 * the widest layer; the last layer writes straight into the caller's out.
 *
 * Batches of 2 to 64 rows, what a server at moderate load makes, take
 * their own product (infer_cpu_rows_avx2) where the CPU has AVX2 and FMA:
 * OpenBLAS's sgemm packs both operands on every call, which for a few rows
 * costs more than the arithmetic (2 rows of mlp784 took 5 times as long as
 * with ours, 8 rows twice as long).  One row stays with sgemv.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cblas.h>

#if (defined __x86_64__ && defined __GNUC__)
#include <immintrin.h>
#define INFER_CPU_AVX2  1
#endif

#include "infer_backend.h"
#include "infer_math.h"


/*
 * Up to this many rows the batch goes through infer_cpu_rows_avx2(), past
 * it through sgemm: measured with bench/bench_backend on mlp784 and on
 * the 1024-4096-4096-1024 model (AMD EPYC, Zen 3), the two are even at
 * 64 to 128 rows; below, ours is faster, up to 5 times (2 rows).
 */
#define INFER_CPU_SMALL_BATCH  64


typedef struct {
    const infer_model_t  *model;
    int                   max_batch;
    int                   avx2;      /* the CPU has AVX2 and FMA */
    float                *buf[2];
} infer_cpu_ctx_t;


static const char *infer_cpu_name(infer_backend_t *b);
static int infer_cpu_load(infer_backend_t *b, const infer_model_t *m,
    int max_batch, char *err, size_t errlen);
static int infer_cpu_run(infer_backend_t *b, const float *in, int rows,
    float *out, char *err, size_t errlen);
static void infer_cpu_bias_act(float *y, const infer_layer_t *l, int rows);
#if (INFER_CPU_AVX2)
static void infer_cpu_rows_avx2(const float *x, int rows, const float *w,
    int n_in, int n_out, float *y);
#endif
static int infer_cpu_synchronize(infer_backend_t *b, char *err,
    size_t errlen);
static void infer_cpu_free(infer_backend_t *b);


static const infer_backend_iface_t  infer_cpu_iface = {
    /* .name        = */ infer_cpu_name,
    /* .load        = */ infer_cpu_load,
    /* .run         = */ infer_cpu_run,
    /* .synchronize = */ infer_cpu_synchronize,
    /* .free        = */ infer_cpu_free,
};


infer_backend_t *
infer_backend_cpu_new(char *err, size_t errlen)
{
    infer_backend_t  *b;
    infer_cpu_ctx_t  *ctx;

    b = malloc(sizeof(infer_backend_t));
    ctx = calloc(1, sizeof(infer_cpu_ctx_t));

    if (b == NULL || ctx == NULL) {
        free(b);
        free(ctx);
        snprintf(err, errlen, "cpu: out of memory");
        return NULL;
    }

    b->iface = &infer_cpu_iface;
    b->context = ctx;

#if (INFER_CPU_AVX2)
    ctx->avx2 = __builtin_cpu_supports("avx2")
                && __builtin_cpu_supports("fma");
#endif

    /*
     * One executor, one core: executors are the unit of parallelism, and
     * OpenBLAS's own threads would fight them, and each other, for cores.
     */
    openblas_set_num_threads(1);

    return b;
}


static const char *
infer_cpu_name(infer_backend_t *b)
{
    (void) b;

    return "cpu";
}


static int
infer_cpu_load(infer_backend_t *b, const infer_model_t *m, int max_batch,
    char *err, size_t errlen)
{
    int               i;
    size_t            n;
    infer_cpu_ctx_t  *ctx;

    ctx = b->context;

    if (max_batch < 1) {
        snprintf(err, errlen, "cpu: max_batch %d is not positive",
                 max_batch);
        return -1;
    }

    if (m->max_width < 1
        || (uint64_t) m->max_width > SIZE_MAX / sizeof(float) / max_batch)
    {
        snprintf(err, errlen, "cpu: %d rows of %lld values do not fit in "
                 "memory", max_batch, (long long) m->max_width);
        return -1;
    }

    n = (size_t) max_batch * (size_t) m->max_width * sizeof(float);

    for (i = 0; i < 2; i++) {
        free(ctx->buf[i]);

        ctx->buf[i] = malloc(n);
        if (ctx->buf[i] == NULL) {
            snprintf(err, errlen, "cpu: out of memory for %zu bytes of "
                     "scratch", n);
            ctx->model = NULL;
            return -1;
        }
    }

    ctx->model = m;
    ctx->max_batch = max_batch;

    return 0;
}


static int
infer_cpu_run(infer_backend_t *b, const float *in, int rows, float *out,
    char *err, size_t errlen)
{
    int                   i, r;
    float                *y;
    const float          *x;
    infer_cpu_ctx_t      *ctx;
    const infer_layer_t  *l;
    const infer_model_t  *m;

    ctx = b->context;
    m = ctx->model;

    if (m == NULL) {
        snprintf(err, errlen, "cpu: no model loaded");
        return -1;
    }

    if (rows < 0 || rows > ctx->max_batch) {
        snprintf(err, errlen, "cpu: batch of %d rows, max_batch is %d", rows,
                 ctx->max_batch);
        return -1;
    }

    if (rows == 0) {
        return 0;
    }

    x = in;

    for (i = 0; i < m->nlayers; i++) {
        l = &m->layers[i];
        y = (i == m->nlayers - 1) ? out : ctx->buf[i & 1];

        if (rows == 1) {
            /* OpenBLAS's sgemm with one row is several times slower */
            cblas_sgemv(CblasRowMajor, CblasNoTrans, l->out, l->in, 1.0f,
                        l->w, l->in, x, 1, 0.0f, y, 1);

#if (INFER_CPU_AVX2)
        } else if (ctx->avx2 && rows <= INFER_CPU_SMALL_BATCH) {
            infer_cpu_rows_avx2(x, rows, l->w, l->in, l->out, y);
#endif

        } else {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows,
                        l->out, l->in, 1.0f, x, l->in, l->w, l->in, 0.0f,
                        y, l->out);
        }

        infer_cpu_bias_act(y, l, rows);

        x = y;
    }

    if (m->output_softmax) {
        for (r = 0; r < rows; r++) {
            infer_softmax_row(out + (size_t) r * m->output_size,
                              out + (size_t) r * m->output_size,
                              (int) m->output_size);
        }
    }

    return 0;
}


static void
infer_cpu_bias_act(float *y, const infer_layer_t *l, int rows)
{
    int           r, j, n;
    const float  *bias;

    n = l->out;
    bias = l->b;

    if (bias == NULL && l->act == INFER_ACT_NONE) {
        return;
    }

    for (r = 0; r < rows; r++, y += n) {

        if (bias != NULL) {
            for (j = 0; j < n; j++) {
                y[j] += bias[j];
            }
        }

        /* one loop per activation: the switch stays out of the inner loop */
        switch (l->act) {
        case INFER_ACT_RELU:
            for (j = 0; j < n; j++) {
                y[j] = infer_relu(y[j]);
            }
            break;
        case INFER_ACT_GELU:
            for (j = 0; j < n; j++) {
                y[j] = infer_gelu(y[j]);
            }
            break;
        case INFER_ACT_TANH:
            for (j = 0; j < n; j++) {
                y[j] = infer_tanh(y[j]);
            }
            break;
        case INFER_ACT_SIGMOID:
            for (j = 0; j < n; j++) {
                y[j] = infer_sigmoid(y[j]);
            }
            break;
        case INFER_ACT_NONE:
            break;
        }
    }
}


#if (INFER_CPU_AVX2)

/*
 * y = x w^T for a few rows of x (rows x n_in) and the weights w (n_out x
 * n_in, row-major, as PyTorch stores a Linear layer).  The outputs are
 * computed in blocks of weight rows small enough to stay in L2 while every
 * group of four input rows passes over them, so the weights come from
 * memory once per batch.  Three weight rows by four input rows make twelve
 * independent FMA chains in sixteen registers, seven loads for twelve
 * FMAs: about 90% of the core's FMA peak from 4 rows on (two chains per
 * weight row reached 60%).
 */

#define INFER_CPU_L2_FLOATS  (64 * 1024)


static inline __attribute__((always_inline, target("avx2,fma"))) float
infer_cpu_hsum(__m256 v)
{
    __m128  s;

    s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));

    return _mm_cvtss_f32(s);
}


/*
 * Weight rows j0..j1 (three at a time) for nr input rows; nr (1..4) is a
 * constant where this is inlined, so the loops over it unroll.
 */

static inline __attribute__((always_inline, target("avx2,fma"))) void
infer_cpu_rows_block(const float *x, int nr, const float *w, int n_in,
    int j0, int j1, float *y, int n_out)
{
    int           j, k, r;
    float         s0, s1, s2, xs;
    __m256        a0[4], a1[4], a2[4], v0, v1, v2, xv;
    const float  *w0, *w1, *w2, *xr;

    for (j = j0; j < j1; j += 3) {
        w0 = w + (size_t) j * n_in;
        w1 = (j + 1 < j1) ? w0 + n_in : w0;
        w2 = (j + 2 < j1) ? w0 + 2 * n_in : w0;

#pragma GCC unroll 4
        for (r = 0; r < nr; r++) {
            a0[r] = _mm256_setzero_ps();
            a1[r] = _mm256_setzero_ps();
            a2[r] = _mm256_setzero_ps();
        }

        for (k = 0; k + 8 <= n_in; k += 8) {
            v0 = _mm256_loadu_ps(w0 + k);
            v1 = _mm256_loadu_ps(w1 + k);
            v2 = _mm256_loadu_ps(w2 + k);

#pragma GCC unroll 4
            for (r = 0; r < nr; r++) {
                xv = _mm256_loadu_ps(x + (size_t) r * n_in + k);
                a0[r] = _mm256_fmadd_ps(v0, xv, a0[r]);
                a1[r] = _mm256_fmadd_ps(v1, xv, a1[r]);
                a2[r] = _mm256_fmadd_ps(v2, xv, a2[r]);
            }
        }

#pragma GCC unroll 4
        for (r = 0; r < nr; r++) {
            xr = x + (size_t) r * n_in;
            s0 = infer_cpu_hsum(a0[r]);
            s1 = infer_cpu_hsum(a1[r]);
            s2 = infer_cpu_hsum(a2[r]);

            for (k = n_in & ~7; k < n_in; k++) {
                xs = xr[k];
                s0 += w0[k] * xs;
                s1 += w1[k] * xs;
                s2 += w2[k] * xs;
            }

            y[(size_t) r * n_out + j] = s0;

            if (j + 1 < j1) {
                y[(size_t) r * n_out + j + 1] = s1;
            }

            if (j + 2 < j1) {
                y[(size_t) r * n_out + j + 2] = s2;
            }
        }
    }
}


static __attribute__((target("avx2,fma"))) void
infer_cpu_rows_avx2(const float *x, int rows, const float *w, int n_in,
    int n_out, float *y)
{
    int  j0, j1, jb, r;

    jb = INFER_CPU_L2_FLOATS / n_in;
    jb = (jb < 3) ? 3 : jb - jb % 3;

    for (j0 = 0; j0 < n_out; j0 = j1) {
        j1 = (n_out - j0 > jb) ? j0 + jb : n_out;

        for (r = 0; r + 4 <= rows; r += 4) {
            infer_cpu_rows_block(x + (size_t) r * n_in, 4, w, n_in, j0, j1,
                                 y + (size_t) r * n_out, n_out);
        }

        switch (rows - r) {
        case 3:
            infer_cpu_rows_block(x + (size_t) r * n_in, 3, w, n_in, j0, j1,
                                 y + (size_t) r * n_out, n_out);
            break;
        case 2:
            infer_cpu_rows_block(x + (size_t) r * n_in, 2, w, n_in, j0, j1,
                                 y + (size_t) r * n_out, n_out);
            break;
        case 1:
            infer_cpu_rows_block(x + (size_t) r * n_in, 1, w, n_in, j0, j1,
                                 y + (size_t) r * n_out, n_out);
            break;
        }
    }
}

#endif


static int
infer_cpu_synchronize(infer_backend_t *b, char *err, size_t errlen)
{
    (void) b;
    (void) err;
    (void) errlen;

    return 0;
}


static void
infer_cpu_free(infer_backend_t *b)
{
    infer_cpu_ctx_t  *ctx;

    if (b == NULL) {
        return;
    }

    ctx = b->context;

    if (ctx != NULL) {
        free(ctx->buf[0]);
        free(ctx->buf[1]);
        free(ctx);
    }

    free(b);
}
