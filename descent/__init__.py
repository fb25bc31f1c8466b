"""descent: neural networks that learn by backpropagation and gradient descent, on NumPy.

`import descent as torch` runs tensor-level PyTorch code as written: the
names below are torch's, with its arguments and its numbers.
"""

import importlib

from descent import accelerator, autograd, cuda, nn, ops, optim
from descent.autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from descent.creation import *  # noqa: F403  (tensor, zeros, arange, randn, ...)
from descent.device import device
from descent.dtypes import (
    bool,
    double,
    float,
    float16,
    float32,
    float64,
    get_default_dtype,
    half,
    int,
    int8,
    int16,
    int32,
    int64,
    long,
    set_default_dtype,
    short,
    uint8,
)
from descent.errors import CheckpointError, ShapeError
from descent.functions import *  # noqa: F403  (sum, max, cat, ...: the ops with torch's names)
from descent.random import Generator, manual_seed
from descent.tensor import Tensor

bool_ = bool  # NumPy's spelling, kept for old code

__version__ = "0.1.0"

_LAZY = {
    "checkpoint": "descent.checkpoint",
    "data": "descent.data",
    "distributed": "descent.distributed",
    "onnx": "descent.onnx",
    "train": "descent.train",
    "utils": "descent.utils",
    "save": "descent.serialization",
    "load": "descent.serialization",
}
"""Loaded on first use, so that a command's `--help` does not wait for the data and
training stacks (multiprocessing, safetensors): `descent.data`, `descent.save`, ...
work as if imported here."""


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'descent' has no attribute {name!r}")
    module = importlib.import_module(_LAZY[name])
    return module if module.__name__ == f"descent.{name}" else getattr(module, name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
