/*
 * ngx_infer CUDA backend: the paged KV cache's ops, see kv.cuh.  The
 * semantics are the CPU's (cpu/infer_cpu_kv.c).
 *
 * KV_STORE: a thread per column of a token's row, a block of threads per
 * (columns, sequence, a share of its tokens); each row is copied to the
 * slot its position names through the sequence's block table.
 *
 * KV_ATTENTION: one block per (query token, head), as attention.cu: the
 * block finds its token's sequence (a scan of the batch's table, which
 * is short: a sequence per request), hence its position p, then each of
 * its INFER_KV_WARPS warps takes every INFER_KV_WARPS-th position of
 * 0..p, finds the key and the value through the block table, and keeps
 * an online softmax in F32 (FlashAttention's recurrence: the running
 * maximum, the sum of exp(score - max), the weighted values, lane i
 * holding dims i, i + 32, ...); the warps' states meet at the end in
 * shared memory.  No array of scores: any context length takes the same
 * memory.  What a row computes, and in which order, depends on its
 * position and on the cache only, never on the rest of the batch: a
 * token gets the same bits alone, in a chunk of its prompt or batched,
 * as on the CPU (whose order differs from this one: the two agree to
 * rounding, not to the bit).
 *
 * A decoding step (one query per sequence, a few heads) is a small grid:
 * each block walks p / INFER_KV_WARPS keys in turn.  Splitting a long
 * context over several blocks (flash-decoding) is the next step if that
 * ever dominates a step.
 */

#include <math.h>

#include "kv.cuh"
#include "reduce.cuh"


#define INFER_KV_WARPS         8
#define INFER_KV_THREADS       (INFER_KV_WARPS * INFER_CUDA_WARP)

/* KV_STORE: the most blocks over one sequence's tokens */
#define INFER_KV_STORE_SPLIT   64


/* where position slot of block blk starts, layer l, keys or values */
static __device__ __forceinline__ size_t
infer_cuda_kv_at(const infer_cuda_kv_cache_t &c, int32_t blk, int l, int kv,
    int slot)
{
    return ((((size_t) blk * c.layers + l) * 2 + kv) * c.block_tokens
            + slot) * c.kv_dim;
}


/* the cache's block of position p of a sequence, or -1 */
static __device__ __forceinline__ int32_t
infer_cuda_kv_block(const infer_cuda_kv_t &a, const int32_t *table,
    int64_t p)
{
    int64_t  bi;
    int32_t  blk;

    bi = p / a.c.block_tokens;

    if (bi >= a.max_blocks) {
        return -1;
    }

    blk = table[bi];

    return (blk >= 0 && blk < a.c.n_blocks) ? blk : -1;
}


static __global__ void
infer_cuda_kv_store_kernel(const infer_cuda_kv_t a)
{
    int             c, s, i, slot;
    float          *kd, *vd;
    int32_t         start, len, pos, blk;
    int64_t         p;
    const int32_t  *seq, *table;

    c = blockIdx.x * blockDim.x + threadIdx.x;

    if (c >= a.c.kv_dim) {
        return;
    }

    for (s = blockIdx.y; s < a.nseqs; s += gridDim.y) {
        seq = a.seqs + s * a.ld_seqs;
        start = seq[0];
        len = seq[1];
        pos = seq[2];

        if (start < 0 || len <= 0 || len > a.tokens - start || pos < 0) {
            continue;
        }

        table = a.blocks + s * a.ld_blocks;

        for (i = blockIdx.z; i < len; i += gridDim.z) {
            p = (int64_t) pos + i;
            blk = infer_cuda_kv_block(a, table, p);

            if (blk < 0) {
                continue;
            }

            slot = (int) (p % a.c.block_tokens);
            kd = a.c.kv + infer_cuda_kv_at(a.c, blk, a.layer, 0, slot);
            vd = a.c.kv + infer_cuda_kv_at(a.c, blk, a.layer, 1, slot);

            kd[c] = a.k[(int64_t) (start + i) * a.ldk + c];
            vd[c] = a.v[(int64_t) (start + i) * a.ldv + c];
        }
    }
}


cudaError_t
infer_cuda_kv_store(const infer_cuda_kv_t *a, cudaStream_t stream)
{
    int   threads, split, ys;
    dim3  grid;

    if (a->tokens <= 0 || a->nseqs <= 0) {
        return cudaSuccess;
    }

    if (a->c.kv == NULL || a->c.kv_dim < 1 || a->c.block_tokens < 1) {
        return cudaErrorInvalidValue;
    }

    threads = infer_cuda_row_threads(a->c.kv_dim, INFER_CUDA_THREADS);
    split = a->tokens < INFER_KV_STORE_SPLIT ? a->tokens
                                             : INFER_KV_STORE_SPLIT;
    ys = a->nseqs < INFER_CUDA_MAX_GRID_Y ? a->nseqs : INFER_CUDA_MAX_GRID_Y;

    grid = dim3((unsigned) ((a->c.kv_dim + threads - 1) / threads),
                (unsigned) ys, (unsigned) split);

    infer_cuda_kv_store_kernel<<<grid, threads, 0, stream>>>(*a);

    return cudaGetLastError();
}


/* ND dims per lane: head_dim <= 32 ND */
template <int ND>
static __global__ void
__launch_bounds__(INFER_KV_THREADS)
infer_cuda_kv_attention_kernel(const infer_cuda_kv_t a)
{
    int             t, h, kvh, d, lane, warp, i, s, w, found, slot;
    float          *yr;
    float           qv[ND], acc[ND], m, l, dot, sc, mnew, corr, pr, big;
    float           sum, f, o;
    int32_t         start, len, blk;
    int64_t         j, p;
    const float    *qr, *kr, *vr;
    const int32_t  *seq, *table;

    __shared__ int      s_seq;
    __shared__ int64_t  s_pos;
    __shared__ float    sm[INFER_KV_WARPS];
    __shared__ float    sl[INFER_KV_WARPS];
    __shared__ float    sacc[INFER_KV_WARPS][ND * INFER_CUDA_WARP];

    t = blockIdx.x;
    h = blockIdx.y;
    d = a.head_dim;
    lane = threadIdx.x % INFER_CUDA_WARP;
    warp = threadIdx.x / INFER_CUDA_WARP;

    if (threadIdx.x == 0) {
        /* the sequences need not be in token order: a scan */
        found = -1;

        for (s = 0; s < a.nseqs; s++) {
            seq = a.seqs + s * a.ld_seqs;
            start = seq[0];
            len = seq[1];

            if (start >= 0 && len > 0 && len <= a.tokens - start
                && t >= start && t - start < len && seq[2] >= 0)
            {
                found = s;
                break;
            }
        }

        s_seq = found;
        s_pos = found < 0 ? -1
                          : (int64_t) a.seqs[found * a.ld_seqs + 2] + t
                            - a.seqs[found * a.ld_seqs];
    }

    __syncthreads();

    yr = a.y + ((size_t) t * a.heads + h) * d;

    /* the whole block takes the same way */
    if (s_seq < 0) {
        for (i = threadIdx.x; i < d; i += blockDim.x) {
            yr[i] = 0.0f;
        }

        return;
    }

    p = s_pos;
    table = a.blocks + s_seq * a.ld_blocks;
    kvh = h / (a.heads / a.kv_heads);
    qr = a.q + t * a.ldq + (int64_t) h * d;

#pragma unroll
    for (i = 0; i < ND; i++) {
        qv[i] = lane + i * INFER_CUDA_WARP < d
                ? qr[lane + i * INFER_CUDA_WARP] : 0.0f;
        acc[i] = 0.0f;
    }

    m = -INFINITY;
    l = 0.0f;

#pragma unroll 4
    for (j = warp; j <= p; j += INFER_KV_WARPS) {
        blk = infer_cuda_kv_block(a, table, j);

        /* the host refused such a table; never read outside the cache */
        if (blk < 0) {
            continue;
        }

        slot = (int) (j % a.c.block_tokens);
        kr = a.c.kv + infer_cuda_kv_at(a.c, blk, a.layer, 0, slot)
             + (size_t) kvh * d;
        vr = a.c.kv + infer_cuda_kv_at(a.c, blk, a.layer, 1, slot)
             + (size_t) kvh * d;

        dot = 0.0f;

#pragma unroll
        for (i = 0; i < ND; i++) {
            if (lane + i * INFER_CUDA_WARP < d) {
                dot += qv[i] * kr[lane + i * INFER_CUDA_WARP];
            }
        }

        sc = infer_cuda_warp_reduce<false>(dot) * a.scale;

        mnew = fmaxf(m, sc);
        corr = expf(m - mnew);
        pr = expf(sc - mnew);
        l = l * corr + pr;

#pragma unroll
        for (i = 0; i < ND; i++) {
            if (lane + i * INFER_CUDA_WARP < d) {
                acc[i] = acc[i] * corr + pr * vr[lane + i * INFER_CUDA_WARP];
            }
        }

        m = mnew;
    }

    if (lane == 0) {
        sm[warp] = m;
        sl[warp] = l;
    }

#pragma unroll
    for (i = 0; i < ND; i++) {
        sacc[warp][lane + i * INFER_CUDA_WARP] = acc[i];
    }

    __syncthreads();

    /* a warp that had no key (p < its first) has l == 0: it counts for
     * nothing */
    big = -INFINITY;
    for (w = 0; w < INFER_KV_WARPS; w++) {
        if (sl[w] > 0.0f) {
            big = fmaxf(big, sm[w]);
        }
    }

    for (i = threadIdx.x; i < d; i += blockDim.x) {
        sum = 0.0f;
        o = 0.0f;

        for (w = 0; w < INFER_KV_WARPS; w++) {
            if (sl[w] > 0.0f) {
                f = expf(sm[w] - big);
                sum += sl[w] * f;
                o += sacc[w][i] * f;
            }
        }

        yr[i] = sum > 0.0f ? o / sum : 0.0f;
    }
}


cudaError_t
infer_cuda_kv_attention(const infer_cuda_kv_t *a, cudaStream_t stream)
{
    dim3             grid;
    infer_cuda_kv_t  args;

    if (a->tokens <= 0) {
        return cudaSuccess;
    }

    if (a->c.kv == NULL || a->head_dim < 1
        || a->head_dim > INFER_CUDA_ATTENTION_MAX_DIM || a->heads < 1
        || a->kv_heads < 1 || a->heads % a->kv_heads
        || a->heads > INFER_CUDA_MAX_GRID_Y
        || a->kv_heads * a->head_dim != a->c.kv_dim)
    {
        return cudaErrorInvalidValue;
    }

    args = *a;
    if (args.scale == 0.0f) {
        args.scale = 1.0f / sqrtf((float) args.head_dim);
    }

    grid = dim3((unsigned) a->tokens, (unsigned) a->heads);

    if (a->head_dim <= 32) {
        infer_cuda_kv_attention_kernel<1>
            <<<grid, INFER_KV_THREADS, 0, stream>>>(args);

    } else if (a->head_dim <= 64) {
        infer_cuda_kv_attention_kernel<2>
            <<<grid, INFER_KV_THREADS, 0, stream>>>(args);

    } else if (a->head_dim <= 128) {
        infer_cuda_kv_attention_kernel<4>
            <<<grid, INFER_KV_THREADS, 0, stream>>>(args);

    } else {
        infer_cuda_kv_attention_kernel<8>
            <<<grid, INFER_KV_THREADS, 0, stream>>>(args);
    }

    return cudaGetLastError();
}
