/*
 * ngx_infer CUDA backend: F32/F16/BF16 conversions, see convert.cuh.
 */

#include "convert.cuh"

extern "C" {
#include "infer_math.h"
}


/* enough blocks to fill any current GPU; the loop strides over the rest */
#define INFER_CONVERT_MAX_BLOCKS  4096


template <infer_dtype_e DT>
static __device__ __forceinline__ float
infer_cuda_load(const void *p, size_t i)
{
    if constexpr (DT == INFER_DT_F32) {
        return ((const float *) p)[i];

    } else if constexpr (DT == INFER_DT_F16) {
        return infer_f16_to_f32(((const infer_cuda_half_t *) p)[i]);

    } else {
        return infer_bf16_to_f32(((const infer_cuda_half_t *) p)[i]);
    }
}


template <infer_dtype_e DT>
static __device__ __forceinline__ void
infer_cuda_store(void *p, size_t i, float v)
{
    if constexpr (DT == INFER_DT_F32) {
        ((float *) p)[i] = v;

    } else if constexpr (DT == INFER_DT_F16) {
        ((infer_cuda_half_t *) p)[i] = infer_f32_to_f16(v);

    } else {
        ((infer_cuda_half_t *) p)[i] = infer_f32_to_bf16(v);
    }
}


template <infer_dtype_e DST, infer_dtype_e SRC>
static __global__ void
infer_cuda_convert_kernel(void *dst, const void *src, size_t n)
{
    size_t  i, stride;

    stride = (size_t) gridDim.x * blockDim.x;

    for (i = (size_t) blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += stride)
    {
        infer_cuda_store<DST>(dst, i, infer_cuda_load<SRC>(src, i));
    }
}


template <infer_dtype_e DST>
static cudaError_t
infer_cuda_convert_to(void *dst, const void *src, infer_dtype_e src_dtype,
    size_t n, unsigned blocks, cudaStream_t stream)
{
    switch (src_dtype) {
    case INFER_DT_F32:
        infer_cuda_convert_kernel<DST, INFER_DT_F32>
            <<<blocks, INFER_CUDA_THREADS, 0, stream>>>(dst, src, n);
        break;
    case INFER_DT_F16:
        infer_cuda_convert_kernel<DST, INFER_DT_F16>
            <<<blocks, INFER_CUDA_THREADS, 0, stream>>>(dst, src, n);
        break;
    case INFER_DT_BF16:
        infer_cuda_convert_kernel<DST, INFER_DT_BF16>
            <<<blocks, INFER_CUDA_THREADS, 0, stream>>>(dst, src, n);
        break;
    default:
        return cudaErrorInvalidValue;
    }

    return cudaGetLastError();
}


cudaError_t
infer_cuda_convert(void *dst, infer_dtype_e dst_dtype, const void *src,
    infer_dtype_e src_dtype, size_t n, cudaStream_t stream)
{
    size_t    want;
    unsigned  blocks;

    if (n == 0) {
        return cudaSuccess;
    }

    want = (n + INFER_CUDA_THREADS - 1) / INFER_CUDA_THREADS;
    blocks = (unsigned) (want < INFER_CONVERT_MAX_BLOCKS
                         ? want : INFER_CONVERT_MAX_BLOCKS);

    switch (dst_dtype) {
    case INFER_DT_F32:
        return infer_cuda_convert_to<INFER_DT_F32>(dst, src, src_dtype, n,
                                                   blocks, stream);
    case INFER_DT_F16:
        return infer_cuda_convert_to<INFER_DT_F16>(dst, src, src_dtype, n,
                                                   blocks, stream);
    case INFER_DT_BF16:
        return infer_cuda_convert_to<INFER_DT_BF16>(dst, src, src_dtype, n,
                                                    blocks, stream);
    default:
        return cudaErrorInvalidValue;
    }
}
