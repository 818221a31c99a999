/*
 * ngx_infer: GGUF's quantized blocks in plain C (infer_quant.h): every
 * type's values, block by block, and a row's dot product with F32
 * activations.
 *
 * Each value is computed with the operations, in the order, that
 * llama.cpp's dequantize_row_*() and the gguf package's numpy use (d sc
 * first, then times q, then the min subtracted), so that the three agree
 * bit for bit; nothing here may be contracted into an FMA, which is why
 * this file is compiled for the baseline x86-64 (no FMA) as the rest of
 * the kernels are.
 */

#include <string.h>

#include "infer_math.h"
#include "infer_quant.h"


/* the values of one block (or, for the plain types, of up to 32) */
static void infer_quant_block(infer_dtype_e dt, const unsigned char *b,
    float *y, int64_t n);


#define infer_h2f(h)  infer_f16_to_f32(h)


int
infer_quant_dequantize_row(infer_dtype_e dt, const void *src, float *dst,
    int64_t n)
{
    int64_t               i, bk, step;
    size_t                bs;
    const unsigned char  *p;

    if (dt < 0 || dt >= INFER_DT_COUNT || dt == INFER_DT_I32
        || dt == INFER_DT_I64)
    {
        return -1;
    }

    p = src;
    bk = infer_dtype_block(dt);
    bs = infer_dtype_block_size(dt);

    /* the plain types go 32 values at a time, the blocks one by one */
    step = bk == 1 ? INFER_QK : bk;

    for (i = 0; i < n; i += step) {
        infer_quant_block(dt, p, dst + i, (n - i < step) ? n - i : step);
        p += (size_t) (step / bk) * bs;
    }

    return 0;
}


float
infer_quant_dot(infer_dtype_e dt, const void *row, const float *x,
    int64_t n)
{
    int                   l;
    float                 v[INFER_QK_K], acc[8], sum, total;
    int64_t               i, j, m, bk, step;
    size_t                bs;
    const unsigned char  *p;

    p = row;
    bk = infer_dtype_block(dt);
    bs = infer_dtype_block_size(dt);
    step = bk == 1 ? INFER_QK : bk;
    total = 0.0f;

    for (i = 0; i < n; i += step) {
        m = (n - i < step) ? n - i : step;
        infer_quant_block(dt, p, v, m);
        p += (size_t) (step / bk) * bs;

        for (l = 0; l < 8; l++) {
            acc[l] = 0.0f;
        }

        for (j = 0; j + 8 <= m; j += 8) {
            for (l = 0; l < 8; l++) {
                acc[l] += v[j + l] * x[i + j + l];
            }
        }

        sum = 0.0f;

        for (l = 0; l < 8; l++) {
            sum += acc[l];
        }

        for ( /* void */ ; j < m; j++) {
            sum += v[j] * x[i + j];
        }

        total += sum;
    }

    return total;
}


static void
infer_quant_block(infer_dtype_e dt, const unsigned char *b, float *y,
    int64_t n)
{
    int                        j, l, c, s, is;
    float                      d, dmin, d1, m1, d2, m2;
    uint8_t                    sc, mn, hb1, hb2;
    const uint8_t             *q, *ql, *qh;
    const infer_block_q8_0_t  *q80;
    const infer_block_q4_0_t  *q40;
    const infer_block_q4_1_t  *q41;
    const infer_block_q4_k_t  *q4k;
    const infer_block_q5_k_t  *q5k;
    const infer_block_q6_k_t  *q6k;

    switch (dt) {

    case INFER_DT_F32:
        memcpy(y, b, (size_t) n * sizeof(float));
        return;

    case INFER_DT_F16:
        for (j = 0; j < n; j++) {
            y[j] = infer_h2f((uint16_t) (b[2 * j] | (b[2 * j + 1] << 8)));
        }
        return;

    case INFER_DT_BF16:
        for (j = 0; j < n; j++) {
            y[j] = infer_bf16_to_f32((uint16_t) (b[2 * j]
                                                 | (b[2 * j + 1] << 8)));
        }
        return;

    case INFER_DT_Q8_0:
        q80 = (const infer_block_q8_0_t *) b;
        d = infer_h2f(q80->d);

        for (j = 0; j < INFER_QK; j++) {
            y[j] = (float) q80->qs[j] * d;
        }
        return;

    case INFER_DT_Q4_0:
        q40 = (const infer_block_q4_0_t *) b;
        d = infer_h2f(q40->d);

        for (j = 0; j < INFER_QK / 2; j++) {
            y[j] = (float) ((q40->qs[j] & 0xf) - 8) * d;
            y[j + INFER_QK / 2] = (float) ((q40->qs[j] >> 4) - 8) * d;
        }
        return;

    case INFER_DT_Q4_1:
        q41 = (const infer_block_q4_1_t *) b;
        d = infer_h2f(q41->d);
        m1 = infer_h2f(q41->m);

        for (j = 0; j < INFER_QK / 2; j++) {
            y[j] = d * (float) (q41->qs[j] & 0xf) + m1;
            y[j + INFER_QK / 2] = d * (float) (q41->qs[j] >> 4) + m1;
        }
        return;

    case INFER_DT_Q4_K:
    case INFER_DT_Q5_K:
        if (dt == INFER_DT_Q4_K) {
            q4k = (const infer_block_q4_k_t *) b;
            d = infer_h2f(q4k->d);
            dmin = infer_h2f(q4k->dmin);
            q = q4k->scales;
            ql = q4k->qs;
            qh = NULL;

        } else {
            q5k = (const infer_block_q5_k_t *) b;
            d = infer_h2f(q5k->d);
            dmin = infer_h2f(q5k->dmin);
            q = q5k->scales;
            ql = q5k->qs;
            qh = q5k->qh;
        }

        /* 64 values at a time: sub-blocks 2c (low nibbles) and 2c + 1 */
        for (c = 0; c < 4; c++) {
            infer_quant_scale_min(q, 2 * c, &sc, &mn);
            d1 = d * (float) sc;
            m1 = dmin * (float) mn;
            infer_quant_scale_min(q, 2 * c + 1, &sc, &mn);
            d2 = d * (float) sc;
            m2 = dmin * (float) mn;

            for (l = 0; l < 32; l++) {
                hb1 = qh ? (uint8_t) (((qh[l] >> (2 * c)) & 1) << 4) : 0;
                hb2 = qh ? (uint8_t) (((qh[l] >> (2 * c + 1)) & 1) << 4) : 0;
                y[64 * c + l] = d1 * (float) ((ql[l] & 0xf) | hb1) - m1;
                y[64 * c + 32 + l] = d2 * (float) ((ql[l] >> 4) | hb2) - m2;
            }

            ql += 32;
        }
        return;

    case INFER_DT_Q6_K:
        q6k = (const infer_block_q6_k_t *) b;
        d = infer_h2f(q6k->d);
        ql = q6k->ql;
        qh = q6k->qh;

        /*
         * Two halves of 128 values, each from 64 bytes of ql and 32 of
         * qh: value 32 g + l (g 0..3, l 0..31) takes the low (g 0, 1) or
         * high (g 2, 3) nibble of ql[l + 32 (g & 1)] and bits 2g, 2g + 1
         * of qh[l]; value v's scale is sc[v / 16].
         */
        for (s = 0; s < 2; s++) {
            for (l = 0; l < 32; l++) {
                for (c = 0; c < 4; c++) {
                    j = ql[l + 32 * (c & 1)];
                    j = (c < 2 ? (j & 0xf) : (j >> 4))
                        | (((qh[l] >> (2 * c)) & 3) << 4);
                    is = 128 * s + 32 * c + l;
                    y[is] = d * (float) q6k->scales[is / 16]
                            * (float) (j - 32);
                }
            }

            ql += 64;
            qh += 32;
        }
        return;

    default:
        return;
    }
}
