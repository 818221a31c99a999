/*
 * ngx_infer: chat templates (infer_chat.h): the known templates as token
 * streams with holes, their recognition, and the one loop that renders
 * every family.  The lexer is infer_chat_lex.c's.
 */

#include <stdlib.h>
#include <string.h>

#include "infer_chat.h"
#include "infer_chat_impl.h"
#include "infer_util.h"


/* what a family's loop does */
#define INFER_CHAT_DEFAULT     0x01   /* default_system unless m[0] is one */
#define INFER_CHAT_TRIM        0x02   /* content|trim */
#define INFER_CHAT_BOS_FIRST   0x04   /* bos_token before the first turn */
#define INFER_CHAT_BOS_START   0x08   /* bos_token first of all */
#define INFER_CHAT_GUARD       0x10   /* {% if add_generation_prompt %} */
#define INFER_CHAT_GEMMA       0x20   /* raises; the assistant renamed */
#define INFER_CHAT_QWEN        0x40   /* its system turn is the loop's */

/* the holes, $n: the fields of infer_chat_template_t they fill */
#define INFER_CHAT_H_DEFAULT   0
#define INFER_CHAT_H_PREFIX    1
#define INFER_CHAT_H_SEP       2
#define INFER_CHAT_H_SUFFIX    3
#define INFER_CHAT_H_GEN       4
#define INFER_CHAT_H_TOOLS     5      /* Qwen's default, with tools: unused */
#define INFER_CHAT_H_ERRSYS    6
#define INFER_CHAT_H_ERRALT    7
#define INFER_CHAT_H_ASSISTANT 8
#define INFER_CHAT_H_SYSPRE    9      /* Qwen's system turn, checked */
#define INFER_CHAT_H_SYSSUF    10


typedef struct {
    const char              *family;
    unsigned                 flags;
    const char              *text;
} infer_chat_known_t;


static int infer_chat_str_eq(infer_chat_str_t a, const char *b, size_t n);
static int infer_chat_qwen(const infer_chat_str_t *holes);
static void infer_chat_where(const infer_chat_lex_t *lx, size_t off,
    size_t *line, size_t *col);


/*
 * The known templates, as Jinja2 text with holes ($n, see above).  The
 * whitespace between tags is what Jinja2 renders of the originals' (none:
 * their newlines are all stripped).
 */

#define INFER_CHAT_LLAMA3_LOOP                                                \
    "{% set loop_messages = messages %}"                                      \
    "{% for message in loop_messages %}"                                      \
    "{% set content = $1 + message['role'] + $2"                              \
    " + message['content'] | trim + $3 %}"                                    \
    "{% if loop.index0 == 0 %}{% set content = bos_token + content %}"        \
    "{% endif %}{{ content }}{% endfor %}"

#define INFER_CHAT_GEMMA_LOOP                                                 \
    "{% if messages[0]['role'] == 'system' %}"                                \
    "{{ raise_exception($6) }}{% endif %}"                                    \
    "{% for message in messages %}"                                           \
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"          \
    "{{ raise_exception($7) }}{% endif %}"                                    \
    "{% if (message['role'] == 'assistant') %}{% set role = $8 %}"            \
    "{% else %}{% set role = message['role'] %}{% endif %}"                   \
    "{{ $1 + role + $2 + message['content'] | trim + $3 }}{% endfor %}"       \
    "{% if add_generation_prompt %}{{ $4 }}{% endif %}"

static const infer_chat_known_t  infer_chat_known[] = {

    /* SmolLM2, Qwen2, Megrez: ChatML with a default system prompt */
    { "ChatML", INFER_CHAT_DEFAULT | INFER_CHAT_GUARD,
      "{% for message in messages %}"
      "{% if loop.first and messages[0]['role'] != 'system' %}{{ $0 }}"
      "{% endif %}"
      "{{ $1 + message['role'] + $2 + message['content'] + $3 }}"
      "{% endfor %}{% if add_generation_prompt %}{{ $4 }}{% endif %}" },

    /* OpenHermes-2.5, transformers' "chatml" */
    { "ChatML", INFER_CHAT_GUARD,
      "{% for message in messages %}"
      "{{ $1 + message['role'] + $2 + message['content'] + $3 }}"
      "{% endfor %}{% if add_generation_prompt %}{{ $4 }}{% endif %}" },

    /* Qwen2.5: tools never given, its system turn is the loop's */
    { "ChatML", INFER_CHAT_DEFAULT | INFER_CHAT_GUARD | INFER_CHAT_QWEN,
      "{% if tools %}{{ '<|im_start|>system\n' }}"
      "{% if messages[0]['role'] == 'system' %}{{ messages[0]['content'] }}"
      "{% else %}{{ $5 }}{% endif %}"
      "{{ '\n\n# Tools\n\nYou may call one or more functions to assist with"
      " the user query.\n\nYou are provided with function signatures within"
      " <tools></tools> XML tags:\n<tools>' }}"
      "{% for tool in tools %}{{ '\n' }}{{ tool | tojson }}{% endfor %}"
      "{{ '\n</tools>\n\nFor each function call, return a json object with"
      " function name and arguments within <tool_call></tool_call> XML"
      " tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\":"
      " <args-json-object>}\n</tool_call><|im_end|>\n' }}"
      "{% else %}{% if messages[0]['role'] == 'system' %}"
      "{{ $9 + messages[0]['content'] + $10 }}{% else %}{{ $0 }}{% endif %}"
      "{% endif %}"
      "{% for message in messages %}"
      "{% if (message.role == 'user') or (message.role == 'system' and not"
      " loop.first) or (message.role == 'assistant' and not"
      " message.tool_calls) %}"
      "{{ $1 + message.role + $2 + message.content + $3 }}"
      "{% elif message.role == 'assistant' %}"
      "{{ '<|im_start|>' + message.role }}"
      "{% if message.content %}{{ '\n' + message.content }}{% endif %}"
      "{% for tool_call in message.tool_calls %}"
      "{% if tool_call.function is defined %}"
      "{% set tool_call = tool_call.function %}{% endif %}"
      "{{ '\n<tool_call>\n{\"name\": \"' }}{{ tool_call.name }}"
      "{{ '\", \"arguments\": ' }}{{ tool_call.arguments | tojson }}"
      "{{ '}\n</tool_call>' }}{% endfor %}{{ '<|im_end|>\n' }}"
      "{% elif message.role == 'tool' %}"
      "{% if (loop.index0 == 0) or (messages[loop.index0 - 1].role !="
      " 'tool') %}{{ '<|im_start|>user' }}{% endif %}"
      "{{ '\n<tool_response>\n' }}{{ message.content }}"
      "{{ '\n</tool_response>' }}"
      "{% if loop.last or (messages[loop.index0 + 1].role != 'tool') %}"
      "{{ '<|im_end|>\n' }}{% endif %}{% endif %}{% endfor %}"
      "{% if add_generation_prompt %}{{ $4 }}{% endif %}" },

    /* Meta-Llama-3-*-Instruct */
    { "Llama 3", INFER_CHAT_TRIM | INFER_CHAT_BOS_FIRST | INFER_CHAT_GUARD,
      INFER_CHAT_LLAMA3_LOOP
      "{% if add_generation_prompt %}{{ $4 }}{% endif %}" },

    /* as llama.cpp's tests have it: the assistant's turn always opened */
    { "Llama 3", INFER_CHAT_TRIM | INFER_CHAT_BOS_FIRST,
      INFER_CHAT_LLAMA3_LOOP "{{ $4 }}" },

    /* gemma-2-2b-it; gemma-7b-it, without bos_token */
    { "Gemma", INFER_CHAT_TRIM | INFER_CHAT_BOS_START | INFER_CHAT_GUARD
               | INFER_CHAT_GEMMA,
      "{{ bos_token }}" INFER_CHAT_GEMMA_LOOP },

    { "Gemma", INFER_CHAT_TRIM | INFER_CHAT_GUARD | INFER_CHAT_GEMMA,
      INFER_CHAT_GEMMA_LOOP },

    { NULL, 0, NULL }
};


/* the templates by name: the models' own texts, recognized as theirs */

static const struct {
    const char              *name;
    const char              *text;
} infer_chat_named[] = {

    /* transformers' ChatML, OpenHermes-2.5's template */
    { "chatml",
      "{% for message in messages %}"
      "{{'<|im_start|>' + message['role'] + '\n' + message['content']"
      " + '<|im_end|>' + '\n'}}{% endfor %}"
      "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}"
      "{% endif %}" },

    /* Meta-Llama-3-8B-Instruct's */
    { "llama3",
      "{% set loop_messages = messages %}"
      "{% for message in loop_messages %}"
      "{% set content = '<|start_header_id|>' + message['role']"
      " + '<|end_header_id|>\n\n'+ message['content'] | trim"
      " + '<|eot_id|>' %}"
      "{% if loop.index0 == 0 %}{% set content = bos_token + content %}"
      "{% endif %}{{ content }}{% endfor %}"
      "{% if add_generation_prompt %}"
      "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"
      "{% endif %}" },

    /* gemma-2-2b-it's */
    { "gemma",
      "{{ bos_token }}{% if messages[0]['role'] == 'system' %}"
      "{{ raise_exception('System role not supported') }}{% endif %}"
      "{% for message in messages %}"
      "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
      "{{ raise_exception('Conversation roles must alternate"
      " user/assistant/user/assistant/...') }}{% endif %}"
      "{% if (message['role'] == 'assistant') %}{% set role = 'model' %}"
      "{% else %}{% set role = message['role'] %}{% endif %}"
      "{{ '<start_of_turn>' + role + '\n' + message['content'] | trim"
      " + '<end_of_turn>\n' }}{% endfor %}"
      "{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}"
      "{% endif %}" },

    { NULL, NULL }
};


int
infer_chat_template_init(infer_chat_template_t *t, const char *tmpl,
    size_t len, const char *bos, const char *eos, char *err, size_t errlen)
{
    char                      *p;
    size_t                     k, at, best, size, line, col, nbos, neos;
    infer_chat_str_t           holes[INFER_CHAT_HOLES], *dst;
    infer_chat_lex_t           tpl, pat;
    const infer_chat_known_t  *kn, *closest;

    static const int  fields[INFER_CHAT_HOLES] = {
        [INFER_CHAT_H_DEFAULT] = 1, [INFER_CHAT_H_PREFIX] = 1,
        [INFER_CHAT_H_SEP] = 1, [INFER_CHAT_H_SUFFIX] = 1,
        [INFER_CHAT_H_GEN] = 1, [INFER_CHAT_H_ERRSYS] = 1,
        [INFER_CHAT_H_ERRALT] = 1, [INFER_CHAT_H_ASSISTANT] = 1
    };

    memset(t, 0, sizeof(infer_chat_template_t));

    if (infer_chat_lex(&tpl, tmpl, len, 0) != 0) {
        if (tpl.why == NULL) {
            return infer_error(err, errlen, "out of memory");
        }

        infer_chat_where(&tpl, tpl.why_off, &line, &col);
        infer_chat_lex_free(&tpl);

        return infer_error(err, errlen, "the chat template is not Jinja2 "
                           "that ngx_infer reads: %s at line %zu, column %zu",
                           tpl.why, line, col);
    }

    best = 0;
    closest = NULL;

    for (kn = infer_chat_known; kn->text != NULL; kn++) {

        if (infer_chat_lex(&pat, kn->text, strlen(kn->text), 1) != 0) {
            infer_chat_lex_free(&tpl);
            infer_chat_lex_free(&pat);
            return infer_error(err, errlen, "out of memory");
        }

        memset(holes, 0, sizeof(holes));
        at = infer_chat_match(&pat, &tpl, holes);
        k = pat.n;
        infer_chat_lex_free(&pat);

        if (at == k && tpl.n == k) {

            /* Qwen's own system turn is rendered as the loop's */
            if ((kn->flags & INFER_CHAT_QWEN) && !infer_chat_qwen(holes)) {
                continue;
            }

            break;
        }

        if (at > best) {
            best = at;
            closest = kn;
        }
    }

    if (kn->text == NULL) {
        infer_chat_where(&tpl, (best < tpl.n) ? tpl.tok[best].off : tpl.len,
                         &line, &col);
        infer_chat_lex_free(&tpl);

        return infer_error(err, errlen, "the chat template is none of those "
                           "ngx_infer renders (ChatML with or without a "
                           "default system prompt, Qwen2.5's, Llama 3's, "
                           "Gemma's): it parts from %s's at line %zu, "
                           "column %zu; name one instead: chatml, llama3, "
                           "gemma", closest ? closest->family : "every one",
                           line, col);
    }

    nbos = bos ? strlen(bos) : 0;
    neos = eos ? strlen(eos) : 0;
    size = nbos + neos + 1;

    for (k = 0; k < INFER_CHAT_HOLES; k++) {
        size += holes[k].len;
    }

    t->buf = malloc(size);
    if (t->buf == NULL) {
        infer_chat_lex_free(&tpl);
        return infer_error(err, errlen, "out of memory");
    }

    p = t->buf;

    for (k = 0; k < INFER_CHAT_HOLES; k++) {
        if (!fields[k]) {
            continue;
        }

        dst = (k == INFER_CHAT_H_DEFAULT) ? &t->default_system
              : (k == INFER_CHAT_H_PREFIX) ? &t->prefix
              : (k == INFER_CHAT_H_SEP) ? &t->sep
              : (k == INFER_CHAT_H_SUFFIX) ? &t->suffix
              : (k == INFER_CHAT_H_GEN) ? &t->generation
              : (k == INFER_CHAT_H_ERRSYS) ? &t->err_system
              : (k == INFER_CHAT_H_ERRALT) ? &t->err_alternate
              : &t->assistant;

        if (holes[k].len) {
            memcpy(p, holes[k].p, holes[k].len);
        }

        dst->p = p;
        dst->len = holes[k].len;
        p += holes[k].len;
    }

    if (nbos) {
        memcpy(p, bos, nbos);
    }

    t->bos.p = p;
    t->bos.len = nbos;
    p += nbos;

    if (neos) {
        memcpy(p, eos, neos);
    }

    t->eos.p = p;
    t->eos.len = neos;

    if (t->assistant.len == 0) {
        t->assistant.p = "assistant";
        t->assistant.len = 9;
    }

    t->family = kn->family;
    t->flags = kn->flags;

    infer_chat_lex_free(&tpl);

    return 0;
}


int
infer_chat_template_named(infer_chat_template_t *t, const char *name,
    const char *bos, const char *eos, char *err, size_t errlen)
{
    size_t  i;

    for (i = 0; infer_chat_named[i].name != NULL; i++) {
        if (strcmp(name, infer_chat_named[i].name) == 0) {
            return infer_chat_template_init(t, infer_chat_named[i].text,
                                            strlen(infer_chat_named[i].text),
                                            bos, eos, err, errlen);
        }
    }

    memset(t, 0, sizeof(infer_chat_template_t));

    return infer_error(err, errlen, "unknown chat template \"%s\" (known: "
                       "chatml, llama3, gemma)", name);
}


void
infer_chat_template_free(infer_chat_template_t *t)
{
    free(t->buf);
    t->buf = NULL;
}


size_t
infer_chat_apply_size(const infer_chat_template_t *t,
    const infer_chat_msg_t *m, size_t n)
{
    size_t  i, size, turn;

    /* "assistant" is the longest of the roles' names */
    turn = t->prefix.len + t->sep.len + t->suffix.len
           + (t->assistant.len > 9 ? t->assistant.len : 9);

    size = t->default_system.len + t->bos.len + t->generation.len + 1;

    for (i = 0; i < n; i++) {
        size += turn + m[i].len;
    }

    return size;
}


#define infer_chat_put(p, s, n)                                               \
    do { if (n) { memcpy(p, s, n); p += n; } } while (0)

size_t
infer_chat_apply(const infer_chat_template_t *t, const infer_chat_msg_t *m,
    size_t n, int add_generation_prompt, char *dst, char *err, size_t errlen)
{
    char              *p;
    size_t             i, len;
    const char        *s;
    infer_chat_str_t   role;

    static const infer_chat_str_t  roles[] = {
        [INFER_CHAT_SYSTEM] = { "system", 6 },
        [INFER_CHAT_USER] = { "user", 4 },
        [INFER_CHAT_ASSISTANT] = { "assistant", 9 }
    };

    if (n == 0) {
        infer_error(err, errlen, "no messages");
        return (size_t) -1;
    }

    p = dst;

    if (t->flags & INFER_CHAT_GEMMA) {
        if (m[0].role == INFER_CHAT_SYSTEM) {
            infer_error(err, errlen, "%.*s", (int) t->err_system.len,
                        t->err_system.p);
            return (size_t) -1;
        }

        for (i = 0; i < n; i++) {
            if ((m[i].role == INFER_CHAT_USER) != (i % 2 == 0)) {
                infer_error(err, errlen, "%.*s", (int) t->err_alternate.len,
                            t->err_alternate.p);
                return (size_t) -1;
            }
        }
    }

    if (t->flags & INFER_CHAT_BOS_START) {
        infer_chat_put(p, t->bos.p, t->bos.len);
    }

    if ((t->flags & INFER_CHAT_DEFAULT) && m[0].role != INFER_CHAT_SYSTEM) {
        infer_chat_put(p, t->default_system.p, t->default_system.len);
    }

    for (i = 0; i < n; i++) {
        role = roles[m[i].role];

        if (m[i].role == INFER_CHAT_ASSISTANT) {
            role = t->assistant;
        }

        s = m[i].content;
        len = m[i].len;

        if (t->flags & INFER_CHAT_TRIM) {
            infer_chat_trim(&s, &len);
        }

        if (i == 0 && (t->flags & INFER_CHAT_BOS_FIRST)) {
            infer_chat_put(p, t->bos.p, t->bos.len);
        }

        infer_chat_put(p, t->prefix.p, t->prefix.len);
        infer_chat_put(p, role.p, role.len);
        infer_chat_put(p, t->sep.p, t->sep.len);
        infer_chat_put(p, s, len);
        infer_chat_put(p, t->suffix.p, t->suffix.len);
    }

    if (add_generation_prompt || !(t->flags & INFER_CHAT_GUARD)) {
        infer_chat_put(p, t->generation.p, t->generation.len);
    }

    return p - dst;
}


static int
infer_chat_str_eq(infer_chat_str_t a, const char *b, size_t n)
{
    return a.len == n && (n == 0 || memcmp(a.p, b, n) == 0);
}


/* Qwen2.5's system turn, prefix "system" sep ... suffix, the loop's */

static int
infer_chat_qwen(const infer_chat_str_t *holes)
{
    infer_chat_str_t  pre, pfx, sep;

    pre = holes[INFER_CHAT_H_SYSPRE];
    pfx = holes[INFER_CHAT_H_PREFIX];
    sep = holes[INFER_CHAT_H_SEP];

    return pre.len == pfx.len + 6 + sep.len
           && memcmp(pre.p, pfx.p, pfx.len) == 0
           && memcmp(pre.p + pfx.len, "system", 6) == 0
           && memcmp(pre.p + pfx.len + 6, sep.p, sep.len) == 0
           && infer_chat_str_eq(holes[INFER_CHAT_H_SUFFIX],
                                holes[INFER_CHAT_H_SYSSUF].p,
                                holes[INFER_CHAT_H_SYSSUF].len);
}


/* the line and column of the source's byte off, for messages */

static void
infer_chat_where(const infer_chat_lex_t *lx, size_t off, size_t *line,
    size_t *col)
{
    size_t  i;

    *line = 1;
    *col = 1;

    for (i = 0; i < off && i < lx->len; i++) {
        *line += (lx->src[i] == '\n');
        *col = (lx->src[i] == '\n') ? 1 : *col + 1;
    }
}
