/*
 * ngx_infer CUDA backend: element-wise add and multiply, see binary.cuh.
 *
 * A thread per column walks the rows (blockIdx.y, strided by gridDim.y):
 * consecutive threads touch consecutive addresses of a row, and a
 * broadcast row of b is loaded once per thread.
 */

#include "binary.cuh"


template <int OP>
static __global__ void
infer_cuda_binary_kernel(float *y, const float *a, int64_t lda,
    const float *b, int64_t ldb, int rows, int cols)
{
    int    c, r;
    float  u, v;

    c = blockIdx.x * blockDim.x + threadIdx.x;

    if (c >= cols) {
        return;
    }

    for (r = blockIdx.y; r < rows; r += gridDim.y) {
        u = a[r * lda + c];
        v = b[r * ldb + c];

        y[(size_t) r * cols + c] = OP == INFER_CUDA_BINARY_ADD ? u + v
                                                               : u * v;
    }
}


cudaError_t
infer_cuda_binary(int op, float *y, const float *a, int64_t lda,
    const float *b, int64_t ldb, int rows, int cols, cudaStream_t stream)
{
    dim3  grid, block;

    if (rows <= 0 || cols <= 0) {
        return cudaSuccess;
    }

    infer_cuda_grid_2d(rows, cols, &grid, &block);

    switch (op) {
    case INFER_CUDA_BINARY_ADD:
        infer_cuda_binary_kernel<INFER_CUDA_BINARY_ADD>
            <<<grid, block, 0, stream>>>(y, a, lda, b, ldb, rows, cols);
        break;
    case INFER_CUDA_BINARY_MUL:
        infer_cuda_binary_kernel<INFER_CUDA_BINARY_MUL>
            <<<grid, block, 0, stream>>>(y, a, lda, b, ldb, rows, cols);
        break;
    default:
        return cudaErrorInvalidValue;
    }

    return cudaGetLastError();
}
