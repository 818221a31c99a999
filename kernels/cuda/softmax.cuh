/*
 * ngx_infer CUDA backend: INFER_OP_SOFTMAX, row by row, in F32 whatever
 * the precision.
 */

#ifndef _INFER_CUDA_SOFTMAX_CUH_INCLUDED_
#define _INFER_CUDA_SOFTMAX_CUH_INCLUDED_


#include "infer_cuda.cuh"


/*
 * Each of rows rows: y = softmax(scale x + mask), x rows ldx apart, mask
 * NULL or rows ldm apart (ldm 0: one row for all), y packed.  Rows of any
 * length.
 */
cudaError_t infer_cuda_softmax(float *y, const float *x, int64_t ldx,
    const float *mask, int64_t ldm, float scale, int rows, int cols,
    cudaStream_t stream);


#endif /* _INFER_CUDA_SOFTMAX_CUH_INCLUDED_ */
