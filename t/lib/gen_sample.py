#!/usr/bin/env python3
"""The sampler's and the stop strings' fixtures: a numpy reference of
kernels/infer_sample.h's definitions, and Python's str.find of the stop
strings.

    python3 t/lib/gen_sample.py --fixtures t/fixtures

writes, into t/fixtures/sample/:

  <name>.bin     one case: the logits (vocab float32), the logits after
                 the bias and the penalties (vocab float32), and the
                 probability of each token after every filter (vocab
                 float64, 0 for the tokens dropped); little endian
  manifest.json  {"cases": [{"name", "file", "vocab", "params",
                 "generated" (the ids the sequence generated, in order),
                 "draws" (0, or how many tokens the C test draws for its
                 chi-square), "alt" (a file of the probabilities at a
                 temperature 15% off, which those draws must fail)}],
                 "stop": [{"stops", "pieces", "expected"}]}

The reference is the definition, written the plain way: the penalties in
float32 scalars in the header's order; the softmax in float64; top_k as
the k-th of a full sort (and every logit equal to it); top_p as the
first prefix of the tokens sorted by probability whose cumulative sum
reaches top_p (and every token as probable as its last); min_p against
the most probable token.  The C code selects without sorting.

The cases: greedy (ties, NaN, all -inf, the bias); the typical settings
at SmolLM2's and Llama 3's vocabularies; each filter alone, at its
limits and with ties at its boundary; -inf, +inf, NaN, huge and
denormal-temperature rows; the bias and the penalties (positive,
negative); 100 random combinations of every parameter on rows of 1 to
60000 tokens; and three small supports for the chi-square of the draws.

The stop cases are random texts over a small alphabet (so that the stop
strings occur and overlap), with some non-ASCII characters, cut into
random pieces on character boundaries; the expected text is
text[:min(text.find(s) for s in stops if s in text)], or the text.

Deterministic: same script and numpy, same bytes.

Needs: python3 -m pip install numpy
"""

import argparse
import json
import os
import sys

import numpy as np

SEED = 20250602


def f32(x):
    return float(np.float32(x))


def params(temperature=1.0, top_p=1.0, top_k=0, min_p=0.0, presence=0.0,
           frequency=0.0, repetition=1.0, seed=1, bias=()):
    return {"temperature": f32(temperature), "top_p": f32(top_p),
            "top_k": int(top_k), "min_p": f32(min_p),
            "presence_penalty": f32(presence),
            "frequency_penalty": f32(frequency),
            "repetition_penalty": f32(repetition), "seed": int(seed),
            "logit_bias": [[int(i), f32(b)] for i, b in bias]}


# --- the reference ----------------------------------------------------------

def adjust(logits, p, generated):
    """logit_bias, then repetition, frequency, presence: float32 scalars"""
    out = logits.copy()
    with np.errstate(all="ignore"):
        for i, b in p["logit_bias"]:
            out[i] = np.float32(out[i] + np.float32(b))
        rp = np.float32(p["repetition_penalty"])
        fp = np.float32(p["frequency_penalty"])
        pp = np.float32(p["presence_penalty"])
        counts = {}
        for i in generated:
            counts[i] = counts.get(i, 0) + 1
        for i, c in counts.items():
            x = out[i]
            if rp != 1:
                x = np.float32(x / rp) if x > 0 else np.float32(x * rp)
            if fp != 0:
                x = np.float32(x - np.float32(fp * np.float32(c)))
            if pp != 0:
                x = np.float32(x - pp)
            out[i] = x
    return out


def greedy(l):
    v = np.where(np.isnan(l), -np.inf, l)
    probs = np.zeros(len(l))
    probs[int(np.argmax(v))] = 1.0      # the first of equal maxima
    return probs


def dist(logits, p, generated):
    l = adjust(logits, p, generated)
    t = np.float64(np.float32(p["temperature"]))
    if t == 0:
        return greedy(l)
    cand = np.nonzero(l > -np.inf)[0]   # NaN compares false
    if len(cand) == 0:
        return greedy(l)
    k = p["top_k"]
    if 0 < k < len(cand):
        kth = np.sort(l[cand])[::-1][k - 1]
        cand = cand[l[cand] >= kth]
    lc = l[cand].astype(np.float64)
    mx = lc.max()
    if mx == np.inf:
        w = (lc == np.inf).astype(np.float64)
    else:
        w = np.exp((lc - mx) / t)
    cand, w = cand[w > 0], w[w > 0]
    top_p = np.float64(np.float32(p["top_p"]))
    if top_p < 1:
        order = np.argsort(-w, kind="stable")
        cum = np.cumsum(w[order])
        reach = np.nonzero(cum >= top_p * w.sum())[0]
        if len(reach):
            last = w[order][reach[0]]
            cand, w = cand[w >= last], w[w >= last]
    min_p = np.float64(np.float32(p["min_p"]))
    if min_p > 0:
        cand, w = cand[w >= min_p], w[w >= min_p]
    probs = np.zeros(len(l))
    probs[cand] = w / w.sum()
    return probs


# --- the cases --------------------------------------------------------------

def llm_like(rng, v):
    """a spread like a language model's: most tokens low, a few high"""
    l = rng.normal(-2.0, 2.5, v)
    top = rng.choice(v, size=min(v, 20), replace=False)
    l[top] += rng.uniform(4.0, 12.0, len(top))
    return l.astype(np.float32)


def cases(rng):
    c = []

    def add(name, logits, p, generated=(), draws=0):
        c.append((name, np.asarray(logits, dtype=np.float32), p,
                  [int(i) for i in generated], draws))

    ninf, inf, nan = -np.inf, np.inf, np.nan

    # greedy: the argmax, the first of ties, NaN never, all -inf: id 0
    add("greedy", rng.normal(0, 3, 1000), params(temperature=0))
    add("greedy_ties", rng.integers(0, 5, 100), params(temperature=0))
    add("greedy_all_ninf", np.full(10, ninf), params(temperature=0))
    g = rng.normal(0, 1, 50)
    g[0], g[7], g[30] = nan, 9.0, 9.0
    add("greedy_nan", g, params(temperature=0))
    add("greedy_bias", rng.normal(0, 3, 500),
        params(temperature=0, bias=[(7, 100.0), (3, -100.0)]))
    add("greedy_penalties", rng.normal(0, 1, 40),
        params(temperature=0, presence=2.0, frequency=2.0, repetition=2.0),
        generated=rng.integers(0, 40, 60))

    # the typical settings, SmolLM2's vocabulary and Llama 3's
    add("t07_p09_49152", llm_like(rng, 49152),
        params(temperature=0.7, top_p=0.9, seed=11))
    add("t07_p09_128256", llm_like(rng, 128256),
        params(temperature=0.7, top_p=0.9, seed=12))

    add("t1_k40", rng.normal(0, 2, 1000), params(top_k=40))
    add("k_ties", rng.integers(0, 10, 200), params(top_k=5))
    add("k1_ties", np.r_[np.zeros(20), 3.0, 3.0, np.zeros(10)],
        params(top_k=1))
    add("k_over_vocab", rng.normal(0, 1, 100), params(top_k=5000))
    add("p_ties_all_equal", np.zeros(8), params(top_p=0.5))
    add("p05_t05", rng.normal(0, 2, 1000), params(temperature=0.5, top_p=0.5))
    add("p_small", llm_like(rng, 3000), params(temperature=1.0, top_p=0.01))
    add("min_p", rng.normal(0, 2, 1000), params(min_p=0.1))
    add("min_p_1", rng.normal(0, 2, 1000), params(min_p=1.0))
    add("mixed", llm_like(rng, 5000),
        params(temperature=1.3, top_k=50, top_p=0.8, min_p=0.05))
    add("all_equal", np.full(1000, 1.5), params())
    add("tiny_t", rng.normal(0, 1, 1000), params(temperature=0.01))
    x = rng.integers(0, 3, 300).astype(np.float64)
    add("denormal_t_min_p", x, params(temperature=1e-45, min_p=0.5))
    add("denormal_t_top_p", x, params(temperature=1e-45, top_p=0.9))
    add("tiny_t_min_p", rng.normal(0, 1, 1000),
        params(temperature=1e-30, min_p=0.9))
    add("max_t", llm_like(rng, 2000), params(temperature=2.0, top_p=0.95))
    add("underflow", rng.normal(0, 20, 2000), params(temperature=0.05))

    # -inf, +inf, NaN, huge values
    x = rng.normal(0, 1, 50)
    x[::3] = ninf
    add("ninf", x, params(top_p=0.9))
    x = rng.normal(0, 1, 50)
    x[[4, 17]] = inf
    x[9] = nan
    add("pinf", x, params(top_k=10))
    x = np.full(100, ninf)
    x[[5, 50, 99]] = [1.0, 2.0, 0.5]
    add("ninf_most", x, params(temperature=0.8))
    x = rng.normal(0, 1, 100)
    x[[1, 2, 3, 4]] = [3e38, -3e38, 1e30, -1e30]
    add("huge", x, params(temperature=0.7, top_p=0.95))
    x = rng.normal(0, 1, 100)
    x[[10, 20]] = [3.4e38, 3.3e38]
    add("huge_pair", x, params(temperature=1.0))
    x = rng.normal(0, 1, 60)
    x[::2] = nan
    add("nan", x, params())
    add("sample_all_ninf", np.full(10, ninf), params())

    # the bias and the penalties on ids of positive and negative logits
    gen = np.r_[rng.integers(0, 300, 150), np.full(20, 3), np.full(5, 4)]
    add("penalties", rng.normal(0, 3, 300),
        params(temperature=0.9, presence=0.5, frequency=0.3, repetition=1.2,
               bias=[(1, 4.0), (2, -100.0), (3, 2.5), (250, -0.75),
                     (299, 33.0)]), generated=gen)
    add("penalties_negative", rng.normal(0, 3, 300),
        params(presence=-1.5, frequency=-2.0, repetition=0.7, top_p=0.9),
        generated=rng.integers(0, 300, 400))
    add("repetition_only", rng.normal(0, 3, 200), params(repetition=1.5),
        generated=rng.integers(0, 200, 100))

    # random combinations: every filter, ties, -inf, sizes from 1
    for n in range(100):
        v = int(rng.integers(1, 4000) if n % 20 else rng.integers(2e4, 6e4))
        kind = n % 4
        if kind == 0:
            x = rng.normal(0, rng.uniform(0.1, 10), v)
        elif kind == 1:
            x = rng.integers(-3, 3, v).astype(np.float64)
        elif kind == 2:
            x = llm_like(rng, v).astype(np.float64)
        else:
            x = rng.normal(0, 3, v)
            x[rng.random(v) < 0.3] = ninf
        add("random_%02d" % n, x, params(
            temperature=rng.choice([0.05, 0.3, 0.7, 1.0, 1.5, 2.0]),
            top_p=rng.choice([1.0, 0.95, 0.9, 0.5, 0.1]),
            top_k=rng.choice([0, -1, 1, 5, 40, 1000]),
            min_p=rng.choice([0.0, 0.0, 0.01, 0.1, 0.5]),
            presence=rng.uniform(-2, 2), frequency=rng.uniform(-2, 2),
            repetition=rng.choice([1.0, 0.8, 1.3])),
            generated=rng.integers(0, v, int(rng.integers(0, 50))))

    # the draws' frequencies: small supports, many draws
    add("chi_k_p", rng.normal(0, 1.5, 30),
        params(temperature=0.8, top_k=20, top_p=0.9, seed=5), draws=40000)
    add("chi_min_p", llm_like(rng, 400),
        params(temperature=1.2, min_p=0.02, seed=6), draws=40000)
    add("chi_pen", rng.normal(0, 1, 25),
        params(temperature=0.6, presence=0.8, frequency=0.4, repetition=1.3,
               bias=[(0, 1.5)], seed=7),
        generated=rng.integers(0, 25, 30), draws=40000)

    return c


# --- stop strings -----------------------------------------------------------

ALPHABET = "abc\u00e9\u4e2d"


def stop_cases(rng):
    out = []

    def expected(text, stops):
        hits = [text.find(s) for s in stops if s in text]
        return text[:min(hits)] if hits else text

    for n in range(300):
        k = int(rng.integers(0, 5))
        stops = []
        for _ in range(k):
            m = int(rng.integers(1, 5))
            stops.append("".join(rng.choice(list(ALPHABET), m, p=[
                0.3, 0.3, 0.2, 0.1, 0.1])))
        m = int(rng.integers(0, 40))
        text = "".join(rng.choice(list(ALPHABET), m, p=[0.3, 0.3, 0.2, 0.1,
                                                       0.1]))
        pieces, i = [], 0
        while i < len(text):
            j = i + int(rng.integers(0, 5))
            pieces.append(text[i:j])
            i = j
        out.append({"stops": stops, "pieces": pieces,
                    "expected": expected(text, stops)})
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fixtures", default="t/fixtures")
    a = ap.parse_args()

    out = os.path.join(a.fixtures, "sample")
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(SEED)
    manifest = {"numpy": np.__version__, "cases": [],
                "stop": stop_cases(rng)}

    for name, logits, p, generated, draws in cases(rng):
        probs = dist(logits, p, generated)
        if draws and np.count_nonzero(probs) > 60:
            sys.exit("gen_sample.py: %s: a support of %d is too large for "
                     "a chi-square" % (name, np.count_nonzero(probs)))
        with open(os.path.join(out, name + ".bin"), "wb") as f:
            f.write(logits.astype("<f4").tobytes())
            f.write(adjust(logits, p, generated).astype("<f4").tobytes())
            f.write(probs.astype("<f8").tobytes())
        e = {"name": name, "file": name + ".bin", "vocab": len(logits),
             "params": p, "generated": generated, "draws": draws}
        if draws:
            q = dict(p, temperature=f32(p["temperature"] * 1.15))
            with open(os.path.join(out, name + ".alt.bin"), "wb") as f:
                f.write(dist(logits, q, generated).astype("<f8").tobytes())
            e["alt"] = name + ".alt.bin"
        manifest["cases"].append(e)

    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
