/*
 * ngx_infer CUDA backend: embedding lookup, see get_rows.cuh.
 *
 * A thread per column walking the output rows, as binary.cu: each row
 * read is one contiguous row of the table, and the table stays in the
 * type it was stored in (half the bytes of F32 for F16/BF16 files),
 * converted as it is read; a quantized table's blocks are unpacked by
 * quant.cu, the rows gathered only.
 */

#include "get_rows.cuh"
#include "quant.cuh"


template <infer_dtype_e DT>
static __global__ void
infer_cuda_get_rows_kernel(float *y, const void *table, int64_t ld_table,
    int64_t vocab, const int32_t *ids, int64_t ld_ids, int rows, int cols,
    infer_cuda_status_t *st)
{
    int      c, r;
    int32_t  id;

    c = blockIdx.x * blockDim.x + threadIdx.x;

    if (c >= cols) {
        return;
    }

    for (r = blockIdx.y; r < rows; r += gridDim.y) {
        id = ids[r * ld_ids];

        if (id >= 0 && id < vocab) {
            y[(size_t) r * cols + c] = infer_cuda_load<DT>(table,
                                                           id * ld_table + c);
            continue;
        }

        y[(size_t) r * cols + c] = 0.0f;

        if (c == 0) {
            infer_cuda_report(st, INFER_CUDA_BAD_ID, id, r, (int32_t) vocab,
                              0);
        }
    }
}


cudaError_t
infer_cuda_get_rows(float *y, const void *table, infer_dtype_e type,
    int64_t ld_table, int64_t vocab, const int32_t *ids, int64_t ld_ids,
    int rows, int cols, infer_cuda_status_t *st, cudaStream_t stream)
{
    dim3  grid, block;

    if (rows <= 0 || cols <= 0) {
        return cudaSuccess;
    }

    if (infer_dtype_quantized(type)) {
        return infer_cuda_quant_get_rows(y, table, type, vocab, ids, ld_ids,
                                         rows, cols, st, stream);
    }

    infer_cuda_grid_2d(rows, cols, &grid, &block);

    switch (type) {
    case INFER_DT_F32:
        infer_cuda_get_rows_kernel<INFER_DT_F32>
            <<<grid, block, 0, stream>>>(y, table, ld_table, vocab, ids,
                                         ld_ids, rows, cols, st);
        break;
    case INFER_DT_F16:
        infer_cuda_get_rows_kernel<INFER_DT_F16>
            <<<grid, block, 0, stream>>>(y, table, ld_table, vocab, ids,
                                         ld_ids, rows, cols, st);
        break;
    case INFER_DT_BF16:
        infer_cuda_get_rows_kernel<INFER_DT_BF16>
            <<<grid, block, 0, stream>>>(y, table, ld_table, vocab, ids,
                                         ld_ids, rows, cols, st);
        break;
    default:
        return cudaErrorInvalidValue;
    }

    return cudaGetLastError();
}
