
/*
 * Single-thread memory read bandwidth: the bound of a decoder's
 * single-stream generation, which reads every weight once per token.
 *
 *     cc -O2 -Wall -Wextra -mavx2 -o mem_bw bench/mem_bw.c
 *     taskset -c 0 ./mem_bw [MiB [passes]]        (1024 MiB, 10 passes)
 *
 * A buffer of MiB mebibytes (well past any cache) is written once, so
 * that its pages are there, then read end to end `passes` times with
 * 256-bit loads into eight independent accumulators (no store, no
 * dependency between loads but the adds).  Each pass is timed alone; the
 * last lines are
 *
 *     GBPS_BEST x.xx
 *     GBPS_MEDIAN x.xx
 *
 * in 10^9 bytes per second, the best being the bound (the other passes
 * lost time to the machine's other work).  The checksum goes to stderr
 * so that the compiler keeps the loads.
 */


#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__AVX2__)
#include <immintrin.h>
#endif


static double
now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}


static uint64_t
read_pass(const void *buf, size_t size)
{
#if defined(__AVX2__)
    const __m256i  *p, *end;
    __m256i         a0, a1, a2, a3, a4, a5, a6, a7;
    uint64_t        out[4];

    p = buf;
    end = p + size / sizeof(__m256i);
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = _mm256_setzero_si256();

    for ( /* void */ ; p + 8 <= end; p += 8) {
        a0 = _mm256_add_epi64(a0, _mm256_load_si256(p));
        a1 = _mm256_add_epi64(a1, _mm256_load_si256(p + 1));
        a2 = _mm256_add_epi64(a2, _mm256_load_si256(p + 2));
        a3 = _mm256_add_epi64(a3, _mm256_load_si256(p + 3));
        a4 = _mm256_add_epi64(a4, _mm256_load_si256(p + 4));
        a5 = _mm256_add_epi64(a5, _mm256_load_si256(p + 5));
        a6 = _mm256_add_epi64(a6, _mm256_load_si256(p + 6));
        a7 = _mm256_add_epi64(a7, _mm256_load_si256(p + 7));
    }

    a0 = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
    a4 = _mm256_add_epi64(_mm256_add_epi64(a4, a5), _mm256_add_epi64(a6, a7));
    _mm256_storeu_si256((__m256i *) out, _mm256_add_epi64(a0, a4));

    return out[0] + out[1] + out[2] + out[3];
#else
    /* no AVX2: 64-bit loads, eight accumulators all the same */
    const uint64_t  *p, *end;
    uint64_t         a0, a1, a2, a3, a4, a5, a6, a7;

    p = buf;
    end = p + size / sizeof(uint64_t);
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 0;

    for ( /* void */ ; p + 8 <= end; p += 8) {
        a0 += p[0]; a1 += p[1]; a2 += p[2]; a3 += p[3];
        a4 += p[4]; a5 += p[5]; a6 += p[6]; a7 += p[7];
    }

    return a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
#endif
}


static int
cmp_double(const void *a, const void *b)
{
    double  x = *(const double *) a, y = *(const double *) b;

    return (x > y) - (x < y);
}


int
main(int argc, char **argv)
{
    int        i, passes;
    void      *buf;
    size_t     mib, size;
    double     t, best, *gbps;
    uint64_t   sum;

    mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 1024;
    passes = argc > 2 ? atoi(argv[2]) : 10;

    if (mib < 1 || passes < 1) {
        fprintf(stderr, "usage: %s [MiB [passes]]\n", argv[0]);
        return 2;
    }

    size = mib << 20;
    buf = aligned_alloc(4096, size);
    gbps = calloc(passes, sizeof(double));

    if (buf == NULL || gbps == NULL) {
        fprintf(stderr, "mem_bw: no %zu MiB\n", mib);
        return 1;
    }

    /* every page present, none the zero page */
    memset(buf, 1, size);

    sum = read_pass(buf, size);
    best = 0;

    for (i = 0; i < passes; i++) {
        t = now();
        sum += read_pass(buf, size);
        t = now() - t;

        gbps[i] = size / t * 1e-9;
        if (gbps[i] > best) {
            best = gbps[i];
        }

        printf("pass %d: %.3f s, %.2f GB/s\n", i + 1, t, gbps[i]);
    }

    qsort(gbps, passes, sizeof(double), cmp_double);

    printf("BUFFER_MIB %zu\n", mib);
#if defined(__AVX2__)
    printf("LOADS avx2\n");
#else
    printf("LOADS scalar\n");
#endif
    printf("GBPS_BEST %.2f\n", best);
    printf("GBPS_MEDIAN %.2f\n", gbps[passes / 2]);
    fprintf(stderr, "checksum %llu\n", (unsigned long long) sum);

    free(gbps);
    free(buf);

    return 0;
}
