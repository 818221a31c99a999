/*
 * Unit tests of the KServe v2 JSON codec (kernels/infer_kserve.c), TAP
 * output.  Every body is decoded from a malloc()ed copy of its exact size,
 * so that a read past the end shows under valgrind or AddressSanitizer.
 *
 *     gcc -std=gnu99 -O2 -g -Wall -Wextra -Werror -Ikernels \
 *         -o /tmp/test_kserve kernels/test/test_kserve.c \
 *         kernels/infer_kserve.c -ljansson -lm && /tmp/test_kserve
 *
 * TEST_KSERVE_SCALE=0.1 in the environment shrinks the randomized parts
 * (for valgrind).
 */

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer_kserve.h"


#define CAP        4096


typedef struct {
    const char  *body;
    const char  *err;
} test_error_t;


static int     test_n;
static int     test_failed;
static double  test_scale = 1.0;

static float                test_buf[4][CAP];
static infer_ks_input_t     test_inputs[4];
static infer_ks_request_t   test_req;


static void
ok(int cond, const char *fmt, ...)
{
    va_list  args;

    test_n++;

    if (!cond) {
        test_failed++;
    }

    printf("%sok %d - ", cond ? "" : "not ", test_n);
    va_start(args, fmt);
    vprintf(fmt, args);
    va_end(args);
    printf("\n");
    fflush(stdout);
}


/* xorshift64*: the same sequence on every run */

static uint64_t  test_seed = 0x9e3779b97f4a7c15ULL;

static uint64_t
rnd(void)
{
    test_seed ^= test_seed >> 12;
    test_seed ^= test_seed << 25;
    test_seed ^= test_seed >> 27;

    return test_seed * 2685821657736338717ULL;
}


static float
rnd_float(void)
{
    float     f;
    uint32_t  bits;

    do {
        bits = (uint32_t) rnd();
        memcpy(&f, &bits, sizeof(float));
    } while (!isfinite(f));

    return f;
}


/* a model with inputs named by the arguments, NULL-terminated */

static void
model(size_t cap, ...)
{
    int          n;
    va_list      args;
    const char  *name;

    memset(&test_req, 0, sizeof(test_req));
    memset(test_inputs, 0, sizeof(test_inputs));

    va_start(args, cap);

    for (n = 0; (name = va_arg(args, const char *)) != NULL; n++) {
        test_inputs[n].name = name;
        test_inputs[n].dst = test_buf[n];
        test_inputs[n].cap = cap;
    }

    va_end(args);

    test_req.inputs = test_inputs;
    test_req.ninputs = n;
}


/* the copy lives until the next decode: id and outputs point into it */

static char  *test_body;

static int
decode_len(const char *body, size_t len)
{
    free(test_body);

    test_body = malloc(len ? len : 1);
    if (test_body == NULL) {
        abort();
    }

    memcpy(test_body, body, len);

    return infer_ks_decode_request(&test_req, test_body, len);
}


static int
decode(const char *body)
{
    return decode_len(body, strlen(body));
}


static int
floats_are(const float *got, size_t n, ...)
{
    size_t   i;
    double   want;
    va_list  args;
    int      same;

    same = 1;
    va_start(args, n);

    for (i = 0; i < n; i++) {
        want = va_arg(args, double);

        if (got[i] != (float) want
            || signbit(got[i]) != signbit((float) want))
        {
            printf("# value %zu: got %.9g, want %.9g\n", i, got[i],
                   (float) want);
            same = 0;
        }
    }

    va_end(args);

    return same;
}


static int
span_is(infer_ks_str_t s, const char *want)
{
    return s.len == strlen(want) && memcmp(s.p, want, s.len) == 0;
}


static void
test_valid(void)
{
    infer_ks_input_t  *in;

    in = &test_inputs[0];

    model(CAP, "input", NULL);
    ok(decode("{\"inputs\":[{\"name\":\"input\",\"shape\":[1,4],"
              "\"datatype\":\"FP32\",\"data\":[1,2.5,-3e2,0.1]}]}") == 0
       && in->found && in->count == 4 && in->ndim == 2
       && in->shape[0] == 1 && in->shape[1] == 4
       && in->datatype == INFER_KS_FP32
       && floats_are(in->dst, 4, 1.0, 2.5, -300.0, (double) 0.1f)
       && test_req.id.len == 0 && test_req.noutputs == 0
       && test_req.timeout_ms == 0,
       "flat FP32 body");

    ok(decode("{\"inputs\":[{\"name\":\"input\",\"shape\":[2,2,1],"
              "\"datatype\":\"FP32\",\"data\":[[[1],[2]],[[3],[4]]]}]}") == 0
       && in->count == 4 && in->ndim == 3
       && floats_are(in->dst, 4, 1.0, 2.0, 3.0, 4.0),
       "nested data is flattened in row-major order");

    ok(decode("{\"inputs\":[{\"name\":\"input\",\"shape\":[2],"
              "\"datatype\":\"FP32\",\"data\":[[],[5],[],[[6]]]}]}") == 0
       && in->count == 2 && floats_are(in->dst, 2, 5.0, 6.0),
       "empty nested arrays hold no values");

    ok(decode("{\"inputs\":[{\"data\":[[1,2],[3,-4]],\"datatype\":\"INT32\","
              "\"shape\":[2,2],\"name\":\"input\"}],\"id\":\"x\"}") == 0
       && in->count == 4 && in->datatype == INFER_KS_INT32
       && floats_are(in->dst, 4, 1.0, 2.0, 3.0, -4.0)
       && span_is(test_req.id, "\"x\""),
       "keys in reverse order: data decoded after name and datatype");

    ok(decode("{\"inputs\":[{\"shape\":[3],\"data\":[1,2,3],"
              "\"name\":\"input\",\"datatype\":\"UINT8\"}]}") == 0
       && in->count == 3 && floats_are(in->dst, 3, 1.0, 2.0, 3.0),
       "data before name and datatype");

    ok(decode("{\"inputs\":[{\"name\":\"input\",\"datatype\":\"FP32\","
              "\"data\":[7,8],\"shape\":[2]}]}") == 0
       && in->count == 2 && in->shape[0] == 2,
       "shape after data");

    ok(decode(" \r\n\t{ \"inputs\" :\n[ { \"name\" : \"input\" ,\t\"shape\""
              " : [ 2 ] , \"datatype\" : \"FP32\" , \"data\" : [ [ 1 ] , "
              "\n [ 2 ] ] } ] , \"id\" : \"a\" } \n\r\t ") == 0
       && in->count == 2 && floats_are(in->dst, 2, 1.0, 2.0)
       && span_is(test_req.id, "\"a\""),
       "whitespace everywhere");

    ok(decode("{\"inputs\":[{\"n\\u0061me\":\"in\\u0070ut\",\"shape\":[1],"
              "\"datatype\":\"FP\\u00332\",\"data\":[1]}]}") == 0
       && in->count == 1 && in->datatype == INFER_KS_FP32,
       "escaped keys, name and datatype");

    ok(decode("{\"id\":\"req-\\\"7\\\"\\u00e9\",\"inputs\":[{\"name\":"
              "\"input\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]}]}")
       == 0
       && span_is(test_req.id, "\"req-\\\"7\\\"\\u00e9\""),
       "id: the raw token with its quotes");

    ok(decode("{\"inputs\":[{\"name\":\"input\",\"shape\":[1],"
              "\"datatype\":\"FP32\",\"data\":[1]}],\"outputs\":[{\"name\":"
              "\"probs\",\"parameters\":{\"binary_data\":true}},{\"name\":"
              "\"lo\\u0067its\"},{\"parameters\":{},\"name\":\"\\u00e9\\n\"}"
              "]}") == 0
       && test_req.noutputs == 3
       && span_is(test_req.outputs[0], "probs")
       && span_is(test_req.outputs[1], "logits")
       && span_is(test_req.outputs[2], "\xc3\xa9\n"),
       "outputs: names, unescaped when needed");

    ok(decode("{\"inputs\":[{\"name\":\"input\",\"shape\":[1],"
              "\"datatype\":\"FP32\",\"data\":[1]}],\"outputs\":[]}") == 0
       && test_req.noutputs == 0,
       "outputs: an empty list means all");

    ok(decode("{\"parameters\":{\"priority\":1,\"timeout\":1500000,"
              "\"x\":[null]},\"inputs\":[{\"name\":\"input\",\"shape\":[1],"
              "\"datatype\":\"FP32\",\"data\":[1]}]}") == 0
       && test_req.timeout_ms == 1500.0,
       "parameters.timeout in microseconds");

    ok(decode("{\"model_name\":\"m\",\"inputs\":[{\"name\":\"input\","
              "\"shape\":[1],\"x\":{\"a\":[1,{\"b\":[null,true,false,-1.5e3,"
              "\"s\\\"\"]}],\"c\":{}},\"datatype\":\"FP32\",\"parameters\":"
              "{\"content_type\":\"x\"},\"data\":[1]}],\"sequence\":[[[]]],"
              "\"z\":1e999}") == 0
       && in->count == 1,
       "unknown keys and parameters are checked and skipped");

    ok(decode("{\"inputs\":[{\"name\":\"input\",\"shape\":[0,3],"
              "\"datatype\":\"FP32\",\"data\":[]}]}") == 0
       && in->count == 0 && in->ndim == 2,
       "empty tensor");

    ok(decode("{\"inputs\":[{\"name\":\"input\",\"shape\":[],"
              "\"datatype\":\"FP32\",\"data\":[7]}]}") == 0
       && in->count == 1 && in->ndim == 0,
       "scalar: shape []");

    ok(decode("{\"inputs\":[{\"name\":\"input\",\"shape\":[6],"
              "\"datatype\":\"INT16\",\"data\":[1.0,1e2,100e-2,-0,0.0e5,"
              "-5.000]}]}") == 0
       && floats_are(in->dst, 6, 1.0, 100.0, 1.0, 0.0, 0.0, -5.0),
       "integral numbers are accepted for integer types");

    ok(decode("{\"inputs\":[{\"name\":\"input\",\"shape\":[5],"
              "\"datatype\":\"BOOL\",\"data\":[true,false,1,0,true]}]}") == 0
       && in->datatype == INFER_KS_BOOL
       && floats_are(in->dst, 5, 1.0, 0.0, 1.0, 0.0, 1.0),
       "BOOL: true, false, 1, 0");

    ok(decode("{\"inputs\":[{\"name\":\"input\",\"shape\":[2],"
              "\"datatype\":\"UINT8\",\"data\":[0,255]}]}") == 0
       && floats_are(in->dst, 2, 0.0, 255.0)
       && decode("{\"inputs\":[{\"name\":\"input\",\"shape\":[2],"
                 "\"datatype\":\"UINT16\",\"data\":[0,65535]}]}") == 0
       && floats_are(in->dst, 2, 0.0, 65535.0)
       && decode("{\"inputs\":[{\"name\":\"input\",\"shape\":[1],"
                 "\"datatype\":\"UINT32\",\"data\":[4294967295]}]}") == 0
       && floats_are(in->dst, 1, 4294967295.0)
       && decode("{\"inputs\":[{\"name\":\"input\",\"shape\":[1],"
                 "\"datatype\":\"UINT64\",\"data\":[18446744073709551615]}]}")
          == 0
       && floats_are(in->dst, 1, 18446744073709551615.0),
       "UINT8, UINT16, UINT32, UINT64 limits");

    ok(decode("{\"inputs\":[{\"name\":\"input\",\"shape\":[2],"
              "\"datatype\":\"INT8\",\"data\":[-128,127]}]}") == 0
       && floats_are(in->dst, 2, -128.0, 127.0)
       && decode("{\"inputs\":[{\"name\":\"input\",\"shape\":[2],"
                 "\"datatype\":\"INT16\",\"data\":[-32768,32767]}]}") == 0
       && floats_are(in->dst, 2, -32768.0, 32767.0)
       && decode("{\"inputs\":[{\"name\":\"input\",\"shape\":[2],"
                 "\"datatype\":\"INT32\",\"data\":[-2147483648,2147483647]}]}")
          == 0
       && floats_are(in->dst, 2, -2147483648.0, 2147483647.0)
       && decode("{\"inputs\":[{\"name\":\"input\",\"shape\":[2],"
                 "\"datatype\":\"INT64\",\"data\":[-9223372036854775808,"
                 "9223372036854775807]}]}") == 0
       && floats_are(in->dst, 2, -9223372036854775808.0,
                     9223372036854775807.0),
       "INT8, INT16, INT32, INT64 limits");

    ok(decode("{\"inputs\":[{\"name\":\"input\",\"shape\":[3],"
              "\"datatype\":\"FP64\",\"data\":[1e-300,1.5,-3.4028235e38]}]}")
       == 0
       && in->datatype == INFER_KS_FP64
       && floats_are(in->dst, 3, 0.0, 1.5, -3.4028235e38),
       "FP64 is converted to FP32");

    model(8, "input", "mask", NULL);
    ok(decode("{\"inputs\":[{\"name\":\"mask\",\"shape\":[2],"
              "\"datatype\":\"BOOL\",\"data\":[true,false]},{\"name\":"
              "\"input\",\"shape\":[1,3],\"datatype\":\"FP32\",\"data\":"
              "[[1,2,3]]}]}") == 0
       && test_inputs[0].found && test_inputs[1].found
       && test_inputs[0].count == 3 && test_inputs[1].count == 2
       && floats_are(test_inputs[0].dst, 3, 1.0, 2.0, 3.0)
       && floats_are(test_inputs[1].dst, 2, 1.0, 0.0),
       "two inputs, in another order than the model's");

    model(2, "input", NULL);
    ok(decode("{\"inputs\":[{\"name\":\"input\",\"shape\":[2],"
              "\"datatype\":\"FP32\",\"data\":[1,2]}]}") == 0
       && test_inputs[0].count == 2,
       "data that fills cap exactly");
}


static const test_error_t  test_errors[] = {

    /* the request */
    { "[1,2]", "the request body must be a JSON object" },
    { "\"x\"", "the request body must be a JSON object" },
    { "{}", "missing \"inputs\"" },
    { "{\"inputs\":{}}", "inputs: expected a non-empty array of objects" },
    { "{\"inputs\":[]}", "inputs: expected a non-empty array of objects" },
    { "{\"inputs\":[1]}", "inputs[0]: expected an object" },
    { "{\"inputs\":[],\"inputs\":[]}",
      "inputs: expected a non-empty array of objects" },
    { "{\"id\":\"a\",\"id\":\"b\"}", "duplicate key \"id\"" },
    { "{\"id\":5}", "id: expected a string" },

    /* an input */
    { "{\"inputs\":[{\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]}]}",
      "inputs[0]: missing \"name\"" },
    { "{\"inputs\":[{\"name\":\"input\",\"datatype\":\"FP32\",\"data\":[1]}"
      "]}",
      "inputs[0]: missing \"shape\"" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"data\":[1]}]}",
      "inputs[0]: missing \"datatype\"" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":\"FP32\""
      "}]}",
      "inputs[0]: missing \"data\"" },
    { "{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\","
      "\"data\":[1]}]}",
      "inputs[0].name: model has no input \"x\" (expected \"input\")" },
    { "{\"inputs\":[{\"name\":5}]}", "inputs[0].name: expected a string" },
    { "{\"inputs\":[{\"name\":\"input\",\"name\":\"input\"}]}",
      "inputs[0]: duplicate key \"name\"" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":\"FP32\","
      "\"data\":[1],\"data\":[2]}]}",
      "inputs[0]: duplicate key \"data\"" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":\"FP32\","
      "\"data\":[1]},{\"name\":\"input\"}]}",
      "inputs[1].name: input \"input\" appears twice" },
    { "{\"inputs\":[{\"name\":\"input\",\"datatype\":\"FLOAT\"}]}",
      "inputs[0].datatype: unknown datatype \"FLOAT\"" },
    { "{\"inputs\":[{\"name\":\"input\",\"datatype\":\"fp32\"}]}",
      "inputs[0].datatype: unknown datatype \"fp32\"" },
    { "{\"inputs\":[{\"name\":\"input\",\"datatype\":[]}]}",
      "inputs[0].datatype: expected a string" },
    { "{\"inputs\":[{\"name\":\"input\",\"datatype\":\"FP16\"}]}",
      "inputs[0].datatype: FP16 cannot be sent as JSON numbers (use the "
      "binary tensor extension)" },
    { "{\"inputs\":[{\"name\":\"input\",\"datatype\":\"BF16\"}]}",
      "inputs[0].datatype: BF16 cannot be sent as JSON numbers (use the "
      "binary tensor extension)" },
    { "{\"inputs\":[{\"name\":\"input\",\"datatype\":\"BYTES\"}]}",
      "inputs[0].datatype: BYTES is not supported here, the model takes "
      "numbers" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":\"1\"}]}",
      "inputs[0].shape: expected an array of non-negative integers" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,-1]}]}",
      "inputs[0].shape: expected an array of non-negative integers" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[1.0]}]}",
      "inputs[0].shape: expected an array of non-negative integers" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[1e3]}]}",
      "inputs[0].shape: expected an array of non-negative integers" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,2,3,4,5,6,7,8,9]}]}",
      "inputs[0].shape: more than 8 dimensions" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[9223372036854775808]}]}",
      "inputs[0].shape[0]: dimension is too large" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[4294967296,4294967296,"
      "4294967296],\"datatype\":\"FP32\",\"data\":[]}]}",
      "inputs[0].shape: too many values" },
    { "{\"inputs\":[{\"name\":\"input\",\"parameters\":{\"binary_data_size\""
      ":16}}]}",
      "inputs[0].parameters.binary_data_size: binary tensor data is not "
      "supported on this path" },
    { "{\"inputs\":[{\"name\":\"input\",\"parameters\":{\"binary_data_size\""
      ":16}}]}\x01\x02\x03\x04",
      "inputs[0].parameters.binary_data_size: binary tensor data is not "
      "supported on this path" },
    { "{\"inputs\":[{\"name\":\"input\",\"parameters\":[]}]}",
      "inputs[0].parameters: expected an object" },

    /* data */
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[2,3],\"datatype\":"
      "\"FP32\",\"data\":[1,2,3,4,5]}]}",
      "inputs[0]: shape [2, 3] holds 6 values, data has 5" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[2,64],\"datatype\":"
      "\"FP32\",\"data\":[1]}]}",
      "inputs[0]: shape [2, 64] holds 128 values, data has 1" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[2],\"datatype\":\"FP32\","
      "\"data\":[1,2,3,4,5,6,7,8,9]}]}",
      "inputs[0]: shape [2] holds 2 values, data has more" },
    { "{\"inputs\":[{\"name\":\"input\",\"datatype\":\"FP32\",\"data\":"
      "[1,2,3,4,5,6,7,8,9],\"shape\":[9]}]}",
      "inputs[0].data: more than 8 values, the most this input takes" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[3,3],\"datatype\":"
      "\"FP32\",\"data\":[1,2,3,4,5,6,7,8,9]}]}",
      "inputs[0].data: more than 8 values, the most this input takes" },
    { "{\"inputs\":[{\"data\":[1,2,3,4,5,6,7,8,9],\"name\":\"input\","
      "\"shape\":[2],\"datatype\":\"FP32\"}]}",
      "inputs[0]: shape [2] holds 2 values, data has more" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":\"FP32\","
      "\"data\":1}]}",
      "inputs[0].data: expected an array" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":\"FP32\","
      "\"data\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]"
      "]]]]]]}]}",
      "inputs[0].data: arrays nested deeper than 32 levels" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[4],\"datatype\":\"FP32\","
      "\"data\":[1,2,3,NaN]}]}",
      "inputs[0].data[3]: NaN and Infinity are not valid JSON numbers" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[2],\"datatype\":\"FP32\","
      "\"data\":[1,Infinity]}]}",
      "inputs[0].data[1]: NaN and Infinity are not valid JSON numbers" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[2],\"datatype\":\"INT8\","
      "\"data\":[-Infinity,1]}]}",
      "inputs[0].data[0]: NaN and Infinity are not valid JSON numbers" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[2],\"datatype\":\"FP32\","
      "\"data\":[1,1e39]}]}",
      "inputs[0].data[1]: 1e39 is out of range for FP32" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[2],\"datatype\":\"FP64\","
      "\"data\":[-1.7976931348623157e308]}]}",
      "inputs[0].data[0]: -1.7976931348623157e308 is out of range for FP32" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[2],\"datatype\":\"FP32\","
      "\"data\":[3.4028236e38]}]}",
      "inputs[0].data[0]: 3.4028236e38 is out of range for FP32" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[2],\"datatype\":\"FP32\","
      "\"data\":[1,\"2\"]}]}",
      "inputs[0].data[1]: expected a number" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[2],\"datatype\":\"FP32\","
      "\"data\":[null]}]}",
      "inputs[0].data[0]: expected a number" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[2],\"datatype\":\"FP32\","
      "\"data\":[true]}]}",
      "inputs[0].data[0]: expected a number" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[2],\"datatype\":\"FP32\","
      "\"data\":[{}]}]}",
      "inputs[0].data[0]: expected a number" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[2],\"datatype\":\"INT8\","
      "\"data\":[1,300]}]}",
      "inputs[0].data[1]: 300 is out of range for INT8" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[2],\"datatype\":\"INT8\","
      "\"data\":[-129]}]}",
      "inputs[0].data[0]: -129 is out of range for INT8" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[2],\"datatype\":\"UINT8\","
      "\"data\":[-1]}]}",
      "inputs[0].data[0]: -1 is out of range for UINT8" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[2],\"datatype\":"
      "\"INT64\",\"data\":[9223372036854775808]}]}",
      "inputs[0].data[0]: 9223372036854775808 is out of range for INT64" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[2],\"datatype\":"
      "\"UINT64\",\"data\":[18446744073709551616]}]}",
      "inputs[0].data[0]: 18446744073709551616 is out of range for UINT64" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[2],\"datatype\":"
      "\"UINT32\",\"data\":[1e300]}]}",
      "inputs[0].data[0]: 1e300 is out of range for UINT32" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[2],\"datatype\":"
      "\"INT32\",\"data\":[1.5]}]}",
      "inputs[0].data[0]: 1.5 is not an integer (INT32)" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[2],\"datatype\":"
      "\"INT32\",\"data\":[1e-400]}]}",
      "inputs[0].data[0]: 1e-400 is not an integer (INT32)" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[2],\"datatype\":"
      "\"UINT64\",\"data\":[18446744073709551615.5]}]}",
      "inputs[0].data[0]: 18446744073709551615.5 is not an integer (UINT64)" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[2],\"datatype\":"
      "\"INT32\",\"data\":[true]}]}",
      "inputs[0].data[0]: expected a number" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[2],\"datatype\":\"BOOL\","
      "\"data\":[true,2]}]}",
      "inputs[0].data[1]: expected true, false, 0 or 1" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[2],\"datatype\":\"BOOL\","
      "\"data\":[\"true\"]}]}",
      "inputs[0].data[0]: expected true, false, 0 or 1" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":\"FP32\","
      "\"data\":[1e39]}]}",
      "inputs[0].data[0]: 1e39 is out of range for FP32" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":\"FP32\","
      "\"data\":[1234567890123456789012345678901234567890123456789012345]}]}",
      "inputs[0].data[0]: 1234567890123456789012345678901234567890... is out "
      "of range for FP32" },

    /* outputs and parameters */
    { "{\"outputs\":{}}", "outputs: expected an array of objects" },
    { "{\"outputs\":[1]}", "outputs[0]: expected an object" },
    { "{\"outputs\":[{}]}", "outputs[0]: missing \"name\"" },
    { "{\"outputs\":[{\"name\":1}]}", "outputs[0].name: expected a string" },
    { "{\"outputs\":[{\"name\":\"a\",\"parameters\":1}]}",
      "outputs[0].parameters: expected an object" },
    { "{\"outputs\":[{\"name\":\"a\",\"name\":\"b\"}]}",
      "outputs[0]: duplicate key \"name\"" },
    { "{\"outputs\":[{\"name\":\"1\"},{\"name\":\"2\"},{\"name\":\"3\"},"
      "{\"name\":\"4\"},{\"name\":\"5\"},{\"name\":\"6\"},{\"name\":\"7\"},"
      "{\"name\":\"8\"},{\"name\":\"9\"}]}",
      "outputs: more than 8 outputs requested" },
    { "{\"parameters\":[]}", "parameters: expected an object" },
    { "{\"parameters\":{\"timeout\":-1}}",
      "parameters.timeout: expected a non-negative integer (microseconds)" },
    { "{\"parameters\":{\"timeout\":1.5}}",
      "parameters.timeout: expected a non-negative integer (microseconds)" },
    { "{\"parameters\":{\"timeout\":\"1\"}}",
      "parameters.timeout: expected a non-negative integer (microseconds)" },
    { "{\"parameters\":{\"timeout\":1,\"timeout\":2}}",
      "parameters: duplicate key \"timeout\"" },

    /* malformed JSON, reported by jansson */
    { "", "malformed JSON at line 1, column 0: '[' or '{' expected near end "
      "of file" },
    { "{\"inputs\": [}",
      "malformed JSON at line 1, column 13: unexpected token near '}'" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":\"FP32\","
      "\"data\":[1]}]} x",
      "malformed JSON at line 1, column 72: end of file expected near 'x'" },
    { "{\"inputs\":[{\"name\":\"x\"}],\n\"z\":nan}",
      "malformed JSON at line 2, column 7: invalid token near 'nan'" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":\"FP32\","
      "\"data\":[01]}]}",
      "malformed JSON at line 1, column 66: invalid token near '0'" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":\"FP32\","
      "\"data\":[+1]}]}",
      "malformed JSON at line 1, column 66: invalid token near '+'" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":\"FP32\","
      "\"data\":[.5]}]}",
      "malformed JSON at line 1, column 66: invalid token near '.'" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":\"FP32\","
      "\"data\":[1.]}]}",
      "malformed JSON at line 1, column 67: invalid token near '1.'" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":\"FP32\","
      "\"data\":[1e]}]}",
      "malformed JSON at line 1, column 67: invalid token near '1e'" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":\"FP32\","
      "\"data\":[-]}]}",
      "malformed JSON at line 1, column 66: invalid token near '-'" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":\"FP32\","
      "\"data\":[1 2]}]}",
      "malformed JSON at line 1, column 68: ']' expected near '2'" },
    { "{\"id\":\"a\\x\"}",
      "malformed JSON at line 1, column 10: invalid escape near '\"a\\x'" },
    { "{\"id\":\"a\\udc00\"}",
      "malformed JSON at line 1, column 15: invalid Unicode '\\uDC00' near "
      "'\"a\\udc00\"'" },
    { "{\"id\":\"a\\ud800x\"}",
      "malformed JSON at line 1, column 16: invalid Unicode '\\uD800' near "
      "'\"a\\ud800x\"'" },
    { "{\"id\":\"a\nb\"}",
      "malformed JSON at line 1, column 8: unexpected newline near '\"a'" },
    { "{\"id\":\"a\xff\"}",
      "malformed JSON at line 1, column 8: unable to decode byte 0xff near "
      "'\"a'" },
    { "{\"id\":\"a\xed\xa0\x80\"}",
      "malformed JSON at line 1, column 8: unable to decode byte 0xed near "
      "'\"a'" },
    { "{\"id\":\"abc",
      "malformed JSON at line 1, column 10: premature end of input near "
      "'\"abc'" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":\"FP32\","
      "\"data\":[1,",
      "malformed JSON at line 1, column 67: ']' expected near end of file" },

    /* malformed JSON that jansson takes, or stops at earlier */
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":\"FP32\","
      "\"data\":[1]}],\"z\":123456789012345678901234567890, x}",
      "malformed JSON at line 1, column 107: string expected" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":\"FP32\","
      "\"data\":[1]}]}\n\n  \0",
      "malformed JSON at line 3, column 3: end of file expected near end of "
      "file" },

    /* a valid-JSON problem, then malformed JSON further on: malformed wins */
    { "{\"inputs\":[{\"name\":\"x\"}],\"z\":[1,]}",
      "malformed JSON at line 1, column 33: unexpected token near ']'" },
};


/* the last UTF-8 sequence of s is whole */

static int
utf8_complete(const char *s)
{
    size_t                n, i;
    const unsigned char  *p;

    p = (const unsigned char *) s;
    n = strlen(s);
    i = n;

    while (i > 0 && (p[i - 1] & 0xc0) == 0x80) {
        i--;
    }

    if (i == n) {
        return i == 0 || p[i - 1] < 0x80;
    }

    return i > 0 && n - (i - 1) == (size_t) ((p[i - 1] >= 0xf0) ? 4
                                             : (p[i - 1] >= 0xe0) ? 3 : 2);
}


/* test_errors[] bodies hold no NUL but the last one above */

static void
test_messages(void)
{
    size_t   i, len;
    int      rc;

    model(8, "input", NULL);

    for (i = 0; i < sizeof(test_errors) / sizeof(test_errors[0]); i++) {
        len = strlen(test_errors[i].body);

        if (strstr(test_errors[i].err, "line 3, column 3:") != NULL) {
            len++;
        }

        rc = decode_len(test_errors[i].body, len);

        ok(rc == -1 && strcmp(test_req.err, test_errors[i].err) == 0,
           "error: %s", test_errors[i].err);

        if (rc != -1 || strcmp(test_req.err, test_errors[i].err) != 0) {
            printf("#   body: %s\n#    got: %s\n", test_errors[i].body,
                   rc == 0 ? "(accepted)" : test_req.err);
        }
    }

    model(8, "input", "mask", NULL);

    ok(decode("{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":"
              "\"FP32\",\"data\":[1]}]}") == -1
       && strcmp(test_req.err, "inputs: missing input \"mask\"") == 0,
       "error: inputs: missing input \"mask\"");

    ok(decode("{\"inputs\":[{\"name\":\"y\"}]}") == -1
       && strcmp(test_req.err, "inputs[0].name: model has no input \"y\" "
                 "(expected one of \"input\", \"mask\")") == 0,
       "error: model has no input, several expected");

    model(8, "input", NULL);

    ok(infer_ks_decode_request(&test_req, NULL, 0) == -1
       && strcmp(test_req.err, "malformed JSON at line 1, column 0: '[' or "
                 "'{' expected near end of file") == 0,
       "error: NULL body");

    /* a name cut after 40 bytes, not inside the 2-byte \xc3\xa9 */
    ok(decode("{\"inputs\":[{\"name\":\"0123456789012345678901234567890123"
              "45678\xc3\xa9\"}]}") == -1
       && strcmp(test_req.err, "inputs[0].name: model has no input "
                 "\"012345678901234567890123456789012345678...\" (expected "
                 "\"input\")") == 0,
       "error: a long name is cut between UTF-8 sequences");

    model(8, "a\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
          "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
          "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
          "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac",
          "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
          "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
          "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
          "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac",
          "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
          "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
          "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
          "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac",
          "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
          "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
          "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
          "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac",
          NULL);

    ok(decode("{\"inputs\":[{\"name\":\"x\"}]}") == -1
       && strlen(test_req.err) == INFER_KSERVE_ERRLEN - 3
       && utf8_complete(test_req.err),
       "error: a message cut at its size ends with a whole UTF-8 sequence");

    model(0, "input", NULL);
    test_inputs[0].dst = NULL;

    ok(decode("{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":"
              "\"FP32\",\"data\":[1]}]}") == -1
       && strcmp(test_req.err, "inputs[0]: shape [1] holds 1 values, data "
                 "has more") != 0
       && strcmp(test_req.err, "inputs[0].data: more than 0 values, the most "
                 "this input takes") == 0,
       "error: cap 0");
}


/* the caller's shape check: rows of 3 values */

static int  test_checks;

static int
check_rows_of_3(void *data, const int64_t *shape, int ndim, char *err,
    size_t len)
{
    test_checks++;

    if (ndim == 2 && shape[1] == 3) {
        return 0;
    }

    snprintf(err, len, "%s: shape must be [n, 3]", (const char *) data);

    return -1;
}


static void
test_check_shape(void)
{
    model(6, "input", NULL);
    test_inputs[0].check_shape = check_rows_of_3;
    test_inputs[0].check_data = "input";

    test_checks = 0;
    ok(decode("{\"inputs\":[{\"name\":\"input\",\"shape\":[2,3],"
              "\"datatype\":\"FP32\",\"data\":[1,2,3,4,5,6]}]}") == 0
       && test_checks == 1,
       "check_shape: called once, and a good shape passes");

    ok(decode("{\"inputs\":[{\"name\":\"input\",\"shape\":[3,2],"
              "\"datatype\":\"FP32\",\"data\":[1,2,3,4,5,6]}]}") == -1
       && strcmp(test_req.err, "input: shape must be [n, 3]") == 0,
       "check_shape: its message for a shape the model does not take");

    ok(decode("{\"inputs\":[{\"name\":\"input\",\"shape\":[1,4],"
              "\"datatype\":\"FP32\",\"data\":[1,2,3]}]}") == -1
       && strcmp(test_req.err, "input: shape must be [n, 3]") == 0,
       "check_shape: before the data are counted against the shape");

    ok(decode("{\"inputs\":[{\"name\":\"input\",\"shape\":[1,7],"
              "\"datatype\":\"FP32\",\"data\":[1,2,3,4,5,6,7]}]}") == -1
       && strcmp(test_req.err, "input: shape must be [n, 3]") == 0,
       "check_shape: when the data overflow cap");

    ok(decode("{\"inputs\":[{\"name\":\"input\",\"shape\":[3,3],"
              "\"datatype\":\"FP32\",\"data\":[1,2,3,4,5,6,7]}]}") == -1
       && strcmp(test_req.err, "inputs[0].data: more than 6 values, the most "
                 "this input takes") == 0,
       "check_shape: a good shape, too large for cap");

    ok(decode("{\"inputs\":[{\"name\":\"input\",\"shape\":[3,2],"
              "\"datatype\":\"FP32\",\"data\":[1,2,3,4,5,6]}],\"x\":[}")
       == -1
       && strncmp(test_req.err, "malformed JSON", 14) == 0,
       "check_shape: malformed JSON further on still wins");
}


/*
 * Numbers: the decoder against (float) strtod() of the same text, in
 * bodies of 256 numbers.
 */

static void
number_text(char *buf, size_t size, int kind)
{
    int       i, n, e;
    char     *p;
    float     f;
    double    d, mid;
    uint64_t  bits;

    switch (kind) {

    case 0:
        snprintf(buf, size, "%.9g", rnd_float());
        break;

    case 1:
        snprintf(buf, size, "%.17g", rnd_float());
        break;

    case 2:
        do {
            bits = rnd();
            memcpy(&d, &bits, sizeof(double));
        } while (!isfinite(d) || fabs(d) > FLT_MAX);

        snprintf(buf, size, "%.17g", d);
        break;

    case 3:
        snprintf(buf, size, (rnd() & 1) ? "%e" : "%.3E", rnd_float());
        break;

    case 4:
        snprintf(buf, size, "%lld", (long long) rnd() >> (rnd() % 64));
        break;

    case 5:
        /* random digits, point and exponent */
        p = buf;

        if (rnd() & 1) {
            *p++ = '-';
        }

        n = 1 + rnd() % 40;
        *p++ = (char) ('1' + rnd() % 9);

        for (i = 1; i < n; i++) {
            *p++ = (char) ('0' + rnd() % 10);
        }

        if (rnd() & 1) {
            *p++ = '.';
            n = 1 + rnd() % 30;

            for (i = 0; i < n; i++) {
                *p++ = (char) ('0' + rnd() % 10);
            }
        }

        e = (int) (rnd() % 120) - 80;
        snprintf(p, size - (p - buf), "%s%s%d", (rnd() & 1) ? "e" : "E",
                 e >= 0 && (rnd() & 1) ? "+" : "", e);
        break;

    case 6:
        bits = rnd() % 0x800000 + 1;
        memcpy(&f, &bits, sizeof(float));
        snprintf(buf, size, (rnd() & 1) ? "%.9g" : "%.17g", f);
        break;

    case 7:
        /* near and at the halfway points between floats */
        do {
            f = fabsf(rnd_float());
        } while (f == FLT_MAX);

        mid = ((double) f + (double) nextafterf(f, INFINITY)) / 2;
        snprintf(buf, size, "%.*g", (int) (9 + rnd() % 20), mid);
        break;

    case 8:
        /* exactly halfway, all of the digits */
        f = fabsf(rnd_float());

        if (f == FLT_MAX) {
            f = 1.0f;
        }

        mid = ((double) f + (double) nextafterf(f, INFINITY)) / 2;
        snprintf(buf, size, "%.800g", mid);

        /* drop the trailing zeros of the mantissa, if any */
        if (strchr(buf, 'e') == NULL && strchr(buf, '.') != NULL) {
            for (p = buf + strlen(buf) - 1; *p == '0'; p--) {
                *p = '\0';
            }

            if (*p == '.') {
                *p = '\0';
            }
        }

        break;

    case 9:
        /* long runs of zeros */
        n = snprintf(buf, size, "%s0.", (rnd() & 1) ? "-" : "");
        e = rnd() % 60;

        for (i = 0; i < e; i++) {
            buf[n++] = '0';
        }

        n += snprintf(buf + n, size - n, "%llu",
                      (unsigned long long) (rnd() >> (rnd() % 64)));

        if (rnd() & 1) {
            e = rnd() % 30;

            for (i = 0; i < e; i++) {
                buf[n++] = '0';
            }

            snprintf(buf + n, size - n, "e%d", (int) (rnd() % 40));

        } else {
            buf[n] = '\0';
        }

        break;

    default:
        snprintf(buf, size, "%s", (const char *[]) {
                     "0", "-0", "0.0", "-0.0", "0e10", "0E-10", "1E+2",
                     "1e-45", "7e-46", "1.4e-45", "3.4028235e38",
                     "3.40282356e38", "1.17549435e-38", "0.1", "100000000000"
                     "000000000000", "9007199254740993", "1.00000005960464477"
                     "5390625", "1.000000059604644775390626",
                     "1.000000059604644775390624"
                 }[rnd() % 19]);
    }
}


static void
test_numbers(void)
{
    int        kind, k, j, bad, rounds, total;
    char      *body, *p, text[256][1024];
    float      want[256];
    size_t     size;

    size = 256 * 1024 + 256;
    body = malloc(size);
    if (body == NULL) {
        abort();
    }

    model(256, "input", NULL);
    rounds = (int) (400 * test_scale) + 1;

    for (kind = 0; kind <= 10; kind++) {
        bad = 0;
        total = 0;

        for (k = 0; k < rounds; k++) {
            p = body + sprintf(body, "{\"inputs\":[{\"name\":\"input\","
                               "\"datatype\":\"FP32\",\"shape\":[256],"
                               "\"data\":[");

            for (j = 0; j < 256; j++) {
                do {
                    number_text(text[j], sizeof(text[j]), kind);
                    want[j] = (float) strtod(text[j], NULL);
                } while (isinf(want[j]));

                p += sprintf(p, "%s%s", j ? "," : "", text[j]);
            }

            strcpy(p, "]}]}");

            if (decode(body) != 0) {
                printf("# decode failed: %s\n", test_req.err);
                bad++;
                continue;
            }

            for (j = 0; j < 256; j++) {
                total++;

                if (memcmp(&want[j], &test_buf[0][j], sizeof(float)) != 0) {
                    if (bad++ < 5) {
                        printf("# %s: got %.9g, want %.9g\n", text[j],
                               test_buf[0][j], want[j]);
                    }
                }
            }
        }

        ok(bad == 0, "numbers of kind %d: %d parsed as (float) strtod()",
           kind, total);
    }

    free(body);
}


static void
test_integers(void)
{
    int         k, bad;
    char        body[256];
    int64_t     v;
    uint64_t    u;

    bad = 0;
    model(8, "input", NULL);

    for (k = 0; k < (int) (100000 * test_scale) + 1; k++) {
        v = (int64_t) rnd() >> (rnd() % 64);
        u = rnd() >> (rnd() % 64);

        snprintf(body, sizeof(body), "{\"inputs\":[{\"name\":\"input\","
                 "\"datatype\":\"INT64\",\"shape\":[1],\"data\":[%lld]}]}",
                 (long long) v);

        if (decode(body) != 0 || test_buf[0][0] != (float) v) {
            bad++;
        }

        snprintf(body, sizeof(body), "{\"inputs\":[{\"name\":\"input\","
                 "\"datatype\":\"UINT64\",\"shape\":[1],\"data\":[%llu]}]}",
                 (unsigned long long) u);

        if (decode(body) != 0 || test_buf[0][0] != (float) u) {
            bad++;
        }

        snprintf(body, sizeof(body), "{\"inputs\":[{\"name\":\"input\","
                 "\"datatype\":\"INT32\",\"shape\":[1],\"data\":[%lld]}]}",
                 (long long) v);

        if ((decode(body) == 0) != (v >= INT32_MIN && v <= INT32_MAX)) {
            bad++;
        }
    }

    ok(bad == 0, "random INT64, UINT64 and INT32 values");
}


/* every prefix of a valid body fails cleanly; then random mutations */

static void
test_prefixes(void)
{
    int          bad, k, n, rc, accepted;
    char         body[1024];
    size_t       len, i;
    const char  *valid;

    valid = "{\"id\" : \"r\\u00e9q-\\\"1\\\"\", \"parameters\": {\"timeout\":"
            " 100000, \"x\": [true, null, {\"y\": -1.5e-3}]}, \"inputs\": [{"
            "\"name\": \"input\", \"shape\": [2, 3], \"datatype\": \"FP32\", "
            "\"parameters\": {\"content_type\": \"np\"}, \"data\": [[1, "
            "-2.5, 3e2], [0.1, -0, 1234567.875]]}, {\"data\": [true, 0], "
            "\"datatype\": \"BOOL\", \"name\": \"mask\", \"shape\": [2]}], "
            "\"outputs\": [{\"name\": \"o\\u0075t\", \"parameters\": "
            "{\"binary_data\": false}}]}";

    model(8, "input", "mask", NULL);
    len = strlen(valid);

    ok(decode(valid) == 0 && test_inputs[0].count == 6
       && test_inputs[1].count == 2 && test_req.noutputs == 1
       && span_is(test_req.outputs[0], "out")
       && test_req.timeout_ms == 100,
       "the body used for prefixes decodes");

    bad = 0;

    for (i = 0; i < len; i++) {
        rc = decode_len(valid, i);

        if (rc != -1 || test_req.err[0] == '\0') {
            printf("# prefix of %zu bytes: rc %d\n", i, rc);
            bad++;
        }
    }

    ok(bad == 0, "each of the %zu prefixes fails with a message", len);

    bad = 0;
    accepted = 0;

    for (k = 0; k < (int) (200000 * test_scale) + 1; k++) {
        memcpy(body, valid, len + 1);
        n = 1 + rnd() % 3;

        while (n--) {
            body[rnd() % len] = "{}[],:\"\\-+.0123456789eEtfnu \x01\xc3\xff"
                                [rnd() % 31];
        }

        rc = decode_len(body, len);

        if (rc == 0) {
            accepted++;

        } else if (test_req.err[0] == '\0') {
            bad++;
        }
    }

    ok(bad == 0, "random mutations of it: %d decoded, the others fail "
       "with a message", accepted);
}


/* JSON number grammar, for the output of infer_ks_write_float() */

static int
json_number(const char *s)
{
    if (*s == '-') {
        s++;
    }

    if (*s == '0') {
        s++;

    } else if (*s >= '1' && *s <= '9') {
        while (*s >= '0' && *s <= '9') {
            s++;
        }

    } else {
        return 0;
    }

    if (*s == '.') {
        s++;

        if (!(*s >= '0' && *s <= '9')) {
            return 0;
        }

        while (*s >= '0' && *s <= '9') {
            s++;
        }
    }

    if (*s == 'e' || *s == 'E') {
        s++;

        if (*s == '+' || *s == '-') {
            s++;
        }

        if (!(*s >= '0' && *s <= '9')) {
            return 0;
        }

        while (*s >= '0' && *s <= '9') {
            s++;
        }
    }

    return *s == '\0';
}


/* significant digits of a decimal number */

static int
sig_digits(const char *s)
{
    int          n, z;
    const char  *p;

    n = 0;
    z = 0;

    if (strcmp(s, "0") == 0 || strcmp(s, "-0") == 0) {
        return 1;
    }

    for (p = s; *p && *p != 'e' && *p != 'E'; p++) {
        if (*p < '0' || *p > '9') {
            continue;
        }

        if (n == 0 && *p == '0') {
            continue;
        }

        if (*p == '0') {
            z++;

        } else {
            n += z + 1;
            z = 0;
        }
    }

    return n;
}


/*
 * The fewest significant digits that read back as f, by glibc: a p-digit
 * decimal that does is next to f, so it is the correctly rounded one or a
 * neighbour of it.
 */

static int
shortest(float f)
{
    int        p, e, i;
    char       buf[64];
    long long  m, c;

    if (f == 0) {
        return 1;
    }

    for (p = 1; p < 9; p++) {
        snprintf(buf, sizeof(buf), "%.*e", p - 1, fabsf(f));
        m = 0;

        for (i = 0; buf[i] != 'e'; i++) {
            if (buf[i] != '.') {
                m = m * 10 + (buf[i] - '0');
            }
        }

        e = atoi(buf + i + 1) - (p - 1);

        for (c = m - 1; c <= m + 1; c++) {
            snprintf(buf, sizeof(buf), "%llde%d", c, e);

            if (strtof(buf, NULL) == fabsf(f)) {
                return p;
            }
        }
    }

    return 9;
}


static int
write_float_is(float v, const char *want)
{
    char    buf[32];
    size_t  n;

    n = infer_ks_write_float(buf, v);
    buf[n] = '\0';

    if (strcmp(buf, want) != 0) {
        printf("# %.9g: got \"%s\", want \"%s\"\n", v, buf, want);
        return 0;
    }

    return 1;
}


static int
write_float_check(float v, int check_shortest, long *longer)
{
    char      buf[32], ref[32];
    float     back;
    size_t    n;

    memset(buf, 'x', sizeof(buf));
    n = infer_ks_write_float(buf, v);

    if (n > 16 || buf[n] != 'x') {
        printf("# %.9g: wrote %zu bytes\n", v, n);
        return 0;
    }

    buf[n] = '\0';
    back = strtof(buf, NULL);
    snprintf(ref, sizeof(ref), "%.9g", v);

    if (memcmp(&back, &v, sizeof(float)) != 0 || !json_number(buf)
        || n > strlen(ref))
    {
        printf("# %.9g: \"%s\" (%%.9g \"%s\")\n", v, buf, ref);
        return 0;
    }

    if (check_shortest && sig_digits(buf) != shortest(v)) {
        if ((*longer)++ < 5) {
            printf("# %.9g: \"%s\" has %d digits, %d would do\n", v, buf,
                   sig_digits(buf), shortest(v));
        }

        return sig_digits(buf) <= shortest(v);
    }

    return 1;
}


static void
test_write_float(void)
{
    int       i, e, bad;
    long      n, longer;
    float     f;
    uint32_t  bits;

    ok(write_float_is(0.0f, "0") && write_float_is(-0.0f, "-0")
       && write_float_is(NAN, "null") && write_float_is(-NAN, "null")
       && write_float_is(INFINITY, "null")
       && write_float_is(-INFINITY, "null"),
       "write_float: zeros, NaN and infinities");

    ok(write_float_is(0.1f, "0.1") && write_float_is(12.5f, "12.5")
       && write_float_is(-1.0f, "-1") && write_float_is(100.0f, "100")
       && write_float_is(1e-7f, "1e-07") && write_float_is(1.5e-7f, "1.5e-07")
       && write_float_is(0.001f, "0.001") && write_float_is(1e-4f, "1e-04")
       && write_float_is(1e10f, "1e+10")
       && write_float_is(123456792.0f, "123456790")
       && write_float_is(16777216.0f, "16777216")
       && write_float_is(0.3f, "0.3") && write_float_is(2.0f / 3, "0.6666667")
       && write_float_is(FLT_MAX, "3.4028235e+38")
       && write_float_is(-FLT_MAX, "-3.4028235e+38")
       && write_float_is(FLT_MIN, "1.1754944e-38")
       && write_float_is(1.4e-45f, "1e-45")
       && write_float_is(5.877472e-39f, "5.877472e-39")
       && write_float_is(0.5f, "0.5") && write_float_is(1e38f, "1e+38"),
       "write_float: known values");

    bad = 0;
    longer = 0;

    /* powers of two and of ten and their neighbours, all subnormals */
    for (e = -149; e <= 127; e++) {
        f = ldexpf(1.0f, e);
        bad += !write_float_check(f, 1, &longer);
        bad += !write_float_check(nextafterf(f, 0), 1, &longer);
        bad += !write_float_check(nextafterf(f, INFINITY), 1, &longer);
    }

    for (e = -45; e <= 38; e++) {
        f = (float) pow(10, e);
        bad += !write_float_check(f, 1, &longer);
        bad += !write_float_check(nextafterf(f, 0), 1, &longer);
        bad += !write_float_check(nextafterf(f, INFINITY), 1, &longer);
    }

    for (bits = 1; bits < 0x800000; bits += 1 + (bits >> 8)) {
        memcpy(&f, &bits, sizeof(float));
        bad += !write_float_check(f, 0, &longer);
    }

    for (i = 0; i <= 100000; i++) {
        bad += !write_float_check((float) i, 0, &longer);
        bad += !write_float_check((float) i / 1000, 0, &longer);
    }

    ok(bad == 0, "write_float: powers, subnormals, integers, thousandths");

    bad = 0;
    n = (long) (4000000 * test_scale) + 1;

    for (i = 0; i < n; i++) {
        bad += !write_float_check(rnd_float(), i < n / 16, &longer);

        if (bad > 10) {
            break;
        }
    }

    ok(bad == 0, "write_float: %ld random floats read back exactly, no "
       "longer than %%.9g, shortest for %ld of them", n, n / 16);
}


static int
write_string_is(const char *s, size_t len, const char *want)
{
    char    buf[6 * 64 + 2 + 1];
    size_t  n;

    n = infer_ks_write_string(buf, s, len);
    buf[n] = '\0';

    if (n != strlen(want) || strcmp(buf, want) != 0) {
        printf("# got %s, want %s\n", buf, want);
        return 0;
    }

    return 1;
}


static void
test_write_string(void)
{
    ok(write_string_is("", 0, "\"\"")
       && write_string_is("input", 5, "\"input\"")
       && write_string_is("a\"b\\c/d", 7, "\"a\\\"b\\\\c/d\"")
       && write_string_is("\b\f\n\r\t", 5, "\"\\b\\f\\n\\r\\t\"")
       && write_string_is("\x01\x1f\x7f", 3, "\"\\u0001\\u001f\x7f\"")
       && write_string_is("a\0b", 3, "\"a\\u0000b\"")
       && write_string_is("\xc3\xa9\xe2\x82\xac", 5,
                          "\"\xc3\xa9\xe2\x82\xac\""),
       "write_string: escapes");

    ok(write_string_is("\x01\x01\x01\x01\x01\x01\x01\x01", 8,
                       "\"\\u0001\\u0001\\u0001\\u0001\\u0001\\u0001\\u0001"
                       "\\u0001\""),
       "write_string: worst case is 6 bytes per byte plus quotes");
}


static void
test_datatypes(void)
{
    int  i, bad;

    bad = 0;

    for (i = 0; i < INFER_KS_UNKNOWN; i++) {
        const char  *name = infer_ks_datatype_name((infer_ks_datatype_e) i);

        if (infer_ks_datatype(name, strlen(name)) != (infer_ks_datatype_e) i) {
            bad++;
        }
    }

    ok(bad == 0 && infer_ks_datatype("FP32", 4) == INFER_KS_FP32
       && infer_ks_datatype("FP3", 3) == INFER_KS_UNKNOWN
       && infer_ks_datatype("FP322", 5) == INFER_KS_UNKNOWN
       && strcmp(infer_ks_datatype_name(INFER_KS_UNKNOWN), "UNKNOWN") == 0,
       "datatype names");
}


int
main(void)
{
    const char  *scale;

    scale = getenv("TEST_KSERVE_SCALE");
    if (scale != NULL) {
        test_scale = atof(scale);
    }

    test_valid();
    test_messages();
    test_check_shape();
    test_numbers();
    test_integers();
    test_prefixes();
    test_write_float();
    test_write_string();
    test_datatypes();

    printf("1..%d\n", test_n);

    if (test_failed) {
        printf("# %d of %d tests failed\n", test_failed, test_n);
    }

    return test_failed ? 1 : 0;
}
