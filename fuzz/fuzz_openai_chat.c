/*
 * ngx_infer fuzzing: infer_oai_decode_chat() and
 * infer_oai_decode_completion() on arbitrary bytes, the chat templates
 * over what they decoded, the answers written for it; and the same bytes
 * as a chat template, which the Jinja2 lexer must take or refuse without
 * reading past them.
 *
 * Each body is decoded from libFuzzer's buffer (a malloc() of exactly its
 * size) into buffers of exactly their caps, twice: with room for
 * everything, and with small caps, where refusals must come as messages.
 * Checked beside ASan and UBSan: a success gives spans inside the body or
 * the caller's buffers, valid UTF-8, values within their bounds, and
 * agrees with jansson on what the body holds; a failure is a 400 with a
 * message of valid UTF-8, "malformed JSON" exactly when jansson refuses
 * the body; every answer parses back with jansson and holds the text it
 * was given; a template renders into no more than its _size().
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "infer_chat.h"
#include "infer_openai_chat.h"


#define fuzz_check(cond)                                                      \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "fuzz_openai_chat: %s:%d: %s\n", __FILE__,       \
                    __LINE__, #cond);                                         \
            abort();                                                          \
        }                                                                     \
    } while (0)


typedef struct {
    size_t                   max_messages;
    size_t                   ids_cap;
    size_t                   bias_cap;
    int64_t                  vocab;
    int                      small_text;   /* text_cap 16, else the body's */
} fuzz_caps_t;

static const fuzz_caps_t  fuzz_caps[] = {
    { 64, 4096, 300, 0, 0 },
    { 2, 3, 1, 100, 1 },
};

#define FUZZ_NCAPS  (sizeof(fuzz_caps) / sizeof(fuzz_caps[0]))


static void *
fuzz_alloc(size_t n)
{
    void  *p;

    p = malloc(n ? n : 1);
    fuzz_check(p != NULL);

    return p;
}


static int
fuzz_inside(const void *p, size_t len, const void *base, size_t size)
{
    const char  *s, *b;

    s = p;
    b = base;

    return len == 0 || (s >= b && len <= size
                        && (size_t) (s - b) <= size - len);
}


static void
fuzz_utf8(const char *p, size_t len)
{
    json_t  *v;

    /* json_stringn() takes valid UTF-8 only */
    v = json_stringn(len ? p : "", len);
    fuzz_check(v != NULL);
    json_decref(v);
}


/* jansson's reasons for refusing what RFC 8259 allows */

static int
fuzz_jansson_limit(const json_error_t *jerr)
{
    return strstr(jerr->text, "too big") != NULL
           || strstr(jerr->text, "real number overflow") != NULL
           || strstr(jerr->text, "maximum parsing depth") != NULL
           || strstr(jerr->text, "NUL byte in object key") != NULL;
}


static void
fuzz_success(const infer_oai_gen_request_t *req, int chat, const char *body,
    size_t len, json_t *root)
{
    size_t                       i;
    json_t                      *v;
    const infer_json_str_t      *s;
    const infer_oai_sampling_t  *sp;

    fuzz_check(req->status == 0 && req->param == NULL && req->code == NULL);
    fuzz_check(req->model.len > 0
               && (fuzz_inside(req->model.p, req->model.len, body, len)
                   || fuzz_inside(req->model.p, req->model.len, req->scratch,
                                  sizeof(req->scratch))));

    if (chat) {
        fuzz_check(req->nmessages >= 1
                   && req->nmessages <= req->max_messages);

        for (i = 0; i < req->nmessages; i++) {
            fuzz_check(req->messages[i].role <= INFER_CHAT_ASSISTANT);
            fuzz_check(req->messages[i].len == 0
                       || fuzz_inside(req->messages[i].content,
                                      req->messages[i].len, body, len)
                       || fuzz_inside(req->messages[i].content,
                                      req->messages[i].len, req->text,
                                      req->text_cap));
            fuzz_utf8(req->messages[i].content, req->messages[i].len);
        }

        v = json_object_get(root, "messages");
        fuzz_check(root == NULL || json_array_size(v) == req->nmessages);

    } else if (req->prompt_kind == INFER_OAI_TEXT) {
        fuzz_utf8(req->prompt.p, req->prompt.len);

    } else {
        fuzz_check(req->n_prompt_ids >= 1
                   && req->n_prompt_ids <= req->ids_cap);

        for (i = 0; i < req->n_prompt_ids; i++) {
            fuzz_check(req->prompt_ids[i] >= 0
                       && (req->vocab == 0
                           || req->prompt_ids[i] < req->vocab));
        }
    }

    for (i = 0; i < req->nstop; i++) {
        s = &req->stop[i];
        fuzz_check(s->len > 0 && i < INFER_OAI_MAX_STOP);
        fuzz_utf8(s->p, s->len);
    }

    for (i = 0; i < req->nbias; i++) {
        fuzz_check(req->bias[i].id >= 0 && req->bias[i].bias >= -100.0f
                   && req->bias[i].bias <= 100.0f);
    }

    sp = &req->sampling;
    fuzz_check(sp->temperature >= 0.0 && sp->temperature <= 2.0);
    fuzz_check(sp->top_p > 0.0 && sp->top_p <= 1.0);
    fuzz_check(sp->min_p >= 0.0 && sp->min_p <= 1.0);
    fuzz_check(sp->top_k >= 0 && sp->repetition_penalty > 0.0);
    fuzz_check(sp->presence_penalty >= -2.0 && sp->presence_penalty <= 2.0);
    fuzz_check(sp->frequency_penalty >= -2.0
               && sp->frequency_penalty <= 2.0);
    fuzz_check(sp->max_tokens >= 0 && sp->max_tokens <= INT32_MAX);
    fuzz_check(!req->include_usage || req->stream);
}


static void
fuzz_failure(const infer_oai_gen_request_t *req)
{
    size_t  n;

    n = strnlen(req->err, INFER_OAI_ERRLEN);
    fuzz_check(n > 0 && n < INFER_OAI_ERRLEN);
    fuzz_check(req->status == 400 && req->nmessages == 0);
    fuzz_utf8(req->err, n);

    if (strncmp(req->err, "malformed JSON", 14) == 0) {
        fuzz_check(req->param == NULL && req->code == NULL);
    }

    if (req->param != NULL) {
        fuzz_utf8(req->param, strlen(req->param));
    }
}


/* the answers, with text taken from the decoded request and the body */

static void
fuzz_answers(const infer_oai_gen_request_t *req, const char *body,
    size_t len)
{
    char             *buf;
    size_t            size, n, tlen, k;
    json_t           *root, *v;
    const char       *text;
    json_error_t      jerr;
    infer_oai_gen_t   g;

    g.id = body;
    g.id_len = len < 8 ? len : 8;
    g.model = req->model.p;
    g.model_len = req->model.len;
    g.created = (int64_t) len - 3;
    g.include_usage = req->include_usage;

    /* any bytes: what is not UTF-8 must come out as U+FFFD, still JSON */
    text = body;
    tlen = len;

    size = infer_oai_chat_size(&g, tlen);
    buf = fuzz_alloc(size);
    n = infer_oai_write_chat(buf, &g, text, tlen, INFER_OAI_FINISH_STOP,
                             len, req->nmessages);
    fuzz_check(n <= size);
    root = json_loadb(buf, n, JSON_ALLOW_NUL, &jerr);
    fuzz_check(root != NULL);
    v = json_object_get(json_object_get(json_array_get(
            json_object_get(root, "choices"), 0), "message"), "content");
    fuzz_check(json_is_string(v) && json_string_length(v) >= tlen / 4);
    json_decref(root);
    free(buf);

    k = infer_oai_utf8_whole(text, tlen);
    fuzz_check(k <= tlen && tlen - k <= 3);

    size = infer_oai_chat_chunk_size(&g, k);
    buf = fuzz_alloc(size);
    n = infer_oai_write_chat_chunk(buf, &g, len & 1, text, k,
                                   INFER_OAI_FINISH_NONE);
    fuzz_check(n <= size && n > 8 && memcmp(buf, "data: ", 6) == 0
               && memcmp(buf + n - 2, "\n\n", 2) == 0);
    root = json_loadb(buf + 6, n - 8, JSON_ALLOW_NUL, &jerr);
    fuzz_check(root != NULL);
    json_decref(root);
    free(buf);

    size = infer_oai_completion_chunk_size(&g, tlen);
    buf = fuzz_alloc(size);
    n = infer_oai_write_completion_chunk(buf, &g, text, tlen,
                                         INFER_OAI_FINISH_LENGTH);
    fuzz_check(n <= size);
    root = json_loadb(buf + 6, n - 8, JSON_ALLOW_NUL, &jerr);
    fuzz_check(root != NULL);
    json_decref(root);
    free(buf);

    size = infer_oai_usage_chunk_size(&g);
    buf = fuzz_alloc(size);
    n = infer_oai_write_usage_chunk(buf, &g, 1, UINT64_MAX / 2, len);
    fuzz_check(n <= size);
    free(buf);
}


/* the decoded messages through each named template */

static void
fuzz_templates(const infer_oai_gen_request_t *req)
{
    char                   err[256], *buf;
    size_t                 i, size, n;
    infer_chat_template_t  t;

    static const char  *names[] = { "chatml", "llama3", "gemma" };

    for (i = 0; i < 3; i++) {
        fuzz_check(infer_chat_template_named(&t, names[i], "<s>", "</s>",
                                             err, sizeof(err)) == 0);

        size = infer_chat_apply_size(&t, req->messages, req->nmessages);
        buf = fuzz_alloc(size);
        n = infer_chat_apply(&t, req->messages, req->nmessages, 1, buf, err,
                             sizeof(err));
        fuzz_check(n == (size_t) -1 ? i == 2 : n <= size);

        if (n != (size_t) -1) {
            fuzz_utf8(buf, n);
        }

        free(buf);
        infer_chat_template_free(&t);
    }
}


/* the bytes as a template: taken or refused, within its bounds */

static void
fuzz_as_template(const char *body, size_t len)
{
    char                   err[512], *buf;
    size_t                 size, n;
    infer_chat_msg_t       m[2];
    infer_chat_template_t  t;

    if (infer_chat_template_init(&t, body, len, "<s>", "</s>", err,
                                 sizeof(err)) != 0)
    {
        fuzz_check(err[0] != '\0' && strlen(err) < sizeof(err));
        return;
    }

    m[0].role = INFER_CHAT_USER;
    m[0].content = " hi ";
    m[0].len = 4;
    m[1].role = INFER_CHAT_ASSISTANT;
    m[1].content = "yo";
    m[1].len = 2;

    size = infer_chat_apply_size(&t, m, 2);
    buf = fuzz_alloc(size);
    n = infer_chat_apply(&t, m, 2, 1, buf, err, sizeof(err));
    fuzz_check(n == (size_t) -1 || n <= size);
    free(buf);
    infer_chat_template_free(&t);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                       rc, chat, malformed;
    size_t                    m, text_cap;
    json_t                   *root;
    const char               *body;
    json_error_t              jerr;
    const fuzz_caps_t        *fc;
    infer_oai_gen_request_t   req;

    body = (const char *) data;
    root = json_loadb(body, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);

    for (chat = 0; chat < 2; chat++) {
        for (m = 0; m < FUZZ_NCAPS; m++) {
            fc = &fuzz_caps[m];
            text_cap = fc->small_text ? 16 : size;

            memset(&req, 0, sizeof(req));
            req.messages = fuzz_alloc(fc->max_messages
                                      * sizeof(infer_chat_msg_t));
            req.max_messages = fc->max_messages;
            req.text = fuzz_alloc(text_cap);
            req.text_cap = text_cap;
            req.ids = fuzz_alloc(fc->ids_cap * sizeof(int32_t));
            req.ids_cap = fc->ids_cap;
            req.bias = fuzz_alloc(fc->bias_cap * sizeof(infer_oai_bias_t));
            req.bias_cap = fc->bias_cap;
            req.vocab = fc->vocab;

            /* a stale message or status must not survive a decode */
            memset(req.err, 'x', sizeof(req.err));
            req.status = 500;

            rc = chat ? infer_oai_decode_chat(&req, body, size)
                      : infer_oai_decode_completion(&req, body, size);

            malformed = (rc != 0
                         && strncmp(req.err, "malformed JSON", 14) == 0);

            if (rc == 0) {
                fuzz_success(&req, chat, body, size, root);
                fuzz_answers(&req, body, size);

                if (chat) {
                    fuzz_templates(&req);
                }

            } else {
                fuzz_check(rc == -1);
                fuzz_failure(&req);
            }

            if (root == NULL && !fuzz_jansson_limit(&jerr) && !malformed) {
                fprintf(stderr, "fuzz_openai_chat: jansson refuses the body "
                        "(%s), the decoder says: %s\n", jerr.text,
                        rc == 0 ? "OK" : req.err);
                abort();
            }

            /* jansson skips a raw NUL byte after a number ("1\0" is JSON) */
            if (root != NULL && malformed
                && memchr(body, '\0', size) == NULL)
            {
                fprintf(stderr, "fuzz_openai_chat: jansson accepts the "
                        "body, the decoder says: %s\n", req.err);
                abort();
            }

            free(req.messages);
            free(req.text);
            free(req.ids);
            free(req.bias);
        }
    }

    json_decref(root);

    fuzz_as_template(body, size);

    return 0;
}
