/*
 * ngx_infer: the "mlp" architecture, a stack of dense layers, built on
 * the op layer.
 *
 * config.json:
 *
 *     {"architecture": "mlp",
 *      "input": {"name": "input", "shape": [64], "datatype": "FP32"},
 *      "layers": [{"weight": "fc1.weight", "bias": "fc1.bias",
 *                  "activation": "relu"},
 *                 {"weight": "fc2.weight"}],
 *      "output": {"name": "logits", "softmax": true}}
 *
 * Unknown keys inside "input", "output" and a layer are errors, so that a
 * typo ("activaton") is caught by nginx -t instead of silently ignored;
 * unknown top-level keys are allowed (descriptions, versions).
 *
 * A request of k rows is k sequences of one token each: the batch is one
 * matrix of n_tokens rows, and each layer one matmul over all of them.
 */

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "infer_model.h"
#include "infer_mlp.h"


static int infer_mlp_configure(infer_model_t *m, json_t *root,
    const char *fname, char *err, size_t errlen);
static int infer_mlp_input(infer_model_t *m, infer_mlp_t *mlp, json_t *in,
    const char *fname, char *err, size_t errlen);
static int infer_mlp_output(infer_model_t *m, infer_mlp_t *mlp, json_t *out,
    const char *fname, char *err, size_t errlen);
static int infer_mlp_layer(infer_mlp_layer_t *l, json_t *v, int i,
    const char *fname, char *err, size_t errlen);
static int infer_mlp_resolve(infer_model_t *m, const char *cfg,
    const char *stf, char *err, size_t errlen);
static void infer_mlp_build(infer_graph_t *g, const infer_model_t *m,
    const infer_batch_t *batch);
static int infer_mlp_max_nodes(const infer_model_t *m);
static void infer_mlp_free(infer_model_t *m);


/* by INFER_ACT_* value; what config.json's "activation" takes */
static const char  *infer_mlp_acts[] = {
    "none", "relu", "gelu", "tanh", "sigmoid"
};


const infer_arch_t  infer_arch_mlp = {
    /* .name      = */ "mlp",
    /* .configure = */ infer_mlp_configure,
    /* .resolve   = */ infer_mlp_resolve,
    /* .build     = */ infer_mlp_build,
    /* .max_nodes = */ infer_mlp_max_nodes,
    /* .kv_shape  = */ NULL,
    /* .free      = */ infer_mlp_free,
};


static int
infer_mlp_configure(infer_model_t *m, json_t *root, const char *fname,
    char *err, size_t errlen)
{
    int           i;
    size_t        n;
    json_t       *layers;
    infer_mlp_t  *mlp;

    mlp = calloc(1, sizeof(infer_mlp_t));
    if (mlp == NULL) {
        return infer_error(err, errlen, "%s: out of memory", fname);
    }

    m->arch_data = mlp;

    if (infer_mlp_input(m, mlp, json_object_get(root, "input"), fname, err,
                        errlen)
        != 0)
    {
        return -1;
    }

    if (infer_mlp_output(m, mlp, json_object_get(root, "output"), fname,
                         err, errlen)
        != 0)
    {
        return -1;
    }

    layers = json_object_get(root, "layers");
    n = json_array_size(layers);

    if (n == 0) {
        return infer_error(err, errlen, "%s: \"layers\" is missing or not a "
                           "non-empty array", fname);
    }

    if (n > INFER_MLP_MAX_LAYERS) {
        return infer_error(err, errlen, "%s: %zu layers, at most %d are "
                           "supported", fname, n, INFER_MLP_MAX_LAYERS);
    }

    mlp->layers = calloc(n, sizeof(infer_mlp_layer_t));
    if (mlp->layers == NULL) {
        return infer_error(err, errlen, "%s: out of memory", fname);
    }

    for (i = 0; i < (int) n; i++) {
        /* counted first so that infer_model_free() sees a partial layer */
        mlp->nlayers = i + 1;

        if (infer_mlp_layer(&mlp->layers[i], json_array_get(layers, i), i,
                            fname, err, errlen)
            != 0)
        {
            return -1;
        }
    }

    return 0;
}


static int
infer_mlp_input(infer_model_t *m, infer_mlp_t *mlp, json_t *in,
    const char *fname, char *err, size_t errlen)
{
    char               *dt;
    size_t              i, n;
    json_t             *shape, *d;
    json_int_t          dim;
    static const char  *keys[] = { "name", "shape", "datatype", NULL };

    if (!json_is_object(in)) {
        return infer_error(err, errlen, "%s: \"input\" is missing or not an "
                           "object", fname);
    }

    if (infer_config_keys(in, keys, "input", fname, err, errlen) != 0) {
        return -1;
    }

    m->input.name = infer_config_string(in, "name", "input", "input", fname,
                                        err, errlen);
    if (m->input.name == NULL) {
        return -1;
    }

    dt = infer_config_string(in, "datatype", "FP32", "input", fname, err,
                             errlen);
    if (dt == NULL) {
        return -1;
    }

    if (strcmp(dt, "FP32") != 0) {
        infer_error(err, errlen, "%s: input.datatype \"%.32s\" is not "
                    "supported (supported: FP32)", fname, dt);
        free(dt);
        return -1;
    }

    free(dt);
    m->input.datatype = INFER_IO_FP32;

    shape = json_object_get(in, "shape");
    n = json_array_size(shape);

    if (n == 0 || n > INFER_MAX_DIMS) {
        return infer_error(err, errlen, "%s: input.shape must be an array of "
                           "1 to %d dimensions", fname, INFER_MAX_DIMS);
    }

    /* [-1, features...]: any number of rows */
    m->input.ndim = (int) n + 1;
    m->input.dims[0] = -1;
    m->input.size = 1;
    mlp->feature_ndim = (int) n;

    json_array_foreach(shape, i, d) {
        dim = json_is_integer(d) ? json_integer_value(d) : 0;

        if (dim <= 0) {
            return infer_error(err, errlen, "%s: input.shape[%zu] is not a "
                               "positive integer", fname, i);
        }

        if (dim > INT_MAX / m->input.size) {
            return infer_error(err, errlen, "%s: input.shape has more than "
                               "%d elements", fname, INT_MAX);
        }

        m->input.dims[i + 1] = dim;
        mlp->feature_shape[i] = dim;
        m->input.size *= dim;
    }

    return 0;
}


static int
infer_mlp_output(infer_model_t *m, infer_mlp_t *mlp, json_t *out,
    const char *fname, char *err, size_t errlen)
{
    json_t             *sm;
    static const char  *keys[] = { "name", "softmax", NULL };

    if (out != NULL && !json_is_object(out)) {
        return infer_error(err, errlen, "%s: \"output\" is not an object",
                           fname);
    }

    if (out != NULL
        && infer_config_keys(out, keys, "output", fname, err, errlen) != 0)
    {
        return -1;
    }

    m->output.name = infer_config_string(out, "name", "output", "output",
                                         fname, err, errlen);
    if (m->output.name == NULL) {
        return -1;
    }

    sm = json_object_get(out, "softmax");

    if (sm != NULL && !json_is_boolean(sm)) {
        return infer_error(err, errlen, "%s: output.softmax is not true or "
                           "false", fname);
    }

    mlp->softmax = json_is_true(sm);

    return 0;
}


static int
infer_mlp_layer(infer_mlp_layer_t *l, json_t *v, int i, const char *fname,
    char *err, size_t errlen)
{
    int                 a, k;
    char                where[32];
    json_t             *act, *bias;
    const char         *s;
    static const char  *keys[] = { "weight", "bias", "activation", NULL };

    snprintf(where, sizeof(where), "layers[%d]", i);

    if (!json_is_object(v)) {
        return infer_error(err, errlen, "%s: %s is not an object", fname,
                           where);
    }

    if (infer_config_keys(v, keys, where, fname, err, errlen) != 0) {
        return -1;
    }

    if (!json_is_string(json_object_get(v, "weight"))) {
        return infer_error(err, errlen, "%s: %s.weight is missing or not a "
                           "string", fname, where);
    }

    l->wname = infer_config_string(v, "weight", NULL, where, fname, err,
                                   errlen);
    if (l->wname == NULL) {
        return -1;
    }

    bias = json_object_get(v, "bias");

    if (bias != NULL && !json_is_null(bias)) {
        l->bname = infer_config_string(v, "bias", NULL, where, fname, err,
                                       errlen);
        if (l->bname == NULL) {
            return -1;
        }
    }

    l->act = INFER_ACT_NONE;
    act = json_object_get(v, "activation");

    if (act == NULL) {
        return 0;
    }

    s = json_string_value(act);
    k = (int) (sizeof(infer_mlp_acts) / sizeof(infer_mlp_acts[0]));

    for (a = 0; s != NULL && a < k; a++) {
        if (strcmp(s, infer_mlp_acts[a]) == 0) {
            l->act = a;
            return 0;
        }
    }

    if (s == NULL) {
        return infer_error(err, errlen, "%s: %s.activation is not a string",
                           fname, where);
    }

    return infer_error(err, errlen, "%s: %s.activation \"%.32s\" is unknown "
                       "(supported: relu, gelu, tanh, sigmoid, none)", fname,
                       where, s);
}


static int
infer_mlp_resolve(infer_model_t *m, const char *cfg, const char *stf,
    char *err, size_t errlen)
{
    int                       i;
    char                      shape[128], ishape[128], what[32];
    int64_t                   in, out;
    infer_mlp_t              *mlp;
    infer_mlp_layer_t        *l;
    const infer_st_tensor_t  *t;

    mlp = m->arch_data;
    in = m->input.size;

    for (i = 0; i < mlp->nlayers; i++) {
        l = &mlp->layers[i];

        t = infer_safetensors_find(&m->st, l->wname);
        if (t == NULL) {
            return infer_error(err, errlen, "%s: layers[%d].weight: tensor "
                               "\"%.128s\" is not in %s", cfg, i, l->wname,
                               stf);
        }

        snprintf(what, sizeof(what), "layers[%d].weight", i);

        if (infer_model_float_tensor(t, what, cfg, err, errlen) != 0) {
            return -1;
        }

        infer_shape_str(shape, sizeof(shape), t->shape, t->ndim);

        if (t->ndim != 2) {
            return infer_error(err, errlen, "%s: layers[%d].weight is %s: "
                               "expected 2 dimensions, [out, in]", cfg, i,
                               shape);
        }

        if (t->shape[0] == 0 || t->shape[0] > INT_MAX) {
            return infer_error(err, errlen, "%s: layers[%d].weight is %s: "
                               "expected 1 to %d outputs", cfg, i, shape,
                               INT_MAX);
        }

        if (t->shape[1] != in) {
            if (i == 0) {
                infer_shape_str(ishape, sizeof(ishape), mlp->feature_shape,
                                mlp->feature_ndim);
                return infer_error(err, errlen, "%s: layers[0].weight is %s: "
                                   "expected %lld inputs, the size of "
                                   "input.shape %s", cfg, shape,
                                   (long long) in, ishape);
            }

            return infer_error(err, errlen, "%s: layers[%d].weight is %s: "
                               "expected %lld inputs, the output of "
                               "layers[%d]", cfg, i, shape, (long long) in,
                               i - 1);
        }

        out = t->shape[0];
        l->in = (int) in;
        l->out = (int) out;
        l->b = -1;

        l->w = infer_model_add_weight(m, t, out, in);
        if (l->w < 0) {
            return infer_error(err, errlen, "%s: out of memory", cfg);
        }

        if (l->bname != NULL) {
            t = infer_safetensors_find(&m->st, l->bname);
            if (t == NULL) {
                return infer_error(err, errlen, "%s: layers[%d].bias: tensor "
                                   "\"%.128s\" is not in %s", cfg, i,
                                   l->bname, stf);
            }

            snprintf(what, sizeof(what), "layers[%d].bias", i);

            if (infer_model_float_tensor(t, what, cfg, err, errlen) != 0) {
                return -1;
            }

            if (t->ndim != 1 || t->shape[0] != out) {
                infer_shape_str(shape, sizeof(shape), t->shape, t->ndim);
                return infer_error(err, errlen, "%s: layers[%d].bias is %s: "
                                   "expected [%lld], the outputs of "
                                   "layers[%d].weight", cfg, i, shape,
                                   (long long) out, i);
            }

            l->b = infer_model_add_weight(m, t, 1, out);
            if (l->b < 0) {
                return infer_error(err, errlen, "%s: out of memory", cfg);
            }
        }

        in = out;
    }

    m->output.ndim = 2;
    m->output.dims[0] = -1;
    m->output.dims[1] = in;
    m->output.size = in;
    m->output.datatype = INFER_IO_FP32;

    return 0;
}


static void
infer_mlp_build(infer_graph_t *g, const infer_model_t *m,
    const infer_batch_t *batch)
{
    int                       i;
    infer_mlp_t              *mlp;
    infer_tensor_t           *x, *w, *b;
    const infer_weight_t     *wt;
    const infer_mlp_layer_t  *l;

    mlp = m->arch_data;

    x = infer_op_input(g, INFER_DT_F32, batch->n_tokens, m->input.size,
                       batch->x, m->input.name);

    for (i = 0; i < mlp->nlayers; i++) {
        l = &mlp->layers[i];
        wt = &m->weights[l->w];

        w = infer_op_weight(g, l->w, wt->type, wt->rows, wt->cols, wt->name);
        b = NULL;

        if (l->b >= 0) {
            /* a matmul's bias is F32 (infer_ops.h): the weight's f32
             * form, whatever type it is stored in */
            wt = &m->weights[l->b];
            b = infer_op_weight(g, l->b, INFER_DT_F32, 1, wt->cols,
                                wt->name);
        }

        x = infer_op_matmul(g, x, w, b);

        if (l->act != INFER_ACT_NONE) {
            x = infer_op_act(g, x, l->act);
        }
    }

    if (mlp->softmax) {
        x = infer_op_softmax(g, x, NULL, 1.0f);
    }

    infer_op_output(g, x, batch->out);
}


static int
infer_mlp_max_nodes(const infer_model_t *m)
{
    infer_mlp_t  *mlp;

    mlp = m->arch_data;

    /* the input; weight, bias, matmul and activation per layer; softmax */
    return 1 + 4 * mlp->nlayers + 1;
}


static void
infer_mlp_free(infer_model_t *m)
{
    int           i;
    infer_mlp_t  *mlp;

    mlp = m->arch_data;

    if (mlp == NULL) {
        return;
    }

    for (i = 0; mlp->layers != NULL && i < mlp->nlayers; i++) {
        free(mlp->layers[i].wname);
        free(mlp->layers[i].bname);
    }

    free(mlp->layers);
    free(mlp);
    m->arch_data = NULL;
}
