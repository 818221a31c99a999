/*
 * ngx_infer CUDA backend: the product of nn.Linear, see matmul.cuh.
 *
 * Row-major Y[rows][n] = X[rows][k] W^T, W[n][k] as nn.Linear.  cuBLAS
 * is column-major, where those buffers read as Y^T (n x rows, ld n), X^T
 * (k x rows, ld ldx) and W^T (k x n, ld ldw); so Y^T = W X^T is
 * C = op(A) B with A = W^T read transposed (m = n), B = X^T as it is
 * (n = rows), and k.  A view of some columns of x is a matrix whose
 * leading dimension is its source's: no copy.
 *
 * cublasGemmEx takes its scalars from host memory, whose values a CUDA
 * graph captures; with F16/BF16 operands and CUBLAS_COMPUTE_32F the
 * products and sums are F32 and so is y.  The bias is an add in place
 * (binary.cu) of one row broadcast to every row, after the product.
 */

#include "matmul.cuh"
#include "binary.cuh"
#include "convert.cuh"


int
infer_cuda_matmul(const infer_cuda_matmul_ctx_t *mc, float *y,
    const float *x, int64_t ldx, const void *w, infer_dtype_e wtype,
    int64_t ldw, const float *b, void *xconv, int rows, int n, int k,
    char *err, size_t errlen)
{
    const void          *xb;
    cudaDataType_t       t;
    static const float   one = 1.0f, zero = 0.0f;

    if (rows <= 0) {
        return 0;
    }

    t = infer_cuda_blas_type(wtype);
    xb = x;

    if (wtype != INFER_DT_F32) {
        CUDA_CHECK(infer_cuda_convert_rows(xconv, wtype, x, INFER_DT_F32,
                                           ldx, rows, k, mc->stream));
        xb = xconv;
        ldx = k;
    }

    CUBLAS_CHECK(cublasGemmEx(mc->cublas, CUBLAS_OP_T, CUBLAS_OP_N,
                              n, rows, k,
                              &one, w, t, (int) ldw,
                              xb, t, (int) ldx,
                              &zero, y, CUDA_R_32F, n,
                              wtype == INFER_DT_F32 ? mc->compute
                                                    : CUBLAS_COMPUTE_32F,
                              CUBLAS_GEMM_DEFAULT));

    if (b != NULL) {
        CUDA_CHECK(infer_cuda_binary(INFER_CUDA_BINARY_ADD, y, y, n, b, 0,
                                     rows, n, mc->stream));
    }

    return 0;
}
