/*
 * ngx_infer CUDA backend: the row normalizations, INFER_OP_LAYER_NORM,
 * INFER_OP_RMS_NORM and INFER_OP_L2_NORM, in F32.
 */

#ifndef _INFER_CUDA_NORM_CUH_INCLUDED_
#define _INFER_CUDA_NORM_CUH_INCLUDED_


#include "infer_cuda.cuh"


#define INFER_CUDA_NORM_LAYER  0   /* (x - mean) / sqrt(var + eps) w + b */
#define INFER_CUDA_NORM_RMS    1   /* x / sqrt(mean(x^2) + eps) w */
#define INFER_CUDA_NORM_L2     2   /* x / max(||x||_2, eps) */


/*
 * Each of rows rows of x (ldx apart) into packed y; w and b are rows of
 * cols values (b may be NULL; both unused by L2).
 */
cudaError_t infer_cuda_norm(int kind, float *y, const float *x,
    int64_t ldx, const float *w, const float *b, float eps, int rows,
    int cols, cudaStream_t stream);


#endif /* _INFER_CUDA_NORM_CUH_INCLUDED_ */
