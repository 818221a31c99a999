/*
 * ngx_infer CUDA backend: row softmax, see softmax.cuh.
 *
 * One block per row, whole warps, at most 1024 threads (a single warp for
 * a classifier's few classes, whose reduction is then shuffles alone).
 * Each thread owns the columns threadIdx.x + k * blockDim.x in all three
 * passes (maximum, exponentials and their sum, scaling), so a value of y
 * written in the second pass is rescaled by the thread that wrote it.
 * The maximum is subtracted first, as in infer_softmax_row(): no exp()
 * overflows whatever the inputs.
 */

#include <math.h>

#include "softmax.cuh"
#include "reduce.cuh"


static __device__ __forceinline__ float
infer_cuda_softmax_in(const float *xr, const float *mr, float scale, int i)
{
    return mr != NULL ? scale * xr[i] + mr[i] : scale * xr[i];
}


static __global__ void
infer_cuda_softmax_kernel(float *y, const float *x, int64_t ldx,
    const float *mask, int64_t ldm, float scale, int cols)
{
    int           i;
    float        *yr;
    float         max, sum, e, inv;
    const float  *xr, *mr;

    xr = x + blockIdx.x * ldx;
    mr = mask != NULL ? mask + blockIdx.x * ldm : NULL;
    yr = y + (size_t) blockIdx.x * cols;

    max = -INFINITY;
    for (i = threadIdx.x; i < cols; i += blockDim.x) {
        max = infer_cuda_max(max, infer_cuda_softmax_in(xr, mr, scale, i));
    }

    max = infer_cuda_block_reduce<true>(max);

    sum = 0.0f;
    for (i = threadIdx.x; i < cols; i += blockDim.x) {
        e = expf(infer_cuda_softmax_in(xr, mr, scale, i) - max);
        yr[i] = e;
        sum += e;
    }

    sum = infer_cuda_block_reduce<false>(sum);

    inv = 1.0f / sum;
    for (i = threadIdx.x; i < cols; i += blockDim.x) {
        yr[i] *= inv;
    }
}


cudaError_t
infer_cuda_softmax(float *y, const float *x, int64_t ldx, const float *mask,
    int64_t ldm, float scale, int rows, int cols, cudaStream_t stream)
{
    if (rows <= 0 || cols <= 0) {
        return cudaSuccess;
    }

    infer_cuda_softmax_kernel
        <<<(unsigned) rows,
           (unsigned) infer_cuda_row_threads(cols, INFER_CUDA_MAX_THREADS),
           0, stream>>>(y, x, ldx, mask, ldm, scale, cols);

    return cudaGetLastError();
}
