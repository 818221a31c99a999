/*
 * ngx_infer CUDA backend: INFER_OP_MATMUL, y = x w^T (+ b), on cuBLAS.
 */

#ifndef _INFER_CUDA_MATMUL_CUH_INCLUDED_
#define _INFER_CUDA_MATMUL_CUH_INCLUDED_


#include "infer_cuda.cuh"


/* what every product of a backend shares */
typedef struct {
    cublasHandle_t        cublas;      /* bound to stream, its workspace
                                          set */
    cudaStream_t          stream;
    cublasComputeType_t   compute;     /* of F32 operands: 32F, or
                                          32F_FAST_TF32 for tf32 */
} infer_cuda_matmul_ctx_t;


/* cuBLAS's name of an F32, F16 or BF16 operand */
static inline cudaDataType_t
infer_cuda_blas_type(infer_dtype_e dt)
{
    switch (dt) {
    case INFER_DT_F16:
        return CUDA_R_16F;
    case INFER_DT_BF16:
        return CUDA_R_16BF;
    default:
        return CUDA_R_32F;
    }
}


/*
 * y[rows][n] = x[rows][k] w[n][k]^T (+ b[n]), y packed F32.  x is F32,
 * rows ldx apart (ldx >= k: a view's rows are wider); w is wtype (F32,
 * F16, BF16), rows ldw apart.  With wtype F16 or BF16, x is first rounded
 * to it into xconv (rows x k values of wtype) and the product sums in
 * F32.  b is NULL or n F32.
 */
int infer_cuda_matmul(const infer_cuda_matmul_ctx_t *mc, float *y,
    const float *x, int64_t ldx, const void *w, infer_dtype_e wtype,
    int64_t ldw, const float *b, void *xconv, int rows, int n, int k,
    char *err, size_t errlen);


#endif /* _INFER_CUDA_MATMUL_CUH_INCLUDED_ */
