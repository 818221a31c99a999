/*
 * ngx_infer CUDA backend: INFER_OP_ATTENTION, scaled dot-product
 * attention over the ragged sequences of a batch.
 */

#ifndef _INFER_CUDA_ATTENTION_CUH_INCLUDED_
#define _INFER_CUDA_ATTENTION_CUH_INCLUDED_


#include "infer_cuda.cuh"


/* the longest head this backend computes */
#define INFER_CUDA_ATTENTION_MAX_DIM  256


typedef struct {
    float          *y;          /* tokens x heads * head_dim, packed */
    const float    *q;          /* tokens x heads * head_dim */
    const float    *k;          /* tokens x kv_heads * head_dim */
    const float    *v;          /* the same */
    int64_t         ldq;
    int64_t         ldk;
    int64_t         ldv;
    const int32_t  *seqs;       /* nseqs x 4: infer_seq_t */
    int64_t         ld_seqs;
    int             nseqs;
    int             tokens;
    int             heads;
    int             kv_heads;   /* divides heads */
    int             head_dim;   /* 1 .. INFER_CUDA_ATTENTION_MAX_DIM */
    int             causal;
    float           scale;      /* 0: 1 / sqrt(head_dim) */
    infer_cuda_status_t  *st;
} infer_cuda_attention_t;


/*
 * Token t of sequence s (start <= t < start + len) attends to the tokens
 * of s (causal: those up to t); head h reads kv head h / (heads /
 * kv_heads).  A token outside every sequence gets zeros; a sequence
 * that reaches outside [0, tokens) is reported to st, and its tokens get
 * zeros too.
 */
cudaError_t infer_cuda_attention(const infer_cuda_attention_t *a,
    cudaStream_t stream);


#endif /* _INFER_CUDA_ATTENTION_CUH_INCLUDED_ */
