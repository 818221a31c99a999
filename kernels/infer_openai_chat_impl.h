/*
 * ngx_infer: what the two files of the generative endpoints' decoders
 * share (infer_openai_chat_json.c: the request and its parameters;
 * infer_openai_chat_input.c: the messages, the prompt, the stop strings
 * and logit_bias).  The embeddings decoder has helpers of the same names
 * of its own, static in infer_openai_json.c.
 */

#ifndef _INFER_OPENAI_CHAT_IMPL_H_INCLUDED_
#define _INFER_OPENAI_CHAT_IMPL_H_INCLUDED_


#include "infer_openai_chat.h"


#define INFER_OAI_INT32_MAX   2147483647

#define INFER_OAI_UNSUPPORTED "unsupported_value"

/* a span is the literal s */
#define infer_oai_is(v, s)                                                    \
    ((v).len == sizeof(s) - 1 && memcmp((v).p, s, sizeof(s) - 1) == 0)


/* the state of one walk */

typedef struct {
    infer_json_parser_t      js;
    infer_oai_gen_request_t *req;
    size_t                   text;         /* bytes of req->text used */
    size_t                   ids;          /* ids of req->ids used */
    uint64_t                 max_id;
    int64_t                  mct;          /* max_completion_tokens */
    int                      chat;
} infer_oai_gen_parser_t;


/* the values of the request (infer_openai_chat_input.c) */
int infer_oai_messages(infer_oai_gen_parser_t *ps);
int infer_oai_prompt(infer_oai_gen_parser_t *ps);
int infer_oai_stop(infer_oai_gen_parser_t *ps);
int infer_oai_logit_bias(infer_oai_gen_parser_t *ps);

/*
 * The string at js->p: a span of the body, or unescaped into req->text
 * (infer_oai_text()); a short one (a role, a type) into buf, a longer one
 * being none that is known (infer_oai_word()).  Another value is an error
 * that names param.
 */
int infer_oai_text(infer_oai_gen_parser_t *ps, const char *param,
    infer_json_str_t *out);
int infer_oai_word(infer_oai_gen_parser_t *ps, const char *param,
    char *buf, size_t size, infer_json_str_t *val);

/*
 * The errors: "Invalid type for '<param>': expected <expected>, but got
 * <the type> instead.", and any message with its param and code.  Both
 * return INFER_JSON_ERROR.
 */
int infer_oai_wrong_type(infer_oai_gen_parser_t *ps, const char *param,
    const char *expected);
int infer_oai_invalid(infer_oai_gen_parser_t *ps, const char *param,
    const char *code, const char *fmt, ...) INFER_PRINTF(4, 5);


#endif /* _INFER_OPENAI_CHAT_IMPL_H_INCLUDED_ */
