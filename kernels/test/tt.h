/*
 * ngx_infer: what the model tests share (test_kernels.c, test_ops.c,
 * test_bert.c, test_cuda.c): TAP output (tap.h), a seeded random source
 * of their own, random MLPs written to disk as safetensors and
 * config.json, the way a user's model arrives, and (ref.h) the float64
 * references.  Included once by each test program.
 */

#ifndef _INFER_TEST_TT_H_INCLUDED_
#define _INFER_TEST_TT_H_INCLUDED_


#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "infer_math.h"
#include "infer_model.h"
#include "infer_mlp.h"

#include "ref.h"
#include "tap.h"


#define TT_MAX_LAYERS  INFER_MLP_MAX_LAYERS


typedef struct {
    const char     *name;
    infer_dtype_e   dtype;
    int             ndim;
    int64_t         shape[2];
    const float    *vals;
} tt_tensor_t;


typedef struct {
    int             nlayers;
    int             width[TT_MAX_LAYERS + 1];
    int             act[TT_MAX_LAYERS];
    int             bias[TT_MAX_LAYERS];
    infer_dtype_e   dtype;
    int             softmax;
    int             misalign;
} tt_mlp_t;


static uint64_t  tt_rng = 0x9e3779b97f4a7c15ULL;
static char      tt_dir[256];


static uint32_t
rnd32(void)
{
    tt_rng ^= tt_rng << 13;
    tt_rng ^= tt_rng >> 7;
    tt_rng ^= tt_rng << 17;

    return (uint32_t) (tt_rng >> 32);
}


static TT_UNUSED float
rndf(float lo, float hi)
{
    return lo + (hi - lo) * (float) (rnd32() >> 8) / 16777216.0f;
}


static TT_UNUSED int
write_file(const char *path, const void *data, size_t len)
{
    FILE  *f;

    f = fopen(path, "wb");
    if (f == NULL) {
        return -1;
    }

    if (len && fwrite(data, 1, len, f) != len) {
        fclose(f);
        return -1;
    }

    return fclose(f);
}


/* model files */

static TT_UNUSED int
write_safetensors(const char *path, const tt_tensor_t *t, int n, int misalign)
{
    int             i, d;
    char           *hdr;
    size_t          off, hlen, esz, cap, total, j, len;
    uint16_t        h;
    unsigned char  *p, *q;

    cap = 256 + 256 * (size_t) n;
    hdr = malloc(cap);
    if (hdr == NULL) {
        return -1;
    }

    hlen = (size_t) snprintf(hdr, cap, "{");
    off = 0;

    for (i = 0; i < n; i++) {
        esz = t[i].dtype == INFER_DT_F32 ? 4 : 2;
        total = esz;
        hlen += (size_t) snprintf(hdr + hlen, cap - hlen,
                                  "%s\"%s\": {\"dtype\": \"%s\", \"shape\": [",
                                  i ? ", " : "", t[i].name,
                                  infer_dtype_name(t[i].dtype));
        for (d = 0; d < t[i].ndim; d++) {
            hlen += (size_t) snprintf(hdr + hlen, cap - hlen, "%s%lld",
                                      d ? ", " : "",
                                      (long long) t[i].shape[d]);
            total *= (size_t) t[i].shape[d];
        }
        hlen += (size_t) snprintf(hdr + hlen, cap - hlen,
                                  "], \"data_offsets\": [%zu, %zu]}", off,
                                  off + total);
        off += total;
    }

    hlen += (size_t) snprintf(hdr + hlen, cap - hlen, "}");

    /* pad so that the data starts 8-aligned, or deliberately 2 past it */
    while ((8 + hlen) % 8 != (misalign ? 2 : 0)) {
        hdr[hlen++] = ' ';
    }

    len = 8 + hlen + off;
    p = malloc(len);
    if (p == NULL) {
        free(hdr);
        return -1;
    }

    for (j = 0; j < 8; j++) {
        p[j] = (unsigned char) ((uint64_t) hlen >> (8 * j));
    }
    memcpy(p + 8, hdr, hlen);
    q = p + 8 + hlen;

    for (i = 0; i < n; i++) {
        total = (size_t) t[i].shape[0] * (t[i].ndim == 2 ? t[i].shape[1] : 1);

        for (j = 0; j < total; j++) {
            switch (t[i].dtype) {
            case INFER_DT_F32:
                memcpy(q, &t[i].vals[j], 4);
                q += 4;
                continue;
            case INFER_DT_F16:
                h = infer_f32_to_f16(t[i].vals[j]);
                break;
            default:
                h = infer_f32_to_bf16(t[i].vals[j]);
                break;
            }
            *q++ = (unsigned char) h;
            *q++ = (unsigned char) (h >> 8);
        }
    }

    i = write_file(path, p, len);
    free(p);
    free(hdr);

    return i;
}


/*
 * Writes config.json and model.safetensors of a random MLP into tt_dir;
 * vals[] gets the tensors' values (the caller frees them).  Returns the
 * number of tensors, -1 when a file cannot be written.
 */
static TT_UNUSED int
tt_make_mlp(const tt_mlp_t *s, float **vals)
{
    int           i, k, n, rc;
    char          path[300], name[TT_MAX_LAYERS * 2][24], *cfg;
    size_t        len, cap, j, cnt;
    float         scale;
    tt_tensor_t   t[TT_MAX_LAYERS * 2];
    static const char  *acts[] = { "none", "relu", "gelu", "tanh", "sigmoid" };

    n = 0;
    cap = 512 + 128 * (size_t) s->nlayers;
    cfg = malloc(cap);
    if (cfg == NULL) {
        return -1;
    }

    len = (size_t) snprintf(cfg, cap, "{\"architecture\": \"mlp\", "
                            "\"input\": {\"name\": \"x\", \"shape\": [%d]}, "
                            "\"layers\": [", s->width[0]);

    for (i = 0; i < s->nlayers; i++) {
        snprintf(name[n], sizeof(name[n]), "l%d.weight", i);
        t[n].name = name[n];
        t[n].dtype = s->dtype;
        t[n].ndim = 2;
        t[n].shape[0] = s->width[i + 1];
        t[n].shape[1] = s->width[i];
        n++;

        len += (size_t) snprintf(cfg + len, cap - len,
                                 "%s{\"weight\": \"l%d.weight\", "
                                 "\"activation\": \"%s\"", i ? ", " : "",
                                 i, acts[s->act[i]]);

        if (s->bias[i]) {
            snprintf(name[n], sizeof(name[n]), "l%d.bias", i);
            t[n].name = name[n];
            /* biases in another dtype than the weights when possible */
            t[n].dtype = s->dtype == INFER_DT_F32 ? INFER_DT_F32
                         : (s->dtype == INFER_DT_F16 ? INFER_DT_BF16
                                                     : INFER_DT_F16);
            t[n].ndim = 1;
            t[n].shape[0] = s->width[i + 1];
            t[n].shape[1] = 1;
            n++;

            len += (size_t) snprintf(cfg + len, cap - len,
                                     ", \"bias\": \"l%d.bias\"", i);
        }

        len += (size_t) snprintf(cfg + len, cap - len, "}");
    }

    len += (size_t) snprintf(cfg + len, cap - len, "], \"output\": "
                             "{\"softmax\": %s}}",
                             s->softmax ? "true" : "false");

    for (k = 0; k < n; k++) {
        cnt = (size_t) t[k].shape[0] * (size_t) t[k].shape[1];
        vals[k] = malloc(cnt * sizeof(float));
        if (vals[k] == NULL) {
            exit(2);
        }

        /* PyTorch's default init range, doubled to reach the saturated
         * parts of the activations */
        scale = 2.0f / sqrtf((float) (t[k].ndim == 2 ? t[k].shape[1] : 4));
        for (j = 0; j < cnt; j++) {
            vals[k][j] = rndf(-scale, scale);
        }
        t[k].vals = vals[k];
    }

    snprintf(path, sizeof(path), "%s/config.json", tt_dir);
    rc = write_file(path, cfg, len);
    free(cfg);

    if (rc == 0) {
        snprintf(path, sizeof(path), "%s/model.safetensors", tt_dir);
        rc = write_safetensors(path, t, n, s->misalign);
    }

    return rc == 0 ? n : -1;
}


/* a scratch directory for the model files, /tmp/<prog>.XXXXXX */
static int
tt_begin(const char *prog)
{
    snprintf(tt_dir, sizeof(tt_dir), "/tmp/%s.XXXXXX", prog);

    if (mkdtemp(tt_dir) == NULL) {
        perror("mkdtemp");
        return -1;
    }

    return 0;
}


/* removes what tt_make_mlp() wrote and the directory, prints the plan;
 * returns the exit status */
static int
tt_end(void)
{
    char  path[300];

    snprintf(path, sizeof(path), "%s/config.json", tt_dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/model.safetensors", tt_dir);
    unlink(path);
    rmdir(tt_dir);

    return done();
}


/*
 * The random MLP number a of depth nl (case k of a series): widths 1 to
 * 70, every activation in every position across a, biases mostly, the
 * stored dtype, softmax and misalignment varying; what describes it.
 */
static TT_UNUSED void
tt_random_mlp(tt_mlp_t *s, int nl, int k, int a, char *what, size_t size)
{
    int                 i;
    size_t              len;
    static const char  *acts[] = { "none", "relu", "gelu", "tanh",
                                   "sigmoid" };
    static const char  *dts[] = { "F32", "F16", "BF16" };

    memset(s, 0, sizeof(tt_mlp_t));
    s->nlayers = nl;
    s->width[0] = 1 + (int) (rnd32() % 70);
    s->dtype = (infer_dtype_e) ((k + a) % 3);
    s->softmax = (a + k) & 1;
    s->misalign = a == 2;

    len = (size_t) snprintf(what, size, "%d layers, %s, %s", nl,
                            dts[s->dtype],
                            s->softmax ? "softmax" : "no softmax");

    for (i = 0; i < nl; i++) {
        s->width[i + 1] = 1 + (int) (rnd32() % 70);
        s->act[i] = (a + i) % 5;
        s->bias[i] = (a + i) % 4 != 3;

        if (len < size) {
            len += (size_t) snprintf(what + len, size - len, "%s %d>%d %s%s",
                                     i ? "," : ":", s->width[i],
                                     s->width[i + 1], acts[s->act[i]],
                                     s->bias[i] ? "" : " nobias");
        }
    }
}


/*
 * Memory for one test case, all freed at once by tt_free_all(): the op
 * tests allocate their inputs and outputs here.
 */

#define TT_ARENA  1024

static void  *tt_arena[TT_ARENA];
static int    tt_narena;


static TT_UNUSED void *
tt_alloc(size_t n)
{
    void  *p;

    p = calloc(1, n ? n : 1);
    if (p == NULL || tt_narena == TT_ARENA) {
        fprintf(stderr, "out of memory for a test\n");
        exit(2);
    }

    tt_arena[tt_narena++] = p;

    return p;
}


static TT_UNUSED void
tt_free_all(void)
{
    while (tt_narena > 0) {
        free(tt_arena[--tt_narena]);
    }
}


/*
 * A random F32 matrix given to the graph as an input, or, with view set,
 * as columns [2, 2 + cols) of a wider input (rows 5 floats longer); *p
 * and *ld (when given) say where the reference reads it.
 */
static TT_UNUSED infer_tensor_t *
tt_input(infer_graph_t *g, int64_t rows, int64_t cols, int view, float lo,
    float hi, float **p, size_t *ld)
{
    int64_t          i, wide;
    float           *base;
    infer_tensor_t  *t;

    wide = view ? cols + 5 : cols;
    base = tt_alloc((size_t) (rows * wide) * sizeof(float));

    for (i = 0; i < rows * wide; i++) {
        base[i] = rndf(lo, hi);
    }

    t = infer_op_input(g, INFER_DT_F32, rows, wide, base, "x");

    if (ld != NULL) {
        *ld = (size_t) wide;
        *p = base;
    }

    if (view) {
        t = infer_op_view_cols(g, t, 2, cols);

        if (p != NULL) {
            *p = base + 2;
        }
    }

    return t;
}


#endif /* _INFER_TEST_TT_H_INCLUDED_ */
