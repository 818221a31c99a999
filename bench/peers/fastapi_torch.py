"""Peer: FastAPI + uvicorn serving the model with PyTorch (torch.nn.Linear
layers loaded from the model's safetensors, one intra-op thread, inference
mode).

    BENCH_MODEL_DIR=t/fixtures/mlp784 OMP_NUM_THREADS=1 \
    /usr/bin/python3 -m uvicorn --app-dir bench/peers fastapi_torch:app \
        --host 127.0.0.1 --port 8000 --workers 1 --loop uvloop --http httptools
"""

import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import make_app, model_from_env  # noqa: E402

torch.set_num_threads(1)

_ACT = {"relu": torch.nn.ReLU, "gelu": torch.nn.GELU, "tanh": torch.nn.Tanh,
        "sigmoid": torch.nn.Sigmoid, "none": torch.nn.Identity}


def build(model):
    mods = []
    for w, b, act in model.layers:
        lin = torch.nn.Linear(w.shape[1], w.shape[0], bias=b is not None)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w))
            if b is not None:
                lin.bias.copy_(torch.from_numpy(b))
        mods += [lin, _ACT[act]()]
    if model.softmax:
        mods.append(torch.nn.Softmax(dim=1))
    return torch.nn.Sequential(*mods).eval()


model = model_from_env()
net = build(model)


def predict(x):
    with torch.inference_mode():
        return net(torch.from_numpy(x)).numpy()


app = make_app(model, predict)
