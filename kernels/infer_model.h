/*
 * ngx_infer: models, independent of nginx.
 *
 * A model is a directory with model.safetensors (the weights, mapped
 * read-only so that every worker shares the page cache) and config.json
 * (what the weights mean).  Everything here is plain C: no nginx headers,
 * so that it can be unit-tested, fuzzed and benchmarked on its own.
 *
 * Errors are reported as a message written into a caller's buffer; the
 * message names the file and the problem, and never ends with a newline.
 */

#ifndef _INFER_MODEL_H_INCLUDED_
#define _INFER_MODEL_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "infer_util.h"


#define INFER_MAX_DIMS        8
#define INFER_MAX_LAYERS      64



/* safetensors element types this project reads */
typedef enum {
    INFER_DT_F32 = 0,
    INFER_DT_F16,
    INFER_DT_BF16
} infer_dtype_e;


typedef struct {
    char                 *name;
    infer_dtype_e         dtype;
    int                   ndim;
    int64_t               shape[INFER_MAX_DIMS];
    int64_t               nelts;
    const void           *data;        /* inside the mapping */
    size_t                nbytes;
} infer_tensor_t;


typedef struct {
    void                 *map;         /* whole file, PROT_READ, MAP_SHARED */
    size_t                map_len;
    const unsigned char  *data;        /* start of the data section */
    size_t                data_len;
    infer_tensor_t       *tensors;
    size_t                ntensors;
} infer_safetensors_t;


/*
 * Parses a safetensors header held in memory (buf, len is the whole file or
 * at least 8 + header size bytes, data_len the size of the data section that
 * follows it); fills st->tensors, pointing into buf.  Used by
 * infer_safetensors_open() and directly by the fuzzer.
 * Returns 0, or -1 with err set.
 */
int infer_safetensors_parse(infer_safetensors_t *st, const unsigned char *buf,
    size_t len, char *err, size_t errlen);
int infer_safetensors_open(infer_safetensors_t *st, const char *path,
    char *err, size_t errlen);
const infer_tensor_t *infer_safetensors_find(const infer_safetensors_t *st,
    const char *name);
void infer_safetensors_close(infer_safetensors_t *st);

const char *infer_dtype_name(infer_dtype_e dt);


typedef enum {
    INFER_ACT_NONE = 0,
    INFER_ACT_RELU,
    INFER_ACT_GELU,
    INFER_ACT_TANH,
    INFER_ACT_SIGMOID
} infer_act_e;


typedef struct {
    char                 *wname;       /* tensor names from config.json */
    char                 *bname;       /* NULL: no bias */
    int                   in;
    int                   out;
    infer_act_e           act;
    const float          *w;           /* [out][in], row-major, F32 */
    const float          *b;           /* [out] or NULL */
    const infer_tensor_t *wt;          /* as stored, for backends that */
    const infer_tensor_t *bt;          /* upload the stored dtype; bt NULL */
} infer_layer_t;


typedef struct {
    char                 *dir;
    char                 *architecture;       /* "mlp" */

    char                 *input_name;
    char                 *input_datatype;     /* KServe name, "FP32" */
    int                   input_ndim;         /* feature dims, no batch dim */
    int64_t               input_shape[INFER_MAX_DIMS];
    int64_t               input_size;         /* product of input_shape */

    char                 *output_name;
    int                   output_softmax;
    int64_t               output_size;

    infer_layer_t        *layers;
    int                   nlayers;
    int64_t               max_width;          /* widest activation row */

    infer_safetensors_t   st;
    void                 *owned;              /* F32 copies of F16/BF16 and
                                                 of unaligned F32 tensors */
} infer_model_t;


/*
 * Loads dir/config.json and dir/model.safetensors and checks that they
 * agree: every tensor named exists, shapes chain from layer to layer.
 * Returns a model, or NULL with err set ("<path>: <problem>").
 */
infer_model_t *infer_model_load(const char *dir, char *err, size_t errlen);
void infer_model_free(infer_model_t *m);

/*
 * Parses config.json text alone into m (architecture, input, output, the
 * layer list with tensor names still unresolved).  For the fuzzer and for
 * infer_model_load(); fname is used in messages only.
 */
int infer_model_parse_config(infer_model_t *m, const char *json, size_t len,
    const char *fname, char *err, size_t errlen);

/*
 * Reference forward pass on the CPU, one row at a time, no BLAS: used by
 * the unit tests to check the backends.
 */
void infer_model_forward_ref(const infer_model_t *m, const float *in,
    int rows, float *out);


#endif /* _INFER_MODEL_H_INCLUDED_ */
