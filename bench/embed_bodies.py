#!/usr/bin/env python3
"""Helpers of bench/embeddings.sh: the request bodies of the /v1/embeddings
benchmark and their reference embeddings, the answer check, result records
and the markdown tables.

    embed_bodies.py bodies --model DIR --seed S --out PREFIX     (st-venv python)
        PREFIX.short1.bodies   one body a line: one 12-token sentence each
        PREFIX.short32.bodies  32 such sentences each, all different
        PREFIX.para1.bodies    one 200-token paragraph each
        PREFIX.meta.json       per workload: inputs per request, tokens per
                               input, body sizes, and sentence-transformers'
                               embeddings of the first body's inputs
    embed_bodies.py verify --url URL --bodies F --meta F --workload W
        exit 0: 200 and every embedding of the first body within cosine
        0.9999 of sentence-transformers'; 1: anything else (printed)
    embed_bodies.py record    --results F ... (see --help)
    embed_bodies.py summarize --results F --meta F --commands F --out F

Token counts are the MiniLM tokenizer's, [CLS] and [SEP] included (what the
model computes on). Every sentence is built from words that are one
WordPiece each, and checked: a short one is exactly 12 tokens and a
paragraph exactly 200, so tokens/s and the FLOPs per token are exact and no
request of a 32-sentence body pads. The bodies are cycled through by the
wrk script, so no two requests in a row are the same (nothing to cache).
"""

import argparse
import json
import os
import random
import statistics
import sys
import urllib.error
import urllib.request

sys.dont_write_bytecode = True

SHORT_TOKENS = 12           # with [CLS] and [SEP]
PARA_TOKENS = 200
N_BODIES = {"short1": 4096, "short32": 512, "para1": 512}
INPUTS = {"short1": 1, "short32": 32, "para1": 1}
COSINE_MIN = 0.9999

ADJ = """old young small large quiet busy bright dark warm cold green red blue
white black happy tired careful strong gentle early late tall short new
heavy clean empty wooden simple famous local rich poor brave lazy""".split()
NOUN = """teacher child doctor farmer driver student artist soldier woman man
dog cat horse bird captain king queen girl boy writer baker pilot nurse
player singer officer judge sailor friend neighbor""".split()
THING = """window door table letter book song picture car boat garden house
bridge wall road river box bottle chair map ticket coat stone bell key
clock lamp fence basket ladder""".split()
VERB = """painted opened found carried cleaned watched moved sold bought
built visited passed fixed closed lost broke pulled pushed checked
touched marked covered filled reached""".split()
IVERB = """waited slept laughed worked danced walked stopped sang smiled
talked listened returned arrived rested played""".split()
ADV = "quietly slowly quickly happily softly again together alone early later".split()
PREP = "near behind beside under above across past inside outside along".split()
TIME = "lunch dinner midnight noon sunset breakfast work school church class".split()
PLACE = """river garden market station village city forest school church
hospital kitchen office library harbor valley bridge hill field beach
park""".split()


def tokenizer(model_dir):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    return tok


def one_piece(tok, words):
    """The words the tokenizer keeps whole (one WordPiece, no [UNK])."""
    return [w for w in words if len(tok.encode(w, add_special_tokens=False).ids) == 1]


def sentence_words(rng, v):
    """The words of one random sentence, 10 pieces with its full stop."""
    c = rng.choice
    k = rng.randrange(3)
    if k == 0:
        w = ["the", c(v["adj"]), c(v["noun"]), c(v["verb"]), "the", c(v["thing"]),
             c(v["prep"]), "the", c(v["place"])]
    elif k == 1:
        w = ["one", c(v["adj"]), c(v["noun"]), c(v["verb"]), "this", c(v["thing"]),
             c(v["prep"]), "the", c(v["place"])]
    else:
        w = ["every", c(v["noun"]), "in", "the", c(v["place"]), c(v["iverb"]),
             c(v["adv"]), "after", c(v["time"])]
    return w + ["."]


def text(words):
    s = " ".join(words).replace(" .", ".")
    return s[0].upper() + s[1:]


def cmd_bodies(a):
    tok = tokenizer(a.model)
    rng = random.Random(a.seed)
    v = {k: one_piece(tok, ws) for k, ws in (
        ("adj", ADJ), ("noun", NOUN), ("thing", THING), ("verb", VERB),
        ("iverb", IVERB), ("adv", ADV), ("prep", PREP), ("time", TIME),
        ("place", PLACE))}

    def ntok(s):
        return len(tok.encode(s).ids)

    seen = set()

    def short():
        while True:
            s = text(sentence_words(rng, v))
            if s not in seen and ntok(s) == SHORT_TOKENS:
                seen.add(s)
                return s

    def paragraph():
        # PARA_TOKENS - 2 pieces: whole sentences, then the first words of
        # one more and a full stop
        units = []
        while len(units) < PARA_TOKENS - 2:
            units += sentence_words(rng, v)
        units = units[:PARA_TOKENS - 3] + ["."]
        sents, cur = [], []
        for u in units:
            cur.append(u)
            if u == ".":
                sents.append(text(cur))
                cur = []
        p = " ".join(sents)
        if ntok(p) != PARA_TOKENS:
            raise SystemExit("embed_bodies: a paragraph of %d tokens" % ntok(p))
        return p

    bodies = {
        "short1": [[short()] for _ in range(N_BODIES["short1"])],
        "short32": [[short() for _ in range(32)] for _ in range(N_BODIES["short32"])],
        "para1": [[paragraph()] for _ in range(N_BODIES["para1"])],
    }
    tokens = {"short1": SHORT_TOKENS, "short32": SHORT_TOKENS, "para1": PARA_TOKENS}

    from sentence_transformers import SentenceTransformer, __version__ as st_version
    import torch

    torch.set_num_threads(1)
    st = SentenceTransformer(a.model, device="cpu")
    meta = {"model": a.model, "seed": a.seed, "reference": "sentence-transformers %s, "
            "torch %s, normalize_embeddings=True" % (st_version, torch.__version__),
            "workloads": {}}
    for w, reqs in bodies.items():
        lines = [json.dumps({"model": a.model_name, "input": inputs},
                            separators=(",", ":")) for inputs in reqs]
        with open("%s.%s.bodies" % (a.out, w), "w") as f:
            f.write("\n".join(lines) + "\n")
        ref = st.encode(reqs[0], normalize_embeddings=True)
        meta["workloads"][w] = {
            "inputs": INPUTS[w], "tokens_per_input": tokens[w],
            "bodies": len(lines),
            "body_bytes": statistics.mean(len(s) for s in lines),
            "first_inputs": reqs[0], "reference": ref.tolist()}
        print("embed_bodies: %s: %d bodies of %d input(s) of %d tokens, %.0f bytes each"
              % (w, len(lines), INPUTS[w], tokens[w], meta["workloads"][w]["body_bytes"]))
    with open(a.out + ".meta.json", "w") as f:
        json.dump(meta, f)


# ---------------------------------------------------------------- verify

def cmd_verify(a):
    import numpy as np

    with open(a.meta) as f:
        w = json.load(f)["workloads"][a.workload]
    with open(a.bodies, "rb") as f:
        body = f.readline().strip()
    req = urllib.request.Request(a.url, data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            status, answer = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, answer = e.code, e.read()
    except OSError as e:
        print("no answer: %s" % e)
        return 1
    if status != 200:
        print("status %d: %s" % (status, answer[:300].decode("utf-8", "replace")))
        return 1
    try:
        doc = json.loads(answer)
        data = sorted(doc["data"], key=lambda d: d["index"])
        got = np.asarray([d["embedding"] for d in data], dtype=np.float64)
        usage = doc.get("usage", {}).get("prompt_tokens")
    except (ValueError, KeyError, TypeError) as e:
        print("not an OpenAI embeddings answer (%s): %s" % (e, answer[:300]))
        return 1
    want = np.asarray(w["reference"], dtype=np.float64)
    if got.shape != want.shape:
        print("embeddings of shape %s, expected %s" % (got.shape, want.shape))
        return 1
    if [d["index"] for d in data] != list(range(len(data))):
        print("indices %s" % [d["index"] for d in data])
        return 1
    cos = (got * want).sum(1) / (np.linalg.norm(got, axis=1) * np.linalg.norm(want, axis=1))
    norm = np.linalg.norm(got, axis=1)
    expected_tokens = w["inputs"] * w["tokens_per_input"]
    msg = ("%d embeddings of %d, cosine to sentence-transformers: first %.7f, "
           "lowest %.7f; norms %.6f-%.6f; usage.prompt_tokens %s (expected %d); "
           "answer %d bytes"
           % (got.shape[0], got.shape[1], cos[0], cos.min(), norm.min(), norm.max(),
              usage, expected_tokens, len(answer)))
    if cos.min() < COSINE_MIN:
        print("wrong: " + msg)
        return 1
    print("ok: " + msg)
    return 0


# ---------------------------------------------------------------- record

def parse_wrk(path):
    with open(path) as f:
        for line in f:
            if line.startswith("BENCH_JSON "):
                return json.loads(line[len("BENCH_JSON "):])
    raise SystemExit("%s: no BENCH_JSON line (wrk failed?)" % path)


def cmd_record(a):
    rec = {"target": a.target, "workload": a.workload, "connections": a.connections,
           "round": a.round}
    if a.unavailable:
        rec["unavailable"] = a.unavailable
    else:
        with open(a.meta) as f:
            w = json.load(f)["workloads"][a.workload]
        wrk = parse_wrk(a.wrk_out)
        secs = wrk["duration_us"] / 1e6
        n = wrk["requests"]
        emb = n * w["inputs"]
        rec.update({
            "requests": n, "rps": n / secs, "eps": emb / secs,
            "tps": emb * w["tokens_per_input"] / secs,
            "p50_us": wrk["p50_us"], "p99_us": wrk["p99_us"],
            "non200": wrk["non200"], "first_bad": wrk["first_bad"],
            "errors": (wrk["err_connect"] + wrk["err_read"] + wrk["err_write"]
                       + wrk["err_timeout"]),
            "answer_bytes": wrk["bytes"] / n if n else None,
            "cpu_s": a.cpu_ticks / a.clk_tck,
            "busy": a.cpu_ticks / a.clk_tck / secs,
            "tokens_per_cpu_s": (emb * w["tokens_per_input"] * a.clk_tck / a.cpu_ticks
                                 if a.cpu_ticks else None),
            "cpu_ms_per_emb": 1000.0 * a.cpu_ticks / a.clk_tck / emb if emb else None,
            "crashes": a.crashes})
    with open(a.results, "a") as f:
        f.write(json.dumps(rec) + "\n")


# ---------------------------------------------------------------- summarize

LABELS = {"N": "N. ngx_infer", "S": "S. FastAPI + sentence-transformers",
          "O": "O. FastAPI + onnxruntime"}
TITLES = {"short1": "one short sentence (%d tokens) per request",
          "short32": "32 short sentences (%d tokens each) per request",
          "para1": "one paragraph (%d tokens) per request"}


def model_flops(cfg, seq):
    """FLOPs per token: 2 x the dense layers' weights + the attention's
    4 * seq * d (QK^T and AV), per layer."""
    d, ff, n = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    dense = n * (4 * d * d + 2 * d * ff)
    return 2 * dense + n * 4 * seq * d, dense


def med(rows, key):
    vals = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def fmt(v, spec):
    return "–" if v is None else format(v, spec)


def ms(us):
    return "–" if us is None else "%.1f" % (us / 1000.0)


def kb(b):
    return "–" if b is None else "%.1f" % (b / 1024.0)


def range_cell(rows, key, spec):
    vals = [r[key] for r in rows]
    m = statistics.median(vals)
    if len(vals) > 1:
        return "%s (%s–%s)" % (format(m, spec), format(min(vals), spec),
                               format(max(vals), spec))
    return format(m, spec)


def errs(rows):
    cell = "%d / %d" % (sum(r["non200"] for r in rows), sum(r["errors"] for r in rows))
    crashes = sum(r.get("crashes", 0) for r in rows)
    if crashes:
        cell += " (%d worker crashes)" % crashes
    return cell


def cmd_summarize(a):
    recs = []
    if os.path.exists(a.results):
        with open(a.results) as f:
            recs = [json.loads(line) for line in f if line.strip()]
    with open(a.meta) as f:
        meta = json.load(f)
    with open(a.bodies_meta) as f:
        bmeta = json.load(f)
    with open(os.path.join(meta["model_dir"], "config.json")) as f:
        cfg = json.load(f)
    peak = meta["peak_gflops"]
    d, ff, n = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]

    md = ["# ngx_infer benchmark: /v1/embeddings (all-MiniLM-L6-v2)", "",
          "%s; %s; %s" % (meta["date"], meta["cpu"], meta["git"]), "",
          "POST /v1/embeddings with OpenAI's body `{\"model\":\"minilm\",\"input\":[...]}`; "
          "the bodies are cycled through (%s). wrk -t1 --timeout 30s on CPU %s, every "
          "server on CPU %s; %s rounds, the targets interleaved in each; per run %ss "
          "of warm-up, a wait until the server is idle, then %ss timed (short1) or %ss "
          "(short32, para1); median over rounds (range in brackets)."
          % (", ".join("%d %s bodies" % (w["bodies"], k)
                       for k, w in bmeta["workloads"].items()),
             meta["client_cpu"], meta["server_cpu"], meta["rounds"], meta["warmup"],
             meta["duration"], meta["heavy_duration"]), "",
          "FP32 FMA peak of CPU %s, measured by bench/fma_peak.c in this run: "
          "**%.1f GFLOP/s** (best of its trials; %s)."
          % (meta["server_cpu"], peak, meta["peak_runs"]), ""]

    f12, dense = model_flops(cfg, 12)
    md += ["Compute per token, from config.json (d = %d, d_ff = %d, %d layers): "
           "F(L) = 2 · %d·(4·d² + 2·d·d_ff) + %d · 4·L·d = 2 · %s + %d·L FLOPs, "
           "L the sequence length: twice the dense layers' weights (Q, K, V and the "
           "attention output, 4·d²; the feed-forward up and down, 2·d·d_ff) and the "
           "attention's QKᵀ and AV (2·L·d each); biases, layer norms, GELU, softmax, "
           "the embedding lookup and the pooling are left out. "
           "F(12) = %.2f MFLOP, F(200) = %.2f MFLOP. Compute limit: peak / F(L) tokens/s; "
           "\"%% of peak\" is tokens/s over that limit."
           % (d, ff, n, n, n, format(dense, ","), n * 4 * d, f12 / 1e6,
              model_flops(cfg, 200)[0] / 1e6), ""]

    keys = []
    for r in recs:
        k = (r["workload"], r["connections"])
        if k not in keys:
            keys.append(k)
    order = list(TITLES)
    keys.sort(key=lambda k: (order.index(k[0]), k[1]))
    summary = []
    for wl, c in keys:
        w = bmeta["workloads"][wl]
        seq = w["tokens_per_input"]
        limit = peak * 1e9 / model_flops(cfg, seq)[0]
        md += ["## %s, %d connections" % (TITLES[wl] % seq, c), "",
               "Compute limit at L = %d: %.0f tokens/s (%.0f embeddings/s)."
               % (seq, limit, limit / seq), "",
               "| target | embeddings/s | req/s | answers timed | p50 ms | p99 ms "
               "| CPU ms / embedding | server CPU busy | tokens/s | % of peak "
               "| % of peak per CPU s | answer KB | non-200 / socket errors |",
               "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
               "| ---: | ---: | ---: |"]
        row_eps = {}
        row_cpu = {}
        row_pk = {}
        for t in "NSO":
            rows = [r for r in recs if r["target"] == t and r["workload"] == wl
                    and r["connections"] == c]
            if not rows:
                continue
            un = [r for r in rows if "unavailable" in r]
            if un:
                md.append("| %s | not available: %s | | | | | | | | | | | |"
                          % (LABELS[t], un[0]["unavailable"].replace("|", "\\|")))
                continue
            tps = med(rows, "tps")
            tpc = med(rows, "tokens_per_cpu_s")
            busy = med(rows, "busy")
            row_eps[t] = med(rows, "eps")
            row_cpu[t] = med(rows, "cpu_ms_per_emb")
            row_pk[t] = (100.0 * tps / limit if tps else None,
                         100.0 * tpc / limit if tpc else None)
            md.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                LABELS[t], range_cell(rows, "eps", ".0f"), fmt(med(rows, "rps"), ".1f"),
                fmt(med(rows, "requests"), ".0f"), ms(med(rows, "p50_us")),
                ms(med(rows, "p99_us")), fmt(row_cpu[t], ".2f"),
                fmt(100.0 * busy if busy is not None else None, ".0f") + "%",
                fmt(tps, ".0f"), fmt(row_pk[t][0], ".1f"), fmt(row_pk[t][1], ".1f"),
                kb(med(rows, "answer_bytes")), errs(rows)))
        md.append("")
        summary.append((wl, c, row_eps, row_cpu, row_pk))

    if any("N" in s[2] for s in summary):
        md += ["## ngx_infer against the peers", "",
               "| workload | connections | ngx_infer % of peak | per CPU s "
               "| embeddings/s vs S | vs O | CPU / embedding vs S | vs O |",
               "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for wl, c, eps, cpu, pk in summary:
            if "N" not in eps:
                continue

            def ratio(tab, p, inv=False):
                if p not in tab or not tab[p] or not tab["N"]:
                    return "–"
                return "%.2fx" % ((tab[p] / tab["N"]) if inv else (tab["N"] / tab[p]))
            md.append("| %s | %d | %s | %s | %s | %s | %s | %s |" % (
                wl, c, fmt(pk["N"][0], ".1f"), fmt(pk["N"][1], ".1f"),
                ratio(eps, "S"), ratio(eps, "O"), ratio(cpu, "S", True),
                ratio(cpu, "O", True)))
        md += ["", "Ratios above 1 favour ngx_infer: its embeddings/s over the peer's, "
               "the peer's CPU per embedding over its.", ""]

    md += ["Columns: embeddings/s = answered requests per second × inputs per request; "
           "answers timed = the requests answered in one timed run (the p99 of a few "
           "dozen is their maximum); p50/p99 are wrk's per request; CPU is the server's user+system time "
           "(/proc/PID/stat of the server and its descendants: nginx's master and "
           "worker with the executor threads, or the uvicorn process) over the timed "
           "run, divided by the embeddings answered; server CPU busy = that CPU time "
           "over the run's length (below 100%% the server waited, or other processes "
           "had its core: this machine is shared); tokens/s = embeddings/s × tokens "
           "per input; %% of peak = tokens/s over the compute limit; %% of peak per CPU s "
           "= tokens per second of the server's CPU time over the limit, what the "
           "computation reaches while it runs (the figure to compare on a busy machine); "
           "answer KB = response bytes per request (headers included). "
           "Every target's answer to the first body of each workload was checked "
           "before timing (every embedding within cosine %s of %s)."
           % (COSINE_MIN, bmeta["reference"]), ""]
    with open(a.commands) as f:
        cmds = f.read()
    md += ["<details><summary>Exact commands and configurations</summary>", "",
           cmds.rstrip(), "", "</details>", ""]
    text_out = "\n".join(md)
    with open(a.out, "w") as f:
        f.write(text_out)
    sys.stdout.write(text_out)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("bodies")
    p.add_argument("--model", required=True)
    p.add_argument("--model-name", default="minilm")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_bodies)

    p = sub.add_parser("verify")
    p.add_argument("--url", required=True)
    p.add_argument("--bodies", required=True)
    p.add_argument("--meta", required=True)
    p.add_argument("--workload", required=True, choices=list(INPUTS))
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("record")
    p.add_argument("--results", required=True)
    p.add_argument("--meta", required=True)
    p.add_argument("--target", required=True)
    p.add_argument("--workload", required=True, choices=list(INPUTS))
    p.add_argument("--connections", type=int, required=True)
    p.add_argument("--round", type=int, required=True)
    p.add_argument("--unavailable")
    p.add_argument("--wrk-out")
    p.add_argument("--cpu-ticks", type=int, default=0)
    p.add_argument("--clk-tck", type=int, default=100)
    p.add_argument("--crashes", type=int, default=0)
    p.set_defaults(func=cmd_record)

    p = sub.add_parser("summarize")
    p.add_argument("--results", required=True)
    p.add_argument("--meta", required=True, help="the run's meta.json")
    p.add_argument("--bodies-meta", required=True, help="PREFIX.meta.json of bodies")
    p.add_argument("--commands", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_summarize)

    a = ap.parse_args()
    sys.exit(a.func(a) or 0)


if __name__ == "__main__":
    main()
