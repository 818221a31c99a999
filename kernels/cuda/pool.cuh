/*
 * ngx_infer CUDA backend: INFER_OP_POOL, a row per sequence.
 */

#ifndef _INFER_CUDA_POOL_CUH_INCLUDED_
#define _INFER_CUDA_POOL_CUH_INCLUDED_


#include "infer_cuda.cuh"


/*
 * y[s] = mode (INFER_POOL_*) over the rows of x (xrows rows, ldx apart)
 * that sequence s of seqs (nseqs x 4 I32, ld_seqs apart) covers; y packed.
 * An empty sequence gets zeros; so does one that reaches outside [0,
 * xrows), which is reported to st.
 */
cudaError_t infer_cuda_pool(int mode, float *y, const float *x, int64_t ldx,
    int xrows, const int32_t *seqs, int64_t ld_seqs, int nseqs, int cols,
    infer_cuda_status_t *st, cudaStream_t stream);


#endif /* _INFER_CUDA_POOL_CUH_INCLUDED_ */
