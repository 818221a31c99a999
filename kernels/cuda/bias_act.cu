/*
 * ngx_infer CUDA backend: fused bias + activation, see bias_act.cuh.
 *
 * A thread owns one column j: it loads bias[j] once and walks the rows
 * (blockIdx.y, strided by gridDim.y), so consecutive threads touch
 * consecutive addresses of a row and every access coalesces.  The
 * activation and the output type are template parameters: the switch of
 * infer_act() folds away and each instance is a straight-line loop.
 */

#include "bias_act.cuh"

extern "C" {
#include "infer_math.h"
}


/* the grid's y dimension is limited to 65535; larger batches stride */
#define INFER_BIAS_ACT_MAX_ROW_BLOCKS  65535


template <int ACT, infer_dtype_e DT>
static __global__ void
infer_cuda_bias_act_kernel(void *dst, const float *y, const float *bias,
    int rows, int n)
{
    int     j, r;
    float   b, v;
    size_t  i;

    j = blockIdx.x * blockDim.x + threadIdx.x;

    if (j >= n) {
        return;
    }

    b = bias != NULL ? bias[j] : 0.0f;

    for (r = blockIdx.y; r < rows; r += gridDim.y) {
        i = (size_t) r * n + j;

        /* no addition without a bias, as on the CPU: -0 stays -0 */
        v = infer_act(ACT, bias != NULL ? y[i] + b : y[i]);

        if constexpr (DT == INFER_DT_F32) {
            ((float *) dst)[i] = v;

        } else if constexpr (DT == INFER_DT_F16) {
            ((infer_cuda_half_t *) dst)[i] = infer_f32_to_f16(v);

        } else {
            ((infer_cuda_half_t *) dst)[i] = infer_f32_to_bf16(v);
        }
    }
}


template <int ACT>
static cudaError_t
infer_cuda_bias_act_dt(void *dst, infer_dtype_e dst_dtype, const float *y,
    const float *bias, int rows, int n, dim3 grid, dim3 block,
    cudaStream_t stream)
{
    switch (dst_dtype) {
    case INFER_DT_F32:
        infer_cuda_bias_act_kernel<ACT, INFER_DT_F32>
            <<<grid, block, 0, stream>>>(dst, y, bias, rows, n);
        break;
    case INFER_DT_F16:
        infer_cuda_bias_act_kernel<ACT, INFER_DT_F16>
            <<<grid, block, 0, stream>>>(dst, y, bias, rows, n);
        break;
    case INFER_DT_BF16:
        infer_cuda_bias_act_kernel<ACT, INFER_DT_BF16>
            <<<grid, block, 0, stream>>>(dst, y, bias, rows, n);
        break;
    default:
        return cudaErrorInvalidValue;
    }

    return cudaGetLastError();
}


cudaError_t
infer_cuda_bias_act(void *dst, infer_dtype_e dst_dtype, const float *y,
    const float *bias, int act, int rows, int n, cudaStream_t stream)
{
    int   threads;
    dim3  grid, block;

    if (rows <= 0 || n <= 0) {
        return cudaSuccess;
    }

    /* whole warps, no more than a short row needs */
    threads = n >= INFER_CUDA_THREADS ? INFER_CUDA_THREADS
                                      : (n + 31) / 32 * 32;

    block = dim3((unsigned) threads);
    grid = dim3((unsigned) ((n + threads - 1) / threads),
                (unsigned) (rows < INFER_BIAS_ACT_MAX_ROW_BLOCKS
                            ? rows : INFER_BIAS_ACT_MAX_ROW_BLOCKS));

    switch (act) {
    case INFER_MATH_ACT_NONE:
        return infer_cuda_bias_act_dt<INFER_MATH_ACT_NONE>(
                   dst, dst_dtype, y, bias, rows, n, grid, block, stream);
    case INFER_MATH_ACT_RELU:
        return infer_cuda_bias_act_dt<INFER_MATH_ACT_RELU>(
                   dst, dst_dtype, y, bias, rows, n, grid, block, stream);
    case INFER_MATH_ACT_GELU:
        return infer_cuda_bias_act_dt<INFER_MATH_ACT_GELU>(
                   dst, dst_dtype, y, bias, rows, n, grid, block, stream);
    case INFER_MATH_ACT_TANH:
        return infer_cuda_bias_act_dt<INFER_MATH_ACT_TANH>(
                   dst, dst_dtype, y, bias, rows, n, grid, block, stream);
    case INFER_MATH_ACT_SIGMOID:
        return infer_cuda_bias_act_dt<INFER_MATH_ACT_SIGMOID>(
                   dst, dst_dtype, y, bias, rows, n, grid, block, stream);
    default:
        return cudaErrorInvalidValue;
    }
}
