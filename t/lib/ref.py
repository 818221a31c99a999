#!/usr/bin/env python3
"""float64 numpy reference for ngx_infer model directories.

Independent of the code under test: it reads model.safetensors with the
safetensors package (BF16 tensors, which numpy cannot hold, by hand from
the header's data_offsets) and config.json, and runs the layers in float64
on float32 inputs.

    ref.py predict MODEL_DIR [ROWS.json|-]
        ROWS: a JSON list of input rows (flat, or nested to the input
        shape); prints a JSON list of output rows.

    ref.py kserve MODEL_DIR --rows N --seed S [--name NAME]
                  [--dist normal|uniform|digits] [--model-version V]
                  [--request-out F] [--response-out F]
        A KServe v2 request with N random rows and the expected response:
        {"request": {"inputs": [...]}, "response": {"model_name": ...,
         "outputs": [...]}, "labels": [...] (digits only)}
        printed as one JSON document unless the -out files are given.
        Inputs are float32 values printed in their shortest form, so the
        server and the reference see the same numbers; outputs are float64.

Needs only: python3 -m pip install numpy safetensors scikit-learn
"""

import argparse
import json
import math
import os
import struct
import sys

import numpy as np
from safetensors import safe_open

SAFETENSORS_NP = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8",
                  "I32": "<i4", "I16": "<i2", "I8": "i1", "U8": "u1"}


def read_header(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    return header, 8 + n


def load_tensors(path, names):
    """{name: float64 array} for the named tensors."""
    header, data_start = read_header(path)
    out = {}
    need_lib = [n for n in names if header[n]["dtype"] != "BF16"]
    if need_lib:
        with safe_open(path, framework="numpy") as f:
            for n in need_lib:
                out[n] = f.get_tensor(n).astype(np.float64)
    for n in names:
        if n in out:
            continue
        info = header[n]
        begin, end = info["data_offsets"]
        with open(path, "rb") as f:
            f.seek(data_start + begin)
            raw = f.read(end - begin)
        bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
        out[n] = bits.view(np.float32).astype(np.float64).reshape(info["shape"])
    return out


def load_model(model_dir):
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    if cfg.get("architecture") != "mlp":
        raise ValueError("ref.py: unsupported architecture %r" % cfg.get("architecture"))
    names = []
    for layer in cfg["layers"]:
        names.append(layer["weight"])
        if layer.get("bias"):
            names.append(layer["bias"])
    tensors = load_tensors(os.path.join(model_dir, "model.safetensors"), names)
    layers = []
    for layer in cfg["layers"]:
        w = tensors[layer["weight"]]
        b = tensors[layer["bias"]] if layer.get("bias") else None
        layers.append((w, b, layer.get("activation", "none")))
    return {"config": cfg, "layers": layers,
            "input_shape": list(cfg["input"]["shape"]),
            "input_size": int(np.prod(cfg["input"]["shape"])),
            "output_size": int(layers[-1][0].shape[0]),
            "softmax": bool(cfg.get("output", {}).get("softmax", False))}


_erf = np.frompyfunc(math.erf, 1, 1)


def activation(name, x):
    if name == "relu":
        return np.maximum(x, 0.0)
    if name == "gelu":
        return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)).astype(np.float64))
    if name == "tanh":
        return np.tanh(x)
    if name == "sigmoid":
        # stable for large |x|
        out = np.empty_like(x)
        pos = x >= 0
        out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
        e = np.exp(x[~pos])
        out[~pos] = e / (1.0 + e)
        return out
    if name == "none":
        return x
    raise ValueError("ref.py: unknown activation %r" % name)


def softmax(x):
    z = x - x.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def forward(model, rows):
    """rows: array-like [n, input...] -> float64 [n, outputs]."""
    x = np.asarray(rows, dtype=np.float32).reshape(-1, model["input_size"])
    x = x.astype(np.float64)
    for w, b, act in model["layers"]:
        x = x @ w.T
        if b is not None:
            x = x + b
        x = activation(act, x)
    if model["softmax"]:
        x = softmax(x)
    return x


def f32_short(v):
    """The shortest decimal that reads back as the same float32."""
    return float(str(np.float32(v)))


def gen_rows(model, n, seed, dist):
    rng = np.random.default_rng(seed)
    labels = None
    if dist == "normal":
        x = rng.standard_normal((n, model["input_size"]))
    elif dist == "uniform":
        x = rng.uniform(-1.0, 1.0, (n, model["input_size"]))
    elif dist == "digits":
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        sys.dont_write_bytecode = True
        from gen_models import digits_split
        _, x_test, _, y_test = digits_split()
        if model["input_size"] != x_test.shape[1]:
            raise SystemExit("ref.py: --dist digits needs a 64-input model")
        idx = rng.choice(len(x_test), size=n, replace=n > len(x_test))
        x = x_test[idx]
        labels = [int(v) for v in y_test[idx]]
    else:
        raise SystemExit("ref.py: unknown --dist %r" % dist)
    return x.astype(np.float32), labels


def cmd_predict(args):
    model = load_model(args.model_dir)
    if args.rows_file in (None, "-"):
        rows = json.load(sys.stdin)
    else:
        with open(args.rows_file) as f:
            rows = json.load(f)
    y = forward(model, rows)
    json.dump([[float(v) for v in r] for r in y], sys.stdout)
    sys.stdout.write("\n")


def cmd_kserve(args):
    model = load_model(args.model_dir)
    name = args.name or os.path.basename(os.path.normpath(args.model_dir))
    doc = kserve_case(model, name, args.rows, args.seed, args.dist,
                      args.model_version)
    request, response = doc["request"], doc["response"]
    wrote = False
    if args.request_out:
        with open(args.request_out, "w") as f:
            json.dump(request, f)
        wrote = True
    if args.response_out:
        with open(args.response_out, "w") as f:
            json.dump(response, f)
        wrote = True
    if not wrote:
        json.dump(doc, sys.stdout)
        sys.stdout.write("\n")


def kserve_case(model, name, rows, seed, dist="normal", version=None):
    """One KServe request of `rows` random rows and its expected answer."""
    x, labels = gen_rows(model, rows, seed, dist)
    data = [f32_short(v) for v in x.reshape(-1)]
    y = forward(model, np.asarray(data, dtype=np.float32))
    cfg = model["config"]
    request = {"inputs": [{
        "name": cfg["input"].get("name", "input"),
        "shape": [rows] + model["input_shape"],
        "datatype": "FP32",
        "data": data,
    }]}
    response = {"model_name": name}
    if version is not None:
        response["model_version"] = version
    response["outputs"] = [{
        "name": cfg.get("output", {}).get("name", "output"),
        "shape": [rows, model["output_size"]],
        "datatype": "FP32",
        "data": [float(v) for v in y.reshape(-1)],
    }]
    doc = {"request": request, "response": response}
    if labels is not None:
        doc["labels"] = labels
    return doc


def cmd_cases(args):
    """Many cases in one run: a JSON list of {dir, name, rows, seed[, dist,
    version]} on stdin or in a file, a JSON list of {request, response}
    out, in the same order."""
    if args.spec_file in (None, "-"):
        spec = json.load(sys.stdin)
    else:
        with open(args.spec_file) as f:
            spec = json.load(f)
    models = {}
    out = []
    for c in spec:
        if c["dir"] not in models:
            models[c["dir"]] = load_model(c["dir"])
        out.append(kserve_case(models[c["dir"]], c["name"], c["rows"],
                               c.get("seed", 0), c.get("dist", "normal"),
                               c.get("version")))
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("predict")
    p.add_argument("model_dir")
    p.add_argument("rows_file", nargs="?")
    p.set_defaults(func=cmd_predict)
    k = sub.add_parser("kserve")
    k.add_argument("model_dir")
    k.add_argument("--rows", type=int, default=1)
    k.add_argument("--seed", type=int, default=0)
    k.add_argument("--name")
    k.add_argument("--dist", default="normal", choices=["normal", "uniform", "digits"])
    k.add_argument("--model-version")
    k.add_argument("--request-out")
    k.add_argument("--response-out")
    k.set_defaults(func=cmd_kserve)
    c = sub.add_parser("cases")
    c.add_argument("spec_file", nargs="?")
    c.set_defaults(func=cmd_cases)
    args = ap.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
