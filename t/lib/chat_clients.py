#!/usr/bin/env python3
"""Generations through nginx, as clients see them (t/185-chat.t).

Against a running nginx that serves SmolLM2-135M-Instruct as "smol" under
/v1/ (and /gz/v1/ with gzip on, /slow/v1/ with infer_timeout 1ms) and a
small-queue copy as "tiny", prints one JSON line per check:
{"name": ..., "ok": bool, "diag": ...}, then {"done": N}.

The checks: greedy answers alone, streamed and not, through raw HTTP and
through the openai package; tokens that arrive one by one over the
generation's time, with gzip on too; a stream that joins another's
generation and both texts equal to what each gives alone; a client that
leaves mid-stream, its blocks freed and the other stream unaffected;
stop strings across tokens, max_tokens, seeds, a full queue, time to
first token past infer_timeout.
"""

import argparse
import json
import re
import socket
import threading
import time
import urllib.request
import zlib

CHECKS = 0


def check(name, ok, diag=""):
    global CHECKS
    CHECKS += 1
    print(json.dumps({"name": name, "ok": bool(ok), "diag": str(diag)[:2000]}),
          flush=True)
    return ok


class Stream:
    """One HTTP/1.1 request on a socket of our own, its response read as
    it arrives: the status, the headers, the chunked body, and, for
    server-sent events, each event with the time it came"""

    def __init__(self, port, path, body, headers=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        data = json.dumps(body).encode()
        h = "".join("%s: %s\r\n" % kv for kv in (headers or {}).items())
        self.t0 = time.monotonic()
        self.sock.sendall(("POST %s HTTP/1.1\r\nHost: localhost\r\n"
                           "Content-Type: application/json\r\n"
                           "Content-Length: %d\r\n%s\r\n"
                           % (path, len(data), h)).encode() + data)
        self.buf = b""
        self.events = []        # (time, dict or "[DONE]")
        self.reads = 0
        self.status, self.headers = self._head()
        self.gzip = self.headers.get("content-encoding") == "gzip"
        self.inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self.sse = b""
        self.body = b""
        self.done = False

    def _recv(self):
        d = self.sock.recv(65536)
        if not d:
            raise EOFError("closed")
        self.reads += 1
        self.buf += d

    def _head(self):
        while b"\r\n\r\n" not in self.buf:
            self._recv()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for l in lines[1:]:
            k, v = l.split(":", 1)
            headers[k.strip().lower()] = v.strip()
        return status, headers

    def _chunk(self):
        """the next chunk of the chunked body, or None at its end"""
        while b"\r\n" not in self.buf:
            self._recv()
        size, rest = self.buf.split(b"\r\n", 1)
        n = int(size.split(b";")[0], 16)
        while len(rest) < n + 2:
            self._recv()
            size, rest = self.buf.split(b"\r\n", 1)
        self.buf = rest[n + 2:]
        return rest[:n] if n else None

    def next_event(self):
        """the next server-sent event, or None at the end"""
        while b"\n\n" not in self.sse:
            if self.done:
                return None
            c = self._chunk()
            if c is None:
                self.done = True
                if self.gzip:
                    self.sse += self.inflate.flush()
                continue
            self.sse += self.inflate.decompress(c) if self.gzip else c
        ev, self.sse = self.sse.split(b"\n\n", 1)
        line = ev.decode()
        assert line.startswith("data: "), line
        v = line[6:]
        e = v if v == "[DONE]" else json.loads(v)
        self.events.append((time.monotonic(), e))
        return e

    def read_all(self):
        while self.next_event() is not None:
            pass
        return self.events

    def whole_body(self):
        if "content-length" in self.headers:
            n = int(self.headers["content-length"])
            while len(self.buf) < n:
                self._recv()
            return self.buf[:n]
        out = b""
        while True:
            c = self._chunk()
            if c is None:
                return out
            out += c

    def close(self):
        self.sock.close()


def text_of(events, chat=True):
    t = ""
    for _, e in events:
        if e == "[DONE]" or not e.get("choices"):
            continue
        c = e["choices"][0]
        t += (c["delta"].get("content") or "") if chat else c["text"]
    return t


def finish_of(events):
    for _, e in events:
        if e != "[DONE]" and e.get("choices") and e["choices"][0]["finish_reason"]:
            return e["choices"][0]["finish_reason"]
    return None


def post(port, path, body):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path),
                                 data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, dict(r.headers), json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), json.loads(e.read())


def metrics(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port) as r:
        out = {}
        for l in r.read().decode().splitlines():
            m = re.match(r'^(ngx_infer_\w+)\{model="smol"\} (\d+)$', l)
            if m:
                out[m.group(1)] = int(m.group(2))
        return out


def chat(content, **kw):
    b = {"model": "smol", "messages": [{"role": "user", "content": content}]}
    b.update(kw)
    return b


PROMPTS = ["What is the capital of France?",
           "Write a short poem about the sea.",
           "List three fruits."]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, help="nginx's master, for a reload")
    ap.add_argument("--error-log", help="nginx's error log: which worker "
                    "hosts smol's executor, for a crash")
    ap.add_argument("--port2", type=int, help="a reuseport server whose "
                    "answers say their worker (X-Worker)")
    a = ap.parse_args()
    port = a.port

    # --- greedy answers alone --------------------------------------------
    alone = []
    for p in PROMPTS:
        st, _, r = post(port, "/v1/chat/completions",
                        chat(p, temperature=0, max_tokens=40))
        ok = (st == 200 and r["object"] == "chat.completion"
              and r["choices"][0]["message"]["role"] == "assistant"
              and r["choices"][0]["finish_reason"] in ("stop", "length")
              and r["usage"]["total_tokens"] == r["usage"]["prompt_tokens"]
              + r["usage"]["completion_tokens"]
              and 0 < r["usage"]["completion_tokens"] <= 40
              and r["id"].startswith("chatcmpl-"))
        check("greedy chat completion of %r: %d tokens, %r" % (
            p, r.get("usage", {}).get("completion_tokens", -1),
            r.get("choices", [{}])[0].get("message", {}).get("content")),
            ok, r)
        alone.append(r["choices"][0]["message"]["content"])

    check("the capital of France is Paris (llama.cpp's F32 greedy answer "
          "too)", "Paris" in alone[0], alone[0])

    # --- the same, streamed -------------------------------------------------
    s = Stream(port, "/v1/chat/completions",
               chat(PROMPTS[0], temperature=0, max_tokens=40, stream=True,
                    stream_options={"include_usage": True}))
    ev = s.read_all()
    s.close()
    evs = [e for _, e in ev]
    ids = {e["id"] for e in evs if e != "[DONE]"}
    check("streamed: text/event-stream, no-cache, X-Accel-Buffering no, "
          "chunked", s.status == 200
          and s.headers.get("content-type") == "text/event-stream"
          and s.headers.get("cache-control") == "no-cache"
          and s.headers.get("x-accel-buffering") == "no"
          and s.headers.get("transfer-encoding") == "chunked", s.headers)
    check("streamed: the same text as not streamed", text_of(ev) == alone[0],
          (text_of(ev), alone[0]))
    check("streamed: the role first, [DONE] last, one id, the usage in a "
          "chunk of no choices", evs[-1] == "[DONE]"
          and evs[0]["choices"][0]["delta"] == {"role": "assistant",
                                                "content": ""}
          and len(ids) == 1 and evs[-2]["choices"] == []
          and evs[-2]["usage"]["completion_tokens"] > 0
          and all(e["usage"] is None for e in evs[:-2])
          and evs[-3]["choices"][0]["delta"] == {}
          and evs[-3]["choices"][0]["finish_reason"] == "stop", evs[-3:])

    # --- the openai package ---------------------------------------------------
    import openai
    client = openai.OpenAI(base_url="http://127.0.0.1:%d/v1" % port,
                           api_key="none", max_retries=0)
    r = client.chat.completions.create(
        model="smol", messages=[{"role": "user", "content": PROMPTS[1]}],
        temperature=0, max_tokens=40)
    check("openai: chat.completions.create gives the same text",
          r.choices[0].message.content == alone[1],
          (r.choices[0].message.content, alone[1]))
    parts = []
    for c in client.chat.completions.create(
            model="smol", messages=[{"role": "user", "content": PROMPTS[1]}],
            temperature=0, max_tokens=40, stream=True,
            stream_options={"include_usage": True}):
        if c.choices and c.choices[0].delta.content:
            parts.append(c.choices[0].delta.content)
        last = c
    check("openai: streamed, the same text and the usage",
          "".join(parts) == alone[1] and last.usage is not None
          and last.usage.completion_tokens > 0, ("".join(parts), alone[1]))
    rc = client.completions.create(model="smol", prompt="The sky is",
                                   max_tokens=8, temperature=0)
    check("openai: completions.create: text_completion, %d tokens" %
          rc.usage.completion_tokens, rc.object == "text_completion"
          and rc.usage.completion_tokens <= 8 and rc.choices[0].text != "",
          rc)
    try:
        client.chat.completions.create(
            model="gpt-4", messages=[{"role": "user", "content": "x"}])
        check("openai: an unknown model raises NotFoundError", False)
    except openai.NotFoundError as e:
        check("openai: an unknown model raises NotFoundError (%s)" %
              e.body.get("code"), e.body.get("code") == "model_not_found",
              e.body)
    try:
        client.chat.completions.create(
            model="smol", messages=[{"role": "user", "content": "x"}],
            temperature=3)
        check("openai: temperature 3 raises BadRequestError", False)
    except openai.BadRequestError as e:
        check("openai: temperature 3 raises BadRequestError",
              e.body.get("param") == "temperature", e.body)

    # the chat template's text as a completion's prompt: the same tokens
    templ = ("<|im_start|>system\nYou are a helpful AI assistant named "
             "SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\n"
             + PROMPTS[0] + "<|im_end|>\n<|im_start|>assistant\n")
    st, _, r = post(port, "/v1/completions",
                    {"model": "smol", "prompt": templ, "temperature": 0,
                     "max_tokens": 40})
    check("a completion of the template's text is the chat's answer",
          st == 200 and r["choices"][0]["text"] == alone[0], r)

    # --- tokens one by one, over the generation's time -------------------------
    for path, gz in (("/v1/chat/completions", False),
                     ("/gz/v1/chat/completions", True)):
        s = Stream(port, path, chat(PROMPTS[1], temperature=0, max_tokens=60,
                                    ignore_eos=True, stream=True),
                   {"Accept-Encoding": "gzip"} if gz else None)
        ev = s.read_all()
        s.close()
        times = [t for t, e in ev if e != "[DONE]" and e["choices"]
                 and e["choices"][0]["delta"].get("content")]
        span = times[-1] - times[0] if times else 0
        total = ev[-1][0] - s.t0
        distinct = len({round(t, 4) for t in times})
        check("%s: %d tokens arrive one by one (%d distinct arrival times, "
              "%.2f of %.2f s between the first and the last)%s" % (
                  path, len(times), distinct, span, total,
                  ", gzip" if gz else ""),
              len(times) == 60 and distinct >= 50 and span >= 0.5 * total
              and s.gzip == gz, s.headers)
        if gz:
            check("gzip on: the same text", text_of(ev).startswith(
                alone[1][:20]), text_of(ev))

    # --- a stream joins another's generation ----------------------------------
    def run(body, out, key, joined=None, after=None):
        if after is not None:
            after.wait()
        s = Stream(port, "/v1/chat/completions", body)
        n = 0
        while True:
            e = s.next_event()
            if e is None:
                break
            if e != "[DONE]" and e["choices"] and \
                    e["choices"][0]["delta"].get("content"):
                n += 1
                if n == 1:
                    out[key + "_first"] = time.monotonic()
                if joined is not None and n == 10:
                    joined.set()
        out[key + "_end"] = time.monotonic()
        out[key] = text_of(s.events)
        s.close()

    ra = chat(PROMPTS[1], temperature=0, max_tokens=100, ignore_eos=True,
              stream=True)
    rb = chat(PROMPTS[2], temperature=0, max_tokens=20, stream=True)
    st, _, a_alone = post(port, "/v1/chat/completions",
                          dict(ra, stream=False))
    st, _, b_alone = post(port, "/v1/chat/completions",
                          dict(rb, stream=False))
    out = {}
    ev10 = threading.Event()
    ta = threading.Thread(target=run, args=(ra, out, "a", ev10))
    tb = threading.Thread(target=run, args=(rb, out, "b", None, ev10))
    ta.start()
    tb.start()
    ta.join(120)
    tb.join(120)
    check("a stream that joins another's generation gets its first token "
          "while the other is still running", "b_first" in out
          and out["b_first"] < out["a_end"] and out["b_end"] < out["a_end"],
          out)
    check("each joined stream's greedy text equals its text alone",
          out.get("a") == a_alone["choices"][0]["message"]["content"]
          and out.get("b") == b_alone["choices"][0]["message"]["content"],
          (out.get("a"), out.get("b")))

    # --- a client that leaves mid-stream ----------------------------------------
    before = metrics(port)
    out = {}
    td = threading.Thread(target=run, args=(rb, out, "d"))
    s = Stream(port, "/v1/chat/completions",
               chat(PROMPTS[1], max_tokens=800, ignore_eos=True, stream=True))
    td.start()
    for _ in range(6):
        s.next_event()
    s.close()
    td.join(120)
    freed = None
    for _ in range(100):
        m = metrics(port)
        if m.get("ngx_infer_sequences_cancelled", 0) > \
                before.get("ngx_infer_sequences_cancelled", 0) \
                and m.get("ngx_infer_kv_blocks_used") == 0 \
                and m.get("ngx_infer_sequences_running") == 0:
            freed = m
            break
        time.sleep(0.05)
    check("a client that leaves mid-stream cancels its sequence: metrics "
          "show it cancelled, its KV blocks free, nothing running", freed,
          metrics(port))
    check("the stream beside it is unaffected: its text equals its text "
          "alone", out.get("d") == b_alone["choices"][0]["message"]["content"],
          (out.get("d"), b_alone))
    m = metrics(port)
    check("generated tokens of the left stream stop: fewer than its 800",
          m["ngx_infer_generation_tokens"]
          - before["ngx_infer_generation_tokens"] < 800, (before, m))

    # --- stop strings, max_tokens, seeds ---------------------------------------
    full = alone[1]
    stop = full[12:19]
    cut = full[:full.find(stop)]
    st, _, r = post(port, "/v1/chat/completions",
                    chat(PROMPTS[1], temperature=0, max_tokens=40,
                         stop=[stop, "\u2603never"]))
    check("stop %r: the text before it, finish_reason stop" % stop,
          st == 200 and r["choices"][0]["message"]["content"] == cut
          and r["choices"][0]["finish_reason"] == "stop", (r, cut))
    s = Stream(port, "/v1/chat/completions",
               chat(PROMPTS[1], temperature=0, max_tokens=40, stop=stop,
                    stream=True, stream_options={"include_usage": True}))
    ev = s.read_all()
    s.close()
    check("stop %r streamed: the same text, never a piece of the stop "
          "string sent" % stop, text_of(ev) == cut
          and finish_of(ev) == "stop", (text_of(ev), cut))

    st, _, r = post(port, "/v1/chat/completions",
                    chat(PROMPTS[1], temperature=0, max_tokens=5))
    check("max_tokens 5: finish_reason length, 5 completion tokens",
          r["choices"][0]["finish_reason"] == "length"
          and r["usage"]["completion_tokens"] == 5, r)

    texts = []
    for seed in (42, 42, 43):
        st, _, r = post(port, "/v1/chat/completions",
                        chat(PROMPTS[1], temperature=1.0, max_tokens=30,
                             seed=seed, ignore_eos=True))
        texts.append(r["choices"][0]["message"]["content"])
    check("the same seed, the same text; another seed, another",
          texts[0] == texts[1] and texts[0] != texts[2], texts)

    # --- a full queue, a late first token --------------------------------------
    held = [Stream(port, "/v1/chat/completions",
                   {"model": "tiny", "messages": [{"role": "user",
                                                   "content": "Tell me"}],
                    "max_tokens": 80, "ignore_eos": True, "stream": True})
            for _ in range(2)]
    for h in held:
        h.next_event()
    t = time.monotonic()
    st, hd, r = post(port, "/v1/chat/completions",
                     {"model": "tiny", "messages": [{"role": "user",
                                                     "content": "x"}]})
    dt = time.monotonic() - t
    check("a full queue: 503 at once (%.3f s) with Retry-After and OpenAI's "
          "error" % dt, st == 503 and "Retry-After" in hd and dt < 1.0
          and "error" in r, (st, hd, r))
    for h in held:
        h.close()

    st, _, r = post(port, "/slow/v1/chat/completions",
                    chat(PROMPTS[0], max_tokens=10))
    check("no first token within infer_timeout: 504 with OpenAI's error",
          st == 504 and "error" in r, (st, r))

    # --- a reload while a stream runs ------------------------------------------
    if a.pid:
        import os
        import signal
        s = Stream(port, "/v1/chat/completions",
                   chat(PROMPTS[1], temperature=0, max_tokens=120,
                        ignore_eos=True, stream=True,
                        stream_options={"include_usage": True}))
        for _ in range(10):
            s.next_event()
        os.kill(a.pid, signal.SIGHUP)
        ev = s.read_all()
        s.close()
        usage = [e for _, e in ev if e != "[DONE]" and not e["choices"]]
        check("nginx -s reload while a stream runs: the stream ends whole "
              "(120 tokens, the usage, [DONE])", ev[-1][1] == "[DONE]"
              and usage and usage[0]["usage"]["completion_tokens"] == 120,
              ev[-3:])
        st, _, r = post(port, "/v1/chat/completions",
                        chat(PROMPTS[0], temperature=0, max_tokens=40))
        check("after the reload, the new workers answer the same",
              st == 200 and r["choices"][0]["message"]["content"] == alone[0],
              r)

    # --- the executor's worker killed while streams run ------------------------
    if a.error_log:
        import os
        import signal
        pids = re.findall(r'\] (\d+)#\d+: infer: executor 0 of model "smol" '
                          r'started', open(a.error_log).read())
        body = chat(PROMPTS[1], temperature=0, max_tokens=100,
                    ignore_eos=True)
        st, _, ref = post(port, "/v1/chat/completions", body)
        ref = ref["choices"][0]["message"]["content"]
        executor = pids[-1]
        # At most max_batch (8) streams, all running at once: a ninth
        # would wait in the queue for its first token until an earlier one
        # ended, and an earlier one of the worker to be killed would end
        # whole.  Where none of the 8 went to the other worker, again.
        for _ in range(3):
            streams, other = [], 0
            for _ in range(8):
                x = Stream(a.port2, "/v1/chat/completions",
                           dict(body, stream=True))
                x.next_event()
                streams.append(x)
                other += x.headers.get("x-worker") != executor
                if other >= 3 and len(streams) >= 5:
                    break
            if other > 0:
                break
            for x in streams:
                x.close()
            time.sleep(0.5)
        time.sleep(0.3)
        os.kill(int(executor), signal.SIGKILL)
        whole, cut, wrong = 0, 0, []
        for x in streams:
            mine = x.headers.get("x-worker") == executor
            try:
                x.read_all()
                if text_of(x.events) == ref and x.events[-1][1] == "[DONE]" \
                        and not mine:
                    whole += 1
                else:
                    wrong.append(("whole", mine, text_of(x.events),
                                  x.events[-3:]))
            except (EOFError, ConnectionError, socket.timeout):
                # its connection was in the worker that died
                cut += 1
                if not mine or not ref.startswith(text_of(x.events)):
                    wrong.append(("cut", mine, text_of(x.events)))
            x.close()
        check("kill -9 of the executor's worker (%s) mid-stream: the "
              "streams of the other worker (%d) end whole with the text they "
              "give alone, those of the killed one (%d) are cut" % (
                  executor, whole, cut),
              not wrong and whole == other and other > 0
              and whole + cut == len(streams), (ref, wrong[:3]))
        st, _, r = post(port, "/v1/chat/completions",
                        chat(PROMPTS[0], temperature=0, max_tokens=40))
        check("after the crash, the new worker's executor answers the same",
              st == 200 and r["choices"][0]["message"]["content"] == alone[0],
              r)

    print(json.dumps({"done": CHECKS}), flush=True)


if __name__ == "__main__":
    main()
