/*
 * ngx_infer CUDA backend: the epilogue of a dense layer, bias and
 * activation fused into one pass over the product cuBLAS wrote.
 *
 * The product is F32 in every precision (cuBLAS accumulates in F32 and
 * writes F32 even from F16/BF16 inputs), so the bias and the activation
 * are computed in F32 with the functions of infer_math.h, the ones the
 * CPU backend runs, and the result is written in the type the next layer
 * reads: F32, or F16/BF16 rounded to nearest even.  The conversion for the
 * next layer thus costs no pass of its own.
 */

#ifndef _INFER_CUDA_BIAS_ACT_CUH_INCLUDED_
#define _INFER_CUDA_BIAS_ACT_CUH_INCLUDED_


#include "infer_cuda.cuh"


/*
 * dst[r][j] = act(y[r][j] + bias[j]) for r < rows, j < n, row-major;
 * y is F32, bias F32 or NULL, act an INFER_ACT_* value, dst of dst_dtype
 * and either y itself (F32) or a buffer that does not overlap y.
 * Enqueued on stream; returns the launch's error.
 */
cudaError_t infer_cuda_bias_act(void *dst, infer_dtype_e dst_dtype,
    const float *y, const float *bias, int act, int rows, int n,
    cudaStream_t stream);


#endif /* _INFER_CUDA_BIAS_ACT_CUH_INCLUDED_ */
