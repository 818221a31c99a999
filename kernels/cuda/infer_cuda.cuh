/*
 * ngx_infer: what every file of the CUDA backend shares.
 *
 * Errors never abort: a failed CUDA or cuBLAS call becomes a message in
 * the caller's (err, errlen) buffer that names the call and quotes the
 * library's own description and name of the error, and the function
 * returns -1.  The executor thread logs the message and answers the
 * batch's requests with an error; nginx keeps running.
 *
 * The ops' launchers (<op>.cuh) take device pointers, sizes and row
 * strides in elements (ld, a tensor's nb / element size): a source may be
 * a view of some columns of a wider matrix.  What they write is packed
 * (ld = cols), as every node the builders make is.  Sizes are int: the
 * backend refuses tensors of more than INT_MAX rows or columns before
 * anything is launched.  A launcher with nothing to do (0 rows) launches
 * nothing, and returns the launch's error otherwise.
 */

#ifndef _INFER_CUDA_CUH_INCLUDED_
#define _INFER_CUDA_CUH_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cuda_runtime.h>
#include <cublas_v2.h>

extern "C" {
#include "infer_dtype.h"
#include "infer_math.h"
}


/*
 * The shared object is built with -fvisibility=hidden: these are its only
 * exported symbols.
 */
#define INFER_CUDA_EXPORT  extern "C" __attribute__((visibility("default")))


/* threads per block of the element-wise kernels */
#define INFER_CUDA_THREADS     256

/* the grid's y dimension is limited to 65535: more rows stride */
#define INFER_CUDA_MAX_GRID_Y  65535

#define INFER_CUDA_WARP        32
#define INFER_CUDA_FULL_MASK   0xffffffffu


/*
 * F16 and BF16 values live on the device as their bit patterns, uint16_t,
 * converted with infer_math.h: the same functions the CPU tests check
 * exhaustively, so no dependency on cuda_fp16.h/cuda_bf16.h semantics.
 */
typedef uint16_t  infer_cuda_half_t;


static inline size_t
infer_cuda_dtype_size(infer_dtype_e dt)
{
    return infer_dtype_block_size(dt);
}


static inline void
infer_cuda_error(char *err, size_t errlen, const char *call, cudaError_t rc)
{
    snprintf(err, errlen, "%s: %s (%s)", call, cudaGetErrorString(rc),
             cudaGetErrorName(rc));
}


static inline void
infer_cublas_error(char *err, size_t errlen, const char *call,
    cublasStatus_t rc)
{
    snprintf(err, errlen, "%s: %s (%s)", call, cublasGetStatusString(rc),
             cublasGetStatusName(rc));
}


/*
 * For functions that take (char *err, size_t errlen) and return 0 or -1.
 * A failure leaves every resource where the context can find it, so the
 * caller's clean-up (or the backend's free()) releases it.
 */
#define CUDA_CHECK(call)                                                      \
    do {                                                                      \
        cudaError_t  cuda_rc_ = (call);                                       \
                                                                              \
        if (cuda_rc_ != cudaSuccess) {                                        \
            infer_cuda_error(err, errlen, #call, cuda_rc_);                   \
            return -1;                                                        \
        }                                                                     \
    } while (0)


#define CUBLAS_CHECK(call)                                                    \
    do {                                                                      \
        cublasStatus_t  cublas_rc_ = (call);                                  \
                                                                              \
        if (cublas_rc_ != CUBLAS_STATUS_SUCCESS) {                            \
            infer_cublas_error(err, errlen, #call, cublas_rc_);               \
            return -1;                                                        \
        }                                                                     \
    } while (0)


/*
 * The launch geometry of the row-by-column kernels: x over the columns in
 * whole warps, no more than a short row needs; y over the rows, which the
 * kernel strides by gridDim.y past 65535.
 */
static inline void
infer_cuda_grid_2d(int rows, int cols, dim3 *grid, dim3 *block)
{
    int  threads;

    threads = cols >= INFER_CUDA_THREADS
              ? INFER_CUDA_THREADS
              : (cols + INFER_CUDA_WARP - 1) / INFER_CUDA_WARP
                * INFER_CUDA_WARP;

    *block = dim3((unsigned) threads);
    *grid = dim3((unsigned) ((cols + threads - 1) / threads),
                 (unsigned) (rows < INFER_CUDA_MAX_GRID_Y
                             ? rows : INFER_CUDA_MAX_GRID_Y));
}


/* threads for one block per row: whole warps, at most max (a multiple
 * of 32) */
static inline int
infer_cuda_row_threads(int cols, int max)
{
    return cols >= max ? max
                       : (cols + INFER_CUDA_WARP - 1) / INFER_CUDA_WARP
                         * INFER_CUDA_WARP;
}


/*
 * What a kernel found wrong in the indices it reads on the device (an id
 * outside its table, a sequence outside the batch): the first report
 * wins, compute() reads it back after the batch and fails the batch, as
 * the CPU backend does when it checks the same indices on the host.  The
 * kernel itself reads nothing out of bounds, and writes zeros instead.
 */
#define INFER_CUDA_BAD_ID   1       /* v: the id, its row, the vocab */
#define INFER_CUDA_BAD_SEQ  2       /* v: the sequence, its start, its
                                       end, the tokens */

typedef struct {
    int32_t               code;
    int32_t               v[4];
} infer_cuda_status_t;


static __device__ __forceinline__ void
infer_cuda_report(infer_cuda_status_t *st, int32_t code, int32_t a,
    int32_t b, int32_t c, int32_t d)
{
    if (atomicCAS(&st->code, 0, code) == 0) {
        st->v[0] = a;
        st->v[1] = b;
        st->v[2] = c;
        st->v[3] = d;
    }
}


/* whether sequence s of seqs lies within [0, tokens); reports it if not */
static __device__ __forceinline__ bool
infer_cuda_seq_ok(const int32_t *seqs, int64_t ld_seqs, int s, int tokens,
    infer_cuda_status_t *st)
{
    int32_t  start, len;

    start = seqs[s * ld_seqs];
    len = seqs[s * ld_seqs + 1];

    if (start < 0 || len < 0 || len > tokens - start) {
        infer_cuda_report(st, INFER_CUDA_BAD_SEQ, s, start, start + len,
                          tokens);
        return false;
    }

    return true;
}


/* element i of an F32, F16 or BF16 array, as F32 */
template <infer_dtype_e DT>
static __device__ __forceinline__ float
infer_cuda_load(const void *p, size_t i)
{
    if constexpr (DT == INFER_DT_F32) {
        return ((const float *) p)[i];

    } else if constexpr (DT == INFER_DT_F16) {
        return infer_f16_to_f32(((const infer_cuda_half_t *) p)[i]);

    } else {
        return infer_bf16_to_f32(((const infer_cuda_half_t *) p)[i]);
    }
}


/* v into element i, rounded to nearest even for F16 and BF16 */
template <infer_dtype_e DT>
static __device__ __forceinline__ void
infer_cuda_store(void *p, size_t i, float v)
{
    if constexpr (DT == INFER_DT_F32) {
        ((float *) p)[i] = v;

    } else if constexpr (DT == INFER_DT_F16) {
        ((infer_cuda_half_t *) p)[i] = infer_f32_to_f16(v);

    } else {
        ((infer_cuda_half_t *) p)[i] = infer_f32_to_bf16(v);
    }
}


#endif /* _INFER_CUDA_CUH_INCLUDED_ */
