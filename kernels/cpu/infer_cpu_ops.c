/*
 * ngx_infer: the CPU backend's ops other than the product, one function
 * each, on rows (every input may be a view: rows nb bytes apart).  The
 * per-element math is infer_math.h's, which the CUDA kernels use too.
 * Sums are in float, in a fixed order that does not depend on what else
 * is in the batch, so a sequence computes the same alone or batched.
 */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer_cpu.h"
#include "infer_math.h"
#include "infer_quant.h"


static void infer_cpu_binary(infer_tensor_t *t);
static void infer_cpu_act(infer_cpu_env_t *env, infer_tensor_t *t);
static void infer_cpu_softmax(infer_tensor_t *t);
static void infer_cpu_layer_norm(infer_tensor_t *t);
static void infer_cpu_rms_norm(infer_tensor_t *t);
static int infer_cpu_get_rows(infer_tensor_t *t, char *err, size_t errlen);
static void infer_cpu_rope(infer_tensor_t *t);
static int infer_cpu_pool(infer_tensor_t *t, char *err, size_t errlen);
static void infer_cpu_l2_norm(infer_tensor_t *t);


int
infer_cpu_op(infer_cpu_env_t *env, infer_tensor_t *t, char *err,
    size_t errlen)
{
    switch (t->op) {

    case INFER_OP_NONE:
    case INFER_OP_VIEW:
        return 0;

    case INFER_OP_MATMUL:
        infer_cpu_matmul(env, t);
        return 0;

    case INFER_OP_ADD:
    case INFER_OP_MUL:
        infer_cpu_binary(t);
        return 0;

    case INFER_OP_ACT:
        infer_cpu_act(env, t);
        return 0;

    case INFER_OP_SOFTMAX:
        infer_cpu_softmax(t);
        return 0;

    case INFER_OP_LAYER_NORM:
        infer_cpu_layer_norm(t);
        return 0;

    case INFER_OP_RMS_NORM:
        infer_cpu_rms_norm(t);
        return 0;

    case INFER_OP_GET_ROWS:
        return infer_cpu_get_rows(t, err, errlen);

    case INFER_OP_ROPE:
        infer_cpu_rope(t);
        return 0;

    case INFER_OP_ATTENTION:
        return infer_cpu_attention(env, t, err, errlen);

    case INFER_OP_POOL:
        return infer_cpu_pool(t, err, errlen);

    case INFER_OP_L2_NORM:
        infer_cpu_l2_norm(t);
        return 0;

    case INFER_OP_KV_STORE:
        return infer_cpu_kv_store(env, t, err, errlen);

    case INFER_OP_KV_ATTENTION:
        return infer_cpu_kv_attention(env, t, err, errlen);

    default:
        snprintf(err, errlen, "cpu: unknown op %d", t->op);
        return -1;
    }
}


float *
infer_cpu_work(infer_cpu_env_t *env, size_t n)
{
    float  *p;

    if (n <= env->work_len) {
        return env->work;
    }

    p = realloc(env->work, n * sizeof(float));
    if (p == NULL) {
        return NULL;
    }

    env->work = p;
    env->work_len = n;

    return p;
}


static void
infer_cpu_binary(infer_tensor_t *t)
{
    int64_t       r, j, n;
    float        *y;
    const float  *a, *b;

    n = t->cols;

    for (r = 0; r < t->rows; r++) {
        y = infer_cpu_row(t, r);
        a = infer_cpu_row(t->src[0], r);
        b = infer_cpu_row(t->src[1], t->src[1]->rows == 1 ? 0 : r);

        if (t->op == INFER_OP_ADD) {
            for (j = 0; j < n; j++) {
                y[j] = a[j] + b[j];
            }

        } else {
            for (j = 0; j < n; j++) {
                y[j] = a[j] * b[j];
            }
        }
    }
}


static void
infer_cpu_act(infer_cpu_env_t *env, infer_tensor_t *t)
{
    int64_t       r, j, n;
    float        *y;
    const float  *x;

    n = t->cols;

    for (r = 0; r < t->rows; r++) {
        y = infer_cpu_row(t, r);
        x = infer_cpu_row(t->src[0], r);

        /* one loop per activation: the switch stays out of the loop */
        switch (t->ip[0]) {
        case INFER_ACT_RELU:
            for (j = 0; j < n; j++) {
                y[j] = infer_relu(x[j]);
            }
            break;
        case INFER_ACT_GELU:
            if (env->avx2) {
                infer_cpu_gelu_avx2(y, x, n);
                break;
            }

            for (j = 0; j < n; j++) {
                y[j] = infer_gelu(x[j]);
            }
            break;
        case INFER_ACT_TANH:
            for (j = 0; j < n; j++) {
                y[j] = infer_tanh(x[j]);
            }
            break;
        case INFER_ACT_SIGMOID:
            for (j = 0; j < n; j++) {
                y[j] = infer_sigmoid(x[j]);
            }
            break;
        case INFER_ACT_GELU_TANH:
            for (j = 0; j < n; j++) {
                y[j] = infer_gelu_tanh(x[j]);
            }
            break;
        case INFER_ACT_SILU:
            if (env->avx2) {
                infer_cpu_silu_avx2(y, x, n);
                break;
            }

            for (j = 0; j < n; j++) {
                y[j] = infer_silu(x[j]);
            }
            break;
        default:
            if (y != x) {
                memcpy(y, x, (size_t) n * sizeof(float));
            }
            break;
        }
    }
}


static void
infer_cpu_softmax(infer_tensor_t *t)
{
    int64_t       r, j, n;
    float        *y, scale;
    const float  *x, *mask;

    n = t->cols;
    scale = t->fp[0];

    for (r = 0; r < t->rows; r++) {
        y = infer_cpu_row(t, r);
        x = infer_cpu_row(t->src[0], r);

        if (t->src[1] == NULL && scale == 1.0f) {
            infer_softmax_row(y, x, (int) n);
            continue;
        }

        mask = t->src[1] ? infer_cpu_row(t->src[1],
                                         t->src[1]->rows == 1 ? 0 : r)
                         : NULL;

        for (j = 0; j < n; j++) {
            y[j] = scale * x[j] + (mask ? mask[j] : 0.0f);
        }

        infer_softmax_row(y, y, (int) n);
    }
}


static void
infer_cpu_layer_norm(infer_tensor_t *t)
{
    int64_t       r, j, n;
    float        *y, mean, var, inv;
    const float  *x, *w, *b;

    n = t->cols;
    w = t->src[1]->data;
    b = t->src[2] ? t->src[2]->data : NULL;

    for (r = 0; r < t->rows; r++) {
        y = infer_cpu_row(t, r);
        x = infer_cpu_row(t->src[0], r);

        mean = infer_cpu_sum(x, n) / (float) n;

        /* two passes: the variance does not cancel for large means; y
         * may be x */
        for (j = 0; j < n; j++) {
            y[j] = x[j] - mean;
        }

        var = infer_cpu_dot(y, y, n) / (float) n;
        inv = 1.0f / sqrtf(var + t->fp[0]);

        if (b) {
            for (j = 0; j < n; j++) {
                y[j] = y[j] * inv * w[j] + b[j];
            }

        } else {
            for (j = 0; j < n; j++) {
                y[j] = y[j] * inv * w[j];
            }
        }
    }
}


static void
infer_cpu_rms_norm(infer_tensor_t *t)
{
    int64_t       r, j, n;
    float        *y, ss, inv;
    const float  *x, *w;

    n = t->cols;
    w = t->src[1]->data;

    for (r = 0; r < t->rows; r++) {
        y = infer_cpu_row(t, r);
        x = infer_cpu_row(t->src[0], r);

        ss = infer_cpu_dot(x, x, n);

        inv = 1.0f / sqrtf(ss / (float) n + t->fp[0]);

        for (j = 0; j < n; j++) {
            y[j] = x[j] * inv * w[j];
        }
    }
}


static int
infer_cpu_get_rows(infer_tensor_t *t, char *err, size_t errlen)
{
    int32_t       id;
    int64_t       r, j, n, vocab;
    float        *y;
    const char   *row;
    const float  *f;

    n = t->cols;
    vocab = t->src[0]->rows;

    for (r = 0; r < t->rows; r++) {
        id = infer_cpu_irow(t->src[1], r)[0];

        if (id < 0 || id >= vocab) {
            snprintf(err, errlen, "cpu: get_rows: id %d of row %lld is not "
                     "in [0, %lld)", id, (long long) r, (long long) vocab);
            return -1;
        }

        y = infer_cpu_row(t, r);
        row = (const char *) t->src[0]->data + (size_t) id * t->src[0]->nb;

        switch (t->src[0]->type) {
        case INFER_DT_F16:
            for (j = 0; j < n; j++) {
                y[j] = infer_f16_to_f32(((const uint16_t *) row)[j]);
            }
            break;
        case INFER_DT_BF16:
            for (j = 0; j < n; j++) {
                y[j] = infer_bf16_to_f32(((const uint16_t *) row)[j]);
            }
            break;
        case INFER_DT_Q8_0:
        case INFER_DT_Q4_0:
        case INFER_DT_Q4_1:
        case INFER_DT_Q4_K:
        case INFER_DT_Q5_K:
        case INFER_DT_Q6_K:
            /* a quantized table: only the rows gathered are unpacked */
            (void) infer_quant_dequantize_row(t->src[0]->type, row, y, n);
            break;
        default:
            f = (const float *) row;
            memcpy(y, f, (size_t) n * sizeof(float));
            break;
        }
    }

    return 0;
}


static void
infer_cpu_rope(infer_tensor_t *t)
{
    int      heads, d, n_rot, mode, h, i, pos;
    float    theta, a, c, s, x0, x1, *y, *yh;
    int64_t  r, i0, i1;

    heads = t->ip[0];
    d = t->ip[1];
    n_rot = t->ip[2];
    mode = t->ip[3];
    theta = t->fp[0];

    for (r = 0; r < t->rows; r++) {
        y = infer_cpu_row(t, r);

        if (y != infer_cpu_row(t->src[0], r)) {
            memcpy(y, infer_cpu_row(t->src[0], r),
                   (size_t) t->cols * sizeof(float));
        }

        pos = infer_cpu_irow(t->src[1], r)[0];

        for (i = 0; i < n_rot / 2; i++) {
            a = infer_rope_angle(pos, i, n_rot, theta);
            c = cosf(a);
            s = sinf(a);

            if (mode == INFER_ROPE_NEOX) {
                i0 = i;
                i1 = i + n_rot / 2;

            } else {
                i0 = 2 * i;
                i1 = 2 * i + 1;
            }

            for (h = 0; h < heads; h++) {
                yh = y + (size_t) h * d;
                x0 = yh[i0];
                x1 = yh[i1];
                yh[i0] = x0 * c - x1 * s;
                yh[i1] = x0 * s + x1 * c;
            }
        }
    }
}


static int
infer_cpu_pool(infer_tensor_t *t, char *err, size_t errlen)
{
    int64_t             s, i, j, n;
    float              *y, inv;
    const float        *x;
    const infer_seq_t  *seq;

    n = t->cols;

    for (s = 0; s < t->rows; s++) {
        if (infer_cpu_seq_check(t->src[1], t->src[0]->rows, s, err, errlen)
            != 0)
        {
            return -1;
        }

        seq = (const infer_seq_t *) infer_cpu_irow(t->src[1], s);
        y = infer_cpu_row(t, s);

        if (seq->len == 0) {
            memset(y, 0, (size_t) n * sizeof(float));
            continue;
        }

        switch (t->ip[0]) {

        case INFER_POOL_CLS:
        case INFER_POOL_LAST:
            i = (t->ip[0] == INFER_POOL_CLS) ? seq->start
                                             : seq->start + seq->len - 1;
            memcpy(y, infer_cpu_row(t->src[0], i), (size_t) n * sizeof(float));
            break;

        case INFER_POOL_MAX:
            memcpy(y, infer_cpu_row(t->src[0], seq->start),
                   (size_t) n * sizeof(float));

            for (i = 1; i < seq->len; i++) {
                x = infer_cpu_row(t->src[0], seq->start + i);
                for (j = 0; j < n; j++) {
                    y[j] = x[j] > y[j] ? x[j] : y[j];
                }
            }
            break;

        default: /* INFER_POOL_MEAN */
            memset(y, 0, (size_t) n * sizeof(float));

            for (i = 0; i < seq->len; i++) {
                x = infer_cpu_row(t->src[0], seq->start + i);
                for (j = 0; j < n; j++) {
                    y[j] += x[j];
                }
            }

            inv = 1.0f / (float) seq->len;
            for (j = 0; j < n; j++) {
                y[j] *= inv;
            }
            break;
        }
    }

    return 0;
}


static void
infer_cpu_l2_norm(infer_tensor_t *t)
{
    int64_t       r, j, n;
    float        *y, ss, norm;
    const float  *x;

    n = t->cols;

    for (r = 0; r < t->rows; r++) {
        y = infer_cpu_row(t, r);
        x = infer_cpu_row(t->src[0], r);

        ss = infer_cpu_dot(x, x, n);

        norm = sqrtf(ss);
        norm = norm > t->fp[0] ? norm : t->fp[0];

        for (j = 0; j < n; j++) {
            y[j] = x[j] / norm;
        }
    }
}


/* sequence s of seqs lies within the batch's tokens */
int
infer_cpu_seq_check(const infer_tensor_t *seqs, int64_t tokens, int64_t s,
    char *err, size_t errlen)
{
    const infer_seq_t  *seq;

    seq = (const infer_seq_t *) infer_cpu_irow(seqs, s);

    if (seq->start < 0 || seq->len < 0
        || (int64_t) seq->start + seq->len > tokens)
    {
        snprintf(err, errlen, "cpu: sequence %lld has tokens [%d, %d) of "
                 "%lld", (long long) s, seq->start, seq->start + seq->len,
                 (long long) tokens);
        return -1;
    }

    return 0;
}
