/*
 * ngx_infer: tokenizer.json to a byte-level BPE tokenizer (infer_bpe.h):
 * the file, the model (its vocabulary and merges) and the added tokens;
 * the sections that decide how text is cut and put back are
 * infer_bpe_json_steps.c's.
 *
 * Every key is read or refused, in the dotted form of its path
 * ("pre_tokenizer.pretokenizers[1].behavior").  "padding" is accepted
 * and unused: the server batches ragged sequences.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "infer_util.h"
#include "infer_bpe_impl.h"


#define INFER_BPE_FILE_MAX  (256 * 1024 * 1024)


static int infer_bpe_json(infer_bpe_t **out, json_t *root,
    infer_bpe_ctx_t *cx);
static int infer_bpe_json_vocab(infer_bpe_t **out, json_t *m, json_t *added,
    infer_bpe_ctx_t *cx);
static int infer_bpe_json_added(infer_bpe_t *bpe, json_t *added,
    infer_bpe_ctx_t *cx);
static int infer_bpe_json_merges(infer_bpe_t *bpe, json_t *merges,
    infer_bpe_ctx_t *cx);
static int infer_bpe_json_model(infer_bpe_t *bpe, json_t *m,
    infer_bpe_ctx_t *cx);


infer_bpe_t *
infer_bpe_load(const char *path, char *err, size_t errlen)
{
    char         *json;
    size_t        len;
    infer_bpe_t  *bpe;

    json = infer_read_file(path, INFER_BPE_FILE_MAX, &len, err, errlen);
    if (json == NULL) {
        return NULL;
    }

    bpe = infer_bpe_load_buffer(json, len, path, err, errlen);
    free(json);

    return bpe;
}


infer_bpe_t *
infer_bpe_load_buffer(const char *json, size_t len, const char *name,
    char *err, size_t errlen)
{
    json_t           *root;
    json_error_t      jerr;
    infer_bpe_t      *bpe;
    infer_bpe_ctx_t   cx;

    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        infer_error(err, errlen, "%s: line %d, column %d: %s", name,
                    jerr.line, jerr.column, jerr.text);
        return NULL;
    }

    cx.fname = name;
    cx.err = err;
    cx.errlen = errlen;
    bpe = NULL;

    if (infer_bpe_json(&bpe, root, &cx) != 0) {
        infer_bpe_free(bpe);
        bpe = NULL;
    }

    json_decref(root);

    return bpe;
}


static int
infer_bpe_json(infer_bpe_t **out, json_t *root, infer_bpe_ctx_t *cx)
{
    json_t       *v, *added;
    infer_bpe_t  *bpe;

    static const char *const  known[] = {
        "version", "truncation", "padding", "added_tokens", "normalizer",
        "pre_tokenizer", "model", "post_processor", "decoder", NULL
    };

    if (!json_is_object(root)) {
        return infer_error(cx->err, cx->errlen, "%s: not a JSON object",
                           cx->fname);
    }

    if (infer_bpe_keys(root, known, "", cx) != 0) {
        return -1;
    }

    v = json_object_get(root, "version");
    if (v != NULL && !(json_is_string(v)
                       && strcmp(json_string_value(v), "1.0") == 0))
    {
        return infer_error(cx->err, cx->errlen, "%s: version: only \"1.0\" "
                           "is supported", cx->fname);
    }

    v = json_object_get(root, "truncation");
    if (v != NULL && !json_is_null(v)) {
        return infer_error(cx->err, cx->errlen, "%s: truncation: not null, "
                           "not supported (the caller's maximum applies)",
                           cx->fname);
    }

    v = json_object_get(root, "padding");
    if (v != NULL && !json_is_null(v) && !json_is_object(v)) {
        return infer_error(cx->err, cx->errlen, "%s: padding: not an object "
                           "or null", cx->fname);
    }

    added = json_object_get(root, "added_tokens");
    if (added != NULL && !json_is_array(added)) {
        return infer_error(cx->err, cx->errlen, "%s: added_tokens: not an "
                           "array", cx->fname);
    }

    if (infer_bpe_json_vocab(out, json_object_get(root, "model"), added, cx)
        != 0)
    {
        return -1;
    }

    bpe = *out;
    snprintf(bpe->pre, sizeof(bpe->pre), "tokenizer.json");

    if (infer_bpe_json_added(bpe, added, cx) != 0
        || infer_bpe_json_model(bpe, json_object_get(root, "model"), cx) != 0
        || infer_bpe_json_normalizer(json_object_get(root, "normalizer"), cx)
           != 0
        || infer_bpe_json_pre(bpe, json_object_get(root, "pre_tokenizer"), cx)
           != 0
        || infer_bpe_json_post(bpe, json_object_get(root, "post_processor"),
                               "post_processor", cx) != 0
        || infer_bpe_json_decoder(bpe, json_object_get(root, "decoder"), cx)
           != 0
        || infer_bpe_finish(bpe, cx) != 0)
    {
        return -1;
    }

    if (bpe->n_head == 1) {
        bpe->bos_id = bpe->head[0];
    }

    if (bpe->n_tail == 1) {
        bpe->eos_id = bpe->tail[0];
    }

    return 0;
}


/* model.vocab and the added tokens that are not in it */
static int
infer_bpe_json_vocab(infer_bpe_t **out, json_t *m, json_t *added,
    infer_bpe_ctx_t *cx)
{
    char         where[128];
    size_t       i, bytes, n;
    json_t      *vocab, *v, *c, *id;
    json_int_t   max;
    const char  *key;
    infer_bpe_t *bpe;

    if (!json_is_object(m)) {
        return infer_error(cx->err, cx->errlen, "%s: model: missing or not "
                           "an object", cx->fname);
    }

    if (infer_bpe_type_is(m, "BPE", "model", cx) != 0) {
        return -1;
    }

    vocab = json_object_get(m, "vocab");
    if (!json_is_object(vocab) || json_object_size(vocab) == 0) {
        return infer_error(cx->err, cx->errlen, "%s: model.vocab: missing, "
                           "empty or not an object", cx->fname);
    }

    bytes = 0;
    max = -1;

    json_object_foreach(vocab, key, v) {
        bytes += strlen(key);

        if (!json_is_integer(v) || json_integer_value(v) < 0
            || json_integer_value(v) >= INFER_BPE_MAX_IDS)
        {
            return infer_error(cx->err, cx->errlen, "%s: model.vocab.\"%.64s\""
                               ": not an id from 0 to %d", cx->fname, key,
                               INFER_BPE_MAX_IDS - 1);
        }

        if (json_integer_value(v) > max) {
            max = json_integer_value(v);
        }
    }

    for (i = 0; i < json_array_size(added); i++) {
        c = json_object_get(json_array_get(added, i), "content");
        id = json_object_get(json_array_get(added, i), "id");

        if (!json_is_string(c) || !json_is_integer(id)
            || json_integer_value(id) < 0
            || json_integer_value(id) >= INFER_BPE_MAX_IDS)
        {
            return infer_error(cx->err, cx->errlen, "%s: added_tokens[%zu]: "
                               "no \"content\" string or \"id\" from 0 to %d",
                               cx->fname, i, INFER_BPE_MAX_IDS - 1);
        }

        bytes += json_string_length(c);

        if (json_integer_value(id) > max) {
            max = json_integer_value(id);
        }
    }

    n = (size_t) max + 1;
    if (n > 2 * (json_object_size(vocab) + json_array_size(added)) + 1024) {
        return infer_error(cx->err, cx->errlen, "%s: model.vocab: ids up to "
                           "%lld for %zu tokens", cx->fname, (long long) max,
                           json_object_size(vocab));
    }

    bpe = infer_bpe_new(n, bytes, cx);
    if (bpe == NULL) {
        return -1;
    }

    *out = bpe;

    json_object_foreach(vocab, key, v) {
        snprintf(where, sizeof(where), "model.vocab.\"%.64s\"", key);

        if (infer_bpe_add_token(bpe, key, strlen(key),
                                (int32_t) json_integer_value(v),
                                INFER_BPE_NORMAL, where, cx)
            != 0)
        {
            return -1;
        }
    }

    return 0;
}


/* added_tokens: special ones are CONTROL, the others USER_DEFINED */
static int
infer_bpe_json_added(infer_bpe_t *bpe, json_t *added, infer_bpe_ctx_t *cx)
{
    int          special, normalized;
    char         where[64];
    size_t       i, len;
    json_t      *a, *c;
    int32_t      id, have;
    const char  *s;

    static const char *const  known[] = {
        "id", "content", "single_word", "lstrip", "rstrip", "normalized",
        "special", NULL
    };

    for (i = 0; i < json_array_size(added); i++) {
        a = json_array_get(added, i);
        snprintf(where, sizeof(where), "added_tokens[%zu].", i);

        /* normalized or not is the same without a normalizer */
        if (infer_bpe_keys(a, known, where, cx) != 0
            || infer_bpe_false(a, "single_word", 1, where, cx) != 0
            || infer_bpe_false(a, "lstrip", 1, where, cx) != 0
            || infer_bpe_false(a, "rstrip", 1, where, cx) != 0
            || infer_bpe_bool(a, "special", &special, where, cx) != 0
            || infer_bpe_bool(a, "normalized", &normalized, where, cx) != 0)
        {
            return -1;
        }

        c = json_object_get(a, "content");
        s = json_string_value(c);
        len = json_string_length(c);
        id = (int32_t) json_integer_value(json_object_get(a, "id"));

        have = infer_bpe_find(bpe, s, len);

        if (have >= 0 && have != id) {
            return infer_error(cx->err, cx->errlen, "%s: added_tokens[%zu]."
                               "id: %d, but model.vocab gives \"%.64s\" the "
                               "id %d", cx->fname, i, (int) id, s,
                               (int) have);
        }

        if (have >= 0) {
            if (bpe->type[id] != INFER_BPE_NORMAL) {
                return infer_error(cx->err, cx->errlen, "%s: added_tokens"
                                   "[%zu]: \"%.64s\" is added twice",
                                   cx->fname, i, s);
            }

            bpe->type[id] = special ? INFER_BPE_CONTROL
                                    : INFER_BPE_USER_DEFINED;
            continue;
        }

        snprintf(where, sizeof(where), "added_tokens[%zu]", i);

        if (infer_bpe_add_token(bpe, s, len, id,
                                special ? INFER_BPE_CONTROL
                                        : INFER_BPE_USER_DEFINED,
                                where, cx)
            != 0)
        {
            return -1;
        }
    }

    return 0;
}


static int
infer_bpe_json_model(infer_bpe_t *bpe, json_t *m, infer_bpe_ctx_t *cx)
{
    int          flag;
    json_t      *v;
    const char  *key;

    static const char *const  known[] = {
        "type", "dropout", "unk_token", "continuing_subword_prefix",
        "end_of_word_suffix", "fuse_unk", "byte_fallback", "ignore_merges",
        "vocab", "merges", NULL
    };

    if (infer_bpe_keys(m, known, "model.", cx) != 0) {
        return -1;
    }

    v = json_object_get(m, "dropout");
    if (v != NULL && !json_is_null(v)) {
        return infer_error(cx->err, cx->errlen, "%s: model.dropout: not "
                           "null, not supported", cx->fname);
    }

    for (flag = 0; flag < 2; flag++) {
        key = flag ? "end_of_word_suffix" : "continuing_subword_prefix";
        v = json_object_get(m, key);

        if (v != NULL && !json_is_null(v)
            && !(json_is_string(v) && json_string_length(v) == 0))
        {
            return infer_error(cx->err, cx->errlen, "%s: model.%s: not null, "
                               "not supported", cx->fname, key);
        }
    }

    /* what a byte without a token becomes (infer_bpe_finish()) */
    v = json_object_get(m, "unk_token");
    if (v != NULL && !json_is_null(v)) {
        if (!json_is_string(v)) {
            return infer_error(cx->err, cx->errlen, "%s: model.unk_token: not "
                               "a string or null", cx->fname);
        }

        bpe->unk_id = infer_bpe_find(bpe, json_string_value(v),
                                     json_string_length(v));
        if (bpe->unk_id < 0) {
            return infer_error(cx->err, cx->errlen, "%s: model.unk_token: "
                               "\"%.64s\" is not in model.vocab", cx->fname,
                               json_string_value(v));
        }
    }

    bpe->missing = bpe->unk_id;

    flag = 0;
    if (json_object_get(m, "fuse_unk") != NULL
        && infer_bpe_bool(m, "fuse_unk", &flag, "model.", cx) != 0)
    {
        return -1;
    }

    bpe->fuse_missing = flag;

    flag = 0;
    if (json_object_get(m, "byte_fallback") != NULL
        && infer_bpe_bool(m, "byte_fallback", &flag, "model.", cx) != 0)
    {
        return -1;
    }

    bpe->byte_fallback = flag;

    flag = 0;
    if (json_object_get(m, "ignore_merges") != NULL
        && infer_bpe_bool(m, "ignore_merges", &flag, "model.", cx) != 0)
    {
        return -1;
    }

    bpe->ignore_merges = flag;

    return infer_bpe_json_merges(bpe, json_object_get(m, "merges"), cx);
}


/* model.merges: "a b" strings (split at the one space, as tokenizers
 * does) or ["a", "b"] pairs */
static int
infer_bpe_json_merges(infer_bpe_t *bpe, json_t *merges, infer_bpe_ctx_t *cx)
{
    char         where[64];
    size_t       i, len;
    json_t      *m, *a, *b;
    const char  *s, *sp;

    if (!json_is_array(merges)) {
        return infer_error(cx->err, cx->errlen, "%s: model.merges: missing "
                           "or not an array", cx->fname);
    }

    if (infer_bpe_merges_init(bpe, json_array_size(merges), cx) != 0) {
        return -1;
    }

    for (i = 0; i < json_array_size(merges); i++) {
        m = json_array_get(merges, i);
        snprintf(where, sizeof(where), "model.merges[%zu]", i);

        if (json_is_string(m)) {
            s = json_string_value(m);
            len = json_string_length(m);
            sp = memchr(s, ' ', len);

            if (sp == NULL || sp == s || sp == s + len - 1
                || memchr(sp + 1, ' ', (size_t) (s + len - sp - 1)) != NULL)
            {
                return infer_error(cx->err, cx->errlen, "%s: %s: \"%.64s\" "
                                   "is not two tokens and a space",
                                   cx->fname, where, s);
            }

            if (infer_bpe_add_merge(bpe, s, (size_t) (sp - s), sp + 1,
                                    (size_t) (s + len - sp - 1), where, cx)
                != 0)
            {
                return -1;
            }

            continue;
        }

        a = json_array_get(m, 0);
        b = json_array_get(m, 1);

        if (!json_is_array(m) || json_array_size(m) != 2
            || !json_is_string(a) || !json_is_string(b))
        {
            return infer_error(cx->err, cx->errlen, "%s: %s: not a string "
                               "\"a b\" or a pair of strings", cx->fname,
                               where);
        }

        if (infer_bpe_add_merge(bpe, json_string_value(a),
                                json_string_length(a), json_string_value(b),
                                json_string_length(b), where, cx)
            != 0)
        {
            return -1;
        }
    }

    return 0;
}


/* --- helpers: one message per kind of bad key ----------------------------- */

const char *
infer_bpe_type_of(json_t *obj)
{
    json_t  *v;

    v = json_object_get(obj, "type");

    return json_is_string(v) ? json_string_value(v) : "";
}


int
infer_bpe_keys(json_t *obj, const char *const *known, const char *where,
    infer_bpe_ctx_t *cx)
{
    size_t       i;
    json_t      *v;
    const char  *key;

    if (!json_is_object(obj)) {
        return infer_error(cx->err, cx->errlen, "%s: %.*s: not an object",
                           cx->fname, (int) strlen(where) - 1, where);
    }

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
infer_bpe_type_is(json_t *obj, const char *want, const char *where,
    infer_bpe_ctx_t *cx)
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


/* the key is false (or missing, where missing_ok) */
int
infer_bpe_false(json_t *obj, const char *key, int missing_ok,
    const char *where, infer_bpe_ctx_t *cx)
{
    json_t  *v;

    v = json_object_get(obj, key);

    if ((v == NULL && missing_ok) || json_is_false(v)) {
        return 0;
    }

    return infer_error(cx->err, cx->errlen, "%s: %s%s: %s", cx->fname, where,
                       key, json_is_true(v) ? "true is not supported"
                                            : "missing or not a boolean");
}


int
infer_bpe_bool(json_t *obj, const char *key, int *val, const char *where,
    infer_bpe_ctx_t *cx)
{
    json_t  *v;

    v = json_object_get(obj, key);

    if (!json_is_boolean(v)) {
        return infer_error(cx->err, cx->errlen, "%s: %s%s: missing or not "
                           "a boolean", cx->fname, where, key);
    }

    *val = json_is_true(v);

    return 0;
}
