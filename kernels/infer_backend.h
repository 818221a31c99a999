/*
 * ngx_infer: the backend interface.
 *
 * One table of functions that every backend fills (CPU here, CUDA in its
 * own shared object), ggml style: an object is {iface, context}.  A
 * backend computes graphs of ops (infer_ops.h) on the weights it was
 * given; it knows no architecture.  The runner (infer_runner.h) is what
 * calls it.
 *
 * A backend object belongs to one executor thread: it is created, used and
 * freed there, so a backend needs no locking of its own.
 */

#ifndef _INFER_BACKEND_H_INCLUDED_
#define _INFER_BACKEND_H_INCLUDED_


#include "infer_model.h"
#include "infer_ops.h"
#include "infer_precision.h"


typedef struct infer_backend_s  infer_backend_t;


/*
 * What compute() and synchronize() return when the device can no longer
 * be used by this process at all (a sticky CUDA error: an illegal address,
 * a trap, an uncorrectable ECC error), as opposed to -1, a failed batch:
 * only a new process gets a working device again.
 */
#define INFER_BACKEND_LOST  -2


typedef struct {
    /* "cpu", "cuda:0 (fp16)", ... */
    const char  *(*name)(infer_backend_t *b);

    /* makes the model's weights ready for compute (upload, convert);
     * graphs name them by their index in w[], which must outlive the
     * backend (a backend may make another form of a weight later) */
    int          (*load)(infer_backend_t *b, const infer_weight_t *w,
                         int nweights, char *err, size_t errlen);

    /* g is the largest graph to come (the runner builds it for the most
     * tokens a batch may have, on inputs of zeros): sizes the scratch
     * memory; a backend may also compute it once, as a warm-up */
    int          (*reserve)(infer_backend_t *b, infer_graph_t *g, char *err,
                            size_t errlen);

    /*
     * Computes g: reads its inputs from host memory, writes its outputs
     * into their host rows.  Returns 0, or -1 (this batch failed) or
     * INFER_BACKEND_LOST with a message.
     */
    int          (*compute)(infer_backend_t *b, infer_graph_t *g, char *err,
                            size_t errlen);

    /*
     * Allocates the paged KV cache that KV_STORE and KV_ATTENTION nodes
     * use (its memory: the host's or the device's), zeroed, after load;
     * called again, it replaces the cache it made before.  0, or -1 with
     * a message (no memory for it).
     */
    int          (*kv_init)(infer_backend_t *b, const infer_kv_shape_t *kv,
                            char *err, size_t errlen);

    /* waits for work queued by compute, if the backend is asynchronous;
     * the same returns as compute */
    int          (*synchronize)(infer_backend_t *b, char *err, size_t errlen);

    void         (*free)(infer_backend_t *b);
} infer_backend_iface_t;


struct infer_backend_s {
    const infer_backend_iface_t  *iface;
    void                         *context;
};


/*
 * the CPU backend: OpenBLAS, the project's AVX2 product, infer_math.h;
 * precision INFER_PRECISION_FP32, or INFER_PRECISION_Q8 for the products
 * with quantized weights to round the activations to 8 bits first
 */
infer_backend_t *infer_backend_cpu_new(int precision, char *err,
    size_t errlen);


#endif /* _INFER_BACKEND_H_INCLUDED_ */
