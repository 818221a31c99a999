/*
 * ngx_infer fuzzing: infer_model_parse_config() on arbitrary text.
 *
 * The model is calloc()ed and freed with infer_model_free(), as
 * infer_model_load() does, whether the parse succeeds or fails half-way:
 * LeakSanitizer sees what a failed parse would leave behind.  A config
 * that parses must hold what the parser promises (a non-empty input name,
 * 1 to 8 positive dimensions whose product fits an int, 1 to 64 layers
 * with a weight name each, activations and names that exist), and as many
 * layers as jansson finds.
 *
 * A config that parses is then loaded for real: written as config.json
 * next to a model.safetensors made at start-up, whose tensors (the names
 * are in fuzz/config.dict) chain [2] -> w1 [4, 2] F32 -> w2 [3, 4] F16 ->
 * w3 [2, 3] F32 unaligned, with biases b1 F32, b2 BF16, b3 F32
 * unaligned, and some that chain with nothing.  infer_model_load()
 * resolves the names and shapes and converts the weights; a model it
 * returns must chain, and the reference forward pass runs on it.
 *
 * A failed check aborts, which libFuzzer reports as a crash.
 */

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "infer_model.h"
#include "infer_mlp.h"
#include "infer_bert.h"
#include "infer_runner.h"


#define fuzz_check(cond)                                                     \
    if (!(cond)) {                                                           \
        fprintf(stderr, "fuzz_config: check failed at line %d: %s\n",       \
                __LINE__, #cond);                                            \
        abort();                                                             \
    }


typedef struct {
    const char  *name;
    const char  *dtype;
    int          ndim;
    int          shape[3];
    size_t       offset;              /* in the data section */
} fuzz_tensor_t;


/* the data section starts 8-byte aligned; w3 and b3 are not 4-aligned */
static const fuzz_tensor_t  fuzz_tensors[] = {
    { "w1", "F32",  2, { 4, 2 },    0 },
    { "b1", "F32",  1, { 4 },       32 },
    { "w2", "F16",  2, { 3, 4 },    48 },
    { "b2", "BF16", 1, { 3 },       72 },
    { "w3", "F32",  2, { 2, 3 },    78 },
    { "b3", "F32",  1, { 2 },       102 },
    { "sq", "F32",  2, { 2, 2 },    112 },
    { "t3", "F32",  3, { 1, 2, 2 }, 128 },
    { "e",  "F32",  2, { 0, 2 },    144 },
    { "v",  "F16",  1, { 4 },       144 },
};

#define FUZZ_NTENSORS  (sizeof(fuzz_tensors) / sizeof(fuzz_tensors[0]))
#define FUZZ_DATA_LEN  152


static char  fuzz_dir[64];
static char  fuzz_cfg[96];


static void
fuzz_cleanup(void)
{
    char  path[96];

    unlink(fuzz_cfg);
    snprintf(path, sizeof(path), "%s/model.safetensors", fuzz_dir);
    unlink(path);
    rmdir(fuzz_dir);
}


/* the model.safetensors described above, values small and finite */

static void
fuzz_init(void)
{
    int            i, k, n;
    char           path[96], header[1024];
    FILE          *f;
    size_t         j, hlen, nbytes, esize;
    unsigned char  data[FUZZ_DATA_LEN], len8[8];
    uint16_t       h;
    float          v;

    strcpy(fuzz_dir, "/tmp/fuzz_config.XXXXXX");
    fuzz_check(mkdtemp(fuzz_dir) != NULL);
    snprintf(fuzz_cfg, sizeof(fuzz_cfg), "%s/config.json", fuzz_dir);
    atexit(fuzz_cleanup);

    memset(data, 0, sizeof(data));
    n = snprintf(header, sizeof(header), "{");

    for (j = 0; j < FUZZ_NTENSORS; j++) {
        esize = (fuzz_tensors[j].dtype[1] == '3') ? 4 : 2;
        nbytes = esize;

        n += snprintf(header + n, sizeof(header) - n, "%s\"%s\":{\"dtype\":"
                      "\"%s\",\"shape\":[", j ? "," : "",
                      fuzz_tensors[j].name, fuzz_tensors[j].dtype);

        for (i = 0; i < fuzz_tensors[j].ndim; i++) {
            n += snprintf(header + n, sizeof(header) - n, "%s%d",
                          i ? "," : "", fuzz_tensors[j].shape[i]);
            nbytes *= fuzz_tensors[j].shape[i];
        }

        n += snprintf(header + n, sizeof(header) - n, "],\"data_offsets\":"
                      "[%zu,%zu]}", fuzz_tensors[j].offset,
                      fuzz_tensors[j].offset + nbytes);

        fuzz_check(fuzz_tensors[j].offset + nbytes <= FUZZ_DATA_LEN);

        for (k = 0; k < (int) (nbytes / esize); k++) {
            v = (float) ((int) (j * 7 + k * 3) % 11 - 5) / 8;

            if (esize == 4) {
                memcpy(data + fuzz_tensors[j].offset + 4 * k, &v, 4);
                continue;
            }

            /* v is k/8 with |k| <= 5: exact in F16 and in BF16 */
            if (fuzz_tensors[j].dtype[0] == 'B') {
                memcpy(&h, (char *) &v + 2, 2);

            } else {
                h = (v == 0) ? 0 : (uint16_t) ((v < 0 ? 0x8000 : 0)
                    | ((int) (15 + ilogbf(v)) << 10)
                    | (int) ((fabsf(v) / ldexpf(1, ilogbf(v)) - 1) * 1024));
            }

            memcpy(data + fuzz_tensors[j].offset + 2 * k, &h, 2);
        }
    }

    n += snprintf(header + n, sizeof(header) - n, "}");

    /* 8 + hlen a multiple of 8: the data section is 8-byte aligned */
    while (n % 8) {
        header[n++] = ' ';
    }

    fuzz_check((size_t) n < sizeof(header));
    hlen = (size_t) n;

    for (i = 0; i < 8; i++) {
        len8[i] = (unsigned char) (hlen >> (8 * i));
    }

    snprintf(path, sizeof(path), "%s/model.safetensors", fuzz_dir);
    f = fopen(path, "wb");
    fuzz_check(f != NULL);
    fuzz_check(fwrite(len8, 8, 1, f) == 1);
    fuzz_check(fwrite(header, hlen, 1, f) == 1);
    fuzz_check(fwrite(data, sizeof(data), 1, f) == 1);
    fuzz_check(fclose(f) == 0);
}


/* a Hugging Face BERT config.json that parses: what infer_bert.c checks */
static void
fuzz_bert_parsed(const infer_model_t *m)
{
    const infer_bert_t  *bert;

    bert = m->arch_data;

    fuzz_check(bert != NULL);
    fuzz_check(bert->hidden >= 1 && bert->heads >= 1
               && bert->head_dim * bert->heads == bert->hidden);
    fuzz_check(bert->layers >= 1 && bert->layers <= INFER_BERT_MAX_LAYERS);
    fuzz_check(bert->intermediate >= 1 && bert->vocab >= 1
               && bert->max_pos >= 1 && bert->type_vocab >= 1);
    fuzz_check(bert->eps > 0.0f && bert->eps <= 1.0f);
    fuzz_check(bert->max_seq == bert->max_pos);
    fuzz_check(m->input.datatype == INFER_IO_BYTES && m->input.ndim == 1);
    fuzz_check(m->output.datatype == INFER_IO_FP32
               && m->output.size == bert->hidden);
}


static void
fuzz_parsed(const infer_model_t *m, const uint8_t *data, size_t size)
{
    int                 i;
    int64_t             n;
    json_t             *root;
    const infer_mlp_t  *mlp;

    if (m->arch == &infer_arch_bert) {
        fuzz_bert_parsed(m);
        return;
    }

    fuzz_check(m->arch == &infer_arch_mlp && m->arch_data != NULL);
    mlp = m->arch_data;

    fuzz_check(m->input.name != NULL && m->input.name[0] != '\0');
    fuzz_check(m->input.datatype == INFER_IO_FP32);
    fuzz_check(m->output.name != NULL && m->output.name[0] != '\0');
    fuzz_check(mlp->softmax == 0 || mlp->softmax == 1);
    fuzz_check(m->input.ndim >= 2 && m->input.ndim <= INFER_MAX_DIMS + 1);
    fuzz_check(m->input.dims[0] == -1);
    fuzz_check(mlp->feature_ndim == m->input.ndim - 1);

    n = 1;
    for (i = 1; i < m->input.ndim; i++) {
        fuzz_check(m->input.dims[i] > 0 && m->input.dims[i] <= INT_MAX);
        fuzz_check(mlp->feature_shape[i - 1] == m->input.dims[i]);
        n *= m->input.dims[i];
        fuzz_check(n <= INT_MAX);
    }

    fuzz_check(n == m->input.size);

    fuzz_check(mlp->nlayers >= 1 && mlp->nlayers <= INFER_MLP_MAX_LAYERS);

    for (i = 0; i < mlp->nlayers; i++) {
        fuzz_check(mlp->layers[i].wname != NULL
                   && mlp->layers[i].wname[0] != '\0');
        fuzz_check(mlp->layers[i].bname == NULL
                   || mlp->layers[i].bname[0] != '\0');
        fuzz_check(mlp->layers[i].act >= INFER_ACT_NONE
                   && mlp->layers[i].act <= INFER_ACT_SIGMOID);
    }

    root = json_loadb((const char *) data, size, JSON_REJECT_DUPLICATES,
                      NULL);
    fuzz_check(root != NULL);
    fuzz_check((int) json_array_size(json_object_get(root, "layers"))
               == mlp->nlayers);
    json_decref(root);
}


/*
 * The model that infer_model_load() made of the config, then two rows
 * through the runner on the CPU backend: the graph must build, plan and
 * compute for whatever shapes the fuzzer found loadable.
 */

static void
fuzz_loaded(const infer_model_t *m)
{
    int                       i, k;
    char                      err[INFER_ERRLEN];
    float                    *in, *out;
    int64_t                   width;
    infer_seq_t               seqs[2];
    infer_batch_t             batch;
    infer_runner_t            r;
    infer_backend_t          *be;
    const infer_mlp_t        *mlp;
    const infer_weight_t     *w;
    const infer_mlp_layer_t  *l;

    if (m->arch != &infer_arch_mlp) {
        /* the fuzzer's model.safetensors has no BERT's tensors: a bert
         * config.json never loads here */
        fuzz_check(0);
    }

    mlp = m->arch_data;
    width = m->input.size;

    for (i = 0; i < mlp->nlayers; i++) {
        l = &mlp->layers[i];

        fuzz_check(l->in == width && l->out > 0);
        fuzz_check(l->w >= 0 && l->w < m->nweights);
        w = &m->weights[l->w];
        fuzz_check(w->rows == l->out && w->cols == l->in);
        fuzz_check(w->f32 != NULL && ((uintptr_t) w->f32 & 3) == 0);
        fuzz_check((l->bname == NULL) == (l->b < 0));

        if (l->b >= 0) {
            fuzz_check(l->b < m->nweights);
            w = &m->weights[l->b];
            fuzz_check(w->rows == 1 && w->cols == l->out);
            fuzz_check(w->f32 != NULL && ((uintptr_t) w->f32 & 3) == 0);
        }

        width = l->out;
    }

    fuzz_check(m->output.size == width);

    in = malloc(2 * m->input.size * sizeof(float));
    out = malloc(2 * m->output.size * sizeof(float));
    fuzz_check(in != NULL && out != NULL);

    for (k = 0; k < 2 * m->input.size; k++) {
        in[k] = (float) (k % 5) - 2;
    }

    be = infer_backend_cpu_new(INFER_PRECISION_FP32, err, sizeof(err));
    fuzz_check(be != NULL);
    fuzz_check(infer_runner_init(&r, m, be, 2, 2, err, sizeof(err)) == 0);

    memset(&batch, 0, sizeof(infer_batch_t));
    memset(seqs, 0, sizeof(seqs));
    seqs[1].start = 1;
    seqs[0].len = seqs[1].len = 1;
    batch.n_seqs = batch.n_tokens = 2;
    batch.seqs = seqs;
    batch.x = in;
    batch.out = out;

    fuzz_check(infer_runner_run(&r, &batch, err, sizeof(err)) == 0);

    for (k = 0; k < 2 * m->output.size; k++) {
        fuzz_check(!isnan(out[k]));
    }

    infer_runner_free(&r);
    be->iface->free(be);
    free(in);
    free(out);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int             rc;
    char            err[INFER_ERRLEN];
    FILE           *f;
    size_t          n;
    infer_model_t  *m;

    static int      init;

    if (!init) {
        fuzz_init();
        init = 1;
    }

    m = calloc(1, sizeof(infer_model_t));
    fuzz_check(m != NULL);

    memset(err, 'x', sizeof(err));

    rc = infer_model_parse_config(m, (const char *) data, size,
                                  "config.json", err, sizeof(err));

    if (rc != 0) {
        fuzz_check(rc == -1);
        n = strnlen(err, sizeof(err));
        fuzz_check(n > 0 && n < sizeof(err));
        fuzz_check(strncmp(err, "config.json: ", 13) == 0);
        infer_model_free(m);
        return 0;
    }

    fuzz_parsed(m, data, size);
    infer_model_free(m);

    f = fopen(fuzz_cfg, "wb");
    fuzz_check(f != NULL);
    fuzz_check(size == 0 || fwrite(data, size, 1, f) == 1);
    fuzz_check(fclose(f) == 0);

    m = infer_model_load(fuzz_dir, err, sizeof(err));

    if (m == NULL) {
        n = strnlen(err, sizeof(err));
        fuzz_check(n > 0 && n < sizeof(err));
        return 0;
    }

    fuzz_loaded(m);
    infer_model_free(m);

    return 0;
}
