/*
 * ngx_infer CUDA backend: sums and maxima over a warp and over a block,
 * for the kernels that work one block per row (softmax.cu, norm.cu) and
 * attention.cu.  Warp shuffles, then one shared word per warp.
 */

#ifndef _INFER_CUDA_REDUCE_CUH_INCLUDED_
#define _INFER_CUDA_REDUCE_CUH_INCLUDED_


#include "infer_cuda.cuh"


/* the most threads a block-reduced kernel is launched with */
#define INFER_CUDA_MAX_THREADS  1024


/*
 * The comparison of infer_softmax_row(), "x > max": a NaN never becomes
 * the maximum, and, as on the CPU, poisons a row through its sum.
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

#pragma unroll
    for (off = INFER_CUDA_WARP / 2; off > 0; off >>= 1) {
        o = __shfl_xor_sync(INFER_CUDA_FULL_MASK, v, off);
        v = MAX ? infer_cuda_max(v, o) : v + o;
    }

    return v;
}


/*
 * The reduction of v over the block (blockDim.x a multiple of 32),
 * returned to every thread.  The closing barrier lets the next call reuse
 * the shared words.
 */
template <bool MAX>
static __device__ float
infer_cuda_block_reduce(float v)
{
    int               lane, warp, nwarps;
    float             identity;
    __shared__ float  part[INFER_CUDA_MAX_THREADS / INFER_CUDA_WARP];

    identity = MAX ? -INFINITY : 0.0f;
    lane = threadIdx.x % INFER_CUDA_WARP;
    warp = threadIdx.x / INFER_CUDA_WARP;
    nwarps = blockDim.x / INFER_CUDA_WARP;

    v = infer_cuda_warp_reduce<MAX>(v);

    if (nwarps == 1) {
        return v;
    }

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


#endif /* _INFER_CUDA_REDUCE_CUH_INCLUDED_ */
