/*
 * ngx_infer: text to token ids, independent of nginx.
 *
 * A tokenizer is loaded from a Hugging Face tokenizer.json (the format of
 * the `tokenizers` library) of the BERT family: the BertNormalizer (every
 * option), the BertPreTokenizer, a WordPiece model and a
 * TemplateProcessing or BertProcessing post-processor ([CLS] $A [SEP]), or
 * none.  The ids it gives are those of `tokenizers`'
 * Tokenizer.encode(text).ids (t/lib/gen_tokenizer_corpus.py and
 * kernels/test/test_tokenizer.c check it on the real all-MiniLM-L6-v2
 * file), but for the characters that Unicode made Cf, Mn or punctuation
 * after its version 8.0, whose tables `tokenizers` still uses: utf8proc's
 * are newer (infer_wordpiece.c).
 *
 * Whatever in the file this code cannot honour (another normalizer,
 * pre-tokenizer, model or post-processor type, an added token matched
 * after normalization or with lstrip, rstrip or single_word, a type_id
 * other than 0, a key it does not know) makes the load fail with a
 * message naming the file and the key, never a tokenizer that silently
 * tokenizes otherwise.  Three parts are deliberately not taken from the
 * file:
 *
 *   - "padding": the server batches ragged sequences, so nothing is ever
 *     padded; the section is accepted and left unused;
 *   - "truncation": the maximum length is the caller's (max_ids, below);
 *     the file's max_length is only reported (infer_tokenizer_info_t), and
 *     a direction or strategy other than HF's default for one sequence
 *     (cut the end) is refused;
 *   - the post-processor's "pair" template and the "decoder": encode()
 *     takes one sequence and decoding is one id's string.
 *
 * Encoding allocates nothing: it writes the ids straight into the
 * caller's buffer, keeps its state on the stack (about 6 KB) and only
 * reads the tokenizer, which threads may share.  Unicode properties, NFD
 * decomposition and case mapping are utf8proc's; ASCII text goes through
 * tables of 128 entries without calling it.
 *
 * Errors are a message in (err, errlen), as everywhere in kernels/.
 */

#ifndef _INFER_TOKENIZER_H_INCLUDED_
#define _INFER_TOKENIZER_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


typedef struct infer_tokenizer_s  infer_tokenizer_t;


/* what a loaded tokenizer.json says, for the caller's checks and logs */
typedef struct {
    size_t       vocab_size;     /* the model's entries */
    int32_t      max_id;         /* the largest id encode() can give */
    int32_t      unk_id;
    size_t       n_special;      /* ids the post-processor adds around the
                                    text ([CLS], [SEP]: 2) */
    size_t       file_max_length;
                                 /* "truncation": {"max_length"}, 0 when
                                    null; informative only */
    size_t       max_word_chars; /* "max_input_chars_per_word" */
    int          lowercase;      /* the normalizer lowercases */
} infer_tokenizer_info_t;


/*
 * Loads tokenizer.json at path; NULL with err set.  load_buffer() reads
 * the JSON text json[0 .. len) instead, name standing for the file in the
 * messages.
 */
infer_tokenizer_t *infer_tokenizer_load(const char *path, char *err,
    size_t errlen);
infer_tokenizer_t *infer_tokenizer_load_buffer(const char *json, size_t len,
    const char *name, char *err, size_t errlen);

void infer_tokenizer_free(infer_tokenizer_t *tok);

void infer_tokenizer_info(const infer_tokenizer_t *tok,
    infer_tokenizer_info_t *info);

/*
 * text[0 .. len) (UTF-8) to ids[0 .. *n_ids), the special tokens
 * included; max_ids is both the buffer's size and the maximum length.
 *
 * Longer than max_ids: with truncate, the text's tokens are cut at the
 * end to leave room for the special tokens, as `tokenizers` truncates one
 * sequence; without it, -1 with a message that says how many tokens the
 * text is.  Invalid UTF-8 (anywhere in the text, also past a truncation)
 * and a max_ids smaller than the special tokens are -1 too.
 */
int infer_tokenizer_encode(const infer_tokenizer_t *tok, const char *text,
    size_t len, int32_t *ids, size_t max_ids, size_t *n_ids, int truncate,
    char *err, size_t errlen);

/*
 * How many ids encode() would give without truncation, the special tokens
 * included (for usage counts and refusals); -1 on invalid UTF-8.
 */
int infer_tokenizer_count(const infer_tokenizer_t *tok, const char *text,
    size_t len, size_t *n_ids, char *err, size_t errlen);

/*
 * The vocabulary's string for id (an added token's content for the ids
 * that only added_tokens name), not NUL-terminated, its length in *len;
 * NULL for an id nothing names.  For tests and debugging.
 */
const char *infer_tokenizer_token(const infer_tokenizer_t *tok, int32_t id,
    size_t *len);

/* the id of a vocabulary or added token string, -1 when none */
int32_t infer_tokenizer_id(const infer_tokenizer_t *tok, const char *s,
    size_t len);


#endif /* _INFER_TOKENIZER_H_INCLUDED_ */
