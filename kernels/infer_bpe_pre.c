/*
 * ngx_infer: the byte-level BPE's pre-tokenizer: regular expressions run
 * one after the other by PCRE2 (UTF, UCP, JIT), each splitting every piece
 * the one before it made, as `tokenizers` runs the steps of a Sequence
 * and llama.cpp its regex_exprs.
 *
 * The expressions are written for Oniguruma, which `tokenizers` uses
 * (and so are llama.cpp's, which came from the same files).  PCRE2 reads
 * most of that syntax alike; what differs is translated, and what cannot
 * be is refused:
 *
 *   \s, \S      Oniguruma's are Unicode's White_Space (with U+0085);
 *               PCRE2's \s under UCP is Z and five controls, without
 *               U+0085: written out as the class of the 25 characters
 *   \h, \H      a hexadecimal digit for Oniguruma, horizontal space for
 *               PCRE2: written out
 *   \v          the vertical tab for Oniguruma, a class for PCRE2: \x0b
 *   \uHHHH      Oniguruma's; \x{HHHH} for PCRE2
 *   .           not \n, whatever PCRE2's newline convention: [^\n]
 *   {,n}        Oniguruma's {0,n}, which PCRE2 10.42 reads as text
 *   \w \W \b \B Oniguruma's words are letters, marks, numbers (all of
 *               them) and connectors, PCRE2 10.42's letters, numbers and
 *               _: refused, as are ^ and $ (line anchors in Oniguruma),
 *               (?m) (Oniguruma's dotall), \S inside a class, nested
 *               classes, && and back-references
 *
 * An expression that may match the empty string is refused (tokenizers
 * and PCRE2 step over empty matches differently).  Unicode's tables are
 * PCRE2's (Unicode 14 for 10.42), Oniguruma's are newer: a letter or a
 * number that Unicode added since is unassigned here (t/lib/
 * gen_bpe_corpus.py marks the corpus lines with one).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer_util.h"
#include "infer_bpe_impl.h"


/* pcre2_match()'s limit, against expressions that backtrack without end */
#define INFER_BPE_MATCH_LIMIT  (10 * 1000 * 1000)
#define INFER_BPE_JIT_STACK    (1024 * 1024)


/* ByteLevel's own expression, GPT-2's (tokenizers' byte_level.rs) */
const char  infer_bpe_gpt2_re[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+"
    "|\\s+(?!\\S)|\\s+";

/* Llama 3's as llama.cpp adapted it: the contractions' cases are ASCII,
 * where tokenizer.json's (?i:'s...) also takes U+017F and U+212A */
static const char  infer_bpe_llama3_re[] =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"
    "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+"
    "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)"
    "|\\s+";


/* tokenizer.ggml.pre's names, as llama.cpp's llama-vocab.cpp reads them:
 * the expressions, ignore_merges, and whether BOS is added when the file
 * has no tokenizer.ggml.add_bos_token */
static const struct {
    const char  *name;
    const char  *re[2];
    int          ignore_merges;
    int          add_bos;
} infer_bpe_named[] = {
    { "gpt2",      { infer_bpe_gpt2_re, NULL }, 0, 0 },
    { "smollm",    { "\\p{N}", infer_bpe_gpt2_re }, 0, 0 },
    { "starcoder", { "\\p{N}", infer_bpe_gpt2_re }, 0, 0 },
    { "llama-bpe", { infer_bpe_llama3_re, NULL }, 1, 1 },
    { "llama3",    { infer_bpe_llama3_re, NULL }, 1, 1 },
    { "llama-v3",  { infer_bpe_llama3_re, NULL }, 1, 1 },
};


/* Oniguruma's \s, Unicode's White_Space, as the members of a class */
#define INFER_BPE_WS                                                         \
    "\\t\\n\\x0b\\f\\r\\x20\\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}"       \
    "\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}"


static int infer_bpe_translate(const char *re, size_t len, char *out,
    size_t *olen, const char *where, infer_bpe_ctx_t *cx);


int
infer_bpe_pre_named(infer_bpe_t *bpe, const char *name, size_t len,
    int *add_bos, const char *where, infer_bpe_ctx_t *cx)
{
    size_t  i, k;

    for (i = 0; i < sizeof(infer_bpe_named) / sizeof(infer_bpe_named[0]);
         i++)
    {
        if (name == NULL || strlen(infer_bpe_named[i].name) != len
            || memcmp(infer_bpe_named[i].name, name, len) != 0)
        {
            continue;
        }

        for (k = 0; k < 2 && infer_bpe_named[i].re[k] != NULL; k++) {
            if (infer_bpe_pre_add(bpe, infer_bpe_named[i].re[k],
                                  strlen(infer_bpe_named[i].re[k]), 0, where,
                                  cx)
                != 0)
            {
                return -1;
            }
        }

        bpe->ignore_merges = infer_bpe_named[i].ignore_merges;
        *add_bos = infer_bpe_named[i].add_bos;
        snprintf(bpe->pre, sizeof(bpe->pre), "%s", infer_bpe_named[i].name);

        return 0;
    }

    return infer_error(cx->err, cx->errlen, "%s: %s: %s%.*s%s is not "
                       "supported (supported: gpt2, smollm, starcoder, "
                       "llama-bpe, llama3, llama-v3)", cx->fname, where,
                       name ? "\"" : "",
                       name ? (int) (len > 64 ? 64 : len) : 7,
                       name ? name : "missing", name ? "\"" : "");
}


int
infer_bpe_pre_add(infer_bpe_t *bpe, const char *re, size_t len, int removed,
    const char *where, infer_bpe_ctx_t *cx)
{
    int                rc;
    char              *out;
    size_t             olen, erroff;
    uint32_t           minlen;
    PCRE2_UCHAR        msg[256];
    pcre2_code        *code;
    infer_bpe_step_t  *step;

    if (bpe->n_steps == INFER_BPE_MAX_STEPS) {
        return infer_error(cx->err, cx->errlen, "%s: %s: more than %d "
                           "regular expressions", cx->fname, where,
                           INFER_BPE_MAX_STEPS);
    }

    if (len > 64 * 1024) {
        return infer_error(cx->err, cx->errlen, "%s: %s: a regular "
                           "expression over 64 KB", cx->fname, where);
    }

    out = malloc(len * 96 + 1);
    if (out == NULL) {
        return infer_error(cx->err, cx->errlen, "%s: out of memory",
                           cx->fname);
    }

    if (infer_bpe_translate(re, len, out, &olen, where, cx) != 0) {
        free(out);
        return -1;
    }

    code = pcre2_compile((PCRE2_SPTR) out, olen, PCRE2_UTF | PCRE2_UCP, &rc,
                         &erroff, NULL);
    free(out);

    if (code == NULL) {
        pcre2_get_error_message(rc, msg, sizeof(msg));
        return infer_error(cx->err, cx->errlen, "%s: %s: \"%.*s\": %s",
                           cx->fname, where, (int) (len > 200 ? 200 : len),
                           re, (char *) msg);
    }

    if (pcre2_pattern_info(code, PCRE2_INFO_MINLENGTH, &minlen) != 0
        || minlen == 0)
    {
        pcre2_code_free(code);
        return infer_error(cx->err, cx->errlen, "%s: %s: \"%.*s\" can match "
                           "the empty string, not supported", cx->fname,
                           where, (int) (len > 200 ? 200 : len), re);
    }

    step = &bpe->steps[bpe->n_steps++];
    step->code = code;
    step->removed = removed ? 1 : 0;
    /* without the JIT (a build or a CPU without it), the interpreter */
    step->jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;

    return 0;
}


void
infer_bpe_pre_free(infer_bpe_t *bpe)
{
    size_t  i;

    for (i = 0; i < bpe->n_steps; i++) {
        pcre2_code_free(bpe->steps[i].code);
    }

    bpe->n_steps = 0;
}


int
infer_bpe_pre_state(const infer_bpe_t *bpe, infer_bpe_state_t *st)
{
    size_t    i;
    uint32_t  groups, max;

    max = 0;

    for (i = 0; i < bpe->n_steps; i++) {
        if (pcre2_pattern_info(bpe->steps[i].code, PCRE2_INFO_CAPTURECOUNT,
                               &groups)
            == 0 && groups > max)
        {
            max = groups;
        }
    }

    st->md = pcre2_match_data_create(max + 1, NULL);
    st->mctx = pcre2_match_context_create(NULL);
    st->jstack = pcre2_jit_stack_create(32 * 1024, INFER_BPE_JIT_STACK, NULL);

    if (st->md == NULL || st->mctx == NULL || st->jstack == NULL) {
        return -1;
    }

    pcre2_set_match_limit(st->mctx, INFER_BPE_MATCH_LIMIT);
    pcre2_jit_stack_assign(st->mctx, NULL, st->jstack);

    return 0;
}


void
infer_bpe_pre_state_free(infer_bpe_state_t *st)
{
    pcre2_match_data_free(st->md);
    pcre2_match_context_free(st->mctx);
    pcre2_jit_stack_free(st->jstack);
}


/*
 * s[0 .. len) split by the expression of step, each match and each gap
 * between them (Isolated; the gaps only when Removed) handed to the next
 * step, the last's pieces to the merges.  The subject is the piece alone:
 * a lookahead sees its end as the text's end, as in tokenizers.
 */
int
infer_bpe_pre_split(infer_bpe_run_t *r, const unsigned char *s, size_t len,
    size_t step)
{
    int                      rc;
    size_t                   off, gap, ms, me;
    PCRE2_SIZE              *ov;
    PCRE2_UCHAR              msg[128];
    const infer_bpe_step_t  *sp;

    if (step == r->bpe->n_steps) {
        return infer_bpe_word(r, s, len);
    }

    sp = &r->bpe->steps[step];
    off = 0;
    gap = 0;

    while (off < len) {
        if (sp->jit) {
            rc = pcre2_jit_match(sp->code, s, len, off, 0, r->st->md,
                                 r->st->mctx);
        } else {
            rc = pcre2_match(sp->code, s, len, off, PCRE2_NO_UTF_CHECK,
                             r->st->md, r->st->mctx);
        }

        if (rc == PCRE2_ERROR_NOMATCH) {
            break;
        }

        if (rc < 0) {
            pcre2_get_error_message(rc, msg, sizeof(msg));
            return infer_error(r->err, r->errlen, "the pre-tokenizer's "
                               "expression %zu: %s", step + 1, (char *) msg);
        }

        ov = pcre2_get_ovector_pointer(r->st->md);
        ms = ov[0];
        me = ov[1];

        if (me <= ms || me > len) {
            /* no empty match: the expression's minimum length is 1 */
            return infer_error(r->err, r->errlen, "the pre-tokenizer's "
                               "expression %zu matched nothing", step + 1);
        }

        if (ms > gap) {
            rc = infer_bpe_pre_split(r, s + gap, ms - gap, step + 1);
            if (rc != 0) {
                return rc;
            }
        }

        if (!sp->removed) {
            rc = infer_bpe_pre_split(r, s + ms, me - ms, step + 1);
            if (rc != 0) {
                return rc;
            }
        }

        gap = off = me;
    }

    if (len > gap) {
        return infer_bpe_pre_split(r, s + gap, len - gap, step + 1);
    }

    return 0;
}


/* --- Oniguruma's syntax to PCRE2's --------------------------------------- */

static int
infer_bpe_refuse(const char *re, size_t len, size_t at, const char *what,
    const char *where, infer_bpe_ctx_t *cx)
{
    return infer_error(cx->err, cx->errlen, "%s: %s: \"%.*s\": %s at "
                       "offset %zu is not supported", cx->fname, where,
                       (int) (len > 200 ? 200 : len), re, what, at);
}


static size_t
infer_bpe_put(char *out, size_t o, const char *s)
{
    size_t  n;

    n = strlen(s);
    memcpy(out + o, s, n);

    return o + n;
}


static int
infer_bpe_hex(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
           || (c >= 'A' && c <= 'F');
}


/* out has room for 96 bytes per byte of re */
static int
infer_bpe_translate(const char *re, size_t len, char *out, size_t *olen,
    const char *where, infer_bpe_ctx_t *cx)
{
    int          cls;
    char         c, esc[3];
    size_t       i, o, k;
    const char  *rep;

    o = 0;
    cls = 0;
    esc[0] = '\\';
    esc[2] = '\0';

    for (i = 0; i < len; i++) {
        c = re[i];

        if (c == '\\') {
            if (++i == len) {
                return infer_bpe_refuse(re, len, i - 1, "a lone \\", where,
                                        cx);
            }

            c = re[i];
            rep = NULL;

            switch (c) {

            case 's':
                rep = cls ? INFER_BPE_WS : "[" INFER_BPE_WS "]";
                break;

            case 'S':
                if (cls) {
                    return infer_bpe_refuse(re, len, i - 1, "\\S in a class",
                                            where, cx);
                }
                rep = "[^" INFER_BPE_WS "]";
                break;

            case 'h':
                rep = cls ? "0-9a-fA-F" : "[0-9a-fA-F]";
                break;

            case 'H':
                if (cls) {
                    return infer_bpe_refuse(re, len, i - 1, "\\H in a class",
                                            where, cx);
                }
                rep = "[^0-9a-fA-F]";
                break;

            case 'v':
                rep = "\\x0b";
                break;

            case 'u':
                if (i + 4 >= len || !infer_bpe_hex(re[i + 1])
                    || !infer_bpe_hex(re[i + 2]) || !infer_bpe_hex(re[i + 3])
                    || !infer_bpe_hex(re[i + 4]))
                {
                    return infer_bpe_refuse(re, len, i - 1, "a \\u without "
                                            "four hexadecimal digits", where,
                                            cx);
                }
                o = infer_bpe_put(out, o, "\\x{");
                memcpy(out + o, re + i + 1, 4);
                o += 4;
                out[o++] = '}';
                i += 4;
                continue;

            case 'p':
            case 'P':
                /* \pL or \p{...}: a name of letters, _ and ^ */
                out[o++] = '\\';
                out[o++] = c;

                if (i + 1 < len && re[i + 1] != '{') {
                    out[o++] = re[++i];
                    continue;
                }

                for (k = i + 1; k < len && re[k] != '}'; k++) {
                    out[o++] = re[k];
                }

                if (k == len) {
                    return infer_bpe_refuse(re, len, i - 1, "an unclosed "
                                            "\\p{", where, cx);
                }

                out[o++] = '}';
                i = k;
                continue;

            case 'x': case 'd': case 'D': case 'r': case 'n': case 't':
            case 'f': case 'e': case 'a':
                out[o++] = '\\';
                out[o++] = c;
                continue;

            case 'A': case 'z': case 'Z':
                if (cls) {
                    return infer_bpe_refuse(re, len, i - 1, "an anchor in a "
                                            "class", where, cx);
                }
                out[o++] = '\\';
                out[o++] = c;
                continue;

            default:
                if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                    || (c >= '0' && c <= '9') || (unsigned char) c >= 0x80)
                {
                    esc[1] = (unsigned char) c < 0x80 ? c : '?';
                    return infer_bpe_refuse(re, len, i - 1, esc, where, cx);
                }

                /* an escaped punctuation character is itself */
                out[o++] = '\\';
                out[o++] = c;
                continue;
            }

            o = infer_bpe_put(out, o, rep);
            continue;
        }

        if (cls) {
            if (c == '[') {
                return infer_bpe_refuse(re, len, i, "[ in a class (nested "
                                        "or POSIX classes)", where, cx);
            }

            if (c == '&' && i + 1 < len && re[i + 1] == '&') {
                return infer_bpe_refuse(re, len, i, "&& (a class "
                                        "intersection)", where, cx);
            }

            if (c == ']') {
                cls = 0;     /* a ] first was taken as a member at [ */
            }

            out[o++] = c;
            continue;
        }

        switch (c) {

        case '[':
            out[o++] = c;
            cls = 1;

            if (i + 1 < len && re[i + 1] == '^') {
                out[o++] = re[++i];
            }

            /* a ] first is a member, in both */
            if (i + 1 < len && re[i + 1] == ']') {
                out[o++] = re[++i];
            }

            continue;

        case '^':
        case '$':
            return infer_bpe_refuse(re, len, i, c == '^' ? "^" : "$", where,
                                    cx);

        case '.':
            o = infer_bpe_put(out, o, "[^\\n]");
            continue;

        case '{':
            /* Oniguruma's {,n} is {0,n}; PCRE2 10.42 reads it as text */
            out[o++] = c;

            for (k = i + 2; k < len && re[k] >= '0' && re[k] <= '9'; k++) {
                /* void */
            }

            if (i + 1 < len && re[i + 1] == ',' && k > i + 2 && k < len
                && re[k] == '}')
            {
                out[o++] = '0';
            }

            continue;

        case '(':
            out[o++] = c;

            if (i + 1 >= len || re[i + 1] != '?') {
                continue;
            }

            out[o++] = re[++i];

            if (i + 1 < len && strchr(":=!><", re[i + 1]) != NULL) {
                continue;
            }

            /* inline flags: only i (and its removal) mean the same */
            for (k = i + 1; k < len && (re[k] == 'i' || re[k] == '-'); k++) {
                /* void */
            }

            if (k == len || (re[k] != ':' && re[k] != ')') || k == i + 1) {
                return infer_bpe_refuse(re, len, i - 1, "a group's flag "
                                        "other than i", where, cx);
            }

            continue;

        default:
            out[o++] = c;
            continue;
        }
    }

    if (cls) {
        return infer_bpe_refuse(re, len, len, "an unclosed class", where,
                                cx);
    }

    out[o] = '\0';
    *olen = o;

    return 0;
}
