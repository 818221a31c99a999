/*
 * ngx_infer: the element types of tensors, as stored and as computed.
 *
 * The values cross the dlopen() boundary into the CUDA backend as ints:
 * append, never renumber.  GGUF's quantized block types (Q8_0, Q4_0,
 * Q4_1, Q4_K, Q5_K, Q6_K), laid out as llama.cpp's ggml-common.h defines
 * them: a row of them is a whole number of blocks (32 elements for the
 * _0/_1 types, 256 for the K types), which is what infer_dtype_row_size()
 * counts.  Their arithmetic is infer_quant.h's.
 */

#ifndef _INFER_DTYPE_H_INCLUDED_
#define _INFER_DTYPE_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


typedef enum {
    INFER_DT_F32 = 0,
    INFER_DT_F16,
    INFER_DT_BF16,
    INFER_DT_I32,
    INFER_DT_I64,
    INFER_DT_Q8_0,                 /* 32: f16 d, 32 x int8 */
    INFER_DT_Q4_0,                 /* 32: f16 d, 16 bytes of nibbles */
    INFER_DT_Q4_1,                 /* 32: f16 d, f16 m, 16 bytes */
    INFER_DT_Q4_K,                 /* 256: f16 d, dmin, 12 scale bytes,
                                      128 bytes of nibbles */
    INFER_DT_Q5_K,                 /* 256: as Q4_K, and 32 bytes of high
                                      bits */
    INFER_DT_Q6_K,                 /* 256: 128 low, 64 high, 16 int8
                                      scales, f16 d */
    INFER_DT_COUNT
} infer_dtype_e;


/* a quantized block type (what a matmul weight may be, not an input) */
#define infer_dtype_quantized(dt)  ((dt) >= INFER_DT_Q8_0                    \
                                    && (dt) < INFER_DT_COUNT)


/* elements per block, and bytes per block (1 and the element's size for
 * the plain types) */
static inline int64_t
infer_dtype_block(infer_dtype_e dt)
{
    switch (dt) {
    case INFER_DT_Q8_0:
    case INFER_DT_Q4_0:
    case INFER_DT_Q4_1:
        return 32;
    case INFER_DT_Q4_K:
    case INFER_DT_Q5_K:
    case INFER_DT_Q6_K:
        return 256;
    default:
        return 1;
    }
}


static inline size_t
infer_dtype_block_size(infer_dtype_e dt)
{
    switch (dt) {
    case INFER_DT_F16:
    case INFER_DT_BF16:
        return 2;
    case INFER_DT_I64:
        return 8;
    case INFER_DT_Q8_0:
        return 2 + 32;
    case INFER_DT_Q4_0:
        return 2 + 16;
    case INFER_DT_Q4_1:
        return 2 + 2 + 16;
    case INFER_DT_Q4_K:
        return 2 + 2 + 12 + 128;
    case INFER_DT_Q5_K:
        return 2 + 2 + 12 + 32 + 128;
    case INFER_DT_Q6_K:
        return 128 + 64 + 16 + 2;
    default:
        return 4;
    }
}


/* the bytes of a row of n elements; n a whole number of blocks */
static inline size_t
infer_dtype_row_size(infer_dtype_e dt, int64_t n)
{
    return (size_t) (n / infer_dtype_block(dt)) * infer_dtype_block_size(dt);
}


const char *infer_dtype_name(infer_dtype_e dt);


#endif /* _INFER_DTYPE_H_INCLUDED_ */
