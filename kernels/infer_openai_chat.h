/*
 * ngx_infer: the OpenAI API codec of the generative endpoints,
 * POST /v1/chat/completions and POST /v1/completions, independent of
 * nginx.
 *
 * The decoders walk the body once with the JSON machinery of
 * infer_json.h, as infer_openai_json.c does for /v1/embeddings: a string
 * without escapes is a span of the body, one with escapes is unescaped
 * into the caller's text buffer, as are the text parts of a message
 * joined; token ids go into the caller's ids buffer, logit_bias into its
 * bias buffer.  null is as if the key were absent, a known key given
 * twice is refused, other keys are checked as JSON and skipped.  An error
 * comes with what OpenAI would answer: the status, a message naming the
 * field as OpenAI does ("Invalid 'messages[1].role': ..."), its "param"
 * and "code"; malformed JSON anywhere wins, with jansson's line and
 * column.  What OpenAI has and this server does not do (logprobs, tools,
 * n > 1, JSON output, echo, suffix, several prompts) is a 400 that says
 * so, never a silent difference.
 *
 * The writers give OpenAI's shapes exactly (the openai clients parse
 * them): a chat completion, its chunks as server-sent events, a text
 * completion and its chunks, the last chunk of usage, "data: [DONE]".
 * Each has its room computed by a _size() function.
 *
 * The decoders are in infer_openai_chat_json.c (the request, its
 * parameters) and infer_openai_chat_input.c (messages, prompt, stop,
 * logit_bias), the writers in infer_openai_chat_encode.c.
 */

#ifndef _INFER_OPENAI_CHAT_H_INCLUDED_
#define _INFER_OPENAI_CHAT_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "infer_chat.h"
#include "infer_json.h"
#include "infer_openai.h"


#define INFER_OAI_MAX_STOP  4             /* as OpenAI */

/* the sampling fields that the request gave (sampling.given) */
#define INFER_OAI_HAS_MAX_TOKENS     0x0001
#define INFER_OAI_HAS_TEMPERATURE    0x0002
#define INFER_OAI_HAS_TOP_P          0x0004
#define INFER_OAI_HAS_TOP_K          0x0008
#define INFER_OAI_HAS_MIN_P          0x0010
#define INFER_OAI_HAS_PRESENCE       0x0020
#define INFER_OAI_HAS_FREQUENCY      0x0040
#define INFER_OAI_HAS_REPETITION     0x0080
#define INFER_OAI_HAS_SEED           0x0100
#define INFER_OAI_HAS_IGNORE_EOS     0x0200


/*
 * The sampling parameters, OpenAI's defaults where not given: OpenAI's
 * own keys and those vLLM and llama.cpp's server accept beside them.
 */
typedef struct {
    unsigned                 given;        /* INFER_OAI_HAS_* */
    int64_t                  max_tokens;   /* >= 1; max_completion_tokens
                                              wins over max_tokens; 0: not
                                              given (up to the context) */
    double                   temperature;  /* [0, 2], 1 */
    double                   top_p;        /* (0, 1], 1 */
    int64_t                  top_k;        /* >= 1, 0: off (-1 and 0 given
                                              are off) */
    double                   min_p;        /* [0, 1], 0 */
    double                   presence_penalty;     /* [-2, 2], 0 */
    double                   frequency_penalty;    /* [-2, 2], 0 */
    double                   repetition_penalty;   /* > 0, 1 */
    int64_t                  seed;         /* any int64 */
    int                      ignore_eos;   /* 0 */
} infer_oai_sampling_t;


typedef struct {
    int32_t                  id;           /* >= 0, < vocab if checked */
    float                    bias;         /* [-100, 100] */
} infer_oai_bias_t;


/* what the two decoders fill */
typedef struct {
    /* set by the caller; the text buffer needs the body's length */
    infer_chat_msg_t        *messages;     /* more than max_messages: 400 */
    size_t                   max_messages;
    char                    *text;         /* unescaped strings, joined */
    size_t                   text_cap;     /* parts */
    int32_t                 *ids;          /* /v1/completions' token ids */
    size_t                   ids_cap;
    infer_oai_bias_t        *bias;         /* logit_bias */
    size_t                   bias_cap;
    int64_t                  vocab;        /* ids and logit_bias keys in
                                              [0, vocab); 0: unchecked */

    /* results */
    infer_json_str_t         model;        /* unescaped (into scratch) */
    size_t                   nmessages;    /* /v1/chat/completions */

    infer_oai_kind_e         prompt_kind;  /* /v1/completions: */
    infer_json_str_t         prompt;       /* TEXT, may be empty */
    const int32_t           *prompt_ids;   /* TOKENS, in ids */
    size_t                   n_prompt_ids;

    infer_oai_sampling_t     sampling;
    infer_json_str_t         stop[INFER_OAI_MAX_STOP];    /* non-empty */
    size_t                   nstop;
    size_t                   nbias;
    int                      stream;
    int                      include_usage;     /* stream_options */

    /*
     * An error: the status, the message, "param" (NULL for none; may
     * point into param_buf) and "code" (NULL for none); the "type" is
     * INFER_OAI_INVALID_REQUEST.
     */
    int                      status;
    const char              *param;
    const char              *code;
    char                     err[INFER_OAI_ERRLEN];
    char                     param_buf[64];
    char                     scratch[256];
} infer_oai_gen_request_t;


/*
 * POST /v1/chat/completions: 0, or -1 with status, err, param and code
 * (and nmessages 0).
 *
 * "model" and "messages" are required.  A message is {"role", "content",
 * "name"?}: role "system", "developer" (which OpenAI maps to system, as
 * this does), "user" or "assistant" ("tool" and "function" are refused:
 * no tool calling); content a string (may be empty), an array of
 * {"type":"text","text":...} parts, joined with "\n" as vLLM joins them
 * (image, audio and file parts are refused), or null for an assistant
 * (then ""); "tool_calls" must be absent, null or [].
 *
 * Sampling: max_tokens, max_completion_tokens, temperature, top_p,
 * top_k, min_p, presence_penalty, frequency_penalty,
 * repetition_penalty, seed, ignore_eos (see infer_oai_sampling_t);
 * stop (a string or up to 4 non-empty strings); logit_bias (an object
 * of token ids, as strings, to numbers in [-100, 100]; more than bias_cap
 * refused); n (1 only); stream (bool); stream_options ({include_usage:
 * bool}; with stream true only, as OpenAI); user (a string, ignored).
 * Refused when set: logprobs true, top_logprobs above 0, tools and
 * functions not empty, tool_choice and function_call other than "none"
 * and "auto", response_format other than {"type":"text"}.
 */
int infer_oai_decode_chat(infer_oai_gen_request_t *req, const char *body,
    size_t len);

/*
 * POST /v1/completions: the same, with "prompt" (required) in place of
 * "messages": a string, an array of one string, an array of token ids
 * (< vocab), or an array of one array of ids; several prompts are a 400
 * that says one is served per request.  echo (false only), suffix (null
 * only), best_of (1 only), logprobs (null only: an integer asks for
 * them).
 */
int infer_oai_decode_completion(infer_oai_gen_request_t *req,
    const char *body, size_t len);


/* why the generation stopped */
typedef enum {
    INFER_OAI_FINISH_NONE = 0,             /* not yet: null */
    INFER_OAI_FINISH_STOP,                 /* eos or a stop string */
    INFER_OAI_FINISH_LENGTH                /* max_tokens or the context */
} infer_oai_finish_e;


/* what every answer of one request repeats */
typedef struct {
    const char              *id;           /* after "chatcmpl-", "cmpl-" */
    size_t                   id_len;
    const char              *model;
    size_t                   model_len;
    int64_t                  created;      /* Unix seconds */
    int                      include_usage;     /* chunks: "usage":null */
} infer_oai_gen_t;


/*
 * The generated text in an answer: JSON-escaped as Python's json.dumps()
 * with ensure_ascii=False escapes (", \, \b \f \n \r \t, other control
 * characters as \u00XX; UTF-8, U+2028 and U+2029 as they are), except
 * that a byte that starts no valid UTF-8 sequence is written as \ufffd:
 * the answer is valid JSON whatever the tokens decode to.  A streamed
 * piece should end on a whole character (infer_oai_utf8_whole()).
 */

/*
 * The non-streamed chat completion:
 *
 *   {"id":"chatcmpl-<id>","object":"chat.completion","created":<t>,
 *    "model":"<m>","choices":[{"index":0,"message":{"role":"assistant",
 *    "content":"..."},"logprobs":null,"finish_reason":"stop"}],
 *    "usage":{"prompt_tokens":P,"completion_tokens":C,"total_tokens":P+C}}
 */
size_t infer_oai_chat_size(const infer_oai_gen_t *g, size_t len);
size_t infer_oai_write_chat(char *dst, const infer_oai_gen_t *g,
    const char *content, size_t len, infer_oai_finish_e finish,
    uint64_t prompt_tokens, uint64_t completion_tokens);

/*
 * One chunk, the whole event "data: {...}\n\n":
 *
 *   {"id":"chatcmpl-<id>","object":"chat.completion.chunk","created":<t>,
 *    "model":"<m>","choices":[{"index":0,"delta":{...},"logprobs":null,
 *    "finish_reason":null|"stop"|"length"}]} (+ ,"usage":null)
 *
 * the delta {"role":"assistant"} where role is set, with "content" where
 * content is not NULL: the first chunk has role and content "", the
 * others content, the last neither ({}) and its finish_reason.
 */
size_t infer_oai_chat_chunk_size(const infer_oai_gen_t *g, size_t len);
size_t infer_oai_write_chat_chunk(char *dst, const infer_oai_gen_t *g,
    int role, const char *content, size_t len, infer_oai_finish_e finish);

/*
 * /v1/completions, not streamed:
 *
 *   {"id":"cmpl-<id>","object":"text_completion","created":<t>,
 *    "model":"<m>","choices":[{"text":"...","index":0,"logprobs":null,
 *    "finish_reason":"stop"}],"usage":{...}}
 *
 * and one chunk of it streamed, the event "data: {...}\n\n" of the same
 * object without usage (+ ,"usage":null).
 */
size_t infer_oai_completion_size(const infer_oai_gen_t *g, size_t len);
size_t infer_oai_write_completion(char *dst, const infer_oai_gen_t *g,
    const char *text, size_t len, infer_oai_finish_e finish,
    uint64_t prompt_tokens, uint64_t completion_tokens);
size_t infer_oai_completion_chunk_size(const infer_oai_gen_t *g,
    size_t len);
size_t infer_oai_write_completion_chunk(char *dst, const infer_oai_gen_t *g,
    const char *text, size_t len, infer_oai_finish_e finish);

/*
 * With include_usage, the event after the last chunk: the chunk's object
 * (chat: 1, "chat.completion.chunk"; 0: "text_completion") with
 * "choices":[] and the usage.
 */
size_t infer_oai_usage_chunk_size(const infer_oai_gen_t *g);
size_t infer_oai_write_usage_chunk(char *dst, const infer_oai_gen_t *g,
    int chat, uint64_t prompt_tokens, uint64_t completion_tokens);

/*
 * An error once the stream has begun (the status is sent): the event
 * "data: {"error":{...}}\n\n", as OpenAI sends it; the room is
 * infer_oai_error_size() + 8.
 */
size_t infer_oai_write_error_event(char *dst, const char *msg,
    const char *type, const char *param, const char *code);

/* the stream's end */
#define INFER_OAI_DONE      "data: [DONE]\n\n"
#define INFER_OAI_DONE_LEN  (sizeof(INFER_OAI_DONE) - 1)

/*
 * The length of the longest prefix of the len bytes at p that does not
 * end inside a UTF-8 sequence that the next bytes could complete: what a
 * streamed chunk sends now, keeping the rest for the next.
 */
size_t infer_oai_utf8_whole(const char *p, size_t len);


#endif /* _INFER_OPENAI_CHAT_H_INCLUDED_ */
