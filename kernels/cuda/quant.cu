/*
 * ngx_infer CUDA backend: products and lookups on quantized blocks, see
 * quant.cuh.
 *
 * The product of a few rows of x (decoding: a row per sequence) is a
 * matrix-vector product that reads the weights once: a warp per output
 * (a row of w), its lanes taking the row's runs of 8 values in turn
 * (lane l the runs l, l + 32, ...: a warp reads 32 consecutive runs, so
 * the blocks come from memory in whole sectors), unpacking each run with
 * infer_cuda_q8_values() and multiplying it into up to
 * INFER_QMV_NR rows of x at once, one F32 accumulator per row; the lanes
 * are summed with shuffles at the end.  The sum of an output is a fixed
 * function of k: each lane's runs in order, each run's 8 products in
 * order (fmaf, never contracted otherwise), the same shuffle tree; which
 * rows share a pass changes nothing.  A token gets the same bits alone
 * or in any batch of up to INFER_CUDA_QUANT_MMV_ROWS rows.
 *
 * More rows than that (a prompt) would reread the blocks once per pass
 * of INFER_QMV_NR rows; they go to cuBLAS instead, on tiles of w
 * dequantized into scratch (up to INFER_CUDA_QUANT_TILE bytes of weight
 * rows at a time, in the precision's type).  cuBLAS picks its kernels and
 * its split of k by the shapes, so this path does NOT keep a row's bits
 * independent of the batch: a prompt's token computed in a chunk of more
 * than INFER_CUDA_QUANT_MMV_ROWS tokens may differ in the last bits from
 * the same token computed alone (well within the precision's
 * tolerance).  Decoding batches of up to that many sequences are
 * bit-stable.
 */

#include "quant.cuh"
#include "binary.cuh"
#include "convert.cuh"
#include "reduce.cuh"


#define INFER_QMV_WARPS    4
#define INFER_QMV_THREADS  (INFER_QMV_WARPS * INFER_CUDA_WARP)
#define INFER_QMV_NR       8            /* rows of x per pass */


/* values and bytes of a block of DT, at compile time */
template <infer_dtype_e DT>
static constexpr __host__ __device__ int
infer_cuda_qk(void)
{
    return (DT == INFER_DT_Q8_0 || DT == INFER_DT_Q4_0
            || DT == INFER_DT_Q4_1) ? 32 : 256;
}


template <infer_dtype_e DT>
static constexpr __host__ __device__ int
infer_cuda_qbytes(void)
{
    return DT == INFER_DT_Q8_0 ? 34
           : DT == INFER_DT_Q4_0 ? 18
           : DT == INFER_DT_Q4_1 ? 20
           : DT == INFER_DT_Q4_K ? 144
           : DT == INFER_DT_Q5_K ? 176
           : 210;
}


template <infer_dtype_e DT>
static __global__ void
__launch_bounds__(INFER_QMV_THREADS)
infer_cuda_qmv_kernel(float *y, const float *x, int64_t ldx,
    const uint8_t *w, int rows, int n, int k)
{
    int             lane, o, r0, nr, i, j, u, units;
    float           v[8], acc[INFER_QMV_NR], s;
    const float    *xr;
    const uint8_t  *wr;

    constexpr int   QK = infer_cuda_qk<DT>();
    constexpr int   BS = infer_cuda_qbytes<DT>();

    /* a whole warp leaves or none of it: the shuffles need all lanes */
    o = blockIdx.x * INFER_QMV_WARPS + threadIdx.x / INFER_CUDA_WARP;

    if (o >= n) {
        return;
    }

    lane = threadIdx.x % INFER_CUDA_WARP;
    wr = w + (size_t) o * (size_t) (k / QK) * BS;
    units = k / 8;

    for (r0 = blockIdx.y * INFER_QMV_NR; r0 < rows;
         r0 += gridDim.y * INFER_QMV_NR)
    {
        nr = rows - r0 < INFER_QMV_NR ? rows - r0 : INFER_QMV_NR;

#pragma unroll
        for (i = 0; i < INFER_QMV_NR; i++) {
            acc[i] = 0.0f;
        }

        for (u = lane; u < units; u += INFER_CUDA_WARP) {
            infer_cuda_q8_values<DT>(wr + (size_t) (u / (QK / 8)) * BS,
                                     (u % (QK / 8)) * 8, v);

#pragma unroll
            for (i = 0; i < INFER_QMV_NR; i++) {
                if (i < nr) {
                    xr = x + (size_t) (r0 + i) * ldx + (size_t) u * 8;

#pragma unroll
                    for (j = 0; j < 8; j++) {
                        acc[i] = fmaf(v[j], __ldg(xr + j), acc[i]);
                    }
                }
            }
        }

#pragma unroll
        for (i = 0; i < INFER_QMV_NR; i++) {
            /* nr is the same in every lane */
            if (i < nr) {
                s = infer_cuda_warp_reduce<false>(acc[i]);

                if (lane == 0) {
                    y[(size_t) (r0 + i) * n + o] = s;
                }
            }
        }
    }
}


template <infer_dtype_e DT>
static cudaError_t
infer_cuda_qmv(float *y, const float *x, int64_t ldx, const void *w,
    int rows, int n, int k, cudaStream_t stream)
{
    int   groups;
    dim3  grid;

    groups = (rows + INFER_QMV_NR - 1) / INFER_QMV_NR;
    grid = dim3((unsigned) ((n + INFER_QMV_WARPS - 1) / INFER_QMV_WARPS),
                (unsigned) (groups < INFER_CUDA_MAX_GRID_Y
                            ? groups : INFER_CUDA_MAX_GRID_Y));

    infer_cuda_qmv_kernel<DT><<<grid, INFER_QMV_THREADS, 0, stream>>>(
        y, x, ldx, (const uint8_t *) w, rows, n, k);

    return cudaGetLastError();
}


/* a thread per 8 values of the rows x cols at src, strided over the
 * grid */
template <infer_dtype_e DT, infer_dtype_e OUT>
static __global__ void
infer_cuda_dequantize_kernel(void *dst, const uint8_t *src, int rows,
    int cols)
{
    int     j, u, i0;
    float   v[8];
    size_t  g, total, r, runs, at;

    constexpr int  QK = infer_cuda_qk<DT>();
    constexpr int  BS = infer_cuda_qbytes<DT>();

    runs = (size_t) cols / 8;
    total = (size_t) rows * runs;

    for (g = (size_t) blockIdx.x * blockDim.x + threadIdx.x; g < total;
         g += (size_t) gridDim.x * blockDim.x)
    {
        r = g / runs;
        u = (int) (g % runs);
        i0 = (u % (QK / 8)) * 8;

        infer_cuda_q8_values<DT>(src + r * ((size_t) (cols / QK) * BS)
                                 + (size_t) (u / (QK / 8)) * BS, i0, v);

        at = r * (size_t) cols + (size_t) u * 8;

#pragma unroll
        for (j = 0; j < 8; j++) {
            infer_cuda_store<OUT>(dst, at + j, v[j]);
        }
    }
}


template <infer_dtype_e DT>
static cudaError_t
infer_cuda_dequantize_as(void *dst, infer_dtype_e dt, const void *src,
    int rows, int cols, cudaStream_t stream)
{
    size_t  total, blocks;

    total = (size_t) rows * (size_t) (cols / 8);
    blocks = (total + INFER_CUDA_THREADS - 1) / INFER_CUDA_THREADS;

    /* the kernel strides past what the grid covers */
    if (blocks > (1u << 20)) {
        blocks = 1u << 20;
    }

    switch (dt) {
    case INFER_DT_F32:
        infer_cuda_dequantize_kernel<DT, INFER_DT_F32>
            <<<(unsigned) blocks, INFER_CUDA_THREADS, 0, stream>>>(
                dst, (const uint8_t *) src, rows, cols);
        break;
    case INFER_DT_F16:
        infer_cuda_dequantize_kernel<DT, INFER_DT_F16>
            <<<(unsigned) blocks, INFER_CUDA_THREADS, 0, stream>>>(
                dst, (const uint8_t *) src, rows, cols);
        break;
    case INFER_DT_BF16:
        infer_cuda_dequantize_kernel<DT, INFER_DT_BF16>
            <<<(unsigned) blocks, INFER_CUDA_THREADS, 0, stream>>>(
                dst, (const uint8_t *) src, rows, cols);
        break;
    default:
        return cudaErrorInvalidValue;
    }

    return cudaGetLastError();
}


/* a thread per 8 values of an output row, the rows strided by the
 * grid's y */
template <infer_dtype_e DT>
static __global__ void
infer_cuda_quant_get_rows_kernel(float *y, const uint8_t *table,
    int64_t vocab, const int32_t *ids, int64_t ld_ids, int rows, int cols,
    infer_cuda_status_t *st)
{
    int      j, u, r;
    float    v[8];
    size_t   at;
    int32_t  id;

    constexpr int  QK = infer_cuda_qk<DT>();
    constexpr int  BS = infer_cuda_qbytes<DT>();

    u = blockIdx.x * blockDim.x + threadIdx.x;

    if (u >= cols / 8) {
        return;
    }

    for (r = blockIdx.y; r < rows; r += gridDim.y) {
        id = ids[r * ld_ids];
        at = (size_t) r * cols + (size_t) u * 8;

        if (id >= 0 && id < vocab) {
            infer_cuda_q8_values<DT>(table + (size_t) id
                                             * ((size_t) (cols / QK) * BS)
                                     + (size_t) (u / (QK / 8)) * BS,
                                     (u % (QK / 8)) * 8, v);

#pragma unroll
            for (j = 0; j < 8; j++) {
                y[at + j] = v[j];
            }

            continue;
        }

#pragma unroll
        for (j = 0; j < 8; j++) {
            y[at + j] = 0.0f;
        }

        if (u == 0) {
            infer_cuda_report(st, INFER_CUDA_BAD_ID, id, r, (int32_t) vocab,
                              0);
        }
    }
}


template <infer_dtype_e DT>
static cudaError_t
infer_cuda_quant_get_rows_as(float *y, const void *table, int64_t vocab,
    const int32_t *ids, int64_t ld_ids, int rows, int cols,
    infer_cuda_status_t *st, cudaStream_t stream)
{
    dim3  grid, block;

    infer_cuda_grid_2d(rows, cols / 8, &grid, &block);

    infer_cuda_quant_get_rows_kernel<DT><<<grid, block, 0, stream>>>(
        y, (const uint8_t *) table, vocab, ids, ld_ids, rows, cols, st);

    return cudaGetLastError();
}


/* returns F<DT>(...) for the quantized type t; falls through for any
 * other type */
#define INFER_CUDA_QUANT_DISPATCH(t, F, ...)                                  \
    switch (t) {                                                              \
    case INFER_DT_Q8_0:                                                       \
        return F<INFER_DT_Q8_0>(__VA_ARGS__);                                 \
    case INFER_DT_Q4_0:                                                       \
        return F<INFER_DT_Q4_0>(__VA_ARGS__);                                 \
    case INFER_DT_Q4_1:                                                       \
        return F<INFER_DT_Q4_1>(__VA_ARGS__);                                 \
    case INFER_DT_Q4_K:                                                       \
        return F<INFER_DT_Q4_K>(__VA_ARGS__);                                 \
    case INFER_DT_Q5_K:                                                       \
        return F<INFER_DT_Q5_K>(__VA_ARGS__);                                 \
    case INFER_DT_Q6_K:                                                       \
        return F<INFER_DT_Q6_K>(__VA_ARGS__);                                 \
    default:                                                                  \
        break;                                                                \
    }


static cudaError_t
infer_cuda_quant_mv(infer_dtype_e wdt, float *y, const float *x,
    int64_t ldx, const void *w, int rows, int n, int k, cudaStream_t stream)
{
    INFER_CUDA_QUANT_DISPATCH(wdt, infer_cuda_qmv, y, x, ldx, w, rows, n, k,
                              stream)

    return cudaErrorInvalidValue;
}


cudaError_t
infer_cuda_dequantize(void *dst, infer_dtype_e dt, const void *src,
    infer_dtype_e sdt, int rows, int cols, cudaStream_t stream)
{
    if (rows <= 0 || cols <= 0) {
        return cudaSuccess;
    }

    if (cols % infer_dtype_block(sdt) != 0) {
        return cudaErrorInvalidValue;
    }

    INFER_CUDA_QUANT_DISPATCH(sdt, infer_cuda_dequantize_as, dst, dt, src,
                              rows, cols, stream)

    return cudaErrorInvalidValue;
}


cudaError_t
infer_cuda_quant_get_rows(float *y, const void *table, infer_dtype_e type,
    int64_t vocab, const int32_t *ids, int64_t ld_ids, int rows, int cols,
    infer_cuda_status_t *st, cudaStream_t stream)
{
    if (rows <= 0 || cols <= 0) {
        return cudaSuccess;
    }

    if (cols % infer_dtype_block(type) != 0) {
        return cudaErrorInvalidValue;
    }

    INFER_CUDA_QUANT_DISPATCH(type, infer_cuda_quant_get_rows_as, y, table,
                              vocab, ids, ld_ids, rows, cols, st, stream)

    return cudaErrorInvalidValue;
}


/* the weight rows of a tile: as many as INFER_CUDA_QUANT_TILE holds */
static int
infer_cuda_quant_tile_rows(int n, int k, infer_dtype_e ftype)
{
    size_t  row, t;

    row = (size_t) k * infer_cuda_dtype_size(ftype);
    t = INFER_CUDA_QUANT_TILE / row;

    if (t < 1) {
        t = 1;
    }

    return t < (size_t) n ? (int) t : n;
}


/* x rounded to ftype, then the tile, each at 256 bytes */
static size_t
infer_cuda_quant_xconv(int rows, int k, infer_dtype_e ftype)
{
    if (ftype == INFER_DT_F32) {
        return 0;
    }

    return ((size_t) rows * (size_t) k * infer_cuda_dtype_size(ftype) + 255)
           / 256 * 256;
}


size_t
infer_cuda_quant_scratch(int rows, int n, int k, infer_dtype_e ftype)
{
    if (rows <= INFER_CUDA_QUANT_MMV_ROWS || n <= 0 || k <= 0) {
        return 0;
    }

    return infer_cuda_quant_xconv(rows, k, ftype)
           + (size_t) infer_cuda_quant_tile_rows(n, k, ftype) * (size_t) k
             * infer_cuda_dtype_size(ftype);
}


int
infer_cuda_quant_matmul(const infer_cuda_matmul_ctx_t *mc, float *y,
    const float *x, int64_t ldx, const void *w, infer_dtype_e wdt,
    const float *b, infer_dtype_e ftype, void *scratch, int rows, int n,
    int k, char *err, size_t errlen)
{
    int                  n0, m, nt;
    void                *tile;
    size_t               row;
    int64_t              ldb;
    const void          *xb;
    cudaDataType_t       t;
    static const float   one = 1.0f, zero = 0.0f;

    if (rows <= 0) {
        return 0;
    }

    if (rows <= INFER_CUDA_QUANT_MMV_ROWS) {
        CUDA_CHECK(infer_cuda_quant_mv(wdt, y, x, ldx, w, rows, n, k,
                                       mc->stream));

    } else {
        t = infer_cuda_blas_type(ftype);
        xb = x;
        ldb = ldx;
        tile = scratch;

        if (ftype != INFER_DT_F32) {
            CUDA_CHECK(infer_cuda_convert_rows(scratch, ftype, x,
                                               INFER_DT_F32, ldx, rows, k,
                                               mc->stream));
            xb = scratch;
            ldb = k;
            tile = (char *) scratch + infer_cuda_quant_xconv(rows, k, ftype);
        }

        nt = infer_cuda_quant_tile_rows(n, k, ftype);
        row = infer_dtype_row_size(wdt, k);

        /* one stream: a tile is rewritten only after its product ran */
        for (n0 = 0; n0 < n; n0 += nt) {
            m = n - n0 < nt ? n - n0 : nt;

            CUDA_CHECK(infer_cuda_dequantize(tile, ftype,
                                             (const char *) w
                                             + (size_t) n0 * row,
                                             wdt, m, k, mc->stream));

            /* y^T[n0 .. n0 + m) = tile x^T, column-major (matmul.cu) */
            CUBLAS_CHECK(cublasGemmEx(mc->cublas, CUBLAS_OP_T, CUBLAS_OP_N,
                                      m, rows, k,
                                      &one, tile, t, k,
                                      xb, t, (int) ldb,
                                      &zero, y + n0, CUDA_R_32F, n,
                                      ftype == INFER_DT_F32
                                      ? mc->compute : CUBLAS_COMPUTE_32F,
                                      CUBLAS_GEMM_DEFAULT));
        }
    }

    if (b != NULL) {
        CUDA_CHECK(infer_cuda_binary(INFER_CUDA_BINARY_ADD, y, y, n, b, 0,
                                     rows, n, mc->stream));
    }

    return 0;
}
