#!/usr/bin/env python3
"""The byte-level BPE against Hugging Face's `tokenizers`, on one core.

    make build/bench_bpe fixtures
    python3 bench/bench_bpe_hf.py [--dir t/fixtures/bpe]

Runs build/bench_bpe (kernels/infer_bpe.c) and, in this process,
`tokenizers` on the same texts (the parity corpus of
t/lib/gen_bpe_corpus.py) with the same tokenizer.json (SmolLM2's), the
special tokens matched and none added, as the C side encodes them:

  encode_batch       the whole list in one call, on one thread
                     (RAYON_NUM_THREADS=1, TOKENIZERS_PARALLELISM=false,
                     set before the import)
  encode_batch_fast  the same without offsets, where the version has it
  encode             one call a text, as a server would
  decode             decode_batch of the corpus's ids, skip_special_tokens
                     off, against the C decoder whole and token by token

and prints MB/s, tokens/s and the C code's speed over each.  Each figure
is the best of --runs passes (the C binary's: of 7).  Both sides cache
the pieces they have seen (tokenizers' BPE cache, the C state's), which
a best-of-N measure favours alike.  make bench-bpe pins both to one core.
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
    ap.add_argument("--dir", default=os.path.join(REPO, "t", "fixtures", "bpe"))
    ap.add_argument("--bin", default=os.path.join(REPO, "build", "bench_bpe"))
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()

    lines = []
    with open(os.path.join(args.dir, "corpus.jsonl")) as f:
        for line in f:
            lines.append(json.loads(line))

    tok = Tokenizer.from_file(os.path.join(args.dir, "smollm2", "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()

    sets = {k: [l["t"] for l in lines if k == "corpus" or l["k"] == k]
            for k in ("corpus", "english", "code", "chat", "cjk")}

    c = run_c(args.bin, args.dir)

    print("tokenizers %s (one thread) against build/bench_bpe, best of %d"
          % (hf_version, args.runs))
    print("%-9s %-24s %10s %12s %10s" % ("texts", "implementation", "MB/s",
                                         "Mtokens/s", "C is x"))
    for name, texts in sets.items():
        nbytes = sum(len(t.encode("utf-8")) for t in texts)
        cb, ct, cs = c[name]
        assert cb == nbytes, (name, cb, nbytes)

        ways = [("encode_batch",
                 lambda: tok.encode_batch(texts, add_special_tokens=False))]
        if hasattr(tok, "encode_batch_fast"):
            ways.append(("encode_batch_fast",
                         lambda: tok.encode_batch_fast(texts,
                                                       add_special_tokens=False)))
        ways.append(("encode (one a call)",
                     lambda: [tok.encode(t, add_special_tokens=False)
                              for t in texts]))

        print("%-9s %-24s %10.1f %12.2f %10s" % (name, "C (infer_bpe)",
                                                 cb / cs / 1e6, ct / cs / 1e6, ""))
        for label, fn in ways:
            secs, out = best(fn, args.runs)
            tokens = sum(len(e.ids) for e in out)
            assert tokens == ct, (name, label, tokens, ct)
            print("%-9s %-24s %10.1f %12.2f %9.1fx" % (name, "HF " + label,
                                                       nbytes / secs / 1e6,
                                                       tokens / secs / 1e6,
                                                       secs / cs))

    # decoding the corpus's ids back
    ids = [e.ids for e in tok.encode_batch(sets["corpus"], add_special_tokens=False)]
    secs, out = best(lambda: tok.decode_batch(ids, skip_special_tokens=False),
                     args.runs)
    nbytes = sum(len(t.encode("utf-8")) for t in out)
    ntok = sum(map(len, ids))
    for label in ("decode", "decode_stream"):
        cb, ct, cs = c[label]
        assert ct == ntok, (label, ct, ntok)
        print("%-9s %-24s %10.1f %12.2f %10s" % ("corpus", "C " + label,
                                                 cb / cs / 1e6, ct / cs / 1e6, ""))
    print("%-9s %-24s %10.1f %12.2f %9.1fx" % ("corpus", "HF decode_batch",
                                               nbytes / secs / 1e6,
                                               ntok / secs / 1e6,
                                               secs / c["decode"][2]))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
