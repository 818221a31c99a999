/*
 * ngx_infer: GGUF's quantized blocks (Q8_0, Q4_0, Q4_1, Q4_K, Q5_K,
 * Q6_K), as llama.cpp's ggml-common.h lays them out, and the plain C
 * arithmetic on them that every backend and test shares.
 *
 * A quantized row is a run of blocks; a weight stays quantized in memory
 * and is computed on a block at a time: infer_quant_dot() takes one row
 * against F32 activations, infer_quant_dequantize_row() turns the rows
 * that are asked for (an embedding lookup, a test) into F32, never a
 * whole model.  These are the reference; the CPU backend's AVX2 product
 * (cpu/infer_cpu_quant.c) unpacks the same blocks in registers.
 *
 * What a block means (d, dmin: f16 scales; q: the stored integers):
 *
 *   Q8_0  32 values:  d q, q int8
 *   Q4_0  32 values:  d (q - 8), q 4 bits: byte j holds value j in its
 *                     low nibble, value j + 16 in its high one
 *   Q4_1  32 values:  d q + m, nibbles as Q4_0
 *   Q4_K  256 values in 8 sub-blocks of 32: d sc[s] q - dmin mn[s], sc
 *                     and mn 6 bits each, packed in 12 bytes
 *                     (infer_quant_scale_min()); 64 values take 32 bytes
 *                     of qs: sub-block 2c in the low nibbles, 2c + 1 in
 *                     the high ones
 *   Q5_K  as Q4_K with a fifth bit: value l of the 64 values c holds,
 *                     bit 2c (low nibble) or 2c + 1 (high) of qh[l]
 *   Q6_K  256 values in 16 sub-blocks of 16: d sc[s] (q - 32), sc int8,
 *                     q 6 bits: 4 in ql, 2 in qh (see the .c)
 */

#ifndef _INFER_QUANT_H_INCLUDED_
#define _INFER_QUANT_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "infer_dtype.h"


#define INFER_QK      32            /* values in a Q8_0, Q4_0, Q4_1 block */
#define INFER_QK_K    256           /* values in a K block */


typedef struct {
    uint16_t              d;
    int8_t                qs[INFER_QK];
} infer_block_q8_0_t;

typedef struct {
    uint16_t              d;
    uint8_t               qs[INFER_QK / 2];
} infer_block_q4_0_t;

typedef struct {
    uint16_t              d;
    uint16_t              m;
    uint8_t               qs[INFER_QK / 2];
} infer_block_q4_1_t;

typedef struct {
    uint16_t              d;
    uint16_t              dmin;
    uint8_t               scales[12];
    uint8_t               qs[INFER_QK_K / 2];
} infer_block_q4_k_t;

typedef struct {
    uint16_t              d;
    uint16_t              dmin;
    uint8_t               scales[12];
    uint8_t               qh[INFER_QK_K / 8];
    uint8_t               qs[INFER_QK_K / 2];
} infer_block_q5_k_t;

typedef struct {
    uint8_t               ql[INFER_QK_K / 2];
    uint8_t               qh[INFER_QK_K / 4];
    int8_t                scales[INFER_QK_K / 16];
    uint16_t              d;
} infer_block_q6_k_t;


/* the layouts are the file's, with no padding (infer_dtype.h's sizes) */
_Static_assert(sizeof(infer_block_q8_0_t) == 34, "Q8_0 block");
_Static_assert(sizeof(infer_block_q4_0_t) == 18, "Q4_0 block");
_Static_assert(sizeof(infer_block_q4_1_t) == 20, "Q4_1 block");
_Static_assert(sizeof(infer_block_q4_k_t) == 144, "Q4_K block");
_Static_assert(sizeof(infer_block_q5_k_t) == 176, "Q5_K block");
_Static_assert(sizeof(infer_block_q6_k_t) == 210, "Q6_K block");


/*
 * Sub-block j (0..7) of a Q4_K or Q5_K block: its 6-bit scale and min.
 * Bytes 0..3 hold the scales of 0..3 in their low 6 bits, 4..7 the mins;
 * for 4..7, the low 4 bits come from bytes 8..11 (scale in the low
 * nibble, min in the high) and the high 2 from the top bits of bytes
 * 0..3 (scales) and 4..7 (mins).
 */
static inline void
infer_quant_scale_min(const uint8_t *q, int j, uint8_t *sc, uint8_t *mn)
{
    if (j < 4) {
        *sc = q[j] & 63;
        *mn = q[j + 4] & 63;

    } else {
        *sc = (uint8_t) ((q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4));
        *mn = (uint8_t) ((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}


/*
 * All 8 scales and mins of a Q4_K or Q5_K block at once, as bytes:
 * out[0], out[1] hold sc[0..7], out[2], out[3] mn[0..7] (what
 * infer_quant_scale_min() gives one at a time), with word operations
 * that a vector unit takes in one load.
 */
static inline void
infer_quant_k_scales(const uint8_t *q, uint32_t *out)
{
    uint32_t  u[3];

    u[0] = (uint32_t) q[0] | (uint32_t) q[1] << 8 | (uint32_t) q[2] << 16
           | (uint32_t) q[3] << 24;
    u[1] = (uint32_t) q[4] | (uint32_t) q[5] << 8 | (uint32_t) q[6] << 16
           | (uint32_t) q[7] << 24;
    u[2] = (uint32_t) q[8] | (uint32_t) q[9] << 8 | (uint32_t) q[10] << 16
           | (uint32_t) q[11] << 24;

    /* byte k of (u >> 6) & 0x03030303 is the top 2 bits of byte k of u */
    out[0] = u[0] & 0x3f3f3f3f;
    out[1] = (u[2] & 0x0f0f0f0f) | (((u[0] >> 6) & 0x03030303) << 4);
    out[2] = u[1] & 0x3f3f3f3f;
    out[3] = ((u[2] >> 4) & 0x0f0f0f0f) | (((u[1] >> 6) & 0x03030303) << 4);
}


/*
 * dst[0 .. n) = the values of the row of blocks at src (n a whole number
 * of blocks; src 2-byte aligned, which a row is when its tensor is: every
 * block size is even, and GGUF aligns tensors to 32 bytes).  The plain types are
 * converted too (F32, F16, BF16), so that a caller needs no other case.
 * Returns 0, or -1 for a type it does not know.
 */
int infer_quant_dequantize_row(infer_dtype_e dt, const void *src,
    float *dst, int64_t n);

/*
 * The row of blocks at row (n values) . x[0 .. n): each block unpacked
 * and multiplied in float, in a fixed order (8 partial sums per block,
 * summed, then added to the row's total block after block).  Any type
 * infer_quant_dequantize_row() takes.
 */
float infer_quant_dot(infer_dtype_e dt, const void *row, const float *x,
    int64_t n);


#endif /* _INFER_QUANT_H_INCLUDED_ */
