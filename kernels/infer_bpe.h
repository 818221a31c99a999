/*
 * ngx_infer: byte-level BPE, the tokenizer of the GPT-2 and Llama 3
 * families (SmolLM, Llama 3, StarCoder), independent of nginx.
 *
 * Two sources give the same tokenizer:
 *
 *   - tokenizer.json (Hugging Face's `tokenizers`): a BPE model with a
 *     ByteLevel pre-tokenizer, alone or last of a Sequence of Split
 *     (a regular expression, Isolated or Removed) and Digits steps; the
 *     added tokens; a ByteLevel or TemplateProcessing post-processor; a
 *     ByteLevel decoder (infer_bpe_json.c, infer_bpe_json_steps.c);
 *   - a GGUF file's tokenizer.ggml.* arrays, handed over as plain C
 *     (infer_bpe_gguf_t below): the GGUF parser adapts its arrays, this
 *     code knows nothing of the file (kernels/test/bpe_parity.h shows the
 *     adaptation from infer_gguf.h); the pre-tokenizer is the one that
 *     tokenizer.ggml.pre names, as llama.cpp defines it ("gpt2",
 *     "llama-bpe", "smollm", "starcoder"), and the file is read as
 *     llama.cpp reads it (infer_bpe_load.c).
 *
 * Encoding is what `tokenizers` does: the added tokens are cut out of the
 * raw text first (leftmost, longest), the pieces between them are split
 * by each pre-tokenizer regular expression in turn (PCRE2 with UTF, UCP
 * and its JIT; the files' Oniguruma syntax is translated, and what cannot
 * be is refused, infer_bpe_pre.c), and each piece's bytes are merged by
 * rank, the lowest first and the leftmost of equals (infer_bpe.c).  The
 * ids are those of Tokenizer.encode(text, add_special_tokens=False).ids
 * (t/lib/gen_bpe_corpus.py and kernels/test/test_bpe.c check it on
 * SmolLM2's vocabulary), or with INFER_BPE_ADD_SPECIAL those of
 * add_special_tokens=True.
 *
 * A byte that has no token (SmolLM2 has none for 0x04, 0x06, 0x13, 0x14,
 * 0x16, 0x1d) is what each source's reference makes of it: tokenizers'
 * byte fallback <0xHH> or its unk_token (one for a run, with fuse_unk)
 * for tokenizer.json, nothing (llama.cpp drops it) for a GGUF.
 *
 * Whatever a source asks that this code cannot honour (a normalizer, a
 * pre-tokenizer or decoder type it does not run, a regular expression it
 * cannot translate, a merge of tokens the vocabulary lacks, two merges of
 * one pair, two tokens of one string) makes the load fail with a message
 * "<file>: <key>: <problem>", never a tokenizer that tokenizes otherwise.
 *
 * A loaded tokenizer is read-only: threads share it.  Encoding needs a
 * state (PCRE2's match data and JIT stack, the merge loop's arrays, a
 * cache of the ids of 4096 short pieces), one per thread, made once with
 * infer_bpe_state_create() and grown as texts need; a NULL state makes
 * one for the call (slower: its cache starts empty).
 *
 * Decoding turns ids back into the bytes of the text; the stream decoder
 * does it token by token and never hands out part of a UTF-8 character.
 *
 * Errors are a message in (err, errlen), as everywhere in kernels/.
 */

#ifndef _INFER_BPE_H_INCLUDED_
#define _INFER_BPE_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


typedef struct infer_bpe_s        infer_bpe_t;
typedef struct infer_bpe_state_s  infer_bpe_state_t;


/* a string of a GGUF array: bytes and their count, not NUL-terminated */
typedef struct {
    const char          *data;
    size_t               len;
} infer_bpe_str_t;


/* GGUF's tokenizer.ggml.token_type values (llama.cpp's) */
enum {
    INFER_BPE_NORMAL = 1,
    INFER_BPE_UNKNOWN = 2,
    INFER_BPE_CONTROL = 3,        /* a special token: <|im_start|> */
    INFER_BPE_USER_DEFINED = 4,   /* an added token, always matched */
    INFER_BPE_UNUSED = 5,
    INFER_BPE_BYTE = 6            /* SentencePiece's <0x41>: refused */
};


/*
 * A GGUF file's tokenizer, as its parser found it; every array is the
 * file's, read in place.  Absent keys: NULL and 0, ids -1, flags -1.
 */
typedef struct {
    infer_bpe_str_t      model;          /* tokenizer.ggml.model: "gpt2" */
    infer_bpe_str_t      pre;            /* tokenizer.ggml.pre: "smollm" */
    const infer_bpe_str_t  *tokens;      /* tokenizer.ggml.tokens */
    size_t               n_tokens;
    const infer_bpe_str_t  *merges;      /* tokenizer.ggml.merges, "a b" */
    size_t               n_merges;
    const int32_t       *token_types;    /* tokenizer.ggml.token_type, one
                                            a token, or NULL: all normal */
    int64_t              bos_id;         /* tokenizer.ggml.bos_token_id */
    int64_t              eos_id;         /* tokenizer.ggml.eos_token_id */
    int64_t              eot_id;         /* tokenizer.ggml.eot_token_id */
    int64_t              unk_id;         /* tokenizer.ggml.unknown_token_id */
    int64_t              pad_id;         /* tokenizer.ggml.padding_token_id */
    int                  add_bos;        /* tokenizer.ggml.add_bos_token;
                                            absent (-1): llama.cpp's
                                            default for the pre-tokenizer
                                            (llama-bpe: true) */
    int                  add_eos;        /* tokenizer.ggml.add_eos_token */
} infer_bpe_gguf_t;


/* what a loaded tokenizer is, for the caller's checks and logs */
typedef struct {
    size_t               n_ids;          /* ids 0 .. n_ids - 1 */
    size_t               vocab_size;     /* of them, the named ones */
    size_t               n_merges;
    size_t               n_added;        /* added tokens, special or not */
    size_t               max_token_bytes;  /* the longest decoded token */
    int32_t              bos_id;         /* -1: none (tokenizer.json has
                                            none of these but what the
                                            post-processor adds) */
    int32_t              eos_id;
    int32_t              eot_id;
    int32_t              unk_id;
    int32_t              pad_id;
    size_t               n_head;         /* ids INFER_BPE_ADD_SPECIAL puts */
    size_t               n_tail;         /* before and after the text */
    int                  ignore_merges;  /* a word in the vocabulary is one
                                            token (Llama 3) */
    const char          *pre;            /* the pre-tokenizer: a GGUF name,
                                            or "tokenizer.json" */
    size_t               n_pre_steps;    /* its regular expressions */
} infer_bpe_info_t;


/* encode() and decode() flags */
#define INFER_BPE_SPECIAL      0x1   /* encode: match the special
                                        (control) tokens in the text, as
                                        `tokenizers` does; without it they
                                        are text (llama.cpp's
                                        parse_special).  decode: write
                                        their text; without it nothing */
#define INFER_BPE_ADD_SPECIAL  0x2   /* encode: the post-processor's ids
                                        (BOS) around the text */


/*
 * tokenizer.json at path; load_buffer() reads json[0 .. len) instead, name
 * standing for the file in the messages.  NULL with err set.
 */
infer_bpe_t *infer_bpe_load(const char *path, char *err, size_t errlen);
infer_bpe_t *infer_bpe_load_buffer(const char *json, size_t len,
    const char *name, char *err, size_t errlen);

/* a GGUF's arrays (copied: the file may be unmapped after); name is the
 * file's, for the messages */
infer_bpe_t *infer_bpe_load_gguf(const infer_bpe_gguf_t *g, const char *name,
    char *err, size_t errlen);

void infer_bpe_free(infer_bpe_t *bpe);

void infer_bpe_info(const infer_bpe_t *bpe, infer_bpe_info_t *info);


/* a thread's encoding state for bpe, and only bpe (it caches the ids of
 * the pieces it has seen); NULL when out of memory */
infer_bpe_state_t *infer_bpe_state_create(const infer_bpe_t *bpe);
void infer_bpe_state_free(infer_bpe_state_t *st);

/*
 * text[0 .. len) (UTF-8) to ids[0 .. *n_ids); max_ids is both the
 * buffer's size and the maximum length: a text of more tokens is -1 with a
 * message that says how many.  Invalid UTF-8 is -1.  st may be NULL.
 */
int infer_bpe_encode(const infer_bpe_t *bpe, infer_bpe_state_t *st,
    const char *text, size_t len, unsigned flags, int32_t *ids,
    size_t max_ids, size_t *n_ids, char *err, size_t errlen);

/* how many ids encode() would give (for refusals and usage counts) */
int infer_bpe_count(const infer_bpe_t *bpe, infer_bpe_state_t *st,
    const char *text, size_t len, unsigned flags, size_t *n_ids, char *err,
    size_t errlen);


/*
 * ids[0 .. n_ids) to the bytes of the text, out[0 .. *n); *n is set to the
 * bytes needed also when cap is too small, which is -1 as an id that names
 * no token is.  The bytes are those the text had: not always UTF-8 when
 * the ids are not an encode()'s.  A special token is its text with
 * INFER_BPE_SPECIAL, else nothing; an unused one (a GGUF's type 5) is
 * nothing, as llama.cpp has it.
 */
int infer_bpe_decode(const infer_bpe_t *bpe, const int32_t *ids,
    size_t n_ids, unsigned flags, char *out, size_t cap, size_t *n,
    char *err, size_t errlen);

/* one id's bytes (NULL for an id that names no token), and its string in
 * the vocabulary (the byte-level form: "Ġthe"; an added token's content);
 * not NUL-terminated */
const char *infer_bpe_piece(const infer_bpe_t *bpe, int32_t id, size_t *len);
const char *infer_bpe_token(const infer_bpe_t *bpe, int32_t id, size_t *len);

/* the id of a vocabulary string (byte-level form) or an added token's
 * content; -1 when none */
int32_t infer_bpe_id(const infer_bpe_t *bpe, const char *s, size_t len);

/* INFER_BPE_NORMAL, _CONTROL, ...; 0 for an id that names no token */
int infer_bpe_type(const infer_bpe_t *bpe, int32_t id);


/*
 * The stream decoder: push() the ids one by one; each call writes the
 * text that is complete so far, only whole UTF-8 characters: the first
 * bytes of a character are held until the token that ends it.  Bytes that
 * cannot become a character are written as U+FFFD, one for each maximal
 * invalid part (as Python's errors="replace" does); flush() writes what is
 * held, at the end of the stream, as U+FFFD.  out must have room for
 * infer_bpe_stream_max() bytes.
 */
typedef struct {
    unsigned char        held[4];
    uint32_t             nheld;
    unsigned             flags;          /* INFER_BPE_SPECIAL: write the
                                            special tokens' text */
} infer_bpe_stream_t;

void infer_bpe_stream_init(infer_bpe_stream_t *s, unsigned flags);
size_t infer_bpe_stream_max(const infer_bpe_t *bpe);

/* -1 for an id that names no token (the stream is left as it was) */
int infer_bpe_stream_push(const infer_bpe_t *bpe, infer_bpe_stream_t *s,
    int32_t id, char *out, size_t *n);
void infer_bpe_stream_flush(infer_bpe_stream_t *s, char *out, size_t *n);


#endif /* _INFER_BPE_H_INCLUDED_ */
