/*
 * ngx_infer: the "llama" architecture's hyperparameters (infer_llama.c,
 * and infer_llama_hf.c for a Hugging Face directory), for the nginx side
 * (the context length, the vocabulary) and for the tests that look
 * inside a loaded model: model->arch_data is an infer_llama_t when
 * model->arch is &infer_arch_llama.
 */

#ifndef _INFER_LLAMA_H_INCLUDED_
#define _INFER_LLAMA_H_INCLUDED_


#include "infer_model.h"
#include "infer_bpe.h"
#include "infer_chat.h"


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
    /* the GGUF metadata, llama.* (a Hugging Face config.json's keys say
     * the same, infer_llama_hf.c) */
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
    int                   rope;        /* INFER_ROPE_NORM: Q and K rows
                                          permuted by llama.cpp's
                                          converter (GGUF);
                                          INFER_ROPE_NEOX: Hugging Face's
                                          rotate_half, rows as trained */

    /* weight indices; output is token_embd's when the head is tied */
    int                   tok_embd;
    int                   out_norm;
    int                   output;
    int                   tied;
    infer_llama_layer_t  *layer;
} infer_llama_t;


/*
 * infer_llama_hf.c: configure and resolve for a Hugging Face directory
 * (config.json's model_type "llama", model.safetensors); infer_llama.c's
 * own call them when the model is not a GGUF file.
 */
int infer_llama_hf_configure(infer_model_t *m, json_t *root,
    const char *fname, char *err, size_t errlen);
int infer_llama_hf_resolve(infer_model_t *m, const char *cfg,
    const char *stf, char *err, size_t errlen);


/*
 * infer_llama_text.c: the text side of a GGUF decoder.
 *
 * The byte-level BPE tokenizer of the file f (tokenizer.ggml.model,
 * pre, tokens, merges, token_type and the special ids), or NULL with err
 * set ("<path>: ...").
 */
infer_bpe_t *infer_llama_tokenizer(const infer_gguf_t *f, const char *path,
    char *err, size_t errlen);

/*
 * The ids that end a generation, at most max of them: the end of
 * sequence and end of turn ids the metadata names, and the control
 * tokens that end a turn in the families' templates (<|im_end|>,
 * <|eot_id|>, <|endoftext|>, ...), as llama.cpp finds them.  Returns how
 * many.
 */
int infer_llama_eog(const infer_bpe_t *bpe, int32_t *ids, int max);

/*
 * The chat template: the one of that name (infer_chat.h) when name is
 * not NULL, else the file's tokenizer.chat_template, with the BOS and
 * EOS tokens' text; 0, or -1 with err set ("<path>: ...").
 */
int infer_llama_chat_template(const infer_gguf_t *f, const infer_bpe_t *bpe,
    const char *name, infer_chat_template_t *t, const char *path,
    char *err, size_t errlen);

/*
 * The text side of a Hugging Face directory dir: tokenizer.json
 * (infer_bpe_load()) into *bpe; the chat template named name, else
 * tokenizer_config.json's "chat_template" (a string, or of a list of
 * named ones "default") with its bos_token and eos_token, into t; the
 * ids that end a generation into eog[0 .. *n_eog) (generation_config.json's
 * eos_token_id where the file is, then infer_llama_eog()'s), at most
 * max_eog.  vocab is config.json's vocab_size, which every id of the
 * tokenizer must be under.  0, or -1 with err set ("<file>: ...") and
 * nothing to free.
 */
int infer_llama_hf_text(const char *dir, const char *name, int vocab,
    infer_bpe_t **bpe, infer_chat_template_t *t, int32_t *eog, int max_eog,
    int *n_eog, char *err, size_t errlen);


#endif /* _INFER_LLAMA_H_INCLUDED_ */
