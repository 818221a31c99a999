/*
 * ngx_infer: what every file of the CUDA backend shares.
 *
 * Errors never abort: a failed CUDA or cuBLAS call becomes a message in
 * the caller's (err, errlen) buffer that names the call and quotes the
 * library's own description and name of the error, and the function
 * returns -1.  The executor thread logs the message and answers the
 * batch's requests with an error; nginx keeps running.
 */

#ifndef _INFER_CUDA_CUH_INCLUDED_
#define _INFER_CUDA_CUH_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cuda_runtime.h>
#include <cublas_v2.h>

extern "C" {
#include "infer_model.h"
}


/*
 * The shared object is built with -fvisibility=hidden and a version
 * script: these are its only exported symbols.
 */
#define INFER_CUDA_EXPORT  extern "C" __attribute__((visibility("default")))


/* threads per block of the element-wise kernels */
#define INFER_CUDA_THREADS  256


/*
 * F16 and BF16 values live on the device as their bit patterns, uint16_t,
 * converted with infer_math.h: the same functions the CPU tests check
 * exhaustively, so no dependency on cuda_fp16.h/cuda_bf16.h semantics.
 */
typedef uint16_t  infer_cuda_half_t;


static inline size_t
infer_cuda_dtype_size(infer_dtype_e dt)
{
    return dt == INFER_DT_F32 ? 4 : 2;
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


#endif /* _INFER_CUDA_CUH_INCLUDED_ */
