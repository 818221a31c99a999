/*
 * ngx_infer: the "bert" architecture's hyperparameters (infer_bert.c),
 * for the nginx side (max_seq, the tokenizer's lowercasing) and for the
 * tests that look inside a loaded model: model->arch_data is an
 * infer_bert_t when model->arch is &infer_arch_bert.
 */

#ifndef _INFER_BERT_H_INCLUDED_
#define _INFER_BERT_H_INCLUDED_


#include "infer_model.h"


#define INFER_BERT_MAX_LAYERS  128


/* the weights of one encoder layer, by index into infer_bert_layer_t */
enum {
    INFER_BERT_Q_W = 0,
    INFER_BERT_Q_B,
    INFER_BERT_K_W,
    INFER_BERT_K_B,
    INFER_BERT_V_W,
    INFER_BERT_V_B,
    INFER_BERT_ATT_OUT_W,
    INFER_BERT_ATT_OUT_B,
    INFER_BERT_ATT_LN_W,
    INFER_BERT_ATT_LN_B,
    INFER_BERT_INTER_W,
    INFER_BERT_INTER_B,
    INFER_BERT_OUT_W,
    INFER_BERT_OUT_B,
    INFER_BERT_OUT_LN_W,
    INFER_BERT_OUT_LN_B,
    INFER_BERT_LAYER_WEIGHTS
};


/* the embeddings' weights */
enum {
    INFER_BERT_WORD = 0,
    INFER_BERT_POS,
    INFER_BERT_TYPE,               /* row 0 of token_type_embeddings */
    INFER_BERT_EMB_LN_W,
    INFER_BERT_EMB_LN_B,
    INFER_BERT_EMB_WEIGHTS
};


typedef struct {
    int                   w[INFER_BERT_LAYER_WEIGHTS];
} infer_bert_layer_t;


typedef struct {
    /* config.json */
    int                   hidden;
    int                   layers;
    int                   heads;
    int                   head_dim;
    int                   intermediate;
    int                   act;         /* INFER_ACT_* from hidden_act */
    float                 eps;         /* layer_norm_eps */
    int                   max_pos;     /* max_position_embeddings */
    int                   type_vocab;
    int                   vocab;

    /* the sentence-transformers files, or their defaults */
    int                   max_seq;     /* max_seq_length, else max_pos */
    int                   pooling;     /* INFER_POOL_MEAN, _CLS or _MAX */
    int                   normalize;   /* a Normalize module */
    int                   lower_case;  /* do_lower_case: 1, 0; -1 absent */
    int                   st;          /* modules.json was there */

    /* weight indices; "bert." when the tensors' names carry it */
    const char           *prefix;
    int                   emb[INFER_BERT_EMB_WEIGHTS];
    infer_bert_layer_t   *layer;
} infer_bert_t;


#endif /* _INFER_BERT_H_INCLUDED_ */
