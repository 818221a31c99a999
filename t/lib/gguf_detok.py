"""
Decodes token ids with SmolLM2's GGUF vocabulary: gen_llama.py's byte-level
BPE built by Hugging Face's tokenizers from the file's own arrays, with
tokenizers' byte-level decoder.  Used by t/187 to turn a reference run's
first tokens into text.

    python3 t/lib/gguf_detok.py FILE ID,ID,...   -> the text, JSON-quoted
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
    t = smol_tokenizer(types.SimpleNamespace(r=gguf.GGUFReader(sys.argv[1])))
    t.decoder = decoders.ByteLevel()
    ids = [int(i) for i in sys.argv[2].split(",") if i]
    print(json.dumps(t.decode(ids, skip_special_tokens=False)))


if __name__ == "__main__":
    main()
