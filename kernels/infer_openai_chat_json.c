/*
 * ngx_infer: the /v1/chat/completions and /v1/completions request
 * decoders (infer_openai_chat.h), on the JSON machinery of infer_json.h.
 *
 * One pass over the body: the top-level object, "messages" or "prompt",
 * the parameters; other keys are checked as JSON and skipped.  The two
 * endpoints share their sampling keys: one table of keys, each endpoint's
 * own after the shared ones, and one table of the numeric parameters'
 * kinds and bounds, from which the messages come, in OpenAI's words.  As
 * in the embeddings decoder, the walk stops at the first refused value
 * and infer_json_report() then checks the rest of the body: malformed
 * JSON anywhere wins, and has no param nor code.
 */

#include <float.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "infer_openai_chat.h"
#include "infer_openai_chat_impl.h"


/* the keys: those both endpoints take, then each one's own */

enum {
    INFER_OAI_K_MODEL = 0,
    INFER_OAI_K_STREAM,
    INFER_OAI_K_STREAM_OPTIONS,
    INFER_OAI_K_MAX_TOKENS,
    INFER_OAI_K_TEMPERATURE,
    INFER_OAI_K_TOP_P,
    INFER_OAI_K_N,
    INFER_OAI_K_STOP,
    INFER_OAI_K_PRESENCE,
    INFER_OAI_K_FREQUENCY,
    INFER_OAI_K_SEED,
    INFER_OAI_K_LOGIT_BIAS,
    INFER_OAI_K_USER,
    INFER_OAI_K_TOP_K,
    INFER_OAI_K_MIN_P,
    INFER_OAI_K_REPETITION,
    INFER_OAI_K_IGNORE_EOS,
    INFER_OAI_K_LOGPROBS,
    INFER_OAI_K_SHARED,

    /* /v1/chat/completions */
    INFER_OAI_K_MESSAGES = INFER_OAI_K_SHARED,
    INFER_OAI_K_MAX_COMPLETION_TOKENS,
    INFER_OAI_K_TOP_LOGPROBS,
    INFER_OAI_K_TOOLS,
    INFER_OAI_K_TOOL_CHOICE,
    INFER_OAI_K_FUNCTIONS,
    INFER_OAI_K_FUNCTION_CALL,
    INFER_OAI_K_RESPONSE_FORMAT,
    INFER_OAI_K_CHAT_END,

    /* /v1/completions */
    INFER_OAI_K_PROMPT = INFER_OAI_K_CHAT_END,
    INFER_OAI_K_ECHO,
    INFER_OAI_K_SUFFIX,
    INFER_OAI_K_BEST_OF,
    INFER_OAI_K_END
};

#define INFER_OAI_SHARED_KEYS                                                 \
    "model", "stream", "stream_options", "max_tokens", "temperature",        \
    "top_p", "n", "stop", "presence_penalty", "frequency_penalty", "seed",   \
    "logit_bias", "user", "top_k", "min_p", "repetition_penalty",            \
    "ignore_eos", "logprobs"

static const char  *const infer_oai_chat_keys[] = {
    INFER_OAI_SHARED_KEYS, "messages", "max_completion_tokens",
    "top_logprobs", "tools", "tool_choice", "functions", "function_call",
    "response_format", NULL
};

static const char  *const infer_oai_completion_keys[] = {
    INFER_OAI_SHARED_KEYS, "prompt", "echo", "suffix", "best_of", NULL
};


/*
 * The numeric parameters: integer or number, the bounds (min_open: min
 * excluded) and where the value goes (-1: checked only).
 */

typedef struct {
    int                      key;
    int                      integer;
    double                   min;
    double                   max;
    int                      min_open;
    unsigned                 flag;
    ptrdiff_t                off;
} infer_oai_num_t;

#define infer_oai_off(f)      offsetof(infer_oai_sampling_t, f)

static const infer_oai_num_t  infer_oai_nums[] = {
    { INFER_OAI_K_MAX_TOKENS, 1, 1, INFER_OAI_INT32_MAX, 0,
      INFER_OAI_HAS_MAX_TOKENS, infer_oai_off(max_tokens) },
    { INFER_OAI_K_MAX_COMPLETION_TOKENS, 1, 1, INFER_OAI_INT32_MAX, 0,
      INFER_OAI_HAS_MAX_TOKENS, -1 },
    { INFER_OAI_K_TEMPERATURE, 0, 0, 2, 0,
      INFER_OAI_HAS_TEMPERATURE, infer_oai_off(temperature) },
    { INFER_OAI_K_TOP_P, 0, 0, 1, 1,
      INFER_OAI_HAS_TOP_P, infer_oai_off(top_p) },
    { INFER_OAI_K_PRESENCE, 0, -2, 2, 0,
      INFER_OAI_HAS_PRESENCE, infer_oai_off(presence_penalty) },
    { INFER_OAI_K_FREQUENCY, 0, -2, 2, 0,
      INFER_OAI_HAS_FREQUENCY, infer_oai_off(frequency_penalty) },
    { INFER_OAI_K_SEED, 1, -9223372036854775807.0 - 1,
      9223372036854775807.0, 0, INFER_OAI_HAS_SEED, infer_oai_off(seed) },
    { INFER_OAI_K_TOP_K, 1, -1, INFER_OAI_INT32_MAX, 0,
      INFER_OAI_HAS_TOP_K, infer_oai_off(top_k) },
    { INFER_OAI_K_MIN_P, 0, 0, 1, 0,
      INFER_OAI_HAS_MIN_P, infer_oai_off(min_p) },
    { INFER_OAI_K_REPETITION, 0, 0, DBL_MAX, 1,
      INFER_OAI_HAS_REPETITION, infer_oai_off(repetition_penalty) },
    { INFER_OAI_K_N, 1, 1, INFER_OAI_INT32_MAX, 0, 0, -1 },
    { INFER_OAI_K_BEST_OF, 1, 1, INFER_OAI_INT32_MAX, 0, 0, -1 },
    { INFER_OAI_K_TOP_LOGPROBS, 1, 0, 20, 0, 0, -1 },
    { -1, 0, 0, 0, 0, 0, 0 }
};


static int infer_oai_gen_decode(infer_oai_gen_request_t *req,
    const char *body, size_t len, int chat);
static int infer_oai_gen_request(infer_oai_gen_parser_t *ps);
static int infer_oai_gen_key(infer_oai_gen_parser_t *ps, int key);
static int infer_oai_number(infer_oai_gen_parser_t *ps,
    const infer_oai_num_t *nm, const char *name);
static int infer_oai_stream_options(infer_oai_gen_parser_t *ps);
static int infer_oai_response_format(infer_oai_gen_parser_t *ps);
static int infer_oai_choice(infer_oai_gen_parser_t *ps, const char *name);
static int infer_oai_model(infer_oai_gen_parser_t *ps);


int
infer_oai_decode_chat(infer_oai_gen_request_t *req, const char *body,
    size_t len)
{
    return infer_oai_gen_decode(req, body, len, 1);
}


int
infer_oai_decode_completion(infer_oai_gen_request_t *req, const char *body,
    size_t len)
{
    return infer_oai_gen_decode(req, body, len, 0);
}


static int
infer_oai_gen_decode(infer_oai_gen_request_t *req, const char *body,
    size_t len, int chat)
{
    infer_oai_sampling_t    *s;
    infer_oai_gen_parser_t   ps;

    req->model.p = NULL;
    req->model.len = 0;
    req->nmessages = 0;
    req->prompt_kind = INFER_OAI_TEXT;
    req->prompt.p = NULL;
    req->prompt.len = 0;
    req->prompt_ids = NULL;
    req->n_prompt_ids = 0;
    req->nstop = 0;
    req->nbias = 0;
    req->stream = 0;
    req->include_usage = 0;
    req->status = 0;
    req->param = NULL;
    req->code = NULL;

    s = &req->sampling;
    memset(s, 0, sizeof(infer_oai_sampling_t));
    s->temperature = 1.0;
    s->top_p = 1.0;
    s->repetition_penalty = 1.0;

    if (body == NULL) {
        body = "";
        len = 0;
    }

    infer_json_init(&ps.js, body, len, req->err, sizeof(req->err));
    ps.req = req;
    ps.text = 0;
    ps.ids = 0;
    ps.mct = 0;
    ps.chat = chat;
    ps.max_id = (req->vocab > 0 && req->vocab - 1 < INFER_OAI_INT32_MAX)
                ? (uint64_t) req->vocab - 1 : INFER_OAI_INT32_MAX;

    if (infer_oai_gen_request(&ps) == INFER_JSON_OK) {
        return 0;
    }

    infer_json_report(&ps.js);

    if (ps.js.kind == INFER_JSON_SYNTAX) {
        req->param = NULL;
        req->code = NULL;
    }

    req->status = 400;
    req->nmessages = 0;

    return -1;
}


static int
infer_oai_gen_request(infer_oai_gen_parser_t *ps)
{
    int                       k, key, rc, need;
    unsigned                  given;
    const char *const        *keys;
    infer_json_object_t       obj;
    infer_oai_gen_request_t  *req;

    req = ps->req;
    keys = ps->chat ? infer_oai_chat_keys : infer_oai_completion_keys;

    if (!infer_json_object(&ps->js, &obj)) {
        return infer_oai_invalid(ps, NULL, "invalid_type",
                                 "Invalid type for the request body: "
                                 "expected an object, but got %s instead.",
                                 infer_oai_type(&ps->js));
    }

    given = 0;

    while ((rc = infer_json_member(&ps->js, &obj, keys, &k)) == 1) {
        key = (ps->chat || k < INFER_OAI_K_SHARED)
              ? k : k + (INFER_OAI_K_CHAT_END - INFER_OAI_K_SHARED);

        /* null is as if the key were absent */
        if (infer_oai_null(&ps->js)) {
            continue;
        }

        given |= 1u << k;

        if (infer_oai_gen_key(ps, key) != INFER_JSON_OK) {
            return INFER_JSON_ERROR;
        }
    }

    /* the second would win in Python's json: better said than guessed */
    if (rc == INFER_JSON_DECLINED) {
        return infer_oai_invalid(ps, keys[k], NULL,
                                 "Invalid request body: the key '%s' "
                                 "appears twice.", keys[k]);
    }

    if (rc != 0) {
        return INFER_JSON_ERROR;
    }

    if (infer_json_peek(&ps->js) != -1) {
        return infer_json_syntax(&ps->js, ps->js.p, "end of file expected");
    }

    if (!((given >> INFER_OAI_K_MODEL) & 1)) {
        return infer_oai_invalid(ps, "model", NULL,
                                 "you must provide a model parameter");
    }

    need = INFER_OAI_K_SHARED;

    if (!((given >> need) & 1)) {
        return infer_oai_invalid(ps, keys[need], "missing_required_parameter",
                                 "Missing required parameter: '%s'.",
                                 keys[need]);
    }

    if (((given >> INFER_OAI_K_STREAM_OPTIONS) & 1) && !req->stream) {
        return infer_oai_invalid(ps, "stream_options", "invalid_value",
                                 "The 'stream_options' parameter is only "
                                 "allowed when 'stream' is enabled.");
    }

    if (ps->mct > 0) {
        req->sampling.max_tokens = ps->mct;
    }

    return INFER_JSON_OK;
}


static int
infer_oai_gen_key(infer_oai_gen_parser_t *ps, int key)
{
    int                       c, v, rc;
    const char               *name;
    infer_json_str_t          raw, val;
    const infer_oai_num_t    *nm;
    infer_oai_gen_request_t  *req;

    req = ps->req;
    name = (key < INFER_OAI_K_CHAT_END) ? infer_oai_chat_keys[key]
           : infer_oai_completion_keys[key - INFER_OAI_K_CHAT_END
                                       + INFER_OAI_K_SHARED];

    for (nm = infer_oai_nums; nm->key >= 0; nm++) {
        if (nm->key == key) {
            return infer_oai_number(ps, nm, name);
        }
    }

    switch (key) {

    case INFER_OAI_K_MODEL:
        return infer_oai_model(ps);

    case INFER_OAI_K_MESSAGES:
        return infer_oai_messages(ps);

    case INFER_OAI_K_PROMPT:
        return infer_oai_prompt(ps);

    case INFER_OAI_K_STOP:
        return infer_oai_stop(ps);

    case INFER_OAI_K_LOGIT_BIAS:
        return infer_oai_logit_bias(ps);

    case INFER_OAI_K_STREAM_OPTIONS:
        return infer_oai_stream_options(ps);

    case INFER_OAI_K_RESPONSE_FORMAT:
        return infer_oai_response_format(ps);

    case INFER_OAI_K_TOOL_CHOICE:
    case INFER_OAI_K_FUNCTION_CALL:
        return infer_oai_choice(ps, name);

    case INFER_OAI_K_USER:
    case INFER_OAI_K_SUFFIX:
        rc = infer_json_string_value(&ps->js, NULL, 0, &raw, &val);

        if (rc == INFER_JSON_DECLINED) {
            return infer_oai_wrong_type(ps, name, "a string");
        }

        if (rc != INFER_JSON_OK || key == INFER_OAI_K_USER) {
            return rc;
        }

        return infer_oai_invalid(ps, name, INFER_OAI_UNSUPPORTED,
                                 "Unsupported parameter: 'suffix': this "
                                 "server does not insert text.");

    case INFER_OAI_K_TOOLS:
    case INFER_OAI_K_FUNCTIONS:
        if (infer_json_peek(&ps->js) != '[') {
            return infer_oai_wrong_type(ps, name, "an array");
        }

        ps->js.p = infer_json_ws(ps->js.p + 1, ps->js.end);

        if (infer_json_peek(&ps->js) == ']') {
            ps->js.p++;
            return INFER_JSON_OK;
        }

        return infer_oai_invalid(ps, name, INFER_OAI_UNSUPPORTED,
                                 "Unsupported parameter: '%s': this server "
                                 "does no tool calling.", name);

    case INFER_OAI_K_LOGPROBS:
        if (!ps->chat) {
            /* /v1/completions' logprobs is how many */
            c = infer_json_peek(&ps->js);

            if (c == '-' || infer_json_digit(c)) {
                return infer_oai_invalid(ps, name, INFER_OAI_UNSUPPORTED,
                                         "Unsupported parameter: 'logprobs':"
                                         " this server does not return log "
                                         "probabilities.");
            }

            return infer_oai_wrong_type(ps, name, "an integer");
        }

        /* fall through */

    default: /* stream, ignore_eos, echo */
        if (infer_json_bool(&ps->js, &v) != INFER_JSON_OK) {
            return infer_oai_wrong_type(ps, name, "a boolean");
        }

        if (key == INFER_OAI_K_STREAM) {
            req->stream = v;

        } else if (key == INFER_OAI_K_IGNORE_EOS) {
            req->sampling.ignore_eos = v;
            req->sampling.given |= INFER_OAI_HAS_IGNORE_EOS;

        } else if (v) {
            return infer_oai_invalid(ps, name, INFER_OAI_UNSUPPORTED,
                                     (key == INFER_OAI_K_ECHO)
                                     ? "Unsupported value: 'echo' must be "
                                       "false: this server does not echo "
                                       "the prompt."
                                     : "Unsupported value: 'logprobs' must "
                                       "be false: this server does not "
                                       "return log probabilities.");
        }

        return INFER_JSON_OK;
    }
}


/* a number or an integer of infer_oai_nums, in OpenAI's messages */

static int
infer_oai_number(infer_oai_gen_parser_t *ps, const infer_oai_num_t *nm,
    const char *name)
{
    int                   c, rc, below, above;
    char                  tok[INFER_JSON_TOKEN + 4], bound[32];
    double                d;
    int64_t               i;
    uint64_t              m;
    infer_json_num_t      num;
    const char           *kind;
    const unsigned char  *s, *p;

    c = infer_json_peek(&ps->js);
    s = ps->js.p;

    if (c != '-' && !infer_json_digit(c)) {
        return infer_oai_wrong_type(ps, name, nm->integer ? "an integer"
                                                          : "a number");
    }

    p = infer_json_number(s, ps->js.end, &num);
    if (p == NULL) {
        return infer_json_syntax(&ps->js, s, "invalid number");
    }

    i = 0;

    if (nm->integer) {
        if (!num.integer) {
            return infer_oai_invalid(ps, name, "invalid_type",
                                     "Invalid type for '%s': expected an "
                                     "integer, but got a decimal instead.",
                                     name);
        }

        rc = infer_json_num_integer(&num, INT64_MAX,
                                    (uint64_t) INT64_MAX + 1, &m);

        if (rc != INFER_JSON_OK) {
            below = num.neg;
            above = !num.neg;

        } else {
            i = num.neg ? (int64_t) (0 - m) : (int64_t) m;
            below = (double) i < nm->min;
            above = (double) i > nm->max;
        }

        d = (double) i;

    } else {
        d = infer_json_num_double(&num, s, p);
        below = nm->min_open ? !(d > nm->min) : !(d >= nm->min);
        above = !(d <= nm->max);
    }

    if (below || above) {
        d = above ? nm->max : nm->min;

        /* the int64 bounds, which a double does not hold exactly */
        snprintf(bound, sizeof(bound), !nm->integer ? "%s %g"
                 : (d > 9e18) ? "%s 9223372036854775807"
                 : (d < -9e18) ? "%s -9223372036854775808" : "%s %.0f",
                 above ? "<=" : nm->min_open ? ">" : ">=", d);

        return infer_oai_invalid(ps, name,
                                 nm->integer ? (above
                                                ? "integer_above_max_value"
                                                : "integer_below_min_value")
                                 : (above ? "decimal_above_max_value"
                                          : "decimal_below_min_value"),
                                 "Invalid '%s': %s %s value. Expected a "
                                 "value %s, but got %s instead.", name,
                                 nm->integer ? "integer" : "decimal",
                                 above ? "above maximum" : "below minimum",
                                 bound, infer_json_token(tok, s, p - s));
    }

    ps->js.p = p;

    if (nm->key == INFER_OAI_K_MAX_COMPLETION_TOKENS) {
        ps->mct = i;
    }

    ps->req->sampling.given |= nm->flag;

    if (nm->off >= 0) {
        if (nm->integer) {
            memcpy((char *) &ps->req->sampling + nm->off, &i, sizeof(i));

        } else {
            memcpy((char *) &ps->req->sampling + nm->off, &d, sizeof(d));
        }
    }

    if (nm->key == INFER_OAI_K_TOP_K && i < 0) {
        ps->req->sampling.top_k = 0;
    }

    kind = (nm->key == INFER_OAI_K_N) ? "choices (n)"
           : (nm->key == INFER_OAI_K_BEST_OF) ? "candidates (best_of)"
           : NULL;

    if (kind != NULL && i > 1) {
        return infer_oai_invalid(ps, name, INFER_OAI_UNSUPPORTED,
                                 "Unsupported value: '%s' must be 1: this "
                                 "server generates one of the %s per "
                                 "request, but got %lld.", name, kind,
                                 (long long) i);
    }

    if (nm->key == INFER_OAI_K_TOP_LOGPROBS && i > 0) {
        return infer_oai_invalid(ps, name, INFER_OAI_UNSUPPORTED,
                                 "Unsupported value: 'top_logprobs' must be "
                                 "0: this server does not return log "
                                 "probabilities.");
    }

    return INFER_JSON_OK;
}


static int
infer_oai_stream_options(infer_oai_gen_parser_t *ps)
{
    int                  k, v, rc;
    infer_json_object_t  obj;

    static const char  *const keys[] = { "include_usage", NULL };

    if (!infer_json_object(&ps->js, &obj)) {
        return infer_oai_wrong_type(ps, "stream_options", "an object");
    }

    while ((rc = infer_json_member(&ps->js, &obj, keys, &k)) == 1) {
        if (infer_oai_null(&ps->js)) {
            continue;
        }

        if (infer_json_bool(&ps->js, &v) != INFER_JSON_OK) {
            return infer_oai_wrong_type(ps, "stream_options.include_usage",
                                        "a boolean");
        }

        ps->req->include_usage = v;
    }

    if (rc == INFER_JSON_DECLINED) {
        return infer_oai_invalid(ps, "stream_options.include_usage", NULL,
                                 "Invalid 'stream_options': the key "
                                 "'include_usage' appears twice.");
    }

    return rc;
}


/* {"type": "text"}: JSON output is not constrained here */

static int
infer_oai_response_format(infer_oai_gen_parser_t *ps)
{
    int                  k, rc, text;
    char                 buf[16];
    infer_json_str_t     val;
    infer_json_object_t  obj;

    static const char  *const keys[] = { "type", NULL };

    if (!infer_json_object(&ps->js, &obj)) {
        return infer_oai_wrong_type(ps, "response_format", "an object");
    }

    text = 0;

    while ((rc = infer_json_member(&ps->js, &obj, keys, &k)) == 1) {
        if (infer_oai_word(ps, "response_format.type", buf, sizeof(buf),
                           &val) != INFER_JSON_OK)
        {
            return INFER_JSON_ERROR;
        }

        if (infer_oai_is(val, "json_object")
            || infer_oai_is(val, "json_schema"))
        {
            return infer_oai_invalid(ps, "response_format.type",
                                     INFER_OAI_UNSUPPORTED,
                                     "Unsupported value: 'response_format."
                                     "type' must be 'text': this server does"
                                     " not constrain the output to JSON.");
        }

        if (!infer_oai_is(val, "text")) {
            return infer_oai_invalid(ps, "response_format.type",
                                     "invalid_value", "Invalid value: "
                                     "'%.*s'. Supported values are: 'text', "
                                     "'json_object', and 'json_schema'.",
                                     (int) val.len, val.p);
        }

        text = 1;
    }

    if (rc == INFER_JSON_DECLINED) {
        return infer_oai_invalid(ps, "response_format.type", NULL,
                                 "Invalid 'response_format': the key 'type' "
                                 "appears twice.");
    }

    if (rc == 0 && !text) {
        return infer_oai_invalid(ps, "response_format.type",
                                 "missing_required_parameter",
                                 "Missing required parameter: "
                                 "'response_format.type'.");
    }

    return rc;
}


/* "tool_choice", "function_call": "none" or "auto" (no tools: none) */

static int
infer_oai_choice(infer_oai_gen_parser_t *ps, const char *name)
{
    char              buf[16];
    infer_json_str_t  val;

    if (infer_json_peek(&ps->js) == '{') {
        return infer_oai_invalid(ps, name, INFER_OAI_UNSUPPORTED,
                                 "Unsupported value: '%s': this server does "
                                 "no tool calling.", name);
    }

    if (infer_oai_word(ps, name, buf, sizeof(buf), &val) != INFER_JSON_OK) {
        return INFER_JSON_ERROR;
    }

    if (infer_oai_is(val, "none") || infer_oai_is(val, "auto")) {
        return INFER_JSON_OK;
    }

    if (infer_oai_is(val, "required")) {
        return infer_oai_invalid(ps, name, INFER_OAI_UNSUPPORTED,
                                 "Unsupported value: '%s': this server does "
                                 "no tool calling.", name);
    }

    return infer_oai_invalid(ps, name, "invalid_value",
                             "Invalid value: '%.*s'. Supported values are: "
                             "'none', 'auto', and 'required'.",
                             (int) val.len, val.p);
}


/* OpenAI's message for a missing model is also its message for "" */

static int
infer_oai_model(infer_oai_gen_parser_t *ps)
{
    int                       rc;
    infer_json_str_t          raw;
    infer_oai_gen_request_t  *req;

    req = ps->req;

    rc = infer_json_string_value(&ps->js, req->scratch, sizeof(req->scratch),
                                 &raw, &req->model);

    if (rc == INFER_JSON_DECLINED) {
        return infer_oai_wrong_type(ps, "model", "a string");
    }

    if (rc != INFER_JSON_OK) {
        return INFER_JSON_ERROR;
    }

    if (req->model.len == (size_t) -1) {
        req->model.p = NULL;
        req->model.len = 0;

        /* the unescaping stops where an escape may not fit in 4 bytes */
        return infer_oai_invalid(ps, "model", NULL,
                                 "Invalid 'model': longer than %zu bytes "
                                 "once unescaped.", sizeof(req->scratch) - 4);
    }

    if (req->model.len == 0) {
        return infer_oai_invalid(ps, "model", NULL,
                                 "you must provide a model parameter");
    }

    return INFER_JSON_OK;
}


int
infer_oai_wrong_type(infer_oai_gen_parser_t *ps, const char *param,
    const char *expected)
{
    return infer_oai_invalid(ps, param, "invalid_type",
                             "Invalid type for '%s': expected %s, but got %s "
                             "instead.", param, expected,
                             infer_oai_type(&ps->js));
}


int
infer_oai_invalid(infer_oai_gen_parser_t *ps, const char *param,
    const char *code, const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    vsnprintf(ps->js.err, ps->js.errlen, fmt, args);
    va_end(args);

    ps->js.kind = INFER_JSON_INVALID;
    ps->req->param = param;
    ps->req->code = code;

    return INFER_JSON_ERROR;
}
