/*
 * ngx_infer: unit tests of the op layer on the CPU backend, printing TAP.
 * Every op of infer_ops.h is built into a graph with the builders,
 * computed by infer_backend_cpu_new() (load, reserve, compute), and
 * compared with a float64 reference written here, on shapes that include
 * the odd ones (1, 3, 17, 384, 1000 rows or columns) and inputs that are
 * column views of wider matrices; then the memory planner.
 *
 * Tolerances.  Element-wise ops are exact: a float sum or product of two
 * floats is the correctly rounded double one, so add and mul are compared
 * bit for bit, get_rows and the pools that copy too.  Transcendental ones
 * (the activations, rope's cos and sin) get 1e-5 relative, ten times what
 * libm's float functions are known to hold.  Reductions of n terms in
 * float get 1e-5 relative plus an absolute floor of the shape of the
 * rounding bound of a float sum, a few FLT_EPSILON x n x the magnitude of
 * the terms: the floor grows with the reduction length, as the error
 * does, and stays far below what a wrong formula changes (a dropped term,
 * a wrong eps, a token attending outside its sequence).
 */

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer_backend.h"
#include "infer_math.h"
#include "infer_ops.h"

#include "tt.h"


#define NODES     128


static infer_tensor_t   nodes[NODES];
static infer_graph_t    g;


static void
begin(void)
{
    infer_graph_init(&g, nodes, NODES);
}


/* computes g on a new CPU backend that has the weights w[nw]: 0 or -1 */
static int
compute(const infer_weight_t *w, int nw, char *err, size_t errlen)
{
    int               rc;
    infer_backend_t  *b;

    if (g.failed) {
        snprintf(err, errlen, "graph: %s", g.err);
        return -1;
    }

    b = infer_backend_cpu_new(INFER_PRECISION_FP32, err, errlen);
    if (b == NULL) {
        return -1;
    }

    rc = b->iface->load(b, w, nw, err, errlen);
    if (rc == 0) {
        rc = b->iface->reserve(b, &g, err, errlen);
    }
    if (rc == 0) {
        rc = b->iface->compute(b, &g, err, errlen);
    }
    if (rc == 0) {
        rc = b->iface->synchronize(b, err, errlen);
    }

    b->iface->free(b);

    return rc;
}


/* see tt_input() */
static infer_tensor_t *
in_mat(int64_t rows, int64_t cols, int view, float lo, float hi, float **p,
    size_t *ld)
{
    return tt_input(&g, rows, cols, view, lo, hi, p, ld);
}


/* a weight of rows x cols of type dt from random values: data in the
 * stored type, f32 its exact F32 form */
static void
make_weight(infer_weight_t *w, infer_dtype_e dt, int64_t rows, int64_t cols,
    float lo, float hi)
{
    int64_t    i, n;
    float     *f;
    uint16_t  *h;

    n = rows * cols;
    f = tt_alloc((size_t) n * sizeof(float));

    memset(w, 0, sizeof(infer_weight_t));
    w->name = "w";
    w->type = dt;
    w->rows = rows;
    w->cols = cols;
    w->f32 = f;

    if (dt == INFER_DT_F32) {
        for (i = 0; i < n; i++) {
            f[i] = rndf(lo, hi);
        }
        w->data = f;
        w->nbytes = (size_t) n * sizeof(float);
        return;
    }

    h = tt_alloc((size_t) n * sizeof(uint16_t));

    for (i = 0; i < n; i++) {
        if (dt == INFER_DT_F16) {
            h[i] = infer_f32_to_f16(rndf(lo, hi));
            f[i] = infer_f16_to_f32(h[i]);
        } else {
            h[i] = infer_f32_to_bf16(rndf(lo, hi));
            f[i] = infer_bf16_to_f32(h[i]);
        }
    }

    w->data = h;
    w->nbytes = (size_t) n * sizeof(uint16_t);
}


/* a comparison over many values: the first failure is kept for diag() */
typedef struct {
    int     good;
    long    bad;
    double  worst;           /* the largest |got - ref| / tol */
    char    first[INFER_ERRLEN + 200];
} cmp_t;


static void
cmp_init(cmp_t *c)
{
    c->good = 1;
    c->bad = 0;
    c->worst = 0.0;
    c->first[0] = '\0';
}


static void
cmp(cmp_t *c, float got, double ref, double tol, const char *what,
    long idx)
{
    double  d;

    d = fabs((double) got - ref);

    if (tol > 0.0 && d / tol > c->worst) {
        c->worst = d / tol;
    }

    if (d <= tol && !isnan(got)) {
        return;
    }

    if (c->good) {
        snprintf(c->first, sizeof(c->first), "%s, value %ld: %.9g, "
                 "reference %.9g (tolerance %.3g)", what, idx, got, ref, tol);
    }

    c->good = 0;
    c->bad++;
}


static void
cmp_ok(cmp_t *c, const char *fmt, const char *name)
{
    ok(c->good, fmt, name);

    if (!c->good) {
        diag("%ld values off; first: %s", c->bad, c->first);
    }
}


static const char  *dt_names[] = { "F32", "F16", "BF16" };


/* matmul */

static void
test_matmul(void)
{
    int              ri, si, dt, bias, view, nw;
    char             err[INFER_ERRLEN], what[128], name[128];
    float           *x, *y, *b;
    size_t           ld;
    double           acc, abs_sum;
    int64_t          rows, k, n, r, j, c;
    cmp_t            cm;
    infer_tensor_t  *tx, *tw, *tb, *ty;
    infer_weight_t   w[2];

    static const int64_t  rowset[] = { 1, 2, 3, 17, 64, 65, 300 };
    static const int64_t  shapes[][2] = {
        { 1, 1 }, { 3, 17 }, { 17, 3 }, { 384, 17 }, { 1000, 3 },
        { 17, 1000 }, { 384, 384 }
    };

    for (ri = 0; ri < 7; ri++) {
        for (dt = 0; dt < 3; dt++) {
            for (bias = 0; bias < 2; bias++) {
                for (view = 0; view < 2; view++) {
                    cmp_init(&cm);
                    rows = rowset[ri];

                    for (si = 0; si < 7; si++) {
                        k = shapes[si][0];
                        n = shapes[si][1];
                        snprintf(what, sizeof(what), "[%lld, %lld] x "
                                 "[%lld, %lld]^T", (long long) rows,
                                 (long long) k, (long long) n,
                                 (long long) k);

                        begin();
                        make_weight(&w[0], (infer_dtype_e) dt, n, k, -1, 1);
                        make_weight(&w[1], INFER_DT_F32, 1, n, -1, 1);
                        nw = bias ? 2 : 1;

                        tx = in_mat(rows, k, view, -1, 1, &x, &ld);
                        tw = infer_op_weight(&g, 0, (infer_dtype_e) dt, n, k,
                                             "w");
                        tb = bias ? infer_op_weight(&g, 1, INFER_DT_F32, 1,
                                                    n, "b")
                                  : NULL;
                        ty = infer_op_matmul(&g, tx, tw, tb);
                        y = tt_alloc((size_t) (rows * n) * sizeof(float));
                        infer_op_output(&g, ty, y);

                        if (compute(w, nw, err, sizeof(err)) != 0) {
                            cmp(&cm, NAN, 0, 0, err, 0);
                            tt_free_all();
                            continue;
                        }

                        b = (float *) w[1].f32;

                        for (r = 0; r < rows; r++) {
                            for (j = 0; j < n; j++) {
                                acc = bias ? b[j] : 0.0;
                                abs_sum = fabs(acc);

                                for (c = 0; c < k; c++) {
                                    acc += (double) x[r * ld + c]
                                           * w[0].f32[j * k + c];
                                    abs_sum += fabs((double) x[r * ld + c]
                                                    * w[0].f32[j * k + c]);
                                }

                                /* the bound of a float sum of k terms is
                                 * k u sum|t|; 4 eps sum|t| is 8 u: the
                                 * blocked orders do far better */
                                cmp(&cm, y[r * n + j], acc,
                                    1e-5 * fabs(acc)
                                    + 4 * FLT_EPSILON * abs_sum,
                                    what, (long) (r * n + j));
                            }
                        }

                        tt_free_all();
                    }

                    snprintf(name, sizeof(name), "%lld rows, %s weights, "
                             "%s, %s", (long long) rows, dt_names[dt],
                             bias ? "bias" : "no bias",
                             view ? "x a column view" : "x contiguous");
                    cmp_ok(&cm, "matmul == reference: %s, k and n in 1, 3, "
                           "17, 384, 1000", name);
                }
            }
        }
    }
}


/* add, mul: exact */

static void
test_binary(void)
{
    int              op, ri, ci, bc, good;
    char             err[INFER_ERRLEN];
    float           *a, *b, *y, ref;
    size_t           lda, ldb;
    int64_t          rows, cols, r, j;
    infer_tensor_t  *ta, *tb, *ty;

    static const int64_t  rowset[] = { 1, 3, 17, 300 };
    static const int64_t  colset[] = { 1, 3, 17, 384, 1000 };

    for (op = 0; op < 2; op++) {
        for (bc = 0; bc < 2; bc++) {
            good = 1;

            for (ri = 0; ri < 4; ri++) {
                for (ci = 0; ci < 5; ci++) {
                    rows = rowset[ri];
                    cols = colset[ci];

                    begin();
                    ta = in_mat(rows, cols, (ri + ci) & 1, -2, 2, &a, &lda);
                    tb = in_mat(bc ? 1 : rows, cols, ci & 1, -2, 2, &b, &ldb);
                    ty = op ? infer_op_mul(&g, ta, tb)
                            : infer_op_add(&g, ta, tb);
                    y = tt_alloc((size_t) (rows * cols) * sizeof(float));
                    infer_op_output(&g, ty, y);

                    if (compute(NULL, 0, err, sizeof(err)) != 0) {
                        diag("%s", err);
                        good = 0;
                    }

                    for (r = 0; good && r < rows; r++) {
                        for (j = 0; j < cols; j++) {
                            /* a double sum or product of two floats is
                             * exact: rounded once, it is float's */
                            ref = op ? (float) ((double) a[r * lda + j]
                                                * b[(bc ? 0 : r) * ldb + j])
                                     : (float) ((double) a[r * lda + j]
                                                + b[(bc ? 0 : r) * ldb + j]);
                            if (y[r * cols + j] != ref) {
                                diag("[%lld, %lld] value (%lld, %lld): %.9g, "
                                     "reference %.9g", (long long) rows,
                                     (long long) cols, (long long) r,
                                     (long long) j, y[r * cols + j], ref);
                                good = 0;
                                break;
                            }
                        }
                    }

                    tt_free_all();
                }
            }

            ok(good, "%s == reference bit for bit, %s, rows 1..300, cols "
               "1..1000, views", op ? "mul" : "add",
               bc ? "a row broadcast" : "the same shape");
        }
    }
}


/* activations */

static void
test_act(void)
{
    int              act, ri, ci;
    char             err[INFER_ERRLEN], what[64];
    float           *x, *y;
    size_t           ld;
    double           ref;
    int64_t          rows, cols, r, j;
    cmp_t            cm;
    infer_tensor_t  *t;

    static const int64_t  rowset[] = { 1, 17, 300 };
    static const int64_t  colset[] = { 1, 3, 384 };
    static const char    *names[] = { "none", "relu", "gelu", "tanh",
                                      "sigmoid", "gelu_tanh", "silu" };

    for (act = 0; act < INFER_ACT_COUNT; act++) {
        cmp_init(&cm);

        for (ri = 0; ri < 3; ri++) {
            for (ci = 0; ci < 3; ci++) {
                rows = rowset[ri];
                cols = colset[ci];
                snprintf(what, sizeof(what), "[%lld, %lld]",
                         (long long) rows, (long long) cols);

                begin();
                t = in_mat(rows, cols, (ri + ci) & 1, -8, 8, &x, &ld);
                t = infer_op_act(&g, t, act);
                y = tt_alloc((size_t) (rows * cols) * sizeof(float));
                infer_op_output(&g, t, y);

                if (compute(NULL, 0, err, sizeof(err)) != 0) {
                    cmp(&cm, NAN, 0, 0, err, 0);
                }

                for (r = 0; r < rows; r++) {
                    for (j = 0; j < cols; j++) {
                        ref = ref_act(act, x[r * ld + j]);
                        /* the floor: gelu_tanh's 1 + tanh cancels in
                         * float for x < 0, by up to |x| u */
                        cmp(&cm, y[r * cols + j], ref,
                            1e-5 * fabs(ref) + 1e-6, what,
                            (long) (r * cols + j));
                    }
                }

                tt_free_all();
            }
        }

        cmp_ok(&cm, "act %s == reference on [-8, 8], rows 1..300, views",
               names[act]);
    }
}


/* softmax */

static void
test_softmax(void)
{
    int              variant, ri, ci, j0;
    char             err[INFER_ERRLEN], what[64];
    float           *x, *y, *mask, scale, m;
    size_t           ld, ldm;
    double           z[1000], max, sum, ref;
    int64_t          rows, cols, r, j, mrows;
    cmp_t            cm;
    infer_tensor_t  *t, *tm;

    static const int64_t  rowset[] = { 1, 3, 17 };
    static const int64_t  colset[] = { 1, 3, 17, 384, 1000 };
    static const float    negs[] = { -1e30f, -FLT_MAX, -INFINITY };
    static const char    *names[] = {
        "no mask, no scale", "scale 0.3", "a mask of the same shape",
        "a broadcast mask and scale 0.3"
    };

    for (variant = 0; variant < 4; variant++) {
        cmp_init(&cm);

        for (ri = 0; ri < 3; ri++) {
            for (ci = 0; ci < 5; ci++) {
                rows = rowset[ri];
                cols = colset[ci];
                scale = (variant & 1) ? 0.3f : 0.0f;
                snprintf(what, sizeof(what), "[%lld, %lld]",
                         (long long) rows, (long long) cols);

                begin();
                t = in_mat(rows, cols, ci & 1, -10, 10, &x, &ld);
                tm = NULL;
                mask = NULL;
                ldm = 0;

                if (variant >= 2) {
                    mrows = variant == 2 ? rows : 1;
                    tm = in_mat(mrows, cols, ri & 1, -3, 3, &mask, &ldm);

                    /* every row keeps one value unmasked */
                    for (r = 0; r < mrows; r++) {
                        j0 = (int) (rnd32() % cols);
                        for (j = 0; j < cols; j++) {
                            if (j != j0 && rnd32() % 3 == 0) {
                                mask[r * ldm + j] = negs[rnd32() % 3];
                            }
                        }
                    }
                }

                t = infer_op_softmax(&g, t, tm, scale);
                y = tt_alloc((size_t) (rows * cols) * sizeof(float));
                infer_op_output(&g, t, y);

                if (compute(NULL, 0, err, sizeof(err)) != 0) {
                    cmp(&cm, NAN, 0, 0, err, 0);
                }

                for (r = 0; r < rows; r++) {
                    max = -INFINITY;

                    for (j = 0; j < cols; j++) {
                        m = mask ? mask[(variant == 2 ? r : 0) * ldm + j]
                                 : 0.0f;
                        z[j] = (scale == 0.0f ? 1.0 : scale)
                               * (double) x[r * ld + j] + m;
                        max = z[j] > max ? z[j] : max;
                    }

                    sum = 0.0;
                    for (j = 0; j < cols; j++) {
                        z[j] = exp(z[j] - max);
                        sum += z[j];
                    }

                    for (j = 0; j < cols; j++) {
                        ref = z[j] / sum;
                        /* exp is relative; the sum of cols terms adds
                         * cols u; the floor is for subnormal results */
                        cmp(&cm, y[r * cols + j], ref,
                            (1e-5 + 2 * cols * FLT_EPSILON) * ref + 1e-37,
                            what, (long) (r * cols + j));
                    }
                }

                tt_free_all();
            }
        }

        cmp_ok(&cm, "softmax == reference, %s; rows 1..17, cols 1..1000",
               names[variant]);
    }
}


/* layer_norm, rms_norm */

static void
test_norms(void)
{
    int              kind, ri, ci, nw;
    char             err[INFER_ERRLEN], what[64];
    float           *x, *y, off, eps;
    size_t           ld;
    double           mean, var, inv, ref, xmax, tol;
    int64_t          rows, cols, r, j;
    cmp_t            cm;
    infer_tensor_t  *t, *tw, *tb;
    infer_weight_t   w[2];

    static const int64_t  rowset[] = { 1, 3, 17 };
    static const int64_t  colset[] = { 1, 3, 17, 384, 1000 };
    static const char    *names[] = {
        "layer_norm with bias", "layer_norm without bias", "rms_norm"
    };

    for (kind = 0; kind < 3; kind++) {
        cmp_init(&cm);
        eps = kind < 2 ? 1e-5f : 1e-6f;

        for (ri = 0; ri < 3; ri++) {
            for (ci = 0; ci < 5; ci++) {
                rows = rowset[ri];
                cols = colset[ci];
                snprintf(what, sizeof(what), "[%lld, %lld]",
                         (long long) rows, (long long) cols);

                begin();
                make_weight(&w[0], INFER_DT_F32, 1, cols, 0.5f, 1.5f);
                make_weight(&w[1], INFER_DT_F32, 1, cols, -1, 1);
                nw = kind == 0 ? 2 : 1;

                t = in_mat(rows, cols, (ri + ci) & 1, -2, 2, &x, &ld);

                /* rows off centre (layer_norm's two passes), and a row
                 * so small that eps decides (rms_norm) */
                for (r = 0; r < rows; r++) {
                    off = kind < 2 ? rndf(-3, 3) : 0.0f;
                    for (j = 0; j < cols; j++) {
                        x[r * ld + j] = (r == 1 && kind == 2)
                                        ? x[r * ld + j] * 1e-4f
                                        : x[r * ld + j] + off;
                    }
                }

                tw = infer_op_weight(&g, 0, INFER_DT_F32, 1, cols, "w");

                if (kind == 2) {
                    t = infer_op_rms_norm(&g, t, tw, eps);

                } else {
                    tb = kind == 0 ? infer_op_weight(&g, 1, INFER_DT_F32, 1,
                                                     cols, "b")
                                   : NULL;
                    t = infer_op_layer_norm(&g, t, tw, tb, eps);
                }

                y = tt_alloc((size_t) (rows * cols) * sizeof(float));
                infer_op_output(&g, t, y);

                if (compute(w, nw, err, sizeof(err)) != 0) {
                    cmp(&cm, NAN, 0, 0, err, 0);
                }

                for (r = 0; r < rows; r++) {
                    mean = 0.0;
                    var = 0.0;
                    xmax = 0.0;

                    for (j = 0; j < cols; j++) {
                        mean += x[r * ld + j];
                        var += (double) x[r * ld + j] * x[r * ld + j];
                        xmax = fmax(xmax, fabs(x[r * ld + j]));
                    }

                    mean /= (double) cols;
                    var /= (double) cols;

                    if (kind < 2) {
                        /* the population variance, as torch's */
                        var -= mean * mean;
                        var = var < 0.0 ? 0.0 : var;
                        inv = 1.0 / sqrt(var + eps);

                    } else {
                        inv = 1.0 / sqrt(var + eps);
                        mean = 0.0;
                    }

                    for (j = 0; j < cols; j++) {
                        ref = (x[r * ld + j] - mean) * inv * w[0].f32[j]
                              + (kind == 0 ? w[1].f32[j] : 0.0);

                        /* the float sums of cols terms (the mean, the
                         * squares) err by up to cols u max|x|, which the
                         * normalisation divides by the deviation */
                        tol = 1e-5 * fabs(ref)
                              + 2 * cols * FLT_EPSILON * xmax * inv
                                * w[0].f32[j]
                              + 1e-6;
                        cmp(&cm, y[r * cols + j], ref, tol, what,
                            (long) (r * cols + j));
                    }
                }

                tt_free_all();
            }
        }

        cmp_ok(&cm, "%s == reference, rows 1..17, cols 1..1000, views",
               names[kind]);
    }
}


/* get_rows */

static void
test_get_rows(void)
{
    int              dt, vi, ci, ni, good, rc;
    char             err[INFER_ERRLEN];
    float           *y;
    size_t           ld;
    int32_t         *ids;
    int64_t          v, cols, n, r;
    infer_tensor_t  *t, *ti;
    infer_weight_t   w;

    static const int64_t  vocab[] = { 1, 3, 17, 1000 };
    static const int64_t  colset[] = { 1, 3, 17, 384 };
    static const int64_t  nset[] = { 1, 17, 300 };

    for (dt = 0; dt < 3; dt++) {
        good = 1;

        for (vi = 0; vi < 4; vi++) {
            for (ci = 0; ci < 4; ci++) {
                for (ni = 0; ni < 3; ni++) {
                    v = vocab[vi];
                    cols = colset[ci];
                    n = nset[ni];

                    begin();
                    make_weight(&w, (infer_dtype_e) dt, v, cols, -2, 2);

                    /* the ids are column 1 of an n x 2 I32 input */
                    ld = 2;
                    ids = tt_alloc((size_t) n * 2 * sizeof(int32_t));
                    for (r = 0; r < n; r++) {
                        ids[2 * r] = 77777;
                        ids[2 * r + 1] = r == 0 ? 0
                                         : r == 1 ? (int32_t) v - 1
                                         : (int32_t) (rnd32() % v);
                    }

                    ti = infer_op_input(&g, INFER_DT_I32, n, 2, ids, "ids");
                    ti = infer_op_view_cols(&g, ti, 1, 1);
                    t = infer_op_weight(&g, 0, (infer_dtype_e) dt, v, cols,
                                        "table");
                    t = infer_op_get_rows(&g, t, ti);
                    y = tt_alloc((size_t) (n * cols) * sizeof(float));
                    infer_op_output(&g, t, y);

                    if (compute(&w, 1, err, sizeof(err)) != 0) {
                        diag("%s", err);
                        good = 0;
                    }

                    for (r = 0; good && r < n; r++) {
                        if (memcmp(y + r * cols,
                                   w.f32 + (size_t) ids[r * ld + 1] * cols,
                                   (size_t) cols * sizeof(float))
                            != 0)
                        {
                            diag("[%lld, %lld], row %lld (id %d) differs",
                                 (long long) v, (long long) cols,
                                 (long long) r, ids[r * ld + 1]);
                            good = 0;
                        }
                    }

                    tt_free_all();
                }
            }
        }

        ok(good, "get_rows of a %s table == its rows, exactly (vocab 1..1000, "
           "ids a column view)", dt_names[dt]);
    }

    /* ids out of range: a failed batch with a message, not a crash */
    for (ni = 0; ni < 2; ni++) {
        begin();
        make_weight(&w, INFER_DT_F32, 17, 3, -1, 1);
        ids = tt_alloc(3 * sizeof(int32_t));
        ids[0] = 0;
        ids[1] = ni ? -1 : 17;
        ids[2] = 1;
        ti = infer_op_input(&g, INFER_DT_I32, 3, 1, ids, "ids");
        t = infer_op_get_rows(&g, infer_op_weight(&g, 0, INFER_DT_F32, 17, 3,
                                                  "table"), ti);
        y = tt_alloc(9 * sizeof(float));
        infer_op_output(&g, t, y);

        err[0] = '\0';
        rc = compute(&w, 1, err, sizeof(err));
        ok(rc == -1 && strstr(err, "get_rows: id") != NULL
           && strstr(err, ni ? "id -1" : "id 17") != NULL,
           "get_rows: id %d of a table of 17 fails: %s", ni ? -1 : 17, err);
        tt_free_all();
    }
}


/* rope */

static void
test_rope(void)
{
    int              mode, ci, ti, view, h, i, exact_angle, pos;
    char             err[INFER_ERRLEN], what[96];
    float           *x, *y, theta;
    size_t           ld;
    double           a, c, s, x0, x1, ref[4096];
    int32_t         *p;
    int64_t          t, r, j, i0, i1, cols;
    cmp_t            cm;
    infer_tensor_t  *tx, *tp;

    /* heads, head_dim, n_rot */
    static const int      cfg[][3] = {
        { 1, 2, 2 }, { 3, 4, 2 }, { 2, 64, 64 }, { 4, 64, 32 }, { 3, 6, 4 },
        { 1, 128, 96 }
    };
    static const int64_t  tset[] = { 1, 3, 17, 300 };

    for (exact_angle = 0; exact_angle < 2; exact_angle++) {
        for (mode = 0; mode < 2; mode++) {
            cmp_init(&cm);

            for (ci = 0; ci < 6; ci++) {
                for (ti = 0; ti < 4; ti++) {
                    t = tset[ti];
                    view = (ci + ti) & 1;
                    cols = (int64_t) cfg[ci][0] * cfg[ci][1];
                    theta = (ci & 1) ? 1e6f : 10000.0f;
                    snprintf(what, sizeof(what), "%d heads of %d, n_rot %d, "
                             "%lld tokens", cfg[ci][0], cfg[ci][1],
                             cfg[ci][2], (long long) t);

                    begin();
                    tx = in_mat(t, cols, view, -2, 2, &x, &ld);
                    p = tt_alloc((size_t) t * sizeof(int32_t));
                    for (r = 0; r < t; r++) {
                        p[r] = exact_angle ? (int32_t) (rnd32() % 64)
                                           : (int32_t) (rnd32() % 200000);
                    }
                    tp = infer_op_input(&g, INFER_DT_I32, t, 1, p, "pos");
                    tx = infer_op_rope(&g, tx, tp, cfg[ci][0], cfg[ci][1],
                                       cfg[ci][2], mode, theta);
                    y = tt_alloc((size_t) (t * cols) * sizeof(float));
                    infer_op_output(&g, tx, y);

                    if (compute(NULL, 0, err, sizeof(err)) != 0) {
                        cmp(&cm, NAN, 0, 0, err, 0);
                    }

                    for (r = 0; r < t; r++) {
                        pos = p[r];

                        for (j = 0; j < cols; j++) {
                            ref[j] = x[r * ld + j];
                        }

                        for (h = 0; h < cfg[ci][0]; h++) {
                            for (i = 0; i < cfg[ci][2] / 2; i++) {
                                /*
                                 * The angle is defined as float computes
                                 * it (pos * theta^(-2i/n_rot) in float,
                                 * as Hugging Face's inv_freq and ggml);
                                 * at small positions it is also checked
                                 * against the angle in double.
                                 */
                                if (exact_angle) {
                                    a = pos * pow(theta, -2.0 * i
                                                         / cfg[ci][2]);
                                } else {
                                    a = (float) pos
                                        * powf(theta, -2.0f * (float) i
                                                      / (float) cfg[ci][2]);
                                }

                                c = cos(a);
                                s = sin(a);

                                if (mode == INFER_ROPE_NEOX) {
                                    i0 = i;
                                    i1 = i + cfg[ci][2] / 2;
                                } else {
                                    i0 = 2 * i;
                                    i1 = 2 * i + 1;
                                }

                                i0 += (int64_t) h * cfg[ci][1];
                                i1 += (int64_t) h * cfg[ci][1];
                                x0 = ref[i0];
                                x1 = ref[i1];
                                ref[i0] = x0 * c - x1 * s;
                                ref[i1] = x0 * s + x1 * c;
                            }
                        }

                        /* in double, the float angle's own rounding,
                         * 1.5 u of pos, turns a pair (of norm < 3) */
                        for (j = 0; j < cols; j++) {
                            cmp(&cm, y[r * cols + j], ref[j],
                                1e-5 * fabs(ref[j]) + 1e-6
                                + (exact_angle
                                   ? 2 * FLT_EPSILON * pos * 3.0 : 0.0),
                                what, (long) (r * cols + j));
                        }
                    }

                    tt_free_all();
                }
            }

            cmp_ok(&cm, "rope %s == reference", exact_angle
                   ? (mode ? "NEOX, positions < 64, angles in double"
                           : "NORM, positions < 64, angles in double")
                   : (mode ? "NEOX, positions up to 200000, n_rot <= "
                             "head_dim"
                           : "NORM, positions up to 200000, n_rot <= "
                             "head_dim"));
        }
    }
}


/* attention over ragged sequences */

static const int  seq_lens[] = { 1, 2, 3, 17, 64, 127, 300 };
#define NSEQ  7


/*
 * The graph of one attention: q, k, v are column views of one fused qkv
 * input (tokens x (heads + 2 kv_heads) d), as a model makes them.
 */
static void
attn_graph(float *qkv, int64_t tokens, infer_seq_t *seqs, int nseq,
    int heads, int kvh, int d, int causal, float scale, float *y)
{
    int64_t          w;
    infer_tensor_t  *t, *q, *k, *v, *s;

    w = (int64_t) (heads + 2 * kvh) * d;

    begin();
    t = infer_op_input(&g, INFER_DT_F32, tokens, w, qkv, "qkv");
    q = infer_op_view_cols(&g, t, 0, (int64_t) heads * d);
    k = infer_op_view_cols(&g, t, (int64_t) heads * d, (int64_t) kvh * d);
    v = infer_op_view_cols(&g, t, (int64_t) (heads + kvh) * d,
                           (int64_t) kvh * d);
    s = infer_op_input(&g, INFER_DT_I32, nseq, 4, seqs, "seqs");
    t = infer_op_attention(&g, q, k, v, s, heads, kvh, d, causal, scale);
    infer_op_output(&g, t, y);
}


static void
test_attention(void)
{
    int              gqa, causal, sc, i, h, hk, heads, kvh, d, good, rc;
    char             err[INFER_ERRLEN], what[64];
    float           *qkv, *y, *y1, scale;
    double           sco[300], max, sum, acc, tol, S, vmax, sabs, used;
    int64_t          T, w, s, tq, j, c, e;
    cmp_t            cm;
    infer_seq_t      seqs[NSEQ + 1], one;

    T = 0;
    for (i = 0; i < NSEQ; i++) {
        seqs[i].start = (int32_t) T;
        seqs[i].len = seq_lens[i];
        seqs[i].pos = 0;
        seqs[i].reserved = 0;
        T += seq_lens[i];
    }

    for (gqa = 0; gqa < 2; gqa++) {
        for (causal = 0; causal < 2; causal++) {
            for (sc = 0; sc < 2; sc++) {
                heads = gqa ? 8 : 4;
                kvh = gqa ? 2 : 4;
                d = gqa ? 16 : 8;
                scale = sc ? 0.2f : 0.0f;
                w = (int64_t) (heads + 2 * kvh) * d;

                qkv = tt_alloc((size_t) (T * w) * sizeof(float));
                y = tt_alloc((size_t) (T * heads * d) * sizeof(float));
                y1 = tt_alloc((size_t) (300 * heads * d) * sizeof(float));

                for (j = 0; j < T * w; j++) {
                    qkv[j] = rndf(-2, 2);
                }

                cmp_init(&cm);
                attn_graph(qkv, T, seqs, NSEQ, heads, kvh, d, causal, scale,
                           y);

                if (compute(NULL, 0, err, sizeof(err)) != 0) {
                    cmp(&cm, NAN, 0, 0, err, 0);
                }

                used = sc ? 0.2f : 1.0 / sqrt((double) d);

                for (s = 0; s < NSEQ; s++) {
                    snprintf(what, sizeof(what), "sequence %lld (length %d)",
                             (long long) s, seqs[s].len);

                    for (i = 0; i < seqs[s].len; i++) {
                        tq = seqs[s].start + i;
                        e = causal ? i + 1 : seqs[s].len;

                        for (h = 0; h < heads; h++) {
                            hk = h / (heads / kvh);
                            max = -INFINITY;
                            S = 0.0;

                            for (j = 0; j < e; j++) {
                                acc = 0.0;
                                sabs = 0.0;
                                for (c = 0; c < d; c++) {
                                    acc += (double) qkv[tq * w + h * d + c]
                                           * qkv[(seqs[s].start + j) * w
                                                 + (heads + hk) * d + c];
                                    sabs += fabs((double)
                                                 qkv[tq * w + h * d + c]
                                                 * qkv[(seqs[s].start + j) * w
                                                       + (heads + hk) * d
                                                       + c]);
                                }
                                sco[j] = acc * used;
                                S = fmax(S, sabs * used);
                                max = fmax(max, sco[j]);
                            }

                            sum = 0.0;
                            for (j = 0; j < e; j++) {
                                sco[j] = exp(sco[j] - max);
                                sum += sco[j];
                            }

                            for (c = 0; c < d; c++) {
                                acc = 0.0;
                                vmax = 0.0;
                                for (j = 0; j < e; j++) {
                                    acc += sco[j]
                                           * qkv[(seqs[s].start + j) * w
                                                 + (heads + kvh + hk) * d
                                                 + c];
                                    vmax = fmax(vmax, fabs(
                                               qkv[(seqs[s].start + j) * w
                                                   + (heads + kvh + hk) * d
                                                   + c]));
                                }
                                acc /= sum;

                                /* a score errs by up to d u S (its dot
                                 * product), the softmax and the weighted
                                 * sum by e u each */
                                tol = 1e-5 * fabs(acc)
                                      + 4 * (e + d * S) * FLT_EPSILON * vmax;
                                cmp(&cm, y[tq * heads * d + h * d + c], acc,
                                    tol, what,
                                    (long) (tq * heads * d + h * d + c));
                            }
                        }
                    }
                }

                snprintf(what, sizeof(what), "%s, %s, scale %s",
                         gqa ? "8 heads on 2 kv heads" : "4 heads",
                         causal ? "causal" : "not causal",
                         sc ? "0.2" : "1/sqrt(d)");
                cmp_ok(&cm, "attention == reference, one batch of sequences "
                       "of 1, 2, 3, 17, 64, 127, 300 tokens: %s", what);

                /* each sequence alone: the same bits */
                good = 1;

                for (s = 0; s < NSEQ; s++) {
                    one.start = 0;
                    one.len = seqs[s].len;
                    one.pos = 0;
                    one.reserved = 0;

                    attn_graph(qkv + seqs[s].start * w, seqs[s].len, &one, 1,
                               heads, kvh, d, causal, scale, y1);

                    rc = compute(NULL, 0, err, sizeof(err));

                    if (rc != 0
                        || memcmp(y1, y + seqs[s].start * heads * d,
                                  (size_t) (seqs[s].len * heads * d)
                                  * sizeof(float))
                           != 0)
                    {
                        diag("sequence %lld alone differs from it in the "
                             "batch%s%s", (long long) s, rc ? ": " : "",
                             rc ? err : "");
                        good = 0;
                    }
                }

                ok(good, "attention: each sequence alone == in the batch, "
                   "bit for bit: %s", what);

                tt_free_all();
            }
        }
    }

    /* a sequence past the batch's tokens */
    qkv = tt_alloc((size_t) (4 * 3 * 8) * sizeof(float));
    y = tt_alloc((size_t) (4 * 8) * sizeof(float));
    one.start = 2;
    one.len = 3;
    one.pos = 0;
    one.reserved = 0;
    attn_graph(qkv, 4, &one, 1, 1, 1, 8, 1, 0.0f, y);
    err[0] = '\0';
    rc = compute(NULL, 0, err, sizeof(err));
    ok(rc == -1 && strstr(err, "sequence 0 has tokens [2, 5) of 4") != NULL,
       "attention: a sequence past the batch fails: %s", err);
    tt_free_all();
}


/* pool */

static void
test_pool(void)
{
    int              mode, ci, view, i;
    char             err[INFER_ERRLEN], what[64];
    float           *x, *y;
    size_t           ld;
    double           acc, xmax, ref;
    int64_t          T, cols, s, j, r;
    cmp_t            cm;
    infer_seq_t      seqs[NSEQ];
    infer_tensor_t  *t, *ts;

    static const int64_t  colset[] = { 1, 17, 384 };
    static const char    *names[] = { "mean", "cls", "max", "last" };

    T = 0;
    for (i = 0; i < NSEQ; i++) {
        seqs[i].start = (int32_t) T;
        seqs[i].len = seq_lens[NSEQ - 1 - i];
        seqs[i].pos = 0;
        seqs[i].reserved = 0;
        T += seqs[i].len;
    }

    for (mode = 0; mode < 4; mode++) {
        cmp_init(&cm);

        for (ci = 0; ci < 3; ci++) {
            for (view = 0; view < 2; view++) {
                cols = colset[ci];
                snprintf(what, sizeof(what), "%lld columns", (long long) cols);

                begin();
                t = in_mat(T, cols, view, -2, 2, &x, &ld);
                ts = infer_op_input(&g, INFER_DT_I32, NSEQ, 4, seqs, "seqs");
                t = infer_op_pool(&g, t, ts, mode);
                y = tt_alloc((size_t) (NSEQ * cols) * sizeof(float));
                infer_op_output(&g, t, y);

                if (compute(NULL, 0, err, sizeof(err)) != 0) {
                    cmp(&cm, NAN, 0, 0, err, 0);
                }

                for (s = 0; s < NSEQ; s++) {
                    for (j = 0; j < cols; j++) {
                        acc = 0.0;
                        xmax = 0.0;
                        ref = -INFINITY;

                        for (r = seqs[s].start;
                             r < seqs[s].start + seqs[s].len; r++)
                        {
                            acc += x[r * ld + j];
                            xmax = fmax(xmax, fabs(x[r * ld + j]));
                            ref = fmax(ref, x[r * ld + j]);
                        }

                        switch (mode) {
                        case INFER_POOL_MEAN:
                            ref = acc / seqs[s].len;
                            break;
                        case INFER_POOL_CLS:
                            ref = x[seqs[s].start * ld + j];
                            break;
                        case INFER_POOL_LAST:
                            ref = x[(seqs[s].start + seqs[s].len - 1) * ld
                                    + j];
                            break;
                        }

                        /* the mean: a float sum of len terms; the others
                         * are copies */
                        cmp(&cm, y[s * cols + j], ref,
                            mode == INFER_POOL_MEAN
                            ? 1e-5 * fabs(ref)
                              + seqs[s].len * FLT_EPSILON * xmax
                            : 0.0, what, (long) (s * cols + j));
                    }
                }

                tt_free_all();
            }
        }

        cmp_ok(&cm, "pool %s == reference over sequences of 300 down to 1 "
               "tokens, views", names[mode]);
    }
}


/* l2_norm */

static void
test_l2_norm(void)
{
    int              ri, ci;
    char             err[INFER_ERRLEN], what[64];
    float           *x, *y, eps;
    size_t           ld;
    double           ss, ref, nrm;
    int64_t          rows, cols, r, j;
    cmp_t            cm;
    infer_tensor_t  *t;

    static const int64_t  rowset[] = { 3, 17 };
    static const int64_t  colset[] = { 1, 3, 17, 384, 1000 };

    cmp_init(&cm);
    eps = 1e-12f;

    for (ri = 0; ri < 2; ri++) {
        for (ci = 0; ci < 5; ci++) {
            rows = rowset[ri];
            cols = colset[ci];
            snprintf(what, sizeof(what), "[%lld, %lld]", (long long) rows,
                     (long long) cols);

            begin();
            t = in_mat(rows, cols, ci & 1, -2, 2, &x, &ld);

            /* row 0 all zeros, row 1 of a norm below eps */
            for (j = 0; j < cols; j++) {
                x[j] = 0.0f;
                x[ld + j] = (j & 1 ? 1e-14f : -3e-14f) / (float) cols;
            }

            t = infer_op_l2_norm(&g, t, eps);
            y = tt_alloc((size_t) (rows * cols) * sizeof(float));
            infer_op_output(&g, t, y);

            if (compute(NULL, 0, err, sizeof(err)) != 0) {
                cmp(&cm, NAN, 0, 0, err, 0);
            }

            for (r = 0; r < rows; r++) {
                ss = 0.0;
                for (j = 0; j < cols; j++) {
                    ss += (double) x[r * ld + j] * x[r * ld + j];
                }

                nrm = fmax(sqrt(ss), eps);

                for (j = 0; j < cols; j++) {
                    ref = x[r * ld + j] / nrm;
                    /* the sum of squares: cols u, relative */
                    cmp(&cm, y[r * cols + j], ref,
                        (1e-5 + cols * FLT_EPSILON) * fabs(ref), what,
                        (long) (r * cols + j));
                }
            }

            tt_free_all();
        }
    }

    cmp_ok(&cm, "l2_norm == reference, %s", "with an all-zero row and a row "
           "of a norm below eps");
}


/* the memory planner */

static void
test_plan(void)
{
    int              i, good;
    char             err[INFER_ERRLEN];
    float           *x, *cv, *y, *v2, *ref[41], *a2;
    size_t           ld, ldc, plan, sum, sz, lo, hi;
    int64_t          rows, cols, j, r;
    infer_tensor_t  *t[41], *tc, *m, *a, *v, *b, *keep;

    rows = 17;
    cols = 33;
    sz = (size_t) (rows * cols) * sizeof(float);

    /*
     * A chain t[i] = t[i-1] + t[i-3] * c: three links live at a time, 80
     * intermediates in all; the plan must reuse, and reuse must not
     * clobber a link still to be read (t[i-3]).
     */
    begin();
    t[0] = in_mat(rows, cols, 0, -1, 1, &x, &ld);
    tc = in_mat(1, cols, 1, 0.5f, 0.9f, &cv, &ldc);
    t[1] = infer_op_act(&g, t[0], INFER_ACT_RELU);
    t[2] = infer_op_add(&g, t[1], t[0]);
    sum = 2 * sz;

    for (i = 3; i <= 40; i++) {
        m = infer_op_mul(&g, t[i - 3], tc);
        t[i] = infer_op_add(&g, t[i - 1], m);
        sum += 2 * sz;
    }

    y = tt_alloc(sz);
    infer_op_output(&g, t[40], y);

    plan = g.failed ? 0 : infer_graph_plan(&g, 64, 0, 1);
    ok(!g.failed && plan > 0 && plan < sum && plan <= 8 * sz,
       "plan: a chain of 78 intermediates of %zu bytes needs %zu bytes, not "
       "%zu%s%s", sz, plan, sum, g.failed ? ": " : "", g.err);

    good = compute(NULL, 0, err, sizeof(err)) == 0;
    if (!good) {
        diag("%s", err);
    }

    /* the same float operations, in the same order: the same bits */
    for (i = 0; i <= 40; i++) {
        ref[i] = tt_alloc(sz);
    }

    for (r = 0; r < rows; r++) {
        for (j = 0; j < cols; j++) {
            ref[0][r * cols + j] = x[r * ld + j];
            ref[1][r * cols + j] = x[r * ld + j] < 0.0f ? 0.0f
                                                        : x[r * ld + j];
            ref[2][r * cols + j] = ref[1][r * cols + j] + x[r * ld + j];
        }
    }

    for (i = 3; i <= 40; i++) {
        for (r = 0; r < rows; r++) {
            for (j = 0; j < cols; j++) {
                ref[i][r * cols + j] = ref[i - 1][r * cols + j]
                                       + ref[i - 3][r * cols + j] * cv[j];
            }
        }
    }

    ok(good && memcmp(y, ref[40], sz) == 0,
       "plan: the long chain computes the same bits as plain loops");
    tt_free_all();

    /*
     * A view keeps its source alive: a is read through v only after
     * several other intermediates were made, which must not take a's
     * bytes; an output that is a view goes to the host packed.
     */
    begin();
    t[0] = in_mat(rows, 2 * cols, 0, -1, 1, &x, &ld);
    a = infer_op_add(&g, t[0], t[0]);
    v = infer_op_view_cols(&g, a, cols, cols);
    keep = infer_op_view_cols(&g, infer_op_mul(&g, t[0], t[0]), 1, cols - 2);
    b = infer_op_act(&g, infer_op_view_cols(&g, t[0], 0, cols),
                     INFER_ACT_RELU);
    for (i = 0; i < 6; i++) {
        b = infer_op_add(&g, b, b);
    }
    b = infer_op_add(&g, b, v);
    y = tt_alloc(sz);
    infer_op_output(&g, b, y);
    v2 = tt_alloc((size_t) (rows * (cols - 2)) * sizeof(float));
    infer_op_output(&g, keep, v2);

    plan = g.failed ? 0 : infer_graph_plan(&g, 64, 0, 1);

    /* no tensor made after a, before the last reader of v, overlaps a */
    good = !g.failed;
    lo = a->offset;
    hi = a->offset + (size_t) (a->rows * a->nb);

    for (i = (int) (a - g.nodes) + 1; good && i < g.n; i++) {
        if (g.nodes[i].op == INFER_OP_VIEW
            || (g.nodes[i].flags & INFER_TENSOR_OUTPUT))
        {
            continue;
        }

        if (g.nodes[i].offset < hi
            && g.nodes[i].offset + (size_t) (g.nodes[i].rows
                                             * g.nodes[i].nb) > lo)
        {
            diag("node %d (%s) at [%zu, %zu) overlaps a at [%zu, %zu)", i,
                 infer_op_name(g.nodes[i].op), g.nodes[i].offset,
                 g.nodes[i].offset + (size_t) (g.nodes[i].rows
                                               * g.nodes[i].nb), lo, hi);
            good = 0;
        }
    }

    ok(good && plan > 0, "plan: a tensor read through a view stays live "
       "until the view's last reader");

    good = compute(NULL, 0, err, sizeof(err)) == 0;
    if (!good) {
        diag("%s", err);
    }

    a2 = tt_alloc(sz);

    for (r = 0; good && r < rows; r++) {
        for (j = 0; j < cols; j++) {
            a2[r * cols + j] = x[r * ld + j] < 0.0f ? 0.0f : x[r * ld + j];
            for (i = 0; i < 6; i++) {
                a2[r * cols + j] += a2[r * cols + j];
            }
            a2[r * cols + j] += x[r * ld + cols + j] + x[r * ld + cols + j];
        }

        for (j = 0; j < cols - 2; j++) {
            good &= v2[r * (cols - 2) + j]
                    == x[r * ld + 1 + j] * x[r * ld + 1 + j];
        }
    }

    ok(good && memcmp(y, a2, sz) == 0,
       "plan: the values read through the view are intact, and an output "
       "view arrives packed");
    tt_free_all();
}


int
main(void)
{
    if (tt_begin("test_ops") != 0) {
        return 2;
    }

    test_matmul();
    test_binary();
    test_act();
    test_softmax();
    test_norms();
    test_get_rows();
    test_rope();
    test_attention();
    test_pool();
    test_l2_norm();
    test_plan();

    return tt_end();
}
