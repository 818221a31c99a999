/*
 * ngx_infer CUDA backend: INFER_OP_GET_ROWS, an embedding lookup.
 */

#ifndef _INFER_CUDA_GET_ROWS_CUH_INCLUDED_
#define _INFER_CUDA_GET_ROWS_CUH_INCLUDED_


#include "infer_cuda.cuh"


/*
 * y[i] = table[ids[i]] as F32 for i < rows: table vocab rows of cols
 * values in type (F32, F16, BF16, ld_table elements apart; or a
 * quantized type, packed rows of blocks); ids rows I32, ld_ids apart (a
 * column of a wider I32 matrix).  An id outside [0, vocab) gives a row
 * of zeros and is reported to st.
 */
cudaError_t infer_cuda_get_rows(float *y, const void *table,
    infer_dtype_e type, int64_t ld_table, int64_t vocab, const int32_t *ids,
    int64_t ld_ids, int rows, int cols, infer_cuda_status_t *st,
    cudaStream_t stream);


#endif /* _INFER_CUDA_GET_ROWS_CUH_INCLUDED_ */
