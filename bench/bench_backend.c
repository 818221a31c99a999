/*
 * ngx_infer: throughput of the backends, driven through the runner
 * (infer_runner.h: the model's graph built for each batch, computed by
 * the backend's interface; no nginx, no HTTP, no queue): rows per second
 * of a model loaded with infer_model_load(), for several batch sizes, on
 * the CPU backend and on the CUDA backend in each precision.  A batch of
 * k rows is k sequences of one token, as the module's executor makes it.
 *
 *   bench_backend [-s so] [-d device] [-t seconds] [-b 1,16,64,256]
 *                 [-p cpu,fp32,tf32,fp16,bf16] DIR...
 *   bench_backend -g DIR 784,256,256,10 [F32|F16|BF16]
 *
 * The first form prints a markdown table: one row per model and backend,
 * rows/s and the time of one batch per batch size, and the largest
 * difference from the CPU backend's output on the same input (a bench
 * that computes garbage fast says so).  A backend that cannot be made
 * (no GPU) gets a row with its error.  The second form writes a random
 * MLP (ReLU between layers) to DIR, for machines without the Python that
 * `make fixtures` needs.
 *
 * Build: make build/bench_backend (t/gpu/run.sh does).
 */

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "infer_backend.h"
#include "infer_backend_cuda.h"
#include "infer_math.h"
#include "infer_mlp.h"
#include "infer_model.h"
#include "infer_precision.h"
#include "infer_runner.h"


#define BB_MAX_BATCHES   16
#define BB_MAX_BACKENDS  8
#define BB_CPU           -1          /* a backend that is not a precision */


typedef struct {
    const char  *so;
    int          device;
    double       seconds;
    int          nbatches;
    int          batch[BB_MAX_BATCHES];
    int          max_batch;
    int          nbackends;
    int          backend[BB_MAX_BACKENDS];   /* BB_CPU or INFER_PRECISION_* */

    /* a batch's sequences and their ids, max_batch of each */
    infer_seq_t *seqs;
    uint64_t    *ids;
} bb_conf_t;


static uint64_t  bb_rng = 0x2545f4914f6cdd1dULL;


static float
bb_rand(float lo, float hi)
{
    bb_rng ^= bb_rng << 13;
    bb_rng ^= bb_rng >> 7;
    bb_rng ^= bb_rng << 17;

    return lo + (hi - lo) * (float) (bb_rng >> 40) / 16777216.0f;
}


static double
bb_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}


/* "1,16,64" into v[], at most max values; the count, or -1 */
static int
bb_parse_ints(const char *s, int *v, int max)
{
    int    n;
    long   x;
    char  *end;

    for (n = 0; *s != '\0'; n++) {
        errno = 0;
        x = strtol(s, &end, 10);

        if (n == max || end == s || errno != 0 || x < 1 || x > 1 << 24
            || (*end != ',' && *end != '\0'))
        {
            return -1;
        }

        v[n] = (int) x;
        s = *end == ',' ? end + 1 : end;
    }

    return n;
}


static int
bb_parse_backends(const char *s, bb_conf_t *c)
{
    int          p;
    size_t       len;
    const char  *e;

    c->nbackends = 0;

    while (*s != '\0') {
        e = strchr(s, ',');
        len = e != NULL ? (size_t) (e - s) : strlen(s);

        if (c->nbackends == BB_MAX_BACKENDS) {
            return -1;
        }

        if (len == 3 && memcmp(s, "cpu", 3) == 0) {
            p = BB_CPU;

        } else {
            p = infer_precision_parse(s, len);
            if (p == -1) {
                return -1;
            }
        }

        c->backend[c->nbackends++] = p;
        s += len + (e != NULL);
    }

    return c->nbackends > 0 ? 0 : -1;
}


/* -g: a random MLP of the given widths, PyTorch's default init */

static int
bb_generate(const char *dir, const char *widths, const char *dtype)
{
    int             w[INFER_MLP_MAX_LAYERS + 1], n, i, esz;
    char            path[4096], hdr[16384];
    FILE           *f;
    size_t          hlen, off, j, cnt;
    uint16_t        h;
    uint64_t        hl;
    float           v, scale;
    infer_dtype_e   dt;
    unsigned char   le[8];

    n = bb_parse_ints(widths, w, INFER_MLP_MAX_LAYERS + 1);

    if (n < 2) {
        fprintf(stderr, "bench_backend: widths \"%s\": expected 2 to %d "
                "positive integers, in,hidden,...,out\n", widths,
                INFER_MLP_MAX_LAYERS + 1);
        return 1;
    }

    if (strcmp(dtype, "F32") == 0) {
        dt = INFER_DT_F32;
    } else if (strcmp(dtype, "F16") == 0) {
        dt = INFER_DT_F16;
    } else if (strcmp(dtype, "BF16") == 0) {
        dt = INFER_DT_BF16;
    } else {
        fprintf(stderr, "bench_backend: dtype \"%s\": F32, F16 or BF16\n",
                dtype);
        return 1;
    }

    esz = dt == INFER_DT_F32 ? 4 : 2;

    if (mkdir(dir, 0755) == -1 && errno != EEXIST) {
        fprintf(stderr, "bench_backend: mkdir %s: %s\n", dir,
                strerror(errno));
        return 1;
    }

    snprintf(path, sizeof(path), "%s/config.json", dir);
    f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "bench_backend: %s: %s\n", path, strerror(errno));
        return 1;
    }

    fprintf(f, "{\"architecture\": \"mlp\", \"input\": {\"name\": \"input\", "
            "\"shape\": [%d], \"datatype\": \"FP32\"}, \"layers\": [", w[0]);
    for (i = 0; i < n - 1; i++) {
        fprintf(f, "%s{\"weight\": \"fc%d.weight\", \"bias\": \"fc%d.bias\", "
                "\"activation\": \"%s\"}", i ? ", " : "", i + 1, i + 1,
                i < n - 2 ? "relu" : "none");
    }
    fprintf(f, "], \"output\": {\"name\": \"output\", \"softmax\": false}}\n");

    if (fclose(f) != 0) {
        fprintf(stderr, "bench_backend: %s: %s\n", path, strerror(errno));
        return 1;
    }

    hlen = (size_t) snprintf(hdr, sizeof(hdr), "{");
    off = 0;

    for (i = 0; i < n - 1; i++) {
        cnt = (size_t) w[i + 1] * (size_t) w[i];
        hlen += (size_t) snprintf(hdr + hlen, sizeof(hdr) - hlen,
                                  "%s\"fc%d.weight\": {\"dtype\": \"%s\", "
                                  "\"shape\": [%d, %d], \"data_offsets\": "
                                  "[%zu, %zu]}, \"fc%d.bias\": {\"dtype\": "
                                  "\"%s\", \"shape\": [%d], \"data_offsets\": "
                                  "[%zu, %zu]}", i ? ", " : "", i + 1, dtype,
                                  w[i + 1], w[i], off, off + cnt * esz,
                                  i + 1, dtype, w[i + 1], off + cnt * esz,
                                  off + cnt * esz + (size_t) w[i + 1] * esz);
        off += (cnt + (size_t) w[i + 1]) * esz;
    }

    hlen += (size_t) snprintf(hdr + hlen, sizeof(hdr) - hlen, "}");

    if (hlen >= sizeof(hdr) - 8) {
        fprintf(stderr, "bench_backend: too many layers\n");
        return 1;
    }

    while (hlen % 8 != 0) {
        hdr[hlen++] = ' ';
    }

    snprintf(path, sizeof(path), "%s/model.safetensors", dir);
    f = fopen(path, "wb");
    if (f == NULL) {
        fprintf(stderr, "bench_backend: %s: %s\n", path, strerror(errno));
        return 1;
    }

    hl = hlen;
    for (j = 0; j < 8; j++) {
        le[j] = (unsigned char) (hl >> (8 * j));
    }

    fwrite(le, 1, 8, f);
    fwrite(hdr, 1, hlen, f);

    for (i = 0; i < n - 1; i++) {
        scale = 1.0f / sqrtf((float) w[i]);
        cnt = (size_t) w[i + 1] * (size_t) w[i] + (size_t) w[i + 1];

        /* the weight, then the bias: the order of the offsets above */
        for (j = 0; j < cnt; j++) {
            v = bb_rand(-scale, scale);

            if (dt == INFER_DT_F32) {
                memcpy(le, &v, 4);
            } else {
                h = dt == INFER_DT_F16 ? infer_f32_to_f16(v)
                                       : infer_f32_to_bf16(v);
                le[0] = (unsigned char) h;
                le[1] = (unsigned char) (h >> 8);
            }

            fwrite(le, 1, (size_t) esz, f);
        }
    }

    if (ferror(f) || fclose(f) != 0) {
        fprintf(stderr, "bench_backend: %s: write error\n", path);
        return 1;
    }

    return 0;
}


/* the bench */

static infer_backend_t *
bb_backend(const bb_conf_t *c, int which, char *err, size_t errlen)
{
    if (which == BB_CPU) {
        return infer_backend_cpu_new(INFER_PRECISION_FP32, err, errlen);
    }

    return infer_backend_cuda_new(c->so, c->device, which, err, errlen);
}


/* rows requests of one row each: rows sequences of one token */
static int
bb_run(infer_runner_t *r, const bb_conf_t *c, const float *in, int rows,
    float *out, char *err, size_t errlen)
{
    infer_batch_t   batch;

    infer_batch_rows(&batch, c->seqs, rows, in, out);
    batch.ids = c->ids;

    return infer_runner_run(r, &batch, err, errlen);
}


/* a backend with the model on it, ready for batches of up to max_batch
 * rows; 0, or -1 with err set (*b then NULL or to be freed) */
static int
bb_ready(const bb_conf_t *c, const infer_model_t *m, int which,
    infer_backend_t **b, infer_runner_t *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof(infer_runner_t));

    *b = bb_backend(c, which, err, errlen);

    if (*b == NULL) {
        return -1;
    }

    return infer_runner_init(r, m, *b, c->max_batch, c->max_batch, err,
                             errlen);
}


/* frees what bb_ready() made, all or part */
static void
bb_done(infer_backend_t *b, infer_runner_t *r)
{
    infer_runner_free(r);

    if (b != NULL) {
        b->iface->free(b);
    }
}


static void
bb_model(const bb_conf_t *c, const char *dir)
{
    int                  i, k, rows, iters;
    char                 err[INFER_ERRLEN], desc[256], name[64];
    float               *in, *out, *ref;
    size_t               j, len, n;
    double               t0, t, diff;
    infer_model_t       *m;
    infer_runner_t       r;
    infer_backend_t     *b;
    const infer_mlp_t   *mlp;

    m = infer_model_load(dir, err, sizeof(err));
    if (m == NULL) {
        printf("| %s | | %s |\n", dir, err);
        return;
    }

    /* an MLP says its widths and its weights' type */
    len = (size_t) snprintf(desc, sizeof(desc), "%s (%lld", dir,
                            (long long) m->input.size);

    mlp = m->arch == &infer_arch_mlp ? m->arch_data : NULL;

    for (i = 0; mlp != NULL && i < mlp->nlayers && len < sizeof(desc); i++) {
        len += (size_t) snprintf(desc + len, sizeof(desc) - len, "-%d",
                                 mlp->layers[i].out);
    }

    if (len < sizeof(desc)) {
        snprintf(desc + len, sizeof(desc) - len, ", %s)",
                 m->nweights > 0 ? infer_dtype_name(m->weights[0].type)
                                 : m->arch->name);
    }

    n = (size_t) c->max_batch;
    in = malloc(n * (size_t) m->input.size * sizeof(float));
    out = malloc(n * (size_t) m->output.size * sizeof(float));
    ref = malloc(n * (size_t) m->output.size * sizeof(float));

    if (in == NULL || out == NULL || ref == NULL) {
        fprintf(stderr, "bench_backend: out of memory\n");
        exit(2);
    }

    for (j = 0; j < n * (size_t) m->input.size; j++) {
        in[j] = bb_rand(-1.0f, 1.0f);
    }

    /* the CPU's answer for the largest batch, to compare with */
    if (bb_ready(c, m, BB_CPU, &b, &r, err, sizeof(err)) != 0
        || bb_run(&r, c, in, c->max_batch, ref, err, sizeof(err)) != 0)
    {
        printf("| %s | cpu | %s |\n", desc, err);
        bb_done(b, &r);
        goto done;
    }

    bb_done(b, &r);

    for (k = 0; k < c->nbackends; k++) {
        if (bb_ready(c, m, c->backend[k], &b, &r, err, sizeof(err)) != 0) {
            if (c->backend[k] == BB_CPU) {
                snprintf(name, sizeof(name), "cpu");
            } else {
                snprintf(name, sizeof(name), "cuda:%d (%s)", c->device,
                         infer_precision_name(c->backend[k]));
            }

            printf("| %s | %s | %s |\n", desc, name, err);
            fflush(stdout);

            bb_done(b, &r);
            continue;
        }

        printf("| %s | %s |", desc, b->iface->name(b));

        for (i = 0; i < c->nbatches; i++) {
            rows = c->batch[i];

            /* warm-up: first-use costs (CUDA graph capture, page faults)
             * are not throughput */
            for (iters = 0; iters < 3; iters++) {
                if (bb_run(&r, c, in, rows, out, err, sizeof(err)) != 0) {
                    break;
                }
            }

            if (iters < 3) {
                printf(" %s |", err);
                continue;
            }

            iters = 0;
            t = 0;
            t0 = bb_now();

            /* a run is a whole batch: the runner waits for the backend */
            do {
                if (bb_run(&r, c, in, rows, out, err, sizeof(err)) != 0) {
                    break;
                }

                iters++;
                t = bb_now() - t0;
            } while (t < c->seconds || iters < 3);

            if (iters == 0 || t <= 0) {
                printf(" %s |", err);
                continue;
            }

            printf(" %.0f (%.0f µs) |", (double) iters * rows / t,
                   t / iters * 1e6);
            fflush(stdout);
        }

        diff = 0;

        if (bb_run(&r, c, in, c->max_batch, out, err, sizeof(err)) == 0) {
            for (j = 0; j < n * (size_t) m->output.size; j++) {
                /* a NaN shows as a NaN */
                if (!(fabs((double) out[j] - ref[j]) <= diff)) {
                    diff = fabs((double) out[j] - ref[j]);
                }
            }

            printf(" %.2g |\n", diff);

        } else {
            printf(" %s |\n", err);
        }

        fflush(stdout);
        bb_done(b, &r);
    }

done:

    free(in);
    free(out);
    free(ref);
    infer_model_free(m);
}


static void
bb_usage(void)
{
    fprintf(stderr,
        "usage: bench_backend [-s so] [-d device] [-t seconds] "
        "[-b 1,16,64,256]\n"
        "                     [-p cpu,fp32,tf32,fp16,bf16] DIR...\n"
        "       bench_backend -g DIR 784,256,256,10 [F32|F16|BF16]\n");
}


int
main(int argc, char **argv)
{
    int         i, opt;
    char       *end;
    bb_conf_t   c;

    if (argc >= 4 && strcmp(argv[1], "-g") == 0) {
        return bb_generate(argv[2], argv[3], argc > 4 ? argv[4] : "F32");
    }

    memset(&c, 0, sizeof(c));
    c.so = "build/ngx_infer_cuda.so";
    c.seconds = 1.0;
    c.nbatches = bb_parse_ints("1,16,64,256", c.batch, BB_MAX_BATCHES);
    bb_parse_backends("cpu,fp32,tf32,fp16,bf16", &c);

    while ((opt = getopt(argc, argv, "s:d:t:b:p:h")) != -1) {
        switch (opt) {
        case 's':
            c.so = optarg;
            break;
        case 'd':
            c.device = (int) strtol(optarg, &end, 10);
            if (*end != '\0' || c.device < 0) {
                bb_usage();
                return 1;
            }
            break;
        case 't':
            c.seconds = strtod(optarg, &end);
            if (*end != '\0' || !(c.seconds > 0)) {
                bb_usage();
                return 1;
            }
            break;
        case 'b':
            c.nbatches = bb_parse_ints(optarg, c.batch, BB_MAX_BATCHES);
            if (c.nbatches < 1) {
                bb_usage();
                return 1;
            }
            break;
        case 'p':
            if (bb_parse_backends(optarg, &c) != 0) {
                bb_usage();
                return 1;
            }
            break;
        default:
            bb_usage();
            return 1;
        }
    }

    if (optind == argc) {
        bb_usage();
        return 1;
    }

    for (i = 0; i < c.nbatches; i++) {
        if (c.batch[i] > c.max_batch) {
            c.max_batch = c.batch[i];
        }
    }

    c.seqs = calloc((size_t) c.max_batch, sizeof(infer_seq_t));
    c.ids = calloc((size_t) c.max_batch, sizeof(uint64_t));

    if (c.seqs == NULL || c.ids == NULL) {
        fprintf(stderr, "bench_backend: out of memory\n");
        return 2;
    }

    printf("rows/s (time per batch), each batch size run for %.1f s; "
           "diff: max |output - cpu output| at batch %d\n\n", c.seconds,
           c.max_batch);

    printf("| model | backend |");
    for (i = 0; i < c.nbatches; i++) {
        printf(" batch %d |", c.batch[i]);
    }
    printf(" diff |\n|---|---|");
    for (i = 0; i < c.nbatches; i++) {
        printf("---:|");
    }
    printf("---:|\n");
    fflush(stdout);

    for (i = optind; i < argc; i++) {
        bb_model(&c, argv[i]);
    }

    return 0;
}
