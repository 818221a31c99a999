"""
Decodes token ids with a GGUF file's own vocabulary (the gguf package
reads tokenizer.ggml.tokens), the byte-level BPE way: each token's
characters mapped back to the bytes GPT-2's table gave them.  Used by
t/187 to turn a reference run's first tokens into text.

    python3 t/lib/gguf_detok.py FILE ID,ID,...   -> the text, JSON-quoted
"""

import json
import sys

import gguf


def byte_decoder():
    bs = (list(range(ord("!"), ord("~") + 1))
          + list(range(ord("\u00a1"), ord("\u00ac") + 1))
          + list(range(ord("\u00ae"), ord("\u00ff") + 1)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


def main():
    r = gguf.GGUFReader(sys.argv[1])
    f = r.fields["tokenizer.ggml.tokens"]
    ids = [int(i) for i in sys.argv[2].split(",") if i]
    dec = byte_decoder()
    out = bytearray()
    for i in ids:
        tok = bytes(f.parts[f.data[i]]).decode("utf-8")
        out += bytes(dec[c] for c in tok)
    print(json.dumps(out.decode("utf-8", errors="replace")))


if __name__ == "__main__":
    main()
