/*
 * ngx_infer: the BERT family's encoder (infer_tokenizer.h): the
 * BertNormalizer, the BertPreTokenizer and WordPiece, in one pass over the
 * text, as `tokenizers` (the Rust code of Hugging Face) runs them one
 * after the other:
 *
 *   1. added tokens ([CLS], [MASK], ...) are cut out of the raw text
 *      (tried at each byte that starts one, longest first: BERT has 5);
 *   2. clean_text drops U+0000, U+FFFD and the "other" characters (Cc, Cf,
 *      Co; not \t \n \r) and makes every whitespace a space;
 *   3. handle_chinese_chars puts spaces around the CJK ideographs (HF's
 *      ranges, whose Extension E starts at U+2B920, not BERT's U+2B820);
 *   4. strip_accents (null: as lowercase) is NFD, then no Mn;
 *   5. lowercase is Rust's char::to_lowercase (utf8proc's simple mapping,
 *      plus U+0130 -> "i\u0307", its one mapping to two characters);
 *   6. the pre-tokenizer ends a word at whitespace (Unicode White_Space)
 *      and makes every punctuation character (ASCII's, or P*) a word;
 *   7. WordPiece: the longest vocabulary entry from the start of the word,
 *      then "##" + the longest from where it ended, ...; a word with a
 *      piece that is in no entry, or longer than max_input_chars_per_word
 *      characters, is one [UNK].
 *
 * Steps 2-6 are a function of each character (NFD's canonical reordering
 * aside, done on the few marks that strip_accents keeps), so the text is
 * read once, each word built in a buffer on the stack and handed to
 * WordPiece when it ends.  ASCII bytes go through the tables that
 * infer_wp_prepare() fills from the options; utf8proc is only asked about
 * the others.
 *
 * Unicode: utf8proc's tables (Unicode 15 for libutf8proc 2.8) where
 * `tokenizers` has those of its crates (unicode_categories 0.1.1: Unicode
 * 8.0 for Cf, Mn and P*): a character that Unicode made Mn, Cf or P* after
 * 8.0 is one of these here, unassigned (Cn, kept) there.
 */

#include <stdio.h>
#include <string.h>

#include <utf8proc.h>

#include "infer_util.h"
#include "infer_tokenizer_impl.h"


/* marks that NFD orders and strip_accents keeps (Mc of class 9, 216...):
 * a longer run of them is ordered in pieces of this many */
#define INFER_WP_PENDING    32
/* the prefixes of a word whose hash state is kept */
#define INFER_WP_STATES     256


typedef struct {
    const infer_tokenizer_t  *tok;
    int32_t                  *out;     /* the text's ids, or NULL */
    size_t                    cap;     /* room in out */
    size_t                    n;       /* ids so far, also past cap */
    size_t                    stop;    /* enough ids: truncated at cap */
    size_t                    wlen;    /* bytes in word */
    size_t                    wchars;  /* its characters, also past what
                                          word holds */
    size_t                    npend;
    int32_t                   pend[INFER_WP_PENDING];
    unsigned char             word[INFER_WP_WORD_BYTES];
} infer_wp_run_t;


static int infer_wp_run(infer_wp_run_t *r, const unsigned char *p,
    const unsigned char *end, char *err, size_t errlen);
static void infer_wp_char(infer_wp_run_t *r, int32_t cp);
static void infer_wp_nfd(infer_wp_run_t *r, int32_t cp,
    const utf8proc_property_t *prop);
static void infer_wp_put(infer_wp_run_t *r, int32_t cp);
static void infer_wp_pretok(infer_wp_run_t *r, int32_t cp);
static void infer_wp_pending(infer_wp_run_t *r);
static void infer_wp_word(infer_wp_run_t *r);
static void infer_wp_pieces(infer_wp_run_t *r);
static size_t infer_wp_added(const infer_tokenizer_t *tok,
    const unsigned char *p, const unsigned char *end, int32_t *id);
static int infer_wp_validate(const unsigned char *p,
    const unsigned char *end, const unsigned char *start, char *err,
    size_t errlen);


int
infer_tokenizer_encode(const infer_tokenizer_t *tok, const char *text,
    size_t len, int32_t *ids, size_t max_ids, size_t *n_ids, int truncate,
    char *err, size_t errlen)
{
    size_t          nsp, n;
    infer_wp_run_t  r;

    nsp = tok->nhead + tok->ntail;

    if (max_ids < nsp) {
        return infer_error(err, errlen, "a maximum of %zu tokens leaves no "
                           "room for the %zu special tokens", max_ids, nsp);
    }

    r.tok = tok;
    r.out = ids + tok->nhead;
    r.cap = max_ids - nsp;
    r.n = 0;
    r.stop = truncate ? r.cap : SIZE_MAX;

    if (infer_wp_run(&r, (const unsigned char *) text,
                     (const unsigned char *) text + len, err, errlen)
        != 0)
    {
        return -1;
    }

    if (r.n > r.cap && !truncate) {
        return infer_error(err, errlen, "the text is %zu tokens, more than "
                           "the %zu allowed", r.n + nsp, max_ids);
    }

    n = r.n < r.cap ? r.n : r.cap;

    memcpy(ids, tok->head, tok->nhead * sizeof(int32_t));
    memcpy(ids + tok->nhead + n, tok->tail, tok->ntail * sizeof(int32_t));

    *n_ids = n + nsp;

    return 0;
}


int
infer_tokenizer_count(const infer_tokenizer_t *tok, const char *text,
    size_t len, size_t *n_ids, char *err, size_t errlen)
{
    infer_wp_run_t  r;

    r.tok = tok;
    r.out = NULL;
    r.cap = 0;
    r.n = 0;
    r.stop = SIZE_MAX;

    if (infer_wp_run(&r, (const unsigned char *) text,
                     (const unsigned char *) text + len, err, errlen)
        != 0)
    {
        return -1;
    }

    *n_ids = r.n + tok->nhead + tok->ntail;

    return 0;
}


/* the tables of the ASCII bytes, from the options and the vocabulary */
void
infer_wp_prepare(infer_tokenizer_t *tok)
{
    int                     c;
    char                    s;
    const infer_wp_slot_t  *sl;

    for (c = 0; c < 128; c++) {
        tok->amap[c] = (uint8_t) c;

        if (tok->lowercase && c >= 'A' && c <= 'Z') {
            tok->amap[c] = (uint8_t) (c + 'a' - 'A');
        }

        if (c == ' ' || (c >= '\t' && c <= '\r')) {
            /* clean_text makes \t \n \r spaces and drops \v \f (Cc): the
             * pre-tokenizer would end a word at all five */
            tok->aclass[c] = (tok->clean_text && (c == '\v' || c == '\f'))
                             ? INFER_TOK_DROP : INFER_TOK_SPACE;

        } else if (c < 0x20 || c == 0x7f) {
            tok->aclass[c] = tok->clean_text ? INFER_TOK_DROP : INFER_TOK_WORD;

        } else if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64)
                   || (c >= 91 && c <= 96) || (c >= 123 && c <= 126))
        {
            tok->aclass[c] = INFER_TOK_PUNCT;

        } else {
            tok->aclass[c] = INFER_TOK_WORD;
        }

        s = (char) c;
        sl = infer_wp_find(tok, infer_wp_hash_step(INFER_WP_HASH_INIT,
                                                   (unsigned char) c),
                           NULL, 0, &s, 1);

        tok->apunct[c] = sl != NULL ? sl->id : tok->unk_id;
    }
}


static inline void
infer_wp_emit(infer_wp_run_t *r, int32_t id)
{
    if (r->n < r->cap) {
        r->out[r->n] = id;
    }

    r->n++;
}


/* one character, as UTF-8, to the word being built */
static inline void
infer_wp_append(infer_wp_run_t *r, int32_t cp)
{
    unsigned char  *w;

    if (r->wchars++ >= r->tok->max_chars) {
        return;    /* [UNK] already: only its length counts */
    }

    w = r->word + r->wlen;

    if (cp < 0x80) {
        w[0] = (unsigned char) cp;
        r->wlen += 1;

    } else if (cp < 0x800) {
        w[0] = (unsigned char) (0xc0 | (cp >> 6));
        w[1] = (unsigned char) (0x80 | (cp & 0x3f));
        r->wlen += 2;

    } else if (cp < 0x10000) {
        w[0] = (unsigned char) (0xe0 | (cp >> 12));
        w[1] = (unsigned char) (0x80 | ((cp >> 6) & 0x3f));
        w[2] = (unsigned char) (0x80 | (cp & 0x3f));
        r->wlen += 3;

    } else {
        w[0] = (unsigned char) (0xf0 | (cp >> 18));
        w[1] = (unsigned char) (0x80 | ((cp >> 12) & 0x3f));
        w[2] = (unsigned char) (0x80 | ((cp >> 6) & 0x3f));
        w[3] = (unsigned char) (0x80 | (cp & 0x3f));
        r->wlen += 4;
    }
}


/* UTF-8, strictly: no overlong forms, surrogates, or past U+10FFFF; the
 * length of the character at p, 0 when it is not one */
static inline size_t
infer_wp_utf8(const unsigned char *p, const unsigned char *end, int32_t *cp)
{
    unsigned char  c;

    c = p[0];

    if (c < 0x80) {
        *cp = c;
        return 1;
    }

    if (c < 0xc2) {
        return 0;
    }

    if (c < 0xe0) {
        if (end - p < 2 || (p[1] & 0xc0) != 0x80) {
            return 0;
        }

        *cp = ((c & 0x1f) << 6) | (p[1] & 0x3f);
        return 2;
    }

    if (c < 0xf0) {
        if (end - p < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80
            || (c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f))
        {
            return 0;
        }

        *cp = ((c & 0x0f) << 12) | ((p[1] & 0x3f) << 6) | (p[2] & 0x3f);
        return 3;
    }

    if (c < 0xf5) {
        if (end - p < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80
            || (p[3] & 0xc0) != 0x80 || (c == 0xf0 && p[1] < 0x90)
            || (c == 0xf4 && p[1] > 0x8f))
        {
            return 0;
        }

        *cp = ((c & 0x07) << 18) | ((p[1] & 0x3f) << 12)
              | ((p[2] & 0x3f) << 6) | (p[3] & 0x3f);
        return 4;
    }

    return 0;
}


static int
infer_wp_run(infer_wp_run_t *r, const unsigned char *p,
    const unsigned char *end, char *err, size_t errlen)
{
    int32_t                   cp, id;
    size_t                    n, max;
    unsigned char             c;
    const unsigned char      *start;
    const infer_tokenizer_t  *tok;

    tok = r->tok;
    start = p;
    max = tok->max_chars;

    r->wlen = 0;
    r->wchars = 0;
    r->npend = 0;

    while (p < end) {

        if (r->n >= r->stop) {
            /* truncated: the rest is only checked */
            return infer_wp_validate(p, end, start, err, errlen);
        }

        c = *p;

        if (tok->added_first[c]) {
            n = infer_wp_added(tok, p, end, &id);

            if (n) {
                infer_wp_pending(r);
                infer_wp_word(r);
                infer_wp_emit(r, id);
                p += n;
                continue;
            }
        }

        if (c < 0x80) {

            switch (tok->aclass[c]) {

            case INFER_TOK_WORD:
                if (r->npend) {
                    infer_wp_pending(r);
                }

                /* the hot loop: a run of word bytes */
                for ( ;; ) {
                    if (r->wchars++ < max) {
                        r->word[r->wlen++] = tok->amap[c];
                    }

                    if (++p == end) {
                        break;
                    }

                    c = *p;

                    if (c >= 0x80 || tok->aclass[c] != INFER_TOK_WORD
                        || tok->added_first[c])
                    {
                        break;
                    }
                }

                continue;

            case INFER_TOK_SPACE:
                infer_wp_pending(r);
                infer_wp_word(r);
                break;

            case INFER_TOK_PUNCT:
                infer_wp_pending(r);
                infer_wp_word(r);
                infer_wp_emit(r, tok->apunct[c]);
                break;

            default: /* INFER_TOK_DROP */
                break;
            }

            p++;
            continue;
        }

        n = infer_wp_utf8(p, end, &cp);
        if (n == 0) {
            /* its message */
            return infer_wp_validate(p, end, start, err, errlen);
        }

        p += n;

        infer_wp_char(r, cp);
    }

    infer_wp_pending(r);
    infer_wp_word(r);

    return 0;
}


static inline int
infer_wp_is_chinese(int32_t cp)
{
    return (cp >= 0x4e00 && cp <= 0x9fff)
           || (cp >= 0x3400 && cp <= 0x4dbf)
           || (cp >= 0x20000 && cp <= 0x2a6df)
           || (cp >= 0x2a700 && cp <= 0x2b73f)
           || (cp >= 0x2b740 && cp <= 0x2b81f)
           || (cp >= 0x2b920 && cp <= 0x2ceaf)
           || (cp >= 0xf900 && cp <= 0xfaff)
           || (cp >= 0x2f800 && cp <= 0x2fa1f);
}


/* Unicode's White_Space, which is Rust's char::is_whitespace() */
static inline int
infer_wp_is_space(int32_t cp, utf8proc_category_t cat)
{
    return cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL
           || cat == UTF8PROC_CATEGORY_ZP || cp == 0x85
           || cp == ' ' || (cp >= '\t' && cp <= '\r');
}


/* a character past ASCII, steps 2 to 6 */
static void
infer_wp_char(infer_wp_run_t *r, int32_t cp)
{
    utf8proc_category_t         cat;
    const infer_tokenizer_t    *tok;
    const utf8proc_property_t  *prop;

    tok = r->tok;
    prop = utf8proc_get_property(cp);
    cat = (utf8proc_category_t) prop->category;

    if (tok->clean_text) {
        if (cp == 0xfffd || cat == UTF8PROC_CATEGORY_CC
            || cat == UTF8PROC_CATEGORY_CF || cat == UTF8PROC_CATEGORY_CO)
        {
            return;
        }

        if (infer_wp_is_space(cp, cat)) {
            infer_wp_pending(r);
            infer_wp_word(r);
            return;
        }
    }

    if (tok->chinese && infer_wp_is_chinese(cp)) {
        infer_wp_pending(r);
        infer_wp_word(r);
        infer_wp_nfd(r, cp, prop);
        infer_wp_pending(r);
        infer_wp_word(r);
        return;
    }

    infer_wp_nfd(r, cp, prop);
}


/* step 4: NFD, less its Mn; the other marks wait for their order */
static void
infer_wp_nfd(infer_wp_run_t *r, int32_t cp, const utf8proc_property_t *prop)
{
    int                         last;
    utf8proc_ssize_t            i, n;
    utf8proc_int32_t            d[16];
    const utf8proc_property_t  *dp;

    if (!r->tok->strip_accents) {
        infer_wp_put(r, cp);
        return;
    }

    if (prop->decomp_seqindex == UINT16_MAX
        && !(cp >= 0xac00 && cp <= 0xd7a3))    /* Hangul syllables */
    {
        d[0] = cp;
        n = 1;

    } else {
        last = 0;
        n = utf8proc_decompose_char(cp, d, 16, UTF8PROC_DECOMPOSE, &last);
        if (n < 1 || n > 16) {
            d[0] = cp;
            n = 1;
        }
    }

    for (i = 0; i < n; i++) {
        dp = n == 1 ? prop : utf8proc_get_property(d[i]);

        if (dp->category == UTF8PROC_CATEGORY_MN) {
            continue;
        }

        if (dp->combining_class != 0) {
            if (r->npend == INFER_WP_PENDING) {
                infer_wp_pending(r);
            }

            r->pend[r->npend++] = d[i];
            continue;
        }

        if (r->npend) {
            infer_wp_pending(r);
        }

        infer_wp_put(r, d[i]);
    }
}


/* the marks kept by strip_accents, in NFD's order (stable, by class) */
static void
infer_wp_pending(infer_wp_run_t *r)
{
    size_t   i, j, n;
    int32_t  cp;
    int      ccc;

    n = r->npend;
    if (n == 0) {
        return;
    }

    r->npend = 0;

    for (i = 1; i < n; i++) {
        cp = r->pend[i];
        ccc = utf8proc_get_property(cp)->combining_class;

        for (j = i;
             j > 0 && utf8proc_get_property(r->pend[j - 1])->combining_class
                      > ccc;
             j--)
        {
            r->pend[j] = r->pend[j - 1];
        }

        r->pend[j] = cp;
    }

    for (i = 0; i < n; i++) {
        infer_wp_put(r, r->pend[i]);
    }
}


/* step 5, lowercase */
static void
infer_wp_put(infer_wp_run_t *r, int32_t cp)
{
    if (r->tok->lowercase) {
        if (cp == 0x130) {
            infer_wp_pretok(r, 'i');
            infer_wp_pretok(r, 0x307);
            return;
        }

        cp = utf8proc_tolower(cp);
    }

    infer_wp_pretok(r, cp);
}


/* step 6, the pre-tokenizer, on the normalized character */
static void
infer_wp_pretok(infer_wp_run_t *r, int32_t cp)
{
    utf8proc_category_t  cat;

    if (cp < 0x80) {
        /* from NFD (U+037E is ';') or case mapping (U+212A is 'k') */
        if (r->tok->aclass[cp] == INFER_TOK_PUNCT) {
            infer_wp_word(r);
            infer_wp_emit(r, r->tok->apunct[cp]);
            return;
        }

        if (cp == ' ' || (cp >= '\t' && cp <= '\r')) {
            infer_wp_word(r);
            return;
        }

        infer_wp_append(r, cp);
        return;
    }

    cat = (utf8proc_category_t) utf8proc_get_property(cp)->category;

    if (infer_wp_is_space(cp, cat)) {
        infer_wp_word(r);
        return;
    }

    if (cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO) {
        infer_wp_word(r);
        infer_wp_append(r, cp);
        infer_wp_word(r);
        return;
    }

    infer_wp_append(r, cp);
}


/* the word ends: WordPiece, step 7 */
static void
infer_wp_word(infer_wp_run_t *r)
{
    if (r->wchars == 0) {
        return;
    }

    if (r->wchars > r->tok->max_chars) {
        infer_wp_emit(r, r->tok->unk_id);

    } else {
        infer_wp_pieces(r);
    }

    r->wlen = 0;
    r->wchars = 0;
}


/*
 * Greedy longest match, as `tokenizers` does it, but each prefix of the
 * rest hashed once: the FNV state after each of its bytes is kept, and
 * the lookups go from the longest prefix (no longer than the longest
 * entry) down, at character boundaries.
 */
static void
infer_wp_pieces(infer_wp_run_t *r)
{
    size_t                    start, lim, ns, k, i, mark, len, plen;
    uint32_t                  h0, h, st[INFER_WP_STATES + 1];
    const char               *pre;
    const unsigned char      *w;
    const infer_wp_slot_t    *sl;
    const infer_tokenizer_t  *tok;

    tok = r->tok;
    w = r->word;
    len = r->wlen;
    mark = r->n;

    for (start = 0; start < len; start += k) {

        if (start == 0) {
            h0 = INFER_WP_HASH_INIT;
            pre = NULL;
            plen = 0;

        } else {
            h0 = tok->prefix_hash;
            pre = tok->prefix;
            plen = tok->prefix_len;
        }

        lim = len - start;
        if (lim > (start ? tok->max_cont : tok->max_first)) {
            lim = start ? tok->max_cont : tok->max_first;
        }

        ns = lim < INFER_WP_STATES ? lim : INFER_WP_STATES;
        h = h0;

        for (i = 0; i < ns; i++) {
            h = infer_wp_hash_step(h, w[start + i]);
            st[i + 1] = h;
        }

        sl = NULL;

        for (k = lim; k > 0; k--) {
            if (start + k < len && (w[start + k] & 0xc0) == 0x80) {
                continue;    /* not a character's end */
            }

            h = k <= INFER_WP_STATES
                ? st[k]
                : infer_wp_hash_bytes(h0, (const char *) w + start, k);

            sl = infer_wp_find(tok, h, pre, plen, (const char *) w + start, k);
            if (sl != NULL) {
                break;
            }
        }

        if (sl == NULL) {
            r->n = mark;
            infer_wp_emit(r, tok->unk_id);
            return;
        }

        infer_wp_emit(r, sl->id);
    }
}


/* the added token at p, longest first; its length, 0 when none */
static size_t
infer_wp_added(const infer_tokenizer_t *tok, const unsigned char *p,
    const unsigned char *end, int32_t *id)
{
    size_t                    i;
    const infer_tok_added_t  *a;

    for (i = 0; i < tok->nadded; i++) {
        a = &tok->added[i];

        if (a->len <= (size_t) (end - p)
            && memcmp(tok->strings + a->off, p, a->len) == 0)
        {
            *id = a->id;
            return a->len;
        }
    }

    return 0;
}


/* the rest of a truncated text is UTF-8 too; the message for the first
 * byte that is not */
static int
infer_wp_validate(const unsigned char *p, const unsigned char *end,
    const unsigned char *start, char *err, size_t errlen)
{
    size_t   n;
    int32_t  cp;

    while (p < end) {
        if (*p < 0x80) {
            p++;
            continue;
        }

        n = infer_wp_utf8(p, end, &cp);
        if (n == 0) {
            return infer_error(err, errlen, "invalid UTF-8 at byte %zu of "
                               "the text", (size_t) (p - start));
        }

        p += n;
    }

    return 0;
}
