/*
 * ngx_infer: per-element and per-row math shared by the CPU and the CUDA
 * backends, so that the CPU unit tests cover the numerics the GPU runs.
 *
 * Everything is static inline and marked INFER_HD, which makes it callable
 * from host and device code when the header is compiled by nvcc.  The
 * header needs nothing but libm: it must stay includable from C99 and from
 * a .cu file alike.
 */

#ifndef _INFER_MATH_H_INCLUDED_
#define _INFER_MATH_H_INCLUDED_


#include <math.h>
#include <stdint.h>


#ifdef __CUDACC__
#define INFER_HD  __host__ __device__
#else
#define INFER_HD
#endif


/*
 * The values of infer_act_e (infer_ops.h), repeated here so that this
 * header stands alone; infer_graph.c fails to compile if they drift apart.
 */
#define INFER_MATH_ACT_NONE       0
#define INFER_MATH_ACT_RELU       1
#define INFER_MATH_ACT_GELU       2
#define INFER_MATH_ACT_TANH       3
#define INFER_MATH_ACT_SIGMOID    4
#define INFER_MATH_ACT_GELU_TANH  5
#define INFER_MATH_ACT_SILU       6


/* 1 / sqrt(2); M_SQRT1_2 is not in strict C99 */
#define INFER_SQRT1_2  0.70710678118654752440f


static inline INFER_HD uint32_t
infer_f32_bits(float f)
{
#ifdef __CUDA_ARCH__
    return __float_as_uint(f);
#else
    union { float f; uint32_t u; }  v;

    v.f = f;
    return v.u;
#endif
}


static inline INFER_HD float
infer_bits_f32(uint32_t u)
{
#ifdef __CUDA_ARCH__
    return __uint_as_float(u);
#else
    union { float f; uint32_t u; }  v;

    v.u = u;
    return v.f;
#endif
}


/* NaN propagates, as in torch.relu */
static inline INFER_HD float
infer_relu(float x)
{
    return x < 0.0f ? 0.0f : x;
}


/*
 * The exact GELU of PyTorch's nn.GELU(), 0.5 x (1 + erf(x / sqrt 2)),
 * written with erfc: 1 + erf(t) == erfc(-t), which keeps full relative
 * precision in the negative tail where 1 + erf(t) cancels.
 */
static inline INFER_HD float
infer_gelu(float x)
{
    return 0.5f * x * erfcf(-x * INFER_SQRT1_2);
}


static inline INFER_HD float
infer_tanh(float x)
{
    return tanhf(x);
}


/* exp() only ever sees a non-positive argument: no overflow for any x */
static inline INFER_HD float
infer_sigmoid(float x)
{
    float  e;

    if (x >= 0.0f) {
        return 1.0f / (1.0f + expf(-x));
    }

    e = expf(x);
    return e / (1.0f + e);
}


/* PyTorch's nn.GELU(approximate="tanh") */
static inline INFER_HD float
infer_gelu_tanh(float x)
{
    /* sqrt(2 / pi) */
    const float  k = 0.79788456080286535588f;

    return 0.5f * x * (1.0f + tanhf(k * (x + 0.044715f * x * x * x)));
}


/* x sigmoid(x), nn.SiLU(); the swish of Llama's SwiGLU */
static inline INFER_HD float
infer_silu(float x)
{
    return x * infer_sigmoid(x);
}


/*
 * The angle by which rotary embedding turns pair i (of n_rot / 2) at
 * position pos: pos * theta^(-2i / n_rot); the CPU and the GPU compute
 * the same float expression.
 */
static inline INFER_HD float
infer_rope_angle(int pos, int i, int n_rot, float theta)
{
    return (float) pos * powf(theta, -2.0f * (float) i / (float) n_rot);
}


static inline INFER_HD float
infer_act(int act, float x)
{
    switch (act) {
    case INFER_MATH_ACT_RELU:
        return infer_relu(x);
    case INFER_MATH_ACT_GELU:
        return infer_gelu(x);
    case INFER_MATH_ACT_TANH:
        return infer_tanh(x);
    case INFER_MATH_ACT_SIGMOID:
        return infer_sigmoid(x);
    case INFER_MATH_ACT_GELU_TANH:
        return infer_gelu_tanh(x);
    case INFER_MATH_ACT_SILU:
        return infer_silu(x);
    default:
        return x;
    }
}


/*
 * y = softmax(x) over one row of n values; y may be x.  The maximum is
 * subtracted first, so no exp() overflows whatever the inputs.
 */
static inline INFER_HD void
infer_softmax_row(float *y, const float *x, int n)
{
    int    i;
    float  max, sum, inv;

    if (n <= 0) {
        return;
    }

    max = x[0];
    for (i = 1; i < n; i++) {
        if (x[i] > max) {
            max = x[i];
        }
    }

    sum = 0.0f;
    for (i = 0; i < n; i++) {
        y[i] = expf(x[i] - max);
        sum += y[i];
    }

    inv = 1.0f / sum;
    for (i = 0; i < n; i++) {
        y[i] *= inv;
    }
}


/* IEEE 754 binary16 to binary32: exact, NaN payloads kept */
static inline INFER_HD float
infer_f16_to_f32(uint16_t h)
{
    uint32_t  sign, exp, man;

    sign = (uint32_t) (h & 0x8000) << 16;
    exp = (h >> 10) & 0x1f;
    man = h & 0x3ff;

    if (exp == 0x1f) {
        return infer_bits_f32(sign | 0x7f800000 | (man << 13));
    }

    if (exp != 0) {
        return infer_bits_f32(sign | ((exp + 112) << 23) | (man << 13));
    }

    if (man == 0) {
        return infer_bits_f32(sign);
    }

    /* a subnormal half is a normal float: shift the leading 1 out */
    exp = 113;
    while ((man & 0x400) == 0) {
        man <<= 1;
        exp--;
    }

    return infer_bits_f32(sign | (exp << 23) | ((man & 0x3ff) << 13));
}


/* binary32 to binary16, round to nearest even; NaN stays a (quiet) NaN */
static inline INFER_HD uint16_t
infer_f32_to_f16(float f)
{
    uint32_t  x, ax, sign, m, r, rem, half;
    int       shift;

    x = infer_f32_bits(f);
    sign = (x >> 16) & 0x8000;
    ax = x & 0x7fffffff;

    if (ax > 0x7f800000) {
        return (uint16_t) (sign | 0x7e00 | ((ax >> 13) & 0x3ff));
    }

    /* 65520, half way between 65504 (the largest half) and 2^16, rounds
     * to the even neighbour, which is infinity */
    if (ax >= 0x477ff000) {
        return (uint16_t) (sign | 0x7c00);
    }

    if (ax >= 0x38800000) {
        /* normal half: round the 13 dropped bits, a carry into the
         * exponent is the right answer */
        ax += 0xfff + ((ax >> 13) & 1);
        return (uint16_t) (sign | ((ax - 0x38000000) >> 13));
    }

    /* 2^-25 and below round to zero (2^-25 itself is a tie, to even) */
    if (ax <= 0x33000000) {
        return (uint16_t) sign;
    }

    /* subnormal half: units of 2^-24; the exponent is 102..112 here */
    m = (ax & 0x7fffff) | 0x800000;
    shift = 126 - (int) (ax >> 23);
    r = m >> shift;
    rem = m & ((1u << shift) - 1);
    half = 1u << (shift - 1);

    if (rem > half || (rem == half && (r & 1))) {
        r++;
    }

    return (uint16_t) (sign | r);
}


/* f rounded to the nearest binary16, back as binary32 */
static inline INFER_HD float
infer_f16_round(float f)
{
    return infer_f16_to_f32(infer_f32_to_f16(f));
}


static inline INFER_HD float
infer_bf16_to_f32(uint16_t h)
{
    return infer_bits_f32((uint32_t) h << 16);
}


static inline INFER_HD uint16_t
infer_f32_to_bf16(float f)
{
    uint32_t  x;

    x = infer_f32_bits(f);

    if ((x & 0x7fffffff) > 0x7f800000) {
        return (uint16_t) ((x >> 16) | 0x0040);
    }

    x += 0x7fff + ((x >> 16) & 1);
    return (uint16_t) (x >> 16);
}


#endif /* _INFER_MATH_H_INCLUDED_ */
