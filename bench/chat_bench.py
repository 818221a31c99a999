#!/usr/bin/env python3
"""The client of bench/chat.sh: OpenAI chat completions streamed as
server-sent events, measured at the client from the arrival times of the
chunks; the weights a token reads; the markdown tables.

Plain asyncio streams and the standard library only (HTTP/1.1 keep-alive,
chunked or sized bodies), so it runs under any python3; `weights` alone
needs the gguf package.

    chat_bench.py check  --url URL --target T --results F
        a greedy 16-token answer to one question: 200, text, a usage chunk
    chat_bench.py prompt --url URL --target T --round R --results F
                         --calib F [--tokens 512] [--reps 3] [--no-cache-prompt]
        single-stream prompt processing: a streamed request of a prompt of
        exactly --tokens tokens (template included) with max_tokens 1;
        prompt tokens / time to the first token. The prompt is sized
        against the server on first use and written to --calib, then used
        as it is by every server (each rep numbers it anew: no two alike)
    chat_bench.py gen    --url URL --target T --round R --results F
                         [--tokens 128] [--reps 3] [--no-cache-prompt]
        single-stream generation: a streamed request of --tokens tokens,
        ignore_eos; (tokens - 1) / (last token's arrival - first's)
    chat_bench.py load   --url URL --target T --round R --results F
                         --clients C --seconds S [--warmup W] [--seed N]
                         [--server-pid PID] [--no-cache-prompt]
        C clients, each a loop of streamed chat requests (a short question,
        max_tokens drawn from 64..128, ignore_eos, temperature 0, one
        keep-alive connection per client), started one after the other over
        the W s of warm-up; the window is [W, W + S) s from the first one;
        see load() for what is counted
    chat_bench.py weights --gguf FILE --out F   (needs the gguf package)
    chat_bench.py unavailable --results F --target T --why TEXT
    chat_bench.py summarize --results F --meta F --commands F --out F

Every measuring command appends one JSON line to --results.
"""

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
import urllib.parse

sys.dont_write_bytecode = True

perf = time.perf_counter

NAMES = {"N": "ngx_infer", "Q": "ngx_infer, precision=q8",
         "L": "llama.cpp llama-server"}
MODEL = "chat"                      # ngx_infer's name; llama-server ignores it
MIN_NEW, MAX_NEW = 64, 128          # a load request's max_tokens, drawn

VOCAB = """time year people way day man thing woman life child world school
state family student group country problem hand part place case week company
system program question work government number night point home water room
mother area money story fact month lot right study book eye job word business
issue side kind head house service friend father power hour game line end
member law car city community name president team minute idea kid body
information back parent face others level office door health person art war
history party result change morning reason research girl guy moment air
teacher force education river garden market winter summer village bridge
letter window table paper music doctor island forest engine harbour machine
bright quiet early simple heavy gentle strong careful famous local ancient
modern narrow wide silver golden wooden empty crowded distant sudden slow
walked carried found opened built watched moved followed crossed painted
reached wrote listened remembered noticed explained returned gathered""".split()

QUESTIONS = """Why is the sky blue?
What makes a good cup of coffee?
How do bees find their way back to the hive?
Why do leaves change colour in autumn?
How does a bicycle stay upright?
What is the difference between weather and climate?
How do airplanes stay in the air?
Why does bread rise?
What causes the tides?
How do vaccines work?
Why is the ocean salty?
How does a refrigerator keep food cold?
What is a black hole?
Why do cats purr?
How are rainbows formed?
What is photosynthesis?
How does the internet work?
Why do we dream?
What makes volcanoes erupt?
How do magnets work?
Why do onions make people cry?
How is glass made?
What is the water cycle?
Why do stars twinkle?""".strip().split("\n")


# ------------------------------------------------------------ HTTP + SSE

class Result:
    """One streamed request: when it was sent, when each token came."""

    def __init__(self):
        self.t_send = None
        self.status = None
        self.tok = []               # arrival time of each token chunk
        self.text = []
        self.usage = None
        self.timings = None         # llama-server's own, in the usage chunk
        self.finish = None
        self.done = False
        self.err = None


class SSE:
    """Server-sent events out of a body's bytes, each stamped with the
    arrival of the bytes that completed it."""

    def __init__(self, res):
        self.res = res
        self.buf = b""
        self.raw = []

    def feed(self, data, t):
        res = self.res
        if res.status != 200:
            self.raw.append(data)
            return
        self.buf = (self.buf + data).replace(b"\r\n", b"\n")
        while True:
            i = self.buf.find(b"\n\n")
            if i < 0:
                return
            ev, self.buf = self.buf[:i], self.buf[i + 2:]
            lines = [ln[5:] for ln in ev.split(b"\n") if ln.startswith(b"data:")]
            if not lines:
                continue
            payload = b"\n".join(ln[1:] if ln.startswith(b" ") else ln for ln in lines)
            if payload.strip() == b"[DONE]":
                res.done = True
                continue
            try:
                obj = json.loads(payload)
            except ValueError:
                res.err = res.err or "bad event: " + payload[:200].decode("utf-8", "replace")
                continue
            if obj.get("error"):
                res.err = res.err or json.dumps(obj["error"])[:300]
            if obj.get("usage"):
                res.usage = obj["usage"]
            if obj.get("timings"):
                res.timings = obj["timings"]
            for c in obj.get("choices") or []:
                delta = c.get("delta") or {}
                content = delta.get("content")
                # the role chunk (content "" or null) carries no token
                if isinstance(content, str) and (content or "role" not in delta):
                    res.tok.append(t)
                    res.text.append(content)
                if c.get("finish_reason"):
                    res.finish = c["finish_reason"]

    def close(self):
        if self.res.status != 200:
            body = b"".join(self.raw)[:300].decode("utf-8", "replace")
            self.res.err = self.res.err or "HTTP %s: %s" % (self.res.status, body)


class Client:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, url):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port or 80
        self.r = self.w = None

    async def close(self):
        w, self.r, self.w = self.w, None, None
        if w is not None:
            w.close()
            try:
                await w.wait_closed()
            except (OSError, ConnectionError):
                pass

    async def chat(self, obj, res, path="/v1/chat/completions"):
        body = json.dumps(obj).encode()
        req = ("POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
               "Accept: text/event-stream\r\nContent-Length: %d\r\n\r\n"
               % (path, self.host, self.port, len(body))).encode() + body
        for _ in range(2):
            fresh = self.w is None
            if fresh:
                self.r, self.w = await asyncio.open_connection(self.host, self.port)
            res.t_send = perf()
            try:
                self.w.write(req)
                await self.w.drain()
                line = await self.r.readline()
            except (OSError, ConnectionError):
                line = b""
            if line:
                break
            # a keep-alive connection the server had closed: once more, anew
            await self.close()
            if fresh:
                raise ConnectionError("no answer")
        res.status = int(line.split()[1])
        hdr = {}
        while True:
            h = await self.r.readline()
            if h in (b"\r\n", b"\n", b""):
                break
            k, _, v = h.decode("latin-1").partition(":")
            hdr[k.strip().lower()] = v.strip().lower()
        sse = SSE(res)
        keep = hdr.get("connection") != "close" and line.startswith(b"HTTP/1.1")
        if "chunked" in hdr.get("transfer-encoding", ""):
            while True:
                size = await self.r.readline()
                if not size:
                    raise ConnectionError("the connection closed inside a chunked body")
                n = int(size.split(b";")[0].strip(), 16)
                if n == 0:
                    while (await self.r.readline()) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                data = await self.r.readexactly(n + 2)
                sse.feed(data[:-2], perf())
        elif "content-length" in hdr:
            n = int(hdr["content-length"])
            sse.feed(await self.r.readexactly(n) if n else b"", perf())
        else:
            keep = False
            while True:
                data = await self.r.read(65536)
                if not data:
                    break
                sse.feed(data, perf())
        sse.close()
        if not keep:
            await self.close()
        return res


def body(messages, max_tokens, no_cache, ignore_eos=True, seed=None):
    b = {"model": MODEL, "messages": messages, "stream": True,
         "stream_options": {"include_usage": True},
         "max_tokens": max_tokens, "temperature": 0, "ignore_eos": ignore_eos}
    if seed is not None:
        b["seed"] = seed
    if no_cache:
        b["cache_prompt"] = False   # llama-server: recompute the whole prompt
    return b


async def one(url, obj):
    c = Client(url)
    try:
        return await c.chat(obj, Result())
    finally:
        await c.close()


def append(path, rec):
    with open(path, "a") as f:
        f.write(json.dumps(rec) + "\n")


def pct(xs, p):
    """numpy's default (linear) percentile of a list."""
    if not xs:
        return None
    xs = sorted(xs)
    k = (len(xs) - 1) * p / 100.0
    i = int(k)
    j = min(i + 1, len(xs) - 1)
    return xs[i] + (xs[j] - xs[i]) * (k - i)


# ------------------------------------------------------- the workloads

def cmd_check(a):
    msgs = [{"role": "user", "content": QUESTIONS[0]}]
    res = asyncio.run(one(a.url, body(msgs, 16, a.no_cache_prompt, ignore_eos=False)))
    ok = (res.status == 200 and res.err is None and res.tok and res.usage is not None
          and res.done)
    text = "".join(res.text)
    append(a.results, {"kind": "check", "target": a.target, "ok": bool(ok),
                       "text": text, "usage": res.usage, "err": res.err})
    print("%s: %r, usage %s%s" % ("ok" if ok else "FAILED", text, res.usage,
                                  ", " + res.err if res.err else ""))
    return 0 if ok else 1


def long_text(n_words, doc):
    """The first n_words of a fixed stream of sentences (one more word
    makes the prompt one word longer, nothing else), numbered doc: the
    digit is one token, so every doc's prompt has the same length."""
    rng = random.Random(7919)
    out, left = [], 0
    for i in range(n_words):
        w = rng.choice(VOCAB)
        if left == 0:
            w = w.capitalize()
            left = rng.randint(8, 16)
        left -= 1
        out.append(w + ("." if left == 0 or i == n_words - 1 else ""))
    return "Document %d. " % doc + " ".join(out)


def long_messages(n_words, doc):
    return [{"role": "user", "content": "Summarize the following notes in one "
             "sentence.\n\n" + long_text(n_words, doc)}]


async def calibrate(url, want, no_cache):
    """The word count whose prompt is `want` tokens, as the server counts
    them (a prefill each try: the guess is scaled by the last count)."""
    n, seen, best = int(want * 0.8), {}, None
    for _ in range(12):
        res = await one(url, body(long_messages(n, 0), 1, no_cache))
        if res.usage is None:
            raise RuntimeError("no usage in the answer: %s" % (res.err or res.status))
        got = res.usage["prompt_tokens"]
        seen[n] = got
        print("calibrating the prompt: %d words, %d tokens" % (n, got), file=sys.stderr)
        if best is None or abs(got - want) < abs(seen[best] - want):
            best = n
        if got == want:
            break
        step = round((want - got) * n / max(got, 1)) or (1 if want > got else -1)
        if n + step in seen:
            step = 1 if want > got else -1
        if n + step in seen or n + step < 1:
            break
        n += step
    return best, seen[best]


def cmd_prompt(a):
    async def run():
        if os.path.exists(a.calib):
            with open(a.calib) as f:
                cal = json.load(f)
        else:
            n, got = await calibrate(a.url, a.tokens, a.no_cache_prompt)
            cal = {"tokens": a.tokens, "on": a.target, "words": n, "prompt_tokens": got}
            with open(a.calib, "w") as f:
                json.dump(cal, f)
        reps = []
        for v in range(a.reps):
            res = await one(a.url, body(long_messages(cal["words"], v + 1), 1,
                                        a.no_cache_prompt))
            if res.err or not res.tok or res.usage is None:
                return None, res.err or "no token or no usage (HTTP %s)" % res.status
            ttft = res.tok[0] - res.t_send
            pt = res.usage["prompt_tokens"]
            rep = {"prompt_tokens": pt, "ttft_s": ttft, "tps": pt / ttft}
            if res.timings and "prompt_per_second" in res.timings:
                rep["server_tps"] = res.timings["prompt_per_second"]
                rep["server_cached"] = res.timings.get("cache_n")
            reps.append(rep)
        return reps, None

    reps, err = asyncio.run(run())
    rec = {"kind": "prompt", "target": a.target, "round": a.round, "reps": reps, "err": err}
    if reps:
        rec["tps"] = statistics.median(r["tps"] for r in reps)
        rec["ttft_s"] = statistics.median(r["ttft_s"] for r in reps)
        rec["prompt_tokens"] = statistics.median(r["prompt_tokens"] for r in reps)
    append(a.results, rec)
    if err:
        print("prompt: " + err)
        return 1
    print("prompt: %.1f tok/s (%d tokens, TTFT %.1f ms)"
          % (rec["tps"], rec["prompt_tokens"], rec["ttft_s"] * 1e3))
    return 0


def cmd_gen(a):
    async def run():
        reps = []
        for v in range(a.reps):
            msgs = [{"role": "user", "content": "Write a long story about %s."
                     % ("a lighthouse keeper", "a travelling musician",
                        "a lost map", "a winter market", "an old clock")[v % 5]}]
            res = await one(a.url, body(msgs, a.tokens, a.no_cache_prompt))
            if res.err or len(res.tok) < 2 or res.usage is None:
                return None, res.err or "%d tokens, usage %s" % (len(res.tok), res.usage)
            n = res.usage["completion_tokens"]
            dt = res.tok[-1] - res.tok[0]
            rep = {"tokens": n, "chunks": len(res.tok), "after_first_s": dt,
                   "tps": (n - 1) / dt, "ttft_s": res.tok[0] - res.t_send}
            if res.timings and "predicted_per_second" in res.timings:
                rep["server_tps"] = res.timings["predicted_per_second"]
            reps.append(rep)
        return reps, None

    reps, err = asyncio.run(run())
    rec = {"kind": "gen", "target": a.target, "round": a.round, "reps": reps, "err": err}
    if reps:
        rec["tps"] = statistics.median(r["tps"] for r in reps)
        rec["tokens"] = statistics.median(r["tokens"] for r in reps)
    append(a.results, rec)
    if err:
        print("gen: " + err)
        return 1
    print("gen: %.1f tok/s (%d tokens)" % (rec["tps"], rec["tokens"]))
    return 0


def tree_ticks(root):
    """utime + stime (all threads) of PID root and its descendants."""
    if not root:
        return None
    parent, ticks = {}, {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                s = f.read()
        except OSError:
            continue
        f = s[s.rindex(")") + 2:].split()
        parent[int(d)] = int(f[1])
        ticks[int(d)] = int(f[11]) + int(f[12])
    keep, more = {root}, True
    while more:
        more = False
        for p, pp in parent.items():
            if p not in keep and pp in keep:
                keep.add(p)
                more = True
    return sum(ticks.get(p, 0) for p in keep)


async def load(a):
    """C clients from t0; the window is [t0 + W, t0 + W + S).

    Every client waits i * W / C before its first request, so that the
    streams are at different points of their answers when the window
    opens. Generated tok/s: token chunks that arrived inside the window
    over S (counted in usage tokens: see below).
    TTFT: requests sent inside the window, to their first token (after the
    window the clients start nothing new, and the ones still waiting for a
    first token get it before everything is cancelled, so no sample is cut
    off). ITL: the gaps between a stream's consecutive token chunks, the
    later one inside the window. Requests still streaming at the end are
    cancelled by closing their connections."""
    t0 = perf()
    w0, w1 = t0 + a.warmup, t0 + a.warmup + a.seconds
    done = []                       # every Result, finished or not
    errors = []

    async def client(i):
        c = Client(a.url)
        k = 0
        await asyncio.sleep(i * a.warmup / a.clients)
        try:
            while perf() < w1:
                rng = random.Random(a.seed * 1000003 + i * 1009 + k)
                q = QUESTIONS[(i * 5 + k) % len(QUESTIONS)]
                # numbered by run, client and request: no prompt of a run is
                # one that an earlier run left in a llama-server slot
                msgs = [{"role": "user", "content": "Question %d.%d.%d: %s"
                         % (a.clients, i + 1, k + 1, q)}]
                mt = rng.randint(MIN_NEW, MAX_NEW)
                res = Result()
                res.max_tokens = mt
                done.append(res)
                k += 1
                try:
                    await c.chat(body(msgs, mt, a.no_cache_prompt), res)
                except (OSError, ConnectionError, asyncio.IncompleteReadError, ValueError) as e:
                    res.err = res.err or "%s: %s" % (type(e).__name__, e)
                    await c.close()
                if res.err:
                    errors.append(res.err)
                    await asyncio.sleep(0.05)
        finally:
            await c.close()

    tasks = [asyncio.ensure_future(client(i)) for i in range(a.clients)]
    await asyncio.sleep(max(0.0, w0 - perf()))
    cpu0 = tree_ticks(a.server_pid)
    await asyncio.sleep(max(0.0, w1 - perf()))
    cpu1 = tree_ticks(a.server_pid)
    # the requests sent in the window, until each has its first token
    limit = w1 + 60
    while perf() < limit and any(r.t_send is not None and r.t_send < w1 and not r.tok
                                 and not r.err and not r.done for r in done):
        await asyncio.sleep(0.01)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)

    # a token chunk is a token, but for the tokens a server computes and
    # sends no text for (ngx_infer: the end-of-turn tokens that ignore_eos
    # lets through; llama-server bans them): usage / chunks of each
    # completed request spreads them over its chunks, and the run's ratio
    # over those of the requests cut off at the end
    fin = [r for r in done if r.usage is not None and not r.err and r.tok]
    ratio = (sum(r.usage["completion_tokens"] for r in fin) / sum(len(r.tok) for r in fin)
             if fin else 1.0)
    tokens, chunks, ttft, itl = 0.0, 0, [], []
    fin_ids = set(map(id, fin))
    for r in done:
        n = sum(1 for t in r.tok if w0 <= t < w1)
        chunks += n
        tokens += n * (r.usage["completion_tokens"] / len(r.tok) if id(r) in fin_ids
                       else ratio)
        if r.t_send is not None and w0 <= r.t_send < w1:
            if r.tok:
                ttft.append(r.tok[0] - r.t_send)
        itl.extend(t - s for s, t in zip(r.tok, r.tok[1:]) if w0 <= t < w1)
    clk = os.sysconf("SC_CLK_TCK")
    return {
        "tokens": tokens,
        "chunks": chunks,
        "tps": tokens / a.seconds,
        "ttft_us": [round(x * 1e6) for x in ttft],
        "itl_us": [round(x * 1e6) for x in itl],
        "sent_in_window": sum(1 for r in done if r.t_send is not None and w0 <= r.t_send < w1),
        "no_first_token": sum(1 for r in done if r.t_send is not None and w0 <= r.t_send < w1
                              and not r.tok),
        "completed": len(fin),
        "usage_tokens": sum(r.usage["completion_tokens"] for r in fin),
        "chunk_tokens": sum(len(r.tok) for r in fin),
        "short": sum(1 for r in fin if r.usage["completion_tokens"] != r.max_tokens),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "cpu_busy": (None if cpu0 is None or cpu1 is None
                     else (cpu1 - cpu0) / clk / a.seconds),
    }


def cmd_load(a):
    rec = {"kind": "load", "target": a.target, "round": a.round,
           "clients": a.clients, "seconds": a.seconds, "warmup": a.warmup}
    rec.update(asyncio.run(load(a)))
    append(a.results, rec)
    print("load %d clients: %.1f tok/s, TTFT p50 %s ms p99 %s ms, ITL p50 %s ms p99 %s ms, "
          "%d requests in the window, %d errors%s"
          % (a.clients, rec["tps"], ms(pct(rec["ttft_us"], 50)), ms(pct(rec["ttft_us"], 99)),
             ms(pct(rec["itl_us"], 50)), ms(pct(rec["itl_us"], 99)), rec["sent_in_window"],
             rec["errors"], " (%s)" % rec["first_error"] if rec["errors"] else ""))
    return 1 if rec["errors"] or not rec["tokens"] else 0


def cmd_weights(a):
    import gguf                     # only here: the client runs without it
    r = gguf.GGUFReader(a.gguf)
    by_type, total = {}, 0
    for t in r.tensors:
        n = int(t.n_bytes)
        total += n
        by_type[t.tensor_type.name] = by_type.get(t.tensor_type.name, 0) + n
    names = {t.name: (t.tensor_type.name, int(t.n_bytes)) for t in r.tensors}
    out = {"bytes": total, "tensors": len(r.tensors), "by_type": by_type,
           "file_bytes": os.path.getsize(a.gguf),
           "tied_output": "output.weight" not in names,
           "token_embd": names.get("token_embd.weight"),
           "gguf_version": getattr(gguf, "__version__", None)}
    with open(a.out, "w") as f:
        json.dump(out, f)
    print("weights: %d bytes in %d tensors %s" % (total, len(r.tensors), by_type))
    return 0


def cmd_unavailable(a):
    append(a.results, {"kind": "unavailable", "target": a.target, "why": a.why})
    return 0


# ------------------------------------------------------------ the tables

def ms(us):
    return "–" if us is None else "%.1f" % (us / 1e3)


def med_range(vals, spec="%.1f"):
    vals = [v for v in vals if v is not None]
    if not vals:
        return "–"
    m = spec % statistics.median(vals)
    if len(vals) > 1:
        m += " (%s–%s)" % (spec % min(vals), spec % max(vals))
    return m


def ratio(x, y):
    return "–" if not x or not y else "%.2fx" % (x / y)


def cmd_summarize(a):
    recs = [json.loads(ln) for ln in open(a.results) if ln.strip()]
    meta = json.load(open(a.meta))
    w = meta.get("weights") or {}
    targets = [t for t in meta["targets"].split()]
    by = {}
    for r in recs:
        by.setdefault((r["kind"], r["target"]), []).append(r)

    bw = meta.get("membw_gbps")
    bpt = w.get("bytes")
    bound = bw * 1e9 / bpt if bw and bpt else None

    o = []
    o.append("# ngx_infer benchmark: /v1/chat/completions (SmolLM2-135M-Instruct, Q4_1 GGUF)")
    o.append("")
    o.append("%s; %s; %s" % (meta["date"], meta["cpu"], meta["git"]))
    o.append("")
    o.append("Both servers serve the same GGUF file, each alone in turn, pinned to CPU %s "
             "with one compute thread (ngx_infer: `worker_processes 1`, `instances=1`; "
             "llama-server: `--threads 1 --threads-batch 1`); the client "
             "(bench/chat_bench.py, asyncio, one keep-alive connection per stream) on CPU %s, "
             "loopback. %s round(s), the servers interleaved in each; a fresh server per "
             "round; single-stream figures are medians of %s requests per round, then the "
             "median over rounds (range in brackets). All requests are streamed "
             "(`stream_options.include_usage`), temperature 0, `ignore_eos: true`; times are "
             "the client's, from the arrival of each SSE chunk that carries a token."
             % (meta["server_cpu"], meta["client_cpu"], meta["rounds"], meta["reps"]))
    o.append("")
    if bw:
        o.append("Memory read bandwidth of CPU %s, one thread (bench/mem_bw.c: a %s MiB "
                 "buffer read with AVX2 loads, best pass), measured in this run: **%.2f GB/s** "
                 "(%s)." % (meta["server_cpu"], meta.get("membw_mib", "?"), bw,
                            meta.get("membw_runs", "")))
    if bpt:
        types = ", ".join("%s %.2f MB" % (k, v / 1e6) for k, v in
                          sorted(w["by_type"].items(), key=lambda kv: -kv[1]))
        tied = ("the token embedding (%s, %.2f MB) is also the output head, so it is read "
                "whole every token" % (w["token_embd"][0], w["token_embd"][1] / 1e6)
                if w.get("tied_output") and w.get("token_embd") else
                "the sum counts the token embedding whole, though a token reads one row of "
                "it (an untied output head)")
        o.append("")
        o.append("Weights read per generated token: the sum of the GGUF tensors' sizes "
                 "(gguf.GGUFReader), **%.2f MB** in %d tensors (%s); %s. The KV cache "
                 "read per token is left out (at a short context it is small)."
                 % (bpt / 1e6, w["tensors"], types, tied))
    if bound:
        o.append("")
        o.append("Memory-bandwidth bound of single-stream generation: %.2f GB/s / %.2f MB = "
                 "**%.0f tokens/s**. It is the bound of a server that streams its weights "
                 "at the rate one thread reads memory; one whose dot products cannot keep "
                 "up at one thread (a compute-bound core) stays below it whatever its "
                 "memory traffic." % (bw, bpt / 1e6, bound))
    o.append("")

    for t in targets:
        for r in by.get(("unavailable", t), []):
            o.append("**%s. %s: not measured**: %s" % (t, NAMES.get(t, t), r["why"]))
            o.append("")

    # single stream
    o.append("## Single stream")
    o.append("")
    o.append("Prompt processing: a prompt of %s tokens (the chat template included; "
             "llama-server with `\"cache_prompt\": false`, so that it recomputes it), "
             "`max_tokens: 1`; prompt tokens / time to the first token. Generation: "
             "`max_tokens: %s` on a short prompt; tokens after the first / the time after "
             "the first token's arrival." % (meta["prompt_tokens"], meta["gen_tokens"]))
    o.append("")
    o.append("| target | prompt tok/s | TTFT ms (prompt) | prompt tokens | generation tok/s "
             "| % of the bandwidth bound | server-reported prompt / generation tok/s |")
    o.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    single = {}
    for t in targets:
        pr = [r for r in by.get(("prompt", t), []) if r.get("tps")]
        gr = [r for r in by.get(("gen", t), []) if r.get("tps")]
        if not pr and not gr:
            continue
        pt = statistics.median(r["tps"] for r in pr) if pr else None
        gt = statistics.median(r["tps"] for r in gr) if gr else None
        single[t] = (pt, gt)
        srv_p = [x["server_tps"] for r in pr for x in r["reps"] if "server_tps" in x]
        srv_g = [x["server_tps"] for r in gr for x in r["reps"] if "server_tps" in x]
        srv = ("%.0f / %.0f" % (statistics.median(srv_p), statistics.median(srv_g))
               if srv_p and srv_g else "–")
        o.append("| %s. %s | %s | %s | %s | %s | %s | %s |" % (
            t, NAMES.get(t, t), med_range([r["tps"] for r in pr]),
            med_range([r["ttft_s"] * 1e3 for r in pr]),
            "%d" % statistics.median(r["prompt_tokens"] for r in pr) if pr else "–",
            med_range([r["tps"] for r in gr]),
            "%.1f%%" % (100 * gt / bound) if gt and bound else "–", srv))
    o.append("")

    # concurrent streams
    o.append("## Concurrent streams")
    o.append("")
    o.append("Each client loops over chat requests: a short question (about 40 tokens with "
             "the template, each one different), `max_tokens` drawn from %d..%d (the same "
             "draws for both servers), `ignore_eos: true`, temperature 0. The clients start "
             "one after the other over a warm-up of %s s, then a window of %s s is "
             "measured. Generated tok/s: the token chunks that arrived in the window, "
             "each counted as usage `completion_tokens` / chunks of its request, over the "
             "window's length (median over rounds, range in brackets). TTFT: every "
             "request sent in the window, to its first token chunk (no sample is cut "
             "off: those waiting at the window's end are waited for). ITL: the gaps "
             "between a stream's consecutive token chunks in the window. "
             "Percentiles over the samples of all rounds. Server CPU: its CPU time in the "
             "window / the window. Tokens/chunk: usage `completion_tokens` / token chunks "
             "over the completed requests (1.00: one token a chunk; ngx_infer lets "
             "`ignore_eos` generate the end-of-turn tokens, as vLLM does, and sends no "
             "text for them, where llama-server bans them from sampling)."
             % (MIN_NEW, MAX_NEW, meta["warmup"], meta["seconds"]))
    o.append("")
    o.append("| target | clients | generated tok/s | TTFT p50 ms | TTFT p99 ms | ITL p50 ms "
             "| ITL p99 ms | TTFT samples | ITL samples | server CPU | tokens/chunk "
             "| short answers | errors |")
    o.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
             "| ---: | ---: |")
    conc = {}
    for c in [int(x) for x in meta["clients"].split()]:
        for t in targets:
            rs = [r for r in by.get(("load", t), []) if r["clients"] == c]
            if not rs:
                continue
            ttft = [x for r in rs for x in r["ttft_us"]]
            itl = [x for r in rs for x in r["itl_us"]]
            tps = statistics.median(r["tps"] for r in rs)
            conc[(t, c)] = (tps, pct(ttft, 99), pct(ttft, 50))
            ut = sum(r["usage_tokens"] for r in rs)
            ct = sum(r["chunk_tokens"] for r in rs)
            busy = [r["cpu_busy"] for r in rs if r.get("cpu_busy") is not None]
            errs = sum(r["errors"] for r in rs)
            first = next((r["first_error"] for r in rs if r["first_error"]), None)
            o.append("| %s. %s | %d | %s | %s | %s | %s | %s | %d | %d | %s | %s | %d | %s |" % (
                t, NAMES.get(t, t), c, med_range([r["tps"] for r in rs]),
                ms(pct(ttft, 50)), ms(pct(ttft, 99)), ms(pct(itl, 50)), ms(pct(itl, 99)),
                len(ttft), len(itl),
                "%.0f%%" % (100 * statistics.median(busy)) if busy else "–",
                "%.2f" % (ut / ct) if ct else "–",
                sum(r["short"] for r in rs),
                "%d%s" % (errs, " (%s)" % first[:120].replace("|", "/") if first else "")))
    o.append("")

    # against each other
    for nt in [t for t in ("N", "Q") if t in targets and "L" in targets]:
        o.append("## %s against llama-server" % NAMES[nt])
        o.append("")
        o.append("Targets (printed, not asserted): single-stream generation >= 1.0x "
                 "llama-server's; aggregate tok/s at 16 streams >= 2x; a lower p99 TTFT at "
                 "16 streams.")
        o.append("")
        o.append("| measure | ngx_infer | llama-server | ngx_infer / llama-server | target "
                 "| met |")
        o.append("| --- | ---: | ---: | ---: | --- | --- |")

        def row(name, n, l, target, better=None, spec="%.1f"):
            f = (lambda v: "–" if v is None else spec % v)
            met = "–"
            if better is not None and n is not None and l is not None:
                met = "yes" if better(n, l) else "**no**"
            o.append("| %s | %s | %s | %s | %s | %s |" % (name, f(n), f(l), ratio(n, l),
                                                         target, met))
        n1, l1 = single.get(nt, (None, None)), single.get("L", (None, None))
        row("single-stream prompt tok/s", n1[0], l1[0], "")
        row("single-stream generation tok/s", n1[1], l1[1], ">= 1.0x",
            lambda n, l: n >= l)
        if bound:
            row("generation, % of the bandwidth bound",
                n1[1] and 100 * n1[1] / bound, l1[1] and 100 * l1[1] / bound, "")
        for c in [int(x) for x in meta["clients"].split()]:
            n, l = conc.get((nt, c)), conc.get(("L", c))
            if c == 16:
                row("aggregate tok/s, %d streams" % c, n and n[0], l and l[0], ">= 2x",
                    lambda n, l: n >= 2 * l)
                row("TTFT p99 ms, %d streams" % c, n and n[1] and n[1] / 1e3,
                    l and l[1] and l[1] / 1e3, "lower", lambda n, l: n < l)
            else:
                row("aggregate tok/s, %d streams" % c, n and n[0], l and l[0], "")
                row("TTFT p99 ms, %d streams" % c, n and n[1] and n[1] / 1e3,
                    l and l[1] and l[1] / 1e3, "")
        o.append("")

    checks = [r for t in targets for r in by.get(("check", t), [])]
    if checks:
        o.append("Answer check (round 1, greedy, 16 tokens, \"%s\"):" % QUESTIONS[0])
        o.append("")
        for r in checks:
            o.append("- %s. %s: %s %s" % (r["target"], NAMES.get(r["target"], r["target"]),
                                          "ok," if r["ok"] else "FAILED,",
                                          json.dumps(r["text"], ensure_ascii=False)))
        o.append("")
    errs = [(r["target"], r.get("round"), r["kind"], r["err"]) for r in recs
            if r["kind"] in ("prompt", "gen") and r.get("err")]
    for t, rnd, kind, e in errs:
        o.append("- %s round %s, %s: %s" % (t, rnd, kind, e))
    if errs:
        o.append("")

    o.append("## Commands")
    o.append("")
    o.append(open(a.commands).read().rstrip())
    o.append("")
    text = "\n".join(o) + "\n"
    with open(a.out, "w") as f:
        f.write(text)
    sys.stdout.write(text)
    return 0


# ------------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    def common(p, rnd=True):
        p.add_argument("--url", required=True, help="http://HOST:PORT")
        p.add_argument("--target", required=True)
        p.add_argument("--results", required=True)
        p.add_argument("--no-cache-prompt", action="store_true",
                       help='send "cache_prompt": false (llama-server)')
        if rnd:
            p.add_argument("--round", type=int, default=1)

    common(sub.add_parser("check"), rnd=False)
    p = sub.add_parser("prompt")
    common(p)
    p.add_argument("--calib", required=True)
    p.add_argument("--tokens", type=int, default=512)
    p.add_argument("--reps", type=int, default=3)
    p = sub.add_parser("gen")
    common(p)
    p.add_argument("--tokens", type=int, default=128)
    p.add_argument("--reps", type=int, default=3)
    p = sub.add_parser("load")
    common(p)
    p.add_argument("--clients", type=int, required=True)
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--warmup", type=float, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--server-pid", type=int, default=0)
    p = sub.add_parser("weights")
    p.add_argument("--gguf", required=True)
    p.add_argument("--out", required=True)
    p = sub.add_parser("unavailable")
    p.add_argument("--results", required=True)
    p.add_argument("--target", required=True)
    p.add_argument("--why", required=True)
    p = sub.add_parser("summarize")
    p.add_argument("--results", required=True)
    p.add_argument("--meta", required=True)
    p.add_argument("--commands", required=True)
    p.add_argument("--out", required=True)

    a = ap.parse_args()
    return {"check": cmd_check, "prompt": cmd_prompt, "gen": cmd_gen, "load": cmd_load,
            "weights": cmd_weights, "unavailable": cmd_unavailable,
            "summarize": cmd_summarize}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
