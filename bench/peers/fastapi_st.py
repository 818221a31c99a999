"""Peer: FastAPI + uvicorn + sentence-transformers serving OpenAI's
POST /v1/embeddings, the way its users write it: one
model.encode(inputs, normalize_embeddings=True) per request, one torch
thread.

    BENCH_MODEL_DIR=/path/to/all-MiniLM-L6-v2 BENCH_MODEL_NAME=minilm \
    OMP_NUM_THREADS=1 build/st-venv/bin/python -m uvicorn \
        --app-dir bench/peers fastapi_st:app --host 127.0.0.1 --port 8000 \
        --workers 1 --loop uvloop --http httptools

The interpreter is the st-venv's (Debian's python3 with python3-torch, and
sentence-transformers from PyPI; FastAPI and uvicorn are Debian's). As in
the other peers, the body goes through json.loads and the answer through
json.dumps into a plain Response, and the request is computed in the event
loop itself: one worker on one core has nothing else to run meanwhile.
encode() sorts the inputs by length, pads each batch of 32 to its longest
and truncates at the model's max_seq_length (256).
"""

import json
import os

import torch
from fastapi import FastAPI, Request, Response
from sentence_transformers import SentenceTransformer

torch.set_num_threads(1)

MODEL_DIR = os.environ.get("BENCH_MODEL_DIR")
if not MODEL_DIR:
    raise SystemExit("fastapi_st: set BENCH_MODEL_DIR to a sentence-transformers directory")
MODEL_NAME = os.environ.get("BENCH_MODEL_NAME", "minilm")

model = SentenceTransformer(MODEL_DIR, device="cpu")
model.eval()

app = FastAPI()
JSON = "application/json"


def error(status, message):
    body = json.dumps({"error": {"message": message, "type": "invalid_request_error"}})
    return Response(content=body.encode(), status_code=status, media_type=JSON)


def decode(body):
    """OpenAI embeddings request -> list of strings (or an error message)."""
    try:
        req = json.loads(body)
    except ValueError as e:
        return None, "invalid JSON: %s" % e
    if not isinstance(req, dict):
        return None, "the body is not a JSON object"
    if req.get("model") != MODEL_NAME:
        return None, "unknown model %r" % req.get("model")
    if req.get("encoding_format", "float") != "float":
        return None, "encoding_format must be float"
    inputs = req.get("input")
    if isinstance(inputs, str):
        inputs = [inputs]
    if (not isinstance(inputs, list) or not inputs
            or not all(isinstance(s, str) for s in inputs)):
        return None, "input must be a string or a non-empty list of strings"
    return inputs, None


@app.get("/health")
async def health():
    return Response(content=b"", status_code=200)


@app.post("/v1/embeddings")
async def embeddings(request: Request):
    inputs, err = decode(await request.body())
    if err:
        return error(400, err)
    emb = model.encode(inputs, normalize_embeddings=True)
    # usage: the tokens the model saw (with [CLS] and [SEP], after
    # truncation), which encode() does not return: a second pass of the
    # (Rust) tokenizer, without padding or tensors
    ids = model.tokenizer(inputs, truncation=True, max_length=model.max_seq_length)["input_ids"]
    tokens = sum(len(t) for t in ids)
    return Response(content=json.dumps({
        "object": "list",
        "data": [{"object": "embedding", "index": i, "embedding": e.tolist()}
                 for i, e in enumerate(emb)],
        "model": MODEL_NAME,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }).encode(), media_type=JSON)
