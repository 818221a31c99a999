/*
 * ngx_infer CUDA backend: activations, see act.cuh.
 *
 * infer_act() of infer_math.h, the function the CPU backend calls, with
 * the activation a template parameter: its switch folds away and each
 * instance is a straight-line loop.  The geometry is binary.cu's: a
 * thread per column walking the rows.
 */

#include "act.cuh"


template <int ACT>
static __global__ void
infer_cuda_act_kernel(float *y, const float *x, int64_t ldx, int rows,
    int cols)
{
    int  c, r;

    c = blockIdx.x * blockDim.x + threadIdx.x;

    if (c >= cols) {
        return;
    }

    for (r = blockIdx.y; r < rows; r += gridDim.y) {
        y[(size_t) r * cols + c] = infer_act(ACT, x[r * ldx + c]);
    }
}


template <int ACT>
static cudaError_t
infer_cuda_act_launch(float *y, const float *x, int64_t ldx, int rows,
    int cols, cudaStream_t stream)
{
    dim3  grid, block;

    infer_cuda_grid_2d(rows, cols, &grid, &block);

    infer_cuda_act_kernel<ACT><<<grid, block, 0, stream>>>(y, x, ldx, rows,
                                                          cols);

    return cudaGetLastError();
}


cudaError_t
infer_cuda_act(int act, float *y, const float *x, int64_t ldx, int rows,
    int cols, cudaStream_t stream)
{
    if (rows <= 0 || cols <= 0) {
        return cudaSuccess;
    }

    switch (act) {
    case INFER_MATH_ACT_NONE:
        return infer_cuda_act_launch<INFER_MATH_ACT_NONE>(y, x, ldx, rows,
                                                          cols, stream);
    case INFER_MATH_ACT_RELU:
        return infer_cuda_act_launch<INFER_MATH_ACT_RELU>(y, x, ldx, rows,
                                                          cols, stream);
    case INFER_MATH_ACT_GELU:
        return infer_cuda_act_launch<INFER_MATH_ACT_GELU>(y, x, ldx, rows,
                                                          cols, stream);
    case INFER_MATH_ACT_TANH:
        return infer_cuda_act_launch<INFER_MATH_ACT_TANH>(y, x, ldx, rows,
                                                          cols, stream);
    case INFER_MATH_ACT_SIGMOID:
        return infer_cuda_act_launch<INFER_MATH_ACT_SIGMOID>(y, x, ldx, rows,
                                                             cols, stream);
    case INFER_MATH_ACT_GELU_TANH:
        return infer_cuda_act_launch<INFER_MATH_ACT_GELU_TANH>(y, x, ldx,
                                                               rows, cols,
                                                               stream);
    case INFER_MATH_ACT_SILU:
        return infer_cuda_act_launch<INFER_MATH_ACT_SILU>(y, x, ldx, rows,
                                                          cols, stream);
    default:
        return cudaErrorInvalidValue;
    }
}
