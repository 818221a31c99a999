/*
 * ngx_infer: unit tests of the CUDA backend and its loader, printing TAP.
 * The exit status is nonzero when a test fails.
 *
 *   test_cuda [path/to/ngx_infer_cuda.so]     (default build/ngx_infer_cuda.so,
 *                                              or $INFER_CUDA_SO)
 *
 * Everywhere: the loader's errors (a missing shared object, a missing
 * symbol: dlerror()'s text), the backend's argument checks, and that the
 * shared object hides everything but its two entry points.
 *
 * Without a GPU (the development and CI machines): the probe, run in its
 * own process, and the backend's constructor, in this one, fail cleanly,
 * with a message that names the CUDA call and quotes CUDA's error; no
 * crash, no abort, no hang, no child left behind.
 *
 * With a GPU (the probe answers): parity of every precision against
 * infer_model_forward_ref(), a plain loop in double, on random MLPs
 * written to disk and loaded as the module loads them (every activation,
 * depths 1 to 5, F32/F16/BF16 files, with and without biases and
 * softmax), for every batch size 1..64, each run three times: the eager
 * run, the run that captures a CUDA graph, and a graph replay, which must
 * equal the capture bit for bit.  A value passes when
 *
 *     |got - ref| <= rtol |ref| + atol
 *
 *   fp32  rtol 1e-4, atol 1e-5   F32 throughout; only the order of the
 *                                sums differs from the reference
 *   tf32  5e-3, 5e-3             products of 10-bit mantissas (2^-11
 *                                relative per operand)
 *   fp16  2e-2, 2e-2             weights and layer inputs rounded to
 *                                11-bit mantissas, F32 sums
 *   bf16  5e-2, 5e-2             8-bit mantissas (2^-9 per rounding),
 *                                compounded over up to five layers
 *
 * atol equals rtol below fp32 because the values are of order one (inputs
 * in [-2, 2], weights in twice PyTorch's default range): near zero the
 * error is that of the terms of the sum, not of the result.
 *
 * INFER_TEST_REQUIRE_GPU=1 (t/gpu/run.sh sets it) makes a failed probe a
 * failure instead of the no-GPU case.
 */

#include <errno.h>
#include <dlfcn.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "infer_math.h"
#include "infer_model.h"
#include "infer_backend.h"
#include "infer_backend_cuda.h"
#include "infer_precision.h"

#include "tt.h"


#define TT_MAX_BATCH  64


static const struct {
    double  rtol;
    double  atol;
} tt_tol[INFER_PRECISION_COUNT] = {
    { 1e-4, 1e-5 },     /* fp32 */
    { 5e-3, 5e-3 },     /* tf32 */
    { 2e-2, 2e-2 },     /* fp16 */
    { 5e-2, 5e-2 },     /* bf16 */
};


static const char  *tt_so;


/* how the tests make a backend: through the loader; a pointer, so that
 * a stand-in backend can be driven through the same tests */
static infer_backend_t *(*tt_backend_new)(const char *so_path, int device,
    int precision, char *err, size_t errlen) = infer_backend_cuda_new;


/* s matches the POSIX extended regular expression re */
static int
matches(const char *s, const char *re)
{
    int      rc;
    regex_t  r;

    if (regcomp(&r, re, REG_EXTENDED | REG_NOSUB) != 0) {
        diag("bad regex %s", re);
        return 0;
    }

    rc = regexec(&r, s, 0, NULL, 0);
    regfree(&r);

    return rc == 0;
}


static double
now_s(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}


/* no child process left behind, running or zombie */
static int
no_children(void)
{
    return waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD;
}


/* a random MLP written into tt_dir and loaded; NULL with err set on failure */
static infer_model_t *
make_mlp(const tt_mlp_t *s, char *err, size_t errlen)
{
    int     k, n;
    float  *vals[INFER_MAX_LAYERS * 2];

    n = tt_make_mlp(s, vals);

    for (k = 0; k < n; k++) {
        free(vals[k]);
    }

    if (n < 0) {
        snprintf(err, errlen, "%s: cannot write the model: %s", tt_dir,
                 strerror(errno));
        return NULL;
    }

    return infer_model_load(tt_dir, err, errlen);
}


/* the loader, everywhere */

static void
test_loader(void)
{
    int               rc;
    char              err[INFER_ERRLEN], info[256];
    void             *h;
    infer_backend_t  *b;

    b = infer_backend_cuda_new("/nonexistent/ngx_infer_cuda.so", 0,
                               INFER_PRECISION_FP32, err, sizeof(err));
    ok(b == NULL && strcmp(err, "dlopen(): /nonexistent/ngx_infer_cuda.so: "
                           "cannot open shared object file: No such file "
                           "or directory") == 0,
       "a missing shared object: %s", err);

    b = infer_backend_cuda_new("libm.so.6", 0, INFER_PRECISION_FP32, err,
                               sizeof(err));
    ok(b == NULL && strstr(err, "dlsym(): ") == err
       && strstr(err, "undefined symbol: infer_cuda_backend_new") != NULL,
       "a shared object without infer_cuda_backend_new: %s", err);

    rc = infer_cuda_probe_isolated("/nonexistent/ngx_infer_cuda.so", 0, info,
                                   sizeof(info), err, sizeof(err));
    ok(rc == -1 && info[0] == '\0'
       && strcmp(err, "dlopen(): /nonexistent/ngx_infer_cuda.so: "
                 "cannot open shared object file: No such file or "
                 "directory") == 0,
       "probe: a missing shared object, dlerror() from the child: %s", err);

    rc = infer_cuda_probe_isolated("libm.so.6", 0, info, sizeof(info), err,
                                   sizeof(err));
    ok(rc == -1 && strstr(err, "undefined symbol: infer_cuda_probe") != NULL,
       "probe: a shared object without infer_cuda_probe: %s", err);

    ok(no_children(), "probe: no child process left behind");

    b = tt_backend_new(tt_so, 0, 9, err, sizeof(err));
    ok(b == NULL && strcmp(err, "cuda: precision 9 is unknown (0 fp32, "
                           "1 tf32, 2 fp16, 3 bf16)") == 0,
       "an unknown precision: %s", err);

    b = tt_backend_new(tt_so, -1, INFER_PRECISION_FP16, err, sizeof(err));
    ok(b == NULL && strcmp(err, "cuda: device -1 is not a device number")
                    == 0,
       "a negative device: %s", err);

    ok(infer_precision_parse("fp16", 4) == INFER_PRECISION_FP16
       && infer_precision_parse("bf16x", 4) == INFER_PRECISION_BF16
       && infer_precision_parse("fp8", 3) == -1
       && infer_precision_parse("fp32", 3) == -1
       && infer_precision_name(INFER_PRECISION_TF32) != NULL
       && strcmp(infer_precision_name(INFER_PRECISION_TF32), "tf32") == 0
       && infer_precision_name(4) == NULL && infer_precision_name(-1) == NULL,
       "infer_precision_parse() and infer_precision_name()");

    /* everything but the two entry points is hidden, the static CUDA
     * runtime included: it cannot clash with another copy in nginx */
    h = dlopen(tt_so, RTLD_NOW | RTLD_LOCAL);
    ok(h != NULL && dlsym(h, "infer_cuda_backend_new") != NULL
       && dlsym(h, "infer_cuda_probe") != NULL
       && dlsym(h, "cudaMalloc") == NULL
       && dlsym(h, "cudaGetDeviceCount") == NULL
       && dlsym(h, "infer_cuda_convert") == NULL
       && dlsym(h, "infer_cuda_softmax") == NULL,
       "%s exports its entry points and hides the CUDA runtime", tt_so);
}


/* no GPU: clean failures */

static void
test_no_gpu(int probe_rc, const char *probe_err, double probe_s)
{
    int               p, good;
    char              err[INFER_ERRLEN], info[256], re[256];
    infer_backend_t  *b;

    ok(probe_rc == -1
       && matches(probe_err, "^cuda[A-Za-z]+\\([0-9]*\\): [^ ].* "
                             "\\(cudaError[A-Za-z]+\\)$"),
       "probe fails naming the CUDA call and quoting CUDA's error: %s",
       probe_err);

    ok(probe_s < INFER_CUDA_PROBE_TIMEOUT,
       "probe answered in %.2f s, within the %d s limit", probe_s,
       INFER_CUDA_PROBE_TIMEOUT);

    ok(no_children(), "probe: no child process left behind");

    /* the same call again: the caller's process holds no CUDA state */
    p = infer_cuda_probe_isolated(tt_so, 0, info, sizeof(info), err,
                                  sizeof(err));
    ok(p == -1 && strcmp(err, probe_err) == 0 && info[0] == '\0',
       "probe again: the same answer");

    good = 1;
    for (p = 0; p < INFER_PRECISION_COUNT; p++) {
        b = tt_backend_new(tt_so, 0, p, err, sizeof(err));

        snprintf(re, sizeof(re), "^cuda:0 \\(%s\\): cudaSetDevice\\(0\\): "
                 "[^ ].* \\(cudaError[A-Za-z]+\\)$", infer_precision_name(p));

        if (b != NULL || !matches(err, re)) {
            diag("%s: %s", infer_precision_name(p),
                 b != NULL ? "a backend was made" : err);
            good = 0;

            if (b != NULL) {
                b->iface->free(b);
            }
        }
    }

    ok(good, "backend, every precision, in this process: %s", err);

    b = tt_backend_new(tt_so, 3, INFER_PRECISION_FP32, err, sizeof(err));
    ok(b == NULL && strstr(err, "cuda:3 (fp32): cudaSetDevice(3): ") == err,
       "backend on device 3: %s", err);
}


/* a GPU: parity */

static int
check_parity(infer_backend_t *b, int precision, const tt_mlp_t *s,
    const char *what)
{
    int              rows, pass, good, same;
    char             err[INFER_ERRLEN];
    float           *in, *ref, *out, *prev;
    size_t           i, r, isz, osz;
    double           d, lim, worst, sum;
    infer_model_t   *m;

    m = make_mlp(s, err, sizeof(err));

    if (m == NULL) {
        ok(0, "%s, %s: %s", b->iface->name(b), what, err);
        return 0;
    }

    isz = (size_t) m->input_size;
    osz = (size_t) m->output_size;
    in = malloc(TT_MAX_BATCH * isz * sizeof(float));
    ref = malloc(TT_MAX_BATCH * osz * sizeof(float));
    out = malloc(TT_MAX_BATCH * osz * sizeof(float));
    prev = malloc(TT_MAX_BATCH * osz * sizeof(float));

    if (in == NULL || ref == NULL || out == NULL || prev == NULL) {
        exit(2);
    }

    for (i = 0; i < TT_MAX_BATCH * isz; i++) {
        in[i] = rndf(-2.0f, 2.0f);
    }

    infer_model_forward_ref(m, in, TT_MAX_BATCH, ref);

    good = 1;
    same = 1;
    worst = 0;

    if (b->iface->load(b, m, TT_MAX_BATCH, err, sizeof(err)) != 0) {
        diag("load: %s", err);
        good = 0;
    }

    /* every batch size; per size: eager, capture, replay */
    for (rows = 1; good && rows <= TT_MAX_BATCH; rows++) {
        for (pass = 0; good && pass < 3; pass++) {
            for (i = 0; i < rows * osz; i++) {
                out[i] = NAN;
            }

            if (b->iface->run(b, in, rows, out, err, sizeof(err)) != 0
                || b->iface->synchronize(b, err, sizeof(err)) != 0)
            {
                diag("rows %d, pass %d: %s", rows, pass, err);
                good = 0;
                break;
            }

            for (i = 0; i < rows * osz; i++) {
                d = fabs((double) out[i] - ref[i]);
                lim = tt_tol[precision].atol
                      + tt_tol[precision].rtol * fabs(ref[i]);

                /* !(d <= lim): a NaN fails */
                if (!(d <= lim)) {
                    if (good) {
                        diag("rows %d, pass %d, value %zu: %.9g, reference "
                             "%.9g", rows, pass, i, out[i], ref[i]);
                    }
                    good = 0;
                }

                if (d / lim > worst) {
                    worst = d / lim;
                }
            }

            /* whatever the precision, softmax runs in F32: a row sums to
             * 1 unless a block reduction lost a part of it */
            for (r = 0; m->output_softmax && r < (size_t) rows; r++) {
                sum = 0;
                for (i = 0; i < osz; i++) {
                    sum += out[r * osz + i];
                }

                if (!(fabs(sum - 1.0) <= 1e-5)) {
                    if (good) {
                        diag("rows %d, pass %d: row %zu sums to %.9g", rows,
                             pass, r, sum);
                    }
                    good = 0;
                }
            }

            if (pass == 2 && memcmp(out, prev, rows * osz * sizeof(float))) {
                if (same) {
                    diag("rows %d: a graph replay differs from its capture",
                         rows);
                }
                same = 0;
            }

            memcpy(prev, out, rows * osz * sizeof(float));
        }
    }

    ok(good && same, "%s == reference, batch 1..%d x3, %s (worst %.2f of "
       "the tolerance)", b->iface->name(b), TT_MAX_BATCH, what, worst);

    infer_model_free(m);
    free(in);
    free(ref);
    free(out);
    free(prev);

    return good && same;
}


static void
test_gpu(const char *info)
{
    int               i, k, a, nl, p, rc;
    char              what[256], err[INFER_ERRLEN], name[32], inf[256];
    char              expect[INFER_ERRLEN];
    size_t            len;
    float             x[4], y[4], xs[4], ys[4];
    tt_mlp_t          s;
    infer_model_t    *m;
    infer_backend_t  *b, *b2;
    static const int   layers[] = { 1, 2, 3, 5 };
    static const char *names[] = { "none", "relu", "gelu", "tanh",
                                   "sigmoid" };
    static const char *dts[] = { "F32", "F16", "BF16" };

    ok(matches(info, "^.+, compute [0-9]+\\.[0-9]+, [0-9]+ GiB$"),
       "probe: %s", info);

    rc = infer_cuda_probe_isolated(tt_so, 4096, inf, sizeof(inf), err,
                                   sizeof(err));
    ok(rc == -1 && matches(err, "^cuda:4096: no such device, [0-9]+ CUDA "
                                "devices? found$"),
       "probe of device 4096: %s", err);

    ok(no_children(), "probe: no child process left behind");

    for (p = 0; p < INFER_PRECISION_COUNT; p++) {
        b = tt_backend_new(tt_so, 0, p, err, sizeof(err));

        if (b == NULL) {
            ok(0, "backend cuda:0 (%s): %s", infer_precision_name(p), err);
            continue;
        }

        snprintf(name, sizeof(name), "cuda:0 (%s)", infer_precision_name(p));
        snprintf(expect, sizeof(expect), "%s: no model loaded", name);
        ok(strcmp(b->iface->name(b), name) == 0
           && b->iface->run(b, x, 1, y, err, sizeof(err)) == -1
           && strcmp(err, expect) == 0,
           "%s: name, and run() before load() fails: %s", name, err);

        /* every activation in every position, several depths, all
         * stored dtypes */
        for (k = 0; k < (int) (sizeof(layers) / sizeof(layers[0])); k++) {
            nl = layers[k];

            for (a = 0; a < 5; a++) {
                memset(&s, 0, sizeof(s));
                s.nlayers = nl;
                s.width[0] = 1 + (int) (rnd32() % 70);
                s.dtype = (infer_dtype_e) ((k + a) % 3);
                s.softmax = (a + k) & 1;
                s.misalign = a == 2;

                len = (size_t) snprintf(what, sizeof(what),
                                        "%d layers, %s, %s", nl,
                                        dts[s.dtype],
                                        s.softmax ? "softmax"
                                                  : "no softmax");

                for (i = 0; i < nl; i++) {
                    s.width[i + 1] = 1 + (int) (rnd32() % 70);
                    s.act[i] = (a + i) % 5;
                    s.bias[i] = (a + i) % 4 != 3;
                    len += (size_t) snprintf(what + len, sizeof(what) - len,
                                             "%s %d>%d %s%s",
                                             i ? "," : ":", s.width[i],
                                             s.width[i + 1], names[s.act[i]],
                                             s.bias[i] ? "" : " nobias");
                }

                check_parity(b, p, &s, what);
            }
        }

        /* real sizes: the tensor-core paths, a long softmax row */
        memset(&s, 0, sizeof(s));
        s.nlayers = 3;
        s.width[0] = 784;
        s.width[1] = 256;
        s.width[2] = 128;
        s.width[3] = 10;
        s.act[0] = INFER_ACT_RELU;
        s.act[1] = INFER_ACT_GELU;
        s.bias[0] = s.bias[1] = s.bias[2] = 1;
        s.softmax = 1;
        s.dtype = (infer_dtype_e) (p % 3);
        check_parity(b, p, &s, "784>256 relu, 256>128 gelu, 128>10, softmax");

        memset(&s, 0, sizeof(s));
        s.nlayers = 2;
        s.width[0] = 512;
        s.width[1] = 1024;
        s.width[2] = 3000;
        s.act[0] = INFER_ACT_TANH;
        s.bias[0] = s.bias[1] = 1;
        s.softmax = 1;
        s.dtype = (infer_dtype_e) ((p + 1) % 3);
        check_parity(b, p, &s, "512>1024 tanh, 1024>3000, softmax over 3000");

        b->iface->free(b);
    }

    /* batch limits, and two backends used in turn by one thread */
    memset(&s, 0, sizeof(s));
    s.nlayers = 1;
    s.width[0] = 4;
    s.width[1] = 4;
    s.bias[0] = 1;
    s.act[0] = INFER_ACT_SIGMOID;

    m = make_mlp(&s, err, sizeof(err));
    b = tt_backend_new(tt_so, 0, INFER_PRECISION_FP32, err, sizeof(err));
    b2 = tt_backend_new(tt_so, 0, INFER_PRECISION_BF16, err, sizeof(err));

    for (i = 0; i < 4; i++) {
        x[i] = 0.5f * (float) i - 1.0f;
    }

    ok(m != NULL && b != NULL && b2 != NULL
       && b->iface->load(b, m, 0, err, sizeof(err)) == -1
       && strcmp(err, "cuda:0 (fp32): load: max_batch 0 is not positive")
          == 0
       && b->iface->run(b, x, 1, y, err, sizeof(err)) == -1
       && strcmp(err, "cuda:0 (fp32): no model loaded") == 0
       && b->iface->load(b, m, 2, err, sizeof(err)) == 0
       && b->iface->run(b, x, 3, y, err, sizeof(err)) == -1
       && strcmp(err, "cuda:0 (fp32): batch of 3 rows, max_batch is 2") == 0
       && b->iface->run(b, x, -1, y, err, sizeof(err)) == -1
       && b->iface->run(b, x, 0, y, err, sizeof(err)) == 0
       && b->iface->run(b, x, 1, y, err, sizeof(err)) == 0,
       "max_batch enforced, 0 rows is a no-op: %s", err);

    rc = m != NULL && b != NULL && b2 != NULL
         && b2->iface->load(b2, m, 8, err, sizeof(err)) == 0;

    for (k = 0; rc && k < 20; k++) {
        rc = b->iface->run(b, x, 1, y, err, sizeof(err)) == 0
             && b2->iface->run(b2, x, 1, ys, err, sizeof(err)) == 0;
    }

    if (rc) {
        infer_model_forward_ref(m, x, 1, xs);

        for (i = 0; i < 4; i++) {
            rc &= fabs(y[i] - xs[i]) <= 1e-5 + 1e-4 * fabs(xs[i])
                  && fabs(ys[i] - xs[i]) <= 5e-2 + 5e-2 * fabs(xs[i]);
        }
    }

    ok(rc, "two backends (fp32, bf16) in turn on one thread, 20 rounds%s%s",
       rc ? "" : ": ", rc ? "" : err);

    if (b != NULL) {
        b->iface->free(b);
    }

    if (b2 != NULL) {
        b2->iface->free(b2);
    }

    infer_model_free(m);
}


int
main(int argc, char **argv)
{
    int          rc;
    char         info[256], err[INFER_ERRLEN];
    double       t0;
    const char  *req;

    tt_so = argc > 1 ? argv[1] : getenv("INFER_CUDA_SO");
    if (tt_so == NULL) {
        tt_so = "build/ngx_infer_cuda.so";
    }

    if (access(tt_so, R_OK) != 0) {
        printf("1..0 # SKIP %s is not built (make cuda)\n", tt_so);
        return 0;
    }

    if (tt_begin("test_cuda") != 0) {
        return 2;
    }

    test_loader();

    t0 = now_s();
    rc = infer_cuda_probe_isolated(tt_so, 0, info, sizeof(info), err,
                                   sizeof(err));
    t0 = now_s() - t0;

    req = getenv("INFER_TEST_REQUIRE_GPU");

    if (rc == 0) {
        diag("cuda:0 is %s: parity tests", info);
        test_gpu(info);

    } else if (req != NULL && strcmp(req, "1") == 0) {
        ok(0, "INFER_TEST_REQUIRE_GPU=1, and the probe failed: %s", err);

    } else {
        diag("no usable GPU (%s): the tests of clean failures", err);
        test_no_gpu(rc, err, t0);
    }

    return tt_end();
}
