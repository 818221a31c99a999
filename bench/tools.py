#!/usr/bin/python3
"""Helpers of bench/run.sh (Debian's /usr/bin/python3 with python3-numpy).

    tools.py bodies   --model DIR --name NAME --seed S --style python|shortest --out PREFIX
        PREFIX.json          the KServe v2 JSON request body (one row)
        PREFIX.bin           the same row as a binary tensor extension body
        PREFIX.hdrlen        the length of that body's JSON header
        PREFIX.raw           the row alone, 4 bytes a value (the module's
                             raw application/octet-stream body)
        PREFIX.expected.json the reference answer (float64 numpy)
        PREFIX.fixed.json    a KServe response holding that answer (the
                             floor's fixed reply)
    tools.py verify   --url URL --body F --expected F [--content-type T] [--header-len N]
        exit 0: 200 and the right answer; 3: the server answered 400;
        1: anything else (printed)
    tools.py record   --results F --scenario S --target T ... (see --help)
    tools.py summarize --results F --meta F --commands F --out F
"""

import argparse
import json
import math
import os
import statistics
import struct
import sys
import urllib.error
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))

import numpy as np  # noqa: E402

from common import Model  # noqa: E402


# ---------------------------------------------------------------- bodies

def forward64(model, x):
    x = np.asarray(x, dtype=np.float32).astype(np.float64).reshape(1, -1)
    for w, b, act in model.layers:
        x = x @ w.astype(np.float64).T
        if b is not None:
            x = x + b
        if act == "relu":
            x = np.maximum(x, 0.0)
        elif act == "tanh":
            x = np.tanh(x)
        elif act == "sigmoid":
            x = 1.0 / (1.0 + np.exp(-x))
        elif act == "gelu":
            x = 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))
    if model.softmax:
        x = np.exp(x - x.max(axis=1, keepdims=True))
        x = x / x.sum(axis=1, keepdims=True)
    return x.reshape(-1)


def cmd_bodies(a):
    model = Model(a.model, a.name)
    rng = np.random.default_rng(a.seed)
    x = rng.random(model.input_size, dtype=np.float32)   # pixel-like, [0, 1)
    if a.style == "python":
        # what a Python client sends: tritonclient's JSON path and
        # requests.post(json=...) turn the float32 array into Python floats
        # (x.tolist()), and json.dumps prints their float64 repr, 16-18
        # significant digits
        data = x.tolist()
    else:
        # the shortest decimal that reads back as the same float32, as a
        # float32-aware client (C, Go, Rust) prints it
        data = [float(str(v)) for v in x]
    body = json.dumps({"inputs": [{"name": model.input_name,
                                   "shape": [1, model.input_size],
                                   "datatype": "FP32", "data": data}]})
    x32 = np.asarray(data, dtype=np.float32)           # what the server decodes
    header = json.dumps({"inputs": [{"name": model.input_name,
                                     "shape": [1, model.input_size],
                                     "datatype": "FP32",
                                     "parameters": {"binary_data_size": 4 * model.input_size}}]},
                        separators=(",", ":")).encode()
    raw = x32.astype("<f4").tobytes()
    y = forward64(model, x32)
    fixed = json.dumps({"model_name": model.name, "model_version": "1",
                        "outputs": [{"name": model.output_name, "datatype": "FP32",
                                     "shape": [1, model.output_size],
                                     "data": [float(str(np.float32(v))) for v in y]}]},
                       separators=(",", ":"))
    with open(a.out + ".json", "w") as f:
        f.write(body)
    with open(a.out + ".bin", "wb") as f:
        f.write(header + raw)
    with open(a.out + ".raw", "wb") as f:
        f.write(raw)
    with open(a.out + ".hdrlen", "w") as f:
        f.write("%d\n" % len(header))
    with open(a.out + ".expected.json", "w") as f:
        json.dump({"model_name": model.name, "softmax": model.softmax,
                   "outputs": y.tolist()}, f)
    with open(a.out + ".fixed.json", "w") as f:
        f.write(fixed)
    print("%s: JSON body %d bytes, binary body %d bytes (header %d)"
          % (a.name, len(body), len(header) + len(raw), len(header)))


# ---------------------------------------------------------------- verify

def cmd_verify(a):
    with open(a.body, "rb") as f:
        body = f.read()
    with open(a.expected) as f:
        exp = json.load(f)
    headers = {"Content-Type": a.content_type}
    if a.header_len is not None:
        headers["Inference-Header-Content-Length"] = str(a.header_len)
    req = urllib.request.Request(a.url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            status, answer = r.status, r.read()
            rtype = r.headers.get("Content-Type", "")
    except urllib.error.HTTPError as e:
        status, answer, rtype = e.code, e.read(), ""
    if status == 400:
        print("400: %s" % answer[:300].decode("utf-8", "replace"))
        return 3
    if status != 200:
        print("status %d: %s" % (status, answer[:300].decode("utf-8", "replace")))
        return 1
    if rtype.startswith("application/octet-stream") and a.header_len is None:
        if len(answer) % 4:
            print("a raw answer of %d bytes" % len(answer))
            return 1
        data = np.frombuffer(answer, dtype="<f4").tolist()
    else:
        try:
            doc = json.loads(answer)
            data = doc["outputs"][0]["data"]
        except (ValueError, KeyError, IndexError, TypeError) as e:
            print("not a KServe response (%s): %s" % (e, answer[:300]))
            return 1
    want = np.asarray(exp["outputs"], dtype=np.float64)
    got = np.asarray(data, dtype=np.float64).reshape(-1)
    if got.shape != want.shape:
        print("outputs: %d numbers, expected %d" % (got.size, want.size))
        return 1
    if exp["softmax"] and abs(got.sum() - 1.0) > 1e-4:
        print("outputs sum to %.7f, not 1" % got.sum())
        return 1
    scale = max(1.0, float(np.abs(want).max()))
    err = float(np.abs(got - want).max()) / scale
    if err > 1e-3:
        print("outputs differ from the reference by %.3g (relative to %.3g)" % (err, scale))
        return 1
    print("ok: %d outputs%s, max error %.2g" % (
        got.size, ", sum %.6f" % got.sum() if exp["softmax"] else "", err))
    return 0


# ---------------------------------------------------------------- record

def cmd_record(a):
    rec = {"scenario": a.scenario, "target": a.target, "round": a.round,
           "connections": a.connections}
    if a.max_batch is not None:
        rec["max_batch"] = a.max_batch
    if a.unavailable is not None:
        rec["unavailable"] = a.unavailable
    else:
        wrk = None
        with open(a.wrk_out) as f:
            for line in f:
                if line.startswith("BENCH_JSON "):
                    wrk = json.loads(line[len("BENCH_JSON "):])
        if wrk is None:
            raise SystemExit("record: no BENCH_JSON line in %s" % a.wrk_out)
        rec.update(wrk)
        secs = wrk["duration_us"] / 1e6
        rec["rps"] = wrk["requests"] / secs if secs > 0 else 0.0
        rec["cpu_s"] = a.cpu_ticks / a.clk_tck
        rec["cpu_s_per_1k"] = (1000.0 * rec["cpu_s"] / wrk["requests"]
                               if wrk["requests"] else None)
        rec["rss_kb"] = a.rss_kb
        rec["pss_kb"] = a.pss_kb
        rec["crashes"] = a.crashes
        rec["errors"] = (wrk["err_connect"] + wrk["err_read"] + wrk["err_write"]
                         + wrk["err_timeout"])
        if a.batch_log:
            sizes = []
            with open(a.batch_log) as f:
                for i, line in enumerate(f):
                    if i < a.batch_from:
                        continue
                    v = line.strip()
                    if v.isdigit() and int(v) > 0:
                        sizes.append(int(v))
            if sizes:
                # each request logs the size of the batch it rode in: the
                # plain mean is the batch an average request saw; n / sum(1/b)
                # counts every batch once (a batch of b logs b lines)
                rec["batch_per_request"] = sum(sizes) / len(sizes)
                rec["batch_per_batch"] = len(sizes) / sum(1.0 / s for s in sizes)
                rec["batch_lines"] = len(sizes)
    with open(a.results, "a") as f:
        f.write(json.dumps(rec) + "\n")


# ---------------------------------------------------------------- summarize

LABELS = {
    "a": "a. ngx_infer, KServe JSON",
    "b": "b. ngx_infer, binary tensor extension",
    "f": "f. ngx_infer, raw FP32 body (octet-stream)",
    "c": "c. FastAPI + uvicorn + PyTorch",
    "d": "d. FastAPI + uvicorn + numpy",
    "e": "e. nginx fixed reply (the floor)",
    "A": "A. ngx_infer, base build, KServe JSON",
    "B": "B. ngx_infer, base build, binary tensor extension",
    "F": "F. ngx_infer, base build, raw FP32 body",
}


def med(rows, key):
    vals = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def fmt(v, spec):
    return "–" if v is None else format(v, spec)


def ms(us):
    return "–" if us is None else "%.2f" % (us / 1000.0)


def errs(rows):
    non200 = sum(r.get("non200", 0) for r in rows)
    sock = sum(r.get("errors", 0) for r in rows)
    crashes = sum(r.get("crashes", 0) for r in rows)
    cell = "%d / %d" % (non200, sock)
    if crashes:
        cell += " (%d worker crashes)" % crashes
    return cell


def rps_cell(rows):
    vals = [r["rps"] for r in rows]
    m = statistics.median(vals)
    if len(vals) > 1:
        return "%.0f (%.0f–%.0f)" % (m, min(vals), max(vals))
    return "%.0f" % m


def table_peers(recs):
    floor = [r for r in recs if r["target"] == "e" and "unavailable" not in r]
    floor_cpu = med(floor, "cpu_s_per_1k")
    out = ["| target | req/s (median, range) | p50 ms | p99 ms | CPU s / 1k req "
           "| CPU / req vs floor | RSS MiB | PSS MiB | non-200 / socket errors |",
           "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for t in "abfABFcde":
        rows = [r for r in recs if r["target"] == t]
        if not rows:
            continue
        un = [r for r in rows if "unavailable" in r]
        if un:
            out.append("| %s | not available: %s | | | | | | | |"
                       % (LABELS[t], un[0]["unavailable"].replace("|", "\\|")))
            continue
        cpu = med(rows, "cpu_s_per_1k")
        ratio = (cpu / floor_cpu) if (cpu is not None and floor_cpu) else None
        out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            LABELS[t], rps_cell(rows), ms(med(rows, "p50_us")), ms(med(rows, "p99_us")),
            fmt(cpu, ".3f"), fmt(ratio, ".1f") + ("x" if ratio is not None else ""),
            fmt(med(rows, "rss_kb") / 1024.0, ".1f"),
            fmt(med(rows, "pss_kb") / 1024.0, ".1f"), errs(rows)))
    return "\n".join(out)


def table_batching(recs):
    out = ["| model | build | max_batch | connections | req/s (median, range) "
           "| p50 ms | p99 ms | mean batch (per batch) | mean batch (per request) "
           "| CPU s / 1k req | non-200 / socket errors |",
           "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]

    def build(r):
        return r["target"].split("-")[0] if "-" in r["target"] else "new"

    keys = sorted({(r["connections"], r["max_batch"], build(r)) for r in recs},
                  key=lambda k: (k[0], k[1], k[2] != "new"))
    for c, mb, b in keys:
        rows = [r for r in recs if r["connections"] == c and r["max_batch"] == mb
                and build(r) == b]
        out.append("| heavy | %s | %d | %d | %s | %s | %s | %s | %s | %s | %s |" % (
            b, mb, c, rps_cell(rows), ms(med(rows, "p50_us")), ms(med(rows, "p99_us")),
            fmt(med(rows, "batch_per_batch"), ".1f"),
            fmt(med(rows, "batch_per_request"), ".1f"),
            fmt(med(rows, "cpu_s_per_1k"), ".2f"), errs(rows)))
    return "\n".join(out)


def cmd_summarize(a):
    recs = []
    if os.path.exists(a.results):
        with open(a.results) as f:
            recs = [json.loads(line) for line in f if line.strip()]
    with open(a.meta) as f:
        meta = json.load(f)
    md = ["# ngx_infer benchmark", ""]
    md.append("%s; %s; %s" % (meta["date"], meta["cpu"], meta["git"]))
    md.append("")
    peers = [r for r in recs if r["scenario"] == "peers"]
    batching = [r for r in recs if r["scenario"] == "batching"]
    if peers:
        md += ["## Scenario 1: one model (mlp784), ngx_infer against its peers", "",
               "Model mlp784 (784-256-256-10, softmax, F32), one row per request; "
               "%s. wrk -t1 -c%s -d%ss on CPU %s, every server on CPU %s; %s rounds "
               "interleaved, %ss warm-up before each timed run; median over rounds."
               % (meta["body_mlp784"], meta["connections"], meta["duration"],
                  meta["client_cpu"], meta["server_cpu"], meta["rounds"], meta["warmup"]),
               "", table_peers(peers), ""]
    if batching:
        md += ["## Scenario 2: batching (heavy model)", "",
               "Model heavy (1024-4096-4096-1024, F16 weights computed in FP32), one "
               "row per request; %s. ngx_infer with worker_processes 2, instances=1, "
               "batch_timeout=2ms, all on CPU %s; wrk -t1 -d%ss --timeout 30s on CPU %s; "
               "%s rounds interleaved, median over rounds."
               % (meta["body_heavy"], meta["server_cpu"], meta["duration"],
                  meta["client_cpu"], meta["rounds"]),
               "", table_batching(batching), ""]
    md += ["Columns: see bench/README.md. CPU is the server's user+system time "
           "(all its processes and threads) over the timed run, per 1000 answered "
           "requests; RSS/PSS summed over the server's processes after the run.", ""]
    with open(a.commands) as f:
        cmds = f.read()
    md += ["<details><summary>Exact commands and configurations</summary>", "",
           cmds.rstrip(), "", "</details>", ""]
    text = "\n".join(md)
    with open(a.out, "w") as f:
        f.write(text)
    sys.stdout.write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("bodies")
    p.add_argument("--model", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--style", choices=("python", "shortest"), default="python")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_bodies)

    p = sub.add_parser("verify")
    p.add_argument("--url", required=True)
    p.add_argument("--body", required=True)
    p.add_argument("--expected", required=True)
    p.add_argument("--content-type", default="application/json")
    p.add_argument("--header-len", type=int)
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("record")
    p.add_argument("--results", required=True)
    p.add_argument("--scenario", required=True)
    p.add_argument("--target", required=True)
    p.add_argument("--round", type=int, required=True)
    p.add_argument("--connections", type=int, required=True)
    p.add_argument("--max-batch", type=int)
    p.add_argument("--unavailable")
    p.add_argument("--wrk-out")
    p.add_argument("--cpu-ticks", type=int, default=0)
    p.add_argument("--clk-tck", type=int, default=100)
    p.add_argument("--rss-kb", type=int, default=0)
    p.add_argument("--pss-kb", type=int, default=0)
    p.add_argument("--crashes", type=int, default=0)
    p.add_argument("--batch-log")
    p.add_argument("--batch-from", type=int, default=0)
    p.set_defaults(func=cmd_record)

    p = sub.add_parser("summarize")
    p.add_argument("--results", required=True)
    p.add_argument("--meta", required=True)
    p.add_argument("--commands", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_summarize)

    a = ap.parse_args()
    sys.exit(a.func(a) or 0)


if __name__ == "__main__":
    main()
