"""Export a sentence-transformers BERT directory (all-MiniLM-L6-v2) to ONNX
for the onnxruntime peer, and check the export against sentence-transformers.

    build/st-venv/bin/python bench/peers/export_onnx.py --model DIR \
        --out build/bench/minilm.onnx --check-python build/bench-venv/bin/python

Two steps in two interpreters, since no one venv holds both torch and
onnxruntime (Debian's python3-torch is in the st-venv, onnxruntime from PyPI
in build/bench-venv):

1. (st-venv, this run) torch.onnx.export of the transformer itself
   (SentenceTransformer(DIR)[0].auto_model): inputs input_ids,
   attention_mask, token_type_ids (int64 [batch, sequence]), output
   last_hidden_state (float32 [batch, sequence, hidden]), both axes
   dynamic; pooling and normalisation stay out of the graph (the peer does
   them in numpy). Then sentence-transformers' own embeddings of a few
   check texts (short, long past the 256-token truncation, and a batch of
   mixed lengths, so padding and truncation are both exercised) go to
   OUT.check.npz.
2. (--check-python, "--verify") bench/peers/fastapi_onnx.py's encoder, the
   very code the peer serves with, on the exported file: every embedding
   must be within --tol (1e-5) of sentence-transformers', element by
   element.

The file is written to OUT.tmp and renamed to OUT only when the check
passes: an OUT that exists is a checked one. Exit status 1 otherwise.
"""

import argparse
import json
import os
import subprocess
import sys

CHECK_TEXTS = [
    "A man is playing a guitar on the street.",
    "The quick brown fox jumps over the lazy dog.",
    "nginx",
    "Embeddings map sentences of similar meaning to nearby vectors, "
    "which is what semantic search, clustering and deduplication use.",
    # past 256 tokens: both sides must truncate at the same place
    " ".join("word%d is here, and then some more text follows." % i for i in range(60)),
]


def export(a):
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(1)
    st = SentenceTransformer(a.model, device="cpu")
    st.eval()
    bert = st[0].auto_model

    class LastHidden(torch.nn.Module):
        def __init__(self, bert):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids, return_dict=False)[0]

    feats = st.preprocess(["a dummy input to trace with", "and a second, longer one to pad"])
    args = (feats["input_ids"], feats["attention_mask"], feats["token_type_ids"])
    dyn = {"batch": 0, "sequence": 1}
    tmp = a.out + ".tmp"
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with torch.inference_mode():
        torch.onnx.export(
            LastHidden(bert).eval(), args, tmp,
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": {0: "batch", 1: "sequence"},
                          "attention_mask": {0: "batch", 1: "sequence"},
                          "token_type_ids": {0: "batch", 1: "sequence"},
                          "last_hidden_state": {0: "batch", 1: "sequence"}},
            opset_version=a.opset, do_constant_folding=True)
    print("export_onnx: %s (%d bytes), torch %s, opset %d"
          % (tmp, os.path.getsize(tmp), torch.__version__, a.opset))

    # one at a time and as one batch of mixed lengths: the second pads
    singles = np.stack([st.encode([t], normalize_embeddings=True)[0] for t in CHECK_TEXTS])
    batch = st.encode(CHECK_TEXTS, normalize_embeddings=True)
    ref = a.out + ".check.npz"
    np.savez(ref, texts=np.array(json.dumps(CHECK_TEXTS)), singles=singles, batch=batch)

    if not a.check_python:
        print("export_onnx: no --check-python: %s left unchecked" % tmp)
        return 1
    rc = subprocess.call([a.check_python, os.path.abspath(__file__), "--verify",
                          "--model", a.model, "--out", a.out, "--tol", str(a.tol)])
    if rc != 0:
        print("export_onnx: the check failed; %s kept for a look" % tmp)
        return 1
    os.replace(tmp, a.out)
    print("export_onnx: %s checked and in place" % a.out)
    return 0


def verify(a):
    import numpy as np

    os.environ["BENCH_MODEL_DIR"] = a.model
    os.environ["BENCH_ONNX"] = a.out + ".tmp"
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import fastapi_onnx  # noqa: E402  (builds the peer's encoder)

    ref = np.load(a.out + ".check.npz")
    texts = json.loads(str(ref["texts"]))
    singles = np.stack([fastapi_onnx.encoder.encode([t])[0][0] for t in texts])
    batch, _ = fastapi_onnx.encoder.encode(texts)
    worst = 0.0
    for name, got, want in (("one at a time", singles, ref["singles"]),
                            ("one batch", batch, ref["batch"])):
        err = float(np.abs(got - want).max())
        worst = max(worst, err)
        print("export_onnx: onnxruntime against sentence-transformers, %s: "
              "max |difference| %.2g over %d embeddings" % (name, err, len(texts)))
    if worst > a.tol:
        print("export_onnx: more than %g" % a.tol)
        return 1
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="the sentence-transformers directory")
    ap.add_argument("--out", required=True, help="the .onnx file to write")
    ap.add_argument("--check-python", help="an interpreter with onnxruntime and tokenizers")
    ap.add_argument("--tol", type=float, default=1e-5)
    ap.add_argument("--opset", type=int, default=14)
    ap.add_argument("--verify", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    sys.exit(verify(a) if a.verify else export(a))


if __name__ == "__main__":
    main()
