/*
 * ngx_infer: the element types of tensors, as stored and as computed.
 *
 * The values cross the dlopen() boundary into the CUDA backend as ints:
 * append, never renumber.  GGUF's quantized block types (Q8_0, Q4_0,
 * Q4_1, Q4_K, Q5_K, Q6_K) are to come after I64: a row of them is a whole
 * number of blocks, which is what infer_dtype_row_size() counts.
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
    INFER_DT_COUNT
} infer_dtype_e;


/* elements per block, and bytes per block (1 and the element's size for
 * the plain types) */
static inline int64_t
infer_dtype_block(infer_dtype_e dt)
{
    (void) dt;

    return 1;
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
