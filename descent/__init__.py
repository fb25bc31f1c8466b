"""descent: neural networks that learn by backpropagation and gradient descent, on NumPy."""

import numpy as np

from descent import autograd, data, nn, ops, optim, train
from descent.autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from descent.checkpoint import load, save
from descent.creation import (
    arange,
    full,
    ones,
    ones_like,
    rand,
    randn,
    tensor,
    zeros,
    zeros_like,
)
from descent.errors import CheckpointError, ShapeError
from descent.ops import *  # noqa: F403  (abs, add, ... matmul: the ops as functions)
from descent.random import manual_seed
from descent.tensor import Tensor

float16, float32, float64 = np.float16, np.float32, np.float64
int32, int64, bool_ = np.int32, np.int64, np.bool_

__version__ = "0.1.0"
