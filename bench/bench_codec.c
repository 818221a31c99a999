/*
 * Micro-benchmark of the KServe v2 JSON codec against what it replaces:
 * decoding the body of one 784-value FP32 request (random floats printed
 * with %.9g, as a client does, and with %.17g, as Python's json does for
 * float32 values turned into Python floats), and writing floats.
 *
 *     gcc -std=gnu99 -O2 -Wall -Wextra -Werror -Ikernels \
 *         -o /tmp/bench_codec bench/bench_codec.c kernels/infer_util.c \
 *         kernels/infer_json.c kernels/infer_json_number.c \
 *         kernels/infer_kserve_json.c kernels/infer_kserve_binary.c \
 *         kernels/infer_kserve_encode.c -ljansson -lm && /tmp/bench_codec
 *
 * Each figure is the best of 7 runs of about 50 ms, on one core.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "infer_kserve.h"


#define NVALUES  784
#define NWRITE   1000


typedef double (*bench_fn)(void);


static char                body9[NVALUES * 32 + 256];
static char                body17[NVALUES * 32 + 256];
static char               *body;           /* the one being measured */
static float               values[NVALUES];
static float               decoded[NVALUES];
static float               floats[NWRITE];
static volatile double     sink;

static infer_ks_input_t    input = {
    .name = "input", .dst = decoded, .cap = NVALUES
};


static double
now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec + ts.tv_nsec / 1e9;
}


static uint64_t
rnd(void)
{
    static uint64_t  s = 0x2545f4914f6cdd1dULL;

    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;

    return s * 2685821657736338717ULL;
}


static void
build(char *buf, const char *fmt)
{
    int   i;
    char *p;

    p = buf + sprintf(buf, "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,%d],"
                      "\"datatype\":\"FP32\",\"data\":[", NVALUES);

    for (i = 0; i < NVALUES; i++) {
        p += sprintf(p, i ? "," : "");
        p += sprintf(p, fmt, values[i]);
    }

    strcpy(p, "]}]}");
}


static double
run_jansson(void)
{
    size_t        i;
    double        sum;
    json_t       *root, *data;
    json_error_t  err;

    root = json_loadb(body, strlen(body), 0, &err);
    if (root == NULL) {
        fprintf(stderr, "jansson: %s\n", err.text);
        exit(1);
    }

    data = json_object_get(json_array_get(json_object_get(root, "inputs"), 0),
                           "data");
    sum = 0;

    for (i = 0; i < json_array_size(data); i++) {
        decoded[i] = (float) json_number_value(json_array_get(data, i));
        sum += decoded[i];
    }

    json_decref(root);

    return sum;
}


static double
run_strtof(void)
{
    int    i;
    char  *p, *end;

    p = strstr(body, "\"data\":[") + 8;

    for (i = 0; i < NVALUES; i++) {
        decoded[i] = strtof(p, &end);
        p = end + 1;
    }

    return decoded[NVALUES - 1];
}


static double
run_decode(void)
{
    infer_ks_request_t  req;

    req.inputs = &input;
    req.ninputs = 1;

    if (infer_ks_decode_request(&req, body, strlen(body)) != 0) {
        fprintf(stderr, "decode: %s\n", req.err);
        exit(1);
    }

    return decoded[NVALUES - 1];
}


static double
run_write_float(void)
{
    int     i;
    char    buf[NWRITE * 16];
    size_t  n;

    n = 0;

    for (i = 0; i < NWRITE; i++) {
        n += infer_ks_write_float(buf + n, floats[i]);
        buf[n++] = ',';
    }

    return buf[n / 2] + n;
}


static double
run_snprintf(void)
{
    int     i;
    char    buf[NWRITE * 24];
    size_t  n;

    n = 0;

    for (i = 0; i < NWRITE; i++) {
        n += snprintf(buf + n, 24, "%.9g", floats[i]);
        buf[n++] = ',';
    }

    return buf[n / 2] + n;
}


/* microseconds per call: the best of 7 runs */

static double
measure(bench_fn fn)
{
    int     r;
    long    i, n;
    double  t, best;

    n = 1;

    do {
        n *= 2;
        t = now();

        for (i = 0; i < n; i++) {
            sink += fn();
        }

        t = now() - t;

    } while (t < 0.05);

    best = t / n;

    for (r = 0; r < 6; r++) {
        t = now();

        for (i = 0; i < n; i++) {
            sink += fn();
        }

        t = (now() - t) / n;

        if (t < best) {
            best = t;
        }
    }

    return best * 1e6;
}


int
main(void)
{
    int  i;

    for (i = 0; i < NVALUES; i++) {
        values[i] = (float) ((rnd() >> 11) * 0x1p-53);
    }

    for (i = 0; i < NWRITE; i++) {
        floats[i] = (float) ((rnd() >> 11) * 0x1p-53 * 2 - 1);
    }

    build(body9, "%.9g");
    build(body17, "%.17g");

    printf("| step (%d FP32 values, body of %zu bytes with %%.9g, %zu with "
           "%%.17g) | us |\n| --- | --- |\n", NVALUES, strlen(body9),
           strlen(body17));

    body = body9;
    printf("| jansson `json_loadb` + reading the numbers, %%.9g body "
           "| %.1f |\n", measure(run_jansson));
    printf("| glibc `strtof` over the numbers, %%.9g body | %.1f |\n",
           measure(run_strtof));
    printf("| `infer_ks_decode_request`, %%.9g body | %.1f |\n",
           measure(run_decode));

    body = body17;
    printf("| jansson `json_loadb` + reading the numbers, %%.17g body "
           "| %.1f |\n", measure(run_jansson));
    printf("| glibc `strtof` over the numbers, %%.17g body | %.1f |\n",
           measure(run_strtof));
    printf("| `infer_ks_decode_request`, %%.17g body | %.1f |\n",
           measure(run_decode));

    printf("| `infer_ks_write_float`, per %d floats | %.1f |\n", NWRITE,
           measure(run_write_float));
    printf("| `snprintf(\"%%.9g\")`, per %d floats | %.1f |\n", NWRITE,
           measure(run_snprintf));

    return 0;
}
