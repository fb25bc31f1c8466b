"""A layer's parameters and buffers in the dtype and on the device it asks for (torch's
`dtype=` and `device=` keywords)."""

from __future__ import annotations

import numpy as np

from descent.creation import full
from descent.device import as_device
from descent.dtypes import as_dtype, get_default_dtype
from descent.nn.parameter import Parameter
from descent.tensor import Tensor


def floating_dtype(layer: str, dtype=None, device=None) -> np.dtype:
    """The dtype of a layer's parameters: `dtype`, else the default (float32).

    `device` must name the CPU (the only device descent has); any other is refused.
    """
    if device is not None:
        as_device(device)
    dtype = get_default_dtype() if dtype is None else as_dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(
            f"{layer}: dtype={dtype} is not a floating dtype; parameters need a float dtype "
            "such as descent.float32 or descent.float64"
        )
    return dtype


def new_parameter(shape, dtype: np.dtype, fill: float = 0.0) -> Parameter:
    """A Parameter of `shape` and `dtype` holding `fill` (initialise it afterwards)."""
    return Parameter(new_buffer(shape, dtype, fill))


def new_buffer(shape, dtype: np.dtype, fill: float = 0.0) -> Tensor:
    """A tensor of `shape` and `dtype` holding `fill`, e.g. BatchNorm's running statistics."""
    return full(tuple(shape), fill, dtype=dtype)
