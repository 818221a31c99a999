"""The clients users run, against a running ngx_infer (t/170-clients.t).

OpenAI's Python package (`openai`) on /v1 and Triton's (`tritonclient.http`)
on /v2, checked against the reference embeddings of t/lib/gen_bert.py
(t/fixtures/bert: sentence-transformers' all-MiniLM-L6-v2).  One JSON line
a check on stdout, {"ok": bool, "name": ..., "diag": ...}, then
{"done": n}; t/170-clients.t turns them into tests.

    python3 t/lib/clients.py --port 1984 --fixtures t/fixtures/bert \
        --model minilm --other r_f16_mean_norm [--perturb]

--perturb moves every reference a little (one component by 2e-4, one
token more): every check that compares with a reference must then fail.
"""

import argparse
import base64
import json
import os
import sys
import threading
import traceback

import numpy as np

import openai
import tritonclient.http as tc
from tritonclient.utils import InferenceServerException

COS = 0.99999
DIFF = 1e-4

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--fixtures", required=True, help="t/fixtures/bert")
ap.add_argument("--model", default="minilm")
ap.add_argument("--other", action="append", default=[],
                help="another declared model, for /v1/models")
ap.add_argument("--perturb", action="store_true")
args = ap.parse_args()

BASE = f"http://127.0.0.1:{args.port}"
NAME = args.model

checks = 0


def check(name, ok, diag="", todo=None):
    """One test; todo: why it is known to fail (a TODO test)."""
    global checks
    checks += 1
    print(json.dumps({"ok": bool(ok), "name": name, "todo": todo,
                      "diag": "" if ok else str(diag)}), flush=True)
    return bool(ok)


def section(fn):
    """A section that raises is one failed check with the traceback."""
    try:
        fn()
    except Exception:
        check(f"{fn.__name__}: ran to the end", False, traceback.format_exc())
    return fn


# --- references ---------------------------------------------------------------

manifest = json.load(open(os.path.join(args.fixtures, "manifest.json")))
entry = next(m for m in manifest["models"] if m["name"] == NAME)
HIDDEN = entry["hidden"]
cases = json.load(open(os.path.join(args.fixtures, entry["cases"])))["cases"]
for c in cases:
    c["ref"] = np.asarray(c["embedding"], dtype=np.float64)
    c["ntok"] = len(c["ids"])
    if args.perturb:
        c["ref"] = c["ref"].copy()
        c["ref"][0] += 2e-4
        c["ntok"] += 1

# OpenAI refuses an empty string; the short texts (every script), and one
# long one (195 tokens), keep the file fast on a CPU
TEXTS = [c for c in cases if c["text"] and len(c["ids"]) <= 40]
LONG = next(c for c in cases if c["text"] and 150 < len(c["ids"]) < 250)
IDS_ONLY = [c for c in cases if c["text"] is None]

worst = [1.0, 0.0]


def vec_bad(got, ref, track=True):
    """None when got is within COS and DIFF of ref, else why not."""
    g = np.asarray(got, dtype=np.float64)
    if g.shape != ref.shape:
        return f"shape {g.shape}, expected {ref.shape}"
    if not np.all(np.isfinite(g)):
        return "not finite"
    cos = float(g @ ref / np.sqrt((g @ g) * (ref @ ref)))
    d = float(np.max(np.abs(g - ref)))
    if track:
        worst[0] = min(worst[0], cos)
        worst[1] = max(worst[1], d)
    if cos >= COS and d <= DIFF:
        return None
    return f"cosine 1 - {1 - cos:.3g}, max abs diff {d:.3g}"


def vecs_bad(got, refs):
    if len(got) != len(refs):
        return [f"{len(got)} embeddings, expected {len(refs)}"]
    out = []
    for i, (g, r) in enumerate(zip(got, refs)):
        b = vec_bad(g, r)
        if b:
            out.append(f"[{i}] {b}")
    return out


def cut(ref, n):
    """The first n components, renormalized (MiniLM normalizes)."""
    c = ref[:n]
    return c / np.linalg.norm(c) if entry["normalize"] else c


def client(**kw):
    kw.setdefault("max_retries", 0)
    return openai.OpenAI(base_url=kw.pop("base", BASE) + "/v1",
                         api_key="unused", **kw)


class Counter:
    """Counts the HTTP requests a client sends (retries included)."""

    def __init__(self):
        self.n = 0
        self.statuses = []

    def request(self, req):
        self.n += 1

    def response(self, resp):
        self.statuses.append(resp.status_code)

    def http(self):
        return openai.DefaultHttpxClient(event_hooks={
            "request": [self.request], "response": [self.response]})


def answer_bad(r, cs, model=NAME, n=None):
    """What is wrong with a CreateEmbeddingResponse for the cases cs."""
    n = n or HIDDEN
    bad = []
    if r.object != "list":
        bad.append(f"object {r.object!r}")
    if r.model != model:
        bad.append(f"model {r.model!r}")
    want = sum(c["ntok"] for c in cs)
    if (r.usage.prompt_tokens, r.usage.total_tokens) != (want, want):
        bad.append(f"usage {r.usage.prompt_tokens}/{r.usage.total_tokens},"
                   f" expected {want}")
    idx = [d.index for d in r.data]
    if idx != list(range(len(cs))):
        bad.append(f"indices {idx}")
    if any(d.object != "embedding" for d in r.data):
        bad.append("an object that is not 'embedding'")
    if any(not isinstance(d.embedding, list) or len(d.embedding) != n
           for d in r.data):
        bad.append(f"an embedding that is not a list of {n} floats")
        return bad
    bad += vecs_bad([d.embedding for d in r.data],
                    [cut(c["ref"], n) if n != HIDDEN else c["ref"]
                     for c in cs])
    return bad


def texts(cs):
    return [c["text"] for c in cs]


# --- OpenAI: /v1/embeddings ---------------------------------------------------

oai = client()
floats_by_default = {}


@section
def openai_default_base64():
    cs = TEXTS + [LONG]
    raw = oai.embeddings.with_raw_response.create(model=NAME,
                                                  input=texts(cs))
    sent = json.loads(raw.http_request.content)
    check("openai: create() without encoding_format asks for base64",
          sent.get("encoding_format") == "base64", f"sent {sent!r:.200}")
    body = json.loads(raw.http_response.content)
    strs = [d["embedding"] for d in body["data"]]
    check("openai: the module answers base64 strings",
          all(isinstance(s, str) for s in strs), f"{strs[0]!r:.100}")
    r = raw.parse()
    bad = answer_bad(r, cs)
    check(f"openai: {len(cs)} texts ({sum(c['ntok'] for c in cs)} tokens),"
          " base64 decoded by the package: embeddings, usage, model,"
          " indices", not bad, "\n".join(bad[:10]))
    floats_by_default["b64"] = [
        np.frombuffer(base64.b64decode(s), dtype="<f4") for s in strs]

    # the comparison can fail: a reference moved by 2e-4 in one
    # component, and another text's reference
    e0 = r.data[0].embedding
    moved = cs[0]["ref"].copy()
    moved[7] += 2e-4
    check("the comparison refuses a reference moved by 2e-4 in one"
          " component", vec_bad(e0, moved, track=False) is not None)
    check("the comparison refuses another text's reference",
          vec_bad(e0, cs[1]["ref"], track=False) is not None)


@section
def openai_float():
    # the texts of the base64 request: another batch may round otherwise
    cs = TEXTS + [LONG]
    raw = oai.embeddings.with_raw_response.create(
        model=NAME, input=texts(cs), encoding_format="float")
    sent = json.loads(raw.http_request.content)
    r = raw.parse()
    bad = answer_bad(r, cs)
    if sent.get("encoding_format") != "float":
        bad.insert(0, f"sent {sent.get('encoding_format')!r}")
    check(f'openai: encoding_format="float", {len(cs)} texts', not bad,
          "\n".join(bad[:10]))
    b64 = floats_by_default.get("b64")
    same = b64 is not None and all(
        np.array_equal(np.asarray(d.embedding, dtype="<f4"), b64[i])
        for i, d in enumerate(r.data))
    check("openai: float and base64 give the same float32s", same)


@section
def openai_base64_explicit():
    cs = TEXTS[:6]
    r = oai.embeddings.create(model=NAME, input=texts(cs),
                              encoding_format="base64")
    strs = [d.embedding for d in r.data]
    ok = all(isinstance(s, str) for s in strs)
    bad = [] if ok else ["not strings"]
    if ok:
        bad = vecs_bad([np.frombuffer(base64.b64decode(s), dtype="<f4")
                        for s in strs], [c["ref"] for c in cs])
    check('openai: encoding_format="base64" given: the strings, left to'
          ' the caller, decode to the references', not bad,
          "\n".join(bad[:10]))


@section
def openai_dimensions():
    cs = TEXTS[::3]
    for n, fmt in ((64, None), (HIDDEN - 1, "float"), (1, None)):
        kw = {"encoding_format": fmt} if fmt else {}
        r = oai.embeddings.create(model=NAME, input=texts(cs),
                                  dimensions=n, **kw)
        bad = answer_bad(r, cs, n=n)
        check(f"openai: dimensions={n} ({fmt or 'base64'}): the first {n},"
              " renormalized", not bad, "\n".join(bad[:10]))


@section
def openai_one_string():
    c = next(c for c in TEXTS if c["text"] == "Hello!")
    r = oai.embeddings.create(model=NAME, input=c["text"])
    bad = answer_bad(r, [c])
    check("openai: input a single string", not bad, "\n".join(bad))


@section
def openai_token_ids():
    c = max(TEXTS, key=lambda c: c["ntok"])
    r = oai.embeddings.create(model=NAME, input=c["ids"])
    bad = answer_bad(r, [c])
    check(f"openai: input one token id array ({len(c['ids'])} ids)",
          not bad, "\n".join(bad))
    cs = IDS_ONLY + TEXTS[:8] + [LONG]
    r = oai.embeddings.create(model=NAME, input=[c["ids"] for c in cs])
    bad = answer_bad(r, cs)
    check(f"openai: input {len(cs)} token id arrays", not bad,
          "\n".join(bad[:10]))


@section
def openai_other_model():
    # the model is the request's: a model of another size answers
    for other in args.other:
        e = next(m for m in manifest["models"] if m["name"] == other)
        oc = json.load(open(os.path.join(args.fixtures, e["cases"])))
        cs = [c for c in oc["cases"] if c["text"]][:4]
        r = oai.embeddings.create(model=other, input=texts(cs))
        got = [d.embedding for d in r.data]
        ref = [np.asarray(c["embedding"], dtype=np.float64) for c in cs]
        if args.perturb:
            for x in ref:
                x[0] += 2e-4
        bad = vecs_bad(got, ref)
        if r.model != other:
            bad.insert(0, f"model {r.model!r}")
        check(f"openai: model={other} ({e['hidden']} dimensions)", not bad,
              "\n".join(bad[:10]))


# --- OpenAI: /v1/models -------------------------------------------------------

@section
def openai_models():
    page = oai.models.list()
    ids = [m.id for m in page.data]
    want = [NAME] + args.other
    check(f"openai: models.list() lists the declared models {want}",
          sorted(ids) == sorted(want) and len(ids) == len(want), ids)
    check("openai: models.list(): object model, created, owned_by",
          all(m.object == "model" and isinstance(m.created, int)
              and m.created > 0 and isinstance(m.owned_by, str)
              for m in page.data), [m.to_dict() for m in page.data])
    m = oai.models.retrieve(NAME)
    check(f'openai: models.retrieve("{NAME}")',
          m.id == NAME and m.object == "model", m.to_dict())


def expect_error(name, cls, status, fn, **body):
    """fn() must raise cls with that status and those keys in e.body."""
    try:
        fn()
    except cls as e:
        got = {k: e.body.get(k) for k in body} if isinstance(e.body, dict) \
            else e.body
        check(name, e.status_code == status and got == body,
              f"{e.status_code} {e.body!r}")
        return e
    except Exception as e:
        check(name, False, f"{type(e).__name__}: {e}")
        return None
    check(name, False, "no exception")
    return None


@section
def openai_errors():
    cnt = Counter()
    c = openai.OpenAI(base_url=BASE + "/v1", api_key="unused",
                      http_client=cnt.http())   # max_retries: the default
    e = expect_error('openai: models.retrieve("no-such-model") raises'
                     ' NotFoundError, code model_not_found',
                     openai.NotFoundError, 404,
                     lambda: c.models.retrieve("no-such-model"),
                     code="model_not_found")
    e = expect_error("openai: embeddings of an unknown model raise"
                     " NotFoundError, code model_not_found",
                     openai.NotFoundError, 404,
                     lambda: c.embeddings.create(model="no-such-model",
                                                 input="x"),
                     code="model_not_found",
                     type="invalid_request_error")
    e = expect_error('openai: input=[] raises BadRequestError, param'
                     ' "input"', openai.BadRequestError, 400,
                     lambda: c.embeddings.create(model=NAME, input=[]),
                     param="input", type="invalid_request_error")
    if e is not None:
        check("openai: the error's param and type as attributes too",
              e.param == "input" and e.type == "invalid_request_error"
              and bool(e.message), f"{e.param!r} {e.type!r}")
    expect_error('openai: input=[""] raises BadRequestError, param "input"',
                 openai.BadRequestError, 400,
                 lambda: c.embeddings.create(model=NAME, input=["a", ""]),
                 param="input")
    expect_error("openai: dimensions out of range raises BadRequestError",
                 openai.BadRequestError, 400,
                 lambda: c.embeddings.create(model=NAME, input="a",
                                             dimensions=HIDDEN + 1),
                 type="invalid_request_error")
    check("openai: with the default max_retries, 5 refusals were 5"
          " requests, none retried", cnt.n == 5 and
          cnt.statuses == [404, 404, 400, 400, 400],
          f"{cnt.n} requests, {cnt.statuses}")


@section
def openai_retries_5xx():
    # /slow/v1: infer_timeout 1ms, every embedding is a 504: the package
    # retries 5xx (max_retries=1: twice in all); max_retries=0 does not
    for retries, want in ((1, [504, 504]), (0, [504])):
        cnt = Counter()
        c = openai.OpenAI(base_url=BASE + "/slow/v1", api_key="unused",
                          http_client=cnt.http(), max_retries=retries)
        expect_error(f"openai: a 504 raises InternalServerError"
                     f" (max_retries={retries})",
                     openai.InternalServerError, 504,
                     lambda: c.embeddings.create(model=NAME,
                                                 input=LONG["text"]),
                     type="server_error")
        check(f"openai: max_retries={retries}: {len(want)} request(s) for"
              " a 504", cnt.statuses == want, cnt.statuses)


# --- OpenAI: many clients at once -------------------------------------------

@section
def openai_concurrent():
    nthreads, per = 8, 5
    plan = [[None] * per for _ in range(nthreads)]
    for t in range(nthreads):
        for i in range(per):
            k = 1 + (t + i) % 4
            start = (t * per + i) * 7 % len(TEXTS)
            plan[t][i] = [TEXTS[(start + j) % len(TEXTS)] for j in range(k)]
    results = [[None] * per for _ in range(nthreads)]
    barrier = threading.Barrier(nthreads)

    def run(t):
        c = client(timeout=30)
        barrier.wait()
        for i in range(per):
            try:
                kw = {"encoding_format": "float"} if i % 2 else {}
                r = c.embeddings.create(model=NAME, input=texts(plan[t][i]),
                                        **kw)
                results[t][i] = answer_bad(r, plan[t][i])
            except Exception as e:
                results[t][i] = [f"{type(e).__name__}: {e}"]

    th = [threading.Thread(target=run, args=(t,)) for t in range(nthreads)]
    for x in th:
        x.start()
    for x in th:
        x.join(60)
    bad = [f"thread {t} request {i}: {b}" for t in range(nthreads)
           for i in range(per)
           for b in (results[t][i] if results[t][i] is not None
                     else ["no answer"])]
    check(f"openai: {nthreads} threads, each its own client, {per} requests"
          " each: every answer is its own texts'", not bad,
          "\n".join(bad[:10]))


# --- Triton's client: KServe v2 -----------------------------------------------

tri = tc.InferenceServerClient(f"127.0.0.1:{args.port}", network_timeout=30)


@section
def triton_health():
    check("triton: is_server_live()", tri.is_server_live())
    check("triton: is_server_ready()", tri.is_server_ready())
    check(f'triton: is_model_ready("{NAME}")', tri.is_model_ready(NAME))
    check('triton: is_model_ready("no-such-model") is False',
          tri.is_model_ready("no-such-model") is False)
    meta = tri.get_server_metadata()
    check("triton: get_server_metadata() names binary_tensor_data",
          "binary_tensor_data" in meta.get("extensions", []), meta)


@section
def triton_metadata():
    meta = tri.get_model_metadata(NAME)
    want = ([{"name": "text", "datatype": "BYTES", "shape": [-1]}],
            [{"name": "embedding", "datatype": "FP32",
              "shape": [-1, HIDDEN]}])
    check(f'triton: get_model_metadata("{NAME}"): input text BYTES [-1],'
          f' output embedding FP32 [-1, {HIDDEN}]',
          meta.get("name") == NAME
          and (meta.get("inputs"), meta.get("outputs")) == want, meta)
    try:
        tri.get_model_metadata("no-such-model")
        check("triton: metadata of an unknown model raises", False,
              "no exception")
    except InferenceServerException as e:
        check("triton: metadata of an unknown model raises"
              " InferenceServerException, status 404, with a message",
              e.status() == "404" and bool(e.message()),
              f"{e.status()} {e.message()!r}")


def triton_infer(cs, shape, in_binary, out_binary):
    arr = np.array(texts(cs), dtype=object).reshape(shape)
    inp = tc.InferInput("text", list(shape), "BYTES")
    inp.set_data_from_numpy(arr, binary_data=in_binary)
    out = tc.InferRequestedOutput("embedding", binary_data=out_binary)
    res = tri.infer(NAME, inputs=[inp], outputs=[out])
    emb = res.as_numpy("embedding")
    bad = []
    if emb is None:
        return ["no output embedding"]
    if emb.dtype != np.float32 or emb.shape != (len(cs), HIDDEN):
        bad.append(f"{emb.dtype} {emb.shape}")
    o = res.get_output("embedding")
    if (o["datatype"], o["shape"]) != ("FP32", [len(cs), HIDDEN]):
        bad.append(f"output {o}")
    if out_binary != ("binary_data_size" in o.get("parameters", {})):
        bad.append(f"binary_data_size: {o.get('parameters')}")
    if res.get_response()["model_name"] != NAME:
        bad.append(f"model_name {res.get_response()['model_name']}")
    return bad + vecs_bad(list(emb.reshape(len(cs), -1)),
                          [c["ref"] for c in cs])


@section
def triton_infer_all():
    cs = TEXTS + [LONG]
    # the empty text too: KServe takes it
    cs.insert(3, next(c for c in cases if c["text"] == ""))
    for in_binary in (False, True):
        for out_binary in (True, False):
            bad = triton_infer(cs, [len(cs)], in_binary, out_binary)
            check(f"triton: infer() {len(cs)} texts, shape [{len(cs)}],"
                  f" input {'binary' if in_binary else 'JSON'}, output"
                  f" {'binary' if out_binary else 'JSON'}: as_numpy",
                  not bad, "\n".join(bad[:10]))
    for in_binary in (False, True):
        bad = triton_infer(cs[:9], [9, 1], in_binary, True)
        check(f"triton: infer() shape [9, 1], input"
              f" {'binary' if in_binary else 'JSON'}", not bad,
              "\n".join(bad[:10]))
    # no outputs named: every output, in JSON
    inp = tc.InferInput("text", [2], "BYTES")
    inp.set_data_from_numpy(np.array(texts(cs[:2]), dtype=object))
    emb = tri.infer(NAME, inputs=[inp]).as_numpy("embedding")
    bad = ["no output"] if emb is None else \
        vecs_bad(list(emb), [c["ref"] for c in cs[:2]])
    check("triton: infer() without outputs", not bad, "\n".join(bad))


@section
def triton_errors():
    inp = tc.InferInput("text", [1], "BYTES")
    inp.set_data_from_numpy(np.array(["a"], dtype=object))
    try:
        tri.infer("no-such-model", inputs=[inp])
        check("triton: infer() of an unknown model raises", False, "no")
    except InferenceServerException as e:
        check("triton: infer() of an unknown model raises"
              " InferenceServerException, status 404",
              e.status() == "404" and bool(e.message()),
              f"{e.status()} {e.message()!r}")
    bad = tc.InferInput("nope", [1], "BYTES")
    bad.set_data_from_numpy(np.array(["a"], dtype=object))
    try:
        tri.infer(NAME, inputs=[bad])
        check("triton: an unknown input name raises", False, "no")
    except InferenceServerException as e:
        check("triton: an unknown input name raises"
              " InferenceServerException, status 400",
              e.status() == "400" and bool(e.message()),
              f"{e.status()} {e.message()!r}")


@section
def triton_request_compression():
    # Triton's server inflates a body sent with Content-Encoding gzip or
    # deflate (the client's request_compression_algorithm); so does the
    # module
    cs = TEXTS[:2]
    for alg in ("gzip", "deflate"):
        inp = tc.InferInput("text", [len(cs)], "BYTES")
        inp.set_data_from_numpy(np.array(texts(cs), dtype=object))
        try:
            res = tri.infer(NAME, inputs=[inp],
                            request_compression_algorithm=alg)
            emb = res.as_numpy("embedding")
            bad = ["no output"] if emb is None else \
                vecs_bad(list(emb), [c["ref"] for c in cs])
        except InferenceServerException as e:
            bad = [f"{e.status()} {e.message()}"]
        check(f'triton: infer(request_compression_algorithm="{alg}")',
              not bad, "\n".join(bad))


tri.close()
print(json.dumps({"done": checks, "worst_cosine": worst[0],
                  "worst_diff": worst[1]}), flush=True)
