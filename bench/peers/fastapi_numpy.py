"""Peer: FastAPI + uvicorn serving the model with numpy (float32, BLAS).

    BENCH_MODEL_DIR=t/fixtures/mlp784 OPENBLAS_NUM_THREADS=1 \
    /usr/bin/python3 -m uvicorn --app-dir bench/peers fastapi_numpy:app \
        --host 127.0.0.1 --port 8000 --workers 1 --loop uvloop --http httptools

The request is computed in the event loop itself (no thread pool): the
model takes well under a millisecond, and one worker on one core has
nothing else to run meanwhile.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import make_app, model_from_env, np_forward  # noqa: E402

model = model_from_env()
app = make_app(model, lambda x: np_forward(model, x))
