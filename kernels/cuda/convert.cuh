/*
 * ngx_infer CUDA backend: element type conversions between F32, F16 and
 * BF16 (infer_dtype_e), on the device.
 *
 * Used at load() to bring weights stored in one type to the type the
 * precision computes in, after an upload in the stored type (half the
 * bytes over PCIe for F16/BF16 files), and by matmul.cu to bring the F32
 * rows of x (a view's among them) to F16/BF16 for cuBLAS.  Every value
 * goes through F32, which holds F16 and BF16 exactly, then rounds once to
 * nearest even: the conversions of infer_math.h, so the device gives the
 * bits the CPU gives.
 */

#ifndef _INFER_CUDA_CONVERT_CUH_INCLUDED_
#define _INFER_CUDA_CONVERT_CUH_INCLUDED_


#include "infer_cuda.cuh"


/*
 * dst = src for rows x cols values, dst in dst_dtype and packed (rows
 * cols elements apart), src in src_dtype with rows ld_src elements apart;
 * they must not overlap.  Enqueued on stream; returns the launch's error.
 */
cudaError_t infer_cuda_convert_rows(void *dst, infer_dtype_e dst_dtype,
    const void *src, infer_dtype_e src_dtype, int64_t ld_src, int rows,
    int cols, cudaStream_t stream);


#endif /* _INFER_CUDA_CONVERT_CUH_INCLUDED_ */
