/*
 * ngx_infer: the inputs of the generative endpoints' requests
 * (infer_openai_chat.h): the messages and their content parts, the
 * prompt of /v1/completions, the stop strings and logit_bias, whose
 * values go into the caller's buffers.
 */

#include <stdio.h>
#include <string.h>

#include "infer_openai_chat.h"
#include "infer_openai_chat_impl.h"


static int infer_oai_message(infer_oai_gen_parser_t *ps, int i);
static int infer_oai_parts(infer_oai_gen_parser_t *ps, int i,
    infer_chat_msg_t *m);
static int infer_oai_prompt_ids(infer_oai_gen_parser_t *ps,
    const char *where);


/* "messages": a non-empty array of messages */

int
infer_oai_messages(infer_oai_gen_parser_t *ps)
{
    int  n, rc;

    if (!infer_json_array(&ps->js, &n)) {
        return infer_oai_wrong_type(ps, "messages", "an array");
    }

    while ((rc = infer_json_element(&ps->js, &n)) == 1) {
        if (infer_oai_message(ps, n - 1) != INFER_JSON_OK) {
            return INFER_JSON_ERROR;
        }
    }

    if (rc != 0) {
        return INFER_JSON_ERROR;
    }

    if (n == 0) {
        return infer_oai_invalid(ps, "messages", "empty_array",
                                 "Invalid 'messages': empty array. Expected "
                                 "an array with minimum length 1, but got an "
                                 "empty array instead.");
    }

    return INFER_JSON_OK;
}


enum {
    INFER_OAI_M_ROLE = 0,
    INFER_OAI_M_CONTENT,
    INFER_OAI_M_NAME,
    INFER_OAI_M_TOOL_CALLS
};

static const char  *const infer_oai_message_keys[] = {
    "role", "content", "name", "tool_calls", NULL
};


/* {"role", "content", "name"?}: the role known once the object is read */

static int
infer_oai_message(infer_oai_gen_parser_t *ps, int i)
{
    int                       k, rc, role, content;
    char                      buf[16], *where;
    infer_json_str_t          val;
    infer_chat_msg_t         *m;
    infer_json_object_t       obj;
    infer_oai_gen_request_t  *req;

    req = ps->req;
    where = req->param_buf;

    if (req->nmessages == req->max_messages) {
        return infer_oai_invalid(ps, "messages", NULL,
                                 "Invalid 'messages': more than %zu messages.",
                                 req->max_messages);
    }

    m = &req->messages[req->nmessages];
    m->content = "";
    m->len = 0;

    snprintf(where, sizeof(req->param_buf), "messages[%d]", i);

    if (!infer_json_object(&ps->js, &obj)) {
        return infer_oai_wrong_type(ps, where, "an object");
    }

    role = -1;
    content = 0;

    while ((rc = infer_json_member(&ps->js, &obj, infer_oai_message_keys, &k))
           == 1)
    {
        snprintf(where, sizeof(req->param_buf), "messages[%d].%s", i,
                 infer_oai_message_keys[k]);

        if (k == INFER_OAI_M_CONTENT) {
            content = 1;
        }

        if (infer_oai_null(&ps->js)) {
            /* null content: an assistant's that calls tools only */
            content = (k == INFER_OAI_M_CONTENT) ? 2 : content;
            continue;
        }

        switch (k) {

        case INFER_OAI_M_ROLE:
            if (infer_oai_word(ps, where, buf, sizeof(buf), &val)
                != INFER_JSON_OK)
            {
                return INFER_JSON_ERROR;
            }

            role = (infer_oai_is(val, "system")
                    || infer_oai_is(val, "developer")) ? INFER_CHAT_SYSTEM
                   : infer_oai_is(val, "user") ? INFER_CHAT_USER
                   : infer_oai_is(val, "assistant") ? INFER_CHAT_ASSISTANT
                   : -1;

            if (role >= 0) {
                break;
            }

            if (infer_oai_is(val, "tool") || infer_oai_is(val, "function")) {
                return infer_oai_invalid(ps, where, INFER_OAI_UNSUPPORTED,
                                         "Unsupported value: '%s': "
                                         "'%.*s' messages need tool calling,"
                                         " which this server does not do.",
                                         where, (int) val.len, val.p);
            }

            return infer_oai_invalid(ps, where, "invalid_value",
                                     "Invalid value: '%.*s'. Supported "
                                     "values are: 'system', 'assistant', "
                                     "'user', 'function', 'tool', and "
                                     "'developer'.", (int) val.len, val.p);

        case INFER_OAI_M_CONTENT:
            if (infer_json_peek(&ps->js) == '[') {
                rc = infer_oai_parts(ps, i, m);

            } else if (infer_json_peek(&ps->js) == '"') {
                rc = infer_oai_text(ps, where, &val);
                m->content = val.p;
                m->len = val.len;

            } else {
                rc = infer_oai_wrong_type(ps, where, "one of a string or "
                                          "array of objects");
            }

            if (rc != INFER_JSON_OK) {
                return INFER_JSON_ERROR;
            }

            break;

        case INFER_OAI_M_NAME:
            if (infer_oai_text(ps, where, &val) != INFER_JSON_OK) {
                return INFER_JSON_ERROR;
            }

            break;

        default: /* INFER_OAI_M_TOOL_CALLS */
            if (infer_json_peek(&ps->js) == '[') {
                ps->js.p = infer_json_ws(ps->js.p + 1, ps->js.end);

                if (infer_json_peek(&ps->js) == ']') {
                    ps->js.p++;
                    break;
                }

                return infer_oai_invalid(ps, where, INFER_OAI_UNSUPPORTED,
                                         "Unsupported parameter: '%s': this "
                                         "server does no tool calling.",
                                         where);
            }

            return infer_oai_wrong_type(ps, where, "an array");
        }
    }

    if (rc == INFER_JSON_DECLINED) {
        snprintf(where, sizeof(req->param_buf), "messages[%d].%s", i,
                 infer_oai_message_keys[k]);

        return infer_oai_invalid(ps, where, NULL, "Invalid '%s': the key "
                                 "'%s' appears twice.", where,
                                 infer_oai_message_keys[k]);
    }

    if (rc != 0) {
        return INFER_JSON_ERROR;
    }

    if (role < 0 || (content != 1 && role != INFER_CHAT_ASSISTANT)) {
        snprintf(where, sizeof(req->param_buf), "messages[%d].%s", i,
                 (role < 0) ? "role" : "content");

        if (role >= 0 && content == 2) {
            return infer_oai_invalid(ps, where, "invalid_type",
                                     "Invalid type for '%s': expected one of"
                                     " a string or array of objects, but got"
                                     " null instead.", where);
        }

        return infer_oai_invalid(ps, where, "missing_required_parameter",
                                 "Missing required parameter: '%s'.", where);
    }

    m->role = role;
    req->nmessages++;

    return INFER_JSON_OK;
}


/*
 * An array of content parts: the text parts joined with "\n", as vLLM
 * joins them, into req->text; what is not text is refused.
 */

static int
infer_oai_parts(infer_oai_gen_parser_t *ps, int i, infer_chat_msg_t *m)
{
    int                       n, k, rc, type, texts;
    char                      buf[16], *where, *dst;
    size_t                    start, room;
    infer_json_str_t          raw, val;
    infer_json_object_t       obj;
    infer_oai_gen_request_t  *req;

    static const char  *const keys[] = { "type", "text", NULL };

    req = ps->req;
    where = req->param_buf;
    start = ps->text;
    texts = 0;

    (void) infer_json_array(&ps->js, &n);

    while ((rc = infer_json_element(&ps->js, &n)) == 1) {
        snprintf(where, sizeof(req->param_buf), "messages[%d].content[%d]",
                 i, n - 1);

        if (!infer_json_object(&ps->js, &obj)) {
            return infer_oai_wrong_type(ps, where, "an object");
        }

        type = -1;

        while ((rc = infer_json_member(&ps->js, &obj, keys, &k)) == 1) {
            snprintf(where, sizeof(req->param_buf),
                     "messages[%d].content[%d].%s", i, n - 1, keys[k]);

            if (infer_oai_null(&ps->js)) {
                obj.seen &= ~(1u << k);
                continue;
            }

            if (k == 0) {
                if (infer_oai_word(ps, where, buf, sizeof(buf), &val)
                    != INFER_JSON_OK)
                {
                    return INFER_JSON_ERROR;
                }

                type = infer_oai_is(val, "text") ? 0
                       : (infer_oai_is(val, "image_url")
                          || infer_oai_is(val, "input_audio")
                          || infer_oai_is(val, "audio")
                          || infer_oai_is(val, "file")
                          || infer_oai_is(val, "refusal")) ? 1 : -1;

                if (type < 0) {
                    return infer_oai_invalid(ps, where, "invalid_value",
                                             "Invalid value: '%.*s'. "
                                             "Supported values are: 'text', "
                                             "'image_url', 'input_audio', "
                                             "'refusal', 'audio', and "
                                             "'file'.", (int) val.len,
                                             val.p);
                }

                if (type == 1) {
                    where[strlen(where) - 5] = '\0';

                    return infer_oai_invalid(ps, where, INFER_OAI_UNSUPPORTED,
                                             "Unsupported value: '%s' is a "
                                             "'%.*s' part; this model reads "
                                             "text parts only.", where,
                                             (int) val.len, val.p);
                }

                continue;
            }

            /* the parts after the first go after a newline */
            room = (req->text != NULL) ? req->text_cap - ps->text : 0;
            dst = (req->text != NULL) ? req->text + ps->text : NULL;

            if (texts > 0) {
                if (room == 0) {
                    goto full;
                }

                *dst++ = '\n';
                room--;
            }

            rc = infer_json_string_value(&ps->js, dst, room, &raw, &val);

            if (rc == INFER_JSON_DECLINED) {
                return infer_oai_wrong_type(ps, where, "a string");
            }

            if (rc != INFER_JSON_OK) {
                return INFER_JSON_ERROR;
            }

            if (val.len == (size_t) -1 || val.len > room) {
                goto full;
            }

            if (val.p != dst && val.len > 0) {
                memcpy(dst, val.p, val.len);
            }

            ps->text += val.len + (texts > 0);
            texts++;
        }

        if (rc == INFER_JSON_DECLINED) {
            return infer_oai_invalid(ps, where, NULL, "Invalid '%s': the key "
                                     "appears twice.", where);
        }

        if (rc != 0) {
            return INFER_JSON_ERROR;
        }

        if (type < 0 || !(obj.seen & 2)) {
            snprintf(where, sizeof(req->param_buf),
                     "messages[%d].content[%d].%s", i, n - 1,
                     (type < 0) ? "type" : "text");

            return infer_oai_invalid(ps, where, "missing_required_parameter",
                                     "Missing required parameter: '%s'.",
                                     where);
        }
    }

    if (rc != 0) {
        return INFER_JSON_ERROR;
    }

    if (n == 0) {
        snprintf(where, sizeof(req->param_buf), "messages[%d].content", i);

        return infer_oai_invalid(ps, where, "empty_array",
                                 "Invalid '%s': empty array. Expected an "
                                 "array with minimum length 1, but got an "
                                 "empty array instead.", where);
    }

    m->content = (req->text != NULL) ? req->text + start : "";
    m->len = ps->text - start;

    return INFER_JSON_OK;

full:

    return infer_oai_invalid(ps, "messages", NULL,
                             "Invalid 'messages': the texts take more than "
                             "%zu bytes once unescaped.", req->text_cap);
}


/* "prompt": one text or one list of ids */

int
infer_oai_prompt(infer_oai_gen_parser_t *ps)
{
    int                       c, n, rc;
    const unsigned char      *p;
    infer_oai_gen_request_t  *req;

    req = ps->req;
    c = infer_json_peek(&ps->js);

    if (c == '"') {
        return infer_oai_text(ps, "prompt", &req->prompt);
    }

    if (c != '[') {
        return infer_oai_wrong_type(ps, "prompt", "a string, an array of "
                                    "strings, an array of integers or an "
                                    "array of arrays of integers");
    }

    p = infer_json_ws(ps->js.p + 1, ps->js.end);
    c = (p < ps->js.end) ? *p : -1;

    if (c == '-' || infer_json_digit(c)) {
        return infer_oai_prompt_ids(ps, "prompt");
    }

    if (c == ']') {
        return infer_oai_invalid(ps, "prompt", "empty_array",
                                 "Invalid 'prompt': empty array. Expected an "
                                 "array with minimum length 1, but got an "
                                 "empty array instead.");
    }

    if (c != '"' && c != '[') {
        ps->js.p = p;
        return infer_oai_wrong_type(ps, "prompt[0]", "a string, an integer "
                                    "or an array of integers");
    }

    (void) infer_json_array(&ps->js, &n);

    while ((rc = infer_json_element(&ps->js, &n)) == 1) {
        if (n > 1) {
            return infer_oai_invalid(ps, "prompt", INFER_OAI_UNSUPPORTED,
                                     "Unsupported value: 'prompt' holds "
                                     "more than one prompt; this server "
                                     "serves one prompt per request.");
        }

        rc = (c == '"') ? infer_oai_text(ps, "prompt[0]", &req->prompt)
                        : (infer_json_peek(&ps->js) == '[')
                          ? infer_oai_prompt_ids(ps, "prompt[0]")
                          : infer_oai_wrong_type(ps, "prompt[0]",
                                                 "an array of integers");
        if (rc != INFER_JSON_OK) {
            return INFER_JSON_ERROR;
        }
    }

    return rc;
}


/* an array of token ids at js->p, named where in the messages */

static int
infer_oai_prompt_ids(infer_oai_gen_parser_t *ps, const char *where)
{
    int                       n, c, rc;
    char                      tok[INFER_JSON_TOKEN + 4], *at;
    uint64_t                  m;
    infer_json_num_t          num;
    const unsigned char      *s, *p;
    infer_oai_gen_request_t  *req;

    req = ps->req;
    at = req->param_buf;

    (void) infer_json_array(&ps->js, &n);

    while ((rc = infer_json_element(&ps->js, &n)) == 1) {
        snprintf(at, sizeof(req->param_buf), "%s[%d]", where, n - 1);
        c = infer_json_peek(&ps->js);
        s = ps->js.p;

        if (c != '-' && !infer_json_digit(c)) {
            return infer_oai_wrong_type(ps, at, "an integer");
        }

        p = infer_json_number(s, ps->js.end, &num);
        if (p == NULL) {
            return infer_json_syntax(&ps->js, s, "invalid number");
        }

        if (!num.integer) {
            return infer_oai_invalid(ps, at, "invalid_type",
                                     "Invalid type for '%s': expected an "
                                     "integer, but got a decimal instead.",
                                     at);
        }

        rc = infer_json_num_integer(&num, UINT64_MAX, UINT64_MAX, &m);

        if (num.neg && (rc != INFER_JSON_OK || m != 0)) {
            return infer_oai_invalid(ps, at, "integer_below_min_value",
                                     "Invalid '%s': integer below minimum "
                                     "value. Expected a value >= 0, but got "
                                     "%s instead.", at,
                                     infer_json_token(tok, s, p - s));
        }

        if (rc != INFER_JSON_OK || m > ps->max_id) {
            if (req->vocab > 0) {
                return infer_oai_invalid(ps, at, NULL,
                                         "Invalid '%s': %s is out of the "
                                         "vocabulary (%lld tokens).", at,
                                         infer_json_token(tok, s, p - s),
                                         (long long) req->vocab);
            }

            return infer_oai_invalid(ps, at, "integer_above_max_value",
                                     "Invalid '%s': integer above maximum "
                                     "value. Expected a value <= %d, but got "
                                     "%s instead.", at, INFER_OAI_INT32_MAX,
                                     infer_json_token(tok, s, p - s));
        }

        if (ps->ids == req->ids_cap) {
            return infer_oai_invalid(ps, "prompt", NULL,
                                     "Invalid 'prompt': more than %zu token "
                                     "ids.", req->ids_cap);
        }

        req->ids[ps->ids++] = (int32_t) m;
        ps->js.p = p;
    }

    if (rc != 0) {
        return INFER_JSON_ERROR;
    }

    if (n == 0) {
        return infer_oai_invalid(ps, where, "empty_array",
                                 "Invalid '%s': empty array. Expected an "
                                 "array with minimum length 1, but got an "
                                 "empty array instead.", where);
    }

    req->prompt_kind = INFER_OAI_TOKENS;
    req->prompt_ids = req->ids;
    req->n_prompt_ids = ps->ids;

    return INFER_JSON_OK;
}


/* "stop": a string or up to 4 of them, none empty */

int
infer_oai_stop(infer_oai_gen_parser_t *ps)
{
    int                       n, rc;
    char                     *where;
    infer_json_str_t          val;
    infer_oai_gen_request_t  *req;

    req = ps->req;
    where = req->param_buf;

    if (infer_json_peek(&ps->js) == '"') {
        if (infer_oai_text(ps, "stop", &val) != INFER_JSON_OK) {
            return INFER_JSON_ERROR;
        }

        if (val.len == 0) {
            return infer_oai_invalid(ps, "stop", "invalid_value",
                                     "Invalid 'stop': empty string. Expected "
                                     "a string with minimum length 1.");
        }

        req->stop[req->nstop++] = val;
        return INFER_JSON_OK;
    }

    if (!infer_json_array(&ps->js, &n)) {
        return infer_oai_wrong_type(ps, "stop", "one of a string or array "
                                    "of strings");
    }

    while ((rc = infer_json_element(&ps->js, &n)) == 1) {
        snprintf(where, sizeof(req->param_buf), "stop[%d]", n - 1);

        if (n > INFER_OAI_MAX_STOP) {
            if (infer_json_skip(&ps->js) != INFER_JSON_OK) {
                return INFER_JSON_ERROR;
            }

            continue;
        }

        if (infer_json_peek(&ps->js) != '"') {
            return infer_oai_wrong_type(ps, where, "a string");
        }

        if (infer_oai_text(ps, where, &val) != INFER_JSON_OK) {
            return INFER_JSON_ERROR;
        }

        if (val.len == 0) {
            return infer_oai_invalid(ps, where, "invalid_value",
                                     "Invalid '%s': empty string. Expected "
                                     "a string with minimum length 1.",
                                     where);
        }

        req->stop[req->nstop++] = val;
    }

    if (rc != 0) {
        return INFER_JSON_ERROR;
    }

    if (n > INFER_OAI_MAX_STOP) {
        req->nstop = 0;

        return infer_oai_invalid(ps, "stop", "array_above_max_length",
                                 "Invalid 'stop': array too long. Expected "
                                 "an array with maximum length %d, but got "
                                 "an array with length %d instead.",
                                 INFER_OAI_MAX_STOP, n);
    }

    return INFER_JSON_OK;
}


/*
 * "logit_bias": token ids, as strings, to numbers in [-100, 100].  Its
 * keys are the data: the object is walked here, as infer_json_member()
 * walks one, with its messages.
 */

int
infer_oai_logit_bias(infer_oai_gen_parser_t *ps)
{
    int                       c;
    char                      buf[24], tok[INFER_JSON_TOKEN + 4];
    double                    d;
    size_t                    i, n;
    uint64_t                  id;
    infer_json_str_t          raw, key;
    infer_json_num_t          num;
    infer_json_object_t       obj;
    const unsigned char      *s, *p;
    infer_oai_gen_request_t  *req;

    req = ps->req;

    if (!infer_json_object(&ps->js, &obj)) {
        return infer_oai_wrong_type(ps, "logit_bias", "an object");
    }

    for (n = 0; ; n++) {
        c = infer_json_peek(&ps->js);

        if (c == '}') {
            ps->js.p++;
            return INFER_JSON_OK;
        }

        if (n > 0) {
            if (c != ',') {
                return infer_json_syntax(&ps->js, ps->js.p,
                                         "',' or '}' expected");
            }

            ps->js.p++;
            c = infer_json_peek(&ps->js);

        } else if (c != '"') {
            return infer_json_syntax(&ps->js, ps->js.p,
                                     "string or '}' expected");
        }

        if (c != '"') {
            return infer_json_syntax(&ps->js, ps->js.p, "string expected");
        }

        if (infer_json_string_value(&ps->js, buf, sizeof(buf), &raw, &key)
            != INFER_JSON_OK)
        {
            return INFER_JSON_ERROR;
        }

        if (infer_json_peek(&ps->js) != ':') {
            return infer_json_syntax(&ps->js, ps->js.p, "':' expected");
        }

        ps->js.p++;

        /* the id: decimal digits, as Python's int() of OpenAI's reads */
        for (i = 0, id = 0; key.len != (size_t) -1 && i < key.len
                            && i < 10 && infer_json_digit(key.p[i]); i++)
        {
            id = id * 10 + (key.p[i] - '0');
        }

        if (key.len == 0 || key.len == (size_t) -1 || i < key.len
            || id > ps->max_id)
        {
            infer_json_token(tok, raw.p + 1, raw.len - 2);

            if (i == key.len && key.len > 0 && req->vocab > 0) {
                return infer_oai_invalid(ps, "logit_bias", NULL,
                                         "Invalid 'logit_bias': the token id "
                                         "%s is out of the vocabulary (%lld "
                                         "tokens).", tok,
                                         (long long) req->vocab);
            }

            return infer_oai_invalid(ps, "logit_bias", "invalid_value",
                                     "Invalid 'logit_bias': the key '%s' is "
                                     "not a token id (an integer from 0 to "
                                     "%llu, as a string).", tok,
                                     (unsigned long long) ps->max_id);
        }

        c = infer_json_peek(&ps->js);
        s = ps->js.p;

        if (c != '-' && !infer_json_digit(c)) {
            snprintf(req->param_buf, sizeof(req->param_buf),
                     "logit_bias.%.*s", (int) key.len, key.p);
            return infer_oai_wrong_type(ps, req->param_buf, "a number");
        }

        p = infer_json_number(s, ps->js.end, &num);
        if (p == NULL) {
            return infer_json_syntax(&ps->js, s, "invalid number");
        }

        d = infer_json_num_double(&num, s, p);

        if (!(d >= -100.0 && d <= 100.0)) {
            return infer_oai_invalid(ps, "logit_bias", "invalid_value",
                                     "Invalid 'logit_bias': the bias of token"
                                     " %llu is %s; a bias is from -100 to "
                                     "100.", (unsigned long long) id,
                                     infer_json_token(tok, s, p - s));
        }

        for (i = 0; i < req->nbias && req->bias[i].id != (int32_t) id; i++) {
            /* void */
        }

        if (i < req->nbias) {
            return infer_oai_invalid(ps, "logit_bias", NULL,
                                     "Invalid 'logit_bias': the token id "
                                     "%llu appears twice.",
                                     (unsigned long long) id);
        }

        if (req->nbias == req->bias_cap) {
            return infer_oai_invalid(ps, "logit_bias", NULL,
                                     "Invalid 'logit_bias': more than %zu "
                                     "tokens.", req->bias_cap);
        }

        req->bias[req->nbias].id = (int32_t) id;
        req->bias[req->nbias].bias = (float) d;
        req->nbias++;
        ps->js.p = p;
    }
}


/*
 * The string at js->p: a span of the body, or unescaped into req->text;
 * anything else is named by param.
 */

int
infer_oai_text(infer_oai_gen_parser_t *ps, const char *param,
    infer_json_str_t *out)
{
    int                       rc;
    infer_json_str_t          raw;
    infer_oai_gen_request_t  *req;

    req = ps->req;

    rc = infer_json_string_value(&ps->js,
                                 req->text ? req->text + ps->text : NULL,
                                 req->text ? req->text_cap - ps->text : 0,
                                 &raw, out);

    if (rc == INFER_JSON_DECLINED) {
        return infer_oai_wrong_type(ps, param, "a string");
    }

    if (rc != INFER_JSON_OK) {
        return INFER_JSON_ERROR;
    }

    if (out->len == (size_t) -1) {
        out->len = 0;

        return infer_oai_invalid(ps, param, NULL,
                                 "Invalid '%s': the strings take more than "
                                 "%zu bytes once unescaped.", param,
                                 req->text_cap);
    }

    if (out->p != raw.p + 1) {
        ps->text += out->len;
    }

    return INFER_JSON_OK;
}


/* a short string (a role, a type) into buf; a longer one is none known */

int
infer_oai_word(infer_oai_gen_parser_t *ps, const char *param, char *buf,
    size_t size, infer_json_str_t *val)
{
    int               rc;
    infer_json_str_t  raw;

    rc = infer_json_string_value(&ps->js, buf, size, &raw, val);

    if (rc == INFER_JSON_DECLINED) {
        return infer_oai_wrong_type(ps, param, "a string");
    }

    if (rc == INFER_JSON_OK && val->len == (size_t) -1) {
        val->p = raw.p + 1;
        val->len = (raw.len - 2 > INFER_JSON_TOKEN) ? INFER_JSON_TOKEN
                                                    : raw.len - 2;
    }

    return rc;
}
