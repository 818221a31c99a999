/*
 * ngx_infer: what every unit test of the kernels shares: TAP output (ok(),
 * diag(), the plan and the exit status from done()), a seeded xorshift64*
 * that draws the same numbers on every run, and the exact-size copies and
 * random mutations of the parsers' tests.  Included once by each test
 * program, directly or through tt.h.
 */

#ifndef _INFER_TEST_TAP_H_INCLUDED_
#define _INFER_TEST_TAP_H_INCLUDED_


#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#define TAP_UNUSED  __attribute__((unused))


static int       tap_count;
static int       tap_failed;
static uint64_t  tap_seed = 0x9e3779b97f4a7c15ULL;


static void ok(int cond, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static TAP_UNUSED void diag(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));


/* flushed: a test that crashes has printed what passed before it */

static void
ok(int cond, const char *fmt, ...)
{
    va_list  args;

    tap_count++;
    tap_failed += !cond;

    printf("%sok %d - ", cond ? "" : "not ", tap_count);
    va_start(args, fmt);
    vprintf(fmt, args);
    va_end(args);
    printf("\n");
    fflush(stdout);
}


static TAP_UNUSED void
diag(const char *fmt, ...)
{
    va_list  args;

    printf("# ");
    va_start(args, fmt);
    vprintf(fmt, args);
    va_end(args);
    printf("\n");
}


/* the plan, last, and main()'s exit status */

static TAP_UNUSED int
done(void)
{
    printf("1..%d\n", tap_count);

    if (tap_failed) {
        printf("# %d of %d tests failed\n", tap_failed, tap_count);
        return 1;
    }

    return 0;
}


/* xorshift64*: the same sequence on every run */

static TAP_UNUSED uint64_t
rnd(void)
{
    tap_seed ^= tap_seed >> 12;
    tap_seed ^= tap_seed << 25;
    tap_seed ^= tap_seed >> 27;

    return tap_seed * 2685821657736338717ULL;
}


/* random bits, finite: every float an encoder may be given */

static TAP_UNUSED float
rnd_float(void)
{
    float     f;
    uint32_t  bits;

    do {
        bits = (uint32_t) rnd();
        memcpy(&f, &bits, sizeof(float));
    } while (!isfinite(f));

    return f;
}


/*
 * A copy of p of exactly len bytes in place of old (freed), so that ASan
 * and valgrind see a parser that reads past the end of its body.
 */

static TAP_UNUSED char *
exact_copy(char *old, const void *p, size_t len)
{
    char  *copy;

    free(old);

    copy = malloc(len ? len : 1);
    if (copy == NULL) {
        abort();
    }

    memcpy(copy, p, len);

    return copy;
}


/*
 * body: valid (len bytes and its NUL) with 1 to 3 of its bytes replaced
 * by bytes of the n of alphabet.  The byte is drawn before its position,
 * in two statements: the order GCC chose for the one expression the
 * tests had before, now fixed for every compiler.
 */

static TAP_UNUSED void
mutate(char *body, const char *valid, size_t len, const char *alphabet,
    size_t n)
{
    char    c;
    size_t  k;

    memcpy(body, valid, len + 1);

    for (k = 1 + rnd() % 3; k > 0; k--) {
        c = alphabet[rnd() % n];
        body[rnd() % len] = c;
    }
}


#endif /* _INFER_TEST_TAP_H_INCLUDED_ */
