/*
 * ngx_infer: unit tests of infer_stream.h, the ring through which an
 * executor streams results to the worker that owns the request, across
 * two processes as in the module: a producer writes numbered units in
 * chunks of random sizes into a small ring in shared memory and wakes the
 * consumer through a pipe after each put (the module's "progress"
 * datagram); the consumer takes whatever is there on each wake-up.  Every
 * unit must arrive once, in order, none torn, and a consumer that stops
 * reading must hold the producer back without loss.
 */

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "infer_stream.h"

#include "tap.h"


/* a unit: its number and a check word, so that a torn copy shows */
typedef struct {
    uint64_t  n;
    uint64_t  check;
} unit_t;


static uint64_t
check_of(uint64_t n)
{
    return n * 0x9e3779b97f4a7c15ULL ^ 0xdeadbeefcafef00dULL;
}


/* xorshift64 on a state of the caller's: the producer's own sequence */
static uint64_t
xorshift(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;

    return *x;
}


/* the producer: total units in chunks of 1..max_chunk, a byte per put */
static void
produce(infer_stream_t *s, int wake, uint64_t total, uint32_t max_chunk)
{
    unit_t    chunk[64];
    uint32_t  i, k, put;
    uint64_t  next, seed;

    seed = 0x12345678;
    next = 0;

    while (next < total) {
        k = 1 + (uint32_t) (xorshift(&seed) % max_chunk);
        if (next + k > total) {
            k = (uint32_t) (total - next);
        }

        for (i = 0; i < k; i++) {
            chunk[i].n = next + i;
            chunk[i].check = check_of(next + i);
        }

        for (i = 0; i < k; i += put) {
            put = infer_stream_put(s, &chunk[i], k - i);

            if (put == 0) {
                /* no room: the module's executor skips the sequence
                 * until the next step */
                sched_yield();
                continue;
            }

            if (write(wake, "p", 1) != 1 && errno != EAGAIN) {
                _exit(3);
            }
        }

        next += k;
    }

    infer_stream_finish(s);

    if (write(wake, "d", 1) != 1) {
        _exit(3);
    }
}


static void
test_two_processes(uint32_t capacity, uint64_t total, uint32_t max_chunk)
{
    int              fds[2], status, good, wakeups;
    char             buf[256];
    pid_t            pid;
    unit_t           got[64];
    uint32_t         i, n;
    uint64_t         expect;
    struct pollfd    pfd;
    infer_stream_t  *s;

    s = mmap(NULL, infer_stream_size(capacity, sizeof(unit_t)),
             PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    if (s == MAP_FAILED || pipe(fds) == -1) {
        perror("mmap/pipe");
        exit(2);
    }

    infer_stream_init(s, capacity, sizeof(unit_t));

    pid = fork();
    if (pid == -1) {
        perror("fork");
        exit(2);
    }

    if (pid == 0) {
        close(fds[0]);
        produce(s, fds[1], total, max_chunk);
        _exit(0);
    }

    close(fds[1]);

    expect = 0;
    good = 1;
    wakeups = 0;
    pfd.fd = fds[0];
    pfd.events = POLLIN;

    while (!infer_stream_ended(s)) {
        if (poll(&pfd, 1, 10000) != 1) {
            good = 0;
            break;
        }

        if (read(fds[0], buf, sizeof(buf)) <= 0) {
            /* the producer closed: take what is left */
            pfd.fd = -1;
        }

        wakeups++;

        while ((n = infer_stream_take(s, got, 64)) > 0) {
            for (i = 0; i < n; i++) {
                if (got[i].n != expect || got[i].check != check_of(expect)) {
                    good = 0;
                }

                expect++;
            }
        }

        if (pfd.fd == -1 && !infer_stream_ended(s)) {
            good = 0;
            break;
        }
    }

    waitpid(pid, &status, 0);

    ok(good && expect == total && WIFEXITED(status)
       && WEXITSTATUS(status) == 0, "a ring of %u: %llu units in chunks of "
       "up to %u, in order, none torn, over %d wake-ups", capacity,
       (unsigned long long) total, max_chunk, wakeups);

    close(fds[0]);
    munmap(s, infer_stream_size(capacity, sizeof(unit_t)));
}


static void
test_slow_consumer(void)
{
    unit_t          u[8], got[8];
    uint32_t        i;
    unsigned char   mem[sizeof(infer_stream_t) + 5 * sizeof(unit_t)];
    infer_stream_t  *s;

    s = (infer_stream_t *) (void *) mem;
    infer_stream_init(s, 5, sizeof(unit_t));

    for (i = 0; i < 8; i++) {
        u[i].n = i;
        u[i].check = check_of(i);
    }

    ok(infer_stream_room(s) == 5, "an empty ring of 5 has room for 5");
    ok(infer_stream_put(s, u, 8) == 5 && infer_stream_room(s) == 0,
       "a put of 8 into a ring of 5 writes 5, and the ring is full");
    ok(infer_stream_put(s, &u[5], 3) == 0,
       "a full ring takes nothing: the consumer holds the producer back");
    ok(infer_stream_take(s, got, 2) == 2 && got[0].n == 0 && got[1].n == 1
       && infer_stream_room(s) == 2,
       "taking 2 frees room for 2");
    ok(infer_stream_put(s, &u[5], 3) == 2,
       "the producer then writes what fits");
    ok(infer_stream_take(s, got, 8) == 5 && got[0].n == 2 && got[4].n == 6
       && got[4].check == check_of(6),
       "the rest arrives in order across the ring's end");
    ok(!infer_stream_ended(s), "not ended before the producer finishes");
    infer_stream_finish(s);
    ok(infer_stream_ended(s), "ended once finished and drained");
}


static void
test_finish_before_drain(void)
{
    unit_t          u[3], got[3];
    unsigned char   mem[sizeof(infer_stream_t) + 4 * sizeof(unit_t)];
    infer_stream_t  *s;

    s = (infer_stream_t *) (void *) mem;
    infer_stream_init(s, 4, sizeof(unit_t));
    memset(u, 0, sizeof(u));

    infer_stream_put(s, u, 3);
    infer_stream_finish(s);
    ok(!infer_stream_ended(s),
       "finished with units unread: not ended, the last ones still come");
    ok(infer_stream_take(s, got, 3) == 3 && infer_stream_ended(s),
       "ended once they are taken");
}


int
main(void)
{
    test_slow_consumer();
    test_finish_before_drain();
    test_two_processes(1, 20000, 1);
    test_two_processes(17, 200000, 40);
    test_two_processes(4096, 1000000, 64);

    return done();
}
