"""What the Python peers of the benchmark share: a model directory of
ngx_infer (model.safetensors + config.json, "architecture": "mlp") read with
a small hand-written safetensors reader (so Debian's /usr/bin/python3 needs
no pip package), the KServe v2 request decoding and the response encoding.

The peers are written the way a careful Python author writes a model server:
the raw body through json.loads (not a pydantic model, which is several
times slower), the answer through json.dumps into a plain Response (not
FastAPI's jsonable_encoder). They are peers to beat, not straw men.
"""

import json
import os
import struct

import numpy as np

# safetensors dtype -> numpy dtype (little endian); BF16 is handled by hand
_NP_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2",
              "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1", "U8": "u1"}

ACTIVATIONS = ("relu", "gelu", "tanh", "sigmoid", "none")


def read_safetensors(path):
    """{name: float32 ndarray} for every tensor in a safetensors file."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError("%s: too short for a safetensors file" % path)
    (n,) = struct.unpack_from("<Q", raw, 0)
    if 8 + n > len(raw):
        raise ValueError("%s: header size %d past the end" % (path, n))
    header = json.loads(raw[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        buf = raw[base + begin:base + end]
        dtype, shape = info["dtype"], info["shape"]
        if dtype == "BF16":
            bits = np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16
            arr = bits.view(np.float32)
        elif dtype in _NP_DTYPES:
            arr = np.frombuffer(buf, dtype=_NP_DTYPES[dtype])
        else:
            raise ValueError("%s: %s: unsupported dtype %s" % (path, name, dtype))
        out[name] = arr.astype(np.float32).reshape(shape)
    return out


class Model:
    """An "mlp" model directory: layers of (W [out, in], b [out] or None,
    activation), in float32."""

    def __init__(self, model_dir, name=None):
        with open(os.path.join(model_dir, "config.json")) as f:
            cfg = json.load(f)
        if cfg.get("architecture") != "mlp":
            raise ValueError("%s: architecture %r is not mlp"
                             % (model_dir, cfg.get("architecture")))
        tensors = read_safetensors(os.path.join(model_dir, "model.safetensors"))
        self.name = name or os.path.basename(os.path.normpath(model_dir))
        self.input_name = cfg["input"].get("name", "input")
        self.input_size = int(np.prod(cfg["input"]["shape"]))
        self.output_name = cfg.get("output", {}).get("name", "output")
        self.softmax = bool(cfg.get("output", {}).get("softmax", False))
        self.layers = []
        for layer in cfg["layers"]:
            act = layer.get("activation", "none")
            if act not in ACTIVATIONS:
                raise ValueError("unknown activation %r" % act)
            w = tensors[layer["weight"]]
            b = tensors[layer["bias"]] if layer.get("bias") else None
            self.layers.append((w, b, act))
        self.output_size = int(self.layers[-1][0].shape[0])

    # -- KServe v2 JSON -------------------------------------------------

    def decode(self, body):
        """KServe v2 JSON request body -> float32 [rows, input_size]."""
        req = json.loads(body)
        inp = req["inputs"][0]
        if inp.get("name") != self.input_name:
            raise ValueError("unknown input %r" % inp.get("name"))
        x = np.asarray(inp["data"], dtype=np.float32)
        return x.reshape(-1, self.input_size)

    def encode(self, y):
        """float32 [rows, outputs] -> KServe v2 JSON response body (bytes)."""
        return json.dumps({
            "model_name": self.name,
            "model_version": "1",
            "outputs": [{"name": self.output_name, "datatype": "FP32",
                         "shape": list(y.shape),
                         "data": y.reshape(-1).tolist()}],
        }, separators=(",", ":")).encode()


def np_activation(name, x):
    if name == "relu":
        return np.maximum(x, 0, out=x)
    if name == "tanh":
        return np.tanh(x, out=x)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-x))
    if name == "gelu":
        import math
        erf = np.vectorize(math.erf, otypes=[np.float32])
        return 0.5 * x * (1.0 + erf(x / np.float32(math.sqrt(2.0))))
    return x


def np_forward(model, x):
    """float32 [rows, in] -> float32 [rows, out], the way numpy users write it."""
    for w, b, act in model.layers:
        x = x @ w.T
        if b is not None:
            x += b
        x = np_activation(act, x)
    if model.softmax:
        x = np.exp(x - x.max(axis=1, keepdims=True))
        x /= x.sum(axis=1, keepdims=True)
    return x.astype(np.float32, copy=False)


def model_from_env():
    """The model a peer serves: BENCH_MODEL_DIR, BENCH_MODEL_NAME."""
    model_dir = os.environ.get("BENCH_MODEL_DIR")
    if not model_dir:
        raise SystemExit("peers: set BENCH_MODEL_DIR to a model directory")
    return Model(model_dir, os.environ.get("BENCH_MODEL_NAME"))


def make_app(model, predict):
    """A FastAPI app serving the KServe v2 inference path (and readiness)
    for one model with predict(float32 [rows, in]) -> float32 [rows, out]."""
    from fastapi import FastAPI, Request, Response

    app = FastAPI()
    json_type = "application/json"

    @app.get("/v2/health/ready")
    async def ready():
        return Response(content=b"", status_code=200)

    @app.post("/v2/models/{name}/infer")
    async def infer(name: str, request: Request):
        if name != model.name:
            return Response(content=b'{"error":"unknown model"}',
                            status_code=404, media_type=json_type)
        body = await request.body()
        try:
            x = model.decode(body)
        except (ValueError, KeyError, IndexError, TypeError) as e:
            return Response(content=json.dumps({"error": str(e)}).encode(),
                            status_code=400, media_type=json_type)
        return Response(content=model.encode(predict(x)), media_type=json_type)

    return app
