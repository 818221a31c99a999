/*
 * ngx_infer: the sections of tokenizer.json that decide how text is cut
 * and put back, for infer_bpe_json.c: the normalizer (none), the
 * pre-tokenizer (a ByteLevel, alone or last of a Sequence of Split and
 * Digits steps), the post-processor (ByteLevel, TemplateProcessing, or a
 * Sequence of them) and the decoder (ByteLevel, with the steps of a
 * Sequence that change no token of this vocabulary).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "infer_util.h"
#include "infer_bpe_impl.h"


static int infer_bpe_json_byte_level(json_t *b, const char *where,
    int pre, int *use_regex, infer_bpe_ctx_t *cx);


/* none, or a Sequence of none */
int
infer_bpe_json_normalizer(json_t *n, infer_bpe_ctx_t *cx)
{
    json_t  *v;

    static const char *const  known[] = { "type", "normalizers", NULL };

    if (n == NULL || json_is_null(n)) {
        return 0;
    }

    v = json_object_get(n, "normalizers");

    if (strcmp(infer_bpe_type_of(n), "Sequence") == 0
        && infer_bpe_keys(n, known, "normalizer.", cx) == 0
        && json_is_array(v) && json_array_size(v) == 0)
    {
        return 0;
    }

    return infer_error(cx->err, cx->errlen, "%s: normalizer: %s%.64s%s is "
                       "not supported (supported: null, an empty Sequence)",
                       cx->fname, json_is_object(n) ? "type \"" : "",
                       json_is_object(n) ? infer_bpe_type_of(n) : "not null",
                       json_is_object(n) ? "\"" : "");
}


/* a Split's pattern: {"Regex": "..."} or {"String": "..."}, quoted */
static int
infer_bpe_json_split(infer_bpe_t *bpe, json_t *s, const char *where,
    infer_bpe_ctx_t *cx)
{
    int          removed, rc;
    char        *q, w[128];
    size_t       i, n, len;
    json_t      *pat, *re, *str, *beh;
    const char  *b, *p;

    static const char *const  known[] = {
        "type", "pattern", "behavior", "invert", NULL
    };

    snprintf(w, sizeof(w), "%s.", where);

    if (infer_bpe_keys(s, known, w, cx) != 0
        || infer_bpe_false(s, "invert", 0, w, cx) != 0)
    {
        return -1;
    }

    beh = json_object_get(s, "behavior");
    b = json_is_string(beh) ? json_string_value(beh) : "";

    if (strcmp(b, "Isolated") != 0 && strcmp(b, "Removed") != 0) {
        return infer_error(cx->err, cx->errlen, "%s: %s.behavior: \"%.64s\" "
                           "is not supported (supported: Isolated, Removed)",
                           cx->fname, where, b);
    }

    removed = b[0] == 'R';
    pat = json_object_get(s, "pattern");
    re = json_object_get(pat, "Regex");
    str = json_object_get(pat, "String");
    snprintf(w, sizeof(w), "%s.pattern", where);

    if (!json_is_object(pat) || json_object_size(pat) != 1
        || !(json_is_string(re) || json_is_string(str)))
    {
        return infer_error(cx->err, cx->errlen, "%s: %s: not {\"Regex\": "
                           "...} or {\"String\": ...}", cx->fname, w);
    }

    if (re != NULL) {
        return infer_bpe_pre_add(bpe, json_string_value(re),
                                 json_string_length(re), removed, w, cx);
    }

    /* a string, every character itself */
    p = json_string_value(str);
    len = json_string_length(str);

    q = malloc(2 * len + 1);
    if (q == NULL) {
        return infer_error(cx->err, cx->errlen, "%s: out of memory",
                           cx->fname);
    }

    for (i = 0, n = 0; i < len; i++) {
        if (strchr("\\^$.|?*+()[]{}-&~#' /", p[i]) != NULL && p[i] != '\0') {
            q[n++] = '\\';
        }
        q[n++] = p[i];
    }

    rc = infer_bpe_pre_add(bpe, q, n, removed, w, cx);
    free(q);

    return rc;
}


/* ByteLevel alone, or last in a Sequence of Split and Digits */
int
infer_bpe_json_pre(infer_bpe_t *bpe, json_t *p, infer_bpe_ctx_t *cx)
{
    int          use_regex, digits;
    char         where[96];
    size_t       i, n;
    json_t      *list, *s;
    const char  *type;

    static const char *const  seq[] = { "type", "pretokenizers", NULL };
    static const char *const  dig[] = { "type", "individual_digits", NULL };

    if (!json_is_object(p)) {
        return infer_error(cx->err, cx->errlen, "%s: pre_tokenizer: missing, "
                           "null or not an object (supported: ByteLevel, a "
                           "Sequence that ends with one)", cx->fname);
    }

    if (strcmp(infer_bpe_type_of(p), "Sequence") != 0) {
        if (infer_bpe_json_byte_level(p, "pre_tokenizer", 1, &use_regex,
                                      cx)
            != 0)
        {
            return -1;
        }

        return use_regex ? infer_bpe_pre_add(bpe, infer_bpe_gpt2_re,
                                             strlen(infer_bpe_gpt2_re), 0,
                                             "pre_tokenizer", cx)
                         : 0;
    }

    list = json_object_get(p, "pretokenizers");

    if (infer_bpe_keys(p, seq, "pre_tokenizer.", cx) != 0) {
        return -1;
    }

    n = json_array_size(list);
    if (n == 0) {
        return infer_error(cx->err, cx->errlen, "%s: pre_tokenizer."
                           "pretokenizers: missing, empty or not an array",
                           cx->fname);
    }

    for (i = 0; i < n; i++) {
        s = json_array_get(list, i);
        type = infer_bpe_type_of(s);
        snprintf(where, sizeof(where), "pre_tokenizer.pretokenizers[%zu]", i);

        if (i == n - 1 || strcmp(type, "ByteLevel") == 0) {
            if (i != n - 1) {
                return infer_error(cx->err, cx->errlen, "%s: %s: a ByteLevel "
                                   "that is not the last step, not "
                                   "supported", cx->fname, where);
            }

            if (infer_bpe_json_byte_level(s, where, 1, &use_regex, cx) != 0
                || (use_regex
                    && infer_bpe_pre_add(bpe, infer_bpe_gpt2_re,
                                         strlen(infer_bpe_gpt2_re), 0, where,
                                         cx) != 0))
            {
                return -1;
            }

            continue;
        }

        if (strcmp(type, "Split") == 0) {
            if (infer_bpe_json_split(bpe, s, where, cx) != 0) {
                return -1;
            }

            continue;
        }

        if (strcmp(type, "Digits") == 0) {
            snprintf(where + strlen(where), sizeof(where) - strlen(where),
                     ".");

            if (infer_bpe_keys(s, dig, where, cx) != 0
                || infer_bpe_bool(s, "individual_digits", &digits, where, cx)
                   != 0)
            {
                return -1;
            }

            /* Rust's char::is_numeric(), Unicode's N */
            if (infer_bpe_pre_add(bpe, digits ? "\\p{N}" : "\\p{N}+",
                                  digits ? 5 : 6, 0, where, cx) != 0)
            {
                return -1;
            }

            continue;
        }

        return infer_error(cx->err, cx->errlen, "%s: %s.type: \"%.64s\" is "
                           "not supported (supported: Split, Digits, "
                           "ByteLevel)", cx->fname, where, type);
    }

    return 0;
}


/* a ByteLevel section: a pre-tokenizer's add_prefix_space false; the
 * rest, and all of it elsewhere, changes offsets only */
static int
infer_bpe_json_byte_level(json_t *b, const char *where, int pre,
    int *use_regex, infer_bpe_ctx_t *cx)
{
    int   flag;
    char  w[128];

    static const char *const  known[] = {
        "type", "add_prefix_space", "trim_offsets", "use_regex", NULL
    };

    snprintf(w, sizeof(w), "%s.", where);
    *use_regex = 1;

    if (infer_bpe_type_is(b, "ByteLevel", where, cx) != 0
        || infer_bpe_keys(b, known, w, cx) != 0
        || (json_object_get(b, "trim_offsets") != NULL
            && infer_bpe_bool(b, "trim_offsets", &flag, w, cx) != 0)
        || (json_object_get(b, "use_regex") != NULL
            && infer_bpe_bool(b, "use_regex", use_regex, w, cx) != 0))
    {
        return -1;
    }

    if (!pre) {
        return json_object_get(b, "add_prefix_space") == NULL ? 0
               : infer_bpe_bool(b, "add_prefix_space", &flag, w, cx);
    }

    return infer_bpe_false(b, "add_prefix_space", 1, w, cx);
}


/* the post-processor: none, ByteLevel (offsets only), TemplateProcessing
 * ([special...] $A [special...]), or a Sequence of them */
int
infer_bpe_json_post(infer_bpe_t *bpe, json_t *p, const char *where,
    infer_bpe_ctx_t *cx)
{
    int          flag, seen_a;
    char         w[128];
    size_t       i, k;
    json_t      *list, *e, *v, *ids;
    int32_t     *dst;
    size_t      *nd;
    const char  *type, *name;

    static const char *const  seq[] = { "type", "processors", NULL };
    static const char *const  tpl[] = {
        "type", "single", "pair", "special_tokens", NULL
    };

    if (p == NULL || json_is_null(p)) {
        return 0;
    }

    type = infer_bpe_type_of(p);
    snprintf(w, sizeof(w), "%s.", where);

    if (strcmp(type, "ByteLevel") == 0) {
        return infer_bpe_json_byte_level(p, where, 0, &flag, cx);
    }

    if (strcmp(type, "Sequence") == 0 && strcmp(where, "post_processor") == 0)
    {
        list = json_object_get(p, "processors");

        if (infer_bpe_keys(p, seq, w, cx) != 0 || !json_is_array(list)) {
            return infer_error(cx->err, cx->errlen, "%s: %sprocessors: "
                               "missing or not an array", cx->fname, w);
        }

        for (i = 0; i < json_array_size(list); i++) {
            snprintf(w, sizeof(w), "post_processor.processors[%zu]", i);

            if (infer_bpe_json_post(bpe, json_array_get(list, i), w, cx)
                != 0)
            {
                return -1;
            }
        }

        return 0;
    }

    if (strcmp(type, "TemplateProcessing") != 0) {
        return infer_error(cx->err, cx->errlen, "%s: %s.type: \"%.64s\" is "
                           "not supported (supported: ByteLevel, "
                           "TemplateProcessing, Sequence)", cx->fname,
                           where, type);
    }

    if (infer_bpe_keys(p, tpl, w, cx) != 0) {
        return -1;
    }

    list = json_object_get(p, "single");
    if (!json_is_array(list) || bpe->n_head + bpe->n_tail > 0) {
        return infer_error(cx->err, cx->errlen, "%s: %ssingle: missing, not "
                           "an array, or a second template", cx->fname, w);
    }

    seen_a = 0;

    for (i = 0; i < json_array_size(list); i++) {
        e = json_array_get(list, i);
        v = json_object_get(e, "Sequence");

        if (v != NULL) {
            v = json_object_get(v, "id");
            if (seen_a || !json_is_string(v)
                || strcmp(json_string_value(v), "A") != 0)
            {
                return infer_error(cx->err, cx->errlen, "%s: %ssingle[%zu]: "
                                   "only one Sequence, \"A\"", cx->fname, w,
                                   i);
            }

            seen_a = 1;
            continue;
        }

        v = json_object_get(json_object_get(e, "SpecialToken"), "id");
        name = json_string_value(v);
        ids = json_object_get(json_object_get(json_object_get(p,
                                                           "special_tokens"),
                                              name ? name : ""), "ids");

        if (name == NULL || !json_is_array(ids) || json_array_size(ids) == 0)
        {
            return infer_error(cx->err, cx->errlen, "%s: %ssingle[%zu]: not "
                               "a Sequence or a SpecialToken that "
                               "special_tokens names with its ids",
                               cx->fname, w, i);
        }

        dst = seen_a ? bpe->tail : bpe->head;
        nd = seen_a ? &bpe->n_tail : &bpe->n_head;

        for (k = 0; k < json_array_size(ids); k++) {
            v = json_array_get(ids, k);

            if (*nd == INFER_BPE_MAX_SPECIAL || !json_is_integer(v)
                || json_integer_value(v) < 0
                || (size_t) json_integer_value(v) >= bpe->n_ids
                || bpe->str_len[json_integer_value(v)] == 0)
            {
                return infer_error(cx->err, cx->errlen, "%s: %s"
                                   "special_tokens.\"%.64s\".ids: more than "
                                   "%d, or an id of no token", cx->fname, w,
                                   name, INFER_BPE_MAX_SPECIAL);
            }

            dst[(*nd)++] = (int32_t) json_integer_value(v);
        }
    }

    if (!seen_a) {
        return infer_error(cx->err, cx->errlen, "%s: %ssingle: no Sequence "
                           "\"A\"", cx->fname, w);
    }

    return 0;
}


/* the decoder: ByteLevel, or a Sequence whose other steps change none of
 * the vocabulary's tokens (transformers' GGUF conversion writes
 * ByteFallback, Fuse and Replace "\u2581" with " " before it) */
int
infer_bpe_json_decoder(infer_bpe_t *bpe, json_t *d, infer_bpe_ctx_t *cx)
{
    int          flag, bl;
    char         w[96];
    size_t       i, k, id, len;
    json_t      *list, *e, *pat;
    const char  *type, *s;

    static const char *const  seq[] = { "type", "decoders", NULL };
    static const char *const  rep[] = { "type", "pattern", "content", NULL };
    static const char *const  one[] = { "type", NULL };

    if (!json_is_object(d)) {
        return infer_error(cx->err, cx->errlen, "%s: decoder: missing, null "
                           "or not an object (supported: ByteLevel)",
                           cx->fname);
    }

    if (strcmp(infer_bpe_type_of(d), "Sequence") != 0) {
        return infer_bpe_json_byte_level(d, "decoder", 0, &flag, cx);
    }

    list = json_object_get(d, "decoders");

    if (infer_bpe_keys(d, seq, "decoder.", cx) != 0 || !json_is_array(list)) {
        return infer_error(cx->err, cx->errlen, "%s: decoder.decoders: "
                           "missing or not an array", cx->fname);
    }

    bl = 0;

    for (i = 0; i < json_array_size(list); i++) {
        e = json_array_get(list, i);
        type = infer_bpe_type_of(e);
        snprintf(w, sizeof(w), "decoder.decoders[%zu]", i);

        if (strcmp(type, "ByteLevel") == 0) {
            if (infer_bpe_json_byte_level(e, w, 0, &flag, cx) != 0) {
                return -1;
            }

            bl++;
            continue;
        }

        snprintf(w + strlen(w), sizeof(w) - strlen(w), ".");

        if (strcmp(type, "Fuse") == 0) {
            if (infer_bpe_keys(e, one, w, cx) != 0) {
                return -1;
            }

            continue;
        }

        if (strcmp(type, "ByteFallback") == 0) {
            if (infer_bpe_keys(e, one, w, cx) != 0) {
                return -1;
            }

            /* only a token <0xHH> would change */
            for (id = 0; id < bpe->n_ids; id++) {
                s = bpe->strings + bpe->str_off[id];
                len = bpe->str_len[id];

                if (len == 6 && memcmp(s, "<0x", 3) == 0 && s[5] == '>') {
                    return infer_error(cx->err, cx->errlen, "%s: %stype: "
                                       "ByteFallback, and the token %zu is "
                                       "a byte token: not supported",
                                       cx->fname, w, id);
                }
            }

            continue;
        }

        pat = json_object_get(e, "pattern");

        if (strcmp(type, "Replace") == 0
            && infer_bpe_keys(e, rep, w, cx) == 0
            && json_is_string(json_object_get(pat, "String"))
            && strcmp(json_string_value(json_object_get(pat, "String")),
                      "\xe2\x96\x81") == 0
            && json_is_string(json_object_get(e, "content"))
            && strcmp(json_string_value(json_object_get(e, "content")), " ")
               == 0)
        {
            for (id = 0; id < bpe->n_ids; id++) {
                len = bpe->str_len[id];
                s = bpe->strings + bpe->str_off[id];

                for (k = 0; k + 3 <= len
                            && memcmp(s + k, "\xe2\x96\x81", 3) != 0; k++)
                {
                    /* void */
                }

                if (bpe->type[id] == INFER_BPE_NORMAL && k + 3 <= len) {
                    return infer_error(cx->err, cx->errlen, "%s: %stype: "
                                       "Replace, and the token %zu has a "
                                       "\xe2\x96\x81: not supported",
                                       cx->fname, w, id);
                }
            }

            continue;
        }

        return infer_error(cx->err, cx->errlen, "%s: %stype: \"%.64s\" is "
                           "not supported (supported: ByteLevel, "
                           "ByteFallback, Fuse, Replace \xe2\x96\x81)",
                           cx->fname, w, type);
    }

    if (bl != 1) {
        return infer_error(cx->err, cx->errlen, "%s: decoder.decoders: not "
                           "one ByteLevel", cx->fname);
    }

    return 0;
}
