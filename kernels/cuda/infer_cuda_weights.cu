/*
 * ngx_infer: the CUDA backend's weights, load() and the forms that
 * reserve() and compute() ask for.
 *
 * load() uploads each weight once, in the form its shape says it is used
 * in: a matrix (more than one row) is a product's weight, in the type the
 * precision multiplies in (F32 for fp32 and tf32, F16 or BF16 for fp16
 * and bf16); a vector (one row: a bias, a norm's weight) is F32.  A
 * stored type other than that is uploaded as stored (F16/BF16: half the
 * bytes of F32 over PCIe) and converted on the device.  The shape is a
 * guess that the graph may contradict: a weight that a node reads in
 * another form (a one-row weight of a product, nn.Linear(k, 1); a matrix
 * added to activations) gets that form made the first time a graph asks
 * for it (in reserve(), which sees the largest graph, or in compute()),
 * from the host weights load() was given, which is why they must outlive
 * the backend's use of them, as the model does.  get_rows reads a table
 * in the form load() made (a matrix: the precision's type, so a tied
 * embedding and output projection is one copy; a vector: F32).  Forms
 * are never freed before the next load() or free(): a pointer a captured
 * graph holds stays valid.
 *
 * GGUF's quantized weights are uploaded as their blocks, whatever the
 * precision: the products and lookups unpack them as they read them
 * (quant.cu), so a model takes on the device the bytes of its file.  A
 * plain form of one (F32, F16, BF16: an op other than a product or a
 * lookup reading it) is dequantized on the device when a graph asks for
 * it, from the blocks uploaded again.
 */

#include <limits.h>
#include <stdlib.h>

#include "infer_cuda_impl.cuh"
#include "convert.cuh"
#include "quant.cuh"

extern "C" {
#include "infer_util.h"
}


static size_t infer_cuda_weight_bytes(const infer_weight_t *w);
static int infer_cuda_load_weights(infer_cuda_ctx_t *ctx,
    const infer_weight_t *w, int nweights, char *err, size_t errlen);
static int infer_cuda_settle(infer_cuda_ctx_t *ctx, void *tmp, int rc,
    char *err, size_t errlen);
static int infer_cuda_upload(infer_cuda_ctx_t *ctx, infer_cuda_weight_t *cw,
    infer_dtype_e dt, void *tmp, char *err, size_t errlen);


int
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
             && w[i].type != INFER_DT_BF16
             && !infer_dtype_quantized(w[i].type))
            || w[i].rows < 1 || w[i].cols < 1 || w[i].rows > INT_MAX
            || w[i].cols > INT_MAX || w[i].data == NULL
            || w[i].cols % infer_dtype_block(w[i].type) != 0
            || w[i].nbytes < infer_cuda_weight_bytes(&w[i]))
        {
            return infer_error(err, errlen, "weight %d (%s): this backend "
                               "holds no %s weight of [%lld, %lld]", i,
                               w[i].name != NULL ? w[i].name : "?",
                               infer_dtype_name(w[i].type),
                               (long long) w[i].rows, (long long) w[i].cols);
        }

        if (infer_dtype_quantized(w[i].type)) {
            cw->primary = w[i].type;
            continue;
        }

        cw->primary = w[i].rows == 1 ? INFER_DT_F32 : ctx->wtype;

        n = infer_cuda_weight_bytes(&w[i]);

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
int
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
        if (infer_dtype_quantized(dt)) {
            /* blocks are uploaded as stored, never made from another
             * type */
            return infer_error(err, errlen, "a %s weight read as %s",
                               infer_dtype_name(cw->host.type),
                               infer_dtype_name(dt));
        }

        CUDA_CHECK(cudaMalloc(&tmp, infer_cuda_weight_bytes(&cw->host)));
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
    n = (size_t) rows * infer_dtype_row_size(dt, cols);
    src = w->data;

    CUDA_CHECK(cudaMalloc(&cw->form[dt], n));

    if (w->type == dt) {
        CUDA_CHECK(cudaMemcpyAsync(cw->form[dt], src, n,
                                   cudaMemcpyHostToDevice, ctx->stream));
        return 0;
    }

    CUDA_CHECK(cudaMemcpyAsync(tmp, src, infer_cuda_weight_bytes(w),
                               cudaMemcpyHostToDevice, ctx->stream));

    if (infer_dtype_quantized(w->type)) {
        CUDA_CHECK(infer_cuda_dequantize(cw->form[dt], dt, tmp, w->type,
                                         rows, cols, ctx->stream));
        return 0;
    }

    CUDA_CHECK(infer_cuda_convert_rows(cw->form[dt], dt, tmp, w->type, cols,
                                       rows, cols, ctx->stream));

    return 0;
}


/* the bytes of w as stored: rows of values or of blocks */
static size_t
infer_cuda_weight_bytes(const infer_weight_t *w)
{
    return (size_t) w->rows * infer_dtype_row_size(w->type, w->cols);
}
