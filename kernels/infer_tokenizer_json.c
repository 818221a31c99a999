/*
 * ngx_infer: tokenizer.json to a tokenizer (infer_tokenizer.h).
 *
 * Every key of the file is read or refused: the model first (the others
 * name its tokens), then the added tokens and the post-processor
 * (infer_tokenizer_post.c), the normalizer, the pre-tokenizer and the
 * sections that only need to be well-formed.  What the encoder does not
 * implement is an error naming the key, in the dotted form of its path
 * ("normalizer.strip_accents").
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "infer_util.h"
#include "infer_tokenizer_impl.h"


#define INFER_TOK_FILE_MAX   (256 * 1024 * 1024)


static int infer_tok_parse(infer_tokenizer_t *tok, json_t *root,
    infer_tok_ctx_t *cx);
static int infer_tok_model(infer_tokenizer_t *tok, json_t *m,
    json_t *added, infer_tok_ctx_t *cx);
static int infer_tok_vocab(infer_tokenizer_t *tok, json_t *vocab,
    json_t *added, infer_tok_ctx_t *cx);
static int infer_tok_normalizer(infer_tokenizer_t *tok, json_t *n,
    infer_tok_ctx_t *cx);
static int infer_tok_pre_tokenizer(json_t *p, infer_tok_ctx_t *cx);
static int infer_tok_truncation(infer_tokenizer_t *tok, json_t *t,
    infer_tok_ctx_t *cx);
static int infer_tok_decoder(json_t *d, infer_tok_ctx_t *cx);


infer_tokenizer_t *
infer_tokenizer_load(const char *path, char *err, size_t errlen)
{
    char               *json;
    size_t              len;
    infer_tokenizer_t  *tok;

    json = infer_read_file(path, INFER_TOK_FILE_MAX, &len, err, errlen);
    if (json == NULL) {
        return NULL;
    }

    tok = infer_tokenizer_load_buffer(json, len, path, err, errlen);
    free(json);

    return tok;
}


infer_tokenizer_t *
infer_tokenizer_load_buffer(const char *json, size_t len, const char *name,
    char *err, size_t errlen)
{
    json_t             *root;
    json_error_t        jerr;
    infer_tok_ctx_t     cx;
    infer_tokenizer_t  *tok;

    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        infer_error(err, errlen, "%s: line %d, column %d: %s", name,
                    jerr.line, jerr.column, jerr.text);
        return NULL;
    }

    tok = calloc(1, sizeof(infer_tokenizer_t));
    if (tok == NULL) {
        infer_error(err, errlen, "%s: out of memory", name);
        json_decref(root);
        return NULL;
    }

    cx.fname = name;
    cx.err = err;
    cx.errlen = errlen;

    if (infer_tok_parse(tok, root, &cx) != 0) {
        json_decref(root);
        infer_tokenizer_free(tok);
        return NULL;
    }

    json_decref(root);

    infer_wp_prepare(tok);

    return tok;
}


void
infer_tokenizer_free(infer_tokenizer_t *tok)
{
    if (tok == NULL) {
        return;
    }

    free(tok->strings);
    free(tok->slots);
    free(tok->by_id);
    free(tok->added);
    free(tok);
}


void
infer_tokenizer_info(const infer_tokenizer_t *tok,
    infer_tokenizer_info_t *info)
{
    size_t  i;

    info->vocab_size = tok->vocab_size;
    info->max_id = tok->max_id;
    info->unk_id = tok->unk_id;
    info->n_special = tok->nhead + tok->ntail;
    info->file_max_length = tok->file_max_length;
    info->max_word_chars = tok->max_chars;
    info->lowercase = tok->normalize && tok->lowercase;

    for (i = 0; i < tok->nadded; i++) {
        if (tok->added[i].id > info->max_id) {
            info->max_id = tok->added[i].id;
        }
    }
}


const char *
infer_tokenizer_token(const infer_tokenizer_t *tok, int32_t id, size_t *len)
{
    size_t                  i;
    const infer_wp_slot_t  *sl;

    if (id >= 0 && id <= tok->max_id && tok->by_id[id] != 0) {
        sl = &tok->slots[tok->by_id[id] - 1];
        *len = sl->len;
        return tok->strings + sl->off;
    }

    for (i = 0; i < tok->nadded; i++) {
        if (tok->added[i].id == id) {
            *len = tok->added[i].len;
            return tok->strings + tok->added[i].off;
        }
    }

    return NULL;
}


int32_t
infer_tokenizer_id(const infer_tokenizer_t *tok, const char *s, size_t len)
{
    size_t                  i;
    const infer_wp_slot_t  *sl;

    for (i = 0; i < tok->nadded; i++) {
        if (tok->added[i].len == len
            && memcmp(tok->strings + tok->added[i].off, s, len) == 0)
        {
            return tok->added[i].id;
        }
    }

    sl = infer_wp_find(tok, infer_wp_hash_bytes(INFER_WP_HASH_INIT, s, len),
                       NULL, 0, s, len);

    return sl != NULL ? sl->id : -1;
}


long
infer_wp_insert(infer_tokenizer_t *tok, const char *s, size_t len,
    int32_t id)
{
    uint32_t          h, i;
    infer_wp_slot_t  *sl;

    h = infer_wp_hash_bytes(INFER_WP_HASH_INIT, s, len);

    if (infer_wp_find(tok, h, NULL, 0, s, len) != NULL) {
        return -1;
    }

    for (i = infer_wp_slot_index(h) & tok->mask; tok->slots[i].id >= 0;
         i = (i + 1) & tok->mask)
    {
        /* void */
    }

    sl = &tok->slots[i];
    sl->hash = h;
    sl->id = id;
    sl->off = (uint32_t) tok->strings_len;
    sl->len = (uint32_t) len;

    memcpy(tok->strings + tok->strings_len, s, len);
    tok->strings_len += len;

    return (long) i;
}


/* the file's top level */

static int
infer_tok_parse(infer_tokenizer_t *tok, json_t *root, infer_tok_ctx_t *cx)
{
    json_t  *v;

    static const char *const  known[] = {
        "version", "truncation", "padding", "added_tokens", "normalizer",
        "pre_tokenizer", "model", "post_processor", "decoder", NULL
    };

    if (!json_is_object(root)) {
        return infer_error(cx->err, cx->errlen, "%s: not a JSON object",
                           cx->fname);
    }

    if (infer_tok_keys(root, known, "", cx) != 0) {
        return -1;
    }

    v = json_object_get(root, "version");
    if (v != NULL && !(json_is_string(v)
                       && strcmp(json_string_value(v), "1.0") == 0))
    {
        return infer_error(cx->err, cx->errlen, "%s: version: only \"1.0\" "
                           "is supported", cx->fname);
    }

    v = json_object_get(root, "added_tokens");
    if (v != NULL && !json_is_array(v)) {
        return infer_error(cx->err, cx->errlen, "%s: added_tokens: not an "
                           "array", cx->fname);
    }

    if (infer_tok_model(tok, json_object_get(root, "model"), v, cx) != 0
        || infer_tok_added(tok, v, cx) != 0
        || infer_tok_normalizer(tok, json_object_get(root, "normalizer"), cx)
           != 0
        || infer_tok_pre_tokenizer(json_object_get(root, "pre_tokenizer"), cx)
           != 0
        || infer_tok_post(tok, json_object_get(root, "post_processor"), cx)
           != 0
        || infer_tok_truncation(tok, json_object_get(root, "truncation"), cx)
           != 0
        || infer_tok_decoder(json_object_get(root, "decoder"), cx) != 0)
    {
        return -1;
    }

    /* never applied: the server batches ragged sequences */
    v = json_object_get(root, "padding");
    if (v != NULL && !json_is_null(v) && !json_is_object(v)) {
        return infer_error(cx->err, cx->errlen, "%s: padding: not an object "
                           "or null", cx->fname);
    }

    return 0;
}


/* the model: WordPiece */

static int
infer_tok_model(infer_tokenizer_t *tok, json_t *m, json_t *added,
    infer_tok_ctx_t *cx)
{
    size_t       len;
    json_t      *v;
    json_int_t   n;

    static const char *const  known[] = {
        "type", "unk_token", "continuing_subword_prefix",
        "max_input_chars_per_word", "vocab", NULL
    };

    if (!json_is_object(m)) {
        return infer_error(cx->err, cx->errlen, "%s: model: missing or not "
                           "an object", cx->fname);
    }

    if (infer_tok_type(m, "WordPiece", "model", cx) != 0
        || infer_tok_keys(m, known, "model.", cx) != 0)
    {
        return -1;
    }

    v = json_object_get(m, "continuing_subword_prefix");
    if (!json_is_string(v)) {
        return infer_error(cx->err, cx->errlen, "%s: model."
                           "continuing_subword_prefix: missing or not a "
                           "string", cx->fname);
    }

    len = json_string_length(v);
    if (len > INFER_WP_PREFIX_MAX) {
        return infer_error(cx->err, cx->errlen, "%s: model."
                           "continuing_subword_prefix: longer than %d bytes",
                           cx->fname, INFER_WP_PREFIX_MAX);
    }

    memcpy(tok->prefix, json_string_value(v), len);
    tok->prefix_len = len;
    tok->prefix_hash = infer_wp_hash_bytes(INFER_WP_HASH_INIT, tok->prefix,
                                           len);

    if (infer_tok_int(m, "max_input_chars_per_word", 1, INFER_WP_MAX_CHARS,
                      &n, "model.", cx) != 0)
    {
        return -1;
    }

    tok->max_chars = (size_t) n;

    if (infer_tok_vocab(tok, json_object_get(m, "vocab"), added, cx) != 0) {
        return -1;
    }

    v = json_object_get(m, "unk_token");
    if (!json_is_string(v)) {
        return infer_error(cx->err, cx->errlen, "%s: model.unk_token: "
                           "missing or not a string", cx->fname);
    }

    tok->unk_id = infer_tokenizer_id(tok, json_string_value(v),
                                     json_string_length(v));
    if (tok->unk_id < 0) {
        return infer_error(cx->err, cx->errlen, "%s: model.unk_token: "
                           "\"%.64s\" is not in model.vocab", cx->fname,
                           json_string_value(v));
    }

    return 0;
}


static int
infer_tok_vocab(infer_tokenizer_t *tok, json_t *vocab, json_t *added,
    infer_tok_ctx_t *cx)
{
    size_t       n, cap, bytes, i, len;
    json_t      *v, *c;
    uint32_t    *by_id;
    json_int_t   id;
    const char  *key;

    if (!json_is_object(vocab) || json_object_size(vocab) == 0) {
        return infer_error(cx->err, cx->errlen, "%s: model.vocab: missing, "
                           "empty or not an object", cx->fname);
    }

    n = json_object_size(vocab);
    if (n > INFER_TOK_MAX_IDS) {
        return infer_error(cx->err, cx->errlen, "%s: model.vocab: more than "
                           "%d entries", cx->fname, INFER_TOK_MAX_IDS);
    }

    /* the arena holds the vocabulary and the added tokens' contents */
    bytes = 0;
    tok->max_id = 0;

    json_object_foreach(vocab, key, v) {
        bytes += strlen(key);

        if (!json_is_integer(v) || json_integer_value(v) < 0
            || json_integer_value(v) >= INFER_TOK_MAX_IDS)
        {
            return infer_error(cx->err, cx->errlen, "%s: model.vocab.\"%.64s\""
                               ": not an id from 0 to %d", cx->fname, key,
                               INFER_TOK_MAX_IDS - 1);
        }

        if (json_integer_value(v) > tok->max_id) {
            tok->max_id = (int32_t) json_integer_value(v);
        }
    }

    for (i = 0; i < json_array_size(added); i++) {
        c = json_object_get(json_array_get(added, i), "content");
        bytes += json_is_string(c) ? json_string_length(c) : 0;
    }

    if (bytes >= (size_t) 1 << 30) {
        return infer_error(cx->err, cx->errlen, "%s: model.vocab: over 1 GB "
                           "of tokens", cx->fname);
    }

    for (cap = 64; cap < 2 * n; cap *= 2) { /* void */ }

    tok->strings = malloc(bytes + 1);
    tok->slots = malloc(cap * sizeof(infer_wp_slot_t));
    tok->by_id = calloc((size_t) tok->max_id + 1, sizeof(uint32_t));

    if (tok->strings == NULL || tok->slots == NULL || tok->by_id == NULL) {
        return infer_error(cx->err, cx->errlen, "%s: model.vocab: out of "
                           "memory", cx->fname);
    }

    tok->mask = (uint32_t) cap - 1;
    for (i = 0; i < cap; i++) {
        tok->slots[i].id = -1;
    }

    by_id = tok->by_id;

    json_object_foreach(vocab, key, v) {
        id = json_integer_value(v);
        len = strlen(key);

        if (by_id[id] != 0) {
            i = by_id[id] - 1;
            return infer_error(cx->err, cx->errlen, "%s: model.vocab: "
                               "\"%.64s\" and \"%.*s\" have the same id %lld",
                               cx->fname, key,
                               (int) (tok->slots[i].len > 64
                                      ? 64 : tok->slots[i].len),
                               tok->strings + tok->slots[i].off,
                               (long long) id);
        }

        /* JSON_REJECT_DUPLICATES refused the same key twice */
        by_id[id] = (uint32_t) infer_wp_insert(tok, key, len, (int32_t) id)
                    + 1;

        if (len > tok->max_first) {
            tok->max_first = len;
        }

        if (len >= tok->prefix_len
            && memcmp(key, tok->prefix, tok->prefix_len) == 0
            && len - tok->prefix_len > tok->max_cont)
        {
            tok->max_cont = len - tok->prefix_len;
        }
    }

    tok->vocab_size = n;

    return 0;
}


/* the normalizer: BertNormalizer, or none */

static int
infer_tok_normalizer(infer_tokenizer_t *tok, json_t *n, infer_tok_ctx_t *cx)
{
    int  clean, chinese, strip, lower;

    static const char *const  known[] = {
        "type", "clean_text", "handle_chinese_chars", "strip_accents",
        "lowercase", NULL
    };

    if (n == NULL || json_is_null(n)) {
        return 0;
    }

    if (!json_is_object(n)) {
        return infer_error(cx->err, cx->errlen, "%s: normalizer: not an "
                           "object or null", cx->fname);
    }

    if (infer_tok_type(n, "BertNormalizer", "normalizer", cx) != 0
        || infer_tok_keys(n, known, "normalizer.", cx) != 0
        || infer_tok_bool(n, "clean_text", 0, &clean, "normalizer.", cx) != 0
        || infer_tok_bool(n, "handle_chinese_chars", 0, &chinese,
                          "normalizer.", cx) != 0
        || infer_tok_bool(n, "lowercase", 0, &lower, "normalizer.", cx) != 0
        || infer_tok_bool(n, "strip_accents", 1, &strip, "normalizer.", cx)
           != 0)
    {
        return -1;
    }

    tok->normalize = 1;
    tok->clean_text = clean;
    tok->chinese = chinese;
    tok->lowercase = lower;
    /* null: BERT strips the accents of the text it lowercases */
    tok->strip_accents = strip < 0 ? lower : strip;

    return 0;
}


static int
infer_tok_pre_tokenizer(json_t *p, infer_tok_ctx_t *cx)
{
    static const char *const  known[] = { "type", NULL };

    if (!json_is_object(p)) {
        return infer_error(cx->err, cx->errlen, "%s: pre_tokenizer: missing, "
                           "null or not an object (supported: "
                           "BertPreTokenizer)", cx->fname);
    }

    if (infer_tok_type(p, "BertPreTokenizer", "pre_tokenizer", cx) != 0
        || infer_tok_keys(p, known, "pre_tokenizer.", cx) != 0)
    {
        return -1;
    }

    return 0;
}


/*
 * truncation: its max_length is reported, never applied (the caller's
 * max_ids is); what it says of the way to cut must be HF's way for one
 * sequence, the end.  stride only shapes the overflowing pieces, which
 * encode() does not give.
 */
static int
infer_tok_truncation(infer_tokenizer_t *tok, json_t *t, infer_tok_ctx_t *cx)
{
    json_t      *v;
    json_int_t   n;
    const char  *s;

    static const char *const  known[] = {
        "max_length", "strategy", "stride", "direction", NULL
    };

    if (t == NULL || json_is_null(t)) {
        return 0;
    }

    if (!json_is_object(t)) {
        return infer_error(cx->err, cx->errlen, "%s: truncation: not an "
                           "object or null", cx->fname);
    }

    if (infer_tok_keys(t, known, "truncation.", cx) != 0
        || infer_tok_int(t, "max_length", 1, INFER_TOK_MAX_IDS, &n,
                         "truncation.", cx) != 0)
    {
        return -1;
    }

    tok->file_max_length = (size_t) n;

    v = json_object_get(t, "stride");
    if (v != NULL && (!json_is_integer(v) || json_integer_value(v) < 0)) {
        return infer_error(cx->err, cx->errlen, "%s: truncation.stride: not "
                           "an integer >= 0", cx->fname);
    }

    v = json_object_get(t, "strategy");
    s = json_is_string(v) ? json_string_value(v) : "";

    if (v != NULL && strcmp(s, "LongestFirst") != 0
        && strcmp(s, "OnlyFirst") != 0)
    {
        return infer_error(cx->err, cx->errlen, "%s: truncation.strategy: "
                           "\"%.64s\" is not supported (supported: "
                           "LongestFirst, OnlyFirst)", cx->fname, s);
    }

    v = json_object_get(t, "direction");
    s = json_is_string(v) ? json_string_value(v) : "";

    if (v != NULL && strcmp(s, "Right") != 0) {
        return infer_error(cx->err, cx->errlen, "%s: truncation.direction: "
                           "\"%.64s\" is not supported (supported: Right)",
                           cx->fname, s);
    }

    return 0;
}


/* decoder: only id-by-id decoding is offered, which needs none of it */
static int
infer_tok_decoder(json_t *d, infer_tok_ctx_t *cx)
{
    static const char *const  known[] = { "type", "prefix", "cleanup", NULL };

    if (d == NULL || json_is_null(d)) {
        return 0;
    }

    if (!json_is_object(d)) {
        return infer_error(cx->err, cx->errlen, "%s: decoder: not an object "
                           "or null", cx->fname);
    }

    if (infer_tok_type(d, "WordPiece", "decoder", cx) != 0
        || infer_tok_keys(d, known, "decoder.", cx) != 0)
    {
        return -1;
    }

    return 0;
}


/* helpers: one message per kind of bad key */

int
infer_tok_keys(json_t *obj, const char *const *known, const char *where,
    infer_tok_ctx_t *cx)
{
    size_t       i;
    json_t      *v;
    const char  *key;

    json_object_foreach(obj, key, v) {
        for (i = 0; known[i] != NULL; i++) {
            if (strcmp(key, known[i]) == 0) {
                break;
            }
        }

        if (known[i] == NULL) {
            return infer_error(cx->err, cx->errlen, "%s: %s%.64s: unknown "
                               "key, not supported", cx->fname, where, key);
        }
    }

    return 0;
}


int
infer_tok_type(json_t *obj, const char *want, const char *where,
    infer_tok_ctx_t *cx)
{
    json_t  *v;

    v = json_object_get(obj, "type");

    if (!json_is_string(v) || strcmp(json_string_value(v), want) != 0) {
        return infer_error(cx->err, cx->errlen, "%s: %s.type: %s%.64s%s is "
                           "not supported (supported: %s)", cx->fname, where,
                           json_is_string(v) ? "\"" : "",
                           json_is_string(v) ? json_string_value(v)
                                             : "missing or not a string",
                           json_is_string(v) ? "\"" : "", want);
    }

    return 0;
}


/* *val = 0 or 1, or -1 for null where null_ok (a missing key too) */
int
infer_tok_bool(json_t *obj, const char *key, int null_ok, int *val,
    const char *where, infer_tok_ctx_t *cx)
{
    json_t  *v;

    v = json_object_get(obj, key);

    if (null_ok && (v == NULL || json_is_null(v))) {
        *val = -1;
        return 0;
    }

    if (!json_is_boolean(v)) {
        return infer_error(cx->err, cx->errlen, "%s: %s%s: missing or not "
                           "a boolean%s", cx->fname, where, key,
                           null_ok ? " or null" : "");
    }

    *val = json_is_true(v);

    return 0;
}


int
infer_tok_int(json_t *obj, const char *key, json_int_t min, json_int_t max,
    json_int_t *val, const char *where, infer_tok_ctx_t *cx)
{
    json_t  *v;

    v = json_object_get(obj, key);

    if (!json_is_integer(v) || json_integer_value(v) < min
        || json_integer_value(v) > max)
    {
        return infer_error(cx->err, cx->errlen, "%s: %s%s: missing or not "
                           "an integer from %lld to %lld", cx->fname, where,
                           key, (long long) min, (long long) max);
    }

    *val = json_integer_value(v);

    return 0;
}
