/*
 * ngx_infer: the "bert" architecture, a BERT-family sentence encoder
 * (all-MiniLM-L6-v2 and its kin), built on the op layer.
 *
 * A Hugging Face model directory is loaded as it is:
 *
 *     config.json                 "model_type": "bert" and BertConfig's
 *                                 keys (hidden_size, num_hidden_layers, ...)
 *     model.safetensors           BertModel's tensors, named as Hugging
 *                                 Face names them, with or without
 *                                 "bert."; others (pooler.*,
 *                                 embeddings.position_ids) are not read
 *     modules.json                sentence-transformers' pipeline:
 *                                 Transformer, Pooling, Normalize
 *     1_Pooling/config.json       the pooling mode (mean, cls, max)
 *     sentence_bert_config.json   max_seq_length, do_lower_case
 *
 * Without modules.json the sentence embedding is the mean of the tokens'
 * last hidden states, not normalized: what sentence-transformers builds
 * (Transformer, mean Pooling) when it is given a plain Hugging Face model.
 *
 * The input is token ids (the tokenizer runs before the batch: tokenizer
 * .json, infer_tokenizer.h), one sequence per text; the output is one row
 * of hidden_size floats per sequence.  The dense layers run over all the
 * tokens of the batch as one matrix; only attention and pooling look at
 * the sequences, so a batch of ragged texts costs no padding.  Only token
 * type 0 is used (one text per sequence, as sentence-transformers feeds
 * an encoder): its row is added to every token.
 */

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "infer_model.h"
#include "infer_bert.h"


#define INFER_BERT_FILE_MAX  (1024 * 1024)
#define INFER_BERT_ST        "sentence_transformers.models."


/* a dimension of a tensor, by the config.json key it comes from */
typedef enum {
    INFER_BERT_D_VECTOR = 0,       /* rows: a 1-D tensor of cols */
    INFER_BERT_D_HIDDEN,
    INFER_BERT_D_INTER,
    INFER_BERT_D_VOCAB,
    INFER_BERT_D_POS,
    INFER_BERT_D_TYPES
} infer_bert_dim_e;


typedef struct {
    const char           *name;
    infer_bert_dim_e      rows;
    infer_bert_dim_e      cols;
} infer_bert_tensor_t;


/* reads one of the sentence-transformers files, parsed (infer_bert_file) */
typedef int (*infer_bert_read_pt)(infer_bert_t *bert, const char *dir,
    json_t *root, const char *path, char *err, size_t errlen);


/* by INFER_BERT_EMB_*, then by INFER_BERT_* of a layer */
static const infer_bert_tensor_t  infer_bert_emb_tensors[] = {
    { "embeddings.word_embeddings.weight",
      INFER_BERT_D_VOCAB, INFER_BERT_D_HIDDEN },
    { "embeddings.position_embeddings.weight",
      INFER_BERT_D_POS, INFER_BERT_D_HIDDEN },
    { "embeddings.token_type_embeddings.weight",
      INFER_BERT_D_TYPES, INFER_BERT_D_HIDDEN },
    { "embeddings.LayerNorm.weight", INFER_BERT_D_VECTOR, INFER_BERT_D_HIDDEN },
    { "embeddings.LayerNorm.bias", INFER_BERT_D_VECTOR, INFER_BERT_D_HIDDEN },
};


static const infer_bert_tensor_t  infer_bert_layer_tensors[] = {
    { "attention.self.query.weight", INFER_BERT_D_HIDDEN, INFER_BERT_D_HIDDEN },
    { "attention.self.query.bias", INFER_BERT_D_VECTOR, INFER_BERT_D_HIDDEN },
    { "attention.self.key.weight", INFER_BERT_D_HIDDEN, INFER_BERT_D_HIDDEN },
    { "attention.self.key.bias", INFER_BERT_D_VECTOR, INFER_BERT_D_HIDDEN },
    { "attention.self.value.weight", INFER_BERT_D_HIDDEN, INFER_BERT_D_HIDDEN },
    { "attention.self.value.bias", INFER_BERT_D_VECTOR, INFER_BERT_D_HIDDEN },
    { "attention.output.dense.weight",
      INFER_BERT_D_HIDDEN, INFER_BERT_D_HIDDEN },
    { "attention.output.dense.bias", INFER_BERT_D_VECTOR, INFER_BERT_D_HIDDEN },
    { "attention.output.LayerNorm.weight",
      INFER_BERT_D_VECTOR, INFER_BERT_D_HIDDEN },
    { "attention.output.LayerNorm.bias",
      INFER_BERT_D_VECTOR, INFER_BERT_D_HIDDEN },
    { "intermediate.dense.weight", INFER_BERT_D_INTER, INFER_BERT_D_HIDDEN },
    { "intermediate.dense.bias", INFER_BERT_D_VECTOR, INFER_BERT_D_INTER },
    { "output.dense.weight", INFER_BERT_D_HIDDEN, INFER_BERT_D_INTER },
    { "output.dense.bias", INFER_BERT_D_VECTOR, INFER_BERT_D_HIDDEN },
    { "output.LayerNorm.weight", INFER_BERT_D_VECTOR, INFER_BERT_D_HIDDEN },
    { "output.LayerNorm.bias", INFER_BERT_D_VECTOR, INFER_BERT_D_HIDDEN },
};


/* by infer_bert_dim_e */
static const char  *infer_bert_dim_keys[] = {
    "", "hidden_size", "intermediate_size", "vocab_size",
    "max_position_embeddings", "type_vocab_size"
};


/* config.json's hidden_act: Hugging Face's ACT2FN names */
static const struct {
    const char           *name;
    int                   act;
} infer_bert_acts[] = {
    { "gelu", INFER_ACT_GELU },
    { "gelu_new", INFER_ACT_GELU_TANH },
    { "gelu_pytorch_tanh", INFER_ACT_GELU_TANH },
    { "relu", INFER_ACT_RELU },
};


/* 1_Pooling/config.json's modes: those computed, then the others */
static const struct {
    const char           *key;
    const char           *name;
    int                   mode;        /* -1: not supported */
} infer_bert_pools[] = {
    { "pooling_mode_mean_tokens", "mean", INFER_POOL_MEAN },
    { "pooling_mode_cls_token", "cls", INFER_POOL_CLS },
    { "pooling_mode_max_tokens", "max", INFER_POOL_MAX },
    { "pooling_mode_mean_sqrt_len_tokens", "mean_sqrt_len", -1 },
    { "pooling_mode_weightedmean_tokens", "weightedmean", -1 },
    { "pooling_mode_lasttoken", "lasttoken", -1 },
};


static int infer_bert_configure(infer_model_t *m, json_t *root,
    const char *fname, char *err, size_t errlen);
static int infer_bert_int(json_t *root, const char *key, int dflt, int max,
    int *v, const char *fname, char *err, size_t errlen);
static int infer_bert_act(infer_bert_t *bert, json_t *root,
    const char *fname, char *err, size_t errlen);
static int infer_bert_resolve(infer_model_t *m, const char *cfg,
    const char *stf, char *err, size_t errlen);
static int infer_bert_weight(infer_model_t *m, const char *name,
    const infer_bert_tensor_t *d, int row0, const char *cfg,
    const char *stf, char *err, size_t errlen);
static int64_t infer_bert_dim(const infer_bert_t *bert, infer_bert_dim_e d);
static int infer_bert_file(infer_bert_t *bert, const char *dir,
    const char *name, const char *missing, infer_bert_read_pt read,
    char *err, size_t errlen);
static int infer_bert_modules(infer_bert_t *bert, const char *dir,
    json_t *root, const char *path, char *err, size_t errlen);
static int infer_bert_pooling(infer_bert_t *bert, const char *dir,
    json_t *root, const char *path, char *err, size_t errlen);
static int infer_bert_st_config(infer_bert_t *bert, const char *dir,
    json_t *root, const char *path, char *err, size_t errlen);
static void infer_bert_build(infer_graph_t *g, const infer_model_t *m,
    const infer_batch_t *batch);
static int infer_bert_max_nodes(const infer_model_t *m);
static void infer_bert_free(infer_model_t *m);


const infer_arch_t  infer_arch_bert = {
    /* .name      = */ "bert",
    /* .configure = */ infer_bert_configure,
    /* .resolve   = */ infer_bert_resolve,
    /* .build     = */ infer_bert_build,
    /* .max_nodes = */ infer_bert_max_nodes,
    /* .kv_shape  = */ NULL,
    /* .free      = */ infer_bert_free,
};


static int
infer_bert_configure(infer_model_t *m, json_t *root, const char *fname,
    char *err, size_t errlen)
{
    json_t        *v;
    const char    *s;
    infer_bert_t  *bert;

    bert = calloc(1, sizeof(infer_bert_t));
    if (bert == NULL) {
        return infer_error(err, errlen, "%s: out of memory", fname);
    }

    m->arch_data = bert;

    /* BertConfig's defaults where a config.json may leave a key out;
     * the sizes have none, a model's config.json always has them */
    if (infer_bert_int(root, "hidden_size", 0, 1 << 16, &bert->hidden,
                       fname, err, errlen) != 0
        || infer_bert_int(root, "num_hidden_layers", 0,
                          INFER_BERT_MAX_LAYERS, &bert->layers, fname, err,
                          errlen) != 0
        || infer_bert_int(root, "num_attention_heads", 0, 1 << 16,
                          &bert->heads, fname, err, errlen) != 0
        || infer_bert_int(root, "intermediate_size", 0, 1 << 18,
                          &bert->intermediate, fname, err, errlen) != 0
        || infer_bert_int(root, "vocab_size", 0, 1 << 24, &bert->vocab,
                          fname, err, errlen) != 0
        || infer_bert_int(root, "max_position_embeddings", 0, 1 << 20,
                          &bert->max_pos, fname, err, errlen) != 0
        || infer_bert_int(root, "type_vocab_size", 2, 1 << 16,
                          &bert->type_vocab, fname, err, errlen) != 0
        || infer_bert_act(bert, root, fname, err, errlen) != 0)
    {
        return -1;
    }

    if (bert->hidden % bert->heads != 0) {
        return infer_error(err, errlen, "%s: hidden_size %d is not a "
                           "multiple of num_attention_heads %d", fname,
                           bert->hidden, bert->heads);
    }

    bert->head_dim = bert->hidden / bert->heads;

    v = json_object_get(root, "layer_norm_eps");
    bert->eps = 1e-12f;

    if (v != NULL) {
        /* above 0 as a float too: the norms compute in float */
        if (!json_is_number(v) || !((float) json_number_value(v) > 0.0f)
            || !(json_number_value(v) < 1.0))
        {
            return infer_error(err, errlen, "%s: layer_norm_eps is not a "
                               "number above 0 and below 1", fname);
        }

        bert->eps = (float) json_number_value(v);
    }

    v = json_object_get(root, "position_embedding_type");
    s = json_string_value(v);

    if (v != NULL && (s == NULL || strcmp(s, "absolute") != 0)) {
        return infer_error(err, errlen, "%s: position_embedding_type "
                           "\"%.32s\" is not supported (supported: "
                           "absolute)", fname, s ? s : "?");
    }

    if (json_is_true(json_object_get(root, "is_decoder"))) {
        return infer_error(err, errlen, "%s: is_decoder true is not "
                           "supported (an encoder: bidirectional attention)",
                           fname);
    }

    /* until the sentence-transformers files say otherwise (resolve) */
    bert->max_seq = bert->max_pos;
    bert->pooling = INFER_POOL_MEAN;
    bert->lower_case = -1;

    /* texts in (tokenizer.json beside config.json), a sentence's embedding
     * out */
    return infer_model_text_io(m, "embedding", bert->hidden, fname, err,
                               errlen);
}


/* root[key], an integer in [1, max]; dflt when absent, 0: required */
static int
infer_bert_int(json_t *root, const char *key, int dflt, int max, int *v,
    const char *fname, char *err, size_t errlen)
{
    json_t      *j;
    json_int_t   n;

    j = json_object_get(root, key);

    if (j == NULL && dflt > 0) {
        *v = dflt;
        return 0;
    }

    if (j == NULL) {
        return infer_error(err, errlen, "%s: %s is missing", fname, key);
    }

    n = json_is_integer(j) ? json_integer_value(j) : 0;

    if (n < 1 || n > max) {
        return infer_error(err, errlen, "%s: %s is not an integer from 1 to "
                           "%d", fname, key, max);
    }

    *v = (int) n;

    return 0;
}


static int
infer_bert_act(infer_bert_t *bert, json_t *root, const char *fname,
    char *err, size_t errlen)
{
    size_t       i;
    json_t      *v;
    const char  *s;

    v = json_object_get(root, "hidden_act");
    s = (v == NULL) ? "gelu" : json_string_value(v);

    for (i = 0; s != NULL
                && i < sizeof(infer_bert_acts) / sizeof(infer_bert_acts[0]);
         i++)
    {
        if (strcmp(s, infer_bert_acts[i].name) == 0) {
            bert->act = infer_bert_acts[i].act;
            return 0;
        }
    }

    return infer_error(err, errlen, "%s: hidden_act \"%.32s\" is not "
                       "supported (supported: gelu, gelu_new, "
                       "gelu_pytorch_tanh, relu)", fname, s ? s : "?");
}


static int
infer_bert_resolve(infer_model_t *m, const char *cfg, const char *stf,
    char *err, size_t errlen)
{
    int            i, k;
    char           name[128];
    infer_bert_t  *bert;

    bert = m->arch_data;

    /* without modules.json: a plain Hugging Face model, whose
     * sentence-transformers pipeline is mean pooling alone */
    if (infer_bert_file(bert, m->dir, "modules.json", NULL,
                        infer_bert_modules, err, errlen) != 0
        || infer_bert_file(bert, m->dir, "sentence_bert_config.json", NULL,
                           infer_bert_st_config, err, errlen) != 0)
    {
        return -1;
    }

    /* BertModel's own names, or a task model's (BertForMaskedLM, ...)
     * that nest them under "bert." */
    bert->prefix = "";

    if (infer_safetensors_find(&m->st, infer_bert_emb_tensors[0].name)
        == NULL
        && infer_safetensors_find(&m->st,
                                  "bert.embeddings.word_embeddings.weight")
           != NULL)
    {
        bert->prefix = "bert.";
    }

    for (k = 0; k < INFER_BERT_EMB_WEIGHTS; k++) {
        snprintf(name, sizeof(name), "%s%s", bert->prefix,
                 infer_bert_emb_tensors[k].name);

        bert->emb[k] = infer_bert_weight(m, name, &infer_bert_emb_tensors[k],
                                         k == INFER_BERT_TYPE, cfg, stf, err,
                                         errlen);
        if (bert->emb[k] < 0) {
            return -1;
        }
    }

    bert->layer = calloc((size_t) bert->layers, sizeof(infer_bert_layer_t));
    if (bert->layer == NULL) {
        return infer_error(err, errlen, "%s: out of memory", cfg);
    }

    for (i = 0; i < bert->layers; i++) {
        for (k = 0; k < INFER_BERT_LAYER_WEIGHTS; k++) {
            snprintf(name, sizeof(name), "%sencoder.layer.%d.%s",
                     bert->prefix, i, infer_bert_layer_tensors[k].name);

            bert->layer[i].w[k] = infer_bert_weight(m, name,
                                      &infer_bert_layer_tensors[k], 0, cfg,
                                      stf, err, errlen);
            if (bert->layer[i].w[k] < 0) {
                return -1;
            }
        }
    }

    return 0;
}


/*
 * Finds the tensor name, checks its type and its shape against the
 * config, registers it: a matrix, a vector (1 x cols), or with row0 the
 * first row of a matrix only.  Returns its weight index, or -1.
 */
static int
infer_bert_weight(infer_model_t *m, const char *name,
    const infer_bert_tensor_t *d, int row0, const char *cfg,
    const char *stf, char *err, size_t errlen)
{
    int                       w, vec;
    char                      shape[128], want[128], what[160];
    int64_t                   rows, cols, dims[2];
    infer_bert_t             *bert;
    infer_st_tensor_t         one;
    const infer_st_tensor_t  *t;

    bert = m->arch_data;

    t = infer_safetensors_find(&m->st, name);
    if (t == NULL) {
        return infer_error(err, errlen, "%s: tensor \"%s\" is missing",
                           stf, name);
    }

    snprintf(what, sizeof(what), "tensor \"%s\"", name);

    if (infer_model_float_tensor(t, what, stf, err, errlen) != 0) {
        return -1;
    }

    vec = (d->rows == INFER_BERT_D_VECTOR);
    rows = vec ? 1 : infer_bert_dim(bert, d->rows);
    cols = infer_bert_dim(bert, d->cols);

    if (t->ndim != 2 - vec || (!vec && t->shape[0] != rows)
        || t->shape[1 - vec] != cols)
    {
        dims[0] = rows;
        dims[1] = cols;
        infer_shape_str(shape, sizeof(shape), t->shape, t->ndim);
        infer_shape_str(want, sizeof(want), dims + vec, 2 - vec);

        if (vec) {
            return infer_error(err, errlen, "%s: tensor \"%s\" is %s: "
                               "expected %s (%s in %s)", stf, name, shape,
                               want, infer_bert_dim_keys[d->cols], cfg);
        }

        return infer_error(err, errlen, "%s: tensor \"%s\" is %s: expected "
                           "%s (%s, %s in %s)", stf, name, shape, want,
                           infer_bert_dim_keys[d->rows],
                           infer_bert_dim_keys[d->cols], cfg);
    }

    if (row0) {
        one = *t;
        one.nbytes = infer_dtype_row_size(t->dtype, cols);
        t = &one;
        rows = 1;
    }

    w = infer_model_add_weight(m, t, rows, cols);
    if (w < 0) {
        return infer_error(err, errlen, "%s: out of memory", cfg);
    }

    return w;
}


static int64_t
infer_bert_dim(const infer_bert_t *bert, infer_bert_dim_e d)
{
    switch (d) {
    case INFER_BERT_D_HIDDEN:
        return bert->hidden;
    case INFER_BERT_D_INTER:
        return bert->intermediate;
    case INFER_BERT_D_VOCAB:
        return bert->vocab;
    case INFER_BERT_D_POS:
        return bert->max_pos;
    case INFER_BERT_D_TYPES:
        return bert->type_vocab;
    default:
        return 1;
    }
}


/*
 * Reads dir/name, when it is there, with read(); when it is not: 0, or
 * with missing "<path>: <missing>".
 */
static int
infer_bert_file(infer_bert_t *bert, const char *dir, const char *name,
    const char *missing, infer_bert_read_pt read, char *err, size_t errlen)
{
    int            rc;
    char          *path, *text;
    size_t         len;
    json_t        *root;
    struct stat    sb;
    json_error_t   jerr;

    path = infer_path(dir, name);
    if (path == NULL) {
        return infer_error(err, errlen, "%s: out of memory", dir);
    }

    if (stat(path, &sb) != 0 && errno == ENOENT) {
        rc = missing ? infer_error(err, errlen, "%s: %s", path, missing) : 0;
        free(path);
        return rc;
    }

    rc = -1;
    root = NULL;

    text = infer_read_file(path, INFER_BERT_FILE_MAX, &len, err, errlen);

    if (text != NULL) {
        root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
        free(text);

        if (root == NULL) {
            infer_error(err, errlen, "%s: line %d, column %d: %s", path,
                        jerr.line, jerr.column, jerr.text);

        } else {
            rc = read(bert, dir, root, path, err, errlen);
        }
    }

    json_decref(root);
    free(path);

    return rc;
}


/*
 * modules.json: the Transformer (this directory), a Pooling, and a
 * Normalize or none; any other module (Dense, ...) would change the
 * embedding, and is refused.
 */
static int
infer_bert_modules(infer_bert_t *bert, const char *dir, json_t *root,
    const char *path, char *err, size_t errlen)
{
    int          rc, seen_tr, seen_pool;
    char        *sdir;
    size_t       i;
    json_t      *mod;
    const char  *type, *sub;

    bert->st = 1;
    seen_tr = 0;
    seen_pool = 0;

    if (json_array_size(root) == 0) {
        return infer_error(err, errlen, "%s: not a non-empty array of "
                           "modules", path);
    }

    json_array_foreach(root, i, mod) {
        type = json_string_value(json_object_get(mod, "type"));
        sub = json_string_value(json_object_get(mod, "path"));

        if (type == NULL || sub == NULL) {
            return infer_error(err, errlen, "%s: module %zu has no \"type\" "
                               "or \"path\" string", path, i);
        }

        if (strncmp(type, INFER_BERT_ST, sizeof(INFER_BERT_ST) - 1) == 0) {
            type += sizeof(INFER_BERT_ST) - 1;
        }

        if (strcmp(type, "Transformer") == 0 && i == 0 && *sub == '\0') {
            seen_tr = 1;

        } else if (strcmp(type, "Pooling") == 0 && seen_tr && !seen_pool
                   && *sub != '\0')
        {
            seen_pool = 1;

            sdir = infer_path(dir, sub);
            if (sdir == NULL) {
                return infer_error(err, errlen, "%s: out of memory", path);
            }

            rc = infer_bert_file(bert, sdir, "config.json",
                                 "the Pooling module's configuration is "
                                 "missing", infer_bert_pooling, err, errlen);
            free(sdir);

            if (rc != 0) {
                return -1;
            }

        } else if (strcmp(type, "Normalize") == 0 && seen_pool
                   && !bert->normalize)
        {
            bert->normalize = 1;

        } else {
            return infer_error(err, errlen, "%s: module %zu, \"%.64s\" in "
                               "\"%.64s\", is not supported (supported: "
                               "Transformer in the model directory, then "
                               "Pooling in its own, then Normalize)", path,
                               i, type, sub);
        }
    }

    if (!seen_pool) {
        return infer_error(err, errlen, "%s: no Pooling module", path);
    }

    return 0;
}


/* the Pooling module's config.json: one of mean, cls, max */
static int
infer_bert_pooling(infer_bert_t *bert, const char *dir, json_t *root,
    const char *path, char *err, size_t errlen)
{
    int          n, first;
    char         modes[160];
    size_t       i, len;
    json_t      *v;

    n = 0;
    first = -1;
    len = 0;
    modes[0] = '\0';

    if (!json_is_object(root)) {
        return infer_error(err, errlen, "%s: not a JSON object", path);
    }

    v = json_object_get(root, "word_embedding_dimension");

    if (v != NULL && (!json_is_integer(v)
                      || json_integer_value(v) != bert->hidden))
    {
        return infer_error(err, errlen, "%s: word_embedding_dimension is "
                           "not hidden_size %d", path, bert->hidden);
    }

    for (i = 0; i < sizeof(infer_bert_pools) / sizeof(infer_bert_pools[0]);
         i++)
    {
        v = json_object_get(root, infer_bert_pools[i].key);

        if (v != NULL && !json_is_boolean(v)) {
            return infer_error(err, errlen, "%s: %s is not true or false",
                               path, infer_bert_pools[i].key);
        }

        if (!json_is_true(v)) {
            continue;
        }

        if (infer_bert_pools[i].mode < 0) {
            return infer_error(err, errlen, "%s: %s (%s pooling) is not "
                               "supported (supported: mean, cls, max)", path,
                               infer_bert_pools[i].key,
                               infer_bert_pools[i].name);
        }

        len += (size_t) snprintf(modes + len, sizeof(modes) - len, "%s%s",
                                 n ? ", " : "", infer_bert_pools[i].name);
        first = (first < 0) ? (int) i : first;
        n++;
    }

    if (n == 0) {
        return infer_error(err, errlen, "%s: no pooling mode is true "
                           "(supported: pooling_mode_mean_tokens, "
                           "pooling_mode_cls_token, pooling_mode_max_tokens)",
                           path);
    }

    if (n > 1) {
        return infer_error(err, errlen, "%s: several pooling modes at once "
                           "(%s) are not supported: one of mean, cls, max",
                           path, modes);
    }

    bert->pooling = infer_bert_pools[first].mode;

    return 0;
}


/* sentence_bert_config.json */
static int
infer_bert_st_config(infer_bert_t *bert, const char *dir, json_t *root,
    const char *path, char *err, size_t errlen)
{
    json_t  *v;

    if (!json_is_object(root)) {
        return infer_error(err, errlen, "%s: not a JSON object", path);
    }

    v = json_object_get(root, "max_seq_length");

    if (v != NULL && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 1
            || json_integer_value(v) > bert->max_pos)
        {
            return infer_error(err, errlen, "%s: max_seq_length is not an "
                               "integer from 1 to max_position_embeddings "
                               "%d", path, bert->max_pos);
        }

        bert->max_seq = (int) json_integer_value(v);
    }

    v = json_object_get(root, "do_lower_case");

    if (v != NULL) {
        if (!json_is_boolean(v)) {
            return infer_error(err, errlen, "%s: do_lower_case is not true "
                               "or false", path);
        }

        /* recorded: the tokenizer (tokenizer.json) lowercases or not on
         * its own; sentence-transformers lowercases the text before it
         * when this is true */
        bert->lower_case = json_is_true(v);
    }

    return 0;
}


static void
infer_bert_build(infer_graph_t *g, const infer_model_t *m,
    const infer_batch_t *batch)
{
    int                        i;
    infer_tensor_t            *ids, *pos, *seqs, *x, *q, *k, *v, *h;
    const int                 *w, *e;
    const infer_bert_t        *bert;

    bert = m->arch_data;
    e = bert->emb;

    ids = infer_op_input(g, INFER_DT_I32, batch->n_tokens, 1, batch->tokens,
                         "tokens");
    pos = infer_op_input(g, INFER_DT_I32, batch->n_tokens, 1, batch->pos,
                         "positions");
    seqs = infer_op_input(g, INFER_DT_I32, batch->n_seqs, 4, batch->seqs,
                          "sequences");

    x = infer_op_get_rows(g, infer_model_matrix(g, m, e[INFER_BERT_WORD]), ids);
    x = infer_op_add(g, x, infer_op_get_rows(g,
                               infer_model_matrix(g, m, e[INFER_BERT_POS]), pos));
    x = infer_op_add(g, x, infer_model_vector(g, m, e[INFER_BERT_TYPE]));
    x = infer_op_layer_norm(g, x, infer_model_vector(g, m, e[INFER_BERT_EMB_LN_W]),
                            infer_model_vector(g, m, e[INFER_BERT_EMB_LN_B]),
                            bert->eps);

    for (i = 0; i < bert->layers; i++) {
        w = bert->layer[i].w;

        q = infer_op_matmul(g, x, infer_model_matrix(g, m, w[INFER_BERT_Q_W]),
                            infer_model_vector(g, m, w[INFER_BERT_Q_B]));
        k = infer_op_matmul(g, x, infer_model_matrix(g, m, w[INFER_BERT_K_W]),
                            infer_model_vector(g, m, w[INFER_BERT_K_B]));
        v = infer_op_matmul(g, x, infer_model_matrix(g, m, w[INFER_BERT_V_W]),
                            infer_model_vector(g, m, w[INFER_BERT_V_B]));

        h = infer_op_attention(g, q, k, v, seqs, bert->heads, bert->heads,
                               bert->head_dim, 0, 0.0f);
        h = infer_op_matmul(g, h,
                            infer_model_matrix(g, m, w[INFER_BERT_ATT_OUT_W]),
                            infer_model_vector(g, m, w[INFER_BERT_ATT_OUT_B]));
        x = infer_op_layer_norm(g, infer_op_add(g, h, x),
                                infer_model_vector(g, m, w[INFER_BERT_ATT_LN_W]),
                                infer_model_vector(g, m, w[INFER_BERT_ATT_LN_B]),
                                bert->eps);

        h = infer_op_matmul(g, x, infer_model_matrix(g, m, w[INFER_BERT_INTER_W]),
                            infer_model_vector(g, m, w[INFER_BERT_INTER_B]));
        h = infer_op_act(g, h, bert->act);
        h = infer_op_matmul(g, h, infer_model_matrix(g, m, w[INFER_BERT_OUT_W]),
                            infer_model_vector(g, m, w[INFER_BERT_OUT_B]));
        x = infer_op_layer_norm(g, infer_op_add(g, h, x),
                                infer_model_vector(g, m, w[INFER_BERT_OUT_LN_W]),
                                infer_model_vector(g, m, w[INFER_BERT_OUT_LN_B]),
                                bert->eps);
    }

    x = infer_op_pool(g, x, seqs, bert->pooling);

    if (bert->normalize) {
        /* torch.nn.functional.normalize's eps */
        x = infer_op_l2_norm(g, x, 1e-12f);
    }

    infer_op_output(g, x, batch->out);
}


static int
infer_bert_max_nodes(const infer_model_t *m)
{
    const infer_bert_t  *bert;

    bert = m->arch_data;

    /*
     * 3 inputs; the embeddings: 3 weights, 2 get_rows, 2 adds and a layer
     * norm of 3 nodes (weight, bias, norm); per layer: 6 products of 3
     * nodes (weight, bias, product), attention, an activation, 2
     * residual adds, 2 layer norms of 3 nodes; pooling, normalization
     */
    return 3 + (3 + 2 + 2 + 3) + bert->layers * (6 * 3 + 1 + 1 + 2 + 2 * 3)
           + 2;
}


static void
infer_bert_free(infer_model_t *m)
{
    infer_bert_t  *bert;

    bert = m->arch_data;

    if (bert == NULL) {
        return;
    }

    free(bert->layer);
    free(bert);
    m->arch_data = NULL;
}
