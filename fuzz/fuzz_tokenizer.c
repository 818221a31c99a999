/*
 * ngx_infer fuzzing: the WordPiece tokenizer (infer_tokenizer.h), two
 * surfaces, chosen by the input's first byte:
 *
 *   - even: infer_tokenizer_encode() on the rest as the text, with a BERT
 *     tokenizer.json that the harness writes and loads at start-up (a
 *     vocabulary of 192 entries: [PAD] [UNK] [CLS] [SEP] [MASK],
 *     ASCII letters, digits and punctuation with their ## pieces, words in
 *     Latin, Greek, Cyrillic, CJK and Hangul jamo; lowercase,
 *     strip_accents, handle_chinese_chars and clean_text on;
 *     max_input_chars_per_word 8).  The first byte's other bits are a
 *     small max_ids (2 to 129).  Checked: encode() is 0 or -1; -1 leaves
 *     a NUL-terminated, non-empty, valid UTF-8 message; invalid UTF-8
 *     (by a strict reference decoder) is -1 for encode() and count(),
 *     valid UTF-8 is 0 with room enough; count() is the untruncated
 *     length; every id is one the vocabulary names, the first [CLS], the
 *     last [SEP]; *n_ids <= max_ids; without truncation a text too long is
 *     -1; with it, the ids are the untruncated ones cut to max_ids - 1,
 *     then [SEP]; the same input encoded twice gives the same ids.
 *
 *   - odd: infer_tokenizer_load_buffer() on the rest as tokenizer.json:
 *     a tokenizer or NULL with a message naming the file, no crash, no
 *     leak (infer_tokenizer_free()).  A tokenizer it returns encodes a few
 *     fixed texts and the input itself: 0, count() agrees, every id
 *     between the special ones is one the tokenizer names.
 *
 * Every ids buffer is malloc()ed of exactly max_ids entries, the text of
 * exactly its length: AddressSanitizer sees a write or read past them.
 * A failed check aborts, which libFuzzer reports as a crash.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "infer_util.h"
#include "infer_tokenizer.h"


#define fuzz_check(cond)                                                     \
    if (!(cond)) {                                                           \
        fprintf(stderr, "fuzz_tokenizer: check failed at line %d: %s\n",    \
                __LINE__, #cond);                                            \
        abort();                                                             \
    }


/* the vocabulary: ids in this order; the specials first */
static const char *const  fuzz_words[] = {
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
    "the", "an", "and", "of", "to", "in", "is", "it", "hello", "world",
    "un", "##aff", "##able", "run", "##ning", "##ed", "##ing",
    "cafe", "naive", "resume", "uber", "ecole", "strasse", "stra", "##sse",
    "fuzz", "##er", "token", "##izer", "nginx", "infer",
    "\xce\xb1\xce\xb2\xce\xb3",                         /* αβγ */
    "\xce\xb1", "##\xce\xb2", "##\xce\xb3",
    "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82", /* привет */
    "\xd0\xbf", "##\xd1\x80\xd0\xb8",
    "\xc3\x9f", "\xc3\xb8", "\xc3\xa6", "\xc4\xb1",     /* ß ø æ ı */
    "\xe4\xb8\xad", "\xe5\x9b\xbd", "\xe6\x97\xa5",     /* 中 国 日 */
    "\xe6\x9c\xac", "\xe8\xaa\x9e",                     /* 本 語 */
    "\xe3\x81\x82", "\xe3\x81\x84", "##\xe3\x81\x84",   /* あ い */
    "\xe1\x84\x92", "##\xe1\x85\xa1", "##\xe1\x86\xab", /* ᄒ ᅡ ᆫ */
    "i\xcc\x87",                                        /* i + U+0307 */
    "\xe2\x80\x94", "\xc2\xbf", "\xe3\x80\x82",         /* — ¿ 。 */
    NULL
};


static char                fuzz_path[64];
static infer_tokenizer_t  *fuzz_tok;
static int32_t             fuzz_cls, fuzz_sep, fuzz_max_id;
static size_t              fuzz_nsp;


static void
fuzz_cleanup(void)
{
    infer_tokenizer_free(fuzz_tok);
}


/* a JSON string of s, as a vocabulary key: only " and \ need escaping */
static size_t
fuzz_key(char *buf, size_t cap, const char *s)
{
    size_t  n;

    n = 0;
    buf[n++] = '"';

    for ( ; *s; s++) {
        fuzz_check(n + 3 < cap);
        if (*s == '"' || *s == '\\') {
            buf[n++] = '\\';
        }
        buf[n++] = *s;
    }

    buf[n++] = '"';

    return n;
}


static void
fuzz_init(void)
{
    int                      fd;
    char                     err[INFER_ERRLEN], *j, piece[3];
    size_t                   n, cap, id, i;
    const char              *s;
    infer_tokenizer_info_t   info;

    cap = 64 * 1024;
    j = malloc(cap);
    fuzz_check(j != NULL);

    n = (size_t) snprintf(j, cap,
        "{\"version\": \"1.0\", \"truncation\": null, \"padding\": null,"
        " \"added_tokens\": ["
        "{\"id\": 0, \"content\": \"[PAD]\", \"single_word\": false,"
        " \"lstrip\": false, \"rstrip\": false, \"normalized\": false,"
        " \"special\": true},"
        "{\"id\": 1, \"content\": \"[UNK]\", \"single_word\": false,"
        " \"lstrip\": false, \"rstrip\": false, \"normalized\": false,"
        " \"special\": true},"
        "{\"id\": 2, \"content\": \"[CLS]\", \"single_word\": false,"
        " \"lstrip\": false, \"rstrip\": false, \"normalized\": false,"
        " \"special\": true},"
        "{\"id\": 3, \"content\": \"[SEP]\", \"single_word\": false,"
        " \"lstrip\": false, \"rstrip\": false, \"normalized\": false,"
        " \"special\": true},"
        "{\"id\": 4, \"content\": \"[MASK]\", \"single_word\": false,"
        " \"lstrip\": false, \"rstrip\": false, \"normalized\": false,"
        " \"special\": true}],"
        " \"normalizer\": {\"type\": \"BertNormalizer\", \"clean_text\": true,"
        " \"handle_chinese_chars\": true, \"strip_accents\": true,"
        " \"lowercase\": true},"
        " \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"},"
        " \"post_processor\": {\"type\": \"TemplateProcessing\","
        " \"single\": [{\"SpecialToken\": {\"id\": \"[CLS]\", \"type_id\": 0}},"
        " {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}},"
        " {\"SpecialToken\": {\"id\": \"[SEP]\", \"type_id\": 0}}],"
        " \"pair\": [], \"special_tokens\": {"
        " \"[CLS]\": {\"id\": \"[CLS]\", \"ids\": [2], \"tokens\": [\"[CLS]\"]},"
        " \"[SEP]\": {\"id\": \"[SEP]\", \"ids\": [3], \"tokens\": [\"[SEP]\"]}"
        "}},"
        " \"decoder\": {\"type\": \"WordPiece\", \"prefix\": \"##\","
        " \"cleanup\": true},"
        " \"model\": {\"type\": \"WordPiece\", \"unk_token\": \"[UNK]\","
        " \"continuing_subword_prefix\": \"##\","
        " \"max_input_chars_per_word\": 8, \"vocab\": {");

    id = 0;

    for (i = 0; fuzz_words[i] != NULL; i++) {
        n += fuzz_key(j + n, cap - n, fuzz_words[i]);
        n += (size_t) snprintf(j + n, cap - n, ": %zu, ", id++);
    }

    /* every printable ASCII character, and the letters and digits as ##
     * pieces too: a word of them is never [UNK] for want of a piece */
    for (i = 33; i < 127; i++) {
        if (i >= 'A' && i <= 'Z') {
            continue;    /* lowercased away */
        }

        piece[0] = (char) i;
        piece[1] = '\0';
        n += fuzz_key(j + n, cap - n, piece);
        n += (size_t) snprintf(j + n, cap - n, ": %zu, ", id++);

        if ((i >= 'a' && i <= 'z') || (i >= '0' && i <= '9')) {
            n += (size_t) snprintf(j + n, cap - n, "\"##%c\": %zu, ",
                                   (char) i, id++);
        }
    }

    /* some two-letter words, for longest-match against the letters */
    for (s = "abcdefghijklmnopqrstuvwxyz"; s[0] && s[1]; s += 2) {
        n += (size_t) snprintf(j + n, cap - n, "\"%c%c\": %zu, "
                               "\"##%c%c\": %zu, ", s[0], s[1], id,
                               s[1], s[0], id + 1);
        id += 2;
    }

    fuzz_check(n + 8 < cap);
    n -= 2;    /* the last ", " */
    n += (size_t) snprintf(j + n, cap - n, "}}}");

    strcpy(fuzz_path, "/tmp/fuzz_tokenizer.XXXXXX");
    fd = mkstemp(fuzz_path);
    fuzz_check(fd != -1);
    fuzz_check(write(fd, j, n) == (ssize_t) n);
    fuzz_check(close(fd) == 0);
    free(j);

    fuzz_tok = infer_tokenizer_load(fuzz_path, err, sizeof(err));
    unlink(fuzz_path);

    if (fuzz_tok == NULL) {
        fprintf(stderr, "fuzz_tokenizer: %s\n", err);
    }

    fuzz_check(fuzz_tok != NULL);
    atexit(fuzz_cleanup);

    infer_tokenizer_info(fuzz_tok, &info);
    fuzz_check(info.vocab_size == id && info.max_id == (int32_t) id - 1);
    fuzz_check(info.unk_id == 1 && info.n_special == 2);
    fuzz_check(info.max_word_chars == 8);

    fuzz_cls = infer_tokenizer_id(fuzz_tok, "[CLS]", 5);
    fuzz_sep = infer_tokenizer_id(fuzz_tok, "[SEP]", 5);
    fuzz_check(fuzz_cls == 2 && fuzz_sep == 3);
    fuzz_nsp = info.n_special;
    fuzz_max_id = info.max_id;
}


/* strict UTF-8: no overlong forms, surrogates, or past U+10FFFF */
static int
fuzz_utf8(const unsigned char *p, size_t len)
{
    size_t    i, k, n;
    uint32_t  cp;

    for (i = 0; i < len; i += n) {
        if (p[i] < 0x80) {
            n = 1;
            continue;
        }

        if (p[i] >= 0xc2 && p[i] <= 0xdf) {
            n = 2;
            cp = p[i] & 0x1f;
        } else if (p[i] >= 0xe0 && p[i] <= 0xef) {
            n = 3;
            cp = p[i] & 0x0f;
        } else if (p[i] >= 0xf0 && p[i] <= 0xf4) {
            n = 4;
            cp = p[i] & 0x07;
        } else {
            return 0;
        }

        if (len - i < n) {
            return 0;
        }

        for (k = 1; k < n; k++) {
            if ((p[i + k] & 0xc0) != 0x80) {
                return 0;
            }
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }

        if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000)
            || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        {
            return 0;
        }
    }

    return 1;
}


/* a message left by a call that returned -1 */
static void
fuzz_message(const char *err, size_t errlen)
{
    size_t  n;

    n = strnlen(err, errlen);
    fuzz_check(n > 0 && n < errlen);
    fuzz_check(fuzz_utf8((const unsigned char *) err, n));
}


/* encode() into a buffer of exactly max_ids, err set to garbage first */
static int
fuzz_encode(const infer_tokenizer_t *tok, const char *text, size_t len,
    size_t max_ids, int truncate, int32_t **ids, size_t *n)
{
    int   rc;
    char  err[INFER_ERRLEN];

    *ids = malloc((max_ids ? max_ids : 1) * sizeof(int32_t));
    fuzz_check(*ids != NULL);
    memset(err, 'x', sizeof(err));
    *n = SIZE_MAX;

    rc = infer_tokenizer_encode(tok, text, len, *ids, max_ids, n, truncate,
                                err, sizeof(err));

    fuzz_check(rc == 0 || rc == -1);

    if (rc == -1) {
        fuzz_message(err, sizeof(err));
        free(*ids);
        *ids = NULL;
        return -1;
    }

    fuzz_check(*n <= max_ids);

    return 0;
}


static void
fuzz_text(const unsigned char *data, size_t size)
{
    int       rc, valid;
    char      err[INFER_ERRLEN];
    size_t    len, m, count, n, n2, i, want;
    int32_t  *full, *ids, *ids2;
    char     *text;

    m = 2 + (data[0] >> 1);    /* 2 .. 129 */
    len = size - 1;

    /* the text in a buffer of exactly its size */
    text = malloc(len ? len : 1);
    fuzz_check(text != NULL);
    memcpy(text, data + 1, len);

    valid = fuzz_utf8((const unsigned char *) text, len);

    memset(err, 'x', sizeof(err));
    count = SIZE_MAX;
    rc = infer_tokenizer_count(fuzz_tok, text, len, &count, err,
                               sizeof(err));
    fuzz_check(rc == 0 || rc == -1);

    /* the special tokens leave no room: -1 whatever the text */
    fuzz_check(fuzz_encode(fuzz_tok, text, len, fuzz_nsp - 1, 1, &ids, &n)
               == -1);

    if (!valid) {
        fuzz_check(rc == -1);
        fuzz_message(err, sizeof(err));
        fuzz_check(fuzz_encode(fuzz_tok, text, len, m, 1, &ids, &n) == -1);
        fuzz_check(fuzz_encode(fuzz_tok, text, len, m, 0, &ids, &n) == -1);
        fuzz_check(fuzz_encode(fuzz_tok, text, len, 1024, 0, &ids, &n)
                   == -1);
        free(text);
        return;
    }

    fuzz_check(rc == 0);
    fuzz_check(count >= fuzz_nsp);

    /* untruncated, with exactly the room count() says */
    fuzz_check(fuzz_encode(fuzz_tok, text, len, count, 0, &full, &n) == 0);
    fuzz_check(n == count);
    fuzz_check(full[0] == fuzz_cls && full[n - 1] == fuzz_sep);

    for (i = 0; i < n; i++) {
        fuzz_check(full[i] >= 0 && full[i] <= fuzz_max_id);
        fuzz_check(infer_tokenizer_token(fuzz_tok, full[i], &want) != NULL);
    }

    /* the same again, and with room to spare */
    fuzz_check(fuzz_encode(fuzz_tok, text, len, count + 3, 0, &ids2, &n2)
               == 0);
    fuzz_check(n2 == count
               && memcmp(ids2, full, count * sizeof(int32_t)) == 0);
    free(ids2);

    fuzz_check(fuzz_encode(fuzz_tok, text, len, count, 1, &ids2, &n2) == 0);
    fuzz_check(n2 == count
               && memcmp(ids2, full, count * sizeof(int32_t)) == 0);
    free(ids2);

    /* one short: refused, or cut to one token fewer */
    if (count > fuzz_nsp) {
        fuzz_check(fuzz_encode(fuzz_tok, text, len, count - 1, 0, &ids2,
                               &n2) == -1);
        fuzz_check(fuzz_encode(fuzz_tok, text, len, count - 1, 1, &ids2,
                               &n2) == 0);
        fuzz_check(n2 == count - 1);
        fuzz_check(memcmp(ids2, full, (n2 - 1) * sizeof(int32_t)) == 0);
        fuzz_check(ids2[n2 - 1] == fuzz_sep);
        free(ids2);
    }

    /* max_ids m, with and without truncation */
    want = count < m ? count : m;

    fuzz_check(fuzz_encode(fuzz_tok, text, len, m, 1, &ids, &n) == 0);
    fuzz_check(n == want);
    fuzz_check(ids[0] == fuzz_cls && ids[n - 1] == fuzz_sep);
    fuzz_check(memcmp(ids, full, (n - 1) * sizeof(int32_t)) == 0);

    rc = fuzz_encode(fuzz_tok, text, len, m, 0, &ids2, &n2);
    fuzz_check(rc == (count <= m ? 0 : -1));

    if (rc == 0) {
        fuzz_check(n2 == n && memcmp(ids2, ids, n * sizeof(int32_t)) == 0);
        free(ids2);
    }

    free(ids);
    free(full);
    free(text);
}


/*
 * A tokenizer the fuzzer made: it encodes what it is given.  The special
 * ids (the post-processor's, which no vocabulary need name) are those of
 * the empty text; every other id is one the tokenizer names.
 */
static void
fuzz_use(const infer_tokenizer_t *tok, const char *text, size_t len)
{
    int                      rc;
    char                     err[INFER_ERRLEN];
    size_t                   count, n, nsp, i, k, l;
    int32_t                 *ids, *sp;
    infer_tokenizer_info_t   info;

    infer_tokenizer_info(tok, &info);
    fuzz_check(info.vocab_size >= 1 && info.unk_id >= 0
               && info.unk_id <= info.max_id);
    fuzz_check(info.max_word_chars >= 1 && info.max_word_chars <= 1024);
    fuzz_check(info.n_special <= 16);
    fuzz_check(infer_tokenizer_token(tok, info.unk_id, &l) != NULL);

    fuzz_check(fuzz_encode(tok, "", 0, info.n_special, 0, &sp, &nsp) == 0);
    fuzz_check(nsp == info.n_special);

    memset(err, 'x', sizeof(err));
    rc = infer_tokenizer_count(tok, text, len, &count, err, sizeof(err));
    fuzz_check(rc == 0 || rc == -1);

    if (rc == -1) {
        fuzz_message(err, sizeof(err));
        fuzz_check(!fuzz_utf8((const unsigned char *) text, len));
        free(sp);
        return;
    }

    fuzz_check(fuzz_utf8((const unsigned char *) text, len));
    fuzz_check(count >= info.n_special);

    if (count > 4096) {
        free(sp);
        return;
    }

    fuzz_check(fuzz_encode(tok, text, len, count, 0, &ids, &n) == 0);
    fuzz_check(n == count);

    for (i = 0; i < n; i++) {
        if (infer_tokenizer_token(tok, ids[i], &l) != NULL) {
            fuzz_check(ids[i] >= 0 && ids[i] <= info.max_id);
            continue;
        }

        for (k = 0; k < nsp && sp[k] != ids[i]; k++) { /* void */ }
        fuzz_check(k < nsp);
    }

    free(ids);

    /* room for one token of the text */
    fuzz_check(fuzz_encode(tok, text, len, info.n_special + 1, 1, &ids, &n)
               == 0);
    fuzz_check(n == (count < info.n_special + 1 ? count
                                                 : info.n_special + 1));
    free(ids);
    free(sp);
}


static void
fuzz_load(const unsigned char *data, size_t size)
{
    char                 err[INFER_ERRLEN];
    size_t               n, i;
    infer_tokenizer_t   *tok;

    static const char *const  texts[] = {
        "Hello, world! Unaffable runners.",
        "Caf\xc3\xa9 na\xc3\xafve \xc3\x9c" "ber \xc4\xb0stanbul",
        "\xe4\xb8\xad\xe5\x9b\xbd\xe8\xaa\x9e \xed\x95\x9c\xea\xb5\xad",
        "[CLS] [MASK] x [SEP]",
        "",
        NULL
    };

    memset(err, 'x', sizeof(err));

    tok = infer_tokenizer_load_buffer((const char *) data + 1, size - 1,
                                      "tokenizer.json", err, sizeof(err));

    if (tok == NULL) {
        n = strnlen(err, sizeof(err));
        fuzz_check(n > 0 && n < sizeof(err));
        fuzz_check(strncmp(err, "tokenizer.json: ", 16) == 0);
        return;
    }

    for (i = 0; texts[i] != NULL; i++) {
        fuzz_use(tok, texts[i], strlen(texts[i]));
    }

    if (size - 1 <= 4096) {
        fuzz_use(tok, (const char *) data + 1, size - 1);
    }

    infer_tokenizer_free(tok);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int  init;

    if (!init) {
        fuzz_init();
        init = 1;
    }

    if (size == 0) {
        return 0;
    }

    if (data[0] & 1) {
        fuzz_load(data, size);

    } else {
        fuzz_text(data, size);
    }

    return 0;
}
