/*
 * ngx_infer CUDA backend: F32/F16/BF16 conversions, see convert.cuh.
 *
 * A thread per column, the rows strided over the grid's y: consecutive
 * threads touch consecutive addresses of a row, which coalesces.
 */

#include "convert.cuh"


template <infer_dtype_e DST, infer_dtype_e SRC>
static __global__ void
infer_cuda_convert_kernel(void *dst, const void *src, int64_t ld_src,
    int rows, int cols)
{
    int  c, r;

    c = blockIdx.x * blockDim.x + threadIdx.x;

    if (c >= cols) {
        return;
    }

    for (r = blockIdx.y; r < rows; r += gridDim.y) {
        infer_cuda_store<DST>(dst, (size_t) r * cols + c,
                              infer_cuda_load<SRC>(src, r * ld_src + c));
    }
}


template <infer_dtype_e DST>
static cudaError_t
infer_cuda_convert_to(void *dst, const void *src, infer_dtype_e src_dtype,
    int64_t ld_src, int rows, int cols, dim3 grid, dim3 block,
    cudaStream_t stream)
{
    switch (src_dtype) {
    case INFER_DT_F32:
        infer_cuda_convert_kernel<DST, INFER_DT_F32>
            <<<grid, block, 0, stream>>>(dst, src, ld_src, rows, cols);
        break;
    case INFER_DT_F16:
        infer_cuda_convert_kernel<DST, INFER_DT_F16>
            <<<grid, block, 0, stream>>>(dst, src, ld_src, rows, cols);
        break;
    case INFER_DT_BF16:
        infer_cuda_convert_kernel<DST, INFER_DT_BF16>
            <<<grid, block, 0, stream>>>(dst, src, ld_src, rows, cols);
        break;
    default:
        return cudaErrorInvalidValue;
    }

    return cudaGetLastError();
}


cudaError_t
infer_cuda_convert_rows(void *dst, infer_dtype_e dst_dtype, const void *src,
    infer_dtype_e src_dtype, int64_t ld_src, int rows, int cols,
    cudaStream_t stream)
{
    dim3  grid, block;

    if (rows <= 0 || cols <= 0) {
        return cudaSuccess;
    }

    infer_cuda_grid_2d(rows, cols, &grid, &block);

    switch (dst_dtype) {
    case INFER_DT_F32:
        return infer_cuda_convert_to<INFER_DT_F32>(dst, src, src_dtype,
                                                   ld_src, rows, cols, grid,
                                                   block, stream);
    case INFER_DT_F16:
        return infer_cuda_convert_to<INFER_DT_F16>(dst, src, src_dtype,
                                                   ld_src, rows, cols, grid,
                                                   block, stream);
    case INFER_DT_BF16:
        return infer_cuda_convert_to<INFER_DT_BF16>(dst, src, src_dtype,
                                                    ld_src, rows, cols, grid,
                                                    block, stream);
    default:
        return cudaErrorInvalidValue;
    }
}
