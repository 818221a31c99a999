/*
 * Unit tests of the KServe v2 JSON codec (kernels/infer_kserve.h), TAP
 * output.  Every body is decoded from a malloc()ed copy of its exact size,
 * so that a read past the end shows under valgrind or AddressSanitizer.
 *
 *     make build/test_kserve && build/test_kserve
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

#include <jansson.h>

#include "infer_kserve.h"

#include "tap.h"


#define CAP        4096

/* what the random mutations of a JSON body write: its syntax, a control
 * character and bytes that are not UTF-8 */
#define TEST_JSON_BYTES  "{}[],:\"\\-+.0123456789eEtfnu \x01\xc3\xff"


typedef struct {
    const char  *body;
    const char  *err;
} test_error_t;


static double  test_scale = 1.0;

static float                test_buf[4][CAP];
static infer_ks_input_t     test_inputs[4];
static infer_ks_request_t   test_req;


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


/*
 * The copy lives until the next decode: id, outputs and strings point into
 * it.  An input that takes BYTES gets a text buffer malloc()ed to exactly
 * the body's length, what the interface promises suffices (or to
 * test_text_cap bytes when that is set).
 */

static char    *test_body;
static char    *test_text[4];
static size_t   test_text_cap = (size_t) -1;


static void
text_buffers(size_t len)
{
    int     i;
    size_t  cap;

    cap = (test_text_cap == (size_t) -1) ? len : test_text_cap;

    for (i = 0; i < 4; i++) {
        free(test_text[i]);
        test_text[i] = NULL;

        if (test_inputs[i].strs == NULL) {
            continue;
        }

        test_text[i] = malloc(cap ? cap : 1);
        if (test_text[i] == NULL) {
            abort();
        }

        test_inputs[i].text = test_text[i];
        test_inputs[i].text_cap = cap;
    }
}


static int
decode_len(const char *body, size_t len)
{
    test_body = exact_copy(test_body, body, len);
    text_buffers(len);

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
    { "{\"parameters\":{\"binary_data_output\":1}}",
      "parameters.binary_data_output: expected true or false" },
    { "{\"parameters\":{\"binary_data_output\":\"true\"}}",
      "parameters.binary_data_output: expected true or false" },
    { "{\"parameters\":{\"binary_data_output\":null}}",
      "parameters.binary_data_output: expected true or false" },
    { "{\"parameters\":{\"binary_data_output\":true,"
      "\"binary_data_output\":false}}",
      "parameters: duplicate key \"binary_data_output\"" },
    { "{\"outputs\":[{\"name\":\"a\",\"parameters\":{\"binary_data\":0}}]}",
      "outputs[0].parameters.binary_data: expected true or false" },
    { "{\"outputs\":[{\"name\":\"a\"},{\"name\":\"b\",\"parameters\":"
      "{\"binary_data\":[true]}}]}",
      "outputs[1].parameters.binary_data: expected true or false" },
    { "{\"outputs\":[{\"name\":\"a\",\"parameters\":{\"binary_data\":true,"
      "\"x\":1,\"binary_data\":true}}]}",
      "outputs[0].parameters: duplicate key \"binary_data\"" },
    { "{\"outputs\":[{\"name\":\"a\",\"parameters\":{},\"parameters\":{}}"
      "]}",
      "outputs[0]: duplicate key \"parameters\"" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":\"FP32\","
      "\"data\":[1]}],\"parameters\":{\"binary_data_output\":tru}}",
      "malformed JSON at line 1, column 108: invalid token near 'tru'" },

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

    /* jansson's token ends inside a UTF-8 sequence (found by fuzzing) */
    { "{\"a\":\"\\u12\xe2\x82\xac\"}",
      "malformed JSON at line 1, column 11: invalid escape near '\"\\u12?'" },
    { "{\"outputs\":[{\"name\":\"lo\\u00e\xc7\x98\"}]}",
      "malformed JSON at line 1, column 29: invalid escape near "
      "'\"lo\\u00e?'" },
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
    int          bad, k, rc, accepted;
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
        mutate(body, valid, len, TEST_JSON_BYTES, 31);

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


/*
 * The binary tensor data extension: bodies are the JSON, then the bytes
 * built in test_bin, in one malloc()ed block of the exact size.
 */

static unsigned char  test_bin[1 << 17];
static size_t         test_nbin;


static void
put(uint64_t v, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        test_bin[test_nbin++] = (unsigned char) (v >> (8 * i));
    }
}


static void
put_f32(float f)
{
    uint32_t  u;

    memcpy(&u, &f, sizeof(float));
    put(u, 4);
}


static void
put_f64(double d)
{
    uint64_t  u;

    memcpy(&u, &d, sizeof(double));
    put(u, 8);
}


static int
decode_binary_at(const char *body, size_t json_len, size_t len)
{
    test_body = exact_copy(test_body, body, len);
    text_buffers(len);

    return infer_ks_decode_binary(&test_req, test_body, json_len, len);
}


/* json, then the test_nbin bytes of test_bin */

static int
decode_binary(const char *json)
{
    int     rc;
    char   *body;
    size_t  n;

    n = strlen(json);

    body = malloc(n + test_nbin + 1);
    if (body == NULL) {
        abort();
    }

    memcpy(body, json, n);
    memcpy(body + n, test_bin, test_nbin);

    rc = decode_binary_at(body, n, n + test_nbin);
    free(body);

    return rc;
}


static int
err_is(const char *want)
{
    if (strcmp(test_req.err, want) != 0) {
        printf("#    got: %s\n#   want: %s\n", test_req.err, want);
        return 0;
    }

    return 1;
}


/* the values decoded for input 0 have the bits of want[] */

static int
bits_are(const float *want, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (memcmp(&test_buf[0][i], &want[i], sizeof(float)) != 0) {
            printf("# value %zu: got %.9g, want %.9g\n", i, test_buf[0][i],
                   want[i]);
            return 0;
        }
    }

    return 1;
}


/* one input of datatype dt and shape [n], all binary */

static int
decode_one(const char *dt, size_t n, const char *pad)
{
    char  json[512];

    snprintf(json, sizeof(json), "{\"id\":\"%s\",\"inputs\":[{\"name\":"
             "\"input\",\"shape\":[%zu],\"datatype\":\"%s\",\"parameters\":"
             "{\"binary_data_size\":%zu}}]}", pad, n, dt, test_nbin);

    if (decode_binary(json) != 0) {
        printf("# %s: %s\n", dt, test_req.err);
        return -1;
    }

    return 0;
}


/* binary16 by its definition, not by infer_math.h */

static float
half_ref(uint16_t h)
{
    int     e;
    double  m;

    e = (h >> 10) & 0x1f;
    m = h & 0x3ff;
    m = (e == 0) ? ldexp(m, -24) : ldexp(1024 + m, e - 25);

    return (float) ((h & 0x8000) ? -m : m);
}


static void
test_binary_valid(void)
{
    int           pad, bad;
    float         want[CAP];
    double        d;
    size_t        i, n, base;
    uint32_t      u;
    infer_ks_input_t  *in;

    static const char  *pads[] = { "", "a", "ab", "abc" };

    in = &test_inputs[0];
    model(CAP, "input", NULL);

    /* FP32 at each of the four alignments after the JSON */

    bad = 0;

    for (pad = 0; pad < 4; pad++) {
        test_nbin = 0;

        for (i = 0; i < 784; i++) {
            want[i] = (i < 4) ? (float []) { 0.0f, -0.0f, FLT_MAX,
                                             1e-45f }[i]
                              : rnd_float();
            put_f32(want[i]);
        }

        if (decode_one("FP32", 784, pads[pad]) != 0 || !bits_are(want, 784)
            || in->count != 784 || in->datatype != INFER_KS_FP32
            || in->binary_size != 3136 || in->index != 0
            || in->ndim != 1 || in->shape[0] != 784)
        {
            bad++;
        }
    }

    ok(bad == 0, "binary FP32: 784 values copied bit for bit, at any "
       "alignment");

    /* every finite half, 4096 at a time */

    bad = 0;

    for (base = 0; base < 0x10000; base += CAP) {
        test_nbin = 0;
        n = 0;

        for (i = base; i < base + CAP; i++) {
            if ((i & 0x7c00) == 0x7c00) {
                continue;
            }

            want[n++] = half_ref((uint16_t) i);
            put(i, 2);
        }

        if (decode_one("FP16", n, "x") != 0 || !bits_are(want, n)) {
            bad++;
        }
    }

    ok(bad == 0, "binary FP16: every finite value, exactly");

    bad = 0;

    for (base = 0; base < 0x10000; base += CAP) {
        test_nbin = 0;
        n = 0;

        for (i = base; i < base + CAP; i++) {
            if ((i & 0x7f80) == 0x7f80) {
                continue;
            }

            u = (uint32_t) i << 16;
            memcpy(&want[n++], &u, sizeof(float));
            put(i, 2);
        }

        if (decode_one("BF16", n, "xy") != 0 || !bits_are(want, n)) {
            bad++;
        }
    }

    ok(bad == 0 && in->datatype == INFER_KS_BF16,
       "binary BF16: every finite value, exactly");

    test_nbin = 0;
    n = 0;

    for (i = 0; i < 1000; i++) {
        d = (i < 6) ? (double []) { 0.0, -0.0, 1e-300, -1e-50,
                                    3.4028235677973362e38,
                                    -3.4028235677973362e38 }[i]
                    : (double) rnd_float() * (1 + (double) (rnd() % 1000)
                                              / 1e9);

        if (isinf((float) d)) {
            continue;
        }

        want[n++] = (float) d;
        put_f64(d);
    }

    ok(decode_one("FP64", n, "") == 0 && bits_are(want, n)
       && in->datatype == INFER_KS_FP64 && in->binary_size == (int64_t) n * 8,
       "binary FP64: rounded to FP32, up to FLT_MAX's rounding bound");

    test_nbin = 0;
    put(0, 1); put(1, 1); put(1, 1); put(0, 1);
    ok(decode_one("BOOL", 4, "") == 0
       && floats_are(in->dst, 4, 0.0, 1.0, 1.0, 0.0)
       && in->datatype == INFER_KS_BOOL,
       "binary BOOL: bytes 0 and 1");

    test_nbin = 0;
    put(0, 1); put(255, 1); put(7, 1);
    ok(decode_one("UINT8", 3, "") == 0
       && floats_are(in->dst, 3, 0.0, 255.0, 7.0),
       "binary UINT8");

    test_nbin = 0;
    put(0x80, 1); put(0x7f, 1); put(0xff, 1); put(0, 1);
    ok(decode_one("INT8", 4, "") == 0
       && floats_are(in->dst, 4, -128.0, 127.0, -1.0, 0.0),
       "binary INT8");

    test_nbin = 0;
    put(0xffff, 2); put(0x1234, 2); put(0, 2);
    ok(decode_one("UINT16", 3, "a") == 0
       && floats_are(in->dst, 3, 65535.0, 4660.0, 0.0),
       "binary UINT16, little-endian");

    test_nbin = 0;
    put(0x8000, 2); put(0x7fff, 2); put(0xfffe, 2);
    ok(decode_one("INT16", 3, "a") == 0
       && floats_are(in->dst, 3, -32768.0, 32767.0, -2.0),
       "binary INT16");

    test_nbin = 0;
    put(0xffffffffULL, 4); put(0x01020304, 4); put(16777217, 4);
    ok(decode_one("UINT32", 3, "ab") == 0
       && floats_are(in->dst, 3, 4294967295.0, 16909060.0, 16777216.0),
       "binary UINT32, rounded to FP32");

    test_nbin = 0;
    put(0x80000000ULL, 4); put(0x7fffffff, 4); put(0xfffffffdULL, 4);
    ok(decode_one("INT32", 3, "ab") == 0
       && floats_are(in->dst, 3, -2147483648.0, 2147483647.0, -3.0),
       "binary INT32");

    test_nbin = 0;
    put(UINT64_MAX, 8); put(0x0102030405060708ULL, 8); put(0, 8);
    ok(decode_one("UINT64", 3, "abc") == 0
       && floats_are(in->dst, 3, 18446744073709551615.0,
                     (double) 0x0102030405060708ULL, 0.0),
       "binary UINT64");

    test_nbin = 0;
    put(0x8000000000000000ULL, 8); put(INT64_MAX, 8);
    put((uint64_t) -5, 8);
    ok(decode_one("INT64", 3, "abc") == 0
       && floats_are(in->dst, 3, -9223372036854775808.0,
                     9223372036854775807.0, -5.0),
       "binary INT64");

    /* random integers of every width against the C conversion */

    bad = 0;

    for (i = 0; i < (size_t) (2000 * test_scale) + 1; i++) {
        uint64_t  v = rnd() >> (rnd() % 64);

        test_nbin = 0;
        put(v, 8);

        if (decode_one("UINT64", 1, "") != 0
            || test_buf[0][0] != (float) v
            || decode_one("INT64", 1, "") != 0
            || test_buf[0][0] != (float) (int64_t) v)
        {
            bad++;
        }

        test_nbin = 4;

        if (decode_one("INT32", 1, "") != 0
            || test_buf[0][0] != (float) (int32_t) (uint32_t) v
            || decode_one("UINT32", 1, "") != 0
            || test_buf[0][0] != (float) (uint32_t) v)
        {
            bad++;
        }

        test_nbin = 2;

        if (decode_one("INT16", 1, "") != 0
            || test_buf[0][0] != (float) (int16_t) (uint16_t) v
            || decode_one("UINT16", 1, "") != 0
            || test_buf[0][0] != (float) (uint16_t) v)
        {
            bad++;
        }
    }

    ok(bad == 0, "binary INT64, UINT64, INT32, UINT32, INT16, UINT16: "
       "random values");

    test_nbin = 0;
    ok(decode_one("FP32", 0, "") == 0 && in->count == 0
       && in->binary_size == 0,
       "binary: an empty tensor of 0 bytes");

    /* no binary input at all: the JSON is the whole body */

    test_nbin = 0;
    ok(decode_binary("{\"inputs\":[{\"name\":\"input\",\"shape\":[2],"
                     "\"datatype\":\"INT32\",\"data\":[1,-2]}]}") == 0
       && floats_are(in->dst, 2, 1.0, -2.0) && in->binary_size == -1
       && in->count == 2,
       "binary path: \"data\" only, no bytes after the JSON");

    /* parameters before the keys that give its size */

    test_nbin = 0;
    put_f32(1.5f); put_f32(-2.0f);
    ok(decode_binary("{\"inputs\":[{\"parameters\":{\"x\":[1],"
                     "\"binary_data_size\":8,\"y\":{}},\"shape\":[1,2],"
                     "\"datatype\":\"FP32\",\"name\":\"input\"}]}") == 0
       && floats_are(in->dst, 2, 1.5, -2.0) && in->ndim == 2,
       "binary: parameters first, other parameters skipped");

}


/* inputs in "data" and in binary, in another order than the model's */

static void
test_binary_mixed(void)
{
    test_nbin = 0;
    put(7, 8); put((uint64_t) -1, 8); put(3, 8);       /* ids, INT64 */
    put(1, 1); put(0, 1); put(0, 1); put(1, 1);        /* mask, BOOL */

    model(16, "input", "mask", "ids", NULL);

    ok(decode_binary("{\"id\":\"42\",\"inputs\":[{\"name\":\"ids\","
                     "\"shape\":[1,3],\"datatype\":\"INT64\",\"parameters\":"
                     "{\"binary_data_size\":24}},{\"name\":\"input\",\"shape\":"
                     "[2,2],\"datatype\":\"FP32\",\"data\":[[1,2],[3,4]]},"
                     "{\"parameters\":{\"binary_data_size\":4},\"name\":"
                     "\"mask\",\"datatype\":\"BOOL\",\"shape\":[4]}],"
                     "\"outputs\":[{\"name\":\"probs\",\"parameters\":"
                     "{\"binary_data\":true}}]}") == 0
       && floats_are(test_inputs[0].dst, 4, 1.0, 2.0, 3.0, 4.0)
       && floats_are(test_inputs[1].dst, 4, 1.0, 0.0, 0.0, 1.0)
       && floats_are(test_inputs[2].dst, 3, 7.0, -1.0, 3.0)
       && test_inputs[0].index == 1 && test_inputs[1].index == 2
       && test_inputs[2].index == 0
       && test_inputs[0].binary_size == -1
       && test_inputs[1].binary_size == 4
       && test_inputs[2].binary_size == 24
       && test_inputs[0].count == 4 && test_inputs[1].count == 4
       && test_inputs[2].count == 3
       && span_is(test_req.id, "\"42\"") && test_req.noutputs == 1
       && infer_ks_output_binary(&test_req, "probs", 5) == 1,
       "binary: mixed inputs, the bytes in the order of \"inputs\"");

    /* the same bytes, the two binary inputs swapped in the JSON */

    test_nbin = 0;
    put(1, 1); put(0, 1); put(0, 1); put(1, 1);
    put(7, 8); put((uint64_t) -1, 8); put(3, 8);

    ok(decode_binary("{\"inputs\":[{\"name\":\"mask\",\"shape\":[4],"
                     "\"datatype\":\"BOOL\",\"parameters\":"
                     "{\"binary_data_size\":4}},{\"name\":\"ids\",\"shape\":"
                     "[1,3],\"datatype\":\"INT64\",\"parameters\":"
                     "{\"binary_data_size\":24}},{\"name\":\"input\","
                     "\"shape\":[1],\"datatype\":\"FP32\",\"data\":[9]}]}")
       == 0
       && floats_are(test_inputs[1].dst, 4, 1.0, 0.0, 0.0, 1.0)
       && floats_are(test_inputs[2].dst, 3, 7.0, -1.0, 3.0)
       && floats_are(test_inputs[0].dst, 1, 9.0)
       && test_req.noutputs == 0 && test_req.id.len == 0
       && infer_ks_output_binary(&test_req, "probs", 5) == 0,
       "binary: a BOOL input at an odd length before INT64, unaligned");
}


typedef struct {
    const char  *json;
    const char  *bin;
    size_t       nbin;
    const char  *err;
} test_binary_error_t;


#define BIN(s)  s, sizeof(s) - 1


static const test_binary_error_t  test_binary_errors[] = {

    /* binary_data_size itself */
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":\"FP32\","
      "\"parameters\":{\"binary_data_size\":\"4\"}}]}", BIN("\0\0\0\0"),
      "inputs[0].parameters.binary_data_size: expected a non-negative "
      "integer (bytes)" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":\"FP32\","
      "\"parameters\":{\"binary_data_size\":-4}}]}", BIN("\0\0\0\0"),
      "inputs[0].parameters.binary_data_size: expected a non-negative "
      "integer (bytes)" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":\"FP32\","
      "\"parameters\":{\"binary_data_size\":4.0}}]}", BIN("\0\0\0\0"),
      "inputs[0].parameters.binary_data_size: expected a non-negative "
      "integer (bytes)" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":\"FP32\","
      "\"parameters\":{\"binary_data_size\":4e0}}]}", BIN("\0\0\0\0"),
      "inputs[0].parameters.binary_data_size: expected a non-negative "
      "integer (bytes)" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":\"FP32\","
      "\"parameters\":{\"binary_data_size\":true}}]}", BIN("\0\0\0\0"),
      "inputs[0].parameters.binary_data_size: expected a non-negative "
      "integer (bytes)" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":\"FP32\","
      "\"parameters\":{\"binary_data_size\":null}}]}", BIN("\0\0\0\0"),
      "inputs[0].parameters.binary_data_size: expected a non-negative "
      "integer (bytes)" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":\"FP32\","
      "\"parameters\":{\"binary_data_size\":9223372036854775808}}]}",
      BIN("\0\0\0\0"),
      "inputs[0].parameters.binary_data_size: too large" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":\"FP32\","
      "\"parameters\":{\"binary_data_size\":123456789012345678901234}}]}",
      BIN("\0\0\0\0"),
      "inputs[0].parameters.binary_data_size: too large" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":\"FP32\","
      "\"parameters\":{\"binary_data_size\":4,\"binary_data_size\":4}}]}",
      BIN("\0\0\0\0"),
      "inputs[0].parameters: duplicate key \"binary_data_size\"" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":\"FP32\","
      "\"parameters\":[4]}]}", BIN("\0\0\0\0"),
      "inputs[0].parameters: expected an object" },

    /* binary_data_size against the shape and the datatype */
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":\"FP32\","
      "\"parameters\":{\"binary_data_size\":9223372036854775807}}]}",
      BIN("\0\0\0\0"),
      "inputs[0].parameters.binary_data_size: 9223372036854775807 bytes, "
      "but shape [1] of FP32 needs 4" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[2,3],\"datatype\":"
      "\"FP16\",\"parameters\":{\"binary_data_size\":6}}]}",
      BIN("\0\0\0\0\0\0"),
      "inputs[0].parameters.binary_data_size: 6 bytes, but shape [2, 3] of "
      "FP16 needs 12" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[3],\"datatype\":\"BOOL\","
      "\"parameters\":{\"binary_data_size\":12}}]}", BIN("\0\0\0\0"),
      "inputs[0].parameters.binary_data_size: 12 bytes, but shape [3] of "
      "BOOL needs 3" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[0],\"datatype\":\"INT64\","
      "\"parameters\":{\"binary_data_size\":8}}]}", BIN("\0\0\0\0\0\0\0\0"),
      "inputs[0].parameters.binary_data_size: 8 bytes, but shape [0] of "
      "INT64 needs 0" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[2147483648,2147483648],"
      "\"datatype\":\"FP64\",\"parameters\":{\"binary_data_size\":8}}]}",
      BIN("\0\0\0\0\0\0\0\0"),
      "inputs[0].shape: too many values" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[4294967296,4294967296],"
      "\"datatype\":\"BOOL\",\"parameters\":{\"binary_data_size\":8}}]}",
      BIN("\0\0\0\0\0\0\0\0"),
      "inputs[0].shape: too many values" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[4097],\"datatype\":"
      "\"UINT8\",\"parameters\":{\"binary_data_size\":4097}}]}", BIN(""),
      "inputs[0]: shape [4097] holds 4097 values, more than 4096, the most "
      "this input takes" },

    /* data, binary_data_size, both or neither */
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":\"FP32\""
      "}]}", BIN(""),
      "inputs[0]: missing \"data\" or parameters.binary_data_size" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":\"FP32\","
      "\"parameters\":{\"binary_data\":4}}]}", BIN("\0\0\0\0"),
      "inputs[0]: missing \"data\" or parameters.binary_data_size" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":\"FP32\","
      "\"data\":[1],\"parameters\":{\"binary_data_size\":4}}]}",
      BIN("\0\0\0\0"),
      "inputs[0]: both \"data\" and parameters.binary_data_size, expected "
      "one of them" },
    { "{\"inputs\":[{\"parameters\":{\"binary_data_size\":4},\"data\":[1],"
      "\"name\":\"input\",\"shape\":[1],\"datatype\":\"FP32\"}]}",
      BIN("\0\0\0\0"),
      "inputs[0]: both \"data\" and parameters.binary_data_size, expected "
      "one of them" },
    { "{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\","
      "\"parameters\":{\"binary_data_size\":4}}]}", BIN("\0\0\0\0"),
      "inputs[0].name: model has no input \"x\" (expected \"input\")" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":\"FP32\","
      "\"parameters\":{\"binary_data_size\":4}},{\"name\":\"input\","
      "\"shape\":[1],\"datatype\":\"FP32\",\"parameters\":"
      "{\"binary_data_size\":4}}]}", BIN("\0\0\0\0\0\0\0\0"),
      "inputs[1].name: input \"input\" appears twice" },

    /* datatypes */
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":\"FP16\","
      "\"data\":[1]}]}", BIN(""),
      "inputs[0].datatype: FP16 cannot be sent as JSON numbers, only as "
      "binary data" },
    { "{\"inputs\":[{\"data\":[1],\"name\":\"input\",\"shape\":[1],"
      "\"datatype\":\"BF16\"}]}", BIN(""),
      "inputs[0].datatype: BF16 cannot be sent as JSON numbers, only as "
      "binary data" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":"
      "\"BYTES\",\"parameters\":{\"binary_data_size\":5}}]}",
      BIN("\1\0\0\0a"),
      "inputs[0].datatype: BYTES is not supported here, the model takes "
      "numbers" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":\"bf16\","
      "\"parameters\":{\"binary_data_size\":2}}]}", BIN("\0\0"),
      "inputs[0].datatype: unknown datatype \"bf16\"" },

    /* the sizes against the bytes after the JSON */
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[2],\"datatype\":\"FP32\","
      "\"parameters\":{\"binary_data_size\":8}}]}", BIN("\0\0\0\0\0\0\0"),
      "the binary data after the JSON is 7 bytes, the inputs' "
      "binary_data_size add up to 8" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[2],\"datatype\":\"FP32\","
      "\"parameters\":{\"binary_data_size\":8}}]}",
      BIN("\0\0\0\0\0\0\0\0\0"),
      "the binary data after the JSON is 9 bytes, the inputs' "
      "binary_data_size add up to 8" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[2],\"datatype\":\"FP32\","
      "\"parameters\":{\"binary_data_size\":8}}]}", BIN(""),
      "the binary data after the JSON is 0 bytes, the inputs' "
      "binary_data_size add up to 8" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[2],\"datatype\":\"FP32\","
      "\"data\":[1,2]}]}", BIN("\0\0\0\0"),
      "4 bytes follow the JSON (Inference-Header-Content-Length 72), but no "
      "input has parameters.binary_data_size" },

    /* the values */
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[4],\"datatype\":\"FP32\","
      "\"parameters\":{\"binary_data_size\":16}}]}",
      BIN("\0\0\x80\x3f\0\0\0\0\0\0\0\x80\0\0\xc0\x7f"),
      "inputs[0]: binary data holds NaN or Infinity at [3]" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[2],\"datatype\":\"FP32\","
      "\"parameters\":{\"binary_data_size\":8}}]}",
      BIN("\0\0\x80\x7f\0\0\xc0\x7f"),
      "inputs[0]: binary data holds NaN or Infinity at [0]" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[2],\"datatype\":\"FP32\","
      "\"parameters\":{\"binary_data_size\":8}}]}",
      BIN("\xff\xff\x7f\x7f\0\0\x80\xff"),
      "inputs[0]: binary data holds NaN or Infinity at [1]" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[3],\"datatype\":\"FP16\","
      "\"parameters\":{\"binary_data_size\":6}}]}",
      BIN("\0\x3c\xff\x7b\0\x7c"),
      "inputs[0]: binary data holds NaN or Infinity at [2]" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[2],\"datatype\":\"FP16\","
      "\"parameters\":{\"binary_data_size\":4}}]}", BIN("\x01\xfe\0\0"),
      "inputs[0]: binary data holds NaN or Infinity at [0]" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[2],\"datatype\":\"BF16\","
      "\"parameters\":{\"binary_data_size\":4}}]}", BIN("\x7f\x7f\xc0\x7f"),
      "inputs[0]: binary data holds NaN or Infinity at [1]" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[2],\"datatype\":\"BF16\","
      "\"parameters\":{\"binary_data_size\":4}}]}", BIN("\0\0\x80\xff"),
      "inputs[0]: binary data holds NaN or Infinity at [1]" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[2],\"datatype\":\"FP64\","
      "\"parameters\":{\"binary_data_size\":16}}]}",
      BIN("\0\0\0\0\0\0\xf0\x3f\0\0\0\0\0\0\xf8\x7f"),
      "inputs[0]: binary data holds NaN or Infinity at [1]" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[2],\"datatype\":\"FP64\","
      "\"parameters\":{\"binary_data_size\":16}}]}",
      BIN("\0\0\0\0\0\0\xf0\x3f\x1d\x4a\x9c\xf4\x87\x82\x07\x48"),
      "inputs[0]: binary FP64 data holds 1e+39 at [1], out of range for "
      "FP32" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":\"FP64\","
      "\"parameters\":{\"binary_data_size\":8}}]}",
      BIN("\0\0\0\xf0\xff\xff\xef\xc7"),
      "inputs[0]: binary FP64 data holds -3.40282357e+38 at [0], out of "
      "range for FP32" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[4],\"datatype\":\"BOOL\","
      "\"parameters\":{\"binary_data_size\":4}}]}", BIN("\1\0\2\1"),
      "inputs[0]: binary BOOL data holds 2 at [2], expected 0 or 1" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":\"BOOL\","
      "\"parameters\":{\"binary_data_size\":1}}]}", BIN("\xff"),
      "inputs[0]: binary BOOL data holds 255 at [0], expected 0 or 1" },

    /* malformed JSON first, bad sizes or values after it: malformed wins */
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":\"FP32\","
      "\"parameters\":{\"binary_data_size\":3}}],\"x\":[}", BIN("\0\0\0"),
      "malformed JSON at line 1, column 101: unexpected token near '}'" },
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":\"FP32\","
      "\"parameters\":{\"binary_data_size\":4}}],\"x\":[}",
      BIN("\0\0\xc0\x7f"),
      "malformed JSON at line 1, column 101: unexpected token near '}'" },

    /* the JSON path's own message is not given here */
    { "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":\"FP32\","
      "\"data\":[NaN]}]}", BIN(""),
      "inputs[0].data[0]: NaN and Infinity are not valid JSON numbers" },
};


static void
test_binary_messages(void)
{
    int     rc, bad, k, j;
    char   *body, want[128];
    size_t  i, n;

    model(CAP, "input", NULL);

    for (i = 0;
         i < sizeof(test_binary_errors) / sizeof(test_binary_errors[0]);
         i++)
    {
        test_nbin = test_binary_errors[i].nbin;
        memcpy(test_bin, test_binary_errors[i].bin, test_nbin);

        rc = decode_binary(test_binary_errors[i].json);

        ok(rc == -1 && strcmp(test_req.err, test_binary_errors[i].err) == 0,
           "binary error: %s", test_binary_errors[i].err);

        if (rc != -1 || strcmp(test_req.err, test_binary_errors[i].err) != 0)
        {
            printf("#   body: %s\n#    got: %s\n", test_binary_errors[i].json,
                   rc == 0 ? "(accepted)" : test_req.err);
        }
    }

    /* the examples of the header, 784 FP32 values */

    test_nbin = 3000;
    memset(test_bin, 0, test_nbin);

    ok(decode_binary("{\"inputs\":[{\"name\":\"input\",\"shape\":[1,784],"
                     "\"datatype\":\"FP32\",\"parameters\":"
                     "{\"binary_data_size\":3136}}]}") == -1
       && err_is("the binary data after the JSON is 3000 bytes, the inputs' "
                 "binary_data_size add up to 3136"),
       "binary error: 3000 bytes for 3136");

    test_nbin = 3132;
    memset(test_bin, 0, test_nbin);

    ok(decode_binary("{\"inputs\":[{\"name\":\"input\",\"shape\":[1,784],"
                     "\"datatype\":\"FP32\",\"parameters\":"
                     "{\"binary_data_size\":3132}}]}") == -1
       && err_is("inputs[0].parameters.binary_data_size: 3132 bytes, but "
                 "shape [1, 784] of FP32 needs 3136"),
       "binary error: binary_data_size against the shape");

    body = calloc(1, 8000);
    if (body == NULL) {
        abort();
    }

    memcpy(body, "{\"inputs\":[]}", 13);

    ok(decode_binary_at(body, 9000, 8000) == -1
       && err_is("Inference-Header-Content-Length 9000 is larger than the "
                 "body (8000 bytes)"),
       "binary error: Inference-Header-Content-Length beyond the body");

    ok(decode_binary_at(body, 0, 8000) == -1
       && err_is("Inference-Header-Content-Length is 0, no JSON inference "
                 "request precedes the binary data"),
       "binary error: Inference-Header-Content-Length 0");

    ok(infer_ks_decode_binary(&test_req, NULL, 0, 0) == -1
       && err_is("Inference-Header-Content-Length is 0, no JSON inference "
                 "request precedes the binary data")
       && infer_ks_decode_binary(&test_req, NULL, 1, 0) == -1
       && err_is("Inference-Header-Content-Length 1 is larger than the body "
                 "(0 bytes)"),
       "binary error: NULL body");

    free(body);

    /* a header that cuts the JSON short, or takes binary bytes into it */

    test_nbin = 0;
    put_f32(1.0f);
    body = malloc(256);
    if (body == NULL) {
        abort();
    }

    n = (size_t) sprintf(body, "{\"inputs\":[{\"name\":\"input\",\"shape\":"
                         "[1],\"datatype\":\"FP32\",\"parameters\":"
                         "{\"binary_data_size\":4}}]}");
    memcpy(body + n, test_bin, 4);

    ok(decode_binary_at(body, n, n + 4) == 0 && test_buf[0][0] == 1.0f
       && decode_binary_at(body, n - 1, n + 4) == -1
       && err_is("malformed JSON at line 1, column 94: '}' expected near "
                 "end of file")
       && decode_binary_at(body, n + 3, n + 4) == -1
       && err_is("malformed JSON at line 1, column 96: end of file expected "
                 "near end of file"),
       "binary error: Inference-Header-Content-Length one byte off");

    free(body);

    /* NaN and infinities at each place, in the 4-value blocks and after */

    bad = 0;

    for (k = 0; k < 11 * 3; k++) {
        test_nbin = 0;

        for (j = 0; j < 11; j++) {
            put_f32((j == k / 3)
                    ? (float []) { NAN, INFINITY, -INFINITY }[k % 3]
                    : (j & 1) ? FLT_MAX : -FLT_MAX);
        }

        snprintf(want, sizeof(want), "inputs[0]: binary data holds NaN or "
                 "Infinity at [%d]", k / 3);

        if (decode_binary("{\"inputs\":[{\"name\":\"input\",\"shape\":[11],"
                          "\"datatype\":\"FP32\",\"parameters\":"
                          "{\"binary_data_size\":44}}]}") != -1
            || !err_is(want))
        {
            bad++;
        }
    }

    test_nbin = 0;

    for (j = 0; j < 11; j++) {
        put_f32((j & 1) ? FLT_MAX : -FLT_MAX);
    }

    ok(bad == 0
       && decode_binary("{\"inputs\":[{\"name\":\"input\",\"shape\":[11],"
                        "\"datatype\":\"FP32\",\"parameters\":"
                        "{\"binary_data_size\":44}}]}") == 0,
       "binary error: NaN or Infinity found at each of 11 places, FLT_MAX "
       "taken");

    /* messages name the input by its place in "inputs" */

    model(8, "input", "mask", NULL);
    test_nbin = 0;
    put_f32(1.0f); put(1, 1); put(3, 1);

    ok(decode_binary("{\"inputs\":[{\"name\":\"input\",\"shape\":[1],"
                     "\"datatype\":\"FP32\",\"parameters\":"
                     "{\"binary_data_size\":4}},{\"name\":\"mask\",\"shape\":"
                     "[2],\"datatype\":\"BOOL\",\"parameters\":"
                     "{\"binary_data_size\":2}}]}") == -1
       && err_is("inputs[1]: binary BOOL data holds 3 at [1], expected 0 "
                 "or 1"),
       "binary error: the second input's values");

    test_nbin = 4;

    ok(decode_binary("{\"inputs\":[{\"name\":\"input\",\"shape\":[1],"
                     "\"datatype\":\"FP32\",\"parameters\":"
                     "{\"binary_data_size\":4}}]}") == -1
       && err_is("inputs: missing input \"mask\""),
       "binary error: a missing input");

    /* the JSON path keeps its answer to binary_data_size */

    model(8, "input", NULL);
    test_nbin = 0;
    put_f32(1.0f);

    ok(decode("{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":"
              "\"FP32\",\"parameters\":{\"binary_data_size\":4}}]}") == -1
       && err_is("inputs[0].parameters.binary_data_size: binary tensor data "
                 "is not supported on this path"),
       "JSON path: binary_data_size is still refused");
}


static void
test_binary_check_shape(void)
{
    model(6, "input", NULL);
    test_inputs[0].check_shape = check_rows_of_3;
    test_inputs[0].check_data = "input";

    test_nbin = 0;
    put_f32(1); put_f32(2); put_f32(3); put_f32(4); put_f32(5); put_f32(6);

    test_checks = 0;
    ok(decode_binary("{\"inputs\":[{\"name\":\"input\",\"shape\":[2,3],"
                     "\"datatype\":\"FP32\",\"parameters\":"
                     "{\"binary_data_size\":24}}]}") == 0
       && test_checks == 1
       && floats_are(test_buf[0], 6, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0),
       "binary check_shape: called once, and a good shape passes");

    ok(decode_binary("{\"inputs\":[{\"name\":\"input\",\"shape\":[3,2],"
                     "\"datatype\":\"FP32\",\"parameters\":"
                     "{\"binary_data_size\":20}}]}") == -1
       && err_is("input: shape must be [n, 3]"),
       "binary check_shape: before the size is checked");

    ok(decode_binary("{\"inputs\":[{\"name\":\"input\",\"shape\":[3,3],"
                     "\"datatype\":\"FP32\",\"parameters\":"
                     "{\"binary_data_size\":36}}]}") == -1
       && err_is("inputs[0]: shape [3, 3] holds 9 values, more than 6, the "
                 "most this input takes"),
       "binary check_shape: a good shape, too large for cap");
}


/* every prefix of a valid binary body fails cleanly; then mutations */

static void
test_binary_prefixes(void)
{
    int          bad, k, m, rc, accepted;
    char         body[1024];
    size_t       json_len, len, i, n;
    const char  *json;

    json = "{\"id\":\"b\\u00e9\",\"inputs\":[{\"name\":\"mask\",\"shape\":"
           "[3],\"datatype\":\"BOOL\",\"parameters\":{\"binary_data_size\":"
           "3}},{\"name\":\"input\",\"datatype\":\"FP16\",\"shape\":[2,2],"
           "\"parameters\":{\"binary_data_size\":8,\"x\":null}},{\"name\":"
           "\"ids\",\"shape\":[2],\"datatype\":\"INT32\",\"data\":[1,-1]},"
           "{\"name\":\"w\",\"shape\":[1],\"datatype\":\"FP64\","
           "\"parameters\":{\"binary_data_size\":8}}],\"outputs\":[{\"name\":"
           "\"o\",\"parameters\":{\"binary_data\":true}}],\"parameters\":"
           "{\"binary_data_output\":false}}";

    test_nbin = 0;
    put(1, 1); put(0, 1); put(1, 1);
    put(0x3c00, 2); put(0xc000, 2); put(0x0001, 2); put(0x7bff, 2);
    put_f64(0.25);

    json_len = strlen(json);
    len = json_len + test_nbin;
    memcpy(body, json, json_len);
    memcpy(body + json_len, test_bin, test_nbin);

    model(8, "input", "mask", "ids", "w", NULL);

    ok(decode_binary_at(body, json_len, len) == 0
       && floats_are(test_buf[0], 4, 1.0, -2.0, 5.9604644775390625e-8,
                     65504.0)
       && floats_are(test_buf[1], 3, 1.0, 0.0, 1.0)
       && floats_are(test_buf[2], 2, 1.0, -1.0)
       && floats_are(test_buf[3], 1, 0.25)
       && infer_ks_output_binary(&test_req, "o", 1) == 1
       && infer_ks_output_binary(&test_req, NULL, 0) == 0,
       "the binary body used for prefixes decodes");

    bad = 0;

    for (i = 0; i < len; i++) {
        rc = decode_binary_at(body, json_len < i ? json_len : i, i);

        if (rc != -1 || test_req.err[0] == '\0') {
            printf("# prefix of %zu bytes: rc %d\n", i, rc);
            bad++;
        }
    }

    ok(bad == 0, "each of the %zu prefixes of the body fails with a message",
       len);

    bad = 0;

    for (i = 0; i < len; i++) {
        if (i == json_len) {
            continue;
        }

        rc = decode_binary_at(body, i, len);

        if (rc != -1 || test_req.err[0] == '\0') {
            printf("# Inference-Header-Content-Length %zu: rc %d\n", i, rc);
            bad++;
        }
    }

    ok(bad == 0, "each wrong Inference-Header-Content-Length fails with a "
       "message");

    bad = 0;
    accepted = 0;

    for (k = 0; k < (int) (200000 * test_scale) + 1; k++) {
        memcpy(body, json, json_len);
        memcpy(body + json_len, test_bin, test_nbin);
        m = 1 + rnd() % 3;

        while (m--) {
            n = rnd() % len;
            body[n] = (n >= json_len || (rnd() & 1))
                      ? (char) rnd()
                      : TEST_JSON_BYTES[rnd() % 31];
        }

        n = json_len;

        if (rnd() % 8 == 0) {
            n = rnd() % (len + 2);
        }

        rc = decode_binary_at(body, n, len - (rnd() % 16 == 0));

        if (rc == 0) {
            accepted++;

        } else if (test_req.err[0] == '\0') {
            bad++;
        }
    }

    ok(bad == 0, "random mutations of it: %d decoded, the others fail "
       "with a message", accepted);
}


static void
test_output_binary(void)
{
    int  rc;

    model(8, "input", NULL);

    ok(decode("{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":"
              "\"FP32\",\"data\":[1]}]}") == 0
       && test_req.binary_output == 0
       && test_req.output_binary[0] == -1
       && test_req.output_binary[INFER_KSERVE_MAX_OUTPUTS - 1] == -1
       && infer_ks_output_binary(&test_req, "probs", 5) == 0
       && infer_ks_output_binary(&test_req, NULL, 0) == 0,
       "output binary: JSON unless asked");

    ok(decode("{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":"
              "\"FP32\",\"data\":[1]}],\"parameters\":{\"binary_data_output\":"
              "true}}") == 0
       && test_req.binary_output == 1
       && infer_ks_output_binary(&test_req, "probs", 5) == 1
       && infer_ks_output_binary(&test_req, NULL, 0) == 1,
       "output binary: binary_data_output true, no outputs listed");

    rc = decode("{\"parameters\":{\"binary_data_output\":true},\"outputs\":["
                "{\"name\":\"a\",\"parameters\":{\"binary_data\":false}},"
                "{\"name\":\"b\",\"parameters\":{\"x\":1,\"binary_data\":"
                "true}},{\"name\":\"c\"},{\"name\":\"lo\\u0067its\","
                "\"parameters\":{}}],\"inputs\":[{\"name\":\"input\","
                "\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]}]}");

    ok(rc == 0 && test_req.noutputs == 4
       && test_req.output_binary[0] == 0 && test_req.output_binary[1] == 1
       && test_req.output_binary[2] == -1 && test_req.output_binary[3] == -1
       && infer_ks_output_binary(&test_req, "a", 1) == 0
       && infer_ks_output_binary(&test_req, "b", 1) == 1
       && infer_ks_output_binary(&test_req, "c", 1) == 1
       && infer_ks_output_binary(&test_req, "logits", 6) == 1
       && infer_ks_output_binary(&test_req, "d", 1) == 1
       && infer_ks_output_binary(&test_req, "ab", 1) == 0
       && infer_ks_output_binary(&test_req, "ab", 2) == 1,
       "output binary: an output's binary_data over binary_data_output true");

    rc = decode("{\"outputs\":[{\"name\":\"a\",\"parameters\":{\"binary_data\""
                ":false}},{\"name\":\"b\",\"parameters\":{\"binary_data\":"
                "true}},{\"name\":\"c\"}],\"parameters\":"
                "{\"binary_data_output\":false},\"inputs\":[{\"name\":"
                "\"input\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]}"
                "]}");

    ok(rc == 0 && test_req.binary_output == 0
       && infer_ks_output_binary(&test_req, "a", 1) == 0
       && infer_ks_output_binary(&test_req, "b", 1) == 1
       && infer_ks_output_binary(&test_req, "c", 1) == 0
       && infer_ks_output_binary(&test_req, "d", 1) == 0
       && infer_ks_output_binary(&test_req, NULL, 0) == 0,
       "output binary: binary_data true over binary_data_output false");

    ok(decode("{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":"
              "\"FP32\",\"data\":[1]}]}") == 0
       && test_req.binary_output == 0 && test_req.output_binary[1] == -1
       && infer_ks_output_binary(&test_req, "b", 1) == 0,
       "output binary: nothing left over from the request before");

    test_nbin = 0;
    put_f32(2.0f);

    ok(decode_binary("{\"inputs\":[{\"name\":\"input\",\"shape\":[1],"
                     "\"datatype\":\"FP32\",\"parameters\":"
                     "{\"binary_data_size\":4}}],\"outputs\":[{\"name\":"
                     "\"probs\",\"parameters\":{\"binary_data\":false}}],"
                     "\"parameters\":{\"binary_data_output\":true}}") == 0
       && test_buf[0][0] == 2.0f
       && infer_ks_output_binary(&test_req, "probs", 5) == 0
       && infer_ks_output_binary(&test_req, "other", 5) == 1,
       "output binary: the same on the binary path");
}


static json_t *
header_json(const char *buf, size_t n)
{
    json_t        *json;
    json_error_t   jerr;

    json = json_loadb(buf, n, JSON_REJECT_DUPLICATES, &jerr);
    if (json == NULL) {
        printf("# %.*s: %s\n", (int) n, buf, jerr.text);
    }

    return json;
}


static void
test_binary_header(void)
{
    int          good;
    char        *buf, *name, *oname, *id;
    size_t       n, room, i;
    json_t      *json, *out, *shape;
    const char  *want;

    buf = malloc(1024);
    if (buf == NULL) {
        abort();
    }

    n = infer_ks_write_binary_header(buf, "mnist", 5, "\"req-1\"", 7,
                                     "probs", 2, 10);

    want = "{\"model_name\":\"mnist\",\"model_version\":\"1\",\"id\":"
           "\"req-1\",\"outputs\":[{\"name\":\"probs\",\"datatype\":\"FP32\","
           "\"shape\":[2,10],\"parameters\":{\"binary_data_size\":80}}]}";

    ok(n == strlen(want) && memcmp(buf, want, n) == 0,
       "binary header: the text");

    json = header_json(buf, n);
    out = json ? json_array_get(json_object_get(json, "outputs"), 0) : NULL;
    shape = out ? json_object_get(out, "shape") : NULL;

    ok(json != NULL && json_object_size(json) == 4
       && strcmp(json_string_value(json_object_get(json, "model_name")),
                 "mnist") == 0
       && strcmp(json_string_value(json_object_get(json, "model_version")),
                 "1") == 0
       && strcmp(json_string_value(json_object_get(json, "id")), "req-1")
          == 0
       && json_array_size(json_object_get(json, "outputs")) == 1
       && json_object_size(out) == 4
       && strcmp(json_string_value(json_object_get(out, "name")), "probs")
          == 0
       && strcmp(json_string_value(json_object_get(out, "datatype")),
                 "FP32") == 0
       && json_object_get(out, "data") == NULL
       && json_array_size(shape) == 2
       && json_integer_value(json_array_get(shape, 0)) == 2
       && json_integer_value(json_array_get(shape, 1)) == 10
       && json_integer_value(json_object_get(json_object_get(out,
                                                             "parameters"),
                                             "binary_data_size")) == 80,
       "binary header: read back by jansson");

    json_decref(json);

    n = infer_ks_write_binary_header(buf, "m\"\\\n\xc3\xa9", 6, NULL, 5,
                                     "o\x01\t", 0, 3);
    json = header_json(buf, n);
    out = json ? json_array_get(json_object_get(json, "outputs"), 0) : NULL;

    ok(json != NULL && json_object_get(json, "id") == NULL
       && strcmp(json_string_value(json_object_get(json, "model_name")),
                 "m\"\\\n\xc3\xa9") == 0
       && strcmp(json_string_value(json_object_get(out, "name")), "o\x01\t")
          == 0
       && json_integer_value(json_object_get(json_object_get(out,
                                                             "parameters"),
                                             "binary_data_size")) == 0,
       "binary header: names escaped, no id, 0 rows");

    json_decref(json);

    n = infer_ks_write_binary_header(buf, "m", 1, "\"x\"", 0, "o", 1, 1);
    json = header_json(buf, n);

    ok(json != NULL && json_object_get(json, "id") == NULL,
       "binary header: id_len 0 is no id");

    json_decref(json);
    free(buf);

    /* the worst case in exactly the room promised */

    name = malloc(65);
    oname = malloc(65);
    id = malloc(100);
    if (name == NULL || oname == NULL || id == NULL) {
        abort();
    }

    memset(name, '\x01', 64);
    memset(oname, '\x1f', 64);
    name[64] = '\0';
    oname[64] = '\0';
    memset(id, '7', 100);
    id[0] = '"';
    id[99] = '"';

    room = 256 + 6 * (64 + 64) + 100;
    buf = malloc(room);
    if (buf == NULL) {
        abort();
    }

    good = 1;

    for (i = 0; i < 3; i++) {
        n = infer_ks_write_binary_header(buf, name, 64, id, 100, oname,
                                         i ? SIZE_MAX : 99999,
                                         i == 1 ? SIZE_MAX / 4 : SIZE_MAX);
        good &= (n < room);
    }

    ok(good, "binary header: the longest fits the room asked for (%zu "
       "bytes)", n);

    free(buf);
    free(name);
    free(oname);
    free(id);
}


static void
test_datatype_sizes(void)
{
    ok(infer_ks_datatype_size(INFER_KS_BOOL) == 1
       && infer_ks_datatype_size(INFER_KS_UINT8) == 1
       && infer_ks_datatype_size(INFER_KS_UINT16) == 2
       && infer_ks_datatype_size(INFER_KS_UINT32) == 4
       && infer_ks_datatype_size(INFER_KS_UINT64) == 8
       && infer_ks_datatype_size(INFER_KS_INT8) == 1
       && infer_ks_datatype_size(INFER_KS_INT16) == 2
       && infer_ks_datatype_size(INFER_KS_INT32) == 4
       && infer_ks_datatype_size(INFER_KS_INT64) == 8
       && infer_ks_datatype_size(INFER_KS_FP16) == 2
       && infer_ks_datatype_size(INFER_KS_BF16) == 2
       && infer_ks_datatype_size(INFER_KS_FP32) == 4
       && infer_ks_datatype_size(INFER_KS_FP64) == 8
       && infer_ks_datatype_size(INFER_KS_BYTES) == 0
       && infer_ks_datatype_size(INFER_KS_UNKNOWN) == 0
       && infer_ks_datatype("BF16", 4) == INFER_KS_BF16,
       "datatype sizes");
}


/*
 * BYTES inputs: the model's input "text" takes strings (strs set, room
 * for cap of them), beside an FP32 input "input" when fp32 is set.
 */

static infer_ks_str_t  test_strs[4][64];


static void
text_model(size_t cap, int fp32)
{
    if (fp32) {
        model(8, "text", "input", NULL);

    } else {
        model(8, "text", NULL);
    }

    test_inputs[0].dst = NULL;
    test_inputs[0].cap = 0;
    test_inputs[0].strs = test_strs[0];
    test_inputs[0].strs_cap = cap;
    test_text_cap = (size_t) -1;
}


/* the n strings of input 0 are the NUL-terminated arguments */

static int
strs_are(size_t n, ...)
{
    size_t             i;
    va_list            args;
    const char        *want;
    infer_ks_input_t  *in;
    int                same;

    in = &test_inputs[0];
    same = (in->count == n && in->datatype == INFER_KS_BYTES);

    if (in->count != n) {
        printf("# %zu strings, want %zu\n", in->count, n);
    }

    va_start(args, n);

    for (i = 0; i < n && i < in->count; i++) {
        want = va_arg(args, const char *);

        if (!span_is(in->strs[i], want)) {
            printf("# string %zu: got \"%.*s\", want \"%s\"\n", i,
                   (int) in->strs[i].len, in->strs[i].p, want);
            same = 0;
        }
    }

    va_end(args);

    return same;
}


/* where a string points: 1 into the body, 2 into the input's text */

static int
str_in(infer_ks_str_t s, size_t len)
{
    if (s.p >= test_body && s.p + s.len <= test_body + len) {
        return 1;
    }

    if (test_text[0] != NULL && s.p >= test_text[0]
        && s.p + s.len <= test_text[0] + test_inputs[0].text_cap)
    {
        return 2;
    }

    return 0;
}


static void
test_bytes_json(void)
{
    size_t             len;
    const char        *body;
    infer_ks_input_t  *in;

    in = &test_inputs[0];

    text_model(4, 0);
    body = "{\"inputs\":[{\"name\":\"text\",\"shape\":[2],\"datatype\":"
           "\"BYTES\",\"data\":[\"a sentence\",\"another\"]}]}";
    len = strlen(body);

    ok(decode(body) == 0 && in->found && in->ndim == 1 && in->shape[0] == 2
       && in->binary_size == -1
       && strs_are(2, "a sentence", "another")
       && str_in(in->strs[0], len) == 1 && str_in(in->strs[1], len) == 1
       && in->strs[0].p == test_body + (strstr(body, "a sentence") - body),
       "BYTES: flat strings, spans of the body");

    ok(decode("{\"inputs\":[{\"name\":\"text\",\"shape\":[2,1],\"datatype\":"
              "\"BYTES\",\"data\":[[\"first\"],[\"second\"]]}]}") == 0
       && in->ndim == 2 && in->shape[0] == 2 && in->shape[1] == 1
       && strs_are(2, "first", "second"),
       "BYTES: nested as the shape [2, 1]");

    ok(decode("{\"inputs\":[{\"name\":\"text\",\"shape\":[2,2],\"datatype\":"
              "\"BYTES\",\"data\":[[],[\"a\",[\"b\"]],[[[\"c\"]]],\"d\"]}]}")
       == 0
       && strs_are(4, "a", "b", "c", "d"),
       "BYTES: flattened in order whatever the nesting, as numbers are");

    body = "{\"inputs\":[{\"name\":\"text\",\"shape\":[4],\"datatype\":"
           "\"BYTES\",\"data\":[\"line\\nbreak\",\"caf\\u00e9 plain\","
           "\"\\ud83d\\ude00 smile\",\"tab\\t\\\"q\\\"\\\\\\/\"]}]}";
    len = strlen(body);

    ok(decode(body) == 0
       && strs_are(4, "line\nbreak", "caf\xc3\xa9 plain",
                   "\xf0\x9f\x98\x80 smile", "tab\t\"q\"\\/")
       && str_in(in->strs[0], len) == 2 && str_in(in->strs[1], len) == 2
       && str_in(in->strs[2], len) == 2 && str_in(in->strs[3], len) == 2,
       "BYTES: \\n, \\u00e9, a surrogate pair and the short escapes "
       "unescaped into text");

    body = "{\"inputs\":[{\"name\":\"text\",\"shape\":[3],\"datatype\":"
           "\"BYTES\",\"data\":[\"plain\",\"\\u00e9\",\"caf\xc3\xa9\"]}]}";
    len = strlen(body);

    ok(decode(body) == 0
       && strs_are(3, "plain", "\xc3\xa9", "caf\xc3\xa9")
       && str_in(in->strs[0], len) == 1 && str_in(in->strs[1], len) == 2
       && str_in(in->strs[2], len) == 1,
       "BYTES: only strings with escapes go to text, raw UTF-8 stays in "
       "the body");

    ok(decode("{\"inputs\":[{\"name\":\"text\",\"shape\":[3],\"datatype\":"
              "\"BYTES\",\"data\":[\"\",\"\\u0000\",\"a\\u0000b\"]}]}") == 0
       && in->count == 3 && in->strs[0].len == 0
       && in->strs[1].len == 1 && in->strs[1].p[0] == '\0'
       && in->strs[2].len == 3 && memcmp(in->strs[2].p, "a\0b", 3) == 0,
       "BYTES: empty strings and NUL are the caller's to judge");

    ok(decode("{\"inputs\":[{\"data\":[\"x\",\"y\"],\"datatype\":\"BYTES\","
              "\"shape\":[2],\"name\":\"text\"}]}") == 0
       && strs_are(2, "x", "y"),
       "BYTES: \"data\" before the name, the datatype and the shape");

    ok(decode("{\"inputs\":[{\"name\":\"text\",\"shape\":[0],\"datatype\":"
              "\"BYTES\",\"data\":[]}]}") == 0
       && in->count == 0,
       "BYTES: shape [0], no strings");

    /* an FP32 input beside it: each takes what it takes */

    text_model(4, 1);

    ok(decode("{\"inputs\":[{\"name\":\"input\",\"shape\":[1,2],\"datatype\":"
              "\"FP32\",\"data\":[1.5,-2]},{\"name\":\"text\",\"shape\":[1],"
              "\"datatype\":\"BYTES\",\"data\":[\"hi\"]}]}") == 0
       && strs_are(1, "hi") && in->index == 1
       && test_inputs[1].count == 2 && test_inputs[1].index == 0
       && floats_are(test_inputs[1].dst, 2, 1.5, -2.0),
       "BYTES: beside an FP32 input");

    ok(decode("{\"inputs\":[{\"datatype\":\"BYTES\",\"name\":\"input\","
              "\"shape\":[1],\"data\":[\"hi\"]}]}") == -1
       && err_is("inputs[0].datatype: BYTES is not supported here, the "
                 "model takes numbers")
       && decode("{\"inputs\":[{\"name\":\"input\",\"datatype\":\"BYTES\","
                 "\"shape\":[1],\"data\":[\"hi\"]}]}") == -1
       && err_is("inputs[0].datatype: BYTES is not supported here, the "
                 "model takes numbers"),
       "BYTES: refused for the FP32 input beside it, in either key order");

    /* the caller's shape check, as for numbers */

    text_model(6, 0);
    test_inputs[0].check_shape = check_rows_of_3;
    test_inputs[0].check_data = "text";

    test_checks = 0;
    ok(decode("{\"inputs\":[{\"name\":\"text\",\"shape\":[1,3],\"datatype\":"
              "\"BYTES\",\"data\":[[\"a\",\"b\",\"c\"]]}]}") == 0
       && test_checks == 1 && strs_are(3, "a", "b", "c"),
       "BYTES check_shape: called once, and a good shape passes");

    ok(decode("{\"inputs\":[{\"name\":\"text\",\"shape\":[1,7],\"datatype\":"
              "\"BYTES\",\"data\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\","
              "\"g\"]}]}") == -1
       && err_is("text: shape must be [n, 3]"),
       "BYTES check_shape: when the strings overflow strs_cap");

    ok(decode("{\"inputs\":[{\"name\":\"text\",\"shape\":[3,3],\"datatype\":"
              "\"BYTES\",\"data\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\","
              "\"g\"]}]}") == -1
       && err_is("inputs[0].data: more than 6 values, the most this input "
                 "takes"),
       "BYTES check_shape: a good shape, too large for strs_cap");

    /* the text buffer: the body's length suffices, less may not */

    text_model(64, 0);

    ok(decode("{\"inputs\":[{\"name\":\"text\",\"shape\":[4],\"datatype\":"
              "\"BYTES\",\"data\":[\"\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\","
              "\"\\ud83d\\ude00\\ud83d\\ude00\\ud83d\\ude00\",\"\\u00e9\\u00e9"
              "\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\",\"\\t\"]}]}") == 0
       && in->count == 4 && in->strs[0].len == 12 && in->strs[1].len == 12
       && in->strs[2].len == 14 && in->strs[3].len == 1,
       "BYTES: escapes everywhere fit in a text of the body's length");

    test_text_cap = 6;

    ok(decode("{\"inputs\":[{\"name\":\"text\",\"shape\":[2],\"datatype\":"
              "\"BYTES\",\"data\":[\"ab\\n\",\"caf\\u00e9\"]}]}") == -1
       && err_is("inputs[0].data[1]: the strings unescaped take more than 6 "
                 "bytes"),
       "BYTES: text_cap too small");

    test_text_cap = (size_t) -1;

    /* no text at all: escapes have nowhere to go */

    free(test_body);
    test_body = NULL;
    body = "{\"inputs\":[{\"name\":\"text\",\"shape\":[2],\"datatype\":"
           "\"BYTES\",\"data\":[\"ok\",\"\\n\"]}]}";
    in->text = NULL;
    in->text_cap = 0;

    ok(infer_ks_decode_request(&test_req, body, strlen(body)) == -1
       && err_is("inputs[0].data[1]: the strings unescaped take more than 0 "
                 "bytes")
       && infer_ks_decode_request(&test_req, body, strlen(body) - 11) == -1
       && strncmp(test_req.err, "malformed JSON", 14) == 0,
       "BYTES: text NULL is refused only where a string has escapes");
}


static const test_error_t  test_bytes_errors[] = {

    /* the datatype against the input */
    { "{\"inputs\":[{\"name\":\"text\",\"shape\":[2],\"datatype\":\"FP32\","
      "\"data\":[1,2]}]}",
      "inputs[0].datatype: expected BYTES, not FP32" },
    { "{\"inputs\":[{\"datatype\":\"INT64\",\"shape\":[2],\"name\":\"text\","
      "\"data\":[1,2]}]}",
      "inputs[0].datatype: expected BYTES, not INT64" },
    { "{\"inputs\":[{\"name\":\"text\",\"datatype\":\"FP16\"}]}",
      "inputs[0].datatype: FP16 cannot be sent as JSON numbers (use the "
      "binary tensor extension)" },
    { "{\"inputs\":[{\"name\":\"text\",\"datatype\":\"STRING\"}]}",
      "inputs[0].datatype: unknown datatype \"STRING\"" },

    /* the strings against the shape and strs_cap */
    { "{\"inputs\":[{\"name\":\"text\",\"shape\":[3],\"datatype\":\"BYTES\","
      "\"data\":[\"a\",\"b\"]}]}",
      "inputs[0]: shape [3] holds 3 values, data has 2" },
    { "{\"inputs\":[{\"name\":\"text\",\"shape\":[2,1],\"datatype\":"
      "\"BYTES\",\"data\":[[\"a\"],[\"b\",\"c\"]]}]}",
      "inputs[0]: shape [2, 1] holds 2 values, data has 3" },
    { "{\"inputs\":[{\"name\":\"text\",\"shape\":[2],\"datatype\":\"BYTES\","
      "\"data\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}]}",
      "inputs[0]: shape [2] holds 2 values, data has more" },
    { "{\"inputs\":[{\"name\":\"text\",\"shape\":[5],\"datatype\":\"BYTES\","
      "\"data\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}]}",
      "inputs[0].data: more than 4 values, the most this input takes" },
    { "{\"inputs\":[{\"data\":[\"a\",\"b\",\"c\",\"d\",\"e\"],\"name\":"
      "\"text\",\"datatype\":\"BYTES\",\"shape\":[2]}]}",
      "inputs[0]: shape [2] holds 2 values, data has more" },

    /* what is not a string */
    { "{\"inputs\":[{\"name\":\"text\",\"shape\":[2],\"datatype\":\"BYTES\","
      "\"data\":[1,2]}]}",
      "inputs[0].data[0]: expected a string" },
    { "{\"inputs\":[{\"name\":\"text\",\"shape\":[2],\"datatype\":\"BYTES\","
      "\"data\":[\"a\",-1.5]}]}",
      "inputs[0].data[1]: expected a string" },
    { "{\"inputs\":[{\"name\":\"text\",\"shape\":[2],\"datatype\":\"BYTES\","
      "\"data\":[[\"a\"],[true]]}]}",
      "inputs[0].data[1]: expected a string" },
    { "{\"inputs\":[{\"name\":\"text\",\"shape\":[2],\"datatype\":\"BYTES\","
      "\"data\":[\"a\",null]}]}",
      "inputs[0].data[1]: expected a string" },
    { "{\"inputs\":[{\"name\":\"text\",\"shape\":[1],\"datatype\":\"BYTES\","
      "\"data\":[{\"a\":\"b\"}]}]}",
      "inputs[0].data[0]: expected a string" },
    { "{\"inputs\":[{\"name\":\"text\",\"shape\":[1],\"datatype\":\"BYTES\","
      "\"data\":\"a\"}]}",
      "inputs[0].data: expected an array" },
    { "{\"inputs\":[{\"datatype\":\"BYTES\",\"data\":[\"a\",7],\"name\":"
      "\"text\",\"shape\":[2]}]}",
      "inputs[0].data[1]: expected a string" },
    { "{\"inputs\":[{\"name\":\"text\",\"shape\":[2],\"datatype\":\"BYTES\","
      "\"data\":[\"a\",NaN]}]}",
      "inputs[0].data[1]: NaN and Infinity are not valid JSON numbers" },
    { "{\"inputs\":[{\"name\":\"text\",\"shape\":[1],\"datatype\":\"BYTES\","
      "\"data\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"a\"]]]]]]]]]]]]]]]]]]]]]]"
      "]]]]]]]]]]]}]}",
      "inputs[0].data: arrays nested deeper than 32 levels" },
    { "{\"inputs\":[{\"name\":\"text\",\"shape\":[1],\"datatype\":\"BYTES\","
      "\"parameters\":{\"binary_data_size\":5}}]}",
      "inputs[0].parameters.binary_data_size: binary tensor data is not "
      "supported on this path" },

    /* strings that are not valid JSON: malformed, whatever comes after */
    { "{\"inputs\":[{\"name\":\"text\",\"shape\":[1],\"datatype\":\"BYTES\","
      "\"data\":[\"caf\xc3\x28\"]}]}",
      "malformed JSON at line 1, column 69: unable to decode byte 0xc3 "
      "near '\"caf'" },
    { "{\"inputs\":[{\"name\":\"text\",\"shape\":[1],\"datatype\":\"BYTES\","
      "\"data\":[\"\\ud800\"]}]}",
      "malformed JSON at line 1, column 73: invalid Unicode '\\uD800' near "
      "'\"\\ud800\"'" },
    { "{\"inputs\":[{\"name\":\"text\",\"shape\":[1],\"datatype\":\"BYTES\","
      "\"data\":[\"a\tb\"]}]}",
      "malformed JSON at line 1, column 67: control character 0x9 near "
      "'\"a'" },
    { "{\"inputs\":[{\"name\":\"text\",\"shape\":[2],\"datatype\":\"BYTES\","
      "\"data\":[1,\"a\"]}],\"x\":[}",
      "malformed JSON at line 1, column 80: unexpected token near '}'" },
};


static void
test_bytes_messages(void)
{
    size_t  i;
    int     rc;

    text_model(4, 0);

    for (i = 0; i < sizeof(test_bytes_errors) / sizeof(test_bytes_errors[0]);
         i++)
    {
        rc = decode(test_bytes_errors[i].body);

        ok(rc == -1 && strcmp(test_req.err, test_bytes_errors[i].err) == 0,
           "BYTES error: %s", test_bytes_errors[i].err);

        if (rc != -1 || strcmp(test_req.err, test_bytes_errors[i].err) != 0)
        {
            printf("#   body: %s\n#    got: %s\n", test_bytes_errors[i].body,
                   rc == 0 ? "(accepted)" : test_req.err);
        }
    }

    /* without strs, as before */

    model(8, "text", NULL);

    ok(decode("{\"inputs\":[{\"name\":\"text\",\"shape\":[1],\"datatype\":"
              "\"BYTES\",\"data\":[\"a\"]}]}") == -1
       && err_is("inputs[0].datatype: BYTES is not supported here, the "
                 "model takes numbers")
       && decode("{\"inputs\":[{\"datatype\":\"BYTES\",\"name\":\"text\","
                 "\"shape\":[1],\"data\":[\"a\"]}]}") == -1
       && err_is("inputs[0].datatype: BYTES is not supported here, the "
                 "model takes numbers")
       && decode("{\"inputs\":[{\"name\":\"text\",\"shape\":[1],\"datatype\":"
                 "\"FP32\",\"data\":[\"a\"]}]}") == -1
       && err_is("inputs[0].data[0]: expected a number"),
       "BYTES error: strs NULL refuses BYTES and strings as before");
}


/* binary BYTES elements: a 4-byte little-endian length, then the bytes */

static void
put_str(const char *s, size_t len)
{
    put(len, 4);
    memcpy(test_bin + test_nbin, s, len);
    test_nbin += len;
}


static void
test_bytes_binary(void)
{
    char               json[512];
    size_t             json_len, i;
    const char        *bin;
    infer_ks_input_t  *in;

    in = &test_inputs[0];

    text_model(4, 0);
    test_nbin = 0;
    put_str("hello", 5);
    put_str("", 0);
    put_str("caf\xc3\xa9", 5);

    snprintf(json, sizeof(json), "{\"inputs\":[{\"name\":\"text\",\"shape\":"
             "[3],\"datatype\":\"BYTES\",\"parameters\":{\"binary_data_size\":"
             "%zu}}]}", test_nbin);
    json_len = strlen(json);

    ok(test_nbin == 22 && decode_binary(json) == 0
       && in->ndim == 1 && in->shape[0] == 3 && in->binary_size == 22
       && in->index == 0
       && strs_are(3, "hello", "", "caf\xc3\xa9")
       && in->strs[0].p == test_body + json_len + 4
       && in->strs[2].p == test_body + json_len + 17,
       "binary BYTES: lengths and bytes, empty strings allowed, spans of "
       "the body");

    test_nbin = 0;
    put_str("", 0);
    put_str("", 0);

    ok(decode_binary("{\"inputs\":[{\"name\":\"text\",\"shape\":[2,1],"
                     "\"datatype\":\"BYTES\",\"parameters\":"
                     "{\"binary_data_size\":8}}]}") == 0
       && in->ndim == 2 && strs_are(2, "", ""),
       "binary BYTES: two empty strings");

    test_nbin = 0;

    ok(decode_binary("{\"inputs\":[{\"name\":\"text\",\"shape\":[0],"
                     "\"datatype\":\"BYTES\",\"parameters\":"
                     "{\"binary_data_size\":0}}]}") == 0
       && in->count == 0 && in->binary_size == 0,
       "binary BYTES: shape [0], 0 bytes");

    /* long text: the ASCII runs are checked eight bytes at a time */

    test_nbin = 0;
    put_str("The quick brown fox jumps over the lazy dog, twice: the quick "
            "brown fox jumps over the lazy dog.", 96);
    put_str("na\xc3\xafve caf\xc3\xa9 \xe2\x82\xac 12345678 "
            "\xf0\x9f\x98\x80 end", 34);
    put_str("\0\0\0\0\0\0\0\0\x7f", 9);

    ok(decode_binary("{\"inputs\":[{\"name\":\"text\",\"shape\":[3],"
                     "\"datatype\":\"BYTES\",\"parameters\":"
                     "{\"binary_data_size\":151}}]}") == 0
       && in->count == 3 && in->strs[0].len == 96 && in->strs[1].len == 34
       && in->strs[2].len == 9,
       "binary BYTES: long ASCII, 2-, 3- and 4-byte sequences, NUL");

    /* with an FP32 input, binary too, the bytes in the order of "inputs" */

    text_model(4, 1);
    test_nbin = 0;
    put_str("one", 3);
    put_str("two", 3);
    put_f32(1.5f);
    put_f32(-2.0f);

    ok(decode_binary("{\"inputs\":[{\"name\":\"text\",\"shape\":[2],"
                     "\"datatype\":\"BYTES\",\"parameters\":"
                     "{\"binary_data_size\":14}},{\"name\":\"input\","
                     "\"shape\":[1,2],\"datatype\":\"FP32\",\"parameters\":"
                     "{\"binary_data_size\":8}}]}") == 0
       && strs_are(2, "one", "two")
       && floats_are(test_inputs[1].dst, 2, 1.5, -2.0),
       "binary BYTES: before an FP32 input");

    test_nbin = 0;
    put_f32(1.5f);
    put_f32(-2.0f);
    put_str("one", 3);
    put(0, 1);

    ok(decode_binary("{\"inputs\":[{\"name\":\"input\",\"shape\":[1,2],"
                     "\"datatype\":\"FP32\",\"parameters\":"
                     "{\"binary_data_size\":8}},{\"name\":\"text\",\"shape\":"
                     "[1],\"datatype\":\"BYTES\",\"parameters\":"
                     "{\"binary_data_size\":8}}]}") == -1
       && err_is("inputs[1].parameters.binary_data_size: 8 bytes, but the "
                 "elements of shape [1] take 7"),
       "binary BYTES: after an FP32 input, messages name it by its place");

    test_nbin = 0;
    put_f32(3.0f);
    put_f32(4.0f);

    ok(decode_binary("{\"inputs\":[{\"name\":\"text\",\"shape\":[1],"
                     "\"datatype\":\"BYTES\",\"data\":[\"in \\\"JSON\\\"\"]},"
                     "{\"name\":\"input\",\"shape\":[1,2],\"datatype\":"
                     "\"FP32\",\"parameters\":{\"binary_data_size\":8}}]}")
       == 0
       && strs_are(1, "in \"JSON\"") && in->binary_size == -1
       && floats_are(test_inputs[1].dst, 2, 3.0, 4.0),
       "binary path: BYTES in \"data\", unescaped, beside binary FP32");

    /* every prefix of a good body fails with a message */

    text_model(4, 0);
    test_nbin = 0;
    put_str("ab", 2);
    put_str("\xc3\xa9", 2);
    snprintf(json, sizeof(json), "{\"inputs\":[{\"name\":\"text\",\"shape\":"
             "[2],\"datatype\":\"BYTES\",\"parameters\":{\"binary_data_size\":"
             "12}}]}");
    json_len = strlen(json);
    memcpy(json + json_len, test_bin, test_nbin);
    bin = json;

    for (i = 0; i < json_len + test_nbin; i++) {
        if (decode_binary_at(bin, json_len < i ? json_len : i, i) != -1
            || test_req.err[0] == '\0')
        {
            break;
        }
    }

    ok(i == json_len + test_nbin
       && decode_binary_at(bin, json_len, json_len + test_nbin) == 0
       && strs_are(2, "ab", "\xc3\xa9"),
       "binary BYTES: each of the %zu prefixes fails with a message",
       json_len + test_nbin);
}


static const test_binary_error_t  test_bytes_binary_errors[] = {

    /* the lengths against binary_data_size */
    { "{\"inputs\":[{\"name\":\"text\",\"shape\":[2],\"datatype\":\"BYTES\","
      "\"parameters\":{\"binary_data_size\":9}}]}",
      BIN("\3\0\0\0abc\0\0"),
      "inputs[0]: binary BYTES element 1: its 4-byte length runs past "
      "binary_data_size 9" },
    { "{\"inputs\":[{\"name\":\"text\",\"shape\":[1],\"datatype\":\"BYTES\","
      "\"parameters\":{\"binary_data_size\":8}}]}",
      BIN("\x64\0\0\0abcd"),
      "inputs[0]: binary BYTES element 0: length 100 runs past "
      "binary_data_size 8" },
    { "{\"inputs\":[{\"name\":\"text\",\"shape\":[2],\"datatype\":\"BYTES\","
      "\"parameters\":{\"binary_data_size\":9}}]}",
      BIN("\1\0\0\0a\xff\xff\xff\xff"),
      "inputs[0]: binary BYTES element 1: length 4294967295 runs past "
      "binary_data_size 9" },
    { "{\"inputs\":[{\"name\":\"text\",\"shape\":[1],\"datatype\":\"BYTES\","
      "\"parameters\":{\"binary_data_size\":8}}]}",
      BIN("\1\0\0\0abcd"),
      "inputs[0].parameters.binary_data_size: 8 bytes, but the elements of "
      "shape [1] take 5" },
    { "{\"inputs\":[{\"name\":\"text\",\"shape\":[1],\"datatype\":\"BYTES\","
      "\"parameters\":{\"binary_data_size\":10}}]}",
      BIN("\1\0\0\0a\1\0\0\0b"),
      "inputs[0].parameters.binary_data_size: 10 bytes, but the elements of "
      "shape [1] take 5" },
    { "{\"inputs\":[{\"name\":\"text\",\"shape\":[2],\"datatype\":\"BYTES\","
      "\"parameters\":{\"binary_data_size\":4}}]}",
      BIN("\0\0\0\0"),
      "inputs[0].parameters.binary_data_size: 4 bytes, but shape [2] of "
      "BYTES needs at least 8" },
    { "{\"inputs\":[{\"name\":\"text\",\"shape\":[5],\"datatype\":\"BYTES\","
      "\"parameters\":{\"binary_data_size\":20}}]}",
      BIN("\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"),
      "inputs[0]: shape [5] holds 5 values, more than 4, the most this "
      "input takes" },
    { "{\"inputs\":[{\"name\":\"text\",\"shape\":[4611686018427387904],"
      "\"datatype\":\"BYTES\",\"parameters\":{\"binary_data_size\":4}}]}",
      BIN("\0\0\0\0"),
      "inputs[0].shape: too many values" },
    { "{\"inputs\":[{\"name\":\"text\",\"shape\":[1],\"datatype\":\"BYTES\","
      "\"parameters\":{\"binary_data_size\":5}}]}",
      BIN("\1\0\0\0ab"),
      "the binary data after the JSON is 6 bytes, the inputs' "
      "binary_data_size add up to 5" },

    /* the bytes of each element */
    { "{\"inputs\":[{\"name\":\"text\",\"shape\":[4],\"datatype\":\"BYTES\","
      "\"parameters\":{\"binary_data_size\":21}}]}",
      BIN("\1\0\0\0a\0\0\0\0\2\0\0\0\xc3\xa9\2\0\0\0\xc3\x28"),
      "inputs[0]: element 3 is not valid UTF-8" },
    { "{\"inputs\":[{\"name\":\"text\",\"shape\":[1],\"datatype\":\"BYTES\","
      "\"parameters\":{\"binary_data_size\":6}}]}",
      BIN("\2\0\0\0\xc0\xaf"),
      "inputs[0]: element 0 is not valid UTF-8" },
    { "{\"inputs\":[{\"name\":\"text\",\"shape\":[1],\"datatype\":\"BYTES\","
      "\"parameters\":{\"binary_data_size\":7}}]}",
      BIN("\3\0\0\0\xed\xa0\x80"),
      "inputs[0]: element 0 is not valid UTF-8" },
    { "{\"inputs\":[{\"name\":\"text\",\"shape\":[1],\"datatype\":\"BYTES\","
      "\"parameters\":{\"binary_data_size\":8}}]}",
      BIN("\4\0\0\0\xf4\x90\x80\x80"),
      "inputs[0]: element 0 is not valid UTF-8" },
    { "{\"inputs\":[{\"name\":\"text\",\"shape\":[2],\"datatype\":\"BYTES\","
      "\"parameters\":{\"binary_data_size\":13}}]}",
      BIN("\0\0\0\0\5\0\0\0abc\xe2\x82"),
      "inputs[0]: element 1 is not valid UTF-8" },
    { "{\"inputs\":[{\"name\":\"text\",\"shape\":[1],\"datatype\":\"BYTES\","
      "\"parameters\":{\"binary_data_size\":21}}]}",
      BIN("\x11\0\0\0abcdefghijklmnop\xff"),
      "inputs[0]: element 0 is not valid UTF-8" },
    { "{\"inputs\":[{\"name\":\"text\",\"shape\":[1],\"datatype\":\"BYTES\","
      "\"parameters\":{\"binary_data_size\":12}}]}",
      BIN("\x08\0\0\0abcdefg\x80"),
      "inputs[0]: element 0 is not valid UTF-8" },

    /* a wrong size wins over the garbage it makes of the bytes */
    { "{\"inputs\":[{\"name\":\"text\",\"shape\":[1],\"datatype\":\"BYTES\","
      "\"parameters\":{\"binary_data_size\":8}}]}",
      BIN("\2\0\0\0\xff\xff\0\0"),
      "inputs[0].parameters.binary_data_size: 8 bytes, but the elements of "
      "shape [1] take 6" },

    /* the datatype against the input, and malformed JSON first */
    { "{\"inputs\":[{\"name\":\"text\",\"shape\":[1],\"datatype\":\"FP32\","
      "\"parameters\":{\"binary_data_size\":4}}]}",
      BIN("\0\0\0\0"),
      "inputs[0].datatype: expected BYTES, not FP32" },
    { "{\"inputs\":[{\"name\":\"text\",\"shape\":[1],\"datatype\":\"BF16\","
      "\"parameters\":{\"binary_data_size\":2}}]}",
      BIN("\0\0"),
      "inputs[0].datatype: expected BYTES, not BF16" },
    { "{\"inputs\":[{\"name\":\"text\",\"shape\":[1],\"datatype\":\"BYTES\","
      "\"parameters\":{\"binary_data_size\":5}}],\"x\":[}",
      BIN("\x64\0\0\0a"),
      "malformed JSON at line 1, column 101: unexpected token near '}'" },
};


static void
test_bytes_binary_messages(void)
{
    size_t  i;
    int     rc;

    text_model(4, 0);

    for (i = 0;
         i < sizeof(test_bytes_binary_errors)
             / sizeof(test_bytes_binary_errors[0]);
         i++)
    {
        test_nbin = test_bytes_binary_errors[i].nbin;
        memcpy(test_bin, test_bytes_binary_errors[i].bin, test_nbin);

        rc = decode_binary(test_bytes_binary_errors[i].json);

        ok(rc == -1
           && strcmp(test_req.err, test_bytes_binary_errors[i].err) == 0,
           "binary BYTES error: %s", test_bytes_binary_errors[i].err);

        if (rc != -1
            || strcmp(test_req.err, test_bytes_binary_errors[i].err) != 0)
        {
            printf("#   body: %s\n#    got: %s\n",
                   test_bytes_binary_errors[i].json,
                   rc == 0 ? "(accepted)" : test_req.err);
        }
    }

    /* without strs, as before */

    model(8, "text", NULL);
    test_nbin = 0;
    put_str("a", 1);

    ok(decode_binary("{\"inputs\":[{\"name\":\"text\",\"shape\":[1],"
                     "\"datatype\":\"BYTES\",\"parameters\":"
                     "{\"binary_data_size\":5}}]}") == -1
       && err_is("inputs[0].datatype: BYTES is not supported here, the "
                 "model takes numbers"),
       "binary BYTES error: strs NULL refuses BYTES as before");
}


/* every prefix of a JSON body with strings fails cleanly; then mutations */

static void
test_bytes_prefixes(void)
{
    int          bad, k, rc, accepted;
    char         body[512];
    size_t       len, i;
    const char  *valid;

    valid = "{\"inputs\": [{\"name\": \"input\", \"shape\": [1, 2], "
            "\"datatype\": \"FP32\", \"data\": [1, 2]}, {\"data\": [[\"a "
            "sentence\"], [\"caf\\u00e9 \\ud83d\\ude00\\n\"], [\"\"]], "
            "\"shape\": [3, 1], \"name\": \"text\", \"datatype\": "
            "\"BYTES\"}]}";
    len = strlen(valid);

    text_model(4, 1);

    ok(decode(valid) == 0
       && strs_are(3, "a sentence", "caf\xc3\xa9 \xf0\x9f\x98\x80\n", ""),
       "the BYTES body used for prefixes decodes");

    bad = 0;

    for (i = 0; i < len; i++) {
        rc = decode_len(valid, i);

        if (rc != -1 || test_req.err[0] == '\0') {
            printf("# prefix of %zu bytes: rc %d\n", i, rc);
            bad++;
        }
    }

    ok(bad == 0, "each of the %zu prefixes of the BYTES body fails with a "
       "message", len);

    bad = 0;
    accepted = 0;

    for (k = 0; k < (int) (100000 * test_scale) + 1; k++) {
        mutate(body, valid, len, TEST_JSON_BYTES, 31);

        rc = decode_len(body, len);

        if (rc == 0) {
            accepted++;

            for (i = 0; i < test_inputs[0].count; i++) {
                if (str_in(test_inputs[0].strs[i], len) == 0) {
                    bad++;
                }
            }

        } else if (test_req.err[0] == '\0') {
            bad++;
        }
    }

    ok(bad == 0, "random mutations of it: %d decoded, strings in the body "
       "or the text, the others fail with a message", accepted);
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
    test_binary_valid();
    test_binary_mixed();
    test_binary_messages();
    test_binary_check_shape();
    test_binary_prefixes();
    test_output_binary();
    test_binary_header();
    test_datatype_sizes();
    test_bytes_json();
    test_bytes_messages();
    test_bytes_binary();
    test_bytes_binary_messages();
    test_bytes_prefixes();

    return done();
}
