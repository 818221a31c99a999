#!/usr/bin/env python3
"""Model directories for ngx_infer: the digits classifier and test fixtures.

    python3 t/lib/gen_models.py --digits models/digits
    python3 t/lib/gen_models.py --fixtures t/fixtures

A model directory holds model.safetensors (weights) and config.json:

    {"architecture": "mlp",
     "input": {"name": "input", "shape": [64], "datatype": "FP32"},
     "layers": [{"weight": "fc1.weight", "bias": "fc1.bias",
                 "activation": "relu"}, ...],
     "output": {"name": "probabilities", "softmax": true}}

Weights use the PyTorch nn.Linear layout (weight [out, in], bias [out]);
activation is relu, gelu (exact, erf), tanh, sigmoid or none; a layer
without "bias" has none.

--digits trains scikit-learn's MLPClassifier (64-32-10, relu) on the digits
data set that ships with scikit-learn and prints its test accuracy.

--fixtures writes randomized models with fixed seeds (1 to 4 layers,
widths 1 to 300, every activation, with and without bias and softmax, F32,
F16 and BF16 weights, a multi-dimensional input), the 784-256-256-10 model
of the benchmarks, broken model directories for the configuration error
tests, and manifest.json describing them all.

Needs only: python3 -m pip install numpy safetensors scikit-learn
Everything is deterministic: same inputs, same bytes.
"""

import argparse
import hashlib
import json
import os
import shutil
import struct
import sys
import warnings

import numpy as np
from safetensors.numpy import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import ref  # noqa: E402  (the float64 reference forward pass)

ACTIVATIONS = ("relu", "gelu", "tanh", "sigmoid", "none")


# --- safetensors writing -----------------------------------------------------

def f32_to_bf16_bits(a):
    """float32 array -> uint16 bfloat16 bits, round to nearest even."""
    a = np.ascontiguousarray(a, dtype=np.float32)
    bits = a.view(np.uint32).astype(np.uint64)
    rounding = ((bits >> 16) & 1) + 0x7FFF
    out = ((bits + rounding) >> 16).astype(np.uint16)
    nan = np.isnan(a)
    out[nan] = 0x7FC0
    return out


def bf16_bits_to_f32(bits):
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


DTYPE_SIZES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4,
               "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


def raw_tensor(dtype, array):
    """(dtype, shape, bytes) for write_raw_safetensors; BF16 from float32."""
    if dtype == "BF16":
        data = f32_to_bf16_bits(array).astype("<u2").tobytes()
    else:
        np_dtype = {"F32": "<f4", "F16": "<f2", "F64": "<f8", "I64": "<i8",
                    "I32": "<i4", "U8": "u1", "I8": "i1"}[dtype]
        data = np.ascontiguousarray(array).astype(np_dtype).tobytes()
    return (dtype, list(np.shape(array)), data)


def write_raw_safetensors(path, tensors, metadata=None, header_override=None,
                          size_override=None, truncate_to=None):
    """Write a safetensors file by hand.

    tensors: list of (name, (dtype, shape, bytes)).  The layout is the
    format's: u64 little-endian header size, JSON header padded with spaces
    to 8 bytes, then the raw data; data_offsets are relative to the data.
    The overrides make broken files.
    """
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    offset = 0
    blobs = []
    for name, (dtype, shape, data) in tensors:
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    hbytes = header_override if header_override is not None else \
        json.dumps(header, separators=(",", ":")).encode()
    hbytes += b" " * (-len(hbytes) % 8)
    size = size_override if size_override is not None else len(hbytes)
    content = struct.pack("<Q", size) + hbytes + b"".join(blobs)
    if truncate_to is not None:
        content = content[:truncate_to]
    with open(path, "wb") as f:
        f.write(content)


def write_model(dirpath, config, tensors, metadata=None):
    """tensors: ordered list of (name, dtype, float array)."""
    os.makedirs(dirpath, exist_ok=True)
    path = os.path.join(dirpath, "model.safetensors")
    # numpy has no bfloat16; and safetensors writes __metadata__ from a
    # hash map, in random order when it has several keys: write those by
    # hand to keep the bytes reproducible
    if any(dt == "BF16" for _, dt, _ in tensors) or (metadata and len(metadata) > 1):
        write_raw_safetensors(path, [(n, raw_tensor(dt, a)) for n, dt, a in tensors],
                              metadata=metadata)
    else:
        np_dtype = {"F32": np.float32, "F16": np.float16}
        save_file({n: np.ascontiguousarray(a, dtype=np_dtype[dt]) for n, dt, a in tensors},
                  path, metadata=metadata)
    os.chmod(path, 0o644)
    write_config(dirpath, config)


def write_config(dirpath, config):
    os.makedirs(dirpath, exist_ok=True)
    with open(os.path.join(dirpath, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")


def mlp_config(input_shape, layers, softmax, input_name="input",
               output_name="output"):
    cfg = {
        "architecture": "mlp",
        "input": {"name": input_name, "shape": list(input_shape), "datatype": "FP32"},
        "layers": [],
        "output": {"name": output_name, "softmax": bool(softmax)},
    }
    for layer in layers:
        entry = {"weight": layer["weight"]}
        if layer.get("bias"):
            entry["bias"] = layer["bias"]
        entry["activation"] = layer["activation"]
        cfg["layers"].append(entry)
    return cfg


# --- digits --------------------------------------------------------------------

def digits_split():
    """The digits data set (1797 8x8 images, pixels 0..16), scaled to 0..1,
    split 75/25 with a fixed seed (ref.py uses the same split)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    d = load_digits()
    x = (d.data / 16.0).astype(np.float32)
    return train_test_split(x, d.target, test_size=0.25, random_state=0,
                            stratify=d.target)


def make_digits(outdir):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    x_train, x_test, y_train, y_test = digits_split()
    clf = MLPClassifier(hidden_layer_sizes=(32,), activation="relu",
                        solver="adam", alpha=1e-4, max_iter=600,
                        random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(x_train, y_train)

    # sklearn keeps coefs_ as [in, out]; nn.Linear wants [out, in]
    w1 = clf.coefs_[0].T.astype(np.float32)
    b1 = clf.intercepts_[0].astype(np.float32)
    w2 = clf.coefs_[1].T.astype(np.float32)
    b2 = clf.intercepts_[1].astype(np.float32)

    config = mlp_config([64], [
        {"weight": "fc1.weight", "bias": "fc1.bias", "activation": "relu"},
        {"weight": "fc2.weight", "bias": "fc2.bias", "activation": "none"},
    ], softmax=True, output_name="probabilities")
    if os.path.isdir(outdir):
        for f in ("model.safetensors", "config.json"):
            p = os.path.join(outdir, f)
            if os.path.exists(p):
                os.remove(p)
    write_model(outdir, config, [
        ("fc1.weight", "F32", w1), ("fc1.bias", "F32", b1),
        ("fc2.weight", "F32", w2), ("fc2.bias", "F32", b2),
    ], metadata={"format": "pt"})

    # the exported weights through the independent reference
    model = ref.load_model(outdir)
    probs = ref.forward(model, x_test)
    acc = float((probs.argmax(axis=1) == y_test).mean())
    skl_acc = float(clf.score(x_test, y_test))
    max_diff = float(np.abs(probs - clf.predict_proba(x_test)).max())
    if max_diff > 1e-5:
        raise SystemExit("exported digits model disagrees with sklearn: %g" % max_diff)

    # one test image as a KServe v2 request, for the quick start
    first = x_test[0]
    example = {"inputs": [{"name": "input", "shape": [1, 64], "datatype": "FP32",
                           "data": [float(v) for v in first]}]}
    with open(os.path.join(outdir, "example-request.json"), "w") as f:
        json.dump(example, f)
        f.write("\n")

    write_digits_readme(outdir, acc, len(x_train), len(x_test), clf.n_iter_,
                        int(y_test[0]), probs[0])
    print("digits: test accuracy %.4f (%d/%d), sklearn %.4f, %d epochs, "
          "max |p - sklearn| %.2g"
          % (acc, int(round(acc * len(y_test))), len(y_test), skl_acc,
             clf.n_iter_, max_diff))
    return acc


def write_digits_readme(outdir, acc, ntrain, ntest, epochs, label0, probs0):
    text = """# digits: a small handwritten-digit classifier

A multi-layer perceptron that reads an 8x8 grey-scale image of a
handwritten digit (64 pixels, row by row, each scaled to 0..1) and answers
the probability of each digit 0-9.

- architecture: 64 inputs -> dense 32 + relu -> dense 10 -> softmax
- weights: `model.safetensors`, F32, PyTorch `nn.Linear` layout
  (`fc1.weight` [32, 64], `fc1.bias` [32], `fc2.weight` [10, 32],
  `fc2.bias` [10]); `config.json` says how to run them
- input: `input`, shape [64], FP32; output: `probabilities`, shape [10]
- test accuracy: **{acc:.2%}** ({ntest} held-out images)

## How it was made

`python3 t/lib/gen_models.py --digits models/digits` (needs numpy,
safetensors and scikit-learn from pip; no download): scikit-learn's bundled
digits data set (`sklearn.datasets.load_digits`, 1797 images with pixel
values 0..16) divided by 16, split 75/25 (`train_test_split`,
`random_state=0`, stratified: {ntrain} training images, {ntest} test
images), trained with `MLPClassifier(hidden_layer_sizes=(32,),
activation="relu", solver="adam", alpha=1e-4, max_iter=600,
random_state=0)` ({epochs} epochs), then exported: scikit-learn stores
`coefs_` as [in, out], so each is transposed to [out, in]. The script
checks the exported model against `predict_proba` and prints the accuracy.

## Try it

`example-request.json` is the first test image as a KServe v2 request; it
is a {label0}, and the model gives it probability {p0:.4f}.

```sh
curl -s -H 'Content-Type: application/json' \\
     --data-binary @models/digits/example-request.json \\
     http://127.0.0.1:8080/v2/models/digits/infer
```
""".format(acc=acc, ntrain=ntrain, ntest=ntest, epochs=epochs,
           label0=label0, p0=float(probs0[label0]))
    with open(os.path.join(outdir, "README.md"), "w") as f:
        f.write(text)


# --- random fixtures -------------------------------------------------------------

# name, input shape, layers [(out, activation, bias)], softmax, dtype, seed,
# options.  dtype "mixed" picks a dtype per tensor.
SPECS = [
    ("dense_1x1",            [1],       [(1, "none", True)], False, "F32", 101, {}),
    ("linear_16x4",          [16],      [(4, "none", True)], False, "F32", 102, {}),
    ("relu_nobias",          [10],      [(6, "relu", False)], False, "F32", 103, {}),
    ("gelu_300",             [20],      [(300, "gelu", True), (7, "none", True)], True, "F32", 104, {}),
    ("tanh3_f16",            [33],      [(17, "tanh", True), (9, "tanh", True), (5, "none", True)], False, "F16", 105, {}),
    ("sigmoid3_bf16_softmax", [12],     [(64, "sigmoid", True), (64, "sigmoid", True), (3, "none", True)], True, "BF16", 106, {}),
    ("mixed4_nobias",        [8],       [(16, "relu", False), (1, "tanh", False), (16, "gelu", False), (4, "sigmoid", False)], False, "F32", 107, {}),
    ("wide300_bf16",         [300],     [(300, "relu", True), (1, "sigmoid", True)], False, "BF16", 108, {}),
    ("image_1x8x8",          [1, 8, 8], [(32, "relu", True), (10, "none", True)], True, "F32", 109, {}),
    ("partial_bias_f16",     [5],       [(7, "gelu", True), (3, "none", False)], False, "F16", 110, {}),
    ("mixed_dtypes",         [24],      [(16, "relu", True), (4, "none", True)], True, "mixed", 111, {}),
    ("softmax_large_logits", [4],       [(6, "none", True)], True, "F32", 112, {"scale": 60.0}),
    ("sigmoid_saturated",    [4],       [(8, "sigmoid", True)], False, "F32", 113, {"scale": 80.0}),
    ("tanh_softmax_4layers", [40],      [(128, "tanh", True), (64, "relu", True), (32, "gelu", True), (12, "none", True)], True, "F16", 114, {}),
    ("torch_names_extra",    [6],       [(5, "relu", True), (2, "none", True)], True, "F32", 115,
     {"names": "net.{i}.{kind}", "extra": True}),
    ("mlp784",               [784],     [(256, "relu", True), (256, "relu", True), (10, "none", True)], True, "F32", 784, {}),
    # compute-heavy (3.2 GFLOP for a batch of 64): the batching benchmark,
    # and the tests that need a request to stay in the queue a while
    ("heavy",                [1024],    [(4096, "relu", True), (4096, "relu", True), (1024, "none", True)], False, "F16", 1024, {}),
]


def make_random(outroot, spec):
    name, in_shape, layers, softmax, dtype, seed, opt = spec
    rng = np.random.default_rng(seed)
    scale = opt.get("scale", 1.0)
    names = opt.get("names", "fc{n}.{kind}")
    in_size = int(np.prod(in_shape))
    tensors = []
    cfg_layers = []
    layer_info = []
    fan_in = in_size
    mixed_cycle = ["F16", "F32", "BF16", "F32"]
    for i, (out, act, bias) in enumerate(layers):
        w = (rng.standard_normal((out, fan_in)) * scale / np.sqrt(fan_in)).astype(np.float32)
        b = (rng.standard_normal(out) * 0.1 * scale).astype(np.float32)
        if dtype == "mixed":
            wdt, bdt = mixed_cycle[(2 * i) % 4], mixed_cycle[(2 * i + 1) % 4]
        else:
            wdt = bdt = dtype
        wname = names.format(i=2 * i, n=i + 1, kind="weight")
        bname = names.format(i=2 * i, n=i + 1, kind="bias")
        tensors.append((wname, wdt, w))
        entry = {"weight": wname, "activation": act}
        if bias:
            tensors.append((bname, bdt, b))
            entry["bias"] = bname
        cfg_layers.append(entry)
        layer_info.append({"in": fan_in, "out": out, "activation": act,
                           "bias": bool(bias), "weight_dtype": wdt,
                           "bias_dtype": bdt if bias else None})
        fan_in = out
    metadata = None
    if opt.get("extra"):
        # tensors the config does not name, and free-form metadata: a
        # loader must ignore both
        tensors.append(("unused.running_mean", "F32",
                        rng.standard_normal(5).astype(np.float32)))
        tensors.append(("unused.step", "F32", np.zeros((1,), np.float32)))
        metadata = {"format": "pt", "note": "extra tensors are not used",
                    "source": "t/lib/gen_models.py"}
    config = mlp_config(in_shape, cfg_layers, softmax, output_name="output")
    d = os.path.join(outroot, name)
    shutil.rmtree(d, ignore_errors=True)
    write_model(d, config, tensors, metadata=metadata)
    dtypes = sorted({t[1] for t in tensors})
    return {
        "name": name, "dir": os.path.abspath(d), "path": name,
        "input_name": "input", "input_shape": list(in_shape),
        "input_size": in_size, "output_name": "output",
        "output_size": layers[-1][0], "num_layers": len(layers),
        "layers": layer_info, "softmax": bool(softmax),
        "dtype": dtype if dtype != "mixed" else "mixed",
        "dtypes": dtypes, "seed": seed,
    }


# --- broken model directories ------------------------------------------------------

def good_tensors(rng, dims=(8, 6, 3)):
    t = []
    for i in range(len(dims) - 1):
        t.append(("fc%d.weight" % (i + 1),
                  raw_tensor("F32", rng.standard_normal((dims[i + 1], dims[i])).astype(np.float32))))
        t.append(("fc%d.bias" % (i + 1),
                  raw_tensor("F32", rng.standard_normal(dims[i + 1]).astype(np.float32))))
    return t


def good_config(dims=(8, 6, 3)):
    layers = []
    for i in range(len(dims) - 1):
        layers.append({"weight": "fc%d.weight" % (i + 1), "bias": "fc%d.bias" % (i + 1),
                       "activation": "relu" if i < len(dims) - 2 else "none"})
    return mlp_config([dims[0]], layers, softmax=True, output_name="output")


def make_broken(outroot):
    root = os.path.join(outroot, "broken")
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    rng = np.random.default_rng(4242)
    entries = []

    def entry(name, problem):
        d = os.path.join(root, name)
        entries.append({"name": name, "dir": os.path.abspath(d),
                        "path": "broken/" + name, "problem": problem})
        return d

    def st(d, tensors=None, **kw):
        os.makedirs(d, exist_ok=True)
        write_raw_safetensors(os.path.join(d, "model.safetensors"),
                              good_tensors(rng) if tensors is None else tensors, **kw)

    entry("missing_dir", "the model directory does not exist")

    d = entry("no_config", "config.json is missing")
    st(d)

    d = entry("no_safetensors", "model.safetensors is missing")
    write_config(d, good_config())

    d = entry("config_not_json", "config.json is not JSON")
    st(d)
    with open(os.path.join(d, "config.json"), "w") as f:
        f.write('{"architecture": "mlp", "layers": [\n')

    d = entry("unknown_architecture", 'config.json "architecture" is "transformer9000"')
    st(d)
    cfg = good_config()
    cfg["architecture"] = "transformer9000"
    write_config(d, cfg)

    d = entry("bad_activation", 'a layer has activation "swish"')
    st(d)
    cfg = good_config()
    cfg["layers"][0]["activation"] = "swish"
    write_config(d, cfg)

    d = entry("empty_layers", 'config.json "layers" is an empty list')
    st(d)
    cfg = good_config()
    cfg["layers"] = []
    write_config(d, cfg)

    d = entry("missing_tensor", 'config.json names "fc2.weight", which the safetensors file lacks')
    st(d, [t for t in good_tensors(rng) if t[0] != "fc2.weight"])
    write_config(d, good_config())

    d = entry("shape_mismatch", "fc2.weight is [3, 5] but fc1 gives 6 values")
    t = good_tensors(rng)
    t = [(n, raw_tensor("F32", rng.standard_normal((3, 5)).astype(np.float32)))
         if n == "fc2.weight" else (n, v) for n, v in t]
    st(d, t)
    write_config(d, good_config())

    d = entry("input_size_mismatch", 'config.json input shape is [10] but fc1.weight is [6, 8]')
    st(d)
    cfg = good_config()
    cfg["input"]["shape"] = [10]
    write_config(d, cfg)

    d = entry("bias_shape_mismatch", "fc1.bias is [7] for a layer of 6 outputs")
    t = good_tensors(rng)
    t = [(n, raw_tensor("F32", np.ones(7, np.float32))) if n == "fc1.bias" else (n, v)
         for n, v in t]
    st(d, t)
    write_config(d, good_config())

    d = entry("weight_not_2d", "fc1.weight is [6, 2, 4], not a matrix")
    t = good_tensors(rng)
    t = [(n, raw_tensor("F32", np.ones((6, 2, 4), np.float32))) if n == "fc1.weight" else (n, v)
         for n, v in t]
    st(d, t)
    write_config(d, good_config())

    d = entry("unsupported_dtype", "fc1.weight is an I64 tensor")
    t = good_tensors(rng)
    t = [(n, raw_tensor("I64", np.ones((6, 8), np.int64))) if n == "fc1.weight" else (n, v)
         for n, v in t]
    st(d, t)
    write_config(d, good_config())

    d = entry("header_size_too_big", "the header size field is larger than the file")
    st(d, size_override=1 << 40)
    write_config(d, good_config())

    d = entry("header_not_json", "the safetensors header is not JSON")
    st(d, header_override=b"this is not json at all!")
    write_config(d, good_config())

    d = entry("truncated_data", "the data section ends before the last tensor's data_offsets")
    st(d)
    path = os.path.join(d, "model.safetensors")
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.truncate(size - 10)
    write_config(d, good_config())

    d = entry("offsets_size_mismatch", "fc1.bias data_offsets span 20 bytes for a [6] F32 tensor")
    t = good_tensors(rng)
    hdr = {}
    off = 0
    for n, (dt, shape, data) in t:
        n_bytes = len(data)
        if n == "fc1.bias":
            n_bytes = 20
        hdr[n] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + n_bytes]}
        off += n_bytes
    blob = b"\0" * off
    hb = json.dumps(hdr, separators=(",", ":")).encode()
    hb += b" " * (-len(hb) % 8)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(hb)) + hb + blob)
    write_config(d, good_config())

    d = entry("tiny_file", "model.safetensors is 3 bytes long")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "model.safetensors"), "wb") as f:
        f.write(b"\x01\x02\x03")
    write_config(d, good_config())

    return entries


def make_fixtures(outroot):
    os.makedirs(outroot, exist_ok=True)
    models = [make_random(outroot, s) for s in SPECS]
    broken = make_broken(outroot)
    # check every random model with the reference: finite outputs
    for m in models:
        model = ref.load_model(m["dir"])
        x = np.random.default_rng(1).standard_normal((3, m["input_size"])).astype(np.float32)
        y = ref.forward(model, x)
        assert y.shape == (3, m["output_size"]), (m["name"], y.shape)
        assert np.isfinite(y).all(), m["name"]
    with open(os.path.join(HERE, "gen_models.py"), "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    manifest = {
        "generator": "t/lib/gen_models.py",
        "generator_sha256": sha,
        "models": models,
        "broken": broken,
    }
    with open(os.path.join(outroot, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print("fixtures: %d models, %d broken, in %s"
          % (len(models), len(broken), os.path.abspath(outroot)))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--digits", metavar="DIR", help="write the digits model here")
    ap.add_argument("--fixtures", metavar="DIR", help="write the test fixtures here")
    ap.add_argument("--min-accuracy", type=float, default=0.9)
    args = ap.parse_args()
    if not args.digits and not args.fixtures:
        ap.error("nothing to do: give --digits DIR and/or --fixtures DIR")
    if args.digits:
        acc = make_digits(args.digits)
        if acc < args.min_accuracy:
            raise SystemExit("digits accuracy %.4f < %.2f" % (acc, args.min_accuracy))
    if args.fixtures:
        make_fixtures(args.fixtures)


if __name__ == "__main__":
    main()
