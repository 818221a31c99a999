/*
 * ngx_infer CUDA backend: pooling over the tokens of each sequence, see
 * pool.cuh.
 *
 * A thread per column, blockIdx.y the sequence (strided past 65535): the
 * thread walks its sequence's rows, consecutive threads reading consecutive addresses of
 * each.  The mean is the sum in F32 divided by the length.
 */

#include <math.h>

#include "pool.cuh"

extern "C" {
#include "infer_ops.h"
}


template <int MODE>
static __device__ __forceinline__ float
infer_cuda_pool_one(const float *xc, int64_t ldx, int start, int len)
{
    int    r;
    float  v;

    if (MODE == INFER_POOL_CLS) {
        return xc[start * ldx];
    }

    if (MODE == INFER_POOL_LAST) {
        return xc[(int64_t) (start + len - 1) * ldx];
    }

    if (MODE == INFER_POOL_MAX) {
        v = xc[start * ldx];
        for (r = start + 1; r < start + len; r++) {
            v = fmaxf(v, xc[r * ldx]);
        }

        return v;
    }

    v = 0.0f;
    for (r = start; r < start + len; r++) {
        v += xc[r * ldx];
    }

    return v / (float) len;
}


template <int MODE>
static __global__ void
infer_cuda_pool_kernel(float *y, const float *x, int64_t ldx, int xrows,
    const int32_t *seqs, int64_t ld_seqs, int nseqs, int cols,
    infer_cuda_status_t *st)
{
    int      c, s;
    bool     good;
    int32_t  start, len;

    c = blockIdx.x * blockDim.x + threadIdx.x;

    if (c >= cols) {
        return;
    }

    for (s = blockIdx.y; s < nseqs; s += gridDim.y) {
        start = seqs[s * ld_seqs];
        len = seqs[s * ld_seqs + 1];

        good = infer_cuda_seq_ok(seqs, ld_seqs, s, xrows, st);

        y[(size_t) s * cols + c] =
            (good && len > 0)
            ? infer_cuda_pool_one<MODE>(x + c, ldx, start, len) : 0.0f;
    }
}


cudaError_t
infer_cuda_pool(int mode, float *y, const float *x, int64_t ldx, int xrows,
    const int32_t *seqs, int64_t ld_seqs, int nseqs, int cols,
    infer_cuda_status_t *st, cudaStream_t stream)
{
    dim3  grid, block;

    if (nseqs <= 0 || cols <= 0) {
        return cudaSuccess;
    }

    infer_cuda_grid_2d(nseqs, cols, &grid, &block);

    switch (mode) {
    case INFER_POOL_MEAN:
        infer_cuda_pool_kernel<INFER_POOL_MEAN>
            <<<grid, block, 0, stream>>>(y, x, ldx, xrows, seqs, ld_seqs,
                                         nseqs, cols, st);
        break;
    case INFER_POOL_CLS:
        infer_cuda_pool_kernel<INFER_POOL_CLS>
            <<<grid, block, 0, stream>>>(y, x, ldx, xrows, seqs, ld_seqs,
                                         nseqs, cols, st);
        break;
    case INFER_POOL_MAX:
        infer_cuda_pool_kernel<INFER_POOL_MAX>
            <<<grid, block, 0, stream>>>(y, x, ldx, xrows, seqs, ld_seqs,
                                         nseqs, cols, st);
        break;
    case INFER_POOL_LAST:
        infer_cuda_pool_kernel<INFER_POOL_LAST>
            <<<grid, block, 0, stream>>>(y, x, ldx, xrows, seqs, ld_seqs,
                                         nseqs, cols, st);
        break;
    default:
        return cudaErrorInvalidValue;
    }

    return cudaGetLastError();
}
