#!/usr/bin/env python3
"""The C tokenizer against Hugging Face's `tokenizers`, on one core.

    make build/bench_tokenizer fixtures
    python3 bench/bench_tokenizer_hf.py [--dir t/fixtures/tokenizer]

Runs build/bench_tokenizer (kernels/infer_wordpiece.c) and, in this
process, `tokenizers` on the same texts (the parity corpus of
t/lib/gen_tokenizer_corpus.py) with the same tokenizer.json, padding off:

  encode_batch       the whole list in one call, on one thread
                     (RAYON_NUM_THREADS=1, TOKENIZERS_PARALLELISM=false,
                     set before the import)
  encode_batch_fast  the same without offsets, where the version has it
  encode             one call a text, as a server would

and prints MB/s, tokens/s and the C code's speed over each.  Each figure
is the best of --runs passes (the C binary's too).
"""

import argparse
import json
import os
import subprocess
import sys
import time

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

from tokenizers import Tokenizer, __version__ as hf_version  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def best(fn, runs):
    t = 1e30
    out = None
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        t = min(t, time.perf_counter() - t0)
    return t, out


def run_c(binary, d):
    p = subprocess.run([binary, d], check=True, capture_output=True, text=True)
    rows = {}
    for line in p.stdout.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, nbytes, tokens, secs = line.split()
        rows[name] = (int(nbytes), int(tokens), float(secs))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", default=os.path.join(REPO, "t", "fixtures", "tokenizer"))
    ap.add_argument("--bin", default=os.path.join(REPO, "build", "bench_tokenizer"))
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()

    lines = []
    with open(os.path.join(args.dir, "corpus.jsonl")) as f:
        for line in f:
            lines.append(json.loads(line))

    tok = Tokenizer.from_file(os.path.join(args.dir, "minilm", "tokenizer.json"))
    tok.no_padding()

    # the C binary's measures: the whole corpus, and its English lines
    sets = {"corpus": [l["t"] for l in lines],
            "english": [l["t"] for l in lines if l["k"] == "english"]}

    c = run_c(args.bin, args.dir)

    print("tokenizers %s (one thread) against build/bench_tokenizer, "
          "best of %d" % (hf_version, args.runs))
    print("%-10s %-22s %10s %12s %10s" % ("texts", "implementation", "MB/s",
                                          "Mtokens/s", "C is x"))
    for name, texts in sets.items():
        nbytes = sum(len(t.encode("utf-8")) for t in texts)
        cb, ct, cs = c[name]
        assert cb == nbytes, (name, cb, nbytes)
        tok.no_truncation()

        ways = [("encode_batch", lambda: tok.encode_batch(texts))]
        if hasattr(tok, "encode_batch_fast"):
            ways.append(("encode_batch_fast", lambda: tok.encode_batch_fast(texts)))
        ways.append(("encode (one a call)", lambda: [tok.encode(t) for t in texts]))

        print("%-10s %-22s %10.1f %12.2f %10s" % (name, "C (infer_wordpiece)",
                                                  cb / cs / 1e6, ct / cs / 1e6, ""))
        for label, fn in ways:
            secs, out = best(fn, args.runs)
            tokens = sum(len(e.ids) for e in out)
            assert tokens == ct or name == "corpus", (name, tokens, ct)
            print("%-10s %-22s %10.1f %12.2f %9.1fx" % (name, "HF " + label,
                                                        nbytes / secs / 1e6,
                                                        tokens / secs / 1e6,
                                                        secs / cs))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
