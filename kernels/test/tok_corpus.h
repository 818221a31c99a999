/*
 * ngx_infer: the tokenizer's corpus (t/lib/gen_tokenizer_corpus.py) as
 * its test and its benchmark read it: corpus.jsonl, one {"k": kind,
 * "t": text} a line, and the expected.tsv files of ids.  Included once by
 * test_tokenizer.c and bench/bench_tokenizer.c.
 */

#ifndef _INFER_TEST_TOK_CORPUS_H_INCLUDED_
#define _INFER_TEST_TOK_CORPUS_H_INCLUDED_


#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "infer_util.h"


#define TC_FILE_MAX  (512 * 1024 * 1024)

#if defined(__GNUC__)
#define TC_UNUSED  __attribute__((unused))
#else
#define TC_UNUSED
#endif


typedef struct {
    char          kind[16];
    char          skew[64];   /* "U+2E54 U+0ECE": where HF's Unicode 8.0
                                 and utf8proc's disagree; "" mostly */
    char         *text;       /* malloc()ed, NUL-terminated; may hold NULs */
    size_t        len;
} tc_line_t;


typedef struct {
    tc_line_t    *lines;
    size_t        n;
    size_t        bytes;      /* of all the texts */
} tc_corpus_t;


static void
tc_free(tc_corpus_t *c)
{
    size_t  i;

    for (i = 0; i < c->n; i++) {
        free(c->lines[i].text);
    }

    free(c->lines);
    c->lines = NULL;
    c->n = 0;
}


/* corpus.jsonl into c; -1 with err set */
static int
tc_load(tc_corpus_t *c, const char *path, char *err, size_t errlen)
{
    char          *buf, *p, *nl;
    size_t         len, cap, lineno, i, off;
    json_t        *o, *t, *k, *sk;
    tc_line_t     *l;
    json_error_t   jerr;

    memset(c, 0, sizeof(tc_corpus_t));

    buf = infer_read_file(path, TC_FILE_MAX, &len, err, errlen);
    if (buf == NULL) {
        return -1;
    }

    cap = 0;
    lineno = 0;

    for (p = buf; p < buf + len; p = nl + 1) {
        nl = memchr(p, '\n', (size_t) (buf + len - p));
        if (nl == NULL) {
            nl = buf + len;
        }

        lineno++;

        o = json_loadb(p, (size_t) (nl - p), JSON_ALLOW_NUL, &jerr);
        t = json_object_get(o, "t");
        k = json_object_get(o, "k");

        if (!json_is_string(t) || !json_is_string(k)) {
            infer_error(err, errlen, "%s: line %zu: not {\"k\": kind, "
                        "\"t\": text}: %s", path, lineno,
                        o == NULL ? jerr.text : "no strings");
            json_decref(o);
            free(buf);
            tc_free(c);
            return -1;
        }

        if (c->n == cap) {
            cap = cap ? 2 * cap : 1024;
            l = realloc(c->lines, cap * sizeof(tc_line_t));
            if (l == NULL) {
                exit(2);
            }
            c->lines = l;
        }

        l = &c->lines[c->n++];
        l->len = json_string_length(t);
        l->text = malloc(l->len + 1);
        if (l->text == NULL) {
            exit(2);
        }

        memcpy(l->text, json_string_value(t), l->len + 1);
        snprintf(l->kind, sizeof(l->kind), "%s", json_string_value(k));
        c->bytes += l->len;

        l->skew[0] = '\0';
        off = 0;
        sk = json_object_get(o, "skew");

        for (i = 0; i < json_array_size(sk) && off < sizeof(l->skew); i++) {
            off += (size_t) snprintf(l->skew + off, sizeof(l->skew) - off,
                                     "%s%s", i ? " " : "",
                                     json_string_value(json_array_get(sk, i)));
        }

        json_decref(o);
    }

    free(buf);

    return 0;
}


/* "101 7592 102" at *p, up to a tab or a newline (which *p is left at),
 * into ids[0 .. max); the count of ids, which may exceed max */
static TC_UNUSED size_t
tc_ids(char **p, int32_t *ids, size_t max)
{
    char    *s, *e;
    long     v;
    size_t   n;

    s = *p;
    n = 0;

    while (*s != '\0' && *s != '\t' && *s != '\n') {
        v = strtol(s, &e, 10);
        if (e == s) {
            s++;
            continue;
        }

        if (n < max) {
            ids[n] = (int32_t) v;
        }

        n++;
        s = e;
        while (*s == ' ') {
            s++;
        }
    }

    *p = s;

    return n;
}


#endif /* _INFER_TEST_TOK_CORPUS_H_INCLUDED_ */
