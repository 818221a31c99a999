/*
 * ngx_infer: the CUDA backend, seen from code that is not built by nvcc.
 *
 * The backend is its own shared object (build/ngx_infer_cuda.so: cuBLAS
 * and the static CUDA runtime inside), so the nginx module loads on a
 * machine without CUDA and pays for it only when a model asks for a GPU.
 * These functions dlopen() it; nothing here includes a CUDA header.
 */

#ifndef _INFER_BACKEND_CUDA_H_INCLUDED_
#define _INFER_BACKEND_CUDA_H_INCLUDED_


#include <stddef.h>

#include "infer_backend.h"
#include "infer_precision.h"


/* how long infer_cuda_probe_isolated() waits for its child */
#define INFER_CUDA_PROBE_TIMEOUT  30


/*
 * The two symbols the shared object exports, and their types: the
 * shared object checks its definitions against these at compile time.
 */
#define INFER_CUDA_BACKEND_NEW_SYM  "infer_cuda_backend_new"
#define INFER_CUDA_PROBE_SYM        "infer_cuda_probe"

/* a backend on device (0, 1, ...) computing in precision
 * (INFER_PRECISION_*), or NULL with err set */
typedef infer_backend_t *(*infer_cuda_backend_new_pt)(int device,
    int precision, char *err, size_t errlen);

/* 0 with info = "NVIDIA H100 80GB HBM3, compute 9.0, 79 GiB", or -1 with
 * err naming the CUDA call that failed and quoting its error */
typedef int (*infer_cuda_probe_pt)(int device, char *info, size_t infolen,
    char *err, size_t errlen);


/*
 * dlopen(so_path, RTLD_NOW | RTLD_LOCAL), then infer_cuda_backend_new().
 * For the thread that will use the backend (an executor): this
 * initialises CUDA in the calling process.  The shared object stays
 * loaded for the life of the process, as the CUDA runtime inside it
 * expects.  Returns NULL with err set: dlerror()'s text when so_path
 * cannot be loaded, else the backend's message.
 */
infer_backend_t *infer_backend_cuda_new(const char *so_path, int device,
    int precision, char *err, size_t errlen);

/*
 * Runs infer_cuda_probe() in a child process (fork, dlopen, probe, write
 * the answer into a pipe, _exit) and waits for its answer at most
 * INFER_CUDA_PROBE_TIMEOUT seconds, killing it after that.  The caller
 * never initialises CUDA, whose context does not survive fork(): this is
 * what nginx's master calls at configuration time, before it forks the
 * workers.  Call it from a single-threaded process.
 * Returns 0 with info set, or -1 with err set.
 */
int infer_cuda_probe_isolated(const char *so_path, int device, char *info,
    size_t infolen, char *err, size_t errlen);


#endif /* _INFER_BACKEND_CUDA_H_INCLUDED_ */
