/*
 * ngx_infer: the CPU backend's product with quantized weights, y = x w^T
 * for w in GGUF's blocks (infer_quant.h): n_out rows of n_in values, each
 * row a run of blocks, never dequantized as a whole.
 *
 * With AVX2, FMA and F16C, a block's quants are unpacked in registers into
 * eight floats at a time, scaled (d, or d sc and the min for the K types),
 * and FMA'd against the F32 activations of a few rows of x at once.  The
 * loops are ordered so that the weights come from memory once per batch,
 * which is what continuous batching needs: over a tile of up to
 * INFER_CPU_QT rows of x, a block of INFER_CPU_QJB weight rows is taken a
 * chunk of INFER_CPU_QKC values at a time, and each group of INFER_CPU_QNR
 * rows of x passes over all of the block's chunks while they are in L1 (x's
 * chunk stays there too).  A batch of 16 decoding sequences reads each
 * weight byte from memory once, where 16 products would read it 16 times.
 *
 * Every output sums in an order fixed by n_in alone: per row of x one
 * 8-lane accumulator over the chunk, a block's (32 values') products summed
 * apart and then added to it (so that one row alone has chains to overlap),
 * the lanes summed at the end of a chunk and the chunks added to y in
 * order.  Nothing depends on which rows share a group or a tile: a row
 * computes the same bits alone as in any batch (kernels/test/test_quant.c
 * checks it).
 *
 * Without AVX2, each output is infer_quant_dot() (plain C, same loops).
 */

#include <stdint.h>
#include <string.h>

#if (defined __x86_64__ && defined __GNUC__)
#include <cpuid.h>
#include <immintrin.h>
#define INFER_CPU_QAVX2  1
#endif

#include "infer_cpu.h"
#include "infer_quant.h"


#define INFER_CPU_QNR   8       /* rows of x per pass, in registers */
#define INFER_CPU_QKC   512     /* values of a chunk: 2 K blocks */
#define INFER_CPU_QJB   16      /* weight rows per block */
#define INFER_CPU_QT    64      /* rows of x per tile: its chunk in L2 */


typedef void (*infer_cpu_qrows_pt)(const unsigned char *w, const float *x,
    size_t ldx, int nr, int64_t n, float *y, size_t ldy, int first);

/* the whole product for nr of 1 or 2: chunk by chunk of each weight row,
 * cb the bytes of a chunk */
typedef void (*infer_cpu_qfew_pt)(const unsigned char *w, size_t row_size,
    size_t cb, const float *x, size_t ldx, int nr, int64_t n_in,
    int64_t n_out, float *y, size_t ldy);

typedef struct {
    infer_cpu_qrows_pt    rows;
    infer_cpu_qfew_pt     few;
} infer_cpu_qfns_t;


static void infer_cpu_quant_c(infer_dtype_e dt, const float *x, size_t ldx,
    int rows, const unsigned char *w, size_t row_size, int64_t n_in,
    int64_t n_out, float *y, size_t ldy);

#if (INFER_CPU_QAVX2)
static void infer_cpu_quant_tiles(const infer_cpu_qfns_t *fns,
    infer_dtype_e dt, const float *x, size_t ldx, int rows,
    const unsigned char *w, size_t row_size, int64_t n_in, int64_t n_out,
    float *y, size_t ldy);
static const infer_cpu_qfns_t *infer_cpu_qrows(infer_dtype_e dt);
#endif


int
infer_cpu_quant_avx2(void)
{
#if (INFER_CPU_QAVX2)
    unsigned int  a, b, c, d;
    static int    avx2 = -1;

    /* clang's __builtin_cpu_supports() knows no "f16c": CPUID 1, ECX */
    if (avx2 < 0) {
        avx2 = __builtin_cpu_supports("avx2")
               && __builtin_cpu_supports("fma")
               && __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C);
    }

    return avx2;
#else
    return 0;
#endif
}


void
infer_cpu_quant_matmul(infer_cpu_env_t *env, infer_dtype_e dt,
    const float *x, size_t ldx, int rows, const void *w, int64_t n_in,
    int64_t n_out, float *y, size_t ldy)
{
    size_t                row_size;
    const unsigned char  *wb;

    row_size = infer_dtype_row_size(dt, n_in);
    wb = w;

    if (env->quant_q8
        && infer_cpu_quant_q8_matmul(env, dt, x, ldx, rows, w, n_in, n_out,
                                     y, ldy)
           == 0)
    {
        return;
    }

#if (INFER_CPU_QAVX2)
    if (env->avx2 && infer_cpu_quant_avx2() && infer_cpu_qrows(dt) != NULL) {
        infer_cpu_quant_tiles(infer_cpu_qrows(dt), dt, x, ldx, rows, wb,
                              row_size, n_in, n_out, y, ldy);
        return;
    }
#endif

    infer_cpu_quant_c(dt, x, ldx, rows, wb, row_size, n_in, n_out, y, ldy);
}


#if (INFER_CPU_QAVX2)

/* the loops that make the weights come from memory once a tile */
static void
infer_cpu_quant_tiles(const infer_cpu_qfns_t *fns, infer_dtype_e dt,
    const float *x, size_t ldx, int rows, const unsigned char *w,
    size_t row_size, int64_t n_in, int64_t n_out, float *y, size_t ldy)
{
    int                 r0, r1, r, nr;
    size_t              at, next, end, pf, l;
    int64_t             j0, j1, j, k0, kc;
    infer_cpu_qrows_pt  fn;

    /*
     * One or two rows of x stay in L1 whole: each weight row is read
     * once, front to back, which the hardware prefetches best; the loops
     * are the type's own, with the body inlined (a call a chunk cost as
     * much as a short chunk's arithmetic).
     */
    if (rows <= 2) {
        fns->few(w, row_size, infer_dtype_row_size(dt, INFER_CPU_QKC), x,
                 ldx, rows, n_in, n_out, y, ldy);
        return;
    }

    fn = fns->rows;

    for (r0 = 0; r0 < rows; r0 = r1) {
        r1 = (rows - r0 > INFER_CPU_QT) ? r0 + INFER_CPU_QT : rows;

        for (j0 = 0; j0 < n_out; j0 = j1) {
            j1 = (n_out - j0 > INFER_CPU_QJB) ? j0 + INFER_CPU_QJB : n_out;

            for (k0 = 0; k0 < n_in; k0 += INFER_CPU_QKC) {
                kc = (n_in - k0 > INFER_CPU_QKC) ? INFER_CPU_QKC : n_in - k0;
                at = infer_dtype_row_size(dt, k0);

                /*
                 * The block's rows are as many streams through memory,
                 * too short for the hardware's prefetcher to follow:
                 * each row's next chunk is asked for one chunk ahead.
                 */
                next = (k0 + INFER_CPU_QKC < n_in)
                       ? at + infer_dtype_row_size(dt, INFER_CPU_QKC)
                       : (size_t) INFER_CPU_QJB * row_size;
                end = (size_t) n_out * row_size;

                for (j = j0; j < j1; j++) {
                    pf = (size_t) j * row_size + next;

                    for (l = 0; l < infer_dtype_row_size(dt, kc)
                                    && pf + l < end; l += 64)
                    {
                        _mm_prefetch((const char *) w + pf + l, _MM_HINT_T0);
                    }
                }

                for (r = r0; r < r1; r += nr) {
                    nr = (r1 - r > INFER_CPU_QNR) ? INFER_CPU_QNR : r1 - r;

                    for (j = j0; j < j1; j++) {
                        fn(w + (size_t) j * row_size + at,
                           x + (size_t) r * ldx + k0, ldx, nr, kc,
                           y + (size_t) r * ldy + j, ldy, k0 == 0);
                    }
                }
            }
        }
    }
}

#endif


static void
infer_cpu_quant_c(infer_dtype_e dt, const float *x, size_t ldx, int rows,
    const unsigned char *w, size_t row_size, int64_t n_in, int64_t n_out,
    float *y, size_t ldy)
{
    int      r;
    int64_t  j;

    for (j = 0; j < n_out; j++) {
        for (r = 0; r < rows; r++) {
            y[(size_t) r * ldy + j] = infer_quant_dot(dt, w + j * row_size,
                                                      x + (size_t) r * ldx,
                                                      n_in);
        }
    }
}


#if (INFER_CPU_QAVX2)

#define INFER_CPU_QT_ATTR                                                    \
    __attribute__((always_inline, target("avx2,fma,f16c")))

#define INFER_CPU_QT_FN  __attribute__((target("avx2,fma,f16c")))


static inline INFER_CPU_QT_ATTR float
infer_cpu_qhsum(__m256 v)
{
    __m128  s;

    s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));

    return _mm_cvtss_f32(s);
}


/* 8 bytes at p as 8 int32 lanes, zero- or sign-extended */
#define infer_cpu_qu8(p)                                                     \
    _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *) (p)))
#define infer_cpu_qi8(p)                                                     \
    _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *) (p)))

#define infer_cpu_qf(v)  _mm256_cvtepi32_ps(v)


/*
 * 32 values w[0..3] of a block against 32 of each of nr rows of x (at x,
 * ldx apart): each row's products summed in p, apart from acc[r], then
 * added to it.
 */
static inline INFER_CPU_QT_ATTR void
infer_cpu_qfma(__m256 *acc, const __m256 *w, const float *x, size_t ldx,
    int nr)
{
    int           r;
    __m256        p;
    const float  *xr;

#pragma GCC unroll 8
    for (r = 0; r < nr; r++) {
        xr = x + (size_t) r * ldx;
        p = _mm256_mul_ps(w[0], _mm256_loadu_ps(xr));
        p = _mm256_fmadd_ps(w[1], _mm256_loadu_ps(xr + 8), p);
        p = _mm256_fmadd_ps(w[2], _mm256_loadu_ps(xr + 16), p);
        p = _mm256_fmadd_ps(w[3], _mm256_loadu_ps(xr + 24), p);
        acc[r] = _mm256_add_ps(acc[r], p);
    }
}


/* the same with raw quants: each row's sum scaled by the block's d */
static inline INFER_CPU_QT_ATTR void
infer_cpu_qfma_d(__m256 *acc, const __m256 *q, __m256 d, const float *x,
    size_t ldx, int nr)
{
    int           r;
    __m256        p;
    const float  *xr;

#pragma GCC unroll 8
    for (r = 0; r < nr; r++) {
        xr = x + (size_t) r * ldx;
        p = _mm256_mul_ps(q[0], _mm256_loadu_ps(xr));
        p = _mm256_fmadd_ps(q[1], _mm256_loadu_ps(xr + 8), p);
        p = _mm256_fmadd_ps(q[2], _mm256_loadu_ps(xr + 16), p);
        p = _mm256_fmadd_ps(q[3], _mm256_loadu_ps(xr + 24), p);
        acc[r] = _mm256_fmadd_ps(d, p, acc[r]);
    }
}


/* the end of a chunk: each row's lanes, to y (first) or added to it */
static inline INFER_CPU_QT_ATTR void
infer_cpu_qstore(const __m256 *acc, int nr, float *y, size_t ldy, int first)
{
    int  r;

#pragma GCC unroll 8
    for (r = 0; r < nr; r++) {
        if (first) {
            y[(size_t) r * ldy] = infer_cpu_qhsum(acc[r]);
        } else {
            y[(size_t) r * ldy] += infer_cpu_qhsum(acc[r]);
        }
    }
}


#define infer_cpu_qzero(acc, nr)                                             \
    do {                                                                     \
        int  r_;                                                             \
        _Pragma("GCC unroll 8")                                              \
        for (r_ = 0; r_ < (nr); r_++) {                                      \
            (acc)[r_] = _mm256_setzero_ps();                                 \
        }                                                                    \
    } while (0)


/*
 * Each type's body, for n values (a chunk) of one weight row at w and nr
 * rows of x; inlined with nr constant (1..INFER_CPU_QNR) by
 * INFER_CPU_QROWS below, so that the loops over the rows unroll.
 */

static inline INFER_CPU_QT_ATTR void
infer_cpu_q8_0_body(const unsigned char *w, const float *x, size_t ldx,
    int nr, int64_t n, float *y, size_t ldy, int first)
{
    int                        v;
    int64_t                    i;
    __m256                     acc[INFER_CPU_QNR], wv[4], d;
    const infer_block_q8_0_t  *b;

    infer_cpu_qzero(acc, nr);
    b = (const infer_block_q8_0_t *) w;

    for (i = 0; i < n; i += INFER_QK, b++) {
        d = _mm256_set1_ps(_cvtsh_ss(b->d));

        #pragma GCC unroll 4
        for (v = 0; v < 4; v++) {
            wv[v] = infer_cpu_qf(infer_cpu_qi8(b->qs + 8 * v));
        }

        infer_cpu_qfma_d(acc, wv, d, x + i, ldx, nr);
    }

    infer_cpu_qstore(acc, nr, y, ldy, first);
}


static inline INFER_CPU_QT_ATTR void
infer_cpu_q4_0_body(const unsigned char *w, const float *x, size_t ldx,
    int nr, int64_t n, float *y, size_t ldy, int first)
{
    int64_t                    i;
    __m256i                    q0, q1, m4, m8;
    __m256                     acc[INFER_CPU_QNR], wv[4], d;
    const infer_block_q4_0_t  *b;

    infer_cpu_qzero(acc, nr);
    b = (const infer_block_q4_0_t *) w;
    m4 = _mm256_set1_epi32(0xf);
    m8 = _mm256_set1_epi32(8);

    for (i = 0; i < n; i += INFER_QK, b++) {
        d = _mm256_set1_ps(_cvtsh_ss(b->d));

        q0 = infer_cpu_qu8(b->qs);
        q1 = infer_cpu_qu8(b->qs + 8);
        wv[0] = infer_cpu_qf(_mm256_sub_epi32(_mm256_and_si256(q0, m4), m8));
        wv[1] = infer_cpu_qf(_mm256_sub_epi32(_mm256_and_si256(q1, m4), m8));
        wv[2] = infer_cpu_qf(_mm256_sub_epi32(_mm256_srli_epi32(q0, 4), m8));
        wv[3] = infer_cpu_qf(_mm256_sub_epi32(_mm256_srli_epi32(q1, 4), m8));

        infer_cpu_qfma_d(acc, wv, d, x + i, ldx, nr);
    }

    infer_cpu_qstore(acc, nr, y, ldy, first);
}


static inline INFER_CPU_QT_ATTR void
infer_cpu_q4_1_body(const unsigned char *w, const float *x, size_t ldx,
    int nr, int64_t n, float *y, size_t ldy, int first)
{
    int64_t                    i;
    __m256i                    q0, q1, m4;
    __m256                     acc[INFER_CPU_QNR], wv[4], d, m;
    const infer_block_q4_1_t  *b;

    infer_cpu_qzero(acc, nr);
    b = (const infer_block_q4_1_t *) w;
    m4 = _mm256_set1_epi32(0xf);

    for (i = 0; i < n; i += INFER_QK, b++) {
        d = _mm256_set1_ps(_cvtsh_ss(b->d));
        m = _mm256_set1_ps(_cvtsh_ss(b->m));

        q0 = infer_cpu_qu8(b->qs);
        q1 = infer_cpu_qu8(b->qs + 8);
        wv[0] = _mm256_fmadd_ps(infer_cpu_qf(_mm256_and_si256(q0, m4)), d, m);
        wv[1] = _mm256_fmadd_ps(infer_cpu_qf(_mm256_and_si256(q1, m4)), d, m);
        wv[2] = _mm256_fmadd_ps(infer_cpu_qf(_mm256_srli_epi32(q0, 4)), d, m);
        wv[3] = _mm256_fmadd_ps(infer_cpu_qf(_mm256_srli_epi32(q1, 4)), d, m);

        infer_cpu_qfma(acc, wv, x + i, ldx, nr);
    }

    infer_cpu_qstore(acc, nr, y, ldy, first);
}


/*
 * Q4_K and Q5_K: 64 values at a time from 32 bytes of qs (and, Q5_K, the
 * bits 2c, 2c + 1 of qh), sub-block 2c in the low nibbles, 2c + 1 in the
 * high; d sc q - dmin mn as one FMA.
 */
static inline INFER_CPU_QT_ATTR void
infer_cpu_qk45_body(const unsigned char *w, const float *x, size_t ldx,
    int nr, int64_t n, float *y, size_t ldy, int first, int five)
{
    int                   c, v;
    float                 d, dmin;
    uint32_t              u[4];
    int64_t               i;
    __m128i               sh;
    __m256i               q, h, ql, qh4, m4, one, two;
    __m256                acc[INFER_CPU_QNR], lo[4], hi[4], d1, m1, d2, m2;
    __m256                dsc8, mns8;
    const uint8_t        *scales, *qs, *qh;
    const unsigned char  *b;

    infer_cpu_qzero(acc, nr);
    m4 = _mm256_set1_epi32(0xf);
    one = _mm256_set1_epi32(1);
    two = _mm256_set1_epi32(2);

    for (i = 0, b = w; i < n; i += INFER_QK_K) {
        if (five) {
            const infer_block_q5_k_t  *b5 = (const infer_block_q5_k_t *) b;

            d = _cvtsh_ss(b5->d);
            dmin = _cvtsh_ss(b5->dmin);
            scales = b5->scales;
            qs = b5->qs;
            qh = b5->qh;
            b += sizeof(infer_block_q5_k_t);

        } else {
            const infer_block_q4_k_t  *b4 = (const infer_block_q4_k_t *) b;

            d = _cvtsh_ss(b4->d);
            dmin = _cvtsh_ss(b4->dmin);
            scales = b4->scales;
            qs = b4->qs;
            qh = NULL;
            b += sizeof(infer_block_q4_k_t);
        }

                /* the 8 scales and mins as floats, d sc and dmin mn, at once */
        infer_quant_k_scales(scales, u);
        dsc8 = _mm256_mul_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(
                   _mm256_cvtepu8_epi32(_mm_set_epi32(0, 0, (int) u[1],
                                                      (int) u[0]))));
        mns8 = _mm256_mul_ps(_mm256_set1_ps(dmin), _mm256_cvtepi32_ps(
                   _mm256_cvtepu8_epi32(_mm_set_epi32(0, 0, (int) u[3],
                                                      (int) u[2]))));

#pragma GCC unroll 4
        for (c = 0; c < 4; c++) {
            d1 = _mm256_permutevar8x32_ps(dsc8, _mm256_set1_epi32(2 * c));
            m1 = _mm256_permutevar8x32_ps(mns8, _mm256_set1_epi32(2 * c));
            d2 = _mm256_permutevar8x32_ps(dsc8, _mm256_set1_epi32(2 * c + 1));
            m2 = _mm256_permutevar8x32_ps(mns8, _mm256_set1_epi32(2 * c + 1));
            sh = _mm_cvtsi32_si128(2 * c);

            #pragma GCC unroll 4
            for (v = 0; v < 4; v++) {
                q = infer_cpu_qu8(qs + 32 * c + 8 * v);
                ql = _mm256_and_si256(q, m4);
                qh4 = _mm256_srli_epi32(q, 4);

                if (five) {
                    h = _mm256_srl_epi32(infer_cpu_qu8(qh + 8 * v), sh);
                    ql = _mm256_or_si256(ql, _mm256_slli_epi32(
                             _mm256_and_si256(h, one), 4));
                    qh4 = _mm256_or_si256(qh4, _mm256_slli_epi32(
                              _mm256_and_si256(h, two), 3));
                }

                lo[v] = _mm256_fmsub_ps(d1, infer_cpu_qf(ql), m1);
                hi[v] = _mm256_fmsub_ps(d2, infer_cpu_qf(qh4), m2);
            }

            infer_cpu_qfma(acc, lo, x + i + 64 * c, ldx, nr);
            infer_cpu_qfma(acc, hi, x + i + 64 * c + 32, ldx, nr);
        }
    }

    infer_cpu_qstore(acc, nr, y, ldy, first);
}


/* 32 bytes as 4 x 8 floats, values 0..7, 8..15, 16..23, 24..31 */
static inline INFER_CPU_QT_ATTR void
infer_cpu_qwiden_i8(__m256i v, __m256 *f)
{
    __m128i  lo, hi;

    lo = _mm256_castsi256_si128(v);
    hi = _mm256_extracti128_si256(v, 1);
    f[0] = infer_cpu_qf(_mm256_cvtepi8_epi32(lo));
    f[1] = infer_cpu_qf(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8)));
    f[2] = infer_cpu_qf(_mm256_cvtepi8_epi32(hi));
    f[3] = infer_cpu_qf(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8)));
}


/*
 * Q6_K: per half of 128 values, group g (0..3) of 32 takes the low (g 0,
 * 1) or high (g 2, 3) nibbles of ql[32 (g & 1) + l] and bits 2g, 2g + 1
 * of qh[l]: the 32 quants are put together as bytes (32 at a time), less
 * 32, then widened to floats and times d sc, the reference's rounding.
 */
static inline INFER_CPU_QT_ATTR void
infer_cpu_q6_k_body(const unsigned char *w, const float *x, size_t ldx,
    int nr, int64_t n, float *y, size_t ldy, int first)
{
    int                        s, g, v;
    float                      d;
    int64_t                    i;
    __m256i                    ql0, ql1, qh, q[4], m4, m3, o;
    __m256                     acc[INFER_CPU_QNR], wv[4], sv[2];
    const infer_block_q6_k_t  *b;

    infer_cpu_qzero(acc, nr);
    b = (const infer_block_q6_k_t *) w;
    m4 = _mm256_set1_epi8(0xf);
    m3 = _mm256_set1_epi8(3);
    o = _mm256_set1_epi8(32);

    for (i = 0; i < n; i += INFER_QK_K, b++) {
        d = _cvtsh_ss(b->d);

#pragma GCC unroll 2
        for (s = 0; s < 2; s++) {
            ql0 = _mm256_loadu_si256((const __m256i *) (b->ql + 64 * s));
            ql1 = _mm256_loadu_si256((const __m256i *) (b->ql + 64 * s + 32));
            qh = _mm256_loadu_si256((const __m256i *) (b->qh + 32 * s));

            q[0] = _mm256_or_si256(_mm256_and_si256(ql0, m4),
                       _mm256_slli_epi16(_mm256_and_si256(qh, m3), 4));
            q[1] = _mm256_or_si256(_mm256_and_si256(ql1, m4),
                       _mm256_slli_epi16(_mm256_and_si256(
                           _mm256_srli_epi16(qh, 2), m3), 4));
            q[2] = _mm256_or_si256(_mm256_and_si256(
                       _mm256_srli_epi16(ql0, 4), m4),
                       _mm256_slli_epi16(_mm256_and_si256(
                           _mm256_srli_epi16(qh, 4), m3), 4));
            q[3] = _mm256_or_si256(_mm256_and_si256(
                       _mm256_srli_epi16(ql1, 4), m4),
                       _mm256_slli_epi16(_mm256_and_si256(
                           _mm256_srli_epi16(qh, 6), m3), 4));

#pragma GCC unroll 4
            for (g = 0; g < 4; g++) {
                sv[0] = _mm256_set1_ps(d * (float) b->scales[8 * s + 2 * g]);
                sv[1] = _mm256_set1_ps(d
                                       * (float) b->scales[8 * s + 2 * g + 1]);
                infer_cpu_qwiden_i8(_mm256_sub_epi8(q[g], o), wv);

#pragma GCC unroll 4
                for (v = 0; v < 4; v++) {
                    wv[v] = _mm256_mul_ps(wv[v], sv[v >> 1]);
                }

                infer_cpu_qfma(acc, wv, x + i + 128 * s + 32 * g, ldx, nr);
            }
        }
    }

    infer_cpu_qstore(acc, nr, y, ldy, first);
}


static inline INFER_CPU_QT_ATTR void
infer_cpu_q4_k_body(const unsigned char *w, const float *x, size_t ldx,
    int nr, int64_t n, float *y, size_t ldy, int first)
{
    infer_cpu_qk45_body(w, x, ldx, nr, n, y, ldy, first, 0);
}


static inline INFER_CPU_QT_ATTR void
infer_cpu_q5_k_body(const unsigned char *w, const float *x, size_t ldx,
    int nr, int64_t n, float *y, size_t ldy, int first)
{
    infer_cpu_qk45_body(w, x, ldx, nr, n, y, ldy, first, 1);
}


/* one function per type: the body with nr made a constant */
#define INFER_CPU_QROWS(type)                                                \
    static INFER_CPU_QT_FN void                                              \
    infer_cpu_##type##_rows(const unsigned char *w, const float *x,          \
        size_t ldx, int nr, int64_t n, float *y, size_t ldy, int first)      \
    {                                                                        \
        switch (nr) {                                                        \
        case 8:                                                              \
            infer_cpu_##type##_body(w, x, ldx, 8, n, y, ldy, first);         \
            break;                                                           \
        case 7:                                                              \
            infer_cpu_##type##_body(w, x, ldx, 7, n, y, ldy, first);         \
            break;                                                           \
        case 6:                                                              \
            infer_cpu_##type##_body(w, x, ldx, 6, n, y, ldy, first);         \
            break;                                                           \
        case 5:                                                              \
            infer_cpu_##type##_body(w, x, ldx, 5, n, y, ldy, first);         \
            break;                                                           \
        case 4:                                                              \
            infer_cpu_##type##_body(w, x, ldx, 4, n, y, ldy, first);         \
            break;                                                           \
        case 3:                                                              \
            infer_cpu_##type##_body(w, x, ldx, 3, n, y, ldy, first);         \
            break;                                                           \
        case 2:                                                              \
            infer_cpu_##type##_body(w, x, ldx, 2, n, y, ldy, first);         \
            break;                                                           \
        default:                                                             \
            infer_cpu_##type##_body(w, x, ldx, 1, n, y, ldy, first);         \
            break;                                                           \
        }                                                                    \
    }

/* and the whole product of one or two rows of x, the same bodies */
#define INFER_CPU_QFEW(type)                                                 \
    static INFER_CPU_QT_FN void                                              \
    infer_cpu_##type##_few(const unsigned char *w, size_t row_size,          \
        size_t cb, const float *x, size_t ldx, int nr, int64_t n_in,         \
        int64_t n_out, float *y, size_t ldy)                                 \
    {                                                                        \
        int64_t               j, k0, kc;                                     \
        const unsigned char  *wr;                                            \
                                                                             \
        for (j = 0; j < n_out; j++) {                                        \
            wr = w + (size_t) j * row_size;                                  \
                                                                             \
            for (k0 = 0; k0 < n_in; k0 += INFER_CPU_QKC, wr += cb) {         \
                kc = (n_in - k0 > INFER_CPU_QKC) ? INFER_CPU_QKC             \
                                                 : n_in - k0;                \
                if (nr == 2) {                                               \
                    infer_cpu_##type##_body(wr, x + k0, ldx, 2, kc, y + j,   \
                                            ldy, k0 == 0);                   \
                } else {                                                     \
                    infer_cpu_##type##_body(wr, x + k0, ldx, 1, kc, y + j,   \
                                            ldy, k0 == 0);                   \
                }                                                            \
            }                                                                \
        }                                                                    \
    }                                                                        \
                                                                             \
    static const infer_cpu_qfns_t  infer_cpu_##type##_fns = {                \
        infer_cpu_##type##_rows, infer_cpu_##type##_few                      \
    }

INFER_CPU_QROWS(q8_0)
INFER_CPU_QROWS(q4_0)
INFER_CPU_QROWS(q4_1)
INFER_CPU_QROWS(q4_k)
INFER_CPU_QROWS(q5_k)
INFER_CPU_QROWS(q6_k)

INFER_CPU_QFEW(q8_0);
INFER_CPU_QFEW(q4_0);
INFER_CPU_QFEW(q4_1);
INFER_CPU_QFEW(q4_k);
INFER_CPU_QFEW(q5_k);
INFER_CPU_QFEW(q6_k);


static const infer_cpu_qfns_t *
infer_cpu_qrows(infer_dtype_e dt)
{
    switch (dt) {
    case INFER_DT_Q8_0:
        return &infer_cpu_q8_0_fns;
    case INFER_DT_Q4_0:
        return &infer_cpu_q4_0_fns;
    case INFER_DT_Q4_1:
        return &infer_cpu_q4_1_fns;
    case INFER_DT_Q4_K:
        return &infer_cpu_q4_k_fns;
    case INFER_DT_Q5_K:
        return &infer_cpu_q5_k_fns;
    case INFER_DT_Q6_K:
        return &infer_cpu_q6_k_fns;
    default:
        return NULL;
    }
}

#endif
