/*
 * ngx_infer: the F32 product with quantized weights in AVX-512, the same
 * bits as infer_cpu_quant.c's AVX2 one, twice the values an instruction.
 *
 * Each 16-lane register holds two outputs' 8-lane accumulators: lanes
 * 0..7 are weight row a's, lanes 8..15 weight row b's, against the same 8
 * values of x (broadcast to both halves).  A lane sees the same weights,
 * in the same order, through the same operations (the weight d q + m,
 * or d sc q - dmin mn, in one FMA, then fma(w, x, acc)) as the AVX2
 * path's, and at a chunk's end the halves go to the same lane-summing
 * tree (infer_cpu_qput()), so an output's bits do not depend on which of
 * the two paths computed it, nor on the batch (kernels/test/test_quant.c
 * checks both).
 *
 * The unpacking of a pair: 8 quants of each row side by side in one
 * 16-byte load's worth, widened to 16 int32 lanes at once; the scales a
 * pair of broadcasts.  A batch of more than two rows unpacks INFER_CPU_QJB
 * weight rows, as pairs interleaved 8 values by 8, into a buffer in L1,
 * and a register tile of INFER_CPU_Q5P pairs by INFER_CPU_Q5R rows of x
 * runs over it; one or two rows FMA the pairs straight from registers.
 */

#include "infer_cpu.h"
#include "infer_quant.h"

#if (defined __x86_64__ && defined __GNUC__)
#include "infer_cpu_quant_impl.h"


#define INFER_CPU_Q5P    3       /* pairs of the register tile: the
                                    INFER_CPU_QJB rows unpacked at once */
#define INFER_CPU_Q5R    INFER_CPU_QMR   /* rows of x of the register tile */
#define INFER_CPU_Q5FP   4       /* pairs at once for 1 or 2 rows of x (up
                                    to 4: infer_cpu_q5put()) */

#define INFER_CPU_Q5_ISA  "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c"
#define INFER_CPU_Q5_ATTR                                                    \
    __attribute__((always_inline, target(INFER_CPU_Q5_ISA)))
#define INFER_CPU_Q5_FN  __attribute__((target(INFER_CPU_Q5_ISA)))


/* two rows' values, a in the low half, b in the high one */
typedef struct {
    const unsigned char  *a;
    const unsigned char  *b;
} infer_cpu_q5row_t;


/* 8 bytes at a and 8 at b as 16 int32 lanes, zero- or sign-extended */
static inline INFER_CPU_Q5_ATTR __m128i
infer_cpu_q5b(const void *a, const void *b)
{
    return _mm_unpacklo_epi64(_mm_loadl_epi64((const __m128i *) a),
                              _mm_loadl_epi64((const __m128i *) b));
}

#define infer_cpu_q5u8(a, b)  _mm512_cvtepu8_epi32(infer_cpu_q5b(a, b))
#define infer_cpu_q5i8(a, b)  _mm512_cvtepi8_epi32(infer_cpu_q5b(a, b))
#define infer_cpu_q5f(v)      _mm512_cvtepi32_ps(v)


/* fa in lanes 0..7, fb in 8..15 */
static inline INFER_CPU_Q5_ATTR __m512
infer_cpu_q5pair(float fa, float fb)
{
    return _mm512_insertf32x8(_mm512_set1_ps(fa), _mm256_set1_ps(fb), 1);
}


/* an F16 at a and one at b, as infer_cpu_q5pair() of their values */
static inline INFER_CPU_Q5_ATTR __m512
infer_cpu_q5h(const uint16_t *a, const uint16_t *b)
{
    return _mm512_cvtph_ps(_mm256_set_m128i(_mm_set1_epi16((short) *b),
                                            _mm_set1_epi16((short) *a)));
}


/*
 * Each type's unpacking of group g (values 32 g ..) of the pair, as the
 * AVX2 path's infer_cpu_<type>_group() does it for one row: wv[0..3], or
 * wv[0..7] for the two groups of the K types with 4 or 5 bits
 */

static inline INFER_CPU_Q5_ATTR void
infer_cpu_q5_q8_0_group(infer_cpu_q5row_t p, int64_t g,
    const infer_cpu_qks_t *ks, __m512 *wv)
{
    int                        v;
    __m512                     d;
    const infer_block_q8_0_t  *a, *b;

    (void) ks;
    a = (const infer_block_q8_0_t *) p.a + g;
    b = (const infer_block_q8_0_t *) p.b + g;
    d = infer_cpu_q5h(&a->d, &b->d);

#pragma GCC unroll 4
    for (v = 0; v < 4; v++) {
        wv[v] = _mm512_mul_ps(infer_cpu_q5f(infer_cpu_q5i8(a->qs + 8 * v,
                                                           b->qs + 8 * v)),
                              d);
    }
}


static inline INFER_CPU_Q5_ATTR void
infer_cpu_q5_q4_0_group(infer_cpu_q5row_t p, int64_t g,
    const infer_cpu_qks_t *ks, __m512 *wv)
{
    __m512i                    q0, q1, m4, m8;
    __m512                     d;
    const infer_block_q4_0_t  *a, *b;

    (void) ks;
    a = (const infer_block_q4_0_t *) p.a + g;
    b = (const infer_block_q4_0_t *) p.b + g;
    d = infer_cpu_q5h(&a->d, &b->d);
    m4 = _mm512_set1_epi32(0xf);
    m8 = _mm512_set1_epi32(8);

    q0 = infer_cpu_q5u8(a->qs, b->qs);
    q1 = infer_cpu_q5u8(a->qs + 8, b->qs + 8);
    wv[0] = _mm512_mul_ps(infer_cpu_q5f(_mm512_sub_epi32(
                              _mm512_and_si512(q0, m4), m8)), d);
    wv[1] = _mm512_mul_ps(infer_cpu_q5f(_mm512_sub_epi32(
                              _mm512_and_si512(q1, m4), m8)), d);
    wv[2] = _mm512_mul_ps(infer_cpu_q5f(_mm512_sub_epi32(
                              _mm512_srli_epi32(q0, 4), m8)), d);
    wv[3] = _mm512_mul_ps(infer_cpu_q5f(_mm512_sub_epi32(
                              _mm512_srli_epi32(q1, 4), m8)), d);
}


static inline INFER_CPU_Q5_ATTR void
infer_cpu_q5_q4_1_group(infer_cpu_q5row_t p, int64_t g,
    const infer_cpu_qks_t *ks, __m512 *wv)
{
    __m512i                    q0, q1, m4;
    __m512                     d, m;
    const infer_block_q4_1_t  *a, *b;

    (void) ks;
    a = (const infer_block_q4_1_t *) p.a + g;
    b = (const infer_block_q4_1_t *) p.b + g;
    d = infer_cpu_q5h(&a->d, &b->d);
    m = infer_cpu_q5h(&a->m, &b->m);
    m4 = _mm512_set1_epi32(0xf);

    q0 = infer_cpu_q5u8(a->qs, b->qs);
    q1 = infer_cpu_q5u8(a->qs + 8, b->qs + 8);
    wv[0] = _mm512_fmadd_ps(infer_cpu_q5f(_mm512_and_si512(q0, m4)), d, m);
    wv[1] = _mm512_fmadd_ps(infer_cpu_q5f(_mm512_and_si512(q1, m4)), d, m);
    wv[2] = _mm512_fmadd_ps(infer_cpu_q5f(_mm512_srli_epi32(q0, 4)), d, m);
    wv[3] = _mm512_fmadd_ps(infer_cpu_q5f(_mm512_srli_epi32(q1, 4)), d, m);
}


/* Q4_K and Q5_K: sub-blocks 2c and 2c + 1 of both rows' blocks, their
 * scales in ks[0] (a) and ks[1] (b) */
static inline INFER_CPU_Q5_ATTR void
infer_cpu_q5_k45_pair(infer_cpu_q5row_t p, int c, const infer_cpu_qks_t *ks,
    __m512 *wv, int five)
{
    int             v;
    __m512i         q, lo, hi, h, m4, one, two;
    __m512          d1, m1, d2, m2;
    const uint8_t  *qa, *qb, *ha, *hb;

    if (five) {
        qa = ((const infer_block_q5_k_t *) p.a)->qs;
        qb = ((const infer_block_q5_k_t *) p.b)->qs;
        ha = ((const infer_block_q5_k_t *) p.a)->qh;
        hb = ((const infer_block_q5_k_t *) p.b)->qh;
    } else {
        qa = ((const infer_block_q4_k_t *) p.a)->qs;
        qb = ((const infer_block_q4_k_t *) p.b)->qs;
        ha = NULL;
        hb = NULL;
    }

    d1 = infer_cpu_q5pair(ks[0].d[2 * c], ks[1].d[2 * c]);
    m1 = infer_cpu_q5pair(ks[0].m[2 * c], ks[1].m[2 * c]);
    d2 = infer_cpu_q5pair(ks[0].d[2 * c + 1], ks[1].d[2 * c + 1]);
    m2 = infer_cpu_q5pair(ks[0].m[2 * c + 1], ks[1].m[2 * c + 1]);
    m4 = _mm512_set1_epi32(0xf);
    one = _mm512_set1_epi32(1);
    two = _mm512_set1_epi32(2);

#pragma GCC unroll 4
    for (v = 0; v < 4; v++) {
        q = infer_cpu_q5u8(qa + 32 * c + 8 * v, qb + 32 * c + 8 * v);
        lo = _mm512_and_si512(q, m4);
        hi = _mm512_srli_epi32(q, 4);

        if (five) {
            h = _mm512_srl_epi32(infer_cpu_q5u8(ha + 8 * v, hb + 8 * v),
                                 _mm_cvtsi32_si128(2 * c));
            lo = _mm512_or_si512(lo, _mm512_slli_epi32(
                     _mm512_and_si512(h, one), 4));
            hi = _mm512_or_si512(hi, _mm512_slli_epi32(
                     _mm512_and_si512(h, two), 3));
        }

        wv[v] = _mm512_fmsub_ps(d1, infer_cpu_q5f(lo), m1);
        wv[4 + v] = _mm512_fmsub_ps(d2, infer_cpu_q5f(hi), m2);
    }
}


static inline INFER_CPU_Q5_ATTR infer_cpu_q5row_t
infer_cpu_q5_block(infer_cpu_q5row_t p, int64_t g, size_t bs)
{
    p.a += (g >> 3) * bs;
    p.b += (g >> 3) * bs;

    return p;
}


static inline INFER_CPU_Q5_ATTR void
infer_cpu_q5_q4_k_group(infer_cpu_q5row_t p, int64_t g,
    const infer_cpu_qks_t *ks, __m512 *wv)
{
    infer_cpu_q5_k45_pair(infer_cpu_q5_block(p, g, sizeof(infer_block_q4_k_t)),
                          (int) ((g & 7) >> 1), ks, wv, 0);
}


static inline INFER_CPU_Q5_ATTR void
infer_cpu_q5_q5_k_group(infer_cpu_q5row_t p, int64_t g,
    const infer_cpu_qks_t *ks, __m512 *wv)
{
    infer_cpu_q5_k45_pair(infer_cpu_q5_block(p, g, sizeof(infer_block_q5_k_t)),
                          (int) ((g & 7) >> 1), ks, wv, 1);
}


/* Q6_K: one row's 32 quants of sub-block s, less 32, as the AVX2 path
 * makes them (bytes) */
static inline INFER_CPU_Q5_ATTR __m256i
infer_cpu_q5_q6_bytes(const infer_block_q6_k_t *b, int h, int gg)
{
    __m256i  ql, qh, q;

    ql = _mm256_loadu_si256((const __m256i *) (b->ql + 64 * h + 32 * (gg & 1)));
    qh = _mm256_loadu_si256((const __m256i *) (b->qh + 32 * h));

    q = _mm256_or_si256(
            _mm256_and_si256(_mm256_srl_epi16(ql,
                                 _mm_cvtsi32_si128(4 * (gg >> 1))),
                             _mm256_set1_epi8(0xf)),
            _mm256_slli_epi16(_mm256_and_si256(
                _mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * gg)),
                _mm256_set1_epi8(3)), 4));

    return _mm256_sub_epi8(q, _mm256_set1_epi8(32));
}


static inline INFER_CPU_Q5_ATTR void
infer_cpu_q5_q6_k_group(infer_cpu_q5row_t p, int64_t g,
    const infer_cpu_qks_t *ks, __m512 *wv)
{
    int                        s, h, gg;
    __m128i                    la, ha, lb, hb;
    __m256i                    qa, qb;
    __m512                     s0, s1;
    const infer_block_q6_k_t  *a, *b;

    (void) ks;
    a = (const infer_block_q6_k_t *) p.a + (g >> 3);
    b = (const infer_block_q6_k_t *) p.b + (g >> 3);
    s = (int) (g & 7);
    h = s >> 2;
    gg = s & 3;

    qa = infer_cpu_q5_q6_bytes(a, h, gg);
    qb = infer_cpu_q5_q6_bytes(b, h, gg);

    s0 = infer_cpu_q5pair(_cvtsh_ss(a->d) * (float) a->scales[8 * h + 2 * gg],
                          _cvtsh_ss(b->d) * (float) b->scales[8 * h + 2 * gg]);
    s1 = infer_cpu_q5pair(
             _cvtsh_ss(a->d) * (float) a->scales[8 * h + 2 * gg + 1],
             _cvtsh_ss(b->d) * (float) b->scales[8 * h + 2 * gg + 1]);

    la = _mm256_castsi256_si128(qa);
    ha = _mm256_extracti128_si256(qa, 1);
    lb = _mm256_castsi256_si128(qb);
    hb = _mm256_extracti128_si256(qb, 1);
    wv[0] = _mm512_mul_ps(infer_cpu_q5f(_mm512_cvtepi8_epi32(
                              _mm_unpacklo_epi64(la, lb))), s0);
    wv[1] = _mm512_mul_ps(infer_cpu_q5f(_mm512_cvtepi8_epi32(
                              _mm_unpackhi_epi64(la, lb))), s0);
    wv[2] = _mm512_mul_ps(infer_cpu_q5f(_mm512_cvtepi8_epi32(
                              _mm_unpacklo_epi64(ha, hb))), s1);
    wv[3] = _mm512_mul_ps(infer_cpu_q5f(_mm512_cvtepi8_epi32(
                              _mm_unpackhi_epi64(ha, hb))), s1);
}


/* a K type's block of 256 values comes with both rows' scales, once */
#define INFER_CPU_Q5KS_q8_0(p, g, ks)
#define INFER_CPU_Q5KS_q4_0(p, g, ks)
#define INFER_CPU_Q5KS_q4_1(p, g, ks)
#define INFER_CPU_Q5KS_q6_k(p, g, ks)
#define INFER_CPU_Q5KS_q4_k(p, g, ks)                                        \
    INFER_CPU_QKS_q4_k((p).a, g, &(ks)[0])                                   \
    INFER_CPU_QKS_q4_k((p).b, g, &(ks)[1])
#define INFER_CPU_Q5KS_q5_k(p, g, ks)                                        \
    INFER_CPU_QKS_q5_k((p).a, g, &(ks)[0])                                   \
    INFER_CPU_QKS_q5_k((p).b, g, &(ks)[1])


/* the two halves of each of the accumulators of pairs: the outputs 0 ..
 * nj (up to 8), to y (first) or added to it, in the AVX2 path's tree */
static inline INFER_CPU_Q5_ATTR void
infer_cpu_q5put(float *y, const __m512 *acc, int nj, int first)
{
    int     i;
    __m256  h[8];

    for (i = 0; i < 8; i++) {
        h[i] = _mm256_setzero_ps();     /* for the compiler: unused */
    }

#pragma GCC unroll 4
    for (i = 0; 2 * i < nj; i++) {
        h[2 * i] = _mm512_castps512_ps256(acc[i]);
        h[2 * i + 1] = _mm512_extractf32x8_ps(acc[i], 1);
    }

    infer_cpu_qput(y, h, nj < 4 ? nj : 4, first);

    if (nj > 4) {
        infer_cpu_qput(y + 4, h + 4, nj - 4, first);
    }
}


/* row j of w and the next one, or row j twice where it is the last */
static inline infer_cpu_q5row_t
infer_cpu_q5rows(const unsigned char *w, size_t row_size, int64_t j,
    int64_t n_out)
{
    infer_cpu_q5row_t  p;

    p.a = w + (size_t) j * row_size;
    p.b = (j + 1 < n_out) ? p.a + row_size : p.a;

    return p;
}


/*
 * For each type: the unpacking of a pair into the tiles' buffer (16
 * values a group of 8: a's, then b's), and the product of one or two rows
 * of x with np pairs at a time (nj outputs of them).
 */
#define INFER_CPU_Q5TYPE(type)                                               \
    static INFER_CPU_Q5_FN void                                              \
    infer_cpu_q5_##type##_deq(infer_cpu_q5row_t p, int64_t k0, int64_t n,    \
        float *out)                                                          \
    {                                                                        \
        int              v;                                                  \
        int64_t          g;                                                  \
        __m512           wv[4 * INFER_CPU_QU_##type];                        \
        infer_cpu_qks_t  ks[2];                                              \
                                                                             \
        for (g = k0 / 32; g < (k0 + n) / 32;                                 \
             g += INFER_CPU_QU_##type, out += 64 * INFER_CPU_QU_##type)      \
        {                                                                    \
            INFER_CPU_Q5KS_##type(p, g, ks)                                  \
            infer_cpu_q5_##type##_group(p, g, ks, wv);                       \
                                                                             \
            _Pragma("GCC unroll 8")                                          \
            for (v = 0; v < 4 * INFER_CPU_QU_##type; v++) {                  \
                _mm512_store_ps(out + 16 * v, wv[v]);                        \
            }                                                                \
        }                                                                    \
    }                                                                        \
                                                                             \
    static inline INFER_CPU_Q5_ATTR void                                     \
    infer_cpu_q5_##type##_fewj(const unsigned char *w, size_t row_size,      \
        const float *x, size_t ldx, int nr, int nj, int64_t n_in,            \
        int64_t n_out, float *y, size_t ldy)                                 \
    {                                                                        \
        int                r, v, i, np;                                      \
        size_t             gb, ahead;                                        \
        int64_t            k0, kc, g;                                        \
        __m512             acc[2][INFER_CPU_Q5FP],                           \
                           wv[4 * INFER_CPU_QU_##type];                      \
        infer_cpu_qks_t    ks[INFER_CPU_Q5FP][2];                            \
        infer_cpu_q5row_t  p[INFER_CPU_Q5FP];                                \
                                                                             \
        np = (nj + 1) / 2;                                                   \
        gb = row_size / (size_t) (n_in / 32);    /* bytes of 32 values */    \
        ahead = (size_t) (2 * INFER_CPU_Q5FP) * row_size;                    \
                                                                             \
        _Pragma("GCC unroll 4")                                              \
        for (i = 0; i < INFER_CPU_Q5FP; i++) {   /* all: for the compiler */ \
            p[i] = infer_cpu_q5rows(w, row_size, (2 * i < nj) ? 2 * i : 0,   \
                                    nj);                                     \
        }                                                                    \
                                                                             \
        for (k0 = 0; k0 < n_in; k0 += kc) {                                  \
            kc = infer_cpu_qchunk(n_in, k0);                                 \
                                                                             \
            _Pragma("GCC unroll 4")                                          \
            for (i = 0; i < np; i++) {                                       \
                acc[0][i] = _mm512_setzero_ps();                             \
                acc[1][i] = _mm512_setzero_ps();                             \
            }                                                                \
                                                                             \
            for (g = k0 / 32; g < (k0 + kc) / 32;                            \
                 g += INFER_CPU_QU_##type)                                   \
            {                                                                \
                _Pragma("GCC unroll 4")                                      \
                for (i = 0; i < np; i++) {                                   \
                    if ((size_t) (2 * i) * row_size + ahead                  \
                        < (size_t) n_out * row_size)                         \
                    {                                                        \
                        _mm_prefetch((const char *) p[i].a + ahead + g * gb, \
                                     _MM_HINT_T0);                           \
                        _mm_prefetch((const char *) p[i].a + row_size        \
                                     + ahead + g * gb, _MM_HINT_T0);         \
                    }                                                        \
                                                                             \
                    INFER_CPU_Q5KS_##type(p[i], g, ks[i])                    \
                    infer_cpu_q5_##type##_group(p[i], g, ks[i], wv);         \
                                                                             \
                    _Pragma("GCC unroll 2")                                  \
                    for (r = 0; r < nr; r++) {                               \
                        _Pragma("GCC unroll 8")                              \
                        for (v = 0; v < 4 * INFER_CPU_QU_##type; v++) {      \
                            acc[r][i] = _mm512_fmadd_ps(wv[v],               \
                                _mm512_broadcast_f32x8(_mm256_loadu_ps(      \
                                    x + (size_t) r * ldx + 32 * g + 8 * v)), \
                                acc[r][i]);                                  \
                        }                                                    \
                    }                                                        \
                }                                                            \
            }                                                                \
                                                                             \
            _Pragma("GCC unroll 2")                                          \
            for (r = 0; r < nr; r++) {                                       \
                infer_cpu_q5put(y + (size_t) r * ldy, acc[r], nj, k0 == 0);  \
            }                                                                \
        }                                                                    \
    }                                                                        \
                                                                             \
    static INFER_CPU_Q5_FN void                                              \
    infer_cpu_q5_##type##_few(const unsigned char *w, size_t row_size,       \
        const float *x, size_t ldx, int nr, int64_t n_in, int64_t n_out,     \
        float *y, size_t ldy)                                                \
    {                                                                        \
        int64_t  j, left;                                                    \
                                                                             \
        for (j = 0; j < n_out; j += 2 * INFER_CPU_Q5FP) {                    \
            left = n_out - j;                                                \
                                                                             \
            if (left >= 2 * INFER_CPU_Q5FP && nr == 2) {                     \
                infer_cpu_q5_##type##_fewj(w + (size_t) j * row_size,        \
                    row_size, x, ldx, 2, 2 * INFER_CPU_Q5FP, n_in, left,     \
                    y + j, ldy);                                             \
            } else if (left >= 2 * INFER_CPU_Q5FP) {                         \
                infer_cpu_q5_##type##_fewj(w + (size_t) j * row_size,        \
                    row_size, x, ldx, 1, 2 * INFER_CPU_Q5FP, n_in, left,     \
                    y + j, ldy);                                             \
            } else {                                                         \
                infer_cpu_q5_##type##_fewj(w + (size_t) j * row_size,        \
                    row_size, x, ldx, nr, (int) left, n_in, left, y + j,     \
                    ldy);                                                    \
            }                                                                \
        }                                                                    \
    }                                                                        \
                                                                             \
    static const infer_cpu_q5fns_t  infer_cpu_q5_##type##_fns = {            \
        infer_cpu_q5_##type##_deq, infer_cpu_q5_##type##_few                 \
    }


typedef void (*infer_cpu_q5deq_pt)(infer_cpu_q5row_t p, int64_t k0,
    int64_t n, float *out);
typedef void (*infer_cpu_q5few_pt)(const unsigned char *w, size_t row_size,
    const float *x, size_t ldx, int nr, int64_t n_in, int64_t n_out,
    float *y, size_t ldy);

typedef struct {
    infer_cpu_q5deq_pt    deq;
    infer_cpu_q5few_pt    few;
} infer_cpu_q5fns_t;


INFER_CPU_Q5TYPE(q8_0);
INFER_CPU_Q5TYPE(q4_0);
INFER_CPU_Q5TYPE(q4_1);
INFER_CPU_Q5TYPE(q4_k);
INFER_CPU_Q5TYPE(q5_k);
INFER_CPU_Q5TYPE(q6_k);


static const infer_cpu_q5fns_t *
infer_cpu_q5fns(infer_dtype_e dt)
{
    switch (dt) {
    case INFER_DT_Q8_0:
        return &infer_cpu_q5_q8_0_fns;
    case INFER_DT_Q4_0:
        return &infer_cpu_q5_q4_0_fns;
    case INFER_DT_Q4_1:
        return &infer_cpu_q5_q4_1_fns;
    case INFER_DT_Q4_K:
        return &infer_cpu_q5_q4_k_fns;
    case INFER_DT_Q5_K:
        return &infer_cpu_q5_q5_k_fns;
    case INFER_DT_Q6_K:
        return &infer_cpu_q5_q6_k_fns;
    default:
        return NULL;
    }
}


/*
 * The register tile: np (1..3) unpacked pairs of the buffer, ldw apart,
 * nj outputs of them, by nr (1..4) rows of x, over kc values
 */
static inline INFER_CPU_Q5_ATTR void
infer_cpu_q5tile(const float *w, size_t ldw, const float *x, size_t ldx,
    int64_t kc, float *y, size_t ldy, int first, int nj, int nr)
{
    int      i, r, np;
    int64_t  k;
    __m512   acc[INFER_CPU_Q5R][INFER_CPU_Q5P], wv[INFER_CPU_Q5P], xv;

    np = (nj + 1) / 2;

#pragma GCC unroll 4
    for (r = 0; r < nr; r++) {
#pragma GCC unroll 3
        for (i = 0; i < np; i++) {
            acc[r][i] = _mm512_setzero_ps();
        }
    }

    for (k = 0; k < kc; k += 8) {
#pragma GCC unroll 3
        for (i = 0; i < np; i++) {
            wv[i] = _mm512_load_ps(w + (size_t) i * ldw + 2 * k);
        }

#pragma GCC unroll 4
        for (r = 0; r < nr; r++) {
            xv = _mm512_broadcast_f32x8(_mm256_loadu_ps(x + (size_t) r * ldx
                                                        + k));

#pragma GCC unroll 3
            for (i = 0; i < np; i++) {
                acc[r][i] = _mm512_fmadd_ps(wv[i], xv, acc[r][i]);
            }
        }
    }

#pragma GCC unroll 4
    for (r = 0; r < nr; r++) {
        infer_cpu_q5put(y + (size_t) r * ldy, acc[r], nj, first);
    }
}


#define INFER_CPU_Q5TILE_CASE(nj, nr)                                        \
    case (nj) * 8 + (nr):                                                    \
        infer_cpu_q5tile(w, ldw, x, ldx, kc, y, ldy, first, nj, nr);         \
        break

#define INFER_CPU_Q5TILE_CASES(nj)                                           \
    INFER_CPU_Q5TILE_CASE(nj, 4);                                            \
    INFER_CPU_Q5TILE_CASE(nj, 3);                                            \
    INFER_CPU_Q5TILE_CASE(nj, 2);                                            \
    INFER_CPU_Q5TILE_CASE(nj, 1)

/* the tile with its shape made constants */
static INFER_CPU_Q5_FN void
infer_cpu_q5tiles(const float *w, size_t ldw, const float *x, size_t ldx,
    int64_t kc, float *y, size_t ldy, int first, int nj, int nr)
{
    switch (nj * 8 + nr) {
    INFER_CPU_Q5TILE_CASES(6);
    INFER_CPU_Q5TILE_CASES(5);
    INFER_CPU_Q5TILE_CASES(4);
    INFER_CPU_Q5TILE_CASES(3);
    INFER_CPU_Q5TILE_CASES(2);
    INFER_CPU_Q5TILE_CASE(1, 4);
    INFER_CPU_Q5TILE_CASE(1, 3);
    INFER_CPU_Q5TILE_CASE(1, 2);
    default:
        infer_cpu_q5tile(w, ldw, x, ldx, kc, y, ldy, first, 1, 1);
        break;
    }
}


/* the batched product's unpacking: the rows in pairs, a last odd one
 * with itself */
static void
infer_cpu_q5unpack(const void *fns, const unsigned char *w, size_t row_size,
    int jb, int64_t k0, int64_t kc, float *buf)
{
    int  j;

    for (j = 0; j < jb; j += 2) {
        ((const infer_cpu_q5fns_t *) fns)->deq(infer_cpu_q5rows(w, row_size,
                                                                j, jb),
                                               k0, kc, buf + j * kc);
    }
}


/* and its tiles: all jb outputs (3 pairs) at once */
static INFER_CPU_Q5_FN void
infer_cpu_q5tile_rows(const float *buf, int64_t kc, const float *x,
    size_t ldx, float *y, size_t ldy, int first, int jb, int nr)
{
    infer_cpu_q5tiles(buf, (size_t) (2 * kc), x, ldx, kc, y, ldy, first, jb,
                      nr);
}


int
infer_cpu_quant512_matmul(infer_dtype_e dt, const float *x, size_t ldx,
    int rows, const unsigned char *w, size_t row_size, int64_t n_in,
    int64_t n_out, float *y, size_t ldy)
{
    infer_cpu_qgemm_t         g;
    const infer_cpu_q5fns_t  *fns;

    fns = infer_cpu_q5fns(dt);

    if (fns == NULL) {
        return -1;
    }

    if (rows <= 2) {
        fns->few(w, row_size, x, ldx, rows, n_in, n_out, y, ldy);
        return 0;
    }

    g.fns = fns;
    g.unpack = infer_cpu_q5unpack;
    g.tile = infer_cpu_q5tile_rows;

    infer_cpu_quant_gemm(&g, dt, x, ldx, rows, w, row_size, n_in, n_out, y,
                         ldy);
    return 0;
}

#endif
