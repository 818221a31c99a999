"""Peer: FastAPI + uvicorn + onnxruntime serving OpenAI's POST /v1/embeddings
with the same weights exported to ONNX (bench/peers/export_onnx.py).

    BENCH_MODEL_DIR=/path/to/all-MiniLM-L6-v2 BENCH_ONNX=build/bench/minilm.onnx \
    BENCH_MODEL_NAME=minilm build/bench-venv/bin/python -m uvicorn \
        --app-dir bench/peers fastapi_onnx:app --host 127.0.0.1 --port 8000 \
        --workers 1 --loop uvloop --http httptools

The interpreter is build/bench-venv's: Debian's python3 (its FastAPI,
uvicorn, numpy) with onnxruntime and tokenizers from PyPI. What an author
who went to the trouble of leaving PyTorch writes:

- the Rust tokenizers package on the model's own tokenizer.json, truncated
  at the sentence-transformers max_seq_length (256), padded to the longest
  input of each request (the file itself pads everything to 128);
- one InferenceSession, intra_op_num_threads=1, inter_op_num_threads=1,
  the default graph optimisations (all);
- one session.run per request over all its inputs, then mean pooling over
  the attention mask and L2 normalisation in numpy.

The request is computed in the event loop, as in the other peers.
"""

import json
import os

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer


class Encoder:
    """texts -> (float32 [n, dim] unit vectors, number of tokens)."""

    def __init__(self, model_dir, onnx_path):
        max_length = 512
        cfg = os.path.join(model_dir, "sentence_bert_config.json")
        if os.path.exists(cfg):
            with open(cfg) as f:
                max_length = int(json.load(f).get("max_seq_length", max_length))
        self.tokenizer = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")   # batch longest

        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        self.session = ort.InferenceSession(onnx_path, so,
                                            providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}

    def encode(self, texts):
        encs = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encs], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encs], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self.inputs:
            feeds["token_type_ids"] = np.array([e.type_ids for e in encs], dtype=np.int64)
        (hidden,) = self.session.run(["last_hidden_state"], feeds)
        m = mask[:, :, None].astype(np.float32)
        emb = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
        emb /= np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
        return emb, int(mask.sum())


def make_app(encoder, model_name):
    from fastapi import FastAPI, Request, Response

    app = FastAPI()
    json_type = "application/json"

    def error(status, message):
        body = json.dumps({"error": {"message": message,
                                     "type": "invalid_request_error"}})
        return Response(content=body.encode(), status_code=status, media_type=json_type)

    def decode(body):
        try:
            req = json.loads(body)
        except ValueError as e:
            return None, "invalid JSON: %s" % e
        if not isinstance(req, dict):
            return None, "the body is not a JSON object"
        if req.get("model") != model_name:
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
        emb, tokens = encoder.encode(inputs)
        return Response(content=json.dumps({
            "object": "list",
            "data": [{"object": "embedding", "index": i, "embedding": e.tolist()}
                     for i, e in enumerate(emb)],
            "model": model_name,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }).encode(), media_type=json_type)

    return app


MODEL_DIR = os.environ.get("BENCH_MODEL_DIR")
ONNX_PATH = os.environ.get("BENCH_ONNX")
if not MODEL_DIR or not ONNX_PATH:
    raise SystemExit("fastapi_onnx: set BENCH_MODEL_DIR (the model's directory) "
                     "and BENCH_ONNX (bench/peers/export_onnx.py's output)")

# export_onnx.py --verify imports this module and checks this very encoder
encoder = Encoder(MODEL_DIR, ONNX_PATH)
app = make_app(encoder, os.environ.get("BENCH_MODEL_NAME", "minilm"))
