/*
 * ngx_infer: the stop strings' tests (infer_stop.h), a part of
 * test_sample.c, which includes it once after tap.h: table cases, the
 * init errors, the fixtures' texts against Python's str.find, and random
 * texts, stops and splits against a brute-force reference after every
 * piece.
 */

#ifndef _INFER_TEST_STOP_TESTS_H_INCLUDED_
#define _INFER_TEST_STOP_TESTS_H_INCLUDED_


#include <string.h>

#include <jansson.h>

#include "infer_stop.h"

#include "tap.h"


/* feeds pieces until the end is found, then finishes; the whole output */

static int
stop_run(const char *const *stops, int n, const char *const *pieces,
    int n_pieces, char *text, size_t *len, int *hit)
{
    int            i, rc;
    char           out[512], err[256];
    size_t         lens[INFER_STOP_MAX], k;
    infer_stop_t   st;

    for (i = 0; i < n; i++) {
        lens[i] = strlen(stops[i]);
    }

    if (infer_stop_init(&st, stops, lens, n, err, sizeof(err)) != 0) {
        diag("%s", err);
        return -1;
    }

    *len = 0;
    rc = 0;

    for (i = 0; i < n_pieces && rc == 0; i++) {
        rc = infer_stop_feed(&st, pieces[i], strlen(pieces[i]), out, &k);
        memcpy(text + *len, out, k);
        *len += k;
    }

    infer_stop_finish(&st, out, &k);
    memcpy(text + *len, out, k);
    *len += k;
    text[*len] = '\0';
    *hit = st.hit;

    return rc;
}


static void
test_stop_table(void)
{
    int     i, rc, hit;
    char    text[512];
    size_t  len;

    static const struct {
        const char  *name;
        const char  *stops[4];
        const char  *pieces[8];
        const char  *expected;
        int          rc;           /* feed found the end */
        int          hit;
    } t[] = {
        { "split over 3 pieces", { "<|im_end|>" },
          { "Hello", " <|im", "_en", "d|> more" }, "Hello ", 1, 0 },
        { "overlap: abc after aab", { "abc" }, { "aab", "c" }, "a", 1, 0 },
        { "overlap: abc in aababc", { "abc" }, { "aaba", "bc", "x" },
          "aab", 1, 0 },
        { "at the very start", { "ab" }, { "ab", "cd" }, "", 1, 0 },
        { "at the start, in pieces", { "ab" }, { "a", "b" }, "", 1, 0 },
        { "the earliest of several", { "world", "lo" }, { "hello world" },
          "hel", 1, 1 },
        { "a longer stop that starts earlier wins", { "cd", "abcdef" },
          { "ab", "cd", "ef" }, "", 1, 1 },
        { "a longer stop that does not complete", { "cd", "abcdef" },
          { "ab", "cd", "eg" }, "ab", 1, 0 },
        { "the text ends while it waits", { "cd", "abcdef" }, { "ab", "cd" },
          "ab", 0, 0 },
        { "at one start, the first of the list", { "abc", "ab" },
          { "xabz" }, "x", 1, 1 },
        { "no stops", { NULL }, { "any", " text" }, "any text", 0, -1 },
        { "a false start", { "<|im_end|>" }, { "a <|", " b <|im_end|>" },
          "a <| b ", 1, 0 },
        { "UTF-8", { "\xe4\xb8\xad\xe6\x96\x87" },
          { "a\xe4\xb8\xad", "b\xe4\xb8\xad", "\xe6\x96\x87" "c" },
          "a\xe4\xb8\xad" "b", 1, 0 },
        { "held at the end, then released", { "abc" }, { "xxab" }, "xxab",
          0, -1 },
        { "empty pieces", { "ab" }, { "", "a", "", "b" }, "", 1, 0 }
    };

    for (i = 0; i < (int) (sizeof(t) / sizeof(t[0])); i++) {
        int  n, n_pieces;

        for (n = 0; n < 4 && t[i].stops[n]; n++) { /* void */ }
        for (n_pieces = 0; n_pieces < 8 && t[i].pieces[n_pieces];
             n_pieces++)
        { /* void */ }

        rc = stop_run(t[i].stops, n, t[i].pieces, n_pieces, text, &len,
                      &hit);
        ok(rc == t[i].rc && hit == t[i].hit
           && strcmp(text, t[i].expected) == 0,
           "stop: %s: \"%s\" (rc %d, stop %d)", t[i].name, text, rc, hit);
    }
}


static void
test_stop_steps(void)
{
    int           rc1, rc2, rc3, rc4;
    char          out[128], err[256];
    size_t        k1, k2, k3, k4, k5, len;
    const char   *stop;
    infer_stop_t  st;

    stop = "<|im_end|>";
    len = strlen(stop);
    infer_stop_init(&st, &stop, &len, 1, err, sizeof(err));

    rc1 = infer_stop_feed(&st, "Hi <|im", 7, out, &k1);
    rc2 = infer_stop_feed(&st, "_end", 4, out, &k2);
    rc3 = infer_stop_feed(&st, "|>", 2, out, &k3);
    rc4 = infer_stop_feed(&st, "more", 4, out, &k4);
    infer_stop_finish(&st, out, &k5);

    ok(rc1 == 0 && k1 == 3 && rc2 == 0 && k2 == 0 && rc3 == 1 && k3 == 0
       && rc4 == 1 && k4 == 0 && k5 == 0,
       "stop: the prefix held (3 bytes out, then 0), the end found, then "
       "nothing released, by feed or finish");
}


static void
test_stop_init(void)
{
    int           i;
    char          err[256], s64[65], s65[66];
    size_t        lens[5];
    infer_stop_t  st;
    const char   *five[5] = { "a", "b", "c", "d", "e" };
    const char   *one[1];

    static const struct {
        const char  *s;
        const char  *msg;
    } bad[] = {
        { "", "'stop': each string must be 1 to 64 bytes long" },
        { "\xff", "'stop': a string is not valid UTF-8" },
        { "\xc0\x80", "'stop': a string is not valid UTF-8" },
        { "\xed\xa0\x80", "'stop': a string is not valid UTF-8" },
        { "\xe4\xb8", "'stop': a string is not valid UTF-8" },
        { "\x80" "a", "'stop': a string is not valid UTF-8" },
        { "\xf4\x90\x80\x80", "'stop': a string is not valid UTF-8" }
    };

    for (i = 0; i < 5; i++) {
        lens[i] = 1;
    }

    ok(infer_stop_init(&st, five, lens, 5, err, sizeof(err)) == -1
       && strcmp(err, "'stop' may have at most 4 strings") == 0,
       "stop: 5 strings: %s", err);

    memset(s64, 'a', 64);
    s64[64] = '\0';
    memset(s65, 'a', 65);
    s65[65] = '\0';

    one[0] = s64;
    lens[0] = 64;
    ok(infer_stop_init(&st, one, lens, 1, err, sizeof(err)) == 0,
       "stop: 64 bytes are allowed");

    one[0] = s65;
    lens[0] = 65;
    ok(infer_stop_init(&st, one, lens, 1, err, sizeof(err)) == -1
       && strcmp(err, "'stop': each string must be 1 to 64 bytes long") == 0,
       "stop: 65 bytes: %s", err);

    for (i = 0; i < (int) (sizeof(bad) / sizeof(bad[0])); i++) {
        one[0] = bad[i].s;
        lens[0] = strlen(bad[i].s);
        err[0] = '\0';
        ok(infer_stop_init(&st, one, lens, 1, err, sizeof(err)) == -1
           && strcmp(err, bad[i].msg) == 0,
           "stop: bad string %d: %s", i, err);
    }
}


/* the fixtures' cases: Python's str.find */

static void
test_stop_fixtures(json_t *cases)
{
    int          n, n_pieces, hit, wrong;
    char         text[2048];
    size_t       i, k, len;
    json_t      *e;
    const char  *stops[4], *pieces[256];

    wrong = 0;

    for (i = 0; i < json_array_size(cases); i++) {
        e = json_array_get(cases, i);
        n = (int) json_array_size(json_object_get(e, "stops"));
        n_pieces = (int) json_array_size(json_object_get(e, "pieces"));

        if (n > 4 || n_pieces > 256) {
            wrong++;
            continue;
        }

        for (k = 0; k < (size_t) n; k++) {
            stops[k] = json_string_value(json_array_get(
                           json_object_get(e, "stops"), k));
        }

        for (k = 0; k < (size_t) n_pieces; k++) {
            pieces[k] = json_string_value(json_array_get(
                            json_object_get(e, "pieces"), k));
        }

        if (stop_run(stops, n, pieces, n_pieces, text, &len, &hit) < 0
            || strcmp(text, json_string_value(
                                json_object_get(e, "expected"))) != 0)
        {
            if (wrong++ < 3) {
                diag("case %zu: \"%s\", not \"%s\"", i, text,
                     json_string_value(json_object_get(e, "expected")));
            }
        }
    }

    ok(wrong == 0 && json_array_size(cases) > 0,
       "stop: %zu texts of the fixtures as Python's str.find cuts them "
       "(%d wrong)", json_array_size(cases), wrong);
}


/*
 * The earliest start in f[0, n) of a whole stop (*whole = 1) or of a
 * prefix of one that reaches the end of f (*whole = 0), or n
 */

static size_t
brute_cut(char stops[][65], const size_t *lens, int ns, const char *f,
    size_t n, int *whole)
{
    int     j, part;
    size_t  i, r;

    for (i = 0; i < n; i++) {
        part = 0;
        r = n - i;

        for (j = 0; j < ns; j++) {
            if (r >= lens[j] && memcmp(f + i, stops[j], lens[j]) == 0) {
                *whole = 1;
                return i;
            }

            part |= r < lens[j] && memcmp(f + i, stops[j], r) == 0;
        }

        if (part) {
            *whole = 0;
            return i;
        }
    }

    *whole = 0;

    return n;
}


static void
test_stop_random(void)
{
    int           t, j, ns, whole, rc, wrong, stops_hit;
    char          text[300], got[300], out[400], stops[4][65], err[256];
    size_t        lens[4], n, pos, k, len, cut, fin, i;
    const char   *sp[4];
    infer_stop_t  st;

    wrong = 0;
    stops_hit = 0;

    for (t = 0; t < 20000; t++) {
        ns = (int) (rnd() % 5);

        for (j = 0; j < ns; j++) {
            /* now and then a long one of a single letter */
            lens[j] = (rnd() % 8 == 0) ? 20 + rnd() % 45 : 1 + rnd() % 5;
            for (i = 0; i < lens[j]; i++) {
                stops[j][i] = (lens[j] > 6) ? 'a' : "aab c"[rnd() % 5];
            }
            sp[j] = stops[j];
        }

        n = rnd() % 200;
        for (i = 0; i < n; i++) {
            text[i] = (rnd() % 3 == 0) ? 'a' : "aab c"[rnd() % 5];
        }

        if (infer_stop_init(&st, sp, lens, ns, err, sizeof(err)) != 0) {
            wrong++;
            continue;
        }

        len = 0;
        rc = 0;

        for (pos = 0; pos < n && rc == 0; pos += k) {
            k = rnd() % 8;
            k = (k > n - pos) ? n - pos : k;

            rc = infer_stop_feed(&st, text + pos, k, out, &fin);
            memcpy(got + len, out, fin);
            len += fin;

            /* released: the fed text up to the earliest possible start */
            cut = brute_cut(stops, lens, ns, text, pos + k, &whole);
            if (len != cut || memcmp(got, text, len) != 0
                || rc != whole)
            {
                wrong++;
                rc = -1;
            }
        }

        if (rc < 0) {
            continue;
        }

        stops_hit += rc;

        infer_stop_finish(&st, out, &fin);
        memcpy(got + len, out, fin);
        len += fin;

        /* text[:min text.find(stop)] over the whole text */
        cut = n;
        for (j = 0; j < ns; j++) {
            for (i = 0; i + lens[j] <= n && i < cut; i++) {
                if (memcmp(text + i, stops[j], lens[j]) == 0) {
                    cut = i;
                    break;
                }
            }
        }

        wrong += len != cut || memcmp(got, text, len) != 0;
    }

    ok(wrong == 0 && stops_hit > 5000,
       "stop: 20000 random texts, stops and splits: each release the fed "
       "text up to the earliest possible stop, the whole the first stop's "
       "cut (%d ended by a stop; %d wrong)", stops_hit, wrong);
}


#endif /* _INFER_TEST_STOP_TESTS_H_INCLUDED_ */
