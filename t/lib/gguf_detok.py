"""
Decodes token ids with SmolLM2's GGUF vocabulary: gen_llama.py's byte-level
BPE built by Hugging Face's tokenizers from the file's own arrays, with
tokenizers' byte-level decoder.  Used by t/187 to turn a reference run's
first tokens into text, and by t/188 to turn each prompt's.

    python3 t/lib/gguf_detok.py [--skip-special] FILE ID,ID,... [...]
        -> each list's text, JSON-quoted, a line each; --skip-special
           leaves out special tokens' text, as our OpenAI API does
"""

import json
import os
import sys
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gguf                              # noqa: E402
from tokenizers import decoders          # noqa: E402
from gen_llama import smol_tokenizer     # noqa: E402


def main():
    args = sys.argv[1:]
    skip = args[:1] == ["--skip-special"]
    args = args[1:] if skip else args
    t = smol_tokenizer(types.SimpleNamespace(r=gguf.GGUFReader(args[0])))
    t.decoder = decoders.ByteLevel()
    for arg in args[1:]:
        ids = [int(i) for i in arg.split(",") if i]
        print(json.dumps(t.decode(ids, skip_special_tokens=skip)))


if __name__ == "__main__":
    main()
