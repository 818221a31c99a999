/*
 * ngx_infer: building a byte-level BPE tokenizer (infer_bpe.h), for both
 * loaders: the vocabulary (a string table, each token's bytes), the
 * merges (a hash table keyed by the pair of ids: rank and the id made),
 * the bytes' tokens and the added tokens; and the loader of a GGUF's
 * arrays (tokenizer.json's is infer_bpe_json.c).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer_util.h"
#include "infer_bpe_impl.h"


/* --- building ------------------------------------------------------------ */

infer_bpe_t *
infer_bpe_new(size_t n_ids, size_t string_bytes, infer_bpe_ctx_t *cx)
{
    size_t        cap, i;
    infer_bpe_t  *bpe;

    if (n_ids == 0 || n_ids > INFER_BPE_MAX_IDS
        || string_bytes >= (size_t) 1 << 30)
    {
        infer_error(cx->err, cx->errlen, "%s: %zu tokens of %zu bytes: not "
                    "from 1 to %d tokens of under 1 GB", cx->fname, n_ids,
                    string_bytes, INFER_BPE_MAX_IDS);
        return NULL;
    }

    bpe = calloc(1, sizeof(infer_bpe_t));
    if (bpe == NULL) {
        infer_error(cx->err, cx->errlen, "%s: out of memory", cx->fname);
        return NULL;
    }

    for (cap = 64; cap < 2 * n_ids; cap *= 2) { /* void */ }

    bpe->n_ids = n_ids;
    bpe->strings_cap = string_bytes;
    bpe->strings = malloc(string_bytes + 1);
    bpe->str_off = calloc(n_ids, sizeof(uint32_t));
    bpe->str_len = calloc(n_ids, sizeof(uint32_t));
    bpe->type = calloc(n_ids, 1);
    bpe->slots = malloc(cap * sizeof(infer_bpe_slot_t));
    bpe->mask = (uint32_t) cap - 1;
    bpe->bos_id = bpe->eos_id = bpe->eot_id = bpe->unk_id = -1;
    bpe->pad_id = -1;
    bpe->missing = -1;

    if (bpe->strings == NULL || bpe->str_off == NULL || bpe->str_len == NULL
        || bpe->type == NULL || bpe->slots == NULL)
    {
        infer_error(cx->err, cx->errlen, "%s: out of memory", cx->fname);
        infer_bpe_free(bpe);
        return NULL;
    }

    for (i = 0; i < cap; i++) {
        bpe->slots[i].id = -1;
    }

    return bpe;
}


void
infer_bpe_free(infer_bpe_t *bpe)
{
    if (bpe == NULL) {
        return;
    }

    infer_bpe_pre_free(bpe);
    free(bpe->strings);
    free(bpe->str_off);
    free(bpe->str_len);
    free(bpe->bytes);
    free(bpe->byte_off);
    free(bpe->byte_len);
    free(bpe->type);
    free(bpe->slots);
    free(bpe->merges);
    free(bpe->added);
    free(bpe);
}


int32_t
infer_bpe_find(const infer_bpe_t *bpe, const char *s, size_t len)
{
    uint32_t                 h, i;
    const infer_bpe_slot_t  *sl;

    h = infer_bpe_hash(s, len);

    for (i = h & bpe->mask; ; i = (i + 1) & bpe->mask) {
        sl = &bpe->slots[i];

        if (sl->id < 0) {
            return -1;
        }

        if (sl->hash == h && bpe->str_len[sl->id] == len
            && memcmp(bpe->strings + bpe->str_off[sl->id], s, len) == 0)
        {
            return sl->id;
        }
    }
}


int
infer_bpe_add_token(infer_bpe_t *bpe, const char *s, size_t len, int32_t id,
    int type, const char *where, infer_bpe_ctx_t *cx)
{
    uint32_t  h, i;
    int32_t   other;

    if (id < 0 || (size_t) id >= bpe->n_ids) {
        return infer_error(cx->err, cx->errlen, "%s: %s: the id %d is not "
                           "from 0 to %zu", cx->fname, where, (int) id,
                           bpe->n_ids - 1);
    }

    if (len == 0 || len > INFER_BPE_MAX_TOKEN
        || infer_bpe_utf8((const unsigned char *) s, len) != len)
    {
        return infer_error(cx->err, cx->errlen, "%s: %s: %s", cx->fname,
                           where, len == 0 ? "an empty token"
                           : len > INFER_BPE_MAX_TOKEN
                           ? "a token longer than 4096 bytes"
                           : "a token that is not UTF-8");
    }

    if (bpe->str_len[id] != 0) {
        return infer_error(cx->err, cx->errlen, "%s: %s: the id %d is "
                           "\"%.*s\" already", cx->fname, where, (int) id,
                           (int) (bpe->str_len[id] > 64 ? 64
                                                        : bpe->str_len[id]),
                           bpe->strings + bpe->str_off[id]);
    }

    other = infer_bpe_find(bpe, s, len);
    if (other >= 0) {
        return infer_error(cx->err, cx->errlen, "%s: %s: \"%.*s\" is the id "
                           "%d already", cx->fname, where,
                           (int) (len > 64 ? 64 : len), s, (int) other);
    }

    if (bpe->strings_len + len > bpe->strings_cap) {
        return infer_error(cx->err, cx->errlen, "%s: %s: more token bytes "
                           "than counted", cx->fname, where);
    }

    h = infer_bpe_hash(s, len);

    for (i = h & bpe->mask; bpe->slots[i].id >= 0; i = (i + 1) & bpe->mask) {
        /* void */
    }

    bpe->slots[i].hash = h;
    bpe->slots[i].id = id;
    bpe->str_off[id] = (uint32_t) bpe->strings_len;
    bpe->str_len[id] = (uint32_t) len;
    bpe->type[id] = (uint8_t) type;
    memcpy(bpe->strings + bpe->strings_len, s, len);
    bpe->strings_len += len;
    bpe->vocab_size++;

    return 0;
}


int
infer_bpe_merges_init(infer_bpe_t *bpe, size_t n, infer_bpe_ctx_t *cx)
{
    size_t    cap, i;
    unsigned  bits;

    if (n > INFER_BPE_MAX_IDS) {
        return infer_error(cx->err, cx->errlen, "%s: more than %d merges",
                           cx->fname, INFER_BPE_MAX_IDS);
    }

    for (cap = 16, bits = 4; cap < 2 * n; cap *= 2, bits++) { /* void */ }

    bpe->merges = malloc(cap * sizeof(infer_bpe_merge_t));
    if (bpe->merges == NULL) {
        return infer_error(cx->err, cx->errlen, "%s: out of memory",
                           cx->fname);
    }

    for (i = 0; i < cap; i++) {
        bpe->merges[i].key = INFER_BPE_NO_PAIR;
    }

    bpe->mmask = cap - 1;
    bpe->mshift = 64 - bits;

    return 0;
}


int
infer_bpe_add_merge(infer_bpe_t *bpe, const char *a, size_t alen,
    const char *b, size_t blen, const char *where, infer_bpe_ctx_t *cx)
{
    int32_t                   ia, ib, id;
    uint64_t                  key, i;
    infer_bpe_merge_t        *m;
    const infer_bpe_merge_t  *old;
    char                      ab[2 * INFER_BPE_MAX_TOKEN];

    ia = infer_bpe_find(bpe, a, alen);
    ib = infer_bpe_find(bpe, b, blen);

    if (ia < 0 || ib < 0) {
        return infer_error(cx->err, cx->errlen, "%s: %s: \"%.*s\" is not in "
                           "the vocabulary", cx->fname, where,
                           ia < 0 ? (int) (alen > 64 ? 64 : alen)
                                  : (int) (blen > 64 ? 64 : blen),
                           ia < 0 ? a : b);
    }

    memcpy(ab, a, alen);
    memcpy(ab + alen, b, blen);

    id = alen + blen <= INFER_BPE_MAX_TOKEN
         ? infer_bpe_find(bpe, ab, alen + blen) : -1;

    if (id < 0) {
        return infer_error(cx->err, cx->errlen, "%s: %s: what it makes, "
                           "\"%.*s\", is not in the vocabulary", cx->fname,
                           where, (int) (alen + blen > 64 ? 64 : alen + blen),
                           ab);
    }

    old = infer_bpe_pair(bpe, ia, ib);
    if (old != NULL) {
        /* tokenizers keeps the last rank, llama.cpp the first */
        return infer_error(cx->err, cx->errlen, "%s: %s: the pair is merged "
                           "twice (as merge %u too)", cx->fname, where,
                           (unsigned) old->rank);
    }

    if (bpe->n_merges >= (bpe->mmask + 1) / 2) {
        return infer_error(cx->err, cx->errlen, "%s: %s: more merges than "
                           "counted", cx->fname, where);
    }

    key = (uint64_t) (uint32_t) ia << 32 | (uint32_t) ib;

    for (i = (key * 0x9e3779b97f4a7c15ull) >> bpe->mshift;
         bpe->merges[i].key != INFER_BPE_NO_PAIR; i = (i + 1) & bpe->mmask)
    {
        /* void */
    }

    m = &bpe->merges[i];
    m->key = key;
    m->rank = (uint32_t) bpe->n_merges++;
    m->id = id;

    return 0;
}


static int
infer_bpe_cmp_added(const void *pa, const void *pb)
{
    const infer_bpe_added_t  *a, *b;

    a = pa;
    b = pb;

    if (a->first != b->first) {
        return a->first < b->first ? -1 : 1;
    }

    if (a->len != b->len) {
        return a->len > b->len ? -1 : 1;
    }

    return a->id < b->id ? -1 : a->id > b->id;
}


/*
 * The tables that follow from the tokens: each byte's token, each token's
 * bytes, the added tokens by first byte.
 */
int
infer_bpe_finish(infer_bpe_t *bpe, infer_bpe_ctx_t *cx)
{
    int          back[0x144];
    char         c[8];
    size_t       id, i, k, n, len, off;
    uint32_t     cp;
    const char  *s;

    for (i = 0; i < 0x144; i++) {
        back[i] = -1;
    }

    /* a byte without a token (SmolLM2 has none for 21, 0x04 among them)
     * is tokenizers' byte fallback <0xHH>, else its unk_token, else
     * nothing */
    for (i = 0; i < 256; i++) {
        cp = infer_bpe_byte_char((unsigned) i);
        back[cp] = (int) i;
        n = infer_bpe_put_char(c, cp);
        bpe->byte_id[i] = infer_bpe_find(bpe, c, n);

        if (bpe->byte_id[i] < 0 && bpe->byte_fallback) {
            snprintf(c, sizeof(c), "<0x%02X>", (unsigned) i);
            bpe->byte_id[i] = infer_bpe_find(bpe, c, 6);
        }

        if (bpe->byte_id[i] < 0) {
            bpe->byte_id[i] = INFER_BPE_MISSING;
        }
    }

    /* a vocabulary token's bytes are those its characters stand for; one
     * with a character that stands for none is its own bytes, as the
     * ByteLevel decoder of tokenizers has it; added tokens are their
     * text, as llama.cpp has it */
    bpe->bytes = malloc(bpe->strings_len + 1);
    bpe->byte_off = calloc(bpe->n_ids, sizeof(uint32_t));
    bpe->byte_len = calloc(bpe->n_ids, sizeof(uint32_t));

    if (bpe->bytes == NULL || bpe->byte_off == NULL
        || bpe->byte_len == NULL)
    {
        return infer_error(cx->err, cx->errlen, "%s: out of memory",
                           cx->fname);
    }

    off = 0;
    n = 0;

    for (id = 0; id < bpe->n_ids; id++) {
        len = bpe->str_len[id];
        s = bpe->strings + bpe->str_off[id];
        bpe->byte_off[id] = (uint32_t) off;

        if (len == 0) {
            continue;
        }

        k = 0;

        if (bpe->type[id] != INFER_BPE_CONTROL
            && bpe->type[id] != INFER_BPE_USER_DEFINED)
        {
            for (i = 0; i < len; i++) {
                cp = (unsigned char) s[i];

                /* the characters bytes stand for are below U+0144: one
                 * byte, or two that start with 0xc2 to 0xc5 */
                if (cp >= 0xc2 && cp < 0xc6 && i + 1 < len) {
                    cp = ((cp & 0x1f) << 6) | ((unsigned char) s[++i] & 0x3f);

                } else if (cp >= 0x80) {
                    break;
                }

                if (cp >= 0x144 || back[cp] < 0) {
                    break;
                }

                bpe->bytes[off + k++] = (char) back[cp];
            }

            if (i < len) {
                k = 0;
            }
        }

        if (k == 0) {
            memcpy(bpe->bytes + off, s, len);
            k = len;
        }

        bpe->byte_len[id] = (uint32_t) k;
        off += k;

        if (k > bpe->max_bytes) {
            bpe->max_bytes = k;
        }

        n += bpe->type[id] == INFER_BPE_CONTROL
             || bpe->type[id] == INFER_BPE_USER_DEFINED
             || bpe->type[id] == INFER_BPE_UNKNOWN;
    }

    /* the added tokens: matched in the text before pre-tokenization */
    bpe->added = malloc((n ? n : 1) * sizeof(infer_bpe_added_t));
    if (bpe->added == NULL) {
        return infer_error(cx->err, cx->errlen, "%s: out of memory",
                           cx->fname);
    }

    bpe->n_added = 0;

    for (id = 0; id < bpe->n_ids; id++) {
        switch (bpe->type[id]) {

        case INFER_BPE_USER_DEFINED:
            bpe->any_plain = 1;
            /* fall through */

        case INFER_BPE_CONTROL:
        case INFER_BPE_UNKNOWN:
            bpe->added[bpe->n_added].id = (int32_t) id;
            bpe->added[bpe->n_added].len = bpe->str_len[id];
            bpe->added[bpe->n_added].first =
                (unsigned char) bpe->strings[bpe->str_off[id]];
            bpe->added[bpe->n_added].special =
                bpe->type[id] != INFER_BPE_USER_DEFINED;
            bpe->n_added++;
            break;

        default:
            break;
        }
    }

    qsort(bpe->added, bpe->n_added, sizeof(infer_bpe_added_t),
          infer_bpe_cmp_added);

    for (i = 0, k = 0; i <= 256; i++) {
        while (k < bpe->n_added && bpe->added[k].first < i) {
            k++;
        }

        bpe->afirst[i] = (uint32_t) k;
    }

    return 0;
}


void
infer_bpe_info(const infer_bpe_t *bpe, infer_bpe_info_t *info)
{
    memset(info, 0, sizeof(infer_bpe_info_t));

    info->n_ids = bpe->n_ids;
    info->vocab_size = bpe->vocab_size;
    info->n_merges = bpe->n_merges;
    info->n_added = bpe->n_added;
    info->max_token_bytes = bpe->max_bytes;
    info->bos_id = bpe->bos_id;
    info->eos_id = bpe->eos_id;
    info->eot_id = bpe->eot_id;
    info->unk_id = bpe->unk_id;
    info->pad_id = bpe->pad_id;
    info->n_head = bpe->n_head;
    info->n_tail = bpe->n_tail;
    info->ignore_merges = bpe->ignore_merges;
    info->pre = bpe->pre;
    info->n_pre_steps = bpe->n_steps;
}


/* --- a GGUF's arrays ----------------------------------------------------- */

static int
infer_bpe_gguf_id(int64_t v, const char *key, int32_t *id,
    const infer_bpe_t *bpe, infer_bpe_ctx_t *cx)
{
    if (v < 0) {
        *id = -1;
        return 0;
    }

    if ((uint64_t) v >= bpe->n_ids) {
        return infer_error(cx->err, cx->errlen, "%s: tokenizer.ggml.%s: %lld "
                           "is not a token (0 to %zu)", cx->fname, key,
                           (long long) v, bpe->n_ids - 1);
    }

    *id = (int32_t) v;

    return 0;
}


static int
infer_bpe_gguf(infer_bpe_t *bpe, const infer_bpe_gguf_t *g,
    infer_bpe_ctx_t *cx)
{
    int          type, add_bos;
    char         where[64];
    size_t       i, sp;
    const char  *s;

    for (i = 0; i < g->n_tokens; i++) {
        type = g->token_types ? g->token_types[i] : INFER_BPE_NORMAL;

        if (type < INFER_BPE_NORMAL || type > INFER_BPE_BYTE
            || type == INFER_BPE_BYTE)
        {
            return infer_error(cx->err, cx->errlen, "%s: tokenizer.ggml."
                               "token_type[%zu]: %d is not supported "
                               "(supported: 1 to 5; 6, a byte token, is "
                               "SentencePiece's)", cx->fname, i, type);
        }

        snprintf(where, sizeof(where), "tokenizer.ggml.tokens[%zu]", i);

        if (infer_bpe_add_token(bpe, g->tokens[i].data, g->tokens[i].len,
                                (int32_t) i, type, where, cx)
            != 0)
        {
            return -1;
        }
    }

    if (infer_bpe_merges_init(bpe, g->n_merges, cx) != 0) {
        return -1;
    }

    /* "a b", split at the first space after the first byte (llama.cpp's
     * way: a token may begin with a space, though byte-level ones do not) */
    for (i = 0; i < g->n_merges; i++) {
        snprintf(where, sizeof(where), "tokenizer.ggml.merges[%zu]", i);
        s = g->merges[i].data;

        for (sp = 1; sp < g->merges[i].len && s[sp] != ' '; sp++) {
            /* void */
        }

        if (sp + 1 >= g->merges[i].len) {
            return infer_error(cx->err, cx->errlen, "%s: %s: \"%.*s\" is not "
                               "two tokens and a space", cx->fname, where,
                               (int) (g->merges[i].len > 64
                                      ? 64 : g->merges[i].len), s);
        }

        if (infer_bpe_add_merge(bpe, s, sp, s + sp + 1,
                                g->merges[i].len - sp - 1, where, cx)
            != 0)
        {
            return -1;
        }
    }

    if (infer_bpe_gguf_id(g->bos_id, "bos_token_id", &bpe->bos_id, bpe, cx)
        != 0
        || infer_bpe_gguf_id(g->eos_id, "eos_token_id", &bpe->eos_id, bpe,
                             cx) != 0
        || infer_bpe_gguf_id(g->eot_id, "eot_token_id", &bpe->eot_id, bpe,
                             cx) != 0
        || infer_bpe_gguf_id(g->unk_id, "unknown_token_id", &bpe->unk_id,
                             bpe, cx) != 0
        || infer_bpe_gguf_id(g->pad_id, "padding_token_id", &bpe->pad_id,
                             bpe, cx) != 0)
    {
        return -1;
    }

    if (infer_bpe_pre_named(bpe, g->pre.data, g->pre.len, &add_bos,
                            "tokenizer.ggml.pre", cx) != 0)
    {
        return -1;
    }

    /* the file's key, else what llama.cpp does for the pre-tokenizer */
    if (g->add_bos >= 0) {
        add_bos = g->add_bos;
    }

    if (add_bos) {
        if (bpe->bos_id < 0) {
            return infer_error(cx->err, cx->errlen, "%s: tokenizer.ggml."
                               "add_bos_token: true%s, but no bos_token_id",
                               cx->fname, g->add_bos >= 0 ? ""
                               : " (the default of the pre-tokenizer)");
        }

        bpe->head[bpe->n_head++] = bpe->bos_id;
    }

    if (g->add_eos > 0) {
        if (bpe->eos_id < 0) {
            return infer_error(cx->err, cx->errlen, "%s: tokenizer.ggml."
                               "add_eos_token: true, but no eos_token_id",
                               cx->fname);
        }

        bpe->tail[bpe->n_tail++] = bpe->eos_id;
    }

    return 0;
}


infer_bpe_t *
infer_bpe_load_gguf(const infer_bpe_gguf_t *g, const char *name, char *err,
    size_t errlen)
{
    size_t           i, bytes;
    infer_bpe_t     *bpe;
    infer_bpe_ctx_t  cx;

    cx.fname = name;
    cx.err = err;
    cx.errlen = errlen;

    if (g->model.data == NULL || g->model.len != 4
        || memcmp(g->model.data, "gpt2", 4) != 0)
    {
        infer_error(err, errlen, "%s: tokenizer.ggml.model: \"%.*s\" is not "
                    "supported (supported: gpt2, byte-level BPE)", name,
                    g->model.data ? (int) (g->model.len > 64
                                           ? 64 : g->model.len) : 7,
                    g->model.data ? g->model.data : "missing");
        return NULL;
    }

    if (g->tokens == NULL || g->n_tokens == 0
        || (g->n_merges > 0 && g->merges == NULL))
    {
        infer_error(err, errlen, "%s: tokenizer.ggml.%s: missing or empty",
                    name, g->tokens == NULL || g->n_tokens == 0 ? "tokens"
                                                                : "merges");
        return NULL;
    }

    bytes = 0;

    for (i = 0; i < g->n_tokens && bytes < (size_t) 1 << 30; i++) {
        bytes += g->tokens[i].len;
    }

    bpe = infer_bpe_new(g->n_tokens, bytes, &cx);
    if (bpe == NULL) {
        return NULL;
    }

    if (infer_bpe_gguf(bpe, g, &cx) != 0 || infer_bpe_finish(bpe, &cx) != 0) {
        infer_bpe_free(bpe);
        return NULL;
    }

    return bpe;
}
