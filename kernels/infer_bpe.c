/*
 * ngx_infer: byte-level BPE (infer_bpe.h): the merge loop, encoding,
 * decoding and the stream decoder (infer_bpe_load.c builds the tables).
 *
 * The merges are a hash table keyed by the pair of ids (a << 32 | b),
 * which gives the pair's rank and the id it makes.  A piece of
 * pre-tokenized text starts as one token per byte (GPT-2's
 * bytes_to_unicode() names them) and its pairs are merged lowest rank
 * first, the leftmost of equal ranks first, as `tokenizers`' Word::
 * merge_all() and llama.cpp's llm_tokenizer_bpe do: on short pieces by a
 * scan of the pairs' ranks, on long ones by a binary heap of (rank,
 * position) over a linked list of the symbols, whose stale entries are
 * skipped when popped.  Both give the same merges in the same order.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer_util.h"
#include "infer_bpe_impl.h"


/* pieces up to this many bytes are merged by scanning their pairs */
#define INFER_BPE_SCAN_MAX  48


static int infer_bpe_run(const infer_bpe_t *bpe, infer_bpe_state_t *st,
    const char *text, size_t len, unsigned flags, int32_t *ids,
    size_t max_ids, size_t *n_ids, char *err, size_t errlen);
static int infer_bpe_grow(infer_bpe_state_t *st, size_t n);


/* --- the state ----------------------------------------------------------- */

infer_bpe_state_t *
infer_bpe_state_create(const infer_bpe_t *bpe)
{
    infer_bpe_state_t  *st;

    st = calloc(1, sizeof(infer_bpe_state_t));
    if (st == NULL) {
        return NULL;
    }

    st->bpe = bpe;
    st->cache = calloc(INFER_BPE_CACHE, sizeof(infer_bpe_cached_t));

    if (st->cache == NULL || infer_bpe_pre_state(bpe, st) != 0
        || infer_bpe_grow(st, 256) != 0)
    {
        infer_bpe_state_free(st);
        return NULL;
    }

    return st;
}


void
infer_bpe_state_free(infer_bpe_state_t *st)
{
    if (st == NULL) {
        return;
    }

    infer_bpe_pre_state_free(st);
    free(st->sym);
    free(st->made);
    free(st->rank);
    free(st->prev);
    free(st->next);
    free(st->heap);
    free(st->word);
    free(st->cache);
    free(st);
}


static int
infer_bpe_grow(infer_bpe_state_t *st, size_t n)
{
    void    *p[7];
    size_t   cap, i;

    if (n <= st->cap) {
        return 0;
    }

    for (cap = st->cap ? st->cap : 256; cap < n; cap *= 2) { /* void */ }

    p[0] = realloc(st->sym, cap * sizeof(int32_t));
    if (p[0] != NULL) {
        st->sym = p[0];
    }
    p[1] = realloc(st->made, cap * sizeof(int32_t));
    if (p[1] != NULL) {
        st->made = p[1];
    }
    p[2] = realloc(st->rank, cap * sizeof(uint32_t));
    if (p[2] != NULL) {
        st->rank = p[2];
    }
    p[3] = realloc(st->prev, cap * sizeof(int32_t));
    if (p[3] != NULL) {
        st->prev = p[3];
    }
    p[4] = realloc(st->next, cap * sizeof(int32_t));
    if (p[4] != NULL) {
        st->next = p[4];
    }
    p[5] = realloc(st->heap, 3 * cap * sizeof(uint64_t));
    if (p[5] != NULL) {
        st->heap = p[5];
    }
    p[6] = realloc(st->word, 2 * cap);
    if (p[6] != NULL) {
        st->word = p[6];
    }

    for (i = 0; i < 7; i++) {
        if (p[i] == NULL) {
            return -1;
        }
    }

    st->cap = cap;

    return 0;
}


/* --- encoding ------------------------------------------------------------ */

static inline void
infer_bpe_emit(infer_bpe_run_t *r, int32_t id)
{
    if (id == INFER_BPE_MISSING) {
        return;
    }

    if (r->out != NULL && r->n < r->cap) {
        r->out[r->n] = id;
    }

    r->n++;
}


/* the pieces of up to INFER_BPE_SCAN_MAX bytes: the pairs' ranks in an
 * array, the lowest found by a scan, the array closed up after a merge */
static size_t
infer_bpe_scan(infer_bpe_run_t *r, size_t n)
{
    size_t                    i, best;
    int32_t                  *sym, *made;
    uint32_t                 *rank, lo;
    const infer_bpe_t        *bpe;
    const infer_bpe_merge_t  *m;

    bpe = r->bpe;
    sym = r->st->sym;
    made = r->st->made;
    rank = r->st->rank;

    for (i = 0; i + 1 < n; i++) {
        m = infer_bpe_pair(bpe, sym[i], sym[i + 1]);
        rank[i] = m ? m->rank : UINT32_MAX;
        made[i] = m ? m->id : -1;
    }

    while (n > 1) {
        lo = UINT32_MAX;
        best = 0;

        for (i = 0; i + 1 < n; i++) {
            if (rank[i] < lo) {
                lo = rank[i];
                best = i;
            }
        }

        if (lo == UINT32_MAX) {
            break;
        }

        sym[best] = made[best];

        if (best + 2 < n) {
            memmove(sym + best + 1, sym + best + 2,
                    (n - best - 2) * sizeof(int32_t));
        }

        if (best + 3 < n) {
            memmove(rank + best + 1, rank + best + 2,
                    (n - best - 3) * sizeof(uint32_t));
            memmove(made + best + 1, made + best + 2,
                    (n - best - 3) * sizeof(int32_t));
        }

        n--;

        if (best + 1 < n) {
            m = infer_bpe_pair(bpe, sym[best], sym[best + 1]);
            rank[best] = m ? m->rank : UINT32_MAX;
            made[best] = m ? m->id : -1;
        }

        if (best > 0) {
            m = infer_bpe_pair(bpe, sym[best - 1], sym[best]);
            rank[best - 1] = m ? m->rank : UINT32_MAX;
            made[best - 1] = m ? m->id : -1;
        }
    }

    return n;
}


static inline void
infer_bpe_push(uint64_t *heap, size_t *n, uint64_t v)
{
    size_t  i, up;

    for (i = (*n)++; i > 0; i = up) {
        up = (i - 1) / 2;

        if (heap[up] <= v) {
            break;
        }

        heap[i] = heap[up];
    }

    heap[i] = v;
}


static inline uint64_t
infer_bpe_pop(uint64_t *heap, size_t *n)
{
    size_t    i, c;
    uint64_t  top, v;

    top = heap[0];
    v = heap[--(*n)];

    for (i = 0; (c = 2 * i + 1) < *n; i = c) {
        if (c + 1 < *n && heap[c + 1] < heap[c]) {
            c++;
        }

        if (v <= heap[c]) {
            break;
        }

        heap[i] = heap[c];
    }

    heap[i] = v;

    return top;
}


/* the longer pieces: a heap of (rank << 32 | position) over a linked list */
static size_t
infer_bpe_heap(infer_bpe_run_t *r, size_t n)
{
    size_t                    i, nh;
    int32_t                  *sym, *prev, *next, p, q;
    uint32_t                  rank;
    uint64_t                 *heap, top;
    const infer_bpe_t        *bpe;
    const infer_bpe_merge_t  *m;

    bpe = r->bpe;
    sym = r->st->sym;
    prev = r->st->prev;
    next = r->st->next;
    heap = r->st->heap;
    nh = 0;

    for (i = 0; i < n; i++) {
        prev[i] = (int32_t) i - 1;
        next[i] = i + 1 < n ? (int32_t) i + 1 : -1;

        if (i + 1 < n) {
            m = infer_bpe_pair(bpe, sym[i], sym[i + 1]);
            if (m != NULL) {
                infer_bpe_push(heap, &nh, (uint64_t) m->rank << 32 | i);
            }
        }
    }

    while (nh > 0) {
        top = infer_bpe_pop(heap, &nh);
        p = (int32_t) (top & 0xffffffff);
        rank = (uint32_t) (top >> 32);

        q = next[p];
        if (sym[p] < 0 || q < 0) {
            continue;
        }

        m = infer_bpe_pair(bpe, sym[p], sym[q]);
        if (m == NULL || m->rank != rank) {
            continue;    /* stale: one of the two has been merged since */
        }

        sym[p] = m->id;
        sym[q] = -1;
        next[p] = next[q];

        if (next[q] >= 0) {
            prev[next[q]] = p;
        }

        if (prev[p] >= 0) {
            m = infer_bpe_pair(bpe, sym[prev[p]], sym[p]);
            if (m != NULL) {
                infer_bpe_push(heap, &nh,
                               (uint64_t) m->rank << 32
                               | (uint32_t) prev[p]);
            }
        }

        if (next[p] >= 0) {
            m = infer_bpe_pair(bpe, sym[p], sym[next[p]]);
            if (m != NULL) {
                infer_bpe_push(heap, &nh,
                               (uint64_t) m->rank << 32 | (uint32_t) p);
            }
        }
    }

    /* the symbols left, closed up */
    for (p = 0, i = 0; p >= 0; p = next[p]) {
        sym[i++] = sym[p];
    }

    return i;
}


int
infer_bpe_word(infer_bpe_run_t *r, const unsigned char *s, size_t len)
{
    size_t               i, k;
    int32_t              id, *sym;
    uint32_t             h;
    infer_bpe_cached_t  *c;
    const infer_bpe_t   *bpe;

    bpe = r->bpe;

    if (len == 1 && bpe->byte_id[s[0]] != INFER_BPE_MISSING) {
        infer_bpe_emit(r, bpe->byte_id[s[0]]);
        return 0;
    }

    /* a short piece seen before: text repeats its words */
    c = NULL;

    if (len <= INFER_BPE_CACHE_BYTES) {
        h = infer_bpe_hash((const char *) s, len);
        c = &r->st->cache[h & (INFER_BPE_CACHE - 1)];

        if (c->len == len && memcmp(c->bytes, s, len) == 0) {
            for (i = 0; i < c->n; i++) {
                infer_bpe_emit(r, c->ids[i]);
            }

            return 0;
        }
    }

    if (len >= (size_t) 1 << 31 || infer_bpe_grow(r->st, len) != 0) {
        return infer_error(r->err, r->errlen, "out of memory for a piece of "
                           "%zu bytes", len);
    }

    sym = r->st->sym;
    k = 0;

    /* Llama 3: a piece that is a token is that token, whatever the merges
     * would make of it */
    if (bpe->ignore_merges && len <= INFER_BPE_MAX_TOKEN) {
        for (i = 0; i < len; i++) {
            k += infer_bpe_put_char(r->st->word + k, infer_bpe_byte_char(s[i]));
        }

        id = infer_bpe_find(bpe, r->st->word, k);
        k = 0;

        if (id >= 0) {
            sym[k++] = id;
        }
    }

    if (k == 0) {
        for (i = 0; i < len; i++) {
            id = bpe->byte_id[s[i]];

            if (id == INFER_BPE_MISSING && bpe->missing >= 0) {
                /* tokenizers' unk_token, a run of them one with fuse_unk */
                if (bpe->fuse_missing && i > 0
                    && bpe->byte_id[s[i - 1]] == INFER_BPE_MISSING)
                {
                    continue;
                }

                id = bpe->missing;
            }

            sym[k++] = id;
        }

        if (k > 1) {
            k = k <= INFER_BPE_SCAN_MAX ? infer_bpe_scan(r, k)
                                        : infer_bpe_heap(r, k);
        }
    }

    for (i = 0; i < k; i++) {
        infer_bpe_emit(r, sym[i]);
    }

    if (c != NULL && k <= INFER_BPE_CACHE_IDS) {
        c->len = (uint8_t) len;
        c->n = (uint8_t) k;
        memcpy(c->bytes, s, len);
        memcpy(c->ids, sym, k * sizeof(int32_t));
    }

    return 0;
}


/* the longest added token at p that flags allow, or NULL */
static inline const infer_bpe_added_t *
infer_bpe_match_added(const infer_bpe_t *bpe, const unsigned char *p,
    size_t left, unsigned flags)
{
    size_t                    i, len;
    const infer_bpe_added_t  *a;

    for (i = bpe->afirst[p[0]]; i < bpe->afirst[p[0] + 1]; i++) {
        a = &bpe->added[i];
        len = a->len;

        if (len <= left && (!a->special || (flags & INFER_BPE_SPECIAL))
            && memcmp(bpe->strings + bpe->str_off[a->id], p, len) == 0)
        {
            return a;
        }
    }

    return NULL;
}


static int
infer_bpe_run(const infer_bpe_t *bpe, infer_bpe_state_t *st,
    const char *text, size_t len, unsigned flags, int32_t *ids,
    size_t max_ids, size_t *n_ids, char *err, size_t errlen)
{
    int                       rc;
    size_t                    i, valid;
    infer_bpe_run_t           r;
    infer_bpe_state_t        *own;
    const unsigned char      *p, *sec, *end;
    const infer_bpe_added_t  *a;

    valid = infer_bpe_utf8((const unsigned char *) text, len);
    if (valid != len) {
        return infer_error(err, errlen, "invalid UTF-8 at byte %zu of the "
                           "text", valid);
    }

    /* its cache holds another tokenizer's ids */
    if (st != NULL && st->bpe != bpe) {
        return infer_error(err, errlen, "the state is another tokenizer's");
    }

    own = NULL;
    if (st == NULL) {
        own = st = infer_bpe_state_create(bpe);
        if (st == NULL) {
            return infer_error(err, errlen, "out of memory");
        }
    }

    r.bpe = bpe;
    r.st = st;
    r.out = ids;
    r.cap = max_ids;
    r.n = 0;
    r.err = err;
    r.errlen = errlen;
    rc = 0;

    if (flags & INFER_BPE_ADD_SPECIAL) {
        for (i = 0; i < bpe->n_head; i++) {
            infer_bpe_emit(&r, bpe->head[i]);
        }
    }

    p = (const unsigned char *) text;
    end = p + len;
    sec = p;

    if (bpe->n_added > 0 && (bpe->any_plain || (flags & INFER_BPE_SPECIAL))) {
        while (p < end) {
            if (bpe->afirst[p[0]] == bpe->afirst[p[0] + 1]) {
                p++;
                continue;
            }

            a = infer_bpe_match_added(bpe, p, (size_t) (end - p), flags);
            if (a == NULL) {
                p++;
                continue;
            }

            if (p > sec) {
                rc = infer_bpe_pre_split(&r, sec, (size_t) (p - sec), 0);
                if (rc != 0) {
                    goto done;
                }
            }

            infer_bpe_emit(&r, a->id);
            p += bpe->str_len[a->id];
            sec = p;
        }
    }

    if (end > sec) {
        rc = infer_bpe_pre_split(&r, sec, (size_t) (end - sec), 0);
        if (rc != 0) {
            goto done;
        }
    }

    if (flags & INFER_BPE_ADD_SPECIAL) {
        for (i = 0; i < bpe->n_tail; i++) {
            infer_bpe_emit(&r, bpe->tail[i]);
        }
    }

    *n_ids = r.n;

done:

    infer_bpe_state_free(own);

    return rc;
}


int
infer_bpe_encode(const infer_bpe_t *bpe, infer_bpe_state_t *st,
    const char *text, size_t len, unsigned flags, int32_t *ids,
    size_t max_ids, size_t *n_ids, char *err, size_t errlen)
{
    size_t  n;

    if (infer_bpe_run(bpe, st, text, len, flags, ids, max_ids, &n, err,
                      errlen)
        != 0)
    {
        return -1;
    }

    if (n > max_ids) {
        return infer_error(err, errlen, "the text is %zu tokens, more than "
                           "the %zu allowed", n, max_ids);
    }

    *n_ids = n;

    return 0;
}


int
infer_bpe_count(const infer_bpe_t *bpe, infer_bpe_state_t *st,
    const char *text, size_t len, unsigned flags, size_t *n_ids, char *err,
    size_t errlen)
{
    return infer_bpe_run(bpe, st, text, len, flags, NULL, 0, n_ids, err,
                         errlen);
}


/* --- decoding ------------------------------------------------------------ */

static inline int
infer_bpe_valid_id(const infer_bpe_t *bpe, int32_t id)
{
    return id >= 0 && (size_t) id < bpe->n_ids && bpe->str_len[id] != 0;
}


/* the bytes id is written as, under flags: as llama.cpp's
 * token_to_piece(), nothing for an unused token, and for a control or
 * unknown one without INFER_BPE_SPECIAL */
static inline const char *
infer_bpe_out(const infer_bpe_t *bpe, int32_t id, unsigned flags,
    size_t *len)
{
    if (bpe->type[id] == INFER_BPE_UNUSED
        || (!(flags & INFER_BPE_SPECIAL)
            && (bpe->type[id] == INFER_BPE_CONTROL
                || bpe->type[id] == INFER_BPE_UNKNOWN)))
    {
        *len = 0;
        return "";
    }

    *len = bpe->byte_len[id];

    return bpe->bytes + bpe->byte_off[id];
}


int
infer_bpe_decode(const infer_bpe_t *bpe, const int32_t *ids, size_t n_ids,
    unsigned flags, char *out, size_t cap, size_t *n, char *err,
    size_t errlen)
{
    size_t       i, len, off;
    const char  *s;

    off = 0;

    for (i = 0; i < n_ids; i++) {
        if (!infer_bpe_valid_id(bpe, ids[i])) {
            *n = off;
            return infer_error(err, errlen, "ids[%zu]: %d names no token",
                               i, (int) ids[i]);
        }

        s = infer_bpe_out(bpe, ids[i], flags, &len);

        if (off + len <= cap) {
            memcpy(out + off, s, len);
        }

        off += len;
    }

    *n = off;

    if (off > cap) {
        return infer_error(err, errlen, "the text is %zu bytes, more than "
                           "the %zu of the buffer", off, cap);
    }

    return 0;
}


const char *
infer_bpe_piece(const infer_bpe_t *bpe, int32_t id, size_t *len)
{
    if (!infer_bpe_valid_id(bpe, id)) {
        return NULL;
    }

    *len = bpe->byte_len[id];

    return bpe->bytes + bpe->byte_off[id];
}


const char *
infer_bpe_token(const infer_bpe_t *bpe, int32_t id, size_t *len)
{
    if (!infer_bpe_valid_id(bpe, id)) {
        return NULL;
    }

    *len = bpe->str_len[id];

    return bpe->strings + bpe->str_off[id];
}


int32_t
infer_bpe_id(const infer_bpe_t *bpe, const char *s, size_t len)
{
    return infer_bpe_find(bpe, s, len);
}


int
infer_bpe_type(const infer_bpe_t *bpe, int32_t id)
{
    return infer_bpe_valid_id(bpe, id) ? bpe->type[id] : 0;
}


/* --- the stream decoder -------------------------------------------------- */

void
infer_bpe_stream_init(infer_bpe_stream_t *s, unsigned flags)
{
    s->nheld = 0;
    s->flags = flags;
}


size_t
infer_bpe_stream_max(const infer_bpe_t *bpe)
{
    /* U+FFFD, 3 bytes, for each byte at worst */
    return 3 * (bpe->max_bytes + 4);
}


int
infer_bpe_stream_push(const infer_bpe_t *bpe, infer_bpe_stream_t *s,
    int32_t id, char *out, size_t *n)
{
    size_t          i, k, need, have, len, total, o;
    unsigned        lo, hi;
    const char     *piece;
    unsigned char   buf[INFER_BPE_MAX_TOKEN + 4];

    if (!infer_bpe_valid_id(bpe, id)) {
        *n = 0;
        return -1;
    }

    piece = infer_bpe_out(bpe, id, s->flags, &len);

    memcpy(buf, s->held, s->nheld);
    memcpy(buf + s->nheld, piece, len);
    total = s->nheld + len;
    s->nheld = 0;
    o = 0;

    for (i = 0; i < total; /* void */) {
        need = infer_bpe_lead(buf[i], &lo, &hi);

        if (need == 1) {
            out[o++] = (char) buf[i++];
            continue;
        }

        have = total - i < need ? total - i : need;

        for (k = 1; k < have; k++) {
            if (buf[i + k] < (k == 1 ? lo : 0x80)
                || buf[i + k] > (k == 1 ? hi : 0xbf))
            {
                break;
            }
        }

        if (need == 0 || k < have) {
            /* a maximal part that no character completes */
            o += infer_bpe_put_char(out + o, 0xfffd);
            i += need == 0 ? 1 : k;
            continue;
        }

        if (have < need) {
            memcpy(s->held, buf + i, have);
            s->nheld = (uint32_t) have;
            break;
        }

        memcpy(out + o, buf + i, need);
        o += need;
        i += need;
    }

    *n = o;

    return 0;
}


void
infer_bpe_stream_flush(infer_bpe_stream_t *s, char *out, size_t *n)
{
    *n = s->nheld ? infer_bpe_put_char(out, 0xfffd) : 0;
    s->nheld = 0;
}
