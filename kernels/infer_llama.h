/*
 * ngx_infer: the "llama" architecture's hyperparameters (infer_llama.c),
 * for the nginx side (the context length, the vocabulary) and for the
 * tests that look inside a loaded model: model->arch_data is an
 * infer_llama_t when model->arch is &infer_arch_llama.
 */

#ifndef _INFER_LLAMA_H_INCLUDED_
#define _INFER_LLAMA_H_INCLUDED_


#include "infer_model.h"


#define INFER_LLAMA_MAX_LAYERS  512
#define INFER_LLAMA_MAX_VOCAB   (1 << 24)


/* the weights of one decoder layer, by index into infer_llama_layer_t */
enum {
    INFER_LLAMA_ATTN_NORM = 0,
    INFER_LLAMA_Q,
    INFER_LLAMA_K,
    INFER_LLAMA_V,
    INFER_LLAMA_O,
    INFER_LLAMA_FFN_NORM,
    INFER_LLAMA_GATE,
    INFER_LLAMA_UP,
    INFER_LLAMA_DOWN,
    INFER_LLAMA_LAYER_WEIGHTS
};


typedef struct {
    int                   w[INFER_LLAMA_LAYER_WEIGHTS];
} infer_llama_layer_t;


typedef struct {
    /* the GGUF metadata, llama.* */
    int                   layers;      /* block_count */
    int                   hidden;      /* embedding_length */
    int                   ffn;         /* feed_forward_length */
    int                   heads;       /* attention.head_count */
    int                   kv_heads;    /* attention.head_count_kv */
    int                   head_dim;    /* hidden / heads */
    int                   n_rot;       /* rope.dimension_count */
    float                 theta;       /* rope.freq_base */
    float                 eps;         /* attention.layer_norm_rms_epsilon */
    int                   ctx;         /* context_length */
    int                   vocab;       /* tokenizer.ggml.tokens, else
                                          vocab_size, else token_embd */
    const char           *vocab_from;  /* which of them, for messages */

    /* weight indices; output is token_embd's when the head is tied */
    int                   tok_embd;
    int                   out_norm;
    int                   output;
    int                   tied;
    infer_llama_layer_t  *layer;
} infer_llama_t;


#endif /* _INFER_LLAMA_H_INCLUDED_ */
