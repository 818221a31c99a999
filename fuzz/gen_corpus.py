#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz harnesses, fuzz/corpus/<harness>/.

    python3 fuzz/gen_corpus.py            # from the repository root

The seeds are committed; this script says how they were made, and makes
them again (it replaces the files it names, and leaves others alone).  It
needs nothing beyond the standard library: the safetensors files are put
together by hand, byte by byte.
"""

import json
import os
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")


def write(harness, name, data):
    d = os.path.join(CORPUS, harness)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def req(inputs, **top):
    body = {"inputs": inputs}
    body.update(top)
    return json.dumps(body, separators=(",", ":"))


def inp(data, shape, datatype="FP32", name="input", **kw):
    d = {"name": name, "shape": shape, "datatype": datatype}
    if data is not None:
        d["data"] = data
    d.update(kw)
    return d


def kserve_json():
    h = "kserve_json"
    with open(os.path.join(ROOT, "models", "digits",
                           "example-request.json"), "rb") as f:
        write(h, "digits-example", f.read())

    write(h, "flat-fp32", req([inp([1, 2.5], [1, 2])]))
    write(h, "nested-fp32", req([inp([[1, 2], [3, -4e-3]], [2, 2])]))
    write(h, "deep-nested", req([inp([[[[0.5]], [[1]]]], [1, 2, 1, 1])]))
    write(h, "empty-arrays", req([inp([[], [5], [], [[6]]], [2])]))
    write(h, "int32", req([inp([[1, -2], [3, 2147483647]], [2, 2], "INT32")]))
    write(h, "uint8", req([inp([0, 255, 1e2, 3.0], [2, 2], "UINT8")]))
    write(h, "int64-limits",
          '{"inputs":[{"name":"input","shape":[1,2],"datatype":"INT64",'
          '"data":[-9223372036854775808,9223372036854775807]}]}')
    write(h, "uint64-max",
          '{"inputs":[{"name":"input","shape":[2],"datatype":"UINT64",'
          '"data":[18446744073709551615,0]}]}')
    write(h, "bool", req([inp([[True, False], [0, 1]], [2, 2], "BOOL")]))
    write(h, "fp64-edges",
          '{"inputs":[{"name":"input","shape":[2,2],"datatype":"FP64",'
          '"data":[3.4028235e38,1.4e-45,-0.0,'
          '0.1000000000000000055511151231257827021181583404541015625]}]}')
    write(h, "reversed-keys",
          '{"id":"r-1","inputs":[{"data":[[7,8]],"datatype":"FP32",'
          '"shape":[1,2],"name":"input"}]}')
    write(h, "escapes",
          '{"inputs":[{"n\\u0061me":"in\\u0070ut","shape":[1,2],'
          '"datatype":"FP\\u00332","data":[1,2]}],'
          '"id":"\\"q\\"\\u00e9\\ud83d\\ude00"}')
    write(h, "outputs-params",
          req([inp([1, 2], [1, 2])], id="x",
              outputs=[{"name": "probabilities",
                        "parameters": {"binary_data": True}},
                       {"name": "lo\u00e9gits", "parameters": {}}],
              parameters={"timeout": 1500000, "binary_data_output": False,
                          "other": [None, {"k": "v"}]}))
    write(h, "two-inputs",
          req([inp([3], [1], name="a"), inp([1, 2], [1, 2])]))
    write(h, "whitespace",
          ' \r\n\t{ "inputs" :\n[ { "name" : "input" ,\t"shape" : [ 1, 2 ] '
          ', "datatype" : "FP32" , "data" : [ [ 1 , \n 2 ] ] } ] } \n')

    # invalid ones: each reaches a different message
    write(h, "bad-nan", '{"inputs":[{"name":"input","shape":[1,2],'
                        '"datatype":"FP32","data":[NaN,-Infinity]}]}')
    write(h, "bad-trailing-comma", '{"inputs":[{"name":"input","shape":[1],'
                                   '"datatype":"FP32","data":[1,]}]}')
    write(h, "bad-binary-size",
          req([inp(None, [1, 2], parameters={"binary_data_size": 8})]))
    write(h, "bad-count", req([inp([1, 2, 3], [1, 2])]))
    write(h, "bad-range", req([inp([1e39, 300], [1, 2], "INT8")]))
    write(h, "bad-fp16", req([inp([1, 2], [1, 2], "FP16")]))
    write(h, "bad-name", req([inp([1, 2], [1, 2], name="inptu")]))
    write(h, "bad-truncated", '{"inputs":[{"name":"input","shape":[1,2],'
                              '"datatype":"FP32","data":[1,2')
    write(h, "bad-utf8", b'{"inputs":[{"name":"in\xc3\x28","shape":[1],'
                         b'"datatype":"FP32","data":[1]}]}')
    write(h, "bad-deep", '{"x":' + '[' * 40 + ']' * 40 + ',"inputs":[' +
          '{"name":"input","shape":[1],"datatype":"FP32","data":' +
          '[' * 40 + '1' + ']' * 40 + '}]}')

    # the limits: nesting, digits, dimensions, lengths
    write(h, "bad-deepest", '{"x":' + '[' * 2049 + ']' * 2049 + '}')
    write(h, "long-digits",
          '{"inputs":[{"name":"input","shape":[1,2],"datatype":"FP32",'
          '"data":[0.' + "3" * 800 + ',1' + "0" * 790 + '1e-790]}]}')
    write(h, "bad-shape-overflow",
          req([inp([], [4294967296, 4294967296, 2])]))
    write(h, "bad-nine-dims", req([inp([1], [1] * 9)]))
    write(h, "bad-output-name-long",
          '{"inputs":[{"name":"input","shape":[1],"datatype":"FP32",'
          '"data":[1]}],"outputs":[{"name":"' + "\\u00e9" * 130 + '"}]}')
    write(h, "bad-duplicate-binary-data",
          req([inp([1], [1])],
              outputs=[{"name": "o", "parameters": {"binary_data": True}}])
          .replace('"binary_data":true', '"binary_data":true,'
                                         '"binary_data":false'))
    write(h, "bad-duplicate-timeout",
          req([inp([1], [1])], parameters={"timeout": 1})
          .replace('"timeout":1', '"timeout":1,"timeout":2'))

def binreq(inputs, raw, edit=None, **top):
    """Two bytes of json_len, the JSON (edited: (old, new)), the tensors."""
    js = req(inputs, **top).encode()
    if edit:
        js = js.replace(*edit)
    return struct.pack("<H", len(js)) + js + raw


def binp(shape, datatype, size, name="input", **kw):
    return inp(None, shape, datatype, name,
               parameters={"binary_data_size": size}, **kw)


def kserve_binary():
    h = "kserve_binary"
    write(h, "fp32", binreq([binp([1, 2], "FP32", 8)],
                            struct.pack("<2f", 1.5, -0.1),
                            id="b-1", parameters={"binary_data_output": True}))
    write(h, "fp16", binreq([binp([2, 2], "FP16", 8)],
                            struct.pack("<4H", 0x3c00, 0x8001, 0x7bff, 0)))
    write(h, "bf16", binreq([binp([1, 2], "BF16", 4)],
                            struct.pack("<2H", 0x3f80, 0xc049)))
    write(h, "fp64", binreq([binp([1, 2], "FP64", 16)],
                            struct.pack("<2d", 3.4028235e38, 1e-50)))
    write(h, "ints", binreq([binp([2, 2], "INT16", 8)],
                            struct.pack("<4h", -32768, 32767, 0, -1)))
    write(h, "uint64", binreq([binp([1, 2], "UINT64", 16)],
                              struct.pack("<2Q", 2**64 - 1, 2**53 + 1)))
    write(h, "bool", binreq([binp([1, 2], "BOOL", 2)], b"\x01\x00"))
    write(h, "uint16", binreq([binp([1, 2], "UINT16", 4)],
                              struct.pack("<2H", 65535, 1)))
    write(h, "uint32", binreq([binp([1, 2], "UINT32", 8)],
                              struct.pack("<2I", 2**32 - 1, 16777217)))
    write(h, "int64", binreq([binp([1, 2], "INT64", 16)],
                             struct.pack("<2q", -2**63, 2**62 + 1),
                             parameters={"timeout": 250000}))
    write(h, "empty", binreq([binp([0, 2], "FP32", 0)], b""))
    write(h, "two-binary",
          binreq([binp([1], "INT32", 4, name="a"),
                  binp([1, 2], "UINT8", 2)],
                 struct.pack("<i", -7) + b"\x05\xff"))
    write(h, "mixed", binreq([inp([1], [1], "FP32", "a"),
                              binp([1, 2], "INT8", 2)], b"\x80\x7f",
                             outputs=[{"name": "probabilities",
                                       "parameters": {"binary_data": False}},
                                      {"name": "x"}]))
    js = req([inp([1, 2], [1, 2])]).encode()
    write(h, "json-only", struct.pack("<H", len(js)) + js)
    write(h, "bad-nan", binreq([binp([1, 2], "FP32", 8)],
                               struct.pack("<2I", 0x3f800000, 0x7fc00000)))
    write(h, "bad-bool", binreq([binp([1, 2], "BOOL", 2)], b"\x01\x02"))
    write(h, "bad-fp64-range", binreq([binp([1, 2], "FP64", 16)],
                                      struct.pack("<2d", 1.0, 1e39)))
    write(h, "bad-size", binreq([binp([1, 2], "FP32", 4)], b"\0" * 4))
    write(h, "bad-trailing", binreq([binp([1, 2], "FP16", 4)], b"\0" * 6))
    write(h, "bad-json-len", b"\xff\x00" + req([inp([1], [1])]).encode())
    both = binp([1, 2], "FP32", 8)
    both["data"] = [1, 2]
    write(h, "bad-too-many", binreq([binp([4, 2], "FP32", 32)],
                                    b"\0" * 32))
    write(h, "bad-huge-shape", binreq([binp([2**62, 4], "FP32", 0)], b""))
    write(h, "bad-duplicate-size",
          binreq([binp([1, 2], "FP32", 8)], b"\0" * 8,
                 (b'"binary_data_size":8', b'"binary_data_size":8,'
                                           b'"binary_data_size":8')))
    write(h, "bad-both", binreq([both], b"\0" * 8))
    write(h, "bad-fp16-data", binreq([inp([1, 2], [1, 2], "FP16")], b""))
    write(h, "bad-size-param",
          binreq([binp([1, 2], "FP32", 8)], b"\0" * 8,
                 (b'"binary_data_size":8', b'"binary_data_size":8.0')))


def st_file(header, data, pad=True):
    """A safetensors file: the header padded with spaces to 8 bytes."""
    h = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


def safetensors():
    h = "safetensors"
    with open(os.path.join(ROOT, "models", "digits",
                           "model.safetensors"), "rb") as f:
        write(h, "digits", f.read())

    write(h, "dtypes", st_file(
        {"__metadata__": {"format": "pt"},
         "w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
         "h": {"dtype": "F16", "shape": [3], "data_offsets": [16, 22]},
         "b": {"dtype": "BF16", "shape": [1, 1, 1], "data_offsets": [22, 24]}},
        struct.pack("<4f3H1H", 1, -2, 0.5, 3, 0x3c00, 0x7bff, 1, 0x3f80)))
    write(h, "empty-header", st_file({}, b"", pad=False))
    write(h, "scalar-and-empty", st_file(
        {"s": {"dtype": "F32", "shape": [], "data_offsets": [0, 4]},
         "e": {"dtype": "F32", "shape": [0, 3], "data_offsets": [4, 4]},
         "z": {"dtype": "F16", "shape": [2, 0], "data_offsets": [0, 0]}},
        struct.pack("<f", 7)))
    write(h, "gaps", st_file(
        {"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]},
         "b": {"dtype": "F32", "shape": [1], "data_offsets": [12, 16]}},
        b"\0" * 20))
    write(h, "bad-overlap", st_file(
        {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
         "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}},
        b"\0" * 8))
    write(h, "bad-dtype", st_file(
        {"a": {"dtype": "F64", "shape": [1], "data_offsets": [0, 8]}},
        b"\0" * 8))
    write(h, "bad-offsets", st_file(
        {"a": {"dtype": "F32", "shape": [1], "data_offsets": [8, 4]}},
        b"\0" * 8))
    write(h, "bad-shape", st_file(
        {"a": {"dtype": "F16", "shape": [2, 3], "data_offsets": [0, 8]}},
        b"\0" * 8))
    write(h, "bad-metadata", st_file(
        {"__metadata__": {"n": 1},
         "a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}},
        b"\0" * 4))
    write(h, "bad-header-size", struct.pack("<Q", 2**63) + b"{}")
    write(h, "bad-nul", struct.pack("<Q", 4) + b"{\0 }")
    write(h, "bad-short", b"\x02\0\0\0")


def config():
    h = "config"
    with open(os.path.join(ROOT, "models", "digits", "config.json"),
              "rb") as f:
        digits = f.read()
    write(h, "digits", digits)

    # the tensors of the model that fuzz_config.c writes at start-up
    def mlp(layers, shape=(2,), **kw):
        c = {"architecture": "mlp",
             "input": {"name": "input", "shape": list(shape),
                       "datatype": "FP32"},
             "layers": layers,
             "output": {"name": "probabilities", "softmax": True}}
        c.update(kw)
        return json.dumps(c, indent=1)

    write(h, "chain", mlp([
        {"weight": "w1", "bias": "b1", "activation": "relu"},
        {"weight": "w2", "bias": "b2", "activation": "gelu"},
        {"weight": "w3", "bias": "b3", "activation": "tanh"},
        {"weight": "sq", "activation": "sigmoid"},
        {"weight": "sq", "bias": None, "activation": "none"}]))
    write(h, "one-layer", mlp([{"weight": "w1"}],
                              description="unknown keys at the top",
                              version=[1, {"x": None}]))
    write(h, "defaults", '{"architecture":"mlp","input":{"shape":[1,2]},'
                         '"layers":[{"weight":"w1","bias":"b1"}]}')
    write(h, "bad-shape-chain", mlp([{"weight": "w2"}]))
    write(h, "bad-bias", mlp([{"weight": "w1", "bias": "b2"}]))
    write(h, "bad-3d", mlp([{"weight": "t3"}], shape=(2, 2)))
    write(h, "bad-empty", mlp([{"weight": "e"}]))
    write(h, "bad-missing", mlp([{"weight": "nope"}]))
    write(h, "bad-activation", mlp([{"weight": "w1", "activaton": "relu"}]))
    write(h, "bad-arch", digits.replace(b'"mlp"', b'"cnn"'))
    write(h, "bad-datatype", digits.replace(b'"FP32"', b'"FP16"'))
    write(h, "bad-input-shape",
          digits.replace(b"64\n", b"2147483647, 2\n"))
    write(h, "bad-duplicate", '{"architecture":"mlp","architecture":"mlp"}')
    write(h, "bad-json", digits[:-10])
    write(h, "bad-array", '[{"architecture":"mlp"}]')


def main():
    kserve_json()
    kserve_binary()
    safetensors()
    config()
    return 0


if __name__ == "__main__":
    sys.exit(main())
