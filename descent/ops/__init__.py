"""Every differentiable op, as functions; `Tensor` methods and operators call these."""

from descent.ops.conv import conv2d
from descent.ops.elementwise import (
    abs,
    add,
    astype,
    clip,
    div,
    exp,
    gelu,
    leaky_relu,
    log,
    maximum,
    minimum,
    mul,
    neg,
    pow,
    relu,
    sigmoid,
    softplus,
    sqrt,
    sub,
    tanh,
    where,
)
from descent.ops.linalg import matmul
from descent.ops.pool import avg_pool2d, max_pool2d
from descent.ops.reduce import log_softmax, logsumexp, max, mean, min, softmax, sum, var
from descent.ops.shape import (
    broadcast_to,
    concatenate,
    expand_dims,
    flatten,
    getitem,
    pad,
    reshape,
    squeeze,
    stack,
    transpose,
)

__all__ = [
    "abs", "add", "astype", "avg_pool2d", "broadcast_to", "clip", "concatenate", "conv2d",
    "div", "exp", "expand_dims", "flatten", "gelu", "getitem", "leaky_relu", "log",
    "log_softmax", "logsumexp", "matmul", "max", "max_pool2d", "maximum", "mean", "min",
    "minimum", "mul", "neg", "pad", "pow", "relu", "reshape", "sigmoid", "softmax", "softplus",
    "sqrt", "squeeze", "stack", "sub", "sum", "tanh", "transpose", "var", "where",
]  # fmt: skip
