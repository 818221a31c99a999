/*
 * ngx_infer: the CUDA backend, cuBLAS for the products and one kernel per
 * remaining operation (bias_act.cu, softmax.cu, convert.cu), behind the
 * table of infer_backend.h.  Built by nvcc into build/ngx_infer_cuda.so,
 * which exports infer_cuda_backend_new() and infer_cuda_probe() only.
 *
 * A backend object belongs to one executor thread and owns: its device
 * (cudaSetDevice on entry to every call: a thread may serve models on
 * several devices), one non-blocking stream, one cuBLAS handle bound to
 * the stream with a workspace of its own, the model's weights on the
 * device, two activation buffers of max_batch rows of the widest layer,
 * and pinned host buffers of max_batch input and output rows.
 *
 * What run() enqueues, all on the one stream, for a batch of `rows`:
 *
 *   pinned in --H2D--> act[0]            (F16/BF16: --> act[1], convert)
 *   for each layer:  y = x W^T           cublasGemmEx, F32 out
 *                    x = act(y + b)      bias_act, written in the type
 *                                        the next layer reads
 *   softmax over each row (if the model says so)
 *   act --D2H--> pinned out
 *
 * then one cudaStreamSynchronize and a memcpy into the caller's rows.
 *
 * Precisions (infer_precision.h):
 *
 *   fp32  F32 weights and activations, CUBLAS_COMPUTE_32F
 *   tf32  the same storage, CUBLAS_COMPUTE_32F_FAST_TF32 (tensor cores)
 *   fp16  F16 weights and layer inputs, CUBLAS_COMPUTE_32F: F32 sums and
 *         an F32 product, so bias, activation and softmax stay F32 and a
 *         value is rounded to F16 once per layer, on its way to the next
 *   bf16  as fp16 with BF16
 *
 * Weights are uploaded once, in the type they are stored in when the
 * precision computes in it; otherwise in their stored type (F16/BF16: half
 * the bytes of F32 over PCIe) and converted on the device.  Biases are
 * F32.  F16 has the range of +-65504: a model whose weights or
 * activations exceed it belongs in bf16 or fp32.
 *
 * CUDA Graphs.  The work of a batch depends on nothing but its row count:
 * every pointer (pinned buffers, activations, weights) is fixed from
 * load() on.  So the sequence above is captured once per distinct row
 * count and replayed with one cudaGraphLaunch, instead of a launch per
 * kernel and per copy (2 + 2 x layers + 1 of them, a few microseconds of
 * CPU each, the bulk of the time of a small model):
 *
 *   first batch of n rows     run eagerly: loads the kernels (lazy module
 *                             loading) and cuBLAS's choice for the shapes
 *   second batch of n rows    cudaStreamBeginCapture(stream,
 *                             cudaStreamCaptureModeThreadLocal), enqueue,
 *                             cudaStreamEndCapture, cudaGraphInstantiate;
 *                             keep graphs[n]; cudaGraphLaunch
 *   later batches of n rows   cudaGraphLaunch(graphs[n])
 *
 * Capturing the second sighting keeps module loading and cuBLAS's first
 * calls out of the capture, and captures only the sizes that recur.
 * ThreadLocal mode keeps other executor threads' cudaMalloc()s from
 * invalidating this capture.  cuBLAS is capture-safe with host-pointer
 * scalars (their values are captured) and a workspace set with
 * cublasSetWorkspace (no allocation while capturing).  One executable
 * graph per row count costs a few kilobytes each, max_batch + 1 at most;
 * where that matters, a single executable can follow the row count
 * instead: capture the new sequence into a graph, then
 * cudaGraphExecUpdate(exec, graph, &info) changes the kernel parameters
 * and copy sizes in place (same topology: same layers), falling back to a
 * new cudaGraphInstantiate when it reports cudaGraphExecUpdateError.  If a
 * capture fails, graphs are switched off for this backend and every batch
 * runs eagerly: the same work, launched one call at a time.
 *
 * Errors never abort: every CUDA and cuBLAS call is checked
 * (CUDA_CHECK/CUBLAS_CHECK, infer_cuda.cuh) and becomes -1 and a message
 * "cuda:0 (fp16): run: layers[1]: cublasGemmEx(...): <error>".  An error
 * of a kernel (an illegal address) is sticky for the CUDA context: every
 * later call fails too, and only a new process recovers; run() and
 * synchronize() then return INFER_BACKEND_LOST instead of -1, and the
 * module has the worker replaced.
 */

#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <type_traits>

#include "infer_cuda.cuh"
#include "bias_act.cuh"
#include "convert.cuh"
#include "softmax.cuh"

extern "C" {
#include "infer_backend.h"
#include "infer_backend_cuda.h"
#include "infer_math.h"
#include "infer_precision.h"
}


/* cuBLAS's advice: 32 MiB of workspace on Hopper and later, 4 elsewhere */
#define INFER_CUDA_WORKSPACE_HOPPER  (32u << 20)
#define INFER_CUDA_WORKSPACE         (4u << 20)

/* the oldest GPU this build has code for: sm_80, BF16 and TF32 */
#define INFER_CUDA_MIN_MAJOR         8


typedef struct {
    int                   in;
    int                   out;
    int                   act;           /* INFER_ACT_* */
    void                 *w;             /* [out][in], in ctx->dtype */
    float                *b;             /* [out], or NULL */
} infer_cuda_layer_t;


typedef struct {
    int                   device;
    int                   precision;
    char                  name[32];      /* "cuda:0 (fp16)" */

    infer_dtype_e         dtype;         /* weights and layer inputs */
    cudaDataType_t        ctype;         /* the same, for cuBLAS */
    cublasComputeType_t   compute;

    cudaStream_t          stream;
    cublasHandle_t        cublas;
    void                 *workspace;
    size_t                workspace_size;

    /* the model, from load() on */
    int                   loaded;
    int                   nlayers;
    infer_cuda_layer_t   *layers;
    int                   input_size;
    int                   output_size;
    int                   softmax;
    int                   max_batch;

    void                 *tmp;           /* load(): stored weights to
                                            convert */
    void                 *act[2];        /* max_batch x max_width x F32 */
    float                *in_host;       /* pinned, max_batch inputs */
    float                *out_host;      /* pinned, max_batch outputs */

    /* CUDA Graphs: graphs[n] replays a batch of n rows, seen[n] says a
     * batch of n rows ran eagerly already */
    int                   use_graphs;
    int                   ngraphs;       /* max_batch + 1 */
    cudaGraphExec_t      *graphs;
    unsigned char        *seen;
} infer_cuda_ctx_t;


static const char *infer_cuda_name(infer_backend_t *b);
static int infer_cuda_load(infer_backend_t *b, const infer_model_t *m,
    int max_batch, char *err, size_t errlen);
static int infer_cuda_run(infer_backend_t *b, const float *in, int rows,
    float *out, char *err, size_t errlen);
static int infer_cuda_synchronize(infer_backend_t *b, char *err,
    size_t errlen);
static void infer_cuda_free(infer_backend_t *b);

static int infer_cuda_init(infer_cuda_ctx_t *ctx, char *err, size_t errlen);
static int infer_cuda_load_model(infer_cuda_ctx_t *ctx,
    const infer_model_t *m, int max_batch, char *err, size_t errlen);
static int infer_cuda_upload_layer(infer_cuda_ctx_t *ctx,
    infer_cuda_layer_t *cl, const infer_layer_t *l, char *err,
    size_t errlen);
static int infer_cuda_alloc_buffers(infer_cuda_ctx_t *ctx,
    const infer_model_t *m, int max_batch, char *err, size_t errlen);
static int infer_cuda_forward(infer_cuda_ctx_t *ctx, const float *in,
    int rows, float *out, char *err, size_t errlen);
static int infer_cuda_launch(infer_cuda_ctx_t *ctx, int rows, char *err,
    size_t errlen);
static int infer_cuda_capture(infer_cuda_ctx_t *ctx, int rows, char *err,
    size_t errlen);
static int infer_cuda_enqueue(infer_cuda_ctx_t *ctx, int rows, char *err,
    size_t errlen);
static int infer_cuda_enqueue_layer(infer_cuda_ctx_t *ctx,
    const infer_cuda_layer_t *l, int last, int rows, void **x, char *err,
    size_t errlen);
static int infer_cuda_wait(infer_cuda_ctx_t *ctx, char *err, size_t errlen);
static int infer_cuda_lost(infer_cuda_ctx_t *ctx);
static void infer_cuda_release(infer_cuda_ctx_t *ctx);
static void infer_cuda_free_device(void **p);
static int infer_cuda_prefix(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));


INFER_CUDA_EXPORT infer_backend_t *infer_cuda_backend_new(int device,
    int precision, char *err, size_t errlen);
INFER_CUDA_EXPORT int infer_cuda_probe(int device, char *info,
    size_t infolen, char *err, size_t errlen);


/* the loader (infer_backend_cuda.c) calls these through its types */
static_assert(std::is_same<decltype(&infer_cuda_backend_new),
                           infer_cuda_backend_new_pt>::value,
              "infer_cuda_backend_new does not match its type");
static_assert(std::is_same<decltype(&infer_cuda_probe),
                           infer_cuda_probe_pt>::value,
              "infer_cuda_probe does not match its type");

/* bias_act.cu receives infer_act_e values as the constants of
 * infer_math.h */
static_assert(INFER_ACT_NONE == INFER_MATH_ACT_NONE
              && INFER_ACT_RELU == INFER_MATH_ACT_RELU
              && INFER_ACT_GELU == INFER_MATH_ACT_GELU
              && INFER_ACT_TANH == INFER_MATH_ACT_TANH
              && INFER_ACT_SIGMOID == INFER_MATH_ACT_SIGMOID,
              "infer_act_e and INFER_MATH_ACT_* differ");


static const infer_backend_iface_t  infer_cuda_iface = {
    /* .name        = */ infer_cuda_name,
    /* .load        = */ infer_cuda_load,
    /* .run         = */ infer_cuda_run,
    /* .synchronize = */ infer_cuda_synchronize,
    /* .free        = */ infer_cuda_free,
};


INFER_CUDA_EXPORT infer_backend_t *
infer_cuda_backend_new(int device, int precision, char *err, size_t errlen)
{
    const char        *pname;
    infer_backend_t   *b;
    infer_cuda_ctx_t  *ctx;

    pname = infer_precision_name(precision);

    if (pname == NULL) {
        snprintf(err, errlen, "cuda: precision %d is unknown (0 fp32, "
                 "1 tf32, 2 fp16, 3 bf16)", precision);
        return NULL;
    }

    if (device < 0) {
        snprintf(err, errlen, "cuda: device %d is not a device number",
                 device);
        return NULL;
    }

    b = (infer_backend_t *) malloc(sizeof(infer_backend_t));
    ctx = (infer_cuda_ctx_t *) calloc(1, sizeof(infer_cuda_ctx_t));

    if (b == NULL || ctx == NULL) {
        free(b);
        free(ctx);
        snprintf(err, errlen, "cuda:%d (%s): out of memory", device, pname);
        return NULL;
    }

    ctx->device = device;
    ctx->precision = precision;
    snprintf(ctx->name, sizeof(ctx->name), "cuda:%d (%s)", device, pname);

    switch (precision) {
    case INFER_PRECISION_FP32:
        ctx->dtype = INFER_DT_F32;
        ctx->ctype = CUDA_R_32F;
        ctx->compute = CUBLAS_COMPUTE_32F;
        break;
    case INFER_PRECISION_TF32:
        ctx->dtype = INFER_DT_F32;
        ctx->ctype = CUDA_R_32F;
        ctx->compute = CUBLAS_COMPUTE_32F_FAST_TF32;
        break;
    case INFER_PRECISION_FP16:
        ctx->dtype = INFER_DT_F16;
        ctx->ctype = CUDA_R_16F;
        ctx->compute = CUBLAS_COMPUTE_32F;
        break;
    default: /* INFER_PRECISION_BF16 */
        ctx->dtype = INFER_DT_BF16;
        ctx->ctype = CUDA_R_16BF;
        ctx->compute = CUBLAS_COMPUTE_32F;
        break;
    }

    b->iface = &infer_cuda_iface;
    b->context = ctx;

    if (infer_cuda_init(ctx, err, errlen) != 0) {
        infer_cuda_prefix(err, errlen, "%s", ctx->name);
        infer_cuda_free(b);
        return NULL;
    }

    return b;
}


INFER_CUDA_EXPORT int
infer_cuda_probe(int device, char *info, size_t infolen, char *err,
    size_t errlen)
{
    int             count;
    char            call[64];
    cudaError_t     rc;
    cudaDeviceProp  prop;

    if (infolen > 0) {
        info[0] = '\0';
    }

    rc = cudaGetDeviceCount(&count);
    if (rc != cudaSuccess) {
        infer_cuda_error(err, errlen, "cudaGetDeviceCount()", rc);
        return -1;
    }

    if (device < 0 || device >= count) {
        snprintf(err, errlen, "cuda:%d: no such device, %d CUDA device%s "
                 "found", device, count, count == 1 ? "" : "s");
        return -1;
    }

    memset(&prop, 0, sizeof(prop));

    rc = cudaGetDeviceProperties(&prop, device);
    if (rc != cudaSuccess) {
        snprintf(call, sizeof(call), "cudaGetDeviceProperties(%d)", device);
        infer_cuda_error(err, errlen, call, rc);
        return -1;
    }

    if (prop.major < INFER_CUDA_MIN_MAJOR) {
        snprintf(err, errlen, "cuda:%d: %s is compute %d.%d; "
                 "ngx_infer_cuda.so has code for %d.0 and newer", device,
                 prop.name, prop.major, prop.minor, INFER_CUDA_MIN_MAJOR);
        return -1;
    }

    /* since CUDA 12, cudaSetDevice() also creates the primary context:
     * this is where a busy or broken device says so */
    rc = cudaSetDevice(device);
    if (rc != cudaSuccess) {
        snprintf(call, sizeof(call), "cudaSetDevice(%d)", device);
        infer_cuda_error(err, errlen, call, rc);
        return -1;
    }

    snprintf(info, infolen, "%s, compute %d.%d, %.0f GiB", prop.name,
             prop.major, prop.minor,
             (double) prop.totalGlobalMem / (1024.0 * 1024.0 * 1024.0));

    return 0;
}


static const char *
infer_cuda_name(infer_backend_t *b)
{
    return ((infer_cuda_ctx_t *) b->context)->name;
}


static int
infer_cuda_init(infer_cuda_ctx_t *ctx, char *err, size_t errlen)
{
    int          major, minor;
    char         call[64];
    cudaError_t  rc;

    rc = cudaSetDevice(ctx->device);
    if (rc != cudaSuccess) {
        snprintf(call, sizeof(call), "cudaSetDevice(%d)", ctx->device);
        infer_cuda_error(err, errlen, call, rc);
        return -1;
    }

    CUDA_CHECK(cudaDeviceGetAttribute(&major,
                                      cudaDevAttrComputeCapabilityMajor,
                                      ctx->device));
    CUDA_CHECK(cudaDeviceGetAttribute(&minor,
                                      cudaDevAttrComputeCapabilityMinor,
                                      ctx->device));

    if (major < INFER_CUDA_MIN_MAJOR) {
        snprintf(err, errlen, "the device is compute %d.%d; "
                 "ngx_infer_cuda.so has code for %d.0 and newer", major,
                 minor, INFER_CUDA_MIN_MAJOR);
        return -1;
    }

    /* non-blocking: no implicit synchronisation with the legacy default
     * stream that another library in the process might use */
    CUDA_CHECK(cudaStreamCreateWithFlags(&ctx->stream,
                                         cudaStreamNonBlocking));

    CUBLAS_CHECK(cublasCreate(&ctx->cublas));

    /* cublasSetStream() resets the workspace: set the stream first */
    CUBLAS_CHECK(cublasSetStream(ctx->cublas, ctx->stream));

    ctx->workspace_size = major >= 9 ? INFER_CUDA_WORKSPACE_HOPPER
                                     : INFER_CUDA_WORKSPACE;

    CUDA_CHECK(cudaMalloc(&ctx->workspace, ctx->workspace_size));
    CUBLAS_CHECK(cublasSetWorkspace(ctx->cublas, ctx->workspace,
                                    ctx->workspace_size));

    /* the compute type alone decides: no TF32 unless asked for */
    CUBLAS_CHECK(cublasSetMathMode(ctx->cublas, CUBLAS_DEFAULT_MATH));

    return 0;
}


static int
infer_cuda_load(infer_backend_t *b, const infer_model_t *m, int max_batch,
    char *err, size_t errlen)
{
    infer_cuda_ctx_t  *ctx;

    ctx = (infer_cuda_ctx_t *) b->context;

    if (infer_cuda_load_model(ctx, m, max_batch, err, errlen) != 0) {
        infer_cuda_release(ctx);
        return infer_cuda_prefix(err, errlen, "%s: load", ctx->name);
    }

    return 0;
}


static int
infer_cuda_load_model(infer_cuda_ctx_t *ctx, const infer_model_t *m,
    int max_batch, char *err, size_t errlen)
{
    int                   i;
    size_t                tmp, n;
    infer_dtype_e         sdt;
    const infer_layer_t  *l;

    if (max_batch < 1) {
        snprintf(err, errlen, "max_batch %d is not positive", max_batch);
        return -1;
    }

    if (m->nlayers < 1 || m->input_size < 1 || m->output_size < 1
        || m->input_size > INT_MAX || m->output_size > INT_MAX)
    {
        snprintf(err, errlen, "the model has no layers, or sizes out of "
                 "range");
        return -1;
    }

    if (m->max_width < 1
        || (uint64_t) m->max_width > SIZE_MAX / sizeof(float) / max_batch)
    {
        snprintf(err, errlen, "%d rows of %lld values do not fit in memory",
                 max_batch, (long long) m->max_width);
        return -1;
    }

    CUDA_CHECK(cudaSetDevice(ctx->device));

    infer_cuda_release(ctx);

    ctx->layers = (infer_cuda_layer_t *) calloc((size_t) m->nlayers,
                                                sizeof(infer_cuda_layer_t));
    if (ctx->layers == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    ctx->nlayers = m->nlayers;
    ctx->input_size = (int) m->input_size;
    ctx->output_size = (int) m->output_size;
    ctx->softmax = m->output_softmax;

    /* one device buffer, the size of the largest weight that is stored in
     * another type than the precision's, receives each such weight
     * before its conversion */
    tmp = 0;
    for (i = 0; i < m->nlayers; i++) {
        l = &m->layers[i];
        sdt = l->wt != NULL ? l->wt->dtype : INFER_DT_F32;
        n = (size_t) l->in * (size_t) l->out * infer_cuda_dtype_size(sdt);

        if (sdt != ctx->dtype && n > tmp) {
            tmp = n;
        }
    }

    if (tmp > 0) {
        CUDA_CHECK(cudaMalloc(&ctx->tmp, tmp));
    }

    for (i = 0; i < m->nlayers; i++) {
        if (infer_cuda_upload_layer(ctx, &ctx->layers[i], &m->layers[i],
                                    err, errlen)
            != 0)
        {
            return infer_cuda_prefix(err, errlen, "layers[%d]", i);
        }
    }

    /* the copies read pageable host memory and tmp is reused: wait for
     * all of them before tmp goes */
    CUDA_CHECK(cudaStreamSynchronize(ctx->stream));

    if (ctx->tmp != NULL) {
        CUDA_CHECK(cudaFree(ctx->tmp));
        ctx->tmp = NULL;
    }

    if (infer_cuda_alloc_buffers(ctx, m, max_batch, err, errlen) != 0) {
        return -1;
    }

    ctx->max_batch = max_batch;
    ctx->use_graphs = 1;
    ctx->loaded = 1;

    /*
     * A first batch of one row and one of max_batch rows, on zeros: the
     * kernels and cuBLAS's choices for these shapes are loaded now rather
     * than on the first requests, and a configuration that cannot run
     * (a product cuBLAS does not support on this GPU) fails here, at
     * start-up, instead of on every batch.
     */
    memset(ctx->in_host, 0,
           (size_t) max_batch * (size_t) ctx->input_size * sizeof(float));

    if (infer_cuda_forward(ctx, ctx->in_host, 1, ctx->out_host, err, errlen)
        != 0
        || (max_batch > 1
            && infer_cuda_forward(ctx, ctx->in_host, max_batch,
                                  ctx->out_host, err, errlen)
               != 0))
    {
        return infer_cuda_prefix(err, errlen, "first batch");
    }

    return 0;
}


static int
infer_cuda_upload_layer(infer_cuda_ctx_t *ctx, infer_cuda_layer_t *cl,
    const infer_layer_t *l, char *err, size_t errlen)
{
    size_t          n, nbytes;
    const void     *src;
    infer_dtype_e   sdt;

    cl->in = l->in;
    cl->out = l->out;
    cl->act = (int) l->act;

    n = (size_t) l->in * (size_t) l->out;

    /* l->w is the F32 reading of any stored type, aligned; wt->data the
     * stored bytes themselves, which cudaMemcpy reads at any alignment */
    sdt = l->wt != NULL ? l->wt->dtype : INFER_DT_F32;
    src = sdt == INFER_DT_F32 ? (const void *) l->w : l->wt->data;

    nbytes = n * infer_cuda_dtype_size(ctx->dtype);
    CUDA_CHECK(cudaMalloc(&cl->w, nbytes));

    if (sdt == ctx->dtype) {
        CUDA_CHECK(cudaMemcpyAsync(cl->w, src, nbytes,
                                   cudaMemcpyHostToDevice, ctx->stream));

    } else {
        CUDA_CHECK(cudaMemcpyAsync(ctx->tmp, src,
                                   n * infer_cuda_dtype_size(sdt),
                                   cudaMemcpyHostToDevice, ctx->stream));
        CUDA_CHECK(infer_cuda_convert(cl->w, ctx->dtype, ctx->tmp, sdt, n,
                                      ctx->stream));
    }

    if (l->b != NULL) {
        nbytes = (size_t) l->out * sizeof(float);

        CUDA_CHECK(cudaMalloc(&cl->b, nbytes));
        CUDA_CHECK(cudaMemcpyAsync(cl->b, l->b, nbytes,
                                   cudaMemcpyHostToDevice, ctx->stream));
    }

    return 0;
}


static int
infer_cuda_alloc_buffers(infer_cuda_ctx_t *ctx, const infer_model_t *m,
    int max_batch, char *err, size_t errlen)
{
    size_t  n;

    /* F32 rows of the widest layer hold F16/BF16 rows as well */
    n = (size_t) max_batch * (size_t) m->max_width * sizeof(float);

    CUDA_CHECK(cudaMalloc(&ctx->act[0], n));
    CUDA_CHECK(cudaMalloc(&ctx->act[1], n));

    n = (size_t) max_batch * (size_t) ctx->input_size * sizeof(float);
    CUDA_CHECK(cudaMallocHost(&ctx->in_host, n));

    n = (size_t) max_batch * (size_t) ctx->output_size * sizeof(float);
    CUDA_CHECK(cudaMallocHost(&ctx->out_host, n));

    ctx->graphs = (cudaGraphExec_t *) calloc((size_t) max_batch + 1,
                                             sizeof(cudaGraphExec_t));
    ctx->seen = (unsigned char *) calloc((size_t) max_batch + 1, 1);

    if (ctx->graphs == NULL || ctx->seen == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    ctx->ngraphs = max_batch + 1;

    return 0;
}


static int
infer_cuda_run(infer_backend_t *b, const float *in, int rows, float *out,
    char *err, size_t errlen)
{
    infer_cuda_ctx_t  *ctx;

    ctx = (infer_cuda_ctx_t *) b->context;

    if (!ctx->loaded) {
        snprintf(err, errlen, "%s: no model loaded", ctx->name);
        return -1;
    }

    if (rows < 0 || rows > ctx->max_batch) {
        snprintf(err, errlen, "%s: batch of %d rows, max_batch is %d",
                 ctx->name, rows, ctx->max_batch);
        return -1;
    }

    if (rows == 0) {
        return 0;
    }

    if (infer_cuda_forward(ctx, in, rows, out, err, errlen) != 0) {
        (void) infer_cuda_prefix(err, errlen, "%s: run", ctx->name);
        return infer_cuda_lost(ctx) ? INFER_BACKEND_LOST : -1;
    }

    return 0;
}


/* in and out may be the pinned buffers themselves (load()'s first batch) */
static int
infer_cuda_forward(infer_cuda_ctx_t *ctx, const float *in, int rows,
    float *out, char *err, size_t errlen)
{
    CUDA_CHECK(cudaSetDevice(ctx->device));

    if (in != ctx->in_host) {
        memcpy(ctx->in_host, in,
               (size_t) rows * (size_t) ctx->input_size * sizeof(float));
    }

    if (infer_cuda_launch(ctx, rows, err, errlen) != 0) {
        return -1;
    }

    CUDA_CHECK(cudaStreamSynchronize(ctx->stream));

    if (out != ctx->out_host) {
        memcpy(out, ctx->out_host,
               (size_t) rows * (size_t) ctx->output_size * sizeof(float));
    }

    return 0;
}


static int
infer_cuda_launch(infer_cuda_ctx_t *ctx, int rows, char *err, size_t errlen)
{
    if (ctx->graphs[rows] != NULL) {
        CUDA_CHECK(cudaGraphLaunch(ctx->graphs[rows], ctx->stream));
        return 0;
    }

    if (ctx->use_graphs && ctx->seen[rows]) {

        if (infer_cuda_capture(ctx, rows, err, errlen) == 0) {
            CUDA_CHECK(cudaGraphLaunch(ctx->graphs[rows], ctx->stream));
            return 0;
        }

        /*
         * The capture failed, which the eager path does not depend on:
         * run eagerly from now on.  Errors of a capture are not sticky;
         * a sticky error shows again in the eager run.
         */
        ctx->use_graphs = 0;
        (void) cudaGetLastError();
    }

    ctx->seen[rows] = 1;

    return infer_cuda_enqueue(ctx, rows, err, errlen);
}


static int
infer_cuda_capture(infer_cuda_ctx_t *ctx, int rows, char *err,
    size_t errlen)
{
    int              rc;
    cudaError_t      crc;
    cudaGraph_t      graph;
    cudaGraphExec_t  exec;

    graph = NULL;
    exec = NULL;

    CUDA_CHECK(cudaStreamBeginCapture(ctx->stream,
                                      cudaStreamCaptureModeThreadLocal));

    rc = infer_cuda_enqueue(ctx, rows, err, errlen);

    /* always ends the capture, so that the stream works again */
    crc = cudaStreamEndCapture(ctx->stream, &graph);

    if (rc == 0 && crc != cudaSuccess) {
        infer_cuda_error(err, errlen, "cudaStreamEndCapture(stream, &graph)",
                         crc);
        rc = -1;
    }

    if (rc == 0) {
        crc = cudaGraphInstantiate(&exec, graph, 0);

        if (crc != cudaSuccess) {
            infer_cuda_error(err, errlen,
                             "cudaGraphInstantiate(&exec, graph, 0)", crc);
            rc = -1;
        }
    }

    /* the executable graph does not need its graph */
    if (graph != NULL) {
        (void) cudaGraphDestroy(graph);
    }

    if (rc != 0) {
        return -1;
    }

    ctx->graphs[rows] = exec;

    return 0;
}


static int
infer_cuda_enqueue(infer_cuda_ctx_t *ctx, int rows, char *err, size_t errlen)
{
    int     i;
    void   *x;
    size_t  nin, nout;

    nin = (size_t) rows * (size_t) ctx->input_size;
    nout = (size_t) rows * (size_t) ctx->output_size;

    if (ctx->dtype == INFER_DT_F32) {
        CUDA_CHECK(cudaMemcpyAsync(ctx->act[0], ctx->in_host,
                                   nin * sizeof(float),
                                   cudaMemcpyHostToDevice, ctx->stream));

    } else {
        CUDA_CHECK(cudaMemcpyAsync(ctx->act[1], ctx->in_host,
                                   nin * sizeof(float),
                                   cudaMemcpyHostToDevice, ctx->stream));
        CUDA_CHECK(infer_cuda_convert(ctx->act[0], ctx->dtype, ctx->act[1],
                                      INFER_DT_F32, nin, ctx->stream));
    }

    x = ctx->act[0];

    for (i = 0; i < ctx->nlayers; i++) {
        if (infer_cuda_enqueue_layer(ctx, &ctx->layers[i],
                                     i == ctx->nlayers - 1, rows, &x, err,
                                     errlen)
            != 0)
        {
            return infer_cuda_prefix(err, errlen, "layers[%d]", i);
        }
    }

    /* x is now the F32 output */

    if (ctx->softmax) {
        CUDA_CHECK(infer_cuda_softmax((float *) x, (const float *) x, rows,
                                      ctx->output_size, ctx->stream));
    }

    CUDA_CHECK(cudaMemcpyAsync(ctx->out_host, x, nout * sizeof(float),
                               cudaMemcpyDeviceToHost, ctx->stream));

    return 0;
}


/*
 * *x holds the layer's input in ctx->dtype; on return it points to the
 * next layer's input, or to the F32 output after the last layer.
 *
 * F32: the product goes to the other buffer, bias and activation apply
 * in place, the buffers alternate.  F16/BF16: the input is always act[0]
 * and the F32 product act[1]; bias_act writes the next input back into
 * act[0] (cuBLAS is done reading it: same stream), or, after the last
 * layer, the F32 output in place in act[1].
 */
static int
infer_cuda_enqueue_layer(infer_cuda_ctx_t *ctx, const infer_cuda_layer_t *l,
    int last, int rows, void **x, char *err, size_t errlen)
{
    void                *dst;
    float               *y;
    infer_dtype_e        ddt;
    static const float   one = 1.0f, zero = 0.0f;

    y = (float *) (*x == ctx->act[0] ? ctx->act[1] : ctx->act[0]);

    /*
     * Row-major Y[rows][out] = X[rows][in] W^T, W[out][in] as nn.Linear.
     * cuBLAS is column-major, where those buffers read as Y^T (out x rows,
     * ld out), X^T (in x rows, ld in) and W^T (in x out, ld in); so
     * Y^T = W X^T is C = op(A) B with A = W^T read transposed (m = out),
     * B = X^T as it is (n = rows), k = in.
     */
    CUBLAS_CHECK(cublasGemmEx(ctx->cublas, CUBLAS_OP_T, CUBLAS_OP_N,
                              l->out, rows, l->in,
                              &one, l->w, ctx->ctype, l->in,
                              *x, ctx->ctype, l->in,
                              &zero, y, CUDA_R_32F, l->out,
                              ctx->compute, CUBLAS_GEMM_DEFAULT));

    if (last || ctx->dtype == INFER_DT_F32) {
        dst = y;
        ddt = INFER_DT_F32;

    } else {
        dst = *x;
        ddt = ctx->dtype;
    }

    if (dst != y || l->b != NULL || l->act != INFER_ACT_NONE) {
        CUDA_CHECK(infer_cuda_bias_act(dst, ddt, y, l->b, l->act, rows,
                                       l->out, ctx->stream));
    }

    *x = dst;

    return 0;
}


static int
infer_cuda_synchronize(infer_backend_t *b, char *err, size_t errlen)
{
    infer_cuda_ctx_t  *ctx;

    ctx = (infer_cuda_ctx_t *) b->context;

    if (infer_cuda_wait(ctx, err, errlen) != 0) {
        (void) infer_cuda_prefix(err, errlen, "%s: synchronize", ctx->name);
        return infer_cuda_lost(ctx) ? INFER_BACKEND_LOST : -1;
    }

    return 0;
}


/*
 * After a failure: whether the CUDA context is lost.  An error of a kernel
 * (an illegal address, a trap, an uncorrectable ECC error) is sticky: every
 * later call of this process returns it, and only a new process can use
 * the device again.  cudaStreamQuery() does not wait, and returns such an
 * error if there is one; anything else (an out-of-memory, a cuBLAS status)
 * failed one batch only.
 */
static int
infer_cuda_lost(infer_cuda_ctx_t *ctx)
{
    switch (cudaStreamQuery(ctx->stream)) {

    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure:
    case cudaErrorLaunchTimeout:
    case cudaErrorAssert:
    case cudaErrorHardwareStackError:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorECCUncorrectable:
        return 1;

    default:
        return 0;
    }
}


/* run() has waited for its batch already: this reports an error that
 * arrived since, a sticky one */
static int
infer_cuda_wait(infer_cuda_ctx_t *ctx, char *err, size_t errlen)
{
    CUDA_CHECK(cudaSetDevice(ctx->device));
    CUDA_CHECK(cudaStreamSynchronize(ctx->stream));

    return 0;
}


/*
 * Frees what load() made.  Errors are ignored: there is nothing left to
 * do about them, and a sticky error would fail every call here alike.
 */
static void
infer_cuda_release(infer_cuda_ctx_t *ctx)
{
    int  i;

    if (ctx->stream != NULL) {
        (void) cudaStreamSynchronize(ctx->stream);
    }

    for (i = 0; ctx->graphs != NULL && i < ctx->ngraphs; i++) {
        if (ctx->graphs[i] != NULL) {
            (void) cudaGraphExecDestroy(ctx->graphs[i]);
        }
    }

    free(ctx->graphs);
    free(ctx->seen);
    ctx->graphs = NULL;
    ctx->seen = NULL;
    ctx->ngraphs = 0;

    for (i = 0; ctx->layers != NULL && i < ctx->nlayers; i++) {
        infer_cuda_free_device(&ctx->layers[i].w);
        infer_cuda_free_device((void **) &ctx->layers[i].b);
    }

    free(ctx->layers);
    ctx->layers = NULL;
    ctx->nlayers = 0;

    infer_cuda_free_device(&ctx->tmp);
    infer_cuda_free_device(&ctx->act[0]);
    infer_cuda_free_device(&ctx->act[1]);

    if (ctx->in_host != NULL) {
        (void) cudaFreeHost(ctx->in_host);
        ctx->in_host = NULL;
    }

    if (ctx->out_host != NULL) {
        (void) cudaFreeHost(ctx->out_host);
        ctx->out_host = NULL;
    }

    ctx->loaded = 0;
    ctx->max_batch = 0;
}


static void
infer_cuda_free_device(void **p)
{
    if (*p != NULL) {
        (void) cudaFree(*p);
        *p = NULL;
    }
}


static void
infer_cuda_free(infer_backend_t *b)
{
    infer_cuda_ctx_t  *ctx;

    if (b == NULL) {
        return;
    }

    ctx = (infer_cuda_ctx_t *) b->context;

    if (ctx != NULL) {
        /* when the device cannot be set (no driver, a sticky error), the
         * CUDA calls below fail alike and the host memory is freed */
        (void) cudaSetDevice(ctx->device);

        infer_cuda_release(ctx);

        if (ctx->cublas != NULL) {
            (void) cublasDestroy(ctx->cublas);
        }

        infer_cuda_free_device(&ctx->workspace);

        if (ctx->stream != NULL) {
            (void) cudaStreamDestroy(ctx->stream);
        }

        free(ctx);
    }

    free(b);
}


/* err = fmt ... + ": " + err */
static int
infer_cuda_prefix(char *err, size_t errlen, const char *fmt, ...)
{
    char     msg[INFER_ERRLEN], pre[128];
    va_list  args;

    if (errlen == 0) {
        return -1;
    }

    snprintf(msg, sizeof(msg), "%s", err);

    va_start(args, fmt);
    vsnprintf(pre, sizeof(pre), fmt, args);
    va_end(args);

    snprintf(err, errlen, "%s: %s", pre, msg);

    return -1;
}
