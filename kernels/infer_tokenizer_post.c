/*
 * ngx_infer: the parts of tokenizer.json that name tokens by id: the
 * post-processor (TemplateProcessing, BertProcessing) and the added
 * tokens (infer_tokenizer_json.c reads the rest, the model first).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "infer_util.h"
#include "infer_tokenizer_impl.h"


static int infer_tok_template(infer_tokenizer_t *tok, json_t *p,
    infer_tok_ctx_t *cx);
static int infer_tok_special(int32_t *ids, size_t *n, json_t *specials,
    const char *name, const char *where, infer_tok_ctx_t *cx);
static int infer_tok_cmp_added(const void *a, const void *b);


/* the post-processor: TemplateProcessing, BertProcessing or none */

int
infer_tok_post(infer_tokenizer_t *tok, json_t *p, infer_tok_ctx_t *cx)
{
    int          i;
    json_t      *v;
    const char  *type, *what;

    static const char *const  known[] = { "type", "sep", "cls", NULL };

    if (p == NULL || json_is_null(p)) {
        return 0;
    }

    v = json_is_object(p) ? json_object_get(p, "type") : NULL;
    type = json_is_string(v) ? json_string_value(v) : "";

    if (strcmp(type, "TemplateProcessing") == 0) {
        return infer_tok_template(tok, p, cx);
    }

    if (strcmp(type, "BertProcessing") != 0) {
        return infer_error(cx->err, cx->errlen, "%s: post_processor.type: "
                           "\"%.64s\" is not supported (supported: "
                           "TemplateProcessing, BertProcessing, null)",
                           cx->fname, type);
    }

    if (infer_tok_keys(p, known, "post_processor.", cx) != 0) {
        return -1;
    }

    /* "cls": ["[CLS]", 101], "sep": ["[SEP]", 102] */
    for (i = 0; i < 2; i++) {
        what = i == 0 ? "cls" : "sep";
        v = json_object_get(p, what);

        if (!json_is_array(v) || json_array_size(v) != 2
            || !json_is_string(json_array_get(v, 0))
            || !json_is_integer(json_array_get(v, 1))
            || json_integer_value(json_array_get(v, 1)) < 0
            || json_integer_value(json_array_get(v, 1)) >= INFER_TOK_MAX_IDS)
        {
            return infer_error(cx->err, cx->errlen, "%s: post_processor.%s: "
                               "not a [token, id] pair", cx->fname, what);
        }

        if (i == 0) {
            tok->head[tok->nhead++] =
                (int32_t) json_integer_value(json_array_get(v, 1));

        } else {
            tok->tail[tok->ntail++] =
                (int32_t) json_integer_value(json_array_get(v, 1));
        }
    }

    return 0;
}


/*
 * "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
 *            {"Sequence": {"id": "A", "type_id": 0}}, ...]; "pair" is the
 * template of two sequences, which encode() never takes: it only has to be
 * an array.
 */
static int
infer_tok_template(infer_tokenizer_t *tok, json_t *p, infer_tok_ctx_t *cx)
{
    int          seen;
    char         where[96];
    size_t       i;
    json_t      *single, *item, *v, *id, *tid;
    const char  *kind;

    static const char *const  known[] = {
        "type", "single", "pair", "special_tokens", NULL
    };
    static const char *const  known_item[] = { "id", "type_id", NULL };

    if (infer_tok_keys(p, known, "post_processor.", cx) != 0) {
        return -1;
    }

    v = json_object_get(p, "pair");
    if (v != NULL && !json_is_array(v)) {
        return infer_error(cx->err, cx->errlen, "%s: post_processor.pair: "
                           "not an array", cx->fname);
    }

    single = json_object_get(p, "single");
    if (!json_is_array(single)) {
        return infer_error(cx->err, cx->errlen, "%s: post_processor.single: "
                           "missing or not an array", cx->fname);
    }

    seen = 0;

    json_array_foreach(single, i, item) {
        snprintf(where, sizeof(where), "post_processor.single[%zu]", i);

        if (!json_is_object(item) || json_object_size(item) != 1) {
            return infer_error(cx->err, cx->errlen, "%s: %s: not an object "
                               "of one key", cx->fname, where);
        }

        kind = json_object_iter_key(json_object_iter(item));
        v = json_object_iter_value(json_object_iter(item));
        snprintf(where + strlen(where), sizeof(where) - strlen(where),
                 ".%.32s.", kind);

        if ((strcmp(kind, "Sequence") != 0
             && strcmp(kind, "SpecialToken") != 0)
            || !json_is_object(v))
        {
            return infer_error(cx->err, cx->errlen, "%s: %s: not a Sequence "
                               "or a SpecialToken object", cx->fname, where);
        }

        if (infer_tok_keys(v, known_item, where, cx) != 0) {
            return -1;
        }

        id = json_object_get(v, "id");
        tid = json_object_get(v, "type_id");

        if (!json_is_string(id)) {
            return infer_error(cx->err, cx->errlen, "%s: %sid: missing or "
                               "not a string", cx->fname, where);
        }

        /* encode() gives ids only: the model's token types are all 0 */
        if (tid != NULL && !(json_is_integer(tid)
                             && json_integer_value(tid) == 0))
        {
            return infer_error(cx->err, cx->errlen, "%s: %stype_id: only 0 "
                               "is supported (the encoder gives no token "
                               "types)", cx->fname, where);
        }

        if (strcmp(kind, "Sequence") == 0) {
            if (strcmp(json_string_value(id), "A") != 0 || seen) {
                return infer_error(cx->err, cx->errlen, "%s: %sid: a single "
                                   "sequence's template has one Sequence, "
                                   "\"A\"", cx->fname, where);
            }

            seen = 1;
            continue;
        }

        if (infer_tok_special(seen ? tok->tail : tok->head,
                              seen ? &tok->ntail : &tok->nhead,
                              json_object_get(p, "special_tokens"),
                              json_string_value(id), where, cx)
            != 0)
        {
            return -1;
        }
    }

    if (!seen) {
        return infer_error(cx->err, cx->errlen, "%s: post_processor.single: "
                           "no Sequence \"A\"", cx->fname);
    }

    return 0;
}


/* special_tokens[name].ids appended to ids */
static int
infer_tok_special(int32_t *ids, size_t *n, json_t *specials,
    const char *name, const char *where, infer_tok_ctx_t *cx)
{
    size_t       i;
    json_t      *sp, *list, *v;
    json_int_t   id;

    static const char *const  known[] = { "id", "ids", "tokens", NULL };

    sp = json_is_object(specials) ? json_object_get(specials, name) : NULL;
    list = json_is_object(sp) ? json_object_get(sp, "ids") : NULL;

    if (!json_is_array(list)) {
        return infer_error(cx->err, cx->errlen, "%s: %sid: \"%.64s\" has no "
                           "\"ids\" in post_processor.special_tokens",
                           cx->fname, where, name);
    }

    if (infer_tok_keys(sp, known, "post_processor.special_tokens.*.", cx)
        != 0)
    {
        return -1;
    }

    json_array_foreach(list, i, v) {
        if (!json_is_integer(v) || json_integer_value(v) < 0
            || json_integer_value(v) >= INFER_TOK_MAX_IDS)
        {
            return infer_error(cx->err, cx->errlen, "%s: post_processor."
                               "special_tokens.\"%.64s\".ids[%zu]: not an id",
                               cx->fname, name, i);
        }

        if (*n == INFER_TOK_MAX_SPECIAL) {
            return infer_error(cx->err, cx->errlen, "%s: post_processor."
                               "single: more than %d special ids on a side",
                               cx->fname, INFER_TOK_MAX_SPECIAL);
        }

        id = json_integer_value(v);
        ids[(*n)++] = (int32_t) id;
    }

    return 0;
}


/*
 * added_tokens: matched in the raw text, before the normalizer, as
 * `tokenizers` matches the non-normalized ones; the options that change
 * the matching (normalized, single_word, lstrip, rstrip) are refused.
 */
int
infer_tok_added(infer_tokenizer_t *tok, json_t *a, infer_tok_ctx_t *cx)
{
    int                 b;
    char                where[64];
    size_t              i, len, j;
    json_t             *t, *c;
    int32_t             known_id, next_id;
    json_int_t          id;
    const char         *s;
    infer_tok_added_t  *at;

    static const char *const  known[] = {
        "id", "content", "single_word", "lstrip", "rstrip", "normalized",
        "special", NULL
    };
    static const char *const  off[] = {
        "single_word", "lstrip", "rstrip", "normalized", NULL
    };

    if (json_array_size(a) == 0) {
        return 0;
    }

    tok->added = calloc(json_array_size(a), sizeof(infer_tok_added_t));
    if (tok->added == NULL) {
        return infer_error(cx->err, cx->errlen, "%s: added_tokens: out of "
                           "memory", cx->fname);
    }

    next_id = (int32_t) tok->vocab_size;

    json_array_foreach(a, i, t) {
        snprintf(where, sizeof(where), "added_tokens[%zu].", i);

        if (!json_is_object(t)) {
            return infer_error(cx->err, cx->errlen, "%s: added_tokens[%zu]: "
                               "not an object", cx->fname, i);
        }

        if (infer_tok_keys(t, known, where, cx) != 0
            || infer_tok_int(t, "id", 0, INFER_TOK_MAX_IDS - 1, &id, where,
                             cx) != 0
            || infer_tok_bool(t, "special", 0, &b, where, cx) != 0)
        {
            return -1;
        }

        for (j = 0; off[j] != NULL; j++) {
            if (infer_tok_bool(t, off[j], 0, &b, where, cx) != 0) {
                return -1;
            }

            if (b) {
                return infer_error(cx->err, cx->errlen, "%s: %s%s: true is "
                                   "not supported (added tokens are matched "
                                   "as they are, in the raw text)",
                                   cx->fname, where, off[j]);
            }
        }

        c = json_object_get(t, "content");
        if (!json_is_string(c)) {
            return infer_error(cx->err, cx->errlen, "%s: %scontent: missing "
                               "or not a string", cx->fname, where);
        }

        s = json_string_value(c);
        len = json_string_length(c);

        /* `tokenizers` skips an empty one too: it can match nothing */
        if (len == 0) {
            continue;
        }

        /* `tokenizers` gives an added token its vocabulary id, or the
         * next one past the vocabulary's size, whatever the file says */
        known_id = infer_tokenizer_id(tok, s, len);
        if (known_id < 0) {
            known_id = next_id++;
        }

        if (known_id != (int32_t) id) {
            return infer_error(cx->err, cx->errlen, "%s: %sid: %lld, but "
                               "tokenizers gives \"%.64s\" the id %d",
                               cx->fname, where, (long long) id, s,
                               (int) known_id);
        }

        if (id <= tok->max_id && tok->by_id[id] != 0
            && (tok->slots[tok->by_id[id] - 1].len != len
                || memcmp(tok->strings + tok->slots[tok->by_id[id] - 1].off,
                          s, len) != 0))
        {
            return infer_error(cx->err, cx->errlen, "%s: %sid: %lld is "
                               "another token's in model.vocab", cx->fname,
                               where, (long long) id);
        }

        at = &tok->added[tok->nadded++];
        at->off = (uint32_t) tok->strings_len;
        at->len = (uint32_t) len;
        at->id = (int32_t) id;

        memcpy(tok->strings + tok->strings_len, s, len);
        tok->strings_len += len;

        tok->added_first[(unsigned char) s[0]] = 1;
    }

    /* leftmost-longest: at one place, the longest content wins */
    qsort(tok->added, tok->nadded, sizeof(infer_tok_added_t),
          infer_tok_cmp_added);

    return 0;
}


static int
infer_tok_cmp_added(const void *a, const void *b)
{
    const infer_tok_added_t  *x = a, *y = b;

    if (x->len != y->len) {
        return x->len > y->len ? -1 : 1;
    }

    return x->id < y->id ? -1 : (x->id > y->id);
}
