/*
 * ngx_infer CUDA backend: layer, RMS and L2 norms, see norm.cuh.
 *
 * One block per row, as softmax.cu.  The layer norm takes two passes
 * over the row, the mean and then the mean of the squared deviations
 * from it, the way PyTorch does: a one-pass E[x^2] - E[x]^2 cancels badly
 * for rows far from zero.  The row is read again for the output rather
 * than kept in shared memory: it is in L1 or L2 by then.
 */

#include <math.h>

#include "norm.cuh"
#include "reduce.cuh"


/* a hidden size of a few thousand needs no more */
#define INFER_NORM_MAX_THREADS  512


template <int KIND>
static __global__ void
infer_cuda_norm_kernel(float *y, const float *x, int64_t ldx, const float *w,
    const float *b, float eps, int cols)
{
    int           i;
    float        *yr;
    float         s, d, mean, inv, v;
    const float  *xr;

    xr = x + blockIdx.x * ldx;
    yr = y + (size_t) blockIdx.x * cols;

    mean = 0.0f;

    if constexpr (KIND == INFER_CUDA_NORM_LAYER) {
        s = 0.0f;
        for (i = threadIdx.x; i < cols; i += blockDim.x) {
            s += xr[i];
        }

        mean = infer_cuda_block_reduce<false>(s) / (float) cols;
    }

    s = 0.0f;
    for (i = threadIdx.x; i < cols; i += blockDim.x) {
        d = xr[i] - mean;
        s += d * d;
    }

    s = infer_cuda_block_reduce<false>(s);

    if constexpr (KIND == INFER_CUDA_NORM_L2) {
        inv = 1.0f / fmaxf(sqrtf(s), eps);

    } else {
        inv = 1.0f / sqrtf(s / (float) cols + eps);
    }

    for (i = threadIdx.x; i < cols; i += blockDim.x) {
        v = (xr[i] - mean) * inv;

        if constexpr (KIND != INFER_CUDA_NORM_L2) {
            v *= w[i];
        }

        if constexpr (KIND == INFER_CUDA_NORM_LAYER) {
            if (b != NULL) {
                v += b[i];
            }
        }

        yr[i] = v;
    }
}


cudaError_t
infer_cuda_norm(int kind, float *y, const float *x, int64_t ldx,
    const float *w, const float *b, float eps, int rows, int cols,
    cudaStream_t stream)
{
    unsigned  threads;

    if (rows <= 0 || cols <= 0) {
        return cudaSuccess;
    }

    threads = (unsigned) infer_cuda_row_threads(cols, INFER_NORM_MAX_THREADS);

    switch (kind) {
    case INFER_CUDA_NORM_LAYER:
        infer_cuda_norm_kernel<INFER_CUDA_NORM_LAYER>
            <<<(unsigned) rows, threads, 0, stream>>>(y, x, ldx, w, b, eps,
                                                      cols);
        break;
    case INFER_CUDA_NORM_RMS:
        infer_cuda_norm_kernel<INFER_CUDA_NORM_RMS>
            <<<(unsigned) rows, threads, 0, stream>>>(y, x, ldx, w, b, eps,
                                                      cols);
        break;
    case INFER_CUDA_NORM_L2:
        infer_cuda_norm_kernel<INFER_CUDA_NORM_L2>
            <<<(unsigned) rows, threads, 0, stream>>>(y, x, ldx, w, b, eps,
                                                      cols);
        break;
    default:
        return cudaErrorInvalidValue;
    }

    return cudaGetLastError();
}
