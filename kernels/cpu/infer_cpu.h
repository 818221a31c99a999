/*
 * ngx_infer: what the CPU backend's files share (kernels/cpu/): one
 * function per op, ggml's compute_forward_<op>, on tensors whose data
 * the backend has set (infer_cpu.c plans and dispatches).
 */

#ifndef _INFER_CPU_H_INCLUDED_
#define _INFER_CPU_H_INCLUDED_


#include <stdint.h>

#include "infer_ops.h"


/* per backend: scratch an op may need beyond its output */
typedef struct {
    int                   avx2;      /* the CPU has AVX2 and FMA */
    int                   avx512;    /* and AVX-512 (F, BW, DQ, VL) */
    int                   quant_q8;  /* quantized weights times x quantized
                                        to 8 bits (infer_cpu_quant_q8.c),
                                        not F32 x */
    float                *work;
    size_t                work_len;  /* floats */
    float                *kv;        /* the paged KV cache, or NULL */
    infer_kv_shape_t      kv_shape;
} infer_cpu_env_t;


/* work of n floats, or NULL (out of memory) */
float *infer_cpu_work(infer_cpu_env_t *env, size_t n);

/* infer_cpu_matmul.c */
void infer_cpu_matmul(infer_cpu_env_t *env, infer_tensor_t *t);

/*
 * infer_cpu_quant.c: y = x w^T for w quantized (infer_quant.h), n_out rows
 * of n_in values (a whole number of blocks); x rows x n_in F32, ldx floats
 * apart; y ldy apart.  AVX2 where env->avx2 and the CPU has F16C, else
 * plain C; either way a row of x gets the same bits in any batch.
 */
void infer_cpu_quant_matmul(infer_cpu_env_t *env, infer_dtype_e dt,
    const float *x, size_t ldx, int rows, const void *w, int64_t n_in,
    int64_t n_out, float *y, size_t ldy);

/* whether infer_cpu_quant_matmul() can take its AVX2 path here, and its
 * AVX-512 one (infer_cpu_quant512.c: the same bits, where env->avx512) */
int infer_cpu_quant_avx2(void);
int infer_cpu_quant_avx512(void);

/*
 * infer_cpu_quant_q8.c: the same product with each row of x quantized to
 * 8 bits in blocks of 32 first (llama.cpp's way: integer products, faster,
 * about 2^-8 of each activation lost); 0, or -1 where it cannot (no AVX2,
 * no memory), which leaves y untouched.  env->work holds x's quants.
 */
int infer_cpu_quant_q8_matmul(infer_cpu_env_t *env, infer_dtype_e dt,
    const float *x, size_t ldx, int rows, const void *w, int64_t n_in,
    int64_t n_out, float *y, size_t ldy);

/* a row of x as infer_cpu_quant_q8_matmul() quantizes it: qs[n], and per
 * block of 32 its scale d and d times the sum of its quants s, each
 * rounded to F16 (llama.cpp's Q8_1); in AVX2 where avx2 and the CPU
 * allow, else in plain C, the same bits */
void infer_cpu_q8_quantize_row(int avx2, const float *x, int64_t n,
    int8_t *qs, float *d, float *s);

/* infer_cpu_ops.c: 0, or -1 with err set (an index out of range, no
 * memory) */
int infer_cpu_op(infer_cpu_env_t *env, infer_tensor_t *t, char *err,
    size_t errlen);

/* sequence s of seqs lies within the batch's tokens: 0, or -1 with err */
int infer_cpu_seq_check(const infer_tensor_t *seqs, int64_t tokens,
    int64_t s, char *err, size_t errlen);

/* infer_cpu_vec.c: y[0 .. n) = GELU(x[0 .. n)), with AVX2 and FMA */
void infer_cpu_gelu_avx2(float *y, const float *x, int64_t n);

/* infer_cpu_vec.c: y[0 .. n) = SiLU(x[0 .. n)), with AVX2 and FMA */
void infer_cpu_silu_avx2(float *y, const float *x, int64_t n);

/* infer_cpu_vec.c: a softmax row in place, with AVX2 and FMA */
void infer_cpu_softmax_avx2(float *x, int64_t n);

/* infer_cpu_kv.c: the paged KV cache's ops */
int infer_cpu_kv_store(infer_cpu_env_t *env, infer_tensor_t *t, char *err,
    size_t errlen);
int infer_cpu_kv_attention(infer_cpu_env_t *env, infer_tensor_t *t,
    char *err, size_t errlen);

/* infer_cpu_attention.c */
int infer_cpu_attention(infer_cpu_env_t *env, infer_tensor_t *t, char *err,
    size_t errlen);


/*
 * x . y, in 8 partial sums that the compiler keeps in one vector register
 * (a plain sum += x[j] * y[j] is a chain it may not reorder)
 */
static inline float
infer_cpu_dot(const float *x, const float *y, int64_t n)
{
    int      l;
    float    acc[8] = { 0 }, sum;
    int64_t  j;

    for (j = 0; j + 8 <= n; j += 8) {
        for (l = 0; l < 8; l++) {
            acc[l] += x[j + l] * y[j + l];
        }
    }

    sum = 0.0f;

    for (l = 0; l < 8; l++) {
        sum += acc[l];
    }

    for ( /* void */ ; j < n; j++) {
        sum += x[j] * y[j];
    }

    return sum;
}


/* the sum of x[0 .. n), in 8 partial sums as infer_cpu_dot() */
static inline float
infer_cpu_sum(const float *x, int64_t n)
{
    int      l;
    float    acc[8] = { 0 }, sum;
    int64_t  j;

    for (j = 0; j + 8 <= n; j += 8) {
        for (l = 0; l < 8; l++) {
            acc[l] += x[j + l];
        }
    }

    sum = 0.0f;

    for (l = 0; l < 8; l++) {
        sum += acc[l];
    }

    for ( /* void */ ; j < n; j++) {
        sum += x[j];
    }

    return sum;
}


#define infer_cpu_row(t, r)                                                  \
    ((float *) ((char *) (t)->data + (size_t) (r) * (t)->nb))

#define infer_cpu_irow(t, r)                                                 \
    ((const int32_t *) ((const char *) (t)->data + (size_t) (r) * (t)->nb))


#endif /* _INFER_CPU_H_INCLUDED_ */
