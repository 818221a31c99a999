/*
 * ngx_infer: what the CPU backend's two F32 products with quantized
 * weights share, infer_cpu_quant.c (AVX2) and infer_cpu_quant512.c
 * (AVX-512): the chunks a row is summed in, the tree that sums an
 * accumulator's lanes, the K types' scales.  Both sum every output in the
 * same order, so a row of x gets the same bits on either.
 */

#ifndef _INFER_CPU_QUANT_IMPL_H_INCLUDED_
#define _INFER_CPU_QUANT_IMPL_H_INCLUDED_


#include <stdint.h>
#include <immintrin.h>

#include "infer_cpu.h"
#include "infer_quant.h"


#define INFER_CPU_QKMAX  1024    /* a row up to this long is one chunk */
#define INFER_CPU_QKC    512     /* else chunks of this many values */
#define INFER_CPU_QT     64      /* rows of x per tile: their chunk in L2 */
#define INFER_CPU_QJB    6       /* weight rows unpacked at once */
#define INFER_CPU_QMR    4       /* rows of x of the register tiles */

#define INFER_CPU_QT_ATTR                                                    \
    __attribute__((always_inline, target("avx2,fma,f16c")))

#define INFER_CPU_QT_FN  __attribute__((target("avx2,fma,f16c")))


/* the values of the chunk at k0: both paths take the same ones */
static inline int64_t
infer_cpu_qchunk(int64_t n_in, int64_t k0)
{
    if (n_in <= INFER_CPU_QKMAX) {
        return n_in;
    }

    return (n_in - k0 > INFER_CPU_QKC) ? INFER_CPU_QKC : n_in - k0;
}


/*
 * The ends of a chunk: the lanes of n (1..4) accumulators, the outputs
 * y[0 .. n), to y (first) or added to it.  Each sums its lanes in one
 * tree, ((0 + 1) + (2 + 3)) + ((4 + 5) + (6 + 7)), whichever others
 * share the call: hadd of the four pairs them, and a missing one is zero.
 */
static inline INFER_CPU_QT_ATTR void
infer_cpu_qput(float *y, const __m256 *acc, int n, int first)
{
    int     i;
    float   v[4];
    __m256  z, ab, cd;
    __m128  s;

    z = _mm256_setzero_ps();
    ab = _mm256_hadd_ps(acc[0], n > 1 ? acc[1] : z);
    cd = _mm256_hadd_ps(n > 2 ? acc[2] : z, n > 3 ? acc[3] : z);
    ab = _mm256_hadd_ps(ab, cd);
    s = _mm_add_ps(_mm256_castps256_ps128(ab), _mm256_extractf128_ps(ab, 1));

    if (n == 4) {
        if (!first) {
            s = _mm_add_ps(s, _mm_loadu_ps(y));
        }

        _mm_storeu_ps(y, s);
        return;
    }

    _mm_storeu_ps(v, s);

#pragma GCC unroll 4
    for (i = 0; i < n; i++) {
        if (first) {
            y[i] = v[i];
        } else {
            y[i] += v[i];
        }
    }
}


typedef struct {
    float                 d[8];      /* d sc of each sub-block */
    float                 m[8];      /* dmin mn */
} infer_cpu_qks_t;


/* a Q4_K or Q5_K block's d sc and dmin mn, each sub-block's */
static inline INFER_CPU_QT_ATTR void
infer_cpu_qks(const unsigned char *block, infer_cpu_qks_t *ks)
{
    int                        s;
    float                      d, dmin;
    uint32_t                   u[4];
    const uint8_t             *sc;
    const infer_block_q4_k_t  *b;

    /* d, dmin and the scales lie alike in both types' blocks */
    b = (const infer_block_q4_k_t *) block;
    d = _cvtsh_ss(b->d);
    dmin = _cvtsh_ss(b->dmin);
    infer_quant_k_scales(b->scales, u);
    sc = (const uint8_t *) u;

#pragma GCC unroll 8
    for (s = 0; s < 8; s++) {
        ks->d[s] = d * (float) sc[s];
        ks->m[s] = dmin * (float) sc[8 + s];
    }
}


/* the groups a type's unpacking gives at once (4 of wv each) */
#define INFER_CPU_QU_q8_0  1
#define INFER_CPU_QU_q4_0  1
#define INFER_CPU_QU_q4_1  1
#define INFER_CPU_QU_q6_k  1
#define INFER_CPU_QU_q4_k  2
#define INFER_CPU_QU_q5_k  2

/* a K type's block of 256 values comes with its scales set up once */
#define INFER_CPU_QKS_q8_0(row, g, ks)
#define INFER_CPU_QKS_q4_0(row, g, ks)
#define INFER_CPU_QKS_q4_1(row, g, ks)
#define INFER_CPU_QKS_q6_k(row, g, ks)
#define INFER_CPU_QKS_q4_k(row, g, ks)                                       \
    if (((g) & 7) == 0) {                                                    \
        infer_cpu_qks((row) + ((g) >> 3) * sizeof(infer_block_q4_k_t), ks);  \
    }
#define INFER_CPU_QKS_q5_k(row, g, ks)                                       \
    if (((g) & 7) == 0) {                                                    \
        infer_cpu_qks((row) + ((g) >> 3) * sizeof(infer_block_q5_k_t), ks);  \
    }



/*
 * The batched product's loops (infer_cpu_quant.c), whichever path's
 * arithmetic: for each tile of rows of x, each INFER_CPU_QJB weight rows
 * and each chunk, unpack() puts the jb rows at w (row_size bytes apart),
 * values k0 .. k0 + kc, into buf in the path's layout, and tile() runs
 * its register tiles over buf for nr rows of x (ldx apart) into y's jb
 * outputs (ldy apart), to y (first) or added to it.
 */
typedef struct {
    const void           *fns;
    void                (*unpack)(const void *fns, const unsigned char *w,
                                  size_t row_size, int jb, int64_t k0,
                                  int64_t kc, float *buf);
    void                (*tile)(const float *buf, int64_t kc,
                                const float *x, size_t ldx, float *y,
                                size_t ldy, int first, int jb, int nr);
} infer_cpu_qgemm_t;

void infer_cpu_quant_gemm(const infer_cpu_qgemm_t *g, infer_dtype_e dt,
    const float *x, size_t ldx, int rows, const unsigned char *w,
    size_t row_size, int64_t n_in, int64_t n_out, float *y, size_t ldy);


/*
 * infer_cpu_quant512.c: the whole product with AVX-512 (F, BW, DQ, VL),
 * the same bits as the AVX2 one; -1 for a type it does not take
 */
int infer_cpu_quant512_matmul(infer_dtype_e dt, const float *x, size_t ldx,
    int rows, const unsigned char *w, size_t row_size, int64_t n_in,
    int64_t n_out, float *y, size_t ldy);


#endif /* _INFER_CPU_QUANT_IMPL_H_INCLUDED_ */
