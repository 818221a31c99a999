/*
 * ngx_infer: the "llama" architecture, a Llama-family decoder (Llama 2
 * and 3 without RoPE scaling, SmolLM2, TinyLlama, ...), loaded from a
 * GGUF file as llama.cpp's converter writes it (a Hugging Face directory
 * is infer_llama_hf.c's: configure and resolve pass it on), built on the
 * op layer.
 *
 * What the file holds (ggml's order: ne[0] is the length of a row, so a
 * product's weight is [in, out] and one row per output):
 *
 *     llama.block_count, embedding_length, feed_forward_length,
 *     attention.head_count, attention.head_count_kv (default: no GQA),
 *     rope.dimension_count (default: the head dimension), rope.freq_base
 *     (default 10000), attention.layer_norm_rms_epsilon, context_length;
 *     the vocabulary's size from tokenizer.ggml.tokens, else
 *     llama.vocab_size, else token_embd.weight
 *
 *     token_embd.weight                     [hidden, vocab]
 *     blk.N.attn_norm.weight                [hidden]
 *     blk.N.attn_q.weight                   [hidden, hidden]
 *     blk.N.attn_k.weight, attn_v.weight    [hidden, kv_heads x head_dim]
 *     blk.N.attn_output.weight              [hidden, hidden]
 *     blk.N.ffn_norm.weight                 [hidden]
 *     blk.N.ffn_gate.weight, ffn_up.weight  [hidden, ffn]
 *     blk.N.ffn_down.weight                 [ffn, hidden]
 *     output_norm.weight                    [hidden]
 *     output.weight                         [hidden, vocab], or absent:
 *                                           tied to token_embd
 *
 * The matrices stay in their stored type, quantized ones as their blocks
 * (the CPU computes on them as they lie in the mapping); the norms'
 * vectors are F32 (F16 and BF16 ones are converted at load).
 *
 * Rotary embeddings: llama.cpp's converter permutes the rows of Q and K
 * within each head so that Hugging Face's pairing of dimension i with
 * i + head_dim/2 (rotate_half) becomes the pairing of 2i with 2i + 1:
 * the GGUF weights are rotated with INFER_ROPE_NORM, at the file's theta
 * and dimension count.  The attention scores are the same either way
 * (Q and K are permuted alike), and so is everything after them.  A
 * Hugging Face directory's weights are as trained, rotated with
 * INFER_ROPE_NEOX: build() takes the pairing from hp->rope.
 *
 * The forward pass runs over all the tokens of the batch as one matrix;
 * attention (causal, grouped-query) looks at each sequence's own tokens.
 * Only the last token of each sequence gives logits: after the last
 * layer's attention, the rows of the other tokens are dropped (pooling
 * LAST), so that its output projection, its feed-forward and the
 * vocabulary-wide head run on one row per sequence.
 *
 * With a KV cache (the batch's block tables, infer_gen.h), each layer
 * stores the batch's keys and values in the cache and attends over the
 * cache: a sequence continues where it stopped (a chunk of its prompt, a
 * decoding step).  Without one, a batch is whole prompts: each sequence
 * starts at position 0 (build() refuses one that continues).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "infer_model.h"
#include "infer_llama.h"


/* a dimension of a tensor, by where it comes from */
typedef enum {
    INFER_LLAMA_D_ONE = 0,         /* ne[1] of a vector */
    INFER_LLAMA_D_HIDDEN,
    INFER_LLAMA_D_FFN,
    INFER_LLAMA_D_KV,
    INFER_LLAMA_D_VOCAB
} infer_llama_dim_e;


typedef struct {
    const char           *name;
    infer_llama_dim_e     ne0;
    infer_llama_dim_e     ne1;
} infer_llama_tensor_t;


/* by INFER_LLAMA_* of a layer: blk.N.<name>.weight */
static const infer_llama_tensor_t  infer_llama_layer_tensors[] = {
    { "attn_norm", INFER_LLAMA_D_HIDDEN, INFER_LLAMA_D_ONE },
    { "attn_q", INFER_LLAMA_D_HIDDEN, INFER_LLAMA_D_HIDDEN },
    { "attn_k", INFER_LLAMA_D_HIDDEN, INFER_LLAMA_D_KV },
    { "attn_v", INFER_LLAMA_D_HIDDEN, INFER_LLAMA_D_KV },
    { "attn_output", INFER_LLAMA_D_HIDDEN, INFER_LLAMA_D_HIDDEN },
    { "ffn_norm", INFER_LLAMA_D_HIDDEN, INFER_LLAMA_D_ONE },
    { "ffn_gate", INFER_LLAMA_D_HIDDEN, INFER_LLAMA_D_FFN },
    { "ffn_up", INFER_LLAMA_D_HIDDEN, INFER_LLAMA_D_FFN },
    { "ffn_down", INFER_LLAMA_D_FFN, INFER_LLAMA_D_HIDDEN },
};


static const infer_llama_tensor_t  infer_llama_embd = {
    "token_embd.weight", INFER_LLAMA_D_HIDDEN, INFER_LLAMA_D_VOCAB
};

static const infer_llama_tensor_t  infer_llama_out_norm = {
    "output_norm.weight", INFER_LLAMA_D_HIDDEN, INFER_LLAMA_D_ONE
};

static const infer_llama_tensor_t  infer_llama_output = {
    "output.weight", INFER_LLAMA_D_HIDDEN, INFER_LLAMA_D_VOCAB
};


static int infer_llama_configure(infer_model_t *m, json_t *root,
    const char *fname, char *err, size_t errlen);
static int infer_llama_uint(const infer_gguf_t *g, const char *key,
    int dflt, int max, int *v, const char *path, char *err, size_t errlen);
static int infer_llama_float(const infer_gguf_t *g, const char *key,
    float dflt, float max, float *v, const char *path, char *err,
    size_t errlen);
static int infer_llama_refuse(const infer_llama_t *hp,
    const infer_gguf_t *g, const char *path, char *err, size_t errlen);
static int infer_llama_vocab(infer_llama_t *hp, const infer_gguf_t *g,
    const char *path, char *err, size_t errlen);
static int infer_llama_resolve(infer_model_t *m, const char *cfg,
    const char *stf, char *err, size_t errlen);
static int infer_llama_weight(infer_model_t *m, const char *name,
    const infer_llama_tensor_t *d, int optional, const char *path,
    char *err, size_t errlen);
static int64_t infer_llama_dim(const infer_llama_t *hp,
    infer_llama_dim_e d);
static const char *infer_llama_dim_name(const infer_llama_t *hp,
    infer_llama_dim_e d);
static void infer_llama_build(infer_graph_t *g, const infer_model_t *m,
    const infer_batch_t *batch);
static infer_tensor_t *infer_llama_matmul(infer_graph_t *g,
    infer_tensor_t *x, infer_tensor_t *w, infer_tensor_t *b);
static int infer_llama_max_nodes(const infer_model_t *m);
static int infer_llama_kv_shape(const infer_model_t *m,
    infer_kv_shape_t *kv);
static void infer_llama_free(infer_model_t *m);


const infer_arch_t  infer_arch_llama = {
    /* .name      = */ "llama",
    /* .configure = */ infer_llama_configure,
    /* .resolve   = */ infer_llama_resolve,
    /* .build     = */ infer_llama_build,
    /* .max_nodes = */ infer_llama_max_nodes,
    /* .kv_shape  = */ infer_llama_kv_shape,
    /* .free      = */ infer_llama_free,
};


static int
infer_llama_configure(infer_model_t *m, json_t *root, const char *fname,
    char *err, size_t errlen)
{
    infer_llama_t       *hp;
    const infer_gguf_t  *g;

    if (root != NULL) {
        /* config.json's "model_type": "llama" */
        return infer_llama_hf_configure(m, root, fname, err, errlen);
    }

    if (m->gguf == NULL) {
        return infer_error(err, errlen, "%s: neither a GGUF file nor a "
                           "config.json", fname);
    }

    g = m->gguf;

    hp = calloc(1, sizeof(infer_llama_t));
    if (hp == NULL) {
        return infer_error(err, errlen, "%s: out of memory", fname);
    }

    m->arch_data = hp;
    hp->rope = INFER_ROPE_NORM;

    /* llama.cpp's llm_load_hparams(): the sizes have no default */
    if (infer_llama_uint(g, "llama.block_count", 0, INFER_LLAMA_MAX_LAYERS,
                         &hp->layers, fname, err, errlen) != 0
        || infer_llama_uint(g, "llama.embedding_length", 0, 1 << 16,
                            &hp->hidden, fname, err, errlen) != 0
        || infer_llama_uint(g, "llama.feed_forward_length", 0, 1 << 18,
                            &hp->ffn, fname, err, errlen) != 0
        || infer_llama_uint(g, "llama.attention.head_count", 0, 1 << 10,
                            &hp->heads, fname, err, errlen) != 0
        || infer_llama_uint(g, "llama.attention.head_count_kv", hp->heads,
                            hp->heads, &hp->kv_heads, fname, err, errlen)
           != 0
        || infer_llama_uint(g, "llama.context_length", 0, 1 << 24, &hp->ctx,
                            fname, err, errlen) != 0
        || infer_llama_float(g, "llama.rope.freq_base", 10000.0f, 1e12f,
                             &hp->theta, fname, err, errlen) != 0
        || infer_llama_float(g, "llama.attention.layer_norm_rms_epsilon",
                             0.0f, 1.0f, &hp->eps, fname, err, errlen) != 0)
    {
        return -1;
    }

    if (hp->hidden % hp->heads != 0) {
        return infer_error(err, errlen, "%s: llama.embedding_length %d is "
                           "not a multiple of llama.attention.head_count %d",
                           fname, hp->hidden, hp->heads);
    }

    if (hp->heads % hp->kv_heads != 0) {
        return infer_error(err, errlen, "%s: llama.attention.head_count %d "
                           "is not a multiple of "
                           "llama.attention.head_count_kv %d", fname,
                           hp->heads, hp->kv_heads);
    }

    hp->head_dim = hp->hidden / hp->heads;

    if (infer_llama_uint(g, "llama.rope.dimension_count", hp->head_dim,
                         hp->head_dim, &hp->n_rot, fname, err, errlen) != 0)
    {
        return -1;
    }

    if (hp->n_rot & 1) {
        return infer_error(err, errlen, "%s: llama.rope.dimension_count %d "
                           "is odd: the rotation turns pairs", fname,
                           hp->n_rot);
    }

    if (infer_llama_refuse(hp, g, fname, err, errlen) != 0
        || infer_llama_vocab(hp, g, fname, err, errlen) != 0)
    {
        return -1;
    }

    /* texts in, the logits of each sequence's last token out */
    return infer_model_text_io(m, "logits", hp->vocab, fname, err, errlen);
}


/*
 * key, an integer in [1, max]: dflt when it is absent (0: it is
 * required; -1: it is optional, and INFER_GGUF_ABSENT leaves *v as it
 * was).  Returns 0, INFER_GGUF_ABSENT or -1 with err set.
 */
static int
infer_llama_uint(const infer_gguf_t *g, const char *key, int dflt, int max,
    int *v, const char *path, char *err, size_t errlen)
{
    int       rc;
    uint32_t  u;

    rc = infer_gguf_get_u32(g, key, &u, err, errlen);

    if (rc < 0) {
        return -1;
    }

    if (rc == INFER_GGUF_ABSENT) {
        if (dflt > 0) {
            *v = dflt;
            return 0;
        }

        if (dflt < 0) {
            return INFER_GGUF_ABSENT;
        }

        return infer_error(err, errlen, "%s: key \"%s\" is missing", path,
                           key);
    }

    if (u < 1 || u > (uint32_t) max) {
        return infer_error(err, errlen, "%s: key \"%s\" is %u: expected 1 "
                           "to %d", path, key, u, max);
    }

    *v = (int) u;

    return 0;
}


/* key, a float above 0 and below max; dflt when absent, 0: required */
static int
infer_llama_float(const infer_gguf_t *g, const char *key, float dflt,
    float max, float *v, const char *path, char *err, size_t errlen)
{
    int    rc;
    float  f;

    rc = infer_gguf_get_f32(g, key, &f, err, errlen);

    if (rc < 0) {
        return -1;
    }

    if (rc == INFER_GGUF_ABSENT) {
        if (dflt > 0.0f) {
            *v = dflt;
            return 0;
        }

        return infer_error(err, errlen, "%s: key \"%s\" is missing", path,
                           key);
    }

    if (!(f > 0.0f && f < max)) {
        return infer_error(err, errlen, "%s: key \"%s\" is %g: expected a "
                           "number above 0 and below %g", path, key,
                           (double) f, (double) max);
    }

    *v = f;

    return 0;
}


/*
 * What a llama file may say that this version does not compute: RoPE
 * scaling (linear, YaRN, Llama 3.1's rope_freqs), a mixture of experts
 * (Mixtral's files are "llama" too), a head dimension other than
 * embedding_length / head_count.
 */
static int
infer_llama_refuse(const infer_llama_t *hp, const infer_gguf_t *g,
    const char *path, char *err, size_t errlen)
{
    int          rc, i, n;
    char         show[33];
    size_t       len, k;
    uint32_t     u;
    const char  *s;

    static const char  *dims[] = {
        "llama.attention.key_length", "llama.attention.value_length"
    };

    rc = infer_gguf_get_str(g, "llama.rope.scaling.type", &s, &len, err,
                            errlen);
    if (rc < 0) {
        return -1;
    }

    if (rc == 0 && !(len == 4 && memcmp(s, "none", 4) == 0)) {
        /* the file's bytes: the printable ones shown */
        for (k = 0; k < len && k < sizeof(show) - 1; k++) {
            show[k] = (s[k] >= 0x20 && s[k] < 0x7f) ? s[k] : '?';
        }

        show[k] = '\0';

        return infer_error(err, errlen, "%s: key \"llama.rope.scaling.type\" "
                           "is \"%s\": RoPE scaling is not supported", path,
                           show);
    }

    if (infer_gguf_find_tensor(g, "rope_freqs.weight") != NULL) {
        return infer_error(err, errlen, "%s: tensor \"rope_freqs.weight\" "
                           "(Llama 3.1's RoPE scaling) is not supported",
                           path);
    }

    u = 0;
    rc = infer_gguf_get_u32(g, "llama.expert_count", &u, err, errlen);
    if (rc < 0) {
        return -1;
    }

    if (u > 0) {
        return infer_error(err, errlen, "%s: key \"llama.expert_count\" is "
                           "%u: a mixture of experts is not supported", path,
                           u);
    }

    for (i = 0; i < 2; i++) {
        rc = infer_llama_uint(g, dims[i], -1, 1 << 16, &n, path, err,
                              errlen);
        if (rc < 0) {
            return -1;
        }

        if (rc == 0 && n != hp->head_dim) {
            return infer_error(err, errlen, "%s: key \"%s\" is %d: expected "
                               "%d (llama.embedding_length / "
                               "llama.attention.head_count)", path, dims[i],
                               n, hp->head_dim);
        }
    }

    return 0;
}


/*
 * The vocabulary's size: tokenizer.ggml.tokens' count, which llama.cpp
 * takes, and llama.vocab_size must agree with; without either, the rows
 * of token_embd.weight (resolve checks every other size against it).
 */
static int
infer_llama_vocab(infer_llama_t *hp, const infer_gguf_t *g,
    const char *path, char *err, size_t errlen)
{
    int                         rc, n;
    const infer_gguf_kv_t      *kv;
    const infer_gguf_tensor_t  *t;

    rc = infer_gguf_get_arr(g, "tokenizer.ggml.tokens", INFER_GGUF_STRING,
                            &kv, err, errlen);
    if (rc < 0) {
        return -1;
    }

    if (rc == 0) {
        if (kv->count < 1 || kv->count > INFER_LLAMA_MAX_VOCAB) {
            return infer_error(err, errlen, "%s: key "
                               "\"tokenizer.ggml.tokens\" has %llu tokens: "
                               "expected 1 to %d", path,
                               (unsigned long long) kv->count,
                               INFER_LLAMA_MAX_VOCAB);
        }

        hp->vocab = (int) kv->count;
        hp->vocab_from = "tokenizer.ggml.tokens";
    }

    rc = infer_llama_uint(g, "llama.vocab_size", -1, INFER_LLAMA_MAX_VOCAB,
                          &n, path, err, errlen);
    if (rc < 0) {
        return -1;
    }

    if (rc == 0 && hp->vocab != 0 && n != hp->vocab) {
        return infer_error(err, errlen, "%s: key \"llama.vocab_size\" is %d, "
                           "but tokenizer.ggml.tokens has %d tokens", path,
                           n, hp->vocab);
    }

    if (rc == 0 && hp->vocab == 0) {
        hp->vocab = n;
        hp->vocab_from = "llama.vocab_size";
    }

    if (hp->vocab != 0) {
        return 0;
    }

    t = infer_gguf_find_tensor(g, infer_llama_embd.name);
    if (t == NULL) {
        return infer_error(err, errlen, "%s: tensor \"%s\" is missing", path,
                           infer_llama_embd.name);
    }

    if (t->n_dims != 2 || t->ne[1] < 1 || t->ne[1] > INFER_LLAMA_MAX_VOCAB) {
        return infer_error(err, errlen, "%s: tensor \"%s\" has %d dimensions "
                           "and %lld rows: expected 2 and 1 to %d (no "
                           "tokenizer.ggml.tokens nor llama.vocab_size says "
                           "the vocabulary's size)", path,
                           infer_llama_embd.name, t->n_dims,
                           (long long) t->ne[1], INFER_LLAMA_MAX_VOCAB);
    }

    hp->vocab = (int) t->ne[1];
    hp->vocab_from = "token_embd.weight's rows";

    return 0;
}


static int
infer_llama_resolve(infer_model_t *m, const char *cfg, const char *stf,
    char *err, size_t errlen)
{
    int                  i, k;
    char                 name[INFER_GGUF_MAX_NAME + 16];
    infer_llama_t       *hp;

    if (m->gguf == NULL) {
        return infer_llama_hf_resolve(m, cfg, stf, err, errlen);
    }

    hp = m->arch_data;

    hp->layer = calloc((size_t) hp->layers, sizeof(infer_llama_layer_t));
    if (hp->layer == NULL) {
        return infer_error(err, errlen, "%s: out of memory", stf);
    }

    hp->tok_embd = infer_llama_weight(m, infer_llama_embd.name,
                                      &infer_llama_embd, 0, stf, err,
                                      errlen);
    if (hp->tok_embd < 0) {
        return -1;
    }

    for (i = 0; i < hp->layers; i++) {
        for (k = 0; k < INFER_LLAMA_LAYER_WEIGHTS; k++) {
            snprintf(name, sizeof(name), "blk.%d.%s.weight", i,
                     infer_llama_layer_tensors[k].name);

            hp->layer[i].w[k] = infer_llama_weight(m, name,
                                    &infer_llama_layer_tensors[k], 0, stf,
                                    err, errlen);
            if (hp->layer[i].w[k] < 0) {
                return -1;
            }
        }
    }

    hp->out_norm = infer_llama_weight(m, infer_llama_out_norm.name,
                                      &infer_llama_out_norm, 0, stf, err,
                                      errlen);
    if (hp->out_norm < 0) {
        return -1;
    }

    /* without output.weight the head is the embeddings' table */
    hp->output = infer_llama_weight(m, infer_llama_output.name,
                                    &infer_llama_output, 1, stf, err,
                                    errlen);
    if (hp->output == -1) {
        return -1;
    }

    if (hp->output == -2) {
        hp->output = hp->tok_embd;
        hp->tied = 1;
    }

    (void) cfg;

    return 0;
}


/*
 * Finds the tensor name, checks its shape against the metadata and its
 * type (a vector, a norm's weights, in a float type; a matrix in any
 * type the file may hold), registers it.  Returns its weight index, -1
 * with err set, or with optional -2 when the tensor is not there.
 */
static int
infer_llama_weight(infer_model_t *m, const char *name,
    const infer_llama_tensor_t *d, int optional, const char *path,
    char *err, size_t errlen)
{
    int                         w, vec;
    char                        shape[128], want[128];
    int64_t                     ne[2];
    const infer_llama_t        *hp;
    const infer_gguf_tensor_t  *t;

    hp = m->arch_data;

    t = infer_gguf_find_tensor(m->gguf, name);
    if (t == NULL) {
        if (optional) {
            return -2;
        }

        return infer_error(err, errlen, "%s: tensor \"%s\" is missing", path,
                           name);
    }

    vec = (d->ne1 == INFER_LLAMA_D_ONE);
    ne[0] = infer_llama_dim(hp, d->ne0);
    ne[1] = infer_llama_dim(hp, d->ne1);

    if (t->n_dims != 2 - vec || t->ne[0] != ne[0] || t->ne[1] != ne[1]) {
        infer_shape_str(shape, sizeof(shape), t->ne, t->n_dims);
        infer_shape_str(want, sizeof(want), ne, 2 - vec);

        if (vec) {
            return infer_error(err, errlen, "%s: tensor \"%s\" has ne %s: "
                               "expected %s (%s)", path, name, shape, want,
                               infer_llama_dim_name(hp, d->ne0));
        }

        return infer_error(err, errlen, "%s: tensor \"%s\" has ne %s: "
                           "expected %s (%s, %s)", path, name, shape, want,
                           infer_llama_dim_name(hp, d->ne0),
                           infer_llama_dim_name(hp, d->ne1));
    }

    if (vec && t->dtype != INFER_DT_F32 && t->dtype != INFER_DT_F16
        && t->dtype != INFER_DT_BF16)
    {
        return infer_error(err, errlen, "%s: tensor \"%s\" is %s: expected "
                           "F32, F16 or BF16 (a norm's weights)", path, name,
                           infer_dtype_name(t->dtype));
    }

    w = infer_model_add_gguf_weight(m, t);
    if (w < 0) {
        return infer_error(err, errlen, "%s: out of memory", path);
    }

    return w;
}


static int64_t
infer_llama_dim(const infer_llama_t *hp, infer_llama_dim_e d)
{
    switch (d) {
    case INFER_LLAMA_D_HIDDEN:
        return hp->hidden;
    case INFER_LLAMA_D_FFN:
        return hp->ffn;
    case INFER_LLAMA_D_KV:
        return (int64_t) hp->kv_heads * hp->head_dim;
    case INFER_LLAMA_D_VOCAB:
        return hp->vocab;
    default:
        return 1;
    }
}


/* where a dimension comes from, for messages */
static const char *
infer_llama_dim_name(const infer_llama_t *hp, infer_llama_dim_e d)
{
    switch (d) {
    case INFER_LLAMA_D_HIDDEN:
        return "llama.embedding_length";
    case INFER_LLAMA_D_FFN:
        return "llama.feed_forward_length";
    case INFER_LLAMA_D_KV:
        return "llama.attention.head_count_kv x the head dimension";
    case INFER_LLAMA_D_VOCAB:
        return hp->vocab_from;
    default:
        return "";
    }
}


static void
infer_llama_build(infer_graph_t *g, const infer_model_t *m,
    const infer_batch_t *batch)
{
    int                   i, s, last, cache;
    infer_tensor_t       *ids, *pos, *seqs, *blocks, *x, *h, *q, *k, *v, *u;
    const int            *w;
    const infer_llama_t  *hp;

    hp = m->arch_data;
    cache = (batch->blocks != NULL);
    blocks = NULL;

    /* a sequence that continues needs the KV cache of what came before */
    for (s = 0; s < batch->n_seqs && !cache; s++) {
        if (batch->seqs[s].pos != 0 && !g->failed) {
            g->failed = 1;
            snprintf(g->err, sizeof(g->err), "llama: sequence %d starts at "
                     "position %d in a batch without a KV cache", s,
                     (int) batch->seqs[s].pos);
        }
    }

    ids = infer_op_input(g, INFER_DT_I32, batch->n_tokens, 1, batch->tokens,
                         "tokens");
    pos = infer_op_input(g, INFER_DT_I32, batch->n_tokens, 1, batch->pos,
                         "positions");
    seqs = infer_op_input(g, INFER_DT_I32, batch->n_seqs, 4, batch->seqs,
                          "sequences");

    if (cache) {
        blocks = infer_op_input(g, INFER_DT_I32, batch->n_seqs,
                                batch->max_blocks, batch->blocks,
                                "block tables");
    }

    x = infer_op_get_rows(g, infer_model_matrix(g, m, hp->tok_embd), ids);

    for (i = 0; i < hp->layers; i++) {
        w = hp->layer[i].w;
        last = (i == hp->layers - 1);

        h = infer_op_rms_norm(g, x, infer_model_vector(g, m,
                                                  w[INFER_LLAMA_ATTN_NORM]),
                              hp->eps);

        q = infer_llama_matmul(g, h, infer_model_matrix(g, m, w[INFER_LLAMA_Q]),
                            NULL);
        k = infer_llama_matmul(g, h, infer_model_matrix(g, m, w[INFER_LLAMA_K]),
                            NULL);
        v = infer_llama_matmul(g, h, infer_model_matrix(g, m, w[INFER_LLAMA_V]),
                            NULL);

        q = infer_op_rope(g, q, pos, hp->heads, hp->head_dim, hp->n_rot,
                          hp->rope, hp->theta);
        k = infer_op_rope(g, k, pos, hp->kv_heads, hp->head_dim, hp->n_rot,
                          hp->rope, hp->theta);

        if (cache) {
            /* this batch's keys and values join the earlier ones */
            k = infer_op_kv_store(g, k, v, seqs, blocks, i);
            h = infer_op_kv_attention(g, q, k, seqs, blocks, hp->heads,
                                      hp->kv_heads, hp->head_dim, i, 0.0f);

        } else {
            h = infer_op_attention(g, q, k, v, seqs, hp->heads, hp->kv_heads,
                                   hp->head_dim, 1, 0.0f);
        }

        if (last) {
            /* from here on, only the rows that give logits */
            h = infer_op_pool(g, h, seqs, INFER_POOL_LAST);
            x = infer_op_pool(g, x, seqs, INFER_POOL_LAST);
        }

        h = infer_llama_matmul(g, h, infer_model_matrix(g, m, w[INFER_LLAMA_O]),
                            NULL);
        x = infer_op_add(g, x, h);

        h = infer_op_rms_norm(g, x, infer_model_vector(g, m,
                                                  w[INFER_LLAMA_FFN_NORM]),
                              hp->eps);

        /* SwiGLU: down(silu(gate h) * up h) */
        u = infer_llama_matmul(g, h, infer_model_matrix(g, m, w[INFER_LLAMA_GATE]),
                            NULL);
        u = infer_op_act(g, u, INFER_ACT_SILU);
        h = infer_llama_matmul(g, h, infer_model_matrix(g, m, w[INFER_LLAMA_UP]),
                            NULL);
        h = infer_op_mul(g, u, h);
        h = infer_llama_matmul(g, h, infer_model_matrix(g, m, w[INFER_LLAMA_DOWN]),
                            NULL);
        x = infer_op_add(g, x, h);
    }

    x = infer_op_rms_norm(g, x, infer_model_vector(g, m, hp->out_norm), hp->eps);
    x = infer_llama_matmul(g, x, infer_model_matrix(g, m, hp->output), NULL);

    infer_op_output(g, x, batch->out);
}


/* a decoder's product: each row alone, whatever else is in the step */
static infer_tensor_t *
infer_llama_matmul(infer_graph_t *g, infer_tensor_t *x, infer_tensor_t *w,
    infer_tensor_t *b)
{
    infer_tensor_t  *t;

    t = infer_op_matmul(g, x, w, b);

    if (!g->failed) {
        t->ip[0] = INFER_MATMUL_ROWWISE;
    }

    return t;
}


static int
infer_llama_max_nodes(const infer_model_t *m)
{
    const infer_llama_t  *hp;

    hp = m->arch_data;

    /*
     * 3 inputs and the block tables; the embeddings' table and
     * get_rows; per layer: 2 RMS norms of 2 nodes (weight, norm), 7
     * products of 2 (weight, product), 2 ropes, attention (and the
     * cache's store), an activation, the gate's mul, 2 residual adds; the last layer's 2 pools; the final RMS norm (2)
     * and the head (2)
     */
    return 3 + 1 + 2 + hp->layers * (2 * 2 + 7 * 2 + 2 + 2 + 1 + 1 + 2)
           + 2 + 2 + 2;
}


static int
infer_llama_kv_shape(const infer_model_t *m, infer_kv_shape_t *kv)
{
    const infer_llama_t  *hp;

    hp = m->arch_data;

    memset(kv, 0, sizeof(infer_kv_shape_t));
    kv->layers = hp->layers;
    kv->kv_dim = hp->kv_heads * hp->head_dim;

    return 0;
}


static void
infer_llama_free(infer_model_t *m)
{
    infer_llama_t  *hp;

    hp = m->arch_data;

    if (hp == NULL) {
        return;
    }

    free(hp->layer);
    free(hp);
    m->arch_data = NULL;
}
