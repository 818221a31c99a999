/*
 * ngx_infer: stop strings over streamed text (infer_stop.h).  The held
 * bytes and the new piece are laid end to end in the caller's out, which
 * has room for both; the search is naive (a piece is a few bytes, the
 * stops at most 4 of 64), and what is left after the release goes back
 * to the held bytes.
 */

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "infer_stop.h"


static int infer_stop_utf8(const unsigned char *p, size_t len);
static size_t infer_stop_find(const infer_stop_t *st, const char *c,
    size_t len, int *which);
static size_t infer_stop_partial(const infer_stop_t *st, const char *c,
    size_t len);


/* valid UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF */

static int
infer_stop_utf8(const unsigned char *p, size_t len)
{
    size_t    i, k, n;
    uint32_t  cp, min;

    for (i = 0; i < len; i += n) {
        if (p[i] < 0x80) {
            n = 1;
            continue;
        }

        if ((p[i] & 0xe0) == 0xc0) {
            n = 2;
            cp = p[i] & 0x1f;
            min = 0x80;

        } else if ((p[i] & 0xf0) == 0xe0) {
            n = 3;
            cp = p[i] & 0x0f;
            min = 0x800;

        } else if ((p[i] & 0xf8) == 0xf0) {
            n = 4;
            cp = p[i] & 0x07;
            min = 0x10000;

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

        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return 0;
        }
    }

    return 1;
}


int
infer_stop_init(infer_stop_t *st, const char *const *stops,
    const size_t *lens, int n, char *err, size_t errlen)
{
    int  i;

    memset(st, 0, sizeof(infer_stop_t));
    st->hit = -1;

    if (n < 0 || n > INFER_STOP_MAX) {
        snprintf(err, errlen, "'stop' may have at most %d strings",
                 INFER_STOP_MAX);
        return -1;
    }

    for (i = 0; i < n; i++) {
        if (lens[i] == 0 || lens[i] > INFER_STOP_MAX_LEN) {
            snprintf(err, errlen, "'stop': each string must be 1 to %d "
                     "bytes long", INFER_STOP_MAX_LEN);
            return -1;
        }

        if (!infer_stop_utf8((const unsigned char *) stops[i], lens[i])) {
            snprintf(err, errlen, "'stop': a string is not valid UTF-8");
            return -1;
        }

        memcpy(st->stop[i], stops[i], lens[i]);
        st->len[i] = lens[i];
    }

    st->n = n;

    return 0;
}


/* the earliest start of a whole stop string in c, or len; *which: its stop */

static size_t
infer_stop_find(const infer_stop_t *st, const char *c, size_t len,
    int *which)
{
    int     j;
    size_t  i;

    for (i = 0; i < len; i++) {
        for (j = 0; j < st->n; j++) {
            if (st->len[j] <= len - i && c[i] == st->stop[j][0]
                && memcmp(c + i, st->stop[j], st->len[j]) == 0)
            {
                *which = j;
                return i;
            }
        }
    }

    return len;
}


/*
 * The earliest start of a suffix of c that is a proper prefix of a stop
 * string (one that more text could complete), or len
 */

static size_t
infer_stop_partial(const infer_stop_t *st, const char *c, size_t len)
{
    int     j;
    size_t  i;

    i = (len > INFER_STOP_MAX_HELD) ? len - INFER_STOP_MAX_HELD : 0;

    for ( /* void */ ; i < len; i++) {
        for (j = 0; j < st->n; j++) {
            if (len - i < st->len[j]
                && memcmp(c + i, st->stop[j], len - i) == 0)
            {
                return i;
            }
        }
    }

    return len;
}


int
infer_stop_feed(infer_stop_t *st, const char *text, size_t len,
    char *out, size_t *out_len)
{
    int     which;
    size_t  n, q, s;

    if (st->done) {
        *out_len = 0;
        return st->hit >= 0;
    }

    memcpy(out, st->held, st->held_len);
    memcpy(out + st->held_len, text, len);
    n = st->held_len + len;

    which = -1;
    q = infer_stop_find(st, out, n, &which);
    s = infer_stop_partial(st, out, n);

    /* a stop string, and nothing that starts before it can still be one */
    if (q < n && q <= s) {
        st->done = 1;
        st->hit = which;
        st->held_len = 0;
        *out_len = q;
        return 1;
    }

    /* s < q: the held bytes are a prefix of a stop, so fewer than 64 */
    st->held_len = n - s;
    memcpy(st->held, out + s, n - s);
    *out_len = s;

    return 0;
}


void
infer_stop_finish(infer_stop_t *st, char *out, size_t *out_len)
{
    int  which;

    *out_len = 0;

    if (st->done) {
        return;
    }

    st->done = 1;

    /* a stop found but waiting for a longer one that starts earlier */
    which = -1;
    *out_len = infer_stop_find(st, st->held, st->held_len, &which);
    st->hit = which;
    memcpy(out, st->held, *out_len);
    st->held_len = 0;
}
