/*
 * ngx_infer: model loading, whatever the architecture.
 *
 * config.json names the architecture ("architecture": "mlp"), or a
 * Hugging Face config.json its "model_type" ("bert", "llama"); its own
 * file reads the rest of config.json (configure) and finds and checks its
 * tensors in model.safetensors (resolve), registering each as a weight.
 * A GGUF file (llama.cpp's format) names its architecture in
 * general.architecture ("llama"); configure reads the rest of its
 * metadata and resolve its tensors.
 * What is common is here: reading the files, dispatching on the
 * architecture, the weights' F32 copies, freeing.
 */

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "infer_model.h"
#include "infer_math.h"


#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian and is used in place"
#endif


#define INFER_CONFIG_MAX   (16 * 1024 * 1024)


/* the architectures config.json may name ("architecture") */
static const infer_arch_t  *infer_archs[] = {
    &infer_arch_mlp,
    NULL
};


/* those a Hugging Face config.json names by its "model_type" */
static const infer_arch_t  *infer_hf_archs[] = {
    &infer_arch_bert,
    &infer_arch_llama,
    NULL
};


/* those a GGUF file names by its general.architecture */
static const infer_arch_t  *infer_gguf_archs[] = {
    &infer_arch_llama,
    NULL
};


static int infer_model_load_gguf(infer_model_t *m, const char *path,
    char *err, size_t errlen);
static int infer_model_convert(infer_model_t *m, char *err, size_t errlen);
static int infer_weight_usable(const infer_weight_t *w);
static void infer_weight_to_f32(float *dst, const infer_weight_t *w);


infer_model_t *
infer_model_load(const char *dir, char *err, size_t errlen)
{
    int             rc;
    char           *cfg, *stf, *json;
    size_t          len;
    struct stat     sb;
    infer_model_t  *m;

    json = NULL;
    cfg = NULL;
    stf = NULL;
    rc = -1;

    m = calloc(1, sizeof(infer_model_t));

    if (m != NULL && stat(dir, &sb) != 0) {
        infer_error(err, errlen, "%s: cannot open: %s (a model is a "
                    "directory of config.json and model.safetensors, or a "
                    "GGUF file)", dir, strerror(errno));
        goto done;
    }

    /* a file is a GGUF model (the parser refuses one that is not) */
    if (m != NULL && S_ISREG(sb.st_mode)) {
        rc = infer_model_load_gguf(m, dir, err, errlen);
        goto done;
    }

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

    if (m->arch->resolve(m, cfg, stf, err, errlen) != 0) {
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
    if (m == NULL) {
        return;
    }

    if (m->arch != NULL) {
        m->arch->free(m);
    }

    free(m->dir);
    free(m->input.name);
    free(m->output.name);
    free(m->weights);
    free(m->owned);

    infer_safetensors_close(&m->st);

    if (m->gguf != NULL) {
        infer_gguf_close(m->gguf);
        free(m->gguf);
    }

    free(m);
}


int
infer_model_quantized(const infer_model_t *m)
{
    int  i;

    for (i = 0; i < m->nweights; i++) {
        if (infer_dtype_quantized(m->weights[i].type)) {
            return 1;
        }
    }

    return 0;
}


/*
 * A GGUF file: the parser checks the whole file, general.architecture
 * picks the architecture, whose configure reads the metadata (root NULL)
 * and whose resolve finds the tensors.
 */
static int
infer_model_load_gguf(infer_model_t *m, const char *path, char *err,
    size_t errlen)
{
    int                   rc;
    char                  show[65];
    size_t                len, i;
    const char           *name;
    const infer_arch_t  **a;

    m->dir = strdup(path);
    m->gguf = calloc(1, sizeof(infer_gguf_t));

    if (m->dir == NULL || m->gguf == NULL) {
        return infer_error(err, errlen, "%s: out of memory", path);
    }

    if (infer_gguf_open(m->gguf, path, err, errlen) != 0) {
        return -1;
    }

    rc = infer_gguf_get_str(m->gguf, "general.architecture", &name, &len,
                            err, errlen);
    if (rc < 0) {
        return -1;
    }

    if (rc == INFER_GGUF_ABSENT) {
        return infer_error(err, errlen, "%s: key \"general.architecture\" "
                           "is missing (supported: llama)", path);
    }

    for (a = infer_gguf_archs; *a != NULL; a++) {
        if (strlen((*a)->name) == len
            && memcmp((*a)->name, name, len) == 0)
        {
            break;
        }
    }

    if (*a == NULL) {
        /* the file's bytes, not NUL-terminated: printable ones shown */
        for (i = 0; i < len && i < sizeof(show) - 1; i++) {
            show[i] = (name[i] >= 0x20 && name[i] < 0x7f) ? name[i] : '?';
        }

        show[i] = '\0';

        return infer_error(err, errlen, "%s: general.architecture \"%s\" "
                           "is not supported (supported: llama)", path,
                           show);
    }

    m->arch = *a;

    if (m->arch->configure(m, NULL, path, err, errlen) != 0
        || m->arch->resolve(m, path, path, err, errlen) != 0)
    {
        return -1;
    }

    return infer_model_convert(m, err, errlen);
}


int
infer_model_parse_config(infer_model_t *m, const char *json, size_t len,
    const char *fname, char *err, size_t errlen)
{
    int                   rc;
    json_t               *root, *arch, *hf;
    const char           *name;
    json_error_t          jerr;
    const infer_arch_t  **a;

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

    /* ours first ("architecture"), then Hugging Face's "model_type" */
    arch = json_object_get(root, "architecture");
    hf = (arch == NULL) ? json_object_get(root, "model_type") : NULL;

    if (hf != NULL) {
        name = json_string_value(hf);

        for (a = infer_hf_archs; name != NULL && *a != NULL; a++) {
            if (strcmp(name, (*a)->name) == 0) {
                break;
            }
        }

        if (name == NULL || *a == NULL) {
            infer_error(err, errlen, "%s: Hugging Face model_type \"%.64s\" "
                        "is not supported (supported: bert, llama)", fname,
                        name ? name : "?");
            goto done;
        }

        m->arch = *a;
        rc = m->arch->configure(m, root, fname, err, errlen);
        goto done;
    }

    if (!json_is_string(arch)) {
        infer_error(err, errlen, "%s: \"architecture\" is missing or not a "
                    "string (supported: mlp), and there is no Hugging Face "
                    "\"model_type\" (supported: bert, llama)", fname);
        goto done;
    }

    name = json_string_value(arch);

    for (a = infer_archs; *a != NULL; a++) {
        if (strcmp(name, (*a)->name) == 0) {
            break;
        }
    }

    if (*a == NULL) {
        infer_error(err, errlen, "%s: unknown architecture \"%.64s\" "
                    "(supported: mlp)", fname, name);
        goto done;
    }

    m->arch = *a;

    rc = m->arch->configure(m, root, fname, err, errlen);

done:

    json_decref(root);
    return rc;
}


int
infer_model_add_weight(infer_model_t *m, const infer_st_tensor_t *t,
    int64_t rows, int64_t cols)
{
    infer_weight_t  *w;

    w = realloc(m->weights, (size_t) (m->nweights + 1)
                            * sizeof(infer_weight_t));
    if (w == NULL) {
        return -1;
    }

    m->weights = w;
    w = &m->weights[m->nweights];

    w->name = t->name;
    w->type = t->dtype;
    w->rows = rows;
    w->cols = cols;
    w->data = t->data;
    w->nbytes = t->nbytes;
    w->f32 = NULL;

    return m->nweights++;
}


int
infer_model_add_gguf_weight(infer_model_t *m, const infer_gguf_tensor_t *t)
{
    infer_st_tensor_t  st;

    memset(&st, 0, sizeof(infer_st_tensor_t));
    st.name = (char *) t->name;
    st.dtype = t->dtype;
    st.data = t->data;
    st.nbytes = t->nbytes;

    /* ne past n_dims are 1: ne[0] is a row, the rest count rows */
    return infer_model_add_weight(m, &st, t->ne[1] * t->ne[2] * t->ne[3],
                                  t->ne[0]);
}


int
infer_model_float_tensor(const infer_st_tensor_t *t, const char *what,
    const char *cfg, char *err, size_t errlen)
{
    if (t->dtype == INFER_DT_F32 || t->dtype == INFER_DT_F16
        || t->dtype == INFER_DT_BF16)
    {
        return 0;
    }

    return infer_error(err, errlen, "%s: %s is %s: expected F32, F16 or "
                       "BF16", cfg, what, infer_dtype_name(t->dtype));
}


/*
 * Points each weight's f32 at the mapping where the tensor is F32 and
 * aligned, and converts F16, BF16 and unaligned F32 ones into one block,
 * m->owned.  Quantized weights stay as their blocks (f32 NULL).  This
 * runs once, in nginx's master, so that every worker shares the copies.
 */
static int
infer_model_convert(infer_model_t *m, char *err, size_t errlen)
{
    int              i;
    float           *p;
    size_t           total;
    infer_weight_t  *w;

    total = 0;

    /* sizes are bounded by the file size: the sum cannot overflow */
    for (i = 0; i < m->nweights; i++) {
        w = &m->weights[i];

        if (!infer_weight_usable(w) && !infer_dtype_quantized(w->type)) {
            total += (size_t) (w->rows * w->cols);
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

    for (i = 0; i < m->nweights; i++) {
        w = &m->weights[i];

        if (infer_weight_usable(w)) {
            w->f32 = w->data;

        } else if (infer_dtype_quantized(w->type)) {
            w->f32 = NULL;

        } else {
            infer_weight_to_f32(p, w);
            w->f32 = p;
            p += w->rows * w->cols;
        }
    }

    return 0;
}


static int
infer_weight_usable(const infer_weight_t *w)
{
    return w->type == INFER_DT_F32 && ((uintptr_t) w->data & 3) == 0;
}


/* element by element: the source may be unaligned */
static void
infer_weight_to_f32(float *dst, const infer_weight_t *w)
{
    int64_t               i;
    uint16_t              h;
    const unsigned char  *s;

    s = w->data;

    for (i = 0; i < w->rows * w->cols; i++) {
        switch (w->type) {
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
        default:
            /* the architectures register float weights only */
            dst[i] = 0.0f;
            break;
        }
    }
}


int
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
char *
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



/* weight w as a leaf: a matrix (a product's or a table) in its stored
 * type */
infer_tensor_t *
infer_model_matrix(infer_graph_t *g, const infer_model_t *m, int w)
{
    const infer_weight_t  *wt;

    wt = &m->weights[w];

    return infer_op_weight(g, w, wt->type, wt->rows, wt->cols, wt->name);
}


/* weight w as a vector (a bias, a norm's weight) in its F32 form, which
 * is what those ops read (infer_ops.h) */
infer_tensor_t *
infer_model_vector(infer_graph_t *g, const infer_model_t *m, int w)
{
    const infer_weight_t  *wt;

    wt = &m->weights[w];

    return infer_op_weight(g, w, INFER_DT_F32, 1, wt->cols, wt->name);
}


/*
 * A text model's input and output as the APIs see them: texts, any number
 * of them, which the server tokenizes into sequences of token ids (what
 * build() reads, batch->tokens, one token per row of the payload); one
 * FP32 row of size values per text out, named output
 */
int
infer_model_text_io(infer_model_t *m, const char *output, int64_t size,
    const char *fname, char *err, size_t errlen)
{
    m->input.name = strdup("text");
    m->output.name = strdup(output);

    if (m->input.name == NULL || m->output.name == NULL) {
        return infer_error(err, errlen, "%s: out of memory", fname);
    }

    m->input.datatype = INFER_IO_BYTES;
    m->input.ndim = 1;
    m->input.dims[0] = -1;
    m->input.size = 1;

    m->output.datatype = INFER_IO_FP32;
    m->output.ndim = 2;
    m->output.dims[0] = -1;
    m->output.dims[1] = size;
    m->output.size = size;

    return 0;
}
