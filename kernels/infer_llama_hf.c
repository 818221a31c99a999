/*
 * ngx_infer: the "llama" architecture from a Hugging Face directory:
 * config.json with "model_type": "llama" (LlamaConfig as transformers
 * saves it) and model.safetensors (LlamaForCausalLM's tensors in F32,
 * F16 or BF16).  infer_llama.c's configure and resolve pass a model that
 * is not a GGUF file on to here; the forward pass is infer_llama.c's.
 *
 * config.json:
 *
 *     hidden_size, intermediate_size, num_hidden_layers,
 *     num_attention_heads, vocab_size, max_position_embeddings,
 *     rms_norm_eps (all required: transformers writes them all),
 *     num_key_value_heads (default: num_attention_heads), head_dim
 *     (default: hidden_size / num_attention_heads), rope_theta (default
 *     10000), tie_word_embeddings (default false, as LlamaConfig's);
 *     refused: rope_scaling other than null, hidden_act other than
 *     silu, attention_bias or mlp_bias true
 *
 * model.safetensors (nn.Linear's [out, in]: a row per output, which is
 * the op layer's layout of a product's weight, as it is stored):
 *
 *     model.embed_tokens.weight                      [vocab, hidden]
 *     model.layers.N.input_layernorm.weight          [hidden]
 *     model.layers.N.self_attn.q_proj.weight         [heads x hd, hidden]
 *     model.layers.N.self_attn.k_proj.weight,
 *                            v_proj.weight           [kv x hd, hidden]
 *     model.layers.N.self_attn.o_proj.weight         [hidden, heads x hd]
 *     model.layers.N.post_attention_layernorm.weight [hidden]
 *     model.layers.N.mlp.gate_proj.weight,
 *                        up_proj.weight              [ffn, hidden]
 *     model.layers.N.mlp.down_proj.weight            [hidden, ffn]
 *     model.norm.weight                              [hidden]
 *     lm_head.weight                                 [vocab, hidden], not
 *                                                    read when tied
 *
 * Q and K are as trained: their rows pair dimension i with i + hd/2
 * (rotate_half), where llama.cpp's converter permutes them for GGUF's
 * pairing of 2i with 2i + 1.  So the rotation is INFER_ROPE_NEOX here
 * (hp->rope), and the logits are the GGUF file's of the same weights.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "infer_model.h"
#include "infer_llama.h"


/* a dimension of a tensor, by where config.json says it */
typedef enum {
    INFER_LLAMA_HF_VEC = 0,        /* the rows of a vector: none */
    INFER_LLAMA_HF_HIDDEN,
    INFER_LLAMA_HF_Q,
    INFER_LLAMA_HF_KV,
    INFER_LLAMA_HF_FFN,
    INFER_LLAMA_HF_VOCAB
} infer_llama_hf_dim_e;


typedef struct {
    const char            *name;
    infer_llama_hf_dim_e   rows;
    infer_llama_hf_dim_e   cols;
} infer_llama_hf_tensor_t;


/* by INFER_LLAMA_* of a layer: model.layers.N.<name>.weight */
static const infer_llama_hf_tensor_t  infer_llama_hf_layer[] = {
    { "input_layernorm", INFER_LLAMA_HF_VEC, INFER_LLAMA_HF_HIDDEN },
    { "self_attn.q_proj", INFER_LLAMA_HF_Q, INFER_LLAMA_HF_HIDDEN },
    { "self_attn.k_proj", INFER_LLAMA_HF_KV, INFER_LLAMA_HF_HIDDEN },
    { "self_attn.v_proj", INFER_LLAMA_HF_KV, INFER_LLAMA_HF_HIDDEN },
    { "self_attn.o_proj", INFER_LLAMA_HF_HIDDEN, INFER_LLAMA_HF_Q },
    { "post_attention_layernorm", INFER_LLAMA_HF_VEC,
      INFER_LLAMA_HF_HIDDEN },
    { "mlp.gate_proj", INFER_LLAMA_HF_FFN, INFER_LLAMA_HF_HIDDEN },
    { "mlp.up_proj", INFER_LLAMA_HF_FFN, INFER_LLAMA_HF_HIDDEN },
    { "mlp.down_proj", INFER_LLAMA_HF_HIDDEN, INFER_LLAMA_HF_FFN },
};


static const infer_llama_hf_tensor_t  infer_llama_hf_embd = {
    "model.embed_tokens.weight", INFER_LLAMA_HF_VOCAB, INFER_LLAMA_HF_HIDDEN
};

static const infer_llama_hf_tensor_t  infer_llama_hf_norm = {
    "model.norm.weight", INFER_LLAMA_HF_VEC, INFER_LLAMA_HF_HIDDEN
};

static const infer_llama_hf_tensor_t  infer_llama_hf_head = {
    "lm_head.weight", INFER_LLAMA_HF_VOCAB, INFER_LLAMA_HF_HIDDEN
};


/* where each dimension comes from, for messages */
static const char  *infer_llama_hf_dim_keys[] = {
    "", "hidden_size", "num_attention_heads x head_dim",
    "num_key_value_heads x head_dim", "intermediate_size", "vocab_size"
};


static int infer_llama_hf_int(json_t *root, const char *key, int dflt,
    int max, int *v, const char *fname, char *err, size_t errlen);
static int infer_llama_hf_bool(json_t *root, const char *key, int *v,
    const char *fname, char *err, size_t errlen);
static int infer_llama_hf_refuse(json_t *root, const char *fname, char *err,
    size_t errlen);
static int infer_llama_hf_weight(infer_model_t *m, const char *name,
    const infer_llama_hf_tensor_t *d, int optional, const char *cfg,
    const char *stf, char *err, size_t errlen);
static int64_t infer_llama_hf_dim(const infer_llama_t *hp,
    infer_llama_hf_dim_e d);


int
infer_llama_hf_configure(infer_model_t *m, json_t *root, const char *fname,
    char *err, size_t errlen)
{
    int             hd;
    json_t         *v;
    infer_llama_t  *hp;

    hp = calloc(1, sizeof(infer_llama_t));
    if (hp == NULL) {
        return infer_error(err, errlen, "%s: out of memory", fname);
    }

    m->arch_data = hp;
    hp->rope = INFER_ROPE_NEOX;
    hp->vocab_from = "vocab_size";

    if (infer_llama_hf_int(root, "num_hidden_layers", 0,
                           INFER_LLAMA_MAX_LAYERS, &hp->layers, fname, err,
                           errlen) != 0
        || infer_llama_hf_int(root, "hidden_size", 0, 1 << 16, &hp->hidden,
                              fname, err, errlen) != 0
        || infer_llama_hf_int(root, "intermediate_size", 0, 1 << 18,
                              &hp->ffn, fname, err, errlen) != 0
        || infer_llama_hf_int(root, "num_attention_heads", 0, 1 << 10,
                              &hp->heads, fname, err, errlen) != 0
        || infer_llama_hf_int(root, "num_key_value_heads", hp->heads,
                              hp->heads, &hp->kv_heads, fname, err, errlen)
           != 0
        || infer_llama_hf_int(root, "vocab_size", 0, INFER_LLAMA_MAX_VOCAB,
                              &hp->vocab, fname, err, errlen) != 0
        || infer_llama_hf_int(root, "max_position_embeddings", 0, 1 << 24,
                              &hp->ctx, fname, err, errlen) != 0
        || infer_llama_hf_bool(root, "tie_word_embeddings", &hp->tied,
                               fname, err, errlen) != 0
        || infer_llama_hf_refuse(root, fname, err, errlen) != 0)
    {
        return -1;
    }

    if (hp->heads % hp->kv_heads != 0) {
        return infer_error(err, errlen, "%s: num_attention_heads %d is not "
                           "a multiple of num_key_value_heads %d", fname,
                           hp->heads, hp->kv_heads);
    }

    /* head_dim may differ from hidden_size / num_attention_heads: Q's
     * rows and o_proj's columns are heads x head_dim */
    hd = 0;
    v = json_object_get(root, "head_dim");

    if (v == NULL || json_is_null(v)) {
        if (hp->hidden % hp->heads != 0) {
            return infer_error(err, errlen, "%s: hidden_size %d is not a "
                               "multiple of num_attention_heads %d (and "
                               "there is no head_dim)", fname, hp->hidden,
                               hp->heads);
        }

        hd = hp->hidden / hp->heads;

    } else if (infer_llama_hf_int(root, "head_dim", 0, 1 << 12, &hd, fname,
                                  err, errlen) != 0)
    {
        return -1;
    }

    if (hd & 1) {
        return infer_error(err, errlen, "%s: the head dimension %d is odd: "
                           "the rotation turns pairs", fname, hd);
    }

    hp->head_dim = hd;
    hp->n_rot = hd;

    v = json_object_get(root, "rms_norm_eps");

    if (v == NULL) {
        return infer_error(err, errlen, "%s: key \"rms_norm_eps\" is "
                           "missing", fname);
    }

    /* above 0 as a float too: the norms compute in float */
    if (!json_is_number(v) || !((float) json_number_value(v) > 0.0f)
        || !(json_number_value(v) < 1.0))
    {
        return infer_error(err, errlen, "%s: key \"rms_norm_eps\" is not a "
                           "number above 0 and below 1", fname);
    }

    hp->eps = (float) json_number_value(v);

    v = json_object_get(root, "rope_theta");
    hp->theta = 10000.0f;

    if (v != NULL) {
        if (!json_is_number(v) || !((float) json_number_value(v) > 0.0f)
            || !(json_number_value(v) < 1e12))
        {
            return infer_error(err, errlen, "%s: key \"rope_theta\" is not "
                               "a number above 0 and below 1e12", fname);
        }

        hp->theta = (float) json_number_value(v);
    }

    /* texts in, the logits of each sequence's last token out */
    return infer_model_text_io(m, "logits", hp->vocab, fname, err, errlen);
}


/*
 * root[key], an integer in [1, max]: dflt when it is absent or null
 * (0: it is required).  0, or -1 with err set.
 */
static int
infer_llama_hf_int(json_t *root, const char *key, int dflt, int max, int *v,
    const char *fname, char *err, size_t errlen)
{
    json_t      *j;
    json_int_t   n;

    j = json_object_get(root, key);

    if (j == NULL || (json_is_null(j) && dflt > 0)) {
        if (dflt > 0) {
            *v = dflt;
            return 0;
        }

        return infer_error(err, errlen, "%s: key \"%s\" is missing", fname,
                           key);
    }

    if (!json_is_integer(j)) {
        return infer_error(err, errlen, "%s: key \"%s\" is not an integer "
                           "(expected 1 to %d)", fname, key, max);
    }

    n = json_integer_value(j);

    if (n < 1 || n > max) {
        return infer_error(err, errlen, "%s: key \"%s\" is %lld: expected 1 "
                           "to %d", fname, key, (long long) n, max);
    }

    *v = (int) n;

    return 0;
}


/* root[key], a boolean: absent is false */
static int
infer_llama_hf_bool(json_t *root, const char *key, int *v, const char *fname,
    char *err, size_t errlen)
{
    json_t  *j;

    j = json_object_get(root, key);

    if (j != NULL && !json_is_boolean(j)) {
        return infer_error(err, errlen, "%s: key \"%s\" is not a boolean",
                           fname, key);
    }

    *v = json_is_true(j);

    return 0;
}


/*
 * What a LlamaConfig may say that this version does not compute: RoPE
 * scaling (linear, dynamic, YaRN, Llama 3.1's "llama3"), an activation
 * other than SiLU, biases in the attention or the MLP.
 */
static int
infer_llama_hf_refuse(json_t *root, const char *fname, char *err,
    size_t errlen)
{
    int          i, b;
    json_t      *v;
    const char  *s;

    static const char  *biases[] = { "attention_bias", "mlp_bias" };

    v = json_object_get(root, "rope_scaling");

    if (v != NULL && !json_is_null(v)) {
        s = json_string_value(json_object_get(v, "rope_type"));
        if (s == NULL) {
            s = json_string_value(json_object_get(v, "type"));
        }

        return infer_error(err, errlen, "%s: key \"rope_scaling\" is not "
                           "null (rope_type \"%.32s\"): RoPE scaling is not "
                           "supported", fname, s ? s : "?");
    }

    v = json_object_get(root, "hidden_act");
    s = (v == NULL) ? "silu" : json_string_value(v);

    if (s == NULL || strcmp(s, "silu") != 0) {
        return infer_error(err, errlen, "%s: key \"hidden_act\" is "
                           "\"%.32s\": only \"silu\" is supported", fname,
                           s ? s : "?");
    }

    for (i = 0; i < 2; i++) {
        if (infer_llama_hf_bool(root, biases[i], &b, fname, err, errlen)
            != 0)
        {
            return -1;
        }

        if (b) {
            return infer_error(err, errlen, "%s: key \"%s\" is true: biases "
                               "are not supported", fname, biases[i]);
        }
    }

    return 0;
}


int
infer_llama_hf_resolve(infer_model_t *m, const char *cfg, const char *stf,
    char *err, size_t errlen)
{
    int             i, k;
    char            name[128];
    infer_llama_t  *hp;

    hp = m->arch_data;

    hp->layer = calloc((size_t) hp->layers, sizeof(infer_llama_layer_t));
    if (hp->layer == NULL) {
        return infer_error(err, errlen, "%s: out of memory", stf);
    }

    hp->tok_embd = infer_llama_hf_weight(m, infer_llama_hf_embd.name,
                                         &infer_llama_hf_embd, 0, cfg, stf,
                                         err, errlen);
    if (hp->tok_embd < 0) {
        return -1;
    }

    for (i = 0; i < hp->layers; i++) {
        for (k = 0; k < INFER_LLAMA_LAYER_WEIGHTS; k++) {
            snprintf(name, sizeof(name), "model.layers.%d.%s.weight", i,
                     infer_llama_hf_layer[k].name);

            hp->layer[i].w[k] = infer_llama_hf_weight(m, name,
                                    &infer_llama_hf_layer[k], 0, cfg, stf,
                                    err, errlen);
            if (hp->layer[i].w[k] < 0) {
                return -1;
            }
        }
    }

    hp->out_norm = infer_llama_hf_weight(m, infer_llama_hf_norm.name,
                                         &infer_llama_hf_norm, 0, cfg, stf,
                                         err, errlen);
    if (hp->out_norm < 0) {
        return -1;
    }

    /* tied, transformers does not read lm_head.weight (it may be there) */
    if (hp->tied) {
        hp->output = hp->tok_embd;
        return 0;
    }

    hp->output = infer_llama_hf_weight(m, infer_llama_hf_head.name,
                                       &infer_llama_hf_head, 1, cfg, stf,
                                       err, errlen);
    if (hp->output == -2) {
        return infer_error(err, errlen, "%s: tensor \"%s\" is missing (%s "
                           "does not say tie_word_embeddings)", stf,
                           infer_llama_hf_head.name, cfg);
    }

    return (hp->output < 0) ? -1 : 0;
}


/*
 * Finds the tensor name, checks its type (F32, F16, BF16) and its shape
 * against config.json, registers it.  Returns its weight index, -1 with
 * err set, or with optional -2 when the tensor is not there.
 */
static int
infer_llama_hf_weight(infer_model_t *m, const char *name,
    const infer_llama_hf_tensor_t *d, int optional, const char *cfg,
    const char *stf, char *err, size_t errlen)
{
    int                       w, vec;
    char                      shape[128], want[128], what[160];
    int64_t                   rows, cols, dims[2];
    const infer_llama_t      *hp;
    const infer_st_tensor_t  *t;

    hp = m->arch_data;

    t = infer_safetensors_find(&m->st, name);
    if (t == NULL) {
        if (optional) {
            return -2;
        }

        return infer_error(err, errlen, "%s: tensor \"%s\" is missing", stf,
                           name);
    }

    vec = (d->rows == INFER_LLAMA_HF_VEC);
    rows = vec ? 1 : infer_llama_hf_dim(hp, d->rows);
    cols = infer_llama_hf_dim(hp, d->cols);

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
                               want, infer_llama_hf_dim_keys[d->cols], cfg);
        }

        return infer_error(err, errlen, "%s: tensor \"%s\" is %s: expected "
                           "%s (%s, %s in %s)", stf, name, shape, want,
                           infer_llama_hf_dim_keys[d->rows],
                           infer_llama_hf_dim_keys[d->cols], cfg);
    }

    snprintf(what, sizeof(what), "tensor \"%s\"", name);

    if (infer_model_float_tensor(t, what, stf, err, errlen) != 0) {
        return -1;
    }

    w = infer_model_add_weight(m, t, rows, cols);
    if (w < 0) {
        return infer_error(err, errlen, "%s: out of memory", stf);
    }

    return w;
}


static int64_t
infer_llama_hf_dim(const infer_llama_t *hp, infer_llama_hf_dim_e d)
{
    switch (d) {
    case INFER_LLAMA_HF_HIDDEN:
        return hp->hidden;
    case INFER_LLAMA_HF_Q:
        return (int64_t) hp->heads * hp->head_dim;
    case INFER_LLAMA_HF_KV:
        return (int64_t) hp->kv_heads * hp->head_dim;
    case INFER_LLAMA_HF_FFN:
        return hp->ffn;
    case INFER_LLAMA_HF_VOCAB:
        return hp->vocab;
    default:
        return 1;
    }
}
