/*
 * Unit tests of the chat templates (kernels/infer_chat.h) and of the
 * chat and completions codec (kernels/infer_openai_chat.h), TAP output.
 *
 *     make build/test_chat && prove t/015-chat.t
 *     build/test_chat [t/fixtures/chat]
 *
 * Without fixtures: the named templates, the recognizer's refusals, the
 * decoders' values and every error with its status, message, param and
 * code, the writers' exact bytes for fixed cases.  With the fixtures of
 * t/lib/gen_chat.py: every template against jinja2's rendering, byte for
 * byte, the messages going through the decoder first as a body; every
 * writer against json.dumps() of what the openai client's types parse.
 * Bodies are decoded from a malloc()ed copy of their exact size, answers
 * written into a malloc() of exactly their _size(), so that ASan and
 * valgrind see a read or a write past the end.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "infer_chat.h"
#include "infer_openai_chat.h"

#include "tap.h"


#define TEST_MAX_MSGS  64


typedef struct {
    int          chat;           /* the endpoint */
    const char  *body;
    const char  *param;          /* NULL: null */
    const char  *code;
    const char  *err;
} test_error_t;


static infer_chat_msg_t         test_msgs[TEST_MAX_MSGS];
static int32_t                  test_ids[8];
static infer_oai_bias_t         test_bias[4];
static infer_oai_gen_request_t  test_req;
static char                    *test_body;
static char                    *test_text;
static size_t                   test_len;
static size_t                   test_text_cap;     /* 0: the body's */
static size_t                   test_max_msgs = TEST_MAX_MSGS;


/* decodes a copy of exactly len bytes; text_cap: the body's length */

static int
decode_len(int chat, const char *body, size_t len, int64_t vocab)
{
    memset(&test_req, 0, sizeof(test_req));
    test_body = exact_copy(test_body, body, len);
    test_len = len;
    test_text = exact_copy(test_text, "", len);

    test_req.messages = test_msgs;
    test_req.max_messages = test_max_msgs;
    test_req.text = test_text;
    test_req.text_cap = test_text_cap ? test_text_cap : len;
    test_req.ids = test_ids;
    test_req.ids_cap = 8;
    test_req.bias = test_bias;
    test_req.bias_cap = 4;
    test_req.vocab = vocab;

    return chat ? infer_oai_decode_chat(&test_req, test_body, len)
                : infer_oai_decode_completion(&test_req, test_body, len);
}


static int
decode(int chat, const char *body)
{
    return decode_len(chat, body, strlen(body), 1000);
}


static int
span_is(const char *p, size_t len, const char *want)
{
    return p != NULL && len == strlen(want) && memcmp(p, want, len) == 0;
}


static int
msg_is(size_t i, infer_chat_role_e role, const char *content)
{
    return i < test_req.nmessages && test_msgs[i].role == role
           && span_is(test_msgs[i].content, test_msgs[i].len, content);
}


/* the template named, rendered over messages given as role, content */

static int
render_is(const char *name, const char *bos, const char *want, int gen,
    size_t n, ...)
{
    int                     rc;
    char                    err[256], *dst;
    size_t                  i, len;
    va_list                 args;
    infer_chat_msg_t        m[8];
    infer_chat_template_t   t;

    va_start(args, n);

    for (i = 0; i < n; i++) {
        m[i].role = va_arg(args, infer_chat_role_e);
        m[i].content = va_arg(args, const char *);
        m[i].len = strlen(m[i].content);
    }

    va_end(args);

    if (infer_chat_template_named(&t, name, bos, "</s>", err, sizeof(err))
        != 0)
    {
        diag("%s: %s", name, err);
        return 0;
    }

    dst = malloc(infer_chat_apply_size(&t, m, n));
    len = infer_chat_apply(&t, m, n, gen, dst, err, sizeof(err));

    rc = (want == NULL) ? len == (size_t) -1 && strcmp(err, bos) == 0
                        : len != (size_t) -1 && span_is(dst, len, want);

    if (!rc) {
        diag("got \"%.*s\" (%s)", len == (size_t) -1 ? 0 : (int) len, dst,
             len == (size_t) -1 ? err : "");
    }

    free(dst);
    infer_chat_template_free(&t);

    return rc;
}


static int
refused(const char *tmpl, const char *want)
{
    int                    rc;
    char                   err[512];
    infer_chat_template_t  t;

    rc = infer_chat_template_init(&t, tmpl, strlen(tmpl), "", "", err,
                                  sizeof(err));
    if (rc == 0) {
        infer_chat_template_free(&t);
        return 0;
    }

    if (strstr(err, want) == NULL) {
        diag("%s", err);
        return 0;
    }

    return 1;
}


static void
test_templates(void)
{
    char                   err[256];
    infer_chat_template_t  t;

    ok(render_is("chatml", "", "<|im_start|>system\nS<|im_end|>\n"
                 "<|im_start|>user\nU <|im_end|>\n<|im_start|>assistant\n",
                 1, 2, INFER_CHAT_SYSTEM, "S", INFER_CHAT_USER, "U "),
       "chatml: the turns and the generation prompt");

    ok(render_is("chatml", "", "<|im_start|>user\nU<|im_end|>\n", 0, 1,
                 INFER_CHAT_USER, "U"),
       "chatml without add_generation_prompt");

    ok(render_is("llama3", "<|begin_of_text|>", "<|begin_of_text|>"
                 "<|start_header_id|>user<|end_header_id|>\n\nhi there"
                 "<|eot_id|><|start_header_id|>assistant<|end_header_id|>"
                 "\n\nyo<|eot_id|><|start_header_id|>assistant"
                 "<|end_header_id|>\n\n", 1, 2, INFER_CHAT_USER,
                 " \t\nhi there\xc2\xa0\xe3\x80\x80\n",
                 INFER_CHAT_ASSISTANT, "yo"),
       "llama3: bos_token first, content trimmed of Python's whitespace");

    ok(render_is("gemma", "<bos>", "<bos><start_of_turn>user\nq<end_of_turn>"
                 "\n<start_of_turn>model\na<end_of_turn>\n<start_of_turn>"
                 "model\n", 1, 2, INFER_CHAT_USER, "q",
                 INFER_CHAT_ASSISTANT, "a"),
       "gemma: the assistant is the model");

    ok(render_is("gemma", "System role not supported", NULL, 1, 1,
                 INFER_CHAT_SYSTEM, "s"),
       "gemma raises for a system message");

    ok(render_is("gemma", "Conversation roles must alternate "
                 "user/assistant/user/assistant/...", NULL, 1, 2,
                 INFER_CHAT_USER, "a", INFER_CHAT_USER, "b"),
       "gemma raises for roles that do not alternate");

    ok(infer_chat_template_named(&t, "vicuna", "", "", err, sizeof(err))
       == -1 && strcmp(err, "unknown chat template \"vicuna\" (known: "
                       "chatml, llama3, gemma)") == 0,
       "an unknown name");

    ok(infer_chat_template_named(&t, "chatml", NULL, NULL, err, sizeof(err))
       == 0 && t.bos.len == 0
       && infer_chat_apply(&t, test_msgs, 0, 1, err, err, sizeof(err))
          == (size_t) -1 && strcmp(err, "no messages") == 0,
       "no messages: an error, not a generation prompt alone");
    infer_chat_template_free(&t);

    ok(refused("{% for message in messages %}{{ message.content }}"
               "{% endfor %}", "it parts from ChatML's at line 1, column 33"),
       "a template of another shape, where it parts from the closest");

    ok(refused("{% for m in messages %}", "from ChatML's at line 1, "
               "column 8"),
       "a variable named otherwise is another template");

    ok(refused("hello {{ 'x }}", "not Jinja2 that ngx_infer reads: "
               "unterminated string at line 1, column 10"),
       "an unterminated string");

    ok(refused("\n\n  {% if x ", "unterminated tag at line 3, column 3"),
       "an unterminated tag, at its line and column");

    ok(refused("{# no end", "unterminated comment at line 1, column 1"),
       "an unterminated comment");

    ok(refused("{{ '\\N{BULLET}' }}", "an escape in a string that "
               "ngx_infer does not read at line 1, column 5"),
       "\\N{...} is refused");

    ok(refused("{{ '\\ud800' }}", "an escape in a string that Python "
               "refuses"),
       "a lone surrogate is refused");

    ok(refused("{{ x @ y }}", "an unexpected character at line 1, column 6"),
       "a character Jinja2 does not know");

    ok(refused("{{ $1 }}", "an unexpected character"),
       "the holes of the known templates are no template's");

    ok(refused("", "parts from every one's at line 1, column 1"),
       "the empty template");
}


static void
test_decode_chat(void)
{
    const infer_oai_sampling_t  *s;

    s = &test_req.sampling;

    ok(decode(1, "{\"model\":\"smol\",\"messages\":[{\"role\":\"user\","
                 "\"content\":\"hi\"}]}") == 0
       && span_is(test_req.model.p, test_req.model.len, "smol")
       && test_req.nmessages == 1 && msg_is(0, INFER_CHAT_USER, "hi")
       && test_msgs[0].content > test_body
       && test_msgs[0].content < test_body + test_len
       && s->given == 0 && s->temperature == 1.0 && s->top_p == 1.0
       && s->repetition_penalty == 1.0 && s->max_tokens == 0
       && s->top_k == 0 && s->min_p == 0.0 && s->presence_penalty == 0.0
       && test_req.stream == 0 && test_req.include_usage == 0
       && test_req.nstop == 0 && test_req.nbias == 0
       && test_req.status == 0 && test_req.param == NULL,
       "a message, a span of the body, the defaults");

    ok(decode(1, "{\"messages\":[{\"role\":\"developer\",\"content\":"
                 "\"d\\n\\u00e9\"},{\"content\":[{\"type\":\"text\",\"text\":"
                 "\"a\"},{\"text\":\"b\\\"\",\"type\":\"text\",\"x\":1}],"
                 "\"role\":\"system\",\"name\":\"n\"},{\"role\":\"assistant\","
                 "\"content\":null,\"tool_calls\":[]},{\"role\":\"assistant\"}"
                 ",{\"role\":\"user\",\"content\":[{\"type\":\"text\","
                 "\"text\":\"\"}]}],\"model\":\"m\"}") == 0
       && test_req.nmessages == 5
       && msg_is(0, INFER_CHAT_SYSTEM, "d\n\xc3\xa9")
       && msg_is(1, INFER_CHAT_SYSTEM, "a\nb\"")
       && msg_is(2, INFER_CHAT_ASSISTANT, "")
       && msg_is(3, INFER_CHAT_ASSISTANT, "")
       && msg_is(4, INFER_CHAT_USER, ""),
       "developer is system, parts joined with \\n, null content, escapes");

    ok(decode(1, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
                 "\"content\":\"x\"}],\"stream\":true,\"stream_options\":"
                 "{\"include_usage\":true},\"max_tokens\":5,"
                 "\"max_completion_tokens\":7,\"temperature\":0,"
                 "\"top_p\":0.5,\"n\":1,\"stop\":[\"\\n\",\"END\"],"
                 "\"presence_penalty\":-2,\"frequency_penalty\":2.0,"
                 "\"seed\":-9223372036854775808,\"logit_bias\":{\"5\":-100,"
                 "\"999\":12.5},\"user\":\"u\",\"top_k\":40,\"min_p\":0.05,"
                 "\"repetition_penalty\":1.1,\"ignore_eos\":true,"
                 "\"logprobs\":false,\"top_logprobs\":0,\"tools\":[],"
                 "\"tool_choice\":\"none\",\"functions\":null,"
                 "\"function_call\":\"auto\",\"response_format\":{\"type\":"
                 "\"text\"},\"parallel_tool_calls\":false}") == 0
       && test_req.stream == 1 && test_req.include_usage == 1
       && s->max_tokens == 7 && s->temperature == 0.0 && s->top_p == 0.5
       && test_req.nstop == 2
       && span_is(test_req.stop[0].p, test_req.stop[0].len, "\n")
       && span_is(test_req.stop[1].p, test_req.stop[1].len, "END")
       && s->presence_penalty == -2.0 && s->frequency_penalty == 2.0
       && s->seed == INT64_MIN && test_req.nbias == 2
       && test_bias[0].id == 5 && test_bias[0].bias == -100.0f
       && test_bias[1].id == 999 && test_bias[1].bias == 12.5f
       && s->top_k == 40 && s->min_p == 0.05
       && s->repetition_penalty == 1.1 && s->ignore_eos == 1
       && s->given == (INFER_OAI_HAS_MAX_TOKENS | INFER_OAI_HAS_TEMPERATURE
                       | INFER_OAI_HAS_TOP_P | INFER_OAI_HAS_TOP_K
                       | INFER_OAI_HAS_MIN_P | INFER_OAI_HAS_PRESENCE
                       | INFER_OAI_HAS_FREQUENCY | INFER_OAI_HAS_REPETITION
                       | INFER_OAI_HAS_SEED | INFER_OAI_HAS_IGNORE_EOS),
       "every parameter; max_completion_tokens wins over max_tokens");

    ok(decode(1, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
                 "\"content\":\"x\"}],\"top_k\":-1,\"stop\":\"\\u0000\","
                 "\"seed\":9223372036854775807,\"temperature\":null,"
                 "\"stream\":false,\"stream_options\":null,"
                 "\"max_tokens\":2147483647}") == 0
       && s->top_k == 0 && (s->given & INFER_OAI_HAS_TOP_K)
       && s->seed == INT64_MAX && s->temperature == 1.0
       && !(s->given & INFER_OAI_HAS_TEMPERATURE)
       && s->max_tokens == 2147483647
       && test_req.nstop == 1 && test_req.stop[0].len == 1
       && test_req.stop[0].p[0] == '\0',
       "top_k -1 is off, the int64 bounds, null is absent");

    ok(decode(0, "{\"model\":\"m\",\"prompt\":\"Once upon\",\"echo\":false,"
                 "\"suffix\":null,\"best_of\":1,\"logprobs\":null,"
                 "\"max_tokens\":3}") == 0
       && test_req.prompt_kind == INFER_OAI_TEXT
       && span_is(test_req.prompt.p, test_req.prompt.len, "Once upon")
       && test_req.sampling.max_tokens == 3 && test_req.nmessages == 0,
       "completions: a prompt");

    ok(decode(0, "{\"model\":\"m\",\"prompt\":[\"\"]}") == 0
       && test_req.prompt_kind == INFER_OAI_TEXT && test_req.prompt.len == 0,
       "completions: an array of one string, empty");

    ok(decode(0, "{\"model\":\"m\",\"prompt\":[1,999,0]}") == 0
       && test_req.prompt_kind == INFER_OAI_TOKENS
       && test_req.n_prompt_ids == 3 && test_req.prompt_ids == test_ids
       && test_ids[0] == 1 && test_ids[1] == 999 && test_ids[2] == 0,
       "completions: token ids");

    ok(decode(0, "{\"model\":\"m\",\"prompt\":[[7,8]]}") == 0
       && test_req.prompt_kind == INFER_OAI_TOKENS
       && test_req.n_prompt_ids == 2 && test_ids[1] == 8,
       "completions: an array of one array of ids");

    ok(decode(0, "{\"model\":\"m\",\"prompt\":\"a\",\"messages\":5}") == 0,
       "completions: the chat's keys are other keys, skipped");
}


#include "chat_errors.h"


static void
test_decode_errors(void)
{
    int                  rc, good;
    const test_error_t  *e;

    for (e = test_errors; e->body != NULL; e++) {
        rc = decode(e->chat, e->body);

        good = rc == -1 && test_req.status == 400
               && strcmp(test_req.err, e->err) == 0
               && (e->param ? test_req.param != NULL
                              && strcmp(test_req.param, e->param) == 0
                            : test_req.param == NULL)
               && (e->code ? test_req.code != NULL
                             && strcmp(test_req.code, e->code) == 0
                           : test_req.code == NULL)
               && test_req.nmessages == 0;

        if (!good) {
            diag("body %s", e->body);
            diag("got rc %d, %d \"%s\", param %s, code %s", rc,
                 test_req.status, test_req.err,
                 test_req.param ? test_req.param : "null",
                 test_req.code ? test_req.code : "null");
        }

        ok(good, "%s: %s", e->chat ? "chat" : "completions", e->err);
    }

    /* the caller's caps */
    test_max_msgs = 2;
    ok(decode(1, MSGS("{\"role\":\"user\",\"content\":\"a\"},"
                      "{\"role\":\"user\",\"content\":\"b\"},"
                      "{\"role\":\"user\",\"content\":\"c\"}")) == -1
       && strcmp(test_req.err, "Invalid 'messages': more than 2 "
                 "messages.") == 0
       && strcmp(test_req.param, "messages") == 0,
       "more messages than max_messages");
    test_max_msgs = TEST_MAX_MSGS;

    test_text_cap = 4;
    ok(decode(1, MSGS("{\"role\":\"user\",\"content\":"
                      "\"\\n\\n\\n\\n\\n\"}")) == -1
       && strcmp(test_req.err, "Invalid 'messages[0].content': the strings "
                 "take more than 4 bytes once unescaped.") == 0
       && strcmp(test_req.param, "messages[0].content") == 0,
       "a string that unescapes past text_cap");

    ok(decode(1, MSGS("{\"role\":\"user\",\"content\":[{\"type\":"
                      "\"text\",\"text\":\"ab\"},{\"type\":\"text\","
                      "\"text\":\"cd\"}]}")) == -1
       && strcmp(test_req.err, "Invalid 'messages': the texts take more "
                 "than 4 bytes once unescaped.") == 0,
       "parts that join past text_cap");

    ok(decode(1, MSGS("{\"role\":\"user\",\"content\":[{\"type\":"
                      "\"text\",\"text\":\"a\"},{\"type\":\"text\","
                      "\"text\":\"cd\"}]}")) == 0
       && msg_is(0, INFER_CHAT_USER, "a\ncd"),
       "parts that join to text_cap exactly");
    test_text_cap = 0;

    ok(decode_len(1, "", 0, 0) == -1
       && strncmp(test_req.err, "malformed JSON", 14) == 0,
       "an empty body is malformed JSON");
}


/* a writer's output in a malloc() of exactly its room, against want */

typedef struct {
    int                  writer;
    const char          *text;
    size_t               len;
    int                  role;
    infer_oai_finish_e   finish;
    uint64_t             prompt, completion;
    int                  chat;
} test_write_t;

enum { W_CHAT, W_CHUNK, W_CMPL, W_CMPL_CHUNK, W_USAGE };


static size_t
len_of(const char *s)
{
    return (s != NULL) ? strlen(s) : 0;
}


#define written(g, w, want)  written_is(g, w, want, sizeof(want) - 1)

static int
written_is(const infer_oai_gen_t *g, const test_write_t *w,
    const char *want, size_t want_len)
{
    int      good;
    char    *dst;
    size_t   size, n;

    size = (w->writer == W_CHAT) ? infer_oai_chat_size(g, w->len)
           : (w->writer == W_CHUNK) ? infer_oai_chat_chunk_size(g, w->len)
           : (w->writer == W_CMPL) ? infer_oai_completion_size(g, w->len)
           : (w->writer == W_CMPL_CHUNK)
             ? infer_oai_completion_chunk_size(g, w->len)
           : infer_oai_usage_chunk_size(g);

    dst = malloc(size);

    n = (w->writer == W_CHAT)
        ? infer_oai_write_chat(dst, g, w->text, w->len, w->finish, w->prompt,
                               w->completion)
        : (w->writer == W_CHUNK)
        ? infer_oai_write_chat_chunk(dst, g, w->role, w->text, w->len,
                                     w->finish)
        : (w->writer == W_CMPL)
        ? infer_oai_write_completion(dst, g, w->text, w->len, w->finish,
                                     w->prompt, w->completion)
        : (w->writer == W_CMPL_CHUNK)
        ? infer_oai_write_completion_chunk(dst, g, w->text, w->len,
                                           w->finish)
        : infer_oai_write_usage_chunk(dst, g, w->chat, w->prompt,
                                      w->completion);

    good = n <= size && n == want_len && memcmp(dst, want, n) == 0;

    if (!good) {
        diag("want %.*s", (int) want_len, want);
        diag("got  %.*s", (int) n, dst);
    }

    free(dst);

    return good;
}


static void
test_writers(void)
{
    char             *dst;
    size_t            n;
    infer_oai_gen_t   g;
    test_write_t      w;

#define W(wr, t, r, f, p, c)                                                  \
    (memset(&w, 0, sizeof(w)), w.writer = wr, w.text = t,                     \
     w.len = len_of(t), w.role = r, w.finish = f, w.prompt = p,       \
     w.completion = c, &w)

    g.id = "42";
    g.id_len = 2;
    g.model = "smol";
    g.model_len = 4;
    g.created = 1700000000;
    g.include_usage = 0;

    ok(written(&g, W(W_CHAT, "Hi!\n", 0, INFER_OAI_FINISH_STOP, 3, 2),
                  "{\"id\":\"chatcmpl-42\",\"object\":\"chat.completion\","
                  "\"created\":1700000000,\"model\":\"smol\",\"choices\":[{"
                  "\"index\":0,\"message\":{\"role\":\"assistant\","
                  "\"content\":\"Hi!\\n\"},\"logprobs\":null,"
                  "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\""
                  ":3,\"completion_tokens\":2,\"total_tokens\":5}}"),
       "a chat completion");

    ok(written(&g, W(W_CHUNK, "", 1, INFER_OAI_FINISH_NONE, 0, 0),
                  "data: {\"id\":\"chatcmpl-42\",\"object\":"
                  "\"chat.completion.chunk\",\"created\":1700000000,"
                  "\"model\":\"smol\",\"choices\":[{\"index\":0,\"delta\":{"
                  "\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":"
                  "null,\"finish_reason\":null}]}\n\n"),
       "the first chunk: the role, empty content");

    g.include_usage = 1;

    ok(written(&g, W(W_CHUNK, NULL, 0, INFER_OAI_FINISH_LENGTH, 0, 0),
                  "data: {\"id\":\"chatcmpl-42\",\"object\":"
                  "\"chat.completion.chunk\",\"created\":1700000000,"
                  "\"model\":\"smol\",\"choices\":[{\"index\":0,\"delta\":{},"
                  "\"logprobs\":null,\"finish_reason\":\"length\"}],"
                  "\"usage\":null}\n\n"),
       "the last chunk: an empty delta, length, usage null");

    (void) W(W_USAGE, NULL, 0, 0, 10, 20);
    w.chat = 1;
    ok(written(&g, &w,
                  "data: {\"id\":\"chatcmpl-42\",\"object\":"
                  "\"chat.completion.chunk\",\"created\":1700000000,"
                  "\"model\":\"smol\",\"choices\":[],\"usage\":{"
                  "\"prompt_tokens\":10,\"completion_tokens\":20,"
                  "\"total_tokens\":30}}\n\n"),
       "the usage chunk: no choices");

    g.include_usage = 0;

    ok(written(&g, W(W_CMPL, "a\xff" "b\xe2\x82" "c\xc3\xa9\x01",
                        0, INFER_OAI_FINISH_STOP, 1, 1),
                  "{\"id\":\"cmpl-42\",\"object\":\"text_completion\","
                  "\"created\":1700000000,\"model\":\"smol\",\"choices\":[{"
                  "\"text\":\"a\\ufffdb\\ufffd\\ufffdc\xc3\xa9\\u0001\","
                  "\"index\":0,\"logprobs\":null,\"finish_reason\":\"stop\"}"
                  "],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1,"
                  "\"total_tokens\":2}}"),
       "a completion: bytes of no valid UTF-8 are U+FFFD");

    ok(written(&g, W(W_CMPL_CHUNK, "x", 0, INFER_OAI_FINISH_NONE, 0, 0),
                  "data: {\"id\":\"cmpl-42\",\"object\":\"text_completion\","
                  "\"created\":1700000000,\"model\":\"smol\",\"choices\":[{"
                  "\"text\":\"x\",\"index\":0,\"logprobs\":null,"
                  "\"finish_reason\":null}]}\n\n"),
       "a completion's chunk");

    dst = malloc(infer_oai_error_size("boom", "server_error", NULL, NULL)
                 + 8);
    n = infer_oai_write_error_event(dst, "boom", "server_error", NULL, NULL);
    ok(span_is(dst, n, "data: {\"error\":{\"message\":\"boom\",\"type\":"
               "\"server_error\",\"param\":null,\"code\":null}}\n\n"),
       "an error event");
    free(dst);

    ok(strcmp(INFER_OAI_DONE, "data: [DONE]\n\n") == 0
       && INFER_OAI_DONE_LEN == 14, "the end of the stream");

    ok(infer_oai_utf8_whole("ab", 2) == 2
       && infer_oai_utf8_whole("a\xc3", 2) == 1
       && infer_oai_utf8_whole("a\xc3\xa9", 3) == 3
       && infer_oai_utf8_whole("a\xe2\x82", 3) == 1
       && infer_oai_utf8_whole("\xf0\x9f\x98", 3) == 0
       && infer_oai_utf8_whole("\xf0\x9f\x98\x80", 4) == 4
       && infer_oai_utf8_whole("a\x80", 2) == 2
       && infer_oai_utf8_whole("\xff", 1) == 1
       && infer_oai_utf8_whole("", 0) == 0,
       "utf8_whole keeps back a sequence its next bytes may complete");

#undef W
}


static char *
read_file(const char *dir, const char *name, size_t *len)
{
    char   path[1024], *buf;
    long   size;
    FILE  *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);

    f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }

    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fseek(f, 0, SEEK_SET);

    buf = malloc(size + 1);
    if (buf == NULL || fread(buf, 1, size, f) != (size_t) size) {
        abort();
    }

    fclose(f);
    buf[size] = '\0';
    *len = size;

    return buf;
}


/*
 * One case of a template: its messages, as a body, through the decoder,
 * then rendered; 1 if that is what jinja2 rendered, or raised.
 */

static int
parity_case(const infer_chat_template_t *t, json_t *c, int ascii)
{
    int           good;
    char         *body, *dst, err[256];
    size_t        len, n;
    json_t       *req, *text, *error;

    req = json_pack("{s:s,s:O}", "model", "m", "messages",
                    json_object_get(c, "messages"));
    body = json_dumps(req, JSON_COMPACT | (ascii ? JSON_ENSURE_ASCII : 0));
    json_decref(req);

    if (decode_len(1, body, strlen(body), 0) != 0) {
        diag("the decoder refuses %s: %s", body, test_req.err);
        free(body);
        return 0;
    }

    free(body);

    dst = malloc(infer_chat_apply_size(t, test_msgs, test_req.nmessages));
    n = infer_chat_apply(t, test_msgs, test_req.nmessages,
                         json_is_true(json_object_get(c,
                                                      "add_generation_prompt")),
                         dst, err, sizeof(err));

    text = json_object_get(c, "text");
    error = json_object_get(c, "error");

    if (text != NULL) {
        len = json_string_length(text);
        good = n != (size_t) -1 && n == len
               && memcmp(dst, json_string_value(text), len) == 0;

    } else {
        good = n == (size_t) -1
               && strcmp(err, json_string_value(error)) == 0;
    }

    if (!good) {
        diag("jinja2: %s", text ? json_string_value(text)
                                : json_string_value(error));
        diag("C:      %.*s", n == (size_t) -1 ? 0 : (int) n, dst);
        diag("%s", n == (size_t) -1 ? err : "");
    }

    free(dst);

    return good;
}


static void
test_parity(const char *dir)
{
    int                    rc, bad, accepted, wild;
    char                  *tmpl, err[512];
    size_t                 i, k, len;
    json_t                *man, *tpls, *e, *cases, *list;
    const char            *name, *expect;
    json_error_t           jerr;
    infer_chat_template_t  t;

    snprintf(err, sizeof(err), "%s/manifest.json", dir);
    man = json_load_file(err, 0, &jerr);

    if (man == NULL) {
        diag("no %s: the parity with jinja2 is not checked (make fixtures)",
             err);
        return;
    }

    diag("jinja2 %s, SmolLM2's template %s",
         json_string_value(json_object_get(man, "jinja2")),
         json_is_true(json_object_get(man, "smollm2")) ? "from its GGUF"
                                                       : "absent");

    tpls = json_object_get(man, "templates");
    accepted = 0;
    wild = 0;

    for (i = 0; i < json_array_size(tpls); i++) {
        e = json_array_get(tpls, i);
        name = json_string_value(json_object_get(e, "name"));
        expect = json_string_value(json_object_get(e, "expect"));

        tmpl = read_file(dir, json_string_value(json_object_get(e, "file")),
                         &len);
        snprintf(err, sizeof(err), "%s/%s", dir,
                 json_string_value(json_object_get(e, "cases")));
        cases = json_load_file(err, JSON_ALLOW_NUL, &jerr);

        if (tmpl == NULL || cases == NULL) {
            ok(0, "%s: its files", name);
            continue;
        }

        rc = infer_chat_template_init(&t, tmpl, len,
                 json_string_value(json_object_get(cases, "bos")),
                 json_string_value(json_object_get(cases, "eos")),
                 err, sizeof(err));
        free(tmpl);

        if (strcmp(expect, "refused") == 0) {
            ok(rc == -1 && strstr(err, "line") != NULL,
               "%s: refused (%s)", name, err);

        } else if (strcmp(expect, "any") != 0) {
            ok(rc == 0 && strcmp(t.family, expect) == 0,
               "%s: recognized as %s (%s)", name, expect,
               rc == 0 ? t.family : err);
        }

        wild += (strcmp(expect, "any") == 0);

        if (rc == 0) {
            list = json_object_get(cases, "cases");
            accepted += (strcmp(expect, "any") == 0);

            for (k = 0, bad = 0; k < json_array_size(list); k++) {
                bad += !parity_case(&t, json_array_get(list, k), k & 1);
            }

            ok(bad == 0, "%s: %zu cases as jinja2 renders them, byte for "
               "byte (%d differ)", name, json_array_size(list), bad);

            infer_chat_template_free(&t);
        }

        json_decref(cases);
    }

    if (wild > 0) {
        diag("%d of llama.cpp's %d templates recognized, rendered as jinja2 "
             "does", accepted, wild);
    }
    json_decref(man);
}


static infer_oai_finish_e
finish_of(json_t *v)
{
    return !json_is_string(v) ? INFER_OAI_FINISH_NONE
           : strcmp(json_string_value(v), "stop") == 0
             ? INFER_OAI_FINISH_STOP : INFER_OAI_FINISH_LENGTH;
}


static void
test_writer_parity(const char *dir)
{
    int               bad;
    char              path[1024];
    size_t            i;
    json_t           *all, *c, *v;
    json_error_t      jerr;
    const char       *kind;
    test_write_t      w;
    infer_oai_gen_t   g;

    snprintf(path, sizeof(path), "%s/writers.json", dir);
    all = json_load_file(path, JSON_ALLOW_NUL, &jerr);

    if (all == NULL) {
        return;
    }

    for (i = 0, bad = 0; i < json_array_size(all); i++) {
        c = json_array_get(all, i);
        kind = json_string_value(json_object_get(c, "writer"));

        v = json_object_get(c, "id");
        g.id = json_string_value(v);
        g.id_len = json_string_length(v);
        v = json_object_get(c, "model");
        g.model = json_string_value(v);
        g.model_len = json_string_length(v);
        g.created = json_integer_value(json_object_get(c, "created"));
        g.include_usage = json_is_true(json_object_get(c, "include_usage"));

        memset(&w, 0, sizeof(w));
        w.writer = strcmp(kind, "chat") == 0 ? W_CHAT
                   : strcmp(kind, "chat_chunk") == 0 ? W_CHUNK
                   : strcmp(kind, "completion") == 0 ? W_CMPL
                   : strcmp(kind, "completion_chunk") == 0 ? W_CMPL_CHUNK
                   : W_USAGE;
        v = json_object_get(c, "text");
        w.text = json_string_value(v);
        w.len = json_string_length(v);
        w.role = json_is_true(json_object_get(c, "role"));
        w.finish = finish_of(json_object_get(c, "finish"));
        w.prompt = json_integer_value(json_object_get(c, "prompt_tokens"));
        w.completion = json_integer_value(json_object_get(c,
                                                  "completion_tokens"));
        w.chat = json_is_true(json_object_get(c, "chat"));

        v = json_object_get(c, "expect");
        bad += !written_is(&g, &w, json_string_value(v),
                           json_string_length(v));
    }

    ok(json_array_size(all) > 0 && bad == 0,
       "%zu answers as json.dumps() writes what the openai types parse "
       "(%d differ)", json_array_size(all), bad);

    json_decref(all);
}


int
main(int argc, char **argv)
{
    test_templates();
    test_decode_chat();
    test_decode_errors();
    test_writers();

    if (argc > 1) {
        test_parity(argv[1]);
        test_writer_parity(argv[1]);

    } else {
        diag("no fixtures given: the parity with jinja2 and json.dumps() "
             "is not checked");
    }

    free(test_body);
    free(test_text);

    return done();
}
