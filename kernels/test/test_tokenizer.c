/*
 * ngx_infer: the tokenizer's tests (infer_tokenizer.h), printing TAP.
 *
 * Unit cases on small tokenizer.json files written here (each normalizer
 * option, the pre-tokenizer, WordPiece's [UNK] and word length, the
 * post-processors, truncation, invalid UTF-8, and every load error), then
 * parity with Hugging Face's `tokenizers` on the real all-MiniLM-L6-v2
 * file and its variants: the fixtures of t/lib/gen_tokenizer_corpus.py
 * (make fixtures), in $TEST_NGINX_FIXTURES/tokenizer or argv[1]; without
 * them those tests are skipped.
 *
 * The expected ids of the unit cases were checked once against
 * `tokenizers` with the same files.
 */

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "infer_tokenizer.h"

#include "tap.h"
#include "tok_corpus.h"


#define T_MAX_IDS   65536
#define T_SHOW      5          /* mismatches shown per check */


static void t_show(const char *text, size_t len);


/* --- small tokenizer.json files ------------------------------------------ */

/* ids as the cases name them */
enum {
    PAD, UNK, CLS, SEP, MASK, HELLO, WORLD, S_, UN, AFF_, ABLE_, A, B,
    COMMA, DOT, BANG, CAFE, CAFE_ACUTE, CAFE_UP, I, DOT_ABOVE_, ZHONG, GUO,
    GUO_, HELLOWORLD, SEMI, MUS1_, MUS2_, HEL_CTRL_LO, GUILLEMET, X, AB,
    CAFE_ACUTE_UP, NEW
};

static const char  *t_vocab =
    "{\"[PAD]\": 0, \"[UNK]\": 1, \"[CLS]\": 2, \"[SEP]\": 3, \"[MASK]\": 4,"
    " \"hello\": 5, \"world\": 6, \"##s\": 7, \"un\": 8, \"##aff\": 9,"
    " \"##able\": 10, \"a\": 11, \"b\": 12, \",\": 13, \".\": 14, \"!\": 15,"
    " \"cafe\": 16, \"caf\\u00e9\": 17, \"Cafe\": 18, \"i\": 19,"
    " \"##\\u0307\": 20, \"\\u4e2d\": 21, \"\\u56fd\": 22, \"##\\u56fd\": 23,"
    " \"helloworld\": 24, \";\": 25, \"##\\ud834\\udd65\": 26,"
    " \"##\\ud834\\udd6d\": 27, \"hel\\u0001lo\": 28, \"\\u00ab\": 29,"
    " \"x\": 30, \"ab\": 31, \"Caf\\u00e9\": 32}";

static const char  *t_template =
    "{\"type\": \"TemplateProcessing\","
    " \"single\": [{\"SpecialToken\": {\"id\": \"[CLS]\", \"type_id\": 0}},"
    " {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}},"
    " {\"SpecialToken\": {\"id\": \"[SEP]\", \"type_id\": 0}}],"
    " \"pair\": [],"
    " \"special_tokens\": {"
    " \"[CLS]\": {\"id\": \"[CLS]\", \"ids\": [2], \"tokens\": [\"[CLS]\"]},"
    " \"[SEP]\": {\"id\": \"[SEP]\", \"ids\": [3], \"tokens\": [\"[SEP]\"]}}}";

static const char  *t_added =
    "[{\"id\": 0, \"content\": \"[PAD]\", \"single_word\": false,"
    " \"lstrip\": false, \"rstrip\": false, \"normalized\": false,"
    " \"special\": true},"
    " {\"id\": 4, \"content\": \"[MASK]\", \"single_word\": false,"
    " \"lstrip\": false, \"rstrip\": false, \"normalized\": false,"
    " \"special\": true},"
    " {\"id\": 33, \"content\": \"<new>\", \"single_word\": false,"
    " \"lstrip\": false, \"rstrip\": false, \"normalized\": false,"
    " \"special\": false}]";


typedef struct {
    const char  *normalizer;   /* JSON, or NULL for BERT's default */
    const char  *post;         /* JSON, or NULL for t_template */
    int          max_chars;    /* 0: 100 */
    const char  *prefix;       /* NULL: "##" */
} t_spec_t;


#define T_BERT(clean, chinese, strip, lower)                                  \
    "{\"type\": \"BertNormalizer\", \"clean_text\": " clean                  \
    ", \"handle_chinese_chars\": " chinese ", \"strip_accents\": " strip     \
    ", \"lowercase\": " lower "}"

#define T_DEFAULT  T_BERT("true", "true", "null", "true")


static char *
t_json(const t_spec_t *s)
{
    char    *j;
    size_t   cap;

    cap = 16384;
    j = malloc(cap);
    if (j == NULL) {
        exit(2);
    }

    snprintf(j, cap,
             "{\"version\": \"1.0\", \"truncation\": null, \"padding\": null,"
             " \"added_tokens\": %s, \"normalizer\": %s,"
             " \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"},"
             " \"model\": {\"type\": \"WordPiece\", \"unk_token\": \"[UNK]\","
             " \"continuing_subword_prefix\": \"%s\","
             " \"max_input_chars_per_word\": %d, \"vocab\": %s},"
             " \"post_processor\": %s,"
             " \"decoder\": {\"type\": \"WordPiece\", \"prefix\": \"##\","
             " \"cleanup\": true}}",
             t_added, s->normalizer ? s->normalizer : T_DEFAULT,
             s->prefix ? s->prefix : "##",
             s->max_chars ? s->max_chars : 100, t_vocab,
             s->post ? s->post : t_template);

    return j;
}


static infer_tokenizer_t *
t_load(const t_spec_t *s)
{
    char               *j, err[INFER_ERRLEN];
    infer_tokenizer_t  *tok;

    j = t_json(s);
    tok = infer_tokenizer_load_buffer(j, strlen(j), "t.json", err,
                                      sizeof(err));
    free(j);

    if (tok == NULL) {
        printf("# load: %s\n", err);
    }

    return tok;
}


/* encodes text and compares with want[0 .. nwant) */
static void
t_ids(infer_tokenizer_t *tok, const char *what, const char *text,
    size_t len, size_t max, int truncate, const int32_t *want, size_t nwant)
{
    char     err[INFER_ERRLEN], got[512];
    size_t   n, i, off;
    int32_t  ids[256];
    int      same;

    if (tok == NULL) {
        ok(0, "%s: no tokenizer", what);
        return;
    }

    if (infer_tokenizer_encode(tok, text, len, ids, max, &n, truncate, err,
                               sizeof(err))
        != 0)
    {
        ok(0, "%s: %s", what, err);
        return;
    }

    same = n == nwant && memcmp(ids, want, n * sizeof(int32_t)) == 0;

    if (!same) {
        off = 0;
        for (i = 0; i < n && off < sizeof(got) - 16; i++) {
            off += (size_t) snprintf(got + off, sizeof(got) - off, " %d",
                                     (int) ids[i]);
        }
        got[off] = '\0';
        printf("# got:%s\n", got);
    }

    ok(same, "%s", what);
}


#define T_IDS(tok, what, text, ...)                                           \
    do {                                                                      \
        static const int32_t  w_[] = { __VA_ARGS__ };                         \
        t_ids(tok, what, text, sizeof(text) - 1, 256, 0, w_,                  \
              sizeof(w_) / sizeof(w_[0]));                                    \
    } while (0)


/* the error of encode() contains want */
static void
t_encode_err(infer_tokenizer_t *tok, const char *what, const char *text,
    size_t len, size_t max, int truncate, const char *want)
{
    int      rc;
    char     err[INFER_ERRLEN];
    size_t   n;
    int32_t  ids[256];

    err[0] = '\0';
    rc = infer_tokenizer_encode(tok, text, len, ids, max, &n, truncate, err,
                                sizeof(err));

    if (rc == 0 || strstr(err, want) == NULL) {
        printf("# rc %d, error \"%s\", wanted \"%s\"\n", rc, err, want);
    }

    ok(rc == -1 && strstr(err, want) != NULL, "%s", what);
}


static void
test_normalizer(void)
{
    t_spec_t            s;
    infer_tokenizer_t  *tok;

    memset(&s, 0, sizeof(s));

    /* BERT's default: clean, CJK, strip (null follows lowercase), lower */
    tok = t_load(&s);
    T_IDS(tok, "default: lowercase and accents stripped", "H\xc3\xa9llo WORLD",
          CLS, HELLO, WORLD, SEP);
    T_IDS(tok, "default: NFD text stripped too", "Cafe\xcc\x81",
          CLS, CAFE, SEP);
    T_IDS(tok, "default: \\t \\n \\r, NBSP and U+3000 end words",
          "a\tb\nhello\r\nworld\xc2\xa0" "a\xe3\x80\x80" "b",
          CLS, A, B, HELLO, WORLD, A, B, SEP);
    T_IDS(tok, "default: controls, U+200B, U+FFFD, U+E000 dropped inside "
          "words", "hel\x01lo wor\xe2\x80\x8bld a\xef\xbf\xbd" "b"
          " hello\xee\x80\x80world",
          CLS, HELLO, WORLD, AB, HELLOWORLD, SEP);
    T_IDS(tok, "default: NUL dropped", "hel\0lo", CLS, HELLO, SEP);
    T_IDS(tok, "default: CJK ideographs are words", "\xe4\xb8\xad\xe5\x9b\xbd",
          CLS, ZHONG, GUO, SEP);
    T_IDS(tok, "default: NFD orders the marks it keeps (U+1D16D, U+1D165)",
          "a\xf0\x9d\x85\xad\xf0\x9d\x85\xa5", CLS, A, MUS1_, MUS2_, SEP);
    T_IDS(tok, "default: U+037E becomes ';', a word of its own",
          "hello\xcd\xbeworld", CLS, HELLO, SEMI, WORLD, SEP);
    T_IDS(tok, "default: U+0130 stripped then lowercased is i",
          "\xc4\xb0", CLS, I, SEP);
    infer_tokenizer_free(tok);

    /* strip_accents null, lowercase false: accents kept */
    s.normalizer = T_BERT("true", "true", "null", "false");
    tok = t_load(&s);
    T_IDS(tok, "strip null, cased: accents and case kept",
          "caf\xc3\xa9 Caf\xc3\xa9 Cafe", CLS, CAFE_ACUTE, CAFE_ACUTE_UP,
          CAFE_UP, SEP);
    T_IDS(tok, "strip null, cased: marks in their order",
          "a\xf0\x9d\x85\xad\xf0\x9d\x85\xa5", CLS, A, MUS2_, MUS1_, SEP);
    infer_tokenizer_free(tok);

    /* strip_accents true, lowercase false */
    s.normalizer = T_BERT("true", "true", "true", "false");
    tok = t_load(&s);
    T_IDS(tok, "strip true, cased", "Caf\xc3\xa9 caf\xc3\xa9",
          CLS, CAFE_UP, CAFE, SEP);
    infer_tokenizer_free(tok);

    /* strip_accents false, lowercase true: U+0130 is two characters */
    s.normalizer = T_BERT("true", "true", "false", "true");
    tok = t_load(&s);
    T_IDS(tok, "strip false, lowercase: CAF\\u00c9 is caf\\u00e9",
          "CAF\xc3\x89", CLS, CAFE_ACUTE, SEP);
    T_IDS(tok, "strip false, lowercase: U+0130 is i + U+0307",
          "\xc4\xb0", CLS, I, DOT_ABOVE_, SEP);
    infer_tokenizer_free(tok);

    /* clean_text false: controls stay in words, whitespace still splits */
    s.normalizer = T_BERT("false", "true", "null", "true");
    tok = t_load(&s);
    T_IDS(tok, "clean_text false: a control stays in the word",
          "hel\x01lo", CLS, HEL_CTRL_LO, SEP);
    T_IDS(tok, "clean_text false: U+200B stays, \\v and NBSP split",
          "wor\xe2\x80\x8bld a\vb\xc2\xa0" "a", CLS, UNK, A, B, A, SEP);
    infer_tokenizer_free(tok);

    /* handle_chinese_chars false: one word */
    s.normalizer = T_BERT("true", "false", "null", "true");
    tok = t_load(&s);
    T_IDS(tok, "handle_chinese_chars false: ideographs make one word",
          "\xe4\xb8\xad\xe5\x9b\xbd", CLS, ZHONG, GUO_, SEP);
    infer_tokenizer_free(tok);

    /* no normalizer at all, BertProcessing */
    s.normalizer = "null";
    s.post = "{\"type\": \"BertProcessing\", \"sep\": [\"[SEP]\", 3],"
             " \"cls\": [\"[CLS]\", 2]}";
    tok = t_load(&s);
    T_IDS(tok, "normalizer null, BertProcessing", "Hello caf\xc3\xa9",
          CLS, UNK, CAFE_ACUTE, SEP);
    infer_tokenizer_free(tok);
}


static void
test_pre_tokenizer_and_wordpiece(void)
{
    char                err[INFER_ERRLEN], w[160];
    size_t              n, len;
    t_spec_t            s;
    const char         *p;
    infer_tokenizer_t  *tok;

    memset(&s, 0, sizeof(s));
    tok = t_load(&s);

    T_IDS(tok, "punctuation: ASCII and P* are words of their own",
          "hello,world!\xc2\xab" "a.", CLS, HELLO, COMMA, WORLD, BANG,
          GUILLEMET, A, DOT, SEP);
    T_IDS(tok, "punctuation not in the vocabulary is [UNK]", "a?b",
          CLS, A, UNK, B, SEP);
    T_IDS(tok, "WordPiece: un ##aff ##able, hello ##s", "unaffable hellos",
          CLS, UN, AFF_, ABLE_, HELLO, S_, SEP);
    T_IDS(tok, "WordPiece: a word with no split is one [UNK]",
          "unaffablex worldz", CLS, UNK, UNK, SEP);
    T_IDS(tok, "added tokens are cut out of the raw text",
          "a[MASK]b [mask] <new>x", CLS, A, MASK, B, UNK, UNK, UNK, NEW, X,
          SEP);
    T_IDS(tok, "empty and blank texts: the special tokens only", " \t\n",
          CLS, SEP);

    p = infer_tokenizer_token(tok, HELLO, &len);
    ok(p != NULL && len == 5 && memcmp(p, "hello", 5) == 0,
       "decode: id 5 is \"hello\"");
    p = infer_tokenizer_token(tok, NEW, &len);
    ok(p != NULL && len == 5 && memcmp(p, "<new>", 5) == 0,
       "decode: an added token's id is its content");
    ok(infer_tokenizer_token(tok, 35, &len) == NULL
       && infer_tokenizer_token(tok, -1, &len) == NULL
       && infer_tokenizer_token(tok, 1 << 30, &len) == NULL,
       "decode: an id nothing names is NULL");
    ok(infer_tokenizer_id(tok, "##aff", 5) == AFF_
       && infer_tokenizer_id(tok, "<new>", 5) == NEW
       && infer_tokenizer_id(tok, "nope", 4) == -1,
       "infer_tokenizer_id() of vocabulary and added tokens");

    /* the word length counts characters, after normalization */
    memset(w, 'a', 100);
    ok(infer_tokenizer_count(tok, w, 100, &n, err, sizeof(err)) == 0
       && n == 2 + 1, "100 characters: one word of WordPiece (no split: "
       "[UNK])");
    infer_tokenizer_free(tok);

    s.max_chars = 5;
    tok = t_load(&s);
    T_IDS(tok, "max_input_chars_per_word 5: hello fits, hellos is [UNK]",
          "hello hellos", CLS, HELLO, UNK, SEP);
    T_IDS(tok, "max_input_chars_per_word 5: characters, not bytes",
          "h\xc3\xa9llo", CLS, HELLO, SEP);
    infer_tokenizer_free(tok);

    s.normalizer = T_BERT("true", "true", "false", "true");
    s.max_chars = 1;
    tok = t_load(&s);
    T_IDS(tok, "max_input_chars_per_word 1: U+0130 lowercased is 2, [UNK]",
          "\xc4\xb0 i", CLS, UNK, I, SEP);
    infer_tokenizer_free(tok);

    memset(&s, 0, sizeof(s));
    s.prefix = "@@";
    tok = t_load(&s);
    T_IDS(tok, "continuing_subword_prefix @@: ##aff is not a piece",
          "unaffable", CLS, UNK, SEP);
    infer_tokenizer_free(tok);
}


static void
test_truncation_and_errors(void)
{
    char                err[INFER_ERRLEN];
    size_t              n;
    int32_t             ids[16];
    t_spec_t            s;
    infer_tokenizer_t  *tok;

    static const char   text[] = "hello world hello world hello world";
    static const int32_t  cut[] = { CLS, HELLO, WORLD, HELLO, SEP };
    static const int32_t  cut_pieces[] = { CLS, UN, AFF_, SEP };
    static const int32_t  only[] = { CLS, SEP };
    static const int32_t  bare[] = { HELLO, WORLD };

    memset(&s, 0, sizeof(s));
    tok = t_load(&s);

    t_ids(tok, "truncate to 5: the end is cut, [SEP] kept", text,
          sizeof(text) - 1, 5, 1, cut, 5);
    t_ids(tok, "truncate inside a word: its first pieces", "unaffable", 9,
          4, 1, cut_pieces, 4);
    t_ids(tok, "truncate to 2: the special tokens only", text,
          sizeof(text) - 1, 2, 1, only, 2);
    t_encode_err(tok, "no truncation: the error says how many tokens",
                 text, sizeof(text) - 1, 5, 0, "is 8 tokens, more than the 5");
    t_encode_err(tok, "a maximum below the special tokens is an error",
                 "a", 1, 1, 1, "no room for the 2 special tokens");

    ok(infer_tokenizer_count(tok, text, sizeof(text) - 1, &n, err,
                             sizeof(err)) == 0 && n == 8,
       "count: 8, untruncated");

    ok(infer_tokenizer_encode(tok, text, sizeof(text) - 1, ids, 8, &n, 0,
                              err, sizeof(err)) == 0 && n == 8,
       "exactly max_ids tokens fit without truncation");

    /* invalid UTF-8, anywhere */
    t_encode_err(tok, "invalid UTF-8: a lone continuation byte", "ab\x80", 3,
                 16, 0, "invalid UTF-8 at byte 2");
    t_encode_err(tok, "invalid UTF-8: 0xff", "\xff", 1, 16, 0,
                 "invalid UTF-8 at byte 0");
    t_encode_err(tok, "invalid UTF-8: an overlong '/'", "a\xc0\xaf", 3, 16, 0,
                 "invalid UTF-8 at byte 1");
    t_encode_err(tok, "invalid UTF-8: an overlong 3-byte form",
                 "\xe0\x80\xaf", 3, 16, 0, "invalid UTF-8");
    t_encode_err(tok, "invalid UTF-8: a surrogate", "\xed\xa0\x80", 3, 16, 0,
                 "invalid UTF-8");
    t_encode_err(tok, "invalid UTF-8: past U+10FFFF", "\xf4\x90\x80\x80", 4,
                 16, 0, "invalid UTF-8");
    t_encode_err(tok, "invalid UTF-8: a cut sequence", "hello \xe2\x82", 8,
                 16, 0, "invalid UTF-8 at byte 6");
    t_encode_err(tok, "invalid UTF-8 past the truncation is refused too",
                 "hello world hello world \xff", 25, 3, 1,
                 "invalid UTF-8 at byte 24");
    ok(infer_tokenizer_count(tok, "\xc3", 1, &n, err, sizeof(err)) == -1,
       "count: invalid UTF-8 is -1");
    infer_tokenizer_free(tok);

    s.post = "null";
    tok = t_load(&s);
    t_ids(tok, "post_processor null: no special tokens", "hello world", 11,
          16, 0, bare, 2);
    infer_tokenizer_free(tok);
}


/*
 * Random texts from pieces that exercise every path: count() is encode()'s
 * length, a truncated encoding is the full one cut (and [SEP] put back),
 * and a text with a bad byte is refused by both.
 */
static void
test_random(void)
{
    int                 i, j, k, bad, rc, good;
    char                text[512], err[INFER_ERRLEN];
    size_t              len, n, nfull, ncut, np, max;
    int32_t             full[512], cut[512];
    uint64_t            rng;
    t_spec_t            s;
    infer_tokenizer_t  *tok;

    static const size_t  maxes[] = { 2, 3, 5, 9 };
    static const char   *pieces[] = {
        "hello", "world", "un", "aff", "able", "s", " ", "  ", "\t", "\n",
        ",", "!", "?", "caf\xc3\xa9", "e\xcc\x81", "\xc4\xb0",
        "\xe4\xb8\xad", "\xe5\x9b\xbd", "\xf0\x9d\x85\xa5",
        "\xf0\x9d\x85\xad", "\xcc\x81", "\x01", "\xe2\x80\x8b",
        "\xc2\xa0", "[MASK]", "[MASK", "<new>", "\xcd\xbe",
        "\xf0\x9f\x98\x80", "\xef\xbf\xbd", "A", "x", "ab"
    };

    memset(&s, 0, sizeof(s));
    s.max_chars = 8;
    tok = t_load(&s);
    if (tok == NULL) {
        ok(0, "random texts: no tokenizer");
        return;
    }

    rng = 0x9e3779b97f4a7c15ULL;
    good = 1;

    for (i = 0; i < 3000 && good; i++) {
        len = 0;
        bad = 0;
        np = 1 + (size_t) (i % 40);

        for (j = 0; j < (int) np; j++) {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            k = (int) ((rng >> 33) % (sizeof(pieces) / sizeof(pieces[0])));

            if (len + strlen(pieces[k]) + 1 >= sizeof(text)) {
                break;
            }

            memcpy(text + len, pieces[k], strlen(pieces[k]));
            len += strlen(pieces[k]);
        }

        if (i % 17 == 16) {
            /* a cut character or a stray continuation byte */
            text[len++] = (i % 2) ? (char) 0xe4 : (char) 0x80;
            bad = 1;
        }

        rc = infer_tokenizer_encode(tok, text, len, full, 512, &nfull, 0, err,
                                    sizeof(err));
        good = (rc == -1) == bad;

        rc = infer_tokenizer_count(tok, text, len, &n, err, sizeof(err));
        good = good && (rc == -1) == bad && (bad || n == nfull);

        for (k = 0; !bad && good && k < 4; k++) {
            max = maxes[k];
            rc = infer_tokenizer_encode(tok, text, len, cut, max, &ncut, 1,
                                        err, sizeof(err));

            good = rc == 0
                   && ncut == (nfull < max ? nfull : max)
                   && memcmp(cut, full, (ncut - 1) * sizeof(int32_t)) == 0
                   && cut[ncut - 1] == SEP;
        }

        if (!good) {
            printf("# random text %d differs:\n", i);
            t_show(text, len);
        }
    }

    ok(good, "random texts: count() = encode(), truncation cuts the full "
       "ids, bad bytes refused by both");

    infer_tokenizer_free(tok);
}


/* a load error names the file and the key */
static void
t_load_err(const char *what, const char *json, const char *want)
{
    char                err[INFER_ERRLEN];
    infer_tokenizer_t  *tok;

    err[0] = '\0';
    tok = infer_tokenizer_load_buffer(json, strlen(json), "tok.json", err,
                                      sizeof(err));

    if (tok != NULL || strstr(err, want) == NULL
        || strncmp(err, "tok.json: ", 10) != 0)
    {
        printf("# error \"%s\", wanted \"%s\"\n", err, want);
    }

    ok(tok == NULL && strstr(err, want) != NULL
       && strncmp(err, "tok.json: ", 10) == 0, "load error: %s", what);

    infer_tokenizer_free(tok);
}


/* the whole file with one substring replaced */
static char *
t_edit(const char *from, const char *to)
{
    char      *j, *p, *out;
    size_t     n;
    t_spec_t   s;

    memset(&s, 0, sizeof(s));
    j = t_json(&s);
    p = strstr(j, from);
    if (p == NULL) {
        printf("# t_edit: no \"%s\"\n", from);
        return j;
    }

    n = strlen(j) - strlen(from) + strlen(to) + 1;
    out = malloc(n);
    if (out == NULL) {
        exit(2);
    }

    snprintf(out, n, "%.*s%s%s", (int) (p - j), j, to, p + strlen(from));
    free(j);

    return out;
}


static void
test_load_errors(void)
{
    size_t              i;
    char               *j, path[64], err[INFER_ERRLEN];
    FILE               *f;
    t_spec_t            s;
    infer_tokenizer_t  *tok;

    static const struct {
        const char  *what, *from, *to, *want;
    } cases[] = {
        { "another normalizer type", "\"BertNormalizer\"", "\"NFKC\"",
          "normalizer.type: \"NFKC\" is not supported" },
        { "a normalizer key it does not know", "\"lowercase\": true",
          "\"lowercase\": true, \"nfkc\": true", "normalizer.nfkc: unknown" },
        { "lowercase not a boolean", "\"lowercase\": true",
          "\"lowercase\": 1", "normalizer.lowercase: missing or not a bool" },
        { "another pre-tokenizer", "\"BertPreTokenizer\"", "\"Whitespace\"",
          "pre_tokenizer.type: \"Whitespace\" is not supported" },
        { "no pre-tokenizer", "{\"type\": \"BertPreTokenizer\"}", "null",
          "pre_tokenizer: missing, null" },
        { "another model", "\"WordPiece\", \"unk_token\"",
          "\"BPE\", \"unk_token\"", "model.type: \"BPE\" is not supported" },
        { "unk_token not in the vocabulary", "\"unk_token\": \"[UNK]\"",
          "\"unk_token\": \"<unk>\"", "model.unk_token: \"<unk>\" is not in" },
        { "max_input_chars_per_word past the limit", "_per_word\": 100",
          "_per_word\": 100000", "model.max_input_chars_per_word" },
        { "a model key it does not know", "\"vocab\": {",
          "\"byte_fallback\": false, \"vocab\": {",
          "model.byte_fallback: unknown" },
        { "two tokens with one id", "\"x\": 30", "\"x\": 5",
          "have the same id 5" },
        { "another post-processor", "\"TemplateProcessing\"",
          "\"RobertaProcessing\"",
          "post_processor.type: \"RobertaProcessing\" is not supported" },
        { "a type_id other than 0", "\"A\", \"type_id\": 0",
          "\"A\", \"type_id\": 1",
          "post_processor.single[1].Sequence.type_id: only 0" },
        { "a special token with no ids", "\"ids\": [2]", "\"idz\": [2]",
          "has no \"ids\"" },
        { "an added token matched normalized",
          "\"normalized\": false, \"special\": true},",
          "\"normalized\": true, \"special\": true},",
          "added_tokens[0].normalized: true is not supported" },
        { "an added token with lstrip", "\"lstrip\": false",
          "\"lstrip\": true", "added_tokens[0].lstrip: true is not" },
        { "an added token with another id than HF gives it",
          "\"id\": 33", "\"id\": 40",
          "added_tokens[2].id: 40, but tokenizers gives \"<new>\" the id 33" },
        { "an added token in the vocabulary with another id",
          "\"id\": 4, \"content\": \"[MASK]\"",
          "\"id\": 3, \"content\": \"[MASK]\"",
          "added_tokens[1].id: 3, but tokenizers gives \"[MASK]\" the id 4" },
        { "a version other than 1.0", "\"version\": \"1.0\"",
          "\"version\": \"2.0\"", "version: only \"1.0\"" },
        { "truncation from the left", "\"truncation\": null",
          "\"truncation\": {\"max_length\": 8, \"strategy\": \"LongestFirst\","
          " \"stride\": 0, \"direction\": \"Left\"}",
          "truncation.direction: \"Left\" is not supported" },
        { "truncation only of a second sequence", "\"truncation\": null",
          "\"truncation\": {\"max_length\": 8, \"strategy\": \"OnlySecond\","
          " \"stride\": 0}", "truncation.strategy: \"OnlySecond\"" },
        { "another decoder", "\"decoder\": {\"type\": \"WordPiece\"",
          "\"decoder\": {\"type\": \"ByteLevel\"",
          "decoder.type: \"ByteLevel\" is not supported" },
        { "a top-level key it does not know", "\"version\"",
          "\"extra\": 1, \"version\"", "tok.json: extra: unknown key" },
        { "not JSON", "\"version\": \"1.0\",", "\"version\": ",
          "line 1, column" },
    };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        j = t_edit(cases[i].from, cases[i].to);
        t_load_err(cases[i].what, j, cases[i].want);
        free(j);
    }

    /* from a file, with the file's name in the error */
    memset(&s, 0, sizeof(s));
    snprintf(path, sizeof(path), "/tmp/test_tokenizer.%d.json",
             (int) getpid());
    j = t_json(&s);
    f = fopen(path, "w");
    if (f != NULL) {
        fputs(j, f);
        fclose(f);
    }
    free(j);

    tok = infer_tokenizer_load(path, err, sizeof(err));
    ok(tok != NULL, "a tokenizer.json file loads");
    infer_tokenizer_free(tok);
    unlink(path);

    tok = infer_tokenizer_load(path, err, sizeof(err));
    ok(tok == NULL && strstr(err, path) != NULL,
       "a missing file: the error names it");
}


/* --- parity with `tokenizers` -------------------------------------------- */

/* text as a C string literal, cut to fit */
static void
t_show(const char *text, size_t len)
{
    size_t         i;
    unsigned char  c;

    printf("#   text: \"");

    for (i = 0; i < len && i < 300; i++) {
        c = (unsigned char) text[i];

        if (c == '\\' || c == '"') {
            printf("\\%c", c);

        } else if (c < 0x20 || c == 0x7f) {
            printf("\\x%02x", c);

        } else {
            putchar(c);
        }
    }

    printf("\"%s\n", len > 300 ? "..." : "");
}


static void
t_show_ids(const char *what, const int32_t *ids, size_t n)
{
    size_t  i;

    printf("#   %s (%zu):", what, n);

    for (i = 0; i < n && i < 40; i++) {
        printf(" %d", (int) ids[i]);
    }

    printf("%s\n", n > 40 ? " ..." : "");
}


typedef struct {
    size_t   lines;
    size_t   bad;
    size_t   skewed;     /* lines with "skew" */
    size_t   known;      /* of them, those that differ */
} t_tally_t;


static void
t_compare(t_tally_t *t, const tc_line_t *l, size_t lineno, const char *what,
    const int32_t *got, size_t ngot, const int32_t *want, size_t nwant)
{
    t->lines++;
    t->skewed += l->skew[0] != '\0';

    if (ngot == nwant && memcmp(got, want, ngot * sizeof(int32_t)) == 0) {
        return;
    }

    if (l->skew[0] != '\0') {
        if (t->known++ < T_SHOW) {
            printf("# %s: line %zu differs, on a character of Unicode past "
                   "8.0 (%s)\n", what, lineno, l->skew);
        }

        return;
    }

    if (t->bad++ < T_SHOW) {
        printf("# %s: line %zu (%s) differs\n", what, lineno, l->kind);
        t_show(l->text, l->len);
        t_show_ids("ours", got, ngot);
        t_show_ids("HF", want, nwant);
    }
}


/*
 * The lines on a character that Unicode made Cf, Mn or P* after 8.0:
 * `tokenizers` classifies with Unicode 8.0's tables (the crate
 * unicode_categories 0.1.1), utf8proc with 15.0's; their differences are
 * known, a TODO in TAP's terms, and reported.
 */
static void
t_skew(const char *name, const t_tally_t *t)
{
    tap_count++;

    printf("%sok %d - %s: %zu of the %zu lines with Unicode skew differ"
           "%s\n", t->known ? "not " : "", tap_count, name, t->known,
           t->skewed, t->known ? " # TODO HF's tables are Unicode 8.0's" : "");
}


/* one variant: its tokenizer.json against its expected.tsv */
static void
test_variant(const char *dir, const char *name, const tc_corpus_t *c,
    size_t step, int with_truncated, int32_t *want, int32_t *got)
{
    int                 rc;
    char               *exp, *p, err[INFER_ERRLEN], path[512];
    size_t              len, i, nwant, ngot, nline, ncount, nfull;
    t_tally_t           full, cut, count, refuse;
    infer_tokenizer_t  *tok;

    snprintf(path, sizeof(path), "%s/%s/tokenizer.json", dir, name);
    tok = infer_tokenizer_load(path, err, sizeof(err));
    ok(tok != NULL, "%s: tokenizer.json loads%s%s", name,
       tok ? "" : ": ", tok ? "" : err);
    if (tok == NULL) {
        return;
    }

    snprintf(path, sizeof(path), "%s/%s/expected.tsv", dir, name);
    exp = infer_read_file(path, TC_FILE_MAX, &len, err, sizeof(err));
    if (exp == NULL) {
        ok(0, "%s: %s", name, err);
        infer_tokenizer_free(tok);
        return;
    }

    memset(&full, 0, sizeof(full));
    memset(&cut, 0, sizeof(cut));
    memset(&count, 0, sizeof(count));
    memset(&refuse, 0, sizeof(refuse));

    p = exp;

    for (i = 0; i < c->n && *p != '\0'; i += step) {
        nline = i + 1;

        nwant = tc_ids(&p, want, T_MAX_IDS);

        rc = infer_tokenizer_encode(tok, c->lines[i].text, c->lines[i].len,
                                    got, T_MAX_IDS, &ngot, 0, err,
                                    sizeof(err));
        if (rc != 0) {
            ngot = 0;
            printf("# %s: line %zu: %s\n", name, nline, err);
        }

        t_compare(&full, &c->lines[i], nline, name, got, ngot, want, nwant);
        nfull = ngot;

        /* the rest against our own untruncated ids: HF's are above */
        rc = infer_tokenizer_count(tok, c->lines[i].text, c->lines[i].len,
                                   &ncount, err, sizeof(err));
        count.lines++;
        count.bad += rc != 0 || ncount != nfull;

        if (with_truncated) {
            /* refused at 128 without truncation, exactly when longer */
            rc = infer_tokenizer_encode(tok, c->lines[i].text,
                                        c->lines[i].len, got, 128, &ngot, 0,
                                        err, sizeof(err));
            refuse.lines++;
            refuse.bad += (rc != 0) != (nfull > 128);

            if (*p == '\t') {
                p++;
            }

            nwant = tc_ids(&p, want, T_MAX_IDS);

            rc = infer_tokenizer_encode(tok, c->lines[i].text,
                                        c->lines[i].len, got, 128, &ngot, 1,
                                        err, sizeof(err));
            if (rc != 0) {
                ngot = 0;
            }

            t_compare(&cut, &c->lines[i], nline, "truncated to 128", got,
                      ngot, want, nwant);
        }

        while (*p != '\0' && *p != '\n') {
            p++;
        }

        if (*p == '\n') {
            p++;
        }
    }

    ok(full.lines > 0 && full.bad == 0, "%s: %zu lines, %zu differ from "
       "tokenizers' ids (%zu more with Unicode skew)", name, full.lines,
       full.bad, full.known);
    t_skew(name, &full);
    ok(count.bad == 0, "%s: count() is encode()'s untruncated length "
       "(%zu differ)", name, count.bad);

    if (with_truncated) {
        ok(cut.lines == full.lines && cut.bad == 0, "%s: truncated to "
           "128: %zu lines, %zu differ (%zu more with Unicode skew)", name,
           cut.lines, cut.bad, cut.known);
        ok(refuse.bad == 0, "%s: without truncation, refused at 128 "
           "exactly when longer (%zu wrong)", name, refuse.bad);
    }

    free(exp);
    infer_tokenizer_free(tok);
}


static void
test_parity(const char *fixtures)
{
    char                    dir[400], path[512], err[INFER_ERRLEN];
    int32_t                *want, *got;
    size_t                  i;
    struct stat             sb;
    tc_corpus_t             c;
    infer_tokenizer_t      *tok;
    infer_tokenizer_info_t  info;

    static const char      *variants[] = {
        "cased_strip", "lower_keep_accents", "no_clean_no_chinese",
        "no_normalizer_bert_processing"
    };

    snprintf(dir, sizeof(dir), "%s", fixtures);
    snprintf(path, sizeof(path), "%s/manifest.json", dir);

    if (stat(path, &sb) != 0) {
        printf("ok %d # SKIP no %s (make fixtures)\n", ++tap_count, path);
        return;
    }

    snprintf(path, sizeof(path), "%s/corpus.jsonl", dir);
    if (tc_load(&c, path, err, sizeof(err)) != 0) {
        ok(0, "corpus: %s", err);
        return;
    }

    ok(c.n >= 10000, "corpus: %zu lines (at least 10000), %zu bytes", c.n,
       c.bytes);

    want = malloc(T_MAX_IDS * sizeof(int32_t));
    got = malloc(T_MAX_IDS * sizeof(int32_t));
    if (want == NULL || got == NULL) {
        exit(2);
    }

    /* what the file says, as infer_tokenizer_info() reports it */
    snprintf(path, sizeof(path), "%s/minilm/tokenizer.json", dir);
    tok = infer_tokenizer_load(path, err, sizeof(err));
    if (tok != NULL) {
        infer_tokenizer_info(tok, &info);
        ok(info.vocab_size == 30522 && info.max_id == 30521
           && info.unk_id == 100 && info.n_special == 2
           && info.file_max_length == 128 && info.max_word_chars == 100,
           "minilm: info: 30522 entries, [UNK] 100, 2 special ids, the "
           "file's max_length 128 (not applied), words of 100");
        infer_tokenizer_free(tok);
    }

    test_variant(dir, "minilm", &c, 1, 1, want, got);

    for (i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
        /* t/lib/gen_tokenizer_corpus.py's VARIANT_STEP */
        test_variant(dir, variants[i], &c, 4, 0, want, got);
    }

    free(want);
    free(got);
    tc_free(&c);
}


int
main(int argc, char **argv)
{
    char         fixtures[400];
    const char  *env;

    if (argc > 1) {
        snprintf(fixtures, sizeof(fixtures), "%s", argv[1]);

    } else {
        env = getenv("TEST_NGINX_FIXTURES");
        snprintf(fixtures, sizeof(fixtures), "%s/tokenizer",
                 env ? env : "t/fixtures");
    }

    test_normalizer();
    test_pre_tokenizer_and_wordpiece();
    test_truncation_and_errors();
    test_random();
    test_load_errors();
    test_parity(fixtures);

    return done();
}
