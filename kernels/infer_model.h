/*
 * ngx_infer: models, independent of nginx.
 *
 * A model is a directory: config.json says the architecture and its
 * hyperparameters, model.safetensors holds the weights (mapped read-only,
 * so that every worker shares the page cache).  Or it is a GGUF file,
 * llama.cpp's format, whose metadata says the architecture
 * (general.architecture) and its hyperparameters, and whose tensors are
 * used where they lie in the mapping, quantized ones as their blocks.
 * The model is described
 * without any one architecture's shape: its architecture (a table of
 * functions, one file per architecture: infer_mlp.c, ...), the weights it
 * uses (named tensors, with their stored type and their shape as a
 * matrix), and its input and output as the APIs describe them.
 *
 * Everything here is plain C: no nginx headers, so that it can be
 * unit-tested, fuzzed and benchmarked on its own.  Errors are a message
 * in the caller's buffer naming the file and the problem.
 */

#ifndef _INFER_MODEL_H_INCLUDED_
#define _INFER_MODEL_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "infer_util.h"
#include "infer_ops.h"
#include "infer_safetensors.h"
#include "infer_gguf.h"


typedef struct infer_model_s  infer_model_t;


/* what an input or output carries, in the APIs' (KServe's) terms */
typedef enum {
    INFER_IO_FP32 = 0,
    INFER_IO_INT64,            /* token ids */
    INFER_IO_BYTES             /* text */
} infer_io_type_e;


typedef struct {
    char                 *name;
    infer_io_type_e       datatype;
    int                   ndim;
    int64_t               dims[INFER_MAX_DIMS + 1];
                                  /* -1: variable (the batch, a sequence) */
    int64_t               size;   /* values in one row: the product of the
                                     fixed dims after the first */
} infer_io_t;


/*
 * A weight as the backends see it: a matrix rows x cols (a vector is one
 * row) in its stored type, in the mapping; f32 is the same values as
 * aligned F32 (the mapping itself, or a converted copy), for a backend
 * that computes in F32 on the host.  A quantized weight (GGUF's blocks)
 * has no f32: it is computed on as its blocks, never converted whole.
 */
typedef struct {
    const char           *name;
    infer_dtype_e         type;
    int64_t               rows;
    int64_t               cols;
    const void           *data;
    size_t                nbytes;
    const float          *f32;
} infer_weight_t;


typedef struct {
    const char           *name;           /* config.json's "architecture",
                                             or Hugging Face's
                                             "model_type" */

    /*
     * Reads config.json's root object, or with root NULL the metadata of
     * the GGUF file m->gguf (an architecture in infer_model.c's GGUF
     * table): m->arch_data, m->input, m->output.
     */
    int                 (*configure)(infer_model_t *m, json_t *root,
                                     const char *fname, char *err,
                                     size_t errlen);

    /* finds and checks its tensors (infer_model_add_weight(), or
     * infer_model_add_gguf_weight()); cfg and stf are the two files'
     * paths, for messages: both the GGUF file's for a GGUF model */
    int                 (*resolve)(infer_model_t *m, const char *cfg,
                                   const char *stf, char *err,
                                   size_t errlen);

    /* the forward pass of a batch, its output to batch->out */
    void                (*build)(infer_graph_t *g, const infer_model_t *m,
                                 const infer_batch_t *batch);

    /* the most nodes build() appends */
    int                 (*max_nodes)(const infer_model_t *m);

    /* a decoder's KV cache: its layers and kv_dim, 0; NULL for an
     * architecture that keeps none */
    int                 (*kv_shape)(const infer_model_t *m,
                                    infer_kv_shape_t *kv);

    void                (*free)(infer_model_t *m);
} infer_arch_t;


struct infer_model_s {
    char                 *dir;
    const infer_arch_t   *arch;
    void                 *arch_data;

    infer_io_t            input;
    infer_io_t            output;         /* one row per sequence */

    infer_weight_t       *weights;
    int                   nweights;

    infer_safetensors_t   st;
    infer_gguf_t         *gguf;           /* a GGUF model's file, or NULL */
    void                 *owned;          /* F32 copies of F16/BF16 and of
                                             unaligned F32 tensors */
};


/*
 * Loads dir/config.json and dir/model.safetensors and checks that they
 * agree; or, when dir is a regular file, a GGUF file.  Returns a model,
 * or NULL with err set ("<path>: <problem>").
 */
infer_model_t *infer_model_load(const char *dir, char *err, size_t errlen);
void infer_model_free(infer_model_t *m);

/* 1 when a weight is in quantized blocks (GGUF's Q4_1, ...), else 0 */
int infer_model_quantized(const infer_model_t *m);

/*
 * Parses config.json text alone into m (the architecture's configure(),
 * tensor names still unresolved).  For the fuzzer and for
 * infer_model_load(); fname is used in messages only.
 */
int infer_model_parse_config(infer_model_t *m, const char *json, size_t len,
    const char *fname, char *err, size_t errlen);

/*
 * For an architecture's resolve(): adds the stored tensor t as a weight
 * of rows x cols (its shape as a matrix), returns its index or -1 (out of
 * memory).
 */
int infer_model_add_weight(infer_model_t *m, const infer_st_tensor_t *t,
    int64_t rows, int64_t cols);

/*
 * For an architecture's resolve() of a GGUF model: adds the tensor t as
 * a weight of ne[1] x ... x ne[3] rows of ne[0] (a vector is one row),
 * returns its index or -1 (out of memory).
 */
int infer_model_add_gguf_weight(infer_model_t *m,
    const infer_gguf_tensor_t *t);

/*
 * For an architecture's resolve(): 0 when the tensor t, which it computes
 * with, is F32, F16 or BF16; else -1 and "<cfg>: <what> is I64: expected
 * F32, F16 or BF16" (what names it as the architecture does).
 */
int infer_model_float_tensor(const infer_st_tensor_t *t, const char *what,
    const char *cfg, char *err, size_t errlen);

/*
 * config.json helpers for the architectures: an object's keys must all
 * be in keys (NULL-terminated), else "<fname>: <where>: unknown key";
 * a copy of obj[key] (or of dflt when it is absent) that must be a
 * non-empty string.
 */
int infer_config_keys(json_t *obj, const char **keys, const char *where,
    const char *fname, char *err, size_t errlen);
char *infer_config_string(json_t *obj, const char *key, const char *dflt,
    const char *where, const char *fname, char *err, size_t errlen);


/*
 * For an architecture's build(): weight w as a leaf of the graph, a
 * matrix in its stored type (a product's weight, an embedding table), or
 * a vector in its F32 form (biases, norms)
 */
infer_tensor_t *infer_model_matrix(infer_graph_t *g, const infer_model_t *m,
    int w);

/*
 * For an architecture's configure(): the input is texts ("text", BYTES
 * [-1]), the output one FP32 row of size values per text; 0, or -1 (no
 * memory) with err set
 */
int infer_model_text_io(infer_model_t *m, const char *output, int64_t size,
    const char *fname, char *err, size_t errlen);
infer_tensor_t *infer_model_vector(infer_graph_t *g, const infer_model_t *m,
    int w);


/* the architectures */
extern const infer_arch_t  infer_arch_mlp;
extern const infer_arch_t  infer_arch_bert;
extern const infer_arch_t  infer_arch_llama;


#endif /* _INFER_MODEL_H_INCLUDED_ */
