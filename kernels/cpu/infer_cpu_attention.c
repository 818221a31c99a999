/*
 * ngx_infer: attention over a ragged batch on the CPU.
 *
 * Each sequence attends to its own tokens (up to itself when causal),
 * each head on its own, query heads sharing key and value heads in
 * groups.  For a sequence of n tokens and a head of d dimensions: the
 * scores Q Kᵀ (n x n), a softmax per row, and P V (n x d).  Q, K and V
 * are column blocks of wider matrices (a fused QKV, the heads side by
 * side), which sgemm reads in place through their row strides, and P V is
 * written straight into the head's columns of the output.
 *
 * Sequences of fewer than 4 tokens go through plain loops, where sgemm's
 * call would cost more than its products; from 4 on, sgemm wins (12-token
 * texts: a batch of 64 is 5% faster than with loops up to 16).
 */

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cblas.h>

#include "infer_cpu.h"


/* shorter sequences take the loops */
#define INFER_CPU_ATT_GEMM  4


static void infer_cpu_att_softmax(int avx2, float *sc, int64_t n,
    int64_t e);
static void infer_cpu_att_gemm(int avx2, const float *q, const float *k,
    const float *v, float *y, int64_t n, int d, float scale, int causal,
    size_t ldq, size_t ldk, size_t ldv, size_t ldy, float *sc);
static void infer_cpu_att_loops(int avx2, const float *q, const float *k,
    const float *v, float *y, int64_t n, int d, float scale, int causal,
    size_t ldq, size_t ldk, size_t ldv, size_t ldy, float *sc);


int
infer_cpu_attention(infer_cpu_env_t *env, infer_tensor_t *t, char *err,
    size_t errlen)
{
    int                 heads, kvh, d, causal, h, hk, group;
    float               scale, *sc;
    size_t              ldq, ldk, ldv, ldy;
    int64_t             s, i, n, most;
    const infer_seq_t  *seq;

    heads = t->ip[0];
    kvh = t->ip[1];
    d = t->ip[2];
    causal = t->ip[3];
    scale = t->fp[0] != 0.0f ? t->fp[0] : 1.0f / sqrtf((float) d);
    group = heads / kvh;

    ldq = t->src[0]->nb / sizeof(float);
    ldk = t->src[1]->nb / sizeof(float);
    ldv = t->src[2]->nb / sizeof(float);
    ldy = t->nb / sizeof(float);

    /* the rows of tokens in no sequence are zeros, as on the GPU */
    for (i = 0; i < t->rows; i++) {
        memset(infer_cpu_row(t, i), 0, (size_t) t->cols * sizeof(float));
    }

    most = 0;

    for (s = 0; s < t->src[3]->rows; s++) {
        if (infer_cpu_seq_check(t->src[3], t->rows, s, err, errlen) != 0) {
            return -1;
        }

        seq = (const infer_seq_t *) infer_cpu_irow(t->src[3], s);
        most = seq->len > most ? seq->len : most;
    }

    /* the scores of the longest sequence's head */
    sc = infer_cpu_work(env, (size_t) (most * most));
    if (sc == NULL && most > 0) {
        snprintf(err, errlen, "cpu: attention: out of memory for %lld "
                 "scores", (long long) (most * most));
        return -1;
    }

    for (s = 0; s < t->src[3]->rows; s++) {
        seq = (const infer_seq_t *) infer_cpu_irow(t->src[3], s);
        n = seq->len;

        for (h = 0; h < heads && n > 0; h++) {
            hk = h / group;

            (n >= INFER_CPU_ATT_GEMM ? infer_cpu_att_gemm
                                     : infer_cpu_att_loops)
                (env->avx2,
                 infer_cpu_row(t->src[0], seq->start) + (size_t) h * d,
                 infer_cpu_row(t->src[1], seq->start) + (size_t) hk * d,
                 infer_cpu_row(t->src[2], seq->start) + (size_t) hk * d,
                 infer_cpu_row(t, seq->start) + (size_t) h * d,
                 n, d, scale, causal, ldq, ldk, ldv, ldy, sc);
        }
    }

    return 0;
}


/* row i of the n x n scores: the first e are its keys, the rest masked */
static void
infer_cpu_att_softmax(int avx2, float *sc, int64_t n, int64_t e)
{
    float    max, sum, inv;
    int64_t  j;

    if (avx2) {
        infer_cpu_softmax_avx2(sc, e);

        for (j = e; j < n; j++) {
            sc[j] = 0.0f;
        }

        return;
    }

    max = -INFINITY;

    for (j = 0; j < e; j++) {
        max = sc[j] > max ? sc[j] : max;
    }

    sum = 0.0f;

    for (j = 0; j < e; j++) {
        sc[j] = expf(sc[j] - max);
        sum += sc[j];
    }

    inv = 1.0f / sum;

    for (j = 0; j < e; j++) {
        sc[j] *= inv;
    }

    for ( /* void */ ; j < n; j++) {
        sc[j] = 0.0f;
    }
}


static void
infer_cpu_att_gemm(int avx2, const float *q, const float *k, const float *v,
    float *y, int64_t n, int d, float scale, int causal, size_t ldq,
    size_t ldk, size_t ldv, size_t ldy, float *sc)
{
    int64_t  i;

    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int) n, (int) n, d,
                scale, q, (int) ldq, k, (int) ldk, 0.0f, sc, (int) n);

    for (i = 0; i < n; i++) {
        infer_cpu_att_softmax(avx2, sc + i * n, n, causal ? i + 1 : n);
    }

    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int) n, d,
                (int) n, 1.0f, sc, (int) n, v, (int) ldv, 0.0f, y,
                (int) ldy);
}


static void
infer_cpu_att_loops(int avx2, const float *q, const float *k, const float *v,
    float *y, int64_t n, int d, float scale, int causal, size_t ldq,
    size_t ldk, size_t ldv, size_t ldy, float *sc)
{
    int      c;
    float    p;
    int64_t  i, j, e;

    for (i = 0; i < n; i++) {
        e = causal ? i + 1 : n;

        for (j = 0; j < e; j++) {
            sc[j] = infer_cpu_dot(q + i * ldq, k + j * ldk, d) * scale;
        }

        infer_cpu_att_softmax(avx2, sc, e, e);

        memset(y + i * ldy, 0, (size_t) d * sizeof(float));

        for (j = 0; j < e; j++) {
            p = sc[j];

            for (c = 0; c < d; c++) {
                y[i * ldy + c] += p * v[j * ldv + c];
            }
        }
    }
}
