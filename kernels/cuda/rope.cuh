/*
 * ngx_infer CUDA backend: INFER_OP_ROPE, rotary position embeddings.
 */

#ifndef _INFER_CUDA_ROPE_CUH_INCLUDED_
#define _INFER_CUDA_ROPE_CUH_INCLUDED_


#include "infer_cuda.cuh"


/* the most rotated dims a head may have: n_rot / 2 frequencies travel
 * with the launch */
#define INFER_CUDA_ROPE_MAX_ROT  512


/*
 * y = x rotated, rows tokens of heads x head_dim values (x rows ldx
 * apart, y packed), token t at position pos[t * ld_pos]; the first n_rot
 * dims of each head turn in pairs, mode INFER_ROPE_NORM (2i, 2i + 1) or
 * INFER_ROPE_NEOX (i, i + n_rot / 2), pair i by pos theta^(-2i / n_rot);
 * the other dims are copied.
 */
cudaError_t infer_cuda_rope(float *y, const float *x, int64_t ldx,
    const int32_t *pos, int64_t ld_pos, int rows, int heads, int head_dim,
    int n_rot, int mode, float theta, cudaStream_t stream);


#endif /* _INFER_CUDA_ROPE_CUH_INCLUDED_ */
