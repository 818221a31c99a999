"""Triton's Python client on Triton's extensions, against a running
ngx_infer (t/176-triton-tools.t).

tritonclient.http calls what Triton's tools call: the server metadata,
the model configuration, the statistics, the model repository's index,
load and unload; between two statistics it infers, so that the counts
can be checked exactly.  One JSON line a check on stdout, {"ok": bool,
"name": ..., "diag": ...}, then {"done": n}.

    python3 t/lib/triton_clients.py --port 1984 --model digits \
        --dir models/digits --max-batch 16 --delay-us 2000 --instances 2 \
        --other image

The server must have served nothing to the two models before, and get no
other requests meanwhile: the counts are the script's own.
"""

import argparse
import json
import os
import sys
import time
import traceback

import numpy as np

import tritonclient.http as tc
from tritonclient.utils import InferenceServerException

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref  # noqa: E402  (t/lib/ref.py, the float64 reference)

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--model", default="digits")
ap.add_argument("--dir", required=True, help="the model's directory")
ap.add_argument("--max-batch", type=int, required=True)
ap.add_argument("--delay-us", type=int, required=True)
ap.add_argument("--instances", type=int, required=True)
ap.add_argument("--other", required=True, help="another declared model")
args = ap.parse_args()

NAME = args.model
checks = 0


def check(name, ok, diag=""):
    global checks
    checks += 1
    print(json.dumps({"ok": bool(ok), "name": name,
                      "diag": "" if ok else str(diag)}), flush=True)
    return bool(ok)


def section(fn):
    """A section that raises is one failed check with the traceback."""
    try:
        fn()
    except Exception:
        check(f"{fn.__name__}: ran to the end", False, traceback.format_exc())
    return fn


def raises(name, status, fn, *a, **kw):
    """fn raises InferenceServerException with this HTTP status."""
    try:
        fn(*a, **kw)
    except InferenceServerException as e:
        return check(f"{name}: InferenceServerException {status}",
                     e.status() == status and bool(e.message()),
                     f"{e.status()} {e.message()!r}")
    return check(f"{name}: InferenceServerException {status}", False,
                 "no exception")


def stat(model_stats, name):
    return next((s for s in model_stats if s["name"] == name), None)


def zero(d):
    return {"count": 0, "ns": 0}


tri = tc.InferenceServerClient(f"127.0.0.1:{args.port}", network_timeout=30)
model = ref.load_model(args.dir)
rng = np.random.default_rng(7)
T0 = int(time.time() * 1000)


@section
def server_metadata():
    meta = tri.get_server_metadata()
    check("get_server_metadata(): the extensions served",
          meta.get("extensions") == ["binary_tensor_data",
                                     "model_configuration", "statistics",
                                     "model_repository"], meta)


@section
def model_config():
    cfg = tri.get_model_config(NAME)
    want = {
        "name": NAME, "platform": "ngx_infer_mlp", "backend": "ngx_infer",
        "version_policy": {"latest": {"num_versions": 1}},
        "max_batch_size": args.max_batch,
        "input": [{"name": "input", "data_type": "TYPE_FP32",
                   "dims": [64]}],
        "output": [{"name": "probabilities", "data_type": "TYPE_FP32",
                    "dims": [10]}],
        "dynamic_batching": {"preferred_batch_size": [],
                             "max_queue_delay_microseconds": args.delay_us},
        "instance_group": [{"name": NAME, "kind": "KIND_CPU",
                            "count": args.instances, "gpus": []}],
        "parameters": {"device": {"string_value": "cpu"},
                       "precision": {"string_value": "fp32"}},
    }
    check(f'get_model_config("{NAME}"): max_batch_size {args.max_batch}, '
          f'TYPE_FP32 [64] -> [10], max_queue_delay {args.delay_us} us, '
          f'{args.instances} KIND_CPU instances', cfg == want,
          json.dumps(cfg))
    check(f'get_model_config("{NAME}", "1") is the same',
          tri.get_model_config(NAME, "1") == want)
    raises('get_model_config("no-such-model")', "404",
           tri.get_model_config, "no-such-model")
    raises(f'get_model_config("{NAME}", "2")', "404",
           tri.get_model_config, NAME, "2")


@section
def statistics_before():
    st = tri.get_inference_statistics(NAME)
    ms = st.get("model_stats", [])
    s = stat(ms, NAME)
    want = {"name": NAME, "version": "1", "last_inference": 0,
            "inference_count": 0, "execution_count": 0,
            "inference_stats": {k: zero(k) for k in
                                ("success", "fail", "queue", "compute_input",
                                 "compute_infer", "compute_output",
                                 "cache_hit", "cache_miss")},
            "batch_stats": []}
    check(f'get_inference_statistics("{NAME}") before any request: zeros',
          len(ms) == 1 and s == want, json.dumps(st))


def infer(rows, binary):
    x = rng.standard_normal((rows, 64)).astype(np.float32)
    inp = tc.InferInput("input", [rows, 64], "FP32")
    inp.set_data_from_numpy(x, binary_data=binary)
    out = tc.InferRequestedOutput("probabilities", binary_data=binary)
    res = tri.infer(NAME, inputs=[inp], outputs=[out])
    y = res.as_numpy("probabilities")
    want = np.asarray(ref.forward(model, x.astype(np.float64)))
    return (y is not None and y.shape == (rows, 10)
            and np.allclose(y, want, rtol=1e-5, atol=1e-6)), y


@section
def inferences():
    # 3 requests answered, 4 rows, in 3 batches (one at a time): 1, 2, 1
    for rows, binary in ((1, True), (2, False), (1, False)):
        ok, y = infer(rows, binary)
        check(f"infer() of {rows} rows ({'binary' if binary else 'JSON'}):"
              " the reference's probabilities", ok, y)

    # one answered with an error: 63 values where the model takes 64
    inp = tc.InferInput("input", [1, 63], "FP32")
    inp.set_data_from_numpy(np.zeros((1, 63), dtype=np.float32))
    raises("infer() of shape [1, 63]", "400", tri.infer, NAME, inputs=[inp])


@section
def statistics_after():
    t1 = int(time.time() * 1000)
    st = tri.get_inference_statistics(NAME)
    s = stat(st.get("model_stats", []), NAME) or {}
    inf = s.get("inference_stats", {})

    def dur(k):
        return inf.get(k, {})

    check("after 3 answers of 4 rows in 3 batches and 1 error: "
          "inference_count 4, execution_count 3",
          (s.get("inference_count"), s.get("execution_count")) == (4, 3), s)
    check("success: count 3, ns > 0; fail: count 1, ns > 0",
          dur("success").get("count") == 3 and dur("success").get("ns", 0) > 0
          and dur("fail").get("count") == 1 and dur("fail").get("ns", 0) > 0,
          inf)
    check("queue, compute_input, compute_infer, compute_output: count 3 "
          "each; compute_infer ns > 0",
          all(dur(k).get("count") == 3 for k in
              ("queue", "compute_input", "compute_infer", "compute_output"))
          and dur("compute_infer").get("ns", 0) > 0, inf)
    check("the phases take less than the requests",
          sum(dur(k).get("ns", 0) for k in ("queue", "compute_input",
                                            "compute_infer",
                                            "compute_output"))
          < dur("success").get("ns", 0), inf)
    check("cache_hit and cache_miss are zeros (no response cache)",
          dur("cache_hit") == zero(0) and dur("cache_miss") == zero(0), inf)
    bs = s.get("batch_stats", [])
    check("batch_stats: batch size 1 twice, batch size 2 once",
          [(b["batch_size"], b["compute_infer"]["count"],
            b["compute_input"]["count"], b["compute_output"]["count"])
           for b in bs] == [(1, 2, 2, 2), (2, 1, 1, 1)], bs)
    check("last_inference: milliseconds since the epoch, of the error",
          T0 <= s.get("last_inference", 0) <= t1,
          f"{T0} <= {s.get('last_inference')} <= {t1}")

    same = tri.get_inference_statistics(NAME, "1")
    check(f'get_inference_statistics("{NAME}", "1") is the same',
          same == st, json.dumps(same))

    every = tri.get_inference_statistics()
    names = [m["name"] for m in every.get("model_stats", [])]
    other = stat(every.get("model_stats", []), args.other) or {}
    check(f"get_inference_statistics(): every model, {NAME} as above, "
          f"{args.other} untouched",
          names == [NAME, args.other]
          and stat(every["model_stats"], NAME) == s
          and other.get("inference_count") == 0
          and other.get("inference_stats", {}).get("success") == zero(0),
          json.dumps(every))
    raises('get_inference_statistics("no-such-model")', "404",
           tri.get_inference_statistics, "no-such-model")


@section
def repository():
    idx = tri.get_model_repository_index()
    check("get_model_repository_index(): both models READY",
          idx == [{"name": NAME, "version": "1", "state": "READY"},
                  {"name": args.other, "version": "1", "state": "READY"}],
          idx)
    raises(f'load_model("{NAME}")', "400", tri.load_model, NAME)
    raises(f'unload_model("{NAME}")', "400", tri.unload_model, NAME)
    raises('load_model("no-such-model")', "404", tri.load_model,
           "no-such-model")
    check(f'is_model_ready("{NAME}") after all that',
          tri.is_model_ready(NAME))


tri.close()
print(json.dumps({"done": checks}), flush=True)
