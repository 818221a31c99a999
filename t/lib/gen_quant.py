#!/usr/bin/env python3
"""GGUF's quantized blocks and their values, by the gguf package.

    python3 t/lib/gen_quant.py --fixtures t/fixtures

writes, into t/fixtures/quant/, for each block type T of Q8_0, Q4_0,
Q4_1, Q4_K, Q5_K, Q6_K:

  T.q            rows of blocks, as a GGUF file holds them
  T.f32          their values by gguf.quants.dequantize(), little-endian
                 float32, one row after the other
  manifest.json  per type: rows, values per row, how the blocks were made,
                 the gguf version, digests

How the blocks are made: where gguf.quants.quantize() supports the type
(Q8_0, Q4_0, Q4_1), it quantizes rows of floats: Gaussian rows of several
scales, a row of zeros, a constant row, rows with one outlier per block, a
row of tiny values whose scale is a subnormal half, values mixed across six
decades; where it does not (the K types), the blocks are random bytes
whose f16 scales (d, dmin) are replaced by finite halves of several
magnitudes (subnormal ones too), so every bit pattern of the quants,
6-bit scales and high bits is met.  Either way the expected values are
gguf's, never the C code's.

kernels/test/test_quant.c (t/011-quant.t) reads them.  Deterministic:
same script and gguf version, same bytes.

Needs: python3 -m pip install numpy gguf
"""

import argparse
import hashlib
import importlib.metadata
import json
import os
import sys

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import GGML_QUANT_SIZES
from gguf.quants import dequantize, quantize

sys.dont_write_bytecode = True

TYPES = ["Q8_0", "Q4_0", "Q4_1", "Q4_K", "Q5_K", "Q6_K"]
QUANTIZABLE = {"Q8_0", "Q4_0", "Q4_1"}
COLS = 512          # two K blocks, sixteen 32-value blocks per row
ROWS = 48

# where each type's f16 scales lie in its block (byte offsets)
HALF_AT = {
    "Q4_K": [0, 2],         # d, dmin
    "Q5_K": [0, 2],
    "Q6_K": [208],          # d, last
}


def float_rows(rng):
    """Rows that exercise quantize(): scales, zeros, outliers, tiny."""
    rows = []
    for scale in (1.0, 0.02, 30.0, 1e-3):
        for _ in range(6):
            rows.append(rng.standard_normal(COLS) * scale)
    rows.append(np.zeros(COLS))
    rows.append(np.full(COLS, 0.375))
    rows.append(np.full(COLS, -2.5))
    for _ in range(4):
        r = rng.standard_normal(COLS) * 0.1
        at = rng.integers(0, 32, COLS // 32) + np.arange(0, COLS, 32)
        r[at] = rng.choice([-1.0, 1.0], at.size) * 40.0
        rows.append(r)
    for _ in range(3):
        rows.append(rng.standard_normal(COLS) * 2e-6)  # subnormal d
    while len(rows) < ROWS:
        rows.append(rng.standard_normal(COLS)
                    * 10.0 ** rng.uniform(-3, 3, COLS))
    return np.array(rows[:ROWS], dtype=np.float32)


def random_halves(rng, n):
    """Finite halves of many magnitudes, both signs, a few subnormal."""
    mag = 10.0 ** rng.uniform(-7, 1, n)
    h = (mag * rng.choice([-1.0, 1.0], n)).astype(np.float16)
    h[rng.random(n) < 0.05] = np.float16(0.0)
    assert np.all(np.isfinite(h))
    return h.view(np.uint8).reshape(n, 2)


def random_blocks(rng, name):
    bk, bs = GGML_QUANT_SIZES[T[name]]
    nb = ROWS * COLS // bk
    b = rng.integers(0, 256, (nb, bs), dtype=np.uint8)
    for at in HALF_AT[name]:
        b[:, at:at + 2] = random_halves(rng, nb)
    return b.reshape(ROWS, COLS // bk * bs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fixtures", required=True)
    a = ap.parse_args()

    out = os.path.join(a.fixtures, "quant")
    os.makedirs(out, exist_ok=True)
    manifest = {
        "gguf": importlib.metadata.version("gguf"),
        "cols": COLS,
        "rows": ROWS,
        "types": {},
    }

    for i, name in enumerate(TYPES):
        rng = np.random.default_rng(1100 + i)
        qt = T[name]

        if name in QUANTIZABLE:
            blocks = quantize(float_rows(rng), qt)
            how = "gguf.quants.quantize of float rows"
        else:
            blocks = random_blocks(rng, name)
            how = "random bytes, finite f16 scales"

        blocks = np.ascontiguousarray(blocks, dtype=np.uint8)
        values = np.ascontiguousarray(dequantize(blocks, qt),
                                      dtype="<f4")
        assert values.shape == (ROWS, COLS), values.shape
        assert np.all(np.isfinite(values)), name

        qb = blocks.tobytes()
        fb = values.tobytes()
        with open(os.path.join(out, name + ".q"), "wb") as f:
            f.write(qb)
        with open(os.path.join(out, name + ".f32"), "wb") as f:
            f.write(fb)

        manifest["types"][name] = {
            "how": how,
            "block": GGML_QUANT_SIZES[qt][0],
            "block_bytes": GGML_QUANT_SIZES[qt][1],
            "q_sha256": hashlib.sha256(qb).hexdigest(),
            "f32_sha256": hashlib.sha256(fb).hexdigest(),
        }

    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
