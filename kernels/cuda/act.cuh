/*
 * ngx_infer CUDA backend: INFER_OP_ACT, an activation element by element.
 */

#ifndef _INFER_CUDA_ACT_CUH_INCLUDED_
#define _INFER_CUDA_ACT_CUH_INCLUDED_


#include "infer_cuda.cuh"


/*
 * y = act(x) for rows x cols values, act an INFER_MATH_ACT_* (the value
 * of infer_act_e), x rows ldx apart, y packed.
 */
cudaError_t infer_cuda_act(int act, float *y, const float *x, int64_t ldx,
    int rows, int cols, cudaStream_t stream);


#endif /* _INFER_CUDA_ACT_CUH_INCLUDED_ */
