/*
 * ngx_infer: OpenAI's "stop" strings over generated text that arrives a
 * token's piece at a time, independent of nginx.
 *
 * Up to INFER_STOP_MAX strings of 1 to INFER_STOP_MAX_LEN bytes of valid
 * UTF-8 each.  The text is cut where the earliest of them starts: the
 * text released, over the whole generation, is text[:q], q the least of
 * text.find(stop) over the stops, or the whole text when none occurs.
 * Streaming gives the same answer as that definition on the whole text:
 *
 *   - what could still be the start of a stop string (a suffix of the
 *     text so far that is a prefix of one) is held back, so at most
 *     INFER_STOP_MAX_LEN - 1 bytes;
 *   - a stop string found is the end only when no earlier start is still
 *     possible: with the stops "cd" and "abcdef", the text "abcd" waits
 *     for "ef" (the cut would be at 0) or anything else (the cut at 2);
 *     then the generation goes on a few tokens, none of it released;
 *   - what has been released is never taken back; once the end is found,
 *     nothing more is released, and infer_stop_finish() releases what is
 *     held at the end of the generation (up to a stop string found in it).
 *
 * Pieces are complete UTF-8 (as a stream decoder gives them), and so is
 * every release: a stop string starts with a character's first byte.
 * The matcher is one fixed-size struct: no allocation.
 */

#ifndef _INFER_STOP_H_INCLUDED_
#define _INFER_STOP_H_INCLUDED_


#include <stddef.h>


#define INFER_STOP_MAX       4     /* OpenAI's limit */
#define INFER_STOP_MAX_LEN   64    /* bytes of one stop string */
#define INFER_STOP_MAX_HELD  (INFER_STOP_MAX_LEN - 1)


typedef struct {
    int      n;
    size_t   len[INFER_STOP_MAX];
    char     stop[INFER_STOP_MAX][INFER_STOP_MAX_LEN];
    size_t   held_len;
    char     held[INFER_STOP_MAX_HELD];
    int      done;                 /* the end found, or finish() called */
    int      hit;                  /* the stop string of the end (the
                                      first in the list of those at the
                                      earliest start), -1: none */
} infer_stop_t;


/*
 * n (0 to INFER_STOP_MAX) strings, stops[i] of lens[i] bytes; 0, or -1
 * with a message naming 'stop' as OpenAI would.
 */
int infer_stop_init(infer_stop_t *st, const char *const *stops,
    const size_t *lens, int n, char *err, size_t errlen);

/*
 * Appends len bytes of text; writes the bytes that may be sent now to out
 * (room: len + INFER_STOP_MAX_HELD) and their count to *out_len.  Returns
 * 1 when the end was found (out holds the text before the stop string,
 * every later call releases nothing and returns 1), else 0.
 */
int infer_stop_feed(infer_stop_t *st, const char *text, size_t len,
    char *out, size_t *out_len);

/* the end of the generation: releases what is held (room: MAX_HELD) */
void infer_stop_finish(infer_stop_t *st, char *out, size_t *out_len);


#endif /* _INFER_STOP_H_INCLUDED_ */
