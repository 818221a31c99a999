/*
 * ngx_infer fuzzing: the byte-level BPE tokenizer (infer_bpe.h), four
 * surfaces, chosen by the input's first byte modulo 4:
 *
 *   0: encode the rest as text with one of the tokenizers the harness
 *      builds at start-up (the second byte picks it): a small byte-level
 *      vocabulary (the 256 bytes, a few hundred merges of letters, digits,
 *      spaces and UTF-8 sequences, three special tokens and one added)
 *      under GGUF's "gpt2", "smollm" and "llama-bpe" and under a
 *      tokenizer.json of Split steps with a translated \s.  Checked:
 *      invalid UTF-8 (a strict reference decoder's) is -1 for encode() and
 *      count(), valid UTF-8 is 0; count() is encode()'s length; one id
 *      fewer of room is -1; every id names a token; decode() gives the
 *      text back (every byte has a token), with and without the special
 *      tokens matched; the stream decoder's pieces are UTF-8 and together
 *      the text; the same text twice gives the same ids;
 *   1: the same vocabulary without a regular expression (ByteLevel's
 *      use_regex false): the text between special tokens is one piece, and
 *      its ids are checked against a naive merge loop written here (the
 *      lowest rank first, leftmost of equals, over and over), which tries
 *      the encoder's scan and heap on every length;
 *   2: the rest as tokenizer.json: a tokenizer or NULL with a message
 *      that names the file; one that loads encodes fixed texts and the
 *      input (0, or -1 only for PCRE2's match limit), every id a token's,
 *      decode() and the stream decoder agree;
 *   3: the stream decoder on ids from the rest's bytes (two a token):
 *      every piece UTF-8 of at most infer_bpe_stream_max() bytes, all of
 *      them the whole decode() with U+FFFD for each maximal invalid part
 *      (a decoder written here), nothing but flush() left held.
 *
 * Buffers are malloc()ed of exactly their size, so that AddressSanitizer
 * sees a read or write past them.  A failed check aborts, which libFuzzer
 * reports as a crash.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer_util.h"
#include "infer_bpe.h"


#define fuzz_check(cond)                                                     \
    if (!(cond)) {                                                           \
        fprintf(stderr, "fuzz_bpe: check failed at line %d: %s\n",          \
                __LINE__, #cond);                                            \
        abort();                                                             \
    }


#define FUZZ_TOKS     5
#define FUZZ_MAX_IDS  8192

/* the vocabulary: 256 bytes, then the merges' tokens, then these */
static const char *const  fuzz_added[] = {
    "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<tool>", NULL
};


static char          *fuzz_tokens[1024];
static size_t         fuzz_ntok;
static char          *fuzz_merges[1024];
static size_t         fuzz_nmerge;
static int32_t        fuzz_types[1024];
static infer_bpe_t   *fuzz_tok[FUZZ_TOKS];
static char           fuzz_buf[1 << 20];


/* GPT-2's byte characters */
static size_t
fuzz_byte_char(unsigned b, char *out)
{
    unsigned  i, n, cp;

    cp = b;

    if (!((b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac)
          || b >= 0xae))
    {
        for (i = 0, n = 0; i < b; i++) {
            n += !((i >= 0x21 && i <= 0x7e) || (i >= 0xa1 && i <= 0xac)
                   || i >= 0xae);
        }
        cp = 256 + n;
    }

    if (cp < 0x80) {
        out[0] = (char) cp;
        return 1;
    }

    out[0] = (char) (0xc0 | (cp >> 6));
    out[1] = (char) (0x80 | (cp & 0x3f));

    return 2;
}


static int32_t
fuzz_find(const char *s)
{
    size_t  i;

    for (i = 0; i < fuzz_ntok; i++) {
        if (strcmp(fuzz_tokens[i], s) == 0) {
            return (int32_t) i;
        }
    }

    return -1;
}


/* the merge of a and b, once, and its token */
static void
fuzz_merge(const char *a, const char *b)
{
    char    m[256];
    size_t  n;

    if (fuzz_find(a) < 0 || fuzz_find(b) < 0) {
        return;
    }

    n = (size_t) snprintf(m, sizeof(m), "%s %s", a, b);

    for (size_t i = 0; i < fuzz_nmerge; i++) {
        if (strcmp(fuzz_merges[i], m) == 0) {
            return;
        }
    }

    fuzz_merges[fuzz_nmerge++] = strdup(m);
    m[strlen(a)] = '\0';
    memmove(m + strlen(a), m + strlen(a) + 1, n - strlen(a));

    if (fuzz_find(m) < 0) {
        fuzz_types[fuzz_ntok] = INFER_BPE_NORMAL;
        fuzz_tokens[fuzz_ntok++] = strdup(m);
    }
}


static void
fuzz_vocab(void)
{
    char         c[4], d[4];
    size_t       i, k, n;
    const char  *words[] = { "the", "and", "ing", "tion", "he", "in", "er",
                             "aaaa", "abab", "12", "123", NULL };

    for (i = 0; i < 256; i++) {
        n = fuzz_byte_char((unsigned) i, c);
        c[n] = '\0';
        fuzz_types[fuzz_ntok] = INFER_BPE_NORMAL;
        fuzz_tokens[fuzz_ntok++] = strdup(c);
    }

    /* letter pairs, space + letter, doubled spaces, UTF-8 sequences */
    for (i = 'a'; i <= 'z'; i += 3) {
        for (k = 'a'; k <= 'z'; k += 5) {
            c[0] = (char) i; c[1] = '\0';
            d[0] = (char) k; d[1] = '\0';
            fuzz_merge(c, d);
        }
        fuzz_merge("\xc4\xa0", c);
    }

    fuzz_merge("\xc4\xa0", "\xc4\xa0");
    fuzz_merge("\xc4\xa0\xc4\xa0", "\xc4\xa0\xc4\xa0");
    fuzz_merge("\xc4\x8a", "\xc4\x8a");
    fuzz_merge("1", "2");
    fuzz_merge("12", "3");
    fuzz_merge("\xc3\x83", "\xc2\xa9");      /* é */
    fuzz_merge("\xc3\xa4", "\xc2\xb8");      /* 中's first two bytes */
    fuzz_merge("\xc3\xa4\xc2\xb8", "\xc2\xad");

    for (i = 0; words[i] != NULL; i++) {
        c[0] = words[i][0]; c[1] = '\0';
        for (k = 1; words[i][k] != '\0'; k++) {
            d[0] = words[i][k]; d[1] = '\0';
            fuzz_merge(c, d);
            if (k < 3) {
                c[k] = words[i][k]; c[k + 1] = '\0';
            }
        }
    }

    fuzz_merge("a", "a");
    fuzz_merge("aa", "aa");
    fuzz_merge("a", "b");
    fuzz_merge("ab", "ab");

    for (i = 0; fuzz_added[i] != NULL; i++) {
        fuzz_types[fuzz_ntok] = i < 3 ? INFER_BPE_CONTROL
                                      : INFER_BPE_USER_DEFINED;
        fuzz_tokens[fuzz_ntok++] = strdup(fuzz_added[i]);
    }
}


static infer_bpe_t *
fuzz_gguf(const char *pre)
{
    char              err[INFER_ERRLEN];
    size_t            i;
    infer_bpe_t      *bpe;
    infer_bpe_str_t   t[1024], m[1024];
    infer_bpe_gguf_t  g;

    memset(&g, 0, sizeof(g));

    for (i = 0; i < fuzz_ntok; i++) {
        t[i].data = fuzz_tokens[i];
        t[i].len = strlen(fuzz_tokens[i]);
    }

    for (i = 0; i < fuzz_nmerge; i++) {
        m[i].data = fuzz_merges[i];
        m[i].len = strlen(fuzz_merges[i]);
    }

    g.model.data = "gpt2";
    g.model.len = 4;
    g.pre.data = pre;
    g.pre.len = strlen(pre);
    g.tokens = t;
    g.n_tokens = fuzz_ntok;
    g.merges = m;
    g.n_merges = fuzz_nmerge;
    g.token_types = fuzz_types;
    g.bos_id = g.eos_id = g.eot_id = g.unk_id = g.pad_id = -1;
    g.add_bos = 0;
    g.add_eos = -1;

    bpe = infer_bpe_load_gguf(&g, "f.gguf", err, sizeof(err));
    if (bpe == NULL) {
        fprintf(stderr, "fuzz_bpe: %s\n", err);
    }

    fuzz_check(bpe != NULL);

    return bpe;
}


/* the vocabulary as tokenizer.json under a pre-tokenizer */
static infer_bpe_t *
fuzz_json(const char *pre)
{
    char          err[INFER_ERRLEN];
    size_t        i, n;
    infer_bpe_t  *bpe;

    n = (size_t) snprintf(fuzz_buf, sizeof(fuzz_buf), "{\"version\": "
                          "\"1.0\", \"added_tokens\": [");

    for (i = 256 + 0; i < fuzz_ntok; i++) {
        if (fuzz_types[i] == INFER_BPE_NORMAL) {
            continue;
        }

        n += (size_t) snprintf(fuzz_buf + n, sizeof(fuzz_buf) - n,
                               "%s{\"id\": %zu, \"content\": \"%s\", "
                               "\"special\": %s, \"normalized\": false}",
                               fuzz_buf[n - 1] == '[' ? "" : ", ", i,
                               fuzz_tokens[i],
                               fuzz_types[i] == INFER_BPE_CONTROL
                               ? "true" : "false");
    }

    n += (size_t) snprintf(fuzz_buf + n, sizeof(fuzz_buf) - n, "], "
                           "\"pre_tokenizer\": %s, \"decoder\": {\"type\": "
                           "\"ByteLevel\"}, \"model\": {\"type\": \"BPE\", "
                           "\"vocab\": {", pre);

    for (i = 0; i < fuzz_ntok; i++) {
        n += (size_t) snprintf(fuzz_buf + n, sizeof(fuzz_buf) - n,
                               "%s\"%s%s\": %zu", i ? ", " : "",
                               fuzz_tokens[i][0] == '"'
                               || fuzz_tokens[i][0] == '\\' ? "\\" : "",
                               fuzz_tokens[i], i);
    }

    n += (size_t) snprintf(fuzz_buf + n, sizeof(fuzz_buf) - n,
                           "}, \"merges\": [");

    for (i = 0; i < fuzz_nmerge; i++) {
        n += (size_t) snprintf(fuzz_buf + n, sizeof(fuzz_buf) - n,
                               "%s\"%s\"", i ? ", " : "", fuzz_merges[i]);
    }

    n += (size_t) snprintf(fuzz_buf + n, sizeof(fuzz_buf) - n, "]}}");
    fuzz_check(n < sizeof(fuzz_buf));

    bpe = infer_bpe_load_buffer(fuzz_buf, n, "f.json", err, sizeof(err));
    if (bpe == NULL) {
        fprintf(stderr, "fuzz_bpe: %s\n", err);
    }

    fuzz_check(bpe != NULL);

    return bpe;
}


static void
fuzz_cleanup(void)
{
    size_t  i;

    for (i = 0; i < FUZZ_TOKS; i++) {
        infer_bpe_free(fuzz_tok[i]);
    }

    for (i = 0; i < fuzz_ntok; i++) {
        free(fuzz_tokens[i]);
    }

    for (i = 0; i < fuzz_nmerge; i++) {
        free(fuzz_merges[i]);
    }
}


static void
fuzz_init(void)
{
    fuzz_vocab();

    fuzz_tok[0] = fuzz_gguf("gpt2");
    fuzz_tok[1] = fuzz_gguf("smollm");
    fuzz_tok[2] = fuzz_gguf("llama-bpe");
    fuzz_tok[3] = fuzz_json("{\"type\": \"Sequence\", \"pretokenizers\": ["
                            "{\"type\": \"Split\", \"pattern\": {\"Regex\": "
                            "\"\\\\s+|[^\\\\s]{1,4}\"}, \"behavior\": "
                            "\"Isolated\", \"invert\": false}, "
                            "{\"type\": \"Split\", \"pattern\": {\"String\": "
                            "\"a.\"}, \"behavior\": \"Isolated\", \"invert\": "
                            "false}, {\"type\": \"ByteLevel\", "
                            "\"add_prefix_space\": false, \"use_regex\": "
                            "true}]}");
    fuzz_tok[4] = fuzz_json("{\"type\": \"ByteLevel\", \"add_prefix_space\": "
                            "false, \"use_regex\": false}");

    atexit(fuzz_cleanup);
}


/* strict UTF-8; or, with out, the bytes decoded with U+FFFD for each
 * maximal invalid part; the length of what it wrote */
static size_t
fuzz_utf8(const unsigned char *p, size_t len, char *out, int *valid)
{
    size_t    i, o, need, k;
    unsigned  lo, hi, c;

    *valid = 1;

    for (i = 0, o = 0; i < len; /* void */) {
        c = p[i];
        lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
        hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
        need = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2
               : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;

        for (k = 1; need > 1 && k < need && i + k < len; k++) {
            if (p[i + k] < (k == 1 ? lo : 0x80)
                || p[i + k] > (k == 1 ? hi : 0xbf))
            {
                break;
            }
        }

        if (need == 1 || (need > 1 && k == need)) {
            if (out != NULL) {
                memcpy(out + o, p + i, need);
            }
            o += need;
            i += need;
            continue;
        }

        *valid = 0;
        if (out != NULL) {
            memcpy(out + o, "\xef\xbf\xbd", 3);
        }
        o += 3;
        i += need == 0 ? 1 : k;
    }

    return o;
}


static int
fuzz_is_utf8(const char *s, size_t len)
{
    int  valid;

    fuzz_utf8((const unsigned char *) s, len, NULL, &valid);

    return valid;
}


/* ids through the stream decoder: each piece UTF-8, all of them the lossy
 * decoding of the whole; their bytes in *out (malloc()ed) */
static size_t
fuzz_stream(const infer_bpe_t *bpe, const int32_t *ids, size_t n,
    unsigned flags, char **out)
{
    int                  valid;
    char                *piece, *all, *whole, *lossy, err[INFER_ERRLEN];
    size_t               i, max, plen, off, len, nl;
    infer_bpe_stream_t   s;

    /* a push writes at most 3 bytes for each byte held and given */
    for (i = 0, len = 0; i < n; i++) {
        len += infer_bpe_piece(bpe, ids[i], &plen) ? plen : 0;
    }

    max = infer_bpe_stream_max(bpe);
    piece = malloc(max);
    all = malloc(3 * len + 9 * n + 4);
    whole = malloc(len + 1);
    fuzz_check(piece != NULL && all != NULL && whole != NULL);

    infer_bpe_stream_init(&s, flags);
    off = 0;

    for (i = 0; i <= n; i++) {
        if (i < n) {
            if (infer_bpe_stream_push(bpe, &s, ids[i], piece, &plen) != 0) {
                fuzz_check(infer_bpe_type(bpe, ids[i]) == 0);
                continue;
            }
        } else {
            infer_bpe_stream_flush(&s, piece, &plen);
            fuzz_check(plen == 0 || plen == 3);
        }

        fuzz_check(plen <= max);
        fuzz_check(fuzz_is_utf8(piece, plen));
        memcpy(all + off, piece, plen);
        off += plen;
    }

    /* the same ids, those that name a token, decoded whole */
    for (i = 0, nl = len, len = 0; i < n; i++) {
        if (infer_bpe_type(bpe, ids[i]) != 0) {
            fuzz_check(infer_bpe_decode(bpe, ids + i, 1, flags, whole + len,
                                        nl - len, &plen, err, sizeof(err))
                       == 0);
            len += plen;
        }
    }

    lossy = malloc(3 * len + 1);
    fuzz_check(lossy != NULL);
    nl = fuzz_utf8((const unsigned char *) whole, len, lossy, &valid);
    fuzz_check(nl == off && memcmp(lossy, all, off) == 0);

    free(lossy);
    free(whole);
    free(piece);
    *out = all;

    return off;
}


/* the naive merge loop: min rank, leftmost, until none, on s's bytes */
static size_t
fuzz_naive(const unsigned char *s, size_t len, int32_t *ids)
{
    char     c[4], pair[512];
    size_t   n, i, k, best, lo, r, la;
    int32_t  id;

    for (i = 0, n = 0; i < len; i++) {
        k = fuzz_byte_char(s[i], c);
        c[k] = '\0';
        ids[n++] = fuzz_find(c);
    }

    for ( ;; ) {
        lo = SIZE_MAX;
        best = 0;

        for (i = 0; i + 1 < n; i++) {
            snprintf(pair, sizeof(pair), "%s %s", fuzz_tokens[ids[i]],
                     fuzz_tokens[ids[i + 1]]);

            for (r = 0; r < fuzz_nmerge && r < lo; r++) {
                if (strcmp(fuzz_merges[r], pair) == 0) {
                    lo = r;
                    best = i;
                    break;
                }
            }
        }

        if (lo == SIZE_MAX) {
            return n;
        }

        la = strlen(fuzz_tokens[ids[best]]);
        snprintf(pair, sizeof(pair), "%s", fuzz_merges[lo]);
        memmove(pair + la, pair + la + 1, strlen(pair) - la);
        id = fuzz_find(pair);
        fuzz_check(id >= 0);
        ids[best] = id;
        memmove(ids + best + 1, ids + best + 2,
                (n - best - 2) * sizeof(int32_t));
        n--;
    }
}


/* encode() into exactly max ids */
static int
fuzz_encode(const infer_bpe_t *bpe, const char *text, size_t len,
    unsigned flags, size_t max, int32_t **ids, size_t *n)
{
    int   rc;
    char  err[INFER_ERRLEN];

    *ids = malloc((max ? max : 1) * sizeof(int32_t));
    fuzz_check(*ids != NULL);
    memset(err, 'x', sizeof(err));

    rc = infer_bpe_encode(bpe, NULL, text, len, flags, *ids, max, n, err,
                          sizeof(err));
    fuzz_check(rc == 0 || rc == -1);

    if (rc != 0) {
        fuzz_check(strnlen(err, sizeof(err)) > 0
                   && strnlen(err, sizeof(err)) < sizeof(err));
        free(*ids);
        *ids = NULL;
    }

    return rc;
}


static void
fuzz_text(const infer_bpe_t *bpe, const char *text, size_t len, int naive)
{
    int       valid;
    char      err[INFER_ERRLEN], *back;
    size_t    n, n2, count, i, blen, start, k, plen;
    int32_t  *ids, *ids2, ref[160];
    unsigned  flags;

    fuzz_utf8((const unsigned char *) text, len, NULL, &valid);

    for (flags = 0; flags <= INFER_BPE_SPECIAL; flags += INFER_BPE_SPECIAL) {
        if (infer_bpe_count(bpe, NULL, text, len, flags, &count, err,
                            sizeof(err)) != 0)
        {
            fuzz_check(!valid);
            fuzz_check(fuzz_encode(bpe, text, len, flags, FUZZ_MAX_IDS, &ids,
                                   &n) == -1);
            return;
        }

        fuzz_check(valid && count <= len);
        fuzz_check(fuzz_encode(bpe, text, len, flags, count, &ids, &n) == 0);
        fuzz_check(n == count);

        for (i = 0; i < n; i++) {
            fuzz_check(infer_bpe_type(bpe, ids[i]) != 0);
            fuzz_check(flags || infer_bpe_type(bpe, ids[i])
                                != INFER_BPE_CONTROL);
        }

        if (count > 0) {
            fuzz_check(fuzz_encode(bpe, text, len, flags, count - 1, &ids2,
                                   &n2) == -1);
        }

        fuzz_check(fuzz_encode(bpe, text, len, flags, count + 2, &ids2, &n2)
                   == 0);
        fuzz_check(n2 == n && memcmp(ids, ids2, n * sizeof(int32_t)) == 0);
        free(ids2);

        /* the text back, whole and streamed */
        back = malloc(len + 1);
        fuzz_check(back != NULL);
        fuzz_check(infer_bpe_decode(bpe, ids, n, INFER_BPE_SPECIAL, back, len,
                                    &blen, err, sizeof(err)) == 0);
        fuzz_check(blen == len && memcmp(back, text, len) == 0);
        free(back);

        blen = fuzz_stream(bpe, ids, n, INFER_BPE_SPECIAL, &back);
        fuzz_check(blen == len && memcmp(back, text, len) == 0);
        free(back);

        /* one piece between the added tokens: the naive loop's ids */
        for (i = 0, start = 0, k = 0; naive && i <= n; i++) {
            if (i < n && infer_bpe_type(bpe, ids[i]) == INFER_BPE_NORMAL) {
                continue;
            }

            /* ids[start .. i) are the text from k on */
            for (n2 = start, blen = 0; n2 < i; n2++) {
                infer_bpe_piece(bpe, ids[n2], &plen);
                blen += plen;
            }

            if (blen > 0 && blen <= 160) {
                fuzz_check(fuzz_naive((const unsigned char *) text + k, blen,
                                      ref) == i - start);
                fuzz_check(memcmp(ref, ids + start,
                                  (i - start) * sizeof(int32_t)) == 0);
            }

            k += blen;

            if (i < n) {
                infer_bpe_piece(bpe, ids[i], &plen);
                k += plen;
            }

            start = i + 1;
        }

        free(ids);
    }
}


static void
fuzz_load(const uint8_t *data, size_t size)
{
    int           rc;
    char          err[INFER_ERRLEN], *copy, *back;
    size_t        i, n, len, k;
    int32_t       ids[FUZZ_MAX_IDS];
    const char   *t;
    infer_bpe_t  *bpe;

    static const char *const  texts[] = {
        "Hello, world! It's 2024: 1234567 tokens.",
        "  \t\n  caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80",
        "<|im_start|>user\nhi<|im_end|>", ""
    };

    copy = malloc(size ? size : 1);
    fuzz_check(copy != NULL);
    memcpy(copy, data, size);
    memset(err, 'x', sizeof(err));

    bpe = infer_bpe_load_buffer(copy, size, "tokenizer.json", err,
                                sizeof(err));

    if (bpe == NULL) {
        n = strnlen(err, sizeof(err));
        fuzz_check(n > 0 && n < sizeof(err));
        fuzz_check(strncmp(err, "tokenizer.json: ", 16) == 0);
        free(copy);
        return;
    }

    /* the fixed texts, then the input itself */
    for (i = 0; i <= 4; i++) {
        t = i < 4 ? texts[i] : copy;
        len = i < 4 ? strlen(t) : size;

        if (!fuzz_is_utf8(t, len) || len > 4096) {
            continue;
        }

        rc = infer_bpe_encode(bpe, NULL, t, len, INFER_BPE_SPECIAL, ids,
                              FUZZ_MAX_IDS, &n, err, sizeof(err));

        /* only PCRE2 may give up, on an expression that backtracks */
        if (rc != 0) {
            fuzz_check(strstr(err, "expression") != NULL);
            continue;
        }

        for (k = 0; k < n; k++) {
            fuzz_check(infer_bpe_type(bpe, ids[k]) != 0);
        }

        fuzz_stream(bpe, ids, n, INFER_BPE_SPECIAL, &back);
        free(back);
    }

    free(copy);
    infer_bpe_free(bpe);
}


static void
fuzz_ids(const infer_bpe_t *bpe, const uint8_t *data, size_t size)
{
    char             *out;
    size_t            i, n;
    int32_t          *ids;
    infer_bpe_info_t  info;

    infer_bpe_info(bpe, &info);
    n = size / 2;
    ids = malloc((n ? n : 1) * sizeof(int32_t));
    fuzz_check(ids != NULL);

    for (i = 0; i < n; i++) {
        /* bytes mostly, the rest of the ids, and one past them */
        ids[i] = (data[2 * i] & 0x80) ? data[2 * i + 1]
                 : (int32_t) ((data[2 * i] << 8 | data[2 * i + 1])
                              % (info.n_ids + 1));
    }

    fuzz_stream(bpe, ids, n, (size & 1) ? INFER_BPE_SPECIAL : 0, &out);
    free(out);
    free(ids);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int  init;
    char       *text;

    if (!init) {
        fuzz_init();
        init = 1;
    }

    if (size < 2) {
        return 0;
    }

    switch (data[0] % 4) {

    case 0:
    case 1:
        text = malloc(size - 2 ? size - 2 : 1);
        fuzz_check(text != NULL);
        memcpy(text, data + 2, size - 2);
        fuzz_text(fuzz_tok[data[0] % 4 == 1 ? 4 : data[1] % 4], text,
                  size - 2, data[0] % 4 == 1);
        free(text);
        break;

    case 2:
        fuzz_load(data + 1, size - 1);
        break;

    default:
        fuzz_ids(fuzz_tok[data[1] % FUZZ_TOKS], data + 2, size - 2);
        break;
    }

    return 0;
}
