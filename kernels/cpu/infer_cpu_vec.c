/*
 * ngx_infer: element-wise functions in AVX2 for the CPU backend, where the
 * C library's scalar ones cost as much as the products around them: the
 * exact GELU of a BERT layer's feed-forward (erf) is about 18 ns an
 * element through erfcf(), a third of all-MiniLM-L6-v2's time.
 *
 * erfc(z), z >= 0, is the Chebyshev fit of Numerical Recipes (erfcc):
 * t exp(-z^2 + P(t)), t = 1 / (1 + z / 2), a fractional error below
 * 1.2e-7 everywhere, so that the negative tail of GELU, 0.5 x erfc(|x| /
 * sqrt 2), keeps its relative precision; exp() is a Cephes-style range
 * reduction and polynomial, within 2 ulp, which attention's softmax uses
 * too (2.9 M exponentials in a 200-token text's forward pass).  The caller checks that the CPU
 * has AVX2 and FMA (infer_cpu_env_t.avx2).
 */

#include <math.h>
#include <stdint.h>

#include <immintrin.h>

#include "infer_cpu.h"
#include "infer_math.h"


/* exp(x) for x <= 88; 0 below -87.3 */
static inline __attribute__((always_inline, target("avx2,fma"))) __m256
infer_cpu_exp8(__m256 x)
{
    __m256   n, r, p, lo;
    __m256i  e;

    lo = _mm256_set1_ps(-87.33654f);
    x = _mm256_min_ps(x, _mm256_set1_ps(88.0f));

    /* x = n ln 2 + r, |r| <= ln 2 / 2, ln 2 in two parts for exactness */
    n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896f)),
                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);

    p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r);
    p = _mm256_add_ps(p, _mm256_set1_ps(1.0f));

    /* times 2^n, n in [-126, 127] here */
    n = _mm256_max_ps(n, _mm256_set1_ps(-126.0f));
    e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n),
                                           _mm256_set1_epi32(127)), 23);
    p = _mm256_mul_ps(p, _mm256_castsi256_ps(e));

    return _mm256_and_ps(p, _mm256_cmp_ps(x, lo, _CMP_GE_OQ));
}


/* erfc(z) for z >= 0 */
static inline __attribute__((always_inline, target("avx2,fma"))) __m256
infer_cpu_erfc8(__m256 z)
{
    __m256  t, p;

    t = _mm256_div_ps(_mm256_set1_ps(1.0f),
                      _mm256_fmadd_ps(z, _mm256_set1_ps(0.5f),
                                      _mm256_set1_ps(1.0f)));

    p = _mm256_set1_ps(0.17087277f);
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.82215223f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.48851587f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.13520398f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.27886807f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.18628806f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.09678418f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.37409196f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.00002368f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.26551223f));
    p = _mm256_fnmadd_ps(z, z, p);

    return _mm256_mul_ps(t, infer_cpu_exp8(p));
}


/*
 * GELU, 0.5 x (1 + erf(x / sqrt 2)): with h = 0.5 x erfc(|x| / sqrt 2),
 * x - h for x >= 0 and h for x < 0
 */
__attribute__((target("avx2,fma"))) void
infer_cpu_gelu_avx2(float *y, const float *x, int64_t n)
{
    __m256   v, z, h, neg;
    int64_t  j;

    for (j = 0; j + 8 <= n; j += 8) {
        v = _mm256_loadu_ps(x + j);
        z = _mm256_mul_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), v),
                          _mm256_set1_ps(INFER_SQRT1_2));
        h = _mm256_mul_ps(_mm256_mul_ps(v, _mm256_set1_ps(0.5f)),
                          infer_cpu_erfc8(z));
        neg = _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ);
        _mm256_storeu_ps(y + j,
                         _mm256_blendv_ps(_mm256_sub_ps(v, h), h, neg));
    }

    for ( /* void */ ; j < n; j++) {
        y[j] = infer_gelu(x[j]);
    }
}


/*
 * SiLU, x sigmoid(x), with e = exp(-|x|): x / (1 + e) for x >= 0, x e /
 * (1 + e) below, so that neither side overflows (a decoder's SwiGLU: 46 k
 * values a token in SmolLM2, through expf() a tenth of a batch's step)
 */
__attribute__((target("avx2,fma"))) void
infer_cpu_silu_avx2(float *y, const float *x, int64_t n)
{
    __m256   v, e, s, neg;
    int64_t  j;

    for (j = 0; j + 8 <= n; j += 8) {
        v = _mm256_loadu_ps(x + j);
        e = infer_cpu_exp8(_mm256_or_ps(v, _mm256_set1_ps(-0.0f)));
        s = _mm256_div_ps(_mm256_set1_ps(1.0f),
                          _mm256_add_ps(_mm256_set1_ps(1.0f), e));
        neg = _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ);
        s = _mm256_blendv_ps(s, _mm256_mul_ps(e, s), neg);
        _mm256_storeu_ps(y + j, _mm256_mul_ps(v, s));
    }

    for ( /* void */ ; j < n; j++) {
        y[j] = infer_silu(x[j]);
    }
}


/*
 * x[0 .. n) = exp(x - max) / sum, in place: a softmax row (attention's
 * scores); the sum is taken in the order the elements come, 8 lanes then
 * the tail
 */
__attribute__((target("avx2,fma"))) void
infer_cpu_softmax_avx2(float *x, int64_t n)
{
    float    max, sum, inv, lanes[8];
    __m256   v, m, acc;
    int64_t  j;
    int      l;

    max = -INFINITY;

    for (j = 0; j < n; j++) {
        max = x[j] > max ? x[j] : max;
    }

    m = _mm256_set1_ps(max);
    acc = _mm256_setzero_ps();

    for (j = 0; j + 8 <= n; j += 8) {
        v = infer_cpu_exp8(_mm256_sub_ps(_mm256_loadu_ps(x + j), m));
        _mm256_storeu_ps(x + j, v);
        acc = _mm256_add_ps(acc, v);
    }

    _mm256_storeu_ps(lanes, acc);

    sum = 0.0f;

    for (l = 0; l < 8; l++) {
        sum += lanes[l];
    }

    for ( /* void */ ; j < n; j++) {
        x[j] = expf(x[j] - max);
        sum += x[j];
    }

    inv = 1.0f / sum;

    for (j = 0; j < n; j++) {
        x[j] *= inv;
    }
}
