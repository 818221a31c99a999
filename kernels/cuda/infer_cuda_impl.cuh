/*
 * ngx_infer: what the files of the CUDA backend object share, and the op
 * kernels do not: its context and the functions one of its files calls in
 * another.  infer_cuda.cu says which file does what.
 *
 * The shared object is built with -fvisibility=hidden: what is declared
 * here links across its files and is exported by none of them.
 */

#ifndef _INFER_CUDA_IMPL_CUH_INCLUDED_
#define _INFER_CUDA_IMPL_CUH_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "infer_cuda.cuh"

extern "C" {
#include "infer_backend.h"
#include "infer_ops.h"
}


/* signatures the graph cache holds */
#define INFER_CUDA_GRAPHS            64


typedef struct {
    infer_weight_t        host;          /* as load() was given it */
    infer_dtype_e         primary;       /* the form load() made */
    void                 *form[INFER_DT_COUNT];
                                         /* by type, on the device, rows
                                            packed: F32, F16, BF16, or
                                            the stored quantized blocks */
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

static_assert(sizeof(infer_cuda_sig_t) == 88,
              "infer_cuda_sig_t has padding");


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

    /* the paged KV cache, from kv_init() until free() */
    float                *kv;
    infer_kv_shape_t      kv_shape;

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


/* infer_cuda.cu */
void infer_cuda_release(infer_cuda_ctx_t *ctx);
void infer_cuda_free_device(void **p);
void infer_cuda_free_host(unsigned char **p);

/* infer_cuda_weights.cu */
int infer_cuda_load(infer_backend_t *b, const infer_weight_t *w,
    int nweights, char *err, size_t errlen);
int infer_cuda_form(infer_cuda_ctx_t *ctx, infer_cuda_weight_t *cw,
    infer_dtype_e dt, char *err, size_t errlen);

/* infer_cuda_compute.cu */
int infer_cuda_reserve(infer_backend_t *b, infer_graph_t *g, char *err,
    size_t errlen);
int infer_cuda_compute(infer_backend_t *b, infer_graph_t *g, char *err,
    size_t errlen);
int infer_cuda_synchronize(infer_backend_t *b, char *err, size_t errlen);
int infer_cuda_kv_init(infer_backend_t *b, const infer_kv_shape_t *kv,
    char *err, size_t errlen);
int infer_cuda_enqueue(infer_cuda_ctx_t *ctx, infer_graph_t *g, char *err,
    size_t errlen);

/* infer_cuda_kv.cu */
int infer_cuda_kv_check(infer_cuda_ctx_t *ctx, const infer_tensor_t *t,
    char *err, size_t errlen);
int infer_cuda_kv_node(infer_cuda_ctx_t *ctx, infer_graph_t *g, int i,
    char *err, size_t errlen);
void infer_cuda_kv_free(infer_cuda_ctx_t *ctx);

/* infer_cuda_graphs.cu */
void infer_cuda_signature(infer_cuda_ctx_t *ctx, infer_graph_t *g);
int infer_cuda_launch(infer_cuda_ctx_t *ctx, infer_graph_t *g, char *err,
    size_t errlen);
void infer_cuda_drop_graphs(infer_cuda_ctx_t *ctx);


#endif /* _INFER_CUDA_IMPL_CUH_INCLUDED_ */
