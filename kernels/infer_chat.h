/*
 * ngx_infer: chat templates, independent of nginx.  A generative model's
 * GGUF file carries tokenizer.chat_template, the Jinja2 text that Hugging
 * Face's apply_chat_template() renders over the messages; this renders
 * the same bytes.
 *
 * The approach is a recognizer, not an interpreter: the template is lexed
 * as Jinja2 lexes it (trim_blocks and lstrip_blocks, as transformers sets
 * them; "{%-" and "-%}"; comments; one trailing newline dropped; string
 * literals unescaped as Python's "unicode-escape") into a stream of
 * tokens, which is compared with the token streams of the templates this
 * file knows.  Two templates match when they render the same: whitespace
 * inside tags, the quotes of a string, x['key'] against x.key and
 * 'a' + 'b' against 'ab' do not matter; the text between tags, after
 * Jinja's whitespace control, does.  A known template has holes, string
 * literals taken from the model's own template: the default system prompt
 * (SmolLM2's, Qwen's), the words around a turn, the generation prompt.
 * So SmolLM2's template, Qwen2's, Megrez's and every ChatML variant of the
 * same shape are one family, rendered by one loop with their own strings.
 *
 * The families:
 *
 *   ChatML        <|im_start|>role\ncontent<|im_end|>\n (OpenHermes'
 *                 "chatml"); with a default system prompt when the first
 *                 message is not a system one (SmolLM2, Qwen2); Qwen2.5's
 *                 template with its tool branches (never taken: no tools)
 *   Llama 3       bos_token, then <|start_header_id|>role<|end_header_id|>
 *                 \n\ncontent|trim<|eot_id|> (Meta-Llama-3-*-Instruct)
 *   Gemma         bos_token, <start_of_turn>user|model\ncontent|trim
 *                 <end_of_turn>\n; it raises for a system message and for
 *                 roles that do not alternate, and so does this
 *
 * A template of another shape (Mistral's, Zephyr's, Llama 3.1's dated
 * system prompt, Qwen3's thinking) is refused at configuration time with
 * where it parts from the closest known one; a template named instead
 * ("chatml", "llama3", "gemma") serves a model without one, or one whose
 * own template is refused.
 */

#ifndef _INFER_CHAT_H_INCLUDED_
#define _INFER_CHAT_H_INCLUDED_


#include <stddef.h>


typedef enum {
    INFER_CHAT_SYSTEM = 0,         /* also OpenAI's "developer" */
    INFER_CHAT_USER,
    INFER_CHAT_ASSISTANT
} infer_chat_role_e;


/* content: UTF-8, the text parts of an OpenAI message already joined */
typedef struct {
    infer_chat_role_e        role;
    const char              *content;
    size_t                   len;
} infer_chat_msg_t;


typedef struct {
    const char              *p;
    size_t                   len;
} infer_chat_str_t;


typedef struct {
    const char              *family;       /* "ChatML", "Llama 3", "Gemma" */
    unsigned                 flags;

    /* the template's strings (and bos, eos), in buf */
    infer_chat_str_t         default_system;   /* a whole system turn */
    infer_chat_str_t         prefix;       /* prefix role sep content suffix */
    infer_chat_str_t         sep;
    infer_chat_str_t         suffix;
    infer_chat_str_t         generation;   /* the assistant's turn opened */
    infer_chat_str_t         assistant;    /* the assistant's role name */
    infer_chat_str_t         err_system;   /* what the template raises */
    infer_chat_str_t         err_alternate;
    infer_chat_str_t         bos;
    infer_chat_str_t         eos;

    char                    *buf;
} infer_chat_template_t;


/*
 * Recognizes the template text tmpl (len bytes: a GGUF's
 * tokenizer.chat_template), with the model's bos and eos token texts
 * (NULL: ""), as the nginx side does while it loads the model: 0, or -1
 * with a message in err saying which families are known and where the
 * template parts from the closest (line and column).  The template
 * keeps no pointer into tmpl, bos or eos.
 */
int infer_chat_template_init(infer_chat_template_t *t, const char *tmpl,
    size_t len, const char *bos, const char *eos, char *err, size_t errlen);

/*
 * A template by name: "chatml", "llama3" (Meta-Llama-3-8B-Instruct's
 * text) or "gemma" (gemma-2-2b-it's); 0, or -1 with err for another name.
 */
int infer_chat_template_named(infer_chat_template_t *t, const char *name,
    const char *bos, const char *eos, char *err, size_t errlen);

/*
 * The room infer_chat_apply() needs for the n messages at m: at least
 * the length it writes.
 */
size_t infer_chat_apply_size(const infer_chat_template_t *t,
    const infer_chat_msg_t *m, size_t n);

/*
 * Renders the n messages (n >= 1) into dst, as transformers'
 * apply_chat_template(messages, add_generation_prompt=...,
 * tokenize=False) renders the template: the length written, or
 * (size_t) -1 with the message in err where the template raises (Gemma's
 * "System role not supported") or n is 0.  The text is to be tokenized
 * with special tokens parsed: a message's own "<|im_end|>" is one too, as
 * it is in transformers.
 */
size_t infer_chat_apply(const infer_chat_template_t *t,
    const infer_chat_msg_t *m, size_t n, int add_generation_prompt,
    char *dst, char *err, size_t errlen);

void infer_chat_template_free(infer_chat_template_t *t);


#endif /* _INFER_CHAT_H_INCLUDED_ */
