/*
 * ngx_infer: the CPU backend's matrix product, y = x w^T (+ b).
 *
 * One row goes through OpenBLAS's sgemv: its sgemm with one row is
 * several times slower.  Batches of 2 to 64 rows, what a server at
 * moderate load makes, take the project's own product (infer_cpu_rows_avx2)
 * where the CPU has AVX2 and FMA: OpenBLAS's sgemm packs both operands on
 * every call, which for a few rows costs more than the arithmetic (2 rows
 * of mlp784 took 5 times as long as with ours, 8 rows twice as long).
 * Larger batches go to sgemm.  A product marked INFER_MATMUL_ROWWISE (a
 * decoder's) takes ours for any number of rows, 64 at a time, so that a
 * row gets the same bits alone as batched.  Weights are F32 here (the model converted
 * F16 and BF16 ones once, at load: infer_weight_t.f32), or GGUF's
 * quantized blocks, which infer_cpu_quant.c computes on as they are.
 */

#include <stdint.h>
#include <stdlib.h>

#include <string.h>

#include <cblas.h>

#if (defined __x86_64__ && defined __GNUC__)
#include <immintrin.h>
#define INFER_CPU_AVX2  1
#endif

#include "infer_cpu.h"


/*
 * Up to this many rows the batch goes through infer_cpu_rows_avx2(), past
 * it through sgemm: measured with bench/bench_backend on mlp784 and on
 * the 1024-4096-4096-1024 model (AMD EPYC, Zen 3), the two are even at
 * 64 to 128 rows; below, ours is faster, up to 5 times (2 rows).
 */
#define INFER_CPU_SMALL_BATCH  64


#if (INFER_CPU_AVX2)
static void infer_cpu_rows_avx2(const float *x, size_t ldx, int rows,
    const float *w, int n_in, int n_out, float *y, size_t ldy);
#endif


void
infer_cpu_matmul(infer_cpu_env_t *env, infer_tensor_t *t)
{
    int           rows, n_in, n_out, r, j;
    float        *y, *yr;
    size_t        ldx, ldy;
    const float  *x, *w, *b;

    x = t->src[0]->data;
    w = t->src[1]->data;
    b = t->src[2] ? t->src[2]->data : NULL;
    y = t->data;

    rows = (int) t->rows;
    n_in = (int) t->src[0]->cols;
    n_out = (int) t->cols;
    ldx = t->src[0]->nb / sizeof(float);
    ldy = t->nb / sizeof(float);

    if (rows == 0) {
        return;
    }

    if (infer_dtype_quantized(t->src[1]->type)) {
        infer_cpu_quant_matmul(env, t->src[1]->type, x, ldx, rows,
                               t->src[1]->data, n_in, n_out, y, ldy);

#if (INFER_CPU_AVX2)
    } else if (env->avx2 && (t->ip[0] & INFER_MATMUL_ROWWISE)) {
        /* one kernel for every batch: its rows sum in one order */
        for (r = 0; r < rows; r += INFER_CPU_SMALL_BATCH) {
            j = (rows - r > INFER_CPU_SMALL_BATCH) ? INFER_CPU_SMALL_BATCH
                                                   : rows - r;
            infer_cpu_rows_avx2(x + (size_t) r * ldx, ldx, j, w, n_in, n_out,
                                y + (size_t) r * ldy, ldy);
        }
#endif

    } else if (rows == 1) {
        cblas_sgemv(CblasRowMajor, CblasNoTrans, n_out, n_in, 1.0f, w, n_in,
                    x, 1, 0.0f, y, 1);

#if (INFER_CPU_AVX2)
    } else if (env->avx2 && rows <= INFER_CPU_SMALL_BATCH) {
        infer_cpu_rows_avx2(x, ldx, rows, w, n_in, n_out, y, ldy);
#endif

    } else if (b) {
        /*
         * The bias is the product's starting value (beta 1): sgemm's
         * pass that zeroes y and the pass that adds b become one copy
         */
        for (r = 0; r < rows; r++) {
            memcpy(y + (size_t) r * ldy, b, (size_t) n_out * sizeof(float));
        }

        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, n_out,
                    n_in, 1.0f, x, (int) ldx, w, n_in, 1.0f, y, (int) ldy);
        return;

    } else {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, n_out,
                    n_in, 1.0f, x, (int) ldx, w, n_in, 0.0f, y, (int) ldy);
    }

    if (b == NULL) {
        return;
    }

    for (r = 0; r < rows; r++) {
        yr = y + (size_t) r * ldy;

        for (j = 0; j < n_out; j++) {
            yr[j] += b[j];
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
 * Weight rows j0..j1 (three at a time) for nr input rows, ldx floats
 * apart (ldy for the outputs); nr (1..4) is a constant where this is
 * inlined, so the loops over it unroll.
 */

static inline __attribute__((always_inline, target("avx2,fma"))) void
infer_cpu_rows_block(const float *x, size_t ldx, int nr, const float *w,
    int n_in, int j0, int j1, float *y, size_t ldy)
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
                xv = _mm256_loadu_ps(x + (size_t) r * ldx + k);
                a0[r] = _mm256_fmadd_ps(v0, xv, a0[r]);
                a1[r] = _mm256_fmadd_ps(v1, xv, a1[r]);
                a2[r] = _mm256_fmadd_ps(v2, xv, a2[r]);
            }
        }

#pragma GCC unroll 4
        for (r = 0; r < nr; r++) {
            xr = x + (size_t) r * ldx;
            s0 = infer_cpu_hsum(a0[r]);
            s1 = infer_cpu_hsum(a1[r]);
            s2 = infer_cpu_hsum(a2[r]);

            for (k = n_in & ~7; k < n_in; k++) {
                xs = xr[k];
                s0 += w0[k] * xs;
                s1 += w1[k] * xs;
                s2 += w2[k] * xs;
            }

            y[(size_t) r * ldy + j] = s0;

            if (j + 1 < j1) {
                y[(size_t) r * ldy + j + 1] = s1;
            }

            if (j + 2 < j1) {
                y[(size_t) r * ldy + j + 2] = s2;
            }
        }
    }
}


static __attribute__((target("avx2,fma"))) void
infer_cpu_rows_avx2(const float *x, size_t ldx, int rows, const float *w,
    int n_in, int n_out, float *y, size_t ldy)
{
    int  j0, j1, jb, r;

    jb = INFER_CPU_L2_FLOATS / n_in;
    jb = (jb < 3) ? 3 : jb - jb % 3;

    for (j0 = 0; j0 < n_out; j0 = j1) {
        j1 = (n_out - j0 > jb) ? j0 + jb : n_out;

        for (r = 0; r + 4 <= rows; r += 4) {
            infer_cpu_rows_block(x + (size_t) r * ldx, ldx, 4, w, n_in, j0,
                                 j1, y + (size_t) r * ldy, ldy);
        }

        switch (rows - r) {
        case 3:
            infer_cpu_rows_block(x + (size_t) r * ldx, ldx, 3, w, n_in, j0,
                                 j1, y + (size_t) r * ldy, ldy);
            break;
        case 2:
            infer_cpu_rows_block(x + (size_t) r * ldx, ldx, 2, w, n_in, j0,
                                 j1, y + (size_t) r * ldy, ldy);
            break;
        case 1:
            infer_cpu_rows_block(x + (size_t) r * ldx, ldx, 1, w, n_in, j0,
                                 j1, y + (size_t) r * ldy, ldy);
            break;
        }
    }
}

#endif
