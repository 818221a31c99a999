/*
 * ngx_infer CUDA backend: INFER_OP_ADD and INFER_OP_MUL, and the bias of
 * INFER_OP_MATMUL (an add in place of a 1 x cols row).
 */

#ifndef _INFER_CUDA_BINARY_CUH_INCLUDED_
#define _INFER_CUDA_BINARY_CUH_INCLUDED_


#include "infer_cuda.cuh"


#define INFER_CUDA_BINARY_ADD  0
#define INFER_CUDA_BINARY_MUL  1


/*
 * y[r][c] = a[r][c] op b[r][c], rows x cols, y packed; ldb 0 broadcasts
 * the one row of b to every row.  y may be a (lda = cols): each element
 * is read and written by one thread.
 */
cudaError_t infer_cuda_binary(int op, float *y, const float *a, int64_t lda,
    const float *b, int64_t ldb, int rows, int cols, cudaStream_t stream);


#endif /* _INFER_CUDA_BINARY_CUH_INCLUDED_ */
