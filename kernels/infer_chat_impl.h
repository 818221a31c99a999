/*
 * ngx_infer: what the chat templates' two files share (infer_chat.c, the
 * known templates and their rendering; infer_chat_lex.c, the Jinja2
 * lexer and the match of two token streams).
 */

#ifndef _INFER_CHAT_IMPL_H_INCLUDED_
#define _INFER_CHAT_IMPL_H_INCLUDED_


#include <stddef.h>

#include "infer_chat.h"


/* the holes of the known templates, $0 to $10 (infer_chat.c) */
#define INFER_CHAT_HOLES       11


/* what a template's tokens are */
enum {
    INFER_CHAT_T_TEXT = 1,
    INFER_CHAT_T_BLOCK,            /* {% */
    INFER_CHAT_T_VAR,              /* {{ */
    INFER_CHAT_T_END,              /* %} or }} */
    INFER_CHAT_T_NAME,
    INFER_CHAT_T_STR,              /* p, len: the unescaped value */
    INFER_CHAT_T_NUM,
    INFER_CHAT_T_OP,
    INFER_CHAT_T_HOLE              /* $n, in the known templates only */
};

typedef struct {
    int                      type;
    const char              *p;
    size_t                   len;
    size_t                   off;          /* in the source */
} infer_chat_tok_t;


typedef struct {
    char                    *src;          /* newlines normalized */
    size_t                   len;
    infer_chat_tok_t        *tok;
    size_t                   n;
    char                    *val;          /* the strings, unescaped */
    size_t                   nval;
    int                      holes;
    const char              *why;          /* what the lexer refused */
    size_t                   why_off;
} infer_chat_lex_t;


/*
 * Lexes the template s (len bytes) into lx as Jinja2 lexes it, with
 * trim_blocks and lstrip_blocks: 0, or -1 with lx->why and lx->why_off
 * (lx->why NULL: out of memory).  holes: "$n" is a hole (the known
 * templates).  lx is freed by infer_chat_lex_free() in every case.
 */
int infer_chat_lex(infer_chat_lex_t *lx, const char *s, size_t len,
    int holes);
void infer_chat_lex_free(infer_chat_lex_t *lx);

/*
 * How many tokens of the known template pat the template tpl matches,
 * its holes taken into holes (of INFER_CHAT_HOLES); pat->n is a match if
 * tpl has no more.
 */
size_t infer_chat_match(const infer_chat_lex_t *pat,
    const infer_chat_lex_t *tpl, infer_chat_str_t *holes);

/* Jinja2's trim filter, Python's str.strip(), on UTF-8 */
void infer_chat_trim(const char **p, size_t *len);


#endif /* _INFER_CHAT_IMPL_H_INCLUDED_ */
