/*
 * ngx_infer: unit tests of GGUF's quantized blocks, printing TAP
 * (t/011-quant.t).
 *
 *   - the values: infer_quant_dequantize_row() against the gguf package's
 *     gguf.quants.dequantize() on the blocks of t/fixtures/quant (written
 *     by t/lib/gen_quant.py: blocks gguf quantized, random bytes with
 *     valid f16 scales for the K types), bit for bit;
 *   - the dot products, infer_quant_dot() (C) and the AVX2 kernel of
 *     cpu/infer_cpu_quant.c, against a float64 dot of the dequantized row:
 *     within 1e-5 of sum |w_i x_i| (the magnitude a float sum's rounding
 *     scales with; |ref| alone is no bound when the terms cancel), with the
 *     worst error against |ref| shown too;
 *   - the product through the op layer: infer_op_matmul() with a
 *     quantized weight on the CPU backend, widths 32 to 4096, batches 1 to
 *     65, with and without bias, x contiguous or a column view, against
 *     float64 (the same bound plus 1e-5 |ref|, test_ops.c's);
 *   - a row alone and in batches (16, 64, 65, other positions): the same
 *     bits, in both the AVX2 and the C path;
 *   - the 8-bit path (infer_cpu_quant_q8.c): x's quantization the same in
 *     C and AVX2, the product against float64 of what it multiplies, and
 *     against the exact x within what quantizing x costs;
 *   - get_rows on a quantized table (the rows gathered, bit for bit, and a
 *     bad id), and the builders' refusals.
 *
 * $TEST_NGINX_FIXTURES/quant or argv[1] holds the fixtures.
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
#include "infer_quant.h"
#include "cpu/infer_cpu.h"

#include "tt.h"


#define NODES  16
#define NQT    6


static const infer_dtype_e  qtypes[NQT] = {
    INFER_DT_Q8_0, INFER_DT_Q4_0, INFER_DT_Q4_1, INFER_DT_Q4_K,
    INFER_DT_Q5_K, INFER_DT_Q6_K
};

static infer_tensor_t   nodes[NODES];
static infer_graph_t    g;
static char             root[512];


/* where each type's f16 scales are in its block */
static void
half_offsets(infer_dtype_e dt, int *at, int *n)
{
    switch (dt) {
    case INFER_DT_Q4_1:
    case INFER_DT_Q4_K:
    case INFER_DT_Q5_K:
        at[0] = 0;
        at[1] = 2;
        *n = 2;
        return;
    case INFER_DT_Q6_K:
        at[0] = 208;
        *n = 1;
        return;
    default:
        at[0] = 0;
        *n = 1;
        return;
    }
}


/*
 * rows rows of cols values of random blocks: random quants, scales and
 * mins, and f16 scales of magnitudes that keep the values about 0.01 to
 * 1 (both signs), so that products of thousands of terms stay readable
 */
static unsigned char *
random_blocks(infer_dtype_e dt, int64_t rows, int64_t cols)
{
    int             at[2], nh, k;
    size_t          bs, i, nb;
    uint16_t        h;
    unsigned char  *p;

    bs = infer_dtype_block_size(dt);
    nb = (size_t) (rows * cols / infer_dtype_block(dt));
    p = tt_alloc(nb * bs);
    half_offsets(dt, at, &nh);

    for (i = 0; i < nb * bs; i++) {
        p[i] = (unsigned char) rnd32();
    }

    for (i = 0; i < nb; i++) {
        for (k = 0; k < nh; k++) {
            h = infer_f32_to_f16((rnd32() & 1 ? -1.0f : 1.0f)
                                 * powf(10.0f, rndf(-3.5f, -1.5f)));
            p[i * bs + at[k]] = (unsigned char) h;
            p[i * bs + at[k] + 1] = (unsigned char) (h >> 8);
        }
    }

    return p;
}


static float *
read_all(const char *path, size_t *len)
{
    FILE   *f;
    char   *p;
    long    n;

    f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }

    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0
        || fseek(f, 0, SEEK_SET) != 0)
    {
        fclose(f);
        return NULL;
    }

    p = tt_alloc((size_t) n);

    if (fread(p, 1, (size_t) n, f) != (size_t) n) {
        fclose(f);
        return NULL;
    }

    fclose(f);
    *len = (size_t) n;

    return (float *) p;
}


/* the values, against the gguf package's */

static void
test_layouts(void)
{
    int       i, j, good;
    uint8_t   q[12], sc, mn;
    uint32_t  u[4];

    /* the K types' scales, all at once == one at a time */
    good = 1;

    for (i = 0; i < 20000; i++) {
        for (j = 0; j < 12; j++) {
            q[j] = (uint8_t) rnd32();
        }

        infer_quant_k_scales(q, u);

        for (j = 0; j < 8; j++) {
            infer_quant_scale_min(q, j, &sc, &mn);
            good &= sc == ((u[j / 4] >> (8 * (j % 4))) & 0xff)
                    && mn == ((u[2 + j / 4] >> (8 * (j % 4))) & 0xff);
        }
    }

    ok(good, "infer_quant_k_scales() == infer_quant_scale_min() on 20000 "
       "random scale fields");

    ok(sizeof(infer_block_q8_0_t) == infer_dtype_block_size(INFER_DT_Q8_0)
       && sizeof(infer_block_q4_0_t)
          == infer_dtype_block_size(INFER_DT_Q4_0)
       && sizeof(infer_block_q4_1_t)
          == infer_dtype_block_size(INFER_DT_Q4_1)
       && sizeof(infer_block_q4_k_t)
          == infer_dtype_block_size(INFER_DT_Q4_K)
       && sizeof(infer_block_q5_k_t)
          == infer_dtype_block_size(INFER_DT_Q5_K)
       && sizeof(infer_block_q6_k_t)
          == infer_dtype_block_size(INFER_DT_Q6_K),
       "the block structs are infer_dtype.h's sizes (34, 18, 20, 144, 176, "
       "210 bytes)");
}


static void
test_dequantize(void)
{
    int            t;
    char           path[600];
    float         *q, *ref, *got;
    size_t         qlen, flen, row;
    int64_t        n, rows, r, i, bad;
    const char    *name;

    for (t = 0; t < NQT; t++) {
        name = infer_dtype_name(qtypes[t]);
        snprintf(path, sizeof(path), "%s/%s.q", root, name);
        q = read_all(path, &qlen);
        snprintf(path, sizeof(path), "%s/%s.f32", root, name);
        ref = (q != NULL) ? read_all(path, &flen) : NULL;

        if (ref == NULL) {
            ok(0, "%s: dequantize: cannot read %s (make fixtures)", name,
               path);
            continue;
        }

        /* the manifest's shape: 512 values a row */
        n = 512;
        row = infer_dtype_row_size(qtypes[t], n);
        rows = (int64_t) (qlen / row);
        got = tt_alloc(flen);
        bad = 0;

        for (r = 0; r < rows; r++) {
            if (infer_quant_dequantize_row(qtypes[t],
                                           (char *) q + (size_t) r * row,
                                           got + r * n, n)
                != 0)
            {
                bad = -1;
                break;
            }
        }

        for (i = 0; bad >= 0 && i < rows * n; i++) {
            if (memcmp(&got[i], &ref[i], sizeof(float)) != 0) {
                if (bad++ == 0) {
                    diag("%s: value %lld: %.9g, gguf %.9g", name,
                         (long long) i, got[i], ref[i]);
                }
            }
        }

        ok(bad == 0 && rows > 0 && (size_t) (rows * n) * 4 == flen,
           "%s: dequantize == gguf.quants.dequantize, bit for bit, %lld "
           "rows of %lld (%lld differ)", name, (long long) rows,
           (long long) n, (long long) bad);
    }
}


/* float64 reference of a dot: the value and sum |terms| */
static double
ref_dot(const float *w, const float *x, int64_t n, double *abs_sum)
{
    double   acc, t;
    int64_t  i;

    acc = 0.0;
    *abs_sum = 0.0;

    for (i = 0; i < n; i++) {
        t = (double) w[i] * x[i];
        acc += t;
        *abs_sum += fabs(t);
    }

    return acc;
}


/* the products' paths: plain C, AVX2, AVX-512 */
static const char  *path_name[] = { "C", "AVX2", "AVX-512" };


/* a path this CPU cannot take, skipped (its test counted as passed) */
static int
skip_path(infer_dtype_e dt, int path)
{
    if (path == 1 && !infer_cpu_quant_avx2()) {
        ok(1, "# SKIP %s: no AVX2, FMA and F16C here", infer_dtype_name(dt));
        return 1;
    }

    if (path == 2 && !infer_cpu_quant_avx512()) {
        ok(1, "# SKIP %s: no AVX-512 (F, BW, DQ, VL) here",
           infer_dtype_name(dt));
        return 1;
    }

    return 0;
}


/* the dot products: C, AVX2 and AVX-512, against float64 */

static void
test_dot(void)
{
    int               t, wi, path, good, rep;
    float             got, *x, *vals;
    double            ref, abs_sum, worst_abs, worst_rel, e;
    int64_t           n;
    unsigned char    *w;
    infer_cpu_env_t   env;

    static const int64_t  widths[] = { 256, 512, 1024, 2048, 4096, 11008 };

    for (t = 0; t < NQT; t++) {
        for (path = 0; path < 3; path++) {
            good = 1;
            worst_abs = 0.0;
            worst_rel = 0.0;

            if (skip_path(qtypes[t], path)) {
                continue;
            }

            for (wi = 0; wi < 6; wi++) {
                for (rep = 0; rep < 8; rep++) {
                    n = widths[wi] + (rep & 1) * infer_dtype_block(qtypes[t]);
                    w = random_blocks(qtypes[t], 1, n);
                    vals = tt_alloc((size_t) n * sizeof(float));
                    x = tt_alloc((size_t) n * sizeof(float));
                    infer_quant_dequantize_row(qtypes[t], w, vals, n);

                    for (int64_t i = 0; i < n; i++) {
                        x[i] = rndf(-1.0f, 1.0f);
                    }

                    if (path == 0) {
                        got = infer_quant_dot(qtypes[t], w, x, n);

                    } else {
                        memset(&env, 0, sizeof(env));
                        env.avx2 = 1;
                        env.avx512 = (path == 2);
                        infer_cpu_quant_matmul(&env, qtypes[t], x, n, 1, w, n,
                                               1, &got, 1);
                    }

                    ref = ref_dot(vals, x, n, &abs_sum);
                    e = fabs((double) got - ref);

                    if (!(e <= 1e-5 * abs_sum)) {
                        if (good) {
                            diag("%s, %lld values: %.9g, reference %.9g, "
                                 "sum |t| %.3g", infer_dtype_name(qtypes[t]),
                                 (long long) n, got, ref, abs_sum);
                        }
                        good = 0;
                    }

                    if (e / abs_sum > worst_abs) {
                        worst_abs = e / abs_sum;
                    }

                    if (fabs(ref) > 1e-3 * abs_sum && e / fabs(ref) > worst_rel)
                    {
                        worst_rel = e / fabs(ref);
                    }

                    tt_free_all();
                }
            }

            ok(good, "%s: %s dot == float64 of the dequantized row within "
               "1e-5 sum|w x|, 256 to 11008 values (worst %.2g of sum|w x|, "
               "%.2g of |ref|)", infer_dtype_name(qtypes[t]),
               path_name[path], worst_abs, worst_rel);
        }
    }
}


/* a graph: x (rows x k, a view or not) times w (n x k, dt) plus bias */
static int
run_matmul(infer_dtype_e dt, const unsigned char *wq, int64_t rows,
    int64_t k, int64_t n, const float *b, int view, float *xbase,
    size_t ld, float *y, char *err, size_t errlen)
{
    int               rc, nw;
    infer_tensor_t   *tx, *tw, *tb, *ty;
    infer_weight_t    w[2];
    infer_backend_t  *be;

    infer_graph_init(&g, nodes, NODES);

    memset(w, 0, sizeof(w));
    w[0].name = "w";
    w[0].type = dt;
    w[0].rows = n;
    w[0].cols = k;
    w[0].data = wq;
    w[0].nbytes = (size_t) n * infer_dtype_row_size(dt, k);
    w[1].name = "b";
    w[1].type = INFER_DT_F32;
    w[1].rows = 1;
    w[1].cols = n;
    w[1].data = b;
    w[1].f32 = b;
    w[1].nbytes = (size_t) n * sizeof(float);
    nw = b ? 2 : 1;

    tx = infer_op_input(&g, INFER_DT_F32, rows, (int64_t) ld, xbase, "x");

    if (view) {
        tx = infer_op_view_cols(&g, tx, 2, k);
    }

    tw = infer_op_weight(&g, 0, dt, n, k, "w");
    tb = b ? infer_op_weight(&g, 1, INFER_DT_F32, 1, n, "b") : NULL;
    ty = infer_op_matmul(&g, tx, tw, tb);
    infer_op_output(&g, ty, y);

    if (g.failed) {
        snprintf(err, errlen, "graph: %s", g.err);
        return -1;
    }

    be = infer_backend_cpu_new(INFER_PRECISION_FP32, err, errlen);
    if (be == NULL) {
        return -1;
    }

    rc = be->iface->load(be, w, nw, err, errlen);
    if (rc == 0) {
        rc = be->iface->reserve(be, &g, err, errlen);
    }
    if (rc == 0) {
        rc = be->iface->compute(be, &g, err, errlen);
    }

    be->iface->free(be);

    return rc;
}


/* the product through the op layer, against float64 */

static void
test_matmul(void)
{
    int              t, ki, ri, bias, view, good;
    char             err[INFER_ERRLEN];
    float           *x, *xb, *y, *b, *wf;
    size_t           ld;
    double           ref, abs_sum, e, tol, worst;
    int64_t          k, n, rows, r, j, c, bk;
    unsigned char   *wq;

    static const int64_t  ks[] = { 32, 96, 256, 768, 1024, 4096 };
    static const int64_t  rowset[] = { 1, 2, 3, 4, 5, 16, 17, 64, 65 };

    for (t = 0; t < NQT; t++) {
        bk = infer_dtype_block(qtypes[t]);

        for (bias = 0; bias < 2; bias++) {
            for (view = 0; view < 2; view++) {
                good = 1;
                worst = 0.0;

                for (ki = 0; ki < 6; ki++) {
                    k = ks[ki];

                    if (k % bk) {
                        continue;
                    }

                    for (ri = 0; ri < 9; ri++) {
                        rows = rowset[ri];
                        n = (k >= 4096) ? 19 : 37 + ri;

                        wq = random_blocks(qtypes[t], n, k);
                        wf = tt_alloc((size_t) (n * k) * sizeof(float));
                        infer_quant_dequantize_row(qtypes[t], wq, wf, n * k);

                        ld = (size_t) (view ? k + 5 : k);
                        xb = tt_alloc((size_t) rows * ld * sizeof(float));
                        for (c = 0; c < rows * (int64_t) ld; c++) {
                            xb[c] = rndf(-1.0f, 1.0f);
                        }
                        x = view ? xb + 2 : xb;

                        b = NULL;
                        if (bias) {
                            b = tt_alloc((size_t) n * sizeof(float));
                            for (j = 0; j < n; j++) {
                                b[j] = rndf(-1.0f, 1.0f);
                            }
                        }

                        y = tt_alloc((size_t) (rows * n) * sizeof(float));

                        if (run_matmul(qtypes[t], wq, rows, k, n, b, view, xb,
                                       ld, y, err, sizeof(err))
                            != 0)
                        {
                            if (good) {
                                diag("%s: %s", infer_dtype_name(qtypes[t]),
                                     err);
                            }
                            good = 0;
                            tt_free_all();
                            continue;
                        }

                        for (r = 0; r < rows; r++) {
                            for (j = 0; j < n; j++) {
                                ref = ref_dot(wf + j * k, x + r * ld, k,
                                              &abs_sum);
                                if (b) {
                                    ref += b[j];
                                    abs_sum += fabs(b[j]);
                                }

                                e = fabs((double) y[r * n + j] - ref);
                                tol = 1e-5 * fabs(ref) + 1e-5 * abs_sum;

                                if (e / tol > worst) {
                                    worst = e / tol;
                                }

                                if (!(e <= tol) && good) {
                                    diag("%s, [%lld, %lld] x [%lld, %lld]^T,"
                                         " y[%lld][%lld] %.9g, reference "
                                         "%.9g", infer_dtype_name(qtypes[t]),
                                         (long long) rows, (long long) k,
                                         (long long) n, (long long) k,
                                         (long long) r, (long long) j,
                                         y[r * n + j], ref);
                                    good = 0;
                                }
                            }
                        }

                        tt_free_all();
                    }
                }

                ok(good, "%s: matmul == float64: k 32 to 4096, 1 to 65 "
                   "rows, %s, %s (worst %.2g of the tolerance)",
                   infer_dtype_name(qtypes[t]), bias ? "bias" : "no bias",
                   view ? "x a column view" : "x contiguous", worst);
            }
        }
    }
}


/* a row alone and in batches: the same bits */

static void
test_bits(void)
{
    int               t, path, good, bi, pos;
    float            *x, *yb, *y1;
    int64_t           k, n, rows, r, j, c;
    unsigned char    *wq;
    infer_cpu_env_t   env;

    static const int64_t  batches[] = { 2, 4, 5, 16, 17, 64, 65, 100 };

    for (t = 0; t < NQT; t++) {
        for (path = 0; path < 3; path++) {
            if (skip_path(qtypes[t], path)) {
                continue;
            }

            good = 1;
            memset(&env, 0, sizeof(env));
            env.avx2 = (path >= 1);
            env.avx512 = (path == 2);

            k = 4096 + 512;
            n = 23;
            wq = random_blocks(qtypes[t], n, k);
            y1 = tt_alloc((size_t) n * sizeof(float));

            for (bi = 0; bi < 8; bi++) {
                rows = batches[bi];
                x = tt_alloc((size_t) (rows * k) * sizeof(float));
                yb = tt_alloc((size_t) (rows * n) * sizeof(float));

                for (c = 0; c < rows * k; c++) {
                    x[c] = rndf(-1.0f, 1.0f);
                }

                infer_cpu_quant_matmul(&env, qtypes[t], x, (size_t) k,
                                       (int) rows, wq, k, n, yb, (size_t) n);

                for (pos = 0; pos < 3; pos++) {
                    r = (pos == 0) ? 0 : (pos == 1) ? rows / 2 : rows - 1;
                    infer_cpu_quant_matmul(&env, qtypes[t], x + r * k,
                                           (size_t) k, 1, wq, k, n, y1, 1);

                    for (j = 0; j < n; j++) {
                        if (memcmp(&y1[j], &yb[r * n + j], sizeof(float))) {
                            if (good) {
                                diag("batch of %lld, row %lld, output %lld:"
                                     " %.9g alone, %.9g batched",
                                     (long long) rows, (long long) r,
                                     (long long) j, y1[j], yb[r * n + j]);
                            }
                            good = 0;
                        }
                    }
                }
            }

            ok(good, "%s, %s: a row alone == the same row in batches of 2 to "
               "100 (first, middle, last), bit for bit",
               infer_dtype_name(qtypes[t]), path_name[path]);

            tt_free_all();
        }
    }
}


/*
 * AVX-512 computes what AVX2 does, bit for bit: every type, widths of one
 * chunk and of several (a last short one among them), output counts that
 * leave a row without its pair, and batches that take the one- and
 * two-row path, every tile shape and more than one tile of rows.
 */

static void
test_avx512(void)
{
    int               t, ki, ni, bi, good;
    float            *x, *y2, *y5;
    int64_t           k, n, rows, c, bad;
    unsigned char    *wq;
    infer_cpu_env_t   e2, e5;

    static const int64_t  ks[] = { 256, 576, 1024, 1536, 4096 + 768 };
    static const int64_t  ns[] = { 1, 2, 3, 5, 6, 7, 13, 64 };
    static const int64_t  batches[] = { 1, 2, 3, 4, 5, 7, 8, 16, 17, 65,
                                        130 };

    if (!infer_cpu_quant_avx512()) {
        ok(1, "# SKIP AVX-512 against AVX2: no AVX-512 (F, BW, DQ, VL) here");
        return;
    }

    memset(&e2, 0, sizeof(e2));
    e2.avx2 = 1;
    e5 = e2;
    e5.avx512 = 1;

    for (t = 0; t < NQT; t++) {
        good = 1;

        for (ki = 0; ki < 5; ki++) {
            k = ks[ki];

            if (k % infer_dtype_block(qtypes[t])) {
                continue;
            }

            for (ni = 0; ni < 8; ni++) {
                n = ns[ni];
                wq = random_blocks(qtypes[t], n, k);

                for (bi = 0; bi < 11; bi++) {
                    rows = batches[bi];
                    x = tt_alloc((size_t) (rows * k) * sizeof(float));
                    y2 = tt_alloc((size_t) (rows * n) * sizeof(float));
                    y5 = tt_alloc((size_t) (rows * n) * sizeof(float));

                    for (c = 0; c < rows * k; c++) {
                        x[c] = rndf(-1.0f, 1.0f);
                    }

                    infer_cpu_quant_matmul(&e2, qtypes[t], x, (size_t) k,
                                           (int) rows, wq, k, n, y2,
                                           (size_t) n);
                    infer_cpu_quant_matmul(&e5, qtypes[t], x, (size_t) k,
                                           (int) rows, wq, k, n, y5,
                                           (size_t) n);

                    if (memcmp(y2, y5, (size_t) (rows * n) * sizeof(float))
                        && good)
                    {
                        for (bad = 0; y2[bad] == y5[bad]; bad++) {
                            /* void */
                        }

                        diag("%lld x %lld times %lld rows, output %lld: "
                             "AVX2 %.9g, AVX-512 %.9g", (long long) n,
                             (long long) k, (long long) rows,
                             (long long) bad, y2[bad], y5[bad]);
                        good = 0;
                    }
                }
            }

            tt_free_all();
        }

        ok(good, "%s: AVX-512 == AVX2 bit for bit, 256 to 4864 values, 1 to "
           "64 outputs, batches of 1 to 130", infer_dtype_name(qtypes[t]));
    }
}


/*
 * What the 8-bit path's x scales cost a type with a min (Q4_1, and the
 * K types' -dmin mn): x's block sum s is d times the sum of its quants
 * rounded to F16 (llama.cpp's Q8_1), which the min multiplies; 0 for the
 * others.  Row j of w (k values), x's quants q, d and s.
 */
static double
min_term(infer_dtype_e dt, const unsigned char *w, int64_t j, int64_t k,
    const int8_t *q, const float *d, const float *s)
{
    int                        l, sum;
    double                     m, e;
    int64_t                    b;
    uint32_t                   u[4];
    const unsigned char       *row;
    const infer_block_q4_k_t  *kb;

    if (dt != INFER_DT_Q4_1 && dt != INFER_DT_Q4_K && dt != INFER_DT_Q5_K) {
        return 0.0;
    }

    row = w + (size_t) j * infer_dtype_row_size(dt, k);
    e = 0.0;

    for (b = 0; b < k / 32; b++) {
        if (dt == INFER_DT_Q4_1) {
            m = infer_f16_to_f32(((const infer_block_q4_1_t *) row)[b].m);

        } else {
            /* d, dmin and the scales lie alike in Q4_K's and Q5_K's */
            kb = (const infer_block_q4_k_t *)
                     (row + (size_t) (b / 8) * infer_dtype_block_size(dt));
            infer_quant_k_scales(kb->scales, u);
            m = -(double) infer_f16_to_f32(kb->dmin)
                * ((const uint8_t *) u)[8 + b % 8];
        }

        for (l = 0, sum = 0; l < 32; l++) {
            sum += q[32 * b + l];
        }

        e += m * ((double) s[b] - (double) d[b] * sum);
    }

    return e;
}


/*
 * The second path, x quantized to 8 bits (infer_cpu_quant_q8.c): its
 * quantization the same in C and AVX2; its product against float64 of the
 * dequantized weights times the dequantized x (within 1e-5, as above),
 * and against the exact x within what rounding x to its blocks' steps can
 * cost (sum |w_i| d_i / 2); a row alone and batched, the same bits.
 */

static void
test_q8(void)
{
    int               t, ki, ri, good, good2, bits, pos;
    float            *x, *y, *y1, *wf, *xd, *d, *s, *d2, *s2, *xr;
    double            ref, refx, abs_sum, e, tol, bound, worst, worstx;
    int8_t           *q, *q2;
    int64_t           k, n, rows, r, j, c, bk;
    unsigned char    *wq;
    infer_cpu_env_t   env;

    static const int64_t  ks[] = { 32, 96, 256, 544, 1024, 4096 };
    static const int64_t  rowset[] = { 1, 2, 3, 5, 16, 17, 65 };

    if (!infer_cpu_quant_avx2()) {
        ok(1, "# SKIP the 8-bit path: no AVX2, FMA and F16C here");
        return;
    }

    /* the quantization of x: C and AVX2 */
    good = 1;
    k = 4096;
    x = tt_alloc((size_t) k * sizeof(float));
    q = tt_alloc((size_t) k);
    q2 = tt_alloc((size_t) k);
    d = tt_alloc((size_t) k / 32 * sizeof(float));
    s = tt_alloc((size_t) k / 32 * sizeof(float));
    d2 = tt_alloc((size_t) k / 32 * sizeof(float));
    s2 = tt_alloc((size_t) k / 32 * sizeof(float));

    for (ri = 0; ri < 20; ri++) {
        for (c = 0; c < k; c++) {
            x[c] = rndf(-1.0f, 1.0f) * powf(10.0f, (float) (ri % 7) - 3.0f);
        }
        memset(x + 64, 0, 32 * sizeof(float));        /* a block of zeros */

        infer_cpu_q8_quantize_row(0, x, k, q, d, s);
        infer_cpu_q8_quantize_row(1, x, k, q2, d2, s2);
        good &= memcmp(q, q2, (size_t) k) == 0
                && memcmp(d, d2, (size_t) k / 32 * sizeof(float)) == 0
                && memcmp(s, s2, (size_t) k / 32 * sizeof(float)) == 0;
    }

    ok(good, "8-bit x: the AVX2 quantization == the C one, bit for bit");
    tt_free_all();

    memset(&env, 0, sizeof(env));
    env.avx2 = 1;

    for (t = 0; t < NQT; t++) {
        bk = infer_dtype_block(qtypes[t]);
        good = 1;
        good2 = 1;
        bits = 1;
        worst = 0.0;
        worstx = 0.0;

        for (ki = 0; ki < 6; ki++) {
            k = ks[ki];

            if (k % bk) {
                continue;
            }

            for (ri = 0; ri < 7; ri++) {
                rows = rowset[ri];
                n = 21;
                wq = random_blocks(qtypes[t], n, k);
                wf = tt_alloc((size_t) (n * k) * sizeof(float));
                infer_quant_dequantize_row(qtypes[t], wq, wf, n * k);

                x = tt_alloc((size_t) (rows * k) * sizeof(float));
                xd = tt_alloc((size_t) (rows * k) * sizeof(float));
                q = tt_alloc((size_t) k);
                d = tt_alloc((size_t) k / 32 * sizeof(float));
                s = tt_alloc((size_t) k / 32 * sizeof(float));
                y = tt_alloc((size_t) (rows * n) * sizeof(float));
                y1 = tt_alloc((size_t) n * sizeof(float));

                for (c = 0; c < rows * k; c++) {
                    x[c] = rndf(-1.0f, 1.0f);
                }

                for (r = 0; r < rows; r++) {
                    infer_cpu_q8_quantize_row(0, x + r * k, k, q, d, s);
                    for (c = 0; c < k; c++) {
                        xd[r * k + c] = d[c / 32] * (float) q[c];
                    }
                }

                if (infer_cpu_quant_q8_matmul(&env, qtypes[t], x, (size_t) k,
                                              (int) rows, wq, k, n, y,
                                              (size_t) n)
                    != 0)
                {
                    good = 0;
                    tt_free_all();
                    continue;
                }

                for (r = 0; r < rows; r++) {
                    xr = x + r * k;
                    infer_cpu_q8_quantize_row(0, xr, k, q, d, s);

                    for (j = 0; j < n; j++) {
                        ref = ref_dot(wf + j * k, xd + r * k, k, &abs_sum)
                              + min_term(qtypes[t], wq, j, k, q, d, s);
                        e = fabs((double) y[r * n + j] - ref);
                        tol = 1e-5 * fabs(ref) + 1e-5 * abs_sum;
                        worst = (e / tol > worst) ? e / tol : worst;
                        good &= e <= tol;

                        refx = ref_dot(wf + j * k, xr, k, &abs_sum);
                        bound = 1e-5 * abs_sum;
                        for (c = 0; c < k; c++) {
                            bound += fabs(wf[j * k + c]) * d[c / 32] * 0.5;
                        }
                        e = fabs((double) y[r * n + j] - refx);
                        worstx = (e / abs_sum > worstx) ? e / abs_sum : worstx;
                        good2 &= e <= bound;
                    }
                }

                /* a row alone: the same bits */
                for (pos = 0; pos < 2; pos++) {
                    r = pos ? rows - 1 : rows / 2;
                    infer_cpu_quant_q8_matmul(&env, qtypes[t], x + r * k,
                                              (size_t) k, 1, wq, k, n, y1, 1);
                    bits &= memcmp(y1, y + r * n, (size_t) n * sizeof(float))
                            == 0;
                }

                tt_free_all();
            }
        }

        ok(good, "%s, 8-bit x: matmul == float64 of the dequantized weights "
           "and x, k 32 to 4096 (odd block counts too), 1 to 65 rows (worst "
           "%.2g of the tolerance)", infer_dtype_name(qtypes[t]), worst);
        ok(good2, "%s, 8-bit x: within what quantizing x costs of the exact "
           "product (worst %.2g of sum |w x|)", infer_dtype_name(qtypes[t]),
           worstx);
        ok(bits, "%s, 8-bit x: a row alone == the same row batched, bit for "
           "bit", infer_dtype_name(qtypes[t]));
    }

    free(env.work);

    /* the backend's default is the F32 path; env.quant_q8 picks this one */
    memset(&env, 0, sizeof(env));
    ok(env.quant_q8 == 0, "the F32 path is the default (quant_q8 0)");
}


/* get_rows on a quantized table: the rows gathered, as dequantized */

static void
test_get_rows(void)
{
    int               t, rc, good;
    char              err[INFER_ERRLEN];
    float            *y, *ref;
    int32_t           ids[7] = { 4, 0, 9, 4, 1, 8, 2 };
    int64_t           k, v, i;
    unsigned char    *tab;
    infer_tensor_t   *tt, *ti, *ty;
    infer_weight_t    w;
    infer_backend_t  *be;

    for (t = 0; t < NQT; t++) {
        k = 512;
        v = 10;
        tab = random_blocks(qtypes[t], v, k);
        y = tt_alloc(7 * (size_t) k * sizeof(float));
        ref = tt_alloc((size_t) k * sizeof(float));

        memset(&w, 0, sizeof(w));
        w.name = "embd";
        w.type = qtypes[t];
        w.rows = v;
        w.cols = k;
        w.data = tab;
        w.nbytes = (size_t) v * infer_dtype_row_size(qtypes[t], k);

        infer_graph_init(&g, nodes, NODES);
        tt = infer_op_weight(&g, 0, qtypes[t], v, k, "embd");
        ti = infer_op_input(&g, INFER_DT_I32, 7, 1, ids, "ids");
        ty = infer_op_get_rows(&g, tt, ti);
        infer_op_output(&g, ty, y);

        be = infer_backend_cpu_new(INFER_PRECISION_FP32, err, sizeof(err));
        rc = (be == NULL || g.failed) ? -1
             : be->iface->load(be, &w, 1, err, sizeof(err));
        if (rc == 0) {
            rc = be->iface->compute(be, &g, err, sizeof(err));
        }

        good = rc == 0;

        for (i = 0; good && i < 7; i++) {
            infer_quant_dequantize_row(qtypes[t], tab + (size_t) ids[i]
                                       * infer_dtype_row_size(qtypes[t], k),
                                       ref, k);
            good = memcmp(ref, y + i * k, (size_t) k * sizeof(float)) == 0;
        }

        ok(good, "%s: get_rows of a quantized table == its rows "
           "dequantized, bit for bit%s%s", infer_dtype_name(qtypes[t]),
           rc ? ": " : "", rc ? err : "");

        /* an id past the table */
        ids[3] = 10;
        rc = (be == NULL) ? 0 : be->iface->compute(be, &g, err, sizeof(err));
        ok(rc != 0 && strstr(err, "id 10 of row 3 is not in [0, 10)") != NULL,
           "%s: get_rows refuses an id past the table: %s",
           infer_dtype_name(qtypes[t]), err);
        ids[3] = 4;

        if (be != NULL) {
            be->iface->free(be);
        }

        tt_free_all();
    }
}


/* what the builders refuse */

static void
test_refusals(void)
{
    char             err[INFER_ERRLEN];
    float            x[64];
    infer_tensor_t  *tx, *tw;
    infer_weight_t   w;
    infer_backend_t  *be;

    infer_graph_init(&g, nodes, NODES);
    (void) infer_op_weight(&g, 0, INFER_DT_Q4_K, 3, 320, "w");
    ok(g.failed && strcmp(g.err, "none: a Q4_K tensor of [3, 320]: its rows "
                          "are not whole blocks of 256") == 0,
       "a Q4_K weight of 320 columns is refused: %s", g.err);

    infer_graph_init(&g, nodes, NODES);
    tx = infer_op_input(&g, INFER_DT_F32, 1, 64, x, "x");
    tw = infer_op_weight(&g, 0, INFER_DT_Q8_0, 3, 32, "w");
    (void) infer_op_matmul(&g, tx, tw, NULL);
    ok(g.failed && strcmp(g.err, "matmul: x has 64 columns, w [3, 32]") == 0,
       "a Q8_0 product with the wrong width is refused: %s", g.err);

    infer_graph_init(&g, nodes, NODES);
    tw = infer_op_weight(&g, 0, INFER_DT_Q8_0, 3, 64, "w");
    (void) infer_op_view_cols(&g, tw, 0, 32);
    ok(g.failed && strcmp(g.err, "view: a view of a Q8_0 tensor") == 0,
       "a view of a quantized weight is refused: %s", g.err);

    infer_graph_init(&g, nodes, NODES);
    tx = infer_op_input(&g, INFER_DT_F32, 1, 64, x, "x");
    tw = infer_op_weight(&g, 0, INFER_DT_Q8_0, 1, 64, "w");
    (void) infer_op_add(&g, tx, tw);
    ok(g.failed, "a quantized tensor added to activations is refused: %s",
       g.err);

    /* a weight whose bytes are short of its shape */
    memset(&w, 0, sizeof(w));
    w.name = "w";
    w.type = INFER_DT_Q6_K;
    w.rows = 2;
    w.cols = 256;
    w.data = x;
    w.nbytes = 210;
    be = infer_backend_cpu_new(INFER_PRECISION_FP32, err, sizeof(err));
    ok(be != NULL && be->iface->load(be, &w, 1, err, sizeof(err)) != 0
       && strcmp(err, "cpu: weight \"w\" (Q6_K) has no blocks for [2, 256]")
          == 0,
       "the CPU backend refuses a quantized weight short of its shape: %s",
       err);
    if (be != NULL) {
        be->iface->free(be);
    }
}


int
main(int argc, char **argv)
{
    const char  *env;

    env = (argc > 1) ? argv[1] : getenv("TEST_NGINX_FIXTURES");
    snprintf(root, sizeof(root), "%s%s", env ? env : "t/fixtures",
             argc > 1 ? "" : "/quant");

    /* tt.h's scratch directory: unused, its plan and exit status are */
    if (tt_begin("test_quant") != 0) {
        return 2;
    }

    diag("AVX2 path: %s, AVX-512 path: %s",
         infer_cpu_quant_avx2() ? "yes" : "no",
         infer_cpu_quant_avx512() ? "yes" : "no");

    test_layouts();
    test_dequantize();
    test_dot();
    test_matmul();
    test_bits();
    test_avx512();
    test_q8();
    test_get_rows();
    test_refusals();

    return tt_end();
}
