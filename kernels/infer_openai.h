/*
 * ngx_infer: the OpenAI API codec for /v1/embeddings and /v1/models,
 * independent of nginx.
 *
 * The request decoder walks the body once with the JSON machinery of
 * infer_json.h and leaves the inputs where they are: a string without
 * escapes is a span of the body, one with escapes is unescaped into the
 * caller's text buffer, token ids go into the caller's ids buffer.  An
 * error comes with what OpenAI would answer: the status, a message for the
 * client naming the field, its "param" and "code".
 *
 * The writers give OpenAI's shapes exactly, so that the openai clients
 * (Python, Node) read the answers as they read OpenAI's: embeddings as
 * shortest float decimals or base64, errors, the model list.
 *
 * The decoder is in infer_openai_json.c, the writers in
 * infer_openai_encode.c.
 */

#ifndef _INFER_OPENAI_H_INCLUDED_
#define _INFER_OPENAI_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "infer_json.h"


#define INFER_OAI_ERRLEN  256

/* the "type" of every error the decoder finds */
#define INFER_OAI_INVALID_REQUEST  "invalid_request_error"


typedef enum {
    INFER_OAI_TEXT = 0,
    INFER_OAI_TOKENS
} infer_oai_kind_e;

typedef enum {
    INFER_OAI_FLOAT = 0,
    INFER_OAI_BASE64
} infer_oai_format_e;


typedef struct {
    infer_oai_kind_e         kind;
    const char              *text;         /* TEXT: UTF-8, unescaped: a span
                                              of the body when the JSON
                                              string had no escapes, else of
                                              req->text */
    size_t                   len;
    const int32_t           *ids;          /* TOKENS: in req->ids */
    size_t                   n_ids;
} infer_oai_input_t;


typedef struct {
    /* set by the caller */
    infer_oai_input_t       *inputs;       /* more than max_inputs: error */
    size_t                   max_inputs;
    char                    *text;         /* unescaped strings; the body's */
    size_t                   text_cap;     /* length always suffices */
    int32_t                 *ids;          /* token ids of all inputs */
    size_t                   ids_cap;
    int64_t                  vocab;        /* ids must be in [0, vocab);
                                              0: unchecked (int32 only) */

    /* results */
    infer_json_str_t         model;        /* unescaped (into req->scratch
                                              if needed) */
    size_t                   ninputs;
    infer_oai_format_e       encoding_format;   /* default float */
    int64_t                  dimensions;   /* 0: not given */

    /*
     * An error: the status OpenAI would answer, the message, its "param"
     * (NULL for none) and "code" (NULL for none).  The "type" is always
     * INFER_OAI_INVALID_REQUEST.
     */
    int                      status;
    const char              *param;
    const char              *code;
    char                     err[INFER_OAI_ERRLEN];
    char                     scratch[256];
} infer_oai_request_t;


/*
 * Decodes a POST /v1/embeddings body: 0, or -1 with status, err, param and
 * code set (and ninputs 0).
 *
 * Keys: "input" and "model" are required; "encoding_format" ("float" or
 * "base64"), "dimensions" (an integer >= 1, at most INT32_MAX; the caller
 * checks it against the model) and "user" (a string, ignored) are
 * optional, and null for them is as if they were absent; other keys are
 * checked as JSON and skipped, as OpenAI ignores them.  A key of these
 * given twice is an error.
 *
 * "input" is a string, an array of strings, an array of integers (one
 * tokenized input) or an array of arrays of integers.  Refused: an empty
 * string, an empty array (outer or inner), arrays that mix kinds or nest
 * deeper, token ids that are not integer tokens ("1.0"), negative, at
 * least vocab or beyond int32, more inputs than max_inputs, more ids than
 * ids_cap, and strings that unescape past text_cap (not when text_cap is
 * at least len).  Invalid UTF-8, and escapes of lone surrogates, are
 * malformed JSON: every text is valid UTF-8.
 *
 * Messages are OpenAI's where OpenAI has one ("Invalid type for
 * 'dimensions': expected an integer, but got a string instead.",
 * "Missing required parameter: 'input'."), the field named with its index
 * ("Invalid 'input[3]': 30522 is out of the vocabulary (30522 tokens).");
 * malformed JSON gets jansson's line and column, with param and code
 * NULL.
 */
int infer_oai_decode_embeddings(infer_oai_request_t *req, const char *body,
    size_t len);

/*
 * For the decoders of every OpenAI body (infer_openai_json.c,
 * infer_openai_chat_*.c): null at js->p, read past (an optional key given
 * null is not given); the kind of the value at js->p in OpenAI's words
 * ("a string", "a decimal")
 */
int infer_oai_null(infer_json_parser_t *js);
const char *infer_oai_type(infer_json_parser_t *js);


/*
 * The answer to /v1/embeddings: n embeddings of dim floats each (row i at
 * emb + i * stride), the first dims components of each (dims == dim: all).
 * renorm: L2-renormalize the shortened vectors (the caller passes 1 when
 * dims < dim and the model's output is normalized); base64: the floats as
 * little-endian float32 in standard base64 with padding, as OpenAI sends
 * them; else the shortest decimal of each float (NaN and infinities as
 * null).  The shape is OpenAI's:
 *
 *   {"object":"list","data":[{"object":"embedding","index":0,
 *    "embedding":[...]},...],"model":"<name>",
 *    "usage":{"prompt_tokens":N,"total_tokens":N}}
 *
 * infer_oai_embeddings_size() is the room it needs, SIZE_MAX if that does
 * not fit in a size_t.  Returns the length written.
 */
size_t infer_oai_embeddings_size(size_t n, size_t dims, int base64,
    size_t model_len);
size_t infer_oai_write_embeddings(char *dst, const char *model,
    size_t model_len, const float *emb, size_t n, size_t stride, size_t dims,
    int renorm, int base64, uint64_t prompt_tokens);

/*
 * {"error":{"message":"...","type":"...","param":null|"...",
 * "code":null|"..."}}; a NULL message is written as "", a NULL type,
 * param or code as null.  The room is 6 * (the strlen of each) + 64.
 * Returns the length written.
 */
size_t infer_oai_error_size(const char *msg, const char *type,
    const char *param, const char *code);
size_t infer_oai_write_error(char *dst, const char *msg, const char *type,
    const char *param, const char *code);

/*
 * GET /v1/models: {"object":"list","data":[{"id":"<name>","object":"model",
 * "created":<created>,"owned_by":"ngx_infer"},...]}; and one model alone,
 * the object of one of them (GET /v1/models/<name>), whose room is
 * infer_oai_models_size() of that one name.  Return the length written.
 */
size_t infer_oai_models_size(const infer_json_str_t *names, size_t n);
size_t infer_oai_write_models(char *dst, const infer_json_str_t *names,
    size_t n, int64_t created);
size_t infer_oai_write_model(char *dst, const char *name, size_t len,
    int64_t created);


#endif /* _INFER_OPENAI_H_INCLUDED_ */
