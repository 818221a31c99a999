/*
 * ngx_infer: unit tests of kernels/ (math, safetensors, config, the CPU
 * backend), printing TAP.  The exit status is nonzero when a test fails.
 *
 * References are independent of the code under test: libm in double for
 * the math, ldexp()/rint() for the float conversions, and a plain loop in
 * double (ref_mlp_forward, ref.h) for the CPU backend, run through the
 * runner as the module runs it.
 */

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "infer_math.h"
#include "infer_model.h"
#include "infer_mlp.h"
#include "infer_backend.h"
#include "infer_runner.h"

#include "tt.h"


static int
close_rel(double a, double b, double rtol, double atol)
{
    return fabs(a - b) <= atol + rtol * fabs(b);
}


/* math */

static void
test_activations(void)
{
    int     good, i;
    float   x, got;
    double  ref, worst;

    ok(infer_relu(-1.0f) == 0.0f && infer_relu(2.5f) == 2.5f
       && infer_relu(0.0f) == 0.0f && isnan(infer_relu(NAN)),
       "relu: -1, 2.5, 0 and NaN");

    ok(infer_gelu(0.0f) == 0.0f
       && close_rel(infer_gelu(1.0f), 0.8413447460685429, 1e-6, 0)
       && close_rel(infer_gelu(-1.0f), -0.15865525393145707, 1e-6, 0)
       && close_rel(infer_gelu(3.0f), 2.995950393709, 1e-6, 0),
       "gelu: hand values at 0, 1, -1, 3");

    good = 1;
    worst = 0;
    for (i = -3000; i <= 10000; i++) {
        x = (float) i / 1000.0f;
        ref = 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
        got = infer_gelu(x);
        if (!close_rel(got, ref, 1e-6, 1e-12)) {
            good = 0;
            worst = x;
        }
    }
    ok(good, "gelu == 0.5 x (1 + erf(x / sqrt 2)) on [-3, 10]%s",
       good ? "" : " (fails)");
    if (!good) {
        diag("worst x %g", worst);
    }

    /* in the far tail 1 + erf cancels in double too: compare with erfc */
    good = 1;
    for (i = -10000; i <= -3000; i++) {
        x = (float) i / 1000.0f;
        ref = 0.5 * x * erfc(-x / sqrt(2.0));
        good &= close_rel(infer_gelu(x), ref, 1e-5, 1e-40);
    }
    ok(good && infer_gelu(-20.0f) <= 0.0f && !isnan(infer_gelu(-100.0f))
       && infer_gelu(100.0f) == 100.0f,
       "gelu keeps relative precision on [-10, -3], finite at +-100");

    good = 1;
    for (i = -20000; i <= 20000; i++) {
        x = (float) i / 1000.0f;
        good &= close_rel(infer_tanh(x), tanh(x), 1e-6, 1e-7);
    }
    ok(good, "tanh == libm tanh on [-20, 20]");

    ok(infer_sigmoid(100.0f) == 1.0f
       && close_rel(infer_sigmoid(-100.0f), exp(-100.0), 0.05, 0)
       && infer_sigmoid(1000.0f) == 1.0f && infer_sigmoid(-1000.0f) == 0.0f
       && infer_sigmoid(0.0f) == 0.5f
       && !isnan(infer_sigmoid(INFINITY)) && !isnan(infer_sigmoid(-INFINITY)),
       "sigmoid: +-100, +-1000, +-inf, 0 are finite and right");

    good = 1;
    for (i = -30000; i <= 30000; i++) {
        x = (float) i / 1000.0f;
        good &= close_rel(infer_sigmoid(x), 1.0 / (1.0 + exp(-(double) x)),
                          1e-6, 0);
    }
    ok(good, "sigmoid == 1 / (1 + exp(-x)) on [-30, 30], relatively");

    good = 1;
    for (i = -500; i <= 500; i++) {
        x = (float) i / 50.0f;
        good &= infer_act(INFER_ACT_NONE, x) == x
                && infer_act(INFER_ACT_RELU, x) == infer_relu(x)
                && infer_act(INFER_ACT_GELU, x) == infer_gelu(x)
                && infer_act(INFER_ACT_TANH, x) == infer_tanh(x)
                && infer_act(INFER_ACT_SIGMOID, x) == infer_sigmoid(x)
                && infer_act(INFER_ACT_GELU_TANH, x) == infer_gelu_tanh(x)
                && infer_act(INFER_ACT_SILU, x) == infer_silu(x);
    }
    ok(good, "infer_act dispatches every infer_act_e");
}


static void
test_softmax(void)
{
    int    i, n, good;
    float  x[100], y[100], big[3], ref[3];
    float  one[1], neg[2];
    double sum;

    good = 1;
    for (n = 1; n <= 100; n += 11) {
        for (i = 0; i < n; i++) {
            x[i] = rndf(-20.0f, 20.0f);
        }

        infer_softmax_row(y, x, n);

        sum = 0;
        for (i = 0; i < n; i++) {
            good &= y[i] >= 0.0f && y[i] <= 1.0f;
            sum += y[i];
        }
        good &= fabs(sum - 1.0) < 1e-5;
    }
    ok(good, "softmax rows of 1..100 values sum to 1");

    big[0] = 1000.0f;
    big[1] = 1001.0f;
    big[2] = 1002.0f;
    ref[0] = 0.09003057317038046f;
    ref[1] = 0.24472847105479767f;
    ref[2] = 0.6652409557748219f;
    infer_softmax_row(big, big, 3);
    ok(close_rel(big[0], ref[0], 1e-6, 0) && close_rel(big[1], ref[1], 1e-6, 0)
       && close_rel(big[2], ref[2], 1e-6, 0),
       "softmax of [1000, 1001, 1002] in place == softmax of [0, 1, 2]");

    neg[0] = -1e30f;
    neg[1] = 3e38f;
    infer_softmax_row(neg, neg, 2);
    one[0] = -5.0f;
    infer_softmax_row(one, one, 1);
    ok(neg[0] == 0.0f && neg[1] == 1.0f && one[0] == 1.0f,
       "softmax of [-1e30, 3e38] is [0, 1]; of one value is 1");
}


/* binary16 by definition, through ldexp */
static double
f16_ref(uint16_t h)
{
    int     e, man;
    double  v;

    e = (h >> 10) & 0x1f;
    man = h & 0x3ff;

    if (e == 0x1f) {
        v = man ? NAN : INFINITY;
    } else if (e == 0) {
        v = ldexp(man, -24);
    } else {
        v = ldexp(1024 + man, e - 25);
    }

    return (h & 0x8000) ? -v : v;
}


/* round x to a float format with p mantissa bits (implicit one included),
 * minimum normal exponent emin, by rint() in double */
static double
round_ref(float f, int p, int emin)
{
    int     e;
    double  x, q;

    x = fabs((double) f);
    if (x == 0.0) {
        return f;
    }

    frexp(x, &e);
    e = e - 1 < emin ? emin : e - 1;
    q = ldexp(1.0, e - (p - 1));

    return copysign(rint(x / q) * q, f);
}


static void
test_conversions(void)
{
    int       good, nan_good, i;
    float     f, g;
    double    ref;
    uint16_t  h, b;
    uint32_t  u, v;

    good = 1;
    nan_good = 1;
    for (i = 0; i < 65536; i++) {
        h = (uint16_t) i;
        f = infer_f16_to_f32(h);
        u = infer_f32_bits(f);

        if (((h >> 10) & 0x1f) == 0x1f && (h & 0x3ff)) {
            nan_good &= isnan(f) && (u >> 31) == (uint32_t) (h >> 15)
                        && ((u >> 13) & 0x3ff) == (uint32_t) (h & 0x3ff);
            continue;
        }

        good &= (double) f == f16_ref(h)
                && !signbit(f) == !signbit(f16_ref(h))
                && infer_f32_to_f16(f) == h;
    }
    ok(good, "f16 -> f32 exact for all 63488 non-NaN halves, and back to "
       "the same bits");
    ok(nan_good, "f16 NaNs -> f32 NaNs with sign and payload");

    good = 1;
    for (i = 0; i < 65536; i++) {
        h = (uint16_t) i;
        f = infer_bf16_to_f32(h);

        if (((h >> 7) & 0xff) == 0xff && (h & 0x7f)) {
            good &= isnan(f) && isnan(infer_bf16_to_f32(infer_f32_to_bf16(f)));
            continue;
        }

        good &= infer_f32_to_bf16(f) == h
                && infer_f32_bits(f) == (uint32_t) i << 16;
    }
    ok(good, "bf16 -> f32 -> bf16 round-trips all 65536 patterns");

    ok(infer_f32_to_f16(65504.0f) == 0x7bff
       && infer_f32_to_f16(65519.99f) == 0x7bff
       && infer_f32_to_f16(65520.0f) == 0x7c00
       && infer_f32_to_f16(-1e10f) == 0xfc00
       && infer_f32_to_f16(INFINITY) == 0x7c00
       && infer_f32_to_f16(ldexpf(1.0f, -25)) == 0x0000
       && infer_f32_to_f16(nextafterf(ldexpf(1.0f, -25), 1.0f)) == 0x0001
       && infer_f32_to_f16(ldexpf(1.5f, -24)) == 0x0002
       && infer_f32_to_f16(ldexpf(2.5f, -24)) == 0x0002
       && infer_f32_to_f16(1.0f + ldexpf(1.0f, -11)) == 0x3c00
       && infer_f32_to_f16(1.0f + ldexpf(3.0f, -11)) == 0x3c02
       && infer_f32_to_f16(-0.0f) == 0x8000
       && infer_f32_to_f16(ldexpf(1023.5f, -24)) == 0x0400
       && (infer_f32_to_f16(NAN) & 0x7fff) > 0x7c00,
       "f32 -> f16: overflow, ties to even, subnormals, -0, NaN");

    ok(infer_f32_to_bf16(1.0f + ldexpf(1.0f, -8)) == 0x3f80
       && infer_f32_to_bf16(1.0f + ldexpf(3.0f, -8)) == 0x3f82
       && infer_f32_to_bf16(FLT_MAX) == 0x7f80
       && infer_f32_to_bf16(-INFINITY) == 0xff80
       && (infer_f32_to_bf16(infer_bits_f32(0x7f800001)) & 0x7fff) > 0x7f80,
       "f32 -> bf16: ties to even, overflow, inf, NaN stays NaN");

    /* random floats of every exponent against rint() */
    good = 1;
    for (i = 0; i < 4000000; i++) {
        v = rnd32();
        f = infer_bits_f32(v);
        if (isnan(f)) {
            continue;
        }

        ref = round_ref(f, 11, -14);
        if (fabs(ref) >= 65520.0) {
            ref = copysign(INFINITY, f);
        }
        g = infer_f16_to_f32(infer_f32_to_f16(f));
        good &= (double) g == ref && !signbit(g) == !signbit(f);

        ref = round_ref(f, 8, -126);
        if (fabs(ref) >= ldexp(1.0, 128)) {
            ref = copysign(INFINITY, f);
        }
        b = infer_f32_to_bf16(f);
        g = infer_bf16_to_f32(b);
        good &= (double) g == ref && !signbit(g) == !signbit(f);
    }
    ok(good, "f32 -> f16 and -> bf16 round to nearest even (4M random "
       "floats against rint)");
}


/* safetensors */

static unsigned char *
st_build(const char *hdr, size_t hlen, size_t dlen, size_t *len)
{
    size_t          i;
    unsigned char  *p;

    *len = 8 + hlen + dlen;

    /* exactly the size: a read past the end shows under ASan/valgrind */
    p = malloc(*len);
    if (p == NULL) {
        perror("malloc");
        exit(2);
    }

    for (i = 0; i < 8; i++) {
        p[i] = (unsigned char) ((uint64_t) hlen >> (8 * i));
    }

    memcpy(p + 8, hdr, hlen);

    for (i = 0; i < dlen; i++) {
        p[8 + hlen + i] = (unsigned char) i;
    }

    return p;
}


static int
st_fails(const char *hdr, size_t dlen, const char *expect, char *err)
{
    int                   rc;
    size_t                len;
    unsigned char        *p;
    infer_safetensors_t   st;

    memset(&st, 0, sizeof(st));
    err[0] = '\0';

    p = st_build(hdr, strlen(hdr), dlen, &len);
    rc = infer_safetensors_parse(&st, p, len, err, INFER_ERRLEN);
    infer_safetensors_close(&st);
    free(p);

    return rc == -1 && st.tensors == NULL && strstr(err, expect) != NULL;
}


static const char  st_valid[] =
    "{\"__metadata__\": {\"format\": \"pt\"},"
    " \"a\": {\"dtype\": \"F32\", \"shape\": [2, 3],"
    " \"data_offsets\": [0, 24]},"
    " \"b\": {\"dtype\": \"F16\", \"shape\": [4], \"data_offsets\": [24, 32]},"
    " \"c\": {\"dtype\": \"BF16\", \"shape\": [], \"data_offsets\": [32, 34]},"
    " \"e\": {\"dtype\": \"F32\", \"shape\": [0, 5],"
    " \"data_offsets\": [34, 34]},"
    " \"z\": {\"dtype\": \"F16\", \"shape\": [7, 0, 9],"
    " \"data_offsets\": [0, 0], \"extra\": 1}}      ";


static void
test_safetensors_parse(void)
{
    int                    rc, good, i, n, accepted;
    char                   err[INFER_ERRLEN];
    size_t                 len, k, cut;
    unsigned char         *p, *q;
    infer_safetensors_t    st;
    const infer_st_tensor_t  *a, *b, *c, *e, *t;
    static const char      junk[] = "0123456789[]{},\"-: ";

    /* one tensor "w": dtype, shape and data_offsets as JSON text */
#define W(dt, shape, offs)                                                    \
    "{\"w\": {\"dtype\": " dt ", \"shape\": " shape ", \"data_offsets\": "    \
    offs "}}"
#define W2(a, b)  "{\"x\": {" a "}, \"y\": {" b "}}"

    static const char  st_ints[] =
        W2("\"dtype\": \"I64\", \"shape\": [1, 3], "
           "\"data_offsets\": [0, 24]",
           "\"dtype\": \"I32\", \"shape\": [2], \"data_offsets\": [24, 32]");

    static const struct {
        const char  *what;
        const char  *hdr;
        const char  *expect;
    } bad[] = {
        { "empty header", "", "not valid JSON" },
        { "not JSON", "hello", "not valid JSON" },
        { "truncated JSON", "{\"a\": {\"dtype\": \"F32\"", "not valid JSON" },
        { "JSON array", "[1, 2]", "not a JSON object" },
        { "duplicate key",
          "{\"a\": {\"dtype\": \"F32\", \"shape\": [], \"data_offsets\": "
          "[0, 4]}, \"a\": {\"dtype\": \"F32\", \"shape\": [], "
          "\"data_offsets\": [4, 8]}}", "duplicate" },
        { "NUL in a name",
          "{\"a\\u0000b\": {\"dtype\": \"F32\", \"shape\": [],"
          " \"data_offsets\": [0, 4]}}", "not valid JSON" },
        { "entry not an object", "{\"w\": 1}",
          "tensor \"w\": entry is not an object" },
        { "dtype missing",
          "{\"w\": {\"shape\": [], \"data_offsets\": [0, 4]}}",
          "tensor \"w\": \"dtype\" is missing" },
        { "dtype not a string", W("4", "[]", "[0, 4]"),
          "\"dtype\" is missing or not a string" },
        { "dtype U8", W("\"U8\"", "[1]", "[0, 1]"),
          "tensor \"w\": unsupported dtype \"U8\" (supported: F32, F16, "
          "BF16, I32, I64)" },
        { "dtype I64 of the wrong size", W("\"I64\"", "[2]", "[0, 8]"),
          "tensor \"w\": shape and dtype I64 need 16 bytes, data_offsets"
          " [0, 8] hold 8" },
        { "dtype f32 (case)", W("\"f32\"", "[1]", "[0, 4]"),
          "unsupported dtype \"f32\"" },
        { "shape missing",
          "{\"w\": {\"dtype\": \"F32\", \"data_offsets\": [0, 4]}}",
          "\"shape\" is missing" },
        { "shape negative", W("\"F32\"", "[-1]", "[0, 4]"),
          "shape[0] is not a non-negative integer" },
        { "shape real", W("\"F32\"", "[1.0]", "[0, 4]"),
          "shape[0] is not a non-negative integer" },
        { "shape of 9 dims", W("\"F32\"", "[1, 1, 1, 1, 1, 1, 1, 1, 1]",
                               "[0, 4]"), "9 dimensions" },
        { "shape/size mismatch", W("\"F32\"", "[2, 3]", "[0, 20]"),
          "tensor \"w\": shape and dtype F32 need 24 bytes, data_offsets"
          " [0, 20] hold 20" },
        { "shape product overflows",
          W("\"F32\"", "[4294967296, 4294967296, 4294967296, 16]", "[0, 0]"),
          "tensor \"w\": shape and dtype F32 need more than 2^64 bytes" },
        { "shape product wraps to a small number",
          W("\"F16\"", "[4611686018427387904, 4, 2]", "[0, 4]"),
          "need more than 2^64 bytes" },
        { "shape with a zero and a huge dimension",
          W("\"F32\"", "[0, 4611686018427387904]", "[0, 4]"),
          "need 0 bytes" },
        { "data_offsets missing",
          "{\"w\": {\"dtype\": \"F32\", \"shape\": []}}",
          "\"data_offsets\" is missing" },
        { "data_offsets of one", W("\"F32\"", "[]", "[0]"),
          "not an array of two integers" },
        { "data_offsets strings", W("\"F32\"", "[]", "[\"0\", \"4\"]"),
          "not an array of two integers" },
        { "data_offsets negative", W("\"F32\"", "[1]", "[-4, 0]"),
          "not ascending non-negative" },
        { "data_offsets reversed", W("\"F32\"", "[1]", "[8, 4]"),
          "not ascending non-negative" },
        { "data_offsets past the data", W("\"F32\"", "[1]", "[60, 64]"),
          "end past the data section of 40 bytes" },
        { "data_offsets huge",
          W("\"F32\"", "[1]", "[9223372036854775803, 9223372036854775807]"),
          "end past the data section" },
        { "overlapping tensors",
          W2("\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]",
             "\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [4, 12]"),
          "tensors \"x\" [0, 8] and \"y\" [4, 12] overlap" },
        { "same range twice",
          W2("\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]",
             "\"dtype\": \"F16\", \"shape\": [4], \"data_offsets\": [0, 8]"),
          "overlap" },
        { "__metadata__ not an object", "{\"__metadata__\": [1]}",
          "\"__metadata__\" is not a JSON object" },
        { "__metadata__ value not a string",
          "{\"__metadata__\": {\"epoch\": 3}}",
          "value of \"epoch\" is not a string" },
    };

    /* the valid file */
    memset(&st, 0, sizeof(st));
    p = st_build(st_valid, sizeof(st_valid) - 1, 36, &len);
    rc = infer_safetensors_parse(&st, p, len, err, sizeof(err));

    a = infer_safetensors_find(&st, "a");
    b = infer_safetensors_find(&st, "b");
    c = infer_safetensors_find(&st, "c");
    e = infer_safetensors_find(&st, "e");

    ok(rc == 0 && st.ntensors == 5 && a && b && c && e
       && infer_safetensors_find(&st, "nope") == NULL
       && st.data == p + 8 + sizeof(st_valid) - 1 && st.data_len == 36,
       "valid header with metadata, padding, scalar and empty tensors");

    ok(rc == 0 && a->dtype == INFER_DT_F32 && a->ndim == 2
       && a->shape[0] == 2 && a->shape[1] == 3 && a->nelts == 6
       && a->nbytes == 24 && a->data == st.data && strcmp(a->name, "a") == 0
       && b->dtype == INFER_DT_F16 && b->nelts == 4 && b->data == st.data + 24
       && c->dtype == INFER_DT_BF16 && c->ndim == 0 && c->nelts == 1
       && c->nbytes == 2 && e->nelts == 0 && e->nbytes == 0,
       "tensor dtype, shape, element count, size and data pointer");

    ok(strcmp(infer_dtype_name(INFER_DT_F32), "F32") == 0
       && strcmp(infer_dtype_name(INFER_DT_F16), "F16") == 0
       && strcmp(infer_dtype_name(INFER_DT_BF16), "BF16") == 0,
       "infer_dtype_name");

    infer_safetensors_close(&st);
    infer_safetensors_close(&st);
    free(p);

    /* integer tensors are read (an architecture refuses one it would
     * compute with): BERT checkpoints carry embeddings.position_ids */
    memset(&st, 0, sizeof(st));
    p = st_build(st_ints, sizeof(st_ints) - 1, 32, &len);
    rc = infer_safetensors_parse(&st, p, len, err, sizeof(err));
    a = infer_safetensors_find(&st, "x");
    b = infer_safetensors_find(&st, "y");
    ok(rc == 0 && a && b && a->dtype == INFER_DT_I64 && a->nelts == 3
       && a->nbytes == 24 && b->dtype == INFER_DT_I32 && b->nelts == 2
       && b->nbytes == 8 && strcmp(infer_dtype_name(a->dtype), "I64") == 0,
       "reads I64 and I32 tensors: %s", rc == 0 ? "ok" : err);
    infer_safetensors_close(&st);
    free(p);

    for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        rc = st_fails(bad[k].hdr, 40, bad[k].expect, err);
        ok(rc, "rejects %s: %s", bad[k].what, err);
    }

    /* cases that need a hand-made size field */
    memset(&st, 0, sizeof(st));
    p = st_build("{}", 2, 0, &len);
    rc = infer_safetensors_parse(&st, p, 5, err, sizeof(err));
    ok(rc == -1 && strstr(err, "file is 5 bytes, too short") != NULL,
       "rejects a file shorter than the size field: %s", err);

    rc = infer_safetensors_parse(&st, p, len, err, sizeof(err));
    ok(rc == 0 && st.ntensors == 0, "accepts an empty header {}");
    infer_safetensors_close(&st);

    p[0] = 0xe8;
    p[1] = 0x03;
    rc = infer_safetensors_parse(&st, p, len, err, sizeof(err));
    ok(rc == -1 && strcmp(err, "header size 1000 exceeds file size 10") == 0,
       "rejects a header size past the end: %s", err);

    memset(p, 0xff, 8);
    rc = infer_safetensors_parse(&st, p, len, err, sizeof(err));
    ok(rc == -1 && strstr(err, "header size 18446744073709551615 exceeds")
                   != NULL,
       "rejects header size 2^64-1 without overflow");
    free(p);

    p = st_build("{\"a\": 1\0}", 9, 0, &len);
    rc = infer_safetensors_parse(&st, p, len, err, sizeof(err));
    ok(rc == -1 && strstr(err, "not valid JSON") != NULL,
       "rejects a NUL byte in the header: %s", err);
    free(p);

    /* every truncation, then random damage; each copy is malloc'd to its
     * exact length, so any read past it shows under ASan or valgrind */
    p = st_build(st_valid, sizeof(st_valid) - 1, 36, &len);
    good = 1;
    accepted = 0;

    for (cut = 0; cut <= len; cut++) {
        q = malloc(cut ? cut : 1);
        if (q == NULL) {
            exit(2);
        }
        memcpy(q, p, cut);
        err[0] = '\0';
        rc = infer_safetensors_parse(&st, q, cut, err, sizeof(err));
        good &= (rc == 0) == (cut >= len - 2) && (rc == 0 || err[0] != '\0');
        infer_safetensors_close(&st);
        free(q);
    }
    ok(good, "every truncation of a valid file fails cleanly, except of the "
       "unused trailing bytes");

    good = 1;
    for (i = 0; i < 30000; i++) {
        q = malloc(len);
        if (q == NULL) {
            exit(2);
        }
        memcpy(q, p, len);

        for (n = 1 + (int) (rnd32() % 4); n > 0; n--) {
            k = rnd32() % (8 + sizeof(st_valid) - 1);
            q[k] = (rnd32() & 1) ? (unsigned char) rnd32()
                                 : (unsigned char) junk[rnd32()
                                                        % (sizeof(junk) - 1)];
        }

        err[0] = '\0';

        if (infer_safetensors_parse(&st, q, len, err, sizeof(err)) == 0) {
            accepted++;
            for (k = 0; k < st.ntensors; k++) {
                t = &st.tensors[k];
                good &= (const unsigned char *) t->data >= st.data
                        && (const unsigned char *) t->data + t->nbytes
                           <= q + len;
            }
        } else {
            good &= err[0] != '\0';
        }

        infer_safetensors_close(&st);
        free(q);
    }
    ok(good, "30000 damaged headers: every accepted tensor lies in the "
       "buffer (%d accepted)", accepted);

    free(p);
}


static int
write_str(const char *path, const char *s)
{
    return write_file(path, s, strlen(s));
}


static void
test_safetensors_open(void)
{
    int                  rc;
    char                 path[300], dpath[300], expect[700];
    char                 err[INFER_ERRLEN];
    size_t               len;
    unsigned char       *p;
    infer_safetensors_t  st;

    snprintf(path, sizeof(path), "%s/open.safetensors", tt_dir);

    p = st_build(st_valid, sizeof(st_valid) - 1, 36, &len);
    rc = write_file(path, p, len);
    free(p);

    rc = rc == 0 ? infer_safetensors_open(&st, path, err, sizeof(err)) : -1;
    ok(rc == 0 && st.map != NULL && st.map_len == len && st.ntensors == 5
       && (unsigned char *) st.map + 8 + sizeof(st_valid) - 1 == st.data
       && ((const unsigned char *) st.tensors[0].data)[0] == 0,
       "open() maps a valid file");
    infer_safetensors_close(&st);

    snprintf(dpath, sizeof(dpath), "%s/missing.safetensors", tt_dir);
    rc = infer_safetensors_open(&st, dpath, err, sizeof(err));
    snprintf(expect, sizeof(expect), "%s: cannot open: %s", dpath,
             strerror(ENOENT));
    ok(rc == -1 && strcmp(err, expect) == 0, "open() of a missing file: %s",
       err);

    p = st_build("{}", 2, 90, &len);
    p[0] = 0x40;
    p[1] = 0xe2;
    p[2] = 0x01;
    rc = write_file(path, p, len);
    free(p);

    rc = rc == 0 ? infer_safetensors_open(&st, path, err, sizeof(err)) : 0;
    snprintf(expect, sizeof(expect), "%s: header size 123456 exceeds file "
             "size 100", path);
    ok(rc == -1 && strcmp(err, expect) == 0, "open() names the path: %s",
       err);

    rc = write_file(path, "abc", 3);
    rc = rc == 0 ? infer_safetensors_open(&st, path, err, sizeof(err)) : 0;
    ok(rc == -1 && strstr(err, "file is 3 bytes") != NULL,
       "open() of a 3-byte file: %s", err);

    rc = infer_safetensors_open(&st, tt_dir, err, sizeof(err));
    ok(rc == -1 && strstr(err, "not a regular file") != NULL,
       "open() of a directory: %s", err);

    unlink(path);
}


/* config.json */

static int
config_fails(const char *json, const char *expect, char *err)
{
    int             rc;
    infer_model_t  *m;

    m = calloc(1, sizeof(infer_model_t));
    if (m == NULL) {
        exit(2);
    }

    err[0] = '\0';
    rc = infer_model_parse_config(m, json, strlen(json), "x/config.json",
                                  err, INFER_ERRLEN);
    infer_model_free(m);

    return rc == -1 && strncmp(err, "x/config.json: ", 15) == 0
           && strstr(err, expect) != NULL;
}


#define MLP_HEAD  "{\"architecture\": \"mlp\", \"input\": {\"shape\": [4]}, "

static void
test_config(void)
{
    int             rc;
    char            err[INFER_ERRLEN];
    size_t          k;
    infer_mlp_t    *mlp;
    infer_model_t  *m;

    static const char  full[] =
        "{\"architecture\": \"mlp\", \"description\": \"ignored\","
        " \"input\": {\"name\": \"pixels\", \"shape\": [1, 28, 28],"
        " \"datatype\": \"FP32\"},"
        " \"layers\": [{\"weight\": \"fc1.weight\", \"bias\": \"fc1.bias\","
        " \"activation\": \"relu\"},"
        " {\"weight\": \"fc2.weight\", \"bias\": null,"
        " \"activation\": \"sigmoid\"},"
        " {\"weight\": \"fc3.weight\", \"activation\": \"gelu\"},"
        " {\"weight\": \"fc4.weight\", \"activation\": \"tanh\"},"
        " {\"weight\": \"fc5.weight\", \"activation\": \"none\"}],"
        " \"output\": {\"name\": \"logits\", \"softmax\": true}}";

    static const char  minimal[] =
        MLP_HEAD "\"layers\": [{\"weight\": \"w\"}]}";

    static const struct {
        const char  *what;
        const char  *json;
        const char  *expect;
    } bad[] = {
        { "invalid JSON", "{\"architecture\": ", "line 1, column" },
        { "not an object", "[]", "not a JSON object" },
        { "no architecture", "{}", "\"architecture\" is missing" },
        { "unknown architecture", "{\"architecture\": \"bert\"}",
          "unknown architecture \"bert\" (supported: mlp)" },
        { "no input", "{\"architecture\": \"mlp\", \"layers\": []}",
          "\"input\" is missing" },
        { "input.shape missing",
          "{\"architecture\": \"mlp\", \"input\": {}}",
          "input.shape must be" },
        { "input.shape empty",
          "{\"architecture\": \"mlp\", \"input\": {\"shape\": []}}",
          "input.shape must be" },
        { "input.shape zero",
          "{\"architecture\": \"mlp\", \"input\": {\"shape\": [4, 0]}}",
          "input.shape[1] is not a positive integer" },
        { "input.shape string",
          "{\"architecture\": \"mlp\", \"input\": {\"shape\": [\"4\"]}}",
          "input.shape[0] is not a positive integer" },
        { "input.shape too large",
          "{\"architecture\": \"mlp\", \"input\":"
          " {\"shape\": [65536, 65536]}}", "more than" },
        { "input.datatype FP16",
          "{\"architecture\": \"mlp\", \"input\":"
          " {\"shape\": [4], \"datatype\": \"FP16\"}}",
          "input.datatype \"FP16\" is not supported (supported: FP32)" },
        { "input.name empty",
          "{\"architecture\": \"mlp\", \"input\":"
          " {\"shape\": [4], \"name\": \"\"}}", "input.name is not" },
        { "unknown input key",
          "{\"architecture\": \"mlp\", \"input\":"
          " {\"shape\": [4], \"dtype\": \"FP32\"}}",
          "input: unknown key \"dtype\"" },
        { "no layers", MLP_HEAD "\"layers\": []}", "\"layers\" is missing" },
        { "layers not an array", MLP_HEAD "\"layers\": {}}",
          "\"layers\" is missing" },
        { "layer not an object",
          MLP_HEAD "\"layers\": [{\"weight\": \"w\"}, 3]}",
          "layers[1] is not an object" },
        { "layer without weight", MLP_HEAD "\"layers\": [{\"bias\": \"b\"}]}",
          "layers[0].weight is missing" },
        { "bias a number", MLP_HEAD "\"layers\": [{\"weight\": \"w\","
          " \"bias\": 1}]}", "layers[0].bias is not a non-empty string" },
        { "unknown activation", MLP_HEAD "\"layers\": [{\"weight\": \"w\"},"
          " {\"weight\": \"v\", \"activation\": \"softplus\"}]}",
          "layers[1].activation \"softplus\" is unknown (supported: relu, "
          "gelu, tanh, sigmoid, none)" },
        { "activation not a string", MLP_HEAD "\"layers\": [{\"weight\":"
          " \"w\", \"activation\": 1}]}", "activation is not a string" },
        { "misspelt layer key", MLP_HEAD "\"layers\": [{\"weight\": \"w\","
          " \"activaton\": \"relu\"}]}",
          "layers[0]: unknown key \"activaton\"" },
        { "output not an object", MLP_HEAD "\"layers\": [{\"weight\": \"w\"}],"
          " \"output\": 1}", "\"output\" is not an object" },
        { "output.softmax a string", MLP_HEAD "\"layers\": [{\"weight\":"
          " \"w\"}], \"output\": {\"softmax\": \"yes\"}}",
          "output.softmax is not true or false" },
        { "unknown output key", MLP_HEAD "\"layers\": [{\"weight\": \"w\"}],"
          " \"output\": {\"sofmax\": true}}", "output: unknown key" },
    };

    m = calloc(1, sizeof(infer_model_t));
    if (m == NULL) {
        exit(2);
    }

    rc = infer_model_parse_config(m, full, sizeof(full) - 1, "config.json",
                                  err, sizeof(err));
    mlp = m->arch_data;
    ok(rc == 0 && m->arch == &infer_arch_mlp
       && strcmp(m->arch->name, "mlp") == 0
       && strcmp(m->input.name, "pixels") == 0
       && m->input.datatype == INFER_IO_FP32 && m->input.ndim == 4
       && m->input.dims[0] == -1
       && m->input.dims[1] == 1 && m->input.dims[3] == 28
       && m->input.size == 784 && strcmp(m->output.name, "logits") == 0
       && mlp->softmax == 1 && mlp->nlayers == 5
       && strcmp(mlp->layers[0].wname, "fc1.weight") == 0
       && strcmp(mlp->layers[0].bname, "fc1.bias") == 0
       && mlp->layers[1].bname == NULL && mlp->layers[2].bname == NULL
       && mlp->layers[0].act == INFER_ACT_RELU
       && mlp->layers[1].act == INFER_ACT_SIGMOID
       && mlp->layers[2].act == INFER_ACT_GELU
       && mlp->layers[3].act == INFER_ACT_TANH
       && mlp->layers[4].act == INFER_ACT_NONE,
       "config: every field of a full mlp config");
    infer_model_free(m);

    m = calloc(1, sizeof(infer_model_t));
    if (m == NULL) {
        exit(2);
    }

    rc = infer_model_parse_config(m, minimal, sizeof(minimal) - 1,
                                  "config.json", err, sizeof(err));
    mlp = m->arch_data;
    ok(rc == 0 && strcmp(m->input.name, "input") == 0
       && m->input.datatype == INFER_IO_FP32
       && strcmp(m->output.name, "output") == 0 && mlp->softmax == 0
       && mlp->nlayers == 1 && mlp->layers[0].bname == NULL
       && mlp->layers[0].act == INFER_ACT_NONE && m->input.size == 4,
       "config: defaults for input, output, bias, activation");
    infer_model_free(m);

    for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        rc = config_fails(bad[k].json, bad[k].expect, err);
        ok(rc, "config rejects %s: %s", bad[k].what, err);
    }
}


static void
free_vals(float **vals, int n)
{
    while (n-- > 0) {
        free(vals[n]);
    }
}


/* an "mlp" model's layer i, and the weight of index w */
static const infer_mlp_layer_t *
layer(const infer_model_t *m, int i)
{
    return &((const infer_mlp_t *) m->arch_data)->layers[i];
}


static const infer_weight_t *
weight(const infer_model_t *m, int w)
{
    return &m->weights[w];
}


static void
test_model_load(void)
{
    int                       i, n, good;
    char                      err[INFER_ERRLEN], expect[1024], path[300];
    float                    *vals[TT_MAX_LAYERS * 2];
    size_t                    j, k;
    tt_mlp_t                  s;
    infer_model_t            *m;
    tt_tensor_t               t[3];
    const infer_mlp_t        *mlp;
    const infer_mlp_layer_t  *l0, *l1;
    static float              w[64 * 64], b[64];

#define MLP64  "{\"architecture\": \"mlp\", \"input\": {\"shape\": [64]}, "

    /* expect: a format, given the model directory twice */
    static const struct {
        const char  *what;
        const char  *json;
        const char  *expect;
    } bad[] = {
        { "a missing tensor",
          MLP64 "\"layers\": [{\"weight\": \"fc1.weight\"},"
          " {\"weight\": \"fc9.weight\"}]}",
          "%s/config.json: layers[1].weight: tensor \"fc9.weight\" is not in "
          "%s/model.safetensors" },
        { "a missing bias",
          MLP64 "\"layers\": [{\"weight\": \"fc1.weight\","
          " \"bias\": \"fc1.b\"}]}",
          "%s/config.json: layers[0].bias: tensor \"fc1.b\" is not in "
          "%s/model.safetensors" },
        { "layers that do not chain",
          MLP64 "\"layers\": [{\"weight\": \"fc1.weight\"},"
          " {\"weight\": \"fc2.weight\"}]}",
          "%s/config.json: layers[1].weight is [10, 33]: expected 32 inputs, "
          "the output of layers[0]" },
        { "a first layer that does not take the input",
          "{\"architecture\": \"mlp\", \"input\": {\"shape\": [8, 4]},"
          " \"layers\": [{\"weight\": \"fc1.weight\"}]}",
          "%s/config.json: layers[0].weight is [32, 64]: expected 32 inputs, "
          "the size of input.shape [8, 4]" },
        { "a bias of the wrong size",
          MLP64 "\"layers\": [{\"weight\": \"fc1.weight\","
          " \"bias\": \"fc1.bias\"}]}",
          "%s/config.json: layers[0].bias is [31]: expected [32], the outputs "
          "of layers[0].weight" },
        { "a 1-D weight",
          MLP64 "\"layers\": [{\"weight\": \"fc1.bias\"}]}",
          "%s/config.json: layers[0].weight is [31]: expected 2 dimensions, "
          "[out, in]" },
        { "a config error",
          MLP64 "\"layers\": [{\"weight\": \"fc1.weight\","
          " \"activation\": \"elu\"}]}",
          "%s/config.json: layers[0].activation \"elu\" is unknown "
          "(supported: relu, gelu, tanh, sigmoid, none)" },
    };

    memset(&s, 0, sizeof(s));
    s.nlayers = 2;
    s.width[0] = 12;
    s.width[1] = 32;
    s.width[2] = 10;
    s.bias[0] = 1;
    s.bias[1] = 1;
    s.act[0] = INFER_ACT_RELU;
    s.softmax = 1;
    s.dtype = INFER_DT_F32;

    n = tt_make_mlp(&s, vals);
    m = n > 0 ? infer_model_load(tt_dir, err, sizeof(err)) : NULL;
    mlp = m ? m->arch_data : NULL;
    l0 = m ? layer(m, 0) : NULL;
    l1 = m ? layer(m, 1) : NULL;
    /* the widest layer (the old max_width) is 32 */
    ok(m != NULL && m->arch == &infer_arch_mlp && mlp->nlayers == 2
       && m->input.size == 12 && m->output.size == 10
       && m->output.ndim == 2 && m->output.dims[0] == -1
       && m->output.dims[1] == 10
       && (l0->out > l1->out ? l0->out : l1->out) == 32 && mlp->softmax
       && l0->in == 12 && l0->out == 32 && l1->in == 32 && l1->out == 10
       && m->nweights == 4 && l0->b >= 0 && l1->b >= 0
       && weight(m, l0->w)->rows == 32 && weight(m, l0->w)->cols == 12
       && weight(m, l1->b)->rows == 1 && weight(m, l1->b)->cols == 10
       && weight(m, l0->w)->f32 == weight(m, l0->w)->data
       && weight(m, l1->b)->f32 == weight(m, l1->b)->data
       && m->owned == NULL
       && memcmp(weight(m, l1->w)->f32, vals[2], 320 * sizeof(float)) == 0,
       "load: aligned F32 weights used in place%s%s", m ? "" : ": ",
       m ? "" : err);
    infer_model_free(m);
    free_vals(vals, n);

    snprintf(path, sizeof(path), "%s/", tt_dir);
    m = infer_model_load(path, err, sizeof(err));
    ok(m != NULL && strcmp(m->dir, path) == 0,
       "load: a directory given with a trailing slash");
    infer_model_free(m);

    s.misalign = 1;
    n = tt_make_mlp(&s, vals);
    m = n > 0 ? infer_model_load(tt_dir, err, sizeof(err)) : NULL;
    l0 = m ? layer(m, 0) : NULL;
    l1 = m ? layer(m, 1) : NULL;
    ok(m != NULL && m->owned != NULL
       && weight(m, l0->w)->f32 != weight(m, l0->w)->data
       && memcmp(weight(m, l0->w)->f32, vals[0], 384 * sizeof(float)) == 0
       && memcmp(weight(m, l1->b)->f32, vals[3], 10 * sizeof(float)) == 0,
       "load: unaligned F32 weights are copied%s%s", m ? "" : ": ",
       m ? "" : err);
    infer_model_free(m);
    free_vals(vals, n);

    s.misalign = 0;
    s.dtype = INFER_DT_F16;
    n = tt_make_mlp(&s, vals);
    m = n > 0 ? infer_model_load(tt_dir, err, sizeof(err)) : NULL;
    l0 = m ? layer(m, 0) : NULL;
    good = m != NULL && weight(m, l0->w)->type == INFER_DT_F16
           && weight(m, l0->b)->type == INFER_DT_BF16;
    for (j = 0; good && j < 384; j++) {
        good &= weight(m, l0->w)->f32[j]
                == infer_f16_to_f32(infer_f32_to_f16(vals[0][j]));
    }
    for (j = 0; good && j < 32; j++) {
        good &= weight(m, l0->b)->f32[j]
                == infer_bf16_to_f32(infer_f32_to_bf16(vals[1][j]));
    }
    ok(good, "load: F16 weights and BF16 biases converted exactly%s%s",
       m ? "" : ": ", m ? "" : err);
    infer_model_free(m);
    free_vals(vals, n);

    /* mistakes between config.json and the weights */
    for (i = 0; i < 64 * 64; i++) {
        w[i] = 0.25f;
    }

    memset(t, 0, sizeof(t));
    t[0].name = "fc1.weight";
    t[0].ndim = 2;
    t[0].shape[0] = 32;
    t[0].shape[1] = 64;
    t[0].vals = w;
    t[1].name = "fc2.weight";
    t[1].ndim = 2;
    t[1].shape[0] = 10;
    t[1].shape[1] = 33;
    t[1].vals = w;
    t[2].name = "fc1.bias";
    t[2].ndim = 1;
    t[2].shape[0] = 31;
    t[2].vals = b;

    snprintf(path, sizeof(path), "%s/model.safetensors", tt_dir);
    ok(write_safetensors(path, t, 3, 0) == 0, "wrote %s", path);

    for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        snprintf(path, sizeof(path), "%s/config.json", tt_dir);
        write_str(path, bad[k].json);

        m = infer_model_load(tt_dir, err, sizeof(err));
        snprintf(expect, sizeof(expect), bad[k].expect, tt_dir, tt_dir);
        ok(m == NULL && strcmp(err, expect) == 0, "load rejects %s: %s",
           bad[k].what, err);
        infer_model_free(m);
    }

    unlink(path);
    m = infer_model_load(tt_dir, err, sizeof(err));
    snprintf(expect, sizeof(expect), "%s/config.json: cannot open: %s",
             tt_dir, strerror(ENOENT));
    ok(m == NULL && strcmp(err, expect) == 0, "load: no config.json: %s",
       err);

    write_str(path, bad[0].json);
    snprintf(path, sizeof(path), "%s/model.safetensors", tt_dir);
    unlink(path);
    m = infer_model_load(tt_dir, err, sizeof(err));
    snprintf(expect, sizeof(expect), "%s/model.safetensors: cannot open: %s",
             tt_dir, strerror(ENOENT));
    ok(m == NULL && strcmp(err, expect) == 0,
       "load: no model.safetensors: %s", err);

    snprintf(path, sizeof(path), "%s/config.json", tt_dir);
    unlink(path);
}


/*
 * The CPU backend, through the runner, against the reference, at every
 * batch size up to past the CPU's small-batch limit (64 rows), so both of
 * its products are covered.  An MLP request of k rows is a batch of k
 * sequences of one token each.
 */

#define TT_ROWS  72


static int
check_backend(const tt_mlp_t *s, const char *what)
{
    int               n, rows, good, inited;
    char              err[INFER_ERRLEN];
    float            *in, *ref, *out, *vals[TT_MAX_LAYERS * 2];
    size_t            i, isz, osz;
    double            worst;
    infer_seq_t       seqs[TT_ROWS];
    infer_batch_t     batch;
    infer_model_t    *m;
    infer_runner_t    r;
    infer_backend_t  *b;

    n = tt_make_mlp(s, vals);
    m = n > 0 ? infer_model_load(tt_dir, err, sizeof(err)) : NULL;
    free_vals(vals, n);

    if (m == NULL) {
        ok(0, "cpu backend, %s: load: %s", what, err);
        return 0;
    }

    isz = (size_t) m->input.size;
    osz = (size_t) m->output.size;
    in = malloc(TT_ROWS * isz * sizeof(float));
    ref = malloc(TT_ROWS * osz * sizeof(float));
    out = malloc(TT_ROWS * osz * sizeof(float));

    if (in == NULL || ref == NULL || out == NULL) {
        exit(2);
    }

    for (i = 0; i < TT_ROWS * isz; i++) {
        in[i] = rndf(-2.0f, 2.0f);
    }

    ref_mlp_forward(m, in, TT_ROWS, ref);

    good = 1;
    inited = 0;
    worst = 0;

    b = infer_backend_cpu_new(INFER_PRECISION_FP32, err, sizeof(err));
    if (b == NULL
        || infer_runner_init(&r, m, b, TT_ROWS, TT_ROWS, err, sizeof(err))
           != 0)
    {
        good = 0;
        diag("%s", err);

    } else {
        inited = 1;
    }

    /* every batch size */
    for (rows = 1; good && rows <= TT_ROWS; rows++) {
        for (i = 0; i < rows * osz; i++) {
            out[i] = NAN;
        }

        infer_batch_rows(&batch, seqs, rows, in, out);

        if (infer_runner_run(&r, &batch, err, sizeof(err)) != 0) {
            diag("rows %d: %s", rows, err);
            good = 0;
            break;
        }

        for (i = 0; i < rows * osz; i++) {
            if (!close_rel(out[i], ref[i], 1e-4, 1e-5)) {
                if (good) {
                    diag("rows %d, value %zu: %.9g, reference %.9g", rows, i,
                         out[i], ref[i]);
                }
                good = 0;
            }

            if (fabs(out[i] - ref[i]) > worst) {
                worst = fabs(out[i] - ref[i]);
            }
        }
    }

    ok(good, "cpu backend == reference, batch 1..%d, %s (max abs error "
       "%.2g)", TT_ROWS, what, worst);

    if (inited) {
        infer_runner_free(&r);
    }

    if (b != NULL) {
        b->iface->free(b);
    }

    infer_model_free(m);
    free(in);
    free(ref);
    free(out);

    return good;
}


static void
test_backend(void)
{
    int                i, k, a, nl, rc;
    char               what[256];
    float              x[12], y[12], *vals[2];
    tt_mlp_t           s;
    infer_seq_t        seqs[3];
    infer_batch_t      batch;
    infer_graph_t      g;
    infer_model_t     *m;
    infer_runner_t     r;
    infer_tensor_t     nodes[4], *t;
    infer_backend_t   *b;
    char               err[INFER_ERRLEN];
    static const int   layers[] = { 1, 2, 3, 5 };

    /* a graph that names a weight, computed before any load() */
    infer_graph_init(&g, nodes, 4);
    t = infer_op_input(&g, INFER_DT_F32, 1, 4, x, "x");
    t = infer_op_matmul(&g, t, infer_op_weight(&g, 0, INFER_DT_F32, 4, 4,
                                               "w"), NULL);
    infer_op_output(&g, t, y);

    b = infer_backend_cpu_new(INFER_PRECISION_FP32, err, sizeof(err));
    err[0] = '\0';
    ok(b != NULL && strcmp(b->iface->name(b), "cpu") == 0 && !g.failed
       && b->iface->compute(b, &g, err, sizeof(err)) == -1
       && strstr(err, "names weight 0 of 0") != NULL,
       "cpu backend: name, and compute() before load() fails: %s", err);

    /* every activation in every position, several depths, all dtypes */
    for (k = 0; k < (int) (sizeof(layers) / sizeof(layers[0])); k++) {
        nl = layers[k];

        for (a = 0; a < 5; a++) {
            tt_random_mlp(&s, nl, k, a, what, sizeof(what));
            check_backend(&s, what);
        }
    }

    /* a real-sized model: the blocked sgemm paths */
    memset(&s, 0, sizeof(s));
    s.nlayers = 3;
    s.width[0] = 784;
    s.width[1] = 256;
    s.width[2] = 128;
    s.width[3] = 10;
    s.act[0] = INFER_ACT_RELU;
    s.act[1] = INFER_ACT_GELU;
    s.bias[0] = s.bias[1] = s.bias[2] = 1;
    s.softmax = 1;
    check_backend(&s, "784>256 relu, 256>128 gelu, 128>10, softmax");

    /* batch limits: the runner's, which the module's executors use */
    memset(&s, 0, sizeof(s));
    s.nlayers = 1;
    s.width[0] = 4;
    s.width[1] = 4;
    s.bias[0] = 1;

    m = NULL;
    k = tt_make_mlp(&s, vals);
    if (k > 0) {
        m = infer_model_load(tt_dir, err, sizeof(err));
        free_vals(vals, k);
    }

    for (i = 0; i < 12; i++) {
        x[i] = 1.0f;
        y[i] = -7.0f;
    }

    err[0] = '\0';
    rc = m != NULL && b != NULL
         && infer_runner_init(&r, m, b, 0, 0, err, sizeof(err)) == -1
         && strcmp(err, "batches of 0 sequences and 0 tokens") == 0;
    ok(rc, "runner: batches of 0 sequences are refused at init: %s", err);

    rc = m != NULL && b != NULL
         && infer_runner_init(&r, m, b, 2, 2, err, sizeof(err)) == 0;

    if (rc) {
        infer_batch_rows(&batch, seqs, 3, x, y);
        rc = infer_runner_run(&r, &batch, err, sizeof(err)) == -1
             && strcmp(err, "a batch of 3 sequences and 3 tokens, at most 2 "
                       "and 2") == 0;

        /* nothing is computed for a refused batch, nor for an empty one */
        infer_batch_rows(&batch, seqs, 0, x, y);
        rc = rc && infer_runner_run(&r, &batch, err, sizeof(err)) == -1
             && y[0] == -7.0f && y[11] == -7.0f;

        infer_batch_rows(&batch, seqs, 1, x, y);
        rc = rc && infer_runner_run(&r, &batch, err, sizeof(err)) == 0
             && y[0] != -7.0f && y[4] == -7.0f;

        infer_runner_free(&r);
    }

    ok(rc, "runner: max_seqs enforced, an empty batch computes nothing, "
       "the next batch runs");

    if (b != NULL) {
        b->iface->free(b);
    }
    infer_model_free(m);
}


int
main(void)
{
    if (tt_begin("test_kernels") != 0) {
        return 2;
    }

    test_activations();
    test_softmax();
    test_conversions();
    test_safetensors_parse();
    test_safetensors_open();
    test_config();
    test_model_load();
    test_backend();

    return tt_end();
}
