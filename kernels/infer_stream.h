/*
 * ngx_infer: a stream of results from an executor to a request's owner,
 * for work that answers several times before it is done (a generation's
 * tokens).
 *
 * A ring of fixed-size units in shared memory (a slot's payload), written
 * by one producer (the executor thread, in any process) and read by one
 * consumer (the worker that owns the request).  Two counters that only
 * grow: produced, stored with release after the units are written, and
 * consumed, stored with release after they are read; each side reads the
 * other's with acquire.  They are 64-bit: they never wrap.  The producer writes only into room the consumer
 * has freed, so a slow client holds its own stream back and nothing else:
 * the executor sees no room and skips that sequence until there is.
 * After a put, the producer wakes the owner ("progress"); a wake-up that
 * finds nothing new is harmless, and one lost is made up by the next.
 *
 * Plain C with GCC's atomics, no nginx: the unit tests run the protocol
 * across two processes.
 */

#ifndef _INFER_STREAM_H_INCLUDED_
#define _INFER_STREAM_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <string.h>


typedef struct {
    uint64_t              produced;    /* units ever written */
    uint64_t              consumed;    /* units ever read */
    uint32_t              capacity;    /* units the ring holds */
    uint32_t              unit;        /* bytes a unit */
    uint32_t              finished;    /* the producer is done */
    uint32_t              reserved;
    /* capacity x unit bytes follow */
} infer_stream_t;


/* the bytes a stream of capacity units of unit bytes takes */
static inline size_t
infer_stream_size(uint32_t capacity, uint32_t unit)
{
    return sizeof(infer_stream_t) + (size_t) capacity * unit;
}


static inline void
infer_stream_init(infer_stream_t *s, uint32_t capacity, uint32_t unit)
{
    memset(s, 0, sizeof(infer_stream_t));
    s->capacity = capacity;
    s->unit = unit;
}


static inline unsigned char *
infer_stream_data(infer_stream_t *s)
{
    return (unsigned char *) (s + 1);
}


/* the producer: units it may write now */
static inline uint32_t
infer_stream_room(infer_stream_t *s)
{
    uint64_t  consumed;

    consumed = __atomic_load_n(&s->consumed, __ATOMIC_ACQUIRE);

    return s->capacity - (uint32_t) (s->produced - consumed);
}


/*
 * The producer: writes up to n units, as many as there is room for, and
 * publishes them; returns how many it wrote.
 */
static inline uint32_t
infer_stream_put(infer_stream_t *s, const void *units, uint32_t n)
{
    uint32_t              i, room;
    uint64_t              at;
    const unsigned char  *p;

    room = infer_stream_room(s);
    n = n < room ? n : room;
    p = units;

    for (i = 0; i < n; i++) {
        at = (s->produced + i) % s->capacity;
        memcpy(infer_stream_data(s) + (size_t) at * s->unit,
               p + (size_t) i * s->unit, s->unit);
    }

    __atomic_store_n(&s->produced, s->produced + n, __ATOMIC_RELEASE);

    return n;
}


/* the producer: nothing more will come (after the last put) */
static inline void
infer_stream_finish(infer_stream_t *s)
{
    __atomic_store_n(&s->finished, 1, __ATOMIC_RELEASE);
}


/*
 * The consumer: copies up to max units that have been published into dst
 * and frees their room; returns how many.
 */
static inline uint32_t
infer_stream_take(infer_stream_t *s, void *dst, uint32_t max)
{
    uint32_t        i, n;
    uint64_t        at, produced;
    unsigned char  *p;

    produced = __atomic_load_n(&s->produced, __ATOMIC_ACQUIRE);
    n = (uint32_t) (produced - s->consumed);
    n = n < max ? n : max;
    p = dst;

    for (i = 0; i < n; i++) {
        at = (s->consumed + i) % s->capacity;
        memcpy(p + (size_t) i * s->unit,
               infer_stream_data(s) + (size_t) at * s->unit, s->unit);
    }

    __atomic_store_n(&s->consumed, s->consumed + n, __ATOMIC_RELEASE);

    return n;
}


/* the consumer: the producer finished and every unit has been taken */
static inline int
infer_stream_ended(infer_stream_t *s)
{
    return __atomic_load_n(&s->finished, __ATOMIC_ACQUIRE)
           && __atomic_load_n(&s->produced, __ATOMIC_ACQUIRE) == s->consumed;
}


#endif /* _INFER_STREAM_H_INCLUDED_ */
