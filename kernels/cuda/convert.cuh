/*
 * ngx_infer CUDA backend: element type conversions between F32, F16 and
 * BF16 (infer_dtype_e), on the device.
 *
 * Used at load() to bring weights stored in one type to the type the
 * precision computes in, after an upload in the stored type (half the
 * bytes over PCIe for F16/BF16 files), and at run() to bring the F32
 * input rows to F16/BF16.  Every value goes through F32, which holds F16
 * and BF16 exactly, then rounds once to nearest even: the conversions of
 * infer_math.h, so the device gives the bits the CPU gives.
 */

#ifndef _INFER_CUDA_CONVERT_CUH_INCLUDED_
#define _INFER_CUDA_CONVERT_CUH_INCLUDED_


#include "infer_cuda.cuh"


/*
 * dst[i] = src[i] for i < n, dst in dst_dtype and src in src_dtype;
 * dst and src must not overlap unless they are the same buffer of the
 * same type.  Enqueued on stream; returns the launch's error.
 */
cudaError_t infer_cuda_convert(void *dst, infer_dtype_e dst_dtype,
    const void *src, infer_dtype_e src_dtype, size_t n, cudaStream_t stream);


#endif /* _INFER_CUDA_CONVERT_CUH_INCLUDED_ */
