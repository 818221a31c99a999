/*
 * ngx_infer: the byte-level BPE tokenizer's inside, shared by its loaders
 * (infer_bpe_load.c builds the tables and reads a GGUF's arrays,
 * infer_bpe_json.c and infer_bpe_json_steps.c tokenizer.json), its
 * pre-tokenizer (infer_bpe_pre.c) and its encoder and decoder
 * (infer_bpe.c).  Nothing else includes it.
 */

#ifndef _INFER_BPE_IMPL_H_INCLUDED_
#define _INFER_BPE_IMPL_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <pcre2.h>

#include <jansson.h>

#include "infer_bpe.h"


#define INFER_BPE_MAX_IDS     (16 * 1024 * 1024)
#define INFER_BPE_MAX_TOKEN   4096    /* bytes of one token's string */
#define INFER_BPE_MAX_STEPS   8       /* pre-tokenizer regular expressions */
#define INFER_BPE_MAX_SPECIAL 8       /* ids the post-processor adds */
#define INFER_BPE_NAME_MAX    32


/* one entry of a string table: the id whose string (or bytes) it is */
typedef struct {
    uint32_t              hash;
    int32_t               id;        /* -1: an empty slot */
} infer_bpe_slot_t;


/* one merge: the pair (a << 32 | b), its rank, the token it makes */
typedef struct {
    uint64_t              key;       /* INFER_BPE_NO_PAIR: an empty slot */
    uint32_t              rank;
    int32_t               id;
} infer_bpe_merge_t;

#define INFER_BPE_NO_PAIR  UINT64_MAX

/* the symbol of a byte that has no token (no pair has it), not written */
#define INFER_BPE_MISSING  INT32_MAX


/* an added token, matched in the raw text before pre-tokenization */
typedef struct {
    int32_t               id;
    uint32_t              len;
    unsigned              first:8;   /* its first byte */
    unsigned              special:1; /* matched with INFER_BPE_SPECIAL */
} infer_bpe_added_t;


/* one regular expression of the pre-tokenizer */
typedef struct {
    pcre2_code           *code;
    unsigned              jit:1;     /* JIT-compiled: pcre2_jit_match() */
    unsigned              removed:1; /* Split's "Removed": the matches
                                        are dropped, else kept (Isolated) */
} infer_bpe_step_t;


struct infer_bpe_s {
    /* the vocabulary: the strings (byte-level form) of ids 0 .. n_ids - 1
     * in one arena, their bytes (decoded) in another */
    size_t                n_ids;
    size_t                vocab_size;
    char                 *strings;
    size_t                strings_len, strings_cap;
    uint32_t             *str_off;   /* per id; str_len 0: no token */
    uint32_t             *str_len;
    char                 *bytes;
    uint32_t             *byte_off;
    uint32_t             *byte_len;
    uint8_t              *type;      /* INFER_BPE_NORMAL ..., 0: none */
    infer_bpe_slot_t     *slots;     /* by string: a power of two */
    uint32_t              mask;
    int32_t               byte_id[256];  /* the token of each byte, or
                                            INFER_BPE_MISSING */
    int32_t               missing;   /* what a byte without a token is:
                                        tokenizers' unk_token, or -1:
                                        nothing (llama.cpp's way) */
    unsigned              fuse_missing:1;  /* a run of them one unk */
    unsigned              byte_fallback:1; /* <0xHH> tokens first */
    size_t                max_bytes;

    /* the merges */
    infer_bpe_merge_t    *merges;    /* a power of two */
    uint64_t              mmask;
    unsigned              mshift;
    size_t                n_merges;
    unsigned              ignore_merges:1;

    /* the added tokens, by first byte, longest first */
    infer_bpe_added_t    *added;
    size_t                n_added;
    uint32_t              afirst[257];   /* added[afirst[c] .. afirst[c+1])
                                            start with byte c */
    unsigned              any_plain:1;   /* a non-special added token */

    /* the pre-tokenizer */
    infer_bpe_step_t      steps[INFER_BPE_MAX_STEPS];
    size_t                n_steps;
    char                  pre[INFER_BPE_NAME_MAX];

    /* the post-processor, and the ids a GGUF names */
    int32_t               head[INFER_BPE_MAX_SPECIAL];
    size_t                n_head;
    int32_t               tail[INFER_BPE_MAX_SPECIAL];
    size_t                n_tail;
    int32_t               bos_id, eos_id, eot_id, unk_id, pad_id;
};


/* a piece of up to 22 bytes and its ids, in the state's cache */
#define INFER_BPE_CACHE        4096
#define INFER_BPE_CACHE_BYTES  22
#define INFER_BPE_CACHE_IDS    8

typedef struct {
    uint8_t               len;       /* 0: empty */
    uint8_t               n;
    char                  bytes[INFER_BPE_CACHE_BYTES];
    int32_t               ids[INFER_BPE_CACHE_IDS];
} infer_bpe_cached_t;


/* a thread's encoding state: PCRE2's, the merge loop's arrays, the cache
 * of pieces (direct-mapped: a piece replaces the one at its hash) */
struct infer_bpe_state_s {
    const infer_bpe_t    *bpe;       /* the tokenizer it serves */
    infer_bpe_cached_t   *cache;
    pcre2_match_data     *md;
    pcre2_match_context  *mctx;
    pcre2_jit_stack      *jstack;
    size_t                cap;       /* symbols the arrays hold */
    int32_t              *sym;
    int32_t              *made;      /* what pair i's merge makes */
    uint32_t             *rank;      /* pair i's rank, UINT32_MAX: none */
    int32_t              *prev;
    int32_t              *next;
    uint64_t             *heap;      /* 3 * cap: rank << 32 | position */
    char                 *word;      /* 2 * cap: a piece in byte-level
                                        form, for ignore_merges */
};


/* one encode() call */
typedef struct {
    const infer_bpe_t    *bpe;
    infer_bpe_state_t    *st;
    int32_t              *out;       /* NULL: count only */
    size_t                cap;
    size_t                n;         /* ids so far, also past cap */
    char                 *err;
    size_t                errlen;
} infer_bpe_run_t;


/* the loaders' context: the file's name and the caller's error buffer */
typedef struct {
    const char           *fname;
    char                 *err;
    size_t                errlen;
} infer_bpe_ctx_t;


#define INFER_BPE_HASH_INIT  2166136261u

static inline uint32_t
infer_bpe_hash(const char *s, size_t len)
{
    size_t    i;
    uint32_t  h;

    h = INFER_BPE_HASH_INIT;

    for (i = 0; i < len; i++) {
        h = (h ^ (unsigned char) s[i]) * 16777619u;
    }

    h ^= h >> 16;
    h *= 0x45d9f3bu;
    h ^= h >> 16;

    return h;
}


/* infer_bpe_load.c: building a tokenizer, for both loaders, in order */
infer_bpe_t *infer_bpe_new(size_t n_ids, size_t string_bytes,
    infer_bpe_ctx_t *cx);
int infer_bpe_add_token(infer_bpe_t *bpe, const char *s, size_t len,
    int32_t id, int type, const char *where, infer_bpe_ctx_t *cx);
int infer_bpe_merges_init(infer_bpe_t *bpe, size_t n, infer_bpe_ctx_t *cx);
int infer_bpe_add_merge(infer_bpe_t *bpe, const char *a, size_t alen,
    const char *b, size_t blen, const char *where, infer_bpe_ctx_t *cx);
int infer_bpe_finish(infer_bpe_t *bpe, infer_bpe_ctx_t *cx);

/* the id of the string s[0 .. len) in the vocabulary, or -1 */
int32_t infer_bpe_find(const infer_bpe_t *bpe, const char *s, size_t len);

/* infer_bpe.c: one piece of pre-tokenized text through the merges */
int infer_bpe_word(infer_bpe_run_t *r, const unsigned char *s, size_t len);

/* infer_bpe_json_steps.c: tokenizer.json's sections after the model */
int infer_bpe_json_normalizer(json_t *n, infer_bpe_ctx_t *cx);
int infer_bpe_json_pre(infer_bpe_t *bpe, json_t *p, infer_bpe_ctx_t *cx);
int infer_bpe_json_post(infer_bpe_t *bpe, json_t *p, const char *where,
    infer_bpe_ctx_t *cx);
int infer_bpe_json_decoder(infer_bpe_t *bpe, json_t *d, infer_bpe_ctx_t *cx);

/* infer_bpe_json.c: checks of one key each, the error set on -1 */
const char *infer_bpe_type_of(json_t *obj);
int infer_bpe_keys(json_t *obj, const char *const *known, const char *where,
    infer_bpe_ctx_t *cx);
int infer_bpe_type_is(json_t *obj, const char *want, const char *where,
    infer_bpe_ctx_t *cx);
int infer_bpe_false(json_t *obj, const char *key, int missing_ok,
    const char *where, infer_bpe_ctx_t *cx);
int infer_bpe_bool(json_t *obj, const char *key, int *val, const char *where,
    infer_bpe_ctx_t *cx);

/* infer_bpe_pre.c: the pre-tokenizer; GPT-2's expression, ByteLevel's */
extern const char  infer_bpe_gpt2_re[];

int infer_bpe_pre_named(infer_bpe_t *bpe, const char *name, size_t len,
    int *add_bos, const char *where, infer_bpe_ctx_t *cx);
int infer_bpe_pre_add(infer_bpe_t *bpe, const char *re, size_t len,
    int removed, const char *where, infer_bpe_ctx_t *cx);
void infer_bpe_pre_free(infer_bpe_t *bpe);
int infer_bpe_pre_state(const infer_bpe_t *bpe, infer_bpe_state_t *st);
void infer_bpe_pre_state_free(infer_bpe_state_t *st);
int infer_bpe_pre_split(infer_bpe_run_t *r, const unsigned char *s,
    size_t len, size_t step);

/* GPT-2's bytes_to_unicode(): the character (< U+0144) byte b stands for */
static inline uint32_t
infer_bpe_byte_char(unsigned b)
{
    if ((b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae) {
        return b;
    }

    /* the others in order from U+0100: 0x00-0x20, 0x7f-0xa0, 0xad */
    return 0x100 + (b <= 0x20 ? b : b <= 0xa0 ? b - 0x7f + 0x21 : 0x43);
}



/* the merge of the pair (a, b), or NULL */
static inline const infer_bpe_merge_t *
infer_bpe_pair(const infer_bpe_t *bpe, int32_t a, int32_t b)
{
    uint64_t                  key, i;
    const infer_bpe_merge_t  *m;

    key = (uint64_t) (uint32_t) a << 32 | (uint32_t) b;

    for (i = (key * 0x9e3779b97f4a7c15ull) >> bpe->mshift; ;
         i = (i + 1) & bpe->mmask)
    {
        m = &bpe->merges[i];

        if (m->key == key) {
            return m;
        }

        if (m->key == INFER_BPE_NO_PAIR) {
            return NULL;
        }
    }
}


/* the length of the UTF-8 character that lead byte c starts, 0 for none;
 * lo, hi: the range of its second byte */
static inline size_t
infer_bpe_lead(unsigned c, unsigned *lo, unsigned *hi)
{
    *lo = 0x80;
    *hi = 0xbf;

    if (c < 0x80) {
        return 1;
    }

    if (c < 0xc2 || c > 0xf4) {
        return 0;
    }

    if (c < 0xe0) {
        return 2;
    }

    if (c < 0xf0) {
        *lo = c == 0xe0 ? 0xa0 : 0x80;
        *hi = c == 0xed ? 0x9f : 0xbf;
        return 3;
    }

    *lo = c == 0xf0 ? 0x90 : 0x80;
    *hi = c == 0xf4 ? 0x8f : 0xbf;

    return 4;
}


/* how many bytes from p are UTF-8, strictly (no overlong forms, surrogates
 * or code points past U+10FFFF) */
static inline size_t
infer_bpe_utf8(const unsigned char *p, size_t len)
{
    size_t    i, k, need;
    unsigned  lo, hi;

    for (i = 0; i < len; /* void */) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }

        need = infer_bpe_lead(p[i], &lo, &hi);

        if (need == 0 || len - i < need || p[i + 1] < lo || p[i + 1] > hi) {
            return i;
        }

        for (k = 2; k < need; k++) {
            if ((p[i + k] & 0xc0) != 0x80) {
                return i;
            }
        }

        i += need;
    }

    return len;
}


/* a character below U+10000 as UTF-8 */
static inline size_t
infer_bpe_put_char(char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char) cp;
        return 1;
    }

    if (cp < 0x800) {
        out[0] = (char) (0xc0 | (cp >> 6));
        out[1] = (char) (0x80 | (cp & 0x3f));
        return 2;
    }

    out[0] = (char) (0xe0 | (cp >> 12));
    out[1] = (char) (0x80 | ((cp >> 6) & 0x3f));
    out[2] = (char) (0x80 | (cp & 0x3f));

    return 3;
}


#endif /* _INFER_BPE_IMPL_H_INCLUDED_ */
