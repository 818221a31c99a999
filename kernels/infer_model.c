/*
 * ngx_infer: config.json and model loading.
 *
 * config.json for "architecture": "mlp":
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
 * unknown top-level keys are allowed (descriptions, versions, and the many
 * keys of Hugging Face configs).
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "infer_model.h"
#include "infer_math.h"
#include "infer_util.h"


#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian and is used in place"
#endif


/* infer_math.h repeats the activation values to stay self-contained */
typedef char infer_act_values_agree_t[
    (INFER_ACT_NONE == INFER_MATH_ACT_NONE
     && INFER_ACT_RELU == INFER_MATH_ACT_RELU
     && INFER_ACT_GELU == INFER_MATH_ACT_GELU
     && INFER_ACT_TANH == INFER_MATH_ACT_TANH
     && INFER_ACT_SIGMOID == INFER_MATH_ACT_SIGMOID) ? 1 : -1];


#define INFER_CONFIG_MAX   (16 * 1024 * 1024)

static const char  *infer_act_names[] = {
    "none", "relu", "gelu", "tanh", "sigmoid"
};


static int infer_config_mlp(infer_model_t *m, json_t *root, const char *fname,
    char *err, size_t errlen);
static int infer_config_input(infer_model_t *m, json_t *in, const char *fname,
    char *err, size_t errlen);
static int infer_config_output(infer_model_t *m, json_t *out,
    const char *fname, char *err, size_t errlen);
static int infer_config_layer(infer_layer_t *l, json_t *v, int i,
    const char *fname, char *err, size_t errlen);
static int infer_config_keys(json_t *obj, const char **keys,
    const char *where, const char *fname, char *err, size_t errlen);
static char *infer_config_string(json_t *obj, const char *key,
    const char *dflt, const char *where, const char *fname, char *err,
    size_t errlen);
static int infer_model_resolve(infer_model_t *m, const char *cfg,
    const char *stf, char *err, size_t errlen);
static int infer_model_convert(infer_model_t *m, char *err, size_t errlen);
static int infer_tensor_usable(const infer_tensor_t *t);
static void infer_tensor_to_f32(float *dst, const infer_tensor_t *t);


infer_model_t *
infer_model_load(const char *dir, char *err, size_t errlen)
{
    int             rc;
    char           *cfg, *stf, *json;
    size_t          len;
    infer_model_t  *m;

    json = NULL;
    rc = -1;

    m = calloc(1, sizeof(infer_model_t));
    cfg = infer_path(dir, "config.json");
    stf = infer_path(dir, "model.safetensors");

    if (m == NULL || cfg == NULL || stf == NULL) {
        infer_error(err, errlen, "%s: out of memory", dir);
        goto done;
    }

    m->dir = strdup(dir);
    if (m->dir == NULL) {
        infer_error(err, errlen, "%s: out of memory", dir);
        goto done;
    }

    json = infer_read_file(cfg, INFER_CONFIG_MAX, &len, err, errlen);
    if (json == NULL) {
        goto done;
    }

    if (infer_model_parse_config(m, json, len, cfg, err, errlen) != 0) {
        goto done;
    }

    if (infer_safetensors_open(&m->st, stf, err, errlen) != 0) {
        goto done;
    }

    if (infer_model_resolve(m, cfg, stf, err, errlen) != 0) {
        goto done;
    }

    if (infer_model_convert(m, err, errlen) != 0) {
        goto done;
    }

    rc = 0;

done:

    free(json);
    free(cfg);
    free(stf);

    if (rc != 0) {
        infer_model_free(m);
        return NULL;
    }

    return m;
}


void
infer_model_free(infer_model_t *m)
{
    int  i;

    if (m == NULL) {
        return;
    }

    for (i = 0; m->layers != NULL && i < m->nlayers; i++) {
        free(m->layers[i].wname);
        free(m->layers[i].bname);
    }

    free(m->layers);
    free(m->dir);
    free(m->architecture);
    free(m->input_name);
    free(m->input_datatype);
    free(m->output_name);
    free(m->owned);

    infer_safetensors_close(&m->st);

    free(m);
}


int
infer_model_parse_config(infer_model_t *m, const char *json, size_t len,
    const char *fname, char *err, size_t errlen)
{
    int            rc;
    json_t        *root, *arch;
    json_error_t   jerr;

    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        return infer_error(err, errlen, "%s: line %d, column %d: %s", fname,
                           jerr.line, jerr.column, jerr.text);
    }

    rc = -1;

    if (!json_is_object(root)) {
        infer_error(err, errlen, "%s: not a JSON object", fname);
        goto done;
    }

    arch = json_object_get(root, "architecture");
    if (!json_is_string(arch)) {
        infer_error(err, errlen, "%s: \"architecture\" is missing or not a "
                    "string (supported: mlp)", fname);
        goto done;
    }

    if (strcmp(json_string_value(arch), "mlp") != 0) {
        infer_error(err, errlen, "%s: unknown architecture \"%.64s\" "
                    "(supported: mlp)", fname, json_string_value(arch));
        goto done;
    }

    m->architecture = strdup("mlp");
    if (m->architecture == NULL) {
        infer_error(err, errlen, "%s: out of memory", fname);
        goto done;
    }

    rc = infer_config_mlp(m, root, fname, err, errlen);

done:

    json_decref(root);
    return rc;
}


static int
infer_config_mlp(infer_model_t *m, json_t *root, const char *fname,
    char *err, size_t errlen)
{
    int      i;
    size_t   n;
    json_t  *layers;

    if (infer_config_input(m, json_object_get(root, "input"), fname, err,
                           errlen)
        != 0)
    {
        return -1;
    }

    if (infer_config_output(m, json_object_get(root, "output"), fname, err,
                            errlen)
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

    if (n > INFER_MAX_LAYERS) {
        return infer_error(err, errlen, "%s: %zu layers, at most %d are "
                           "supported", fname, n, INFER_MAX_LAYERS);
    }

    m->layers = calloc(n, sizeof(infer_layer_t));
    if (m->layers == NULL) {
        return infer_error(err, errlen, "%s: out of memory", fname);
    }

    for (i = 0; i < (int) n; i++) {
        /* counted first so that infer_model_free() sees a partial layer */
        m->nlayers = i + 1;

        if (infer_config_layer(&m->layers[i], json_array_get(layers, i), i,
                               fname, err, errlen)
            != 0)
        {
            return -1;
        }
    }

    return 0;
}


static int
infer_config_input(infer_model_t *m, json_t *in, const char *fname,
    char *err, size_t errlen)
{
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

    m->input_name = infer_config_string(in, "name", "input", "input", fname,
                                        err, errlen);
    if (m->input_name == NULL) {
        return -1;
    }

    m->input_datatype = infer_config_string(in, "datatype", "FP32", "input",
                                            fname, err, errlen);
    if (m->input_datatype == NULL) {
        return -1;
    }

    if (strcmp(m->input_datatype, "FP32") != 0) {
        return infer_error(err, errlen, "%s: input.datatype \"%.32s\" is not "
                           "supported (supported: FP32)", fname,
                           m->input_datatype);
    }

    shape = json_object_get(in, "shape");
    n = json_array_size(shape);

    if (n == 0 || n > INFER_MAX_DIMS) {
        return infer_error(err, errlen, "%s: input.shape must be an array of "
                           "1 to %d dimensions", fname, INFER_MAX_DIMS);
    }

    m->input_ndim = (int) n;
    m->input_size = 1;

    json_array_foreach(shape, i, d) {
        dim = json_is_integer(d) ? json_integer_value(d) : 0;

        if (dim <= 0) {
            return infer_error(err, errlen, "%s: input.shape[%zu] is not a "
                               "positive integer", fname, i);
        }

        if (dim > INT_MAX / m->input_size) {
            return infer_error(err, errlen, "%s: input.shape has more than "
                               "%d elements", fname, INT_MAX);
        }

        m->input_shape[i] = dim;
        m->input_size *= dim;
    }

    return 0;
}


static int
infer_config_output(infer_model_t *m, json_t *out, const char *fname,
    char *err, size_t errlen)
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

    m->output_name = infer_config_string(out, "name", "output", "output",
                                         fname, err, errlen);
    if (m->output_name == NULL) {
        return -1;
    }

    sm = json_object_get(out, "softmax");

    if (sm != NULL && !json_is_boolean(sm)) {
        return infer_error(err, errlen, "%s: output.softmax is not true or "
                           "false", fname);
    }

    m->output_softmax = json_is_true(sm);

    return 0;
}


static int
infer_config_layer(infer_layer_t *l, json_t *v, int i, const char *fname,
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
    k = (int) (sizeof(infer_act_names) / sizeof(infer_act_names[0]));

    for (a = 0; s != NULL && a < k; a++) {
        if (strcmp(s, infer_act_names[a]) == 0) {
            l->act = (infer_act_e) a;
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
infer_config_keys(json_t *obj, const char **keys, const char *where,
    const char *fname, char *err, size_t errlen)
{
    int          i;
    json_t      *v;
    const char  *key;

    json_object_foreach(obj, key, v) {
        for (i = 0; keys[i] != NULL; i++) {
            if (strcmp(key, keys[i]) == 0) {
                break;
            }
        }

        if (keys[i] == NULL) {
            return infer_error(err, errlen, "%s: %s: unknown key \"%.64s\"",
                               fname, where, key);
        }
    }

    return 0;
}


/* a copy of obj[key], or of dflt when the key is absent; NULL on error */
static char *
infer_config_string(json_t *obj, const char *key, const char *dflt,
    const char *where, const char *fname, char *err, size_t errlen)
{
    char        *p;
    json_t      *v;
    const char  *s;

    v = json_object_get(obj, key);
    s = (v == NULL) ? dflt : json_string_value(v);

    if (s == NULL || *s == '\0') {
        infer_error(err, errlen, "%s: %s.%s is not a non-empty string",
                    fname, where, key);
        return NULL;
    }

    p = strdup(s);
    if (p == NULL) {
        infer_error(err, errlen, "%s: out of memory", fname);
    }

    return p;
}


static int
infer_model_resolve(infer_model_t *m, const char *cfg, const char *stf,
    char *err, size_t errlen)
{
    int                    i;
    char                   shape[128], ishape[128];
    int64_t                in, out;
    infer_layer_t         *l;
    const infer_tensor_t  *t;

    m->max_width = m->input_size;
    in = m->input_size;

    for (i = 0; i < m->nlayers; i++) {
        l = &m->layers[i];

        t = infer_safetensors_find(&m->st, l->wname);
        if (t == NULL) {
            return infer_error(err, errlen, "%s: layers[%d].weight: tensor "
                               "\"%.128s\" is not in %s", cfg, i, l->wname,
                               stf);
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
                infer_shape_str(ishape, sizeof(ishape), m->input_shape,
                                m->input_ndim);
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
        l->wt = t;
        l->in = (int) in;
        l->out = (int) out;

        if (l->bname != NULL) {
            t = infer_safetensors_find(&m->st, l->bname);
            if (t == NULL) {
                return infer_error(err, errlen, "%s: layers[%d].bias: tensor "
                                   "\"%.128s\" is not in %s", cfg, i,
                                   l->bname, stf);
            }

            if (t->ndim != 1 || t->shape[0] != out) {
                infer_shape_str(shape, sizeof(shape), t->shape, t->ndim);
                return infer_error(err, errlen, "%s: layers[%d].bias is %s: "
                                   "expected [%lld], the outputs of "
                                   "layers[%d].weight", cfg, i, shape,
                                   (long long) out, i);
            }

            l->bt = t;
        }

        if (out > m->max_width) {
            m->max_width = out;
        }

        in = out;
    }

    m->output_size = in;

    return 0;
}


/*
 * Points w and b at the mapping where the tensor is F32 and aligned, and
 * converts everything else into one block, m->owned.
 */
static int
infer_model_convert(infer_model_t *m, char *err, size_t errlen)
{
    int                    i, j;
    float                 *p;
    size_t                 total;
    infer_layer_t         *l;
    const infer_tensor_t  *t;

    total = 0;

    /* sizes are bounded by the file size: the sum cannot overflow */
    for (i = 0; i < m->nlayers; i++) {
        l = &m->layers[i];

        for (j = 0; j < 2; j++) {
            t = (j == 0) ? l->wt : l->bt;
            if (t != NULL && !infer_tensor_usable(t)) {
                total += (size_t) t->nelts;
            }
        }
    }

    if (total) {
        m->owned = malloc(total * sizeof(float));
        if (m->owned == NULL) {
            return infer_error(err, errlen, "%s: out of memory for %zu "
                               "converted weights", m->dir, total);
        }
    }

    p = m->owned;

    for (i = 0; i < m->nlayers; i++) {
        l = &m->layers[i];

        if (infer_tensor_usable(l->wt)) {
            l->w = l->wt->data;

        } else {
            infer_tensor_to_f32(p, l->wt);
            l->w = p;
            p += l->wt->nelts;
        }

        if (l->bt == NULL) {
            l->b = NULL;

        } else if (infer_tensor_usable(l->bt)) {
            l->b = l->bt->data;

        } else {
            infer_tensor_to_f32(p, l->bt);
            l->b = p;
            p += l->bt->nelts;
        }
    }

    return 0;
}


static int
infer_tensor_usable(const infer_tensor_t *t)
{
    return t->dtype == INFER_DT_F32 && ((uintptr_t) t->data & 3) == 0;
}


/* element by element: the source may be unaligned */
static void
infer_tensor_to_f32(float *dst, const infer_tensor_t *t)
{
    int64_t               i;
    uint16_t              h;
    const unsigned char  *s;

    s = t->data;

    for (i = 0; i < t->nelts; i++) {
        switch (t->dtype) {
        case INFER_DT_F32:
            memcpy(&dst[i], s + 4 * i, 4);
            break;
        case INFER_DT_F16:
            h = (uint16_t) (s[2 * i] | (s[2 * i + 1] << 8));
            dst[i] = infer_f16_to_f32(h);
            break;
        case INFER_DT_BF16:
            h = (uint16_t) (s[2 * i] | (s[2 * i + 1] << 8));
            dst[i] = infer_bf16_to_f32(h);
            break;
        }
    }
}


void
infer_model_forward_ref(const infer_model_t *m, const float *in, int rows,
    float *out)
{
    int                   r, i, o, k, n;
    double               *buf, *x, *y, *t, acc, max, sum;
    const float          *w;
    const infer_layer_t  *l;

    buf = malloc(2 * (size_t) m->max_width * sizeof(double));

    if (buf == NULL) {
        /* a test helper: NaN output makes the failure visible */
        for (i = 0; i < rows * m->output_size; i++) {
            out[i] = NAN;
        }
        return;
    }

    for (r = 0; r < rows; r++) {
        x = buf;
        y = buf + m->max_width;

        for (i = 0; i < m->input_size; i++) {
            x[i] = in[(size_t) r * m->input_size + i];
        }

        for (k = 0; k < m->nlayers; k++) {
            l = &m->layers[k];

            for (o = 0; o < l->out; o++) {
                w = l->w + (size_t) o * l->in;
                acc = l->b ? l->b[o] : 0.0;

                for (i = 0; i < l->in; i++) {
                    acc += (double) w[i] * x[i];
                }

                switch (l->act) {
                case INFER_ACT_RELU:
                    acc = acc < 0.0 ? 0.0 : acc;
                    break;
                case INFER_ACT_GELU:
                    acc = 0.5 * acc * erfc(-acc / sqrt(2.0));
                    break;
                case INFER_ACT_TANH:
                    acc = tanh(acc);
                    break;
                case INFER_ACT_SIGMOID:
                    acc = 1.0 / (1.0 + exp(-acc));
                    break;
                case INFER_ACT_NONE:
                    break;
                }

                y[o] = acc;
            }

            t = x;
            x = y;
            y = t;
        }

        n = (int) m->output_size;

        if (m->output_softmax) {
            max = x[0];
            for (i = 1; i < n; i++) {
                max = x[i] > max ? x[i] : max;
            }

            sum = 0.0;
            for (i = 0; i < n; i++) {
                x[i] = exp(x[i] - max);
                sum += x[i];
            }

            for (i = 0; i < n; i++) {
                x[i] /= sum;
            }
        }

        for (i = 0; i < n; i++) {
            out[(size_t) r * n + i] = (float) x[i];
        }
    }

    free(buf);
}


const char *
infer_dtype_name(infer_dtype_e dt)
{
    switch (dt) {
    case INFER_DT_F32:
        return "F32";
    case INFER_DT_F16:
        return "F16";
    case INFER_DT_BF16:
        return "BF16";
    }

    return "unknown";
}








