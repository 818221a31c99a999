/*
 * ngx_infer CUDA backend: INFER_OP_KV_STORE and INFER_OP_KV_ATTENTION, a
 * decoder's paged KV cache in device memory.
 */

#ifndef _INFER_CUDA_KV_CUH_INCLUDED_
#define _INFER_CUDA_KV_CUH_INCLUDED_


#include "infer_cuda.cuh"
#include "attention.cuh"


/*
 * The cache (infer_ops.h's infer_kv_shape_t): position j of block b,
 * layer l, keys (kv 0) or values (kv 1) are the kv_dim floats at
 * (((b layers + l) 2 + kv) block_tokens + j) kv_dim.
 */
typedef struct {
    float          *kv;
    int             layers;
    int             kv_dim;
    int             block_tokens;
    int             n_blocks;
} infer_cuda_kv_cache_t;


/*
 * One KV op of a batch.  The sequences (nseqs x 4 I32: infer_seq_t) and
 * the block tables (nseqs x max_blocks I32) are the batch's inputs on
 * the device, which the kernels read there (a CUDA graph's replay reads
 * the new batch); the host has checked them (infer_cuda_kv.cu), and the
 * kernels skip, rather than follow, a block number outside the cache
 * all the same.
 */
typedef struct {
    infer_cuda_kv_cache_t   c;
    int                     layer;

    const int32_t          *seqs;
    int64_t                 ld_seqs;
    int                     nseqs;
    const int32_t          *blocks;
    int64_t                 ld_blocks;
    int                     max_blocks;
    int                     tokens;      /* the batch's: rows of k, v
                                            (store) or of q, y */

    /* KV_STORE: tokens x kv_dim each */
    const float            *k;
    const float            *v;
    int64_t                 ldk;
    int64_t                 ldv;

    /* KV_ATTENTION */
    float                  *y;           /* tokens x heads * head_dim,
                                            packed */
    const float            *q;
    int64_t                 ldq;
    int                     heads;
    int                     kv_heads;    /* divides heads; kv_heads x
                                            head_dim is kv_dim */
    int                     head_dim;    /* 1 ..
                                            INFER_CUDA_ATTENTION_MAX_DIM */
    float                   scale;       /* 0: 1 / sqrt(head_dim) */
} infer_cuda_kv_t;


/*
 * KV_STORE: token start + i of sequence s goes to position p = pos + i,
 * slot p % block_tokens of block blocks[s][p / block_tokens], in layer
 * a->layer.
 */
cudaError_t infer_cuda_kv_store(const infer_cuda_kv_t *a,
    cudaStream_t stream);

/*
 * KV_ATTENTION: token t of sequence s, at position p, attends to the
 * cache's positions 0..p of s; head h reads kv head h / (heads /
 * kv_heads).  A token in no sequence gets zeros.
 */
cudaError_t infer_cuda_kv_attention(const infer_cuda_kv_t *a,
    cudaStream_t stream);


#endif /* _INFER_CUDA_KV_CUH_INCLUDED_ */
