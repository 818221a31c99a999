/*
 * ngx_infer CUDA backend: softmax over each row of the output.
 *
 * infer_softmax_row() of infer_math.h, one thread per row, for rows of up
 * to 32 values; for longer rows its numerics spread over one block per
 * row: the row's maximum is subtracted before expf(), so no input
 * overflows, then every value is multiplied by 1 / sum.  Only the order
 * of the additions differs from the CPU there (a tree instead of a loop),
 * within a few F32 ulps of it.
 */

#ifndef _INFER_CUDA_SOFTMAX_CUH_INCLUDED_
#define _INFER_CUDA_SOFTMAX_CUH_INCLUDED_


#include "infer_cuda.cuh"


/*
 * y[r] = softmax(x[r]) for r < rows, rows of n F32 values, row-major;
 * y may be x.  Enqueued on stream; returns the launch's error.
 */
cudaError_t infer_cuda_softmax(float *y, const float *x, int rows, int n,
    cudaStream_t stream);


#endif /* _INFER_CUDA_SOFTMAX_CUH_INCLUDED_ */
