/*
 * ngx_infer: the backend interface.
 *
 * One table of functions that every backend fills (CPU BLAS here, CUDA in
 * its own shared object), ggml style: an object is {iface, context}.  The
 * executor and the model code call only through the table.
 *
 * A backend object belongs to one executor thread: it is created, used and
 * freed there, so a backend needs no locking of its own.
 */

#ifndef _INFER_BACKEND_H_INCLUDED_
#define _INFER_BACKEND_H_INCLUDED_


#include "infer_model.h"


typedef struct infer_backend_s  infer_backend_t;


/*
 * What run() and synchronize() return when the device can no longer be
 * used by this process at all (a sticky CUDA error: an illegal address, a
 * trap, an uncorrectable ECC error), as opposed to -1, a failed batch:
 * only a new process gets a working device again.
 */
#define INFER_BACKEND_LOST  -2


typedef struct {
    /* "cpu", "cuda:0", ... */
    const char  *(*name)(infer_backend_t *b);

    /* makes the model's weights ready (upload, convert) and sizes the
     * scratch buffers for batches of up to max_batch rows */
    int          (*load)(infer_backend_t *b, const infer_model_t *m,
                         int max_batch, char *err, size_t errlen);

    /* out[rows][m->output_size] = model(in[rows][m->input_size]); 0, or
     * -1 (this batch failed) or INFER_BACKEND_LOST with a message */
    int          (*run)(infer_backend_t *b, const float *in, int rows,
                        float *out, char *err, size_t errlen);

    /* waits for work queued by run, if the backend is asynchronous; the
     * same returns as run */
    int          (*synchronize)(infer_backend_t *b, char *err, size_t errlen);

    void         (*free)(infer_backend_t *b);
} infer_backend_iface_t;


struct infer_backend_s {
    const infer_backend_iface_t  *iface;
    void                         *context;
};


/* the CPU backend: OpenBLAS sgemm/sgemv plus the shared numerics */
infer_backend_t *infer_backend_cpu_new(char *err, size_t errlen);


#endif /* _INFER_BACKEND_H_INCLUDED_ */
