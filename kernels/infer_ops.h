/*
 * ngx_infer: the op layer.  Tensors, a graph of operations on them, and
 * the ragged batch an architecture builds its forward pass for.
 *
 * An architecture (infer_mlp.c, and the encoders and decoders to come)
 * turns a batch into a graph with the builders below; a backend
 * (cpu/infer_cpu.c, cuda/) computes the graph.  No backend knows an
 * architecture, and no architecture knows a backend: this header is the
 * whole contract between them, in the way of ggml, with only the
 * operations our architectures need.
 *
 * Tensors are matrices: rows x cols, row-major, nb bytes from one row to
 * the next (a view of some columns of a wider matrix has nb larger than
 * its own row).  A vector is one row.  Activations are F32, indices I32;
 * weights are in the type they are stored in (F32, F16, BF16; GGUF's
 * quantized blocks will join them, which is why a row's size is counted
 * by infer_dtype_row_size() and not by cols x an element size).
 *
 * A graph lives in a fixed array of nodes that the caller provides and
 * reuses from batch to batch: building one allocates nothing.  Nodes are
 * appended in the order they are computed, sources before their users.
 * Intermediate tensors get their memory from the backend, which plans it
 * with infer_graph_plan() (a tensor's bytes are reused once its last user
 * has run); inputs point at the caller's host memory, and outputs are
 * copied (or written) into the caller's host memory.  A backend that
 * plans its inputs into its own memory copies each one when its node
 * comes: the bytes it is given may have held an earlier node's result.
 */

#ifndef _INFER_OPS_H_INCLUDED_
#define _INFER_OPS_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "infer_dtype.h"


typedef enum {
    INFER_OP_NONE = 0,     /* a leaf: an input or a weight */

    INFER_OP_VIEW,         /* cols [i0, i0 + cols) of src0: no work */

    /*
     * y[r][n] = sum_k x[r][k] w[n][k] (+ b[n]): src0 x, rows x k, F32;
     * src1 w, n x k (nn.Linear's [out, in]), any weight type; src2 b,
     * 1 x n F32, or NULL.  y is F32.  ip[0] INFER_MATMUL_ROWWISE: each
     * row of y summed in one order whatever the number of rows (a
     * decoder's step, whose rows must not depend on the rest of the
     * batch; quantized weights always are)
     */
    INFER_OP_MATMUL,

    INFER_OP_ADD,          /* src0 + src1, src1 the same shape or 1 x cols */
    INFER_OP_MUL,          /* src0 * src1, the same broadcast */
    INFER_OP_ACT,          /* ip[0] = INFER_ACT_*, element by element */

    /*
     * Each row: softmax(fp[0] x src0 + src1), src1 an additive mask of
     * the same shape or 1 x cols, or NULL; fp[0] 0 means 1.
     */
    INFER_OP_SOFTMAX,

    /* each row: (x - mean) / sqrt(var + fp[0]) * src1 + src2; src1 and
     * src2 1 x cols F32, src2 may be NULL */
    INFER_OP_LAYER_NORM,

    /* each row: x / sqrt(mean(x^2) + fp[0]) * src1 */
    INFER_OP_RMS_NORM,

    /* y[i] = src0[src1[i]]: src0 a table (V x cols, any weight type),
     * src1 ids, n x 1 I32, each in [0, V); y is n x cols F32 */
    INFER_OP_GET_ROWS,

    /*
     * Rotary position embedding of src0 (T x heads * head_dim), token t
     * at position src1[t] (T x 1 I32).  ip[0] heads, ip[1] head_dim,
     * ip[2] rotated dims n_rot (<= head_dim, even), ip[3] the pairing:
     * INFER_ROPE_NORM rotates (x[2i], x[2i+1]) as GGUF's llama does,
     * INFER_ROPE_NEOX (x[i], x[i + n_rot/2]) as Hugging Face's Llama.
     * fp[0] the base theta: dim pair i turns by pos * theta^(-2i/n_rot).
     */
    INFER_OP_ROPE,

    /*
     * Scaled dot-product attention over ragged sequences: src0 q
     * (T x heads * d), src1 k and src2 v (T x kv_heads * d), src3 the
     * batch's sequences (S x 4 I32, infer_seq_t).  Token t of a sequence
     * attends only to the tokens of its own sequence (with ip[3] causal:
     * to those up to itself); head h reads kv head h / (heads/kv_heads).
     * ip[0] heads, ip[1] kv_heads, ip[2] d, ip[3] causal; fp[0] the
     * scale (0: 1/sqrt(d)).  y is T x heads * d, F32; the rows of tokens
     * that are in no sequence are zeros.
     */
    INFER_OP_ATTENTION,

    /* one row per sequence of src1 (S x 4 I32): ip[0] INFER_POOL_* over
     * the rows of src0 that belong to it */
    INFER_OP_POOL,

    /* each row divided by max(||row||_2, fp[0]) */
    INFER_OP_L2_NORM,

    /*
     * Writes the keys src0 and values src1 (T x kv_dim F32, RoPE already
     * applied to the keys) of the batch's tokens into the backend's
     * paged KV cache, layer ip[0]: token t of sequence s (src2, S x 4
     * I32) is at position p = pos + t - start and goes to slot p % B of
     * block src3[s][p / B] (src3 the block tables, S x max_blocks I32;
     * B the cache's tokens per block).  Its result is empty (0 rows): it
     * is a node so that the layer's KV_ATTENTION, which names it, comes
     * after it.
     */
    INFER_OP_KV_STORE,

    /*
     * Causal attention of the batch's queries src0 (T x heads * d) over
     * the KV cache of layer ip[3]: token t of sequence s at position p
     * attends to the cache's positions 0..p of that sequence (what
     * earlier batches stored, and this one's KV_STORE src1).  src2 the
     * sequences, src3 the block tables, as for KV_STORE.  ip[0] heads,
     * ip[1] kv_heads, ip[2] d; fp[0] the scale (0: 1/sqrt(d)).  Each row
     * is computed on its own, in the same order whatever else is in the
     * batch (a token gives the same bits alone or batched, in one chunk
     * of its prompt or another).  y is T x heads * d, F32; the rows of
     * tokens in no sequence are zeros.
     */
    INFER_OP_KV_ATTENTION,

    INFER_OP_COUNT
} infer_op_e;


/* INFER_OP_ACT; the values are infer_math.h's INFER_MATH_ACT_* */
typedef enum {
    INFER_ACT_NONE = 0,
    INFER_ACT_RELU,
    INFER_ACT_GELU,        /* 0.5 x (1 + erf(x / sqrt 2)), nn.GELU() */
    INFER_ACT_TANH,
    INFER_ACT_SIGMOID,
    INFER_ACT_GELU_TANH,   /* nn.GELU(approximate="tanh") */
    INFER_ACT_SILU,        /* x sigmoid(x), nn.SiLU() */
    INFER_ACT_COUNT
} infer_act_e;


#define INFER_MATMUL_ROWWISE  1

#define INFER_ROPE_NORM  0
#define INFER_ROPE_NEOX  1

#define INFER_POOL_MEAN  0
#define INFER_POOL_CLS   1          /* the first token */
#define INFER_POOL_MAX   2
#define INFER_POOL_LAST  3          /* the last token: a decoder's logits */


/* what a leaf is, and what the caller wants of a node */
#define INFER_TENSOR_INPUT   0x01   /* data: the caller's host memory */
#define INFER_TENSOR_WEIGHT  0x02   /* weight: the model's weight index */
#define INFER_TENSOR_OUTPUT  0x04   /* host: where its rows are to go */


typedef struct infer_tensor_s  infer_tensor_t;

struct infer_tensor_s {
    infer_op_e            op;
    infer_dtype_e         type;
    int                   flags;
    int64_t               rows;
    int64_t               cols;
    size_t                nb;          /* bytes between rows */

    infer_tensor_t       *src[4];
    int32_t               ip[4];       /* integer parameters of the op */
    float                 fp[2];       /* float parameters of the op */

    int                   weight;      /* INFER_TENSOR_WEIGHT: its index */
    void                 *host;        /* INFER_TENSOR_OUTPUT: rows x
                                          row size, packed */

    /*
     * Where the tensor's bytes are: for an input, the caller's host
     * memory; for a weight, filled in by the backend from its copy; for
     * anything else, set by the backend's plan (base + offset).
     */
    void                 *data;
    size_t                offset;      /* from infer_graph_plan() */
    int                   last_use;    /* index of the last node that
                                          reads it, from the plan */
    const char           *name;        /* for messages */
};


/*
 * The sequences of a ragged batch, one row of 4 I32 each, in the order of
 * their tokens: a batch is sum(len) tokens, sequence s has tokens
 * [start, start + len).  pos is the position of its first token in the
 * sequence as a whole (0 for a new one; a chunk of a longer prompt, or a
 * decoding step, continues where the last one ended).
 */
typedef struct {
    int32_t               start;
    int32_t               len;
    int32_t               pos;
    int32_t               reserved;
} infer_seq_t;


/*
 * What an executor hands an architecture: n_seqs sequences of n_tokens
 * tokens in all; per token either a row of input features (x) or a token
 * id, and its position; an id per sequence (requests' tickets, which a KV
 * cache will key on); where the outputs go (out: one row per sequence
 * or per token, as the model's output says).  An MLP request of k rows
 * is k sequences of length 1.
 */
typedef struct {
    int                   n_seqs;
    int                   n_tokens;
    const infer_seq_t    *seqs;
    const uint64_t       *ids;
    const float          *x;           /* n_tokens x the input's size */
    const int32_t        *tokens;      /* n_tokens */
    const int32_t        *pos;         /* n_tokens */
    float                *out;

    /*
     * A decoder's KV cache (infer_kv.h): the block table of each
     * sequence, n_seqs rows of max_blocks block numbers; NULL for a
     * batch of whole sequences that keeps no cache
     */
    const int32_t        *blocks;
    int                   max_blocks;
} infer_batch_t;


/*
 * The shape of a backend's paged KV cache: n_blocks blocks of
 * block_tokens tokens, each with its keys and values for every layer.
 * Block b holds layers x {K, V} x block_tokens rows of kv_dim F32:
 * position j of block b, layer l, keys (kv 0) or values (kv 1) are the
 * kv_dim floats at
 *
 *     (((b * layers + l) * 2 + kv) * block_tokens + j) * kv_dim
 *
 * so that a block is one contiguous piece a backend can copy or free
 * as a whole.
 */
typedef struct {
    int32_t               layers;
    int32_t               kv_dim;
    int32_t               block_tokens;
    int32_t               n_blocks;
} infer_kv_shape_t;


typedef struct {
    infer_tensor_t       *nodes;
    int                   n;
    int                   cap;
    int                   failed;      /* a builder ran out of nodes or
                                          was given a wrong shape */
    char                  err[256];
} infer_graph_t;


/* an empty graph in nodes[cap] */
void infer_graph_init(infer_graph_t *g, infer_tensor_t *nodes, int cap);


/*
 * The builders.  Each appends a node and returns it; a wrong shape or a
 * full graph makes the graph failed (g->failed, g->err) and returns a
 * placeholder, so that a forward pass can be written without a check
 * after every line: check g->failed once at the end.
 */
infer_tensor_t *infer_op_input(infer_graph_t *g, infer_dtype_e type,
    int64_t rows, int64_t cols, const void *data, const char *name);
infer_tensor_t *infer_op_weight(infer_graph_t *g, int weight,
    infer_dtype_e type, int64_t rows, int64_t cols, const char *name);
infer_tensor_t *infer_op_view_cols(infer_graph_t *g, infer_tensor_t *x,
    int64_t col0, int64_t cols);
infer_tensor_t *infer_op_matmul(infer_graph_t *g, infer_tensor_t *x,
    infer_tensor_t *w, infer_tensor_t *b);
infer_tensor_t *infer_op_add(infer_graph_t *g, infer_tensor_t *a,
    infer_tensor_t *b);
infer_tensor_t *infer_op_mul(infer_graph_t *g, infer_tensor_t *a,
    infer_tensor_t *b);
infer_tensor_t *infer_op_act(infer_graph_t *g, infer_tensor_t *x, int act);
infer_tensor_t *infer_op_softmax(infer_graph_t *g, infer_tensor_t *x,
    infer_tensor_t *mask, float scale);
infer_tensor_t *infer_op_layer_norm(infer_graph_t *g, infer_tensor_t *x,
    infer_tensor_t *w, infer_tensor_t *b, float eps);
infer_tensor_t *infer_op_rms_norm(infer_graph_t *g, infer_tensor_t *x,
    infer_tensor_t *w, float eps);
infer_tensor_t *infer_op_get_rows(infer_graph_t *g, infer_tensor_t *table,
    infer_tensor_t *ids);
infer_tensor_t *infer_op_rope(infer_graph_t *g, infer_tensor_t *x,
    infer_tensor_t *pos, int heads, int head_dim, int n_rot, int mode,
    float theta);
infer_tensor_t *infer_op_attention(infer_graph_t *g, infer_tensor_t *q,
    infer_tensor_t *k, infer_tensor_t *v, infer_tensor_t *seqs, int heads,
    int kv_heads, int head_dim, int causal, float scale);
infer_tensor_t *infer_op_pool(infer_graph_t *g, infer_tensor_t *x,
    infer_tensor_t *seqs, int mode);
infer_tensor_t *infer_op_l2_norm(infer_graph_t *g, infer_tensor_t *x,
    float eps);
infer_tensor_t *infer_op_kv_store(infer_graph_t *g, infer_tensor_t *k,
    infer_tensor_t *v, infer_tensor_t *seqs, infer_tensor_t *blocks,
    int layer);
infer_tensor_t *infer_op_kv_attention(infer_graph_t *g, infer_tensor_t *q,
    infer_tensor_t *store, infer_tensor_t *seqs, infer_tensor_t *blocks,
    int heads, int kv_heads, int head_dim, int layer, float scale);

/* marks t as an output whose rows go, packed, to host */
void infer_op_output(infer_graph_t *g, infer_tensor_t *t, void *host);


/*
 * Plans the memory of g's intermediate tensors (and, with inputs set,
 * of its inputs too, for a backend that copies them to its device) in
 * one buffer: sets each one's offset, aligned to align, and its
 * last_use, reusing the bytes of tensors that no later node reads.
 * Outputs are planned like the rest; a backend whose memory is the
 * host's may instead point a contiguous output at its host rows
 * (host_outputs set: such outputs get no offset).  Returns the bytes the
 * plan needs.
 */
size_t infer_graph_plan(infer_graph_t *g, size_t align, int inputs,
    int host_outputs);

/* whether t's rows are contiguous (nb is one row's size) */
int infer_tensor_contiguous(const infer_tensor_t *t);

const char *infer_op_name(infer_op_e op);


#endif /* _INFER_OPS_H_INCLUDED_ */
