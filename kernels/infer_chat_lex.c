/*
 * ngx_infer: the Jinja2 lexer of the chat templates (infer_chat_impl.h),
 * and the match of a template's tokens with a known template's.
 *
 * The lexer follows jinja2/lexer.py: newlines made "\n" and one trailing
 * newline dropped; text up to "{{", "{%" or "{#"; a "-" after the tag's
 * opening strips the whitespace before it, else lstrip_blocks strips the
 * whitespace that opens the tag's line (blocks and comments only); "-%}"
 * strips the whitespace after, "%}" and "#}" one newline (trim_blocks),
 * "+%}" nothing.  Whitespace is Python's, str.isspace(), since Jinja's
 * regular expressions use \s on str.
 */

#include <stdlib.h>
#include <string.h>

#include "infer_chat_impl.h"


typedef unsigned char  u_char;


static int infer_chat_tag(infer_chat_lex_t *lx, size_t *pos, int type);
static int infer_chat_string(infer_chat_lex_t *lx, size_t *pos);
static size_t infer_chat_utf8_put(char *dst, unsigned long c);
static void infer_chat_add(infer_chat_lex_t *lx, int type, const char *p,
    size_t len, size_t off);
static void infer_chat_fold(infer_chat_lex_t *lx);
static int infer_chat_tok_is(const infer_chat_tok_t *t, int type,
    const char *s);
static size_t infer_chat_space(const u_char *p, const u_char *end);
static size_t infer_chat_space_before(const u_char *start, const u_char *end);


static inline int
infer_chat_alpha(int c)
{
    return c == '_' || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}


static inline int
infer_chat_digit(int c)
{
    return c >= '0' && c <= '9';
}


/*
 * Lexes s into lx: 0, or -1 with lx->why and lx->why_off (lx->src NULL:
 * out of memory).  holes: "$n" is a hole (the known templates).
 */

int
infer_chat_lex(infer_chat_lex_t *lx, const char *s, size_t len, int holes)
{
    int            sign, kind, ls;
    size_t         i, n, pos, q, l, t, j;
    const u_char  *src;

    memset(lx, 0, sizeof(infer_chat_lex_t));
    lx->holes = holes;

    /* every token takes a byte of the source, but for TEXT and END */
    lx->src = malloc(len + 1);
    lx->val = malloc(len + 1);
    lx->tok = malloc((2 * len + 2) * sizeof(infer_chat_tok_t));

    if (lx->src == NULL || lx->val == NULL || lx->tok == NULL) {
        infer_chat_lex_free(lx);
        return -1;
    }

    /* Jinja2's "\n".join(newline_re.split(source)[::2]), less a last "" */
    for (i = 0, n = 0; i < len; i++) {
        if (s[i] == '\r') {
            lx->src[n++] = '\n';
            i += (i + 1 < len && s[i + 1] == '\n');

        } else {
            lx->src[n++] = s[i];
        }
    }

    if (n > 0 && lx->src[n - 1] == '\n') {
        n--;
    }

    lx->len = n;
    src = (const u_char *) lx->src;
    pos = 0;
    ls = 1;

    while (pos < n) {

        for (q = pos; q + 1 < n; q++) {
            if (src[q] == '{'
                && (src[q + 1] == '{' || src[q + 1] == '%'
                    || src[q + 1] == '#'))
            {
                break;
            }
        }

        if (q + 1 >= n) {
            infer_chat_add(lx, INFER_CHAT_T_TEXT, lx->src + pos, n - pos,
                           pos);
            break;
        }

        kind = src[q + 1];
        sign = (q + 2 < n && (src[q + 2] == '-' || src[q + 2] == '+'))
               ? src[q + 2] : 0;
        t = q;

        if (sign == '-') {
            t = q - infer_chat_space_before(src + pos, src + q);

        } else if (sign != '+' && kind != '{') {
            /* lstrip_blocks: the tag opens its line but for whitespace */
            for (l = q; l > pos && src[l - 1] != '\n'; l--) {
                /* void */
            }

            if ((l > pos || ls) && l < q) {
                for (j = l; j < q; j += i) {
                    i = infer_chat_space(src + j, src + q);
                    if (i == 0) {
                        break;
                    }
                }

                t = (j == q) ? l : q;
            }
        }

        if (t > pos) {
            infer_chat_add(lx, INFER_CHAT_T_TEXT, lx->src + pos, t - pos,
                           pos);
        }

        pos = q + 2 + (sign != 0);

        if (kind == '#') {
            for (j = pos; j + 1 < n; j++) {
                if (src[j] == '#' && src[j + 1] == '}') {
                    break;
                }
            }

            if (j + 1 >= n) {
                lx->why = "unterminated comment";
                lx->why_off = q;
                return -1;
            }

            sign = (j > pos && (src[j - 1] == '-' || src[j - 1] == '+'))
                   ? src[j - 1] : 0;
            pos = j + 2;

        } else {
            infer_chat_add(lx, (kind == '%') ? INFER_CHAT_T_BLOCK
                                             : INFER_CHAT_T_VAR,
                           lx->src + q, 2, q);
            lx->why_off = q;

            sign = infer_chat_tag(lx, &pos, kind);
            if (sign < 0) {
                return -1;
            }
        }

        /* after the tag: "-" strips, trim_blocks takes one newline */
        j = pos;

        if (sign == '-') {
            while (pos < n && (i = infer_chat_space(src + pos, src + n))) {
                pos += i;
            }

        } else if (sign != '+' && kind != '{' && pos < n
                   && src[pos] == '\n')
        {
            pos++;
        }

        ls = (pos > j && src[pos - 1] == '\n');
    }

    infer_chat_fold(lx);

    return 0;
}


/*
 * The tokens of a tag, *pos past its opening, up to and past its end:
 * the end's sign ('-', '+' or 0), or -1.
 */

static int
infer_chat_tag(infer_chat_lex_t *lx, size_t *pos, int kind)
{
    int                c, close;
    size_t             p, n, k;
    const u_char      *src;
    infer_chat_tok_t  *tk;

    static const char  *ops[] = {
        "//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~",
        "[", "]", "(", ")", "{", "}", ">", "<", "=", ".", ":", "|", ",",
        ";", NULL
    };

    src = (const u_char *) lx->src;
    n = lx->len;
    p = *pos;
    close = (kind == '%') ? '%' : '}';

    for ( ;; ) {

        while (p < n && (k = infer_chat_space(src + p, src + n))) {
            p += k;
        }

        if (p >= n) {
            /* at the tag's opening, which infer_chat_lex() noted */
            lx->why = "unterminated tag";
            return -1;
        }

        c = src[p];

        /* "+%}" keeps what follows; "+}}" is no end */
        if ((c == '-' || (c == '+' && kind == '%')) && p + 2 < n
            && src[p + 1] == close && src[p + 2] == '}')
        {
            infer_chat_add(lx, INFER_CHAT_T_END, lx->src + p, 3, p);
            *pos = p + 3;
            return c;
        }

        if (c == close && p + 1 < n && src[p + 1] == '}') {
            infer_chat_add(lx, INFER_CHAT_T_END, lx->src + p, 2, p);
            *pos = p + 2;
            return 0;
        }

        if (c == '\'' || c == '"') {
            if (infer_chat_string(lx, &p) != 0) {
                return -1;
            }

            continue;
        }

        if (infer_chat_alpha(c)) {
            for (k = p + 1; k < n && (infer_chat_alpha(src[k])
                                      || infer_chat_digit(src[k])); k++)
            {
                /* void */
            }

            infer_chat_add(lx, INFER_CHAT_T_NAME, lx->src + p, k - p, p);
            p = k;
            continue;
        }

        if (infer_chat_digit(c) || (c == '$' && lx->holes)) {
            for (k = p + 1; k < n && (infer_chat_digit(src[k]) || src[k] == '_'
                                      || src[k] == '.'); k++)
            {
                /* void */
            }

            infer_chat_add(lx, (c == '$') ? INFER_CHAT_T_HOLE
                                          : INFER_CHAT_T_NUM,
                           lx->src + p, k - p, p);
            p = k;
            continue;
        }

        for (k = 0; ops[k] != NULL; k++) {
            if (p + strlen(ops[k]) <= n
                && memcmp(src + p, ops[k], strlen(ops[k])) == 0)
            {
                break;
            }
        }

        if (ops[k] == NULL) {
            lx->why = "an unexpected character";
            lx->why_off = p;
            return -1;
        }

        infer_chat_add(lx, INFER_CHAT_T_OP, ops[k], strlen(ops[k]), p);
        p += strlen(ops[k]);

        /* x['key'] is x.key: Jinja2's getitem and getattr of a dict */
        if (strcmp(ops[k], "]") == 0) {
            tk = lx->tok + lx->n;

            if (lx->n >= 4 && tk[-3].type == INFER_CHAT_T_OP
                && tk[-3].p[0] == '[' && tk[-2].type == INFER_CHAT_T_STR
                && tk[-2].len > 0
                && (tk[-4].type == INFER_CHAT_T_NAME
                    || infer_chat_tok_is(&tk[-4], INFER_CHAT_T_OP, "]")
                    || infer_chat_tok_is(&tk[-4], INFER_CHAT_T_OP, ")")))
            {
                for (k = 0; k < tk[-2].len; k++) {
                    c = (u_char) tk[-2].p[k];

                    if (!infer_chat_alpha(c)
                        && !(k > 0 && infer_chat_digit(c)))
                    {
                        break;
                    }
                }

                if (k == tk[-2].len) {
                    tk[-3].p = ".";
                    tk[-2].type = INFER_CHAT_T_NAME;
                    lx->n--;
                }
            }
        }
    }
}


/*
 * A string literal at *pos, unescaped as Jinja2 does it, by Python's
 * "unicode-escape" (after "backslashreplace" of what is not ASCII, which
 * comes back as it was): 0, or -1.  What Python would make of \N{...}, of
 * a backslash before a character that is not ASCII, and of a lone
 * surrogate, no template needs: refused.
 */

static int
infer_chat_string(infer_chat_lex_t *lx, size_t *pos)
{
    int            q, c, k, d;
    char          *dst;
    size_t         p, n, start;
    const u_char  *src;
    unsigned long  u;

    src = (const u_char *) lx->src;
    n = lx->len;
    start = *pos;
    q = src[start];
    dst = lx->val + lx->nval;

    for (p = start + 1; p < n && src[p] != q; p++) {

        if (src[p] != '\\') {
            *dst++ = (char) src[p];
            continue;
        }

        if (++p == n) {
            break;
        }

        c = src[p];

        switch (c) {
        case '\n': continue;
        case 'a': *dst++ = '\a'; continue;
        case 'b': *dst++ = '\b'; continue;
        case 'f': *dst++ = '\f'; continue;
        case 'n': *dst++ = '\n'; continue;
        case 'r': *dst++ = '\r'; continue;
        case 't': *dst++ = '\t'; continue;
        case 'v': *dst++ = '\v'; continue;
        case '\\': case '\'': case '"': *dst++ = (char) c; continue;
        }

        if (c >= '0' && c <= '7') {
            for (u = 0, k = 0; k < 3 && p < n && src[p] >= '0'
                               && src[p] <= '7'; k++, p++)
            {
                u = u * 8 + (src[p] - '0');
            }

            p--;
            dst += infer_chat_utf8_put(dst, u);
            continue;
        }

        if (c == 'x' || c == 'u' || c == 'U') {
            d = (c == 'x') ? 2 : (c == 'u') ? 4 : 8;

            for (u = 0, k = 0; k < d; k++) {
                c = (p + 1 + k < n) ? src[p + 1 + k] : 0;

                if (infer_chat_digit(c)) {
                    u = u * 16 + (c - '0');

                } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
                    u = u * 16 + ((c | 0x20) - 'a' + 10);

                } else {
                    break;
                }
            }

            if (k < d || u > 0x10ffff || (u >= 0xd800 && u <= 0xdfff)) {
                lx->why = "an escape in a string that Python refuses";
                lx->why_off = p - 1;
                return -1;
            }

            p += d;
            dst += infer_chat_utf8_put(dst, u);
            continue;
        }

        if (c == 'N' || c >= 0x80) {
            lx->why = "an escape in a string that ngx_infer does not read";
            lx->why_off = p - 1;
            return -1;
        }

        /* Python keeps an unknown escape as it is */
        *dst++ = '\\';
        *dst++ = (char) c;
    }

    if (p >= n) {
        lx->why = "unterminated string";
        lx->why_off = start;
        return -1;
    }

    infer_chat_add(lx, INFER_CHAT_T_STR, lx->val + lx->nval,
                   dst - (lx->val + lx->nval), start);
    lx->nval = dst - lx->val;
    *pos = p + 1;

    return 0;
}


static size_t
infer_chat_utf8_put(char *dst, unsigned long c)
{
    u_char  *p;

    p = (u_char *) dst;

    if (c < 0x80) {
        p[0] = (u_char) c;
        return 1;
    }

    if (c < 0x800) {
        p[0] = (u_char) (0xc0 | (c >> 6));
        p[1] = (u_char) (0x80 | (c & 0x3f));
        return 2;
    }

    if (c < 0x10000) {
        p[0] = (u_char) (0xe0 | (c >> 12));
        p[1] = (u_char) (0x80 | ((c >> 6) & 0x3f));
        p[2] = (u_char) (0x80 | (c & 0x3f));
        return 3;
    }

    p[0] = (u_char) (0xf0 | (c >> 18));
    p[1] = (u_char) (0x80 | ((c >> 12) & 0x3f));
    p[2] = (u_char) (0x80 | ((c >> 6) & 0x3f));
    p[3] = (u_char) (0x80 | (c & 0x3f));

    return 4;
}


static void
infer_chat_add(infer_chat_lex_t *lx, int type, const char *p, size_t len,
    size_t off)
{
    infer_chat_tok_t  *t;

    t = &lx->tok[lx->n++];
    t->type = type;
    t->p = p;
    t->len = len;
    t->off = off;
}


/*
 * 'a' + 'b' is 'ab' where the sum is its own term: after "+", "(", ",",
 * "=", a comparison or {{, and before nothing that binds tighter than "+"
 * (a filter, a test, an attribute, a call, "*").  Adjacent strings are
 * adjacent in lx->val: the first grows.
 */

static void
infer_chat_fold(infer_chat_lex_t *lx)
{
    size_t             i, n, k;
    infer_chat_tok_t  *t, *a, *nx;

    static const char  *before[] = {
        "+", "(", ",", "=", "==", "!=", "<", ">", "<=", ">=", "[", ":", NULL
    };
    static const char  *after[] = {
        "|", ".", "[", "(", "*", "/", "//", "%", "**", NULL
    };

    t = lx->tok;
    n = 0;

    for (i = 0; i < lx->n; i++) {
        a = (n >= 2) ? &t[n - 2] : NULL;
        nx = (i + 1 < lx->n) ? &t[i + 1] : NULL;

        if (t[i].type != INFER_CHAT_T_STR || a == NULL || n < 3
            || a->type != INFER_CHAT_T_STR
            || !infer_chat_tok_is(&t[n - 1], INFER_CHAT_T_OP, "+")
            || a->p + a->len != t[i].p)
        {
            t[n++] = t[i];
            continue;
        }

        for (k = 0; before[k] != NULL
                    && !infer_chat_tok_is(&t[n - 3], INFER_CHAT_T_OP,
                                          before[k]); k++)
        {
            /* void */
        }

        if (before[k] == NULL && t[n - 3].type != INFER_CHAT_T_VAR) {
            t[n++] = t[i];
            continue;
        }

        for (k = 0; nx != NULL && after[k] != NULL
                    && !infer_chat_tok_is(nx, INFER_CHAT_T_OP, after[k]);
             k++)
        {
            /* void */
        }

        if ((nx != NULL && after[k] != NULL)
            || (nx != NULL && infer_chat_tok_is(nx, INFER_CHAT_T_NAME, "is")))
        {
            t[n++] = t[i];
            continue;
        }

        a->len += t[i].len;
        n--;
    }

    lx->n = n;
}


static int
infer_chat_tok_is(const infer_chat_tok_t *t, int type, const char *s)
{
    return t->type == type && t->len == strlen(s)
           && memcmp(t->p, s, t->len) == 0;
}


/*
 * How many tokens of the known template pat the template tpl matches,
 * the holes taken into holes; pat->n is a match, if tpl has no more.
 */

size_t
infer_chat_match(const infer_chat_lex_t *pat, const infer_chat_lex_t *tpl,
    infer_chat_str_t *holes)
{
    size_t                   i, h;
    const infer_chat_tok_t  *a, *b;

    for (i = 0; i < pat->n && i < tpl->n; i++) {
        a = &pat->tok[i];
        b = &tpl->tok[i];

        if (a->type == INFER_CHAT_T_HOLE) {
            if (b->type != INFER_CHAT_T_STR) {
                break;
            }

            h = (size_t) strtoul(a->p + 1, NULL, 10);
            if (h >= INFER_CHAT_HOLES) {
                break;
            }

            holes[h].p = b->p;
            holes[h].len = b->len;
            continue;
        }

        if (a->type != b->type || a->len != b->len
            || (a->len && memcmp(a->p, b->p, a->len) != 0))
        {
            break;
        }
    }

    return i;
}


void
infer_chat_lex_free(infer_chat_lex_t *lx)
{
    free(lx->src);
    free(lx->val);
    free(lx->tok);
    lx->src = NULL;
    lx->val = NULL;
    lx->tok = NULL;
}


/*
 * The length of the whitespace character at p, by Python's str.isspace():
 * \t to \r, \x1c to \x1f, space, U+0085, U+00A0, U+1680, U+2000 to
 * U+200A, U+2028, U+2029, U+202F, U+205F, U+3000; 0 for another.
 */

static size_t
infer_chat_space(const u_char *p, const u_char *end)
{
    if (*p < 0x80) {
        return (*p == ' ' || (*p >= '\t' && *p <= '\r')
                || (*p >= 0x1c && *p <= 0x1f));
    }

    if (end - p >= 2 && p[0] == 0xc2 && (p[1] == 0x85 || p[1] == 0xa0)) {
        return 2;
    }

    if (end - p < 3) {
        return 0;
    }

    if ((p[0] == 0xe1 && p[1] == 0x9a && p[2] == 0x80)
        || (p[0] == 0xe3 && p[1] == 0x80 && p[2] == 0x80)
        || (p[0] == 0xe2 && p[1] == 0x80
            && (p[2] <= 0x8a || p[2] == 0xa8 || p[2] == 0xa9
                || p[2] == 0xaf) && p[2] >= 0x80)
        || (p[0] == 0xe2 && p[1] == 0x81 && p[2] == 0x9f))
    {
        return 3;
    }

    return 0;
}


/* the length of the whitespace that ends [start, end) */

static size_t
infer_chat_space_before(const u_char *start, const u_char *end)
{
    size_t         k;
    const u_char  *p;

    p = end;

    for ( ;; ) {
        for (k = 1; k <= 3 && (size_t) (p - start) >= k; k++) {
            if ((*(p - k) & 0xc0) != 0x80) {
                break;
            }
        }

        if (k > 3 || (size_t) (p - start) < k
            || infer_chat_space(p - k, p) != k)
        {
            return end - p;
        }

        p -= k;
    }
}


/* Jinja2's trim filter: Python's str.strip() */

void
infer_chat_trim(const char **p, size_t *len)
{
    size_t         k;
    const u_char  *s, *end;

    s = (const u_char *) *p;
    end = s + *len;

    while (s < end && (k = infer_chat_space(s, end))) {
        s += k;
    }

    end -= infer_chat_space_before(s, end);

    *p = (const char *) s;
    *len = end - s;
}
