/*
 * ngx_infer CUDA backend: row softmax, see softmax.cuh.
 *
 * Short rows (a classifier's few classes): one thread per row running
 * infer_softmax_row() of infer_math.h itself, the very code the CPU
 * backend runs, so the GPU's probabilities are the CPU's to the bit for
 * the same logits.  A block per row would leave most of its threads idle.
 *
 * Longer rows: one block per row, whole warps, at most 1024 threads.
 * Each thread owns the columns threadIdx.x + k * blockDim.x in all three
 * passes (maximum, exponentials and their sum, scaling), so y may be x: a
 * thread only ever rewrites values it alone reads.  The block reductions
 * go through warp shuffles and one shared word per warp.
 */

#include <math.h>

#include "softmax.cuh"

extern "C" {
#include "infer_math.h"
}


#define INFER_SOFTMAX_MAX_THREADS  1024
#define INFER_SOFTMAX_SHORT_ROW    32
#define INFER_WARP                 32
#define INFER_FULL_MASK            0xffffffffu


/*
 * The comparison of infer_softmax_row(), "x > max": a NaN never becomes
 * the maximum, and, as on the CPU, poisons the row through the sum.
 */
static __device__ __forceinline__ float
infer_cuda_max(float a, float b)
{
    return b > a ? b : a;
}


template <bool MAX>
static __device__ __forceinline__ float
infer_cuda_warp_reduce(float v)
{
    int    off;
    float  o;

    for (off = INFER_WARP / 2; off > 0; off >>= 1) {
        o = __shfl_xor_sync(INFER_FULL_MASK, v, off);
        v = MAX ? infer_cuda_max(v, o) : v + o;
    }

    return v;
}


/*
 * The reduction of v over the block, returned to every thread.  The
 * closing barrier lets the next call reuse the shared words.
 */
template <bool MAX>
static __device__ float
infer_cuda_block_reduce(float v, float identity)
{
    int              lane, warp, nwarps;
    __shared__ float part[INFER_SOFTMAX_MAX_THREADS / INFER_WARP];

    lane = threadIdx.x % INFER_WARP;
    warp = threadIdx.x / INFER_WARP;
    nwarps = blockDim.x / INFER_WARP;

    v = infer_cuda_warp_reduce<MAX>(v);

    if (lane == 0) {
        part[warp] = v;
    }

    __syncthreads();

    if (warp == 0) {
        v = lane < nwarps ? part[lane] : identity;
        v = infer_cuda_warp_reduce<MAX>(v);

        if (lane == 0) {
            part[0] = v;
        }
    }

    __syncthreads();

    v = part[0];

    __syncthreads();

    return v;
}


static __global__ void
infer_cuda_softmax_short_kernel(float *y, const float *x, int rows, int n)
{
    int  r;

    r = blockIdx.x * blockDim.x + threadIdx.x;

    if (r < rows) {
        infer_softmax_row(y + (size_t) r * n, x + (size_t) r * n, n);
    }
}


static __global__ void
infer_cuda_softmax_kernel(float *y, const float *x, int n)
{
    int           i;
    float        *yr;
    float         max, sum, e, inv;
    const float  *xr;

    xr = x + (size_t) blockIdx.x * n;
    yr = y + (size_t) blockIdx.x * n;

    max = -INFINITY;
    for (i = threadIdx.x; i < n; i += blockDim.x) {
        max = infer_cuda_max(max, xr[i]);
    }

    max = infer_cuda_block_reduce<true>(max, -INFINITY);

    sum = 0.0f;
    for (i = threadIdx.x; i < n; i += blockDim.x) {
        e = expf(xr[i] - max);
        yr[i] = e;
        sum += e;
    }

    sum = infer_cuda_block_reduce<false>(sum, 0.0f);

    inv = 1.0f / sum;
    for (i = threadIdx.x; i < n; i += blockDim.x) {
        yr[i] *= inv;
    }
}


cudaError_t
infer_cuda_softmax(float *y, const float *x, int rows, int n,
    cudaStream_t stream)
{
    int  threads;

    if (rows <= 0 || n <= 0) {
        return cudaSuccess;
    }

    if (n <= INFER_SOFTMAX_SHORT_ROW) {
        infer_cuda_softmax_short_kernel
            <<<(unsigned) ((rows + INFER_CUDA_THREADS - 1)
                           / INFER_CUDA_THREADS),
               INFER_CUDA_THREADS, 0, stream>>>(y, x, rows, n);

        return cudaGetLastError();
    }

    threads = n >= INFER_SOFTMAX_MAX_THREADS
              ? INFER_SOFTMAX_MAX_THREADS
              : (n + INFER_WARP - 1) / INFER_WARP * INFER_WARP;

    infer_cuda_softmax_kernel<<<(unsigned) rows, (unsigned) threads, 0,
                                stream>>>(y, x, n);

    return cudaGetLastError();
}
