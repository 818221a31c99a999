/*
 * ngx_infer: the paged KV cache on the CPU (KV_STORE, KV_ATTENTION).
 *
 * The cache is one block of host memory in the layout of infer_ops.h's
 * infer_kv_shape_t.  A sequence's positions are found through its block
 * table, so that the blocks of one sequence lie anywhere in the cache.
 *
 * Attention is computed one query row at a time, each head on its own:
 * the scores of the row against the cache's keys 0..p in order, a
 * softmax, and the values summed in the same order.  No sgemm and no
 * blocking that depends on how many rows the batch has: a token gets the
 * same bits whether it came alone (a decoding step), in a chunk of its
 * prompt, or in a batch of other sequences.  That is what makes a
 * sequence's greedy generation independent of the rest of the batch.
 */

#include <math.h>
#include <stdio.h>
#include <string.h>

#if (defined __x86_64__ && defined __GNUC__)
#include <immintrin.h>
#define INFER_CPU_KV_AVX2  1
#endif

#include "infer_cpu.h"
#include "infer_math.h"


static int infer_cpu_kv_check(const infer_cpu_env_t *env,
    const infer_tensor_t *t, int64_t s, char *err, size_t errlen);
static float *infer_cpu_kv_row(const infer_cpu_env_t *env,
    const int32_t *table, int layer, int kv, int64_t p);
static void infer_cpu_kv_head(const infer_cpu_env_t *env,
    const int32_t *table, int layer, int64_t p, size_t off, const float *q,
    float *y, int d, float scale, float *sc);
#if (INFER_CPU_KV_AVX2)
static void infer_cpu_kv_head_avx2(const infer_cpu_env_t *env,
    const int32_t *table, int layer, int64_t p, size_t off, const float *q,
    float *y, int d, float scale, float *sc);
#endif


int
infer_cpu_kv_store(infer_cpu_env_t *env, infer_tensor_t *t, char *err,
    size_t errlen)
{
    int                 layer;
    size_t              row;
    int64_t             s, i;
    const int32_t      *table;
    const infer_seq_t  *seq;

    layer = t->ip[0];
    row = (size_t) t->cols * sizeof(float);

    for (s = 0; s < t->src[2]->rows; s++) {
        if (infer_cpu_kv_check(env, t, s, err, errlen) != 0) {
            return -1;
        }

        seq = (const infer_seq_t *) infer_cpu_irow(t->src[2], s);
        table = infer_cpu_irow(t->src[3], s);

        for (i = 0; i < seq->len; i++) {
            memcpy(infer_cpu_kv_row(env, table, layer, 0, seq->pos + i),
                   infer_cpu_row(t->src[0], seq->start + i), row);
            memcpy(infer_cpu_kv_row(env, table, layer, 1, seq->pos + i),
                   infer_cpu_row(t->src[1], seq->start + i), row);
        }
    }

    return 0;
}


int
infer_cpu_kv_attention(infer_cpu_env_t *env, infer_tensor_t *t, char *err,
    size_t errlen)
{
    int                 heads, kvh, d, layer, group, h, hk;
    float               scale, *sc, *y;
    const float        *q;
    int64_t             s, i, p, most;
    const int32_t      *table;
    const infer_seq_t  *seq;

    heads = t->ip[0];
    kvh = t->ip[1];
    d = t->ip[2];
    layer = t->ip[3];
    group = heads / kvh;
    scale = t->fp[0] != 0.0f ? t->fp[0] : 1.0f / sqrtf((float) d);

    for (i = 0; i < t->rows; i++) {
        memset(infer_cpu_row(t, i), 0, (size_t) t->cols * sizeof(float));
    }

    most = 0;

    for (s = 0; s < t->src[2]->rows; s++) {
        if (infer_cpu_kv_check(env, t, s, err, errlen) != 0) {
            return -1;
        }

        seq = (const infer_seq_t *) infer_cpu_irow(t->src[2], s);
        if (seq->len > 0 && seq->pos + seq->len > most) {
            most = seq->pos + seq->len;
        }
    }

    sc = infer_cpu_work(env, (size_t) most);
    if (sc == NULL && most > 0) {
        snprintf(err, errlen, "cpu: out of memory for %lld scores",
                 (long long) most);
        return -1;
    }

    for (s = 0; s < t->src[2]->rows; s++) {
        seq = (const infer_seq_t *) infer_cpu_irow(t->src[2], s);
        table = infer_cpu_irow(t->src[3], s);

        for (i = 0; i < seq->len; i++) {
            p = seq->pos + i;

            for (h = 0; h < heads; h++) {
                hk = h / group;
                q = infer_cpu_row(t->src[0], seq->start + i) + (size_t) h * d;
                y = infer_cpu_row(t, seq->start + i) + (size_t) h * d;

#if (INFER_CPU_KV_AVX2)
                if (env->avx2 && d % 16 == 0) {
                    infer_cpu_kv_head_avx2(env, table, layer, p,
                                           (size_t) hk * d, q, y, d, scale,
                                           sc);
                    continue;
                }
#endif

                infer_cpu_kv_head(env, table, layer, p, (size_t) hk * d, q,
                                  y, d, scale, sc);
            }
        }
    }

    return 0;
}


/*
 * One query row of one head at position p against the cache's positions
 * 0..p: the head's keys and values are at off in each position's row
 */
static void
infer_cpu_kv_head(const infer_cpu_env_t *env, const int32_t *table,
    int layer, int64_t p, size_t off, const float *q, float *y, int d,
    float scale, float *sc)
{
    int           l;
    float         wj;
    int64_t       j;
    const float  *kr, *vr;

    for (j = 0; j <= p; j++) {
        kr = infer_cpu_kv_row(env, table, layer, 0, j) + off;
        sc[j] = scale * infer_cpu_dot(q, kr, d);
    }

    if (env->avx2) {
        infer_cpu_softmax_avx2(sc, p + 1);

    } else {
        infer_softmax_row(sc, sc, (int) (p + 1));
    }

    for (j = 0; j <= p; j++) {
        vr = infer_cpu_kv_row(env, table, layer, 1, j) + off;
        wj = sc[j];

        for (l = 0; l < d; l++) {
            y[l] += wj * vr[l];
        }
    }
}


#if (INFER_CPU_KV_AVX2)

/* sc[0 .. n) = scale times the lanes' sums of dots[0 .. n), n <= 8 */
static inline __attribute__((always_inline, target("avx2,fma"))) void
infer_cpu_kv_sums(__m256 *dots, int n, float scale, float *sc)
{
    int     i;
    float   v[8];
    __m256  a, b, lo, hi;

    for (i = n; i < 8; i++) {
        dots[i] = _mm256_setzero_ps();
    }

    a = _mm256_hadd_ps(_mm256_hadd_ps(dots[0], dots[1]),
                       _mm256_hadd_ps(dots[2], dots[3]));
    b = _mm256_hadd_ps(_mm256_hadd_ps(dots[4], dots[5]),
                       _mm256_hadd_ps(dots[6], dots[7]));
    lo = _mm256_permute2f128_ps(a, b, 0x20);
    hi = _mm256_permute2f128_ps(a, b, 0x31);
    a = _mm256_mul_ps(_mm256_set1_ps(scale), _mm256_add_ps(lo, hi));

    if (n == 8) {
        _mm256_storeu_ps(sc, a);
        return;
    }

    _mm256_storeu_ps(v, a);

    for (i = 0; i < n; i++) {
        sc[i] = v[i];
    }
}


/*
 * The same in AVX2 for d a multiple of 16: each dot in two 8-lane
 * accumulators (so that two chains overlap) added, its lanes summed with
 * 7 other positions' (infer_cpu_kv_sums()), the
 * values' sum kept in registers across the positions; the order depends
 * on d alone
 */
__attribute__((target("avx2,fma"))) static void
infer_cpu_kv_head_avx2(const infer_cpu_env_t *env, const int32_t *table,
    int layer, int64_t p, size_t off, const float *q, float *y, int d,
    float scale, float *sc)
{
    int           l, c, n;
    size_t        ld;
    __m256        a0, a1, w, acc[8], dots[8];
    int64_t       j, j0, j1, bt;
    const float  *kr, *vr;

    /*
     * A block's positions are rows ld apart: one lookup a block.  The
     * dots' lanes are summed 8 positions at a time (hadd), each in one
     * tree, ((0 + 1) + (2 + 3)) + ((4 + 5) + (6 + 7)), a missing position
     * zero
     */
    bt = env->kv_shape.block_tokens;
    ld = (size_t) env->kv_shape.kv_dim;
    n = 0;

    for (j0 = 0; j0 <= p; j0 = j1) {
        j1 = (p + 1 - j0 > bt) ? j0 + bt : p + 1;
        kr = infer_cpu_kv_row(env, table, layer, 0, j0) + off;

        for (j = j0; j < j1; j++, kr += ld) {
            a0 = _mm256_setzero_ps();
            a1 = _mm256_setzero_ps();

            for (l = 0; l < d; l += 16) {
                a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + l),
                                     _mm256_loadu_ps(kr + l), a0);
                a1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + l + 8),
                                     _mm256_loadu_ps(kr + l + 8), a1);
            }

            dots[n++] = _mm256_add_ps(a0, a1);

            if (n == 8 || j == p) {
                infer_cpu_kv_sums(dots, n, scale, sc + j + 1 - n);
                n = 0;
            }
        }
    }

    infer_cpu_softmax_avx2(sc, p + 1);

    /* 64 columns (8 registers) at a time, every position for each */
    for (c = 0; c < d; c += 64) {
        for (l = 0; l < 8 && c + 8 * l < d; l++) {
            acc[l] = _mm256_loadu_ps(y + c + 8 * l);
        }

        for (j0 = 0; j0 <= p; j0 = j1) {
            j1 = (p + 1 - j0 > bt) ? j0 + bt : p + 1;
            vr = infer_cpu_kv_row(env, table, layer, 1, j0) + off + c;

            for (j = j0; j < j1; j++, vr += ld) {
                w = _mm256_set1_ps(sc[j]);

                for (l = 0; l < 8 && c + 8 * l < d; l++) {
                    acc[l] = _mm256_fmadd_ps(w, _mm256_loadu_ps(vr + 8 * l),
                                             acc[l]);
                }
            }
        }

        for (l = 0; l < 8 && c + 8 * l < d; l++) {
            _mm256_storeu_ps(y + c + 8 * l, acc[l]);
        }
    }
}

#endif


/*
 * Sequence s of t's batch lies within the batch's tokens and, through its
 * block table, within the cache: every block it reaches is a block of the
 * cache.
 */
static int
infer_cpu_kv_check(const infer_cpu_env_t *env, const infer_tensor_t *t,
    int64_t s, char *err, size_t errlen)
{
    int64_t             b, last, tokens;
    const int32_t      *table;
    const infer_seq_t  *seq;

    if (env->kv == NULL) {
        snprintf(err, errlen, "cpu: %s without a KV cache",
                 infer_op_name(t->op));
        return -1;
    }

    tokens = (t->op == INFER_OP_KV_STORE) ? t->src[0]->rows : t->rows;

    if (infer_cpu_seq_check(t->src[2], tokens, s, err, errlen) != 0) {
        return -1;
    }

    seq = (const infer_seq_t *) infer_cpu_irow(t->src[2], s);

    if (t->ip[t->op == INFER_OP_KV_STORE ? 0 : 3] >= env->kv_shape.layers
        || (t->op == INFER_OP_KV_STORE
            && t->cols != env->kv_shape.kv_dim))
    {
        snprintf(err, errlen, "cpu: %s of layer %d, %lld columns, for a "
                 "cache of %d layers of %d", infer_op_name(t->op),
                 t->ip[t->op == INFER_OP_KV_STORE ? 0 : 3],
                 (long long) t->cols, env->kv_shape.layers,
                 env->kv_shape.kv_dim);
        return -1;
    }

    if (seq->len == 0) {
        return 0;
    }

    last = (seq->pos + seq->len - 1) / env->kv_shape.block_tokens;

    if (seq->pos < 0 || last >= t->src[3]->cols) {
        snprintf(err, errlen, "cpu: sequence %lld at positions %d to %lld "
                 "is beyond its %lld blocks of %d", (long long) s, seq->pos,
                 (long long) (seq->pos + seq->len - 1),
                 (long long) t->src[3]->cols, env->kv_shape.block_tokens);
        return -1;
    }

    table = infer_cpu_irow(t->src[3], s);

    for (b = 0; b <= last; b++) {
        if (table[b] < 0 || table[b] >= env->kv_shape.n_blocks) {
            snprintf(err, errlen, "cpu: sequence %lld names block %d of "
                     "%d", (long long) s, table[b], env->kv_shape.n_blocks);
            return -1;
        }
    }

    return 0;
}


static float *
infer_cpu_kv_row(const infer_cpu_env_t *env, const int32_t *table,
    int layer, int kv, int64_t p)
{
    size_t                   at;
    const infer_kv_shape_t  *sh;

    sh = &env->kv_shape;

    at = (((size_t) table[p / sh->block_tokens] * sh->layers + layer) * 2
          + kv) * sh->block_tokens + (size_t) (p % sh->block_tokens);

    return env->kv + at * sh->kv_dim;
}
