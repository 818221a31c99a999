/*
 * ngx_infer: the CPU backend's second product with quantized weights,
 * llama.cpp's way: each row of x is quantized once per batch to 8 bits,
 * in blocks of 32 as llama.cpp's Q8_0 and Q8_1 are (the scale d, and d
 * times the block's sum for the types with a min, each rounded to F16;
 * the quants x times 127 / amax, rounded to even), and each weight block
 * is multiplied with it in integers (AVX2's vpmaddubsw, 32 products in one
 * instruction), scaled in float once per block or sub-block.
 *
 * It is the faster of the two (bench/bench_quant), but not the same
 * arithmetic: quantizing the activations costs about 2^-8 of each value,
 * where infer_cpu_quant.c's F32 product is as exact as a float dot can
 * be.  The backend takes this path only where env->quant_q8 says so.  A
 * row is quantized alone and its sums run in an order fixed by the width,
 * so here too a row computes the same bits alone as in any batch.
 *
 * Signed weights (Q8_0, Q4_0 less 8, Q6_K less 32) go through the sign
 * trick: |w| as the unsigned operand, x with w's sign; no pair of
 * products overflows 16 bits (2 x 128 x 127).  Unsigned ones (Q4_1, Q4_K,
 * Q5_K) multiply as they are and their min comes from x's block sums.
 */

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "infer_cpu.h"
#include "infer_math.h"
#include "infer_quant.h"

#if (defined __x86_64__ && defined __GNUC__)
#include <immintrin.h>
#define INFER_CPU_Q8AVX2  1
#endif


#define INFER_CPU_Q8NR   8
#define INFER_CPU_Q8KC   512
#define INFER_CPU_Q8JB   16
#define INFER_CPU_Q8T    64


#if (INFER_CPU_Q8AVX2)
static void infer_cpu_q8_quantize_avx2(const float *x, int64_t n, int8_t *qs,
    float *d, float *s);
#endif


void
infer_cpu_q8_quantize_row(int avx2, const float *x, int64_t n, int8_t *qs,
    float *d, float *s)
{
    int      l, sum, q;
    float    amax, id, dd;
    int64_t  i;

#if (INFER_CPU_Q8AVX2)
    if (avx2 && infer_cpu_quant_avx2()) {
        infer_cpu_q8_quantize_avx2(x, n, qs, d, s);
        return;
    }
#else
    (void) avx2;
#endif

    /* the plain C form of what the AVX2 one computes, the same bits */
    for (i = 0; i < n; i += INFER_QK) {
        amax = 0.0f;

        for (l = 0; l < INFER_QK; l++) {
            amax = fmaxf(amax, fabsf(x[i + l]));
        }

        dd = amax / 127.0f;
        d[i / INFER_QK] = infer_f16_round(dd);
        id = (amax != 0.0f) ? 127.0f / amax : 0.0f;
        sum = 0;

        for (l = 0; l < INFER_QK; l++) {
            q = (int) nearbyintf(x[i + l] * id);
            qs[i + l] = (int8_t) q;
            sum += q;
        }

        s[i / INFER_QK] = infer_f16_round(dd * (float) sum);
    }
}


#if (INFER_CPU_Q8AVX2)

#define INFER_CPU_Q8_ATTR                                                    \
    __attribute__((always_inline, target("avx2,fma,f16c")))
#define INFER_CPU_Q8_FN  __attribute__((target("avx2,fma,f16c")))


typedef struct {
    const int8_t         *q;        /* rows x n, ld n */
    const float          *d;        /* rows x n / 32 */
    const float          *s;
    const float          *ds;       /* d and s of each block, in pairs */
    int64_t               ld;       /* values a row */
} infer_cpu_q8x_t;


typedef void (*infer_cpu_q8rows_pt)(const unsigned char *w,
    const infer_cpu_q8x_t *x, int64_t r, int64_t k0, int nr, int64_t n,
    float *y, size_t ldy, int first);

/* the whole product for nr of 1 or 2, chunk by chunk of each weight row,
 * cb the bytes of a chunk */
typedef void (*infer_cpu_q8few_pt)(const unsigned char *w, size_t row_size,
    size_t cb, const infer_cpu_q8x_t *x, int nr, int64_t n_in,
    int64_t n_out, float *y, size_t ldy);

typedef struct {
    infer_cpu_q8rows_pt   rows;
    infer_cpu_q8few_pt    few;
} infer_cpu_q8fns_t;


static INFER_CPU_Q8_FN void
infer_cpu_q8_quantize_avx2(const float *x, int64_t n, int8_t *qs, float *d,
    float *s)
{
    int      l;
    float    amax, id, dd;
    int64_t  i;
    __m256   v[4], m, sign;
    __m128   h;
    __m256i  q[4], p, sum;

    sign = _mm256_set1_ps(-0.0f);

    for (i = 0; i < n; i += INFER_QK) {
        m = _mm256_setzero_ps();

        for (l = 0; l < 4; l++) {
            v[l] = _mm256_loadu_ps(x + i + 8 * l);
            m = _mm256_max_ps(m, _mm256_andnot_ps(sign, v[l]));
        }

        h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        h = _mm_max_ps(h, _mm_movehl_ps(h, h));
        h = _mm_max_ss(h, _mm_movehdup_ps(h));
        amax = _mm_cvtss_f32(h);

        dd = amax / 127.0f;
        d[i / INFER_QK] = _cvtsh_ss(_cvtss_sh(dd, 0));
        id = (amax != 0.0f) ? 127.0f / amax : 0.0f;

        for (l = 0; l < 4; l++) {
            q[l] = _mm256_cvtps_epi32(_mm256_round_ps(
                       _mm256_mul_ps(v[l], _mm256_set1_ps(id)),
                       _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        }

        sum = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]),
                               _mm256_add_epi32(q[2], q[3]));
        sum = _mm256_hadd_epi32(sum, sum);
        sum = _mm256_hadd_epi32(sum, sum);
        s[i / INFER_QK] = _cvtsh_ss(_cvtss_sh(dd * (float)
                              (_mm256_extract_epi32(sum, 0)
                               + _mm256_extract_epi32(sum, 4)), 0));

        /* 4 x 8 int32 to 32 int8, in order */
        p = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]),
                               _mm256_packs_epi32(q[2], q[3]));
        p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2,
                                                             6, 3, 7));
        _mm256_storeu_si256((__m256i *) (qs + i), p);
    }
}


static inline INFER_CPU_Q8_ATTR float
infer_cpu_q8hsum(__m256 v)
{
    __m128  s;

    s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));

    return _mm_cvtss_f32(s);
}


/* 32 products of unsigned w and signed x, summed to 8 int32, as floats */
static inline INFER_CPU_Q8_ATTR __m256
infer_cpu_q8dot_u(__m256i w, __m256i x)
{
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_maddubs_epi16(w, x),
                                                _mm256_set1_epi16(1)));
}


/* the same for signed w: |w| times x with w's sign */
static inline INFER_CPU_Q8_ATTR __m256
infer_cpu_q8dot_s(__m256i w, __m256i x)
{
    return infer_cpu_q8dot_u(_mm256_abs_epi8(w), _mm256_sign_epi8(x, w));
}


static inline INFER_CPU_Q8_ATTR void
infer_cpu_q8store(const __m256 *acc, const __m256 *accm, int nr, float *y,
    size_t ldy, int first)
{
    int    r;
    float  v;

#pragma GCC unroll 8
    for (r = 0; r < nr; r++) {
        v = infer_cpu_q8hsum(acc[r]) - infer_cpu_q8hsum(accm[r]);

        if (first) {
            y[(size_t) r * ldy] = v;
        } else {
            y[(size_t) r * ldy] += v;
        }
    }
}


#define INFER_CPU_Q8_ROWS_DECL                                               \
    int                   r;                                                 \
    int64_t               i;                                                 \
    __m256                acc[INFER_CPU_Q8NR], accm[INFER_CPU_Q8NR];         \
    const int8_t         *xq[INFER_CPU_Q8NR];                                \
    const float          *xd[INFER_CPU_Q8NR], *xs[INFER_CPU_Q8NR]

#define INFER_CPU_Q8_ROWS_INIT                                               \
    _Pragma("GCC unroll 8")                                                  \
    for (r = 0; r < nr; r++) {                                               \
        acc[r] = _mm256_setzero_ps();                                        \
        accm[r] = _mm256_setzero_ps();                                       \
        xq[r] = x->q + (r0 + r) * x->ld + k0;                                \
        xd[r] = x->d + ((r0 + r) * x->ld + k0) / INFER_QK;                   \
        xs[r] = x->s + ((r0 + r) * x->ld + k0) / INFER_QK;                   \
    }                                                                        \
    (void) xs


/* bytes of 16 nibbles: the low ones, then the high ones, as 32 values */
static inline INFER_CPU_Q8_ATTR __m256i
infer_cpu_q8nibbles(const uint8_t *p)
{
    __m128i  q, m;

    q = _mm_loadu_si128((const __m128i *) p);
    m = _mm_set1_epi8(0xf);

    return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(q, 4), m),
                            _mm_and_si128(q, m));
}


/*
 * Q8_0, Q4_0, Q4_1: blocks in pairs, each summed in integers and scaled
 * apart, the pair then added to acc (one add a chain for 64 values); an
 * odd last block of the chunk alone.  The pair's scales come in one
 * vector: [d, m] of both blocks, converted from F16 at once, times x's
 * [d, s] of both (x->ds), which gives both blocks' d d_x and Q4_1's
 * m s_x, the min's term; those add up in the odd lanes of am, added to
 * the sum at the end.
 */

/* block b's 32 weights as bytes: signed (Q8_0, Q4_0) or not (Q4_1) */
static inline INFER_CPU_Q8_ATTR __m256i
infer_cpu_q8_unpack0(infer_dtype_e dt, const unsigned char *b)
{
    switch (dt) {
    case INFER_DT_Q8_0:
        return _mm256_loadu_si256((const __m256i *)
                                  ((const infer_block_q8_0_t *) b)->qs);
    case INFER_DT_Q4_0:
        return _mm256_sub_epi8(infer_cpu_q8nibbles(
                                   ((const infer_block_q4_0_t *) b)->qs),
                               _mm256_set1_epi8(8));
    default:
        return infer_cpu_q8nibbles(((const infer_block_q4_1_t *) b)->qs);
    }
}


/* block b's F16 d and m (0 but for Q4_1), in the low 32 bits */
static inline INFER_CPU_Q8_ATTR __m128i
infer_cpu_q8_dm(infer_dtype_e dt, const unsigned char *b)
{
    uint16_t  h[2];

    memcpy(h, b, (dt == INFER_DT_Q4_1) ? 4 : 2);

    if (dt != INFER_DT_Q4_1) {
        h[1] = 0;
    }

    return _mm_cvtsi32_si128((int) (h[0] | ((uint32_t) h[1] << 16)));
}


static inline INFER_CPU_Q8_ATTR void
infer_cpu_q8_blocks0(infer_dtype_e dt, const unsigned char *w,
    const infer_cpu_q8x_t *x, int64_t r0, int64_t k0, int nr, int64_t n,
    float *y, size_t ldy, int first)
{
    int                   r;
    float                 v;
    size_t                bs;
    int64_t               i, ib;
    __m128                dm, sc, mh, am[INFER_CPU_Q8NR];
    __m256                t, pa, pb, acc[INFER_CPU_Q8NR];
    __m256i               wa, wb, xa, xb;
    const float          *xds[INFER_CPU_Q8NR];
    const int8_t         *xq[INFER_CPU_Q8NR];
    const unsigned char  *b;

#pragma GCC unroll 8
    for (r = 0; r < nr; r++) {
        acc[r] = _mm256_setzero_ps();
        am[r] = _mm_setzero_ps();
        xq[r] = x->q + (r0 + r) * x->ld + k0;
        xds[r] = x->ds + 2 * (((r0 + r) * x->ld + k0) / INFER_QK);
    }

    bs = infer_dtype_block_size(dt);

    for (i = 0, b = w; i < n; i += 2 * INFER_QK, b += 2 * bs) {
        ib = i / INFER_QK;
        wa = infer_cpu_q8_unpack0(dt, b);

        if (i + INFER_QK == n) {
            dm = _mm_cvtph_ps(infer_cpu_q8_dm(dt, b));

#pragma GCC unroll 8
            for (r = 0; r < nr; r++) {
                xa = _mm256_loadu_si256((const __m256i *) (xq[r] + i));
                pa = (dt == INFER_DT_Q4_1) ? infer_cpu_q8dot_u(wa, xa)
                                           : infer_cpu_q8dot_s(wa, xa);
                sc = _mm_mul_ps(dm, _mm_castpd_ps(_mm_load_sd(
                                        (const double *) (xds[r] + 2 * ib))));
                am[r] = _mm_add_ps(am[r], sc);
                acc[r] = _mm256_fmadd_ps(pa, _mm256_broadcastss_ps(sc),
                                         acc[r]);
            }

            break;
        }

        wb = infer_cpu_q8_unpack0(dt, b + bs);
        dm = _mm_cvtph_ps(_mm_unpacklo_epi32(infer_cpu_q8_dm(dt, b),
                                             infer_cpu_q8_dm(dt, b + bs)));

#pragma GCC unroll 8
        for (r = 0; r < nr; r++) {
            xa = _mm256_loadu_si256((const __m256i *) (xq[r] + i));
            xb = _mm256_loadu_si256((const __m256i *) (xq[r] + i + INFER_QK));

            if (dt == INFER_DT_Q4_1) {
                pa = infer_cpu_q8dot_u(wa, xa);
                pb = infer_cpu_q8dot_u(wb, xb);
            } else {
                pa = infer_cpu_q8dot_s(wa, xa);
                pb = infer_cpu_q8dot_s(wb, xb);
            }

            /* [da dxa, ma sxa, db dxb, mb sxb] */
            sc = _mm_mul_ps(dm, _mm_loadu_ps(xds[r] + 2 * ib));
            am[r] = _mm_add_ps(am[r], sc);

            t = _mm256_mul_ps(pa, _mm256_broadcastss_ps(sc));
            t = _mm256_fmadd_ps(pb, _mm256_broadcastss_ps(
                                        _mm_movehl_ps(sc, sc)), t);
            acc[r] = _mm256_add_ps(acc[r], t);
        }
    }

#pragma GCC unroll 8
    for (r = 0; r < nr; r++) {
        v = infer_cpu_q8hsum(acc[r]);

        if (dt == INFER_DT_Q4_1) {
            mh = _mm_movehdup_ps(am[r]);
            v += _mm_cvtss_f32(_mm_add_ss(mh, _mm_movehl_ps(mh, mh)));
        }

        if (first) {
            y[(size_t) r * ldy] = v;
        } else {
            y[(size_t) r * ldy] += v;
        }
    }
}


static inline INFER_CPU_Q8_ATTR void
infer_cpu_q8_q8_0_body(const unsigned char *w, const infer_cpu_q8x_t *x,
    int64_t r0, int64_t k0, int nr, int64_t n, float *y, size_t ldy,
    int first)
{
    infer_cpu_q8_blocks0(INFER_DT_Q8_0, w, x, r0, k0, nr, n, y, ldy, first);
}


static inline INFER_CPU_Q8_ATTR void
infer_cpu_q8_q4_0_body(const unsigned char *w, const infer_cpu_q8x_t *x,
    int64_t r0, int64_t k0, int nr, int64_t n, float *y, size_t ldy,
    int first)
{
    infer_cpu_q8_blocks0(INFER_DT_Q4_0, w, x, r0, k0, nr, n, y, ldy, first);
}


static inline INFER_CPU_Q8_ATTR void
infer_cpu_q8_q4_1_body(const unsigned char *w, const infer_cpu_q8x_t *x,
    int64_t r0, int64_t k0, int nr, int64_t n, float *y, size_t ldy,
    int first)
{
    infer_cpu_q8_blocks0(INFER_DT_Q4_1, w, x, r0, k0, nr, n, y, ldy, first);
}


/* Q4_K and Q5_K: 8 sub-blocks of 32, d sc[s] q - dmin mn[s] */
static inline INFER_CPU_Q8_ATTR void
infer_cpu_q8_k45_body(const unsigned char *w, const infer_cpu_q8x_t *x,
    int64_t r0, int64_t k0, int nr, int64_t n, float *y, size_t ldy,
    int first, int five)
{
    int                   c;
    float                 d, dmin;
    uint32_t              u[4];
    __m256i               q, lo, hi, h, m4, one;
    __m256                dsc8, mns8, sc8, t;
    const uint8_t        *scales, *qs, *qh;
    const unsigned char  *b;
    INFER_CPU_Q8_ROWS_DECL;

    INFER_CPU_Q8_ROWS_INIT;
    m4 = _mm256_set1_epi8(0xf);
    one = _mm256_set1_epi8(1);
    h = _mm256_setzero_si256();

    for (i = 0, b = w; i < n; i += INFER_QK_K) {
        if (five) {
            const infer_block_q5_k_t  *b5 = (const infer_block_q5_k_t *) b;

            d = _cvtsh_ss(b5->d);
            dmin = _cvtsh_ss(b5->dmin);
            scales = b5->scales;
            qs = b5->qs;
            qh = b5->qh;
            h = _mm256_loadu_si256((const __m256i *) qh);
            b += sizeof(infer_block_q5_k_t);

        } else {
            const infer_block_q4_k_t  *b4 = (const infer_block_q4_k_t *) b;

            d = _cvtsh_ss(b4->d);
            dmin = _cvtsh_ss(b4->dmin);
            scales = b4->scales;
            qs = b4->qs;
            b += sizeof(infer_block_q4_k_t);
        }

        infer_quant_k_scales(scales, u);
        dsc8 = _mm256_mul_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(
                   _mm256_cvtepu8_epi32(_mm_set_epi32(0, 0, (int) u[1],
                                                      (int) u[0]))));
        mns8 = _mm256_mul_ps(_mm256_set1_ps(dmin), _mm256_cvtepi32_ps(
                   _mm256_cvtepu8_epi32(_mm_set_epi32(0, 0, (int) u[3],
                                                      (int) u[2]))));

#pragma GCC unroll 8
        for (r = 0; r < nr; r++) {
            accm[r] = _mm256_fmadd_ps(mns8, _mm256_loadu_ps(xs[r]
                                                            + i / INFER_QK),
                                      accm[r]);
        }

#pragma GCC unroll 4
        for (c = 0; c < 4; c++) {
            q = _mm256_loadu_si256((const __m256i *) (qs + 32 * c));
            lo = _mm256_and_si256(q, m4);
            hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);

            if (five) {
                lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(
                         _mm256_srl_epi16(h, _mm_cvtsi32_si128(2 * c)), one),
                         4));
                hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(
                         _mm256_srl_epi16(h, _mm_cvtsi32_si128(2 * c + 1)),
                         one), 4));
            }

            /* the two sub-blocks summed apart, then added: one add a
             * chain for 64 values */
#pragma GCC unroll 8
            for (r = 0; r < nr; r++) {
                sc8 = _mm256_mul_ps(dsc8, _mm256_loadu_ps(xd[r]
                                                          + i / INFER_QK));
                t = _mm256_mul_ps(infer_cpu_q8dot_u(lo,
                        _mm256_loadu_si256((const __m256i *)
                                           (xq[r] + i + 64 * c))),
                        _mm256_permutevar8x32_ps(sc8,
                            _mm256_set1_epi32(2 * c)));
                t = _mm256_fmadd_ps(infer_cpu_q8dot_u(hi,
                        _mm256_loadu_si256((const __m256i *)
                                           (xq[r] + i + 64 * c + 32))),
                        _mm256_permutevar8x32_ps(sc8,
                            _mm256_set1_epi32(2 * c + 1)), t);
                acc[r] = _mm256_add_ps(acc[r], t);
            }
        }
    }

    infer_cpu_q8store(acc, accm, nr, y, ldy, first);
}


static inline INFER_CPU_Q8_ATTR void
infer_cpu_q8_q4_k_body(const unsigned char *w, const infer_cpu_q8x_t *x,
    int64_t r0, int64_t k0, int nr, int64_t n, float *y, size_t ldy,
    int first)
{
    infer_cpu_q8_k45_body(w, x, r0, k0, nr, n, y, ldy, first, 0);
}


static inline INFER_CPU_Q8_ATTR void
infer_cpu_q8_q5_k_body(const unsigned char *w, const infer_cpu_q8x_t *x,
    int64_t r0, int64_t k0, int nr, int64_t n, float *y, size_t ldy,
    int first)
{
    infer_cpu_q8_k45_body(w, x, r0, k0, nr, n, y, ldy, first, 1);
}


/*
 * Q6_K: group g (0..3) of a half's 128 values is 32 values, two
 * sub-blocks of 16 whose int8 scales multiply the pair sums in integers
 * (vpmaddwd), then d and x's d in float.
 */
static inline INFER_CPU_Q8_ATTR void
infer_cpu_q8_q6_k_body(const unsigned char *w, const infer_cpu_q8x_t *x,
    int64_t r0, int64_t k0, int nr, int64_t n, float *y, size_t ldy,
    int first)
{
    int                        s, g;
    float                      d;
    __m256i                    ql0, ql1, qh, wv[4], sc16, wa, xv, m4, m3, o;
    __m256                     p, dx, tp[INFER_CPU_Q8NR];
    const uint8_t             *ql, *qhp;
    const infer_block_q6_k_t  *b;
    INFER_CPU_Q8_ROWS_DECL;

    INFER_CPU_Q8_ROWS_INIT;
    b = (const infer_block_q6_k_t *) w;
    m4 = _mm256_set1_epi8(0xf);
    m3 = _mm256_set1_epi8(3);
    o = _mm256_set1_epi8(32);

    for (i = 0; i < n; i += INFER_QK_K, b++) {
        d = _cvtsh_ss(b->d);

#pragma GCC unroll 2
        for (s = 0; s < 2; s++) {
            ql = b->ql + 64 * s;
            qhp = b->qh + 32 * s;
            ql0 = _mm256_loadu_si256((const __m256i *) ql);
            ql1 = _mm256_loadu_si256((const __m256i *) (ql + 32));
            qh = _mm256_loadu_si256((const __m256i *) qhp);

            wv[0] = _mm256_or_si256(_mm256_and_si256(ql0, m4),
                        _mm256_slli_epi16(_mm256_and_si256(qh, m3), 4));
            wv[1] = _mm256_or_si256(_mm256_and_si256(ql1, m4),
                        _mm256_slli_epi16(_mm256_and_si256(
                            _mm256_srli_epi16(qh, 2), m3), 4));
            wv[2] = _mm256_or_si256(_mm256_and_si256(
                        _mm256_srli_epi16(ql0, 4), m4),
                        _mm256_slli_epi16(_mm256_and_si256(
                            _mm256_srli_epi16(qh, 4), m3), 4));
            wv[3] = _mm256_or_si256(_mm256_and_si256(
                        _mm256_srli_epi16(ql1, 4), m4),
                        _mm256_slli_epi16(_mm256_and_si256(
                            _mm256_srli_epi16(qh, 6), m3), 4));

            /* groups in pairs, summed apart, then added to acc */
#pragma GCC unroll 4
            for (g = 0; g < 4; g++) {
                wv[g] = _mm256_sub_epi8(wv[g], o);
                wa = _mm256_abs_epi8(wv[g]);
                sc16 = _mm256_set_m128i(
                           _mm_set1_epi16(b->scales[8 * s + 2 * g + 1]),
                           _mm_set1_epi16(b->scales[8 * s + 2 * g]));

#pragma GCC unroll 8
                for (r = 0; r < nr; r++) {
                    xv = _mm256_loadu_si256((const __m256i *)
                                            (xq[r] + i + 128 * s + 32 * g));
                    p = _mm256_cvtepi32_ps(_mm256_madd_epi16(
                            _mm256_maddubs_epi16(wa,
                                _mm256_sign_epi8(xv, wv[g])), sc16));
                    dx = _mm256_set1_ps(d * xd[r][(i + 128 * s + 32 * g)
                                                  / INFER_QK]);

                    if (g & 1) {
                        acc[r] = _mm256_add_ps(acc[r],
                                     _mm256_fmadd_ps(p, dx, tp[r]));
                    } else {
                        tp[r] = _mm256_mul_ps(p, dx);
                    }
                }
            }
        }
    }

    infer_cpu_q8store(acc, accm, nr, y, ldy, first);
}


#define INFER_CPU_Q8ROWS(type)                                               \
    static INFER_CPU_Q8_FN void                                              \
    infer_cpu_q8_##type##_rows(const unsigned char *w,                       \
        const infer_cpu_q8x_t *x, int64_t r0, int64_t k0, int nr,            \
        int64_t n, float *y, size_t ldy, int first)                          \
    {                                                                        \
        switch (nr) {                                                        \
        case 8:                                                              \
            infer_cpu_q8_##type##_body(w, x, r0, k0, 8, n, y, ldy, first);   \
            break;                                                           \
        case 7:                                                              \
            infer_cpu_q8_##type##_body(w, x, r0, k0, 7, n, y, ldy, first);   \
            break;                                                           \
        case 6:                                                              \
            infer_cpu_q8_##type##_body(w, x, r0, k0, 6, n, y, ldy, first);   \
            break;                                                           \
        case 5:                                                              \
            infer_cpu_q8_##type##_body(w, x, r0, k0, 5, n, y, ldy, first);   \
            break;                                                           \
        case 4:                                                              \
            infer_cpu_q8_##type##_body(w, x, r0, k0, 4, n, y, ldy, first);   \
            break;                                                           \
        case 3:                                                              \
            infer_cpu_q8_##type##_body(w, x, r0, k0, 3, n, y, ldy, first);   \
            break;                                                           \
        case 2:                                                              \
            infer_cpu_q8_##type##_body(w, x, r0, k0, 2, n, y, ldy, first);   \
            break;                                                           \
        default:                                                             \
            infer_cpu_q8_##type##_body(w, x, r0, k0, 1, n, y, ldy, first);   \
            break;                                                           \
        }                                                                    \
    }

/* and the whole product of one or two rows of x, the same bodies inlined
 * (a call a chunk cost as much as a short chunk's arithmetic) */
#define INFER_CPU_Q8FEW(type)                                                \
    static INFER_CPU_Q8_FN void                                              \
    infer_cpu_q8_##type##_few(const unsigned char *w, size_t row_size,       \
        size_t cb, const infer_cpu_q8x_t *x, int nr, int64_t n_in,           \
        int64_t n_out, float *y, size_t ldy)                                 \
    {                                                                        \
        int64_t               j, k0, kc;                                     \
        const unsigned char  *wr;                                            \
                                                                             \
        for (j = 0; j < n_out; j++) {                                        \
            wr = w + (size_t) j * row_size;                                  \
                                                                             \
            for (k0 = 0; k0 < n_in; k0 += INFER_CPU_Q8KC, wr += cb) {        \
                kc = (n_in - k0 > INFER_CPU_Q8KC) ? INFER_CPU_Q8KC           \
                                                  : n_in - k0;               \
                if (nr == 2) {                                               \
                    infer_cpu_q8_##type##_body(wr, x, 0, k0, 2, kc, y + j,   \
                                               ldy, k0 == 0);                \
                } else {                                                     \
                    infer_cpu_q8_##type##_body(wr, x, 0, k0, 1, kc, y + j,   \
                                               ldy, k0 == 0);                \
                }                                                            \
            }                                                                \
        }                                                                    \
    }                                                                        \
                                                                             \
    static const infer_cpu_q8fns_t  infer_cpu_q8_##type##_fns = {            \
        infer_cpu_q8_##type##_rows, infer_cpu_q8_##type##_few                \
    }

INFER_CPU_Q8ROWS(q8_0)
INFER_CPU_Q8ROWS(q4_0)
INFER_CPU_Q8ROWS(q4_1)
INFER_CPU_Q8ROWS(q4_k)
INFER_CPU_Q8ROWS(q5_k)
INFER_CPU_Q8ROWS(q6_k)

INFER_CPU_Q8FEW(q8_0);
INFER_CPU_Q8FEW(q4_0);
INFER_CPU_Q8FEW(q4_1);
INFER_CPU_Q8FEW(q4_k);
INFER_CPU_Q8FEW(q5_k);
INFER_CPU_Q8FEW(q6_k);


static const infer_cpu_q8fns_t *
infer_cpu_q8rows(infer_dtype_e dt)
{
    switch (dt) {
    case INFER_DT_Q8_0:
        return &infer_cpu_q8_q8_0_fns;
    case INFER_DT_Q4_0:
        return &infer_cpu_q8_q4_0_fns;
    case INFER_DT_Q4_1:
        return &infer_cpu_q8_q4_1_fns;
    case INFER_DT_Q4_K:
        return &infer_cpu_q8_q4_k_fns;
    case INFER_DT_Q5_K:
        return &infer_cpu_q8_q5_k_fns;
    case INFER_DT_Q6_K:
        return &infer_cpu_q8_q6_k_fns;
    default:
        return NULL;
    }
}

#endif


int
infer_cpu_quant_q8_matmul(infer_cpu_env_t *env, infer_dtype_e dt,
    const float *x, size_t ldx, int rows, const void *w, int64_t n_in,
    int64_t n_out, float *y, size_t ldy)
{
#if (INFER_CPU_Q8AVX2)
    int                   r0, r1, r, nr;
    float                *work;
    size_t                row_size, at, next, end, pf, l, nb;
    int64_t               j0, j1, j, k0, kc, i;
    infer_cpu_q8x_t           xq;
    infer_cpu_q8rows_pt       fn;
    const unsigned char      *wb;
    const infer_cpu_q8fns_t  *fns;

    fns = infer_cpu_q8rows(dt);

    if (!env->avx2 || !infer_cpu_quant_avx2() || fns == NULL || rows < 1) {
        return -1;
    }

    /* x as 8 bits: n_in bytes, and two floats a block, per row */
    nb = (size_t) (n_in / INFER_QK);
    work = infer_cpu_work(env, (size_t) rows * (4 * nb + (size_t) n_in / 4));
    if (work == NULL) {
        return -1;
    }

    xq.d = work;
    xq.s = work + (size_t) rows * nb;
    xq.ds = work + 2 * (size_t) rows * nb;
    xq.q = (const int8_t *) (work + 4 * (size_t) rows * nb);
    xq.ld = n_in;

    for (i = 0; i < rows; i++) {
        infer_cpu_q8_quantize_avx2(x + (size_t) i * ldx, n_in,
                                   (int8_t *) xq.q + i * n_in,
                                   (float *) xq.d + i * (int64_t) nb,
                                   (float *) xq.s + i * (int64_t) nb);
    }

    for (l = 0; l < (size_t) rows * nb; l++) {
        ((float *) xq.ds)[2 * l] = xq.d[l];
        ((float *) xq.ds)[2 * l + 1] = xq.s[l];
    }

    row_size = infer_dtype_row_size(dt, n_in);
    wb = w;

    if (rows <= 2) {
        fns->few(wb, row_size, infer_dtype_row_size(dt, INFER_CPU_Q8KC), &xq,
                 rows, n_in, n_out, y, ldy);
        return 0;
    }

    fn = fns->rows;

    /* as infer_cpu_quant.c's tiles: the weights once a tile */
    end = (size_t) n_out * row_size;

    for (r0 = 0; r0 < rows; r0 = r1) {
        r1 = (rows - r0 > INFER_CPU_Q8T) ? r0 + INFER_CPU_Q8T : rows;

        for (j0 = 0; j0 < n_out; j0 = j1) {
            j1 = (n_out - j0 > INFER_CPU_Q8JB) ? j0 + INFER_CPU_Q8JB : n_out;

            for (k0 = 0; k0 < n_in; k0 += INFER_CPU_Q8KC) {
                kc = (n_in - k0 > INFER_CPU_Q8KC) ? INFER_CPU_Q8KC
                                                  : n_in - k0;
                at = infer_dtype_row_size(dt, k0);
                next = (k0 + INFER_CPU_Q8KC < n_in)
                       ? at + infer_dtype_row_size(dt, INFER_CPU_Q8KC)
                       : (size_t) INFER_CPU_Q8JB * row_size;

                for (j = j0; j < j1; j++) {
                    pf = (size_t) j * row_size + next;

                    for (l = 0; l < infer_dtype_row_size(dt, kc)
                                    && pf + l < end; l += 64)
                    {
                        _mm_prefetch((const char *) wb + pf + l,
                                     _MM_HINT_T0);
                    }
                }

                for (r = r0; r < r1; r += nr) {
                    nr = (r1 - r > INFER_CPU_Q8NR) ? INFER_CPU_Q8NR : r1 - r;

                    for (j = j0; j < j1; j++) {
                        fn(wb + (size_t) j * row_size + at, &xq, r, k0, nr,
                           kc, y + (size_t) r * ldy + j, ldy, k0 == 0);
                    }
                }
            }
        }
    }

    return 0;
#else
    (void) env;
    (void) dt;
    (void) x;
    (void) ldx;
    (void) rows;
    (void) w;
    (void) n_in;
    (void) n_out;
    (void) y;
    (void) ldy;

    return -1;
#endif
}
