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
 * buffers that stage the graph's inputs and outputs, the CUDA graphs
 * it captured, and a decoder's paged KV cache.
 *
 * Its files, each of which says more at its top:
 *
 *   infer_cuda.cu            the entry points, the table, the device, the
 *                            stream and cuBLAS; release() and free()
 *   infer_cuda_weights.cu    load(): the weights' forms on the device
 *   infer_cuda_compute.cu    reserve(), compute(), synchronize(): the
 *                            plan, the staging of inputs and outputs, each
 *                            node's kernel, the indices' checks, and the
 *                            verdict on the context after an error
 *   infer_cuda_graphs.cu     the CUDA graphs: signature, cache, capture
 *                            and replay
 *   infer_cuda_kv.cu         the paged KV cache: kv_init(), the host's
 *                            checks of the block tables, the KV ops'
 *                            launches
 *   infer_cuda_impl.cuh      the context they share
 *
 * Errors never abort: every CUDA and cuBLAS call is checked
 * (CUDA_CHECK/CUBLAS_CHECK, infer_cuda.cuh) and becomes -1 and a message
 * "cuda:0 (fp16): compute: node 7 (matmul): cublasGemmEx(...): <error>".
 * An error of a kernel (an illegal address) is sticky for the CUDA
 * context: every later call fails too, and only a new process recovers;
 * compute() and synchronize() then return INFER_BACKEND_LOST instead of
 * -1, and the module has the worker replaced.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <type_traits>

#include "infer_cuda_impl.cuh"

extern "C" {
#include "infer_backend_cuda.h"
#include "infer_precision.h"
#include "infer_util.h"
}


/* cuBLAS's advice: 32 MiB of workspace on Hopper and later, 4 elsewhere */
#define INFER_CUDA_WORKSPACE_HOPPER  (32u << 20)
#define INFER_CUDA_WORKSPACE         (4u << 20)

/* the oldest GPU this build has code for: sm_80, BF16 and TF32 */
#define INFER_CUDA_MIN_MAJOR         8


static const char *infer_cuda_name(infer_backend_t *b);
static void infer_cuda_free(infer_backend_t *b);
static int infer_cuda_init(infer_cuda_ctx_t *ctx, char *err, size_t errlen);


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


static const infer_backend_iface_t  infer_cuda_iface = {
    /* .name        = */ infer_cuda_name,
    /* .load        = */ infer_cuda_load,
    /* .reserve     = */ infer_cuda_reserve,
    /* .compute     = */ infer_cuda_compute,
    /* .kv_init     = */ infer_cuda_kv_init,
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


/*
 * Frees what load(), reserve() and compute() made.  Errors are ignored:
 * there is nothing left to do about them, and a sticky error would fail
 * every call here alike.
 */
void
infer_cuda_release(infer_cuda_ctx_t *ctx)
{
    int  i, k;

    if (ctx->stream != NULL) {
        (void) cudaStreamSynchronize(ctx->stream);
    }

    infer_cuda_drop_graphs(ctx);

    for (i = 0; ctx->weights != NULL && i < ctx->nweights; i++) {
        for (k = 0; k < INFER_DT_COUNT; k++) {
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


void
infer_cuda_free_device(void **p)
{
    if (*p != NULL) {
        (void) cudaFree(*p);
        *p = NULL;
    }
}


void
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
        infer_cuda_kv_free(ctx);

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
