/*
 * ngx_infer: the CUDA backend, a graph of ops (infer_ops.h) computed on
 * one stream: cuBLAS for the products, one kernel file per remaining op
 * (<op>.cu).  Behind the table of infer_backend.h; built by nvcc into
 * build/ngx_infer_cuda.so, which exports infer_cuda_backend_new() and
 * infer_cuda_probe() only.
 *
 * A backend object belongs to one executor thread and owns: its device
 * (cudaSetDevice on entry to every call: a thread may serve models on
 * several devices), one non-blocking stream, one cuBLAS handle bound to
 * the stream with a workspace of its own, the model's weights on the
 * device, one scratch buffer for the tensors of a graph, pinned host
 * buffers that stage the graph's inputs and outputs, and the CUDA graphs
 * it captured.
 *
 * Weights.  load() uploads each weight once, in the form its shape says
 * it is used in: a matrix (more than one row) is a product's weight, in
 * the type the precision multiplies in (F32 for fp32 and tf32, F16 or
 * BF16 for fp16 and bf16); a vector (one row: a bias, a norm's weight)
 * is F32.  A stored type other than that is uploaded as stored (F16/BF16:
 * half the bytes of F32 over PCIe) and converted on the device.  The
 * shape is a guess that the graph may contradict: a weight that a node
 * reads in another form (a one-row weight of a product, nn.Linear(k, 1);
 * a matrix added to activations) gets that form made the first time a
 * graph asks for it (in reserve(), which sees the largest graph, or in
 * compute()), from the host weights load() was given, which is why they
 * must outlive the backend's use of them, as the model does.  get_rows
 * reads a table in the form load() made (a matrix: the precision's type,
 * so a tied embedding and output projection is one copy; a vector: F32).
 * Forms are never freed before the next load() or free(): a pointer a
 * captured graph holds stays valid.
 *
 * Memory.  reserve(g) plans the largest graph with infer_graph_plan(g,
 * 256, inputs, no host outputs) and allocates what the plan says, plus,
 * for the F16/BF16 products, room for the largest x rounded to the
 * half type; and pinned buffers for the inputs and outputs, packed in
 * node order.  compute() plans its graph again (cheap) and grows the
 * buffers if ever it needs more, which drops every captured graph (they
 * hold the old addresses).
 *
 * What compute() enqueues, all on the one stream, in node order:
 *
 *   an input        pinned --H2D--> its planned bytes (at its own place in
 *                   the order: the plan may give it bytes that an earlier
 *                   node's result used until then)
 *   an op           its kernel, or cuBLAS
 *   then            each output --D2H--> pinned, its rows packed
 *
 * then one cudaStreamSynchronize and a memcpy into the caller's rows.
 *
 * CUDA Graphs.  With the plan the same, that sequence depends on nothing
 * but the graph's structure and sizes: every pointer (pinned buffers,
 * scratch, weights) is fixed, and the ops read the batch's sequences from
 * the device, never from the host.  So it is captured once per distinct
 * graph and replayed with one cudaGraphLaunch instead of a launch per
 * kernel and copy (a few microseconds of CPU each, the bulk of the time
 * of a small model).  A graph is known by its signature, per node: op,
 * type, flags, rows, cols, nb, ip, fp, the indices of its sources, its
 * weight and its planned offset (infer_cuda_sig_t), compared whole after
 * a 64-bit hash:
 *
 *   first sighting            run eagerly: loads the kernels (lazy module
 *                             loading) and cuBLAS's choices for the shapes
 *   second sighting           cudaStreamBeginCapture(stream,
 *                             cudaStreamCaptureModeThreadLocal), enqueue,
 *                             cudaStreamEndCapture, cudaGraphInstantiate;
 *                             cudaGraphLaunch
 *   later sightings           cudaGraphLaunch
 *
 * Capturing the second sighting keeps module loading and cuBLAS's first
 * calls out of the capture, and captures only what recurs.  ThreadLocal
 * mode keeps other executor threads' cudaMalloc()s from invalidating this
 * capture.  cuBLAS is capture-safe with host-pointer scalars (their
 * values are captured) and a workspace set with cublasSetWorkspace.  The
 * inputs are staged at fixed pinned addresses before the launch, so a
 * replay reads the new batch.  The cache holds INFER_CUDA_GRAPHS
 * signatures: a new one takes the place of the least recently used one
 * seen only once, and when all are captured graphs the batch runs
 * eagerly, so ragged batches of ever-new shapes cost no memory.  If a
 * capture fails, graphs are switched off for this backend and every batch
 * runs eagerly: the same work, launched one call at a time.
 *
 * Indices are data: the ids of get_rows and the sequences of attention
 * and pool are read on the device, where the kernels check them, read
 * nothing out of bounds, and report the first bad one in a status word
 * (infer_cuda.cuh) that is copied back with the outputs; compute() then
 * fails the batch with the message the CPU backend gives.
 *
 * Errors never abort: every CUDA and cuBLAS call is checked
 * (CUDA_CHECK/CUBLAS_CHECK, infer_cuda.cuh) and becomes -1 and a message
 * "cuda:0 (fp16): compute: node 7 (matmul): cublasGemmEx(...): <error>".
 * An error of a kernel (an illegal address) is sticky for the CUDA
 * context: every later call fails too, and only a new process recovers;
 * compute() and synchronize() then return INFER_BACKEND_LOST instead of
 * -1, and the module has the worker replaced.
 */

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <type_traits>

#include "infer_cuda.cuh"
#include "act.cuh"
#include "attention.cuh"
#include "binary.cuh"
#include "convert.cuh"
#include "get_rows.cuh"
#include "matmul.cuh"
#include "norm.cuh"
#include "pool.cuh"
#include "rope.cuh"
#include "softmax.cuh"

extern "C" {
#include "infer_backend.h"
#include "infer_backend_cuda.h"
#include "infer_ops.h"
#include "infer_precision.h"
#include "infer_util.h"
}


/* cuBLAS's advice: 32 MiB of workspace on Hopper and later, 4 elsewhere */
#define INFER_CUDA_WORKSPACE_HOPPER  (32u << 20)
#define INFER_CUDA_WORKSPACE         (4u << 20)

/* the oldest GPU this build has code for: sm_80, BF16 and TF32 */
#define INFER_CUDA_MIN_MAJOR         8

/* of every tensor in the scratch and pinned buffers */
#define INFER_CUDA_ALIGN             256

/* signatures the graph cache holds */
#define INFER_CUDA_GRAPHS            64


typedef struct {
    infer_weight_t        host;          /* as load() was given it */
    infer_dtype_e         primary;       /* the form load() made */
    void                 *form[3];       /* F32, F16, BF16 on the device,
                                            rows x cols packed */
} infer_cuda_weight_t;


/* one node of a graph's signature: no padding, compared with memcmp() */
typedef struct {
    int32_t               op;
    int32_t               type;
    int32_t               flags;
    int32_t               weight;
    int64_t               rows;
    int64_t               cols;
    uint64_t              nb;
    uint64_t              offset;
    int32_t               ip[4];
    float                 fp[2];
    int32_t               src[4];
} infer_cuda_sig_t;


typedef struct {
    uint64_t              hash;
    int                   n;             /* nodes; 0: a free entry */
    infer_cuda_sig_t     *sig;
    cudaGraphExec_t       exec;          /* NULL: seen once, eagerly */
    uint64_t              used;          /* ctx->clock when last seen */
} infer_cuda_graph_t;


/* where a node of the graph being computed is, and its sources */
typedef struct {
    void                 *data;          /* its own bytes on the device */
    size_t                pin;           /* an input's or output's offset
                                            in its pinned buffer */
    const void           *src[4];
    infer_dtype_e         stype[4];      /* the sources' types there */
    int64_t               sld[4];        /* and row strides, elements */
} infer_cuda_node_t;


typedef struct {
    int                   device;
    int                   precision;
    char                  name[32];      /* "cuda:0 (fp16)" */

    infer_dtype_e         wtype;         /* products' weights and x */
    cublasComputeType_t   compute;       /* of the F32 products */

    cudaStream_t          stream;
    cublasHandle_t        cublas;
    void                 *workspace;
    size_t                workspace_size;

    /* the model's weights, from load() on */
    int                   loaded;
    int                   nweights;
    infer_cuda_weight_t  *weights;

    /* the graph's tensors, then x in wtype for the products */
    void                 *scratch;
    size_t                scratch_size;
    unsigned char        *in_host;       /* pinned */
    size_t                in_size;
    unsigned char        *out_host;      /* pinned */
    size_t                out_size;

    /* what the kernels found wrong in the indices they read */
    infer_cuda_status_t  *status;
    infer_cuda_status_t  *status_host;   /* pinned */

    /* the graph being computed, from prepare() */
    infer_cuda_node_t    *nodes;
    infer_cuda_sig_t     *sig;
    int                   cap;
    size_t                conv_offset;
    uint64_t              hash;
    int                   checks;        /* it has ops that report */

    int                   use_graphs;
    uint64_t              clock;
    infer_cuda_graph_t    graphs[INFER_CUDA_GRAPHS];
} infer_cuda_ctx_t;


static const char *infer_cuda_name(infer_backend_t *b);
static int infer_cuda_load(infer_backend_t *b, const infer_weight_t *w,
    int nweights, char *err, size_t errlen);
static int infer_cuda_reserve(infer_backend_t *b, infer_graph_t *g,
    char *err, size_t errlen);
static int infer_cuda_compute(infer_backend_t *b, infer_graph_t *g,
    char *err, size_t errlen);
static int infer_cuda_synchronize(infer_backend_t *b, char *err,
    size_t errlen);
static void infer_cuda_free(infer_backend_t *b);

static int infer_cuda_init(infer_cuda_ctx_t *ctx, char *err, size_t errlen);
static int infer_cuda_load_weights(infer_cuda_ctx_t *ctx,
    const infer_weight_t *w, int nweights, char *err, size_t errlen);
static int infer_cuda_form(infer_cuda_ctx_t *ctx, infer_cuda_weight_t *cw,
    infer_dtype_e dt, char *err, size_t errlen);
static int infer_cuda_upload(infer_cuda_ctx_t *ctx, infer_cuda_weight_t *cw,
    infer_dtype_e dt, void *tmp, char *err, size_t errlen);
static int infer_cuda_settle(infer_cuda_ctx_t *ctx, void *tmp, int rc,
    char *err, size_t errlen);
static int infer_cuda_graph_call(infer_backend_t *b, infer_graph_t *g,
    const char *what, int (*fn)(infer_cuda_ctx_t *ctx, infer_graph_t *g,
    char *err, size_t errlen), char *err, size_t errlen);
static int infer_cuda_check(infer_graph_t *g, char *err, size_t errlen);
static int infer_cuda_prepare(infer_cuda_ctx_t *ctx, infer_graph_t *g,
    char *err, size_t errlen);
static int infer_cuda_check_node(infer_cuda_ctx_t *ctx, infer_graph_t *g,
    int i, char *err, size_t errlen);
static infer_dtype_e infer_cuda_role(infer_cuda_ctx_t *ctx,
    const infer_tensor_t *t, int j);
static int infer_cuda_grow(infer_cuda_ctx_t *ctx, size_t scratch,
    size_t in, size_t out, char *err, size_t errlen);
static void infer_cuda_resolve(infer_cuda_ctx_t *ctx, infer_graph_t *g);
static void infer_cuda_signature(infer_cuda_ctx_t *ctx, infer_graph_t *g);
static int infer_cuda_forward(infer_cuda_ctx_t *ctx, infer_graph_t *g,
    char *err, size_t errlen);
static int infer_cuda_launch(infer_cuda_ctx_t *ctx, infer_graph_t *g,
    char *err, size_t errlen);
static infer_cuda_graph_t *infer_cuda_find(infer_cuda_ctx_t *ctx, int n);
static void infer_cuda_remember(infer_cuda_ctx_t *ctx, int n);
static int infer_cuda_capture(infer_cuda_ctx_t *ctx, infer_graph_t *g,
    infer_cuda_graph_t *e, char *err, size_t errlen);
static int infer_cuda_enqueue(infer_cuda_ctx_t *ctx, infer_graph_t *g,
    char *err, size_t errlen);
static int infer_cuda_node(infer_cuda_ctx_t *ctx, infer_graph_t *g, int i,
    char *err, size_t errlen);
static int infer_cuda_status(const infer_cuda_status_t *st, char *err,
    size_t errlen);
static int infer_cuda_wait(infer_cuda_ctx_t *ctx, char *err, size_t errlen);
static int infer_cuda_lost(infer_cuda_ctx_t *ctx);
static void infer_cuda_drop_graphs(infer_cuda_ctx_t *ctx);
static void infer_cuda_release(infer_cuda_ctx_t *ctx);
static void infer_cuda_free_device(void **p);
static void infer_cuda_free_host(unsigned char **p);


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

/* act.cu receives infer_act_e values as the constants of infer_math.h */
static_assert(INFER_ACT_NONE == INFER_MATH_ACT_NONE
              && INFER_ACT_RELU == INFER_MATH_ACT_RELU
              && INFER_ACT_GELU == INFER_MATH_ACT_GELU
              && INFER_ACT_TANH == INFER_MATH_ACT_TANH
              && INFER_ACT_SIGMOID == INFER_MATH_ACT_SIGMOID
              && INFER_ACT_GELU_TANH == INFER_MATH_ACT_GELU_TANH
              && INFER_ACT_SILU == INFER_MATH_ACT_SILU,
              "infer_act_e and INFER_MATH_ACT_* differ");

/* the kernels read a sequence as 4 I32, start first and len second */
static_assert(sizeof(infer_seq_t) == 4 * sizeof(int32_t)
              && offsetof(infer_seq_t, start) == 0
              && offsetof(infer_seq_t, len) == sizeof(int32_t),
              "infer_seq_t is not what attention.cu and pool.cu read");

static_assert(sizeof(infer_cuda_sig_t) == 88,
              "infer_cuda_sig_t has padding");


static const infer_backend_iface_t  infer_cuda_iface = {
    /* .name        = */ infer_cuda_name,
    /* .load        = */ infer_cuda_load,
    /* .reserve     = */ infer_cuda_reserve,
    /* .compute     = */ infer_cuda_compute,
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
        ctx->wtype = INFER_DT_F32;
        ctx->compute = CUBLAS_COMPUTE_32F;
        break;
    case INFER_PRECISION_TF32:
        ctx->wtype = INFER_DT_F32;
        ctx->compute = CUBLAS_COMPUTE_32F_FAST_TF32;
        break;
    case INFER_PRECISION_FP16:
        ctx->wtype = INFER_DT_F16;
        ctx->compute = CUBLAS_COMPUTE_32F;
        break;
    default: /* INFER_PRECISION_BF16 */
        ctx->wtype = INFER_DT_BF16;
        ctx->compute = CUBLAS_COMPUTE_32F;
        break;
    }

    b->iface = &infer_cuda_iface;
    b->context = ctx;

    if (infer_cuda_init(ctx, err, errlen) != 0) {
        infer_error_prefix(err, errlen, "%s", ctx->name);
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

    CUDA_CHECK(cudaMalloc((void **) &ctx->status,
                          sizeof(infer_cuda_status_t)));
    CUDA_CHECK(cudaMallocHost((void **) &ctx->status_host,
                              sizeof(infer_cuda_status_t)));

    ctx->use_graphs = 1;

    return 0;
}


static int
infer_cuda_load(infer_backend_t *b, const infer_weight_t *w, int nweights,
    char *err, size_t errlen)
{
    infer_cuda_ctx_t  *ctx;

    ctx = (infer_cuda_ctx_t *) b->context;

    if (infer_cuda_load_weights(ctx, w, nweights, err, errlen) != 0) {
        infer_cuda_release(ctx);
        return infer_error_prefix(err, errlen, "%s: load", ctx->name);
    }

    return 0;
}


static int
infer_cuda_load_weights(infer_cuda_ctx_t *ctx, const infer_weight_t *w,
    int nweights, char *err, size_t errlen)
{
    int                   i, rc;
    void                 *tmp;
    size_t                need, n;
    infer_cuda_weight_t  *cw;

    if (nweights < 0 || (nweights > 0 && w == NULL)) {
        return infer_error(err, errlen, "%d weights", nweights);
    }

    CUDA_CHECK(cudaSetDevice(ctx->device));

    infer_cuda_release(ctx);

    ctx->weights = (infer_cuda_weight_t *)
                       calloc((size_t) nweights + 1,
                              sizeof(infer_cuda_weight_t));
    if (ctx->weights == NULL) {
        return infer_error(err, errlen, "out of memory");
    }

    ctx->nweights = nweights;

    /*
     * One device buffer, the size of the largest weight that needs a
     * conversion, receives each such weight as stored before it is
     * converted into its form.
     */
    need = 0;

    for (i = 0; i < nweights; i++) {
        cw = &ctx->weights[i];
        cw->host = w[i];

        if ((w[i].type != INFER_DT_F32 && w[i].type != INFER_DT_F16
             && w[i].type != INFER_DT_BF16)
            || w[i].rows < 1 || w[i].cols < 1 || w[i].rows > INT_MAX
            || w[i].cols > INT_MAX || w[i].data == NULL
            || w[i].nbytes < (size_t) w[i].rows * (size_t) w[i].cols
                             * infer_cuda_dtype_size(w[i].type))
        {
            return infer_error(err, errlen, "weight %d (%s): this backend "
                               "holds no %s weight of [%lld, %lld]", i,
                               w[i].name != NULL ? w[i].name : "?",
                               infer_dtype_name(w[i].type),
                               (long long) w[i].rows, (long long) w[i].cols);
        }

        cw->primary = w[i].rows == 1 ? INFER_DT_F32 : ctx->wtype;

        n = (size_t) w[i].rows * (size_t) w[i].cols
            * infer_cuda_dtype_size(w[i].type);

        if (w[i].type != cw->primary && n > need) {
            need = n;
        }
    }

    tmp = NULL;

    if (need > 0) {
        CUDA_CHECK(cudaMalloc(&tmp, need));
    }

    rc = 0;

    for (i = 0; rc == 0 && i < nweights; i++) {
        cw = &ctx->weights[i];

        if (infer_cuda_upload(ctx, cw, cw->primary, tmp, err, errlen) != 0) {
            rc = infer_error_prefix(err, errlen, "weight %d (%s)", i,
                                    cw->host.name != NULL ? cw->host.name
                                                          : "?");
        }
    }

    /* tmp is reused from weight to weight on the stream */
    if (infer_cuda_settle(ctx, tmp, rc, err, errlen) != 0) {
        return -1;
    }

    ctx->loaded = 1;

    return 0;
}


/* makes cw's form dt if it is not there yet, and waits for it */
static int
infer_cuda_form(infer_cuda_ctx_t *ctx, infer_cuda_weight_t *cw,
    infer_dtype_e dt, char *err, size_t errlen)
{
    int    rc;
    void  *tmp;

    if (cw->form[dt] != NULL) {
        return 0;
    }

    tmp = NULL;

    if (cw->host.type != dt) {
        CUDA_CHECK(cudaMalloc(&tmp, (size_t) cw->host.rows
                                    * (size_t) cw->host.cols
                                    * infer_cuda_dtype_size(cw->host.type)));
    }

    rc = infer_cuda_upload(ctx, cw, dt, tmp, err, errlen);

    return infer_cuda_settle(ctx, tmp, rc, err, errlen);
}


/*
 * The end of uploads: waits for them (they read host memory and tmp),
 * frees tmp; rc, or -1 when the wait fails.
 */
static int
infer_cuda_settle(infer_cuda_ctx_t *ctx, void *tmp, int rc, char *err,
    size_t errlen)
{
    cudaError_t  crc;

    crc = cudaStreamSynchronize(ctx->stream);

    if (rc == 0 && crc != cudaSuccess) {
        infer_cuda_error(err, errlen, "cudaStreamSynchronize(stream)", crc);
        rc = -1;
    }

    if (tmp != NULL) {
        (void) cudaFree(tmp);
    }

    return rc;
}


/*
 * Enqueues the upload of cw into a new form dt: the stored bytes (which
 * cudaMemcpy reads at any alignment), to the form itself when they are in
 * its type, else to tmp (the stored size) and converted from there.
 */
static int
infer_cuda_upload(infer_cuda_ctx_t *ctx, infer_cuda_weight_t *cw,
    infer_dtype_e dt, void *tmp, char *err, size_t errlen)
{
    int                    rows, cols;
    size_t                 n;
    const void            *src;
    const infer_weight_t  *w;

    w = &cw->host;
    rows = (int) w->rows;
    cols = (int) w->cols;
    n = (size_t) rows * (size_t) cols;
    src = w->data;

    CUDA_CHECK(cudaMalloc(&cw->form[dt], n * infer_cuda_dtype_size(dt)));

    if (w->type == dt) {
        CUDA_CHECK(cudaMemcpyAsync(cw->form[dt], src,
                                   n * infer_cuda_dtype_size(dt),
                                   cudaMemcpyHostToDevice, ctx->stream));
        return 0;
    }

    CUDA_CHECK(cudaMemcpyAsync(tmp, src, n * infer_cuda_dtype_size(w->type),
                               cudaMemcpyHostToDevice, ctx->stream));
    CUDA_CHECK(infer_cuda_convert_rows(cw->form[dt], dt, tmp, w->type, cols,
                                       rows, cols, ctx->stream));

    return 0;
}


static int
infer_cuda_reserve(infer_backend_t *b, infer_graph_t *g, char *err,
    size_t errlen)
{
    return infer_cuda_graph_call(b, g, "reserve", infer_cuda_prepare, err,
                                 errlen);
}


static int
infer_cuda_compute(infer_backend_t *b, infer_graph_t *g, char *err,
    size_t errlen)
{
    return infer_cuda_graph_call(b, g, "compute", infer_cuda_forward, err,
                                 errlen);
}


/*
 * What reserve() and compute() share: the checks before fn(ctx, g), and
 * after it the message's prefix ("cuda:0 (fp16): compute: ...") and the
 * verdict on the context.
 */
static int
infer_cuda_graph_call(infer_backend_t *b, infer_graph_t *g, const char *what,
    int (*fn)(infer_cuda_ctx_t *ctx, infer_graph_t *g, char *err,
              size_t errlen),
    char *err, size_t errlen)
{
    infer_cuda_ctx_t  *ctx;

    ctx = (infer_cuda_ctx_t *) b->context;

    if (!ctx->loaded) {
        return infer_error(err, errlen, "%s: %s: no weights loaded",
                           ctx->name, what);
    }

    if (infer_cuda_check(g, err, errlen) != 0
        || fn(ctx, g, err, errlen) != 0)
    {
        (void) infer_error_prefix(err, errlen, "%s: %s", ctx->name, what);
        return infer_cuda_lost(ctx) ? INFER_BACKEND_LOST : -1;
    }

    return 0;
}


/* what a graph must be before anything is planned for it */
static int
infer_cuda_check(infer_graph_t *g, char *err, size_t errlen)
{
    if (g->failed) {
        return infer_error(err, errlen, "the graph was not built: %s",
                           g->err);
    }

    if (g->n < 0 || g->n > g->cap || (g->n > 0 && g->nodes == NULL)) {
        return infer_error(err, errlen, "a graph of %d nodes", g->n);
    }

    return 0;
}


/*
 * Plans g, checks every node, makes the weights' forms it reads, grows
 * the buffers to what it needs, and points every node and source at its
 * bytes; then the signature of the result.
 */
static int
infer_cuda_prepare(infer_cuda_ctx_t *ctx, infer_graph_t *g, char *err,
    size_t errlen)
{
    int                 i, cap;
    size_t              plan, conv, in, out, size;
    infer_tensor_t     *t, *w;
    infer_dtype_e       wt;
    infer_cuda_node_t  *nodes;
    infer_cuda_sig_t   *sig;

    CUDA_CHECK(cudaSetDevice(ctx->device));

    if (g->n > ctx->cap) {
        cap = g->n < 64 ? 64 : g->n;

        nodes = (infer_cuda_node_t *) realloc(ctx->nodes,
                                              (size_t) cap
                                              * sizeof(infer_cuda_node_t));
        if (nodes != NULL) {
            ctx->nodes = nodes;
        }

        sig = (infer_cuda_sig_t *) realloc(ctx->sig,
                                           (size_t) cap
                                           * sizeof(infer_cuda_sig_t));
        if (sig != NULL) {
            ctx->sig = sig;
        }

        if (nodes == NULL || sig == NULL) {
            return infer_error(err, errlen, "out of memory");
        }

        ctx->cap = cap;
    }

    plan = infer_graph_plan(g, INFER_CUDA_ALIGN, 1, 0);
    plan = (plan + INFER_CUDA_ALIGN - 1) / INFER_CUDA_ALIGN
           * INFER_CUDA_ALIGN;

    conv = 0;
    in = 0;
    out = 0;
    ctx->checks = 0;

    for (i = 0; i < g->n; i++) {
        t = &g->nodes[i];

        if (infer_cuda_check_node(ctx, g, i, err, errlen) != 0) {
            return infer_error_prefix(err, errlen, "node %d (%s)", i,
                                      infer_op_name(t->op));
        }

        ctx->nodes[i].pin = 0;

        if (t->flags & INFER_TENSOR_INPUT) {
            ctx->nodes[i].pin = in;
            in += ((size_t) t->rows * t->nb + INFER_CUDA_ALIGN - 1)
                  / INFER_CUDA_ALIGN * INFER_CUDA_ALIGN;
        }

        if (t->flags & INFER_TENSOR_OUTPUT) {
            ctx->nodes[i].pin = out;
            out += ((size_t) t->rows * infer_dtype_row_size(t->type, t->cols)
                    + INFER_CUDA_ALIGN - 1)
                   / INFER_CUDA_ALIGN * INFER_CUDA_ALIGN;
        }

        if (t->op == INFER_OP_GET_ROWS || t->op == INFER_OP_ATTENTION
            || t->op == INFER_OP_POOL)
        {
            ctx->checks = 1;
        }

        if (t->op == INFER_OP_MATMUL) {
            w = t->src[1];
            wt = (w->flags & INFER_TENSOR_WEIGHT) ? ctx->wtype : w->type;

            if (wt != INFER_DT_F32) {
                size = (size_t) t->rows * (size_t) t->src[0]->cols
                       * infer_cuda_dtype_size(wt);
                conv = size > conv ? size : conv;
            }
        }
    }

    ctx->conv_offset = plan;

    if (infer_cuda_grow(ctx, plan + conv, in, out, err, errlen) != 0) {
        return -1;
    }

    infer_cuda_resolve(ctx, g);
    infer_cuda_signature(ctx, g);

    return 0;
}


/*
 * What the builders cannot promise (a weight index, the sizes this
 * backend computes) or could not check (a graph assembled by hand);
 * makes the weight forms node i reads.
 */
static int
infer_cuda_check_node(infer_cuda_ctx_t *ctx, infer_graph_t *g, int i,
    char *err, size_t errlen)
{
    int                   j;
    infer_tensor_t       *t, *s;
    infer_dtype_e         dt;
    infer_cuda_weight_t  *cw;

    t = &g->nodes[i];

    if ((int) t->op < 0 || t->op >= INFER_OP_COUNT
        || t->type < 0 || t->type >= INFER_DT_COUNT
        || t->rows < 0 || t->rows > INT_MAX || t->cols < 1
        || t->cols > INT_MAX
        || t->nb < infer_dtype_row_size(t->type, t->cols)
        || t->nb % infer_cuda_dtype_size(t->type)
        || t->nb / infer_cuda_dtype_size(t->type) > INT_MAX)
    {
        return infer_error(err, errlen, "a %s tensor of [%lld, %lld], %zu "
                           "bytes a row, is not computed by this backend",
                           infer_dtype_name(t->type), (long long) t->rows,
                           (long long) t->cols, t->nb);
    }

    for (j = 0; j < 4; j++) {
        s = t->src[j];

        if (s != NULL && (s < g->nodes || s >= t)) {
            return infer_error(err, errlen, "source %d is not an earlier "
                               "node of the graph", j);
        }
    }

    if (t->op == INFER_OP_NONE) {
        if (t->flags & INFER_TENSOR_WEIGHT) {
            if (t->weight < 0 || t->weight >= ctx->nweights) {
                return infer_error(err, errlen, "weight %d of %d", t->weight,
                                   ctx->nweights);
            }

            cw = &ctx->weights[t->weight];

            if (cw->host.rows != t->rows || cw->host.cols != t->cols) {
                return infer_error(err, errlen, "weight %d (%s) is [%lld, "
                                   "%lld], the graph says [%lld, %lld]",
                                   t->weight, cw->host.name != NULL
                                              ? cw->host.name : "?",
                                   (long long) cw->host.rows,
                                   (long long) cw->host.cols,
                                   (long long) t->rows, (long long) t->cols);
            }

        } else if (!(t->flags & INFER_TENSOR_INPUT)
                   || (t->data == NULL && t->rows > 0))
        {
            return infer_error(err, errlen, "a leaf that is neither an "
                               "input nor a weight");
        }
    }

    if (t->op == INFER_OP_ROPE && t->ip[2] > INFER_CUDA_ROPE_MAX_ROT) {
        return infer_error(err, errlen, "%d rotated dims: this backend "
                           "rotates up to %d", t->ip[2],
                           INFER_CUDA_ROPE_MAX_ROT);
    }

    if ((t->flags & INFER_TENSOR_OUTPUT) && t->host == NULL && t->rows > 0) {
        return infer_error(err, errlen, "an output with nowhere to go");
    }

    if (t->op == INFER_OP_ATTENTION
        && (t->ip[2] > INFER_CUDA_ATTENTION_MAX_DIM
            || t->ip[0] > INFER_CUDA_MAX_GRID_Y))
    {
        return infer_error(err, errlen, "%d heads of %d: this backend "
                           "computes heads of up to %d and up to %d of "
                           "them", t->ip[0], t->ip[2],
                           INFER_CUDA_ATTENTION_MAX_DIM,
                           INFER_CUDA_MAX_GRID_Y);
    }

    for (j = 0; j < 4; j++) {
        s = t->src[j];

        if (s != NULL && (s->flags & INFER_TENSOR_WEIGHT)) {
            dt = infer_cuda_role(ctx, t, j);

            if (infer_cuda_form(ctx, &ctx->weights[s->weight], dt, err,
                                errlen)
                != 0)
            {
                return infer_error_prefix(err, errlen, "weight %d (%s) in "
                                          "%s", s->weight,
                                          s->name != NULL ? s->name : "?",
                                          infer_dtype_name(dt));
            }
        }
    }

    return 0;
}


/* the form in which node t reads the weight that is its source j */
static infer_dtype_e
infer_cuda_role(infer_cuda_ctx_t *ctx, const infer_tensor_t *t, int j)
{
    if (t->op == INFER_OP_MATMUL && j == 1) {
        return ctx->wtype;
    }

    if (t->op == INFER_OP_GET_ROWS && j == 0) {
        return ctx->weights[t->src[0]->weight].primary;
    }

    return INFER_DT_F32;
}


/* the buffers at least this large; new ones drop the captured graphs */
static int
infer_cuda_grow(infer_cuda_ctx_t *ctx, size_t scratch, size_t in,
    size_t out, char *err, size_t errlen)
{
    if (scratch <= ctx->scratch_size && in <= ctx->in_size
        && out <= ctx->out_size)
    {
        return 0;
    }

    CUDA_CHECK(cudaStreamSynchronize(ctx->stream));

    infer_cuda_drop_graphs(ctx);

    if (scratch > ctx->scratch_size) {
        infer_cuda_free_device(&ctx->scratch);
        ctx->scratch_size = 0;
        CUDA_CHECK(cudaMalloc(&ctx->scratch, scratch));
        ctx->scratch_size = scratch;
    }

    if (in > ctx->in_size) {
        infer_cuda_free_host(&ctx->in_host);
        ctx->in_size = 0;
        CUDA_CHECK(cudaMallocHost((void **) &ctx->in_host, in));
        ctx->in_size = in;
    }

    if (out > ctx->out_size) {
        infer_cuda_free_host(&ctx->out_host);
        ctx->out_size = 0;
        CUDA_CHECK(cudaMallocHost((void **) &ctx->out_host, out));
        ctx->out_size = out;
    }

    return 0;
}


/*
 * Every node's bytes: a weight's in its form, a view's inside its
 * source's, the others' where the plan put them; and, per node, its
 * sources' bytes, types and row strides as the kernels read them.
 * Inputs keep their data, the caller's host memory.
 */
static void
infer_cuda_resolve(infer_cuda_ctx_t *ctx, infer_graph_t *g)
{
    int                   i, j, k;
    infer_tensor_t       *t, *s;
    infer_dtype_e         dt;
    infer_cuda_node_t    *cn;
    infer_cuda_weight_t  *cw;

    for (i = 0; i < g->n; i++) {
        t = &g->nodes[i];
        cn = &ctx->nodes[i];

        if (t->flags & INFER_TENSOR_WEIGHT) {
            cw = &ctx->weights[t->weight];
            cn->data = cw->form[INFER_DT_F32] != NULL
                       ? cw->form[INFER_DT_F32] : cw->form[cw->primary];
            t->data = cn->data;

        } else if (t->op == INFER_OP_VIEW) {
            cn->data = (char *) ctx->nodes[t->src[0] - g->nodes].data
                       + (size_t) t->ip[0] * infer_cuda_dtype_size(t->type);
            t->data = cn->data;

        } else {
            cn->data = (char *) ctx->scratch + t->offset;

            if (!(t->flags & INFER_TENSOR_INPUT)) {
                t->data = cn->data;
            }
        }

        for (j = 0; j < 4; j++) {
            s = t->src[j];
            cn->src[j] = NULL;
            cn->stype[j] = INFER_DT_F32;
            cn->sld[j] = 0;

            if (s == NULL) {
                continue;
            }

            k = (int) (s - g->nodes);

            if (s->flags & INFER_TENSOR_WEIGHT) {
                /* the forms are packed */
                dt = infer_cuda_role(ctx, t, j);
                cn->src[j] = ctx->weights[s->weight].form[dt];
                cn->stype[j] = dt;
                cn->sld[j] = s->cols;

            } else {
                cn->src[j] = ctx->nodes[k].data;
                cn->stype[j] = s->type;
                cn->sld[j] = (int64_t) (s->nb
                                        / infer_cuda_dtype_size(s->type));
            }
        }
    }
}


/*
 * ctx->sig and ctx->hash for g.  The plan's size, where the products'
 * converted x sits, follows from the offsets and sizes: it needs no
 * place of its own.
 */
static void
infer_cuda_signature(infer_cuda_ctx_t *ctx, infer_graph_t *g)
{
    int                i, j;
    size_t             k, len;
    uint64_t           h;
    infer_tensor_t    *t;
    infer_cuda_sig_t  *s;
    unsigned char     *p;

    for (i = 0; i < g->n; i++) {
        t = &g->nodes[i];
        s = &ctx->sig[i];

        s->op = (int32_t) t->op;
        s->type = (int32_t) t->type;
        s->flags = (int32_t) t->flags;
        s->weight = (t->flags & INFER_TENSOR_WEIGHT) ? t->weight : -1;
        s->rows = t->rows;
        s->cols = t->cols;
        s->nb = t->nb;
        s->offset = (t->op == INFER_OP_VIEW
                     || (t->flags & INFER_TENSOR_WEIGHT)) ? 0 : t->offset;

        for (j = 0; j < 4; j++) {
            s->ip[j] = t->ip[j];
            s->src[j] = t->src[j] != NULL ? (int32_t) (t->src[j] - g->nodes)
                                          : -1;
        }

        s->fp[0] = t->fp[0];
        s->fp[1] = t->fp[1];
    }

    /* FNV-1a */
    h = 0xcbf29ce484222325ULL;
    p = (unsigned char *) ctx->sig;
    len = (size_t) g->n * sizeof(infer_cuda_sig_t);

    for (k = 0; k < len; k++) {
        h = (h ^ p[k]) * 0x100000001b3ULL;
    }

    ctx->hash = h;
}


/* computes g, its outputs into their host rows */
static int
infer_cuda_forward(infer_cuda_ctx_t *ctx, infer_graph_t *g, char *err,
    size_t errlen)
{
    int              i;
    size_t           n;
    infer_tensor_t  *t;

    if (infer_cuda_prepare(ctx, g, err, errlen) != 0) {
        return -1;
    }

    for (i = 0; i < g->n; i++) {
        t = &g->nodes[i];

        if ((t->flags & INFER_TENSOR_INPUT) && t->rows > 0) {
            memcpy(ctx->in_host + ctx->nodes[i].pin, t->data,
                   (size_t) t->rows * t->nb);
        }
    }

    if (infer_cuda_launch(ctx, g, err, errlen) != 0) {
        return -1;
    }

    CUDA_CHECK(cudaStreamSynchronize(ctx->stream));

    if (ctx->checks && infer_cuda_status(ctx->status_host, err, errlen) != 0)
    {
        return -1;
    }

    for (i = 0; i < g->n; i++) {
        t = &g->nodes[i];

        if ((t->flags & INFER_TENSOR_OUTPUT) && t->rows > 0) {
            n = (size_t) t->rows * infer_dtype_row_size(t->type, t->cols);
            memcpy(t->host, ctx->out_host + ctx->nodes[i].pin, n);
        }
    }

    return 0;
}


static int
infer_cuda_launch(infer_cuda_ctx_t *ctx, infer_graph_t *g, char *err,
    size_t errlen)
{
    infer_cuda_graph_t  *e;

    if (!ctx->use_graphs) {
        return infer_cuda_enqueue(ctx, g, err, errlen);
    }

    ctx->clock++;

    e = infer_cuda_find(ctx, g->n);

    if (e == NULL) {
        infer_cuda_remember(ctx, g->n);
        return infer_cuda_enqueue(ctx, g, err, errlen);
    }

    e->used = ctx->clock;

    if (e->exec == NULL) {

        if (infer_cuda_capture(ctx, g, e, err, errlen) != 0) {
            /*
             * The capture failed, which the eager path does not depend
             * on: run eagerly from now on.  Errors of a capture are not
             * sticky; a sticky error shows again in the eager run.
             */
            ctx->use_graphs = 0;
            infer_cuda_drop_graphs(ctx);
            (void) cudaGetLastError();

            return infer_cuda_enqueue(ctx, g, err, errlen);
        }
    }

    CUDA_CHECK(cudaGraphLaunch(e->exec, ctx->stream));

    return 0;
}


/* the cache's entry of the signature in ctx->sig, or NULL */
static infer_cuda_graph_t *
infer_cuda_find(infer_cuda_ctx_t *ctx, int n)
{
    int                  i;
    infer_cuda_graph_t  *e;

    for (i = 0; i < INFER_CUDA_GRAPHS; i++) {
        e = &ctx->graphs[i];

        if (e->n == n && n > 0 && e->hash == ctx->hash
            && memcmp(e->sig, ctx->sig, (size_t) n * sizeof(infer_cuda_sig_t))
               == 0)
        {
            return e;
        }
    }

    return NULL;
}


/*
 * A first sighting: into a free entry, else in place of the least
 * recently used entry that holds no graph; with every entry a graph,
 * nothing is remembered (and the batch runs eagerly).
 */
static void
infer_cuda_remember(infer_cuda_ctx_t *ctx, int n)
{
    int                  i;
    size_t               size;
    infer_cuda_sig_t    *sig;
    infer_cuda_graph_t  *e, *victim;

    if (n == 0) {
        return;
    }

    victim = NULL;

    for (i = 0; i < INFER_CUDA_GRAPHS; i++) {
        e = &ctx->graphs[i];

        if (e->n == 0) {
            victim = e;
            break;
        }

        if (e->exec == NULL && (victim == NULL || e->used < victim->used)) {
            victim = e;
        }
    }

    if (victim == NULL) {
        return;
    }

    size = (size_t) n * sizeof(infer_cuda_sig_t);
    sig = (infer_cuda_sig_t *) realloc(victim->sig, size);

    if (sig == NULL) {
        /* not remembered: it runs eagerly */
        return;
    }

    memcpy(sig, ctx->sig, size);

    victim->sig = sig;
    victim->n = n;
    victim->hash = ctx->hash;
    victim->used = ctx->clock;
}


static int
infer_cuda_capture(infer_cuda_ctx_t *ctx, infer_graph_t *g,
    infer_cuda_graph_t *e, char *err, size_t errlen)
{
    int              rc;
    cudaError_t      crc;
    cudaGraph_t      graph;
    cudaGraphExec_t  exec;

    graph = NULL;
    exec = NULL;

    CUDA_CHECK(cudaStreamBeginCapture(ctx->stream,
                                      cudaStreamCaptureModeThreadLocal));

    rc = infer_cuda_enqueue(ctx, g, err, errlen);

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

    e->exec = exec;

    return 0;
}


/* the whole of g on the stream, in node order, between the pinned
 * buffers */
static int
infer_cuda_enqueue(infer_cuda_ctx_t *ctx, infer_graph_t *g, char *err,
    size_t errlen)
{
    int                 i;
    size_t              row;
    infer_tensor_t     *t;
    infer_cuda_node_t  *cn;

    if (ctx->checks) {
        CUDA_CHECK(cudaMemsetAsync(ctx->status, 0,
                                   sizeof(infer_cuda_status_t),
                                   ctx->stream));
    }

    for (i = 0; i < g->n; i++) {
        t = &g->nodes[i];
        cn = &ctx->nodes[i];

        if (t->rows == 0) {
            continue;
        }

        if (t->flags & INFER_TENSOR_INPUT) {
            CUDA_CHECK(cudaMemcpyAsync(cn->data, ctx->in_host + cn->pin,
                                       (size_t) t->rows * t->nb,
                                       cudaMemcpyHostToDevice, ctx->stream));

        } else if (t->op != INFER_OP_NONE && t->op != INFER_OP_VIEW
                   && infer_cuda_node(ctx, g, i, err, errlen) != 0)
        {
            return infer_error_prefix(err, errlen, "node %d (%s)", i,
                                      infer_op_name(t->op));
        }
    }

    for (i = 0; i < g->n; i++) {
        t = &g->nodes[i];
        cn = &ctx->nodes[i];

        if ((t->flags & INFER_TENSOR_OUTPUT) && t->rows > 0) {
            row = infer_dtype_row_size(t->type, t->cols);

            CUDA_CHECK(cudaMemcpy2DAsync(ctx->out_host + cn->pin, row,
                                         cn->data, t->nb, row,
                                         (size_t) t->rows,
                                         cudaMemcpyDeviceToHost,
                                         ctx->stream));
        }
    }

    if (ctx->checks) {
        CUDA_CHECK(cudaMemcpyAsync(ctx->status_host, ctx->status,
                                   sizeof(infer_cuda_status_t),
                                   cudaMemcpyDeviceToHost, ctx->stream));
    }

    return 0;
}


/* node i of g, on the stream; its rows are not 0 */
static int
infer_cuda_node(infer_cuda_ctx_t *ctx, infer_graph_t *g, int i, char *err,
    size_t errlen)
{
    int                      rows, cols;
    float                   *y;
    infer_tensor_t          *t;
    infer_cuda_node_t       *cn;
    infer_cuda_attention_t   a;
    infer_cuda_matmul_ctx_t  mc;

    t = &g->nodes[i];
    cn = &ctx->nodes[i];
    y = (float *) cn->data;
    rows = (int) t->rows;
    cols = (int) t->cols;

#define SRC(j)   ((const float *) cn->src[j])
#define LD(j)    (cn->sld[j])
    /* a source of one row for every row: ld 0 */
#define BLD(j)   (t->src[j]->rows == 1 ? 0 : cn->sld[j])

    switch (t->op) {

    case INFER_OP_MATMUL:
        mc.cublas = ctx->cublas;
        mc.stream = ctx->stream;
        mc.compute = ctx->compute;

        return infer_cuda_matmul(&mc, y, SRC(0), LD(0), cn->src[1],
                                 cn->stype[1], LD(1), SRC(2),
                                 (char *) ctx->scratch + ctx->conv_offset,
                                 rows, cols, (int) t->src[0]->cols, err,
                                 errlen);

    case INFER_OP_ADD:
    case INFER_OP_MUL:
        CUDA_CHECK(infer_cuda_binary(t->op == INFER_OP_ADD
                                     ? INFER_CUDA_BINARY_ADD
                                     : INFER_CUDA_BINARY_MUL,
                                     y, SRC(0), LD(0), SRC(1), BLD(1), rows,
                                     cols, ctx->stream));
        return 0;

    case INFER_OP_ACT:
        CUDA_CHECK(infer_cuda_act(t->ip[0], y, SRC(0), LD(0), rows, cols,
                                  ctx->stream));
        return 0;

    case INFER_OP_SOFTMAX:
        CUDA_CHECK(infer_cuda_softmax(y, SRC(0), LD(0), SRC(1),
                                      t->src[1] != NULL ? BLD(1) : 0,
                                      t->fp[0] == 0.0f ? 1.0f : t->fp[0],
                                      rows, cols, ctx->stream));
        return 0;

    case INFER_OP_LAYER_NORM:
        CUDA_CHECK(infer_cuda_norm(INFER_CUDA_NORM_LAYER, y, SRC(0), LD(0),
                                   SRC(1), SRC(2), t->fp[0], rows, cols,
                                   ctx->stream));
        return 0;

    case INFER_OP_RMS_NORM:
        CUDA_CHECK(infer_cuda_norm(INFER_CUDA_NORM_RMS, y, SRC(0), LD(0),
                                   SRC(1), NULL, t->fp[0], rows, cols,
                                   ctx->stream));
        return 0;

    case INFER_OP_L2_NORM:
        CUDA_CHECK(infer_cuda_norm(INFER_CUDA_NORM_L2, y, SRC(0), LD(0),
                                   NULL, NULL, t->fp[0], rows, cols,
                                   ctx->stream));
        return 0;

    case INFER_OP_GET_ROWS:
        CUDA_CHECK(infer_cuda_get_rows(y, cn->src[0], cn->stype[0], LD(0),
                                       t->src[0]->rows,
                                       (const int32_t *) cn->src[1], LD(1),
                                       rows, cols, ctx->status,
                                       ctx->stream));
        return 0;

    case INFER_OP_ROPE:
        CUDA_CHECK(infer_cuda_rope(y, SRC(0), LD(0),
                                   (const int32_t *) cn->src[1], LD(1), rows,
                                   t->ip[0], t->ip[1], t->ip[2], t->ip[3],
                                   t->fp[0], ctx->stream));
        return 0;

    case INFER_OP_ATTENTION:
        a.y = y;
        a.q = SRC(0);
        a.k = SRC(1);
        a.v = SRC(2);
        a.ldq = LD(0);
        a.ldk = LD(1);
        a.ldv = LD(2);
        a.seqs = (const int32_t *) cn->src[3];
        a.ld_seqs = LD(3);
        a.nseqs = (int) t->src[3]->rows;
        a.tokens = rows;
        a.heads = t->ip[0];
        a.kv_heads = t->ip[1];
        a.head_dim = t->ip[2];
        a.causal = t->ip[3];
        a.scale = t->fp[0];
        a.st = ctx->status;

        CUDA_CHECK(infer_cuda_attention(&a, ctx->stream));
        return 0;

    case INFER_OP_POOL:
        CUDA_CHECK(infer_cuda_pool(t->ip[0], y, SRC(0), LD(0),
                                   (int) t->src[0]->rows,
                                   (const int32_t *) cn->src[1], LD(1), rows,
                                   cols, ctx->status, ctx->stream));
        return 0;

    default:
        return infer_error(err, errlen, "not an op of this backend");
    }

#undef SRC
#undef LD
#undef BLD
}


/* what the kernels reported, in the words of the CPU backend's checks */
static int
infer_cuda_status(const infer_cuda_status_t *st, char *err, size_t errlen)
{
    switch (st->code) {

    case 0:
        return 0;

    case INFER_CUDA_BAD_ID:
        return infer_error(err, errlen, "get_rows: id %d of row %d is not "
                           "in [0, %d)", st->v[0], st->v[1], st->v[2]);

    case INFER_CUDA_BAD_SEQ:
        return infer_error(err, errlen, "sequence %d has tokens [%d, %d) of "
                           "%d", st->v[0], st->v[1], st->v[2], st->v[3]);

    default:
        return infer_error(err, errlen, "a kernel reported %d", st->code);
    }
}


static int
infer_cuda_synchronize(infer_backend_t *b, char *err, size_t errlen)
{
    infer_cuda_ctx_t  *ctx;

    ctx = (infer_cuda_ctx_t *) b->context;

    if (infer_cuda_wait(ctx, err, errlen) != 0) {
        (void) infer_error_prefix(err, errlen, "%s: synchronize", ctx->name);
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
    if (ctx->stream == NULL) {
        return 0;
    }

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


/* compute() has waited for its graph already: this reports an error that
 * arrived since, a sticky one */
static int
infer_cuda_wait(infer_cuda_ctx_t *ctx, char *err, size_t errlen)
{
    CUDA_CHECK(cudaSetDevice(ctx->device));
    CUDA_CHECK(cudaStreamSynchronize(ctx->stream));

    return 0;
}


static void
infer_cuda_drop_graphs(infer_cuda_ctx_t *ctx)
{
    int                  i;
    infer_cuda_graph_t  *e;

    for (i = 0; i < INFER_CUDA_GRAPHS; i++) {
        e = &ctx->graphs[i];

        if (e->exec != NULL) {
            (void) cudaGraphExecDestroy(e->exec);
        }

        free(e->sig);
        memset(e, 0, sizeof(infer_cuda_graph_t));
    }
}


/*
 * Frees what load(), reserve() and compute() made.  Errors are ignored:
 * there is nothing left to do about them, and a sticky error would fail
 * every call here alike.
 */
static void
infer_cuda_release(infer_cuda_ctx_t *ctx)
{
    int  i, k;

    if (ctx->stream != NULL) {
        (void) cudaStreamSynchronize(ctx->stream);
    }

    infer_cuda_drop_graphs(ctx);

    for (i = 0; ctx->weights != NULL && i < ctx->nweights; i++) {
        for (k = 0; k < 3; k++) {
            infer_cuda_free_device(&ctx->weights[i].form[k]);
        }
    }

    free(ctx->weights);
    ctx->weights = NULL;
    ctx->nweights = 0;

    infer_cuda_free_device(&ctx->scratch);
    ctx->scratch_size = 0;
    infer_cuda_free_host(&ctx->in_host);
    ctx->in_size = 0;
    infer_cuda_free_host(&ctx->out_host);
    ctx->out_size = 0;

    free(ctx->nodes);
    free(ctx->sig);
    ctx->nodes = NULL;
    ctx->sig = NULL;
    ctx->cap = 0;

    ctx->loaded = 0;
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
infer_cuda_free_host(unsigned char **p)
{
    if (*p != NULL) {
        (void) cudaFreeHost(*p);
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
        infer_cuda_free_device((void **) &ctx->status);

        if (ctx->status_host != NULL) {
            (void) cudaFreeHost(ctx->status_host);
        }

        if (ctx->stream != NULL) {
            (void) cudaStreamDestroy(ctx->stream);
        }

        free(ctx);
    }

    free(b);
}
