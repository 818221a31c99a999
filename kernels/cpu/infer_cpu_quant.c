/*
 * ngx_infer: the CPU backend's product with quantized weights, y = x w^T
 * for w in GGUF's blocks (infer_quant.h): n_out rows of n_in values, each
 * row a run of blocks, never dequantized as a whole.
 *
 * With AVX2, FMA and F16C, a block's quants are unpacked in registers into
 * floats, 8 at a time, each value its own weight (d q + m, or d sc q -
 * dmin mn for the K types, as one FMA), and FMA'd against x in F32.
 *
 * A batch of more than two rows is a small GEMM: the weights of
 * INFER_CPU_QJB rows are unpacked once, a chunk at a time, into a buffer
 * that stays in L1, and a register tile of INFER_CPU_QMJ weight rows by
 * INFER_CPU_QMR rows of x runs over it (12 accumulators: each load of x
 * feeds 3 FMAs, each load of the buffer 4), so that the FMA units, not
 * the loads, set the pace.  The weights come from memory once for a tile
 * of INFER_CPU_QT rows of x: a batch of 16 decoding sequences reads each
 * weight byte once, where 16 products would read it 16 times.  One or two
 * rows (a decoding sequence alone) unpack in registers straight into the
 * FMAs, four weight rows at a time.
 *
 * Every output sums in an order fixed by n_in alone: the row is taken in
 * chunks (infer_cpu_qchunk()), in each chunk one 8-lane accumulator takes
 * fma(w, x, acc) for 8 values after 8 in order, its lanes are summed in a
 * fixed tree at the chunk's end (infer_cpu_qput(), for up to four outputs
 * at once), and the chunks are added to y in order.
 * A value's weight is unpacked by the same inline function on both
 * paths, so nothing depends on which rows share a tile: a row computes
 * the same bits alone as in any batch (kernels/test/test_quant.c checks
 * it).
 *
 * Without AVX2, each output is infer_quant_dot() (plain C).
 */

#include <stdint.h>
#include <string.h>

#include "infer_cpu.h"
#include "infer_quant.h"

#if (defined __x86_64__ && defined __GNUC__)
#include <cpuid.h>
#define INFER_CPU_QAVX2  1
#include "infer_cpu_quant_impl.h"
#endif


#define INFER_CPU_QMJ    3       /* weight rows of the register tile */
#define INFER_CPU_QFJ    4       /* weight rows at once for 1 or 2 rows */


static void infer_cpu_quant_c(infer_dtype_e dt, const float *x, size_t ldx,
    int rows, const unsigned char *w, size_t row_size, int64_t n_in,
    int64_t n_out, float *y, size_t ldy);

#if (INFER_CPU_QAVX2)

/* values [k0, k0 + n) of a weight row as floats at out (n a whole number
 * of blocks) */
typedef void (*infer_cpu_qdeq_pt)(const unsigned char *row, int64_t k0,
    int64_t n, float *out);

/* the whole product for 1 or 2 rows of x */
typedef void (*infer_cpu_qfew_pt)(const unsigned char *w, size_t row_size,
    const float *x, size_t ldx, int nr, int64_t n_in, int64_t n_out,
    float *y, size_t ldy);

typedef struct {
    infer_cpu_qdeq_pt     deq;
    infer_cpu_qfew_pt     few;
} infer_cpu_qfns_t;

static void infer_cpu_quant_tiles(const infer_cpu_qfns_t *fns,
    infer_dtype_e dt, const float *x, size_t ldx, int rows,
    const unsigned char *w, size_t row_size, int64_t n_in, int64_t n_out,
    float *y, size_t ldy);
static const infer_cpu_qfns_t *infer_cpu_qfns(infer_dtype_e dt);
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


int
infer_cpu_quant_avx512(void)
{
#if (INFER_CPU_QAVX2)
    static int  avx512 = -1;

    if (avx512 < 0) {
        avx512 = infer_cpu_quant_avx2()
                 && __builtin_cpu_supports("avx512f")
                 && __builtin_cpu_supports("avx512bw")
                 && __builtin_cpu_supports("avx512dq")
                 && __builtin_cpu_supports("avx512vl");
    }

    return avx512;
#else
    return 0;
#endif
}


void
infer_cpu_quant_matmul(infer_cpu_env_t *env, infer_dtype_e dt,
    const float *x, size_t ldx, int rows, const void *w, int64_t n_in,
    int64_t n_out, float *y, size_t ldy)
{
    size_t                    row_size;
    const unsigned char      *wb;
#if (INFER_CPU_QAVX2)
    const infer_cpu_qfns_t   *fns;
#endif

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
    if (env->avx512 && infer_cpu_quant_avx512()
        && infer_cpu_quant512_matmul(dt, x, ldx, rows, wb, row_size, n_in,
                                     n_out, y, ldy)
           == 0)
    {
        return;
    }

    fns = infer_cpu_qfns(dt);

    if (env->avx2 && infer_cpu_quant_avx2() && fns != NULL) {
        if (rows <= 2) {
            fns->few(wb, row_size, x, ldx, rows, n_in, n_out, y, ldy);
            return;
        }

        infer_cpu_quant_tiles(fns, dt, x, ldx, rows, wb, row_size, n_in,
                              n_out, y, ldy);
        return;
    }
#endif

    infer_cpu_quant_c(dt, x, ldx, rows, wb, row_size, n_in, n_out, y, ldy);
}


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



/* 8 bytes at p as 8 int32 lanes, zero- or sign-extended */
#define infer_cpu_qu8(p)                                                     \
    _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *) (p)))
#define infer_cpu_qi8(p)                                                     \
    _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *) (p)))

#define infer_cpu_qf(v)  _mm256_cvtepi32_ps(v)


/*
 * Each type's unpacking: the 32 values of group g of a row (values 32 g
 * to 32 g + 31) as wv[0..3], 8 each in order; Q4_K and Q5_K give two
 * groups at once (g even, wv[0..7]: a byte's two nibbles are the two
 * groups' quants).  A 32-value type's group is its block g; a K type's is
 * sub-block g % 8 of block g / 8, whose scale and min (ks, from
 * infer_cpu_qks()) the caller has for the whole block.
 */

static inline INFER_CPU_QT_ATTR void
infer_cpu_q8_0_group(const unsigned char *row, int64_t g,
    const infer_cpu_qks_t *ks, __m256 *wv)
{
    int                        v;
    __m256                     d;
    const infer_block_q8_0_t  *b;

    (void) ks;
    b = (const infer_block_q8_0_t *) row + g;
    d = _mm256_set1_ps(_cvtsh_ss(b->d));

#pragma GCC unroll 4
    for (v = 0; v < 4; v++) {
        wv[v] = _mm256_mul_ps(infer_cpu_qf(infer_cpu_qi8(b->qs + 8 * v)), d);
    }
}


static inline INFER_CPU_QT_ATTR void
infer_cpu_q4_0_group(const unsigned char *row, int64_t g,
    const infer_cpu_qks_t *ks, __m256 *wv)
{
    __m256i                    q0, q1, m4, m8;
    __m256                     d;
    const infer_block_q4_0_t  *b;

    (void) ks;
    b = (const infer_block_q4_0_t *) row + g;
    d = _mm256_set1_ps(_cvtsh_ss(b->d));
    m4 = _mm256_set1_epi32(0xf);
    m8 = _mm256_set1_epi32(8);

    q0 = infer_cpu_qu8(b->qs);
    q1 = infer_cpu_qu8(b->qs + 8);
    wv[0] = _mm256_mul_ps(infer_cpu_qf(_mm256_sub_epi32(
                              _mm256_and_si256(q0, m4), m8)), d);
    wv[1] = _mm256_mul_ps(infer_cpu_qf(_mm256_sub_epi32(
                              _mm256_and_si256(q1, m4), m8)), d);
    wv[2] = _mm256_mul_ps(infer_cpu_qf(_mm256_sub_epi32(
                              _mm256_srli_epi32(q0, 4), m8)), d);
    wv[3] = _mm256_mul_ps(infer_cpu_qf(_mm256_sub_epi32(
                              _mm256_srli_epi32(q1, 4), m8)), d);
}


static inline INFER_CPU_QT_ATTR void
infer_cpu_q4_1_group(const unsigned char *row, int64_t g,
    const infer_cpu_qks_t *ks, __m256 *wv)
{
    __m256i                    q0, q1, m4;
    __m256                     d, m;
    const infer_block_q4_1_t  *b;

    (void) ks;
    b = (const infer_block_q4_1_t *) row + g;
    d = _mm256_set1_ps(_cvtsh_ss(b->d));
    m = _mm256_set1_ps(_cvtsh_ss(b->m));
    m4 = _mm256_set1_epi32(0xf);

    q0 = infer_cpu_qu8(b->qs);
    q1 = infer_cpu_qu8(b->qs + 8);
    wv[0] = _mm256_fmadd_ps(infer_cpu_qf(_mm256_and_si256(q0, m4)), d, m);
    wv[1] = _mm256_fmadd_ps(infer_cpu_qf(_mm256_and_si256(q1, m4)), d, m);
    wv[2] = _mm256_fmadd_ps(infer_cpu_qf(_mm256_srli_epi32(q0, 4)), d, m);
    wv[3] = _mm256_fmadd_ps(infer_cpu_qf(_mm256_srli_epi32(q1, 4)), d, m);
}


/*
 * Q4_K and Q5_K: sub-blocks 2c and 2c + 1 (64 values, wv[0..7]) take the
 * low and the high nibbles of qs[32 c ..] and, Q5_K, bits 2c and 2c + 1
 * of qh[0 .. 32) as their fifth bits
 */
static inline INFER_CPU_QT_ATTR void
infer_cpu_qk45_pair(const unsigned char *block, int c,
    const infer_cpu_qks_t *ks, __m256 *wv, int five)
{
    int             v;
    __m256i         q, lo, hi, h, m4, one, two;
    __m256          d1, m1, d2, m2;
    const uint8_t  *qs, *qh;

    if (five) {
        qs = ((const infer_block_q5_k_t *) block)->qs;
        qh = ((const infer_block_q5_k_t *) block)->qh;
    } else {
        qs = ((const infer_block_q4_k_t *) block)->qs;
        qh = NULL;
    }

    d1 = _mm256_set1_ps(ks->d[2 * c]);
    m1 = _mm256_set1_ps(ks->m[2 * c]);
    d2 = _mm256_set1_ps(ks->d[2 * c + 1]);
    m2 = _mm256_set1_ps(ks->m[2 * c + 1]);
    m4 = _mm256_set1_epi32(0xf);
    one = _mm256_set1_epi32(1);
    two = _mm256_set1_epi32(2);

#pragma GCC unroll 4
    for (v = 0; v < 4; v++) {
        q = infer_cpu_qu8(qs + 32 * c + 8 * v);
        lo = _mm256_and_si256(q, m4);
        hi = _mm256_srli_epi32(q, 4);

        if (five) {
            h = _mm256_srl_epi32(infer_cpu_qu8(qh + 8 * v),
                                 _mm_cvtsi32_si128(2 * c));
            lo = _mm256_or_si256(lo, _mm256_slli_epi32(
                     _mm256_and_si256(h, one), 4));
            hi = _mm256_or_si256(hi, _mm256_slli_epi32(
                     _mm256_and_si256(h, two), 3));
        }

        wv[v] = _mm256_fmsub_ps(d1, infer_cpu_qf(lo), m1);
        wv[4 + v] = _mm256_fmsub_ps(d2, infer_cpu_qf(hi), m2);
    }
}


/* a K type's unit is two sub-blocks: g is even */
static inline INFER_CPU_QT_ATTR void
infer_cpu_q4_k_group(const unsigned char *row, int64_t g,
    const infer_cpu_qks_t *ks, __m256 *wv)
{
    infer_cpu_qk45_pair(row + (g >> 3) * sizeof(infer_block_q4_k_t),
                        (int) ((g & 7) >> 1), ks, wv, 0);
}


static inline INFER_CPU_QT_ATTR void
infer_cpu_q5_k_group(const unsigned char *row, int64_t g,
    const infer_cpu_qks_t *ks, __m256 *wv)
{
    infer_cpu_qk45_pair(row + (g >> 3) * sizeof(infer_block_q5_k_t),
                        (int) ((g & 7) >> 1), ks, wv, 1);
}


/*
 * Q6_K: sub-block s (0..7) lies in half h = s / 4 of the block; its
 * group gg = s % 4 takes the low (gg 0, 1) or high (gg 2, 3) nibbles of
 * ql[64 h + 32 (gg & 1) ..] and bits 2 gg, 2 gg + 1 of qh[32 h ..] as
 * its top two, less 32, times d sc of each 16 values (the reference's
 * rounding: the quant times the product d sc).
 */
static inline INFER_CPU_QT_ATTR void
infer_cpu_q6_k_group(const unsigned char *row, int64_t g,
    const infer_cpu_qks_t *ks, __m256 *wv)
{
    int                        s, h, gg;
    float                      d;
    __m128i                    lo, hi;
    __m256i                    ql, qh, q;
    __m256                     s0, s1;
    const infer_block_q6_k_t  *b;

    (void) ks;
    b = (const infer_block_q6_k_t *) row + (g >> 3);
    s = (int) (g & 7);
    h = s >> 2;
    gg = s & 3;
    d = _cvtsh_ss(b->d);

    ql = _mm256_loadu_si256((const __m256i *) (b->ql + 64 * h + 32 * (gg & 1)));
    qh = _mm256_loadu_si256((const __m256i *) (b->qh + 32 * h));

    q = _mm256_or_si256(
            _mm256_and_si256(_mm256_srl_epi16(ql,
                                 _mm_cvtsi32_si128(4 * (gg >> 1))),
                             _mm256_set1_epi8(0xf)),
            _mm256_slli_epi16(_mm256_and_si256(
                _mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * gg)),
                _mm256_set1_epi8(3)), 4));
    q = _mm256_sub_epi8(q, _mm256_set1_epi8(32));

    s0 = _mm256_set1_ps(d * (float) b->scales[8 * h + 2 * gg]);
    s1 = _mm256_set1_ps(d * (float) b->scales[8 * h + 2 * gg + 1]);

    lo = _mm256_castsi256_si128(q);
    hi = _mm256_extracti128_si256(q, 1);
    wv[0] = _mm256_mul_ps(infer_cpu_qf(_mm256_cvtepi8_epi32(lo)), s0);
    wv[1] = _mm256_mul_ps(infer_cpu_qf(_mm256_cvtepi8_epi32(
                              _mm_srli_si128(lo, 8))), s0);
    wv[2] = _mm256_mul_ps(infer_cpu_qf(_mm256_cvtepi8_epi32(hi)), s1);
    wv[3] = _mm256_mul_ps(infer_cpu_qf(_mm256_cvtepi8_epi32(
                              _mm_srli_si128(hi, 8))), s1);
}


/*
 * For each type: its unpacking into the tiles' buffer, and the product
 * of one or two rows of x, four weight rows at a time (jn of them), each
 * output's accumulator taking the values in the order the tiles' do.
 */
#define INFER_CPU_QTYPE(type)                                                \
    static INFER_CPU_QT_FN void                                              \
    infer_cpu_##type##_deq(const unsigned char *row, int64_t k0, int64_t n,  \
        float *out)                                                          \
    {                                                                        \
        int              v;                                                  \
        int64_t          g;                                                  \
        __m256           wv[4 * INFER_CPU_QU_##type];                        \
        infer_cpu_qks_t  ks;                                                 \
                                                                             \
        for (g = k0 / 32; g < (k0 + n) / 32;                                 \
             g += INFER_CPU_QU_##type, out += 32 * INFER_CPU_QU_##type)      \
        {                                                                    \
            INFER_CPU_QKS_##type(row, g, &ks)                                \
            infer_cpu_##type##_group(row, g, &ks, wv);                       \
                                                                             \
            _Pragma("GCC unroll 8")                                          \
            for (v = 0; v < 4 * INFER_CPU_QU_##type; v++) {                  \
                _mm256_store_ps(out + 8 * v, wv[v]);                         \
            }                                                                \
        }                                                                    \
    }                                                                        \
                                                                             \
    static inline INFER_CPU_QT_ATTR void                                     \
    infer_cpu_##type##_fewj(const unsigned char *w, size_t row_size,         \
        const float *x, size_t ldx, int nr, int jn, int64_t n_in,            \
        float *y, size_t ldy)                                                \
    {                                                                        \
        int              j, r, v;                                            \
        size_t           gb;                                                 \
        int64_t          k0, kc, g;                                          \
        __m256           acc[INFER_CPU_QFJ][2], wv[4 * INFER_CPU_QU_##type], \
                         out[INFER_CPU_QFJ];                                 \
        infer_cpu_qks_t  ks[INFER_CPU_QFJ];                                  \
                                                                             \
        gb = row_size / (size_t) (n_in / 32);    /* bytes of 32 values */    \
                                                                             \
        for (k0 = 0; k0 < n_in; k0 += kc) {                                  \
            kc = infer_cpu_qchunk(n_in, k0);                                 \
                                                                             \
            _Pragma("GCC unroll 4")                                          \
            for (j = 0; j < jn; j++) {                                       \
                acc[j][0] = _mm256_setzero_ps();                             \
                acc[j][1] = _mm256_setzero_ps();                             \
            }                                                                \
                                                                             \
            for (g = k0 / 32; g < (k0 + kc) / 32;                            \
                 g += INFER_CPU_QU_##type)                                   \
            {                                                                \
                _Pragma("GCC unroll 4")                                      \
                for (j = 0; j < jn; j++) {                                   \
                    _mm_prefetch((const char *) w + (size_t) (j + jn)        \
                                 * row_size + g * gb, _MM_HINT_T0);          \
                    INFER_CPU_QKS_##type(w + (size_t) j * row_size, g,       \
                                         &ks[j])                             \
                    infer_cpu_##type##_group(w + (size_t) j * row_size, g,   \
                                             &ks[j], wv);                    \
                                                                             \
                    _Pragma("GCC unroll 2")                                  \
                    for (r = 0; r < nr; r++) {                               \
                        _Pragma("GCC unroll 8")                              \
                        for (v = 0; v < 4 * INFER_CPU_QU_##type; v++) {      \
                            acc[j][r] = _mm256_fmadd_ps(wv[v],               \
                                _mm256_loadu_ps(x + (size_t) r * ldx         \
                                                + 32 * g + 8 * v),           \
                                acc[j][r]);                                  \
                        }                                                    \
                    }                                                        \
                }                                                            \
            }                                                                \
                                                                             \
            _Pragma("GCC unroll 2")                                          \
            for (r = 0; r < nr; r++) {                                       \
                _Pragma("GCC unroll 4")                                      \
                for (j = 0; j < jn; j++) {                                   \
                    out[j] = acc[j][r];                                      \
                }                                                            \
                                                                             \
                infer_cpu_qput(y + (size_t) r * ldy, out, jn, k0 == 0);      \
            }                                                                \
        }                                                                    \
    }                                                                        \
                                                                             \
    static INFER_CPU_QT_FN void                                              \
    infer_cpu_##type##_few(const unsigned char *w, size_t row_size,          \
        const float *x, size_t ldx, int nr, int64_t n_in, int64_t n_out,     \
        float *y, size_t ldy)                                                \
    {                                                                        \
        int64_t  j;                                                          \
                                                                             \
        for (j = 0; j + INFER_CPU_QFJ <= n_out; j += INFER_CPU_QFJ) {        \
            if (nr == 2) {                                                   \
                infer_cpu_##type##_fewj(w + (size_t) j * row_size, row_size, \
                                        x, ldx, 2, INFER_CPU_QFJ, n_in,      \
                                        y + j, ldy);                         \
            } else {                                                         \
                infer_cpu_##type##_fewj(w + (size_t) j * row_size, row_size, \
                                        x, ldx, 1, INFER_CPU_QFJ, n_in,      \
                                        y + j, ldy);                         \
            }                                                                \
        }                                                                    \
                                                                             \
        for ( /* void */ ; j < n_out; j++) {                                 \
            infer_cpu_##type##_fewj(w + (size_t) j * row_size, row_size, x,  \
                                    ldx, nr, 1, n_in, y + j, ldy);           \
        }                                                                    \
    }                                                                        \
                                                                             \
    static const infer_cpu_qfns_t  infer_cpu_##type##_fns = {                \
        infer_cpu_##type##_deq, infer_cpu_##type##_few                       \
    }

INFER_CPU_QTYPE(q8_0);
INFER_CPU_QTYPE(q4_0);
INFER_CPU_QTYPE(q4_1);
INFER_CPU_QTYPE(q4_k);
INFER_CPU_QTYPE(q5_k);
INFER_CPU_QTYPE(q6_k);


static const infer_cpu_qfns_t *
infer_cpu_qfns(infer_dtype_e dt)
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


/*
 * The register tile: nj (1..3) unpacked weight rows of the buffer, ldw
 * apart, by nr (1..4) rows of x, over kc values
 */
static inline INFER_CPU_QT_ATTR void
infer_cpu_qtile(const float *w, size_t ldw, const float *x, size_t ldx,
    int64_t kc, float *y, size_t ldy, int first, int nj, int nr)
{
    int      j, r;
    int64_t  k;
    __m256   acc[INFER_CPU_QMJ][INFER_CPU_QMR], wv[INFER_CPU_QMJ], xv;

#pragma GCC unroll 3
    for (j = 0; j < nj; j++) {
#pragma GCC unroll 4
        for (r = 0; r < nr; r++) {
            acc[j][r] = _mm256_setzero_ps();
        }
    }

    for (k = 0; k < kc; k += 8) {
#pragma GCC unroll 3
        for (j = 0; j < nj; j++) {
            wv[j] = _mm256_load_ps(w + (size_t) j * ldw + k);
        }

#pragma GCC unroll 4
        for (r = 0; r < nr; r++) {
            xv = _mm256_loadu_ps(x + (size_t) r * ldx + k);

#pragma GCC unroll 3
            for (j = 0; j < nj; j++) {
                acc[j][r] = _mm256_fmadd_ps(wv[j], xv, acc[j][r]);
            }
        }
    }

#pragma GCC unroll 4
    for (r = 0; r < nr; r++) {
#pragma GCC unroll 3
        for (j = 0; j < nj; j++) {
            wv[j] = acc[j][r];
        }

        infer_cpu_qput(y + (size_t) r * ldy, wv, nj, first);
    }
}


#define INFER_CPU_QTILE_CASE(nj, nr)                                         \
    case (nj) * 8 + (nr):                                                    \
        infer_cpu_qtile(w, ldw, x, ldx, kc, y, ldy, first, nj, nr);          \
        break

/* the tile with its shape made constants */
static INFER_CPU_QT_FN void
infer_cpu_qtiles(const float *w, size_t ldw, const float *x, size_t ldx,
    int64_t kc, float *y, size_t ldy, int first, int nj, int nr)
{
    switch (nj * 8 + nr) {
    INFER_CPU_QTILE_CASE(3, 4);
    INFER_CPU_QTILE_CASE(3, 3);
    INFER_CPU_QTILE_CASE(3, 2);
    INFER_CPU_QTILE_CASE(3, 1);
    INFER_CPU_QTILE_CASE(2, 4);
    INFER_CPU_QTILE_CASE(2, 3);
    INFER_CPU_QTILE_CASE(2, 2);
    INFER_CPU_QTILE_CASE(2, 1);
    INFER_CPU_QTILE_CASE(1, 4);
    INFER_CPU_QTILE_CASE(1, 3);
    INFER_CPU_QTILE_CASE(1, 2);
    default:
        infer_cpu_qtile(w, ldw, x, ldx, kc, y, ldy, first, 1, 1);
        break;
    }
}


/*
 * The loops that make the weights come from memory once a tile, for both
 * paths (g: their unpacking into the buffer and their register tiles)
 */
void
infer_cpu_quant_gemm(const infer_cpu_qgemm_t *g, infer_dtype_e dt,
    const float *x, size_t ldx, int rows, const unsigned char *w,
    size_t row_size, int64_t n_in, int64_t n_out, float *y, size_t ldy)
{
    int            r0, r1, r, nr;
    size_t         at, next, cb, end, l;
    int64_t        j0, jb, j, k0, kc;
    const char    *p;
    float          buf[INFER_CPU_QJB * INFER_CPU_QKMAX]
                       __attribute__((aligned(64)));

    end = (size_t) n_out * row_size;

    for (r0 = 0; r0 < rows; r0 = r1) {
        r1 = (rows - r0 > INFER_CPU_QT) ? r0 + INFER_CPU_QT : rows;

        for (j0 = 0; j0 < n_out; j0 += jb) {
            jb = (n_out - j0 > INFER_CPU_QJB) ? INFER_CPU_QJB : n_out - j0;

            for (k0 = 0; k0 < n_in; k0 += kc) {
                kc = infer_cpu_qchunk(n_in, k0);
                at = infer_dtype_row_size(dt, k0);
                cb = infer_dtype_row_size(dt, kc);

                /*
                 * The rows' next chunks are as many short streams through
                 * memory, which the hardware's prefetcher follows poorly:
                 * each is asked for while this one is unpacked
                 */
                next = (k0 + kc < n_in) ? at + cb
                                        : (size_t) INFER_CPU_QJB * row_size;

                for (j = 0; j < jb; j++) {
                    p = (const char *) w + (size_t) (j0 + j) * row_size;

                    for (l = 0; l < cb && (size_t) (j0 + j) * row_size + next
                                          + l < end; l += 64)
                    {
                        _mm_prefetch(p + next + l, _MM_HINT_T0);
                    }
                }

                g->unpack(g->fns, w + (size_t) j0 * row_size, row_size,
                          (int) jb, k0, kc, buf);

                for (r = r0; r < r1; r += nr) {
                    nr = (r1 - r > INFER_CPU_QMR) ? INFER_CPU_QMR : r1 - r;

                    g->tile(buf, kc, x + (size_t) r * ldx + k0, ldx,
                            y + (size_t) r * ldy + j0, ldy, k0 == 0,
                            (int) jb, nr);
                }
            }
        }
    }
}


/* the AVX2 path's unpacking: each row to its kc floats */
static void
infer_cpu_qunpack(const void *fns, const unsigned char *w, size_t row_size,
    int jb, int64_t k0, int64_t kc, float *buf)
{
    int  j;

    for (j = 0; j < jb; j++) {
        ((const infer_cpu_qfns_t *) fns)->deq(w + (size_t) j * row_size, k0,
                                              kc, buf + j * kc);
    }
}


/* and its tiles: INFER_CPU_QMJ weight rows at a time */
static INFER_CPU_QT_FN void
infer_cpu_qtile_rows(const float *buf, int64_t kc, const float *x,
    size_t ldx, float *y, size_t ldy, int first, int jb, int nr)
{
    int  j, nj;

    for (j = 0; j < jb; j += nj) {
        nj = (jb - j > INFER_CPU_QMJ) ? INFER_CPU_QMJ : jb - j;
        infer_cpu_qtiles(buf + j * kc, (size_t) kc, x, ldx, kc, y + j, ldy,
                         first, nj, nr);
    }
}


static void
infer_cpu_quant_tiles(const infer_cpu_qfns_t *fns, infer_dtype_e dt,
    const float *x, size_t ldx, int rows, const unsigned char *w,
    size_t row_size, int64_t n_in, int64_t n_out, float *y, size_t ldy)
{
    infer_cpu_qgemm_t  g;

    g.fns = fns;
    g.unpack = infer_cpu_qunpack;
    g.tile = infer_cpu_qtile_rows;

    infer_cpu_quant_gemm(&g, dt, x, ldx, rows, w, row_size, n_in, n_out, y,
                         ldy);
}

#endif
