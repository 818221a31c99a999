/*
 * ngx_infer CUDA backend: GGUF's quantized blocks (Q8_0, Q4_0, Q4_1,
 * Q4_K, Q5_K, Q6_K) on the device, as load() uploads them: the blocks as
 * the file stores them (infer_quant.h), never a dequantized copy of the
 * model.  The products and lookups unpack them as they read them.
 *
 * infer_cuda_q8_values() below is the one place that knows the layouts:
 * eight values of a block, with the operations of infer_quant.c's
 * dequantizer in its order, each rounded on its own (__fmul_rn and the
 * like: nvcc would otherwise contract d sc q - m into an FMA), so that
 * a value is the CPU's to the bit.
 *
 * Alignment: every block size is even (34, 18, 20, 144, 176, 210 bytes)
 * and every device copy starts at a cudaMalloc()'s alignment, so the f16
 * scales (at even offsets of a block) are read as aligned uint16_t; the
 * quants are read byte by byte, since a 20-byte Q4_1 block or a 34-byte
 * Q8_0 block puts no wider word on its alignment.
 */

#ifndef _INFER_CUDA_QUANT_CUH_INCLUDED_
#define _INFER_CUDA_QUANT_CUH_INCLUDED_


#include "infer_cuda.cuh"
#include "matmul.cuh"


/*
 * The most rows of x that the warp-per-output kernel takes (decoding
 * batches); more rows are a prefill, for cuBLAS on dequantized tiles
 */
#define INFER_CUDA_QUANT_MMV_ROWS  64

/* the bytes of a tile of dequantized weight rows for cuBLAS, at most */
#define INFER_CUDA_QUANT_TILE      (32u << 20)


static __device__ __forceinline__ float
infer_cuda_qf16(const uint8_t *p)
{
    return infer_f16_to_f32(*(const uint16_t *) p);
}


/* sub-block j (0..7) of a K block's 12 scale bytes: infer_quant.h's
 * infer_quant_scale_min() */
static __device__ __forceinline__ void
infer_cuda_q_scale_min(const uint8_t *q, int j, int *sc, int *mn)
{
    if (j < 4) {
        *sc = q[j] & 63;
        *mn = q[j + 4] & 63;

    } else {
        *sc = (q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4);
        *mn = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}


/*
 * v[0 .. 8) = values i0 .. i0 + 7 of a block at b, i0 a multiple of 8
 * below the block's 32 or 256 values: one function per type, then
 * infer_cuda_q8_values<DT>() that picks it.
 */

/* Q8_0: d (f16), 32 int8 */
static __device__ __forceinline__ void
infer_cuda_q8_0_values(const uint8_t *b, int i0, float *v)
{
    int    j;
    float  d;

    d = infer_cuda_qf16(b);

#pragma unroll
    for (j = 0; j < 8; j++) {
        v[j] = __fmul_rn((float) (int8_t) b[2 + i0 + j], d);
    }
}


/* Q4_0: d, 16 bytes: value i in the low nibble of byte i, value i + 16
 * in the high one */
static __device__ __forceinline__ void
infer_cuda_q4_0_values(const uint8_t *b, int i0, float *v)
{
    int    j, q;
    float  d;

    d = infer_cuda_qf16(b);

#pragma unroll
    for (j = 0; j < 8; j++) {
        q = i0 < 16 ? b[2 + i0 + j] & 0xf : b[2 + i0 - 16 + j] >> 4;
        v[j] = __fmul_rn((float) (q - 8), d);
    }
}


/* Q4_1: d, m, 16 bytes of nibbles as Q4_0 */
static __device__ __forceinline__ void
infer_cuda_q4_1_values(const uint8_t *b, int i0, float *v)
{
    int    j, q;
    float  d, m;

    d = infer_cuda_qf16(b);
    m = infer_cuda_qf16(b + 2);

#pragma unroll
    for (j = 0; j < 8; j++) {
        q = i0 < 16 ? b[4 + i0 + j] & 0xf : b[4 + i0 - 16 + j] >> 4;
        v[j] = __fadd_rn(__fmul_rn(d, (float) q), m);
    }
}


/*
 * Q4_K and, with qh, Q5_K: d, dmin, 12 scale bytes, (Q5_K: 32 bytes of
 * fifth bits,) 128 bytes of nibbles qs: the 64 values c take 32 bytes,
 * sub-block 2c in the low nibbles, 2c + 1 in the high ones; the fifth
 * bit of value l of sub-block sub is bit sub of qh[l]
 */
static __device__ __forceinline__ void
infer_cuda_qk_values(const uint8_t *b, const uint8_t *qh,
    const uint8_t *qs, int i0, float *v)
{
    int    j, c, l, sub, sc, mn, q;
    float  d1, m1;

    c = i0 / 64;
    l = i0 % 32;
    sub = 2 * c + (i0 % 64 >= 32);

    infer_cuda_q_scale_min(b + 4, sub, &sc, &mn);
    d1 = __fmul_rn(infer_cuda_qf16(b), (float) sc);
    m1 = __fmul_rn(infer_cuda_qf16(b + 2), (float) mn);

#pragma unroll
    for (j = 0; j < 8; j++) {
        q = qs[32 * c + l + j];
        q = (sub & 1) ? q >> 4 : q & 0xf;

        if (qh != NULL) {
            q |= ((qh[l + j] >> sub) & 1) << 4;
        }

        v[j] = __fsub_rn(__fmul_rn(d1, (float) q), m1);
    }
}


/*
 * Q6_K: 128 bytes ql, 64 qh, 16 int8 scales, d (f16) at 208.  Value
 * 128 s + 32 c + l: the low (c 0, 1) or high (c 2, 3) nibble of
 * ql[64 s + 32 (c & 1) + l], bits 2c, 2c + 1 of qh[32 s + l] above them;
 * the scale sc[value / 16]
 */
static __device__ __forceinline__ void
infer_cuda_q6_k_values(const uint8_t *b, int i0, float *v)
{
    int    j, s, c, l, q;
    float  d1;

    s = i0 / 128;
    c = (i0 % 128) / 32;
    l = i0 % 32;
    d1 = __fmul_rn(infer_cuda_qf16(b + 208), (float) (int8_t) b[192 + i0 / 16]);

#pragma unroll
    for (j = 0; j < 8; j++) {
        q = b[64 * s + 32 * (c & 1) + l + j];
        q = (c < 2 ? q & 0xf : q >> 4)
            | (((b[128 + 32 * s + l + j] >> (2 * c)) & 3) << 4);

        v[j] = __fmul_rn(d1, (float) (q - 32));
    }
}


template <infer_dtype_e DT>
static __device__ __forceinline__ void
infer_cuda_q8_values(const uint8_t *b, int i0, float *v)
{
    if constexpr (DT == INFER_DT_Q8_0) {
        infer_cuda_q8_0_values(b, i0, v);

    } else if constexpr (DT == INFER_DT_Q4_0) {
        infer_cuda_q4_0_values(b, i0, v);

    } else if constexpr (DT == INFER_DT_Q4_1) {
        infer_cuda_q4_1_values(b, i0, v);

    } else if constexpr (DT == INFER_DT_Q4_K) {
        infer_cuda_qk_values(b, NULL, b + 16, i0, v);

    } else if constexpr (DT == INFER_DT_Q5_K) {
        infer_cuda_qk_values(b, b + 16, b + 48, i0, v);

    } else {
        static_assert(DT == INFER_DT_Q6_K, "a quantized type");
        infer_cuda_q6_k_values(b, i0, v);
    }
}


/*
 * y[rows][n] = x[rows][k] w^T (+ b), w n rows of k values in the blocks
 * of wdt (k a whole number of blocks), packed; x F32 rows ldx apart; y
 * packed F32.  Up to INFER_CUDA_QUANT_MMV_ROWS rows, a warp per output
 * (every output summed in an order fixed by k alone: a row gets the same
 * bits alone as in any batch of that many); more rows, cuBLAS on tiles
 * of w dequantized to ftype (the precision's: F32, F16 or BF16; x then
 * rounded to it too) in scratch, which must hold
 * infer_cuda_quant_scratch() bytes.
 */
int infer_cuda_quant_matmul(const infer_cuda_matmul_ctx_t *mc, float *y,
    const float *x, int64_t ldx, const void *w, infer_dtype_e wdt,
    const float *b, infer_dtype_e ftype, void *scratch, int rows, int n,
    int k, char *err, size_t errlen);

/* the scratch infer_cuda_quant_matmul() needs for these sizes */
size_t infer_cuda_quant_scratch(int rows, int n, int k, infer_dtype_e ftype);

/*
 * dst = rows x cols values of the quantized rows at src (packed), in dt
 * (F32, F16, BF16), packed: a tile of a product, or a whole weight that
 * some op reads in a plain form.
 */
cudaError_t infer_cuda_dequantize(void *dst, infer_dtype_e dt,
    const void *src, infer_dtype_e sdt, int rows, int cols,
    cudaStream_t stream);

/*
 * get_rows from a quantized table (vocab rows of cols values, packed):
 * y[i] = table[ids[i]] as F32, bit for bit the CPU's; an id outside
 * [0, vocab) gives zeros and is reported to st.
 */
cudaError_t infer_cuda_quant_get_rows(float *y, const void *table,
    infer_dtype_e type, int64_t vocab, const int32_t *ids, int64_t ld_ids,
    int rows, int cols, infer_cuda_status_t *st, cudaStream_t stream);


#endif /* _INFER_CUDA_QUANT_CUH_INCLUDED_ */
