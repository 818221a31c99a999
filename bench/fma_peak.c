/*
 * fma_peak: this core's FP32 fused multiply-add peak, in GFLOP/s.
 *
 *   cc -O2 -mavx2 -mfma -o build/bench/fma_peak bench/fma_peak.c
 *   taskset -c 0 build/bench/fma_peak [seconds_per_trial [trials]]   # 0.3 10
 *
 * The loop keeps everything in registers: ACC independent accumulators,
 * each updated by one 8-lane vfmadd per step, so nothing but the FMA
 * pipes limits it. An FMA has a latency of 4 or 5 cycles on the cores we
 * run on (Zen 2/3/4, Haswell to Sapphire Rapids) and two pipes start one
 * each a cycle, so 10 chains in flight are needed to fill them; 12 leave
 * room and, with the two constants, still fit the 16 ymm registers
 * (the compiler spills nothing: see "objdump -d", the loop is 12
 * vfmadd231ps and a counter).
 *
 * acc = acc * m + a with m = 1 - 2^-20 and a = 2^-20 converges to 1 and
 * stays there: no overflow, no denormals (which would be slow), and the
 * compiler cannot fold the chain away without -ffast-math.
 *
 * One FMA is 2 FLOPs; one vfmadd on ymm is 8 lanes: 16 FLOPs. The best of
 * several trials is printed (a shared machine only ever makes it slower):
 *
 *   GFLOPS 123.45
 *
 * on stdout, and each trial and the checksum on stderr.
 */

#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>


#define ACC    12
#define LANES  8


/*
 * fma_loop() leaves its result here: a store the compiler must keep, in
 * order with the clock reads around the call (a function that only
 * returned a value would be "const" to it, and hoisted or dropped)
 */
static volatile float  sink;


static double
now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}


/* steps of ACC vector FMAs; adds a value that depends on every lane to sink */
static void
fma_loop(long steps)
{
    long    i;
    float   out[LANES], s;
    __m256  m, a;
    __m256  c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11;

    m = _mm256_set1_ps(1.0f - 1.0f / (1 << 20));
    a = _mm256_set1_ps(1.0f / (1 << 20));

    c0 = _mm256_set1_ps(0.50f);  c1 = _mm256_set1_ps(0.55f);
    c2 = _mm256_set1_ps(0.60f);  c3 = _mm256_set1_ps(0.65f);
    c4 = _mm256_set1_ps(0.70f);  c5 = _mm256_set1_ps(0.75f);
    c6 = _mm256_set1_ps(0.80f);  c7 = _mm256_set1_ps(0.85f);
    c8 = _mm256_set1_ps(0.90f);  c9 = _mm256_set1_ps(0.95f);
    c10 = _mm256_set1_ps(1.05f); c11 = _mm256_set1_ps(1.10f);

    for (i = 0; i < steps; i++) {
        c0 = _mm256_fmadd_ps(c0, m, a);
        c1 = _mm256_fmadd_ps(c1, m, a);
        c2 = _mm256_fmadd_ps(c2, m, a);
        c3 = _mm256_fmadd_ps(c3, m, a);
        c4 = _mm256_fmadd_ps(c4, m, a);
        c5 = _mm256_fmadd_ps(c5, m, a);
        c6 = _mm256_fmadd_ps(c6, m, a);
        c7 = _mm256_fmadd_ps(c7, m, a);
        c8 = _mm256_fmadd_ps(c8, m, a);
        c9 = _mm256_fmadd_ps(c9, m, a);
        c10 = _mm256_fmadd_ps(c10, m, a);
        c11 = _mm256_fmadd_ps(c11, m, a);
    }

    c0 = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(c0, c1),
                                     _mm256_add_ps(c2, c3)),
                       _mm256_add_ps(_mm256_add_ps(c4, c5),
                                     _mm256_add_ps(c6, c7)));
    c0 = _mm256_add_ps(c0, _mm256_add_ps(_mm256_add_ps(c8, c9),
                                         _mm256_add_ps(c10, c11)));
    _mm256_storeu_ps(out, c0);

    s = 0;
    for (i = 0; i < LANES; i++) {
        s += out[i];
    }

    sink += s;
}


int
main(int argc, char **argv)
{
    int     t, trials, calls;
    long    steps;
    double  secs, t0, dt, gflops, best;

    secs = argc > 1 ? atof(argv[1]) : 0.3;
    trials = argc > 2 ? atoi(argv[2]) : 10;

    if (secs <= 0 || trials <= 0) {
        fprintf(stderr, "usage: fma_peak [seconds_per_trial [trials]]\n");
        return 2;
    }

    /* size the trial: time a short run first (it also wakes the core) */
    steps = 1 << 20;
    for (calls = 1; /* void */; calls++) {
        t0 = now();
        fma_loop(steps);
        dt = now() - t0;
        if (dt > 0.05) {
            break;
        }
        steps *= 2;
    }
    steps = (long) (steps * secs / dt);

    best = 0;
    for (t = 0; t < trials; t++) {
        t0 = now();
        fma_loop(steps);
        dt = now() - t0;
        gflops = 2.0 * LANES * ACC * (double) steps / dt * 1e-9;
        fprintf(stderr, "fma_peak: trial %d: %.2f GFLOP/s (%ld x %d x 8-lane FMA"
                " in %.3f s)\n", t + 1, gflops, steps, ACC, dt);
        if (gflops > best) {
            best = gflops;
        }
    }

    /* each lane of each accumulator tends to 1: a call adds up to 96 */
    fprintf(stderr, "fma_peak: best %.2f GFLOP/s FP32, %d accumulators"
            " (checksum %.3f)\n", best, ACC, sink / (trials + calls));
    printf("GFLOPS %.2f\n", best);

    return 0;
}
