/*
 * ngx_infer: the arithmetic a backend computes a model in.
 *
 * Plain C, shared by the nginx module (which parses it from
 * configuration), the CUDA backend (which picks cuBLAS types from it) and
 * the tests.  The values cross the dlopen() boundary as an int, so they
 * are fixed: never renumber them.
 */

#ifndef _INFER_PRECISION_H_INCLUDED_
#define _INFER_PRECISION_H_INCLUDED_


#include <stddef.h>
#include <string.h>


typedef enum {
    /* IEEE single precision products and sums, as the CPU backend */
    INFER_PRECISION_FP32 = 0,

    /* F32 storage, products on tensor cores with 10-bit mantissas
     * (TF32), F32 sums */
    INFER_PRECISION_TF32 = 1,

    /* weights and activations stored in binary16, products on tensor
     * cores, F32 sums, bias, activation and softmax in F32 */
    INFER_PRECISION_FP16 = 2,

    /* as FP16 with bfloat16 storage: the range of F32, 8-bit mantissas */
    INFER_PRECISION_BF16 = 3,

    /* the CPU's products with quantized weights take the activations
     * rounded to 8 bits in blocks of 32 (llama.cpp's arithmetic,
     * kernels/cpu/infer_cpu_quant_q8.c), integer products, F32 sums;
     * everything else as FP32 */
    INFER_PRECISION_Q8 = 4
} infer_precision_e;


/* the values the CUDA backend computes in: 0 to this less 1 */
#define INFER_PRECISION_CUDA   4
#define INFER_PRECISION_COUNT  5


/* "fp32", "tf32", "fp16", "bf16", "q8", or NULL for a value out of range */
static inline const char *
infer_precision_name(int p)
{
    static const char  *names[INFER_PRECISION_COUNT] = {
        "fp32", "tf32", "fp16", "bf16", "q8"
    };

    return (p >= 0 && p < INFER_PRECISION_COUNT) ? names[p] : NULL;
}


/* the value named by s[0..len-1] ("fp16"), or -1; s need not end in NUL,
 * so that an ngx_str_t can be passed as it is */
static inline int
infer_precision_parse(const char *s, size_t len)
{
    int          p;
    const char  *name;

    for (p = 0; p < INFER_PRECISION_COUNT; p++) {
        name = infer_precision_name(p);

        if (len == strlen(name) && memcmp(s, name, len) == 0) {
            return p;
        }
    }

    return -1;
}


#endif /* _INFER_PRECISION_H_INCLUDED_ */
