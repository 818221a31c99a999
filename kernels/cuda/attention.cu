/*
 * ngx_infer CUDA backend: ragged attention, see attention.cuh.
 *
 * One block per (query token, head), of INFER_ATTN_WARPS warps.  The
 * block finds its token's sequence in the batch's table (a binary search
 * on the starts, on the device: the launch depends only on the sizes, so
 * that a CUDA graph replays it for any sequences), then each warp takes
 * every INFER_ATTN_WARPS-th key of the sequence and keeps an online
 * softmax in F32 (FlashAttention's recurrence): the running maximum m,
 * the sum l of exp(score - m), and the weighted sum of the values, in
 * registers, lane i holding dims i, i + 32, ...; a key's score is a dot
 * product spread over the lanes and summed with shuffles.  At the end the
 * warps' partial states meet in shared memory, rescaled to the largest
 * maximum.  The keys and values of one kv head are read by the heads
 * that share it (GQA) from L2.
 *
 * Scores never leave the chip, so the memory is O(tokens x heads x d)
 * whatever the sequence lengths; the work is one pass over the keys per
 * query, which is what "correct first" buys: a tiled kernel that shares
 * each key tile among the queries of a block is the next step if
 * attention ever dominates.
 */

#include <math.h>

#include "attention.cuh"
#include "reduce.cuh"


#define INFER_ATTN_WARPS    4
#define INFER_ATTN_THREADS  (INFER_ATTN_WARPS * INFER_CUDA_WARP)


/*
 * The sequence of token t: the last non-empty one that starts at or
 * before it (the starts are in token order), if t is inside it; -1
 * otherwise.
 */
static __device__ int
infer_cuda_attention_seq(const infer_cuda_attention_t &a, int t, int *start,
    int *len)
{
    int      lo, hi, mid, s;
    int32_t  st, ln;

    lo = 0;
    hi = a.nseqs - 1;
    s = -1;

    while (lo <= hi) {
        mid = (lo + hi) / 2;

        if (a.seqs[mid * a.ld_seqs] <= t) {
            s = mid;
            lo = mid + 1;

        } else {
            hi = mid - 1;
        }
    }

    /* an empty sequence contains nothing: the one before it may */
    while (s >= 0 && a.seqs[s * a.ld_seqs + 1] == 0) {
        s--;
    }

    if (s < 0) {
        return -1;
    }

    st = a.seqs[s * a.ld_seqs];
    ln = a.seqs[s * a.ld_seqs + 1];

    /* a bad sequence is reported by block (0, 0) */
    if (st < 0 || ln < 1 || ln > a.tokens - st || t >= st + ln) {
        return -1;
    }

    *start = st;
    *len = ln;

    return s;
}


/* ND dims per lane: head_dim <= 32 ND */
template <int ND>
static __global__ void
__launch_bounds__(INFER_ATTN_THREADS)
infer_cuda_attention_kernel(const infer_cuda_attention_t a)
{
    int           t, h, kvh, d, lane, warp, i, j, start, len, kend, w;
    float        *yr;
    float         qv[ND], acc[ND], m, l, dot, s, mnew, corr, p, big, sum, f;
    float         o;
    const float  *qr, *kr, *vr;

    __shared__ float  sm[INFER_ATTN_WARPS];
    __shared__ float  sl[INFER_ATTN_WARPS];
    __shared__ float  sacc[INFER_ATTN_WARPS][ND * INFER_CUDA_WARP];

    t = blockIdx.x;
    h = blockIdx.y;
    d = a.head_dim;
    lane = threadIdx.x % INFER_CUDA_WARP;
    warp = threadIdx.x / INFER_CUDA_WARP;

    yr = a.y + ((size_t) t * a.heads + h) * d;

    if (t == 0 && h == 0) {
        for (i = threadIdx.x; i < a.nseqs; i += blockDim.x) {
            (void) infer_cuda_seq_ok(a.seqs, a.ld_seqs, i, a.tokens, a.st);
        }
    }

    if (infer_cuda_attention_seq(a, t, &start, &len) < 0) {
        for (i = threadIdx.x; i < d; i += blockDim.x) {
            yr[i] = 0.0f;
        }

        return;
    }

    kend = a.causal ? t + 1 : start + len;
    kvh = h / (a.heads / a.kv_heads);

    qr = a.q + t * a.ldq + (int64_t) h * d;

#pragma unroll
    for (i = 0; i < ND; i++) {
        j = lane + i * INFER_CUDA_WARP;
        qv[i] = j < d ? qr[j] : 0.0f;
        acc[i] = 0.0f;
    }

    m = -INFINITY;
    l = 0.0f;

    for (j = start + warp; j < kend; j += INFER_ATTN_WARPS) {
        kr = a.k + j * a.ldk + (int64_t) kvh * d;
        vr = a.v + j * a.ldv + (int64_t) kvh * d;

        dot = 0.0f;

#pragma unroll
        for (i = 0; i < ND; i++) {
            if (lane + i * INFER_CUDA_WARP < d) {
                dot += qv[i] * kr[lane + i * INFER_CUDA_WARP];
            }
        }

        s = infer_cuda_warp_reduce<false>(dot) * a.scale;

        mnew = fmaxf(m, s);
        corr = expf(m - mnew);
        p = expf(s - mnew);
        l = l * corr + p;

#pragma unroll
        for (i = 0; i < ND; i++) {
            if (lane + i * INFER_CUDA_WARP < d) {
                acc[i] = acc[i] * corr + p * vr[lane + i * INFER_CUDA_WARP];
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

    /* a warp that had no key has l == 0 and counts for nothing */
    big = -INFINITY;
    for (w = 0; w < INFER_ATTN_WARPS; w++) {
        if (sl[w] > 0.0f) {
            big = fmaxf(big, sm[w]);
        }
    }

    for (i = threadIdx.x; i < d; i += blockDim.x) {
        sum = 0.0f;
        o = 0.0f;

        for (w = 0; w < INFER_ATTN_WARPS; w++) {
            if (sl[w] > 0.0f) {
                f = expf(sm[w] - big);
                sum += sl[w] * f;
                o += sacc[w][i] * f;
            }
        }

        yr[i] = o / sum;
    }
}


cudaError_t
infer_cuda_attention(const infer_cuda_attention_t *a, cudaStream_t stream)
{
    dim3                    grid;
    infer_cuda_attention_t  args;

    if (a->tokens <= 0) {
        return cudaSuccess;
    }

    if (a->head_dim < 1 || a->head_dim > INFER_CUDA_ATTENTION_MAX_DIM
        || a->heads < 1 || a->kv_heads < 1 || a->heads % a->kv_heads
        || a->heads > INFER_CUDA_MAX_GRID_Y)
    {
        return cudaErrorInvalidValue;
    }

    args = *a;
    if (args.scale == 0.0f) {
        args.scale = 1.0f / sqrtf((float) args.head_dim);
    }

    grid = dim3((unsigned) a->tokens, (unsigned) a->heads);

    if (a->head_dim <= 32) {
        infer_cuda_attention_kernel<1>
            <<<grid, INFER_ATTN_THREADS, 0, stream>>>(args);

    } else if (a->head_dim <= 64) {
        infer_cuda_attention_kernel<2>
            <<<grid, INFER_ATTN_THREADS, 0, stream>>>(args);

    } else if (a->head_dim <= 128) {
        infer_cuda_attention_kernel<4>
            <<<grid, INFER_ATTN_THREADS, 0, stream>>>(args);

    } else {
        infer_cuda_attention_kernel<8>
            <<<grid, INFER_ATTN_THREADS, 0, stream>>>(args);
    }

    return cudaGetLastError();
}
