/*
 * ngx_infer: the tokenizer's inside, shared by its loader
 * (infer_tokenizer_json.c and infer_tokenizer_post.c: tokenizer.json to
 * this structure) and its encoder (infer_wordpiece.c).  Nothing else
 * includes it.
 */

#ifndef _INFER_TOKENIZER_IMPL_H_INCLUDED_
#define _INFER_TOKENIZER_IMPL_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "infer_tokenizer.h"


/*
 * The longest word, in characters, that a tokenizer.json may ask WordPiece
 * to split ("max_input_chars_per_word"; BERT's is 100): the encoder keeps
 * the word on its stack, 4 bytes a character.
 */
#define INFER_WP_MAX_CHARS    1024
#define INFER_WP_WORD_BYTES   (4 * INFER_WP_MAX_CHARS)
#define INFER_WP_PREFIX_MAX   16      /* "continuing_subword_prefix" bytes */
#define INFER_TOK_MAX_SPECIAL 8       /* ids before (and after) the text */


/* what an ASCII byte is, after the normalizer and for the pre-tokenizer */
enum {
    INFER_TOK_WORD = 0,   /* part of a word, as infer_tok->amap[] says */
    INFER_TOK_SPACE,      /* ends a word */
    INFER_TOK_PUNCT,      /* a word of its own */
    INFER_TOK_DROP        /* removed by clean_text */
};


/* one vocabulary entry in the open-addressing table */
typedef struct {
    uint32_t              hash;   /* infer_wp_hash() of the string */
    int32_t               id;     /* -1: an empty slot */
    uint32_t              off;    /* the string: tok->strings + off */
    uint32_t              len;
} infer_wp_slot_t;


/* an added token, matched in the raw text before normalization */
typedef struct {
    uint32_t              off;    /* content: tok->strings + off */
    uint32_t              len;
    int32_t               id;
} infer_tok_added_t;


struct infer_tokenizer_s {
    /* the normalizer (BertNormalizer) */
    unsigned              normalize:1;
    unsigned              clean_text:1;
    unsigned              chinese:1;
    unsigned              strip_accents:1;
    unsigned              lowercase:1;

    uint8_t               aclass[128];  /* INFER_TOK_*, per ASCII byte */
    uint8_t               amap[128];    /* the byte a WORD byte becomes */
    int32_t               apunct[128];  /* a PUNCT byte's id (or unk) */

    /* the model (WordPiece) */
    char                 *strings;      /* every token's bytes, one arena */
    size_t                strings_len;
    infer_wp_slot_t      *slots;        /* a power of two of them */
    uint32_t              mask;         /* their count - 1 */
    size_t                vocab_size;
    uint32_t             *by_id;        /* id -> slot index + 1, 0: none */
    int32_t               max_id;
    int32_t               unk_id;
    char                  prefix[INFER_WP_PREFIX_MAX];
    size_t                prefix_len;
    uint32_t              prefix_hash;  /* the hash state after prefix */
    size_t                max_chars;    /* max_input_chars_per_word */
    size_t                max_first;    /* the longest entry, in bytes */
    size_t                max_cont;     /* the longest after the prefix,
                                           of those that start with it */

    /* the added tokens, longest first for leftmost-longest matching */
    infer_tok_added_t    *added;
    size_t                nadded;
    uint8_t               added_first[256];  /* a first byte of one */

    /* the post-processor */
    int32_t               head[INFER_TOK_MAX_SPECIAL];
    size_t                nhead;
    int32_t               tail[INFER_TOK_MAX_SPECIAL];
    size_t                ntail;

    size_t                file_max_length;
};


#define INFER_WP_HASH_INIT  2166136261u

/* FNV-1a, one byte at a time: the encoder keeps the state after each byte
 * of a word, so that each of its prefixes is hashed once */
static inline uint32_t
infer_wp_hash_step(uint32_t h, unsigned char c)
{
    return (h ^ c) * 16777619u;
}


static inline uint32_t
infer_wp_hash_bytes(uint32_t h, const char *s, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        h = infer_wp_hash_step(h, (unsigned char) s[i]);
    }

    return h;
}


/* a slot's index from a hash: FNV's low bits are weak, mix them */
static inline uint32_t
infer_wp_slot_index(uint32_t h)
{
    h ^= h >> 16;
    h *= 0x45d9f3bu;
    h ^= h >> 16;

    return h;
}


/* memcmp() == 0 for the few bytes of a token, without a call */
static inline int
infer_wp_same(const char *a, const char *b, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (a[i] != b[i]) {
            return 0;
        }
    }

    return 1;
}


/* the slot of s[0 .. len) whose hash is h, or NULL */
static inline const infer_wp_slot_t *
infer_wp_find(const infer_tokenizer_t *tok, uint32_t h, const char *pre,
    size_t plen, const char *s, size_t len)
{
    uint32_t                i;
    const char             *k;
    const infer_wp_slot_t  *sl;

    for (i = infer_wp_slot_index(h) & tok->mask; ; i = (i + 1) & tok->mask) {
        sl = &tok->slots[i];

        if (sl->id < 0) {
            return NULL;
        }

        if (sl->hash != h || sl->len != plen + len) {
            continue;
        }

        k = tok->strings + sl->off;

        if ((plen == 0 || infer_wp_same(k, pre, plen))
            && infer_wp_same(k + plen, s, len))
        {
            return sl;
        }
    }
}


/* the loader's context: the file's name and the caller's error buffer */
typedef struct {
    const char           *fname;
    char                 *err;
    size_t                errlen;
} infer_tok_ctx_t;


#define INFER_TOK_MAX_IDS    (16 * 1024 * 1024)


/* infer_tokenizer_post.c: "post_processor" and "added_tokens" */
int infer_tok_post(infer_tokenizer_t *tok, json_t *p, infer_tok_ctx_t *cx);
int infer_tok_added(infer_tokenizer_t *tok, json_t *a, infer_tok_ctx_t *cx);

/* infer_tokenizer_json.c: checks of one key each, the error set on -1 */
int infer_tok_keys(json_t *obj, const char *const *known, const char *where,
    infer_tok_ctx_t *cx);
int infer_tok_type(json_t *obj, const char *want, const char *where,
    infer_tok_ctx_t *cx);
int infer_tok_bool(json_t *obj, const char *key, int null_ok, int *val,
    const char *where, infer_tok_ctx_t *cx);
int infer_tok_int(json_t *obj, const char *key, json_int_t min,
    json_int_t max, json_int_t *val, const char *where, infer_tok_ctx_t *cx);


/* adds s[0 .. len) with id to the table (the loader sized it): its slot's
 * index, -1 when the string is there already */
long infer_wp_insert(infer_tokenizer_t *tok, const char *s, size_t len,
    int32_t id);

/* the ASCII tables from the normalizer's options and the vocabulary */
void infer_wp_prepare(infer_tokenizer_t *tok);


#endif /* _INFER_TOKENIZER_IMPL_H_INCLUDED_ */
